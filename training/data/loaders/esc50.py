"""ESC-50 (environmental sounds, 50 classes × 40 clips, 5 folds) in its published layout.

Layout: ``<root>/meta/esc50.csv`` with columns filename, fold, target, category, esc10,
src_file, take; the 5 s clips in ``<root>/audio/``. Examples carry ``split="fold<k>"`` and
``fold=k`` (1..5 in ESC-50 itself; the Debian-package corpus in this layout has one fold per
package, so any k >= 1 is read); the published folds keep clips cut from one recording
together, so use them (see :func:`~training.data.loaders.base.assign_folds`) rather than a
random split.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from training.data.loaders.base import Example, SkipLog, read_csv, require_dir, require_file

DATASET = "ESC-50"
METADATA = "meta/esc50.csv"
FOLDS = range(1, 6)
_COLUMNS = ("filename", "fold", "category", "esc10")


def esc50(root: str | os.PathLike[str], esc10_only: bool = False) -> Iterator[Example]:
    """List the clips (label = category) in CSV order; ``esc10_only`` keeps the ESC-10 subset.

    Raises KwsError now if ``root`` is not the dataset; missing clips and bad rows are skipped
    with one DatasetWarning when the listing ends.
    """
    base = require_dir(root, DATASET)
    rows = read_csv(require_file(base, METADATA, DATASET), _COLUMNS, DATASET)
    return _examples(base, rows, esc10_only)


def _examples(root: Path, rows: list[dict[str, str]], esc10_only: bool) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        for line, row in enumerate(rows, start=2):  # line 1 is the header
            filename, fold, category = row["filename"], row["fold"], row["category"]
            if not filename or not category or not fold or not fold.isdigit():
                log.skip("unreadable rows", f"{METADATA} line {line}: {row}")
                continue
            if int(fold) < 1:
                log.skip("unreadable rows", f"{METADATA} line {line}: fold {fold} is not >= 1")
                continue
            if esc10_only and row["esc10"] != "True":
                continue
            path = root / "audio" / filename
            if not path.is_file():
                log.skip("listed files missing", f"{path} is in {METADATA} but not on disk")
                continue
            yield Example(path, category, f"fold{fold}", fold=int(fold))
