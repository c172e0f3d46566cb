# `make run` and `make test` set everything up on first use and are quick after.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
AXE := node_modules/axe-core/axe.min.js
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run chat test chromium index eval bench train triage reader calibrate learning-curve clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# The CPU build of torch first: an unpinned torch would pull gigabytes of CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# axe-core (npm) checks the chat page's accessibility in the browser tests.
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

run: $(STAMP)
	$(PY) app.py

chat: $(STAMP)
	$(PY) -m qa chat

test: $(STAMP) $(AXE) chromium
	$(PY) -m pytest -q

# The browser tests drive Debian's Chromium (never a downloaded one). When it is missing it
# is installed where this user may (root with apt-get, as .ci/run does; QA_NO_INSTALL=1 says
# no); otherwise `make test` stops with the one command to run, never passing without them.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && [ -z "$$QA_NO_INSTALL" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests (apt-get install chromium)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "error: the browser tests need Debian's chromium at $(CHROMIUM); install it with: sudo apt-get install chromium" >&2; \
	    exit 2; \
	  fi; \
	fi

index: $(STAMP)
	$(PY) -m qa index

# With leave-one-document-out: the first run trains a reader per document and one
# without the training leaflets (40 to 70 minutes each, 5 in all, on 2 cores; kept in
# .cache/lodo, keyed by data and config); later runs take minutes.
eval: $(STAMP)
	$(PY) -m qa eval --split all --report eval --blind --lodo

bench: $(STAMP)
	$(PY) eval/bench.py

# Fine-tunes the shipped models in models/ from the packaged MiniLM weights on
# train/ (embedding and answer model, triage, reader), then calibrates on the
# dev split. `make run` never does this.
train: $(STAMP)
	$(PY) -m qa train
	$(PY) -m qa train-triage
	$(PY) -m qa train-reader
	$(PY) -m qa calibrate --choose-blend

# Retrain only the reader (40 to 70 minutes on 2 cores), then recalibrate: the confidence
# reads it, with the reader's share of the score chosen for this reader (--choose-blend).
reader: $(STAMP)
	$(PY) -m qa train-reader
	$(PY) -m qa calibrate --choose-blend

# Refit only the urgent-sign triage (a minute or two).
triage: $(STAMP)
	$(PY) -m qa train-triage

calibrate: $(STAMP)
	$(PY) -m qa calibrate

learning-curve: $(STAMP)
	$(PY) eval/learning_curve.py

clean:
	rm -rf index .pytest_cache
