#!/usr/bin/env bash
# Set up, then run the demo: a batch run fails midway, the next one resumes at the failed
# step; a kernel restores the steps, runs an edited cell and is killed; a fresh kernel gets
# its state back with %mn_resume; a table shows what each step did in each run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mn-nb demo "$@"
