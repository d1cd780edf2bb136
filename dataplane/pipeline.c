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
 */
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
#include "residency_bpf.h"
#include "faii/frame.h"

_Atomic bool faii_force_quit; /* lock-free: safe to set from a signal handler */

enum { REC_FREE = 0, REC_DISPATCHED = 1, REC_DONE = 2 };
#define NO_SLOT UINT32_MAX

/* One task in flight or within its replay window. 192 bytes. */
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
} __rte_cache_aligned;

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

/* ---- small helpers ----------------------------------------------------------------- */

static inline uint64_t rng_next(struct faii_worker *w)
{
	uint64_t s1 = w->rng[0];
	const uint64_t s0 = w->rng[1];
	w->rng[0] = s0;
	s1 ^= s1 << 23;
	w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return w->rng[1] + s0;
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

static void tx_flush(struct faii_worker *w)
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

/* ---- frames ------------------------------------------------------------------------ */

/* Where a reply goes: the L2 neighbour the request came from, our port MAC,
 * the address the request was sent to as source. */
struct endpoint {
	uint8_t mac[6];
	uint8_t ip[16];
	uint16_t port;
};

/* Rewrites m so that its message (at msg_offset, msg_len bytes) travels in
 * fresh headers; checksums recomputed. 0, or -1 if it cannot fit. */
static int emit(struct faii_worker *w, struct rte_mbuf *m, uint16_t msg_offset, uint16_t msg_len,
                bool ipv6, bool vlan, uint16_t vlan_tci, const uint8_t *dst_mac,
                const uint8_t *src_ip, uint16_t src_port, const uint8_t *dst_ip, uint16_t dst_port)
{
	struct faii_frame_spec spec = {
	        .vlan = vlan,
	        .vlan_tci = vlan_tci,
	        .ipv6 = ipv6,
	        .src_port = src_port,
	        .dst_port = dst_port,
	};
	memcpy(spec.dst_mac, dst_mac, 6);
	memcpy(spec.src_mac, w->dp->port_mac[m->port].addr_bytes, 6);
	memcpy(spec.src_ip, src_ip, ipv6 ? 16 : 4);
	memcpy(spec.dst_ip, dst_ip, ipv6 ? 16 : 4);
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	size_t cap = (size_t)m->buf_len - m->data_off;
	size_t len = faii_frame_build(base, cap, &spec, base + msg_offset, msg_len);
	if (len == 0)
		return -1;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return 0;
}

/* The folded (not complemented) ones'-complement sum of even-length bytes. */
static inline uint32_t sum16(const void *p, size_t len)
{
	uint32_t s = faii_csum_add(0, p, len);
	s = (s & 0xFFFF) + (s >> 16);
	return (s & 0xFFFF) + (s >> 16);
}

/*
 * Readdresses a frame in place, keeping its header layout: Ethernet
 * addresses, IP source and destination, UDP ports. The UDP checksum is
 * updated for the changed words only (RFC 1624), including the message
 * words the caller changed (their sums before and after, msg_old and
 * msg_new), so the payload is not read again; the IPv4 header checksum is
 * recomputed over its 20-60 bytes. A UDP checksum of 0 over IPv4 (none)
 * stays 0.
 */
static void readdress(struct faii_worker *w, struct rte_mbuf *m, uint16_t l3, uint16_t l4,
                      bool ipv6, const uint8_t *dst_mac, const uint8_t *src_ip, uint16_t src_port,
                      const uint8_t *dst_ip, uint16_t dst_port, uint32_t msg_old, uint32_t msg_new)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, w->dp->port_mac[m->port].addr_bytes, 6);
	uint8_t *ip = f + l3, *udp = f + l4;
	size_t alen = ipv6 ? 16 : 4;
	uint8_t *sip = ip + (ipv6 ? 8 : 12), *dip = ip + (ipv6 ? 24 : 16);
	uint32_t old = sum16(sip, alen) + sum16(dip, alen) + sum16(udp, 4) + msg_old;
	memcpy(sip, src_ip, alen);
	memcpy(dip, dst_ip, alen);
	uint16_t ports[2] = {faii_be16(src_port), faii_be16(dst_port)};
	memcpy(udp, ports, 4);
	uint32_t neu = sum16(sip, alen) + sum16(dip, alen) + sum16(udp, 4) + msg_new;
	uint16_t ck;
	memcpy(&ck, udp + 6, 2);
	if (ck != 0 || ipv6) {
		/* HC' = ~(~HC + ~m + m'), all in 16-bit ones' complement. */
		uint32_t acc = (uint16_t)~faii_be16(ck);
		old = (old & 0xFFFF) + (old >> 16);
		old = (old & 0xFFFF) + (old >> 16);
		acc += (uint16_t)~old + neu;
		while (acc >> 16)
			acc = (acc & 0xFFFF) + (acc >> 16);
		uint16_t v = (uint16_t)~acc;
		ck = faii_be16(v == 0 ? 0xFFFF : v);
		memcpy(udp + 6, &ck, 2);
	}
	if (ipv6) {
		ip[7] = FAII_FRAME_TTL_DEFAULT;
	} else {
		size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
		ip[8] = FAII_FRAME_TTL_DEFAULT;
		ip[10] = ip[11] = 0;
		uint16_t hc = faii_be16(faii_ipv4_checksum(ip, ihl));
		memcpy(ip + 10, &hc, 2);
	}
}

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

