"""openWakeWord through the PyPI package ``pyopen-wakeword`` (its bundled TFLite models).

The package runs openWakeWord's three stages on its own TensorFlow Lite C library: a mel
spectrogram over each 80 ms chunk (with 480 samples of context), a speech embedding every 8 mel
frames, and the wake-word classifier over the last 16 embeddings, so one probability per 80 ms.
Its scores are used raw, as openWakeWord's own ``Model.predict`` thresholds them, with a 2 s
refractory period (Home Assistant's wyoming-openwakeword default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.peers import SAMPLE_RATE, ChunkBuffer, check_wake_word, register
from benchmarks.peers import single_thread_interpreter as _one_thread

ENGINE = "openwakeword"
CHUNK_SAMPLES = 1280  # 80 ms: pyopen_wakeword.openwakeword.SAMPLES_PER_CHUNK
INSTALL_HINT = "pip install pyopen-wakeword (the bench extra)"


def _package() -> Any:
    try:
        import pyopen_wakeword
    except ImportError:
        raise ImportError(f"{ENGINE} needs the pyopen_wakeword package: {INSTALL_HINT}") from None
    return pyopen_wakeword


@register(ENGINE)
class OpenWakeWordEngine:
    """openWakeWord's shipped model for one wake word; chunks in, one probability per 80 ms."""

    chunk_samples = CHUNK_SAMPLES
    smoothing_calls = 1
    refractory_s = 2.0

    def __init__(self, wake_word: str) -> None:
        package = _package()
        check_wake_word(ENGINE, wake_word, self.wake_words())
        self.name = f"{ENGINE}:{wake_word}"
        self._features = package.OpenWakeWordFeatures.from_builtin()
        self._model = package.OpenWakeWord.from_builtin(package.Model(wake_word))
        self._single_thread()
        self._buffer = ChunkBuffer(CHUNK_SAMPLES)

    @classmethod
    def wake_words(cls) -> tuple[str, ...]:
        return tuple(m.value for m in _package().Model)

    def _single_thread(self) -> None:
        """Replace the package's interpreters (created with default options, i.e. several
        threads) by one-thread interpreters of the same models and input shapes."""
        from pyopen_wakeword.openwakeword import EMB_SHAPE, MEL_SHAPE

        f, m = self._features, self._model
        lib = f.lib
        lib.TfLiteInterpreterDelete(f.mel_interpreter)
        f.mel_interpreter = _one_thread(lib, f.mel_model, MEL_SHAPE)
        f.mel_input_tensor = lib.TfLiteInterpreterGetInputTensor(f.mel_interpreter, 0)
        f.mel_output_tensor = lib.TfLiteInterpreterGetOutputTensor(f.mel_interpreter, 0)
        lib.TfLiteInterpreterDelete(f.emb_interpreter)
        f.emb_interpreter = _one_thread(lib, f.emb_model, EMB_SHAPE)
        f.emb_input_tensor = lib.TfLiteInterpreterGetInputTensor(f.emb_interpreter, 0)
        f.emb_output_tensor = lib.TfLiteInterpreterGetOutputTensor(f.emb_interpreter, 0)
        m.lib.TfLiteInterpreterDelete(m.interpreter)
        m.interpreter = _one_thread(m.lib, m.model)
        m.input_tensor = m.lib.TfLiteInterpreterGetInputTensor(m.interpreter, 0)
        m.output_tensor = m.lib.TfLiteInterpreterGetOutputTensor(m.interpreter, 0)

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()
        self._buffer.reset()

    def process(self, chunk: np.ndarray) -> list[tuple[float, float]]:
        """One probability per whole 80 ms chunk, timed at its end.

        A fresh stream starts with 8 s of zeros already buffered (the package's autofill), so
        the first chunk yields ~76 predictions; those are spaced 80 ms back from its end and
        the ones at or before time 0 (about the padding only) are dropped.
        """
        out: list[tuple[float, float]] = []
        step_s = CHUNK_SAMPLES / SAMPLE_RATE
        for piece, end in self._buffer.feed(chunk):
            probs = [
                p
                for embedding in self._features.process_streaming(piece.tobytes())
                for p in self._model.process_streaming(embedding)
            ]
            end_s = end / SAMPLE_RATE
            for k, p in enumerate(probs):
                t = end_s - (len(probs) - 1 - k) * step_s
                if t > 1e-9:
                    out.append((t, float(p)))
        return out
