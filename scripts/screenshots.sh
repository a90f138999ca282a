#!/usr/bin/env bash
# Retake the README's screenshots of the console and the dashboard (docs/img/*.png): the browser
# tests save them while they run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --with-emulators
cd "$root"
OMNICLOUD_SCREENSHOTS=docs/img exec .venv/bin/python -m pytest tests/browser -q "$@"
