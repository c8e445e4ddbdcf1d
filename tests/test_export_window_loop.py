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

    from training.core.tflite import export_tflite
    from training.core.tiny_models import FEATURES
    from training.models import get_model
    from training.tiny import LABELS, TINY_CRNN

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


def test_bidirectional_window_exports_with_builtin_ops(tiny_models: dict[str, Path]) -> None:
    """The paper grid's bidirectional rows: window form only, builtin ops, Keras' scores."""
    import keras

    from training.core.tflite import export_tflite
    from training.models import get_model
    from training.models.crnn import CRNNConfig

    config = CRNNConfig(
        conv_filters=4, kernel=(4, 8), stride=(2, 4), rnn_layers=2, rnn_units=6,
        bidirectional=True, fc_units=5, window_frames=98,
    )  # fmt: skip
    keras.utils.set_random_seed(2)
    model = get_model("crnn").build(config, 40, 2)
    metadata = read_metadata(tiny_models["window"])
    data = export_tflite(model, config, metadata, "window", "float32")
    assert not any(op.startswith("Flex") for op in _ops(data))
    frames = np.random.default_rng(1).normal(size=(1, 98, 40)).astype(np.float32)
    got = Interpreter(model_content=data).get_signature_runner()(frames=frames)["scores"]
    np.testing.assert_allclose(got, model(frames).numpy(), atol=1e-5)
    streaming = dataclasses.replace(
        read_metadata(tiny_models["streaming"]),
        state_tensors=get_model("crnn").state_tensors(config),
    )
    with pytest.raises(ValueError, match="bidirectional models have no streaming form"):
        export_tflite(model, config, streaming, "streaming", "float32")


def test_int8_loop_is_refused_before_converting(tiny_models: dict[str, Path]) -> None:
    import keras

    from training.core.tflite import export_tflite
    from training.models import get_model
    from training.tiny import TINY_CRNN

    keras.utils.set_random_seed(3)
    model = get_model("crnn").build(TINY_CRNN, 40, 2)
    metadata = dataclasses.replace(read_metadata(tiny_models["window"]), quantization="int8")
    windows = np.zeros((2, 98, 40), np.float32)
    with pytest.raises(ValueError, match="int8 window export needs unroll=True"):
        export_tflite(model, TINY_CRNN, metadata, "window", "int8", windows, unroll=False)


def test_window_sizes_cli_names_a_bad_config(tmp_path: Path, capsys) -> None:
    from training.window_sizes import main

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncorpus = "y"\n[params]\nkernal = [5, 8]\n')
    assert main([str(bad)]) == 2
    assert "kernal" in capsys.readouterr().err
