"""The real-recordings builder, offline: fake packages made with ``dpkg-deb -b``, the download step
replaced; the written layout, the index and its reading API, resuming, and one-line errors."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.errors import KwsError
from kws.wavfile import load_audio
from tests.test_debian_sounds import fake_deb, tone
from training.data import debian_sounds, recordings
from training.data.__main__ import main as data_main
from training.data.loaders.base import read_audio
from training.data.reserved import RESERVED_PACKAGES

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian tools)"
)
HEADER = "package,version,path,kind,language,licence,split,note\n"
VOICE = "usr/share/voices/anna"
MANIFEST = (
    HEADER
    + f"voices,1.0-1,{VOICE}/*.wav,speech,en,CC0,train,top level only\n"
    + f"voices,1.0-1,{VOICE}/[!s]*/**.wav,speech,en,CC0,train,sub-folders but silence/\n"
    + "tunes,2:3.0-1,usr/share/music/*.ogg,music,,GPL-2+,test,\n"
    + "tunes,2:3.0-1,usr/share/rooms/hall.wav,rir,,GPL-2+,validation,stereo IR\n"
    + "tunes,2:3.0-1,usr/share/none/*.ogg,ambient,,GPL-2+,train,matches nothing\n"
)


def impulse_response(rate: int) -> np.ndarray:
    """0.1 s of silence, then an exponentially decaying noise burst (stereo)."""
    rng = np.random.default_rng(0)
    decay = rng.standard_normal(rate) * np.exp(-np.arange(rate) / (0.05 * rate))
    mono = np.concatenate([np.zeros(rate // 10), 0.5 * decay])
    return np.stack([mono, mono * 0.3], axis=1)


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two fake packages; a long track is cut into pieces, one 'ogg' is corrupt."""
    voices = fake_deb(
        tmp_path,
        "voices",
        "1.0-1",
        {
            f"{VOICE}/hello.wav": tone(1.0, 22050),
            f"{VOICE}/digits/1.wav": tone(0.5, 22050, freq=300.0),
            f"{VOICE}/silence/1.wav": np.zeros(22050),
            f"{VOICE}/empty.wav": np.zeros(0),  # packages ship such files
        },
    )
    music = {
        "usr/share/music/long.ogg": tone(5.0, 22050, channels=2),
        "usr/share/music/short.ogg": tone(1.0, 22050),
        "usr/share/rooms/hall.wav": impulse_response(22050),
    }
    root = tmp_path / "tunes-root"
    tunes = fake_deb(tmp_path, "tunes", "2:3.0-1", music)
    (root / "usr/share/music/broken.ogg").write_bytes(b"OggS not really")
    tunes.unlink()
    subprocess.run(
        ["dpkg-deb", "-b", "--root-owner-group", str(root), str(tunes)], check=True,
        capture_output=True,
    )  # fmt: skip
    debs = {"voices": voices, "tunes": tunes}

    def download(package: str, version: str, cache: Path) -> Path:
        return debs[package]

    monkeypatch.setattr(debian_sounds, "download_deb", download)
    monkeypatch.setattr(recordings, "MAX_PIECE_SECONDS", 2.0)
    manifest = tmp_path / "recordings.csv"
    manifest.write_text(MANIFEST)
    return manifest


