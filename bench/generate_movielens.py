"""A synthetic data set shaped like MovieLens 25M, in the ml-25m / ml-32m file layout.

    .venv/bin/python bench/generate_movielens.py --scale 0.01 --out /tmp/ml-25m-x0.01

Scale 1.0 is ML-25M's shape: 162,541 users, 62,423 movies, 25,000,146 ratings (1.3 is about
ml-32m). What makes it MovieLens-like rather than uniform noise:
- popularity is Zipf-like (a few movies have tens of thousands of ratings, most a handful);
- tastes are clustered: a movie belongs to one of 40 taste clusters (its genres follow the
  cluster), a user prefers one to three clusters and rates mostly (not only) inside them, and
  rates them higher;
- every user has at least 20 ratings (as in ML-25M), activity is heavy-tailed;
- half stars, whole stars more often than halves, 4.0 the most common rating;
- timestamps from 1996 to 2019, each user's ratings within their own active period, after the
  movie came out;
- real-looking titles ("Matrix, The (1999)", foreign alternative titles, sequels, accents),
  years mostly recent, MovieLens' genre names, tags.csv (tags per cluster) and links.csv.
Deterministic by `--seed`; numpy-vectorised, ratings.csv written by pyarrow's CSV writer (the
`bench` extra) or pandas when pyarrow is missing.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_bench import REAL_TITLES, synthetic_titles

USERS, MOVIES, RATINGS, TAGS = 162_541, 62_423, 25_000_146, 1_093_360  # ML-25M
CLUSTERS = 40
MIN_PER_USER = 20
GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
TAG_WORDS = (
    "atmospheric", "twist ending", "dark comedy", "visually appealing", "based on a book",
    "thought-provoking", "funny", "classic", "sci-fi", "superhero", "dystopia", "romance",
    "violence", "great soundtrack", "space", "time travel", "cult film", "quirky", "surreal",
    "psychology", "philosophical", "nonlinear", "world war ii", "true story", "animation",
    "pixar", "disney", "horror", "zombies", "vampires", "heist", "mafia", "western", "musical",
    "feel-good", "slow", "boring", "overrated", "beautiful", "revenge", "sequel", "remake",
    "comic book", "high school", "coming of age", "road trip", "historical", "biography",
    "satire", "noir", "Oscar (Best Picture)", "Criterion", "in netflix queue", "BD-R",
)  # fmt: skip
START, END = 820_454_400, 1_574_327_703  # 1996-01-01 … ML-25M's last rating (Nov 2019)
YEAR_SECONDS = 31_556_952


def sizes(scale: float) -> tuple[int, int, int, int]:
    """Users, movies, ratings and tags at this scale of ML-25M."""
    users = max(50, round(USERS * scale))
    movies = max(100, round(MOVIES * scale))
    ratings = max(users * MIN_PER_USER, round(RATINGS * scale))
    return users, movies, min(ratings, users * movies // 4), max(10, round(TAGS * scale))


def _catalogue(n: int, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    """Movies: id (with gaps, as MovieLens'), title with year, genres, cluster, popularity."""
    ids = np.sort(rng.choice(np.arange(1, int(n * 3.35) + 2), size=n, replace=False))
    py = random.Random(seed)
    real = [t for t, _ in REAL_TITLES]
    names = real[:n] + synthetic_titles(real, max(0, n - len(real)), py)
    # Years skew recent, as MovieLens' catalogue does (most movies are after 1990).
    years = np.clip(np.round(2020 - rng.gamma(1.6, 14.0, n)), 1902, 2019).astype(np.int64)
    years[: min(n, len(REAL_TITLES))] = [y for _, y in REAL_TITLES[:n]]
    cluster = rng.integers(0, CLUSTERS, n)
    # Each cluster has one or two main genres; a movie has them plus at times one more.
    main = np.random.default_rng(seed + 1).integers(0, len(GENRES), (CLUSTERS, 2))
    second = rng.random(n) < 0.6
    extra = np.where(rng.random(n) < 0.35, rng.integers(0, len(GENRES), n), -1)
    labels = []
    for i in range(n):
        chosen = {int(main[cluster[i], 0])}
        if second[i]:
            chosen.add(int(main[cluster[i], 1]))
        if extra[i] >= 0:
            chosen.add(int(extra[i]))
        labels.append("|".join(GENRES[g] for g in sorted(chosen)))
    no_genre = rng.random(n) < 0.08  # ML-25M: 5,062 of 62,423 have "(no genres listed)"
    genres = np.where(no_genre, "(no genres listed)", np.array(labels, dtype=object))
    # Zipf-like popularity over a random order of the movies; the classics are popular.
    rank = rng.permutation(n)
    rank[: min(n, len(REAL_TITLES))] = np.arange(min(n, len(REAL_TITLES)))
    popularity = 1.0 / (rank + 3.0) ** 1.05
    # Older films are rated less today, except the classics.
    popularity *= np.where(years < 1970, 0.4, 1.0)
    titles = [f"{t} ({y})" for t, y in zip(names, years.tolist(), strict=True)]
    quality = rng.normal(0.0, 0.45, n) + 0.15 * (rank < n // 20)
    return pd.DataFrame(
        {
            "movieId": ids,
            "title": titles,
            "genres": genres,
            "year": years,
            "cluster": cluster,
            "popularity": popularity / popularity.sum(),
            "quality": quality,
        }
    )


def _sample_within(weights: np.ndarray, groups: np.ndarray, wanted_group: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """For each entry of `wanted_group`, a movie of that group drawn by `weights`."""
    order = np.lexsort((np.arange(len(groups)), groups))
    w = weights[order]
    g = groups[order]
    starts = np.searchsorted(g, np.arange(CLUSTERS))
    totals = np.bincount(g, weights=w, minlength=CLUSTERS)  # a tiny catalogue: some empty
    cum = np.cumsum(w)
    before = np.concatenate([[0.0], cum])[starts]
    # Cumulative weight within each group, shifted by the group number: one sorted array.
    inside = (cum - before[g]) / totals[g] + g
    picks = np.searchsorted(inside, wanted_group + rng.random(len(wanted_group)), side="right")
    return order[np.minimum(picks, len(order) - 1)]


def _pairs(n_users: int, movies: pd.DataFrame, n_ratings: int, rng: np.random.Generator) -> tuple[
    np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(user, movie) pairs without repeats, and each user's favourite clusters."""
    n_movies = len(movies)
    # Heavy-tailed activity, at least MIN_PER_USER each, summing to n_ratings.
    activity = rng.lognormal(0.0, 1.1, n_users)
    extra = n_ratings - MIN_PER_USER * n_users
    counts = MIN_PER_USER + np.floor(activity / activity.sum() * extra).astype(np.int64)
    cap = n_movies // 3
    counts = np.minimum(counts, cap)
    favourites = rng.integers(0, CLUSTERS, (n_users, 3))
    n_favourite = rng.integers(1, 4, n_users)
    popularity = movies["popularity"].to_numpy()
    cluster = movies["cluster"].to_numpy()
    keys = np.empty(0, dtype=np.int64)
    wanted = counts.copy()
    for round_ in range(100):
        users = np.repeat(np.arange(n_users), wanted)
        picked = rng.integers(0, n_movies, len(users))  # after a few rounds: any movie
        if round_ < 3:  # by taste and popularity, which repeat often for heavy raters
            inside = rng.random(len(users)) < 0.7
            which = rng.integers(0, 3, len(users)) % n_favourite[users]
            fav = favourites[users[inside], which[inside]]
            picked[inside] = _sample_within(popularity, cluster, fav, rng)
            outside = ~inside
            picked[outside] = rng.choice(n_movies, size=int(outside.sum()), p=popularity)
        new = np.unique(users * n_movies + picked)
        if len(keys):
            at = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
            new = new[keys[at] != new]
        # Never more than a user still wants: keep each user's first `wanted` new pairs.
        owner = new // n_movies
        first = np.searchsorted(owner, owner, side="left")
        new = new[np.arange(len(new)) - first < wanted[owner]]
        keys = np.sort(np.concatenate([keys, new]))
        wanted = counts - np.bincount(keys // n_movies, minlength=n_users)
        missing = n_ratings - len(keys)
        if missing <= 0:
            break
        if wanted.sum() < missing:  # rounding and the cap: top up users with room left
            room = np.flatnonzero(counts < cap)
            top = room[np.argsort(-activity[room])][: missing - int(wanted.sum())]
            counts[top] += 1
            wanted[top] += 1
    if len(keys) > n_ratings:
        keys = np.sort(rng.choice(keys, n_ratings, replace=False))
    favourite_mask = np.zeros((n_users, CLUSTERS), dtype=bool)
    for k in range(3):
        chosen = k < n_favourite
        favourite_mask[np.flatnonzero(chosen), favourites[chosen, k]] = True
    return keys // n_movies, keys % n_movies, favourite_mask


def _stars(users: np.ndarray, items: np.ndarray, movies: pd.DataFrame,
           favourite: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Half stars: a user bias, the movie's quality, a boost inside the user's clusters."""
    n_users = favourite.shape[0]
    bias = rng.normal(0.0, 0.45, n_users)
    quality = movies["quality"].to_numpy()
    liked = favourite[users, movies["cluster"].to_numpy()[items]]
    raw = 3.55 + bias[users] + quality[items] + 0.55 * liked + rng.normal(0, 0.75, len(users))
    halves = rng.random(len(users)) < 0.3  # whole stars are the commoner
    stars = np.where(halves, np.round(raw * 2) / 2, np.round(raw))
    return np.clip(stars, 0.5, 5.0).astype(np.float32)


def _timestamps(users: np.ndarray, items: np.ndarray, movies: pd.DataFrame,
                rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Each user rates within their own active period; never before the movie came out."""
    n_users = int(users.max()) + 1 if len(users) else 0
    first = rng.uniform(START, END - 86_400, n_users)
    span = np.minimum(rng.exponential(0.6 * YEAR_SECONDS, n_users), END - first)
    ts = first[users] + rng.random(len(users)) * span[users]
    released = (movies["year"].to_numpy()[items] - 1970 + 0.5) * YEAR_SECONDS
    ts = np.maximum(ts, np.minimum(released + rng.random(len(users)) * YEAR_SECONDS, END))
    return ts.astype(np.int64)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A big table, quickly: pyarrow's CSV writer where installed, pandas' otherwise."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        frame.to_csv(path, index=False, float_format="%.1f", chunksize=1_000_000)
        return
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 20)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(frame.columns) + "\n").encode())
        pacsv.write_csv(table, sink, write_options=options)


def generate(scale: float, out: Path, seed: int = 0, say=print) -> dict[str, int]:
    """Write movies.csv, ratings.csv, tags.csv and links.csv into `out`; returns the counts."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_users, n_movies, n_ratings, n_tags = sizes(scale)
    out.mkdir(parents=True, exist_ok=True)
    movies = _catalogue(n_movies, rng, seed)
    movies[["movieId", "title", "genres"]].to_csv(out / "movies.csv", index=False)
    say(f"movies.csv: {n_movies:,} movies ({time.perf_counter() - started:.1f} s)")
    users, items, favourite = _pairs(n_users, movies, n_ratings, rng)
    stars = _stars(users, items, movies, favourite, rng)
    stamps = _timestamps(users, items, movies, rng)
    say(f"ratings drawn: {len(users):,} ({time.perf_counter() - started:.1f} s)")
    ratings = pd.DataFrame(
        {
            "userId": (users + 1).astype(np.int32),
            "movieId": movies["movieId"].to_numpy()[items].astype(np.int32),
            # As MovieLens writes them: "4.0", "3.5".
            "rating": pd.Categorical.from_codes(
                (stars * 2).astype(np.int8) - 1, [f"{k / 2:.1f}" for k in range(1, 11)]
            ),
            "timestamp": stamps,
        }
    )
    _write_csv(ratings, out / "ratings.csv")
    say(f"ratings.csv written ({time.perf_counter() - started:.1f} s)")
    tag_pick = rng.integers(0, len(users), n_tags)
    cluster = movies["cluster"].to_numpy()[items[tag_pick]]
    words = np.array(TAG_WORDS, dtype=object)
    word = np.where(
        rng.random(n_tags) < 0.7,
        words[(cluster * 7) % len(words)],
        words[rng.integers(0, len(words), n_tags)],
    )
    tags = pd.DataFrame(
        {
            "userId": users[tag_pick] + 1,
            "movieId": movies["movieId"].to_numpy()[items[tag_pick]],
            "tag": word,
            "timestamp": stamps[tag_pick],
        }
    ).sort_values(["userId", "movieId"], kind="stable")
    tags.to_csv(out / "tags.csv", index=False)
    imdb = np.sort(rng.choice(np.arange(1, 11_000_000), n_movies, replace=False))
    links = pd.DataFrame(
        {
            "movieId": movies["movieId"],
            "imdbId": [f"{i:07d}" for i in imdb.tolist()],
            "tmdbId": np.sort(rng.choice(np.arange(2, 700_000), n_movies, replace=False)),
        }
    )
    links.to_csv(out / "links.csv", index=False)
    say(f"tags.csv, links.csv written ({time.perf_counter() - started:.1f} s)")
    return {"users": n_users, "movies": n_movies, "ratings": len(users), "tags": n_tags}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.01, help="1.0 = ML-25M, 1.3 ≈ ml-32m")
    parser.add_argument("--out", type=Path, help="folder to write (default ml-25m-x<scale>)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(f"ml-25m-x{args.scale:g}")
    counts = generate(args.scale, out, args.seed)
    print(", ".join(f"{v:,} {k}" for k, v in counts.items()), f"in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
