"""Environment classification over time: window scores in, "what does the room sound like" out.

An environment model (metadata ``task = "environment"``) scores a sliding window of frames every
``stride_frames`` frames. :class:`EnvironmentTracker` averages the last ``smoothing_calls``
outputs, takes the top label, and reports :data:`UNKNOWN` when that label's smoothed score is
below its threshold (a quiet or unfamiliar room). A decision is reported when the label changes
and, optionally, every ``interval_s`` seconds of stream time as a reminder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"
"""The label reported when no class is confident enough."""


@dataclass(frozen=True)
class EnvironmentDecision:
    """One smoothed decision: the label (or :data:`UNKNOWN`), its score and the audio it covers."""

    label: str
    score: float
    """Smoothed probability of the top label (also when the outcome is unknown)."""
    start: float
    """Stream time (s) where the oldest window in the smoothing span began."""
    end: float
    """Stream time (s) of the end of the newest window."""


class EnvironmentTracker:
    """Smooths window scores and decides when to report the room's label."""

    def __init__(
        self,
        labels: tuple[str, ...],
        thresholds: dict[str, float],
        smoothing_calls: int = 1,
        window_s: float = 1.0,
        interval_s: float = 0.0,
    ) -> None:
        unknown = set(thresholds) - set(labels)
        if unknown:
            raise ValueError(f"thresholds for unknown labels: {', '.join(sorted(unknown))}")
        if interval_s < 0:
            raise ValueError(f"environment interval must be >= 0, got {interval_s}")
        self.labels = labels
        # A label without a threshold is always confident enough to be reported when on top.
        self._thresholds = np.array([thresholds.get(label, 0.0) for label in labels])
        self._recent = np.zeros((max(1, smoothing_calls), len(labels)), dtype=np.float64)
        self._ends = np.zeros(max(1, smoothing_calls), dtype=np.float64)
        self._calls = 0
        self.window_s = window_s
        self.interval_s = interval_s
        self._reported: str | None = None
        self._reported_at = 0.0

    def smoothed(self, scores: np.ndarray, end: float) -> EnvironmentDecision:
        """Add one model output at stream time ``end``; return the current smoothed decision."""
        slot = self._calls % len(self._recent)
        self._recent[slot] = scores
        self._ends[slot] = end
        self._calls += 1
        held = min(self._calls, len(self._recent))  # average only outputs that exist
        oldest_end = end if held == 1 else float(np.min(self._ends[:held]))
        mean = self._recent[:held].mean(axis=0)
        top = int(np.argmax(mean))
        score = float(mean[top])
        label = self.labels[top] if score >= self._thresholds[top] else UNKNOWN
        return EnvironmentDecision(label, score, max(0.0, oldest_end - self.window_s), end)

    def update(self, scores: np.ndarray, end: float) -> EnvironmentDecision | None:
        """Feed one model output; return a decision when it should be reported, else None.

        Reported: the first decision, every change of label, and (with ``interval_s`` > 0) the
        current decision once ``interval_s`` seconds have passed since the last report.
        """
        decision = self.smoothed(scores, end)
        changed = decision.label != self._reported
        due = self.interval_s > 0 and end - self._reported_at >= self.interval_s - 1e-9
        if not (changed or due):
            return None
        self._reported = decision.label
        self._reported_at = end
        return decision
