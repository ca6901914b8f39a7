"""Era: the user's own release years and their moment, as log-lifts checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, history_row
from recommender.era import Era, EraConfig, calendar_years
from recommender.hybrid import Recommender
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL

T1996, T2015 = 820_454_400.0, 1_420_070_400.0  # 1 Jan 1996, 1 Jan 2015
YEAR = 365.25 * 86_400
# Movies 1 and 2 from 2000, movie 3 from 2001, movie 4 from 2002, movie 5 of unknown year.
CATALOG = Catalog.build(
    [1, 2, 3, 4, 5],
    [f"Movie {i}" for i in range(1, 6)],
    [2000, 2000, 2001, 2002, None],
    [()] * 5,
)
EXACT = EraConfig(bandwidth_years=0, smooth_years=0, smooth_release_years=0, floor=0)


def ratings(times: list[float] | None = None) -> Ratings:
    """Four ratings: movies 1 and 2 (2000), 3 (2001), 4 (2002)."""
    return Ratings.from_arrays(
        np.array([10, 11, 12, 13]),
        np.array([1, 2, 3, 4]),
        np.array([4.0, 3.0, 5.0, 2.0]),
        None if times is None else np.array(times),
        items=CATALOG.items,
    )


def test_calendar_years_are_utc_years():
    assert calendar_years(np.array([0, T1996 - 1, T1996, T2015])).tolist() == [
        1970,
        1995,
        1996,
        2015,
    ]


def test_a_users_own_release_years_by_hand():
    # Release-year shares of the ratings g = (1/2, 1/4, 1/4) for 2000-2002. A user who rated
    # only a 2000 movie: k = (1, 0, 0); with own_mix 0.3 the lifts are
    # log((k + 0.3 g) / (1.3 g)) = log(1.15 / 0.65), log(0.075 / 0.325), log(0.075 / 0.325).
    era = Era.fit(ratings(), CATALOG, EXACT)
    scores = era.score(history_row({1: 5.0}, CATALOG.items))[0]
    high, low = np.log(1.15 / 0.65), np.log(0.075 / 0.325)
    lift = np.array([high, high, low, low, 0.0])  # unknown year: no lift
    np.testing.assert_allclose(scores, lift - lift.mean(), rtol=1e-5, atol=1e-6)


def test_the_years_of_movies_a_user_disliked_are_not_theirs():
    era = Era.fit(ratings(), CATALOG, EXACT)
    disliked = era.score(history_row({1: 2.5}, CATALOG.items))
    fine = era.score(history_row({1: 3.0}, CATALOG.items))
    assert not disliked.any() and fine[0, 0] > 0


def test_without_ratings_or_times_era_says_nothing():
    era = Era.fit(ratings(), CATALOG, EXACT)
    assert not era.score(history_row({}, CATALOG.items)).any()


def test_when_everyone_rated_in_one_year_the_moment_says_nothing_then():
    # All ratings in 2003: m(y) = f(2003 − y), so at any 2003 moment the lift is exactly 0
    # (as on MovieLens 100K, where everyone rated within a few months).
    in_2003 = [1_041_379_200.0 + d * 86_400 for d in range(4)]  # January 2003
    era = Era.fit(ratings(in_2003), CATALOG, EXACT)
    empty = history_row({}, CATALOG.items)
    assert not era.score(empty, np.array([in_2003[0] + 100 * 86_400])).any()
    np.testing.assert_array_equal(era.score(empty), era.score(empty, np.array([np.nan])))


def test_the_moment_prefers_movies_of_the_age_people_rate_then():
    # Block-A fans (1990s comedies) rated in 1996, block-B fans (1970s horror) in 2015: for a
    # newcomer at a 1996 moment a 1990s movie fits better than at a 2015 moment.
    cat = synthetic.catalog()
    era = Era.fit(synthetic.two_eras(cat), cat)
    empty = sp.vstack([history_row({}, cat.items)] * 2)
    scores = era.score(empty, np.array([T1996 + 0.5 * YEAR, T2015 + 0.5 * YEAR]))
    comedy, horror = cat.items.index(synthetic.BLOCK_A[0]), cat.items.index(synthetic.BLOCK_B[0])
    assert scores[0, comedy] - scores[0, horror] > scores[1, comedy] - scores[1, horror] + 1.0


def test_a_user_who_rated_old_movies_gets_old_movies_lifted():
    cat = synthetic.catalog()
    era = Era.fit(synthetic.ratings(cat), cat)
    old_fan = history_row({m: 4.0 for m in synthetic.BLOCK_B[:3]}, cat.items)
    scores = era.score(old_fan)[0]
    years = cat.years
    assert scores[years < 1980].mean() > scores[years >= 1990].mean() + 1.0


def test_moments_must_match_users():
    era = Era.fit(ratings([T1996] * 4), CATALOG)
    with pytest.raises(ValueError, match="2 moments for 1 users"):
        era.score(history_row({1: 4.0}, CATALOG.items), np.array([T1996, T2015]))


def test_era_survives_save_and_load_and_scores_new_movies_by_their_year(tmp_path):
    cat = synthetic.catalog()
    model = Recommender.train(synthetic.two_eras(cat), cat, SMALL)
    model.save(tmp_path / "m.npz")
    loaded = Recommender.load(tmp_path / "m.npz")
    row = history_row({synthetic.BLOCK_B[0]: 5.0}, cat.items)
    era, again = model._hybrid.parts["era"], loaded._hybrid.parts["era"]
    np.testing.assert_array_equal(era.score(row), again.score(row))
    grown = synthetic.grown(cat, (900, "New old", 1972, ()), (901, "New new", 1995, ()))
    era = model.with_catalog(grown)._hybrid.parts["era"]
    scores = era.score(history_row({synthetic.BLOCK_B[0]: 5.0}, grown.items))[0]
    old, new = grown.items.index(900), grown.items.index(901)
    assert scores[old] > scores[new]  # a horror fan from the 1970s: the 1972 movie fits
