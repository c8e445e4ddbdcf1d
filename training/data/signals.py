"""Synthetic background audio: coloured noise, babble, music-like signals and silence.

Convention for all of ``training.data``: audio inside Python is a 1-D float32 array in [-1, 1]
at 16 kHz; int16 appears only at file boundaries (:func:`to_int16` before
:func:`kws.wavfile.write_wav`, :func:`as_float32` after :func:`kws.wavfile.load_audio`).

Every generator has the shape ``f(seconds, rng, sample_rate=16000) -> float32`` and draws all of
its randomness from ``rng``, so the same generator state gives byte-identical audio. Levels are
nominal (noise at -20 dBFS RMS, music peaking at -6 dBFS): whoever mixes sets the real level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
from scipy import signal as sps

SAMPLE_RATE = 16000
"""Hz, the runtime's rate."""
NOISE_RMS = 0.1  # -20 dBFS
MUSIC_PEAK = 0.5  # -6 dBFS
_MIN_NOISE_HZ = 20.0  # below this, pink and brown noise are flat (no unbounded drift)


class BackgroundFn(Protocol):
    """A background generator: ``seconds`` of float32 audio drawn from ``rng``."""

    def __call__(
        self, seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
    ) -> np.ndarray: ...


def as_float32(audio: np.ndarray) -> np.ndarray:
    """int16 (full scale 32768) or any float array → float32 in [-1, 1]; floats are not rescaled."""
    array = np.asarray(audio)
    if array.dtype == np.int16:
        return (array.astype(np.float32) / 32768.0).astype(np.float32)
    return np.clip(array.astype(np.float32), -1.0, 1.0)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] → int16 for writing, with the same scaling as kws.wavfile."""
    return np.clip(np.rint(np.asarray(audio, dtype=np.float64) * 32768.0), -32768, 32767).astype(
        np.int16
    )


def num_samples(seconds: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Samples in ``seconds`` at ``sample_rate`` (rounded to the nearest sample)."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return round(seconds * sample_rate)


def _to_rms(x: np.ndarray, rms: float) -> np.ndarray:
    power = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
    scaled = x * (rms / np.sqrt(power)) if power > 0 else x
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def _to_peak(x: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / top) if top > 0 else x).astype(np.float32)


def _shaped_noise(
    n: int, rng: np.random.Generator, sample_rate: int, exponent: float
) -> np.ndarray:
    """Gaussian noise with power falling as 1/f**exponent (FFT shaping, flat below 20 Hz)."""
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum *= np.maximum(freqs, _MIN_NOISE_HZ) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return _to_rms(np.fft.irfft(spectrum, n), NOISE_RMS)


def white(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """White Gaussian noise (flat spectrum) at -20 dBFS RMS."""
    return _to_rms(rng.standard_normal(num_samples(seconds, sample_rate)), NOISE_RMS)


def pink(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Pink (1/f) noise: power falls 3 dB per octave above 20 Hz; -20 dBFS RMS."""
    return _shaped_noise(num_samples(seconds, sample_rate), rng, sample_rate, 1.0)


