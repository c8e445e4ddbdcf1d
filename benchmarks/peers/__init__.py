"""Peer wake-word engines (openWakeWord, microWakeWord, Porcupine) behind one small interface,
so the benchmark can feed them the same 16 kHz audio as ours and compare FRR / FA per hour and
CPU cost.

An adapter is one class in one module of this package, registered by name with :func:`register`:
chunks of int16 audio in, (stream time, probability) pairs out. An adapter whose scores are not
the engine's own probabilities (Porcupine's come from a sensitivity grid) says how in ``note``,
which the results carry. Its engine's package is imported
only when the adapter is constructed, so the registry lists every engine even where a package is
missing. openWakeWord and microWakeWord run on the TensorFlow Lite C library their wheel ships;
:func:`single_thread_interpreter` rebuilds their interpreters with one thread, because the cost
target is quoted for one thread and the library's default spreads work over several.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

SAMPLE_RATE = 16000  # Hz: the audio every engine is fed
TARGET_WAKE_WORDS = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")
"""The wake words ours is compared on (all three projects ship a model for each)."""


class PeerEngine(Protocol):
    """A peer wake-word detector for one wake word, fed int16 16 kHz audio chunk by chunk."""

    name: str
    """'<engine>:<wake word>', e.g. 'openwakeword:hey_jarvis'."""
    chunk_samples: int
    """The engine's natural chunk size at 16 kHz (process() takes any size)."""
    smoothing_calls: int
    """Moving average over this many outputs before thresholding (kws.evaluation.smooth)."""
    refractory_s: float
    """Seconds after a firing during which the engine's own convention suppresses another."""

    def __init__(self, wake_word: str) -> None: ...

    @classmethod
    def wake_words(cls) -> tuple[str, ...]:
        """The wake words the installed package ships a model for."""
        ...

    def reset(self) -> None:
        """Forget all audio: the next chunk starts a new stream at time 0."""
        ...

    def process(self, chunk: np.ndarray) -> list[tuple[float, float]]:
        """(stream time in s at the end of the audio it had, probability) for every prediction
        this chunk completed, in order; the probabilities are raw (not yet smoothed)."""
        ...


ENGINES: dict[str, type[PeerEngine]] = {}
"""Engine name -> adapter class, filled by :func:`register` when this package is imported."""

_Adapter = TypeVar("_Adapter", bound=type[Any])


def register(name: str) -> Callable[[_Adapter], _Adapter]:
    """Class decorator adding an adapter to :data:`ENGINES` under ``name``."""

    def add(cls: _Adapter) -> _Adapter:
        if name in ENGINES:
            raise ValueError(f"peer engine {name!r} is registered twice")
        ENGINES[name] = cls
        return cls

    return add


def load_peer(engine: str, wake_word: str) -> PeerEngine:
    """The registered adapter ``engine`` for ``wake_word`` (ValueError naming the choices)."""
    try:
        cls = ENGINES[engine]
    except KeyError:
        raise ValueError(
            f"no peer engine {engine!r} (choices: {', '.join(sorted(ENGINES))})"
        ) from None
    return cls(wake_word)


def check_wake_word(engine: str, wake_word: str, shipped: Sequence[str]) -> None:
    """ValueError naming what ``engine`` ships if ``wake_word`` is not among it."""
    if wake_word not in shipped:
        raise ValueError(
            f"{engine} ships no {wake_word!r} model (it has: {', '.join(sorted(shipped))})"
        )


class ChunkBuffer:
    """Cuts arbitrary int16 chunks into pieces of exactly ``size`` samples, keeping the rest for
    the next call, so an engine sees its natural chunks whatever the caller feeds."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self.samples = 0
        """Samples handed out so far (the stream position at the end of the last piece)."""

    def feed(self, chunk: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """(piece, stream sample index at its end) for each whole piece now available."""
        chunk = np.asarray(chunk)
        if chunk.dtype != np.int16 or chunk.ndim != 1:
            raise TypeError(f"expected a 1-D int16 chunk, got {chunk.dtype} {chunk.shape}")
        data = np.concatenate([self._pending, chunk]) if len(self._pending) else chunk
        whole = len(data) - len(data) % self.size
        pieces = []
        for start in range(0, whole, self.size):
            self.samples += self.size
            pieces.append((data[start : start + self.size], self.samples))
        self._pending = data[whole:].copy()
        return pieces


def single_thread_interpreter(
    lib: ctypes.CDLL, model: int, input_shape: Sequence[int] | None = None
) -> int:
    """A TensorFlow Lite C interpreter of ``model`` limited to one thread, its input 0 resized
    to ``input_shape`` if given, tensors allocated (the handle; the caller owns it)."""
    lib.TfLiteInterpreterOptionsCreate.argtypes = []
    lib.TfLiteInterpreterOptionsCreate.restype = ctypes.c_void_p
    lib.TfLiteInterpreterOptionsSetNumThreads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.TfLiteInterpreterOptionsSetNumThreads.restype = None
    lib.TfLiteInterpreterOptionsDelete.argtypes = [ctypes.c_void_p]
    lib.TfLiteInterpreterOptionsDelete.restype = None
    options = lib.TfLiteInterpreterOptionsCreate()
    lib.TfLiteInterpreterOptionsSetNumThreads(options, 1)
    interpreter = lib.TfLiteInterpreterCreate(model, options)
    lib.TfLiteInterpreterOptionsDelete(options)  # the interpreter keeps its own copy
    if not interpreter:
        raise RuntimeError("TensorFlow Lite could not create an interpreter")
    if input_shape is not None:
        dims = (ctypes.c_int32 * len(input_shape))(*input_shape)
        lib.TfLiteInterpreterResizeInputTensor(interpreter, 0, dims, len(input_shape))
    if lib.TfLiteInterpreterAllocateTensors(interpreter) != 0:
        raise RuntimeError("TensorFlow Lite could not allocate the interpreter's tensors")
    return int(interpreter)


# The adapters register themselves on import; they need register() defined above.
from benchmarks.peers import microwakeword, openwakeword, porcupine  # noqa: E402, F401
