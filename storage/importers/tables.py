"""Stream a large numeric table (ratings) in chunks, with errors that name the file and line.

A ratings file can hold 32 million lines, so it is read in blocks of about a million lines,
each parsed by pandas' C parser into numpy arrays: no line ever becomes a Python object.
When a block has a bad value, the error points at its line in the file (counting the header
and blank lines), because that is what a user opens an editor at.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from storage.importers.sources import DataFormatError

# About a million ratings.csv lines (25 bytes each): big enough to be fast, small enough that
# a block's arrays and its rows in flight to SQLite stay well under a few hundred MB.
BLOCK_BYTES = 24 << 20


@dataclass(frozen=True)
class TableSpec:
    """How to read one delimited file: its separator and which column holds what.

    `columns` maps our column name to the header names that may hold it (files with a header)
    or to its position (files without one).
    """

    name: str
    sep: str
    columns: dict[str, tuple[str, ...] | int]
    header: bool = False
    replace_sep: bytes | None = None  # "::" in the .dat files: turned into sep before parsing


@dataclass(frozen=True)
class Chunk:
    """Some rows of a table as pandas columns, and how to map a row back to its file line."""

    frame: pd.DataFrame
    line_of: Callable[[int], int]
    label: str

    def error(self, row: int, message: str) -> DataFormatError:
        return DataFormatError(f"{self.label} line {self.line_of(row)}: {message}")

    def integers(self, column: str, what: str) -> np.ndarray:
        """A column of whole numbers as int64; the first bad value is reported by line."""
        values = self._numbers(column, what)
        fractional = np.flatnonzero(values != np.floor(values))
        if fractional.size:
            row = int(fractional[0])
            raw = self.frame[column].iloc[row]
            raise self.error(row, f"{what} {_show(raw)} is not a whole number")
        return values.astype(np.int64)

    def floats(self, column: str, what: str) -> np.ndarray:
        """A column of numbers as float64; the first bad value is reported by line."""
        return self._numbers(column, what)

    def _numbers(self, column: str, what: str) -> np.ndarray:
        raw = self.frame[column]
        numeric = raw if pd.api.types.is_numeric_dtype(raw) else pd.to_numeric(raw, errors="coerce")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            shown = raw.iloc[row]
            if pd.isna(shown) or str(shown).strip() == "":
                raise self.error(row, f"{what} is missing")
            raise self.error(row, f"{what} {_show(shown)} is not a number")
        return values


def _show(value: object) -> str:
    """A value as the user wrote it, quoted: 'x', '1.5'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(str(value).strip())


def _blocks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    """The file in blocks of about `size` bytes, each ending at a line end."""
    rest = b""
    while block := fh.read(size):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            rest = block
            continue
        rest = block[cut:]
        yield block[:cut]
    if rest:
        yield rest + b"\n"


def _without_blank_rows(
    frame: pd.DataFrame, first: int
) -> tuple[pd.DataFrame, Callable[[int], int]]:
    """Drop rows that came from blank lines; row i of the result → its line in the file.

    pandas parsed every line (skip_blank_lines=False), so row i is line `first + i` until
    blank ones are dropped; checking parsed rows is much cheaper than scanning the bytes.
    """
    rest_empty = frame.iloc[:, 1:].isna().all(axis=1).to_numpy()
    lead = frame.iloc[:, 0]
    if pd.api.types.is_numeric_dtype(lead):
        lead_empty = lead.isna().to_numpy()
    else:
        lead_empty = (lead.isna() | (lead.astype(str).str.strip() == "")).to_numpy()
    blank = rest_empty & lead_empty
    if not blank.any():
        return frame, lambda row: first + row
    kept = np.flatnonzero(~blank)
    return frame.iloc[kept].reset_index(drop=True), lambda row: first + int(kept[row])


def _header_positions(spec: TableSpec, header: str) -> tuple[dict[str, int], int]:
    """Column positions from a header line; `user_id:token` counts as `user_id`."""
    names = [h.split(":", 1)[0].strip().strip('"') for h in header.rstrip("\r\n").split(spec.sep)]
    positions: dict[str, int] = {}
    for column, accepted in spec.columns.items():
        assert isinstance(accepted, tuple)
        match = next((names.index(a) for a in accepted if a in names), None)
        if match is None:
            raise DataFormatError(
                f"{spec.name} line 1: no {accepted[0]!r} column (the header has "
                f"{', '.join(repr(n) for n in names)})"
            )
        positions[column] = match
    return positions, len(names)


def _bad_field_count(data: bytes, sep: str, expected: int, first: int) -> str:
    """Find the first line with the wrong number of fields, for the error message."""
    for row, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        found = line.count(sep.encode()) + 1
        if found != expected:
            return f"line {first + row}: expected {expected} fields, found {found}"
    return "a line has the wrong number of fields"


def read_chunks(
    fh: BinaryIO,
    spec: TableSpec,
    *,
    block_bytes: int = BLOCK_BYTES,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Chunk]:
    """Parse the file block by block; each chunk's frame has our column names."""
    blocks = _blocks(fh, block_bytes)
    line = 1
    if spec.header:
        first_block = next(blocks, b"")
        end = first_block.find(b"\n") + 1
        header = first_block[:end].decode("utf-8-sig", errors="replace")
        if spec.replace_sep:
            header = header.replace(spec.replace_sep.decode(), spec.sep)
        positions, width = _header_positions(spec, header)
        if on_bytes:
            on_bytes(end)
        blocks = _chain(first_block[end:], blocks)
        line = 2
    else:
        positions = {c: p for c, p in spec.columns.items() if isinstance(p, int)}
        width = max(positions.values()) + 1
    for block in blocks:
        if not block:
            continue
        lines_in_block = block.count(b"\n")
        data = block.replace(spec.replace_sep, spec.sep.encode()) if spec.replace_sep else block
        frame, line_of = _without_blank_rows(_parse(data, spec, width, line), line)
        wanted = frame.iloc[:, sorted(positions.values())]
        by_position = {p: c for c, p in positions.items()}
        wanted.columns = [by_position[p] for p in sorted(positions.values())]
        yield Chunk(wanted, line_of, spec.name)
        line += lines_in_block
        if on_bytes:
            on_bytes(len(block))


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _parse(data: bytes, spec: TableSpec, width: int, first: int) -> pd.DataFrame:
    """One block through pandas' C parser; a ragged line becomes an error naming it."""
    if not data:
        return pd.DataFrame({i: pd.Series(dtype=np.float64) for i in range(width)})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(data),
                sep=spec.sep,
                header=None,
                names=list(range(width)),
                index_col=False,
                engine="c",
                encoding="latin-1",
                skip_blank_lines=False,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        where = _bad_field_count(data, spec.sep, width, first)
        raise DataFormatError(f"{spec.name} {where}") from None
    if len(frame.columns) != width:
        raise DataFormatError(f"{spec.name} {_bad_field_count(data, spec.sep, width, first)}")
    return frame
