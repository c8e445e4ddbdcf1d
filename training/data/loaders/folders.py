"""A generic folder-per-label dataset: ``<root>/<label>/**/<file>`` or, when every top-level
folder is a split name, ``<root>/<split>/<label>/**/<file>``.

Split folders may be named train/training, validation/valid/val/dev, or test/testing. Without
split folders every example is train. Hidden folders and files (``.name``) are ignored; audio files
directly under a root or split folder have no label and are skipped with a count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from kws.errors import KwsError
from training.data.loaders.base import AUDIO_SUFFIXES, Example, SkipLog, require_dir

DATASET = "folder-per-label"
SPLIT_FOLDERS = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}
"""Top-level folder names recognised as splits, and the split each stands for."""


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def folders(
    root: str | os.PathLike[str], suffixes: frozenset[str] = AUDIO_SUFFIXES
) -> Iterator[Example]:
    """List audio files (by ``suffixes``, lower case) with label = their top label folder.

    Raises KwsError now if ``root`` has no subfolders; unlabelled files are skipped with one
    DatasetWarning when the listing ends.
    """
    base = require_dir(root, DATASET)
    top = _visible_dirs(base)
    if not top:
        raise KwsError(f"{base}: not a {DATASET} folder (no <label>/ subfolders)")
    if all(p.name.lower() in SPLIT_FOLDERS for p in top):
        parts = [(SPLIT_FOLDERS[p.name.lower()], p) for p in top]
    else:
        parts = [("train", base)]
    return _examples(base, parts, suffixes)


def _is_audio(path: Path, suffixes: frozenset[str]) -> bool:
    return path.suffix.lower() in suffixes and path.is_file() and not path.name.startswith(".")


def _examples(
    root: Path, parts: list[tuple[str, Path]], suffixes: frozenset[str]
) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        for split, folder in parts:
            for path in sorted(folder.iterdir()):
                if _is_audio(path, suffixes):
                    log.skip("files outside a label folder", f"{path} has no label folder")
            for label_dir in _visible_dirs(folder):
                for path in sorted(label_dir.rglob("*")):
                    hidden = any(part.startswith(".") for part in path.relative_to(label_dir).parts)
                    if not hidden and _is_audio(path, suffixes):
                        yield Example(path, label_dir.name, split)
