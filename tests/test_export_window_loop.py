"""training.export's window form keeps the recurrence a builtin WHILE loop where the converter
allows it (float32, int8_weights) and unrolls it for full int8, whose calibration crashes on a
WHILE body; the loop version scores like the streaming form (tests/test_training_crnn.py) and is
several times smaller."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter

from kws.tflite_file import read_metadata

pytestmark = pytest.mark.slow


def _ops(data: bytes) -> set[str]:
    return {op["op_name"] for op in Interpreter(model_content=data)._get_ops_details()}


def test_float_window_is_a_loop_and_int8_is_unrolled(tiny_models: dict[str, Path]) -> None:
    window = tiny_models["window"].read_bytes()
    assert "WHILE" in _ops(window)
    assert "WHILE" not in _ops(tiny_models["window_int8"].read_bytes())
    assert not any(op.startswith("Flex") for op in _ops(window))
    # One copy of the GRU cell instead of 49: smaller than the unrolled int8 file.
    assert len(window) < tiny_models["window_int8"].stat().st_size / 3


def test_int8_weights_window_loop_matches_float(tiny_models: dict[str, Path]) -> None:
    import keras

    from training.export import export_tflite
    from training.models import get_model
    from training.tiny import FEATURES, LABELS, TINY_CRNN

    keras.utils.set_random_seed(1)
    model = get_model("crnn").build(TINY_CRNN, FEATURES.num_features, len(LABELS))
    metadata = read_metadata(tiny_models["window"])
    hybrid = export_tflite(
        model, TINY_CRNN, dataclasses.replace(metadata, quantization="int8_weights"),
        "window", "int8_weights",
    )  # fmt: skip
    assert "WHILE" in _ops(hybrid)
    frames = np.random.default_rng(0).normal(size=(1, 98, 40)).astype(np.float32)
    got = Interpreter(model_content=hybrid).get_signature_runner()(frames=frames)["scores"]
    np.testing.assert_allclose(got, model(frames).numpy(), atol=0.02)
