"""A training run's configuration (the keys of its TOML file), checked when it is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kws.features import FeatureConfig
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.core.fit import EXAMPLES, ValidationConfig
from training.core.mining import MiningConfig
from training.core.sequences import SequenceConfig
from training.core.toml_config import read_toml
from training.data.augment import SpecMasks

FORMS = ("window", "streaming")


@dataclass(frozen=True)
class ClipSelection:
    """The ``[train.select]`` table: which clips of a wake-word corpus to train on (all of them
    by default); for ablations, such as training on espeak-ng and flite voices only, or
    without the clips cut from real recordings."""

    engines: tuple[str, ...] = ()
    """TTS engines whose clips are kept (empty: every engine); clips without a voice stay."""
    leave_out: tuple[str, ...] = ()
    """Kinds of clip left out, e.g. ``["recorded"]`` (training.data.corpus kinds)."""

    def __post_init__(self) -> None:
        from training.data.tts import ENGINES

        object.__setattr__(self, "engines", tuple(self.engines))
        object.__setattr__(self, "leave_out", tuple(self.leave_out))
        unknown = sorted(set(self.engines) - set(ENGINES))
        if unknown:
            raise ValueError(f"[train.select] engines: unknown {unknown}; known: {list(ENGINES)}")

    @property
    def everything(self) -> bool:
        return not self.engines and not self.leave_out


@dataclass(frozen=True)
class TrainConfig:
    """One training run (keys of the TOML file)."""

    name: str
    """Model name in metadata and events, e.g. 'hey_jarvis'."""
    corpus: str
    """Folder written by ``python -m training.data generate`` or ``commands``, or Speech
    Commands v2 itself. A relative path is taken from the current directory (run commands
    from the checkout); an absolute one inside it is kept relative
    (:func:`kws.paths.portable_path`), so the config recorded in results and metadata reads
    the same in every clone."""
    model: str = "crnn"
    params: dict[str, Any] = field(default_factory=dict)
    """The model family's config values (for crnn: conv_filters, kernel, stride, ...)."""
    features: dict[str, Any] = field(default_factory=dict)
    """FeatureConfig values (defaults: 40 log-mel filters, 25 ms / 10 ms)."""
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0
    spec_augment: SpecMasks | None = field(default_factory=SpecMasks)
    """SpecAugment masks on training examples: ``true`` (two time masks of up to 10 frames, two
    filter masks of up to 8), ``false`` (none) or a table of :class:`SpecMasks` keys."""
    smoothing_s: float = 0.1
    refractory_s: float = 1.5
    threshold: float = 0.5
    """Default detection threshold until the benchmark calibrates one for a target FA/hr."""
    quantizations: tuple[str, ...] = ("float32", "int8")
    forms: tuple[str, ...] = FORMS
    """Export forms: 'window' (the last T frames every S) and/or 'streaming' (S frames + state)."""
    silence_share: float = 0.1
    """Speech Commands layouts: ``_silence_`` windows per split, as a share of its clips."""
    unknown_share: float = 0.0
    """Speech Commands layouts: keep a seeded ``unknown_share`` x (command clips) of each split's
    ``_unknown_`` clips, as TensorFlow's recipe keeps ``unknown_percentage`` = 10 % (0: keep
    them all; the real v2 dataset has three times as many other words as commands)."""
    examples: str = "clips"
    """'clips' (one window per clip, state from zero) or 'sequences' (clips end to end, a label
    at every step, state carried as the runtime carries it; training.core.sequences)."""
    weight_average: float = 0.0
    """Decay per update of a moving average of the weights that validation scores, the
    checkpoint keeps and the export ships (training.core.weight_average); 0: the raw weights.
    0.999 averages over the last ~1,000 updates."""
    sequences: SequenceConfig = field(default_factory=SequenceConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)
    select: ClipSelection = field(default_factory=ClipSelection)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        reject_unknown_keys("training config", data, field_names(cls))
        values = dict(data)
        for key in ("quantizations", "forms"):
            if key in values:
                values[key] = tuple(values[key])
        if "corpus" in values:
            values["corpus"] = portable_path(values["corpus"])
        tables = {"sequences": SequenceConfig, "validation": ValidationConfig}
        for key, table in {**tables, "mining": MiningConfig, "select": ClipSelection}.items():
            if isinstance(values.get(key), dict):
                reject_unknown_keys(f"[train.{key}]", values[key], field_names(table))
                values[key] = table(**values[key])
        if "spec_augment" in values:
            values["spec_augment"] = spec_masks(values["spec_augment"])
        if values.get("examples", "clips") not in EXAMPLES:
            raise ValueError(f"examples must be one of {EXAMPLES}, got {values['examples']!r}")
        if not 0.0 <= values.get("weight_average", 0.0) < 1.0:
            decay = values["weight_average"]
            raise ValueError(f"weight_average must be within [0, 1), got {decay}")
        if values.get("unknown_share", 0.0) < 0:
            raise ValueError(f"unknown_share must be >= 0, got {values['unknown_share']}")
        unknown = set(values.get("forms", ())) - set(FORMS)
        if unknown:
            raise ValueError(f"forms must be among {FORMS}, got {sorted(unknown)}")
        return cls(**values)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)


def spec_masks(value: Any) -> SpecMasks | None:
    """``spec_augment`` as written in a recipe (true, false, a table; or a run's saved config,
    where it is a table or null) as the masks training applies."""
    if value is None or value is False:
        return None
    if value is True:
        return SpecMasks()
    if isinstance(value, SpecMasks):
        return value
    if isinstance(value, dict):
        reject_unknown_keys("[train.spec_augment]", value, field_names(SpecMasks))
        return SpecMasks(**value)
    raise ValueError(f"spec_augment must be true, false or a table of {field_names(SpecMasks)}")


def load_config(path: Path, overrides: list[str]) -> TrainConfig:
    return TrainConfig.from_dict(read_toml(path, overrides, "training config"))
