/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-lcore pipeline, run to completion on every packet (SPEC 3, 7):
 *
 *   RX -> parse -> owner? (else hand over) -> by type:
 *     TASK:   expiry, replay, key table, pick 1/3/7 nodes (weighted draws
 *             corrected by live load, re-checked per packet), residency
 *             hook, rewrite, remember, TX
 *     RESULT: match, measure, vote, forward the majority once, credit
 *     HEARTBEAT/ATTEST/REGISTER: punt to the control thread
 *   timer wheel: re-dispatch once after a timeout, then answer the client;
 *                forget finished tasks after their replay window
 *
 * No locks, no allocation beyond mbufs from the per-lcore mempool cache, no
 * syscalls: the wall clock comes from the TSC.
 *
 * This file is the loop (receive, hand over, classify, flush) and the
 * worker's tables; the steps are task.c, result.c and timer_wheel.c, the
 * frames they write frames.c, their shared record and helpers pipeline.h.
 */
#include <string.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "pipeline.h"

_Atomic bool faii_force_quit; /* lock-free: safe to set from a signal handler */

const char *faii_pipe_counter_name(enum faii_pipe_counter c)
{
	static const char *const names[FAII_PIPE_COUNT] = {
#define FAII_PIPE_NAME(sym, name, meaning) [FAII_PIPE_##sym] = name,
	        FAII_PIPE_COUNTERS(FAII_PIPE_NAME)
#undef FAII_PIPE_NAME
	};
	return (unsigned)c < FAII_PIPE_COUNT ? names[c] : "invalid";
}

const char *faii_pipe_counter_meaning(enum faii_pipe_counter c)
{
	static const char *const meanings[FAII_PIPE_COUNT] = {
#define FAII_PIPE_MEANING(sym, name, meaning) [FAII_PIPE_##sym] = meaning,
	        FAII_PIPE_COUNTERS(FAII_PIPE_MEANING)
#undef FAII_PIPE_MEANING
	};
	return (unsigned)c < FAII_PIPE_COUNT ? meanings[c] : "invalid";
}

/* ---- histograms -------------------------------------------------------------------- */

unsigned faii_hist_bucket(uint64_t us)
{
	if (us < (1u << FAII_HIST_SUB_BITS))
		return (unsigned)us;
	unsigned msb = 63u - (unsigned)__builtin_clzll(us);
	unsigned sub =
	        (unsigned)(us >> (msb - FAII_HIST_SUB_BITS)) & ((1u << FAII_HIST_SUB_BITS) - 1);
	unsigned b = ((msb - FAII_HIST_SUB_BITS + 1) << FAII_HIST_SUB_BITS) + sub;
	return b < FAII_HIST_BUCKETS ? b : FAII_HIST_BUCKETS - 1;
}

uint64_t faii_hist_bucket_upper_us(unsigned b)
{
	if (b < (1u << FAII_HIST_SUB_BITS))
		return b + 1;
	unsigned msb = (b >> FAII_HIST_SUB_BITS) + FAII_HIST_SUB_BITS - 1;
	uint64_t sub = b & ((1u << FAII_HIST_SUB_BITS) - 1);
	return ((1ull << FAII_HIST_SUB_BITS) + sub + 1) << (msb - FAII_HIST_SUB_BITS);
}

