/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane pipeline (dataplane/pipeline.c, appliance/appliance.c) driven
 * through real DPDK virtual devices: a net_ring port made with
 * rte_eth_from_rings() whose RX rings the test fills with frames built by
 * faii_frame_build() and whose TX rings it empties, parsing what the
 * appliance sent. Workers are polled synchronously from the test thread
 * (faii_worker_poll), so every step is deterministic up to the routing
 * draws; the control thread's work (publish, drain the slow path) is called
 * by the tests where they need it.
 *
 * The test plays the client (10.0.0.1:5555 -> 10.0.0.254:7410) and every node
 * (192.0.2.<id>:<7000 + id>, as the test configurations place them).
 *
 * Criterion runs each test in its own process, so each one initialises the
 * EAL with its own in-memory instance.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "appliance.h"
#include "control.h"
#include "dataplane.h"
#include "evidence_log.h"
#include "faii/config.h"
#include "faii/clock.h"
#include "faii/demo.h"
#include "faii/frame.h"
#include "faii/ledger_store.h"
#include "faii/protocol.h"
#include "faii/publish.h"
#include "faii/registry.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define QUEUES_MAX  2u
#define RING_SIZE   8192u
#define POOL_SIZE   32767u
#define NODES_MAX   32u
#define OUT_MAX     65536u
#define PUMP_MAX    100000u
#define UDP_PORT    7410u
#define CLIENT_PORT 5555u
#define CLIENT_IP   0x0A000001u /* 10.0.0.1 */
#define LOCAL_IP    0x0A0000FEu /* 10.0.0.254 */
#define NODE_NET    0xC0000200u /* 192.0.2.0/24: node id is the last byte */
#define NODE_PORT0  7000u

enum { RC_ANY = 1, RC_CH = 2, RC_EU = 3, RC_US = 4 };
enum { REG_ZURICH = 1, REG_VIRGINIA = 2 };

/* ------------------------------------------------------------------------ */
/* Configurations.                                                          */

struct nspec {
	const char *cls; /* micro, S, M, L, XL */
	const char *op;
	const char *country; /* CH, DE, FR, US */
	double lat, lon;
	double capacity;
	double price;
	double reputation;
	double solar; /* share of solar in the mix, the rest non-renewable */
	const char *elig;
	const char *status;
};

static struct nspec node(const char *cls, const char *op, const char *country)
{
	return (struct nspec){.cls = cls,
	                      .op = op,
	                      .country = country,
	                      .lat = 47.40,
	                      .lon = 8.50,
	                      .capacity = 1000,
	                      .price = 1.0,
	                      .reputation = 0.5,
	                      .solar = 0.5,
	                      .elig = "all",
	                      .status = "active"};
}

static const char world[] = "jurisdictions:\n"
                            "  - {country: CH, bloc: EFTA}\n"
                            "  - {country: DE, bloc: EU}\n"
                            "  - {country: FR, bloc: EU}\n"
                            "  - {country: US}\n"
                            "residency_classes:\n"
                            "  - {id: 1, name: any, allow: [any]}\n"
                            "  - {id: 2, name: CH-only, allow: [CH]}\n"
                            "  - {id: 3, name: EU-only, allow: [EU]}\n"
                            "  - {id: 4, name: US-only, allow: [US]}\n"
                            "regions:\n"
                            "  - {id: 1, name: zurich, lat: 47.37, lon: 8.54}\n"
                            "  - {id: 2, name: virginia, lat: 38.95, lon: -77.45}\n";

/* Node i of the array gets id i + 1, 192.0.2.<id>:<7000 + id>, operator
 * ASN 64512 + operator name's first byte, and its demo key pair. */
/* Nodes listen on NODE_PORT0 + id, or all on this port when it is set (the
 * appliance's own, a faii port to the residency program as node ports are),
 * or on the port a node moved to (registered again, added by an operator). */
static uint16_t node_port_override;
static uint16_t node_port_moved[NODES_MAX + 1];
/* Set before fleet(): nodes at [2001:db8::<id>]:<port> instead. */
static bool fleet_ipv6;

static uint16_t node_port(uint32_t node_id)
{
	if (node_id <= NODES_MAX && node_port_moved[node_id] != 0)
		return node_port_moved[node_id];
	return node_port_override ? node_port_override : (uint16_t)(NODE_PORT0 + node_id);
}

static struct faii_config *fleet(const char *policy, const struct nspec *nodes, unsigned n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	fputs(policy ? policy : "", f);
	fputs(world, f);
	fputs("nodes:\n", f);
	for (unsigned i = 0; i < n; i++) {
		const struct nspec *s = &nodes[i];
		unsigned id = i + 1;
		uint8_t pk[FAII_PUBKEY_SIZE], sk[64];
		faii_demo_node_keypair(id, pk, sk);
		fprintf(f,
		        "  - id: %u\n"
		        "    name: node-%u\n"
		        "    class: %s\n"
		        "    status: %s\n"
		        "    operator: %s\n"
		        "    asn: %u\n"
		        "    country: %s\n"
		        "    region: zurich\n"
		        "    location: [%.4f, %.4f]\n"
		        "    address: \"%s%u%s:%u\"\n"
		        "    capacity: %.17g\n"
		        "    eligibility: [%s]\n"
		        "    price: %.17g\n"
		        "    reputation: %.17g\n"
		        "    esg:\n"
		        "      mix: {solar: %.17g, nonrenewable: %.17g}\n"
		        "      pue: 1.2\n"
		        "      energy_to_work: 1.0\n"
		        "      grid_stress: 0.3\n"
		        "    public_key: ",
		        id, id, s->cls, s->status, s->op, 64512u + (unsigned char)s->op[0],
		        s->country, s->lat, s->lon, fleet_ipv6 ? "[2001:db8::" : "192.0.2.", id,
		        fleet_ipv6 ? "]" : "", node_port(id), s->capacity, s->elig, s->price,
		        s->reputation, s->solar, 1.0 - s->solar);
		for (unsigned k = 0; k < FAII_PUBKEY_SIZE; k++)
			fprintf(f, "%02x", pk[k]);
		fputc('\n', f);
	}
	cr_assert_eq(fclose(f), 0);
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *c = NULL;
	int rc = faii_config_load_string("dataplane_test.yaml", buf, strlen(buf), &c, err);
	cr_assert_eq(rc, 0, "test configuration does not load: %s\n%s", err, buf);
	cr_assert_eq(c->node_count, n);
	free(buf);
	return c;
}

/* ------------------------------------------------------------------------ */
/* The test bed: EAL, pool, one net_ring port, the appliance.               */

struct testbed {
	struct rte_mempool *pool;
	struct rte_ring *rx[QUEUES_MAX], *tx[QUEUES_MAX];
	uint16_t port;
	unsigned queues;
	bool up;
	struct faii_appliance_dp a;
	uint64_t next_id;
};
static struct testbed T;

/* What the appliance transmitted, parsed. */
struct out {
	uint8_t type;
	uint8_t flags;
	unsigned queue; /* TX queue it left on */
	uint32_t dst_ip;
	uint16_t dst_port;
	struct faii_task task;
	struct faii_result result;
	uint8_t version;
	struct faii_auth_block auth; /* version 2 */
	bool ipv6;
	uint8_t dst_ip6[16];
	uint8_t ipv4_header_len;   /* IHL * 4 */
	uint16_t udp_checksum;     /* as sent; 0: none (IPv4 only) */
	bool udp_checksum_checked; /* recomputed by decode_out and found right */
};
static struct out O[OUT_MAX];
static unsigned NO;
static struct faii_worker_stats S;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void eal_up(void)
{
	char *argv[] = {"dataplane_test",
	                "--no-huge",
	                "--no-pci",
	                "-m",
	                "512",
	                "--file-prefix=faii-dpt",
	                "-l",
	                "0",
	                "--log-level=lib.eal:warning",
	                "--no-telemetry",
	                "--no-shconf",
	                NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	cr_assert_geq(sodium_init(), 0);
	int rc = rte_eal_init(argc, argv);
	cr_assert_geq(rc, 0, "rte_eal_init failed: %s", rte_strerror(rte_errno));
}

static void port_up(unsigned queues)
{
	T.queues = queues;
	T.pool = rte_pktmbuf_pool_create("dpt_pool", POOL_SIZE, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                 (int)rte_socket_id());
	cr_assert_not_null(T.pool, "pool: %s", rte_strerror(rte_errno));
	for (unsigned q = 0; q < queues; q++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "dpt_rx%u", q);
		T.rx[q] = rte_ring_create(name, RING_SIZE, (int)rte_socket_id(),
		                          RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "dpt_tx%u", q);
		T.tx[q] = rte_ring_create(name, RING_SIZE, (int)rte_socket_id(),
		                          RING_F_SP_ENQ | RING_F_SC_DEQ);
		cr_assert(T.rx[q] != NULL && T.tx[q] != NULL);
	}
	int port = rte_eth_from_rings("dpt_ring", T.rx, queues, T.tx, queues,
	                              (unsigned)rte_socket_id());
	cr_assert_geq(port, 0, "rte_eth_from_rings: %s", rte_strerror(rte_errno));
	T.port = (uint16_t)port;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	cr_assert_eq(rte_eth_dev_configure(T.port, (uint16_t)queues, (uint16_t)queues, &conf), 0);
	for (uint16_t q = 0; q < queues; q++) {
		cr_assert_eq(rte_eth_rx_queue_setup(T.port, q, 1024, 0, NULL, T.pool), 0);
		cr_assert_eq(rte_eth_tx_queue_setup(T.port, q, 1024, 0, NULL), 0);
	}
	cr_assert_eq(rte_eth_dev_start(T.port), 0);
}

static void appliance_up(struct faii_config *cfg, unsigned workers)
{
	char err[256] = "";
	int rc = faii_appliance_init(&T.a, cfg, &T.port, 1, workers, T.pool, err, sizeof(err));
	cr_assert_eq(rc, 0, "faii_appliance_init: %s", err);
	T.up = true;
	if (T.next_id == 0)
		T.next_id = 1000;
}

static void tb_setup(unsigned queues, unsigned workers, struct faii_config *cfg)
{
	eal_up();
	port_up(queues);
	appliance_up(cfg, workers);
	NO = 0;
}

static void auth_cleanup(void);

