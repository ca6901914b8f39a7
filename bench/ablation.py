"""Drop each blend component in turn: does the hybrid need all of them?

    python bench/ablation.py --db data/moviebot.sqlite                     # seeds 0-3
    python bench/ablation.py --db mls.sqlite --seeds 0,1,2,3 --protocols holdout,given-5 \
        --json docs/ablation/ml-latest-small.json --markdown table.md
    python bench/ablation.py --count-knobs                                 # no database

For each seed and protocol the split is made as `moviebot evaluate` makes it, the served
hybrid (`recommender.suite.ServedHybrid`, the adapter `moviebot evaluate` ranks the hybrid
through: `Recommender.recommend`, re-rank included, at each user's moment) is fitted once on
its train part with the committed defaults (`HybridConfig()`, never a tuned.json), and scored
on test as the full blend and once per component with that component's cold and warm weights
set to 0. A variant is the fitted model with another `BlendConfig` (`with_blend`: a shallow
copy, no refit; the blend weights play no part in fitting, and `--refit` refits every variant
to check that). NDCG@10 is `recommender.evaluate.measure_ranking`'s, with the lists of 5, 10
and 20 that `moviebot evaluate` asks for (the re-rank's pool depends on the list length).

The table gives, per variant and protocol, the mean NDCG@k over the seeds with its spread
(max − min, and the sample standard deviation), and the paired difference to the full blend
on the same split (variant − full, mean over seeds, its std and its min…max). The yardstick is
the full blend's max − min over the seeds: a removal that costs more than it on some protocol
keeps the component; one that changes no protocol by more than it is a candidate for removal
(and one that gains more than it says the component hurts there).

"Dropping" a component here sets its blend weights to 0 and nothing else: the fitted models
stay in the artifact, ALS's factors still drive the re-rank's similarity, `similar` and the
reasons, and the quality prior's damping (`quality_prior`) is still there. Content, which has
no blend weights (`Part.blended`), is fitted and used for `similar`, the reasons and movies
added since training in every variant. `--count-knobs` prints the number of components and of
configuration fields (BlendConfig, HybridConfig and its nested configs), to rerun after a
component is removed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import copy
import json
import sys
import time
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recommender.blend import BlendConfig
from recommender.config import HybridConfig
from recommender.evaluate import KS, measure_ranking
from recommender.hybrid import Recommender
from recommender.scoring import COMPONENTS, PARTS
from recommender.splits import split
from recommender.suite import ServedHybrid

FULL = "full"


def count_knobs(config: Any = None) -> dict[str, Any]:
    """How many components the blend has and how many settings configure the hybrid:
    BlendConfig's fields, HybridConfig's own fields and each nested config's (recursively)."""
    config = config or HybridConfig()

    def leaves(obj: Any) -> int:
        return sum(
            leaves(getattr(obj, f.name)) if is_dataclass(getattr(obj, f.name)) else 1
            for f in fields(obj)
        )

    nested = {
        f.name: {"type": type(value).__name__, "fields": leaves(value)}
        for f in fields(config)
        if is_dataclass(value := getattr(config, f.name))
    }
    own = [f.name for f in fields(config) if f.name not in nested]
    weights = [f.name for f in fields(BlendConfig) if f.name.endswith(("_cold", "_warm"))]
    return {
        "components": len(COMPONENTS),
        "component_names": list(COMPONENTS),
        "unblended": [part.name for part in PARTS if not part.blended],
        "blend_fields": len(fields(BlendConfig)),
        "blend_weight_fields": len(weights),
        "blend_other_fields": [f.name for f in fields(BlendConfig) if f.name not in weights],
        "hybrid_fields": len(fields(config)),
        "hybrid_own_fields": own,
        "nested": nested,
        "total_leaf_fields": leaves(config),
    }


