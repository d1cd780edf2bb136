/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency hook's C implementation: the same contract and verdicts as
 * the BPF program (ebpf/residency.bpf.c), so the dataplane's hook point, its
 * counters and its tests exist whether or not the program runs in rte_bpf.
 */
#include <rte_hash.h>

#include "dataplane.h"

uint32_t faii_residency_judge_c(void *ctx, const void *frame, uint32_t len)
{
	const struct faii_residency_c *rc = ctx;
	struct faii_frame_view fv;
	enum faii_drop d = faii_parse_frame(frame, len, rc->udp_port, &fv);
	/* The hook judges TASK copies on their way to a node, and a node's
	 * port is its own (nodes[].address), not the appliance's: a frame to
	 * another port is judged as a faii message if it parses as one. */
	if (d == FAII_DROP_WRONG_PORT) {
		uint16_t dst_port = fv.dst_port;
		if (faii_parse_frame(frame, len, dst_port, &fv) != FAII_OK ||
		    fv.msg.type != FAII_MSG_TASK)
			return FAII_RES_PASS_NOT_FAII;
		d = FAII_OK;
	}
	if (d == FAII_DROP_NOT_IP || d == FAII_DROP_NOT_UDP || d == FAII_DROP_WRONG_PORT)
		return FAII_RES_PASS_NOT_FAII;
	if (d != FAII_OK)
		return FAII_RES_DROP_MALFORMED;
	if (fv.msg.type != FAII_MSG_TASK)
		return FAII_RES_PASS_NOT_TASK;
	uint32_t node_id = faii_be32(fv.msg.task->node_id);
	uint16_t class_id = faii_be16(fv.msg.task->residency_class);
	if (!(fv.msg.hdr->flags & FAII_F_DISPATCHED) || node_id == 0)
		return FAII_RES_DROP_UNDISPATCHED;
	void *data = NULL;
	if (rte_hash_lookup_data(rc->nodes_by_id, &node_id, &data) < 0)
		return FAII_RES_DROP_UNKNOWN_NODE;
	uint32_t slot = (uint32_t)(uintptr_t)data;
	uint8_t jurisdiction =
	        atomic_load_explicit(&rc->live[slot].jurisdiction, memory_order_acquire);
	const struct faii_route_set *set =
	        atomic_load_explicit(rc->route_set, memory_order_acquire);
	if (set == NULL || class_id == 0 || class_id > FAII_RESIDENCY_CLASS_MAX ||
	    !set->class_defined[class_id])
		return FAII_RES_DROP_UNKNOWN_CLASS;
	if (jurisdiction < 64 && (set->class_allowed[class_id] >> jurisdiction) & 1)
		return FAII_RES_PASS_ALLOWED;
	return FAII_RES_DROP_FORBIDDEN;
}
