"""The feature frontend: batch (whole signals, for training) and streaming (pushed chunks).

Both paths share :class:`Frontend`'s spectral stage, so a frame's features do not depend on
how the audio arrived. Semantics follow python_speech_features: pre-emphasis over the whole
signal (the sample before the first is 0), frames of ``frame_length`` samples every
``frame_step``, power spectrum ``|rfft(frame, nfft)|^2 / nfft``, mel filterbank, log; MFCC adds
an orthonormal DCT-II, a lifter and, optionally, log frame energy as c0. Only complete frames are
produced: python_speech_features also zero-pads a final partial frame, which a stream cannot know.
"""

from __future__ import annotations

import numpy as np

from kws.features.config import FeatureConfig
from kws.features.signal import dct_matrix, lifter_weights, mel_filterbank, window


class Frontend:
    """Precomputed matrices for one FeatureConfig and the spectral stage shared by both paths."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        c = config
        fb = mel_filterbank(c.nfilt, c.nfft, c.sample_rate, c.lowfreq, c.high_hz)
        # One matmul gives the filterbank energies and the total frame energy: the complex
        # spectrum is viewed as interleaved (re, im) floats, squared, and each filter weight
        # is repeated for the re and im entries of its bin; the last column sums all bins.
        weights = np.concatenate([fb.T, np.ones((fb.shape[1], 1))], axis=1) / c.nfft
        self._fb_energy = np.ascontiguousarray(np.repeat(weights, 2, axis=0))
        win = window(c.winfunc, c.frame_length)
        self._window = None if c.winfunc == "rectangular" else win
        self._dct = None
        if c.numcep:
            lift = lifter_weights(c.numcep, c.ceplifter)
            self._dct = np.ascontiguousarray(dct_matrix(c.nfilt, c.numcep) * lift[None, :])

    def spectral(self, frames: np.ndarray) -> np.ndarray:
        """Features for pre-emphasized frames, shape (n, frame_length) -> (n, num_features)."""
        c = self.config
        if self._window is not None:
            frames = frames * self._window
        spec = np.fft.rfft(frames, n=c.nfft)
        power = spec.view(np.float64)
        np.square(power, out=power)
        energies = power @ self._fb_energy
        np.maximum(energies, c.log_floor, out=energies)
        np.log(energies, out=energies)
        if self._dct is None:
            return energies[:, : c.nfilt].astype(np.float32)
        ceps = energies[:, : c.nfilt] @ self._dct
        if c.append_energy:
            ceps[:, 0] = energies[:, c.nfilt]
        return ceps.astype(np.float32)

    def compute(self, samples: np.ndarray) -> np.ndarray:
        """Features of a whole signal (int16 or float samples), shape (num_frames, num_features)."""
        c = self.config
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        n = c.num_frames(len(x))
        if n == 0:
            return np.zeros((0, c.num_features), dtype=np.float32)
        emphasized = np.empty_like(x)
        emphasized[0] = x[0]
        np.subtract(x[1:], c.preemph * x[:-1], out=emphasized[1:])
        return self.spectral(_frames(emphasized, n, c.frame_length, c.frame_step))


class StreamingFrontend:
    """Incremental features: push any number of samples, get the frames completed so far.

    State carried across pushes: the last raw sample (pre-emphasis memory) and the samples of
    the partial window. Output equals :meth:`Frontend.compute` on the concatenated input.
    """

    def __init__(self, config: FeatureConfig, frontend: Frontend | None = None) -> None:
        self.config = config
        self.frontend = frontend or Frontend(config)
        self._length = config.frame_length
        self._step = config.frame_step
        self._preemph = config.preemph
        # _buf[0] is the raw sample before the first sample of the next frame (0 at the start),
        # followed by the unconsumed raw samples.
        self._buf = np.zeros(self._length + 1 + 16 * self._step, dtype=np.float64)
        self._fill = 1
        self.frames_emitted = 0
        """Frames produced since creation (or the last reset)."""

    def reset(self) -> None:
        """Forget all audio: the next sample is treated as the start of a stream."""
        self._buf[0] = 0.0
        self._fill = 1
        self.frames_emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; return the features of every frame they complete (possibly none)."""
        samples = np.asarray(samples).reshape(-1)
        need = self._fill + len(samples)
        if need > len(self._buf):
            grown = np.zeros(max(need, 2 * len(self._buf)), dtype=np.float64)
            grown[: self._fill] = self._buf[: self._fill]
            self._buf = grown
        self._buf[self._fill : need] = samples
        self._fill = need
        available = need - 1 - self._length
        if available < 0:
            return np.zeros((0, self.config.num_features), dtype=np.float32)
        count = available // self._step + 1
        raw = _frames(self._buf, count, self._length + 1, self._step)
        frames = raw[:, 1:] - self._preemph * raw[:, :-1]
        features = self.frontend.spectral(frames)
        consumed = count * self._step
        keep = need - consumed
        self._buf[:keep] = self._buf[consumed:need]
        self._fill = keep
        self.frames_emitted += count
        return features


def _frames(signal: np.ndarray, count: int, length: int, step: int) -> np.ndarray:
    """A read-only (count, length) view of overlapping frames of a contiguous 1-D array.

    Built with the ndarray constructor: numpy's sliding_window_view costs ~25 us per call,
    which matters when a stream pushes one 10 ms hop at a time.
    """
    itemsize = signal.itemsize
    view = np.ndarray(
        shape=(count, length),
        dtype=signal.dtype,
        buffer=signal,
        strides=(step * itemsize, itemsize),
    )
    view.flags.writeable = False
    return view


def compute_features(config: FeatureConfig, samples: np.ndarray) -> np.ndarray:
    """Batch features of a whole signal: the function training calls."""
    return Frontend(config).compute(samples)
