#!/usr/bin/env bash
# Install the package with its test dependencies, lint, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
python3 -m ruff check vectorizer tests bench
python3 -m pytest -q -n 2 --dist loadfile "$@"
