"""Synthetic backgrounds, augmentation and evaluation streams: spectra, exact SNR, determinism,
and manifests whose times point at the audio they describe."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

from kws.wavfile import read_wav
from training.data import signals
from training.data.augment import (
    AugmentConfig,
    SpecMasks,
    augment,
    mix_at_snr,
    power,
    room_impulse_response,
    spec_augment,
)
from training.data.streams import NegativeSource, write_negative_streams, write_positive_streams

SR = signals.SAMPLE_RATE
OFF = {name: 0.0 for name in ("speed_p", "pitch_p", "reverb_p", "noise_p", "gain_p", "shift_p")}
ALL_ON = AugmentConfig(**{name: 1.0 for name in OFF})


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _speechlike(seed: int, seconds: float = 0.6) -> np.ndarray:
    """A distinctive float32 clip: a chirp with a random start frequency, faded at both ends."""
    t = np.arange(round(seconds * SR)) / SR
    f0 = 300 + 100 * seed
    x = np.sin(2 * np.pi * (f0 * t + 900 * t**2)) * np.hanning(len(t))
    return (0.5 * x).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "db_per_octave"), [("white", 0.0), ("pink", -3.0), ("brown", -6.0)]
)
def test_noise_spectral_tilt(name: str, db_per_octave: float) -> None:
    audio = signals.BACKGROUNDS[name](8.0, _rng())
    freqs, psd = sps.welch(audio, SR, nperseg=4096)
    band = (freqs >= 100) & (freqs <= 4000)
    slope = np.polyfit(np.log2(freqs[band]), 10 * np.log10(psd[band]), 1)[0]
    assert slope == pytest.approx(db_per_octave, abs=0.4)


GENERATORS = {
    **signals.BACKGROUNDS,
    "babble": functools.partial(signals.babble, [_speechlike(i) for i in range(4)]),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_backgrounds_in_range_and_deterministic(name: str) -> None:
    make = GENERATORS[name]
    a, b, c = make(1.5, _rng(1)), make(1.5, _rng(1)), make(1.5, _rng(2))
    assert a.dtype == np.float32 and a.shape == (round(1.5 * SR),)
    assert np.all(np.abs(a) <= 1.0) and power(a) > 0
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_int16_round_trip() -> None:
    x = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    assert np.array_equal(signals.to_int16(signals.as_float32(x)), x)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.5, 20.0])
def test_mix_at_snr_is_exact(snr_db: float) -> None:
    speech = 0.1 * _speechlike(0)
    noise = signals.pink(len(speech) / SR, _rng(3))
    mixed = mix_at_snr(speech, noise, snr_db)
    added = mixed.astype(np.float64) - speech
    assert 10 * np.log10(power(speech) / power(added)) == pytest.approx(snr_db, abs=0.1)


def test_mix_at_snr_keeps_full_scale() -> None:
    speech = 0.99 * np.sign(_speechlike(0))
    assert np.max(np.abs(mix_at_snr(speech, signals.white(len(speech) / SR, _rng()), 0.0))) <= 1.0


def test_augment_is_seeded() -> None:
    clip, noise = _speechlike(1, 1.0), [signals.pink(3.0, _rng(4)), signals.music(3.0, _rng(5))]
    a = augment(clip, _rng(7), ALL_ON, noise)
    b = augment(clip, _rng(7), ALL_ON, noise)
    c = augment(clip, _rng(8), ALL_ON, noise)
    assert a.dtype == np.float32 and np.all(np.abs(a) <= 1.0)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_reverb_lengthens_the_tail() -> None:
    clip = _speechlike(2, 0.5)
    config = AugmentConfig(**{**OFF, "reverb_p": 1.0}, rt60_s=(0.5, 0.6))
    wet = augment(clip, _rng(), config)
    assert len(wet) > len(clip) + 0.05 * SR
    tail = wet[len(clip) :]
    assert power(tail[: SR // 20]) > 1e-4 * power(clip)  # audible for the first 50 ms


def _rt60(rir: np.ndarray) -> float:
    """Reverberation time from the Schroeder decay between -5 and -25 dB (T20), seconds."""
    energy = np.cumsum((rir**2)[::-1])[::-1]
    level = 10 * np.log10(energy / energy[0] + 1e-30)
    return 3 * float(np.argmax(level < -25) - np.argmax(level < -5)) / SR


@pytest.mark.parametrize("rt60", [0.3, 0.7, 1.5])
def test_late_reverb_rings_for_the_rooms_rt60(rt60: float) -> None:
    rooms = [AugmentConfig(rt60_s=(rt60, rt60), late_reverb=late) for late in (False, True)]
    for seed in range(3):
        capped, full = (room_impulse_response(_rng(seed), config) for config in rooms)
        assert full[0] == 1.0 and _rt60(full) == pytest.approx(rt60, rel=0.15)
        assert np.array_equal(full[: round(0.06 * SR)], capped[: round(0.06 * SR)])  # early part
        if rt60 >= 1.0:  # what the tail is for: capped image sources die out too soon
            assert _rt60(capped) < 0.7 * rt60


def test_a_real_impulse_response_is_used_as_given() -> None:
    clip = _speechlike(4, 0.4)
    echo = np.zeros(4001)
    echo[0], echo[4000] = 1.0, 0.5
    config = AugmentConfig(**{**OFF, "reverb_p": 1.0}, real_rir_p=1.0)
    wet = augment(clip, _rng(), config, rirs=[echo])
    expected = np.concatenate([clip, np.zeros(4000, np.float32)])
    expected[4000:] += 0.5 * clip
    assert np.allclose(wet, expected, atol=1e-6)
    synthetic = augment(clip, _rng(), dataclasses.replace(config, real_rir_p=0.0), rirs=[echo])
    assert not np.allclose(synthetic[: len(expected)], expected, atol=1e-3)


def test_fields_added_later_stay_out_of_the_settings_while_off() -> None:
    assert set(dataclasses.asdict(AugmentConfig())) - set(AugmentConfig().settings()) == {
        "late_reverb",
        "real_rir_p",
    }  # so corpora and clip stores made before them keep their keys
    on = AugmentConfig(late_reverb=True, real_rir_p=0.25).settings()
    assert on["late_reverb"] is True and on["real_rir_p"] == 0.25


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_speed_changes_duration(rate: float) -> None:
    clip = _speechlike(3, 1.0)
    config = AugmentConfig(**{**OFF, "speed_p": 1.0}, speed=(rate, rate))
    assert len(augment(clip, _rng(), config)) == pytest.approx(len(clip) / rate, rel=0.02)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        AugmentConfig(snr_db=(10.0, 0.0))
    with pytest.raises(ValueError):
        AugmentConfig(reverb_p=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALL_ON.gain_p = 0.0  # type: ignore[misc]


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def test_spec_augment_masks_bands_with_the_mean() -> None:
    features = _rng(9).standard_normal((100, 40)).astype(np.float32)
    original = features.copy()
    means = features.mean(axis=0, dtype=np.float64).astype(np.float32)
    single_widths = set()
    for seed in range(40):
        one = spec_augment(features, _rng(seed), time_masks=0, freq_masks=1, freq_width=8)
        masked = np.all(one == means, axis=0)
        assert np.array_equal(one[:, ~masked], features[:, ~masked])  # the rest is untouched
        assert len(_runs(masked)) == 1
        single_widths.add(int(masked.sum()))
        two = spec_augment(features, _rng(seed), time_masks=0, freq_masks=2, freq_width=8)
        masked = np.all(two == means, axis=0)
        assert 1 <= len(_runs(masked)) <= 2 and masked.sum() <= 16  # masks may overlap
        time = spec_augment(features, _rng(seed), time_masks=3, time_width=10, freq_masks=0)
        rows = np.all(time == means, axis=1)
        assert 1 <= len(_runs(rows)) <= 3 and rows.sum() <= 30
    assert min(single_widths) >= 1 and max(single_widths) == 8  # widths drawn from 1..8
    assert features.tobytes() == original.tobytes()  # the input is not modified


def test_recipe_spec_augment_reads_true_false_or_a_table_of_masks() -> None:
    from training.core.config import TrainConfig

    def masks(value: object) -> SpecMasks | None:
        config = TrainConfig.from_dict({"name": "x", "corpus": "c", "spec_augment": value})
        return config.spec_augment

    assert masks(True) == SpecMasks() == TrainConfig(name="x", corpus="c").spec_augment
    assert masks(False) is None and masks(None) is None  # None: a run's saved config
    assert masks({"time_width": 4}) == SpecMasks(time_width=4)
    with pytest.raises(ValueError, match=r"\[train.spec_augment\].*time_widht"):
        masks({"time_widht": 4})
    with pytest.raises(ValueError, match="freq_masks must be a whole number >= 0"):
        masks({"freq_masks": -1})
    with pytest.raises(ValueError, match="spec_augment must be true, false or a table"):
        masks("mild")


def test_narrow_time_masks_hide_at_most_their_width() -> None:
    features = _rng(3).standard_normal((96, 40)).astype(np.float32)
    means = features.mean(axis=0, dtype=np.float64).astype(np.float32)
    masks = SpecMasks(time_masks=2, time_width=4, freq_masks=0)
    for seed in range(30):
        rows = np.all(masks.apply(features, _rng(seed)) == means, axis=1)
        assert 1 <= rows.sum() <= 8 and all(run <= 8 for run in _runs(rows))
    assert np.array_equal(SpecMasks(0, 10, 0, 8).apply(features, _rng(0)), features)


def _positives() -> list[tuple[np.ndarray, dict[str, str]]]:
    return [
        (signals.to_int16(_speechlike(i)), {"voice": f"v{i}", "text": "hey kws"}) for i in range(4)
    ]


def _backgrounds() -> dict[str, signals.Background]:
    return {"pink": signals.pink, "music": signals.music(20.0, _rng(6))}


def test_positive_manifest_points_at_the_clips(tmp_path: Path) -> None:
    positives = _positives()
    path = write_positive_streams(
        positives, _backgrounds(), tmp_path, seed=3, snrs_db=(10, 20), stream_seconds=20
    )
    manifest = json.loads(path.read_text())
    assert manifest["schema_version"] == 1 and manifest["sample_rate"] == SR
    events = [e for s in manifest["streams"] for e in s["events"]]
    assert len(events) == 2 * len(positives)
    assert {e["background"] for e in events} == {"pink", "music"}
    for stream in manifest["streams"]:
        audio = read_wav(tmp_path / stream["file"]).samples[:, 0]
        assert len(audio) == stream["num_samples"]
        for event in stream["events"]:
            clip = positives[event["positive_index"]][0].astype(np.float64)
            onset = event["onset_sample"]
            assert event["onset_s"] * SR == pytest.approx(onset, abs=1e-6)
            assert event["offset_sample"] - onset == len(clip)
            assert event["voice"] == f"v{event['positive_index']}"
            lo = onset - SR // 2
            region = audio[lo : onset + len(clip) + SR // 2]
            score = np.correlate(region, clip, mode="valid")
            assert lo + int(np.argmax(score)) == onset
            # What is left after removing the clip at its recorded level is background at the SNR.
            speech = clip * np.sqrt(10 ** (event["speech_dbfs"] / 10) / power(clip))
            rest = audio[onset : event["offset_sample"]] - speech
            snr = 10 * np.log10(power(speech) / power(rest))
            assert snr == pytest.approx(event["snr_db"], abs=0.1)


def _gappy(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Pink noise that is silent for 1.5 s at a random place: a music rest, a lull."""
    audio = signals.pink(seconds, rng)
    n = len(audio)
    start = int(rng.integers(0, max(1, n - int(1.5 * SR))))
    audio[start : start + int(1.5 * SR)] = 0
    return audio


