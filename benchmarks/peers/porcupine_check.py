"""``python -m benchmarks.peers.porcupine_check``: check the Porcupine adapter's sensitivity grid
on generated audio and measure what it costs.

Makes ``--minutes`` of espeak-ng speech (the wake word, confusables and other sentences in
several voices) over low noise, runs one Porcupine detector per grid sensitivity and reports:

- nesting: whether the frames (and events) where a detector fires are contained in those of
  every higher sensitivity, which is what the score mapping assumes;
- per sensitivity, the events its own detector gives against the events the mapped scores give
  at that sensitivity's threshold (``kws.evaluation.fire_times``, the adapter's refractory);
- CPU seconds per audio hour of the whole grid and of one detector at sensitivity 0.5 alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers import SAMPLE_RATE, ChunkBuffer
from benchmarks.peers.porcupine import (
    FRAME_SAMPLES,
    KEYWORDS,
    REFRACTORY_S,
    SENSITIVITIES,
    PorcupineDetector,
    PorcupineEngine,
    SensitivityGrid,
)
from benchmarks.peers.run import feed
from kws.evaluation import fire_times
from kws.wavfile import load_audio

PHRASES = {
    "alexa": ("alexa", "alexa, what time is it", "alexander", "a lexicon", "election", "elixir"),
    "hey_jarvis": ("hey jarvis", "jarvis", "jarvis, lights on", "harvest", "service", "java"),
}
OTHER = (
    "the weather is fine today",
    "please pass the salt and pepper",
    "we will meet at seven in the evening",
    "turn left at the next corner",
)
VOICES = ("en", "en-us", "en-gb", "en-us+f3")
SPEEDS = (140, 175)
NOISE_STD = 30.0  # int16 units, about -60 dBFS: Porcupine stays silent on digital zeros
MATCH_S = 0.5  # events of two detectors this close are the same utterance's


def make_audio(word: str, minutes: float, seed: int) -> np.ndarray:
    """Speech (wake word, confusables, other sentences, cycling through voices and speeds)
    with 1–3 s gaps, over Gaussian noise, ``minutes`` long."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SAMPLE_RATE)
    cache: dict[tuple[str, str, int], np.ndarray] = {}
    pieces, length = [], 0
    cases = itertools.cycle(itertools.product(PHRASES[word] + OTHER, VOICES, SPEEDS))
    with tempfile.TemporaryDirectory(prefix="porcupine_check_") as work:
        while length < total:
            case = next(cases)
            if case not in cache:
                path = Path(work) / "tts.wav"
                text, voice, speed = case
                command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text]
                subprocess.run(command, check=True, capture_output=True)
                cache[case] = load_audio(path)
            gap = np.zeros(int(rng.uniform(1, 3) * SAMPLE_RATE), dtype=np.int16)
            pieces += [cache[case], gap]
            length += len(cache[case]) + len(gap)
    audio = np.concatenate(pieces)[:total].astype(np.float64)
    audio += rng.normal(0, NOISE_STD, len(audio))
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def grid_frames(word: str, audio: np.ndarray) -> np.ndarray:
    """(frames, sensitivities) bool: which detector fired on which 512-sample frame."""
    detectors = [PorcupineDetector(KEYWORDS[word], s) for s in SENSITIVITIES]
    grid = SensitivityGrid(SENSITIVITIES, detectors)
    rows = [grid.fired(piece) for piece, _ in ChunkBuffer(FRAME_SAMPLES).feed(audio)]
    for d in detectors:
        d.delete()
    return np.asarray(rows, dtype=bool)


def _near(a: np.ndarray, b: np.ndarray) -> int:
    """How many times in ``a`` have no time in ``b`` within MATCH_S."""
    return sum(1 for t in a if not len(b) or np.min(np.abs(b - t)) > MATCH_S)


def nesting(fired: np.ndarray) -> dict[str, Any]:
    """Frame- and event-level nesting of the detectors, and the mapped scores' events against
    each detector's own events at its sensitivity."""
    times = (np.arange(len(fired)) + 1) * FRAME_SAMPLES / SAMPLE_RATE
    grid = SensitivityGrid(SENSITIVITIES, [lambda _: False] * len(SENSITIVITIES))
    scores = np.asarray([grid.score_of(row) for row in fired])
    frame_violations = 0  # frames where detector k fired and some higher one did not
    for k in range(fired.shape[1] - 1):
        frame_violations += int(np.sum(fired[:, k] & ~fired[:, k + 1 :].all(axis=1)))
    rows = []
    previous: np.ndarray | None = None
    for k, s in enumerate(SENSITIVITIES):
        own = fire_times(times, fired[:, k].astype(float), 0.5, REFRACTORY_S)
        mapped = fire_times(times, scores, grid.threshold_of(k), REFRACTORY_S)
        rows.append(
            {
                "sensitivity": s,
                "own_frames": int(fired[:, k].sum()),  # above own_events: it fired again < 1 s
                "own_events": len(own),
                "mapped_events": len(mapped),
                "own_not_in_mapped": _near(own, mapped),
                "mapped_not_in_own": _near(mapped, own),
                "lower_not_in_own": None if previous is None else _near(previous, own),
            }
        )
        previous = own
    return {"frame_violations": frame_violations, "per_sensitivity": rows}


def cpu_per_hour(engine: PorcupineEngine, audio: np.ndarray) -> float:
    started = time.process_time()
    feed(engine, audio)
    return (time.process_time() - started) / (len(audio) / SAMPLE_RATE) * 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.porcupine_check")
    parser.add_argument("--word", choices=sorted(KEYWORDS), default="alexa")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    audio = make_audio(args.word, args.minutes, args.seed)
    hours = len(audio) / SAMPLE_RATE / 3600
    grid = PorcupineEngine(args.word)
    grid_cpu = cpu_per_hour(grid, audio)
    single = grid.user_engine()
    single_cpu = cpu_per_hour(single, audio)
    results = {
        "word": args.word,
        "porcupine_keyword": KEYWORDS[args.word],
        "audio_hours": hours,
        "cpu_s_per_audio_hour": {
            "grid": grid_cpu,
            "grid_detectors": len(SENSITIVITIES),
            "one_detector_alone": single_cpu,
        },
        **nesting(grid_frames(args.word, audio)),
    }
    print(json.dumps({k: v for k, v in results.items() if k != "per_sensitivity"}, indent=1))
    print("sensitivity  frames  own  mapped  own-not-mapped  mapped-not-own  lower-not-in-own")
    for r in results["per_sensitivity"]:
        lower = "—" if r["lower_not_in_own"] is None else r["lower_not_in_own"]
        print(
            f"{r['sensitivity']:>11.2f}  {r['own_frames']:>6}  {r['own_events']:>3}  "
            f"{r['mapped_events']:>6}  "
            f"{r['own_not_in_mapped']:>14}  {r['mapped_not_in_own']:>14}  {lower:>16}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
