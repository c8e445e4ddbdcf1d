"""The cepstral-statistics half of a speaker model: fitted on the training speakers, weighted on
the validation speakers (see :class:`kws.metadata.CepstralStats` for what the runtime does).

With a few dozen training identities a network learns their voices and recording set-ups and
transfers poorly; the mean and spread of an utterance's cepstra are fixed features that do not
overfit. Within-speaker covariance normalization (WCCN: whiten the scatter of each training
speaker's utterances around its own mean) turns down the directions in which one speaker's
utterances differ (words, channel, level) so that cosines weigh the ones between speakers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kws.metadata import CepstralStats
from kws.speaker import cepstral_statistics, cepstral_vector, fuse


def metadata_values(values: np.ndarray) -> tuple[float, ...]:
    """A vector as metadata numbers, to 6 significant digits (float32 holds about 7): the model
    file carries a few thousand of them, and full-precision JSON would double their bytes."""
    return tuple(float(f"{x:.6g}") for x in np.asarray(values, dtype=np.float64).ravel())


def fit_cepstral_stats(
    features: dict[str, list[np.ndarray]], numcep: int, ceplifter: int, wccn: float
) -> CepstralStats:
    """Standardization and WCCN transform from the training speakers' log-mel frames (weight 1;
    :func:`choose_weight` sets it). Each speaker's scatter counts once, whatever its size, and
    ``wccn`` (added to the scatter's diagonal, in standardized units) keeps the inverse tame."""
    per_speaker = {
        speaker: np.stack([cepstral_statistics(f, numcep, ceplifter) for f in frames if len(f)])
        for speaker, frames in sorted(features.items())
        if sum(len(f) > 0 for f in frames) >= 2
    }
    if len(per_speaker) < 2:
        raise ValueError("cepstral statistics need 2+ training speakers with 2+ utterances each")
    every = np.concatenate(list(per_speaker.values()))
    mean, std = every.mean(axis=0), np.maximum(every.std(axis=0), 1e-6)
    scatter = np.mean(
        [np.cov(((x - mean) / std).T, bias=True) for x in per_speaker.values()], axis=0
    )
    inverse = np.linalg.inv(scatter + wccn * np.eye(len(scatter)))
    transform = np.linalg.cholesky((inverse + inverse.T) / 2)  # x @ L: scatter -> about identity
    return CepstralStats(
        numcep=numcep,
        ceplifter=ceplifter,
        mean=metadata_values(mean),
        std=metadata_values(std),
        transform=tuple(metadata_values(row) for row in transform),
        weight=1.0,
    )


def fused_embeddings(
    network: dict[str, list[np.ndarray]],
    frames: dict[str, list[np.ndarray]],
    stats: CepstralStats,
    weight: float,
) -> dict[str, list[np.ndarray]]:
    """Each utterance's network embedding fused with its statistics, as the runtime does."""
    return {
        speaker: [
            fuse(e, cepstral_vector(f, stats), weight)
            for e, f in zip(network[speaker], frames[speaker], strict=True)
        ]
        for speaker in network
    }


def choose_weight(
    weights: Sequence[float], eer_of: Callable[[float], float]
) -> tuple[float, dict[float, float]]:
    """The weight with the lowest validation EER (the smaller one on ties) and every EER."""
    eers = {float(w): float(eer_of(float(w))) for w in sorted(set(weights))}
    best = min(eers, key=lambda w: (eers[w], w))
    return best, eers
