"""Evaluation sets that tell the truth: validation streams choose thresholds and models, test
streams give the reported figures, and neither holds a voice or a recording that training hears.

For each role (``validation``, ``test``) a corpus gets ``eval/<role>/``::

    positives/positives.json   the keyword(s) spoken by that split's voices of every engine, a
                               share of them convolved with a room impulse response (real ones
                               from that split's recordings where there are any), embedded in
                               noise, babble, music and ambience at several SNRs
    negatives/negatives.json   hours of keyword-free audio: TTS speech and confusable phrases by
                               that split's voices, and that split's real recorded speech, music
                               and ambience (each recording heard once per draw, never looped:
                               :func:`recorded_sources`), beside babble, noise and silence

Voices come from :func:`training.data.tts.split_voices` (by speaker, so a validation or test voice
is never heard in training, in any variant) and real recordings from the same split of the
recordings folder (:mod:`training.data.recordings`, whole packages or speakers per split). Every
positive event records its engine and room, so FRR can be read per engine and per background.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.streams import EVAL_ROLES as ROLES
from benchmarks.streams import eval_manifests as manifests
from training.core.ray_pool import open_pool
from training.data import signals
from training.data.augment import AugmentConfig, excerpt, reverberate, room_impulse_response
from training.data.corpus import REAL_KINDS
from training.data.pronunciation import pick_pronunciation
from training.data.streams import (
    NegativeSource,
    write_negative_streams,
    write_positive_streams,
)
from training.data.text_corpus import context_words
from training.data.tts import Prosody, Voice, prosody_grid, synthesize, synthesize_within

MAX_REAL_SECONDS = 3 * 3600.0
"""Real audio of one kind loaded for one role at most (a seeded choice of files)."""
BABBLE_EXCERPT_S = 6.0
BABBLE_EXCERPTS = 120
SPEAK_BATCH = 4
"""Utterances a worker synthesizes per task (fewer round trips on a Ray cluster)."""
WORD_PAUSE_S = 0.12
"""Pause between the keyword and the words around it in a sentence: a short breath."""
EVAL_INDEX = 10**9
"""Offset of the evaluation utterances' pronunciation draws from the corpus clips'."""


@dataclass(frozen=True)
class Said:
    """One utterance to synthesize: its text, its label where streams hold several keywords,
    and the IPA alternatives it may be spoken as (one is drawn per voice; none: the text)."""

    text: str
    label: str | None = None
    pronunciations: tuple[str, ...] = ()
    respelling: str = ""
    """What a voice that can speak none of ``pronunciations`` reads instead of ``text``."""
    apart: bool = False
    """Another device's wake word: its firings are counted apart from the FA/h
    (benchmarks.streams.Positive.apart)."""
    before: str = ""
    after: str = ""
    """Words the same voice says before and after it, in one breath with short pauses: a
    keyword inside a sentence ("please call | three | and then hang up"), not alone."""


@dataclass(frozen=True)
class EvalSpec:
    """What one evaluation set holds; the same spec makes the validation and the test set."""

    positives: tuple[Said, ...]
    negatives: Mapping[str, tuple[Said, ...]]
    """Spoken negative kinds ("speech", "confusable", "other_words") and what is said in each."""
    seed: int
    snrs_db: tuple[float, ...]
    negative_hours: float
    reverb_share: float = 0.25
    """Fraction of positives convolved with a room impulse response."""
    music_behind_positives: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Room ranges for synthetic impulse responses when a split has no real ones."""


def in_sentences(
    said: Sequence[Said], share: float, texts: Sequence[str], seed: int
) -> tuple[Said, ...]:
    """``said`` with ``share`` of it (a seeded choice) inside sentences: two to five words of
    ``texts`` (held-out sentences without the keyword) before it, after it or both."""
    if share and not texts:
        raise ValueError("keywords in sentences need held-out sentences (eval_sentences > 0)")
    around = context_words(len(said), share, texts, seed)
    return tuple(replace(s, before=b, after=a) for s, (b, a) in zip(said, around, strict=True))


