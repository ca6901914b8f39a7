"""`Recommender.train(..., fitted=…)`: components trained elsewhere (Spark's ALS parts) join the
model as they are; the rest is fitted as always."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recommender import model_io
from recommender.als import ALS
from recommender.component import RecommenderError
from recommender.config import HybridConfig
from recommender.hybrid import Recommender
from tests.recommender import synthetic

CONFIG = HybridConfig(als=replace(HybridConfig().als, factors=4, iterations=3))


def arrays(model: Recommender) -> dict[str, np.ndarray]:
    return model_io.to_arrays(model.catalog, model._hybrid, model._predictor)


def test_prefitted_als_parts_make_the_model_a_plain_training_makes():
    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    als = ALS.fit(data, cat, CONFIG.als)
    # a plain training starts "watched" from the main ALS's factors (recommender.scoring)
    fitted = {"als": als, "watched": ALS.fit(data, cat, CONFIG.watched, start=als)}
    given, plain = (
        Recommender.train(data, cat, CONFIG, fitted),
        Recommender.train(data, cat, CONFIG),
    )
    a, b = arrays(given), arrays(plain)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_prefitted_factors_are_what_the_model_scores_with():
    """Factors from elsewhere are used, not refitted: zero them and the taste part is silent."""
    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    blank = ALS(CONFIG.als, np.zeros((len(cat), 4), dtype=np.float32))
    model = Recommender.train(data, cat, CONFIG, {"als": blank})
    assert not arrays(model)["als/item_factors"].any()
    assert arrays(model)["watched/item_factors"].any()


@pytest.mark.parametrize(
    "wrong",
    [
        ALS(replace(CONFIG.als, factors=8), np.zeros((40, 8), dtype=np.float32)),
        object(),
    ],
)
def test_a_prefitted_part_with_other_settings_or_kind_is_refused(wrong):
    cat = synthetic.catalog()
    with pytest.raises(RecommenderError, match="the given als"):
        Recommender.train(synthetic.ratings(cat), cat, CONFIG, {"als": wrong})
