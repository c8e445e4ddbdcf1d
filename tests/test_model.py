"""Loading self-describing models, refusing bad ones, and running both forms."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.errors import ModelError
from kws.features import compute_features
from kws.metadata import Threshold
from kws.model import load_model
from kws.tflite_file import read_metadata, read_metadata_entries, write_model
from kws.wavfile import load_audio

pytestmark = pytest.mark.slow


def one_line(exc: pytest.ExceptionInfo, path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_loads_both_forms_with_their_metadata(tiny_models) -> None:
    window = load_model(tiny_models["window"])
    streaming = load_model(tiny_models["streaming"])
    assert window.backend == "ai_edge_litert"
    assert not window.metadata.streaming and streaming.metadata.streaming
    assert window.metadata.labels == streaming.metadata.labels == ("_background_", "chirp")
    assert [p.name for p, _ in streaming.state_ports] == [
        s.input for s in streaming.metadata.state_tensors
    ]


def test_streaming_runner_equals_window_on_the_same_frames(tiny_models) -> None:
    window = load_model(tiny_models["window"])
    streaming = load_model(tiny_models["streaming"])
    md = window.metadata
    audio = load_audio(tiny_models["stream_wav"])[int(2.6 * 16000) : int(3.8 * 16000)]
    frames = compute_features(md.features, audio)[: md.window_frames]
    (_, window_scores), *_ = window.runner().push(frames)
    streamed = streaming.runner().push(frames)
    assert len(streamed) == md.window_frames // md.stride_frames
    np.testing.assert_allclose(streamed[-1][1], window_scores, atol=1e-5)
    assert window_scores[1] > 0.5  # the window holds a keyword


@pytest.mark.parametrize("chunk", [1, 3, 7, 50])
def test_runner_calls_do_not_depend_on_how_frames_arrive(tiny_models, chunk: int) -> None:
    model = load_model(tiny_models["window"])
    md = model.metadata
    frames = compute_features(md.features, load_audio(tiny_models["stream_wav"])[: 3 * 16000])
    whole = model.runner().push(frames)
    runner = model.runner()
    parts = [c for i in range(0, len(frames), chunk) for c in runner.push(frames[i : i + chunk])]
    assert [n for n, _ in parts] == [n for n, _ in whole]
    assert whole[0][0] == md.window_frames
    assert all(b - a == md.stride_frames for (a, _), (b, _) in itertools.pairwise(whole))
    np.testing.assert_allclose(np.array([s for _, s in parts]), np.array([s for _, s in whole]))


def test_tensorflow_backend_gives_the_same_scores(tiny_models, monkeypatch) -> None:
    pytest.importorskip("tensorflow")
    litert = load_model(tiny_models["streaming"])
    tf_model = load_model(tiny_models["streaming"], backend="tensorflow")
    assert tf_model.backend == "tensorflow"
    frames = np.random.default_rng(0).normal(5, 3, (10, 40)).astype(np.float32)
    a = [s for _, s in litert.runner().push(frames)]
    b = [s for _, s in tf_model.runner().push(frames)]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_falls_back_when_ai_edge_litert_is_missing(tiny_models, monkeypatch) -> None:
    pytest.importorskip("tensorflow")
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import` raise ImportError
    monkeypatch.delenv("KWS_TFLITE_BACKEND", raising=False)
    model = load_model(tiny_models["window"])
    assert model.backend in ("tflite_runtime", "tensorflow")


def test_missing_model(tmp_path: Path) -> None:
    path = tmp_path / "nope.tflite"
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "no such model file" in one_line(exc, path)


def test_empty_and_non_tflite_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError) as exc:
        load_model(empty)
    assert "empty file" in one_line(exc, empty)
    text = tmp_path / "notes.tflite"
    text.write_text("these are not the weights you are looking for\n")
    with pytest.raises(ModelError) as exc:
        load_model(text)
    assert "not a TFLite model" in one_line(exc, text)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_model(tiny_models, tmp_path: Path, fraction: float) -> None:
    data = tiny_models["streaming"].read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelError) as exc:
        load_model(path)
    message = one_line(exc, path)
    assert "truncated" in message or "rejects the model" in message


def set_raw_metadata(data: bytes, raw: bytes | None) -> bytes:
    """The model with its kws_metadata entry replaced by ``raw`` bytes (or removed)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    model.metadata = [m for m in model.metadata if m.name not in (b"kws_metadata", "kws_metadata")]
    if raw is not None:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(raw, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = "kws_metadata"
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_model_without_metadata_is_refused_unless_a_sidecar_exists(tiny_models, tmp_path) -> None:
    md = read_metadata(tiny_models["window"])
    bare = set_raw_metadata(tiny_models["window"].read_bytes(), None)
    assert "kws_metadata" not in read_metadata_entries(bare)
    path = tmp_path / "bare.tflite"
    path.write_bytes(bare)
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "no kws metadata" in one_line(exc, path)
    path.with_suffix(".json").write_text(md.to_json())
    assert load_model(path).metadata == md


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"name": "x"}', "missing keys"),
        (b"[]", "must be an object"),
    ],
)
def test_invalid_embedded_metadata_names_the_problem(
    tiny_models, tmp_path: Path, raw: bytes, message: str
) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(set_raw_metadata(tiny_models["window"].read_bytes(), raw))
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert message in one_line(exc, path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window_frames": 50}, "input 'frames' has shape"),
        ({"labels": ("_background_", "chirp", "other")}, "lists 3 labels"),
        ({"input_name": "audio"}, "names input 'audio'"),
        ({"output_name": "probabilities"}, "names output 'probabilities'"),
    ],
)
def test_metadata_that_disagrees_with_the_tensors_is_refused(
    tiny_models, tmp_path: Path, change: dict, message: str
) -> None:
    md = read_metadata(tiny_models["window"])
    if "labels" in change:
        change = {**change, "thresholds": {"chirp": Threshold(0.5)}}
    path = tmp_path / "liar.tflite"
    write_model(path, tiny_models["window"].read_bytes(), dataclasses.replace(md, **change))
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert message in one_line(exc, path)