@dataclass(frozen=True)
class RealAudio:
    """One split's real recordings, loaded: long int16 arrays per kind and impulse responses."""

    by_kind: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=dict)
    rirs: tuple[np.ndarray, ...] = ()
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Where each array came from (package/path), parallel to ``by_kind`` (and ``rir``)."""

    def seconds(self, kind: str) -> float:
        return sum(len(a) for a in self.by_kind.get(kind, ())) / signals.SAMPLE_RATE


def load_real(root: Path | None, split: str, seed: int, avoid: Sequence[str] = ()) -> RealAudio:
    """The real recordings of ``split`` under ``root`` (None: none), at most MAX_REAL_SECONDS per
    kind, chosen by ``seed``; none whose transcript says one of ``avoid`` (the keywords: a
    recording saying one is no negative)."""
    if root is None:
        return RealAudio()
    from kws.wavfile import load_audio
    from training.data.recordings import recordings

    rng = np.random.default_rng(seed)
    by_kind: dict[str, tuple[np.ndarray, ...]] = {}
    names: dict[str, tuple[str, ...]] = {}
    for kind in (*REAL_KINDS, "rir"):
        paths = list(recordings(root, split, kind, avoid))
        rng.shuffle(paths)
        arrays, kept, total = [], [], 0.0
        for path in paths:
            audio = load_audio(path, signals.SAMPLE_RATE)
            if len(audio) == 0:
                continue
            arrays.append(audio)
            kept.append(str(path.relative_to(root)))
            total += len(audio) / signals.SAMPLE_RATE
            if total >= MAX_REAL_SECONDS:
                break
        by_kind[kind], names[kind] = tuple(arrays), tuple(kept)
    rirs = tuple(signals.as_float32(r).astype(np.float64) for r in by_kind.pop("rir"))
    return RealAudio(by_kind, rirs, names)


def recording_source(arrays: Sequence[np.ndarray], chain: bool = False) -> signals.BackgroundFn:
    """A background drawing a random excerpt of a random recording (weighted by length).

    A recording shorter than the excerpt wraps around, which is harmless under a clip of a few
    seconds (the backgrounds of positives, babble talkers). With ``chain`` other random
    recordings follow it instead (never the same one twice in a row, unless there is only one),
    as the stretches of negative streams need, where
    a short recording looped for half a minute is no sound a home makes and one that fires
    would fire once per loop.
    """
    lengths = np.array([len(a) for a in arrays], dtype=np.float64)
    weights = lengths / lengths.sum()

    def draw(
        seconds: float, rng: np.random.Generator, sample_rate: int = signals.SAMPLE_RATE
    ) -> np.ndarray:
        n = signals.num_samples(seconds, sample_rate)
        index = int(rng.choice(len(arrays), p=weights))
        if not chain:
            return signals.as_float32(excerpt(arrays[index], n, rng))
        first = arrays[index]
        parts = [signals.as_float32(first[int(rng.integers(len(first))) :])]
        length = len(parts[0])
        while length < n:
            previous = index
            while index == previous and len(arrays) > 1:
                index = int(rng.choice(len(arrays), p=weights))
            parts.append(signals.as_float32(arrays[index]))
            length += len(parts[-1])
        return np.concatenate(parts)[:n]

    return draw


def recorded_sources(real: RealAudio) -> dict[str, NegativeSource]:
    """The negative streams' real kinds (``recorded_speech``...): speech as a list of
    recordings, each stretch one after another with pauses, as prompts are heard; music and
    ambience from a random offset, chained to other recordings rather than looped."""
    sources: dict[str, NegativeSource] = {}
    for kind in REAL_KINDS:
        recorded = real.by_kind.get(kind)
        if recorded:
            sources[f"recorded_{kind}"] = (
                list(recorded) if kind == "speech" else recording_source(recorded, chain=True)
            )
    return sources


def _babble(speech: Sequence[np.ndarray], rng: np.random.Generator) -> signals.BackgroundFn:
    """Babble of real speech: talkers drawn from short excerpts of the recordings."""
    draw = recording_source(speech)
    clips = tuple(draw(BABBLE_EXCERPT_S, rng) for _ in range(BABBLE_EXCERPTS))
    return functools.partial(signals.babble, clips)


def pink_or_brown(seconds: float, rng: np.random.Generator, sample_rate: int = signals.SAMPLE_RATE):
    """Pink or brown noise, drawn per stretch (the 'noise' background of positive streams)."""
    kind = signals.pink if rng.random() < 0.5 else signals.brown
    return kind(seconds, rng, sample_rate)


def _speak(item: tuple[str, Voice, Prosody, str | None]) -> np.ndarray:
    return synthesize(*item)


def _speak_within(
    item: tuple[str, Voice, Prosody, str | None, str, str],
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """A keyword with the words around it (:attr:`Said.before`, :attr:`Said.after`) and a pause
    of :data:`WORD_PAUSE_S` between them (:func:`synthesize_within`); and the keyword's span in
    seconds (None when it is said alone)."""
    text, voice, prosody, ipa, before, after = item
    audio, (start, end) = synthesize_within(text, voice, prosody, ipa, before, after, WORD_PAUSE_S)
    if not before and not after:
        return audio, None
    return audio, (start / signals.SAMPLE_RATE, end / signals.SAMPLE_RATE)


def _items(
    said: Sequence[Said], pairs: Sequence[tuple[Voice, Prosody]], seed: int
) -> list[tuple[str, Voice, Prosody, str | None]]:
    """(text, voice, prosody, IPA) to synthesize: the IPA drawn among what each voice can say;
    a voice that can say none reads the respelling where there is one."""
    items = []
    for i, (s, (v, p)) in enumerate(zip(said, pairs, strict=True)):
        ipa = pick_pronunciation(s.pronunciations, v, seed, EVAL_INDEX + i)
        items.append((s.respelling if ipa is None and s.respelling else s.text, v, p, ipa))
    return items


def _reverberate_share(
    clips: list[np.ndarray], spec: EvalSpec, real: RealAudio, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Convolve ``spec.reverb_share`` of ``clips`` in place; return each clip's room info."""
    rooms: list[dict[str, Any]] = [{"room": "dry"} for _ in clips]
    chosen = rng.choice(len(clips), size=round(spec.reverb_share * len(clips)), replace=False)
    for i in sorted(int(c) for c in chosen):
        if real.rirs:
            k = int(rng.integers(len(real.rirs)))
            rir, name = real.rirs[k], real.names["rir"][k]
        else:
            rir, name = room_impulse_response(rng, spec.augment), "synthetic shoebox"
        clips[i] = reverberate(signals.as_float32(clips[i]), rir)
        rooms[i] = {"room": "reverb", "rir": name}
    return rooms


