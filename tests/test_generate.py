"""The corpus generator: deterministic, resumable, and clear about what is missing."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kws.wavfile import read_wav
from training.data import phonetic, text_corpus
from training.data.corpus import CorpusConfig, eval_texts, plan
from training.data.generate import _settings, generate
from training.data.phonetic import WORD_LISTS
from training.data.text_corpus import fingerprint

pytestmark = pytest.mark.slow

SMALL = dict(
    positives=12, confusables=6, speech=6, noise=4, music=2, silence=2,
    eval_positives=4, eval_negative_hours=0.005, eval_sentences=8, eval_confusables=4,
)  # fmt: skip


def config(**changes: object) -> CorpusConfig:
    return CorpusConfig(**{"keyword": "hey jarvis", **SMALL, **changes})  # type: ignore[arg-type]


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "summary.json"
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    return out, generate(config(), out, workers=2)


def test_corpus_layout_labels_and_speaker_disjoint_splits(corpus) -> None:
    out, summary = corpus
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert summary["clips"] == len(rows) == 32
    for row in rows:
        audio = read_wav(out / row["path"])
        assert audio.sample_rate == 16000 and audio.channels == 1
        assert len(audio.samples) == 24000  # 1.5 s
        assert row["label"] == ("hey_jarvis" if row["kind"] == "positive" else "_background_")
    positives = [r for r in rows if r["kind"] == "positive"]
    assert all(r["text"] == "hey jarvis" for r in positives)
    assert any(r["kind"] == "confusable" and "jarvis" in r["text"] for r in rows)
    bases: dict[str, set[str]] = {}
    for r in rows:
        if r["voice"]:
            base = r["voice"]["name"].split("+")[0]
            bases.setdefault(r["split"], set()).add(base)
    assert not bases["train"] & bases.get("test", set())
    assert not bases["train"] & bases.get("validation", set())
    eval_voices = {}
    for role in ("validation", "test"):
        positives_manifest = json.loads((out / f"eval/{role}/positives/positives.json").read_text())
        assert positives_manifest["num_positives"] == 4
        assert {s["snr_db"] for s in positives_manifest["streams"]} == {0.0, 5.0, 10.0, 20.0, 30.0}
        events = [e for s in positives_manifest["streams"] for e in s["events"]]
        assert {e["info"]["room"] for e in events} == {"dry", "reverb"}  # 1 of 4 reverberant
        assert {e["info"]["engine"] for e in events} <= set(config().engines)
        eval_voices[role] = {e["voice"].split("+")[0] for e in events}
        assert not eval_voices[role] & bases["train"]  # never a training speaker
        negatives_manifest = json.loads((out / f"eval/{role}/negatives/negatives.json").read_text())
        assert negatives_manifest["total_duration_s"] >= 0.005 * 3600
        assert summary["eval"][role]["positives"] == 4
    assert not eval_voices["validation"] & eval_voices["test"]  # thresholds never see test voices
    # the same seed renders other audio with another espeak-ng or flite: the corpus says which
    versions = summary["engine_versions"]
    assert set(versions) == set(config().engines)
    assert all(re.search(r"\d+\.\d+", v) for v in versions.values()), versions
    assert all("not installed" not in v for v in versions.values()), versions
    assert summary["text_sources"] == fingerprint(WORD_LISTS)  # the machine's sentences


def test_positive_clips_end_near_the_window_end(corpus) -> None:
    out, _ = corpus
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        if row["kind"] != "positive":
            continue
        x = read_wav(out / row["path"]).samples[:, 0]
        energy = np.convolve(x**2, np.ones(160) / 160, mode="same")
        loud = np.flatnonzero(energy > 0.1 * energy.max())
        assert loud[-1] > len(x) * 0.6, row["id"]  # the phrase is in the last part


def test_same_seed_is_byte_identical_and_a_rerun_resumes(corpus, tmp_path: Path) -> None:
    out, _ = corpus
    again = tmp_path / "again"
    generate(config(), again, workers=1)
    assert digests(again) == digests(out)
    victim = next((again / "clips").rglob("*.wav"))
    victim.unlink()
    summary = generate(config(), again, workers=2)
    assert summary["rendered_now"] == 1
    assert digests(again) == digests(out)


def test_eval_only_first_then_the_clips_give_the_same_corpus(corpus, tmp_path: Path) -> None:
    out, _ = corpus
    later = tmp_path / "later"
    summary = generate(config(), later, workers=2, eval_only=True)
    assert summary["eval_only"] and not (later / "clips").exists()
    assert (later / "eval/test/negatives/negatives.json").is_file()
    generate(config(), later, workers=2)
    assert digests(later) == digests(out)


def test_other_settings_in_the_same_folder_are_refused(corpus) -> None:
    from kws.errors import KwsError

    out, _ = corpus
    with pytest.raises(KwsError, match="other settings"):
        generate(config(seed=7), out)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training.data", "generate", *args],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def test_missing_tts_binary_says_what_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # neither espeak-ng nor flite on PATH
    done = run_cli("--keyword", "hey jarvis", "--out", str(tmp_path / "c"), env=env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "espeak-ng is not installed: apt-get install espeak-ng" in line


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_cli("--keyword", "hey jarvis", "--out", str(blocker / "corpus"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert str(blocker / "corpus") in line and "cannot write" in line


def test_full_disk_is_one_line_and_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    from kws.errors import KwsError

    out = tmp_path / "c"
    cfg = config(eval_positives=0, eval_negative_hours=0, engines=("espeak-ng", "flite"))
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 10:  # the disk fills up after a few clips
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KwsError, match="disk full"):
        generate(cfg, out, workers=1)
    written = list((out / "clips").rglob("*.wav"))
    assert 0 < len(written) < 32
    for path in written:
        read_wav(path)  # every file left behind is whole
    monkeypatch.setattr(os, "fsync", real_fsync)
    summary = generate(cfg, out, workers=1)
    assert summary["rendered_now"] == 32 - len(written)


def test_default_plan_has_20000_clips_300_voice_prosody_pairs_and_no_evaluation_text() -> None:
    config = CorpusConfig(keyword="hey jarvis")
    jobs = plan(config)
    assert len(jobs) >= 20000
    positives = {(j.voice, j.prosody) for j in jobs if j.kind == "positive"}
    assert len(positives) >= 300
    spoken = {j.text for j in jobs if j.kind in ("speech", "confusable")}
    texts, phrases = eval_texts(config)
    assert len(texts) == 250 and len(phrases) == 150
    # The keyword's words alone are the one overlap, as the keyword itself is for positives.
    assert spoken & {*texts, *phrases} == {"hey", "jarvis"}
    assert len({j.text for j in jobs if j.kind == "confusable"}) == 300


def test_span_look_alikes_join_the_training_phrases_and_leave_the_evaluation_sets_alone() -> None:
    config = CorpusConfig(keyword="alexa", positives=40, confusables=400, speech=40, noise=8,
                          music=8, silence=8, span_confusables=30)  # fmt: skip
    without = CorpusConfig(**{**config.__dict__, "span_confusables": 0})
    spoken = {j.text for j in plan(config) if j.kind == "confusable"}
    before = {j.text for j in plan(without) if j.kind == "confusable"}
    spans = set(phonetic.span_phrases("alexa", 30, config.seed)) - before
    assert len(spoken - before) >= 20 and spoken - before <= spans
    assert eval_texts(config) == eval_texts(without)
    with pytest.raises(ValueError, match=">= 0"):
        CorpusConfig(keyword="alexa", span_confusables=-1)


def test_everyday_sentences_are_a_corpus_setting_that_old_corpora_do_not_carry() -> None:
    from training.data.generate import _settings

    everyday = CorpusConfig(keyword="alexa", text_sources=("docs", "wordnet"))
    texts, _ = eval_texts(everyday)
    assert set(texts) - set(text_corpus.pool_of(["docs"]))  # some are WordNet's
    assert _settings(everyday)["text_sources"] == ["docs", "wordnet"]
    assert "text_sources" not in _settings(CorpusConfig(keyword="alexa"))
    with pytest.raises(ValueError, match="text_sources"):
        CorpusConfig(keyword="alexa", text_sources=("novels",))


def test_a_clip_store_renders_the_clips_two_corpora_share_once(corpus, tmp_path: Path) -> None:
    out, _ = corpus
    store = tmp_path / "store"
    filled = generate(config(), out, workers=2, store=store)  # a finished corpus fills the store
    assert filled["rendered_now"] == filled["taken_from_store"] == 0
    assert len(list(store.rglob("*.wav"))) == 32
    other = tmp_path / "alexa"
    summary = generate(config(keyword="alexa"), other, workers=2, store=store)
    rows = [json.loads(line) for line in (other / "manifest.jsonl").read_text().splitlines()]
    background = [r for r in rows if r["kind"] not in ("positive", "confusable")]
    assert summary["taken_from_store"] == len(background) == 14  # sentences, noise, music, silence
    assert summary["rendered_now"] == len(rows) - 14
    before = digests(out)
    for row in background:  # the same sentence by the same voice: the same clip, one inode
        assert (other / row["path"]).stat().st_ino == (out / row["path"]).stat().st_ino
        assert digests(other)[row["path"]] == before[row["path"]]
    assert len(list(store.rglob("*.wav"))) == 32 + len(rows) - 14


def test_evaluation_voices_of_an_engine_training_never_hears(tmp_path: Path) -> None:
    out = tmp_path / "c"
    done = run_cli(
        "--keyword", "hey jarvis", "--out", str(out), "--eval-only", "--engines", "espeak-ng",
        "--eval-engines", "espeak-ng,flite", "--eval-positives", "6", "--eval-hours", "0.005",
        "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "corpus.json").read_text())["eval_engines"] == ["espeak-ng", "flite"]
    cfg = config(engines=("espeak-ng",), eval_engines=("espeak-ng", "flite"))
    jobs = plan(cfg)
    assert {j.voice.engine for j in jobs if j.voice} == {"espeak-ng"}
    trained = {j.voice.name.split("+")[0] for j in jobs if j.voice and j.split == "train"}
    for role in ("validation", "test"):
        manifest = json.loads((out / f"eval/{role}/positives/positives.json").read_text())
        events = [e for s in manifest["streams"] for e in s["events"]]
        assert {e["info"]["engine"] for e in events} == {"espeak-ng", "flite"}
        assert not {e["voice"].split("+")[0] for e in events} & trained
    # Without the key the settings are those of corpora made before it, which still resume.
    assert "eval_engines" not in _settings(config())


def test_other_wake_words_are_one_look_alike_in_eight_and_nothing_else_changes() -> None:
    others = ("alexa", "okay nabu=oʊkˈeɪ nˈɑːbuː")
    with_others = plan(config(confusables=64, other_wake_words=others))
    without = plan(config(confusables=64))
    changed = [(a, b) for a, b in zip(with_others, without, strict=True) if a != b]
    assert changed and all(a.kind == "confusable" for a, _ in changed)
    said = [a.text for a, _ in changed]
    per_split = Counter(j.split for j in with_others if j.kind == "confusable")
    assert set(said) == {"alexa", "okay nabu"}
    assert len(said) == sum(n // 8 for n in per_split.values())  # one in eight, in each split
    assert all(a.ipa == "oʊkˈeɪ nˈɑːbuː" for a, _ in changed if a.text == "okay nabu")
    with pytest.raises(ValueError, match="says the keyword itself"):
        config(other_wake_words=("oh hey jarvis",))
    with pytest.raises(ValueError, match="has no words"):
        config(other_wake_words=("=ʌ",))


def test_hall_twins_ring_where_their_dry_originals_are_silent_and_twins_get_no_twins() -> None:
    """``hall_twins`` adds a twin of a share of the TTS clips, each reverberated in a large
    room: after the phrase ends (the last 50 ms of a positive clip) the twin still rings while
    the dry original is silent; with babble twins too, no twin is twinned again."""
    import dataclasses

    from training.data.augment import AugmentConfig
    from training.data.corpus import render, with_condition_twins

    dry = AugmentConfig(reverb_p=0.0, noise_p=0.0, shift_p=0.0)
    base = config(positives=24, augment=dry)
    jobs = plan(dataclasses.replace(base, hall_twins=0.5))
    alone = plan(base)
    assert jobs[: len(alone)] == alone
    twins = [j for j in jobs[len(alone) :] if j.kind == "positive" and j.split == "train"]
    assert twins and all(t.twin == "hall" and t.id.endswith("-hall") for t in twins)
    by_id = {j.id: j for j in alone}
    for twin in twins[:3]:
        ringing, silent = (
            render(j, base).astype(np.float64) for j in (twin, by_id[twin.id[: -len("-hall")]])
        )
        tail = 800  # 50 ms: every positive's phrase ends at least this long before the clip ends
        assert np.mean(ringing[-tail:] ** 2) > 100 * np.mean(silent[-tail:] ** 2) + 1.0
    both = with_condition_twins(jobs, "babble", 0.5, seed=0)
    assert not [j for j in both if j.id.endswith("-hall-babble")]
    assert {j.twin for j in both} == {"", "hall", "babble"}
    with pytest.raises(ValueError, match="hall_rt60_s"):
        config(hall_twins=0.5, hall_rt60_s=(0.0, 1.0))


def test_onset_twins_are_a_sentences_start_after_silence_cut_at_the_clips_end() -> None:
    """``onset_twins`` adds a twin of a share of the sentence clips only: silence, then the
    sentence's first ``onset_s`` seconds, the clip ending mid-speech (where a wake word that
    fires on how utterances begin would fire); the clips without twins stay as they were."""
    import dataclasses

    from training.data.augment import AugmentConfig
    from training.data.corpus import render

    dry = AugmentConfig(
        reverb_p=0.0, noise_p=0.0, shift_p=0.0, gain_p=0.0, speed_p=0.0, pitch_p=0.0
    )
    base = config(speech=40, augment=dry)
    twinned = dataclasses.replace(base, onset_twins=0.5, onset_s=(0.3, 0.5))
    alone, jobs = plan(base), plan(twinned)
    assert jobs[: len(alone)] == alone
    twins = jobs[len(alone) :]
    assert 8 <= len(twins) <= 32 and {t.kind for t in twins} == {"speech"}
    assert all(t.twin == "onset" and t.id.endswith("-onset") for t in twins)
    rate = 16000
    for twin in twins[:4]:
        audio = render(twin, twinned).astype(np.float64)
        start = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())[0]
        # speech starts 0.3-0.55 s (the lead-in kept before the first loud frame) before the end
        assert 0.3 * rate <= len(audio) - start <= 0.56 * rate
        assert np.mean(audio[-800:] ** 2) > 1e-4 * np.mean(audio[start:] ** 2)  # still speaking
    with pytest.raises(ValueError, match="onset_s"):
        config(onset_twins=0.5, onset_s=(0.3, 1.6))
    assert config(clip_seconds=1.0).onset_twins == 0.0  # the range only matters with twins


def test_voices_that_take_no_phonemes_read_the_respelling() -> None:
    from training.data.eval_sets import Said, _items
    from training.data.tts import Prosody, Voice

    ipa = "hˈeɪ mˈaɪkɹɒft"
    cfg = config(keyword="hey mycroft", positives=60, pronunciation=(ipa,),
                 respelling="hey my croft")  # fmt: skip
    positives = [j for j in plan(cfg) if j.kind == "positive"]
    by_engine = {e: [j for j in positives if j.voice.engine == e] for e in ("espeak-ng", "flite")}
    assert by_engine["flite"] and by_engine["espeak-ng"]
    assert all(j.text == "hey my croft" and j.ipa is None for j in by_engine["flite"])
    assert all(j.ipa == ipa for j in by_engine["espeak-ng"] if j.voice.is_english)
    assert all((j.text == "hey mycroft") == (j.ipa is not None) for j in positives)
    unspelled = plan(config(keyword="hey mycroft", positives=60, pronunciation=(ipa,)))
    assert all(j.text == "hey mycroft" for j in unspelled if j.kind == "positive")
    # the evaluation sets' held-out voices alike
    said = Said("hey mycroft", pronunciations=(ipa,), respelling="hey my croft")
    voices = [Voice("flite", "slt", "en-us", "US"), Voice("espeak-ng", "en-us", "en-us", "US")]
    items = _items([said, said], [(v, Prosody(175, 50, 100, 0)) for v in voices], seed=0)
    assert [(text, spoken) for text, _, _, spoken in items] == [
        ("hey my croft", None), ("hey mycroft", ipa)
    ]  # fmt: skip
    with pytest.raises(ValueError, match="set both"):
        config(respelling="hey jar vis")


def _sentence_plans(kind: str) -> tuple[list, list, CorpusConfig, int]:
    """(plan with half the positives inside sentences, the same plan without, the render
    settings, how many positives each split has) for a wake-word or a command corpus."""
    import dataclasses

    from training.data.augment import AugmentConfig
    from training.data.commands import CommandCorpusConfig
    from training.data.commands import plan as command_plan

    quiet = AugmentConfig(
        speaker_p=0, speed_p=0, pitch_p=0, reverb_p=0, noise_p=0, gain_p=0, shift_p=0
    )
    if kind == "wake word":
        wake = config(positives=40, engines=("espeak-ng",), augment=quiet, in_sentences=0.5)
        alone = dataclasses.replace(wake, in_sentences=0.0)
        return plan(wake), plan(alone), wake, 16 + 2 + 2  # half of 32 / 4 / 4
    words = CommandCorpusConfig(
        words=("three", "seven"), per_command=20, other_words=10, confusables=0, speech=10,
        engines=("espeak-ng",), augment=quiet, in_sentences=0.5, eval_sentences=4,
        eval_confusables=0,
    )  # fmt: skip
    alone_words = dataclasses.replace(words, in_sentences=0.0)
    # half of each split's 40 / 5 / 5 command and other words, rounded to even
    return command_plan(words), command_plan(alone_words), words.render_config(), 20 + 2 + 2


@pytest.mark.parametrize("kind", ["wake word", "commands"])
def test_a_share_of_training_positives_is_said_inside_sentences_and_placed_by_their_end(
    kind: str,
) -> None:
    """``in_sentences`` puts that share of each split's training positives inside words of a
    training sentence by the same voice; every other clip is planned as without it, and a
    phrase with words before it still ends 0.05-0.3 s before the clip does, the words before it
    filling the clip's start."""
    import dataclasses

    from training.data.corpus import END_MARGIN_S, active_end, render

    jobs, alone, settings, expected = _sentence_plans(kind)
    within = [j for j in jobs if j.before or j.after]
    assert len(within) == expected and all(j.kind == "positive" for j in within)
    assert {j.split for j in within} == {"train", "validation", "test"}
    if kind == "commands":  # the other words too, not only the commands
        assert {"three", "seven"} < {j.text for j in within}
    for job, twin in zip(jobs, alone, strict=True):
        assert dataclasses.replace(job, before="", after="") == twin
        assert job == twin or job in within
        assert {"before", "after"} & job.row().keys() == {
            k for k in ("before", "after") if getattr(job, k)
        }
    before_only = next(j for j in within if j.before and not j.after)
    twin = alone[jobs.index(before_only)]
    clip, plain = (render(j, settings).astype(float) for j in (before_only, twin))
    rate, n = 16000, len(clip)
    assert n == len(plain) == round(settings.clip_seconds * rate)
    margin_s = (n - active_end(clip)) / rate
    assert END_MARGIN_S[0] - 0.011 <= margin_s <= END_MARGIN_S[1] + 0.011
    head = slice(0, rate // 5)  # the words before the phrase, where the alone clip is silent
    assert np.sqrt(np.mean(clip[head] ** 2)) > 10 * (np.sqrt(np.mean(plain[head] ** 2)) + 1)


@pytest.mark.parametrize("kind", ["wake word", "commands"])
def test_sentence_twins_keep_every_word_alone_and_add_its_sentence_form(kind: str) -> None:
    """With ``in_sentences_twins`` the corpus holds every clip of the plan without sentences,
    unchanged, and after them each sentence clip as a twin with its own id and file: the same
    voice, settings and seed, so it renders to what the replacing plan renders."""
    import dataclasses

    from training.data.commands import CommandCorpusConfig
    from training.data.commands import plan as command_plan
    from training.data.corpus import render

    within, alone, settings, expected = _sentence_plans(kind)
    if kind == "wake word":
        assert isinstance(settings, CorpusConfig)
        jobs = plan(dataclasses.replace(settings, in_sentences_twins=True))
    else:
        words = CommandCorpusConfig(
            words=("three", "seven"), per_command=20, other_words=10, confusables=0, speech=10,
            engines=("espeak-ng",), augment=settings.augment, in_sentences=0.5,
            eval_sentences=4, eval_confusables=0, in_sentences_twins=True,
        )  # fmt: skip
        jobs = command_plan(words)
    assert jobs[: len(alone)] == alone
    twins = jobs[len(alone) :]
    replaced = [w for w, a in zip(within, alone, strict=True) if w != a]
    assert len(twins) == len(replaced) == expected
    assert len({j.relpath for j in jobs}) == len(jobs) and len({j.id for j in jobs}) == len(jobs)
    for twin, said in zip(twins, replaced, strict=True):
        assert dataclasses.replace(twin, id=said.id, path=said.path) == said
        assert twin.id == f"{said.id}-within"
    if kind == "commands":  # the Speech Commands layout: <word>/<speaker>_nohash_<n>_within.wav
        assert all(t.relpath.endswith("_within.wav") and "_nohash_" in t.relpath for t in twins)
    first = twins[0]
    original = next(w for w in replaced if w.seed == first.seed and w.text == first.text)
    assert np.array_equal(render(first, settings), render(original, settings))
