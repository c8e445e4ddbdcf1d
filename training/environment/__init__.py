"""Environmental sound classification: train clip classifiers (VGG-, SqueezeNet-style, CRNN,
Dieleman 2014) on ESC-50-layout or UrbanSound8K data with fold cross-validation, and export the
window model the runtime's environment task runs.

``python -m training.environment CONFIG.toml --out DIR`` (the CLI is in ``__main__``; the
fold loop, training and export in :mod:`.run`).
"""
