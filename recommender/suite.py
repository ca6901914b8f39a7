"""The models every report compares, the served hybrid as a scorer, and tuning its settings.

`standard_specs` lists popularity, content, ALS, EASE and the hybrid exactly as `train` builds
them (the hybrid is the real `Recommender`, ranked through its own `recommend`, re-rank and
all). `tune_hybrid` chooses ALS's parameters, the blend weights and the re-rank strength on
validation splits carved from train, and `write_tuned` / `read_tuned` keep the result in
`<model_dir>/tuned.json`, which `train` uses as its defaults.

The model modules are imported inside functions so the evaluation harness itself
(`recommender.evaluate`, `recommender.report`) stays usable on its own.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, user_moments
from recommender.ease import MEMORY_LIMIT_BYTES, CatalogTooLargeError, check_memory
from recommender.evaluate import BATCH_USERS, evaluate_ranking
from recommender.metrics import list_metrics, top_k
from recommender.report import ModelSkipped, ModelSpec, ProgressFn
from recommender.splits import RELEVANCE, EvaluationError, scored_users, validation_split

log = logging.getLogger(__name__)

TUNED_FILE = "tuned.json"
TUNED_FORMAT = 1
EASE_GRID = (100.0, 200.0, 500.0, 1000.0, 2000.0)
ALS_GRID = {
    "factors": (32, 64, 128),
    "regularization": (5.0, 20.0, 50.0),
    "alpha": (1.0, 2.0, 5.0),
}
# Multipliers tried for each blend weight, one weight at a time (coordinate ascent). The cold
# weight of a component that learns from the user's ratings may also turn negative (weights
# are clipped at 0), which holds it back until the user has rated enough. Tuning never turns
# a warm weight or a prior's weight negative (the other multipliers are ≥ 0, so a weight
# keeps its sign): a negative warm weight tuned on new users' carves once turned ALS off for
# every user. The trend's warm weight is negative by design (it fades out as ratings
# accumulate) and stays so. The pivot (ratings at which a user is half-way from cold to
# warm) stays positive.
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


class TunedFileError(ValueError):
    """tuned.json exists but cannot be used (corrupt, or written by an incompatible version)."""


class ServedHybrid:
    """The `Recommender` the bot serves, as a scorer/ranker/predictor for the harness."""

    name = "hybrid"
    uses_time = True  # the trend and era components score each user at their moment

    def __init__(self, config: Any = None, diversity: float | None = None) -> None:
        from recommender.hybrid import HybridConfig

        self.config = config or HybridConfig()
        self.params = self.config.to_dict()
        self.diversity = diversity  # None: the configured re-rank strength
        self.model: Any = None
        self.catalog: Catalog | None = None

    def with_diversity(self, strength: float) -> ServedHybrid:
        """The same fitted model, ranking with another re-rank strength (for tuning it)."""
        other = ServedHybrid(self.config, diversity=strength)
        other.model, other.catalog = self.model, self.catalog
        return other

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        from recommender.hybrid import Recommender

        self.model = Recommender.train(ratings, catalog, self.config)
        self.catalog = catalog
        return self

    def _histories(self, rows: sp.csr_matrix) -> list[dict[int, float]]:
        ids = self.catalog.items.ids
        rows = sp.csr_matrix(rows)
        return [
            dict(zip(ids[rows.indices[a:b]].tolist(), rows.data[a:b].tolist(), strict=True))
            for a, b in zip(rows.indptr[:-1], rows.indptr[1:], strict=True)
        ]

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """The blended relevance (before re-rank and exclusion), one row per user."""
        moments = _moments(when, rows.shape[0])
        return np.vstack(
            [
                self.model.relevance(h, m)
                for h, m in zip(self._histories(rows), moments, strict=True)
            ]
        )

    def rank(self, rows: sp.csr_matrix, k: int, when: np.ndarray | None = None) -> np.ndarray:
        """What the bot would show each user: `recommend(history, n=k)` as catalogue indices."""
        out = np.full((rows.shape[0], k), -1, dtype=np.int64)
        moments = _moments(when, rows.shape[0])
        for u, history in enumerate(self._histories(rows)):
            picks = self.model.recommend(history, n=k, diversity=self.diversity, when=moments[u])
            idx = self.catalog.items.index_of([p.movie_id for p in picks])
            out[u, : len(idx)] = idx
        return out

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        """Predicted stars for every catalogue movie, one row per user."""
        ids = self.catalog.items.ids.tolist()
        out = np.zeros(rows.shape, dtype=np.float32)
        for u, history in enumerate(self._histories(rows)):
            predicted = self.model.predict(history, ids)
            out[u] = [predicted.get(m, np.nan) for m in ids]
        return out


def _moments(when: np.ndarray | None, n: int) -> list[float | None]:
    """Per-user moments for `Recommender` calls: None where unknown (NaN or no `when`)."""
    if when is None:
        return [None] * n
    return [float(m) if np.isfinite(m) else None for m in np.asarray(when, dtype=np.float64)]


def hybrid_config(tuned: Mapping[str, Any] | None = None) -> Any:
    """The hybrid's configuration: the committed defaults overlaid with tuned values."""
    from recommender.hybrid import HybridConfig

    if not tuned:
        return HybridConfig()
    return HybridConfig.from_dict(tuned.get("config", {}))


