"""training.models.dnn (Chen et al. 2014's stacked-frame DNN): config checks, streaming equals
window in Keras and after export, and a tiny run of ``python -m training.train`` with model="dnn".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter

from kws.model import load_model
from training.core import synthetic
from training.core.tiny_models import clip_features
from training.models import config_from_dict, get_model
from training.models.dnn import DNNConfig

CLIP_SPLITS = {"train": 240, "validation": 60, "test": 60}


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"window_frames": 0}, "window_frames"),
        ({"stride_t": 2.5}, "stride_t"),
        ({"hidden_layers": -1}, "hidden_layers"),
        ({"hidden_units": True}, "hidden_units"),
        ({"window_frames": 4, "stride_t": 8}, "stride_t 8 exceeds window_frames 4"),
    ],
)
def test_config_errors_name_the_key(values: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        DNNConfig(**values)


def test_registry_knows_dnn_and_rejects_unknown_keys() -> None:
    spec = get_model("dnn")
    assert spec.streamable and spec.config_cls is DNNConfig
    assert config_from_dict("dnn", {"window_frames": 20}).window_frames == 20
    with pytest.raises(ValueError, match="unknown keys: hidden_unit"):
        config_from_dict("dnn", {"hidden_unit": 64})


def test_paper_shape_has_the_papers_parameter_count() -> None:
    """41 stacked frames of 40 features, 3 x 128 ReLU, 2 outputs: 1640*128+128 + 2*(128*128+128)
    + 128*2+2 weights (the normalization's 80 statistics are not trainable)."""
    model = get_model("dnn").build(DNNConfig(), 40, 2)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 1640 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2


def _stream(run, state: np.ndarray, frames: np.ndarray, stride: int) -> np.ndarray:
    for start in range(0, len(frames), stride):
        out = run(frames[None, start : start + stride], state)
        state = np.asarray(out["state_frames_out"])
    return np.asarray(out["scores"])


def test_bad_stride_has_no_streaming_form() -> None:
    config = DNNConfig(window_frames=4, stride_t=4)
    spec = get_model("dnn")
    with pytest.raises(ValueError, match="leaves no state"):
        spec.build_streaming(config, spec.build(config, 10, 2))


@pytest.mark.parametrize("stride", [1, 3])
def test_keras_streaming_equals_window(stride: int) -> None:
    config = DNNConfig(window_frames=12, stride_t=stride, hidden_units=8)
    spec = get_model("dnn")
    window = spec.build(config, 10, 3)
    frames = np.random.default_rng(0).normal(2.0, 3.0, size=(12, 10)).astype(np.float32)
    window.get_layer("normalize").adapt(frames[None] * 0.5)
    streaming = spec.build_streaming(config, window)
    state = np.zeros((1, 12 - stride, 10), np.float32)
    got = _stream(lambda x, s: streaming({"frames": x, "state_frames": s}), state, frames, stride)
    np.testing.assert_allclose(got, window(frames[None]).numpy(), atol=1e-5)


@pytest.mark.slow
def test_train_cli_trains_and_exports_a_dnn(tmp_path: Path) -> None:
    from training.train import main

    corpus = tmp_path / "corpus"
    synthetic.write_chirp_corpus(corpus, CLIP_SPLITS)
    config = tmp_path / "dnn.toml"
    config.write_text(
        f'name = "chirp_dnn"\ncorpus = "{corpus}"\nmodel = "dnn"\nepochs = 6\nbatch_size = 32\n'
        "spec_augment = false\n[params]\nwindow_frames = 64\nstride_t = 4\nhidden_units = 32\n"
    )
    out = tmp_path / "run"
    assert main([str(config), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8, metrics
    assert set(metrics["files"]) == {
        "window_float32", "streaming_float32", "window_int8", "streaming_int8"
    }  # fmt: skip
    stream_md = load_model(out / metrics["files"]["streaming_float32"]).metadata
    assert stream_md.stride_frames == 4 and stream_md.window_frames == 64
    assert [s.input for s in stream_md.state_tensors] == ["state_frames"]

    window = Interpreter(model_content=(out / "chirp_dnn_window_float32.tflite").read_bytes())
    streaming = Interpreter(model_content=(out / "chirp_dnn_streaming_float32.tflite").read_bytes())
    run_window, run_stream = window.get_signature_runner(), streaming.get_signature_runner()
    clips, _ = synthetic.make_clips(3, seed=999)
    for frames in clip_features(clips)[:, -64:]:
        zeros = np.zeros((1, 60, 40), np.float32)
        got = _stream(lambda x, s: run_stream(frames=x, state_frames=s), zeros, frames, 4)
        np.testing.assert_allclose(got, run_window(frames=frames[None])["scores"], atol=1e-5)


def test_train_cli_names_a_bad_dnn_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from training.train import main

    config = tmp_path / "bad.toml"
    config.write_text(f'name = "x"\ncorpus = "{tmp_path}"\nmodel = "dnn"\n[params]\nlayers = 3\n')
    assert main([str(config)]) == 2
    assert "layers" in capsys.readouterr().err
