"""The serving API: recommend, similar, predict, onboarding, filters, reasons, new movies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.als import ALS
from recommender.blend import BlendConfig, add_up, contributions
from recommender.data import Catalog, Ratings
from recommender.explain import Reason
from recommender.filters import Filters
from recommender.hybrid import ModelHolder, Recommender
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL

COMEDY_FAN = {m: 5.0 for m in synthetic.BLOCK_A[:4]} | {synthetic.BLOCK_B[0]: 1.0}


@pytest.fixture(scope="module")
def model() -> Recommender:
    cat = synthetic.catalog()
    return Recommender.train(synthetic.ratings(cat), cat, SMALL)


def test_blend_leans_on_popularity_and_quality_for_few_ratings_and_on_als_for_many():
    weights = BlendConfig().weights(np.array([3, 200]))
    few, many = 0, 1
    non_collaborative = weights["popularity"] + weights["quality"]
    assert non_collaborative[few] > weights["als"][few]
    assert weights["als"][many] > non_collaborative[many]
    collaborative = weights["als"] + weights["watched"] + weights["ease"]
    share = collaborative / sum(weights.values())
    assert share[many] > share[few]


def test_new_users_ease_speaks_for_new_users_and_falls_silent_for_established_ones():
    """A negative warm weight lets a component made for new users go: the EASE with new users'
    λ weighs most at the first ratings and nothing once someone has rated a few dozen."""
    weights = BlendConfig().weights(np.array([1, 5, 30, 200]))["ease_new"]
    assert weights[0] > weights[1] > 0
    assert weights[2] == weights[3] == 0


def test_a_component_weighed_zero_for_everyone_asked_is_not_scored_and_changes_nothing(model):
    """An established user's blend leaves out the new users' EASE, which weighs 0 for them,
    and is the blend of every component to the last bit; a new user's blend keeps it."""
    hybrid = model._hybrid
    row = model._row({m: 4.0 for m in synthetic.BLOCK_A[:8] + synthetic.BLOCK_B[:7]})
    scores, weighted = hybrid.blend(row)
    assert "ease_new" not in weighted and "ease" in weighted
    parts = hybrid.components(row)
    assert "ease_new" in parts
    weights = hybrid.config.blend.weights(np.diff(row.indptr), parts)
    every = add_up((part for _, part in contributions(parts, weights)), row.shape)
    np.testing.assert_array_equal(scores, every)
    assert "ease_new" in hybrid.blend(model._row(COMEDY_FAN))[1]


def test_a_negative_cold_weight_holds_a_component_back_until_enough_ratings():
    blend = BlendConfig(als_cold=-0.5, als_warm=1.0, pivot=10.0)
    als = blend.weights(np.array([1, 5, 6, 200]))["als"]
    assert als[0] == als[1] == 0  # weights never go below zero: ALS is simply silent
    assert 0 < als[2] < als[3]


def test_no_ratings_means_only_popularity_speaks():
    weights = BlendConfig().weights(np.array([0]))
    assert all(weights[name][0] == 0 for name in weights if name != "popularity")
    assert weights["popularity"][0] > 0


def test_recommend_gives_a_comedy_fan_unrated_comedies(model):
    picks = model.recommend(COMEDY_FAN, n=5)
    ids = [p.movie_id for p in picks]
    assert len(ids) == 5 and not set(ids) & set(COMEDY_FAN)
    assert synthetic.in_block_a(ids) == 1.0


def test_reasons_point_at_liked_movies_in_the_history(model):
    picks = model.recommend(COMEDY_FAN, n=5, diversity=0.0)
    liked = {m for m, stars in COMEDY_FAN.items() if stars >= 4}
    assert all(p.reason.kind in ("liked", "genre", "popular") for p in picks)
    assert any(p.reason.kind == "liked" for p in picks)
    assert all(p.reason.movie_id in liked for p in picks if p.reason.kind == "liked")


@pytest.mark.parametrize(
    "history", [{}, {999_999: 5.0}], ids=["empty history", "only unknown movies"]
)
def test_nothing_known_gives_a_diverse_popular_list(model, history):
    picks = model.recommend(history, n=6)
    assert len(picks) == 6
    assert all(p.reason.kind == "popular" for p in picks)
    assert 0 < synthetic.in_block_a(p.movie_id for p in picks) < 1  # both tastes represented


