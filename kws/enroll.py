"""``python -m kws.enroll``: enroll household members for speaker verification, list, remove.

A profile is the mean unit embedding (:class:`kws.speaker.SpeakerEncoder`) of a few utterances of
the wake word, from WAV files or recorded at the microphone; each recorded take is checked for
level (RMS, clipping) and for the length of its voiced part, and a bad take is asked for again.
Profiles are stored with :mod:`kws.profiles` (one file, written atomically).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from kws.errors import KwsError
from kws.profiles import Profile, check_model, default_path, load_profiles, save_profiles

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class TakeCheck:
    """What a recorded take must satisfy; the defaults suit a wake word at arm's length."""

    seconds: float = 2.5
    """Length of each recording."""
    min_rms_dbfs: float = -40.0
    """The voiced part must be at least this loud (RMS, dB re full scale)."""
    max_clipped_fraction: float = 0.001
    """At most this fraction of samples may sit at full scale."""
    min_voiced_s: float = 0.25
    max_voiced_s: float = 2.0
    frame_s: float = 0.02
    voiced_db_below_peak: float = 30.0
    """Frames within this many dB of the loudest frame count as voiced."""
    margin_s: float = 0.1
    """Audio kept either side of the voiced part for embedding."""


@dataclass(frozen=True)
class TakeReport:
    ok: bool
    problem: str
    rms_dbfs: float
    voiced_s: float
    start: int
    """Sample span of the voiced part (with margin), for embedding."""
    end: int


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64))))) if len(x) else 0.0
    return 20 * np.log10(max(rms, 1e-9) / 32768.0)


def check_take(audio: np.ndarray, check: TakeCheck = TakeCheck()) -> TakeReport:
    """Judge one take: level of the voiced part, clipping, and the voiced part's length."""
    audio = np.asarray(audio, dtype=np.int16)
    hop = max(1, int(check.frame_s * SAMPLE_RATE))
    frames = len(audio) // hop
    if frames == 0:
        return TakeReport(False, "no audio was recorded", -200.0, 0.0, 0, 0)
    levels = np.array([_dbfs(audio[i * hop : (i + 1) * hop]) for i in range(frames)])
    voiced = np.flatnonzero(levels >= max(levels.max() - check.voiced_db_below_peak, -60.0))
    if len(voiced) == 0:
        return TakeReport(False, "nothing was heard (is the microphone muted?)", -200.0, 0, 0, 0)
    first, last = int(voiced[0]), int(voiced[-1]) + 1
    voiced_s = (last - first) * hop / SAMPLE_RATE
    rms = _dbfs(audio[first * hop : last * hop])
    margin = int(check.margin_s * SAMPLE_RATE)
    start, end = max(0, first * hop - margin), min(len(audio), last * hop + margin)
    clipped = float(np.mean(np.abs(audio.astype(np.int32)) >= 32767))
    problem = ""
    if clipped > check.max_clipped_fraction:
        problem = f"too loud: {clipped:.1%} of samples clipped; speak softer or step back"
    elif rms < check.min_rms_dbfs:
        need = f"{check.min_rms_dbfs:.0f}"
        problem = f"too quiet ({rms:.0f} dBFS, need {need}); speak up or move closer"
    elif voiced_s < check.min_voiced_s:
        problem = f"too short ({voiced_s:.2f} s of voice); say the whole wake word"
    elif voiced_s > check.max_voiced_s:
        problem = f"too long ({voiced_s:.2f} s of sound); say only the wake word, in a quiet room"
    elif first == 0 or last >= frames:
        problem = "cut off at the start or end of the recording; wait for the prompt"
    return TakeReport(not problem, problem, rms, voiced_s, start, end)


def record(seconds: float, device: str | None) -> np.ndarray:
    """``seconds`` of 16 kHz int16 audio from the microphone."""
    from kws import audio

    source = audio.open_source(None, device)
    wanted = int(seconds * SAMPLE_RATE)
    taken: list[np.ndarray] = []
    try:
        for block in source:
            taken.append(block)
            if sum(map(len, taken)) >= wanted:
                break
    finally:
        source.close()
    return np.concatenate(taken)[:wanted] if taken else np.zeros(0, dtype=np.int16)


