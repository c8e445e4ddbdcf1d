"""The wake words a server offers, taken from its keyword models' metadata, and the ``info``
event that lists them (one Wyoming wake model per keyword a model fires)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wyoming.info import Attribution, Info, WakeModel, WakeProgram

from kws import __version__
from kws.errors import KwsError
from kws.metadata import spoken
from kws.model import Model
from kws.pipeline import unique_names

ATTRIBUTION = Attribution(name="kws", url="")


@dataclass(frozen=True)
class WakeWord:
    """One keyword as Wyoming clients name it."""

    name: str
    """What ``info`` lists, ``detect`` selects and ``detection`` reports: the model's event
    name, or ``model:keyword`` for a model with several keywords."""
    model: int
    """Index of the model in the server's model list."""
    keyword: str
    """The model's label that fires it."""
    phrase: str
    """What to say: ``training.phrases[label]`` in the metadata, else the label with spaces."""
    languages: tuple[str, ...]
    """``training.languages`` in the metadata (empty when the model does not say)."""


def wake_words(models: Sequence[Model]) -> list[WakeWord]:
    """Every keyword of every model, in model and label order; refuses non-keyword models."""
    words = []
    for index, (model, name) in enumerate(
        zip(models, unique_names([m.metadata.name for m in models]), strict=True)
    ):
        md = model.metadata
        if md.task != "keyword":
            raise KwsError(f"{model.path}: a {md.task} model cannot be a wake word")
        phrases = md.training.get("phrases")
        phrases = phrases if isinstance(phrases, dict) else {}
        languages = md.training.get("languages")
        languages = languages if isinstance(languages, list) else []
        for keyword in md.keywords:
            words.append(
                WakeWord(
                    name=name if len(md.keywords) == 1 else f"{name}:{keyword}",
                    model=index,
                    keyword=keyword,
                    phrase=str(phrases.get(keyword, spoken(keyword))),
                    languages=tuple(str(x) for x in languages),
                )
            )
    return words


def info(words: Sequence[WakeWord]) -> Info:
    """The ``info`` answer to ``describe``: one wake program, one wake model per keyword."""
    models = [
        WakeModel(
            name=word.name,
            attribution=ATTRIBUTION,
            installed=True,
            description=word.phrase,
            version=__version__,
            languages=list(word.languages),
            phrase=word.phrase,
        )
        for word in words
    ]
    program = WakeProgram(
        name="kws",
        attribution=ATTRIBUTION,
        installed=True,
        description="kws keyword spotting (streaming TFLite models with embedded metadata)",
        version=__version__,
        models=models,
    )
    return Info(wake=[program])
