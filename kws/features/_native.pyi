"""Type stub of the compiled frontend kernel (kws/features/_native.c)."""

from typing import Any

import numpy as np

class Kernel:
    pending: int
    def __init__(
        self,
        length: int,
        step: int,
        nfft: int,
        preemph: float,
        floor: float,
        window: np.ndarray | None,
        filters: np.ndarray,
        dct: np.ndarray | None,
        with_energy: bool,
    ) -> None: ...
    def push(self, samples: Any, out: np.ndarray) -> int: ...
    def reset(self) -> None: ...