uint64_t faii_hist_quantile_us(const uint64_t *hist, double q)
{
	uint64_t total = 0;
	for (unsigned b = 0; b < FAII_HIST_BUCKETS; b++)
		total += hist[b];
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < FAII_HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen > rank)
			return faii_hist_bucket_upper_us(b);
	}
	return faii_hist_bucket_upper_us(FAII_HIST_BUCKETS - 1);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void handle_packet(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                          bool handed_over, const struct faii_route_set *set, uint64_t now_tsc)
{
	struct faii_worker_stats *st = &w->stats;
	struct faii_dp *dp = w->dp;
	if (!handed_over) {
		st->rx_packets++;
		st->rx_bytes += rte_pktmbuf_pkt_len(m);
	}
	/* The parser needs contiguous bytes; chained mbufs are not expected. */
	if (m->nb_segs != 1) {
		st->drops[FAII_DROP_BAD_LENGTH]++;
		rte_pktmbuf_free(m);
		return;
	}
	struct faii_frame_view fv;
	enum faii_drop reason = faii_parse_frame(rte_pktmbuf_mtod(m, const void *),
	                                         rte_pktmbuf_data_len(m), dp->udp_port, &fv);
	if (reason != FAII_OK) {
		st->drops[reason]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (!handed_over)
		st->valid[fv.msg.type]++;
	uint64_t task_id;
	switch (fv.msg.type) {
	case FAII_MSG_TASK:
	case FAII_MSG_RESULT:
		task_id = load_be64(fv.msg.body); /* first field of both */
		if (dp->worker_count > 1 && owner_of(dp, task_id) != w->index) {
			struct rte_ring *ring = dp->handoff[owner_of(dp, task_id)];
			if (rte_ring_mp_enqueue(ring, m) != 0) {
				st->pipe[FAII_PIPE_HANDOFF_FULL]++;
				rte_pktmbuf_free(m);
			} else {
				st->pipe[FAII_PIPE_HANDOFF_OUT]++;
			}
			return;
		}
		if (fv.msg.type == FAII_MSG_TASK)
			pipe_handle_task(w, m, port_index, &fv, set, now_tsc);
		else
			pipe_handle_result(w, m, &fv, set, now_tsc);
		return;
	default:
		if (rte_ring_mp_enqueue(dp->slow_ring, m) != 0) {
			st->pipe[FAII_PIPE_SLOW_RING_FULL]++;
			rte_pktmbuf_free(m);
		} else {
			st->pipe[FAII_PIPE_SLOW_PUNTED]++;
		}
		return;
	}
}

static unsigned port_index_of(const struct faii_worker *w, uint16_t port)
{
	for (unsigned p = 0; p < w->port_count; p++) {
		if (w->ports[p] == port)
			return p;
	}
	return 0;
}

void faii_worker_poll(struct faii_worker *w)
{
	struct faii_dp *dp = w->dp;
	struct rte_mbuf *pkts[FAII_RX_BURST_MAX];
	/* One load per iteration; valid until the quiescent report below. */
	const struct faii_route_set *set =
	        atomic_load_explicit(dp->route_set, memory_order_acquire);
	w->auth = dp->auth_set ? atomic_load_explicit(dp->auth_set, memory_order_acquire) : NULL;
	uint64_t now = rte_rdtsc();
	for (uint16_t p = 0; p < w->port_count; p++) {
		uint16_t n = rte_eth_rx_burst(w->ports[p], w->queue_id, pkts, FAII_RX_BURST_MAX);
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			pkts[i]->port = w->ports[p]; /* not every PMD sets it (net_ring does not) */
			handle_packet(w, pkts[i], p, false, set, now);
		}
	}
	if (dp->worker_count > 1) {
		unsigned n = rte_ring_sc_dequeue_burst(dp->handoff[w->index], (void **)pkts,
		                                       FAII_RX_BURST_MAX, NULL);
		for (unsigned i = 0; i < n; i++)
			handle_packet(w, pkts[i], port_index_of(w, pkts[i]->port), true, set, now);
	}
	pipe_run_wheel(w, set, now);
	tx_flush(w);
	if (w->nonce_used >= FAII_NONCE_REFILL_BYTES) /* after the burst, not inside it */
		nonce_refill(w);
	atomic_fetch_add_explicit(&w->loops, 1, memory_order_relaxed);
	if (dp->qsbr != NULL)
		rte_rcu_qsbr_quiescent(dp->qsbr, w->index);
}

int faii_worker_main(void *arg)
{
	struct faii_worker *w = arg;
	if (w->dp->qsbr != NULL)
		rte_rcu_qsbr_thread_online(w->dp->qsbr, w->index);
	while (!atomic_load_explicit(&faii_force_quit, memory_order_relaxed))
		faii_worker_poll(w);
	if (w->dp->qsbr != NULL)
		rte_rcu_qsbr_thread_offline(w->dp->qsbr, w->index);
	if (w->dp->residency_rte != NULL) /* policy updates stop waiting for us */
		faii_res_rte_reader_offline(w->dp->residency_rte);
	return 0;
}