static void tb_teardown(void)
{
	if (T.up)
		faii_appliance_fini(&T.a);
	T.up = false;
	auth_cleanup();
	for (unsigned q = 0; q < T.queues; q++) {
		struct rte_mbuf *m;
		while (rte_ring_dequeue(T.rx[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (rte_ring_dequeue(T.tx[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	rte_eth_dev_stop(T.port);
	rte_eth_dev_close(T.port);
	rte_eal_cleanup();
}

static void stats(void)
{
	faii_stats_sum(T.a.workers, T.a.worker_count, &S);
}

/* ---- authentication (protocol version 2) ------------------------------------- */

/* With AUTH.on, the test's client and nodes speak version 2: TASKs under the
 * demo key of client 77 of epoch AUTH.client_epoch, RESULTs under each
 * node's key derived from the appliance's demo key of AUTH.node_epoch,
 * echoing the nonce each copy carried (remembered by decode_out). */
#define SEEN_MAX 1024u
static struct {
	bool on;
	uint8_t client_epoch, node_epoch;
	char dir[64];
	struct {
		uint64_t task_id;
		uint32_t node_id;
		uint8_t replica_index;
		uint8_t nonce[8];
	} seen[SEEN_MAX];
	unsigned seen_count;
} AUTH;

static void write_secret(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Writes the key files: the appliance's keys of the given epochs (first is
 * current) and client 77's keys of the same epochs; the keys after the first
 * carry " until=<until>" when until is not NULL. */
static void auth_write_keys_until(const uint8_t *epochs, unsigned n, const char *until)
{
	char app[512] = "", cli[512] = "", line[160], h[65];
	for (unsigned i = 0; i < n; i++) {
		uint8_t pk[32], sk[32], ck[32];
		faii_demo_appliance_keypair(epochs[i], pk, sk);
		hex(h, sk, 32);
		const char *deadline = i > 0 && until != NULL ? until : NULL;
		snprintf(line, sizeof(line), "%u %s%s%s\n", epochs[i], h, deadline ? " until=" : "",
		         deadline ? deadline : "");
		strcat(app, line);
		faii_demo_client_key(77, epochs[i], ck);
		hex(h, ck, 32);
		snprintf(line, sizeof(line), "77 %u %s%s%s\n", epochs[i], h,
		         deadline ? " until=" : "", deadline ? deadline : "");
		strcat(cli, line);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/appliance.key", AUTH.dir);
	write_secret(path, app);
	snprintf(path, sizeof(path), "%s/clients.keys", AUTH.dir);
	write_secret(path, cli);
}

static void auth_write_keys(const uint8_t *epochs, unsigned n)
{
	auth_write_keys_until(epochs, n, NULL);
}

/* The configuration prefix that turns authentication on. */
static const char *auth_on(const uint8_t *epochs, unsigned n)
{
	static char yaml[512];
	snprintf(AUTH.dir, sizeof(AUTH.dir), "/tmp/faii-dpt-auth-XXXXXX");
	cr_assert_not_null(mkdtemp(AUTH.dir));
	auth_write_keys(epochs, n);
	AUTH.on = true;
	AUTH.client_epoch = AUTH.node_epoch = epochs[0];
	snprintf(yaml, sizeof(yaml),
	         "appliance:\n  auth:\n    key_file: %s/appliance.key\n"
	         "    clients_file: %s/clients.keys\n",
	         AUTH.dir, AUTH.dir);
	return yaml;
}

static void auth_cleanup(void)
{
	if (AUTH.dir[0] == '\0')
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/appliance.key", AUTH.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/clients.keys", AUTH.dir);
	unlink(path);
	rmdir(AUTH.dir);
	AUTH.dir[0] = '\0';
}

static void seen_copy(const struct faii_task *t, const struct faii_auth_block *a)
{
	unsigned i = AUTH.seen_count++ % SEEN_MAX;
	AUTH.seen[i].task_id = t->task_id;
	AUTH.seen[i].node_id = t->node_id;
	AUTH.seen[i].replica_index = t->replica_index;
	memcpy(AUTH.seen[i].nonce, a->nonce, 8);
}

/* The nonce of the latest copy of (task, replica) sent to node_id. */
static void seen_nonce(const struct faii_task *copy, uint8_t nonce[8])
{
	memset(nonce, 0, 8);
	for (unsigned n = 0; n < SEEN_MAX && n < AUTH.seen_count; n++) {
		unsigned i = (AUTH.seen_count - 1 - n) % SEEN_MAX;
		if (AUTH.seen[i].task_id == copy->task_id &&
		    AUTH.seen[i].node_id == copy->node_id &&
		    AUTH.seen[i].replica_index == copy->replica_index) {
			memcpy(nonce, AUTH.seen[i].nonce, 8);
			return;
		}
	}
}

static void node_result_key(uint32_t node_id, uint8_t epoch, uint8_t key[32])
{
	uint8_t npk[FAII_PUBKEY_SIZE], nsk[64], apk[32], ask[32];
	faii_demo_node_keypair(node_id, npk, nsk);
	faii_demo_appliance_keypair(epoch, apk, ask);
	cr_assert_eq(faii_result_key_node(nsk, apk, key), 0);
}

/* ---- frames in ------------------------------------------------------------- */

static void put_ip(uint8_t *dst, uint32_t ip)
{
	dst[0] = (uint8_t)(ip >> 24);
	dst[1] = (uint8_t)(ip >> 16);
	dst[2] = (uint8_t)(ip >> 8);
	dst[3] = (uint8_t)ip;
}

static struct faii_frame_spec client_spec(void)
{
	struct faii_frame_spec s = {.src_port = CLIENT_PORT, .dst_port = UDP_PORT};
	static const uint8_t cmac[6] = {0x02, 0, 0, 0, 0, 0x01}, amac[6] = {0x02, 0, 0, 0, 0, 0xFE};
	memcpy(s.src_mac, cmac, 6);
	memcpy(s.dst_mac, amac, 6);
	put_ip(s.src_ip, CLIENT_IP);
	put_ip(s.dst_ip, LOCAL_IP);
	return s;
}

static struct faii_frame_spec node_spec(uint32_t node_id)
{
	struct faii_frame_spec s = client_spec();
	s.src_port = node_port(node_id);
	s.src_mac[5] = (uint8_t)(0x80 + node_id);
	put_ip(s.src_ip, NODE_NET + node_id);
	return s;
}

/* 2001:db8:<net>::<host>: the IPv6 test network (nodes: net 0, host id). */
static void put_ip6(uint8_t *dst, uint16_t net, uint16_t host)
{
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};
	memset(dst, 0, 16);
	memcpy(dst, prefix, 4);
	dst[4] = (uint8_t)(net >> 8), dst[5] = (uint8_t)net;
	dst[14] = (uint8_t)(host >> 8), dst[15] = (uint8_t)host;
}

/* The client 2001:db8:c::1 to the appliance 2001:db8:a::fe. */
static struct faii_frame_spec client_spec6(void)
{
	struct faii_frame_spec s = client_spec();
	s.ipv6 = true;
	put_ip6(s.src_ip, 0xc, 1);
	put_ip6(s.dst_ip, 0xa, 0xfe);
	return s;
}

static struct faii_frame_spec node_spec6(uint32_t node_id)
{
	struct faii_frame_spec s = node_spec(node_id);
	s.ipv6 = true;
	put_ip6(s.src_ip, 0, (uint16_t)node_id);
	put_ip6(s.dst_ip, 0xa, 0xfe);
	return s;
}

/* Frames msg as spec says and puts it on RX queue q; returns the mbuf's data
 * so that a caller may corrupt it before the next poll. */
static struct rte_mbuf *inject_mbuf(unsigned q, const struct faii_frame_spec *spec, const void *msg,
                                    size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.pool);
	cr_assert_not_null(m, "test pool exhausted");
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
	size_t n = faii_frame_build(data, rte_pktmbuf_tailroom(m), spec, msg, len);
	cr_assert_gt(n, 0u);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	m->port = T.port;
	cr_assert_eq(rte_ring_enqueue(T.rx[q], m), 0, "RX ring full");
	return m;
}

static uint8_t *inject(unsigned q, const struct faii_frame_spec *spec, const void *msg, size_t len)
{
	struct rte_mbuf *m = inject_mbuf(q, spec, msg, len); /* mtod names its argument twice */
	return rte_pktmbuf_mtod(m, uint8_t *);
}

static struct faii_task task_of(uint8_t category, uint16_t rclass, uint32_t budget_us)
{
	struct faii_task t;
	memset(&t, 0, sizeof(t));
	t.client_id = 77;
	t.latency_budget_us = budget_us;
	t.origin_region = REG_ZURICH;
	t.residency_class = rclass;
	t.category = category;
	t.tier = faii_category_tier(category);
	t.consistency = FAII_CONSISTENCY_EVENTUAL;
	return t;
}

/* Sends t with a fresh id (unless it has one) and the current time, framed
 * as spec says; returns the frame's mbuf, still on the RX ring. */
static struct rte_mbuf *send_task_as(unsigned q, struct faii_task *t,
                                     const struct faii_frame_spec *spec)
{
	if (t->task_id == 0)
		t->task_id = T.next_id++;
	if (t->submit_ts_ns == 0)
		t->submit_ts_ns = now_ns();
	uint8_t msg[FAII_MSG_SIZE_MAX];
	size_t len;
	if (AUTH.on) {
		struct faii_auth_block a = {.key_epoch = AUTH.client_epoch};
		uint8_t key[32];
		faii_demo_client_key(t->client_id, AUTH.client_epoch, key);
		len = faii_encode_task_v2(msg, sizeof(msg), t, &a, NULL);
		cr_assert_eq(faii_msg_mac_sign(msg, len, key), 0);
	} else {
		len = faii_encode_task(msg, sizeof(msg), t, NULL);
	}
	cr_assert_gt(len, 0u);
	return inject_mbuf(q, spec, msg, len);
}

static uint64_t send_task(unsigned q, struct faii_task *t)
{
	struct faii_frame_spec s = client_spec();
	send_task_as(q, t, &s);
	return t->task_id;
}

/* How a test RESULT departs from the honest answer (zero: honest). */
struct forge {
	uint8_t version;      /* 0: as AUTH says */
	const uint8_t *nonce; /* NULL: the copy's own */
	const uint8_t *key;   /* NULL: the node's own key */
	int epoch;            /* -1: AUTH.node_epoch */
	uint32_t src_ip;      /* 0: the node's address */
	uint16_t src_port;    /* 0: the node's port */
	bool ipv6;            /* from the node's IPv6 address (a fleet_ipv6 fleet) */
};

static struct faii_frame_spec node_spec6(uint32_t node_id);

/* Returns the frame's mbuf, still on the RX ring. */
static struct rte_mbuf *send_result_as(unsigned q, const struct faii_task *copy, uint8_t status,
                                       uint8_t hash, const struct forge *f)
{
	struct faii_result r;
	memset(&r, 0, sizeof(r));
	r.task_id = copy->task_id;
	r.dispatch_ts_ns = copy->dispatch_ts_ns;
	r.node_id = copy->node_id;
	r.exec_time_us = 5;
	r.status = status;
	r.replica_index = copy->replica_index;
	memset(r.result_hash, hash, sizeof(r.result_hash));
	uint8_t msg[FAII_MSG_SIZE_MAX];
	uint8_t version = f->version ? f->version : AUTH.on ? FAII_VERSION_2 : FAII_VERSION;
	size_t len;
	if (version == FAII_VERSION_2) {
		uint8_t epoch = f->epoch >= 0 ? (uint8_t)f->epoch : AUTH.node_epoch;
		struct faii_auth_block a = {.key_epoch = epoch};
		if (f->nonce)
			memcpy(a.nonce, f->nonce, 8);
		else
			seen_nonce(copy, a.nonce);
		uint8_t key[32];
		if (f->key)
			memcpy(key, f->key, 32);
		else
			node_result_key(copy->node_id, epoch, key);
		len = faii_encode_result_v2(msg, sizeof(msg), &r, &a, NULL);
		cr_assert_eq(faii_msg_mac_sign(msg, len, key), 0);
	} else {
		len = faii_encode_result(msg, sizeof(msg), &r, NULL);
	}
	cr_assert_gt(len, 0u);
	struct faii_frame_spec s = f->ipv6 ? node_spec6(copy->node_id) : node_spec(copy->node_id);
	if (f->src_ip)
		put_ip(s.src_ip, f->src_ip);
	if (f->src_port)
		s.src_port = f->src_port;
	return inject_mbuf(q, &s, msg, len);
}

/* The node's answer to a TASK copy: echoes id, node, replica and dispatch time. */
static void send_result(unsigned q, const struct faii_task *copy, uint8_t status, uint8_t hash)
{
	const struct forge honest = {.epoch = -1};
	send_result_as(q, copy, status, hash, &honest);
}

/* ---- frames out ------------------------------------------------------------ */

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The UDP checksum of a received frame recomputed, as a receiver's NIC does:
 * pseudo header, UDP header and message sum to 0xFFFF. */
static bool udp_checksum_holds(const uint8_t *ip, const uint8_t *udp, bool ipv6)
{
	size_t udp_len = (size_t)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[40] = {0};
	size_t plen = ipv6 ? 40 : 12;
	if (ipv6) {
		memcpy(pseudo, ip + 8, 32);
		pseudo[34] = (uint8_t)(udp_len >> 8);
		pseudo[35] = (uint8_t)udp_len;
		pseudo[39] = 17;
	} else {
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = 17;
		pseudo[10] = (uint8_t)(udp_len >> 8);
		pseudo[11] = (uint8_t)udp_len;
	}
	uint32_t sum = faii_csum_add(faii_csum_add(0, pseudo, plen), udp, udp_len);
	return faii_csum_fold(sum) == 0;
}

static void decode_out(const struct rte_mbuf *m, unsigned q)
{
	cr_assert_lt(NO, OUT_MAX, "too many frames out");
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	cr_assert_geq(len, FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN + FAII_UDP_HDR_LEN);
	bool ipv6 = p[12] == 0x86 && p[13] == 0xDD; /* untagged: the tests send no tags */
	size_t l4 = FAII_ETH_HDR_LEN + (ipv6 ? FAII_IPV6_HDR_LEN : (size_t)(p[14] & 0x0F) * 4);
	cr_assert_geq(len, l4 + FAII_UDP_HDR_LEN);
	uint16_t dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	struct faii_frame_view fv;
	enum faii_drop d = faii_parse_frame(p, len, dport, &fv);
	cr_assert_eq(d, FAII_OK, "the appliance sent an invalid frame: %s", faii_drop_name(d));
	/* Checksums as a receiver's NIC would check them: the IPv4 header sums
	 * to 0xFFFF, and so do the UDP pseudo header, header and message; over
	 * IPv6 a UDP checksum is mandatory (RFC 8200 §8.1). */
	cr_assert_eq(fv.ip_version, ipv6 ? 6 : 4);
	const uint8_t *ip = p + fv.l3_offset, *udp = p + fv.l4_offset;
	size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
	if (!ipv6)
		cr_assert_eq(faii_ipv4_checksum(ip, ihl), 0, "bad IPv4 header checksum");
	uint16_t ck = (uint16_t)(udp[6] << 8 | udp[7]);
	cr_assert(ck != 0 || !ipv6, "IPv6 frame without a UDP checksum");
	bool checked = false;
	if (ck != 0) {
		cr_assert(udp_checksum_holds(ip, udp, ipv6), "bad UDP checksum");
		checked = true;
	}
	struct out *o = &O[NO++];
	memset(o, 0, sizeof(*o));
	o->type = fv.msg.type;
	o->flags = fv.msg.hdr->flags;
	o->queue = q;
	o->dst_port = dport;
	o->ipv6 = ipv6;
	if (ipv6)
		memcpy(o->dst_ip6, ip + 24, 16);
	else
		o->dst_ip = get_be32(ip + 16);
	o->ipv4_header_len = ipv6 ? 0 : (uint8_t)ihl;
	o->udp_checksum = ck;
	o->udp_checksum_checked = checked;
	o->version = fv.msg.version;
	if (fv.msg.auth != NULL)
		o->auth = *fv.msg.auth;
	if (o->type == FAII_MSG_TASK)
		faii_decode_task(&fv.msg, &o->task);
	if (o->type == FAII_MSG_TASK && fv.msg.auth != NULL)
		seen_copy(&o->task, fv.msg.auth);
	else if (o->type == FAII_MSG_RESULT)
		faii_decode_result(&fv.msg, &o->result);
}

/* Takes everything off the TX rings; the appliance may still hold some of
 * these mbufs (refcnt > 1, kept for re-dispatch): read only, then free. */
static void collect(void)
{
	for (unsigned q = 0; q < T.queues; q++) {
		struct rte_mbuf *b[64];
		for (unsigned guard = 0; guard < RING_SIZE; guard++) {
			unsigned n = rte_ring_dequeue_burst(T.tx[q], (void **)b, 64, NULL);
			if (n == 0)
				break;
			for (unsigned i = 0; i < n; i++) {
				decode_out(b[i], q);
				rte_pktmbuf_free(b[i]);
			}
		}
	}
}

/* Polls every worker until its RX queue and hand-off ring are empty. */
static void pump(void)
{
	for (unsigned it = 0; it < PUMP_MAX; it++) {
		for (unsigned w = 0; w < T.a.worker_count; w++)
			faii_worker_poll(&T.a.workers[w]);
		collect();
		bool idle = true;
		for (unsigned q = 0; q < T.a.worker_count; q++)
			idle = idle && rte_ring_count(T.rx[q]) == 0;
		for (unsigned w = 0; w < T.a.worker_count; w++)
			idle = idle && rte_ring_count(T.a.dp.handoff[w]) == 0;
		if (idle)
			return;
	}
	cr_assert_fail("the appliance did not drain its input");
}

/* Polls for about us microseconds (the timer wheel runs on the TSC). */
static void pump_for_us(unsigned us)
{
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000000u * us;
	for (unsigned it = 0; it < 1000000u && rte_rdtsc() < end; it++) {
		pump();
		rte_delay_us(50);
	}
}

static bool is_task_copy_to(const struct out *o, uint32_t node_id)
{
	return o->type == FAII_MSG_TASK && o->task.node_id == node_id &&
	       o->dst_ip == NODE_NET + node_id && o->dst_port == node_port(node_id) &&
	       (o->flags & FAII_F_DISPATCHED) && o->task.dispatch_ts_ns != 0;
}

static bool is_client_result(const struct out *o)
{
	return o->type == FAII_MSG_RESULT && o->dst_ip == CLIENT_IP && o->dst_port == CLIENT_PORT;
}

/* Sends one TASK of category (any residency, eventual) and returns its id,
 * its one copy in *copy; O is emptied. */
static uint64_t dispatch_one(uint8_t category, uint32_t budget_us, struct faii_task *copy)
{
	struct faii_task t = task_of(category, RC_ANY, budget_us);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1, "%u frames for one TASK", NO);
	cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
	*copy = O[0].task;
	NO = 0;
	return id;
}

/* Every non-zero counter, on stderr: what a failing assertion saw. */
static void dump_stats(void)
{
	stats();
	fprintf(stderr, "rx %" PRIu64 " tx %" PRIu64 "\n", S.rx_packets, S.tx_packets);
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++)
		if (S.drops[r])
			fprintf(stderr, "  drop %s %" PRIu64 "\n",
			        faii_drop_name((enum faii_drop)r), S.drops[r]);
	for (unsigned c = 0; c < FAII_PIPE_COUNT; c++)
		if (S.pipe[c])
			fprintf(stderr, "  %s %" PRIu64 "\n",
			        faii_pipe_counter_name((enum faii_pipe_counter)c), S.pipe[c]);
	for (unsigned v = 0; v < FAII_RES_REASON_COUNT; v++)
		if (S.residency[v])
			fprintf(stderr, "  residency[%u] %" PRIu64 "\n", v, S.residency[v]);
}

/* ---- running tasks --------------------------------------------------------- */

/*
 * Sends n tasks made from tpl in batches of at most batch, answers every copy
 * OK at once, and counts TASK copies per node id into per_node. Asserts one
 * copy per task, each addressed to the node it names, and exactly one OK
 * result per task back to the client.
 */
static void run_tasks(const struct faii_task *tpl, unsigned n, unsigned batch, uint64_t *per_node)
{
	struct faii_task copies[32];
	cr_assert(batch >= 1 && batch <= 32);
	for (unsigned sent = 0; sent < n;) {
		unsigned b = n - sent < batch ? n - sent : batch;
		uint64_t first = T.next_id;
		for (unsigned i = 0; i < b; i++) {
			struct faii_task t = *tpl;
			send_task(0, &t);
		}
		NO = 0;
		pump();
		if (NO != b)
			dump_stats();
		cr_assert_eq(NO, b, "%u tasks gave %u frames", b, NO);
		for (unsigned i = 0; i < b; i++) {
			const struct out *o = &O[i];
			cr_assert(is_task_copy_to(o, o->task.node_id),
			          "not a TASK copy to its node");
			cr_assert(o->task.node_id >= 1 && o->task.node_id <= NODES_MAX);
			cr_assert(o->task.task_id >= first && o->task.task_id < first + b);
			cr_assert_eq(o->task.attempt, 0);
			per_node[o->task.node_id]++;
			copies[i] = o->task;
		}
		NO = 0;
		for (unsigned i = 0; i < b; i++)
			send_result(0, &copies[i], FAII_RESULT_OK, 0xAA);
		pump();
		cr_assert_eq(NO, b, "%u results gave %u frames", b, NO);
		uint32_t seen = 0;
		for (unsigned i = 0; i < b; i++) {
			const struct out *o = &O[i];
			cr_assert(is_client_result(o));
			cr_assert_eq(o->result.status, FAII_RESULT_OK);
			cr_assert(o->result.task_id >= first && o->result.task_id < first + b);
			uint32_t bit = 1u << (o->result.task_id - first);
			cr_assert_eq(seen & bit, 0u, "task %" PRIu64 " answered twice",
			             o->result.task_id);
			seen |= bit;
		}
		NO = 0;
		sent += b;
	}
}

static const struct faii_route_dp_table *table_of(uint16_t region, uint8_t category,
                                                  uint16_t rclass)
{
	const struct faii_route_set *set = faii_publisher_current(&T.a.pub);
	cr_assert_not_null(set);
	return faii_route_set_lookup(set, region, category, rclass);
}

static uint64_t total(const uint64_t *per_node)
{
	uint64_t s = 0;
	for (unsigned i = 0; i <= NODES_MAX; i++)
		s += per_node[i];
	return s;
}

/* ------------------------------------------------------------------------ */
/* 1. Each feasibility rule forces the choice.                              */

TestSuite(dataplane, .fini = tb_teardown);

Test(dataplane, feasibility_latency_budget)
{
	/* Node 1 near Zurich, node 2 in Virginia and cheaper (preferred). */
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "US")};
	n[1].lat = 38.90, n[1].lon = -77.40, n[1].price = 0.9;
	n[0].price = 1.05;
	struct faii_config *cfg = fleet(NULL, n, 2);
	double near_us = faii_route_latency_prior_us(&cfg->regions[0], &cfg->nodes[0]);
	double far_us = faii_route_latency_prior_us(&cfg->regions[0], &cfg->nodes[1]);
	cr_assert_lt(near_us, 2000.0);
	cr_assert_gt(far_us, 50000.0);
	tb_setup(1, 1, cfg);
	const struct faii_route_dp_table *t = table_of(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY);
	cr_assert_not_null(t);
	cr_assert_eq(t->count, 2, "both nodes within the category's 1 s");

	/* A 20 ms budget: only the near node's prior round trip fits. */
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 20000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_eq(per[1], 400);
	cr_assert_eq(per[2], 0, "the far node got %" PRIu64 " tasks over budget", per[2]);

	/* Control: with 500 ms both fit and the cheaper far node is chosen too. */
	memset(per, 0, sizeof(per));
	tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_gt(per[2], 100, "far node %" PRIu64, per[2]);
	cr_assert_gt(per[1], 0);
}

Test(dataplane, feasibility_capacity)
{
	/* capacity 8/s: L_i = max(8 * 0.25 s, 4) = 4 outstanding tasks. */
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	n[0].capacity = n[1].capacity = 8;
	n[0].price = 0.9; /* node 1 preferred */
	tb_setup(1, 1, fleet(NULL, n, 2));
	cr_assert_eq(atomic_load(&T.a.reg.live[0].limit), 4u);
	cr_assert_eq(atomic_load(&T.a.reg.live[1].limit), 4u);

	/* Eight tasks, never answered (10 s budget: no timeout here). */
	struct faii_task held[8];
	uint64_t per[NODES_MAX + 1] = {0};
	for (unsigned i = 0; i < 8; i++) {
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 10000000);
		send_task(0, &t);
	}
	NO = 0;
	pump();
	cr_assert_eq(NO, 8);
	for (unsigned i = 0; i < 8; i++) {
		cr_assert(is_task_copy_to(&O[i], O[i].task.node_id));
		per[O[i].task.node_id]++;
		held[i] = O[i].task;
	}
	cr_assert_eq(per[1], 4, "node 1 got %" PRIu64 " of 8 (limit 4)", per[1]);
	cr_assert_eq(per[2], 4);
	cr_assert_eq(atomic_load(&T.a.reg.live[0].outstanding), 4u);
	cr_assert_eq(atomic_load(&T.a.reg.live[1].outstanding), 4u);

	/* Both at L_i: the ninth is answered "no feasible node". */
	struct faii_task t9 = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 10000000);
	uint64_t id9 = send_task(0, &t9);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id9);
	cr_assert_eq(O[0].result.status, FAII_RESULT_NO_FEASIBLE_NODE);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_NO_FEASIBLE], 1);

	/* One result back from node 1: it has room for exactly one more. */
	unsigned k = 0;
	while (k < 8 && held[k].node_id != 1)
		k++;
	cr_assert_lt(k, 8u);
	send_result(0, &held[k], FAII_RESULT_OK, 0xAA);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, held[k].task_id);
	cr_assert_eq(atomic_load(&T.a.reg.live[0].outstanding), 3u);
	struct faii_task t10 = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 10000000);
	send_task(0, &t10);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_task_copy_to(&O[0], 1), "the freed slot is node 1's");
}

