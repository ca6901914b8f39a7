"""Ratings.from_arrays: the same ratings make the same matrices, whatever order they come in
(storage reads them ordered by user and movie, which skips the sort)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.data import Ratings, rating_times
from recommender.vocab import Vocab


def ratings_table(seed: int = 0) -> tuple[np.ndarray, ...]:
    """(user id, movie id, stars, time) rows, each pair once, in storage's order."""
    rng = np.random.default_rng(seed)
    drawn = np.stack([rng.integers(1, 60, 900), rng.integers(1, 90, 900)], axis=1)
    pairs = np.unique(drawn, axis=0)  # sorted by user, then movie; each pair once
    users, movies = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    stars = rng.integers(1, 11, len(pairs)).astype(np.float32) / 2
    times = rng.integers(900_000_000, 1_700_000_000, len(pairs))
    return users, movies, stars, times


def assert_same(a: Ratings, b: Ratings) -> None:
    assert a.users == b.users and a.items == b.items and a.scale == b.scale
    assert (a.matrix != b.matrix).nnz == 0 and a.matrix.dtype == b.matrix.dtype
    assert (a.timestamps != b.timestamps).nnz == 0
    assert np.array_equal(rating_times(a), rating_times(b))


@pytest.mark.parametrize("catalogue", [None, Vocab(np.arange(5, 80))])  # some movies dropped
def test_ordered_and_shuffled_ratings_make_the_same_matrices(catalogue) -> None:
    users, movies, stars, times = ratings_table()
    ordered = Ratings.from_arrays(users, movies, stars, times, items=catalogue)
    shuffle = np.random.default_rng(1).permutation(len(users))
    shuffled = Ratings.from_arrays(
        users[shuffle], movies[shuffle], stars[shuffle], times[shuffle], items=catalogue
    )
    assert_same(ordered, shuffled)
    # every kept rating is where it belongs
    u, m = ordered.users.index(int(users[10])), ordered.items.index(int(movies[10]))
    if m >= 0:
        assert ordered.matrix[u, m] == stars[10]
        assert ordered.timestamps[u, m] == times[10]


def test_users_out_of_order_or_a_pair_twice_still_make_the_right_matrix() -> None:
    users, movies, stars, times = ratings_table(2)
    # A newer user with a smaller id read after the others, as two reads concatenated give.
    later = np.concatenate([users[users > 5], users[users <= 5]])
    order = np.concatenate([np.flatnonzero(users > 5), np.flatnonzero(users <= 5)])
    built = Ratings.from_arrays(later, movies[order], stars[order], times[order])
    assert_same(built, Ratings.from_arrays(users, movies, stars, times))
    # The same pair twice (no store makes it; the matrix sums them, as it always did).
    doubled = Ratings.from_arrays(
        np.append(users, users[0]), np.append(movies, movies[0]),
        np.append(stars, np.float32(1.0)), np.append(times, times[0]),
    )  # fmt: skip
    assert doubled.matrix[0, doubled.items.index(int(movies[0]))] == stars[0] + 1.0
    assert doubled.nnz == len(users)
