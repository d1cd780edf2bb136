/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the dataplane: packets per second of one worker lcore running
 * the full pipeline (parse, replay/expiry check, classify, route, residency
 * hook, rewrite, dispatch record, TX; for results: match, vote, forward),
 * with 1 k, 10 k and 100 k registered nodes, against a no-op forwarder on the
 * same virtual device in the same run.
 *
 * Set-up: one EAL lcore, no hugepages (--no-huge --no-pci -m 1024 -l 0
 * --no-shconf). One net_ring port made with rte_eth_from_rings() over
 * two rings of ours: we enqueue into its RX ring and dequeue its TX ring. The
 * appliance is the real one (faii_appliance_init: registry, solver,
 * published route set, residency hook in C), over a configuration whose
 * header (jurisdictions, residency classes, regions, default policy) is
 * loaded from YAML by faii_config_load_string() and whose nodes are filled in
 * programmatically (100 k nodes of YAML would exceed the loader's 16 MiB
 * limit). Every node is a registry entry the solver sees: active, eligible
 * for every category, priced inside the corridor, within 200 km of three
 * regions (Zurich, Vaduz, Stuttgart), in three jurisdictions (CH, LI, DE),
 * five classes and 40 operators.
 *
 * Traffic, per iteration of the loop (one worker poll): the RESULTs
 * answering the TASK copies the appliance sent in the previous iteration
 * (each echoes task id, node id, replica index and dispatch time, status OK),
 * then fresh TASKs up to FAII_RX_BURST_MAX (32) packets: edge inference
 * (tier 1), eventual consistency (one node), budget --budget-us (default
 * 5000 us, so that the replay window and the dispatch table stay small), a
 * distinct task id each, submit_ts = the real clock (CLOCK_REALTIME read once
 * per burst), origin region and residency class cycling over six
 * combinations. In steady state a burst is 16 results and 16 tasks, each
 * producing one TX packet (the copy to the node, the result to the client),
 * so outstanding counts stay bounded and every dispatch record completes.
 * The TASK copies dequeued from TX may be held by the appliance for
 * re-dispatch (refcnt 2): they are only read, results are new mbufs.
 *
 * Measured, all with rte_rdtsc():
 * - pipeline_mpps: packets received by the worker (tasks + results) / the
 *   cycles spent inside faii_worker_poll() only (RX burst, pipeline, timer
 *   wheel, TX flush), i.e. the generator's own cost is excluded. Also
 *   reported: tasks/s on the same basis, and the whole loop (generator +
 *   worker) as end_to_end_mpps.
 * - noop_forwarder_mpps: the same loop with the worker replaced by
 *   rte_eth_rx_burst() -> rte_eth_tx_burst() on the same port and queue;
 *   the 32 packets circulate unchanged. Cycles inside the forwarder only.
 * - pipeline_cycles_per_packet: cycles inside the poll / packets received.
 * - rx_to_tx_p50/p99: the duration of each poll that received packets, from
 *   before rte_eth_rx_burst() to after the TX flush. Every packet of a burst
 *   is received at the start and transmitted by the end of that interval,
 *   so it is the longest time any packet of the burst spends inside the
 *   appliance (the average packet spends about half of it); it excludes time
 *   waiting in the RX ring, which depends on the offered load, not on the
 *   appliance.
 *
 * The TSC counts wall time, so a preempted run looks slower: every
 * pipeline_mpps line carries on_cpu_min, the lowest ratio of thread CPU
 * time to wall time over the repetitions (1.00 on an idle machine).
 *
 * Each node count runs --reps repetitions (default 3) of --seconds (default
 * 1) for the forwarder and then the pipeline, after a 0.3 s warm-up that
 * fills the replay window; rates are medians of the repetitions, latency
 * percentiles over all polls of all repetitions.
 *
 * Output: one JSON object per line on stdout; progress on stderr.
 *   bench_dataplane [--nodes 1000,10000,100000] [--seconds S] [--reps N]
 *                   [--budget-us US] [--node-ports own|appliance]
 * --node-ports own puts node i on port 20000 + i % 20000 instead of the
 * appliance's (the default), so that every copy goes to a node's own port.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "faii/clock.h"
#include "appliance.h"
#include "dataplane.h"
#include "faii/config.h"
#include "faii/frame.h"
#include "faii/samples.h"
#include "faii/demo.h"
#include "faii/wire.h"

#define BURST        FAII_RX_BURST_MAX
#define RING_SIZE    4096u
#define NODES_CASES  8u
#define OPERATORS    40u
#define WARMUP_S     0.3
#define LAT_SAMPLES  (8u << 20) /* per-poll durations kept, cycles */
#define TARGET_MPPS  15.0
#define TARGET_RATIO 0.5
#define UDP_PORT     FAII_UDP_PORT_DEFAULT
/* --node-ports own: node i listens on NODE_PORT_BASE + i % NODE_PORT_SPAN. */
#define NODE_PORT_BASE 20000u
#define NODE_PORT_SPAN 20000u

/* Nodes on their own ports (--node-ports own) or all on the appliance's. */
static bool own_node_ports;
#define FRAME_BUF_MAX 512u

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_dataplane: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- the fleet ------------------------------------------------------------------- */

/* Regions within about 200 km of each other, so that every node's prior
 * round trip (1 ms + 3 us/km) fits the tasks' budget from every region. */
static const char config_header[] = "appliance: {workers: 1, udp_port: 7410}\n"
                                    "jurisdictions:\n"
                                    "  - {country: CH, bloc: EFTA}\n"
                                    "  - {country: LI, bloc: EFTA}\n"
                                    "  - {country: DE, bloc: EU}\n"
                                    "residency_classes:\n"
                                    "  - {id: 1, name: any, allow: [any]}\n"
                                    "  - {id: 2, name: CH-only, allow: [CH]}\n"
                                    "  - {id: 3, name: EFTA, allow: [EFTA]}\n"
                                    "regions:\n"
                                    "  - {id: 1, name: zurich, lat: 47.37, lon: 8.54}\n"
                                    "  - {id: 2, name: vaduz, lat: 47.14, lon: 9.52}\n"
                                    "  - {id: 3, name: stuttgart, lat: 48.78, lon: 9.18}\n";

/* (origin region, residency class) of the tasks, cycled: every pair has
 * feasible nodes within the budget. */
static const uint16_t task_keys[][2] = {{1, 1}, {1, 2}, {2, 3}, {2, 1}, {3, 1}, {3, 2}};
#define TASK_KEYS (sizeof(task_keys) / sizeof(task_keys[0]))

