"""Speaker augmentation on a synthetic vowel whose F0 and formants are known: each factor moves
what it should and keeps the rest; seeded, silent in → silent out; and a corpus renders with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import linalg
from scipy import signal as sps

from training.data import corpus
from training.data.augment import AugmentConfig
from training.data.speaker_augment import change_voice, speaker_augment

SR = 16000
FORMANTS_HZ = (500.0, 1500.0, 2500.0)
ALWAYS = AugmentConfig(speaker_p=1.0)


def vowel(f0_hz: float = 120.0, seconds: float = 1.0, glide_hz: float = 0.0) -> np.ndarray:
    """A neutral vowel: a glottal pulse train at ``f0_hz`` (rising linearly by ``glide_hz`` over
    the clip) through three formant resonators, with a -6 dB/octave source tilt."""
    n = round(seconds * SR)
    f0 = f0_hz + glide_hz * np.arange(n) / n
    phase = np.cumsum(f0 / SR)
    x = np.diff(np.floor(phase), prepend=0.0)  # one pulse per period
    for freq, bandwidth in zip(FORMANTS_HZ, (80.0, 100.0, 120.0), strict=True):
        r = np.exp(-np.pi * bandwidth / SR)
        x = sps.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * freq / SR), r * r], x)
    x = sps.lfilter([1.0], [1.0, -0.9], x) * np.hanning(n) ** 0.1
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def f0_track(x: np.ndarray, frame: int = 1024, hop: int = 160) -> np.ndarray:
    """F0 (Hz) of each clearly periodic frame: normalized autocorrelation peak in 40-500 Hz,
    refined by parabolic interpolation. Independent of Praat's pitch analysis."""
    lo, hi = SR // 500, SR // 40
    track = []
    for start in range(0, len(x) - frame, hop):
        seg = x[start : start + frame].astype(np.float64)
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, "full")[frame - 1 :]
        if ac[0] <= 1e-9:
            continue
        ac = ac / ac[0]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] < 0.5:
            continue
        a, b, c = ac[lag - 1 : lag + 2]
        track.append(SR / (lag + 0.5 * (a - c) / (a - 2 * b + c)))
    return np.array(track)


def f0_of(x: np.ndarray) -> float:
    return float(np.median(f0_track(x)))


