"""Content-based scoring: TF-IDF over what a movie is (genres, decade, people, tags, title words).

Each movie becomes an L2-normalised sparse vector; a user's profile is the sum of the vectors of
the movies they rated, weighted by how far each rating is from their (shrunk) mean rating, so
loved movies pull the profile towards them and disliked ones push it away. Scores are cosine
similarities to that profile. This is what lets a new user with three ratings, or a movie
nobody has rated yet, get sensible recommendations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer
from sklearn.preprocessing import normalize

from recommender.data import Catalog, Ratings

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True)
class ContentConfig:
    """Relative weights of each kind of feature, applied after TF-IDF.

    `feature_weight` applies to catalogue features (people, tags, knowledge-graph entities);
    `min_df` drops features shared by fewer movies (they cannot connect two movies anyway);
    `shrinkage` pulls a user's mean rating towards the global mean with that many pseudo-ratings,
    so a user with a single 5★ rating still has a positive profile.
    """

    genre_weight: float = 1.0
    decade_weight: float = 0.5
    feature_weight: float = 1.0
    title_weight: float = 0.3
    min_df: int = 2
    shrinkage: float = 3.0


def item_tokens(catalog: Catalog, index: int) -> dict[str, float]:
    """The bag of weighted tokens one movie is described by (before TF-IDF)."""
    tokens: dict[str, float] = {}
    for genre in catalog.genres[index]:
        tokens[f"genre={genre}"] = 1.0
    year = int(catalog.years[index])
    if year > 0:
        tokens[f"decade={year // 10 * 10}"] = 1.0
    if catalog.features:
        for kind, value, weight in catalog.features[index]:
            key = f"{kind}={value}"
            tokens[key] = max(tokens.get(key, 0.0), float(weight))
    for word in _WORD.findall(catalog.titles[index].lower()):
        if word not in ENGLISH_STOP_WORDS:
            tokens[f"title={word}"] = 1.0
    return tokens


def _kind(feature: str) -> str:
    return feature.split("=", 1)[0]


class Content:
    """TF-IDF item vectors and rating-weighted user profiles, scored by cosine similarity."""

    name = "content"

    def __init__(self, config: ContentConfig | None = None) -> None:
        self.config = config or ContentConfig()
        self.params = asdict(self.config)
        self.vectors_: sp.csr_matrix | None = None  # items × features, rows L2-normalised
        self.feature_names_: np.ndarray | None = None
        self.idf_: np.ndarray | None = None
        self.global_mean_: float = 3.0

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        bags = [item_tokens(catalog, i) for i in range(len(catalog))]
        vectorizer = DictVectorizer(dtype=np.float32, sort=True)
        counts = vectorizer.fit_transform(bags).tocsc()
        df = np.diff(counts.indptr)
        keep = np.flatnonzero(df >= self.config.min_df)
        names = vectorizer.get_feature_names_out()[keep]
        counts = counts[:, keep].tocsr()
        tfidf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts)
        self.feature_names_ = np.asarray(names, dtype=str)
        self.idf_ = tfidf.idf_.astype(np.float32)
        self.vectors_ = self._vectorise(counts)
        self.global_mean_ = float(ratings.matrix.data.mean()) if ratings.nnz else 3.0
        return self

    def _kind_weights(self) -> np.ndarray:
        table = {
            "genre": self.config.genre_weight,
            "decade": self.config.decade_weight,
            "title": self.config.title_weight,
        }
        kinds = [_kind(str(f)) for f in self.feature_names_]
        return np.array([table.get(k, self.config.feature_weight) for k in kinds], np.float32)

    def _vectorise(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Counts (items × kept features) → weighted TF-IDF rows of unit length."""
        tf = counts.copy().astype(np.float32)
        tf.data = 1.0 + np.log(np.maximum(tf.data, 1e-6))
        weighted = tf @ sp.diags(self.idf_ * self._kind_weights())
        return normalize(weighted.tocsr(), norm="l2", copy=False).astype(np.float32)

    def transform(self, catalog: Catalog, indices: Iterable[int]) -> sp.csr_matrix:
        """Vectors for catalogue movies in this model's feature space (e.g. movies added later)."""
        self._fitted()
        position = {str(name): j for j, name in enumerate(self.feature_names_)}
        indices = list(indices)
        rows, cols, vals = [], [], []
        for r, index in enumerate(indices):
            for token, weight in item_tokens(catalog, index).items():
                j = position.get(token)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    vals.append(weight)
        counts = sp.csr_matrix(
            (np.asarray(vals, np.float32), (rows, cols)), shape=(len(indices), len(position))
        )
        return self._vectorise(counts)

    def profiles(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Users' content profiles: Σ (stars − shrunk user mean) × item vector."""
        vectors = self._fitted()
        rows = sp.csr_matrix(rows, dtype=np.float32)
        counts = np.diff(rows.indptr)
        sums = np.asarray(rows.sum(axis=1)).ravel()
        k = self.config.shrinkage
        centre = (sums + k * self.global_mean_) / (counts + k)
        centred = rows.copy()
        centred.data = centred.data - np.repeat(centre, counts).astype(np.float32)
        return centred @ vectors

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        """Cosine similarity of every movie to each user's profile (n × n_items)."""
        vectors = self._fitted()
        profiles = self.profiles(rows)
        # Items × profiles as a sparse-times-dense product: one pass over the item vectors.
        dense = np.asarray(profiles.T.todense(), dtype=np.float32)  # features × n
        norms = np.linalg.norm(dense, axis=0)
        dense /= np.where(norms > 0, norms, 1.0)
        return np.ascontiguousarray((vectors @ dense).T, dtype=np.float32)

    def _fitted(self) -> sp.csr_matrix:
        if self.vectors_ is None:
            raise RuntimeError("Content is not fitted: call fit() first")
        return self.vectors_

    def to_arrays(self) -> dict[str, np.ndarray]:
        vectors = self._fitted()
        return {
            "data": vectors.data,
            "indices": vectors.indices,
            "indptr": vectors.indptr,
            "shape": np.array(vectors.shape, dtype=np.int64),
            "feature_names": self.feature_names_,
            "idf": self.idf_,
            "global_mean": np.array([self.global_mean_], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict[str, np.ndarray]) -> Content:
        model = cls(ContentConfig(**params))
        shape = tuple(int(x) for x in arrays["shape"])
        model.vectors_ = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape
        )
        model.feature_names_ = arrays["feature_names"].astype(str)
        model.idf_ = arrays["idf"].astype(np.float32)
        model.global_mean_ = float(arrays["global_mean"][0])
        return model
