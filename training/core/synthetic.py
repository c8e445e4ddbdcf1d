"""A seeded synthetic keyword task: a distinctive 0.5 s sound among confusable non-keywords.

The keyword ("chirp") is a rising two-harmonic chirp (500 -> 1500 Hz) followed by a 1200 Hz tone
burst, varied per example in pitch, duration and level. Negatives are white/pink noise, falling
chirps, steady tones, silence and each half of the keyword on its own, so a model must learn the
whole pattern in order. The same seed always gives the same audio.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
"""Hz, the runtime's rate."""
CLIP_SAMPLES = SAMPLE_RATE  # 1 s
CHIRP_S = 0.28
GAP_S = 0.02
TONE_S = 0.2
KEYWORD_S = CHIRP_S + GAP_S + TONE_S  # 0.5 s nominal
FADE_S = 0.01
FULL_SCALE = 32767.0

Generator = Callable[[np.random.Generator], np.ndarray]


def _fade(x: np.ndarray) -> np.ndarray:
    n = min(int(FADE_S * SAMPLE_RATE), len(x) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    x = x.copy()
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _sweep(
    f0: float, f1: float, seconds: float, harmonics: Sequence[float] = (1.0, 0.5)
) -> np.ndarray:
    """Linear chirp from f0 to f1 Hz with the given harmonic amplitudes, peak ~1."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / seconds * t**2)
    x = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(harmonics))
    return _fade(x / sum(harmonics))


def _tone(freq: float, seconds: float) -> np.ndarray:
    return _sweep(freq, freq, seconds, harmonics=(1.0,))


def _pitch_and_time(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.uniform(0.95, 1.05)), float(rng.uniform(0.9, 1.1))


def keyword(rng: np.random.Generator) -> np.ndarray:
    """One keyword, float peak ~1: rising chirp, a short gap, then a tone burst."""
    pitch, dur = _pitch_and_time(rng)
    chirp = _sweep(500 * pitch, 1500 * pitch, CHIRP_S * dur)
    gap = np.zeros(int(GAP_S * dur * SAMPLE_RATE))
    return np.concatenate([chirp, gap, _tone(1200 * pitch, TONE_S * dur)])


def _chirp_only(rng: np.random.Generator) -> np.ndarray:
    pitch, dur = _pitch_and_time(rng)
    return _sweep(500 * pitch, 1500 * pitch, CHIRP_S * dur)


def _tone_only(rng: np.random.Generator) -> np.ndarray:
    pitch, dur = _pitch_and_time(rng)
    return _tone(1200 * pitch, TONE_S * dur)


def _falling_chirp(rng: np.random.Generator) -> np.ndarray:
    pitch, dur = _pitch_and_time(rng)
    return _sweep(1500 * pitch, 500 * pitch, CHIRP_S * dur)


def _steady_tone(rng: np.random.Generator) -> np.ndarray:
    return _tone(float(rng.uniform(300, 3000)), float(rng.uniform(0.2, 0.8)))


def _tone_then_chirp(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([_tone_only(rng), _chirp_only(rng)])


def white_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS white noise."""
    return rng.standard_normal(n)


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS 1/f noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    x = np.fft.irfft(spectrum, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _noise_burst(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.3, 1.0) * SAMPLE_RATE)
    noise = white_noise(rng, n) if rng.random() < 0.5 else pink_noise(rng, n)
    return _fade(noise / 3.0)


def _silence(rng: np.random.Generator) -> np.ndarray:
    return np.zeros(int(0.5 * SAMPLE_RATE))


NEGATIVES: dict[str, Generator] = {
    "noise": _noise_burst,
    "falling_chirp": _falling_chirp,
    "steady_tone": _steady_tone,
    "silence": _silence,
    "chirp_only": _chirp_only,
    "tone_only": _tone_only,
    "tone_then_chirp": _tone_then_chirp,
}
"""Negative sound generators by name; each returns float audio with peak ~1."""


def _background(rng: np.random.Generator, n: int, rms: float) -> np.ndarray:
    noise = white_noise(rng, n) if rng.random() < 0.5 else pink_noise(rng, n)
    return noise * rms


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def make_clip(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 1 s int16 clip: 'keyword' or a :data:`NEGATIVES` name over a random noise floor."""
    sound = keyword(rng) if kind == "keyword" else NEGATIVES[kind](rng)
    sound = sound[:CLIP_SAMPLES]
    level = FULL_SCALE * 10 ** (rng.uniform(-26, -6) / 20)
    floor = level * 10 ** (-rng.uniform(15, 40) / 20)
    clip = _background(rng, CLIP_SAMPLES, floor)
    start = int(rng.integers(0, CLIP_SAMPLES - len(sound) + 1))
    clip[start : start + len(sound)] += level * sound
    return _to_int16(clip)


def make_clips(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` 1 s int16 16 kHz clips, half keywords, and their labels (1 = keyword, 0 = not).

    Negatives cycle through every :data:`NEGATIVES` kind; the order is shuffled.
    """
    rng = np.random.default_rng(seed)
    n_pos = n // 2
    kinds = ["keyword"] * n_pos + [list(NEGATIVES)[i % len(NEGATIVES)] for i in range(n - n_pos)]
    kinds = [kinds[i] for i in rng.permutation(n)]
    clips = [make_clip(kind, rng) for kind in kinds]
    labels = np.array([kind == "keyword" for kind in kinds], dtype=np.int64)
    return clips, labels


def make_stream(
    seconds: float,
    keyword_times: Sequence[float],
    seed: int,
    snr_db: float = 20.0,
    distractor_times: Sequence[float] = (),
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """``seconds`` of int16 noise with a keyword starting at each of ``keyword_times`` (seconds).

    ``snr_db`` is the keyword's RMS over the background's; non-keyword sounds (falling chirps,
    halves of the keyword, tones) start at ``distractor_times`` at the same level. Returns the
    audio and each keyword's (onset_s, offset_s), in the order of ``keyword_times``.
    """
    rng = np.random.default_rng(seed)
    total = round(seconds * SAMPLE_RATE)
    noise_rms = FULL_SCALE * 10 ** (-40 / 20)
    audio = 0.5 * white_noise(rng, total) + pink_noise(rng, total) * np.sqrt(0.75)
    audio *= noise_rms
    events: list[tuple[float, float]] = []
    distractors = [k for k in NEGATIVES if k not in ("noise", "silence")]
    placed = [(t, keyword(rng)) for t in keyword_times]
    placed += [
        (t, NEGATIVES[distractors[i % len(distractors)]](rng))
        for i, t in enumerate(distractor_times)
    ]
    for index, (onset, sound) in enumerate(placed):
        start = round(onset * SAMPLE_RATE)
        if start < 0 or start + len(sound) > total:
            raise ValueError(f"a sound at {onset} s does not fit in {seconds} s of audio")
        voiced = sound[np.abs(sound) > 1e-3]
        gain = noise_rms * 10 ** (snr_db / 20) / np.sqrt(np.mean(voiced**2))
        audio[start : start + len(sound)] += gain * sound
        if index < len(keyword_times):
            events.append((start / SAMPLE_RATE, (start + len(sound)) / SAMPLE_RATE))
    return _to_int16(audio), events


def write_chirp_corpus(folder: Path, splits: dict[str, int], seed: int = 100) -> None:
    """A corpus in ``training.data generate``'s layout (``manifest.jsonl`` and WAV clips) made
    of synthetic clips, ``splits[name]`` per split, for tests of ``python -m training.train``."""
    from kws.wavfile import write_wav
    from training.data.corpus import BACKGROUND_LABEL

    rows = []
    for offset, (split, count) in enumerate(splits.items()):
        clips, labels = make_clips(count, seed=seed + offset)
        for i, (clip, label) in enumerate(zip(clips, labels, strict=True)):
            path = Path("clips") / split / f"{i:04d}.wav"
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            write_wav(folder / path, clip, SAMPLE_RATE)
            name = "chirp" if label else BACKGROUND_LABEL
            rows.append({"path": str(path), "label": name, "split": split})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
