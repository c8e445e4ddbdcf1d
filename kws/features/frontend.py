"""The feature frontend: batch (whole signals, for training) and streaming (pushed chunks).

Both paths share :class:`Frontend`'s spectral stage, so a frame's features do not depend on
how the audio arrived. Two backends compute it: ``native``, the compiled kernel
(``_native.c``, built at install time where a C compiler exists; batch features are the same
kernel fed the whole signal), and ``numpy``, the reference and fallback. They agree to float32
rounding (tests/test_features.py runs every test on both); the native one cost a fifth of
numpy's CPU at 10 ms pushes in benchmarks.runtime_cost, where numpy's per-call overhead dominates.

Semantics follow python_speech_features: pre-emphasis over the whole signal (the sample
before the first is 0), frames of ``frame_length`` samples every ``frame_step``, power spectrum
``|rfft(frame, nfft)|^2 / nfft``, mel filterbank, log; MFCC adds an orthonormal DCT-II, a lifter
and, optionally, log frame energy as c0. Only complete frames are produced: python_speech_features
also zero-pads a final partial frame, which a stream cannot know.
"""

from __future__ import annotations

import os

import numpy as np

from kws.features.config import FeatureConfig
from kws.features.signal import dct_matrix, lifter_weights, mel_filterbank, window

DTYPE = np.float32
"""Features come out as float32, what models take. Arithmetic is float64 so that a frame's
features do not depend on how many frames one BLAS call computes (float32 sums would differ
between batch and streaming in the 5th digit)."""
WORK = np.float64

try:
    from kws.features import _native
except ImportError:  # installed without a C compiler: the numpy backend below
    _native = None

BACKENDS = ("native", "numpy")
BACKEND_ENV = "KWS_FRONTEND"
"""Environment variable that forces a backend ("native" or "numpy") for every frontend."""
_NATIVE_INPUT = (np.dtype(np.int16), np.dtype(np.float32), np.dtype(np.float64))

_EMPTY_CACHE: dict[int, np.ndarray] = {}


def native_available() -> bool:
    """True if the compiled kernel was built and imports."""
    return _native is not None


def choose_backend(config: FeatureConfig, requested: str | None = None) -> str:
    """The backend a frontend for ``config`` uses: ``requested``, else $KWS_FRONTEND, else native
    where it can run (built, power-of-two nfft), else numpy. Asking for an impossible native
    backend raises ValueError saying why."""
    wanted = requested or os.environ.get(BACKEND_ENV) or None
    if wanted not in (None, *BACKENDS):
        source = "frontend backend" if requested else f"${BACKEND_ENV}"
        raise ValueError(f"{source} must be one of {BACKENDS}, got {wanted!r}")
    if wanted == "numpy":
        return "numpy"
    power_of_two = config.nfft & (config.nfft - 1) == 0
    if native_available() and power_of_two:
        return "native"
    if wanted == "native":
        why = "nfft is not a power of two" if native_available() else "kws was built without it"
        raise ValueError(f"native frontend unavailable: {why}")
    return "numpy"


def _empty(num_features: int) -> np.ndarray:
    """A shared read-only (0, num_features) result for pushes that complete no frame."""
    if num_features not in _EMPTY_CACHE:
        empty = np.zeros((0, num_features), dtype=DTYPE)
        empty.flags.writeable = False
        _EMPTY_CACHE[num_features] = empty
    return _EMPTY_CACHE[num_features]


class Frontend:
    """Precomputed matrices for one FeatureConfig and the spectral stage shared by both paths."""

    def __init__(self, config: FeatureConfig, backend: str | None = None) -> None:
        self.config = config
        self.backend = choose_backend(config, backend)
        """"native" or "numpy" (see :func:`choose_backend`)."""
        c = config
        fb = mel_filterbank(c.nfilt, c.nfft, c.sample_rate, c.lowfreq, c.high_hz)
        # One matmul gives the filterbank energies (and, for MFCC with append_energy, the total
        # frame energy as a last column): the complex spectrum is viewed as interleaved
        # (re, im) floats and squared, so each filter weight is repeated for both entries.
        weights = fb.T
        self._with_energy = bool(c.numcep and c.append_energy)
        if self._with_energy:
            weights = np.concatenate([weights, np.ones((fb.shape[1], 1))], axis=1)
        self._weights = np.ascontiguousarray(np.repeat(weights / c.nfft, 2, axis=0), dtype=WORK)
        self._window = None
        if c.winfunc != "rectangular":
            self._window = window(c.winfunc, c.frame_length)
        self._floor = WORK(c.log_floor)
        self._dct = None
        if c.numcep:
            lift = lifter_weights(c.numcep, c.ceplifter)
            self._dct = np.ascontiguousarray(dct_matrix(c.nfilt, c.numcep) * lift, dtype=WORK)
        self._kernel_args = {
            "length": c.frame_length,
            "step": c.frame_step,
            "nfft": c.nfft,
            "preemph": float(c.preemph),
            "floor": float(c.log_floor),
            "window": self._window,
            "filters": np.ascontiguousarray(fb, dtype=WORK),
            "dct": self._dct,
            "with_energy": self._with_energy,
        }

    def new_kernel(self) -> _native.Kernel:
        """A fresh compiled per-stream state (native backend only)."""
        return _native.Kernel(**self._kernel_args)

    def spectral(self, frames: np.ndarray) -> np.ndarray:
        """Features for pre-emphasized frames, shape (n, frame_length) -> (n, num_features)."""
        c = self.config
        if self._window is not None:
            frames = frames * self._window
        spec = np.fft.rfft(frames, n=c.nfft)
        power = spec.view(spec.real.dtype)
        np.square(power, out=power)
        energies = power @ self._weights
        np.maximum(energies, self._floor, out=energies)
        np.log(energies, out=energies)
        if self._dct is None:
            return energies.astype(DTYPE)
        ceps = energies[:, : c.nfilt] @ self._dct
        if self._with_energy:
            ceps[:, 0] = energies[:, c.nfilt]
        return ceps.astype(DTYPE)

    def compute(self, samples: np.ndarray) -> np.ndarray:
        """Features of a whole signal (int16 or float samples), shape (num_frames, num_features)."""
        c = self.config
        x = np.asarray(samples).reshape(-1)
        if self.backend == "native":
            return _native_push(self.new_kernel(), x, c.frame_length, c.frame_step, c.num_features)
        n = c.num_frames(len(x))
        if n == 0:
            return np.zeros((0, c.num_features), dtype=DTYPE)
        emphasized = np.empty(len(x), dtype=WORK)
        emphasized[0] = x[0]
        np.subtract(x[1:], WORK(c.preemph) * x[:-1], out=emphasized[1:])
        return self.spectral(_frames(emphasized, 0, n, c.frame_length, c.frame_step))


