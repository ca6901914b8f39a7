"""The one re-rank both recommenders use: MMR over a pool of the best candidates."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.group import genre_similarity
from recommender.rerank import MIN_POOL, POOL_FACTOR, mmr, pool_size, rerank, top


def test_mmr_trades_relevance_for_variety():
    relevance = np.array([1.0, 0.99, 0.5])
    same_first_two = genre_similarity([("Horror",), ("Horror",), ("Comedy",)])
    assert mmr(relevance, same_first_two, 2, strength=0.0).tolist() == [0, 1]
    assert mmr(relevance, same_first_two, 2, strength=0.6).tolist() == [0, 2]


@pytest.mark.parametrize(
    ("n", "strength", "available", "expected"),
    [
        (10, 0.0, 1000, 10),  # no re-rank: just the n best
        (10, 0.1, 1000, max(POOL_FACTOR * 10, MIN_POOL)),
        (3, 0.1, 1000, MIN_POOL),  # a short list still has room to vary
        (20, 0.1, 1000, POOL_FACTOR * 20),
        (10, 0.1, 30, 30),  # never more than survived the filters
        (10, 0.0, 4, 4),
    ],
)
def test_the_pool_rule(n, strength, available, expected):
    assert pool_size(n, strength, available) == expected


def test_without_a_re_rank_the_pool_order_is_kept_and_similarity_never_built():
    def never() -> np.ndarray:
        raise AssertionError("similarity built without a re-rank")

    assert rerank(np.array([3.0, 2.0, 1.0]), 2, 0.0, never).tolist() == [0, 1]
    assert rerank(np.array([3.0]), 5, 0.5, never).tolist() == [0]


def test_top_skips_non_finite_scores_and_breaks_ties_by_index():
    scores = np.array([1.0, -np.inf, 3.0, 1.0, np.nan])
    assert top(scores, 10).tolist() == [2, 0, 3]
    assert top(scores, 2).tolist() == [2, 0]
    assert top(np.full(3, -np.inf), 2).tolist() == []


def _sorted_top(scores: np.ndarray, n: int) -> list[int]:
    """The n best finite scores by a full sort: best first, ties to the lower index."""
    finite = np.flatnonzero(np.isfinite(scores))
    return finite[np.lexsort((finite, -scores[finite]))][:n].tolist()


@pytest.mark.parametrize("size", [1_682, 8_192, 62_423])
@pytest.mark.parametrize("shape", ["spread", "ties", "rising", "mostly excluded"])
def test_top_of_a_large_catalogue_is_what_a_full_sort_gives(size, shape):
    """A large catalogue is cut at a sampled value first: the same picks, ties included,
    sorted scores and nearly all excluded ones too."""
    rng = np.random.default_rng(size)
    scores = {
        "spread": rng.normal(size=size),
        "ties": rng.integers(0, 4, size).astype(np.float64),  # the best value ~size/4 times
        "rising": np.sort(rng.normal(size=size)),
        "mostly excluded": np.where(rng.random(size) < 0.995, -np.inf, rng.normal(size=size)),
    }[shape]
    scores[rng.integers(0, size, 3)] = np.nan
    scores[rng.integers(0, size, 3)] = np.inf
    for n in (1, 10, 50, 500):
        assert top(scores, n).tolist() == _sorted_top(scores, n)