static uint64_t rng_state = 0x00FA11BE4C4ull;
static uint64_t next_u64(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static double uniform(double lo, double hi)
{
	return lo + (hi - lo) * (double)(next_u64() >> 11) / (double)(1ull << 53);
}

static struct faii_config *make_config(uint32_t nodes)
{
	char err[FAII_CFG_ERR_LEN];
	struct faii_config *cfg;
	if (faii_config_load_string("bench-header", config_header, sizeof(config_header) - 1, &cfg,
	                            err) != 0)
		die("%s", err);
	if (nodes > FAII_CFG_NODES_MAX - 1024u)
		die("at most %u nodes (the registry keeps 1024 slots spare)",
		    FAII_CFG_NODES_MAX - 1024u);
	cfg->operator_count = OPERATORS;
	for (unsigned o = 0; o < OPERATORS; o++)
		snprintf(cfg->operators[o], FAII_CFG_NAME_LEN_MAX, "op-%02u", o + 1);
	/* Class mix by id: 30 % micro, 25 % S, 20 % M, 15 % L, 10 % XL. */
	static const uint8_t class_of[20] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1,
	                                     1, 2, 2, 2, 2, 3, 3, 3, 4, 4};
	static const double capacity_of[FAII_CLASS_COUNT] = {400, 800, 1600, 3200, 6400};
	for (uint32_t i = 0; i < nodes; i++) {
		struct faii_cfg_node *n = &cfg->nodes[i];
		memset(n, 0, sizeof(*n));
		uint32_t r = i % cfg->region_count;
		const struct faii_cfg_region *reg = &cfg->regions[r];
		n->id = i + 1;
		char region_name[FAII_CFG_NAME_LEN_MAX]; /* regions and nodes share cfg */
		memcpy(region_name, reg->name, sizeof(region_name));
		snprintf(n->name, sizeof(n->name), "%.16s-%06" PRIu32, region_name, n->id);
		n->node_class = class_of[i % 20];
		n->status = FAII_NODE_ACTIVE;
		n->eligibility = FAII_ELIGIBILITY_MASK;
		n->jurisdiction = (uint8_t)r; /* zurich CH, vaduz LI, stuttgart DE */
		n->operator_idx = (uint16_t)(next_u64() % OPERATORS);
		n->region_id = reg->id;
		n->asn = 64512u + n->operator_idx * 2u + (uint32_t)(next_u64() % 2);
		n->lat_deg = reg->lat_deg + uniform(-0.15, 0.15);
		n->lon_deg = reg->lon_deg + uniform(-0.15, 0.15);
		n->addr_family = FAII_ADDR_IPV4;
		n->addr[0] = 10;
		n->addr[1] = (uint8_t)(n->id >> 16);
		n->addr[2] = (uint8_t)(n->id >> 8);
		n->addr[3] = (uint8_t)n->id;
		n->udp_port = own_node_ports ? (uint16_t)(NODE_PORT_BASE + i % NODE_PORT_SPAN)
		                             : (uint16_t)UDP_PORT;
		n->capacity_tasks_per_s = capacity_of[n->node_class] * uniform(0.8, 1.2);
		n->service_rate_tasks_per_s = n->capacity_tasks_per_s;
		n->price = uniform(0.9, 1.1); /* the corridor is mean +- 20 % */
		n->reputation = uniform(0.6, 0.95);
		double renew = uniform(0.3, 0.95);
		n->esg.source_mix[FAII_SRC_SOLAR] = renew * 0.4;
		n->esg.source_mix[FAII_SRC_HYDRO] = renew * 0.6;
		n->esg.source_mix[FAII_SRC_NONRENEWABLE] = 1.0 - renew;
		n->esg.pue = uniform(1.05, 1.5);
		n->esg.energy_to_work = uniform(0.02, 2.0);
		n->esg.grid_stress = uniform(0.05, 0.7);
		/* Unique, never used to verify anything here (no slow path). */
		memcpy(n->public_key, &n->id, sizeof(n->id));
		n->public_key[31] = 0xB5;
	}
	cfg->node_count = nodes;
	return cfg;
}

/* ---- frames ------------------------------------------------------------------------ */

struct templ {
	uint8_t bytes[FRAME_BUF_MAX];
	uint16_t len;
	uint16_t body; /* offset of the message body in the frame */
};

static void build_task_template(struct templ *t, uint32_t budget_us, bool v2)
{
	struct faii_task task = faii_sample_task();
	task.category = FAII_CAT_EDGE_INFERENCE;
	task.tier = 1;
	task.consistency = FAII_CONSISTENCY_EVENTUAL;
	task.latency_budget_us = budget_us;
	task.min_reputation_milli = 500;
	task.origin_region = 1;
	task.residency_class = 1;
	uint8_t payload[64];
	faii_sample_payload(payload, sizeof(payload));
	task.payload_len = sizeof(payload);
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	spec.dst_port = UDP_PORT;
	size_t hdr = faii_frame_hdr_len(&spec);
	const struct faii_auth_block a = {.key_epoch = 1};
	size_t mlen =
	        v2 ? faii_encode_task_v2(t->bytes + hdr, sizeof(t->bytes) - hdr, &task, &a, payload)
	           : faii_encode_task(t->bytes + hdr, sizeof(t->bytes) - hdr, &task, payload);
	size_t flen = faii_frame_build(t->bytes, sizeof(t->bytes), &spec, t->bytes + hdr, mlen);
	if (mlen == 0 || flen == 0)
		die("cannot build the TASK frame");
	t->len = (uint16_t)flen;
	t->body = (uint16_t)(hdr + FAII_HDR_SIZE);
}

static void build_result_template(struct templ *t, bool v2)
{
	struct faii_result res = faii_sample_result();
	res.status = FAII_RESULT_OK;
	uint8_t payload[32];
	faii_sample_payload(payload, sizeof(payload));
	res.payload_len = sizeof(payload);
	/* From a node to the appliance's address. Version 1: the client spec
	 * reversed would do as well, the appliance does not look at the source;
	 * version 2: answer_auth() writes the node's address and port. */
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	spec.src_port = UDP_PORT;
	spec.dst_port = UDP_PORT;
	size_t hdr = faii_frame_hdr_len(&spec);
	const struct faii_auth_block a = {.key_epoch = 1, .nonce = {1}};
	size_t mlen =
	        v2 ? faii_encode_result_v2(t->bytes + hdr, sizeof(t->bytes) - hdr, &res, &a,
	                                   payload)
	           : faii_encode_result(t->bytes + hdr, sizeof(t->bytes) - hdr, &res, payload);
	size_t flen = faii_frame_build(t->bytes, sizeof(t->bytes), &spec, t->bytes + hdr, mlen);
	if (mlen == 0 || flen == 0)
		die("cannot build the RESULT frame");
	t->len = (uint16_t)flen;
	t->body = (uint16_t)(hdr + FAII_HDR_SIZE);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	v = faii_be64(v);
	memcpy(p, &v, sizeof(v));
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
	v = faii_be16(v);
	memcpy(p, &v, sizeof(v));
}