def test_a_background_silent_under_a_clip_is_redrawn(tmp_path: Path) -> None:
    """A rest in the music used to abort corpus generation ("silent where a clip goes")."""
    positives = _positives() * 6
    path = write_positive_streams(
        positives, {"gappy": _gappy}, tmp_path, seed=0, snrs_db=(0, 10), stream_seconds=30
    )
    for stream in json.loads(path.read_text())["streams"]:
        audio = read_wav(tmp_path / stream["file"]).samples[:, 0].astype(np.float64)
        for event in stream["events"]:
            clip = positives[event["positive_index"]][0].astype(np.float64)
            speech = clip * np.sqrt(10 ** (event["speech_dbfs"] / 10) / power(clip))
            rest = audio[event["onset_sample"] : event["offset_sample"]] - speech
            snr = 10 * np.log10(power(speech) / power(rest))
            assert snr == pytest.approx(event["snr_db"], abs=0.1)


def test_a_silent_background_fails_with_its_name(tmp_path: Path) -> None:
    def zeros(seconds: float, rng: np.random.Generator) -> np.ndarray:
        return signals.silence(seconds, rng, floor_dbfs=None)

    with pytest.raises(ValueError, match="background 'zeros' is silent where a clip goes"):
        write_positive_streams(_positives(), {"zeros": zeros}, tmp_path, seed=0)


def test_streams_are_byte_identical_for_a_seed(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_positive_streams(
            _positives(), _backgrounds(), tmp_path / run, seed=5, snrs_db=(0,), stream_seconds=15
        )
        write_negative_streams({"pink": signals.pink}, tmp_path / run, 0.002, seed=5)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "positives.json" in names and "negatives.json" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_negative_streams_total_the_requested_hours(tmp_path: Path) -> None:
    sources: dict[str, NegativeSource] = {
        "speech": [_speechlike(i, 1.2) for i in range(3)],
        "music": signals.music,
        "noise": signals.pink,
        "silence": signals.silence,
    }
    path = write_negative_streams(sources, tmp_path, hours=0.01, seed=1, file_seconds=10)
    manifest = json.loads(path.read_text())
    assert manifest["total_duration_s"] == 36.0
    assert len(manifest["files"]) == 4
    total = 0
    for entry in manifest["files"]:
        audio = read_wav(tmp_path / entry["file"]).samples
        assert len(audio) == entry["num_samples"] and entry["duration_s"] <= 10
        assert entry["segments"][-1]["offset_sample"] == entry["num_samples"]
        assert set(entry["kinds"]) <= set(sources)
        total += len(audio)
    assert total == 36 * SR
