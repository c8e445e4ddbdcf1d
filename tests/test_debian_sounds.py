"""The Debian-package sound corpus builder, offline: fake packages made with ``dpkg-deb -b``,
the download step replaced, the output read back by the ESC-50 loader."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.errors import KwsError
from kws.wavfile import load_audio
from training.data import debian_sounds
from training.data.__main__ import main as data_main
from training.data.loaders import esc50

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian tools)"
)
SOUNDS = "usr/share/sounds/game"


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def fake_deb(
    tmp: Path, package: str, version: str, files: dict[str, np.ndarray | str | bytes]
) -> Path:
    """A .deb holding ``files`` (audio arrays at 22.05 kHz, symlink targets as str, or a file's
    bytes)."""
    root = tmp / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: test sounds\n"
    )
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.symlink_to(content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            soundfile.write(path, content, 22050)
    deb = tmp / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)  # fmt: skip
    return deb


MANIFEST = f"""class,package,deb_version,path_in_package,window_start_s
dog,game-sounds,1.0-1,{SOUNDS}/dog.wav,0
rain,game-sounds,1.0-1,{SOUNDS}/rain.ogg,1.5
dog,game-sounds,1.0-1,{SOUNDS}/dog-again.wav,0
cat,game-sounds,1.0-1,{SOUNDS}/missing.wav,0
cat,other-sounds,2:3.0-1,{SOUNDS}/cat.wav,0
"""


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake packages: game-sounds builds, other-sounds cannot be downloaded."""
    short = np.concatenate([np.zeros(4410), tone(1.0, 22050), np.zeros(2205)])
    files = {
        f"{SOUNDS}/dog.wav": np.stack([short, short * 0.5], axis=1),  # stereo, short
        f"{SOUNDS}/rain.ogg": tone(8.0, 22050, freq=1000.0),
        f"{SOUNDS}/dog-again.wav": "dog.wav",  # Debian packages deduplicate with symlinks
    }
    deb = fake_deb(tmp_path, "game-sounds", "1.0-1", files)

    def download(package: str, version: str, cache: Path) -> Path:
        if package == "game-sounds":
            return deb
        raise KwsError(f"apt-get download {package} failed (E: Unable to locate package)")

    monkeypatch.setattr(debian_sounds, "download_deb", download)
    manifest = tmp_path / "sounds.csv"
    manifest.write_text(MANIFEST)
    return manifest