static inline struct rte_mbuf *from_template(struct rte_mempool *pool, const struct templ *t,
                                             uint16_t port)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		die("mbuf pool exhausted");
	/* What a NIC's PMD sets on receive and net_ring does not: the pipeline
	 * takes its source MAC from port_mac[m->port]. */
	m->port = port;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, t->len);
	memcpy(p, t->bytes, t->len);
	return m;
}

/*
 * What a sender's stack does last: both checksums over the frame as it now
 * is (untagged IPv4, as the templates are), since the generator changes
 * fields of a template. The appliance checks them (docs/dataplane.md,
 * "Checksums"); done here, outside the measured poll.
 */
static void seal(struct rte_mbuf *m)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *) + FAII_ETH_HDR_LEN;
	uint8_t *udp = ip + FAII_IPV4_HDR_LEN;
	put_be16(ip + 10, 0);
	put_be16(ip + 10, faii_ipv4_checksum(ip, FAII_IPV4_HDR_LEN));
	size_t udp_len = (size_t)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[12] = {0};
	memcpy(pseudo, ip + 12, 8);
	pseudo[9] = ip[9];
	memcpy(pseudo + 10, udp + 4, 2);
	put_be16(udp + 6, 0);
	uint16_t sum = faii_csum_fold(faii_csum_add(faii_csum_add(0, pseudo, 12), udp, udp_len));
	put_be16(udp + 6, sum == 0 ? 0xFFFF : sum);
}

/* ---- the harness ------------------------------------------------------------------- */

struct harness {
	struct rte_mempool *pool;
	struct rte_ring *rx; /* the port's RX: we produce */
	struct rte_ring *tx; /* the port's TX: we consume */
	uint16_t port;
	struct templ task, result;
	/* Version 2 (bench_auth): templates, the client's key, the nodes'
	 * RESULT keys (derived once per node, outside the measured poll). */
	bool auth;
	struct templ task_v2, result_v2;
	uint8_t client_key[FAII_MAC_KEY_SIZE];
	uint8_t (*node_key)[FAII_MAC_KEY_SIZE];
	uint8_t *node_key_ready;
	uint32_t node_keys;
	uint16_t client_port; /* UDP source port of the TASKs */
	uint64_t next_task_id;
	uint64_t tsc_hz;
	uint32_t *lat; /* per-poll cycles */
	size_t lat_n;
	/* RESULTs built from the last poll's TX, sent with the next poll; kept
	 * across runs so that no dispatch is left to time out. */
	struct rte_mbuf *pending[BURST * 2];
	unsigned npending;
};

struct run {
	uint64_t packets;   /* received by the worker or forwarder */
	uint64_t tasks;     /* of which TASKs */
	uint64_t poll_tsc;  /* inside the worker / forwarder */
	uint64_t loop_tsc;  /* the whole loop, generator included */
	uint64_t tx_copies; /* TASK copies seen on TX */
	uint64_t tx_results;
	uint64_t tx_other; /* answers of the appliance's own */
	uint64_t polls;
	double on_cpu; /* thread CPU time / wall time: below 1 when preempted */
};

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The RESULT key of a node, as the node derives it (demo keys, epoch 1). */
static const uint8_t *node_key_of(struct harness *h, uint32_t node_id)
{
	if (node_id == 0 || node_id > h->node_keys)
		die("node %u beyond the derived keys", node_id);
	if (!h->node_key_ready[node_id - 1]) {
		uint8_t npk[FAII_PUBKEY_SIZE], nsk[64], apk[32], ask[32];
		faii_demo_node_keypair(node_id, npk, nsk);
		faii_demo_appliance_keypair(1, apk, ask);
		if (faii_result_key_node(nsk, apk, h->node_key[node_id - 1]) != 0)
			die("node %u: no RESULT key", node_id);
		h->node_key_ready[node_id - 1] = 1;
	}
	return h->node_key[node_id - 1];
}

/* Version 2: the node's address and port as source (the copy's destination),
 * the copy's nonce echoed, the MAC under the node's key. */
static void answer_auth(struct harness *h, const struct faii_frame_view *fv, const uint8_t *copy,
                        struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *msg = f + h->result_v2.body - FAII_HDR_SIZE;
	size_t len = (size_t)h->result_v2.len - (size_t)(msg - f);
	memcpy(f + FAII_ETH_HDR_LEN + 12, copy + fv->l3_offset + 16, 4); /* IPv4 source */
	memcpy(f + FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN, copy + fv->l4_offset + 2, 2);
	memcpy(msg + FAII_HDR_SIZE + FAII_RESULT_BODY_SIZE, fv->msg.auth->nonce, 8);
	uint32_t node_id = faii_be32(fv->msg.task->node_id);
	if (faii_msg_mac_sign(msg, len, node_key_of(h, node_id)) != 0)
		die("cannot sign a RESULT");
}

/* Turns one TASK copy from TX into its RESULT; the copy is only read. */
static struct rte_mbuf *answer_copy(struct harness *h, const struct faii_frame_view *fv,
                                    const uint8_t *copy)
{
	const uint8_t *tb = (const uint8_t *)fv->msg.body;
	const struct templ *tpl = h->auth ? &h->result_v2 : &h->result;
	struct rte_mbuf *m = from_template(h->pool, tpl, h->port);
	uint8_t *rb = rte_pktmbuf_mtod(m, uint8_t *) + tpl->body;
	memcpy(rb + offsetof(struct faii_result, task_id), tb + offsetof(struct faii_task, task_id),
	       8);
	memcpy(rb + offsetof(struct faii_result, dispatch_ts_ns),
	       tb + offsetof(struct faii_task, dispatch_ts_ns), 8);
	memcpy(rb + offsetof(struct faii_result, node_id), tb + offsetof(struct faii_task, node_id),
	       4);
	rb[offsetof(struct faii_result, replica_index)] =
	        tb[offsetof(struct faii_task, replica_index)];
	if (h->auth)
		answer_auth(h, fv, copy, m);
	seal(m);
	return m;
}

