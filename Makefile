# Two commands for learners: `make tutorial` and `make test`. Both build .venv from requirements.lock first.
# `make test-all` is the whole suite, what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: tutorial test test-all test-matrix references translations book bench evaluate toyworld lab lint environment.yml clean

$(VENV)/installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Run every notebook on the embedded model into runs/<timestamp>/ and print a summary.
tutorial: $(VENV)/installed
	$(BIN)/sdtutorial run

# What proves the promise, in minutes: nbval of every notebook against the committed outputs, the guide's plain
# code, the exercises, the command's refusals, the comparison's catch rate, one run under another instruction set.
test: $(VENV)/installed
	$(BIN)/python -m pytest -m "not extended"

# Everything: also every notebook under each instruction set, papermill with other parameters, Ray sweeps,
# nbgrader, a wheel in a new venv, stopping with Ctrl-C, and the browser tests, for which it first finds or
# installs Chromium (scripts/ensure_browser.sh).
test-all: $(VENV)/installed
	scripts/ensure_browser.sh $(BIN)/playwright
	$(BIN)/python -m pytest

# nbval of every notebook under each instruction set this CPU can emulate x 1, 2 and 4 threads (about 4 minutes
# a setting on 2 cores); prints a table of the settings and exits non-zero if any fails.
test-matrix: $(VENV)/installed
	$(BIN)/python scripts/nbval_matrix.py

# The one documented way to refresh the committed reference outputs of notebooks/ and the exercises' stored answers.
references: $(VENV)/installed
	$(BIN)/sdtutorial references

# The translated notebooks (notebooks/ar/) from the English ones and translations/ar/, and the check() messages'
# catalogs brought up to date; lists every section or message a translator still has to write. Seconds.
translations: $(VENV)/installed
	$(BIN)/sdtutorial translations

# The book: the notebooks as committed (nothing runs) and docs/ as a website with search, in docs/_build/html, and its
# Arabic edition (docs/ar and notebooks/ar) in docs/_build/html/ar; warnings are errors. Seconds.
book: $(VENV)/installed
	$(BIN)/sphinx-build -q -W -b html docs docs/_build/html
	$(BIN)/sphinx-build -q -W -b html docs/ar docs/_build/html/ar
	@echo "open docs/_build/html/index.html"

# The guide's variants on Stable Diffusion v1.5's architecture (sd15-arch), side by side, at 256x256, and OpenVINO
# running the same pipeline: 12-20 minutes on 2 CPU cores with native bfloat16 (AMX, Zen 4), some 45 on 2 AVX2 cores (where
# bfloat16 is emulated, the half rows run in float32). On a GPU: make bench BENCH_ARGS="--memory-budget 16GiB".
BENCH_ARGS ?= --height 256 --width 256 --peer openvino
bench: $(VENV)/installed
	$(BIN)/sdtutorial bench --model sd15-arch $(BENCH_ARGS)

# The trained toyworld models measured against the guide's claims, 200 prompts each; about 3.5 minutes on 2 CPU cores.
evaluate: $(VENV)/installed
	$(BIN)/sdtutorial evaluate

# Retrain the toyworld models from scratch into sdtutorial/models/ (about 162 minutes on 2 CPU cores), then
# refresh the notebooks' references, whose fingerprints come from these weights.
toyworld: $(VENV)/installed
	$(BIN)/python scripts/train_toyworld.py
	$(MAKE) references

# JupyterLab on the notebooks, in the same environment (the playground is 05_playground.ipynb).
lab: $(VENV)/installed
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(VENV)/installed
	$(BIN)/ruff check sdtutorial tests scripts notebooks

# environment.yml (for conda users) is written from requirements.lock, the single source of versions.
environment.yml: requirements.lock
	{ echo "# Written from requirements.lock by 'make environment.yml'; do not edit by hand."; \
	  echo "name: sdtutorial"; echo "channels: [conda-forge]"; echo "dependencies:"; \
	  echo "  - python=3.11"; echo "  - pip"; echo "  - pip:"; \
	  grep -v '^#' requirements.lock | sed 's/^/      - /'; echo "      - -e ."; } > $@

clean:
	rm -rf $(VENV) runs docs/_build
