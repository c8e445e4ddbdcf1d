"""Channel augmentation for speaker training (training.speaker.channel): same length, bounded,
seeded, and each channel effect does what it says."""

from __future__ import annotations

import numpy as np

from training.speaker.channel import ChannelConfig, channel_augment, codec, equalize

RATE = 16000


def _noise(seconds: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(7).standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)


def test_output_keeps_length_and_range_and_repeats_with_the_seed() -> None:
    x = _noise()
    outs = [channel_augment(x, np.random.default_rng(3)) for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])
    rng = np.random.default_rng(4)
    for _ in range(20):
        y = channel_augment(x, rng, rooms=[np.array([1.0, 0.0, 0.3])])
        assert y.dtype == np.float32 and len(y) == len(x)
        assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0


def _band_energy(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_band_limit_removes_what_lies_outside_the_band() -> None:
    x = _noise().astype(np.float32) / 32768
    y = equalize(x, np.random.default_rng(0), eq_db=0.0, band=(300.0, 3400.0))
    assert _band_energy(y, 3600, 8000) < 1e-6 * _band_energy(x, 3600, 8000)
    assert _band_energy(y, 0, 250) < 1e-6 * _band_energy(x, 0, 250)
    assert 0.9 < _band_energy(y, 500, 3000) / _band_energy(x, 500, 3000) < 1.1


def test_codecs_keep_speech_band_audio_recognisable() -> None:
    t = np.arange(RATE) / RATE
    x = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 1100 * t)).astype(np.float32)
    for seed in range(4):  # both GSM 6.10 and mu-law are drawn
        y = codec(x, np.random.default_rng(seed))
        assert len(y) == len(x)
        assert np.corrcoef(x[2000:-2000], y[2000:-2000])[0, 1] > 0.8


def test_a_config_without_effects_only_normalizes_the_level() -> None:
    x = _noise()
    quiet = ChannelConfig(
        eq_db=0.0, band_p=0.0, codec_p=0.0, room_p=0.0, noise_p=0.0, gain_db=(0.0, 0.0)
    )
    y = channel_augment(x, np.random.default_rng(0), quiet)
    assert abs(float(np.abs(y).max()) - 0.7) < 1e-3
    assert np.corrcoef(x, y)[0, 1] > 0.999
