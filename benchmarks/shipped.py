"""``python -m benchmarks.shipped``: regenerate the results of every shipped keyword model.

For each ``firmware_models/*.tflite`` whose task is ``keyword`` and whose evaluation corpus
exists (``<data>/<label>/eval``, made by ``python -m training.data generate``), run
:mod:`benchmarks.frr_fa` with the peers that ship the same wake word and
:mod:`benchmarks.latency`, into ``<out>/<name>/``; then write ``<out>/README.md`` with one row
per model. Models without a corpus are listed as skipped, with the command that makes one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import compare, frr_fa, latency
from benchmarks.peers import TARGET_WAKE_WORDS
from benchmarks.report import pct
from benchmarks.streams import eval_manifests
from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.metadata import spoken
from kws.model import load_model
from kws.paths import portable_path


def keyword_models(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.tflite") if load_model(p).metadata.task == "keyword")


def peers_for(label: str) -> list[str]:
    """``engine:label`` for every peer engine that ships ``label`` (compare.peer_specs' rule)."""
    if label not in TARGET_WAKE_WORDS:
        return []
    return [f"{engine}:{word}" for engine, word in compare.peer_specs([], [[label]])]


def _fresh(path: Path, model: Path) -> bool:
    return path.is_file() and path.stat().st_mtime >= model.stat().st_mtime


def run_model(
    path: Path, data: Path, out: Path, latency_seconds: float, reuse: bool = False
) -> dict[str, Any]:
    """Benchmark one model into ``out/<file stem>``; ``reuse`` keeps results newer than the
    model file instead of recomputing them (to re-render the summary)."""
    md = load_model(path).metadata
    if len(md.keywords) > 1:
        return {
            "name": path.stem,
            "skipped": f"{len(md.keywords)} keywords: a command model, measured per command by "
            "python -m training.commands (benchmarks/results/commands/)",
        }
    label = md.keywords[0]
    positives, negatives = eval_manifests(data / label, "test")
    if not positives.is_file():
        phrase = spoken(label)
        return {
            "name": path.stem,
            "skipped": f"no test set in {portable_path(positives.parent.parent)} (python -m "
            f'training.data generate --keyword "{phrase}" --out {portable_path(data / label)})',
        }
    target = out / path.stem
    argv = ["--model", str(path), "--positives", str(positives), "--negatives",
            str(negatives), "--out", str(target), "--quiet"]  # fmt: skip
    peers = peers_for(label)
    if peers:
        argv += ["--peers", *peers]
    reused = reuse and _fresh(target / "results.json", path)
    if not reused and frr_fa.main(argv) != 0:
        raise KwsError(f"{path}: benchmarks.frr_fa failed")
    argv = ["--model", str(path), "--positives", str(positives), "--seconds",
            str(latency_seconds), "--out", str(target)]  # fmt: skip
    if not (reuse and _fresh(target / "latency.json", path)) and latency.main(argv) != 0:
        raise KwsError(f"{path}: benchmarks.latency failed")
    results = json.loads((target / "results.json").read_text())
    lat = json.loads((target / "latency.json").read_text())["models"][0]
    ours = results["models"][0]
    # CPU from the unpaced frr_fa pass (one model, as the peers are measured); the paced
    # latency run's figure is kept beside it.
    cpu = results.get("ours_cpu", {}).get("cpu_s_per_audio_hour", lat["cpu_s_per_audio_hour"])
    row: dict[str, Any] = {
        "name": path.stem,
        "bytes": path.stat().st_size,
        "frr": {k: (p["frr"] if p else None) for k, p in ours["frr_at"].items()},
        "at_shipped_threshold": ours.get("at_model_threshold"),
        "latency_ms": lat["latency_ms"],
        "cpu_s_per_audio_hour": cpu,
        "paced_cpu_s_per_audio_hour": lat["cpu_s_per_audio_hour"],
        "peers": {},
    }
    for cmp in results.get("comparison", []):
        cpu = cmp["cpu_s_per_audio_hour"]
        row["peers"][cmp["peer"]] = {
            "frr": {k: v["peer"] for k, v in cmp["frr_at"].items()},
            "cpu_s_per_audio_hour": cpu["peer"],  # what a user pays
            "cpu_s_per_audio_hour_as_benchmarked": cpu.get("peer_as_benchmarked", cpu["peer"]),
        }
    row["peer_notes"] = {p["name"]: p["note"] for p in results.get("peers", []) if "note" in p}
    return row


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# Shipped keyword models",
        "",
        f"Regenerate: `{command}`. Each model's folder holds results.json/md, det.png and",
        "latency.json/md. Evaluation audio is the test set of the model's corpus",
        "(`<data>/<label>/eval/test`): voices of every TTS engine and real recordings that neither",
        "training nor calibration used. 'shipped threshold' is the FA/h and FRR there at the",
        "threshold in the model file (calibrated elsewhere), what a user of the file gets.",
        "CPU: one thread, unpaced pass over the evaluation streams (WAV reading included), as",
        "the peers are measured. Latency: keyword end to detection callback in a paced run.",
        "",
        "| model | engine | FRR @ 0.5 FA/h | FRR @ 1 FA/h | shipped threshold: FA/h, FRR | "
        "CPU-s / audio h | latency p50 | latency p95 | bytes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['name']} | skipped: {row['skipped']} | | | | | | | |")
            continue
        lat = row["latency_ms"]

        def ms(v: float | None) -> str:
            return "—" if v is None else f"{v:.0f} ms"

        own = row.get("at_shipped_threshold")
        shipped = "—" if own is None else f"{own['fa_per_hour']:.1f}, {pct(own['frr'])}"
        lines.append(
            f"| {row['name']} | kws | {pct(row['frr'].get('0.5'))} | {pct(row['frr'].get('1'))}"
            f" | {shipped} | {row['cpu_s_per_audio_hour']:.1f} | {ms(lat['median'])} | "
            f"{ms(lat['p95'])} | {row['bytes']:,} |"
        )
        for peer, cells in row["peers"].items():
            lines.append(
                f"| {row['name']} | {peer} | {pct(cells['frr'].get('0.5'))} | "
                f"{pct(cells['frr'].get('1'))} | | {cells['cpu_s_per_audio_hour']:.1f} | | | |"
            )
    notes = {n: text for row in rows for n, text in row.get("peer_notes", {}).items()}
    if notes:
        lines += ["", *(f"- {name}: {text}" for name, text in sorted(notes.items()))]
    grids = [
        f"{row['name']} {peer} {cells['cpu_s_per_audio_hour_as_benchmarked']:.1f}"
        for row in rows
        for peer, cells in row.get("peers", {}).items()
        if cells.get("cpu_s_per_audio_hour_as_benchmarked", cells["cpu_s_per_audio_hour"])
        != cells["cpu_s_per_audio_hour"]
    ]
    if grids:
        lines.append(
            "- A peer's CPU-s / audio h is what a user runs; where the benchmark ran more to get "
            f"scores (a sensitivity grid) it cost: {'; '.join(grids)}."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shipped", description=__doc__)
    parser.add_argument("--models", type=Path, default=Path("firmware_models"))
    parser.add_argument("--data", type=Path, default=Path("data"), help="corpora: DATA/<label>")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/shipped"))
    parser.add_argument("--latency-seconds", type=float, default=300.0)
    parser.add_argument(
        "--reuse", action="store_true", help="keep results newer than each model; re-render"
    )
    args = parser.parse_args(argv)
    try:
        rows = [
            run_model(path, args.data, args.out, args.latency_seconds, args.reuse)
            for path in keyword_models(args.models)
        ]
    except (KwsError, ValueError, OSError) as exc:
        print(f"benchmarks.shipped: error: {exc}", file=sys.stderr)
        return 2
    words = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python -m benchmarks.shipped", *map(portable_path, words)])
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "summary.json", json.dumps(rows, indent=1).encode())
    atomic_write_bytes(args.out / "README.md", markdown(rows, command.strip()).encode())
    print(markdown(rows, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
