/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane internals shared by faiid's files: limits with their units, and
 * the per-worker state. Each worker owns one cache-aligned struct; workers
 * share nothing, and the main lcore only reads their counters.
 */
#ifndef FAII_DATAPLANE_H
#define FAII_DATAPLANE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "faii/wire.h"

#define FAII_RX_BURST_MAX    32u
#define FAII_RX_RING_SIZE    1024u
#define FAII_TX_RING_SIZE    1024u
#define FAII_MBUF_COUNT      8191u /* 2^n - 1: the mempool's best size */
#define FAII_MBUF_CACHE_SIZE 256u
#define FAII_PORTS_MAX       8u
#define FAII_WORKERS_MAX     16u

/* Counters of one worker; written by it alone, read by the main lcore. */
struct faii_worker_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t valid[FAII_MSG_TYPE_MAX + 1]; /* by message type */
	uint64_t drops[FAII_DROP_COUNT];       /* by reason; [FAII_OK] unused */
} __rte_cache_aligned;

struct faii_worker {
	struct faii_worker_stats stats;
	unsigned lcore_id;
	uint16_t queue_id; /* this worker's RX/TX queue on every port */
	uint16_t udp_port;
	uint16_t port_count;
	uint16_t ports[FAII_PORTS_MAX];
} __rte_cache_aligned;

/* Set by the signal handler; workers poll it between bursts. */
extern _Atomic bool faii_force_quit;

/* The worker loop: rte_eal_remote_launch() entry point, arg is a faii_worker. */
int faii_worker_main(void *arg);

/* Sums every worker's counters into out. */
void faii_stats_sum(const struct faii_worker *workers, unsigned count,
                    struct faii_worker_stats *out);

#endif /* FAII_DATAPLANE_H */
