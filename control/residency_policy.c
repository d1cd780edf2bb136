/* SPDX-License-Identifier: BSD-3-Clause */
/* The residency policy of a configuration: see include/faii/residency_policy.h. */
#include "faii/residency_policy.h"

#include "faii/config.h"

#include <stdio.h>
#include <stdlib.h>

#include "faii/assert.h"

FAII_STATIC_ASSERT(FAII_CFG_JURISDICTIONS_MAX <= 64, "a class's allowed set is 64 bits");
FAII_STATIC_ASSERT(FAII_RESIDENCY_CLASS_MAX < FAII_RES_CLASSES_MAX, "class ids index the array");
FAII_STATIC_ASSERT(FAII_RES_NODES_MAX >= FAII_CFG_NODES_MAX,
                   "every node the registry can hold fits in the program's node map");

static int by_node_id(const void *a, const void *b)
{
	uint32_t x = ((const struct faii_res_policy_node *)a)->node_id;
	uint32_t y = ((const struct faii_res_policy_node *)b)->node_id;
	return (x > y) - (x < y);
}

int faii_res_policy_from_config(const struct faii_config *cfg, struct faii_res_policy *out,
                                char err[FAII_CFG_ERR_LEN])
{
	FAII_ASSERT(cfg->node_count <= FAII_CFG_NODES_MAX);
	FAII_ASSERT(cfg->residency_class_count <= FAII_RESIDENCY_CLASS_MAX);
	faii_res_policy_clear(out);
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		const struct faii_cfg_node *n = &cfg->nodes[i];
		faii_res_policy_add_port(out, n->udp_port);
		if (n->status == FAII_NODE_REMOVED)
			continue; /* unknown to the judges: its tasks fail closed */
		FAII_ASSERT(n->id != 0 && n->jurisdiction < cfg->jurisdiction_count);
		out->nodes[out->node_count++] = (struct faii_res_policy_node){
		        .node_id = n->id, .jurisdiction = n->jurisdiction};
	}
	qsort(out->nodes, out->node_count, sizeof(out->nodes[0]), by_node_id);
	for (uint32_t i = 1; i < out->node_count; i++) {
		if (out->nodes[i].node_id == out->nodes[i - 1].node_id) {
			snprintf(err, FAII_CFG_ERR_LEN, "%s: node id %u appears twice", cfg->path,
			         out->nodes[i].node_id);
			return -1;
		}
	}
	for (uint32_t c = 0; c < cfg->residency_class_count; c++) {
		const struct faii_cfg_residency_class *rc = &cfg->residency_classes[c];
		FAII_ASSERT(rc->id >= 1 && rc->id <= FAII_RESIDENCY_CLASS_MAX);
		out->classes[rc->id] =
		        (struct faii_res_class){.allowed = rc->allowed, .defined = 1};
	}
	return 0;
}