/* The control thread's share, outside the measured poll: the worker's
 * routing receipts are taken (and dropped here), so that its ring never
 * fills and every receipt costs what it costs in faiid. */
static void drain_receipts(struct faii_worker *w)
{
	struct rte_ring *ring = w->dp->receipt_ring[w->index];
	struct faii_receipt batch[BURST];
	while (ring != NULL &&
	       rte_ring_sc_dequeue_burst_elem(ring, batch, sizeof(batch[0]), BURST, NULL) > 0)
		;
}

static void run_pipeline(struct harness *h, struct faii_worker *w, double seconds, bool record,
                         struct run *out)
{
	struct rte_mbuf *in[BURST], *txm[BURST * 2];
	struct rte_mbuf **pending = h->pending;
	unsigned npending = h->npending;
	memset(out, 0, sizeof(*out));
	const uint64_t rx0 = w->stats.rx_packets;
	const double cpu0 = thread_cpu_s();
	const uint64_t start = rte_rdtsc();
	const uint64_t end = start + (uint64_t)(seconds * (double)h->tsc_hz);
	uint64_t now = start;
	unsigned key = 0;
	while (now < end) {
		/* Results of the previous iteration first, then fresh tasks. */
		unsigned n = 0;
		while (n < BURST && npending > 0)
			in[n++] = pending[--npending];
		uint64_t submit = faii_realtime_ns();
		const struct templ *tt = h->auth ? &h->task_v2 : &h->task;
		for (; n < BURST; n++) {
			struct rte_mbuf *m = from_template(h->pool, tt, h->port);
			uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *) + tt->body;
			put_be64(b + offsetof(struct faii_task, task_id), h->next_task_id++);
			put_be64(b + offsetof(struct faii_task, submit_ts_ns), submit);
			put_be16(b + offsetof(struct faii_task, origin_region), task_keys[key][0]);
			put_be16(b + offsetof(struct faii_task, residency_class),
			         task_keys[key][1]);
			key = key + 1 == TASK_KEYS ? 0 : key + 1;
			if (h->auth &&
			    faii_msg_mac_sign(b - FAII_HDR_SIZE,
			                      (size_t)tt->len - (tt->body - FAII_HDR_SIZE),
			                      h->client_key) != 0)
				die("cannot sign a TASK");
			seal(m);
			in[n] = m;
			out->tasks++;
		}
		if (rte_ring_sp_enqueue_burst(h->rx, (void **)in, n, NULL) != n)
			die("RX ring full");

		uint64_t t0 = rte_rdtsc();
		faii_worker_poll(w);
		uint64_t t1 = rte_rdtsc();
		out->poll_tsc += t1 - t0;
		out->polls++;
		if (record && h->lat_n < LAT_SAMPLES)
			h->lat[h->lat_n++] =
			        (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);

		drain_receipts(w);
		unsigned got;
		while ((got = rte_ring_sc_dequeue_burst(h->tx, (void **)txm, BURST * 2, NULL)) >
		       0) {
			for (unsigned i = 0; i < got; i++) {
				struct faii_frame_view fv;
				struct rte_mbuf *m = txm[i];
				const void *f = rte_pktmbuf_mtod(m, const void *);
				uint16_t flen = rte_pktmbuf_data_len(m);
				/* Copies go to the nodes' port, results to the client's. */
				enum faii_drop d = faii_parse_frame(f, flen, UDP_PORT, &fv);
				if (d == FAII_DROP_WRONG_PORT)
					d = faii_parse_frame(f, flen, fv.dst_port, &fv);
				if (d != FAII_OK) {
					out->tx_other++;
				} else if (fv.msg.type == FAII_MSG_TASK) {
					out->tx_copies++;
					if (npending == BURST * 2)
						die("more copies than the loop can answer");
					pending[npending++] = answer_copy(h, &fv, f);
				} else if (fv.msg.type == FAII_MSG_RESULT &&
				           fv.msg.result->status == FAII_RESULT_OK) {
					out->tx_results++;
				} else {
					out->tx_other++;
				}
				rte_pktmbuf_free(m); /* drops our reference only */
			}
		}
		now = rte_rdtsc();
	}
	out->loop_tsc = now - start;
	out->on_cpu = (thread_cpu_s() - cpu0) / ((double)out->loop_tsc / (double)h->tsc_hz);
	out->packets = w->stats.rx_packets - rx0;
	h->npending = npending;
}

static void run_noop(struct harness *h, double seconds, struct run *out)
{
	struct rte_mbuf *pkts[BURST], *fwd[BURST];
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < BURST; i++)
		pkts[i] = from_template(h->pool, &h->task, h->port);
	const double cpu0 = thread_cpu_s();
	const uint64_t start = rte_rdtsc();
	const uint64_t end = start + (uint64_t)(seconds * (double)h->tsc_hz);
	uint64_t now = start;
	while (now < end) {
		if (rte_ring_sp_enqueue_burst(h->rx, (void **)pkts, BURST, NULL) != BURST)
			die("RX ring full");
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(h->port, 0, fwd, BURST);
		uint16_t sent = rte_eth_tx_burst(h->port, 0, fwd, n);
		if (sent < n)
			rte_pktmbuf_free_bulk(&fwd[sent], (unsigned)(n - sent));
		uint64_t t1 = rte_rdtsc();
		out->poll_tsc += t1 - t0;
		out->polls++;
		out->packets += n;
		if (rte_ring_sc_dequeue_bulk(h->tx, (void **)pkts, BURST, NULL) != BURST)
			die("forwarder lost packets");
		now = rte_rdtsc();
	}
	out->loop_tsc = now - start;
	out->on_cpu = (thread_cpu_s() - cpu0) / ((double)out->loop_tsc / (double)h->tsc_hz);
	rte_pktmbuf_free_bulk(pkts, BURST);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mpps(const struct harness *h, uint64_t packets, uint64_t tsc)
{
	return tsc ? (double)packets * (double)h->tsc_hz / (double)tsc / 1e6 : 0;
}

