"""Smoothing, thresholds and the refractory period on hand-made score sequences."""

from __future__ import annotations

import numpy as np
import pytest

from kws.detect import Detector

LABELS = ("_background_", "yes", "no")


def feed(detector: Detector, rows: list[list[float]], dt: float = 0.1) -> list[tuple[float, str]]:
    fired = []
    for i, row in enumerate(rows):
        t = round((i + 1) * dt, 6)
        fired += [(t, f.label) for f in detector.update(np.array(row), t)]
    return fired


def test_fires_when_the_threshold_is_reached_and_not_below() -> None:
    detector = Detector(LABELS, {"yes": 0.5}, smoothing_calls=1, refractory_s=0.0)
    fired = feed(detector, [[1, 0, 0], [0.51, 0.49, 0], [0.5, 0.5, 0], [0.6, 0.4, 0]])
    assert fired == [(0.3, "yes")]


def test_smoothing_averages_the_last_calls() -> None:
    detector = Detector(LABELS, {"yes": 0.5}, smoothing_calls=3, refractory_s=0.0)
    # A single spike of 1.0 averages to 1/3 and must not fire; three in a row do.
    rows = [[0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert feed(detector, rows) == [(0.5, "yes")]


def test_refractory_period_suppresses_repeats_per_label() -> None:
    detector = Detector(LABELS, {"yes": 0.5, "no": 0.5}, smoothing_calls=1, refractory_s=0.25)
    up, down = [0, 1, 0], [1, 0, 0]
    rows = [up, down, up, down, up, [0, 0, 1]]
    # "yes" fires at 0.1, not at 0.3 (within 0.25 s), again at 0.5; "no" is independent.
    assert feed(detector, rows) == [(0.1, "yes"), (0.5, "yes"), (0.6, "no")]


def test_a_sustained_peak_fires_once() -> None:
    detector = Detector(LABELS, {"yes": 0.5}, smoothing_calls=1, refractory_s=0.1)
    rows = [[0, 1, 0]] * 30 + [[1, 0, 0], [0, 1, 0]]
    assert feed(detector, rows) == [(0.1, "yes"), (3.2, "yes")]


def test_only_labels_with_thresholds_fire() -> None:
    detector = Detector(LABELS, {"no": 0.9}, smoothing_calls=1, refractory_s=1.0)
    assert feed(detector, [[0, 1, 0], [1, 0, 0]]) == []


def test_unknown_threshold_label_is_refused() -> None:
    with pytest.raises(ValueError, match="maybe"):
        Detector(LABELS, {"maybe": 0.5})
