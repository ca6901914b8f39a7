"""The peer adapters (optional extra `peers`): the same harness, the same split."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.evaluate import evaluate_ranking, evaluate_rating
from recommender.report import compare
from recommender.splits import holdout_split
from tests.recommender import synthetic

pytest.importorskip("surprise")
pytest.importorskip("cornac")


def specs():
    from recommender.peers import peer_specs

    return {s.name: s for s in peer_specs()}


@pytest.mark.parametrize("name", ["cornac_ease", "cornac_bpr"])
def test_cornac_models_rank_each_block_its_own_movies(name: str) -> None:
    cat = synthetic.catalog()
    train, test = holdout_split(synthetic.ratings(cat), seed=0)
    spec = specs()[name]
    params = {"lamb": 10.0, "posB": True} if name == "cornac_ease" else {"k": 8, "lambda_reg": 0.01}
    out = evaluate_ranking(spec.make(params), train, test, cat, k=5, ks=(5,))
    assert out["ndcg@5"] > 0.3  # popularity gets 0.13 on these data


def test_surprise_knn_baseline_predicts_held_out_stars() -> None:
    cat = synthetic.catalog()
    train, test = holdout_split(synthetic.ratings(cat), seed=0)
    rating = evaluate_rating(specs()["surprise_knnbaseline"].make({}), train, test, cat)
    assert rating["rmse"] < 0.8 * float(np.std(test.matrix.data))


def test_surprise_svd_numpy_estimates_are_surprises_own() -> None:
    cat = synthetic.catalog()
    train, _ = holdout_split(synthetic.ratings(cat), seed=0)
    model = specs()["surprise_svd"].make({"reg_all": 0.05, "n_factors": 5}).fit(train, cat)
    ours = model.predict(train.matrix[:3])
    for u in range(3):
        theirs = [model.algo.predict(str(u), str(i), clip=False).est for i in range(len(cat))]
        np.testing.assert_allclose(ours[u], theirs, rtol=1e-5, atol=1e-5)


def test_rating_only_peers_report_rmse_and_no_ranking() -> None:
    cat = synthetic.catalog()
    report = compare(synthetic.ratings(cat), cat, [specs()["surprise_svd"]])
    entry = report["models"]["surprise_svd"]
    assert "rmse" in entry and "ndcg@10" not in entry
    assert entry["params"]["n_factors"] in (50, 100)
    assert len(entry["tuning"]) == 6 and all("rmse" in row for row in entry["tuning"])
