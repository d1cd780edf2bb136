/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pipeline's private header: the dispatch record, the frame fields a
 * reply needs, and the small helpers every step inlines. The steps are one
 * file each: task.c, result.c, timer_wheel.c, with frames.c for what they
 * write and pipeline.c for the loop (as DPDK's l3fwd has a file per lookup).
 * Nothing outside dataplane/ includes it.
 */
#ifndef FAII_PIPELINE_H
#define FAII_PIPELINE_H

#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dataplane.h"
#include "pick.h"
#include "residency_bpf.h"
#include "faii/frame.h"
#include "faii/assert.h"

#include <sodium.h>

enum { REC_FREE = 0, REC_DISPATCHED = 1, REC_DONE = 2 };
#define NO_SLOT UINT32_MAX

/* One task in flight or within its replay window. 256 bytes. */
struct faii_dispatch {
	uint64_t task_id;
	uint64_t expire_ns;      /* replay window end: submit + budget */
	uint64_t dispatch_ns[2]; /* per attempt, echoed by results */
	uint64_t dispatch_tsc[2];
	uint64_t arrival_tsc;  /* for the client-visible latency */
	struct rte_mbuf *task; /* held for re-dispatch; NULL once finished */
	uint32_t node[FAII_REPLICAS_MAX];
	uint32_t wheel_next;
	uint32_t replica_slot;
	uint32_t budget_us;
	uint64_t due_tick;
	uint16_t region, residency_class, min_reputation;
	uint16_t client_port, local_port, vlan_tci;
	uint8_t category, tier, replicas, quorum;
	uint8_t attempt, state, region_slot, family;
	uint8_t replied, ok, in_slo, second, errors, majority; /* masks; majority is k + 1 */
	uint8_t forwarded, vlan, rx_port_index, unsent;        /* unsent: copies never sent */
	uint8_t client_mac[6];
	uint8_t client_ip[16];
	uint8_t local_ip[16];
	/* Version 2: the dispatch nonce each copy was sent with (its current
	 * attempt); a RESULT must echo it. */
	uint8_t nonce[FAII_REPLICAS_MAX][FAII_NONCE_SIZE];
	/* For the routing receipt: the client, the client-visible latency of
	 * a forwarded result, copy 0's round trip when there is no replica
	 * slot (one copy). */
	uint64_t client_id;
	uint32_t latency_us;
	uint32_t single_rtt_us;
} __rte_cache_aligned;

_Static_assert(sizeof(struct faii_dispatch) == 256, "four cache lines per record");

/* ---- small helpers ----------------------------------------------------------------- */

/* Refills the nonce pool: a fresh ChaCha20 keystream block run, its 64-bit
 * nonce the refill count, so that no keystream is ever produced twice. */
static inline void nonce_refill(struct faii_worker *w)
{
	uint8_t n[crypto_stream_chacha20_NONCEBYTES];
	uint64_t c = w->nonce_refills++;
	memcpy(n, &c, sizeof(n));
	crypto_stream_chacha20(w->nonce_pool, sizeof(w->nonce_pool), n, w->nonce_key);
	w->nonce_used = 0;
}

/* The next unguessable dispatch nonce, never all zero. */
static inline void nonce_next(struct faii_worker *w, uint8_t out[FAII_NONCE_SIZE])
{
	for (unsigned tries = 0; tries < 2; tries++) { /* zero: 2^-64 per draw */
		if (w->nonce_used + FAII_NONCE_SIZE > FAII_NONCE_POOL_BYTES)
			nonce_refill(w);
		memcpy(out, w->nonce_pool + w->nonce_used, FAII_NONCE_SIZE);
		w->nonce_used += FAII_NONCE_SIZE;
		uint64_t v;
		memcpy(&v, out, sizeof(v));
		if (v != 0)
			return;
	}
	out[FAII_NONCE_SIZE - 1] = 1;
}

static inline uint64_t wall_ns(const struct faii_dp *dp, uint64_t tsc)
{
	unsigned __int128 d = (unsigned __int128)(tsc - dp->tsc_base) * dp->ns_per_tsc_q32;
	return dp->realtime_base_ns + (uint64_t)(d >> 32);
}

static inline uint64_t tsc_to_us(const struct faii_dp *dp, uint64_t tsc_delta)
{
	unsigned __int128 d = (unsigned __int128)tsc_delta * dp->ns_per_tsc_q32;
	return (uint64_t)(d >> 32) / 1000u;
}

static inline uint64_t tick_of(const struct faii_dp *dp, uint64_t tsc)
{
	return (tsc - dp->tsc_base) / dp->tsc_per_tick;
}

static inline unsigned owner_of(const struct faii_dp *dp, uint64_t task_id)
{
	return (unsigned)((task_id * 0x9E3779B97F4A7C15ull) >> 32) % dp->worker_count;
}

static inline uint16_t load_be16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return faii_be16(v);
}
static inline uint32_t load_be32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return faii_be32(v);
}
static inline uint64_t load_be64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return faii_be64(v);
}
static inline void store_be32(void *p, uint32_t v)
{
	v = faii_be32(v);
	memcpy(p, &v, sizeof(v));
}
static inline void store_be64(void *p, uint64_t v)
{
	v = faii_be64(v);
	memcpy(p, &v, sizeof(v));
}

