"""Offline evaluation: the fixed splits and metrics of docs (EVALUATION.md), arrays in, numbers out.

Everything here is pure: `Ratings` and a scorer in, a flat `dict[str, float]` out. The CLI
(`moviebot evaluate` / `tune`) reads the database, calls these functions and prints the report.

Conventions, chosen once so that figures are comparable between runs and models:
- Splits draw one uniform random key per rating from `numpy.random.default_rng(seed)` and send a
  user's ratings with the smallest keys to test, so the same seed gives the same split.
- Top-k lists rank by score, highest first; ties go to the lower item index (catalogue order).
  Items a user rated in train, and items scored -inf or NaN, are never recommended; a user with
  fewer than k such items gets a shorter list (its empty slots count as misses).
- Intra-list diversity is the mean pairwise genre dissimilarity 1 − Jaccard(genres_a, genres_b)
  within a list; two movies that both have no genres count as identical (dissimilarity 0).
- Novelty is the mean −log2 of an item's train popularity share with add-one smoothing,
  (ratings_i + 1) / (total ratings + n_items), so movies nobody rated in train are finite
  (and the most novel).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, genre_matrix, user_moments

RELEVANCE = 4.0
KS = (5, 10, 20)
BATCH_USERS = 1024
# Users per batch shrink on large catalogues so a batch holds about this many scores.
BATCH_CELLS = 20_000_000
RANKING_METRICS = (
    "precision",
    "recall",
    "f1",
    "ndcg",
    "map",
    "hitrate",
    "coverage",
    "diversity",
    "novelty",
)
Progress = Callable[[int, int], None]


class EvaluationError(ValueError):
    """The inputs cannot be evaluated (mismatched shapes, nothing to score, bad parameters)."""


class Scorer(Protocol):
    name: str
    params: dict

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self: ...

    def score(self, rows: sp.csr_matrix) -> np.ndarray: ...


class TimeAware(Protocol):
    """Optional: a model whose scores depend on when the user rated (`uses_time = True`).

    The harness then calls `score(rows, when=…)` / `rank(rows, k, when=…)` with each user's
    moment: the median time of their train ratings (`recommender.data.user_moments`), as a
    user's moment in the bot is when they rate.
    """

    uses_time: bool


class Ranker(Protocol):
    """Optional: a model that makes its own top-k lists (e.g. with a diversity re-rank).

    `rank(rows, k)` returns n × k catalogue indices, best first, -1 for empty slots, never an
    item stored in `rows`. `evaluate_ranking` uses it instead of `score` when present.
    """

    def rank(self, rows: sp.csr_matrix, k: int) -> np.ndarray: ...


class RatingPredictor(Protocol):
    def fit(self, ratings: Ratings, catalog: Catalog) -> Self: ...

    def predict(self, rows: sp.csr_matrix) -> np.ndarray: ...


# ---------------------------------------------------------------------------------------------
# Splits


def holdout_split(
    ratings: Ratings, test_share: float = 0.2, min_ratings: int = 5, seed: int = 0
) -> tuple[Ratings, Ratings]:
    """Per user with at least `min_ratings` ratings, a random `test_share` of them go to test.

    The test count is round(test_share × n), at least 1; users below the threshold stay wholly
    in train. Train and test keep the input's user and item vocabularies (same shapes).
    """
    if not 0.0 < test_share < 1.0:
        raise EvaluationError(f"test_share must be between 0 and 1, got {test_share}")
    counts = np.diff(ratings.matrix.indptr)
    n_test = np.where(
        counts >= max(min_ratings, 2), np.maximum(1, np.floor(test_share * counts + 0.5)), 0
    ).astype(np.int64)
    return _split_by_rank(ratings, n_test, seed)


def given_n_split(
    ratings: Ratings, n: int, min_ratings: int = 20, seed: int = 0, cold_share: float = 1.0
) -> tuple[Ratings, Ratings]:
    """Cold-start split: users with at least `min_ratings` ratings keep `n` random ones in
    train (their whole history) and the rest go to test; everyone else stays in train.

    `cold_share` < 1 cuts only that share of the eligible users (chosen at random), so the
    others stay whole in train: new users joining an established community. The default,
    1.0, is the protocol of EVALUATION.md (on MovieLens every user has ≥ 20 ratings, so train
    then holds only N ratings per user).
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
    return _split_by_rank(ratings, n_test, seed)


