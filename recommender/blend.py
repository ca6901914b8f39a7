"""The blend: each component's scores, weighted by how many ratings the user has, added up.

A user with n ratings gives component c the weight
    w_c(n) = max(0, cold_c + (warm_c − cold_c) · n / (n + pivot)),
so a negative cold weight holds a component back until the user has rated enough for it to
help, a negative warm weight silences one made for new users once they have rated enough, and
the weights slide from "new user" to "established user" as ratings accumulate. A user
with no ratings is scored by popularity alone. How the weights were chosen: docs/tuning.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields

import numpy as np

FALLBACK = "popularity"  # the only component that speaks for a user with no ratings


@dataclass(frozen=True)
class BlendConfig:
    """Per component `{name}_cold` (the weight at 0 ratings) and `{name}_warm` (the weight it
    tends to as ratings accumulate), the `pivot`, and the serving settings of the blend."""

    als_cold: float = 1.0  # ALS on liked movies, folded in from the first rating
    als_warm: float = 1.0
    watched_cold: float = 0.125  # ALS on every rated movie ("watched")
    watched_warm: float = 1.0
    ease_cold: float = 0.0  # EASE (on the stars): grows with the user's ratings
    ease_warm: float = 0.5
    # EASE with new users' λ: a negative warm weight silences it once a user has rated enough
    ease_new_cold: float = 1.0
    ease_new_warm: float = -1.0
    popularity_cold: float = 3.2
    popularity_warm: float = 0.4
    quality_cold: float = 0.8  # the quality prior (damped mean rating)
    quality_warm: float = 0.0
    # Pseudo-ratings at the global mean in the quality prior (`recommender.quality`).
    quality_prior: float = 20.0
    # The era and the genre lift are log-lifts, not standardised: these weights multiply lifts.
    era_cold: float = 1.5
    era_warm: float = 0.0
    genres_cold: float = 2.0
    genres_warm: float = 0.5
    pivot: float = 10.0  # ratings at which a user is half-way from cold to warm weights
    diversity: float = 0.1  # MMR strength of the re-rank (0: none; `recommender.rerank`)
    # Item-item likeness (similar(), reasons): this share from ALS factors, the rest content …
    similarity_als_share: float = 0.7
    # … weighed by shared genres: a movie sharing none with the other keeps this share.
    similarity_genre_floor: float = 0.5

    def components(self) -> tuple[str, ...]:
        """The components this blend has weights for, in field order."""
        return tuple(f.name[: -len("_cold")] for f in fields(self) if f.name.endswith("_cold"))

    def weights(
        self, counts: np.ndarray | Iterable[int], names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Per-component weight (float32) for users with these numbers of ratings."""
        n = np.asarray(counts)
        g = n.astype(np.float32)
        g = g / (g + self.pivot)
        empty = n == 0
        out = {}
        for name in self.components() if names is None else names:
            cold, warm = getattr(self, f"{name}_cold"), getattr(self, f"{name}_warm")
            weight = np.maximum(cold + (warm - cold) * g, 0.0).astype(np.float32)
            # Nothing known about the user: only the fallback speaks.
            weight[empty] = 1.0 if name == FALLBACK else 0.0
            out[name] = weight
        return out


def standardise(scores: np.ndarray, over: np.ndarray | None = None) -> np.ndarray:
    """Row-wise z-scores, so components on different scales can be added; flat rows → 0.

    `over`: a mask of the movies whose scores set each row's mean and spread (all by default).
    The blend passes the movies someone had rated at training time: the near-constant scores of
    a large unrated part of the catalogue would otherwise shrink the spread and inflate every
    rated movie's z-score, so the weights would mean something else on every data set.
    """
    scores = np.asarray(scores, dtype=np.float32)
    ref = scores if over is None or not over.any() else scores[:, over]
    mean = ref.mean(axis=1, keepdims=True)
    std = ref.std(axis=1, keepdims=True)
    return np.where(std > 1e-12, (scores - mean) / np.maximum(std, 1e-12), 0.0).astype(np.float32)


def contributions(
    parts: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray]
) -> Iterator[tuple[str, np.ndarray]]:
    """Each component's weighted scores (users × movies; a shared 1-D row is broadcast)."""
    for name, part in parts.items():
        yield name, weights[name][:, None] * np.atleast_2d(part)


def add_up(parts: Iterable[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The blended scores: the sum of the weighted components, in their order."""
    total = np.zeros(shape, dtype=np.float32)
    for part in parts:
        total += part
    return total
