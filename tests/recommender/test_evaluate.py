"""The evaluation protocol: splits that never leak, metrics against hand-computed values."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data import Catalog, Ratings
from recommender.evaluate import dataset_counts, evaluate_ranking, evaluate_rating, last_moments
from recommender.metrics import item_self_information, list_metrics, tie_order, top_k
from recommender.splits import (
    GIVEN_N_CARVES,
    EvaluationError,
    given_n_split,
    holdout_counts,
    holdout_split,
    parse_protocol,
    split,
    split_by_rank,
    validation_split,
    validation_splits,
)


def make_catalog(n_items: int, genres: list[tuple[str, ...]] | None = None) -> Catalog:
    genres = genres or [("Drama",)] * n_items
    return Catalog.build(
        list(range(100, 100 + n_items)), [f"m{i}" for i in range(n_items)], [2000] * n_items, genres
    )


def random_ratings(n_users: int = 60, n_items: int = 40, seed: int = 7) -> Ratings:
    """Users with 1 … 30 ratings each (some below every threshold), stars 1 … 5."""
    rng = np.random.default_rng(seed)
    users, items, stars, times = [], [], [], []
    for u in range(n_users):
        n = int(rng.integers(1, 31))
        picked = rng.choice(n_items, size=n, replace=False)
        users += [u + 1] * n
        items += list(100 + picked)
        stars += list(rng.integers(1, 6, size=n))
        times += list(1_000_000 + u * 1000 + picked)
    return Ratings.from_arrays(
        np.array(users),
        np.array(items),
        np.array(stars),
        np.array(times),
        items=make_catalog(n_items).items,
    )


def as_set(r: Ratings) -> set[tuple[int, int, float]]:
    coo = r.matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))


# --- splits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda r, s: holdout_split(r, seed=s),
        lambda r, s: given_n_split(r, 5, seed=s),
        lambda r, s: given_n_split(r, 3, min_ratings=10, seed=s),
    ],
)
def test_split_partitions_ratings_without_leaking(make) -> None:
    ratings = random_ratings()
    train, test = make(ratings, 0)
    assert train.matrix.shape == test.matrix.shape == ratings.matrix.shape
    assert as_set(train) & as_set(test) == set()
    assert as_set(train) | as_set(test) == as_set(ratings)
    # timestamps follow their ratings
    for part in (train, test):
        assert part.timestamps is not None
        assert np.array_equal(part.timestamps.indices, part.matrix.indices)
        assert np.array_equal(part.timestamps.indptr, part.matrix.indptr)
    orig_t = ratings.timestamps.tocsr()
    coo = test.timestamps.tocoo()
    assert np.array_equal(np.asarray(orig_t[coo.row, coo.col]).ravel(), coo.data)


def test_holdout_sends_a_fifth_of_each_eligible_user_to_test() -> None:
    ratings = random_ratings()
    _, test = holdout_split(ratings, test_share=0.2, min_ratings=5, seed=3)
    counts = np.diff(ratings.matrix.indptr)
    n_test = np.diff(test.matrix.indptr)
    small = counts < 5
    assert small.any() and (~small).any()
    assert (n_test[small] == 0).all()  # below the threshold: wholly in train
    assert np.array_equal(n_test[~small], np.floor(0.2 * counts[~small] + 0.5).astype(int))


@pytest.mark.parametrize("latest_first", [False, True], ids=["holdout", "temporal"])
def test_a_users_test_ratings_do_not_depend_on_who_else_is_tested(latest_first) -> None:
    """Validation tests a sample of users: theirs must be what the whole split gives them."""
    ratings = random_ratings()
    every = holdout_counts(ratings)
    some = every.copy()
    some[1::3] = 0
    _, whole = split_by_rank(ratings, every, seed=4, latest_first=latest_first)
    train, sample = split_by_rank(ratings, some, seed=4, latest_first=latest_first)
    kept = np.flatnonzero(some)
    assert (sample.matrix[kept] != whole.matrix[kept]).nnz == 0
    assert np.array_equal(np.diff(sample.matrix.indptr), some)
    untested = np.flatnonzero(some == 0)
    assert (train.matrix[untested] != ratings.matrix[untested]).nnz == 0


def test_given_n_keeps_exactly_n_for_users_with_enough_ratings() -> None:
    ratings = random_ratings()
    train, _ = given_n_split(ratings, 5, min_ratings=20, seed=0, cold_share=1.0)
    counts = np.diff(ratings.matrix.indptr)
    n_train = np.diff(train.matrix.indptr)
    cold = counts >= 20
    assert cold.any() and (~cold).any()
    assert (n_train[cold] == 5).all()
    assert np.array_equal(n_train[~cold], counts[~cold])


@pytest.mark.parametrize("protocol", ["holdout", "given-5"])
def test_same_seed_same_split_other_seed_other_split(protocol: str) -> None:
    ratings = random_ratings()
    n = parse_protocol(protocol)
    run = (
        (lambda s: holdout_split(ratings, seed=s))
        if n is None
        else (lambda s: given_n_split(ratings, n, seed=s))
    )
    assert as_set(run(4)[1]) == as_set(run(4)[1])
    assert as_set(run(4)[1]) != as_set(run(5)[1])


def test_validation_is_carved_from_train_only() -> None:
    ratings = random_ratings()
    train, test = holdout_split(ratings, seed=0)
    fit, valid = validation_split(train, "holdout", seed=0)
    assert as_set(fit) | as_set(valid) == as_set(train)
    assert as_set(valid) & as_set(test) == set()
    assert as_set(valid) != as_set(test) and valid.nnz > 0


def test_given_n_validation_cuts_every_user_with_twice_n_train_ratings() -> None:
    """Train parts hold fewer ratings a user than the data: users with 10 … 19 left are cut
    to N as well, so the carve is as cold as the test it stands in for."""
    train, _ = holdout_split(random_ratings(n_users=200), seed=0)
    fit, valid = validation_split(train, "given-5", seed=0, cold_share=1.0)
    before = np.diff(train.matrix.indptr)
    after = np.diff(fit.matrix.indptr)
    assert ((before >= 10) & (before < 20)).any()
    assert np.array_equal(after[before >= 10], np.full((before >= 10).sum(), 5))
    assert np.array_equal(after[before < 10], before[before < 10])
    assert as_set(fit) | as_set(valid) == as_set(train)


def test_given_n_by_default_cuts_a_fifth_of_the_users_among_established_ones() -> None:
    """New users joining a community: 20% of the eligible users keep N, the rest stay whole."""
    ratings = random_ratings(n_users=400)
    train, _ = given_n_split(ratings, 5, min_ratings=20, seed=3)
    counts = np.diff(ratings.matrix.indptr)
    n_train = np.diff(train.matrix.indptr)
    eligible = counts >= 20
    cut = eligible & (n_train == 5)
    assert cut.sum() == round(0.2 * eligible.sum())
    assert np.array_equal(n_train[~cut], counts[~cut])


def test_temporal_split_sends_each_users_latest_ratings_to_test() -> None:
    ratings = random_ratings()
    train, test = split(ratings, "temporal", seed=0)
    assert as_set(train) | as_set(test) == as_set(ratings)
    assert as_set(train) & as_set(test) == set()
    tr, te = train.timestamps.tocsr(), test.timestamps.tocsr()
    counts = np.diff(ratings.matrix.indptr)
    n_test = np.diff(te.indptr)
    for u in np.flatnonzero(counts >= 5):
        assert n_test[u] == max(1, math.floor(0.2 * counts[u] + 0.5))
        assert tr[u].data.max() <= te[u].data.min()  # the model sees only the past
    assert (n_test[counts < 5] == 0).all()


def test_temporal_split_needs_times() -> None:
    ratings = replace(random_ratings(), timestamps=None)
    with pytest.raises(EvaluationError, match="times"):
        split(ratings, "temporal")


def test_temporal_validation_holds_out_the_latest_train_ratings() -> None:
    train, _ = split(random_ratings(), "temporal", seed=0)
    fit, valid = validation_split(train, "temporal", seed=0)
    assert as_set(fit) | as_set(valid) == as_set(train)
    f, v = fit.timestamps.tocsr(), valid.timestamps.tocsr()
    for u in np.flatnonzero(np.diff(v.indptr) > 0):
        if f[u].nnz:
            assert f[u].data.max() <= v[u].data.min()


def test_given_n_validation_averages_several_carves_of_other_users() -> None:
    train, _ = split(random_ratings(n_users=300), "given-5", seed=0)
    carves = validation_splits(train, "given-5", seed=0)
    assert len(carves) == GIVEN_N_CARVES > 1
    cold = [set(np.flatnonzero(np.diff(v.matrix.indptr) > 0).tolist()) for _, v in carves]
    assert all(c for c in cold) and cold[0] != cold[1]
    for fit, valid in carves:
        assert as_set(fit) | as_set(valid) == as_set(train)
    assert len(validation_splits(train, "holdout", seed=0)) == 1


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("holdout", None), ("temporal", None), ("given-3", 3), ("given-10", 10)],
)
def test_parse_protocol(protocol: str, expected: int | None) -> None:
    assert parse_protocol(protocol) == expected


@pytest.mark.parametrize("protocol", ["given-0", "given-", "givenN", "random", "given-x"])
def test_parse_protocol_refuses_unknown_names(protocol: str) -> None:
    with pytest.raises(EvaluationError, match="holdout"):
        parse_protocol(protocol)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: holdout_split(r, test_share=0.0),
        lambda r: holdout_split(r, test_share=1.0),
        lambda r: given_n_split(r, 0),
        lambda r: given_n_split(r, 20, min_ratings=20),
    ],
)
def test_split_refuses_bad_parameters(call) -> None:
    with pytest.raises(EvaluationError):
        call(random_ratings())


# --- top-k ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "k", "exclude", "expected"),
    [
        ([[0.1, 0.9, 0.5, 0.7]], 2, None, [[1, 3]]),
        # ties go to the lower index, also across the k-th position
        ([[1.0, 2.0, 2.0, 2.0, 0.0]], 2, None, [[1, 2]]),
        ([[3.0, 3.0, 3.0, 3.0]], 3, None, [[0, 1, 2]]),
        ([[0.0, 5.0, 5.0, 1.0]], 4, None, [[1, 2, 3, 0]]),
        # excluded items are never picked, even if they score best
        ([[9.0, 1.0, 2.0, 3.0]], 2, [[1, 0, 0, 1]], [[2, 1]]),
        # fewer candidates than k: padded with -1; NaN and -inf never picked
        ([[1.0, np.nan, -np.inf, 2.0]], 3, [[0, 0, 0, 1]], [[0, -1, -1]]),
        # two users, independent lists
        ([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], 2, None, [[2, 1], [0, 1]]),
    ],
)
def test_top_k(scores, k, exclude, expected) -> None:
    ex = None if exclude is None else sp.csr_matrix(np.array(exclude, dtype=np.float32))
    assert top_k(np.array(scores), k, exclude=ex).tolist() == expected


def test_top_k_breaks_ties_by_the_seeded_order_not_the_catalogue() -> None:
    """A model that scores everything alike must not get the catalogue's first movies."""
    scores = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0]])
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 0, 0, 1, 0, 0]], dtype=np.float32))
    order = np.array([7, 5, 2, 6, 0, 1, 3, 4])
    assert top_k(scores, 4, exclude, order=order).tolist() == [[6, 7, 2, 0]]
    picks = {tuple(top_k(scores, 3, order=tie_order(8, s))[0]) for s in range(20)}
    assert len(picks) > 1
    assert tie_order(8, 4).tolist() == tie_order(8, 4).tolist()