def standard_specs(
    tuned: Mapping[str, Any] | None = None,
    n_items: int = 0,
    ease_memory_limit: int = MEMORY_LIMIT_BYTES,
    models: Sequence[str] | None = None,
) -> list[ModelSpec]:
    """popularity, content, als, ease and hybrid, configured as `train` would configure them.

    ALS and the hybrid use the tuned values when given (else the committed defaults); EASE
    chooses λ on validation from `EASE_GRID` and is skipped when `n_items` is too many.
    """
    from recommender.als import ALS
    from recommender.content import Content
    from recommender.ease import EASE
    from recommender.popularity import Popularity

    config = hybrid_config(tuned)

    def ease(params: dict) -> EASE:
        try:
            check_memory(n_items, ease_memory_limit)
        except CatalogTooLargeError as exc:
            raise ModelSkipped(str(exc)) from exc
        return EASE(params["lambda"], memory_limit=ease_memory_limit)

    specs = [
        ModelSpec("popularity", lambda p: Popularity(config.popularity)),
        ModelSpec("content", lambda p: Content(config.content)),
        ModelSpec("als", lambda p: ALS(config.als)),
        ModelSpec("ease", ease, params={"lambda": 500.0}, grid={"lambda": EASE_GRID}),
        ModelSpec("hybrid", lambda p: ServedHybrid(config), rating=True),
    ]
    if models is None:
        return specs
    unknown = set(models) - {s.name for s in specs}
    if unknown:
        raise EvaluationError(
            f"unknown model(s) {', '.join(sorted(unknown))}: choose from "
            + ", ".join(s.name for s in specs)
        )
    return [s for s in specs if s.name in models]


