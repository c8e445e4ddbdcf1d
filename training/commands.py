"""``python -m training.commands``: one command from nothing to a calibrated command model: by
default the 12-class Speech Commands task (yes, no, up, down, left, right, on, off, stop, go,
plus ``_silence_`` and ``_unknown_``), or any list of words and short phrases
(``--words "lights on,lights off,stop"``, or ``words`` in the recipe's ``[corpus]``).

Steps, each resumable: generate the TTS command corpus in the Speech Commands layout
(``training.data commands``), train on it (training.train, 12 labels), copy the shipped export,
score the corpus's held-out-voice streams through the runtime pipeline (benchmarks.frr_fa, the one
FRR/FA routine) and write each command's threshold for the target FA/hr into the model's
metadata, measure the CPU cost, and write a model card with per-class test accuracy, FRR at 0.5
and 1 FA/hr per command, a confusion matrix and the DET curves. ``_silence_`` and ``_unknown_``
have no threshold, so they never fire. The recipe is data: training/configs/commands.toml,
overridable with ``--set``; the pieces are training.wakeword's.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.core.config import TrainConfig
from training.core.recipes import load_recipe
from training.core.run import write_json
from training.core.ship import (
    FailedBuild,
    ShipOptions,
    build_cell,
    build_problems,
    calibrate_labels,
    copy_shipped_export,
    cost_cell,
    cpu_seconds_per_hour,
    fail_build,
    memory_cell,
    memory_problems,
    model_cell,
    ship_runs,
    shipped_from,
    train_or_reuse,
    trained_model,
    training_cell,
)
from training.core.toml_config import add_override_option
from training.data.commands import RECIPE as DEFAULT_RECIPE
from training.data.recorded_eval import is_recorded


def plan(recipe: dict[str, Any], data_dir: Path) -> tuple[Any, TrainConfig, ShipOptions]:
    """Validate the whole recipe before anything runs: (corpus, training, ship) configs."""
    from training.data.commands import corpus_config
    from training.models.registry import config_from_dict

    corpus = corpus_config(recipe.get("corpus", {}))
    train_values = dict(recipe.get("train", {}))
    if "corpus" in train_values:
        raise ValueError("[train] corpus comes from --data; remove it")
    train = TrainConfig.from_dict({"name": "commands", **train_values, "corpus": str(data_dir)})
    config_from_dict(train.model, train.params).check_input(train.feature_config().num_features)
    ship_values = recipe.get("ship", {})
    reject_unknown_keys("[ship]", ship_values, field_names(ShipOptions))
    ship = ShipOptions(**ship_values)
    train = dataclasses.replace(
        train,
        forms=tuple(dict.fromkeys([*train.forms, ship.form])),
        quantizations=tuple(dict.fromkeys([*train.quantizations, ship.quantization])),
    )
    return corpus, train, ship


def confusion_png(confusion: dict[str, Any], path: Path) -> None:
    """The test split's confusion matrix (rows: true label, columns: predicted), row-normalised."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = confusion["labels"]
    size = 4.5 + 0.25 * len(labels)
    counts = np.asarray(confusion["matrix"], dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                colour = "white" if rates[i, j] > 0.5 else "black"
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                        color=colour)  # fmt: skip
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted (argmax)")
    ax.set_ylabel("true label")
    ax.set_title(f"held-out-voice test clips: {int(counts.sum())}, accuracy "
                 f"{np.trace(counts) / counts.sum():.3f}")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true label")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _frr(point: dict[str, Any] | None) -> str:
    return "not reached" if point is None else f"{100 * point['frr']:.1f} %"


def _threshold(point: dict[str, Any] | None) -> str:
    return "—" if point is None else f"{point['threshold']:.3f}"


def confusion_table(evaluation: dict[str, dict[str, Any]], thresholds: dict[str, Any]) -> list[str]:
    """Markdown: at each command's shipped threshold, how often it fired on each other command's
    test utterances (benchmarks.frr_fa.confusions), with the FA/h those firings add."""
    fired = {
        label: entry.get("confusions", {}).get("at_model_threshold") or {}
        for label, entry in evaluation.items()
        if label in thresholds
    }
    said = sorted({other for row in fired.values() for other in row})
    if not said:
        return []
    lines = [
        "Commands taken for another, on the test streams at the shipped thresholds: firings of "
        "the row's command on the column's utterances (share of them); the last column is the "
        "false accepts per hour they add.",
        "",
        f"| fired \\ said | {' | '.join(f'`{o}`' for o in said)} | FA/h |",
        f"|---|{'---|' * len(said)}---|",
    ]
    for label, row in fired.items():
        cells = [
            f"{row[o]['false_accepts']} ({100 * row[o]['share']:.0f} %)"
            if o in row and row[o]["false_accepts"]
            else "·"
            for o in said
        ]
        rate = sum(row[o]["fa_per_hour"] for o in row)
        lines.append(f"| `{label}` | {' | '.join(cells)} | {rate:.2f} |")
    return [*lines, ""]


