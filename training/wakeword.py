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
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.toml_config import add_override_option, apply_override, read_toml
from training.train import TrainConfig, write_json

DEFAULT_RECIPE = Path(__file__).parent / "configs" / "wakeword.toml"
PHRASE_RECIPES = Path(__file__).parent / "configs" / "wakewords"
"""Recipes for particular phrases (``<label>.toml``), picked by :func:`recipe_for`."""
CARD_TARGETS = (0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class ShipOptions:
    """The ``[ship]`` table: which export becomes the model and how it is calibrated."""

    form: str = "streaming"
    quantization: str = "int8_weights"
    calibrate_fa_per_hour: float = 1.0
    cost_minutes: float = 5.0
    """Minutes of audio the CPU-cost measurement streams (three times; the median is kept)."""
    max_test_fa_per_hour: float = 2.0
    """A shipped threshold giving more false accepts per hour than this on the test negatives
    makes a failed build: the calibration did not transfer to unheard voices and recordings."""

    def __post_init__(self) -> None:
        from kws.metadata import QUANTIZATIONS
        from training.train import FORMS

        if self.form not in FORMS:
            raise ValueError(f"[ship] form must be one of {FORMS}, got {self.form!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"[ship] quantization must be one of {QUANTIZATIONS}")
        if min(self.calibrate_fa_per_hour, self.cost_minutes, self.max_test_fa_per_hour) <= 0:
            raise ValueError(
                "[ship] calibrate_fa_per_hour, cost_minutes and max_test_fa_per_hour must be > 0"
            )


class FailedBuild(KwsError):
    """The shipped threshold is louder on the test streams than ``[ship] max_test_fa_per_hour``."""


def build_problems(per_label: dict[str, dict[str, Any]], limit: float) -> list[str]:
    """What fails the build: each label whose shipped threshold gives more than ``limit`` FA/h
    on the test negatives (calibrate_labels' figures)."""
    problems = []
    for label, figures in per_label.items():
        point = figures.get("shipped_threshold_on_test")
        if point is not None and point["fa_per_hour"] > limit:
            problems.append(
                f"{label!r} gives {point['fa_per_hour']:.2f} FA/h on the test negatives at its "
                f"shipped threshold {point['threshold']:.3f} (limit {limit:g})"
            )
    return problems


def build_cell(problems: Sequence[str]) -> str:
    """The model card's ``build`` cell."""
    return "FAILED: " + "; ".join(problems) if problems else "passed (test FA/h within the limit)"


def fail_build(model_path: Path, problems: Sequence[str]) -> None:
    """Raise :class:`FailedBuild` in one line naming the model, if there are problems."""
    if problems:
        raise FailedBuild(f"failed build: {model_path}: {'; '.join(problems)}")


def corpus_config(keyword: str, values: dict[str, Any]) -> Any:
    """A CorpusConfig for ``keyword`` from the recipe's ``[corpus]`` table (strict keys)."""
    from training.data.corpus import CorpusConfig

    allowed = field_names(CorpusConfig) - {"keyword", "augment"}
    reject_unknown_keys("[corpus]", values, allowed)
    return CorpusConfig(
        keyword=keyword,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()},
    )


def merge_tables(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it, table by table (a value replaces a value)."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def _recipe_tables(path: Path, seen: frozenset[Path]) -> dict[str, Any]:
    """The recipe at ``path``, laid over the recipe its ``extends`` key names (relative to it)."""
    data = read_toml(path, (), "recipe")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise KwsError(f"{path}: extends must be a file name, got {base!r}")
    if path.resolve() in seen:
        raise KwsError(f"{path}: recipes extend each other in a circle")
    return merge_tables(_recipe_tables(path.parent / base, seen | {path.resolve()}), data)


def load_recipe(path: Path, overrides: list[str]) -> dict[str, Any]:
    """The recipe's tables (``extends = "wakeword.toml"`` starts from another recipe), with
    ``--set`` overrides applied."""
    data = _recipe_tables(path, frozenset())
    for assignment in overrides:
        apply_override(data, assignment)
    reject_unknown_keys(str(path), data, {"corpus", "train", "ship"})
    return data


def recipe_for(phrase: str) -> Path:
    """The phrase's own recipe (configs/wakewords/<label>.toml) if the project has one, else
    the default: a phrase whose spelling misleads espeak-ng gets its pronunciation there."""
    own = PHRASE_RECIPES / f"{'_'.join(phrase.lower().split())}.toml"
    return own if own.is_file() else DEFAULT_RECIPE


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


def _points(entry: dict[str, Any]) -> dict[str, dict[str, float] | None]:
    """FRR, threshold and FA/hr of an evaluate() entry at each card target."""
    from benchmarks.report import target_key

    at: dict[str, dict[str, float] | None] = {}
    for fa in CARD_TARGETS:
        point = entry["frr_at"][target_key(fa)]
        at[target_key(fa)] = (
            None if point is None else {k: point[k] for k in ("frr", "threshold", "fa_per_hour")}
        )
    return at


def _score(model_path: Path, corpus_dir: Path, role: str, work: Path) -> tuple[Any, list[Any]]:
    """The ``role`` evaluation set of the corpus scored by the model: (results, entries)."""
    from benchmarks.frr_fa import evaluate, score_streams, summarize
    from benchmarks.streams import eval_manifests as manifests
    from benchmarks.streams import load_streams
    from kws.model import load_model

    model = load_model(model_path)
    positives_path, negatives_path = manifests(corpus_dir, role)
    positives, negatives = load_streams(positives_path, negatives_path, work / role)
    streams = positives + negatives
    timelines = score_streams([model], streams)
    entries = evaluate([model], [list(model.metadata.keywords)], streams, timelines)
    return summarize(positives_path, negatives_path, 0, positives, negatives, entries), entries


def calibrate_labels(
    model_path: Path, corpus_dir: Path, target: float, work: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Set each keyword's ``target`` threshold on the corpus's validation set (a label with no
    threshold that quiet keeps its default, with a warning), then measure on the test set, whose
    voices and recordings neither training nor calibration has heard.

    Returns, per label, the test FRR and thresholds at 0.5 and 1 FA/hr, the test FRR and FA/hr
    at the shipped threshold, and the validation figures; and the test set's benchmarks.frr_fa
    results document (DET curves, breakdowns) for ``report.write_report``."""
    from benchmarks.frr_fa import calibrate

    _, validation = _score(model_path, corpus_dir, "validation", work)
    calibrated = {}
    for entry in validation:
        try:
            calibrate([entry], target)
            calibrated[entry["label"]] = True
        except ValueError as exc:  # no threshold that quiet: keep the default and say so
            label = entry["label"]
            print(f"warning: {exc}; {label!r} keeps its default threshold", file=sys.stderr)
            calibrated[entry["label"]] = False
    results, test = _score(model_path, corpus_dir, "test", work)
    by_label = {entry["label"]: entry for entry in validation}
    per_label = {}
    for entry in test:
        label = entry["label"]
        per_label[label] = {
            "num_positives": entry["num_positives"],
            "negative_hours": entry["negative_hours"],
            "calibrated": calibrated[label],
            "at": _points(entry),
            "shipped_threshold_on_test": entry["at_model_threshold"],
            "validation": {
                "num_positives": by_label[label]["num_positives"],
                "negative_hours": by_label[label]["negative_hours"],
                "at": _points(by_label[label]),
            },
        }
    return per_label, results


def calibrate_and_measure(
    model_path: Path, corpus_dir: Path, target: float, work: Path
) -> dict[str, Any]:
    """:func:`calibrate_labels` for a one-keyword model: that keyword's FRR and thresholds."""
    per_label, _ = calibrate_labels(model_path, corpus_dir, target, work)
    (only,) = per_label.values()
    return only


def train_or_reuse(train: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Train into ``run_dir``, or return its metrics if it was already trained with ``train``."""
    from training.train import train as train_model

    metrics_path = run_dir / "metrics.json"
    config_path = run_dir / "config.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(train)))
    if (
        metrics_path.is_file()
        and config_path.is_file()
        and (json.loads(config_path.read_text()) == wanted)
    ):
        print("      (already trained with this config)")
        return dict(json.loads(metrics_path.read_text()))
    return train_model(train, run_dir)


def cpu_seconds_per_hour(model_path: Path, minutes: float) -> float:
    """CPU seconds the runtime (frontend + this model, 20 ms blocks) spends per audio hour."""
    from benchmarks.runtime_cost import pipeline_cost, test_signal

    audio = test_signal(minutes * 60.0)
    return float(sorted(pipeline_cost([model_path], audio, 20, 3))[1])


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
        else f"{test_point['fa_per_hour']:.2f} FA/h, FRR {100 * test_point['frr']:.1f} %"
    )
    params = ", ".join(f"{k}={v}" for k, v in sorted(train.params.items()))
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
            f"| model | {train.model} ({params}); {metrics['params']:,} parameters |",
            f"| features | {md.features.nfilt} log-mel, {md.window_frames} frames window, "
            f"one call per {md.stride_frames} frames |",
            f"| data | {corpus_summary.get('clips', '?')} clips; "
            f"{corpus_summary.get('positive_voices', '?')} positive voices |",
            f"| pronunciation | {said} |",
            f"| training | {train.epochs} epochs, {metrics['train_seconds']:.0f} s; test "
            f"accuracy {metrics['test_accuracy']:.3f} |",
            f"| evaluation | {evaluation['num_positives']} positives in noise, "
            f"{evaluation['negative_hours']:.2f} h of negatives |",
            f"| FRR at 0.5 FA/h | {frr('0.5')} |",
            f"| FRR at 1 FA/h | {frr('1')} |",
            f"| shipped threshold | {shipped} |",
            f"| at the shipped threshold (test) | {on_test} |",
            f"| build | {build_cell(problems)} |",
            f"| CPU cost | {cpu_s:.1f} CPU-s per audio hour (frontend + model, 20 ms blocks) |",
            "",
            "Limits: trained and evaluated on synthetic voices only; real voices, accents and",
            "rooms will differ. Measure on your own recordings with `python -m benchmarks.frr_fa`.",
            "",
        ]
    )


def copy_shipped_export(
    run_dir: Path, metrics: dict[str, Any], ship: ShipOptions, final: Path
) -> Path:
    """Copy the run's export in the ``[ship]`` form and quantization to ``final``."""
    key = f"{ship.form}_{ship.quantization}"
    if key not in metrics["files"]:
        raise KwsError(f"{run_dir}: the run has no {key} export (python -m training.export)")
    shutil.copyfile(run_dir / metrics["files"][key], final)
    return final


def run(
    phrase: str,
    recipe: dict[str, Any],
    data_dir: Path,
    out: Path,
    workers: int | None,
    from_run: Path | None = None,
    note: str = "",
) -> Path:
    """Every step; returns the path of the calibrated model. ``from_run`` skips corpus and
    training and ships that finished run instead (e.g. a sweep's winner)."""
    from training.data.generate import generate

    corpus, train, ship = plan(phrase, recipe, data_dir)
    started = time.perf_counter()
    if from_run is not None:
        print(f"[1-2/4] shipping the finished run {from_run}", flush=True)
        train = TrainConfig.from_dict(json.loads((from_run / "config.json").read_text()))
        metrics = json.loads((from_run / "metrics.json").read_text())
        data_dir = Path(train.corpus)
        summary_path = data_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        run_dir = from_run
    else:
        print(f"[1/4] corpus for {phrase!r} in {data_dir}", flush=True)
        summary = generate(corpus, data_dir, workers)
        run_dir = out / "run"
        print(f"[2/4] training {train.model} into {run_dir}", flush=True)
        metrics = train_or_reuse(train, run_dir)
    final = copy_shipped_export(run_dir, metrics, ship, out / f"{corpus.label}.tflite")
    print(f"[3/4] calibrating {final} for {ship.calibrate_fa_per_hour:g} FA/h", flush=True)
    evaluation = calibrate_and_measure(final, data_dir, ship.calibrate_fa_per_hour, out / "eval")
    print("[4/4] measuring CPU cost and writing the model card", flush=True)
    cpu_s = cpu_seconds_per_hour(final, ship.cost_minutes)
    command = f'python -m training.wakeword "{phrase}"'
    if from_run is not None:
        command += f" --from-run {portable_path(from_run)}"
    problems = build_problems({corpus.label: evaluation}, ship.max_test_fa_per_hour)
    card = model_card(phrase, final, train, metrics, evaluation, summary, cpu_s, command, problems)
    if note:
        card += "\n" + note.strip() + "\n"
    (out / f"{corpus.label}.md").write_text(card)
    write_json(
        out / f"{corpus.label}.json",
        {
            "phrase": phrase,
            "model": final.name,
            "run": portable_path(run_dir),
            "evaluation": evaluation,
            "cpu_s_per_audio_hour": cpu_s,
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
        "--from-run", type=Path, help="ship this finished training run (e.g. a sweep row) instead"
    )
    parser.add_argument("--note", default="", help="a paragraph appended to the model card")
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
        final = run(args.phrase, recipe, data_dir, out, args.workers, args.from_run, args.note)
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