static void frame_info(const struct rte_mbuf *m, const struct faii_frame_view *fv,
                       struct frame_info *fi)
{
	/* Copied, not pointed to: the frame is rewritten while these are used. */
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	fi->l3_offset = fv->l3_offset;
	fi->l4_offset = fv->l4_offset;
	memcpy(fi->src_mac, f + 6, 6);
	fi->ipv6 = fv->ip_version == 6;
	memset(fi->src_ip, 0, sizeof(fi->src_ip));
	memset(fi->dst_ip, 0, sizeof(fi->dst_ip));
	memcpy(fi->src_ip, f + fv->l3_offset + (fi->ipv6 ? 8 : 12), fi->ipv6 ? 16 : 4);
	memcpy(fi->dst_ip, f + fv->l3_offset + (fi->ipv6 ? 24 : 16), fi->ipv6 ? 16 : 4);
	fi->src_port = fv->src_port;
	fi->dst_port = fv->dst_port;
	/* The parser accepts up to two tags; replies keep the outer one only. */
	fi->vlan = fv->l3_offset > FAII_ETH_HDR_LEN;
	fi->vlan_tci = fi->vlan ? load_be16(f + 14) : 0;
	fi->msg_offset = fv->msg_offset;
	fi->msg_len = fv->msg.length;
}

/* Writes a RESULT of the appliance's own (no feasible node, refused,
 * timeout, no quorum) into m and queues it. */
static void answer(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index, uint64_t task_id,
                   uint8_t status, uint32_t node_id, uint64_t dispatch_ns, bool ipv6, bool vlan,
                   uint16_t vlan_tci, const uint8_t *client_mac, const uint8_t *client_ip,
                   uint16_t client_port, const uint8_t *local_ip, uint16_t local_port)
{
	uint8_t msg[FAII_HDR_SIZE + FAII_RESULT_BODY_SIZE];
	struct faii_result r = {
	        .task_id = task_id,
	        .status = status,
	        .node_id = node_id,
	        .dispatch_ts_ns = dispatch_ns,
	};
	size_t len = faii_encode_result(msg, sizeof(msg), &r, NULL);
	/* Copy out of the frame first: emit() rebuilds headers in place. */
	uint8_t mac[6], cip[16], lip[16];
	memcpy(mac, client_mac, 6);
	memcpy(cip, client_ip, 16);
	memcpy(lip, local_ip, 16);
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	size_t hdr = FAII_ETH_HDR_LEN + (vlan ? FAII_VLAN_TAG_LEN : 0) +
	             (ipv6 ? FAII_IPV6_HDR_LEN : FAII_IPV4_HDR_LEN) + FAII_UDP_HDR_LEN;
	if (len == 0 || hdr + len > (size_t)m->buf_len - m->data_off) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(base + hdr, msg, len);
	if (emit(w, m, (uint16_t)hdr, (uint16_t)len, ipv6, vlan, vlan_tci, mac, lip, local_port,
	         cip, client_port) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	w->stats.pipe[FAII_PIPE_ANSWERS]++;
	tx_enqueue(w, port_index, m);
}

static void answer_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                        const struct frame_info *fi, uint64_t task_id, uint8_t status)
{
	answer(w, m, port_index, task_id, status, 0, 0, fi->ipv6, fi->vlan, fi->vlan_tci,
	       fi->src_mac, fi->src_ip, fi->src_port, fi->dst_ip, fi->dst_port);
}

/* node_id and dispatch_ns: 0 for the appliance's own statuses; an ERROR
 * (no quorum) must name a node that answered and echo its dispatch time,
 * or the client's parser drops it (bad_node_id). */
static void answer_record(struct faii_worker *w, const struct faii_dispatch *r, uint8_t status,
                          uint32_t node_id, uint64_t dispatch_ns)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
	if (m == NULL) {
		w->stats.pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
		return;
	}
	m->port = w->ports[r->rx_port_index];
	answer(w, m, r->rx_port_index, r->task_id, status, node_id, dispatch_ns,
	       r->family == FAII_ADDR_IPV6, r->vlan, r->vlan_tci, r->client_mac, r->client_ip,
	       r->client_port, r->local_ip, r->local_port);
}

/* ---- routing per packet ------------------------------------------------------------ */

struct task_need {
	uint32_t budget_us;
	uint16_t min_reputation;
	uint8_t family;
	/* Candidates of this table already chosen or refused for the task
	 * (bit k: cand[k]; a table has at most 64), and the registry slots the
	 * task already used (a re-dispatch avoids them; at most 7). */
	uint64_t excluded_cands;
	const uint32_t *exclude;
	unsigned exclude_count;
};

_Static_assert(FAII_ROUTE_CANDIDATES_MAX <= 64, "candidate exclusion is a 64-bit mask");

static inline bool excluded(const struct task_need *need, uint32_t node)
{
	for (unsigned i = 0; i < need->exclude_count; i++) {
		if (need->exclude[i] == node)
			return true;
	}
	return false;
}

/* The per-packet re-check: status, reputation, latency budget, load. */
static inline bool cand_feasible(const struct faii_dp *dp, const struct faii_route_dp_table *t,
                                 unsigned k, const struct task_need *need)
{
	const struct faii_route_cand *c = &t->cand[k];
	const struct faii_node_live *lv = &dp->live[c->node];
	return ATOMIC_LOAD(&lv->status) == FAII_NODE_ACTIVE &&
	       ATOMIC_LOAD(&lv->reputation_milli) >= need->min_reputation &&
	       c->latency_us <= need->budget_us && c->addr_family == need->family &&
	       ATOMIC_LOAD(&lv->outstanding) < ATOMIC_LOAD(&lv->limit) &&
	       !((need->excluded_cands >> k) & 1) && !excluded(need, c->node);
}

/* a's load is below b's: outstanding / limit, compared without division. */
static inline bool less_loaded(const struct faii_dp *dp, const struct faii_route_dp_table *t,
                               unsigned a, unsigned b)
{
	const struct faii_node_live *la = &dp->live[t->cand[a].node];
	const struct faii_node_live *lb = &dp->live[t->cand[b].node];
	return (uint64_t)ATOMIC_LOAD(&la->outstanding) * ATOMIC_LOAD(&lb->limit) <
	       (uint64_t)ATOMIC_LOAD(&lb->outstanding) * ATOMIC_LOAD(&la->limit);
}

