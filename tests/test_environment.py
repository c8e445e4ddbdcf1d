"""Environmental sound classification: model configs, tiny training runs on generated
class-distinct sounds, fold cross-validation on ESC-50 and UrbanSound8K replicas, export to
TFLite (loaded by kws.model as task 'environment'), and the metrics."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from kws.model import load_model
from kws.wavfile import write_wav
from training.core import synthetic
from training.environment.__main__ import main as env_main
from training.environment.config import EnvConfig
from training.environment.data import Clips, eval_crops, load_clips
from training.environment.metrics import confusion, mean_roc_auc, roc_auc
from training.environment.run import (
    all_views,
    clip_crops,
    clip_scores,
    cross_validate,
    export,
    fit,
    keras_predict,
    tflite_predict,
)
from training.models import config_from_dict

KINDS = ("tone", "noise", "chirps")
"""Three generated classes that differ in every crop: a steady tone of random pitch, white or
pink noise, rising sweeps repeated every 0.25 s (levels random, over a faint noise floor)."""
TINY = {
    "vgg": {
        "channels": [8, 16], "convs_per_block": 1, "fc_units": 16, "dropout": 0.0,
        "window_frames": 48,
    },
    "squeezenet": {
        "stem_filters": 8, "squeeze": [4, 8], "expand": [8, 16], "pool_every": 1,
        "window_frames": 48,
    },
    "crnn": {
        "conv_filters": 8, "kernel": [5, 8], "stride": [4, 4], "rnn_layers": 1, "rnn_units": 16,
        "fc_units": 16, "window_frames": 48,
    },
    "dieleman": {"conv_filters": 16, "kernel": 4, "pool": 2, "fc_units": 16, "window_frames": 48},
}  # fmt: skip


def generated_sound(kind: str, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """One int16 clip of ``kind`` at 16 kHz."""
    n = round(seconds * synthetic.SAMPLE_RATE)
    t = np.arange(n) / synthetic.SAMPLE_RATE
    if kind == "tone":
        x = np.sin(2 * np.pi * rng.uniform(300, 3000) * t + rng.uniform(0, 2 * np.pi))
    elif kind == "noise":
        x = synthetic.white_noise(rng, n) if rng.random() < 0.5 else synthetic.pink_noise(rng, n)
        x = x / 3
    else:
        f0, f1, period = rng.uniform(300, 600), rng.uniform(2000, 4000), 0.25
        local = (t + rng.uniform(0, period)) % period
        x = np.sin(2 * np.pi * (f0 * local + 0.5 * (f1 - f0) / period * local**2))
    level = 32767 * 10 ** (rng.uniform(-30, -6) / 20)
    floor = synthetic.white_noise(rng, n) * level * 10 ** (-rng.uniform(25, 40) / 20)
    return np.clip(np.round(level * x + floor), -32768, 32767).astype(np.int16)


def generated_clips(per_class: int, folds: int, seed: int = 0) -> Clips:
    """1 s clips of each kind, spread evenly over ``folds`` folds."""
    rng = np.random.default_rng(seed)
    audio, labels = [], []
    for _ in range(per_class):
        for k, kind in enumerate(KINDS):
            audio.append(generated_sound(kind, rng))
            labels.append(k)
    n = len(audio)
    return Clips(
        audio=audio,
        labels=np.array(labels),
        folds=np.arange(n) // len(KINDS) % folds + 1,
        classes=KINDS,
        names=tuple(f"{i}.wav" for i in range(n)),
    )


def tiny_config(model: str, **changes: object) -> EnvConfig:
    values: dict = {
        "root": "unused", "model": model, "params": dict(TINY[model]), "epochs": 6,
        "batch_size": 16, "learning_rate": 0.005, "crops_per_clip": 2, "hop_frames": 16,
        "background_copies": 0, "mixup_alpha": 0.0, "cv_int8": False, "test_folds": (1,),
    }  # fmt: skip
    values.update(changes)
    return EnvConfig.from_dict(values)


@pytest.mark.parametrize(
    ("model", "values", "key"),
    [
        ("vgg", {"pool": [4, 4], "window_frames": 8}, "window_frames"),
        ("vgg", {"channels": [8, 0]}, "channels"),
        ("vgg", {"head": "relu"}, "head"),
        ("squeezenet", {"squeeze": [4], "expand": [8, 8]}, "squeeze and expand"),
        ("squeezenet", {"pool": [8, 2], "window_frames": 16}, "window_frames"),
        ("dieleman", {"kernel": 200}, "kernel"),
        ("dieleman", {"frontend": "wave"}, "frontend"),
        ("dieleman", {"frontend_length": 500, "frontend_stride": 256}, "frontend_length"),
        ("crnn", {"head": "tanh"}, "head"),
    ],
)
def test_config_errors_name_the_key(model: str, values: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        config_from_dict(model, values)


def test_pools_larger_than_the_features_fail_before_training() -> None:
    config = EnvConfig.from_dict(
        {"root": "x", "model": "vgg", "params": {"channels": [8] * 6}, "features": {"nfilt": 20}}
    )
    with pytest.raises(ValueError, match="larger than the input's 20 features"):
        config.model_config()
    with pytest.raises(ValueError, match="unknown keys: chanels"):
        EnvConfig.from_dict({"root": "x", "params": {"chanels": [8]}}).model_config()
    with pytest.raises(ValueError, match="hop_frames 200 exceeds"):
        EnvConfig.from_dict({"root": "x", "hop_frames": 200}).model_config()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "env.toml"
    path.write_text('root = "x"\nepochz = 3\n')
    assert env_main([str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"python -m training.environment: error: {path}: environment config has " + (
        "unknown keys: epochz"
    )


def test_metrics_on_hand_made_scores() -> None:
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(roc_auc(np.array([0.5, 0.6]), np.array([1, 1])))
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, 1])
    assert confusion(scores, labels, 2).tolist() == [[1, 0], [1, 1]]
    assert mean_roc_auc(scores, labels) == 1.0


def test_eval_crops_cover_the_active_part() -> None:
    view = np.arange(100, dtype=np.float32)[:, None]
    crops = eval_crops(view, active=70, window=30, hop=25)
    assert [int(c[0, 0]) for c in crops] == [0, 25, 40]
    assert len(eval_crops(view, active=10, window=30, hop=25)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vgg", "squeezenet", "crnn", "dieleman"])
def test_each_family_learns_generated_classes(model: str) -> None:
    clips = generated_clips(per_class=40, folds=4)
    result = cross_validate(tiny_config(model), clips)
    (fold,) = result["folds"]
    assert fold["test_clips"] == 30 and fold["train_clips"] == 90
    assert fold["accuracy"] >= 0.8, fold  # chance is 1/3
    assert fold["mean_roc_auc"] >= 0.9


@pytest.mark.slow
def test_sigmoid_head_and_raw_front_end_learn() -> None:
    clips = generated_clips(per_class=40, folds=4)
    sigmoid = cross_validate(tiny_config("vgg", params={**TINY["vgg"], "head": "sigmoid"}), clips)
    assert sigmoid["folds"][0]["mean_roc_auc"] >= 0.9
    raw = {**TINY["dieleman"], "frontend": "raw", "frontend_length": 320, "frontend_stride": 160}
    result = cross_validate(tiny_config("dieleman", params=raw, epochs=16), clips)
    # Learned filters start from noise and a strided filter samples its band at a random phase:
    # slower and noisier than log-mel (the paper's finding too), but clearly above chance (1/3).
    assert result["folds"][0]["accuracy"] >= 0.45, result["folds"]
    assert result["folds"][0]["mean_roc_auc"] >= 0.65, result["folds"]


def write_replica(root: Path, clips: Clips, layout: str) -> None:
    """The clips on disk in the ESC-50 or UrbanSound8K layout."""
    rows = []
    columns = zip(clips.audio, clips.labels, clips.folds, strict=True)
    for i, (audio, label, fold) in enumerate(columns):
        category = clips.classes[label]
        if layout == "esc50":
            name = f"{fold}-{i}-A-{label}.wav"
            write_wav(root / "audio" / name, audio, 16000)
            rows.append([name, fold, label, category, False, i, "A"])
        else:
            name = f"{i}-{label}-0-0.wav"
            (root / "audio" / f"fold{fold}").mkdir(parents=True, exist_ok=True)
            write_wav(root / "audio" / f"fold{fold}" / name, audio, 16000)
            rows.append([name, i, 0.0, 1.0, 1, fold, label, category])
    if layout == "esc50":
        meta, header = root / "meta/esc50.csv", ESC50_HEADER
    else:
        meta, header = root / "metadata/UrbanSound8K.csv", US8K_HEADER
    meta.parent.mkdir(parents=True, exist_ok=True)
    with open(meta, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


ESC50_HEADER = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
US8K_HEADER = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]


@pytest.mark.slow
def test_urbansound8k_replica_holds_out_each_fold(tmp_path: Path) -> None:
    clips = generated_clips(per_class=4, folds=3)
    (tmp_path / "audio").mkdir()
    write_replica(tmp_path, clips, "urbansound8k")
    loaded = load_clips("urbansound8k", tmp_path)
    assert sorted(set(loaded.folds.tolist())) == [1, 2, 3] and loaded.classes == tuple(
        sorted(KINDS)
    )
    config = tiny_config("dieleman", dataset="urbansound8k", epochs=1, test_folds=())
    result = cross_validate(config, loaded)
    assert [r["fold"] for r in result["folds"]] == [1, 2, 3]
    for row in result["folds"]:
        assert row["test_clips"] == int(np.sum(loaded.folds == row["fold"]))
        assert row["train_clips"] + row["test_clips"] == len(loaded.audio)
    assert np.array(result["confusion"]).sum() == len(loaded.audio)


@pytest.mark.slow
def test_cli_on_an_esc50_replica_writes_reports_and_models(tmp_path: Path) -> None:
    clips = generated_clips(per_class=10, folds=5)
    root = tmp_path / "esc50"
    (root / "audio").mkdir(parents=True)
    write_replica(root, clips, "esc50")
    config = tmp_path / "env.toml"
    config.write_text(
        f'root = "{root}"\nmodel = "vgg"\nepochs = 3\nbatch_size = 16\nhop_frames = 16\n'
        "background_copies = 1\ntest_folds = [2]\ncrops_per_clip = 2\n"
        "[params]\nchannels = [8, 16]\nconvs_per_block = 1\nfc_units = 16\nwindow_frames = 48\n"
    )
    out = tmp_path / "run"
    assert env_main([str(config), "--out", str(out)]) == 0
    cv = json.loads((out / "cv.json").read_text())
    assert [r["fold"] for r in cv["folds"]] == [2] and cv["folds"][0]["test_clips"] == 6
    assert "int8_accuracy" in cv["folds"][0]
    assert (out / "confusion.png").stat().st_size > 1000
    assert "| mean | 6 |" in (out / "cv.md").read_text()
    for quantization in ("float32", "int8"):
        model = load_model(out / f"environment_window_{quantization}.tflite")
        md = model.metadata
        assert md.task == "environment" and md.quantization == quantization
        assert md.labels == tuple(sorted(KINDS)) and set(md.thresholds) == set(md.labels)
        assert (md.window_frames, md.stride_frames, md.streaming) == (48, 16, False)
        assert md.training["head"] == "softmax" and "cv" in md.training
        scores, _ = model.invoke(np.zeros((48, 40), np.float32), [])
        assert scores.shape == (3,) and abs(float(scores.sum()) - 1.0) < 0.05
    # a final model trained apart from its CV gets the CV summary written into its metadata
    assert env_main([str(config), "--out", str(out), "--attach-cv", str(out / "cv.json")]) == 0
    training = load_model(out / "environment_window_int8.tflite").metadata.training
    assert training["cv_source"] == str(out / "cv.json")
    assert training["cv"]["fold_accuracy"] == [cv["folds"][0]["accuracy"]]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vgg", "squeezenet", "crnn", "dieleman"])
def test_every_family_exports_and_loads_as_an_environment_model(model: str, tmp_path: Path) -> None:
    clips = generated_clips(per_class=4, folds=2)
    config = tiny_config(model, epochs=1)
    rng = np.random.default_rng(0)
    views = all_views(config, clips, rng)
    trained = fit(config, clips, views, np.arange(len(clips.audio)), rng)
    crops = clip_crops(config, views, np.arange(4))
    reference = clip_scores(keras_predict(trained.model), crops)
    for quantization in ("float32", "int8"):
        data = export(trained, config, clips.classes, quantization, {"note": "test"}, rng)
        path = tmp_path / f"{model}_{quantization}.tflite"
        path.write_bytes(data)
        loaded = load_model(path)
        assert loaded.metadata.task == "environment"
        assert loaded.metadata.training["head"] == "softmax"
        scores = clip_scores(tflite_predict(data), crops)
        tolerance = 1e-4 if quantization == "float32" else 0.1
        np.testing.assert_allclose(scores, reference, atol=tolerance)


@pytest.mark.slow
def test_raw_audio_front_end_converts_and_runs_in_litert() -> None:
    from ai_edge_litert.interpreter import Interpreter

    clips = generated_clips(per_class=3, folds=2)
    params = {**TINY["dieleman"], "frontend": "raw", "frontend_length": 512}
    params["frontend_stride"] = 256
    config = tiny_config("dieleman", params=params, epochs=1)
    rng = np.random.default_rng(0)
    views = all_views(config, clips, rng)
    assert views.views[0][0].shape[1] == 256  # hops of raw samples, not features
    trained = fit(config, clips, views, np.arange(len(clips.audio)), rng)
    data = export(trained, config, clips.classes, "float32", {}, rng)
    interpreter = Interpreter(model_content=data)
    runner = interpreter.get_signature_runner()
    crop = views.views[0][0][None, :48]
    out = runner(frames=crop)["scores"]
    np.testing.assert_allclose(out, trained.model.predict(crop, verbose=0), atol=1e-4)
    metadata = dataclasses.replace(config, quantizations=("int8",))
    assert len(export(trained, metadata, clips.classes, "int8", {}, rng)) > 1000


def test_balanced_epochs_draw_rare_classes_as_often_as_common_ones() -> None:
    from training.environment.run import epoch_sample

    labels = np.array([0] * 90 + [1] * 10)
    rng = np.random.default_rng(0)
    chosen, crops = epoch_sample(labels, 4, balanced=True, rng=rng)
    assert crops == 1 and len(chosen) == 400
    share = np.mean(labels[chosen] == 1)
    assert 0.4 < share < 0.6  # 10 % of clips, about half of the crops
    every, crops = epoch_sample(labels, 4, balanced=False, rng=rng)
    assert crops == 4 and np.array_equal(every, np.arange(100))


def test_loudness_normalisation_sets_the_sounding_parts_level() -> None:
    from training.environment.data import normalize_loudness

    quiet = np.zeros(16000, dtype=np.int16)
    quiet[:8000] = (300 * np.sin(np.arange(8000) * 0.05)).astype(np.int16)  # then padding
    louder = normalize_loudness(quiet, -20.0).astype(np.float64) / 32768
    rms = np.sqrt(np.mean(louder[:8000] ** 2))
    assert abs(20 * np.log10(rms) - -20.0) < 0.1
    assert not np.any(louder[8000:])
    silent = np.zeros(100, dtype=np.int16)
    assert normalize_loudness(silent, -20.0) is silent
    spike = np.zeros(16000, dtype=np.int16)
    spike[0] = 1000  # reaching -20 dBFS RMS would clip: the peak is capped below full scale
    assert np.abs(normalize_loudness(spike, -20.0)).max() < 32767


def test_real_backgrounds_come_only_from_the_ambience_given() -> None:
    from training.environment.data import background_copy, real_background

    rng = np.random.default_rng(0)
    hum = (1000 * np.sin(np.arange(4000) * 0.3)).astype(np.int16)
    background = real_background([hum], 10000, rng)
    assert len(background) == 10000 and np.abs(background).max() > 0.02
    clip = (3000 * np.sin(np.arange(8000) * 0.01)).astype(np.int16)
    mixed = [background_copy(clip, rng, (0.0, 0.0), [hum]) for _ in range(20)]
    assert all(len(m) == len(clip) and m.dtype == np.int16 for m in mixed)
    assert not all(np.array_equal(m, clip) for m in mixed)


def test_config_rejects_a_loudness_outside_full_scale() -> None:
    with pytest.raises(ValueError, match="loudness_dbfs must be in"):
        EnvConfig(root="x", loudness_dbfs=3.0)


def test_random_channel_tilts_within_bounds_and_band_limits_half_the_crops() -> None:
    from training.environment.data import random_channel

    rng = np.random.default_rng(0)
    crop = np.zeros((40, 32), dtype=np.float32)
    crop[0, 0] = -5.0  # the crop's floor
    limit = 6.0 * np.log(10.0) / 10.0  # +-6 dB in natural-log power
    limited = 0
    for _ in range(200):
        out = random_channel(crop, 6.0, rng)
        assert out.shape == crop.shape and out.dtype == crop.dtype
        floor = out[:, -1] == out.min()
        if floor.all():
            limited += 1
            cutoff = int(np.argmax((out == out.min()).all(axis=0)))
            assert 16 <= cutoff < 32 and (out[:, cutoff:] == out.min()).all()
        else:
            assert np.abs(out[1:] - crop[1:]).max() <= limit / 2 + 1e-6
    assert 60 <= limited <= 140


def test_config_rejects_a_negative_channel() -> None:
    with pytest.raises(ValueError, match="channel_db must be in"):
        EnvConfig(root="x", channel_db=-1.0)