# ---------------------------------------------------------------------------------------------
# Tuning the served configuration


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

    @classmethod
    def build(
        cls,
        config: Any,
        train: Ratings,
        catalog: Catalog,
        protocol: str,
        seed: int,
        batch: int = BATCH_USERS,
    ) -> BlendTable:
        from recommender.hybrid import Hybrid

        fit_part, valid = validation_split(train, protocol, seed=seed)
        hybrid = Hybrid(config).fit(fit_part, catalog)
        users = scored_users(valid)
        rows = fit_part.matrix[users]
        when = user_moments(fit_part, users)
        chunks: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(users), batch):
            some = rows[start : start + batch]
            moments = None if when is None else when[start : start + batch]
            for name, part in hybrid.components(some, moments).items():
                chunks.setdefault(name, []).append(
                    np.broadcast_to(np.atleast_2d(part), some.shape).astype(np.float32)
                )
        return cls(
            protocol=protocol,
            parts={name: np.vstack(c) for name, c in chunks.items()},
            counts=np.diff(rows.indptr),
            rows=rows,
            truth=sp.csr_matrix(valid.matrix[users] >= RELEVANCE),
            fit_matrix=fit_part.matrix,
        )

    def ndcg(self, blend: Any, catalog: Catalog, k: int) -> float:
        """Validation NDCG@k of the plain blend (no re-rank) with these weights, computed as
        `Hybrid.blend` does: Σ weight(component, n ratings) × standardised component score."""
        weights = blend.weights(self.counts)
        total = np.zeros(self.rows.shape, dtype=np.float32)
        for name, part in self.parts.items():
            total += weights[name][:, None] * part
        top = top_k(total, k, exclude=self.rows)
        return list_metrics(top, self.truth, catalog, self.fit_matrix, ks=(k,))[f"ndcg@{k}"]


def blend_steps(name: str) -> tuple[float, ...]:
    """The multipliers coordinate ascent tries for this blend field."""
    from recommender.hybrid import PERSONAL

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
) -> tuple[Any, list[dict]]:
    """ALS's factors, regularization and alpha (or `grid`) on a holdout validation split."""
    from recommender.als import ALS
    from recommender.report import tune

    spec = ModelSpec(
        "als", lambda p: ALS(replace(config.als, **p)), params={}, grid=grid or ALS_GRID
    )
    best, rows = tune(spec, train, catalog, "holdout", seed, k, progress=progress)
    return replace(config, als=replace(config.als, **best)), rows


def _tune_ease(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    k: int,
    progress: ProgressFn | None,
) -> tuple[Any, list[dict]]:
    """EASE's λ for the blend on a holdout validation split; left as is if EASE cannot fit."""
    from recommender.ease import EASE
    from recommender.report import tune

    if config.ease_lambda is None:
        return config, []
    try:
        check_memory(len(catalog), config.ease_memory_limit)
    except CatalogTooLargeError as exc:
        log.info("EASE not tuned: %s", exc)
        return config, []
    spec = ModelSpec("ease", lambda p: EASE(p["lambda"]), grid={"lambda": EASE_GRID})
    best, rows = tune(spec, train, catalog, "holdout", seed, k, progress=progress)
    return replace(config, ease_lambda=float(best["lambda"])), rows


def _tune_diversity(
    config: Any,
    train: Ratings,
    catalog: Catalog,
    seed: int,
    k: int,
    progress: ProgressFn | None,
    cold_n: int = 5,
) -> tuple[Any, list[dict]]:
    """The strongest re-rank whose validation NDCG stays within the tolerance of none, for
    established users (holdout validation) and new ones (given-`cold_n`) alike: one strength
    serves everyone, so it must not sacrifice either group."""
    rows: list[dict] = []
    allowed = set(DIVERSITY_GRID)
    for protocol in ("holdout", f"given-{cold_n}"):
        fit_part, valid = validation_split(train, protocol, seed=seed)
        served = ServedHybrid(config).fit(fit_part, catalog)
        label = f"tune re-rank ({protocol})"
        found = []
        for i, strength in enumerate(DIVERSITY_GRID):
            if progress is not None:
                progress(label, i, len(DIVERSITY_GRID))
            figures = evaluate_ranking(
                served.with_diversity(strength),
                fit_part,
                valid,
                catalog,
                k=k,
                ks=(k,),
                fit=False,
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
    cold_share: float = 1.0,
) -> dict[str, Any]:
    """Tune what `train` uses, on validation splits carved from a train split (never test).

    The same split as `moviebot evaluate --protocol P --seed S` is made first and only its
    train part is looked at, so an evaluation with the tuned values under that protocol and
    seed never scores ratings the tuning saw. Order: ALS grid (holdout validation), EASE's λ,
    warm blend weights (holdout), cold blend weights and the pivot (given-`cold_n`
    validation), each blend stage keeping the other validation's NDCG within 1%, then the
    re-rank strength. `als_grid`
    replaces `ALS_GRID` (any `ALSConfig` fields; the rest keep their values). Returns the
    tuned.json content: the full configuration and every validation figure behind it.
    """
    from recommender.splits import split

    started = time.perf_counter()
    train, _ = split(ratings, protocol, seed=seed, cold_share=cold_share)
    config = hybrid_config(start)
    try:
        config, als_rows = _tune_als(config, train, catalog, seed, k, progress, als_grid)
        config, ease_rows = _tune_ease(config, train, catalog, seed, k, progress)
        if progress is not None:
            progress("prepare blend tuning", 0, 0)
        warm_table = BlendTable.build(config, train, catalog, "holdout", seed)
        cold_table = BlendTable.build(config, train, catalog, f"given-{cold_n}", seed)
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
        config, rerank = _tune_diversity(config, train, catalog, seed, k, progress, cold_n)
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
            "blend_warm": warm,
            "blend_cold": cold,
            "rerank": rerank,
        },
    }