def formants_of(x: np.ndarray, order: int = 10) -> np.ndarray:
    """The three lowest spectral-envelope peaks (Hz): roots of an LPC fit to the middle 0.5 s."""
    mid = len(x) // 2
    seg = x[mid - SR // 4 : mid + SR // 4].astype(np.float64)
    seg = np.append(seg[0], seg[1:] - 0.9 * seg[:-1]) * np.hamming(len(seg))
    r = np.correlate(seg, seg, "full")[len(seg) - 1 : len(seg) + order]
    a = np.concatenate([[1.0], -linalg.solve_toeplitz(r[:-1], r[1:])])
    roots = [z for z in np.roots(a) if z.imag > 0]
    freqs = sorted(
        np.angle(z) * SR / (2 * np.pi) for z in roots if -np.log(abs(z)) * SR / np.pi < 600
    )
    return np.array([f for f in freqs if f > 150][:3])


def test_the_measures_see_the_synthetic_vowel() -> None:
    x = vowel()
    assert f0_of(x) == pytest.approx(120.0, rel=0.01)
    assert formants_of(x) == pytest.approx(FORMANTS_HZ, rel=0.04)


@pytest.mark.parametrize(
    ("f0_hz", "semitones"), [(120.0, -4.0), (120.0, 3.0), (220.0, 5.0), (58.0, 4.0), (58.0, -2.0)]
)
def test_f0_shift_moves_f0_by_its_factor_and_keeps_formants(f0_hz: float, semitones: float) -> None:
    x = vowel(f0_hz)  # 58 Hz: as deep as espeak-ng's lowest voices go
    y = change_voice(x, f0_semitones=semitones)
    assert f0_of(y) == pytest.approx(f0_of(x) * 2 ** (semitones / 12), rel=0.02)
    if f0_hz < 150:  # above, harmonics too sparse for LPC to find F1 within a few per cent
        assert formants_of(y) == pytest.approx(formants_of(x), rel=0.06)
    assert len(y) == pytest.approx(len(x), abs=160)


def test_f0_range_scales_the_excursions_around_the_median() -> None:
    x = vowel(f0_hz=100.0, glide_hz=60.0)  # 100 → 160 Hz
    spread = np.subtract(*np.percentile(f0_track(x), [90, 10]))
    for factor in (0.5, 1.5):
        y = change_voice(x, f0_range=factor)
        track = f0_track(y)
        assert np.subtract(*np.percentile(track, [90, 10])) == pytest.approx(
            factor * spread, rel=0.15
        )
        assert np.median(track) == pytest.approx(f0_of(x), rel=0.05)


@pytest.mark.parametrize("tempo", [0.8, 1.25])
def test_tempo_scales_the_duration_and_keeps_f0_and_formants(tempo: float) -> None:
    x = vowel()
    y = change_voice(x, tempo=tempo)
    assert len(y) == pytest.approx(len(x) / tempo, rel=0.01)
    assert f0_of(y) == pytest.approx(f0_of(x), rel=0.02)
    assert formants_of(y) == pytest.approx(formants_of(x), rel=0.05)


@pytest.mark.parametrize("ratio", [0.88, 1.15])
def test_formant_ratio_moves_the_envelope_peaks_and_keeps_f0(ratio: float) -> None:
    x = vowel()
    y = change_voice(x, formant_ratio=ratio)
    assert formants_of(y) == pytest.approx(ratio * formants_of(x), rel=0.05)
    assert f0_of(y) == pytest.approx(f0_of(x), rel=0.02)
    assert len(y) == pytest.approx(len(x), abs=160)


def noisy_vowel() -> np.ndarray:
    """A vowel then a noise burst: Praat's PSOLA draws random periods in the unvoiced part."""
    burst = 0.1 * np.random.default_rng(0).standard_normal(SR // 4)
    return np.concatenate([vowel(seconds=0.6), burst]).astype(np.float32)


def test_same_seed_same_bytes_whatever_ran_before() -> None:
    x = noisy_vowel()
    first = speaker_augment(x, np.random.default_rng(1), ALWAYS)
    speaker_augment(vowel(200.0), np.random.default_rng(5), ALWAYS)  # another clip in between
    assert speaker_augment(x, np.random.default_rng(1), ALWAYS).tobytes() == first.tobytes()
    assert speaker_augment(x, np.random.default_rng(2), ALWAYS).tobytes() != first.tobytes()
    # the random periods matter: the same settings with another Praat seed differ
    a, b = (change_voice(x, 1.1, 2.0, 1.0, 1.0, seed) for seed in (3, 4))
    assert a.tobytes() != b.tobytes()


def test_silence_in_silence_out() -> None:
    y = change_voice(np.zeros(SR, dtype=np.float32), 1.15, 4.0, 1.4, 0.85, seed=1)
    assert len(y) == pytest.approx(SR / 0.85, rel=0.01)
    assert not np.any(y)


def test_output_contract_like_augment() -> None:
    loud = np.clip(4 * vowel(), -1, 1)
    pcm = np.rint(loud * 32767).astype(np.int16)
    for seed in range(4):
        y = speaker_augment(pcm, np.random.default_rng(seed), ALWAYS)
        assert y.dtype == np.float32 and y.ndim == 1
        assert np.all(np.abs(y) <= 1.0) and np.any(y)
        assert 0.8 * len(pcm) < len(y) < 1.25 * len(pcm)  # tempo range 0.85..1.15
    short = vowel(seconds=0.05)
    assert np.array_equal(speaker_augment(short, np.random.default_rng(0), ALWAYS), short)
    never = AugmentConfig(speaker_p=0.0)
    assert np.array_equal(speaker_augment(pcm, np.random.default_rng(0), never), pcm / 32768.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"speaker_p": 1.5}, r"speaker_p must be in \[0, 1\]"),
        ({"formant_ratio": (1.2, 1.1)}, r"formant_ratio must be \(low, high\)"),
        ({"formant_ratio": (0.3, 1.1)}, r"formant_ratio must lie in \[0.5, 2.0\]"),
        ({"tempo": (0.1, 1.0)}, r"tempo must lie in \[0.25, 4.0\]"),
        ({"f0_range": (-0.5, 1.0)}, "f0_range must be >= 0"),
        ({"f0_semitones": (-30.0, 0.0)}, "f0_semitones within"),
    ],
)
def test_config_rejects_bad_speaker_settings(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        AugmentConfig(**changes)
    assert "\n" not in str(error.value)


def test_speed_and_pitch_step_aside_for_speaker_augmented_clips() -> None:
    tts = AugmentConfig().after_speaker_step()
    assert (tts.speed_p, tts.pitch_p, tts.reverb_p) == (0.0, 0.0, AugmentConfig().reverb_p)
    off = AugmentConfig(speaker_p=0.0)
    assert off.after_speaker_step() == off


def speech_span(audio: np.ndarray, frame: int = 160, drop_db: float = 30.0) -> tuple[int, int]:
    """First and last sample of the 10 ms frames within ``drop_db`` of the loudest."""
    usable = len(audio) - len(audio) % frame
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, frame), dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-drop_db / 20))
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


