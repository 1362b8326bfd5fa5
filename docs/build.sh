#!/usr/bin/env bash
# Build the API reference (HTML, from the docstrings) into docs/reference, or into "$1".
# Warnings are errors: a broken reference fails here, as it does in CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
python -W error -m pdoc -o "${1:-docs/reference}" \
    xprotect_events xprotect_events.testing xprotect_events.testing.plugin
