"""Speaker-encoder training: losses (triplet, center) and the ``python -m training.speaker`` run."""