Test(dataplane, feasibility_eligibility)
{
	/* Node 1 is cheaper but eligible for interactive inference only. */
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	n[0].elig = "interactive_inference";
	n[0].price = 0.9;
	tb_setup(1, 1, fleet(NULL, n, 2));
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_eq(per[1], 0, "ineligible node got %" PRIu64, per[1]);
	cr_assert_eq(per[2], 400);
	memset(per, 0, sizeof(per));
	tpl = task_of(FAII_CAT_INTERACTIVE_INFERENCE, RC_ANY, 500000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_gt(per[1], 100, "control: the eligible category reaches node 1");
}

Test(dataplane, feasibility_residency)
{
	/* Node 1 sits in the US (forbidden for CH-only) and is cheaper and greener. */
	struct nspec n[2] = {node("M", "a", "US"), node("M", "b", "CH")};
	n[0].price = 0.85, n[0].solar = 0.95;
	tb_setup(1, 1, fleet(NULL, n, 2));
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_eq(per[1], 0, "restricted task left for a forbidden jurisdiction");
	cr_assert_eq(per[2], 400);
	stats();
	cr_assert_eq(S.residency[FAII_RES_PASS_ALLOWED], 400, "the hook judged every copy");
	cr_assert_eq(S.residency[FAII_RES_DROP_FORBIDDEN], 0);
	memset(per, 0, sizeof(per));
	tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	run_tasks(&tpl, 400, 16, per);
	cr_assert_gt(per[1], 100, "control: class any reaches the US node");
}

Test(dataplane, feasibility_price_corridor)
{
	/* Mean price 1.02, corridor [0.816, 1.224]: node 1 (0.5, the most
	 * preferred by price) and node 5 (1.6) are outside. */
	struct nspec n[5] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH"),
	                     node("M", "d", "CH"), node("M", "e", "CH")};
	n[0].price = 0.5;
	n[4].price = 1.6;
	tb_setup(1, 1, fleet(NULL, n, 5));
	const struct faii_route_dp_table *t = table_of(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY);
	cr_assert_not_null(t);
	cr_assert_eq(t->count, 3);
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	run_tasks(&tpl, 600, 16, per);
	cr_assert_eq(per[1], 0, "below the corridor: %" PRIu64, per[1]);
	cr_assert_eq(per[5], 0, "above the corridor: %" PRIu64, per[5]);
	for (unsigned i = 2; i <= 4; i++)
		cr_assert_gt(per[i], 100, "node %u inside the corridor got %" PRIu64, i, per[i]);
}

Test(dataplane, feasibility_status_draining)
{
	struct nspec n[3] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH")};
	n[0].price = 0.85;
	tb_setup(1, 1, fleet(NULL, n, 3));
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	run_tasks(&tpl, 300, 16, per);
	cr_assert_gt(per[1], 50);

	/* Drained, with no new route set published: acts at once. */
	cr_assert_eq(faii_registry_set_status(&T.a.reg, 0, FAII_NODE_DRAINING), 0);
	memset(per, 0, sizeof(per));
	run_tasks(&tpl, 600, 16, per);
	cr_assert_eq(per[1], 0, "a draining node got %" PRIu64 " new tasks", per[1]);
	cr_assert_eq(per[2] + per[3], 600);

	/* Published without it: still nothing; back to active: tasks again. */
	cr_assert_eq(faii_appliance_publish(&T.a), 0);
	cr_assert_eq(table_of(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY)->count, 2);
	memset(per, 0, sizeof(per));
	run_tasks(&tpl, 300, 16, per);
	cr_assert_eq(per[1], 0);
	cr_assert_eq(faii_registry_set_status(&T.a.reg, 0, FAII_NODE_ACTIVE), 0);
	cr_assert_eq(faii_appliance_publish(&T.a), 0);
	memset(per, 0, sizeof(per));
	run_tasks(&tpl, 300, 16, per);
	cr_assert_gt(per[1], 50, "reactivated node got %" PRIu64, per[1]);
}

Test(dataplane, feasibility_min_reputation)
{
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	n[0].reputation = 0.3, n[0].price = 0.85;
	n[1].reputation = 0.9;
	tb_setup(1, 1, fleet(NULL, n, 2));
	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	tpl.min_reputation_milli = 500;
	run_tasks(&tpl, 400, 16, per);
	cr_assert_eq(per[1], 0, "reputation 300 < 500 but got %" PRIu64, per[1]);
	cr_assert_eq(per[2], 400);
	memset(per, 0, sizeof(per));
	tpl.min_reputation_milli = 0;
	run_tasks(&tpl, 400, 16, per);
	cr_assert_gt(per[1], 100, "control: without a minimum node 1 is chosen");
	/* Above every node: an explicit answer. */
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 500000);
	t.min_reputation_milli = 950;
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_NO_FEASIBLE_NODE);
}

/* ------------------------------------------------------------------------ */
/* 2. Realised shares match the published table over >= 1 000 000 tasks.     */

#define SHARE_TASKS 1000000u
#define SIGMAS      5.0

/* Tolerance of a realised fraction around p over n draws: 5 sigma of the
 * binomial plus 1e-4 for float shares and the alias table's quantisation. */
static double share_tol(double p, double n)
{
	return SIGMAS * sqrt(p * (1.0 - p) / n) + 1e-4;
}

Test(dataplane, shares_match_table, .timeout = 600)
{
	/* Tier 1 (edge inference): alpha 0.3, beta 0.25, d 4 by default. The
	 * large nodes of "big" are cheapest (cap binds), micro+S dearest
	 * (reserve binds). */
	struct nspec n[10] = {node("L", "big", "CH"), node("L", "big", "CH"),
	                      node("L", "big", "DE"), node("M", "bee", "CH"),
	                      node("M", "bee", "DE"), node("M", "cee", "CH"),
	                      node("M", "cee", "FR"), node("micro", "dee", "CH"),
	                      node("S", "dee", "DE"), node("S", "eee", "FR")};
	n[0].price = n[1].price = n[2].price = 0.85;
	n[7].price = n[8].price = 1.15;
	n[9].price = 1.1;
	tb_setup(1, 1, fleet(NULL, n, 10));
	const struct faii_config *cfg = T.a.reg.cfg;
	const struct faii_tier_policy *tp = &cfg->policy.tier[0];
	const struct faii_route_dp_table *t = table_of(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY);
	cr_assert_not_null(t);
	cr_assert_eq(t->count, 10);
	double phi[NODES_MAX + 1] = {0};
	for (unsigned k = 0; k < t->count; k++)
		phi[t->cand[k].node_id] = t->share[k];

	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_EDGE_INFERENCE, RC_ANY, 50000);
	double t0 = mono_s();
	/* One task in flight at a time: outstanding is 0 at every draw, so
	 * the better-of-two correction keeps the first draw and the realised
	 * shares estimate phi itself. */
	run_tasks(&tpl, SHARE_TASKS, 1, per);
	double secs = mono_s() - t0;
	double N = (double)total(per);
	cr_assert_eq(total(per), SHARE_TASKS);

	double worst = 0, edge = 0, op_share[8] = {0};
	const char *ops[8] = {NULL};
	unsigned op_count = 0;
	for (unsigned id = 1; id <= 10; id++) {
		double p = (double)per[id] / N, dev = fabs(p - phi[id]),
		       tol = share_tol(phi[id], N);
		fprintf(stderr,
		        "shares: node %2u %-5s %-3s phi %.5f realised %.5f dev %.5f tol %.5f\n", id,
		        n[id - 1].cls, n[id - 1].op, phi[id], p, dev, tol);
		cr_assert_leq(dev, tol, "node %u: phi %.5f realised %.5f", id, phi[id], p);
		worst = dev > worst ? dev : worst;
		if (strcmp(n[id - 1].cls, "micro") == 0 || strcmp(n[id - 1].cls, "S") == 0)
			edge += p;
		unsigned o = 0;
		while (o < op_count && strcmp(ops[o], n[id - 1].op) != 0)
			o++;
		if (o == op_count)
			ops[op_count++] = n[id - 1].op;
		op_share[o] += p;
	}
	fprintf(stderr, "shares: %.0f tasks in %.1f s, largest deviation %.5f\n", N, secs, worst);
	/* The edge reserve, the operator cap and the operator floor, realised. */
	double edge_tol = share_tol(tp->edge_reserve, N);
	fprintf(stderr, "shares: micro+S %.5f (alpha %.2f)\n", edge, tp->edge_reserve);
	cr_assert_geq(edge, tp->edge_reserve - edge_tol, "micro+S %.5f < alpha", edge);
	unsigned serving = 0;
	for (unsigned o = 0; o < op_count; o++) {
		fprintf(stderr, "shares: operator %s %.5f (beta %.2f)\n", ops[o], op_share[o],
		        tp->operator_cap);
		cr_assert_leq(op_share[o], tp->operator_cap + share_tol(tp->operator_cap, N),
		              "operator %s carries %.5f > beta", ops[o], op_share[o]);
		serving += op_share[o] >= 1.0 / (4.0 * tp->operators_min);
	}
	cr_assert_geq(serving, tp->operators_min, "%u operators serve, d = %u", serving,
	              tp->operators_min);
	/* The constraints bind here: without them "big" would carry more. */
	cr_assert_gt(op_share[0], tp->operator_cap - 0.01);
}

/* ------------------------------------------------------------------------ */
/* 3. Replica sets.                                                         */

/* Nine EU nodes of five operators (identical offers) and three cheaper US
 * nodes that class EU-only must never see. */
static const struct nspec *replica_fleet_cfg(const char *prefix)
{
	static struct nspec n[12];
	static const char *const op[12] = {"a", "a", "b", "b", "c", "c",
	                                   "d", "d", "e", "u", "v", "v"};
	static const char *const country[12] = {"DE", "DE", "FR", "FR", "DE", "DE",
	                                        "FR", "FR", "DE", "US", "US", "US"};
	for (unsigned i = 0; i < 12; i++) {
		n[i] = node("M", op[i], country[i]);
		if (i >= 9)
			n[i].price = 0.85, n[i].solar = 0.9;
	}
	tb_setup(1, 1, fleet(prefix, n, 12));
	return n;
}

static const struct nspec *replica_fleet(void)
{
	return replica_fleet_cfg(NULL);
}

/* Sends one task and returns its copies by replica index, checking that they
 * go to distinct EU nodes, carry the replica flag and count against the
 * operator cap (beta 0.25): at most ceil(n beta) copies per operator, so a
 * set of 3 spans 3 operators and a set of 7 at least 4. */
static uint64_t dispatch_replicated(const struct nspec *n, uint8_t consistency,
                                    struct faii_task *copies)
{
	unsigned want = faii_consistency_replicas(consistency);
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_EU, 1000000);
	t.consistency = consistency;
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, want, "%u copies for %u replicas", NO, want);
	uint32_t index_seen = 0, node_seen = 0;
	const char *ops[FAII_REPLICAS_MAX];
	unsigned op_count = 0, per_op[FAII_REPLICAS_MAX] = {0};
	for (unsigned i = 0; i < want; i++) {
		const struct out *o = &O[i];
		cr_assert(is_task_copy_to(o, o->task.node_id));
		cr_assert_eq(o->task.task_id, id);
		cr_assert(o->flags & FAII_F_REPLICA);
		cr_assert_lt(o->task.replica_index, want);
		cr_assert_eq(index_seen & (1u << o->task.replica_index), 0u);
		index_seen |= 1u << o->task.replica_index;
		uint32_t nid = o->task.node_id;
		cr_assert(nid >= 1 && nid <= 12);
		cr_assert_eq(node_seen & (1u << nid), 0u, "node %u twice in a replica set", nid);
		node_seen |= 1u << nid;
		const char *c = n[nid - 1].country;
		cr_assert(strcmp(c, "DE") == 0 || strcmp(c, "FR") == 0,
		          "replica on node %u in %s, outside EU-only", nid, c);
		unsigned k = 0;
		while (k < op_count && strcmp(ops[k], n[nid - 1].op) != 0)
			k++;
		if (k == op_count)
			ops[op_count++] = n[nid - 1].op;
		per_op[k]++;
		copies[o->task.replica_index] = o->task;
	}
	unsigned most = (unsigned)ceil(want * 0.25);
	for (unsigned k = 0; k < op_count; k++)
		cr_assert_leq(per_op[k], most, "operator %s: %u copies of %u", ops[k], per_op[k],
		              want);
	cr_assert_geq(op_count, (want + most - 1) / most, "%u distinct operators in a set of %u",
	              op_count, want);
	NO = 0;
	return id;
}

static uint64_t verified(uint32_t node_id, unsigned tier)
{
	return atomic_load(&T.a.reg.live[node_id - 1].verified_work[tier - 1]);
}

/* The next routing receipt worker w wrote (docs/settlement.md), or fails. */
static struct faii_receipt take_receipt(unsigned w)
{
	struct faii_receipt r;
	cr_assert_eq(rte_ring_sc_dequeue_elem(T.a.dp.receipt_ring[w], &r, sizeof(r)), 0,
	             "a receipt on worker %u's ring", w);
	return r;
}

static void no_receipt_left(unsigned w)
{
	cr_assert_eq(rte_ring_count(T.a.dp.receipt_ring[w]), 0, "one receipt a task");
}

Test(dataplane, replicas_session_majority_once)
{
	const struct nspec *n = replica_fleet();
	struct faii_task c[FAII_REPLICAS_MAX];
	for (unsigned round = 0; round < 20; round++) {
		uint64_t id = dispatch_replicated(n, FAII_CONSISTENCY_SESSION, c);
		uint64_t before[3];
		for (unsigned k = 0; k < 3; k++)
			before[k] = verified(c[k].node_id, 2);
		for (unsigned k = 0; k < 3; k++) {
			send_result(0, &c[k], FAII_RESULT_OK, 0xAA);
			pump();
		}
		cr_assert_eq(NO, 1, "the majority goes to the client once, got %u", NO);
		cr_assert(is_client_result(&O[0]));
		cr_assert_eq(O[0].result.task_id, id);
		cr_assert_eq(O[0].result.status, FAII_RESULT_OK);
		cr_assert_eq(O[0].result.result_hash[0], 0xAA);
		for (unsigned k = 0; k < 3; k++)
			cr_assert_eq(verified(c[k].node_id, 2), before[k] + 1);
		/* Its receipt: three copies, all agreed, the majority's hash. */
		struct faii_receipt r = take_receipt(0);
		no_receipt_left(0);
		cr_assert_eq(r.task_id, id);
		cr_assert_eq(r.verdict, FAII_RECEIPT_AGREED);
		cr_assert_eq(r.replicas, 3);
		cr_assert_eq(r.tier, 2);
		cr_assert_eq(r.status, FAII_RESULT_OK);
		cr_assert(r.answered == 7 && r.ok == 7 && r.agreed == 7);
		cr_assert_eq(r.result_hash[0], 0xAA);
		for (unsigned k = 0; k < 3; k++)
			cr_assert_eq(r.node_id[k], c[k].node_id);
		NO = 0;
	}
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_RESULTS_FORWARDED], 20);
	cr_assert_eq(S.pipe[FAII_PIPE_DISAGREEMENTS], 0);
}

/*
 * q_t and the demand the congestion term sees count node slots, not tasks:
 * five strong tasks (7 copies each) left unanswered hold 35 slots of tier 2,
 * and their key's demand is 35 copies per second. Counting tasks, both were
 * 5: a 7-replica task loaded the fleet 7 times but moved the price as one.
 */
Test(dataplane, queues_count_node_slots)
{
	const struct nspec *n = replica_fleet();
	struct faii_task c[FAII_REPLICAS_MAX];
	faii_appliance_measure(&T.a, 1.0); /* the counters' baseline */
	double rate0 =
	        T.a.pub.arrival_rate[faii_route_key_index(0, FAII_CAT_DAG_VALIDATION, RC_EU)];
	for (unsigned k = 0; k < 5; k++)
		dispatch_replicated(n, FAII_CONSISTENCY_STRONG, c);
	faii_appliance_measure(&T.a, 1.0);
	const struct faii_queue_state *qs = &T.a.queues;
	cr_assert_eq(qs->outstanding[1], 35.0, "outstanding %.0f slots", qs->outstanding[1]);
	double cap = 0;
	for (uint32_t i = 0; i < 12; i++)
		cap += atomic_load(&T.a.reg.live[i].limit);
	cr_assert_eq(qs->capacity[1], cap);
	double rate = T.a.pub.arrival_rate[faii_route_key_index(0, FAII_CAT_DAG_VALIDATION, RC_EU)];
	cr_assert_float_eq(rate,
	                   (1.0 - FAII_QUEUE_EWMA_WEIGHT) * rate0 + FAII_QUEUE_EWMA_WEIGHT * 35.0,
	                   1e-9, "key demand %.3f copies/s", rate);
	/* The class utilisation counts the same copies, over sigma of the class. */
	cr_assert_float_eq(qs->class_util[FAII_CLASS_MEDIUM], 35.0 / (12 * 1000.0), 1e-12);
	/* Answered copies give their slots back; their verified work moves the
	 * class-share price (33): all of it is M's, above s_bar. */
	cr_assert_eq(qs->class_price[FAII_CLASS_MEDIUM], 0.0);
	for (unsigned k = 0; k < 7; k++)
		send_result(0, &c[k], FAII_RESULT_OK, 0xAA);
	pump();
	faii_appliance_measure(&T.a, 1.0);
	cr_assert_eq(qs->outstanding[1], 28.0);
	cr_assert_eq(qs->class_share[FAII_CLASS_MEDIUM], 1.0);
	cr_assert_float_eq(qs->class_price[FAII_CLASS_MEDIUM],
	                   FAII_CLASS_PRICE_STEP * (1.0 - T.a.reg.cfg->policy.class_share_max),
	                   1e-12);
	/* The next solve charges it: route.explain and the tables agree. */
	struct faii_route_fleet fl;
	faii_publisher_fleet(&T.a.pub, &fl);
	cr_assert_eq(fl.class_price[FAII_CLASS_MEDIUM], qs->class_price[FAII_CLASS_MEDIUM]);
}

