"""Google Speech Commands (v2, also v1) in its published layout, and the 12-class command task.

Layout: ``<root>/<word>/<speaker>_nohash_<n>.wav``; ``validation_list.txt`` and
``testing_list.txt`` name the validation and test files relative to the root, every other file is
train. ``_background_noise_/`` holds long noise recordings: they are not labelled examples, so
:func:`speech_commands_background` returns them separately (the usual source of ``_silence_``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from training.data.loaders.base import SPLITS, Example, SkipLog, require_dir, require_file

DATASET = "Speech Commands v2"
BACKGROUND_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
COMMANDS_FILE = "commands.txt"
"""A corpus's command labels, one per line, written by ``training.data commands --words``; the
published dataset has none and means the ten standard words."""

WORDS = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
)  # fmt: skip
"""The 35 words of v2 (v1 has the first 30)."""

COMMAND_WORDS = WORDS[:10]
"""The ten words of the standard 12-class command task."""
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
COMMAND_LABELS = (SILENCE, UNKNOWN, *COMMAND_WORDS)
"""The 12 classes in the order the TensorFlow speech-commands recipe uses."""


def command_labels(commands: Sequence[str] = COMMAND_WORDS) -> tuple[str, ...]:
    """The classes of a command task: ``_silence_``, ``_unknown_``, then the commands."""
    return (SILENCE, UNKNOWN, *commands)


def command_label(word: str, commands: Collection[str] = COMMAND_WORDS) -> str:
    """Map a word folder to its label: itself if a command, else ``_unknown_`` (``_silence_`` is
    made from background noise, not from a word)."""
    return word if word in commands else UNKNOWN


def command_task(
    examples: Iterable[Example], commands: Collection[str] = COMMAND_WORDS
) -> Iterator[Example]:
    """Relabel Speech Commands examples for a command task (see :func:`command_label`)."""
    for example in examples:
        yield replace(example, label=command_label(example.label, commands))


def corpus_commands(root: str | os.PathLike[str]) -> tuple[str, ...]:
    """The command labels of a Speech Commands layout: ``commands.txt`` if the corpus has one
    (a generated vocabulary), else the ten standard words."""
    path = Path(root) / COMMANDS_FILE
    if not path.is_file():
        return COMMAND_WORDS
    commands = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not commands or len(set(commands)) != len(commands):
        raise KwsError(f"{path}: expected distinct command labels, one per line")
    return commands


def _read_list(path: Path) -> set[str]:
    with open(path, encoding="utf-8") as f:
        return {line.strip().replace("\\", "/") for line in f if line.strip()}


def speech_commands(root: str | os.PathLike[str]) -> Iterator[Example]:
    """List the labelled clips under ``root`` (label = word, speaker = the hash before
    ``_nohash_``), split by the two list files. Raises KwsError now if ``root`` is not the dataset;
    listed files that are missing are skipped with one DatasetWarning when the listing ends."""
    base = require_dir(root, DATASET)
    validation = _read_list(require_file(base, VALIDATION_LIST, DATASET))
    testing = _read_list(require_file(base, TESTING_LIST, DATASET))
    return _examples(base, validation, testing)


def _examples(root: Path, validation: set[str], testing: set[str]) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        seen: set[str] = set()
        words = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
        for word_dir in words:
            for path in sorted(word_dir.glob("*.wav")):
                relative = f"{word_dir.name}/{path.name}"
                seen.add(relative)
                split = (
                    "validation"
                    if relative in validation
                    else "test"
                    if relative in testing
                    else "train"
                )
                speaker, nohash, _ = path.name.partition("_nohash_")
                yield Example(path, word_dir.name, split, speaker=speaker if nohash else None)
        for relative in sorted((validation | testing) - seen):
            log.skip("listed files missing", f"{root / relative} is in a list but not on disk")


def speech_commands_background(root: str | os.PathLike[str]) -> list[Path]:
    """The long background-noise WAVs in ``<root>/_background_noise_/`` (empty if absent)."""
    base = require_dir(root, DATASET)
    noise_dir = base / BACKGROUND_DIR
    return sorted(noise_dir.glob("*.wav")) if noise_dir.is_dir() else []


SILENCE_SPLIT_SPAN = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
"""Which part (fractions of its length) of each background recording a split cuts windows
from, so that held-out ``_silence_`` windows are audio training never saw."""


def silence_windows(
    recordings: Sequence[Path], split: str, count: int, samples: int, seed: int
) -> np.ndarray:
    """``count`` int16 windows of ``samples`` for ``_silence_``: a random recording, a random
    place in the split's part of it, a random gain in [0, 1] (the TensorFlow recipe's
    background volume), as the speech-commands recipe makes its silence class. Deterministic."""
    from training.data.loaders.base import load

    low, high = SILENCE_SPLIT_SPAN[split]
    rng = np.random.default_rng([seed, SPLITS.index(split), 7])
    audio = [load(Example(path, SILENCE, split)) for path in recordings]
    out = np.zeros((count, samples), dtype=np.int16)
    for i in range(count):
        source = audio[int(rng.integers(len(audio)))]
        first, last = int(low * len(source)), int(high * len(source))
        piece = source[first:last]
        if len(piece) > samples:
            start = int(rng.integers(len(piece) - samples + 1))
            piece = piece[start : start + samples]
        gain = rng.uniform(0.0, 1.0)
        out[i, samples - len(piece) :] = np.rint(piece * gain).astype(np.int16)
    return out
