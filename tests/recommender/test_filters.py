"""Which movies a request's filters let through."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.filters import Filters, allowed

NAMES = ["Comedy", "Horror", "Romance"]
# Movies × genres: a comedy, a horror film, a horror comedy, a romance, an unknown year.
GENRES = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]]))
YEARS = np.array([1995, 1980, 1996, 1995, 0])
COUNTS = np.array([10, 20, 30, 40, 50])


def passing(filters: Filters) -> list[int]:
    return np.flatnonzero(allowed(filters, YEARS, COUNTS, NAMES, GENRES)).tolist()


def test_genres_are_any_of_them_unless_every_one_is_asked_for():
    both = frozenset({"Comedy", "Horror"})
    assert passing(Filters(genres=both)) == [0, 1, 2, 4]
    assert passing(Filters(genres=both, every_genre=True)) == [2]
    assert passing(Filters(genres=frozenset({"Comedy", "Western"}), every_genre=True)) == []


def test_one_year_is_a_range_of_one():
    assert passing(Filters(year_min=1995, year_max=1995)) == [0, 3]
