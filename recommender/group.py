"""Recommendations for a group: score every movie for every member, then aggregate.

Each member's blended relevance (`Recommender.relevance`) is normalised to z-scores over the
candidate movies, so a member whose model is very sure of everything does not outvote the
others. The group score of a movie is then one of (Masthoff's classic strategies):

- `average`: the mean of the members' scores (what the group likes on the whole);
- `least_misery`: the lowest member's score (nobody suffers);
- `most_pleasure`: the highest member's score (someone loves it);
- `average_without_misery` (the default): the mean, but a movie that would make any member
  miserable is vetoed. When fewer than the wanted number of movies survive, the rest are filled
  by least misery, so a group with clashing tastes still gets a list.

Misery is judged on each member's own scale, never on one star line for everyone (see
`miserable`): a movie is out for a member when their predicted stars fall well below their own
usual rating (more than `MISERY_SPREADS` of their own spread below their own average), or, for
a member who rates everything alike (all their ratings within `ALIKE_SPAN` stars, say all ★5),
when it is not among their own top `ALIKE_TOP` of matches (their top `ALIKE_MIN` at least).
Such a member tells us what they like but not what they dislike: the rating predictor learns
only that they are generous, so their predicted stars are high for nearly everything and veto
nothing; where a movie stands in their own ranking still tells.

Members with fewer than `MIN_RATINGS` ratings have *neutral* preferences: they are part of the
group (they vote) but their row does not move the scores. A group with no informed member gets
the model's popular, diverse list. Movies any member rated, and `exclude`d ones, are never
picked, and `Filters` hold as for one user (`Recommender.allowed`); the re-rank of
`recommender.rerank` (the single-user one, here over genre similarity) keeps the top five from
being five sequels of one film.

Everything here is pure: a `Recommender` and plain mappings in, frozen dataclasses out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from recommender.data import Catalog
from recommender.filters import Filters
from recommender.hybrid import Recommender
from recommender.rerank import pool_size, rerank

STRATEGIES = ("average", "least_misery", "average_without_misery", "most_pleasure")
DEFAULT_STRATEGY = "average_without_misery"
MIN_RATINGS = 3  # fewer ratings than this: neutral preferences
MISERY_SPREADS = 1.0  # predicted more than this many own spreads below their own average: misery
MIN_SPREAD = 0.5  # a member's spread (std of their ratings) never counts as less than this
ALIKE_SPAN = 1.0  # all of a member's ratings within this many stars: they rate everything alike
ALIKE_TOP = 0.05  # … and a movie outside their own top 5% of matches is misery for them,
ALIKE_MIN = 10  # … their top 10 at least (a filtered night may have few candidates)
LOVED_STARS = 4.0  # a member "loved" a movie they rated at least this
REASON_STARS = 3.5  # a pick's reason names only members predicted at least this (and not miserable)
SIMILAR_DEPTH = 30  # how far down a pick's neighbours we look for a member's loved movie
DIVERSITY = 0.2  # MMR strength over genre similarity (genres overlap more than content does)


class GroupError(ValueError):
    """The request cannot be served (unknown strategy, bad size)."""


@dataclass(frozen=True)
class Member:
    """One person in the group: a key the caller understands (e.g. a Telegram id) + ratings."""

    key: int
    ratings: Mapping[int, float] = field(default_factory=dict)

    @property
    def informed(self) -> bool:
        return len(self.ratings) >= MIN_RATINGS

    @property
    def usual(self) -> float:
        """Their own average rating (0 with no ratings)."""
        return float(np.mean(list(self.ratings.values()))) if self.ratings else 0.0

    @property
    def misery_stars(self) -> float:
        """Predicted stars below this are well below their usual rating: misery, on their scale."""
        stars = list(self.ratings.values())
        spread = max(float(np.std(stars)) if stars else 0.0, MIN_SPREAD)
        return self.usual - MISERY_SPREADS * spread

    @property
    def alike(self) -> bool:
        """Rates everything alike (all within ALIKE_SPAN stars): no dislikes to learn from."""
        stars = list(self.ratings.values())
        return self.informed and max(stars) - min(stars) <= ALIKE_SPAN


@dataclass(frozen=True)
class GroupPick:
    movie_id: int
    score: float  # the group score the strategy gave it
    predicted: Mapping[int, float]  # member key → predicted stars (informed members only)
    loved: Mapping[int, int]  # member key → a movie they loved that is like this one
    fits: bool | None = None  # nobody's misery (see `miserable`); None: nobody informed
    top: float | None = None  # the largest share of movies a member likes better than this one
    alike: tuple[int, ...] = ()  # the members who rate everything alike (judged by ranking)

    @property
    def min_predicted(self) -> float | None:
        """The least happy member's predicted stars: the pick's misery."""
        return min(self.predicted.values()) if self.predicted else None


@dataclass(frozen=True)
class MemberScores:
    """Everything the strategies need, computed once per group (so several can be compared)."""

    keys: tuple[int, ...]  # informed members, in row order
    candidates: np.ndarray  # catalogue indices that may be picked
    scores: np.ndarray  # len(keys) × len(candidates) normalised scores (1 × … if none informed)
    stars: np.ndarray  # len(keys) × len(candidates) predicted stars (0 rows if none informed)
    ranks: np.ndarray  # len(keys) × len(candidates): share of candidates each likes better
    misery: np.ndarray  # len(keys) × len(candidates): this movie would make this member miserable
    alike: tuple[int, ...] = ()  # informed members who rate everything alike

    @property
    def veto(self) -> np.ndarray:
        """Movies that would make some member miserable (none when nobody is informed)."""
        return vetoed(self.misery, len(self.candidates))


# -- pure aggregation ---------------------------------------------------------------------------


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise GroupError(f"unknown group strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    return strategy


def normalise(scores: np.ndarray) -> np.ndarray:
    """Row-wise z-scores (members × movies); a flat row becomes zeros (no opinion)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if scores.shape[1] == 0:
        return scores
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return np.where(std > 1e-12, (scores - mean) / np.maximum(std, 1e-12), 0.0)


