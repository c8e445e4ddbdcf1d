"""The training loop: clips or long sequences, model choice on the validation streams, a
learning-rate schedule, early stopping, and rounds of hard-negative mining.

What users feel is FRR at a false-accept rate on long audio, not clip accuracy, so when the
corpus has validation streams (eval/validation, training.data.eval_sets) the loop scores them
every ``validation.every`` epochs with the sequence form (training.core.stream_scores) and keeps the
checkpoint with the lowest FRR averaged over ``validation.choose_at`` false-accept rates (the
FRR at one rate on a couple of hours of negatives hangs on their one or two highest peaks and
swung 38-90 % between epochs; rates up to a few per hour bring in more of them), then at
``validation.target_fa_per_hour``; the learning rate drops
when that stops improving and training stops after ``validation.patience`` evaluations without
a better one. A corpus without validation streams falls back to the validation clips' loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.evaluation import CHOICE_FA_PER_HOUR
from kws.metadata import smoothing_calls, spoken
from training.core.checkpoint import Checkpoint, LoopState, assign_all, seed_epoch
from training.core.mining import MiningConfig, mine, mined_label, mining_sources
from training.core.sequences import SequenceConfig, make_sequences
from training.core.stream_scores import ChunkPlan, frr_at_targets, load_eval_streams
from training.core.weight_average import WeightAverage
from training.data.augment import SpecMasks

EXAMPLES = ("clips", "sequences")


@dataclass(frozen=True)
class ValidationConfig:
    """The ``[train.validation]`` table."""

    every: int = 1
    """Epochs between evaluations on the validation streams."""
    streams: bool = True
    """Choose by FRR on the corpus's validation streams when it has them (False: by the
    validation clips' loss, as plain clip training does)."""
    target_fa_per_hour: float = 1.0
    choose_at: tuple[float, ...] = CHOICE_FA_PER_HOUR
    """False accepts per hour whose FRRs, averaged, choose the checkpoint (ties: FRR at the
    target, at half of it, then the loss); empty: the target and half of it alone."""
    patience: int = 4
    """Evaluations without a better checkpoint before training stops (0: never early)."""
    min_epochs: int = 10
    """Epochs before the learning rate may drop or training stop: early on, while the loss still
    falls fast, FRR at 1 FA/h sits near 100 % and says little."""
    lr_patience: int = 2
    """Evaluations without a better checkpoint before the learning rate drops."""
    lr_factor: float = 0.5
    min_learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "choose_at", tuple(float(fa) for fa in self.choose_at))
        if self.every < 1 or self.patience < 0 or self.lr_patience < 1 or self.min_epochs < 0:
            raise ValueError(
                "[train.validation] every and lr_patience >= 1, patience and min_epochs >= 0"
            )
        if not 0 < self.lr_factor <= 1 or self.target_fa_per_hour <= 0:
            raise ValueError("[train.validation] lr_factor in (0, 1], target_fa_per_hour > 0")
        if any(fa <= 0 for fa in self.choose_at):
            raise ValueError("[train.validation] choose_at: false accepts per hour must be > 0")

    def targets(self) -> tuple[float, ...]:
        """Every FA/h rate the validation streams are scored at, ascending."""
        return tuple(
            sorted({*self.choose_at, self.target_fa_per_hour / 2, self.target_fa_per_hour})
        )


@dataclass(frozen=True)
class LoopSettings:
    """What :func:`fit` needs of the run's TrainConfig (kept apart so the loop stays testable)."""

    epochs: int
    batch_size: int
    learning_rate: float
    spec_augment: SpecMasks | None
    examples: str = "clips"
    sequences: SequenceConfig = field(default_factory=SequenceConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)
    smoothing_s: float = 0.1
    refractory_s: float = 1.5
    weight_average: float = 0.0
    seed: int = 0
    """Seeds each epoch's batch shuffling (with the epoch), so a resumed run draws alike."""


@dataclass
class _Best:
    key: tuple[float, ...] = (np.inf,)
    weights: list[np.ndarray] | None = None
    epoch: int = 0
    figures: dict[str, Any] = field(default_factory=dict)


