"""How long a streaming model remembers: seconds until a fresh runner's state tensors are
bit-identical to those of a runner that has heard the stream since its start.

    python -m benchmarks.state_memory [--minutes 15] [--start 60 --start 300] [--model M.tflite]

The soak test's fresh pipelines must start at least this long before the hour they check
(a GRU's memory fades but does not end in exact arithmetic; float rounding ends it). Runs the
shipped wake-word models, or the given files, over the soak's audio (seed 0) and prints, per
model and start time, when the states last differed ("never": still at the end of the audio)
the largest difference at a few delays, and the largest difference of their scores from the
build's limit on (FORGET_WITHIN_S) on: what the memory does to detections. A run whose state
never forgets makes a mean of runs (training.core.ensemble) remember too.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

from benchmarks.soak_audio import FIRMWARE, SAMPLE_RATE, SoakAudio, load_material
from kws.features import FeatureConfig, Frontend, StreamingFrontend
from kws.model import Model, load_model

KEYWORD_MODELS = ("hey_jarvis", "alexa", "okay_nabu", "hey_mycroft")
DELAYS_S = (1, 10, 30, 60, 120, 300)
BLOCK = 320  # 20 ms, as the daemon pushes
CHECK_START_S = 60.0
"""The build check's fresh start into the soak audio (training.core.ship)."""
FORGET_WITHIN_S = 540.0
"""A shipped model's state must forget within this ([ship] max_state_memory_s); the soak's
fresh pipelines hear as much audio before their segment."""


def state_gap(
    model: Model, frames: np.ndarray, start: int
) -> tuple[float | None, list[float], list[float]]:
    """(seconds after ``start`` when the states last differed, max |state difference| per call,
    max |score difference| per call): what a fresh runner started at ``start`` still differs in
    from one that heard the frames from the beginning."""
    stride = model.metadata.stride_frames
    frame_s = model.metadata.features.frame_step / model.metadata.features.sample_rate
    long, fresh = model.runner(), model.runner()
    long.push(frames[:start])
    last, gaps, score_gaps = None, [], []
    for at in range(start, len(frames) - stride + 1, stride):
        said = long.push(frames[at : at + stride])
        heard = fresh.push(frames[at : at + stride])
        pairs = zip(long._states, fresh._states, strict=True)
        gap = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in pairs)
        if gap > 0:
            last = (at + stride - start) * frame_s
        gaps.append(gap)
        scores = zip(said, heard, strict=True)
        score_gaps.append(max((float(np.max(np.abs(a[1] - b[1]))) for a, b in scores), default=0.0))
    return last, gaps, score_gaps


@functools.lru_cache(maxsize=2)
def soak_frames(config: FeatureConfig, minutes: float) -> np.ndarray:
    """The feature frames of the soak's first ``minutes`` of audio (seed 0), pushed through the
    streaming frontend in the daemon's 20 ms blocks."""
    audio = SoakAudio(load_material(), seed=0, chunk_s=600)
    samples = round(minutes * 60 * SAMPLE_RATE)
    stream = np.concatenate(list(audio.blocks(0, samples, audio.chunk_samples)))
    frontend = StreamingFrontend(config, Frontend(config))
    return np.concatenate([frontend.push(stream[i : i + BLOCK]) for i in range(0, samples, BLOCK)])


def state_memory_s(path: Path, within_s: float = FORGET_WITHIN_S) -> float | None:
    """Seconds after a fresh start CHECK_START_S into the soak audio until a fresh runner's
    states are bit-identical to those of a runner that heard the audio from its start: 0 for a
    model without states, None if they still differ at the end of the audio, which runs a
    minute past ``within_s``."""
    model = load_model(path)
    if not model.state_ports:
        return 0.0
    config = model.metadata.features
    frames = soak_frames(config, (CHECK_START_S + within_s + 60.0) / 60.0)
    last, gaps, _ = state_gap(
        model, frames, round(CHECK_START_S * config.sample_rate / config.frame_step)
    )
    if gaps and gaps[-1] > 0:
        return None
    return last or 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="audio from the soak stream")
    parser.add_argument("--start", type=int, action="append", help="fresh start (s); repeatable")
    parser.add_argument(
        "--model", action="append", metavar="M.tflite",
        help="streaming model files to measure (default: the shipped wake words); repeatable",
    )  # fmt: skip
    args = parser.parse_args(argv)
    starts = args.start or [60, 300]
    paths = args.model or [str(FIRMWARE / f"{name}.tflite") for name in KEYWORD_MODELS]
    models = [load_model(path) for path in paths]
    config = models[0].metadata.features
    frames = soak_frames(config, args.minutes)
    step_s = config.frame_step / config.sample_rate
    print(
        f"{args.minutes:g} min of soak audio (seed 0); max |state difference| after d seconds; "
        f"largest |score difference| from {FORGET_WITHIN_S:g} s on (the build's limit)"
    )
    print(
        "model        start  identical after  "
        + "  ".join(f"d={d:>3}s " for d in DELAYS_S)
        + f"  scores>={FORGET_WITHIN_S:g}s"
    )
    for path, model in zip(paths, models, strict=True):
        calls_s = model.metadata.stride_frames * step_s
        name = model.name if args.model is None else path
        for start_s in starts:
            last, gaps, score_gaps = state_gap(model, frames, round(start_s / step_s))
            cells = [f"{gaps[min(len(gaps) - 1, round(d / calls_s) - 1)]:8.1e}" for d in DELAYS_S]
            said = f"{last:7.2f} s" if last is not None else "  at once"
            if gaps and gaps[-1] > 0:  # still differing when the audio ends
                said = "never"
            late = score_gaps[max(0, round(FORGET_WITHIN_S / calls_s) - 1) :]
            tail = f"{max(late):8.1e}" if late else "       —"
            print(f"{name:12} {start_s:5d}  {said:>15}  " + "  ".join(cells) + f"  {tail:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