def write_eval_set(
    spec: EvalSpec,
    role: str,
    voices: Sequence[Voice],
    real: RealAudio,
    corpus: Path,
    tts_babble: Sequence[np.ndarray],
    workers: int,
    ray: str | None = None,
) -> None:
    """Write ``eval/<role>/`` (skipping a manifest that exists: resumable).

    ``voices`` are the role's own voices; ``real`` its own recordings; ``tts_babble`` speech for
    babble when the role has no real speech. Speech is synthesized on ``workers`` processes, or
    as Ray tasks on the cluster ``ray`` (:func:`training.core.ray_pool.open_pool`).
    """
    positives_path, negatives_path = manifests(corpus, role)
    seed = spec.seed + 1000 * (ROLES.index(role) + 1)
    rng = np.random.default_rng(seed)
    speech = real.by_kind.get("speech", ())
    babble = _babble(speech, rng) if speech else functools.partial(signals.babble, tts_babble)
    music = recording_source(real.by_kind["music"]) if real.by_kind.get("music") else None
    ambient = recording_source(real.by_kind["ambient"]) if real.by_kind.get("ambient") else None
    with open_pool(workers, ray) as pool:
        if not positives_path.is_file() and spec.positives:
            pairs = prosody_grid(voices, len(spec.positives), seed + 101)
            items = _items(spec.positives, pairs, seed)
            within = [(*i, s.before, s.after) for i, s in zip(items, spec.positives, strict=True)]
            spoken = pool.imap(_speak_within, within, SPEAK_BATCH)
            said = list(tqdm(spoken, total=len(items), desc=f"{role} positives"))
            clips = [audio for audio, _ in said]
            rooms = _reverberate_share(clips, spec, real, rng)
            infos = [
                {
                    "voice": v.name, "engine": v.engine, "text": s.text,
                    **({"read": text} if text != s.text else {}),
                    **({"label": s.label} if s.label else {}),
                    **({"apart": True} if s.apart else {}),
                    **({"context": "sentence", "before": s.before, "after": s.after,
                        "keyword_s": list(span)} if span else {}),
                    "ipa": ipa, **room, **asdict(p),
                }
                for s, (text, v, p, ipa), room, (_, span) in zip(
                    spec.positives, items, rooms, said, strict=True
                )
            ]  # fmt: skip
            backgrounds: dict[str, signals.Background] = {"noise": pink_or_brown, "babble": babble}
            if spec.music_behind_positives:
                backgrounds["music"] = music or signals.music
            if ambient is not None:
                backgrounds["ambient"] = ambient
            write_positive_streams(
                list(zip(clips, infos, strict=True)),
                backgrounds,
                positives_path.parent,
                seed=seed,
                snrs_db=spec.snrs_db,
            )
        if not negatives_path.is_file() and spec.negative_hours > 0:
            said = [(kind, s) for kind, group in spec.negatives.items() for s in group]
            pairs = prosody_grid(voices, len(said), seed + 202)
            items = _items([s for _, s in said], pairs, seed)
            speaking = pool.imap(_speak, items, SPEAK_BATCH)
            spoken = list(tqdm(speaking, total=len(items), desc=f"{role} speech"))
            sources: dict[str, NegativeSource] = {}
            for (kind, _), audio in zip(said, spoken, strict=True):
                sources.setdefault(kind, []).append(audio)  # type: ignore[union-attr]
            sources.update(
                {"babble": babble, "music": signals.music, "pink": signals.pink,
                 "white": signals.white, "silence": signals.silence}
            )  # fmt: skip
            sources.update(recorded_sources(real))
            print(f"writing {spec.negative_hours:g} h of {role} negative streams")
            write_negative_streams(sources, negatives_path.parent, spec.negative_hours, seed + 303)


