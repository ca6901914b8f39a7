"""Group recommendations: the aggregation strategies on known matrices, then with a model."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.filters import Filters
from recommender.group import (
    STRATEGIES,
    GroupError,
    Member,
    aggregate,
    normalise,
    order,
    recommend_group,
    vetoed,
)
from recommender.hybrid import Recommender
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL

# Three movies, two members: movie 0 is loved by one and hated by the other, movie 1 is fine
# for both, movie 2 is loved by the second and mildly liked by the first.
SCORES = np.array([[2.0, 0.5, 0.4], [-1.5, 0.3, 1.2]])


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("average", [0.25, 0.4, 0.8]),
        ("least_misery", [-1.5, 0.3, 0.4]),
        ("most_pleasure", [2.0, 0.5, 1.2]),
        ("average_without_misery", [-np.inf, 0.4, 0.8]),
    ],
)
def test_each_strategy_scores_the_group_as_defined(strategy, expected):
    veto = vetoed(SCORES)
    assert np.allclose(aggregate(SCORES, strategy, veto), expected)


def test_unknown_strategy_is_refused():
    with pytest.raises(GroupError, match="least_misery"):
        aggregate(SCORES, "majority")


def test_misery_veto_by_predicted_stars_as_well_as_by_score():
    stars = np.array([[4.5, 2.5, 4.0], [3.2, 4.1, 4.8]])
    assert vetoed(SCORES, stars).tolist() == [True, True, False]


def test_average_without_misery_falls_back_to_least_misery_for_the_rest():
    everyone_hates_something = np.array([[3.0, -2.0, -1.2], [-2.0, 2.0, -1.1]])
    ranked, values = order(everyone_hates_something, "average_without_misery")
    # Nothing survives the veto: least misery orders all three (−1.2 beats −2.0).
    assert ranked.tolist()[0] == 2
    assert values[0] == pytest.approx(-1.2)


def test_normalise_puts_members_on_one_scale_and_flat_rows_have_no_opinion():
    loud_and_quiet = np.array([[100.0, 0.0, 60.0], [0.1, 0.2, 0.3], [7.0, 7.0, 7.0]])
    assert np.argmax(loud_and_quiet.mean(axis=0)) == 0  # raw scores: the loud one decides
    z = normalise(loud_and_quiet)
    assert np.allclose(z.std(axis=1)[:2], 1.0) and np.allclose(z[2], 0.0)
    assert np.argmax(z.mean(axis=0)) == 2  # on one scale, the movie both like best wins


@pytest.fixture(scope="module")
def model() -> Recommender:
    cat = synthetic.catalog()
    return Recommender.train(synthetic.ratings(cat), cat, SMALL)


COMEDY_FAN = {m: 5.0 for m in synthetic.BLOCK_A[:4]} | {synthetic.BLOCK_B[0]: 1.0}
HORROR_FAN = {m: 5.0 for m in synthetic.BLOCK_B[:4]} | {synthetic.BLOCK_A[0]: 1.0}
COMEDY_TOO = {m: 4.0 for m in synthetic.BLOCK_A[4:8]}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_comedy_fans_get_unseen_comedies_with_reasons(model, strategy):
    members = [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO)]
    picks = recommend_group(model, members, n=5, strategy=strategy)
    ids = [p.movie_id for p in picks]
    assert len(ids) == 5 and synthetic.in_block_a(ids) == 1.0
    assert not set(ids) & (set(COMEDY_FAN) | set(COMEDY_TOO))
    assert all(set(p.predicted) == {1, 2} for p in picks)
    assert any(p.loved for p in picks)
    assert all(
        COMEDY_FAN.get(m, COMEDY_TOO.get(m, 0)) >= 4 for p in picks for m in p.loved.values()
    )


def test_without_misery_no_pick_is_predicted_bad_for_anyone(model):
    members = [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO), Member(3, COMEDY_FAN)]
    picks = recommend_group(model, members, n=3)
    assert all(p.min_predicted is not None and p.min_predicted >= 3.0 for p in picks)


def test_clashing_tastes_still_get_a_full_list(model):
    members = [Member(1, COMEDY_FAN), Member(2, HORROR_FAN)]
    for strategy in STRATEGIES:
        assert len(recommend_group(model, members, n=5, strategy=strategy)) == 5


def test_least_misery_looks_after_the_outvoted_member(model):
    # Two comedy fans and one horror fan: the average follows the majority, least misery
    # gives the horror fan movies they are predicted to like far more.
    members = [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO), Member(3, HORROR_FAN)]
    average = recommend_group(model, members, n=4, strategy="average", diversity=0.0)
    misery = recommend_group(model, members, n=4, strategy="least_misery", diversity=0.0)
    assert synthetic.in_block_a(p.movie_id for p in average) == 1.0
    outvoted = [np.mean([p.predicted[3] for p in picks]) for picks in (average, misery)]
    assert outvoted[1] > outvoted[0] + 1.0


def test_reasons_name_only_members_predicted_to_like_the_pick(model):
    members = [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO), Member(3, HORROR_FAN)]
    for pick in recommend_group(model, members, n=4, strategy="average"):
        assert all(pick.predicted[key] >= 3.5 for key in pick.loved)
        history = {1: COMEDY_FAN, 2: COMEDY_TOO, 3: HORROR_FAN}
        assert all(history[key][movie] >= 4 for key, movie in pick.loved.items())
        if pick.movie_id in synthetic.BLOCK_A:  # a comedy is never "because" of the horror fan
            assert 3 not in pick.loved


def test_members_without_ratings_are_neutral(model):
    alone = recommend_group(model, [Member(1, COMEDY_FAN)], n=5, diversity=0.0)
    with_newcomers = recommend_group(
        model,
        [Member(1, COMEDY_FAN), Member(2, {}), Member(3, {synthetic.BLOCK_B[1]: 5.0})],
        n=5,
        diversity=0.0,
    )
    # The newcomers' few ratings don't sway the choice (only exclude what they have seen).
    assert [p.movie_id for p in with_newcomers] == [p.movie_id for p in alone]
    assert all(set(p.predicted) == {1} for p in with_newcomers)


def test_nobody_informed_gets_the_popular_list_and_no_predictions(model):
    picks = recommend_group(model, [Member(1), Member(2)], n=4)
    assert len(picks) == 4 and all(not p.predicted and p.min_predicted is None for p in picks)


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (Filters(genres=frozenset({"Horror"})), lambda m: m in synthetic.BLOCK_B),
        (Filters(year_min=1990, year_max=1999), lambda m: m in synthetic.BLOCK_A),
    ],
    ids=["genre", "decade"],
)
def test_filters_and_exclusions_are_respected(model, filters, check):
    excluded = {synthetic.BLOCK_B[10], synthetic.BLOCK_A[10]}
    picks = recommend_group(
        model,
        [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO)],
        n=5,
        filters=filters,
        exclude=excluded,
    )
    ids = [p.movie_id for p in picks]
    assert ids and all(check(m) for m in ids) and not set(ids) & excluded
