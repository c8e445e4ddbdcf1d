"""``python -m training.data demo``: the bundled demo recording, a held-out voice saying the
shipped wake words in a room with real background sound, and its ground truth.

A test-split text-to-speech voice (:func:`training.data.tts.split_voices`, so no shipped model
heard it in training) says each cue of :data:`CUES`. Each keyword is placed in the room: the
dry voice plus the tail of a real test-split impulse response, scaled to a direct-to-reverberant
ratio (``drr_db``) of a talker about a metre from the microphone (the room is ``room``, by
default CsoundQt's 3.5 s big hall; convolving with all of it would put the talker at the back of
a concert hall). Under everything runs a real ambience (room tone); over it come
:data:`STRETCHES` of real recorded speech in other languages and real music, each at a
keyword-to-background SNR. Only
recordings of the **test** split whose licence allows redistribution (:data:`REDISTRIBUTABLE`)
are used, and each excerpt's package, version, licence and path goes in the sidecar JSON with
what is said when. The same recordings folder, config and engines give the same samples (Kokoro
through onnxruntime on another CPU may differ in the last bits).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.wavfile import load_audio, write_wav
from training.data import signals
from training.data.augment import power, reverberate
from training.data.recordings import RecordingEntry, load_index
from training.data.reserved import refuse_reserved
from training.data.tts import Prosody, Voice, list_voices, split_voices, synthesize

SAMPLE_RATE = signals.SAMPLE_RATE
SPLIT = "test"
REDISTRIBUTABLE = frozenset({
    "CC0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
    "CC-BY-SA-3.0 / CC-BY-3.0", "LGPL-2.1", "LGPL-2.1+",
})  # fmt: skip
"""Licences whose recordings may be bundled, mixed, in an Apache-2.0 project (with credit). The
GPL-2 test speech (tuxpaint) is left out too: a mix of it with CC-BY-SA audio could be released
under neither licence."""
RECIPES = Path(__file__).parents[1] / "configs" / "wakewords"
"""Per-phrase recipes (see training.wakeword): a phrase's ``[corpus] pronunciation``."""
DIRECT_MS = 2.5
"""The first milliseconds of an impulse response after its peak count as the direct sound."""
FADE_S = 0.25
"""Background stretches fade in and out over this long."""
GAP_S = 0.35
"""Silence between consecutive recorded prompts in a speech stretch."""
MIN_PROMPT_S = 1.5
"""Shorter prompts (single words, beeps and tones of the prompt packages) are not used."""


@dataclass(frozen=True)
class Cue:
    """One wake word said in the recording."""

    model: str
    """The shipped model's label (``hey_jarvis``): the phrase is its words."""
    onset_s: float
    """Where the dry voice starts, seconds from the beginning."""

    @property
    def phrase(self) -> str:
        return self.model.replace("_", " ")


@dataclass(frozen=True)
class Stretch:
    """A stretch of recorded background over the room tone."""

    kind: str
    """'speech' or 'music' (recordings kinds)."""
    start_s: float
    end_s: float
    snr_db: float
    """Keyword power over the background's power (its whole excerpt), in dB."""
    package: str = ""
    """Only recordings of this package ('' = any of the kind)."""
    contains: str = ""
    """Only files whose path contains this ('' = any): picks a music track."""


CUES = (
    Cue("hey_jarvis", 2.0),
    Cue("alexa", 8.5),
    Cue("okay_nabu", 17.5),
    Cue("hey_mycroft", 26.5),
    Cue("hey_jarvis", 33.0),
)
STRETCHES = (
    Stretch("speech", 4.5, 12.0, 15.0, "asterisk-core-sounds-fr-wav"),
    Stretch("music", 13.5, 21.5, 12.0, "redeclipse-data", "track_02"),
    Stretch("speech", 23.0, 29.5, 15.0, "asterisk-prompt-it-menardi-wav"),
    Stretch("music", 31.0, 36.0, 15.0, "redeclipse-data", "track_05"),
)


@dataclass(frozen=True)
class DemoConfig:
    """What the demo recording holds; the CLI only sets paths and the engine."""

    seconds: float = 36.0
    engine: str = "kokoro"
    """TTS engine of the speaking voice: its test split's English voices are the candidates."""
    voice_index: int = 0
    """Which of those voices (sorted by name)."""
    voice_seed: int = 0
    """Seed of the voice split (0: the split the shipped models' corpora used)."""
    rate_wpm: int = 165
    keyword_dbfs: float = -20.0
    """RMS of each dry keyword."""
    drr_db: float = 5.0
    """Direct-to-reverberant energy ratio of the keywords in the room."""
    room: str = "impulse_big_hall"
    """The room: the test impulse response whose path contains this ('' = the first)."""
    ambient: str = "distant_cars"
    """Room tone: the test ambience whose path contains this ('' = the first)."""
    ambient_snr_db: float = 30.0
    cues: tuple[Cue, ...] = CUES
    stretches: tuple[Stretch, ...] = STRETCHES
    seed: int = 0
    """Draws the speech prompts and excerpt offsets."""


