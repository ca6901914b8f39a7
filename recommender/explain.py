"""Why each pick: the liked movie it is most like, the taste of people like the user, a genre
the user likes, or its popularity.

The same likeness ranks `Recommender.similar`, so "because you liked X" names the movie of
the user's own that `similar` would put next to the pick, and only when it is really alike
(`MIN_LIKENESS`) and not already named for `MAX_REPEATS` of the last `REPEAT_WINDOW` picks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from recommender.blend import BlendConfig
from recommender.data import Catalog
from recommender.scoring import COMPONENTS, PERSONAL

# "Because you liked X" only when X is at least this alike (`Explainer.likeness`). On
# MovieLens 100K the median movie's 20th closest movie is 0.33 alike and 1% of all pairs are
# above 0.36; pairs a reader accepts (Empire → Jedi 0.54, Twelve Monkeys → Contact 0.43,
# Jerry Maguire → Fargo 0.38: each within the pick's 17 closest) sit above it, the pairs a
# reader rejects (Forrest Gump → Jedi 0.29, Air Force One → Liar Liar 0.26, Dances with Wolves
# → Star Wars 0.22: the pick's 49th to 300th closest) below it (docs/reasons.md).
MIN_LIKENESS = 0.33
# A liked movie is named for at most this many picks of any this many consecutive ones (a
# page has at most ten), so one favourite does not explain a whole page.
MAX_REPEATS, REPEAT_WINDOW = 2, 10


@dataclass(frozen=True)
class Reason:
    """Why a pick: "liked" (like `movie_id`, a movie the user liked), "similar" (like the
    seed `movie_id` of `similar`), "taste" (the personal models chose it, yet no liked movie is
    really like it: people with the user's taste like it), "genre" (in `genre`, a genre of the
    user's liked movies, and popular) or "popular" (well liked by everyone)."""

    kind: Literal["liked", "similar", "taste", "genre", "popular"]
    movie_id: int | None = None
    genre: str | None = None


def liked(row: sp.csr_matrix, liked_from: float) -> np.ndarray:
    """Indices of history movies the user liked: rated at least min(their mean, 4), and never
    under `liked_from` (the middle of the rating scale): a harsh rater's best are theirs to
    like, a half star is nobody's."""
    if row.nnz == 0:
        return np.empty(0, dtype=np.int64)
    threshold = max(min(float(row.data.mean()), 4.0), liked_from)
    return np.asarray(row.indices[row.data >= threshold], dtype=np.int64)


class Explainer:
    """Item-item likeness and the reason shown next to each pick, for one fitted model."""

    def __init__(
        self,
        catalog: Catalog,
        blend: BlendConfig,
        genre_names: Sequence[str],
        genre_matrix: sp.csr_matrix,
        genre_unit: np.ndarray,
        taste: np.ndarray,
        content: sp.csr_matrix,
        *,
        liked_from: float,
    ) -> None:
        self.catalog = catalog
        self.blend = blend
        self.liked_from = liked_from  # a rating under this never makes a movie "liked"
        self.genre_names = list(genre_names)
        self.genre_matrix = genre_matrix  # items × genres, 0/1
        self.genre_unit = genre_unit  # its rows at unit length
        self.taste = taste  # items × ALS factors, rows at unit length (0 for unrated)
        self.content = content  # items × content features, rows at unit length

    def likeness(self, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """How alike movies `rows` and `cols` (default: all) are, rows × cols: taste (ALS-factor
        cosine blended with content cosine; content alone for a row movie nobody rated) times
        genre agreement. Taste alone puts the most watched films of an era side by side (Star
        Wars next to Toy Story: the same people saw both); the genres say what a movie is, so a
        film sharing none keeps only `similarity_genre_floor` of its taste (a negative taste,
        already unlike, stays as it is)."""
        vectors = self.content
        if cols is None:
            content = np.asarray((vectors[rows] @ vectors.T).todense(), dtype=np.float32)
        else:
            content = _dots(vectors, rows, cols)
        factors = self.taste
        taste = factors[rows] @ (factors if cols is None else factors[cols]).T
        share = self.blend.similarity_als_share
        has_taste = factors[rows].any(axis=1)[:, None]
        taste = np.where(has_taste, share * taste + (1 - share) * content, content)
        unit = self.genre_unit
        genres = unit[rows] @ (unit if cols is None else unit[cols]).T
        floor = self.blend.similarity_genre_floor
        return np.asarray(np.where(taste > 0, taste * (floor + (1 - floor) * genres), taste))

    def reasons(
        self, row: sp.csr_matrix, chosen: np.ndarray, parts: Mapping[str, np.ndarray]
    ) -> list[Reason]:
        """Why each pick: a liked history movie like it, the user's taste, a genre, popularity.

        The personal models speak for a pick when they score it more strongly than the
        general components (popularity, quality, the era and the genre lift) do, each judged
        per unit of its blend weight (a weighted mean of their scores): new users' blends lean
        on popularity, yet a pick the personal models single out should still say which of
        their movies it is like. That movie is the liked one most like the pick, among those
        at least `MIN_LIKENESS` alike and not yet named `MAX_REPEATS` times in the last
        `REPEAT_WINDOW` picks; with none, the reason is the user's taste ("taste").
        """
        mine = liked(row, self.liked_from)
        top_genres = self.user_genres(mine)
        general = tuple(c for c in COMPONENTS if c not in PERSONAL)
        alike = self.likeness(chosen, mine) if len(mine) else None
        weights = {k: float(w[0]) for k, w in self.blend.weights([row.nnz], parts).items()}
        mass = {
            kind: max(sum(weights[k] for k in parts if (k in general) == kind), 1e-12)
            for kind in (True, False)
        }
        reasons: list[Reason] = []
        for position, i in enumerate(chosen):
            personal = sum(float(parts[k][i]) for k in parts if k not in general) / mass[False]
            popular = sum(float(parts[k][i]) for k in parts if k in general) / mass[True]
            if alike is not None and personal >= popular:
                recent = [r.movie_id for r in reasons[-(REPEAT_WINDOW - 1) :]]
                named = self._named(alike[position], mine, recent)
                reasons.append(Reason("liked", movie_id=named) if named else Reason("taste"))
                continue
            genre = next((g for g in top_genres if g in self.catalog.genres[i]), None)
            reasons.append(Reason("genre", genre=genre) if genre else Reason("popular"))
        return reasons

    def _named(
        self, alike: np.ndarray, mine: np.ndarray, recent: Sequence[int | None]
    ) -> int | None:
        """The id of the liked movie (`mine`, `alike` to the pick) to name, or None."""
        for j in np.argsort(-alike, kind="stable"):
            if alike[j] < MIN_LIKENESS:
                return None
            movie = int(self.catalog.items.ids[mine[j]])
            if recent.count(movie) < MAX_REPEATS:
                return movie
        return None

    def user_genres(self, movies: np.ndarray) -> list[str]:
        """Genres of these movies, most frequent first."""
        if len(movies) == 0:
            return []
        # The dense unit rows are non-zero exactly where a movie has a genre: counting them
        # avoids slicing a sparse matrix, a fixed cost larger than the sum on a small catalogue.
        counts = np.count_nonzero(self.genre_unit[movies], axis=0)
        order = np.argsort(-counts, kind="stable")
        return [self.genre_names[j] for j in order if counts[j] > 0]


def _dots(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`matrix[rows] @ matrix[cols].T` as a dense float32 array, for a few rows and columns
    (a pick's reasons: ten picks against the user's liked movies): on the CSR arrays, as small
    dense blocks over the features the `cols` rows have, without building sparse matrices
    (their construction is most of the cost of so small a product)."""
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data

    def gather(which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts, ends = indptr[which], indptr[which + 1]
        lengths = ends - starts
        owner = np.repeat(np.arange(len(which)), lengths)
        positions = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at = np.repeat(starts, lengths) + positions
        return owner, indices[at], data[at]

    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    out = np.zeros((len(rows), len(cols)), dtype=np.float32)
    if len(rows) == 0 or len(cols) == 0:
        return out
    col_owner, col_features, col_values = gather(cols)
    features = np.unique(col_features)
    width = len(features)
    if width == 0:
        return out

    def dense(owner: np.ndarray, at: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
        cells = np.bincount(owner * width + at, weights=values, minlength=n * width)
        return cells.reshape(n, width)

    right = dense(col_owner, np.searchsorted(features, col_features), col_values, len(cols))
    row_owner, row_features, row_values = gather(rows)
    where = np.minimum(np.searchsorted(features, row_features), width - 1)
    shared = features[where] == row_features
    left = dense(row_owner[shared], where[shared], row_values[shared], len(rows))
    return (left @ right.T).astype(np.float32)
