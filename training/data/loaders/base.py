"""The record every dataset loader yields, lazy audio loading, and the skip-and-warn bookkeeping.

Loaders only list files and parse metadata; audio is decoded when :func:`load` (one example,
raising) or :func:`iter_audio` (many, skipping failures) is called. Problems in a dataset that
exists (a listed file missing, a bad metadata row, a file that will not decode) are counted and
reported in ONE :class:`DatasetWarning` per pass, so one broken file never stops a training run;
a root that is not the expected dataset at all is a one-line :class:`~kws.errors.KwsError`.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile

from kws.errors import AudioFileError, EmptyAudioError, KwsError
from kws.wavfile import WavAudio, read_wav, to_mono_int16
from training.data.reserved import refuse_reserved

SAMPLE_RATE = 16000
"""Hz, the runtime's rate and the default for :func:`load`."""

SPLITS = ("train", "validation", "test")
"""The fixed-split names; fold datasets use ``"fold<k>"`` instead (see :class:`Example`)."""

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"})
"""File endings the generic loaders pick up (lower case); all but WAV are decoded by soundfile."""


@dataclass(frozen=True)
class Example:
    """One labelled audio file (or a span of one) from a dataset on disk; no audio is held.

    Split convention: datasets with a published train/validation/test split set ``split`` to one
    of :data:`SPLITS` and ``fold`` to None. Cross-validation datasets (ESC-50, UrbanSound8K) set
    ``split`` to ``"fold<k>"`` and ``fold`` to ``k`` (1-based, as published); use
    :func:`assign_folds` to turn folds into train/validation/test for one run.
    """

    path: Path
    """The audio file."""
    label: str
    """The class: a word, a sound category, or a speaker id for speaker datasets."""
    split: str
    """``"train"``, ``"validation"``, ``"test"``, or ``"fold<k>"`` for fold datasets."""
    fold: int | None = None
    """1-based cross-validation fold for fold datasets, else None."""
    speaker: str | None = None
    """Speaker id where the dataset names one (Speech Commands hash, LibriSpeech/VoxCeleb id)."""
    start_s: float | None = None
    """Seconds into ``path`` where the example starts; None means the start of the file."""
    end_s: float | None = None
    """Seconds into ``path`` where the example ends; None means the end of the file."""
    transcript: str | None = None
    """What is said, where the dataset ships it (LibriSpeech)."""


class DatasetWarning(UserWarning):
    """Entries of a dataset were skipped (missing, unreadable or undecodable); the count says how
    many. A category of its own so callers can filter it or turn it into an error."""


class SkipLog:
    """Counts skipped entries by reason during one pass and warns once, on exit, if any were.

    Used as a context manager around a loader's generator body, so the warning also fires when
    the consumer stops early (the generator is closed) with whatever was counted so far.
    """

    def __init__(self, dataset: str, root: Path | str) -> None:
        self.dataset = dataset
        self.root = root
        self.reasons: Counter[str] = Counter()
        self.first: str | None = None

    def skip(self, reason: str, detail: str) -> None:
        """Record one skipped entry; ``reason`` is a short plural noun phrase for the summary."""
        self.reasons[reason] += 1
        if self.first is None:
            self.first = detail

    def __enter__(self) -> SkipLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        total = sum(self.reasons.values())
        if total:
            parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.reasons.items()))
            message = (
                f"{self.dataset} at {self.root}: skipped {total} entries ({parts}); "
                f"first: {self.first}"
            )
            warnings.warn(message, DatasetWarning, stacklevel=2)


def require_dir(root: str | os.PathLike[str], dataset: str) -> Path:
    """Return ``root`` as a Path, or raise a one-line KwsError if it is not a folder or is (or
    lies inside) a folder named after a reserved dataset (:mod:`training.data.reserved`)."""
    path = Path(root)
    for part in path.absolute().parts:
        refuse_reserved(part, f"the {dataset} loader")
    if not path.is_dir():
        problem = "no such folder" if not path.exists() else "not a folder"
        raise KwsError(f"{path}: {problem} (expected a {dataset} dataset)")
    return path


def require_file(root: Path, relative: str, dataset: str) -> Path:
    """Return ``root / relative``, or raise a one-line KwsError: ``root`` is not ``dataset``."""
    path = root / relative
    if not path.is_file():
        raise KwsError(f"{root}: not a {dataset} folder (no {relative})")
    return path


