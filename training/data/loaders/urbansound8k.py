"""UrbanSound8K (8732 urban sound slices, 10 classes, 10 folds) in its published layout.

Layout: ``<root>/metadata/UrbanSound8K.csv`` with columns slice_file_name, fsID, start, end,
salience, fold, classID, class; the slices in ``<root>/audio/fold<k>/``. Examples carry
``split="fold<k>"`` and ``fold=k`` (1..10). The CSV's start/end are offsets in the original
Freesound recording, not in the slice file, so they are not copied into ``start_s``/``end_s``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from training.data.loaders.base import Example, SkipLog, read_csv, require_dir, require_file

DATASET = "UrbanSound8K"
METADATA = "metadata/UrbanSound8K.csv"
FOLDS = range(1, 11)
_COLUMNS = ("slice_file_name", "fold", "class")


def urbansound8k(root: str | os.PathLike[str]) -> Iterator[Example]:
    """List the slices (label = class name) in CSV order.

    Raises KwsError now if ``root`` is not the dataset; missing slices and bad rows are skipped
    with one DatasetWarning when the listing ends.
    """
    base = require_dir(root, DATASET)
    rows = read_csv(require_file(base, METADATA, DATASET), _COLUMNS, DATASET)
    return _examples(base, rows)


def _examples(root: Path, rows: list[dict[str, str]]) -> Iterator[Example]:
    with SkipLog(DATASET, root) as log:
        for line, row in enumerate(rows, start=2):  # line 1 is the header
            filename, fold, label = row["slice_file_name"], row["fold"], row["class"]
            if not filename or not label or not fold or not fold.isdigit():
                log.skip("unreadable rows", f"{METADATA} line {line}: {row}")
                continue
            if int(fold) not in FOLDS:
                log.skip("unreadable rows", f"{METADATA} line {line}: fold {fold} not in 1..10")
                continue
            path = root / "audio" / f"fold{int(fold)}" / filename
            if not path.is_file():
                log.skip("listed files missing", f"{path} is in {METADATA} but not on disk")
                continue
            yield Example(path, label, f"fold{int(fold)}", fold=int(fold))
