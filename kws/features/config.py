"""`FeatureConfig`: the frozen description of a feature frontend, shared by training and runtime.

Field names and semantics follow python_speech_features (``winlen``, ``winstep``, ``nfft``,
``nfilt``, ``lowfreq``, ``highfreq``, ``preemph``, ``numcep``, ``ceplifter``, ``appendEnergy``),
so that its ``mfcc``/``logfbank`` are a usable oracle.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kws.schema import field_names, reject_unknown_keys

WINDOWS = ("rectangular", "hamming", "hann")

# python_speech_features replaces zero energies with float64 eps before the log.
DEFAULT_LOG_FLOOR = float(np.finfo(np.float64).eps)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes feature frames (one row per hop).

    ``numcep == 0`` selects log-mel filterbank energies (``nfilt`` features per frame);
    ``numcep > 0`` selects MFCCs (``numcep`` features per frame).
    """

    sample_rate: int = 16000
    """Samples per second (Hz) of the audio the frontend expects."""
    winlen: float = 0.025
    """Analysis window length in seconds."""
    winstep: float = 0.01
    """Hop between successive windows in seconds."""
    nfft: int = 512
    """FFT size in samples; frames shorter than this are zero-padded."""
    nfilt: int = 40
    """Number of triangular mel filters."""
    lowfreq: float = 0.0
    """Lowest filterbank edge in Hz."""
    highfreq: float | None = None
    """Highest filterbank edge in Hz; None means sample_rate / 2."""
    preemph: float = 0.97
    """Pre-emphasis coefficient (0 disables it)."""
    winfunc: str = "rectangular"
    """Analysis window: 'rectangular' (python_speech_features' default), 'hamming' or 'hann'."""
    log_floor: float = DEFAULT_LOG_FLOOR
    """Energies below this are raised to it before the log."""
    numcep: int = 0
    """Number of cepstral coefficients; 0 means log-mel filterbank features."""
    ceplifter: int = 22
    """Cepstral lifter parameter (MFCC only; 0 disables it)."""
    append_energy: bool = True
    """MFCC only: replace c0 with the log of the frame's total energy."""

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        if not 0 < self.winstep <= self.winlen:
            problems.append(f"need 0 < winstep <= winlen, got {self.winstep} and {self.winlen}")
        if self.nfft < self.frame_length:
            problems.append(
                f"nfft {self.nfft} is shorter than the window ({self.frame_length} samples)"
            )
        if self.nfilt < 1:
            problems.append(f"nfilt must be >= 1, got {self.nfilt}")
        high = self.high_hz
        if not 0 <= self.lowfreq < high <= self.sample_rate / 2:
            problems.append(
                f"need 0 <= lowfreq < highfreq <= sample_rate/2, got {self.lowfreq}, {high}"
            )
        if self.winfunc not in WINDOWS:
            problems.append(f"winfunc must be one of {WINDOWS}, got {self.winfunc!r}")
        if not 0 <= self.numcep <= self.nfilt:
            problems.append(f"numcep must be between 0 and nfilt ({self.nfilt}), got {self.numcep}")
        if self.log_floor <= 0:
            problems.append(f"log_floor must be positive, got {self.log_floor}")
        if problems:
            raise ValueError("invalid FeatureConfig: " + "; ".join(problems))

    @property
    def frame_length(self) -> int:
        """Window length in samples (rounded half up, as python_speech_features does)."""
        return _round_half_up(self.winlen * self.sample_rate)

    @property
    def frame_step(self) -> int:
        """Hop in samples."""
        return _round_half_up(self.winstep * self.sample_rate)

    @property
    def high_hz(self) -> float:
        return self.sample_rate / 2 if self.highfreq is None else self.highfreq

    @property
    def num_features(self) -> int:
        """Values per frame: numcep for MFCC, nfilt for log-mel."""
        return self.numcep if self.numcep else self.nfilt

    @property
    def kind(self) -> str:
        return "mfcc" if self.numcep else "logmel"

    def num_frames(self, num_samples: int) -> int:
        """Complete frames in a signal of ``num_samples`` samples (no padding at the end)."""
        if num_samples < self.frame_length:
            return 0
        return (num_samples - self.frame_length) // self.frame_step + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build from a dict, rejecting unknown keys (missing keys take their defaults)."""
        reject_unknown_keys("FeatureConfig", data, field_names(cls))
        return cls(**data)
