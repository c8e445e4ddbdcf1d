"""The built-in command corpus: command words or short phrases (by default the ten Speech
Commands words) spoken by text-to-speech voices, in the published Speech Commands v2 layout, so
that the trainer reads it exactly as it reads the real dataset
(:func:`training.data.loaders.speech_commands`).

Layout written under the output folder::

    <label>/<speaker>_nohash_<n>.wav    1 s clips; each command (label: its words joined by
                                        "_", "lights on" -> lights_on) and the Speech
                                        Commands v2 words that are not part of a command
    commands.txt                        the command labels, one per line
    confusable/<speaker>_nohash_<n>.wav phrases that sound like a command (label _unknown_)
    speech/<speaker>_nohash_<n>.wav     1 s windows of running speech (label _unknown_)
    _background_noise_/<kind>.wav       long noise, music, babble and near-silence recordings:
                                        the trainer cuts ``_silence_`` windows from them
    validation_list.txt, testing_list.txt
    clips.jsonl                         one line per clip: text, voice, prosody, IPA spoken
    eval/<role>/positives/positives.json  commands by held-out voices embedded in noise (one
                                        stream event per utterance, ``label`` = the command);
                                        role: validation (thresholds) and test (figures)
    eval/<role>/negatives/negatives.json  command-free audio (speech, other words, confusables,
                                        real recordings, music, noise, silence)

``<speaker>`` is a hash of the TTS voice; voices are held out per split (tts.split_voices), so a
validation or test speaker is never heard in training. Clips are rendered by the wake-word
corpus's own renderer (:func:`training.data.corpus.render`: same augmentation, the word ends
near the end of the clip), resumably, one seed per clip.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.schema import field_names, reject_unknown_keys
from kws.wavfile import write_wav
from training.core.recipes import load_recipe
from training.core.toml_config import as_tuples
from training.data import signals
from training.data.augment import AugmentConfig
from training.data.corpus import (
    EVAL_SEED,
    SENTENCE_SEED,
    SPLITS,
    ClipJob,
    CorpusConfig,
    babble_speech,
    clip_seed,
    planned_with_twins,
    split_counts,
    voices_by_split,
)
from training.data.eval_sets import EvalSpec, Said, in_sentences, write_eval_sets
from training.data.loaders.speech_commands import (
    BACKGROUND_DIR,
    COMMAND_WORDS,
    COMMANDS_FILE,
    TESTING_LIST,
    VALIDATION_LIST,
    WORDS,
)
from training.data.phonetic import WORD_LISTS, confusable_phrases
from training.data.pronunciation import (
    ipa_lines,
    parse_pronunciation,
    pick_pronunciation,
    report,
    sound_alikes,
)
from training.data.text_corpus import context_words, fingerprint, says, sentences, unseen, words
from training.data.tts import ENGINES, Voice, engine_versions, prosody_grid

EXTRA_UNKNOWN = {"confusable": "confusable", "speech": "speech"}
"""Folder of each extra kind of ``_unknown_`` material (kind -> folder)."""
BACKGROUND_KINDS = ("white", "pink", "brown", "music", "babble", "silence")
MAX_COMMAND_WORDS = 4
"""Longest command phrase, in words: a command is said within one clip."""
_ENTRY = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
"""One word of a command: letters, with inner apostrophes or hyphens ("don't", "wi-fi")."""


def parse_words(text: str | Sequence[str]) -> tuple[str, ...]:
    """A command list ("lights on, lights off, stop" or a list): each entry lower-cased and
    single-spaced. An empty entry, a duplicate, digits or other characters, letters the voices
    cannot read (outside the Latin alphabet), or more than :data:`MAX_COMMAND_WORDS` words is a
    one-line ValueError."""
    entries = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for position, entry in enumerate(entries, 1):
        said = " ".join(str(entry).lower().split())
        if not said:
            raise ValueError(f"command list: entry {position} is empty")
        if not all(_ENTRY.fullmatch(w) for w in said.split()):
            raise ValueError(
                f"command list: {said!r} may hold only letters, spaces, apostrophes and hyphens "
                "(write numbers as words)"
            )
        foreign = [c for c in said if c.isalpha() and "LATIN" not in unicodedata.name(c, "")]
        if foreign:
            raise ValueError(
                f"command list: cannot pronounce {said!r}: the voices read Latin letters, not "
                f"{foreign[0]!r}"
            )
        if len(said.split()) > MAX_COMMAND_WORDS:
            raise ValueError(f"command list: {said!r} has more than {MAX_COMMAND_WORDS} words")
        if said in out:
            raise ValueError(f"command list: {said!r} is given twice")
        out.append(said)
    if not out:
        raise ValueError("command list: no commands")
    return tuple(out)


def command_folder(said: str) -> str:
    """A command's label and folder: its words joined by "_" ("lights on" -> "lights_on")."""
    return said.replace(" ", "_")