def write_eval_sets(
    spec: EvalSpec,
    voices_by_split: Mapping[str, Sequence[Voice]],
    recordings: Path | None,
    corpus: Path,
    tts_babble: Sequence[np.ndarray],
    workers: int,
    ray: str | None = None,
) -> dict[str, Any]:
    """The validation and the test set of a corpus (see the module docstring)."""
    summary = {}
    keywords = sorted({s.text for s in spec.positives})
    for role in ROLES:
        done = all(p.is_file() for p in manifests(corpus, role))
        real = RealAudio() if done else load_real(recordings, role, spec.seed, keywords)
        write_eval_set(spec, role, voices_by_split[role], real, corpus, tts_babble, workers, ray)
        summary[role] = describe(corpus, role)
    return summary


def describe(corpus: Path, role: str) -> dict[str, Any]:
    """What an evaluation set holds, read from its manifests: positives by engine, voice count,
    background and room (a wake word's own: other wake words it says are counted apart); negative
    hours by kind."""
    positives_path, negatives_path = manifests(corpus, role)
    out: dict[str, Any] = {}
    if positives_path.is_file():
        data = json.loads(positives_path.read_text())
        first_snr = [e for s in data["streams"] if s["snr_db"] == data["snrs_db"][0]
                     for e in s["events"]]  # fmt: skip
        out["positives"] = data["num_positives"]
        others = [e for e in first_snr if e["info"].get("apart")]  # other devices' wake words
        if others:
            out["other_wake_words"] = dict(Counter(e["label"] for e in others))
            first_snr = [e for e in first_snr if not e["info"].get("apart")]
            out["positives"] = len(first_snr)
        out["snrs_db"] = data["snrs_db"]
        out["positives_by_engine"] = dict(Counter(e["info"].get("engine") for e in first_snr))
        out["voices_by_engine"] = {
            engine: len({e["voice"] for e in first_snr if e["info"].get("engine") == engine})
            for engine in out["positives_by_engine"]
        }
        out["positives_by_room"] = dict(Counter(e["info"].get("room") for e in first_snr))
        out["backgrounds"] = data["backgrounds"]
        out["positive_stream_hours"] = round(data["total_duration_s"] / 3600, 3)
    if negatives_path.is_file():
        data = json.loads(negatives_path.read_text())
        hours: Counter[str] = Counter()
        for f in data["files"]:
            hours.update(f["seconds_by_kind"])
        out["negative_hours"] = round(data["hours"], 3)
        out["negative_hours_by_kind"] = {k: round(v / 3600, 3) for k, v in sorted(hours.items())}
    return out
