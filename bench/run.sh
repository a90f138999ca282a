#!/usr/bin/env bash
# Every benchmark in one command: sets up .venv (scripts/setup.sh) plus the peer stacks measured
# side by side (bench/requirements.txt), then runs them all; results in bench/results/latest.jsonl
# and BENCHMARKS.md.
# Usage: bench/run.sh [--quick] [--only cold_start,warm_overhead,...]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/python -m pip install --disable-pip-version-check -q -r bench/requirements.txt -c constraints.txt \
  2> >(grep -v "^WARNING: Location '" >&2)
exec .venv/bin/python bench/run.py "$@"
