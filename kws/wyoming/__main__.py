"""``python -m kws.wyoming``: serve keyword models to Wyoming clients (Home Assistant,
wyoming-satellite) until SIGTERM or Ctrl-C. Problems the user can fix are one line on stderr
with exit status 2."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.schema import add_model_arguments
from kws.wyoming import INSTALL_HINT
from kws.wyoming.config import DEFAULT_URI, WyomingConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kws.wyoming",
        description="A Wyoming wake-word server: Home Assistant's Wyoming integration or a "
        "wyoming-satellite streams audio, the server answers with detections.",
        epilog="Errors: one line on stderr, exit status 2.",
    )
    parser.add_argument("--uri", help=f"tcp://HOST:PORT or unix:///PATH (default {DEFAULT_URI})")
    add_model_arguments(
        parser, "keyword model with embedded kws metadata; repeatable; each keyword is a wake word"
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="read the [wyoming] table of a TOML file"
    )
    parser.add_argument("--debug", action="store_true", help="log every connection and event")
    return parser


def config_from_args(args: argparse.Namespace) -> WyomingConfig:
    """The TOML ``[wyoming]`` table (if any) with the command line's values over it."""
    config = WyomingConfig.from_toml(args.config) if args.config else WyomingConfig()
    changes: dict[str, Any] = {}
    if args.uri is not None:
        changes["uri"] = args.uri
    if args.model:
        changes["models"] = tuple(args.model)
    if args.threshold:
        changes["thresholds"] = {**config.thresholds, **dict(args.threshold)}
    if args.backend is not None:
        changes["backend"] = args.backend
    return replace(config, **changes)


async def _serve_until_signal(config: WyomingConfig) -> None:
    from kws.wyoming.server import load_models, serve

    models = load_models(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    names = ", ".join(m.metadata.name for m in models)

    def ready(uri: str) -> None:
        logging.getLogger("kws.wyoming").info("listening on %s (models: %s)", uri, names)

    await serve(config, models, stop, ready)
    logging.getLogger("kws.wyoming").info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    if args.debug:
        logging.getLogger("kws.wyoming").setLevel(logging.DEBUG)
    try:
        import wyoming  # noqa: F401  (the optional dependency, checked before anything else)
    except ImportError:
        print(f"kws.wyoming: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve_until_signal(config_from_args(args)))
    except KwsError as exc:
        print(f"kws.wyoming: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