def test_last_moments_are_each_users_latest_train_rating() -> None:
    ratings = random_ratings()
    users = np.arange(ratings.matrix.shape[0])
    moments = last_moments(ratings, users)
    times = ratings.timestamps.tocsr()
    for u in users[:10]:
        assert moments[u] == times[u].data.max()
    assert last_moments(replace(ratings, timestamps=None), users) is None


# --- metrics ----------------------------------------------------------------------------------

LOG = math.log2


@pytest.mark.parametrize(
    ("top", "relevant", "k", "expected"),
    [
        # hits at ranks 1 and 3 of 3, two relevant
        (
            [0, 1, 2],
            [0, 2],
            3,
            {
                "precision": 2 / 3,
                "recall": 1.0,
                "hitrate": 1.0,
                "ndcg": (1 + 1 / LOG(4)) / (1 + 1 / LOG(3)),
                "map": (1 / 1 + 2 / 3) / 2,
            },
        ),
        # fewer relevant than k: the ideal has only one hit
        (
            [3, 0, 1],
            [0],
            3,
            {
                "precision": 1 / 3,
                "recall": 1.0,
                "hitrate": 1.0,
                "ndcg": (1 / LOG(3)) / 1.0,
                "map": (1 / 2) / 1,
            },
        ),
        # more relevant than k: ideal = k hits, MAP normalised by k
        (
            [4, 1],
            [0, 1, 2, 3],
            2,
            {
                "precision": 1 / 2,
                "recall": 1 / 4,
                "hitrate": 1.0,
                "ndcg": (1 / LOG(3)) / (1 + 1 / LOG(3)),
                "map": (1 / 2) / 2,
            },
        ),
        # no hit at all
        (
            [1, 2],
            [0],
            2,
            {"precision": 0.0, "recall": 0.0, "hitrate": 0.0, "ndcg": 0.0, "map": 0.0},
        ),
        # a short list (-1 = empty slot): precision still divides by k
        (
            [0, -1, -1],
            [0, 3],
            3,
            {
                "precision": 1 / 3,
                "recall": 1 / 2,
                "hitrate": 1.0,
                "ndcg": 1 / (1 + 1 / LOG(3)),
                "map": 1 / 2,
            },
        ),
    ],
)
def test_accuracy_metrics_by_hand(top, relevant, k, expected) -> None:
    catalog = make_catalog(5)
    rel = np.zeros((1, 5))
    rel[0, relevant] = 1
    out = list_metrics(np.array([top]), sp.csr_matrix(rel), catalog, sp.csr_matrix((1, 5)), ks=(k,))
    for name, value in expected.items():
        assert out[f"{name}@{k}"] == pytest.approx(value), name
    p, r = expected["precision"], expected["recall"]
    assert out[f"f1@{k}"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)