Test(dataplane, replicas_byzantine_minority_caught)
{
	const struct nspec *n = replica_fleet();
	struct faii_task c[FAII_REPLICAS_MAX];

	/* Session: the liar answers first. */
	uint64_t id = dispatch_replicated(n, FAII_CONSISTENCY_SESSION, c);
	uint32_t liar = c[2].node_id;
	uint64_t v_liar = verified(liar, 2), v0 = verified(c[0].node_id, 2),
	         v1 = verified(c[1].node_id, 2);
	send_result(0, &c[2], FAII_RESULT_OK, 0xBB);
	send_result(0, &c[0], FAII_RESULT_OK, 0xAA);
	send_result(0, &c[1], FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.result_hash[0], 0xAA, "the majority hash is forwarded");
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(T.a.evidence_received, 1);
	cr_assert_eq(T.a.evidence[0].node_id, liar);
	cr_assert_eq(T.a.evidence[0].task_id, id);
	cr_assert_eq(T.a.evidence[0].result_hash[0], 0xBB);
	cr_assert_eq(T.a.evidence[0].majority_hash[0], 0xAA);
	cr_assert_eq(verified(liar, 2), v_liar, "no verified work for the liar");
	cr_assert_eq(verified(c[0].node_id, 2), v0 + 1);
	cr_assert_eq(verified(c[1].node_id, 2), v1 + 1);
	cr_assert_eq(atomic_load(&T.a.reg.live[liar - 1].disagreed), 1);
	struct faii_receipt rc = take_receipt(0);
	cr_assert_eq(rc.task_id, id);
	cr_assert_eq(rc.verdict, FAII_RECEIPT_DISAGREED, "an outvoted copy");
	cr_assert_eq(rc.ok, 7);
	cr_assert_eq(rc.agreed, 3, "copies 0 and 1 agreed, the liar (copy 2) did not");
	cr_assert_eq(rc.node_id[2], liar);
	cr_assert_eq(rc.result_hash[0], 0xAA, "the majority's hash");

	/* Strong: 7 copies on 5 operators, two liars (one before the quorum,
	 * one after it). */
	NO = 0;
	id = dispatch_replicated(n, FAII_CONSISTENCY_STRONG, c);
	uint32_t bad[2] = {c[1].node_id, c[6].node_id};
	uint64_t v[FAII_REPLICAS_MAX];
	for (unsigned k = 0; k < 7; k++)
		v[k] = verified(c[k].node_id, 2);
	send_result(0, &c[1], FAII_RESULT_OK, 0xBB);
	for (unsigned k = 0; k < 7; k++) {
		if (k != 1 && k != 6)
			send_result(0, &c[k], FAII_RESULT_OK, 0xAA);
	}
	send_result(0, &c[6], FAII_RESULT_OK, 0xCC);
	pump();
	cr_assert_eq(NO, 1, "one answer for the strong task, got %u", NO);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.result_hash[0], 0xAA);
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(T.a.evidence_received, 3, "evidence for exactly the two liars");
	uint32_t e1 = T.a.evidence[1].node_id, e2 = T.a.evidence[2].node_id;
	cr_assert((e1 == bad[0] && e2 == bad[1]) || (e1 == bad[1] && e2 == bad[0]),
	          "evidence names %u and %u, liars are %u and %u", e1, e2, bad[0], bad[1]);
	for (unsigned k = 0; k < 7; k++) {
		bool liar_k = k == 1 || k == 6;
		cr_assert_eq(verified(c[k].node_id, 2), v[k] + (liar_k ? 0 : 1),
		             "replica %u (node %u)", k, c[k].node_id);
	}
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_DISAGREEMENTS], 3);
	cr_assert_eq(S.pipe[FAII_PIPE_RESULTS_FORWARDED], 2);
}

/*
 * Disagreement evidence reaches the ledger (issue 12: the evidence callback
 * was never assigned, so nothing could ever be slashed for a wrong answer):
 * a session set and a strong set with a liar each, the appliance's evidence
 * hook feeding the evidence log over a real ledger store, then faii-ledger
 * dump of the directory lists a replica_disagreement record per liar with
 * the task, the node, its digest, the majority's and the set.
 */
Test(dataplane, evidence_reaches_the_ledger)
{
	const struct nspec *n = replica_fleet();
	char dir[] = "/tmp/faii-dpt-evidence-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct faii_ls_options opt = {.dir = dir, .segment_size_bytes = 4u << 20};
	struct faii_ls *ls = NULL;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_open(&opt, &ls, err), 0, "%s", err);
	static struct faii_evidence_log log;
	cr_assert_eq(faii_evidence_log_start(&log, ls, err, sizeof(err)), 0, "%s", err);
	T.a.on_evidence = faii_evidence_log_record;
	T.a.on_evidence_ctx = &log;

	struct faii_task c[FAII_REPLICAS_MAX];
	uint64_t session = dispatch_replicated(n, FAII_CONSISTENCY_SESSION, c);
	uint32_t liar = c[2].node_id;
	send_result(0, &c[2], FAII_RESULT_OK, 0xBB);
	send_result(0, &c[0], FAII_RESULT_OK, 0xAA);
	send_result(0, &c[1], FAII_RESULT_OK, 0xAA);
	pump();
	uint64_t strong = dispatch_replicated(n, FAII_CONSISTENCY_STRONG, c);
	uint32_t strong_liar = c[4].node_id;
	for (unsigned k = 0; k < 7; k++)
		send_result(0, &c[k], FAII_RESULT_OK, k == 4 ? 0xCC : 0xAA);
	pump();
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(T.a.evidence_received, 2);
	T.a.on_evidence = NULL;
	faii_evidence_log_stop(&log);
	cr_assert_eq(atomic_load(&log.queued), 2);
	cr_assert_eq(atomic_load(&log.appended), 2);
	cr_assert_eq(atomic_load(&log.dropped) + atomic_load(&log.failed), 0);
	faii_ls_close(ls);

	char cmd[256], line[1024], want[2][160];
	snprintf(cmd, sizeof(cmd), "%s dump %s", FAII_LEDGER_TOOL, dir);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	unsigned found = 0;
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strstr(line, "type replica_disagreement") == NULL)
			continue;
		snprintf(want[0], sizeof(want[0]),
		         " task %" PRIu64 " node %u replica 2/3 tier 2 result bbbbbbbbbbbbbbbb "
		         "majority aaaaaaaaaaaaaaaa set",
		         session, liar);
		snprintf(want[1], sizeof(want[1]),
		         " task %" PRIu64 " node %u replica 4/7 tier 2 result cccccccccccccccc "
		         "majority aaaaaaaaaaaaaaaa set",
		         strong, strong_liar);
		bool is0 = strstr(line, want[0]) != NULL, is1 = strstr(line, want[1]) != NULL;
		cr_assert(is0 || is1, "unexpected evidence: %s", line);
		found += is0 ? 1u : 2u;
		char mine[32];
		snprintf(mine, sizeof(mine), " %u:%s", is0 ? liar : strong_liar,
		         is0 ? "bbbbbbbbbbbbbbbb" : "cccccccccccccccc");
		cr_assert(strstr(line, mine) != NULL, "the set lacks the liar's digest: %s", line);
	}
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(found, 3u, "faii-ledger dump lists both disagreements (%u)", found);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(dataplane, replicas_no_quorum_answered)
{
	const struct nspec *n = replica_fleet();
	struct faii_task c[FAII_REPLICAS_MAX];
	uint64_t id = dispatch_replicated(n, FAII_CONSISTENCY_SESSION, c);
	uint64_t v[3];
	for (unsigned k = 0; k < 3; k++)
		v[k] = verified(c[k].node_id, 2);
	send_result(0, &c[0], FAII_RESULT_OK, 0xAA);
	send_result(0, &c[1], FAII_RESULT_OK, 0xBB);
	pump();
	cr_assert_eq(NO, 0, "no answer before the last replica");
	send_result(0, &c[2], FAII_RESULT_OK, 0xCC);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_NO_QUORUM);
	for (unsigned k = 0; k < 3; k++)
		cr_assert_eq(verified(c[k].node_id, 2), v[k], "nothing verified without quorum");
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_NO_QUORUM], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_RESULTS_FORWARDED], 0);
	struct faii_receipt r = take_receipt(0);
	no_receipt_left(0);
	cr_assert_eq(r.task_id, id);
	cr_assert_eq(r.verdict, FAII_RECEIPT_DISAGREED);
	cr_assert_eq(r.status, FAII_RESULT_NO_QUORUM);
	cr_assert(r.answered == 7 && r.ok == 7 && r.agreed == 0);
	static const uint8_t zero[FAII_HASH_SIZE];
	cr_assert_eq(memcmp(r.result_hash, zero, sizeof(zero)), 0, "no hash won");
	NO = 0;
	pump_for_us(5000);
	cr_assert_eq(NO, 0, "nothing after the error answer");
}

/* ------------------------------------------------------------------------ */
/* 4. Timeouts: re-dispatch once, then TIMEOUT.                              */

#define TIMEOUT_BUDGET_US 5000u

/* Polls up to 500 ms until something is transmitted. */
static void pump_until_output(void)
{
	for (unsigned i = 0; i < 5000 && NO == 0; i++) {
		rte_delay_us(100);
		pump();
	}
}

static void timeout_fleet(void)
{
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 2));
}

Test(dataplane, timeout_redispatch_answered)
{
	timeout_fleet();
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, TIMEOUT_BUDGET_US);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	struct faii_task first = O[0].task;
	NO = 0;
	pump_until_output(); /* the first node stays silent */
	cr_assert_eq(NO, 1, "one re-dispatch, got %u frames", NO);
	struct faii_task second = O[0].task;
	cr_assert(is_task_copy_to(&O[0], second.node_id));
	cr_assert_eq(second.task_id, id);
	cr_assert_eq(second.attempt, 1);
	cr_assert_neq(second.node_id, first.node_id, "re-dispatched to another node");
	cr_assert_neq(second.dispatch_ts_ns, first.dispatch_ts_ns);
	/* The silent node's late answer no longer counts. */
	NO = 0;
	send_result(0, &first, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 0);
	send_result(0, &second, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_OK);
	NO = 0;
	pump_for_us(3 * TIMEOUT_BUDGET_US);
	cr_assert_eq(NO, 0, "nothing more after the answer");
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_REDISPATCHED], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_TIMEOUTS], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_TIMED_OUT_TASKS], 0);
	cr_assert_eq(S.pipe[FAII_PIPE_RESULT_WRONG_NODE], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_COPIES_SENT], 2);
	/* One receipt, naming the node of the copy's last attempt. */
	struct faii_receipt r = take_receipt(0);
	no_receipt_left(0);
	cr_assert_eq(r.task_id, id);
	cr_assert_eq(r.verdict, FAII_RECEIPT_SINGLE);
	cr_assert_eq(r.node_id[0], second.node_id);
	cr_assert(r.answered == 1 && r.ok == 1 && r.agreed == 1);
	cr_assert_eq(r.result_hash[0], 0xAA);
	cr_assert_gt(r.latency_us, 0);
	cr_assert_eq(atomic_load(&T.a.reg.live[first.node_id - 1].outstanding), 0u);
	cr_assert_eq(atomic_load(&T.a.reg.live[second.node_id - 1].outstanding), 0u);
}

Test(dataplane, timeout_both_silent)
{
	timeout_fleet();
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, TIMEOUT_BUDGET_US);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	uint32_t n1 = O[0].task.node_id;
	NO = 0;
	pump_until_output();
	cr_assert_eq(NO, 1);
	cr_assert_eq(O[0].type, FAII_MSG_TASK);
	cr_assert_eq(O[0].task.attempt, 1);
	uint32_t n2 = O[0].task.node_id;
	cr_assert_neq(n1, n2);
	NO = 0;
	pump_until_output();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_TIMEOUT);
	NO = 0;
	pump_for_us(5 * TIMEOUT_BUDGET_US);
	cr_assert_eq(NO, 0, "exactly one TIMEOUT answer and no third copy");
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_REDISPATCHED], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_TIMEOUTS], 2);
	cr_assert_eq(S.pipe[FAII_PIPE_TIMED_OUT_TASKS], 1);
	cr_assert_eq(atomic_load(&T.a.reg.live[n1 - 1].outstanding), 0u);
	cr_assert_eq(atomic_load(&T.a.reg.live[n2 - 1].outstanding), 0u);
	cr_assert_eq(atomic_load(&T.a.reg.live[n1 - 1].failed), 1u);
	cr_assert_eq(atomic_load(&T.a.reg.live[n2 - 1].failed), 1u);
	struct faii_receipt r = take_receipt(0);
	no_receipt_left(0);
	cr_assert_eq(r.task_id, id);
	cr_assert_eq(r.verdict, FAII_RECEIPT_EXPIRED);
	cr_assert_eq(r.status, FAII_RESULT_TIMEOUT);
	cr_assert(r.answered == 0 && r.ok == 0 && r.agreed == 0);
	cr_assert_eq(r.node_id[0], n2);
	cr_assert_geq(r.latency_us, 2 * TIMEOUT_BUDGET_US, "two budgets waited");
}

/* ------------------------------------------------------------------------ */
/* 5. Refusals and drops, each counted.                                     */

static void two_node_fleet(void)
{
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 2));
}

Test(dataplane, replay_and_expiry_refused)
{
	two_node_fleet();
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	struct faii_task copy = O[0].task;
	/* The same id again while in flight, then after it was answered. */
	struct faii_task again = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	again.task_id = id;
	send_task(0, &again);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0, "a replay is not dispatched");
	send_result(0, &copy, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	again.submit_ts_ns = 0;
	send_task(0, &again);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_TASK_REPLAY], 2);

	/* Older than its budget, and from too far in the future. */
	struct faii_task old = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 5000);
	old.submit_ts_ns = now_ns() - 20000000ull;
	send_task(0, &old);
	struct faii_task ahead = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 5000);
	ahead.submit_ts_ns = now_ns() + 1000000000ull;
	send_task(0, &ahead);
	pump();
	/* Not dispatched: each is answered "refused" to its client instead. */
	cr_assert_eq(NO, 2, "expired tasks are answered, not dispatched");
	for (unsigned i = 0; i < 2; i++) {
		cr_assert(is_client_result(&O[i]));
		cr_assert_eq(O[i].result.status, FAII_RESULT_REFUSED);
	}
	cr_assert(O[0].result.task_id == old.task_id || O[1].result.task_id == old.task_id);
	cr_assert(O[0].result.task_id == ahead.task_id || O[1].result.task_id == ahead.task_id);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_TASK_EXPIRED], 2);
	cr_assert_eq(S.pipe[FAII_PIPE_TASKS_DISPATCHED], 1);
}

Test(dataplane, no_feasible_node_answered)
{
	two_node_fleet();
	/* US-only: no node is allowed, the key's table is empty. */
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_US, 1000000);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_NO_FEASIBLE_NODE);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_NO_FEASIBLE], 1);
	/* A region the configuration does not know. */
	struct faii_task u = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	u.origin_region = 999;
	id = send_task(0, &u);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.status, FAII_RESULT_NO_FEASIBLE_NODE);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_TASK_UNKNOWN_KEY], 1);
	cr_assert_eq(S.pipe[FAII_PIPE_ANSWERS], 2);
}

/* One malformed frame: how to break a valid task, and the drop it earns. */
struct bad_case {
	enum faii_drop reason;
	void (*task)(struct faii_task *t); /* field-level, before encoding */
	int msg_off, frame_off;            /* byte-level, after framing; -1: none */
	uint8_t value;
	size_t msg_len; /* 0: as encoded */
	uint16_t dst_port;
};

static void bad_category(struct faii_task *t)
{
	t->category = 9;
}
static void bad_tier(struct faii_task *t)
{
	t->tier = 0;
}
static void tier_mismatch(struct faii_task *t)
{
	t->tier = 1;
}
static void bad_consistency(struct faii_task *t)
{
	t->consistency = 3;
}
static void bad_replica(struct faii_task *t)
{
	t->replica_index = 1;
}
static void bad_attempt(struct faii_task *t)
{
	t->attempt = 2;
}
static void bad_class(struct faii_task *t)
{
	t->residency_class = 0;
}
static void bad_region(struct faii_task *t)
{
	t->origin_region = 0;
}
static void bad_reputation(struct faii_task *t)
{
	t->min_reputation_milli = 1001;
}
static void bad_budget(struct faii_task *t)
{
	t->latency_budget_us = 0;
}
static void bad_dispatch(struct faii_task *t)
{
	t->node_id = 5;
}
static void bad_reserved(struct faii_task *t)
{
	t->reserved[1] = 1;
}

Test(dataplane, malformed_counted_per_reason)
{
	two_node_fleet();
	const struct bad_case cases[] = {
	        {FAII_DROP_BAD_MAGIC, NULL, 0, -1, 0x12, 0, 0},
	        {FAII_DROP_BAD_VERSION, NULL, 2, -1, 3, 0, 0},
	        {FAII_DROP_UNKNOWN_TYPE, NULL, 3, -1, 9, 0, 0},
	        {FAII_DROP_BAD_FLAGS, NULL, 6, -1, 0x80, 0, 0},
	        {FAII_DROP_RESERVED_NONZERO, NULL, 7, -1, 1, 0, 0},
	        {FAII_DROP_TOO_SHORT, NULL, -1, -1, 0, 6, 0},
	        {FAII_DROP_UNKNOWN_CATEGORY, bad_category, -1, -1, 0, 0, 0},
	        {FAII_DROP_UNKNOWN_TIER, bad_tier, -1, -1, 0, 0, 0},
	        {FAII_DROP_TIER_MISMATCH, tier_mismatch, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_CONSISTENCY, bad_consistency, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_REPLICA, bad_replica, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_ATTEMPT, bad_attempt, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_RESIDENCY_CLASS, bad_class, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_REGION, bad_region, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_REPUTATION, bad_reputation, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_BUDGET, bad_budget, -1, -1, 0, 0, 0},
	        {FAII_DROP_BAD_DISPATCH, bad_dispatch, -1, -1, 0, 0, 0},
	        {FAII_DROP_RESERVED_NONZERO, bad_reserved, -1, -1, 0, 0, 0},
	        {FAII_DROP_NOT_IP, NULL, -1, 13, 0x06, 0, 0}, /* ethertype 0x0806 */
	        {FAII_DROP_BAD_IP_HEADER, NULL, -1, 14, 0x55, 0, 0},
	        {FAII_DROP_IP_FRAGMENT, NULL, -1, 20, 0x60, 0, 0}, /* DF + MF */
	        {FAII_DROP_NOT_UDP, NULL, -1, 23, 6, 0, 0},
	        {FAII_DROP_BAD_UDP_LENGTH, NULL, -1, 39, 0x00, 0, 0},
	        {FAII_DROP_WRONG_PORT, NULL, -1, -1, 0, 0, 9999},
	};
	uint64_t expect[FAII_DROP_COUNT] = {0};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
		t.task_id = T.next_id++;
		t.submit_ts_ns = now_ns();
		if (c->task)
			c->task(&t);
		uint8_t msg[FAII_MSG_SIZE_MAX];
		size_t len = faii_encode_task(msg, sizeof(msg), &t, NULL);
		cr_assert_gt(len, 0u);
		if (c->msg_off >= 0)
			msg[c->msg_off] = c->value;
		struct faii_frame_spec s = client_spec();
		if (c->dst_port)
			s.dst_port = c->dst_port;
		uint8_t *frame = inject(0, &s, msg, c->msg_len ? c->msg_len : len);
		if (c->frame_off >= 0)
			frame[c->frame_off] = c->value;
		NO = 0;
		pump();
		expect[c->reason]++;
		stats();
		cr_assert_eq(NO, 0, "case %u: a malformed frame produced output", i);
		cr_assert_eq(S.drops[c->reason], expect[c->reason], "case %u: %s counted %" PRIu64,
		             i, faii_drop_name(c->reason), S.drops[c->reason]);
	}
	uint64_t dropped = 0;
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++)
		dropped += S.drops[r];
	cr_assert_eq(dropped, sizeof(cases) / sizeof(cases[0]), "each frame counted once");

	/* A client TASK claiming to be dispatched is valid on the wire but
	 * refused: only the appliance dispatches. */
	struct faii_task d = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	d.task_id = T.next_id++;
	d.submit_ts_ns = d.dispatch_ts_ns = now_ns();
	d.node_id = 1;
	uint8_t msg[FAII_MSG_SIZE_MAX];
	size_t len = faii_encode_task(msg, sizeof(msg), &d, NULL);
	msg[6] = FAII_F_DISPATCHED;
	struct faii_frame_spec s = client_spec();
	inject(0, &s, msg, len);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_TASK_DISPATCHED_FLAG], 1);
}

