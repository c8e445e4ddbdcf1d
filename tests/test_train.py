"""training.train end to end on a tiny generated corpus: trains, exports four forms that load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.model import load_model
from training.data.corpus import CorpusConfig
from training.data.generate import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train_corpus")
    config = CorpusConfig(
        keyword="hey jarvis", positives=120, confusables=40, speech=40, noise=30, music=20,
        silence=10, eval_positives=0, eval_negative_hours=0, engines=("espeak-ng", "flite"),
    )  # fmt: skip
    generate(config, out, workers=2)
    return out


def test_train_exports_every_form_with_metadata(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'name = "jarvis_tiny"\ncorpus = "{corpus}"\nepochs = 3\n'
        "[params]\nconv_filters = 8\nkernel = [10, 5]\nstride = [4, 2]\nrnn_layers = 1\n"
        "rnn_units = 16\nfc_units = 16\nwindow_frames = 144\n"
    )
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "training.train", str(config), "--out", str(out)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5
    for name in metrics["files"].values():
        model = load_model(out / name)
        md = model.metadata
        assert md.name == "jarvis_tiny" and md.labels == ("_background_", "hey_jarvis")
        assert md.window_frames == 144 and md.stride_frames == 4
        assert md.training["metrics"]["params"] == metrics["params"]
    assert len(metrics["files"]) == 4
    assert json.loads((out / "config.json").read_text())["epochs"] == 3
    done = subprocess.run(
        [sys.executable, "-m", "training.export", str(out), "--form", "streaming",
         "--quantization", "int8_weights"],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    hybrid = load_model(out / "jarvis_tiny_streaming_int8_weights.tflite")
    assert hybrid.metadata.quantization == "int8_weights"
    assert hybrid.frames_port.dtype == np.float32
    assert all(i.dtype == np.float32 for i, _ in hybrid.state_ports)
    assert (out / "jarvis_tiny_streaming_int8_weights.tflite").stat().st_size < (
        out / "jarvis_tiny_streaming_float32.tflite"
    ).stat().st_size


def test_bad_config_fails_before_training_and_names_the_key(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f'name = "x"\ncorpus = "{corpus}"\nepochz = 3\n')
    done = subprocess.run(
        [sys.executable, "-m", "training.train", str(config)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 2 and "epochz" in done.stderr
    config.write_text(
        f'name = "x"\ncorpus = "{corpus}"\n[params]\nkernel = [200, 5]\nwindow_frames = 144\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "training.train", str(config)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 2 and "kernel" in done.stderr
