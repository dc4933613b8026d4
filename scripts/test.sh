#!/usr/bin/env bash
# The test command: sets up what it needs, lints (ruff), then runs the whole suite (slow end-to-end tests included).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` for the fast part only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .   # [tool.ruff] in pyproject.toml
exec .venv/bin/python -m pytest "$@"
