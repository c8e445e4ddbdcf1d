"""Long training sequences for streaming models: clips laid end to end, one label per model step.

The runtime streams a model for hours without resetting its state, so a model trained only on
1.5 s windows from zero state meets states it never saw in training. Here each training example
is a run of clips (positives, confusables, speech, music, noise, recordings) concatenated in time
and fed through the sequence form (state carried across the whole run), with a label at every
model step: the keyword's label just after a keyword clip ends, the background label elsewhere,
and no loss on the ambiguous steps around the keyword's end. Steps inside the keyword before its
end are background, so the model learns to fire at the end of the word, not its first syllable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data.augment import SpecMasks


@dataclass(frozen=True)
class SequenceConfig:
    """How clips become sequences (the ``[train.sequences]`` table)."""

    clips: int = 8
    """Clips per sequence: 8 clips of 1.44 s are 11.5 s of state carried."""
    fire_s: tuple[float, float] = (-0.05, 0.25)
    """Steps ending this long around a keyword clip's end (which is 0.05-0.3 s after the spoken
    keyword's end) carry the keyword's label."""
    ignore_s: tuple[float, float] = (-0.45, 0.5)
    """Steps in this span around the clip's end but outside ``fire_s`` carry no loss: the
    keyword's last phonemes before, the score's decay after."""
    positive_weight: float = 0.0
    """Loss weight of a keyword step; 0: as many as make one keyword clip weigh as much as one
    background clip (steps per clip / keyword steps per clip)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fire_s", tuple(self.fire_s))
        object.__setattr__(self, "ignore_s", tuple(self.ignore_s))
        if self.clips < 1:
            raise ValueError(f"[train.sequences] clips must be >= 1, got {self.clips}")
        lo, hi = self.fire_s
        if not lo < hi or not self.ignore_s[0] <= lo or not hi <= self.ignore_s[1]:
            raise ValueError(
                f"[train.sequences] fire_s {self.fire_s} must be an interval inside "
                f"ignore_s {self.ignore_s}"
            )
        if self.positive_weight < 0:
            raise ValueError("[train.sequences] positive_weight must be >= 0")


@dataclass(frozen=True)
class StepLabels:
    """Per-step targets of one clip position, relative to the clip's last frame."""

    offsets: np.ndarray
    """Step index offsets (relative to the step that ends at the clip's end)."""
    fire: np.ndarray
    """True where the clip's label applies; False where the step is ignored."""


def step_labels(config: SequenceConfig, stride: int, hop_s: float) -> StepLabels:
    """Which steps around a clip's end fire and which carry no loss, for a model that makes one
    output every ``stride`` frames of ``hop_s`` seconds."""
    step_s = stride * hop_s
    lo = int(np.ceil(config.ignore_s[0] / step_s - 1e-9))
    hi = int(np.floor(config.ignore_s[1] / step_s + 1e-9))
    offsets = np.arange(lo, hi + 1)
    times = offsets * step_s
    fire = (times >= config.fire_s[0] - 1e-9) & (times <= config.fire_s[1] + 1e-9)
    if not fire.any():
        raise ValueError(
            f"[train.sequences] fire_s {config.fire_s} holds no model step ({step_s:.3f} s apart)"
        )
    return StepLabels(offsets, fire)


def make_sequences(
    x: np.ndarray,
    y: np.ndarray,
    config: SequenceConfig,
    stride: int,
    hop_s: float,
    rng: np.random.Generator,
    masks: SpecMasks | None = None,
    background: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every clip of ``x`` [N, T, F] (labels ``y``) once, shuffled into sequences of
    ``config.clips`` clips: (features [S, clips * T, F], labels [S, steps], weights [S, steps]).

    Each clip gets ``masks`` (SpecAugment) when given. A clip labelled ``background`` marks
    nothing; any other clip labels the steps around its end (:func:`step_labels`), overriding
    what is around it (a keyword wins over an ignored step, which wins over background). The
    last sequence is filled with clips drawn again at random.
    """
    n, frames, num_features = x.shape
    if frames % stride:
        raise ValueError(f"clips of {frames} frames are not a multiple of the stride {stride}")
    order = rng.permutation(n)
    short = (-n) % config.clips
    if short:
        order = np.concatenate([order, rng.choice(n, size=short)])
    order = order.reshape(-1, config.clips)
    per_clip = frames // stride
    steps = per_clip * config.clips
    marks = step_labels(config, stride, hop_s)
    fire_steps = int(marks.fire.sum())
    weight = config.positive_weight or per_clip / fire_steps
    features = np.empty((len(order), config.clips * frames, num_features), dtype=np.float32)
    labels = np.full((len(order), steps), background, dtype=np.int32)
    weights = np.ones((len(order), steps), dtype=np.float32)
    for s, clips in enumerate(order):
        for c, clip in enumerate(clips):
            block = masks.apply(x[clip], rng) if masks else x[clip]
            features[s, c * frames : (c + 1) * frames] = block
        marked = [
            ((c + 1) * per_clip - 1 + marks.offsets, y[clip])
            for c, clip in enumerate(clips)
            if y[clip] != background
        ]
        for at, _ in marked:  # ignored spans first, keyword steps over them
            weights[s, at[(at >= 0) & (at < steps) & ~marks.fire]] = 0.0
        for at, label in marked:
            fired = at[(at >= 0) & (at < steps) & marks.fire]
            labels[s, fired] = label
            weights[s, fired] = weight
    return features, labels, weights
