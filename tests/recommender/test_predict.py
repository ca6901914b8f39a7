"""The rating predictor beats the baselines on data with a known low-rank structure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recommender.component import unfitted
from recommender.data import Catalog, Ratings, history_row
from recommender.evaluate import evaluate_rating
from recommender.predict import BiasedMF, PredictorConfig
from recommender.splits import holdout_split


@pytest.fixture(scope="module")
def low_rank() -> tuple[Catalog, Ratings]:
    """120 users × 60 movies, stars = 3 + biases + a rank-2 taste term + noise, 40% observed."""
    rng = np.random.default_rng(1)
    n_users, n_items = 120, 60
    taste = rng.normal(0, 0.9, (n_users, 2)) @ rng.normal(0, 0.9, (2, n_items))
    stars = 3 + rng.normal(0, 0.4, (n_users, 1)) + rng.normal(0, 0.4, (1, n_items)) + taste
    stars = np.clip(np.round(stars + rng.normal(0, 0.3, stars.shape)), 1, 5)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.4)
    ids = np.arange(1, n_items + 1)
    cat = Catalog.build(ids, [f"m{i}" for i in ids], [2000] * n_items, [()] * n_items)
    ratings = Ratings.from_arrays(users, ids[items], stars[users, items], items=cat.items)
    return cat, ratings


def test_predictor_beats_the_bias_and_global_mean_baselines(low_rank):
    cat, ratings = low_rank
    train, test = holdout_split(ratings, seed=0)
    config = PredictorConfig(factors=4, regularization=0.05, iterations=10)
    model = evaluate_rating(unfitted(BiasedMF, config), train, test, cat)["rmse"]
    no_factors = unfitted(BiasedMF, PredictorConfig(factors=0))
    biases = evaluate_rating(no_factors, train, test, cat)["rmse"]
    global_mean = float(np.sqrt(((test.matrix.data - train.matrix.data.mean()) ** 2).mean()))
    assert model < 0.85 * biases < 0.85 * global_mean


def test_a_new_user_is_folded_in_from_their_ratings(low_rank):
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, PredictorConfig(factors=4, regularization=0.05))
    generous = history_row({i: 5.0 for i in range(1, 11)}, cat.items)
    harsh = history_row({i: 1.0 for i in range(1, 11)}, cat.items)
    assert model.predict(generous)[0, 30] > model.predict(harsh)[0, 30] + 1.0


def test_predictions_stay_on_the_rating_scale(low_rank):
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, PredictorConfig(factors=4))
    row = history_row({i: 5.0 for i in range(1, 40)}, cat.items)
    stars = model.predict(row)
    assert stars.min() >= 1.0 and stars.max() <= 5.0


def test_training_is_deterministic_by_seed(low_rank):
    cat, ratings = low_rank
    fits = [BiasedMF.fit(ratings, cat, PredictorConfig(factors=4, seed=s)) for s in (0, 0, 1)]
    np.testing.assert_array_equal(fits[0].item_factors, fits[1].item_factors)
    assert not np.allclose(fits[0].item_factors, fits[2].item_factors)


def test_over_max_ratings_the_items_are_learnt_from_a_sample_of_users(low_rank):
    """Still better than the biases for every user (each folded in from their own ratings),
    and reproducible; with no more ratings than the cap, nothing changes."""
    cat, ratings = low_rank
    train, test = holdout_split(ratings, seed=0)
    config = PredictorConfig(factors=4, regularization=0.05, iterations=10)
    capped = replace(config, max_ratings=train.nnz // 2)
    sampled = evaluate_rating(unfitted(BiasedMF, capped), train, test, cat)["rmse"]
    biases = evaluate_rating(unfitted(BiasedMF, replace(config, factors=0)), train, test, cat)
    assert sampled < 0.75 * biases["rmse"]
    a, b = (BiasedMF.fit(train, cat, capped) for _ in range(2))
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    whole = BiasedMF.fit(train, cat, replace(config, max_ratings=0))
    assert not np.allclose(a.item_factors, whole.item_factors)
    at_cap = BiasedMF.fit(train, cat, replace(config, max_ratings=train.nnz))
    np.testing.assert_array_equal(at_cap.item_factors, whole.item_factors)
