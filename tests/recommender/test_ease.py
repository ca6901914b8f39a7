"""EASE against an independent closed-form solution, and its behaviour at the edges."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data import Catalog, Ratings
from recommender.ease import EASE, CatalogTooLargeError, EASEConfig, check_memory, memory_estimate


def ratings_from(dense: list[list[float]]) -> tuple[Ratings, Catalog]:
    arr = np.array(dense, dtype=np.float32)
    n_items = arr.shape[1]
    catalog = Catalog.build(
        list(range(1, n_items + 1)), ["t"] * n_items, [0] * n_items, [()] * n_items
    )
    users, items = np.nonzero(arr)
    ratings = Ratings.from_arrays(users + 1, items + 1, arr[users, items], items=catalog.items)
    return ratings, catalog


def column_by_column(x: np.ndarray, lam: float) -> np.ndarray:
    """B with zero diagonal, column j = ridge regression of item j on every other item."""
    n = x.shape[1]
    b = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        xo = x[:, others]
        b[others, j] = np.linalg.solve(xo.T @ xo + lam * np.eye(n - 1), xo.T @ x[:, j])
    return b


@pytest.mark.parametrize("lam", [0.5, 3.0, 50.0])
def test_weights_match_the_constrained_least_squares_solution(lam: float) -> None:
    dense = [
        [5, 3, 0, 1, 0],
        [4, 0, 0, 1, 2],
        [1, 1, 0, 5, 0],
        [0, 1, 5, 4, 0],
        [0, 0, 4, 0, 3],
        [2, 0, 0, 0, 4],
    ]
    ratings, catalog = ratings_from(dense)
    model = EASE.fit(ratings, catalog, EASEConfig(lam))
    binary = (np.array(dense) > 0).astype(float)
    assert np.allclose(model.weights, column_by_column(binary, lam), atol=1e-5)
    assert np.allclose(np.diag(model.weights), 0.0)
    rows = ratings.matrix[:2]
    assert np.allclose(model.score(rows), binary[:2] @ model.weights, atol=1e-5)


def test_scores_depend_on_what_was_rated_not_the_stars() -> None:
    ratings, catalog = ratings_from([[5, 4, 0], [1, 0, 2], [0, 3, 3]])
    model = EASE.fit(ratings, catalog, EASEConfig(1.0))
    low = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))
    high = sp.csr_matrix(np.array([[5, 0, 0]], dtype=np.float32))
    assert np.array_equal(model.score(low), model.score(high))
    assert model.score(low).dtype == np.float32


def test_recommends_the_movie_that_goes_with_the_history() -> None:
    # Movies 0 and 1 are always watched together; 2 and 3 together.
    ratings, catalog = ratings_from([[5, 4, 0, 0]] * 5 + [[0, 0, 4, 5]] * 5 + [[1, 0, 0, 1]])
    model = EASE.fit(ratings, catalog, EASEConfig(1.0))
    scores = model.score(sp.csr_matrix(np.array([[4, 0, 0, 0]], dtype=np.float32)))[0]
    assert int(np.argmax(scores[1:])) + 1 == 1


def test_too_large_catalogue_is_refused_with_the_figures() -> None:
    assert memory_estimate(1000) == 1000 * 1000 * 4 * 3
    check_memory(1000, limit=memory_estimate(1000))
    with pytest.raises(CatalogTooLargeError, match=r"62,000 movies"):
        check_memory(62_000)
    ratings, catalog = ratings_from([[1, 1], [1, 0]])
    with pytest.raises(CatalogTooLargeError):
        EASE.fit(ratings, catalog, EASEConfig(10.0, memory_limit=10))


@pytest.mark.parametrize("lam", [0.0, -1.0])
def test_lambda_must_be_positive(lam: float) -> None:
    with pytest.raises(ValueError, match="λ"):
        EASEConfig(lam)


def test_score_refuses_rows_of_another_catalogue() -> None:
    ratings, catalog = ratings_from([[1, 1], [1, 0]])
    model = EASE.fit(ratings, catalog, EASEConfig(1.0))
    with pytest.raises(ValueError, match="fitted on 2"):
        model.score(sp.csr_matrix((1, 3), dtype=np.float32))


def test_on_rating_values_it_solves_the_same_regression_on_the_stars() -> None:
    """`values`: B is the ridge regression of each movie's stars on the others' stars, and a
    history's stars weigh B's rows, so a 5★ counts five times a 1★."""
    dense = [[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [0, 1, 5, 4], [0, 0, 4, 0]]
    ratings, catalog = ratings_from(dense)
    model = EASE.fit(ratings, catalog, EASEConfig(2.0, values=True))
    assert np.allclose(model.weights, column_by_column(np.array(dense, float), 2.0), atol=1e-4)
    low = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    high = sp.csr_matrix(np.array([[5, 0, 0, 0]], dtype=np.float32))
    assert np.allclose(model.score(high), 5 * model.score(low), atol=1e-5)
    assert model.params == {"lambda": 2.0, "values": True}
