#!/usr/bin/env bash
# Second command of the README (and what CI runs): set up, then run the whole test suite.
# The tests start and stop every emulator themselves, on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --with-emulators
cd "$root"
exec .venv/bin/python -m pytest "$@"
