#!/usr/bin/env bash
# Creates .venv with the pinned dependencies and installs omnicloud into it (editable).
# Re-installs only when requirements, constraints or pyproject change. With --with-emulators
# it also installs Azurite from npm and Debian's chromium (tests need them; `omnicloud dev` does not).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
[ -n "$python" ] || { echo "omnicloud setup: no python3 found; install Python 3.11 and retry" >&2; exit 1; }

# Hide pip's warnings about index locations this machine's pip config names but lacks.
pip_quiet() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }

if [ ! -x .venv/bin/python ]; then
  echo "omnicloud setup: creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi

stamp=.venv/.omnicloud-installed
want=$(cat requirements.txt requirements-dev.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "omnicloud setup: installing pinned dependencies into .venv (the first run takes a few minutes)" >&2
  pip_quiet .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt -c constraints.txt
  pip_quiet .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps -e .
  echo "$want" > "$stamp"
fi

if [ "${1:-}" = "--with-emulators" ]; then
  lockhash=$(sha256sum package-lock.json | cut -c1-16)
  if [ "$(cat node_modules/.omnicloud-installed 2>/dev/null || true)" != "$lockhash" ]; then
    command -v npm >/dev/null 2>&1 || { echo "omnicloud setup: npm not found; install Node.js 20+ for Azurite" >&2; exit 1; }
    echo "omnicloud setup: installing Azurite from npm" >&2
    npm ci --silent --no-audit --no-fund >&2
    echo "$lockhash" > node_modules/.omnicloud-installed
  fi
fi

# The browser tests (tests/browser/) drive Debian's chromium with Playwright; Playwright's own
# browser download is not used. Installed when missing, as on a clean CI machine.
if [ "${1:-}" = "--with-emulators" ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "omnicloud setup: installing Debian's chromium for the browser tests (apt-get install chromium)" >&2
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >&2; then
    echo "omnicloud setup: could not install chromium; install it (apt-get install chromium): without it the browser tests skip, and fail under CI=true" >&2
  fi
fi
