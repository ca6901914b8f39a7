"""Where a data set's files live: a folder, or a zip archive, read in place.

GroupLens zips hold one top-level folder (`ml-latest-small/ratings.csv`); people also unzip
them and point at the folder, or at its parent. `Source` hides the difference, so the
importer opens `ratings.csv` the same way in every case, and a 900 MB zip is streamed
without being extracted.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, BinaryIO

from storage.db import StorageError

# Files that mark a folder as a MovieLens data set (used to step into a single sub-folder).
MARKERS = ("u.data", "ratings.dat", "ratings.csv")
MARKER_SUFFIXES = (".inter",)
# What every zip starts with (a local file header; an empty zip starts with its end record).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Editors on Windows start "UTF-8" text with one; no MovieLens format expects it.
BOM = b"\xef\xbb\xbf"


class DataFormatError(StorageError):
    """The data set's files are missing, unrecognised, or have a bad line (named in the message)."""


def _is_marker(name: str) -> bool:
    return name in MARKERS or name.endswith(MARKER_SUFFIXES)


class Source:
    """The files of one data set, by base name, in a folder or a zip archive."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if self.path.is_dir():
            self._open_folder()
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._open_zip()
        elif self.path.is_file() and _starts_like_a_zip(self.path):
            # A zip's directory is at its end: an interrupted download or copy loses it.
            raise DataFormatError(f"{self.path}: the zip is damaged (truncated?)")
        elif self.path.exists():
            raise DataFormatError(f"{self.path}: neither a folder nor a .zip archive")
        else:
            raise DataFormatError(f"{self.path}: no such file or folder")

    def _open_folder(self) -> None:
        root = self.path
        files = [p for p in root.iterdir() if p.is_file()]
        dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if not any(_is_marker(p.name) for p in files) and len(dirs) == 1:
            root = dirs[0]  # the parent of an unzipped data set
            files = [p for p in root.iterdir() if p.is_file()]
        self.root_name = root.name
        self._members = {p.name: str(p) for p in files}

    def _open_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise DataFormatError(f"{self.path}: the zip is damaged (truncated?): {exc}") from None
        names = [
            n for n in self._zip.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")
        ]
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        prefix = ""
        if len(tops) == 1 and all("/" in n for n in names):
            top = tops.pop()
            prefix = f"{top}/"
            self.root_name = top
        else:
            self.root_name = self.path.stem
        self._members = {n[len(prefix) :]: n for n in names if "/" not in n[len(prefix) :]}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def find_suffix(self, suffix: str) -> str | None:
        """The first file (in name order) whose name ends with `suffix`."""
        found = sorted(n for n in self._members if n.endswith(suffix))
        return found[0] if found else None

    def open(self, name: str) -> BinaryIO:
        """The file as a binary stream, without a leading UTF-8 byte-order mark (every reader,
        headers or not, then sees the first field as written); the caller closes it. A zip
        member that turns out damaged raises DataFormatError."""
        if name not in self._members:
            raise DataFormatError(f"{self.label(name)} is missing")
        stream: io.BufferedReader[Any]
        if self._zip is not None:
            member = self._zip.open(self._members[name])
            stream = io.BufferedReader(_ZipMember(member, self.path))
        else:
            stream = open(self._members[name], "rb")  # noqa: SIM115  # the caller closes it
        if stream.peek(len(BOM)).startswith(BOM):
            stream.read(len(BOM))
        return stream

    def read_text(self, name: str) -> str:
        """A small file's text: UTF-8 if it is valid UTF-8, else Latin-1 (older MovieLens)."""
        with self.open(name) as fh:
            data = fh.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")

    def size(self, name: str) -> int:
        if self._zip is not None:
            return self._zip.getinfo(self._members[name]).file_size
        return Path(self._members[name]).stat().st_size

    def label(self, name: str) -> str:
        """How error messages name a file: its base name (what the user sees in the folder)."""
        return name

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _starts_like_a_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in ZIP_MAGIC


class _ZipMember(io.RawIOBase):
    """A zip member's bytes, its damage (a bad CRC, a cut-off stream) as DataFormatError."""

    def __init__(self, member: IO[bytes], archive: Path) -> None:
        self._member, self._archive = member, archive

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._member.read(len(buffer))
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DataFormatError(
                f"{self._archive}: the zip is damaged (truncated?): {exc}"
            ) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._member.close()
        super().close()
