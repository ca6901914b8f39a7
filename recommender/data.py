"""The inputs every model trains on, as arrays: ratings in index space and the catalogue.

`recommender` never sees SQL or Telegram: the caller (CLI, training job, evaluation) reads
storage and builds these objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.vocab import Vocab


@dataclass(frozen=True)
class Catalog:
    """What the recommender knows about movies, aligned with `items` (index i ↔ items.ids[i])."""

    items: Vocab
    titles: tuple[str, ...]
    years: np.ndarray  # int32, 0 where unknown
    genres: tuple[tuple[str, ...], ...]
    # Extra content features per item: (kind, value, weight), e.g. ("actor", "m.0abc", 1.0).
    features: tuple[tuple[tuple[str, str, float], ...], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.items)
        lengths = {len(self.titles), len(self.years), len(self.genres)}
        if self.features:
            lengths.add(len(self.features))
        if lengths != {n}:
            raise ValueError(f"catalog columns must all have {n} entries, got {sorted(lengths)}")

    @classmethod
    def build(
        cls,
        movie_ids: Sequence[int],
        titles: Sequence[str],
        years: Sequence[int | None],
        genres: Sequence[Sequence[str]],
        features: Mapping[int, Sequence[tuple[str, str, float]]] | None = None,
    ) -> Catalog:
        items = Vocab(movie_ids)
        feats = features or {}
        return cls(
            items=items,
            titles=tuple(titles),
            years=np.array([y or 0 for y in years], dtype=np.int32),
            genres=tuple(tuple(g) for g in genres),
            features=tuple(tuple(feats.get(int(m), ())) for m in items.ids),
        )

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Ratings:
    """Explicit ratings as a users × items CSR matrix of stars (0 = not rated).

    `timestamps` is a CSR matrix of the same shape and sparsity holding Unix times (seconds).
    """

    users: Vocab
    items: Vocab
    matrix: sp.csr_matrix  # float32 stars
    timestamps: sp.csr_matrix | None = None
    scale: tuple[float, float] = (1.0, 5.0)

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.users), len(self.items)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match vocabularies "
                f"({len(self.users)} users, {len(self.items)} items)"
            )

    @classmethod
    def from_arrays(
        cls,
        user_ids: np.ndarray,
        movie_ids: np.ndarray,
        stars: np.ndarray,
        timestamps: np.ndarray | None = None,
        items: Vocab | None = None,
        scale: tuple[float, float] | None = None,
    ) -> Ratings:
        """Build from parallel arrays (one entry per rating).

        `items` fixes the item index space (e.g. the whole catalogue, so movies nobody rated
        still have a column); ratings of movies outside it are dropped.
        """
        user_ids = np.asarray(user_ids)
        movie_ids = np.asarray(movie_ids)
        stars = np.asarray(stars, dtype=np.float32)
        if not (len(user_ids) == len(movie_ids) == len(stars)):
            raise ValueError("user_ids, movie_ids and stars must have the same length")
        items = items or Vocab(np.unique(movie_ids))
        if scale is None:
            scale = (float(stars.min()), float(stars.max())) if len(stars) else (1.0, 5.0)
        cols = items.index_of(movie_ids)
        keep = cols >= 0
        if not keep.all():
            user_ids, cols, stars = user_ids[keep], cols[keep], stars[keep]
            timestamps = None if timestamps is None else np.asarray(timestamps)[keep]
        ts = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        built = _sorted_csr(user_ids, cols, stars, ts, len(items))
        if built is not None:
            users, matrix, times = built
            return cls(users, items, matrix, times, scale)
        users = Vocab(np.unique(user_ids))
        rows = users.index_of(user_ids)
        shape = (len(users), len(items))
        matrix = sp.csr_matrix((stars, (rows, cols)), shape=shape, dtype=np.float32)
        times = None
        if ts is not None:
            times = sp.csr_matrix((ts, (rows, cols)), shape=shape, dtype=np.float64)
        matrix.sum_duplicates()
        return cls(users, items, matrix, times, scale)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)


def _sorted_csr(
    user_ids: np.ndarray,
    cols: np.ndarray,
    stars: np.ndarray,
    times: np.ndarray | None,
    n_items: int,
) -> tuple[Vocab, sp.csr_matrix, sp.csr_matrix | None] | None:
    """The CSR matrices straight from ratings already in (user id, column) order, each pair
    once, as storage reads them: no sort and no COO copies (25M ratings: ~2.5 s and a few GB
    less). None when they are not in that order (then `from_arrays` sorts them)."""
    n = len(user_ids)
    if n < 2:
        return None
    step = user_ids[1:] != user_ids[:-1]
    if np.any(user_ids[1:] < user_ids[:-1]) or not np.all(step | (cols[1:] > cols[:-1])):
        return None
    starts = np.flatnonzero(np.concatenate(([True], step)))
    index = np.int32 if max(n, n_items) < np.iinfo(np.int32).max else np.int64
    indptr = np.append(starts, n).astype(index)
    indices = cols.astype(index)
    shape = (len(starts), n_items)
    matrix = sp.csr_matrix((stars.copy(), indices, indptr), shape=shape, dtype=np.float32)
    matrix.has_canonical_format = True  # sorted and unique within each row, checked above
    dated = None
    if times is not None:
        dated = sp.csr_matrix((times, indices.copy(), indptr.copy()), shape=shape)
        dated.has_canonical_format = True
    return Vocab(user_ids[starts]), matrix, dated


def rating_times(ratings: Ratings) -> np.ndarray | None:
    """Rating times (Unix seconds) in `ratings.matrix.tocsr()` data order, or None when there
    are none or they do not line up with the ratings (then they are ignored)."""
    if ratings.timestamps is None or not ratings.nnz:
        return None
    times = ratings.timestamps.tocsr()
    if not times.has_canonical_format:  # sorted and summed already: no copy to make
        times = times.copy()
        times.sum_duplicates()
    matrix = ratings.matrix.tocsr()
    if times.nnz != matrix.nnz or not np.array_equal(times.indices, matrix.indices):
        return None
    return np.asarray(times.data, dtype=np.float64)


def user_moments(ratings: Ratings, users: np.ndarray) -> np.ndarray | None:
    """When each of these users (row indices) rated: the median time of their ratings, NaN for
    a user with none; None when the ratings carry no times."""
    if ratings.timestamps is None:
        return None
    times = ratings.timestamps.tocsr()[np.asarray(users, dtype=np.int64)]
    out = np.full(times.shape[0], np.nan)
    for u in range(times.shape[0]):
        row = times.data[times.indptr[u] : times.indptr[u + 1]]
        if len(row):
            out[u] = np.median(row)
    return out


def genre_matrix(
    catalog: Catalog, names: Sequence[str] | None = None
) -> tuple[list[str], sp.csr_matrix]:
    """Genre names (by default every genre in the catalogue, sorted) and the items × genres
    0/1 matrix (float32 CSR) over them; a movie's genres not among `names` are left out."""
    if names is None:
        names = sorted({g for genres in catalog.genres for g in genres})
    names = [str(g) for g in names]
    position = {g: j for j, g in enumerate(names)}
    pairs = sorted(
        {
            (i, position[g])
            for i, genres in enumerate(catalog.genres)
            for g in genres
            if g in position
        }
    )
    rows, cols = zip(*pairs, strict=True) if pairs else ((), ())
    matrix = sp.csr_matrix(
        (np.ones(len(pairs), dtype=np.float32), (rows, cols)), shape=(len(catalog), len(names))
    )
    return names, matrix


