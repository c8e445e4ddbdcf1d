"""Training side of kws: synthetic data, model builders, training and TFLite export.

Imports TensorFlow/Keras (the ``train`` extra); the runtime in ``kws`` never imports this package.
"""
