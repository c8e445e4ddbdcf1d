"""training.models.crnn, training.export and training.core.synthetic, down to the exported .tflite.

The central check follows kws_streaming: the streaming form, run from zero state over a window
S_T frames per call, gives the window form's scores at its last call.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter

from kws.tflite_file import read_metadata
from training.core import synthetic
from training.core.tiny_models import FEATURES, clip_features
from training.models import config_from_dict, get_model
from training.models.crnn import CRNNConfig
from training.models.registry import copy_weights
from training.tiny import LABELS, TINY_CRNN

HELDOUT_SEED = 12345


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"window_frames": 97, "stride": (2, 4)}, "window_frames"),
        ({"kernel": (200, 5), "window_frames": 96}, "window_frames"),
        ({"kernel": (4, 5), "stride": (8, 2)}, "stride time"),
        ({"cell": "rnn"}, "cell"),
        ({"conv_filters": 0}, "conv_filters"),
        ({"kernel": (5,)}, "kernel"),
        ({"rnn_units": 1.5}, "rnn_units"),
        ({"gate_max": 0.0}, "gate_max"),
        ({"gate_max": 1.01}, "gate_max"),
    ],
)
def test_config_errors_name_the_key(values: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        CRNNConfig(**values)


def test_kernel_wider_than_features_is_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="kernel freq 8 is larger than the input's 4 features"):
        get_model("crnn").build(CRNNConfig(kernel=(5, 8), window_frames=20, stride=(2, 2)), 4, 2)


def test_registry_builds_configs_strictly() -> None:
    spec = get_model("crnn")
    assert spec.streamable and spec.config_cls is CRNNConfig
    assert config_from_dict("crnn", {"kernel": [5, 8], "stride": [2, 4]}).kernel == (5, 8)
    with pytest.raises(ValueError, match="unknown keys: kernal"):
        config_from_dict("crnn", {"kernal": [5, 8]})
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        get_model("cnn")


def _stream(run, states: dict[str, np.ndarray], frames: np.ndarray, stride: int) -> np.ndarray:
    """Feed ``frames`` [T, F] S frames per call from ``states``; the last call's scores."""
    for start in range(0, len(frames), stride):
        out = run(frames[None, start : start + stride], states)
        states = {name: np.asarray(out[f"{name}_out"]) for name in states}
    return np.asarray(out["scores"])


@pytest.mark.parametrize(
    ("cell", "kernel", "gate_max"),
    [("gru", (5, 8), 1.0), ("lstm", (4, 3), 1.0), ("gru", (2, 3), 1.0), ("gru", (5, 8), 0.99),
     ("lstm", (4, 3), 0.9)],
)  # fmt: skip
def test_keras_streaming_equals_window(cell: str, kernel: tuple[int, int], gate_max: float) -> None:
    config = CRNNConfig(
        conv_filters=4, kernel=kernel, stride=(2, 2), rnn_layers=2, rnn_units=6, cell=cell,
        fc_units=5, window_frames=24, gate_max=gate_max,
    )  # fmt: skip
    spec = get_model("crnn")
    window = spec.build(config, 10, 3)
    frames = np.random.default_rng(0).normal(2.0, 3.0, size=(24, 10)).astype(np.float32)
    window.get_layer("normalize").adapt(frames[None] * 0.5)
    streaming = spec.build_streaming(config, window)
    states = {i.name: np.zeros(i.shape, np.float32) for i in streaming.inputs if i.name != "frames"}
    assert len(states) == len(spec.state_tensors(config))
    got = _stream(lambda x, s: streaming({"frames": x, **s}), states, frames, config.stride_t)
    np.testing.assert_allclose(got, window(frames[None]).numpy(), atol=1e-5)


@pytest.mark.parametrize(("cell", "kernel"), [("gru", (5, 8)), ("lstm", (4, 2))])
def test_sequence_form_gives_every_streaming_output(cell: str, kernel: tuple[int, int]) -> None:
    """Training on long sequences trains what the runtime streams: the sequence form's step j is
    the streaming form's j-th call, state carried from the start, over many windows' length."""
    config = CRNNConfig(
        conv_filters=4, kernel=kernel, stride=(2, 2), rnn_layers=2, rnn_units=6, cell=cell,
        fc_units=5, window_frames=8,
    )  # fmt: skip
    spec = get_model("crnn")
    assert spec.build_sequence is not None
    sequence = spec.build_sequence(config, 10, 3)
    frames = np.random.default_rng(1).normal(2.0, 3.0, size=(60, 10)).astype(np.float32)
    sequence.get_layer("normalize").adapt(frames[None] * 0.5)
    streaming = spec.build_streaming(config, sequence)
    states = {i.name: np.zeros(i.shape, np.float32) for i in streaming.inputs if i.name != "frames"}
    calls = []
    for start in range(0, len(frames), config.stride_t):
        out = streaming({"frames": frames[None, start : start + config.stride_t], **states})
        states = {name: np.asarray(out[f"{name}_out"]) for name in states}
        calls.append(np.asarray(out["scores"])[0])
    steps = sequence(frames[None]).numpy()[0]
    assert steps.shape == (30, 3)
    np.testing.assert_allclose(steps, np.stack(calls), atol=1e-5)
    window = spec.build(config, 10, 3)  # the same weights make the window form
    copy_weights(sequence, window)
    np.testing.assert_allclose(window(frames[None, :8]).numpy()[0], steps[3], atol=1e-5)


