#!/usr/bin/env bash
# Refresh docs/panel.png, docs/timeline.png and docs/panel-dark.png from a real JupyterLab
# and chromium (the browser tests of tests/ui/test_panel_layout.py and
# tests/ui/test_panel_themes.py take them at the end of their runs).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd labextension && PATH="$PWD/../.venv/bin:$PATH" jlpm build)
MIRRORNEURON_PANEL_SCREENSHOT="$PWD/docs/panel.png" \
MIRRORNEURON_TIMELINE_SCREENSHOT="$PWD/docs/timeline.png" \
MIRRORNEURON_PANEL_DARK_SCREENSHOT="$PWD/docs/panel-dark.png" \
PYTHONPATH="$PWD" .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/ui/test_panel_layout.py tests/ui/test_panel_themes.py \
  -k "fits or timeline or (Dark and not High and not notebook7)"
