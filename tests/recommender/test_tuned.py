"""tuned.json across versions: a file from before the Bayesian predictor keeps its tuned
values, except the predictor's, which were the MAP fit's."""

from __future__ import annotations

import json

from recommender.predict import PredictorConfig
from recommender.tuned import TUNED_FILE, TUNED_FORMAT, hybrid_config, read_tuned, write_tuned


def test_a_tuned_file_from_before_the_bayesian_predictor_keeps_all_but_its_predictor(tmp_path):
    old = {
        "format": 1,
        "config": {
            "als": {"factors": 16, "regularization": 5.0},
            "predictor": {"factors": 64, "regularization": 0.1},  # the MAP fit's
        },
    }
    (tmp_path / TUNED_FILE).write_text(json.dumps(old))
    config = hybrid_config(read_tuned(tmp_path))
    assert (config.als.factors, config.als.regularization) == (16, 5.0)
    assert config.predictor == PredictorConfig()  # 8 factors, Bayesian: not 64


def test_a_current_tuned_file_keeps_its_predictor(tmp_path):
    write_tuned({"format": TUNED_FORMAT, "config": {"predictor": {"factors": 16}}}, tmp_path)
    assert hybrid_config(read_tuned(tmp_path)).predictor.factors == 16
