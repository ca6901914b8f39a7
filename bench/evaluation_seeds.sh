#!/bin/sh
# The issue's quality targets on seeds 0-3, as one Markdown table on stdout.
#
#   bench/evaluation_seeds.sh DB FOLDER [PROTOCOLS]
#   SEEDS="0 1" bench/evaluation_seeds.sh DB FOLDER     # fewer seeds (default 0 1 2 3)
#
# Runs `moviebot evaluate --tune` (a throw-away model directory: every model tuned on the
# split's own train part) under each protocol (default: holdout temporal given-5) for seeds
# 0-3 on DB's data-set ratings, with popularity, ALS, EASE, item and user kNN and the hybrid,
# keeps each run's JSON in FOLDER (a run whose JSON is there already is not repeated: delete
# FOLDER to start afresh) and prints NDCG@10 of each model, the best baseline, the hybrid's
# ratio to it with the paired 95% interval of the difference, and the hybrid's RMSE.
# `bench/evaluation_report.sh` includes it; on its own it checks another data set, e.g.
# MovieLens latest-small after `moviebot --db DB data import ml-latest-small/`.
set -eu
DB="$1"
FOLDER="$2"
PROTOCOLS="${3:-holdout temporal given-5}"
SEEDS="${SEEDS:-0 1 2 3}"
MOVIEBOT="${MOVIEBOT:-moviebot}"
TUNED_DIR=$(mktemp -d)
trap 'rm -rf "$TUNED_DIR"' EXIT
mkdir -p "$FOLDER"
for seed in $SEEDS; do
    for protocol in $PROTOCOLS; do
        json="$FOLDER/$protocol-seed-$seed.json"
        [ -e "$json" ] && continue
        MOVIEBOT_MODEL_DIR="$TUNED_DIR" "$MOVIEBOT" --db "$DB" evaluate --tune \
            --protocol "$protocol" --seed "$seed" \
            --models popularity,als,ease,item_knn,user_knn,hybrid --json "$json" > /dev/null
    done
done
SEEDS="$SEEDS" "${PYTHON:-python3}" - "$FOLDER" $PROTOCOLS <<'SEEDS'
import json
import os
import sys
from pathlib import Path

folder, protocols = Path(sys.argv[1]), sys.argv[2:]
seeds = [int(s) for s in os.environ["SEEDS"].split()]
first = json.loads((folder / f"{protocols[0]}-seed-{seeds[0]}.json").read_text())["dataset"]
names = ("popularity", "als", "ease", "item_knn", "user_knn", "hybrid")
span = f"Seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"Seed {seeds[0]}"
print(f"\n## {span}, every model tuned on its split's train part\n")
print(f"{first['ratings']:,} ratings of {first['users']:,} users on {first['items']:,} movies. "
      "NDCG@10 from `moviebot evaluate --tune --protocol P --seed S --models "
      + ",".join(names) + "`; the best baseline of the run, the hybrid's ratio to it and the "
      "paired 95% interval of the per-user difference, and the hybrid's RMSE.\n")
print("| protocol | seed | " + " | ".join(names)
      + " | best baseline | hybrid ÷ best | hybrid − best (95%) | RMSE |")
print("|---|---|" + "---|" * (len(names) + 4))
for protocol in protocols:
    for seed in seeds:
        path = folder / f"{protocol}-seed-{seed}.json"
        if not path.exists():
            continue
        report = json.loads(path.read_text())
        m = report["models"]
        ndcg = {n: m[n].get("ndcg@10", float("nan")) for n in names}
        best = max((n for n in names if n != "hybrid"), key=lambda n: ndcg[n])
        p = report["paired"][best]
        print(f"| {protocol} | {seed} | " + " | ".join(f"{ndcg[n]:.3f}" for n in names)
              + f" | {best} | {p['ratio']:.3f}× | {p['mean']:+.4f} "
              + f"[{p['low']:+.4f}, {p['high']:+.4f}] | {m['hybrid'].get('rmse', float('nan')):.3f} |")
SEEDS
