"""Speaker-verification benchmark: EER, minDCF and a DET plot on a trial list.

``python -m benchmarks.speaker --model speaker.tflite [--model other.tflite] [--baseline
mfcc-stats] --trials TRIALS.tsv --out DIR`` writes results.json, results.md and det.png.
``python -m benchmarks.speaker make-trials DATA_DIR --out TRIALS.tsv`` writes a balanced, seeded
trial list from any speaker-folder layout (``DATA_DIR/<speaker>/**/*.wav``: the ``test/`` folder
of ``python -m training.data asterisk``, a LibriSpeech subset folder, VoxCeleb's ``wav/``).

Every system embeds each utterance once: a model through :class:`kws.speaker.SpeakerEncoder`
(exactly the runtime's path, cepstral statistics and cohort normalization included; ``--network-only
MODEL`` scores one without them, to show what they add), the ``mfcc-stats`` baseline as the mean and
standard deviation of 20 MFCCs (c1..c19 plus frame log energy dropped: level is not identity) over
the utterance (:func:`kws.speaker.cepstral_statistics`), each dimension z-normalized over all
utterances of the trial list, in the same frequency band as the first model; ``resemblyzer`` is
Resemblyzer's pretrained GE2E encoder, run in a virtualenv of its own
(:mod:`benchmarks.peers.resemblyzer_peer`; ``--install-peers`` creates it). Scores compare the test
embedding with the enrollment vector (:func:`kws.verification.enroll_vector`) by the model's
similarity: cosine, or S-normalized cosine for a model with a cohort (the baselines: cosine). minDCF
uses P_target 0.05, C_miss = C_fa = 1 (the VoxCeleb challenge's setting) unless
``--p-target/--c-miss/--c-fa`` say otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.features import FeatureConfig, Frontend
from kws.paths import portable_path
from kws.verification import (
    DCF_C_FA,
    DCF_C_MISS,
    DCF_P_TARGET,
    Trial,
    enroll_vector,
    equal_error_rate,
    make_trials,
    min_dcf,
    operating_points,
)

SCHEMA = "kws.bench.speaker"
AUDIO_SUFFIXES = (".wav", ".flac")
BASELINES = ("mfcc-stats", "resemblyzer")
HEADER = "same\tenroll\ttest"


def list_speakers(root: Path) -> dict[str, list[Path]]:
    """speaker (top-level folder) -> its audio files, sorted; hidden entries ignored."""
    if not root.is_dir():
        raise KwsError(f"{root}: no such folder (expected <speaker>/ subfolders with audio)")
    speakers: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
        )
        if files:
            speakers[folder.name] = files
    if len(speakers) < 2:
        raise KwsError(f"{root}: found {len(speakers)} speaker folders with audio, need 2+")
    return speakers


def write_trials(path: Path, trials: Sequence[Trial[Path]]) -> None:
    """TSV: ``same`` (1/0), enrollment files joined by ``|``, test file; paths relative to the
    TSV's folder."""
    base = path.resolve().parent

    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), base)

    lines = [HEADER] + [
        f"{int(t.same)}\t{'|'.join(rel(p) for p in t.enroll)}\t{rel(t.test)}" for t in trials
    ]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def read_trials(path: Path) -> list[Trial[Path]]:
    """Parse a trial TSV (see :func:`write_trials`); a bad line is a KwsError naming it."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KwsError(f"{path}: cannot read trials ({exc})") from None
    if not lines or lines[0].strip() != HEADER:
        raise KwsError(f"{path}: not a trial list (first line must be {HEADER!r})")
    base = path.resolve().parent
    trials = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in ("0", "1") or not parts[1] or not parts[2]:
            raise KwsError(f"{path} line {number}: expected 'same<TAB>enroll|...<TAB>test'")
        enroll = tuple(base / p for p in parts[1].split("|"))
        trials.append(Trial(enroll, base / parts[2], parts[0] == "1"))
    if not trials:
        raise KwsError(f"{path}: no trials")
    return trials


def load_utterance(path: Path) -> np.ndarray:
    """16 kHz int16 mono audio of a WAV (kws.wavfile) or FLAC (soundfile) file."""
    from kws.wavfile import WavAudio, load_audio, to_mono_int16

    if path.suffix.lower() == ".wav":
        return load_audio(path)
    import soundfile

    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise KwsError(f"{path}: cannot decode ({exc})") from None
    return to_mono_int16(WavAudio(samples, rate, samples.shape[1], "float32"))


def mfcc_stats_embeddings(
    audio: dict[Path, np.ndarray], config: FeatureConfig, numcep: int = 20
) -> dict[Path, np.ndarray]:
    """The baseline: per-utterance mean and std of MFCC c1..c(numcep-1) of ``config``'s log-mel
    frames (:func:`kws.speaker.cepstral_statistics`), z-normalized over ``audio``."""
    from kws.speaker import cepstral_statistics

    frontend = Frontend(config)
    stats = {
        path: cepstral_statistics(frontend.compute(samples), numcep, config.ceplifter)
        for path, samples in audio.items()
    }
    matrix = np.stack(list(stats.values()))
    mean, std = matrix.mean(axis=0), np.maximum(matrix.std(axis=0), 1e-6)
    return {p: (v - mean) / std for p, v in stats.items()}


def score(
    trials: Sequence[Trial[Path]],
    embeddings: dict[Path, np.ndarray],
    similarity: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> np.ndarray:
    """Each trial's ``similarity(enrollment vector, test embedding)``: a model's
    :meth:`~kws.speaker.SpeakerEncoder.score`, or the cosine (baselines)."""
    from kws.speaker import cosine

    similarity = similarity or cosine
    out = []
    for t in trials:
        enroll = enroll_vector(
            np.stack([e / np.linalg.norm(e) for e in (embeddings[p] for p in t.enroll)])
        )
        out.append(similarity(enroll, embeddings[t.test]))
    return np.asarray(out)


DET_POINTS = 300
"""Operating points kept per curve in results.json (evenly spaced, ends included)."""


def thin_det(far: Sequence[float], frr: Sequence[float]) -> dict[str, list[float]]:
    """At most DET_POINTS evenly spaced operating points (ends kept), rounded to 5 decimals,
    so results.json stays small; the plot is drawn from the full curve."""
    keep = np.unique(np.linspace(0, len(far) - 1, min(len(far), DET_POINTS)).round().astype(int))
    return {
        "far": [round(float(far[i]), 5) for i in keep],
        "frr": [round(float(frr[i]), 5) for i in keep],
    }


def system_entry(
    name: str,
    scores: np.ndarray,
    same: np.ndarray,
    costs: tuple[float, float, float],
    threshold: float | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Metrics of one system; ``threshold`` (the model's metadata one) gets its FAR/FRR."""
    eer, eer_threshold = equal_error_rate(scores, same)
    dcf, dcf_threshold = min_dcf(scores, same, *costs)
    _thresholds, far, frr = operating_points(scores, same)
    entry: dict[str, Any] = {
        "system": name,
        "eer": eer,
        "eer_threshold": eer_threshold,
        "min_dcf": dcf,
        "min_dcf_threshold": dcf_threshold,
        **extra,
        "det": {"far": far.tolist(), "frr": frr.tolist()},  # thinned by write_report
    }
    if threshold is not None:
        targets, nontargets = scores[same], scores[~same]
        entry["threshold"] = threshold
        entry["far_at_threshold"] = float(np.mean(nontargets >= threshold))
        entry["frr_at_threshold"] = float(np.mean(targets < threshold))
    return entry


