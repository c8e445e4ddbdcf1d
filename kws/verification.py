"""Speaker-verification scoring: trial lists, EER, minDCF and the threshold for a target
false-accept rate. One routine, shared by the training run (threshold calibration), the
benchmark (``python -m benchmarks.speaker``) and tests; pure numpy.

A trial is (enrollment utterances, test utterance, same speaker or not). Its score is the cosine
between the test embedding and the enrollment vector (the L2-normalized mean of the enrollment
embeddings), or, for a model with a cohort, that cosine S-normalized (:func:`s_norm`); a trial is
*accepted* when ``score >= threshold``, as in the runtime.

Error rates at threshold t: FRR(t) = share of target (same-speaker) trials with score < t;
FAR(t) = share of non-target trials with score >= t. The EER is where the two meet, linearly
interpolated between the neighbouring operating points when no threshold hits it exactly.
The detection cost (NIST) is ``C_miss·P_target·FRR + C_fa·(1 − P_target)·FAR``, normalized by the
cost of the better trivial system ``min(C_miss·P_target, C_fa·(1 − P_target))``; minDCF is its
minimum over thresholds (including accept-all and reject-all).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

DCF_P_TARGET = 0.05
DCF_C_MISS = 1.0
DCF_C_FA = 1.0
"""Default cost parameters: the VoxCeleb Speaker Recognition Challenge's (P_target 0.05,
C_miss = C_fa = 1)."""


@dataclass(frozen=True)
class Trial(Generic[T]):
    """Enrollment utterances, a test utterance, and whether they share a speaker."""

    enroll: tuple[T, ...]
    test: T
    same: bool


def enroll_vector(embeddings: np.ndarray) -> np.ndarray:
    """The enrollment vector of [n, D] unit embeddings: their mean, L2-normalized."""
    mean = np.mean(np.asarray(embeddings, dtype=np.float64), axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def s_norm(enrolled: np.ndarray, test: np.ndarray, cohort: np.ndarray) -> float:
    """The cosine of ``enrolled`` and ``test`` standardized by each one's cosines with the
    ``cohort`` (unit vectors of other speakers) and averaged (symmetric normalization), then put
    through a logistic into (0, 1): 0.5 is as similar as an average cohort speaker.

    A voice or recording set-up that resembles everyone scores high with everyone; measured
    against strangers, one threshold means the same for every enrolled person and new channel.
    """
    e = np.asarray(enrolled, dtype=np.float64).ravel()
    t = np.asarray(test, dtype=np.float64).ravel()
    e, t = e / max(float(np.linalg.norm(e)), 1e-12), t / max(float(np.linalg.norm(t)), 1e-12)
    raw = float(e @ t)
    z = 0.0
    for side in (cohort @ e, cohort @ t):
        z += 0.5 * (raw - float(side.mean())) / max(float(side.std()), 1e-6)
    return float(1.0 / (1.0 + np.exp(-z)))


def make_trials(
    utterances: Mapping[str, Sequence[T]], count: int, enroll: int = 3, seed: int = 0
) -> list[Trial[T]]:
    """``count`` balanced trials (half same-speaker, half not) from utterances per speaker.

    Each trial draws a speaker with more than ``enroll`` utterances, ``enroll`` of them for
    enrollment and, for a target trial, a different one of the same speaker as test; for a
    non-target trial the test utterance comes from another speaker. Seeded and deterministic.
    """
    eligible = sorted(s for s, u in utterances.items() if len(u) > enroll)
    if len(eligible) < 2 or len(utterances) < 2:
        raise ValueError(
            f"need at least two speakers with more than {enroll} utterances "
            f"(have {len(eligible)} of {len(utterances)})"
        )
    if count < 2:
        raise ValueError(f"need at least 2 trials, got {count}")
    rng = random.Random(seed)
    speakers = sorted(utterances)
    trials: list[Trial[T]] = []
    for n in range(count):
        speaker = eligible[n // 2 % len(eligible)] if n % 2 == 0 else rng.choice(eligible)
        own = list(utterances[speaker])
        picks = rng.sample(range(len(own)), enroll + 1)
        chosen = tuple(own[i] for i in picks[:enroll])
        if n % 2 == 0:
            trials.append(Trial(chosen, own[picks[enroll]], True))
        else:
            other = rng.choice([s for s in speakers if s != speaker and utterances[s]])
            trials.append(Trial(chosen, rng.choice(list(utterances[other])), False))
    rng.shuffle(trials)
    return trials


def _split(scores: Sequence[float], same: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if scores.shape != same.shape or scores.ndim != 1:
        raise ValueError(f"scores and labels differ in shape: {scores.shape} vs {same.shape}")
    if not same.any() or same.all():
        raise ValueError("need both target (same-speaker) and non-target trials")
    return scores[same], scores[~same]


def operating_points(
    scores: Sequence[float], same: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, FAR, FRR) at every distinct score, ascending, plus +inf (reject all)."""
    targets, nontargets = _split(scores, same)
    thresholds = np.append(np.unique(np.concatenate([targets, nontargets])), np.inf)
    frr = np.searchsorted(np.sort(targets), thresholds, side="left") / len(targets)
    far = 1.0 - np.searchsorted(np.sort(nontargets), thresholds, side="left") / len(nontargets)
    return thresholds, far, frr


def equal_error_rate(scores: Sequence[float], same: Sequence[bool]) -> tuple[float, float]:
    """(EER, threshold): where FAR meets FRR; the threshold is the first one with FRR >= FAR."""
    thresholds, far, frr = operating_points(scores, same)
    i = int(np.argmax(frr - far >= 0))  # frr - far rises with the threshold; last is +1
    if i == 0 or frr[i] == far[i]:
        return float((far[i] + frr[i]) / 2), float(thresholds[i])
    far0, frr0, far1, frr1 = far[i - 1], frr[i - 1], far[i], frr[i]
    s = (far0 - frr0) / ((frr1 - frr0) - (far1 - far0))
    return float(far0 + s * (far1 - far0)), float(thresholds[i])


def min_dcf(
    scores: Sequence[float],
    same: Sequence[bool],
    p_target: float = DCF_P_TARGET,
    c_miss: float = DCF_C_MISS,
    c_fa: float = DCF_C_FA,
) -> tuple[float, float]:
    """(normalized minDCF, threshold at the minimum)."""
    if not 0 < p_target < 1 or c_miss <= 0 or c_fa <= 0:
        raise ValueError("need 0 < p_target < 1 and positive costs")
    thresholds, far, frr = operating_points(scores, same)
    dcf = c_miss * p_target * frr + c_fa * (1 - p_target) * far
    dcf = dcf / min(c_miss * p_target, c_fa * (1 - p_target))
    i = int(np.argmin(dcf))
    return float(dcf[i]), float(thresholds[i])


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    far: float
    frr: float


def threshold_for_far(
    scores: Sequence[float], same: Sequence[bool], target_far: float
) -> OperatingPoint:
    """The lowest threshold (hence lowest FRR) whose FAR does not exceed ``target_far``."""
    thresholds, far, frr = operating_points(scores, same)
    i = int(np.argmax(far <= target_far))  # FAR falls with the threshold; +inf gives 0
    return OperatingPoint(float(thresholds[i]), float(far[i]), float(frr[i]))
