"""Training that survives a stop: after every epoch the loop's whole state goes to one file in
the run folder, written atomically, and a run started again with the same config and corpus
goes on from there.

A killed process (a session's stop, a reboot, Ctrl-C) then costs at most the epoch under way.
The state is everything the next epoch depends on: the model's variables (weights,
normalisation, dropout seeds), the optimizer's (moments, step, learning rate), the weight
average, the best checkpoint so far, history, the mining round and its hard negatives, and the
NumPy generator. TensorFlow's and Keras' global generators (batch shuffling) are reseeded at
every epoch from the run's seed and the epoch (:func:`seed_epoch`), so a resumed run draws what
an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes

CHECKPOINT = "checkpoint.npz"
GROUPS = ("model", "optimizer", "average", "best")


@dataclass
class LoopState:
    """Where the loop is and what it has found: the JSON part of a checkpoint."""

    fingerprint: str
    epoch_total: int = 0
    round_index: int = 0
    epoch_in_round: int = 0
    since_best: int = 0
    round_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    best_key: list[float] = field(default_factory=lambda: [float("inf")])
    best_epoch: int = 0
    best_figures: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)
    average_updates: int = 0
    finished: bool = False


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-able parts (the config, labels, the training set's shape): a
    checkpoint of other parts is not resumed."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed Python's, NumPy's global, TensorFlow's and Keras' generators for one epoch."""
    import keras

    keras.utils.set_random_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


def assign_all(variables: list[Any], values: list[np.ndarray]) -> bool:
    """Assign ``values`` to ``variables`` in order if every shape matches (a checkpoint of the
    same config may still come from other code: another model's layers); else assign nothing
    and return False."""
    if len(variables) != len(values) or any(
        tuple(v.shape) != np.shape(a) for v, a in zip(variables, values, strict=True)
    ):
        return False
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return True


class Checkpoint:
    """``<folder>/checkpoint.npz`` (state and arrays) and ``mined_round<N>.npz`` (each mining
    round's hard negatives, kept until training finishes)."""

    def __init__(self, folder: Path, identity: str) -> None:
        self.folder = folder
        self.path = folder / CHECKPOINT
        self.fingerprint = identity
        """The run's :func:`fingerprint`: a checkpoint of another is not resumed."""

    def load(self) -> tuple[LoopState, dict[str, list[np.ndarray]]] | None:
        """The saved state and arrays by group, or None (no checkpoint, another config's, or
        one that cannot be read: each said in one line)."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path) as stored:
                state = LoopState(**json.loads(bytes(stored["state"]).decode()))
                arrays = {
                    group: [stored[f"{group}/{i}"] for i in range(int(stored[f"{group}/n"]))]
                    for group in GROUPS
                }
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            print(f"{self.path}: cannot be read ({exc}); training from the start", flush=True)
            return None
        if state.fingerprint != self.fingerprint:
            print(
                f"{self.path}: made with another config or corpus; training from the start",
                flush=True,
            )
            return None
        return state, arrays

    def save(self, state: LoopState, arrays: dict[str, list[np.ndarray]]) -> None:
        """Replace the checkpoint with ``state`` and ``arrays`` (groups of :data:`GROUPS`)."""
        named: dict[str, np.ndarray] = {
            "state": np.frombuffer(json.dumps(asdict(state)).encode(), dtype=np.uint8)
        }
        for group in GROUPS:
            values = arrays.get(group, [])
            named[f"{group}/n"] = np.array(len(values))
            named.update({f"{group}/{i}": np.asarray(v) for i, v in enumerate(values)})
        buffer = io.BytesIO()
        np.savez(buffer, **named)  # type: ignore[arg-type]
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, buffer.getvalue())

    def _mined_path(self, round_index: int) -> Path:
        return self.folder / f"mined_round{round_index}.npz"

    def save_mined(self, round_index: int, windows: np.ndarray, stats: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, windows=windows, stats=np.frombuffer(json.dumps(stats).encode(), np.uint8))
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._mined_path(round_index), buffer.getvalue())

    def load_mined(self, round_index: int) -> tuple[np.ndarray, dict[str, Any]] | None:
        """A round's mined windows and statistics when this checkpoint has them."""
        path = self._mined_path(round_index)
        if not path.is_file():
            return None
        with np.load(path) as stored:
            return stored["windows"], json.loads(bytes(stored["stats"]).decode())

    def drop_mined(self) -> None:
        """Remove mined windows left by another run (a checkpoint of another config, or none):
        a finished run keeps its own, since a continuation with more rounds trains on them."""
        for path in self.folder.glob("mined_round*.npz"):
            path.unlink()
