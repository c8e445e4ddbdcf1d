"""Resemblyzer (PyPI ``resemblyzer``: a GE2E speaker encoder pretrained on LibriSpeech and
VoxCeleb, 256-d) as a peer of ``python -m benchmarks.speaker --baseline resemblyzer``.

Resemblyzer needs PyTorch, whose default PyPI wheel pulls gigabytes of CUDA libraries, so it
never enters the project's environment, ``tools/setup.sh`` or CI: it lives in a virtualenv of its
own (default :data:`DEFAULT_VENV`, ``--resemblyzer-venv`` elsewhere) that the benchmark creates
when asked (``--install-peers``): ``python -m venv``, ``pip install torch==2.13.0`` (where a CPU
wheel of that version is on pip's find-links, as on this machine, it is the one installed),
``pip install resemblyzer 'setuptools<81'`` (its webrtcvad imports ``pkg_resources``), and a check
that no ``nvidia-*`` package came along. The benchmark then runs
``benchmarks/peers/resemblyzer_embed.py`` inside that virtualenv as a subprocess, which writes one
embedding per audio file to a ``.npy`` file; kws never imports torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kws.errors import KwsError

EMBED_SCRIPT = Path(__file__).with_name("resemblyzer_embed.py")
DEFAULT_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kws" / "resemblyzer-venv"
)
TORCH = "torch==2.13.0"
PACKAGES = ("resemblyzer==0.1.4", "setuptools<81")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _pip(venv: Path, *args: str) -> None:
    done = subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "install", "-q", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise KwsError(
            f"pip install {' '.join(args)} in {venv} failed: {lines[-1] if lines else ''}"
        )


def ensure_venv(venv: Path, install: bool) -> Path:
    """The virtualenv's python, creating the virtualenv first when ``install`` is set; without
    it a missing virtualenv is a one-line KwsError saying how to create it."""
    python = venv_python(venv)
    if python.is_file():
        return python
    if not install:
        raise KwsError(
            f"resemblyzer: no virtualenv at {venv}; add --install-peers to create it there "
            f"(pip installs {TORCH} and resemblyzer into it, about 1.5 GB) or point "
            "--resemblyzer-venv at an existing one"
        )
    print(f"benchmarks.speaker: creating the Resemblyzer virtualenv {venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    _pip(venv, TORCH)
    _pip(venv, *PACKAGES)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cuda = [line for line in listed.splitlines() if line.lower().startswith("nvidia-")]
    if cuda:
        raise KwsError(f"{venv}: pip installed CUDA packages ({cuda[0]}, ...); remove the venv")
    return python


def embed(paths: Sequence[Path], venv: Path, install: bool = False) -> dict[Path, np.ndarray]:
    """Resemblyzer's embedding of each audio file (unit vectors, 256-d)."""
    python = ensure_venv(venv, install)
    with tempfile.TemporaryDirectory(prefix="kws-resemblyzer-") as tmp:
        listing, out = Path(tmp, "files.txt"), Path(tmp, "embeddings.npy")
        listing.write_text("".join(f"{p.resolve()}\n" for p in paths), encoding="utf-8")
        done = subprocess.run(
            [str(python), "-W", "ignore", str(EMBED_SCRIPT), str(listing), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.is_file():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise KwsError(f"resemblyzer ({python}) failed: {lines[-1] if lines else 'no output'}")
        matrix = np.load(out)
    if matrix.shape[0] != len(paths):
        raise KwsError(f"resemblyzer returned {matrix.shape[0]} embeddings for {len(paths)} files")
    return dict(zip(paths, matrix, strict=True))
