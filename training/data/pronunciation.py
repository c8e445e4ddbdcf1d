"""Pronunciations as data: the project's one source of IPA, and IPA spoken by espeak-ng.

espeak-ng reads a phrase with its own spelling rules, which get names wrong ("mycroft" becomes
/mˈɪkɹɔft/, "mick-roft"). A wake phrase can therefore carry its pronunciation as IPA, with
alternatives separated by ``|`` ("hˈeɪ mˈaɪkɹɒft|hˈeɪ mˈaɪkɹɔːft"). Every engine that takes
phonemes speaks those: espeak-ng through its ``[[...]]`` phoneme input, whose ASCII mnemonics
(Kirshenbaum-like: ``eI`` for eɪ, ``dZ`` for dʒ) :func:`to_espeak` makes from the IPA.

The symbol inventory is what espeak-ng's English voices (en-us, en-gb, Scottish, RP, Caribbean,
Lancaster, West Midlands) print with ``--ipa``, plus stress (ˈ ˌ), length (ː) and syllable (.)
and word (space) boundaries; anything else is a one-line KwsError naming the symbol.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kws.errors import KwsError

if TYPE_CHECKING:
    from training.data.tts import Voice

VOICE = "en-us"
"""The espeak-ng voice whose readings and phoneme names are the project's reference."""
ESPEAK_IPA: dict[str, str] = {
    # consonants
    **{c: c for c in "pbtdkfvszhmnlwjx"},
    "ɡ": "g",
    "g": "g",  # ASCII g, as people type it
    "θ": "T",
    "ð": "D",
    "ʃ": "S",
    "ʒ": "Z",
    "tʃ": "tS",
    "dʒ": "dZ",
    "ŋ": "N",
    "ɹ": "r",
    "r": "r",
    "ʔ": "?",
    "ɾ": "t#",
    "ç": "C",
    "ʍ": "w#",
    "n̩": "n-",
    "t̪": "t",
    # vowels
    "ə": "@",
    "ɚ": "3",
    "ɜ": "3:",
    "ɜː": "3:",
    "ɛ": "E",
    "e": "e",
    "æ": "a",
    "a": "a",
    "ɐ": "a#",
    "ɑ": "A:",
    "ɑː": "A:",
    "ɒ": "0",
    "ɔ": "O2",
    "ɔː": "O:",
    "o": "o",
    "oː": "oU",
    "ɪ": "I",
    "ᵻ": "I#",
    "i": "i",
    "iː": "i:",
    "ʊ": "U",
    "u": "u:",
    "uː": "u:",
    "ʉ": "U",
    "ʉː": "u:",
    "ʌ": "V",
    # diphthongs and r-coloured vowels (one espeak-ng phoneme each)
    "eɪ": "eI",
    "eː": "eI",
    "aɪ": "aI",
    "aʊ": "aU",
    "æʊ": "aU",
    "ɔɪ": "OI",
    "oɪ": "OI",
    "oʊ": "oU",
    "əʊ": "oU",
    "aɪə": "aI@",
    "aɪɚ": "aI3",
    "iə": "i@",
    "eə": "e@",
    "ʊə": "U@",
    "ɑːɹ": "A@",
    "ɔːɹ": "O@",
    "oːɹ": "o@",
    "ɛɹ": "e@",
    "ɪɹ": "i@3",
    "ʊɹ": "U@",
}
"""IPA phoneme -> espeak-ng English mnemonic. en-us speaks each back as the same IPA where en-us
has the sound (tests/test_pronunciation.py checks the round trip); the British-only ɒ is the
mnemonic '0', which British voices say as ɒ and en-us as ɑː, and so on for each accent."""
PHONEME_ENGINES = frozenset({"espeak-ng", "piper", "kokoro"})
"""TTS engines whose :func:`training.data.tts.synthesize` speaks the ``ipa`` it is given (the
others read the text); an engine that takes IPA joins this set."""
STRESS = {"ˈ": "'", "ˌ": ","}
BOUNDARIES = frozenset(" .")
MODIFIERS = frozenset("ː:\u0329\u032a")
"""Length (IPA ː, and espeak-ng's Scottish ASCII ':') and combining syllabic/dental marks: part
of a phoneme above where listed (ɑː, n̩), otherwise ignored (the English phoneme's own length)."""
SYMBOLS = frozenset("".join(ESPEAK_IPA)) | set(STRESS) | BOUNDARIES | MODIFIERS
_LONGEST = max(map(len, ESPEAK_IPA))
_VOWEL_START = frozenset("əɚɜɛeæaɐɑɒɔoɪᵻiʊuʉʌ")


