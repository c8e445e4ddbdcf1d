"""Enrolled speakers: one versioned JSON file for the household, written atomically.

The file lives at ``$XDG_DATA_HOME/kws/speakers.json`` (default
``~/.local/share/kws/speakers.json``). Each profile holds the mean unit embedding of its
enrollment utterances and the ``model_id`` of the speaker model that made it: embeddings of
different models are not comparable, so a profile is refused by any other model. A file that
cannot be read as this format is reported and never overwritten.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.schema import reject_unknown_keys
from kws.speaker import cosine, l2_normalize

FORMAT = "kws-speakers"
SCHEMA_VERSION = 1


class ProfileError(KwsError):
    """A profile file that cannot be used (corrupt, foreign, or made with another model)."""


def default_path() -> Path:
    """``$XDG_DATA_HOME/kws/speakers.json``, or ``~/.local/share/kws/speakers.json``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kws" / "speakers.json"


@dataclass(frozen=True)
class Profile:
    """One enrolled person."""

    name: str
    model_id: str
    """:attr:`kws.speaker.SpeakerEncoder.model_id` of the model that made ``embedding``."""
    embedding: tuple[float, ...]
    """Mean of the utterances' unit embeddings, renormalized to unit length."""
    utterances: int
    created: str
    """UTC time of enrollment, ISO 8601."""

    @classmethod
    def from_embeddings(cls, name: str, model_id: str, embeddings: Sequence[np.ndarray]) -> Profile:
        """A profile from the embeddings of ``name``'s enrollment utterances."""
        if not name.strip():
            raise ValueError("a profile needs a non-empty name")
        if not len(embeddings):
            raise ValueError(f"profile {name!r}: no enrollment utterances")
        mean = l2_normalize(np.mean(l2_normalize(np.stack(embeddings)), axis=0))
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return cls(name, model_id, tuple(float(v) for v in mean), len(embeddings), created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model_id": self.model_id,
            "embedding": [round(v, 7) for v in self.embedding],
            "utterances": self.utterances,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Profile:
        if not isinstance(data, dict):
            raise ValueError("a profile must be an object")
        keys = {"name", "model_id", "embedding", "utterances", "created"}
        reject_unknown_keys("profile", data, keys)
        missing = sorted(keys - set(data))
        if missing:
            raise ValueError(f"profile is missing {', '.join(missing)}")
        embedding = data["embedding"]
        if not isinstance(embedding, list) or not embedding:
            raise ValueError(f"profile {data['name']!r}: embedding must be a non-empty list")
        return cls(
            name=str(data["name"]),
            model_id=str(data["model_id"]),
            embedding=tuple(float(v) for v in embedding),
            utterances=int(data["utterances"]),
            created=str(data["created"]),
        )


def load_profiles(path: str | os.PathLike[str] | None = None) -> list[Profile]:
    """The profiles in ``path`` (default :func:`default_path`); a missing file is no profiles.

    Raises :class:`ProfileError` naming the file when it is not a kws speaker file of a known
    version or a profile in it is malformed.
    """
    path = Path(path) if path is not None else default_path()
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read speaker profiles ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(
            f"{path}: not a kws speaker profile file (invalid JSON: {exc}); fix or move it, "
            "it will not be overwritten"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProfileError(
            f'{path}: not a kws speaker profile file (no "format": "{FORMAT}"); '
            "fix or move it, it will not be overwritten"
        )
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ProfileError(
            f"{path}: speaker profile schema_version {data.get('schema_version')!r} is not "
            f"supported (this kws reads {SCHEMA_VERSION})"
        )
    try:
        reject_unknown_keys("speaker file", data, {"format", "schema_version", "profiles"})
        if not isinstance(data.get("profiles"), list):
            raise ValueError("'profiles' must be a list")
        profiles = [Profile.from_dict(p) for p in data["profiles"]]
    except (ValueError, TypeError) as exc:
        raise ProfileError(f"{path}: corrupt speaker profile file ({exc})") from None
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise ProfileError(f"{path}: corrupt speaker profile file (a name appears twice)")
    return profiles


def save_profiles(profiles: Iterable[Profile], path: str | os.PathLike[str] | None = None) -> Path:
    """Write the whole household atomically (a crash leaves the previous file intact)."""
    path = Path(path) if path is not None else default_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProfileError(f"{path.parent}: cannot create folder ({exc.strerror})") from None
    data = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "profiles": [p.to_dict() for p in profiles],
    }
    atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())
    return path


def check_model(profiles: Iterable[Profile], model_id: str, path: str | os.PathLike[str]) -> None:
    """Refuse profiles enrolled with a model other than ``model_id`` (their embeddings differ)."""
    for profile in profiles:
        if profile.model_id != model_id:
            raise ProfileError(
                f"{path}: profile {profile.name!r} was enrolled with speaker model "
                f"{profile.model_id!r}, not {model_id!r}; re-enroll it with this model "
                f"(or remove it with --remove {profile.name})"
            )


@dataclass(frozen=True)
class Match:
    """Who spoke: the best-scoring enrolled name (None if below threshold or nobody enrolled)."""

    name: str | None
    score: float | None
    """Similarity with the best profile (the speaker model's score: cosine, or S-normalized
    cosine for a model with a cohort); None when nobody is enrolled."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score}


def identify(
    embedding: np.ndarray,
    profiles: Sequence[Profile],
    threshold: float,
    score: Callable[[np.ndarray, np.ndarray], float] = cosine,
) -> Match:
    """Score ``embedding`` against every profile (``score(profile, embedding)``, the speaker
    model's :meth:`~kws.speaker.SpeakerEncoder.score`); accept the best if >= threshold."""
    if not profiles:
        return Match(None, None)
    scores = [score(np.asarray(p.embedding), embedding) for p in profiles]
    best = int(np.argmax(scores))
    name = profiles[best].name if scores[best] >= threshold else None
    return Match(name, scores[best])