def knobs_text(knobs: dict[str, Any]) -> str:
    nested = knobs["nested"]
    lines = [
        f"components: {knobs['components']} ({', '.join(knobs['component_names'])}); "
        f"fitted for serving but not blended: {', '.join(knobs['unblended']) or 'none'}",
        f"BlendConfig: {knobs['blend_fields']} fields ({knobs['blend_weight_fields']} "
        f"per-component _cold/_warm weights; others: {', '.join(knobs['blend_other_fields'])})",
        f"HybridConfig: {knobs['hybrid_fields']} fields ({len(nested)} nested configs; own: "
        f"{', '.join(knobs['hybrid_own_fields'])})",
        "nested configs: " + ", ".join(f"{v['type']} {v['fields']}" for v in nested.values()),
        f"settings in all (leaf fields of HybridConfig): {knobs['total_leaf_fields']}",
    ]
    return "\n".join(lines)


def dropped(blend: BlendConfig, component: str) -> BlendConfig:
    """The blend without one component: its cold and warm weights 0."""
    return replace(blend, **{f"{component}_cold": 0.0, f"{component}_warm": 0.0})


def with_blend(served: ServedHybrid, blend: BlendConfig) -> ServedHybrid:
    """The same fitted hybrid, blending with other weights (no refit: fitting never reads
    the blend weights, and the quality prior's damping is left as it was). The components
    and the rating predictor are shared; only the `Hybrid`'s configuration is another."""
    fitted = served.model
    config = replace(fitted.config, blend=blend)
    hybrid = copy.copy(fitted._hybrid)  # a shallow copy: the same fitted components
    hybrid.config = config
    return ServedHybrid(Recommender(fitted.catalog, hybrid, fitted._predictor, fitted.info))


def summarise(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(a.mean()),
        "min": float(a.min()),
        "max": float(a.max()),
        "range": float(a.max() - a.min()),
        "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
    }


def summary(runs: list[dict], protocols: list[str], variants: list[str], k: int) -> dict:
    """Per protocol and variant: NDCG@k over seeds and the paired difference to the full."""
    metric = f"ndcg@{k}"
    out: dict[str, dict] = {}
    for protocol in protocols:
        mine = sorted((r for r in runs if r["protocol"] == protocol), key=lambda r: r["seed"])
        full = [r["variants"][FULL][metric] for r in mine]
        out[protocol] = {}
        for variant in variants:
            values = [r["variants"][variant][metric] for r in mine]
            out[protocol][variant] = {
                "seeds": [r["seed"] for r in mine],
                metric: values,
                "stats": summarise(values),
                "diff": summarise([v - f for v, f in zip(values, full, strict=True)]),
            }
    return out


def verdict(stats: dict, protocols: list[str], variant: str) -> str:
    """Keep when the removal costs more than the full blend's seed range on some protocol."""
    costs, gains = [], []
    for protocol in protocols:
        spread = stats[protocol][FULL]["stats"]["range"]
        change = stats[protocol][variant]["diff"]["mean"]
        if -change > spread:
            costs.append(f"{-change:.4f} > {spread:.4f} ({protocol})")
        elif change > spread:
            gains.append(f"{change:.4f} > {spread:.4f} ({protocol})")
    if costs:
        return "keep: removal costs " + ", ".join(costs)
    if gains:
        return "candidate for removal: removal gains " + ", ".join(gains)
    return "candidate for removal"


