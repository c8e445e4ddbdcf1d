"""The 12-class command model: the TTS command corpus in the Speech Commands layout, training on
that layout, the one-command recipe, and commands firing through ``kws.listen``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kws.errors import KwsError
from kws.model import load_model
from kws.wavfile import write_wav
from training.commands import DEFAULT_RECIPE, load_recipe, plan
from training.core.config import TrainConfig
from training.core.examples import read_corpus
from training.data.loaders.speech_commands import (
    COMMAND_LABELS,
    COMMAND_WORDS,
    speech_commands,
)

RATE = 16000
TINY_CORPUS = [
    "corpus.per_command=10", "corpus.other_words=10", "corpus.confusables=0", "corpus.speech=10",
    "corpus.background_seconds=6", "corpus.eval_per_command=1", "corpus.eval_snrs_db=[10]",
    "corpus.eval_negative_hours=0.005", "corpus.eval_sentences=4", "corpus.eval_confusables=0",
    "corpus.eval_other_words=4", "corpus.engines=['espeak-ng', 'flite']",
]  # fmt: skip
TINY_TRAIN = [
    "train.epochs=2", "train.params.conv_filters=8", "train.params.kernel=[10, 5]",
    "train.params.stride=[4, 2]", "train.params.rnn_layers=1", "train.params.rnn_units=16",
    "train.params.fc_units=16", "ship.cost_minutes=0.1",
    "ship.max_test_fa_per_hour=1e9",  # seconds of test negatives: one false accept is 100s/h
    "ship.calibrate_confidence=0",  # no margin: seconds of validation negatives bound nothing
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.data.commands import generate_commands

    out = tmp_path_factory.mktemp("commands_corpus")
    config, _, _ = plan(load_recipe(DEFAULT_RECIPE, TINY_CORPUS), out)
    generate_commands(config, out, workers=2)
    return out


def test_corpus_is_a_speech_commands_layout_with_held_out_voices(corpus: Path) -> None:
    examples = list(speech_commands(corpus))
    words = {e.label for e in examples}
    assert set(COMMAND_WORDS) <= words and {"speech", "zero"} <= words
    speakers = {s: {e.speaker for e in examples if e.split == s} for s in ("train", "test")}
    assert speakers["train"] and speakers["test"]
    assert not speakers["train"] & speakers["test"]  # test voices are never heard in training
    for word in COMMAND_WORDS:  # 10 per command: 8/1/1 over the splits
        splits = sorted(e.split for e in examples if e.label == word)
        assert splits == ["test", *["train"] * 8, "validation"]
    data = read_corpus(corpus)
    assert data.labels == COMMAND_LABELS and len(data.background) == 6
    events = [
        e
        for s in json.loads((corpus / "eval/test/positives/positives.json").read_text())["streams"]
        for e in s["events"]
    ]
    assert sorted(e["label"] for e in events) == sorted(COMMAND_WORDS)
    assert all(e["text"] == e["label"] for e in events)
    versions = json.loads((corpus / "summary.json").read_text())["engine_versions"]
    assert set(versions) == {"espeak-ng", "flite"} and "unknown" not in versions.values()
    # the machine's /usr/share text and word list decide the speech negatives: recorded too
    texts = json.loads((corpus / "summary.json").read_text())["text_sources"]
    assert int(texts["sentences"]) > 1000 and len(texts["sentences_sha256"]) == 16
    assert texts["/usr/share/dict/words"] != "missing"


def test_corpus_resumes_and_refuses_other_settings(corpus: Path) -> None:
    from training.data.commands import generate_commands

    config, _, _ = plan(load_recipe(DEFAULT_RECIPE, TINY_CORPUS), corpus)
    assert generate_commands(config, corpus, workers=1)["rendered_now"] == 0
    other, _, _ = plan(load_recipe(DEFAULT_RECIPE, [*TINY_CORPUS, "corpus.seed=1"]), corpus)
    with pytest.raises(KwsError, match="other settings"):
        generate_commands(other, corpus, workers=1)


def test_training_clips_never_speak_an_evaluation_text() -> None:
    from training.data.commands import CommandCorpusConfig, eval_texts
    from training.data.commands import plan as corpus_plan

    config = CommandCorpusConfig()
    spoken = {j.text for j in corpus_plan(config) if j.kind in ("speech", "confusable")}
    texts, phrases = eval_texts(config)
    assert texts and phrases and not spoken & {*texts, *phrases}


def test_rendering_the_corpus_alone_renders_the_recipes_corpus() -> None:
    """`training.data commands` without counts renders what `training.commands` would train on
    (it used to render a corpus a third the recipe's size)."""
    from training.data.__main__ import build_parser, command_corpus

    alone = command_corpus(build_parser().parse_args(["commands", "--out", "x"]))
    recipe, _, _ = plan(load_recipe(DEFAULT_RECIPE, []), Path("x"))
    assert alone == recipe
    fewer = build_parser().parse_args(["commands", "--out", "x", "--per-command", "40"])
    assert command_corpus(fewer).per_command == 40


def test_command_free_speech_holds_no_word_that_sounds_like_a_command() -> None:
    """ "to" sounds as "two" and "know" as "no": such speech would teach a digits model that "two"
    is not a command and count as its false accept (23 % of the speech drawn for the digits
    had "to" or "too" before this rule)."""
    from training.data.commands import CommandCorpusConfig, eval_texts
    from training.data.commands import plan as corpus_plan
    from training.data.text_corpus import words

    digits = CommandCorpusConfig(words=("one", "two", "no", "right"), speech=200, confusables=100)
    spoken = [j.text for j in corpus_plan(digits) if j.kind in ("speech", "confusable")]
    texts, phrases = eval_texts(digits)
    heard = {w for text in [*spoken, *texts, *phrases] for w in words(text)}
    assert not heard & {"to", "too", "know", "write", "wright"}
    assert len([j for j in corpus_plan(digits) if j.kind == "speech"]) == 200


def test_eval_only_first_then_the_clips_fill_the_same_folder(corpus: Path, tmp_path: Path) -> None:
    from training.data.commands import generate_commands

    later = tmp_path / "later"
    config, _, _ = plan(load_recipe(DEFAULT_RECIPE, TINY_CORPUS), later)
    summary = generate_commands(config, later, workers=2, eval_only=True)
    assert summary["eval_only"] and summary["rendered_now"] == 0
    assert not (later / "clips.jsonl").exists() and not (later / "yes").exists()
    for role in ("validation", "test"):
        manifest = later / f"eval/{role}/positives/positives.json"
        assert (
            manifest.read_bytes() == (corpus / f"eval/{role}/positives/positives.json").read_bytes()
        )
    summary = generate_commands(config, later, workers=2)
    assert not summary["eval_only"] and summary["rendered_now"] > 0
    assert (later / "clips.jsonl").read_bytes() == (corpus / "clips.jsonl").read_bytes()
    # evaluation sets checked again (as --from-model does): the corpus still says it has clips
    again = generate_commands(config, later, workers=2, eval_only=True)
    kept = json.loads((later / "summary.json").read_text())
    assert again == kept and not kept["eval_only"]
    assert kept["rendered_now"] == summary["rendered_now"] and kept["eval"] == summary["eval"]


@pytest.mark.parametrize(
    ("command", "option"),
    [("commands", "--eval-in-sentences"), ("generate", "--eval-in-sentences"),
     ("commands", "--in-sentences"), ("generate", "--in-sentences")],
)  # fmt: skip
def test_a_share_of_sentences_outside_0_to_1_is_one_line(
    command: str, option: str, tmp_path: Path
) -> None:
    args = ["--keyword", "hey jarvis"] if command == "generate" else []
    done = subprocess.run(
        [sys.executable, "-m", "training.data", command, *args, "--out", str(tmp_path / "c"),
         option, "1.5"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert f"{option[2:].replace('-', '_')} must be within [0, 1]" in line
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("command", ["commands", "generate"])
def test_sentence_twins_without_sentences_is_one_line(command: str, tmp_path: Path) -> None:
    args = ["--keyword", "hey jarvis"] if command == "generate" else []
    done = subprocess.run(
        [sys.executable, "-m", "training.data", command, *args, "--out", str(tmp_path / "c"),
         "--in-sentences-twins", "--in-sentences", "0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "in_sentences_twins needs a share of in_sentences above 0" in line
    assert not (tmp_path / "c").exists()


def test_keywords_in_sentences_need_sentences_to_draw_from() -> None:
    from training.data.eval_sets import Said, in_sentences

    said = [Said("three")] * 4
    assert in_sentences(said, 0.0, [], seed=0) == tuple(said)
    with pytest.raises(ValueError, match="eval_sentences > 0"):
        in_sentences(said, 0.5, [], seed=0)
    within = in_sentences(
        said, 0.5, ["the cat sat on the mat today", "we went out for a long walk"], seed=0
    )
    assert sum(bool(s.before or s.after) for s in within) == 2
    assert all(s.text == "three" for s in within)


@pytest.mark.slow
def test_commands_said_inside_sentences_are_timed_and_reported_apart(tmp_path: Path) -> None:
    """With ``eval_in_sentences`` the positive streams hold commands with words of the same
    voice around them; each event's span is the command's own, and the streams report FRR per
    context (alone, sentence)."""
    from benchmarks.streams import read_positive_manifest
    from kws.wavfile import load_audio
    from training.data.commands import generate_commands

    out = tmp_path / "sentences"
    sizes = [*TINY_CORPUS, "corpus.eval_per_command=2", "corpus.eval_in_sentences=0.5"]
    config, _, _ = plan(load_recipe(DEFAULT_RECIPE, sizes), out)
    generate_commands(config, out, workers=2, eval_only=True)
    manifest = out / "eval/test/positives/positives.json"
    events = [e for s in json.loads(manifest.read_text())["streams"] for e in s["events"]]
    within = [e for e in events if e["info"].get("context") == "sentence"]
    assert len(within) == len(events) // 2 == len(COMMAND_WORDS)
    streams = read_positive_manifest(manifest)
    contexts = [p.context for s in streams for p in s.positives]
    assert contexts.count("sentence") == len(within) == contexts.count("alone")
    entries = json.loads(manifest.read_text())["streams"]
    for entry, stream in zip(entries, streams, strict=True):
        audio = load_audio(stream.path)
        for event, positive in zip(entry["events"], stream.positives, strict=True):
            info = event["info"]
            if info.get("context") != "sentence":
                continue
            start, end = info["keyword_s"]
            assert info["before"] or info["after"]
            assert positive.offset_s - positive.onset_s == pytest.approx(end - start, abs=1e-3)
            if info["before"]:  # words end a pause before the command: speech, not background
                clip_onset = positive.onset_s - start
                words = audio[int(clip_onset * RATE) : int((positive.onset_s - 0.12) * RATE)]
                quiet = audio[int((clip_onset - 2.0) * RATE) : int((clip_onset - 1.0) * RATE)]
                assert np.std(words.astype(float)) > 1.5 * np.std(quiet.astype(float))


@pytest.mark.slow
def test_recipe_trains_calibrates_and_writes_the_card(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tensorflow")
    from training.commands import main

    out = tmp_path / "model"
    argv = ["--data", str(corpus), "--out", str(out), "--workers", "1"]
    assert main(argv + [f"--set={a}" for a in TINY_CORPUS + TINY_TRAIN]) == 0
    md = load_model(out / "commands.tflite").metadata
    first = md.thresholds
    assert md.labels == COMMAND_LABELS and md.keywords == COMMAND_WORDS
    assert md.streaming and md.quantization == "int8_weights"
    summary = json.loads((out / "results/commands.json").read_text())
    assert set(summary["evaluation"]) == set(COMMAND_WORDS)
    for label, evaluation in summary["evaluation"].items():
        assert evaluation["num_positives"] == 1 and set(evaluation["at"]) == {"0.5", "1"}
        if evaluation["calibrated"]:  # set on validation, measured on test
            threshold = evaluation["validation"]["at"]["1"]["threshold"]
            assert md.thresholds[label].threshold == threshold
            assert evaluation["shipped_threshold_on_test"]["threshold"] == threshold
    assert set(summary["test_per_class_accuracy"]) == set(COMMAND_LABELS)
    by_engine = summary["test_accuracy_by_engine"]  # the corpus's two engines, read apart
    assert set(by_engine) == {"espeak-ng", "flite"}
    assert all(v["examples"] > 0 and 0 <= v["accuracy"] <= 1 for v in by_engine.values())
    results = json.loads((out / "results/results.json").read_text())
    assert [m["label"] for m in results["models"]] == list(COMMAND_WORDS)
    assert (out / "results/confusion.png").stat().st_size > 1000
    card = (out / "commands.md").read_text()
    assert "commands.tflite" in card and "| `stop` |" in card and "never fires" in card
    assert "| build | passed" in card and summary["build"]["failed"] is False
    assert 0 < summary["state_memory_s"] <= 540 and "| state memory | identical to a " in card
    assert "| test accuracy per engine | espeak-ng" in card
    assert "| calibration | each command's threshold for 1 FA/h on the validation" in card

    # [ship] calibrate_confidence reaches the calibration (training is reused): seconds of
    # validation negatives cannot bound any command's FA/h at 95 %, so none gets a threshold.
    import training.commands

    asked: list[float] = []
    real = training.commands.calibrate_labels

    def spy(*args: Any) -> Any:
        asked.append(args[4])
        return real(*args)

    monkeypatch.setattr(training.commands, "calibrate_labels", spy)
    margin = [f"--set={a}" for a in [*TINY_CORPUS, *TINY_TRAIN, "ship.calibrate_confidence=0.95"]]
    assert main(argv + margin) == 0
    assert asked == [0.95]
    summary = json.loads((out / "results/commands.json").read_text())
    assert not any(e["calibrated"] for e in summary["evaluation"].values())
    assert "95% upper bound of FA/h" in (out / "commands.md").read_text()

    # --from-model ships a trained file again from its metadata alone (no run folder): on the
    # same validation streams, without the margin, it gets the first calibration's thresholds.
    again = tmp_path / "again"
    shipped_again = ["--from-model", str(out / "commands.tflite"), "--out", str(again)]
    assert main(argv[:2] + shipped_again + [f"--set={a}" for a in TINY_CORPUS + TINY_TRAIN]) == 0
    assert load_model(again / "commands.tflite").metadata.thresholds == first
    card = (again / "commands.md").read_text()
    assert "--from-model" in card and " of up to 2 epochs" in card
    clips = md.training["metrics"]["clips"]  # the card names the splits, whatever the key order
    assert f"{clips['train']}/{clips['validation']}/{clips['test']} with `_silence_`" in card
    assert "from_model" in json.loads((again / "results/commands.json").read_text())

    # --from-run twice ships the mean of the run with itself as one file: it scores as the run,
    # so the same validation streams give every command the first calibration's thresholds.
    mean = tmp_path / "mean"
    runs = ["--from-run", str(out / "run"), "--from-run", str(out / "run"), "--out", str(mean)]
    assert main(argv[:2] + runs + [f"--set={a}" for a in TINY_CORPUS + TINY_TRAIN]) == 0
    averaged = load_model(mean / "commands.tflite").metadata
    assert set(averaged.thresholds) == set(first)
    for label, threshold in first.items():
        assert averaged.thresholds[label].threshold == pytest.approx(threshold.threshold, abs=1e-6)
    assert len(averaged.state_tensors) == 2 * len(md.state_tensors)
    card = (mean / "commands.md").read_text()
    assert "| model | mean of 2 x " in card and "mean of 2 runs: seed " in card
    assert "| test accuracy per engine | espeak-ng" in card
    assert (
        json.loads((mean / "results/commands.json").read_text())["runs"] == [str(out / "run")] * 2
    )


def test_from_model_is_checked_before_anything_is_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of other labels, one without a training record or a truncated one: one line
    naming it, and no corpus is rendered."""
    import dataclasses

    from kws.tflite_file import read_metadata, read_model_bytes, write_model
    from training.commands import main

    root = Path(__file__).parent.parent / "firmware_models"
    data = tmp_path / "corpus"
    bare = tmp_path / "bare.tflite"
    raw = read_model_bytes(root / "commands.tflite")
    write_model(bare, raw, dataclasses.replace(read_metadata(bare, raw), training={}))
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(raw[: len(raw) // 2])
    for model, says in [
        (root / "hey_jarvis.tflite", "are not the recipe's (yes, no, up"),
        (bare, "no training record"),
        (truncated, str(truncated)),
    ]:
        argv = ["--data", str(data), "--out", str(tmp_path / "o"), "--from-model", str(model)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err and str(model) in err
    assert not data.exists()


# --- any list of commands ------------------------------------------------------------------

WORDS_LIST = "lights on,Lights Off, stop"
WORDS_LABELS = ("_silence_", "_unknown_", "lights_on", "lights_off", "stop")


@pytest.fixture(scope="module")
def words_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.data.__main__ import main

    out = tmp_path_factory.mktemp("words_corpus")
    argv = ["commands", "--out", str(out), "--words", WORDS_LIST, "--per-command", "10",
            "--other-words", "10", "--confusables", "6", "--speech", "10",
            "--background-seconds", "6", "--eval-per-command", "2", "--eval-hours", "0.005",
            "--engines", "espeak-ng,flite", "--workers", "2"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_a_word_list_makes_a_corpus_of_its_own_commands(words_corpus: Path) -> None:
    assert (words_corpus / "commands.txt").read_text() == "lights_on\nlights_off\nstop\n"
    data = read_corpus(words_corpus)
    assert data.labels == WORDS_LABELS
    folders = {p.name for p in words_corpus.iterdir() if p.is_dir()}
    assert {"lights_on", "lights_off", "stop", "confusable", "speech"} <= folders
    assert not {"on", "off"} & folders  # a word of a command is never spoken as _unknown_
    assert {"yes", "zero"} & folders
    clips = [json.loads(line) for line in (words_corpus / "clips.jsonl").read_text().splitlines()]
    said = {c["text"] for c in clips if c["label"] == "lights_on"}
    assert said == {"lights on"}
    for clip in clips:
        if clip["kind"] in ("confusable", "speech"):  # no command inside _unknown_ material
            text = f" {' '.join(clip['text'].lower().split())} "
            assert not any(f" {c} " in text for c in ("lights on", "lights off", "stop")), clip
    streams = json.loads((words_corpus / "eval/test/positives/positives.json").read_text())
    labels = [e["label"] for s in streams["streams"] for e in s["events"]]
    assert set(labels) == set(WORDS_LABELS[2:])
    assert len({labels.count(label) for label in WORDS_LABELS[2:]}) == 1  # each equally often


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("stop,,go", "entry 2 is empty"),
        ("stop,go,Stop", "'stop' is given twice"),
        ("channel 5", "write numbers as words"),
        ("ᚠᚢᚦ", "cannot pronounce 'ᚠᚢᚦ'"),
        ("turn the big lights on", "more than 4 words"),
    ],
)
def test_a_bad_word_list_is_one_line_before_anything_is_rendered(
    words: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.commands import main as commands_main
    from training.data.__main__ import main as data_main

    data = tmp_path / "data"
    assert commands_main(["--words", words, "--data", str(data), "--out", str(tmp_path)]) == 2
    assert data_main(["commands", "--out", str(data), "--words", words]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and err.count(message) == 2, err
    assert not data.exists()


def test_pronunciations_belong_to_commands_or_other_words() -> None:
    from training.data.commands import CommandCorpusConfig

    config = CommandCorpusConfig(
        words=("lights on", "stop"), pronunciation={"lights on": "laɪts ɑn", "yes": "jɛs"}
    )
    assert config.said("lights on") == ("laɪts ɑn",) and config.labels == ("lights_on", "stop")
    with pytest.raises(ValueError, match="'lamp', which is not a corpus word"):
        CommandCorpusConfig(words=("lights on",), pronunciation={"lamp": "læmp"})


def test_a_commands_pronunciation_is_what_its_clips_say() -> None:
    """The clips of a command with a pronunciation carry it as what the voice says (they once
    carried it as the clip's recording source, and the voice read the text)."""
    from training.data.commands import CommandCorpusConfig
    from training.data.commands import plan as corpus_plan

    config = CommandCorpusConfig(
        words=("off", "stop"), per_command=10, other_words=0, confusables=0, speech=10,
        engines=("espeak-ng",), eval_sentences=4, eval_confusables=0, pronunciation={"off": "ˈɔːf"},
    )  # fmt: skip
    jobs = [j for j in corpus_plan(config) if j.kind == "positive"]
    assert {j.ipa for j in jobs if j.text == "off"} == {"ˈɔːf"}
    assert {j.ipa for j in jobs if j.text == "stop"} == {None}
    assert all(j.source is None and j.row()["ipa"] == j.ipa for j in jobs)


@pytest.mark.slow
def test_a_word_list_trains_into_a_model_of_its_commands(
    words_corpus: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorflow")
    from training.commands import main

    out = tmp_path / "model"
    argv = ["--words", WORDS_LIST, "--name", "lights", "--data", str(words_corpus),
            "--out", str(out), "--workers", "1"]  # fmt: skip
    corpus_set = [
        "corpus.per_command=10", "corpus.other_words=10", "corpus.confusables=6",
        "corpus.speech=10", "corpus.background_seconds=6", "corpus.eval_per_command=2",
        "corpus.eval_negative_hours=0.005", "corpus.engines=['espeak-ng', 'flite']",
    ]  # fmt: skip
    assert main(argv + [f"--set={a}" for a in corpus_set + TINY_TRAIN]) == 0
    md = load_model(out / "lights.tflite").metadata
    assert md.labels == WORDS_LABELS and md.keywords == WORDS_LABELS[2:]
    summary = json.loads((out / "results/lights.json").read_text())
    for label in WORDS_LABELS[2:]:  # each is scored against the others' utterances
        crossed = summary["evaluation"][label]["confusions"]["at_1_fa_per_hour"]
        others = set(WORDS_LABELS[2:]) - {label}
        assert crossed is None or set(crossed) == others
    card = (out / "lights.md").read_text()
    assert "# lights — 5-class command model" in card and "| `lights_off` |" in card


# --- training on a Speech Commands layout, and commands firing in kws.listen ----------------

TONE_HZ = {label: 350.0 * 1.28**i for i, label in enumerate([*COMMAND_WORDS, "cat", "bed"])}
"""Each word of the tone corpus is a steady tone of its own pitch (learnable in seconds)."""


def _tone(word: str, rng: np.random.Generator, seconds: float = 0.45) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    hz = TONE_HZ[word] * rng.uniform(0.98, 1.02)
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.03)
    return rng.uniform(0.2, 0.6) * envelope * np.sin(2 * np.pi * hz * t)


def _clip(word: str, rng: np.random.Generator) -> np.ndarray:
    audio = rng.normal(0, 0.002, RATE)
    tone = _tone(word, rng)
    end = RATE - round(rng.uniform(0.05, 0.25) * RATE)
    audio[end - len(tone) : end] += tone
    return np.clip(audio * 32767, -32768, 32767).astype(np.int16)


def tone_corpus(
    root: Path, per_split: dict[str, int], seed: int = 0, noise_seconds: int = 8
) -> Path:
    """A Speech Commands layout whose words are tones; speakers differ per split."""
    rng = np.random.default_rng(seed)
    lists: dict[str, list[str]] = {"validation": [], "test": []}
    for word in TONE_HZ:
        for split, count in per_split.items():
            for n in range(count):
                relative = f"{word}/{split[:2]}{n:04d}_nohash_0.wav"
                (root / word).mkdir(parents=True, exist_ok=True)
                write_wav(root / relative, _clip(word, rng), RATE)
                if split in lists:
                    lists[split].append(relative)
    noise = rng.normal(0, 0.01, noise_seconds * RATE) * 32767
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_/white_noise.wav", noise.astype(np.int16), RATE)
    (root / "validation_list.txt").write_text("\n".join(lists["validation"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    return root


@pytest.mark.slow
def test_trained_on_a_speech_commands_layout_the_commands_fire_in_listen(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from training.core.run import train

    root = tone_corpus(tmp_path / "sc", {"train": 24, "validation": 4, "test": 4})
    config = TrainConfig.from_dict(
        {
            "name": "tones", "corpus": str(root), "epochs": 12, "learning_rate": 0.01,
            "forms": ["streaming"], "quantizations": ["int8_weights"], "spec_augment": False,
            "params": {"conv_filters": 8, "kernel": [5, 5], "stride": [4, 2], "rnn_layers": 1,
                       "rnn_units": 16, "fc_units": 16, "window_frames": 96},
        }
    )  # fmt: skip
    metrics = train(config, tmp_path / "run")
    assert metrics["test_accuracy"] > 0.8, metrics["test_per_class_accuracy"]
    model_path = tmp_path / "run" / metrics["files"]["streaming_int8_weights"]
    md = load_model(model_path).metadata
    assert md.labels == COMMAND_LABELS and md.keywords == COMMAND_WORDS

    rng = np.random.default_rng(1)
    quiet = lambda s: rng.normal(0, 0.002, round(s * RATE))  # noqa: E731
    said = ["yes", "cat", "stop"]  # "cat" is _unknown_: it must not fire
    parts = [quiet(1.0)]
    for word in said:
        parts += [_tone(word, rng), quiet(1.5)]
    wav = tmp_path / "stream.wav"
    write_wav(wav, (np.concatenate(parts) * 32767).astype(np.int16), RATE)
    done = subprocess.run(
        [sys.executable, "-m", "kws.listen", "--model", str(model_path), "--input", str(wav)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    fired = [e["keyword"] for e in events if e["type"] == "detection"]
    assert fired == ["yes", "stop"]


RECORDED_RECIPE = Path(__file__).parents[1] / "training/configs/speech_commands_v2.toml"


def test_unknown_share_subsamples_other_words_per_split_as_tensorflow_does(
    tmp_path: Path,
) -> None:
    root = tone_corpus(tmp_path / "sc", {"train": 20, "validation": 4, "test": 4})
    unknown = COMMAND_LABELS.index("_unknown_")
    every = read_corpus(root)
    some = read_corpus(root, unknown_share=0.1, seed=3)
    for split, commands in {"train": 200, "validation": 40, "test": 40}.items():
        assert int((every.targets[split] == unknown).sum()) == 2 * commands // 10
        assert int((some.targets[split] == unknown).sum()) == round(0.1 * commands)
        assert int((some.targets[split] != unknown).sum()) == commands  # commands all kept
    again = read_corpus(root, unknown_share=0.1, seed=3)
    assert again.paths == some.paths  # seeded
    with pytest.raises(ValueError, match="unknown_share"):
        TrainConfig.from_dict({"name": "x", "corpus": str(root), "unknown_share": -1})


@pytest.mark.slow
def test_a_recorded_speech_commands_layout_trains_calibrates_and_evaluates(
    tmp_path: Path,
) -> None:
    """The real dataset's path, on a replica in its published layout: no rendering; evaluation
    streams of its own validation and test speakers; training, calibration, card."""
    pytest.importorskip("tensorflow")
    root = tone_corpus(
        tmp_path / "speech_commands_v0.02", {"train": 24, "validation": 6, "test": 6},
        noise_seconds=20,
    )  # fmt: skip
    out = tmp_path / "model"
    sets = [
        "corpus.eval_per_command=3", "corpus.eval_snrs_db=[20]",
        "corpus.eval_negative_hours=0.1", "train.epochs=12", "train.learning_rate=0.01",
        "train.spec_augment=false", "train.params.kernel=[5, 5]", "train.params.stride=[4, 2]",
        *TINY_TRAIN[1:],
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "training.commands", "--recipe", str(RECORDED_RECIPE),
         "--data", str(root), "--out", str(out), *[f"--set={a}" for a in sets]],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recorded dataset" in done.stdout and "clips:" not in done.stdout  # nothing rendered
    for role, prefix in {"validation": "va", "test": "te"}.items():
        positives = json.loads((root / f"eval/{role}/positives/positives.json").read_text())
        events = [e for s in positives["streams"] for e in s["events"]]
        assert {e["label"] for e in events} == set(COMMAND_WORDS)
        assert len(events) == 3 * len(COMMAND_WORDS)  # 3 per command, one SNR
        assert all(e["voice"].startswith(prefix) for e in events)  # that split's speakers only
        assert {e["info"]["engine"] for e in events} == {"recorded"}
        negatives = json.loads((root / f"eval/{role}/negatives/negatives.json").read_text())
        kinds = {k for f in negatives["files"] for k in f["seconds_by_kind"]}
        assert "other_words" in kinds and "recorded_ambient" in kinds
    assert not list(root.glob("eval/*.wav")) and "eval" not in {e.label for e in
        speech_commands(root)}  # fmt: skip
    summary = json.loads((out / "results/speech_commands_v2.json").read_text())
    assert summary["test_accuracy"] > 0.8
    assert set(summary["evaluation"]) == set(COMMAND_WORDS)
    caught = [1 - e["at"]["1"]["frr"] for e in summary["evaluation"].values() if e["at"]["1"]]
    assert caught and np.mean(caught) > 0.5  # tones are easy: most commands caught at 1 FA/h
    card = (out / "speech_commands_v2.md").read_text()
    assert "from a recorded Speech Commands dataset" in card
    assert summary["test_accuracy_by_engine"] is None and "per engine" not in card
    run = json.loads((out / "run/config.json").read_text())
    assert run["unknown_share"] == 0.1


def test_a_recorded_dataset_trains_only_its_own_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.commands import main

    root = tone_corpus(tmp_path / "sc", {"train": 2, "validation": 2, "test": 2})
    argv = ["--recipe", str(RECORDED_RECIPE), "--data", str(root), "--out", str(tmp_path / "m")]
    assert main([*argv, "--words", "zero,one"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(root) in err
    assert "commands.txt" in err and "zero, one" in err
    assert not (root / "eval").exists()  # refused before anything is written


def test_a_recorded_dataset_without_a_commands_clips_in_a_split_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.commands import main

    root = tone_corpus(tmp_path / "sc", {"train": 2, "validation": 2, "test": 2})
    listed = (root / "validation_list.txt").read_text().splitlines()
    (root / "validation_list.txt").write_text(
        "".join(f"{line}\n" for line in listed if not line.startswith("stop/"))
    )
    for path in root.glob("stop/va*.wav"):
        path.unlink()
    argv = ["--recipe", str(RECORDED_RECIPE), "--data", str(root), "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(root) in err and "validation" in err and "'stop'" in err
    assert not (root / "eval/validation/positives/positives.json").exists()  # before any stream


# --- bad input: one line naming the file or key ----------------------------------------------


def test_corpus_without_a_command_is_refused_naming_it(tmp_path: Path) -> None:
    root = tone_corpus(tmp_path / "sc", {"train": 1, "validation": 1, "test": 1})
    for path in (root / "stop").iterdir():
        path.unlink()
    (root / "stop").rmdir()
    for name in ("validation_list.txt", "testing_list.txt"):
        lines = (root / name).read_text().splitlines()
        (root / name).write_text("".join(f"{x}\n" for x in lines if not x.startswith("stop/")))
    with pytest.raises(KwsError, match=r"no train clips of 'stop' \(expected in stop/\)") as e:
        read_corpus(root)
    assert str(root) in str(e.value) and "\n" not in str(e.value)


def test_corpus_without_background_noise_is_refused(tmp_path: Path) -> None:
    root = tone_corpus(tmp_path / "sc", {"train": 1, "validation": 1, "test": 1})
    (root / "_background_noise_/white_noise.wav").unlink()
    with pytest.raises(KwsError, match="_background_noise_: no WAV files to cut _silence_"):
        read_corpus(root)


def test_neither_corpus_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KwsError, match="nor a Speech Commands folder"):
        read_corpus(tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("corpus.per_commandz=3", "per_commandz"),
        ("train.epochz=3", "epochz"),
        ("train.corpus='x'", "corpus"),
        ("ship.form='sideways'", "form"),
        ("extra.x=1", "extra"),
    ],
)
def test_bad_recipes_fail_before_any_work(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        plan(load_recipe(DEFAULT_RECIPE, [override]), tmp_path)


def test_cli_errors_are_one_line_naming_the_key_or_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.commands import main

    paths = ["--data", str(tmp_path / "d"), "--out", str(tmp_path / "o")]
    assert main([*paths, "--set", "train.epochz=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "epochz" in err
    recipe = tmp_path / "broken.toml"
    recipe.write_text("[corpus\n")
    assert main([*paths, "--recipe", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(recipe) in err


def test_the_shipped_models_recipe_remakes_its_card() -> None:
    # Since stop 31 the shipped file is the default recipe; its card's command spells out the
    # corpus sizes, which must be the recipe's. commands_shipped.toml keeps the model of stop 23
    # (and its corpus sizes) loadable.
    import re

    from training.commands import DEFAULT_RECIPE, plan
    from training.core.recipes import load_recipe

    card = (Path(__file__).parent.parent / "firmware_models/commands.md").read_text()
    command = card.split("`")[1]
    assert command.startswith("python -m training.commands --data ") and "--recipe" not in command
    corpus, default, default_ship = plan(load_recipe(DEFAULT_RECIPE, []), Path("data/c"))
    params = ", ".join(f"{k}={v}" for k, v in sorted(default.params.items()))
    assert f"| model | crnn ({params});" in card
    assert re.search(rf"\| training \| \d+ of up to {default.epochs} epochs", card)
    sets = dict(re.findall(r"--set corpus\.(\w+)=(\S+)", command))
    assert {k: v for k, v in sets.items() if k != "recordings"} == {
        k: str(getattr(corpus, k))
        for k in ("per_command", "other_words", "confusables", "speech", "eval_per_command")
    } | {"eval_negative_hours": "3"}
    assert corpus.eval_negative_hours == 3.0
    assert default.params["stride"] == [4, 2] and default_ship.calibrate_confidence == 0.95
    old_corpus, old, old_ship = plan(
        load_recipe(DEFAULT_RECIPE.parent / "commands_shipped.toml", []), Path("data/c")
    )
    assert (old_corpus.per_command, old_corpus.other_words, old_corpus.speech) == (500, 1500, 600)
    assert old_ship.calibrate_confidence == 0.0 and old.validation.patience == 4


def test_the_digits_recipe_remakes_the_shipped_digits_card() -> None:
    """digits.toml is what made firmware_models/digits.tflite: the card's command (the recipe
    and its --set keys) and the recipe alone give the same corpus and training."""
    import re

    from training.commands import DEFAULT_RECIPE, plan
    from training.core.recipes import load_recipe

    card = (Path(__file__).parent.parent / "firmware_models/digits.md").read_text()
    command = card.split("`")[1]
    recipe_path = re.search(r"--recipe (\S+)", command)
    assert recipe_path and command.startswith("python -m training.commands --recipe ")
    sets = re.findall(r"--set (\S+)", command)
    root = Path(__file__).parent.parent
    from_card = plan(load_recipe(root / recipe_path.group(1), sets), Path("data/d"))
    recipe, train, _ = plan(
        load_recipe(DEFAULT_RECIPE.parent / "digits.toml", ["corpus.recordings=data/recordings"]),
        Path("data/d"),
    )
    assert (recipe, train) == from_card[:2] and train.name == "digits" and len(recipe.words) == 10
    assert recipe.in_sentences and train.mining.rounds  # what the shipped file was made with
    params = ", ".join(f"{k}={v}" for k, v in sorted(train.params.items()))
    assert f"| model | crnn ({params});" in card and "| build | passed" in card