@pytest.mark.slow
def test_a_tiny_corpus_renders_with_speaker_augmentation() -> None:
    """The slowed-down phrase is longer in the clip and still ends where the corpus puts it."""
    quiet = {p: 0.0 for p in ("speed_p", "pitch_p", "reverb_p", "noise_p", "gain_p", "shift_p")}
    base = corpus.CorpusConfig(
        keyword="hey jarvis", positives=4, confusables=2, speech=2, noise=0, music=0, silence=0
    )
    jobs = [j for j in corpus.plan(base) if j.split == "train"]  # the plan ignores augmentation

    def render_all(**augment: object) -> dict[str, np.ndarray]:
        config = dataclasses.replace(base, augment=AugmentConfig(**{**quiet, **augment}))
        return {j.id: corpus.render(j, config).astype(np.float32) / 32768 for j in jobs}

    slow = render_all(speaker_p=1.0, tempo=(0.8, 0.8))
    plain = render_all(speaker_p=0.0)
    assert slow.keys() == plain.keys() and len(slow) >= 4
    n = round(1.5 * SR)
    for clip_id, clip in slow.items():
        assert clip.shape == (n,) and np.any(clip)
        if not clip_id.startswith("positive"):
            continue
        (start, end), (plain_start, plain_end) = speech_span(clip), speech_span(plain[clip_id])
        assert (end - start) / (plain_end - plain_start) == pytest.approx(1 / 0.8, rel=0.1)
        for audio in (clip, plain[clip_id]):
            margin_s = (n - corpus.active_end(audio)) / SR
            assert corpus.END_MARGIN_S[0] - 0.02 <= margin_s <= corpus.END_MARGIN_S[1] + 0.02
    again = render_all(speaker_p=1.0, tempo=(0.8, 0.8))
    assert all(again[k].tobytes() == slow[k].tobytes() for k in slow)


