"""The fixed splits: which ratings a model learns from and which it is scored on.

The protocol is described in docs/evaluation.md ("Protocol").

Every split draws one uniform random key per rating from `numpy.random.default_rng(seed)` and
sends a user's ratings with the smallest keys to test (the temporal split: their latest, the
keys only breaking ties between equal times), so the same seed gives the same split. Train and
test keep the input's user and item vocabularies (the same shapes).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from recommender.data import Ratings

RELEVANCE = 4.0  # a test rating at least this is relevant
# Given-N: the share of the eligible users cut to N ratings (new users among established ones).
COLD_SHARE = 0.2
# Given-N validation averages this many carves (each a different seeded draw of cold users):
# one carve of 20% of the users decides little.
GIVEN_N_CARVES = 3
PROTOCOLS = ("holdout", "temporal", "given-N", "new-movies")
# New movies: this share of the movies with at least NEW_MOVIES_MIN ratings leave training.
NEW_MOVIES_SHARE = 0.1
NEW_MOVIES_MIN = 5


class EvaluationError(ValueError):
    """The inputs cannot be evaluated (mismatched shapes, nothing to score, bad parameters)."""


def scored_users(test: Ratings, relevance: float = RELEVANCE) -> np.ndarray:
    """Row indices of users with at least one relevant test rating (the users we score)."""
    rel = test.matrix >= relevance
    return np.flatnonzero(np.diff(sp.csr_matrix(rel).indptr) > 0)


def holdout_split(
    ratings: Ratings, test_share: float = 0.2, min_ratings: int = 5, seed: int = 0
) -> tuple[Ratings, Ratings]:
    """Per user with at least `min_ratings` ratings, a random `test_share` of them go to test.

    The test count is round(test_share × n), at least 1; users below the threshold stay wholly
    in train. Train and test keep the input's user and item vocabularies (same shapes).
    """
    return split_by_rank(ratings, holdout_counts(ratings, test_share, min_ratings), seed)


def holdout_counts(ratings: Ratings, test_share: float = 0.2, min_ratings: int = 5) -> np.ndarray:
    """How many of each user's ratings the holdout and temporal splits send to test:
    round(test_share × n), at least 1, for users with at least `min_ratings`; else 0."""
    if not 0.0 < test_share < 1.0:
        raise EvaluationError(f"test_share must be between 0 and 1, got {test_share}")
    counts = np.diff(ratings.matrix.indptr)
    return np.where(
        counts >= max(min_ratings, 2), np.maximum(1, np.floor(test_share * counts + 0.5)), 0
    ).astype(np.int64)


def temporal_split(
    ratings: Ratings, test_share: float = 0.2, min_ratings: int = 5, seed: int = 0
) -> tuple[Ratings, Ratings]:
    """Per user with at least `min_ratings` ratings, their latest `test_share` by time go to
    test (round(test_share × n), at least 1): a model sees only each user's past. Ratings at the
    same second are ordered by the seeded random key. Needs timestamps."""
    if ratings.timestamps is None:
        raise EvaluationError("the temporal protocol needs rating times; these ratings have none")
    n_test = holdout_counts(ratings, test_share, min_ratings)
    return split_by_rank(ratings, n_test, seed, latest_first=True)


def new_movies_split(
    ratings: Ratings,
    share: float = NEW_MOVIES_SHARE,
    min_ratings: int = NEW_MOVIES_MIN,
    seed: int = 0,
) -> tuple[Ratings, Ratings]:
    """Item cold start: a seeded `share` of the movies with at least `min_ratings` ratings
    leave training entirely; every rating of theirs is test, every other rating train. They
    are movies added after the last training: only content can speak for them
    (`new_movies` finds them again; models rank only them)."""
    if not 0.0 < share < 1.0:
        raise EvaluationError(f"share must be between 0 and 1, got {share}")
    matrix = ratings.matrix.tocsr()
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    eligible = np.flatnonzero(counts >= min_ratings)
    if len(eligible) < 2:
        raise EvaluationError(f"fewer than 2 movies have {min_ratings} ratings: none to hold out")
    rng = np.random.default_rng([seed, 3])
    chosen = rng.choice(eligible, max(1, round(share * len(eligible))), replace=False)
    new = np.zeros(matrix.shape[1], dtype=bool)
    new[chosen] = True
    matrix.sort_indices()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    is_test = new[matrix.indices]
    times = _aligned_times(ratings, matrix)
    return (
        _subset(ratings, matrix, times, rows, ~is_test),
        _subset(ratings, matrix, times, rows, is_test),
    )


def new_movies(train: Ratings, test: Ratings) -> np.ndarray:
    """The movies a new-movies split held out: rated in test and never in train (a mask)."""
    n_items = train.matrix.shape[1]
    in_train = np.bincount(train.matrix.indices, minlength=n_items) > 0
    in_test = np.bincount(sp.csr_matrix(test.matrix).indices, minlength=n_items) > 0
    return in_test & ~in_train


def candidates(protocol: str, train: Ratings, test: Ratings) -> np.ndarray | None:
    """The movies models rank under `protocol`: the new movies under "new-movies", else None
    (the whole catalogue)."""
    return new_movies(train, test) if protocol == "new-movies" else None


def given_n_split(
    ratings: Ratings,
    n: int,
    min_ratings: int = 20,
    seed: int = 0,
    cold_share: float = COLD_SHARE,
) -> tuple[Ratings, Ratings]:
    """Cold-start split: users with at least `min_ratings` ratings keep `n` random ones in
    train (their whole history) and the rest go to test; everyone else stays in train.

    `cold_share` cuts only that share of the eligible users (chosen at random), so the others
    stay whole in train: new users joining an established community, the protocol of
    docs/evaluation.md (default 20%). 1.0 cuts every eligible user (on MovieLens every user has
    ≥ 20 ratings, so train then holds only N ratings per user: a different question).
    """
    if n < 1:
        raise EvaluationError(f"given-N needs N ≥ 1, got {n}")
    if min_ratings <= n:
        raise EvaluationError(f"min_ratings ({min_ratings}) must exceed N ({n})")
    if not 0.0 < cold_share <= 1.0:
        raise EvaluationError(f"cold_share must be in (0, 1], got {cold_share}")
    counts = np.diff(ratings.matrix.indptr)
    eligible = counts >= min_ratings
    if cold_share < 1.0:
        candidates = np.flatnonzero(eligible)
        chosen = np.random.default_rng([seed, 1]).choice(
            candidates, round(cold_share * len(candidates)), replace=False
        )
        eligible = np.zeros_like(eligible)
        eligible[chosen] = True
    n_test = np.where(eligible, counts - n, 0).astype(np.int64)
    return split_by_rank(ratings, n_test, seed)


def split(
    ratings: Ratings, protocol: str, seed: int = 0, cold_share: float = COLD_SHARE
) -> tuple[Ratings, Ratings]:
    """The split a protocol name stands for: "holdout", "temporal" or "given-N" (e.g.
    "given-5")."""
    n = parse_protocol(protocol)
    if protocol == "temporal":
        return temporal_split(ratings, seed=seed)
    if protocol == "new-movies":
        return new_movies_split(ratings, seed=seed)
    if n is None:
        return holdout_split(ratings, seed=seed)
    return given_n_split(ratings, n, seed=seed, cold_share=cold_share)


def validation_split(
    train: Ratings, protocol: str, seed: int = 0, cold_share: float = COLD_SHARE
) -> tuple[Ratings, Ratings]:
    """A validation split carved from train only, the same way as the test split.

    Uses a different stream (seed + 1_000_003) so validation never mirrors the test draw.
    Tuning fits on the first part and scores on the second; test is never looked at.
    A temporal carve holds out each user's latest train ratings. A given-N carve cuts
    `cold_share` of the users with at least min(2N, 20) train ratings (and more than N); users
    already cut to N in train cannot be cut again. When no train user has enough left for a
    given-N carve, validation is a holdout carve, and if users have fewer than 5 ratings even
    for that, one that leaves one in five out of users with at least 2.
    """
    seed = seed + 1_000_003
    n = parse_protocol(protocol)
    if protocol == "temporal":
        return temporal_split(train, seed=seed)
    if protocol == "new-movies":
        return new_movies_split(train, seed=seed)
    if n is None:
        return holdout_split(train, seed=seed)
    cut_from = max(n + 1, min(2 * n, 20))
    fit, valid = given_n_split(train, n, min_ratings=cut_from, seed=seed, cold_share=cold_share)
    for min_ratings in (5, 2):
        if len(scored_users(valid)) > 0:
            break
        fit, valid = holdout_split(train, min_ratings=min_ratings, seed=seed)
    return fit, valid


def validation_splits(
    train: Ratings, protocol: str, seed: int = 0, cold_share: float = COLD_SHARE
) -> list[tuple[Ratings, Ratings]]:
    """The validation carves tuning averages over: one for holdout and temporal (every user
    is in it), `GIVEN_N_CARVES` for given-N (each cuts another seeded draw of users), so the
    noise of a few hundred cold users is averaged down below the differences it decides."""
    if parse_protocol(protocol) is None:
        return [validation_split(train, protocol, seed, cold_share)]
    return [
        validation_split(train, protocol, seed + 7919 * carve, cold_share)
        for carve in range(GIVEN_N_CARVES)
    ]


def parse_protocol(protocol: str) -> int | None:
    """None for "holdout", "temporal" and "new-movies", N for "given-N"; anything else is an
    error naming the choices."""
    if protocol in ("holdout", "temporal", "new-movies"):
        return None
    prefix = "given-"
    if protocol.startswith(prefix) and protocol[len(prefix) :].isdigit():
        n = int(protocol[len(prefix) :])
        if n >= 1:
            return n
    raise EvaluationError(
        f"unknown protocol {protocol!r}: use 'holdout', 'temporal', 'new-movies' or 'given-N' "
        "(e.g. given-5)"
    )


def split_by_rank(
    ratings: Ratings, n_test: np.ndarray, seed: int, latest_first: bool = False
) -> tuple[Ratings, Ratings]:
    """Send each user's `n_test[u]` ratings with the smallest random keys to test (with
    `latest_first`, their latest ratings, the keys breaking ties between equal times).

    Every rating draws its key, so a user's test ratings do not depend on who else is tested;
    only the users with some test ratings are ranked (validation tests a sample of 2,000 out
    of 160,000: ranking the 25M ratings of everyone took 13 s)."""
    matrix = ratings.matrix.tocsr()
    matrix.sort_indices()
    n_users = matrix.shape[0]
    rows = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
    keys = np.random.default_rng(seed).random(matrix.nnz)
    times = _aligned_times(ratings, matrix)
    ranked = np.flatnonzero(n_test[rows] > 0)  # in CSR order: grouped by user, ascending
    user = rows[ranked]
    if latest_first and times is not None:
        order = np.lexsort((keys[ranked], -times[ranked], user))  # by user, newest first, key
    else:
        order = np.lexsort((keys[ranked], user))  # by user, then key
    first = np.searchsorted(user, user)  # where each rating's user starts in `ranked`
    rank = np.empty(len(ranked), dtype=np.int64)
    rank[order] = np.arange(len(ranked)) - first[order]
    is_test = np.zeros(matrix.nnz, dtype=bool)
    is_test[ranked] = rank < n_test[user]
    return (
        _subset(ratings, matrix, times, rows, ~is_test),
        _subset(ratings, matrix, times, rows, is_test),
    )


def _aligned_times(ratings: Ratings, matrix: sp.csr_matrix) -> np.ndarray | None:
    """Timestamps in the same order as `matrix.data`, or None if there are none."""
    if ratings.timestamps is None:
        return None
    times = ratings.timestamps.tocsr()
    times.sort_indices()
    same_shape = np.array_equal(times.indptr, matrix.indptr)
    if same_shape and np.array_equal(times.indices, matrix.indices):
        return np.asarray(times.data, dtype=np.float64)
    coo = matrix.tocoo()
    return np.asarray(times[coo.row, coo.col], dtype=np.float64).ravel()


def _subset(
    ratings: Ratings,
    matrix: sp.csr_matrix,
    times: np.ndarray | None,
    rows: np.ndarray,
    keep: np.ndarray,
) -> Ratings:
    """The ratings where `keep` is true, with the same vocabularies and shape."""
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]))))
    part = sp.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape, dtype=np.float32
    )
    part_times = None
    if times is not None:
        part_times = sp.csr_matrix(
            (times[keep], matrix.indices[keep], indptr), shape=matrix.shape, dtype=np.float64
        )
    return replace(ratings, matrix=part, timestamps=part_times)
