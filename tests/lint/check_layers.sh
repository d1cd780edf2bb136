#!/usr/bin/env bash
# The layers of docs/architecture.md: check_layers.py over the source tree,
# and over faiid's symbols (no demo keys or sample messages in the daemon).
#   check_layers.sh SOURCE_ROOT FAIID
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require nm python3
root=$1 faiid=$2
symbols=$(mktemp)
trap 'rm -f "$symbols"' EXIT
nm --defined-only "$faiid" >"$symbols"
python3 "$(dirname "${BASH_SOURCE[0]}")/check_layers.py" "$root" "$symbols"
