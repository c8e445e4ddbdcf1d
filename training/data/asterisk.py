"""Real speech for speaker verification: Debian's Asterisk voice-prompt packages.

Each package holds several hundred telephone prompts (8 kHz 16-bit PCM WAV) recorded by one
professional voice, named in the package's copyright file and its sound folder
(``en_US_f_Allison``: language, sex, speaker). The English and Spanish core sounds are the same
person (Allison Smith), so they form one speaker. Five real voices in all:

==================  ===============================  ======  ===========================
speaker             packages                         sex     split (whole speaker)
==================  ===============================  ======  ===========================
allison_smith       core-sounds-en-wav, -es-wav      female  train
ivrvoice_ru         core-sounds-ru-wav               female  train
carlo_flora         core-sounds-it-wav               male    validation
june_wallack        core-sounds-fr-wav               female  test
menardi_it          prompt-it-menardi-wav            female  test
==================  ===============================  ======  ===========================

With so few real voices, speakers (never utterances) are held out: the validation voice
calibrates the threshold and the test voices are heard only by the benchmark.

``build_asterisk`` downloads each package with ``apt-get download`` into a cache (once),
unpacks it with ``dpkg-deb -x``, decodes and resamples every prompt to 16 kHz with
:mod:`kws.wavfile`, trims leading/trailing silence and writes ``OUT/<split>/<speaker>/<id>.wav``,
the split-folder layout :func:`training.data.loaders.folders` reads.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import AudioFileError, KwsError
from kws.wavfile import load_audio, write_wav
from training.data.reserved import refuse_reserved
from training.data.tts import trim_silence

SAMPLE_RATE = 16000
MIN_SECONDS = 0.4
"""Prompts shorter than this after trimming (single letters, beeps) are skipped."""
SKIP_FOLDERS = frozenset({"silence"})
"""Sound folders that hold no speech."""
SPEAKERS_FILE = "speakers.json"


@dataclass(frozen=True)
class AsteriskVoice:
    """One prompt package and the speaker who recorded it."""

    package: str
    folder: str
    """Folder under /usr/share/asterisk/sounds/ holding its prompts."""
    speaker: str
    sex: str
    split: str


VOICES: tuple[AsteriskVoice, ...] = (
    AsteriskVoice("asterisk-core-sounds-en-wav", "en_US_f_Allison", "allison_smith", "f", "train"),
    AsteriskVoice("asterisk-core-sounds-es-wav", "es_MX_f_Allison", "allison_smith", "f", "train"),
    AsteriskVoice("asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU", "ivrvoice_ru", "f", "train"),
    AsteriskVoice("asterisk-core-sounds-it-wav", "it_IT_m_Carlo", "carlo_flora", "m", "validation"),
    AsteriskVoice("asterisk-core-sounds-fr-wav", "fr_CA_f_June", "june_wallack", "f", "test"),
    AsteriskVoice("asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", "menardi_it", "f", "test"),
)

Downloader = Callable[[str, Path], Path]


def _run(args: list[str], cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise KwsError(f"{args[0]} is not installed (Debian/Ubuntu only)") from None
    if done.returncode != 0:
        problem = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise KwsError(f"{' '.join(args[:2])} {args[-1]} failed: {problem}")


def apt_download(package: str, cache: Path) -> Path:
    """The package's .deb in ``cache``, fetched with ``apt-get download`` unless already there."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        _run(["apt-get", "download", package], cwd=cache)
        found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        raise KwsError(f"apt-get download {package} left no .deb in {cache}")
    return found[-1]


def prompts_in(root: Path, voice: AsteriskVoice) -> list[Path]:
    """The speech WAVs of an unpacked package (silence folder excluded), sorted."""
    folder = root / "usr/share/asterisk/sounds" / voice.folder
    if not folder.is_dir():
        raise KwsError(f"{voice.package}: no usr/share/asterisk/sounds/{voice.folder} in the .deb")
    return sorted(
        p for p in folder.rglob("*.wav") if not SKIP_FOLDERS & set(p.relative_to(folder).parts[:-1])
    )


def build_asterisk(
    out: Path,
    cache: Path,
    voices: Sequence[AsteriskVoice] = VOICES,
    download: Downloader = apt_download,
) -> dict[str, dict[str, object]]:
    """Write every voice's prompts to ``out/<split>/<speaker>/``; return per-speaker counts.

    Existing output files are kept (a rerun resumes). Undecodable prompts are skipped and
    counted; a package that cannot be fetched or unpacked is a KwsError naming it.
    """
    for voice in voices:
        refuse_reserved(voice.package, "training.data asterisk")
    summary: dict[str, dict[str, object]] = {}
    for voice in voices:
        deb = download(voice.package, cache)
        target = out / voice.split / voice.speaker
        target.mkdir(parents=True, exist_ok=True)
        entry = summary.setdefault(
            voice.speaker,
            {"split": voice.split, "sex": voice.sex, "packages": [], "utterances": 0,
             "seconds": 0.0, "skipped": 0},
        )  # fmt: skip
        entry["packages"].append(deb.name)  # type: ignore[attr-defined]
        with tempfile.TemporaryDirectory(prefix="kws-deb-") as tmp:
            _run(["dpkg-deb", "-x", str(deb), tmp])
            folder = Path(tmp, "usr/share/asterisk/sounds", voice.folder)
            for path in tqdm(prompts_in(Path(tmp), voice), desc=voice.folder, unit="prompt"):
                name = "_".join(path.relative_to(folder).with_suffix("").parts)
                dest = target / f"{voice.folder.split('_')[0]}_{name}.wav"
                try:
                    audio = trim_silence(load_audio(path, SAMPLE_RATE))
                except AudioFileError:
                    entry["skipped"] += 1  # type: ignore[operator]
                    continue
                if len(audio) < MIN_SECONDS * SAMPLE_RATE:
                    entry["skipped"] += 1  # type: ignore[operator]
                    continue
                if not dest.exists():
                    write_wav(dest, audio, SAMPLE_RATE)
                entry["utterances"] += 1  # type: ignore[operator]
                entry["seconds"] = round(entry["seconds"] + len(audio) / SAMPLE_RATE, 1)  # type: ignore[operator]
    _merge_summary(out, summary)
    return summary


def _merge_summary(out: Path, summary: dict[str, dict[str, object]]) -> None:
    """Add ``summary`` to ``out/speakers.json`` (TTS and Asterisk speakers share the file)."""
    path = out / SPEAKERS_FILE
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(summary)
    atomic_write_bytes(path, json.dumps(current, indent=1, sort_keys=True).encode())