class StreamingFrontend:
    """Incremental features: push any number of samples, get the frames completed so far.

    State carried across pushes: the last raw sample (pre-emphasis memory) and the
    pre-emphasized samples of the partial window, in a buffer compacted only when full.
    Output equals :meth:`Frontend.compute` on the concatenated input.
    """

    def __init__(self, config: FeatureConfig, frontend: Frontend | None = None) -> None:
        self.config = config
        self.frontend = frontend or Frontend(config)
        self._length = config.frame_length
        self._step = config.frame_step
        # A numpy float64 (not a Python float) keeps float32 input products in float64.
        self._preemph = WORK(config.preemph)
        self._width = config.num_features
        self._empty = _empty(config.num_features)
        self._buf = np.zeros(self._length + 64 * self._step, dtype=WORK)
        self._kernel = self.frontend.new_kernel() if self.frontend.backend == "native" else None
        self.reset()

    @property
    def backend(self) -> str:
        return self.frontend.backend

    def reset(self) -> None:
        """Forget all audio: the next sample is treated as the start of a stream."""
        if self._kernel is not None:
            self._kernel.reset()
        self._start = 0  # buffer index of the next frame's first sample
        self._fill = 0  # buffer index after the last sample
        self._last = 0.0  # the raw sample before the next one (pre-emphasis memory)
        self.frames_emitted = 0
        """Frames produced since creation (or the last reset)."""

    def _make_room(self, n: int) -> None:
        pending = self._fill - self._start
        if pending + n > len(self._buf):
            grown = np.zeros(2 * (pending + n), dtype=WORK)
            grown[:pending] = self._buf[self._start : self._fill]
            self._buf = grown
        else:
            self._buf[:pending] = self._buf[self._start : self._fill]
        self._start, self._fill = 0, pending

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; return the features of every frame they complete (possibly none)."""
        if self._kernel is not None:
            frames = _native_push(self._kernel, samples, self._length, self._step, self._width)
            self.frames_emitted += len(frames)
            return frames
        x = samples if samples.ndim == 1 else samples.reshape(-1)
        n = len(x)
        if n == 0:
            return self._empty
        if self._fill + n > len(self._buf):
            self._make_room(n)
        fill = self._fill
        end = fill + n
        buf = self._buf
        buf[fill] = float(x[0]) - self._preemph * self._last
        if n > 1:
            np.subtract(x[1:], self._preemph * x[:-1], out=buf[fill + 1 : end])
        self._last = float(x[-1])
        self._fill = end
        pending = end - self._start
        if pending < self._length:
            return self._empty
        count = (pending - self._length) // self._step + 1
        frames = _frames(buf, self._start, count, self._length, self._step)
        self._start += count * self._step
        self.frames_emitted += count
        return self.frontend.spectral(frames)


def _native_push(
    kernel: _native.Kernel, x: np.ndarray, length: int, step: int, width: int
) -> np.ndarray:
    """Push ``x`` into a compiled kernel; return the features of the frames it completes
    (``length``/``step``: the frame in samples, ``width``: features per frame)."""
    pending = kernel.pending + x.size
    count = 0 if pending < length else (pending - length) // step + 1
    out = np.empty((count, width), dtype=DTYPE)
    try:
        kernel.push(x, out)
    except (TypeError, ValueError, BufferError):  # another dtype or a strided view: copy once
        dtype = x.dtype if x.dtype in _NATIVE_INPUT else WORK
        kernel.push(np.ascontiguousarray(x, dtype=dtype), out)
    return out


def _frames(signal: np.ndarray, start: int, count: int, length: int, step: int) -> np.ndarray:
    """A (count, length) view of overlapping frames of a contiguous 1-D array from ``start``.

    Built with the ndarray constructor: numpy's sliding_window_view costs ~25 us per call,
    which matters when a stream pushes one 10 ms hop at a time. Callers must not write to it.
    """
    itemsize = signal.itemsize
    return np.ndarray(
        shape=(count, length),
        dtype=signal.dtype,
        buffer=signal,
        offset=start * itemsize,
        strides=(step * itemsize, itemsize),
    )


def compute_features(config: FeatureConfig, samples: np.ndarray) -> np.ndarray:
    """Batch features of a whole signal: the function training calls."""
    return Frontend(config).compute(samples)
