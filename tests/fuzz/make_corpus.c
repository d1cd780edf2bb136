/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes the seed corpus of fuzz_wire: one valid message of each type (and a
 * few variants), and a few Ethernet frames carrying them, built with the
 * encoders so that the seeds are correct by construction. Signed types carry
 * a real Ed25519 signature under a fixed test key, so the seeds are stable.
 *
 *   make_corpus OUTDIR      (the committed seeds are in tests/fuzz/corpus/)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "faii/wire.h"

static const char *outdir;
static uint8_t sk[crypto_sign_SECRETKEYBYTES];
static uint8_t pk[crypto_sign_PUBLICKEYBYTES];

static void check_valid(const char *name, const uint8_t *msg, size_t len)
{
	struct faii_msg_view view;
	enum faii_drop reason = faii_parse(msg, len, &view);
	if (reason != FAII_OK) {
		fprintf(stderr, "make_corpus: %s does not parse: %s\n", name,
		        faii_drop_name(reason));
		exit(1);
	}
}

static void write_seed(const char *name, const uint8_t *bytes, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void write_msg(const char *name, uint8_t *msg, size_t len)
{
	if (len == 0) {
		fprintf(stderr, "make_corpus: %s: encoder failed\n", name);
		exit(1);
	}
	if (faii_msg_is_signed(msg[3]) && faii_msg_sign(msg, len, sk) != 0) {
		fprintf(stderr, "make_corpus: %s: signing failed\n", name);
		exit(1);
	}
	check_valid(name, msg, len);
	write_seed(name, msg, len);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet (optionally one 802.1Q tag) + IPv4 or IPv6 + UDP around msg. */
static size_t build_frame(uint8_t *f, size_t cap, int ip_version, int vlan, const uint8_t *msg,
                          size_t msg_len)
{
	static const uint8_t dst_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
	size_t l3 = vlan ? 18 : 14;
	size_t ip_len = ip_version == 4 ? 20 : 40;
	size_t l4 = l3 + ip_len;
	size_t udp_len = 8 + msg_len;
	size_t total = l4 + udp_len;
	if (total > cap)
		return 0;
	memset(f, 0, total);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	if (vlan) {
		put16(f + 12, 0x8100);
		put16(f + 14, 100); /* VLAN 100, priority 0 */
		put16(f + 16, 0x0800);
	}
	put16(f + l3 - 2, ip_version == 4 ? 0x0800 : 0x86DD);

	uint8_t *ip = f + l3;
	uint32_t pseudo = 0;
	if (ip_version == 4) {
		static const uint8_t src[4] = {192, 0, 2, 10}, dst[4] = {192, 0, 2, 1};
		ip[0] = 0x45;
		put16(ip + 2, ip_len + udp_len);
		put16(ip + 4, 0x1234); /* identification */
		put16(ip + 6, 0x4000); /* don't fragment */
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		pseudo = csum_add(pseudo, ip + 12, 8);
	} else {
		static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x0a};
		static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
		ip[0] = 0x60;
		put16(ip + 4, udp_len);
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		pseudo = csum_add(pseudo, ip + 8, 32);
	}
	uint8_t *udp = f + l4;
	put16(udp, 40000);
	put16(udp + 2, FAII_UDP_PORT_DEFAULT);
	put16(udp + 4, udp_len);
	memcpy(udp + 8, msg, msg_len);
	pseudo += 17 + (uint32_t)udp_len;
	uint16_t sum = csum_fold(csum_add(pseudo, udp, udp_len));
	put16(udp + 6, sum == 0 ? 0xFFFF : sum);
	return total;
}

static void write_frame(const char *name, int ip_version, int vlan, const uint8_t *msg,
                        size_t msg_len)
{
	uint8_t frame[2048];
	size_t len = build_frame(frame, sizeof(frame), ip_version, vlan, msg, msg_len);
	struct faii_frame_view fv;
	enum faii_drop reason = len ? faii_parse_frame(frame, len, FAII_UDP_PORT_DEFAULT, &fv)
	                            : FAII_DROP_TOO_SHORT;
	if (reason != FAII_OK) {
		fprintf(stderr, "make_corpus: %s does not parse: %s\n", name,
		        faii_drop_name(reason));
		exit(1);
	}
	write_seed(name, frame, len);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (sodium_init() < 0)
		return 1;
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);

	uint8_t payload[FAII_TASK_PAYLOAD_MAX];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	uint8_t task_msg[FAII_MSG_SIZE_MAX], result_msg[FAII_MSG_SIZE_MAX];
	uint8_t hb_msg[FAII_MSG_SIZE_MAX], msg[FAII_MSG_SIZE_MAX];
	size_t task_len, result_len, hb_len, len;

	/* TASK from a client: no dispatch fields. */
	struct faii_task task = {
	        .task_id = 0x0102030405060708ull,
	        .client_id = 77,
	        .submit_ts_ns = 1795000000000000000ull,
	        .latency_budget_us = 20000,
	        .origin_region = 12,
	        .residency_class = 3,
	        .min_reputation_milli = 500,
	        .payload_len = 64,
	        .category = FAII_CAT_EDGE_INFERENCE,
	        .tier = 1,
	        .consistency = FAII_CONSISTENCY_EVENTUAL,
	};
	task_len = faii_encode_task(task_msg, sizeof(task_msg), &task, payload);
	write_msg("task_client", task_msg, task_len);

	/* TASK dispatched as replica 4 of a strong set, re-dispatched. */
	struct faii_task t2 = task;
	t2.category = FAII_CAT_LEDGER_WORK;
	t2.tier = 4;
	t2.consistency = FAII_CONSISTENCY_STRONG;
	t2.node_id = 4242;
	t2.dispatch_ts_ns = task.submit_ts_ns + 150000;
	t2.replica_index = 4;
	t2.attempt = 1;
	t2.payload_len = 200;
	len = faii_encode_task(msg, sizeof(msg), &t2, payload);
	write_msg("task_dispatched_replica", msg, len);

	/* TASK with no payload and with the largest payload. */
	struct faii_task t3 = task;
	t3.category = FAII_CAT_INTERACTIVE_INFERENCE;
	t3.tier = 3;
	t3.payload_len = 0;
	len = faii_encode_task(msg, sizeof(msg), &t3, NULL);
	write_msg("task_empty", msg, len);
	t3.payload_len = FAII_TASK_PAYLOAD_MAX;
	len = faii_encode_task(msg, sizeof(msg), &t3, payload);
	write_msg("task_max", msg, len);

	/* RESULT from a node, and the appliance's own refusal. */
	struct faii_result result = {
	        .task_id = task.task_id,
	        .dispatch_ts_ns = t2.dispatch_ts_ns,
	        .node_id = 4242,
	        .exec_time_us = 1800,
	        .status = FAII_RESULT_OK,
	        .replica_index = 0,
	        .payload_len = 32,
	};
	memset(result.result_hash, 0xAB, sizeof(result.result_hash));
	result_len = faii_encode_result(result_msg, sizeof(result_msg), &result, payload);
	write_msg("result_ok", result_msg, result_len);
	struct faii_result r2 = {
	        .task_id = 9,
	        .status = FAII_RESULT_NO_FEASIBLE_NODE,
	};
	len = faii_encode_result(msg, sizeof(msg), &r2, NULL);
	write_msg("result_no_feasible_node", msg, len);

	struct faii_heartbeat hb = {
	        .node_id = 4242,
	        .seq = 17,
	        .timestamp_ns = 1795000000000000000ull,
	        .uptime_s = 86400,
	        .tasks_completed = 123456,
	        .tasks_failed = 12,
	        .outstanding_tasks = 3,
	        .queue_depth = 5,
	        .load_permille = 420,
	};
	hb_len = faii_encode_heartbeat(hb_msg, sizeof(hb_msg), &hb);
	write_msg("heartbeat", hb_msg, hb_len);

	struct faii_attest att = {
	        .node_id = 4242,
	        .seq = 3,
	        .timestamp_ns = 1795000000000000000ull,
	        .meter_id = 0xDEADBEEF,
	        .interval_start_s = 1794999100,
	        .interval_s = 900,
	        .energy_wh = 1250,
	        .pue_milli = 1150,
	        .energy_to_work_milli = 35,
	        .grid_stress_permille = 200,
	        .source_mix_permille = {400, 300, 100, 0, 50, 0, 50, 100},
	};
	len = faii_encode_attest(msg, sizeof(msg), &att);
	write_msg("attest", msg, len);

	struct faii_register reg = {
	        .node_id = 4242,
	        .operator_id = 9,
	        .asn = 64500,
	        .capacity_tasks_per_s = 2000,
	        .price_micro = 150,
	        .region = 12,
	        .node_class = FAII_CLASS_MEDIUM,
	        .eligibility = 0x3F,
	        .country = {'D', 'E'},
	        .addr_family = FAII_ADDR_IPV4,
	        .addr = {198, 51, 100, 7},
	        .udp_port = 7411,
	        .timestamp_ns = 1795000000000000000ull,
	};
	memcpy(reg.public_key, pk, sizeof(reg.public_key));
	len = faii_encode_register(msg, sizeof(msg), &reg);
	write_msg("register_ipv4", msg, len);
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
	reg.addr_family = FAII_ADDR_IPV6;
	memcpy(reg.addr, v6, sizeof(v6));
	reg.node_class = FAII_CLASS_XL;
	reg.eligibility = 0x05;
	len = faii_encode_register(msg, sizeof(msg), &reg);
	write_msg("register_ipv6", msg, len);

	/* Frames: IPv4, IPv4 behind a VLAN tag, IPv6. */
	write_frame("frame_ipv4_task", 4, 0, task_msg, task_len);
	write_frame("frame_vlan_ipv4_heartbeat", 4, 1, hb_msg, hb_len);
	write_frame("frame_ipv6_result", 6, 0, result_msg, result_len);
	write_frame("frame_vlan_ipv6_task", 6, 1, task_msg, task_len);
	return 0;
}
