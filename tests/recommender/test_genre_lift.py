"""Genre lift: a user's genre shares against everyone's, checked by hand."""

from __future__ import annotations

import numpy as np

from recommender.data import Catalog, Ratings, history_row
from recommender.genre_lift import GenreLift, GenreLiftConfig
from recommender.hybrid import Recommender
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL

CATALOG = Catalog.build(
    [1, 2, 3, 4],
    ["Funny", "Funny and sad", "Scary", "Untagged"],
    [2000] * 4,
    [("Comedy",), ("Comedy", "Drama"), ("Horror",), ()],
)
# Movie 1 rated three times, movie 2 once, movie 3 twice, movie 4 never.
RATINGS = Ratings.from_arrays(
    np.array([1, 2, 3, 4, 5, 6]),
    np.array([1, 1, 1, 2, 3, 3]),
    np.array([5.0, 4.0, 1.0, 3.0, 2.0, 5.0]),
    None,
    items=CATALOG.items,
)


def test_genre_lifts_by_hand():
    # Labels: Comedy 3 + 1, Drama 1, Horror 2, plus one each: p = (5, 2, 3) / 10. A user who
    # rated only the horror movie, with 5 prior labels: q = (2.5, 1, 1 + 1.5) / 6.
    lift = GenreLift.fit(RATINGS, CATALOG, GenreLiftConfig(prior=5.0))
    scores = lift.score(history_row({3: 4.0}, CATALOG.items))[0]
    comedy, drama, horror = np.log(2.5 / 3), np.log(1 / 1.2), np.log(2.5 / 1.8)
    expected = np.array([comedy, (comedy + drama) / 2, horror, 0.0])  # no genre: no lift
    np.testing.assert_allclose(scores, expected - expected.mean(), rtol=1e-5, atol=1e-6)


def test_what_was_rated_counts_from_three_stars_up_and_dislikes_not_at_all():
    lift = GenreLift.fit(RATINGS, CATALOG)
    loved, fine, hated = (lift.score(history_row({3: s}, CATALOG.items)) for s in (5, 3, 2.5))
    np.testing.assert_array_equal(loved, fine)
    assert loved[0, 2] > 0 and not hated.any()  # a disliked horror film says nothing


def test_a_user_with_no_ratings_gets_no_lift():
    lift = GenreLift.fit(RATINGS, CATALOG)
    assert not lift.score(history_row({}, CATALOG.items)).any()


def test_the_more_a_user_rates_one_genre_the_stronger_its_lift():
    cat = synthetic.catalog()
    lift = GenreLift.fit(synthetic.ratings(cat), cat)
    comedy, horror = cat.items.index(synthetic.BLOCK_A[-1]), cat.items.index(synthetic.BLOCK_B[-1])
    gaps = []
    for n in (1, 3, 8):
        scores = lift.score(history_row({m: 4.0 for m in synthetic.BLOCK_B[:n]}, cat.items))[0]
        gaps.append(scores[horror] - scores[comedy])
    assert 0 < gaps[0] < gaps[1] < gaps[2]


def test_genre_lift_survives_save_and_load_and_ignores_genres_it_never_saw(tmp_path):
    cat = synthetic.catalog()
    model = Recommender.train(synthetic.ratings(cat), cat, SMALL)
    model.save(tmp_path / "m.npz")
    loaded = Recommender.load(tmp_path / "m.npz")
    row = history_row({synthetic.BLOCK_A[0]: 5.0}, cat.items)
    lift, again = model._hybrid.parts["genres"], loaded._hybrid.parts["genres"]
    np.testing.assert_array_equal(lift.score(row), again.score(row))
    grown = synthetic.grown(
        cat, (900, "A western", 1990, ("Western",)), (901, "A comedy", 1990, ("Comedy",))
    )
    genres = model.with_catalog(grown)._hybrid.parts["genres"]
    scores = genres.score(history_row({synthetic.BLOCK_A[0]: 5.0}, grown.items))[0]
    western, comedy = grown.items.index(900), grown.items.index(901)
    horror = grown.items.index(synthetic.BLOCK_B[0])
    assert scores[horror] < scores[western] < scores[comedy]  # unknown genre: no lift
