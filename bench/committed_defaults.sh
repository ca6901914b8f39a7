# Sourced by the report scripts: stop if a tuned.json would replace the committed defaults.
# Each database keeps its tuned.json in its own folder of the model directory (an older
# moviebot kept one shared file at the top, which a database it trained still copies in).
MODELS="${MOVIEBOT_MODEL_DIR:-models}"
for tuned in "$MODELS"/tuned.json "$MODELS"/*/tuned.json; do
    if [ -e "$tuned" ]; then
        echo "$tuned exists: the figures would not show the committed defaults; move it" \
            "aside first" >&2
        exit 1
    fi
done