/* ------------------------------------------------------------------------ */
/* 6. A registry change while traffic flows loses and duplicates no task.   */

#define CHURN_BATCHES 600u
#define CHURN_BATCH   16u

Test(dataplane, registry_change_under_traffic)
{
	struct nspec n[4] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH"),
	                     node("M", "d", "CH")};
	n[0].price = 0.85;
	tb_setup(1, 1, fleet(NULL, n, 4));
	static uint8_t copies[CHURN_BATCHES * CHURN_BATCH], answers[CHURN_BATCHES * CHURN_BATCH];
	static struct faii_task pending[2 * CHURN_BATCH * 2];
	unsigned npending = 0;
	uint64_t first = T.next_id;
	uint64_t to_node1_while_out = 0, to_node1_active = 0;
	bool node1_out = false;
	for (unsigned b = 0; b <= CHURN_BATCHES; b++) {
		/* Registry changes between bursts, copies still outstanding. */
		if (b == 100 || b == 400) {
			cr_assert_eq(faii_registry_set_status(&T.a.reg, 0, FAII_NODE_DRAINING), 0);
			node1_out = true;
		}
		if (b == 200 || b == 500)
			cr_assert_eq(faii_appliance_publish(&T.a), 0);
		if (b == 300 || b == 550) {
			cr_assert_eq(faii_registry_set_status(&T.a.reg, 0, FAII_NODE_ACTIVE), 0);
			node1_out = false;
		}
		if (b == 350)
			cr_assert_eq(faii_registry_set_status(&T.a.reg, 1, FAII_NODE_QUARANTINED),
			             0);
		if (b == 450) {
			cr_assert_eq(faii_registry_set_status(&T.a.reg, 1, FAII_NODE_ACTIVE), 0);
			cr_assert_eq(faii_appliance_publish(&T.a), 0);
		}
		/* The previous burst's copies answer now, with this burst. */
		for (unsigned i = 0; i < npending; i++)
			send_result(0, &pending[i], FAII_RESULT_OK, 0xAA);
		npending = 0;
		if (b < CHURN_BATCHES) {
			for (unsigned i = 0; i < CHURN_BATCH; i++) {
				struct faii_task t =
				        task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 2000000);
				send_task(0, &t);
			}
		}
		NO = 0;
		pump();
		for (unsigned i = 0; i < NO; i++) {
			const struct out *o = &O[i];
			if (o->type == FAII_MSG_TASK) {
				cr_assert(is_task_copy_to(o, o->task.node_id));
				uint64_t k = o->task.task_id - first;
				cr_assert_lt(k, CHURN_BATCHES * CHURN_BATCH);
				copies[k]++;
				if (o->task.node_id == 1) {
					to_node1_while_out += node1_out;
					to_node1_active += !node1_out;
				}
				cr_assert_lt(npending, sizeof(pending) / sizeof(pending[0]));
				pending[npending++] = o->task;
			} else {
				cr_assert(is_client_result(o));
				cr_assert_eq(o->result.status, FAII_RESULT_OK,
				             "task %" PRIu64 " status %u", o->result.task_id,
				             o->result.status);
				uint64_t k = o->result.task_id - first;
				cr_assert_lt(k, CHURN_BATCHES * CHURN_BATCH);
				answers[k]++;
			}
		}
	}
	cr_assert_eq(npending, 0u);
	for (unsigned k = 0; k < CHURN_BATCHES * CHURN_BATCH; k++) {
		cr_assert_eq(copies[k], 1, "task %u sent to %u nodes", k, copies[k]);
		cr_assert_eq(answers[k], 1, "task %u answered %u times", k, answers[k]);
	}
	cr_assert_eq(to_node1_while_out, 0, "a drained node got %" PRIu64 " new tasks",
	             to_node1_while_out);
	cr_assert_gt(to_node1_active, 0);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_RESULTS_FORWARDED], CHURN_BATCHES * CHURN_BATCH);
	cr_assert_eq(S.pipe[FAII_PIPE_TIMEOUTS], 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(atomic_load(&T.a.reg.live[i].outstanding), 0u);
}

/* ------------------------------------------------------------------------ */
/* 7. Two workers route like one; tasks stay with their owner.              */

#define DIST_TASKS 100000u

/* The owner of a task id: dataplane/pipeline.c's owner_of(). */
static unsigned owner(uint64_t id, unsigned workers)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 32) % workers;
}

_Static_assert(DIST_TASKS < FAII_DISPATCH_ENTRIES, "the run fits one worker's table");

static void dist_run(unsigned workers, uint64_t *per)
{
	uint64_t handoff[QUEUES_MAX] = {0}, owned[QUEUES_MAX] = {0};
	for (unsigned i = 0; i < DIST_TASKS; i++) {
		unsigned q = i % workers, rq = (i + 1) % workers;
		/* 2 s: finished records stay for their replay window, so every
		 * task of the run stays in the dispatch table (DIST_TASKS fit one
		 * worker's FAII_DISPATCH_ENTRIES), whatever the loop's rate, and a
		 * test process preempted on a loaded machine never sees its task
		 * expire between sending it and pumping (50 ms did, at a load
		 * average of 13). */
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 2000000);
		uint64_t id = send_task(q, &t);
		unsigned own = owner(id, workers);
		owned[own]++;
		handoff[q] += own != q;
		handoff[rq] += own != rq;
		NO = 0;
		pump();
		cr_assert_eq(NO, 1);
		cr_assert_eq(O[0].queue, own, "task %" PRIu64 " dispatched off its owner", id);
		struct faii_task copy = O[0].task;
		per[copy.node_id]++;
		NO = 0;
		send_result(rq, &copy, FAII_RESULT_OK, 0xAA);
		pump();
		if (NO != 1)
			dump_stats();
		cr_assert_eq(NO, 1, "workers %u task %u: %u frames", workers, i, NO);
		cr_assert(is_client_result(&O[0]));
		cr_assert_eq(O[0].queue, own, "result of %" PRIu64 " handled off its owner", id);
	}
	for (unsigned w = 0; w < workers; w++) {
		const struct faii_worker_stats *ws = &T.a.workers[w].stats;
		cr_assert_eq(ws->pipe[FAII_PIPE_TASKS_DISPATCHED], owned[w]);
		cr_assert_eq(ws->pipe[FAII_PIPE_RESULTS_FORWARDED], owned[w]);
		cr_assert_eq(ws->pipe[FAII_PIPE_HANDOFF_OUT], workers > 1 ? handoff[w] : 0);
		cr_assert_eq(ws->pipe[FAII_PIPE_HANDOFF_FULL], 0);
		if (workers > 1)
			cr_assert_gt(owned[w], DIST_TASKS / 4, "worker %u owns %" PRIu64, w,
			             owned[w]);
	}
}

Test(dataplane, two_workers_route_like_one, .timeout = 600)
{
	struct nspec n[6] = {node("M", "a", "CH"), node("M", "b", "CH"), node("L", "c", "DE"),
	                     node("S", "d", "FR"), node("M", "e", "DE"), node("M", "f", "CH")};
	n[0].price = 0.85, n[1].price = 0.9, n[4].price = 1.1, n[5].price = 1.15;
	eal_up();
	port_up(2);
	uint64_t one[NODES_MAX + 1] = {0}, two[NODES_MAX + 1] = {0};
	appliance_up(fleet(NULL, n, 6), 1);
	dist_run(1, one);
	faii_appliance_fini(&T.a);
	T.up = false;
	appliance_up(fleet(NULL, n, 6), 2);
	dist_run(2, two);
	/* Chi-square test of homogeneity, 2 x 6, df 5: 25.74 at p = 1e-4. */
	double chi2 = 0, N1 = (double)total(one), N2 = (double)total(two);
	for (unsigned id = 1; id <= 6; id++) {
		double col = (double)(one[id] + two[id]);
		double e1 = col * N1 / (N1 + N2), e2 = col * N2 / (N1 + N2);
		cr_assert_gt(col, 1000.0, "node %u carries little (%f)", id, col);
		chi2 += ((double)one[id] - e1) * ((double)one[id] - e1) / e1 +
		        ((double)two[id] - e2) * ((double)two[id] - e2) / e2;
		fprintf(stderr, "workers: node %u one %.5f two %.5f\n", id, (double)one[id] / N1,
		        (double)two[id] / N2);
	}
	fprintf(stderr, "workers: chi-square %.2f (df 5, critical 25.74 at p = 1e-4)\n", chi2);
	cr_assert_lt(chi2, 25.74, "two workers route differently from one: chi2 %.2f", chi2);
}

/* ------------------------------------------------------------------------ */
/* 8. HEARTBEAT / ATTEST / REGISTER go to the control thread.               */

static void send_signed(uint32_t signer, void *msg, size_t len, bool corrupt, uint32_t from)
{
	uint8_t pk[FAII_PUBKEY_SIZE], sk[64];
	faii_demo_node_keypair(signer, pk, sk);
	cr_assert_eq(faii_msg_sign(msg, len, sk), 0);
	if (corrupt)
		((uint8_t *)msg)[len - 1] ^= 0x01;
	struct faii_frame_spec s = node_spec(from);
	inject(0, &s, msg, len);
}

static size_t heartbeat(uint8_t *msg, uint32_t node_id, uint32_t seq, uint32_t load)
{
	struct faii_heartbeat hb;
	memset(&hb, 0, sizeof(hb));
	hb.node_id = node_id;
	hb.seq = seq;
	hb.timestamp_ns = now_ns();
	hb.uptime_s = 100;
	hb.load_permille = load;
	size_t len = faii_encode_heartbeat(msg, FAII_MSG_SIZE_MAX, &hb);
	cr_assert_gt(len, 0u);
	return len;
}

Test(dataplane, slow_path_signatures)
{
	two_node_fleet();
	struct faii_registry *reg = &T.a.reg;
	cr_assert_eq(atomic_load(&reg->live[0].limit), 250u); /* 1000/s * 0.25 s */
	uint8_t msg[FAII_MSG_SIZE_MAX];

	/* Correctly signed, 50 % load: accepted, L_i halves. */
	size_t len = heartbeat(msg, 1, 1, 500);
	send_signed(1, msg, len, false, 1);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0, "the slow path transmits nothing");
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_SLOW_PUNTED], 1);
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(reg->slow[FAII_SLOW_ACCEPTED][FAII_MSG_HEARTBEAT], 1);
	cr_assert_eq(atomic_load(&reg->live[0].limit), 125u);

	/* A broken signature, and node 2's key on node 1's heartbeat: refused,
	 * the 0 % load they claim is not applied. */
	len = heartbeat(msg, 1, 2, 0);
	send_signed(1, msg, len, true, 1);
	len = heartbeat(msg, 1, 3, 0);
	send_signed(2, msg, len, false, 2);
	/* A replay of an accepted sequence number. */
	len = heartbeat(msg, 1, 1, 0);
	send_signed(1, msg, len, false, 1);
	pump();
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(reg->slow[FAII_SLOW_BAD_SIGNATURE][FAII_MSG_HEARTBEAT], 2);
	cr_assert_eq(reg->slow[FAII_SLOW_STALE_SEQUENCE][FAII_MSG_HEARTBEAT], 1);
	cr_assert_eq(reg->slow[FAII_SLOW_ACCEPTED][FAII_MSG_HEARTBEAT], 1);
	cr_assert_eq(atomic_load(&reg->live[0].limit), 125u);

	/* ATTEST: the ESG vector changes. */
	struct faii_attest at;
	memset(&at, 0, sizeof(at));
	at.node_id = 2;
	at.seq = 1;
	at.timestamp_ns = now_ns();
	at.meter_id = 9;
	at.interval_start_s = now_ns() / 1000000000ull - 60;
	at.interval_s = 60;
	at.energy_wh = 100;
	at.pue_milli = 1100;
	at.energy_to_work_milli = 900;
	at.grid_stress_permille = 200;
	at.source_mix_permille[FAII_SRC_WIND] = 700;
	at.source_mix_permille[FAII_SRC_NONRENEWABLE] = 300;
	len = faii_encode_attest(msg, sizeof(msg), &at);
	cr_assert_gt(len, 0u);
	send_signed(2, msg, len, false, 2);
	/* REGISTER under the node's registered key: the price changes. */
	uint8_t pk[FAII_PUBKEY_SIZE], sk[64];
	faii_demo_node_keypair(2, pk, sk);
	struct faii_register rg;
	memset(&rg, 0, sizeof(rg));
	rg.node_id = 2;
	rg.operator_id = 2;
	rg.asn = 64600;
	rg.capacity_tasks_per_s = 1000;
	rg.price_micro = 1010000;
	rg.region = REG_ZURICH;
	rg.node_class = FAII_CLASS_MEDIUM;
	rg.eligibility = FAII_ELIGIBILITY_MASK;
	rg.country[0] = 'C', rg.country[1] = 'H';
	rg.addr_family = FAII_ADDR_IPV4;
	put_ip(rg.addr, NODE_NET + 2);
	rg.udp_port = NODE_PORT0 + 2;
	rg.timestamp_ns = now_ns();
	memcpy(rg.public_key, pk, sizeof(pk));
	len = faii_encode_register(msg, sizeof(msg), &rg);
	cr_assert_gt(len, 0u);
	send_signed(2, msg, len, false, 2);
	pump();
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(reg->slow[FAII_SLOW_ACCEPTED][FAII_MSG_ATTEST], 1);
	cr_assert_eq(reg->slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER], 1);
	cr_assert_float_eq(reg->cfg->nodes[1].esg.pue, 1.1, 1e-9);
	cr_assert_float_eq(reg->cfg->nodes[1].esg.source_mix[FAII_SRC_WIND], 0.7, 1e-9);
	cr_assert_float_eq(reg->cfg->nodes[1].price, 1.01, 1e-9);
	stats();
	cr_assert_eq(S.pipe[FAII_PIPE_SLOW_PUNTED], 6);
	cr_assert_eq(T.a.slow_processed, 6);

	/* Replays: the same REGISTER again (an old price: refused, REGISTER is
	 * ordered by its timestamp), and a correctly signed heartbeat whose
	 * timestamp is an hour old (refused whatever its sequence number). */
	uint8_t replay[FAII_MSG_SIZE_MAX];
	len = faii_encode_register(replay, sizeof(replay), &rg);
	send_signed(2, replay, len, false, 2);
	struct faii_heartbeat hb;
	memset(&hb, 0, sizeof(hb));
	hb.node_id = 1;
	hb.seq = 1000;
	hb.timestamp_ns = now_ns() - 3600ull * 1000000000ull;
	hb.uptime_s = 1;
	len = faii_encode_heartbeat(replay, sizeof(replay), &hb);
	send_signed(1, replay, len, false, 1);
	pump();
	faii_appliance_drain_slow(&T.a);
	cr_assert_eq(reg->slow[FAII_SLOW_STALE_SEQUENCE][FAII_MSG_REGISTER], 1);
	cr_assert_eq(reg->slow[FAII_SLOW_STALE_TIMESTAMP][FAII_MSG_HEARTBEAT], 1);
	cr_assert_eq(reg->slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER], 1);
	cr_assert_eq(reg->signals[0].heartbeat_seq, 1, "the old heartbeat changed nothing");
}

/*
 * Stale signals: with appliance.heartbeat_stale_s = 1, a node silent for
 * longer is excluded (route explain's reason heartbeat_stale) and gets no
 * task, while a node that keeps sending heartbeats keeps its share; heard
 * again, the silent node is back at the next publish. With attest_stale_s,
 * an old attestation puts the node's ESG at the floor: its preference, and
 * so its share, falls.
 */
Test(dataplane, stale_heartbeat_excludes_stale_attestation_demotes)
{
	static const char ages[] = "appliance:\n  heartbeat_stale_s: 1\n";
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(ages, n, 2));
	uint8_t msg[FAII_MSG_SIZE_MAX];
	uint32_t seq = 1;
	/* Node 2 speaks every 100 ms for 1.5 s; node 1 says nothing. */
	for (unsigned k = 0; k < 15; k++) {
		size_t len = heartbeat(msg, 2, seq++, 0);
		send_signed(2, msg, len, false, 2);
		pump();
		faii_appliance_drain_slow(&T.a);
		rte_delay_us_sleep(100000);
	}
	faii_appliance_publish(&T.a);
	cr_assert(T.a.reg.state[0].stale_heartbeat, "node 1 is stale after 1.5 s of silence");
	cr_assert(!T.a.reg.state[1].stale_heartbeat);
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	uint64_t per_node[NODES_MAX + 1] = {0};
	run_tasks(&tpl, 200, 10, per_node);
	cr_expect_eq(per_node[1], 0, "a stale node gets no task");
	cr_expect_eq(per_node[2], 200);
	/* Heard again: back in the tables. */
	size_t len = heartbeat(msg, 1, 1, 0);
	send_signed(1, msg, len, false, 1);
	pump();
	faii_appliance_drain_slow(&T.a);
	faii_appliance_publish(&T.a);
	cr_assert(!T.a.reg.state[0].stale_heartbeat);
	memset(per_node, 0, sizeof(per_node));
	run_tasks(&tpl, 400, 10, per_node);
	cr_expect_gt(per_node[1], 50, "node 1 routes again once heard");
}

