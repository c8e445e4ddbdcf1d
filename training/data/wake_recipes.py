"""Wake-word recipes: which recipe a phrase uses, and the corpus its ``[corpus]`` table asks
for. ``training.wakeword`` and ``training.data generate`` both read them here, so the corpus one
renders alone is the corpus the other would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kws.schema import field_names, reject_unknown_keys
from training.core.recipes import load_recipe
from training.core.toml_config import as_tuples
from training.data.augment import AugmentConfig
from training.data.corpus import CorpusConfig

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "configs" / "wakeword.toml"
PHRASE_RECIPES = Path(__file__).resolve().parents[1] / "configs" / "wakewords"
"""Recipes for particular phrases (``<label>.toml``), picked by :func:`recipe_for`."""


def corpus_config(keyword: str, values: dict[str, Any]) -> CorpusConfig:
    """A CorpusConfig for ``keyword`` from the recipe's ``[corpus]`` table and its
    ``[corpus.augment]`` table (strict keys in both)."""
    values = dict(values)
    augment = values.pop("augment", {})
    if not isinstance(augment, dict):
        raise ValueError(f"[corpus.augment] must be a table of AugmentConfig keys, got {augment!r}")
    reject_unknown_keys("[corpus]", values, field_names(CorpusConfig) - {"keyword", "augment"})
    reject_unknown_keys("[corpus.augment]", augment, field_names(AugmentConfig))
    return CorpusConfig(
        keyword=keyword, augment=AugmentConfig(**as_tuples(augment)), **as_tuples(values)
    )


def recipe_for(phrase: str) -> Path:
    """The phrase's own recipe (configs/wakewords/<label>.toml) if the project has one, else
    the default: a phrase whose spelling misleads espeak-ng gets its pronunciation there."""
    own = PHRASE_RECIPES / f"{'_'.join(phrase.lower().split())}.toml"
    return own if own.is_file() else DEFAULT_RECIPE


def recipe_corpus(phrase: str, recipe: Path | None = None) -> CorpusConfig:
    """The corpus the phrase's recipe renders (:func:`recipe_for` unless ``recipe`` is given):
    the defaults of ``training.data generate``, so that rendering the corpus alone gives the
    corpus ``training.wakeword`` would."""
    return corpus_config(phrase, load_recipe(recipe or recipe_for(phrase), []).get("corpus", {}))
