"""``python -m training.data recordings --out DIR``: hours of real speech, music and ambient sound,
and real room impulse responses, taken from Debian packages for negatives, backgrounds and
reverberation.

The manifest (``training/data/manifests/debian-recordings.csv``) names, per row, a package and
version, a path or glob inside it (``*`` and ``?`` stay within a folder, ``**`` crosses
folders, ``[!s]`` is a character class), the kind (speech, music,
ambient, rir), the language of speech, the licence and the split. Whole packages or whole speakers
sit in one split, so validation and test recordings are never heard in training. Packages are
fetched and cut down with the machinery of :mod:`training.data.debian_sounds` (``apt-get
download`` into a cache, only the listed files extracted); each file is decoded, downmixed and
resampled to 16 kHz int16 and written to ``DIR/<split>/<kind>/<package>/<flattened path>.wav``
(a gzipped file, as Debian ships large files under ``usr/share/doc``, is decompressed first),
files longer than :data:`MAX_PIECE_SECONDS` in equal pieces (``…-part2of3.wav``). Impulse
responses keep their first channel, are trimmed to the direct sound and the decay down to
:data:`RIR_FLOOR_DB`, and peak-normalized. ``DIR/recordings.json`` indexes every written file with
its provenance and sums the hours by split and kind. A rerun skips what exists; a bad file is one
reported line and is left out.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import re
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import AudioFileError, EmptyAudioError, KwsError
from kws.wavfile import load_audio, open_wav, to_mono_int16, write_wav
from training.data import debian_sounds, transcripts
from training.data.loaders.base import SPLITS, read_audio
from training.data.text_corpus import says

DEFAULT_MANIFEST = Path(__file__).parent / "manifests" / "debian-recordings.csv"
INDEX_FILE = "recordings.json"
SAMPLE_RATE = 16000
KINDS = ("speech", "music", "ambient", "rir")
COLUMNS = ("package", "version", "path", "kind", "language", "licence", "split", "note")
MAX_PIECE_SECONDS = 600.0
"""Longer recordings are cut into equal pieces no longer than this (10 minutes)."""
RIR_FLOOR_DB = -60.0
"""An impulse response ends where its remaining energy falls this far below the total."""
RIR_LEAD_SECONDS = 0.001
"""Kept before an impulse response's peak (the direct sound)."""
RIR_PEAK = 0.9
"""Peak level of a written impulse response, relative to full scale."""


@dataclass(frozen=True)
class Source:
    """One manifest row: files inside a Debian package, what they are and where they go."""

    line: int
    """Line of the manifest holding the row (for messages)."""
    package: str
    version: str
    pattern: str
    """Path or glob inside the package, relative to its root."""
    kind: str
    language: str
    """Language of speech (e.g. ``en``, ``fr-CA``); empty for other kinds."""
    licence: str
    split: str
    note: str


@dataclass(frozen=True)
class RecordingEntry:
    """One written file of a recordings folder, with where it came from."""

    path: str
    """The file, relative to the recordings folder."""
    package: str
    version: str
    """The version of the .deb actually used."""
    path_in_package: str
    licence: str
    kind: str
    language: str
    split: str
    seconds: float
    text: str | None = None
    """What the recording says, where its package writes it down (:mod:`transcripts`)."""


def read_manifest(path: Path) -> list[Source]:
    """Parse the manifest strictly; a bad header or row (or a reserved package) is a one-line
    KwsError naming the file and line, raised before anything is downloaded."""
    sources = [
        _source(path, line, values)
        for line, values in debian_sounds.manifest_rows(
            path,
            COLUMNS,
            "recordings manifest",
            "training.data recordings",
            required=("package", "version", "path", "kind", "licence", "split"),
        )
    ]
    if not sources:
        raise KwsError(f"{path}: the recordings manifest lists no recordings")
    return sources


