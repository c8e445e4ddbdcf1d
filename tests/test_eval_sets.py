"""Corpora with real recordings: clips cut from each split's own recordings, evaluation sets
that mix in only their own split's recordings and impulse responses, and a clear error when the
recordings folder has no index. The recordings are written by the test (noise and tones)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from kws.wavfile import write_wav
from training.data.augment import AugmentConfig
from training.data.corpus import CorpusConfig
from training.data.eval_sets import load_real
from training.data.generate import generate

pytestmark = pytest.mark.slow
RATE = 16000


def write_recordings(root: Path) -> None:
    """A recordings folder (layout and index of training.data.recordings) with 20 s of speech-
    like noise, a tone 'music' and an ambience per split, and an impulse response per split."""
    rng = np.random.default_rng(0)
    entries = []
    for split in ("train", "validation", "test"):
        for kind in ("speech", "music", "ambient", "rir"):
            seconds = 0.3 if kind == "rir" else 20.0
            n = round(seconds * RATE)
            if kind == "music":
                audio = 0.3 * np.sin(2 * np.pi * 330 * np.arange(n) / RATE)
            elif kind == "rir":
                audio = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * RATE))
                audio[0] = 1.0
                audio /= np.abs(audio).max()
            else:
                audio = 0.1 * rng.standard_normal(n)
            path = f"{split}/{kind}/pkg-{split}/{kind}.wav"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            write_wav(root / path, np.round(audio * 32000).astype(np.int16), RATE)
            entries.append({
                "path": path, "package": f"pkg-{split}", "version": "1", "path_in_package":
                f"usr/share/{kind}.wav", "licence": "CC0", "kind": kind, "language": "",
                "split": split, "seconds": seconds,
            })  # fmt: skip
    index = {"manifest": "test.csv", "summary": {}, "recordings": entries}
    (root / "recordings.json").write_text(json.dumps(index))


def test_each_split_hears_only_its_own_recordings(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    config = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), positives=6, confusables=0, speech=0,
        noise=0, music=0, silence=0, recorded=30, recordings=str(recordings), eval_positives=4,
        eval_negative_hours=0.02, eval_sentences=4, eval_confusables=2, eval_snrs_db=(10.0,),
        eval_reverb_share=0.5, augment=AugmentConfig(late_reverb=True, real_rir_p=0.5),
    )  # fmt: skip
    out = tmp_path / "corpus"
    summary = generate(config, out, workers=2)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert json.loads((out / "corpus.json").read_text())["augment"]["real_rir_p"] == 0.5
    recorded = [r for r in rows if r["kind"] == "recorded"]
    assert len(recorded) == 30 and all(r["label"] == "_background_" for r in recorded)
    for row in recorded:  # cut from its own split's recordings, never another's
        assert row["source"].startswith(f"{row['split']}/")
    assert {r["source"].split("/")[1] for r in recorded} == {"speech", "music", "ambient"}
    for role in ("validation", "test"):
        positives = json.loads((out / f"eval/{role}/positives/positives.json").read_text())
        events = [e for s in positives["streams"] for e in s["events"]]
        rirs = {e["info"]["rir"] for e in events if e["info"]["room"] == "reverb"}
        assert rirs == {f"{role}/rir/pkg-{role}/rir.wav"}  # its own split's real room
        assert "ambient" in positives["backgrounds"]
        negatives = json.loads((out / f"eval/{role}/negatives/negatives.json").read_text())
        kinds = {k for f in negatives["files"] for k in f["kinds"]}
        assert kinds & {"recorded_speech", "recorded_music", "recorded_ambient"}
        assert set(summary["eval"][role]["negative_hours_by_kind"]) == kinds
        real = load_real(recordings, role, seed=0)  # what the set's sources are drawn from
        assert sorted(real.by_kind) == ["ambient", "music", "speech"] and len(real.rirs) == 1
        assert all(n.startswith(f"{role}/") for names in real.names.values() for n in names)


def test_a_recordings_folder_without_index_fails_before_rendering(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "training.data", "generate", "--keyword", "hey jarvis",
         "--out", str(tmp_path / "c"), "--recordings", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "no recordings.json" in line and str(tmp_path / "none") in line
    assert not (tmp_path / "c" / "clips").exists()


def test_a_split_without_recordings_is_one_line_before_rendering(tmp_path: Path) -> None:
    from training.data.corpus import plan

    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    index = json.loads((recordings / "recordings.json").read_text())
    index["recordings"] = [e for e in index["recordings"] if e["split"] != "validation"]
    (recordings / "recordings.json").write_text(json.dumps(index))
    config = CorpusConfig(keyword="hey jarvis", engines=("espeak-ng",), recordings=str(recordings))
    with pytest.raises(KwsError, match="no validation speech, music or ambience recordings"):
        plan(config)


def test_impulse_responses_are_their_own_splits_direct_sound_first(tmp_path: Path) -> None:
    from kws.errors import KwsError
    from kws.wavfile import load_audio
    from training.data.recordings import impulse_responses

    write_recordings(tmp_path)
    for split in ("train", "validation", "test"):
        (rir,) = impulse_responses(tmp_path, split)
        written = load_audio(tmp_path / f"{split}/rir/pkg-{split}/rir.wav").astype(np.float64)
        peak = int(np.argmax(np.abs(written)))  # the direct sound: the loudest arrival
        assert rir[0] == 1.0 and np.allclose(rir, written[peak:] / written[peak])
    silent = tmp_path / "test/rir/pkg-test/rir.wav"
    write_wav(silent, np.zeros(800, np.int16), RATE)
    with pytest.raises(KwsError, match="a silent impulse response") as caught:
        impulse_responses(tmp_path, "test")
    assert str(silent) in str(caught.value)
    index = json.loads((tmp_path / "recordings.json").read_text())
    index["recordings"] = [e for e in index["recordings"] if e["kind"] != "rir"]
    (tmp_path / "recordings.json").write_text(json.dumps(index))
    with pytest.raises(KwsError, match="no train impulse responses"):
        impulse_responses(tmp_path, "train")


def test_a_wake_word_said_inside_sentences_is_timed_to_itself(tmp_path: Path) -> None:
    """``eval_in_sentences`` puts that share of the positives inside words of held-out
    sentences; each event's span is the phrase's own, its context is 'sentence' and its
    position says whether words follow it, come before it or both."""
    from benchmarks.streams import read_positive_manifest

    config = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), eval_positives=6, eval_in_sentences=0.5,
        eval_negative_hours=0.003, eval_sentences=6, eval_confusables=2, eval_snrs_db=(10.0,),
    )  # fmt: skip
    generate(config, tmp_path / "c", workers=2, eval_only=True)
    manifest = tmp_path / "c/eval/validation/positives/positives.json"
    events = [e for s in json.loads(manifest.read_text())["streams"] for e in s["events"]]
    positives = [p for s in read_positive_manifest(manifest) for p in s.positives]
    assert [p.context for p in positives].count("sentence") == 3 == len(positives) // 2
    for event, positive in zip(events, positives, strict=True):
        info = event["info"]
        assert (info.get("context") == "sentence") == (positive.context == "sentence")
        if positive.context == "sentence":
            start, end = info["keyword_s"]
            assert info["before"] or info["after"]
            # where it sits: "first" is a wake word followed by its command
            first, last = not info["before"], not info["after"]
            assert positive.position == ("first" if first else "last" if last else "middle")
            assert "jarvis" not in f"{info['before']} {info['after']}".lower()
            assert positive.offset_s - positive.onset_s == pytest.approx(end - start, abs=1e-3)
        else:
            assert positive.position == "alone"
    assert json.loads((tmp_path / "c/corpus.json").read_text())["eval_in_sentences"] == 0.5


def test_recordings_that_say_the_keyword_are_never_its_negatives(tmp_path: Path) -> None:
    """A real prompt saying the keyword ("press 1" for "one") is left out of the recorded
    training clips, the evaluation negatives and the recordings mining reads; prompts whose
    transcript says something else, or that have none, stay."""
    from training.core.mining import mining_sources
    from training.data.corpus import recorded_windows

    root = tmp_path / "recordings"
    write_recordings(root)
    index = json.loads((root / "recordings.json").read_text())
    for split in ("train", "validation", "test"):
        path = f"{split}/speech/pkg-{split}/prompt.wav"
        write_wav(root / path, np.full(RATE * 20, 800, dtype=np.int16), RATE)
        index["recordings"].append({
            "path": path, "package": f"pkg-{split}", "version": "1", "path_in_package":
            "usr/share/prompt.wav", "licence": "CC0", "kind": "speech", "language": "en-US",
            "split": split, "seconds": 20.0, "text": "To hear it again, press 1.",
        })  # fmt: skip
    (root / "recordings.json").write_text(json.dumps(index))

    for role in ("validation", "test"):
        heard = load_real(root, role, seed=0).names["speech"]
        assert f"{role}/speech/pkg-{role}/prompt.wav" in heard
        for keyword in ("one", "One"):
            kept = load_real(root, role, seed=0, avoid=[keyword]).names["speech"]
            assert kept == (f"{role}/speech/pkg-{role}/speech.wav",)
        assert load_real(root, role, seed=0, avoid=["two"]).names["speech"] == heard

    config = CorpusConfig(keyword="one", recordings=str(root), recorded=60)
    sources = recorded_windows(config, "train", 60)
    assert {s.split("@")[0] for s in sources if "/speech/" in s} == {
        "train/speech/pkg-train/speech.wav"
    }
    other = CorpusConfig(keyword="hey jarvis", recordings=str(root), recorded=60)
    assert any("prompt.wav" in s for s in recorded_windows(other, "train", 60))

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "corpus.json").write_text(json.dumps({"recordings": str(root)}))
    mined = {p.name for p in mining_sources(corpus, ["one"])}
    assert mined == {"speech.wav", "music.wav", "ambient.wav"}
    assert "prompt.wav" in {p.name for p in mining_sources(corpus, ["two"])}


def _tone_power(audio: np.ndarray, hz: float) -> float:
    """Share of the clip's power within 40 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) < 40].sum() / spectrum.sum())


