#!/usr/bin/env bash
# The main job, end to end, on the bundled example submissions. Works on a fresh machine that has
# only Python 3.11, pip and apt. Everything it writes goes under ./out (or the folder given).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
uv run --frozen mhdeaths demo --out "${1:-out}"
