"""Channel augmentation for speaker training: the same voice through another microphone, room,
codec and noise, so that an encoder trained on voices that each come from one recording set-up
learns the voice rather than the set-up.

Every real training speaker of the built-in corpus was recorded once, in one studio or bedroom,
through one microphone, and most were then stored at 8 kHz; nothing in the audio separates "who"
from "where and how". :func:`channel_augment` draws, independently per utterance:

- a random smooth equalizer (microphone and loudspeaker colouring): gains drawn uniformly in
  ±``eq_db`` at 8 log-spaced frequencies between 100 Hz and 8 kHz, interpolated on the FFT grid;
- a band limit (``band_p``): a high-pass at 100-400 Hz and a low-pass at 2.8-7 kHz (a telephone
  or a cheap microphone);
- a codec (``codec_p``): GSM 6.10 at 8 kHz (libsndfile, the codec two Asterisk voices ship in)
  or 8-bit mu-law;
- a room (``room_p``): a real impulse response (``rirs``, e.g. ``python -m training.data
  recordings``' rir folder) or a shoebox room (:func:`training.data.augment.room_impulse_response`);
- background noise (``noise_p``) at ``snr_db`` from ``backgrounds``, and a random level.

Never speed or pitch: they change who is speaking.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data.augment import (
    AugmentConfig,
    mix_at_snr,
    power,
    reverberate,
    room_impulse_response,
)
from training.data.signals import SAMPLE_RATE, as_float32

CODEC_RATE = 8000
EQ_POINTS_HZ = np.geomspace(100.0, 8000.0, 8)


@dataclass(frozen=True)
class ChannelConfig:
    """Probabilities and ranges of :func:`channel_augment`."""

    eq_db: float = 6.0
    band_p: float = 0.5
    highpass_hz: tuple[float, float] = (100.0, 400.0)
    lowpass_hz: tuple[float, float] = (2800.0, 7000.0)
    codec_p: float = 0.3
    room_p: float = 0.5
    real_rir_p: float = 0.5
    """Share of rooms that are real impulse responses (when any are given)."""
    noise_p: float = 0.6
    snr_db: tuple[float, float] = (5.0, 30.0)
    gain_db: tuple[float, float] = (-12.0, 3.0)


def equalize(
    x: np.ndarray, rng: np.random.Generator, eq_db: float, band: tuple[float, float] | None
) -> np.ndarray:
    """``x`` through a random smooth equalizer, then (if ``band``) a brick-wall band limit."""
    spectrum = np.fft.rfft(x.astype(np.float64))
    freqs = np.fft.rfftfreq(len(x), 1.0 / SAMPLE_RATE)
    gains_db = rng.uniform(-eq_db, eq_db, len(EQ_POINTS_HZ))
    log_f = np.log(np.clip(freqs, EQ_POINTS_HZ[0], EQ_POINTS_HZ[-1]))
    curve = 10.0 ** (np.interp(log_f, np.log(EQ_POINTS_HZ), gains_db) / 20.0)
    if band is not None:
        curve = curve * ((freqs >= band[0]) & (freqs <= band[1]))
    return np.fft.irfft(spectrum * curve, len(x)).astype(np.float32)


def codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` through GSM 6.10 or 8-bit mu-law at 8 kHz and back to 16 kHz."""
    import soundfile
    import soxr

    narrow = soxr.resample(x, SAMPLE_RATE, CODEC_RATE).astype(np.float32)
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        kwargs = {"samplerate": CODEC_RATE, "format": "RAW", "subtype": "GSM610"}
        soundfile.write(buffer, np.clip(narrow, -1, 1), **kwargs)
        buffer.seek(0)
        decoded = soundfile.read(buffer, dtype="float32", channels=1, **kwargs)[0]
        narrow = np.pad(decoded, (0, max(0, len(narrow) - len(decoded))))[: len(narrow)]
    else:
        mu = 255.0
        y = np.sign(narrow) * np.log1p(mu * np.abs(np.clip(narrow, -1, 1))) / np.log1p(mu)
        y = np.round(y * 127.0) / 127.0
        narrow = (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)
    wide = soxr.resample(narrow, CODEC_RATE, SAMPLE_RATE).astype(np.float32)
    return np.pad(wide, (0, max(0, len(x) - len(wide))))[: len(x)]


_ROOMS = AugmentConfig(reverb_max_order=12)


def room_bank(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` simulated shoebox rooms (simulating one costs far more than applying it)."""
    return [room_impulse_response(rng, _ROOMS) for _ in range(count)]


def channel_augment(
    audio: np.ndarray,
    rng: np.random.Generator,
    config: ChannelConfig = ChannelConfig(),  # frozen: a shared default is safe
    rirs: Sequence[np.ndarray] = (),
    backgrounds: Sequence[np.ndarray] = (),
    rooms: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """One random channel for ``audio`` (int16 or float, 16 kHz) -> float32 in [-1, 1], the same
    length (a room's tail is cut). ``rooms`` is a bank of synthetic impulse responses
    (:func:`room_bank`) drawn from instead of simulating a fresh room per call. The same
    ``rng`` state gives the same output."""
    x = as_float32(audio)
    n = len(x)
    if n == 0:
        return x
    if rng.random() < config.room_p:
        if rirs and rng.random() < config.real_rir_p:
            rir = as_float32(rirs[int(rng.integers(len(rirs)))]).astype(np.float64)
            rir = rir / max(float(np.max(np.abs(rir))), 1e-9)
        elif rooms:
            rir = np.asarray(rooms[int(rng.integers(len(rooms)))], dtype=np.float64)
        else:
            rir = room_impulse_response(rng, _ROOMS)
        x = reverberate(x, rir)[:n]
    band = None
    if rng.random() < config.band_p:
        band = (rng.uniform(*config.highpass_hz), rng.uniform(*config.lowpass_hz))
    x = equalize(x, rng, config.eq_db, band)
    if rng.random() < config.codec_p:
        x = codec(np.clip(x, -1, 1), rng)
    if rng.random() < config.noise_p and backgrounds and power(x) > 0:
        source = np.asarray(backgrounds[int(rng.integers(len(backgrounds)))])
        start = int(rng.integers(max(1, len(source) - n)))
        noise = as_float32(np.resize(source[start:], n))
        if power(noise) > 0:
            x = mix_at_snr(x, noise, rng.uniform(*config.snr_db))
    peak = float(np.max(np.abs(x))) or 1.0
    level = 10.0 ** (rng.uniform(*config.gain_db) / 20.0)
    return np.clip(x / peak * 0.7 * level, -1.0, 1.0).astype(np.float32)
