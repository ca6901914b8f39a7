"""Trend: liked ratings near a moment, falling back to all-time popularity far from any."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.data import Catalog, Ratings, user_moments
from recommender.trend import Trend, TrendConfig
from recommender.vocab import Vocab

YEAR = 365.25 * 86_400
T1996, T2015 = 820_454_400.0, 1_420_070_400.0  # 1 Jan 1996, 1 Jan 2015
# Movie 1 was loved in 1996 by 30 people; movie 2 in 2015 by 100; movie 3 rated low by 200
# people in 2015; movie 4 never rated.
CATALOG = Catalog.build([1, 2, 3, 4], [f"Movie {i}" for i in range(1, 5)], [1995] * 4, [()] * 4)


def ratings(with_times: bool = True) -> Ratings:
    users, movies, stars, times = [], [], [], []
    for u in range(30):
        users.append(u), movies.append(1), stars.append(5.0), times.append(T1996 + u * 86_400)
    for u in range(100):
        users.append(100 + u), movies.append(2), stars.append(4.0), times.append(T2015 + u)
    for u in range(200):
        users.append(300 + u), movies.append(3), stars.append(2.0), times.append(T2015 + u)
    return Ratings.from_arrays(
        np.array(users),
        np.array(movies),
        np.array(stars),
        np.array(times) if with_times else None,
        items=CATALOG.items,
    )


def order(scores: np.ndarray) -> list[int]:
    return [int(CATALOG.items.ids[i]) for i in np.argsort(-scores, kind="stable")]


def test_the_movies_liked_around_a_users_time_come_first():
    trend = Trend.fit(ratings(), CATALOG)
    scores = trend.at(np.array([T1996 + 0.5 * YEAR, T2015 + 0.5 * YEAR]), n_users=2)
    assert order(scores[0])[0] == 1
    assert order(scores[1])[0] == 2


def test_low_ratings_do_not_count_however_many():
    scores = Trend.fit(ratings(), CATALOG).at(np.array([T2015]))[0]
    assert scores[CATALOG.items.index(3)] == scores[CATALOG.items.index(4)] == scores.min()


def test_far_from_every_rating_the_trend_is_all_time_popularity():
    trend = Trend.fit(ratings(), CATALOG)
    for far in (T2015 + 60 * YEAR, T1996 - 60 * YEAR):
        assert order(trend.at(np.array([far]))[0])[:2] == [2, 1]


def test_ratings_after_the_moment_do_not_count():
    trend = Trend.fit(ratings(), CATALOG)
    before_2015 = trend.at(np.array([T2015 - 86_400]))[0]
    with_2015 = trend.at(np.array([T2015 + 30 * 86_400]))[0]
    movie_2 = CATALOG.items.index(2)
    assert before_2015[movie_2] == 0  # liked by nobody yet: not even the prior speaks for it
    assert with_2015[movie_2] > 0


def test_a_few_recent_ratings_do_not_take_over_a_large_old_data_set():
    """A bot serving an old data set: its first users' likes are the only recent ones."""
    old = ratings()
    recent = Ratings.from_arrays(
        np.concatenate([old.users.ids[old.matrix.tocoo().row], [900, 901]]),
        np.concatenate([old.items.ids[old.matrix.tocoo().col], [4, 4]]),
        np.concatenate([old.matrix.tocoo().data, [5.0, 5.0]]),
        np.concatenate([old.timestamps.tocoo().data, [T2015 + 10 * YEAR] * 2]),
        items=CATALOG.items,
    )
    trend = Trend.fit(recent, CATALOG)
    assert order(trend.at(None)[0])[:3] == [2, 1, 4]


def test_no_moment_means_the_latest_rating_and_a_nan_moment_too():
    trend = Trend.fit(ratings(), CATALOG)
    latest = trend.at(np.array([T2015 + 99]))[0]
    assert np.allclose(trend.at(None)[0], latest)
    assert np.allclose(trend.at(np.array([np.nan]))[0], latest)
    assert order(latest)[0] == 2


