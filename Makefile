# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COMPAT_STAMP := $(VENV)/.installed-compat

.PHONY: demo test fuzz test-inductor test-compat lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The pinned CPU torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m aleatorch tour

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m pytest -n 2 -q

# The deep fuzz profile (tests/fuzz): many more examples than `make test` runs, a fixed seed,
# no example database; prints the counts by outcome.
fuzz: $(STAMP)
	ALEATORCH_FUZZ=deep $(PY) -m pytest -n 2 -q tests/fuzz

# Every family's log_prob, sample, rsample and entropy compiled by inductor with
# fullgraph=True (tests/test_compile_families.py; make test compiles a subset).
test-inductor: $(STAMP)
	$(PY) -m pytest -n 2 -q -m inductor tests/test_compile_families.py

# Pyro, zuko and stable-baselines3 run on aleatorch (compat/, not collected by `make test`).
$(COMPAT_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[compat]'
	touch $(COMPAT_STAMP)

test-compat: $(COMPAT_STAMP)
	$(PY) -m ruff check compat
	$(PY) -m ruff format --check compat
	$(PY) -m pytest -q compat

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

# Every benchmark script, then the summary (geometric means per group, cases slower than
# torch, samplers above 3x their floor); options go through, e.g. BENCH_ARGS="--repeats 3".
bench: $(STAMP)
	$(PY) benchmarks/summary.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
