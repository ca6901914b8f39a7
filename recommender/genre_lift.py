"""Genre lift: how much more often a user rates a movie's genres than everyone does.

For each genre g, p(g) is its share of the genre labels of all training ratings (one label
per rated movie and genre, plus one of each genre so none is impossible). A user who has rated
n(g) movies of genre g among N labels rates it with a share damped towards p(g) by `prior`
pseudo-labels: q(g) = (n(g) + prior · p(g)) / (N + prior). A movie scores the mean of
log q(g) − log p(g) over its genres (0 without genres): positive for genres the user rates more
than people do, negative for those they avoid, 0 for a user with no ratings.

A user's movies count from `from_stars` up, whatever their stars: what matters is which
movies they choose to watch (liked movies alone did worse on validation), but a genre they
rated low should not be offered more of. As for `recommender.era`, the lifts are in
natural units and not standardised, so they speak loudly for users whose few ratings are
all of a kind and softly for everyone else; each user's row is centred.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, genre_matrix


@dataclass(frozen=True)
class GenreLiftConfig:
    prior: float = 5.0  # pseudo-labels pulling a user's genre shares towards everyone's
    from_stars: float = 3.0  # a user's ratings below this (dislikes) do not count


class GenreLift:
    """Scores every movie by the user's lift for its genres (see the module)."""

    name = "genres"

    def __init__(self, config: GenreLiftConfig | None = None) -> None:
        self.config = config or GenreLiftConfig()
        self.params = asdict(self.config)
        self.names_: np.ndarray | None = None  # genre names
        self.shares_: np.ndarray | None = None  # p(g)
        self.genres_: sp.csr_matrix | None = None  # items × genres
        self._mean_of: np.ndarray | None = None  # genres × items: a movie's mean over its genres

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        names, self.genres_ = genre_matrix(catalog)
        self.names_ = np.array(names, dtype=str)
        rated = np.bincount(ratings.matrix.tocsr().indices, minlength=len(catalog))
        labels = self.genres_.T @ rated.astype(np.float64) + 1.0
        self.shares_ = labels / labels.sum()
        return self._prepare()

    def _prepare(self) -> Self:
        per_movie = np.asarray(self.genres_.sum(axis=1)).ravel()
        weights = self.genres_.multiply(1.0 / np.maximum(per_movie, 1.0)[:, None])
        self._mean_of = np.asarray(weights.T.todense())
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        """n_users × n_items genre lifts, centred per user."""
        shares, genres = self._fitted(), self.genres_
        rated = sp.csr_matrix(rows >= self.config.from_stars, dtype=np.float64)
        counts = np.asarray((rated @ genres).todense())  # users × genres
        prior = self.config.prior
        own = (counts + prior * shares) / (counts.sum(axis=1, keepdims=True) + prior)
        lift = np.log(own) - np.log(shares)
        scores = lift @ self._mean_of
        scores -= scores.mean(axis=1, keepdims=True)
        return scores.astype(np.float32)

    def _fitted(self) -> np.ndarray:
        if self.shares_ is None:
            raise RuntimeError("GenreLift is not fitted: call fit() first")
        return self.shares_

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"names": self.names_, "shares": self._fitted()}

    @classmethod
    def from_arrays(
        cls, params: dict, arrays: dict[str, np.ndarray], catalog: Catalog
    ) -> GenreLift:
        model = cls(GenreLiftConfig(**params))
        model.names_ = np.asarray(arrays["names"], dtype=str)
        model.shares_ = np.asarray(arrays["shares"], dtype=np.float64)
        model.genres_ = genre_matrix(catalog, model.names_)[1]
        return model._prepare()
