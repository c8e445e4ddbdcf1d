"""Speaker-verification data: the Asterisk builder on a fake .deb (download monkeypatched), the
folders loader reading its output, and the synthetic TTS speakers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from kws.wavfile import read_wav, write_wav
from training.data import asterisk
from training.data.__main__ import main as data_main
from training.data.asterisk import AsteriskVoice, build_asterisk
from training.data.loaders import folders

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

VOICE = AsteriskVoice("asterisk-core-sounds-xx-wav", "xx_XX_f_Test", "test_voice", "f", "test")


def _tone(seconds: float, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def fake_deb(tmp: Path, package: str = VOICE.package, folder: str = VOICE.folder) -> Path:
    """A real .deb built with dpkg-deb -b: two prompts, a digit, a too-short beep, silence."""
    root = tmp / "pkg"
    sounds = root / "usr/share/asterisk/sounds" / folder
    for relative, seconds in [
        ("vm-intro.wav", 1.5),
        ("auth-thankyou.wav", 0.8),
        ("digits/1.wav", 0.5),
        ("beep.wav", 0.1),
        ("silence/1.wav", 1.0),
    ]:
        (sounds / relative).parent.mkdir(parents=True, exist_ok=True)
        samples = np.zeros(8000, np.int16) if "silence" in relative else _tone(seconds)
        write_wav(sounds / relative, samples, 8000)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test prompts\n"
    )
    deb = tmp / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def test_builder_writes_16khz_speaker_folders_from_a_deb(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path)
    fetched = []

    def download(package: str, cache: Path) -> Path:
        fetched.append(package)
        return deb

    out = tmp_path / "out"
    summary = build_asterisk(out, tmp_path / "cache", [VOICE], download=download)
    assert fetched == [VOICE.package]
    files = sorted(p.name for p in (out / "test/test_voice").iterdir())
    assert files == ["xx_auth-thankyou.wav", "xx_digits_1.wav", "xx_vm-intro.wav"]
    audio = read_wav(out / "test/test_voice/xx_vm-intro.wav")
    assert audio.sample_rate == 16000 and abs(audio.samples.shape[0] / 16000 - 1.5) < 0.02
    assert summary["test_voice"]["utterances"] == 3
    assert summary["test_voice"]["skipped"] == 1  # the beep; silence is never read
    assert json.loads((out / "speakers.json").read_text())["test_voice"]["split"] == "test"
    examples = list(folders(out))
    assert {(e.label, e.split) for e in examples} == {("test_voice", "test")}
    # A rerun keeps the files and reports the same counts.
    again = build_asterisk(out, tmp_path / "cache", [VOICE], download=download)
    assert again["test_voice"]["utterances"] == 3


def test_builder_names_a_deb_without_the_voice_folder(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path, folder="other_folder")
    with pytest.raises(KwsError, match="xx_XX_f_Test"):
        build_asterisk(tmp_path / "out", tmp_path, [VOICE], download=lambda p, c: deb)


def test_builder_reports_a_broken_deb(tmp_path: Path) -> None:
    bad = tmp_path / "broken.deb"
    bad.write_bytes(b"not a deb")
    with pytest.raises(KwsError, match="dpkg-deb -x"):
        build_asterisk(tmp_path / "out", tmp_path, [VOICE], download=lambda p, c: bad)


def test_apt_download_reuses_the_cache_and_reports_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / f"{VOICE.package}_1.0_all.deb"
    cached.write_bytes(b"x")
    monkeypatch.setattr(asterisk, "_run", lambda *a, **k: pytest.fail("should not download"))
    assert asterisk.apt_download(VOICE.package, tmp_path) == cached
    monkeypatch.undo()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(KwsError, match="apt-get"):
        asterisk.apt_download("some-package", tmp_path / "c")


def test_real_voices_hold_out_whole_speakers() -> None:
    splits: dict[str, set[str]] = {}
    for voice in asterisk.VOICES:
        splits.setdefault(voice.speaker, set()).add(voice.split)
    assert all(len(s) == 1 for s in splits.values())  # en and es Allison share one split
    held_out = {s for s, v in splits.items() if v & {"validation", "test"}}
    assert held_out == {"carlo_flora", "june_wallack", "menardi_it"}


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
