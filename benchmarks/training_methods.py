"""``python -m benchmarks.training_methods``: the same model trained with one stage of the recipe
added at a time, measured alike (an ablation).

    python -m benchmarks.training_methods --corpus data/hey_jarvis --runs runs/methods \\
        --out benchmarks/results/training_methods/hey_jarvis [--set train.epochs=20]

Variants (each a set of ``[train]`` overrides of the wake-word recipe, training/configs/
wakeword.toml): ``espeak-flite`` and ``tts`` (``[train.select]``: the corpus's espeak-ng and
flite clips only, then every engine's, both without the clips cut from real recordings),
``clips`` (1.5 s windows from zero state, the best validation clip loss kept),
``sequences`` (clips end to end with state carried, a label per step, the checkpoint with the
lowest FRR at 1 FA/h on the validation streams kept) and ``sequences+mining`` (the same plus
one round of hard negatives mined from the training split's real recordings), and
``sequences+average`` (``sequences`` with a moving average of the weights, training.core.
weight_average, scored, kept and shipped; the raw weights' trajectory is the same). Each variant's
shipped export is calibrated on the validation streams and measured on the test streams through
the runtime (training.core.ship.calibrate_labels); results.json, results.md, frr.png and
validation.png (validation FRR per epoch) go to
``--out``. Runs are cached in ``--runs`` (a finished variant is not retrained).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.paths import portable_path

RAW = {"weight_average": 0.0}
"""The recipe averages the weights; every variant but the last measures the raw weights."""
CLIP_TRAINING = {"examples": "clips", "validation": {"streams": False, "patience": 0}, **RAW}
NO_RECORDINGS = {"leave_out": ["recorded"]}
FIRST_VOICES = {"engines": ["espeak-ng", "flite"], **NO_RECORDINGS}
VARIANTS: dict[str, dict[str, Any]] = {
    "espeak-flite": {**CLIP_TRAINING, "select": FIRST_VOICES},
    "tts": {**CLIP_TRAINING, "select": NO_RECORDINGS},
    "clips": CLIP_TRAINING,
    "sequences": {"examples": "sequences", **RAW},
    "sequences+mining": {"examples": "sequences", "mining": {"rounds": 1, "epochs": 8}, **RAW},
    "sequences+average": {"examples": "sequences", "weight_average": 0.998},
}  # fmt: skip
"""In order, each adds one stage to the one before (an ablation, read top down); the last adds
its stage to ``sequences`` instead."""
ADDS = {
    "espeak-flite": "espeak-ng and flite voices only, no real recordings, clip training "
    "(the first shipped models' data)",
    "tts": "+ Piper and Kokoro voices",
    "clips": "+ clips cut from real recorded speech, music and ambience (the whole corpus)",
    "sequences": "+ training on sequences, chosen on the validation streams",
    "sequences+mining": "+ one round of hard negatives mined from the training recordings",
    "sequences+average": "sequences + a moving average of the weights (decay 0.998 per update) "
    "scored, kept and shipped; no mining",
}


def run_variant(name: str, recipe: dict[str, Any], corpus: Path, runs: Path) -> dict[str, Any]:
    """Train (or reuse) one variant, ship its export, calibrate on validation, measure test."""
    from training.core.recipes import merge_tables
    from training.core.ship import calibrate_and_measure, copy_shipped_export, train_or_reuse
    from training.wakeword import plan

    tables = merge_tables(recipe, {"train": VARIANTS[name]})
    phrase = json.loads((corpus / "corpus.json").read_text())["keyword"]
    _, train, ship = plan(phrase, tables, corpus)
    run_dir = runs / name.replace("+", "_")
    metrics = train_or_reuse(train, run_dir)
    final = copy_shipped_export(run_dir, metrics, ship, run_dir / f"{train.name}_shipped.tflite")
    evaluation = calibrate_and_measure(final, corpus, ship.calibrate_fa_per_hour, run_dir / "eval")
    history = json.loads((run_dir / "history.json").read_text())
    rounds = json.loads((run_dir / "rounds.json").read_text())
    return {
        "variant": name,
        "train": {k: v for k, v in json.loads((run_dir / "config.json").read_text()).items()
                  if k in ("examples", "epochs", "sequences", "validation", "mining",
                           "weight_average")},
        "epochs_run": len(history),
        "selection": metrics["selection"],
        "train_seconds": metrics["train_seconds"],
        "test_accuracy": metrics["test_accuracy"],
        "rounds": rounds,
        "history": [
            {k: r[k] for k in ("epoch", "round", "loss", "learning_rate", "val_frr") if k in r}
            for r in history
        ],
        "evaluation": evaluation,
    }  # fmt: skip


def _pct(point: dict[str, Any] | None, key: str = "frr") -> str:
    return "not reached" if point is None else f"{100 * point[key]:.1f} %"


def _alike(point: dict[str, Any] | None, minutes: float | None) -> str:
    """Look-alike phrases fired at the shipped threshold (counted apart from FA/h)."""
    if point is None or not minutes or "apart_accepts" not in point:
        return "—"
    return f"{point['apart_accepts']} in {minutes:.1f} min"


def markdown(rows: list[dict[str, Any]], command: str, corpus: str) -> str:
    lines = [
        "# What each stage of the recipe buys",
        "",
        f"`{command}` on `{corpus}`. Thresholds are set on the validation streams; every FRR and "
        "FA/h below is the test streams' (voices and recordings neither training nor "
        "calibration heard), through the runtime pipeline.",
        "",
        "| variant | adds | epochs run | chosen by | test FRR at 0.5 FA/h | at 1 FA/h | shipped "
        "threshold: test FA/h | FRR | look-alikes fired | validation FRR at 1 FA/h | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ev = row["evaluation"]
        shipped = ev["shipped_threshold_on_test"]
        lines.append(
            f"| {row['variant']} | {ADDS.get(row['variant'], '')} | {row['epochs_run']} | "
            f"{row['selection']['selected_by']} | "
            f"{_pct(ev['at']['0.5'])} | {_pct(ev['at']['1'])} | "
            f"{'—' if shipped is None else format(shipped['fa_per_hour'], '.2f')} | "
            f"{_pct(shipped)} | {_alike(shipped, ev.get('apart_minutes'))} | "
            f"{_pct(ev['validation']['at']['1'])} | "
            f"{row['train_seconds']:.0f} |"
        )
    for row in rows:
        for r in row["rounds"]:
            if r["mined"]:
                m = r["mined"]
                lines += [
                    "",
                    f"{row['variant']}, round {r['round']}: {m['mined']} windows mined from "
                    f"{m['hours']:.2f} h of training-split recordings ({m['files']} files); "
                    f"{m['peaks_above_0.5_per_hour']} score peaks above 0.5 per hour before; "
                    f"mined scores from {m['mined_score_min']:.3f} (median "
                    f"{m['mined_score_median']:.3f}).",
                ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [r["variant"] for r in rows]
    for offset, key in ((-0.2, "0.5"), (0.2, "1")):
        values = [
            100 * (r["evaluation"]["at"][key] or {"frr": 1.0})["frr"] for r in rows
        ]  # unreachable drawn as 100 %
        ax.bar([i + offset for i in range(len(rows))], values, 0.4, label=f"{key} FA/h")
    ax.set_xticks(range(len(rows)), names)
    ax.set_ylabel("test FRR (%)")
    ax.set_ylim(0, 100)
    ax.legend(title="at")
    ax.set_title("Training methods: test FRR (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_history(rows: list[dict[str, Any]], path: Path) -> None:
    """Validation FRR at 1 FA/h per epoch for the variants chosen on validation streams."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for row in rows:
        points = [
            (h["epoch"], 100 * (at["1"] if at["1"] is not None else 1.0))
            for h in row["history"]
            for at in h.get("val_frr", {}).values()
        ]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label=row["variant"])
            ax.axvline(row["selection"]["best_epoch"], color="grey", lw=0.5, ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation FRR at 1 FA/h (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    ax.set_title("Model choice: validation streams every epoch (dotted: kept)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from training.core.recipes import load_recipe
    from training.core.toml_config import add_override_option
    from training.data.wake_recipes import DEFAULT_RECIPE

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training_methods", description=__doc__
    )
    parser.add_argument("--corpus", type=Path, required=True, help="a generated wake-word corpus")
    parser.add_argument("--runs", type=Path, required=True, help="run folders (outside the repo)")
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    add_override_option(parser, "--set train.epochs=20")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.set)
        names = [v for v in args.variants.split(",") if v]
        unknown = set(names) - set(VARIANTS)
        if unknown:
            raise KwsError(f"unknown variants {sorted(unknown)} (known: {', '.join(VARIANTS)})")
        rows = []
        for name in names:
            print(f"== {name}", flush=True)
            rows.append(run_variant(name, recipe, args.corpus, args.runs))
    except (KwsError, ValueError, OSError) as exc:
        print(f"benchmarks.training_methods: error: {exc}", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if argv is None else argv
    command = "python -m benchmarks.training_methods " + " ".join(map(portable_path, argv))
    args.out.mkdir(parents=True, exist_ok=True)
    document = {"command": command, "corpus": portable_path(args.corpus), "variants": rows}
    atomic_write_bytes(args.out / "results.json", json.dumps(document, indent=1).encode())
    (args.out / "results.md").write_text(markdown(rows, command, portable_path(args.corpus)))
    plot(rows, args.out / "frr.png")
    plot_history(rows, args.out / "validation.png")
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
