/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-sim: clients and a Type III fleet played against a running faiid over
 * a DPDK virtual device (net_memif by default: two processes, real frames).
 *
 *   faii-sim [EAL args] -- --config FILE [--rate TASKS_PER_S] [--duration S]
 *            [--fail P] [--silent P] [--byzantine P] [--seed N] [--quiet]
 *            [--client-key demo|wrong|none] [--client-epoch E] [--appliance-epoch E]
 *            [--wait-peer S] [--attest-every S]
 *
 * Clients send the SPEC section 2 task mix (categories, consistency levels,
 * residency classes, origin regions) at a fixed rate to the appliance. Nodes
 * answer each TASK copy after a service time drawn per class (exponential),
 * fail (ERROR) with probability --fail, stay silent with --silent, and a
 * --byzantine share of nodes returns wrong result hashes. Every node sends
 * a signed heartbeat each second (demo keys, include/faii/demo.h). The
 * clients check every answer: one per task, never two.
 *
 * Every node also sends a signed ATTEST (docs/protocol.md §5.4) once every
 * --attest-every S seconds (default 60; S divides 3600; 0: none), spread
 * over the period like the heartbeats: meter = its node id, the energy of
 * its class's power (SIM_POWER_W) over one whole, aligned interval of S
 * seconds that has ended, a new interval each round, its configured ESG
 * (source mix, PUE, energy to work, grid stress). An appliance with a
 * validator puts each accepted one in the ledger (docs/settlement.md, "ESG
 * attestations"), where it mints a carbon certificate once per (meter,
 * interval).
 *
 * When the configuration turns authentication on (appliance.auth), everyone
 * speaks protocol version 2 (docs/security.md): clients MAC their TASKs with
 * their demo client key of --client-epoch (default 1), nodes MAC their
 * RESULTs with the RESULT key derived from their demo key pair and the demo
 * appliance key of --appliance-epoch (default 1), echoing each copy's
 * dispatch token. --client-key wrong MACs the TASKs under a key the
 * appliance does not hold for that client, none sends them as version 1:
 * the appliance must refuse both, counted by name.
 *
 * Prints live counters every 2 s and a summary at the end; exit status 1 if
 * a task was answered twice or an answer matched no task. --wait-peer S
 * waits up to S seconds after the summary for the appliance to close the
 * link before closing the port: DPDK's memif driver can crash a server
 * whose worker polls a queue while its client unmaps it (scripts/run.sh
 * stops faiid first).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "faii/clock.h"
#include "dataplane.h"
#include "faii/config.h"
#include "faii/demo.h"
#include "faii/frame.h"
#include "faii/routing.h"
#include "faii/wire.h"

#define BURST           32u
#define POOL_SIZE       16383u
#define PENDING_MAX     262144u /* node answers waiting for their service time */
#define CLIENT_MAX      262144u /* client tasks awaiting an answer */
#define WHEEL_SLOTS     8192u   /* 1 ms ticks */
#define PAYLOAD_LEN     32u
#define DRAIN_S         3.0 /* after the last task: wait for answers */
#define PRINT_PERIOD_S  2.0
#define HEARTBEAT_EVERY 1.0
#define ATTEST_EVERY_S  60u /* default --attest-every: seconds, divides 3600 */
/* A node's average power by class (micro .. XL), W: its metered energy. */
static const uint32_t SIM_POWER_W[FAII_CLASS_COUNT] = {50, 200, 800, 3000, 10000};

static const uint8_t APPLIANCE_MAC[6] = {0x02, 0xFA, 0x11, 0x00, 0x00, 0x01};
static const uint8_t APPLIANCE_IP[4] = {10, 0, 0, 1};
static const uint8_t CLIENT_MAC[6] = {0x02, 0xC1, 0x1E, 0x00, 0x00, 0x01};
static const uint8_t NODE_MAC[6] = {0x02, 0x0D, 0xE0, 0x00, 0x00, 0x01};
/* Mean service time per node class, ms (micro .. XL). */
static const double SERVICE_MS[FAII_CLASS_COUNT] = {6.0, 5.0, 4.0, 3.0, 2.0};
/* SPEC section 2 task mix: share per category (index category - 1). */
static const double CATEGORY_MIX[FAII_CATEGORY_COUNT] = {0.35, 0.15, 0.10, 0.25, 0.10, 0.05};

enum client_key_mode { CLIENT_KEY_DEMO, CLIENT_KEY_WRONG, CLIENT_KEY_NONE };

struct options {
	const char *config;
	double rate, duration, fail, silent, byzantine;
	uint64_t seed;
	bool quiet;
	enum client_key_mode client_key;
	uint8_t client_epoch, appliance_epoch;
	double wait_peer_s;
	uint32_t attest_every_s; /* 0: no attestations */
};

