"""A user's taste at a glance: favourite genres and decades, and a chart of them."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storage.movies import Movie
from storage.ratings import Rating

SHRINK = 2.0  # pseudo-ratings at the user's mean: one 5★ doesn't make a favourite genre


@dataclass(frozen=True)
class TasteProfile:
    count: int
    average: float
    genres: tuple[tuple[str, float], ...]  # (genre, shrunk mean rating), best first
    decades: tuple[tuple[int, float], ...]  # (first year of decade, shrunk mean), best first
    genre_counts: tuple[tuple[str, int], ...]

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

        def ranked(groups: Mapping) -> tuple:
            scored = [(k, (sum(v) + SHRINK * mean) / (len(v) + SHRINK)) for k, v in groups.items()]
            return tuple(sorted(scored, key=lambda kv: (-kv[1], str(kv[0]))))

        counts = sorted(((g, len(v)) for g, v in by_genre.items()), key=lambda kv: (-kv[1], kv[0]))
        return cls(len(rated), mean, ranked(by_genre), ranked(by_decade), tuple(counts))


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
