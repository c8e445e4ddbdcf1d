"""Speaker embeddings: the one way audio becomes a d-vector, for enrollment, runtime and benchmarks.

A speaker model (metadata ``task = "speaker"``) is a window-form model: ``window_frames`` feature
frames in, an embedding out (``output_name``, shape [1, D]). An utterance of any length is embedded
by scoring windows every ``stride_frames`` frames and averaging their L2-normalized embeddings;
an utterance shorter than one window is tiled (repeated) to fill it, because padding log-mel
frames with zeros would look like a loud flat spectrum rather than silence.

A model whose metadata carries ``cepstral_stats`` appends the utterance's cepstral statistics
(:func:`cepstral_statistics`, standardized, covariance-normalized, scaled by sqrt(weight)) to
the network's unit embedding: a trained network and fixed statistics fail on different trials,
and with few training speakers the fixed features transfer to new voices better. A model with
a ``cohort`` scores a pair by S-normalized cosine (:meth:`SpeakerEncoder.score`), so that its
threshold means the same for every voice and channel.
"""

from __future__ import annotations

import numpy as np

from kws.errors import ModelError
from kws.features import Frontend
from kws.features.signal import dct_matrix, lifter_weights
from kws.metadata import CepstralStats
from kws.model import Model
from kws.verification import s_norm


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-12)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors, in [-1, 1]."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def windows_of(frames: np.ndarray, window: int, stride: int) -> np.ndarray:
    """[n, window, F] windows covering ``frames`` ([T, F]), every ``stride`` frames.

    Fewer than ``window`` frames are tiled to one window; the last window is aligned to the end
    so that no trailing frames are ignored.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) == 0:
        raise ValueError("cannot embed an utterance with no feature frames")
    if len(frames) < window:
        reps = -(-window // len(frames))
        return np.tile(frames, (reps, 1))[None, :window]
    starts = list(range(0, len(frames) - window + 1, stride))
    if starts[-1] != len(frames) - window:
        starts.append(len(frames) - window)
    return np.stack([frames[s : s + window] for s in starts])


def cepstral_statistics(frames: np.ndarray, numcep: int, ceplifter: int) -> np.ndarray:
    """Mean and standard deviation over an utterance of cepstra c1..c(numcep-1) of log-mel
    frames [T, nfilt] (the frontend's MFCC without c0: level is not identity)."""
    frames = np.asarray(frames, dtype=np.float64)
    if len(frames) == 0:
        raise ValueError("cannot take statistics of an utterance with no feature frames")
    dct = dct_matrix(frames.shape[1], numcep) * lifter_weights(numcep, ceplifter)
    ceps = frames @ dct[:, 1:]
    return np.concatenate([ceps.mean(axis=0), ceps.std(axis=0)])


def cepstral_vector(frames: np.ndarray, stats: CepstralStats) -> np.ndarray:
    """The unit vector of an utterance's statistics, standardized and transformed by ``stats``."""
    raw = cepstral_statistics(frames, stats.numcep, stats.ceplifter)
    z = (raw - np.asarray(stats.mean)) / np.asarray(stats.std)
    return l2_normalize(z @ np.asarray(stats.transform, dtype=np.float64))


def fuse(network: np.ndarray, cepstral: np.ndarray, weight: float) -> np.ndarray:
    """Unit vector whose cosine with another fused one is (network cosine + weight x cepstral
    cosine) / (1 + weight), for unit inputs."""
    joined = np.concatenate([np.asarray(network), np.sqrt(weight) * np.asarray(cepstral)])
    return (joined / np.sqrt(1.0 + weight)).astype(np.float32)


class SpeakerEncoder:
    """Turns audio (16 kHz int16 or float) or feature frames into a unit-length embedding.

    ``network_only`` ignores the model's cepstral statistics and cohort (to measure what they
    add): its scores are plain cosines of the network's embeddings.
    """

    def __init__(self, model: Model, network_only: bool = False) -> None:
        md = model.metadata
        if md.task != "speaker":
            raise ModelError(f"{model.path}: task is {md.task!r}, not a speaker model")
        if md.streaming:
            raise ModelError(f"{model.path}: a speaker model must be exported in window form")
        self.model = model
        self.frontend = Frontend(md.features)
        self.stats = None if network_only else md.cepstral_stats
        self.network_dim = int(np.prod(model.scores_port.shape[1:]))
        self.dim = self.network_dim + (self.stats.dim if self.stats else 0)
        self.cohort = None
        if md.cohort and not network_only:
            self.cohort = np.asarray(md.cohort, dtype=np.float64)
            if self.cohort.shape[1] != self.dim:
                raise ModelError(
                    f"{model.path}: its cohort vectors have {self.cohort.shape[1]} values but "
                    f"its embeddings {self.dim}"
                )

    @property
    def model_id(self) -> str:
        """What a profile records to refuse being scored with another model's embeddings."""
        md = self.model.metadata
        return f"{md.name}:{self.dim}:{md.training.get('fingerprint', md.window_frames)}"

    def score(self, enrolled: np.ndarray, test: np.ndarray) -> float:
        """Similarity of an enrollment vector and a test embedding, compared with the model's
        threshold: the S-normalized cosine against the cohort, or the plain cosine."""
        if self.cohort is None:
            return cosine(enrolled, test)
        return s_norm(enrolled, test, self.cohort)

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """Embedding of feature frames [T, F]."""
        md = self.model.metadata
        windows = windows_of(frames, md.window_frames, md.stride_frames)
        outputs = [self.model.invoke(w, [])[0] for w in windows]
        network = l2_normalize(np.mean(l2_normalize(np.stack(outputs)), axis=0))
        if self.stats is None:
            return network
        return fuse(network, cepstral_vector(frames, self.stats), self.stats.weight)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Embedding of an utterance: int16 samples (or floats in [-1, 1]) at the model's rate."""
        audio = np.asarray(audio)
        if audio.dtype.kind == "f":
            audio = np.clip(audio * 32768.0, -32768, 32767)
        frames = self.frontend.compute(audio)
        if len(frames) == 0:
            raise ValueError(f"utterance of {len(audio)} samples is shorter than one feature frame")
        return self.embed_frames(frames)
