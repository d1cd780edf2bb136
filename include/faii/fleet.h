/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fleet as the dataplane sees it, shared by the control thread (control/)
 * and the workers (dataplane/):
 *
 * - struct faii_node_live: one per registry slot, in memory that never moves.
 *   The control thread writes the policy fields (status, load limit,
 *   reputation); workers count outstanding work, completions, SLO hits and
 *   verified work with relaxed atomics. Nobody takes a lock.
 * - struct faii_route_set: everything a worker needs to route a task,
 *   compiled from the solver's tables (include/faii/routing.h), immutable once
 *   published, swapped with one atomic pointer store and freed only after
 *   every worker has passed a quiescent state (rte_rcu_qsbr). A worker loads
 *   the pointer once per loop iteration.
 *
 * Error convention: faii_route_set_lookup() returns NULL for a key that has
 * no table (the caller answers no_feasible_node and counts it).
 */
#ifndef FAII_FLEET_H
#define FAII_FLEET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/limits.h"
#include "faii/protocol.h"

#define FAII_ROUTE_NO_TABLE UINT32_MAX
#define FAII_REGION_NO_SLOT 0xFFu

/* A node's status: configured, set by operators, or by settlement (slashed). */
enum faii_node_status {
	FAII_NODE_ACTIVE = 0,
	FAII_NODE_DRAINING = 1,
	FAII_NODE_QUARANTINED = 2,
	FAII_NODE_SLASHED = 3,
	FAII_NODE_REMOVED = 4, /* by an operator or a reload; not a configuration value */
};

/* Live state of one node. Two cache lines: the first is what routing reads
 * per packet, the second what results update. */
struct faii_node_live {
	/* Read per packet. */
	_Atomic uint32_t outstanding; /* R_i: dispatched, not yet answered or expired */
	_Atomic uint32_t limit;       /* L_i: most outstanding tasks it may hold */
	_Atomic uint8_t status;       /* enum faii_node_status; drain acts at once */
	uint8_t reserved0;
	_Atomic uint16_t reputation_milli;
	uint32_t node_id;             /* fixed while the slot is in use */
	_Atomic uint8_t jurisdiction; /* for the residency hook's node map */
	_Atomic uint64_t dispatched;
	_Atomic uint64_t completed;    /* results received */
	_Atomic uint64_t failed;       /* error results and timeouts */
	_Atomic uint64_t disagreed;    /* results outvoted by their replica set */
	_Atomic uint64_t redispatched; /* taken away after a timeout */
	/* Written per result, on its own cache line. */
	_Alignas(64) _Atomic uint32_t latency_ewma_us; /* over all regions */
	_Atomic uint32_t slo_total[FAII_TIER_COUNT];
	_Atomic uint32_t slo_met[FAII_TIER_COUNT];
	_Atomic uint64_t verified_work[FAII_TIER_COUNT]; /* majority-agreeing, within SLO */
} __attribute__((aligned(64)));

/* A candidate of a key's table with what dispatch needs about the node. */
struct faii_route_cand {
	uint32_t node;       /* registry slot (index of faii_node_live) */
	uint32_t node_id;    /* written into the TASK */
	uint32_t latency_us; /* estimated round trip from the key's region */
	uint32_t asn;
	uint16_t operator_idx;
	uint16_t udp_port; /* host order */
	uint8_t jurisdiction;
	uint8_t node_class;
	uint8_t addr_family; /* FAII_ADDR_IPV4 / FAII_ADDR_IPV6 */
	uint8_t reserved;
	float reserved1;
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	float unit[3];    /* position on the unit sphere, for distance */
	uint32_t reserved2[2];
};

_Static_assert(sizeof(struct faii_route_cand) == 64, "one cache line");

/*
 * A task's copies go only to nodes of its own address family, so each
 * family of a key has its own solution (the operator caps, the edge reserve
 * and dispersion hold among the copies a family's tasks can get): index
 * FAII_ROUTE_FAMILY(FAII_ADDR_IPV4) and (FAII_ADDR_IPV6).
 */
