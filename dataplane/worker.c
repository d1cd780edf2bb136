/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-lcore receive loop: poll each port's queue, validate every packet
 * with the shared parser and count it by message type or drop reason.
 * Run to completion, no locks, no allocation, no syscalls.
 */
#include <rte_atomic.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane.h"

_Atomic bool faii_force_quit; /* lock-free: safe to set from a signal handler */

static void handle_burst(struct faii_worker *w, struct rte_mbuf **pkts, uint16_t count)
{
	struct faii_worker_stats *st = &w->stats;
	for (uint16_t i = 0; i < count; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + 1 < count)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		st->rx_packets++;
		st->rx_bytes += rte_pktmbuf_pkt_len(m);
		/* The parser needs contiguous bytes; chained mbufs are not expected. */
		if (m->nb_segs != 1) {
			st->drops[FAII_DROP_BAD_LENGTH]++;
			continue;
		}
		struct faii_frame_view frame;
		enum faii_drop reason =
		        faii_parse_frame(rte_pktmbuf_mtod(m, const void *), rte_pktmbuf_data_len(m),
		                         w->udp_port, &frame);
		if (reason == FAII_OK)
			st->valid[frame.msg.type]++;
		else
			st->drops[reason]++;
	}
	rte_pktmbuf_free_bulk(pkts, count);
}

int faii_worker_main(void *arg)
{
	struct faii_worker *w = arg;
	struct rte_mbuf *pkts[FAII_RX_BURST_MAX];

	while (!faii_force_quit) {
		for (uint16_t p = 0; p < w->port_count; p++) {
			uint16_t n =
			        rte_eth_rx_burst(w->ports[p], w->queue_id, pkts, FAII_RX_BURST_MAX);
			if (n > 0)
				handle_burst(w, pkts, n);
		}
	}
	return 0;
}

void faii_stats_sum(const struct faii_worker *workers, unsigned count,
                    struct faii_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < count; k++) {
		/* Plain 64-bit loads: each counter is written by one worker only. */
		const struct faii_worker_stats *st = &workers[k].stats;
		out->rx_packets += st->rx_packets;
		out->rx_bytes += st->rx_bytes;
		for (unsigned t = 0; t <= FAII_MSG_TYPE_MAX; t++)
			out->valid[t] += st->valid[t];
		for (unsigned r = 0; r < FAII_DROP_COUNT; r++)
			out->drops[r] += st->drops[r];
	}
}