def counts_by(rows: sp.csr_matrix, from_stars: float, labels: np.ndarray, width: int) -> np.ndarray:
    """Per user row, how many of its ratings of at least `from_stars` fall in each label
    (`labels`: one per catalogue movie, in 0…width−1): users × width, float64. Straight from
    the rows' arrays: a sparse product builds several matrices, most of the cost for one user."""
    rows = rows if sp.isspmatrix_csr(rows) else sp.csr_matrix(rows)
    n = rows.shape[0]
    user = np.repeat(np.arange(n), np.diff(rows.indptr))
    keep = rows.data >= from_stars
    cells = user[keep] * width + labels[rows.indices[keep]]
    return np.bincount(cells, minlength=n * width).reshape(n, width).astype(np.float64)


def history_row(ratings: Mapping[int, float], items: Vocab) -> sp.csr_matrix:
    """One user's ratings (movie id → stars) as a 1 × n_items CSR row; unknown movies dropped."""
    ids = np.fromiter(ratings.keys(), dtype=np.int64, count=len(ratings))
    stars = np.fromiter(ratings.values(), dtype=np.float32, count=len(ratings))
    cols = items.index_of(ids)
    keep = np.flatnonzero(cols >= 0)
    order = keep[np.argsort(cols[keep], kind="stable")]  # canonical: sorted column indices
    indptr = np.array([0, len(order)], dtype=np.int32)
    # Built from its three arrays: the (row, col) constructor's conversion is most of the cost
    # of a one-row matrix.
    return sp.csr_matrix(
        (stars[order], cols[order].astype(np.int32), indptr), shape=(1, len(items))
    )