def _by_engine_row(metrics: dict[str, Any]) -> list[str]:
    """The card's row of test accuracy per TTS engine (none for a recorded dataset)."""
    by_engine = metrics.get("test_accuracy_by_engine")
    if not by_engine:
        return []
    cells = ", ".join(
        f"{engine} {v['accuracy']:.3f} ({v['examples']} clips)" for engine, v in by_engine.items()
    )
    return [f"| test accuracy per engine | {cells}; `_silence_` windows have no engine |"]


def calibration_cell(ship: ShipOptions) -> str:
    """How the shipped thresholds were set on the validation streams: at the target FA/h, or
    with a margin (the target bounds the FA/h's one-sided Poisson upper limit)."""
    target = f"{ship.calibrate_fa_per_hour:g} FA/h on the validation streams"
    if not ship.calibrate_confidence:
        return f"each command's threshold for {target}"
    return (
        f"each command's threshold whose {ship.calibrate_confidence:.0%} upper bound of FA/h "
        f"(exact Poisson over the validation hours) is at most {target}: a margin for "
        "negatives and voices validation has not heard"
    )


def model_card(
    model_path: Path,
    train: TrainConfig,
    metrics: dict[str, Any],
    evaluation: dict[str, dict[str, Any]],
    corpus_summary: dict[str, Any],
    snrs_db: tuple[float, ...],
    cpu_s: float,
    command: str,
    problems: Sequence[str],
    ship: ShipOptions,
    memory: str = "no state",
) -> str:
    from kws.model import load_model

    md = load_model(model_path).metadata
    accuracy = metrics["test_per_class_accuracy"]
    first = next(iter(evaluation.values()))
    rows = []
    for label in md.labels:
        if label not in md.thresholds:
            rows.append(f"| `{label}` | {accuracy[label]:.3f} | — | — | never fires |")
            continue
        at, shipped = evaluation[label]["at"], md.thresholds[label]
        calibrated = (
            f"{shipped.threshold:.3f} ({shipped.fa_per_hour:.2f} FA/h on validation)"
            if shipped.fa_per_hour is not None
            else f"{shipped.threshold:.3f} (default: target not reached)"
        )
        rows.append(
            f"| `{label}` | {accuracy[label]:.3f} | {_frr(at['0.5'])} @ {_threshold(at['0.5'])} "
            f"| {_frr(at['1'])} @ {_threshold(at['1'])} | {calibrated} |"
        )
    clips = corpus_summary.get("clips", "?")
    # by name: a model's metadata stores the counts with sorted keys (test first)
    by_split = "/".join(str(metrics["clips"].get(s, "?")) for s in ("train", "validation", "test"))
    voices = corpus_summary.get("voices_by_split", {})
    if corpus_summary.get("recorded"):
        source = (
            "from a recorded Speech Commands dataset; thresholds are calibrated on streams of "
            "its validation speakers, and accuracy and FRR are measured on its test speakers"
        )
        limits = [
            "Limits: the dataset's speakers read single words into their own microphones;",
            "far-field rooms and other accents will differ.",
        ]
    else:
        source = (
            "from built-in text-to-speech data (written in the Speech Commands v2 layout); "
            "accuracy and FRR are measured on voices held out of training. Thresholds are "
            "calibrated on the validation streams; FRR is measured on the test streams (other "
            "held-out voices and recordings)"
        )
        limits = [
            "Limits: the words were spoken by synthetic voices only (real recordings are among",
            "the negatives when the corpus was made with them); real voices, accents and",
            "rooms will differ. Train on the real dataset with",
            "`python -m training.commands --recipe training/configs/speech_commands_v2.toml "
            "--data data/speech_commands_v0.02` (README, Commands).",
        ]
    return "\n".join(
        [
            f"# {train.name} — {len(md.labels)}-class command model (Speech Commands style)",
            "",
            f"Made by `{command}` {source}. `_silence_` and `_unknown_` have no threshold: they "
            "never fire.",
            "",
            "| | |",
            "|---|---|",
            f"| file | `{model_path.name}`, {model_path.stat().st_size:,} bytes, "
            f"{md.quantization}, {'streaming' if md.streaming else 'window'} form |",
            f"| labels | {', '.join(md.labels)} |",
            f"| model | {model_cell(train, metrics)}; "
            f"{'runs' if metrics.get('members') else 'one run'}, not swept (the recipe of the "
            "command above) |",
            f"| features | {md.features.nfilt} log-mel, {md.window_frames} frames window, "
            f"one call per {md.stride_frames} frames; smoothing {md.smoothing_s:g} s, "
            f"refractory {md.refractory_s:g} s |",
            f"| data | {clips} clips; train/validation/test {by_split} with `_silence_` "
            f"windows; voices {voices.get('train', '?')}/"
            f"{voices.get('validation', '?')}/{voices.get('test', '?')} |",
            f"| training | {training_cell(train, metrics)}; test "
            f"accuracy {metrics['test_accuracy']:.3f} (argmax over {len(md.labels)} classes) |",
            *_by_engine_row(metrics),
            f"| evaluation | {first['num_positives']} positives per command in noise "
            f"({'/'.join(f'{x:g}' for x in snrs_db)} dB SNR), {first['negative_hours']:.2f} h "
            "of command-free negatives |",
            cost_cell(cpu_s),
            f"| state memory | {memory} |",
            f"| calibration | {calibration_cell(ship)} |",
            f"| build | {build_cell(problems)} |",
            "",
            "| label | test accuracy | FRR at 0.5 FA/h @ threshold | FRR at 1 FA/h @ threshold "
            "| shipped threshold |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "FRR per command counts only that command's utterances in the positive streams; a "
            "false accept is any firing of that command in the negative streams (speech, other "
            "Speech Commands words, confusable phrases, babble, music, noise, silence) and any "
            "firing on another command's utterance (a command taken for another), over the "
            "hours of the negatives and of those utterances.",
            "",
            *confusion_table(evaluation, md.thresholds),
            *limits,
            "",
        ]
    )


