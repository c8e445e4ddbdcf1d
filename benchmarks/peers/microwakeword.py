"""microWakeWord through the PyPI package ``pymicro-wakeword`` (its bundled int8 TFLite models).

The package computes microWakeWord's frontend (the TFLite-Micro C frontend, via
``pymicro-features``) every 10 ms and runs the streaming model on every ``stride``-th feature
(3: one probability per 30 ms). Each model's manifest gives the moving-average window
(``micro.sliding_window_size``) that ESPHome applies before its cutoff; the adapter returns the
raw probabilities and states that window as ``smoothing_calls``, so kws.evaluation.smooth
applies it. The manifest has no cooldown: the refractory period is microWakeWord's own
evaluation convention, 25 probability slices of 30 ms after an accept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.peers import SAMPLE_RATE, ChunkBuffer, check_wake_word, register
from benchmarks.peers import single_thread_interpreter as _one_thread

ENGINE = "microwakeword"
CHUNK_SAMPLES = 160  # 10 ms: pymicro_wakeword.microwakeword.SAMPLES_PER_CHUNK, one feature
COOLDOWN_SLICES = 25  # microWakeWord test.py's ignore_slices_after_accept for its ROC
INSTALL_HINT = "pip install pymicro-wakeword (the bench extra)"


def _package() -> Any:
    try:
        import pymicro_wakeword
    except ImportError:
        raise ImportError(f"{ENGINE} needs the pymicro_wakeword package: {INSTALL_HINT}") from None
    return pymicro_wakeword


@register(ENGINE)
class MicroWakeWordEngine:
    """microWakeWord's shipped model for one wake word; chunks in, one probability per 30 ms."""

    chunk_samples = CHUNK_SAMPLES

    def __init__(self, wake_word: str) -> None:
        package = _package()
        check_wake_word(ENGINE, wake_word, self.wake_words())
        self.name = f"{ENGINE}:{wake_word}"
        shipped = package.MicroWakeWord.from_builtin(package.Model(wake_word))
        self.smoothing_calls: int = shipped.sliding_window_size
        self.probability_cutoff: float = shipped.probability_cutoff
        """The manifest's detection cutoff (after smoothing), for reference."""
        # The same model without the package's own averaging (window 1): raw probabilities.
        self._model = package.MicroWakeWord(
            shipped.id,
            wake_word=shipped.wake_word,
            tflite_model=shipped.tflite_model,
            probability_cutoff=shipped.probability_cutoff,
            sliding_window_size=1,
            trained_languages=shipped.trained_languages,
            libtensorflowlite_c_path=shipped.libtensorflowlite_c_path,
        )
        shipped.close()
        self._single_thread()
        self.refractory_s = COOLDOWN_SLICES * self._model.stride * CHUNK_SAMPLES / SAMPLE_RATE
        self._features = package.MicroWakeWordFeatures()
        self._buffer = ChunkBuffer(CHUNK_SAMPLES)
        self._seen = 0

    @classmethod
    def wake_words(cls) -> tuple[str, ...]:
        return tuple(m.value for m in _package().Model)

    def _single_thread(self) -> None:
        """Replace the package's interpreter (default options: several threads) by a one-thread
        interpreter of the same model."""
        m = self._model
        m.lib.TfLiteInterpreterDelete(m.interpreter)
        m.interpreter = _one_thread(m.lib, m.model)
        m.input_tensor = m.lib.TfLiteInterpreterGetInputTensor(m.interpreter, 0)
        m.output_tensor = m.lib.TfLiteInterpreterGetOutputTensor(m.interpreter, 0)

    def reset(self) -> None:
        self._model.reset()  # reloads the model: its streaming state lives in the interpreter
        self._single_thread()
        self._features.reset()
        self._buffer.reset()
        self._seen = 0

    def process(self, chunk: np.ndarray) -> list[tuple[float, float]]:
        """One probability per ``stride`` features, timed at the end of the 10 ms piece whose
        feature completed it (the model runs only then; in between the package returns 0)."""
        out: list[tuple[float, float]] = []
        for piece, end in self._buffer.feed(chunk):
            for features in self._features.process_streaming(piece.tobytes()):
                prob = self._model.process_streaming_prob(features)
                self._seen += 1
                if self._seen % self._model.stride == 0 and prob is not None:
                    out.append((end / SAMPLE_RATE, float(prob)))
        return out