def _source(path: Path, line: int, values: dict[str, str]) -> Source:
    where = f"{path} line {line}"
    if values["kind"] not in KINDS:
        raise KwsError(f"{where}: kind {values['kind']!r} is not one of {', '.join(KINDS)}")
    if values["split"] not in SPLITS:
        raise KwsError(f"{where}: split {values['split']!r} is not one of {', '.join(SPLITS)}")
    if values["kind"] == "speech" and not values["language"]:
        raise KwsError(f"{where}: speech needs a language")
    pattern = values["path"].removeprefix("./").lstrip("/")
    return Source(
        line, values["package"], values["version"], pattern, values["kind"],
        values["language"], values["licence"], values["split"], values["note"],
    )  # fmt: skip


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over package paths as a regex: ``**`` matches across folders, ``*`` and ``?``
    within one, ``[...]``/``[!...]`` a character class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def flat_name(path_in_package: str) -> str:
    """The file name a package path is written under: ``usr/share/`` dropped, folders joined
    with ``_``, spaces made ``-``, a ``.gz`` suffix dropped, the suffix kept unless it is
    ``.wav``."""
    flat = path_in_package.removeprefix("usr/share/").replace("/", "_")
    flat = re.sub(r"\s+", "-", flat).removesuffix(".gz")
    return flat.removesuffix(".wav").removesuffix(".WAV")


def _written(folder: Path, flat: str) -> list[Path] | None:
    """The finished output files of one recording, or None if it is not (completely) written."""
    whole = folder / f"{flat}.wav"
    if whole.is_file():
        return [whole]
    parts = sorted(folder.glob(f"{glob_escape(flat)}-part*of*.wav"))
    match = re.fullmatch(r".*-part\d+of(\d+)\.wav", parts[0].name) if parts else None
    if match and len(parts) == int(match.group(1)):
        return parts
    return None


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters bracketed, for Path.glob."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def pieces(audio: np.ndarray, max_seconds: float | None = None) -> list[np.ndarray]:
    """``audio`` whole, or cut into the fewest equal pieces no longer than ``max_seconds``
    (default :data:`MAX_PIECE_SECONDS`)."""
    limit = max_seconds or MAX_PIECE_SECONDS
    count = max(1, math.ceil(len(audio) / (limit * SAMPLE_RATE)))
    return list(np.array_split(audio, count)) if count > 1 else [audio]


def trim_rir(rir: np.ndarray) -> np.ndarray:
    """An impulse response (float) from just before its peak to where the energy still to come
    falls :data:`RIR_FLOOR_DB` below the total, peak-normalized to int16."""
    start = max(0, int(np.argmax(np.abs(rir))) - round(RIR_LEAD_SECONDS * SAMPLE_RATE))
    rir = rir[start:].astype(np.float64)
    remaining = np.cumsum((rir**2)[::-1])[::-1]
    if remaining[0] <= 0:
        raise AudioFileError("silent impulse response")
    end = int(np.count_nonzero(remaining > remaining[0] * 10 ** (RIR_FLOOR_DB / 10)))
    rir = rir[: max(end, 1)]
    scaled = rir / np.abs(rir).max() * RIR_PEAK * 32767
    return np.rint(scaled).astype(np.int16)


def gunzip(path: Path) -> Path:
    """``NAME.gz`` decompressed beside it as ``NAME``; a broken one is an AudioFileError."""
    plain = path.with_suffix("")
    try:
        with gzip.open(path) as packed, plain.open("wb") as out:
            shutil.copyfileobj(packed, out)
    except (OSError, EOFError, zlib.error) as exc:
        raise AudioFileError(f"{path}: cannot decompress ({exc})") from None
    return plain


def _decode(path: Path, kind: str) -> np.ndarray:
    audio = read_audio(gunzip(path) if path.suffix == ".gz" else path)
    if kind == "rir":
        first = dataclasses.replace(audio, samples=audio.samples[:, :1], channels=1)
        return trim_rir(to_mono_int16(first, SAMPLE_RATE).astype(np.float64) / 32768)
    return to_mono_int16(audio, SAMPLE_RATE)


def _deb_version(deb: Path) -> str:
    """The version in a cached .deb's file name (``pkg_1%3a2.0-1_all.deb`` → ``1:2.0-1``)."""
    parts = deb.name.split("_")
    return parts[1].replace("%3a", ":").replace("%3A", ":") if len(parts) >= 3 else "?"


def _entries(
    out: Path, files: list[Path], source: Source, member: str, version: str
) -> list[RecordingEntry]:
    return [_entry(out, f, source, member, version) for f in files]


def _entry(out: Path, file: Path, source: Source, member: str, version: str) -> RecordingEntry:
    seconds = round(open_wav(file).frames / SAMPLE_RATE, 3)
    return RecordingEntry(
        str(file.relative_to(out)), source.package, version, member, source.licence,
        source.kind, source.language, source.split, seconds,
    )  # fmt: skip


