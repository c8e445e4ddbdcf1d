"""Speaker-encoder training end to end on generated "speakers": voiced signals that differ in
pitch and formants (vocal-tract length). Both losses must separate held-out speakers after a few
seconds of training; the exported models load in the runtime and embed through kws.speaker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from kws.model import load_model
from kws.speaker import SpeakerEncoder, cosine
from kws.wavfile import load_audio, write_wav
from tests.speaker_voices import RATE, voice
from training.models import config_from_dict, get_model
from training.speaker.__main__ import main as train_main
from training.speaker.train import SpeakerTrainConfig, train

SPEAKERS = {
    "train": [(f0, tract) for f0 in (95, 130, 175, 230) for tract in (0.9, 1.15)],
    "validation": [(110, 1.05), (200, 0.95), (150, 1.25)],
    "test": [(120, 0.95), (185, 1.2), (260, 1.05)],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<split>/<speaker>/<n>.wav``: 8 training, 3 validation and 3 test speakers."""
    root = tmp_path_factory.mktemp("speakers")
    rng = np.random.default_rng(0)
    for split, speakers in SPEAKERS.items():
        for f0, tract in speakers:
            folder = root / split / f"f{f0}_t{tract}"
            folder.mkdir(parents=True)
            for n in range(8):
                write_wav(folder / f"{n}.wav", voice(f0, tract, rng.uniform(0.5, 1.2), rng), RATE)
    return root


def tiny_config(corpus: Path, loss: str, **overrides: object) -> SpeakerTrainConfig:
    values: dict = {
        "name": f"tiny_{loss}",
        "data": str(corpus),
        "loss": loss,
        "params": {
            "channels": [8, 16],
            "hidden_units": 32,
            "embedding_dim": 16,
            "window_frames": 32,
            "stride_frames": 16,
        },
        "features": {"nfilt": 24},
        "steps": 120,
        "eval_every": 60,
        "batch_speakers": 8,
        "batch_utterances": 3,
        "learning_rate": 0.003,
        "augment_copies": 0,
        "validation_trials": 200,
        "quantizations": ["float32", "int8"],
    }
    values.update(overrides)
    return SpeakerTrainConfig.from_dict(values)


@pytest.fixture(scope="module")
def runs(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for loss in ("triplet", "center"):
        run = tmp_path_factory.mktemp(loss)
        quantizations = ["float32", "int8"] if loss == "triplet" else ["float32"]
        fusion = {"cepstral_numcep": 8, "cohort_utterances": 4} if loss == "center" else {}
        train(tiny_config(corpus, loss, quantizations=quantizations, **fusion), run)
        out[loss] = run
    return out


def _test_eer(model_path: Path, corpus: Path) -> tuple[float, float]:
    """(mean same-speaker cosine - mean different-speaker cosine, fraction of test utterances
    whose nearest other utterance is the same speaker), over the held-out test speakers."""
    encoder = SpeakerEncoder(load_model(model_path))
    embs, who = [], []
    for folder in sorted((corpus / "test").iterdir()):
        for wav in sorted(folder.glob("*.wav")):
            embs.append(encoder.embed(load_audio(wav)))
            who.append(folder.name)
    e = np.stack(embs)
    sim = e @ e.T
    same = np.equal.outer(who, who)
    off = ~np.eye(len(who), dtype=bool)
    gap = float(sim[same & off].mean() - sim[~same].mean())
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argmax(sim, axis=1)
    return gap, float(np.mean([who[i] == who[j] for i, j in enumerate(nearest)]))


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["triplet", "center"])
def test_training_separates_held_out_generated_speakers(
    loss: str, runs: dict[str, Path], corpus: Path
) -> None:
    metrics = json.loads((runs[loss] / "metrics.json").read_text())
    assert metrics["validation_eer"] < 0.2, metrics
    assert sorted(metrics["speakers"]["test"]) == sorted(
        f"f{f0}_t{t}" for f0, t in SPEAKERS["test"]
    )
    gap, nearest = _test_eer(runs[loss] / f"tiny_{loss}_float32.tflite", corpus)
    assert gap > 0.2 and nearest > 0.8, (gap, nearest)


@pytest.mark.slow
def test_statistics_fused_at_the_validation_weight_and_scores_normalized_by_a_cohort(
    runs: dict[str, Path],
) -> None:
    metrics = json.loads((runs["center"] / "metrics.json").read_text())
    eers = metrics["fusion_validation_eers"]
    assert set(eers) == {"0", "0.25", "0.5", "0.75", "1", "1.5", "2"}
    weight = metrics["fusion_weight"]
    assert eers[f"{weight:g}"] == min(eers.values())
    model = load_model(runs["center"] / "tiny_center_float32.tflite")
    stats = model.metadata.cepstral_stats
    if weight == 0:
        assert stats is None and SpeakerEncoder(model).dim == 16
    else:
        assert stats is not None and stats.weight == weight and stats.numcep == 8
        assert SpeakerEncoder(model).dim == 16 + stats.dim
    triplet = json.loads((runs["triplet"] / "metrics.json").read_text())
    assert triplet["fusion_validation_eers"] == {} and triplet["fusion_weight"] == 0
    assert (
        load_model(runs["triplet"] / "tiny_triplet_float32.tflite").metadata.cepstral_stats is None
    )


