#!/usr/bin/env bash
# Install nbprofile with its test dependencies into ./.venv and run the whole test suite.
# This is the README's test command; CI runs it too (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's chromium (Playwright downloads no browser here).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The team store's tests start a throwaway PostgreSQL server (initdb, pg_ctl) of their own.
if ! command -v pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test]"   # also builds the JupyterLab panel (needs node >= 20.19)
# What some features are measured with, installed so that every feature is tested, here as in CI:
# torch (FLOP counting, the torch meter on CPU), transformers (generate()), codecarbon (its data).
# torch 2.13.0 installs as a CPU build where a local wheel is at hand; elsewhere pip downloads it.
python -m pip install --quiet "torch==2.13.0" transformers "codecarbon>=3"
(cd labextension && jlpm test)                 # the panel's formatters
python -m pytest "$@"
