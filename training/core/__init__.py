"""What the training commands are built of: the run config, reading a corpus into examples, the
fitting loop (sequences, validation streams, mining), TFLite export, recipes and the ship rule.

Nothing here is run with ``python -m``; the commands at the top of :mod:`training` are.
"""
