# The course's two commands: `make lab` opens it, `make test` checks it.
# Both create .venv and install everything on first use (Python 3.10+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
NB     ?= [0-9][0-9]_*.ipynb
COURSE ?= build/course

.PHONY: lab test install notebooks bench clean solutions release grade

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "daylib needs Python 3.10 or newer, this is " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root)

# Two worker processes (pytest-xdist), each file on one worker: a lesson's cells run in order in one kernel, and
# the two cores of a CI machine both work (most of the time goes to single-threaded graph tracing).
test: install
	DAYLIB_QUICK=1 $(BIN)/python -m pytest notebooks tests -n 2 --dist loadfile --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg --durations=15

# Full-mode run of every lesson (or one: make notebooks NB=03_class_activation_maps.ipynb), outputs stored in place (what GitHub shows). Never hand-edit outputs.
# A fresh cache dir, so stored outputs never depend on features or runs cached by earlier work.
notebooks: install
	cache=$$(mktemp -d) && cd notebooks && for nb in $(NB); do \
	  echo "== $$nb"; DAYLIB_QUICK=0 DAYLIB_CACHE_DIR=$$cache ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1200 --ExecutePreprocessor.store_widget_state=False "$$nb" || exit 1; \
	done; rm -rf $$cache

# The solved lessons, run in full mode, into notebooks/solutions/ (gitignored: never commit them).
solutions: install
	$(BIN)/python -m daylib.exercises.solutions

# Teaching with nbgrader (README, "Teaching with daylib"). make release LESSON=03 writes the course folder
# $(COURSE) and the student version $(COURSE)/release/lesson03/; make grade LESSON=03 autogrades
# $(COURSE)/submitted/<student>/lesson03/ (DAYLIB_QUICK=1 make grade ... grades in quick mode).
release: install
	@test -n "$(LESSON)" || { echo "usage: make release LESSON=03 [COURSE=$(COURSE)]"; exit 2; }
	$(BIN)/python -m daylib.exercises.grading release $(LESSON) --course $(COURSE)

grade: install
	@test -n "$(LESSON)" || { echo "usage: make grade LESSON=03 [COURSE=$(COURSE)]"; exit 2; }
	$(BIN)/python -m daylib.exercises.grading grade $(LESSON) --course $(COURSE)

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
