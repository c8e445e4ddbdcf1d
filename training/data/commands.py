"""The built-in command corpus: the ten Speech Commands words spoken by text-to-speech voices, in
the published Speech Commands v2 layout, so that the trainer reads it exactly as it reads the
real dataset (:func:`training.data.loaders.speech_commands`).

Layout written under the output folder::

    <word>/<speaker>_nohash_<n>.wav     1 s clips; the ten commands and the 25 other v2 words
    confusable/<speaker>_nohash_<n>.wav phrases that sound like a command (label _unknown_)
    speech/<speaker>_nohash_<n>.wav     1 s windows of running speech (label _unknown_)
    _background_noise_/<kind>.wav       long noise, music, babble and near-silence recordings:
                                        the trainer cuts ``_silence_`` windows from them
    validation_list.txt, testing_list.txt
    eval/positives/positives.json       commands by test voices embedded in noise (one stream
                                        event per utterance, ``label`` = the command)
    eval/negatives/negatives.json       command-free audio (speech, other words, confusables,
                                        music, noise, silence) for false accepts per hour

``<speaker>`` is a hash of the TTS voice; voices are held out per split (tts.split_voices), so a
validation or test speaker is never heard in training. Clips are rendered by the wake-word
corpus's own renderer (:func:`training.data.corpus.render`: same augmentation, the word ends
near the end of the clip), resumably, one seed per clip.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.wavfile import write_wav
from training.data import signals
from training.data.augment import AugmentConfig
from training.data.corpus import (
    SPLITS,
    ClipJob,
    CorpusConfig,
    babble_speech,
    clip_seed,
    split_counts,
    voices_by_split,
)
from training.data.loaders.speech_commands import (
    BACKGROUND_DIR,
    COMMAND_WORDS,
    TESTING_LIST,
    VALIDATION_LIST,
    WORDS,
)
from training.data.phonetic import confusable_phrases
from training.data.streams import write_negative_streams, write_positive_streams
from training.data.text_corpus import sentences, words
from training.data.tts import ENGINES, Voice, prosody_grid

OTHER_WORDS = tuple(w for w in WORDS if w not in COMMAND_WORDS)
"""The 25 Speech Commands v2 words that are not commands (spoken as ``_unknown_``)."""
EXTRA_UNKNOWN = {"confusable": "confusable", "speech": "speech"}
"""Folder of each extra kind of ``_unknown_`` material (kind -> folder)."""
BACKGROUND_KINDS = ("white", "pink", "brown", "music", "babble", "silence")
ALL_COMMANDS = " ".join(COMMAND_WORDS)


@dataclass(frozen=True)
class CommandCorpusConfig:
    """What to generate; clip counts are totals over all splits (80/10/10 by voice)."""

    seed: int = 0
    per_command: int = 500
    """Clips of each of the ten command words."""
    other_words: int = 1000
    """Clips of the 25 other Speech Commands words, in turn (label ``_unknown_``)."""
    confusables: int = 500
    """Phrases that sound like a command but contain none (label ``_unknown_``)."""
    speech: int = 500
    """1 s windows of sentences without a command word (label ``_unknown_``)."""
    background_seconds: float = 120.0
    """Length of each ``_background_noise_`` recording (one per kind in BACKGROUND_KINDS)."""
    clip_seconds: float = 1.0
    engines: tuple[str, ...] = ENGINES
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    eval_per_command: int = 30
    """Test-voice utterances of each command in the positive evaluation streams."""
    eval_snrs_db: tuple[float, ...] = (5.0, 10.0, 20.0)
    eval_negative_hours: float = 1.0
    eval_sentences: int = 250
    eval_confusables: int = 100
    eval_other_words: int = 100
    """Other Speech Commands words (test voices) in the negative streams."""

    def __post_init__(self) -> None:
        counts = (self.per_command, self.other_words, self.confusables, self.speech)
        evals = (self.eval_per_command, self.eval_sentences, self.eval_confusables)
        if min(*counts, *evals, self.eval_other_words) < 0 or self.background_seconds <= 0:
            raise ValueError("counts must be >= 0 and background_seconds > 0")
        if self.per_command < 10:
            raise ValueError("per_command must be >= 10 (every split needs each command)")
        if self.clip_seconds <= 0.5:
            raise ValueError("clip_seconds must be > 0.5")

    def render_config(self) -> CorpusConfig:
        """The settings :func:`training.data.corpus.render` reads (clip length, seed, voices,
        augmentation), as a wake-word CorpusConfig."""
        return CorpusConfig(
            keyword=ALL_COMMANDS,
            seed=self.seed,
            clip_seconds=self.clip_seconds,
            engines=self.engines,
            augment=self.augment,
        )


def speaker_id(voice: Voice) -> str:
    """The ``<speaker>`` of a file name: 8 hex digits naming the voice (engine, name, variant)."""
    return hashlib.sha1(f"{voice.engine}/{voice.name}".encode()).hexdigest()[:8]


def command_confusables(count: int, seed: int) -> list[str]:
    """``count`` phrases near the commands' sounds that contain no command word (so "no"'s
    neighbour "go" and "go"'s "no command" are left out)."""
    if count == 0:
        return []
    per_word = count // len(COMMAND_WORDS) + 1
    banned = set(COMMAND_WORDS)
    pools = [
        [p for p in confusable_phrases(w, 3 * per_word, seed) if banned.isdisjoint(words(p))]
        for w in COMMAND_WORDS
    ]
    mixed = [p for group in zip(*pools, strict=False) for p in group]
    if len(mixed) < count:
        raise KwsError(f"only {len(mixed)} command confusables, {count} wanted")
    return mixed[:count]


