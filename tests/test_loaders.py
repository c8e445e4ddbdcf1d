"""Dataset loaders against tiny replicas of each published layout, built in tmp_path."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.errors import AudioFileError, KwsError
from kws.wavfile import write_wav
from training.data.loaders import (
    COMMAND_LABELS,
    DATASETS,
    DatasetWarning,
    Example,
    assign_folds,
    command_task,
    esc50,
    folders,
    iter_audio,
    librispeech,
    load,
    load_dataset,
    speech_commands,
    speech_commands_background,
    urbansound8k,
    voxceleb,
)

RATE = 16000


def wav(path: Path, samples: int = 1600, rate: int = RATE, channels: int = 1) -> Path:
    """Write a short int16 WAV (a ramp, so crops are checkable) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = (np.arange(samples) % 1000).astype(np.int16)
    write_wav(path, np.repeat(ramp[:, None], channels, axis=1), rate)
    return path


def flac(path: Path, samples: int = 1600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.full(samples, 0.25, dtype=np.float32), RATE, subtype="PCM_16")
    return path


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def listing(examples: object) -> tuple[list[Example], list[str]]:
    """Exhaust a loader; return its examples and the messages of the DatasetWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = list(examples)  # type: ignore[call-overload]
    return result, [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]


def only_warning(messages: list[str]) -> str:
    assert len(messages) == 1, messages
    assert "\n" not in messages[0]
    return messages[0]


# --- Speech Commands ---------------------------------------------------------------------


def speech_commands_tree(root: Path) -> Path:
    for rel in [
        "yes/aaaa1111_nohash_0.wav",
        "yes/bbbb2222_nohash_0.wav",
        "no/aaaa1111_nohash_1.wav",
        "cat/cccc3333_nohash_0.wav",
        "cat/odd_name.wav",
    ]:
        wav(root / rel)
    wav(root / "_background_noise_/white_noise.wav", samples=RATE)
    wav(root / "_background_noise_/pink_noise.wav", samples=RATE)
    text(root / "_background_noise_/README.md", "noise")
    text(root / "validation_list.txt", "yes/bbbb2222_nohash_0.wav\n")
    text(root / "testing_list.txt", "no/aaaa1111_nohash_1.wav\ncat/gone_nohash_0.wav\n\n")
    return root


def test_speech_commands_labels_splits_speakers(tmp_path: Path) -> None:
    root = speech_commands_tree(tmp_path / "sc")
    examples, messages = listing(speech_commands(root))
    by_name = {e.path.name: e for e in examples}
    assert len(examples) == 5  # background noise is not a labelled example
    assert by_name["bbbb2222_nohash_0.wav"].split == "validation"
    assert by_name["aaaa1111_nohash_1.wav"].split == "test"
    assert by_name["aaaa1111_nohash_0.wav"].split == "train"
    assert by_name["aaaa1111_nohash_1.wav"].label == "no"
    assert by_name["aaaa1111_nohash_1.wav"].speaker == "aaaa1111"
    assert by_name["odd_name.wav"].speaker is None
    assert all(e.fold is None for e in examples)
    message = only_warning(messages)
    assert str(root) in message and "skipped 1 entries (1 listed files missing)" in message
    assert "gone_nohash_0.wav" in message


def test_speech_commands_background_and_command_task(tmp_path: Path) -> None:
    root = speech_commands_tree(tmp_path / "sc")
    noise = speech_commands_background(root)
    assert [p.name for p in noise] == ["pink_noise.wav", "white_noise.wav"]
    examples, _ = listing(command_task(speech_commands(root)))
    assert sorted(e.label for e in examples) == ["_unknown_", "_unknown_", "no", "yes", "yes"]
    assert len(COMMAND_LABELS) == 12 and COMMAND_LABELS[:2] == ("_silence_", "_unknown_")


def test_speech_commands_wrong_root(tmp_path: Path) -> None:
    wav(tmp_path / "yes/a_nohash_0.wav")
    with pytest.raises(KwsError, match=r"not a Speech Commands v2 folder \(no validation_list"):
        speech_commands(tmp_path)


# --- ESC-50 and UrbanSound8K -------------------------------------------------------------

ESC50_CSV = """filename,fold,target,category,esc10,src_file,take
1-100032-A-0.wav,1,0,dog,True,100032,A
2-100038-A-14.wav,2,14,chirping_birds,False,100038,A
5-9032-A-0.wav,5,0,dog,True,9032,A
3-missing-A-1.wav,3,1,rooster,True,missing,A
4-bad-A-2.wav,x,2,pigs,False,bad,A
"""


def esc50_tree(root: Path) -> Path:
    text(root / "meta/esc50.csv", ESC50_CSV)
    for name in ["1-100032-A-0.wav", "2-100038-A-14.wav", "5-9032-A-0.wav", "4-bad-A-2.wav"]:
        wav(root / "audio" / name)
    return root


def test_esc50_folds_and_skips(tmp_path: Path) -> None:
    root = esc50_tree(tmp_path / "ESC-50-master")
    examples, messages = listing(esc50(root))
    assert [(e.label, e.split, e.fold) for e in examples] == [
        ("dog", "fold1", 1),
        ("chirping_birds", "fold2", 2),
        ("dog", "fold5", 5),
    ]
    message = only_warning(messages)
    assert str(root) in message
    assert "skipped 2 entries (1 listed files missing, 1 unreadable rows)" in message
    esc10, _ = listing(esc50(root, esc10_only=True))
    assert [e.label for e in esc10] == ["dog", "dog"]


def test_assign_folds(tmp_path: Path) -> None:
    examples, _ = listing(esc50(esc50_tree(tmp_path)))
    runs = list(assign_folds(examples, test_fold=5, validation_fold=2))
    assert [(e.split, e.fold) for e in runs] == [("train", 1), ("validation", 2), ("test", 5)]
    with pytest.raises(ValueError, match="has no fold"):
        list(assign_folds([Example(Path("x.wav"), "a", "train")], test_fold=1))


US8K_CSV = """slice_file_name,fsID,start,end,salience,fold,classID,class
100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark
100263-2-0-117.wav,100263,58.5,62.5,1,10,2,children_playing
100648-1-0-0.wav,100648,4.8,5.6,2,1,1,car_horn
,,,,,,,
"""


def test_urbansound8k_folds(tmp_path: Path) -> None:
    root = tmp_path / "UrbanSound8K"
    text(root / "metadata/UrbanSound8K.csv", US8K_CSV)
    wav(root / "audio/fold5/100032-3-0-0.wav")
    wav(root / "audio/fold10/100263-2-0-117.wav")
    examples, messages = listing(urbansound8k(root))
    assert [(e.label, e.split, e.fold, e.start_s) for e in examples] == [
        ("dog_bark", "fold5", 5, None),
        ("children_playing", "fold10", 10, None),
    ]
    assert "skipped 2 entries (1 listed files missing, 1 unreadable rows)" in only_warning(messages)


def test_fold_metadata_with_wrong_header(tmp_path: Path) -> None:
    text(tmp_path / "metadata/UrbanSound8K.csv", "name,fold\na.wav,1\n")
    with pytest.raises(KwsError, match=r"UrbanSound8K.csv: not UrbanSound8K metadata \(no col"):
        urbansound8k(tmp_path)
    with pytest.raises(KwsError, match=r"not a ESC-50 folder \(no meta/esc50.csv\)"):
        esc50(tmp_path)


# --- LibriSpeech and VoxCeleb ------------------------------------------------------------


def librispeech_tree(root: Path) -> Path:
    chapter = root / "train-clean-100/19/198"
    flac(chapter / "19-198-0000.flac", samples=800)
    flac(chapter / "19-198-0001.flac")
    text(
        chapter / "19-198.trans.txt", "19-198-0000 HELLO WORLD\n19-198-0001 BYE\n19-198-0002 GONE\n"
    )
    flac(root / "dev-clean/84/121123/84-121123-0000.flac")
    text(root / "dev-clean/84/121123/84-121123.trans.txt", "84-121123-0000 GO\nnonsense\n")
    flac(root / "test-other/1688/142285/1688-142285-0000.flac")  # no transcript file
    (root / "README.TXT").write_text("LibriSpeech")
    return root


def test_librispeech_speakers_splits_transcripts(tmp_path: Path) -> None:
    root = librispeech_tree(tmp_path / "LibriSpeech")
    examples, messages = listing(librispeech(root))
    assert [(e.label, e.speaker, e.split, e.transcript) for e in examples] == [
        ("84", "84", "validation", "GO"),
        ("1688", "1688", "test", None),
        ("19", "19", "train", "HELLO WORLD"),
        ("19", "19", "train", "BYE"),
    ]
    message = only_warning(messages)
    assert "1 listed files missing, 1 unreadable transcript lines" in message
    assert load(examples[2]).shape == (800,) and load(examples[2]).dtype == np.int16
    assert abs(int(load(examples[2])[100]) - 8192) <= 1  # 0.25 full scale
    subset, _ = listing(librispeech(root, subsets=("dev-clean",)))
    assert [e.split for e in subset] == ["validation"]
    alone, _ = listing(librispeech(root / "train-clean-100"))
    assert len(alone) == 2


def test_librispeech_wrong_root(tmp_path: Path) -> None:
    (tmp_path / "clean").mkdir()
    with pytest.raises(KwsError, match=r"not a LibriSpeech folder \(no subset folder train-\*"):
        librispeech(tmp_path)


@pytest.mark.parametrize("prefix", ["wav/", ""])
def test_voxceleb_both_layouts(tmp_path: Path, prefix: str) -> None:
    wav(tmp_path / f"{prefix}id10001/1zcIwhmdeo4/00001.wav")
    wav(tmp_path / f"{prefix}id10001/1zcIwhmdeo4/00002.wav")
    wav(tmp_path / f"{prefix}id10002/C7k7C-PDvAA/00001.wav")
    (tmp_path / f"{prefix}notes").mkdir()
    examples, messages = listing(voxceleb(tmp_path))
    assert [(e.label, e.speaker, e.split) for e in examples] == [
        ("id10001", "id10001", "train"),
        ("id10001", "id10001", "train"),
        ("id10002", "id10002", "train"),
    ]
    assert messages == []


def test_voxceleb_iden_split(tmp_path: Path) -> None:
    wav(tmp_path / "wav/id10001/v1/00001.wav")
    wav(tmp_path / "wav/id10001/v1/00002.wav")
    wav(tmp_path / "wav/id10001/v2/00001.wav")
    lines = [
        "1 id10001/v1/00001.wav",
        "2 id10001/v1/00002.wav",
        "3 id10001/v2/00001.wav",
        "3 id10001/v2/00009.wav",  # missing: counted
        "3 id10999/v1/00001.wav",  # speaker not extracted at all: not counted
    ]
    text(tmp_path / "iden_split.txt", "\n".join(lines) + "\n")
    examples, messages = listing(voxceleb(tmp_path))
    assert [e.split for e in examples] == ["train", "validation", "test"]
    assert "skipped 1 entries (1 listed files missing)" in only_warning(messages)


# --- Folder per label --------------------------------------------------------------------


def test_folders_flat_and_nested(tmp_path: Path) -> None:
    wav(tmp_path / "hey_kws/a.wav")
    wav(tmp_path / "hey_kws/session2/b.WAV")
    flac(tmp_path / "noise/c.flac")
    text(tmp_path / "noise/notes.txt", "not audio")
    wav(tmp_path / "noise/.hidden/d.wav")
    wav(tmp_path / "stray.wav")
    examples, messages = listing(folders(tmp_path))
    assert [(e.path.name, e.label, e.split) for e in examples] == [
        ("a.wav", "hey_kws", "train"),
        ("b.WAV", "hey_kws", "train"),
        ("c.flac", "noise", "train"),
    ]
    assert "1 files outside a label folder" in only_warning(messages)


def test_folders_with_split_level(tmp_path: Path) -> None:
    wav(tmp_path / "train/yes/a.wav")
    wav(tmp_path / "train/no/b.wav")
    wav(tmp_path / "val/yes/c.wav")
    wav(tmp_path / "test/no/d.wav")
    examples, _ = listing(folders(tmp_path))
    assert [(e.label, e.split) for e in examples] == [
        ("no", "test"),
        ("no", "train"),
        ("yes", "train"),
        ("yes", "validation"),
    ]


# --- Lazy loading, dispatch, wrong roots -------------------------------------------------


def test_listing_is_lazy_and_bad_audio_is_skipped_once(tmp_path: Path) -> None:
    good = wav(tmp_path / "yes/good.wav")
    text(tmp_path / "yes/corrupt.wav", "this is not audio")
    text(tmp_path / "yes/empty.flac", "")
    examples, messages = listing(folders(tmp_path))  # listing never decodes
    assert len(examples) == 3 and messages == []
    corrupt = next(e for e in examples if e.path.name == "corrupt.wav")
    with pytest.raises(AudioFileError, match=r"corrupt.wav: not a WAV file"):
        load(corrupt)
    decoded, messages = listing(iter_audio(examples))
    assert [e.path for e, _ in decoded] == [good]
    message = only_warning(messages)
    assert "skipped 2 entries (2 files that failed to decode)" in message
    assert str(tmp_path / "yes") in message


def test_load_crops_downmixes_and_resamples(tmp_path: Path) -> None:
    path = wav(tmp_path / "stereo8k.wav", samples=8000, rate=8000, channels=2)
    whole = load(Example(path, "x", "train"))
    assert whole.dtype == np.int16 and whole.shape == (16000,)
    span = Example(path, "x", "train", start_s=0.25, end_s=0.5)
    assert load(span, sample_rate=8000).tolist() == (np.arange(2000, 4000) % 1000).tolist()
    with pytest.raises(AudioFileError, match="no audio in the span"):
        load(Example(path, "x", "train", start_s=2.0))


def test_load_dataset_dispatch(tmp_path: Path) -> None:
    root = speech_commands_tree(tmp_path)
    examples, _ = listing(load_dataset("speech_commands", root))
    assert len(examples) == 5
    assert set(DATASETS) == {
        "speech_commands",
        "esc50",
        "urbansound8k",
        "librispeech",
        "voxceleb",
        "folders",
    }
    with pytest.raises(KwsError, match=r"unknown dataset 'timit' \(known: speech_commands, "):
        load_dataset("timit", root)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_wrong_roots_are_one_line_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(KwsError) as missing:
        load_dataset(name, tmp_path / "nowhere")
    assert str(missing.value).startswith(f"{tmp_path / 'nowhere'}: no such folder (expected a")
    with pytest.raises(KwsError) as empty:
        load_dataset(name, tmp_path)  # exists, but holds nothing of the layout
    assert f"{tmp_path}: not a" in str(empty.value) and "\n" not in str(empty.value)
