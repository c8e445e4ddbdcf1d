"""A corpus read into examples: its labelled clips per split, and the feature windows a model
learns from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.errors import KwsError
from training.core.config import ClipSelection, TrainConfig
from training.data.corpus import BACKGROUND_LABEL
from training.data.feature_cache import FeatureCache


@dataclass(frozen=True)
class Corpus:
    """The labelled clips of a corpus, per split."""

    labels: tuple[str, ...]
    """Class names in score order; names wrapped in underscores are background (never fire)."""
    paths: dict[str, list[Path]]
    targets: dict[str, np.ndarray]
    """Label index of each clip, per split."""
    background: tuple[Path, ...] = ()
    """Speech Commands layouts: the recordings ``_silence_`` windows are cut from."""
    kind: str = "wake word corpus"
    engines: dict[str, list[str | None]] = field(default_factory=dict)
    """The TTS engine that spoke each clip, parallel to ``paths`` (None: no voice, or a corpus
    that does not say), so accuracy can be read per engine."""


def is_background(label: str) -> bool:
    """``_background_``, ``_silence_`` and ``_unknown_`` are what a model says when no keyword
    is there: they get no threshold, so they never fire detections."""
    return label.startswith("_") and label.endswith("_")


def read_corpus(
    folder: Path, select: ClipSelection | None = None, unknown_share: float = 0.0, seed: int = 0
) -> Corpus:
    """A wake-word corpus (manifest.jsonl) or a Speech Commands layout (validation_list.txt);
    of a wake-word corpus, only the clips ``select`` keeps; of a Speech Commands layout,
    ``unknown_share`` of ``_unknown_`` (:func:`read_command_corpus`)."""
    from training.data.loaders.speech_commands import TESTING_LIST, VALIDATION_LIST

    select = select or ClipSelection()
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        if (folder / VALIDATION_LIST).is_file() or (folder / TESTING_LIST).is_file():
            if not select.everything:
                raise KwsError(f"{folder}: [train.select] needs a generated wake-word corpus")
            return read_command_corpus(folder, unknown_share, seed)
        raise KwsError(
            f"{folder}: not a generated corpus (no manifest.jsonl) nor a Speech Commands "
            f"folder (no {VALIDATION_LIST})"
        )
    rows = selected(
        manifest, [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()],
        select,
    )  # fmt: skip
    keywords = sorted({r["label"] for r in rows} - {BACKGROUND_LABEL})
    if len(keywords) != 1:
        raise KwsError(f"{manifest}: expected one keyword label, found {keywords}")
    paths: dict[str, list[Path]] = {}
    labels: dict[str, list[int]] = {}
    engines: dict[str, list[str | None]] = {}
    for row in rows:
        paths.setdefault(row["split"], []).append(folder / row["path"])
        labels.setdefault(row["split"], []).append(int(row["label"] != BACKGROUND_LABEL))
        engines.setdefault(row["split"], []).append(engine(row))
    targets = {k: np.asarray(v) for k, v in labels.items()}
    return Corpus((BACKGROUND_LABEL, keywords[0]), paths, targets, engines=engines)


def engine(row: dict[str, Any]) -> str | None:
    """The TTS engine of a corpus manifest row (None for a clip without a voice)."""
    return (row.get("voice") or {}).get("engine")


def selected(
    manifest: Path, rows: list[dict[str, Any]], select: ClipSelection
) -> list[dict[str, Any]]:
    """The manifest rows ``select`` keeps; a selection that keeps nothing of an engine or of a
    label is an error naming the manifest."""

    if select.everything:
        return rows

    kept = [
        r for r in rows
        if r.get("kind") not in select.leave_out
        and (not select.engines or engine(r) is None or engine(r) in select.engines)
    ]  # fmt: skip
    missing = sorted(set(select.engines) - {engine(r) for r in kept})
    if missing:
        raise KwsError(f"{manifest}: no clips of the selected engines {missing}")
    lost = sorted({r["label"] for r in rows} - {r["label"] for r in kept})
    if lost:
        raise KwsError(f"{manifest}: [train.select] leaves no clips of {lost}")
    return kept


def read_command_corpus(folder: Path, unknown_share: float = 0.0, seed: int = 0) -> Corpus:
    """The command task on a Speech Commands layout (its ``commands.txt``, else the standard
    ten words: 12 classes); every label must have clips in every split, and
    ``_background_noise_/`` must hold the ``_silence_`` recordings. With ``unknown_share`` > 0
    each split keeps a seeded ``unknown_share`` x (its command clips) of its ``_unknown_``
    clips (all of them if it has fewer)."""
    from training.data.loaders import command_task, speech_commands, speech_commands_background
    from training.data.loaders.base import SPLITS
    from training.data.loaders.speech_commands import (
        BACKGROUND_DIR,
        SILENCE,
        UNKNOWN,
        command_labels,
        corpus_commands,
    )

    commands = corpus_commands(folder)
    all_labels = command_labels(commands)
    paths: dict[str, list[Path]] = {s: [] for s in SPLITS}
    labels: dict[str, list[int]] = {s: [] for s in SPLITS}
    for example in command_task(speech_commands(folder), commands):
        paths[example.split].append(example.path)
        labels[example.split].append(all_labels.index(example.label))
    for split in SPLITS:
        for index, label in enumerate(all_labels):
            if label != SILENCE and index not in labels[split]:
                where = "another word's folder" if label.startswith("_") else f"{label}/"
                raise KwsError(f"{folder}: no {split} clips of {label!r} (expected in {where})")
    if unknown_share > 0:
        unknown = all_labels.index(UNKNOWN)
        for split in SPLITS:
            is_unknown = np.asarray(labels[split]) == unknown
            keep = round(unknown_share * int((~is_unknown).sum()))
            rng = np.random.default_rng([seed, SPLITS.index(split), 11])
            drop = rng.permutation(np.flatnonzero(is_unknown))[keep:]
            kept = np.setdiff1d(np.arange(len(labels[split])), drop)
            paths[split] = [paths[split][i] for i in kept]
            labels[split] = [labels[split][i] for i in kept]
    background = tuple(speech_commands_background(folder))
    if not background:
        raise KwsError(f"{folder / BACKGROUND_DIR}: no WAV files to cut {SILENCE} from")
    targets = {k: np.asarray(v) for k, v in labels.items()}
    spoken = _clip_engines(folder)
    engines = {s: [spoken.get(p.relative_to(folder).as_posix()) for p in paths[s]] for s in paths}
    return Corpus(all_labels, paths, targets, background, "Speech Commands layout", engines)


def _clip_engines(folder: Path) -> dict[str, str | None]:
    """Relative path -> TTS engine of each clip a generated command corpus lists in
    ``clips.jsonl`` (empty for the recorded dataset)."""
    listing = folder / "clips.jsonl"
    if not listing.is_file():
        return {}
    rows = [json.loads(line) for line in listing.read_text().splitlines() if line.strip()]
    return {r["path"]: engine(r) for r in rows}


def corpus_features(
    corpus: Corpus, config: TrainConfig, frames: int, cache: FeatureCache
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(features, label indices) per split: the clips' (cached) features, and for a Speech
    Commands layout ``_silence_`` windows cut from its background recordings."""
    from training.data.feature_cache import clip_features, window_samples
    from training.data.loaders.speech_commands import SILENCE, silence_windows

    features = config.feature_config()
    x, y = {}, {}
    for split, paths in corpus.paths.items():
        x[split] = cache.features(features, paths, frames, desc=f"{split} features")
        y[split] = corpus.targets[split]
        if corpus.background and config.silence_share > 0:
            count = max(1, round(config.silence_share * len(paths)))
            samples = window_samples(features, frames)
            windows = silence_windows(corpus.background, split, count, samples, config.seed)
            quiet = np.stack([clip_features(features, w, frames) for w in windows])
            x[split] = np.concatenate([x[split], quiet])
            silence = np.full(count, corpus.labels.index(SILENCE))
            y[split] = np.concatenate([y[split], silence])
    return x, y