def test_without_times_the_trend_is_liked_popularity():
    scores = Trend.fit(ratings(with_times=False), CATALOG).at(None)[0]
    assert order(scores) == [2, 1, 3, 4]
    assert scores[2] == scores[3]


def test_a_moment_per_user_is_required():
    trend = Trend.fit(ratings(), CATALOG)
    with pytest.raises(ValueError, match="2 moments for 3 users"):
        trend.at(np.array([T1996, T2015]), n_users=3)


def test_saved_and_reloaded_it_scores_the_same():
    trend = Trend.fit(ratings(), CATALOG, TrendConfig(tau_days=70))
    again = Trend.from_arrays(trend.to_arrays(), CATALOG, trend.config)
    when = np.array([T1996, T2015, np.nan])
    assert np.array_equal(again.at(when, 3), trend.at(when, 3))


def test_a_movie_added_after_training_has_no_ratings_and_the_others_keep_theirs():
    trend = Trend.fit(ratings(), CATALOG)
    taken = trend.take(np.array([1, 0, -1]))  # movie 2, movie 1, a new movie
    moment = np.array([T2015 + 60 * 86_400])
    before, after = trend.at(moment)[0], taken.at(moment)[0]
    assert taken.daily[:, 2].nnz == 0
    assert after[0] == before[1] and after[1] == before[0]  # the old movies keep their scores
    assert after[0] > after[1] > after[2] == 0


def test_user_moments_are_median_rating_times():
    data = Ratings.from_arrays(
        np.array([1, 1, 1, 2]),
        np.array([1, 2, 3, 1]),
        np.array([4.0, 4, 4, 4]),
        np.array([10.0, 40, 20, 7]),
        items=Vocab(np.array([1, 2, 3])),
    )
    assert np.array_equal(user_moments(data, np.array([1, 0])), [7.0, 20.0])
    assert user_moments(data.__class__(data.users, data.items, data.matrix), np.array([0])) is None


def test_a_refit_forgets_the_scores_it_gave_before():
    trend = Trend.fit(ratings(), CATALOG)
    trend.at(None)
    refit = trend.fit(ratings(with_times=False), CATALOG).at(None)[0]
    assert np.array_equal(refit, Trend.fit(ratings(with_times=False), CATALOG).at(None)[0])


def liked_on(days: list[float], movies: list[int]) -> Ratings:
    """One 5-star rating per (day after 1 Jan 1996, movie), each by another user."""
    return Ratings.from_arrays(
        np.arange(len(days)),
        np.array(movies),
        np.full(len(days), 5.0),
        T1996 + np.array(days) * 86_400,
        items=CATALOG.items,
    )


def test_scores_by_hand_counting_whole_days_up_to_the_moment():
    trend = Trend.fit(
        liked_on([0, 0, 10], [1, 1, 1]), CATALOG, TrendConfig(tau_days=365, prior_share=0.1)
    )
    movie_1 = CATALOG.items.index(1)
    an_hour = 3_600
    # an hour into day 10: both days count, day 0 decayed by 10 days
    on_day_10 = trend.at(np.array([T1996 + 10 * 86_400 + an_hour]))[0][movie_1]
    assert on_day_10 == pytest.approx(np.log1p(2 * np.exp(-10 / 365) + 1 + 0.1 * 3), rel=1e-6)
    # an hour before day 10 begins: only day 0, 9 days back
    on_day_9 = trend.at(np.array([T1996 + 10 * 86_400 - an_hour]))[0][movie_1]
    assert on_day_9 == pytest.approx(np.log1p(2 * np.exp(-9 / 365) + 0.1 * 2), rel=1e-6)


def test_recent_likes_outweigh_more_likes_years_ago():
    # movie 1: 30 likes three years before the moment; movie 2: 20 likes last month
    data = liked_on([0] * 30 + [3 * 365 - 30] * 20, [1] * 30 + [2] * 20)
    scores = Trend.fit(data, CATALOG).at(np.array([T1996 + 3 * 365 * 86_400]))[0]
    assert order(scores)[:2] == [2, 1]
