"""What the clip-classification families share: the output head and the config checks.

An environment model ends in ``output``: softmax over labels for single-label classification
(ESC-50, UrbanSound8K) or one sigmoid per label for multi-label tagging. Configs name the head
in a ``head`` field; the training loss and the metrics follow from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras

HEADS = ("softmax", "sigmoid")


def check_fields(
    cls_name: str, config: Any, positive_ints: Iterable[str], int_tuples: Iterable[str] = ()
) -> list[str]:
    """Problems with ``config``'s integer fields and its head, each naming the key."""
    problems = []
    for key in positive_ints:
        value = getattr(config, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{key} must be a positive integer, got {value!r}")
    for key in int_tuples:
        value = getattr(config, key)
        if not isinstance(value, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
        ):
            problems.append(f"{key} must be a list of positive integers, got {value!r}")
    if config.head not in HEADS:
        problems.append(f"head must be one of {HEADS}, got {config.head!r}")
    dropout = getattr(config, "dropout", 0.0)
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        problems.append(f"dropout must be in [0, 1), got {dropout!r}")
    return problems


def raise_problems(cls_name: str, problems: list[str]) -> None:
    if problems:
        raise ValueError(f"invalid {cls_name}: " + "; ".join(problems))


def output_layer(head: str, num_labels: int) -> keras.layers.Layer:
    """The last layer: probabilities per label, named ``output``."""
    return keras.layers.Dense(num_labels, activation=head, name="output")


def pooled_size(size: int, pools: Iterable[int]) -> int:
    """``size`` after max-pooling by each of ``pools`` in turn (valid padding)."""
    for pool in pools:
        size //= pool
    return size
