"""What the real speech recordings say, where their packages write it down, so that a recording
saying a keyword is never used as that keyword's negative.

Asterisk's prompt packages say "press 1", "digits/7" and "no" in English and Spanish; a digits or
commands model trained (or mined, or calibrated) on them as negatives learns that a real person
saying "one" is not "one". The manifest (``training/data/manifests/debian-transcripts.csv``)
names, per row, a package and a file or glob in it holding transcripts, their ``format``, and
the recordings package (``describes``) and folder inside it (``root``) the transcripts are of:

- ``asterisk``: ``core-sounds-<lang>.txt`` of the ``asterisk-core-sounds-<lang>`` package, lines
  ``<id>: <text>`` where ``<id>`` is the prompt's path under the voice's folder without suffix;
- ``tuxpaint``: a stamp's ``<name>.txt``, whose first plain line is the English description
  (said in ``<name>_desc.ogg``) and whose ``<lang>.utf8=<text>`` lines are the other languages'
  (``<name>_desc_<lang>.ogg``).

Transcripts are keyed by the described package and the described file's path without its
suffix; :mod:`training.data.recordings` writes each recording's ``text`` into its index.
"""

from __future__ import annotations

import gzip
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kws.errors import KwsError
from training.data import debian_sounds

DEFAULT_MANIFEST = Path(__file__).parent / "manifests" / "debian-transcripts.csv"
COLUMNS = ("package", "version", "path", "format", "describes", "root", "licence", "note")
FORMATS = ("asterisk", "tuxpaint")
AUDIO_SUFFIXES = (".wav", ".ogg", ".gsm", ".opus", ".flac", ".mp3", ".gz")


@dataclass(frozen=True)
class TranscriptSource:
    """One manifest row: transcript files in a package and the recordings they are of."""

    line: int
    package: str
    version: str
    pattern: str
    format: str
    describes: str
    root: str
    licence: str


def read_manifest(path: Path) -> list[TranscriptSource]:
    """Parse the manifest strictly (a bad row or a reserved package is one line naming the file
    and line, raised before anything is downloaded)."""
    rows = []
    for line, values in debian_sounds.manifest_rows(
        path, COLUMNS, "transcripts manifest", "training.data recordings",
        required=("package", "version", "path", "format", "describes", "licence"),
    ):  # fmt: skip
        if values["format"] not in FORMATS:
            raise KwsError(
                f"{path} line {line}: format {values['format']!r} is not one of "
                f"{', '.join(FORMATS)}"
            )
        if values["format"] == "asterisk" and not values["root"]:
            raise KwsError(f"{path} line {line}: an asterisk transcript needs a root folder")
        rows.append(
            TranscriptSource(
                line, values["package"], values["version"], values["path"].lstrip("./"),
                values["format"], values["describes"], values["root"].strip("/"),
                values["licence"],
            )
        )  # fmt: skip
    return rows


def stem(member: str) -> str:
    """A package path without its audio suffixes (``a/b/1.wav`` and ``a/b/1.gsm`` -> ``a/b/1``)."""
    path = PurePosixPath(member)
    while path.suffix.lower() in AUDIO_SUFFIXES:
        path = path.with_suffix("")
    return str(path)


def parse_asterisk(text: str, root: str) -> dict[str, str]:
    """``<id>: <text>`` lines (``;`` comments) as {``root/<id>``: text}."""
    found = {}
    for line in text.splitlines():
        key, colon, said = line.partition(":")
        if colon and key.strip() and not line.lstrip().startswith(";"):
            found[f"{root}/{key.strip()}"] = said.strip()
    return found


def parse_tuxpaint(member: str, text: str) -> dict[str, str]:
    """A stamp's description file as {``<folder>/<name>_desc[_<lang>]``: text}."""
    base = str(PurePosixPath(member).with_suffix(""))
    found = {}
    for line in text.splitlines():
        key, equals, said = line.partition("=")
        if not equals and line.strip() and f"{base}_desc" not in found:
            found[f"{base}_desc"] = line.strip()
        elif equals and key.endswith(".utf8"):
            found[f"{base}_desc_{key.removesuffix('.utf8').strip()}"] = said.strip()
    return found


def _read_text(path: Path, member: str) -> str:
    """The text of an extracted file (gunzipped); one that will not read is a KwsError naming
    ``member``, its path in the package."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise KwsError(f"{member}: cannot read ({exc})") from None
    return raw.decode("utf-8", errors="replace")


def load(
    sources: list[TranscriptSource], cache: Path, report: Callable[[str], None]
) -> dict[tuple[str, str], str]:
    """{(described package, described path without suffix): text} of every row; a package that
    cannot be fetched or a pattern that matches nothing is one reported line, and its
    recordings simply have no transcript."""
    from training.data.recordings import glob_regex

    texts: dict[tuple[str, str], str] = {}
    for source in sources:
        try:
            deb = debian_sounds.download_deb(source.package, source.version, cache)
            pattern = glob_regex(source.pattern)
            members = [m for m in debian_sounds.list_members(deb) if pattern.fullmatch(m)]
            if not members:
                raise KwsError(f"{source.pattern} matches nothing in {deb.name}")
            with tempfile.TemporaryDirectory(prefix="kws-transcripts-") as tmp:
                debian_sounds.extract(deb, members, Path(tmp))
                for member in members:
                    text = _read_text(Path(tmp) / member, member)
                    parsed = (
                        parse_asterisk(text, source.root)
                        if source.format == "asterisk"
                        else parse_tuxpaint(member, text)
                    )
                    texts.update({(source.describes, k): v for k, v in parsed.items()})
        except KwsError as exc:
            report(f"{source.package}: transcripts: {str(exc).removeprefix(f'{source.package}: ')}")
    return texts