/*
 * The better of two weighted draws; when neither is feasible, the least
 * loaded feasible candidate of the table (at most 64 to look at). Returns the
 * candidate index or -1.
 */
static int pick_one(struct faii_worker *w, const struct faii_route_dp_table *t,
                    const struct task_need *need)
{
	const struct faii_dp *dp = w->dp;
	int best = -1;
	for (int draw = 0; draw < 2; draw++) {
		uint64_t r = rng_next(w);
		uint32_t i = (uint32_t)(((r >> 32) * t->count) >> 32);
		unsigned k = (uint32_t)r <= t->prob[i] ? i : t->alias[i];
		if (!cand_feasible(dp, t, k, need))
			continue;
		if (best < 0 || less_loaded(dp, t, k, (unsigned)best))
			best = (int)k;
	}
	if (best >= 0)
		return best;
	for (unsigned k = 0; k < t->count; k++) {
		if (cand_feasible(dp, t, k, need) &&
		    (best < 0 || less_loaded(dp, t, k, (unsigned)best)))
			best = (int)k;
	}
	return best;
}

/* DePX diversity of candidate k against the chosen ones, in [0, 1]. */
static float diversity(const struct faii_route_dp_table *t, unsigned k, const uint16_t *chosen,
                       unsigned n)
{
	/* Two points more than 1000 km apart: chord > 2 sin(1000 / 2R). */
	static const float far_dot = 0.98770f; /* cos(1000 km / 6371 km) */
	const struct faii_route_cand *c = &t->cand[k];
	float sum = 0;
	for (unsigned j = 0; j < n; j++) {
		const struct faii_route_cand *o = &t->cand[chosen[j]];
		float d = 0;
		d += c->operator_idx != o->operator_idx ? 1.0f : 0.0f;
		d += c->asn != o->asn ? 0.5f : 0.0f;
		d += c->jurisdiction != o->jurisdiction ? 0.3f : 0.0f;
		d += c->node_class != o->node_class ? 0.2f : 0.0f;
		float dot =
		        c->unit[0] * o->unit[0] + c->unit[1] * o->unit[1] + c->unit[2] * o->unit[2];
		d += dot < far_dot ? 0.3f : 0.0f;
		sum += d;
	}
	return sum / (2.3f * (float)n);
}

/*
 * A replica set: the first member by the weighted draw, each next one the
 * feasible candidate maximising 0.6 diversity + 0.4 performance (SPEC 3.4).
 * All candidates are inside the key's residency class by construction.
 * Returns the number chosen (want on success).
 */
static unsigned pick_set(struct faii_worker *w, const struct faii_route_dp_table *t,
                         struct task_need *need, unsigned want, uint16_t *chosen)
{
	unsigned n = 0;
	int first = pick_one(w, t, need);
	if (first < 0)
		return 0;
	chosen[n] = (uint16_t)first;
	need->excluded_cands |= 1ull << first;
	n++;
	while (n < want) {
		int best = -1;
		float best_score = -1;
		for (unsigned k = 0; k < t->count; k++) {
			if (!cand_feasible(w->dp, t, k, need))
				continue;
			float s = 0.6f * diversity(t, k, chosen, n) + 0.4f * t->cand[k].perf;
			if (s > best_score) {
				best_score = s;
				best = (int)k;
			}
		}
		if (best < 0)
			break;
		chosen[n] = (uint16_t)best;
		need->excluded_cands |= 1ull << best;
		n++;
	}
	return n;
}

/* Stamps a TASK copy for candidate c and rebuilds its headers towards it. */
static int address_copy(struct faii_worker *w, struct rte_mbuf *m, const struct frame_info *fi,
                        const struct faii_route_cand *c, uint8_t replica_index, uint8_t replicas,
                        uint8_t attempt, uint64_t dispatch_ns)
{
	uint8_t *msg = rte_pktmbuf_mtod(m, uint8_t *) + fi->msg_offset;
	uint8_t *body = msg + FAII_HDR_SIZE;
	/* The words that change, at even offsets from the UDP header: flags,
	 * dispatch time and node id, (consistency, replica), (attempt, 0). */
	uint8_t *ts = body + offsetof(struct faii_task, dispatch_ts_ns);
	uint8_t *rep = body + offsetof(struct faii_task, consistency);
	_Static_assert(offsetof(struct faii_task, node_id) ==
	                       offsetof(struct faii_task, dispatch_ts_ns) + 8,
	               "dispatch time and node id are adjacent");
	_Static_assert(offsetof(struct faii_task, consistency) % 2 == 0 &&
	                       offsetof(struct faii_task, replica_index) ==
	                               offsetof(struct faii_task, consistency) + 1 &&
	                       offsetof(struct faii_task, attempt) ==
	                               offsetof(struct faii_task, consistency) + 2,
	               "replica index and attempt share two aligned words");
	uint32_t before = sum16(msg + 6, 2) + sum16(ts, 12) + sum16(rep, 4);
	msg[6] = (uint8_t)(FAII_F_DISPATCHED | (replicas > 1 ? FAII_F_REPLICA : 0));
	store_be64(ts, dispatch_ns);
	store_be32(body + offsetof(struct faii_task, node_id), c->node_id);
	body[offsetof(struct faii_task, replica_index)] = replica_index;
	body[offsetof(struct faii_task, attempt)] = attempt;
	uint32_t after = sum16(msg + 6, 2) + sum16(ts, 12) + sum16(rep, 4);
	if (c->addr_family != (fi->ipv6 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4))
		return -1;
	/* The address the client used is ours: the node answers to it. */
	readdress(w, m, fi->l3_offset, fi->l4_offset, fi->ipv6, fi->src_mac, fi->dst_ip,
	          fi->dst_port, c->addr, c->udp_port, before, after);
	return 0;
}

