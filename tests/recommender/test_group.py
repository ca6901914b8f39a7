"""Group recommendations: the aggregation strategies on known matrices, then with a model."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.data import Catalog, Ratings
from recommender.filters import Filters
from recommender.group import (
    STRATEGIES,
    GroupError,
    Member,
    aggregate,
    miserable,
    normalise,
    order,
    recommend_group,
    shares_above,
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
    veto = np.array([True, False, False])  # movie 0 would make the second member miserable
    assert np.allclose(aggregate(SCORES, strategy, veto), expected)


def test_unknown_strategy_is_refused():
    with pytest.raises(GroupError, match="least_misery"):
        aggregate(SCORES, "majority")


@pytest.mark.parametrize(
    ("ratings", "floor"),
    [
        ([5.0, 5.0, 5.0, 5.0], 4.5),  # no spread: it counts as half a star
        ([4.0, 4.0, 4.5], 3.67),
        ([5.0, 4.0, 3.0, 2.0, 1.0], 3.0 - np.sqrt(2.0)),  # uses the whole scale
        ([2.0, 1.0, 2.0, 1.0], 1.0),  # a harsh rater: ★2 is a good movie to them
    ],
)
def test_misery_stars_are_on_each_members_own_scale(ratings, floor):
    member = Member(1, dict(enumerate(ratings, start=1)))
    assert member.misery_stars == pytest.approx(floor, abs=0.01)


def test_shares_above_count_the_movies_a_member_likes_better():
    ranks = shares_above(np.array([[9.0, 1.0, 8.0, 7.0], [4.0, 3.0, 3.0, 1.0]]))
    assert ranks.tolist() == [[0.0, 0.75, 0.25, 0.5], [0.0, 0.25, 0.25, 0.75]]


def test_misery_by_own_stars_and_for_alike_raters_by_their_own_ranking():
    # 40 movies; the first member rates everything ★5 (floor 4.5) and is predicted ★4.6 for
    # all, the second uses the whole scale (floor 1.5) and is predicted ★2 for all but the
    # last (★1).
    stars = np.vstack([np.full(40, 4.6), np.r_[np.full(39, 2.0), 1.0]])
    ranks = np.vstack([np.arange(40) / 40, np.arange(40)[::-1] / 40])
    misery = miserable(stars, [4.5, 1.5], ranks, [True, False])
    # By stars, nothing is misery for the first: by their own ranking, beyond their top 10
    # (5% of 40 would be 2: too few) is.
    assert np.flatnonzero(misery[0]).tolist() == list(range(10, 40))
    assert np.flatnonzero(misery[1]).tolist() == [39]
    assert not miserable(stars, [4.5, 1.5], ranks, [False, False])[0].any()
    assert np.flatnonzero(~vetoed(misery)).tolist() == list(range(10))
    assert vetoed(np.empty((0, 3), dtype=bool), 3).tolist() == [False, False, False]


def test_average_without_misery_falls_back_to_least_misery_for_the_rest():
    everyone_hates_something = np.array([[3.0, -2.0, -1.2], [-2.0, 2.0, -1.1]])
    veto = np.array([True, True, True])
    ranked, values = order(everyone_hates_something, "average_without_misery", veto)
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


def test_without_misery_no_pick_is_predicted_below_anyones_own_usual(model):
    members = [Member(1, COMEDY_FAN), Member(2, COMEDY_TOO), Member(3, COMEDY_FAN)]
    picks = recommend_group(model, members, n=3)
    assert all(p.fits for p in picks)
    assert all(p.predicted[m.key] >= m.misery_stars for p in picks for m in members)


def test_clashing_tastes_still_get_a_full_list_of_compromises(model):
    members = [Member(1, COMEDY_FAN), Member(2, HORROR_FAN)]
    for strategy in STRATEGIES:
        picks = recommend_group(model, members, n=5, strategy=strategy)
        assert len(picks) == 5
        # Each fan is predicted ★1–2 for most of the other's block: few picks fit both, and
        # a pick says so only when it is true.
        assert not all(p.fits for p in picks)
        for pick in picks:
            fair = all(pick.predicted[m.key] >= m.misery_stars for m in members)
            assert pick.fits == fair


# A long-tailed world like MovieLens: grown-ups watch thrillers (and rate the odd kids' film
# ★3–4), kids'-film fans never watch a thriller, and most movies are obscure.
KIDS, THRILLERS, OBSCURE = tuple(range(1, 21)), tuple(range(21, 41)), tuple(range(41, 121))


@pytest.fixture(scope="module")
def long_tail() -> Recommender:
    ids = [*KIDS, *THRILLERS, *OBSCURE]
    cat = Catalog.build(
        ids,
        [f"Movie {i}" for i in ids],
        [1995] * len(ids),
        [
            ("Children's",) if i in KIDS else ("Thriller",) if i in THRILLERS else ("Drama",)
            for i in ids
        ],
    )
    rng = np.random.default_rng(0)
    weights = np.linspace(2.0, 0.5, 20)
    weights /= weights.sum()
    rows: list[tuple[int, int, float]] = []
    for user in range(1, 101):
        if user <= 70:
            rows += [
                (user, int(m), float(rng.choice([4, 5])))
                for m in rng.choice(THRILLERS, 10, False, weights)
            ]
            rows += [
                (user, int(m), float(rng.choice([3, 4])))
                for m in rng.choice(KIDS, 2, False, weights)
            ]
        else:
            rows += [
                (user, int(m), float(rng.choice([4, 5])))
                for m in rng.choice(KIDS, 8, False, weights)
            ]
    for movie in OBSCURE:
        rows += [
            (int(u), movie, float(rng.choice([2, 3, 4]))) for u in rng.choice(70, 2, False) + 1
        ]
    users, movies, stars = (np.array(column) for column in zip(*rows, strict=True))
    times = np.arange(len(rows)) + 1_000_000
    ratings = Ratings.from_arrays(users, movies, stars, times, items=cat.items)
    return Recommender.train(ratings, cat, SMALL)


def test_someone_who_rates_everything_five_stars_is_not_outvoted_into_what_they_never_watch(
    long_tail,
):
    kid = Member(1, {m: 5.0 for m in KIDS[:4]})
    grown_ups = [
        Member(2, {**{m: 5.0 for m in THRILLERS[:4]}, KIDS[10]: 3.0}),
        Member(3, {**{m: 4.0 for m in THRILLERS[4:8]}, KIDS[12]: 3.0, THRILLERS[15]: 2.0}),
    ]
    # The cause: all ★5, so the predictor learns only that they are generous.
    assert min(long_tail.predict(kid.ratings, THRILLERS[8:]).values()) >= 4.5
    picks = recommend_group(long_tail, [kid, *grown_ups], n=5)
    assert [p.movie_id for p in picks if p.movie_id in THRILLERS] == []
    assert picks[0].alike == (1,)
    assert [p.movie_id for p in picks if p.fits and p.movie_id not in KIDS] == []
    assert sum(bool(p.fits) for p in picks) >= 3


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
