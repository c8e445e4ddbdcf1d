"""Triplet (semi-hard) and center losses on hand-made embeddings with answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training.speaker.losses import (  # noqa: E402
    CenterLoss,
    center_loss,
    center_updates,
    pairwise_squared_distances,
    triplet_semihard_loss,
)


def test_pairwise_squared_distances() -> None:
    x = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]], np.float32)
    d = pairwise_squared_distances(x).numpy()
    np.testing.assert_allclose(d, [[0, 25, 1], [25, 0, 20], [1, 20, 0]], atol=1e-5)


def test_triplet_semihard_picks_the_closest_negative_beyond_the_positive() -> None:
    # 1-D points: speaker 0 at 0 and 1; speaker 1 at 1.2 and 3.
    x = np.array([[0.0], [1.0], [1.2], [3.0]], np.float32)
    y = np.array([0, 0, 1, 1])
    # Pairs (a, p) and their d_ap, d_an (squared):
    # (0,1): d_ap=1; negatives 1.44, 9 -> semi-hard 1.44 -> max(1 - 1.44 + m, 0)
    # (1,0): d_ap=1; negatives 0.04, 4 -> semi-hard 4 -> max(1 - 4 + m, 0)
    # (2,3): d_ap=3.24; negatives 1.44, 0.04: none beyond -> farthest 1.44 -> 3.24 - 1.44 + m
    # (3,2): d_ap=3.24; negatives 9, 4 -> semi-hard 4 -> max(3.24 - 4 + m, 0)
    m = 0.5
    expected = (max(1 - 1.44 + m, 0) + 0 + (3.24 - 1.44 + m) + max(3.24 - 4 + m, 0)) / 4
    assert float(triplet_semihard_loss(y, x, m)) == pytest.approx(expected, rel=1e-5)


def test_triplet_is_zero_for_well_separated_speakers_and_without_pairs() -> None:
    x = np.array([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0], [-1.0, 0.01]], np.float32)
    assert float(triplet_semihard_loss([0, 0, 1, 1], x, 0.2)) == 0.0
    assert float(triplet_semihard_loss([0, 1, 2, 3], x, 0.2)) == 0.0  # no positive pairs


def test_triplet_loss_is_the_margin_when_everything_collapses() -> None:
    x = np.ones((4, 3), np.float32)
    assert float(triplet_semihard_loss([0, 0, 1, 1], x, 0.2)) == pytest.approx(0.2)


def test_center_loss_and_update_follow_wen_et_al() -> None:
    centers = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)
    y = np.array([0, 0, 1])
    # ½ (1 + 4 + 0) = 2.5
    assert float(center_loss(y, x, centers)) == pytest.approx(2.5)
    # class 0: ((0,0)-(1,0) + (0,0)-(0,2)) / (1 + 2) = (-1/3, -2/3); class 1: 0
    np.testing.assert_allclose(center_updates(y, x, centers).numpy(), [[-1 / 3, -2 / 3], [0, 0]])


def test_center_loss_object_combines_softmax_and_moves_centers() -> None:
    loss = CenterLoss(num_classes=2, dim=2, weight=0.1, alpha=0.5)
    x = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    y = np.array([0, 1])
    logits = tf.constant([[0.0, 0.0], [0.0, 0.0]])
    # softmax CE = ln 2; centers at 0: L_C = ½ (1 + 1) = 1
    assert float(loss(y, x, logits)) == pytest.approx(np.log(2) + 0.1, rel=1e-5)
    loss.update(y, x)  # c_j <- c_j - 0.5 * (c_j - x_j) / 2
    np.testing.assert_allclose(loss.centers.numpy(), [[0.25, 0.0], [0.0, 0.25]])
    with pytest.raises(ValueError, match="alpha"):
        CenterLoss(2, 2, 0.1, 0.0)
