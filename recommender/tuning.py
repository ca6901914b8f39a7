"""Tuning the served configuration on validation splits carved from train (never test).

`tune_hybrid` chooses ALS's parameters (a grid), the blend weights (coordinate ascent over
precomputed component scores, `BlendTable`) and the re-rank strength, and returns
what `recommender.tuned.write_tuned` keeps in tuned.json. What each search found on
MovieLens is in docs/tuning.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.als import ALS
from recommender.blend import BlendConfig, add_up, contributions
from recommender.component import unfitted
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings
from recommender.ease import EASE, check_memory
from recommender.evaluate import BATCH_USERS, last_moments, measure_ranking
from recommender.metrics import list_metrics, tie_order, top_k
from recommender.report import ModelSkipped, ModelSpec, ProgressFn, tune
from recommender.scoring import PERSONAL, Hybrid
from recommender.splits import (
    COLD_SHARE,
    RELEVANCE,
    EvaluationError,
    scored_users,
    validation_split,
    validation_splits,
)
from recommender.suite import EASE_GRID, ServedHybrid
from recommender.svd import BiasedSVD
from recommender.tuned import TUNED_FORMAT, hybrid_config

ALS_GRID = {
    "factors": (32, 64, 128),
    "regularization": (5.0, 20.0, 50.0),
    "alpha": (1.0, 2.0, 5.0),
}
# Multipliers coordinate ascent tries for each blend weight, one weight at a time: ≥ 0, so a
# weight keeps its sign, except a personal component's cold weight, which may turn negative
# (held back until the user has rated enough); the pivot stays positive. Why: docs/tuning.md.
BLEND_STEPS = (0.0, 0.5, 1.0, 2.0)
COLD_STEPS = (-1.0, *BLEND_STEPS)
POSITIVE_STEPS = (0.25, 0.5, 2.0, 4.0)
KEEP_POSITIVE = ("pivot",)
BLEND_ROUNDS = 2
DIVERSITY_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
# The re-rank may cost at most this share of validation NDCG ("NDCG held").
DIVERSITY_NDCG_TOLERANCE = 0.01
# Re-rank tuning ranks through the served path one user at a time: a sample is enough.
RERANK_USERS = 400
# The rating predictor (the stars shown in chat), chosen on validation RMSE. Bayesian, it has
# no regularisation to tune (its priors are drawn); only its size. The grid starts at the
# default: below it a carve (20% fewer ratings than the train part, which favours fewer
# factors) cannot tell 4 from 8 (docs/benchmarks/notes.md, "Rating prediction").
PREDICTOR_GRID = {"factors": (8, 16)}


@dataclass(frozen=True)
class BlendTable:
    """One validation split's component scores, computed once so that trying a blend is
    only a weighted sum and a top-k (no refit, no fold-in)."""

    protocol: str
    parts: dict[str, np.ndarray]
    counts: np.ndarray
    rows: sp.csr_matrix
    truth: sp.csr_matrix
    fit_matrix: sp.csr_matrix
    order: np.ndarray  # how ties are broken (`metrics.tie_order`)

    @classmethod
    def build(
        cls,
        config: HybridConfig,
        train: Ratings,
        catalog: Catalog,
        protocol: str,
        seed: int,
        batch: int = BATCH_USERS,
        cold_share: float = COLD_SHARE,
    ) -> BlendTable:
        """The component scores of every scored validation user, over all the carves of
        `validation_splits` (a given-N protocol has several), each user at their last rating."""
        parts: dict[str, list[np.ndarray]] = {}
        rows, truth = [], []
        fit_matrix = None
        for fit_part, valid in validation_splits(train, protocol, seed, cold_share):
            hybrid = Hybrid.fit(fit_part, catalog, config)
            users = scored_users(valid)
            carve_rows = fit_part.matrix[users]
            when = last_moments(fit_part, users)
            for start in range(0, len(users), batch):
                some = carve_rows[start : start + batch]
                moments = None if when is None else when[start : start + batch]
                for name, part in hybrid.components(some, moments).items():
                    parts.setdefault(name, []).append(
                        np.broadcast_to(np.atleast_2d(part), some.shape).astype(np.float32)
                    )
            rows.append(carve_rows)
            truth.append(sp.csr_matrix(valid.matrix[users] >= RELEVANCE))
            fit_matrix = fit_part.matrix if fit_matrix is None else fit_matrix
        stacked = sp.csr_matrix(sp.vstack(rows))
        return cls(
            protocol=protocol,
            parts={name: np.vstack(c) for name, c in parts.items()},
            counts=np.diff(stacked.indptr),
            rows=stacked,
            truth=sp.csr_matrix(sp.vstack(truth)),
            fit_matrix=fit_matrix,
            order=tie_order(len(catalog), seed),
        )

    def ndcg(self, blend: BlendConfig, catalog: Catalog, k: int) -> float:
        """Validation NDCG@k of the plain blend (no re-rank) with these weights, added up as
        `Hybrid.blend` adds them: Σ weight(component, n ratings) × component score."""
        weights = blend.weights(self.counts, self.parts)
        weighted = (part for _, part in contributions(self.parts, weights))
        top = top_k(add_up(weighted, self.rows.shape), k, exclude=self.rows, order=self.order)
        return list_metrics(top, self.truth, catalog, self.fit_matrix, ks=(k,))[f"ndcg@{k}"]


def blend_steps(name: str) -> tuple[float, ...]:
    """The multipliers coordinate ascent tries for this blend field."""
    if name in KEEP_POSITIVE:
        return POSITIVE_STEPS
    component, _, kind = name.rpartition("_")
    return COLD_STEPS if kind == "cold" and component in PERSONAL else BLEND_STEPS


def _tune_blend(
    config: Any,
    fields: Sequence[str],
    target: BlendTable,
    guard: BlendTable,
    catalog: Catalog,
    k: int,
    progress: ProgressFn | None,
) -> tuple[Any, list[dict]]:
    """Coordinate ascent over `fields` of the blend, maximising NDCG on `target` while NDCG
    on `guard` (the other kind of user) stays within the tolerance of where it started: the
    pivot and the weights are shared by both, so neither group may pay for the other."""
    blend = config.blend
    best = target.ndcg(blend, catalog, k)
    floor = guard.ndcg(blend, catalog, k) * (1 - DIVERSITY_NDCG_TOLERANCE)
    label = f"tune blend ({target.protocol})"
    history = [{"protocol": target.protocol, "blend": asdict(blend), f"ndcg@{k}": best}]
    steps = BLEND_ROUNDS * len(fields)
    for step in range(steps):
        name = fields[step % len(fields)]
        if progress is not None:
            progress(label, step, steps)
        current = getattr(blend, name)
        for factor in blend_steps(name):
            value = round(current * factor, 4) if current else factor * 0.5
            candidate = replace(blend, **{name: value})
            ndcg = target.ndcg(candidate, catalog, k)
            if ndcg > best + 1e-6 and guard.ndcg(candidate, catalog, k) >= floor:
                best, blend = ndcg, candidate
        history.append(
            {
                "protocol": target.protocol,
                "field": name,
                "value": getattr(blend, name),
                f"ndcg@{k}": best,
            }
        )
    if progress is not None:
        progress(label, steps, steps)
    return replace(config, blend=blend), history


def _tune_als(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    k: int,
    progress: ProgressFn | None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    protocol: str = "holdout",
) -> tuple[Any, list[dict]]:
    """ALS's factors, regularization and alpha (or `grid`) on a validation split of
    `protocol` (holdout, or temporal when that is what is evaluated). A `grid` someone gave
    is tried as given; `ALS_GRID` also past its edges."""
    spec = ModelSpec(
        "als",
        lambda p: unfitted(ALS, replace(config.als, **p)),
        params={},
        grid=grid or ALS_GRID,
        beyond_grid=not grid,
    )
    best, rows = tune(spec, train, catalog, protocol, seed, k, progress=progress)
    return replace(config, als=replace(config.als, **best)), rows


def _tune_ease(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    k: int,
    progress: ProgressFn | None,
    protocol: str = "holdout",
    name: str = "ease",
) -> tuple[Any, list[dict]]:
    """The λ and input (stars or 1/0) of the blend's EASE `name` ("ease", or "ease_new" under
    a given-N `protocol`): what validation chooses for EASE alone (`suite.EASE_GRID`); nothing
    to tune when the catalogue is too large for it."""
    settings = getattr(config, name)
    try:
        check_memory(len(catalog), settings.memory_limit)
    except MemoryError:
        return config, []
    spec = ModelSpec(
        name,
        lambda p: unfitted(EASE, replace(settings, lam=p["lambda"], values=p["values"])),
        grid=EASE_GRID,
    )
    best, rows = tune(spec, train, catalog, protocol, seed, k, progress=progress)
    return replace(
        config, **{name: replace(settings, lam=best["lambda"], values=best["values"])}
    ), rows


def _tune_predictor(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    progress: ProgressFn | None,
    protocol: str = "holdout",
) -> tuple[Any, list[dict]]:
    """The rating predictor's factors, by validation RMSE."""
    spec = ModelSpec(
        "predictor",
        lambda p: BiasedSVD.unfitted(replace(config.predictor, **p), bayesian=True),
        grid=PREDICTOR_GRID,
        rating=True,
        metric="rmse",
        beyond_grid=False,  # a carve's fewer ratings favour fewer factors: not below the grid
    )
    best, rows = tune(spec, train, catalog, protocol, seed, metric="rmse", progress=progress)
    return replace(config, predictor=replace(config.predictor, **best)), rows