def shares_above(scores: np.ndarray) -> np.ndarray:
    """Row-wise: the share of the movies each member likes strictly better (0 = a favourite)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n = scores.shape[1]
    if n == 0:
        return scores.copy()
    return (n - rankdata(scores, method="max", axis=1)) / n


def miserable(
    stars: np.ndarray,
    floors: Sequence[float],
    ranks: np.ndarray,
    alike: Sequence[bool],
) -> np.ndarray:
    """members × movies: would this movie make this member miserable, on their own scale?

    Predicted stars below the member's own floor (`Member.misery_stars`), or, for a member who
    rates everything alike, a movie outside their own top `ALIKE_TOP` (their top `ALIKE_MIN`
    at least; `ranks` as `shares_above` gives them).
    """
    stars = np.atleast_2d(np.asarray(stars, dtype=np.float64))
    ranks = np.atleast_2d(np.asarray(ranks, dtype=np.float64))
    below = stars < np.asarray(floors, dtype=np.float64).reshape(-1, 1)
    limit = max(ALIKE_TOP, ALIKE_MIN / max(ranks.shape[1], 1))
    far_down = np.asarray(alike, dtype=bool).reshape(-1, 1) & (ranks >= limit)
    return np.asarray(below | far_down)


def vetoed(misery: np.ndarray, n: int | None = None) -> np.ndarray:
    """Movies that would make some member miserable (`n` movies when there are no members)."""
    misery = np.asarray(misery, dtype=bool)
    if misery.ndim < 2 or misery.shape[0] == 0:
        return np.zeros(n if n is not None else misery.shape[-1], dtype=bool)
    return np.asarray(misery.any(axis=0))


def aggregate(scores: np.ndarray, strategy: str, veto: np.ndarray | None = None) -> np.ndarray:
    """One group score per movie; vetoed movies get -inf under average_without_misery."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    check_strategy(strategy)
    if strategy == "least_misery":
        return scores.min(axis=0)
    if strategy == "most_pleasure":
        return scores.max(axis=0)
    mean = scores.mean(axis=0)
    if strategy == "average_without_misery" and veto is not None:
        return np.where(veto, -np.inf, mean)
    return mean


def order(
    scores: np.ndarray, strategy: str, veto: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Movie positions best first, and the group score of each (for ties and display).

    Under average_without_misery the movies that make nobody miserable (not in `veto`) come
    first (by their mean), then the vetoed ones by least misery: the fallback when too few
    survive.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n = scores.shape[1]
    if strategy != "average_without_misery":
        group = aggregate(scores, strategy)
        ranked = np.lexsort((np.arange(n), -group))
        return ranked, group[ranked]
    veto = np.zeros(n, dtype=bool) if veto is None else np.asarray(veto, dtype=bool)
    survivors = aggregate(scores, strategy, veto)
    fallback = aggregate(scores, "least_misery")
    keep = np.flatnonzero(~veto)
    rest = np.flatnonzero(veto)
    keep = keep[np.lexsort((keep, -survivors[keep]))]
    rest = rest[np.lexsort((rest, -fallback[rest]))]
    ranked = np.concatenate([keep, rest])
    values = np.concatenate([survivors[keep], fallback[rest]])
    return ranked, values


def genre_similarity(genres: Sequence[Sequence[str]]) -> np.ndarray:
    """Pairwise Jaccard similarity of genre sets (two movies without genres: 0)."""
    names = sorted({g for gs in genres for g in gs})
    index = {g: j for j, g in enumerate(names)}
    matrix = np.zeros((len(genres), len(names)), dtype=np.float64)
    for i, gs in enumerate(genres):
        for g in gs:
            matrix[i, index[g]] = 1.0
    shared = matrix @ matrix.T
    sizes = matrix.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)


# -- with a model --------------------------------------------------------------------------------