def recorded_summary(corpus: Any, dataset: Path) -> dict[str, Any]:
    """For a recorded Speech Commands dataset (the published v2): check that the recipe's
    commands are the dataset's, write its evaluation streams from its validation and test lists
    (:mod:`training.data.recorded_eval`) and say what it holds, as the generator's summary does."""
    from training.data.loaders.base import SPLITS
    from training.data.loaders.speech_commands import COMMANDS_FILE, corpus_commands
    from training.data.loaders.speech_commands import speech_commands as listed
    from training.data.recorded_eval import RecordedEvalConfig, write_recorded_eval_sets

    commands = corpus_commands(dataset)
    if tuple(corpus.labels) != commands:
        raise KwsError(
            f"{dataset}: a recorded dataset's commands are {', '.join(commands)} (its "
            f"{COMMANDS_FILE}, else the standard ten); to train {', '.join(corpus.labels)}, "
            f"name those folders one per line in {dataset / COMMANDS_FILE}"
        )
    config = RecordedEvalConfig(
        seed=corpus.seed, per_command=corpus.eval_per_command, snrs_db=corpus.eval_snrs_db,
        negative_hours=corpus.eval_negative_hours,
    )  # fmt: skip
    evaluation = write_recorded_eval_sets(dataset, config)
    examples = list(listed(dataset))
    return {
        "clips": len(examples),
        "recorded": True,
        "voices_by_split": {s: len({e.speaker for e in examples if e.split == s}) for s in SPLITS},
        "eval": evaluation,
    }


