# Two commands are all a newcomer needs:
#   make run    set everything up, fetch MovieLens 100K, train, start the bot
#               (on Telegram if TELEGRAM_BOT_TOKEN is set, otherwise the offline chat)
#   make test   run the linter, the format check, the type checker and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install data train lint clean screenshots bench-crash

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

data: install
	$(BIN)/moviebot data fetch

train: data
	$(BIN)/moviebot train --if-needed

run: train
	$(BIN)/moviebot start

# make bench SCALE=0.01: every figure of docs/benchmarks.md at that scale of ML-25M (bench/scale.py)
.PHONY: bench
SCALE ?= 0.01
bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/scale.py --scale $(SCALE)

test: install
	$(BIN)/ruff check bot emulator recommender storage web tests bench
	$(BIN)/ruff format --check bot emulator recommender storage web tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Photographs of the web app (docs/web/*.png), in Debian's chromium (apt-get install chromium
# chromium-driver fonts-noto-color-emoji).
screenshots: install
	$(BIN)/python bench/web_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Crash under load (not part of `make test`): 1,000 simulated people, 50 groups, 3 SIGKILLs of
# `moviebot run`; prints updates/s, latency percentiles, lost/doubled counts (docs/reliability.md).
# Smaller: make bench-crash CRASH_ARGS="--users 200 --kills 3"
CRASH_ARGS ?= --users 1000 --groups 50 --kills 3
bench-crash: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/crash_load.py $(CRASH_ARGS) --json crash_load.json
