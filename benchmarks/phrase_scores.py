"""Where a keyword model fires on everyday phrases said by held-out voices.

    python -m benchmarks.phrase_scores --model firmware_models/alexa.tflite \
        [--phrase "Let's watch the documentary." ...] [--engines espeak-ng,piper,kokoro] \
        [--voices 4] [--out DIR]

Each phrase (default: the soak's ten sentences, :data:`benchmarks.soak_audio.SENTENCES`) is said
by the first ``--voices`` English voices of each engine's test split (voices no shipped model
trained on, :func:`training.data.tts.split_voices`), after 2 s of silence that the pipeline
warms up on; the runtime pipeline scores it as it would a microphone, and the peak of each
keyword's smoothed score is compared with the model's threshold. The evaluation streams say
sentences from the corpus's text sources only; this asks about any text. Writes
phrase_scores.json and phrase_scores.md to ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from benchmarks.soak_audio import SENTENCES
from kws.atomic import atomic_write_bytes
from kws.audio import StreamSource
from kws.errors import KwsError
from kws.evaluation import smooth
from kws.events import Event, Score
from kws.model import Model, load_model
from kws.paths import portable_path
from kws.pipeline import Pipeline, PipelineConfig

SAMPLE_RATE = 16000
WARMUP_S = 2.0
"""Silence before each phrase: the pipeline's window and state settle on it, and scores from it
are not counted."""
TAIL_S = 1.0
"""Silence after each phrase, so a score that peaks at its end is heard."""
ENGINES = ("espeak-ng", "piper", "kokoro")
OPENWAKEWORD_THRESHOLD = 0.5
"""openWakeWord's default threshold (``Model.predict``'s users, wyoming-openwakeword)."""


def peer_threshold(peer: Any) -> float:
    """The threshold a user of the peer gets by default: microWakeWord's manifest cutoff,
    openWakeWord's 0.5. KwsError for an engine without one (Porcupine's is a sensitivity)."""
    cutoff = getattr(peer, "probability_cutoff", None)
    if cutoff is not None:
        return float(cutoff)
    if peer.name.startswith("openwakeword:"):
        return OPENWAKEWORD_THRESHOLD
    raise KwsError(f"{peer.name}: no default score threshold to compare with")


def _peak_after_warmup(times: Sequence[float], raw: Sequence[float], calls: int) -> float:
    """The highest of the ``raw`` scores smoothed over ``calls`` outputs, after WARMUP_S."""
    scores = smooth(np.asarray(raw, dtype=np.float64), calls)
    return float(max((v for t, v in zip(times, scores, strict=True) if t > WARMUP_S), default=0.0))


def peaks(models: Sequence[Model], audio: np.ndarray) -> list[dict[str, float]]:
    """Per model, each keyword's highest smoothed score after the warm-up, for int16 ``audio``
    said after WARMUP_S of silence and followed by TAIL_S (both added here)."""
    stream = padded(audio).astype("<i2").tobytes()
    pipeline = Pipeline(list(models), PipelineConfig(emit_scores=True, status_interval_s=0))
    index = {name: i for i, name in enumerate(pipeline.names)}
    rows: list[list[tuple[float, dict[str, float]]]] = [[] for _ in models]

    def collect(event: Event) -> None:
        if isinstance(event, Score):
            rows[index[event.model]].append((event.t, dict(event.scores)))

    pipeline.on_event = collect
    pipeline.run(StreamSource(io.BytesIO(stream), "phrase"), "phrase")
    out = []
    for model, got in zip(models, rows, strict=True):
        md = model.metadata
        found = {}
        times = [t for t, _ in got]
        for label in md.keywords:
            raw = [s[label] for _, s in got]
            found[label] = _peak_after_warmup(times, raw, md.smoothing_calls)
        out.append(found)
    return out


def padded(audio: np.ndarray) -> np.ndarray:
    """``audio`` after WARMUP_S of silence and before TAIL_S of it, int16."""
    silence = np.zeros(round(WARMUP_S * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(round(TAIL_S * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([silence, audio.astype(np.int16), tail])


def peer_peak(peer: Any, audio: np.ndarray) -> float:
    """A peer engine's highest smoothed score after the warm-up, for ``audio`` as in
    :func:`peaks`."""
    peer.reset()
    stream = padded(audio)
    got = []
    for at in range(0, len(stream), peer.chunk_samples):
        got += peer.process(stream[at : at + peer.chunk_samples])
    return _peak_after_warmup([t for t, _ in got], [p for _, p in got], peer.smoothing_calls)


def test_voices(engines: Sequence[str], count: int) -> list[Any]:
    """The first ``count`` English voices (by name) of each engine's test split."""
    from training.data.tts import list_voices, split_voices

    voices = []
    for engine in engines:
        english = sorted(
            (v for v in split_voices(list_voices((engine,)))["test"] if v.is_english),
            key=lambda v: v.name,
        )
        if not english:
            raise KwsError(f"{engine} has no English test voice")
        voices += english[:count]
    return voices


