"""The soak test's audio: a day of room sound made chunk by chunk, never held whole in memory.

Each chunk is a pure function of (seed, chunk index) and the material: coloured noise and
silence stretches at varying levels, espeak-ng sentences, and the keyword utterances cut from
``firmware_models/demo/wake_words.wav`` at planted, known times. Any span of the stream can be
regenerated on its own (a fresh pipeline's check of one hour), identical to the sample.

The noise is shaped here rather than taken from ``training.data.signals``: the soak measures the
runtime's memory, and training code (scipy, its caches) must not be imported into that process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from kws.wavfile import load_audio

SAMPLE_RATE = 16000
FULL_SCALE = 32768.0
FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
DEMO_WAV = FIRMWARE / "demo" / "wake_words.wav"
KEYWORD_PAD_BEFORE_S = 0.25
KEYWORD_PAD_AFTER_S = 0.35
FADE_S = 0.03
KEYWORD_SPACING_S = 100.0
"""One keyword is planted in every slot of this many seconds of a chunk."""
KEYWORD_CLEAR_S = 1.5
"""Sentences keep this far from a planted keyword, so a catch is the keyword's own."""
NOISE_KINDS = ("silence", "digital_silence", "white", "pink", "brown")
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
MIN_NOISE_HZ = 20.0  # below this the coloured noise is flat: no unbounded drift
SENTENCES = (
    "Turn the kitchen lights down a little before dinner.",
    "What time does the bakery on the corner open tomorrow morning?",
    "I left my umbrella in the car, can you bring it in later?",
    "The weather report says rain until the afternoon, then sunshine.",
    "Please remind me to water the plants on Thursday evening.",
    "We should call grandma this weekend, she asked about the garden.",
    "The washing machine finished twenty minutes ago.",
    "Could you read the recipe again, the part about the oven temperature?",
    "Somebody is at the front door, I think it is the delivery.",
    "Let's watch the documentary about the ocean after the news.",
)
VOICES = (  # (espeak-ng voice, words per minute, pitch 0-99): several speakers of English
    ("en-us", 165, 50),
    ("en-gb", 150, 40),
    ("en-us+f3", 170, 60),
    ("en-gb-scotland", 145, 35),
    ("en-029", 160, 55),
    ("en-gb-x-rp+f2", 155, 70),
)


@dataclass(frozen=True)
class KeywordClip:
    """One keyword utterance of the demo recording with a little of its surroundings."""

    model: str
    audio: np.ndarray
    """int16 samples, faded in and out."""
    onset_s: float
    """Where the keyword starts within ``audio`` (s)."""
    offset_s: float
    """Where it ends within ``audio`` (s)."""


@dataclass(frozen=True)
class Material:
    """What the generator mixes: keyword clips and rendered sentences (int16, 16 kHz)."""

    keywords: tuple[KeywordClip, ...]
    sentences: tuple[np.ndarray, ...]

    def save(self, path: Path) -> None:
        """Write to an .npz so that another process mixes byte-identical audio."""
        arrays = {f"keyword_{i}": k.audio for i, k in enumerate(self.keywords)}
        arrays |= {f"sentence_{i}": s for i, s in enumerate(self.sentences)}
        meta = [(k.model, k.onset_s, k.offset_s) for k in self.keywords]
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: Path) -> Material:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            keywords = tuple(
                KeywordClip(model, data[f"keyword_{i}"], onset, offset)
                for i, (model, onset, offset) in enumerate(meta)
            )
            count = sum(1 for name in data.files if name.startswith("sentence_"))
            sentences = tuple(data[f"sentence_{i}"] for i in range(count))
        return cls(keywords, sentences)


@dataclass(frozen=True)
class Planted:
    """A keyword placed in the stream: which model's, and its onset/offset in stream seconds."""

    model: str
    onset_s: float
    offset_s: float


@dataclass(frozen=True)
class Stretch:
    """What the generator laid under part of the stream: a noise kind (``NOISE_KINDS``) or
    ``"sentence"`` (``sentence`` indexes :data:`SENTENCES`), from ``start_s`` to ``stop_s``."""

    kind: str
    start_s: float
    stop_s: float
    sentence: int = -1


