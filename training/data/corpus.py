"""The built-in wake-word corpus: a plan of clips (who says what, how, with which seed) and the
work that renders one clip. :mod:`training.data.generate` runs the plan on every core.

Every clip is a fixed-length 16 kHz int16 WAV whose content ends near the end of the window
(detectors fire at the end of a word). Voices are split by speaker, so test and validation clips
are spoken by voices that training never hears. Each clip has its own seed: the same corpus seed
gives byte-identical clips whichever worker renders them, and a rerun skips finished clips.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.wavfile import write_wav
from training.data import signals
from training.data.augment import AugmentConfig, augment
from training.data.phonetic import confusable_phrases, span_phrases
from training.data.pronunciation import parse_pronunciation, pick_pronunciation
from training.data.speaker_augment import speaker_augment
from training.data.text_corpus import TEXT_SOURCES, context_words, sentences, unseen, words
from training.data.tts import (
    ENGINES,
    Prosody,
    Voice,
    list_voices,
    prosody_grid,
    split_voices,
    synthesize,
    synthesize_within,
)

SPLITS = ("train", "validation", "test")
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}
BACKGROUND_LABEL = "_background_"
TTS_KINDS = ("positive", "confusable", "speech")
NOISE_KINDS = ("white", "pink", "brown", "babble")
REAL_KINDS = ("speech", "music", "ambient")
"""Kinds of real recordings cut into clips and mixed in as backgrounds."""
END_MARGIN_S = (0.05, 0.3)  # the spoken phrase ends this long before the clip's end
CONTEXT_PAUSE_S = (0.02, 0.25)
"""Pause between a training keyword and the words around it (drawn per clip): from running
speech to a short breath. The evaluation sets' is fixed (eval_sets.WORD_PAUSE_S)."""
EVAL_SEED = 202
"""Offset of the evaluation sets' text seed from the corpus seed."""
SENTENCE_SEED = 505
"""Offset of the seed choosing which training clips are said inside sentences."""
RENDER_VERSION = 1
"""Part of every clip's store key (:func:`clip_key`): raise it when rendering changes, so that
corpora rendered after the change do not take clips rendered before it."""
CONFUSABLE_PHRASES = 300
"""Distinct confusable phrases the training clips cycle through."""
OTHER_WAKE_EVERY = 8
"""With ``other_wake_words``, one training look-alike clip in this many says one of them."""


