"""``python -m training.data generate``: render a wake-word corpus on every core, resumably.

Writes ``clips/<split>/<kind>/<id>.wav`` (fixed-length 16 kHz clips), ``manifest.jsonl`` (one
line per clip: label, kind, split, text, voice, prosody, seed, the IPA said), ``corpus.json``
(the settings) and evaluation sets under ``eval/validation`` and ``eval/test`` (held-out voices
embedded in backgrounds at several SNRs, and hours of keyword-free audio with real recordings
where a recordings folder is given), each with manifests for ``benchmarks.frr_fa``. Before
rendering it prints the IPA of the phrase and of each hard negative (stderr).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from training.core.ray_pool import open_pool
from training.data.corpus import (
    EVAL_SEED,
    TWIN_CONDITIONS,
    ClipJob,
    CorpusConfig,
    babble_speech,
    eval_texts,
    eval_voices_by_split,
    plan,
    render_to,
    stored_path,
)
from training.data.eval_sets import EvalSpec, Said, in_sentences, write_eval_sets
from training.data.phonetic import WORD_LISTS
from training.data.pronunciation import report
from training.data.text_corpus import fingerprint
from training.data.tts import check_engine, engine_versions


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


def check_recordings(folder: str | None) -> None:
    """Fail before any rendering, in one line, when the recordings folder has no index."""
    if folder is not None:
        from training.data.recordings import load_index

        load_index(folder)


def _settings(config: CorpusConfig) -> dict[str, Any]:
    settings = json.loads(json.dumps({**asdict(config), "augment": config.augment.settings()}))
    keys = (
        "pronunciation", "respelling", "eval_engines", "other_wake_words", "in_sentences",
        "in_sentences_twins", "eval_in_sentences", *(f"{c}_twins" for c in TWIN_CONDITIONS),
        "span_confusables",
    )  # fmt: skip
    if settings["text_sources"] == ["docs"]:  # corpora made before this key still resume
        del settings["text_sources"]
    for key in keys:
        if not settings[key]:  # corpora made before these keys existed still resume
            del settings[key]
    if "other_wake_words" not in settings:
        del settings["eval_other_wake_words"]
    for condition, key in TWIN_CONDITIONS.items():
        if f"{condition}_twins" not in settings:
            del settings[key]
    return settings


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


def render_clips(
    jobs: list[ClipJob],
    config: CorpusConfig,
    out: Path,
    workers: int,
    store: Path | None = None,
    ray: str | None = None,
) -> tuple[int, int]:
    """Render the clips not yet on disk on ``workers`` processes (or as batches of Ray tasks on
    the cluster ``ray``), taking those a clip ``store`` holds from it
    (:func:`training.data.corpus.render_to`); returns (made, taken from the store).
    """
    pending = [  # finished clips go into the store too
        j for j in jobs
        if not (out / j.relpath).is_file()
        or (store is not None and not stored_path(j, config, store).is_file())
    ]  # fmt: skip
    if not pending:
        return 0, 0
    work = functools.partial(render_to, config=config, out=out, store=store)
    outcomes: Counter[str] = Counter()
    with open_pool(workers, ray) as pool:
        done = pool.imap_unordered(work, pending, chunksize=8)
        for outcome in tqdm(done, total=len(pending), desc="clips", unit="clip", smoothing=0.05):
            outcomes[outcome] += 1
    return outcomes["rendered"], outcomes["taken"]


def _write_eval(
    config: CorpusConfig, out: Path, workers: int, ray: str | None = None
) -> dict[str, Any]:
    """The validation and test evaluation sets (:mod:`training.data.eval_sets`)."""
    texts, phrases = eval_texts(config)
    keyword = [
        Said(config.keyword, pronunciations=config.pronunciation, respelling=config.respelling)
    ] * config.eval_positives
    said = in_sentences(keyword, config.eval_in_sentences, texts, config.seed + EVAL_SEED)
    spec = EvalSpec(
        positives=said + other_wake_utterances(config),
        negatives={
            "speech": tuple(Said(t) for t in texts),
            "confusable": tuple(Said(t) for t in phrases),
        },
        seed=config.seed,
        snrs_db=config.eval_snrs_db,
        negative_hours=config.eval_negative_hours,
        reverb_share=config.eval_reverb_share,
        augment=config.augment,
    )
    recordings = Path(config.recordings) if config.recordings else None
    babble = babble_speech(config.seed, config.engines)
    voices = eval_voices_by_split(config)
    return write_eval_sets(spec, voices, recordings, out, babble, workers, ray)


def other_wake_utterances(config: CorpusConfig) -> tuple[Said, ...]:
    """The other wake words an evaluation set's positive streams say, in turn, each labelled as
    its own keyword and counted apart (a firing on one is reported per phrase, not per hour)."""
    others = config.others()
    if not others:
        return ()
    return tuple(
        Said(text, label="_".join(text.split()), pronunciations=ipas, apart=True)
        for text, ipas in (others[i % len(others)] for i in range(config.eval_other_wake_words))
    )


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_summary(out: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Write ``out/summary.json`` and return what it holds. An eval-only pass over a corpus
    whose clips were rendered keeps that corpus's summary (its clip counts and timings) and
    refreshes only its evaluation sets, so shipping a file again does not hide the clips."""
    path = out / "summary.json"
    if summary["eval_only"] and path.is_file():
        kept = json.loads(path.read_text())
        if kept.get("eval_only") is False:
            summary = {**kept, "eval": summary["eval"]}
    atomic_write_bytes(path, json.dumps(summary, indent=1).encode())
    return summary


