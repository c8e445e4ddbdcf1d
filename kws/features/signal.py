"""Signal primitives behind the frontend: windows, mel filterbank, DCT and lifter matrices.

Pure functions, computed once per :class:`~kws.features.config.FeatureConfig`. The filterbank
reproduces python_speech_features' ``get_filterbanks`` (triangles on integer FFT bins).
"""

from __future__ import annotations

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 * log10(1 + hz / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    nfilt: int, nfft: int, sample_rate: int, lowfreq: float, highfreq: float
) -> np.ndarray:
    """Triangular mel filters, shape (nfilt, nfft // 2 + 1), peak 1 on integer FFT bins."""
    melpoints = np.linspace(hz_to_mel(lowfreq), hz_to_mel(highfreq), nfilt + 2)
    bins = np.floor((nfft + 1) * mel_to_hz(melpoints) / sample_rate).astype(int)
    fbank = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        left, centre, right = bins[j], bins[j + 1], bins[j + 2]
        for i in range(left, centre):
            fbank[j, i] = (i - left) / (centre - left)
        for i in range(centre, right):
            fbank[j, i] = (right - i) / (right - centre)
    return fbank


def window(name: str, length: int) -> np.ndarray:
    """Analysis window of ``length`` samples (numpy's symmetric Hamming/Hann, as psf users pass)."""
    if name == "rectangular":
        return np.ones(length)
    if name == "hamming":
        return np.hamming(length)
    if name == "hann":
        return np.hanning(length)
    raise ValueError(f"unknown window {name!r}")


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a (n_in, n_out) matrix: ``x @ D`` is scipy's dct(x, norm='ortho')."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    d[:, 0] = 1.0 / np.sqrt(n_in)
    return d


def lifter_weights(numcep: int, ceplifter: int) -> np.ndarray:
    """Sinusoidal cepstral lifter 1 + (L/2) sin(pi n / L); all ones when ``ceplifter`` is 0."""
    if ceplifter <= 0:
        return np.ones(numcep)
    n = np.arange(numcep)
    return 1.0 + (ceplifter / 2.0) * np.sin(np.pi * n / ceplifter)
