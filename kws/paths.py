"""Paths as results and model metadata record them: relative to the current directory when they
lie inside it, so that what a run writes in a checkout reads the same in every clone."""

from __future__ import annotations

import os


def portable_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the current directory if it is an absolute path inside it (symlinks
    are not followed, so ``data`` linked elsewhere stays ``data/...``), else ``path`` as given.

    Any argument can go through it: a relative path or a word that is no path comes back as is.
    """
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    cwd = os.getcwd()
    absolute = os.path.normpath(text)
    if absolute == cwd or absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    return text
