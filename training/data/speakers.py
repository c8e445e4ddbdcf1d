"""Text-to-speech speakers for speaker verification, written next to the Asterisk voices.

espeak-ng and flite speakers may go to any split; neural ones (Kokoro style mixtures, Piper
settings) are extra training identities only, never validation or test speakers: they would
flatter a model chosen or reported on them. Base voices are split with
:func:`training.data.tts.split_voices` (seeded, by base voice, never by variant), so a held-out
synthetic speaker's engine voice is never heard in training, not even at another pitch. Each
:class:`SyntheticSpeaker` reads ``utterances`` English sentences from
:func:`training.data.text_corpus.sentences`; the files go to ``OUT/<split>/<speaker>/<n>.wav``
like the real voices of :mod:`training.data.asterisk`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kws.errors import KwsError
from kws.wavfile import write_wav
from training.data.asterisk import SAMPLE_RATE, _merge_summary
from training.data.text_corpus import sentences
from training.data.tts import (
    AMPLITUDES,
    ESPEAK,
    FLITE,
    NEURAL,
    PITCHES,
    RATES_WPM,
    Prosody,
    Voice,
    check_engine,
    list_voices,
    prosody_grid,
    split_voices,
    synthesize,
)

DEFAULT_COUNTS = {"train": 48, "validation": 8, "test": 10}
CLASSIC = (ESPEAK, FLITE)


@dataclass(frozen=True)
class SyntheticSpeaker:
    """A text-to-speech "person": one voice (with its variant) at a fixed pitch and rate.

    Speaker verification needs many speakers; the same engine voice at another pitch and pace
    is treated as another person (a hard negative for its neighbours, as siblings are).
    """

    voice: Voice
    pitch: int
    rate_wpm: int

    @property
    def name(self) -> str:
        voice = re.sub(r"[^A-Za-z0-9-]+", "-", self.voice.name)
        if self.voice.engine in NEURAL:  # no pitch control: the voice name is the person
            return f"tts_{self.voice.engine}_{voice}_r{self.rate_wpm}"
        engine = "espeak" if self.voice.engine == ESPEAK else "flite"
        return f"tts_{engine}_{voice}_p{self.pitch}_r{self.rate_wpm}"

    def prosody(self, rng: random.Random) -> Prosody:
        """One utterance's prosody: the speaker's pitch, its rate within ±5%, a random level."""
        rate = round(self.rate_wpm * rng.uniform(0.95, 1.05))
        return Prosody(rate, self.pitch, rng.choice(AMPLITUDES), 0)


def synthetic_speakers(voices: Sequence[Voice], count: int, seed: int) -> list[SyntheticSpeaker]:
    """``count`` distinct speakers spread over ``voices``' base voices, with pitch and rate drawn
    per speaker from PITCHES and RATES_WPM (the same seed and voices give the same list).

    A neural voice has no pitch to vary, so it is one speaker at most: asking for more neural
    speakers than there are neural voices is a ValueError.
    """
    neural = {v.name for v in voices if v.engine in NEURAL}
    pairs = prosody_grid(voices, count, seed)  # spreads speakers over base voices
    rng = random.Random(seed)
    speakers: dict[str, SyntheticSpeaker] = {}
    used: set[str] = set()
    for voice, prosody in pairs:
        if voice.engine in NEURAL:
            if voice.name in used:
                raise ValueError(
                    f"{count} speakers asked of {len(neural)} neural voices and "
                    f"{len(voices) - len(neural)} others: a neural voice is one speaker"
                )
            used.add(voice.name)
            speaker = SyntheticSpeaker(voice, prosody.pitch, prosody.rate_wpm)
            speakers[speaker.name] = speaker
            continue
        for _ in range(50):
            speaker = SyntheticSpeaker(voice, prosody.pitch, prosody.rate_wpm)
            if speaker.name not in speakers:
                speakers[speaker.name] = speaker
                break
            prosody = Prosody(rng.choice(RATES_WPM), rng.choice(PITCHES), 100, 0)
    return list(speakers.values())


def build_tts_speakers(
    out: Path,
    counts: dict[str, int] = DEFAULT_COUNTS,
    utterances: int = 30,
    seed: int = 0,
    engines: tuple[str, ...] = CLASSIC,
) -> dict[str, dict[str, object]]:
    """Synthesize ``counts[split]`` speakers of ``engines``' voices per split, ``utterances``
    sentences each; return the per-speaker summary (also merged into ``OUT/speakers.json``).
    Existing files are kept. Neural engines with validation or test counts are a ValueError."""
    neural = [engine for engine in engines if engine in NEURAL]
    if neural and (counts.get("validation", 0) or counts.get("test", 0)):
        raise ValueError(
            f"{', '.join(neural)} speakers are training identities only: give 0 validation and "
            "0 test speakers (real voices choose and report the model)"
        )
    for engine in engines:
        check_engine(engine)
    splits = split_voices(list_voices(tuple(engines)), seed=seed)
    texts = sentences("", utterances * 4, seed)
    summary: dict[str, dict[str, object]] = {}
    jobs = []
    for split, count in counts.items():
        if count <= 0:
            continue
        for speaker in synthetic_speakers(splits[split], count, seed):
            jobs.append((split, speaker))
    for split, speaker in tqdm(jobs, desc="tts speakers", unit="speaker"):
        rng = random.Random(f"{seed}/{speaker.name}")
        folder = out / split / speaker.name
        folder.mkdir(parents=True, exist_ok=True)
        seconds = 0.0
        for n, text in enumerate(rng.sample(texts, utterances)):
            path = folder / f"{n:03d}.wav"
            prosody = speaker.prosody(rng)
            if path.exists():
                continue
            try:
                audio = synthesize(text, speaker.voice, prosody)
            except KwsError:
                continue  # an engine that fails on one sentence; the speaker has others
            write_wav(path, audio, SAMPLE_RATE)
            seconds += len(audio) / SAMPLE_RATE
        summary[speaker.name] = {
            "split": split,
            "engine": speaker.voice.engine,
            "voice": speaker.voice.name,
            "pitch": speaker.pitch,
            "rate_wpm": speaker.rate_wpm,
            "utterances": len(list(folder.glob("*.wav"))),
            "seconds": round(seconds, 1),
        }
    _merge_summary(out, summary)
    return summary
