"""Generated "speakers" for speaker-verification tests: voiced signals differing in pitch and
formants, so that a speaker encoder has something real to learn and tests need no dataset."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

RATE = 16000
VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (640, 1190, 2390),
)
"""Peterson & Barney's average adult male formants (Hz) for /a i u e o/-like vowels."""


def voice(f0: float, tract: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A speaker's voiced babble: a glottal pulse train at ``f0`` (±4% drift) through vowel
    formants scaled by ``tract`` (shorter vocal tract -> higher formants), a vowel every 0.15 s."""
    n = int(seconds * RATE)
    drift = 1 + 0.04 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * np.arange(n) / RATE)
    phase = np.cumsum(f0 * drift / RATE)
    source = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    out = np.zeros(n)
    seg = int(0.15 * RATE)
    for start in range(0, n, seg):
        x = source[start : start + seg]
        for formant in VOWELS[int(rng.integers(len(VOWELS)))]:  # parallel formant resonators
            f = min(formant * tract, 0.45 * RATE)
            b, a = sps.iirpeak(f, Q=f / 80.0, fs=RATE)
            out[start : start + seg] += sps.lfilter(b, a, x)
    out = out / np.max(np.abs(out)) + 0.003 * rng.standard_normal(n)
    return (0.3 * out / np.max(np.abs(out)) * 32767).astype(np.int16)
