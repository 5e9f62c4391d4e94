#!/usr/bin/env bash
# The test command: lint (ruff), type check (mypy on registry/ and cli/, one configuration), then the whole pytest suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
python3 -m ruff check registry cli tests scripts
echo "== mypy"
python3 -m mypy registry cli
echo "== pytest"
python3 -m pytest -q "$@"
