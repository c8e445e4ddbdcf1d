"""[train.select]: training on part of a wake-word corpus (ablations), by engine and clip kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kws.errors import KwsError
from training.core.config import ClipSelection, TrainConfig
from training.core.examples import read_corpus

ROWS = [  # (kind, label, split, engine)
    ("positive", "hey_jarvis", "train", "espeak-ng"),
    ("positive", "hey_jarvis", "train", "kokoro"),
    ("positive", "hey_jarvis", "test", "flite"),
    ("confusable", "_background_", "train", "kokoro"),
    ("speech", "_background_", "train", "espeak-ng"),
    ("recorded", "_background_", "train", None),
    ("pink", "_background_", "test", None),
]


def write_manifest(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "id": f"{kind}-{i}",
                "path": f"clips/{split}/{kind}/{i}.wav",
                "label": label,
                "kind": kind,
                "split": split,
                "voice": {"engine": engine} if engine else None,
            }
        )
        for i, (kind, label, split, engine) in enumerate(ROWS)
    ]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")


def names(corpus) -> dict[str, list[str]]:
    return {split: sorted(p.name for p in paths) for split, paths in corpus.paths.items()}


def test_everything_by_default_and_a_selection_keeps_engines_and_voiceless_clips(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path)
    assert sum(len(v) for v in read_corpus(tmp_path).paths.values()) == len(ROWS)
    old_recipe = ClipSelection(engines=("espeak-ng", "flite"), leave_out=("recorded",))
    corpus = read_corpus(tmp_path, old_recipe)
    assert names(corpus) == {"train": ["0.wav", "4.wav"], "test": ["2.wav", "6.wav"]}
    assert corpus.targets["train"].tolist() == [1, 0]  # the positive, then the speech


def test_a_selection_is_data_in_the_training_config(tmp_path: Path) -> None:
    config = TrainConfig.from_dict(
        {"name": "x", "corpus": str(tmp_path), "select": {"engines": ["kokoro"]}}
    )
    assert config.select == ClipSelection(engines=("kokoro",))
    with pytest.raises(ValueError, match=r"unknown \['festival'\]"):
        TrainConfig.from_dict({"name": "x", "corpus": "c", "select": {"engines": ["festival"]}})
    with pytest.raises(ValueError, match=r"\[train\.select\]"):
        TrainConfig.from_dict({"name": "x", "corpus": "c", "select": {"engine": ["kokoro"]}})


def test_a_selection_that_keeps_nothing_of_an_engine_or_a_label_names_the_manifest(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path)
    with pytest.raises(
        KwsError, match=r"manifest.jsonl: no clips of the selected engines \['piper'\]"
    ):
        read_corpus(tmp_path, ClipSelection(engines=("piper",)))
    with pytest.raises(KwsError, match=r"leaves no clips of \['hey_jarvis'\]"):
        read_corpus(tmp_path, ClipSelection(leave_out=("positive",)))


def test_a_selection_on_a_speech_commands_layout_is_refused_naming_the_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "validation_list.txt").write_text("")
    with pytest.raises(KwsError, match=r"\[train\.select\] needs a generated wake-word corpus"):
        read_corpus(tmp_path, ClipSelection(leave_out=("recorded",)))


def test_too_few_phrases_left_once_the_evaluation_texts_are_out_is_one_line() -> None:
    from training.data.text_corpus import unseen

    assert unseen(["hey", "hey travis", "fey marvin"], {"hey", "hey travis"}, 2, keep={"hey"}) == [
        "hey",
        "fey marvin",
    ]
    with pytest.raises(KwsError, match="only 1 phrases not in the evaluation sets, 2 wanted"):
        unseen(["hey travis", "fey marvin"], {"hey travis"}, 2)