def mean_frr_at(figures: dict[str, dict[str, float | None]], fa_per_hour: float) -> float:
    """FRR at ``fa_per_hour`` averaged over the keywords of one validation evaluation (a rate
    no threshold reaches counts as 1)."""
    values = [at.get(f"{fa_per_hour:g}") for at in figures.values()]
    return float(np.mean([1.0 if v is None else v for v in values]))


def _frr_key(
    figures: dict[str, dict[str, float | None]], validation: ValidationConfig
) -> tuple[float, ...]:
    """Lower is better: mean FRR over keywords and the ``choose_at`` rates, then at the target,
    then at half of it (unreachable counts as 1)."""

    def mean_at(fa: float) -> float:
        return mean_frr_at(figures, fa)

    target = validation.target_fa_per_hour
    chosen = [mean_at(fa) for fa in validation.choose_at]
    return (*([float(np.mean(chosen))] if chosen else []), mean_at(target), mean_at(target / 2))


def fit(
    settings: LoopSettings,
    spec: Any,
    model_config: Any,
    labels: tuple[str, ...],
    keywords: tuple[str, ...],
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    features: Any,
    corpus: Path,
    rng: np.random.Generator,
    report: Callable[[dict[str, Any]], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Train; return (the window model with the best weights, history rows, loop report).

    ``report`` is called with each epoch's history row as it is written (training.tune hands
    the validation figures to its early-stopping scheduler). With ``checkpoint`` the loop's
    state is saved after every epoch and a saved state of the same run is resumed
    (training.core.checkpoint)."""
    import keras

    from training.models.registry import copy_weights

    stride = model_config.stride_t
    hop_s = features.frame_step / features.sample_rate
    window = spec.build(model_config, features.num_features, len(labels))
    sequence = (
        spec.build_sequence(model_config, features.num_features, len(labels))
        if spec.build_sequence is not None and getattr(model_config, "streamable", True)
        else None
    )
    if settings.examples == "sequences" and sequence is None:
        raise ValueError(f"model {spec.name} cannot be trained on sequences (examples = 'clips')")
    if settings.mining.rounds and sequence is None:
        raise ValueError(f"model {spec.name} has no sequence form to mine hard negatives with")
    said = [spoken(k) for k in keywords]
    if settings.mining.rounds:
        mining_sources(corpus, said)  # fail before training when there is nothing to mine
    trained = sequence if settings.examples == "sequences" else window
    assert trained is not None
    trained.get_layer("normalize").adapt(x["train"])
    optimizer = keras.optimizers.Adam(settings.learning_rate)
    trained.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    streams = []
    if (
        settings.validation.streams
        and sequence is not None
        and (corpus / "eval" / "validation").is_dir()
    ):
        streams = load_eval_streams(corpus, "validation", features)
    plan = ChunkPlan.for_model(stride, model_config.window_frames, hop_s=hop_s)
    smoothing = smoothing_calls(settings.smoothing_s, stride, features)

    def batches(xs: np.ndarray, ys: np.ndarray, augment: bool) -> tuple[Any, ...]:
        masks = settings.spec_augment if augment else None
        if settings.examples == "clips":
            data = np.stack([masks.apply(e, rng) for e in xs]) if masks else xs
            return (data, ys, None)
        return make_sequences(xs, ys, settings.sequences, stride, hop_s, rng, masks)

    val_rng_state = rng.bit_generator.state
    val_x, val_y, val_w = batches(x["validation"], y["validation"], augment=False)
    rng.bit_generator.state = val_rng_state  # validation sequences must not shift training draws

    def evaluate() -> tuple[tuple[float, ...], dict[str, Any]]:
        loss = float(trained.evaluate(val_x, val_y, sample_weight=val_w, verbose=0))
        if not streams:
            return (loss,), {"val_loss": loss}
        assert sequence is not None
        if sequence is not trained:
            copy_weights(trained, sequence)
        figures = frr_at_targets(
            sequence, streams, labels, keywords, plan, features, smoothing,
            settings.refractory_s, settings.validation.targets(),
        )  # fmt: skip
        key = _frr_key(figures, settings.validation)
        return (*key, loss), {"val_loss": loss, "val_frr": figures}

    average = WeightAverage(trained, settings.weight_average) if settings.weight_average else None
    callbacks = [average.callback()] if average is not None else []

    def evaluate_kept() -> tuple[tuple[float, ...], dict[str, Any], list[np.ndarray]]:
        """Evaluate the weights a checkpoint would keep (the average when there is one), then
        go on training from the raw weights."""
        if average is None:
            key, figures = evaluate()
            return key, figures, trained.get_weights()
        raw = trained.get_weights()
        kept = average.weights()
        trained.set_weights(kept)
        try:
            key, figures = evaluate()
        finally:
            trained.set_weights(raw)
        return key, figures, kept

    batch_size = settings.batch_size
    if settings.examples == "sequences":  # as many clips per update as clip training sees
        batch_size = max(1, settings.batch_size // settings.sequences.clips)
    state = LoopState(checkpoint.fingerprint if checkpoint else "")
    best = _Best()
    restored = checkpoint.load() if checkpoint else None
    if restored is not None:
        optimizer.build(trained.trainable_variables)
        variables = [*trained.variables, *optimizer.variables]
        if not assign_all(variables, [*restored[1]["model"], *restored[1]["optimizer"]]):
            assert checkpoint is not None
            print(
                f"{checkpoint.path}: does not fit this model; training from the start", flush=True
            )
            restored = None
    if restored is not None:
        state, arrays = restored
        if average is not None:
            average.average = [a.astype(np.float64) for a in arrays["average"]]
            average.updates = state.average_updates
        rng.bit_generator.state = state.rng
        best = _Best(tuple(state.best_key), arrays["best"], state.best_epoch, state.best_figures)
        done = "finished" if state.finished else f"after epoch {state.epoch_total}"
        print(f"resuming {checkpoint.path} ({done}, best: epoch {best.epoch})", flush=True)
        if state.finished and state.round_index <= settings.mining.rounds:
            state.finished = False  # more mining rounds than it was trained with: go on
            print(f"mining rounds {state.round_index}-{settings.mining.rounds} follow", flush=True)
    elif checkpoint is not None:
        checkpoint.drop_mined()  # another run's hard negatives

    def save() -> None:
        if checkpoint is None:
            return
        state.best_key = list(best.key)
        state.best_epoch, state.best_figures = best.epoch, best.figures
        state.rng = rng.bit_generator.state
        state.average_updates = average.updates if average is not None else 0
        arrays = {
            "model": [np.asarray(v) for v in trained.variables],
            "optimizer": [np.asarray(v) for v in optimizer.variables],
            "average": list(average.average) if average is not None else [],
            "best": list(best.weights or []),
        }
        checkpoint.save(state, arrays)

    mined_as = mined_label(labels)
    mined: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}

    def hard_negatives(round_index: int, may_mine: bool) -> tuple[np.ndarray, dict[str, Any]]:
        """A round's mined windows and statistics: those the run folder keeps, else mined now
        from the best weights (only as the round starts)."""
        kept = checkpoint.load_mined(round_index) if checkpoint else None
        if kept is not None:
            return kept
        if not may_mine:
            assert checkpoint is not None
            raise ValueError(
                f"{checkpoint.folder}: mined_round{round_index}.npz is missing; remove "
                f"{checkpoint.path} to train from the start"
            )
        assert sequence is not None
        columns = [labels.index(k) for k in keywords]
        windows, stats = mine(
            sequence, mining_sources(corpus, said), columns, features, plan,
            model_config.window_frames, smoothing, settings.refractory_s, settings.mining,
        )  # fmt: skip
        if checkpoint is not None:
            checkpoint.save_mined(round_index, windows, stats)
        return windows, stats

    for round_index in range(state.round_index, 1 + settings.mining.rounds):
        starting = state.epoch_in_round == 0
        if round_index and starting:  # mine from the best weights, then train on from them
            assert sequence is not None and best.weights is not None
            trained.set_weights(best.weights)
            if sequence is not trained:
                copy_weights(trained, sequence)
            if average is not None:
                average.restart()
        for r in range(1, round_index + 1):  # every round's windows stay in training
            if r not in mined:
                mined[r] = hard_negatives(r, may_mine=starting and r == round_index)
        windows = [mined[r][0] for r in range(1, round_index + 1)]
        x_train, y_train = x["train"], y["train"]  # no copy of the clips before any mining
        if windows:
            x_train = np.concatenate([x_train, *windows])
            y_train = np.concatenate([y_train, *(np.full(len(w), mined_as) for w in windows)])
        mined_stats = mined[round_index][1] if round_index else {}
        if round_index and starting:
            mined_now = len(windows[-1])
            print(f"round {round_index}: mined {mined_now} windows {mined_stats}", flush=True)
        epochs = settings.mining.epochs if round_index and settings.mining.epochs else None
        epochs = epochs or settings.epochs
        round_start = time.perf_counter() - state.round_seconds
        for epoch in range(state.epoch_in_round, epochs):
            if settings.validation.patience and state.since_best >= settings.validation.patience:
                print(
                    f"stopping: no better checkpoint in {state.since_best} evaluations",
                    flush=True,
                )
                break
            state.epoch_total += 1
            seed_epoch(settings.seed, state.epoch_total)
            data, targets, weights = batches(x_train, y_train, augment=True)
            fit_out = trained.fit(
                data, targets, sample_weight=weights, batch_size=batch_size,
                epochs=1, verbose=0, shuffle=True, callbacks=callbacks,
            )  # fmt: skip
            row: dict[str, Any] = {
                "epoch": state.epoch_total,
                "round": round_index,
                "loss": float(fit_out.history["loss"][-1]),
                "learning_rate": float(optimizer.learning_rate.numpy()),
            }
            if state.epoch_total % settings.validation.every == 0 or epoch == epochs - 1:
                key, figures, kept = evaluate_kept()
                row.update(figures)
                if key < best.key:
                    best = _Best(key, kept, state.epoch_total, figures)
                    state.since_best = 0
                elif round_index or state.epoch_total >= settings.validation.min_epochs:
                    state.since_best += 1
                    if state.since_best % settings.validation.lr_patience == 0:
                        lr = max(
                            settings.validation.min_learning_rate,
                            float(optimizer.learning_rate.numpy()) * settings.validation.lr_factor,
                        )
                        optimizer.learning_rate.assign(lr)
            state.history.append(row)
            state.epoch_in_round = epoch + 1
            state.round_seconds = time.perf_counter() - round_start
            save()
            print(_progress(row, best.epoch), flush=True)
            if report is not None:
                report(row)
        state.rounds.append(
            {
                "round": round_index,
                "mined": mined_stats,
                "train_clips": len(x_train),
                "epochs": [r["epoch"] for r in state.history if r["round"] == round_index],
                "best_epoch_so_far": best.epoch,
                "best_so_far": best.figures,
                "seconds": round(time.perf_counter() - round_start, 1),
            }
        )
        state.round_index, state.epoch_in_round, state.since_best = round_index + 1, 0, 0
        state.round_seconds = 0.0
        state.finished = state.round_index > settings.mining.rounds
        save()
    history, rounds = state.history, state.rounds
    assert best.weights is not None
    trained.set_weights(best.weights)
    if trained is not window:
        copy_weights(trained, window)
    report = {
        "examples": settings.examples,
        "selected_by": "validation streams FRR" if streams else "validation clip loss",
        "best_epoch": best.epoch,
        "epochs_trained": state.epoch_total,
        "weights": f"moving average, decay {settings.weight_average:g} per update"
        if average is not None
        else "as trained",
        "best": best.figures,
        "rounds": rounds,
    }
    return window, history, report


def _progress(row: dict[str, Any], best_epoch: int) -> str:
    text = f"epoch {row['epoch']} (round {row['round']}): loss {row['loss']:.4f}"
    if "val_loss" in row:
        text += f" val_loss {row['val_loss']:.4f}"
    for keyword, at in row.get("val_frr", {}).items():
        shown = ", ".join(
            f"{'-' if v is None else f'{100 * v:.1f}%'} @{k}" for k, v in sorted(at.items())
        )
        text += f" | {keyword} FRR {shown} FA/h"
    return text + f" (best: epoch {best_epoch})"