@dataclass(frozen=True)
class CorpusConfig:
    """What to generate; every count is a number of clips over all splits."""

    keyword: str
    seed: int = 0
    positives: int = 6000
    confusables: int = 4000
    speech: int = 4000
    noise: int = 2500
    music: int = 2000
    silence: int = 1500
    clip_seconds: float = 1.5
    engines: tuple[str, ...] = ENGINES
    """TTS engines whose voices speak (all four by default; each must be installed)."""
    eval_engines: tuple[str, ...] = ()
    """Engines whose held-out voices speak the evaluation sets; empty: ``engines``. An engine
    named here but not in ``engines`` is one that training never hears: train on the fast
    engines, and measure on a neural voice family the model has no chance to have learned."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    recordings: str | None = None
    """Folder of real recordings (``python -m training.data recordings``): clips of each split
    are cut from, and mixed with, that split's real speech, music and ambience, and each
    evaluation set mixes in its own split's recordings and room impulse responses."""
    recorded: int = 3000
    """Clips cut from the real recordings of their own split (label ``_background_``); only
    with ``recordings``."""
    eval_positives: int = 150
    """Held-out utterances in each evaluation set (validation voices, and test voices)."""
    eval_snrs_db: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 30.0)
    eval_negative_hours: float = 6.0
    """Hours of keyword-free audio in each evaluation set. Six, not two: at a 1 FA/h target two
    hours allow one false accept on validation and three on test (the build limit of 2 FA/h),
    so Poisson noise alone failed builds; six allow six and twelve."""
    eval_sentences: int = 250
    """Distinct TTS sentences (held-out voices) that the negative streams' speech is drawn from.
    Training speaks none of them, so changing the count changes the training sentences too; at
    six hours each is heard about three times, at random levels and places."""
    span_confusables: int = 0
    """Distinct look-alikes across a word boundary ("an extension" for alexa;
    :func:`training.data.phonetic.span_phrases`) added to the CONFUSABLE_PHRASES that the
    training look-alike clips cycle through (the clip count stays ``confusables``). Up to this
    many: a keyword of several words gets few or none. The evaluation sets keep their phrases,
    so a corpus with them is measured on the same streams as one without."""
    text_sources: tuple[str, ...] = ("docs",)
    """Where the spoken sentences (training speech and the evaluation sets') come from
    (:data:`training.data.text_corpus.TEXT_SOURCES`): ``docs``, licences and changelogs under
    /usr/share; ``wordnet``, WordNet's 40,000 usage examples, everyday English that the docs
    lack ("let's", "she left"). Both: drawn from their union, which WordNet outnumbers about
    2.5 to 1."""
    eval_confusables: int = 150
    """Distinct confusable phrases (held-out voices) in the negative streams."""
    eval_reverb_share: float = 0.25
    """Fraction of evaluation positives convolved with a room impulse response."""
    in_sentences: float = 0.0
    """Share of the training positives (of each split's clips) said inside a sentence: two to
    five words of a training sentence by the same voice before or after the phrase, the clip
    placed by the phrase's end (see the command corpus's ``in_sentences``)."""
    in_sentences_twins: bool = False
    """Keep every positive alone and add its sentence form beside it (a twin: same voice,
    settings and seed, its own clip) instead of replacing it: the model hears the word alone as
    often as without sentences (see :func:`with_twins`)."""
    eval_in_sentences: float = 0.0
    """Share of the evaluation positives said inside a sentence, words of the same voice before
    or after the phrase ("hey jarvis | turn the lights on"), not alone (the positive streams
    report FRR per ``context``)."""
    pronunciation: tuple[str, ...] = ()
    """IPA alternatives the keyword is spoken as (training.data.pronunciation), e.g.
    ("hˈeɪ mˈaɪkɹɒft",); empty: espeak-ng's reading of the text. A string "a|b" is accepted."""
    respelling: str = ""
    """What voices that cannot take ``pronunciation`` read instead of the keyword (flite, and
    non-English espeak-ng voices lacking one of its phonemes), spelled so they say it right:
    flite reads "hey mycroft" as "hey mick-rəft" and "hey my croft" as wanted. Empty: they
    read the keyword."""
    other_wake_words: tuple[str, ...] = ()
    """Wake phrases of models meant to run beside this one (the other shipped wake words), each
    "text" or "text=IPA|IPA": one training look-alike clip in ``OTHER_WAKE_EVERY`` says one, and
    each evaluation set's positive streams hold ``eval_other_wake_words`` utterances of them by
    held-out voices, labelled as theirs and counted apart: a firing on one is reported per
    phrase, not in the FA/h (benchmarks.streams.Positive.apart). Empty: neither (corpora made
    before this key)."""
    eval_other_wake_words: int = 60
    """Utterances of the other wake words in each evaluation set (in turn), each embedded in
    every background and SNR as the keyword's are."""
    babble_twins: float = 0.0
    """Share of each split's TTS clips (positives, look-alikes, sentences; a seeded choice) that
    get a twin over babble of real recorded speech (same voice, settings and seed, its own
    clip; :func:`with_condition_twins`): the evaluation sets' babble is 3-8 real talkers, the
    augmentation's one ten-second babble of TTS voices. Needs ``recordings``."""
    babble_snr_db: tuple[float, float] = (0.0, 10.0)
    """SNR range of the babble twins (drawn per clip)."""
    hall_twins: float = 0.0
    """Share of each split's TTS clips that get a twin always reverberated in a large synthetic
    room (:data:`HALL_SIZE_M`, RT60 in ``hall_rt60_s``, late tail): the test split's real rooms
    are a stairwell and a hall ringing 1.3-3.5 s with the direct sound 13-14 dB under the
    reverberation, training's rooms ring at most 1.5 s and only half the clips go through one."""
    hall_rt60_s: tuple[float, float] = (1.0, 3.0)
    """RT60 range of the hall twins' rooms, seconds."""
    onset_twins: float = 0.0
    """Share of each split's sentence (``speech``) clips that get a twin made of how the
    sentence begins: silence, then its first ``onset_s`` seconds of speech, the clip ending
    there, mid-word, as a positive clip ends just after its phrase. A wake word hears the start
    of every utterance after a pause this way; ordinary speech clips are windows from inside
    sentences, so without these it learns "a short word after silence" (the stop-42 alexa fired
    on 7 of 12 held-out voices saying "Let's watch the documentary." and on 1 of 12 saying it
    mid-sentence)."""
    onset_s: tuple[float, float] = (0.3, 1.2)
    """How much of the sentence's speech the onset twins keep, seconds (drawn per clip)."""

    def __post_init__(self) -> None:
        if not self.keyword.strip():
            raise ValueError("keyword must not be empty")
        for key in ("in_sentences", "eval_in_sentences"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key} must be within [0, 1]")
        if self.in_sentences_twins and not self.in_sentences:
            raise ValueError("in_sentences_twins needs a share of in_sentences above 0")
        for condition, key in TWIN_CONDITIONS.items():
            if not 0 <= getattr(self, f"{condition}_twins") <= 1:
                raise ValueError(f"{condition}_twins must be within [0, 1]")
            low_high = tuple(getattr(self, key))
            object.__setattr__(self, key, low_high)
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ValueError(f"{key} must be (low, high), got {low_high}")
        if self.babble_twins and not self.recordings:
            raise ValueError("babble_twins mixes real recorded speech: set recordings too")
        if self.hall_rt60_s[0] <= 0:
            raise ValueError(f"hall_rt60_s must be > 0, got {self.hall_rt60_s}")
        if self.onset_twins and not (self.onset_s[0] > 0 and self.onset_s[1] < self.clip_seconds):
            raise ValueError(f"onset_s must lie within (0, clip_seconds), got {self.onset_s}")
        object.__setattr__(self, "pronunciation", parse_pronunciation(self.pronunciation))
        object.__setattr__(self, "eval_engines", tuple(self.eval_engines))
        object.__setattr__(self, "text_sources", tuple(self.text_sources))
        unknown = set(self.text_sources) - set(TEXT_SOURCES)
        if unknown or not self.text_sources:
            raise ValueError(
                f"text_sources must be some of {', '.join(TEXT_SOURCES)}, got {self.text_sources}"
            )
        object.__setattr__(self, "other_wake_words", tuple(self.other_wake_words))
        self.others()  # a malformed or clashing phrase fails here, before any rendering
        counts = (self.positives, self.confusables, self.speech, self.noise, self.music)
        counts = (*counts, self.span_confusables)
        evals = (self.eval_positives, self.eval_other_wake_words)
        if min(*counts, self.silence, self.recorded, *evals) < 0:
            raise ValueError("counts must be >= 0")
        if self.respelling and not self.pronunciation:
            raise ValueError("respelling is what voices say instead of a pronunciation: set both")
        if self.clip_seconds <= 0.5:
            raise ValueError("clip_seconds must be > 0.5")
        if not 0 <= self.eval_reverb_share <= 1:
            raise ValueError("eval_reverb_share must be within [0, 1]")

    @property
    def label(self) -> str:
        """The keyword's label: lower case, words joined by underscores ('hey_jarvis')."""
        return "_".join(self.keyword.lower().split())

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * signals.SAMPLE_RATE)

    def others(self) -> list[tuple[str, tuple[str, ...]]]:
        """``other_wake_words`` as (text, IPA alternatives); ValueError naming a phrase that is
        empty or says this keyword."""
        parsed = []
        own = words(self.keyword)
        for entry in self.other_wake_words:
            text, _, ipa = entry.partition("=")
            said = words(text)
            if not said:
                raise ValueError(f"other wake word {entry!r} has no words")
            if any(said[i : i + len(own)] == own for i in range(len(said) - len(own) + 1)):
                raise ValueError(f"other wake word {text.strip()!r} says the keyword itself")
            parsed.append((" ".join(said), parse_pronunciation(ipa) if ipa.strip() else ()))
        return parsed

    @property
    def evaluation_engines(self) -> tuple[str, ...]:
        """The engines of the evaluation sets' voices (``eval_engines``, else ``engines``)."""
        return self.eval_engines or self.engines


