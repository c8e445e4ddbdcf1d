"""``python -m training.data debian-sounds --out DIR``: the built-in real environmental-sound
corpus, cut from recordings shipped inside Debian packages, written in the ESC-50 layout.

The manifest (``training/data/manifests/environment-sounds-debian.csv``, shipped in the project,
by default: class, package, deb_version, path_in_package, window_start_s, and each file's
licence) names each recording. Packages are fetched with ``apt-get download PKG=VERSION`` into a
cache folder (the available version, with a warning, if that exact one is gone), only the listed
files are extracted (``dpkg-deb --fsys-tarfile | tar -x``), decoded (WAV/OGG/MP3), downmixed and
resampled to 16 kHz (soxr), and 5 s are cut from ``window_start_s``. A path of the form
``ARCHIVE.zip!MEMBER`` names a member of a zip archive that the package ships (0 A.D. keeps its
sounds in ``public.zip``; Quake-style games use ``.pk3`` zips): the archive is extracted from
the package and the member read from it. A recording shorter than a clip is trimmed of
leading/trailing silence and zero-padded at the end, as ESC-50 pads its clips. The fold is the
package (folds numbered in sorted package order, as many as there are packages), so
cross-validation on the folds is leave-one-package-out: clips from one game's sound set never
sit on both sides of a split. Games copy sounds from each other, so a recording whose decoded
audio is identical to one already taken from another package is left out (one line says which),
or it would sit on both sides of a split.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import AudioFileError, KwsError
from kws.wavfile import to_mono_int16, write_wav
from training.data.loaders.base import read_audio
from training.data.reserved import refuse_reserved

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "manifests" / "environment-sounds-debian.csv"
"""The built-in manifest, found next to this module so that it does not depend on the cwd."""
SAMPLE_RATE = 16000
CLIP_SECONDS = 5.0
"""ESC-50's clip length."""
SILENCE_DBFS = -50.0
"""Leading/trailing audio quieter than this (peak, relative to full scale) is trimmed from
recordings shorter than a clip before padding."""
COLUMNS = ("class", "package", "deb_version", "path_in_package", "window_start_s")
ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
ESC10 = frozenset(
    {
        "dog",
        "rooster",
        "rain",
        "sea_waves",
        "crackling_fire",
        "crying_baby",
        "sneezing",
        "clock_tick",
        "helicopter",
        "chainsaw",
    }
)
"""ESC-50's ESC-10 subset, for the esc10 column."""


@dataclass(frozen=True)
class Recording:
    """One manifest row: a file inside a Debian package and the window to take from it."""

    row: int
    """1-based data row in the manifest; the clip's ``src_file``."""
    category: str
    package: str
    version: str
    path: str
    """Path inside the package, relative to its root (no leading ``./``)."""
    start_s: float


