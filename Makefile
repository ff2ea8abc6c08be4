# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install avemo, run `dvc repro` on the bundled demo corpus
#   make test   - create .venv, install avemo with the dev extra, run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Caches stay inside the project, not in system-wide folders.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLCONFIGDIR    := $(CURDIR)/.cache/matplotlib
export KERAS_HOME      := $(CURDIR)/.cache/keras
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test bench bench-full install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "avemo needs Python >= 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,egemaps]'
	touch $@

install: $(VENV)/.installed

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@echo
	@sed -n '/^## Table I/,/^## Per-class/p' reports/results.md | grep -v '^## Per-class'
	@echo "Results: reports/results.md and reports/*.png; models/*.keras; metrics/ (dvc metrics show);"
	@echo "plots/ (dvc plots show); feature stores in data/store/ (avemo inspect data/store/faces)."

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

# Every stage on the 7,442-clip rehearsal corpus: ~20-30 min on 2 cores, ~10 GB of disk.
bench-full: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_full.py --work .cache/bench-full

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis
