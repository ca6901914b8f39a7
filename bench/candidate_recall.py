"""Would a candidate stage keep the picks? The share of the exact blend's best 50 (the pool
the re-rank chooses from) that a cheaper first pass over the whole catalogue would hand on.

    python bench/candidate_recall.py --db data/moviebot.sqlite --share 0.05,0.1,0.2
    python bench/candidate_recall.py --db /tmp/work-x1/moviebot.sqlite --models /tmp/work-x1/models

For users with 1, 3, 5, 10, 20 and 50 ratings (each history drawn from a data-set user with at
least 60), the blend is scored exactly; a first pass keeps the best `share` of the catalogue
by its own score, the exact blend ranks what it kept, and the overlap of the two best-50s is
the recall (mean and minimum over the users). First passes:

- "all but watched": every blended component except the second ALS (one matvec fewer);
- "ALS + shared": the main ALS and the parts that are the same for everyone (popularity,
  quality), no per-user era or genre lift.

docs/benchmarks/notes.md ("recommend p99") reports the figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings
from bot.training import load_current
from storage import ratings as rating_store
from storage.db import Database

SIZES = (1, 3, 5, 10, 20, 50)
POOL = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--models", type=Path, help="its model folder (default: next to it)")
    parser.add_argument("--share", default="0.05,0.1", help="shares of the catalogue kept")
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    settings = replace(Settings.from_env(env_file=None), db_path=args.db,
                       model_dir=args.models or args.db.parent / "models")  # fmt: skip
    with Database(args.db) as db:
        model = load_current(db, settings)
        frame = rating_store.frame(db, ("dataset",))
    if model is None:
        print("no model loads from that database: run moviebot train first", file=sys.stderr)
        return 1
    hybrid = model._hybrid
    users, movies = frame["user"].to_numpy(), frame["movie"].to_numpy()
    stars = frame["rating"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    rng = np.random.default_rng(1)
    rich = np.flatnonzero(ends - starts >= 60)
    n_items = len(hybrid.unknown)
    keeps = [max(POOL, round(float(s) * n_items)) for s in args.share.split(",")]
    print(f"{n_items:,} movies; kept by the first pass: {', '.join(f'{k:,}' for k in keeps)}")
    print(f"{'ratings':>7}  " + "  ".join(f"{name}/{k}" for name in ("all but watched",
          "ALS + shared") for k in keeps))  # fmt: skip
    for size in SIZES:
        recall: dict[tuple[str, int], list[float]] = {}
        for u in rng.choice(rich, min(args.users, len(rich)), replace=False):
            rows = rng.choice(np.arange(starts[u], ends[u]), size, replace=False)
            row = model._row(dict(zip(movies[rows].tolist(), stars[rows].tolist(), strict=True)))
            blended, parts = hybrid.blend(row)
            exact = blended[0].astype(np.float64)
            exact[row.indices] = -np.inf
            best = set(np.argsort(-exact)[:POOL].tolist())
            part = {k: np.broadcast_to(v[0], exact.shape) for k, v in parts.items()}
            first = {
                "all but watched": sum(v for k, v in part.items() if k != "watched"),
                "ALS + shared": sum(v for k, v in part.items() if k in ("als", "popularity",
                                                                         "quality")),
            }  # fmt: skip
            for name, score in first.items():
                score = np.array(score, dtype=np.float64)
                score[row.indices] = -np.inf
                for keep in keeps:
                    kept = np.argpartition(-score, keep)[:keep]
                    got = set(kept[np.argsort(-exact[kept])[:POOL]].tolist())
                    recall.setdefault((name, keep), []).append(len(got & best) / POOL)
        cells = [f"{np.mean(v):.3f} (min {np.min(v):.2f})" for v in recall.values()]
        print(f"{size:>7}  " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
