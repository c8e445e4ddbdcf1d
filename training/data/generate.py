"""``python -m training.data generate``: render a wake-word corpus on every core, resumably.

Writes ``clips/<split>/<kind>/<id>.wav`` (fixed-length 16 kHz clips), ``manifest.jsonl`` (one
line per clip: label, kind, split, text, voice, prosody, seed), ``corpus.json`` (the settings)
and evaluation streams under ``eval/`` (held-out voices embedded in backgrounds at several SNRs,
and hours of keyword-free audio), each with a manifest for ``benchmarks.frr_fa``.
"""

from __future__ import annotations

import errno
import functools
import json
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from training.data import signals
from training.data.corpus import (
    ClipJob,
    CorpusConfig,
    babble_speech,
    plan,
    render_to,
    voices_by_split,
)
from training.data.phonetic import confusable_phrases
from training.data.streams import write_negative_streams, write_positive_streams
from training.data.text_corpus import sentences
from training.data.tts import Prosody, Voice, check_engine, prosody_grid, synthesize


def check_output(out: Path) -> None:
    """Fail early, in one line, when the output folder cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise KwsError(f"{out}: cannot write the corpus here ({reason})") from None


def check_engines(engines: tuple[str, ...]) -> None:
    for engine in engines:
        try:
            check_engine(engine)
        except KwsError as exc:
            hint = " (or leave it out with --engines)" if "not installed" in str(exc) else ""
            raise KwsError(f"{exc}{hint}") from None


def _settings(config: CorpusConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))


def claim_output(out: Path, settings: dict[str, Any]) -> None:
    """Record ``settings`` in ``out/corpus.json``, refusing a folder that holds a corpus made
    with other settings (a resumed run must render the same corpus)."""
    settings_path = out / "corpus.json"
    if settings_path.is_file() and json.loads(settings_path.read_text()) != settings:
        raise KwsError(
            f"{out} holds a corpus made with other settings ({settings_path}); "
            "use another --out or delete it"
        )
    atomic_write_bytes(settings_path, json.dumps(settings, indent=1).encode())


def speak(item: tuple[str, Voice, Prosody]) -> np.ndarray:
    return synthesize(*item)


def render_clips(jobs: list[ClipJob], config: CorpusConfig, out: Path, workers: int) -> int:
    """Render the clips not yet on disk on ``workers`` processes; returns how many were made."""
    pending = [j for j in jobs if not (out / j.relpath).is_file()]
    if not pending:
        return 0
    work = functools.partial(render_to, config=config, out=out)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        done = pool.imap_unordered(work, pending, chunksize=8)
        for _ in tqdm(done, total=len(pending), desc="clips", unit="clip", smoothing=0.05):
            pass
    return len(pending)


def _write_eval(config: CorpusConfig, out: Path, workers: int) -> None:
    """Positive streams from test voices, and hours of keyword-free audio."""
    test_voices = voices_by_split(config)["test"]
    positives_manifest = out / "eval" / "positives" / "positives.json"
    negatives_manifest = out / "eval" / "negatives" / "negatives.json"
    babble = functools.partial(signals.babble, babble_speech(config.seed, config.engines))
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        if not positives_manifest.is_file() and config.eval_positives:
            pairs = prosody_grid(test_voices, config.eval_positives, config.seed + 101)
            items = [(config.keyword, v, p) for v, p in pairs]
            audio = list(tqdm(pool.imap(speak, items), total=len(items), desc="eval positives"))
            infos = [
                {"voice": v.name, "engine": v.engine, "text": config.keyword, **asdict(p)}
                for v, p in pairs
            ]
            backgrounds = {
                "pink": signals.pink,
                "brown": signals.brown,
                "babble": babble,
                "music": signals.music,
            }
            write_positive_streams(
                list(zip(audio, infos, strict=True)),
                backgrounds,
                positives_manifest.parent,
                seed=config.seed,
                snrs_db=config.eval_snrs_db,
            )
        if not negatives_manifest.is_file() and config.eval_negative_hours > 0:
            count = config.eval_sentences + config.eval_confusables
            pairs = prosody_grid(test_voices, count, config.seed + 202)
            texts = sentences(config.keyword, config.eval_sentences, config.seed + 202)
            phrases = confusable_phrases(config.keyword, config.eval_confusables, config.seed + 202)
            items = [(t, v, p) for t, (v, p) in zip(texts + phrases, pairs, strict=False)]
            spoken = list(tqdm(pool.imap(speak, items), total=len(items), desc="eval speech"))
            sources = {
                "speech": spoken[: len(texts)],
                "confusable": spoken[len(texts) :],
                "babble": babble,
                "music": signals.music,
                "pink": signals.pink,
                "white": signals.white,
                "silence": signals.silence,
            }
            print(f"writing {config.eval_negative_hours:g} h of negative streams")
            write_negative_streams(
                sources, negatives_manifest.parent, config.eval_negative_hours, config.seed + 303
            )


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def generate(config: CorpusConfig, out: Path, workers: int | None = None) -> dict[str, Any]:
    """Render the corpus into ``out`` (resuming a partial one) and return a summary."""
    workers = workers or os.cpu_count() or 1
    check_output(out)
    check_engines(config.engines)
    claim_output(out, _settings(config))
    start = time.perf_counter()
    jobs = plan(config)
    rendered = render_clips(jobs, config, out, workers)
    clips_s = time.perf_counter() - start
    lines = "".join(json.dumps(job.row()) + "\n" for job in jobs)
    atomic_write_bytes(out / "manifest.jsonl", lines.encode())
    _write_eval(config, out, workers)
    positives = [j for j in jobs if j.kind == "positive"]
    summary = {
        "clips": len(jobs),
        "rendered_now": rendered,
        "by_split_and_kind": dict(Counter(f"{j.split}/{j.kind}" for j in jobs)),
        "distinct_positive_voice_prosody": len({(j.voice, j.prosody) for j in positives}),
        "positive_voices": len({j.voice for j in positives}),
        "workers": workers,
        "clip_seconds_wall": round(clips_s, 1),
        "total_seconds_wall": round(time.perf_counter() - start, 1),
        "disk_bytes": disk_bytes(out),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    return summary
