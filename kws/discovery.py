"""MQTT topic layout and Home Assistant discovery payloads, as pure functions of the models.

Every event goes to ``<prefix>/<type>`` or, when it names a model, ``<prefix>/<type>/<model>``;
``<prefix>/availability`` says ``online`` or ``offline``. Home Assistant finds one ``event``
entity per keyword model (its event types are the model's keywords) and one ``sensor`` per
environment model under ``<discovery_prefix>/<component>/<node id>/<model>/config``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kws.environment import UNKNOWN
from kws.events import Event
from kws.metadata import ModelMetadata

AVAILABILITY = "availability"
ONLINE, OFFLINE = "online", "offline"
EVENT_TEMPLATE = "{{ dict(value_json, event_type=value_json.keyword) | to_json }}"
"""Home Assistant's event entity wants ``event_type`` in the payload: the detection's keyword;
the other fields of the detection become the event's attributes."""

ModelInfo = tuple[str, ModelMetadata]
"""A model's name in events (see kws.pipeline.unique_names) and its metadata."""


def slug(name: str) -> str:
    """``name`` as one topic level and id: characters outside [A-Za-z0-9_-] become '_'
    (``hey_jarvis#2`` -> ``hey_jarvis_2``; '#', '+' and '/' are not allowed in a topic level)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


def check_prefix(prefix: str, what: str = "MQTT prefix") -> str:
    """``prefix`` if it is usable as the start of topic names, else ValueError saying why."""
    if not prefix or prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"{what} {prefix!r} must be non-empty, without a leading or trailing /")
    if any(c in prefix for c in "#+\0"):
        raise ValueError(f"{what} {prefix!r} must not contain '#', '+' or NUL")
    return prefix


def node_id(prefix: str) -> str:
    """The Home Assistant node id (and device identifier) of a publisher: its prefix as a slug."""
    return slug(prefix.replace("/", "_"))


def event_topic(prefix: str, event: Event) -> str:
    """Where ``event`` is published: ``<prefix>/<type>[/<model>]``."""
    model = getattr(event, "model", None)
    return f"{prefix}/{event.type}" if model is None else f"{prefix}/{event.type}/{slug(model)}"


def availability_topic(prefix: str) -> str:
    return f"{prefix}/{AVAILABILITY}"


def device_info(prefix: str, models: Sequence[ModelInfo], version: str) -> dict[str, Any]:
    """The Home Assistant device all entities belong to: the models it runs, from metadata."""
    described = ", ".join(f"{name} ({md.task}, {md.quantization})" for name, md in models)
    return {
        "identifiers": [node_id(prefix)],
        "name": f"kws {prefix.rsplit('/', 1)[-1]}",
        "manufacturer": "kws",
        "model": f"keyword spotter: {described}" if described else "keyword spotter",
        "sw_version": version,
    }


def _common(prefix: str, name: str, device: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "name": name.replace("_", " "),
        "unique_id": f"{node_id(prefix)}_{slug(name)}",
        "availability_topic": availability_topic(prefix),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": device,
        "origin": {"name": "kws", "sw_version": version},
    }


def keyword_entity(
    prefix: str, name: str, md: ModelMetadata, device: dict[str, Any], version: str
) -> dict[str, Any]:
    """An ``event`` entity: fires with event type = the keyword for each detection."""
    return {
        **_common(prefix, name, device, version),
        "state_topic": f"{prefix}/detection/{slug(name)}",
        "event_types": list(md.keywords),
        "value_template": EVENT_TEMPLATE,
        "icon": "mdi:account-voice",
    }


def environment_entity(
    prefix: str, name: str, md: ModelMetadata, device: dict[str, Any], version: str
) -> dict[str, Any]:
    """A ``sensor`` entity whose state is the environment label (an enum of the model's labels
    and ``unknown``); the whole environment event is its attributes."""
    topic = f"{prefix}/environment/{slug(name)}"
    options = [*md.labels, *([] if UNKNOWN in md.labels else [UNKNOWN])]
    return {
        **_common(prefix, name, device, version),
        "state_topic": topic,
        "value_template": "{{ value_json.label }}",
        "json_attributes_topic": topic,
        "device_class": "enum",
        "options": options,
        "icon": "mdi:home-sound-in",
    }


COMPONENTS = {"keyword": ("event", keyword_entity), "environment": ("sensor", environment_entity)}
"""Model task -> (Home Assistant component, entity config); other tasks have no entity."""


def discovery_messages(
    prefix: str, discovery_prefix: str, models: Sequence[ModelInfo], version: str
) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, config payload) for every model with an entity, to publish retained."""
    device = device_info(prefix, models, version)
    out = []
    for name, md in models:
        if md.task not in COMPONENTS:
            continue
        component, entity = COMPONENTS[md.task]
        topic = f"{discovery_prefix}/{component}/{node_id(prefix)}/{slug(name)}/config"
        out.append((topic, entity(prefix, name, md, device, version)))
    return out
