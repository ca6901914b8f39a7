"""The group protocol: how good are movie-night picks for every member of a group?

Protocol (`moviebot evaluate --protocol group`):
- Split: the holdout split of docs/evaluation.md (20% of each user's ratings to test, seed 0).
  The hybrid is trained on train, as for the single-user protocols.
- Groups: synthetic groups of 2–6 data-set users with at least one relevant test rating
  (≥ 4.0) and at least `MIN_RATINGS` train ratings, in two kinds:
  `random` (members drawn uniformly) and `similar` (a random seed user plus members drawn
  from their `NEIGHBOURS` nearest users by cosine similarity of mean-centred train ratings).
  The group size is uniform in 2–6; every kind uses its own stream of `default_rng(seed)`.
- Lists: each strategy makes one list of k = 5 movies (the poll) from the members' train
  ratings, as the bot makes it (members scored at the latest rating the model was trained on,
  as the bot's members rate now), never a movie any member rated in train; the popularity
  baseline is the k most rated movies in train that no member has rated.
- Metrics, per group, then averaged over groups: group NDCG@k (the mean over members of each
  member's NDCG@k against their own test set, binary gains, ideal = min(k, #relevant));
  satisfaction (the share of members with at least one hit); misery (the lowest member's
  NDCG@k: how the least served member fared).

Pure: `Ratings` and a `Recommender` in, a report dict out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings
from recommender.group import DIVERSITY, MIN_RATINGS, STRATEGIES, Member, choose, score_members
from recommender.hybrid import Recommender

K = 5
SIZES = (2, 6)
KINDS = ("random", "similar")
NEIGHBOURS = 30
RELEVANCE = 4.0
METRICS = ("ndcg", "satisfaction", "misery")
Progress = Callable[[str, int, int], None]


class GroupEvaluationError(ValueError):
    """Not enough users to form the requested groups."""


def eligible_users(train: Ratings, test: Ratings, relevance: float = RELEVANCE) -> np.ndarray:
    """Users with a relevant test rating and enough train ratings to have a taste."""
    relevant = np.asarray((test.matrix >= relevance).sum(axis=1)).ravel() > 0
    known = np.diff(train.matrix.indptr) >= MIN_RATINGS
    return np.flatnonzero(relevant & known)


def make_groups(
    train: Ratings,
    users: np.ndarray,
    n_groups: int,
    kind: str,
    seed: int = 0,
    sizes: tuple[int, int] = SIZES,
) -> list[np.ndarray]:
    """`n_groups` groups of user rows, `random` or of `similar` taste."""
    low, high = sizes
    if len(users) < high:
        raise GroupEvaluationError(f"{len(users)} eligible users cannot form groups of {high}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    sizes_drawn = rng.integers(low, high + 1, size=n_groups)
    if kind == "random":
        return [np.sort(rng.choice(users, size=s, replace=False)) for s in sizes_drawn]
    vectors = _taste_vectors(train.matrix[users])
    out = []
    for size in sizes_drawn:
        seed_pos = int(rng.integers(len(users)))
        sims = np.asarray((vectors @ vectors[seed_pos].T).todense()).ravel()
        sims[seed_pos] = -np.inf
        nearest = np.argsort(-sims, kind="stable")[:NEIGHBOURS]
        others = rng.choice(nearest, size=size - 1, replace=False)
        out.append(np.sort(users[np.concatenate([[seed_pos], others])]))
    return out


def _taste_vectors(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Mean-centred, L2-normalised rating rows (cosine similarity = dot product)."""
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    counts = np.maximum(np.diff(m.indptr), 1)
    means = np.asarray(m.sum(axis=1)).ravel() / counts
    m.data -= np.repeat(means, np.diff(m.indptr))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m)


