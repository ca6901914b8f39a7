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
so it asks at the latest liked rating the model was trained on (`latest_`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, rating_times

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TrendConfig:
    tau_days: float = 365.0
    liked_from: float = 4.0
    prior_share: float = 0.1


class Trend:
    """Scores every movie by its liked ratings near a moment, log-scaled."""

    name = "trend"

    def __init__(self, config: TrendConfig | None = None) -> None:
        self.config = config or TrendConfig()
        self.params = asdict(self.config)
        self.daily_: sp.csr_matrix | None = None  # days with liked ratings × items
        self.days_: np.ndarray | None = None  # each row's day, counted from `start_`
        self.start_: float = 0.0  # Unix time at which day 0 begins
        self.latest_: float = 0.0  # the latest liked rating's time

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        matrix = ratings.matrix.tocsr()
        times = rating_times(ratings)
        liked = matrix.data >= self.config.liked_from
        if times is None:
            # Without times every rating falls on one day: trend is then liked popularity.
            times = np.zeros(matrix.nnz)
        times, cols = times[liked], matrix.indices[liked]
        self.start_ = float(times.min()) if len(times) else 0.0
        self.latest_ = float(times.max()) if len(times) else 0.0
        days = ((times - self.start_) // SECONDS_PER_DAY).astype(np.int64)
        self.days_, rows = np.unique(days, return_inverse=True)
        self.daily_ = sp.csr_matrix(
            (np.ones(len(days), dtype=np.float32), (rows.ravel(), cols)),
            shape=(len(self.days_), matrix.shape[1]),
            dtype=np.float32,
        )
        self.daily_.sum_duplicates()
        self.__dict__.pop("at_latest", None)  # a refit invalidates the cached scores
        return self

    def score(self, when: np.ndarray | None, n_users: int = 1) -> np.ndarray:
        """n_users × n_items scores at these moments (Unix seconds, one per user; None or NaN:
        the latest liked rating's time)."""
        if when is None:
            return np.broadcast_to(self.at_latest, (n_users, len(self.at_latest)))
        given = np.asarray(when, dtype=np.float64).reshape(-1)
        if len(given) != n_users:
            raise ValueError(f"{len(given)} moments for {n_users} users")
        return self._at(np.where(np.isfinite(given), given, self.latest_))

    @cached_property
    def at_latest(self) -> np.ndarray:
        """The scores at the latest liked rating's time: what the bot asks for every time."""
        return self._at(np.array([self.latest_]))[0]

    def _at(self, moments: np.ndarray) -> np.ndarray:
        daily, days = self._fitted(), self.days_
        unique, inverse = np.unique(moments, return_inverse=True)
        day = np.floor((unique - self.start_) / SECONDS_PER_DAY)
        before = (day[:, None] - days[None, :]).astype(np.float32)  # moments × days with likes
        seen = before >= 0
        kernel = np.where(seen, np.exp(-np.maximum(before, 0) / self.config.tau_days), 0)
        local = np.asarray(daily.T @ kernel.T.astype(np.float32)).T
        so_far = np.asarray(daily.T @ seen.T.astype(np.float32)).T
        all_time = np.asarray(daily.sum(axis=0), dtype=np.float32)
        so_far = np.where(seen.any(axis=1)[:, None], so_far, all_time)
        scores = np.log1p(local + self.config.prior_share * so_far).astype(np.float32)
        return scores[inverse.ravel()]

    def take(self, old: np.ndarray) -> Trend:
        """This trend over another catalogue: column j is old column `old[j]`, or no ratings
        when `old[j]` < 0 (a movie added after training)."""
        daily = self._fitted().tocsc()
        old = np.asarray(old, dtype=np.int64)
        taken = daily[:, np.where(old >= 0, old, 0)].tocsr()
        taken = taken.multiply((old >= 0)[None, :].astype(np.float32)).tocsr()
        taken.eliminate_zeros()
        out = Trend(self.config)
        out.daily_, out.days_ = taken.astype(np.float32), self.days_
        out.start_, out.latest_ = self.start_, self.latest_
        return out

    def _fitted(self) -> sp.csr_matrix:
        if self.daily_ is None:
            raise RuntimeError("Trend is not fitted: call fit() first")
        return self.daily_

    def to_arrays(self) -> dict[str, np.ndarray]:
        daily = self._fitted()
        return {
            "data": daily.data,
            "indices": daily.indices,
            "indptr": daily.indptr,
            "shape": np.array(daily.shape, dtype=np.int64),
            "days": self.days_,
            "times": np.array([self.start_, self.latest_], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict[str, np.ndarray]) -> Trend:
        model = cls(TrendConfig(**params))
        model.daily_ = sp.csr_matrix(
            (arrays["data"].astype(np.float32), arrays["indices"], arrays["indptr"]),
            shape=tuple(int(x) for x in arrays["shape"]),
        )
        model.days_ = arrays["days"].astype(np.int64)
        model.start_, model.latest_ = (float(x) for x in arrays["times"])
        return model
