"""Numerals read as words: how transcripts are matched against keywords ("press 1" says "one")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from training.data.text_corpus import number_words, says, spoken_words


@given(st.integers(min_value=0, max_value=999_999_999), st.integers(0, 999_999_999))
def test_every_number_reads_as_its_own_words(a: int, b: int) -> None:
    words_a = number_words(a)
    assert words_a and all(w.isalpha() for w in words_a)
    assert (words_a == number_words(b)) == (a == b)
    assert says(f"dial {a} now", " ".join(words_a))


def test_known_readings_and_word_boundaries() -> None:
    assert number_words(21) == ["twenty", "one"]
    assert number_words(1234) == ["one", "thousand", "two", "hundred", "thirty", "four"]
    assert number_words(10**10) == ["one"] + ["zero"] * 10  # read digit by digit
    assert spoken_words("Press 1, then #.") == ["press", "one", "then"]
    assert spoken_words("appuyez sur 1", english=False) == ["appuyez", "sur", "#"]
    assert says("Press 21 for sales", "one") and not says("press 10", "one")
    assert not says("someone", "one") and says("Lights ON now", "lights on")
    assert says("press 2", "one", "two") and not says("press 3", "one", "two")
    assert not says("anything", "") and says("Ножницы. Один.", "один")


@given(
    st.lists(
        st.lists(st.sampled_from(["lights", "the", "&", ".", "-", "on,", "…", "ok!"]), min_size=1),
        min_size=1,
        max_size=6,
    ),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_words_around_a_keyword_always_say_something_or_nothing(
    texts: list[list[str]], share: float, seed: int
) -> None:
    """Sentences with punctuation-only tokens ("Scope of license . .") gave a part that no
    voice can say, and a silent synthesis stopped the whole corpus."""
    from training.data.text_corpus import context_words

    around = context_words(12, share, [" ".join(t) for t in texts], seed)
    assert len(around) == 12
    assert sum(any(parts) for parts in around) <= round(share * 12)
    for part in (p for parts in around for p in parts):
        assert part == "" or any(c.isalnum() for c in part)