def test_streaming_metadata_on_a_window_model_is_refused(tiny_models, tmp_path: Path) -> None:
    streaming_md = read_metadata(tiny_models["streaming"])
    path = tmp_path / "mixed.tflite"
    write_model(path, tiny_models["window"].read_bytes(), streaming_md)
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "state_conv" in one_line(exc, path) or "shape" in str(exc.value)


def test_rewriting_metadata_keeps_the_model_runnable(tiny_models, tmp_path: Path) -> None:
    path = tmp_path / "copy.tflite"
    shutil.copy(tiny_models["streaming"], path)
    md = read_metadata(path)
    calibrated = md.with_thresholds({"chirp": Threshold(0.8, 0.5)})
    write_model(path, path.read_bytes(), calibrated)
    model = load_model(path)
    assert model.metadata.thresholds["chirp"] == Threshold(0.8, 0.5)
    assert len(model.runner().push(np.zeros((4, 40), np.float32))) == 2


@pytest.mark.parametrize("form", ["window", "streaming"])
def test_int8_models_run_with_quantized_inputs_outputs_and_state(tiny_models, form: str) -> None:
    float_model = load_model(tiny_models[form])
    int8_model = load_model(tiny_models[f"{form}_int8"])
    assert int8_model.metadata.quantization == "int8"
    assert int8_model.frames_port.dtype == np.int8 and int8_model.frames_port.quantized
    assert all(i.dtype == np.int8 for i, _ in int8_model.state_ports)
    md = float_model.metadata
    audio = load_audio(tiny_models["stream_wav"])[int(2.6 * 16000) : int(3.8 * 16000)]
    frames = compute_features(md.features, audio)[: md.window_frames]
    want = float_model.runner().push(frames)[-1][1]
    got = int8_model.runner().push(frames)[-1][1]
    np.testing.assert_allclose(got, want, atol=0.05)
    assert got[1] > 0.5