/*
 * The registry reads time through its struct faii_clock (the simulation
 * seam): with a clock that only moves when the test moves it, a silent node
 * turns stale after two "seconds" that never pass on the wall, and the route
 * set carries the clock's time.
 */
static uint64_t manual_now_ns;
static uint64_t manual_realtime_ns(const struct faii_clock *clock)
{
	(void)clock;
	return manual_now_ns;
}

Test(dataplane, registry_reads_time_from_its_clock)
{
	static const char ages[] = "appliance:\n  heartbeat_stale_s: 1\n";
	struct nspec n[1] = {node("M", "a", "CH")};
	tb_setup(1, 1, fleet(ages, n, 1));
	const struct faii_clock manual = {.realtime_ns = manual_realtime_ns,
	                                  .monotonic_ns = manual_realtime_ns};
	manual_now_ns = T.a.reg.start_ns;
	T.a.reg.clock = &manual;
	faii_appliance_publish(&T.a);
	cr_assert(!T.a.reg.state[0].stale_heartbeat, "no time has passed");
	cr_assert_eq(faii_publisher_current(&T.a.pub)->published_ns, manual_now_ns);
	manual_now_ns += 2 * FAII_NS_PER_S;
	faii_appliance_publish(&T.a);
	cr_assert(T.a.reg.state[0].stale_heartbeat, "stale after two simulated seconds");
	cr_assert_eq(faii_publisher_current(&T.a.pub)->published_ns, manual_now_ns);
	T.a.reg.clock = &faii_clock_system;
}

Test(dataplane, stale_attestation_scores_at_the_esg_floor)
{
	static const char ages[] =
	        "appliance:\n  attest_stale_s: 1\n"
	        "policy:\n  tiers:\n    2: {operator_cap: 0.95, operators_min: 1}\n";
	/* Two equal nodes but node 1 is greener: it leads while its
	 * attestation (the configuration) is fresh. */
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	n[0].solar = 0.9;
	n[1].solar = 0.5;
	tb_setup(1, 1, fleet(ages, n, 2));
	const struct faii_route_dp_table *t = table_of(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY);
	cr_assert_not_null(t);
	float fresh = 0;
	for (unsigned k = 0; k < t->count; k++)
		fresh = t->cand[k].node_id == 1 ? t->share[k] : fresh;
	cr_assert_gt(fresh, 0.5f, "the greener node leads (%f)", (double)fresh);
	rte_delay_us_sleep(1300000);
	faii_appliance_publish(&T.a);
	cr_assert(T.a.reg.state[0].stale_attest && T.a.reg.state[1].stale_attest);
	/* Both stale: both at the floor, no longer told apart by renewables. */
	t = table_of(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY);
	float stale = 0;
	for (unsigned k = 0; k < t->count; k++)
		stale = t->cand[k].node_id == 1 ? t->share[k] : stale;
	cr_expect_lt(stale, fresh - 0.02f, "stale: %f, fresh: %f", (double)stale, (double)fresh);
	cr_expect_float_eq(stale, 0.5f, 0.02f, "equal at the floor: %f", (double)stale);
}

/*
 * The residency program itself at the hook (issue: one object, three attach
 * points), here with every node on the appliance's own port: faiid loads
 * ebpf/residency.bpf.o into rte_bpf. The cheapest, greenest node sits in the US; CH-only tasks,
 * replicas and re-dispatches included, never reach it, and the program
 * judged every copy. Then the program's policy alone moves node 2 to the US
 * (as if the tables lagged a change): the program refuses its copies, the
 * dataplane sends them elsewhere, and the refusals come out as events.
 */
Test(dataplane, residency_program_judges_every_copy)
{
	node_port_override = UDP_PORT;
	struct nspec n[9];
	static const char *const ops[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
	for (unsigned i = 0; i < 9; i++)
		n[i] = node("M", ops[i], i == 0 ? "US" : "CH");
	n[0].price = 0.85, n[0].solar = 0.95;
	tb_setup(1, 1, fleet(NULL, n, 9));
	cr_assert(faii_res_rte_has_bpf(T.a.residency_rte), "the program is not loaded: %s",
	          T.a.residency_mode);
	cr_assert_not_null(strstr(T.a.residency_mode, "rte_bpf"));

	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, 300, 16, per);
	uint64_t copies = total(per);
	for (uint8_t cons = FAII_CONSISTENCY_SESSION; cons <= FAII_CONSISTENCY_STRONG; cons++) {
		unsigned want = faii_consistency_replicas(cons);
		for (unsigned k = 0; k < 20; k++) {
			struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 1000000);
			t.consistency = cons;
			send_task(0, &t);
			NO = 0;
			pump();
			cr_assert_eq(NO, want, "%u copies for %u replicas", NO, want);
			struct faii_task c[FAII_REPLICAS_MAX];
			for (unsigned r = 0; r < want; r++)
				c[r] = O[r].task;
			for (unsigned r = 0; r < want; r++) {
				cr_assert_neq(c[r].node_id, 1, "a replica went to the US node");
				per[c[r].node_id]++;
				copies++;
				send_result(0, &c[r], FAII_RESULT_OK, 0xAA);
			}
			pump();
		}
	}
	/* Re-dispatches: the first copy's node stays silent. */
	for (unsigned k = 0; k < 5; k++) {
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, TIMEOUT_BUDGET_US);
		send_task(0, &t);
		NO = 0;
		pump();
		cr_assert_eq(NO, 1);
		cr_assert_neq(O[0].task.node_id, 1);
		NO = 0;
		pump_until_output();
		cr_assert_eq(NO, 1);
		cr_assert_eq(O[0].task.attempt, 1);
		cr_assert_neq(O[0].task.node_id, 1, "a re-dispatch went to the US node");
		send_result(0, &O[0].task, FAII_RESULT_OK, 0xAA);
		pump();
		copies += 2;
	}
	cr_assert_eq(per[1], 0);
	stats();
	cr_assert_eq(S.residency[FAII_RES_PASS_ALLOWED], copies, "the program judged every copy");
	uint64_t counters[FAII_RES_COUNTER_SLOTS];
	faii_res_rte_counters(T.a.residency_rte, counters);
	cr_assert_eq(counters[FAII_RES_PASS_ALLOWED], copies, "counted by the program itself");

	/* The program's policy changes first: node 2 is now in the US. */
	cr_assert_eq(faii_res_rte_set_node(T.a.residency_rte, 2, 3 /* US: jurisdictions[3] */), 0);
	memset(per, 0, sizeof(per));
	tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, 200, 16, per);
	cr_assert_eq(per[2], 0, "a copy the program refused was sent");
	cr_assert_eq(total(per), 200, "refused copies went elsewhere");
	stats();
	cr_assert_gt(S.residency[FAII_RES_DROP_FORBIDDEN], 0);
	cr_assert_eq(S.pipe[FAII_PIPE_RESIDENCY_REFUSED], S.residency[FAII_RES_DROP_FORBIDDEN]);
	struct faii_res_event ev[64];
	unsigned got = faii_res_rte_events(T.a.residency_rte, ev, 64);
	cr_assert_gt(got, 0);
	for (unsigned i = 0; i < got; i++) {
		cr_assert_eq(ev[i].node_id, 2);
		cr_assert_eq(ev[i].reason, FAII_RES_DROP_FORBIDDEN);
		cr_assert_eq(ev[i].residency_class, RC_CH);
	}
	node_port_override = 0;
}

/* ------------------------------------------------------------------------ */
/* 9. Authentication (protocol version 2, docs/security.md).                */

#define NOWHERE_IP   0x0A090909u /* 10.9.9.9: no node's address */
#define NOWHERE_PORT 6666u

static uint64_t pipe_count(enum faii_pipe_counter c)
{
	stats();
	return S.pipe[c];
}

/* The RESULTs waiting on the RX ring are all refused: nothing goes out,
 * none is matched, and counter c reaches want. */
static void expect_results_refused(enum faii_pipe_counter c, uint64_t want)
{
	uint64_t matched = pipe_count(FAII_PIPE_RESULTS_MATCHED);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0, "a refused RESULT went out");
	cr_assert_eq(pipe_count(FAII_PIPE_RESULTS_MATCHED), matched, "a refused RESULT counted");
	cr_assert_eq(pipe_count(c), want, "%s: %" PRIu64 ", not %" PRIu64,
	             faii_pipe_counter_name(c), pipe_count(c), want);
}

/* copy's RESULT sent as f says reaches the client as task id's answer,
 * with a UDP checksum that holds. */
static void expect_answered(const struct faii_task *copy, const struct forge *f, uint64_t id)
{
	NO = 0;
	send_result_as(0, copy, FAII_RESULT_OK, 0xAA, f);
	pump();
	cr_assert_eq(NO, 1, "the intact RESULT was not forwarded");
	cr_assert_eq(O[0].type, FAII_MSG_RESULT);
	cr_assert_eq(O[0].dst_port, CLIENT_PORT);
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert(O[0].udp_checksum_checked);
}

/* The hardening issue's attack: whoever sees one copy of a strong task
 * answers for all seven before the nodes do. Before version 2 the client
 * got the attacker's hash and the honest answers were dropped as late. */
Test(dataplane, auth_forged_quorum_refused)
{
	static const uint8_t epochs[] = {1};
	const struct nspec *n = replica_fleet_cfg(auth_on(epochs, 1));
	struct faii_task c[FAII_REPLICAS_MAX];
	uint64_t id = dispatch_replicated(n, FAII_CONSISTENCY_STRONG, c);
	uint8_t seen0[8], own_key[32];
	seen_nonce(&c[0], seen0); /* the copy the attacker saw */
	randombytes_buf(own_key, sizeof(own_key));
	for (unsigned round = 0; round < 10; round++) {
		for (unsigned k = 0; k < FAII_REPLICAS_MAX; k++) {
			/* Version 1, as the attack was made, from no node's address. */
			const struct forge v1 = {.version = FAII_VERSION,
			                         .epoch = -1,
			                         .src_ip = NOWHERE_IP,
			                         .src_port = NOWHERE_PORT};
			/* Version 2 from no node's address, under a key of its own. */
			const struct forge away = {.key = own_key,
			                           .nonce = seen0,
			                           .epoch = -1,
			                           .src_ip = NOWHERE_IP,
			                           .src_port = NOWHERE_PORT};
			/* Version 2 from the node's own address (spoofed). */
			const struct forge spoof = {.key = own_key, .nonce = seen0, .epoch = -1};
			send_result_as(0, &c[k], FAII_RESULT_OK, 0xEE, &v1);
			send_result_as(0, &c[k], FAII_RESULT_OK, 0xEE, &away);
			send_result_as(0, &c[k], FAII_RESULT_OK, 0xEE, &spoof);
		}
		pump();
	}
	cr_assert_eq(NO, 0, "a forged RESULT reached the client");
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_UNAUTHENTICATED), 70);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_WRONG_SOURCE), 70);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_BAD_MAC), 70);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULTS_MATCHED), 0, "a forgery touched the record");

	for (unsigned k = 0; k < FAII_REPLICAS_MAX; k++)
		send_result(0, &c[k], FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1, "one answer, got %u", NO);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.result_hash[0], 0xAA, "the honest majority is forwarded");
	cr_assert_eq(O[0].version, FAII_VERSION_2);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULTS_MATCHED), 7, "every honest answer counted");
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_LATE), 0, "no honest answer dropped as late");
	cr_assert_eq(pipe_count(FAII_PIPE_DISAGREEMENTS), 0);
}

/* A copy's nonce is its own: a node answering with another copy's nonce,
 * or for another node's replica index, is refused. */
Test(dataplane, auth_nonce_of_another_copy_refused)
{
	static const uint8_t epochs[] = {1};
	const struct nspec *n = replica_fleet_cfg(auth_on(epochs, 1));
	struct faii_task c[FAII_REPLICAS_MAX];
	uint64_t id = dispatch_replicated(n, FAII_CONSISTENCY_SESSION, c);
	uint8_t nonce[3][8];
	for (unsigned k = 0; k < 3; k++) {
		seen_nonce(&c[k], nonce[k]);
		uint64_t v;
		memcpy(&v, nonce[k], 8);
		cr_assert_neq(v, 0, "copy %u carries no nonce", k);
		for (unsigned j = 0; j < k; j++)
			cr_assert_neq(memcmp(nonce[j], nonce[k], 8), 0, "copies share a nonce");
	}
	/* Node of copy 1, its own key and address, copy 0's nonce. */
	const struct forge replay = {.nonce = nonce[0], .epoch = -1};
	send_result_as(0, &c[1], FAII_RESULT_OK, 0xEE, &replay);
	/* Node of copy 1 answering for replica 0. */
	struct faii_task other = c[1];
	other.replica_index = 0;
	const struct forge as_other = {.nonce = nonce[1], .epoch = -1};
	send_result_as(0, &other, FAII_RESULT_OK, 0xEE, &as_other);
	pump();
	cr_assert_eq(NO, 0);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_BAD_TOKEN), 1);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_WRONG_NODE), 1);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULTS_MATCHED), 0);
	for (unsigned k = 0; k < 3; k++)
		send_result(0, &c[k], FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert_eq(O[0].result.task_id, id);
	cr_assert_eq(O[0].result.result_hash[0], 0xAA);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULTS_MATCHED), 3);
}

/* A RESULT comes from its node's registered address and port, or not at all. */
Test(dataplane, auth_wrong_source_refused)
{
	static const uint8_t epochs[] = {1};
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(auth_on(epochs, 1), n, 2));
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	struct faii_task copy = O[0].task;
	uint32_t other = copy.node_id == 1 ? 2 : 1;
	NO = 0;
	const struct forge port = {.epoch = -1, .src_port = 9999};
	const struct forge neighbour = {
	        .epoch = -1, .src_ip = NODE_NET + other, .src_port = (uint16_t)node_port(other)};
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &port);
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &neighbour);
	pump();
	cr_assert_eq(NO, 0);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_WRONG_SOURCE), 2);
	send_result(0, &copy, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, id);
}

/* Sends t as version 2 signed under key (or version 1 when key is NULL). */
static void send_task_raw(struct faii_task *t, const uint8_t *key, uint8_t epoch, bool corrupt)
{
	t->task_id = T.next_id++;
	if (t->submit_ts_ns == 0)
		t->submit_ts_ns = now_ns();
	uint8_t msg[FAII_MSG_SIZE_MAX], payload[4] = {1, 2, 3, 4};
	t->payload_len = sizeof(payload);
	size_t len;
	if (key != NULL) {
		struct faii_auth_block a = {.key_epoch = epoch};
		len = faii_encode_task_v2(msg, sizeof(msg), t, &a, payload);
		cr_assert_eq(faii_msg_mac_sign(msg, len, key), 0);
		if (corrupt)
			msg[len - 1] ^= 1; /* the payload is covered too */
	} else {
		len = faii_encode_task(msg, sizeof(msg), t, payload);
	}
	struct faii_frame_spec s = client_spec();
	inject(0, &s, msg, len);
}

/* Unauthenticated TASKs are refused, counted and never answered. */
Test(dataplane, auth_task_refused)
{
	static const uint8_t epochs[] = {1};
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(auth_on(epochs, 1), n, 2));
	uint8_t k77[32], k78[32];
	faii_demo_client_key(77, 1, k77);
	faii_demo_client_key(78, 1, k78);
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_raw(&t, NULL, 0, false); /* version 1 */
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	t.client_id = 78; /* no key configured for it */
	send_task_raw(&t, k78, 1, false);
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_raw(&t, k78, 1, false); /* client 77 under another's key */
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_raw(&t, k77, 1, true); /* payload changed in flight */
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_raw(&t, k77, 9, false); /* an epoch the client has no key for */
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	t.submit_ts_ns = now_ns() - 10000000000ull; /* expired and forged: no answer */
	send_task_raw(&t, k78, 1, false);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0, "an unauthenticated TASK was answered or dispatched");
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_UNAUTHENTICATED), 1);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_UNKNOWN_CLIENT), 1);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_MAC), 3);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_KEY_EPOCH), 1);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_EXPIRED), 0);

	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_raw(&t, k77, 1, false);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
	cr_assert_eq(O[0].version, FAII_VERSION_2);
	uint64_t nonce, handle;
	memcpy(&nonce, O[0].auth.nonce, 8);
	memcpy(&handle, O[0].auth.handle, 8);
	cr_assert_neq(nonce, 0, "a dispatched copy carries its nonce");
	cr_assert_eq(handle, 0);
	cr_assert_eq(O[0].task.payload_len, 4);
}

/* Rotation: during the overlap both epochs verify; after the old key is
 * removed and the keys reloaded, only the new one does. */
Test(dataplane, auth_key_rotation)
{
	static const uint8_t both[] = {2, 1}, new_only[] = {2};
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(auth_on(both, 2), n, 2));
	for (unsigned e = 1; e <= 2; e++) {
		AUTH.client_epoch = AUTH.node_epoch = (uint8_t)e;
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
		uint64_t id = send_task(0, &t);
		NO = 0;
		pump();
		cr_assert_eq(NO, 1, "epoch %u: TASK refused during the overlap", e);
		struct faii_task copy = O[0].task;
		NO = 0;
		send_result(0, &copy, FAII_RESULT_OK, 0xAA);
		pump();
		cr_assert_eq(NO, 1, "epoch %u: RESULT refused during the overlap", e);
		cr_assert_eq(O[0].result.task_id, id);
	}

	auth_write_keys(new_only, 1);
	char err[256] = "";
	cr_assert_eq(faii_appliance_reload_keys(&T.a, err, sizeof(err)), 0, "%s", err);
	pump();
	AUTH.client_epoch = 1;
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task(0, &t);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_KEY_EPOCH), 1);
	AUTH.client_epoch = 2;
	t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	uint64_t id = send_task(0, &t);
	pump();
	cr_assert_eq(NO, 1);
	struct faii_task copy = O[0].task;
	NO = 0;
	AUTH.node_epoch = 1;
	send_result(0, &copy, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 0, "a RESULT under the removed key was accepted");
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_BAD_KEY_EPOCH), 1);
	AUTH.node_epoch = 2;
	send_result(0, &copy, FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert_eq(O[0].result.task_id, id);
}