def test_metrics_average_over_users_and_skip_users_without_relevant_items() -> None:
    catalog = make_catalog(4)
    top = np.array([[0, 1], [2, 3], [0, 1]])
    rel = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]))
    out = list_metrics(top, rel, catalog, sp.csr_matrix((1, 4)), ks=(2,))
    assert out["users"] == 2  # the third user has nothing relevant
    assert out["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["recall@2"] == pytest.approx(0.5)
    assert out["hitrate@2"] == pytest.approx(0.5)
    # F1 from the averaged P and R, not the mean of per-user F1s
    assert out["f1@2"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)
    # coverage counts only the scored users' lists: items 0..3 of 4
    assert out["coverage@2"] == pytest.approx(1.0)


def test_coverage_diversity_and_novelty_by_hand() -> None:
    genres = [("Action", "Crime"), ("Action",), ("Comedy",), ()]
    catalog = make_catalog(4, genres)
    train = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    top = np.array([[0, 1, 2], [0, 1, -1]])
    rel = sp.csr_matrix(np.ones((2, 4)))
    out = list_metrics(top, rel, catalog, train, ks=(3,))
    assert out["coverage@3"] == pytest.approx(3 / 4)
    # list 1: pairs (0,1) J=1/2, (0,2) J=0, (1,2) J=0 → dissimilarities 1/2, 1, 1
    # list 2: pair (0,1) → 1/2
    assert out["diversity@3"] == pytest.approx(((0.5 + 1 + 1) / 3 + 0.5) / 2)
    # add-one shares: counts 2,1,1,0 → (c+1)/(4+4)
    info = -np.log2(np.array([3, 2, 2, 1]) / 8)
    assert np.allclose(item_self_information(train), info)
    expected = ((info[0] + info[1] + info[2]) / 3 + (info[0] + info[1]) / 2) / 2
    assert out["novelty@3"] == pytest.approx(expected)


def test_two_movies_without_genres_count_as_identical() -> None:
    catalog = make_catalog(3, [(), (), ("Drama",)])
    rel = sp.csr_matrix(np.ones((1, 3)))
    out = list_metrics(np.array([[0, 1]]), rel, catalog, sp.csr_matrix((1, 3)), ks=(2,))
    assert out["diversity@2"] == 0.0
    out = list_metrics(np.array([[0, 2]]), rel, catalog, sp.csr_matrix((1, 3)), ks=(2,))
    assert out["diversity@2"] == 1.0


# --- models through the harness ---------------------------------------------------------------


class FixedScores:
    """A scorer whose scores are the same vector for everyone (item i scores `values[i]`)."""

    name = "fixed"

    def __init__(self, values: list[float]) -> None:
        self.params: dict = {}
        self.values = np.array(values, dtype=np.float32)
        self.fitted_on: Ratings | None = None

    def fit(self, ratings: Ratings, catalog: Catalog) -> FixedScores:
        self.fitted_on = ratings
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.values, (rows.shape[0], 1))

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.values, (rows.shape[0], 1))


