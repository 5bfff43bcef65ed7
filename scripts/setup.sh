#!/usr/bin/env bash
# Create .venv and install mirrorneuron_nb with everything the tests and demo need.
#
# `pip install -e .` also builds the JupyterLab extension (labextension/ -> a prebuilt
# extension inside the package, see pyproject.toml): that needs Node.js 20+ and the npm
# registry; it is skipped when the built output is newer than labextension/src.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js 20+ is needed to build the JupyterLab extension (labextension/)" >&2
  exit 1
fi

# Debian packages the tests drive, installed when missing (as root with apt-get; else the
# command to run is printed). The package index is updated once, for the first of them.
APT_UPDATED=""
install_deb() {  # PACKAGE WHY
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's $1 for $2"
    if [ -z "$APT_UPDATED" ]; then
      apt-get update -qq
      APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "setup: $1 is missing; $2 need it: sudo apt-get install -y $1" >&2
  fi
}

# The browser tests drive Debian's chromium (a browser download is not possible here).
if [ ! -x /usr/bin/chromium ]; then
  install_deb chromium "the browser tests"
fi

# The shared-store tests start Debian's PostgreSQL server (initdb + pg_ctl in a temp dir).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  install_deb postgresql "the shared-store tests"
fi

# And a PgBouncer in transaction mode in front of it (the store keeps no session state).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  install_deb pgbouncer "the pooler tests"
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# PyTorch first, on its own, at the pin pyproject.toml's `libs` extra names. Asked for alone,
# that pin takes the CPU build this machine kind keeps on disk; resolved among all the test
# extras, pip took PyPI's CUDA build, 4.6 GB of GPU libraries that once filled CI's disk.
# With the pin met, the install below fetches no other torch.
TORCH_PIN="$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')"
.venv/bin/python -m pip install --quiet "$TORCH_PIN"
.venv/bin/python -m pip install --quiet -e ".[test]"
