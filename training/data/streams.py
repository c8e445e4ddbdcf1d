"""Evaluation streams: long 16 kHz int16 WAVs with their manifests, as DESIGN.md's Evaluation
section describes, for ``benchmarks.frr_fa --positives MANIFEST``.

Positive streams embed every positive clip once per SNR, each in its own stretch of background
(a kind per clip, rotating so that all kinds meet all SNRs), spaced by random gaps. The SNR is
exact over the clip's span: background power there = clip power / 10^(SNR/10), with powers as
mean squares over the clip (TTS clips are silence-trimmed, so this is the speech's power).
Negative streams are hours of keyword-free audio in ~10 minute files. Manifests give every time
both in samples (exact) and in seconds (= samples / sample_rate); offsets are exclusive.
Everything is drawn from ``seed``: the same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.wavfile import write_wav
from training.data.augment import excerpt, power
from training.data.signals import SAMPLE_RATE, Background, as_float32, to_int16

SCHEMA_VERSION = 1
POSITIVE_SCHEMA = "kws.eval.positive_streams"
NEGATIVE_SCHEMA = "kws.eval.negative_streams"
FADE_S = 0.05  # background fade at the edge of each stretch, so kinds change without a click
SPEECH_DBFS = (-32.0, -20.0)  # RMS level each positive is set to, drawn per clip
HEADROOM = 0.99  # a stretch whose mixture peaks above this is scaled down (SNR unchanged)
NEGATIVE_SEGMENT_S = (5.0, 30.0)  # length of each single-kind stretch in negative streams
NEGATIVE_DBFS = (-40.0, -18.0)  # RMS level of each non-silent negative stretch
_NOTES = (
    "Files are 16 kHz mono int16 WAVs named relative to this manifest. Times are stream time:"
    " *_sample are exact sample indices, *_s = *_sample / sample_rate; offsets are exclusive."
)


def _background(source: Background, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a background: a random excerpt of a recording, or freshly generated."""
    if isinstance(source, np.ndarray):
        return as_float32(excerpt(source, n, rng)).astype(np.float64)
    audio = as_float32(source(n / SAMPLE_RATE, rng))
    return np.pad(audio, (0, max(0, n - len(audio))))[:n].astype(np.float64)


MIN_UNDER_CLIP = 0.1
"""A background stretch is redrawn when its power under the clip is below this fraction of its
mean power (a music rest or a gap between drum hits): scaled to the SNR there, the rest of the
stretch would drown the clip."""


def _audible_background(
    source: Background, kind: str, n: int, onset: int, offset: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """A faded background stretch of ``n`` samples that is audible under the clip at
    [onset, offset), and its power there; ValueError after 20 draws that are all near-silent."""
    for _ in range(20):
        bg = _fade_edges(_background(source, n, rng))
        under = power(bg[onset:offset])
        if under > 0 and under >= MIN_UNDER_CLIP * power(bg):
            return bg, under
    raise ValueError(f"background {kind!r} is silent where a clip goes in 20 draws: no SNR")


def _fade_edges(x: np.ndarray) -> np.ndarray:
    n = min(int(FADE_S * SAMPLE_RATE), len(x) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _snr_label(snr: float) -> str:
    return f"{snr:g}".replace("-", "m").replace(".", "p")


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(manifest, indent=1) + "\n").encode())


def _layout(
    lengths: Sequence[int],
    rng: np.random.Generator,
    stream_samples: int,
    gap_s: tuple[float, float],
) -> list[list[tuple[int, int]]]:
    """Group clips into streams: for each stream, (clip index, gap before it in samples), plus a
    final (-1, trailing gap); a stream holds as many whole clips as fit in ``stream_samples``."""
    streams: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    used = 0
    for index, length in enumerate(lengths):
        gap = round(rng.uniform(*gap_s) * SAMPLE_RATE)
        tail = round(gap_s[1] * SAMPLE_RATE)  # room kept for the trailing gap
        if current and used + gap + length + tail > stream_samples:
            streams.append([*current, (-1, round(rng.uniform(*gap_s) * SAMPLE_RATE))])
            current, used = [], 0
        current.append((index, gap))
        used += gap + length
    if current:
        streams.append([*current, (-1, round(rng.uniform(*gap_s) * SAMPLE_RATE))])
    return streams


