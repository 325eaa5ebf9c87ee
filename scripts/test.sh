#!/usr/bin/env bash
# The whole test suite: install what is missing, then run pytest. The tests start
# their own PostgreSQL cluster in a temporary directory and remove it afterwards.
# Extra arguments go to pytest (e.g. scripts/test.sh -k migrate). --fast, first,
# skips the tests marked slow and runs the rest on two workers (a cluster each): the
# loop to run while working. CI runs everything, in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff format --check --quiet . || { echo "ruff format: run .venv/bin/ruff format ." >&2; exit 1; }
.venv/bin/ruff check --quiet .
.venv/bin/mypy src/aef_db  # the package ships py.typed: its types must hold
fast=()
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=(-m "not slow" -n 2)
fi
exec .venv/bin/python -m pytest "${fast[@]}" "$@"
