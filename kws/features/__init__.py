"""Feature frontend: one implementation of MFCC and log-mel features, batch and streaming."""

from kws.features.config import FeatureConfig
from kws.features.frontend import Frontend, StreamingFrontend, compute_features

__all__ = ["FeatureConfig", "Frontend", "StreamingFrontend", "compute_features"]