def read_csv(path: Path, columns: tuple[str, ...], dataset: str) -> list[dict[str, str]]:
    """Read a metadata CSV whose header must include ``columns``; a bad header is a KwsError."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise KwsError(f"{path}: not {dataset} metadata (no column {missing[0]!r})")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise KwsError(f"{path}: cannot read {dataset} metadata ({e})") from None


_SOUNDFILE_ENCODINGS = {
    "PCM_S8": "pcm8",
    "PCM_U8": "pcm8",
    "PCM_16": "pcm16",
    "PCM_24": "pcm24",
    "PCM_32": "pcm32",
    "FLOAT": "float32",
    "DOUBLE": "float64",
}


_HEADERLESS = {".gsm": {"format": "RAW", "subtype": "GSM610", "samplerate": 8000, "channels": 1}}
"""Headerless formats, read with fixed parameters: ``.gsm`` is Asterisk's raw GSM 6.10 prompt
format (8 kHz mono)."""


def _read_soundfile(path: Path) -> WavAudio:
    try:
        with soundfile.SoundFile(path, **_HEADERLESS.get(path.suffix.lower(), {})) as f:
            encoding = _SOUNDFILE_ENCODINGS.get(f.subtype, f.subtype.lower())
            frames = -1 if f.seekable() else f.frames  # headerless files cannot seek
            samples = f.read(frames, dtype="float32", always_2d=True)
            rate, channels = f.samplerate, f.channels
    except (RuntimeError, OSError, ValueError, TypeError) as e:  # LibsndfileError is a RuntimeError
        raise AudioFileError(f"{path}: cannot decode ({' '.join(str(e).split())})") from None
    if samples.shape[0] == 0:
        raise EmptyAudioError(f"{path}: contains no audio samples")
    return WavAudio(samples, rate, channels, encoding)


def read_audio(path: str | os.PathLike[str]) -> WavAudio:
    """Decode any audio file: WAV with :func:`kws.wavfile.read_wav`, falling back to soundfile
    (libsndfile: RF64, ADPCM, …); FLAC, Ogg and the rest with soundfile. Raises AudioFileError."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        return _read_soundfile(path)
    try:
        return read_wav(path)
    except AudioFileError as wav_error:
        if not path.is_file():
            raise
        try:
            return _read_soundfile(path)
        except AudioFileError:
            raise wav_error from None


def _crop(audio: WavAudio, start_s: float | None, end_s: float | None) -> WavAudio:
    if start_s is None and end_s is None:
        return audio
    start = round((start_s or 0.0) * audio.sample_rate)
    stop = None if end_s is None else round(end_s * audio.sample_rate)
    return dataclasses.replace(audio, samples=audio.samples[start:stop])


def load(example: Example, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode one example as 1-D int16 mono at ``sample_rate`` Hz, cropped to its span.

    Raises :class:`~kws.errors.AudioFileError` (a KwsError) if the file is missing, cannot be
    decoded, or the span is empty; :func:`iter_audio` skips such examples instead.
    """
    audio = _crop(read_audio(example.path), example.start_s, example.end_s)
    if audio.samples.shape[0] == 0:
        span = f"{example.start_s}-{example.end_s} s"
        raise AudioFileError(f"{example.path}: no audio in the span {span}")
    return to_mono_int16(audio, sample_rate)


def iter_audio(
    examples: Iterable[Example], sample_rate: int = SAMPLE_RATE
) -> Iterator[tuple[Example, np.ndarray]]:
    """Yield ``(example, int16 audio)`` for each example that decodes; the rest are skipped and
    counted in one :class:`DatasetWarning` naming the folder they share."""
    log = SkipLog("audio", "")
    with log:
        for example in examples:
            try:
                audio = load(example, sample_rate)
            except AudioFileError as e:
                path = os.path.abspath(example.path)
                log.root = os.path.commonpath([log.root, path]) if log.first else path
                log.skip("files that failed to decode", str(e))
                continue
            yield example, audio


def assign_folds(
    examples: Iterable[Example], test_fold: int, validation_fold: int | None = None
) -> Iterator[Example]:
    """Turn a fold dataset into train/validation/test for one cross-validation run.

    Examples in ``test_fold`` get split "test", in ``validation_fold`` "validation", the rest
    "train"; ``fold`` keeps the original fold. An example without a fold is a ValueError.
    """
    if test_fold == validation_fold:
        raise ValueError(f"test and validation fold are both {test_fold}")
    for example in examples:
        if example.fold is None:
            raise ValueError(f"{example.path} has no fold (split {example.split!r})")
        if example.fold == test_fold:
            split = "test"
        elif example.fold == validation_fold:
            split = "validation"
        else:
            split = "train"
        yield dataclasses.replace(example, split=split)
