"""Distinct voices per TTS engine and split, and clips per second per engine through the
corpus generator's fork pool: ``python -m benchmarks.tts_throughput --clips 100 --workers 2``.

Each engine renders ``--clips`` utterances of the phrase with training voices and prosody from
:func:`training.data.tts.prosody_grid`, one :func:`training.data.tts.synthesize` per clip, on
``--workers`` forked processes (as ``training.data generate`` does). Every worker loads its
models and speaks once before the clock starts (the load time is reported apart), so the rate
is the steady state of a long corpus run. On a shared machine the wall-clock rate understates
what the cores can do, so CPU seconds per clip (in the workers) and the rate they imply on idle
cores are reported too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from collections import Counter
from typing import Any

from training.data.generate import speak
from training.data.tts import (
    ENGINES,
    Prosody,
    Voice,
    installed,
    list_voices,
    prosody_grid,
    split_voices,
)


def _init(barrier: Any, loads: Any, engine: str) -> None:
    """Load the engine's models in this worker, report how long that took, wait for the rest."""
    start = time.perf_counter()
    speak(("hey", list_voices((engine,))[0], Prosody(175, 50, 100, 0)))
    loads.put(time.perf_counter() - start)
    barrier.wait()


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (espeak-ng and flite run as such)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(item: tuple[str, Voice, Prosody]) -> tuple[int, float]:
    """(samples, CPU seconds) of one clip rendered in this worker."""
    start = _cpu_s()
    samples = len(speak(item))
    return samples, _cpu_s() - start


def measure(engine: str, phrase: str, clips: int, workers: int, seed: int) -> dict[str, Any]:
    """Voices per split and the rendering rate of one engine."""
    splits = split_voices(list_voices((engine,)), seed=seed)
    speakers = {name: len({v.base for v in voices}) for name, voices in splits.items()}
    grid = prosody_grid(splits["train"], clips, seed)
    items = [(phrase, voice, prosody) for voice, prosody in grid]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    queue = context.Queue()
    with context.Pool(workers, initializer=_init, initargs=(barrier, queue, engine)) as pool:
        barrier.wait()
        start = time.perf_counter()
        done = list(pool.imap_unordered(_timed, items, chunksize=4))
        seconds = time.perf_counter() - start
    loads = [queue.get() for _ in range(workers)]
    spoken = sum(n for n, _ in done) / 16000
    cpu = sum(c for _, c in done) / clips
    return {
        "engine": engine,
        "voices": {name: len(voices) for name, voices in splits.items()},
        "speakers": speakers,
        "clips": clips,
        "workers": workers,
        "clips_per_s": round(clips / seconds, 2),
        "audio_s_per_s": round(spoken / seconds, 2),
        "cpu_s_per_clip": round(cpu, 3),
        "clips_per_s_if_cores_idle": round(workers / cpu, 2),
        "worker_load_s": round(max(loads), 1),
        "distinct_voices_heard": len(Counter(v for v, _ in grid)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tts_throughput")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--phrase", default="hey jarvis")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for engine in args.engines.split(","):
        if not installed(engine):
            print(json.dumps({"engine": engine, "installed": False}))
            continue
        print(json.dumps(measure(engine, args.phrase, args.clips, args.workers, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
