"""Content-based scoring: TF-IDF over what a movie is (genres, decade, people, tags, title words,
and, where TMDb metadata was stored, its directors, cast, writers, keywords and overview words).

Each movie becomes an L2-normalised sparse vector made of one block per kind of feature
(genres, decade, title words, overview words, and every other catalogue feature together),
each block of unit length times its kind's weight: a movie's thirty actors then weigh what
the weight says, not thirty times its three genres (docs/evaluation.md: on MovieLens 100K the
knowledge graph's people drowned the genres and the decade). A user's profile is the sum of
the vectors of the movies they rated, weighted by how far each rating is from their (shrunk)
mean rating, so loved movies pull the profile towards them and disliked ones push it away.
A movie scores its cosine similarity to that profile (standardised over the catalogue) plus
`draw_weight` times its *draw*: how many ratings movies like it get, learnt from the item
vectors by a ridge regression on log(1 + ratings) over the movies rated in training, its
strength chosen on a seeded fifth of them held out. The draw is a function of what a movie is,
never of its own ratings at serving time, so it speaks for a movie nobody has rated yet (the
new-movies protocol) as well as for the others; without it a content profile favours obscure
movies that happen to share features, which nobody has seen. This is what lets a new user
with three ratings, or a movie nobody has rated yet, get sensible recommendations.
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
from sklearn.linear_model import Ridge
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
    so a user with a single 5★ rating still has a positive profile; `draw_weight` weighs the
    draw (see the module; 0: the profile alone).
    """

    genre_weight: float = 1.0
    decade_weight: float = 0.5
    feature_weight: float = 0.5
    title_weight: float = 0.3
    overview_weight: float = 0.3
    min_df: int = 2
    shrinkage: float = 3.0
    draw_weight: float = 1.0


# Ridge strengths the draw chooses from, on a seeded share of the rated movies held out.
DRAW_ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
DRAW_HELD_OUT = 0.2
DRAW_MIN_MOVIES = 20  # fewer rated movies than this: no draw (it could not be validated)


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
        draw_coef: np.ndarray,
        draw_offset: float,
    ) -> None:
        self.config = config
        self.vectors = vectors  # items × features, rows L2-normalised
        self.feature_names = np.asarray(feature_names, dtype=str)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.global_mean = float(global_mean)
        # the draw of a movie with vector x: x · draw_coef + draw_offset, in standard units
        self.draw_coef = np.asarray(draw_coef, dtype=np.float32)
        self.draw_offset = float(draw_offset)
        self.draw = np.asarray(vectors @ self.draw_coef + self.draw_offset, dtype=np.float32)

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
        coef, offset = _fit_draw(vectors, ratings)
        return cls(cfg, vectors, names, idf, float(ratings.matrix.data.mean()), coef, offset)

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

    def similarity(self, rows: sp.csr_matrix) -> np.ndarray:
        """Cosine similarity of every movie to each user's profile (n × n_items)."""
        profiles = self.profiles(rows)
        # Items × profiles as a sparse-times-dense product: one pass over the item vectors.
        dense = np.asarray(profiles.T.todense(), dtype=np.float32)  # features × n
        norms = np.linalg.norm(dense, axis=0)
        dense /= np.where(norms > 0, norms, 1.0)
        return np.ascontiguousarray((self.vectors @ dense).T, dtype=np.float32)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """The profile similarity in standard units per user, plus the weighted draw."""
        sims = self.similarity(rows)
        mean = sims.mean(axis=1, keepdims=True)
        std = sims.std(axis=1, keepdims=True)
        sims = np.where(std > 1e-12, (sims - mean) / np.maximum(std, 1e-12), 0.0)
        return (sims + self.config.draw_weight * self.draw).astype(np.float32)

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
            "draw_coef": self.draw_coef,
            "draw_offset": np.array([self.draw_offset], dtype=np.float64),
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
            arrays["draw_coef"],
            float(arrays["draw_offset"][0]),
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


def _fit_draw(vectors: sp.csr_matrix, ratings: Ratings) -> tuple[np.ndarray, float]:
    """Ridge coefficients and offset that map an item vector to its draw: its predicted
    log(1 + ratings), in standard units over the movies rated in training (zeros when too few
    are rated)."""
    counts = np.bincount(ratings.matrix.indices, minlength=vectors.shape[0])
    rated = np.flatnonzero(counts > 0)
    if len(rated) < DRAW_MIN_MOVIES or vectors.shape[1] == 0:
        return np.zeros(vectors.shape[1], dtype=np.float32), 0.0
    target = np.log1p(counts[rated].astype(np.float64))
    target = (target - target.mean()) / max(float(target.std()), 1e-12)
    x = vectors[rated]
    held = np.zeros(len(rated), dtype=bool)
    held[np.random.default_rng(0).permutation(len(rated))[: int(DRAW_HELD_OUT * len(rated))]] = True

    def fitted(alpha: float, mask: np.ndarray) -> Ridge:
        return Ridge(alpha=alpha, solver="sparse_cg", random_state=0).fit(x[mask], target[mask])

    best = max(DRAW_ALPHAS, key=lambda a: fitted(a, ~held).score(x[held], target[held]))
    model = fitted(best, np.ones(len(rated), dtype=bool))
    # in standard units over the rated movies, so `draw_weight` means the same on any data
    predicted = model.predict(x)
    spread = max(float(predicted.std()), 1e-12)
    offset = (float(model.intercept_) - float(predicted.mean())) / spread
    return (model.coef_ / spread).astype(np.float32), offset


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
