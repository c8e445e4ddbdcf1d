"""Training-time augmentation: speed, pitch, room reverberation, noise at an exact SNR, gain,
time shift (waveforms) and SpecAugment masks (features). The speaker step (formants, F0, tempo of
a bare TTS utterance) is :mod:`training.data.speaker_augment`; its settings live here too.

Waveforms are float32 in [-1, 1] (see :mod:`training.data.signals`). Speed, pitch, gain and shift
use audiomentations (signalsmith stretch for speed and pitch); room impulse responses come from
pyroomacoustics' image-source ShoeBox model. Noise mixing is done here so the SNR is exact.

Determinism: audiomentations draws its parameters from the global ``random`` module and
pyroomacoustics from ``np.random`` and its own package RNGs (numpy and C++, ``pra.random``).
Immediately before each such call, all of them are seeded from a draw of the caller's ``rng``,
so a given ``rng`` state gives byte-identical output. The global states are left changed; do not
interleave other users of the global RNGs in the same thread. Both libraries are imported
lazily (audiomentations pulls in librosa: a few seconds the first time).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from scipy import signal as sps

from training.data.signals import SAMPLE_RATE, as_float32

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (0..1) and (low, high) ranges, drawn uniformly, for :func:`augment` and
    :func:`training.data.speaker_augment.speaker_augment`."""

    speaker_p: float = 0.9
    """Probability of the speaker step on a TTS utterance (the fields down to ``tempo``)."""
    formant_ratio: Range = (0.88, 1.15)
    """Formant (vocal-tract length) factor: >1 is a shorter vocal tract, formants move up."""
    f0_semitones: Range = (-4.0, 4.0)
    """Shift of the utterance's median F0, semitones; formants are kept."""
    f0_range: Range = (0.7, 1.4)
    """Factor on F0's excursions around the median (0 would be a monotone)."""
    tempo: Range = (0.85, 1.15)
    """Speaker step's tempo factor (>1 is faster and shorter); F0 and formants are kept."""
    speed_p: float = 0.5
    speed: Range = (0.9, 1.1)
    """Tempo factor (>1 is faster and shorter); pitch is kept. Off for TTS clips while the
    speaker step is on (see :meth:`after_speaker_step`)."""
    pitch_p: float = 0.3
    pitch_semitones: Range = (-2.0, 2.0)
    """Shifts pitch and formants together. Off for TTS clips while the speaker step is on."""
    reverb_p: float = 0.5
    room_size_m: Range = (3.0, 10.0)
    """Length and width of the shoebox room, metres (each drawn separately)."""
    room_height_m: Range = (2.4, 3.5)
    rt60_s: Range = (0.15, 0.8)
    """Reverberation time, seconds; the walls' absorption follows from Sabine's formula."""
    reverb_max_order: int = 20
    """Cap on image-source reflection order: bounds the cost (~10 ms per room) but thins the
    late tail (about 0.2-0.35 s to -30 dB whatever the RT60)."""
    reverb_ray_tracing: bool = False
    """Hybrid image-source (order 3) + ray tracing instead: full tails, 50-350 ms per room."""
    late_reverb: bool = False
    """Continue the image-source response after :data:`LATE_START_S` with noise decaying at the
    room's RT60 (:func:`with_late_tail`): full tails at the image-source model's cost."""
    real_rir_p: float = 0.0
    """Probability that a reverberated clip goes through one of the real impulse responses the
    caller passes (``rirs`` of :func:`augment`) instead of a synthetic room."""
    noise_p: float = 0.8
    snr_db: Range = (0.0, 20.0)
    gain_p: float = 1.0
    gain_db: Range = (-12.0, 6.0)
    shift_p: float = 0.5
    shift_ms: Range = (-100.0, 100.0)
    """Time shift, milliseconds; the length is kept and vacated samples are zero."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_p") and not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{f.name} must be in [0, 1], got {value}")
            if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f"AugmentConfig.{f.name} must be (low, high), got {value}")
        if self.speed[0] <= 0 or self.room_size_m[0] < 1.5 or self.rt60_s[0] <= 0:
            raise ValueError("AugmentConfig: speed, room size (>= 1.5 m) and RT60 must be > 0")
        for name, low, high in (("formant_ratio", 0.5, 2.0), ("tempo", 0.25, 4.0)):
            bounds = getattr(self, name)
            if bounds[0] < low or bounds[1] > high:
                raise ValueError(f"AugmentConfig.{name} must lie in [{low}, {high}], got {bounds}")
        if self.f0_range[0] < 0 or max(map(abs, self.f0_semitones)) > 24:
            raise ValueError(
                f"AugmentConfig: f0_range must be >= 0 and f0_semitones within ±24, got "
                f"{self.f0_range} and {self.f0_semitones}"
            )

    def settings(self) -> dict[str, Any]:
        """The fields as a dict, less those added later while they are off (:data:`ADDED_OFF`),
        so corpora and clip stores made before those fields existed keep their keys."""
        values = asdict(self)
        return {k: v for k, v in values.items() if not (k in ADDED_OFF and v == ADDED_OFF[k])}

    def after_speaker_step(self) -> AugmentConfig:
        """The config :func:`augment` uses on TTS clips: while the speaker step is on, speed and
        pitch are off (its tempo, F0 and formant changes cover them, and audiomentations' pitch
        shift moves formants with F0, so the two would compound); otherwise unchanged."""
        return replace(self, speed_p=0.0, pitch_p=0.0) if self.speaker_p > 0 else self


ADDED_OFF: dict[str, Any] = {"late_reverb": False, "real_rir_p": 0.0}
"""Fields added after corpora were first rendered, with the value that leaves clips unchanged."""

LATE_START_S = 0.08
"""Where the noise tail of :func:`with_late_tail` takes over from the image sources (after the
direct sound): early enough that the capped image-source model is still dense there."""
LATE_FADE_S = 0.02
"""Cross-fade from image sources to the noise tail; its energy sets the tail's level."""