def split(
    ratings: Ratings, protocol: str, seed: int = 0, cold_share: float = 1.0
) -> tuple[Ratings, Ratings]:
    """The split a protocol name stands for: "holdout" or "given-N" (e.g. "given-5")."""
    n = parse_protocol(protocol)
    if n is None:
        return holdout_split(ratings, seed=seed)
    return given_n_split(ratings, n, seed=seed, cold_share=cold_share)


def validation_split(
    train: Ratings, protocol: str, seed: int = 0, cold_share: float = 1.0
) -> tuple[Ratings, Ratings]:
    """A validation split carved from train only, the same way as the test split.

    Uses a different stream (seed + 1_000_003) so validation never mirrors the test draw.
    Tuning fits on the first part and scores on the second; test is never looked at.
    A given-N carve cuts every user with at least min(2N, 20) train ratings (and more than
    N): train parts hold fewer ratings a user than the full data, and users left whole would
    make the carve look warmer than the test. Under given-N the cold users keep only N train
    ratings, so when no train user has enough left for a given-N carve (MovieLens: every user
    was cut), validation is a holdout carve, and if users have fewer than 5 ratings even for
    that, one that leaves one in five out of users with at least 2.
    """
    seed = seed + 1_000_003
    n = parse_protocol(protocol)
    if n is None:
        return holdout_split(train, seed=seed)
    cut_from = max(n + 1, min(2 * n, 20))
    fit, valid = given_n_split(train, n, min_ratings=cut_from, seed=seed, cold_share=cold_share)
    for min_ratings in (5, 2):
        if len(scored_users(valid)) > 0:
            break
        fit, valid = holdout_split(train, min_ratings=min_ratings, seed=seed)
    return fit, valid


def parse_protocol(protocol: str) -> int | None:
    """None for "holdout", N for "given-N"; anything else is an error naming the choices."""
    if protocol == "holdout":
        return None
    prefix = "given-"
    if protocol.startswith(prefix) and protocol[len(prefix) :].isdigit():
        n = int(protocol[len(prefix) :])
        if n >= 1:
            return n
    raise EvaluationError(
        f"unknown protocol {protocol!r}: use 'holdout' or 'given-N' (e.g. given-5)"
    )


def _split_by_rank(ratings: Ratings, n_test: np.ndarray, seed: int) -> tuple[Ratings, Ratings]:
    """Send each user's `n_test[u]` ratings with the smallest random keys to test."""
    matrix = ratings.matrix.tocsr()
    matrix.sort_indices()
    n_users = matrix.shape[0]
    rows = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
    keys = np.random.default_rng(seed).random(matrix.nnz)
    order = np.lexsort((keys, rows))  # by user, then key; rows are already grouped
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[rows[order]]
    is_test = rank < n_test[rows]
    times = _aligned_times(ratings, matrix)
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
    return replace(ratings, matrix=part, timestamps=part_times, extra=dict(ratings.extra))


