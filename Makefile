# Two entry points a newcomer needs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint postgres bench lsp-bench memory-bench fuzz producers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,producers]'
	# An editable install compiles nothing: without this, a run under PYTHONDONTWRITEBYTECODE compiles every module.
	$(BIN)/python -m compileall -q server
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	cd fixtures && ../$(BIN)/python -m server check; test $$? -le 1

lint: $(STAMP)
	$(BIN)/ruff check server tests fixtures bench
	$(BIN)/ruff format --check server tests fixtures bench
	$(BIN)/mypy

# The LangGraph conformance tests start a private PostgreSQL server (tests/producers/conftest.py):
# Debian's package, installed when missing (CI runs as root); a failed install stops `make test`.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

# Two pytest-xdist workers: the tests wait on server processes and pytest subprocesses as much as they compute.
test: lint postgres
	$(BIN)/python -m pytest -n 2
	$(MAKE) -C vscode-extension test

# A longer fuzzing run than the one in `make test` (same tests, more examples).
fuzz: $(STAMP)
	REPLAY_LENS_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest tests/fuzz
	REPLAY_LENS_KILL_TRIALS=100 $(BIN)/python -m pytest -s tests/test_write_safety.py

# Benchmarks (not part of `make test`: timings are measured, never asserted). See bench/run.py.
# Each first compiles what changed since setup: under PYTHONDONTWRITEBYTECODE an edited module would be
# compiled again by every process the bench starts (4 ms for workspace.py alone), and measured with it.
.PHONY: compiled
compiled: $(STAMP)
	$(BIN)/python -m compileall -q server

bench: compiled
	$(BIN)/python -m bench.run

lsp-bench: compiled
	$(BIN)/python -m bench.lsp_bench

memory-bench: compiled
	$(BIN)/python -m bench.memory

# What holds the language server's memory in lsp-bench's workload (tracemalloc per phase; --untraced: RSS only).
.PHONY: lsp-memory
lsp-memory: compiled
	$(BIN)/python -m bench.lsp_memory

# First diagnostics on the 20 MB fixture beside VS Code's JSON language server in the same run; the server
# comes from npm (vscode-langservers-extracted, pinned in bench/first_open.py) into ~/.cache/replay-lens/.
.PHONY: first-open-bench
first-open-bench: compiled
	$(BIN)/python -m bench.first_open

# History depth, whole processes in one run: `check` on 10/30/120-call sessions beside the reference and the
# floor, and `replay --against` of one deep session beside `check` on it. Smaller on a small machine:
# DEPTH_BENCH_CALLS=1000 (deep session), DEPTH_BENCH_DEPTHS=10,30, DEPTH_BENCH_MB=20 (see bench/depth.py).
.PHONY: depth-bench
depth-bench: compiled
	$(BIN)/python -m bench.depth

# Every history shape in one run (bench/shapes.py): depth 10/30/120 (2,000 with --big), many small fixtures,
# replay of a deep session, and the cost curve (fixed s + ms/MB for check, engine, reference and floor).
# Whole-process figures beside engine time. The issue's sizes: make shapes-bench SHAPES_BENCH_ARGS=--big.
.PHONY: shapes-bench small-fixtures-bench
shapes-bench: compiled
	$(BIN)/python -m bench.shapes $(SHAPES_BENCH_ARGS)

# check on many small fixtures, cold then warm, output compared byte for byte (bench/small_fixtures.py):
# 2,000 fixtures by default; the issue's size: make small-fixtures-bench SMALL_FIXTURES=10000.
small-fixtures-bench: compiled
	$(BIN)/python -m bench.small_fixtures --fixtures $(or $(SMALL_FIXTURES),2000)

# A replay that misses deep in a long session, beside `check` on the same file, whole processes: one
# 2,000-call session with one early message changed in its last call (REPLAY_DEEP_CALLS=1000 for a smaller
# one; REPLAY_DEEP_MISSES=all changes it in every call). See bench/replay_deep.py.
.PHONY: replay-deep-bench
replay-deep-bench: compiled
	$(BIN)/python -m bench.replay_deep

# Regenerate the conformance data from the real producers (not part of `make test`: tests read the
# committed output). Codex: the pinned CLI from npm, run offline against tests/producers/codex/fake_responses.py.
producers: $(STAMP)
	$(BIN)/python -m tests.producers.codex.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