def table(stats: dict, protocols: list[str], variants: list[str], k: int) -> str:
    head = ["variant"]
    for protocol in protocols:
        head += [
            f"{protocol} NDCG@{k} mean (max−min, std)",
            f"{protocol} Δ vs full mean (std; min…max)",
        ]
    head.append("verdict")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant in variants:
        cells = [variant if variant == FULL else f"− {variant}"]
        for protocol in protocols:
            s = stats[protocol][variant]["stats"]
            d = stats[protocol][variant]["diff"]
            cells.append(f"{s['mean']:.4f} ({s['range']:.4f}, {s['std']:.4f})")
            cells.append(
                "—"
                if variant == FULL
                else f"{d['mean']:+.4f} ({d['std']:.4f}; {d['min']:+.4f}…{d['max']:+.4f})"
            )
        cells.append("yardstick" if variant == FULL else verdict(stats, protocols, variant))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite database with a MovieLens data set")
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds")
    parser.add_argument(
        "--protocols", default="holdout,given-5", help="holdout, temporal and/or given-N"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    parser.add_argument(
        "--refit", action="store_true", help="refit every variant instead of re-weighting one fit"
    )
    parser.add_argument(
        "--count-knobs", action="store_true", help="print the component and setting counts only"
    )
    args = parser.parse_args()
    knobs = count_knobs()
    if args.count_knobs:
        print(knobs_text(knobs))
        return
    if not args.db:
        parser.error("--db is required (or --count-knobs)")
    seeds = [int(s) for s in args.seeds.split(",")]
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]

    from bot.training import catalog_from_db, ratings_from_db
    from storage.db import Database

    with Database(args.db) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog, kinds=("dataset",))
    config = HybridConfig()  # the committed defaults; tuned.json is never read here
    blends = {FULL: config.blend} | {c: dropped(config.blend, c) for c in COMPONENTS}
    variants = list(blends)
    ks = sorted(set(KS) | {args.k})
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    runs = []
    for seed in seeds:
        for protocol in protocols:
            train, test = split(ratings, protocol, seed=seed)
            t0 = time.perf_counter()
            served = ServedHybrid.fit(train, catalog, config)
            fit_seconds = time.perf_counter() - t0
            log(f"seed {seed} {protocol}: fitted in {fit_seconds:.1f} s")
            figures = {}
            for variant, blend in blends.items():
                if variant == FULL:
                    model = served
                elif args.refit:
                    model = ServedHybrid.fit(train, catalog, replace(config, blend=blend))
                else:
                    model = with_blend(served, blend)
                result = measure_ranking(model, train, test, catalog, k=args.k, ks=ks, seed=seed)
                figures[variant] = {
                    name: value
                    for name, value in result.items()
                    if name.endswith(f"@{args.k}") or name in ("users", "score_seconds")
                }
                log(
                    f"seed {seed} {protocol} {variant}: NDCG@{args.k} "
                    f"{result[f'ndcg@{args.k}']:.4f} ({result['score_seconds']:.1f} s)"
                )
            runs.append(
                {
                    "seed": seed,
                    "protocol": protocol,
                    "train_ratings": train.nnz,
                    "test_ratings": test.nnz,
                    "fit_seconds": round(fit_seconds, 2),
                    "variants": figures,
                }
            )
    seconds = time.perf_counter() - started
    stats = summary(runs, protocols, variants, args.k)
    text = table(stats, protocols, variants, args.k)
    n_users = int((np.diff(ratings.matrix.indptr) > 0).sum())
    header = (
        f"{Path(args.db).name}: {ratings.nnz:,} ratings of {n_users:,} users on "
        f"{len(catalog):,} movies; seeds {args.seeds}; committed defaults; "
        f"{'refit per variant' if args.refit else 'one fit per split'}; {seconds:.0f} s.\n"
        f"Spread over seeds: max−min and sample std. Δ: variant − full on the same split, "
        f"mean over seeds (std; min…max). Yardstick: the full blend's max−min per protocol."
    )
    print(f"{header}\n\n{text}\n\n{knobs_text(knobs)}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"{header}\n\n{text}\n", encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "db": Path(args.db).name,
            "dataset": {"ratings": ratings.nnz, "users": n_users, "movies": len(catalog)},
            "seeds": seeds,
            "protocols": protocols,
            "k": args.k,
            "refit": args.refit,
            "seconds": round(seconds, 1),
            "config": config.to_dict(),
            "knobs": knobs,
            "yardstick": "the full blend's max - min NDCG@k over seeds, per protocol",
            "summary": stats,
            "verdicts": {v: verdict(stats, protocols, v) for v in variants if v != FULL},
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