#define ATOMIC_ADD(obj, v) atomic_fetch_add_explicit((obj), (v), memory_order_relaxed)
#define ATOMIC_SUB(obj, v) atomic_fetch_sub_explicit((obj), (v), memory_order_relaxed)
#define ATOMIC_LOAD(obj)   atomic_load_explicit((obj), memory_order_relaxed)

static inline void tx_enqueue(struct faii_worker *w, unsigned port_index, struct rte_mbuf *m)
{
	uint16_t n = w->tx_count[port_index];
	w->tx[port_index][n++] = m;
	w->tx_count[port_index] = n;
	if (n == FAII_RX_BURST_MAX) {
		uint16_t sent =
		        rte_eth_tx_burst(w->ports[port_index], w->queue_id, w->tx[port_index], n);
		w->stats.tx_packets += sent;
		if (sent < n) {
			w->stats.pipe[FAII_PIPE_TX_DROPPED] += n - sent;
			rte_pktmbuf_free_bulk(&w->tx[port_index][sent], n - sent);
		}
		w->tx_count[port_index] = 0;
	}
}

static inline void tx_flush(struct faii_worker *w)
{
	for (unsigned p = 0; p < w->port_count; p++) {
		uint16_t n = w->tx_count[p];
		if (n == 0)
			continue;
		uint16_t sent = rte_eth_tx_burst(w->ports[p], w->queue_id, w->tx[p], n);
		w->stats.tx_packets += sent;
		if (sent < n) {
			w->stats.pipe[FAII_PIPE_TX_DROPPED] += n - sent;
			rte_pktmbuf_free_bulk(&w->tx[p][sent], n - sent);
		}
		w->tx_count[p] = 0;
	}
}

/* Where a reply goes: the L2 neighbour the request came from, our port MAC,
 * the address the request was sent to as source. */
struct endpoint {
	uint8_t mac[6];
	uint8_t ip[16];
	uint16_t port;
};

/* Fields of the incoming frame a reply or a dispatch needs. */
struct frame_info {
	uint16_t l3_offset, l4_offset;
	uint8_t src_mac[6];
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	uint16_t src_port, dst_port;
	bool ipv6, vlan;
	uint16_t vlan_tci;
	uint16_t msg_offset, msg_len;
};

/* The folded (not complemented) ones'-complement sum of even-length bytes. */
static inline uint32_t sum16(const void *p, size_t len)
{
	uint32_t s = faii_csum_add(0, p, len);
	s = (s & 0xFFFF) + (s >> 16);
	return (s & 0xFFFF) + (s >> 16);
}

static inline uint32_t judge(struct faii_worker *w, struct rte_mbuf *m)
{
	const struct faii_dp *dp = w->dp;
	uint32_t v = dp->residency_judge(dp->residency_ctx, rte_pktmbuf_mtod(m, const void *),
	                                 rte_pktmbuf_data_len(m));
	w->stats.residency[v < FAII_RES_REASON_COUNT ? v : FAII_RES_DROP_MALFORMED]++;
	return v;
}

static inline void wheel_insert(struct faii_worker *w, uint32_t pos, uint64_t due_tick)
{
	FAII_ASSERT(pos < FAII_DISPATCH_ENTRIES);
	struct faii_dispatch *r = &w->records[pos];
	FAII_ASSERT(r->state != REC_FREE);
	if (due_tick <= w->wheel_tick)
		due_tick = w->wheel_tick + 1;
	r->due_tick = due_tick;
	uint32_t slot = (uint32_t)(due_tick & (FAII_WHEEL_SLOTS - 1));
	r->wheel_next = w->wheel[slot];
	w->wheel[slot] = pos;
}

static inline uint64_t ticks_for_us(uint64_t us)
{
	return us / 1000u + 1u;
}

static inline void forget(struct faii_worker *w, uint32_t pos)
{
	struct faii_dispatch *r = &w->records[pos];
	FAII_ASSERT(r->state == REC_DONE);
	FAII_ASSERT(r->task == NULL && r->replica_slot == NO_SLOT); /* released first */
	FAII_ASSERT(w->records_in_use > 0);
	int32_t deleted = rte_hash_del_key(w->dispatch, &r->task_id);
	FAII_ASSERT(deleted == (int32_t)pos); /* position in the hash = index in records */
	r->state = REC_FREE;
	w->records_in_use--;
}