def record_takes(
    count: int,
    check: TakeCheck,
    device: str | None,
    err: TextIO,
    retries: int = 3,
    recorder: Callable[[float, str | None], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Prompt for ``count`` good takes on ``err``; a take failing :func:`check_take` is asked for
    again, up to ``retries`` times per take. Returns each take's voiced audio."""
    recorder = recorder or record
    takes = []
    for i in range(count):
        for attempt in range(retries + 1):
            err.write(f"take {i + 1}/{count}: say the wake word now ({check.seconds:g} s)...\n")
            err.flush()
            audio = recorder(check.seconds, device)
            report = check_take(audio, check)
            if report.ok:
                err.write(f"  ok: {report.voiced_s:.2f} s at {report.rms_dbfs:.0f} dBFS\n")
                takes.append(audio[report.start : report.end])
                break
            left = retries - attempt
            err.write(f"  {report.problem}" + (f"; again ({left} tries left)\n" if left else "\n"))
        else:
            raise KwsError(f"take {i + 1}: no usable recording after {retries + 1} tries")
    return takes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kws.enroll",
        description="Enroll a household member's voice for speaker verification "
        "(kws.listen --speaker-model), list the enrolled people, or remove one.",
        epilog="Errors: one line on stderr, exit status 2.",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="WAV files of the person saying the wake word"
    )
    parser.add_argument(
        "--model", metavar="S.tflite", help="speaker-embedding model (needed to enroll)"
    )
    parser.add_argument("--name", help="the person's name (enrolling again replaces the profile)")
    parser.add_argument(
        "--record",
        type=int,
        metavar="N",
        help="record N takes at the microphone instead of reading FILEs (3 to 5 is typical); "
        "prompts go to stderr, and a take that is too quiet, clipped, too short, too long or cut "
        "off is explained and asked for again",
    )
    parser.add_argument("--device", metavar="NAME|INDEX", help="microphone for --record")
    parser.add_argument(
        "--seconds",
        type=float,
        default=TakeCheck.seconds,
        metavar="S",
        help=f"length of each recorded take (default {TakeCheck.seconds:g})",
    )
    parser.add_argument(
        "--profiles",
        metavar="FILE.json",
        help=f"profile file (default $XDG_DATA_HOME/kws/speakers.json, here {default_path()})",
    )
    parser.add_argument("--list", action="store_true", help="list enrolled people and exit")
    parser.add_argument("--remove", metavar="NAME", help="remove a person's profile and exit")
    return parser


def enroll(
    model_path: str,
    name: str,
    utterances: Sequence[np.ndarray],
    profiles_path: Path,
) -> Profile:
    """Embed ``utterances`` with the model, then add or replace ``name``'s profile."""
    from kws.model import load_model
    from kws.speaker import SpeakerEncoder

    encoder = SpeakerEncoder(load_model(model_path))
    profiles = load_profiles(profiles_path)  # a corrupt file stops us before any work is lost
    others = [p for p in profiles if p.name != name]
    check_model(others, encoder.model_id, profiles_path)
    try:
        embeddings = [encoder.embed(u) for u in utterances]
        profile = Profile.from_embeddings(name, encoder.model_id, embeddings)
    except ValueError as exc:
        raise KwsError(f"cannot enroll {name!r}: {exc}") from None
    save_profiles([*others, profile], profiles_path)
    return profile


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = Path(args.profiles) if args.profiles else default_path()
    if args.list:
        profiles = load_profiles(path)
        if not profiles:
            out.write(f"nobody is enrolled ({path})\n")
        for p in profiles:
            out.write(f"{p.name}\t{p.utterances} utterances\t{p.created}\t{p.model_id}\n")
        return 0
    if args.remove is not None:
        profiles = load_profiles(path)
        kept = [p for p in profiles if p.name != args.remove]
        if len(kept) == len(profiles):
            raise KwsError(f"{path}: nobody named {args.remove!r} is enrolled")
        save_profiles(kept, path)
        out.write(f"removed {args.remove} from {path}\n")
        return 0
    if not args.model or not args.name:
        raise KwsError("enrolling needs --model S.tflite and --name NAME (or use --list/--remove)")
    if bool(args.files) == (args.record is not None):
        raise KwsError("give either WAV FILEs or --record N, not both or neither")
    load_profiles(path)  # refuse a corrupt file before asking anyone to speak
    if args.record is not None:
        if args.record < 1:
            raise KwsError(f"--record needs at least 1 take, got {args.record}")
        utterances = record_takes(args.record, TakeCheck(seconds=args.seconds), args.device, err)
    else:
        from kws.wavfile import load_audio

        utterances = [load_audio(f) for f in args.files]
    profile = enroll(args.model, args.name, utterances, path)
    plural = "" if profile.utterances == 1 else "s"
    out.write(f"enrolled {profile.name} from {profile.utterances} utterance{plural} in {path}\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, out or sys.stdout, sys.stderr)
    except KwsError as exc:
        print(f"kws.enroll: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
