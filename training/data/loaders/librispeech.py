"""LibriSpeech (read audiobook speech, FLAC) in its published layout, as a speaker dataset.

Layout: ``<root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (lines ``<utt id> <TEXT>``). Subsets are named
``train-*``, ``dev-*`` and ``test-*``; their splits are train, validation and test. Note that the
published subsets have disjoint speakers: a speaker-id model must split within ``train-*``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from kws.errors import KwsError
from training.data.loaders.base import Example, SkipLog, require_dir

DATASET = "LibriSpeech"
_SUBSET = re.compile(r"(train|dev|test)-[\w-]+")  # train-clean-100, dev-other, …
_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def subset_split(name: str) -> str | None:
    """The split of a subset folder name (``dev-clean`` -> ``validation``), None if not one."""
    match = _SUBSET.fullmatch(name)
    return _SPLITS[match.group(1)] if match else None


def librispeech(
    root: str | os.PathLike[str], subsets: tuple[str, ...] | None = None
) -> Iterator[Example]:
    """List the utterances (label = speaker = speaker id, transcript from the chapter file).

    ``root`` is the ``LibriSpeech`` folder holding subset folders, or one subset folder itself;
    ``subsets`` (e.g. ``("train-clean-100",)``) keeps only those. Raises KwsError now if there is
    no subset folder; transcript lines without audio and unreadable lines are skipped with one
    DatasetWarning when the listing ends.
    """
    base = require_dir(root, DATASET)
    if subset_split(base.name):
        folders = [base]
    else:
        folders = sorted(p for p in base.iterdir() if p.is_dir() and subset_split(p.name))
    if subsets is not None:
        folders = [p for p in folders if p.name in subsets]
    if not folders:
        wanted = ", ".join(subsets) if subsets else "train-*, dev-* or test-*"
        raise KwsError(f"{base}: not a {DATASET} folder (no subset folder {wanted})")
    return _examples(base, folders)


def _read_transcripts(path: Path, log: SkipLog) -> dict[str, str]:
    if not path.is_file():
        return {}
    transcripts: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            utt, _, text = line.strip().partition(" ")
            if not utt or not text:
                if line.strip():
                    log.skip("unreadable transcript lines", f"{path} line {number}: {line!r}")
                continue
            transcripts[utt] = text
    return transcripts


def _examples(root: Path, folders: list[Path]) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        for folder in folders:
            split = subset_split(folder.name) or "train"
            for chapter in sorted(folder.glob("*/*/")):
                speaker = chapter.parent.name
                trans = chapter / f"{speaker}-{chapter.name}.trans.txt"
                transcripts = _read_transcripts(trans, log)
                for path in sorted(chapter.glob("*.flac")):
                    text = transcripts.pop(path.stem, None)
                    yield Example(path, speaker, split, speaker=speaker, transcript=text)
                for utt in sorted(transcripts):
                    log.skip("listed files missing", f"{trans} lists {utt} but it is not on disk")
