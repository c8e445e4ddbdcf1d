"""Leave-one-package-out on the Debian sound corpus, over the classes at least two packages
record (a class only one package has can never be right when that package is held out).

    python -m benchmarks.environment_lopo prepare CORPUS --out SHARED
    python -m training.environment training/configs/environment_debian.toml \\
        --set root=\\"SHARED\\" --out RUNS/vgg --no-final            # one run per model
    python -m benchmarks.environment_lopo report CORPUS RUNS/vgg RUNS/crnn ... --out RESULTS
    python -m benchmarks.environment_lopo unseen SHARED --model M.tflite --package P --out RESULTS

``prepare`` writes SHARED/meta/esc50.csv with only the rows of shared classes and links
SHARED/audio to CORPUS/audio. ``report`` reads each run's ``cv.json`` and writes
RESULTS/lopo.{md,json}: mean and pooled accuracy per run, then per held-out package and per
class for each run (folds are named by their package from CORPUS/meta/esc50.csv). ``unseen``
scores a trained model (a shipped file) on the clips of packages it never heard, as its
cross-validation scores a held-out fold (each clip's label: the mean of its window scores,
top label), so a model made before packages were added can be set beside the folds that held
them out: RESULTS/unseen.{md,json}, per package and per class, with the accuracy over the
clips of classes the model knows beside the accuracy over all of them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError

META = "meta/esc50.csv"


def read_rows(corpus: Path) -> list[dict[str, str]]:
    try:
        with open(corpus / META, encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise KwsError(f"{corpus / META}: cannot read the corpus listing ({exc})") from None


def shared_classes(rows: list[dict[str, str]], min_packages: int = 2) -> set[str]:
    """Classes recorded in at least ``min_packages`` packages."""
    packages: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        packages[row["category"]].add(row["package"])
    return {c for c, p in packages.items() if len(p) >= min_packages}


def prepare(corpus: Path, out: Path) -> int:
    """Write the shared-class listing to ``out`` (audio linked); return its row count."""
    rows = read_rows(corpus)
    keep = shared_classes(rows)
    kept = [r for r in rows if r["category"] in keep]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    (out / "meta").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / META, buffer.getvalue().encode())
    link = out / "audio"
    if not link.exists():
        link.symlink_to((corpus / "audio").resolve(), target_is_directory=True)
    return len(kept)


def report(corpus: Path, runs: list[Path], out: Path) -> dict[str, Any]:
    """Per-run, per-package and per-class tables from the runs' cv.json."""
    package_of = {int(r["fold"]): r["package"] for r in read_rows(corpus)}
    result: dict[str, Any] = {}
    lines = ["# Leave-one-package-out, classes recorded by at least two packages", ""]
    lines += [
        "| run | model | folds | clips | mean accuracy | pooled accuracy | mean class recall "
        "| chance |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for run in runs:
        try:
            cv = json.loads((run / "cv.json").read_text())
        except (OSError, ValueError) as exc:
            raise KwsError(f"{run / 'cv.json'}: cannot read the cross-validation ({exc})") from None
        clips = sum(f["test_clips"] for f in cv["folds"])
        recalls = [v["recall"] for v in cv["per_class"].values() if v["recall"] is not None]
        macro = sum(recalls) / len(recalls)
        result[run.name] = {
            "mean_class_recall": macro,
            "model": cv["model"], "mean_accuracy": cv["mean_accuracy"],
            "pooled_accuracy": cv["pooled_accuracy"], "chance_accuracy": cv["chance_accuracy"],
            "per_package": {package_of[f["fold"]]: f for f in cv["folds"]},
            "per_class": cv["per_class"],
        }  # fmt: skip
        lines.append(
            f"| {run.name} | {cv['model']} | {len(cv['folds'])} | {clips} | "
            f"{cv['mean_accuracy']:.3f} | {cv['pooled_accuracy']:.3f} | {macro:.3f} | "
            f"{cv['chance_accuracy']:.3f} |"
        )
    names = list(result)
    lines += ["", "Per held-out package (accuracy):", ""]
    lines += ["| package | clips | " + " | ".join(names) + " |"]
    lines += ["|---|---|" + "---|" * len(names)]
    packages = sorted({p for r in result.values() for p in r["per_package"]})
    for package in packages:
        first = next(
            r["per_package"][package] for r in result.values() if package in r["per_package"]
        )
        cells = [
            f"{r['per_package'][package]['accuracy']:.2f}" if package in r["per_package"] else "-"
            for r in result.values()
        ]
        lines.append(f"| {package} | {first['test_clips']} | " + " | ".join(cells) + " |")
    lines += ["", "Per class (out-of-fold recall):", ""]
    lines += ["| class | clips | " + " | ".join(names) + " |"]
    lines += ["|---|---|" + "---|" * len(names)]
    classes = sorted({c for r in result.values() for c in r["per_class"]})
    for c in classes:
        first = next(r["per_class"][c] for r in result.values() if c in r["per_class"])
        cells = [
            "-" if r["per_class"].get(c, {}).get("recall") is None
            else f"{r['per_class'][c]['recall']:.2f}"
            for r in result.values()
        ]  # fmt: skip
        lines.append(f"| {c} | {first['clips']} | " + " | ".join(cells) + " |")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "lopo.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(out / "lopo.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return result


def unseen(corpus: Path, model: Path, packages: list[str], out: Path) -> dict[str, Any]:
    """Accuracy of ``model`` on the clips of ``packages`` in ``corpus`` (see the module doc)."""
    from benchmarks.environment_unknown import window_scores
    from kws.tflite_file import read_metadata
    from kws.wavfile import load_audio

    labels = list(read_metadata(model).labels)
    rows = read_rows(corpus)
    missing = sorted(set(packages) - {r["package"] for r in rows})
    if missing:
        raise KwsError(f"{corpus / META}: no clips of {', '.join(missing)}")
    per_package: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (r for r in rows if r["package"] in packages):
        path = corpus / "audio" / row["filename"]
        try:
            audio = load_audio(path)
        except (OSError, ValueError) as exc:
            raise KwsError(f"{path}: cannot read the clip ({exc})") from None
        said = labels[int(window_scores(model, audio).mean(axis=0).argmax())]
        right = int(said == row["category"])
        known = int(row["category"] in labels)
        for cell in (per_package[row["package"]], per_class[row["category"]]):
            cell["clips"] += 1
            cell["right"] += right
            cell["known_clips"] += known
    result = {
        "model": str(model),
        "labels": labels,
        "per_package": {p: dict(c) for p, c in sorted(per_package.items())},
        "per_class": {c: dict(v) for c, v in sorted(per_class.items())},
    }
    clips = sum(c["clips"] for c in per_package.values())
    right = sum(c["right"] for c in per_package.values())
    known = sum(c["known_clips"] for c in per_package.values())
    result["pooled_accuracy"] = right / clips
    result["pooled_accuracy_known_classes"] = right / known if known else None

    def pct(a: int, b: int) -> str:
        return f"{a / b:.2f}" if b else "-"

    lines = [
        f"# {model.name} on packages it never heard",
        "",
        f"{clips} clips of {len(packages)} packages; the model knows {len(labels)} labels, and "
        f"{known} of the clips are of one of them. Pooled accuracy {right / clips:.3f} over all "
        f"clips, {pct(right, known)} over those of classes it knows.",
        "",
        "| package | clips | accuracy | clips of known classes | accuracy on them |",
        "|---|---|---|---|---|",
    ]
    for name, c in result["per_package"].items():
        lines.append(
            f"| {name} | {c['clips']} | {pct(c['right'], c['clips'])} | {c['known_clips']} | "
            f"{pct(c['right'], c['known_clips'])} |"
        )
    lines += ["", "| class | clips | recall | known to the model |", "|---|---|---|---|"]
    for name, c in result["per_class"].items():
        lines.append(
            f"| {name} | {c['clips']} | {pct(c['right'], c['clips'])} | "
            f"{'yes' if c['known_clips'] else 'no'} |"
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "unseen.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(out / "unseen.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.environment_lopo")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="the corpus restricted to classes of >= 2 packages")
    p.add_argument("corpus", type=Path)
    p.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("report", help="tables from the runs' cv.json")
    r.add_argument("corpus", type=Path)
    r.add_argument("runs", type=Path, nargs="+")
    r.add_argument("--out", type=Path, required=True)
    u = sub.add_parser("unseen", help="a trained model on packages it never heard")
    u.add_argument("corpus", type=Path)
    u.add_argument("--model", type=Path, required=True)
    u.add_argument("--package", action="append", required=True)
    u.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            print(f"{prepare(args.corpus, args.out)} clips of shared classes in {args.out}")
        elif args.command == "unseen":
            unseen(args.corpus, args.model, args.package, args.out)
        else:
            report(args.corpus, args.runs, args.out)
    except KwsError as exc:
        print(f"benchmarks.environment_lopo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