def plan(config: CommandCorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, in a fixed order (deterministic for a config)."""
    voices = voices_by_split(config.render_config())
    phrases = command_confusables(config.confusables, config.seed)
    texts = sentences(ALL_COMMANDS, max(config.speech, 1), config.seed)
    jobs: list[ClipJob] = []
    per_file: Counter[str] = Counter()

    def add(folder: str, kind: str, split: str, text: str, pair: tuple[Voice, Any]) -> None:
        voice, prosody = pair
        clip_id = f"{folder}-{split}-{per_file[folder]:06d}"
        per_file[folder] += 1
        stem = f"{folder}/{speaker_id(voice)}"
        path = f"{stem}_nohash_{per_file[stem]}.wav"
        per_file[stem] += 1
        seed = clip_seed(config.seed, clip_id)
        jobs.append(ClipJob(clip_id, kind, folder, split, seed, text, voice, prosody, path))

    for offset, split in enumerate(SPLITS):
        each = split_counts(config.per_command)[split]
        words_here = [w for w in COMMAND_WORDS for _ in range(each)]
        others = split_counts(config.other_words)[split]
        words_here += [OTHER_WORDS[i % len(OTHER_WORDS)] for i in range(others)]
        n_conf = split_counts(config.confusables)[split]
        n_speech = split_counts(config.speech)[split]
        total = len(words_here) + n_conf + n_speech
        pairs = iter(prosody_grid(voices[split], total, config.seed + offset))
        for word in words_here:
            add(word, "positive", split, word, next(pairs))
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


def _write_eval(config: CommandCorpusConfig, out: Path, workers: int) -> None:
    """Positive streams of every command by test voices; hours of command-free audio."""
    from training.data.generate import speak

    render = config.render_config()
    test_voices = voices_by_split(render)["test"]
    positives_manifest = out / "eval" / "positives" / "positives.json"
    negatives_manifest = out / "eval" / "negatives" / "negatives.json"
    babble = functools.partial(signals.babble, babble_speech(config.seed, config.engines))
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        if not positives_manifest.is_file() and config.eval_per_command:
            count = config.eval_per_command * len(COMMAND_WORDS)
            pairs = prosody_grid(test_voices, count, config.seed + 101)
            texts = [COMMAND_WORDS[i % len(COMMAND_WORDS)] for i in range(count)]
            items = [(t, v, p) for t, (v, p) in zip(texts, pairs, strict=True)]
            audio = list(tqdm(pool.imap(speak, items), total=count, desc="eval positives"))
            infos = [
                {"voice": v.name, "engine": v.engine, "text": t, "label": t, **asdict(p)}
                for t, (v, p) in zip(texts, pairs, strict=True)
            ]
            # No music: a short command can fall into a silent gap between notes, where no
            # SNR exists (music stays in the negative streams).
            backgrounds = {"pink": signals.pink, "brown": signals.brown, "babble": babble,
                           "white": signals.white}  # fmt: skip
            write_positive_streams(
                list(zip(audio, infos, strict=True)),
                backgrounds,
                positives_manifest.parent,
                seed=config.seed,
                snrs_db=config.eval_snrs_db,
            )
        if not negatives_manifest.is_file() and config.eval_negative_hours > 0:
            texts = sentences(ALL_COMMANDS, config.eval_sentences, config.seed + 202)
            phrases = command_confusables(config.eval_confusables, config.seed + 202)
            others = [OTHER_WORDS[i % len(OTHER_WORDS)] for i in range(config.eval_other_words)]
            said = texts + phrases + others
            pairs = prosody_grid(test_voices, len(said), config.seed + 202)
            items = [(t, v, p) for t, (v, p) in zip(said, pairs, strict=True)]
            spoken = list(tqdm(pool.imap(speak, items), total=len(items), desc="eval speech"))
            a, b = len(texts), len(texts) + len(phrases)
            said_by_kind = {
                "speech": spoken[:a],
                "confusable": spoken[a:b],
                "other_words": spoken[b:],
            }
            sources = {
                **{kind: clips for kind, clips in said_by_kind.items() if clips},
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


def _settings(config: CommandCorpusConfig) -> dict[str, Any]:
    return {"corpus": "commands", **json.loads(json.dumps(asdict(config)))}


def generate_commands(
    config: CommandCorpusConfig, out: Path, workers: int | None = None
) -> dict[str, Any]:
    """Render the corpus into ``out`` (resuming a partial one) and return a summary."""
    import os

    from training.data.generate import (
        check_engines,
        check_output,
        claim_output,
        disk_bytes,
        render_clips,
    )

    workers = workers or os.cpu_count() or 1
    check_output(out)
    check_engines(config.engines)
    claim_output(out, _settings(config))
    start = time.perf_counter()
    jobs = plan(config)
    rendered = render_clips(jobs, config.render_config(), out, workers)
    write_backgrounds(config, out)
    write_lists(jobs, out)
    _write_eval(config, out, workers)
    commands = [j for j in jobs if j.label in COMMAND_WORDS]
    summary = {
        "clips": len(jobs),
        "rendered_now": rendered,
        "by_split_and_word": dict(Counter(f"{j.split}/{j.label}" for j in jobs)),
        "command_voices": len({j.voice for j in commands}),
        "voices_by_split": {s: len({j.voice for j in jobs if j.split == s}) for s in SPLITS},
        "workers": workers,
        "total_seconds_wall": round(time.perf_counter() - start, 1),
        "disk_bytes": disk_bytes(out),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    return summary
