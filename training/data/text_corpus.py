"""General English sentences from text that ships on the machine, for speech negatives.

A keyword model must hear plenty of ordinary speech that is not the keyword. Nothing may be
downloaded, so the sentences come from licence texts, package copyright files, READMEs and
changelogs under /usr/share (gzip included): dry prose, but real English with varied words.
Lines that look like code, addresses or lists are dropped; what remains is cleaned, deduplicated
and cached for the process.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from kws.errors import KwsError

SOURCES = (
    ("/usr/share/common-licenses/*", 1_000_000),
    ("/usr/share/doc/*/copyright", 1_000_000),
    ("/usr/share/doc/*/README*", 1_000_000),
    ("/usr/share/doc/*/changelog*", 32_000),
    ("/usr/share/doc/*/NEWS*", 32_000),
)
"""Glob patterns (from /) of the text files sentences are taken from, and how many bytes of each
to read: changelogs hold 136 MB on a desktop Debian, so only their newest entries are used (the
whole set took 20 s to clean; the 32 kB heads give ~15,000 sentences in about 3 s)."""
WORDNET = Path("/usr/share/wordnet")
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
"""WordNet 3.0's synsets ('apt-get install wordnet-base'), whose glosses quote usage examples:
everyday English ("she left her job", "let's go") where the documentation is licences and
changelogs."""
TEXT_SOURCES = ("docs", "wordnet")
"""Where sentences come from: ``docs``, the documentation under /usr/share (:data:`SOURCES`);
``wordnet``, WordNet's usage examples."""
MIN_WORDS = 3
MAX_WORDS = 20
_BLOCK_END = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_BAD = re.compile(
    r"\bhttps?\b|www\.|@|:|--|\S+\.\S+\.\S+|[\\/{}\[\]<>=_|#$%^*`~;]|\.\w|\d|\s[-+]\s"
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def _read(path: Path, limit: int) -> str:
    """The first ``limit`` bytes of a text file, gunzipped if needed; '' if unreadable."""
    try:
        if not path.is_file():
            return ""
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read(limit)
        text = data.decode("utf-8", errors="replace")  # a cut character is dropped as non-ASCII
        return text if len(data) < limit else text[: text.rfind("\n") + 1]
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""


def _paragraph(block: str) -> str:
    """A blank-line separated block joined into one line, list bullets and '*' dropped."""
    lines = (line.strip().lstrip("*-+ ").strip() for line in block.splitlines())
    return " ".join(line for line in lines if line)


def _clean(sentence: str) -> str | None:
    """The sentence ready to speak, or None if it is not plain English prose."""
    sentence = sentence.strip().strip("\"'()").strip()
    if _BAD.search(sentence) or not sentence[:1].isupper():
        return None
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return None
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.8 * len(sentence.replace(" ", "")) or not sentence.isascii():
        return None
    if sum(w.isupper() and len(w) > 1 for w in words) > len(words) // 2:
        sentence = sentence.capitalize()  # licence disclaimers shout; speak them normally
    if sentence.endswith(":") or sentence.endswith(":."):
        return None
    if sentence[-1] not in ".!?":
        sentence += "."
    return sentence


@functools.cache
def _corpus() -> tuple[str, ...]:
    """Every clean sentence on the machine, deduplicated (case-insensitively) and sorted."""
    blocks: set[str] = set()  # licence texts repeat across packages: handle each block once
    for pattern, limit in SOURCES:
        for path in sorted(Path("/").glob(pattern.lstrip("/"))):
            blocks.update(_BLOCK_END.split(_read(path, limit)))
    raw = {part for block in blocks for part in _SENTENCE_END.split(_paragraph(block))}
    seen: dict[str, str] = {}
    for sentence in sorted(raw):
        cleaned = _clean(sentence)
        if cleaned is not None:
            seen.setdefault(cleaned.lower(), cleaned)
    return tuple(sorted(seen.values()))


def fingerprint(
    word_lists: Sequence[str] = (), sources: Sequence[str] = ("docs",)
) -> dict[str, str]:
    """What this machine's text gives a corpus: how many sentences ``sources`` hold, a hash of
    them, and a hash of each word list. Other installed packages give other sentences and
    look-alike words, hence other speech negatives from the same seed; a corpus records this to
    tell."""
    import hashlib

    pool = pool_of(sources)
    found = {
        "sentences": str(len(pool)),
        "sentences_sha256": hashlib.sha256("\n".join(pool).encode()).hexdigest()[:16],
    }
    for name in word_lists:
        path = Path(name)
        found[name] = (
            hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
        )
    return found


_EXAMPLE = re.compile(r'"([^"]+)"')


@functools.cache
def _wordnet() -> tuple[str, ...]:
    """WordNet's usage examples as sentences (first letter raised, a full stop added), cleaned
    as the documentation's are, deduplicated and sorted. Raises KwsError without WordNet."""
    found: dict[str, str] = {}
    for name in WORDNET_FILES:
        path = WORDNET / name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            raise KwsError(
                f"{path}: WordNet's usage examples are missing (apt-get install wordnet-base)"
            ) from None
        for line in text.splitlines():
            if line.startswith("  "):  # the licence header
                continue
            for example in _EXAMPLE.findall(line.partition("|")[2]):
                example = example.strip()
                cleaned = _clean(example[:1].upper() + example[1:]) if example else None
                if cleaned is not None:
                    found.setdefault(cleaned.lower(), cleaned)
    return tuple(sorted(found.values()))


def pool_of(sources: Sequence[str]) -> tuple[str, ...]:
    """The sentences of ``sources`` (names in :data:`TEXT_SOURCES`), each once, in a fixed order.
    Raises KwsError for an unknown source."""
    unknown = [s for s in sources if s not in TEXT_SOURCES]
    if unknown:
        raise KwsError(f"unknown text source {unknown[0]!r} (known: {', '.join(TEXT_SOURCES)})")
    parts = [_corpus() if s == "docs" else _wordnet() for s in dict.fromkeys(sources)]
    return tuple(dict.fromkeys(s for part in parts for s in part))


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (letters and apostrophes), as the filters see them."""
    return [w.lower() for w in _WORD.findall(text)]


_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> list[str]:
    """The English words of a whole number as it is read out (21 -> twenty one), up to
    999,999,999; beyond that digit by digit, as a phone number is read."""
    if n < 20:
        return [_SMALL[n]]
    if n < 100:
        return [_TENS[n // 10 - 2], *(number_words(n % 10) if n % 10 else [])]
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if size <= n < size * 1000:
            rest = number_words(n % size) if n % size else []
            return [*number_words(n // size), name, *rest]
    return [_SMALL[int(d)] for d in str(n)]


_SPOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?")


def spoken_words(text: str, english: bool = True) -> list[str]:
    """The lower-case words of ``text`` as said aloud: letters of any script, numerals
    spelled out in English ("press 1" -> press one); in another language (``english`` False)
    numerals are left out, as their words are not known here."""
    out: list[str] = []
    for token in _SPOKEN.findall(text.lower()):
        if token.isdigit():
            out += number_words(int(token)) if english else ["#"]
        else:
            out.append(token)
    return out


def says(text: str, *phrases: str, english: bool = True) -> bool:
    """True if ``text`` holds the words of one of ``phrases`` in a row (numerals of English
    text count as their words: "press 1" says "one", "someone" and "10" do not)."""
    have = spoken_words(text, english)
    for want in (spoken_words(p) for p in phrases):
        if want and any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1)):
            return True
    return False


@functools.cache
def word_counts() -> Counter[str]:
    """How often each lower-case word occurs in the corpus sentences (a 'common words' list)."""
    return Counter(w for sentence in _corpus() for w in words(sentence))


@functools.cache
def word_pairs() -> Counter[tuple[str, str]]:
    """How often each pair of adjacent lower-case words occurs in the corpus sentences: phrases
    people write, so look-alikes made of them are phrases people say."""
    return Counter(pair for sentence in _corpus() for pair in itertools.pairwise(words(sentence)))


def sentences(
    exclude: str,
    count: int,
    seed: int,
    avoid: Collection[str] = (),
    sound_alike: bool = False,
    sources: Sequence[str] = ("docs",),
) -> list[str]:
    """``count`` distinct sentences, none containing a word of ``exclude`` (nor the phrase) and
    none of ``avoid`` (the evaluation sets' sentences, which training must not speak).

    Words are compared whole and case-insensitively ("Hey Jarvis" excludes "hey" and "jarvis"
    but not "they"). ``sound_alike`` also leaves out sentences with a word espeak-ng says as an
    excluded one ("to" for "two", "know" for "no"): no model can hear which was meant, so such
    speech must neither teach a command model that it is not the command nor count as its false
    accept. ``sources`` (:data:`TEXT_SOURCES`) are where they come from. The same seed gives the
    same list. Raises KwsError if fewer than ``count`` sentences are available on this machine.
    """
    banned = set(words(exclude))
    held = set(avoid)
    pool = [s for s in pool_of(sources) if banned.isdisjoint(words(s)) and s not in held]
    if sound_alike and banned and count:
        from training.data.pronunciation import sound_alikes

        drawn = random.Random(seed).sample(pool, min(len(pool), 3 * count))
        alike = sound_alikes({w for s in drawn for w in words(s)} - banned, banned)
        pool = [s for s in drawn if alike.isdisjoint(words(s))]
        if len(pool) >= count:
            return pool[:count]
    if len(pool) < count:
        raise KwsError(
            f"only {len(pool)} sentences without the words of {exclude!r}"
            f"{' or words that sound like them' if sound_alike else ''} found in "
            f"{' and '.join(sources)} text on this machine, {count} wanted"
        )
    return random.Random(seed).sample(pool, count)


def context_words(
    count: int, share: float, texts: Sequence[str], seed: int
) -> list[tuple[str, str]]:
    """Words around ``count`` utterances, ``share`` of them (a seeded choice) inside sentences:
    (before, after) per utterance, two to five words of ``texts`` before it, after it or both,
    and ("", "") for those said alone. Raises ValueError if some need words and ``texts`` is
    empty."""
    import numpy as np

    rng = np.random.default_rng(seed)
    within = sorted(int(i) for i in rng.permutation(count)[: round(share * count)])
    if within and not texts:
        raise ValueError("keywords in sentences need sentences to draw words from")
    out = [("", "")] * count
    for n, i in enumerate(within):
        before, after = (texts[(2 * n + k) % len(texts)].split() for k in (0, 1))
        where = int(rng.integers(3))  # 0: words before, 1: after, 2: both
        head = " ".join(before[-int(rng.integers(2, 6)) :]) if where != 1 else ""
        tail = " ".join(after[: int(rng.integers(2, 6))]) if where != 0 else ""
        out[i] = (_sayable(head.strip(".,;:!?")), _sayable(tail.strip(".,;:!?")))
    return out


def _sayable(part: str) -> str:
    """``part``, or "" when it holds no word to say (". ." or "&": a voice says nothing, and
    a silent synthesis is an error)."""
    return part if any(c.isalnum() for c in part) else ""


def unseen(
    texts: Iterable[str], held: Collection[str], count: int, keep: Collection[str] = ()
) -> list[str]:
    """The first ``count`` of ``texts`` that are not in ``held`` (an evaluation set's texts) or
    are in ``keep``; raises KwsError if fewer remain."""
    left = [t for t in texts if t not in held or t in keep][:count]
    if len(left) < count:
        raise KwsError(f"only {len(left)} phrases not in the evaluation sets, {count} wanted")
    return left