def test_builds_the_esc50_layout(packages: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    errors: list[str] = []
    summary = debian_sounds.build(out, packages, tmp_path / "cache", errors.append)
    assert summary == {"clips": 3, "errors": 2, "classes": 3, "folds": 2}
    assert errors == [
        f"game-sounds: {SOUNDS}/missing.wav is not in game-sounds_1.0-1_all.deb",
        f"other-sounds: {SOUNDS}/cat.wav: apt-get download other-sounds failed "
        "(E: Unable to locate package)",
    ]
    with open(out / "meta/esc50.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:7] == list(debian_sounds.ESC50_COLUMNS)
    # classes sorted: cat 0, dog 1, rain 2; fold = package in sorted order (game-sounds = 1)
    assert [(r["filename"], r["category"], r["fold"]) for r in rows] == [
        ("1-1-A-1.wav", "dog", "1"),
        ("1-2-A-2.wav", "rain", "1"),
        ("1-3-A-1.wav", "dog", "1"),
    ]
    examples = list(esc50(out))
    assert [(e.label, e.fold) for e in examples] == [("dog", 1), ("rain", 1), ("dog", 1)]
    dog = load_audio(out / "audio/1-1-A-1.wav")
    assert len(dog) == 5 * 16000
    # 1 s of tone, leading silence trimmed, zero-padded at the end like ESC-50
    assert np.abs(dog[:160]).max() > 1000
    assert np.abs(dog[17000:]).max() == 0
    assert np.array_equal(dog, load_audio(out / "audio/1-3-A-1.wav"))
    rain = load_audio(out / "audio/1-2-A-2.wav")
    assert len(rain) == 80000 and np.abs(rain).max() > 10000  # cut from 1.5 s, not padded


def test_cli_reports_each_failure_in_one_line(
    packages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus"
    assert data_main(["debian-sounds", "--out", str(out), "--manifest", str(packages)]) == 2
    captured = capsys.readouterr()
    # the progress bar redraws with carriage returns; each message is a line of its own
    lines = [line.split("\r")[-1] for line in captured.err.splitlines() if "error:" in line]
    assert len(lines) == 2 and all(line.startswith("training.data: error: ") for line in lines)
    assert "clips: 3" in captured.out


def test_bad_manifest_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "bad.csv"
    manifest.write_text("class,package,deb_version,path_in_package,window_start_s\n"
                        "dog,p,1,a.wav,soon\n")  # fmt: skip
    assert data_main(["debian-sounds", "--out", str(tmp_path), "--manifest", str(manifest)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"training.data: error: {manifest} line 2: window_start_s must be a number >= 0")
    manifest.write_text("class,package\ndog,p\n")
    with pytest.raises(KwsError, match="no column 'deb_version'"):
        debian_sounds.read_manifest(manifest)


def test_download_falls_back_to_the_available_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    calls = []

    def fake_run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
        calls.append(command[-1])
        if command[-1] == "pkg=1:1.0-1":
            return subprocess.CompletedProcess(command, 100, "", "E: Version '1:1.0-1' not found")
        (cwd / "pkg_1%3a2.0-1_all.deb").write_bytes(b"deb")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(debian_sounds, "_run", fake_run)
    deb = debian_sounds.download_deb("pkg", "1:1.0-1", tmp_path)
    assert deb.name == "pkg_1%3a2.0-1_all.deb" and calls == ["pkg=1:1.0-1", "pkg"]
    assert "pkg 1:1.0-1 is not available; using pkg_1%3a2.0-1_all.deb" in capsys.readouterr().err
    # the exact version, once cached, is used without asking apt
    (tmp_path / "pkg_1%3a1.0-1_all.deb").write_bytes(b"deb")
    assert debian_sounds.download_deb("pkg", "1:1.0-1", tmp_path).name == "pkg_1%3a1.0-1_all.deb"
    assert len(calls) == 2


def test_cut_clip_pads_short_and_cuts_long() -> None:
    short = np.concatenate([np.zeros(100, np.int16), np.full(1000, 5000, np.int16)])
    clip = debian_sounds.cut_clip(short, 0.0)
    assert len(clip) == 80000 and clip[0] == 5000 and clip[1000] == 0
    long = np.arange(200000).astype(np.int16)
    assert np.array_equal(debian_sounds.cut_clip(long, 2.0), long[32000:112000])


def test_one_fold_per_package_and_copies_across_packages_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debs = {
        f"pkg{k}": fake_deb(
            tmp_path, f"pkg{k}", "1", {f"{SOUNDS}/a.wav": tone(0.5, 22050, freq=200.0 * (k + 1))}
        )
        for k in range(6)
    }
    # pkg6 ships pkg0's recording under another name: it would sit on both sides of a split
    debs["pkg6"] = fake_deb(
        tmp_path, "pkg6", "1", {f"{SOUNDS}/b.wav": tone(0.5, 22050, freq=200.0)}
    )
    monkeypatch.setattr(
        debian_sounds, "download_deb", lambda package, version, cache: debs[package]
    )
    manifest = tmp_path / "sounds.csv"
    manifest.write_text(
        "class,package,deb_version,path_in_package,window_start_s,license\n"
        + "".join(f"dog,pkg{k},1,{SOUNDS}/a.wav,0,CC0\n" for k in range(6))
        + f"dog,pkg6,1,{SOUNDS}/b.wav,0,CC0\n"
    )
    errors: list[str] = []
    summary = debian_sounds.build(tmp_path / "corpus", manifest, tmp_path / "cache", errors.append)
    assert summary == {"clips": 6, "errors": 1, "classes": 1, "folds": 7}
    assert errors == [f"pkg6: {SOUNDS}/b.wav is the same recording as one in pkg0"]
    assert sorted(e.fold for e in esc50(tmp_path / "corpus")) == [1, 2, 3, 4, 5, 6]


def test_a_member_of_a_zip_archive_in_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = io.BytesIO()
    soundfile.write(wav, tone(6.0, 22050, freq=300.0), 22050, format="WAV")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("audio/rain.wav", wav.getvalue())
    deb = fake_deb(tmp_path, "zipped", "1", {f"{SOUNDS}/public.zip": archive.getvalue()})
    monkeypatch.setattr(debian_sounds, "download_deb", lambda package, version, cache: deb)
    manifest = tmp_path / "sounds.csv"
    manifest.write_text(
        "class,package,deb_version,path_in_package,window_start_s,license\n"
        f"rain,zipped,1,{SOUNDS}/public.zip!audio/rain.wav,1.0,CC0\n"
        f"rain,zipped,1,{SOUNDS}/public.zip!audio/gone.wav,0,CC0\n"
    )
    errors: list[str] = []
    summary = debian_sounds.build(tmp_path / "corpus", manifest, tmp_path / "cache", errors.append)
    assert summary == {"clips": 1, "errors": 1, "classes": 1, "folds": 1}
    assert len(errors) == 1 and errors[0].startswith(
        f"zipped: {SOUNDS}/public.zip!audio/gone.wav: cannot read member audio/gone.wav"
    )
    rain = load_audio(tmp_path / "corpus/audio/1-1-A-0.wav")
    assert len(rain) == 80000 and np.abs(rain).max() > 10000