def brown(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Brown (1/f²) noise: power falls 6 dB per octave above 20 Hz; -20 dBFS RMS."""
    return _shaped_noise(num_samples(seconds, sample_rate), rng, sample_rate, 2.0)


def silence(
    seconds: float,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    floor_dbfs: float | None = -80.0,
) -> np.ndarray:
    """Silence with a white noise floor at ``floor_dbfs`` RMS (about 3 LSB of int16 at -80), or
    digital zeros when ``floor_dbfs`` is None. A real microphone is never exactly silent."""
    n = num_samples(seconds, sample_rate)
    if floor_dbfs is None:
        return np.zeros(n, dtype=np.float32)
    return _to_rms(rng.standard_normal(n), 10.0 ** (floor_dbfs / 20.0))


def babble(
    speech_clips: Sequence[np.ndarray],
    seconds: float,
    rng: np.random.Generator,
    talkers: tuple[int, int] = (3, 8),
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Several talkers at once: each talker is a random chain of ``speech_clips`` (short pauses
    between, starting mid-clip), all talkers at equal level, the sum at -20 dBFS RMS.

    ``talkers`` is the inclusive range the number of talkers is drawn from. Clips are float or
    int16 at ``sample_rate``. Use ``functools.partial(babble, clips)`` as a :class:`BackgroundFn`.
    """
    clips = [as_float32(c) for c in speech_clips if len(c) > 0]
    if not clips:
        raise ValueError("babble needs at least one non-empty speech clip")
    n = num_samples(seconds, sample_rate)
    mix = np.zeros(n, dtype=np.float64)
    for _ in range(int(rng.integers(talkers[0], talkers[1] + 1))):
        parts: list[np.ndarray] = []
        length = 0
        while length < n + sample_rate:  # one extra second, so a random start fits
            clip = clips[int(rng.integers(len(clips)))]
            pause = np.zeros(int(rng.uniform(0.05, 0.4) * sample_rate))
            parts += [clip, pause]
            length += len(clip) + len(pause)
        track = np.concatenate(parts)
        start = int(rng.integers(0, len(track) - n + 1))
        mix += _to_rms(track[start : start + n], 1.0)
    return _to_rms(mix, NOISE_RMS)


# ---- music-like signals -------------------------------------------------------------------------

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)


def _scale_midi(rng: np.random.Generator, octaves: int = 2) -> np.ndarray:
    """MIDI note numbers of a random major or minor scale starting between C3 and B3."""
    steps = _MAJOR if rng.random() < 0.5 else _MINOR
    root = 48 + int(rng.integers(12))
    return np.array([root + 12 * o + s for o in range(octaves) for s in steps])


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _harmonic_tone(freq: float, n: int, sample_rate: int, rolloff: float) -> np.ndarray:
    """A tone with harmonics at 1/k**rolloff amplitude, up to 8 or the Nyquist limit."""
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for k in range(1, 9):
        if k * freq >= sample_rate / 2:
            break
        out += np.sin(2 * np.pi * k * freq * t) / k**rolloff
    return out


