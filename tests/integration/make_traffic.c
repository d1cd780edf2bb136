/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a pcap of client and node traffic with known counts, for feeding
 * faiid through DPDK's net_pcap device: valid messages of every type over
 * IPv4 and IPv6, and malformed ones of several drop reasons. The expected
 * counters are printed on stdout as "name count" lines: messages by type and
 * parse drops by reason (their sum is the packet count).
 *
 * The traffic speaks protocol version 2 as the demonstration configuration
 * demands (configs/demo.yaml: its demo keys): TASKs MAC'd under the demo key
 * of the samples' client, RESULTs under node 7's RESULT key. It also holds
 * TASKs and RESULTs the appliance must refuse after parsing, one kind per
 * authentication check; PIPELINE.txt, when given, gets their expected
 * pipeline counters as "name count" lines.
 *
 *   make_traffic OUT.pcap [PIPELINE.txt]
 */
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>
#include <sodium.h>

#include "faii/demo.h"
#include "faii/frame.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define FRAME_MAX 1600
#define NODE_ID   7u /* the demo node whose key signs the node traffic */

static pcap_dumper_t *dumper;
static uint8_t payload[FAII_TASK_PAYLOAD_MAX]; /* of the sample TASK and RESULT */

/* Wraps msg in the sample Ethernet/IPv4 or IPv6/UDP frame and appends it. */
static void emit(const void *msg, size_t len, bool ipv6)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(ipv6);
	uint8_t f[FRAME_MAX];
	size_t n = faii_frame_build(f, sizeof(f), &spec, msg, len);
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n};
	pcap_dump((u_char *)dumper, &h, f);
}

/* Signs msg with sk (the node's demo key) and appends it. */
static void emit_signed(uint8_t *msg, size_t len, const uint8_t *sk, bool ipv6)
{
	faii_msg_sign(msg, len, sk);
	emit(msg, len, ipv6);
}

/* The sample TASK with its own id, version 2 under its client's key. */
static size_t make_task(uint8_t *buf, uint64_t id)
{
	struct faii_task t = faii_sample_task();
	t.task_id = id;
	return faii_sample_encode_task(buf, FRAME_MAX, &t, payload);
}

/* Messages that parse but that the appliance must refuse, one kind per
 * authentication check; returns how many of each kind. */
enum {
	V1_TASKS = 3,       /* task_unauthenticated */
	UNKNOWN_CLIENT = 2, /* task_unknown_client: a client id with no key */
	BAD_EPOCH = 2,      /* task_bad_key_epoch: the client's key of another epoch */
	BAD_MAC = 2,        /* task_bad_mac: a payload byte changed after the MAC */
	V1_RESULTS = 2,     /* result_unauthenticated */
};

static void emit_refused(uint8_t *buf)
{
	struct faii_task t = faii_sample_task();
	for (unsigned i = 0; i < V1_TASKS; i++) {
		t.task_id = 3000 + i;
		emit(buf, faii_encode_task(buf, FRAME_MAX, &t, payload), i % 2 == 1);
	}
	for (unsigned i = 0; i < UNKNOWN_CLIENT; i++) {
		struct faii_task u = faii_sample_task();
		u.task_id = 3100 + i;
		u.client_id = 5000 + i; /* the demo keys are of clients 1..100 */
		emit(buf, faii_sample_encode_task(buf, FRAME_MAX, &u, payload), false);
	}
	for (unsigned i = 0; i < BAD_EPOCH; i++) {
		size_t n = make_task(buf, 3200 + i);
		struct faii_auth_block *a =
		        (struct faii_auth_block *)(buf + FAII_HDR_SIZE + FAII_TASK_BODY_SIZE);
		uint8_t key[FAII_MAC_KEY_SIZE];
		a->key_epoch = FAII_SAMPLE_KEY_EPOCH + 1;
		faii_demo_client_key(t.client_id, a->key_epoch, key);
		faii_msg_mac_sign(buf, n, key); /* a good MAC under a key not configured */
		emit(buf, n, false);
	}
	for (unsigned i = 0; i < BAD_MAC; i++) {
		size_t n = make_task(buf, 3300 + i);
		buf[n - 1] ^= 0x01;
		emit(buf, n, i % 2 == 1);
	}
	for (unsigned i = 0; i < V1_RESULTS; i++) {
		struct faii_result r = faii_sample_result();
		r.task_id = 3400 + i;
		r.node_id = NODE_ID;
		emit(buf, faii_encode_result(buf, FRAME_MAX, &r, payload), false);
	}
}

