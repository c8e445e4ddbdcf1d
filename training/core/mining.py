"""Hard-negative mining: the windows of real keyword-free audio a model scores highest.

After a round of training, the training split's real recordings (speech, music, ambience; hours
that the corpus only samples 1.5 s clips from), end to end in 10-minute streams, go through the
model's sequence form; the local maxima of the keyword score, at least a refractory period
apart, are ranked and the top windows become background clips of the next round. Validation
and test recordings are never read: they belong to other splits of the recordings index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.errors import KwsError
from kws.evaluation import smooth
from kws.features import FeatureConfig
from training.core.stream_scores import ChunkPlan, file_features, step_scores
from training.data.loaders.speech_commands import UNKNOWN

MINED_KINDS = ("speech", "music", "ambient")


@dataclass(frozen=True)
class MiningConfig:
    """The ``[train.mining]`` table."""

    rounds: int = 0
    """Rounds of mining and retraining after the first training pass (0: none)."""
    windows: int = 2000
    """Highest-scoring windows added per round."""
    min_score: float = 0.05
    """Smoothed keyword scores below this are never mined."""
    epochs: int = 0
    """Epochs each mining round trains for (0: the run's ``epochs``)."""

    def __post_init__(self) -> None:
        if self.rounds < 0 or self.windows < 1 or self.epochs < 0:
            raise ValueError("[train.mining] rounds and epochs must be >= 0, windows >= 1")
        if not 0 <= self.min_score < 1:
            raise ValueError("[train.mining] min_score must be within [0, 1)")


def mining_sources(corpus: Path, keywords: Sequence[str] = ()) -> list[Path]:
    """The training split's real recordings of the corpus (its corpus.json names the folder),
    but those whose transcript says one of ``keywords``: the highest-scoring windows of a real
    voice saying "one" are the last thing a digits model should learn is not "one"."""
    from training.data.recordings import load_index, saying_none_of

    settings_path = corpus / "corpus.json"
    folder = None
    if settings_path.is_file():
        folder = json.loads(settings_path.read_text()).get("recordings")
    if not folder:
        raise KwsError(
            f"{corpus}: hard-negative mining needs a corpus made with --recordings "
            "(its corpus.json names no recordings folder)"
        )
    every = [e for e in load_index(folder) if e.split == "train" and e.kind in MINED_KINDS]
    kept = saying_none_of(every, keywords)
    if len(every) > len(kept):
        print(
            f"mining: {len(every) - len(kept)} recordings left out (they say a keyword)", flush=True
        )
    return [Path(folder) / e.path for kind in MINED_KINDS for e in kept if e.kind == kind]


def mined_label(labels: Sequence[str]) -> int:
    """The label index mined windows train as: ``_unknown_`` where the model has one (a
    command model: mined speech is other words, not ``_silence_``), else the background
    label, which comes first in a wake-word model's labels."""
    return labels.index(UNKNOWN) if UNKNOWN in labels else 0


def peaks(scores: np.ndarray, min_score: float, spacing: int) -> np.ndarray:
    """Indices of local maxima of ``scores`` at or above ``min_score``, greedily kept from the
    highest down so that no two are closer than ``spacing`` steps."""
    candidates = np.flatnonzero(scores >= min_score)
    kept: list[int] = []
    taken = np.zeros(len(scores), dtype=bool)
    for i in candidates[np.argsort(-scores[candidates], kind="stable")]:
        if not taken[i]:
            kept.append(int(i))
            taken[max(0, i - spacing + 1) : i + spacing] = True
    return np.asarray(kept, dtype=np.int64)


STREAM_MINUTES = 10.0
"""Recordings are scored as streams of this length, files end to end (as one recording follows
another at a microphone), so that thousands of short prompts cost a few batched calls."""


def _streams(paths: Sequence[Path], features: FeatureConfig, minutes: float) -> Any:
    """Features of ``paths`` concatenated into streams of about ``minutes`` each."""
    limit = minutes * 60 * features.sample_rate / features.frame_step
    pending: list[np.ndarray] = []
    for path in tqdm(paths, desc="mining", unit="file"):
        pending.append(file_features(features, path))
        if sum(len(f) for f in pending) >= limit:
            yield np.concatenate(pending)
            pending = []
    if pending:
        yield np.concatenate(pending)


def mine(
    model: Any,
    paths: Sequence[Path],
    keyword_columns: Sequence[int],
    features: FeatureConfig,
    plan: ChunkPlan,
    window_frames: int,
    smoothing_calls: int,
    refractory_s: float,
    config: MiningConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``config.windows`` highest-scoring windows [K, window_frames, F] over ``paths`` and
    what the round saw (hours scanned, peaks above 0.5 per hour, scores of the mined windows)."""
    step_s = plan.stride * features.frame_step / features.sample_rate
    spacing = max(1, round(refractory_s / step_s))
    found: list[tuple[float, np.ndarray]] = []
    hours, loud = 0.0, 0
    for frames in _streams(paths, features, STREAM_MINUTES):
        hours += len(frames) * features.frame_step / features.sample_rate / 3600
        raw = step_scores(model, frames, plan)
        if not len(raw):
            continue
        score = np.max([smooth(raw[:, j], smoothing_calls) for j in keyword_columns], axis=0)
        for i in peaks(score, config.min_score, spacing):
            end = (i + 1) * plan.stride  # frames seen when step i fired
            if end < window_frames:
                continue
            loud += int(score[i] >= 0.5)
            found.append((float(score[i]), frames[end - window_frames : end]))
        found.sort(key=lambda item: -item[0])
        del found[config.windows :]
    scores = np.asarray([s for s, _ in found])
    windows = (
        np.stack([w for _, w in found]).astype(np.float32)
        if found
        else np.zeros((0, window_frames, features.num_features), dtype=np.float32)
    )
    stats = {
        "files": len(paths),
        "hours": round(hours, 3),
        "peaks_above_0.5_per_hour": round(loud / hours, 2) if hours else None,
        "mined": len(found),
        "mined_score_min": float(scores.min()) if len(scores) else None,
        "mined_score_median": float(np.median(scores)) if len(scores) else None,
    }
    return windows, stats
