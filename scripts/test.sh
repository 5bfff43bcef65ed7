#!/usr/bin/env bash
# Set up, then lint, type-check and run the whole test suite (real kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy
# Two workers (pytest-xdist): most tests wait on kernels, so two share two cores well
# (the whole suite took 20 min so on a 2-core VM). MN_TEST_WORKERS=0 runs serially.
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${MN_TEST_WORKERS:-2}" --durations=25 "$@"