Job = tuple[Source, str, Path, str]
"""A row, the package path it matched, the output folder and the flattened name."""


def build(
    out: Path,
    manifest: Path = DEFAULT_MANIFEST,
    cache: Path | None = None,
    report: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    transcripts_manifest: Path | None = transcripts.DEFAULT_MANIFEST,
) -> dict[str, object]:
    """Write every listed recording under ``out`` and ``out/recordings.json``; return the summary.

    A package that cannot be fetched, a pattern that matches nothing and a file that will not
    decode are each reported as one line (via ``report``) naming the package and path, and left
    out; the summary's ``errors`` counts them. A file that decodes to no samples at all (some
    packages ship such files) is left out with a note on stderr, counted as ``empty``. The rows
    of ``transcripts_manifest`` describing this manifest's packages give the recordings' texts.
    """
    sources = read_manifest(manifest)
    said = [  # only the rows of packages this manifest takes recordings from
        t
        for t in (transcripts.read_manifest(transcripts_manifest) if transcripts_manifest else [])
        if t.describes in {s.package for s in sources}
    ]
    cache = cache or out / "debs"
    entries: list[RecordingEntry] = []
    errors = empty = 0
    by_package: dict[str, list[Source]] = {}
    for source in sources:
        by_package.setdefault(source.package, []).append(source)
    with tqdm(total=0, desc="recordings", unit="file") as progress:
        for package, group in by_package.items():
            try:
                deb = debian_sounds.download_deb(package, group[0].version, cache)
                members = debian_sounds.list_members(deb)
            except KwsError as exc:
                for source in group:
                    report(f"{package}: {source.pattern}: {exc}")
                errors += len(group)
                continue
            jobs, unmatched = _jobs(out, group, members)
            for source in unmatched:
                report(f"{package}: {source.pattern} matches nothing in {deb.name}")
            errors += len(unmatched)
            progress.total += len(jobs)
            progress.refresh()
            written, failed, skipped = _package(out, deb, jobs, progress, report)
            entries += written
            errors += failed
            empty += skipped
    texts = transcripts.load(said, cache, report) if said else {}
    entries = [
        dataclasses.replace(e, text=texts.get((e.package, transcripts.stem(e.path_in_package))))
        for e in entries
    ]
    summary = summarize(entries)
    summary["errors"] = errors
    summary["empty"] = empty
    _write_index(out, entries, summary, manifest)
    return summary


def _jobs(out: Path, group: list[Source], members: list[str]) -> tuple[list[Job], list[Source]]:
    """The files of one package each row takes (a file two rows match goes with the first),
    and the rows that match nothing."""
    jobs: list[Job] = []
    unmatched: list[Source] = []
    taken: set[str] = set()
    for source in group:
        pattern = glob_regex(source.pattern)
        matched = [m for m in members if pattern.fullmatch(m) and m not in taken]
        taken.update(matched)
        if not matched:
            unmatched.append(source)
        folder = out / source.split / source.kind / source.package
        jobs += [(source, m, folder, flat_name(m)) for m in matched]
    return jobs, unmatched


def _package(
    out: Path, deb: Path, jobs: list[Job], progress: tqdm, report: Callable[[str], None]
) -> tuple[list[RecordingEntry], int, int]:
    """Index the jobs already written, extract and write the rest; return the entries, the
    files that failed and the empty files left out."""
    version = _deb_version(deb)
    entries: list[RecordingEntry] = []
    todo = []
    for source, member, folder, flat in jobs:
        done = _written(folder, flat)
        if done is None:
            todo.append((source, member, folder, flat))
            continue
        entries += _entries(out, done, source, member, version)
        progress.update(1)
    if not todo:
        return entries, 0, 0
    errors = empty = 0
    with tempfile.TemporaryDirectory(prefix="kws-recordings-") as tmp:
        debian_sounds.extract(deb, [member for _, member, _, _ in todo], Path(tmp))
        for source, member, folder, flat in todo:
            progress.update(1)
            try:
                audio = _decode(Path(tmp) / member, source.kind)
            except EmptyAudioError:
                tqdm.write(
                    f"note: {source.package}: {member}: no audio samples, left out", file=sys.stderr
                )
                empty += 1
                continue
            except AudioFileError as exc:
                report(f"{source.package}: {member}: {str(exc).split(': ', 1)[-1]}")
                errors += 1
                continue
            entries += _entries(out, _write(folder, flat, audio), source, member, version)
    return entries, errors, empty