def test_picks_carry_predicted_stars_on_the_rating_scale(model):
    picks = model.recommend(COMEDY_FAN, n=5)
    assert all(1.0 <= p.predicted <= 5.0 for p in picks)


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (Filters(genres=frozenset({"Horror"})), lambda m: m in synthetic.BLOCK_B),
        (Filters(year_min=1970, year_max=1979), lambda m: m in synthetic.BLOCK_B),
        (
            Filters(genres=frozenset({"Comedy", "Horror"}), year_min=1995),
            lambda m: m in synthetic.BLOCK_A and 1990 + m % 10 >= 1995,
        ),
    ],
    ids=["genre", "decade", "genres and year"],
)
def test_filters_hold(model, filters, check):
    picks = model.recommend(COMEDY_FAN, n=5, filters=filters)
    assert picks and all(check(p.movie_id) for p in picks)


def test_min_ratings_keeps_only_well_known_movies(model):
    counts = dict(zip(model.catalog.items.ids.tolist(), model._counts.tolist(), strict=True))
    threshold = sorted(counts.values())[len(counts) // 2]
    picks = model.recommend({}, n=10, filters=Filters(min_ratings=threshold))
    assert picks and all(counts[p.movie_id] >= threshold for p in picks)


def test_excluded_and_rated_movies_are_never_picked(model):
    first = model.recommend(COMEDY_FAN, n=3)
    excluded = {p.movie_id for p in first}
    again = model.recommend(COMEDY_FAN, n=40, exclude=excluded)
    ids = {p.movie_id for p in again}
    assert not ids & excluded and not ids & set(COMEDY_FAN)
    assert len(ids) == 40 - len(excluded) - len(COMEDY_FAN)


def test_a_new_rating_changes_the_next_recommendations(model):
    horror_convert = {m: 5.0 for m in synthetic.BLOCK_B[:8]} | {synthetic.BLOCK_A[0]: 1.0}
    before = model.recommend(COMEDY_FAN, n=5)
    after = model.recommend({**COMEDY_FAN, **{m: 1.0 for m in COMEDY_FAN}, **horror_convert}, 5)
    assert synthetic.in_block_a(p.movie_id for p in before) == 1.0
    assert synthetic.in_block_a(p.movie_id for p in after) <= 0.2


def test_diversity_spreads_the_list_across_tastes(model):
    mixed = {synthetic.BLOCK_A[0]: 5.0, synthetic.BLOCK_A[1]: 5.0, synthetic.BLOCK_B[0]: 4.0}
    plain = model.recommend(mixed, n=6, diversity=0.0)
    diverse = model.recommend(mixed, n=6, diversity=0.9)

    def spread(picks):
        share = synthetic.in_block_a(p.movie_id for p in picks)
        return min(share, 1 - share)

    assert spread(diverse) > spread(plain)


def test_similar_returns_the_seed_block_without_the_seed(model):
    seed = synthetic.BLOCK_B[2]
    picks = model.similar(seed, n=5, exclude={synthetic.BLOCK_B[3]})
    ids = [p.movie_id for p in picks]
    assert seed not in ids and synthetic.BLOCK_B[3] not in ids and len(ids) == 5
    assert synthetic.in_block_a(ids) == 0.0
    assert all(p.reason.kind == "similar" and p.reason.movie_id == seed for p in picks)


def test_unknown_movies_are_handled_quietly(model):
    assert model.similar(999_999) == []
    predicted = model.predict(COMEDY_FAN, [synthetic.BLOCK_A[9], 999_999])
    assert set(predicted) == {synthetic.BLOCK_A[9]}


def test_predict_rates_the_liked_block_higher(model):
    predicted = model.predict(COMEDY_FAN, [synthetic.BLOCK_A[10], synthetic.BLOCK_B[10]])
    assert predicted[synthetic.BLOCK_A[10]] > predicted[synthetic.BLOCK_B[10]]


def test_relevance_is_one_score_per_catalogue_movie(model):
    scores = model.relevance(COMEDY_FAN)
    assert scores.shape == (40,) and scores.dtype == np.float32
    assert (
        scores[model.catalog.items.index(synthetic.BLOCK_A[10])]
        > scores[model.catalog.items.index(synthetic.BLOCK_B[10])]
    )


def test_onboarding_asks_about_known_movies_from_both_tastes(model):
    ids = model.onboarding(6, exclude={synthetic.BLOCK_A[0]})
    assert len(set(ids)) == 6 and synthetic.BLOCK_A[0] not in ids
    assert 0 < synthetic.in_block_a(ids) < 1


def test_movies_added_after_training_are_recommendable_through_content(model):
    old = model.catalog
    new_id = 500
    cat = Catalog.build(
        [*old.items.ids.tolist(), new_id],
        [*old.titles, "Brand New Comedy"],
        [*old.years.tolist(), 1995],
        [*old.genres, ("Comedy",)],
        {
            new_id: [("actor", "a", 1.0)],
            **{i: synthetic.catalog().features[j] for j, i in enumerate(old.items.ids.tolist())},
        },
    )
    extended = model.with_catalog(cat, counts={new_id: 10})
    scores = extended.relevance(COMEDY_FAN)
    horror = extended.catalog.items.index_of(synthetic.BLOCK_B)
    assert scores[extended.catalog.items.index(new_id)] > np.median(scores[horror])
    picks = extended.recommend(COMEDY_FAN, n=25, diversity=0.0)
    assert new_id in {p.movie_id for p in picks}
    assert extended.similar(new_id, n=3)
    assert model.catalog is old  # the original model is unchanged


def test_a_catalogue_that_lost_a_movie_is_served_without_it(model):
    cat = model.catalog
    gone = synthetic.BLOCK_A[5]
    keep = [i for i, m in enumerate(cat.items.ids.tolist()) if m != gone]
    smaller = Catalog.build(
        cat.items.ids[keep].tolist(),
        [cat.titles[i] for i in keep],
        cat.years[keep].tolist(),
        [cat.genres[i] for i in keep],
    )
    served = model.with_catalog(smaller)
    ids = {p.movie_id for p in served.recommend(COMEDY_FAN, n=30)}
    assert gone not in ids and len(ids) == 30
    assert served.similar(synthetic.BLOCK_A[0], n=3)


def test_model_holder_swaps_one_reference(model):
    holder = ModelHolder()
    assert holder.current is None
    assert holder.swap(model) is None and holder.current is model


def test_one_liked_movie_explains_picks_even_though_new_users_lean_on_popularity():
    cat = synthetic.catalog()
    config = replace(SMALL, blend=BlendConfig())  # the served blend: popularity-heavy when new
    model = Recommender.train(synthetic.ratings(cat), cat, config)
    favourite = synthetic.BLOCK_A[0]
    picks = model.recommend({favourite: 5.0}, n=5)
    assert any(p.reason.kind == "liked" and p.reason.movie_id == favourite for p in picks)


def test_the_watched_model_counts_low_ratings_and_survives_save_and_load(model, tmp_path):
    disliked_only = {synthetic.BLOCK_B[0]: 1.0, synthetic.BLOCK_B[1]: 2.0}
    parts = model._hybrid.components(model._row(disliked_only))
    assert not parts["als"].any()  # nothing rated 4★ or more: the "liked" ALS has no evidence
    assert parts["watched"].std() > 0  # every rating says "watched", so this one does
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Recommender.load(path)
    assert "watched" in loaded.info["components"]
    watched = loaded._hybrid.part("watched", ALS)
    np.testing.assert_array_equal(
        watched.item_factors, model._hybrid.part("watched", ALS).item_factors
    )
    heavy = {m: 5.0 for m in synthetic.BLOCK_A[:15]} | {m: 1.0 for m in synthetic.BLOCK_B[:5]}
    for history in (disliked_only, COMEDY_FAN, heavy):
        np.testing.assert_allclose(loaded.relevance(history), model.relevance(history))


def test_the_watched_model_speaks_for_new_users_and_more_as_ratings_accumulate():
    weights = BlendConfig().weights(np.array([0, 3, 200]))["watched"]
    assert weights[0] == 0  # no ratings: nothing to fold in
    assert 0 < weights[1] < weights[2]  # from 3 ratings its fold-in is noisy (validation)


def test_a_new_users_picks_lean_to_what_people_liked_when_they_rate(tmp_path):
    """Block-A fans rated in 1996 and block-B fans in 2015: someone who starts rating in
    1996 is shown more block-A movies than someone starting in 2015, and the moment survives
    save and load. Without a moment the bot's user rates "now": the latest, 2015."""
    cat = synthetic.catalog()
    config = replace(SMALL, blend=BlendConfig())  # the served blend
    model = Recommender.train(synthetic.two_eras(cat), cat, config)
    history = {synthetic.BLOCK_A[-1]: 4.0, synthetic.BLOCK_B[-1]: 4.0}
    in_1996, in_2015 = synthetic.T1996 + 90 * 86_400, synthetic.T2015 + 90 * 86_400

    def block_a(when):
        return synthetic.in_block_a(p.movie_id for p in model.recommend(history, n=6, when=when))

    assert block_a(in_1996) > block_a(in_2015)
    assert block_a(None) == block_a(in_2015)
    model.save(tmp_path / "model.npz")
    loaded = Recommender.load(tmp_path / "model.npz")
    for when in (in_1996, None):
        np.testing.assert_allclose(loaded.relevance(history, when), model.relevance(history, when))


def test_unrated_movies_in_the_catalogue_do_not_change_how_much_each_component_weighs():
    """Most of a big catalogue can be movies nobody rated (a young bot, a fresh import): their
    flat scores must not shrink a component's spread and so inflate its weight in the blend."""
    cat = synthetic.catalog()
    start = int(cat.items.ids.max()) + 1
    unrated = [(start + i, f"Obscure {i}", 1950, ("Documentary",)) for i in range(400)]
    bigger = synthetic.grown(cat, *unrated)
    small = Recommender.train(synthetic.ratings(cat), cat, SMALL)
    big = Recommender.train(synthetic.ratings(bigger), bigger, SMALL)
    small_parts = small._hybrid.components(small._row(COMEDY_FAN))
    big_parts = big._hybrid.components(big._row(COMEDY_FAN))
    rated = big.catalog.items.index_of(cat.items.ids)
    for name in ("popularity", "quality"):
        np.testing.assert_allclose(
            np.atleast_2d(big_parts[name])[:, rated],
            np.atleast_2d(small_parts[name]),
            rtol=1e-5,
            atol=1e-5,
            err_msg=name,
        )


def test_similar_prefers_a_movie_of_the_same_kind_over_one_the_same_people_watched():
    """Taste alone puts the most watched films of an era side by side (Star Wars next to Toy
    Story); a film sharing the seed's genres should come first, the other still listed."""
    rng = np.random.default_rng(0)
    ids = list(range(1, 21))
    genres = [("Animation",), ("Animation",), ("Sci-Fi",)] + [("Drama",)] * 17
    cat = Catalog.build(ids, [f"Movie {i}" for i in ids], [1995] * 20, genres)
    users, movies, stars = [], [], []
    for user in range(1, 121):
        # the era's audience: movie 3 always, movie 2 every other time
        seen = [1, 3] + ([2] if user % 2 else []) if user <= 60 else []
        seen += rng.choice(range(4, 21), 4, replace=False).tolist()
        users += [user] * len(seen)
        movies += seen
        stars += [5.0] * len(seen)
    ratings = Ratings.from_arrays(
        np.array(users), np.array(movies), np.array(stars), items=cat.items
    )
    by_audience = replace(SMALL, blend=replace(SMALL.blend, similarity_als_share=1.0))
    taste_only = replace(by_audience, blend=replace(by_audience.blend, similarity_genre_floor=1.0))
    blind, model = (Recommender.train(ratings, cat, c) for c in (taste_only, by_audience))
    assert blind.similar(1, n=1)[0].movie_id == 3
    alike = [p.movie_id for p in model.similar(1, n=5)]
    assert alike[0] == 2 and 3 in alike
    # and "because you liked …" names the liked movie `similar` would: the one of its kind
    history = {2: 5.0, 3: 5.0} | {m: 3.0 for m in range(4, 16)}  # the dramas were so-so
    animation = Filters(genres=frozenset({"Animation"}))
    for served, named in ((blind, 3), (model, 2)):
        pick = served.recommend(history, n=1, filters=animation)[0]
        assert (pick.movie_id, pick.reason) == (1, Reason("liked", movie_id=named))


def test_a_saved_model_keeps_content_for_serving_and_no_removed_component(model, tmp_path):
    """Content has no blend weight but `similar`, the reasons and new movies need it; the trend
    left the blend with the ablation (docs/evaluation.md) and is not saved; EASE is."""
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as saved:
        keys = set(saved.files)
    assert any(k.startswith("content/") for k in keys)
    assert any(k.startswith("ease/") for k in keys)
    assert not any(k.startswith("trend/") for k in keys)
    loaded = Recommender.load(path)
    seed = synthetic.BLOCK_B[2]
    assert [p.movie_id for p in loaded.similar(seed, n=5)] == [
        p.movie_id for p in model.similar(seed, n=5)
    ]


def test_a_pick_predicted_to_be_disliked_is_flagged(model):
    """A comedy fan asking for horror gets the best horror there is, flagged as doubtful."""
    horror = Filters(genres=frozenset({"Horror"}))
    picks = model.recommend(COMEDY_FAN, n=5, filters=horror)
    assert picks and all(p.doubtful == (p.predicted < 3.0) for p in picks)
    assert any(p.doubtful for p in picks)
    assert not any(p.doubtful for p in model.recommend(COMEDY_FAN, n=5))


@pytest.mark.parametrize(
    "options",
    [{}, {"filters": Filters(genres=frozenset({"Comedy"}))}, {"diversity": 0.0}, {"exclude": {16}}],
)
def test_ranking_is_the_order_recommend_shows(model, options):
    """What an evaluation scores (`ranking`) is exactly what the bot shows (`recommend`)."""
    history = {1: 5.0, 2: 4.0, 16: 2.0, 20: 5.0}
    shown = [p.movie_id for p in model.recommend(history, n=8, **options)]
    assert shown and model.ranking(history, n=8, **options) == shown


def test_without_memory_for_ease_the_model_trains_saves_and_serves_without_it(tmp_path):
    """EASE needs an items × items matrix: over its memory limit it is left out of the blend,
    and the model is the same as ever otherwise (saved, loaded, recommending)."""
    cat = synthetic.catalog()
    tight = replace(
        SMALL,
        ease=replace(SMALL.ease, memory_limit=1000),
        ease_new=replace(SMALL.ease_new, memory_limit=1000),
    )
    model = Recommender.train(synthetic.ratings(cat), cat, tight)
    assert not {"ease", "ease_new"} & set(model.info["components"])
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Recommender.load(path)
    history = {m: 5.0 for m in synthetic.BLOCK_A[:5]}
    picks = [p.movie_id for p in loaded.recommend(history, n=5)]
    assert picks == [p.movie_id for p in model.recommend(history, n=5)]
    assert sum(m in synthetic.BLOCK_A for m in picks) >= 4


def test_only_a_movie_added_since_training_borrows_its_popularity_from_content():
    """A movie that was in the catalogue and nobody rated keeps the lowest popularity; one
    added since training gets what movies like it draw instead of that zero count."""
    base = synthetic.catalog()
    unrated, added = 600, 601

    def extended(extra: list[tuple[int, str]]) -> Catalog:
        return Catalog.build(
            [*base.items.ids.tolist(), *(m for m, _ in extra)],
            [*base.titles, *(t for _, t in extra)],
            [*base.years.tolist(), *(1995 for _ in extra)],
            [*base.genres, *(("Comedy",) for _ in extra)],
        )

    at_training = extended([(unrated, "Never Rated")])
    trained = Recommender.train(synthetic.ratings(at_training), at_training, SMALL)
    served = trained.with_catalog(extended([(unrated, "Never Rated"), (added, "Brand New")]))
    popularity = served._hybrid.components(served._row(COMEDY_FAN))["popularity"]
    items = served.catalog.items
    known = np.delete(popularity, [items.index(unrated), items.index(added)])
    assert popularity[items.index(unrated)] < known.min()
    assert popularity[items.index(added)] > known.min()


def test_the_stars_measured_for_many_users_at_once_are_the_stars_each_is_shown(model):
    """`/retrain`'s RMSE predicts all its users in one batch: the same stars as the bot shows."""
    from recommender.data import history_row

    other = {synthetic.BLOCK_B[0]: 5.0, synthetic.BLOCK_B[1]: 4.0, synthetic.BLOCK_A[3]: 1.0}
    histories = [COMEDY_FAN, other]
    rows = sp.vstack([history_row(h, model.catalog.items) for h in histories]).tocsr()
    batch = model.predict_rows(rows)
    ids = model.catalog.items.ids.tolist()
    for history, stars in zip(histories, batch, strict=True):
        shown = model.predict(history, ids)
        assert stars.tolist() == pytest.approx([shown[m] for m in ids], abs=1e-6)
    assert (
        batch[0][model.catalog.items.index(synthetic.BLOCK_A[10])]
        > batch[1][model.catalog.items.index(synthetic.BLOCK_A[10])]
    )
