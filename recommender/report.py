"""Models side by side under one protocol: tuning on validation, the JSON, Markdown and PNG.

`compare` runs the whole protocol of docs/evaluation.md for a set of model specs (split once, tune
each model's grid on a validation split carved from train, fit on train, score on test) and
returns one JSON-ready dict. `markdown` and `plot` render that dict; nothing here reads a
database or prints, so the CLI stays a thin wrapper and tests can call it directly.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.component import Estimator, Scorer, Unavailable
from recommender.data import Catalog, Ratings
from recommender.evaluate import (
    RatingPredictor,
    dataset_counts,
    evaluate_ranking,
    measure_ranking_per_user,
    measure_rating,
)
from recommender.metrics import KS, paired_interval
from recommender.splits import (
    COLD_SHARE,
    RELEVANCE,
    EvaluationError,
    candidates,
    parse_protocol,
    split,
    validation_splits,
)

log = logging.getLogger(__name__)

REFERENCE = "hybrid"  # the model paired differences are taken against …
FALLBACK_REFERENCE = "content"  # … or, in a run without it (`--models content,…`), this one

# step label, done, total (total 0: a step without a known length just started)
ProgressFn = Callable[[str, int, int], None]
COLUMNS = (
    ("ndcg", "NDCG"),
    ("precision", "P"),
    ("recall", "R"),
    ("f1", "F1"),
    ("map", "MAP"),
    ("hitrate", "Hit"),
    ("coverage", "Cov"),
    ("diversity", "Div"),
    ("novelty", "Nov"),
)
RATING_COLUMNS = (("rmse", "RMSE"), ("mae", "MAE"), ("mse", "MSE"))
PLOT_METRICS = ("ndcg", "precision", "recall", "map", "hitrate", "coverage")


class ModelSkipped(Exception):
    """A model cannot run on these data (e.g. the catalogue is too large); the report says why."""


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model for the report.

    `make(params)` returns the model not fitted yet; `grid` maps parameter names to the values tried
    on validation (the best by `metric` wins, ties to the first); `rating` says whether the
    fitted object also predicts stars (`predict(rows)`) and gets RMSE/MAE/MSE; `metric` is
    what the grid is chosen by (default NDCG@k; "rmse" for a rating model).
    """

    name: str
    make: Callable[[dict[str, Any]], Estimator[Scorer]]
    params: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    rating: bool = False
    metric: str | None = None
    ranking: bool = True  # False: a rating model scored on RMSE / MAE only
    beyond_grid: bool = True  # False: `tune` tries the grid only, not past its edges


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict]:
    """Every combination of a grid, in a fixed order (the first value of each name first)."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


# A numeric setting that wins at the edge of its grid may do better beyond it: `tune` goes on
# outward, a step of the edge's own ratio at a time, while validation improves by at least
# BEYOND_GAIN of its value (smaller gains are a carve's noise, and a step out is often a
# costlier model: ALS on ML-100K given-5 seed 0 went 128 → 1024 factors for +0.8%), at most
# EXTEND_STEPS steps a setting, so no model is compared at an optimum its grid cut off.
EXTEND_STEPS = 3
BEYOND_GAIN = 0.01


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def beyond(tried: Iterable[Any], value: Any) -> Any | None:
    """The next value outward from `value` if it is the largest or smallest of the positive
    numbers `tried` (at least two): the edge times its ratio to its neighbour, an int for an
    int setting; None when `value` is inside them or the step would not move."""
    values = sorted({v for v in tried if _numeric(v)})
    if len(values) < 2 or not _numeric(value) or value not in (values[0], values[-1]):
        return None
    inner = values[-2] if value == values[-1] else values[1]
    step = value * (value / inner)
    out = round(step) if isinstance(value, int) else float(f"{step:.4g}")
    return None if out == value or out <= 0 else out


def tune(
    spec: ModelSpec,
    train: Ratings,
    catalog: Catalog,
    protocol: str = "holdout",
    seed: int = 0,
    k: int = 10,
    metric: str | None = None,
    progress: ProgressFn | None = None,
    cold_share: float = COLD_SHARE,
) -> tuple[dict, list[dict]]:
    """Choose `spec`'s parameters on validation splits carved from `train` (never test).

    Returns the winning parameters (spec.params updated with the best point) and one row per
    point tried: its parameters and validation figures (the mean over the carves of
    `validation_splits`). Every grid point is tried; then a numeric setting whose best value
    lies on an edge of what was tried goes on outward (`beyond`, marked "beyond_grid"), and
    a point out there wins only by `BEYOND_GAIN` of the best's value. A
    spec with `rating` and a "rmse" `metric` is tuned on RMSE (lower is better).
    """
    metric = metric or f"ndcg@{k}"
    points = grid_points(spec.grid)
    if not points or points == [{}]:
        return dict(spec.params), []
    carves = validation_splits(train, protocol, seed=seed, cold_share=cold_share)
    sign = -1.0 if metric == "rmse" else 1.0
    rows: list[dict] = []
    best: tuple[float, dict] | None = None

    def attempt(point: dict, beyond_grid: bool = False) -> None:
        nonlocal best
        marks = {"beyond_grid": True} if beyond_grid else {}
        params = {**spec.params, **point}
        try:
            found = [_validate(spec, params, f, v, catalog, k, metric, protocol) for f, v in carves]
        except (ValueError, MemoryError, Unavailable) as exc:
            log.warning("%s with %s cannot run: %s", spec.name, point, exc)
            rows.append({"params": point, "error": str(exc), **marks})
            return
        value = sign * float(np.mean([v for v, _ in found]))
        rows.append(
            {
                "params": point,
                metric: sign * value,
                "carves": len(found),
                "fit_seconds": round(sum(s for _, s in found), 3),
                **marks,
            }
        )
        if best is None or value > best[0] + (BEYOND_GAIN * abs(best[0]) if beyond_grid else 0.0):
            best = (value, params)

    for i, point in enumerate(points):
        if progress is not None:
            progress(f"tune {spec.name}", i, len(points))
        attempt(point)
    if progress is not None:
        progress(f"tune {spec.name}", len(points), len(points))
    if best is None:
        raise ModelSkipped(f"no {spec.name} setting could be trained: {rows[-1]['error']}")
    if not spec.beyond_grid:
        return best[1], rows
    steps = dict.fromkeys(spec.grid, 0)
    while True:  # each step leaves `best` inside what was tried, or counts towards the limit
        outward = (
            (name, value)
            for name in spec.grid
            if steps[name] < EXTEND_STEPS
            and (value := beyond([row["params"][name] for row in rows], best[1][name])) is not None
        )
        name, value = next(outward, (None, None))
        if name is None:
            return best[1], rows
        steps[name] += 1
        attempt({**{n: best[1][n] for n in spec.grid}, name: value}, beyond_grid=True)


def _validate(
    spec: ModelSpec,
    params: dict[str, Any],
    fit_part: Ratings,
    valid: Ratings,
    catalog: Catalog,
    k: int,
    metric: str,
    protocol: str = "holdout",
) -> tuple[float, float]:
    """One grid point on one carve: (its `metric`, fit seconds)."""
    if metric == "rmse":
        started = time.perf_counter()
        predictor = spec.make(params).fit(fit_part, catalog)
        seconds = time.perf_counter() - started
        if not isinstance(predictor, RatingPredictor):
            raise EvaluationError(f"{spec.name} predicts no ratings: it cannot be tuned on RMSE")
        return measure_rating(predictor, fit_part, valid)["rmse"], seconds
    figures = evaluate_ranking(
        spec.make(params),
        fit_part,
        valid,
        catalog,
        k=k,
        ks=(k,),
        candidates=candidates(protocol, fit_part, valid),
    )
    return figures[metric], figures["fit_seconds"]


def compare(
    ratings: Ratings,
    catalog: Catalog,
    specs: Iterable[ModelSpec],
    protocol: str = "holdout",
    k: int = 10,
    seed: int = 0,
    relevance: float = RELEVANCE,
    progress: ProgressFn | None = None,
    max_users: int | None = None,
    cold_share: float = COLD_SHARE,
) -> dict:
    """Run the protocol on every model from one split and return the report dict.

    Keys: protocol, k, seed, relevance, dataset (counts), models (name → metrics at k,
    rating metrics for predictors, fit_seconds, params, the other ks under "at", the
    validation grid under "tuning"; or {"skipped": why}), notes, seconds.
    """
    parse_protocol(protocol)
    started = time.perf_counter()
    train, test = split(ratings, protocol, seed=seed, cold_share=cold_share)
    report: dict[str, Any] = {
        "protocol": protocol,
        "k": k,
        "seed": seed,
        "relevance": relevance,
        "max_users": max_users,
        "cold_share": cold_share,
        "dataset": dataset_counts(ratings, train, test),
        "models": {},
        "notes": [],
    }
    for spec in specs:
        try:
            report["models"][spec.name] = _run_model(
                spec,
                train,
                test,
                catalog,
                protocol,
                k,
                seed,
                relevance,
                progress,
                max_users,
                cold_share,
            )
        except ModelSkipped as exc:
            report["models"][spec.name] = {"skipped": str(exc)}
            report["notes"].append(f"{spec.name} skipped: {exc}")
    ran = report["models"]
    reference = REFERENCE if "per_user_ndcg" in ran.get(REFERENCE, {}) else FALLBACK_REFERENCE
    report["reference"] = reference
    report["paired"] = paired_against(ran, reference, k)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def paired_against(models: Mapping[str, dict], reference: str, k: int) -> dict[str, dict]:
    """The reference model's per-user NDCG@k minus each other model's: mean, 95% interval and
    the ratio of the means (`metrics.paired_interval`); {} without the reference. Takes the
    per-user values out of the entries (the JSON keeps the figures, not 1,000 numbers each)."""
    per_user = {n: e.pop("per_user_ndcg") for n, e in models.items() if "per_user_ndcg" in e}
    if reference not in per_user:
        return {}
    mine = per_user[reference]
    out: dict[str, dict] = {}
    for name, theirs in per_user.items():
        if name == reference or len(theirs) != len(mine) or len(mine) < 2:
            continue
        other = models[name][f"ndcg@{k}"]
        ratio = models[reference][f"ndcg@{k}"] / other if other > 0 else math.inf
        out[name] = paired_interval(mine, theirs) | {"ratio": ratio}
    return out


def _run_model(
    spec: ModelSpec,
    train: Ratings,
    test: Ratings,
    catalog: Catalog,
    protocol: str,
    k: int,
    seed: int,
    relevance: float,
    progress: ProgressFn | None,
    max_users: int | None = None,
    cold_share: float = COLD_SHARE,
) -> dict:
    """Tune (if the spec has a grid), fit on train, score on test: one model's report entry."""
    params, tuning = tune(
        spec,
        train,
        catalog,
        protocol,
        seed,
        k,
        metric=spec.metric,
        progress=progress,
        cold_share=cold_share,
    )
    if progress is not None:
        progress(f"fit {spec.name}", 0, 0)
    fit_started = time.perf_counter()
    try:
        model = spec.make(params).fit(train, catalog)
    except (ValueError, MemoryError, Unavailable) as exc:
        raise ModelSkipped(str(exc)) from exc
    fit_seconds = time.perf_counter() - fit_started
    if not spec.ranking:
        return _rating_entry(spec, model, train, test, params, tuning, fit_seconds)

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(f"score {spec.name}", done, total)

    figures, per_user = measure_ranking_per_user(
        model,
        train,
        test,
        catalog,
        k=k,
        relevance=relevance,
        ks=sorted(set(KS) | {k}),
        progress=step,
        max_users=max_users,
        seed=seed,
        candidates=candidates(protocol, train, test),
    )
    entry: dict[str, Any] = {f"{name}@{k}": figures[f"{name}@{k}"] for name, _ in COLUMNS}
    if spec.rating and isinstance(model, RatingPredictor):
        entry.update(
            {
                name: value
                for name, value in measure_rating(model, train, test).items()
                if name in ("rmse", "mae", "mse")
            }
        )
    entry["fit_seconds"] = round(fit_seconds, 3)
    entry["score_seconds"] = round(figures["score_seconds"], 3)
    entry["users"] = int(figures["users"])
    entry["params"] = _jsonable(getattr(model, "params", params) or params)
    entry["at"] = {
        str(kk): {f"{name}@{kk}": figures[f"{name}@{kk}"] for name, _ in COLUMNS}
        for kk in sorted(set(KS) - {k})
    }
    if tuning:
        entry["tuning"] = tuning
    entry["per_user_ndcg"] = per_user
    return entry


