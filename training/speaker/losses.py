"""Speaker-embedding losses (TensorFlow): FaceNet triplet loss with online semi-hard mining, and
softmax plus center loss.

Triplet (Schroff et al. 2015, "FaceNet"): for every anchor-positive pair (a, p) of a batch, with
squared Euclidean distances d, the negative n is the *semi-hard* one: the closest negative that is
still farther than the positive (d(a,p) < d(a,n)), which the paper found trains stably where the
hardest negative collapses the model. When no negative is farther than the positive, the farthest
negative is used (the pair then usually contributes nothing). The loss is the mean over all
anchor-positive pairs of ``max(d(a,p) - d(a,n) + margin, 0)``.

Center loss (Wen et al. 2016, "A Discriminative Feature Learning Approach for Deep Face
Recognition"): ``L_C = ½ Σ_i ‖x_i − c_{y_i}‖²`` over the batch, added to the softmax cross-entropy
as ``L_S + λ L_C``. Centers are not learned by gradient but moved toward their members with rate
α: ``c_j ← c_j − α Δc_j``, ``Δc_j = Σ_{i: y_i = j} (c_j − x_i) / (1 + n_j)`` (the paper's eq. 4).
"""

from __future__ import annotations

import tensorflow as tf


def pairwise_squared_distances(embeddings: tf.Tensor) -> tf.Tensor:
    """[n, n] squared Euclidean distances between the rows of ``embeddings`` (≥ 0, exact 0 on
    the diagonal)."""
    x = tf.convert_to_tensor(embeddings, tf.float32)
    sq = tf.reduce_sum(tf.square(x), axis=1)
    d = sq[:, None] - 2.0 * tf.matmul(x, x, transpose_b=True) + sq[None, :]
    d = tf.maximum(d, 0.0)
    return d * (1.0 - tf.eye(tf.shape(x)[0]))


def triplet_semihard_loss(labels: tf.Tensor, embeddings: tf.Tensor, margin: float) -> tf.Tensor:
    """Mean FaceNet triplet loss over all anchor-positive pairs, negatives mined semi-hard.

    ``labels`` [n] (int speaker ids), ``embeddings`` [n, d]. A batch without any
    anchor-positive pair gives 0.
    """
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    d = pairwise_squared_distances(embeddings)
    n = tf.shape(d)[0]
    same = tf.equal(labels[:, None], labels[None, :])
    positive_pairs = tf.logical_and(same, tf.logical_not(tf.eye(n, dtype=tf.bool)))
    negatives = tf.logical_not(same)  # [anchor, negative]
    d_ap = d[:, :, None]  # [anchor, positive, 1]
    d_an = d[:, None, :]  # [anchor, 1, negative]
    big = tf.reduce_max(d) + 1.0
    # Semi-hard: among negatives with d(a,n) > d(a,p), the smallest d(a,n).
    outside = tf.logical_and(negatives[:, None, :], d_an > d_ap)  # [a, p, n]
    semihard = tf.reduce_min(tf.where(outside, d_an, big), axis=2)
    # Fallback: the farthest negative of the anchor.
    farthest = tf.reduce_max(tf.where(negatives, d, -1.0), axis=1)[:, None]
    has_outside = tf.reduce_any(outside, axis=2)
    d_neg = tf.where(has_outside, semihard, tf.broadcast_to(farthest, tf.shape(semihard)))
    has_negative = tf.reduce_any(negatives, axis=1)[:, None]
    valid = tf.logical_and(positive_pairs, has_negative)
    losses = tf.maximum(d - d_neg + margin, 0.0)
    count = tf.reduce_sum(tf.cast(valid, tf.float32))
    total = tf.reduce_sum(tf.where(valid, losses, 0.0))
    return tf.math.divide_no_nan(total, count)


def center_loss(labels: tf.Tensor, embeddings: tf.Tensor, centers: tf.Tensor) -> tf.Tensor:
    """``½ Σ_i ‖x_i − c_{y_i}‖²`` over the batch (Wen et al. eq. 2); ``centers`` [classes, d]."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    diff = tf.convert_to_tensor(embeddings, tf.float32) - tf.gather(centers, labels)
    return 0.5 * tf.reduce_sum(tf.square(diff))


def center_updates(labels: tf.Tensor, embeddings: tf.Tensor, centers: tf.Tensor) -> tf.Tensor:
    """Δc for every class (Wen et al. eq. 4): ``Σ_{i: y_i=j} (c_j − x_i) / (1 + n_j)``; zero for
    classes absent from the batch."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    x = tf.convert_to_tensor(embeddings, tf.float32)
    classes = tf.shape(centers)[0]
    diff = tf.gather(centers, labels) - x
    sums = tf.math.unsorted_segment_sum(diff, labels, classes)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(labels, tf.float32), labels, classes)
    return sums / (1.0 + counts)[:, None]


class CenterLoss:
    """Softmax + λ·center loss with centers held in a non-trainable variable, updated with rate α
    after each step (call :meth:`update` with the same batch)."""

    def __init__(self, num_classes: int, dim: int, weight: float, alpha: float) -> None:
        if weight < 0 or not 0 < alpha <= 1:
            raise ValueError(
                f"center loss needs weight >= 0 and 0 < alpha <= 1, got {weight}, {alpha}"
            )
        self.weight = weight
        self.alpha = alpha
        self.centers = tf.Variable(tf.zeros([num_classes, dim]), trainable=False, name="centers")

    def __call__(self, labels: tf.Tensor, embeddings: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """``L_S + λ L_C`` with ``L_S`` the batch-mean sparse softmax cross-entropy."""
        softmax = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int32), logits)
        )
        return softmax + self.weight * center_loss(labels, embeddings, self.centers)

    def update(self, labels: tf.Tensor, embeddings: tf.Tensor) -> None:
        """``c_j ← c_j − α Δc_j`` for the classes of this batch."""
        self.centers.assign_sub(self.alpha * center_updates(labels, embeddings, self.centers))
