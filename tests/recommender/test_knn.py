"""The neighbourhood baselines against hand-computed neighbours and the two-block data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.component import unfitted
from recommender.data import Catalog, Ratings
from recommender.evaluate import evaluate_ranking, evaluate_rating
from recommender.knn import ItemKNN, KNNConfig, UserKNN
from recommender.popularity import Popularity, PopularityConfig
from recommender.predict import PredictorConfig
from recommender.splits import holdout_split
from recommender.svd import BiasedSVD
from tests.recommender import synthetic


def from_dense(dense: list[list[float]]) -> tuple[Ratings, Catalog]:
    arr = np.array(dense, dtype=np.float32)
    n_items = arr.shape[1]
    catalog = Catalog.build(
        list(range(1, n_items + 1)), ["t"] * n_items, [0] * n_items, [()] * n_items
    )
    users, items = np.nonzero(arr)
    ratings = Ratings.from_arrays(users + 1, items + 1, arr[users, items], items=catalog.items)
    return ratings, catalog


DENSE = [
    [1, 1, 0, 0, 0],
    [1, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
    [0, 0, 1, 1, 1],
]


def test_user_knn_adds_up_its_nearest_users_rows_by_cosine() -> None:
    ratings, catalog = from_dense(DENSE)
    model = UserKNN.fit(ratings, catalog, KNNConfig(neighbours=1))
    query = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    scores = model.score(query)
    # user 1 ({0, 1}) is the nearest (cos 1/√2 against 1/√3 for user 2); only its row counts
    assert np.allclose(scores, [[1 / np.sqrt(2), 1 / np.sqrt(2), 0, 0, 0]], atol=1e-6)


def test_user_knn_skips_the_user_itself() -> None:
    """A train user's own row is its most similar one but adds nothing new: it is skipped."""
    ratings, catalog = from_dense(DENSE)
    model = UserKNN.fit(ratings, catalog, KNNConfig(neighbours=1))
    scores = model.score(ratings.matrix[[0]])
    assert scores[0, 2] > 0  # from user 2, its nearest other user
    assert scores[0, 3] == scores[0, 4] == 0


def test_item_knn_scores_movies_similar_to_the_rated_ones() -> None:
    ratings, catalog = from_dense(DENSE)
    model = ItemKNN.fit(ratings, catalog, KNNConfig(neighbours=5))
    scores = model.score(sp.csr_matrix(np.array([[0, 0, 0, 1, 0]], dtype=np.float32)))
    assert scores[0, 4] > scores[0, 2] > 0 == scores[0, 0]
    # cosine between items 3 and 4: both rated by users 3 and 4 only
    assert np.isclose(scores[0, 4], 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "model",
    [
        unfitted(ItemKNN, KNNConfig(20, "cosine")),
        unfitted(ItemKNN, KNNConfig(20, "bm25", binary=False)),
        unfitted(UserKNN, KNNConfig(10)),
        unfitted(UserKNN, KNNConfig(10, binary=False)),
    ],
)
def test_knn_gives_each_block_its_own_movies(model) -> None:
    cat = synthetic.catalog()
    train, test = holdout_split(synthetic.ratings(cat), seed=0)
    out = evaluate_ranking(model, train, test, cat, k=5, ks=(5,))
    popular = evaluate_ranking(unfitted(Popularity, PopularityConfig()), train, test, cat, k=5)
    assert out["ndcg@5"] > 2 * popular["ndcg@5"]  # popularity ignores the blocks


@pytest.mark.parametrize("bad", [{"neighbours": 0}, {"similarity": "jaccard"}])
def test_knn_refuses_bad_settings(bad) -> None:
    with pytest.raises(ValueError):
        KNNConfig(**bad)


def test_biased_svd_predicts_stars_and_ranks_by_them() -> None:
    cat = synthetic.catalog()
    train, test = holdout_split(synthetic.ratings(cat), seed=0)
    model = unfitted(BiasedSVD, PredictorConfig(factors=4))
    rating = evaluate_rating(model, train, test, cat)
    spread = float(np.std(test.matrix.data))
    assert rating["rmse"] < 0.8 * spread  # better than predicting the mean
    fitted = model.fit(train, cat)
    rows = train.matrix[:4]
    assert np.allclose(np.clip(fitted.score(rows), 1, 5), fitted.predict(rows), atol=1e-4)