static void bench_nodes(struct harness *h, uint32_t nodes, double seconds, unsigned reps,
                        uint32_t budget_us)
{
	char err[256];
	struct faii_config *cfg = make_config(nodes);
	static struct faii_appliance_dp a; /* large: keep it off the stack */
	uint64_t s0 = rte_rdtsc();
	if (faii_appliance_init(&a, cfg, &h->port, 1, 1, h->pool, err, sizeof(err)) != 0)
		die("appliance: %s", err);
	double init_s = (double)(rte_rdtsc() - s0) / (double)h->tsc_hz;
	const struct faii_route_set *set = faii_publisher_current(&a.pub);
	fprintf(stderr, "bench_dataplane: %u nodes: appliance up in %.2f s, %u route tables\n",
	        nodes, init_s, set ? set->table_count : 0);
	struct faii_worker *w = &a.workers[0];

	struct run warm, r;
	run_pipeline(h, w, WARMUP_S, false, &warm);
	struct faii_worker_stats before = w->stats;
	double pipe[16], noop[16], e2e[16], tasks[16], cpp[16], noop_cpp[16];
	uint64_t copies = 0, results = 0, other = 0, packets = 0;
	double on_cpu = 1.0; /* the lowest of all repetitions */
	h->lat_n = 0;
	for (unsigned k = 0; k < reps; k++) {
		run_noop(h, seconds, &r);
		on_cpu = r.on_cpu < on_cpu ? r.on_cpu : on_cpu;
		noop[k] = mpps(h, r.packets, r.poll_tsc);
		noop_cpp[k] = (double)r.poll_tsc / (double)r.packets;
		run_pipeline(h, w, seconds, true, &r);
		on_cpu = r.on_cpu < on_cpu ? r.on_cpu : on_cpu;
		pipe[k] = mpps(h, r.packets, r.poll_tsc);
		tasks[k] = mpps(h, r.tasks, r.poll_tsc);
		e2e[k] = mpps(h, r.packets, r.loop_tsc);
		cpp[k] = (double)r.poll_tsc / (double)r.packets;
		copies += r.tx_copies;
		results += r.tx_results;
		other += r.tx_other;
		packets += r.packets;
		fprintf(stderr,
		        "bench_dataplane: %u nodes rep %u: pipeline %.2f Mpps (%.0f cycles/pkt), "
		        "noop %.2f Mpps, loop %.2f Mpps, on CPU %.2f\n",
		        nodes, k + 1, pipe[k], cpp[k], noop[k], e2e[k], r.on_cpu);
	}
	/* What the appliance did while measured: everything answered, nothing
	 * refused, or the figure would not be the pipeline's. */
	const struct faii_worker_stats *st = &w->stats;
	uint64_t dispatched =
	        st->pipe[FAII_PIPE_TASKS_DISPATCHED] - before.pipe[FAII_PIPE_TASKS_DISPATCHED];
	uint64_t matched =
	        st->pipe[FAII_PIPE_RESULTS_MATCHED] - before.pipe[FAII_PIPE_RESULTS_MATCHED];
	uint64_t refused = 0;
	for (unsigned d = 1; d < FAII_DROP_COUNT; d++)
		refused += st->drops[d] - before.drops[d];
	static const enum faii_pipe_counter bad[] = {
	        FAII_PIPE_TASK_EXPIRED,
	        FAII_PIPE_TASK_REPLAY,
	        FAII_PIPE_TASK_UNKNOWN_KEY,
	        FAII_PIPE_NO_FEASIBLE,
	        FAII_PIPE_TABLE_FULL,
	        FAII_PIPE_RESIDENCY_REFUSED,
	        FAII_PIPE_RESULT_UNKNOWN,
	        FAII_PIPE_RESULT_WRONG_NODE,
	        FAII_PIPE_RESULT_BAD_ECHO,
	        FAII_PIPE_RESULT_LATE,
	        FAII_PIPE_TIMEOUTS,
	        FAII_PIPE_TX_DROPPED,
	        FAII_PIPE_MBUF_EXHAUSTED,
	        FAII_PIPE_RECEIPTS_DROPPED,
	        FAII_PIPE_TASK_BAD_IP_CHECKSUM,
	        FAII_PIPE_TASK_BAD_UDP_CHECKSUM,
	        FAII_PIPE_RESULT_BAD_IP_CHECKSUM,
	        FAII_PIPE_RESULT_BAD_UDP_CHECKSUM,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = st->pipe[bad[i]] - before.pipe[bad[i]];
		if (v > 0) {
			fprintf(stderr, "bench_dataplane: warning: %s = %" PRIu64 "\n",
			        faii_pipe_counter_name(bad[i]), v);
			refused += v;
		}
	}

	double p = median(pipe, reps), nf = median(noop, reps);
	double c = median(cpp, reps), nc = median(noop_cpp, reps);
	bool met = p >= TARGET_MPPS && p >= TARGET_RATIO * nf;
	printf("{\"bench\": \"dataplane\", \"case\": \"pipeline_mpps\", \"nodes\": %u, "
	       "\"value\": %.2f, \"unit\": \"Mpps\", \"baseline\": \"noop_forwarder\", "
	       "\"baseline_value\": %.2f, \"ratio\": %.3f, \"better\": \"higher\", \"reps\": %u, "
	       "\"seconds\": %.1f, \"min\": %.2f, \"max\": %.2f, \"tasks_mpps\": %.2f, "
	       "\"end_to_end_mpps\": %.2f, \"packets\": %" PRIu64 ", \"tasks_dispatched\": %" PRIu64
	       ", \"results_matched\": %" PRIu64 ", \"tx_task_copies\": %" PRIu64
	       ", \"tx_results\": %" PRIu64 ", \"tx_other\": %" PRIu64 ", \"refused\": %" PRIu64
	       ", \"frame_bytes\": {\"task\": %u, \"result\": %u}, \"budget_us\": %u, "
	       "\"route_tables\": %u, \"setup_s\": %.2f, \"on_cpu_min\": %.2f, "
	       "\"target\": \">= 15 Mpps and >= 0.5 x noop_forwarder\", \"target_met\": %s}\n",
	       nodes, p, nf, p / nf, reps, seconds, pipe[0], pipe[reps - 1], median(tasks, reps),
	       median(e2e, reps), packets, dispatched, matched, copies, results, other, refused,
	       h->task.len, h->result.len, budget_us, set ? set->table_count : 0, init_s, on_cpu,
	       met ? "true" : "false");
	printf("{\"bench\": \"dataplane\", \"case\": \"noop_forwarder_mpps\", \"nodes\": %u, "
	       "\"value\": %.2f, \"unit\": \"Mpps\", \"better\": \"higher\", \"reps\": %u, "
	       "\"min\": %.2f, \"max\": %.2f}\n",
	       nodes, nf, reps, noop[0], noop[reps - 1]);
	printf("{\"bench\": \"dataplane\", \"case\": \"pipeline_cycles_per_packet\", \"nodes\": "
	       "%u, "
	       "\"value\": %.1f, \"unit\": \"cycles/packet\", \"baseline\": \"noop_forwarder\", "
	       "\"baseline_value\": %.1f, \"ratio\": %.3f, \"better\": \"lower\", \"tsc_hz\": "
	       "%" PRIu64 "}\n",
	       nodes, c, nc, c / nc, h->tsc_hz);
	qsort(h->lat, h->lat_n, sizeof(*h->lat), cmp_u32);
	static const struct {
		const char *name;
		double q;
	} qs[] = {{"rx_to_tx_p50", 0.50}, {"rx_to_tx_p99", 0.99}};
	for (size_t i = 0; i < 2; i++) {
		size_t idx = (size_t)(qs[i].q * (double)h->lat_n);
		if (idx >= h->lat_n)
			idx = h->lat_n - 1;
		double us = (double)h->lat[idx] * 1e6 / (double)h->tsc_hz;
		printf("{\"bench\": \"dataplane\", \"case\": \"%s\", \"nodes\": %u, \"value\": "
		       "%.2f, "
		       "\"unit\": \"us\", \"better\": \"lower\", \"polls\": %zu, \"burst\": %u, "
		       "\"measures\": \"one poll of 32 packets: before rx_burst to after the TX "
		       "flush\"}\n",
		       qs[i].name, nodes, us, h->lat_n, BURST);
	}
	fflush(stdout);
	rte_pktmbuf_free_bulk(h->pending, h->npending);
	h->npending = 0;
	faii_appliance_fini(&a);
}