def small_pair() -> tuple[Ratings, Ratings, Catalog]:
    """Two users over five movies; user 1 likes movie 102 in test, user 2 nothing relevant."""
    catalog = make_catalog(5)
    train = Ratings.from_arrays(
        np.array([1, 1, 2]),
        np.array([100, 101, 100]),
        np.array([5, 4, 3]),
        items=catalog.items,
        scale=(1.0, 5.0),
    )
    test = Ratings.from_arrays(
        np.array([1, 1, 2]),
        np.array([102, 103, 104]),
        np.array([4, 2, 3]),
        items=catalog.items,
        scale=(1.0, 5.0),
    )
    return train, test, catalog


def test_evaluate_ranking_excludes_train_items_and_fits_on_train() -> None:
    train, test, catalog = small_pair()
    # movies 100 and 101 score best but user 1 rated them in train: 102 becomes rank 1
    scorer = FixedScores([9, 8, 7, 6, 5])
    out = evaluate_ranking(scorer, train, test, catalog, k=1, ks=(1,))
    assert scorer.fitted_on is train
    assert out["users"] == 1
    assert out["ndcg@1"] == 1.0 and out["precision@1"] == 1.0
    assert out["fit_seconds"] >= 0 and out["score_seconds"] >= 0


def test_evaluate_ranking_is_deterministic_and_reports_every_k() -> None:
    ratings = random_ratings(n_users=80)
    train, test = holdout_split(ratings, seed=1)
    catalog = make_catalog(40)
    values = list(np.random.default_rng(0).random(40))
    runs = [evaluate_ranking(FixedScores(values), train, test, catalog, k=7) for _ in range(2)]
    for key in ("ndcg@7", "precision@5", "map@10", "coverage@20", "novelty@7", "diversity@5"):
        assert runs[0][key] == runs[1][key]


def test_evaluate_ranking_refuses_mismatched_inputs() -> None:
    train, test, catalog = small_pair()
    with pytest.raises(EvaluationError, match="catalogue"):
        evaluate_ranking(FixedScores([1] * 5), train, test, make_catalog(6))
    nobody = Ratings.from_arrays(
        np.array([1, 2]), np.array([102, 103]), np.array([2, 3]), items=catalog.items
    )
    with pytest.raises(EvaluationError, match="nothing to score"):
        evaluate_ranking(FixedScores([1] * 5), train, nobody, catalog)


def test_evaluate_rating_by_hand_with_clipping() -> None:
    train, test, catalog = small_pair()
    # predictions 102 → 4.5 (truth 4), 103 → 7 clipped to 5 (truth 2), 104 → 1 (truth 3)
    out = evaluate_rating(FixedScores([0, 0, 4.5, 7.0, 1.0]), train, test, catalog)
    errors = np.array([0.5, 3.0, -2.0])
    assert out["mse"] == pytest.approx((errors**2).mean())
    assert out["rmse"] == pytest.approx(math.sqrt((errors**2).mean()))
    assert out["mae"] == pytest.approx(np.abs(errors).mean())
    assert out["ratings"] == 3


def test_dataset_counts() -> None:
    train, test, catalog = small_pair()
    whole = Ratings.from_arrays(
        np.array([1, 1, 2, 1, 1, 2]),
        np.array([100, 101, 100, 102, 103, 104]),
        np.array([5, 4, 3, 4, 2, 3]),
        items=catalog.items,
    )
    counts = dataset_counts(whole, train, test)
    assert counts == {
        "users": 2,
        "items": 5,
        "rated_items": 5,
        "ratings": 6,
        "train_ratings": 3,
        "test_ratings": 3,
        "scored_users": 1,
    }


# --- the side-by-side report ------------------------------------------------------------------


def report_specs(ease_limit: int = 4 * 1024**3) -> list:
    from recommender.component import unfitted
    from recommender.ease import EASE, EASEConfig
    from recommender.report import ModelSpec

    values = list(np.random.default_rng(0).random(40))
    return [
        ModelSpec("fixed", lambda p: FixedScores(values), rating=True),
        ModelSpec(
            "ease",
            lambda p: unfitted(EASE, EASEConfig(p["lam"], memory_limit=ease_limit)),
            params={"lam": 10.0},
            grid={"lam": [1.0, 10.0, 100.0]},
        ),
    ]