def pick_voice(config: DemoConfig) -> Voice:
    """The config's held-out voice: an English voice of the engine's test split."""
    voices = split_voices(list_voices((config.engine,)), seed=config.voice_seed)[SPLIT]
    english = [v for v in voices if v.is_english]
    if config.voice_index >= len(english):
        raise KwsError(f"{config.engine} has {len(english)} English test voices, not more")
    return english[config.voice_index]


def recipe_pronunciation(model: str) -> str | None:
    """The first ``[corpus] pronunciation`` of the phrase's recipe, or None (engine's reading)."""
    path = RECIPES / f"{model}.toml"
    if not path.is_file():
        return None
    said = tomllib.loads(path.read_text()).get("corpus", {}).get("pronunciation", "")
    return said.split("|")[0].strip() or None


class Sources:
    """The test split's redistributable recordings, loaded on demand, with provenance."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries = [e for e in load_index(root) if e.split == SPLIT]

    def of(self, kind: str, package: str = "", contains: str = "") -> list[RecordingEntry]:
        found = [
            e
            for e in self.entries
            if e.kind == kind and (not package or e.package == package) and contains in e.path
        ]
        if not found:
            where = f" of {package}" if package else ""
            raise KwsError(f"{self.root}: no {SPLIT} {kind} recording{where} matching {contains!r}")
        return found

    def load(self, entry: RecordingEntry) -> np.ndarray:
        """The recording as float32, if its licence lets it be bundled and its package is not
        reserved for evaluation (else KwsError)."""
        refuse_reserved(entry.package, "training.data demo")
        if entry.licence not in REDISTRIBUTABLE:
            raise KwsError(
                f"{self.root}/{entry.path}: licence {entry.licence!r} does not allow bundling"
            )
        return signals.as_float32(load_audio(self.root / entry.path, SAMPLE_RATE))


def credit(entry: RecordingEntry, **extra: Any) -> dict[str, Any]:
    """The provenance of one excerpt, for the sidecar."""
    fields = ("package", "version", "licence", "path_in_package", "language")
    return {**{k: getattr(entry, k) for k in fields}, **extra}


def room_keyword(dry: np.ndarray, rir: np.ndarray, drr_db: float) -> np.ndarray:
    """``dry`` plus its reverberation by the tail of ``rir`` (after its direct sound), the tail
    scaled so the direct-to-reverberant energy ratio is ``drr_db``; as long as the convolution."""
    peak = int(np.argmax(np.abs(rir)))
    direct_end = peak + round(DIRECT_MS * SAMPLE_RATE / 1000)
    response = np.asarray(rir, dtype=np.float64) / float(rir[peak])
    direct, tail = response[:direct_end], response[direct_end:]
    if power(tail) == 0:
        raise KwsError("the room impulse response has no reverberant tail")
    scale = np.sqrt(np.sum(direct**2) / np.sum(tail**2) / 10 ** (drr_db / 10))
    shaped = np.concatenate([direct, tail * scale])
    return reverberate(dry, shaped)


def _to_rms(audio: np.ndarray, rms: float) -> np.ndarray:
    level = np.sqrt(power(audio))
    return (audio * (rms / level)).astype(np.float64) if level > 0 else audio.astype(np.float64)


def _faded(audio: np.ndarray) -> np.ndarray:
    n = min(round(FADE_S * SAMPLE_RATE), len(audio) // 2)
    ramp = np.linspace(0.0, 1.0, n, endpoint=False)
    out = audio.copy()
    out[:n] *= ramp
    out[len(out) - n :] *= ramp[::-1]
    return out


def _speech(
    sources: Sources, stretch: Stretch, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Recorded prompts of at least MIN_PROMPT_S one after another (seeded order), GAP_S
    apart, filling ``n`` samples."""
    entries = [
        e for e in sources.of("speech", stretch.package, stretch.contains)
        if e.seconds >= MIN_PROMPT_S
    ]  # fmt: skip
    if not entries:
        raise KwsError(f"{sources.root}: no {SPLIT} speech prompt of {MIN_PROMPT_S} s or more")
    out, used, at = np.zeros(n), [], 0
    gap = round(GAP_S * SAMPLE_RATE)
    for index in rng.permutation(len(entries)):
        if at >= n:
            break
        audio = sources.load(entries[index])[: n - at]
        out[at : at + len(audio)] = audio
        start = stretch.start_s + at / SAMPLE_RATE
        used.append(credit(entries[index], start_s=round(start, 3),
                           seconds=round(len(audio) / SAMPLE_RATE, 3)))  # fmt: skip
        at += len(audio) + gap
    return out, used