int main(int argc, char **argv)
{
	enum {
		TASKS_V4 = 40,
		TASKS_V6 = 10,
		RESULTS = 7,
		SIGNED_EACH = 3,
		BAD_MAGIC = 5,
		TIER_MISMATCH = 4,
		TOO_SHORT = 3
	};
	uint8_t buf[FRAME_MAX], pk[32], sk[64];
	if (argc < 2 || argc > 3 || sodium_init() < 0) {
		fprintf(stderr, "usage: make_traffic OUT.pcap [PIPELINE.txt]\n");
		return 2;
	}
	faii_sample_payload(payload, sizeof(payload));
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	dumper = pcap_dump_open(dead, argv[1]);
	if (dumper == NULL) {
		fprintf(stderr, "make_traffic: %s\n", pcap_geterr(dead));
		return 1;
	}
	for (uint64_t i = 0; i < TASKS_V4 + TASKS_V6; i++)
		emit(buf, make_task(buf, i + 1), i >= TASKS_V4);
	for (unsigned i = 0; i < RESULTS; i++) {
		struct faii_result r = faii_sample_result();
		struct faii_auth_block a = faii_sample_auth(FAII_MSG_RESULT);
		r.task_id = i + 1;
		r.node_id = NODE_ID;
		emit(buf, faii_sample_encode_result(buf, sizeof(buf), &r, &a, payload), false);
	}
	emit_refused(buf);
	faii_demo_node_keypair(NODE_ID, pk, sk);
	for (unsigned i = 0; i < SIGNED_EACH; i++) {
		struct faii_heartbeat hb = faii_sample_heartbeat();
		struct faii_attest at = faii_sample_attest();
		struct faii_register rg = faii_sample_register();
		hb.node_id = at.node_id = rg.node_id = NODE_ID;
		hb.seq = at.seq = i + 1;
		memcpy(rg.public_key, pk, sizeof(pk));
		emit_signed(buf, faii_encode_heartbeat(buf, sizeof(buf), &hb), sk, false);
		emit_signed(buf, faii_encode_attest(buf, sizeof(buf), &at), sk, true);
		emit_signed(buf, faii_encode_register(buf, sizeof(buf), &rg), sk, false);
	}
	for (unsigned i = 0; i < BAD_MAGIC; i++) {
		size_t n = make_task(buf, 1000 + i);
		buf[0] = 0xDE;
		emit(buf, n, false);
	}
	for (unsigned i = 0; i < TIER_MISMATCH; i++) {
		size_t n = make_task(buf, 2000 + i);
		buf[8 + offsetof(struct faii_task, tier)] = 3; /* edge inference is tier 1 */
		emit(buf, n, i % 2 == 1);
	}
	for (unsigned i = 0; i < TOO_SHORT; i++)
		emit(buf, 4 + i, false);
	pcap_dump_close(dumper);
	pcap_close(dead);

	printf("task %d\nresult %d\nheartbeat %d\nattest %d\nregister %d\n",
	       TASKS_V4 + TASKS_V6 + V1_TASKS + UNKNOWN_CLIENT + BAD_EPOCH + BAD_MAC,
	       RESULTS + V1_RESULTS, SIGNED_EACH, SIGNED_EACH, SIGNED_EACH);
	printf("bad_magic %d\ntier_mismatch %d\ntoo_short %d\n", BAD_MAGIC, TIER_MISMATCH,
	       TOO_SHORT);
	if (argc == 3) {
		FILE *f = fopen(argv[2], "w");
		if (f == NULL) {
			perror(argv[2]);
			return 1;
		}
		/* The RESULTs of the sample node answer tasks never dispatched. */
		fprintf(f,
		        "task_unauthenticated %d\ntask_unknown_client %d\ntask_bad_key_epoch %d\n"
		        "task_bad_mac %d\nresult_unauthenticated %d\nresult_unknown_task %d\n",
		        V1_TASKS, UNKNOWN_CLIENT, BAD_EPOCH, BAD_MAC, V1_RESULTS, RESULTS);
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}