def test_report_has_the_stable_json_schema(tmp_path) -> None:
    import json

    from recommender.report import compare, write_json

    report = compare(random_ratings(n_users=80), make_catalog(40), report_specs(), k=10, seed=0)
    write_json(report, tmp_path / "r.json")
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert {"protocol", "k", "seed", "dataset", "models"} <= set(loaded)
    assert (loaded["protocol"], loaded["k"], loaded["seed"]) == ("holdout", 10, 0)
    assert set(loaded["dataset"]) >= {"users", "items", "ratings", "train_ratings", "test_ratings"}
    ranking = {
        f"{m}@10"
        for m in (
            "ndcg",
            "precision",
            "recall",
            "f1",
            "map",
            "hitrate",
            "coverage",
            "diversity",
            "novelty",
        )
    }
    for name in ("fixed", "ease"):
        assert ranking | {"fit_seconds", "params"} <= set(loaded["models"][name])
    assert {"rmse", "mae", "mse"} <= set(loaded["models"]["fixed"])
    assert "rmse" not in loaded["models"]["ease"]  # EASE does not predict stars
    # λ was chosen on validation from the grid (or beyond its edge), and every λ tried is in
    # the report, the grid's first
    tuning = loaded["models"]["ease"]["tuning"]
    assert [row["params"]["lam"] for row in tuning[:3]] == [1.0, 10.0, 100.0]
    assert loaded["models"]["ease"]["params"]["lambda"] in [row["params"]["lam"] for row in tuning]


def test_report_same_seed_same_figures_and_other_protocols() -> None:
    from recommender.report import compare

    ratings, catalog = random_ratings(n_users=80), make_catalog(40)
    a = compare(ratings, catalog, report_specs(), protocol="given-5", seed=2, cold_share=1.0)
    b = compare(ratings, catalog, report_specs(), protocol="given-5", seed=2, cold_share=1.0)
    for name in ("fixed", "ease"):
        for key in ("ndcg@10", "precision@10", "coverage@10", "novelty@10"):
            assert a["models"][name][key] == b["models"][name][key]
    assert a["dataset"] == b["dataset"]
    assert a["dataset"]["train_ratings"] < ratings.nnz * 0.8  # given-5 keeps little


def test_report_skips_ease_with_a_note_when_the_catalogue_is_too_large(tmp_path) -> None:
    from recommender.report import compare, markdown, plot

    report = compare(random_ratings(), make_catalog(40), report_specs(ease_limit=1000))
    assert "skipped" in report["models"]["ease"]
    assert any("ease skipped" in n and "GB" in n for n in report["notes"])
    text = markdown(report, command="moviebot evaluate")
    assert "| ease | skipped:" in text and "| fixed | " in text
    plot(report, tmp_path / "r.png")  # the skipped model is simply not drawn
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_table_shows_each_model_figures() -> None:
    from recommender.report import compare, markdown

    report = compare(random_ratings(n_users=80), make_catalog(40), report_specs(), k=5)
    text = markdown(report)
    row = next(line for line in text.splitlines() if line.startswith("| fixed |"))
    assert f"{report['models']['fixed']['ndcg@5']:.3f}" in row
    assert f"{report['models']['fixed']['rmse']:.3f}" in row
    assert "NDCG@5" in text


def test_given_n_validation_falls_back_to_holdout_when_every_user_was_cut() -> None:
    ratings = random_ratings()
    train, test = given_n_split(ratings, 5, min_ratings=6, seed=0)  # everyone cut to ≤ 5
    fit, valid = validation_split(train, "given-5", seed=0)
    assert valid.nnz > 0 and as_set(fit) | as_set(valid) == as_set(train)
    assert as_set(valid) & as_set(test) == set()


class OwnLists(FixedScores):
    """A model that makes its own lists (as a re-ranking recommender does)."""

    def __init__(self, lists: list[list[int]]) -> None:
        super().__init__([0.0] * 5)
        self.lists = lists

    def rank(self, rows: sp.csr_matrix, k: int) -> np.ndarray:
        return np.array([lst[:k] for lst in self.lists[: rows.shape[0]]])


def test_models_with_their_own_lists_are_scored_on_them() -> None:
    train, test, catalog = small_pair()
    out = evaluate_ranking(OwnLists([[3, 2]]), train, test, catalog, k=2, ks=(2,))
    assert out["precision@2"] == 0.5
    assert out["ndcg@2"] == pytest.approx((1 / LOG(3)) / 1.0)


@pytest.mark.parametrize(("lists", "match"), [([[0, 2]], "rated in train"), ([[2]], "expected")])
def test_own_lists_that_leak_or_have_the_wrong_shape_are_refused(lists, match) -> None:
    train, test, catalog = small_pair()
    with pytest.raises(EvaluationError, match=match):
        evaluate_ranking(OwnLists(lists), train, test, catalog, k=2, ks=(2,))


class ByTime(FixedScores):
    """Ranks movie 102 first for users who rated before t = 50, else movie 104."""

    uses_time = True

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        self.when = when
        early = np.asarray(when) < 50
        return np.where(early[:, None], [0, 0, 9, 0, 1], [0, 0, 1, 0, 9]).astype(float)