def test_a_pitch_track_with_an_octave_jump_neither_fails_nor_hangs() -> None:
    """A high voice with a few frames an octave and more below (as pitch trackers report on
    TTS clips) used to send Praat's "Change gender" toward 0 Hz: an error, or on a real Piper
    clip a hang that stopped a corpus. The new contour now stays at or above 75 Hz."""
    import subprocess
    import sys

    code = (
        "import numpy as np, sys\n"
        "from tests.test_speaker_augment import vowel\n"
        "from training.data.speaker_augment import change_voice\n"
        "x = np.concatenate([vowel(430.0, 0.45), vowel(100.0, 0.12), vowel(440.0, 0.15)])\n"
        "for spread in (1.3, 1.4, 2.0):\n"
        "    y = change_voice(x, 0.91, 2.24, spread, 1.13, seed=5)\n"
        "    np.save(sys.argv[1] + f'/{spread}.npy', y)\n"
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", code, tmp], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
        for spread in (1.3, 1.4, 2.0):
            y = np.load(Path(tmp) / f"{spread}.npy")
            assert len(y) == pytest.approx(0.72 * SR / 1.13, rel=0.05)
            assert f0_track(y).min() >= 70.0


@pytest.mark.parametrize(
    ("lowest", "median", "new_median", "f0_range", "expected"),
    [
        (100.0, 150.0, 160.0, 1.2, (160.0, 1.2)),  # lands at 100 Hz: kept
        (50.0, 510.3, 589.7, 1.1433, (589.7, (589.7 - 76.0) / (510.3 - 50.0))),  # narrowed
        (70.0, 90.0, 75.7, 1.0, (75.7, 1.0)),  # a deep voice, no octave jump: may go lower
        (50.0, 500.0, 78.0, 1.0, (0.0, 1.0)),  # jumped; only a sliver of range would do
        (50.0, 500.0, 70.0, 1.0, (0.0, 1.0)),  # jumped, and the new median is below the floor
        (200.0, 200.0, 250.0, 1.3, (250.0, 1.3)),  # a flat track
    ],
)
def test_the_new_f0_contour_stays_above_praats_floor(
    lowest: float, median: float, new_median: float, f0_range: float, expected: tuple
) -> None:
    from training.data.speaker_augment import LOWEST_NEW_F0_HZ, OCTAVE_JUMP, contour_within

    got = contour_within(lowest, median, new_median, f0_range)
    assert got == pytest.approx(expected)
    if got[0] and lowest * OCTAVE_JUMP <= median:
        assert got[0] + (lowest - median) * got[1] >= LOWEST_NEW_F0_HZ - 1e-9


def _change_demonic_alexa() -> None:
    from training.data.tts import Prosody, Voice, synthesize

    voice = Voice(engine="espeak-ng", name="sv+Demonic", language="sv", accent="Swedish")
    audio = synthesize(
        "alexa", voice, Prosody(rate_wpm=130, pitch=30, amplitude=130, word_gap_ms=0)
    )
    change_voice(audio, 1.0626468705951564, 2.503325575585066, 1.1433308148934367,
                 0.907495218676804, 1009869728)  # fmt: skip


@pytest.mark.slow
def test_a_voice_whose_pitch_track_jumps_octaves_does_not_hang_praat() -> None:
    """espeak-ng's sv+Demonic saying "alexa" (pitch frames at 50 and 510 Hz) with the draws that
    hung the alexa corpus for good: it returns, in a child so that a hang fails the test."""
    import multiprocessing
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    child = multiprocessing.get_context("fork").Process(target=_change_demonic_alexa)
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        pytest.fail("change_voice did not return within 120 s")
    assert child.exitcode == 0


def test_an_f0_change_praat_refuses_keeps_the_formants_and_the_f0() -> None:
    """A 540 Hz voice whose track ends in 55 Hz frames, its F0 range widened by 1.14: Praat's
    "Change gender" fails ("rounding up the real value --undefined--"), as it did on a real
    clip of the digits corpus and stopped it. The F0 is then kept; formants and tempo change."""
    import parselmouth

    t = np.arange(SR) / SR
    harmonics = lambda hz, n: sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, n + 1))  # noqa: E731
    x = 0.2 * np.concatenate([harmonics(540.0, 6)[: SR // 4], harmonics(55.0, 30)[: SR // 8]])
    x = x.astype(np.float32)
    sound = parselmouth.Sound(x.astype(np.float64), SR)
    pitch = sound.to_pitch(pitch_floor=50.0, pitch_ceiling=600.0)
    with pytest.raises(parselmouth.PraatError):  # what Praat does with these settings
        parselmouth.praat.call([sound, pitch], "Change gender", 1.0, 680.0, 1.14, 1.0)
    with pytest.warns(UserWarning, match="F0 kept"):
        y = change_voice(x, 1.0, 4.0, 1.14, 1.25, seed=1)
    assert len(y) == pytest.approx(len(x) / 1.25, rel=0.05)
    head = round(0.15 * SR)  # the 540 Hz part: its F0 as it was (as f0_of measures it)
    assert f0_of(y[:head]) == pytest.approx(f0_of(x[:head]), rel=0.03)


def test_a_voice_praat_cannot_change_at_all_is_kept_as_synthesized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import parselmouth

    from training.data import speaker_augment as module

    def refuse(*args: object, **kwargs: object) -> np.ndarray:
        raise parselmouth.PraatError("Sound not created from Pitch & Sound.")

    monkeypatch.setattr(module, "change_voice", refuse)
    x = vowel(200.0, 0.5)
    with pytest.warns(UserWarning, match="kept as synthesized"):
        y = speaker_augment(x, np.random.default_rng(0), ALWAYS)
    np.testing.assert_array_equal(y, x)