struct pending {
	uint64_t due_tick;
	uint64_t task_id;
	uint64_t dispatch_ts;
	uint32_t node_slot;
	uint32_t next;
	uint8_t replica_index;
	uint8_t status;
	uint8_t wrong;
	uint8_t reply_mac[6];
	uint8_t reply_ip[4];
	uint16_t reply_port;
	uint8_t nonce[8], handle[8]; /* the copy's dispatch token, echoed (version 2) */
};

struct client_task {
	uint64_t sent_tsc;
	uint32_t budget_us;
	uint8_t tier;
	uint8_t category;
};

struct stats {
	uint64_t sent[FAII_TIER_COUNT];
	uint64_t answered[FAII_TIER_COUNT][FAII_RESULT_STATUS_MAX + 1];
	uint64_t slo_met[FAII_TIER_COUNT];
	uint64_t hist[FAII_TIER_COUNT][FAII_HIST_BUCKETS];
	uint64_t copies_by_class[FAII_CLASS_COUNT];
	uint64_t copies, replica_copies, redispatched;
	uint64_t node_ok, node_errors, node_silent, node_wrong;
	uint64_t heartbeats, attestations;
	uint64_t unknown_answers, unexpected_frames, pending_full, tx_dropped, client_full;
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct sim {
	struct options opt;
	struct faii_config *cfg;
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_hash *node_by_id;
	struct rte_hash *clients;
	struct client_task *client;
	uint8_t (*secret)[64];
	bool auth; /* the configuration has appliance.auth: version 2 */
	uint8_t (*result_key)[FAII_MAC_KEY_SIZE]; /* per node: its RESULT MAC key */
	bool *byzantine;
	struct pending *pend;
	uint32_t pend_free_head;
	uint32_t wheel[WHEEL_SLOTS];
	uint64_t wheel_tick;
	uint64_t tsc_hz, tsc_per_tick, start_tsc;
	uint64_t rng[2];
	uint64_t next_task_id;
	uint32_t heartbeat_cursor, heartbeat_seq;
	uint32_t attest_cursor, attest_round;
	uint64_t attest_first_start_s; /* round r attests [first + r S, first + (r + 1) S) */
	struct stats st;
	struct rte_mbuf *tx[BURST];
	unsigned tx_n;
};

static uint64_t rng_next(struct sim *s)
{
	uint64_t s1 = s->rng[0];
	const uint64_t s0 = s->rng[1];
	s->rng[0] = s0;
	s1 ^= s1 << 23;
	s->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return s->rng[1] + s0;
}

static double uniform(struct sim *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void tx_flush(struct sim *s)
{
	if (s->tx_n == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(s->port, 0, s->tx, (uint16_t)s->tx_n);
	if (sent < s->tx_n) {
		s->st.tx_dropped += s->tx_n - sent;
		rte_pktmbuf_free_bulk(&s->tx[sent], s->tx_n - sent);
	}
	s->tx_n = 0;
}

static void send_msg(struct sim *s, const uint8_t *dst_mac, const uint8_t *src_mac,
                     const uint8_t *src_ip, const uint8_t *dst_ip, uint16_t src_port,
                     uint16_t dst_port, const void *msg, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	if (m == NULL) {
		s->st.tx_dropped++;
		return;
	}
	struct faii_frame_spec spec = {.src_port = src_port, .dst_port = dst_port};
	memcpy(spec.dst_mac, dst_mac, 6);
	memcpy(spec.src_mac, src_mac, 6);
	memcpy(spec.src_ip, src_ip, 4);
	memcpy(spec.dst_ip, dst_ip, 4);
	size_t n = faii_frame_build(rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m), &spec,
	                            msg, len);
	if (n == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	s->tx[s->tx_n++] = m;
	if (s->tx_n == BURST)
		tx_flush(s);
}

static unsigned pick_weighted(struct sim *s, const double *w, unsigned n)
{
	double u = uniform(s), acc = 0;
	for (unsigned i = 0; i + 1 < n; i++) {
		acc += w[i];
		if (u < acc)
			return i;
	}
	return n - 1;
}

/* A client's TASK: version 2 under the client's key (or, on purpose, a
 * wrong key or version 1) when the appliance checks keys. */
static size_t encode_task(const struct sim *s, uint8_t *msg, size_t cap, const struct faii_task *t,
                          const void *payload)
{
	if (!s->auth || s->opt.client_key == CLIENT_KEY_NONE)
		return faii_encode_task(msg, cap, t, payload);
	struct faii_auth_block a = {.key_epoch = s->opt.client_epoch};
	uint8_t key[FAII_MAC_KEY_SIZE];
	/* A wrong key: the demo key of a client id nobody sends as. */
	uint64_t key_of =
	        s->opt.client_key == CLIENT_KEY_WRONG ? t->client_id | (1ull << 63) : t->client_id;
	faii_demo_client_key(key_of, s->opt.client_epoch, key);
	size_t len = faii_encode_task_v2(msg, cap, t, &a, payload);
	if (len != 0)
		faii_msg_mac_sign(msg, len, key);
	sodium_memzero(key, sizeof(key));
	return len;
}

static void send_task(struct sim *s, uint64_t now_tsc)
{
	const struct faii_config *cfg = s->cfg;
	uint8_t category = (uint8_t)(pick_weighted(s, CATEGORY_MIX, FAII_CATEGORY_COUNT) + 1);
	double u = uniform(s);
	uint8_t consistency = u < 0.80   ? FAII_CONSISTENCY_EVENTUAL
	                      : u < 0.95 ? FAII_CONSISTENCY_SESSION
	                                 : FAII_CONSISTENCY_STRONG;
	const struct faii_cfg_region *region =
	        &cfg->regions[rng_next(s) % (cfg->region_count ? cfg->region_count : 1)];
	/* Half the tasks may go anywhere; the rest carry a restricted class. */
	const struct faii_cfg_residency_class *rc =
	        &cfg->residency_classes[uniform(s) < 0.5
	                                        ? 0
	                                        : rng_next(s) % cfg->residency_class_count];
	struct faii_task t = {
	        .task_id = s->next_task_id++,
	        .client_id = 1 + region->id,
	        .submit_ts_ns = faii_realtime_ns(),
	        .latency_budget_us = faii_category_latency_budget_us(category),
	        .origin_region = region->id,
	        .residency_class = rc->id,
	        .category = category,
	        .tier = faii_category_tier(category),
	        .consistency = consistency,
	        .payload_len = PAYLOAD_LEN,
	};
	int32_t pos = rte_hash_add_key(s->clients, &t.task_id);
	if (pos < 0) {
		s->st.client_full++;
		return;
	}
	s->client[pos] = (struct client_task){
	        .sent_tsc = now_tsc,
	        .budget_us = t.latency_budget_us,
	        .tier = t.tier,
	        .category = category,
	};
	uint8_t payload[PAYLOAD_LEN];
	memset(payload, (int)(t.task_id & 0xFF), sizeof(payload));
	uint8_t msg[FAII_MSG_SIZE_MAX];
	size_t len = encode_task(s, msg, sizeof(msg), &t, payload);
	uint8_t client_ip[4] = {10, 1, (uint8_t)region->id, 2};
	send_msg(s, APPLIANCE_MAC, CLIENT_MAC, client_ip, APPLIANCE_IP, FAII_UDP_PORT_DEFAULT,
	         s->cfg->appliance.udp_port, msg, len);
	s->st.sent[t.tier - 1]++;
}

static double exp_ms(struct sim *s, double mean)
{
	double u = uniform(s);
	double v = -mean * log(1.0 - u);
	return v > 5 * mean ? 5 * mean : v;
}

/* A TASK copy reached node n: decide its fate and schedule the answer. */
static void node_takes(struct sim *s, const struct faii_frame_view *fv, const uint8_t *frame,
                       uint64_t now_tsc)
{
	struct faii_task t;
	faii_decode_task(&fv->msg, &t);
	void *data = NULL;
	if (rte_hash_lookup_data(s->node_by_id, &t.node_id, &data) < 0) {
		s->st.unexpected_frames++;
		return;
	}
	uint32_t slot = (uint32_t)(uintptr_t)data;
	const struct faii_cfg_node *n = &s->cfg->nodes[slot];
	/* The appliance must never send a node a task it cannot take. */
	s->st.copies++;
	s->st.copies_by_class[n->node_class]++;
	s->st.replica_copies += t.consistency != FAII_CONSISTENCY_EVENTUAL;
	s->st.redispatched += t.attempt;
	if (uniform(s) < s->opt.silent) {
		s->st.node_silent++;
		return;
	}
	if (s->pend_free_head == UINT32_MAX) {
		s->st.pending_full++;
		return;
	}
	uint32_t idx = s->pend_free_head;
	struct pending *p = &s->pend[idx];
	s->pend_free_head = p->next;
	double ms = exp_ms(s, SERVICE_MS[n->node_class]);
	p->due_tick = (now_tsc - s->start_tsc) / s->tsc_per_tick + (uint64_t)ms + 1;
	p->task_id = t.task_id;
	p->dispatch_ts = t.dispatch_ts_ns;
	p->node_slot = slot;
	p->replica_index = t.replica_index;
	p->status = uniform(s) < s->opt.fail ? FAII_RESULT_ERROR : FAII_RESULT_OK;
	p->wrong = s->byzantine[slot];
	memcpy(p->reply_mac, frame + 6, 6);
	memcpy(p->reply_ip, frame + fv->l3_offset + 12, 4);
	p->reply_port = fv->src_port;
	if (fv->msg.auth != NULL) {
		memcpy(p->nonce, fv->msg.auth->nonce, sizeof(p->nonce));
		memcpy(p->handle, fv->msg.auth->handle, sizeof(p->handle));
	}
	uint32_t w = (uint32_t)(p->due_tick % WHEEL_SLOTS);
	p->next = s->wheel[w];
	s->wheel[w] = idx;
}

static void node_answers(struct sim *s, struct pending *p)
{
	const struct faii_cfg_node *n = &s->cfg->nodes[p->node_slot];
	struct faii_result r = {
	        .task_id = p->task_id,
	        .dispatch_ts_ns = p->dispatch_ts,
	        .node_id = n->id,
	        .exec_time_us = 1000,
	        .status = p->status,
	        .replica_index = p->replica_index,
	};
	/* The honest answer is a function of the task; a Byzantine node's is not. */
	uint8_t seed[9];
	memcpy(seed, &p->task_id, 8);
	seed[8] = p->wrong ? (uint8_t)(1 + n->id % 255) : 0;
	crypto_generichash(r.result_hash, sizeof(r.result_hash), seed, sizeof(seed), NULL, 0);
	s->st.node_ok += p->status == FAII_RESULT_OK;
	s->st.node_errors += p->status != FAII_RESULT_OK;
	s->st.node_wrong += p->wrong && p->status == FAII_RESULT_OK;
	uint8_t msg[FAII_HDR_SIZE + FAII_RESULT_V2_BODY_SIZE];
	size_t len;
	if (s->auth) {
		struct faii_auth_block a = {.key_epoch = s->opt.appliance_epoch};
		memcpy(a.nonce, p->nonce, sizeof(a.nonce));
		memcpy(a.handle, p->handle, sizeof(a.handle));
		len = faii_encode_result_v2(msg, sizeof(msg), &r, &a, NULL);
		faii_msg_mac_sign(msg, len, s->result_key[p->node_slot]);
	} else {
		len = faii_encode_result(msg, sizeof(msg), &r, NULL);
	}
	send_msg(s, p->reply_mac, NODE_MAC, n->addr, p->reply_ip, n->udp_port, p->reply_port, msg,
	         len);
}

static void run_wheel(struct sim *s, uint64_t now_tsc)
{
	uint64_t now_tick = (now_tsc - s->start_tsc) / s->tsc_per_tick;
	while (s->wheel_tick < now_tick) {
		uint64_t tick = ++s->wheel_tick;
		uint32_t w = (uint32_t)(tick % WHEEL_SLOTS);
		uint32_t idx = s->wheel[w];
		s->wheel[w] = UINT32_MAX;
		while (idx != UINT32_MAX) {
			struct pending *p = &s->pend[idx];
			uint32_t next = p->next;
			if (p->due_tick > tick) { /* a later lap */
				p->next = s->wheel[w];
				s->wheel[w] = idx;
			} else {
				node_answers(s, p);
				p->next = s->pend_free_head;
				s->pend_free_head = idx;
			}
			idx = next;
		}
	}
}

static void client_gets(struct sim *s, const struct faii_frame_view *fv, uint64_t now_tsc)
{
	struct faii_result r;
	faii_decode_result(&fv->msg, &r);
	int32_t pos = rte_hash_del_key(s->clients, &r.task_id);
	if (pos < 0) {
		s->st.unknown_answers++; /* a duplicate, or never sent */
		return;
	}
	const struct client_task *c = &s->client[pos];
	uint64_t us = (now_tsc - c->sent_tsc) * 1000000u / s->tsc_hz;
	unsigned t = c->tier - 1;
	s->st.answered[t][r.status <= FAII_RESULT_STATUS_MAX ? r.status : FAII_RESULT_ERROR]++;
	if (r.status == FAII_RESULT_OK) {
		s->st.hist[t][faii_hist_bucket(us)]++;
		s->st.slo_met[t] += us <= c->budget_us;
	}
}

static void receive(struct sim *s, uint64_t now_tsc)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n = rte_eth_rx_burst(s->port, 0, pkts, BURST);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint16_t len = rte_pktmbuf_data_len(pkts[i]);
		struct faii_frame_view fv;
		/* Clients and nodes all listen on the faii port here. */
		if (faii_parse_frame(f, len, s->cfg->appliance.udp_port, &fv) != FAII_OK)
			s->st.unexpected_frames++;
		else if (fv.msg.type == FAII_MSG_TASK)
			node_takes(s, &fv, f, now_tsc);
		else if (fv.msg.type == FAII_MSG_RESULT)
			client_gets(s, &fv, now_tsc);
		else
			s->st.unexpected_frames++;
	}
	rte_pktmbuf_free_bulk(pkts, n);
}

static void send_heartbeats(struct sim *s, double elapsed_s)
{
	/* Each node once per second, spread evenly over the second. */
	uint64_t due = (uint64_t)(elapsed_s / HEARTBEAT_EVERY * s->cfg->node_count);
	uint64_t sent_total = (uint64_t)s->heartbeat_seq * s->cfg->node_count + s->heartbeat_cursor;
	for (unsigned k = 0; k < 16 && sent_total < due; k++, sent_total++) {
		const struct faii_cfg_node *n = &s->cfg->nodes[s->heartbeat_cursor];
		struct faii_heartbeat hb = {
		        .node_id = n->id,
		        .seq = s->heartbeat_seq + 1,
		        .timestamp_ns = faii_realtime_ns(),
		        .uptime_s = (uint64_t)elapsed_s,
		        .load_permille = 0,
		};
		uint8_t msg[FAII_HDR_SIZE + FAII_HEARTBEAT_BODY_SIZE];
		size_t len = faii_encode_heartbeat(msg, sizeof(msg), &hb);
		faii_msg_sign(msg, len, s->secret[s->heartbeat_cursor]);
		send_msg(s, APPLIANCE_MAC, NODE_MAC, n->addr, APPLIANCE_IP, n->udp_port,
		         s->cfg->appliance.udp_port, msg, len);
		s->st.heartbeats++;
		if (++s->heartbeat_cursor == s->cfg->node_count) {
			s->heartbeat_cursor = 0;
			s->heartbeat_seq++;
		}
	}
}

/* Per mille of each source, summing to exactly 1000 (the largest share
 * takes the rounding), from the configured fractions. */
static void mix_permille(const struct faii_cfg_esg *esg, uint16_t mix[FAII_SRC_COUNT])
{
	unsigned sum = 0, largest = 0;
	for (unsigned k = 0; k < FAII_SRC_COUNT; k++) {
		double share = esg->source_mix[k] * 1000.0;
		mix[k] = (uint16_t)(share < 0 ? 0 : share > 1000 ? 1000 : lround(share));
		sum += mix[k];
		if (esg->source_mix[k] > esg->source_mix[largest])
			largest = k;
	}
	mix[largest] = (uint16_t)(mix[largest] + 1000 - (int)sum);
}

static void send_attestation(struct sim *s, uint32_t slot)
{
	const struct faii_cfg_node *n = &s->cfg->nodes[slot];
	const struct faii_cfg_esg *esg = &n->esg;
	uint32_t every = s->opt.attest_every_s;
	double grid = esg->grid_stress < 0 ? 0 : esg->grid_stress > 1 ? 1 : esg->grid_stress;
	struct faii_attest at = {
	        .node_id = n->id,
	        .seq = s->attest_round + 1,
	        .timestamp_ns = faii_realtime_ns(),
	        .meter_id = n->id,
	        .interval_start_s = s->attest_first_start_s + (uint64_t)s->attest_round * every,
	        .interval_s = every,
	        .energy_wh = (uint32_t)((uint64_t)SIM_POWER_W[n->node_class % FAII_CLASS_COUNT] *
	                                every / 3600u),
	        .pue_milli = esg->pue > 1 ? (uint32_t)lround(esg->pue * 1000.0) : 1000u,
	        .energy_to_work_milli = esg->energy_to_work > 0.001
	                                        ? (uint32_t)lround(esg->energy_to_work * 1000.0)
	                                        : 1u,
	        .grid_stress_permille = (uint16_t)lround(grid * 1000.0),
	};
	uint16_t mix[FAII_SRC_COUNT];
	mix_permille(esg, mix);
	memcpy(at.source_mix_permille, mix, sizeof(mix));
	uint8_t msg[FAII_HDR_SIZE + FAII_ATTEST_BODY_SIZE];
	size_t len = faii_encode_attest(msg, sizeof(msg), &at);
	faii_msg_sign(msg, len, s->secret[slot]);
	send_msg(s, APPLIANCE_MAC, NODE_MAC, n->addr, APPLIANCE_IP, n->udp_port,
	         s->cfg->appliance.udp_port, msg, len);
	s->st.attestations++;
}

/* Each node once per --attest-every seconds, spread over the period. Round
 * r starts at elapsed r S and attests the interval that ended at the start
 * time's last boundary + r S: always over by then, a new one each round. */
static void send_attestations(struct sim *s, double elapsed_s)
{
	uint32_t every = s->opt.attest_every_s;
	if (every == 0)
		return;
	uint64_t nodes = s->cfg->node_count;
	uint64_t due = (uint64_t)(elapsed_s / every * (double)nodes);
	uint64_t sent_total = (uint64_t)s->attest_round * nodes + s->attest_cursor;
	for (unsigned k = 0; k < 16 && sent_total < due; k++, sent_total++) {
		send_attestation(s, s->attest_cursor);
		if (++s->attest_cursor == nodes) {
			s->attest_cursor = 0;
			s->attest_round++;
		}
	}
}

static uint64_t sum_answered(const struct stats *st, unsigned status)
{
	uint64_t v = 0;
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		v += st->answered[t][status];
	return v;
}

static void print_live(const struct sim *s, double t)
{
	const struct stats *st = &s->st;
	uint64_t sent = 0;
	for (unsigned k = 0; k < FAII_TIER_COUNT; k++)
		sent += st->sent[k];
	printf("faii-sim: t=%.0fs sent %" PRIu64 " | answers ok %" PRIu64 " no_feasible %" PRIu64
	       " timeout %" PRIu64 " error %" PRIu64 " refused %" PRIu64 " no_quorum %" PRIu64
	       " | node copies %" PRIu64 " (silent %" PRIu64 ", errors %" PRIu64
	       ", wrong hashes %" PRIu64 ") heartbeats %" PRIu64 " attestations %" PRIu64 "\n",
	       t, sent, sum_answered(st, FAII_RESULT_OK),
	       sum_answered(st, FAII_RESULT_NO_FEASIBLE_NODE),
	       sum_answered(st, FAII_RESULT_TIMEOUT), sum_answered(st, FAII_RESULT_ERROR),
	       sum_answered(st, FAII_RESULT_REFUSED), sum_answered(st, FAII_RESULT_NO_QUORUM),
	       st->copies, st->node_silent, st->node_errors, st->node_wrong, st->heartbeats,
	       st->attestations);
	fflush(stdout);
}

static int print_summary(const struct sim *s)
{
	const struct stats *st = &s->st;
	printf("\nfaii-sim: summary (client side)\n");
	printf("  %-5s %9s %9s %9s %9s %9s %9s %9s %9s %10s %10s %8s\n", "tier", "sent", "ok",
	       "error", "no_feas", "timeout", "refused", "no_quor", "pending", "p50_ms", "p99_ms",
	       "slo");
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		uint64_t answered = 0;
		for (unsigned k = 0; k <= FAII_RESULT_STATUS_MAX; k++)
			answered += st->answered[t][k];
		uint64_t ok = st->answered[t][FAII_RESULT_OK];
		printf("  %-5u %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
		       " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10.2f %10.2f %8.4f\n",
		       t + 1, st->sent[t], ok, st->answered[t][FAII_RESULT_ERROR],
		       st->answered[t][FAII_RESULT_NO_FEASIBLE_NODE],
		       st->answered[t][FAII_RESULT_TIMEOUT], st->answered[t][FAII_RESULT_REFUSED],
		       st->answered[t][FAII_RESULT_NO_QUORUM], st->sent[t] - answered,
		       (double)faii_hist_quantile_us(st->hist[t], 0.5) / 1000.0,
		       (double)faii_hist_quantile_us(st->hist[t], 0.99) / 1000.0,
		       st->sent[t] ? (double)st->slo_met[t] / (double)st->sent[t] : 0.0);
	}
	printf("  TASK copies received by nodes: %" PRIu64 " (replicas %" PRIu64
	       ", re-dispatched %" PRIu64 ")\n   by class:",
	       st->copies, st->replica_copies, st->redispatched);
	for (uint8_t c = 0; c < FAII_CLASS_COUNT; c++)
		printf(" %s %" PRIu64, faii_node_class_name(c), st->copies_by_class[c]);
	printf("\n  nodes: %" PRIu64 " ok, %" PRIu64 " errors, %" PRIu64 " silent, %" PRIu64
	       " wrong hashes (Byzantine)\n",
	       st->node_ok, st->node_errors, st->node_silent, st->node_wrong);
	printf("  answers matching no outstanding task (duplicates): %" PRIu64
	       "; unexpected frames %" PRIu64 "; tx dropped %" PRIu64 "\n",
	       st->unknown_answers, st->unexpected_frames, st->tx_dropped);
	fflush(stdout);
	return st->unknown_answers == 0 ? 0 : 1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"rate", required_argument, NULL, 'r'},
	        {"duration", required_argument, NULL, 'd'},
	        {"fail", required_argument, NULL, 'f'},
	        {"silent", required_argument, NULL, 's'},
	        {"byzantine", required_argument, NULL, 'b'},
	        {"seed", required_argument, NULL, 'S'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"client-key", required_argument, NULL, 'K'},
	        {"client-epoch", required_argument, NULL, 'E'},
	        {"appliance-epoch", required_argument, NULL, 'A'},
	        {"wait-peer", required_argument, NULL, 'W'},
	        {"attest-every", required_argument, NULL, 'T'},
	        {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:d:f:s:b:S:qK:E:A:W:T:", longopts, NULL)) != -1) {
		char *end = NULL;
		double v = 0;
		if (c == 'K') {
			static const char *const modes[] = {"demo", "wrong", "none"};
			unsigned m = 0;
			while (m < 3 && strcmp(optarg, modes[m]) != 0)
				m++;
			if (m == 3) {
				fprintf(stderr, "faii-sim: --client-key: demo, wrong or none\n");
				return -1;
			}
			o->client_key = (enum client_key_mode)m;
			continue;
		}
		if (c != 'c' && c != 'q' && c != 'S') {
			v = strtod(optarg, &end);
			if (*end != '\0' || !isfinite(v) || v < 0) {
				fprintf(stderr, "faii-sim: --%s: expected a number >= 0\n",
				        longopts[0].name);
				return -1;
			}
		}
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'r': o->rate = v; break;
		case 'd': o->duration = v; break;
		case 'f': o->fail = v; break;
		case 's': o->silent = v; break;
		case 'b': o->byzantine = v; break;
		case 'W': o->wait_peer_s = v; break;
		case 'T':
			if (v != floor(v) || v > 3600 || (v > 0 && 3600 % (unsigned)v != 0)) {
				fprintf(stderr, "faii-sim: --attest-every: 0 or seconds dividing "
				                "3600\n");
				return -1;
			}
			o->attest_every_s = (uint32_t)v;
			break;
		case 'S': o->seed = strtoull(optarg, NULL, 0); break;
		case 'E':
		case 'A':
			if (v > 255 || v != floor(v)) {
				fprintf(stderr, "faii-sim: a key epoch is an integer 0..255\n");
				return -1;
			}
			*(c == 'E' ? &o->client_epoch : &o->appliance_epoch) = (uint8_t)v;
			break;
		case 'q': o->quiet = true; break;
		default: return -1;
		}
	}
	if (o->config == NULL || o->fail > 1 || o->silent > 1 || o->byzantine > 1 ||
	    o->rate > 1e7) {
		fprintf(stderr, "usage: faii-sim [EAL] -- --config FILE [--rate N] [--duration S] "
		                "[--fail P] [--silent P] [--byzantine P] [--seed N] [--quiet]\n"
		                "       [--client-key demo|wrong|none] [--client-epoch E] "
		                "[--appliance-epoch E] [--wait-peer S] [--attest-every S]\n");
		return -1;
	}
	return 0;
}

