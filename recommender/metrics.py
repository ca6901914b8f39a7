"""Metrics of top-k lists against held-out truth, arrays in, numbers out.

The protocol is described in docs/evaluation.md ("Protocol").

Conventions, chosen once so that figures are comparable between runs and models:
- Top-k lists rank by score, highest first; the harness breaks ties at random with the seed
  (`tie_order`): catalogue order would favour whatever the catalogue lists first (on
  MovieLens, popular films). `top_k` without an order sends ties to the lower index.
  Items a user rated in train, and items scored -inf or NaN, are never recommended; a user with
  fewer than k such items gets a shorter list (its empty slots count as misses).
- Intra-list diversity is the mean pairwise genre dissimilarity 1 − Jaccard(genres_a, genres_b)
  within a list; two movies that both have no genres count as identical (dissimilarity 0).
- Novelty is the mean −log2 of an item's train popularity share with add-one smoothing,
  (ratings_i + 1) / (total ratings + n_items), so movies nobody rated in train are finite
  (and the most novel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, genre_matrix

KS = (5, 10, 20)
RANKING_METRICS = (
    "precision",
    "recall",
    "f1",
    "ndcg",
    "map",
    "hitrate",
    "coverage",
    "diversity",
    "novelty",
)


def tie_order(n_items: int, seed: int) -> np.ndarray:
    """A seeded random order of the catalogue: `top_k(..., order=)` breaks ties by it."""
    return np.random.default_rng([seed, 2]).permutation(n_items)


def top_k(
    scores: np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the k best items per row, best first; ties go to the item earlier in
    `order` (a permutation of the items, `tie_order`), by default the lower index.

    Entries of `exclude` (stored positions, e.g. the user's train ratings), -inf and NaN scores
    are never picked; rows with fewer than k candidates are padded with -1.
    """
    if order is not None:
        permuted = np.asarray(scores)[:, order]
        ex = None if exclude is None else sp.csr_matrix(exclude)[:, order]
        picked = top_k(permuted, k, ex)
        return np.where(picked >= 0, order[np.maximum(picked, 0)], -1)
    scores = np.array(scores, dtype=np.result_type(scores, np.float32), copy=True)
    scores[np.isnan(scores)] = -np.inf
    if exclude is not None:
        ex = exclude.tocoo()
        scores[ex.row, ex.col] = -np.inf
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    if k <= 0 or n_rows == 0:
        return np.full((n_rows, max(k, 0)), -1, dtype=np.int64)
    # The k-th largest value per row; everything above it is in, ties at it fill by index.
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    above = scores > kth[:, None]
    at = scores == kth[:, None]
    need = k - above.sum(axis=1)
    chosen = above | (at & (np.cumsum(at, axis=1, dtype=np.int32) <= need[:, None]))
    cols = np.nonzero(chosen)[1].reshape(n_rows, k)  # row-major: ascending index per row
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.lexsort((cols, -vals), axis=1)
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    cols[np.isneginf(vals)] = -1
    return cols


def item_self_information(train: sp.csr_matrix) -> np.ndarray:
    """−log2 of each item's add-one-smoothed train popularity share (novelty of one item)."""
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    share = (counts + 1.0) / (counts.sum() + train.shape[1])
    return -np.log2(share)