def _check_symbols(pronunciation: str) -> None:
    for char in pronunciation:
        if char not in SYMBOLS:
            raise KwsError(
                f"pronunciation {pronunciation!r}: unknown phoneme symbol {char!r} "
                f"(U+{ord(char):04X}); `espeak-ng -q --ipa -v en-us TEXT` shows the ones it uses"
            )


def _word_phonemes(word: str) -> list[str]:
    """The IPA phonemes (and stress marks) of one word, longest match first."""
    out: list[str] = []
    i = 0
    while i < len(word):
        for size in range(min(_LONGEST, len(word) - i), 0, -1):
            if word[i : i + size] in ESPEAK_IPA:
                out.append(word[i : i + size])
                i += size
                break
        else:  # a stress mark, a boundary or a stray modifier
            if word[i] in STRESS:
                out.append(word[i])
            i += 1
    return out


def normalize(pronunciation: str) -> str:
    """One alternative in NFC with single spaces between words; KwsError on an unknown symbol."""
    text = " ".join(unicodedata.normalize("NFC", pronunciation).split())
    if not text:
        raise KwsError("empty pronunciation: give IPA such as 'hˈeɪ mˈaɪkɹɒft'")
    _check_symbols(text)
    if not any(p in ESPEAK_IPA for p in _word_phonemes(text.replace(" ", ""))):
        raise KwsError(f"pronunciation {pronunciation!r} has no phonemes")
    return text


def parse_pronunciation(text: str | Sequence[str]) -> tuple[str, ...]:
    """Alternatives of ``"a|b"`` (or a list of them), each validated and normalized."""
    parts = text.split("|") if isinstance(text, str) else [p for t in text for p in t.split("|")]
    if any(not p.strip() for p in parts):
        raise KwsError(f"pronunciation {'|'.join(parts)!r} has an empty alternative")
    return tuple(dict.fromkeys(normalize(p) for p in parts))


def phoneme_words(pronunciation: str) -> list[list[str]]:
    """espeak-ng mnemonics of each word, without stress: "hˈeɪ dʒˈɑːɹvɪs" -> [['h', 'eI'],
    ['dZ', 'A@', 'v', 'I', 's']] (what training.data.phonetic compares)."""
    return [
        [ESPEAK_IPA[p] for p in _word_phonemes(w) if p in ESPEAK_IPA]
        for w in normalize(pronunciation).split()
    ]


def to_espeak(pronunciation: str) -> str:
    """espeak-ng phoneme input for ``pronunciation`` (put it inside ``[[...]]``).

    A word without a stress mark gets primary stress on its first vowel; espeak-ng would
    otherwise place it by its own rules (it stresses "maIkr'0ft" on the second syllable).
    """
    words = []
    for word in normalize(pronunciation).split():
        phonemes = _word_phonemes(word.replace(".", ""))
        if not any(p in STRESS for p in phonemes):
            first = next((i for i, p in enumerate(phonemes) if p[0] in _VOWEL_START), 0)
            phonemes.insert(first, "ˈ")
        words.append("".join(STRESS.get(p) or ESPEAK_IPA[p] for p in phonemes))
    return " ".join(words)


def espeak_lines(lines: Sequence[str], options: Sequence[str], voice: str = VOICE) -> list[str]:
    """espeak-ng's output (``-x``, ``--ipa``...) for each line, in one run (one clause a line).

    If espeak-ng splits or merges a clause, each line is run alone. Raises KwsError without it.
    """
    from training.data.tts import ESPEAK, require_engine, run_engine

    if not lines:
        return []
    args = [require_engine(ESPEAK), "-q", *options, "-v", voice]
    out = run_engine(args, stdin="".join(f"{line}.\n" for line in lines)).stdout.splitlines()
    if len(out) != len(lines):
        out = [" ".join(run_engine(args, stdin=f"{line}.\n").stdout.split()) for line in lines]
    return [" ".join(line.split()) for line in out]


def ipa_lines(texts: Sequence[str]) -> list[str]:
    """espeak-ng's en-us IPA of each text, in one run."""
    return espeak_lines([" ".join(t.split()) for t in texts], ["--ipa"])


