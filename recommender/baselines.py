"""The floors every model must clear: random, the popularity of a movie's genres, and a plain
genre TF-IDF user profile.

Random and genre popularity know nothing of a movie's own ratings, so they are the baselines
of the new-movies protocol (a movie nobody has rated yet); the genre profile is the simplest
content model, the one `content` must beat (docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from recommender.component import Unfitted, check_ratings
from recommender.data import Catalog, Ratings, genre_matrix
from recommender.splits import RELEVANCE


@dataclass(frozen=True)
class Random:
    """Uniform random scores, the same for the same seed and rows."""

    seed: int = 0
    name: ClassVar[str] = "random"

    @property
    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    @classmethod
    def unfitted(cls, seed: int = 0) -> Unfitted[Random]:
        return Unfitted(cls.name, lambda ratings, catalog: cls(seed))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        rng = np.random.default_rng([self.seed, rows.shape[0], rows.nnz])
        return rng.random(rows.shape, dtype=np.float32)


class GenrePopularity:
    """Each movie scores the mean train ratings per movie of its genres (the same for everyone):
    what a movie's genres say about how much it will be watched, without its own ratings."""

    name: ClassVar[str] = "genre_popularity"

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = np.asarray(scores, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def unfitted(cls) -> Unfitted[GenrePopularity]:
        return Unfitted(cls.name, cls.fit)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog) -> Self:
        check_ratings(ratings, catalog, cls.name)
        genres = genre_matrix(catalog)[1].tocsc()  # items × genres, 0/1
        counts = np.bincount(ratings.matrix.indices, minlength=len(catalog)).astype(np.float64)
        rated = counts > 0
        per_genre = (genres[rated].T @ counts[rated]) / np.maximum(genres[rated].sum(axis=0).A1, 1)
        n_genres = np.asarray(genres.sum(axis=1)).ravel()
        scores = (genres @ per_genre) / np.maximum(n_genres, 1)
        return cls(np.log1p(scores))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        return np.broadcast_to(self.scores, rows.shape).copy()


class GenreProfile:
    """A plain genre TF-IDF profile: the sum of the genre vectors of the movies a user liked
    (≥ 4★), scored by cosine. The simplest content model there is."""

    name: ClassVar[str] = "genre_profile"

    def __init__(self, vectors: sp.csr_matrix) -> None:
        self.vectors = vectors  # items × genres, TF-IDF, L2-normalised

    @property
    def params(self) -> dict[str, Any]:
        return {"liked_from": RELEVANCE}

    @classmethod
    def unfitted(cls) -> Unfitted[GenreProfile]:
        return Unfitted(cls.name, cls.fit)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog) -> Self:
        check_ratings(ratings, catalog, cls.name)
        tfidf = TfidfTransformer().fit_transform(genre_matrix(catalog)[1])
        return cls(sp.csr_matrix(normalize(tfidf, norm="l2"), dtype=np.float32))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        liked = sp.csr_matrix(rows >= RELEVANCE, dtype=np.float32)
        profiles = normalize(liked @ self.vectors, norm="l2")
        return np.asarray((profiles @ self.vectors.T).toarray(), dtype=np.float32)
