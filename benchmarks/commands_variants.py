"""``python -m benchmarks.commands_variants``: command models made by ``python -m
training.commands`` on one corpus, side by side.

    python -m benchmarks.commands_variants data/commands/model_base data/commands/model_s4 \\
        --out benchmarks/results/commands/variants

Each folder is a ``training.commands --out`` folder (``results/<name>.json``,
``results/results.json`` and ``run/history.json``). The table compares the variants on
validation (the mean over commands of the validation-stream FRR at 1 FA/h at the epoch each run
kept; a run keeps the epoch with the lowest mean over 0.5, 1, 2 and 4 FA/h, training.core.fit)
beside what is reported (test accuracy, by engine, and the mean and worst test FRR at 1 FA/h,
and that FRR pooled over commands by how they were said, alone or inside a sentence, where the
streams say some inside sentences), the build verdict, size and CPU cost; ``validation.png``
draws the validation figure per epoch. A trained run not yet calibrated (no
``results/<name>.json``) is listed from its history alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import pct
from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.paths import portable_path
from training.core.fit import mean_frr_at

TARGET = 1.0
"""The FA/h whose FRR the table and the plot give."""
TARGET_KEY = f"{TARGET:g}"
"""Its key in the results' ``at`` tables."""


def mean_validation_frr(row: dict[str, Any]) -> float:
    """Mean over commands of one history row's validation FRR at :data:`TARGET` FA/h."""
    return mean_frr_at(row["val_frr"], TARGET)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KwsError(f"{path}: unreadable JSON ({exc})") from exc


def read_variant(folder: Path, name: str | None = None) -> dict[str, Any]:
    """What one training.commands folder holds: its history and, when finished, its results."""
    history_path = folder / "run" / "history.json"
    if not history_path.is_file():
        raise KwsError(f"{folder}: no run/history.json (not a python -m training.commands --out)")
    history = [h for h in _json(history_path) if h.get("val_frr")]
    card = [p for p in sorted((folder / "results").glob("*.json")) if p.name != "results.json"]
    results = _json(card[0]) if card else None  # <name>.json: commands.json, digits.json...
    streams_path = folder / "results" / "results.json"
    streams = _json(streams_path) if streams_path.is_file() else None
    metrics_path = folder / "run" / "metrics.json"
    metrics = _json(metrics_path) if metrics_path.is_file() else {}
    best = metrics.get("selection", {}).get("best_epoch")
    return {"name": name or folder.name, "folder": portable_path(folder), "history": history,
            "results": results, "contexts": by_context(streams), "best_epoch": best}  # fmt: skip


def by_context(streams: dict[str, Any] | None) -> dict[str, list[int]]:
    """Test misses and positives at each command's 1 FA/h threshold, summed over commands, by
    how the command was said (``alone``, inside a ``sentence``), from benchmarks.frr_fa's
    results; empty where the streams say every command alone."""
    pooled: dict[str, list[int]] = {}
    for model in (streams or {}).get("models", []):
        for context, figures in model["breakdown"].get("context", {}).items():
            counts = pooled.setdefault(context, [0, 0])
            counts[0] += figures["misses"]
            counts[1] += figures["positives"]
    return pooled


def _kept(variant: dict[str, Any]) -> tuple[int | None, float | None]:
    """The kept epoch and its validation figure (the epoch of the lowest figure, for a run
    whose metrics do not say which it kept)."""
    history = variant["history"]
    if not history:
        return None, None
    best = variant["best_epoch"]
    if best:
        row = next((h for h in history if h["epoch"] == best), None)
        if row is not None:
            return best, mean_validation_frr(row)
    row = min(history, key=mean_validation_frr)
    return row["epoch"], mean_validation_frr(row)


