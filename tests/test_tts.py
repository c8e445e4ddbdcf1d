"""Text-to-speech data: voice inventory, synthesis, prosody grid, voice splits, confusable phrases
and corpus sentences. Needs espeak-ng (and flite, which CI must have)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from training.data import phonetic, text_corpus, tts
from training.data.tts import Prosody, Voice

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]

NORMAL = Prosody(rate_wpm=175, pitch=50, amplitude=100, word_gap_ms=0)


def _needs_flite() -> None:
    if shutil.which("flite") is None:
        if os.environ.get("CI"):
            pytest.fail("flite must be installed in CI: apt-get install flite")
        pytest.skip("flite not installed")


def test_inventory_has_english_variants_and_accents() -> None:
    voices = tts.list_voices()
    english = [v for v in voices if v.engine == tts.ESPEAK and v.is_english]
    assert len(english) >= 20
    assert {"en-us", "en-us+f3", "en-gb+klatt"} <= {v.name for v in english}
    accents = {v.base for v in voices if v.engine == tts.ESPEAK and not v.is_english}
    assert {"de", "fr-fr", "es"} <= accents
    assert len(voices) == len(set(voices))
    assert tts.list_voices() is voices  # cached per process


def test_inventory_has_flite_voices() -> None:
    _needs_flite()
    flite = [v for v in tts.list_voices() if v.engine == tts.FLITE]
    assert flite
    assert all(not v.name.endswith("_time") for v in flite)


def _check_clip(clip: np.ndarray) -> None:
    assert clip.dtype == np.int16 and clip.ndim == 1
    assert 0.3 < len(clip) / tts.SAMPLE_RATE < 2.0  # "hey jarvis" at 16 kHz
    assert np.abs(clip.astype(np.int32)).max() > 3000
    head = np.abs(clip[: tts.SAMPLE_RATE // 100].astype(np.int32)).max()
    assert head > 0  # leading silence trimmed to a few ms


def test_espeak_synthesis_and_rate() -> None:
    voice = Voice(tts.ESPEAK, "en-us+f3", "en-us", "English (America)")
    clip = tts.synthesize("hey jarvis", voice, NORMAL)
    _check_clip(clip)
    slow = tts.synthesize("hey jarvis", voice, Prosody(120, 50, 100, 0))
    fast = tts.synthesize("hey jarvis", voice, Prosody(220, 50, 100, 0))
    assert len(slow) > 1.3 * len(fast)
    gapped = tts.synthesize("hey jarvis", voice, Prosody(175, 50, 100, 40))
    assert len(gapped) > len(clip)


def test_every_accent_voice_speaks() -> None:
    bases = {v.name: v for v in tts.list_voices() if v.engine == tts.ESPEAK and "+" not in v.name}
    for voice in bases.values():
        assert len(tts.synthesize("hey jarvis", voice, NORMAL)) > 4000, voice.name


def test_flite_synthesis_and_rate() -> None:
    _needs_flite()
    voice = next(v for v in tts.list_voices() if v.engine == tts.FLITE)
    _check_clip(tts.synthesize("hey jarvis", voice, NORMAL))
    slow = tts.synthesize("hey jarvis", voice, Prosody(120, 50, 100, 0))
    fast = tts.synthesize("hey jarvis", voice, Prosody(220, 50, 100, 0))
    assert len(slow) > 1.3 * len(fast)


def test_missing_engine_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for engine in (tts.ESPEAK, tts.FLITE):
        with pytest.raises(KwsError, match=f"^{engine} is not installed: apt-get install") as e:
            tts.synthesize("hey", Voice(engine, "slt", "en-us", ""), NORMAL)
        assert "\n" not in str(e.value)


def test_engine_failure_is_one_line() -> None:
    with pytest.raises(KwsError, match=r"^espeak-ng failed: ") as e:
        tts.synthesize("hey", Voice(tts.ESPEAK, "zzzz", "en", ""), NORMAL)
    assert "\n" not in str(e.value)


def test_grid_is_distinct_deterministic_and_spread() -> None:
    voices = tts.list_voices((tts.ESPEAK, tts.FLITE))  # the neural engines: test_tts_neural.py
    grid = tts.prosody_grid(voices, 300, seed=0)
    assert len(grid) == len(set(grid)) == 300
    assert tts.prosody_grid(list(reversed(voices)), 300, seed=0) == grid
    assert tts.prosody_grid(voices, 300, seed=1) != grid
    bases = {(v.engine, v.base) for v, _ in grid}
    assert bases == {(v.engine, v.base) for v in voices}  # every speaker is heard
    assert len({v for v, _ in grid}) > 200
    assert {p.rate_wpm for _, p in grid} == set(tts.RATES_WPM)
    accented = sum(not v.is_english for v, _ in grid) / len(grid)
    assert 0.1 < accented < 0.4


def test_split_keeps_speakers_apart() -> None:
    voices = tts.list_voices()
    splits = tts.split_voices(voices, seed=0)
    assert all(splits.values())
    assert sum(map(len, splits.values())) == len(voices)
    bases = {name: {(v.engine, v.base) for v in members} for name, members in splits.items()}
    assert not bases["train"] & bases["test"]
    assert not bases["train"] & bases["validation"]
    assert not bases["validation"] & bases["test"]
    assert tts.split_voices(list(reversed(voices)), seed=0) == splits
    if shutil.which("flite"):
        assert all(any(v.engine == tts.FLITE for v in m) for m in splits.values())


def test_phonemes() -> None:
    assert phonetic.phonemes("hey jarvis") == ["h", "eI", "dZ", "A@", "v", "I", "s"]
    assert phonetic.edit_distances(list("kitten"), [list("sitting"), [], list("kit")]).tolist() == [
        3,
        6,
        3,
    ]


def test_confusable_phrases() -> None:
    phrases = phonetic.confusable_phrases("Hey Jarvis", 60, seed=0)
    assert len(phrases) == len(set(phrases)) == 60
    assert phonetic.confusable_phrases("Hey Jarvis", 60, seed=0) == phrases
    assert {"hey", "jarvis"} <= set(phrases)
    assert not any(re.search(r"\bhey jarvis\b", p) for p in phrases)
    target = phonetic.phonemes("hey jarvis")
    distances = phonetic.edit_distances(target, [phonetic.phonemes(p) for p in phrases])
    assert distances.min() >= 1
    assert ((distances >= 1) & (distances <= 2)).sum() >= 5
    assert any(p.startswith("hey ") and p != "hey" for p in phrases)


def _levenshtein(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_span_phrases_run_the_keyword_across_a_word_boundary() -> None:
    phrases = phonetic.span_phrases("alexa", 25, seed=0)
    assert len(phrases) == len(set(phrases)) == 25
    assert phonetic.span_phrases("alexa", 25, seed=0) == phrases
    assert phonetic.span_phrases("alexa", 25, seed=1) != phrases  # ties in a seeded order
    target = phonetic.phonemes("alexa")
    pairs = text_corpus.word_pairs()
    limit = phonetic.SPAN_MAX_DISTANCE
    for phrase, said in zip(phrases, phonetic._phonemize_words(phrases), strict=True):
        first, second = phrase.split()
        assert pairs[(first, second)] >= phonetic.SPAN_MIN_PAIRS and "alexa" not in phrase
        head, tail = said  # the keyword's start ends the first word, its rest starts the second
        best = min(
            _levenshtein(target[:k], head[-n:]) + _levenshtein(target[k:], tail[:m])
            for k in range(1, len(target))
            for n in range(1, len(head) + 1)
            for m in range(1, len(tail) + 1)
        )
        assert 1 <= best <= limit, phrase
    assert any(p.split()[0] in ("a", "an", "the") for p in phrases)


def test_wordnet_gives_everyday_sentences_beside_the_documentation() -> None:
    wordnet = text_corpus.pool_of(["wordnet"])
    assert len(wordnet) > 30000 and len(set(wordnet)) == len(wordnet)
    assert all(s[:1].isupper() and s[-1] in ".!?" for s in wordnet)
    assert any("let's" in text_corpus.words(s) for s in wordnet)  # the docs' prose has few
    docs = set(text_corpus.pool_of(["docs"]))
    both = text_corpus.pool_of(["docs", "wordnet"])
    assert set(both) == docs | set(wordnet)
    drawn = text_corpus.sentences("alexa", 200, seed=0, sources=("docs", "wordnet"))
    assert drawn == text_corpus.sentences("alexa", 200, seed=0, sources=("docs", "wordnet"))
    assert docs & set(drawn) and set(wordnet) & set(drawn)
    assert text_corpus.sentences("alexa", 50, seed=0) == text_corpus.sentences(
        "alexa", 50, seed=0, sources=("docs",)
    )  # the default is the documentation alone, as before the key
    with pytest.raises(KwsError, match="unknown text source 'novels'"):
        text_corpus.pool_of(["novels"])


def test_missing_wordnet_is_one_line_naming_the_file(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(text_corpus, "WORDNET", tmp_path)
    text_corpus._wordnet.cache_clear()
    try:
        with pytest.raises(KwsError, match=r"data\.noun: .*apt-get install wordnet-base"):
            text_corpus.sentences("alexa", 5, seed=0, sources=("wordnet",))
    finally:
        text_corpus._wordnet.cache_clear()


def test_sentences_exclude_the_keyword() -> None:
    found = text_corpus.sentences("Hey Jarvis", 500, seed=3)
    assert len(found) == len(set(found)) == 500
    assert text_corpus.sentences("Hey Jarvis", 500, seed=3) == found
    for sentence in found:
        assert not {"hey", "jarvis"} & set(text_corpus.words(sentence))
        assert 3 <= len(sentence.split()) <= 20
        assert "http" not in sentence and "@" not in sentence
    the = text_corpus.sentences("the", 50, seed=0)
    assert not any("the" in text_corpus.words(s) for s in the)
    with pytest.raises(KwsError, match="sentences"):
        text_corpus.sentences("x", 10**7, seed=0)