/* Each node's RESULT key: its demo key pair with the demo appliance key. */
static int derive_result_keys(struct sim *s, char *err, size_t errlen)
{
	uint8_t app_pk[FAII_KX_KEY_SIZE], app_sk[FAII_KX_KEY_SIZE];
	faii_demo_appliance_keypair(s->opt.appliance_epoch, app_pk, app_sk);
	sodium_memzero(app_sk, sizeof(app_sk)); /* a node knows the public key only */
	for (uint32_t i = 0; i < s->cfg->node_count; i++) {
		if (faii_result_key_node(s->secret[i], app_pk, s->result_key[i]) != 0) {
			snprintf(err, errlen, "node %u: no RESULT key (its key has no X25519 form)",
			         s->cfg->nodes[i].id);
			return -1;
		}
	}
	return 0;
}

static int setup(struct sim *s, char *err, size_t errlen)
{
	const struct faii_config *cfg = s->cfg;
	uint16_t port = rte_eth_find_next(0);
	if (port >= RTE_MAX_ETHPORTS) {
		snprintf(err, errlen, "no port: give a --vdev (e.g. net_memif0,role=client,...)");
		return -1;
	}
	s->port = port;
	s->pool = rte_pktmbuf_pool_create("sim_mbufs", POOL_SIZE, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                  (int)rte_socket_id());
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (s->pool == NULL || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, (unsigned)rte_socket_id(), NULL, s->pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, (unsigned)rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0) {
		snprintf(err, errlen, "cannot start port %u", port);
		return -1;
	}
	struct rte_hash_parameters hp = {
	        .name = "sim_nodes",
	        .entries = cfg->node_count < 8 ? 8 : cfg->node_count * 2,
	        .key_len = sizeof(uint32_t),
	        .hash_func = rte_hash_crc,
	        .socket_id = (int)rte_socket_id(),
	};
	s->node_by_id = rte_hash_create(&hp);
	hp.name = "sim_clients";
	hp.entries = CLIENT_MAX;
	hp.key_len = sizeof(uint64_t);
	s->clients = rte_hash_create(&hp);
	s->client = calloc(CLIENT_MAX, sizeof(*s->client));
	s->pend = calloc(PENDING_MAX, sizeof(*s->pend));
	s->secret = calloc(cfg->node_count + 1, sizeof(*s->secret));
	s->result_key = calloc(cfg->node_count + 1, sizeof(*s->result_key));
	s->byzantine = calloc(cfg->node_count + 1, sizeof(*s->byzantine));
	if (!s->node_by_id || !s->clients || !s->client || !s->pend || !s->secret ||
	    !s->result_key || !s->byzantine) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		uint32_t id = cfg->nodes[i].id;
		rte_hash_add_key_data(s->node_by_id, &id, (void *)(uintptr_t)i);
		uint8_t pk[FAII_PUBKEY_SIZE];
		faii_demo_node_keypair(id, pk, s->secret[i]);
		s->byzantine[i] = uniform(s) < s->opt.byzantine;
	}
	s->auth = cfg->appliance.auth.key_file[0] != '\0';
	if (s->auth && derive_result_keys(s, err, errlen) != 0)
		return -1;
	for (uint32_t i = 0; i < PENDING_MAX; i++)
		s->pend[i].next = i + 1 < PENDING_MAX ? i + 1 : UINT32_MAX;
	s->pend_free_head = 0;
	memset(s->wheel, 0xFF, sizeof(s->wheel));
	return 0;
}

