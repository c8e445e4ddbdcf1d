"""A Wyoming wake-word server for Home Assistant and wyoming-satellite (``python -m kws.wyoming``).

:class:`WyomingConfig` needs nothing beyond kws; the server itself (:mod:`kws.wyoming.server`:
``serve``, ``WyomingServer``) needs the ``wyoming`` package, the ``wyoming`` extra:
``pip install 'kws[wyoming]'``.
"""

from __future__ import annotations

from kws.wyoming.config import WyomingConfig

__all__ = ["INSTALL_HINT", "WyomingConfig"]

INSTALL_HINT = "the wyoming package is not installed: pip install 'kws[wyoming]'"
