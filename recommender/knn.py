"""The classic neighbourhood baselines: item-based and user-based k-nearest-neighbour CF.

Item kNN is implicit's item-item recommender family (`CosineRecommender`, `BM25Recommender`):
it keeps each movie's K most similar movies, and a user's score for a movie is the sum of its
similarities to the movies they rated. User kNN finds the K users whose (L2-normalised)
histories are most like the user's and adds up those neighbours' rows, weighted by
similarity. Both are evaluation baselines (`moviebot evaluate`), tuned on validation like
every model; neither is blended into the served hybrid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.component import Unfitted, check_ratings
from recommender.data import Catalog, Ratings

# Cosine ≥ this: the same set of movies (a user's own train row, say), which adds nothing
# a user has not rated already, so it does not take a neighbour's place.
SAME_HISTORY = 1.0 - 1e-6
BATCH_CELLS = 20_000_000  # query users × train users per similarity block
BM25_K1, BM25_B = 1.2, 0.75  # implicit's BM25Recommender defaults


@dataclass(frozen=True)
class KNNConfig:
    """`neighbours` K; `similarity` "cosine" or "bm25" (item kNN only); `binary`: 1 per rated
    movie instead of its stars."""

    neighbours: int = 50
    similarity: Literal["cosine", "bm25"] = "cosine"
    binary: bool = True

    def __post_init__(self) -> None:
        if self.neighbours < 1:
            raise ValueError(f"kNN needs at least one neighbour, got {self.neighbours}")
        if self.similarity not in ("cosine", "bm25"):
            raise ValueError(f"unknown similarity {self.similarity!r}: cosine or bm25")


def _weights(matrix: sp.spmatrix, binary: bool) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    if binary:
        out.data[:] = 1.0
    return out


class ItemKNN:
    """Item-based kNN through implicit: score = the user's row · the item-item similarities."""

    name: ClassVar[str] = "item_knn"

    def __init__(self, config: KNNConfig, similarity: sp.csr_matrix) -> None:
        self.config = config
        self.similarity = sp.csr_matrix(similarity, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def unfitted(cls, config: KNNConfig) -> Unfitted[ItemKNN]:
        """This baseline with `config`, for the harness to fit."""
        return Unfitted(cls.name, lambda ratings, catalog: cls.fit(ratings, catalog, config))

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: KNNConfig | None = None) -> Self:
        from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight

        cfg = config or KNNConfig()
        check_ratings(ratings, catalog, cls.name)
        matrix = _weights(ratings.matrix, cfg.binary)
        # What implicit's CosineRecommender / BM25Recommender weigh before the item-item
        # neighbours, done here in CSR (theirs hand a COO matrix on, with a warning).
        if cfg.similarity == "bm25":
            weighted = bm25_weight(matrix.T, K1=BM25_K1, B=BM25_B).T
        else:
            weighted = normalize(matrix, norm="l2", axis=0)
        model = ItemItemRecommender(K=cfg.neighbours, num_threads=1)
        model.fit(sp.csr_matrix(weighted, dtype=np.float64), show_progress=False)
        return cls(cfg, model.similarity)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n × n_items: Σ over the user's rated movies of their similarity to each movie."""
        history = _weights(rows, self.config.binary)
        return np.asarray((history @ self.similarity).toarray(), dtype=np.float32)


class UserKNN:
    """User-based kNN: the K most similar train users (cosine) vote with their rows."""

    name: ClassVar[str] = "user_knn"

    def __init__(self, config: KNNConfig, users: sp.csr_matrix) -> None:
        self.config = config
        self.users = users  # train users × items, binary or stars
        self._unit = sp.csr_matrix(normalize(users, norm="l2"), dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def unfitted(cls, config: KNNConfig) -> Unfitted[UserKNN]:
        """This baseline with `config`, for the harness to fit."""
        return Unfitted(cls.name, lambda ratings, catalog: cls.fit(ratings, catalog, config))

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: KNNConfig | None = None) -> Self:
        cfg = config or KNNConfig()
        check_ratings(ratings, catalog, cls.name)
        matrix = _weights(ratings.matrix, cfg.binary)
        return cls(cfg, matrix[np.diff(matrix.indptr) > 0])

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n × n_items: the similarity-weighted sum of the K nearest users' rows."""
        query = sp.csr_matrix(normalize(_weights(rows, self.config.binary), norm="l2"))
        n_train = self._unit.shape[0]
        k = min(self.config.neighbours, n_train)
        step = max(1, BATCH_CELLS // max(n_train, 1))
        out = np.zeros(rows.shape, dtype=np.float32)
        for start in range(0, rows.shape[0], step):
            sims = np.asarray((query[start : start + step] @ self._unit.T).toarray())
            sims[sims >= SAME_HISTORY] = 0.0
            if k < n_train:
                cut = np.partition(sims, n_train - k, axis=1)[:, n_train - k][:, None]
                sims[sims < cut] = 0.0
            out[start : start + step] = (sp.csr_matrix(sims) @ self.users).toarray()
        return out
