"""Evaluation streams for a recorded Speech Commands dataset (the published v2, or any folder in
its layout that the generator did not write): real people saying each command, from the
dataset's own validation and test lists, so a model trained on the real dataset is calibrated and
measured as a generated command corpus is (``training.commands``, ``benchmarks.frr_fa``).

``eval/<role>/`` is written inside the dataset folder, as the generator writes it inside its
corpora (the Speech Commands reader only takes WAVs directly inside word folders, so it never
reads them as words)::

    positives/  each command's clips of that split (silence-trimmed), up to ``per_command`` per
                command spread over its speakers, in noise, babble of the split's other words and
                the split's part of ``_background_noise_``, at several SNRs
    negatives/  hours of command-free audio: the split's ``_unknown_`` words one after another,
                babble of them, the split's part of ``_background_noise_``, noise and silence

Validation streams choose thresholds, test streams give the figures; they hold only the speakers
of their split's list, so neither shares a speaker with training (the dataset's lists are split
by speaker hash).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.streams import EVAL_ROLES as ROLES
from benchmarks.streams import eval_manifests
from kws.errors import KwsError
from training.data import signals
from training.data.eval_sets import describe, pink_or_brown, recording_source
from training.data.loaders.base import Example, load
from training.data.loaders.speech_commands import (
    SILENCE_SPLIT_SPAN,
    UNKNOWN,
    command_task,
    corpus_commands,
    speech_commands,
    speech_commands_background,
)
from training.data.streams import NegativeSource, write_negative_streams, write_positive_streams
from training.data.tts import trim_silence

GENERATED_MARK = "corpus.json"
"""What ``training.data commands`` writes into its corpora; a layout without it was recorded."""
BABBLE_CLIPS = 400
"""``_unknown_`` clips a split's babble is made of."""


@dataclass(frozen=True)
class RecordedEvalConfig:
    """What the evaluation sets of a recorded dataset hold."""

    seed: int = 0
    per_command: int = 50
    """Positives per command and split at most (spread over that split's speakers)."""
    snrs_db: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0)
    negative_hours: float = 1.0
    negative_clips: int = 3000
    """``_unknown_`` clips per split loaded for the negative streams at most."""


def is_recorded(folder: Path) -> bool:
    """True for a Speech Commands layout the generator did not write (e.g. the real dataset)."""
    from training.data.loaders.speech_commands import VALIDATION_LIST

    return (folder / VALIDATION_LIST).is_file() and not (folder / GENERATED_MARK).is_file()


def _spread(examples: list[Example], count: int, rng: np.random.Generator) -> list[Example]:
    """Up to ``count`` examples taking speakers in turn, so many people are heard."""
    by_speaker: dict[str | None, list[Example]] = defaultdict(list)
    for example in examples:
        by_speaker[example.speaker].append(example)
    queues = [by_speaker[s] for s in sorted(by_speaker, key=str)]
    for queue in queues:
        rng.shuffle(queue)  # type: ignore[arg-type]
    rng.shuffle(queues)  # type: ignore[arg-type]
    chosen: list[Example] = []
    depth = 0
    while len(chosen) < count and any(depth < len(q) for q in queues):
        chosen += [q[depth] for q in queues if depth < len(q)][: count - len(chosen)]
        depth += 1
    return chosen


def _load_trimmed(examples: Sequence[Example]) -> list[tuple[Example, np.ndarray]]:
    """Each example's audio without its leading and trailing silence; a silent clip is left out."""
    out = []
    for example in tqdm(examples, desc="loading clips", leave=False):
        audio = trim_silence(load(example))
        if len(audio) >= signals.SAMPLE_RATE // 10:
            out.append((example, audio))
    return out


def _info(example: Example) -> dict[str, Any]:
    """A positive's manifest entry: who said which command, and the file it came from."""
    return {
        "voice": example.speaker or example.path.stem,
        "engine": "recorded",
        "text": example.label,
        "label": example.label,
        "room": "as recorded",
        "file": f"{example.path.parent.name}/{example.path.name}",
    }


def _held_out_part(recordings: Sequence[np.ndarray], role: str) -> list[np.ndarray]:
    """The ``role`` part of each background recording (the part that ``_silence_`` windows of
    that split are cut from), never the training part."""
    low, high = SILENCE_SPLIT_SPAN[role]
    parts = [r[int(low * len(r)) : int(high * len(r))] for r in recordings]
    return [p for p in parts if len(p) > signals.SAMPLE_RATE]


def write_recorded_eval_set(
    dataset: Path, role: str, config: RecordedEvalConfig, commands: Sequence[str]
) -> None:
    """Write ``eval/<role>/`` of a recorded dataset (a manifest that exists is kept: resumable)."""
    positives_path, negatives_path = eval_manifests(dataset, role)
    seed = config.seed + 1000 * (ROLES.index(role) + 1)
    rng = np.random.default_rng(seed)
    examples = [e for e in command_task(speech_commands(dataset), commands) if e.split == role]
    unknown = [e for e in examples if e.label == UNKNOWN]
    if not unknown:
        raise KwsError(f"{dataset}: no {role} clips of other words to make negatives from")
    recordings = [
        load(Example(p, "_background_", role)) for p in speech_commands_background(dataset)
    ]
    held_out = _held_out_part(recordings, role)
    ambient = recording_source(held_out) if held_out else None
    talkers = _load_trimmed(_spread(unknown, BABBLE_CLIPS, rng))
    babble = functools.partial(signals.babble, [a for _, a in talkers])
    if not positives_path.is_file():
        positives = []
        for command in commands:
            said = [e for e in examples if e.label == command]
            if not said:
                raise KwsError(f"{dataset}: no {role} clips of {command!r}")
            positives += _load_trimmed(_spread(said, config.per_command, rng))
        clips = [(audio, _info(e)) for e, audio in positives]
        backgrounds: dict[str, signals.Background] = {"noise": pink_or_brown, "babble": babble}
        if ambient is not None:
            backgrounds["ambient"] = ambient
        write_positive_streams(
            clips, backgrounds, positives_path.parent, seed=seed, snrs_db=config.snrs_db
        )
    if not negatives_path.is_file():
        words = _load_trimmed(_spread(unknown, config.negative_clips, rng))
        sources: dict[str, NegativeSource] = {
            "other_words": [a for _, a in words],
            "babble": babble,
            "pink": signals.pink,
            "white": signals.white,
            "silence": signals.silence,
        }
        if ambient is not None:
            sources["recorded_ambient"] = ambient
        print(f"writing {config.negative_hours:g} h of {role} negative streams")
        write_negative_streams(sources, negatives_path.parent, config.negative_hours, seed + 303)


def write_recorded_eval_sets(
    dataset: Path, config: RecordedEvalConfig | None = None
) -> dict[str, Any]:
    """The validation and test sets of a recorded dataset; returns what each holds."""
    config = config or RecordedEvalConfig()
    if not is_recorded(dataset):
        raise KwsError(
            f"{dataset}: not a recorded Speech Commands layout (no validation_list.txt, or "
            f"{GENERATED_MARK} says the generator wrote it)"
        )
    commands = corpus_commands(dataset)
    summary = {}
    for role in ROLES:
        write_recorded_eval_set(dataset, role, config, commands)
        summary[role] = describe(dataset, role)
    (dataset / "eval" / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
