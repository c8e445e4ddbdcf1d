"""No tracked file names an absolute path outside the checkout: a clone has none of the folders of
the machine the models were made on, so commands, configs, results and the metadata inside the
shipped models must name paths relative to the checkout (``data/...``, ``runs/...``).

Every file ``git ls-files`` lists is searched as bytes (text and binary alike, ``.tflite``
included). An absolute path is a ``/`` that starts a token (not after a letter, digit, ``.``,
``~``, ``$``, ``/``, ``:`` and the like, so ``FRR/FA``, ``./x``, ``~/x``, ``$HOME/x``, ``<root>/x``
and URLs are not paths) followed by a component and a second one. Allowed are the system
directories the code legitimately uses on every Debian machine: ``usr`` (package data under
``usr/share``: word lists, copyright files, Asterisk prompts; ``usr/bin/env`` shebangs), ``dev``
(``dev/null``), ``proc`` (``proc/self/status`` for peak memory), and where a service is
deployed: ``etc`` (its configuration, ``etc/kws/kws.toml``, the systemd unit's folder), ``opt``
(where the unit and the arm64 root install kws) and ``var`` (``var/lib/kws``, the unit's state;
``var/tmp``, the arm64 root). Everything else is flagged,
``tmp`` included (a path there is one run's scratch folder), and the home and work roots (work,
home, root, Users, mnt) are flagged even with nothing after them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kws.paths import portable_path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_DIRS = frozenset({b"usr", b"dev", b"proc", b"etc", b"opt", b"var"})
_START = rb"(?<![\w.~$}>)\]\\/:%*+-])"
_MACHINE_ROOT = re.compile(_START + rb"/(?:work|home|root|Users|mnt)(?![\w.-])")
_ABSOLUTE = re.compile(_START + rb"/([\w.-]+)/[\w.-]")


def absolute_paths(data: bytes) -> list[tuple[int, str]]:
    """(line, path) of every absolute path outside the allowed system directories in ``data``."""
    found = {}
    for match in _MACHINE_ROOT.finditer(data):
        found[match.start()] = match
    for match in _ABSOLUTE.finditer(data):
        if match.group(1) not in SYSTEM_DIRS:
            found.setdefault(match.start(), match)
    out = []
    for start in sorted(found):
        path = re.match(rb"/[\w./-]*", data[start:])
        assert path is not None
        text = path.group(0)[:80].decode("ascii", errors="replace")
        out.append((data.count(b"\n", 0, start) + 1, text))
    return out


def without_samples(data: bytes) -> bytes:
    """A file's bytes with its numeric payload left out: a RIFF/WAVE file's sample data, a
    PNG's compressed image data (IDAT) and a TFLite model's weights, whose bytes can spell a
    path by chance (a retrained hey_jarvis's weights spelled one); headers and text metadata
    (a model's metadata entries) are kept, other files unchanged."""
    if data[4:8] == b"TFL3":
        from kws.tflite_file import read_metadata_entries

        return b"\n".join(read_metadata_entries(data).values())
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        kept, at = [data[:12]], 12
        while at + 8 <= len(data):
            size = int.from_bytes(data[at + 4 : at + 8], "little")
            end = at + 8 + size + (size & 1)
            kept.append(data[at : at + 8] if data[at : at + 4] == b"data" else data[at:end])
            at = end
        return b"".join(kept)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        kept, at = [data[:8]], 8
        while at + 8 <= len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            end = at + 12 + size  # length, type, data, CRC
            kept.append(data[at : at + 8] if data[at + 4 : at + 8] == b"IDAT" else data[at:end])
            at = end
        return b"".join(kept)
    return data


def offending_paths(checkout: Path) -> list[str]:
    """``file:line: path`` for each absolute path in the files tracked in ``checkout``."""
    listing = subprocess.run(
        ["git", "-C", str(checkout), "ls-files", "-z"], capture_output=True, check=False
    )
    if listing.returncode != 0:
        pytest.skip(f"{checkout} is not a git checkout")
    problems = []
    for name in listing.stdout.decode().split("\0"):
        path = checkout / name
        if not name or not path.is_file() or path.is_symlink():
            continue
        for line, found in absolute_paths(without_samples(path.read_bytes())):
            problems.append(f"{name}:{line}: {found}")
    return problems


def test_no_tracked_file_names_an_absolute_path_outside_the_checkout() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    problems = offending_paths(ROOT)
    assert not problems, "absolute paths outside the checkout (write data/..., runs/...):\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize(
    "text",
    [
        "--data /" + "work/corpus/alexa",
        '"model": "/' + 'home/me/runs/x.tflite"',
        "cd /" + "work",
        "(/" + "mnt/disk/data)",
        "`/" + "tmp/run/results.json`",
        "/" + "Users/me/kws",
        "=/" + "srv/data/x",
    ],
)
def test_detector_flags_paths_of_one_machine(text: str) -> None:
    assert absolute_paths(b"first line\n" + text.encode()) != []
    assert absolute_paths(b"first line\n" + text.encode())[0][0] == 2


@pytest.mark.parametrize(
    "text",
    [
        "data/hey_jarvis/eval/positives/positives.json",
        "runs/commands/ship2 and FRR/FA at 1 FA/h",
        "#!/usr/bin/env bash; 2>/dev/null; open('/proc/self/status')",
        "https://github.com/owner/name/blob/main/x.py",
        "<root>/meta/esc50.csv, ./x/y, ../x/y, ~/x/y, $HOME/x/y, ${DIR}/x/y",
        "the vowel /a/ gliding to /i/, a / b, /usr/share/dict/words",
        "speaker_encoder_1/conv0_1/convolution;vgg_1/bn0_1/batchnorm/sub",
    ],
)
def test_detector_passes_relative_and_system_paths(text: str) -> None:
    assert absolute_paths(text.encode()) == []


def test_detector_reports_file_and_line_of_a_planted_path(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.md").write_text("python -m x --out runs/x\n")
    (tmp_path / "docs" / "bad.md").write_text("one\ntwo\nrun --data /" + "work/corpus/x\n")
    (tmp_path / "model.tflite").write_bytes(b"TFL3\x00\x01/" + b"home/u/corpus\x00\xff")
    (tmp_path / "untracked.md").write_text("/" + "work/untracked/x\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "docs", "model.tflite"], check=True)
    assert offending_paths(tmp_path) == [
        "docs/bad.md:3: /" + "work/corpus/x",
        "model.tflite:1: /" + "home/u/corpus",
    ]


def test_wav_samples_are_not_searched_but_their_metadata_is() -> None:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return tag + len(body).to_bytes(4, "little") + body + b"\0" * (len(body) & 1)

    planted = b"/" + b"home/u/x"
    body = b"WAVE" + chunk(b"fmt ", b"\0" * 16) + chunk(b"data", b"\1/V/L-7-" + planted)
    wav = b"RIFF" + len(body).to_bytes(4, "little") + body
    assert absolute_paths(without_samples(wav)) == []
    tagged = wav + chunk(b"LIST", b"INFOICMT\x09\0\0\0" + planted)
    assert [p for _, p in absolute_paths(without_samples(tagged))] == [planted.decode()]


def test_png_image_data_is_not_searched_but_its_text_chunks_are() -> None:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + tag + body + b"\0\0\0\0"  # CRC not checked

    planted = b"/" + b"home/u/x"
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\0" * 13) + chunk(b"IDAT", b"x/Bh/o" + planted)
    assert absolute_paths(without_samples(png + chunk(b"IEND", b""))) == []
    tagged = png + chunk(b"tEXt", b"Source\0" + planted) + chunk(b"IEND", b"")
    assert [p for _, p in absolute_paths(without_samples(tagged))] == [planted.decode()]


def test_outside_a_git_checkout_the_check_skips(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception):
        offending_paths(tmp_path)


def test_portable_path_is_relative_inside_the_cwd_and_as_given_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    assert portable_path(checkout / "data" / "alexa") == "data/alexa"
    assert portable_path(str(checkout / "runs" / ".." / "runs" / "x.tflite")) == "runs/x.tflite"
    assert portable_path(checkout) == "."
    assert portable_path("data/alexa") == "data/alexa"
    assert portable_path("--seconds") == "--seconds"
    outside = str(tmp_path / "checkout-other" / "x")  # a sibling sharing the name's prefix
    assert portable_path(outside) == outside


def test_the_built_in_sound_manifest_ships_in_the_checkout() -> None:
    from training.data.debian_sounds import DEFAULT_MANIFEST, read_manifest

    assert DEFAULT_MANIFEST.parent == ROOT / "training" / "data" / "manifests"
    recordings = read_manifest(DEFAULT_MANIFEST)
    assert len(recordings) == 624 and len({r.package for r in recordings}) == 38
    text = DEFAULT_MANIFEST.read_text()
    rows = [line.split(",") for line in text.splitlines()]
    assert rows[0][-1] == "license" and all(len(row) == 6 and row[-1] for row in rows)
