"""The FRR / FA-per-hour routine on hand-made score sequences with known answers, and its
agreement with the runtime's Detector."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kws.detect import Detector
from kws.evaluation import (
    CHOICE_FA_PER_HOUR,
    Timeline,
    det_curve,
    fa_rate_interval,
    fire_times,
    frr_at,
    frr_at_weights,
    negative_seconds,
    operating_point,
    paired_bootstrap,
    smooth,
    trials,
)

T = np.arange(1, 21) * 0.1  # 20 calls, 0.1 s apart


def test_fires_once_per_stretch_above_the_threshold() -> None:
    s = np.array([0, 0.9, 0.9, 0.9, 0, 0, 0.8, 0, 0, 0, 0, 0, 0.95, 0.95, 0, 0, 0, 0, 0, 0.6])
    assert fire_times(T, s, 0.5, refractory_s=0.0).tolist() == pytest.approx([0.2, 0.7, 1.3, 2.0])
    assert fire_times(T, s, 0.85, refractory_s=0.0).tolist() == pytest.approx([0.2, 1.3])
    assert fire_times(T, s, 0.99, refractory_s=0.0).tolist() == []


def test_refractory_suppresses_then_fires_if_still_above() -> None:
    s = np.array([0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    # Fires at 0.2; the stretch starting at 0.4 is within 0.35 s, so it fires at 0.55 -> 0.6.
    assert fire_times(T, s, 0.5, refractory_s=0.35).tolist() == pytest.approx([0.2, 0.6])
    # A refractory longer than the stretch swallows it.
    assert fire_times(T, s, 0.5, refractory_s=1.0).tolist() == pytest.approx([0.2])


def test_smoothing_matches_a_moving_average_with_zeros_before_the_start() -> None:
    np.testing.assert_allclose(smooth(np.array([3.0, 3, 3, 0]), 3), [1, 2, 3, 2])
    np.testing.assert_allclose(smooth(np.array([0.5, 1.0]), 1), [0.5, 1.0])


def test_operating_point_counts_hits_misses_and_false_accepts() -> None:
    quiet = np.zeros(20)
    noisy = quiet.copy()
    noisy[[3, 9, 15]] = 0.9  # three false accepts
    positive = quiet.copy()
    positive[4] = 0.9  # fires at 0.5 s
    positive[17] = 0.9  # fires at 1.8 s, near no keyword: ignored in a positive stream
    timelines = [
        Timeline(T, noisy, duration_s=2.0),
        Timeline(T, quiet, duration_s=1600.0),
        Timeline(T, positive, duration_s=2.0, positives=((0.3, 0.4), (0.5, 0.6), (0.05, 0.1))),
    ]
    point = operating_point(timelines, 0.5, refractory_s=0.0)
    assert point.false_accepts == 3
    assert point.fa_per_hour == pytest.approx(3 / (1602 / 3600))
    # 0.5 s detects the first two keywords (their windows overlap); the third ended at 0.1 s and
    # its window [0.05, 1.1] holds the 0.5 s firing too: all three detected.
    assert point.misses == 0 and point.frr == 0
    strict = operating_point(timelines, 0.95, refractory_s=0.0)
    assert strict.false_accepts == 0 and strict.frr == 1.0


def test_look_alike_stretches_are_counted_apart_from_false_accepts_per_hour() -> None:
    scores = np.zeros(20)
    scores[[3, 9, 15]] = 0.9  # fires at 0.4, 1.0 and 1.6 s
    apart = ((0.9, 1.1), (1.5, 1.7))  # 0.4 s of look-alike phrases holding two of the firings
    line = Timeline(T, scores, duration_s=3.6, apart=apart)
    point = operating_point([line], 0.5, refractory_s=0.0)
    assert (point.false_accepts, point.apart_accepts) == (1, 2)
    assert point.apart_s == pytest.approx(0.4)
    assert point.fa_per_hour == pytest.approx(1 / (3.2 / 3600))  # the hours leave them out
    assert negative_seconds([line]) == pytest.approx((3.2, 0.4))
    plain = operating_point([Timeline(T, scores, duration_s=3.6)], 0.5, refractory_s=0.0)
    assert (plain.false_accepts, plain.apart_accepts) == (3, 0)
    # Positive streams have no look-alike stretches to leave out: their firings are not FAs.
    hit = Timeline(T, scores, duration_s=3.6, positives=((0.3, 0.4),), apart=apart)
    assert operating_point([hit], 0.5, refractory_s=0.0).apart_accepts == 0


def test_frr_at_picks_the_best_threshold_within_the_false_accept_budget() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(36000) * 0.1  # one hour of negatives at 10 calls/s
    negatives = Timeline(times, rng.uniform(0, 0.6, len(times)), duration_s=3600.0)
    negatives.scores[[1000, 5000]] = [0.8, 0.9]  # exactly two loud false accepts
    pos_times = np.arange(100) * 0.1
    positive = np.zeros(100)
    positive[[10, 50]] = [0.85, 0.7]
    positives = Timeline(pos_times, positive, 10.0, positives=((0.9, 1.0), (4.9, 5.0)))
    points = det_curve([negatives, positives], refractory_s=1.0)
    best = frr_at(points, 1.0)  # at most one false accept per hour
    assert best is not None
    assert best.false_accepts <= 1 and 0.8 < best.threshold <= 0.85
    assert best.frr == 0.5  # only the 0.85 keyword survives a threshold above 0.8
    zero = frr_at(points, 0.0)  # no false accept at all: above 0.9, which misses both
    assert zero is not None and zero.threshold > 0.9 and zero.frr == 1.0
    loose = frr_at(points, 2.0)  # both false accepts allowed: threshold <= 0.7 hears both
    assert loose is not None and loose.frr == 0.0
    # With a 95 % bound on 2 FA/h: one hour is too short even for none (upper bound 3.0 FA/h);
    # three hours allow one (1.58) but not two (2.10); ten hours allow two (0.63).
    assert frr_at(points, 2.0, hours=1.0, confidence=0.95) is None
    bounded = [frr_at(points, 2.0, hours=h, confidence=0.95) for h in (3.0, 10.0)]
    assert [p.false_accepts for p in bounded if p is not None] == [1, 2]
    with pytest.raises(ValueError, match="confidence"):
        frr_at(points, 2.0, hours=1.0, confidence=0.4)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=1, max_size=200),
    threshold=st.floats(0.05, 0.95),
    refractory_calls=st.integers(0, 30),
    calls=st.integers(1, 5),
)
def test_replays_the_runtime_detector_exactly(
    scores: list[float], threshold: float, refractory_calls: int, calls: int
) -> None:
    times = np.round((np.arange(len(scores)) + 1) * 0.02, 6)
    refractory_s = refractory_calls * 0.02 - 1e-9
    detector = Detector(("_bg_", "kw"), {"kw": threshold}, calls, refractory_s)
    expected = [
        t
        for t, p in zip(times, scores, strict=True)
        if detector.update(np.array([1 - p, p]), float(t))
    ]
    got = fire_times(times, smooth(np.array(scores), calls), threshold, refractory_s)
    np.testing.assert_allclose(got, expected)


def test_fa_rate_interval_matches_the_exact_poisson_bounds() -> None:
    # no false accept in 2 h: the upper bound solves exp(-m) = 0.025, per hour
    assert fa_rate_interval(0, 2.0) == (0.0, pytest.approx(-math.log(0.025) / 2, rel=1e-9))
    # one in 1 h: the lower bound solves 1 - exp(-m) = 0.025
    low, _ = fa_rate_interval(1, 1.0)
    assert low == pytest.approx(-math.log(0.975), rel=1e-9)
    # four in 1.83 h, as hey_mycroft's pilot on its test negatives (chi-square tables)
    low, high = fa_rate_interval(4, 1.83)
    assert (low, high) == (pytest.approx(0.5956, abs=1e-4), pytest.approx(5.5965, abs=1e-4))
    with pytest.raises(ValueError):
        fa_rate_interval(-1, 1.0)
    with pytest.raises(ValueError):
        fa_rate_interval(1, 0.0)


def _poisson_pmf(k: int, mean: float) -> float:
    return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.2, 10.0), st.floats(0.5, 6.0))
def test_fa_rate_interval_covers_the_true_rate_at_least_95_percent(
    rate: float, hours: float
) -> None:
    mean = rate * hours
    covered = sum(
        _poisson_pmf(k, mean)
        for k in range(
            max(0, int(mean - 10 * math.sqrt(mean) - 5)), int(mean + 10 * math.sqrt(mean) + 10)
        )
        if (lambda b: b[0] <= rate <= b[1])(fa_rate_interval(k, hours))
    )
    assert covered >= 0.95 - 1e-9
    low, high = fa_rate_interval(int(mean), hours)
    assert low <= int(mean) / hours <= high  # the measured rate lies inside its own interval


def _streams(seed: int, hit: float) -> list[Timeline]:
    """Five positive streams of ten keywords each (``hit``: the share whose peak is high) and
    six ten-minute negative streams with rare spikes, the same trials for every ``hit``."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(5):
        times = np.arange(0, 100, 0.08)
        scores = rng.random(len(times)) * 0.3
        spans = tuple((5.0 + 10 * k, 5.8 + 10 * k) for k in range(10))
        for _, offset in spans:
            at = int(np.searchsorted(times, offset))
            peak = rng.uniform(0.85, 1.0) if rng.random() < hit else rng.uniform(0.3, 0.85)
            scores[at : at + 3] = peak
        lines.append(Timeline(times, scores, 100.0, positives=spans))
    for _ in range(6):
        times = np.arange(0, 600, 0.08)
        scores = rng.random(len(times)) * 0.3
        spikes = rng.choice(len(times), size=4, replace=False)
        scores[spikes] = rng.uniform(0.3, 0.99, size=4)
        lines.append(Timeline(times, scores, 600.0))
    return lines