int faii_worker_init(struct faii_worker *w, struct faii_dp *dp, unsigned index, char *err,
                     size_t errlen)
{
	char name[RTE_HASH_NAMESIZE];
	memset(w, 0, offsetof(struct faii_worker, loops));
	w->dp = dp;
	w->index = index;
	w->queue_id = (uint16_t)index;
	snprintf(name, sizeof(name), "faii_disp_%u", index);
	struct rte_hash_parameters hp = {
	        .name = name,
	        .entries = FAII_DISPATCH_ENTRIES,
	        .key_len = sizeof(uint64_t),
	        .hash_func = rte_hash_crc,
	        .socket_id = (int)rte_socket_id(),
	};
	/* Find an existing table of that name first (a test's second run). */
	w->dispatch = rte_hash_find_existing(name);
	if (w->dispatch != NULL)
		rte_hash_reset(w->dispatch);
	else
		w->dispatch = rte_hash_create(&hp);
	w->records = rte_zmalloc("faii_records", FAII_DISPATCH_ENTRIES * sizeof(*w->records), 64);
	w->replica_hash =
	        rte_zmalloc("faii_replica_hash", FAII_REPLICA_SLOTS * sizeof(*w->replica_hash), 64);
	w->replica_rtt_us = rte_zmalloc("faii_replica_rtt",
	                                FAII_REPLICA_SLOTS * sizeof(*w->replica_rtt_us), 64);
	w->replica_free =
	        rte_malloc("faii_replica_free", FAII_REPLICA_SLOTS * sizeof(uint32_t), 64);
	w->wheel = rte_malloc("faii_wheel", FAII_WHEEL_SLOTS * sizeof(uint32_t), 64);
	w->key_arrivals =
	        rte_zmalloc("faii_key_arrivals", FAII_ROUTE_KEYS_MAX * sizeof(uint64_t), 64);
	if (!w->dispatch || !w->records || !w->replica_hash || !w->replica_rtt_us ||
	    !w->replica_free || !w->wheel || !w->key_arrivals) {
		snprintf(err, errlen,
		         "worker %u: out of DPDK memory for its dispatch tables (give the "
		         "EAL more with -m)",
		         index);
		faii_worker_fini(w);
		return -1;
	}
	for (uint32_t i = 0; i < FAII_REPLICA_SLOTS; i++)
		w->replica_free[i] = FAII_REPLICA_SLOTS - 1 - i;
	w->replica_free_count = FAII_REPLICA_SLOTS;
	memset(w->wheel, 0xFF, FAII_WHEEL_SLOTS * sizeof(uint32_t));
	w->wheel_tick = tick_of(dp, rte_rdtsc());
	w->rng[0] = 0x9E3779B97F4A7C15ull ^ ((uint64_t)index << 32) ^ rte_rdtsc();
	w->rng[1] = 0xD1B54A32D192ED03ull + index;
	randombytes_buf(w->nonce_key, sizeof(w->nonce_key)); /* at start, not per packet */
	nonce_refill(w);
	return 0;
}

void faii_worker_fini(struct faii_worker *w)
{
	if (w->records != NULL) {
		for (uint32_t i = 0; i < FAII_DISPATCH_ENTRIES; i++) {
			if (w->records[i].state != REC_FREE)
				pipe_release(w, &w->records[i]);
		}
	}
	rte_hash_free(w->dispatch);
	rte_free(w->records);
	rte_free(w->replica_hash);
	rte_free(w->replica_rtt_us);
	rte_free(w->replica_free);
	rte_free(w->wheel);
	rte_free(w->key_arrivals);
	w->dispatch = NULL;
	w->records = NULL;
	w->replica_hash = NULL;
	w->replica_rtt_us = NULL;
	w->replica_free = NULL;
	w->wheel = NULL;
	w->key_arrivals = NULL;
	sodium_memzero(w->nonce_key, sizeof(w->nonce_key));
	sodium_memzero(w->nonce_pool, sizeof(w->nonce_pool));
	for (unsigned p = 0; p < w->port_count; p++) {
		if (w->tx_count[p] > 0)
			rte_pktmbuf_free_bulk(w->tx[p], w->tx_count[p]);
		w->tx_count[p] = 0;
	}
}

void faii_stats_sum(const struct faii_worker *workers, unsigned count,
                    struct faii_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	const size_t words = sizeof(*out) / sizeof(uint64_t);
	uint64_t *o = (uint64_t *)out;
	for (unsigned k = 0; k < count; k++) {
		/* Plain 64-bit loads: each counter is written by one worker only. */
		const uint64_t *s = (const uint64_t *)&workers[k].stats;
		for (size_t i = 0; i < words; i++)
			o[i] += s[i];
	}
}
