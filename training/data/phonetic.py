"""Phonemes from espeak-ng and hard-negative phrases that sound almost like the keyword.

A wake-word model that has only heard the keyword and unrelated speech learns to fire on any
word that shares a syllable with it. Confusable phrases, made automatically for any keyword,
teach it the difference: each word of the keyword alone ("jarvis"), the first word followed by
other words ("hey there"), and words one or two phonemes away from the keyword's words
("hey travis", "hay harvest"), found by phoneme edit distance in a word list on the machine.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from training.data.pronunciation import (
    VOICE,
    espeak_lines,
    ipa_lines,
    phoneme_words,
    sound_key,
    spoken_ipa,
)
from training.data.text_corpus import word_counts, word_pairs, words

WORD_LISTS = ("/usr/share/dict/words",)
"""Vocabulary files (one word a line) searched for near words; 'apt-get install wamerican'."""
PHONEME_VOICE = VOICE
COMMON_WORDS = 300
"""How many of the corpus's most frequent words follow the keyword's first word ("hey there")."""
MAX_PHONEME_DISTANCE = 2
SPAN_MAX_DISTANCE = 3
"""Edits allowed between a keyword and a two-word run (:func:`span_phrases`): one more than for
a near word, since the whole keyword is matched across two words."""
SPAN_MIN_PAIRS = 2
"""How often a pair of words must occur in the text corpus to make a look-alike across their
boundary (once-seen pairs are mostly cleaning accidents)."""
_STRESS = str.maketrans("", "", "',%=")


def _phonemize(lines: Sequence[str]) -> list[list[str]]:
    """Phonemes of each line, in one espeak-ng run (one clause a line)."""
    out = espeak_lines(lines, ["-x", "--sep=_"], PHONEME_VOICE)
    return [[p for p in line.translate(_STRESS).replace(" ", "_").split("_") if p] for line in out]


def _phonemize_words(lines: Sequence[str]) -> list[list[list[str]]]:
    """Phonemes of each word of each line, read in context, in one espeak-ng run (espeak-ng
    may join words, so a line can come back with fewer words than it has)."""
    out = espeak_lines(lines, ["-x", "--sep=_"], PHONEME_VOICE)
    return [
        [[p for p in word.translate(_STRESS).split("_") if p] for word in line.split()]
        for line in out
    ]


def phonemes(text: str) -> list[str]:
    """espeak-ng's (en-us) phoneme names for ``text``, stress marks and word breaks removed.

    "hey jarvis" → ['h', 'eI', 'dZ', 'A@', 'v', 'I', 's']. Raises KwsError without espeak-ng.
    """
    return _phonemize([" ".join(text.split())])[0]


def _levenshtein(query: np.ndarray, table: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Distance from the code sequence ``query`` to each row of ``table`` (rows padded past
    their ``lengths`` with codes absent from ``query``), one numpy step per cell column."""
    width = table.shape[1]
    prev = np.tile(np.arange(width + 1), (len(table), 1))
    for i, code in enumerate(query, 1):
        cost = table != code
        cur = np.empty_like(prev)
        cur[:, 0] = i
        for j in range(1, width + 1):
            best = np.minimum(prev[:, j] + 1, prev[:, j - 1] + cost[:, j - 1])
            cur[:, j] = np.minimum(best, cur[:, j - 1] + 1)
        prev = cur
    return prev[np.arange(len(table)), lengths]


