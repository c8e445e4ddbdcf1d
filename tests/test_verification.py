"""Verification metrics (kws.verification) on hand-made scores with known EER and minDCF."""

from __future__ import annotations

import numpy as np
import pytest

from kws.verification import (
    enroll_vector,
    equal_error_rate,
    make_trials,
    min_dcf,
    operating_points,
    threshold_for_far,
)

TARGETS = [0.9, 0.8, 0.7, 0.3]
NONTARGETS = [0.6, 0.5, 0.4, 0.2]
SCORES = TARGETS + NONTARGETS
SAME = [True] * 4 + [False] * 4


def test_operating_points_count_accepts_at_or_above_the_threshold() -> None:
    thresholds, far, frr = operating_points(SCORES, SAME)
    assert thresholds[-1] == np.inf
    i = list(thresholds).index(0.6)
    assert far[i] == 0.25 and frr[i] == 0.25  # 0.6 accepted; 0.3 rejected
    assert far[-1] == 0.0 and frr[-1] == 1.0
    assert far[0] == 1.0 and frr[0] == 0.0


def test_eer_exact_crossing() -> None:
    eer, threshold = equal_error_rate(SCORES, SAME)
    assert eer == pytest.approx(0.25)
    assert threshold == 0.6


def test_eer_interpolates_between_operating_points() -> None:
    # targets 0.9, 0.4; non-targets 0.5, 0.1. Points by threshold: 0.4 -> FAR .5 FRR 0;
    # 0.5 -> FAR .5 FRR .5 -> crossing at 0.5 exactly. Shift to make it cross between points:
    # targets 0.9, 0.8, 0.4; non-targets 0.5, 0.1: 0.4 -> (FAR .5, FRR 0), 0.5 -> (.5, 1/3),
    # 0.8 -> (0, 1/3): FRR - FAR goes -1/6 -> +1/3 between 0.5 and 0.8; the segment from
    # (.5, 1/3) to (0, 1/3) meets FAR = FRR at 1/3.
    eer, threshold = equal_error_rate([0.9, 0.8, 0.4, 0.5, 0.1], [1, 1, 1, 0, 0])
    assert eer == pytest.approx(1 / 3)
    assert threshold == 0.8


def test_perfect_separation_gives_zero_eer() -> None:
    eer, threshold = equal_error_rate([0.9, 0.8, 0.1, 0.2], [True, True, False, False])
    assert eer == 0.0 and 0.2 < threshold <= 0.8


def test_min_dcf_known_answer() -> None:
    # P_target 0.5, costs 1: DCF = (FRR + FAR)/2 normalized by 0.5 -> FRR + FAR; the minimum
    # over the operating points is 0.25 + 0 at threshold 0.7 (0.25 + 0.25 at 0.6 is worse).
    dcf, threshold = min_dcf(SCORES, SAME, p_target=0.5, c_miss=1, c_fa=1)
    assert dcf == pytest.approx(0.25)
    assert threshold == 0.7
    # With misses 10x dearer at P_target 0.01 (NIST SRE 2008): normalizer min(0.1, 0.99) = 0.1;
    # accept-all costs 0.99 * 1 / 0.1 = 9.9, reject-all 0.1 / 0.1 = 1; threshold 0.7:
    # (10 * 0.01 * 0.25 + 0) / 0.1 = 0.25; threshold 0.3: (0 + 0.99 * 0.25) / 0.1 = 2.475.
    dcf, threshold = min_dcf(SCORES, SAME, p_target=0.01, c_miss=10, c_fa=1)
    assert dcf == pytest.approx(0.25)
    with pytest.raises(ValueError):
        min_dcf(SCORES, SAME, p_target=0.0)


def test_threshold_for_far() -> None:
    point = threshold_for_far(SCORES, SAME, 0.25)
    assert (point.threshold, point.far, point.frr) == (0.6, 0.25, 0.25)
    point = threshold_for_far(SCORES, SAME, 0.0)
    assert (point.threshold, point.far, point.frr) == (0.7, 0.0, 0.25)


def test_metrics_refuse_one_sided_trials() -> None:
    with pytest.raises(ValueError, match="target"):
        equal_error_rate([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="shape"):
        equal_error_rate([0.1, 0.2], [True])


def test_make_trials_balanced_seeded_and_valid() -> None:
    utterances = {f"s{k}": [f"s{k}/{i}" for i in range(5)] for k in range(4)}
    trials = make_trials(utterances, 100, enroll=3, seed=1)
    assert trials == make_trials(utterances, 100, enroll=3, seed=1)
    assert sum(t.same for t in trials) == 50
    for t in trials:
        speaker = t.enroll[0].split("/")[0]
        assert len(set(t.enroll)) == 3 and all(e.startswith(speaker) for e in t.enroll)
        assert t.test not in t.enroll
        assert t.test.startswith(speaker) == t.same
    with pytest.raises(ValueError, match="two speakers"):
        make_trials({"a": ["1", "2", "3", "4"]}, 10)


def test_enroll_vector_is_a_unit_mean() -> None:
    v = enroll_vector(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(v, [2**-0.5, 2**-0.5])