static inline uint32_t judge(struct faii_worker *w, struct rte_mbuf *m)
{
	const struct faii_dp *dp = w->dp;
	uint32_t v = dp->residency_judge(dp->residency_ctx, rte_pktmbuf_mtod(m, const void *),
	                                 rte_pktmbuf_data_len(m));
	w->stats.residency[v < FAII_RES_REASON_COUNT ? v : FAII_RES_DROP_MALFORMED]++;
	return v;
}

static void wheel_insert(struct faii_worker *w, uint32_t pos, uint64_t due_tick)
{
	struct faii_dispatch *r = &w->records[pos];
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

static void forget(struct faii_worker *w, uint32_t pos)
{
	struct faii_dispatch *r = &w->records[pos];
	rte_hash_del_key(w->dispatch, &r->task_id);
	r->state = REC_FREE;
	w->records_in_use--;
}

/* ---- TASK -------------------------------------------------------------------------- */

static void release(struct faii_worker *w, struct faii_dispatch *r);

static void handle_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                        const struct faii_frame_view *fv, const struct faii_route_set *set,
                        uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	struct faii_worker_stats *st = &w->stats;
	const uint8_t *body = (const uint8_t *)fv->msg.task;
	struct frame_info fi;
	frame_info(m, fv, &fi);
	uint64_t task_id = load_be64(body + offsetof(struct faii_task, task_id));

	if (fv->msg.hdr->flags & FAII_F_DISPATCHED) {
		st->pipe[FAII_PIPE_TASK_DISPATCHED_FLAG]++; /* only the appliance dispatches */
		rte_pktmbuf_free(m);
		return;
	}
	uint64_t now_ns = wall_ns(dp, now_tsc);
	uint64_t submit = load_be64(body + offsetof(struct faii_task, submit_ts_ns));
	uint32_t budget_us = load_be32(body + offsetof(struct faii_task, latency_budget_us));
	uint64_t expire = submit + (uint64_t)budget_us * 1000u;
	if (expire < now_ns || submit > now_ns + FAII_CLOCK_SKEW_NS) {
		/* Answered, so the client knows; a replay (below) is not, since
		 * answering it would amplify whoever replays. */
		st->pipe[FAII_PIPE_TASK_EXPIRED]++;
		answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
		return;
	}
	hash_sig_t sig = rte_hash_crc_8byte(task_id, 0);
	if (rte_hash_lookup_with_hash(w->dispatch, &task_id, sig) >= 0) {
		st->pipe[FAII_PIPE_TASK_REPLAY]++;
		rte_pktmbuf_free(m);
		return;
	}
	uint8_t category = body[offsetof(struct faii_task, category)];
	uint8_t tier = body[offsetof(struct faii_task, tier)];
	uint8_t consistency = body[offsetof(struct faii_task, consistency)];
	uint16_t region = load_be16(body + offsetof(struct faii_task, origin_region));
	uint16_t rclass = load_be16(body + offsetof(struct faii_task, residency_class));
	st->category_tasks[category - 1]++;

	const struct faii_route_dp_table *t =
	        set ? faii_route_set_lookup(set, region, category, rclass) : NULL;
	if (t == NULL) {
		st->pipe[FAII_PIPE_TASK_UNKNOWN_KEY]++;
		answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_NO_FEASIBLE_NODE);
		return;
	}
	uint8_t rslot = set->region_slot[region];
	w->key_arrivals[faii_route_key_index(rslot, category, rclass)]++;

	unsigned replicas = faii_consistency_replicas(consistency);
	uint16_t chosen[FAII_REPLICAS_MAX];
	struct task_need need = {
	        .budget_us = budget_us,
	        .min_reputation =
	                load_be16(body + offsetof(struct faii_task, min_reputation_milli)),
	        .family = fi.ipv6 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4,
	};
	unsigned got = t->count ? pick_set(w, t, &need, replicas, chosen) : 0;
	if (got < replicas) {
		st->pipe[FAII_PIPE_NO_FEASIBLE]++;
		answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_NO_FEASIBLE_NODE);
		return;
	}
	int32_t pos = rte_hash_add_key_with_hash(w->dispatch, &task_id, sig);
	if (pos < 0) {
		st->pipe[FAII_PIPE_TABLE_FULL]++;
		answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
		return;
	}
	uint32_t rslot_pool = NO_SLOT;
	if (replicas > 1) {
		if (w->replica_free_count == 0) {
			rte_hash_del_key_with_hash(w->dispatch, &task_id, sig);
			st->pipe[FAII_PIPE_REPLICA_POOL_EMPTY]++;
			answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
			return;
		}
		rslot_pool = w->replica_free[--w->replica_free_count];
	}

	struct faii_dispatch *r = &w->records[pos];
	memset(r, 0, sizeof(*r));
	r->task_id = task_id;
	r->expire_ns = expire;
	r->arrival_tsc = now_tsc;
	r->dispatch_ns[0] = now_ns;
	r->dispatch_tsc[0] = now_tsc;
	r->replica_slot = rslot_pool;
	r->budget_us = budget_us;
	r->region = region;
	r->residency_class = rclass;
	r->min_reputation = need.min_reputation;
	r->client_port = fi.src_port;
	r->local_port = fi.dst_port;
	r->vlan_tci = fi.vlan_tci;
	r->vlan = fi.vlan;
	r->category = category;
	r->tier = tier;
	r->replicas = (uint8_t)replicas;
	r->quorum = faii_consistency_quorum(consistency);
	r->state = REC_DISPATCHED;
	r->region_slot = rslot;
	r->family = need.family;
	r->rx_port_index = (uint8_t)port_index;
	memcpy(r->client_mac, fi.src_mac, 6);
	memcpy(r->client_ip, fi.src_ip, fi.ipv6 ? 16 : 4);
	memcpy(r->local_ip, fi.dst_ip, fi.ipv6 ? 16 : 4);
	w->records_in_use++;

	/* Copies first, from the client's bytes; the original goes last. */
	struct rte_mbuf *copies[FAII_REPLICAS_MAX];
	copies[replicas - 1] = m;
	for (unsigned k = 0; k + 1 < replicas; k++) {
		copies[k] = rte_pktmbuf_copy(m, dp->pool, 0, UINT32_MAX);
		if (copies[k] == NULL)
			st->pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
	}
	/* The frame info points into m, which is rewritten last. */
	for (unsigned k = 0; k < replicas; k++) {
		struct rte_mbuf *c = copies[k];
		r->node[k] = t->cand[chosen[k]].node;
		if (c == NULL) {
			r->unsent |= (uint8_t)(1u << k); /* re-dispatched at the deadline */
			continue;
		}
		c->port = m->port;
		bool sent = false;
		for (unsigned tries = 0; tries <= t->count; tries++) {
			const struct faii_route_cand *cand = &t->cand[chosen[k]];
			r->node[k] = cand->node;
			if (address_copy(w, c, &fi, cand, (uint8_t)k, (uint8_t)replicas, 0,
			                 now_ns) == 0 &&
			    judge(w, c) == FAII_RES_PASS_ALLOWED) {
				sent = true;
				break;
			}
			/* Defence in depth: the table holds only allowed nodes, so a
			 * refusal means the policy changed under us. Never send it. */
			st->pipe[FAII_PIPE_RESIDENCY_REFUSED]++;
			int alt = pick_one(w, t, &need); /* refused ones stay excluded */
			if (alt < 0)
				break;
			chosen[k] = (uint16_t)alt;
			need.excluded_cands |= 1ull << alt;
		}
		if (!sent) {
			r->node[k] = t->cand[chosen[k]].node;
			if (c == m)
				m = NULL; /* nothing to hold: re-dispatch will find no copy */
			rte_pktmbuf_free(c);
			copies[k] = NULL;
			r->unsent |= (uint8_t)(1u << k);
			continue;
		}
		struct faii_node_live *lv = &dp->live[r->node[k]];
		ATOMIC_ADD(&lv->outstanding, 1);
		ATOMIC_ADD(&lv->dispatched, 1);
		st->class_copies[t->cand[chosen[k]].node_class]++;
		st->pipe[FAII_PIPE_COPIES_SENT]++;
	}
	if (r->unsent == (uint8_t)((1u << replicas) - 1)) {
		/* Every copy refused (the residency policy changed under the
		 * tables) or unbuilt: nothing left, so say so now, not after a
		 * timeout, and forget the task. */
		st->pipe[FAII_PIPE_NO_FEASIBLE]++;
		answer_record(w, r, FAII_RESULT_NO_FEASIBLE_NODE, 0, 0);
		release(w, r);
		rte_hash_del_key_with_hash(w->dispatch, &task_id, sig);
		r->state = REC_FREE;
		w->records_in_use--;
		return;
	}
	/* Hold the last copy for a re-dispatch after a timeout. */
	if (m != NULL) {
		rte_mbuf_refcnt_update(m, 1);
		r->task = m;
	}
	for (unsigned k = 0; k < replicas; k++) {
		if (copies[k] != NULL)
			tx_enqueue(w, port_index, copies[k]);
	}
	st->pipe[FAII_PIPE_TASKS_DISPATCHED]++;
	st->tier_dispatched[tier - 1]++;
	wheel_insert(w, (uint32_t)pos, tick_of(dp, now_tsc) + ticks_for_us(budget_us));
}

