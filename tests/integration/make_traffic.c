/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a pcap of client and node traffic with known counts, for feeding
 * faiid through DPDK's net_pcap device: valid messages of every type over
 * IPv4 and IPv6, and malformed ones of several drop reasons. The expected
 * counters are printed on stdout as "name count" lines.
 *
 *   make_traffic OUT.pcap
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>
#include <sodium.h>

#include "faii/demo.h"
#include "faii/wire.h"

#define FRAME_MAX 1600

static pcap_dumper_t *dumper;

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Wraps msg in Ethernet/IPv4 or IPv6/UDP to port 7410 and appends it. */
static void emit(const void *msg, size_t len, bool ipv6)
{
	uint8_t f[FRAME_MAX] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
	size_t l3 = 14, l4 = ipv6 ? 54 : 34, udp_len = 8 + len;
	f[12] = ipv6 ? 0x86 : 0x08;
	f[13] = ipv6 ? 0xDD : 0x00;
	if (ipv6) {
		f[l3] = 0x60;
		f[l3 + 4] = (uint8_t)(udp_len >> 8);
		f[l3 + 5] = (uint8_t)udp_len;
		f[l3 + 6] = 17;
		f[l3 + 7] = 64;
		inet_pton(AF_INET6, "2001:db8::1", f + l3 + 8);
		inet_pton(AF_INET6, "2001:db8::2", f + l3 + 24);
	} else {
		size_t total = 20 + udp_len;
		f[l3] = 0x45;
		f[l3 + 2] = (uint8_t)(total >> 8);
		f[l3 + 3] = (uint8_t)total;
		f[l3 + 8] = 64;
		f[l3 + 9] = 17;
		inet_pton(AF_INET, "198.18.0.1", f + l3 + 12);
		inet_pton(AF_INET, "198.18.0.2", f + l3 + 16);
		uint16_t sum = ip_checksum(f + l3, 20);
		f[l3 + 10] = (uint8_t)(sum >> 8);
		f[l3 + 11] = (uint8_t)sum;
	}
	f[l4] = 0x9C; /* source port 40000 */
	f[l4 + 1] = 0x40;
	f[l4 + 2] = (uint8_t)(FAII_UDP_PORT_DEFAULT >> 8);
	f[l4 + 3] = (uint8_t)FAII_UDP_PORT_DEFAULT;
	f[l4 + 4] = (uint8_t)(udp_len >> 8);
	f[l4 + 5] = (uint8_t)udp_len;
	memcpy(f + l4 + 8, msg, len);
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)(l4 + udp_len),
	                        .len = (bpf_u_int32)(l4 + udp_len)};
	pcap_dump((u_char *)dumper, &h, f);
}

static size_t make_task(uint8_t *buf, uint64_t id)
{
	static const char payload[] = "classify: what is in this picture?";
	struct faii_task t = {
	        .task_id = id,
	        .client_id = 42,
	        .submit_ts_ns = 1790000000000000000ull,
	        .latency_budget_us = 50000,
	        .origin_region = 1,
	        .residency_class = 2,
	        .min_reputation_milli = 500,
	        .payload_len = sizeof(payload),
	        .category = FAII_CAT_EDGE_INFERENCE,
	        .tier = 1,
	};
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
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	dumper = pcap_dump_open(dead, argv[1]);
	if (dumper == NULL) {
		fprintf(stderr, "make_traffic: %s\n", pcap_geterr(dead));
		return 1;
	}
	for (uint64_t i = 0; i < TASKS_V4 + TASKS_V6; i++)
		emit(buf, make_task(buf, i + 1), i >= TASKS_V4);
	for (unsigned i = 0; i < RESULTS; i++) {
		struct faii_result r = {
		        .task_id = i + 1, .dispatch_ts_ns = 1, .node_id = 7, .exec_time_us = 1200};
		memset(r.result_hash, 0xAB, sizeof(r.result_hash));
		emit(buf, faii_encode_result(buf, sizeof(buf), &r, NULL), false);
	}
	faii_demo_node_keypair(7, pk, sk);
	for (unsigned i = 0; i < SIGNED_EACH; i++) {
		struct faii_heartbeat hb = {
		        .node_id = 7, .seq = i + 1, .timestamp_ns = 1, .load_permille = 300};
		size_t n = faii_encode_heartbeat(buf, sizeof(buf), &hb);
		faii_msg_sign(buf, n, sk);
		emit(buf, n, false);
		struct faii_attest at = {.node_id = 7,
		                         .seq = i + 1,
		                         .timestamp_ns = 1,
		                         .meter_id = 99,
		                         .interval_start_s = 1,
		                         .interval_s = 900,
		                         .energy_wh = 5000,
		                         .pue_milli = 1200,
		                         .energy_to_work_milli = 40,
		                         .source_mix_permille = {500, 200, 300}};
		n = faii_encode_attest(buf, sizeof(buf), &at);
		faii_msg_sign(buf, n, sk);
		emit(buf, n, true);
		struct faii_register rg = {.node_id = 7,
		                           .operator_id = 3,
		                           .asn = 64512,
		                           .capacity_tasks_per_s = 20,
		                           .price_micro = 1000000,
		                           .region = 1,
		                           .node_class = FAII_CLASS_SMALL,
		                           .eligibility = 0x0F,
		                           .country = {'C', 'H'},
		                           .addr_family = FAII_ADDR_IPV4,
		                           .addr = {198, 18, 0, 8},
		                           .udp_port = 7410,
		                           .timestamp_ns = 1};
		memcpy(rg.public_key, pk, sizeof(pk));
		n = faii_encode_register(buf, sizeof(buf), &rg);
		faii_msg_sign(buf, n, sk);
		emit(buf, n, false);
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