def _tune_diversity(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    k: int,
    progress: ProgressFn | None,
    cold_n: int = 5,
    warm_protocol: str = "holdout",
) -> tuple[Any, list[dict]]:
    """The strongest re-rank whose validation NDCG stays within the tolerance of none, for
    established users (holdout validation) and new ones (given-`cold_n`) alike: one strength
    serves everyone, so it must not sacrifice either group."""
    rows: list[dict] = []
    allowed = set(DIVERSITY_GRID)
    for protocol in (warm_protocol, f"given-{cold_n}"):
        fit_part, valid = validation_split(train, protocol, seed=seed)
        served = ServedHybrid.fit(fit_part, catalog, config)
        label = f"tune re-rank ({protocol})"
        found: list[dict[str, Any]] = []
        for i, strength in enumerate(DIVERSITY_GRID):
            if progress is not None:
                progress(label, i, len(DIVERSITY_GRID))
            figures = measure_ranking(
                served.with_diversity(strength),
                fit_part,
                valid,
                catalog,
                k=k,
                ks=(k,),
                max_users=RERANK_USERS,
                seed=seed,
            )
            found.append(
                {
                    "protocol": protocol,
                    "diversity": strength,
                    **{f"{m}@{k}": figures[f"{m}@{k}"] for m in ("ndcg", "coverage", "diversity")},
                }
            )
        if progress is not None:
            progress(label, len(DIVERSITY_GRID), len(DIVERSITY_GRID))
        floor = found[0][f"ndcg@{k}"] * (1 - DIVERSITY_NDCG_TOLERANCE)
        allowed &= {r["diversity"] for r in found if r[f"ndcg@{k}"] >= floor}
        rows += found
    chosen = max(allowed | {0.0})
    return replace(config, blend=replace(config.blend, diversity=chosen)), rows