def test_bidirectional_has_no_streaming_form() -> None:
    config = CRNNConfig(kernel=(4, 3), stride=(2, 2), window_frames=8, bidirectional=True)
    spec = get_model("crnn")
    with pytest.raises(ValueError, match="bidirectional"):
        spec.build_streaming(config, spec.build(config, 10, 2))


def test_same_seed_gives_identical_audio() -> None:
    clips_a, labels_a = synthetic.make_clips(12, seed=7)
    clips_b, labels_b = synthetic.make_clips(12, seed=7)
    clips_c, _ = synthetic.make_clips(12, seed=8)
    assert all(a.dtype == np.int16 and a.shape == (16000,) for a in clips_a)
    assert all(np.array_equal(a, b) for a, b in zip(clips_a, clips_b, strict=True))
    assert np.array_equal(labels_a, labels_b) and labels_a.sum() == 6
    assert not all(np.array_equal(a, c) for a, c in zip(clips_a, clips_c, strict=True))
    stream_a, events_a = synthetic.make_stream(5.0, [1.0, 3.0], seed=3, snr_db=10)
    stream_b, events_b = synthetic.make_stream(5.0, [1.0, 3.0], seed=3, snr_db=10)
    assert stream_a.dtype == np.int16 and len(stream_a) == 80000
    assert np.array_equal(stream_a, stream_b) and events_a == events_b
    assert events_a[0][0] == 1.0 and 1.4 < events_a[0][1] < 1.6


def _runner(path: Path):
    return Interpreter(model_content=path.read_bytes()).get_signature_runner()


@pytest.mark.slow
def test_exported_signatures_and_metadata(tiny_models: dict[str, Path]) -> None:
    window_meta = read_metadata(tiny_models["window"])
    stream_meta = read_metadata(tiny_models["streaming"])
    assert (window_meta.labels, window_meta.window_frames, window_meta.stride_frames) == (
        LABELS, 98, 2
    )  # fmt: skip
    assert not window_meta.streaming and stream_meta.streaming
    assert [s.input for s in stream_meta.state_tensors] == ["state_conv", "state_rnn0"]
    for path, meta in (
        (tiny_models["window"], window_meta),
        (tiny_models["streaming"], stream_meta),
    ):
        interpreter = Interpreter(model_content=path.read_bytes())
        (signature,) = interpreter.get_signature_list().values()
        assert signature["inputs"] == sorted(["frames", *(s.input for s in meta.state_tensors)])
        assert signature["outputs"] == sorted(["scores", *(s.output for s in meta.state_tensors)])
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert not any(name.startswith("Flex") for name in ops), ops
    details = Interpreter(model_content=tiny_models["streaming"].read_bytes())
    inputs = details.get_signature_runner().get_input_details()
    assert list(inputs["frames"]["shape"]) == [1, 2, 40]
    assert list(inputs["state_conv"]["shape"]) == [1, 3, 40]
    assert list(inputs["state_rnn0"]["shape"]) == [1, 16]
    assert inputs["state_rnn0"]["dtype"] == np.float32


@pytest.mark.slow
def test_tflite_streaming_equals_window(tiny_models: dict[str, Path]) -> None:
    window, streaming = _runner(tiny_models["window"]), _runner(tiny_models["streaming"])
    shapes = streaming.get_input_details()
    zeros = {k: np.zeros(v["shape"], np.float32) for k, v in shapes.items() if k != "frames"}
    clips, _ = synthetic.make_clips(4, seed=HELDOUT_SEED)
    for frames in clip_features(clips)[:, : TINY_CRNN.window_frames]:
        got = _stream(lambda x, s: streaming(frames=x, **s), zeros, frames, TINY_CRNN.stride_t)
        np.testing.assert_allclose(got, window(frames=frames[None])["scores"], atol=1e-5)


@pytest.mark.slow
def test_exported_models_detect_the_keyword(tiny_models: dict[str, Path]) -> None:
    window = _runner(tiny_models["window"])
    clips, labels = synthetic.make_clips(60, seed=HELDOUT_SEED)
    features = clip_features(clips, FEATURES)[:, : TINY_CRNN.window_frames]
    scores = np.array([window(frames=f[None])["scores"][0, 1] for f in features])
    assert np.all(scores[labels == 1] > 0.5), scores[labels == 1].min()
    assert np.all(scores[labels == 0] < 0.5), scores[labels == 0].max()
    manifest = json.loads(tiny_models["stream_json"].read_text())
    assert len(manifest["events"]) == 4 and tiny_models["stream_wav"].stat().st_size > 600_000