@dataclass(frozen=True)
class ClipJob:
    """One clip to render: everything needed, nothing shared but the background pool."""

    id: str
    kind: str
    """positive, confusable, speech, white/pink/brown/babble, music or silence."""
    label: str
    split: str
    seed: int
    text: str | None = None
    voice: Voice | None = None
    prosody: Prosody | None = None
    path: str | None = None
    """Where the clip goes, relative to the corpus; default ``clips/<split>/<kind>/<id>.wav``."""
    source: str | None = None
    """A ``recorded`` clip's recording, ``<path in the recordings folder>@<offset seconds>``."""
    ipa: str | None = None
    """The pronunciation spoken instead of the engine's reading of ``text`` (None: the text)."""
    before: str = ""
    after: str = ""
    """Words the same voice says before and after ``text`` (a keyword inside a sentence); the
    clip is placed by the keyword's end, not the sentence's."""
    twin: str = ""
    """The condition of a twin of another clip (:func:`with_condition_twins`): "babble", mixed
    over babble of the split's real recorded speech at the corpus's ``babble_snr_db`` instead of
    augmentation's random background; "hall", always reverberated in a large room ringing for
    ``hall_rt60_s``."""

    @property
    def relpath(self) -> str:
        return self.path or f"clips/{self.split}/{self.kind}/{self.id}.wav"

    def row(self) -> dict[str, Any]:
        """The manifest line for this clip."""
        return {
            "id": self.id,
            "path": self.relpath,
            "label": self.label,
            "kind": self.kind,
            "split": self.split,
            "seed": self.seed,
            "text": self.text,
            "voice": asdict(self.voice) if self.voice else None,
            "prosody": asdict(self.prosody) if self.prosody else None,
            "ipa": self.ipa,
            **({"source": self.source} if self.source else {}),
            **({"before": self.before} if self.before else {}),
            **({"after": self.after} if self.after else {}),
            **({"twin": self.twin} if self.twin else {}),
        }


