"""Pronunciations as data: IPA parsed strictly, spoken by espeak-ng exactly, printed, recorded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from training.data import pronunciation as pron
from training.data.pronunciation import (
    ipa,
    ipa_lines,
    parse_pronunciation,
    sound_key,
    spoken_ipa,
    to_espeak,
)
from training.data.tts import Prosody, Voice, synthesize

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
MYCROFT = ("hˈeɪ mˈaɪkɹɒft", "hˈeɪ mˈaɪkɹɔːft")
EN_US = Voice("espeak-ng", "en-us", "en-us", "American English")
PROSODY = Prosody(175, 50, 100, 0)
EN_US_PHONEMES = (
    *"pbtdkfvszhmnlwjɡθðʃʒŋɹʔ",
    *("tʃ", "dʒ", "ə", "ɚ", "ɜː", "ɛ", "æ", "ɑː", "ɔ", "ɔː", "ɪ", "ᵻ", "i", "iː", "ʊ", "uː", "ʌ"),
    *("eɪ", "aɪ", "aʊ", "ɔɪ", "oʊ", "aɪə", "aɪɚ", "iə", "ɑːɹ", "ɔːɹ", "ɛɹ", "ɪɹ", "ʊɹ"),
)
"""Every phoneme espeak-ng's en-us voice prints with --ipa (collected from 8000 dictionary
words): each must come back from en-us exactly as given."""


def test_an_unknown_symbol_is_a_one_line_error_naming_it() -> None:
    with pytest.raises(KwsError) as caught:
        parse_pronunciation("hˈeɪ mˈaɪkɹɒft|hˈeɪ mˈaɪkrøft")
    message = str(caught.value)
    assert "\n" not in message
    assert "'ø'" in message and "mˈaɪkrøft" in message
    with pytest.raises(KwsError, match="'y'"):
        parse_pronunciation("hey mycroft")  # spelling is not IPA


def test_alternatives_parse_normalized_and_deduplicated() -> None:
    assert parse_pronunciation(" hˈeɪ  mˈaɪkɹɒft |hˈeɪ mˈaɪkɹɔːft|hˈeɪ mˈaɪkɹɒft") == MYCROFT
    assert parse_pronunciation(["hˈeɪ mˈaɪkɹɒft", "hˈeɪ mˈaɪkɹɔːft"]) == MYCROFT
    assert parse_pronunciation(()) == ()
    with pytest.raises(KwsError, match="empty alternative"):
        parse_pronunciation("hˈeɪ mˈaɪkɹɒft||")


def test_ipa_becomes_espeak_mnemonics_with_default_stress() -> None:
    assert to_espeak("hˈeɪ dʒˈɑːɹvɪs") == "h'eI dZ'A@vIs"
    assert to_espeak("heɪ maɪkɹɒft") == "h'eI m'aIkr0ft"  # unmarked words: stress the first vowel
    assert pron.phoneme_words("hˈeɪ mˈaɪkɹɒft") == [
        ["h", "eI"],
        ["m", "aI", "k", "r", "0", "f", "t"],
    ]


@needs_espeak
def test_espeak_ng_reads_mycroft_wrong_which_is_why_this_exists() -> None:
    assert ipa("hey mycroft") == "hˈeɪ mˈɪkɹɔft"
    assert ipa_lines(["hey jarvis", "alexa"]) == ["hˈeɪ dʒˈɑːɹvɪs", "ɐlˈɛksə"]


@needs_espeak
def test_every_en_us_phoneme_round_trips_through_espeak_ng() -> None:
    words = [
        f"bˈ{p}d" if p[0] in pron._VOWEL_START else f"ˈɑː{p}s"
        for p in sorted(set(EN_US_PHONEMES) - {"ʔ"})
    ] + ["ˈʌʔn̩", MYCROFT[1]]
    said = spoken_ipa(words, "en-us")
    assert [sound_key(s) for s in said] == [sound_key(w) for w in words]
    assert said[-1] == MYCROFT[1]  # stress too
    mnemonics = pron.espeak_lines([f"[[{to_espeak(w)}]]" for w in MYCROFT], ["-x"])
    assert mnemonics == [to_espeak(w) for w in MYCROFT]  # espeak-ng -x echoes what it was given


@needs_espeak
def test_british_vowels_are_spoken_by_british_voices_and_approximated_by_en_us() -> None:
    assert spoken_ipa(["hˈeɪ mˈaɪkɹɒft"], "en-gb") == ["hˈeɪ mˈaɪkɹɒft"]
    assert spoken_ipa(["hˈeɪ mˈaɪkɹɒft"], "en-us") == ["hˈeɪ mˈaɪkɹɑːft"]


@needs_espeak
def test_synthesize_speaks_the_ipa_instead_of_the_text() -> None:
    read = synthesize("hey mycroft", EN_US, PROSODY)
    said = synthesize("hey mycroft", EN_US, PROSODY, ipa=MYCROFT[0])
    assert said.dtype == np.int16 and said.size > 4000
    assert said.size != read.size or not np.array_equal(said, read)
    as_phonemes = synthesize("anything", EN_US, PROSODY, ipa="hˈeɪ mˈɪkɹɔft")
    assert np.array_equal(as_phonemes, read)  # espeak-ng's own reading, given as IPA: same audio


@needs_espeak
def test_voices_that_cannot_speak_the_phonemes_read_the_text() -> None:
    polish = Voice("espeak-ng", "pl", "pl", "Polish")
    german = Voice("espeak-ng", "de", "de", "German")
    assert pron.for_voice(polish, MYCROFT[0]) is None  # pl drops most English phonemes
    assert pron.for_voice(german, MYCROFT[1]) == MYCROFT[1]
    assert pron.for_voice(Voice("flite", "slt", "en-us", "flite"), MYCROFT[0]) is None
    with pytest.raises(KwsError, match="cannot speak"):
        synthesize("hey mycroft", polish, PROSODY, ipa=MYCROFT[0])


@needs_espeak
def test_near_words_are_near_the_given_pronunciation() -> None:
    from training.data.phonetic import _near_words, _said_words

    vocabulary = ["micron", "mycroft", "ashcroft"]
    plain = _near_words(["mycroft"], vocabulary, {"mycroft"})
    said = _near_words(
        ["mycroft"], vocabulary, {"mycroft"}, _said_words(["hey", "mycroft"], MYCROFT[:1])
    )
    assert "micron" not in plain["mycroft"]  # far from /mˈɪkɹɔft/
    assert "micron" in said["mycroft"]  # two phonemes from /mˈaɪkɹɒft/


@needs_espeak
@pytest.mark.slow
def test_confusables_never_sound_like_an_alternative() -> None:
    from training.data.phonetic import confusable_phrases

    plain = confusable_phrases("hey jarvis", 20, 0)
    victim = next(p for p in plain if len(p.split()) == 2)
    given = (ipa(victim), "hˈeɪ dʒˈɑːɹvɪs")
    phrases = confusable_phrases("hey jarvis", 20, 0, given)
    assert victim not in phrases and len(phrases) == 20
    alike = {sound_key(s) for s in spoken_ipa(given)}
    assert alike.isdisjoint(sound_key(s) for s in ipa_lines(phrases))


@pytest.mark.slow  # plan() builds the model config (imports TensorFlow)
def test_recipes_for_a_phrase_and_extends(tmp_path: Path) -> None:
    from training.core.recipes import load_recipe
    from training.data.wake_recipes import DEFAULT_RECIPE, recipe_for
    from training.wakeword import plan

    assert recipe_for("hey computer") == DEFAULT_RECIPE
    mycroft = recipe_for("Hey  Mycroft")
    assert mycroft.name == "hey_mycroft.toml"
    corpus, train, _ = plan("hey mycroft", load_recipe(mycroft, []), tmp_path)
    assert corpus.pronunciation == MYCROFT and corpus.respelling == "hey my croft"
    # the shipped hey_mycroft was made with the default recipe's clips and rooms that ring
    assert train.examples == "clips" and corpus.augment.late_reverb
    assert corpus.augment.rt60_s == (0.15, 1.5) and corpus.augment.real_rir_p == 0.2
    # and the shipped okay_nabu with the same rooms and the training seed chosen on validation
    nabu, nabu_train, _ = plan("okay nabu", load_recipe(recipe_for("okay nabu"), []), tmp_path)
    assert nabu_train.seed == 1 and nabu.augment.late_reverb and train.seed == 0
    # each shipped wake word's recipe names the other three, "hey mycroft" said right
    shipped = ("alexa", "hey jarvis", "okay nabu", "hey mycroft")
    for phrase in shipped:
        planned, _, _ = plan(phrase, load_recipe(recipe_for(phrase), []), tmp_path)
        others = dict(planned.others())
        assert set(others) == set(shipped) - {phrase}
        assert phrase == "hey mycroft" or others["hey mycroft"] == MYCROFT
        # the shipped alexa was made with onset twins, the other three without
        assert planned.onset_twins == (0.5 if phrase == "alexa" else 0.0)
    assert train.epochs == load_recipe(DEFAULT_RECIPE, [])["train"]["epochs"]
    bad = load_recipe(mycroft, ["corpus.pronunciation=hˈeɪ mˈaɪkɹøft"])
    with pytest.raises(KwsError, match="'ø'"):
        plan("hey mycroft", bad, tmp_path)
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(KwsError, match="circle"):
        load_recipe(tmp_path / "a.toml", [])


def test_command_word_pronunciations() -> None:
    from training.data.__main__ import word_pronunciations
    from training.data.commands import CommandCorpusConfig

    given = word_pronunciations(["off=ˈɔːf|ˈɑːf", "go=ɡˈoʊ"])
    config = CommandCorpusConfig(pronunciation=given)
    assert config.said("off") == ("ˈɔːf", "ˈɑːf") and config.said("up") == ()
    with pytest.raises(ValueError, match="'mycroft'"):
        CommandCorpusConfig(pronunciation={"mycroft": "mˈaɪkɹɒft"})
    with pytest.raises(ValueError, match="twice"):
        word_pronunciations(["off=ˈɔːf", "off=ˈɑːf"])


@needs_espeak
@pytest.mark.slow
def test_generate_prints_and_records_the_pronunciation(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    args = ["--keyword", "hey mycroft", "--out", str(out), "--pronunciation", "|".join(MYCROFT)]
    sizes = ["--positives", "10", "--confusables", "3", "--speech", "1", "--noise", "1"]
    sizes += ["--music", "0", "--silence", "0", "--eval-positives", "0", "--eval-hours", "0"]
    # the recipe's other wake words are still said in the evaluation sets: by espeak-ng alone,
    # not Kokoro, so that the test takes a minute, not five on a busy machine
    sizes += ["--eval-engines", "espeak-ng"]
    done = subprocess.run(
        [sys.executable, "-m", "training.data", "generate", *args, *sizes, "--workers", "2"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUTF8": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"says 'hey mycroft' as {MYCROFT[0]} | {MYCROFT[1]} (given)" in done.stderr
    negatives = [line for line in done.stderr.splitlines() if line.startswith("hard negative")]
    assert len(negatives) >= 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pronunciation"]["phrases"] == {"hey mycroft": list(MYCROFT)}
    assert json.loads((out / "corpus.json").read_text())["pronunciation"] == list(MYCROFT)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    positives = [r for r in rows if r["kind"] == "positive"]
    english = [r for r in positives if r["voice"]["name"].startswith("en")]
    assert english and {r["ipa"] for r in english} <= set(MYCROFT)
    assert any(r["ipa"] for r in positives)
    assert all(r["ipa"] is None for r in positives if r["voice"]["engine"] == "flite")
    assert all(r["ipa"] is None for r in rows if r["kind"] != "positive")


def test_sound_alikes_are_words_espeak_says_as_a_target() -> None:
    from training.data.pronunciation import sound_alikes

    found = sound_alikes(
        ["to", "too", "toe", "know", "now", "write", "rite", "left"], ["two", "no", "right"]
    )
    assert found == {"to", "too", "know", "write", "rite"}
    assert sound_alikes([], ["two"]) == set() and sound_alikes(["to"], []) == set()
