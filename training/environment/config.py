"""The environment training config: a frozen dataclass mapped from TOML, ``--set`` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.features import FeatureConfig
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.core.toml_config import read_toml

DATASETS = ("esc50", "urbansound8k")
QUANTIZATIONS = ("float32", "int8", "int8_weights")


@dataclass(frozen=True)
class EnvConfig:
    """One environment training run (keys of the TOML file)."""

    root: str
    """Dataset folder: ESC-50 layout (also the Debian corpus) or UrbanSound8K. A relative path
    is taken from the current directory (run commands from the checkout); an absolute one
    inside it is kept relative (:func:`kws.paths.portable_path`), so the config recorded in
    results and metadata reads the same in every clone."""
    name: str = "environment"
    """Model name in metadata and events."""
    dataset: str = "esc50"
    """'esc50' (5 folds, ESC-50 layout) or 'urbansound8k' (10 folds)."""
    model: str = "vgg"
    """A registered model family (vgg, squeezenet, crnn, dieleman)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The family's config values; ``window_frames`` sets the crop length, ``head`` the loss."""
    features: dict[str, Any] = field(default_factory=dict)
    """FeatureConfig values (defaults: 40 log-mel filters, 25 ms / 10 ms)."""
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 2e-3
    seed: int = 0
    test_folds: tuple[int, ...] = ()
    """Folds to hold out in turn (default: every fold of the dataset)."""
    crops_per_clip: int = 4
    """Random training crops of window_frames drawn per clip per epoch."""
    hop_frames: int = 50
    """Hop between a clip's evaluation crops, and the runtime's classification hop."""
    mixup_alpha: float = 0.2
    """Mixup's Beta(alpha, alpha) parameter; 0 turns mixup off."""
    spec_augment: bool = True
    background_copies: int = 2
    """Copies of each training clip mixed with a generated background (noise, music)."""
    snr_db: tuple[float, float] = (5.0, 25.0)
    """Range of the backgrounds' signal-to-noise ratio."""
    ambience_classes: tuple[str, ...] = ()
    """Classes whose training-fold clips (never the held-out fold's) serve as real backgrounds:
    each background copy is mixed with one of them (half the time, the other half with a
    generated one) instead of only generated noise and music."""
    loudness_dbfs: float | None = None
    """Bring every training clip's sounding part to this RMS level (dBFS) before mixing and
    the random gain, so that level differences between recording sources are not learned;
    held-out clips are scored at their own level, as the runtime hears them. Unset: off."""
    balanced: bool = False
    """Draw each epoch's training crops class-balanced (clips of rare classes more often)
    rather than crops_per_clip from every clip."""
    gain_db: tuple[float, float] = (-12.0, 12.0)
    """Random level change per training crop, dB: recordings from different sources differ in
    level more than in anything a class depends on."""
    channel_db: float = 0.0
    """Random channel per training crop (log-mel features only): a spectral tilt of up to
    +-channel_db dB from the lowest to the highest band and, for half the crops, the bands above
    a random cutoff (in the upper half) dropped to the crop's floor, as a band-limited recording
    has them: packages differ in microphones, equalisation and sample rate (some ship 11 kHz
    files). 0: off."""
    threshold: float = 0.3
    """Per-label threshold written into the metadata (smoothed score needed to report it)."""
    smoothing_s: float = 1.0
    """Seconds of outputs the runtime averages before thresholding."""
    quantizations: tuple[str, ...] = ("float32", "int8")
    cv_int8: bool = True
    """Also score each fold's held-out clips with the full-int8 export of that fold's model."""

    def __post_init__(self) -> None:
        problems = []
        if self.dataset not in DATASETS:
            problems.append(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        for key in ("epochs", "batch_size", "crops_per_clip", "hop_frames"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{key} must be a positive integer, got {value!r}")
        if not isinstance(self.background_copies, int) or self.background_copies < 0:
            problems.append(f"background_copies must be >= 0, got {self.background_copies!r}")
        if self.mixup_alpha < 0:
            problems.append(f"mixup_alpha must be >= 0, got {self.mixup_alpha}")
        if not 0.0 <= self.channel_db <= 40.0:
            problems.append(f"channel_db must be in [0, 40], got {self.channel_db}")
        if self.loudness_dbfs is not None and not -60.0 <= self.loudness_dbfs <= 0.0:
            problems.append(f"loudness_dbfs must be in [-60, 0], got {self.loudness_dbfs}")
        for key in ("snr_db", "gain_db"):
            value = getattr(self, key)
            if len(value) != 2 or value[0] > value[1]:
                problems.append(f"{key} must be (low, high), got {value!r}")
        if not 0.0 <= self.threshold <= 1.0:
            problems.append(f"threshold must be in [0, 1], got {self.threshold}")
        bad = [q for q in self.quantizations if q not in QUANTIZATIONS]
        if bad:
            problems.append(f"quantizations must be among {QUANTIZATIONS}, got {bad[0]!r}")
        if problems:
            raise ValueError("invalid environment config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvConfig:
        reject_unknown_keys("environment config", data, field_names(cls))
        values = dict(data)
        for key in ("test_folds", "snr_db", "gain_db", "quantizations", "ambience_classes"):
            if key in values:
                values[key] = tuple(values[key])
        if "root" in values:
            values["root"] = portable_path(values["root"])
        return cls(**values)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)

    def model_config(self) -> Any:
        """The model family's frozen config, checked against the features (names the key)."""
        from training.models.registry import config_from_dict

        config = config_from_dict(self.model, self.params)
        width_of = getattr(config, "input_width", None)
        features = self.feature_config()
        config.check_input(width_of(features) if width_of else features.num_features)
        if self.hop_frames > config.window_frames:
            raise ValueError(
                f"invalid environment config: hop_frames {self.hop_frames} exceeds the model's "
                f"window_frames {config.window_frames}"
            )
        return config


def load_config(path: Path, overrides: list[str]) -> EnvConfig:
    """Read a TOML config and apply ``key=value`` overrides (values parsed as TOML)."""
    data = read_toml(path, overrides, "environment config")
    try:
        config = EnvConfig.from_dict(data)
        config.model_config()
    except TypeError as exc:  # a missing required key
        raise KwsError(f"{path}: {exc}") from None
    except ValueError as exc:
        raise KwsError(f"{path}: {exc}") from None
    return config