def run(
    recipe: dict[str, Any],
    data_dir: Path,
    out: Path,
    workers: int | None,
    command: str = "python -m training.commands",
    from_model: Path | None = None,
    from_run: Sequence[Path] = (),
) -> Path:
    """Every step; returns the path of the calibrated model. ``command`` is quoted in the card.
    ``from_model`` skips the training clips and training and ships that trained model file
    again: calibrated on this corpus's validation streams, measured on its test streams.
    ``from_run`` does the same with finished runs: one run's export, or the mean of several as
    one file (training.core.ensemble)."""
    from benchmarks.report import write_report
    from training.data.commands import generate_commands

    corpus, train, ship = plan(recipe, data_dir)
    started = time.perf_counter()
    final = out / f"{train.name}.tflite"
    if from_model is not None and from_run:
        raise ValueError("--from-run and --from-model: pass one")
    keywords = [label for label in corpus.labels if not label.startswith("_")]
    if from_model is not None:  # checked before anything is rendered
        train, metrics = trained_model(from_model, final, keywords)
    if from_run:
        train, metrics = ship_runs(from_run, ship, final, keywords)
    if is_recorded(data_dir):
        print(f"[1/4] recorded dataset {data_dir}: evaluation streams from its lists", flush=True)
        summary = recorded_summary(corpus, data_dir)
    else:
        print(f"[1/4] command corpus in {data_dir}", flush=True)
        shipped = from_model is not None or bool(from_run)
        summary = generate_commands(corpus, data_dir, workers, eval_only=shipped)
    if from_model is not None:
        print(f"[2/4] shipping the trained model {from_model} again", flush=True)
        run_dir = from_model
    elif from_run:
        print(f"[2/4] shipping {', '.join(map(str, from_run))}", flush=True)
        run_dir = from_run[0]
    else:
        run_dir = out / "run"
        print(f"[2/4] training {train.model} into {run_dir}", flush=True)
        metrics = train_or_reuse(train, run_dir)
        copy_shipped_export(run_dir, metrics, ship, final)
    print(f"[3/4] calibrating {final} for {ship.calibrate_fa_per_hour:g} FA/h", flush=True)
    evaluation, results = calibrate_labels(
        final, data_dir, ship.calibrate_fa_per_hour, out / "eval", ship.calibrate_confidence
    )
    results_dir = out / "results"
    write_report(results, results_dir)
    confusion_png(metrics["test_confusion"], results_dir / "confusion.png")
    print("[4/4] measuring CPU cost and writing the model card", flush=True)
    cpu_s = cpu_seconds_per_hour(final, ship.cost_minutes)
    memory_s, stuck = memory_problems(final, from_run, ship)
    problems = build_problems(evaluation, ship.max_test_fa_per_hour) + stuck
    card = model_card(
        final, train, metrics, evaluation, summary, corpus.eval_snrs_db, cpu_s, command, problems,
        ship, memory_cell(memory_s, ship.max_state_memory_s),
    )  # fmt: skip
    (out / f"{train.name}.md").write_text(card)
    write_json(
        results_dir / f"{train.name}.json",
        {
            "model": final.name,
            "bytes": final.stat().st_size,
            **shipped_from(from_model, from_run, run_dir),
            "test_accuracy": metrics["test_accuracy"],
            "test_per_class_accuracy": metrics["test_per_class_accuracy"],
            "test_accuracy_by_engine": metrics.get("test_accuracy_by_engine"),
            "test_confusion": metrics["test_confusion"],
            "evaluation": evaluation,
            "cpu_s_per_audio_hour": cpu_s,
            "state_memory_s": memory_s,
            "build": {"failed": bool(problems), "problems": problems},
            "wall_seconds": round(time.perf_counter() - started, 1),
        },
    )
    fail_build(final, problems)  # after the card and figures are written: nothing is lost
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.commands", description=__doc__)
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE, help="recipe TOML")
    parser.add_argument("--data", type=Path, default=Path("data/commands"), help="corpus folder")
    parser.add_argument("--out", type=Path, default=Path("models/commands"), help="output folder")
    parser.add_argument("--workers", type=int, help="corpus rendering processes (default: all)")
    parser.add_argument(
        "--words", metavar="W1,W2,...",
        help='the commands, words or short phrases ("lights on,lights off,stop"); the same as '
        "--set corpus.words=[...] (default: the recipe's, else the ten Speech Commands words)",
    )  # fmt: skip
    parser.add_argument("--name", help="model name (the same as --set train.name=...)")
    parser.add_argument(
        "--from-model", type=Path, metavar="MODEL.tflite",
        help="ship this trained model again instead of training one (e.g. the shipped file on "
        "newly rendered evaluation streams): its training record comes from its metadata",
    )  # fmt: skip
    parser.add_argument(
        "--from-run", type=Path, action="append", default=[], metavar="RUN",
        help="ship this finished training run instead of training one, evaluated on --data; "
        "given several times, the mean of the runs' scores as one file",
    )  # fmt: skip
    add_override_option(parser, "--set train.epochs=10 --set corpus.per_command=300")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.set)
        if args.words is not None:
            from training.data.commands import parse_words

            recipe.setdefault("corpus", {})["words"] = list(parse_words(args.words))
        if args.name is not None:
            recipe.setdefault("train", {})["name"] = args.name
        args.out.mkdir(parents=True, exist_ok=True)
        argv = sys.argv[1:] if argv is None else argv
        command = shlex.join(["python", "-m", "training.commands", *map(portable_path, argv)])
        final = run(
            recipe, args.data, args.out, args.workers, command, args.from_model, args.from_run
        )
    except FailedBuild as exc:
        print(f"training.commands: {exc}", file=sys.stderr)
        return 3
    except (KwsError, ValueError, OSError) as exc:
        print(f"training.commands: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"done: {final}, {final.with_suffix('.md')} and {args.out / 'results'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
