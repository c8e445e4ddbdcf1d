"""Run INSIDE the Resemblyzer virtualenv (``benchmarks.peers.resemblyzer_peer``), never by kws:
``python resemblyzer_embed.py LIST.txt OUT.npy`` embeds each audio file named in LIST.txt (one
path a line) with Resemblyzer's pretrained GE2E encoder on the CPU and saves a float32 [n, 256]
array of unit vectors in the same order. Imports only Resemblyzer and numpy."""

import sys

import librosa
import numpy as np
from resemblyzer import VoiceEncoder, preprocess_wav
from resemblyzer.audio import normalize_volume
from resemblyzer.hparams import audio_norm_target_dBFS, sampling_rate

MIN_SECONDS = 0.2
"""Resemblyzer's voice-activity trimming can leave nothing of a short word: then the
normalized but untrimmed audio is embedded."""


def main(listing: str, out: str) -> None:
    with open(listing, encoding="utf-8") as names:
        paths = [line for line in names.read().splitlines() if line]
    encoder = VoiceEncoder("cpu", verbose=False)
    rows = []
    for path in paths:
        raw = librosa.load(path, sr=sampling_rate)[0]
        wav = preprocess_wav(raw)
        if len(wav) < MIN_SECONDS * sampling_rate:
            wav = normalize_volume(raw, audio_norm_target_dBFS, increase_only=True)
        rows.append(encoder.embed_utterance(wav))
    np.save(out, np.stack(rows).astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
