"""Posterior smoothing, per-keyword thresholds and a refractory period: scores in, firings out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Firing:
    """One label crossing its threshold at a given model call."""

    label: str
    score: float


class Detector:
    """Moving-average smoothing over the last ``smoothing_calls`` score vectors, then thresholds.

    A label fires when its smoothed score reaches its threshold, it has not fired within the
    last ``refractory_s`` seconds of stream time, and its score has fallen below the threshold
    since it last fired: one sustained peak is one detection, however long it lasts.
    """

    def __init__(
        self,
        labels: tuple[str, ...],
        thresholds: dict[str, float],
        smoothing_calls: int = 1,
        refractory_s: float = 1.0,
    ) -> None:
        unknown = set(thresholds) - set(labels)
        if unknown:
            raise ValueError(f"thresholds for unknown labels: {', '.join(sorted(unknown))}")
        self.labels = labels
        self._watch = [(labels.index(k), k, t) for k, t in thresholds.items()]
        # A ring of recent outputs, averaged afresh each call (no running sum to drift).
        self._recent = np.zeros((max(1, smoothing_calls), len(labels)), dtype=np.float64)
        self._calls = 0
        self.refractory_s = refractory_s
        self._last_fired: dict[str, float] = {}
        self._armed = {label: True for label in thresholds}

    def update(self, scores: np.ndarray, t: float) -> list[Firing]:
        """Feed one model output at stream time ``t``; return the labels that fire now."""
        self._recent[self._calls % len(self._recent)] = scores
        self._calls += 1
        # Calls before the stream began count as zeros, so a start-up transient cannot fire.
        smoothed = self._recent.mean(axis=0)
        fired = []
        for index, label, threshold in self._watch:
            score = float(smoothed[index])
            if score < threshold:
                self._armed[label] = True
                continue
            last = self._last_fired.get(label)
            if not self._armed[label] or (last is not None and t - last < self.refractory_s):
                continue
            self._armed[label] = False
            self._last_fired[label] = t
            fired.append(Firing(label, score))
        return fired