/* ---- keys.reload through the control socket's dispatcher -------------------- */

/* The command runs as faiictl's does: dispatched, read on the keys worker,
 * installed by faii_control_keys_tick(). There is no socket server: what
 * the command printed (its answer, counts only) is read from stdout. */
static struct faii_control CTL;
static struct {
	int out, err;
	char path[64];
} CAP = {-1, -1, ""};

/* stdout and stderr into a file until capture_end(). */
static void capture_start(void)
{
	fflush(stdout);
	fflush(stderr);
	snprintf(CAP.path, sizeof(CAP.path), "/tmp/faii-dpt-out-XXXXXX");
	int fd = mkstemp(CAP.path);
	cr_assert_geq(fd, 0);
	CAP.out = dup(1);
	CAP.err = dup(2);
	cr_assert(CAP.out >= 0 && CAP.err >= 0 && dup2(fd, 1) == 1 && dup2(fd, 2) == 2);
	close(fd);
}

/* The captured text (malloc'd), and stdout and stderr back. */
static char *capture_end(void)
{
	fflush(stdout);
	fflush(stderr);
	dup2(CAP.out, 1);
	dup2(CAP.err, 2);
	close(CAP.out);
	close(CAP.err);
	FILE *f = fopen(CAP.path, "r");
	cr_assert_not_null(f);
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(CAP.path);
	return text;
}

/* Runs keys.reload (bounded: 5 s for the worker); true when it was applied. */
static bool keys_reload_cmd(bool dry_run)
{
	struct faii_ctl_peer admin = {.role = FAII_CTL_ROLE_ADMIN};
	struct faii_ctl_error err;
	memset(&err, 0, sizeof(err));
	uint64_t ok = CTL.key_reloads_ok;
	json_t *args = json_pack("{s:b}", "dry_run", dry_run);
	json_t *r = faii_control_dispatch(&CTL, &admin, "keys.reload", args, &err);
	json_decref(args);
	cr_assert_eq(r, FAII_CTL_DEFERRED, "keys.reload: %s", err.message);
	for (unsigned i = 0; i < 5000 && CTL.keys_job.active; i++) {
		faii_control_keys_tick(&CTL);
		pump();
		usleep(1000);
	}
	cr_assert_not(CTL.keys_job.active, "keys.reload not answered within 5 s");
	return CTL.key_reloads_ok == ok + 1;
}

/* A TASK under the client's key of epoch ce and its RESULT under the node's
 * key of appliance epoch ne: 0 both accepted (the client got the answer),
 * 1 the TASK refused, 2 the RESULT refused. */
static int round_trip(uint8_t ce, uint8_t ne)
{
	AUTH.client_epoch = ce;
	AUTH.node_epoch = ne;
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	uint64_t id = send_task(0, &t);
	NO = 0;
	pump();
	if (NO == 0)
		return 1;
	cr_assert_eq(NO, 1);
	struct faii_task copy = O[0].task;
	NO = 0;
	send_result(0, &copy, FAII_RESULT_OK, 0xAA);
	pump();
	if (NO == 0)
		return 2;
	cr_assert_eq(O[0].result.task_id, id);
	return 0;
}

/* Every secret of the test's key files and the node keys derived from them,
 * as hex: none may appear in what the appliance printed. */
static void expect_no_key_in(const char *text)
{
	for (uint8_t e = 1; e <= 2; e++) {
		uint8_t pk[32], sk[32], k[32];
		char h[65];
		faii_demo_appliance_keypair(e, pk, sk);
		hex(h, sk, 32);
		cr_assert_null(strstr(text, h), "appliance key %u printed", e);
		faii_demo_client_key(77, e, k);
		hex(h, k, 32);
		cr_assert_null(strstr(text, h), "client key %u printed", e);
		for (uint32_t id = 1; id <= 2; id++) {
			node_result_key(id, e, k);
			hex(h, k, 32);
			cr_assert_null(strstr(text, h), "node %u's RESULT key %u printed", id, e);
		}
	}
}

/*
 * Rotation without a restart, through the command: epoch 1 in force; the
 * files get epoch 2 as current and epoch 1 until a deadline; keys.reload
 * puts both in force (the new appliance key's node keys derived on the
 * worker) with no traffic refused; at the deadline epoch 1 goes with no
 * reload; a bad file is refused with file:line and the keys stay; nothing
 * printed holds a key.
 */
Test(dataplane, auth_keys_reload_command)
{
	static const uint8_t one[] = {1}, both[] = {2, 1};
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(auth_on(one, 1), n, 2));
	memset(&CTL, 0, sizeof(CTL));
	CTL.app = &T.a;
	char msg[256];
	cr_assert_eq(faii_reload_start(&CTL.keys_reload, &faii_reload_keys_ops, msg, sizeof(msg)),
	             0, "%s", msg);
	capture_start();
	cr_assert_eq(round_trip(1, 1), 0);
	cr_assert_eq(round_trip(2, 2), 1, "epoch 2 accepted before it was loaded");

	auth_write_keys_until(both, 2, "2400-01-01T00:00:00Z");
	bool applied = keys_reload_cmd(false);
	for (uint8_t e = 1; e <= 2; e++)
		cr_assert_eq(round_trip(e, e), 0, "epoch %u refused during the overlap", e);
	cr_assert_eq(round_trip(2, 1), 0);

	/* The deadline passes (the control tick's check, at a chosen time). */
	cr_assert(faii_keys_expire(&T.a.keys, 13569465600000000000ull));
	cr_assert_eq(faii_appliance_publish_keys(&T.a), 0);
	pump();
	uint64_t task_epoch = pipe_count(FAII_PIPE_TASK_BAD_KEY_EPOCH);
	uint64_t result_epoch = pipe_count(FAII_PIPE_RESULT_BAD_KEY_EPOCH);
	cr_assert_eq(round_trip(1, 2), 1, "client key 1 accepted after its deadline");
	cr_assert_eq(round_trip(2, 1), 2, "appliance key 1 accepted after its deadline");
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_KEY_EPOCH), task_epoch + 1);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_BAD_KEY_EPOCH), result_epoch + 1);
	cr_assert_eq(round_trip(2, 2), 0);

	/* A bad clients file: refused, named, and the keys in force stay. */
	uint64_t generation = T.a.keys.generation;
	char path[128];
	snprintf(path, sizeof(path), "%s/clients.keys", AUTH.dir);
	FILE *f = fopen(path, "a");
	cr_assert_not_null(f);
	fputs("78 1 0123\n", f);
	fclose(f);
	bool bad_applied = keys_reload_cmd(false);
	char bad_error[sizeof(CTL.last_key_reload_error)];
	memcpy(bad_error, CTL.last_key_reload_error, sizeof(bad_error));
	cr_assert_eq(T.a.keys.generation, generation, "a refused reload published a set");
	cr_assert_eq(round_trip(2, 2), 0, "the keys in force changed on a refused reload");
	auth_write_keys(both, 2);
	bool dry_applied = keys_reload_cmd(true);
	cr_assert_eq(T.a.keys.generation, generation, "a dry run published a set");

	struct faii_ctl_peer admin = {.role = FAII_CTL_ROLE_ADMIN};
	struct faii_ctl_error err;
	json_t *status = faii_control_dispatch(&CTL, &admin, "status", NULL, &err);
	cr_assert_not_null(status, "%s", err.message);
	char *status_text = json_dumps(status, JSON_COMPACT);
	json_decref(status);
	char *out = capture_end();
	faii_reload_stop(&CTL.keys_reload);

	cr_assert(applied, "keys.reload refused: %s", CTL.last_key_reload_error);
	cr_assert_not(bad_applied, "a bad key file was applied");
	cr_assert(dry_applied, "the dry run failed: %s", CTL.last_key_reload_error);
	cr_assert_not_null(strstr(bad_error, "/clients.keys:3:"), "%s", bad_error);
	cr_assert_not_null(strstr(out, "keys_derived\":2"), "2 node keys derived:\n%s", out);
	cr_assert_not_null(strstr(out, "\"epochs\":[2,1]"), "%s", out);
	cr_assert_not_null(strstr(out, "keys.reload refused"), "%s", out);
	cr_assert_not_null(strstr(status_text, "\"reloads_failed\":1"), "%s", status_text);
	expect_no_key_in(out);
	expect_no_key_in(status_text);
	free(status_text);
}

/* Key files readable by others are refused at start. */
Test(dataplane, auth_key_file_mode_checked)
{
	static const uint8_t epochs[] = {1};
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	struct faii_config *cfg = fleet(auth_on(epochs, 1), n, 2);
	char path[128];
	snprintf(path, sizeof(path), "%s/appliance.key", AUTH.dir);
	cr_assert_eq(chmod(path, 0644), 0);
	eal_up();
	port_up(1);
	char err[256] = "";
	int rc = faii_appliance_init(&T.a, cfg, &T.port, 1, 1, T.pool, err, sizeof(err));
	cr_assert_neq(rc, 0, "a world-readable key file was accepted");
	cr_assert(strstr(err, "chmod 600") != NULL, "%s", err);
}

/* The program's own counters (faii_res_rte), not the pipeline's. */
static void program_counters(uint64_t out[FAII_RES_COUNTER_SLOTS])
{
	faii_res_rte_counters(T.a.residency_rte, out);
}

/*
 * Nodes on their own ports (NODE_PORT0 + id, none the appliance's): the
 * program's port map makes every copy faii to it, so the BPF program judges
 * each one itself, as at the kernel's attach points. Its own counters say so
 * (every copy allowed, none "not faii", which is how a copy the program could
 * not recognise would show), first dispatches and replicas alike. Then the
 * program's policy alone moves node 2 to the US: it refuses node 2's copies
 * on node 2's port, they go elsewhere, and the refusals are its events.
 */
Test(dataplane, residency_program_judges_copies_to_node_ports)
{
	struct nspec n[4] = {node("M", "a", "US"), node("M", "b", "CH"), node("M", "c", "CH"),
	                     node("M", "d", "CH")};
	n[0].price = 0.85, n[0].solar = 0.95;
	tb_setup(1, 1, fleet(NULL, n, 4));
	cr_assert(faii_res_rte_has_bpf(T.a.residency_rte), "%s", T.a.residency_mode);
	for (uint32_t id = 1; id <= 4; id++)
		cr_assert_neq(node_port(id), UDP_PORT);

	uint64_t per[NODES_MAX + 1] = {0};
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, 300, 16, per);
	uint64_t copies = total(per);
	for (unsigned k = 0; k < 10; k++) {
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 1000000);
		t.consistency = FAII_CONSISTENCY_SESSION;
		send_task(0, &t);
		NO = 0;
		pump();
		cr_assert_eq(NO, 3, "%u copies for 3 replicas", NO);
		struct faii_task c[3];
		for (unsigned r = 0; r < 3; r++) {
			cr_assert(is_task_copy_to(&O[r], O[r].task.node_id),
			          "not to its node's port");
			cr_assert_neq(O[r].task.node_id, 1, "a replica went to the US node");
			c[r] = O[r].task;
		}
		for (unsigned r = 0; r < 3; r++)
			send_result(0, &c[r], FAII_RESULT_OK, 0xAA);
		pump();
		copies += 3;
	}
	cr_assert_eq(per[1], 0);
	uint64_t prog[FAII_RES_COUNTER_SLOTS];
	program_counters(prog);
	cr_assert_eq(prog[FAII_RES_PASS_ALLOWED], copies, "the program judged every copy itself");
	cr_assert_eq(prog[FAII_RES_PASS_NOT_FAII], 0, "a copy was not faii to the program");
	stats();
	cr_assert_eq(S.residency[FAII_RES_PASS_ALLOWED], copies);

	cr_assert_eq(faii_res_rte_set_node(T.a.residency_rte, 2, 3 /* US */), 0);
	memset(per, 0, sizeof(per));
	run_tasks(&tpl, 200, 16, per);
	cr_assert_eq(per[2], 0, "a copy the program refused was sent");
	cr_assert_eq(total(per), 200, "refused copies went elsewhere");
	program_counters(prog);
	stats();
	cr_assert_gt(prog[FAII_RES_DROP_FORBIDDEN], 0);
	cr_assert_eq(prog[FAII_RES_DROP_FORBIDDEN], S.residency[FAII_RES_DROP_FORBIDDEN]);
	cr_assert_eq(S.pipe[FAII_PIPE_RESIDENCY_REFUSED], S.residency[FAII_RES_DROP_FORBIDDEN]);
	cr_assert_eq(prog[FAII_RES_PASS_NOT_FAII], 0);
	struct faii_res_event ev[64];
	unsigned got = faii_res_rte_events(T.a.residency_rte, ev, 64);
	cr_assert_gt(got, 0);
	for (unsigned i = 0; i < got; i++) {
		cr_assert_eq(ev[i].node_id, 2);
		cr_assert_eq(ev[i].reason, FAII_RES_DROP_FORBIDDEN);
		cr_assert_eq(ev[i].residency_class, RC_CH);
		cr_assert_eq(ev[i].jurisdiction, 3);
	}
}

/* A node registers again, at an address and port, in a country (signed with
 * its demo key, sent from its configured address). */
static void register_at(uint32_t node_id, uint32_t ip, uint16_t port, const char country[2])
{
	uint8_t pk[FAII_PUBKEY_SIZE], sk[64], msg[FAII_MSG_SIZE_MAX];
	faii_demo_node_keypair(node_id, pk, sk);
	struct faii_register rg;
	memset(&rg, 0, sizeof(rg));
	rg.node_id = node_id;
	rg.operator_id = 2;
	rg.asn = 64600;
	rg.capacity_tasks_per_s = 1000;
	rg.price_micro = 1000000;
	rg.region = REG_ZURICH;
	rg.node_class = FAII_CLASS_MEDIUM;
	rg.eligibility = FAII_ELIGIBILITY_MASK;
	rg.country[0] = country[0], rg.country[1] = country[1];
	rg.addr_family = FAII_ADDR_IPV4;
	put_ip(rg.addr, ip);
	rg.udp_port = port;
	rg.timestamp_ns = now_ns();
	memcpy(rg.public_key, pk, sizeof(pk));
	size_t len = faii_encode_register(msg, sizeof(msg), &rg);
	cr_assert_gt(len, 0u);
	send_signed(node_id, msg, len, false, node_id);
	pump();
	faii_appliance_drain_slow(&T.a);
}

static void register_in(uint32_t node_id, uint16_t port, const char country[2])
{
	register_at(node_id, NODE_NET + node_id, port, country);
}

static void register_on_port(uint32_t node_id, uint16_t port)
{
	register_in(node_id, port, "CH");
}

/* Copies of n CH-only tasks, each judged (allowed) on its node's port by the
 * appliance's judge, never found "not faii". */
static void expect_judged_on_node_ports(unsigned n, uint64_t *per)
{
	uint64_t before[FAII_RES_COUNTER_SLOTS], after[FAII_RES_COUNTER_SLOTS];
	program_counters(before);
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, n, 16, per); /* asserts each copy went to node_port(id) */
	program_counters(after);
	cr_assert_eq(after[FAII_RES_PASS_ALLOWED] - before[FAII_RES_PASS_ALLOWED], n);
	cr_assert_eq(after[FAII_RES_PASS_NOT_FAII], before[FAII_RES_PASS_NOT_FAII],
	             "a copy was not faii to the program");
}

/*
 * The port map follows the registry, in the same snapshot as the node map:
 * node 2 registers again on a port nobody used, and the operator adds node 3
 * on another; after the next publish their copies go to those ports and the
 * program judges every one of them (none "not faii").
 */
Test(dataplane, residency_port_map_follows_registry)
{
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 2));
	cr_assert(faii_res_rte_has_bpf(T.a.residency_rte), "%s", T.a.residency_mode);
	uint64_t per[NODES_MAX + 1] = {0};
	expect_judged_on_node_ports(200, per);
	cr_assert_gt(per[2], 0);

	const uint16_t moved = 9602, added = 9703;
	uint64_t syncs = T.a.residency_syncs;
	register_on_port(2, moved);
	cr_assert_eq(T.a.reg.slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER], 1);
	cr_assert_eq(T.a.residency_syncs, syncs + 1, "a new port reaches the judges at once");
	cr_assert(!T.a.reg.residency_dirty);
	cr_assert_eq(faii_appliance_publish(&T.a), 0);
	cr_assert_eq(T.a.residency_syncs, syncs + 1);
	node_port_moved[2] = moved;
	memset(per, 0, sizeof(per));
	expect_judged_on_node_ports(200, per);
	cr_assert_gt(per[2], 0, "no copy to node 2 on its new port");

	struct faii_cfg_node n3 = T.a.reg.cfg->nodes[1];
	uint8_t sk[64];
	n3.id = 3;
	snprintf(n3.name, sizeof(n3.name), "node-3");
	put_ip(n3.addr, NODE_NET + 3);
	n3.udp_port = added;
	faii_demo_node_keypair(3, n3.public_key, sk);
	cr_assert_geq(faii_registry_add(&T.a.reg, &n3), 0);
	cr_assert_eq(faii_appliance_publish(&T.a), 0);
	node_port_moved[3] = added;
	memset(per, 0, sizeof(per));
	expect_judged_on_node_ports(300, per);
	cr_assert_gt(per[3], 0, "no copy to the added node on its port");
	memset(node_port_moved, 0, sizeof(node_port_moved));
}

/*
 * Without the program (FAII_RESIDENCY_JUDGE=c, or an object rte_bpf cannot
 * load), its C reference judges over the same policy snapshot, port map
 * included, with the same counters and refusal events.
 */
Test(dataplane, residency_c_reference_judges_copies_to_node_ports)
{
	cr_assert_eq(setenv("FAII_RESIDENCY_JUDGE", "c", 1), 0);
	struct nspec n[3] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 3));
	cr_assert(!faii_res_rte_has_bpf(T.a.residency_rte), "%s", T.a.residency_mode);
	cr_assert_not_null(strstr(T.a.residency_mode, "C reference"), "%s", T.a.residency_mode);
	uint64_t per[NODES_MAX + 1] = {0};
	expect_judged_on_node_ports(200, per);
	cr_assert_eq(faii_res_rte_set_node(T.a.residency_rte, 2, 3 /* US */), 0);
	memset(per, 0, sizeof(per));
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	run_tasks(&tpl, 200, 16, per);
	cr_assert_eq(per[2], 0, "a copy the C reference refused was sent");
	struct faii_res_event ev[64];
	unsigned got = faii_res_rte_events(T.a.residency_rte, ev, 64);
	cr_assert_gt(got, 0, "the C reference's refusals are events too");
	for (unsigned i = 0; i < got; i++)
		cr_assert(ev[i].node_id == 2 && ev[i].reason == FAII_RES_DROP_FORBIDDEN);
	unsetenv("FAII_RESIDENCY_JUDGE");
}