def clip_seed(seed: int, clip_id: str) -> int:
    digest = hashlib.sha256(f"{seed}/{clip_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def split_counts(total: int) -> dict[str, int]:
    counts = {s: int(total * SPLIT_SHARES[s]) for s in SPLITS}
    counts["train"] += total - sum(counts.values())
    return counts


def voices_by_split(config: CorpusConfig) -> dict[str, list[Voice]]:
    return split_voices(list_voices(tuple(config.engines)), seed=config.seed)


def eval_voices_by_split(config: CorpusConfig) -> dict[str, list[Voice]]:
    """Voices by split for the evaluation sets: each engine of ``evaluation_engines`` is split
    by speaker as in :func:`voices_by_split`, so an engine that training also uses keeps its
    validation and test voices apart from its training voices."""
    return voices_by_split(replace(config, engines=config.evaluation_engines))


def eval_texts(config: CorpusConfig) -> tuple[list[str], list[str]]:
    """The sentences and confusable phrases the evaluation sets speak (training never does)."""
    texts = sentences(
        config.keyword, config.eval_sentences, config.seed + EVAL_SEED,
        sources=config.text_sources,
    )  # fmt: skip
    phrases = confusable_phrases(
        config.keyword, config.eval_confusables, config.seed + EVAL_SEED, config.pronunciation
    )
    return texts, phrases


def twin_of(job: ClipJob, suffix: str, **changes: Any) -> ClipJob:
    """``job`` with ``changes`` as a twin of it: its own id (``<id>-<suffix>``) and file
    (``<name>_<suffix>.wav``), everything else kept."""
    path = job.path.removesuffix(".wav") + f"_{suffix}.wav" if job.path else None
    return replace(job, id=f"{job.id}-{suffix}", path=path, **changes)


def with_twins(alone: Sequence[ClipJob], within: Sequence[ClipJob]) -> list[ClipJob]:
    """The jobs of ``alone`` and, after them, every job of ``within`` (the same plan with
    words inside sentences) that differs from its twin in ``alone``: same voice, settings and
    seed, its own id (``<id>-within``) and file (``<name>_within.wav``). The clips alone are
    exactly those of the plan without sentences, so a corpus grows into one with twins by
    rendering only the twins."""
    # the two plans differ only in the words around a keyword: same ids, paths and seeds
    twins = [twin_of(w, "within") for a, w in zip(alone, within, strict=True) if w != a]
    return [*alone, *twins]


def planned_with_twins(config: Any, plan_of: Callable[[Any], list[ClipJob]]) -> list[ClipJob]:
    """``plan_of(config)``, or with ``config.in_sentences_twins`` the plan without sentences and
    then the twins of its clips said inside sentences (a wake-word or a command corpus)."""
    if not config.in_sentences_twins:
        return plan_of(config)
    alone = plan_of(replace(config, in_sentences=0.0, in_sentences_twins=False))
    return with_twins(alone, plan_of(replace(config, in_sentences_twins=False)))


TWIN_CONDITIONS = {"babble": "babble_snr_db", "hall": "hall_rt60_s", "onset": "onset_s"}
"""Conditions a corpus can render a share of its TTS clips again in (its ``<condition>_twins``
share), each with the (low, high) range setting it draws from."""
TWIN_KINDS = {"onset": ("speech",)}
"""The kinds of clip a condition twins where not every TTS kind (default :data:`TTS_KINDS`)."""


def with_condition_twins(
    jobs: Sequence[ClipJob], condition: str, share: float, seed: int
) -> list[ClipJob]:
    """The jobs of ``jobs`` and, after them, a twin in ``condition`` of ``share`` of their TTS
    clips (:data:`TWIN_KINDS`) that are no twins themselves (a seeded choice per clip): same
    voice, settings and seed, its own id (``<id>-<condition>``) and file. The clips before are
    untouched, so a corpus grows into one with twins by rendering only the twins."""
    kinds = TWIN_KINDS.get(condition, TTS_KINDS)
    twins = [
        twin_of(j, condition, twin=condition) for j in jobs
        if j.kind in kinds and not j.twin
        and clip_seed(seed, f"{j.id}/{condition}") % 10_000 < share * 10_000
    ]  # fmt: skip
    return [*jobs, *twins]


def plan(config: CorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, in a fixed order (deterministic for a config); with
    ``in_sentences_twins`` the clips alone and then the twins said inside sentences, then with
    ``babble_twins``, ``hall_twins`` and ``onset_twins`` the twins in those conditions."""
    jobs = planned_with_twins(config, _plan)
    if config.babble_twins and config.recordings:
        for split in SPLITS:  # a split without speech fails here, before any clip is rendered
            babble_talker_files(config.recordings, split)
    for condition in TWIN_CONDITIONS:
        share = getattr(config, f"{condition}_twins")
        if share:
            jobs = with_condition_twins(jobs, condition, share, config.seed)
    return jobs


def _plan(config: CorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, in a fixed order (deterministic for a config).

    No sentence or confusable phrase of the evaluation sets is spoken, but for the keyword's own
    words alone ("jarvis"), which both must have, as both have the keyword.
    """
    voices = voices_by_split(config)
    held_texts, held_phrases = eval_texts(config)
    count = CONFUSABLE_PHRASES + len(held_phrases)
    phrases = unseen(
        confusable_phrases(config.keyword, count, config.seed, config.pronunciation),
        held_phrases, CONFUSABLE_PHRASES, keep=words(config.keyword),
    )  # fmt: skip
    if config.span_confusables:
        spans = span_phrases(
            config.keyword, config.span_confusables + len(held_phrases), config.seed,
            config.pronunciation,
        )  # fmt: skip
        spans = [t for t in spans if t not in held_phrases and t not in phrases]
        phrases += spans[: config.span_confusables]
    texts = sentences(
        config.keyword, max(config.speech, 1), config.seed, avoid=held_texts,
        sources=config.text_sources,
    )  # fmt: skip
    others = config.others()
    jobs: list[ClipJob] = []

    def add(kind: str, label: str, split: str, **extra: Any) -> None:
        clip_id = f"{kind}-{split}-{sum(j.kind == kind for j in jobs):06d}"
        jobs.append(ClipJob(clip_id, kind, label, split, clip_seed(config.seed, clip_id), **extra))

    text_index = 0
    for offset, split in enumerate(SPLITS):
        tts_counts = {
            "positive": split_counts(config.positives)[split],
            "confusable": split_counts(config.confusables)[split],
            "speech": split_counts(config.speech)[split],
        }
        grid = prosody_grid(voices[split], sum(tts_counts.values()), config.seed + offset)
        pairs = iter(grid)
        arounds = context_words(
            tts_counts["positive"], config.in_sentences, texts, config.seed + SENTENCE_SEED + offset
        )
        for before, after in arounds:
            voice, prosody = next(pairs)
            said = pick_pronunciation(config.pronunciation, voice, config.seed, len(jobs))
            text = config.respelling if said is None and config.respelling else config.keyword
            add("positive", config.label, split, text=text, voice=voice,
                prosody=prosody, ipa=said, before=before, after=after)  # fmt: skip
        for i in range(tts_counts["confusable"]):
            voice, prosody = next(pairs)
            if others and i % OTHER_WAKE_EVERY == OTHER_WAKE_EVERY - 1:
                text, ipas = others[(i // OTHER_WAKE_EVERY) % len(others)]
                said = pick_pronunciation(ipas, voice, config.seed, len(jobs))
                add("confusable", BACKGROUND_LABEL, split, text=text, voice=voice,
                    prosody=prosody, ipa=said)  # fmt: skip
                continue
            text = phrases[(i * 7 + offset) % len(phrases)]
            add("confusable", BACKGROUND_LABEL, split, text=text, voice=voice, prosody=prosody)
        for _ in range(tts_counts["speech"]):
            voice, prosody = next(pairs)
            add(
                "speech",
                BACKGROUND_LABEL,
                split,
                text=texts[text_index],
                voice=voice,
                prosody=prosody,
            )
            text_index += 1
        for i in range(split_counts(config.noise)[split]):
            add(NOISE_KINDS[i % len(NOISE_KINDS)], BACKGROUND_LABEL, split)
        for _ in range(split_counts(config.music)[split]):
            add("music", BACKGROUND_LABEL, split)
        for _ in range(split_counts(config.silence)[split]):
            add("silence", BACKGROUND_LABEL, split)
        if config.recordings:
            for source in recorded_windows(config, split, split_counts(config.recorded)[split]):
                add("recorded", BACKGROUND_LABEL, split, source=source)
    return jobs


def recorded_windows(config: CorpusConfig, split: str, count: int) -> list[str]:
    """``count`` clip-long windows of the split's real speech, music and ambience (the kinds in
    turn; files drawn by length; none of a recording whose transcript says the keyword), as
    ``path@offset``."""
    from training.data.recordings import load_index, saying_none_of

    assert config.recordings is not None
    entries = saying_none_of(
        [e for e in load_index(config.recordings)
         if e.split == split and e.kind in REAL_KINDS and e.seconds > config.clip_seconds],
        [config.keyword],
    )  # fmt: skip
    kinds = sorted({e.kind for e in entries})
    if count and not kinds:
        raise KwsError(f"{config.recordings}: no {split} speech, music or ambience recordings")
    rng = np.random.default_rng(clip_seed(config.seed, f"recorded-{split}"))
    windows = []
    for i in range(count):
        group = [e for e in entries if e.kind == kinds[i % len(kinds)]]
        weights = np.array([e.seconds for e in group])
        entry = group[int(rng.choice(len(group), p=weights / weights.sum()))]
        offset = rng.uniform(0.0, entry.seconds - config.clip_seconds)
        windows.append(f"{entry.path}@{offset:.3f}")
    return windows


def read_window(recordings: str, source: str, seconds: float) -> np.ndarray:
    """float32 samples of a ``path@offset`` window (the recordings are 16 kHz mono)."""
    import soundfile

    path, _, offset = source.rpartition("@")
    start = round(float(offset) * signals.SAMPLE_RATE)
    frames = round(seconds * signals.SAMPLE_RATE)
    audio, _ = soundfile.read(Path(recordings, path), frames=frames, start=start, dtype="float32")
    return np.pad(audio, (0, frames - len(audio)))


# ---- rendering (runs in worker processes) ---------------------------------------------------


@functools.cache
def background_pool(
    seed: int, engines: tuple[str, ...], recordings: str | None = None, split: str = "train"
) -> tuple[np.ndarray, ...]:
    """Ten-second backgrounds every worker builds identically: coloured noise, music, babble,
    and with ``recordings`` four excerpts of each real kind of ``split``'s recordings.

    Babble is made from training voices speaking corpus sentences, so it is real speech.
    """
    rng = np.random.default_rng(seed)
    pool = [signals.BACKGROUNDS[k](10.0, rng) for k in ("white", "pink", "brown", "music")]
    pool.append(signals.babble(babble_speech(seed, engines), 10.0, rng))
    if recordings:
        config = CorpusConfig(keyword="unused", seed=seed, recordings=recordings, clip_seconds=10.0)
        count = 4 * len(REAL_KINDS)
        pool += [read_window(recordings, w, 10.0) for w in recorded_windows(config, split, count)]
    return tuple(pool)


HALL_SIZE_M = (8.0, 25.0)
HALL_HEIGHT_M = (3.0, 8.0)
"""Length and width, and height, of the hall twins' rooms, metres."""
BABBLE_POOL = 24
"""Ten-second babbles of real speech that babble twins draw their background from, per split."""
BABBLE_TALKER_FILES = 400
"""Recordings of the split's speech (a seeded choice) that the babbles' talkers speak."""


def babble_talker_files(recordings: str, split: str) -> list[Path]:
    """The recordings of ``split``'s real speech that babble twins are made of; a split without
    any is a one-line error."""
    from training.data.recordings import recordings as split_recordings

    paths = split_recordings(recordings, split, "speech")
    if not paths:
        raise KwsError(f"{recordings}: no {split} speech recordings to make babble twins of")
    return paths


@functools.cache
def real_babble_pool(recordings: str, split: str, seed: int) -> tuple[np.ndarray, ...]:
    """:data:`BABBLE_POOL` babbles of 3-8 talkers each, cut from ``split``'s real recorded
    speech (each worker builds them identically)."""
    from kws.wavfile import load_audio

    rng = np.random.default_rng(clip_seed(seed, f"babble-{split}"))
    paths = babble_talker_files(recordings, split)
    chosen = rng.choice(len(paths), min(len(paths), BABBLE_TALKER_FILES), replace=False)
    talkers = [load_audio(paths[int(i)], signals.SAMPLE_RATE) for i in sorted(chosen)]
    talkers = [t for t in talkers if len(t)]
    return tuple(signals.babble(talkers, 10.0, rng) for _ in range(BABBLE_POOL))


@functools.cache
def split_rirs(recordings: str, split: str) -> tuple[np.ndarray, ...]:
    """The real impulse responses of ``split`` that its clips are reverberated with (each worker
    loads them once)."""
    from training.data.recordings import impulse_responses

    return tuple(impulse_responses(recordings, split))


@functools.cache
def babble_speech(seed: int, engines: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """A dozen sentences spoken by training voices, for babble noise."""
    config = CorpusConfig(keyword="unused", seed=seed, engines=engines)
    train_voices = voices_by_split(config)["train"]
    pairs = prosody_grid(train_voices, 12, seed + 17)
    texts = sentences("", 12, seed + 17)
    return tuple(synthesize(t, v, p) for t, (v, p) in zip(texts, pairs, strict=True))


def active_span(audio: np.ndarray, frame: int = 160, drop_db: float = 20.0) -> tuple[int, int]:
    """Sample indices where speech starts and ends: the first and the end of the last 10 ms
    frame within ``drop_db`` of the loudest frame (TTS voices can trail off in long low-level
    tails that silence trimming keeps)."""
    usable = len(audio) - len(audio) % frame
    if usable == 0:
        return 0, len(audio)
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, frame), dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-drop_db / 20))
    if not len(loud):
        return 0, len(audio)
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


def active_end(audio: np.ndarray, frame: int = 160, drop_db: float = 20.0) -> int:
    """Sample index where speech ends (:func:`active_span`)."""
    return active_span(audio, frame, drop_db)[1]


ONSET_LEAD_S = 0.05
"""Quiet kept before an onset twin's first loud frame: the breath and consonant lead-in."""


def _fit_onset(
    audio: np.ndarray, n: int, rng: np.random.Generator, seconds: tuple[float, float]
) -> np.ndarray:
    """An ``n``-sample canvas of silence ending in how ``audio`` begins: from just before its
    first loud frame to ``seconds`` (drawn) after it, cut there, mid-word."""
    start, _ = active_span(audio)
    lead = round(ONSET_LEAD_S * signals.SAMPLE_RATE)
    stop = start + round(rng.uniform(*seconds) * signals.SAMPLE_RATE)
    return _keep_end(audio[max(0, start - lead) : stop][-n:], n, rng)


def _fit_end(
    audio: np.ndarray, n: int, rng: np.random.Generator, end: int | None = None
) -> np.ndarray:
    """Place ``audio`` on an ``n``-sample canvas so that its speech (or the phrase ending at
    sample ``end``) ends END_MARGIN_S before the canvas ends; what follows is kept up to the end
    of the canvas."""
    margin = round(rng.uniform(*END_MARGIN_S) * signals.SAMPLE_RATE)
    start = (n - margin) - (active_end(audio) if end is None else end)
    if start < 0:  # longer than the window: keep the end of the phrase
        audio, start = audio[-start:], 0
    canvas = np.zeros(n, dtype=np.float32)
    piece = audio[: n - start]
    canvas[start : start + len(piece)] = piece
    return canvas


def _fit_window(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n``-sample window of ``audio`` (zero-padded at a random place if shorter)."""
    if len(audio) >= n:
        start = int(rng.integers(0, len(audio) - n + 1))
        return audio[start : start + n]
    canvas = np.zeros(n, dtype=np.float32)
    start = int(rng.integers(0, n - len(audio) + 1))
    canvas[start : start + len(audio)] = audio
    return canvas


def _within_sentence(
    job: ClipJob, config: CorpusConfig, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """The job's keyword with its words around it, speaker-augmented as one utterance, and the
    sample where the keyword's speech ends (scaled with the tempo change)."""
    assert job.text is not None and job.voice is not None and job.prosody is not None
    pause_s = rng.uniform(*CONTEXT_PAUSE_S)
    speech, (start, stop) = synthesize_within(
        job.text, job.voice, job.prosody, job.ipa, job.before, job.after, pause_s
    )
    end = start + active_end(speech[start:stop])
    changed = speaker_augment(speech, rng, config.augment)
    return changed, round(end * len(changed) / len(speech))


def _source(job: ClipJob, config: CorpusConfig, rng: np.random.Generator) -> np.ndarray:
    n = config.clip_samples
    seconds = config.clip_seconds
    if job.kind in TTS_KINDS:
        assert job.text is not None and job.voice is not None and job.prosody is not None
        if job.before or job.after:
            speech, end = _within_sentence(job, config, rng)
            return _fit_end(speech, n, rng, end)
        speech = synthesize(job.text, job.voice, job.prosody, job.ipa)
        speech = speaker_augment(speech, rng, config.augment)  # before the phrase is placed
        if job.twin == "onset":
            return _fit_onset(speech, n, rng, config.onset_s)
        fit = _fit_window if job.kind == "speech" else _fit_end
        return fit(speech, n, rng)
    if job.kind == "recorded":
        assert config.recordings is not None and job.source is not None
        return read_window(config.recordings, job.source, seconds)
    if job.kind == "babble":
        return signals.babble(babble_speech(config.seed, config.engines), seconds, rng)
    return signals.BACKGROUNDS[job.kind](seconds, rng)


def render(job: ClipJob, config: CorpusConfig) -> np.ndarray:
    """The clip's int16 samples (exactly clip_samples long)."""
    rng = np.random.default_rng(job.seed)
    audio = _source(job, config, rng)
    backgrounds: Sequence[np.ndarray] = ()
    augment_config = config.augment
    if job.kind in TTS_KINDS:
        backgrounds = background_pool(config.seed, config.engines, config.recordings, job.split)
        augment_config = config.augment.after_speaker_step()
    if job.twin == "babble":
        assert config.recordings is not None
        backgrounds = real_babble_pool(config.recordings, job.split, config.seed)
        augment_config = replace(augment_config, noise_p=1.0, snr_db=config.babble_snr_db)
    elif job.twin == "hall":
        augment_config = replace(
            augment_config, reverb_p=1.0, real_rir_p=0.0, late_reverb=True,
            rt60_s=config.hall_rt60_s, room_size_m=HALL_SIZE_M, room_height_m=HALL_HEIGHT_M,
        )  # fmt: skip
    rirs: Sequence[np.ndarray] = ()
    if config.recordings and augment_config.real_rir_p > 0:
        rirs = split_rirs(config.recordings, job.split)
    augmented = augment(audio, rng, augment_config, backgrounds, rirs)
    fit: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
    ends = job.kind in ("positive", "confusable") or job.twin == "onset"
    fit = _keep_end if ends else _fit_window
    return signals.to_int16(fit(augmented, config.clip_samples, rng))


def _keep_end(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Back to ``n`` samples after augmentation changed the length, the phrase still at the end.

    Augmentation keeps the canvas's start aligned (speed scales it, reverberation appends its
    tail), so a longer result loses the tail past the canvas and a shorter one is padded at the
    start.
    """
    if len(audio) >= n:
        return audio[:n]
    return np.concatenate([np.zeros(n - len(audio), dtype=audio.dtype), audio])


def clip_key(job: ClipJob, config: CorpusConfig) -> str:
    """A hash of everything a clip's audio depends on: who says what, how, with which seed, and
    the settings rendering reads (not the clip's path or label, nor the corpus's keyword). Two
    corpora with the same seed and settings plan identical background clips (sentences, noise,
    music, recordings); this key lets the second take them from the first."""
    row = {k: v for k, v in job.row().items() if k not in ("path", "label")}
    recordings = str(Path(config.recordings).resolve()) if config.recordings else None
    settings = {
        "render": RENDER_VERSION,
        "seed": config.seed,
        "clip_seconds": config.clip_seconds,
        "engines": list(config.engines),
        "recordings": recordings,
        "augment": config.augment.settings(),
    }
    text = json.dumps([row, settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_path(job: ClipJob, config: CorpusConfig, store: Path) -> Path:
    """Where a clip store keeps the clip (by :func:`clip_key`)."""
    key = clip_key(job, config)
    return store / key[:2] / f"{key}.wav"


def _link(source: Path, target: Path) -> bool:
    """Hard-link (or, across file systems, copy) ``source`` to ``target``; False if no source."""
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except FileNotFoundError:
        return False
    except OSError:  # another file system, or no hard links there
        atomic_write_bytes(target, source.read_bytes())
    return True


def render_to(job: ClipJob, config: CorpusConfig, out: Path, store: Path | None = None) -> str:
    """Render one clip to its file unless it is already there (resume). With a clip ``store``
    (a folder shared by corpora), a clip rendered before is linked from it instead, and every
    clip of this corpus is added to it. Returns "rendered", "taken" (from the store) or "kept"
    (already there)."""
    target = out / job.relpath
    kept = None if store is None else stored_path(job, config, store)
    outcome = "kept"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        outcome = "taken" if kept is not None and _link(kept, target) else "rendered"
        if outcome == "rendered":
            write_wav(target, render(job, config), signals.SAMPLE_RATE)
    if kept is not None and not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        _link(target, kept)
    return outcome