def row(variant: dict[str, Any]) -> dict[str, Any]:
    """One line of the table, as data."""
    epoch, validation = _kept(variant)
    out: dict[str, Any] = {
        "variant": variant["name"],
        "folder": variant["folder"],
        "epochs": len(variant["history"]),
        "kept_epoch": epoch,
        "validation_mean_frr_at_1": validation,
    }
    results = variant["results"]
    if results is None:
        return {**out, "finished": False}
    frr = {c: e["at"][TARGET_KEY]["frr"] if e["at"][TARGET_KEY] else 1.0
           for c, e in results["evaluation"].items()}  # fmt: skip
    worst = max(frr, key=lambda c: frr[c])
    shipped = [e["shipped_threshold_on_test"] for e in results["evaluation"].values()]
    return {
        **out,
        "finished": True,
        "test_accuracy": results["test_accuracy"],
        "test_accuracy_by_engine": {
            engine: figures["accuracy"]
            for engine, figures in sorted(results["test_accuracy_by_engine"].items())
        },
        "test_mean_frr_at_1": statistics.mean(frr.values()),
        "test_frr_at_1_by_context": {
            c: {"misses": m, "positives": n, "frr": m / n}
            for c, (m, n) in variant["contexts"].items()
        },
        "test_worst": [worst, frr[worst]],
        "test_mean_frr_at_shipped": statistics.mean(p["frr"] for p in shipped),
        "test_max_fa_per_hour_at_shipped": max(p["fa_per_hour"] for p in shipped),
        "build_failed": results["build"]["failed"],
        "build_problems": results["build"]["problems"],
        "bytes": results["bytes"],
        "cpu_s_per_audio_hour": results["cpu_s_per_audio_hour"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | epochs (kept) | validation mean FRR at 1 FA/h | test accuracy | by engine "
        "| test mean FRR at 1 FA/h | by context | worst command | at the shipped thresholds: "
        "mean FRR, highest FA/h | build | bytes | CPU-s/h |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head = (f"| {r['variant']} | {r['epochs']} ({r['kept_epoch']}) "
                f"| {pct(r['validation_mean_frr_at_1'])} ")  # fmt: skip
        if not r["finished"]:
            lines.append(head + "| not calibrated yet | | | | | | | | |")
            continue
        engines = ", ".join(f"{e} {a:.3f}" for e, a in r["test_accuracy_by_engine"].items())
        build = "failed" if r["build_failed"] else "passed"
        contexts = ", ".join(
            f"{c} {pct(f['frr'])} ({f['misses']}/{f['positives']})"
            for c, f in sorted(r["test_frr_at_1_by_context"].items())
        )
        lines.append(
            head + f"| {r['test_accuracy']:.3f} | {engines} | {pct(r['test_mean_frr_at_1'])} "
            f"| {contexts or '-'} "
            f"| {r['test_worst'][0]} {pct(r['test_worst'][1])} "
            f"| {pct(r['test_mean_frr_at_shipped'])}, "
            f"{r['test_max_fa_per_hour_at_shipped']:.2f} | {build} | {r['bytes']:,} "
            f"| {r['cpu_s_per_audio_hour']:.2f} |"
        )
    problems = [
        (r["variant"], p) for r in rows if r.get("build_problems") for p in r["build_problems"]
    ]
    if problems:
        lines += ["", "Failed builds (the shipped threshold on the test streams):", ""]
        lines += [f"- {name}: {problem}" for name, problem in problems]
    return "\n".join(lines) + "\n"


def plot(variants: list[dict[str, Any]], path: Path) -> None:
    """Validation mean FRR at 1 FA/h per epoch, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for variant in variants:
        points = [(h["epoch"], 100 * mean_validation_frr(h)) for h in variant["history"]]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", ms=3, label=variant["name"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation FRR at 1 FA/h, mean of commands (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("Command models: the figure that chooses, every epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.commands_variants",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument(
        "folders", nargs="+", metavar="[NAME=]FOLDER",
        help="training.commands --out folders (NAME= names a variant; default the folder's name)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="folder for variants.{md,json,png}")
    args = parser.parse_args(argv)
    variants, rows = [], []
    for spec in args.folders:
        name, _, path = spec.rpartition("=")
        folder = Path(path)
        try:
            variants.append(read_variant(folder, name or None))
            rows.append(row(variants[-1]))
        except KwsError as exc:
            print(f"benchmarks.commands_variants: error: {exc}", file=sys.stderr)
            return 2
        except (KeyError, TypeError, AttributeError) as exc:  # JSON of another shape
            print(
                f"benchmarks.commands_variants: error: {folder}: not the results of python -m "
                f"training.commands ({type(exc).__name__}: {exc})",
                file=sys.stderr,
            )
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "variants.json", json.dumps(rows, indent=1).encode())
    atomic_write_bytes(args.out / "variants.md", markdown(rows).encode())
    plot(variants, args.out / "validation.png")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