def edit_distances(query: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """Levenshtein distance from ``query`` to each candidate (sequences of symbols such as
    phoneme names), vectorized over the candidates."""
    if not candidates:
        return np.zeros(0, dtype=np.int64)
    codes: dict[str, int] = {}
    table = np.full((len(candidates), max(map(len, candidates))), -1, dtype=np.int64)
    for row, cand in enumerate(candidates):
        table[row, : len(cand)] = [codes.setdefault(s, len(codes)) for s in cand]
    query_codes = np.array([codes.get(s, -2) for s in query], dtype=np.int64)
    return _levenshtein(query_codes, table, np.array([len(c) for c in candidates]))


def _spelled_like(word: str, vocabulary: Sequence[str], limit: int) -> list[str]:
    """Vocabulary words within ``limit`` letter edits of ``word`` (ASCII bytes as codes)."""
    cands = [v for v in vocabulary if abs(len(v) - len(word)) <= limit]
    if not cands:
        return []
    table = np.array(cands, dtype=bytes).view(np.uint8).reshape(len(cands), -1)
    query = np.frombuffer(word.encode("ascii", "replace"), dtype=np.uint8)
    dist = _levenshtein(query, table, np.array([len(c) for c in cands]))
    return [c for c, d in zip(cands, dist, strict=True) if d <= limit]


def _vocabulary() -> list[str]:
    """Lower-case words from the system word lists, else the text corpus's repeated words."""
    found: set[str] = set()
    for name in WORD_LISTS:
        path = Path(name)
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update(w.lower() for w in text.split() if w.isascii() and w.isalpha())
    if not found:
        found = {w for w, n in word_counts().items() if n >= 3 and w.isalpha()}
    found = {w for w in found if any(c in "aeiouy" for c in w)}  # drops abbreviations ("bk")
    return sorted(w for w in found if len(w) > 1 or w in ("a", "i"))


def _near_words(
    keyword_words: Sequence[str],
    vocabulary: Sequence[str],
    banned: set[str],
    said: dict[str, list[list[str]]] | None = None,
) -> dict[str, list[str]]:
    """For each keyword word, vocabulary words 1..MAX_PHONEME_DISTANCE phonemes away.

    Spelling narrows the word list first (letter distance 3, 2 for four letters, 1 for fewer), so
    espeak-ng only phonemizes a few hundred candidates. ``said`` gives a word's pronunciations
    (phoneme names) where they override espeak-ng's reading: a candidate is near if it is near
    any of them and equal to none.
    """
    spelled: dict[str, list[str]] = {}
    for word in keyword_words:
        limit = 1 if len(word) <= 3 else 2 if len(word) == 4 else 3
        spelled[word] = _spelled_like(word, vocabulary, limit)
    unique = sorted({v for vs in spelled.values() for v in vs} | set(keyword_words))
    sounds = dict(zip(unique, _phonemize(unique), strict=True))
    near: dict[str, list[str]] = {}
    for word in keyword_words:
        cands = [v for v in spelled[word] if v not in banned and sounds[v]]
        targets = (said or {}).get(word) or [sounds[word]]
        dist = np.stack([edit_distances(t, [sounds[v] for v in cands]) for t in targets])
        closest = dist.min(axis=0) if cands else np.zeros(0, dtype=np.int64)
        near[word] = [
            v for v, d in zip(cands, closest, strict=True) if 1 <= d <= MAX_PHONEME_DISTANCE
        ]
    return near


def _said_words(keyword: Sequence[str], pronunciation: Sequence[str]) -> dict[str, list[list[str]]]:
    """Each keyword word's phoneme names in the pronunciations that have one word per word."""
    said: dict[str, list[list[str]]] = {}
    for alternative in pronunciation:
        names = phoneme_words(alternative)
        if len(names) == len(keyword):
            for word, phones in zip(keyword, names, strict=True):
                said.setdefault(word, []).append(phones)
    return said


def _contains(phrase: Sequence[str], keyword: Sequence[str]) -> bool:
    n = len(keyword)
    return any(list(phrase[i : i + n]) == list(keyword) for i in range(len(phrase) - n + 1))


def _interleave(groups: Iterable[list[str]]) -> list[str]:
    """Round-robin over the groups, so every kind of confusable appears early in the list."""
    lists = [g for g in groups if g]
    out: list[str] = []
    for i in range(max((len(g) for g in lists), default=0)):
        out += [g[i] for g in lists if i < len(g)]
    return out


def confusable_phrases(
    keyword: str, count: int, seed: int, pronunciation: Sequence[str] = ()
) -> list[str]:
    """``count`` phrases that sound like, or share words with, ``keyword`` but are not it.

    The list starts with each keyword word alone (for multi-word keywords), then interleaves
    near-word substitutions ("hey travis", "hay jarvis", "hay harvest"), near words alone
    ("travis"), the first/last word with common words ("hey there", "the jarvis") and near words
    with common words ("the harvest", for one-word keywords above all). Never
    the keyword, a phrase containing it, or one whose phonemes equal it. ``pronunciation``
    (IPA alternatives, training.data.pronunciation) overrides espeak-ng's reading of the keyword:
    near words are found near those phonemes, and no phrase sounds like any alternative (the
    phrases' en-us IPA compared with what en-us says for each). Deterministic by seed; raises
    KwsError if fewer than ``count`` can be made.
    """
    rng = random.Random(seed)
    kw = words(keyword)
    if not kw:
        raise KwsError(f"keyword {keyword!r} has no words to make confusable phrases from")
    vocabulary = _vocabulary()
    near = _near_words(sorted(set(kw)), vocabulary, set(kw), _said_words(kw, pronunciation))
    known = set(vocabulary)  # drops corpus jargon ("lintian") from the common words
    common = [w for w, _ in word_counts().most_common() if w in known and w not in kw]
    common = common[:COMMON_WORDS]
    nears = [n for w in dict.fromkeys(kw) for n in near[w]]
    alone = list(dict.fromkeys(kw)) if len(kw) > 1 else []
    swapped_one = [[*kw[:i], n, *kw[i + 1 :]] for i, w in enumerate(kw) for n in near[w]]
    swapped_all = []  # a sample of the (large) product of near words, every word replaced
    if len(kw) > 1 and all(near[w] for w in kw):
        swapped_all = [[rng.choice(near[w]) for w in kw] for _ in range(4 * count)]
    with_common = [[kw[0], c] for c in common] + [[c, kw[-1]] for c in common]
    carried = [[c, n] for c in common[:50] for n in nears] + [[n, c] for n in nears for c in common]
    groups = []
    for group in (swapped_one, [[n] for n in nears], swapped_all, with_common, carried):
        texts = sorted({" ".join(p) for p in group if not _contains(p, kw)})
        rng.shuffle(texts)
        groups.append(texts)
    candidates = list(dict.fromkeys(alone + _interleave(groups)))[: 2 * count + 10]
    target = phonemes(keyword)
    sounds = _phonemize(candidates)
    alike = {sound_key(s) for s in spoken_ipa(pronunciation)} if pronunciation else set()
    keys = [sound_key(s) for s in ipa_lines(candidates)] if alike else [""] * len(candidates)
    chosen = [
        c
        for c, s, k in zip(candidates, sounds, keys, strict=True)
        if s != target and k not in alike
    ][:count]
    if len(chosen) < count:
        raise KwsError(f"only {len(chosen)} confusable phrases for {keyword!r}, {count} wanted")
    return chosen


def _edge_distances(part: Sequence[str], sounds: Sequence[Sequence[str]], end: bool) -> np.ndarray:
    """For each word's phonemes, the least edit distance from ``part`` to its last (``end``) or
    first phonemes, over the lengths within SPAN_MAX_DISTANCE of ``part``'s."""
    best = np.full(len(sounds), SPAN_MAX_DISTANCE + 1, dtype=np.int64)
    low = max(1, len(part) - SPAN_MAX_DISTANCE)
    for length in range(low, len(part) + SPAN_MAX_DISTANCE + 1):
        rows = [i for i, s in enumerate(sounds) if len(s) >= length]
        edges = [sounds[i][-length:] if end else sounds[i][:length] for i in rows]
        if rows:
            best[rows] = np.minimum(best[rows], edit_distances(part, edges))
    return best


@functools.cache
def _said_pairs() -> tuple[tuple[str, list[str], list[str]], ...]:
    """The text corpus's word pairs (seen SPAN_MIN_PAIRS times, both words in the vocabulary)
    with each word's phonemes read in context: "a" alone is "eI", before a word "a#"."""
    known = set(_vocabulary())
    texts = sorted(
        f"{a} {b}" for (a, b), n in word_pairs().items()
        if n >= SPAN_MIN_PAIRS and a in known and b in known
    )  # fmt: skip
    said = _phonemize_words(texts)
    return tuple(
        (t, w[0], w[1]) for t, w in zip(texts, said, strict=True) if len(w) == 2 and all(w)
    )


def span_phrases(
    keyword: str, count: int, seed: int, pronunciation: Sequence[str] = ()
) -> list[str]:
    """Up to ``count`` two-word phrases whose sound runs across the word boundary like
    ``keyword``'s.

    The end of the first word sounds like the keyword's first phonemes and the start of the
    second like the rest, within SPAN_MAX_DISTANCE edits in all ("a lexer", "an extension" for
    alexa): neither word alone is near the keyword, so :func:`confusable_phrases` never makes
    them, yet a model that fires on such a run fires on ordinary speech. Pairs come from the
    text corpus (:func:`word_pairs`), closest first, ties in a seeded order; never a phrase
    containing the keyword or sounding exactly like it (or like a ``pronunciation``
    alternative). A keyword of several words may get few or none: its own boundary is where
    :func:`confusable_phrases` already swaps words.
    """
    kw = words(keyword)
    if not kw:
        raise KwsError(f"keyword {keyword!r} has no words to make look-alike phrases from")
    pairs = [p for p in _said_pairs() if not _contains(p[0].split(), kw)]
    firsts = [a for _, a, _ in pairs]
    seconds = [b for _, _, b in pairs]
    targets = [phonemes(keyword)]
    targets += [[p for word in phoneme_words(alt) for p in word] for alt in pronunciation]
    closest = np.full(len(pairs), SPAN_MAX_DISTANCE + 1, dtype=np.int64)
    for target in targets:
        for split in range(1, len(target)):
            head = _edge_distances(target[:split], firsts, end=True)
            tail = _edge_distances(target[split:], seconds, end=False)
            closest = np.minimum(closest, head + tail)
    exact = {tuple(t) for t in targets}
    found = [
        (int(d), text)
        for (text, a, b), d in zip(pairs, closest, strict=True)
        if 1 <= d <= SPAN_MAX_DISTANCE and tuple(a + b) not in exact
    ]
    random.Random(seed).shuffle(found)
    found.sort(key=lambda item: item[0])  # stable: the seeded order within each distance
    return [text for _, text in found[:count]]