def _excerpt(
    sources: Sources, entry: RecordingEntry, n: int, rng: np.random.Generator, start_s: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` samples of one recording from a seeded offset (wrapping round a short loop)."""
    audio = sources.load(entry)
    offset = int(rng.integers(max(1, len(audio) - n))) if len(audio) > n else 0
    out = np.take(audio, np.arange(offset, offset + n), mode="wrap").astype(np.float64)
    return out, credit(entry, start_s=start_s, seconds=round(n / SAMPLE_RATE, 3),
                       offset_in_source_s=round(offset / SAMPLE_RATE, 3))  # fmt: skip


def render(config: DemoConfig, recordings: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The demo recording (int16, 16 kHz mono) and its ground truth (the sidecar's content)."""
    sources = Sources(recordings)
    rng = np.random.default_rng(config.seed)
    total = round(config.seconds * SAMPLE_RATE)
    keyword_rms = 10 ** (config.keyword_dbfs / 20)
    rir_entry = sources.of("rir", contains=config.room)[0]
    rir = sources.load(rir_entry).astype(np.float64)
    voice = pick_voice(config)
    prosody = Prosody(config.rate_wpm, 50, 100, 0)

    voice_track = np.zeros(total)
    said = []
    for cue in config.cues:
        ipa = recipe_pronunciation(cue.model)
        dry = _to_rms(signals.as_float32(synthesize(cue.phrase, voice, prosody, ipa)), keyword_rms)
        wet = room_keyword(dry, rir, config.drr_db)
        at = round(cue.onset_s * SAMPLE_RATE)
        if at + len(dry) > total:
            raise KwsError(f"the cue {cue.model} at {cue.onset_s} s ends after {config.seconds} s")
        wet = wet[: total - at]
        voice_track[at : at + len(wet)] += wet
        said.append({"model": cue.model, "phrase": cue.phrase, "ipa": ipa,
                     "onset_s": cue.onset_s,
                     "offset_s": round((at + len(dry)) / SAMPLE_RATE, 3)})  # fmt: skip

    ambient_entry = sources.of("ambient", contains=config.ambient)[0]
    ambient, ambient_credit = _excerpt(sources, ambient_entry, total, rng, 0.0)
    background = _to_rms(ambient, keyword_rms / 10 ** (config.ambient_snr_db / 20))
    used = [{"kind": "ambient", "snr_db": config.ambient_snr_db, **ambient_credit}]
    for stretch in config.stretches:
        start, end = round(stretch.start_s * SAMPLE_RATE), round(stretch.end_s * SAMPLE_RATE)
        if not 0 <= start < end <= total:
            raise KwsError(f"background stretch {stretch.start_s}-{stretch.end_s} s is outside "
                           f"the {config.seconds} s recording")  # fmt: skip
        if stretch.kind == "speech":
            audio, credits = _speech(sources, stretch, end - start, rng)
        else:
            entry = sources.of(stretch.kind, stretch.package, stretch.contains)[0]
            audio, one = _excerpt(sources, entry, end - start, rng, stretch.start_s)
            credits = [one]
        level = keyword_rms / 10 ** (stretch.snr_db / 20)
        background[start:end] += _faded(_to_rms(audio, level))
        used += [{"kind": stretch.kind, "snr_db": stretch.snr_db, **c} for c in credits]

    mix = voice_track + background
    peak = float(np.max(np.abs(mix)))
    gain = min(1.0, 0.95 / peak) if peak > 0 else 1.0
    for item in said:
        span = slice(round(item["onset_s"] * SAMPLE_RATE), round(item["offset_s"] * SAMPLE_RATE))
        under = [s.kind for s in config.stretches if s.start_s < item["offset_s"]
                 and s.end_s > item["onset_s"]]  # fmt: skip
        item["background"] = under[0] if under else "ambient"
        item["snr_db"] = round(10 * np.log10(power(voice_track[span]) / power(background[span])), 1)
    truth = {
        "sample_rate": SAMPLE_RATE,
        "seconds": config.seconds,
        "licence": "CC-BY-SA-3.0 (a mix of the recordings below; see README.md)",
        "voice": {**dataclasses.asdict(voice), "split": SPLIT, "rate_wpm": config.rate_wpm},
        "room": {"drr_db": config.drr_db, **credit(rir_entry)},
        "keywords": said,
        "backgrounds": used,
        "config": dataclasses.asdict(config),
    }
    return signals.to_int16(mix * gain), truth


def write(config: DemoConfig, recordings: Path, out: Path) -> dict[str, Any]:
    """Render and write ``out`` (WAV) and ``out`` with .json (the ground truth); returns it."""
    audio, truth = render(config, recordings)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, audio, SAMPLE_RATE)
    truth = {"audio": out.name, **truth}
    atomic_write_bytes(out.with_suffix(".json"), (json.dumps(truth, indent=1) + "\n").encode())
    return truth