def _rating_entry(
    spec: ModelSpec,
    model: Any,
    train: Ratings,
    test: Ratings,
    params: dict,
    tuning: list[dict],
    fit_seconds: float,
) -> dict:
    """The report entry of a rating-only model: RMSE / MAE / MSE, parameters, tuning."""
    if not isinstance(model, RatingPredictor):
        raise ModelSkipped(f"{spec.name} predicts no ratings")
    figures = measure_rating(model, train, test)
    entry: dict[str, Any] = {k: figures[k] for k in ("rmse", "mae", "mse")}
    entry["fit_seconds"] = round(fit_seconds, 3)
    entry["params"] = _jsonable(getattr(model, "params", params) or params)
    if tuning:
        entry["tuning"] = tuning
    return entry


def _jsonable(value: Any) -> Any:
    """Parameters as plain JSON values (numpy scalars and tuples included)."""

    def plain(obj: Any) -> Any:
        return obj.item() if hasattr(obj, "item") else str(obj)

    return json.loads(json.dumps(value, default=plain))


# ---------------------------------------------------------------------------------------------
# Rendering


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def markdown(report: Mapping[str, Any], command: str | None = None) -> str:
    """The report as a Markdown document: protocol, data counts, the table, parameters."""
    k = report["k"]
    ds = report["dataset"]
    relevance = report.get("relevance", RELEVANCE)
    lines = [
        f"# Evaluation: {report['protocol']}, k = {k}, seed {report['seed']}",
        "",
        f"{ds['users']:,} users, {ds['items']:,} movies ({ds['rated_items']:,} rated), "
        f"{ds['ratings']:,} ratings: {ds['train_ratings']:,} train, {ds['test_ratings']:,} test; "
        f"{ds['scored_users']:,} users scored (a test rating ≥ {relevance}). "
        "Protocol: docs/evaluation.md (holdout: a random 20% of each user with ≥ 5 ratings; "
        "temporal: their latest 20%; given-N: a share of the users with ≥ 20 ratings keep N).",
        "",
    ]
    if parse_protocol(report["protocol"]) is not None:
        lines += [
            f"Given-N cut {report['cold_share']:.0%} of the eligible users; the others "
            "stayed whole in train.",
            "",
        ]
    if report.get("max_users"):
        lines += [f"Scored a random sample of at most {report['max_users']:,} users.", ""]
    if report.get("config"):
        lines += [f"Configuration: {report['config']}.", ""]
    if command:
        lines += ["Regenerate with:", "", "```sh", command, "```", ""]
    header = [
        "model",
        *[f"{label}@{k}" for _, label in COLUMNS],
        *[label for _, label in RATING_COLUMNS],
        "fit s",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for name, entry in report["models"].items():
        if "skipped" in entry:
            lines.append(f"| {name} | skipped: {entry['skipped']} |" + " |" * (len(header) - 2))
            continue
        cells = [name]
        cells += [_fmt(entry.get(f"{key}@{k}"), 2 if key == "novelty" else 3) for key, _ in COLUMNS]
        cells += [_fmt(entry.get(key)) for key, _ in RATING_COLUMNS]
        cells.append(_fmt(entry.get("fit_seconds"), 1))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cov = distinct movies recommended ÷ catalogue; Div = mean pairwise genre "
        "dissimilarity (1 − Jaccard) within a list; Nov = mean −log2 train popularity share "
        "(add-one); RMSE/MAE/MSE on every test rating, clipped to the rating scale.",
        "",
        "Parameters (chosen on a validation split carved from train where a grid was given):",
        "",
    ]
    for name, entry in report["models"].items():
        if "params" in entry:
            lines.append(f"- `{name}`: `{json.dumps(entry['params'], sort_keys=True)}`")
    for note in report.get("notes", []):
        lines.append(f"- note: {note}")
    lines += paired_lines(report)
    lines.append("")
    lines.append(f"Total time: {report.get('seconds', 0):.1f} s.")
    return "\n".join(lines) + "\n"