/* The pipeline without a residency check: the baseline the program's cost
 * is measured against. Never used outside this benchmark. */
static uint32_t judge_nothing(void *ctx, const void *frame, uint32_t len)
{
	(void)ctx, (void)frame, (void)len;
	return FAII_RES_PASS_ALLOWED;
}

/* The C reference over the appliance judge's policy snapshot. */
static uint32_t judge_c_reference(void *ctx, const void *frame, uint32_t len)
{
	return faii_res_c_judge(ctx, frame, len);
}

/*
 * perf/bench residency's dataplane part: the same appliance and traffic with
 * the residency hook running the BPF program (rte_bpf, JIT), its C
 * reference, and no check, alternated within each repetition.
 */
static void bench_residency(struct harness *h, uint32_t nodes, double seconds, unsigned reps)
{
	char err[256];
	static struct faii_appliance_dp a;
	if (faii_appliance_init(&a, make_config(nodes), &h->port, 1, 1, h->pool, err,
	                        sizeof(err)) != 0)
		die("appliance: %s", err);
	if (!faii_res_rte_has_bpf(a.residency_rte))
		die("the residency program is not running: %s", a.residency_mode);
	fprintf(stderr, "bench_dataplane: residency judge: %s\n", a.residency_mode);
	struct faii_worker *w = &a.workers[0];
	struct {
		const char *name;
		faii_residency_judge_fn fn;
		void *ctx;
		double mpps[16];
	} modes[] = {
	        {"none", judge_nothing, NULL, {0}},
	        {"bpf", a.dp.residency_judge, a.dp.residency_ctx, {0}},
	        {"c", judge_c_reference, a.residency_rte, {0}},
	};
	struct run r;
	run_pipeline(h, w, WARMUP_S, false, &r);
	uint64_t refused_before = w->stats.pipe[FAII_PIPE_RESIDENCY_REFUSED];
	for (unsigned k = 0; k < reps; k++) {
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			a.dp.residency_judge = modes[m].fn;
			a.dp.residency_ctx = modes[m].ctx;
			run_pipeline(h, w, seconds, false, &r);
			modes[m].mpps[k] = mpps(h, r.packets, r.poll_tsc);
			fprintf(stderr, "bench_dataplane: residency %s rep %u: %.2f Mpps\n",
			        modes[m].name, k + 1, modes[m].mpps[k]);
		}
	}
	uint64_t refused = w->stats.pipe[FAII_PIPE_RESIDENCY_REFUSED] - refused_before;
	double none = median(modes[0].mpps, reps), bpf = median(modes[1].mpps, reps),
	       c = median(modes[2].mpps, reps);
	printf("{\"bench\": \"residency\", \"case\": \"faiid_pipeline_with_program_mpps\", "
	       "\"nodes\": %u, \"node_ports\": \"%s\", \"value\": %.3f, \"unit\": \"Mpps\", "
	       "\"baseline\": "
	       "\"faiid_pipeline_without_residency_check\", \"baseline_value\": %.3f, \"ratio\": "
	       "%.3f, \"better\": \"higher\", \"cost_share\": %.3f, \"target\": \"program costs "
	       "<= 10%% of dataplane throughput\", \"target_met\": %s, \"reps\": %u, "
	       "\"refused\": %" PRIu64 ", \"judge\": \"%s\"}\n",
	       nodes, own_node_ports ? "own" : "appliance", bpf, none, bpf / none, 1.0 - bpf / none,
	       bpf >= 0.9 * none ? "true" : "false", reps, refused, a.residency_mode);
	printf("{\"bench\": \"residency\", \"case\": \"faiid_pipeline_with_c_judge_mpps\", "
	       "\"nodes\": %u, \"node_ports\": \"%s\", \"value\": %.3f, \"unit\": \"Mpps\", "
	       "\"baseline\": "
	       "\"faiid_pipeline_without_residency_check\", \"baseline_value\": %.3f, \"ratio\": "
	       "%.3f, \"better\": \"higher\", \"reps\": %u}\n",
	       nodes, own_node_ports ? "own" : "appliance", c, none, c / none, reps);
	fflush(stdout);
	rte_pktmbuf_free_bulk(h->pending, h->npending);
	h->npending = 0;
	faii_appliance_fini(&a);
}

/* ---- authentication: the same pipeline with and without the MACs ------------------ */

static void write_secret(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
		die("cannot write %s", path);
}

/* Key files of the demo appliance (epoch 1) and the sample client; the
 * nodes get their demo key pairs so that their RESULT keys derive. */
