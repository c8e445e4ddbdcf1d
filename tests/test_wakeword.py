"""training.wakeword: phrase in, calibrated model and model card out, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kws.model import load_model
from training.core.recipes import load_recipe
from training.data.wake_recipes import DEFAULT_RECIPE
from training.wakeword import plan

TINY = [
    "corpus.positives=100", "corpus.confusables=30", "corpus.speech=30", "corpus.noise=20",
    "corpus.music=10", "corpus.silence=10", "corpus.eval_positives=6", "corpus.eval_snrs_db=[10]",
    "corpus.eval_negative_hours=0.01", "corpus.eval_sentences=10", "corpus.eval_confusables=6",
    "corpus.engines=['espeak-ng', 'flite']", "corpus.other_wake_words=['alexa']",
    "corpus.eval_other_wake_words=4", "train.epochs=3", "train.params.conv_filters=8",
    "train.params.kernel=[10, 5]",
    "train.params.stride=[4, 2]", "train.params.rnn_layers=1", "train.params.rnn_units=16",
    "train.params.fc_units=16", "ship.cost_minutes=0.5", "ship.calibrate_confidence=0",
]  # fmt: skip
NO_LIMIT = "ship.max_test_fa_per_hour=1e9"
"""36 s of test negatives make one false accept 100 FA/h: the tiny model's build rule is off
except where a test checks it."""


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("corpus.positivez=3", "positivez"),
        ("train.epochz=3", "epochz"),
        ("train.name='x'", "name"),
        ("train.params.kernel=[10, 80]", "features"),
        ("ship.form='sideways'", "form"),
        ("ship.calibrate_confidence=0.3", "calibrate_confidence"),
        ("extra.x=1", "extra"),
        ("corpus.augment.reverb=1", "reverb"),
        ("corpus.augment.real_rir_p=2", "real_rir_p"),
        ("corpus.augment=1", "must be a table"),
    ],
)
def test_bad_recipes_fail_before_any_work(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        plan("hey computer", load_recipe(DEFAULT_RECIPE, [override]), tmp_path)


def test_the_recipe_sets_the_augmentation(tmp_path: Path) -> None:
    overrides = ["corpus.augment.late_reverb=true", "corpus.augment.rt60_s=[0.2, 1.5]"]
    corpus, _, _ = plan("hey computer", load_recipe(DEFAULT_RECIPE, overrides), tmp_path)
    assert corpus.augment.late_reverb and corpus.augment.rt60_s == (0.2, 1.5)


def test_default_recipe_plans_the_shipped_export(tmp_path: Path) -> None:
    corpus, train, ship = plan("Hey  Computer", load_recipe(DEFAULT_RECIPE, []), tmp_path)
    assert corpus.label == "hey_computer" and train.name == "hey_computer"
    assert ship.form in train.forms and ship.quantization in train.quantizations
    assert train.corpus == str(tmp_path)


def test_rendering_the_corpus_alone_renders_the_phrases_recipe(tmp_path: Path) -> None:
    """``training.data generate`` leaves to the phrase's recipe what its options leave out
    (pronunciation, other wake words, rooms), so the folder it renders is the one
    ``training.wakeword`` would render and then accepts."""
    from training.data.__main__ import build_parser, wake_word_corpus
    from training.data.wake_recipes import recipe_for

    def rendered(*options: str) -> object:
        args = ["generate", "--keyword", "hey mycroft", "--out", "o", *options]
        return wake_word_corpus(build_parser().parse_args(args))

    recipe = load_recipe(recipe_for("hey mycroft"), [])
    corpus, _, _ = plan("hey mycroft", recipe, tmp_path)
    alone = rendered()
    assert alone == corpus and alone.pronunciation == ("hˈeɪ mˈaɪkɹɒft", "hˈeɪ mˈaɪkɹɔːft")
    assert alone.augment.late_reverb and "alexa" in alone.other_wake_words
    given = rendered("--positives", "10", "--other-wake-word", "okay nabu", "--engines", "flite")
    assert (given.positives, given.other_wake_words, given.engines) == (
        10,
        ("okay nabu",),
        ("flite",),
    )
    assert given.respelling == corpus.respelling and given.augment == corpus.augment
    other = rendered("--recipe", str(DEFAULT_RECIPE))  # the default recipe: espeak-ng's reading
    assert other.pronunciation == () and other.other_wake_words == ()


@pytest.mark.slow
def test_wakeword_cli_makes_a_calibrated_model_and_card(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "training.wakeword", "hey computer", "--data",
           str(tmp_path / "data"), "--out", str(out), "--workers", "2",
           "--clip-store", str(tmp_path / "store")]  # fmt: skip
    for assignment in [*TINY, NO_LIMIT]:
        cmd += ["--set", assignment]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    model = load_model(out / "hey_computer.tflite")
    md = model.metadata
    assert md.streaming and md.quantization == "int8_weights"
    assert md.keywords == ("hey_computer",)
    summary = json.loads((out / "hey_computer.json").read_text())
    card = (out / "hey_computer.md").read_text()
    evaluation = summary["evaluation"]
    assert evaluation["num_positives"] == 6 and set(evaluation["at"]) == {"0.5", "1"}
    if evaluation["calibrated"]:
        assert md.thresholds["hey_computer"].fa_per_hour is not None
        # set on the validation streams; reported on the test streams at that threshold
        validation = evaluation["validation"]["at"]["1"]
        assert md.thresholds["hey_computer"].threshold == validation["threshold"]
        on_test = evaluation["shipped_threshold_on_test"]
        assert on_test["threshold"] == validation["threshold"] and on_test["fa_per_hour"] >= 0
        # the card gives the count behind the test FA/h and its Poisson interval
        accepts = "false accept" if on_test["false_accepts"] == 1 else "false accepts"
        assert f"{on_test['false_accepts']} {accepts} in " in card and "95 % interval" in card
    assert summary["cpu_s_per_audio_hour"] > 0
    card = (out / "hey_computer.md").read_text()
    assert "FRR at 1 FA/h" in card and "hey_computer.tflite" in card
    assert " of up to 3 epochs, checkpoint of epoch " in card
    # a fresh runner reaches the long-running one's state within the build's limit
    assert 0 < summary["state_memory_s"] <= 540 and "| state memory | identical to a " in card
    # another wake word is a look-alike in training and a false accept in evaluation
    manifest = (tmp_path / "data" / "manifest.jsonl").read_text().splitlines()
    assert any(json.loads(row)["text"] == "alexa" for row in manifest)
    crossed = evaluation["confusions"]["at_model_threshold"]["alexa"]
    assert crossed["utterances"] == 4 and 0 <= crossed["false_accepts"] <= 4
    assert f"alexa: {crossed['false_accepts']} of 4" in card
    test_streams = json.loads((tmp_path / "data/eval/test/positives/positives.json").read_text())
    events = [e for stream in test_streams["streams"] for e in stream["events"]]
    assert {e["info"].get("apart") for e in events if e.get("label") == "alexa"} == {True}
    assert not any(e["info"].get("apart") for e in events if "label" not in e)
    corpus_summary = json.loads((tmp_path / "data" / "summary.json").read_text())
    assert corpus_summary["eval"]["test"]["other_wake_words"] == {"alexa": 4}
    assert corpus_summary["eval"]["test"]["positives"] == 6
    # the background clips went into the store, for the next phrase's corpus to link
    stored = list((tmp_path / "store").rglob("*.wav"))
    assert len(stored) >= 30 + 20 + 10 + 10  # speech, noise, music, silence at least
    assert "| build | passed" in card and summary["build"] == {"failed": False, "problems": []}
    # Shipped again with a loud calibration, the build rule decides on the test FA/h
    ship = [sys.executable, "-m", "training.wakeword", "hey computer", "--from-run",
            str(out / "run"), "--out", str(tmp_path / "loud"), "--set",
            "ship.calibrate_fa_per_hour=500", "--set", "ship.cost_minutes=0.2",
            "--set", "ship.calibrate_confidence=0"]  # fmt: skip
    loud = subprocess.run(ship, capture_output=True, text=True, timeout=1200)
    figures = json.loads((tmp_path / "loud" / "hey_computer.json").read_text())
    fa = figures["evaluation"]["shipped_threshold_on_test"]["fa_per_hour"]
    card = (tmp_path / "loud" / "hey_computer.md").read_text()
    if fa > 2:
        assert loud.returncode == 3 and figures["build"]["failed"]
        last = loud.stderr.strip().splitlines()[-1]  # progress output comes before it
        assert last.startswith("training.wakeword: failed build: ") and str(tmp_path) in last
        assert f"{fa:.2f} FA/h on the test negatives" in last and "| build | FAILED" in card
    else:
        assert loud.returncode == 0 and not figures["build"]["failed"]
    # The mean of the run with itself is one file carrying both copies' states that scores as
    # the run: the same validation streams give it the same threshold, and its card and figures
    # say which runs it averages.
    mean = [sys.executable, "-m", "training.wakeword", "hey computer", "--from-run",
            str(out / "run"), "--from-run", str(out / "run"), "--out", str(tmp_path / "mean"),
            "--set", "ship.cost_minutes=0.2", "--set", "ship.calibrate_confidence=0", "--set",
            NO_LIMIT]  # fmt: skip
    done = subprocess.run(mean, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    averaged = load_model(tmp_path / "mean" / "hey_computer.tflite").metadata
    assert len(averaged.state_tensors) == 2 * len(md.state_tensors)
    assert averaged.thresholds["hey_computer"].threshold == pytest.approx(
        md.thresholds["hey_computer"].threshold, abs=1e-6
    )
    assert [m["seed"] for m in averaged.training["metrics"]["members"]] == [0, 0]
    card = (tmp_path / "mean" / "hey_computer.md").read_text()
    assert "| model | mean of 2 x crnn (" in card and "mean of 2 runs: seed 0: " in card
    assert f"--from-run {out / 'run'} --from-run {out / 'run'}" in card
    figures = json.loads((tmp_path / "mean" / "hey_computer.json").read_text())
    assert figures["runs"] == [str(out / "run")] * 2
    # Shipped again from the file alone (its metadata holds the training record): the same
    # validation streams give it the same threshold, and the card says how it was made.
    again = [sys.executable, "-m", "training.wakeword", "hey computer", "--from-model",
             str(out / "hey_computer.tflite"), "--data", str(tmp_path / "data"), "--out",
             str(tmp_path / "again"), "--clip-store", str(tmp_path / "store")]  # fmt: skip
    for assignment in [*TINY, NO_LIMIT, "ship.cost_minutes=0.2"]:
        again += ["--set", assignment]
    done = subprocess.run(again, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    reshipped = load_model(tmp_path / "again" / "hey_computer.tflite").metadata
    assert reshipped.thresholds == md.thresholds
    assert "--from-model" in (tmp_path / "again" / "hey_computer.md").read_text()
    # the corpus's summary still says what its clips are (the evaluation sets were only checked)
    assert json.loads((tmp_path / "data" / "summary.json").read_text()) == corpus_summary
    listen = subprocess.run(
        [sys.executable, "-m", "kws.listen", "--model", str(out / "hey_computer.tflite"),
         "--input", str(tmp_path / "data/eval/test/positives/positives_snr10_000.wav")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert listen.returncode == 0, listen.stderr
    assert '"state": "stopped"' in listen.stdout


def test_a_threshold_loud_on_test_fails_the_build_in_one_line() -> None:
    from training.core.ship import FailedBuild, build_problems, fail_build

    quiet = {"threshold": 0.9, "fa_per_hour": 1.5, "frr": 0.2, "false_accepts": 3, "misses": 1}
    loud = {**quiet, "threshold": 0.42, "fa_per_hour": 2.5}
    figures = {
        "yes": {"shipped_threshold_on_test": quiet},
        "no": {"shipped_threshold_on_test": loud},
        "up": {"shipped_threshold_on_test": None},  # never calibrated: nothing to judge
    }
    problems = build_problems(figures, 2.0)
    assert problems == [
        "'no' gives 2.50 FA/h on the test negatives at its shipped threshold 0.420 (limit 2)"
    ]
    assert build_problems(figures, 3.0) == []
    fail_build(Path("m.tflite"), [])
    with pytest.raises(FailedBuild, match=r"^failed build: m.tflite: 'no' gives 2.50") as caught:
        fail_build(Path("m.tflite"), problems)
    assert "\n" not in str(caught.value)


def test_from_model_of_another_wake_word_is_one_line_before_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.wakeword import main

    model = Path(__file__).parent.parent / "firmware_models" / "alexa.tflite"
    argv = ["hey computer", "--from-model", str(model), "--data", str(tmp_path / "d"), "--out",
            str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not the recipe's (hey_computer)" in err and str(model) in err
    assert not (tmp_path / "d").exists()
    assert main([*argv, "--from-run", str(tmp_path)]) == 2
    assert "pass one" in capsys.readouterr().err


def test_from_run_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.wakeword import main

    run = tmp_path / "run"
    assert main(["hey computer", "--from-run", str(run), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json" in err
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"name": "hey_computer", "corpus": str(tmp_path)}))
    (run / "metrics.json").write_text(json.dumps({"files": {"window_float32": "x.tflite"}}))
    assert main(["hey computer", "--from-run", str(run), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no streaming_int8_weights export" in err and str(run) in err


def _finished_run(folder: Path, export: Path) -> Path:
    """A run folder as training writes it, holding ``export`` as its shipped export, but no
    weights."""
    import shutil

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"name": "x", "corpus": str(folder)}))
    files = {"streaming_int8_weights": "x.tflite"}
    (folder / "metrics.json").write_text(json.dumps({"files": files}))
    shutil.copyfile(export, folder / "x.tflite")
    return folder


def test_runs_of_another_wake_word_are_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.wakeword import main

    alexa = Path(__file__).parent.parent / "firmware_models" / "alexa.tflite"
    runs = [_finished_run(tmp_path / name, alexa) for name in ("a", "b")]
    for given in (runs[:1], runs):  # one run shipped, or the mean of two
        argv = ["hey computer", "--out", str(tmp_path / "o")]
        for run in given:
            argv += ["--from-run", str(run)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{runs[0] / 'x.tflite'}: its keywords (alexa)" in err
        assert "are not the recipe's (hey_computer)" in err
        assert not (tmp_path / "o" / "hey_computer.tflite").exists()


def test_a_mean_of_runs_without_weights_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tensorflow")
    from training.wakeword import main

    alexa = Path(__file__).parent.parent / "firmware_models" / "alexa.tflite"
    a, b = (_finished_run(tmp_path / name, alexa) for name in ("a", "b"))
    argv = ["alexa", "--from-run", str(a), "--from-run", str(b), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{a}: not a finished training run (no model.weights.h5)" in err
    assert not (tmp_path / "o" / "alexa.tflite").exists()
