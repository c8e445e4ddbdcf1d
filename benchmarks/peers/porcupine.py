"""Porcupine 1.9 through the PyPI package ``pvporcupine==1.9.5`` (its bundled engine library and
keyword files; this version needs no access key).

Porcupine gives no score, only a detection at a sensitivity fixed when the engine is made. The
adapter therefore runs one detector per sensitivity of a grid (:data:`SENSITIVITIES`, 0.0 to 1.0
in steps of 0.05: 21 detectors) on the same 512-sample frames, and :class:`SensitivityGrid`
turns each frame into a score: ``(n - k) / n`` for the lowest-sensitivity detector k (of n,
ascending) that fired on it, 0 when none did; on this grid that is ``1 - s * 20/21`` for the
lowest sensitivity s that fired (a rank rather than ``1 - s``, so that s = 1.0 still scores
above "none fired"). A higher sensitivity fires more, so the frames scoring at least the
threshold of sensitivity S are those where a detector at or below S fired, which is where S's
own detector fires if detections nest: the DET sweep of ``kws.evaluation`` walks the grid, and
:meth:`PorcupineEngine.sensitivity_at` names the sensitivity behind each threshold (results
carry it in ``frr_at``).

Detections nest per utterance, not exactly per frame: on one utterance, detectors at
neighbouring sensitivities may fire one to four frames (32–128 ms) apart. Smoothing is off (a
detection is an event) and the refractory period is 1 s (our models' default), which makes
those one event; ``python -m benchmarks.peers.porcupine_check`` confirms on generated speech
that the events the scores give at each sensitivity's threshold are that detector's own.

Wake words: Porcupine ships ``alexa`` and ``jarvis`` (no "hey jarvis", "hey mycroft" or "okay
nabu"). ``hey_jarvis`` is mapped to Porcupine's ``jarvis``, which listens for "jarvis" alone:
it can fire on "jarvis" without "hey" and on confusables that contain "jarvis", so its false
accepts are not those of a "hey jarvis" model.

Cost: the grid costs one detector per sensitivity (and more than the sum: 21 detectors cost
30-40x one here: the detectors share the cache). The harness's CPU figure is the grid's; it also
times :meth:`PorcupineEngine.user_engine`, one detector at :data:`USER_SENSITIVITY` (0.5, the
package's default) on its own, which is what a user running Porcupine pays.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.peers import SAMPLE_RATE, ChunkBuffer, check_wake_word, register

ENGINE = "porcupine"
FRAME_SAMPLES = 512  # pvporcupine: Porcupine.frame_length at 16 kHz
SENSITIVITIES = tuple(round(0.05 * i, 2) for i in range(21))
"""The sensitivity grid, ascending: one detector each."""
USER_SENSITIVITY = 0.5
"""The package's default sensitivity: the one detector whose cost is reported as a user's."""
KEYWORDS = {"alexa": "alexa", "hey_jarvis": "jarvis"}
"""Our wake word -> Porcupine's keyword (hey_jarvis: Porcupine has only "jarvis")."""
REFRACTORY_S = 1.0
"""One event per utterance: detectors at neighbouring sensitivities fire up to ~4 frames
(128 ms) apart on one utterance, and this merges them (it is also our models' default)."""
INSTALL_HINT = "pip install pvporcupine==1.9.5 (the bench extra)"
NOTE = (
    "Porcupine reports detections, not scores: the benchmark ran one detector per sensitivity "
    f"on a grid of {len(SENSITIVITIES)} ({SENSITIVITIES[0]:g}..{SENSITIVITIES[-1]:g}), a frame "
    "scoring by the lowest sensitivity that fired, so each threshold is a sensitivity (frr_at "
    f"gives it). CPU is one detector at sensitivity {USER_SENSITIVITY:g} run alone, what a user "
    "pays; the grid's cost is cpu_s_per_audio_hour in peers."
)
JARVIS_NOTE = " hey_jarvis is Porcupine's 'jarvis' keyword, which listens for 'jarvis' alone."


