"""Model builders, each registered by name in :mod:`training.models.registry`.

Importing this package registers every built-in model family.
"""

from training.models import crnn as crnn
from training.models import dieleman as dieleman
from training.models import dnn as dnn
from training.models import dscnn as dscnn
from training.models import speaker_encoder as speaker_encoder
from training.models import squeezenet as squeezenet
from training.models import vgg as vgg
from training.models.registry import MODELS, ModelSpec, config_from_dict, get_model, spec_for_config

__all__ = ["MODELS", "ModelSpec", "config_from_dict", "get_model", "spec_for_config"]
