"""The contract every blend component passes (after implicit's test mixin), on two taste blocks.

Parametrised over `recommender.scoring.PARTS` (blended or not: content is fitted and saved for
serving alone), so a component added to the blend is held to it without a change here, except
saying what its job is (`JOB`).
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.component import CatalogChange, Component, RecommenderError
from recommender.data import Ratings, history_row
from recommender.scoring import PARTS, Part
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL

# What each component is for, as far as the contract can check it:
# "taste": a user who rated more movies of one block scores that block higher;
# "everyone": the scores do not depend on the user's ratings (only, maybe, on their moment).
JOB = {
    "als": "taste",
    "watched": "taste",
    "ease": "taste",
    "ease_new": "taste",
    "content": "taste",
    "era": "taste",  # the blocks are from different decades
    "genres": "taste",  # and of different genres
    "popularity": "everyone",
    "quality": "everyone",
}
NAMES = tuple(part.name for part in PARTS)


@pytest.fixture(scope="module")
def data():
    cat = synthetic.catalog()
    return cat, synthetic.ratings(cat)


@pytest.fixture(scope="module")
def fitted(data) -> dict[str, Component]:
    cat, ratings = data
    return {part.name: part.kind.fit(ratings, cat, part.settings(SMALL)) for part in PARTS}


def histories(cat) -> sp.csr_matrix:
    """Six users: none, unknown movies only, block-A fans (few, many), block-B fans."""
    rows = [
        {},
        {999_999: 5.0},
        {m: 5.0 for m in synthetic.BLOCK_A[:3]},
        {m: 5.0 for m in synthetic.BLOCK_A[:8]} | {synthetic.BLOCK_B[0]: 4.0},
        {m: 4.0 for m in synthetic.BLOCK_B[:5]},
        {m: 5.0 for m in synthetic.BLOCK_B[:3]} | {synthetic.BLOCK_A[0]: 1.0},
    ]
    return sp.vstack([history_row(r, cat.items) for r in rows]).tocsr()


def by_name(name: str) -> Part:
    return next(part for part in PARTS if part.name == name)


def test_every_component_says_what_its_job_is():
    assert set(JOB) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_one_finite_float32_per_user_and_movie(fitted, data, name):
    cat, ratings = data
    for rows in (histories(cat), ratings.matrix[:7], sp.csr_matrix((0, len(cat)))):
        scores = fitted[name].score(rows)
        assert scores.shape == (rows.shape[0], len(cat))
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_moment_is_the_latest_one(fitted, data, name):
    cat, _ = data
    rows = histories(cat)
    at_nan = fitted[name].score(rows, np.full(rows.shape[0], np.nan))
    np.testing.assert_array_equal(at_nan, fitted[name].score(rows))


@pytest.mark.parametrize("name", [n for n in NAMES if JOB[n] == "taste"])
@pytest.mark.parametrize(("fan", "block"), [(3, synthetic.BLOCK_A), (4, synthetic.BLOCK_B)])
def test_more_ratings_of_a_block_score_that_block_higher(fitted, data, name, fan, block):
    cat, _ = data
    rows = histories(cat)
    scores = fitted[name].score(rows)[fan]
    other = synthetic.BLOCK_B if block is synthetic.BLOCK_A else synthetic.BLOCK_A
    unrated = [m for m in block if rows[fan, cat.items.index(m)] == 0]
    mine, theirs = cat.items.index_of(unrated), cat.items.index_of(other)
    assert scores[mine].mean() > scores[theirs].mean()


@pytest.mark.parametrize("name", [n for n in NAMES if JOB[n] == "everyone"])
def test_a_component_for_everyone_ignores_the_ratings(fitted, data, name):
    cat, _ = data
    scores = fitted[name].score(histories(cat))
    assert (scores == scores[0]).all()
    assert scores[0].std() > 0  # and still tells movies apart


def _through_npz(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


@pytest.mark.parametrize("name", NAMES)
def test_to_arrays_and_back_scores_the_same(fitted, data, name):
    cat, _ = data
    model = fitted[name]
    again = type(model).from_arrays(_through_npz(model.to_arrays()), cat, model.config)
    rows = histories(cat)
    np.testing.assert_array_equal(again.score(rows), model.score(rows))
    assert again.params == model.params


@pytest.mark.parametrize("name", NAMES)
def test_arrays_for_another_catalogue_are_refused(fitted, data, name):
    cat, _ = data
    bigger = synthetic.grown(cat, (900, "New", 1995, ("Comedy",)))
    model = fitted[name]
    arrays = _through_npz(model.to_arrays())
    if name in ("era", "genres"):
        # nothing per movie is stored: the catalogue's years and genres are read afresh
        assert type(model).from_arrays(arrays, bigger, model.config).score(
            history_row({}, bigger.items)
        ).shape == (1, len(bigger))
        return
    with pytest.raises(ValueError):
        type(model).from_arrays(arrays, bigger, model.config)


@pytest.mark.parametrize("name", NAMES)
def test_moved_to_a_grown_catalogue_it_scores_every_movie(fitted, data, name):
    cat, _ = data
    model = fitted[name]
    same = model.reindexed(CatalogChange(cat, np.arange(len(cat))))
    rows = histories(cat)
    np.testing.assert_array_equal(same.score(rows), model.score(rows))
    bigger = synthetic.grown(cat, (900, "New", 1995, ("Comedy",)), (901, "Newer", 1972, ()))
    old = cat.items.index_of(bigger.items.ids)
    moved = model.reindexed(CatalogChange(bigger, old, {900: 3}))
    grown_rows = histories(bigger)
    scores = moved.score(grown_rows)
    assert scores.shape == (grown_rows.shape[0], len(bigger)) and np.isfinite(scores).all()
    assert scores.dtype == np.float32


def empty(ratings: Ratings) -> Ratings:
    return replace(ratings, matrix=sp.csr_matrix(ratings.matrix.shape, dtype=np.float32))


def not_a_number(ratings: Ratings) -> Ratings:
    matrix = ratings.matrix.copy()
    matrix.data[3] = np.nan
    return replace(ratings, matrix=matrix)


def other_movies(ratings: Ratings) -> Ratings:
    fewer = synthetic.catalog()
    keep = fewer.items.ids[:-5]
    coo = ratings.matrix.tocoo()
    ids = ratings.items.ids[coo.col]
    mask = np.isin(ids, keep)
    return Ratings.from_arrays(
        ratings.users.ids[coo.row][mask],
        ids[mask],
        coo.data[mask],
        items=type(ratings.items)(keep),
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (empty, "no ratings"),
        (not_a_number, "not finite"),
        (other_movies, "do not match the catalogue"),
    ],
    ids=["no ratings", "NaN stars", "another item space"],
)
def test_fitting_on_ratings_nothing_can_be_learnt_from_is_refused(data, name, spoil, message):
    cat, ratings = data
    part = by_name(name)
    with pytest.raises(RecommenderError, match=f"{part.kind.name}: .*{message}"):
        part.kind.fit(spoil(ratings), cat, part.settings(SMALL))