/*
 * Residency fails closed during changes: once a node's REGISTER moving it
 * out of CH counts as accepted, not one CH-only copy reaches it, although
 * the published tables (solved before the move) still list it; the judges
 * got the new policy before the message was counted. Five moves out and
 * back, each followed at once by CH-only traffic; between them the node
 * takes CH-only work again after it returns.
 */
Test(dataplane, residency_fails_closed_on_jurisdiction_change)
{
	struct nspec n[3] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 3));
	struct faii_task tpl = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
	for (unsigned round = 0; round < 5; round++) {
		uint64_t per[NODES_MAX + 1] = {0};
		run_tasks(&tpl, 150, 16, per);
		cr_assert_gt(per[2], 0, "round %u: node 2 in CH gets CH-only work", round);
		uint64_t accepted = T.a.reg.slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER];
		register_in(2, node_port(2), "DE");
		cr_assert_eq(T.a.reg.slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER], accepted + 1);
		memset(per, 0, sizeof(per));
		run_tasks(&tpl, 300, 16, per); /* no publish in between */
		cr_assert_eq(per[2], 0, "round %u: %" PRIu64 " CH-only copies reached a node in DE",
		             round, per[2]);
		register_in(2, node_port(2), "CH");
		cr_assert_eq(faii_appliance_publish(&T.a), 0);
	}
}

/*
 * A node's error on the first attempt: the copy is re-dispatched at once to
 * another node, whose ok is the client's answer. The copy then carries both
 * an error (attempt 0) and an ok (attempt 1); the demo run found an
 * assertion that forbade that.
 */
Test(dataplane, error_then_redispatched_ok)
{
	struct nspec n[3] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 3));
	for (unsigned round = 0; round < 20; round++) {
		struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_CH, 500000);
		uint64_t id = send_task(0, &t);
		NO = 0;
		pump();
		cr_assert_eq(NO, 1);
		struct faii_task first = O[0].task;
		cr_assert_eq(first.attempt, 0);
		NO = 0;
		send_result(0, &first, FAII_RESULT_ERROR, 0xEE);
		pump();
		cr_assert_eq(NO, 1, "round %u: the error gives one re-dispatched copy", round);
		cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
		struct faii_task second = O[0].task;
		cr_assert_eq(second.task_id, id);
		cr_assert_eq(second.attempt, 1);
		cr_assert_neq(second.node_id, first.node_id, "re-dispatched to another node");
		NO = 0;
		send_result(0, &second, FAII_RESULT_OK, 0xAA);
		pump();
		cr_assert_eq(NO, 1);
		cr_assert(is_client_result(&O[0]));
		cr_assert_eq(O[0].result.status, FAII_RESULT_OK, "round %u", round);
	}
}

/* Longer than the test can take on a loaded machine: no copy times out.
 * (Handling a REGISTER here takes about a second: the residency sync waits
 * for workers that this thread polls only afterwards.) */
#define AMPLE_BUDGET_US 30000000u

/*
 * A signed REGISTER that moves a node (address and port) moves where its
 * RESULTs are accepted from, as soon as the REGISTER counts as accepted:
 * from the old address, or from either half of the new one alone, they are
 * dropped as result_wrong_source; from the new address, accepted. This
 * holds for a copy sent before the move, and for copies sent to the new
 * address after the next publish.
 */
Test(dataplane, auth_register_moves_result_source)
{
	/* Batch work (a 60 s window): the round trip measured across the
	 * REGISTER's handling does not exclude the node from the next table. */
	static const uint8_t epochs[] = {1};
	struct nspec n[1] = {node("M", "a", "CH")};
	tb_setup(1, 1, fleet(auth_on(epochs, 1), n, 1));
	struct faii_task copy;
	uint64_t id = dispatch_one(FAII_CAT_BATCH_INFERENCE, AMPLE_BUDGET_US, &copy);
	const uint32_t moved = copy.node_id;
	cr_assert_eq(moved, 1);
	const uint32_t old_ip = NODE_NET + moved, new_ip = NODE_NET + 100 + moved;
	const uint16_t old_port = node_port(moved), new_port = 9800;
	uint64_t accepted = T.a.reg.slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER];
	register_at(moved, new_ip, new_port, "CH");
	cr_assert_eq(T.a.reg.slow[FAII_SLOW_ACCEPTED][FAII_MSG_REGISTER], accepted + 1);

	const struct forge from_old = {.epoch = -1, .src_ip = old_ip, .src_port = old_port};
	const struct forge new_ip_old_port = {.epoch = -1, .src_ip = new_ip, .src_port = old_port};
	const struct forge old_ip_new_port = {.epoch = -1, .src_ip = old_ip, .src_port = new_port};
	const struct forge from_new = {.epoch = -1, .src_ip = new_ip, .src_port = new_port};
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &from_old);
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &new_ip_old_port);
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &old_ip_new_port);
	expect_results_refused(FAII_PIPE_RESULT_WRONG_SOURCE, 3);
	expect_answered(&copy, &from_new, id);

	/* After the next publish the node's copies go to its new address, and
	 * its answers are taken from there only. */
	cr_assert_eq(faii_appliance_publish(&T.a), 0);
	struct faii_task u = task_of(FAII_CAT_BATCH_INFERENCE, RC_ANY, AMPLE_BUDGET_US);
	send_task(0, &u);
	NO = 0;
	pump();
	cr_assert_eq(NO, 1);
	struct faii_task c = O[0].task;
	cr_assert_eq(c.node_id, moved);
	cr_assert_eq(O[0].dst_ip, new_ip, "a copy went to the node's old address");
	cr_assert_eq(O[0].dst_port, new_port);
	send_result_as(0, &c, FAII_RESULT_OK, 0xAA, &from_old);
	expect_results_refused(FAII_PIPE_RESULT_WRONG_SOURCE, 4);
	expect_answered(&c, &from_new, u.task_id);
}

/* ------------------------------------------------------------------------ */
/* 10. Checksums and IPv4 options (docs/dataplane.md, "Checksums").         */

/* Offsets in the untagged frames the tests build. */
#define IP4_TTL_OFF    (FAII_ETH_HDR_LEN + 8)
#define IP4_CKSUM_OFF  (FAII_ETH_HDR_LEN + 10)
#define UDP4_CKSUM_OFF (FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN + 6)
#define UDP6_CKSUM_OFF (FAII_ETH_HDR_LEN + FAII_IPV6_HDR_LEN + 6)
#define MSG4_OFF       (FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN + FAII_UDP_HDR_LEN)

static uint8_t *frame_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, uint8_t *);
}

/* Gives the IPv4 frame in m (not yet polled) the sample IPv4 options. */
static void add_ipv4_options(struct rte_mbuf *m)
{
	size_t len = rte_pktmbuf_data_len(m);
	cr_assert_not_null(rte_pktmbuf_append(m, FAII_SAMPLE_IPV4_OPTIONS_LEN));
	size_t n = faii_sample_add_ipv4_options(frame_of(m), len, rte_pktmbuf_data_len(m));
	cr_assert_eq(n, rte_pktmbuf_data_len(m));
}

/* A client TASK (DAG validation, any residency, 1 s) framed as spec says:
 * its mbuf, not yet polled, for the caller to damage. */
static struct rte_mbuf *client_task(const struct faii_frame_spec *spec)
{
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	return send_task_as(0, &t, spec);
}

/* The TASKs waiting on the RX ring are all dropped: none dispatched or
 * answered, and counter c reaches want. */
static void expect_tasks_refused(enum faii_pipe_counter c, uint64_t want)
{
	uint64_t dispatched = pipe_count(FAII_PIPE_TASKS_DISPATCHED);
	NO = 0;
	pump();
	cr_assert_eq(NO, 0, "a refused TASK was dispatched or answered");
	cr_assert_eq(pipe_count(FAII_PIPE_TASKS_DISPATCHED), dispatched);
	cr_assert_eq(pipe_count(c), want, "%s: %" PRIu64 ", not %" PRIu64,
	             faii_pipe_counter_name(c), pipe_count(c), want);
}

/* Copies keep the client's bytes and are patched incrementally: a wrong UDP
 * checksum would go on wrong, so the TASK is dropped, whether the field or
 * the message was damaged, and gets no answer. */
Test(dataplane, task_bad_udp_checksum_dropped)
{
	two_node_fleet();
	struct faii_frame_spec s = client_spec();
	frame_of(client_task(&s))[UDP4_CKSUM_OFF + 1] ^= 0x01;
	/* A bit of the client id: valid to the parser, caught by the sum. */
	const size_t client_id_low =
	        MSG4_OFF + FAII_HDR_SIZE + offsetof(struct faii_task, client_id) + 7;
	frame_of(client_task(&s))[client_id_low] ^= 0x01;
	expect_tasks_refused(FAII_PIPE_TASK_BAD_UDP_CHECKSUM, 2);
	client_task(&s);
	pump();
	cr_assert_eq(NO, 1, "an intact TASK is dispatched");
	cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
	cr_assert(O[0].udp_checksum_checked);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_UDP_CHECKSUM), 2);
}

/* The IPv4 header checksum is checked too (copies get a new one, which
 * would hide the damage): a wrong field, or a TTL changed under it. */
Test(dataplane, task_bad_ip_checksum_dropped)
{
	two_node_fleet();
	struct faii_frame_spec s = client_spec();
	frame_of(client_task(&s))[IP4_CKSUM_OFF] ^= 0x10;
	frame_of(client_task(&s))[IP4_TTL_OFF] ^= 0x01;
	expect_tasks_refused(FAII_PIPE_TASK_BAD_IP_CHECKSUM, 2);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_UDP_CHECKSUM), 0);
}

/*
 * The port's verdicts (RX offload flags) are used when it gives them:
 * intact frames it calls BAD are dropped; a field it marks NONE (checked
 * data, no final sum in the field, as virtio sends local traffic) gets a
 * right checksum before the copies are patched from it.
 */
Test(dataplane, task_checksum_offload_verdicts_used)
{
	two_node_fleet();
	struct faii_frame_spec s = client_spec();
	client_task(&s)->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD;
	client_task(&s)->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD;
	expect_tasks_refused(FAII_PIPE_TASK_BAD_IP_CHECKSUM, 1);
	cr_assert_eq(pipe_count(FAII_PIPE_TASK_BAD_UDP_CHECKSUM), 1);
	struct rte_mbuf *m = client_task(&s);
	frame_of(m)[UDP4_CKSUM_OFF] ^= 0x5A; /* a partial sum, say */
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_NONE;
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
	cr_assert(O[0].udp_checksum_checked, "the copy of a NONE frame has no right checksum");
}

/*
 * Every copy of an intact TASK carries a UDP checksum that holds when
 * recomputed over pseudo header, header and message (decode_out), seven
 * replicas with a payload of odd length; so does the answer forwarded to
 * the client.
 * Over IPv4 a TASK without a checksum (0) is accepted and its copies carry
 * none either (RFC 768 allows it; the message's MAC, when keys are
 * configured, covers what the checksum would).
 */
Test(dataplane, task_copies_carry_valid_udp_checksum)
{
	const struct nspec *n = replica_fleet();
	(void)n;
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_EU, 1000000);
	t.consistency = FAII_CONSISTENCY_STRONG;
	t.task_id = T.next_id++;
	t.submit_ts_ns = now_ns();
	uint8_t msg[FAII_MSG_SIZE_MAX], payload[63]; /* odd: the sum's last byte alone */
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 37 + 11);
	t.payload_len = sizeof(payload);
	size_t len = faii_encode_task(msg, sizeof(msg), &t, payload);
	cr_assert_gt(len, 0u);
	struct faii_frame_spec s = client_spec();
	inject(0, &s, msg, len);
	NO = 0;
	pump();
	cr_assert_eq(NO, FAII_REPLICAS_MAX);
	struct faii_task copies[FAII_REPLICAS_MAX];
	for (unsigned i = 0; i < NO; i++) {
		cr_assert(is_task_copy_to(&O[i], O[i].task.node_id));
		cr_assert_neq(O[i].udp_checksum, 0);
		cr_assert(O[i].udp_checksum_checked, "copy %u: UDP checksum not right", i);
		copies[i] = O[i].task;
	}
	NO = 0;
	for (unsigned i = 0; i < FAII_REPLICAS_MAX; i++)
		send_result(0, &copies[i], FAII_RESULT_OK, 0xAA);
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert(O[0].udp_checksum_checked);

	uint8_t *f = frame_of(client_task(&s));
	f[UDP4_CKSUM_OFF] = f[UDP4_CKSUM_OFF + 1] = 0;
	NO = 0;
	pump();
	cr_assert_eq(NO, 1, "an IPv4 TASK without a UDP checksum is accepted");
	cr_assert(is_task_copy_to(&O[0], O[0].task.node_id));
	cr_assert_eq(O[0].udp_checksum, 0, "its copy carries no checksum either");
}

/* Over IPv6 a UDP checksum of 0 is invalid (RFC 8200 §8.1): a TASK or a
 * RESULT with one is dropped, never patched into a copy or an answer. */
Test(dataplane, ipv6_udp_checksum_zero_dropped)
{
	struct nspec n[2] = {node("M", "a", "CH"), node("M", "b", "CH")};
	fleet_ipv6 = true;
	tb_setup(1, 1, fleet(NULL, n, 2));
	struct faii_frame_spec s = client_spec6();
	uint8_t *f = frame_of(client_task(&s));
	f[UDP6_CKSUM_OFF] = f[UDP6_CKSUM_OFF + 1] = 0;
	expect_tasks_refused(FAII_PIPE_TASK_UDP_CHECKSUM_ZERO, 1);

	struct faii_task v = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	send_task_as(0, &v, &s);
	pump();
	cr_assert_eq(NO, 1, "an intact IPv6 TASK is dispatched");
	struct faii_task copy = O[0].task;
	cr_assert(O[0].ipv6 && O[0].type == FAII_MSG_TASK);
	cr_assert_eq(copy.task_id, v.task_id);
	uint8_t want[16];
	put_ip6(want, 0, (uint16_t)copy.node_id);
	cr_assert_eq(memcmp(O[0].dst_ip6, want, 16), 0);
	cr_assert(O[0].udp_checksum_checked);

	const struct forge v6 = {.epoch = -1, .ipv6 = true};
	f = frame_of(send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &v6));
	f[UDP6_CKSUM_OFF] = f[UDP6_CKSUM_OFF + 1] = 0;
	expect_results_refused(FAII_PIPE_RESULT_UDP_CHECKSUM_ZERO, 1);
	expect_answered(&copy, &v6, v.task_id);
	cr_assert(O[0].ipv6);
}

/*
 * A node's RESULT is checked like a client's TASK before it may vote: a
 * flipped bit would otherwise be counted as the node's answer (and make an
 * honest node look byzantine) and reach the client under a patched
 * checksum. Damaged ones are dropped; the intact answer is forwarded.
 */
Test(dataplane, result_bad_checksum_dropped)
{
	two_node_fleet();
	struct faii_task copy;
	uint64_t id = dispatch_one(FAII_CAT_DAG_VALIDATION, 1000000, &copy);
	const struct forge honest = {.epoch = -1};
	frame_of(send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &honest))[UDP4_CKSUM_OFF + 1] ^= 1;
	frame_of(send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &honest))[IP4_TTL_OFF] ^= 1;
	send_result_as(0, &copy, FAII_RESULT_OK, 0xAA, &honest)->ol_flags =
	        RTE_MBUF_F_RX_L4_CKSUM_BAD;
	expect_results_refused(FAII_PIPE_RESULT_BAD_UDP_CHECKSUM, 2);
	cr_assert_eq(pipe_count(FAII_PIPE_RESULT_BAD_IP_CHECKSUM), 1);
	expect_answered(&copy, &honest, id);
	cr_assert(is_client_result(&O[0]));
}

/*
 * The copies are the appliance's own datagrams: a 20-byte IPv4 header, not
 * the client's options (three replicas, each built from the client's
 * frame); nor does a node's answer carry its options to the client.
 */
Test(dataplane, ipv4_options_not_on_copies)
{
	struct nspec n[3] = {node("M", "a", "CH"), node("M", "b", "CH"), node("M", "c", "CH")};
	tb_setup(1, 1, fleet(NULL, n, 3));
	struct faii_frame_spec s = client_spec();
	struct faii_task t = task_of(FAII_CAT_DAG_VALIDATION, RC_ANY, 1000000);
	t.consistency = FAII_CONSISTENCY_SESSION;
	add_ipv4_options(send_task_as(0, &t, &s));
	NO = 0;
	pump();
	cr_assert_eq(NO, 3);
	struct faii_task copies[3];
	for (unsigned i = 0; i < 3; i++) {
		cr_assert(is_task_copy_to(&O[i], O[i].task.node_id));
		cr_assert_eq(O[i].ipv4_header_len, FAII_IPV4_HDR_LEN,
		             "copy %u carries the client's options (%u-byte header)", i,
		             O[i].ipv4_header_len);
		cr_assert(O[i].udp_checksum_checked);
		copies[i] = O[i].task;
	}
	cr_assert_eq(pipe_count(FAII_PIPE_IP_OPTIONS_REMOVED), 1);
	const struct forge honest = {.epoch = -1};
	NO = 0;
	for (unsigned i = 0; i < 2; i++)
		add_ipv4_options(send_result_as(0, &copies[i], FAII_RESULT_OK, 0xAA, &honest));
	pump();
	cr_assert_eq(NO, 1);
	cr_assert(is_client_result(&O[0]));
	cr_assert_eq(O[0].result.task_id, t.task_id);
	cr_assert_eq(O[0].ipv4_header_len, FAII_IPV4_HDR_LEN, "the answer carries node options");
	cr_assert(O[0].udp_checksum_checked);
	/* The TASK and the forwarded answer; the other answer only voted. */
	cr_assert_eq(pipe_count(FAII_PIPE_IP_OPTIONS_REMOVED), 2);
}