#define FAII_ROUTE_FAMILIES       2u
#define FAII_ROUTE_FAMILY(family) ((family) == FAII_ADDR_IPV6 ? 1u : 0u)
/* Replica sets of 3 (session) and 7 (strong) copies: index 0 and 1. */
#define FAII_REPLICA_LEVELS   2u
#define FAII_REPLICA_LEVEL(n) ((n) == 3u ? 0u : 1u)

/* One family's solution of a key, over the key's candidates (those of the
 * other family have share 0 and inclusion 0). */
struct faii_route_dp_family {
	uint32_t prob[FAII_ROUTE_CANDIDATES_MAX]; /* alias table of share: one copy */
	uint16_t alias[FAII_ROUTE_CANDIDATES_MAX];
	float share[FAII_ROUTE_CANDIDATES_MAX]; /* phi, sums to 1 over the family */
	/* The probability that a replica set of 3 or 7 includes each candidate:
	 * in (0, 1], summing to 3 or 7, drawn by systematic sampling so that
	 * every candidate gets share of the copies, operator totals at most
	 * 3 or 7 beta (docs/routing.md 4). */
	float incl[FAII_REPLICA_LEVELS][FAII_ROUTE_CANDIDATES_MAX];
	uint8_t operator_copies_max[FAII_REPLICA_LEVELS]; /* per set: ceil(n beta) */
	uint16_t count; /* candidates of the family; 0: its tasks find none */
	uint16_t flags; /* FAII_ROUTE_F_* of the family's solution */
	float share_max;
};

/* One key's published table. */
struct faii_route_dp_table {
	uint16_t count;
	uint16_t flags; /* FAII_ROUTE_F_* of the key over both families */
	uint16_t region;
	uint8_t category;
	uint8_t residency_class;
	struct faii_route_dp_family family[FAII_ROUTE_FAMILIES];
	float share[FAII_ROUTE_CANDIDATES_MAX]; /* the key over both families (explain) */
	struct faii_route_cand cand[FAII_ROUTE_CANDIDATES_MAX];
} __attribute__((aligned(64)));

struct faii_route_set {
	uint64_t generation;
	uint64_t published_ns; /* CLOCK_REALTIME when published */
	uint32_t table_count;
	uint32_t region_count;
	uint8_t region_slot[FAII_REGION_ID_MAX + 1]; /* FAII_REGION_NO_SLOT when unknown */
	/* No residency policy here: the residency judge's snapshot
	 * (faii/residency_policy.h) is its only copy in the dataplane. */
	uint32_t index[FAII_ROUTE_KEYS_MAX]; /* key -> table, FAII_ROUTE_NO_TABLE */
	struct faii_route_dp_table tables[];
};

static inline uint32_t faii_route_key_index(uint8_t region_slot, uint8_t category,
                                            uint16_t residency_class)
{
	return ((uint32_t)region_slot * FAII_CATEGORY_COUNT + (uint32_t)(category - 1)) *
	               (FAII_RESIDENCY_CLASS_MAX + 1) +
	       residency_class;
}

/* The table of a task's key, or NULL when the configuration has no such key. */
static inline const struct faii_route_dp_table *
faii_route_set_lookup(const struct faii_route_set *set, uint16_t region, uint8_t category,
                      uint16_t residency_class)
{
	if (region > FAII_REGION_ID_MAX || residency_class > FAII_RESIDENCY_CLASS_MAX ||
	    category < 1 || category > FAII_CATEGORY_COUNT)
		return NULL;
	uint8_t slot = set->region_slot[region];
	if (slot == FAII_REGION_NO_SLOT)
		return NULL;
	uint32_t t = set->index[faii_route_key_index(slot, category, residency_class)];
	return t == FAII_ROUTE_NO_TABLE ? NULL : &set->tables[t];
}

#endif /* FAII_FLEET_H */
