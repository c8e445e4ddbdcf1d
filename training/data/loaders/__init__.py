"""Loaders for datasets the user already has, in their published layouts; nothing is downloaded.

Each loader takes the dataset root, checks it at once (a wrong root is a one-line KwsError) and
returns a lazy iterator of :class:`Example` records; audio is decoded only by :func:`load` or
:func:`iter_audio`. :func:`load_dataset` picks a loader by name from :data:`DATASETS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from kws.errors import KwsError
from training.data.loaders.base import (
    SAMPLE_RATE,
    SPLITS,
    DatasetWarning,
    Example,
    assign_folds,
    iter_audio,
    load,
    read_audio,
)
from training.data.loaders.esc50 import esc50
from training.data.loaders.folders import folders
from training.data.loaders.librispeech import librispeech
from training.data.loaders.speech_commands import (
    COMMAND_LABELS,
    command_label,
    command_task,
    speech_commands,
    speech_commands_background,
)
from training.data.loaders.urbansound8k import urbansound8k
from training.data.loaders.voxceleb import voxceleb

Loader = Callable[[str | os.PathLike[str]], Iterator[Example]]

DATASETS: Mapping[str, Loader] = MappingProxyType(
    {
        "speech_commands": speech_commands,
        "esc50": esc50,
        "urbansound8k": urbansound8k,
        "librispeech": librispeech,
        "voxceleb": voxceleb,
        "folders": folders,
    }
)
"""Loader by dataset name (each called with the root only; call a loader for its options)."""


def load_dataset(name: str, root: str | os.PathLike[str]) -> Iterator[Example]:
    """List the dataset ``name`` (a key of :data:`DATASETS`) found at ``root``."""
    loader = DATASETS.get(name)
    if loader is None:
        raise KwsError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    return loader(root)


__all__ = [
    "COMMAND_LABELS",
    "DATASETS",
    "SAMPLE_RATE",
    "SPLITS",
    "DatasetWarning",
    "Example",
    "Loader",
    "assign_folds",
    "command_label",
    "command_task",
    "esc50",
    "folders",
    "iter_audio",
    "librispeech",
    "load",
    "load_dataset",
    "read_audio",
    "speech_commands",
    "speech_commands_background",
    "urbansound8k",
    "voxceleb",
]