def _adsr(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Attack-decay-sustain-release envelope (linear segments) over n samples."""
    a, d, r = (
        min(int(rng.uniform(lo, hi) * sample_rate), n // 4)
        for lo, hi in ((0.005, 0.04), (0.02, 0.08), (0.02, 0.1))
    )
    level = rng.uniform(0.4, 0.8)
    sustain = n - a - d - r
    return np.concatenate(
        [
            np.linspace(0, 1, a, endpoint=False),
            np.linspace(1, level, d, endpoint=False),
            np.full(sustain, level),
            np.linspace(level, 0, r),
        ]
    )


def chords(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A progression of 3-4 note chords from one scale, 0.5-2 s each, with decaying envelopes."""
    n = num_samples(seconds, sample_rate)
    scale = _scale_midi(rng)
    rolloff = rng.uniform(0.8, 2.0)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = min(int(rng.uniform(0.5, 2.0) * sample_rate), n - pos)
        degree = int(rng.integers(7))
        notes = scale[[degree, degree + 2, degree + 4]].tolist()
        if rng.random() < 0.4:
            notes.append(int(scale[min(degree + 6, len(scale) - 1)]))
        decay = np.exp(-np.arange(length) / (rng.uniform(0.3, 1.5) * sample_rate))
        attack = np.minimum(1.0, np.arange(length) / (0.01 * sample_rate))
        for midi in notes:
            out[pos : pos + length] += _harmonic_tone(_hz(midi), length, sample_rate, rolloff)
        out[pos : pos + length] *= decay * attack
        pos += length
    return _to_peak(out, MUSIC_PEAK)


def melody(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A note sequence on a random scale at 80-160 BPM (quarter, eighth and half notes, ADSR)."""
    n = num_samples(seconds, sample_rate)
    scale = _scale_midi(rng) + 12
    beat = 60.0 / rng.uniform(80, 160)
    rolloff = rng.uniform(0.8, 2.5)
    out = np.zeros(n)
    pos, index = 0, int(rng.integers(len(scale)))
    while pos < n:
        length = min(int(beat * rng.choice([0.5, 1.0, 1.0, 2.0]) * sample_rate), n - pos)
        index = int(np.clip(index + rng.integers(-2, 3), 0, len(scale) - 1))
        if rng.random() > 0.1:  # otherwise a rest
            tone = _harmonic_tone(_hz(scale[index]), length, sample_rate, rolloff)
            out[pos : pos + length] = tone * _adsr(length, sample_rate, rng)
        pos += length
    return _to_peak(out, MUSIC_PEAK)


def _kick(sample_rate: int) -> np.ndarray:
    t = np.arange(int(0.3 * sample_rate)) / sample_rate
    freq = 50.0 + 100.0 * np.exp(-t / 0.04)  # 150 Hz sweeping down to 50 Hz
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    return np.sin(phase) * np.exp(-t / 0.08)


def _snare(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    t = np.arange(int(0.2 * sample_rate)) / sample_rate
    noise = rng.standard_normal(len(t)) * np.exp(-t / 0.05)
    return 0.5 * noise + 0.5 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.03)


def _hihat(rng: np.random.Generator, sample_rate: int, highpass: np.ndarray) -> np.ndarray:
    t = np.arange(int(0.06 * sample_rate)) / sample_rate
    return 0.4 * sps.sosfilt(highpass, rng.standard_normal(len(t))) * np.exp(-t / 0.015)


def drums(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A drum loop on a 16th-note grid at 80-160 BPM: kick (decaying 150→50 Hz sweep), snare
    (noise burst + 185 Hz tone) and hi-hat (noise high-passed at 6 kHz), with random variations."""
    n = num_samples(seconds, sample_rate)
    step = 60.0 / rng.uniform(80, 160) / 4
    cutoff = min(6000.0, 0.45 * sample_rate)
    highpass = sps.butter(4, cutoff, btype="highpass", fs=sample_rate, output="sos")
    kick = _kick(sample_rate)
    out = np.zeros(n + sample_rate)  # room for the last hits' tails
    for i in range(int(np.ceil(n / sample_rate / step))):
        at = int(i * step * sample_rate)
        hits: list[np.ndarray] = []
        if i % 8 == 0 or (i % 8 == 6 and rng.random() < 0.3):
            hits.append(kick)
        if i % 8 == 4 or rng.random() < 0.05:
            hits.append(_snare(rng, sample_rate))
        if i % 2 == 0 and rng.random() < 0.9:
            hits.append(_hihat(rng, sample_rate, highpass))
        for hit in hits:
            out[at : at + len(hit)] += hit * rng.uniform(0.7, 1.0)
    return _to_peak(out[:n], MUSIC_PEAK)


def music(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A random mix of chords, melody and drums (each with probability 0.7, at least one)."""
    parts = [chords, melody, drums]
    present = [p for p in parts if rng.random() < 0.7] or [parts[int(rng.integers(3))]]
    out = np.zeros(num_samples(seconds, sample_rate))
    for part in present:
        out += part(seconds, rng, sample_rate) * rng.uniform(0.4, 1.0)
    return _to_peak(out, MUSIC_PEAK)


BACKGROUNDS: Mapping[str, BackgroundFn] = {
    "white": white,
    "pink": pink,
    "brown": brown,
    "chords": chords,
    "melody": melody,
    "drums": drums,
    "music": music,
    "silence": silence,
}
"""Name → generator for every background that needs no input audio (babble needs speech)."""

Background = np.ndarray | Callable[..., np.ndarray]
"""A background source: a recording (float or int16), or a generator like those above."""