def _render_positive_stream(
    plan: list[tuple[int, int]],
    clips: Sequence[np.ndarray],
    kinds: Sequence[str],
    backgrounds: Mapping[str, Background],
    snr_db: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Audio and events of one stream. Each clip gets a stretch of background running from the
    middle of the gap before it to the middle of the gap after it."""
    starts, pos = [], 0
    for index, gap in plan:
        pos += gap
        starts.append(pos)
        pos += len(clips[index]) if index >= 0 else 0
    audio = np.zeros(pos, dtype=np.float64)
    events: list[dict[str, Any]] = []
    edge = 0
    for k, (index, _gap) in enumerate(plan[:-1]):
        onset, offset = starts[k], starts[k] + len(clips[index])
        next_edge = pos if k == len(plan) - 2 else (offset + starts[k + 1]) // 2
        clip = clips[index] * (
            10 ** (rng.uniform(*SPEECH_DBFS) / 20) / np.sqrt(power(clips[index]))
        )
        bg, bg_power = _audible_background(
            backgrounds[kinds[index]], kinds[index], next_edge - edge, onset - edge,
            offset - edge, rng,
        )  # fmt: skip
        stretch = bg * np.sqrt(power(clip) / (bg_power * 10 ** (snr_db / 10)))
        stretch[onset - edge : offset - edge] += clip
        peak = float(np.max(np.abs(stretch)))
        level = HEADROOM / peak if peak > HEADROOM else 1.0
        audio[edge:next_edge] = stretch * level
        speech_dbfs = 10 * math.log10(power(clip) * level**2)
        events.append(
            {"index": index, "onset": onset, "offset": offset, "speech_dbfs": speech_dbfs}
        )
        edge = next_edge
    return audio, events


def write_positive_streams(
    positives: Sequence[tuple[np.ndarray, Mapping[str, Any]]],
    backgrounds: Mapping[str, Background],
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    snrs_db: Sequence[float] = (0, 5, 10, 20),
    stream_seconds: float = 600.0,
    gap_s: tuple[float, float] = (4.0, 8.0),
) -> Path:
    """Write positive evaluation streams and ``positives.json``; return the manifest's path.

    ``positives`` are (audio at 16 kHz, float or int16; info with at least ``voice`` and
    ``text``, and ``label`` where streams hold several keywords, ``keyword_s`` [start, end]
    where the keyword is only part of the clip, a sentence; JSON-serializable).
    ``backgrounds`` maps a kind name ("pink", "babble", "music"…) to
    a recording or a generator ``f(seconds, rng)`` (see :mod:`training.data.signals`). Every
    positive appears once per SNR; streams are at most ``stream_seconds`` long (a longer clip
    gets a stream of its own); gaps before each clip and after the last are drawn from ``gap_s``.
    """
    if not positives or not backgrounds or not snrs_db:
        raise ValueError("write_positive_streams needs positives, backgrounds and SNRs")
    if gap_s[0] < 2 * FADE_S or gap_s[0] > gap_s[1]:
        raise ValueError(f"gap_s must be (low, high) with low >= {2 * FADE_S} s, got {gap_s}")
    clips = [as_float32(audio).astype(np.float64) for audio, _ in positives]
    if any(power(c) == 0 for c in clips):
        raise ValueError("a positive clip is empty or silent")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(backgrounds)
    streams: list[dict[str, Any]] = []
    for k, snr in enumerate(snrs_db):
        rng = np.random.default_rng([seed, k])
        kinds = [names[(i + k) % len(names)] for i in range(len(clips))]
        plans = _layout([len(c) for c in clips], rng, round(stream_seconds * SAMPLE_RATE), gap_s)
        for part, plan in enumerate(plans):
            audio, events = _render_positive_stream(plan, clips, kinds, backgrounds, snr, rng)
            name = f"positives_snr{_snr_label(snr)}_{part:03d}.wav"
            write_wav(out / name, to_int16(audio), SAMPLE_RATE)
            streams.append(
                {
                    "file": name,
                    "num_samples": len(audio),
                    "duration_s": len(audio) / SAMPLE_RATE,
                    "snr_db": float(snr),
                    "events": [
                        _positive_event(e, positives[e["index"]][1], kinds[e["index"]], snr)
                        for e in events
                    ],
                }
            )
    manifest = {
        "schema": POSITIVE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "notes": _NOTES + " Each event is one positive clip embedded at snr_db in background.",
        "sample_rate": SAMPLE_RATE,
        "seed": seed,
        "snrs_db": [float(s) for s in snrs_db],
        "backgrounds": names,
        "num_positives": len(positives),
        "total_duration_s": sum(s["duration_s"] for s in streams),
        "streams": streams,
    }
    path = out / "positives.json"
    _write_manifest(path, manifest)
    return path


def _positive_event(
    event: dict[str, Any], info: Mapping[str, Any], kind: str, snr: float
) -> dict[str, Any]:
    extra = {k: v for k, v in info.items() if k not in ("voice", "text", "label")}
    labelled = {"label": info["label"]} if "label" in info else {}
    onset, offset = event["onset"], event["offset"]
    if "keyword_s" in info:  # a keyword inside a sentence: its own span, not the sentence's
        start, end = (round(float(t) * SAMPLE_RATE) for t in info["keyword_s"])
        onset, offset = event["onset"] + start, event["onset"] + end
    return {
        **labelled,
        "onset_s": onset / SAMPLE_RATE,
        "offset_s": offset / SAMPLE_RATE,
        "onset_sample": onset,
        "offset_sample": offset,
        "voice": info.get("voice"),
        "text": info.get("text"),
        "snr_db": float(snr),
        "background": kind,
        "speech_dbfs": round(event["speech_dbfs"], 2),
        "positive_index": event["index"],
        "info": extra,
    }


NegativeSource = Background | Sequence[np.ndarray]
"""A recording, a generator, or a list of clips (e.g. TTS sentences) played one after another."""


def _negative_stretch(source: NegativeSource, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(source, np.ndarray) or callable(source):
        return _background(source, n, rng)
    sounding = [c for c in source if len(c)]  # converted when drawn: a list may hold hours
    if not sounding:
        raise ValueError("a negative clip list is empty")
    parts, length = [], 0
    while length < n:
        clip = as_float32(sounding[int(rng.integers(len(sounding)))])
        pause = np.zeros(round(rng.uniform(0.2, 1.0) * SAMPLE_RATE))
        parts += [clip, pause]
        length += len(clip) + len(pause)
    return np.concatenate(parts)[:n].astype(np.float64)


def _render_negative_file(
    sources: Mapping[str, NegativeSource], n: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    names = sorted(sources)
    audio = np.zeros(n, dtype=np.float64)
    segments: list[dict[str, Any]] = []
    pos = 0
    while pos < n:
        length = min(round(rng.uniform(*NEGATIVE_SEGMENT_S) * SAMPLE_RATE), n - pos)
        kind = names[int(rng.integers(len(names)))]
        stretch = _negative_stretch(sources[kind], length, rng)
        if kind != "silence" and power(stretch) > 0:
            stretch *= 10 ** (rng.uniform(*NEGATIVE_DBFS) / 20) / np.sqrt(power(stretch))
        peak = float(np.max(np.abs(stretch))) if length else 0.0
        if peak > HEADROOM:
            stretch *= HEADROOM / peak
        audio[pos : pos + length] = _fade_edges(stretch)
        segments.append({"kind": kind, "onset_sample": pos, "offset_sample": pos + length})
        pos += length
    return audio, segments


def write_negative_streams(
    sources: Mapping[str, NegativeSource],
    out_dir: str | os.PathLike[str],
    hours: float,
    seed: int,
    file_seconds: float = 600.0,
) -> Path:
    """Write at least ``hours`` of keyword-free audio (whole samples, rounded up) as files of at
    most ``file_seconds`` of equal length, and ``negatives.json``; return the manifest's path.

    ``sources`` maps a kind ("speech", "music", "pink", "silence"…) to a recording, a generator
    or a list of clips; the caller guarantees none contains the keyword. Each file is a chain of
    5-30 s single-kind stretches at random levels (-40..-18 dBFS RMS; a kind named "silence"
    keeps its own level), faded at the joins.
    """
    if hours <= 0 or not sources:
        raise ValueError("write_negative_streams needs hours > 0 and at least one source")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = math.ceil(hours * 3600 * SAMPLE_RATE)
    n_files = math.ceil(total / (file_seconds * SAMPLE_RATE))
    sizes = [total // n_files + (1 if i < total % n_files else 0) for i in range(n_files)]
    rng = np.random.default_rng(seed)
    files = []
    for i, n in enumerate(sizes):
        audio, segments = _render_negative_file(sources, n, rng)
        name = f"negatives_{i:03d}.wav"
        write_wav(out / name, to_int16(audio), SAMPLE_RATE)
        seconds_by_kind: dict[str, float] = {}
        for s in segments:
            s["onset_s"] = s["onset_sample"] / SAMPLE_RATE
            s["offset_s"] = s["offset_sample"] / SAMPLE_RATE
            span = (s["offset_sample"] - s["onset_sample"]) / SAMPLE_RATE
            seconds_by_kind[s["kind"]] = seconds_by_kind.get(s["kind"], 0.0) + span
        files.append(
            {
                "file": name,
                "num_samples": n,
                "duration_s": n / SAMPLE_RATE,
                "kinds": sorted(seconds_by_kind),
                "seconds_by_kind": seconds_by_kind,
                "segments": segments,
            }
        )
    manifest = {
        "schema": NEGATIVE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "notes": _NOTES + " No file contains the keyword; segments list what each stretch holds.",
        "sample_rate": SAMPLE_RATE,
        "seed": seed,
        "total_duration_s": total / SAMPLE_RATE,
        "hours": total / SAMPLE_RATE / 3600,
        "files": files,
    }
    path = out / "negatives.json"
    _write_manifest(path, manifest)
    return path
