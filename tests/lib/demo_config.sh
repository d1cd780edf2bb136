#!/usr/bin/env bash
# The demonstration configuration for an integration test that starts faiid:
#
#   config=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" \
#            "$gen_demo_config" "$config" "$tmp")
#
# configs/demo.yaml turns authentication on with key files that cannot live
# in git (owner-only, mode 0600): this writes them with GEN (gen_demo_config
# --keys) into DIR/demo-keys, and a copy of CONFIG into DIR/demo.yaml whose
# appliance.auth paths name them; it prints the copy's path. The test's
# traffic is then MAC'd under the same demo keys.
#   demo_config.sh GEN CONFIG DIR
set -euo pipefail
gen=$1 config=$2 dir=$3
"$gen" --keys "$dir/demo-keys" >/dev/null
sed -e "s|: \.\./run/demo-keys/|: $dir/demo-keys/|" "$config" >"$dir/demo.yaml"
if ! grep -q "key_file: $dir/demo-keys/appliance.key" "$dir/demo.yaml"; then
	echo "FAIL: demo_config.sh: $config has no appliance.auth.key_file to point at" >&2
	exit 1
fi
echo "$dir/demo.yaml"
