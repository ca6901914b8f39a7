#!/bin/sh
# The issue's quality targets on seeds 0-3, as one Markdown table on stdout.
#
#   bench/evaluation_seeds.sh DB FOLDER
#
# Runs `moviebot evaluate` under holdout and given-5 for seeds 0-3 on DB's data-set ratings
# (popularity, ALS, EASE and the hybrid, with the committed defaults: run it where no
# models/tuned.json nor models/*/tuned.json exists), keeps each run's JSON in FOLDER and prints
# NDCG@10 of each model, the hybrid's ratio to popularity, its coverage@10 against popularity's
# and its RMSE.
# `bench/evaluation_report.sh` includes it; on its own it checks another data set, e.g.
# MovieLens latest-small after `moviebot --db DB data import ml-latest-small/`.
set -eu
DB="$1"
FOLDER="$2"
MOVIEBOT="${MOVIEBOT:-moviebot}"
. "$(dirname "$0")/committed_defaults.sh"
mkdir -p "$FOLDER"
for seed in 0 1 2 3; do
    for protocol in holdout given-5; do
        "$MOVIEBOT" --db "$DB" evaluate --protocol "$protocol" --seed "$seed" \
            --models popularity,als,ease,hybrid --json "$FOLDER/$protocol-seed-$seed.json" \
            > /dev/null
    done
done
"${PYTHON:-python3}" - "$FOLDER" <<'SEEDS'
import json
import sys
from pathlib import Path

folder = Path(sys.argv[1])
first = json.loads((folder / "holdout-seed-0.json").read_text())["dataset"]
print("\n## The targets on seeds 0-3 (committed defaults)\n")
print(f"{first['ratings']:,} ratings of {first['users']:,} users on {first['items']:,} movies. "
      "NDCG@10 from `moviebot evaluate --protocol P --seed S --models popularity,als,ease,"
      "hybrid`; the hybrid's ratio to popularity, its coverage@10 against popularity's "
      "and its RMSE.\n")
print("| protocol | seed | popularity | ALS | EASE | hybrid | hybrid ÷ popularity "
      "| coverage@10 hybrid / popularity | RMSE |")
print("|---|---|---|---|---|---|---|---|---|")
for protocol in ("holdout", "given-5"):
    for seed in range(4):
        report = json.loads((folder / f"{protocol}-seed-{seed}.json").read_text())
        m = report["models"]
        ndcg = {name: m[name]["ndcg@10"] for name in ("popularity", "als", "ease", "hybrid")}
        print(f"| {protocol} | {seed} | "
              + " | ".join(f"{ndcg[name]:.3f}" for name in ndcg)
              + f" | {ndcg['hybrid'] / ndcg['popularity']:.2f}× | "
              + f"{m['hybrid']['coverage@10']:.3f} / {m['popularity']['coverage@10']:.3f} | "
              + f"{m['hybrid']['rmse']:.3f} |")
SEEDS
