"""Sources kept for independent evaluation are refused by name, by every tool that names a
source: the check itself, the Debian sound manifest, the Asterisk voices, the dataset loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from kws.errors import KwsError
from training.data import asterisk, debian_sounds
from training.data.loaders import folders
from training.data.reserved import is_reserved, refuse_reserved


def test_refusal_is_one_line_naming_the_source_and_the_tool() -> None:
    with pytest.raises(KwsError) as caught:
        refuse_reserved("klettres-data", "training.data recordings")
    assert str(caught.value) == (
        "klettres-data is reserved for independent evaluation (RESERVED.md); "
        "training.data recordings cannot use it"
    )


@pytest.mark.parametrize(
    "name",
    ["fortunes", "fortunes-de", "Fortunes-DE", "festival", "festvox-kallpc16k", "FESTLEX-cmu",
     "free-spoken-digit-dataset", "Free-Spoken-Digit-Dataset", " supertux-data "],
)  # fmt: skip
def test_each_kind_is_reserved_by_glob_and_in_any_case(name: str) -> None:
    assert is_reserved(name)
    with pytest.raises(KwsError, match="reserved for independent evaluation"):
        refuse_reserved(name, "a test")


@pytest.mark.parametrize(
    "name", ["asterisk-core-sounds-en-wav", "fortune-mod", "supertuxkart-data", "espeak-ng", "x"]
)
def test_other_names_pass(name: str) -> None:
    assert not is_reserved(name)
    refuse_reserved(name, "a test")  # no exception


def test_debian_sound_manifest_refuses_a_reserved_package(tmp_path: Path) -> None:
    manifest = tmp_path / "sounds.csv"
    manifest.write_text(
        "class,package,deb_version,path_in_package,window_start_s\n"
        "dog,game-sounds,1,a.wav,0\n"
        "cat,pingus-data,1,b.wav,0\n"
    )
    with pytest.raises(KwsError) as caught:
        debian_sounds.read_manifest(manifest)
    assert str(caught.value) == (
        f"{manifest} line 3: pingus-data is reserved for independent evaluation (RESERVED.md); "
        "training.data debian-sounds cannot use it"
    )


def test_speaker_builder_refuses_a_reserved_voice_package_before_any_download(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "speakers.csv"
    manifest.write_text(
        "package,version,path,speaker,language,split,evidence,licence\n"
        "asterisk-core-sounds-en-wav,1.6.1-1,usr/share/asterisk/sounds/en/*.wav,allison,en,"
        "train,credits,CC-BY-SA-3.0\n"
        "festvox-kallpc16k,2.4,usr/share/festival/voices/*.wav,kal,en,train,credits,free\n"
    )

    def download(package: str, version: str, cache: Path) -> Path:
        raise AssertionError("nothing may be downloaded")

    with pytest.raises(KwsError) as caught:
        asterisk.build_asterisk(tmp_path / "out", tmp_path / "debs", manifest, download)
    assert str(caught.value) == (
        f"{manifest} line 3: festvox-kallpc16k is reserved for independent evaluation "
        "(RESERVED.md); training.data asterisk cannot use it"
    )


@pytest.mark.parametrize("inner", ["", "recordings"])
def test_dataset_loaders_refuse_a_copy_of_the_reserved_dataset(tmp_path: Path, inner: str) -> None:
    root = tmp_path / "free-spoken-digit-dataset" / inner
    (root / "zero").mkdir(parents=True)
    with pytest.raises(KwsError, match=r"free-spoken-digit-dataset is reserved.*loader cannot"):
        folders(root)
    (tmp_path / "digits" / "zero").mkdir(parents=True)
    assert list(folders(tmp_path / "digits")) == []


def test_the_corpus_generator_refuses_a_reserved_tts_engine(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "training.data", "generate", "--keyword", "hey jarvis",
         "--out", str(tmp_path / "c"), "--engines", "espeak-ng,festival"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "festival is reserved for independent evaluation" in line
    assert not (tmp_path / "c" / "clips").exists()
