"""From a trained run to a shipped model: the ``[ship]`` options, calibration on the validation
streams, measurement on the test streams, the failed-build rule and the CPU cost. Shared by the
wake-word and command pipelines."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.state_memory import FORGET_WITHIN_S
from kws.errors import KwsError
from training.core.config import TrainConfig

CARD_TARGETS = (0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class ShipOptions:
    """The ``[ship]`` table: which export becomes the model and how it is calibrated."""

    form: str = "streaming"
    quantization: str = "int8_weights"
    calibrate_fa_per_hour: float = 1.0
    calibrate_confidence: float = 0.0
    """0: the threshold whose validation FA/h is at most ``calibrate_fa_per_hour``. Within
    (0.5, 1): the one whose FA/h's one-sided upper bound at this confidence is (exact Poisson,
    over the validation hours), a margin for negatives validation has not heard."""
    cost_minutes: float = 5.0
    """Minutes of audio the CPU-cost measurement streams (three times; the median is kept)."""
    max_test_fa_per_hour: float = 2.0
    """A shipped threshold giving more false accepts per hour than this on the test negatives
    makes a failed build: the calibration did not transfer to unheard voices and recordings."""
    max_state_memory_s: float = FORGET_WITHIN_S
    """A streaming model whose state a fresh runner has not reached bit for bit this many seconds
    after a start 60 s into the soak test's audio makes a failed build (0: no check). Its scores
    would then hang on audio heard any time before, for as long as it runs, and the soak test's
    fresh-run comparison, whose warm-up is this long, could not hold."""

    def __post_init__(self) -> None:
        from kws.metadata import QUANTIZATIONS
        from training.core.config import FORMS

        if self.form not in FORMS:
            raise ValueError(f"[ship] form must be one of {FORMS}, got {self.form!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"[ship] quantization must be one of {QUANTIZATIONS}")
        if self.calibrate_confidence and not 0.5 < self.calibrate_confidence < 1:
            raise ValueError("[ship] calibrate_confidence must be 0 or within (0.5, 1)")
        if self.max_state_memory_s < 0:
            raise ValueError("[ship] max_state_memory_s must be >= 0 (0: no check)")
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


def memory_problems(
    model_path: Path, runs: Sequence[Path], ship: ShipOptions
) -> tuple[float | None, list[str]]:
    """The shipped file's state memory (benchmarks.state_memory_s: seconds, None when not
    within the limit) and what of it fails the build; for the mean of several runs the problem
    names each run whose own export does not forget within the limit, the ones to leave out."""
    from benchmarks.state_memory import state_memory_s

    limit = ship.max_state_memory_s
    seconds = state_memory_s(model_path, limit or FORGET_WITHIN_S)
    if not limit or (seconds is not None and seconds <= limit):
        return seconds, []
    problem = f"its streaming state is {memory_cell(seconds, limit)}"
    if seconds is not None:
        problem += f", later than the limit of {limit:g} s"
    if len(runs) > 1:
        slow = []
        for run_dir in runs:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            alone = state_memory_s(shipped_export(run_dir, metrics, ship), limit)
            if alone is None or alone > limit:
                slow.append(str(run_dir))
        if slow:
            problem += f"; runs whose state does not forget within {limit:g} s: {', '.join(slow)}"
    return seconds, [problem]


def memory_cell(seconds: float | None, limit: float) -> str:
    """The model card's ``state memory`` cell; ``limit`` is ``[ship] max_state_memory_s`` (0:
    no check, the default's seconds listened to)."""
    from benchmarks.state_memory import CHECK_START_S

    where = f"a fresh start {CHECK_START_S:g} s into the soak audio"
    if seconds is None:
        within = limit or FORGET_WITHIN_S
        return f"not identical to a long-running runner's within {within:g} s of {where}"
    if seconds == 0:
        return "no state"
    return f"identical to a long-running runner's {seconds:.0f} s after {where}"


def build_cell(problems: Sequence[str]) -> str:
    """The model card's ``build`` cell."""
    if not problems:
        return "passed (test FA/h and state memory within their limits)"
    return "FAILED: " + "; ".join(problems)


def fa_cell(point: dict[str, Any], hours: float) -> str:
    """FA/h at an operating point with the count behind it and its 95 % Poisson interval, e.g.
    "2.19 FA/h (4 false accepts in 1.83 h; 95 % interval 0.60-5.60)": on a few hours of
    negatives one false accept more or less moves the rate a lot, and the card says how much."""
    from kws.evaluation import fa_rate_interval

    count = int(point["false_accepts"])
    low, high = fa_rate_interval(count, hours)
    return (
        f"{point['fa_per_hour']:.2f} FA/h ({count} false accept{'' if count == 1 else 's'} in "
        f"{hours:.2f} h; 95 % interval {low:.2f}-{high:.2f})"
    )


