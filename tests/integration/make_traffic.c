/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a pcap of client and node traffic with known counts, for feeding
 * faiid through DPDK's net_pcap device: valid messages of every type over
 * IPv4 and IPv6, and malformed ones of several drop reasons. The expected
 * counters are printed on stdout as "name count" lines.
 *
 *   make_traffic OUT.pcap
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

/* The sample TASK with its own id. */
static size_t make_task(uint8_t *buf, uint64_t id)
{
	struct faii_task t = faii_sample_task();
	t.task_id = id;
	return faii_encode_task(buf, FRAME_MAX, &t, payload);
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
	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: make_traffic OUT.pcap\n");
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
		r.task_id = i + 1;
		r.node_id = NODE_ID;
		emit(buf, faii_encode_result(buf, sizeof(buf), &r, payload), false);
	}
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

	printf("task %d\nresult %d\nheartbeat %d\nattest %d\nregister %d\n", TASKS_V4 + TASKS_V6,
	       RESULTS, SIGNED_EACH, SIGNED_EACH, SIGNED_EACH);
	printf("bad_magic %d\ntier_mismatch %d\ntoo_short %d\n", BAD_MAGIC, TIER_MISMATCH,
	       TOO_SHORT);
	return 0;
}