def sentence_name(index: int) -> str:
    """A sentence and its voice as a report names them."""
    voice = VOICES[index % len(VOICES)][0]
    return f'"{SENTENCES[index]}" ({voice})'


def _fade(audio: np.ndarray) -> np.ndarray:
    n = min(round(FADE_S * SAMPLE_RATE), len(audio) // 2)
    out = audio.astype(np.float32)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out[:n] *= ramp
    out[len(out) - n :] *= ramp[::-1]
    return out


def load_keywords(wav: Path = DEMO_WAV) -> tuple[KeywordClip, ...]:
    """The demo's keyword segments, per its ground-truth JSON (onset/offset per model)."""
    truth_path = wav.with_suffix(".json")
    try:
        truth = json.loads(truth_path.read_text())
    except (OSError, ValueError) as exc:
        raise KwsError(f"{truth_path}: cannot read the keyword ground truth ({exc})") from None
    audio = load_audio(wav)
    clips = []
    for item in truth["keywords"]:
        start = max(0, round((item["onset_s"] - KEYWORD_PAD_BEFORE_S) * SAMPLE_RATE))
        stop = min(len(audio), round((item["offset_s"] + KEYWORD_PAD_AFTER_S) * SAMPLE_RATE))
        piece = np.rint(_fade(audio[start:stop])).astype(np.int16)
        onset = item["onset_s"] - start / SAMPLE_RATE
        clips.append(
            KeywordClip(item["model"], piece, onset, item["offset_s"] - start / SAMPLE_RATE)
        )
    return tuple(clips)


def render_sentences() -> tuple[np.ndarray, ...]:
    """Each of :data:`SENTENCES` said once by espeak-ng (a subprocess), voices in turn."""
    out = []
    with tempfile.TemporaryDirectory(prefix="kws_soak_") as work:
        path = Path(work) / "sentence.wav"
        for i, text in enumerate(SENTENCES):
            voice, speed, pitch = VOICES[i % len(VOICES)]
            command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch)]
            try:
                subprocess.run([*command, "-w", str(path), text], check=True, capture_output=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise KwsError(f"espeak-ng: cannot render a sentence ({exc})") from None
            out.append(np.rint(_fade(load_audio(path))).astype(np.int16))
    return tuple(out)


def load_material() -> Material:
    return Material(load_keywords(), render_sentences())


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Unit-RMS Gaussian noise whose power falls as 1/f**exponent (FFT shaping)."""
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum *= np.maximum(freqs, MIN_NOISE_HZ) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(noise, dtype=np.float64))))
    return noise / rms if rms > 0 else noise


class SoakAudio:
    """The stream: ``chunk(i)`` is chunk ``i`` (``chunk_s`` seconds) made from (seed, i)."""

    def __init__(self, material: Material, seed: int, chunk_s: float) -> None:
        self.material, self.seed = material, seed
        self.chunk_samples = round(chunk_s * SAMPLE_RATE)
        if self.chunk_samples < 20 * SAMPLE_RATE:
            raise ValueError(f"chunks must be at least 20 s long, got {chunk_s} s")

    def layout(self, index: int) -> list[tuple[int, int]]:
        """(keyword clip index, start sample within the chunk) for chunk ``index``."""
        rng = np.random.default_rng([self.seed, index, 1])
        slots = max(1, round(self.chunk_samples / (KEYWORD_SPACING_S * SAMPLE_RATE)))
        slot = self.chunk_samples // slots
        out = []
        for k in range(slots):
            clip = int(rng.integers(len(self.material.keywords)))
            room = slot - len(self.material.keywords[clip].audio) - 4 * SAMPLE_RATE
            out.append((clip, k * slot + 2 * SAMPLE_RATE + int(rng.integers(max(1, room)))))
        return out

    def planted(self, index: int) -> list[Planted]:
        """The keywords of chunk ``index`` in stream seconds."""
        base = index * self.chunk_samples
        out = []
        for clip_index, start in self.layout(index):
            clip = self.material.keywords[clip_index]
            t = (base + start) / SAMPLE_RATE
            out.append(Planted(clip.model, t + clip.onset_s, t + clip.offset_s))
        return out

    def chunk(self, index: int, laid: list[Stretch] | None = None) -> np.ndarray:
        """Chunk ``index`` as int16: noise stretches, then sentences, then keywords; each noise
        stretch and sentence is appended to ``laid`` if given."""
        rng = np.random.default_rng([self.seed, index, 0])
        n = self.chunk_samples
        base_s = index * n / SAMPLE_RATE

        def lay(kind: str, start: int, stop: int, sentence: int = -1) -> None:
            if laid is not None:
                at = base_s + start / SAMPLE_RATE
                laid.append(Stretch(kind, at, at + (stop - start) / SAMPLE_RATE, sentence))

        mix = np.zeros(n, dtype=np.float32)
        at = 0
        while at < n:
            # Whole tenths of a second: FFT sizes with small factors.
            length = min(n - at, int(rng.integers(50, 600)) * SAMPLE_RATE // 10)
            kind = str(rng.choice(NOISE_KINDS, p=[0.15, 0.05, 0.2, 0.35, 0.25]))
            if kind == "silence":  # a quiet room: microphone self-noise only
                level_dbfs = rng.uniform(-90.0, -75.0)
                mix[at : at + length] = rng.standard_normal(length).astype(np.float32)
            elif kind != "digital_silence":
                level_dbfs = rng.uniform(-65.0, -30.0)
                mix[at : at + length] = _fade(coloured_noise(rng, length, NOISE_EXPONENTS[kind]))
            else:
                level_dbfs = -np.inf
            mix[at : at + length] *= FULL_SCALE * 10 ** (level_dbfs / 20)
            lay(kind, at, at + length)
            at += length
        layout = self.layout(index)
        busy = [
            (start - KEYWORD_CLEAR_S * SAMPLE_RATE, start + len(self.material.keywords[c].audio))
            for c, start in layout
        ]
        for _ in range(round(n / SAMPLE_RATE / 12)):  # about one sentence per 12 s tried
            which = int(rng.integers(len(self.material.sentences)))
            sentence = self.material.sentences[which]
            start = int(rng.integers(max(1, n - len(sentence))))
            stop = start + len(sentence)
            gain = 10 ** (rng.uniform(-12.0, 0.0) / 20)
            if stop > n or any(
                start < b + KEYWORD_CLEAR_S * SAMPLE_RATE and stop > a for a, b in busy
            ):
                continue
            mix[start:stop] += sentence.astype(np.float32) * gain
            lay("sentence", start, stop, which)
        for clip_index, start in layout:
            clip = self.material.keywords[clip_index].audio
            gain = 10 ** (rng.uniform(-6.0, 3.0) / 20)
            mix[start : start + len(clip)] += clip.astype(np.float32) * gain
        return np.clip(np.rint(mix), -32768, 32767).astype(np.int16)

    def laid(self, index: int) -> list[Stretch]:
        """What chunk ``index`` is made of (generating it: the noise draws decide where the
        sentences go)."""
        out: list[Stretch] = []
        self.chunk(index, out)
        return out

    def blocks(self, start: int, stop: int, block: int) -> Iterator[np.ndarray]:
        """Samples ``[start, stop)`` of the stream in blocks of ``block`` samples (the last may
        be shorter), generating one chunk at a time."""
        at = start
        while at < stop:
            index = at // self.chunk_samples
            base = index * self.chunk_samples
            audio = self.chunk(index)
            end = min(stop, base + self.chunk_samples)
            for i in range(at - base, end - base, block):
                yield audio[i : min(i + block, end - base)]
            at = end


def main(argv: list[str] | None = None) -> int:
    """Write samples ``[--start, --stop)`` of the stream to stdout as raw s16le: the soak's
    microphone, in its own process so that generating audio costs the pipeline nothing."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak_audio")
    parser.add_argument("--material", type=Path, required=True, help=".npz of Material.save")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--chunk-seconds", type=float, required=True)
    parser.add_argument("--start", type=int, default=0, help="first sample")
    parser.add_argument("--stop", type=int, required=True, help="sample after the last")
    args = parser.parse_args(argv)
    audio = SoakAudio(Material.load(args.material), args.seed, args.chunk_seconds)
    out = sys.stdout.buffer
    try:
        for piece in audio.blocks(args.start, args.stop, audio.chunk_samples):
            out.write(piece.astype("<i2").tobytes())
        out.flush()
    except BrokenPipeError:  # the reader stopped early
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
