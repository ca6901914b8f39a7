"""Offline evaluation: fit a model, rank for every scored user, score the lists.

The protocol is described in docs/evaluation.md ("Protocol").

Everything here is pure: `Ratings` and a model in, a flat `dict[str, float]` out. The CLI
(`moviebot evaluate` / `tune`) reads the database, calls these functions and prints the report.
The splits are `recommender.splits`, the list metrics `recommender.metrics`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from recommender.component import Estimator, Scorer
from recommender.data import Catalog, Ratings, genre_matrix
from recommender.metrics import KS, Accumulator, item_self_information, tie_order, top_k
from recommender.splits import RELEVANCE, EvaluationError, scored_users

BATCH_USERS = 1024
# Users per batch shrink on large catalogues so a batch holds about this many scores.
BATCH_CELLS = 20_000_000
Progress = Callable[[int, int], None]


@runtime_checkable
class Ranker(Protocol):
    """Optional: a model that makes its own top-k lists (e.g. with a diversity re-rank).

    `rank(rows, k)` returns n × k catalogue indices, best first, -1 for empty slots, never an
    item stored in `rows`. The harness uses it instead of `score` when present.
    """

    def rank(self, rows: sp.csr_matrix, k: int) -> np.ndarray: ...


@runtime_checkable
class RatingPredictor(Protocol):
    """A fitted model that predicts stars: n × n_items for these users' rows."""

    def predict(self, rows: sp.csr_matrix) -> np.ndarray: ...


def uses_time(model: object) -> bool:
    """Whether a model's scores depend on when the user rated (`uses_time = True`): the
    harness then passes each user's moment as `when=` to `score` / `rank`, the time of their
    last train rating (`last_moments`), as the bot scores a user "now", just after they rated."""
    return bool(getattr(model, "uses_time", False))


def last_moments(ratings: Ratings, users: np.ndarray) -> np.ndarray | None:
    """When each of these users (row indices) last rated: the latest time among their
    ratings, NaN for a user with none; None when the ratings carry no times. Scoring a user
    at any later moment would need the future; at an earlier one (say, the median time of
    their ratings) a random split lets time-aware components see when the test ratings were."""
    if ratings.timestamps is None:
        return None
    times = sp.csr_matrix(ratings.timestamps)[np.asarray(users, dtype=np.int64)]
    out = np.full(times.shape[0], np.nan)
    filled = np.diff(times.indptr) > 0
    if filled.any():
        out[filled] = np.maximum.reduceat(times.data, times.indptr[:-1][filled])
    return out


# ---------------------------------------------------------------------------------------------
# Evaluating models


def _check_pair(train: Ratings, test: Ratings, catalog: Catalog | None = None) -> None:
    if train.matrix.shape != test.matrix.shape or train.items != test.items:
        raise EvaluationError(
            f"train {train.matrix.shape} and test {test.matrix.shape} must share vocabularies"
        )
    if catalog is not None and catalog.items != train.items:
        raise EvaluationError("the ratings' item vocabulary is not the catalogue's")


def evaluate_ranking(
    model: Estimator[Scorer],
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    k: int = 10,
    relevance: float = RELEVANCE,
    ks: Sequence[int] = KS,
    *,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
    max_users: int | None = None,
    seed: int = 0,
    candidates: np.ndarray | None = None,
) -> dict[str, float]:
    """Fit `model` on `train`, then `measure_ranking`; "fit_seconds" says how long fitting
    took."""
    _check_pair(train, test, catalog)
    started = time.perf_counter()
    scorer = model.fit(train, catalog)
    fit_seconds = time.perf_counter() - started
    out = measure_ranking(
        scorer,
        train,
        test,
        catalog,
        k,
        relevance,
        ks,
        batch=batch,
        progress=progress,
        max_users=max_users,
        seed=seed,
        candidates=candidates,
    )
    return out | {"fit_seconds": fit_seconds}


