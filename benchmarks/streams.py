"""Evaluation inputs for ``benchmarks.frr_fa``: positive and negative streams, from manifests or
from plain audio.

Positives come from a ``positives.json`` manifest (``training.data.streams`` format), from a folder
of plain keyword clips, or from a Speech-Commands-style test list; clips are embedded here into
the negative audio at seeded random places with known onsets, written as temporary streams.
Negatives come from a ``negatives.json`` manifest or a folder of WAVs (each one stream). Every
problem is a ValueError or KwsError with a one-line message naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.audio import SAMPLE_RATE
from kws.evaluation import Timeline, operating_point
from kws.wavfile import load_audio, write_wav

POSITIVE_SCHEMA = "kws.eval.positive_streams"  # training.data.streams.POSITIVE_SCHEMA
NEGATIVE_SCHEMA = "kws.eval.negative_streams"  # training.data.streams.NEGATIVE_SCHEMA
GAP_BEFORE_S = (1.5, 3.0)
"""Background before each embedded clip (uniform range, seconds)."""
GAP_AFTER_S = 1.5
"""Background after each embedded clip: more than the 1 s detection tolerance."""
STREAM_MAX_S = 600.0
"""Streams written here (embedded positives, concatenated negative clips) are at most this long."""
SNR_BIN_DB = 5.0
"""Measured SNRs of embedded clips are reported rounded to this step, so they group."""
EDGE_FADE_S = 0.01


TARGETS_FA_PER_HOUR = (0.5, 1.0)
"""False accepts per hour at which every report gives FRR (ours and the peers')."""
BREAKDOWN_TARGET = 1.0
"""FRR per condition is counted at each model's (and peer's) own threshold for this FA/hr."""

EVAL_ROLES = ("validation", "test")
"""A corpus's evaluation sets: validation streams pick thresholds and models, test streams give
the reported figures (training.data.eval_sets writes both)."""


def eval_manifests(corpus: Path, role: str) -> tuple[Path, Path]:
    """``(positives.json, negatives.json)`` of a corpus's ``role`` evaluation set."""
    if role not in EVAL_ROLES:
        raise ValueError(f"evaluation role must be one of {', '.join(EVAL_ROLES)}, got {role!r}")
    base = corpus / "eval" / role
    return base / "positives" / "positives.json", base / "negatives" / "negatives.json"


APART_KINDS = ("confusable",)
"""Kinds of negative stretch whose firings are counted apart from false accepts per hour:
phrases that sound like the keyword ("hey travis", "jarvis") fill about a tenth of the
evaluation negatives, said back to back as no home says them; per hour they would set every
threshold, ours and the peers'. Their firings are reported beside the hours instead."""
CONDITIONS = (
    "snr_db", "background", "snr_db+background", "engine", "room", "context", "position", "voice"
)  # fmt: skip
"""Fields of :class:`Positive` that FRR is broken down by in the reports; ``a+b`` crosses two
fields (SNR by background gives "5 dB babble", a target of its own)."""
UNLESS_ONLY = {"context": ("alone",), "position": ("alone",)}
"""Conditions left out of a breakdown whose every positive has this value (every keyword said
alone, as in every corpus before sentences)."""


@dataclass(frozen=True)
class Positive:
    """One keyword occurrence in a positive stream and the conditions it was recorded under."""

    onset_s: float
    """Stream time (s) where the keyword starts."""
    offset_s: float
    """Stream time (s) where it ends (exclusive)."""
    snr_db: float | None = None
    """Speech-to-background ratio (dB) over the keyword; None if unknown."""
    background: str | None = None
    """Background kind, e.g. 'pink' or 'music'; None if unknown."""
    voice: str | None = None
    """Voice or speaker id; None if unknown."""
    label: str | None = None
    """Which keyword this is, in streams of several (commands); None: every evaluated label's."""
    engine: str | None = None
    """The TTS engine (or 'recorded') that spoke it; None if unknown."""
    room: str | None = None
    """'dry', or 'reverb' when convolved with a room impulse response; None if unknown."""
    position: str = "alone"
    """'alone', or where a keyword said in a sentence sits: 'first' (words follow it: "alexa,
    turn the lights on", how a wake word is said), 'last' (words before it), 'middle' (both)."""
    apart: bool = False
    """Another device's wake word said in a wake word's streams: a firing on it is reported per
    phrase (benchmarks.frr_fa ``confusions``) apart from the FA/h, as the look-alike phrases
    are, since how often a home says another wake word is not a rate the streams can know."""

    @property
    def context(self) -> str:
        """'alone', or 'sentence' when words of the same voice come before or after it."""
        return "alone" if self.position == "alone" else "sentence"


@dataclass(frozen=True)
class EvalStream:
    """One WAV streamed through the pipeline: a positive stream (with keywords) or a negative."""

    path: Path
    positives: tuple[Positive, ...] = ()
    """The keywords in it; empty for a negative stream (every firing is a false accept)."""
    segments: tuple[tuple[float, float, str], ...] = ()
    """Negatives from a manifest: (onset_s, offset_s, kind) of each stretch."""

    def timeline(self, times: np.ndarray, scores: np.ndarray, duration_s: float) -> Timeline:
        """One label's smoothed scores over this stream, with its keywords and, for a negative,
        its :data:`APART_KINDS` stretches (false accepts per hour leave them out)."""
        spans = tuple((p.onset_s, p.offset_s) for p in self.positives)
        apart = tuple((on, off) for on, off, kind in self.segments if kind in APART_KINDS)
        return Timeline(np.asarray(times), np.asarray(scores), duration_s, spans, apart)


def _load_json(path: Path, schema: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such manifest") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected a {schema!r} manifest, found schema {found!r}")
    return data


def _wav(manifest: Path, name: object) -> Path:
    if not isinstance(name, str):
        raise ValueError(f"{manifest}: a 'file' entry is missing or not a string")
    path = manifest.parent / name
    if not path.is_file():
        raise ValueError(f"{manifest}: {name}: no such WAV file")
    return path


def _condition(event: dict[str, Any], key: str) -> str | None:
    """A condition of an event, at its top level or in its ``info`` (where training.data.streams
    keeps what the corpus knew of the clip)."""
    value = event.get(key, (event.get("info") or {}).get(key))
    return None if value is None else str(value)


def _position(event: dict[str, Any]) -> str:
    """Where the keyword sits among the words its voice says around it (see
    :attr:`Positive.position`), from the ``before`` and ``after`` words of its ``info``."""
    info = event.get("info") or {}
    before, after = bool(info.get("before")), bool(info.get("after"))
    return {(False, False): "alone", (False, True): "first", (True, False): "last"}.get(
        (before, after), "middle"
    )


def read_positive_manifest(path: Path) -> list[EvalStream]:
    """The streams of a ``positives.json`` (training.data.streams format), files checked."""
    data = _load_json(path, POSITIVE_SCHEMA)
    streams = []
    try:
        for entry in data["streams"]:
            events = tuple(
                Positive(
                    onset_s=float(e["onset_s"]),
                    offset_s=float(e["offset_s"]),
                    snr_db=None if e.get("snr_db") is None else float(e["snr_db"]),
                    background=e.get("background"),
                    voice=None if e.get("voice") is None else str(e["voice"]),
                    label=None if e.get("label") is None else str(e["label"]),
                    engine=_condition(e, "engine"),
                    room=_condition(e, "room"),
                    position=_position(e),
                    apart=bool((e.get("info") or {}).get("apart", False)),
                )
                for e in entry["events"]
            )
            streams.append(EvalStream(_wav(path, entry.get("file")), events))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed positives manifest (missing {exc})") from None
    return streams


def read_negative_manifest(path: Path) -> list[EvalStream]:
    """The files of a ``negatives.json`` (training.data.streams format), files checked."""
    data = _load_json(path, NEGATIVE_SCHEMA)
    try:
        return [
            EvalStream(
                _wav(path, entry.get("file")),
                segments=tuple(
                    (float(s["onset_s"]), float(s["offset_s"]), str(s["kind"]))
                    for s in entry.get("segments", [])
                ),
            )
            for entry in data["files"]
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed negatives manifest (missing {exc})") from None


def wav_files(folder: Path) -> list[Path]:
    """Every ``*.wav`` under ``folder`` (recursively), sorted."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not found:
        raise ValueError(f"{folder}: no WAV files in this folder")
    return found


def read_test_list(path: Path, label: str) -> tuple[list[Path], list[Path]]:
    """(clips of ``label``, clips of other words) of a Speech-Commands-style list of
    ``word/file.wav`` lines relative to the list's folder."""
    try:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the test list ({exc})") from None
    keyword, others = [], []
    for line in lines:
        clip = path.parent / line
        if not clip.is_file():
            raise ValueError(f"{path}: {line}: no such WAV file")
        (keyword if Path(line).parts[0] == label else others).append(clip)
    return keyword, others


def _voice(clip: Path, root: Path) -> str | None:
    """Speech Commands names files ``<speaker>_nohash_<n>.wav``; nested folders name a voice."""
    if "_nohash_" in clip.name:
        return clip.name.split("_nohash_")[0]
    parent = clip.parent.relative_to(root) if clip.is_relative_to(root) else Path()
    return str(parent) if parent.parts else None


def _kind_at(stream: EvalStream, t: float) -> str:
    for onset, offset, kind in stream.segments:
        if onset <= t < offset:
            return kind
    return stream.path.stem


def _fade(x: np.ndarray) -> np.ndarray:
    n = min(int(EDGE_FADE_S * SAMPLE_RATE), len(x) // 2)
    ramp = np.linspace(0.0, 1.0, n, endpoint=False)
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _write_streams(
    pieces: Sequence[tuple[np.ndarray, tuple[Positive, ...]]],
    out_dir: Path,
    prefix: str,
    labels: Sequence[str] | None = None,
) -> list[EvalStream]:
    """Concatenate pieces (audio, positives relative to the piece) into streams of at most
    :data:`STREAM_MAX_S` (a longer piece gets one of its own) and write them as WAVs; with
    ``labels`` (one per piece) each piece is a segment of its stream named by its label."""
    named = list(labels) if labels is not None else [None] * len(pieces)
    groups: list[list[tuple[np.ndarray, tuple[Positive, ...], str | None]]] = [[]]
    used = 0
    for (audio, positives), label in zip(pieces, named, strict=True):
        if groups[-1] and used + len(audio) > STREAM_MAX_S * SAMPLE_RATE:
            groups.append([])
            used = 0
        groups[-1].append((audio, positives, label))
        used += len(audio)
    streams = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, group in enumerate(groups):
        events, segments, start = [], [], 0
        for audio, positives, label in group:
            shift = start / SAMPLE_RATE
            events += [
                dataclasses.replace(p, onset_s=p.onset_s + shift, offset_s=p.offset_s + shift)
                for p in positives
            ]
            if label is not None:
                segments.append((shift, (start + len(audio)) / SAMPLE_RATE, label))
            start += len(audio)
        path = out_dir / f"{prefix}_{index:03d}.wav"
        audio = np.concatenate([a for a, _, _ in group])
        write_wav(path, np.clip(np.rint(audio), -32768, 32767).astype(np.int16), SAMPLE_RATE)
        streams.append(EvalStream(path, tuple(events), tuple(segments)))
    return streams


def embed_clips(
    clips: Sequence[Path], negatives: Sequence[EvalStream], out_dir: Path, seed: int, root: Path
) -> list[EvalStream]:
    """Write positive streams: each clip, at its own level, added to a random excerpt of a random
    negative stream, with background before and after it; returns them with known onsets.

    The event's SNR is the measured clip-to-background power ratio over the clip, rounded to
    :data:`SNR_BIN_DB`; its background is the negative manifest's kind there (else the file).
    """
    if not clips:
        raise ValueError("no positive clips to evaluate")
    rng = np.random.default_rng(seed)
    source = rng.integers(len(negatives), size=len(clips))
    gaps = rng.uniform(*GAP_BEFORE_S, size=len(clips))
    pieces: list[tuple[np.ndarray, tuple[Positive, ...]] | None] = [None] * len(clips)
    for n in sorted(set(source.tolist())):  # load each negative file once
        background = load_audio(negatives[n].path).astype(np.float64)
        for i in np.flatnonzero(source == n):
            clip = load_audio(clips[i]).astype(np.float64)
            before = round(gaps[i] * SAMPLE_RATE)
            length = before + len(clip) + round(GAP_AFTER_S * SAMPLE_RATE)
            start = int(rng.integers(max(1, len(background) - length + 1)))
            piece = np.resize(background[start:], length) if len(background) else np.zeros(length)
            piece = _fade(piece.copy())
            noise = float(np.mean(piece[before : before + len(clip)] ** 2))
            speech = float(np.mean(clip**2))
            snr = None
            if noise > 0 and speech > 0:
                snr = SNR_BIN_DB * round(10 * math.log10(speech / noise) / SNR_BIN_DB)
            piece[before : before + len(clip)] += clip
            kind = _kind_at(negatives[n], (start + before) / SAMPLE_RATE)
            event = Positive(
                before / SAMPLE_RATE,
                (before + len(clip)) / SAMPLE_RATE,
                snr,
                kind,
                _voice(clips[i], root),
            )
            pieces[i] = (piece, (event,))
    return _write_streams([p for p in pieces if p is not None], out_dir, "embedded_positives")


def concatenate_clips(
    clips: Sequence[Path],
    out_dir: Path,
    prefix: str,
    labels: Sequence[str] | None = None,
    gap_s: float = 0.0,
) -> list[EvalStream]:
    """Negative streams made of short clips (e.g. other Speech Commands words, or recordings)
    back to back, each followed by ``gap_s`` of silence; with ``labels`` each clip (and its gap)
    is a segment named by its label, so a firing can be traced to the clip it fell in."""
    gap = np.zeros(round(gap_s * SAMPLE_RATE))
    pieces = [(np.concatenate([load_audio(c).astype(np.float64), gap]), ()) for c in clips]
    return _write_streams(pieces, out_dir, prefix, labels)


def load_streams(
    positives: Path, negatives: Path, work_dir: Path, label: str | None = None, seed: int = 0
) -> tuple[list[EvalStream], list[EvalStream]]:
    """(positive streams, negative streams) for the CLI's ``--positives`` / ``--negatives``.

    ``positives``: a positives.json, a folder of keyword clips, or a Speech Commands test list
    (whose ``label`` clips are positives and other words extra negatives). ``negatives``: a
    negatives.json or a folder of WAVs. Streams made here are written under ``work_dir``.
    """
    if negatives.is_dir():
        negative = [EvalStream(p) for p in wav_files(negatives)]
    elif negatives.is_file():
        negative = read_negative_manifest(negatives)
    else:
        raise ValueError(f"{negatives}: no such negatives manifest or folder")
    if not negative:
        raise ValueError(f"{negatives}: no negative streams")
    if positives.is_dir():
        positive = embed_clips(wav_files(positives), negative, work_dir, seed, positives)
    elif positives.suffix.lower() == ".json":
        if not positives.is_file():
            raise ValueError(f"{positives}: no such manifest")
        positive = read_positive_manifest(positives)
    elif positives.is_file():
        if not label:
            raise ValueError(f"{positives}: a test list needs --label naming the keyword word")
        keyword, others = read_test_list(positives, label)
        if not keyword:
            raise ValueError(f"{positives}: no clips of {label!r} in the test list")
        positive = embed_clips(keyword, negative, work_dir, seed, positives.parent)
        if others:
            negative = negative + concatenate_clips(others, work_dir, "other_words")
    else:
        raise ValueError(f"{positives}: no such positives manifest, folder or test list")
    if not any(s.positives for s in positive):
        raise ValueError(f"{positives}: no positives to evaluate")
    return positive, negative


def for_label(
    timelines: Sequence[Timeline], streams: Sequence[EvalStream], label: str
) -> tuple[list[Timeline], list[EvalStream]]:
    """The timelines and streams that evaluate ``label``: every negative stream, and each positive
    stream with its occurrences of ``label`` as positives (an occurrence without a label counts
    for every label) and the other labels' occurrences as ``others``, on which a firing is a
    false accept (a command taken for another), but for those said ``apart`` (another device's
    wake word), on which a firing is left out of the FA/h. The streams keep only ``label``'s
    positives."""
    lines, kept = [], []
    for timeline, stream in zip(timelines, streams, strict=True):
        if stream.positives:
            mine = tuple(p for p in stream.positives if p.label in (None, label))
            theirs = tuple(
                p for p in stream.positives if p.label not in (None, label) and not p.apart
            )
            stream = dataclasses.replace(stream, positives=mine)
            timeline = dataclasses.replace(
                timeline,
                positives=tuple((p.onset_s, p.offset_s) for p in mine),
                others=tuple((p.onset_s, p.offset_s) for p in theirs),
            )
        lines.append(timeline)
        kept.append(stream)
    return lines, kept


def _condition_value(positive: Positive, condition: str) -> tuple[Any, ...]:
    return tuple(getattr(positive, name) for name in condition.split("+"))


def _condition_key(condition: str, value: tuple[Any, ...]) -> str:
    """'5' for an SNR, 'babble' for a background, '5 / babble' for the two crossed."""
    names = condition.split("+")
    return " / ".join(
        "unknown" if v is None else f"{v:g}" if name == "snr_db" else str(v)
        for name, v in zip(names, value, strict=True)
    )


def breakdown(
    timelines: Sequence[Timeline],
    streams: Sequence[EvalStream],
    threshold: float,
    refractory_s: float,
) -> dict[str, dict[str, dict[str, Any]]]:
    """FRR at ``threshold`` per value of each of :data:`CONDITIONS`: the positive streams with
    only that value's keywords kept, through :func:`kws.evaluation.operating_point`. One
    routine for our models and the peers, so their cells are counted alike."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    positive = [(t, s) for t, s in zip(timelines, streams, strict=True) if s.positives]
    for condition in CONDITIONS:
        values = {_condition_value(p, condition) for _, s in positive for p in s.positives}
        if values == {UNLESS_ONLY.get(condition)}:
            continue
        cells = {}
        for value in sorted(values, key=lambda v: tuple((x is None, x or 0) for x in v)):
            subset = []
            for timeline, stream in positive:
                spans = tuple(
                    (p.onset_s, p.offset_s)
                    for p in stream.positives
                    if _condition_value(p, condition) == value
                )
                if spans:
                    subset.append(dataclasses.replace(timeline, positives=spans))
            point = operating_point(subset, threshold, refractory_s)
            cells[_condition_key(condition, value)] = {
                "frr": point.frr,
                "misses": point.misses,
                "positives": sum(len(t.positives) for t in subset),
            }
        out[condition] = cells
    return out
