/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the in-dataplane residency judge (residency_bpf.h): the
 * immutable policy snapshot both judges read, and the C reference's walk.
 */
#ifndef FAII_RESIDENCY_SNAPSHOT_H
#define FAII_RESIDENCY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "faii/residency.h"

/* One slot of the node table; node id 0 (never valid) marks it empty. */
struct faii_res_node_slot {
	uint32_t node_id;
	struct faii_res_node value;
};

/*
 * A whole policy (include/faii/residency_policy.h), never written once
 * published. Nodes sit in an open-addressing table (linear probing, at most
 * half full, so every probe ends at an empty slot); classes are indexed by id
 * and node ports are a bitmap of words, like the kernel's arrays.
 */
struct faii_res_snapshot {
	struct faii_res_class classes[FAII_RES_CLASSES_MAX];
	uint64_t ports[FAII_RES_PORT_WORDS];
	uint32_t node_count;
	uint32_t slot_mask; /* slots - 1; slots is a power of two */
	struct faii_res_node_slot slots[];
};

#define FAII_RES_SLOTS_MIN 16u

static inline uint32_t faii_res_node_hash(uint32_t node_id)
{
	return node_id * 0x9E3779B1u; /* Fibonacci hashing: ids are dense */
}

static inline const struct faii_res_node *faii_res_snapshot_node(const struct faii_res_snapshot *s,
                                                                 uint32_t node_id)
{
	if (node_id == 0)
		return NULL;
	uint32_t i = faii_res_node_hash(node_id) & s->slot_mask;
	for (uint32_t n = 0; n <= s->slot_mask; n++, i = (i + 1) & s->slot_mask) {
		if (s->slots[i].node_id == node_id)
			return &s->slots[i].value;
		if (s->slots[i].node_id == 0)
			return NULL;
	}
	return NULL;
}

static inline const struct faii_res_class *
faii_res_snapshot_class(const struct faii_res_snapshot *s, uint32_t class_id)
{
	return class_id < FAII_RES_CLASSES_MAX ? &s->classes[class_id] : NULL;
}

/* The word of the port map holding bit FAII_RES_PORT_BIT(port); NULL beyond. */
static inline const uint64_t *faii_res_snapshot_port_word(const struct faii_res_snapshot *s,
                                                          uint32_t word)
{
	return word < FAII_RES_PORT_WORDS ? &s->ports[word] : NULL;
}

/* What the judgement found: the fields of a refusal's event. */
struct faii_res_verdict {
	enum faii_residency_reason reason;
	uint64_t task_id;
	uint32_t node_id;
	uint16_t residency_class;
	uint8_t jurisdiction;
};

/*
 * The C reference of judge() in ebpf/residency.bpf.c, written from the same
 * rules with offsets instead of pointers: len bytes of frame are present;
 * truncated says more bytes exist that are not (a chained mbuf). Faii ports:
 * udp_port (the appliance's) and the snapshot's node ports.
 */
void faii_res_ref_judge(const struct faii_res_snapshot *s, uint16_t udp_port, const uint8_t *frame,
                        uint32_t len, int truncated, struct faii_res_verdict *v);

#endif /* FAII_RESIDENCY_SNAPSHOT_H */
