/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the configuration loader (control/config.c).
 *
 * Every input is loaded as a configuration file; when it loads, the loaded
 * configuration is checked against the bounds the rest of the appliance
 * relies on, and the same bytes are parsed as a node.add body against it.
 * The loader must refuse anything else with a message, never crash, leak
 * or take long (libFuzzer's -timeout catches a slow input, e.g. deep
 * nesting).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faii/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* What the solver and the dataplane take for granted of a loaded node. */
static void check_node(const struct faii_config *c, const struct faii_cfg_node *n)
{
	CHECK(n->node_class < FAII_CLASS_COUNT);
	CHECK(n->jurisdiction < c->jurisdiction_count);
	CHECK(n->operator_idx < c->operator_count);
	CHECK(faii_config_region(c, n->region_id) != NULL);
	CHECK(isfinite(n->price) && n->price > 0);
	CHECK(isfinite(n->capacity_tasks_per_s) && n->capacity_tasks_per_s > 0);
	CHECK(isfinite(n->esg.pue) && n->esg.pue >= 1);
	CHECK(isfinite(n->esg.energy_to_work) && n->esg.energy_to_work > 0);
	CHECK(n->reputation >= 0 && n->reputation <= 1);
}

static void check_config(const struct faii_config *c)
{
	CHECK(c->node_count <= FAII_CFG_NODES_MAX);
	CHECK(c->operator_count <= FAII_CFG_OPERATORS_MAX);
	for (uint32_t i = 0; i < c->node_count; i++)
		check_node(c, &c->nodes[i]);
	char err[FAII_CFG_ERR_LEN];
	CHECK(faii_policy_check(&c->policy, err) == 0);
}

/*
 * One configuration reused for every input: zeroing its 30 MB per input
 * would be most of the run. Everything before the node table is zeroed; the
 * loader writes a node entry whole, only after the node parsed, and a node
 * takes more than DIRTY_NODES_BYTES_MIN bytes of input, so the first
 * DIRTY_NODES_MAX entries are all an input can have written.
 */
#define DIRTY_NODES_BYTES_MIN 100u
#define DIRTY_NODES_MAX       (FUZZ_INPUT_BYTES_MAX / DIRTY_NODES_BYTES_MIN + 2u)
#define FUZZ_INPUT_BYTES_MAX  4096u /* -max_len in tests/fuzz/meson.build */

static struct faii_config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_BYTES_MAX)
		return 0;
	if (cfg == NULL)
		cfg = calloc(1, sizeof(*cfg));
	CHECK(cfg != NULL);
	memset(cfg, 0, offsetof(struct faii_config, nodes));
	memset(cfg->nodes, 0, DIRTY_NODES_MAX * sizeof(cfg->nodes[0]));
	char err[FAII_CFG_ERR_LEN];
	if (faii_config_load_into("fuzz.yaml", (const char *)data, size, cfg, err) != 0) {
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		return 0;
	}
	CHECK(cfg->node_count + 1 < DIRTY_NODES_MAX);
	check_config(cfg);
	/* The same bytes as a node.add body (a NUL-terminated string). */
	char *text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	struct faii_cfg_node node;
	if (faii_config_parse_node(cfg, text, &node, err) == 0)
		check_node(cfg, &node);
	free(text);
	return 0;
}