def generate(
    config: CorpusConfig,
    out: Path,
    workers: int | None = None,
    eval_only: bool = False,
    store: Path | None = None,
    ray: str | None = None,
) -> dict[str, Any]:
    """Render the corpus into ``out`` (resuming a partial one) and return a summary.

    ``eval_only`` writes only the evaluation sets (to measure models before a corpus is
    rendered); the same command without it later renders the clips into the same folder. A clip
    ``store`` shared by several corpora renders their common clips once (``render_clips``).
    With ``ray`` (an address, 'auto' or 'local') clips and evaluation speech are rendered as
    Ray tasks; the files written are the same bytes.
    """
    workers = workers or os.cpu_count() or 1
    check_output(out)
    check_engines(tuple(dict.fromkeys(config.engines + config.evaluation_engines)))
    check_recordings(config.recordings)
    claim_output(out, _settings(config))
    start = time.perf_counter()
    jobs = plan(config)
    confusables = [j.text for j in jobs if j.kind == "confusable" and j.text]
    spoken = report({config.keyword: config.pronunciation}, confusables)
    positives = [j for j in jobs if j.kind == "positive"]
    if config.pronunciation and any(j.ipa is None for j in positives):
        readers = sorted({j.voice.engine for j in positives if j.ipa is None and j.voice})
        print(
            f"{sum(j.ipa is None for j in positives)} of {len(positives)} positives read "
            f"{config.respelling or config.keyword!r}: voices that take no phonemes or lack "
            f"some ({', '.join(readers)})"
            + ("" if config.respelling else "; --respelling gives them a spelling they say right"),
            file=sys.stderr,
        )
    rendered, taken = (0, 0) if eval_only else render_clips(jobs, config, out, workers, store, ray)
    clips_s = time.perf_counter() - start
    if not eval_only:
        lines = "".join(json.dumps(job.row()) + "\n" for job in jobs)
        atomic_write_bytes(out / "manifest.jsonl", lines.encode())
    evaluation = _write_eval(config, out, workers, ray)
    summary = {
        "clips": len(jobs),
        "rendered_now": rendered,
        "taken_from_store": taken,
        "eval_only": eval_only,
        "by_split_and_kind": dict(Counter(f"{j.split}/{j.kind}" for j in jobs)),
        "distinct_positive_voice_prosody": len({(j.voice, j.prosody) for j in positives}),
        "positive_voices": len({j.voice for j in positives}),
        "pronunciation": spoken,
        "positives_by_pronunciation": dict(Counter(j.ipa or "text" for j in positives)),
        **{f"{c}_twins": n for c, n in Counter(j.twin for j in jobs if j.twin).items()},
        "engine_versions": engine_versions([*config.engines, *config.evaluation_engines]),
        "text_sources": fingerprint(WORD_LISTS, config.text_sources),
        "workers": workers,
        **({"ray": ray} if ray else {}),
        "clip_seconds_wall": round(clips_s, 1),
        "eval_seconds_wall": round(time.perf_counter() - start - clips_s, 1),
        "total_seconds_wall": round(time.perf_counter() - start, 1),
        "disk_bytes": disk_bytes(out),
        "eval": evaluation,
    }
    return write_summary(out, summary)
