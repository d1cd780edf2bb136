/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The harness's self-test core: a small reliable broadcast that proves the
 * harness, the simulated network and the simulated clock find real bugs.
 * It is not part of the appliance.
 *
 * Every node originates entries 1..entries_per_node (one every
 * SIM_SELFTEST_ORIGINATE_INTERVAL_NS of its own clock) and sends each to
 * every peer; a receiver delivers an origin's entries strictly in order
 * (go-back-N: anything but the next one is ignored) and acknowledges
 * cumulatively; the origin keeps a window of SIM_SELFTEST_WINDOW_ENTRIES
 * unacknowledged entries per peer and resends it every
 * SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS until acknowledged. What a node has
 * originated and delivered is durable (survives crashes); what its peers
 * acknowledged is not, so after a restart it resends from the start and the
 * peers' acknowledgements catch it up.
 *
 * Safety, checked after every step: each node's delivery log holds, per
 * origin, exactly 1, 2, 3, ... (no duplicate, no gap, in order), each
 * with the value its origin gave it, and only entries the origin has
 * originated; its counters agree with its log; no origin believes a peer
 * acknowledged more than the peer delivered.
 * Liveness: every node delivers every entry of every node.
 *
 * Deliberate bugs (sim_selftest_bug) show that the harness catches both.
 */
#ifndef FAII_SIM_SELFTEST_CORE_H
#define FAII_SIM_SELFTEST_CORE_H

#include <stdint.h>

#include "faii/clock.h"
#include "sim_harness.h"

#define SIM_SELFTEST_NODES_MAX             16u
#define SIM_SELFTEST_ENTRIES_PER_NODE_MAX  64u
#define SIM_SELFTEST_TICK_NS               (10 * FAII_NS_PER_MS)
#define SIM_SELFTEST_ORIGINATE_INTERVAL_NS (20 * FAII_NS_PER_MS)
#define SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS (50 * FAII_NS_PER_MS)
#define SIM_SELFTEST_WINDOW_ENTRIES        8u
#define SIM_SELFTEST_MESSAGE_BYTES_MAX     16u

enum sim_selftest_bug {
	SIM_SELFTEST_BUG_NONE,
	SIM_SELFTEST_BUG_NO_RETRANSMIT,      /* sends once: lost entries stay lost */
	SIM_SELFTEST_BUG_DELIVER_DUPLICATES, /* re-delivers the latest entry when it comes again */
};

/* The configuration and the checker of one run, shared by every node. */
struct sim_selftest {
	uint32_t node_count;
	uint32_t entries_per_node; /* 1..SIM_SELFTEST_ENTRIES_PER_NODE_MAX */
	uint64_t value_key;        /* entry values derive from it */
	enum sim_selftest_bug bug;
	/* The checker's progress: how much of each node's log it verified. */
	uint32_t checked_log_count[SIM_SELFTEST_NODES_MAX];
	uint32_t checked_next[SIM_SELFTEST_NODES_MAX][SIM_SELFTEST_NODES_MAX];
};

/* Before each run: entries per node drawn from the seed, checker reset. */
void sim_selftest_prepare(struct sim_selftest *selftest, uint64_t seed, uint32_t node_count,
                          enum sim_selftest_bug bug);

/* The core table for the harness, with `selftest` as its ctx. */
struct sim_core sim_selftest_core(struct sim_selftest *selftest);

#endif /* FAII_SIM_SELFTEST_CORE_H */