class ByTimeLists(ByTime):
    """The same, through its own lists (the path the served hybrid takes)."""

    def rank(self, rows: sp.csr_matrix, k: int, when: np.ndarray | None = None) -> np.ndarray:
        return np.argsort(-self.score(rows, when), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("model", [ByTime, ByTimeLists])
@pytest.mark.parametrize(("times", "hit"), [((10, 20, 40), 1.0), ((10, 20, 90), 0.0)])
def test_time_aware_models_score_each_user_at_their_last_train_rating(model, times, hit) -> None:
    train, test, catalog = small_pair()
    train = Ratings.from_arrays(
        np.array([1, 1, 1, 2]),
        np.array([100, 101, 103, 100]),
        np.array([5, 4, 3, 3]),
        np.array([*times, 5.0]),
        items=catalog.items,
        scale=(1.0, 5.0),
    )
    # the test ratings' own times must not move the moment
    test = Ratings.from_arrays(
        np.array([1, 2]),
        np.array([102, 104]),
        np.array([4, 2]),
        np.array([0.0, 0.0]),
        items=catalog.items,
        scale=(1.0, 5.0),
    )
    scorer = model([0] * 5)
    out = evaluate_ranking(scorer, train, test, catalog, k=1, ks=(1,))
    assert scorer.when.tolist() == [times[2]]  # user 1's latest; user 2 is not scored
    assert out["hitrate@1"] == hit
    # a scorer that does not ask for times is called as before
    plain = evaluate_ranking(FixedScores([0, 0, 9, 0, 1]), train, test, catalog, k=1, ks=(1,))
    assert plain["hitrate@1"] == 1.0


@pytest.mark.parametrize("batch", [1, 100])
def test_the_served_hybrid_is_asked_at_each_users_own_time(batch) -> None:
    """Two newcomers with the same two ratings, one from 1996 and one from 2015: in the
    1996 era people liked block A, in 2015 block B, and so do these two in test."""
    from recommender.blend import BlendConfig
    from recommender.suite import ServedHybrid
    from tests.recommender import synthetic
    from tests.recommender.test_scorers import SMALL

    cat = synthetic.catalog()
    old = synthetic.two_eras(cat)
    coo, times = old.matrix.tocoo(), old.timestamps.tocoo()
    a, b = synthetic.BLOCK_A[-1], synthetic.BLOCK_B[-1]
    train = Ratings.from_arrays(
        np.concatenate([old.users.ids[coo.row], [1001, 1001, 1002, 1002]]),
        np.concatenate([old.items.ids[coo.col], [a, b, a, b]]),
        np.concatenate([coo.data, [4.0] * 4]),
        np.concatenate(
            [times.data, [synthetic.T1996 + 86_400 * 90] * 2, [synthetic.T2015 + 86_400 * 90] * 2]
        ),
        items=cat.items,
    )
    liked_a = [m for m in synthetic.BLOCK_A if m != a]
    liked_b = [m for m in synthetic.BLOCK_B if m != b]
    rows = train.users.index_of(np.array([1001] * len(liked_a) + [1002] * len(liked_b)))
    cols = cat.items.index_of(np.array(liked_a + liked_b))
    test = replace(
        train,
        timestamps=None,
        matrix=sp.csr_matrix(
            (np.full(len(rows), 5.0, dtype=np.float32), (rows, cols)), shape=train.matrix.shape
        ),
    )
    served = ServedHybrid.unfitted(replace(SMALL, blend=BlendConfig()))
    out = evaluate_ranking(served, train, test, cat, k=5, ks=(5,), batch=batch)
    assert out["users"] == 2
    assert out["precision@5"] > 0.5


def test_max_users_scores_the_same_sample_for_the_same_seed() -> None:
    ratings = random_ratings(n_users=80)
    train, test = holdout_split(ratings, seed=1)
    catalog = make_catalog(40)
    values = list(np.random.default_rng(0).random(40))

    def run(seed: int) -> dict[str, float]:
        return evaluate_ranking(FixedScores(values), train, test, catalog, max_users=10, seed=seed)

    assert run(0)["users"] == 10
    assert run(0)["ndcg@10"] == run(0)["ndcg@10"]
    full = evaluate_ranking(FixedScores(values), train, test, catalog)
    assert full["users"] > 10


def test_given_n_cold_share_cuts_only_some_eligible_users() -> None:
    ratings = random_ratings(n_users=200)
    counts = np.diff(ratings.matrix.indptr)
    eligible = counts >= 20
    train, test = given_n_split(ratings, 5, seed=0, cold_share=0.5)
    n_train = np.diff(train.matrix.indptr)
    cut = eligible & (n_train == 5)
    assert cut.sum() == round(0.5 * eligible.sum())
    whole = eligible & ~cut
    assert np.array_equal(n_train[whole], counts[whole])
    assert as_set(train) | as_set(test) == as_set(ratings)
    again = given_n_split(ratings, 5, seed=0, cold_share=0.5)[1]
    assert as_set(again) == as_set(test)


def test_given_3_validation_still_has_users_when_everyone_has_three() -> None:
    ratings = random_ratings()
    train, _ = given_n_split(ratings, 3, min_ratings=4, seed=0)
    _, valid = validation_split(train, "given-3", seed=0)
    assert valid.nnz > 0


def test_given_n_validation_for_a_large_n_cuts_from_20_ratings_as_the_protocol_does() -> None:
    ratings = random_ratings(n_users=300, n_items=60)
    before = np.diff(ratings.matrix.indptr)
    fit, _ = validation_split(ratings, "given-15", seed=0, cold_share=1.0)
    after = np.diff(fit.matrix.indptr)
    assert ((before >= 20) & (before < 30)).any()
    assert np.array_equal(after[before >= 20], np.full((before >= 20).sum(), 15))
    assert np.array_equal(after[before < 20], before[before < 20])


def test_tuning_may_delay_a_personal_component_for_new_users_but_never_silence_a_prior() -> None:
    from recommender.blend import BlendConfig
    from recommender.tuning import blend_fields, blend_steps

    blend = BlendConfig()
    delayed = {f for f in blend_fields(blend, "_cold") if min(blend_steps(f)) < 0}
    assert delayed == {"als_cold", "watched_cold", "ease_cold", "ease_new_cold"}
    assert all(min(blend_steps(f)) >= 0 for f in blend_fields(blend, "_warm"))
    assert min(blend_steps("pivot")) > 0


@pytest.mark.parametrize("suffix", ["_warm", "_cold"])
def test_tuning_covers_every_component_the_hybrid_blends(suffix: str) -> None:
    from recommender.blend import BlendConfig
    from recommender.scoring import COMPONENTS
    from recommender.tuning import blend_fields

    assert set(blend_fields(BlendConfig(), suffix)) == {f"{c}{suffix}" for c in COMPONENTS}


def test_user_moments_are_median_rating_times() -> None:
    """A user's moment, at which the harness asks the time-aware models (the era), is the
    median time of their train ratings; without rating times there is none."""
    from recommender.data import user_moments
    from recommender.vocab import Vocab

    data = Ratings.from_arrays(
        np.array([1, 1, 1, 2]),
        np.array([1, 2, 3, 1]),
        np.array([4.0, 4, 4, 4]),
        np.array([10.0, 40, 20, 7]),
        items=Vocab(np.array([1, 2, 3])),
    )
    assert np.array_equal(user_moments(data, np.array([1, 0])), [7.0, 20.0])
    assert user_moments(data.__class__(data.users, data.items, data.matrix), np.array([0])) is None


@pytest.mark.parametrize("batch", [1, 1000])
def test_blend_tuning_scores_each_validation_user_at_their_own_moment(batch: int) -> None:
    """The era depends on when a user rated: the table holds each validation user's scores
    at the time of their last rating, as the harness asks the served model, batch by
    batch, and not the scores at the latest training rating of anyone."""
    from recommender.scoring import Hybrid
    from recommender.splits import scored_users, validation_split
    from recommender.tuning import BlendTable
    from tests.recommender import synthetic
    from tests.recommender.test_scorers import SMALL

    cat = synthetic.catalog()
    train = synthetic.two_eras(cat)
    table = BlendTable.build(SMALL, train, cat, "holdout", seed=0, batch=batch)
    fit_part, valid = validation_split(train, "holdout", seed=0)
    hybrid = Hybrid.fit(fit_part, cat, SMALL)
    users = scored_users(valid)
    rows = fit_part.matrix[users]
    at_their_moment = hybrid.components(rows, last_moments(fit_part, users))["era"]
    at_the_latest = hybrid.components(rows)["era"]
    np.testing.assert_allclose(table.parts["era"], at_their_moment, rtol=1e-6, atol=1e-6)
    assert not np.allclose(table.parts["era"], at_the_latest)


def test_paired_interval_of_per_user_differences() -> None:
    from recommender.metrics import paired_interval

    a = np.array([0.5, 0.7, 0.2, 0.9])
    b = np.array([0.4, 0.5, 0.2, 0.6])
    p = paired_interval(a, b)
    diff = a - b  # 0.1, 0.2, 0.0, 0.3
    half = 1.96 * diff.std(ddof=1) / 2
    assert p["mean"] == pytest.approx(0.15)
    assert (p["low"], p["high"]) == pytest.approx((0.15 - half, 0.15 + half))
    tie = paired_interval(np.array([0.1, 0.3, 0.2]), np.array([0.3, 0.1, 0.2]))
    assert tie["low"] < 0 < tie["high"]
    with pytest.raises(ValueError):
        paired_interval(a, b[:3])


def test_report_pairs_the_hybrid_with_every_model_user_by_user() -> None:
    from recommender.report import ModelSpec, compare, markdown

    ratings, catalog = random_ratings(n_users=80), make_catalog(40)
    specs = [
        ModelSpec("hybrid", lambda p: FixedScores(list(range(40)))),
        ModelSpec("other", lambda p: FixedScores(list(range(40))[::-1])),
        ModelSpec("same", lambda p: FixedScores(list(range(40)))),
    ]
    report = compare(ratings, catalog, specs)
    paired = report["paired"]
    assert set(paired) == {"other", "same"}
    assert paired["same"]["mean"] == paired["same"]["low"] == paired["same"]["high"] == 0.0
    gap = report["models"]["hybrid"]["ndcg@10"] - report["models"]["other"]["ndcg@10"]
    assert paired["other"]["mean"] == pytest.approx(gap)
    assert paired["other"]["low"] < gap < paired["other"]["high"]
    assert all("per_user_ndcg" not in e for e in report["models"].values())
    text = markdown(report)
    assert "| other |" in text and "95% interval" in text
    json.dumps(report)  # still plain JSON


def test_a_run_without_the_hybrid_pairs_content_with_every_model() -> None:
    from recommender.report import ModelSpec, compare, markdown

    ratings, catalog = random_ratings(n_users=80), make_catalog(40)
    specs = [
        ModelSpec("content", lambda p: FixedScores(list(range(40)))),
        ModelSpec("random", lambda p: FixedScores(list(range(40))[::-1])),
    ]
    report = compare(ratings, catalog, specs)
    assert report["reference"] == "content"
    assert set(report["paired"]) == {"random"}
    assert "content minus each model" in markdown(report)


def test_new_movies_leave_training_entirely_and_are_all_that_is_ranked() -> None:
    from recommender.splits import candidates, new_movies_split

    ratings = random_ratings(n_users=120)
    train, test = new_movies_split(ratings, seed=1)
    assert as_set(train) | as_set(test) == as_set(ratings)
    counts = np.bincount(ratings.matrix.indices, minlength=40)
    new = candidates("new-movies", train, test)
    assert new.sum() == round(0.1 * (counts >= 5).sum())
    assert (counts[new] >= 5).all()
    assert np.bincount(train.matrix.indices, minlength=40)[new].sum() == 0  # never in train
    assert set(sp.csr_matrix(test.matrix).indices.tolist()) == set(np.flatnonzero(new).tolist())
    assert candidates("holdout", train, test) is None
    # a model that would put every old movie first still only ranks the new ones
    out = evaluate_ranking(
        FixedScores(np.where(new, 0.0, 9.0).tolist()),
        train,
        test,
        make_catalog(40),
        k=3,
        ks=(3,),
        candidates=new,
    )
    assert out["hitrate@3"] > 0


def test_genre_popularity_and_random_know_nothing_of_a_movies_own_ratings() -> None:
    from recommender.baselines import GenrePopularity, GenreProfile, Random

    genres = [("Drama",)] * 20 + [("Horror",)] * 20
    catalog = make_catalog(40, genres)
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, 31), 6)
    items = 100 + np.concatenate([rng.choice(20, 6, replace=False) for _ in range(30)])
    ratings = Ratings.from_arrays(users, items, np.full(len(users), 5.0), items=catalog.items)
    model = GenrePopularity.unfitted().fit(ratings, catalog)
    scores = model.score(ratings.matrix[:2])
    assert (scores[:, :20] > scores[:, 20:].max()).all()  # dramas draw the ratings
    assert np.ptp(scores[0, :20]) == 0  # a drama's own count does not matter
    rnd = Random.unfitted().fit(ratings, catalog)
    assert np.array_equal(rnd.score(ratings.matrix[:3]), rnd.score(ratings.matrix[:3]))
    profile = GenreProfile.unfitted().fit(ratings, catalog).score(ratings.matrix[:1])
    assert profile[0, :20].min() > profile[0, 20:].max()


