"""Trend: what people liked around a moment in time.

Movies are watched in their time: someone rating in 1997 rates the films of the mid-nineties,
someone joining in 2016 rates what is being watched in 2016. Trend counts liked ratings
(stars ≥ `liked_from`) day by day and, for a moment t, weighs the days up to t's day by
exp(−(days before t's day) / `tau_days`). To these it adds `prior_share` × each movie's liked
ratings up to t's day, undecayed, so a moment with few liked ratings close before it (a quiet
bot whose data set is decades old) is ranked like popularity so far and a handful of recent
ratings cannot take over. Days after t's day never count, as a bot asked at t knows nothing
later; only for a moment before the first rating does the prior fall back to all-time counts.

A user's moment is when they rated: the evaluation passes the median time of each user's
train ratings (`recommender.data.user_moments`); the bot scores people who are rating now,
so it asks at the latest liked rating the model was trained on (`latest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, check_ratings
from recommender.data import Catalog, Ratings, rating_times

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TrendConfig:
    tau_days: float = 365.0  # a liked rating this many days before the moment counts 1/e
    liked_from: float = 4.0  # ratings with at least these stars are likes
    prior_share: float = 0.1  # weight of each movie's undecayed likes up to the moment


class Trend:
    """Scores every movie by its liked ratings near a moment, log-scaled."""

    name: ClassVar[str] = "trend"

    def __init__(
        self,
        config: TrendConfig,
        daily: sp.csr_matrix,
        days: np.ndarray,
        start: float,
        latest: float,
    ) -> None:
        self.config = config
        self.daily = daily  # days with liked ratings × items
        self.days = np.asarray(days, dtype=np.int64)  # each row's day, counted from `start`
        self.start = float(start)  # Unix time at which day 0 begins
        self.latest = float(latest)  # the latest liked rating's time
        # what the bot asks for on every request, computed once
        self.at_latest = self._at(np.array([self.latest]))[0]

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: TrendConfig | None = None) -> Self:
        cfg = config or TrendConfig()
        check_ratings(ratings, catalog, cls.name)
        matrix = ratings.matrix.tocsr()
        times = rating_times(ratings)
        liked = matrix.data >= cfg.liked_from
        if times is None:
            # Without times every rating falls on one day: trend is then liked popularity.
            times = np.zeros(matrix.nnz)
        times, cols = times[liked], matrix.indices[liked]
        start = float(times.min()) if len(times) else 0.0
        latest = float(times.max()) if len(times) else 0.0
        days = ((times - start) // SECONDS_PER_DAY).astype(np.int64)
        unique, rows = np.unique(days, return_inverse=True)
        daily = sp.csr_matrix(
            (np.ones(len(days), dtype=np.float32), (rows.ravel(), cols)),
            shape=(len(unique), matrix.shape[1]),
            dtype=np.float32,
        )
        daily.sum_duplicates()
        return cls(cfg, daily, unique, start, latest)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """One row of `at` per user (the rows' ratings do not matter, only their moments)."""
        return self.at(when, rows.shape[0])

    def at(self, when: np.ndarray | None, n_users: int = 1) -> np.ndarray:
        """n_users × n_items scores at these moments (Unix seconds, one per user; None or NaN:
        the latest liked rating's time)."""
        if when is None:
            return np.broadcast_to(self.at_latest, (n_users, len(self.at_latest)))
        given = np.asarray(when, dtype=np.float64).reshape(-1)
        if len(given) != n_users:
            raise ValueError(f"{len(given)} moments for {n_users} users")
        return self._at(np.where(np.isfinite(given), given, self.latest))

    def _at(self, moments: np.ndarray) -> np.ndarray:
        daily, days = self.daily, self.days
        unique, inverse = np.unique(moments, return_inverse=True)
        day = np.floor((unique - self.start) / SECONDS_PER_DAY)
        before = (day[:, None] - days[None, :]).astype(np.float32)  # moments × days with likes
        seen = np.asarray(before >= 0)
        kernel = np.where(seen, np.exp(-np.maximum(before, 0) / self.config.tau_days), 0)
        local = np.asarray(daily.T @ kernel.T.astype(np.float32)).T
        so_far = np.asarray(daily.T @ seen.T.astype(np.float32)).T
        all_time = np.asarray(daily.sum(axis=0), dtype=np.float32)
        so_far = np.where(np.asarray(seen.any(axis=1))[:, None], so_far, all_time)
        scores = np.log1p(local + self.config.prior_share * so_far).astype(np.float32)
        return np.asarray(scores[inverse.ravel()])

    def take(self, old: np.ndarray) -> Self:
        """This trend over another catalogue: column j is old column `old[j]`, or no ratings
        when `old[j]` < 0 (a movie added after training)."""
        daily = self.daily.tocsc()
        old = np.asarray(old, dtype=np.int64)
        taken = daily[:, np.where(old >= 0, old, 0)].tocsr()
        taken = taken.multiply((old >= 0)[None, :].astype(np.float32)).tocsr()
        taken.eliminate_zeros()
        return type(self)(self.config, taken.astype(np.float32), self.days, self.start, self.latest)

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training have no dated likes (the blend lets popularity speak)."""
        return self.take(change.old)

    def to_arrays(self) -> dict[str, np.ndarray]:
        daily = self.daily
        return {
            "data": daily.data,
            "indices": daily.indices,
            "indptr": daily.indptr,
            "shape": np.array(daily.shape, dtype=np.int64),
            "days": self.days,
            "times": np.array([self.start, self.latest], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: TrendConfig
    ) -> Self:
        shape = tuple(int(x) for x in arrays["shape"])
        if shape[1] != len(catalog):
            raise ValueError(f"trend: {shape[1]} movies, the catalogue has {len(catalog)}")
        daily = sp.csr_matrix(
            (arrays["data"].astype(np.float32), arrays["indices"], arrays["indptr"]), shape=shape
        )
        start, latest = (float(x) for x in arrays["times"])
        return cls(config, daily, arrays["days"], start, latest)
