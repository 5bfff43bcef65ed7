#!/usr/bin/env bash
# Set up, then run the demo: a notebook run fails midway, the kernel dies, a new kernel
# resumes from the last good step, the run finishes, and the step table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mn-nb demo "$@"
