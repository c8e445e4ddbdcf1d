"""``python -m training.wakeword "hey computer"``: one command from a phrase to a calibrated model.

Steps, each resumable and shown with progress: generate the TTS corpus (training.data), train
the configured architecture (training.train), score the streaming export on the corpus's
validation streams through the runtime pipeline (benchmarks.frr_fa, the one FRR/FA routine),
write the threshold for the target FA/hr into the model's metadata, measure FRR and FA/hr on the
test streams (other held-out voices and recordings), and write a model card.
The recipe is data: training/configs/wakeword.toml, overridable with ``--set``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
    calibrate_and_measure,
    copy_shipped_export,
    cost_cell,
    cpu_seconds_per_hour,
    fa_cell,
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
from training.data.wake_recipes import corpus_config, recipe_for


def plan(phrase: str, recipe: dict[str, Any], data_dir: Path) -> tuple[Any, TrainConfig, Any]:
    """Validate the whole recipe before anything runs: (corpus, training, ship) configs."""
    from training.models.registry import config_from_dict

    corpus = corpus_config(phrase, recipe.get("corpus", {}))
    train_values = dict(recipe.get("train", {}))
    for key in ("name", "corpus"):
        if key in train_values:
            raise ValueError(f"[train] {key} comes from the phrase and --data; remove it")
    train = TrainConfig.from_dict({**train_values, "name": corpus.label, "corpus": str(data_dir)})
    model_config = config_from_dict(train.model, train.params)
    model_config.check_input(train.feature_config().num_features)
    ship_values = recipe.get("ship", {})
    reject_unknown_keys("[ship]", ship_values, field_names(ShipOptions))
    ship = ShipOptions(**ship_values)
    if ship.form not in train.forms or ship.quantization not in train.quantizations:
        train = dataclasses.replace(
            train,
            forms=tuple(dict.fromkeys([*train.forms, ship.form])),
            quantizations=tuple(dict.fromkeys([*train.quantizations, ship.quantization])),
        )
    return corpus, train, ship


def model_card(
    phrase: str,
    model_path: Path,
    train: TrainConfig,
    metrics: dict[str, Any],
    evaluation: dict[str, Any],
    corpus_summary: dict[str, Any],
    cpu_s: float,
    command: str,
    problems: Sequence[str] = (),
    memory: str = "no state",
) -> str:
    from kws.model import load_model

    md = load_model(model_path).metadata
    label = md.keywords[0]
    threshold = md.thresholds[label]

    def frr(key: str) -> str:
        point = evaluation["at"].get(key)
        if point is None:
            return "not reached"
        return f"{100 * point['frr']:.1f} % (threshold {point['threshold']:.3f})"

    shipped = (
        f"{threshold.threshold:.3f}, calibrated at {threshold.fa_per_hour:.2f} FA/h on validation"
        if threshold.fa_per_hour is not None
        else f"{threshold.threshold:.3f} (default: no threshold reached the target FA/h)"
    )
    test_point = evaluation.get("shipped_threshold_on_test")
    on_test = (
        "—"
        if test_point is None
        else f"{fa_cell(test_point, evaluation['negative_hours'])}, "
        f"FRR {100 * test_point['frr']:.1f} %; "
        f"{test_point['apart_accepts']} firings in {evaluation['apart_minutes']:.1f} min of "
        "look-alike phrases"
    )
    crossed = (evaluation.get("confusions") or {}).get("at_model_threshold") or {}
    others = "; ".join(
        f"{name}: {c['false_accepts']} of {c['utterances']}" for name, c in sorted(crossed.items())
    )
    spoken = corpus_summary.get("pronunciation", {}).get("phrases", {}).get(phrase)
    said = " or ".join(f"/{p}/" for p in spoken) if spoken else "espeak-ng's reading of the text"
    return "\n".join(
        [
            f'# {md.name} — wake word "{phrase}"',
            "",
            f"Made by `{command}` from built-in text-to-speech data; the threshold is "
            "calibrated on the validation streams and every figure below is measured on the test "
            "streams, whose voices and recordings neither training nor calibration heard.",
            "",
            "| | |",
            "|---|---|",
            f"| file | `{model_path.name}`, {model_path.stat().st_size:,} bytes, "
            f"{md.quantization}, {'streaming' if md.streaming else 'window'} form |",
            f"| model | {model_cell(train, metrics)} |",
            f"| features | {md.features.nfilt} log-mel, {md.window_frames} frames window, "
            f"one call per {md.stride_frames} frames |",
            f"| data | {corpus_summary.get('clips', '?')} clips; "
            f"{corpus_summary.get('positive_voices', '?')} positive voices |",
            f"| pronunciation | {said} |",
            f"| training | {training_cell(train, metrics)}; test "
            f"accuracy {metrics['test_accuracy']:.3f} |",
            f"| evaluation | {evaluation['num_positives']} positives in noise, "
            f"{evaluation['negative_hours']:.2f} h of negatives, and "
            f"{evaluation['apart_minutes']:.1f} min of look-alike phrases counted apart |",
            f"| FRR at 0.5 FA/h | {frr('0.5')} |",
            f"| FRR at 1 FA/h | {frr('1')} |",
            f"| shipped threshold | {shipped} |",
            f"| at the shipped threshold (test) | {on_test} |",
            *(
                [f"| fires on other wake words (test, shipped threshold) | {others} |"]
                if others
                else []
            ),
            f"| build | {build_cell(problems)} |",
            cost_cell(cpu_s),
            f"| state memory | {memory} |",
            "",
            "Limits: the words were spoken by synthetic voices only (real recordings are among",
            "the negatives when the corpus was made with them); real voices, accents and",
            "rooms will differ. Measure on your own recordings with `python -m benchmarks.frr_fa`.",
            "",
        ]
    )


def run(
    phrase: str,
    recipe: dict[str, Any],
    data_dir: Path,
    out: Path,
    workers: int | None,
    from_run: Sequence[Path] = (),
    note: str = "",
    store: Path | None = None,
    from_model: Path | None = None,
) -> Path:
    """Every step; returns the path of the calibrated model. ``from_run`` skips corpus and
    training and ships that finished run instead (e.g. a sweep's winner), or the mean of several
    runs as one file (training.core.ensemble); ``from_model`` ships a trained model file again,
    calibrated and measured on this corpus's evaluation sets (rendered if missing, without the
    training clips)."""
    from training.data.generate import generate

    corpus, train, ship = plan(phrase, recipe, data_dir)
    started = time.perf_counter()
    if from_run and from_model is not None:
        raise ValueError("--from-run and --from-model: pass one")
    final = out / f"{corpus.label}.tflite"
    if from_model is not None:
        train, metrics = trained_model(from_model, final, [corpus.label])
        print(f"[1-2/4] evaluation sets in {data_dir}; shipping {from_model} again", flush=True)
        summary = generate(corpus, data_dir, workers, eval_only=True, store=store)
        run_dir = from_model
    elif from_run:
        runs = ", ".join(map(str, from_run))
        what = "the finished run" if len(from_run) == 1 else "as one file the mean of the runs"
        print(f"[1-2/4] shipping {what} {runs}", flush=True)
        train, metrics = ship_runs(from_run, ship, final, [corpus.label])
        data_dir = Path(train.corpus)
        path = data_dir / "summary.json"
        summary = json.loads(path.read_text()) if path.is_file() else {}
        run_dir = from_run[0]
    else:
        print(f"[1/4] corpus for {phrase!r} in {data_dir}", flush=True)
        summary = generate(corpus, data_dir, workers, store=store)
        run_dir = out / "run"
        print(f"[2/4] training {train.model} into {run_dir}", flush=True)
        metrics = train_or_reuse(train, run_dir)
        copy_shipped_export(run_dir, metrics, ship, final)
    print(f"[3/4] calibrating {final} for {ship.calibrate_fa_per_hour:g} FA/h", flush=True)
    evaluation = calibrate_and_measure(
        final, data_dir, ship.calibrate_fa_per_hour, out / "eval", ship.calibrate_confidence
    )
    print("[4/4] measuring CPU cost and writing the model card", flush=True)
    cpu_s = cpu_seconds_per_hour(final, ship.cost_minutes)
    command = f'python -m training.wakeword "{phrase}"'
    command += "".join(f" --from-run {portable_path(r)}" for r in from_run)
    if from_model is not None:
        command += f" --from-model {portable_path(from_model)}"
    memory_s, stuck = memory_problems(final, from_run, ship)
    problems = build_problems({corpus.label: evaluation}, ship.max_test_fa_per_hour) + stuck
    card = model_card(
        phrase,
        final,
        train,
        metrics,
        evaluation,
        summary,
        cpu_s,
        command,
        problems,
        memory_cell(memory_s, ship.max_state_memory_s),
    )
    if note:
        card += "\n" + note.strip() + "\n"
    (out / f"{corpus.label}.md").write_text(card)
    write_json(
        out / f"{corpus.label}.json",
        {
            "phrase": phrase,
            "model": final.name,
            **shipped_from(from_model, from_run, run_dir),
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
    parser = argparse.ArgumentParser(prog="python -m training.wakeword", description=__doc__)
    parser.add_argument("phrase", help='the wake phrase, e.g. "hey computer"')
    parser.add_argument(
        "--recipe", type=Path,
        help="recipe TOML (default: training/configs/wakewords/<label>.toml if the project has "
        "one for the phrase, else training/configs/wakeword.toml)",
    )  # fmt: skip
    parser.add_argument("--data", type=Path, help="corpus folder (default data/<label>)")
    parser.add_argument("--out", type=Path, help="output folder (default models/<label>)")
    parser.add_argument("--workers", type=int, help="corpus rendering processes (default: all)")
    parser.add_argument(
        "--from-run", type=Path, action="append", default=[], metavar="RUN",
        help="ship this finished training run (e.g. a sweep row) instead; given several times, "
        "ship the mean of the runs' scores as one file (runs of one recipe with other seeds)",
    )  # fmt: skip
    parser.add_argument(
        "--from-model", type=Path, metavar="MODEL.tflite",
        help="ship this trained model file again (e.g. the shipped one on newly rendered "
        "evaluation sets) instead of training: its training record comes from its metadata",
    )  # fmt: skip
    parser.add_argument("--note", default="", help="a paragraph appended to the model card")
    parser.add_argument(
        "--clip-store", type=Path,
        help="folder of clips shared by the corpora of several phrases (e.g. data/clip_store): "
        "their background clips (speech, noise, music, recordings) are rendered once",
    )  # fmt: skip
    add_override_option(parser, "--set train.epochs=10 --set corpus.positives=3000")
    args = parser.parse_args(argv)
    try:
        recipe_path = args.recipe or recipe_for(args.phrase)
        print(f"recipe: {recipe_path}", flush=True)
        recipe = load_recipe(recipe_path, args.set)
        label = corpus_config(args.phrase, recipe.get("corpus", {})).label
        data_dir = args.data or Path("data") / label
        out = args.out or Path("models") / label
        out.mkdir(parents=True, exist_ok=True)
        final = run(
            args.phrase, recipe, data_dir, out, args.workers, args.from_run, args.note,
            args.clip_store, args.from_model,
        )  # fmt: skip
    except FailedBuild as exc:
        print(f"training.wakeword: {exc}", file=sys.stderr)
        return 3
    except (KwsError, ValueError, OSError) as exc:
        print(f"training.wakeword: error: {exc}", file=sys.stderr)
        return 2
    print(f"done: {final} and {final.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