int main(int argc, char **argv)
{
	static struct sim s;
	int eal = rte_eal_init(argc, argv);
	if (eal < 0) {
		fprintf(stderr, "faii-sim: EAL initialisation failed: %s\n",
		        rte_strerror(rte_errno));
		return 1;
	}
	s.opt = (struct options){.rate = 2000,
	                         .duration = 20,
	                         .fail = 0.005,
	                         .silent = 0.002,
	                         .byzantine = 0.05,
	                         .seed = 1,
	                         .client_epoch = FAII_DEMO_KEY_EPOCH,
	                         .appliance_epoch = FAII_DEMO_KEY_EPOCH,
	                         .attest_every_s = ATTEST_EVERY_S};
	if (parse_args(argc - eal, argv + eal, &s.opt) != 0)
		return 2;
	char err[FAII_CFG_ERR_LEN];
	if (sodium_init() < 0 || faii_config_load(s.opt.config, &s.cfg, err) != 0) {
		fprintf(stderr, "faii-sim: %s\n", err);
		return 1;
	}
	s.rng[0] = 0x9E3779B97F4A7C15ull ^ s.opt.seed;
	s.rng[1] = 0xBF58476D1CE4E5B9ull + s.opt.seed;
	s.next_task_id = (s.opt.seed << 40) | ((uint64_t)time(NULL) << 8);
	if (setup(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, "faii-sim: %s\n", err);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	s.tsc_hz = rte_get_tsc_hz();
	s.tsc_per_tick = s.tsc_hz / 1000;
	/* Wait (bounded) for the link: memif connects when faiid listens. */
	struct rte_eth_link link;
	for (int i = 0; i < 100; i++) {
		if (rte_eth_link_get_nowait(s.port, &link) == 0 && link.link_status)
			break;
		rte_delay_ms(100);
	}
	if (!link.link_status) {
		fprintf(stderr, "faii-sim: port %u: no link after 10 s (is faiid running?)\n",
		        s.port);
		return 1;
	}
	unsigned byzantine = 0;
	for (uint32_t i = 0; i < s.cfg->node_count; i++)
		byzantine += s.byzantine[i];
	printf("faii-sim: %u nodes (%u Byzantine), %.0f tasks/s for %.0f s, fail %.3f, "
	       "silent %.3f\n",
	       s.cfg->node_count, byzantine, s.opt.rate, s.opt.duration, s.opt.fail, s.opt.silent);
	/* Consecutive from here: a test can ask faiid for a receipt by id. */
	printf("faii-sim: task ids from %" PRIu64 "\n", s.next_task_id);
	static const char *const key_modes[] = {"their demo keys", "a WRONG key",
	                                        "NO MAC (version 1)"};
	if (s.auth)
		printf("faii-sim: protocol version 2: clients MAC TASKs with %s (epoch %u), nodes "
		       "MAC RESULTs with their RESULT keys (appliance key epoch %u)\n",
		       key_modes[s.opt.client_key], s.opt.client_epoch, s.opt.appliance_epoch);
	else
		printf("faii-sim: protocol version 1: the configuration has no appliance.auth\n");
	fflush(stdout);
	s.start_tsc = rte_rdtsc();
	if (s.opt.attest_every_s > 0) {
		uint64_t now_s = faii_realtime_ns() / 1000000000u, every = s.opt.attest_every_s;
		s.attest_first_start_s = now_s / every * every - every;
	}
	uint64_t tasks_sent = 0;
	double next_print = PRINT_PERIOD_S;
	for (;;) {
		uint64_t now = rte_rdtsc();
		double t = (double)(now - s.start_tsc) / (double)s.tsc_hz;
		bool sending = t < s.opt.duration && !stop_requested;
		if (!sending && (t > s.opt.duration + DRAIN_S || stop_requested))
			break;
		if (sending) {
			uint64_t due = (uint64_t)(t * s.opt.rate);
			for (unsigned k = 0; k < BURST && tasks_sent < due; k++, tasks_sent++)
				send_task(&s, now);
			send_heartbeats(&s, t);
			send_attestations(&s, t);
		}
		receive(&s, now);
		run_wheel(&s, now);
		tx_flush(&s);
		if (!s.opt.quiet && t >= next_print) {
			print_live(&s, t);
			next_print += PRINT_PERIOD_S;
		}
	}
	int rc = print_summary(&s);
	for (double w = 0; w < s.opt.wait_peer_s;
	     w += 0.1) { /* bounded: the appliance goes first */
		if (rte_eth_link_get_nowait(s.port, &link) != 0 || !link.link_status)
			break;
		rte_delay_ms(100);
	}
	rte_eth_dev_stop(s.port);
	rte_eth_dev_close(s.port);
	faii_config_free(s.cfg);
	rte_eal_cleanup();
	return rc;
}
