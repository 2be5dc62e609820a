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

test: lint postgres
	$(BIN)/python -m pytest
	$(MAKE) -C vscode-extension test

# A longer fuzzing run than the one in `make test` (same tests, more examples).
fuzz: $(STAMP)
	REPLAY_LENS_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest tests/fuzz
	REPLAY_LENS_KILL_TRIALS=100 $(BIN)/python -m pytest -s tests/test_write_safety.py

# Benchmarks (not part of `make test`: timings are measured, never asserted). See bench/run.py.
bench: $(STAMP)
	$(BIN)/python -m bench.run

lsp-bench: $(STAMP)
	$(BIN)/python -m bench.lsp_bench

memory-bench: $(STAMP)
	$(BIN)/python -m bench.memory

# History depth, whole processes in one run: `check` on 10/30/120-call sessions beside the reference and the
# floor, and `replay --against` of one deep session beside `check` on it. Smaller on a small machine:
# DEPTH_BENCH_CALLS=1000 (deep session), DEPTH_BENCH_DEPTHS=10,30, DEPTH_BENCH_MB=20 (see bench/depth.py).
.PHONY: depth-bench
depth-bench: $(STAMP)
	$(BIN)/python -m bench.depth

# A replay that misses deep in a long session, beside `check` on the same file, whole processes: one
# 2,000-call session with one early message changed in its last call (REPLAY_DEEP_CALLS=1000 for a smaller
# one; REPLAY_DEEP_MISSES=all changes it in every call). See bench/replay_deep.py.
.PHONY: replay-deep-bench
replay-deep-bench: $(STAMP)
	$(BIN)/python -m bench.replay_deep

# Regenerate the conformance data from the real producers (not part of `make test`: tests read the
# committed output). Codex: the pinned CLI from npm, run offline against tests/producers/codex/fake_responses.py.
producers: $(STAMP)
	$(BIN)/python -m tests.producers.codex.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