def member_ndcg(chosen: Sequence[int], relevant: set[int], k: int = K) -> float:
    """Binary-gain NDCG@k of one list for one member."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(chosen[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def group_metrics(chosen: Sequence[int], relevant: Sequence[set[int]], k: int = K) -> dict:
    """Group NDCG (mean over members), satisfaction (share with a hit), misery (min NDCG)."""
    ndcgs = [member_ndcg(chosen, r, k) for r in relevant]
    hits = [bool(set(chosen[:k]) & r) for r in relevant]
    return {
        "ndcg": float(np.mean(ndcgs)),
        "satisfaction": float(np.mean(hits)),
        "misery": float(min(ndcgs)),
    }


def popularity_list(counts: np.ndarray, seen: np.ndarray, k: int = K) -> list[int]:
    """The k most rated movies in train that no member has rated."""
    scores = counts.astype(np.float64).copy()
    scores[seen] = -np.inf
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k] if np.isfinite(scores[i])]


def evaluate_groups(
    model: Recommender,
    train: Ratings,
    test: Ratings,
    n_groups: int = 500,
    seed: int = 0,
    k: int = K,
    strategies: Sequence[str] = STRATEGIES,
    diversity: float = DIVERSITY,
    sizes: tuple[int, int] = SIZES,
    progress: Progress | None = None,
) -> dict:
    """Every strategy and the popularity baseline on the same groups, per kind of group."""
    catalog: Catalog = model.catalog
    ids = catalog.items.ids
    users = eligible_users(train, test)
    counts = np.diff(sp.csc_matrix(train.matrix).indptr)
    results: dict[str, dict[str, dict[str, float]]] = {}
    started = time.perf_counter()
    for kind in KINDS:
        made = make_groups(train, users, n_groups, kind, seed, sizes)
        sums: dict[str, np.ndarray] = {}
        for done, rows in enumerate(made, start=1):
            members, relevant, seen = _members(train, test, rows, ids)
            lists = {"popularity": popularity_list(counts, seen, k)}
            scored = score_members(model, members)
            for strategy in strategies:
                lists[strategy] = [i for i, _ in choose(scored, catalog, strategy, k, diversity)]
            for name, chosen in lists.items():
                figures = group_metrics(chosen, relevant, k)
                sums.setdefault(name, np.zeros(len(METRICS)))
                sums[name] += [figures[m] for m in METRICS]
            if progress is not None:
                progress(f"group protocol ({kind} groups)", done, len(made))
        results[kind] = {
            name: dict(zip(METRICS, (total / len(made)).round(4).tolist(), strict=True))
            for name, total in sums.items()
        }
    return {
        "protocol": "group",
        "k": k,
        "seed": seed,
        "groups_per_kind": n_groups,
        "group_sizes": list(sizes),
        "eligible_users": len(users),
        "diversity": diversity,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _members(
    train: Ratings, test: Ratings, rows: np.ndarray, ids: np.ndarray
) -> tuple[list[Member], list[set[int]], np.ndarray]:
    """Members (train histories keyed by movie id), their relevant test items, all seen items."""
    members, relevant, seen = [], [], []
    for row in rows:
        start, end = train.matrix.indptr[row], train.matrix.indptr[row + 1]
        items = train.matrix.indices[start:end]
        stars = train.matrix.data[start:end]
        members.append(
            Member(int(row), dict(zip(ids[items].tolist(), stars.tolist(), strict=True)))
        )
        seen.append(items)
        t0, t1 = test.matrix.indptr[row], test.matrix.indptr[row + 1]
        hits = test.matrix.indices[t0:t1][test.matrix.data[t0:t1] >= RELEVANCE]
        relevant.append(set(hits.tolist()))
    return members, relevant, np.concatenate(seen) if seen else np.empty(0, dtype=np.int64)


def markdown(report: dict, command: str | None = None) -> str:
    """Strategies and the baseline side by side, one column block per kind of group."""
    k = report["k"]
    header = ["model"] + [
        f"{kind} {label}" for kind in KINDS for label in (f"NDCG@{k}", "satisfaction", "misery")
    ]
    lines = [
        f"# Group recommendations ({report['groups_per_kind']} groups of "
        f"{report['group_sizes'][0]}–{report['group_sizes'][1]} per kind, seed "
        f"{report['seed']}, {report['eligible_users']} eligible users)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    names = list(report["results"][KINDS[0]])
    for name in names:
        cells = [name] + [
            f"{report['results'][kind][name][metric]:.3f}" for kind in KINDS for metric in METRICS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"NDCG@{k}: mean over members of each member's NDCG against their own held-out "
        "ratings (relevant: ≥ 4). Satisfaction: share of members with at least one hit. "
        f"Misery: the least served member's NDCG@{k}. Averaged over groups. "
        f"Took {report['seconds']} s.",
    ]
    if command:
        lines += ["", f"Regenerate: `{command}`"]
    return "\n".join(lines) + "\n"