def _package() -> Any:
    """pvporcupine, imported; ImportError (one line) when missing or without a library here
    (the package picks its library from the platform when imported)."""
    try:
        import pvporcupine
    except ImportError:
        raise ImportError(f"{ENGINE} needs the pvporcupine package: {INSTALL_HINT}") from None
    except (NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        where = f"{platform.system()} {platform.machine()}"
        reason = " ".join(str(exc).split())[:120]
        raise ImportError(
            f"{ENGINE}: pvporcupine has no engine library for {where} ({reason})"
        ) from None
    return pvporcupine


Detector = Callable[[np.ndarray], bool]
"""One frame of int16 audio in, whether the detector fired on it."""


class SensitivityGrid:
    """Detectors at ascending sensitivities, run on the same frames; each frame's score is
    ``(n - k) / n`` for the lowest-sensitivity detector k (0-based, n detectors) that fired on
    it, and 0 when none fired. The rank, not ``1 - sensitivity``, keeps the top sensitivity
    (1.0) above "none fired"."""

    def __init__(self, sensitivities: Sequence[float], detectors: Sequence[Detector]) -> None:
        if len(sensitivities) != len(detectors) or not detectors:
            raise ValueError("a sensitivity grid needs one detector per sensitivity")
        if list(sensitivities) != sorted(set(sensitivities)):
            raise ValueError(f"sensitivities must ascend: {list(sensitivities)}")
        self.sensitivities = tuple(sensitivities)
        self.detectors = tuple(detectors)

    def fired(self, frame: np.ndarray) -> list[bool]:
        """Run every detector on ``frame`` (all of them: each keeps its own stream state)."""
        return [detect(frame) for detect in self.detectors]

    def score(self, frame: np.ndarray) -> float:
        return self.score_of(self.fired(frame))

    def score_of(self, fired: Sequence[bool]) -> float:
        """The score of one frame on which detector k fired when ``fired[k]``."""
        n = len(self.sensitivities)
        k = next((i for i, f in enumerate(fired) if f), n)
        return (n - k) / n

    def sensitivity_at(self, threshold: float) -> float | None:
        """The sensitivity a threshold on the score stands for: frames scoring at least
        ``threshold`` are those where a detector at or below it fired (None: above 1)."""
        n = len(self.sensitivities)
        k = int(np.floor(n * (1 - threshold) + 1e-9))
        return None if k < 0 else self.sensitivities[min(k, n - 1)]

    def threshold_of(self, index: int) -> float:
        """The score threshold that stands for the sensitivity ``sensitivities[index]``."""
        return self.score_of([i == index for i in range(len(self.sensitivities))])


class PorcupineDetector:
    """One pvporcupine engine for Porcupine's ``keyword`` at one sensitivity, fed numpy frames
    directly (the package's own ``process`` copies each frame through a Python list first,
    which costs more than the engine: 17 against 10 CPU-s per audio hour here)."""

    def __init__(self, keyword: str, sensitivity: float) -> None:
        package = _package()
        path = package.KEYWORD_PATHS.get(keyword)
        if path is None:
            raise ImportError(f"{ENGINE}: pvporcupine ships no keyword file for {keyword!r}")
        try:
            self._engine = package.Porcupine(
                package.LIBRARY_PATH, package.MODEL_PATH, [path], [sensitivity]
            )
        except (OSError, ValueError, MemoryError, KeyError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise ImportError(f"{ENGINE}: cannot load {path}: {detail}") from None
        if self._engine.frame_length != FRAME_SAMPLES or self._engine.sample_rate != SAMPLE_RATE:
            raise ImportError(f"{ENGINE}: unexpected frame length or sample rate")
        self._result = ctypes.c_int()

    def __call__(self, frame: np.ndarray) -> bool:
        e = self._engine
        pcm = np.ascontiguousarray(frame).ctypes.data_as(ctypes.POINTER(ctypes.c_short))
        status = e.process_func(e._handle, pcm, ctypes.byref(self._result))
        if status is not e.PicovoiceStatuses.SUCCESS:
            raise RuntimeError(f"{ENGINE}: pv_porcupine_process failed: {status.name}")
        return self._result.value >= 0

    def delete(self) -> None:
        self._engine.delete()


@register(ENGINE)
class PorcupineEngine:
    """Porcupine's keyword for one of our wake words, on a sensitivity grid; chunks in, one
    score per 32 ms frame (see the module docstring for the mapping)."""

    chunk_samples = FRAME_SAMPLES
    smoothing_calls = 1  # a detection is an event: nothing to average
    refractory_s = REFRACTORY_S

    def __init__(self, wake_word: str, sensitivities: Sequence[float] = SENSITIVITIES) -> None:
        check_wake_word(ENGINE, wake_word, self.wake_words())
        self.name = f"{ENGINE}:{wake_word}"
        self.wake_word = wake_word
        self.keyword = KEYWORDS[wake_word]
        self.note = NOTE + (JARVIS_NOTE if wake_word == "hey_jarvis" else "")
        self._sensitivities = tuple(sensitivities)
        self._engines: list[PorcupineDetector] = []
        self._buffer = ChunkBuffer(FRAME_SAMPLES)
        self.reset()

    @classmethod
    def wake_words(cls) -> tuple[str, ...]:
        shipped = _package().KEYWORDS
        return tuple(ours for ours, theirs in KEYWORDS.items() if theirs in shipped)

    def user_engine(self) -> PorcupineEngine:
        """What a user runs: one detector at :data:`USER_SENSITIVITY` (the harness times it on
        its own, beside the grid)."""
        return PorcupineEngine(self.wake_word, sensitivities=(USER_SENSITIVITY,))

    def sensitivity_at(self, threshold: float) -> float | None:
        return self._grid.sensitivity_at(threshold)

    def reset(self) -> None:
        """New engines: Porcupine 1.9 has no reset call, and its stream state is internal."""
        for engine in self._engines:
            engine.delete()
        self._engines = [PorcupineDetector(self.keyword, s) for s in self._sensitivities]
        self._grid = SensitivityGrid(self._sensitivities, self._engines)
        self._buffer.reset()

    def process(self, chunk: np.ndarray) -> list[tuple[float, float]]:
        """One score per whole 512-sample frame, timed at its end."""
        return [
            (end / SAMPLE_RATE, self._grid.score(piece)) for piece, end in self._buffer.feed(chunk)
        ]

    def __del__(self) -> None:
        for engine in getattr(self, "_engines", ()):
            engine.delete()
