"""The one FRR / false-accepts-per-hour routine, shared by the benchmarks, training and tests.

Pure functions over score timelines (stream times and scores of one label, as the pipeline emits
them with ``--emit-scores``). :func:`fire_times` replays exactly what :class:`kws.detect.Detector`
does after smoothing — a label fires when the score reaches the threshold, at most once per
stretch above it, and not within the refractory period of its last firing — so that a threshold
chosen here behaves the same in ``kws.listen``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DETECTION_TOLERANCE_S = 1.0
"""A positive counts as detected by a firing between its onset and this long after its offset."""

CHOICE_FA_PER_HOUR = (0.5, 1.0, 2.0, 4.0)
"""False accepts per hour whose FRRs, averaged, choose between models and checkpoints."""


def smooth(scores: np.ndarray, calls: int) -> np.ndarray:
    """The Detector's moving average over the last ``calls`` outputs (zeros before the start),
    to the last bit: its ring of outputs summed slot by slot, as numpy sums it. A running sum
    rounds differently, and a score on the threshold then fires in one and not the other."""
    scores = np.asarray(scores, dtype=np.float64)
    if calls <= 1:
        return scores
    step = np.arange(len(scores))
    total = np.zeros(len(scores))
    for slot in range(calls):
        at = step - (step - slot) % calls  # the output that slot holds at each step
        total += np.where(at >= 0, scores[np.maximum(at, 0)], 0.0)
    return total / calls


def fire_times(
    times: np.ndarray, smoothed: np.ndarray, threshold: float, refractory_s: float
) -> np.ndarray:
    """Stream times at which a Detector with this threshold fires on ``smoothed`` scores."""
    above = np.asarray(smoothed) >= threshold
    if not above.any():
        return np.zeros(0)
    edges = np.diff(np.concatenate([[False], above, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    fired: list[float] = []
    last = -np.inf
    for start, end in zip(starts, ends, strict=True):
        if times[start] - last >= refractory_s:
            at = start
        else:  # still refractory when the stretch begins: fire once it is over, if still above
            at = start + int(np.searchsorted(times[start:end], last + refractory_s, side="left"))
            if at >= end:
                continue
        last = float(times[at])
        fired.append(last)
    return np.asarray(fired)


@dataclass(frozen=True)
class Timeline:
    """One stream's smoothed scores for one label, and where its keywords are (if any)."""

    times: np.ndarray
    """Stream time (s) of each model output."""
    scores: np.ndarray
    """Smoothed posterior of the label at each time."""
    duration_s: float
    """Length of the stream (for false accepts per hour)."""
    positives: tuple[tuple[float, float], ...] = ()
    """(onset_s, offset_s) of each keyword occurrence; empty for a negative stream."""
    apart: tuple[tuple[float, float], ...] = ()
    """(onset_s, offset_s) of stretches of a negative stream counted apart from the hours: their
    firings are not false accepts per hour but :attr:`OperatingPoint.apart_accepts` (phrases
    that sound like the keyword, said back to back as no home says them)."""
    others: tuple[tuple[float, float], ...] = ()
    """(onset_s, offset_s) of other keywords' occurrences (another command of the same model):
    a firing of this label on one is a false accept (:attr:`OperatingPoint.cross_accepts`),
    and their time counts in the hours."""

    @property
    def is_negative(self) -> bool:
        """A stream with nothing to detect or confuse: every firing is a false accept."""
        return not self.positives and not self.others


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    fa_per_hour: float
    frr: float
    false_accepts: int
    misses: int
    apart_accepts: int = 0
    """Firings inside the negatives' ``apart`` stretches."""
    apart_s: float = 0.0
    """How long those stretches are, in seconds."""
    cross_accepts: int = 0
    """Of :attr:`false_accepts`, the firings on another keyword's occurrence."""


@dataclass(frozen=True)
class _StreamOutcome:
    """What one stream says at one threshold: whether each of its positives was missed, and its
    false accepts (cross accepts on other keywords included), firings counted apart and cross
    accepts alone."""

    missed: np.ndarray
    false_accepts: int
    apart_accepts: int
    cross_accepts: int


def _outcome(timeline: Timeline, threshold: float, refractory_s: float) -> _StreamOutcome:
    fired = fire_times(timeline.times, timeline.scores, threshold, refractory_s)
    if timeline.is_negative:
        inside = np.zeros(len(fired), dtype=bool)
        for onset, offset in timeline.apart:
            inside |= (fired >= onset) & (fired < offset)
        apart = int(np.count_nonzero(inside))
        return _StreamOutcome(np.zeros(0, dtype=bool), len(fired) - apart, apart, 0)
    own = np.zeros(len(fired), dtype=bool)
    missed = np.zeros(len(timeline.positives), dtype=bool)
    for k, (onset, offset) in enumerate(timeline.positives):
        hit = (fired >= onset) & (fired <= offset + DETECTION_TOLERANCE_S)
        missed[k] = not np.any(hit)
        own |= hit
    confused = np.zeros(len(fired), dtype=bool)
    for onset, offset in timeline.others:
        confused |= (fired >= onset) & (fired <= offset + DETECTION_TOLERANCE_S)
    cross = int(np.count_nonzero(confused & ~own))
    return _StreamOutcome(missed, cross, 0, cross)