/* ---- RESULT ------------------------------------------------------------------------ */

static void release(struct faii_worker *w, struct faii_dispatch *r)
{
	if (r->task != NULL) {
		rte_pktmbuf_free(r->task);
		r->task = NULL;
	}
	if (r->replica_slot != NO_SLOT) {
		w->replica_free[w->replica_free_count++] = r->replica_slot;
		r->replica_slot = NO_SLOT;
	}
}

static void finish(struct faii_worker *w, uint32_t pos)
{
	struct faii_dispatch *r = &w->records[pos];
	r->state = REC_DONE;
	release(w, r);
	/* Kept until its replay window ends; the wheel entry already pending
	 * for the deadline re-queues it for then. */
}

static void emit_evidence(struct faii_worker *w, const struct faii_dispatch *r, unsigned k,
                          uint8_t status, const uint8_t *hash, const uint8_t *majority)
{
	struct faii_evidence ev = {
	        .task_id = r->task_id,
	        .node = r->node[k],
	        .node_id = w->dp->live[r->node[k]].node_id,
	        .replica_index = (uint8_t)k,
	        .replicas = r->replicas,
	        .status = status,
	};
	memcpy(ev.result_hash, hash, FAII_HASH_SIZE);
	memcpy(ev.majority_hash, majority, FAII_HASH_SIZE);
	w->stats.pipe[FAII_PIPE_DISAGREEMENTS]++;
	ATOMIC_ADD(&w->dp->live[r->node[k]].disagreed, 1);
	if (rte_ring_mp_enqueue_elem(w->dp->evidence_ring, &ev, sizeof(ev)) != 0)
		w->stats.pipe[FAII_PIPE_EVIDENCE_LOST]++;
}

static void credit(struct faii_worker *w, const struct faii_dispatch *r, unsigned k)
{
	if (r->in_slo & (1u << k))
		ATOMIC_ADD(&w->dp->live[r->node[k]].verified_work[r->tier - 1], 1);
}

