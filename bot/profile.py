"""A user's taste at a glance: favourite genres and decades, and a chart of them."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from storage.movies import Movie
from storage.ratings import Rating

K = TypeVar("K", str, int)
SHRINK = 2.0  # pseudo-ratings at the user's mean: one 5★ doesn't make a favourite genre
NEUTRAL = 2.5  # stars: a genre rated above this counts for it, below against it


@dataclass(frozen=True)
class TasteProfile:
    count: int
    average: float
    genres: tuple[tuple[str, float], ...]  # (genre, shrunk mean rating), favourite first
    decades: tuple[tuple[int, float], ...]  # (first year of decade, shrunk mean), favourite first
    genre_counts: tuple[tuple[str, int], ...]
    favourite_genres: tuple[str, ...] = ()  # rated often and highly, best first
    favourite_decades: tuple[int, ...] = ()

    @classmethod
    def of(cls, rated: Sequence[Rating], catalog: Mapping[int, Movie]) -> TasteProfile:
        if not rated:
            return cls(0, 0.0, (), (), ())
        mean = sum(r.rating for r in rated) / len(rated)
        by_genre: dict[str, list[float]] = defaultdict(list)
        by_decade: dict[int, list[float]] = defaultdict(list)
        for r in rated:
            movie = catalog.get(r.movie_id)
            if movie is None:
                continue
            for genre in movie.genres:
                by_genre[genre].append(r.rating)
            if movie.year:
                by_decade[movie.year // 10 * 10].append(r.rating)
        genres, favourite_genres = _ranked(by_genre, mean)
        decades, favourite_decades = _ranked(by_decade, mean)
        counts = sorted(((g, len(v)) for g, v in by_genre.items()), key=lambda kv: (-kv[1], kv[0]))
        return cls(
            len(rated), mean, genres, decades, tuple(counts), favourite_genres, favourite_decades
        )


def _ranked(
    groups: Mapping[K, list[float]], mean: float
) -> tuple[tuple[tuple[K, float], ...], tuple[K, ...]]:
    """Each group with its shrunk mean rating, favourite first, and the favourites alone.

    A favourite is what the person rates often and highly: the number of ratings times how far
    their (shrunk) mean is above neutral. So eight horror films at ★5 make Horror the favourite
    even when they are also Action, Adventure or Comedy now and then; ten dramas at ★2 make
    Drama none. For a harsh rater, neutral is half a star under their own average.
    """
    neutral = min(NEUTRAL, mean - 0.5)
    shrunk = {k: (sum(v) + SHRINK * mean) / (len(v) + SHRINK) for k, v in groups.items()}
    weight = {k: len(groups[k]) * (shrunk[k] - neutral) for k in groups}
    order = sorted(groups, key=lambda k: (-weight[k], -shrunk[k], str(k)))
    return tuple((k, shrunk[k]) for k in order), tuple(k for k in order if weight[k] > 0)


def taste_chart(profile: TasteProfile) -> bytes:
    """A PNG: how many movies of each genre you rated, coloured by how much you liked them."""
    # Figure without pyplot: no global state, so charts can be drawn in worker threads.
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    liking = dict(profile.genres)
    top = list(profile.genre_counts[:10])[::-1]
    fig = Figure(figsize=(6, 0.45 * len(top) + 1.2), dpi=100)
    ax = fig.subplots()
    names = [g for g, _ in top]
    values = [c for _, c in top]
    colours = colormaps["RdYlGn"]([(liking[g] - 1) / 4 for g in names])
    ax.barh(names, values, color=colours)
    for y, g in enumerate(names):
        ax.text(values[y], y, f"  ★{liking[g]:.1f}", va="center", fontsize=9)
    ax.set_xlabel("movies rated (label: how much you liked them)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Your taste: {profile.count} ratings, average ★{profile.average:.1f}")
    ax.set_xlim(0, max(values) * 1.25)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
