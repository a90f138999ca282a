#!/usr/bin/env bash
# First command of the README: set up, then run the agent platform locally with `omnicloud dev`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/omnicloud dev "$@"
