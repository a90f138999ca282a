#!/usr/bin/env bash
# Second command of the README (and what CI runs): set up, then run the whole test suite.
# The tests start and stop every emulator themselves, on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --with-emulators
cd "$root"
# One worker per core (pytest-xdist), each test file on one worker (module fixtures build once).
exec .venv/bin/python -m pytest -n auto --dist loadfile "$@"