def ipa(text: str) -> str:
    """espeak-ng's en-us IPA for ``text``: "hey mycroft" -> "hˈeɪ mˈɪkɹɔft"."""
    return ipa_lines([text])[0]


def spoken_ipa(pronunciations: Sequence[str], voice: str = VOICE) -> list[str]:
    """What ``voice`` says for each pronunciation, as its own IPA (the round trip)."""
    return espeak_lines([f"[[{to_espeak(p)}]]" for p in pronunciations], ["--ipa"], voice)


def sound_key(ipa_text: str) -> str:
    """IPA without stress marks and boundaries: two texts with one key sound alike."""
    return "".join(c for c in ipa_text if c not in STRESS and c not in BOUNDARIES)


def sound_alikes(candidates: Iterable[str], targets: Iterable[str]) -> set[str]:
    """The words of ``candidates`` that espeak-ng says exactly as one of ``targets``, stress
    aside: "to" and "too" for "two", "know" for "no", "write" for "right" (one espeak-ng run)."""
    wanted, words = sorted(set(targets)), sorted(set(candidates))
    if not wanted or not words:
        return set()
    keys = [sound_key(k) for k in ipa_lines([*wanted, *words])]
    target_keys = set(keys[: len(wanted)])
    return {w for w, k in zip(words, keys[len(wanted) :], strict=True) if k in target_keys}


@functools.cache
def speaks(voice: str, pronunciation: str) -> bool:
    """True if espeak-ng ``voice`` (a language voice such as 'de') keeps every phoneme of
    ``pronunciation``; English voices always do.

    Non-English voices read English mnemonics with their own phoneme tables, which lack some of
    them: Polish drops most and French stops at the first unknown one (checked with espeak-ng
    1.51), so those voices read the text instead. English voices speak every phoneme.
    """
    wanted = sum(len(w) for w in phoneme_words(pronunciation))
    out = espeak_lines([f"[[{to_espeak(pronunciation)}]]"], ["-x", "--sep=_"], voice)[0]
    said = [p for p in out.replace(" ", "_").split("_") if p.strip("',%=")]
    return len(said) >= wanted


def for_voice(voice: Voice, pronunciation: str | None) -> str | None:
    """The pronunciation ``voice`` will speak, or None where it reads the text: engines outside
    PHONEME_ENGINES (flite), and non-English espeak-ng voices lacking a phoneme (:func:`speaks`)."""
    if pronunciation is None or voice.engine not in PHONEME_ENGINES:
        return None
    if voice.engine != "espeak-ng" or voice.is_english or speaks(voice.base, pronunciation):
        return pronunciation
    return None


def report(phrases: dict[str, tuple[str, ...]], negatives: Sequence[str]) -> dict[str, Any]:
    """Print to stderr, one line each, the IPA that will be spoken for each phrase (its
    alternatives, or espeak-ng's reading when it has none) and each hard negative's; return the
    same as a dict for the corpus summary."""
    read = dict(zip(phrases, ipa_lines(list(phrases)), strict=True))
    said = {p: list(alts) if alts else [read[p]] for p, alts in phrases.items()}
    for phrase, alternatives in said.items():
        source = "given" if phrases[phrase] else "espeak-ng's reading"
        print(f"says {phrase!r} as {' | '.join(alternatives)} ({source})", file=sys.stderr)
    unique = list(dict.fromkeys(negatives))
    sounds = dict(zip(unique, ipa_lines(unique), strict=True))
    for text, sound in sounds.items():
        print(f"hard negative {text!r}: {sound}", file=sys.stderr)
    return {"phrases": said, "hard_negatives": sounds}


def pick_pronunciation(
    alternatives: Sequence[str], voice: Voice, seed: int, index: int
) -> str | None:
    """The alternative clip ``index`` says, drawn (seeded, the same whichever process asks)
    among those ``voice`` can speak; None where it can speak none and reads the text
    (:func:`for_voice`), or where there are no alternatives."""
    speakable = [a for a in alternatives if for_voice(voice, a) is not None]
    if not speakable:
        return None
    digest = hashlib.sha256(f"{seed}/pronunciation-{index}".encode()).digest()
    return speakable[int.from_bytes(digest[:8], "big") % len(speakable)]
