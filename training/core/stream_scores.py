"""Scores of a Keras sequence model over long audio, and FRR at a target FA/hr from them.

Used while training (model choice and stopping on the validation streams) and for hard-negative
mining, where exporting to TFLite and running the runtime every epoch would cost minutes. The
sequence form computes exactly what the streaming form would from zero state; long audio is cut
into chunks that each start ``warmup_s`` early from zero state (scored in one batch), so a step's
score differs from the runtime's only through state older than the warm-up. Timelines, smoothing,
the DET sweep and FRR at a target are the runtime evaluation's own (kws.evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kws.evaluation import det_curve, frr_at, smooth
from kws.features import FeatureConfig, compute_features
from kws.wavfile import load_audio

if TYPE_CHECKING:
    from benchmarks.streams import EvalStream


@dataclass(frozen=True)
class ChunkPlan:
    """How long audio is cut for batched scoring."""

    stride: int
    """Frames per model step."""
    body_frames: int = 3000
    """Frames whose steps a chunk keeps (30 s at a 10 ms hop)."""
    warmup_frames: int = 300
    """Frames a chunk starts early, from zero state, and whose steps it discards."""

    def __post_init__(self) -> None:
        if self.body_frames % self.stride or self.warmup_frames % self.stride:
            raise ValueError("chunk body and warm-up must be multiples of the model stride")

    @classmethod
    def for_model(
        cls, stride: int, window_frames: int, body_s: float = 30.0, warmup_s: float = 3.0,
        hop_s: float = 0.01,
    ) -> ChunkPlan:  # fmt: skip
        """``body_s`` chunks warmed up on ``warmup_s`` and at least one window, in whole
        strides: a finite-memory model (a DS-CNN at stride 3 remembers 48 steps) then scores
        every kept step exactly as the runtime does long after its zero start."""

        def whole(frames: float) -> int:
            return -(-round(frames) // stride) * stride

        warmup = max(whole(warmup_s / hop_s), whole(window_frames))
        return cls(stride, whole(body_s / hop_s), warmup)


def step_scores(
    model: Any, features: np.ndarray, plan: ChunkPlan, batch_size: int = 32
) -> np.ndarray:
    """[steps, labels] scores of ``model`` (a sequence form) over ``features`` [frames, F]: one
    step per ``plan.stride`` frames, a partial last stride dropped (the runtime waits for it)."""
    steps = len(features) // plan.stride
    if steps == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), dtype=np.float32)
    usable = features[: steps * plan.stride]
    body, warm = plan.body_frames, plan.warmup_frames
    starts = range(0, len(usable), body)
    chunks = np.zeros((len(starts), warm + body, features.shape[1]), dtype=np.float32)
    keep_from = []
    for k, start in enumerate(starts):
        lo = max(0, start - warm)
        piece = usable[lo : start + body]
        chunks[k, : len(piece)] = piece
        keep_from.append((start - lo) // plan.stride)
    out = model.predict(chunks, batch_size=batch_size, verbose=0)
    per_chunk = body // plan.stride
    kept = [out[k, first : first + per_chunk] for k, first in enumerate(keep_from)]
    return np.concatenate(kept)[:steps]


def step_times(steps: int, stride: int, features: FeatureConfig) -> np.ndarray:
    """Stream time (s) of each step's output, as the runtime pipeline stamps it."""
    frames_seen = (np.arange(steps) + 1) * stride
    return ((frames_seen - 1) * features.frame_step + features.frame_length) / features.sample_rate


def file_features(features: FeatureConfig, path: Path) -> np.ndarray:
    """Features of a whole WAV file (any rate or width; resampled as the runtime does)."""
    return compute_features(features, load_audio(path, features.sample_rate))


@dataclass(frozen=True)
class ScoredStream:
    """One evaluation stream and its features."""

    stream: EvalStream
    features: np.ndarray
    duration_s: float


def load_eval_streams(corpus: Path, role: str, features: FeatureConfig) -> list[ScoredStream]:
    """The corpus's ``role`` evaluation set (eval/<role>/, benchmarks.streams) as features."""
    from benchmarks.streams import eval_manifests, read_negative_manifest, read_positive_manifest

    positives_path, negatives_path = eval_manifests(corpus, role)
    streams = [*read_positive_manifest(positives_path), *read_negative_manifest(negatives_path)]
    loaded = []
    for stream in streams:
        audio = load_audio(stream.path, features.sample_rate)
        duration_s = len(audio) / features.sample_rate
        loaded.append(ScoredStream(stream, compute_features(features, audio), duration_s))
    return loaded


def frr_at_targets(
    model: Any,
    streams: Sequence[ScoredStream],
    labels: Sequence[str],
    keywords: Sequence[str],
    plan: ChunkPlan,
    features: FeatureConfig,
    smoothing_calls: int,
    refractory_s: float,
    targets: Sequence[float] = (0.5, 1.0),
) -> dict[str, dict[str, float | None]]:
    """Per keyword, FRR at each target FA/hr (None where no threshold is that quiet) over the
    streams: negatives count false accepts, positive streams their own keyword's misses
    (benchmarks.frr_fa.for_label, as the benchmark counts them)."""
    from benchmarks.frr_fa import for_label

    scored = [step_scores(model, s.features, plan) for s in streams]
    times = [step_times(len(scores), plan.stride, features) for scores in scored]
    result: dict[str, dict[str, float | None]] = {}
    for keyword in keywords:
        j = labels.index(keyword)
        timelines = [
            s.stream.timeline(at, smooth(scores[:, j], smoothing_calls), s.duration_s)
            for s, scores, at in zip(streams, scored, times, strict=True)
        ]
        lines, _ = for_label(timelines, [s.stream for s in streams], keyword)
        points = det_curve(lines, refractory_s)
        result[keyword] = {}
        for target in targets:
            point = frr_at(points, target)
            result[keyword][f"{target:g}"] = None if point is None else point.frr
    return result
