"""Pick a TFLite interpreter: ai-edge-litert, else tflite-runtime, else TensorFlow's copy.

The runtime never imports TensorFlow unless neither small package is installed; set
``KWS_TFLITE_BACKEND`` to one of :data:`BACKENDS` to force a choice.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from kws.errors import ModelError

BACKENDS = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite.python.interpreter",
}


def interpreter_class(backend: str | None = None) -> tuple[type, str]:
    """The Interpreter class of the first importable backend (or of ``backend``) and its name."""
    backend = backend or os.environ.get("KWS_TFLITE_BACKEND") or None
    if backend is not None and backend not in BACKENDS:
        raise ModelError(f"unknown TFLite backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    names = [backend] if backend else list(BACKENDS)
    for name in names:
        try:
            module = importlib.import_module(BACKENDS[name])
        except ImportError:
            continue
        return module.Interpreter, name
    raise ModelError(
        "no TFLite interpreter is installed: pip install ai-edge-litert "
        "(or tflite-runtime on platforms without it)"
    )


def make_interpreter(
    model_content: bytes, backend: str | None = None, num_threads: int = 1
) -> tuple[Any, str]:
    """An allocated interpreter for ``model_content`` and the backend's name.

    Raises ValueError with the interpreter's reason when the flatbuffer is not a valid model.
    """
    cls, name = interpreter_class(backend)
    interpreter = cls(model_content=model_content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter, name