def blend_fields(blend: Any, suffix: str) -> tuple[str, ...]:
    """The blend's per-component weights ending in `suffix` ("_warm" or "_cold"), so a
    component added to the blend is tuned without a change here."""
    return tuple(f.name for f in fields(blend) if f.name.endswith(suffix))


def tune_hybrid(
    ratings: Ratings,
    catalog: Catalog,
    seed: int = 0,
    k: int = 10,
    cold_n: int = 5,
    start: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    als_grid: Mapping[str, Sequence[Any]] | None = None,
    protocol: str = "holdout",
    cold_share: float = COLD_SHARE,
) -> dict[str, Any]:
    """Tune what `train` uses, on validation splits carved from a train split (never test).

    The same split as `moviebot evaluate --protocol P --seed S` is made first and only its
    train part is looked at, so an evaluation with the tuned values under that protocol and
    seed never scores ratings the tuning saw. Order: ALS grid (holdout validation, or
    temporal under the temporal protocol), EASE's λ and input (the same validation), the
    rating predictor (validation RMSE), warm blend
    weights (the same validation), cold blend weights and the pivot (given-`cold_n` validation,
    averaged over several carves), each blend stage keeping the other validation's NDCG within
    1%, then the re-rank strength. `als_grid` replaces `ALS_GRID` (any `ALSConfig` fields;
    the rest keep their values). Returns the tuned.json content: the full configuration and
    every validation figure behind it.
    """
    from recommender.splits import split

    started = time.perf_counter()
    train, _ = split(ratings, protocol, seed=seed, cold_share=cold_share)
    config = hybrid_config(start)
    warm_protocol = "temporal" if protocol == "temporal" else "holdout"
    cold_protocol = f"given-{cold_n}"
    try:
        config, als_rows = _tune_als(
            config, train, catalog, seed, k, progress, als_grid, warm_protocol
        )
        config, ease_rows = _tune_ease(config, train, catalog, seed, k, progress, warm_protocol)
        config, ease_new_rows = _tune_ease(
            config, train, catalog, seed, k, progress, cold_protocol, "ease_new"
        )
        config, predictor_rows = _tune_predictor(
            config, train, catalog, seed, progress, warm_protocol
        )
        if progress is not None:
            progress("prepare blend tuning", 0, 0)
        warm_table = BlendTable.build(config, train, catalog, warm_protocol, seed)
        cold_table = BlendTable.build(
            config, train, catalog, cold_protocol, seed, cold_share=cold_share
        )
        config, warm = _tune_blend(
            config,
            blend_fields(config.blend, "_warm"),
            warm_table,
            cold_table,
            catalog,
            k,
            progress,
        )
        config, cold = _tune_blend(
            config,
            (*blend_fields(config.blend, "_cold"), "pivot"),
            cold_table,
            warm_table,
            catalog,
            k,
            progress,
        )
        config, rerank = _tune_diversity(
            config, train, catalog, seed, k, progress, cold_n, warm_protocol
        )
    except EvaluationError:
        raise
    except (ModelSkipped, ValueError) as exc:
        raise EvaluationError(f"cannot tune on these data: {exc}") from exc
    return {
        "format": TUNED_FORMAT,
        "protocol": protocol,
        "seed": seed,
        "k": k,
        "metric": f"ndcg@{k}",
        "created_at": int(time.time()),
        "seconds": round(time.perf_counter() - started, 1),
        "config": config.to_dict(),
        "validation": {
            "als": als_rows,
            "ease": ease_rows,
            "ease_new": ease_new_rows,
            "predictor": predictor_rows,
            "blend_warm": warm,
            "blend_cold": cold,
            "rerank": rerank,
        },
    }