def operating_point(
    timelines: Sequence[Timeline], threshold: float, refractory_s: float
) -> OperatingPoint:
    """FRR over every positive, and false accepts per hour over the negative streams.

    A firing inside [onset, offset + DETECTION_TOLERANCE_S] of a positive detects it; a firing
    in the same window of another keyword's occurrence (``others``) and of no positive is a
    false accept (a command taken for another); any other firing in a positive stream is
    ignored (positive streams measure misses); every firing in a negative stream is a false
    accept, but for those inside its ``apart`` stretches, which are counted apart, their time
    left out of the hours.
    """
    outcomes = [_outcome(t, threshold, refractory_s) for t in timelines]
    negative_s, apart_s = negative_seconds(timelines)
    total = sum(len(o.missed) for o in outcomes)
    misses = sum(int(o.missed.sum()) for o in outcomes)
    false_accepts = sum(o.false_accepts for o in outcomes)
    hours = negative_s / 3600
    return OperatingPoint(
        threshold=threshold,
        fa_per_hour=false_accepts / hours if hours else float("nan"),
        frr=misses / total if total else float("nan"),
        false_accepts=false_accepts,
        misses=misses,
        apart_accepts=sum(o.apart_accepts for o in outcomes),
        apart_s=apart_s,
        cross_accepts=sum(o.cross_accepts for o in outcomes),
    )


def negative_seconds(timelines: Sequence[Timeline]) -> tuple[float, float]:
    """(seconds counted per hour, seconds counted apart) of the negative streams; the counted
    seconds include the other keywords' occurrences in positive streams."""
    apart = sum(off - on for t in timelines if t.is_negative for on, off in t.apart)
    total = sum(t.duration_s for t in timelines if t.is_negative)
    confusing = sum(off - on for t in timelines if not t.is_negative for on, off in t.others)
    return total - apart + confusing, apart


def det_curve(
    timelines: Sequence[Timeline], refractory_s: float, thresholds: Sequence[float] | None = None
) -> list[OperatingPoint]:
    """Operating points over a threshold sweep.

    The default grid is 0.01 .. 0.99 in steps of 0.01 plus 100 steps between 0.9 and 0.999999
    spaced evenly in log(1 - threshold), where useful thresholds of a confident model live.
    """
    grid = threshold_grid() if thresholds is None else thresholds
    return [operating_point(timelines, float(t), refractory_s) for t in grid]


def threshold_grid() -> np.ndarray:
    """The thresholds a DET curve sweeps by default (see :func:`det_curve`)."""
    return np.unique(np.concatenate([np.linspace(0.01, 0.99, 99), 1 - np.logspace(-1, -6, 101)]))


def frr_at(
    points: Sequence[OperatingPoint],
    fa_per_hour: float,
    hours: float | None = None,
    confidence: float = 0.0,
) -> OperatingPoint | None:
    """The lowest-FRR point whose FA/hr does not exceed ``fa_per_hour`` (ties: lowest FA/hr,
    then the lowest threshold); None if no threshold is that quiet. With a ``confidence`` in
    (0.5, 1) and the ``hours`` the points were counted in, the point's one-sided upper bound
    at that confidence (:func:`fa_rate_interval`) must not exceed it instead: a threshold set
    on a few hours of negatives then keeps a margin for the hours it has not heard."""
    if confidence:
        if hours is None or not 0.5 < confidence < 1:
            raise ValueError("frr_at needs hours and a confidence within (0.5, 1)")
        level = 2 * confidence - 1
        bound = [fa_rate_interval(p.false_accepts, hours, level)[1] for p in points]
        ok = [p for p, high in zip(points, bound, strict=True) if high <= fa_per_hour]
    else:
        ok = [p for p in points if p.fa_per_hour <= fa_per_hour]
    if not ok:
        return None
    return min(ok, key=lambda p: (p.frr, p.fa_per_hour, p.threshold))


def _poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in log space so long hours do not underflow."""
    if mean <= 0:
        return 1.0
    log_term = -mean
    total = math.exp(log_term)
    for i in range(1, k + 1):
        log_term += math.log(mean) - math.log(i)
        total += math.exp(log_term)
    return min(total, 1.0)


def fa_rate_interval(false_accepts: int, hours: float, level: float = 0.95) -> tuple[float, float]:
    """The exact (Garwood) two-sided ``level`` confidence interval of a false-accept rate per
    hour, from ``false_accepts`` counted in ``hours``: how far a threshold's FA/h measured on a
    few hours of negatives can be from its rate on unheard audio."""
    if false_accepts < 0 or hours <= 0 or not 0 < level < 1:
        raise ValueError("fa_rate_interval needs false_accepts >= 0, hours > 0, 0 < level < 1")
    tail = (1 - level) / 2

    def solve(target: float, k: int) -> float:
        # the mean at which P(X <= k) falls to ``target`` (the CDF decreases in the mean)
        low, high = 0.0, max(10.0, 4.0 * (k + 1) + 20.0)
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if _poisson_cdf(k, mid) > target else (low, mid)
        return (low + high) / 2

    lower = 0.0 if false_accepts == 0 else solve(1 - tail, false_accepts - 1)
    upper = solve(tail, false_accepts)
    return lower / hours, upper / hours


@dataclass(frozen=True)
class Trials:
    """A DET curve kept per trial, so that trials can be resampled: at each threshold, whether
    each positive was missed, and each stream's false accepts with the seconds it counts toward
    FA/h (streams that count none left out). Summed it gives :func:`det_curve`'s FRR and FA/h."""

    thresholds: np.ndarray
    missed: np.ndarray
    """(positives, thresholds) bool."""
    false_accepts: np.ndarray
    """(streams, thresholds) int."""
    seconds: np.ndarray
    """(streams,) seconds each counts toward the hours."""


