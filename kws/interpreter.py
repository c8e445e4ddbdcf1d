"""Pick a TFLite interpreter: ai-edge-litert, else tflite-runtime, else TensorFlow's copy.

The runtime never imports TensorFlow unless neither small package is installed; set
``KWS_TFLITE_BACKEND`` to one of :data:`BACKENDS` to force a choice.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
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
    with _native_stderr_captured() as captured:
        try:
            interpreter = cls(model_content=model_content, num_threads=num_threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            detail = " ".join(captured().split())
            raise ValueError(f"{exc}{'; ' + detail if detail else ''}") from None
    return interpreter, name


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[Callable[[], str]]:
    """Capture what native code writes to file descriptor 2 while the block runs.

    The TFLite runtime prints an INFO banner ("Created TensorFlow Lite XNNPACK delegate") and
    its own error reports straight to fd 2; kws keeps stderr for one-line errors, so the banner
    is dropped and error reports are folded into the exception message instead.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): capture nothing
        yield lambda: ""
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: (sink.seek(0), sink.read().decode("utf-8", "replace"))[1]
        finally:
            os.dup2(saved, 2)
            os.close(saved)
