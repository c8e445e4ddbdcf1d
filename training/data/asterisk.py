"""Real voices for speaker verification: recorded prompts and spoken words from Debian packages.

The manifest (``training/data/manifests/speakers-debian.csv``, by default) names, per row, a
package and version, a glob of files inside it (the syntax of
:func:`training.data.recordings.glob_regex`), the speaker who recorded them, the language, the
split, how the label is known (``evidence``: the credit, copyright line or file layout that
says who spoke) and the licence. Several rows may name one speaker (Allison Smith recorded the
English and Spanish Asterisk prompts); a speaker sits in one split only, so validation and test
voices are never heard in training.

``build_asterisk`` fetches each package with the machinery of :mod:`training.data.debian_sounds`
(``apt-get download`` into a cache, only the matched files extracted), decodes every file (WAV,
Ogg, Opus, Asterisk's raw GSM), resamples it to 16 kHz, trims leading/trailing silence and writes
``OUT/<split>/<speaker>/<flattened path>.wav``, the split-folder layout
:func:`training.data.loaders.folders` reads. A glob of the form ``ARCHIVE!MEMBER_GLOB`` (the
separator of :mod:`training.data.debian_sounds`) reads members of zip archives the package ships
(0 A.D.'s ``public.zip``, OpenArena's ``.pk3``): the archives matching ``ARCHIVE`` are extracted
from the package and their members matching ``MEMBER_GLOB`` decoded. Files under a ``silence``
folder and those shorter than :data:`MIN_SECONDS` after trimming (beeps, single letters) are
skipped, and so are byte-identical copies of one recording under another name
(:func:`remove_duplicates`).
``OUT/speakers.json``
lists every speaker with its split, packages, evidence and counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import AudioFileError, KwsError
from kws.wavfile import to_mono_int16, write_wav
from training.data import debian_sounds
from training.data.loaders.base import SPLITS, read_audio
from training.data.recordings import flat_name, glob_regex
from training.data.tts import trim_silence

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "manifests" / "speakers-debian.csv"
SAMPLE_RATE = 16000
MIN_SECONDS = 0.4
"""Prompts shorter than this after trimming (single letters, beeps) are skipped."""
SKIP_FOLDERS = frozenset({"silence"})
"""Folders that hold no speech."""
SPEAKERS_FILE = "speakers.json"
COLUMNS = ("package", "version", "path", "speaker", "language", "split", "evidence", "licence")


@dataclass(frozen=True)
class VoiceSource:
    """One manifest row: files inside a Debian package recorded by one named speaker."""

    line: int
    package: str
    version: str
    pattern: str
    """Glob inside the package, relative to its root."""
    speaker: str
    language: str
    split: str
    evidence: str
    """What in the package says who spoke (credits, copyright, file layout)."""
    licence: str


Downloader = Callable[[str, str, Path], Path]
"""(package, version, cache) -> the .deb (:func:`training.data.debian_sounds.download_deb`)."""


def read_manifest(path: Path) -> list[VoiceSource]:
    """Parse the speaker manifest strictly: a bad header or row, a reserved package or a speaker
    in two splits is a one-line KwsError naming the file and line, before any download."""
    sources = []
    splits: dict[str, tuple[str, int]] = {}
    rows = debian_sounds.manifest_rows(path, COLUMNS, "speaker manifest", "training.data asterisk")
    for line, values in rows:
        where = f"{path} line {line}"
        split, speaker = values["split"], values["speaker"]
        if split not in SPLITS:
            raise KwsError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
        if "/" in speaker or speaker.startswith("."):
            raise KwsError(f"{where}: speaker {speaker!r} is not a folder name")
        first = splits.setdefault(speaker, (split, line))
        if first[0] != split:
            raise KwsError(
                f"{where}: speaker {speaker} is in {split} but in {first[0]} on line {first[1]}"
                " (a speaker sits in one split)"
            )
        sources.append(
            VoiceSource(
                line, values["package"], values["version"],
                values["path"].removeprefix("./").lstrip("/"), speaker, values["language"],
                split, values["evidence"], values["licence"],
            )
        )  # fmt: skip
    if not sources:
        raise KwsError(f"{path}: the speaker manifest lists no recordings")
    return sources


def _matches(pattern: str, members: Sequence[str]) -> list[str]:
    regex = glob_regex(pattern)
    return [m for m in members if regex.fullmatch(m) and not SKIP_FOLDERS & set(m.split("/")[:-1])]


def _archive_jobs(source: VoiceSource, archives: Sequence[str], tmp: Path) -> list[str]:
    """``ARCHIVE!MEMBER`` for every member of the extracted zip ``archives`` (package paths
    under ``tmp``) that matches the member glob of ``source``; an unreadable zip is a KwsError."""
    inner = debian_sounds.split_archive_path(source.pattern)[1]
    jobs = []
    for archive in archives:
        try:
            with zipfile.ZipFile(tmp / archive) as zipped:
                names = zipped.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise KwsError(f"{source.package}: {archive} is not a readable zip ({exc})") from None
        jobs += [f"{archive}{debian_sounds.ARCHIVE_SEPARATOR}{m}" for m in _matches(inner, names)]
    return jobs


def _extract_members(members: Sequence[str], tmp: Path) -> None:
    """Write each ``ARCHIVE!MEMBER`` of ``members`` to ``tmp/members/ARCHIVE/MEMBER`` (the
    archives already extracted under ``tmp``), opening each archive once."""
    by_archive: dict[str, list[str]] = {}
    for member in members:
        outer, inner = debian_sounds.split_archive_path(member)
        by_archive.setdefault(outer, []).append(inner)
    for outer, inners in by_archive.items():
        with zipfile.ZipFile(tmp / outer) as zipped:
            for inner in inners:
                target = _local(tmp, f"{outer}{debian_sounds.ARCHIVE_SEPARATOR}{inner}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zipped.read(inner))


def _local(tmp: Path, member: str) -> Path:
    """Where a package path, or an ``ARCHIVE!MEMBER``, is extracted to under ``tmp``."""
    outer, inner = debian_sounds.split_archive_path(member)
    return tmp / "members" / outer / inner if inner else tmp / outer


def read_manifests(paths: Sequence[Path]) -> list[VoiceSource]:
    """:func:`read_manifest` of each file, together: a speaker in two splits across the files
    is a one-line KwsError naming both places."""
    sources: list[VoiceSource] = []
    first: dict[str, tuple[str, Path, int]] = {}
    for path in paths:
        for source in read_manifest(path):
            split, where, line = first.setdefault(source.speaker, (source.split, path, source.line))
            if split != source.split:
                raise KwsError(
                    f"{path} line {source.line}: speaker {source.speaker} is in {source.split} "
                    f"but in {split} in {where} line {line} (a speaker sits in one split)"
                )
            sources.append(source)
    return sources


def build_asterisk(
    out: Path,
    cache: Path,
    manifest: Path | Sequence[Path] = DEFAULT_MANIFEST,
    download: Downloader = debian_sounds.download_deb,
    report: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, dict[str, object]]:
    """Write every manifest speaker's files to ``out/<split>/<speaker>/``; return per-speaker
    counts (also merged into ``out/speakers.json``).

    Existing output files are kept (a rerun resumes). A row that matches nothing and a file that
    will not decode are each one reported line; a package that cannot be fetched or read is a
    KwsError naming it.
    """
    sources = read_manifests([manifest] if isinstance(manifest, Path) else manifest)
    by_package: dict[str, list[VoiceSource]] = {}
    for source in sources:
        by_package.setdefault(source.package, []).append(source)
    summary: dict[str, dict[str, object]] = {}
    for package, group in by_package.items():
        deb = download(package, group[0].version, cache)
        members = debian_sounds.list_members(deb)
        with tempfile.TemporaryDirectory(prefix="kws-speakers-") as tmp:
            outer = {
                s: _matches(debian_sounds.split_archive_path(s.pattern)[0], members) for s in group
            }
            archived = [s for s in group if debian_sounds.split_archive_path(s.pattern)[1]]
            debian_sounds.extract(deb, sorted({a for s in archived for a in outer[s]}), Path(tmp))
            jobs: list[tuple[VoiceSource, str]] = []
            for source in group:
                matched = (
                    _archive_jobs(source, outer[source], Path(tmp))
                    if source in archived
                    else outer[source]
                )
                if not matched:
                    report(f"{package}: {source.pattern} matches nothing in {deb.name}")
                jobs += [(source, m) for m in matched]
            todo = [m for s, m in jobs if not (_target(out, s, m)).is_file()]
            plain = set(members)
            debian_sounds.extract(deb, [m for m in todo if m in plain], Path(tmp))
            _extract_members([m for m in todo if m not in plain], Path(tmp))
            for source, member in tqdm(jobs, desc=package, unit="file"):
                entry = _entry(summary, source, deb.name)
                dest = _target(out, source, member)
                if dest.is_file():
                    entry["utterances"] += 1  # type: ignore[operator]
                    continue
                try:
                    audio = trim_silence(
                        to_mono_int16(read_audio(_local(Path(tmp), member)), SAMPLE_RATE)
                    )
                except AudioFileError as exc:
                    report(f"{package}: {member}: {str(exc).split(': ', 1)[-1]}")
                    entry["skipped"] += 1  # type: ignore[operator]
                    continue
                if len(audio) < MIN_SECONDS * SAMPLE_RATE:
                    entry["skipped"] += 1  # type: ignore[operator]
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                write_wav(dest, audio, SAMPLE_RATE)
                entry["utterances"] += 1  # type: ignore[operator]
    for speaker, entry in summary.items():
        removed = remove_duplicates(out / str(entry["split"]) / speaker)
        entry["utterances"] -= removed  # type: ignore[operator]
        entry["duplicates"] = removed
    _merge_summary(out, summary)
    return summary


def remove_duplicates(folder: Path) -> int:
    """Delete every WAV of ``folder`` whose bytes equal an earlier one's (in name order): some
    packages ship one recording under several names, which would put the same audio in a
    trial's enrollment and test. Returns how many were deleted."""
    seen: set[bytes] = set()
    removed = 0
    for path in sorted(folder.glob("*.wav")):
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest in seen:
            path.unlink()
            removed += 1
        seen.add(digest)
    return removed


def _target(out: Path, source: VoiceSource, member: str) -> Path:
    flat = flat_name(member.replace(debian_sounds.ARCHIVE_SEPARATOR, "/"))
    return out / source.split / source.speaker / f"{flat}.wav"


def _entry(
    summary: dict[str, dict[str, object]], source: VoiceSource, deb: str
) -> dict[str, object]:
    entry = summary.setdefault(
        source.speaker,
        {"split": source.split, "kind": "real", "packages": [], "languages": [],
         "evidence": [], "licences": [], "utterances": 0, "skipped": 0},
    )  # fmt: skip
    for key, value in (
        ("packages", deb),
        ("languages", source.language),
        ("evidence", source.evidence),
        ("licences", source.licence),
    ):
        if value not in entry[key]:  # type: ignore[operator]
            entry[key].append(value)  # type: ignore[attr-defined]
    return entry


def _merge_summary(out: Path, summary: dict[str, dict[str, object]]) -> None:
    """Add ``summary`` to ``out/speakers.json`` (TTS and real speakers share the file)."""
    path = out / SPEAKERS_FILE
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(summary)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(current, indent=1, sort_keys=True).encode())
