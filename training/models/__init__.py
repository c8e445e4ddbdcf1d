"""Model builders, each registered by name in :mod:`training.models.registry`.

Importing this package registers every built-in model family.
"""

from training.models import crnn as crnn
from training.models import speaker_encoder as speaker_encoder
from training.models.registry import MODELS, ModelSpec, config_from_dict, get_model, spec_for_config

__all__ = ["MODELS", "ModelSpec", "config_from_dict", "get_model", "spec_for_config"]