static void auth_config(struct faii_config *cfg, char dir[64])
{
	char line[160], hex[65], path[128];
	uint8_t pk[32], sk[32], ck[32];
	snprintf(dir, 64, "/tmp/faii-bench-auth-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	faii_demo_appliance_keypair(1, pk, sk);
	sodium_bin2hex(hex, sizeof(hex), sk, sizeof(sk));
	snprintf(line, sizeof(line), "1 %s\n", hex);
	snprintf(path, sizeof(path), "%s/appliance.key", dir);
	write_secret(path, line);
	snprintf(cfg->appliance.auth.key_file, sizeof(cfg->appliance.auth.key_file), "%s", path);
	faii_demo_client_key(faii_sample_task().client_id, 1, ck);
	sodium_bin2hex(hex, sizeof(hex), ck, sizeof(ck));
	snprintf(line, sizeof(line), "%" PRIu64 " 1 %s\n", faii_sample_task().client_id, hex);
	snprintf(path, sizeof(path), "%s/clients.keys", dir);
	write_secret(path, line);
	snprintf(cfg->appliance.auth.clients_file, sizeof(cfg->appliance.auth.clients_file), "%s",
	         path);
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		uint8_t nsk[64];
		faii_demo_node_keypair(cfg->nodes[i].id, cfg->nodes[i].public_key, nsk);
	}
}

/* Feeds the pending RESULTs in the mode they were made for, before a switch. */
static void flush_pending(struct harness *h, struct faii_worker *w)
{
	if (h->npending > 0 &&
	    rte_ring_sp_enqueue_burst(h->rx, (void **)h->pending, h->npending, NULL) != h->npending)
		die("RX ring full");
	h->npending = 0;
	faii_worker_poll(w);
	struct rte_mbuf *txm[BURST * 2];
	unsigned got;
	while ((got = rte_ring_sc_dequeue_burst(h->tx, (void **)txm, BURST * 2, NULL)) > 0)
		rte_pktmbuf_free_bulk(txm, got);
}

/* Cycles of one MAC check of a message of the pipeline's sizes. */
static double mac_cycles(const struct templ *t, const uint8_t *key)
{
	const uint8_t *msg = t->bytes + t->body - FAII_HDR_SIZE;
	struct faii_msg_view v;
	if (faii_parse(msg, (size_t)t->len - (size_t)(t->body - FAII_HDR_SIZE), &v) != FAII_OK)
		die("template does not parse");
	enum { N = 200000 };
	unsigned ok = 0;
	uint64_t t0 = rte_rdtsc();
	for (unsigned i = 0; i < N; i++)
		ok += faii_msg_mac_ok(&v, key);
	uint64_t t1 = rte_rdtsc();
	if (ok == N)
		die("an unsigned template verified");
	return (double)(t1 - t0) / N;
}

