"""Genre lift: how much more often a user rates a movie's genres than everyone does.

For each genre g, p(g) is its share of the genre labels of all training ratings (one label
per rated movie and genre, plus one of each genre so none is impossible). A user who has rated
n(g) movies of genre g among N labels rates it with a share damped towards p(g) by `prior`
pseudo-labels: q(g) = (n(g) + prior · p(g)) / (N + prior). A movie scores the mean of
log q(g) − log p(g) over its genres (0 without genres): positive for genres the user rates more
than people do, negative for those they avoid, 0 for a user with no ratings.

A user's movies count from `from_stars` up, whatever their stars: what matters is which
movies they choose to watch (docs/tuning.md), but a genre they rated low should not be
offered more of. As for `recommender.era`, the lifts are in
natural units and not standardised, so they speak loudly for users whose few ratings are
all of a kind and softly for everyone else; each user's row is centred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, check_ratings
from recommender.data import Catalog, Ratings, counts_by, genre_matrix


@dataclass(frozen=True)
class GenreLiftConfig:
    prior: float = 5.0  # pseudo-labels pulling a user's genre shares towards everyone's
    from_stars: float = 3.0  # a user's ratings below this (dislikes) do not count


class GenreLift:
    """Scores every movie by the user's lift for its genres (see the module)."""

    name: ClassVar[str] = "genres"

    def __init__(
        self, config: GenreLiftConfig, names: np.ndarray, shares: np.ndarray, catalog: Catalog
    ) -> None:
        self.config = config
        self.names = np.asarray(names, dtype=str)  # genre names
        self.shares = np.asarray(shares, dtype=np.float64)  # p(g)
        # items × genres; a genre the model never saw gives no lift
        self.genres = genre_matrix(catalog, self.names.tolist())[1]
        # Movies with the same genres score the same: each user's lifts are computed once per
        # combination (~1,600 in ML-25M's 62,000 movies) and gathered.
        combos, combo = np.unique(self.genres.toarray() > 0, axis=0, return_inverse=True)
        self._combo = combo.ravel()  # each movie's combination
        self._combo_genres = combos.astype(np.float64)  # combinations × genres, 0/1
        per_combo = np.maximum(self._combo_genres.sum(axis=1, keepdims=True), 1.0)
        self._mean_of = (self._combo_genres / per_combo).T  # genres × combinations: the mean
        self._combo_share = np.bincount(self._combo, minlength=len(combos)) / max(len(combo), 1)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: GenreLiftConfig | None = None) -> Self:
        check_ratings(ratings, catalog, cls.name)
        names, genres = genre_matrix(catalog)
        rated = np.bincount(ratings.matrix.tocsr().indices, minlength=len(catalog))
        labels = genres.T @ rated.astype(np.float64) + 1.0
        return cls(
            config or GenreLiftConfig(), np.array(names, dtype=str), labels / labels.sum(), catalog
        )

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n_users × n_items genre lifts, centred per user."""
        width = len(self._combo_genres)
        per_combo = counts_by(rows, self.config.from_stars, self._combo, width)
        counts = per_combo @ self._combo_genres  # users × genres
        prior = self.config.prior
        own = (counts + prior * self.shares) / (counts.sum(axis=1, keepdims=True) + prior)
        lift = np.log(own) - np.log(self.shares)
        by_combo = lift @ self._mean_of
        by_combo -= (by_combo @ self._combo_share)[:, None]  # centred over every movie
        return np.take(by_combo.astype(np.float32), self._combo, axis=1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"names": self.names, "shares": self.shares}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: GenreLiftConfig
    ) -> Self:
        return cls(config, arrays["names"], arrays["shares"], catalog)

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training are judged by their genres like any other."""
        return type(self)(self.config, self.names, self.shares, change.catalog)
