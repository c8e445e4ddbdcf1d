"""Speaker augmentation: one TTS voice becomes many plausible speakers by moving its formants
(vocal-tract length), its F0 (median and range) and its tempo, each independently of the others.

The work is Praat's "Change gender" (praat-parselmouth): a pitch analysis, then a resampling that
scales every frequency by the formant ratio, then PSOLA to put F0 and duration where they are
asked to be. Why Praat rather than the WORLD vocoder (pyworld), the other library that does this
properly: on a synthetic vowel both move F1/F2 by the asked ratio (within 2 %) and F0 to within
0.2 Hz, but on the same 20 espeak-ng/flite clips (0.3-2.8 s) on one core Praat took a median
5.4 ms per clip and WORLD (dio, stonemask, cheaptrick, d4c, synthesis; 5 ms frames) 38 ms, and
PSOLA keeps the voice's own waveform where WORLD resynthesizes it through a vocoder. The cost:
praat-parselmouth 0.4.7 has PyPI wheels for Linux x86-64 (and macOS, Windows) but not for Linux
aarch64, where pip builds it from source (CMake and a C++ compiler; untested here), whereas
pyworld-prebuilt has wheels for both.

Cost, measured with ``taskset -c 0 python -m training.data.speaker_augment`` (200 espeak-ng and
flite clips of 0.3-4.5 s, median 0.79 s, every factor drawn from the default ranges): median
6.0 ms of CPU per clip, 95th percentile 19 ms, 7.7 ms per second of audio (wall-clock 22-24 ms
per clip while the machine's two cores carried a load average of 10).

Determinism: Praat's PSOLA draws random periods for unvoiced stretches from Praat's own random
generator, which is seeded from the caller's ``rng`` right before each call (and left seeded),
so the same ``rng`` state gives byte-identical output in any process. That generator is shared
by the whole process: render in worker processes (as the corpus does), not in threads.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from training.data.augment import AugmentConfig
from training.data.signals import SAMPLE_RATE, as_float32

PITCH_FLOOR_HZ = 50.0
"""Lower than Praat's usual 75 Hz: espeak-ng's deep voices at a low pitch setting sit at
45-65 Hz, where a 75 Hz floor found no F0 and left it unshifted (4 semitones off on ±4 shifts;
within 0.4 semitone at 50 Hz). The analysis window is three periods of the floor (60 ms)."""
PITCH_CEILING_HZ = 600.0
LOWEST_NEW_F0_HZ = 76.0
"""Where a pitch track jumped an octave or more below its median (an octave error, not
intonation), the changed contour is kept at or above this, just above Praat's default pitch
floor for manipulation: "Change gender" then never returns when a frame lands below it. Two
clips hung a corpus render: a Piper clip (median 426 Hz, a 98 Hz frame sent to 57 Hz), and
espeak-ng's sv+Demonic saying "alexa" (frames at 50 and 510 Hz: sent to 63 Hz it hangs, to 75 Hz
it takes milliseconds). A track without such a jump may go lower (a 58 Hz voice shifted to 52 Hz
is fine): it is kept at or above 0.8 of where the plain shift puts its lowest frame."""
OCTAVE_JUMP = 2.0
"""A track whose lowest voiced frame lies this factor or more below its median has jumped."""
MIN_RANGE = 0.05
"""Below this F0 range factor (Praat refuses 0) the F0 is left as it is instead."""
MIN_SECONDS = 0.1
"""Shorter input is returned unchanged: too short for a pitch analysis worth the name."""
_DEFAULTS = AugmentConfig()


def change_voice(
    audio: np.ndarray,
    formant_ratio: float = 1.0,
    f0_semitones: float = 0.0,
    f0_range: float = 1.0,
    tempo: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """``audio`` (16 kHz) with formants scaled by ``formant_ratio``, the median F0 moved by
    ``f0_semitones``, F0's excursions around it scaled by ``f0_range`` and the duration divided
    by ``tempo`` → float32 in [-1, 1], about ``len(audio) / tempo`` samples long.

    Audio without voiced frames (silence, noise) keeps its F0 settings moot; silence stays silent.
    ``seed`` seeds Praat's random generator (see the module docstring).
    """
    import parselmouth
    from parselmouth.praat import call, run

    x = as_float32(audio)
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        return x.copy()
    sound = parselmouth.Sound(x.astype(np.float64), SAMPLE_RATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", parselmouth.PraatWarning)  # "no voiced segments found"
        pitch = sound.to_pitch(pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
        median = call(pitch, "Get quantile", 0.0, 0.0, 0.5, "Hertz")
        new_median = 0.0 if math.isnan(median) else median * 2.0 ** (f0_semitones / 12.0)
        if new_median:
            new_median, f0_range = safe_contour(pitch, median, new_median, f0_range)
        run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
        try:
            changed: Any = call([sound, pitch], "Change gender", formant_ratio, new_median,
                                f0_range, 1.0 / tempo)  # fmt: skip
        except parselmouth.PraatError as exc:
            if not new_median:
                raise
            # Praat fails on a few pitch tracks ("rounding up the real value --undefined--"):
            # the formants and tempo still change, the F0 stays as it is.
            warnings.warn(
                f"Praat could not move this F0 ({_first_line(exc)}); F0 kept", stacklevel=2
            )
            run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
            changed = call([sound, pitch], "Change gender", formant_ratio, 0.0, 1.0, 1.0 / tempo)
    y = np.asarray(changed.values[0], dtype=np.float64)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def safe_contour(
    pitch: Any, median: float, new_median: float, f0_range: float
) -> tuple[float, float]:
    """(new median, range factor) for Praat, which maps a frame f to new_median + (f - median) *
    range: ``f0_range`` narrowed so that no voiced frame of ``pitch`` lands below the floor
    (:data:`LOWEST_NEW_F0_HZ` for a track that jumped an octave), or (0, 1), F0 left as it is,
    where no range of at least :data:`MIN_RANGE` can keep it there."""
    voiced = pitch.selected_array["frequency"]
    voiced = voiced[voiced > 0]
    lowest = float(voiced.min()) if len(voiced) else median
    return contour_within(lowest, median, new_median, f0_range)


def contour_within(
    lowest: float, median: float, new_median: float, f0_range: float
) -> tuple[float, float]:
    """:func:`safe_contour` on numbers: the lowest voiced frame and the median of a track."""
    shifted_lowest = lowest * new_median / median if median > 0 else lowest
    jumped = lowest * OCTAVE_JUMP <= median
    floor = LOWEST_NEW_F0_HZ if jumped else min(LOWEST_NEW_F0_HZ, 0.8 * shifted_lowest)
    if new_median < floor:
        return 0.0, 1.0
    if lowest < median and new_median + (lowest - median) * f0_range < floor:
        f0_range = (new_median - floor) / (median - lowest)
    return (new_median, f0_range) if f0_range >= MIN_RANGE else (0.0, 1.0)


def speaker_augment(
    audio: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig = _DEFAULTS,
) -> np.ndarray:
    """With probability ``config.speaker_p``, :func:`change_voice` with a formant ratio, F0 shift,
    F0 range factor and tempo each drawn uniformly from its range in ``config``; otherwise the
    input as float32. Meant for a bare TTS utterance (before it is placed in a clip, so a tempo
    change does not move where the phrase ends). The same ``rng`` state gives the same output.
    """
    if rng.random() >= config.speaker_p:
        return as_float32(audio)
    formant_ratio, f0_semitones, f0_range, tempo = (
        rng.uniform(*bounds)
        for bounds in (config.formant_ratio, config.f0_semitones, config.f0_range, config.tempo)
    )
    seed = int(rng.integers(2**31))
    import parselmouth

    try:
        return change_voice(audio, formant_ratio, f0_semitones, f0_range, tempo, seed)
    except parselmouth.PraatError as exc:  # one odd utterance must not stop a corpus
        settings = f"formants x{formant_ratio:.3f}, tempo x{tempo:.3f}, seed {seed}"
        warnings.warn(
            f"speaker augmentation: Praat could not change this voice ({settings}): "
            f"{_first_line(exc)}; the utterance is kept as synthesized",
            stacklevel=2,
        )
        return as_float32(audio)


def _first_line(exc: Exception) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def _measure(clips: int = 200) -> None:
    """Print the speaker step's milliseconds per clip on TTS clips (run on one core)."""
    import time

    from training.data.tts import list_voices, prosody_grid, synthesize

    voices = [v for v in list_voices() if v.engine in ("espeak-ng", "flite")]
    texts = ("hey jarvis", "alexa", "okay nabu", "turn on the light in the kitchen please")
    pairs = prosody_grid(voices, clips, seed=0)
    audio = [as_float32(synthesize(texts[i % 4], v, p)) for i, (v, p) in enumerate(pairs)]
    config = AugmentConfig(speaker_p=1.0)
    rng = np.random.default_rng(0)
    speaker_augment(audio[0], rng, config)  # import and warm up
    wall, cpu = [], []
    for x in audio:
        start, start_cpu = time.perf_counter(), time.process_time()
        speaker_augment(x, rng, config)
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    seconds = np.array([len(x) / SAMPLE_RATE for x in audio])
    lengths = f"{seconds.min():.2f}-{seconds.max():.2f} s, median {np.median(seconds):.2f} s"
    print(f"{clips} clips of {lengths}")
    for name, ms in (("wall-clock", wall), ("CPU", cpu)):
        print(
            f"{name}: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms per clip, "
            f"{np.median(np.array(ms) / seconds):.1f} ms per second of audio"
        )


if __name__ == "__main__":
    _measure()
