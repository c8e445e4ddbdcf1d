"""``python -m benchmarks.fa_by_kind``: where false accepts come from. Streams a negatives.json
through our models and the peers and counts, at one threshold each (a model's own calibrated
threshold; a peer's ``--peer-threshold``), the firings inside each kind of negative segment
(recorded speech, confusable phrases, music...), as false accepts per hour of that kind.

A peer whose FRR at 1 FA/h is near 100 % may still catch the keyword well and fire on one kind
of negative (a phrase with one word of the keyword); this table says which.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.streams import EvalStream, read_negative_manifest
from kws.atomic import atomic_write_bytes
from kws.evaluation import Timeline, fire_times


def false_accepts_by_kind(
    timelines: Sequence[Timeline],
    streams: Sequence[EvalStream],
    threshold: float,
    refractory_s: float,
) -> dict[str, dict[str, float]]:
    """Per segment kind: false accepts, hours, and false accepts per hour, at ``threshold``
    (firings outside every segment count under 'unlabelled')."""
    out: dict[str, dict[str, float]] = {}
    for timeline, stream in zip(timelines, streams, strict=True):
        for onset, offset, kind in stream.segments:
            cell = out.setdefault(kind, {"false_accepts": 0, "hours": 0.0})
            cell["hours"] += (offset - onset) / 3600
        for t in fire_times(timeline.times, timeline.scores, threshold, refractory_s):
            kind = next((k for on, off, k in stream.segments if on <= t < off), "unlabelled")
            out.setdefault(kind, {"false_accepts": 0, "hours": 0.0})["false_accepts"] += 1
    for cell in out.values():
        cell["fa_per_hour"] = cell["false_accepts"] / cell["hours"] if cell["hours"] else 0.0
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.frr_fa import score_streams
    from benchmarks.peers import load_peer
    from benchmarks.peers.run import score_peer
    from kws.model import load_model

    parser = argparse.ArgumentParser(prog="python -m benchmarks.fa_by_kind", description=__doc__)
    parser.add_argument("--negatives", type=Path, required=True, help="negatives.json")
    parser.add_argument("--model", type=Path, action="append", default=[], help="our .tflite")
    parser.add_argument("--peers", nargs="*", default=[], help="engine:wake_word")
    parser.add_argument("--peer-threshold", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True, help="folder for fa_by_kind.json/.md")
    args = parser.parse_args(argv)
    try:
        streams = read_negative_manifest(args.negatives)
        rows: dict[str, dict[str, Any]] = {}
        if args.model:
            models = [load_model(m) for m in args.model]
            timelines = score_streams(models, streams)
            for i, model in enumerate(models):
                for label in model.metadata.keywords:
                    threshold = model.metadata.thresholds[label].threshold
                    rows[f"{model.path.name}:{label}"] = {
                        "threshold": threshold,
                        "kinds": false_accepts_by_kind(
                            timelines[i, label], streams, threshold, model.metadata.refractory_s
                        ),
                    }
        for spec in args.peers:
            engine, _, word = spec.partition(":")
            peer = load_peer(engine, word)
            run = score_peer(peer, streams)
            rows[spec] = {
                "threshold": args.peer_threshold,
                "kinds": false_accepts_by_kind(
                    run.timelines, streams, args.peer_threshold, peer.refractory_s
                ),
            }
    except (ValueError, OSError, ImportError) as exc:
        print(f"fa_by_kind: error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "fa_by_kind.json", json.dumps(rows, indent=1).encode())
    kinds = sorted({k for row in rows.values() for k in row["kinds"]})
    lines = [
        f"# False accepts per hour by kind of negative ({args.negatives})",
        "",
        "| engine | threshold | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for name, row in rows.items():
        cells = [
            f"{row['kinds'][k]['fa_per_hour']:.1f}" if k in row["kinds"] else "—" for k in kinds
        ]
        lines.append(f"| {name} | {row['threshold']:.3g} | " + " | ".join(cells) + " |")
    atomic_write_bytes(args.out / "fa_by_kind.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
