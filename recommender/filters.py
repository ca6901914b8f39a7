"""What a user may ask for: picks of some genres, years or popularity only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Filters:
    genres: frozenset[str] = frozenset()  # a pick must have at least one of them…
    every_genre: bool = False  # …or, when set, all of them ("comedy horror")
    year_min: int | None = None
    year_max: int | None = None  # movies of unknown year never pass a year_max
    min_ratings: int = 0  # minimum popularity (number of train ratings)


def allowed(
    filters: Filters | None,
    years: np.ndarray,
    counts: np.ndarray,
    genre_names: Sequence[str],
    genre_matrix: sp.csr_matrix,
) -> np.ndarray:
    """Boolean mask of the movies that pass `filters` (all of them without filters), given
    each movie's release year (0: unknown), number of ratings and genres (items × names)."""
    mask = np.ones(len(years), dtype=bool)
    if filters is None:
        return mask
    if filters.genres:
        wanted = [i for i, g in enumerate(genre_names) if g in filters.genres]
        has = np.asarray((genre_matrix[:, wanted] > 0).sum(axis=1)).ravel()
        mask &= has >= (len(filters.genres) if filters.every_genre else 1)
    if filters.year_min is not None:
        mask &= years >= filters.year_min
    if filters.year_max is not None:
        mask &= (years <= filters.year_max) & (years > 0)
    if filters.min_ratings > 0:
        mask &= counts >= filters.min_ratings
    return mask
