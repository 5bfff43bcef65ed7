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

# The browser tests drive Debian's chromium (a browser download is not possible here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; the browser tests need it:" \
      "sudo apt-get install -y chromium" >&2
  fi
fi

# The shared-store tests start Debian's PostgreSQL server (initdb + pg_ctl in a temp dir).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's postgresql for the shared-store tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL is missing; the shared-store tests need it:" \
      "sudo apt-get install -y postgresql" >&2
  fi
fi

# And a PgBouncer in transaction mode in front of it (the store keeps no session state).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's pgbouncer for the shared-store tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  else
    echo "setup: pgbouncer is missing; the pooler tests need it:" \
      "sudo apt-get install -y pgbouncer" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
