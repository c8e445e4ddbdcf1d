"""``python -m training.data generate --keyword "hey jarvis" --out DIR`` (see generate.py),
``python -m training.data commands --out DIR [--words ...]`` (a command corpus, see commands.py),
``python -m training.data debian-sounds --out DIR`` (see debian_sounds.py),
``python -m training.data recordings --out DIR`` (real recordings, see recordings.py) and
``python -m training.data asterisk --out DIR`` (speaker-verification data, see asterisk.py) and
``python -m training.data demo --recordings DIR --out WAV`` (the bundled demo recording, see
demo_recording.py)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kws.errors import KwsError
from training.core.ray_pool import add_ray_option
from training.data.commands import CommandCorpusConfig, recipe_corpus
from training.data.corpus import CorpusConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.data")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser(
        "generate",
        help="render a TTS wake-word corpus with hard negatives and evaluation streams",
        description="Render a wake-word corpus (resumes an interrupted run in the same --out).",
    )
    recipe = "(default: the phrase's recipe's)"
    gen.add_argument("--keyword", required=True, help='the wake phrase, e.g. "hey jarvis"')
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    gen.add_argument(
        "--recipe", type=Path,
        help="wake-word recipe whose [corpus] table gives every setting an option leaves out "
        "(default: training/configs/wakewords/<label>.toml if the project has one, else "
        "training/configs/wakeword.toml: the corpus training.wakeword would render)",
    )  # fmt: skip
    gen.add_argument(
        "--pronunciation", metavar="IPA[|IPA...]",
        help='how the phrase is said, in IPA, alternatives separated by | (e.g. "hˈeɪ '
        'mˈaɪkɹɒft"); default: the recipe\'s, else espeak-ng\'s reading',
    )  # fmt: skip
    gen.add_argument(
        "--respelling",
        help='what voices that take no phonemes (flite) read instead, with --pronunciation, '
        'e.g. "hey my croft"',
    )  # fmt: skip
    gen.add_argument("--seed", type=int, help=recipe)
    for name in ("positives", "confusables", "speech", "noise", "music", "silence"):
        gen.add_argument(f"--{name}", type=int, help=f"{name} clips {recipe}")
    gen.add_argument("--clip-seconds", type=float, help=recipe)
    gen.add_argument(
        "--engines",
        help="comma-separated TTS engines whose voices speak (espeak-ng, flite, piper, kokoro) "
        + recipe,
    )
    gen.add_argument(
        "--eval-engines",
        help="comma-separated engines of the evaluation sets' held-out voices (default: "
        "--engines); one that --engines leaves out is a voice family training never hears",
    )
    gen.add_argument(
        "--other-wake-word",
        action="append",
        metavar="PHRASE[=IPA[|IPA...]]",
        help="the wake phrase of a model that runs beside this one (repeatable): training hears "
        "it as a look-alike, evaluation reports firings on it apart from the FA/h " + recipe,
    )
    gen.add_argument(
        "--recordings", type=Path,
        help="real recordings folder (python -m training.data recordings): each evaluation set "
        "mixes in its own split's recorded speech, music, ambience and room responses",
    )  # fmt: skip
    gen.add_argument(
        "--eval-only", action="store_true",
        help="write only the evaluation sets (the same command without it renders the clips)",
    )  # fmt: skip
    gen.add_argument("--eval-positives", type=int, help=recipe)
    gen.add_argument(
        "--in-sentences", type=float, metavar="SHARE",
        help=f"share of the training positives said inside a sentence {recipe}",
    )  # fmt: skip
    gen.add_argument(
        "--in-sentences-twins", action="store_const", const=True, default=None,
        help="keep every positive alone too: its sentence form is a twin beside it",
    )  # fmt: skip
    gen.add_argument(
        "--eval-in-sentences", type=float, metavar="SHARE",
        help=f"share of the evaluation positives said inside a sentence {recipe}",
    )  # fmt: skip
    gen.add_argument(
        "--eval-hours", type=float, help=f"hours of keyword-free evaluation audio {recipe}"
    )
    gen.add_argument("--workers", type=int, help="processes (default: every core)")
    add_ray_option(gen)
    gen.add_argument(
        "--clip-store", type=Path,
        help="folder of clips shared by corpora: clips another corpus rendered with the same seed "
        "and settings (speech, noise, music, recordings) are linked from it, not rendered again",
    )  # fmt: skip
    cmd = commands.add_parser(
        "commands",
        help="render a TTS corpus of command words (default: the ten Speech Commands words) in "
        "the Speech Commands layout",
        description="Render a command corpus (resumes an interrupted run in the same --out): the "
        "commands, other words, confusables and speech by held-out-per-split voices, background "
        "noise for _silence_, and evaluation streams.",
    )
    cmd_defaults = recipe_corpus()
    cmd.add_argument("--out", type=Path, required=True, help="output folder")
    cmd.add_argument("--seed", type=int, default=cmd_defaults.seed)
    cmd.add_argument(
        "--words", default=",".join(cmd_defaults.words), metavar="W1,W2,...",
        help="comma-separated commands, words or short phrases (default: %(default)s)",
    )  # fmt: skip
    for name in ("per_command", "other_words", "confusables", "speech", "eval_per_command"):
        cmd.add_argument(
            "--" + name.replace("_", "-"), type=int, default=getattr(cmd_defaults, name),
            help=f"{name.replace('_', ' ')} clips (default, the recipe's: %(default)s)",
        )  # fmt: skip
    cmd.add_argument("--background-seconds", type=float, default=cmd_defaults.background_seconds)
    cmd.add_argument("--recordings", type=Path, help="real recordings folder (as for generate)")
    cmd.add_argument(
        "--pronunciation", action="append", default=[], metavar="WORD=IPA[|IPA...]",
        help="how a word is said, in IPA (repeat per word), e.g. --pronunciation 'off=ˈɔːf|ˈɑːf'",
    )  # fmt: skip
    cmd.add_argument(
        "--engines",
        default=",".join(cmd_defaults.engines),
        help="comma-separated TTS engines (espeak-ng, flite, piper, kokoro)",
    )
    cmd.add_argument(
        "--eval-hours", type=float, default=cmd_defaults.eval_negative_hours,
        help="hours of command-free evaluation audio",
    )  # fmt: skip
    cmd.add_argument(
        "--in-sentences", type=float, default=cmd_defaults.in_sentences, metavar="SHARE",
        help="share of the training clips of each word said inside a sentence, words of a "
        "training sentence before or after it (default, the recipe's: %(default)s)",
    )  # fmt: skip
    cmd.add_argument(
        "--in-sentences-twins", action="store_true", default=cmd_defaults.in_sentences_twins,
        help="keep every clip alone too: its sentence form is a twin beside it",
    )  # fmt: skip
    cmd.add_argument(
        "--eval-in-sentences", type=float, default=cmd_defaults.eval_in_sentences,
        metavar="SHARE",
        help="share of the evaluation utterances said inside a sentence, words before or after "
        "the command (default, the recipe's: %(default)s)",
    )  # fmt: skip
    cmd.add_argument(
        "--eval-only", action="store_true",
        help="write only the evaluation sets (the same command without it renders the clips)",
    )  # fmt: skip
    cmd.add_argument("--workers", type=int, help="processes (default: every core)")
    add_ray_option(cmd)
    cmd.add_argument("--clip-store", type=Path, help="as for generate")
    cmd.set_defaults(recipe_corpus=cmd_defaults)  # what the options leave as it is
    deb = commands.add_parser(
        "debian-sounds",
        help="build the real environmental-sound corpus from Debian packages (ESC-50 layout)",
        description="Download the listed Debian packages, extract and cut the listed recordings "
        "into an ESC-50 layout (audio/, meta/esc50.csv; fold = package).",
    )
    deb.add_argument("--out", type=Path, required=True, help="output folder")
    deb.add_argument(
        "--manifest",
        type=Path,
        help="sound manifest CSV (default: the built-in one, training/data/manifests/)",
    )
    deb.add_argument("--cache", type=Path, help="folder for downloaded .debs (default OUT/debs)")
    rec = commands.add_parser(
        "recordings",
        help="real speech, music, ambient sound and room impulse responses from Debian packages",
        description="Download the packages of the recordings manifest and write "
        "OUT/<split>/<kind>/<package>/*.wav (16 kHz mono) and OUT/recordings.json. "
        "Resumes in the same --out.",
    )
    rec.add_argument("--out", type=Path, required=True, help="output folder")
    rec.add_argument(
        "--manifest", type=Path, help="recordings manifest CSV (default: the project's)"
    )
    rec.add_argument("--cache", type=Path, help="folder for downloaded .debs (default OUT/debs)")
    rec.add_argument(
        "--transcripts",
        type=Path,
        help="transcripts manifest CSV: what the speech recordings say (default: the project's)",
    )
    ast = commands.add_parser(
        "asterisk",
        aliases=["speakers"],
        help="speaker-verification data: real voices from Debian packages plus TTS speakers",
        description="Write OUT/<split>/<speaker>/*.wav from the Debian packages of the speaker "
        "manifest (Asterisk prompts, spoken stamp descriptions, spoken words; apt-get download, "
        "cached) and synthetic TTS speakers; speakers are held out whole "
        "(see training/data/asterisk.py). Resumes in the same --out.",
    )
    ast.add_argument("--out", type=Path, required=True, help="output folder")
    ast.add_argument(
        "--manifest", type=Path, action="append",
        help="speaker manifest CSV, repeatable (default: the project's speakers-debian.csv; "
        "add training/data/manifests/speakers-games.csv for six game voices)",
    )  # fmt: skip
    ast.add_argument(
        "--cache", type=Path, help="where downloaded .deb files are kept (default OUT/../debs)"
    )
    ast.add_argument("--seed", type=int, default=0)
    ast.add_argument(
        "--tts-speakers", default="48,8,10", metavar="TRAIN,VAL,TEST",
        help="synthetic speakers per split (0,0,0: none)",
    )  # fmt: skip
    ast.add_argument("--tts-utterances", type=int, default=30, help="sentences per TTS speaker")
    ast.add_argument(
        "--tts-engines", default="espeak-ng,flite",
        help="comma-separated engines of the TTS speakers (espeak-ng, flite; kokoro and piper "
        "give training identities only: --tts-speakers N,0,0)",
    )  # fmt: skip
    ast.add_argument("--no-asterisk", action="store_true", help="only the TTS speakers")
    ast.add_argument("--no-tts", action="store_true", help="only the real voices")
    demo = commands.add_parser(
        "demo",
        help="render the bundled demo recording: a held-out voice says the shipped wake words "
        "over real test-split room tone, speech and music",
        description="Write OUT (16 kHz mono WAV) and OUT with .json (what is said when, and "
        "where every excerpt comes from). See training/data/demo_recording.py.",
    )
    demo.add_argument(
        "--recordings", type=Path, required=True,
        help="real recordings folder (python -m training.data recordings); its test split is used",
    )  # fmt: skip
    demo.add_argument("--out", type=Path, required=True, help="output WAV")
    demo.add_argument(
        "--engine", default="kokoro", help="TTS engine of the held-out voice (default kokoro)"
    )
    return parser


def _build(builder: Any, args: argparse.Namespace) -> tuple[dict[str, Any] | None, int]:
    """Run a Debian-package builder (debian_sounds or recordings): each failed file is one line
    above the progress bar. Returns its summary and the exit status (None, 2 when it stopped)."""
    failures: list[str] = []

    def report(message: str) -> None:
        failures.append(message)
        tqdm.write(f"training.data: error: {message}", file=sys.stderr)  # keeps the bar intact

    extra = {}
    if getattr(args, "transcripts", None) is not None:
        extra["transcripts_manifest"] = args.transcripts
    try:
        summary = builder.build(
            args.out, args.manifest or builder.DEFAULT_MANIFEST, args.cache, report, **extra
        )
    except KwsError as exc:
        print(f"training.data: error: {exc}", file=sys.stderr)
        return None, 2
    except KeyboardInterrupt:
        print("training.data: interrupted; run the same command again to resume", file=sys.stderr)
        return None, 130
    return summary, 2 if failures else 0


def debian_sounds(args: argparse.Namespace) -> int:
    from training.data import debian_sounds as builder

    summary, status = _build(builder, args)
    for key, value in (summary or {}).items():
        print(f"{key}: {value}")
    return status


def recordings(args: argparse.Namespace) -> int:
    from training.data import recordings as builder

    summary, status = _build(builder, args)
    if summary is None:
        return status
    hours: dict[str, dict[str, float]] = summary["hours"]
    print(f"{'hours':<11}" + "".join(f"{kind:>9}" for kind in builder.KINDS))
    for split, by_kind in hours.items():
        print(f"{split:<11}" + "".join(f"{by_kind[kind]:9.2f}" for kind in builder.KINDS))
    for key in ("total_hours", "speech_transcribed_hours", "files", "rirs", "errors", "empty"):
        print(f"{key}: {summary[key]}")
    return status


def _asterisk(args: argparse.Namespace) -> dict[str, object]:
    from training.data.asterisk import DEFAULT_MANIFEST, build_asterisk
    from training.data.speakers import build_tts_speakers

    try:
        counts = [int(n) for n in args.tts_speakers.split(",")]
    except ValueError:
        counts = []
    if len(counts) != 3 or min(counts) < 0:
        raise ValueError(
            f"--tts-speakers must be three counts TRAIN,VAL,TEST, got {args.tts_speakers!r}"
        )
    summary: dict[str, object] = {}
    if not args.no_asterisk:
        cache = args.cache or args.out.resolve().parent / "debs"
        summary.update(build_asterisk(args.out, cache, args.manifest or [DEFAULT_MANIFEST]))
    if sum(counts) and not args.no_tts:
        splits = dict(zip(("train", "validation", "test"), counts, strict=True))
        engines = comma_list(args.tts_engines)
        summary.update(
            build_tts_speakers(args.out, splits, args.tts_utterances, args.seed, engines)
        )
    return {name: f"{v['split']}: {v['utterances']} utterances" for name, v in summary.items()}  # type: ignore[index]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "debian-sounds":
        return debian_sounds(args)
    if args.command == "recordings":
        return recordings(args)
    if args.command == "demo":
        return _demo(args)
    if args.command in ("asterisk", "speakers"):
        try:
            for key, value in _asterisk(args).items():
                print(f"{key}: {value}")
        except (KwsError, ValueError) as exc:
            print(f"training.data: error: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        if args.command == "commands":
            return _print(_commands(args))
        config = wake_word_corpus(args)
        from training.data.generate import generate

        summary = generate(
            config, args.out, args.workers, args.eval_only, args.clip_store, args.ray
        )
    except (KwsError, ValueError) as exc:
        print(f"training.data: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("training.data: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return _print(summary)


def _demo(args: argparse.Namespace) -> int:
    from training.data.demo_recording import DemoConfig, write

    try:
        truth = write(DemoConfig(engine=args.engine), args.recordings, args.out)
    except KwsError as exc:
        print(f"training.data: error: {exc}", file=sys.stderr)
        return 2
    voice = truth["voice"]
    print(f"wrote {args.out} ({truth['seconds']} s) and {args.out.with_suffix('.json')}")
    print(f"voice: {voice['engine']} {voice['name']} ({voice['split']} split)")
    for said in truth["keywords"]:
        print(f"{said['onset_s']:6.2f}-{said['offset_s']:.2f} s  {said['phrase']!r} over "
              f"{said['background']} at {said['snr_db']} dB")  # fmt: skip
    return 0


def wake_word_corpus(args: argparse.Namespace) -> CorpusConfig:
    """The corpus ``training.data generate`` renders: the phrase's recipe's, with the options."""
    from training.data.wake_recipes import recipe_corpus

    given = {
        "seed": args.seed,
        "positives": args.positives,
        "confusables": args.confusables,
        "speech": args.speech,
        "noise": args.noise,
        "music": args.music,
        "silence": args.silence,
        "clip_seconds": args.clip_seconds,
        "engines": None if args.engines is None else comma_list(args.engines),
        "eval_engines": None if args.eval_engines is None else comma_list(args.eval_engines),
        "other_wake_words": None if args.other_wake_word is None else tuple(args.other_wake_word),
        "recordings": None if args.recordings is None else str(args.recordings),
        "eval_positives": args.eval_positives,
        "in_sentences": args.in_sentences,
        "in_sentences_twins": args.in_sentences_twins,
        "eval_in_sentences": args.eval_in_sentences,
        "eval_negative_hours": args.eval_hours,
        "pronunciation": args.pronunciation,
        "respelling": args.respelling,
    }
    base = recipe_corpus(args.keyword, args.recipe)
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def _commands(args: argparse.Namespace) -> dict[str, object]:
    from training.data.commands import generate_commands

    return generate_commands(
        command_corpus(args), args.out, args.workers, args.eval_only, args.clip_store, args.ray
    )


def command_corpus(args: argparse.Namespace) -> CommandCorpusConfig:
    """The corpus ``training.data commands`` renders: the command recipe's, with the options."""
    from training.data.commands import parse_words

    return dataclasses.replace(
        args.recipe_corpus,
        seed=args.seed,
        words=parse_words(args.words),
        per_command=args.per_command,
        other_words=args.other_words,
        confusables=args.confusables,
        speech=args.speech,
        background_seconds=args.background_seconds,
        engines=comma_list(args.engines),
        recordings=str(args.recordings) if args.recordings else None,
        eval_per_command=args.eval_per_command,
        eval_negative_hours=args.eval_hours,
        in_sentences=args.in_sentences,
        in_sentences_twins=args.in_sentences_twins,
        eval_in_sentences=args.eval_in_sentences,
        pronunciation=word_pronunciations(args.pronunciation),
    )


def comma_list(text: str) -> tuple[str, ...]:
    """``"espeak-ng, flite,"`` -> ("espeak-ng", "flite"): an option's comma-separated names."""
    return tuple(e.strip() for e in text.split(",") if e.strip())


def word_pronunciations(assignments: list[str]) -> dict[str, str]:
    """``["off=ˈɔːf|ˈɑːf", ...]`` -> {"off": "ˈɔːf|ˈɑːf"}; a word given twice is an error."""
    said: dict[str, str] = {}
    for assignment in assignments:
        word, sep, ipa = assignment.partition("=")
        if not sep or not word.strip() or not ipa.strip():
            raise ValueError(f"--pronunciation needs WORD=IPA, got {assignment!r}")
        if word.strip() in said:
            raise ValueError(f"--pronunciation gives {word.strip()!r} twice")
        said[word.strip()] = ipa
    return said


def _print(summary: dict[str, object]) -> int:
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