def trials(
    timelines: Sequence[Timeline], refractory_s: float, thresholds: Sequence[float] | None = None
) -> Trials:
    """The per-trial outcomes of :func:`det_curve`'s sweep over ``timelines``."""
    grid = threshold_grid() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    missed: list[np.ndarray] = []
    false_accepts: list[np.ndarray] = []
    seconds: list[float] = []
    for timeline in timelines:
        outcomes = [_outcome(timeline, float(t), refractory_s) for t in grid]
        if timeline.positives:
            missed.append(np.stack([o.missed for o in outcomes], axis=1))
        counted = negative_seconds([timeline])[0]
        if counted > 0:
            false_accepts.append(np.array([o.false_accepts for o in outcomes]))
            seconds.append(counted)
    if not missed or not seconds:
        raise ValueError("trials need positives and streams that count toward FA/h")
    return Trials(
        grid, np.concatenate(missed), np.stack(false_accepts), np.asarray(seconds, np.float64)
    )


def frr_at_weights(
    of: Trials, positives: np.ndarray, streams: np.ndarray, targets: Sequence[float]
) -> np.ndarray:
    """FRR at each target FA/h (as :func:`frr_at`; 1.0 where no threshold is that quiet) for
    each row of weights: ``positives`` (rows, positives) and ``streams`` (rows, streams), how
    often each trial is drawn. Returns (rows, targets)."""
    misses = positives @ of.missed
    frr = misses / positives.sum(axis=1, keepdims=True)
    hours = (streams @ of.seconds) / 3600
    rate = (streams @ of.false_accepts) / hours[:, None]
    out = np.empty((len(frr), len(targets)))
    for k, target in enumerate(targets):
        out[:, k] = np.where(rate <= target, frr, np.inf).min(axis=1)
    return np.where(np.isinf(out), 1.0, out)


@dataclass(frozen=True)
class PairedDifference:
    """How a candidate's FRR differs from a reference's on the same trials."""

    target: float | None
    """The FA/h; None for the mean over the targets."""
    reference: float
    candidate: float
    """Both on the trials as measured."""
    low: float
    high: float
    """The central interval of candidate minus reference over resamples of the trials."""
    better: float
    """Share of resamples in which the candidate's FRR is lower."""


def paired_bootstrap(
    reference: Trials,
    candidate: Trials,
    targets: Sequence[float] = CHOICE_FA_PER_HOUR,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[PairedDifference]:
    """Candidate against reference at each target and on their mean, resampling the same
    positives and negative streams for both (each drawn with replacement, positives one by one,
    negatives a whole stream at a time): whether a difference is larger than what other voices
    and recordings of the same kind would move it."""
    if reference.missed.shape[0] != candidate.missed.shape[0] or not np.array_equal(
        reference.seconds, candidate.seconds
    ):
        raise ValueError("a paired comparison needs both models' trials on the same streams")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError("paired_bootstrap needs resamples >= 1 and 0 < level < 1")
    rng = np.random.default_rng(seed)
    n_pos, n_streams = reference.missed.shape[0], len(reference.seconds)
    positives = rng.multinomial(n_pos, np.full(n_pos, 1 / n_pos), size=resamples)
    streams = rng.multinomial(n_streams, np.full(n_streams, 1 / n_streams), size=resamples)
    ones_pos, ones_streams = np.ones((1, n_pos)), np.ones((1, n_streams))

    def with_mean(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values, values.mean(axis=1, keepdims=True)], axis=1)

    measured = [
        with_mean(frr_at_weights(t, ones_pos, ones_streams, targets))[0]
        for t in (reference, candidate)
    ]
    diff = with_mean(frr_at_weights(candidate, positives, streams, targets)) - with_mean(
        frr_at_weights(reference, positives, streams, targets)
    )
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diff, [tail, 100 - tail], axis=0)
    return [
        PairedDifference(
            target=None if k == len(targets) else float(targets[k]),
            reference=float(measured[0][k]),
            candidate=float(measured[1][k]),
            low=float(low[k]),
            high=float(high[k]),
            better=float(np.mean(diff[:, k] < 0)),
        )
        for k in range(len(targets) + 1)
    ]