def test_babble_twins_add_clips_over_their_own_splits_real_speech_and_change_no_other(
    tmp_path: Path,
) -> None:
    """``babble_twins`` keeps every clip of the corpus without them, byte for byte, and adds a
    twin of a share of its TTS clips (same voice and seed) mixed over babble of its own split's
    recorded speech: a corpus grows into one with twins by rendering only the twins."""
    from training.data.corpus import plan, render

    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    for split, hz in (("train", 700.0), ("validation", 1900.0), ("test", 3100.0)):
        tone = 0.3 * np.sin(2 * np.pi * hz * np.arange(20 * RATE) / RATE)  # each split's "speech"
        write_wav(
            recordings / f"{split}/speech/pkg-{split}/speech.wav", np.int16(tone * 32000), RATE
        )
    base = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), positives=16, confusables=8, speech=8,
        noise=4, music=0, silence=0, recorded=4, recordings=str(recordings), eval_positives=2,
        eval_negative_hours=0.005, eval_sentences=4, eval_confusables=2, eval_snrs_db=(10.0,),
    )  # fmt: skip
    twinned = dataclasses.replace(base, babble_twins=0.5)
    alone, jobs = plan(base), plan(twinned)
    assert jobs[: len(alone)] == alone
    twins = jobs[len(alone) :]
    assert 8 <= len(twins) <= 24 and {t.kind for t in twins} <= {"positive", "confusable", "speech"}
    by_id = {j.id: j for j in alone}
    for twin in twins:
        assert twin.twin == "babble" and twin.relpath.endswith("-babble.wav")
        original = by_id[twin.id.removesuffix("-babble")]
        assert dataclasses.replace(twin, id=original.id, twin="") == original
    out = tmp_path / "corpus"
    generate(base, out, workers=2)
    before = {p: p.read_bytes() for p in (out / "clips").rglob("*.wav")}
    with pytest.raises(KwsError, match="other settings"):
        generate(twinned, out, workers=2)  # the corpus.json differs: a new folder, clips linked
    grown = tmp_path / "grown"
    for path, data in before.items():
        target = grown / path.relative_to(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    summary = generate(twinned, grown, workers=2)
    assert summary["rendered_now"] == summary["babble_twins"] == len(twins)
    assert all((grown / p.relative_to(out)).read_bytes() == d for p, d in before.items())
    rows = [json.loads(line) for line in (grown / "manifest.jsonl").read_text().splitlines()]
    assert sum(r.get("twin") == "babble" for r in rows) == len(twins)
    for twin in (t for t in twins if t.split == "train"):  # over train speech, never another's
        audio = render(twin, twinned)
        assert _tone_power(audio, 700.0) > 0.05 > _tone_power(audio, 1900.0)


def test_babble_twins_need_recordings_and_an_snr_range() -> None:
    with pytest.raises(ValueError, match="set recordings too"):
        CorpusConfig(keyword="alexa", babble_twins=0.2)
    with pytest.raises(ValueError, match="babble_snr_db"):
        CorpusConfig(keyword="alexa", babble_twins=0.2, recordings="r", babble_snr_db=(10, 0))
    with pytest.raises(ValueError, match="babble_twins"):
        CorpusConfig(keyword="alexa", babble_twins=1.5, recordings="r")


def test_babble_twins_from_a_split_without_speech_are_one_line_before_rendering(
    tmp_path: Path,
) -> None:
    from training.data.corpus import plan

    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    index = json.loads((recordings / "recordings.json").read_text())
    index["recordings"] = [
        e for e in index["recordings"] if (e["split"], e["kind"]) != ("test", "speech")
    ]
    (recordings / "recordings.json").write_text(json.dumps(index))
    config = CorpusConfig(
        keyword="hey jarvis", engines=("espeak-ng",), recordings=str(recordings), babble_twins=0.2
    )
    with pytest.raises(KwsError, match="no test speech recordings to make babble twins of"):
        plan(config)
    assert plan(dataclasses.replace(config, babble_twins=0.0))  # without twins it needs none