def seed_globals(rng: np.random.Generator) -> int:
    """Seed ``random`` and ``np.random`` from one draw of ``rng`` (see the module docstring);
    return the seed, for libraries with a generator of their own."""
    seed = int(rng.integers(2**32))
    random.seed(seed)
    np.random.seed(seed)
    return seed


def power(x: np.ndarray) -> float:
    """Mean square of ``x`` (float64)."""
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus ``noise`` scaled so that 10·log10(P_signal / P_noise) = ``snr_db`` exactly,
    powers being mean squares over the whole (equal-length) arrays. If the sum would exceed full
    scale, both are scaled down together (the SNR is unchanged). Returns float32."""
    if len(signal) != len(noise):
        raise ValueError(f"signal and noise lengths differ: {len(signal)} vs {len(noise)}")
    p_signal, p_noise = power(signal), power(noise)
    if p_signal == 0 or p_noise == 0:
        raise ValueError("mix_at_snr needs a signal and a noise with non-zero power")
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    mix = np.asarray(signal, dtype=np.float64) + scale * np.asarray(noise, dtype=np.float64)
    peak = float(np.max(np.abs(mix)))
    return (mix / peak if peak > 1.0 else mix).astype(np.float32)


def excerpt(source: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``source`` from a random offset, wrapping around when it is shorter."""
    start = int(rng.integers(len(source)))
    return np.take(source, np.arange(start, start + n), mode="wrap")


@functools.cache
def _transform(name: str, low: float, high: float) -> Any:
    """One audiomentations transform (p=1: whether to apply is decided with the caller's rng)."""
    import audiomentations as am

    if name == "speed":
        return am.TimeStretch(low, high, leave_length_unchanged=False, p=1.0)
    if name == "pitch":
        return am.PitchShift(low, high, p=1.0)
    if name == "gain":
        return am.Gain(low, high, p=1.0)
    if name == "shift":
        return am.Shift(low / 1000, high / 1000, shift_unit="seconds", rollover=False, p=1.0)
    raise ValueError(name)


