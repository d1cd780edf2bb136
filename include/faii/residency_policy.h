/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency policy as one object: node id -> jurisdiction, residency
 * class -> allowed jurisdictions, and the UDP ports of the nodes (which make
 * a datagram faii to the program). Every judge enforces exactly this object:
 * the kernel program's maps are filled from it (ebpf/residency_loader.c), the
 * in-dataplane snapshot is built from it (dataplane/residency_bpf.c), and
 * faiid builds it once per change of its registry and hands the same object
 * to both. The route set carries no copy of it.
 *
 * One builder, faii_res_policy_from_config() (declared with the
 * configuration, faii/config.h; control/residency_policy.c), so that
 * faii-residency (from a configuration file) and faiid (from its registry's
 * configuration) cannot derive two policies from the same facts. This header
 * needs nothing but the residency contract, so the dataplane can take it.
 */
#ifndef FAII_RESIDENCY_POLICY_H
#define FAII_RESIDENCY_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "faii/residency.h"

struct faii_res_policy_node {
	uint32_t node_id; /* != 0, unique within a policy */
	uint32_t jurisdiction;
};

/* About 1 MiB with the node table: allocate it, do not put it on a stack. */
struct faii_res_policy {
	struct faii_res_class classes[FAII_RES_CLASSES_MAX]; /* by class id; 0 never defined */
	uint64_t ports[FAII_RES_PORT_WORDS];                 /* FAII_RES_PORT_WORD/BIT */
	uint32_t port_count;                                 /* bits set in ports */
	uint32_t node_count;                                 /* <= FAII_RES_NODES_MAX */
	struct faii_res_policy_node nodes[FAII_RES_NODES_MAX];
};

static inline bool faii_res_ports_has(const uint64_t ports[FAII_RES_PORT_WORDS], uint16_t port)
{
	return (ports[FAII_RES_PORT_WORD(port)] >> FAII_RES_PORT_BIT(port)) & 1;
}

/* Sets a port's bit and counts it once. */
static inline void faii_res_policy_add_port(struct faii_res_policy *p, uint16_t port)
{
	if (!faii_res_ports_has(p->ports, port)) {
		p->ports[FAII_RES_PORT_WORD(port)] |= UINT64_C(1) << FAII_RES_PORT_BIT(port);
		p->port_count++;
	}
}

/* Empties p: no node, no class, no port. */
static inline void faii_res_policy_clear(struct faii_res_policy *p)
{
	memset(p->classes, 0, sizeof(p->classes));
	memset(p->ports, 0, sizeof(p->ports));
	p->port_count = 0;
	p->node_count = 0;
}

#endif /* FAII_RESIDENCY_POLICY_H */