# --- tuning beyond the grid's edges -----------------------------------------------------------


def test_beyond_steps_outward_from_an_edge_by_its_own_ratio() -> None:
    from recommender.report import beyond

    lambdas = (300.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 50_000.0)
    assert beyond(lambdas, 50_000.0) == 125_000.0
    assert beyond(lambdas, 300.0) == 90.0
    assert beyond(lambdas, 5000.0) is None  # inside what was tried
    assert beyond((20, 50, 100, 200), 200) == 400 and isinstance(beyond((20, 50), 20), int)
    assert beyond((20, 50, 100, 200), 20) == 8
    assert beyond((1, 2), 1) is None  # 0.5 rounds back to an int of 0 or 1: no step
    assert beyond((True, False), True) is None and beyond((64,), 64) is None


def peaked_spec(peak: float) -> tuple:
    """A spec over "lam" whose validation NDCG peaks at `peak` (log scale), and the harness
    call it replaces."""
    from recommender.report import ModelSpec

    spec = ModelSpec("peaked", lambda p: FixedScores([1.0] * 40), grid={"lam": (1.0, 10.0, 100.0)})

    def validate(spec, params, fit_part, valid, catalog, k, metric, protocol="holdout"):
        return -((math.log10(params["lam"]) - math.log10(peak)) ** 2), 0.0

    return spec, validate