def training_cell(train: TrainConfig, metrics: dict[str, Any]) -> str:
    """The model card's ``training`` cell: the epochs actually trained (early stopping ends
    most runs before ``train.epochs``), the checkpoint kept and the wall time."""
    members = metrics.get("members")
    if members:  # the mean of several runs (training.core.ensemble): each run's own cell
        return f"mean of {len(members)} runs: " + "; ".join(
            f"seed {m['seed']}: {training_cell(train, m['metrics'])}" for m in members
        )
    selection = metrics.get("selection", {})
    trained = selection.get("epochs_trained")
    rounds = train.mining.rounds
    if trained and rounds:  # each round has its own ceiling
        each = "the round" if rounds == 1 else "each round"
        text = f"{trained} epochs over a first pass and {rounds} mining round"
        text += f"{'s' if rounds > 1 else ''} (at most {train.epochs} in the first pass, "
        text += f"{train.mining.epochs or train.epochs} in {each})"
    else:
        text = f"{trained} of up to {train.epochs} epochs" if trained else f"{train.epochs} epochs"
    if selection.get("best_epoch"):
        text += f", checkpoint of epoch {selection['best_epoch']}"
        if str(selection.get("weights", "")).startswith("moving average"):
            text += f" ({selection['weights']})"
    return text + f", {metrics['train_seconds']:.0f} s"


def fail_build(model_path: Path, problems: Sequence[str]) -> None:
    """Raise :class:`FailedBuild` in one line naming the model, if there are problems."""
    if problems:
        raise FailedBuild(f"failed build: {model_path}: {'; '.join(problems)}")


def _points(entry: dict[str, Any]) -> dict[str, dict[str, float] | None]:
    """FRR, threshold and FA/hr of an evaluate() entry at each card target."""
    from benchmarks.report import target_key

    at: dict[str, dict[str, float] | None] = {}
    for fa in CARD_TARGETS:
        point = entry["frr_at"][target_key(fa)]
        at[target_key(fa)] = (
            None
            if point is None
            else {k: point[k] for k in ("frr", "threshold", "fa_per_hour", "apart_accepts")}
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
    model_path: Path, corpus_dir: Path, target: float, work: Path, confidence: float = 0.0
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Set each keyword's ``target`` threshold on the corpus's validation set (a label with no
    threshold that quiet keeps its default, with a warning), then measure on the test set, whose
    voices and recordings neither training nor calibration has heard.

    Returns, per label, the test FRR and thresholds at 0.5 and 1 FA/hr, the test FRR and FA/hr
    at the shipped threshold, the validation figures and, for several keywords, how often each
    fires on the others' test utterances; and the test set's benchmarks.frr_fa
    results document (DET curves, breakdowns) for ``report.write_report``."""
    from benchmarks.frr_fa import calibrate

    _, validation = _score(model_path, corpus_dir, "validation", work)
    calibrated = {}
    for entry in validation:
        try:
            calibrate([entry], target, confidence)
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
            "apart_minutes": entry["apart_minutes"],
            "calibrated": calibrated[label],
            "at": _points(entry),
            "shipped_threshold_on_test": entry["at_model_threshold"],
            **({"confusions": entry["confusions"]} if "confusions" in entry else {}),
            "validation": {
                "num_positives": by_label[label]["num_positives"],
                "negative_hours": by_label[label]["negative_hours"],
                "at": _points(by_label[label]),
            },
        }
    return per_label, results


def calibrate_and_measure(
    model_path: Path, corpus_dir: Path, target: float, work: Path, confidence: float = 0.0
) -> dict[str, Any]:
    """:func:`calibrate_labels` for a one-keyword model: that keyword's FRR and thresholds."""
    per_label, _ = calibrate_labels(model_path, corpus_dir, target, work, confidence)
    (only,) = per_label.values()
    return only


def train_or_reuse(train: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Train into ``run_dir``, or return its metrics if it was already trained with ``train``."""
    from training.core.run import train as train_model

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


def cost_cell(cpu_s: float) -> str:
    """The card's CPU cost row, naming the frontend it ran with: without the compiled kernel
    (``kws/features/_native.c``) the numpy fallback costs about 1.6x as much."""
    from kws.features.frontend import native_available

    frontend = "native" if native_available() else "numpy fallback"
    return (
        f"| CPU cost | {cpu_s:.1f} CPU-s per audio hour (frontend + model, 20 ms blocks, "
        f"{frontend} frontend) |"
    )


def trained_model(
    path: Path, final: Path, keywords: Sequence[str]
) -> tuple[TrainConfig, dict[str, Any]]:
    """Check that a trained model file is a model of ``keywords`` that carries its training
    record, copy it to ``final`` to be shipped again, and return the training config and metrics
    from its metadata: a shipped file is recalibrated on new evaluation streams without the run
    folder that made it."""
    from kws.model import load_model

    md = load_model(path).metadata
    check_keywords(path, md.keywords, keywords)
    record = md.training or {}
    if not isinstance(record.get("config"), dict) or not isinstance(record.get("metrics"), dict):
        raise KwsError(
            f"{path}: its metadata has no training record (config and metrics) to ship it "
            "again from; ship its run with --from-run"
        )
    train = TrainConfig.from_dict(record["config"])
    if path.resolve() != final.resolve():
        shutil.copyfile(path, final)
    return train, dict(record["metrics"])


def check_keywords(path: Path, found: Sequence[str], keywords: Sequence[str]) -> None:
    """A one-line error unless the model at ``path`` scores exactly the recipe's ``keywords``."""
    if tuple(found) != tuple(keywords):
        raise KwsError(
            f"{path}: its keywords ({', '.join(found)}) are not the recipe's "
            f"({', '.join(keywords)}); pass the phrase or recipe it was trained for"
        )


def model_cell(train: TrainConfig, metrics: dict[str, Any]) -> str:
    """The model card's ``model`` cell: family, hyper-parameters and parameter count, and for
    the mean of several runs (training.core.ensemble) how many it averages."""
    members = metrics.get("members") or []
    own = [m.get("params", train.params) for m in members] or [train.params]
    common = {k: v for k, v in own[0].items() if all(p.get(k) == v for p in own)}
    params = ", ".join(f"{k}={v}" for k, v in sorted(common.items()))
    family = f"mean of {len(members)} x {train.model}" if members else train.model
    apart = [  # a member's own settings where the runs differ (e.g. one with gate_max)
        f"seed {m['seed']}: "
        + ", ".join(f"{k}={v}" for k, v in sorted(p.items()) if k not in common)
        for m, p in zip(members, own, strict=False)
        if set(p) - set(common)
    ]
    return f"{family} ({'; '.join([params, *apart])}); {metrics['params']:,} parameters"


def ship_runs(
    runs: Sequence[Path], ship: ShipOptions, final: Path, keywords: Sequence[str]
) -> tuple[TrainConfig, dict[str, Any]]:
    """Write the export that ships finished ``runs`` to ``final``: one run's export in the
    ``[ship]`` form and quantization, or the mean of several as one file; return the training
    config and metrics the card shows. Each run's export must score the recipe's ``keywords``,
    checked before anything is written."""
    from kws.atomic import atomic_write_bytes
    from kws.tflite_file import read_metadata

    records = []
    for run_dir in runs:
        train = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        export = shipped_export(run_dir, metrics, ship)
        check_keywords(export, read_metadata(export).keywords, keywords)
        records.append((train, metrics, export))
    if len(runs) > 1:
        from training.core.ensemble import export_mean

        data, train, metrics = export_mean(runs, ship.form, ship.quantization)
        atomic_write_bytes(final, data)
        return train, metrics
    ((train, metrics, export),) = records
    shutil.copyfile(export, final)
    return train, metrics


def shipped_from(
    from_model: Path | None, from_run: Sequence[Path], run_dir: Path
) -> dict[str, Any]:
    """The results JSON's record of what was shipped: the model file shipped again, the runs
    averaged, or the one run (trained or given)."""
    from kws.paths import portable_path

    if from_model is not None:
        return {"from_model": portable_path(from_model)}
    if len(from_run) > 1:
        return {"runs": [portable_path(r) for r in from_run]}
    return {"run": portable_path(run_dir)}


def shipped_export(run_dir: Path, metrics: dict[str, Any], ship: ShipOptions) -> Path:
    """The run's export in the ``[ship]`` form and quantization; a one-line error without it."""
    key = f"{ship.form}_{ship.quantization}"
    if key not in metrics["files"]:
        raise KwsError(f"{run_dir}: the run has no {key} export (python -m training.export)")
    return run_dir / metrics["files"][key]


def copy_shipped_export(
    run_dir: Path, metrics: dict[str, Any], ship: ShipOptions, final: Path
) -> Path:
    """Copy the run's export in the ``[ship]`` form and quantization to ``final``."""
    shutil.copyfile(shipped_export(run_dir, metrics, ship), final)
    return final
