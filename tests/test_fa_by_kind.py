"""Where false accepts come from: firings counted per kind of negative segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.fa_by_kind import false_accepts_by_kind
from benchmarks.streams import EvalStream
from kws.evaluation import Timeline


def test_firings_are_counted_in_the_segment_they_fall_in() -> None:
    times = np.arange(0.0, 60.0, 0.1)
    scores = np.zeros_like(times)
    for t in (5.0, 5.3, 20.0, 45.0):  # 5.3 is within the 1 s refractory of 5.0
        scores[round(t * 10)] = 0.9
    stream = EvalStream(
        Path("n.wav"), segments=((0.0, 30.0, "confusable"), (30.0, 60.0, "recorded_speech"))
    )
    timeline = Timeline(times, scores, 60.0, ())
    cells = false_accepts_by_kind([timeline], [stream], threshold=0.5, refractory_s=1.0)
    assert cells["confusable"]["false_accepts"] == 2
    assert cells["recorded_speech"]["false_accepts"] == 1
    assert cells["confusable"]["fa_per_hour"] == pytest.approx(2 / (30 / 3600))
    assert (
        false_accepts_by_kind([timeline], [stream], 0.95, 1.0)["confusable"]["false_accepts"] == 0
    )
