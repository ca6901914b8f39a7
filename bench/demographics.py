"""Does a demographic prior help users with few ratings? (docs/evaluation-content.md, demographics)

    python bench/demographics.py data/ml100k.sqlite              # seeds 0-3, prints a table

On the given-3 split (`moviebot evaluate --protocol given-3`: 20% of the users with ≥ 20
ratings keep 3) of each seed, the scored users are ranked by
  given-0: z(log popularity) + w · z(their group's lift), their history emptied (what the bot
           shows someone with no ratings), and
  given-3: the committed-defaults hybrid's standardised scores + w · z(their group's lift),
where a group's lift is log q(i) − log p(i): the group's share of the train ratings of movie i
(damped towards everyone's share p with `PRIOR` pseudo-ratings) over everyone's. Groups: age
decade × gender, and occupation (the `users` columns the MovieLens 100K importer keeps). Prints
NDCG@10 per seed, the mean and spread, and each seed's paired 95% interval against w = 0.
Not part of the served model: the bot does not ask its users for demographics.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import sys

import numpy as np
import scipy.sparse as sp

from bot.training import catalog_from_db, ratings_from_db
from recommender.blend import standardise
from recommender.data import Ratings, genre_matrix
from recommender.metrics import (
    Accumulator,
    item_self_information,
    paired_interval,
    tie_order,
    top_k,
)
from recommender.splits import RELEVANCE, scored_users, split
from recommender.suite import ServedHybrid
from storage.db import Database

PRIOR = 50.0
WEIGHTS = (0.0, 0.5, 1.0)
SEEDS = (0, 1, 2, 3)


def groups(db: Database, ratings: Ratings) -> dict[str, np.ndarray]:
    """Each user's group (in the ratings' user order), by age decade × gender and occupation."""
    rows = db.conn.execute("SELECT id, age, gender, occupation FROM users").fetchall()
    info = {uid: (age, gender, occupation) for uid, age, gender, occupation in rows}
    users = ratings.users.ids
    age_gender = [f"{min(int(info[u][0] or 0) // 10, 6)}{info[u][1]}" for u in users]
    return {
        "age decade × gender": np.array(age_gender),
        "occupation": np.array([str(info[u][2]) for u in users]),
    }


def lifts(train: Ratings, members: np.ndarray) -> dict[str, np.ndarray]:
    """Each group's log-lift over everyone's rating shares, per movie."""
    matrix = train.matrix.tocsr()
    everyone = np.bincount(matrix.indices, minlength=matrix.shape[1]) + 1.0
    share = everyone / everyone.sum()
    out = {}
    for group in np.unique(members):
        counts = np.bincount(
            matrix[np.flatnonzero(members == group)].indices, minlength=matrix.shape[1]
        )
        own = (counts + PRIOR * share) / (counts.sum() + PRIOR)
        out[str(group)] = np.log(own) - np.log(share)
    return out


def ndcg(
    scores: np.ndarray,
    history: sp.csr_matrix,
    truth: np.ndarray,
    seed: int,
    genres: np.ndarray,
    info: np.ndarray,
) -> tuple[float, np.ndarray]:
    """NDCG@10 of these scores (the history excluded, ties at random) and each user's."""
    n_items = scores.shape[1]
    top = top_k(scores, 10, exclude=history, order=tie_order(n_items, seed))
    acc = Accumulator([10], n_items)
    acc.add(top, truth, genres, info)
    return acc.result()["ndcg@10"], acc.user_ndcg(10)


def main(path: str) -> None:
    with Database(path) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog, kinds=("dataset",))
        by = groups(db, ratings)
    genres = genre_matrix(catalog)[1].toarray()
    results: dict[tuple[str, str, float], list] = {}
    for seed in SEEDS:
        train, test = split(ratings, "given-3", seed=seed)
        users = scored_users(test)
        history = train.matrix[users]
        truth = (test.matrix[users] >= RELEVANCE).toarray()
        counts = np.bincount(train.matrix.indices, minlength=len(catalog)) + 1.0
        popularity = standardise(np.log(counts)[None, :])
        hybrid = standardise(ServedHybrid.fit(train, catalog).score(history))
        empty = sp.csr_matrix(history.shape, dtype=np.float32)
        info = item_self_information(train.matrix)
        for kind, members in by.items():
            lift = lifts(train, members)
            prior = standardise(np.vstack([lift[str(members[u])] for u in users]))
            for w in WEIGHTS:
                for name, base, rows in (
                    ("given-0", popularity, empty),
                    ("given-3", hybrid, history),
                ):
                    results.setdefault((name, kind, w), []).append(
                        ndcg(base + w * prior, rows, truth, seed, genres, info)
                    )
    print("| protocol | prior | w | NDCG@10 per seed | mean | spread (std) | paired vs w = 0 |")
    print("|---|---|---|---|---|---|---|")
    for (name, kind, w), values in results.items():
        figures = [v[0] for v in values]
        reference = results[(name, kind, 0.0)]
        paired = [paired_interval(v[1], b[1]) for v, b in zip(values, reference, strict=True)]
        intervals = " ".join(f"[{p['low']:+.4f}, {p['high']:+.4f}]" for p in paired) if w else ""
        print(
            f"| {name} | {kind} | {w} | {' '.join(f'{x:.4f}' for x in figures)} | "
            f"{np.mean(figures):.4f} | {np.std(figures):.4f} | {intervals} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/moviebot.sqlite")