class Accumulator:
    """Sums per-user metrics over batches, then averages them (and tracks coverage sets)."""

    def __init__(self, ks: Sequence[int], n_items: int) -> None:
        self.ks = tuple(ks)
        self.users = 0
        self.sums = {(name, k): 0.0 for name in RANKING_METRICS for k in self.ks}
        self.lists = {k: 0 for k in self.ks}  # lists with ≥ 2 items, for diversity
        self.seen = {k: np.zeros(n_items, dtype=bool) for k in self.ks}
        # Each scored user's NDCG at each k, in the order added: paired tests compare models
        # user by user (`paired_interval`).
        self.per_user: dict[int, list[np.ndarray]] = {k: [] for k in self.ks}

    def add(
        self,
        top: np.ndarray,
        relevant: np.ndarray,
        genres: np.ndarray,
        info: np.ndarray,
    ) -> None:
        """Add one batch: `top` n × K item indices (-1 = empty), `relevant` n × n_items bool."""
        n = len(top)
        self.users += n
        valid = top >= 0
        safe = np.where(valid, top, 0)
        hits = np.take_along_axis(relevant, safe, axis=1) & valid
        n_rel = relevant.sum(axis=1).astype(np.float64)
        discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        for k in self.ks:
            self._add_k(
                k, hits[:, :k], valid[:, :k], safe[:, :k], n_rel, discount[:k], genres, info
            )

    def _add_k(
        self,
        k: int,
        hits: np.ndarray,
        valid: np.ndarray,
        safe: np.ndarray,
        n_rel: np.ndarray,
        discount: np.ndarray,
        genres: np.ndarray,
        info: np.ndarray,
    ) -> None:
        s = self.sums
        n_hits = hits.sum(axis=1)
        s["precision", k] += float((n_hits / k).sum())
        s["recall", k] += float((n_hits / n_rel).sum())
        s["hitrate", k] += float((n_hits > 0).sum())
        ideal_n = np.minimum(k, n_rel).astype(np.int64)
        idcg = np.concatenate(([0.0], np.cumsum(discount)))[ideal_n]
        ndcg = (hits * discount).sum(axis=1) / idcg
        self.per_user[k].append(ndcg)
        s["ndcg", k] += float(ndcg.sum())
        prec_at = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
        s["map", k] += float(((prec_at * hits).sum(axis=1) / ideal_n).sum())
        self.seen[k][safe[valid]] = True
        length = valid.sum(axis=1)
        s["novelty", k] += float(
            (np.where(valid, info[safe], 0.0).sum(axis=1) / np.maximum(length, 1)).sum()
        )
        div, counted = _intra_list_diversity(safe, valid, genres)
        s["diversity", k] += div
        self.lists[k] += counted

    def user_ndcg(self, k: int) -> np.ndarray:
        """NDCG@k of every user added so far, in the order they were added."""
        parts = self.per_user[k]
        return np.concatenate(parts) if parts else np.empty(0)

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {"users": float(self.users)}
        for k in self.ks:
            users = max(self.users, 1)
            p = self.sums["precision", k] / users
            r = self.sums["recall", k] / users
            out[f"precision@{k}"] = p
            out[f"recall@{k}"] = r
            out[f"f1@{k}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
            for name in ("ndcg", "map", "hitrate", "novelty"):
                out[f"{name}@{k}"] = self.sums[name, k] / users
            out[f"coverage@{k}"] = float(self.seen[k].mean()) if len(self.seen[k]) else 0.0
            out[f"diversity@{k}"] = self.sums["diversity", k] / max(self.lists[k], 1)
        return out


def _intra_list_diversity(
    safe: np.ndarray, valid: np.ndarray, genres: np.ndarray
) -> tuple[float, int]:
    """Sum over lists (with ≥ 2 items) of the mean pairwise 1 − Jaccard, and how many lists."""
    g = genres[safe] * valid[:, :, None]  # n × k × genres
    inter = np.einsum("nkg,njg->nkj", g, g)
    size = g.sum(axis=2)
    union = size[:, :, None] + size[:, None, :] - inter
    sim = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    pair = valid[:, :, None] & valid[:, None, :]
    np.einsum("nkk->nk", pair)[:] = False  # not an item with itself
    n_pairs = pair.sum(axis=(1, 2))
    dissim = ((1.0 - sim) * pair).sum(axis=(1, 2))
    ok = n_pairs > 0
    return float((dissim[ok] / n_pairs[ok]).sum()), int(ok.sum())


def list_metrics(
    top: np.ndarray,
    relevant: sp.csr_matrix,
    catalog: Catalog,
    train: sp.csr_matrix,
    ks: Sequence[int] = KS,
) -> dict[str, float]:
    """Every ranking metric for ready-made lists: `top` n × K item indices (-1 = empty slot),
    `relevant` n × n_items (non-zero = relevant). Users with no relevant item are skipped."""
    keep = np.diff(relevant.indptr) > 0
    acc = Accumulator(sorted(set(ks)), relevant.shape[1])
    genres, info = genre_matrix(catalog)[1].toarray(), item_self_information(train)
    if keep.any():
        rel = (relevant[keep] != 0).toarray()
        acc.add(np.asarray(top)[keep], rel, genres, info)
    return acc.result()


def paired_interval(a: np.ndarray, b: np.ndarray, z: float = 1.96) -> dict[str, float]:
    """The mean per-user difference a − b and its 95% interval (normal approximation to the
    paired t-interval; hundreds of users make the two the same to three decimals). `a` and
    `b` hold the same users' values in the same order. An interval that contains 0 is a tie."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(
            f"paired values need two equal 1-D arrays of ≥ 2, got {a.shape}, {b.shape}"
        )
    diff = a - b
    mean = float(diff.mean())
    half = z * float(diff.std(ddof=1)) / np.sqrt(len(diff))
    return {"mean": mean, "low": mean - half, "high": mean + half, "users": float(len(diff))}
