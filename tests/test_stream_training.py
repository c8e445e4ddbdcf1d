"""Training for what the runtime does: clips laid end to end with a label at every model step,
model choice on the validation streams, and hard-negative mining rounds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.core.mining import mined_label, peaks
from training.core.sequences import SequenceConfig, make_sequences, step_labels
from training.data.augment import SpecMasks

HOP_S = 0.01


def test_keyword_steps_follow_the_clip_end_and_the_keyword_itself_is_background() -> None:
    config = SequenceConfig(clips=8, fire_s=(-0.05, 0.25), ignore_s=(-0.45, 0.5))
    x = np.zeros((8, 16, 3), dtype=np.float32)
    x[:, 0, 0] = np.arange(8)  # tags each clip
    y = np.array([0, 0, 0, 0, 0, 1, 0, 0])
    rng = np.random.default_rng(0)
    features, labels, weights = make_sequences(x, y, config, 4, HOP_S, rng)
    assert features.shape == (1, 128, 3) and labels.shape == weights.shape == (1, 32)
    position = int(np.flatnonzero(features[0, ::16, 0] == 5)[0])
    end = (position + 1) * 4 - 1  # the step that ends with the keyword clip's last frame
    # steps are 40 ms apart: offsets -11..12 around it are the ignore span, -1..6 fire
    fired = np.flatnonzero(labels[0] == 1)
    assert list(fired) == [s for s in range(end - 1, end + 7) if s < 32]
    assert np.all(weights[0, fired] == pytest.approx(4 / 8))  # a keyword clip weighs one clip
    for step in range(end - 11, end + 13):
        if 0 <= step < 32 and step not in fired:
            assert weights[0, step] == 0 and labels[0, step] == 0
    for step in (end - 12, end + 13):  # the keyword's first syllable, and later: background
        if 0 <= step < 32:
            assert labels[0, step] == 0 and weights[0, step] == 1


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    clips=st.integers(1, 6),
    stride=st.sampled_from([2, 4, 8]),
    seed=st.integers(0, 2**16),
)
def test_every_clip_is_used_and_every_keyword_fires(
    n: int, clips: int, stride: int, seed: int
) -> None:
    frames = stride * 6
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, frames, 2)).astype(np.float32)
    x[:, 0, 0] = np.arange(n)  # tags each clip
    y = rng.integers(0, 3, size=n)
    config = SequenceConfig(clips=clips, fire_s=(0.0, 0.02), ignore_s=(-0.1, 0.1))
    features, labels, weights = make_sequences(x, y, config, stride, HOP_S, rng)
    tags = features[:, ::frames, 0].ravel().astype(int)
    assert set(tags) == set(range(n)) and len(tags) == len(labels) * clips
    per_clip = frames // stride
    for k, tag in enumerate(tags):
        s, c = divmod(k, clips)
        if y[tag]:  # the step ending with the clip fires with the clip's label
            assert labels[s, (c + 1) * per_clip - 1] == y[tag]
            assert weights[s, (c + 1) * per_clip - 1] > 0
    assert set(np.unique(labels)) <= set(np.unique(y)) | {0}


def test_sequences_carry_the_recipes_masks_and_none_without() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 32, 40)).astype(np.float32)
    y = np.zeros(6, dtype=int)
    config = SequenceConfig(clips=3)
    plain, _, _ = make_sequences(x, y, config, 4, HOP_S, np.random.default_rng(1))
    assert set(map(bytes, plain.reshape(-1, 32, 40))) == set(map(bytes, x))
    masked, _, _ = make_sequences(
        x, y, config, 4, HOP_S, np.random.default_rng(1), SpecMasks(time_masks=0, freq_masks=1)
    )
    changed = [not any(np.array_equal(c, e) for e in x) for c in masked.reshape(-1, 32, 40)]
    assert all(changed)  # every clip had a band masked with its mean


def test_sequence_config_errors_name_the_table() -> None:
    with pytest.raises(ValueError, match=r"\[train.sequences\] fire_s"):
        SequenceConfig(fire_s=(0.3, 0.1))
    with pytest.raises(ValueError, match="holds no model step"):
        step_labels(SequenceConfig(fire_s=(0.001, 0.002), ignore_s=(0, 0.1)), 8, HOP_S)


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=0, max_size=200),
    spacing=st.integers(1, 20),
)
def test_mined_peaks_are_apart_and_highest_first(scores: list[float], spacing: int) -> None:
    values = np.asarray(scores)
    found = peaks(values, 0.3, spacing)
    assert all(values[i] >= 0.3 for i in found)
    assert all(abs(int(a) - int(b)) >= spacing for i, a in enumerate(found) for b in found[:i])
    assert list(values[found]) == sorted(values[found], reverse=True)
    if len(values) and values.max() >= 0.3:
        assert values[found[0]] == values.max()


def test_mined_windows_train_as_other_words_in_a_command_model() -> None:
    # Mined real speech is "something else said": a command model must not learn it as
    # _silence_, which its label order puts first.
    commands = ["_silence_", "_unknown_", "yes", "no"]
    assert commands[mined_label(commands)] == "_unknown_"
    wake_word = ["_background_", "hey_jarvis"]
    assert wake_word[mined_label(wake_word)] == "_background_"


@pytest.mark.parametrize(("stride", "window"), [(3, 144), (4, 144), (6, 400), (8, 144)])
def test_chunks_are_30_s_warmed_up_on_3_s_and_a_window_in_whole_strides(
    stride: int, window: int
) -> None:
    from training.core.stream_scores import ChunkPlan

    plan = ChunkPlan.for_model(stride, window)
    assert plan.body_frames % stride == 0 and plan.warmup_frames % stride == 0
    assert 3000 <= plan.body_frames < 3000 + stride
    assert max(300, window) <= plan.warmup_frames < max(300, window) + stride


@pytest.mark.slow
def test_step_scores_cut_long_audio_into_warmed_up_chunks() -> None:
    pytest.importorskip("tensorflow")
    from training.core.stream_scores import ChunkPlan, step_scores
    from training.models import get_model
    from training.models.crnn import CRNNConfig

    config = CRNNConfig(
        conv_filters=3, kernel=(4, 3), stride=(2, 2), rnn_layers=1, rnn_units=4, fc_units=4,
        window_frames=8,
    )  # fmt: skip
    model = get_model("crnn").build_sequence(config, 6, 2)
    features = np.random.default_rng(0).normal(size=(101, 6)).astype(np.float32)
    plan = ChunkPlan(2, body_frames=20, warmup_frames=10)
    got = step_scores(model, features, plan)
    assert got.shape == (50, 2)  # the partial last stride is dropped, as the runtime waits
    np.testing.assert_allclose(got[:10], model(features[None, :20]).numpy()[0], atol=1e-6)
    later = model(features[None, 30:60]).numpy()[0][5:]  # chunk 3: 10 warm-up frames, 20 kept
    np.testing.assert_allclose(got[20:30], later, atol=1e-6)
    short = step_scores(model, features[:16], ChunkPlan(2, body_frames=400, warmup_frames=40))
    np.testing.assert_allclose(short, model(features[None, :16]).numpy()[0], atol=1e-6)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_eval_sets import write_recordings
    from training.data.corpus import CorpusConfig
    from training.data.generate import generate

    root = tmp_path_factory.mktemp("stream_corpus")
    write_recordings(root / "recordings")
    config = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), positives=60, confusables=20, speech=20,
        noise=20, music=10, silence=10, recorded=20, recordings=str(root / "recordings"),
        eval_positives=6, eval_negative_hours=0.02, eval_sentences=4, eval_confusables=2,
        eval_snrs_db=(10.0,),
    )  # fmt: skip
    generate(config, root / "corpus", workers=2)
    return root / "corpus"


CRNN = (
    "[params]\nconv_filters = 4\nkernel = [8, 5]\nstride = [4, 2]\nrnn_layers = 1\n"
    "rnn_units = 8\nfc_units = 8\nwindow_frames = 144\n"
)
DSCNN = (
    'model = "dscnn"\n[params]\nfilters = 8\nkernel = 6\nstride_t = 6\nblock_filters = [8, 8]\n'
    "block_kernels = [3, 3]\nblock_dilations = [1, 2]\nwindow_frames = 144\n"
)


def _train(
    corpus: Path, tmp_path: Path, extra: str, model: str = CRNN, top: str = ""
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "seq.toml"
    config.write_text(
        f'name = "seq"\ncorpus = "{corpus}"\nepochs = 2\nexamples = "sequences"\n'
        'forms = ["streaming"]\nquantizations = ["float32"]\n' + top + model + extra
    )
    return subprocess.run(
        [sys.executable, "-m", "training.train", str(config), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.slow
def test_sequence_training_chooses_on_validation_streams_and_mines(
    corpus: Path, tmp_path: Path
) -> None:
    done = _train(
        corpus, tmp_path,
        "[sequences]\nclips = 4\n[mining]\nrounds = 1\nwindows = 15\nmin_score = 0.0\nepochs = 1\n",
        top="weight_average = 0.99\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["selection"]["selected_by"] == "validation streams FRR"
    assert metrics["selection"]["examples"] == "sequences"
    assert metrics["selection"]["weights"] == "moving average, decay 0.99 per update"
    assert metrics["selection"]["epochs_trained"] == 3
    history = json.loads((run / "history.json").read_text())
    assert [r["round"] for r in history] == [0, 0, 1]
    for row in history:  # every epoch was scored on the validation streams
        frr = row["val_frr"]["hey_jarvis"]
        assert set(frr) == {"0.5", "1", "2", "4"}  # validation.choose_at and the target
        assert all(v is None or 0 <= v <= 1 for v in frr.values())
    rounds = json.loads((run / "rounds.json").read_text())
    assert len(rounds) == 2 and rounds[0]["mined"] == {}
    mined = rounds[1]["mined"]
    assert 0 < mined["mined"] <= 15 and mined["hours"] > 0
    assert rounds[1]["train_clips"] == rounds[0]["train_clips"] + mined["mined"]
    from kws.model import load_model

    model = load_model(run / metrics["files"]["streaming_float32"])
    assert model.metadata.streaming and model.metadata.training["metrics"]["selection"]


@pytest.mark.slow
def test_a_finished_run_given_a_mining_round_goes_on_from_its_best_checkpoint(
    corpus: Path, tmp_path: Path
) -> None:
    """A mining round is minutes, the first pass much longer: the same run with more rounds
    resumes the finished one instead of training again, as often as rounds are added."""
    mining = "[sequences]\nclips = 4\n[mining]\nwindows = 5\nmin_score = 0.0\nepochs = 1\n"
    first = _train(corpus, tmp_path, mining + "rounds = 0\n")
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    assert len(json.loads((run / "rounds.json").read_text())) == 1

    more = _train(corpus, tmp_path, mining + "rounds = 1\n")
    assert more.returncode == 0, more.stderr[-3000:]
    assert "(finished, best: epoch" in more.stdout and "mining rounds 1-1 follow" in more.stdout
    assert "round 0)" not in more.stdout  # the first pass is not trained again
    history = json.loads((run / "history.json").read_text())
    assert [(r["epoch"], r["round"]) for r in history] == [(1, 0), (2, 0), (3, 1)]
    rounds = json.loads((run / "rounds.json").read_text())
    assert len(rounds) == 2 and 0 < rounds[1]["mined"]["mined"] <= 5

    # and again: round 2 trains on round 1's windows too, which the finished run kept
    again = _train(corpus, tmp_path, mining + "rounds = 2\n")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "mining rounds 2-2 follow" in again.stdout and "round 1)" not in again.stdout
    rounds = json.loads((run / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert rounds[2]["train_clips"] == (
        rounds[0]["train_clips"] + rounds[1]["mined"]["mined"] + rounds[2]["mined"]["mined"]
    )

    other = _train(corpus, tmp_path, mining.replace("windows = 5", "windows = 6") + "rounds = 1\n")
    assert other.returncode == 0 and "made with another config" in other.stdout


@pytest.mark.slow
def test_dscnn_trains_on_sequences_and_mines(corpus: Path, tmp_path: Path) -> None:
    """The DS-CNN's sequence form (training.models.dscnn) carries the same loop: sequences,
    choice on the validation streams, a mining round."""
    extra = "[sequences]\nclips = 4\n[mining]\nrounds = 1\nwindows = 5\nmin_score = 0.0\n"
    done = _train(corpus, tmp_path, extra + "epochs = 1\n", model=DSCNN)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["selection"]["selected_by"] == "validation streams FRR"
    assert metrics["selection"]["examples"] == "sequences"
    rounds = json.loads((tmp_path / "run" / "rounds.json").read_text())
    assert len(rounds) == 2 and 0 < rounds[1]["mined"]["mined"] <= 5
    from kws.model import load_model

    model = load_model(tmp_path / "run" / metrics["files"]["streaming_float32"])
    assert model.metadata.training["config"]["model"] == "dscnn"
    assert model.metadata.stride_frames == 6 and model.metadata.streaming


@pytest.mark.slow
def test_mining_without_recordings_fails_before_training(tmp_path: Path) -> None:
    from training.data.corpus import CorpusConfig
    from training.data.generate import generate

    config = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), positives=6, confusables=2, speech=2,
        noise=2, music=2, silence=2, eval_positives=0, eval_negative_hours=0,
    )  # fmt: skip
    generate(config, tmp_path / "corpus", workers=2)
    done = _train(tmp_path / "corpus", tmp_path, "[mining]\nrounds = 1\n")
    assert done.returncode == 2
    assert "needs a corpus made with --recordings" in done.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_checkpoint_choice_averages_frr_over_several_false_accept_rates() -> None:
    from training.core.config import TrainConfig
    from training.core.fit import ValidationConfig, _frr_key

    # Lucky at 1 FA/h (its one highest negative peak happened to be low), worse everywhere else.
    lucky = {"kw": {"0.5": 0.6, "1": 0.2, "2": 0.5, "4": 0.5}}
    steady = {"kw": {"0.5": 0.3, "1": 0.25, "2": 0.2, "4": 0.1}}
    averaged = ValidationConfig()
    assert averaged.targets() == (0.5, 1.0, 2.0, 4.0)
    assert _frr_key(steady, averaged) < _frr_key(lucky, averaged)
    single = ValidationConfig(choose_at=())
    assert single.targets() == (0.5, 1.0)
    assert _frr_key(lucky, single) < _frr_key(steady, single)
    unreachable = {"kw": {"0.5": None, "1": 0.2, "2": 0.2, "4": 0.2}}
    assert _frr_key(unreachable, averaged)[0] == pytest.approx((1.0 + 0.6) / 4)

    config = TrainConfig.from_dict(
        {"name": "x", "corpus": "c", "validation": {"choose_at": [1, 3]}}
    )
    assert config.validation.choose_at == (1.0, 3.0)
    with pytest.raises(ValueError, match="choose_at"):
        ValidationConfig(choose_at=(0.0,))


def _resumable_config(corpus: Path, path: Path) -> Path:
    path.write_text(
        f'name = "seq"\ncorpus = "{corpus}"\nepochs = 3\nweight_average = 0.99\n'
        'forms = ["streaming"]\nquantizations = ["float32"]\n' + CRNN
        + "[validation]\nmin_epochs = 0\nlr_patience = 1\npatience = 0\n"
        + "[mining]\nrounds = 1\nwindows = 5\nmin_score = 0.0\nepochs = 2\n"
    )  # fmt: skip
    return path


@pytest.mark.slow
def test_a_killed_training_resumes_where_it_stopped_and_ends_as_if_never_stopped(
    corpus: Path, tmp_path: Path
) -> None:
    """A session's stop kills training with SIGKILL: started again into the same folder it goes
    on from the last finished epoch (model, optimizer, weight average, best checkpoint, mining
    round) and writes what an uninterrupted run writes."""
    import signal

    config = _resumable_config(corpus, tmp_path / "resume.toml")

    def command(out: Path) -> list[str]:
        return [sys.executable, "-u", "-m", "training.train", str(config), "--out", str(out)]

    whole = subprocess.run(command(tmp_path / "whole"), capture_output=True, text=True, timeout=900)
    assert whole.returncode == 0, whole.stderr[-3000:]

    out = tmp_path / "stopped"
    process = subprocess.Popen(
        command(out), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("epoch 4 (round 1)"):  # after the mining round's first epoch
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (out / "checkpoint.npz").is_file() and not (out / "metrics.json").exists()

    without = tmp_path / "without_mined"  # the round's hard negatives lost: one line, no guess
    shutil.copytree(out, without)
    (without / "mined_round1.npz").unlink()
    lost = subprocess.run(command(without), capture_output=True, text=True, timeout=900)
    assert lost.returncode == 2
    (line,) = lost.stderr.strip().splitlines()[-1:]
    assert f"{without}: mined_round1.npz is missing; remove {without / 'checkpoint.npz'}" in line

    resumed = subprocess.run(command(out), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {out / 'checkpoint.npz'} (after epoch" in resumed.stdout
    assert "epoch 1 (round 0)" not in resumed.stdout  # nothing trained twice

    def read(run: Path, name: str) -> Any:
        return json.loads((run / name).read_text())

    ran, again = read(tmp_path / "whole", "history.json"), read(out, "history.json")
    assert [r["epoch"] for r in again] == [1, 2, 3, 4, 5] == [r["epoch"] for r in ran]
    for a, b in zip(ran, again, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["learning_rate"] == a["learning_rate"] and b["val_frr"] == a["val_frr"]
    assert (
        read(out, "rounds.json")[1]["mined"] == read(tmp_path / "whole", "rounds.json")[1]["mined"]
    )
    kept, whole_metrics = read(out, "metrics.json"), read(tmp_path / "whole", "metrics.json")
    assert kept["selection"] == whole_metrics["selection"]
    assert kept["test_accuracy"] == pytest.approx(whole_metrics["test_accuracy"])
    # the finished run keeps its hard negatives (more rounds would train on them), the same
    # windows as the run that was never stopped
    with np.load(out / "mined_round1.npz") as a, np.load(tmp_path / "whole/mined_round1.npz") as b:
        assert np.array_equal(a["windows"], b["windows"])

    again_log = subprocess.run(command(out), capture_output=True, text=True, timeout=900)
    assert again_log.returncode == 0 and "(finished, best: epoch" in again_log.stdout
    assert "epoch 5 (round 1)" not in again_log.stdout


def test_a_checkpoint_restores_only_into_variables_of_its_shapes() -> None:
    """A checkpoint of the same config made by other code (another model's layers) restores
    nothing rather than half the model."""
    keras = pytest.importorskip("keras")
    from training.core.checkpoint import assign_all

    variables = [keras.Variable(np.zeros((2, 3))), keras.Variable(np.zeros(3))]
    assert not assign_all(variables, [np.ones((2, 3))])  # one array short
    assert not assign_all(variables, [np.ones((2, 3)), np.ones(4)])  # a shape differs
    assert not np.asarray(variables[0]).any()  # nothing assigned
    assert assign_all(variables, [np.ones((2, 3)), np.full(3, 2.0)])
    np.testing.assert_array_equal(np.asarray(variables[1]), [2.0, 2.0, 2.0])


def test_a_checkpoint_of_another_config_or_a_broken_one_starts_over(tmp_path: Path) -> None:
    from training.core.checkpoint import Checkpoint, LoopState

    saved = Checkpoint(tmp_path, "a")
    state = LoopState("a", epoch_total=2, history=[{"epoch": 1}, {"epoch": 2}])
    saved.save(state, {"model": [np.ones(3)], "best": [np.zeros(2)]})
    loaded = Checkpoint(tmp_path, "a").load()
    assert loaded is not None and loaded[0] == state
    np.testing.assert_array_equal(loaded[1]["model"][0], np.ones(3))
    assert loaded[1]["optimizer"] == [] and loaded[1]["best"][0].shape == (2,)
    assert Checkpoint(tmp_path, "b").load() is None  # another config's
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 truncated")
    assert Checkpoint(tmp_path, "a").load() is None


def test_the_card_counts_epochs_against_each_rounds_ceiling() -> None:
    """A run with a mining round trains past ``epochs`` (each round has its own ceiling): the
    card said "28 of up to 24 epochs"."""
    from training.core.config import TrainConfig
    from training.core.mining import MiningConfig
    from training.core.ship import training_cell

    metrics = {"selection": {"epochs_trained": 28, "best_epoch": 24}, "train_seconds": 9.0}
    mined = TrainConfig(name="x", corpus="c", epochs=24, mining=MiningConfig(rounds=1))
    assert training_cell(mined, metrics).startswith(
        "28 epochs over a first pass and 1 mining round (at most 24 in the first pass, 24 in "
        "the round), checkpoint of epoch 24"
    )
    two = TrainConfig(name="x", corpus="c", epochs=24, mining=MiningConfig(rounds=2, epochs=6))
    assert "and 2 mining rounds (at most 24 in the first pass, 6 in each round)" in training_cell(
        two, metrics
    )
    plain = TrainConfig(name="x", corpus="c", epochs=24)
    metrics["selection"]["epochs_trained"] = 13
    assert training_cell(plain, metrics).startswith("13 of up to 24 epochs")


def test_the_card_of_a_mean_names_what_its_runs_do_not_share() -> None:
    """A mean of runs trained with different settings (one with bounded gates) says so; the
    card used to print the first run's settings as if they were every run's."""
    from training.core.config import TrainConfig
    from training.core.ship import model_cell

    train = TrainConfig(name="x", corpus="c", params={"rnn_units": 32, "cell": "gru"})
    members = [
        {"seed": 0, "params": {"rnn_units": 32, "cell": "gru"}},
        {"seed": 3, "params": {"rnn_units": 32, "cell": "gru", "gate_max": 0.99}},
    ]
    assert model_cell(train, {"params": 9, "members": members}) == (
        "mean of 2 x crnn (cell=gru, rnn_units=32; seed 3: gate_max=0.99); 9 parameters"
    )
    same = [{"seed": s, "params": {"rnn_units": 32, "cell": "gru"}} for s in (0, 1)]
    assert model_cell(train, {"params": 9, "members": same}) == (
        "mean of 2 x crnn (cell=gru, rnn_units=32); 9 parameters"
    )
    assert model_cell(train, {"params": 9}) == "crnn (cell=gru, rnn_units=32); 9 parameters"


def test_the_card_counts_false_accepts_in_words() -> None:
    from training.core.ship import fa_cell

    one = fa_cell({"fa_per_hour": 0.16, "false_accepts": 1}, 6.07)
    assert one.startswith("0.16 FA/h (1 false accept in 6.07 h; 95 % interval 0.00-")
    assert "(4 false accepts in 1.83 h; 95 % interval 0.60-5.60)" in fa_cell(
        {"fa_per_hour": 2.19, "false_accepts": 4}, 1.83
    )


def test_the_card_names_the_frontend_its_cpu_cost_ran_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compiled frontend the same model costs about 1.6x as much CPU; a card
    measured that way must say so (stop 43 shipped through a worktree without it at first)."""
    import kws.features.frontend as frontend
    from training.core.ship import cost_cell

    monkeypatch.setattr(frontend, "native_available", lambda: True)
    assert cost_cell(3.76) == (
        "| CPU cost | 3.8 CPU-s per audio hour (frontend + model, 20 ms blocks, native frontend) |"
    )
    monkeypatch.setattr(frontend, "native_available", lambda: False)
    assert "6.2 CPU-s per audio hour (frontend + model, 20 ms blocks, numpy fallback frontend)" in (
        cost_cell(6.2)
    )
