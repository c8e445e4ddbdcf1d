"""``python -m training.environment CONFIG.toml --out DIR [--set key=value] [--no-cv]
[--no-final]``: cross-validate on the dataset's folds, then train on every clip and export.

``--attach-cv RUN/cv.json`` writes an earlier cross-validation's summary into the models of
DIR (when the final model was trained in a separate ``--no-cv`` run). Writes to DIR:
``config.json``; ``cv.json``, ``cv.md`` and ``confusion.png`` (per-fold and mean
accuracy, mean ROC AUC over tags, float and full-int8); ``<name>_window_<quantization>.tflite``
for each configured quantization (the final model, metadata embedded) and ``final.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.paths import portable_path
from training.core.seeding import seed_training
from training.core.toml_config import add_override_option
from training.environment.config import EnvConfig, load_config

PROG = "python -m training.environment"


def write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1).encode())


CV_KEYS = (
    "mean_accuracy", "std_accuracy", "mean_roc_auc", "pooled_accuracy", "seen_class_share",
    "int8_mean_accuracy", "int8_mean_roc_auc",
)  # fmt: skip


def cv_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The cross-validation numbers a model's metadata carries."""
    summary = {k: result[k] for k in CV_KEYS if k in result}
    summary["fold_accuracy"] = [r["accuracy"] for r in result["folds"]]
    return summary


def attach_cv(cv_json: Path, models: list[Path]) -> None:
    """Put the cross-validation summary of ``cv_json`` into each model's ``training`` metadata
    (for a final model trained in a separate ``--no-cv`` run), replacing the files atomically."""
    from kws.tflite_file import read_metadata, read_model_bytes, write_model

    result = json.loads(cv_json.read_text())
    for path in models:
        metadata = read_metadata(path)
        training = {
            **metadata.training,
            "cv": cv_summary(result),
            "cv_source": portable_path(cv_json),
        }
        write_model(path, read_model_bytes(path), dataclasses.replace(metadata, training=training))


def cv_markdown(config: EnvConfig, cv: dict[str, Any], classes: tuple[str, ...]) -> str:
    """The cross-validation table: one row per held-out fold, then the mean."""
    int8 = "int8_mean_accuracy" in cv
    head = "| test fold | clips | accuracy | mean ROC AUC |" + (" int8 accuracy |" if int8 else "")
    lines = [
        f"# {config.name}: {config.model} on {config.root} ({config.dataset} folds)",
        "",
        head,
        "|---|---|---|---|" + ("---|" if int8 else ""),
    ]
    for r in cv["folds"]:
        extra = f" {r['int8_accuracy']:.3f} |" if int8 else ""
        lines.append(
            f"| {r['fold']} | {r['test_clips']} | {r['accuracy']:.3f} | "
            f"{r['mean_roc_auc']:.3f} |{extra}"
        )
    extra = f" **{cv['int8_mean_accuracy']:.3f}** |" if int8 else ""
    lines.append(
        f"| mean | {sum(r['test_clips'] for r in cv['folds'])} | "
        f"**{cv['mean_accuracy']:.3f}** ± {cv['std_accuracy']:.3f} | "
        f"**{cv['mean_roc_auc']:.3f}** |{extra}"
    )
    lines += [
        "",
        f"Pooled out-of-fold accuracy {cv['pooled_accuracy']:.3f}; majority-class chance "
        f"{cv['chance_accuracy']:.3f}, uniform chance {1 / len(classes):.3f} "
        f"({len(classes)} classes). Only {cv['seen_class_share']:.3f} of the held-out clips "
        "belong to a class that the training folds contain: the ceiling on accuracy.",
        "",
        "| class | clips | out-of-fold recall |",
        "|---|---|---|",
    ]
    for c, v in cv["per_class"].items():
        recall = "-" if v["recall"] is None else f"{v['recall']:.2f}"
        lines.append(f"| {c} | {v['clips']} | {recall} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("config", type=Path, help="environment training config (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    add_override_option(parser, "--set epochs=5 --set params.head=sigmoid")  # fmt: skip
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    parser.add_argument("--no-final", action="store_true", help="skip the all-data model")
    parser.add_argument(
        "--attach-cv", type=Path, metavar="CV_JSON",
        help="only write the CV summary of CV_JSON into the .tflite files of --out",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.attach_cv:
            attach_cv(args.attach_cv, sorted(args.out.glob("*.tflite")))
            return 0
        config = load_config(args.config, args.set)
        run(config, args.out, cv=not args.no_cv, final=not args.no_final)
    except (KwsError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def run(config: EnvConfig, out: Path, cv: bool = True, final: bool = True) -> dict[str, Any]:
    """Cross-validate and/or train the final model; write everything to ``out``."""

    from training.environment.data import load_clips
    from training.environment.metrics import plot_confusion
    from training.environment.run import (
        all_views,
        clip_crops,
        clip_scores,
        cross_validate,
        export,
        features_summary,
        fit,
        keras_predict,
        tflite_predict,
    )

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", dataclasses.asdict(config))
    clips = load_clips(config.dataset, config.root)
    model_config = config.model_config()
    summary: dict[str, Any] = {
        "data": f"{portable_path(config.root)} ({config.dataset} layout, {len(clips.audio)} clips, "
        f"{len(clips.classes)} classes)",
        "model": config.model,
        "params": dataclasses.asdict(model_config),
        "features": features_summary(config.feature_config()),
    }
    if cv:
        result = cross_validate(config, clips)
        write_json(out / "cv.json", {**summary, "classes": clips.classes, **result})
        (out / "cv.md").write_text(cv_markdown(config, result, clips.classes))
        title = f"{config.name}: out-of-fold confusion, mean accuracy {result['mean_accuracy']:.3f}"
        plot_confusion(np.array(result["confusion"]), clips.classes, title, out / "confusion.png")
        summary["cv"] = cv_summary(result)
        print(f"cross-validation: mean accuracy {result['mean_accuracy']:.3f}", flush=True)
    if final:
        rng = np.random.default_rng(config.seed)
        seed_training(config.seed)
        everything = np.arange(len(clips.audio))
        trained = fit(config, clips, all_views(config, clips, rng), everything, rng)
        crops = clip_crops(config, trained.views, everything)
        reference = clip_scores(keras_predict(trained.model), crops)
        files: dict[str, Any] = {}
        for quantization in config.quantizations:
            data = export(trained, config, clips.classes, quantization, summary, rng)
            path = out / f"{config.name}_window_{quantization}.tflite"
            atomic_write_bytes(path, data)
            scores = clip_scores(tflite_predict(data), crops)
            files[quantization] = {
                "file": path.name,
                "bytes": len(data),
                "top1_agreement_with_keras_on_training_clips": float(
                    np.mean(scores.argmax(1) == reference.argmax(1))
                ),
            }
            print(f"wrote {path} ({len(data)} bytes)", flush=True)
        write_json(out / "final.json", {**summary, "train_seconds": trained.seconds, **files})
    return summary


if __name__ == "__main__":
    sys.exit(main())