def paired_lines(report: Mapping[str, Any]) -> list[str]:
    """The paired comparison as Markdown: the hybrid against each model, best first."""
    paired = report.get("paired") or {}
    if not paired:
        return []
    k, reference = report["k"], report.get("reference", REFERENCE)
    lines = [
        "",
        f"Paired per-user difference in NDCG@{k}, {reference} minus each model (mean and 95% "
        "interval over the scored users; an interval containing 0 is a tie):",
        "",
        f"| model | NDCG@{k} | {reference} ÷ model | difference | 95% interval |",
        "|---|---|---|---|---|",
    ]
    models = report["models"]
    for name in sorted(paired, key=lambda n: -models[n][f"ndcg@{k}"]):
        p = paired[name]
        lines.append(
            f"| {name} | {models[name][f'ndcg@{k}']:.3f} | {p['ratio']:.3f}× | "
            f"{p['mean']:+.4f} | [{p['low']:+.4f}, {p['high']:+.4f}] |"
        )
    return lines


def write_json(report: Mapping[str, Any], path: str | Path) -> None:
    """The report as pretty-printed JSON (keys in a stable order)."""
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def plot(report: Mapping[str, Any], path: str | Path) -> None:
    """A grouped bar chart: one group per metric, one bar per model (PNG, Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = report["k"]
    models = [(n, e) for n, e in report["models"].items() if f"ndcg@{k}" in e]
    if not models:
        raise EvaluationError("no model ran: nothing to plot")
    fig = Figure(figsize=(10, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(models)
    for i, (name, entry) in enumerate(models):
        values = [entry.get(f"{m}@{k}", 0.0) for m in PLOT_METRICS]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(PLOT_METRICS))]
        bars = ax.bar(xs, values, width=width, label=name)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=6, padding=1)
    ax.set_xticks(range(len(PLOT_METRICS)), [f"{m}@{k}" for m in PLOT_METRICS])
    ax.set_ylabel("score (higher is better)")
    ax.set_title(
        f"moviebot evaluate: {report['protocol']}, seed {report['seed']}, "
        f"{report['dataset']['ratings']:,} ratings"
    )
    ax.legend(fontsize=8, ncols=min(len(models), 5), loc="upper right")
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1]))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(path), format="png")
