"""Reasons: a liked movie is named only when it is really alike, and not for a whole page."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.blend import BlendConfig
from recommender.data import Catalog, genre_matrix, history_row
from recommender.explain import MIN_LIKENESS, Explainer, Reason
from recommender.predict import agreeing

HUB, SECOND = 1, 2  # the user's two liked movies
# Taste vectors (unit length; with one genre for all and ALS's share at 1, likeness is their
# cosine): picks 3–6 are a little more like HUB than like SECOND; pick 7 is like neither.
TASTE = {
    HUB: (1.0, 0.0, 0.0),
    SECOND: (0.8, 0.6, 0.0),
    **{m: (0.95, 0.31, 0.0) for m in (3, 4, 5, 6)},
    7: (0.2, 0.0, 0.98),
    8: (0.0, 1.0, 0.0),
}


def explainer() -> tuple[Explainer, Catalog]:
    ids = sorted(TASTE)
    cat = Catalog.build(ids, [f"Movie {i}" for i in ids], [1995] * len(ids), [("Drama",)] * 8)
    names, genres = genre_matrix(cat)
    taste = np.array([TASTE[i] for i in ids], dtype=np.float32)
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    unit = genres.toarray().astype(np.float64)
    content = sp.csr_matrix(np.eye(len(ids), dtype=np.float32))
    blend = BlendConfig(similarity_als_share=1.0)
    explain = Explainer(cat, blend, names, genres, unit, taste, content, liked_from=3.0)
    return explain, cat


def personal_reasons(picks: list[int]) -> list[Reason]:
    """The reasons of picks the personal models chose (no general component speaks)."""
    explain, cat = explainer()
    row = history_row({HUB: 5.0, SECOND: 5.0}, cat.items)
    chosen = cat.items.index_of(picks)
    ones = np.ones(len(cat), dtype=np.float32)
    return explain.reasons(row, chosen, {"als": ones, "watched": ones})


def test_one_liked_movie_explains_at_most_two_picks_when_another_is_close():
    reasons = personal_reasons([3, 4, 5, 6])
    named = [r.movie_id for r in reasons]
    assert all(r.kind == "liked" for r in reasons)
    assert named == [HUB, HUB, SECOND, SECOND]


def test_a_pick_like_no_liked_movie_is_explained_by_taste_not_a_weak_liked():
    explain, cat = explainer()
    pick, liked = cat.items.index_of([7, HUB, SECOND])[:1], cat.items.index_of([HUB, SECOND])
    assert explain.likeness(pick, liked).max() < MIN_LIKENESS  # the test's premise
    assert personal_reasons([7]) == [Reason("taste")]


def test_a_movie_rated_under_the_middle_of_the_scale_is_never_the_one_liked():
    """Someone who gave their two movies half a star is not told a pick is "because you liked"
    either; a harsh rater's ★3 (their best, above their mean) still names it."""
    explain, cat = explainer()
    chosen = cat.items.index_of([3, 4])
    ones = np.ones(len(cat), dtype=np.float32)
    parts = {"als": ones, "watched": ones}
    panned = explain.reasons(history_row({HUB: 0.5, SECOND: 0.5}, cat.items), chosen, parts)
    assert [r.kind for r in panned] == ["popular", "popular"]  # no liked movie to name
    harsh = explain.reasons(history_row({HUB: 3.0, SECOND: 1.0}, cat.items), chosen, parts)
    assert harsh == [Reason("liked", movie_id=HUB)] * 2


def test_with_every_alike_liked_movie_named_twice_the_rest_say_taste():
    reasons = personal_reasons([3, 4, 5, 6, 3, 4])
    assert [r.kind for r in reasons] == ["liked"] * 4 + ["taste"] * 2


@pytest.mark.parametrize(
    ("stars", "shown"),
    [
        ([4.5, 3.8, 4.1, 4.7, 4.0], [True, False, True, False, True]),  # ★3.8 above ★4.1
        ([4.1, 4.1, 4.0, 4.6, 4.0], [True, True, True, False, True]),
        ([2.7, 3.5, 3.4, 3.3], [False, True, True, True]),
        ([4.0, 4.04, 3.96], [True, True, True]),  # shown as ★4, ★4, ★4
        ([None, 4.2, None, 3.0], [False, True, False, True]),
        ([], []),
    ],
)
def test_only_predicted_stars_the_order_does_not_contradict_are_shown(stars, shown):
    assert agreeing(stars) == shown
    kept = [round(s, 1) for s, ok in zip(stars, shown, strict=True) if ok]
    assert kept == sorted(kept, reverse=True)
