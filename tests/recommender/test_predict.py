"""The rating predictor beats the baselines on data with a known low-rank structure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recommender.component import CatalogChange, unfitted
from recommender.data import Catalog, Ratings, history_row
from recommender.evaluate import evaluate_rating
from recommender.predict import BiasedMF, PredictorConfig
from recommender.splits import holdout_split

BAYESIAN = PredictorConfig(factors=4)
MAP = PredictorConfig(factors=4, samples=0, regularization=0.05, iterations=10)
BOTH = pytest.mark.parametrize("config", [BAYESIAN, MAP], ids=["bayesian", "map"])


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


def held_out_rmse(low_rank: tuple[Catalog, Ratings], config: PredictorConfig) -> float:
    cat, ratings = low_rank
    train, test = holdout_split(ratings, seed=0)
    return evaluate_rating(unfitted(BiasedMF, config), train, test, cat)["rmse"]


@BOTH
def test_predictor_beats_the_bias_and_global_mean_baselines(low_rank, config):
    _, ratings = low_rank
    train, test = holdout_split(ratings, seed=0)
    model = held_out_rmse(low_rank, config)
    biases = held_out_rmse(low_rank, replace(config, factors=0))
    global_mean = float(np.sqrt(((test.matrix.data - train.matrix.data.mean()) ** 2).mean()))
    assert model < 0.85 * biases < 0.85 * global_mean


def test_averaged_draws_beat_one_draw_and_the_best_map_fit(low_rank):
    """What the Bayesian model is for: the average over posterior draws predicts held-out
    stars better than a single draw, and better than the MAP fit at its best regularization
    (chosen here on the very test ratings, which only favours it)."""
    averaged = held_out_rmse(low_rank, BAYESIAN)
    one_draw = held_out_rmse(low_rank, replace(BAYESIAN, samples=1, burn_in=30))
    best_map = min(
        held_out_rmse(low_rank, replace(MAP, regularization=r)) for r in (0.02, 0.05, 0.1, 0.2)
    )
    assert averaged < 0.97 * one_draw and averaged < 0.95 * best_map


@BOTH
def test_a_new_user_is_folded_in_from_their_ratings(low_rank, config):
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, config)
    generous = history_row({i: 5.0 for i in range(1, 11)}, cat.items)
    harsh = history_row({i: 1.0 for i in range(1, 11)}, cat.items)
    assert model.predict(generous)[0, 30] > model.predict(harsh)[0, 30] + 1.0


def test_a_rating_just_given_changes_the_predictions_without_a_retrain(low_rank):
    """Rating a movie ★5 that people like movie 31 rated low lowers movie 31's prediction;
    the prediction for a chosen column is the same as in the full row."""
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, BAYESIAN)
    history = {i: 3.0 for i in range(1, 8)}
    column = cat.items.index(31)
    before = model.predict(history_row(history, cat.items))[0]
    # the movie whose fans' taste is furthest from movie 31's, by the averaged factors
    taste = model.item_factors.mean(axis=1)
    opposite = int(cat.items.ids[np.argmin(taste[8:] @ taste[column]) + 8])
    after_row = history_row({**history, opposite: 5.0}, cat.items)
    after = model.predict(after_row)[0]
    assert after[column] < before[column] - 0.05
    assert model.predict(after_row, np.array([column]))[0, 0] == pytest.approx(after[column])


@BOTH
def test_predictions_stay_on_the_rating_scale(low_rank, config):
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, config)
    row = history_row({i: 5.0 for i in range(1, 40)}, cat.items)
    stars = model.predict(row)
    assert stars.min() >= 1.0 and stars.max() <= 5.0


@BOTH
def test_training_is_deterministic_by_seed(low_rank, config):
    cat, ratings = low_rank
    fits = [BiasedMF.fit(ratings, cat, replace(config, seed=s)) for s in (0, 0, 1)]
    np.testing.assert_array_equal(fits[0].item_factors, fits[1].item_factors)
    assert not np.allclose(fits[0].item_factors, fits[2].item_factors)


def test_the_arrays_make_the_same_predictor_and_new_movies_get_the_users_bias(low_rank):
    cat, ratings = low_rank
    model = BiasedMF.fit(ratings, cat, BAYESIAN)
    assert model.item_factors.shape == (len(cat), BAYESIAN.samples, BAYESIAN.factors)
    again = BiasedMF.from_arrays(model.to_arrays(), cat, BAYESIAN)
    row = history_row({1: 5.0, 2: 4.0, 3: 1.0}, cat.items)
    np.testing.assert_allclose(again.predict(row), model.predict(row), rtol=1e-6)
    bigger = Catalog.build(
        [*cat.items.ids, 999], [*cat.titles, "new"], [*cat.years, 2024], [*cat.genres, ()]
    )
    grown = model.reindexed(CatalogChange(bigger, np.append(np.arange(len(cat)), -1)))
    user_bias = model.user_params(row)[:, 0, 0].mean()
    assert grown.predict(row)[0, -1] == pytest.approx(model.mean + user_bias, abs=1e-5)
    np.testing.assert_allclose(grown.predict(row)[0, :-1], model.predict(row)[0], rtol=1e-6)


@BOTH
def test_over_max_ratings_the_items_are_learnt_from_a_sample_of_users(low_rank, config):
    """Still better than the biases for every user (each folded in from their own ratings),
    and reproducible; with no more ratings than the cap, nothing changes."""
    cat, ratings = low_rank
    train, test = holdout_split(ratings, seed=0)
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


def test_a_posterior_draw_has_the_mean_and_spread_its_normal_equations_give():
    """Each Gibbs draw of a row is N(a⁻¹ b, (noise a)⁻¹): many draws of one system, solved as
    a batch, average to the exact solution and spread as its covariance says."""
    from recommender.predict import _draw

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5))
    a = x.T @ x + np.eye(5)
    b = rng.normal(size=5) * 20  # a solution of about ±1
    copies, noise = 40_000, 4.0
    batch = np.repeat(a[None], copies, axis=0).astype(np.float32)  # single, as the fit has it
    draws = _draw(batch, np.repeat(b[None], copies, axis=0).astype(np.float32), rng, noise)
    assert draws.shape == (copies, 5)
    np.testing.assert_allclose(draws.mean(axis=0), np.linalg.solve(a, b), atol=0.005)
    # the covariance's entries are up to ~0.009
    np.testing.assert_allclose(np.cov(draws.T), np.linalg.inv(noise * a), atol=5e-4)