def check_pronounceable(commands: Sequence[str]) -> None:
    """One-line KwsError naming a command espeak-ng says nothing for (before any rendering)."""
    for said, sound in zip(commands, ipa_lines(list(commands)), strict=True):
        if not any(c.isalpha() for c in sound):
            raise KwsError(f"command list: espeak-ng cannot pronounce {said!r}")


@dataclass(frozen=True)
class CommandCorpusConfig:
    """What to generate; clip counts are totals over all splits (80/10/10 by voice)."""

    seed: int = 0
    words: tuple[str, ...] = COMMAND_WORDS
    """The commands: words or short phrases ("lights on"); see :func:`parse_words`."""
    per_command: int = 500
    """Clips of each command."""
    other_words: int = 1000
    """Clips of the Speech Commands v2 words that are not part of a command, in turn (label
    ``_unknown_``)."""
    confusables: int = 500
    """Phrases that sound like a command but contain none (label ``_unknown_``)."""
    speech: int = 500
    """1 s windows of sentences without a command word (label ``_unknown_``)."""
    background_seconds: float = 120.0
    """Length of each ``_background_noise_`` recording (one per kind in BACKGROUND_KINDS)."""
    clip_seconds: float = 1.0
    engines: tuple[str, ...] = ENGINES
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    recordings: str | None = None
    """Folder of real recordings (see CorpusConfig.recordings)."""
    eval_per_command: int = 30
    """Held-out utterances of each command in each evaluation set (validation, test)."""
    eval_snrs_db: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0)
    eval_negative_hours: float = 3.0
    """Hours of command-free audio in each evaluation set: with one hour, one false accept
    moves a threshold by 1 FA/h and the digits' calibration did not transfer."""
    in_sentences: float = 0.0
    """Share of the clips of each command and other word said inside a sentence: two to five
    words of a training sentence by the same voice before it, after it or both (a 0.02-0.25 s
    pause between), the clip cut so that the word still ends 0.05-0.3 s before the clip does.
    People say commands inside speech ("please call three"); a model that only ever heard
    them alone misses most of those (benchmarks/results/digits/sentences/)."""
    in_sentences_twins: bool = False
    """Keep every clip alone and add its sentence form beside it (a twin: same voice, settings
    and seed, ``<name>_within.wav``) instead of replacing it
    (:func:`training.data.corpus.with_twins`)."""
    eval_reverb_share: float = 0.25
    eval_in_sentences: float = 0.0
    """Share of the evaluation utterances of each command said inside a sentence, words of the
    same voice before or after it ("... three ..."), not alone: people say commands that way,
    and a model trained on words alone may miss them (the positive streams report FRR per
    ``context``)."""
    eval_sentences: int = 250
    eval_confusables: int = 100
    eval_other_words: int = 100
    """Other Speech Commands words (test voices) in the negative streams."""
    pronunciation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """IPA alternatives per command or other word, e.g. {"off": ("ˈɔːf", "ˈɑːf")}; a value
    "a|b" is accepted. Words left out are said as espeak-ng reads them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", parse_words(self.words))
        counts = (self.per_command, self.other_words, self.confusables, self.speech)
        evals = (self.eval_per_command, self.eval_sentences, self.eval_confusables)
        if min(*counts, *evals, self.eval_other_words) < 0 or self.background_seconds <= 0:
            raise ValueError("counts must be >= 0 and background_seconds > 0")
        if self.per_command < 10:
            raise ValueError("per_command must be >= 10 (every split needs each command)")
        if self.clip_seconds <= 0.5:
            raise ValueError("clip_seconds must be > 0.5")
        for key in ("in_sentences", "eval_in_sentences"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key} must be within [0, 1]")
        if self.in_sentences_twins and not self.in_sentences:
            raise ValueError("in_sentences_twins needs a share of in_sentences above 0")
        unknown = sorted(set(self.pronunciation) - {*self.words, *self.other_vocabulary})
        if unknown:
            raise ValueError(f"pronunciation for {unknown[0]!r}, which is not a corpus word")
        parsed = {w: parse_pronunciation(a) for w, a in sorted(self.pronunciation.items())}
        object.__setattr__(self, "pronunciation", parsed)

    def said(self, word: str) -> tuple[str, ...]:
        """The IPA alternatives of ``word`` (empty: espeak-ng's reading)."""
        return self.pronunciation.get(word, ())

    @property
    def labels(self) -> tuple[str, ...]:
        """The command labels (folder names), in the order of :attr:`words`."""
        return tuple(command_folder(w) for w in self.words)

    @property
    def other_vocabulary(self) -> tuple[str, ...]:
        """The Speech Commands v2 words spoken as ``_unknown_``: those that are no word of any
        command (with the default commands, the 25 other v2 words)."""
        taken = {w for said in self.words for w in said.split()}
        return tuple(w for w in WORDS if w not in taken)

    @property
    def all_commands(self) -> str:
        """Every command's words in one text (what speech and sentences must not contain)."""
        return " ".join(self.words)

    def render_config(self) -> CorpusConfig:
        """The settings :func:`training.data.corpus.render` reads (clip length, seed, voices,
        augmentation), as a wake-word CorpusConfig."""
        return CorpusConfig(
            keyword=self.all_commands,
            seed=self.seed,
            clip_seconds=self.clip_seconds,
            engines=self.engines,
            augment=self.augment,
        )


RECIPE = Path(__file__).resolve().parents[1] / "configs" / "commands.toml"
"""The recipe of ``python -m training.commands``; its ``[corpus]`` is also what
``python -m training.data commands`` renders unless told otherwise."""


def corpus_config(table: dict[str, Any]) -> CommandCorpusConfig:
    """A recipe's ``[corpus]`` table as a config; a key that is no setting is an error."""
    reject_unknown_keys("[corpus]", table, field_names(CommandCorpusConfig) - {"augment"})
    return CommandCorpusConfig(**as_tuples(table))


def recipe_corpus(recipe: Path = RECIPE) -> CommandCorpusConfig:
    """The corpus the command recipe renders: the defaults of ``training.data commands``, so that
    rendering the corpus alone gives the corpus ``training.commands`` would."""
    return corpus_config(load_recipe(recipe, []).get("corpus", {}))


def speaker_id(voice: Voice) -> str:
    """The ``<speaker>`` of a file name: 8 hex digits naming the voice (engine, name, variant)."""
    return hashlib.sha1(f"{voice.engine}/{voice.name}".encode()).hexdigest()[:8]


def command_confusables(
    count: int,
    seed: int,
    pronunciation: dict[str, tuple[str, ...]] | None = None,
    commands: Sequence[str] = COMMAND_WORDS,
) -> list[str]:
    """``count`` phrases near the commands' sounds that contain no command (so "no"'s
    neighbour "go" and "go"'s "no command" are left out) and no word that sounds like a
    command's word ("know", "too"); near a command's ``pronunciation`` where it has one."""
    if count == 0:
        return []
    per_word = count // len(commands) + 1
    said = pronunciation or {}
    drafts = [confusable_phrases(w, 3 * per_word, seed, said.get(w, ())) for w in commands]
    command_words = {w for c in commands for w in words(c)}
    vocabulary = {w for draft in drafts for p in draft for w in words(p)} - command_words
    alike = sound_alikes(vocabulary, command_words)
    pools = [
        [p for p in draft if not says(p, *commands) and alike.isdisjoint(words(p))]
        for draft in drafts
    ]
    mixed = [p for group in zip(*pools, strict=False) for p in group]
    if len(mixed) < count:
        raise KwsError(f"only {len(mixed)} command confusables, {count} wanted")
    return mixed[:count]


def eval_texts(config: CommandCorpusConfig) -> tuple[list[str], list[str]]:
    """The sentences and confusable phrases the evaluation sets speak (training never does)."""
    seed = config.seed + EVAL_SEED
    texts = sentences(config.all_commands, config.eval_sentences, seed, sound_alike=True)
    phrases = command_confusables(config.eval_confusables, seed, config.pronunciation, config.words)
    return texts, phrases


def plan(config: CommandCorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, in a fixed order (deterministic for a config); with
    ``in_sentences_twins`` the clips alone and then the twins said inside sentences."""
    return planned_with_twins(config, _plan)


def _plan(config: CommandCorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, in a fixed order (deterministic for a config)."""
    voices = voices_by_split(config.render_config())
    held_texts, held_phrases = eval_texts(config)
    count = config.confusables + len(held_phrases)
    phrases = unseen(
        command_confusables(count, config.seed, config.pronunciation, config.words),
        held_phrases, config.confusables,
    )  # fmt: skip
    texts = sentences(
        config.all_commands, max(config.speech, 1), config.seed, avoid=held_texts, sound_alike=True
    )
    others_pool = config.other_vocabulary
    folder_of = dict(zip(config.words, config.labels, strict=True))
    jobs: list[ClipJob] = []
    per_file: Counter[str] = Counter()

    def add(
        folder: str,
        kind: str,
        split: str,
        text: str,
        pair: tuple[Voice, Any],
        around: tuple[str, str] = ("", ""),
    ) -> None:
        voice, prosody = pair
        said = (
            pick_pronunciation(config.said(text), voice, config.seed, len(jobs))
            if kind == "positive"
            else None
        )
        clip_id = f"{folder}-{split}-{per_file[folder]:06d}"
        per_file[folder] += 1
        stem = f"{folder}/{speaker_id(voice)}"
        path = f"{stem}_nohash_{per_file[stem]}.wav"
        per_file[stem] += 1
        seed = clip_seed(config.seed, clip_id)
        jobs.append(
            ClipJob(
                clip_id, kind, folder, split, seed, text, voice, prosody, path, ipa=said,
                before=around[0], after=around[1],
            )
        )  # fmt: skip

    for offset, split in enumerate(SPLITS):
        each = split_counts(config.per_command)[split]
        words_here = [w for w in config.words for _ in range(each)]
        others = split_counts(config.other_words)[split]
        words_here += [others_pool[i % len(others_pool)] for i in range(others)]
        n_conf = split_counts(config.confusables)[split]
        n_speech = split_counts(config.speech)[split]
        total = len(words_here) + n_conf + n_speech
        pairs = iter(prosody_grid(voices[split], total, config.seed + offset))
        arounds = context_words(
            len(words_here), config.in_sentences, texts, config.seed + SENTENCE_SEED + offset
        )
        for word, around in zip(words_here, arounds, strict=True):
            add(folder_of.get(word, word), "positive", split, word, next(pairs), around)
        start = sum(split_counts(config.confusables)[s] for s in SPLITS[:offset])
        for i in range(n_conf):
            add("confusable", "confusable", split, phrases[start + i], next(pairs))
        start = sum(split_counts(config.speech)[s] for s in SPLITS[:offset])
        for i in range(n_speech):
            add("speech", "speech", split, texts[start + i], next(pairs))
    return jobs


def write_backgrounds(config: CommandCorpusConfig, out: Path) -> list[Path]:
    """``_background_noise_/<kind>.wav`` for each kind, unless already there."""
    folder = out / BACKGROUND_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, kind in enumerate(BACKGROUND_KINDS):
        path = folder / f"{kind}.wav"
        written.append(path)
        if path.is_file():
            continue
        rng = np.random.default_rng([config.seed, 404, i])
        if kind == "babble":
            speech = babble_speech(config.seed, config.engines)
            audio = signals.babble(speech, config.background_seconds, rng)
        elif kind == "silence":  # a quiet room: a -60 dBFS noise floor
            audio = signals.silence(config.background_seconds, rng, floor_dbfs=-60.0)
        else:
            audio = signals.BACKGROUNDS[kind](config.background_seconds, rng)
        write_wav(path, signals.to_int16(audio), signals.SAMPLE_RATE)
    return written


def write_lists(jobs: list[ClipJob], out: Path) -> None:
    for split, name in (("validation", VALIDATION_LIST), ("test", TESTING_LIST)):
        lines = "".join(f"{j.relpath}\n" for j in jobs if j.split == split)
        atomic_write_bytes(out / name, lines.encode())


def eval_positives(
    config: CommandCorpusConfig, commands: Sequence[str], texts: Sequence[str]
) -> tuple[Said, ...]:
    """What the positive streams say: each command, ``eval_in_sentences`` of them inside words
    of the held-out sentences ``texts`` (which hold no command word, nor one that sounds like
    one)."""
    alone = [Said(w, label=command_folder(w), pronunciations=config.said(w)) for w in commands]
    return in_sentences(alone, config.eval_in_sentences, texts, config.seed + EVAL_SEED + 7)


def _write_eval(
    config: CommandCorpusConfig, out: Path, workers: int, ray: str | None = None
) -> dict[str, Any]:
    """Validation and test sets (:mod:`training.data.eval_sets`): every command by held-out
    voices; hours of command-free audio."""
    count = config.eval_per_command * len(config.words)
    texts, phrases = eval_texts(config)
    pool = config.other_vocabulary
    others = [pool[i % len(pool)] for i in range(config.eval_other_words)] if pool else []
    commands = [config.words[i % len(config.words)] for i in range(count)]
    negatives = {"speech": texts, "confusable": phrases, "other_words": others}
    spec = EvalSpec(
        positives=eval_positives(config, commands, texts),
        negatives={kind: tuple(Said(t) for t in said) for kind, said in negatives.items() if said},
        seed=config.seed,
        snrs_db=config.eval_snrs_db,
        negative_hours=config.eval_negative_hours,
        reverb_share=config.eval_reverb_share,
        augment=config.augment,
    )
    render = config.render_config()
    recordings = Path(config.recordings) if config.recordings else None
    babble = babble_speech(config.seed, config.engines)
    return write_eval_sets(spec, voices_by_split(render), recordings, out, babble, workers, ray)


def _settings(config: CommandCorpusConfig) -> dict[str, Any]:
    settings = {"corpus": "commands", **json.loads(json.dumps(asdict(config)))}
    if not settings["pronunciation"]:  # corpora made before pronunciations existed still resume
        del settings["pronunciation"]
    if config.words == COMMAND_WORDS:  # and those made before command lists existed
        del settings["words"]
    for key in ("in_sentences", "in_sentences_twins", "eval_in_sentences"):
        if not settings[key]:  # and before sentences
            del settings[key]
    return settings


def generate_commands(
    config: CommandCorpusConfig,
    out: Path,
    workers: int | None = None,
    eval_only: bool = False,
    store: Path | None = None,
    ray: str | None = None,
) -> dict[str, Any]:
    """Render the corpus into ``out`` (resuming a partial one) and return a summary.

    ``eval_only`` writes only the evaluation sets (to measure models before the clips are
    rendered); the same call without it later renders the clips into the same folder. ``ray``
    renders on a Ray cluster, as for :func:`training.data.generate.generate`."""
    import os

    from training.data.generate import (
        check_engines,
        check_output,
        check_recordings,
        claim_output,
        disk_bytes,
        render_clips,
        write_summary,
    )

    workers = workers or os.cpu_count() or 1
    check_output(out)
    check_engines(config.engines)
    check_pronounceable(config.words)
    check_recordings(config.recordings)
    claim_output(out, _settings(config))
    start = time.perf_counter()
    jobs = plan(config)
    said = {w: config.said(w) for w in dict.fromkeys([*config.words, *config.pronunciation])}
    spoken = report(said, [j.text for j in jobs if j.kind == "confusable" and j.text])
    rendered = taken = 0
    if not eval_only:
        rendered, taken = render_clips(jobs, config.render_config(), out, workers, store, ray)
        write_backgrounds(config, out)
        write_lists(jobs, out)
        atomic_write_bytes(out / COMMANDS_FILE, "".join(f"{c}\n" for c in config.labels).encode())
        lines = "".join(json.dumps(job.row()) + "\n" for job in jobs)
        atomic_write_bytes(out / "clips.jsonl", lines.encode())  # manifest.jsonl: wake word
    evaluation = _write_eval(config, out, workers, ray)
    commands = [j for j in jobs if j.label in config.labels]
    summary = {
        "clips": len(jobs),
        "rendered_now": rendered,
        "taken_from_store": taken,
        "eval_only": eval_only,
        "by_split_and_word": dict(Counter(f"{j.split}/{j.label}" for j in jobs)),
        "command_voices": len({j.voice for j in commands}),
        "pronunciation": spoken,
        "voices_by_split": {s: len({j.voice for j in jobs if j.split == s}) for s in SPLITS},
        "engine_versions": engine_versions(config.engines),
        "text_sources": fingerprint(WORD_LISTS),
        "workers": workers,
        "total_seconds_wall": round(time.perf_counter() - start, 1),
        "disk_bytes": disk_bytes(out),
        "eval": evaluation,
    }
    return write_summary(out, summary)
