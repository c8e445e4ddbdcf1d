"""Training data: dataset loaders, the built-in TTS corpus generator, augmentation, evaluation
streams and the on-disk feature cache. Nothing here downloads anything."""
