#!/bin/sh
# Regenerate the committed evaluation report (docs/evaluation.md, .json, .png).
#
#   bench/evaluation_report.sh [DB]      (default DB: data/moviebot.sqlite)
#
# Needs a database with MovieLens 100K (`moviebot --db DB data fetch`). Figures use the
# committed defaults: run it where no models/tuned.json exists (or move it aside).
# Takes about 25 s of CPU per protocol on ML-100K.
set -eu
DB="${1:-data/moviebot.sqlite}"
MOVIEBOT="${MOVIEBOT:-moviebot}"
OUT=docs/evaluation.md
if [ -e models/tuned.json ]; then
    echo "models/tuned.json exists: the report would not show the committed defaults" >&2
    exit 1
fi
"$MOVIEBOT" --db "$DB" evaluate --json docs/evaluation.json --plot docs/evaluation.png > "$OUT"
for n in 3 5 10; do
    printf '\n' >> "$OUT"
    "$MOVIEBOT" --db "$DB" evaluate --protocol "given-$n" --json "docs/evaluation-given-$n.json" \
        | sed 's/^# Evaluation: /## Cold start, evaluation: /' >> "$OUT"
done
echo "wrote $OUT, docs/evaluation.json, docs/evaluation-given-{3,5,10}.json, docs/evaluation.png" >&2