def manifest_rows(
    path: Path,
    columns: Sequence[str],
    what: str,
    tool: str,
    required: Sequence[str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, stripped values of ``columns``) of each data row of a CSV manifest of
    Debian packages. An unreadable file, a missing column, an empty ``required`` value (default:
    every column) or a reserved package (``../shared/RESERVED.md``, refused for ``tool``) is a
    one-line KwsError naming the file and line, raised before anything is downloaded."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KwsError(f"{path}: cannot read the {what} ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise KwsError(f"{path}: not a {what} (no column {missing[0]!r})")
    for number, row in enumerate(reader, start=2):
        values = {c: (row.get(c) or "").strip() for c in columns}
        empty = [c for c in (columns if required is None else required) if not values[c]]
        if empty:
            raise KwsError(f"{path} line {number}: empty {empty[0]}")
        try:
            refuse_reserved(values["package"], tool)
        except KwsError as exc:
            raise KwsError(f"{path} line {number}: {exc}") from None
        yield number, values


def read_manifest(path: Path) -> list[Recording]:
    """Parse the manifest strictly: a bad header or row is a KwsError naming the line."""
    rows = []
    for number, values in manifest_rows(
        path, COLUMNS, "sound manifest", "training.data debian-sounds"
    ):
        try:
            start = float(values["window_start_s"])
        except ValueError:
            start = -1.0
        if not start >= 0:
            raise KwsError(f"{path} line {number}: window_start_s must be a number >= 0")
        rows.append(
            Recording(
                number - 1, values["class"], values["package"], values["deb_version"],
                values["path_in_package"].removeprefix("./").lstrip("/"), start,
            )
        )  # fmt: skip
    if not rows:
        raise KwsError(f"{path}: the sound manifest lists no recordings")
    return rows


def _run(command: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False)


def _cached_deb(package: str, version: str | None, cache: Path) -> Path | None:
    pattern = f"{package}_{urllib.parse.quote(version, safe='+~') if version else '*'}_*.deb"
    found = sorted(cache.glob(pattern.replace("%3A", "%3a")))
    return found[-1] if found else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def download_deb(package: str, version: str, cache: Path) -> Path:
    """The ``.deb`` of ``package`` at ``version`` from ``cache``, fetched with ``apt-get
    download`` if absent; if that version is gone, the available one, with a warning."""
    cache.mkdir(parents=True, exist_ok=True)
    deb = _cached_deb(package, version, cache)
    if deb is not None:
        return deb
    result = _run(["apt-get", "download", f"{package}={version}"], cwd=cache)
    deb = _cached_deb(package, version, cache)
    if result.returncode == 0 and deb is not None:
        return deb
    result = _run(["apt-get", "download", package], cwd=cache)
    deb = _cached_deb(package, None, cache)
    if result.returncode != 0 or deb is None:
        raise KwsError(f"apt-get download {package} failed ({_last_line(result.stderr)})")
    print(
        f"training.data: warning: {package} {version} is not available; using {deb.name}",
        file=sys.stderr,
    )
    return deb


def list_members(deb: Path) -> list[str]:
    """Paths of the regular files and symlinks inside ``deb`` (relative, no leading ``./``), in
    package order; a package dpkg-deb cannot read is a KwsError naming it."""
    fsys = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert fsys.stdout is not None
    try:
        with tarfile.open(fileobj=fsys.stdout, mode="r|") as tar:
            names = [m.name for m in tar if m.isfile() or m.issym()]
    except tarfile.TarError:
        names = []
    fsys.stdout.close()
    problem = fsys.stderr.read().decode(errors="replace") if fsys.stderr else ""
    if fsys.wait() != 0:
        raise KwsError(f"{deb}: dpkg-deb cannot read the package ({_last_line(problem)})")
    return [name.removeprefix("./") for name in names]


def extract(deb: Path, paths: Sequence[str], dest: Path) -> None:
    """Extract only ``paths`` (relative to the package root) from ``deb`` into ``dest``; paths
    that turn out to be symlinks inside the package get their targets extracted too."""
    wanted = list(dict.fromkeys(paths))
    for _ in range(4):  # symlink chains are short
        if not wanted:  # tar given no names would extract everything
            return
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        tar = _run_tar(fsys, dest, wanted)
        fsys.wait()
        if fsys.returncode not in (0, None) and tar.returncode == 0:
            raise KwsError(f"{deb}: dpkg-deb cannot read the package")
        targets = []
        for path in wanted:
            link = dest / path
            if link.is_symlink() and not link.exists():
                target = (link.parent / link.readlink()).resolve()
                targets.append(str(target.relative_to(dest.resolve())))
        if not targets:
            return
        wanted = targets


def _run_tar(
    fsys: subprocess.Popen[bytes], dest: Path, paths: list[str]
) -> subprocess.CompletedProcess[bytes]:
    # Names go through a file: thousands of them would not fit on a command line.
    with tempfile.NamedTemporaryFile("w", suffix=".members", encoding="utf-8") as names:
        names.write("".join(f"./{p}\n" for p in paths))
        names.flush()
        # tar exits non-zero when a member is missing; the caller checks each file instead.
        result = subprocess.run(
            ["tar", "-x", "-C", str(dest), "--no-same-owner", "--verbatim-files-from",
             "-T", names.name],
            stdin=fsys.stdout,
            capture_output=True,
            check=False,
        )  # fmt: skip
    if fsys.stdout is not None:
        fsys.stdout.close()
    return result


ARCHIVE_SEPARATOR = "!"
"""Separates an archive's path inside the package from the member's path inside the archive."""


def split_archive_path(path: str) -> tuple[str, str]:
    """(path inside the package, member inside that zip archive or "") of a manifest path."""
    outer, _, member = path.partition(ARCHIVE_SEPARATOR)
    return outer, member


def archive_member(archive: Path, member: str, dest: Path) -> Path:
    """``member`` of the zip ``archive`` written under ``dest`` (kept if already there); a file
    that is not a zip, or lacks the member, is a KwsError naming both."""
    target = dest / member
    if target.is_file():
        return target
    try:
        with zipfile.ZipFile(archive) as zipped:
            data = zipped.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise KwsError(f"{archive.name}: cannot read member {member} ({exc})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def cut_clip(audio: np.ndarray, start_s: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``CLIP_SECONDS`` of int16 ``audio`` from ``start_s``; a recording shorter than a clip is
    trimmed of leading/trailing silence first; whatever is short is zero-padded at the end."""
    n = round(CLIP_SECONDS * sample_rate)
    if len(audio) < n:
        loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 32768 * 10 ** (SILENCE_DBFS / 20))
        audio = audio[loud[0] : loud[-1] + 1] if len(loud) else audio[:0]
    else:
        start = round(start_s * sample_rate)
        audio = audio[start : start + n]
    clip = np.zeros(n, dtype=np.int16)
    clip[: len(audio)] = audio
    return clip


def package_folds(recordings: Sequence[Recording]) -> dict[str, int]:
    """Fold per package, 1-based in sorted package order."""
    return {p: i for i, p in enumerate(sorted({r.package for r in recordings}), start=1)}


def build(
    out: Path,
    manifest: Path = DEFAULT_MANIFEST,
    cache: Path | None = None,
    report: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, int]:
    """Write ``out/audio/*.wav`` and ``out/meta/esc50.csv``; return counts.

    A failed download or a file missing from its package is reported as one line (via
    ``report``) naming the package and path, and that clip is left out.
    """
    recordings = read_manifest(manifest)
    cache = cache or out / "debs"
    folds = package_folds(recordings)
    classes = sorted({r.category for r in recordings})
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    errors = 0
    by_package: dict[str, list[Recording]] = {}
    for recording in recordings:
        by_package.setdefault(recording.package, []).append(recording)
    taken: dict[str, str] = {}  # decoded recording's digest -> the package it was taken from
    progress = tqdm(total=len(recordings), desc="debian sounds", unit="clip")
    for package, group in by_package.items():
        with tempfile.TemporaryDirectory(prefix="debian-sounds-") as tmp:
            try:
                deb = download_deb(package, group[0].version, cache)
                extract(deb, [split_archive_path(r.path)[0] for r in group], Path(tmp))
            except KwsError as exc:
                for r in group:
                    report(f"{package}: {r.path}: {exc}")
                errors += len(group)
                progress.update(len(group))
                continue
            for r in group:
                progress.update(1)
                outer, member = split_archive_path(r.path)
                source = Path(tmp) / outer
                if not source.is_file():
                    report(f"{package}: {outer} is not in {deb.name}")
                    errors += 1
                    continue
                try:
                    if member:
                        source = archive_member(source, member, Path(tmp) / "members" / outer)
                    audio = to_mono_int16(read_audio(source), SAMPLE_RATE)
                except (AudioFileError, KwsError) as exc:
                    report(f"{package}: {r.path}: {str(exc).split(': ', 1)[-1]}")
                    errors += 1
                    continue
                digest = hashlib.sha1(audio.tobytes()).hexdigest()
                if taken.setdefault(digest, package) != package:
                    report(f"{package}: {r.path} is the same recording as one in {taken[digest]}")
                    errors += 1
                    continue
                target = classes.index(r.category)
                name = f"{folds[package]}-{r.row}-A-{target}.wav"
                write_wav(out / "audio" / name, cut_clip(audio, r.start_s), SAMPLE_RATE)
                rows.append(
                    {
                        "filename": name, "fold": folds[package], "target": target,
                        "category": r.category, "esc10": r.category in ESC10, "src_file": r.row,
                        "take": "A", "package": package, "deb_version": r.version,
                        "path_in_package": r.path, "window_start_s": r.start_s,
                    }
                )  # fmt: skip
    progress.close()
    _write_meta(out, rows)
    return {"clips": len(rows), "errors": errors, "classes": len(classes), "folds": len(folds)}


def _write_meta(out: Path, rows: list[dict[str, object]]) -> None:
    """meta/esc50.csv with ESC-50's columns (plus the clip's provenance after them)."""
    rows = sorted(rows, key=lambda row: str(row["filename"]))
    buffer = io.StringIO()
    columns = [*ESC50_COLUMNS, "package", "deb_version", "path_in_package", "window_start_s"]
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "meta").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "meta" / "esc50.csv", buffer.getvalue().encode())
