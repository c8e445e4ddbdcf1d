"""``python -m benchmarks.fa_by_kind``: where false accepts come from. Streams a negatives.json
through our models and the peers and counts, at one threshold each (a model's own calibrated
threshold; a peer's ``--peer-threshold``), the firings inside each kind of negative segment
(recorded speech, confusable phrases, music...), as false accepts per hour of that kind.

A peer whose FRR at 1 FA/h is near 100 % may still catch the keyword well and fire on one kind
of negative (a phrase with one word of the keyword); this table says which.

With ``--recordings DIR`` (a ``python -m training.data recordings`` folder) instead, the
recordings of one split and kind are played back to back at their own level, and the firings
are counted per package and per recording, with what the recording says where its package
writes it down: which real recordings a model fires on. Recordings saying a keyword are left
out, as the evaluation sets leave them out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.streams import EvalStream, concatenate_clips, read_negative_manifest
from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.evaluation import Timeline, fire_times
from kws.metadata import spoken
from kws.model import Model, load_model
from kws.paths import portable_path


def _segment_of_each_firing(
    timeline: Timeline, stream: EvalStream, threshold: float, refractory_s: float
) -> list[int | None]:
    """The index of the segment each firing at ``threshold`` falls in (None: outside all)."""
    return [
        next((i for i, (on, off, _) in enumerate(stream.segments) if on <= t < off), None)
        for t in fire_times(timeline.times, timeline.scores, threshold, refractory_s)
    ]


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
        for i in _segment_of_each_firing(timeline, stream, threshold, refractory_s):
            kind = "unlabelled" if i is None else stream.segments[i][2]
            out.setdefault(kind, {"false_accepts": 0, "hours": 0.0})["false_accepts"] += 1
    for cell in out.values():
        cell["fa_per_hour"] = cell["false_accepts"] / cell["hours"] if cell["hours"] else 0.0
    return dict(sorted(out.items()))


def firings_by_stretch(
    timelines: Sequence[Timeline],
    streams: Sequence[EvalStream],
    threshold: float,
    refractory_s: float,
) -> list[dict[str, Any]]:
    """The segments fired on at ``threshold`` (file, onset, kind, firings), most firings first:
    whether false accepts are spread over many stretches or piled in one."""
    out = []
    for timeline, stream in zip(timelines, streams, strict=True):
        counts: dict[int, int] = {}
        for i in _segment_of_each_firing(timeline, stream, threshold, refractory_s):
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        for i, n in counts.items():
            onset, offset, kind = stream.segments[i]
            out.append(
                {"file": stream.path.name, "onset_s": onset, "offset_s": offset,
                 "kind": kind, "firings": n}
            )  # fmt: skip
    return sorted(out, key=lambda s: (-s["firings"], s["file"], s["onset_s"]))


RECORDING_GAP_S = 0.5
"""Silence after each recording played back to back (``--recordings``)."""
LISTED_FILES = 30
"""The recordings fired on most, listed in the report (all of them are in the JSON)."""


def recording_streams(
    root: Path, split: str, kind: str, avoid: Sequence[str], work_dir: Path
) -> tuple[list[EvalStream], dict[str, str | None]]:
    """Streams of the ``split``/``kind`` recordings under ``root`` (none saying one of ``avoid``)
    back to back, each recording a segment named ``package/path_in_package``; and the text of
    each such name (None where its package has no transcript)."""
    from training.data.recordings import load_index, saying_none_of

    entries = [e for e in load_index(root) if e.split == split and e.kind == kind]
    if not entries:
        raise ValueError(f"{root}: no {split} recordings of kind {kind!r}")
    kept = saying_none_of(entries, avoid)
    names = [f"{e.package}/{e.path_in_package}" for e in kept]
    streams = concatenate_clips(
        [root / e.path for e in kept], work_dir, "recordings", names, RECORDING_GAP_S
    )
    return streams, dict(zip(names, (e.text for e in kept), strict=True))


def by_package(per_file: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-recording counts (keys ``package/path``) summed per package, with FA per hour."""
    out: dict[str, dict[str, float]] = {}
    for name, cell in per_file.items():
        total = out.setdefault(name.split("/", 1)[0], {"false_accepts": 0, "hours": 0.0})
        total["false_accepts"] += cell["false_accepts"]
        total["hours"] += cell["hours"]
    for cell in out.values():
        cell["fa_per_hour"] = cell["false_accepts"] / cell["hours"] if cell["hours"] else 0.0
    return dict(sorted(out.items()))


