"""training.core.ensemble: the mean of several networks as one .tflite scores, through the
runtime's own runner, as the mean of the networks shipped one by one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras

from kws.errors import KwsError
from kws.metadata import ModelMetadata, Threshold
from kws.model import Runner, load_model
from training.core.ensemble import _check_members, mean_graph, mean_metadata
from training.core.tflite import convert_graph, export_tflite, inference_graph
from training.core.tiny_models import FEATURES
from training.models import get_model
from training.models.crnn import CRNNConfig

CONFIG = CRNNConfig(
    conv_filters=4, kernel=(5, 8), stride=(2, 2), rnn_layers=2, rnn_units=6, cell="gru",
    fc_units=5, window_frames=24,
)  # fmt: skip
LABELS = ("_background_", "word")


def _member(seed: int, config: CRNNConfig = CONFIG) -> keras.Model:
    """An untrained window CRNN with its own random weights and input normalization."""
    keras.utils.set_random_seed(seed)
    window = get_model("crnn").build(config, FEATURES.num_features, len(LABELS))
    rng = np.random.default_rng(seed)
    window.get_layer("normalize").adapt(rng.normal(seed, 2.0, (4, 24, FEATURES.num_features)))
    return window


def _metadata(form: str) -> ModelMetadata:
    streaming = form == "streaming"
    return ModelMetadata(
        name="word", task="keyword", labels=LABELS, features=FEATURES,
        window_frames=CONFIG.window_frames, stride_frames=CONFIG.stride_t, streaming=streaming,
        quantization="float32", thresholds={"word": Threshold(0.5)},
        state_tensors=get_model("crnn").state_tensors(CONFIG) if streaming else (),
    )  # fmt: skip


def _scores(path: Path, frames: np.ndarray) -> np.ndarray:
    runner = Runner(load_model(path))
    return np.array([scores for _, scores in runner.push(frames)])


@pytest.mark.parametrize("form", ["streaming", "window"])
def test_the_mean_file_scores_as_the_mean_of_its_members(form: str, tmp_path: Path) -> None:
    members = [_member(seed) for seed in (1, 2, 3)]
    md = _metadata(form)
    alone = []
    for i, member in enumerate(members):
        path = tmp_path / f"member{i}.tflite"
        path.write_bytes(export_tflite(member, CONFIG, md, form, "float32"))
        alone.append(path)
    graphs = [inference_graph(member, CONFIG, form, "float32") for member in members]
    mean_md = mean_metadata([md] * 3, {"note": "three random networks"})
    mean = tmp_path / "mean.tflite"
    mean.write_bytes(convert_graph(mean_graph(graphs, [md] * 3), mean_md, form, "float32"))

    frames = np.random.default_rng(0).normal(0.0, 3.0, (200, FEATURES.num_features))
    frames = frames.astype(np.float32)
    each = [_scores(path, frames) for path in alone]
    assert min(np.abs(each[0] - each[1]).max(), np.abs(each[1] - each[2]).max()) > 1e-3
    np.testing.assert_allclose(_scores(mean, frames), np.mean(each, axis=0), atol=1e-5)
    loaded = load_model(mean).metadata
    assert loaded.training == {"note": "three random networks"}
    names = [s.input for s in loaded.state_tensors]
    if form == "streaming":  # every member's state under its own name, carried call to call
        assert len(names) == 3 * len(md.state_tensors) == len(set(names))
        assert names[0] == "m0_state_conv" and names[-1] == "m2_state_rnn1"
        assert [s.output for s in loaded.state_tensors][-1] == "m2_state_rnn1_out"
    else:
        assert names == []


def test_members_that_hear_other_frames_are_refused_in_one_line() -> None:
    md = _metadata("streaming")
    runs = [Path("runs/a"), Path("runs/b")]
    _check_members(runs, [md, md])
    other = replace(md, labels=("_background_", "other"), thresholds={"other": Threshold(0.5)})
    with pytest.raises(KwsError, match=r"^runs/b: its labels differ from runs/a's") as caught:
        _check_members(runs, [md, other])
    assert "\n" not in str(caught.value)
    with pytest.raises(KwsError, match="smoothing_s"):
        _check_members(runs, [md, replace(md, smoothing_s=0.3)])
    with pytest.raises(KwsError, match="at least two runs"):
        _check_members(runs[:1], [md])


def test_the_mean_quantizes_as_its_members_do(tmp_path: Path) -> None:
    """int8 weights, and full int8 calibrated on feature windows (each member's states fed
    call by call), stay within rounding of the float mean; one member's gates bounded
    (gate_max), as in a mean of a plain run and a bounded one."""
    spec = get_model("crnn")
    bounded = replace(CONFIG, gate_max=0.99)
    graphs = [
        spec.build_streaming(CONFIG, _member(1)),
        spec.build_streaming(bounded, _member(2, bounded)),
    ]
    rng = np.random.default_rng(0)
    windows = rng.normal(0.0, 3.0, (50, CONFIG.window_frames, FEATURES.num_features))
    frames = rng.normal(0.0, 3.0, (200, FEATURES.num_features)).astype(np.float32)
    scores = {}
    for quantization in ("float32", "int8_weights", "int8"):
        md = replace(_metadata("streaming"), quantization=quantization)
        path = tmp_path / f"{quantization}.tflite"
        graph = mean_graph(graphs, [md, md])
        path.write_bytes(
            convert_graph(graph, mean_metadata([md, md], {}), "streaming", quantization, windows)
        )
        scores[quantization] = _scores(path, frames)
    assert np.abs(scores["int8_weights"] - scores["float32"]).max() < 0.01
    assert np.abs(scores["int8"] - scores["float32"]).max() < 0.03


def _latching(seed: int, config: CRNNConfig = CONFIG) -> keras.Model:
    """A member whose GRUs' update gates sit at 1 - 5e-5: its state fades over hours of audio,
    as one okay_nabu run's did (stop 41), instead of within minutes."""
    window = _member(seed, config)
    for layer in window.layers:
        if isinstance(layer, keras.layers.GRU):
            kernel, recurrent, bias = layer.get_weights()
            bias[..., : recurrent.shape[0]] = 10.0  # Keras orders the gates z, r, h
            layer.set_weights([kernel, recurrent, bias])
    return window


