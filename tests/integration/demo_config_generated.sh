#!/usr/bin/env bash
# configs/demo.yaml must be exactly what tools/gen_demo_config.c writes, so
# that the fleet and its deterministic keys never drift apart.
#   demo_config_generated.sh GEN_DEMO_CONFIG DEMO_YAML
set -euo pipefail
if diff -u "$2" <("$1") >/tmp/faii-demo-diff.$$; then
	rm -f /tmp/faii-demo-diff.$$
	echo "ok: $2 is the generator's output"
else
	head -40 /tmp/faii-demo-diff.$$
	rm -f /tmp/faii-demo-diff.$$
	echo "FAIL: $2 differs from the generator's output; regenerate it"
	exit 1
fi