def write_tuned(
    tuned: Mapping[str, Any], model_dir: str | Path, filename: str = TUNED_FILE
) -> Path:
    """Write `<model_dir>/tuned.json` atomically (temp file + rename); returns its path."""
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    fd, tmp = tempfile.mkstemp(prefix=".tuned-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(tuned, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_tuned(model_dir: str | Path) -> dict[str, Any] | None:
    """The tuned values in `<model_dir>/tuned.json`, or None if there is none.

    A file that is not valid JSON, has another format or a configuration the hybrid does not
    accept raises `TunedFileError` naming the file: silently training with other values than
    the user tuned would be worse.
    """
    path = Path(model_dir) / TUNED_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TunedFileError(
            f"{path} is not readable JSON ({exc}); delete it or re-run `moviebot tune`"
        ) from None
    if not isinstance(data, dict) or data.get("format") != TUNED_FORMAT:
        raise TunedFileError(f"{path} has an unknown format; delete it or re-run `moviebot tune`")
    try:
        hybrid_config(data)
        if not isinstance(data.get("config"), dict):
            raise TypeError("no configuration in it")
    except (TypeError, ValueError) as exc:
        raise TunedFileError(f"{path} has settings this version does not know: {exc}") from None
    return data


def summary(tuned: Mapping[str, Any]) -> Mapping[str, Any]:
    """The chosen values a person wants to see: ALS, blend weights, re-rank, EASE λ."""
    config = tuned["config"]
    als = config["als"]
    return {
        "als": {key: als[key] for key in ("factors", "regularization", "alpha")},
        "blend": config["blend"],
        "ease_lambda": config.get("ease_lambda"),
    }


def validation_summary(tuned: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """(stage, metric, first tried, chosen) validation figures for each tuning stage."""
    metric = tuned.get("metric", "ndcg@10")
    out = []
    for stage, rows in tuned.get("validation", {}).items():
        scored = [r for r in rows if metric in r]
        if not scored:
            continue
        if stage == "rerank":
            for protocol in dict.fromkeys(r["protocol"] for r in scored):
                mine = [r for r in scored if r["protocol"] == protocol]
                chosen = tuned["config"]["blend"]["diversity"]
                after = next((r for r in mine if r["diversity"] == chosen), mine[0])
                out.append(
                    (f"re-rank {chosen} ({protocol})", metric, mine[0][metric], after[metric])
                )
        elif stage.startswith("blend"):
            out.append((stage.replace("_", " "), metric, scored[0][metric], scored[-1][metric]))
        else:
            out.append((stage, metric, scored[0][metric], max(r[metric] for r in scored)))
    return out