static void bench_auth(struct harness *h, uint32_t nodes, double seconds, unsigned reps)
{
	char err[256], dir[64];
	struct faii_config *cfg = make_config(nodes);
	auth_config(cfg, dir);
	static struct faii_appliance_dp a;
	if (faii_appliance_init(&a, cfg, &h->port, 1, 1, h->pool, err, sizeof(err)) != 0)
		die("appliance: %s", err);
	h->node_keys = nodes;
	h->node_key = calloc(nodes, sizeof(*h->node_key));
	h->node_key_ready = calloc(nodes, 1);
	faii_demo_client_key(faii_sample_task().client_id, 1, h->client_key);
	if (h->node_key == NULL || h->node_key_ready == NULL)
		die("out of memory");
	struct faii_worker *w = &a.workers[0];
	_Atomic(struct faii_auth_set *) *keys = a.dp.auth_set;
	double off[16], on[16];
	struct run r;
	uint64_t refused = 0;
	for (unsigned k = 0; k < reps + 1; k++) { /* the first round warms up */
		a.dp.auth_set = NULL, h->auth = false;
		run_pipeline(h, w, k ? seconds : WARMUP_S, false, &r);
		flush_pending(h, w);
		if (k)
			off[k - 1] = (double)r.poll_tsc / (double)r.packets;
		a.dp.auth_set = keys, h->auth = true;
		run_pipeline(h, w, k ? seconds : WARMUP_S, false, &r);
		flush_pending(h, w);
		refused += r.tx_other;
		if (k)
			on[k - 1] = (double)r.poll_tsc / (double)r.packets;
		fprintf(stderr,
		        "bench_dataplane: auth rep %u: %.0f cycles/pkt without, %.0f with\n", k,
		        k ? off[k - 1] : 0, k ? on[k - 1] : 0);
	}
	const struct faii_worker_stats *st = &w->stats;
	static const enum faii_pipe_counter bad[] = {
	        FAII_PIPE_TASK_UNAUTHENTICATED,
	        FAII_PIPE_TASK_UNKNOWN_CLIENT,
	        FAII_PIPE_TASK_BAD_KEY_EPOCH,
	        FAII_PIPE_TASK_BAD_MAC,
	        FAII_PIPE_RESULT_UNAUTHENTICATED,
	        FAII_PIPE_RESULT_WRONG_SOURCE,
	        FAII_PIPE_RESULT_BAD_KEY_EPOCH,
	        FAII_PIPE_RESULT_BAD_MAC,
	        FAII_PIPE_RESULT_BAD_TOKEN,
	        FAII_PIPE_AUTH_OFF,
	        FAII_PIPE_TIMEOUTS,
	        FAII_PIPE_TASK_BAD_IP_CHECKSUM,
	        FAII_PIPE_TASK_BAD_UDP_CHECKSUM,
	        FAII_PIPE_RESULT_BAD_IP_CHECKSUM,
	        FAII_PIPE_RESULT_BAD_UDP_CHECKSUM,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (st->pipe[bad[i]] > 0)
			fprintf(stderr, "bench_dataplane: auth: warning: %s = %" PRIu64 "\n",
			        faii_pipe_counter_name(bad[i]), st->pipe[bad[i]]);
		refused += st->pipe[bad[i]];
	}
	for (unsigned c = 0; c < FAII_PIPE_COUNT; c++)
		if (st->pipe[c] != 0)
			fprintf(stderr, "bench_dataplane: auth: %s %" PRIu64 "\n",
			        faii_pipe_counter_name((enum faii_pipe_counter)c), st->pipe[c]);
	double c_off = median(off, reps), c_on = median(on, reps);
	double task_mac = mac_cycles(&h->task_v2, h->client_key);
	double result_mac = mac_cycles(&h->result_v2, h->client_key);
	printf("{\"bench\": \"dataplane\", \"case\": \"auth_cycles_per_packet\", \"nodes\": %u, "
	       "\"value\": %.1f, \"unit\": \"cycles/packet\", \"baseline\": \"version_1_no_auth\", "
	       "\"baseline_value\": %.1f, \"delta\": %.1f, \"ratio\": %.3f, \"better\": \"lower\", "
	       "\"reps\": %u, \"seconds\": %.1f, \"refused\": %" PRIu64 ", "
	       "\"frame_bytes\": {\"task\": %u, \"result\": %u}, \"tsc_hz\": %" PRIu64 ", "
	       "\"measures\": \"half TASKs (client MAC checked, nonce drawn), half RESULTs "
	       "(source, node MAC, nonce checked)\"}\n",
	       nodes, c_on, c_off, c_on - c_off, c_on / c_off, reps, seconds, refused,
	       h->task_v2.len, h->result_v2.len, h->tsc_hz);
	printf("{\"bench\": \"dataplane\", \"case\": \"mac_check_cycles\", \"value\": %.1f, "
	       "\"unit\": \"cycles\", \"better\": \"lower\", \"task_cycles\": %.1f, "
	       "\"result_cycles\": %.1f, \"algorithm\": \"keyed BLAKE2b-128\", "
	       "\"message_bytes\": {\"task\": %u, \"result\": %u}}\n",
	       (task_mac + result_mac) / 2, task_mac, result_mac,
	       (unsigned)(h->task_v2.len - (h->task_v2.body - FAII_HDR_SIZE)),
	       (unsigned)(h->result_v2.len - (h->result_v2.body - FAII_HDR_SIZE)));
	fflush(stdout);
	rte_pktmbuf_free_bulk(h->pending, h->npending);
	h->npending = 0;
	h->auth = false;
	faii_appliance_fini(&a);
	free(h->node_key);
	free(h->node_key_ready);
	char path[128];
	snprintf(path, sizeof(path), "%s/appliance.key", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/clients.keys", dir);
	unlink(path);
	rmdir(dir);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_dataplane [--nodes N,N,...] [--seconds S] [--reps N] "
	                "[--budget-us US] [--node-ports own|appliance]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint32_t nodes[NODES_CASES] = {1000, 10000, 100000};
	unsigned node_cases = 3, reps = 3;
	double seconds = 1.0;
	uint32_t budget_us = 5000;
	for (int i = 1; i < argc; i += 2) { /* every option takes a value */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--nodes") == 0 && v) {
			node_cases = 0;
			char *s = strdup(v), *save = NULL;
			for (char *tok = strtok_r(s, ",", &save); tok && node_cases < NODES_CASES;
			     tok = strtok_r(NULL, ",", &save))
				nodes[node_cases++] = (uint32_t)strtoul(tok, NULL, 10);
			free(s);
		} else if (strcmp(argv[i], "--seconds") == 0 && v) {
			seconds = strtod(v, NULL);
		} else if (strcmp(argv[i], "--reps") == 0 && v) {
			reps = (unsigned)strtoul(v, NULL, 10);
		} else if (strcmp(argv[i], "--budget-us") == 0 && v) {
			budget_us = (uint32_t)strtoul(v, NULL, 10);
		} else if (strcmp(argv[i], "--node-ports") == 0 && v &&
		           (strcmp(v, "own") == 0 || strcmp(v, "appliance") == 0)) {
			own_node_ports = strcmp(v, "own") == 0;
		} else {
			usage();
		}
	}
	if (node_cases == 0 || reps == 0 || reps > 16 || !(seconds > 0) || budget_us == 0)
		usage();
	for (unsigned i = 0; i < node_cases; i++) {
		if (nodes[i] == 0)
			usage();
	}

	/* --in-memory is refused together with --no-huge (legacy memory):
	 * --no-shconf and a per-process prefix keep runs from colliding. */
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "bench-dataplane-%d", (int)getpid());
	char *eal[] = {argv[0],
	               "--no-huge",
	               "--no-pci",
	               "-m",
	               "1024",
	               "-l",
	               "0",
	               "--no-shconf",
	               "--file-prefix",
	               prefix,
	               "--no-telemetry",
	               "--log-level",
	               "lib.eal:warning"};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0)
		die("EAL: %s", rte_strerror(rte_errno));

	struct harness h = {.tsc_hz = rte_get_tsc_hz(), .next_task_id = 1};
	h.lat = malloc(LAT_SAMPLES * sizeof(*h.lat));
	h.pool = rte_pktmbuf_pool_create("bench_mbufs", FAII_MBUF_COUNT, FAII_MBUF_CACHE_SIZE, 0,
	                                 RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	h.rx = rte_ring_create("bench_rx", RING_SIZE, (int)rte_socket_id(),
	                       RING_F_SP_ENQ | RING_F_SC_DEQ);
	h.tx = rte_ring_create("bench_tx", RING_SIZE, (int)rte_socket_id(),
	                       RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (h.lat == NULL || h.pool == NULL || h.rx == NULL || h.tx == NULL)
		die("out of memory: %s", rte_strerror(rte_errno));
	int port = rte_eth_from_rings("bench0", &h.rx, 1, &h.tx, 1, (unsigned)rte_socket_id());
	if (port < 0)
		die("rte_eth_from_rings: %s", rte_strerror(rte_errno));
	h.port = (uint16_t)port;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(h.port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(h.port, 0, RING_SIZE, (unsigned)rte_socket_id(), NULL, h.pool) !=
	            0 ||
	    rte_eth_tx_queue_setup(h.port, 0, RING_SIZE, (unsigned)rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(h.port) != 0)
		die("cannot start the ring port");
	build_task_template(&h.task, budget_us, false);
	build_task_template(&h.task_v2, budget_us, true);
	h.client_port = faii_sample_frame_spec(false).src_port;
	build_result_template(&h.result, false);
	build_result_template(&h.result_v2, true);

	/* Task ids start from the clock so that reruns never look like replays. */
	h.next_task_id = faii_realtime_ns();
#ifdef FAII_BENCH_RESIDENCY
	const bool residency_only = true; /* built as bench_residency_dataplane */
#else
	const bool residency_only = false;
#endif
	if (residency_only)
		bench_residency(&h, node_cases > 1 ? nodes[1] : nodes[0], seconds, reps);
	else {
		for (unsigned i = 0; i < node_cases; i++)
			bench_nodes(&h, nodes[i], seconds, reps, budget_us);
		bench_auth(&h, nodes[0], seconds, reps);
	}

	rte_eth_dev_stop(h.port);
	rte_eth_dev_close(h.port);
	free(h.lat);
	rte_eal_cleanup();
	return 0;
}
