"""VoxCeleb 1/2 speaker folders (WAV) in the published layout.

Layout: ``<root>/wav/<id>/<video>/<nnnnn>.wav`` (as extracted) or ``<root>/<id>/<video>/*.wav``;
both are accepted. Speaker folders are named ``id`` + digits. If ``<root>/iden_split.txt`` (the
VoxCeleb1 identification split: lines ``<1|2|3> <id>/<video>/<file>.wav``) is present it gives
train/validation/test; otherwise every example is train. ``veri_test.txt`` is not used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from kws.errors import KwsError
from training.data.loaders.base import Example, SkipLog, require_dir

DATASET = "VoxCeleb"
IDEN_SPLIT = "iden_split.txt"
_SPEAKER = re.compile(r"id\d+")
_IDEN_SPLITS = {"1": "train", "2": "validation", "3": "test"}


def voxceleb(root: str | os.PathLike[str]) -> Iterator[Example]:
    """List the utterances (label = speaker = the ``id…`` folder name).

    Raises KwsError now if no ``id…`` speaker folder is found. Files ``iden_split.txt`` names for
    a speaker folder that exists but that are missing, and its unreadable lines, are skipped with
    one DatasetWarning at the end (speakers absent altogether, e.g. test-only copies, are not).
    """
    base = require_dir(root, DATASET)
    audio = base / "wav" if (base / "wav").is_dir() else base
    speakers = sorted(p for p in audio.iterdir() if p.is_dir() and _SPEAKER.fullmatch(p.name))
    if not speakers:
        raise KwsError(f"{base}: not a {DATASET} folder (no id<digits>/ speaker folders)")
    return _examples(base, speakers)


def _read_iden_split(path: Path, log: SkipLog) -> dict[str, str]:
    if not path.is_file():
        return {}
    splits: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            code, _, relative = line.strip().partition(" ")
            if code not in _IDEN_SPLITS or not relative.strip():
                if line.strip():
                    log.skip("unreadable split lines", f"{path} line {number}: {line!r}")
                continue
            splits[relative.strip()] = _IDEN_SPLITS[code]
    return splits


def _examples(root: Path, speakers: list[Path]) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        splits = _read_iden_split(root / IDEN_SPLIT, log)
        for speaker in speakers:
            for path in sorted(speaker.glob("*/*.wav")):
                relative = f"{speaker.name}/{path.parent.name}/{path.name}"
                split = splits.pop(relative, "train")
                yield Example(path, speaker.name, split, speaker=speaker.name)
        present = {s.name for s in speakers}  # speakers not extracted at all are not "missing"
        for relative in sorted(r for r in splits if r.split("/", 1)[0] in present):
            log.skip("listed files missing", f"{IDEN_SPLIT} lists {relative} but it is not on disk")