def test_a_state_that_never_forgets_fails_the_build_naming_the_run(tmp_path: Path) -> None:
    """The build rule behind the soak test: a fresh runner must reach a long-running runner's
    state bit for bit within [ship] max_state_memory_s; for a mean, the error names each run
    whose own export never forgets, the one to leave out."""
    from training.core.ship import ShipOptions, memory_cell, memory_problems

    md = _metadata("streaming")
    runs = []
    for name, member in (("fades", _member(1)), ("latches", _latching(2))):
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "model.tflite").write_bytes(
            export_tflite(member, CONFIG, md, "streaming", "float32")
        )
        (run_dir / "metrics.json").write_text('{"files": {"streaming_float32": "model.tflite"}}')
        runs.append(run_dir)
    ship = ShipOptions(quantization="float32")
    seconds, problems = memory_problems(runs[0] / "model.tflite", runs[:1], ship)
    assert seconds is not None and 0 < seconds <= 540 and problems == []
    fades_s = seconds
    assert memory_cell(seconds, 540).startswith(
        f"identical to a long-running runner's {seconds:.0f} s"
    )
    # forgetting later than the limit fails too, saying when it forgot
    late, (problem,) = memory_problems(
        runs[0] / "model.tflite", runs[:1], replace(ship, max_state_memory_s=1.0)
    )
    assert late == seconds
    assert problem == (
        f"its streaming state is identical to a long-running runner's {seconds:.0f} s after a "
        "fresh start 60 s into the soak audio, later than the limit of 1 s"
    )
    seconds, problems = memory_problems(runs[1] / "model.tflite", runs[1:], ship)
    assert seconds is None
    (problem,) = problems
    assert problem == (
        "its streaming state is not identical to a long-running runner's within 540 s of a fresh "
        "start 60 s into the soak audio"
    )
    assert memory_cell(None, 0.0) == memory_cell(None, 540.0)  # the check off listens as long
    assert "runs whose" not in problem  # one run: the file is the run
    graphs = [
        inference_graph(m, CONFIG, "streaming", "float32") for m in (_member(1), _latching(2))
    ]
    mean = tmp_path / "mean.tflite"
    mean.write_bytes(
        convert_graph(
            mean_graph(graphs, [md] * 2), mean_metadata([md] * 2, {}), "streaming", "float32"
        )
    )
    seconds, (problem,) = memory_problems(mean, runs, ship)
    assert seconds is None
    assert problem.endswith(f"runs whose state does not forget within 540 s: {runs[1]}")
    assert memory_problems(mean, runs, replace(ship, max_state_memory_s=0.0))[1] == []
    # the scores differ as the states do: at first, and not at all once the states agree
    from benchmarks.state_memory import soak_frames, state_gap

    last, gaps, score_gaps = state_gap(
        load_model(runs[0] / "model.tflite"), soak_frames(FEATURES, 11.0), 6000
    )
    assert last == fades_s
    forgotten = round(last * FEATURES.sample_rate / FEATURES.frame_step / CONFIG.stride_t)
    assert len(score_gaps) == len(gaps) and max(score_gaps[:100]) > 0
    assert max(gaps[forgotten:]) == 0 and max(score_gaps[forgotten:]) == 0
    with pytest.raises(ValueError, match="max_state_memory_s must be >= 0"):
        ShipOptions(max_state_memory_s=-1)


def test_bounded_gates_make_a_latching_state_forget(tmp_path: Path) -> None:
    """[train.params] gate_max: the same saturated update gates, capped at 0.99, keep at most
    99 % of the state per step, so the exported file passes the build rule that the plain cell
    fails."""
    from training.core.ship import ShipOptions, memory_problems

    bounded = replace(CONFIG, gate_max=0.99)
    run_dir = tmp_path / "bounded"
    run_dir.mkdir()
    path = run_dir / "model.tflite"
    path.write_bytes(
        export_tflite(
            _latching(2, bounded), bounded, _metadata("streaming"), "streaming", "float32"
        )
    )
    seconds, problems = memory_problems(path, [run_dir], ShipOptions(quantization="float32"))
    assert problems == [] and seconds is not None and 0 < seconds <= 540
