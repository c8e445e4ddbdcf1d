"""The one exception type users see: a one-line message naming the file and the problem."""

from __future__ import annotations


class KwsError(Exception):
    """A problem with user input (a file, a device, an option) that the CLI reports in one line.

    The CLI prints ``kws: error: <message>`` and exits with status 2; the Python API raises it.
    """


class AudioFileError(KwsError):
    """An audio file that cannot be read as audio (not WAV, truncated, unsupported encoding)."""


class EmptyAudioError(AudioFileError):
    """A well-formed audio file that holds no samples (packages ship a few such files)."""


class ModelError(KwsError):
    """A model file that cannot be used (missing, truncated, no metadata, metadata vs tensors)."""


class DeviceError(KwsError):
    """No usable audio input device (no PortAudio, no such device, device refused the format)."""
