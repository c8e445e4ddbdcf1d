"""``python -m kws.listen``: microphone, WAV file or raw PCM in; JSON-line events out.

Options map onto :class:`ListenConfig` (which a ``--config`` TOML file can also fill); errors the
user can fix are one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kws.errors import KwsError
from kws.events import Event
from kws.mqtt_config import MqttConfig
from kws.pipeline import Pipeline, PipelineConfig
from kws.readable import readable as readable_line
from kws.schema import add_model_arguments, field_names, read_config, reject_unknown_keys
from kws.wyoming.config import WyomingConfig

if TYPE_CHECKING:
    from kws.wyoming.background import ServerThread

BLOCK_MS_DEFAULT = 20


@dataclass(frozen=True)
class ListenConfig:
    """Everything ``kws.listen`` needs; TOML keys have the same names."""

    models: tuple[str, ...] = ()
    """Paths of .tflite models with embedded metadata."""
    input: str | None = None
    """WAV file, '-' for stdin or a named pipe (a WAV stream, else raw s16le 16 kHz mono), or
    None for the microphone."""
    device: str | None = None
    """Microphone: index or case-insensitive part of the device name (default device if None)."""
    realtime: bool = False
    """Pace file input like a live microphone instead of running as fast as possible."""
    block_ms: int = BLOCK_MS_DEFAULT
    """Audio block size in milliseconds (microphone and paced input)."""
    backend: str | None = None
    """Force a TFLite backend: ai_edge_litert, tflite_runtime or tensorflow."""
    speaker_model: str | None = None
    """Speaker-embedding .tflite: detections then say which enrolled speaker said the keyword."""
    profiles: str | None = None
    """Enrolled speaker profiles (default: $XDG_DATA_HOME/kws/speakers.json)."""
    readable: bool | None = None
    """Also write a readable line per event to stderr; None: when stdout is a terminal."""
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    """Also publish every event to an MQTT broker (``[mqtt]``; off while ``url`` is unset)."""
    wyoming: WyomingConfig | None = None
    """Also serve Wyoming clients (Home Assistant) from this process (the ``[wyoming]`` table;
    its models default to ``models``, loaded again for the server's thread)."""

    @classmethod
    def from_toml(cls, path: Path) -> ListenConfig:
        data = read_config(path)
        pipeline = data.pop("pipeline", {})
        mqtt = data.pop("mqtt", {})
        wyoming = data.pop("wyoming", None)
        try:
            reject_unknown_keys("config", data, field_names(cls))
            reject_unknown_keys("[pipeline]", pipeline, field_names(PipelineConfig))
            reject_unknown_keys("[mqtt]", mqtt, field_names(MqttConfig))
            mqtt_config = MqttConfig(**mqtt)
        except ValueError as exc:
            raise KwsError(f"{path}: {exc}") from None
        data["models"] = tuple(data.get("models", ()))
        if wyoming is not None:
            if not isinstance(wyoming, dict):
                raise KwsError(f"{path}: [wyoming] must be a table")
            data["wyoming"] = WyomingConfig.from_dict(f"{path}: [wyoming]", wyoming)
        return cls(**data, pipeline=PipelineConfig(**pipeline), mqtt=mqtt_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kws.listen",
        description="Listen for keywords and print events as JSON lines on stdout.",
        epilog="Event schema: see README.md (Events). Errors: one line on stderr, exit status 2.",
    )
    add_model_arguments(
        parser, "model with embedded kws metadata; repeat to run several models on one stream"
    )
    parser.add_argument(
        "--input",
        metavar="FILE|-",
        help="WAV file (any PCM/float encoding, rate and channel count); '-' for stdin or a "
        "named pipe, read as it arrives (a WAV stream, else raw s16le 16 kHz mono); default: "
        "the microphone",
    )
    parser.add_argument(
        "--device", metavar="NAME|INDEX", help="input device (see --list-devices); default: system"
    )
    parser.add_argument(
        "--list-devices", action="store_true", help="print the input devices and exit"
    )
    parser.add_argument(
        "--environment-interval",
        type=float,
        metavar="S",
        help="also repeat each environment model's current label every S stream seconds "
        "(default 0: only when the label changes)",
    )
    parser.add_argument(
        "--speaker-model",
        metavar="S.tflite",
        help='speaker-embedding model: each detection gains "speaker": {name, score}, the '
        "best enrolled match (see python -m kws.enroll) or null",
    )
    parser.add_argument(
        "--speaker-threshold",
        type=float,
        metavar="T",
        help="cosine similarity (-1..1) a speaker must reach to be named; default: the "
        "speaker model's calibrated threshold",
    )
    parser.add_argument(
        "--profiles",
        metavar="FILE.json",
        help="enrolled speaker profiles (default $XDG_DATA_HOME/kws/speakers.json)",
    )
    parser.add_argument(
        "--emit-scores",
        action="store_true",
        help='also print every model output as {"type": "score", ...} for threshold sweeps',
    )
    parser.add_argument(
        "--realtime", action="store_true", help="pace file input like a live microphone"
    )
    parser.add_argument(
        "--readable",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also write a readable line per detection, environment change and status to "
        "stderr (stdout keeps only JSON); default: on when stdout is a terminal",
    )
    parser.add_argument(
        "--block-ms", type=int, metavar="MS", help=f"audio block size (default {BLOCK_MS_DEFAULT})"
    )
    parser.add_argument(
        "--status-interval",
        type=float,
        metavar="S",
        help="stream seconds between 'running' status events (default 60; 0 = off)",
    )
    parser.add_argument(
        "--mqtt",
        metavar="mqtt://[USER@]HOST[:PORT]",
        help="also publish every event as JSON to this MQTT broker, with Home Assistant "
        "discovery (mqtts:// for TLS; the password comes from --mqtt-password-file, never "
        "the URL); needs the mqtt extra",
    )
    parser.add_argument(
        "--mqtt-prefix", metavar="TOPIC", help="MQTT topic prefix (default kws/<hostname>)"
    )
    parser.add_argument(
        "--mqtt-password-file", metavar="FILE", help="file holding the MQTT password"
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="read ListenConfig values from TOML"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> ListenConfig:
    """Merge a TOML config (if any) with the command line; command-line values win."""
    config = ListenConfig.from_toml(args.config) if args.config else ListenConfig()
    changes: dict[str, Any] = {}
    if args.model:
        changes["models"] = tuple(args.model)
    for name in ("input", "device", "backend", "block_ms", "speaker_model", "profiles"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.realtime:
        changes["realtime"] = True
    if args.readable is not None:
        changes["readable"] = args.readable
    pipeline: dict[str, Any] = {}
    if args.threshold:
        pipeline["thresholds"] = {**config.pipeline.thresholds, **dict(args.threshold)}
    if args.emit_scores:
        pipeline["emit_scores"] = True
    if args.status_interval is not None:
        pipeline["status_interval_s"] = args.status_interval
    if args.environment_interval is not None:
        pipeline["environment_interval_s"] = args.environment_interval
    if args.speaker_threshold is not None:
        pipeline["speaker_threshold"] = args.speaker_threshold
    if pipeline:
        changes["pipeline"] = replace(config.pipeline, **pipeline)
    mqtt = {
        key: value
        for key, value in (
            ("url", args.mqtt),
            ("prefix", args.mqtt_prefix),
            ("password_file", args.mqtt_password_file),
        )
        if value is not None
    }
    if mqtt:
        try:
            changes["mqtt"] = replace(config.mqtt, **mqtt)
        except ValueError as exc:
            raise KwsError(str(exc).replace("[mqtt] prefix", "--mqtt-prefix")) from None
    return replace(config, **changes)


def print_devices(out: TextIO) -> None:
    from kws.audio import list_input_devices

    devices = list_input_devices()
    if not devices:
        raise KwsError("no input devices found (no sound card or sound server answered)")
    for device in devices:
        out.write(
            f"{device['index']:>3}  {device['name']}  ({device['channels']} ch, "
            f"{device['default_samplerate']:.0f} Hz, {device['hostapi']})\n"
        )


def run(config: ListenConfig, out: TextIO, notes: TextIO | None = None) -> int:
    """Load models, open the source, and stream events to ``out`` as JSON lines, and a
    readable line for each event worth one to ``notes`` (if given)."""
    from kws.audio import open_source
    from kws.model import load_model

    if not config.models:
        raise KwsError("no model given: pass --model M.tflite (repeatable)")
    if config.mqtt.url is None and config.mqtt != MqttConfig():
        raise KwsError("MQTT settings without a broker: give --mqtt URL (or url in [mqtt])")
    if config.block_ms <= 0:
        raise KwsError(f"--block-ms must be positive, got {config.block_ms}")
    models = [load_model(path, backend=config.backend) for path in config.models]
    speaker, profiles = None, []
    if config.speaker_model is not None:
        from kws.profiles import check_model, default_path, load_profiles
        from kws.speaker import SpeakerEncoder

        speaker = SpeakerEncoder(load_model(config.speaker_model, backend=config.backend))
        profiles_path = Path(config.profiles) if config.profiles else default_path()
        profiles = load_profiles(profiles_path)
        check_model(profiles, speaker.model_id, profiles_path)
    elif config.profiles is not None:
        raise KwsError("--profiles needs --speaker-model (the model the profiles were made with)")

    publisher = None
    emitting = threading.Lock()  # the Wyoming server's thread emits its clients' detections too

    def emit(event: Event) -> None:
        with emitting:
            out.write(event.to_json() + "\n")
            out.flush()
            if publisher is not None:
                publisher.publish(event)
            line = readable_line(event) if notes is not None else None
            if line is not None and notes is not None:
                notes.write(line + "\n")
                notes.flush()

    try:
        pipeline = Pipeline(models, config.pipeline, emit, speaker, profiles)
    except ValueError as exc:
        raise KwsError(str(exc)) from None
    block = pipeline.sample_rate * config.block_ms // 1000
    live = config.input is None or config.realtime
    # Unpaced input runs as fast as possible: the sources' larger default blocks cost less
    # per second of audio, and events do not depend on block size.
    source = open_source(config.input, config.device, config.realtime, block if live else None)
    server = None
    info: dict[str, object] = {}
    try:
        if config.mqtt.url is not None:
            from kws.mqtt import MqttPublisher

            models_info = [(n, m.metadata) for n, m in zip(pipeline.names, models, strict=True)]
            mqtt = MqttPublisher(config.mqtt, models_info)
            mqtt.start()
            publisher = mqtt
        if config.wyoming is not None:
            server = _start_server(config, emit)
            info["wyoming"] = server.uri
        pipeline.run(source, getattr(source, "description", ""), info)
    finally:
        # Within STOP_BUDGET_S of Ctrl-C or SIGTERM: the server winds down while the rest close.
        if server is not None:
            server.request_stop()
        source.close()
        if publisher is not None:
            publisher.stop(timeout_s=0.5)
        if server is not None:
            server.stop(timeout_s=0.5)
    return 0


def _start_server(config: ListenConfig, emit: Callable[[Event], None]) -> ServerThread:
    """The ``[wyoming]`` server on its own thread, over its own copies of the models; its
    clients' detections go to ``emit`` as well."""
    assert config.wyoming is not None
    from kws.wyoming.background import ServerThread

    try:
        import wyoming
    except ImportError:
        from kws.wyoming import INSTALL_HINT

        raise KwsError(f"[wyoming]: {INSTALL_HINT}") from None
    wyoming = config.wyoming
    server = ServerThread(
        replace(
            wyoming,
            models=wyoming.models or config.models,
            backend=wyoming.backend or config.backend,
        ),
        emit,
    )
    server.start()
    return server


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = out or sys.stdout
    # A service manager stops us with SIGTERM: end like Ctrl-C, with a summary status event.
    # SIGINT too, explicitly: a process started with SIGINT ignored (a shell's background job)
    # gets no KeyboardInterrupt from Python, and Ctrl-C or kill -INT would do nothing.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
    try:
        if args.list_devices:
            print_devices(out)
            return 0
        config = config_from_args(args)
        shown = config.readable if config.readable is not None else _is_terminal(out)
        return run(config, out, sys.stderr if shown else None)
    except KwsError as exc:
        print(f"kws.listen: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
