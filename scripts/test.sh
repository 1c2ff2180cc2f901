#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, then lint, type check and test,
# with branch coverage measured and reported. Works on a fresh machine that has only Python 3.11,
# pip and apt.
#
#   bash scripts/test.sh            everything, as CI runs it
#   bash scripts/test.sh --fast     lint and the tests not marked slow: the inner loop, under a minute
#   bash scripts/test.sh ARGS...    everything, with ARGS passed on to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# Python's bytecode cache on, whatever the machine says (some, this project's own among them, set
# PYTHONDONTWRITEBYTECODE): the suite starts the real command in a few thousand subprocesses, and
# without the cache each one compiles mhdeaths, polars, pydantic and typer from source again,
# which doubled the suite's CPU time (docs/development.md).
unset PYTHONDONTWRITEBYTECODE

if [[ "${1:-}" == "--fast" ]]; then
    shift
    source scripts/setup.sh
    uv run --frozen ruff check .
    HYPOTHESIS_PROFILE=fast uv run --frozen pytest -n 2 --dist worksteal -q -m "not slow" "$@"
    exit
fi

MHDEATHS_NEED_BROWSER=1 source scripts/setup.sh

echo "== ruff (lint and format)"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== mypy (strict, src/)"
uv run --frozen mypy
echo "== pytest (branch coverage of the code the tests run in-process)"
HYPOTHESIS_PROFILE=ci uv run --frozen pytest -n 2 --dist worksteal -q \
    --cov --cov-report=term --cov-report=html:.coverage-html "$@"
