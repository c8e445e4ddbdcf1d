"""Text-to-speech speakers for speaker verification, written next to the Asterisk voices.

Base voices are split with :func:`training.data.tts.split_voices` (seeded, by base voice, never by
variant), so a held-out synthetic speaker's engine voice is never heard in training, not even at
another pitch. Each :class:`~training.data.tts.SyntheticSpeaker` reads ``utterances`` English
sentences from :func:`training.data.text_corpus.sentences`; the files go to
``OUT/<split>/<speaker>/<n>.wav`` like the real voices of :mod:`training.data.asterisk`.
"""

from __future__ import annotations

import random
from pathlib import Path

from tqdm import tqdm

from kws.errors import KwsError
from kws.wavfile import write_wav
from training.data.asterisk import SAMPLE_RATE, _merge_summary
from training.data.text_corpus import sentences
from training.data.tts import (
    ESPEAK,
    FLITE,
    list_voices,
    split_voices,
    synthesize,
    synthetic_speakers,
)

DEFAULT_COUNTS = {"train": 48, "validation": 8, "test": 10}


def build_tts_speakers(
    out: Path,
    counts: dict[str, int] = DEFAULT_COUNTS,
    utterances: int = 30,
    seed: int = 0,
) -> dict[str, dict[str, object]]:
    """Synthesize ``counts[split]`` speakers per split, ``utterances`` sentences each; return the
    per-speaker summary (also merged into ``OUT/speakers.json``). Existing files are kept."""
    # pitch tells synthetic speakers apart, and piper and kokoro have no pitch control
    splits = split_voices(list_voices((ESPEAK, FLITE)), seed=seed)
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