# ---------------------------------------------------------------------------------------------
# Top-k lists


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the k best items per row, best first; ties go to the lower index.

    Entries of `exclude` (stored positions, e.g. the user's train ratings), -inf and NaN scores
    are never picked; rows with fewer than k candidates are padded with -1.
    """
    scores = np.array(scores, dtype=np.result_type(scores, np.float32), copy=True)
    scores[np.isnan(scores)] = -np.inf
    if exclude is not None:
        ex = exclude.tocoo()
        scores[ex.row, ex.col] = -np.inf
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    if k <= 0 or n_rows == 0:
        return np.full((n_rows, max(k, 0)), -1, dtype=np.int64)
    # The k-th largest value per row; everything above it is in, ties at it fill by index.
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    above = scores > kth[:, None]
    at = scores == kth[:, None]
    need = k - above.sum(axis=1)
    chosen = above | (at & (np.cumsum(at, axis=1, dtype=np.int32) <= need[:, None]))
    cols = np.nonzero(chosen)[1].reshape(n_rows, k)  # row-major: ascending index per row
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.lexsort((cols, -vals), axis=1)
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    cols[np.isneginf(vals)] = -1
    return cols


# ---------------------------------------------------------------------------------------------
# Metrics on lists


def item_self_information(train: sp.csr_matrix) -> np.ndarray:
    """−log2 of each item's add-one-smoothed train popularity share (novelty of one item)."""
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    share = (counts + 1.0) / (counts.sum() + train.shape[1])
    return -np.log2(share)


class _Accumulator:
    """Sums per-user metrics over batches, then averages them (and tracks coverage sets)."""

    def __init__(self, ks: Sequence[int], n_items: int) -> None:
        self.ks = tuple(ks)
        self.users = 0
        self.sums = {(name, k): 0.0 for name in RANKING_METRICS for k in self.ks}
        self.lists = {k: 0 for k in self.ks}  # lists with ≥ 2 items, for diversity
        self.seen = {k: np.zeros(n_items, dtype=bool) for k in self.ks}

    def add(
        self,
        top: np.ndarray,
        relevant: np.ndarray,
        genres: np.ndarray,
        info: np.ndarray,
    ) -> None:
        """Add one batch: `top` n × K item indices (-1 = empty), `relevant` n × n_items bool."""
        n = len(top)
        self.users += n
        valid = top >= 0
        safe = np.where(valid, top, 0)
        hits = np.take_along_axis(relevant, safe, axis=1) & valid
        n_rel = relevant.sum(axis=1).astype(np.float64)
        discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        for k in self.ks:
            self._add_k(
                k, hits[:, :k], valid[:, :k], safe[:, :k], n_rel, discount[:k], genres, info
            )

    def _add_k(
        self,
        k: int,
        hits: np.ndarray,
        valid: np.ndarray,
        safe: np.ndarray,
        n_rel: np.ndarray,
        discount: np.ndarray,
        genres: np.ndarray,
        info: np.ndarray,
    ) -> None:
        s = self.sums
        n_hits = hits.sum(axis=1)
        s["precision", k] += float((n_hits / k).sum())
        s["recall", k] += float((n_hits / n_rel).sum())
        s["hitrate", k] += float((n_hits > 0).sum())
        ideal_n = np.minimum(k, n_rel).astype(np.int64)
        idcg = np.concatenate(([0.0], np.cumsum(discount)))[ideal_n]
        s["ndcg", k] += float(((hits * discount).sum(axis=1) / idcg).sum())
        prec_at = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
        s["map", k] += float(((prec_at * hits).sum(axis=1) / ideal_n).sum())
        self.seen[k][safe[valid]] = True
        length = valid.sum(axis=1)
        s["novelty", k] += float(
            (np.where(valid, info[safe], 0.0).sum(axis=1) / np.maximum(length, 1)).sum()
        )
        div, counted = _intra_list_diversity(safe, valid, genres)
        s["diversity", k] += div
        self.lists[k] += counted

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {"users": float(self.users)}
        for k in self.ks:
            users = max(self.users, 1)
            p = self.sums["precision", k] / users
            r = self.sums["recall", k] / users
            out[f"precision@{k}"] = p
            out[f"recall@{k}"] = r
            out[f"f1@{k}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
            for name in ("ndcg", "map", "hitrate", "novelty"):
                out[f"{name}@{k}"] = self.sums[name, k] / users
            out[f"coverage@{k}"] = float(self.seen[k].mean()) if len(self.seen[k]) else 0.0
            out[f"diversity@{k}"] = self.sums["diversity", k] / max(self.lists[k], 1)
        return out


def _intra_list_diversity(
    safe: np.ndarray, valid: np.ndarray, genres: np.ndarray
) -> tuple[float, int]:
    """Sum over lists (with ≥ 2 items) of the mean pairwise 1 − Jaccard, and how many lists."""
    g = genres[safe] * valid[:, :, None]  # n × k × genres
    inter = np.einsum("nkg,njg->nkj", g, g)
    size = g.sum(axis=2)
    union = size[:, :, None] + size[:, None, :] - inter
    sim = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    pair = valid[:, :, None] & valid[:, None, :]
    np.einsum("nkk->nk", pair)[:] = False  # not an item with itself
    n_pairs = pair.sum(axis=(1, 2))
    dissim = ((1.0 - sim) * pair).sum(axis=(1, 2))
    ok = n_pairs > 0
    return float((dissim[ok] / n_pairs[ok]).sum()), int(ok.sum())


def list_metrics(
    top: np.ndarray,
    relevant: sp.csr_matrix,
    catalog: Catalog,
    train: sp.csr_matrix,
    ks: Sequence[int] = KS,
) -> dict[str, float]:
    """Every ranking metric for ready-made lists: `top` n × K item indices (-1 = empty slot),
    `relevant` n × n_items (non-zero = relevant). Users with no relevant item are skipped."""
    keep = np.diff(relevant.indptr) > 0
    acc = _Accumulator(sorted(set(ks)), relevant.shape[1])
    genres, info = genre_matrix(catalog)[1].toarray(), item_self_information(train)
    if keep.any():
        rel = (relevant[keep] != 0).toarray()
        acc.add(np.asarray(top)[keep], rel, genres, info)
    return acc.result()


# ---------------------------------------------------------------------------------------------
# Evaluating models


def _check_pair(train: Ratings, test: Ratings, catalog: Catalog | None = None) -> None:
    if train.matrix.shape != test.matrix.shape or train.items != test.items:
        raise EvaluationError(
            f"train {train.matrix.shape} and test {test.matrix.shape} must share vocabularies"
        )
    if catalog is not None and catalog.items != train.items:
        raise EvaluationError("the ratings' item vocabulary is not the catalogue's")


def scored_users(test: Ratings, relevance: float = RELEVANCE) -> np.ndarray:
    """Row indices of users with at least one relevant test rating (the users we score)."""
    rel = test.matrix >= relevance
    return np.flatnonzero(np.diff(sp.csr_matrix(rel).indptr) > 0)


def evaluate_ranking(
    scorer: Scorer,
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    k: int = 10,
    relevance: float = RELEVANCE,
    ks: Sequence[int] = KS,
    *,
    fit: bool = True,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
    max_users: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Rank the whole catalogue for every scored user from their train row; score the top k.

    Fits `scorer` on `train` first unless `fit=False` (then it must already be fitted on
    exactly this train). `max_users` scores a random sample of that many scored users
    (`default_rng(seed)`), for data sets too large to score everyone. Returns every metric at
    each of `ks` and `k` ("ndcg@10", …), plus "users" (how many were scored), "fit_seconds"
    and "score_seconds".
    """
    _check_pair(train, test, catalog)
    all_ks = sorted(set(ks) | {k})
    started = time.perf_counter()
    if fit:
        scorer = scorer.fit(train, catalog) or scorer
    fit_seconds = time.perf_counter() - started if fit else 0.0
    users = scored_users(test, relevance)
    if len(users) == 0:
        raise EvaluationError("no test user has a relevant rating: nothing to score")
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    batch = max(1, min(batch, BATCH_CELLS // max(len(catalog), 1)))
    acc = _Accumulator(all_ks, len(catalog))
    genres, info = genre_matrix(catalog)[1].toarray(), item_self_information(train.matrix)
    started = time.perf_counter()
    for start in range(0, len(users), batch):
        rows = users[start : start + batch]
        history = train.matrix[rows]
        when = user_moments(train, rows) if getattr(scorer, "uses_time", False) else None
        top = _lists(scorer, history, max(all_ks), when)
        acc.add(top, (test.matrix[rows] >= relevance).toarray(), genres, info)
        if progress is not None:
            progress(min(start + batch, len(users)), len(users))
    out = acc.result()
    out["fit_seconds"] = fit_seconds
    out["score_seconds"] = time.perf_counter() - started
    return out


def _lists(
    scorer: Scorer, history: sp.csr_matrix, k: int, when: np.ndarray | None = None
) -> np.ndarray:
    """The top-k lists of a batch of users: the model's own `rank` if it has one, else the
    best `score`s after excluding the history. Checked, so a leak cannot inflate figures.
    `when` (each user's moment, given for time-aware models only) is passed on when given."""
    name = getattr(scorer, "name", type(scorer).__name__)
    timed = {} if when is None else {"when": when}
    if hasattr(scorer, "rank"):
        top = np.asarray(scorer.rank(history, k, **timed), dtype=np.int64)
        if top.shape != (history.shape[0], k):
            raise EvaluationError(
                f"{name}.rank returned {top.shape}, expected {(history.shape[0], k)}"
            )
        rows = np.repeat(np.arange(len(top)), k)
        picked = top.ravel()
        valid = picked >= 0
        if (np.asarray(history[rows[valid], picked[valid]]).ravel() != 0).any():
            raise EvaluationError(f"{name} recommended a movie the user rated in train")
        return top
    scores = np.asarray(scorer.score(history, **timed))
    if scores.shape != history.shape:
        raise EvaluationError(
            f"{name} returned scores of shape {scores.shape}, expected {history.shape}"
        )
    return top_k(scores, k, exclude=history)


def evaluate_rating(
    predictor: RatingPredictor,
    train: Ratings,
    test: Ratings,
    catalog: Catalog | None = None,
    *,
    fit: bool = True,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
) -> dict[str, float]:
    """RMSE, MAE and MSE of predicted stars on every test rating, clipped to the train scale.

    Fits on `train` first unless `fit=False` (fitting needs `catalog`).
    """
    _check_pair(train, test, catalog)
    if fit:
        if catalog is None:
            raise EvaluationError("fitting a predictor needs the catalogue")
        predictor = predictor.fit(train, catalog) or predictor
    test_m = test.matrix.tocsr()
    users = np.flatnonzero(np.diff(test_m.indptr) > 0)
    if len(users) == 0:
        raise EvaluationError("the test split has no ratings")
    low, high = train.scale
    sq = ab = 0.0
    count = 0
    for start in range(0, len(users), batch):
        rows = users[start : start + batch]
        pred = np.asarray(predictor.predict(train.matrix[rows]), dtype=np.float64)
        truth = test_m[rows].tocoo()
        err = np.clip(pred[truth.row, truth.col], low, high) - truth.data
        sq += float((err**2).sum())
        ab += float(np.abs(err).sum())
        count += len(err)
        if progress is not None:
            progress(min(start + batch, len(users)), len(users))
    mse = sq / count
    return {"rmse": math.sqrt(mse), "mae": ab / count, "mse": mse, "ratings": float(count)}


def dataset_counts(ratings: Ratings, train: Ratings, test: Ratings) -> dict[str, int]:
    """The counts a report prints about the data it was measured on."""
    n_items = ratings.matrix.shape[1]
    return {
        "users": int((np.diff(ratings.matrix.indptr) > 0).sum()),
        "items": int(n_items),
        "rated_items": int((np.bincount(ratings.matrix.indices, minlength=n_items) > 0).sum()),
        "ratings": int(ratings.nnz),
        "train_ratings": int(train.nnz),
        "test_ratings": int(test.nnz),
        "scored_users": len(scored_users(test)),
    }
