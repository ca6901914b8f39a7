"""Small synthetic data with a known right answer: two taste blocks.

Movies 1–20 are comedies from the 1990s sharing actor "a"; movies 21–40 are horror films from
the 1970s sharing actor "b". Half the users love comedies (5★) and dislike some horror (1★);
the other half the reverse. A good recommender gives comedy fans comedies.
"""

from __future__ import annotations

import numpy as np

from recommender.data import Catalog, Ratings

N_PER_BLOCK = 20
BLOCK_A = tuple(range(1, N_PER_BLOCK + 1))
BLOCK_B = tuple(range(N_PER_BLOCK + 1, 2 * N_PER_BLOCK + 1))


def catalog() -> Catalog:
    ids = [*BLOCK_A, *BLOCK_B]
    titles = [f"Comedy {i}" if i in BLOCK_A else f"Horror {i}" for i in ids]
    years = [1990 + i % 10 if i in BLOCK_A else 1970 + i % 10 for i in ids]
    genres = [("Comedy",) if i in BLOCK_A else ("Horror",) for i in ids]
    features = {
        i: [("actor", "a" if i in BLOCK_A else "b", 1.0), ("director", f"d{i % 3}", 1.0)]
        for i in ids
    }
    return Catalog.build(ids, titles, years, genres, features)


def ratings(cat: Catalog, n_users: int = 80, seed: int = 0) -> Ratings:
    """Users 1..n: odd users like block A, even users block B; popularity falls with the id."""
    rng = np.random.default_rng(seed)
    users, movies, stars = [], [], []
    weights = np.linspace(2.0, 0.5, N_PER_BLOCK)
    weights /= weights.sum()
    for user in range(1, n_users + 1):
        liked, other = (BLOCK_A, BLOCK_B) if user % 2 else (BLOCK_B, BLOCK_A)
        for movie in rng.choice(liked, size=10, replace=False, p=weights):
            users.append(user)
            movies.append(int(movie))
            stars.append(float(rng.choice([4.0, 5.0])))
        for movie in rng.choice(other, size=2, replace=False, p=weights):
            users.append(user)
            movies.append(int(movie))
            stars.append(1.0)
    times = np.arange(len(users)) + 1_000_000
    return Ratings.from_arrays(
        np.array(users), np.array(movies), np.array(stars), times, items=cat.items
    )


def grown(cat: Catalog, *movies: tuple[int, str, int, tuple[str, ...]]) -> Catalog:
    """`cat` with these (id, title, year, genres) movies added, as after an import."""
    ids, titles, years, genres = zip(*movies, strict=True)
    return Catalog.build(
        [*cat.items.ids.tolist(), *ids],
        [*cat.titles, *titles],
        [*cat.years.tolist(), *years],
        [*cat.genres, *genres],
    )


def in_block_a(movie_ids) -> float:
    """Share of these movie ids that are block-A comedies."""
    ids = list(movie_ids)
    return sum(m in BLOCK_A for m in ids) / max(len(ids), 1)


T1996, T2015 = 820_454_400.0, 1_420_070_400.0  # 1 Jan 1996, 1 Jan 2015


def two_eras(cat: Catalog, n_users: int = 80) -> Ratings:
    """`ratings`, but block-A fans (odd users) rated in 1996 and block-B fans in 2015."""
    base = ratings(cat, n_users)
    coo = base.matrix.tocoo()
    odd = base.users.ids[coo.row] % 2 == 1
    times = np.where(odd, T1996, T2015) + coo.col
    return Ratings.from_arrays(
        base.users.ids[coo.row], base.items.ids[coo.col], coo.data, times, items=cat.items
    )
