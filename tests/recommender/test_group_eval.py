"""The group protocol: metrics with known answers, group making, the report and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from recommender.group import STRATEGIES
from recommender.group_eval import (
    GroupEvaluationError,
    eligible_users,
    evaluate_groups,
    group_metrics,
    make_groups,
    member_ndcg,
    popularity_list,
)
from recommender.hybrid import Recommender
from recommender.splits import holdout_split
from tests.recommender import synthetic
from tests.recommender.test_scorers import SMALL
from tests.test_evaluate_cli import build_db, run

D2, D3 = 1 / math.log2(3), 1 / math.log2(4)


@pytest.mark.parametrize(
    ("chosen", "relevant", "expected"),
    [
        ([1, 2, 3], {1}, 1.0),
        ([9, 1, 3], {1}, D2),
        ([9, 8, 7, 6, 5], {1}, 0.0),
        ([1, 9, 2], {1, 2}, (1 + D3) / (1 + D2)),
        ([9, 9, 9, 9, 9, 1], {1}, 0.0),  # beyond k = 5
        ([1], set(), 0.0),
    ],
)
def test_member_ndcg_has_binary_gains_and_a_log_discount(chosen, relevant, expected):
    assert member_ndcg(chosen, relevant, k=5) == pytest.approx(expected)


def test_group_metrics_average_ndcg_count_satisfied_members_and_find_the_most_miserable():
    figures = group_metrics([1, 2, 3, 4, 5], [{1}, {2}, {42}], k=5)
    assert figures["ndcg"] == pytest.approx((1 + D2 + 0) / 3)
    assert figures["satisfaction"] == pytest.approx(2 / 3)
    assert figures["misery"] == 0.0


def test_popularity_baseline_skips_what_members_have_seen():
    counts = np.array([5, 50, 40, 30, 1])
    assert popularity_list(counts, np.array([1]), k=3) == [2, 3, 0]


@pytest.fixture(scope="module")
def split():
    cat = synthetic.catalog()
    return cat, *holdout_split(synthetic.ratings(cat, n_users=120), seed=0)


@pytest.mark.parametrize("kind", ["random", "similar"])
def test_groups_have_two_to_six_distinct_eligible_members(split, kind):
    _, train, test = split
    users = eligible_users(train, test)
    made = make_groups(train, users, 40, kind, seed=1)
    assert len(made) == 40
    assert all(2 <= len(g) <= 6 and len(set(g.tolist())) == len(g) for g in made)
    assert set(np.concatenate(made).tolist()) <= set(users.tolist())
    assert make_groups(train, users, 40, kind, seed=1)[7].tolist() == made[7].tolist()


def test_similar_groups_share_a_taste_random_ones_do_not(split):
    _, train, test = split
    users = eligible_users(train, test)
    taste = train.users.ids % 2  # odd data-set users love comedies, even ones horror

    def one_taste(made) -> float:
        return float(np.mean([len(set(taste[g].tolist())) == 1 for g in made]))

    assert one_taste(make_groups(train, users, 40, "similar")) >= 0.9
    assert one_taste(make_groups(train, users, 40, "random")) <= 0.5


def test_too_few_users_for_a_group_is_a_clear_error(split):
    _, train, test = split
    with pytest.raises(GroupEvaluationError, match="cannot form groups"):
        make_groups(train, eligible_users(train, test)[:3], 5, "random")


def test_strategies_beat_popularity_for_like_minded_groups(split):
    cat, train, test = split
    model = Recommender.train(train, cat, SMALL)
    report = evaluate_groups(model, train, test, n_groups=30)
    for kind in ("random", "similar"):
        assert set(report["results"][kind]) == {"popularity", *STRATEGIES}
        for figures in report["results"][kind].values():
            assert 0 <= figures["misery"] <= figures["ndcg"] <= 1
    similar = report["results"]["similar"]
    assert similar["average_without_misery"]["ndcg"] > similar["popularity"]["ndcg"]
    assert similar["average_without_misery"]["satisfaction"] > similar["popularity"]["satisfaction"]


@pytest.fixture
def db_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "movies.sqlite"
    build_db(path)
    return path


def test_cli_prints_strategies_and_baseline_side_by_side(db_file, tmp_path, capsys):
    out_json = tmp_path / "group.json"
    code = run(
        db_file, "evaluate", "--protocol", "group", "--groups", "15", "--json", str(out_json)
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "random NDCG@5" in printed and "similar misery" in printed
    for name in ("popularity", *STRATEGIES):
        assert f"| {name} |" in printed
    saved = json.loads(out_json.read_text())
    assert saved["groups_per_kind"] == 15 and saved["k"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--groups", "0"], "--groups must be at least 1"), (["--plot", "x.png"], "--plot")],
)
def test_cli_refuses_bad_group_options_in_one_line(db_file, capsys, args, message):
    assert run(db_file, "evaluate", "--protocol", "group", *args) != 0
    assert message in capsys.readouterr().err