/* A node takes a copy of a task of tier: its outstanding count R_i goes up,
 * and the tier's node slots in use (q_t counts copies, not tasks). */
static inline void outstanding_take(struct faii_worker *w, struct faii_node_live *lv, uint8_t tier)
{
	uint32_t before = ATOMIC_ADD(&lv->outstanding, 1);
	FAII_ASSERT(before < UINT32_MAX);
	FAII_ASSERT(tier >= 1 && tier <= FAII_TIER_COUNT);
	w->stats.tier_copies_taken[tier - 1]++;
}

/* A copy answered or given up: R_i goes down, never below zero (only the
 * worker that owns the task's record gives back what it took). */
static inline void outstanding_give_back(struct faii_worker *w, struct faii_node_live *lv,
                                         uint8_t tier)
{
	uint32_t before = ATOMIC_SUB(&lv->outstanding, 1);
	FAII_ASSERT(before > 0);
	FAII_ASSERT(tier >= 1 && tier <= FAII_TIER_COUNT);
	w->stats.tier_copies_returned[tier - 1]++;
}

/* ---- frames.c ---- */
enum faii_pipe_counter pipe_check_checksums(struct rte_mbuf *m, const struct faii_frame_view *fv,
                                            enum faii_pipe_counter bad_ip);
/* Removes the IPv4 options of m's frame (header at l3, UDP at l4) in place,
 * counted; returns the bytes removed (0: none, or IPv6), by which the UDP
 * header and message offsets move down. The IPv4 checksum is left for
 * pipe_readdress() to recompute. */
uint16_t pipe_cut_ipv4_options(struct faii_worker *w, struct rte_mbuf *m, uint16_t l3, uint16_t l4);
int pipe_emit(struct faii_worker *w, struct rte_mbuf *m, uint16_t msg_offset, uint16_t msg_len,
              bool ipv6, bool vlan, uint16_t vlan_tci, const uint8_t *dst_mac,
              const uint8_t *src_ip, uint16_t src_port, const uint8_t *dst_ip, uint16_t dst_port);
void pipe_readdress(struct faii_worker *w, struct rte_mbuf *m, uint16_t l3, uint16_t l4, bool ipv6,
                    const uint8_t *dst_mac, const uint8_t *src_ip, uint16_t src_port,
                    const uint8_t *dst_ip, uint16_t dst_port, uint32_t msg_old, uint32_t msg_new);
void pipe_frame_info(const struct rte_mbuf *m, const struct faii_frame_view *fv,
                     struct frame_info *fi);
void pipe_answer(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index, uint64_t task_id,
                 uint8_t status, uint32_t node_id, uint64_t dispatch_ns, bool ipv6, bool vlan,
                 uint16_t vlan_tci, const uint8_t *client_mac, const uint8_t *client_ip,
                 uint16_t client_port, const uint8_t *local_ip, uint16_t local_port);
void pipe_answer_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                      const struct frame_info *fi, uint64_t task_id, uint8_t status);
void pipe_answer_record(struct faii_worker *w, const struct faii_dispatch *r, uint8_t status,
                        uint32_t node_id, uint64_t dispatch_ns);

/* ---- task.c ---- */
int pipe_pick_one(struct faii_worker *w, const struct faii_route_dp_table *t,
                  const struct task_need *need);
int pipe_address_copy(struct faii_worker *w, struct rte_mbuf *m, const struct frame_info *fi,
                      const struct faii_route_cand *c, uint8_t replica_index, uint8_t replicas,
                      uint8_t attempt, uint64_t dispatch_ns, uint8_t nonce[FAII_NONCE_SIZE]);
void pipe_handle_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                      const struct faii_frame_view *fv, const struct faii_route_set *set,
                      uint64_t now_tsc);

/* ---- result.c ---- */
void pipe_release(struct faii_worker *w, struct faii_dispatch *r);
/* The task is done: its receipt is written, its slot and held copy freed.
 * status: what the client got; single_hash: the answer of a one-copy task
 * that answered ok, else NULL. */
void pipe_finish(struct faii_worker *w, uint32_t pos, uint64_t now_tsc, uint8_t status,
                 const uint8_t *single_hash);
void pipe_copy_failed(struct faii_worker *w, struct faii_dispatch *r, unsigned k);
void pipe_handle_result(struct faii_worker *w, struct rte_mbuf *m, const struct faii_frame_view *fv,
                        const struct faii_route_set *set, uint64_t now_tsc);

/* ---- timer_wheel.c ---- */
bool pipe_redispatch_copy(struct faii_worker *w, struct faii_dispatch *r, unsigned k,
                          const struct faii_route_set *set, uint64_t now_tsc);
void pipe_run_wheel(struct faii_worker *w, const struct faii_route_set *set, uint64_t now_tsc);

#endif /* FAII_PIPELINE_H */