/* Sends the result in m to the task's client. */
static void forward(struct faii_worker *w, struct faii_dispatch *r, struct rte_mbuf *m,
                    const struct faii_frame_view *fv, uint64_t now_tsc)
{
	struct faii_worker_stats *st = &w->stats;
	uint64_t us = tsc_to_us(w->dp, now_tsc - r->arrival_tsc);
	st->latency_hist[r->tier - 1][faii_hist_bucket(us)]++;
	st->latency_sum_us[r->tier - 1] += us;
	if (us <= r->budget_us)
		st->tier_slo_met[r->tier - 1]++;
	st->tier_finished[r->tier - 1]++;
	r->forwarded = 1;
	m->port = w->ports[r->rx_port_index];
	bool ipv6 = r->family == FAII_ADDR_IPV6;
	bool tagged = fv->l3_offset > FAII_ETH_HDR_LEN;
	if (tagged == (bool)r->vlan && (fv->ip_version == 6) == ipv6) {
		/* The usual case: the same layout both ways, readdressed in place. */
		if (tagged) {
			uint16_t tci = faii_be16(r->vlan_tci);
			memcpy(rte_pktmbuf_mtod(m, uint8_t *) + 14, &tci, 2);
		}
		readdress(w, m, fv->l3_offset, fv->l4_offset, ipv6, r->client_mac, r->local_ip,
		          r->local_port, r->client_ip, r->client_port, 0, 0);
	} else if (emit(w, m, fv->msg_offset, fv->msg.length, ipv6, r->vlan, r->vlan_tci,
	                r->client_mac, r->local_ip, r->local_port, r->client_ip,
	                r->client_port) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	st->pipe[FAII_PIPE_RESULTS_FORWARDED]++;
	tx_enqueue(w, r->rx_port_index, m);
}

/* A copy that will not answer (timeout): its node loses the task. */
static void copy_failed(struct faii_worker *w, struct faii_dispatch *r, unsigned k)
{
	struct faii_node_live *lv = &w->dp->live[r->node[k]];
	ATOMIC_SUB(&lv->outstanding, 1);
	ATOMIC_ADD(&lv->failed, 1);
	ATOMIC_ADD(&lv->slo_total[r->tier - 1], 1);
	w->stats.pipe[FAII_PIPE_TIMEOUTS]++;
}

static bool redispatch_copy(struct faii_worker *w, struct faii_dispatch *r, unsigned k,
                            const struct faii_route_set *set, uint64_t now_tsc);

static void handle_result(struct faii_worker *w, struct rte_mbuf *m,
                          const struct faii_frame_view *fv, const struct faii_route_set *set,
                          uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	struct faii_worker_stats *st = &w->stats;
	const uint8_t *body = (const uint8_t *)fv->msg.result;
	uint64_t task_id = load_be64(body + offsetof(struct faii_result, task_id));
	int32_t pos = rte_hash_lookup(w->dispatch, &task_id);
	enum faii_pipe_counter drop = FAII_PIPE_COUNT;
	struct faii_dispatch *r = pos >= 0 ? &w->records[pos] : NULL;
	unsigned k = body[offsetof(struct faii_result, replica_index)];
	if (r == NULL)
		drop = FAII_PIPE_RESULT_UNKNOWN;
	else if (r->state != REC_DISPATCHED)
		drop = FAII_PIPE_RESULT_LATE;
	else if (k >= r->replicas ||
	         dp->live[r->node[k]].node_id !=
	                 load_be32(body + offsetof(struct faii_result, node_id)))
		drop = FAII_PIPE_RESULT_WRONG_NODE;
	else if (r->replied & (1u << k))
		drop = FAII_PIPE_RESULT_DUPLICATE;
	else if (load_be64(body + offsetof(struct faii_result, dispatch_ts_ns)) !=
	         r->dispatch_ns[(r->second >> k) & 1])
		drop = FAII_PIPE_RESULT_BAD_ECHO;
	if (drop != FAII_PIPE_COUNT) {
		st->pipe[drop]++;
		rte_pktmbuf_free(m);
		return;
	}
	st->pipe[FAII_PIPE_RESULTS_MATCHED]++;

	unsigned attempt = (r->second >> k) & 1;
	uint64_t rtt_us = tsc_to_us(dp, now_tsc - r->dispatch_tsc[attempt]);
	uint8_t status = body[offsetof(struct faii_result, status)];
	bool ok = status == FAII_RESULT_OK;
	bool in_slo = ok && rtt_us <= r->budget_us;
	struct faii_node_live *lv = &dp->live[r->node[k]];
	r->replied |= (uint8_t)(1u << k);
	ATOMIC_SUB(&lv->outstanding, 1);
	ATOMIC_ADD(&lv->completed, 1);
	ATOMIC_ADD(&lv->slo_total[r->tier - 1], 1);
	if (in_slo)
		ATOMIC_ADD(&lv->slo_met[r->tier - 1], 1);
	/* EWMA of the round trip, overall and from the task's region. */
	uint32_t sample = rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
	if (sample == 0)
		sample = 1; /* 0 means "not measured" */
	_Atomic uint32_t *reg_lat =
	        &dp->latency_us[(size_t)r->node[k] * FAII_CFG_REGIONS_MAX + r->region_slot];
	uint32_t old = ATOMIC_LOAD(reg_lat);
	int64_t upd = old == 0
	                      ? sample
	                      : (int64_t)old + (((int64_t)sample - old) >> FAII_LATENCY_EWMA_SHIFT);
	atomic_store_explicit(reg_lat, (uint32_t)(upd > 0 ? upd : 1), memory_order_relaxed);
	old = ATOMIC_LOAD(&lv->latency_ewma_us);
	upd = old == 0 ? sample
	               : (int64_t)old + (((int64_t)sample - old) >> FAII_LATENCY_EWMA_SHIFT);
	atomic_store_explicit(&lv->latency_ewma_us, (uint32_t)(upd > 0 ? upd : 1),
	                      memory_order_relaxed);

	const uint8_t *hash = body + offsetof(struct faii_result, result_hash);
	if (!ok) {
		st->pipe[FAII_PIPE_NODE_ERRORS]++;
		ATOMIC_ADD(&lv->failed, 1);
		r->errors |= (uint8_t)(1u << k);
	} else {
		r->ok |= (uint8_t)(1u << k);
		if (in_slo)
			r->in_slo |= (uint8_t)(1u << k);
	}

	const uint8_t full = (uint8_t)((1u << r->replicas) - 1);
	if (r->replicas == 1) {
		if (ok || attempt == 1 || r->task == NULL) {
			/* The answer, or the node's error after the retry. */
			if (ok)
				credit(w, r, 0);
			forward(w, r, m, fv, now_tsc);
			finish(w, (uint32_t)pos);
		} else if (redispatch_copy(w, r, 0, set, now_tsc)) {
			/* An error on the first attempt: retried at once elsewhere. The
			 * pending wheel entry moves itself to the new deadline. */
			rte_pktmbuf_free(m);
			ATOMIC_ADD(&lv->redispatched, 1);
			r->attempt = 1;
			r->replied = 0;
			r->due_tick = tick_of(dp, now_tsc) + ticks_for_us(r->budget_us);
		} else {
			forward(w, r, m, fv, now_tsc);
			finish(w, (uint32_t)pos);
		}
		return;
	}

	uint8_t(*hashes)[FAII_HASH_SIZE] = w->replica_hash[r->replica_slot];
	if (ok)
		memcpy(hashes[k], hash, FAII_HASH_SIZE);
	bool consumed = false;
	if (ok && r->majority == 0) {
		unsigned agree = 0;
		for (unsigned j = 0; j < r->replicas; j++)
			agree += (r->ok >> j) & 1 && memcmp(hashes[j], hash, FAII_HASH_SIZE) == 0;
		if (agree >= r->quorum) {
			r->majority = (uint8_t)(k + 1);
			for (unsigned j = 0; j < r->replicas; j++) {
				if (!((r->ok >> j) & 1))
					continue;
				if (memcmp(hashes[j], hash, FAII_HASH_SIZE) == 0)
					credit(w, r, j);
				else
					emit_evidence(w, r, j, FAII_RESULT_OK, hashes[j], hash);
			}
			forward(w, r, m, fv, now_tsc);
			consumed = true;
		}
	} else if (ok) {
		const uint8_t *maj = hashes[r->majority - 1];
		if (memcmp(maj, hash, FAII_HASH_SIZE) == 0)
			credit(w, r, k);
		else
			emit_evidence(w, r, k, FAII_RESULT_OK, hash, maj);
	}
	if (!consumed)
		rte_pktmbuf_free(m);
	if (r->replied == full) {
		if (r->majority == 0) {
			st->pipe[FAII_PIPE_NO_QUORUM]++;
			st->tier_finished[r->tier - 1]++;
			answer_record(w, r, FAII_RESULT_NO_QUORUM, 0, 0);
		}
		finish(w, (uint32_t)pos);
	}
}

/* ---- timeouts ---------------------------------------------------------------------- */

/* Sends copy k again to a node not yet used by this task. */
static bool redispatch_copy(struct faii_worker *w, struct faii_dispatch *r, unsigned k,
                            const struct faii_route_set *set, uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	if (r->task == NULL || set == NULL)
		return false;
	const struct faii_route_dp_table *t =
	        faii_route_set_lookup(set, r->region, r->category, r->residency_class);
	if (t == NULL || t->count == 0)
		return false;
	struct task_need need = {
	        .budget_us = r->budget_us,
	        .min_reputation = r->min_reputation,
	        .family = r->family,
	        .exclude = r->node, /* every node the task has used */
	        .exclude_count = r->replicas,
	};
	struct rte_mbuf *c = rte_pktmbuf_copy(r->task, dp->pool, 0, UINT32_MAX);
	if (c == NULL) {
		w->stats.pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
		return false;
	}
	c->port = w->ports[r->rx_port_index];
	/* The held copy went to a node, whose UDP port is its own
	 * (nodes[].address), not necessarily the appliance's. */
	struct faii_frame_view fv;
	const void *frame = rte_pktmbuf_mtod(c, const void *);
	enum faii_drop d = faii_parse_frame(frame, rte_pktmbuf_data_len(c), dp->udp_port, &fv);
	if (d == FAII_DROP_WRONG_PORT)
		d = faii_parse_frame(frame, rte_pktmbuf_data_len(c), fv.dst_port, &fv);
	if (d != FAII_OK) {
		rte_pktmbuf_free(c);
		return false;
	}
	/* The held copy went to a node: its headers are ours now, so take the
	 * client-facing ones from the record. */
	struct frame_info fi;
	frame_info(c, &fv, &fi);
	memcpy(fi.dst_ip, r->local_ip, sizeof(fi.dst_ip));
	fi.dst_port = r->local_port;
	memcpy(fi.src_mac, r->client_mac, sizeof(fi.src_mac));
	uint64_t now_ns = wall_ns(dp, now_tsc);
	for (unsigned tries = 0; tries < 2 + (unsigned)t->count; tries++) {
		int alt = pick_one(w, t, &need);
		if (alt < 0)
			break;
		const struct faii_route_cand *cand = &t->cand[alt];
		if (address_copy(w, c, &fi, cand, (uint8_t)k, r->replicas, 1, now_ns) == 0 &&
		    judge(w, c) == FAII_RES_PASS_ALLOWED) {
			r->node[k] = cand->node;
			r->second |= (uint8_t)(1u << k);
			r->dispatch_ns[1] = now_ns;
			r->dispatch_tsc[1] = now_tsc;
			struct faii_node_live *lv = &dp->live[cand->node];
			ATOMIC_ADD(&lv->outstanding, 1);
			ATOMIC_ADD(&lv->dispatched, 1);
			w->stats.class_copies[cand->node_class]++;
			w->stats.pipe[FAII_PIPE_REDISPATCHED]++;
			w->stats.pipe[FAII_PIPE_COPIES_SENT]++;
			tx_enqueue(w, r->rx_port_index, c);
			return true;
		}
		w->stats.pipe[FAII_PIPE_RESIDENCY_REFUSED]++;
		need.excluded_cands |= 1ull << alt;
	}
	rte_pktmbuf_free(c);
	return false;
}

static void on_due(struct faii_worker *w, uint32_t pos, const struct faii_route_set *set,
                   uint64_t now_tsc, uint64_t tick)
{
	struct faii_dispatch *r = &w->records[pos];
	struct faii_dp *dp = w->dp;
	if (r->due_tick > tick) {
		wheel_insert(w, pos, r->due_tick); /* beyond the wheel's horizon */
		return;
	}
	if (r->state == REC_DONE) {
		uint64_t now_ns = wall_ns(dp, now_tsc);
		if (now_ns >= r->expire_ns)
			forget(w, pos);
		else
			wheel_insert(w, pos, tick + ticks_for_us((r->expire_ns - now_ns) / 1000u));
		return;
	}
	const uint8_t full = (uint8_t)((1u << r->replicas) - 1);
	uint8_t silent = (uint8_t)(full & ~r->replied);
	if (r->forwarded) {
		for (unsigned k = 0; k < r->replicas; k++) {
			if ((silent >> k) & 1 && !((r->unsent >> k) & 1))
				copy_failed(w, r, k);
		}
		finish(w, pos);
		wheel_insert(w, pos, tick);
		return;
	}
	if (r->attempt == 0) {
		r->attempt = 1;
		bool any = false;
		for (unsigned k = 0; k < r->replicas; k++) {
			if (!((silent >> k) & 1))
				continue;
			if (!((r->unsent >> k) & 1))
				copy_failed(w, r, k);
			ATOMIC_ADD(&dp->live[r->node[k]].redispatched, 1);
			if (redispatch_copy(w, r, k, set, now_tsc)) {
				r->unsent &= (uint8_t) ~(1u << k);
				any = true;
			} else {
				r->unsent |= (uint8_t)(1u << k); /* nobody left to ask */
			}
		}
		if (any) {
			/* The retry was sent now: a full budget from now, not from
			 * the tick being caught up (a late worker would otherwise
			 * time the retry out in this same pass). */
			wheel_insert(w, pos, tick_of(dp, now_tsc) + ticks_for_us(r->budget_us));
			return;
		}
	} else {
		for (unsigned k = 0; k < r->replicas; k++) {
			if ((silent >> k) & 1 && !((r->unsent >> k) & 1))
				copy_failed(w, r, k);
		}
	}
	w->stats.pipe[FAII_PIPE_TIMED_OUT_TASKS]++;
	w->stats.tier_finished[r->tier - 1]++;
	answer_record(w, r, FAII_RESULT_TIMEOUT, 0, 0);
	finish(w, pos);
	wheel_insert(w, pos, tick);
}

static void run_wheel(struct faii_worker *w, const struct faii_route_set *set, uint64_t now_tsc)
{
	uint64_t now_tick = tick_of(w->dp, now_tsc);
	/* Bounded catch-up: a worker that stalled processes at most one lap. */
	if (now_tick - w->wheel_tick > FAII_WHEEL_SLOTS)
		w->wheel_tick = now_tick - FAII_WHEEL_SLOTS;
	while (w->wheel_tick < now_tick) {
		uint64_t tick = ++w->wheel_tick;
		uint32_t slot = (uint32_t)(tick & (FAII_WHEEL_SLOTS - 1));
		uint32_t pos = w->wheel[slot];
		w->wheel[slot] = NO_SLOT;
		while (pos != NO_SLOT) {
			uint32_t next = w->records[pos].wheel_next;
			on_due(w, pos, set, now_tsc, tick);
			pos = next;
		}
	}
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
			handle_task(w, m, port_index, &fv, set, now_tsc);
		else
			handle_result(w, m, &fv, set, now_tsc);
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
	run_wheel(w, set, now);
	tx_flush(w);
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
	w->replica_free =
	        rte_malloc("faii_replica_free", FAII_REPLICA_SLOTS * sizeof(uint32_t), 64);
	w->wheel = rte_malloc("faii_wheel", FAII_WHEEL_SLOTS * sizeof(uint32_t), 64);
	w->key_arrivals =
	        rte_zmalloc("faii_key_arrivals", FAII_ROUTE_KEYS_MAX * sizeof(uint64_t), 64);
	if (!w->dispatch || !w->records || !w->replica_hash || !w->replica_free || !w->wheel ||
	    !w->key_arrivals) {
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
	return 0;
}

void faii_worker_fini(struct faii_worker *w)
{
	if (w->records != NULL) {
		for (uint32_t i = 0; i < FAII_DISPATCH_ENTRIES; i++) {
			if (w->records[i].state != REC_FREE)
				release(w, &w->records[i]);
		}
	}
	rte_hash_free(w->dispatch);
	rte_free(w->records);
	rte_free(w->replica_hash);
	rte_free(w->replica_free);
	rte_free(w->wheel);
	rte_free(w->key_arrivals);
	w->dispatch = NULL;
	w->records = NULL;
	w->replica_hash = NULL;
	w->replica_free = NULL;
	w->wheel = NULL;
	w->key_arrivals = NULL;
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
