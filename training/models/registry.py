"""The model registry: model name -> config class, builders and whether it can stream.

Families register themselves with :func:`register_model`; a sweep names a family and supplies a
dict of config values, so adding a model never means editing a chain of if/elif branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kws.schema import field_names, reject_unknown_keys
from training.core.toml_config import as_tuples

if TYPE_CHECKING:
    import keras

    from kws.metadata import StateTensor

WindowBuilder = Callable[..., "keras.Model"]
"""(config, num_features, num_labels, *, unroll=False) -> window model:
[batch, window_frames, F] -> scores. ``unroll=True`` emits recurrences step by step instead of
as a loop (same weights; full-int8 export needs it)."""
StreamingBuilder = Callable[[Any, "keras.Model"], "keras.Model"]
"""(config, trained window model) -> streaming model sharing its weights."""
StateNames = Callable[[Any], "tuple[StateTensor, ...]"]
"""config -> the streaming form's state tensors, paired by name."""
SequenceBuilder = Callable[[Any, int, int], "keras.Model"]
"""(config, num_features, num_labels) -> sequence model: [batch, frames, F] (any multiple of the
stride) -> [batch, frames / stride, labels], its j-th step the streaming form's j-th output from
zero state. Same layer names as the window model, so weights copy between the forms; training on
long sequences with it is training the model the runtime streams."""


@dataclass(frozen=True)
class ModelSpec:
    """One registered model family."""

    name: str
    config_cls: type
    """Frozen dataclass holding the family's hyper-parameters."""
    build: WindowBuilder
    build_streaming: StreamingBuilder | None = None
    """None when the family has no streaming form."""
    state_tensors: StateNames | None = None
    build_sequence: SequenceBuilder | None = None
    """None when the family cannot be trained on long sequences."""

    @property
    def streamable(self) -> bool:
        """True if the family can be exported as a streaming model (configs may still refuse)."""
        return self.build_streaming is not None


MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    config_cls: type,
    *,
    streaming: StreamingBuilder | None = None,
    state_tensors: StateNames | None = None,
    sequence: SequenceBuilder | None = None,
) -> Callable[[WindowBuilder], WindowBuilder]:
    """Decorator registering a window-model builder under ``name``."""
    if (streaming is None) != (state_tensors is None):
        raise ValueError(f"model {name!r}: streaming builder and state_tensors go together")

    def decorate(build: WindowBuilder) -> WindowBuilder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = ModelSpec(name, config_cls, build, streaming, state_tensors, sequence)
        return build

    return decorate


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS)) or "none"
        raise ValueError(f"unknown model {name!r} (registered: {known})") from None


def spec_for_config(config: object) -> ModelSpec:
    """The registered family whose config class ``config`` is an instance of."""
    for spec in MODELS.values():
        if type(config) is spec.config_cls:
            return spec
    raise ValueError(f"no registered model uses {type(config).__name__}")


def config_from_dict(name: str, values: dict[str, Any]) -> Any:
    """Build model ``name``'s config from TOML/JSON values, rejecting unknown keys.

    Lists become tuples, so ``kernel = [5, 8]`` in a file gives the tuple the dataclass holds.
    """
    cls = get_model(name).config_cls
    reject_unknown_keys(f"{name} config", values, field_names(cls))
    return cls(**as_tuples(values))


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Give every weighted layer of ``target`` the weights of ``source``'s layer of that name."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
