# The course's two commands: `make lab` opens it, `make test` checks it.
# Both create .venv and install everything on first use (Python 3.10+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
NB     ?= [0-9][0-9]_*.ipynb

.PHONY: lab test install notebooks bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "daylib needs Python 3.10 or newer, this is " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root)

test: install
	DAYLIB_QUICK=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg --durations=15

# Full-mode run of every lesson (or one: make notebooks NB=03_class_activation_maps.ipynb), outputs stored in place (what GitHub shows). Never hand-edit outputs.
# A fresh cache dir, so stored outputs never depend on features or runs cached by earlier work.
notebooks: install
	cache=$$(mktemp -d) && cd notebooks && for nb in $(NB); do \
	  echo "== $$nb"; DAYLIB_QUICK=0 DAYLIB_CACHE_DIR=$$cache ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1200 --ExecutePreprocessor.store_widget_state=False "$$nb" || exit 1; \
	done; rm -rf $$cache

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
