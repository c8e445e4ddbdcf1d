"""False rejects against false accepts per hour, streamed through the runtime's own pipeline.

    python -m benchmarks.frr_fa --model M.tflite [--model M2.tflite] --positives POSITIVES
        --negatives NEGATIVES --out DIR [--calibrate FA_PER_HOUR] [--label LABEL] [--seed N]
        [--peers [ENGINE:WAKE_WORD ...]] [--mean] [--paired N]

Every positive and negative stream goes once through :class:`kws.pipeline.Pipeline` (all models
in one pass, sharing the frontend) fed from :class:`kws.audio.WavSource` blocks, exactly as
``kws.listen`` runs; the raw scores are smoothed as the Detector smooths them and swept with
:func:`kws.evaluation.det_curve`. Writes results.json, results.md and det.png to ``--out``;
``--calibrate`` writes the threshold for that FA/hr into each model's metadata; ``--peers``
scores peer engines on the same streams and compares them (benchmarks.compare); ``--mean`` adds
the mean of the models' scores as one more model (what an ensemble of them would score). With
several models, each is compared with the first on the same trials (``--paired`` resamples,
:func:`kws.evaluation.paired_bootstrap`): how far its FRR at 0.5, 1, 2 and 4 FA/h and their mean
could move with other voices and recordings of the same kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks import compare, report
from benchmarks.streams import (
    APART_KINDS,
    BREAKDOWN_TARGET,
    TARGETS_FA_PER_HOUR,
    EvalStream,
    breakdown,
    for_label,
    load_streams,
)
from kws.audio import WavSource
from kws.errors import KwsError
from kws.evaluation import (
    CHOICE_FA_PER_HOUR,
    DETECTION_TOLERANCE_S,
    OperatingPoint,
    Timeline,
    det_curve,
    frr_at,
    negative_seconds,
    operating_point,
    paired_bootstrap,
    smooth,
    trials,
)
from kws.events import Event, Score
from kws.metadata import ModelMetadata, Threshold
from kws.model import Model, load_model
from kws.paths import portable_path
from kws.pipeline import Pipeline, PipelineConfig
from kws.tflite_file import read_metadata, read_model_bytes, write_model

Timelines = dict[tuple[int, str], list[Timeline]]
"""(model index, label) -> one smoothed Timeline per stream, in stream order."""


@dataclasses.dataclass(frozen=True)
class MeanOf:
    """Several models scored as one: each label's smoothed scores averaged over the models, as
    an ensemble of them would score (the smoothing is a moving average, so averaging before or
    after it is the same when the models smooth alike). It has no threshold of its own."""

    path: Path
    metadata: ModelMetadata


def mean_label(models: Sequence[Model], labels: Sequence[Sequence[str]]) -> str:
    """The one label ``--mean`` averages (``labels``: each model's evaluated labels), checked
    before any stream is scored; ValueError when a model has several or the models differ."""
    if any(len(each) != 1 for each in labels):
        raise ValueError("--mean scores one keyword: give --label for multi-keyword models")
    if len({m.metadata.labels for m in models}) != 1:
        raise ValueError("--mean needs models with the same labels")
    return labels[0][0]


def mean_of(
    models: Sequence[Model], label: str, timelines: Timelines
) -> tuple[MeanOf, list[Timeline]]:
    """The mean of ``models``' timelines of ``label``, as a model and its timelines; ValueError
    when they score at other times."""
    mean = []
    for per_model in zip(*(timelines[i, label] for i in range(len(models))), strict=True):
        first = per_model[0]
        if any(not np.array_equal(t.times, first.times) for t in per_model):
            raise ValueError("--mean needs models that score at the same times (frontend, stride)")
        mean.append(dataclasses.replace(first, scores=np.mean([t.scores for t in per_model], 0)))
    name = f"mean of {len(models)}"
    metadata = dataclasses.replace(models[0].metadata, name=name, thresholds={})
    return MeanOf(Path(name), metadata), mean


def score_streams(
    models: Sequence[Model], streams: Sequence[EvalStream], progress: bool = True
) -> Timelines:
    """Stream every WAV through one Pipeline of all ``models`` (emit_scores on, no status) and
    return each model's smoothed score timeline per label and stream."""
    out: Timelines = {(i, label): [] for i, m in enumerate(models) for label in m.metadata.labels}
    config = PipelineConfig(emit_scores=True, status_interval_s=0)
    for stream in tqdm(streams, desc="streams", unit="stream", disable=not progress):
        source = WavSource(stream.path)
        pipeline = Pipeline(models, config)
        index = {name: i for i, name in enumerate(pipeline.names)}
        times: list[list[float]] = [[] for _ in models]
        rows: list[list[list[float]]] = [[] for _ in models]

        def collect(event: Event, index: Any = index, times: Any = times, rows: Any = rows) -> None:
            if isinstance(event, Score):
                i = index[event.model]
                times[i].append(event.t)
                rows[i].append([event.scores[label] for label in models[i].metadata.labels])

        pipeline.on_event = collect
        pipeline.run(source, source.description)
        duration_s = source.duration_s
        for i, model in enumerate(models):
            md = model.metadata
            raw = np.asarray(rows[i], dtype=np.float64).reshape(-1, len(md.labels))
            for j, label in enumerate(md.labels):
                scores = smooth(raw[:, j], md.smoothing_calls)
                out[i, label].append(stream.timeline(np.asarray(times[i]), scores, duration_s))
    return out


def _point(p: OperatingPoint | None) -> dict[str, Any] | None:
    return None if p is None else dataclasses.asdict(p)


def confusions(
    timelines: Sequence[Timeline],
    streams: Sequence[EvalStream],
    label: str,
    threshold: float,
    refractory_s: float,
) -> dict[str, dict[str, Any]]:
    """For each other label spoken in ``streams`` (the full positive streams), how often
    ``label`` fires on its occurrences at ``threshold``: the false accepts, the utterances, the
    share of them, and the false accepts per hour of the label's evaluated hours."""
    lines, _ = for_label(timelines, streams, label)
    hours = negative_seconds(lines)[0] / 3600
    spoken = sorted({p.label for s in streams for p in s.positives if p.label not in (None, label)})
    out = {}
    for other in spoken:
        subset = []
        count = 0
        for line, stream in zip(lines, streams, strict=True):
            spans = tuple((p.onset_s, p.offset_s) for p in stream.positives if p.label == other)
            count += len(spans)
            if spans:
                subset.append(dataclasses.replace(line, others=spans))
        fired = operating_point(subset, threshold, refractory_s).cross_accepts
        out[str(other)] = {
            "false_accepts": fired,
            "utterances": count,
            "share": fired / count if count else float("nan"),
            "fa_per_hour": fired / hours if hours else float("nan"),
        }
    return out


def evaluate(
    models: Sequence[Model | MeanOf],
    labels: Sequence[Sequence[str]],
    streams: Sequence[EvalStream],
    timelines: Timelines,
) -> list[dict[str, Any]]:
    """Per (model, label): the DET curve, FRR at each target, FRR and FA/hr at the threshold the
    model carries (what a user of the shipped file gets), the condition breakdown, and for a
    model whose other keywords are spoken in the streams, how often it fires on each of them."""
    entries = []
    for i, model in enumerate(models):
        md = model.metadata
        for label in labels[i]:
            lines, kept = for_label(timelines[i, label], streams, label)
            points = det_curve(lines, md.refractory_s)
            at = {report.target_key(t): frr_at(points, t) for t in TARGETS_FA_PER_HOUR}
            chosen = at[report.target_key(BREAKDOWN_TARGET)]
            cells: dict[str, Any] = {"threshold": None, "target_fa_per_hour": BREAKDOWN_TARGET}
            if chosen is not None:
                cells["threshold"] = chosen.threshold
                cells.update(breakdown(lines, kept, chosen.threshold, md.refractory_s))
            counted_s, apart_s = negative_seconds(lines)
            own = md.thresholds.get(label)
            at_own = None if own is None else operating_point(lines, own.threshold, md.refractory_s)
            crossed: dict[str, Any] = {}
            # other keywords are spoken: the model's own (commands) or other devices' wake words
            if any(p.label not in (None, label) for s in streams for p in s.positives):
                for key, point in (("at_1_fa_per_hour", chosen), ("at_model_threshold", own)):
                    crossed[key] = (
                        None
                        if point is None
                        else confusions(
                            timelines[i, label], streams, label, point.threshold, md.refractory_s
                        )
                    )
            entries.append(
                {
                    "model": portable_path(model.path),
                    "name": md.name,
                    "label": label,
                    "streaming": md.streaming,
                    "quantization": md.quantization,
                    "smoothing_s": md.smoothing_s,
                    "smoothing_calls": md.smoothing_calls,
                    "refractory_s": md.refractory_s,
                    "negative_hours": counted_s / 3600,
                    "apart_minutes": apart_s / 60,
                    "num_positives": sum(len(t.positives) for t in lines),
                    "frr_at": {k: _point(p) for k, p in at.items()},
                    "at_model_threshold": _point(at_own),
                    "breakdown": cells,
                    "det": [dataclasses.asdict(p) for p in points],
                    **({"confusions": crossed} if crossed else {}),
                }
            )
    return entries


PAIRED_LEVEL = 0.95
"""The central share of resampled differences the paired comparison reports."""


def paired(
    models: Sequence[Model | MeanOf],
    labels: Sequence[Sequence[str]],
    streams: Sequence[EvalStream],
    timelines: Timelines,
    resamples: int,
) -> list[dict[str, Any]]:
    """Each model after the first against the first, per label both score, on the same trials
    resampled ``resamples`` times (:func:`kws.evaluation.paired_bootstrap`)."""
    if resamples <= 0 or len(models) < 2:
        return []
    reference = models[0]
    out = []
    for label in labels[0]:
        lines, _ = for_label(timelines[0, label], streams, label)
        first = trials(lines, reference.metadata.refractory_s)
        for i, model in enumerate(models[1:], start=1):
            if label not in labels[i]:
                continue
            lines, _ = for_label(timelines[i, label], streams, label)
            rows = paired_bootstrap(
                first,
                trials(lines, model.metadata.refractory_s),
                resamples=resamples,
                level=PAIRED_LEVEL,
            )
            out.append(
                {
                    "reference": portable_path(reference.path),
                    "model": portable_path(model.path),
                    "label": label,
                    "resamples": resamples,
                    "level": PAIRED_LEVEL,
                    "rows": [dataclasses.asdict(row) for row in rows],
                }
            )
    return out


def labels_to_evaluate(model: Model, label: str | None) -> list[str]:
    """``label`` if the model has it; else the model's only keyword; without ``label`` every
    keyword (a label with a threshold in the metadata)."""
    md = model.metadata
    if label is None:
        if not md.keywords:
            raise ValueError(f"{model.path}: the model has no keyword labels (no thresholds)")
        return list(md.keywords)
    if label in md.labels:
        return [label]
    if len(md.keywords) == 1:
        return list(md.keywords)
    raise ValueError(f"{model.path}: no label {label!r} (keywords: {', '.join(md.keywords)})")


def calibrate(
    entries: Sequence[dict[str, Any]], target: float, confidence: float = 0.0
) -> list[dict[str, Any]]:
    """Write, per model file, the threshold :func:`frr_at` picks for ``target`` FA/hr (with a
    ``confidence``: for the upper bound of its FA/hr at that confidence) into its metadata
    (atomic replace). Checks every model first: if any label has no threshold that quiet,
    raises ValueError and no file is touched."""
    chosen = []
    for entry in entries:
        points = [OperatingPoint(**p) for p in entry["det"]]
        point = frr_at(points, target, entry["negative_hours"], confidence)
        if point is None:
            raise ValueError(
                f"{entry['model']}: no threshold keeps {entry['label']!r} at or below "
                f"{target:g} FA/hr (fewest: {min(p.fa_per_hour for p in points):.3g} FA/hr)"
            )
        chosen.append((entry, point))
    done = []
    for path in dict.fromkeys(entry["model"] for entry, _ in chosen):
        data = read_model_bytes(path)
        md = read_metadata(path, data)
        thresholds = dict(md.thresholds)
        for entry, point in chosen:
            if entry["model"] != path:
                continue
            old = md.thresholds.get(entry["label"])
            thresholds[entry["label"]] = Threshold(point.threshold, point.fa_per_hour)
            done.append(
                {
                    "model": path,
                    "label": entry["label"],
                    "old_threshold": None if old is None else old.threshold,
                    "threshold": point.threshold,
                    "fa_per_hour": point.fa_per_hour,
                    "frr": point.frr,
                }
            )
        write_model(path, data, md.with_thresholds(thresholds))
    return done


def summarize(
    positives_source: Path,
    negatives_source: Path,
    seed: int,
    positives: Sequence[EvalStream],
    negatives: Sequence[EvalStream],
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """The results document (results.json) for :func:`evaluate`'s entries on these streams."""
    return {
        "schema": report.SCHEMA,
        "schema_version": report.SCHEMA_VERSION,
        "positives": portable_path(positives_source),
        "negatives": portable_path(negatives_source),
        "seed": seed,
        "targets_fa_per_hour": list(TARGETS_FA_PER_HOUR),
        "detection_tolerance_s": DETECTION_TOLERANCE_S,
        "num_positives": sum(not p.apart for s in positives for p in s.positives),
        "num_positive_streams": len(positives),
        "num_negative_streams": len(negatives),
        "negative_hours": entries[0]["negative_hours"],
        "apart_kinds": list(APART_KINDS),
        "apart_minutes": entries[0]["apart_minutes"],
        "models": entries,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the models and streams, score, evaluate, calibrate if asked, write the report."""
    if args.paired < 0:
        raise ValueError(f"--paired needs a number of resamples >= 0, got {args.paired}")
    if args.mean and (args.calibrate is not None or args.peers is not None):
        raise ValueError("--mean scores the models' mean alone: not with --calibrate or --peers")
    models = [load_model(path) for path in args.model]
    rates = {m.metadata.features.sample_rate for m in models}
    if rates != {16000}:
        raise ValueError(f"models must take 16 kHz audio, got {sorted(rates)} Hz")
    labels = [labels_to_evaluate(m, args.label) for m in models]
    averaged = mean_label(models, labels) if args.mean else None
    peers = [] if args.peers is None else compare.load_peers(args.peers, labels)
    with tempfile.TemporaryDirectory(prefix="frr_fa_") as work:
        positives, negatives = load_streams(
            args.positives, args.negatives, Path(work), args.label, args.seed
        )
        streams = positives + negatives
        started = time.process_time()
        timelines = score_streams(models, streams, progress=not args.quiet)
        cpu_s = time.process_time() - started
        peer_entries = compare.score_peers(peers, streams, progress=not args.quiet)
    scored: list[Model | MeanOf] = list(models)
    if averaged is not None:
        ensemble, lines = mean_of(models, averaged, timelines)
        scored.append(ensemble)
        labels.append([averaged])
        timelines[len(models), averaged] = lines
    entries = evaluate(scored, labels, streams, timelines)
    if averaged is not None:  # the models the mean is of, as the report names them
        entries[-1]["members"] = [portable_path(m.path) for m in models]
    results = summarize(args.positives, args.negatives, args.seed, positives, negatives, entries)
    pairs = paired(scored, labels, streams, timelines, args.paired)
    if pairs:
        results["paired"] = {"targets_fa_per_hour": list(CHOICE_FA_PER_HOUR), "pairs": pairs}
    if args.peers is not None:
        results.update(compare.section(entries, timelines, cpu_s, len(models), peer_entries))
    if args.calibrate is not None:
        results["calibration"] = {
            "target_fa_per_hour": args.calibrate,
            "models": calibrate(entries, args.calibrate),
        }
    report.write_report(results, args.out)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, required=True, help=".tflite")
    parser.add_argument(
        "--positives",
        type=Path,
        required=True,
        help="positives.json, a folder of keyword clips, or a Speech Commands test list",
    )
    parser.add_argument(
        "--negatives", type=Path, required=True, help="negatives.json or a folder of WAVs"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for results and det.png")
    parser.add_argument(
        "--calibrate", type=float, metavar="FA_PER_HOUR", help="write this FA/hr's threshold"
    )
    parser.add_argument("--label", help="keyword label (and the Speech Commands word)")
    parser.add_argument("--seed", type=int, default=0, help="where clips are embedded")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--peers", nargs="*", metavar="ENGINE:WAKE_WORD", help=compare.HELP)
    parser.add_argument(
        "--mean",
        action="store_true",
        help="also score the mean of the models' scores (an ensemble of them; one-keyword models)",
    )
    parser.add_argument(
        "--paired",
        type=int,
        default=1000,
        metavar="N",
        help="resamples of the trials for each model against the first (0: no comparison)",
    )
    args = parser.parse_args(argv)
    try:
        results = run(args)
    except (KwsError, ValueError) as exc:
        print(f"frr_fa: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(report.text_table(report.summary_header(results), report.summary_rows(results)))
    if "comparison" in results:
        print(report.text_table(report.comparison_header(results), report.comparison_rows(results)))
    if "paired" in results:
        print(report.text_table(report.PAIRED_HEADER, report.paired_rows(results)))
    for c in results.get("calibration", {}).get("models", []):
        old = "none" if c["old_threshold"] is None else f"{c['old_threshold']:.4g}"
        print(
            f"calibrated {c['model']} {c['label']}: threshold {old} -> {c['threshold']:.4g} "
            f"({c['fa_per_hour']:.3g} FA/hr, FRR {100 * c['frr']:.1f}%)"
        )
    print(f"wrote {args.out / 'results.json'}, results.md and det.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
