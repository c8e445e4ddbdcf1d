"""Ray drivers that tests/test_ray.py runs in their own processes, never in pytest's: a driver
whose cluster dies is ended by Ray (exit 1, 60 s after the GCS is gone), which must fail one
test, not end the test run.

    python -m tests.ray_driver corpus ADDRESS OUT     # the tiny corpus, rendered on Ray
    python -m tests.ray_driver die ADDRESS MARKER RETRIES N
        # N tasks whose first one kills its worker process; prints each (index, result, error)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from training.data.corpus import CorpusConfig

ANSWER_FILE = "KWS_RAY_DRIVER_ANSWER"
"""Names the file the driver writes its result to (JSON): not stdout, where Ray prints lines of
its own (a worker that died), even after the driver's last print and into its lines."""


def answer(result: object) -> None:
    Path(os.environ[ANSWER_FILE]).write_text(json.dumps(result))


TINY = CorpusConfig(
    keyword="hey jarvis", positives=24, confusables=8, speech=8, noise=4, music=2, silence=2,
    eval_positives=4, eval_snrs_db=(10.0,), eval_negative_hours=0.005, eval_sentences=8,
    eval_confusables=4, engines=("espeak-ng", "flite"),
)  # fmt: skip


def main(argv: list[str]) -> int:
    command, address, *rest = argv
    if command == "corpus":
        from training.data.generate import generate

        summary = generate(TINY, Path(rest[0]), ray=address)
        answer(summary)
        return 0
    marker, retries, count = Path(rest[0]), int(rest[1]), int(rest[2])

    def die_once(x: int) -> int:  # defined in __main__: Ray pickles it by value
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies, as when a node is lost or OOM-killed
        return 2 * x

    from training.core.ray_pool import RayPool

    with RayPool(address, fresh_process=True, max_retries=retries) as pool:
        got = sorted(pool.outcomes(die_once, list(range(1, count + 1))), key=lambda o: o[0])
    outcomes = [[i, r, type(e).__name__ if e else None] for i, r, e in got]
    answer(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
