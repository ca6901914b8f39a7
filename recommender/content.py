"""Content-based scoring: TF-IDF over what a movie is (genres, decade, people, tags, title words,
and, where TMDb metadata was stored, its directors, cast, writers, keywords and overview words).

Each movie becomes an L2-normalised sparse vector made of one block per kind of feature
(genres, decade, title words, overview words, and every other catalogue feature together),
each block of unit length times its kind's weight: a movie's thirty actors then weigh what
the weight says, not thirty times its three genres (docs/evaluation.md: on MovieLens 100K the
knowledge graph's people drowned the genres and the decade). A user's profile is the sum of
the vectors of the movies they rated, weighted by how far each rating is from their (shrunk)
mean rating, so loved movies pull the profile towards them and disliked ones push it away.
Scores are cosine similarities to that profile. This is what lets a new user with three
ratings, or a movie nobody has rated yet, get sensible recommendations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer
from sklearn.preprocessing import normalize

from recommender.component import CatalogChange, check_ratings, check_rows
from recommender.data import Catalog, Ratings

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
OVERVIEW = "overview"  # a catalogue feature whose value is a text: its words become features
_OWN_BLOCKS = ("genre", "decade", "title", OVERVIEW)  # every other kind is a "feature"
_FEATURE_PREFIX = "feature_"


@dataclass(frozen=True)
class ContentConfig:
    """Relative weights of each kind of feature: a movie's block of each kind is scaled to
    this length after TF-IDF (before the whole vector is normalised).

    `feature_weight` applies to catalogue features (people, tags, knowledge-graph entities, and
    TMDb's directors, cast, writers and keywords); `overview_weight` to the words of a movie's
    TMDb overview (a catalogue feature of kind "overview" holding the text);
    `min_df` drops features shared by fewer movies (they cannot connect two movies anyway);
    `shrinkage` pulls a user's mean rating towards the global mean with that many pseudo-ratings,
    so a user with a single 5★ rating still has a positive profile.
    """

    genre_weight: float = 1.0
    decade_weight: float = 0.5
    feature_weight: float = 0.5
    title_weight: float = 0.3
    overview_weight: float = 0.3
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
            if kind == OVERVIEW:
                for word in _words(value):  # a word's count is its term frequency
                    tokens[f"{OVERVIEW}={word}"] = tokens.get(f"{OVERVIEW}={word}", 0.0) + 1.0
                continue
            # A catalogue feature named like one of our own kinds (the knowledge graph's
            # "genre" entities) is a feature like any other, not a MovieLens genre.
            key = f"{_FEATURE_PREFIX if kind in _OWN_BLOCKS[:3] else ''}{kind}={value}"
            tokens[key] = max(tokens.get(key, 0.0), float(weight))
    for word in _words(catalog.titles[index]):
        tokens[f"title={word}"] = 1.0
    return tokens


def _words(text: str) -> list[str]:
    """Words of three letters or more, lower case, without English stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def _kind(feature: str) -> str:
    return feature.split("=", 1)[0]


class Content:
    """TF-IDF item vectors and rating-weighted user profiles, scored by cosine similarity."""

    name: ClassVar[str] = "content"

    def __init__(
        self,
        config: ContentConfig,
        vectors: sp.csr_matrix,
        feature_names: np.ndarray,
        idf: np.ndarray,
        global_mean: float,
    ) -> None:
        self.config = config
        self.vectors = vectors  # items × features, rows L2-normalised
        self.feature_names = np.asarray(feature_names, dtype=str)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.global_mean = float(global_mean)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: ContentConfig | None = None) -> Self:
        cfg = config or ContentConfig()
        check_ratings(ratings, catalog, cls.name)
        bags = [item_tokens(catalog, i) for i in range(len(catalog))]
        vectorizer = DictVectorizer(dtype=np.float32, sort=True)
        counts = vectorizer.fit_transform(bags).tocsc()
        df = np.diff(counts.indptr)
        keep = np.flatnonzero(df >= cfg.min_df)
        names = np.asarray(vectorizer.get_feature_names_out()[keep], dtype=str)
        counts = counts[:, keep].tocsr()
        idf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts).idf_.astype(np.float32)
        vectors = _vectorise(counts, idf, names, cfg)
        return cls(cfg, vectors, names, idf, float(ratings.matrix.data.mean()))

    def transform(self, catalog: Catalog, indices: Iterable[int]) -> sp.csr_matrix:
        """Vectors for catalogue movies in this model's feature space (e.g. movies added later)."""
        position = {str(name): j for j, name in enumerate(self.feature_names)}
        indices = list(indices)
        if not indices:
            return sp.csr_matrix((0, len(position)), dtype=np.float32)
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
        return _vectorise(counts, self.idf, self.feature_names, self.config)

    def profiles(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Users' content profiles: Σ (stars − shrunk user mean) × item vector."""
        rows = sp.csr_matrix(rows, dtype=np.float32)
        counts = np.diff(rows.indptr)
        sums = np.asarray(rows.sum(axis=1)).ravel()
        k = self.config.shrinkage
        centre = (sums + k * self.global_mean) / (counts + k)
        centred = rows.copy()
        centred.data = centred.data - np.repeat(centre, counts).astype(np.float32)
        return centred @ self.vectors

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of every movie to each user's profile (n × n_items)."""
        profiles = self.profiles(rows)
        # Items × profiles as a sparse-times-dense product: one pass over the item vectors.
        dense = np.asarray(profiles.T.todense(), dtype=np.float32)  # features × n
        norms = np.linalg.norm(dense, axis=0)
        dense /= np.where(norms > 0, norms, 1.0)
        return np.ascontiguousarray((self.vectors @ dense).T, dtype=np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        vectors = self.vectors
        return {
            "data": vectors.data,
            "indices": vectors.indices,
            "indptr": vectors.indptr,
            "shape": np.array(vectors.shape, dtype=np.int64),
            "feature_names": self.feature_names,
            "idf": self.idf,
            "global_mean": np.array([self.global_mean], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: ContentConfig
    ) -> Self:
        shape = tuple(int(x) for x in arrays["shape"])
        vectors = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
        check_rows(vectors, catalog, cls.name)
        return cls(
            config,
            vectors,
            arrays["feature_names"],
            arrays["idf"],
            float(arrays["global_mean"][0]),
        )

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training get vectors from what they are (genres, year, …)."""
        vectors, old, added = self.vectors, change.old, change.added
        new_rows = self.transform(change.catalog, added)
        position = np.where(old >= 0, old, 0)
        position[added] = vectors.shape[0] + np.arange(len(added))
        stacked = sp.vstack([vectors, new_rows]).tocsr()[position]
        # as an artifact would hold it, so a saved copy scores the same
        moved = self.to_arrays() | {
            "data": stacked.data,
            "indices": stacked.indices,
            "indptr": stacked.indptr,
            "shape": np.array(stacked.shape, dtype=np.int64),
        }
        return self.from_arrays(moved, change.catalog, self.config)


def _blocks(names: np.ndarray) -> np.ndarray:
    """Each feature's block: its kind if the config weighs that kind, else "feature"."""
    kinds = np.array([_kind(str(f)) for f in names], dtype=object)
    return np.where(np.isin(kinds, _OWN_BLOCKS), kinds, "feature").astype(str)


def _block_weights(config: ContentConfig) -> dict[str, float]:
    return {
        "genre": config.genre_weight,
        "decade": config.decade_weight,
        "title": config.title_weight,
        OVERVIEW: config.overview_weight,
        "feature": config.feature_weight,
    }


def _vectorise(
    counts: sp.csr_matrix, idf: np.ndarray, names: np.ndarray, config: ContentConfig
) -> sp.csr_matrix:
    """Counts (items × kept features) → TF-IDF rows, each kind's block of its weight's length,
    the whole of unit length."""
    tf = counts.copy().astype(np.float32).tocsr()
    tf.data = 1.0 + np.log(np.maximum(tf.data, 1e-6))
    tfidf = (tf @ sp.diags(idf)).tocsr()
    blocks = _blocks(names)
    weighted = tfidf.copy()
    rows = np.repeat(np.arange(tfidf.shape[0]), np.diff(tfidf.indptr))
    for block, weight in _block_weights(config).items():
        in_block = blocks[tfidf.indices] == block
        if not in_block.any():
            continue
        lengths = np.bincount(
            rows[in_block], weights=tfidf.data[in_block] ** 2, minlength=tfidf.shape[0]
        )
        length = np.sqrt(lengths)[rows[in_block]]
        weighted.data[in_block] = weight * tfidf.data[in_block] / np.maximum(length, 1e-12)
    weighted.eliminate_zeros()
    return normalize(weighted, norm="l2", copy=False).astype(np.float32)