@pytest.mark.slow
def test_untrained_encoder_does_not_separate_them(corpus: Path, tmp_path: Path) -> None:
    """The check above can fail: with the learning rate at ~0 the same model does not pass."""
    config = tiny_config(
        corpus, "triplet", steps=2, eval_every=1, learning_rate=1e-9, quantizations=["float32"]
    )
    train(config, tmp_path)
    gap, nearest = _test_eer(tmp_path / "tiny_triplet_float32.tflite", corpus)
    assert not (gap > 0.2 and nearest > 0.8)


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_exported_model_embeds_like_keras(
    quantization: str, runs: dict[str, Path], corpus: Path
) -> None:
    run = runs["triplet"]
    model = load_model(run / f"tiny_triplet_{quantization}.tflite")
    md = model.metadata
    assert md.task == "speaker" and md.labels == ("embedding",) and md.output_name == "embedding"
    assert md.quantization == quantization and not md.streaming
    assert 0.0 <= md.thresholds["embedding"].threshold <= 1.0
    assert md.training["held_out_speakers"]["test"]
    encoder = SpeakerEncoder(model)
    wav = next((corpus / "test").glob("*/0.wav"))
    emb = encoder.embed(load_audio(wav))
    assert emb.shape == (16,) and abs(float(np.linalg.norm(emb)) - 1) < 1e-5
    # The Keras model with the saved weights gives the same embedding (int8 within tolerance).
    config = tiny_config(corpus, "triplet")
    model_config = config_from_dict("speaker_encoder", config.params)
    keras_model = get_model("speaker_encoder").build(model_config, 24)
    keras_model.load_weights(run / "model.weights.h5")
    frames = encoder.frontend.compute(load_audio(wav))
    from kws.speaker import l2_normalize, windows_of

    windows = windows_of(frames, md.window_frames, md.stride_frames)
    expected = l2_normalize(l2_normalize(keras_model.predict(windows, verbose=0)).mean(axis=0))
    assert cosine(emb, expected) > (0.9999 if quantization == "float32" else 0.95)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loss": "arcface"}, "loss must be one of"),
        ({"source": "timit"}, "source must be one of"),
        ({"batch_speakers": 1}, "batch_speakers"),
        ({"target_far": 0}, "target_far"),
        ({"epochs": 3}, "unknown"),
        ({"cepstral_numcep": 1}, "cepstral_numcep must be 0 or 2..nfilt, got 1"),
        ({"cepstral_numcep": 25}, "cepstral_numcep must be 0 or 2..nfilt, got 25"),
        ({"fusion_weights": [0.0]}, "fusion_weights positive"),
        ({"cohort_utterances": -1}, "cohort_utterances must be >= 0"),
    ],
)
def test_config_errors_are_one_line(overrides: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        values = dict(overrides)
        tiny_config(tmp_path, str(values.pop("loss", "triplet")), **values)


def test_cli_reports_bad_data_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "speaker.toml"
    config.write_text(f'name = "s"\ndata = "{tmp_path / "missing"}"\n')
    assert train_main([str(config), "--out", str(tmp_path / "run")]) == 2
    assert "training.speaker: error:" in capsys.readouterr().err
    config.write_text("name = \n")
    assert train_main([str(config)]) == 2
    assert "cannot read training config" in capsys.readouterr().err


def test_model_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="channels"):
        config_from_dict("speaker_encoder", {"channels": [0]})
    with pytest.raises(ValueError, match="window_frames"):
        config_from_dict("speaker_encoder", {"channels": [8, 8, 8, 8], "window_frames": 8})
    with pytest.raises(ValueError, match="too few"):
        get_model("speaker_encoder").build(config_from_dict("speaker_encoder", {}), 4)


def test_window_mean_norm_ignores_a_fixed_channel_colouring() -> None:
    """With window_mean_norm, a constant per-band offset of the log-mel frames (a microphone's
    or a telephone line's fixed colouring) does not move the embedding."""
    config = config_from_dict(
        "speaker_encoder",
        {
            "channels": [8, 8],
            "window_frames": 32,
            "stride_frames": 16,
            "window_mean_norm": True,
            "stats_pooling": True,
        },
    )
    model = get_model("speaker_encoder").build(config, 16)
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(2, 32, 16)).astype(np.float32)
    tilt = np.linspace(-3.0, 3.0, 16, dtype=np.float32)
    plain, coloured = (np.asarray(model(x)) for x in (frames, frames + tilt))
    np.testing.assert_allclose(plain, coloured, atol=1e-4)
    assert not np.allclose(plain[0], plain[1], atol=1e-2)  # it still tells inputs apart