def test_builds_the_layout_and_the_index(packages: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    errors: list[str] = []
    summary = recordings.build(out, packages, tmp_path / "cache", errors.append)
    assert len(errors) == 2
    assert errors[0] == "tunes: usr/share/none/*.ogg matches nothing in tunes_2:3.0-1_all.deb"
    assert errors[1].startswith("tunes: usr/share/music/broken.ogg: cannot decode")
    assert summary["errors"] == 2
    assert summary["empty"] == 1  # left out, not an error
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.wav"))
    assert written == [
        "test/music/tunes/music_long.ogg-part1of3.wav",
        "test/music/tunes/music_long.ogg-part2of3.wav",
        "test/music/tunes/music_long.ogg-part3of3.wav",
        "test/music/tunes/music_short.ogg.wav",
        "train/speech/voices/voices_anna_digits_1.wav",
        "train/speech/voices/voices_anna_hello.wav",
        "validation/rir/tunes/rooms_hall.wav",
    ]
    long = [load_audio(out / w) for w in written[:3]]
    assert [len(a) for a in long] == [26667, 26667, 26666]  # 5 s in three equal pieces
    rir = load_audio(out / "validation/rir/tunes/rooms_hall.wav")
    assert 0 < int(np.argmax(np.abs(rir))) <= 16  # starts 1 ms before the peak
    assert np.abs(rir).max() == round(0.9 * 32767)  # peak-normalized
    assert len(rir) < 16000 * 0.6  # the decay is cut at -60 dB, long before the 1 s of noise
    index = json.loads((out / "recordings.json").read_text())
    assert index["summary"]["files"] == 7 and index["summary"]["rirs"]["validation"] == 1
    entries = recordings.load_index(out)
    hello = next(e for e in entries if e.path.endswith("anna_hello.wav"))
    assert hello == recordings.RecordingEntry(
        "train/speech/voices/voices_anna_hello.wav", "voices", "1.0-1",
        f"{VOICE}/hello.wav", "CC0", "speech", "en", "train", 1.0,
    )  # fmt: skip
    assert {e.version for e in entries if e.package == "tunes"} == {"2:3.0-1"}
    assert recordings.recordings(out, "test", "music") == [out / w for w in written[:4]]
    assert recordings.recordings(out, "validation", "speech") == []
    hours = index["summary"]["hours"]
    assert hours["test"]["music"] == pytest.approx(6.0 / 3600, abs=1e-3)


def test_a_rerun_resumes_without_decoding_again(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rec"
    recordings.build(out, packages, tmp_path / "cache", lambda message: None)
    first = (out / "recordings.json").read_text()
    (out / "recordings.json").unlink()
    (out / "test/music/tunes/music_long.ogg-part2of3.wav").unlink()  # an interrupted piece
    decoded: list[str] = []
    real_decode = recordings._decode

    def counting_decode(path: Path, kind: str) -> np.ndarray:
        decoded.append(path.name)
        return real_decode(path, kind)

    monkeypatch.setattr(recordings, "_decode", counting_decode)
    recordings.build(out, packages, tmp_path / "cache", lambda message: None)
    # only what is missing, failed or held nothing
    assert sorted(decoded) == ["broken.ogg", "empty.wav", "long.ogg"]
    assert (out / "recordings.json").read_text() == first  # nothing lost


def test_cli_prints_hours_and_exits_2_on_errors(
    packages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec"
    code = data_main(["recordings", "--out", str(out), "--manifest", str(packages)])
    captured = capsys.readouterr()
    assert code == 2
    lines = [line.split("\r")[-1] for line in captured.err.splitlines() if "error:" in line]
    assert len(lines) == 2 and all(
        line.startswith("training.data: error: tunes: ") for line in lines
    )
    assert "files: 7" in captured.out and "validation" in captured.out
    assert "empty: 1" in captured.out
    notes = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: voices: {VOICE}/empty.wav: no audio samples, left out"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("package,version,path,kind,language,licence,split\n", "not a recordings manifest "
         "(no column 'note')"),
        (HEADER + "p,1,a.wav,noise,,MIT,train,\n", "line 2: kind 'noise' is not one of speech, "
         "music, ambient, rir"),
        (HEADER + "p,1,a.wav,music,,MIT,train,\np,1,b.wav,music,,MIT,dev,\n", "line 3: split "
         "'dev' is not one of train, validation, test"),
        (HEADER + "p,1,a.wav,speech,,MIT,train,\n", "line 2: speech needs a language"),
        (HEADER + "p,,a.wav,music,,MIT,train,\n", "line 2: empty version"),
        (HEADER, "the recordings manifest lists no recordings"),
    ],
)  # fmt: skip
def test_manifest_errors_name_the_file_and_line(tmp_path: Path, body: str, problem: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(body)
    with pytest.raises(KwsError) as caught:
        recordings.read_manifest(manifest)
    sep = " " if problem.startswith("line") else ": "
    assert str(caught.value) == f"{manifest}{sep}{problem}"


def test_a_reserved_package_is_refused_before_any_download(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[str] = []
    monkeypatch.setattr(debian_sounds, "download_deb", lambda p, v, c: downloads.append(p))
    reserved = RESERVED_PACKAGES[0]
    packages.write_text(MANIFEST + f"{reserved},1,usr/share/x/*.ogg,music,,GPL-2+,train,\n")
    with pytest.raises(KwsError) as caught:
        recordings.build(tmp_path / "rec", packages, tmp_path / "cache")
    assert str(caught.value) == (
        f"{packages} line 7: {reserved} is reserved for independent evaluation (RESERVED.md); "
        "training.data recordings cannot use it"
    )
    assert downloads == []
    assert not (tmp_path / "rec").exists()


def test_reading_a_folder_without_an_index_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(KwsError, match=r"no recordings\.json \(build it with: python -m"):
        recordings.load_index(tmp_path)
    with pytest.raises(KwsError, match="kind 'speach' is not one of"):
        recordings.recordings(tmp_path, "train", "speach")


def test_glob_stays_within_folders_unless_doubled() -> None:
    pattern = recordings.glob_regex(f"{VOICE}/[!s]*/**.wav")
    assert pattern.fullmatch(f"{VOICE}/digits/1.wav")
    assert pattern.fullmatch(f"{VOICE}/phonetic/icao/a.wav")
    assert not pattern.fullmatch(f"{VOICE}/silence/1.wav")
    assert not recordings.glob_regex(f"{VOICE}/*.wav").fullmatch(f"{VOICE}/digits/1.wav")


def test_raw_gsm_prompts_decode(tmp_path: Path) -> None:
    """Two Asterisk voices ship headerless GSM 6.10 (.gsm) prompts: 8 kHz mono."""
    path = tmp_path / "prompt.gsm"
    soundfile.write(path, tone(1.0, 8000), 8000, format="RAW", subtype="GSM610")
    audio = read_audio(path)
    assert audio.sample_rate == 8000 and audio.channels == 1
    assert abs(audio.samples.shape[0] - 8000) < 320  # whole 20 ms GSM frames
    assert np.abs(audio.samples).max() > 0.2


def test_gzipped_files_are_decompressed_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian gzips large files under usr/share/doc (csound-doc's example impulse response)."""
    wav = io.BytesIO()
    soundfile.write(wav, impulse_response(22050), 22050, format="WAV")
    examples = "usr/share/doc/rooms/examples"
    deb = fake_deb(
        tmp_path,
        "rooms",
        "1.0-1",
        {f"{examples}/ir.wav.gz": gzip.compress(wav.getvalue()), f"{examples}/bad.wav.gz": b"no"},
    )
    monkeypatch.setattr(debian_sounds, "download_deb", lambda package, version, cache: deb)
    manifest = tmp_path / "recordings.csv"
    manifest.write_text(HEADER + f"rooms,1.0-1,{examples}/*.wav.gz,rir,,GPL-2+,test,\n")
    errors: list[str] = []
    summary = recordings.build(tmp_path / "rec", manifest, tmp_path / "cache", errors.append)
    assert errors == [
        f"rooms: {examples}/bad.wav.gz: cannot decompress (Not a gzipped file (b'no'))"
    ]
    assert summary["rirs"] == {"train": 0, "validation": 0, "test": 1}
    rir = load_audio(tmp_path / "rec/test/rir/rooms/doc_rooms_examples_ir.wav")
    assert np.abs(rir).max() == round(0.9 * 32767) and len(rir) < 16000 * 0.6


TRANSCRIPTS = (
    "package,version,path,format,describes,root,licence,note\n"
    + f"voices-doc,1.0-1,usr/share/doc/voices/*.txt.gz,asterisk,voices,{VOICE},CC0,\n"
    + "elsewhere-doc,1.0-1,x.txt,asterisk,elsewhere,usr/x,CC0,of a package not in the manifest\n"
)


def test_transcripts_say_what_each_recording_says(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The texts a package writes down reach the index, so that recordings saying a keyword can
    be left out; rows about packages the recordings manifest does not take are not fetched."""
    texts = "; Core sounds\nhello: Hello there, press 1.\ndigits/1: One.\nnever: Not shipped.\n"
    doc = fake_deb(
        tmp_path, "voices-doc", "1.0-1",
        {"usr/share/doc/voices/core-sounds-en.txt.gz": gzip.compress(texts.encode())},
    )  # fmt: skip
    fixture_download = debian_sounds.download_deb
    fetched: list[str] = []

    def download(package: str, version: str, cache: Path) -> Path:
        fetched.append(package)
        return doc if package == "voices-doc" else fixture_download(package, version, cache)

    monkeypatch.setattr(debian_sounds, "download_deb", download)
    manifest = tmp_path / "transcripts.csv"
    manifest.write_text(TRANSCRIPTS)
    out = tmp_path / "rec"
    summary = recordings.build(out, packages, tmp_path / "cache", lambda m: None, manifest)
    assert "elsewhere-doc" not in fetched
    said = {e.path.rsplit("/", 1)[1]: e.text for e in recordings.load_index(out)}
    assert said["voices_anna_hello.wav"] == "Hello there, press 1."
    assert said["voices_anna_digits_1.wav"] == "One."
    assert said["music_short.ogg.wav"] is None
    assert set(summary["speech_transcribed_hours"]) == {"train", "validation", "test"}
    speech = recordings.recordings(out, "train", "speech")
    assert recordings.recordings(out, "train", "speech", ["one"]) == []  # "1" is "one"
    assert recordings.recordings(out, "train", "speech", ["hello there"]) == [
        p for p in speech if p.name == "voices_anna_digits_1.wav"
    ]
    assert recordings.recordings(out, "train", "speech", ["someone", "hell"]) == speech


def test_numerals_are_english_words_only_in_english_recordings() -> None:
    def entry(language: str, text: str) -> recordings.RecordingEntry:
        return recordings.RecordingEntry(
            "a.wav", "p", "1", "a.wav", "CC0", "speech", language, "train", 1.0, text
        )

    kept = recordings.saying_none_of(
        [entry("en-US", "press 1"), entry("fr-CA", "appuyez sur 1"), entry("es", "no, gracias"),
         entry("en", "twenty-one"), entry("en", "someone")],
        ["one", "no"],
    )  # fmt: skip
    assert [e.text for e in kept] == ["appuyez sur 1", "someone"]


def test_a_stamp_description_names_each_language_recording() -> None:
    from training.data.transcripts import parse_tuxpaint, stem

    text = "A crow.\nes.utf8=Un cuervo.\npt_BR.utf8=Um corvo.\n"
    assert parse_tuxpaint("usr/share/tuxpaint/stamps/birds/crow.txt", text) == {
        "usr/share/tuxpaint/stamps/birds/crow_desc": "A crow.",
        "usr/share/tuxpaint/stamps/birds/crow_desc_es": "Un cuervo.",
        "usr/share/tuxpaint/stamps/birds/crow_desc_pt_BR": "Um corvo.",
    }
    assert stem("usr/share/tuxpaint/stamps/birds/crow_desc_es.ogg") == (
        "usr/share/tuxpaint/stamps/birds/crow_desc_es"
    )


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("p,1,a.txt,srt,voices,,CC0,\n", "line 2: format 'srt' is not one of asterisk, tuxpaint"),
        ("p,1,a.txt,asterisk,voices,,CC0,\n", "line 2: an asterisk transcript needs a root"),
        ("klettres-data,1,a.txt,tuxpaint,voices,,CC0,\n", "klettres-data"),
    ],
)
def test_transcript_manifest_errors_are_one_line(tmp_path: Path, row: str, problem: str) -> None:
    from training.data import transcripts

    manifest = tmp_path / "t.csv"
    manifest.write_text(TRANSCRIPTS.splitlines(keepends=True)[0] + row)
    with pytest.raises(KwsError, match=problem) as caught:
        transcripts.read_manifest(manifest)
    assert str(manifest) in str(caught.value) and "\n" not in str(caught.value)


def test_transcripts_that_cannot_be_had_are_one_line_each_and_lose_nothing(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transcript package that cannot be fetched, or whose file is corrupt, is one reported
    line naming it; the recordings are all written, without a text."""
    broken = fake_deb(
        tmp_path,
        "voices-doc",
        "1.0-1",
        {"usr/share/doc/voices/core-sounds-en.txt.gz": b"\x1f\x8bno"},
    )
    fixture_download = debian_sounds.download_deb

    def download(package: str, version: str, cache: Path) -> Path:
        if package == "gone-doc":
            raise KwsError(f"{package}: apt-get download failed (no such package)")
        return broken if package == "voices-doc" else fixture_download(package, version, cache)

    monkeypatch.setattr(debian_sounds, "download_deb", download)
    manifest = tmp_path / "transcripts.csv"
    manifest.write_text(
        TRANSCRIPTS.splitlines(keepends=True)[0]
        + f"voices-doc,1.0-1,usr/share/doc/voices/*.txt.gz,asterisk,voices,{VOICE},CC0,\n"
        + "gone-doc,1.0-1,a.txt,tuxpaint,voices,,CC0,\n"
    )
    errors: list[str] = []
    out = tmp_path / "rec"
    recordings.build(out, packages, tmp_path / "cache", errors.append, manifest)
    transcript_errors = [e for e in errors if "transcripts" in e]
    assert len(transcript_errors) == 2 and all("\n" not in e for e in transcript_errors)
    assert transcript_errors[0].startswith("voices-doc: transcripts: ")
    assert transcript_errors[0].startswith(
        "voices-doc: transcripts: usr/share/doc/voices/core-sounds-en.txt.gz: cannot read ("
    )
    assert (
        transcript_errors[1] == "gone-doc: transcripts: apt-get download failed (no such package)"
    )
    entries = recordings.load_index(out)
    assert len(entries) == 7 and all(e.text is None for e in entries)