def _write(folder: Path, flat: str, audio: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    parts = pieces(audio)
    if len(parts) == 1:
        names = [folder / f"{flat}.wav"]
    else:
        names = [folder / f"{flat}-part{i}of{len(parts)}.wav" for i in range(1, len(parts) + 1)]
    for name, part in zip(names, parts, strict=True):
        write_wav(name, part, SAMPLE_RATE)
    return names


def summarize(entries: Iterable[RecordingEntry]) -> dict[str, object]:
    """Hours by split and kind, files, packages and speech languages."""
    entries = list(entries)
    hours = {s: {k: 0.0 for k in KINDS} for s in SPLITS}
    for e in entries:
        hours[e.split][e.kind] += e.seconds / 3600
    return {
        "hours": {s: {k: round(h, 3) for k, h in by_kind.items()} for s, by_kind in hours.items()},
        "total_hours": round(sum(e.seconds for e in entries) / 3600, 3),
        "files": len(entries),
        "rirs": {s: sum(e.kind == "rir" and e.split == s for e in entries) for s in SPLITS},
        "packages": sorted({e.package for e in entries}),
        "speech_languages": sorted({e.language for e in entries if e.kind == "speech"}),
        "speech_transcribed_hours": {
            s: round(sum(e.seconds for e in entries if e.split == s and e.text) / 3600, 3)
            for s in SPLITS
        },
    }


def _write_index(
    out: Path, entries: list[RecordingEntry], summary: dict[str, object], manifest: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = {
        "manifest": manifest.name,
        "summary": summary,
        "recordings": [dataclasses.asdict(e) for e in sorted(entries, key=lambda e: e.path)],
    }
    atomic_write_bytes(out / INDEX_FILE, json.dumps(index, indent=1).encode())


def load_index(root: str | Path) -> list[RecordingEntry]:
    """Every entry of ``root/recordings.json``; a missing or unreadable index is one line."""
    path = Path(root) / INDEX_FILE
    if not path.is_file():
        raise KwsError(
            f"{root}: no {INDEX_FILE} (build it with: python -m training.data recordings "
            f"--out {root})"
        )
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["recordings"]
        return [RecordingEntry(**row) for row in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KwsError(f"{path}: not a recordings index ({exc})") from None


def saying_none_of(
    entries: Iterable[RecordingEntry], phrases: Iterable[str]
) -> list[RecordingEntry]:
    """``entries`` but those whose transcript says one of ``phrases`` (a recording without a
    transcript is kept: its words are not known). Numerals count as English words only in
    English recordings: a French prompt's "1" is "un", not "one"."""
    wanted = list(phrases)
    return [
        e for e in entries
        if not (e.text and says(e.text, *wanted, english=e.language.lower().startswith("en")))
    ]  # fmt: skip


def recordings(root: str | Path, split: str, kind: str, avoid: Iterable[str] = ()) -> list[Path]:
    """The written files of one split and kind under ``root``, in index order; with ``avoid``
    (keywords) none whose transcript says one of them."""
    if split not in SPLITS:
        raise KwsError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if kind not in KINDS:
        raise KwsError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    entries = [e for e in load_index(root) if e.split == split and e.kind == kind]
    return [Path(root) / e.path for e in saying_none_of(entries, avoid)]


def impulse_responses(root: str | Path, split: str) -> list[np.ndarray]:
    """The room impulse responses of one split (float64, from the direct sound on, which has
    unit amplitude, as :func:`training.data.augment.room_impulse_response` gives them); a split
    without any is a one-line error."""
    found = []
    for path in recordings(root, split, "rir"):
        rir = load_audio(path, SAMPLE_RATE).astype(np.float64)
        peak = int(np.argmax(np.abs(rir)))
        if rir[peak] == 0:
            raise KwsError(f"{path}: a silent impulse response")
        found.append(rir[peak:] / rir[peak])
    if not found:
        raise KwsError(f"{root}: no {split} impulse responses (kind rir)")
    return found
