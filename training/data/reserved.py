"""Sources kept for independent evaluation (RESERVED.md), as data, and the one check that refuses
them: every tool that takes audio or a voice from a named source calls :func:`refuse_reserved`.

The project is judged on audio made from these sources by voices and in recordings that nothing
in it has heard, so no corpus tool may read them (not for training, tuning, model choice or
calibration). Names are matched case-insensitively, as shell-style globs (``fortunes-*``).
"""

from __future__ import annotations

import fnmatch

from kws.errors import KwsError

RESERVED_ENGINES: tuple[str, ...] = ("festival", "festvox-*", "festlex-*")
"""Text-to-speech engines, voices and lexicons (package names)."""

RESERVED_DATASETS: tuple[str, ...] = (
    "free-spoken-digit-dataset",
    "free_spoken_digit_dataset",
    "freespokendigitdataset",
    "fsdd",
)
"""The Free Spoken Digit Dataset in any copy: the folder names a copy of it goes by."""

RESERVED_PACKAGES: tuple[str, ...] = (
    "klettres-data",
    "fortunes",
    "fortunes-*",
    "fillets-ng-data",
    "fillets-ng-data-cs",
    "fillets-ng-data-nl",
    "frozen-bubble-data",
    "pingus-data",
    "ardentryst",
    "brainparty-data",
    "btanks-data",
    "circuslinux-data",
    "dopewars-data",
    "flare-game",
    "foobillardplus-data",
    "gcompris-qt-data",
    "gemdropx",
    "gl-117-data",
    "hedgewars-data",
    "libreoffice-common",
    "lincity-ng-data",
    "lugaru-data",
    "mate-media-common",
    "micropolis-data",
    "minetest-data",
    "minetest-mod-homedecor",
    "monsterz-data",
    "plee-the-bear-data",
    "qabcs-data",
    "searchandrescue-data",
    "supertux-data",
    "triplea",
    "ukui-media",
    "xemacs21-basesupport",
)
"""Debian packages, every file in them."""

RESERVED: tuple[str, ...] = RESERVED_ENGINES + RESERVED_DATASETS + RESERVED_PACKAGES
"""Every reserved name or glob."""


def is_reserved(name: str) -> bool:
    """Whether ``name`` (a package, voice, engine or dataset folder) matches a reserved entry."""
    key = name.strip().lower()
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in RESERVED)


def refuse_reserved(name: str, what: str) -> None:
    """Raise a one-line KwsError if ``name`` is reserved; ``what`` names the tool that asked."""
    if is_reserved(name):
        raise KwsError(
            f"{name} is reserved for independent evaluation (RESERVED.md); {what} cannot use it"
        )
