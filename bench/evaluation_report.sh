#!/bin/sh
# Regenerate the committed evaluation report (docs/evaluation.md, .json, .png).
#
#   bench/evaluation_report.sh [DB]      (default DB: data/moviebot.sqlite)
#
# Needs a database with MovieLens 100K (`moviebot --db DB data fetch`). The first four
# reports use the committed defaults (what `train` uses without a tuned.json): run this where
# no models/tuned.json exists. The last two run `evaluate --tune` with a throw-away model
# directory, so tuning happens on the train part of the very split that is then scored.
# About 25 s of CPU per report on ML-100K, about a minute with --tune.
set -eu
DB="${1:-data/moviebot.sqlite}"
MOVIEBOT="${MOVIEBOT:-moviebot}"
OUT=docs/evaluation.md
if [ -e "${MOVIEBOT_MODEL_DIR:-models}/tuned.json" ]; then
    echo "${MOVIEBOT_MODEL_DIR:-models}/tuned.json exists: the report would not show the" \
        "committed defaults; move it aside first" >&2
    exit 1
fi
"$MOVIEBOT" --db "$DB" evaluate --json docs/evaluation.json --plot docs/evaluation.png > "$OUT"
for n in 3 5 10; do
    printf '\n' >> "$OUT"
    "$MOVIEBOT" --db "$DB" evaluate --protocol "given-$n" --json "docs/evaluation-given-$n.json" \
        | sed 's/^# Evaluation: /## Cold start, evaluation: /' >> "$OUT"
done
TUNED_DIR=$(mktemp -d)
trap 'rm -rf "$TUNED_DIR"' EXIT
for protocol in holdout given-5; do
    printf '\n' >> "$OUT"
    rm -f "$TUNED_DIR/tuned.json"
    MOVIEBOT_MODEL_DIR="$TUNED_DIR" "$MOVIEBOT" --db "$DB" evaluate --tune --protocol "$protocol" \
        --json "docs/evaluation-tuned-$protocol.json" \
        | sed 's/^# Evaluation: /## After `moviebot tune` on its train part, evaluation: /' >> "$OUT"
done
echo "wrote $OUT, docs/evaluation*.json and docs/evaluation.png" >&2