def recordings_report(
    rows: dict[str, dict[str, Any]], texts: dict[str, str | None], title: str
) -> list[str]:
    """Markdown: false accepts per package for every engine, then the recordings fired on."""
    packages = sorted({p for row in rows.values() for p in row["packages"]})
    hours = {p: next(r["packages"][p]["hours"] for r in rows.values()) for p in packages}
    lines = [
        f"# False accepts per package and per recording ({title})",
        "",
        "| engine | threshold | " + " | ".join(f"{p} ({hours[p]:.2f} h)" for p in packages) + " |",
        "|---|---|" + "---|" * len(packages),
    ]
    for name, row in rows.items():
        cells = [
            f"{row['packages'][p]['false_accepts']} ({row['packages'][p]['fa_per_hour']:.1f}/h)"
            for p in packages
        ]
        lines.append(f"| {name} | {row['threshold']:.3g} | " + " | ".join(cells) + " |")
    for name, row in rows.items():
        fired = sorted(
            (
                (cell["false_accepts"], f)
                for f, cell in row["kinds"].items()
                if cell["false_accepts"]
            ),
            key=lambda item: (-item[0], item[1]),
        )
        lines += ["", f"## {name}: {len(fired)} recordings fired on", ""]
        if fired:
            lines += ["| firings | recording | what it says |", "|---|---|---|"]
            for count, f in fired[:LISTED_FILES]:
                text = (texts.get(f) or "—").replace("|", "/")
                lines.append(f"| {count} | {f} | {text} |")
            if len(fired) > LISTED_FILES:
                lines.append(f"\n{len(fired) - LISTED_FILES} more in fa_by_kind.json.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fa_by_kind", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--negatives", type=Path, help="negatives.json")
    source.add_argument(
        "--recordings", type=Path, help="a training.data recordings folder (see --split, --kind)"
    )
    parser.add_argument("--split", default="test", help="--recordings: which split (test)")
    parser.add_argument("--kind", default="speech", help="--recordings: which kind (speech)")
    parser.add_argument("--model", type=Path, action="append", default=[], help="our .tflite")
    parser.add_argument("--peers", nargs="*", default=[], help="engine:wake_word")
    parser.add_argument("--peer-threshold", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True, help="folder for fa_by_kind.json/.md")
    args = parser.parse_args(argv)
    texts: dict[str, str | None] = {}
    try:
        models = [load_model(m) for m in args.model]
        with tempfile.TemporaryDirectory(prefix="kws-fa-by-kind-") as work:
            if args.recordings is not None:
                phrases = [spoken(k) for m in models for k in m.metadata.keywords]
                phrases += [spoken(spec.partition(":")[2]) for spec in args.peers]
                streams, texts = recording_streams(
                    args.recordings, args.split, args.kind, phrases, Path(work)
                )
            else:
                streams = read_negative_manifest(args.negatives)
            rows = _rows(models, args.peers, args.peer_threshold, streams)
    except (ValueError, OSError, ImportError, KwsError) as exc:
        print(f"fa_by_kind: error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.recordings is not None:
        for row in rows.values():
            row["packages"] = by_package(row["kinds"])
        title = f"{args.recordings.name}: {args.split} {args.kind}"
        lines = recordings_report(rows, texts, title)
        payload: dict[str, Any] = {"texts": texts, "engines": rows}
    else:
        lines = kinds_report(rows, str(args.negatives))
        payload = rows
    atomic_write_bytes(args.out / "fa_by_kind.json", json.dumps(payload, indent=1).encode())
    atomic_write_bytes(args.out / "fa_by_kind.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return 0


def _rows(
    models: Sequence[Model], peers: Sequence[str], peer_threshold: float, streams: list[EvalStream]
) -> dict[str, dict[str, Any]]:
    """Per engine (``file:label`` for ours, ``engine:word`` for a peer): its threshold and its
    false accepts per segment kind of ``streams``."""
    from benchmarks.frr_fa import score_streams
    from benchmarks.peers import load_peer
    from benchmarks.peers.run import score_peer

    rows: dict[str, dict[str, Any]] = {}
    names = [m.path.name for m in models]
    if len(set(names)) < len(names):  # runs of one word are all <label>.tflite: say which
        names = [portable_path(m.path) for m in models]
    if models:
        timelines = score_streams(models, streams)
        for i, model in enumerate(models):
            for label in model.metadata.keywords:
                threshold = model.metadata.thresholds[label].threshold
                line, refractory_s = timelines[i, label], model.metadata.refractory_s
                rows[f"{names[i]}:{label}"] = {
                    "threshold": threshold,
                    "kinds": false_accepts_by_kind(line, streams, threshold, refractory_s),
                    "stretches": firings_by_stretch(line, streams, threshold, refractory_s),
                }
    for spec in peers:
        engine, _, word = spec.partition(":")
        peer = load_peer(engine, word)
        run = score_peer(peer, streams)
        rows[spec] = {
            "threshold": peer_threshold,
            "kinds": false_accepts_by_kind(
                run.timelines, streams, peer_threshold, peer.refractory_s
            ),
            "stretches": firings_by_stretch(
                run.timelines, streams, peer_threshold, peer.refractory_s
            ),
        }
    return rows


def kinds_report(rows: dict[str, dict[str, Any]], title: str) -> list[str]:
    """Markdown: false accepts per hour of each kind of negative, a row per engine."""
    kinds = sorted({k for row in rows.values() for k in row["kinds"]})
    lines = [
        f"# False accepts per hour by kind of negative ({title})",
        "",
        "| engine | threshold | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for name, row in rows.items():
        cells = [
            f"{row['kinds'][k]['fa_per_hour']:.1f}" if k in row["kinds"] else "—" for k in kinds
        ]
        lines.append(f"| {name} | {row['threshold']:.3g} | " + " | ".join(cells) + " |")
    lines += ["", "Stretches with the most firings (every one fired on: fa_by_kind.json):", ""]
    for name, row in rows.items():
        top = row["stretches"][:3]
        said = "; ".join(
            f"{s['firings']} in {s['kind']} of {s['file']} at {s['onset_s']:.0f} s" for s in top
        )
        lines.append(f"- {name}: {said or 'none'}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