def markdown(results: dict[str, Any]) -> str:
    p, cm, cf = results["dcf"]["p_target"], results["dcf"]["c_miss"], results["dcf"]["c_fa"]
    lines = [
        f"# Speaker verification: {results['trials']} trials "
        f"({results['target_trials']} same-speaker), {results['speakers']} speakers",
        "",
        f"minDCF: P_target {p:g}, C_miss {cm:g}, C_fa {cf:g} (normalized). FAR/FRR at the "
        "threshold in the model's metadata.",
        "",
        "| system | EER | minDCF | threshold | FAR@thr | FRR@thr | bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in results["systems"]:
        thr = e.get("threshold")
        cells = [
            e["system"],
            f"{100 * e['eer']:.2f}%",
            f"{e['min_dcf']:.3f}",
            "—" if thr is None else f"{thr:.3f}",
            "—" if thr is None else f"{100 * e['far_at_threshold']:.2f}%",
            "—" if thr is None else f"{100 * e['frr_at_threshold']:.2f}%",
            str(e.get("bytes", "—")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def det_png(results: dict[str, Any]) -> bytes:
    """DET curves on normal-deviate (probit) axes, as NIST draws them; EER points marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = NormalDist()
    lo, hi = 0.001, 0.6

    def probit(values: Sequence[float]) -> np.ndarray:
        return np.array([norm.inv_cdf(min(max(v, lo), hi)) for v in values])

    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    for e in results["systems"]:
        far, frr = e["det"]["far"], e["det"]["frr"]
        (line,) = ax.plot(
            probit(far), probit(frr), label=f"{e['system']} (EER {100 * e['eer']:.1f}%)"
        )
        ax.plot(*probit([e["eer"], e["eer"]]), "o", color=line.get_color())
    ticks = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
    ax.set_xticks(probit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(probit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(probit([lo, hi]))
    ax.set_ylim(probit([lo, hi]))
    ax.plot(probit([lo, hi]), probit([lo, hi]), color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("false accept rate (%)")
    ax.set_ylabel("false reject rate (%)")
    ax.set_title(f"DET: {results['trials']} trials, {results['speakers']} held-out speakers")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _embed_all(
    paths: Sequence[Path],
    embed: Callable[[np.ndarray], np.ndarray],
    audio: dict[Path, np.ndarray],
    desc: str,
) -> dict[Path, np.ndarray]:
    return {p: embed(audio[p]) for p in tqdm(paths, desc=desc, unit="utt")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.peers import resemblyzer_peer
    from kws.model import load_model
    from kws.speaker import SpeakerEncoder

    if "resemblyzer" in args.baseline:  # before any work: a missing venv is one line
        resemblyzer_peer.ensure_venv(args.resemblyzer_venv, args.install_peers)
    trials = read_trials(args.trials)
    same = np.array([t.same for t in trials])
    if same.all() or not same.any():
        raise KwsError(f"{args.trials}: needs both same- and different-speaker trials")
    paths = sorted({p for t in trials for p in (*t.enroll, t.test)})
    audio = {}
    for p in tqdm(paths, desc="loading", unit="utt"):
        try:
            audio[p] = load_utterance(p)
        except (KwsError, OSError) as exc:
            raise KwsError(f"{args.trials}: cannot load {p} ({exc})") from None
    costs = (args.p_target, args.c_miss, args.c_fa)
    systems = []
    band: float | None = None
    models = [(path, False) for path in args.model] + [(path, True) for path in args.network_only]
    for model_path, network_only in models:
        encoder = SpeakerEncoder(load_model(model_path), network_only=network_only)
        md = encoder.model.metadata
        band = md.features.highfreq if band is None else band
        name = f"{Path(model_path).parent.name}/{Path(model_path).name}"  # runs share file names
        if network_only:
            name += " (network only)"
        embeddings = _embed_all(paths, encoder.embed, audio, name)
        # a fused or normalized model's threshold says nothing of its network's plain cosine
        fused = md.cepstral_stats is not None or bool(md.cohort)
        threshold = None if network_only and fused else md.thresholds.get(md.labels[0])
        extra = {
            "model": portable_path(model_path),
            "bytes": Path(model_path).stat().st_size,
            "quantization": md.quantization,
            "embedding_dim": encoder.dim,
            "cepstral_weight": encoder.stats.weight if encoder.stats else None,
            "cohort": 0 if encoder.cohort is None else len(encoder.cohort),
        }
        systems.append(
            system_entry(
                name,
                score(trials, embeddings, encoder.score),
                same,
                costs,
                threshold.threshold if threshold else None,
                extra,
            )
        )
    for baseline in args.baseline:
        if baseline == "resemblyzer":
            embeddings = resemblyzer_peer.embed(paths, args.resemblyzer_venv)
            extra = {
                "features": "Resemblyzer 0.1.4: GE2E encoder pretrained on LibriSpeech + "
                "VoxCeleb, 40 mel bands 0-8 kHz, its own VAD trimming, 256-d"
            }
        else:
            config = FeatureConfig(nfilt=32, highfreq=band)
            embeddings = mfcc_stats_embeddings(audio, config)
            extra = {"features": f"20 MFCC (c0 dropped), 32 filters, 0-{config.high_hz:g} Hz"}
        systems.append(system_entry(baseline, score(trials, embeddings), same, costs, None, extra))
    if not systems:
        raise KwsError("nothing to evaluate: give --model and/or --baseline")
    root = Path(os.path.commonpath(paths))  # speaker = first folder below the shared root
    speakers = {p.relative_to(root).parts[0] for p in paths}
    return {
        "schema": SCHEMA,
        "trials_file": portable_path(args.trials),
        "trials": len(trials),
        "target_trials": int(same.sum()),
        "speakers": len(speakers),
        "utterances": len(paths),
        "dcf": {"p_target": args.p_target, "c_miss": args.c_miss, "c_fa": args.c_fa},
        "systems": systems,
    }


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    thinned = {
        **results,
        "systems": [
            {**e, "det": thin_det(e["det"]["far"], e["det"]["frr"])} for e in results["systems"]
        ],
    }
    atomic_write_bytes(out / "results.json", (json.dumps(thinned, indent=1) + "\n").encode())
    atomic_write_bytes(out / "results.md", markdown(results).encode())
    atomic_write_bytes(out / "det.png", det_png(results))


def resemblyzer_venv_default() -> Path:
    from benchmarks.peers.resemblyzer_peer import DEFAULT_VENV

    return DEFAULT_VENV


def make_trials_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speaker make-trials",
        description="Write a balanced, seeded trial list from DATA_DIR/<speaker>/**/*.wav.",
    )
    parser.add_argument("data", type=Path, help="folder of <speaker>/ subfolders")
    parser.add_argument("--out", type=Path, required=True, help="trial list (TSV)")
    parser.add_argument("--count", type=int, default=2000, help="trials (half same-speaker)")
    parser.add_argument("--enroll", type=int, default=3, help="enrollment utterances per trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        trials = make_trials(list_speakers(args.data), args.count, args.enroll, args.seed)
        write_trials(args.out, trials)
    except (KwsError, ValueError) as exc:
        print(f"benchmarks.speaker make-trials: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(trials)} trials to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "make-trials":
        return make_trials_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speaker", description=__doc__)
    parser.add_argument("--model", type=Path, action="append", default=[], help="speaker .tflite")
    parser.add_argument(
        "--network-only", type=Path, action="append", default=[], metavar="MODEL",
        help="a speaker .tflite scored without its cepstral statistics (what they add)",
    )  # fmt: skip
    parser.add_argument("--baseline", action="append", default=[], choices=BASELINES)
    parser.add_argument("--trials", type=Path, required=True, help="trial list (make-trials)")
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument(
        "--resemblyzer-venv", type=Path, default=resemblyzer_venv_default(),
        help="virtualenv holding Resemblyzer and torch (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--install-peers", action="store_true",
        help="create the Resemblyzer virtualenv if it is missing (pip: torch, resemblyzer)",
    )  # fmt: skip
    parser.add_argument("--p-target", type=float, default=DCF_P_TARGET)
    parser.add_argument("--c-miss", type=float, default=DCF_C_MISS)
    parser.add_argument("--c-fa", type=float, default=DCF_C_FA)
    args = parser.parse_args(argv)
    try:
        results = run(args)
        write_report(results, args.out)
    except (KwsError, ValueError) as exc:
        print(f"benchmarks.speaker: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