@pytest.mark.parametrize(
    ("peak", "chosen", "tried"),
    [
        (10.0, 10.0, [1.0, 10.0, 100.0]),  # inside the grid: nothing more is tried
        (1000.0, 1000.0, [1.0, 10.0, 100.0, 1000.0, 10_000.0]),  # past the top, and back
        (0.01, 0.01, [1.0, 10.0, 100.0, 0.1, 0.01, 0.001]),  # below the bottom
        (1e9, 1e5, [1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0]),  # at most three steps
    ],
)
def test_tuning_goes_past_the_edge_of_its_grid_while_validation_improves(
    monkeypatch, peak, chosen, tried
) -> None:
    from recommender import report

    spec, validate = peaked_spec(peak)
    monkeypatch.setattr(report, "_validate", validate)
    best, rows = report.tune(spec, random_ratings(n_users=80), make_catalog(40))
    assert best["lam"] == pytest.approx(chosen)
    assert [row["params"]["lam"] for row in rows] == pytest.approx(tried)
    assert [bool(row.get("beyond_grid")) for row in rows] == [i >= 3 for i in range(len(tried))]


def test_a_step_past_the_grid_must_gain_more_than_a_carve_s_noise(monkeypatch) -> None:
    from recommender import report

    spec, _ = peaked_spec(1.0)

    def creeping(spec, params, fit_part, valid, catalog, k, metric, protocol="holdout"):
        return 0.3 * (1 + 0.004 * math.log10(params["lam"])), 0.0  # +0.4% a step, for ever

    monkeypatch.setattr(report, "_validate", creeping)
    best, rows = report.tune(spec, random_ratings(n_users=80), make_catalog(40))
    assert best["lam"] == 100.0  # 1000 was better by 0.4%: not enough to leave the grid
    assert [row["params"]["lam"] for row in rows] == [1.0, 10.0, 100.0, 1000.0]