def test_trials_sum_to_the_det_curve_and_its_frr_at_each_target() -> None:
    lines = _streams(0, 0.7)
    grid = [0.2, 0.5, 0.8, 0.9, 0.95]
    of = trials(lines, 1.5, grid)
    points = det_curve(lines, 1.5, grid)
    assert of.missed.shape == (50, 5) and of.false_accepts.shape == (6, 5)
    for k, point in enumerate(points):
        assert int(of.missed[:, k].sum()) == point.misses
        assert int(of.false_accepts[:, k].sum()) == point.false_accepts
    assert of.seconds.sum() == pytest.approx(3600.0)
    full = frr_at_weights(of, np.ones((1, 50)), np.ones((1, 6)), CHOICE_FA_PER_HOUR)[0]
    for target, value in zip(CHOICE_FA_PER_HOUR, full, strict=True):
        best = frr_at(points, target)
        assert value == (1.0 if best is None else best.frr)


def test_paired_bootstrap_separates_a_better_model_and_not_an_equal_one() -> None:
    worse, better = trials(_streams(1, 0.5), 1.5), trials(_streams(1, 0.95), 1.5)
    same = paired_bootstrap(worse, worse, resamples=300)
    assert all(d.low == d.high == 0.0 and d.better == 0.0 for d in same)
    rows = paired_bootstrap(worse, better, resamples=300)
    assert [d.target for d in rows] == [*CHOICE_FA_PER_HOUR, None]
    mean = rows[-1]
    assert mean.candidate < mean.reference
    assert mean.high < 0 and mean.better > 0.95
    assert mean.low <= mean.candidate - mean.reference <= mean.high
    backwards = paired_bootstrap(better, worse, resamples=300)[-1]
    assert backwards.low > 0 and backwards.better < 0.05


def test_paired_bootstrap_refuses_trials_of_other_streams() -> None:
    lines = _streams(2, 0.7)
    with pytest.raises(ValueError, match="same streams"):
        paired_bootstrap(trials(lines, 1.5), trials(lines[:4] + lines[5:], 1.5))
    with pytest.raises(ValueError, match="resamples >= 1"):
        paired_bootstrap(trials(lines, 1.5), trials(lines, 1.5), resamples=0)
    with pytest.raises(ValueError, match="need positives"):
        trials([line for line in lines if not line.positives], 1.5)