def score_members(
    model: Recommender,
    members: Sequence[Member],
    exclude: Collection[int] = (),
    filters: Filters | None = None,
) -> MemberScores:
    """Normalised relevance, predicted stars and misery of every candidate for every member."""
    catalog = model.catalog
    mask = model.allowed(filters)
    for member in members:
        mask[_indices(catalog, member.ratings)] = False
    mask[_indices(catalog, exclude)] = False
    candidates = np.flatnonzero(mask)
    informed = [m for m in members if m.informed]
    if not informed:
        # Nobody has told us anything: the popular list, shared by everyone.
        row = model.relevance({})[candidates]
        none = np.empty((0, len(candidates)))
        return MemberScores((), candidates, normalise(row), none, none, none.astype(bool))
    relevance = np.vstack([model.relevance(m.ratings)[candidates] for m in informed])
    ids = catalog.items.ids[candidates].tolist()
    stars = np.zeros((len(informed), len(candidates)), dtype=np.float64)
    for position, member in enumerate(informed):
        predicted = model.predict(member.ratings, ids)
        # A movie the predictor does not know counts as the member's usual: no misery.
        stars[position] = [predicted.get(movie_id, member.usual) for movie_id in ids]
    ranks = shares_above(relevance)
    misery = miserable(
        stars, [m.misery_stars for m in informed], ranks, [m.alike for m in informed]
    )
    keys = tuple(m.key for m in informed)
    alike = tuple(m.key for m in informed if m.alike)
    return MemberScores(keys, candidates, normalise(relevance), stars, ranks, misery, alike)


def choose(
    scored: MemberScores, catalog: Catalog, strategy: str, n: int, diversity: float = 0.0
) -> list[tuple[int, float]]:
    """The `n` picks (catalogue index, group score) under `strategy`, diversity re-ranked."""
    check_strategy(strategy)
    if n <= 0 or len(scored.candidates) == 0:
        return []
    veto = scored.veto
    ranked, values = order(scored.scores, strategy, veto)
    survivors = int((~veto).sum()) if strategy == "average_without_misery" else len(ranked)
    # Re-rank only among equals: survivors among survivors; the fallback keeps its order.
    size = pool_size(n, diversity, survivors)
    pool = ranked[:size]

    def similarity() -> np.ndarray:
        return genre_similarity([catalog.genres[i] for i in scored.candidates[pool]])

    picked = rerank(values[:size], n, diversity, similarity)
    chosen = [(int(pool[p]), float(values[p])) for p in picked]
    if len(chosen) < n:
        chosen += [(int(ranked[p]), float(values[p])) for p in range(size, len(ranked))][
            : n - len(chosen)
        ]
    return [(int(scored.candidates[c]), v) for c, v in chosen]


def recommend_group(
    model: Recommender,
    members: Sequence[Member],
    n: int = 5,
    strategy: str = DEFAULT_STRATEGY,
    exclude: Collection[int] = (),
    filters: Filters | None = None,
    diversity: float | None = None,
) -> list[GroupPick]:
    """The group's `n` best movies, each with every informed member's predicted stars, whether
    it makes nobody miserable, and, where there is one, a movie that member loved which is
    like the pick (the reason)."""
    check_strategy(strategy)
    scored = score_members(model, members, exclude, filters)
    strength = DIVERSITY if diversity is None else float(diversity)
    chosen = choose(scored, model.catalog, strategy, n, strength)
    ids = model.catalog.items.ids
    position = {int(c): j for j, c in enumerate(scored.candidates)}
    informed = [m for m in members if m.informed]
    picks = []
    for index, value in chosen:
        movie_id = int(ids[index])
        column = position[index]
        predicted = {
            key: round(float(scored.stars[row, column]), 2) for row, key in enumerate(scored.keys)
        }
        fans = [
            m
            for row, m in enumerate(informed)
            if predicted[m.key] >= REASON_STARS and not scored.misery[row, column]
        ]
        fits = bool(not scored.misery[:, column].any()) if scored.keys else None
        top = float(scored.ranks[:, column].max()) if scored.keys else None
        loved = loved_like(model, movie_id, fans)
        picks.append(GroupPick(movie_id, value, predicted, loved, fits, top, scored.alike))
    return picks


def loved_like(model: Recommender, movie_id: int, members: Sequence[Member]) -> dict[int, int]:
    """For each member, the movie they loved that is most like `movie_id` (if one is close)."""
    neighbours = [p.movie_id for p in model.similar(movie_id, n=SIMILAR_DEPTH)]
    out: dict[int, int] = {}
    for member in members:
        loved = {m for m, stars in member.ratings.items() if stars >= LOVED_STARS}
        match = next((m for m in neighbours if m in loved), None)
        if match is not None:
            out[member.key] = match
    return out


def _indices(catalog: Catalog, movie_ids: Collection[int]) -> np.ndarray:
    if not movie_ids:
        return np.empty(0, dtype=np.int64)
    cols = catalog.items.index_of(list(movie_ids))
    return cols[cols >= 0]
