#!/usr/bin/env bash
# The one-shot first-GPU check (nbprofile/gpucheck): run from anywhere in the repository after
#   pip install -e ".[test,gpu]"   and a CUDA build of torch.
# Writes gpucheck-out/gpucheck.json (raw facts) and gpucheck-out/gpucheck.txt (summary); extra
# arguments go to the check (--out DIR, --quick). Exits 0 even where there is no GPU.
set -u
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" -m nbprofile.gpucheck "$@"
