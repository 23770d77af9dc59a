#!/usr/bin/env bash
# Install nbprofile with its test dependencies into ./.venv and run the whole test suite.
# This is the README's test command; CI runs it too (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test]"
python -m pytest "$@"
