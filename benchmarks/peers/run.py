"""Score a peer engine on the benchmark's streams: its per-chunk probabilities as
kws.evaluation Timelines (smoothed by the engine's own convention), FRR at the FA/hr targets,
and its CPU cost per hour of audio.

Each stream WAV is read with :func:`kws.wavfile.load_audio` (16 kHz int16), the engine is reset,
and the audio is fed in the engine's natural chunks. CPU time is the process's
(``time.process_time``) around the feeding only, not the WAV reading; the adapters run their
TensorFlow Lite interpreters on one thread, so this is one thread's cost. An adapter that runs
more than a user would to get scores (Porcupine's sensitivity grid) offers ``user_engine()``,
what a user runs; it is fed the same audio on its own and timed apart (``user_cpu_s``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.peers import SAMPLE_RATE, PeerEngine
from benchmarks.streams import (
    BREAKDOWN_TARGET,
    TARGETS_FA_PER_HOUR,
    EvalStream,
    breakdown,
    for_label,
)
from kws.evaluation import Timeline, det_curve, frr_at, negative_seconds, smooth
from kws.wavfile import load_audio


@dataclass(frozen=True)
class PeerRun:
    """One engine's scores over every stream and what computing them cost."""

    name: str
    """The engine's name, e.g. 'microwakeword:okay_nabu'."""
    timelines: list[Timeline]
    """One smoothed Timeline per stream, in stream order."""
    cpu_s: float
    """Process CPU seconds spent feeding the audio."""
    audio_s: float
    """Seconds of audio fed."""
    user_cpu_s: float | None = None
    """CPU seconds of the part a user runs, when the adapter runs more to get scores (Porcupine:
    one detector of its sensitivity grid); None when ``cpu_s`` is already that."""
    streams: tuple[EvalStream, ...] = ()
    """The streams behind ``timelines`` as scored for the engine's wake word (its positives
    only), for the per-condition breakdown."""

    @property
    def cpu_s_per_audio_hour(self) -> float:
        return self.cpu_s / self.audio_s * 3600 if self.audio_s else float("nan")


def feed(engine: PeerEngine, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, raw probabilities) of one stream fed to a freshly reset ``engine`` in its
    natural chunks."""
    engine.reset()
    pairs: list[tuple[float, float]] = []
    step = engine.chunk_samples
    for start in range(0, len(audio), step):
        pairs += engine.process(audio[start : start + step])
    out = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    return out[:, 0], out[:, 1]


def score_peer(
    engine: PeerEngine, streams: Sequence[EvalStream], progress: bool = False
) -> PeerRun:
    """Feed every stream to ``engine`` and build its Timelines (scores smoothed over
    ``engine.smoothing_calls``) with the streams' keyword spans; time the feeding."""
    timelines = []
    cpu_s = audio_s = 0.0
    make_user = getattr(engine, "user_engine", None)  # Porcupine: one detector, not the grid
    user_engine = None if make_user is None else make_user()
    user_cpu_s = 0.0
    for stream in tqdm(streams, desc=engine.name, unit="stream", disable=not progress):
        audio = load_audio(stream.path)
        started = time.process_time()
        times, raw = feed(engine, audio)
        cpu_s += time.process_time() - started
        if user_engine is not None:
            started = time.process_time()
            feed(user_engine, audio)
            user_cpu_s += time.process_time() - started
        duration_s = len(audio) / SAMPLE_RATE
        audio_s += duration_s
        timelines.append(stream.timeline(times, smooth(raw, engine.smoothing_calls), duration_s))
    user = None if user_engine is None else user_cpu_s
    # Occurrences labelled as another keyword (another wake word said in the streams) are false
    # accepts for the peer as for our models, never positives it missed.
    timelines, kept = for_label(timelines, streams, engine.name.partition(":")[2])
    return PeerRun(engine.name, timelines, cpu_s, audio_s, user, tuple(kept))


def peer_entry(
    engine: PeerEngine, run: PeerRun, targets: Sequence[float] = TARGETS_FA_PER_HOUR
) -> dict[str, Any]:
    """The engine's DET curve (with its own refractory period), FRR at each target FA/hr
    (keys '0.5', '1' as in benchmarks.report), and its CPU cost, as JSON-ready values."""
    points = det_curve(run.timelines, engine.refractory_s)
    at = {f"{t:g}": frr_at(points, t) for t in targets}
    frr = {k: None if p is None else dataclasses.asdict(p) for k, p in at.items()}
    setting = getattr(engine, "sensitivity_at", None)  # Porcupine: threshold -> sensitivity
    if setting is not None:
        for point in frr.values():
            if point is not None:
                point["sensitivity"] = setting(point["threshold"])
    entry: dict[str, Any] = {
        "name": run.name,
        "smoothing_calls": engine.smoothing_calls,
        "refractory_s": engine.refractory_s,
        "chunk_samples": engine.chunk_samples,
        "negative_hours": negative_seconds(run.timelines)[0] / 3600,
        "num_positives": sum(len(t.positives) for t in run.timelines),
        "frr_at": frr,
        "cpu_s": run.cpu_s,
        "audio_s": run.audio_s,
        "cpu_s_per_audio_hour": run.cpu_s_per_audio_hour,
        "det": [dataclasses.asdict(p) for p in points],
    }
    chosen = at.get(f"{BREAKDOWN_TARGET:g}")
    if chosen is not None and run.streams:
        entry["breakdown"] = {
            "threshold": chosen.threshold,
            "target_fa_per_hour": BREAKDOWN_TARGET,
            **breakdown(run.timelines, run.streams, chosen.threshold, engine.refractory_s),
        }
    note = getattr(engine, "note", "")
    if note:
        entry["note"] = note
    if run.user_cpu_s is not None:  # the benchmark ran more than a user would (a grid)
        entry["user_cpu_s_per_audio_hour"] = run.user_cpu_s / run.audio_s * 3600
    return entry


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs`` (below 1: ours is lower), None when either is missing or theirs is 0."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