def run(
    model_paths: Sequence[Path],
    phrases: Sequence[str],
    engines: Sequence[str],
    count: int,
    peer_specs: Sequence[str] = (),
) -> dict[str, Any]:
    """Every phrase by every voice through every model and peer (``engine:wake_word``): the
    figures phrase_scores.json holds."""
    from benchmarks.peers import load_peer
    from training.data.tts import Prosody, synthesize

    models = [load_model(p) for p in model_paths]
    peers = []
    for spec in peer_specs:
        engine, _, word = spec.partition(":")
        try:
            peers.append(load_peer(engine, word))
        except (ValueError, ImportError) as exc:
            raise KwsError(f"peer {spec!r}: {exc}") from None
    thresholds = [peer_threshold(peer) for peer in peers]
    voices = test_voices(engines, count)
    prosody = Prosody(rate_wpm=175, pitch=50, amplitude=100, word_gap_ms=0)
    rows = []
    for phrase in phrases:
        for voice in voices:
            audio = synthesize(phrase, voice, prosody)
            found_by = zip(model_paths, models, peaks(models, audio), strict=True)
            for path, model, found in found_by:
                for label, peak in found.items():
                    threshold = model.metadata.thresholds[label].threshold
                    rows.append({
                        "phrase": phrase, "engine": voice.engine, "voice": voice.name,
                        "model": portable_path(path), "keyword": label, "peak": round(peak, 4),
                        "threshold": threshold, "fires": peak >= threshold,
                    })  # fmt: skip
            for peer, threshold in zip(peers, thresholds, strict=True):
                peak = peer_peak(peer, audio)
                rows.append({
                    "phrase": phrase, "engine": voice.engine, "voice": voice.name,
                    "model": peer.name, "keyword": peer.name.partition(":")[2],
                    "peak": round(peak, 4), "threshold": threshold, "fires": peak >= threshold,
                })  # fmt: skip
    keywords = {
        portable_path(p): list(m.metadata.keywords)
        for p, m in zip(model_paths, models, strict=True)
    }
    keywords |= {peer.name: [peer.name.partition(":")[2]] for peer in peers}
    return {
        "models": [portable_path(p) for p in model_paths] + [peer.name for peer in peers],
        "keywords": keywords,
        "engines": list(engines),
        "voices_per_engine": count,
        "warmup_s": WARMUP_S,
        "rows": rows,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    """Per model, how many (phrase, voice) pairs fire it per engine; then one row per model,
    phrase, engine and keyword: how many voices fire it, and the median peak."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    rank = {m: i for i, m in enumerate(result["models"])}
    for row in sorted(result["rows"], key=lambda r: rank[r["model"]]):  # stable: phrase order
        key = (row["model"], row["keyword"], row["phrase"], row["engine"])
        groups.setdefault(key, []).append(row)
    engines = result["engines"]
    lines = [
        "# Peak keyword scores on phrases said by held-out voices",
        "",
        f"Reproduce: `{command}`. Each phrase is said by the first {result['voices_per_engine']} "
        "English voices of each engine's test split after "
        f"{result['warmup_s']:g} s of silence; 'fires' counts the voices whose peak smoothed "
        "score reaches the model's threshold.",
        "",
        "| model | (phrase, voice) pairs it fires on | " + " | ".join(engines) + " |",
        "|---|---|" + "---|" * len(engines),
    ]
    for model in result["models"]:
        mine = [r for r in result["rows"] if r["model"] == model]
        cells = []
        for engine in engines:
            said = [r for r in mine if r["engine"] == engine]
            cells.append(f"{sum(r['fires'] for r in said)} of {len(said)}")
        lines.append(
            f"| {model} | {sum(r['fires'] for r in mine)} of {len(mine)} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "| model | phrase | engine | fires | median peak | threshold |",
        "|---|---|---|---|---|---|",
    ]
    for (model, keyword, phrase, engine), rows in groups.items():
        fired = sum(r["fires"] for r in rows)
        name = model if len(result["keywords"][model]) == 1 else f"{model}:{keyword}"
        lines.append(
            f"| {name} | {phrase} | {engine} | {fired} of {len(rows)} | "
            f"{median(r['peak'] for r in rows):.3f} | {rows[0]['threshold']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.phrase_scores", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", type=Path, action="append", required=True, dest="models")
    parser.add_argument(
        "--phrase", action="append", dest="phrases", help="a phrase (repeat; default: the "
        "soak's ten sentences)"
    )  # fmt: skip
    parser.add_argument(
        "--peer", action="append", default=[], dest="peers", metavar="ENGINE:WAKE_WORD",
        help="a peer detector at its default threshold (microwakeword:alexa, openwakeword:alexa)",
    )  # fmt: skip
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated")
    parser.add_argument("--voices", type=int, default=4, help="test voices per engine")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/phrase_scores"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.voices < 1:
        print("benchmarks.phrase_scores: error: --voices must be at least 1", file=sys.stderr)
        return 2
    phrases = args.phrases or list(SENTENCES)
    engines = [e for e in args.engines.split(",") if e]
    try:
        result = run(args.models, phrases, engines, args.voices, args.peers)
    except KwsError as exc:
        print(f"benchmarks.phrase_scores: error: {exc}", file=sys.stderr)
        return 2
    parts = ["python -m benchmarks.phrase_scores"]
    parts += [f"--model {portable_path(p)}" for p in args.models]
    parts += [f"--peer {p}" for p in args.peers]
    parts += [f'--phrase "{p}"' for p in args.phrases or []]
    parts += [f"--engines {','.join(engines)}", f"--voices {args.voices}"]
    parts.append(f"--out {portable_path(args.out)}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "phrase_scores.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(args.out / "phrase_scores.md", markdown(result, " ".join(parts)).encode())
    print(markdown(result, " ".join(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
