"""Calibrate an environment model's "unknown" threshold on sounds that are no ESC-50 class
(speech, music, silence), and check it on held-out ones.

    python -m benchmarks.environment_unknown --model M.tflite \\
        --calibration speech=DIR --calibration music=DIR \\
        --held-out speech=DIR --held-out music=DIR --out DIR [--write-model OUT.tflite]

Each recording (every WAV/OGG/MP3 under DIR, at most ``--per-source`` of them, 30 s each) is
scored as the runtime scores a stream: the model's window every ``stride_frames`` frames,
averaged over ``smoothing_s``, top label; silence (digital zeros and -70 dBFS noise, 60 s) is
added to both sets. The threshold is the highest ``--quantile`` of the smoothed top scores of
any calibration source (so at least that share of each source's windows is reported as
unknown, a score equal to the threshold counting as known, as in the runtime); the same
threshold is then applied to the held-out set. ``--write-model`` writes a copy of the model
with that threshold for every label. Results: ``unknown.json`` and ``unknown.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from kws.features import compute_features
from kws.metadata import Threshold
from kws.tflite_file import read_metadata, read_model_bytes, write_model

AUDIO_SUFFIXES = (".wav", ".ogg", ".mp3", ".oga", ".flac")
SECONDS_PER_RECORDING = 30.0
SAMPLE_RATE = 16000


def parse_sources(values: list[str]) -> dict[str, Path]:
    """``NAME=DIR`` pairs; a malformed one or a missing folder is a one-line KwsError."""
    sources = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            raise KwsError(f"{value}: expected NAME=DIR with an existing folder")
        sources[name] = Path(folder)
    return sources


def recordings(folder: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` recordings under ``folder`` (sorted, evenly spread), int16 16 kHz mono."""
    from kws.wavfile import to_mono_int16
    from training.data.loaders.base import read_audio

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    n = round(SECONDS_PER_RECORDING * SAMPLE_RATE)
    return [to_mono_int16(read_audio(p), SAMPLE_RATE)[:n] for p in paths]


def silence(rng: np.random.Generator) -> list[np.ndarray]:
    """60 s of digital silence and 60 s of noise at -70 dBFS RMS."""
    n = 60 * SAMPLE_RATE
    noise = rng.normal(0.0, 32768 * 10 ** (-70 / 20), n).round().astype(np.int16)
    return [np.zeros(n, dtype=np.int16), noise]


def window_scores(model: Path, audio: np.ndarray) -> np.ndarray:
    """The model's scores (calls x labels) for each window of ``audio`` the runtime would
    classify: one every ``stride_frames`` frames (a recording shorter than one window is
    zero-padded to it)."""
    from training.environment.run import tflite_predict

    metadata = read_metadata(model)
    frames = compute_features(metadata.features, audio).astype(np.float32)
    window, stride = metadata.window_frames, metadata.stride_frames
    if len(frames) < window:
        frames = np.concatenate([frames, np.zeros((window - len(frames), frames.shape[1]))])
    starts = range(0, len(frames) - window + 1, stride)
    crops = np.stack([frames[s : s + window] for s in starts]).astype(np.float32)
    return np.asarray(tflite_predict(read_model_bytes(model))(crops))


def smoothed_top(model: Path, audio: np.ndarray) -> np.ndarray:
    """Smoothed top score after each model call over ``audio``, as the runtime computes it."""
    metadata = read_metadata(model)
    scores = window_scores(model, audio)
    stride = metadata.stride_frames
    calls = max(1, round(metadata.smoothing_s / (stride * metadata.features.winstep)))
    kernel = np.ones(calls) / calls
    smooth = np.stack(
        [np.convolve(scores[:, k], kernel)[: len(scores)] for k in range(scores.shape[1])], 1
    )
    held = np.minimum(np.arange(1, len(scores) + 1), calls)[:, None]
    return (smooth * calls / held).max(axis=1)


def score_sources(model: Path, sources: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {
        name: np.concatenate([smoothed_top(model, a) for a in audios])
        for name, audios in sources.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.environment_unknown")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--calibration", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--held-out", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--per-source", type=int, default=40)
    parser.add_argument("--quantile", type=float, default=0.95)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--write-model", type=Path)
    args = parser.parse_args(argv)
    try:
        calibration = parse_sources(args.calibration)
        held_out = parse_sources(args.held_out)
        rng = np.random.default_rng(0)
        cal = {n: recordings(f, args.per_source) for n, f in calibration.items()}
        cal["silence"] = silence(rng)
        test = {n: recordings(f, args.per_source) for n, f in held_out.items()}
        test["silence"] = silence(rng)
        cal_scores = score_sources(args.model, cal)
        test_scores = score_sources(args.model, test)
    except KwsError as exc:
        print(f"benchmarks.environment_unknown: error: {exc}", file=sys.stderr)
        return 2
    top = max(float(np.quantile(s, args.quantile)) for s in cal_scores.values())
    threshold = float(np.nextafter(np.float32(top), np.float32(1.0)))  # ties are "known"
    result = {
        "model": str(args.model),
        "threshold": threshold,
        "quantile": args.quantile,
        "calibration": {n: str(f) for n, f in calibration.items()},
        "held_out": {n: str(f) for n, f in held_out.items()},
        "unknown_share_calibration": {
            n: float(np.mean(s < threshold)) for n, s in cal_scores.items()
        },
        "unknown_share_held_out": {
            n: float(np.mean(s < threshold)) for n, s in test_scores.items()
        },
        "windows_held_out": {n: len(s) for n, s in test_scores.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "unknown.json").write_text(json.dumps(result, indent=1))
    lines = [
        f"# Unknown threshold of {args.model.name}: {threshold:.3f}",
        "",
        f"The highest {args.quantile:.2f} quantile of the smoothed top score over the "
        "calibration sources.",
        "",
        "| source | calibration: unknown | held out: unknown | held-out windows |",
        "|---|---|---|---|",
    ]
    for name in sorted(set(cal_scores) | set(test_scores)):
        c = result["unknown_share_calibration"].get(name)
        t = result["unknown_share_held_out"].get(name)
        lines.append(
            f"| {name} | {'-' if c is None else f'{c:.1%}'} | {'-' if t is None else f'{t:.1%}'} "
            f"| {result['windows_held_out'].get(name, '-')} |"
        )
    (args.out / "unknown.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.write_model:
        metadata = read_metadata(args.model)
        thresholds = {label: Threshold(threshold) for label in metadata.labels}
        write_model(
            args.write_model,
            read_model_bytes(args.model),
            dataclasses.replace(metadata, thresholds=thresholds),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
