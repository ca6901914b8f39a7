"""External ids (movie ids, user ids) ↔ contiguous matrix indices."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

# Lookups of at least TABLE_FROM ids go through an id → index table when the largest id is
# below TABLE_PER_ID × the number of ids + TABLE_MIN (the table's int64s: a few MB at most).
TABLE_FROM, TABLE_PER_ID, TABLE_MIN = 4096, 8, 1_000_000


class Vocab:
    """An ordered, immutable set of int64 ids with vectorised id → index lookup."""

    __slots__ = ("_order", "_sorted", "_table", "ids")

    def __init__(self, ids: Iterable[int] | np.ndarray) -> None:
        arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        if arr.ndim != 1:
            raise ValueError("ids must be one-dimensional")
        order = np.argsort(arr, kind="stable")
        sorted_ids = arr[order]
        if len(sorted_ids) > 1 and np.any(sorted_ids[1:] == sorted_ids[:-1]):
            raise ValueError("ids must be unique")
        arr.setflags(write=False)
        self.ids = arr
        self._order = order
        self._sorted = sorted_ids
        self._table: np.ndarray | None = None  # id → index for small ids, made on first need

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, movie_id: object) -> bool:
        return isinstance(movie_id, (int, np.integer)) and self.index(int(movie_id)) >= 0

    def index(self, external_id: int) -> int:
        """The index of one id, or -1 if it is not in the vocabulary."""
        return int(self.index_of(np.array([external_id]))[0])

    def index_of(self, external_ids: np.ndarray | Iterable[int]) -> np.ndarray:
        """Indices of many ids at once; -1 for ids not in the vocabulary."""
        ids = np.asarray(external_ids, dtype=np.int64).ravel()
        if len(self._sorted) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        table = self._lookup_table() if len(ids) >= TABLE_FROM else None
        if table is not None:  # a gather instead of a binary search: 25M ids 1.5 s → 0.6 s
            inside = (ids >= 0) & (ids < len(table))
            return np.where(inside, table[np.where(inside, ids, 0)], -1)
        pos = np.searchsorted(self._sorted, ids)
        pos = np.clip(pos, 0, len(self._sorted) - 1)
        found = self._sorted[pos] == ids
        return np.where(found, self._order[pos], -1).astype(np.int64)

    def _lookup_table(self) -> np.ndarray | None:
        """index by id, −1 where none, when the ids are small enough (ML ids are, at most a
        few per index): None otherwise."""
        if self._table is None:
            low, high = int(self._sorted[0]), int(self._sorted[-1])
            if low < 0 or high >= TABLE_PER_ID * len(self._sorted) + TABLE_MIN:
                return None
            table = np.full(high + 1, -1, dtype=np.int64)
            table[self._sorted] = self._order
            table.setflags(write=False)
            self._table = table
        return self._table

    def fingerprint(self) -> str:
        """A short hash of the ids in order: artifacts record it so a mismatch is caught."""
        return hashlib.sha256(np.ascontiguousarray(self.ids).tobytes()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and np.array_equal(self.ids, other.ids)

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return f"Vocab({len(self)} ids, {self.fingerprint()})"