def measure_ranking(
    scorer: Scorer,
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    k: int = 10,
    relevance: float = RELEVANCE,
    ks: Sequence[int] = KS,
    *,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
    max_users: int | None = None,
    seed: int = 0,
    candidates: np.ndarray | None = None,
) -> dict[str, float]:
    """`measure_ranking_per_user`'s figures alone."""
    return measure_ranking_per_user(
        scorer,
        train,
        test,
        catalog,
        k,
        relevance,
        ks,
        batch=batch,
        progress=progress,
        max_users=max_users,
        seed=seed,
        candidates=candidates,
    )[0]


def measure_ranking_per_user(
    scorer: Scorer,
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    k: int = 10,
    relevance: float = RELEVANCE,
    ks: Sequence[int] = KS,
    *,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
    max_users: int | None = None,
    seed: int = 0,
    candidates: np.ndarray | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Rank the whole catalogue for every scored user from their train row; score the top k.

    `scorer` is fitted on exactly this `train`; `candidates` (a mask) restricts the ranking
    to those movies (the new-movies protocol). `max_users` scores a random sample of that
    many scored users (`default_rng(seed)`), for data sets too large to score everyone.
    Returns every metric at each of `ks` and `k` ("ndcg@10", …), plus "users" (how many were
    scored), "fit_seconds" (0: fitted before) and "score_seconds"; and each scored user's
    NDCG@k in user order (the same users for every model of one split: paired tests).
    """
    _check_pair(train, test, catalog)
    all_ks = sorted(set(ks) | {k})
    users = scored_users(test, relevance)
    if len(users) == 0:
        raise EvaluationError("no test user has a relevant rating: nothing to score")
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    batch = max(1, min(batch, BATCH_CELLS // max(len(catalog), 1)))
    acc = Accumulator(all_ks, len(catalog))
    order = tie_order(len(catalog), seed)
    genres, info = genre_matrix(catalog)[1].toarray(), item_self_information(train.matrix)
    started = time.perf_counter()
    for start in range(0, len(users), batch):
        rows = users[start : start + batch]
        history = train.matrix[rows]
        when = last_moments(train, rows) if uses_time(scorer) else None
        top = _lists(scorer, history, max(all_ks), when, order, candidates)
        acc.add(top, (test.matrix[rows] >= relevance).toarray(), genres, info)
        if progress is not None:
            progress(min(start + batch, len(users)), len(users))
    out = acc.result()
    out["fit_seconds"] = 0.0
    out["score_seconds"] = time.perf_counter() - started
    return out, acc.user_ndcg(k)


def _lists(
    scorer: Scorer,
    history: sp.csr_matrix,
    k: int,
    when: np.ndarray | None = None,
    order: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """The top-k lists of a batch of users: the model's own `rank` if it has one, else the
    best `score`s after excluding the history, ties broken by `order`. Checked, so a leak
    cannot inflate figures. `when` (each user's moment, given for time-aware models only) is
    passed on when given. `candidates` (a mask of the movies to rank; the new-movies protocol)
    ranks only those, by `score`: a model's own lists cover the whole catalogue."""
    name = scorer.name
    timed: dict[str, Any] = {} if when is None else {"when": when}
    if isinstance(scorer, Ranker) and candidates is None:
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
    if candidates is not None:
        scores = np.where(candidates[None, :], scores, -np.inf)
    return top_k(scores, k, exclude=history, order=order)


def evaluate_rating(
    model: Estimator[RatingPredictor],
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    *,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Fit `model` on `train`, then `measure_rating`."""
    _check_pair(train, test, catalog)
    predictor = model.fit(train, catalog)
    return measure_rating(predictor, train, test, batch=batch, progress=progress)


def measure_rating(
    predictor: RatingPredictor,
    train: Ratings,
    test: Ratings,
    *,
    batch: int = BATCH_USERS,
    progress: Progress | None = None,
) -> dict[str, float]:
    """RMSE, MAE and MSE of predicted stars on every test rating, clipped to the train scale
    (`predictor` is fitted on exactly this `train`)."""
    _check_pair(train, test)
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
