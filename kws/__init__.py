"""kws: on-device keyword spotting — streaming frontend, self-describing TFLite models, events.

The public API is imported lazily so that ``import kws`` stays cheap on a Raspberry Pi::

    from kws import Pipeline, PipelineConfig, load_model, open_source
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "FeatureConfig": "kws.features",
    "StreamingFrontend": "kws.features",
    "compute_features": "kws.features",
    "ModelMetadata": "kws.metadata",
    "Model": "kws.model",
    "load_model": "kws.model",
    "Pipeline": "kws.pipeline",
    "PipelineConfig": "kws.pipeline",
    "Detection": "kws.events",
    "Score": "kws.events",
    "Environment": "kws.events",
    "Status": "kws.events",
    "Event": "kws.events",
    "open_source": "kws.audio",
    "KwsError": "kws.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kws' has no attribute {name!r}")