def _apply(name: str, bounds: Range, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    transform = _transform(name, float(bounds[0]), float(bounds[1]))
    seed_globals(rng)
    return np.asarray(transform(audio, sample_rate=SAMPLE_RATE), dtype=np.float32)


def room_impulse_response(rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """A shoebox room's impulse response (random size, RT60, source and microphone positions),
    starting at the direct path and scaled so that path has unit amplitude."""
    import pyroomacoustics as pra

    dims = np.array([*rng.uniform(*config.room_size_m, size=2), rng.uniform(*config.room_height_m)])
    rt60 = rng.uniform(*config.rt60_s)
    margin = 0.5
    source, mic = (rng.uniform([margin] * 3, dims - margin) for _ in range(2))
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # RT60 too short for this room even with fully absorbing walls
        absorption, max_order = 0.99, 1
    seed = seed_globals(rng)
    pra.random.seed(numpy=seed, libroom=seed)  # ray tracing uses pyroomacoustics' own RNGs
    room = pra.ShoeBox(
        dims,
        fs=SAMPLE_RATE,
        materials=pra.Material(absorption),
        max_order=3 if config.reverb_ray_tracing else min(max_order, config.reverb_max_order),
        ray_tracing=config.reverb_ray_tracing,
    )
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    direct = int(np.argmax(np.abs(rir)))
    rir = rir[direct:] / rir[direct]
    return with_late_tail(rir, rt60, rng) if config.late_reverb else rir


def with_late_tail(rir: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """``rir`` (direct sound at index 0) continued from :data:`LATE_START_S` by Gaussian noise
    whose amplitude falls 60 dB in ``rt60`` seconds, cross-faded in over :data:`LATE_FADE_S` at
    the level of ``rir``'s energy there. A reflection-order cap leaves the image-source response
    thin after 0.2-0.35 s whatever the RT60; real rooms ring for their whole RT60."""
    start, fade = round(LATE_START_S * SAMPLE_RATE), round(LATE_FADE_S * SAMPLE_RATE)
    length = start + round(rt60 * SAMPLE_RATE)
    early = np.zeros(max(length, len(rir)))
    early[: len(rir)] = rir
    level = float(np.sqrt(np.mean(early[start - fade : start] ** 2)))
    k = np.arange(length - (start - fade))
    decay = np.exp(-3 * np.log(10) * (k - fade / 2) / (rt60 * SAMPLE_RATE))
    tail = rng.standard_normal(len(k)) * level * decay
    ramp = np.clip(k / fade, 0.0, 1.0)
    out = early[:length].copy()
    out[start - fade :] = out[start - fade :] * (1 - ramp) + tail * ramp
    return out


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir``, keeping the whole tail (the output is len(rir) - 1 samples longer)."""
    wet = sps.fftconvolve(np.asarray(audio, dtype=np.float64), rir)
    peak = float(np.max(np.abs(wet))) if len(wet) else 0.0
    return (wet / peak if peak > 1.0 else wet).astype(np.float32)


def augment(
    audio: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),  # frozen: a shared default is safe
    backgrounds: Sequence[np.ndarray] = (),
    rirs: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """One random augmentation of ``audio`` (float32 or int16, 16 kHz) → float32 in [-1, 1].

    In order, each with its probability: speed, pitch, reverberation (a fresh room per call, or
    with ``real_rir_p`` one of the real impulse responses ``rirs``, direct sound first),
    background noise (a random excerpt of a random one of ``backgrounds`` at a random SNR; skipped
    when there are none or ``audio`` is silent), gain, time shift; finally clipped to [-1, 1].
    The output is longer or shorter than the input (speed, reverb tail): callers fit it to their
    window. The same ``rng`` state gives byte-identical output.
    """
    x = as_float32(audio)
    if rng.random() < config.speed_p:
        x = _apply("speed", config.speed, x, rng)
    if rng.random() < config.pitch_p:
        x = _apply("pitch", config.pitch_semitones, x, rng)
    if rng.random() < config.reverb_p:
        if rirs and rng.random() < config.real_rir_p:
            rir = np.asarray(rirs[int(rng.integers(len(rirs)))], dtype=np.float64)
        else:
            rir = room_impulse_response(rng, config)
        x = reverberate(x, rir)
    if rng.random() < config.noise_p and backgrounds and power(x) > 0:
        source = backgrounds[int(rng.integers(len(backgrounds)))]
        noise = as_float32(excerpt(np.asarray(source), len(x), rng))
        if power(noise) > 0:  # a silent stretch of background: nothing to mix
            x = mix_at_snr(x, noise, rng.uniform(*config.snr_db))
    if rng.random() < config.gain_p:
        x = _apply("gain", config.gain_db, x, rng)
    if rng.random() < config.shift_p:
        x = _apply("shift", config.shift_ms, x, rng)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class SpecMasks:
    """How many SpecAugment masks each training example gets and how wide they may be, in frames
    and filters (the ``[train.spec_augment]`` table; ``true`` means these defaults). One-syllable
    commands are short enough that two 10-frame time masks can hide what tells them apart."""

    time_masks: int = 2
    time_width: int = 10
    freq_masks: int = 2
    freq_width: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"spec_augment {f.name} must be a whole number >= 0: {value!r}")

    def apply(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """:func:`spec_augment` with these masks."""
        return spec_augment(features, rng, **asdict(self))


def spec_augment(
    features: np.ndarray,
    rng: np.random.Generator,
    time_masks: int = SpecMasks.time_masks,
    time_width: int = SpecMasks.time_width,
    freq_masks: int = SpecMasks.freq_masks,
    freq_width: int = SpecMasks.freq_width,
) -> np.ndarray:
    """SpecAugment time and frequency masking of one example, shape (frames, features).

    Each mask's width is drawn uniformly from 1..width (clamped to the axis) and its start
    uniformly where it fits; masks may overlap. Masked values are set to the example's per-feature
    mean over time (not zero: for log-mel or MFCC features zero is an arbitrary, loud value).
    Returns a new array of the same dtype.
    """
    x = np.array(features, copy=True)
    if x.ndim != 2:
        raise ValueError(f"spec_augment needs (frames, features), got shape {x.shape}")
    means = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
    frames, bins = x.shape
    for _ in range(time_masks):
        width = int(rng.integers(1, min(time_width, frames) + 1)) if frames and time_width else 0
        start = int(rng.integers(0, frames - width + 1))
        x[start : start + width, :] = means
    for _ in range(freq_masks):
        width = int(rng.integers(1, min(freq_width, bins) + 1)) if bins and freq_width else 0
        start = int(rng.integers(0, bins - width + 1))
        x[:, start : start + width] = means[start : start + width]
    return x
