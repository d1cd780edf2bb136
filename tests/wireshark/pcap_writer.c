/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a pcap of faii messages built with the project's own encoders, for
 * the Wireshark dissector test (tshark_decode.sh). Every value is fixed and the
 * Ed25519 key comes from a fixed seed, so the capture is byte-for-byte
 * reproducible and the test can assert exact decodes.
 *
 * Every frame is also run through faii_parse_frame(): the program fails when
 * the C parser's verdict differs from the one the frame was built to have, so
 * the dissector's drop reasons are checked against the real parser's.
 *
 * The frame order is part of the test's contract; see tshark_decode.sh.
 *
 * Usage: pcap_writer OUT.pcap
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <sodium.h>

#include "faii/frame.h"
#include "faii/wire.h"

enum {
	FRAME_MAX = FAII_FRAME_HDR_MAX + FAII_MSG_SIZE_MAX,
	SRC_PORT = 49152,
	ALT_PORT = 7500, /* the last frame, for the dissector's port preference */
	MSG_TYPE_UNKNOWN = 9,
};

static const uint8_t ip4_src[4] = {192, 0, 2, 1};
static const uint8_t ip4_dst[4] = {192, 0, 2, 2};
static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x02};

/* Fixed values shared by several messages. */
#define TASK_ID     0x1122334455667788ull
#define CLIENT_ID   0xA1B2C3D4E5F60718ull
#define SUBMIT_TS   1700000000123456789ull
#define DISPATCH_TS 1700000000223456789ull
#define NODE_ID     0x00ABCDEFu
#define REGION      291u

static uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
static uint8_t public_key[crypto_sign_PUBLICKEYBYTES];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Wraps msg in Ethernet, IPv4 or IPv6, and UDP to dport; returns the frame length. */
static size_t build_frame(uint8_t *frame, int ip_version, uint16_t dport, uint16_t ip_id,
                          const uint8_t *msg, size_t msg_len)
{
	struct faii_frame_spec spec = {
	        .dst_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
	        .src_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
	        .ipv6 = ip_version == 6,
	        .ip_id = ip_id,
	        .src_port = SRC_PORT,
	        .dst_port = dport,
	};
	memcpy(spec.src_ip, spec.ipv6 ? ip6_src : ip4_src, spec.ipv6 ? 16 : 4);
	memcpy(spec.dst_ip, spec.ipv6 ? ip6_dst : ip4_dst, spec.ipv6 ? 16 : 4);
	return faii_frame_build(frame, FRAME_MAX, &spec, msg, msg_len);
}

/* A dispatched replica: interactive inference, session consistency. */
static size_t msg_task_dispatched(uint8_t *buf)
{
	static const char payload[] = "hello";
	struct faii_task t = {
	        .task_id = TASK_ID,
	        .client_id = CLIENT_ID,
	        .submit_ts_ns = SUBMIT_TS,
	        .dispatch_ts_ns = DISPATCH_TS,
	        .node_id = NODE_ID,
	        .latency_budget_us = 250000,
	        .origin_region = REGION,
	        .residency_class = 42,
	        .min_reputation_milli = 750,
	        .payload_len = sizeof(payload) - 1,
	        .category = FAII_CAT_INTERACTIVE_INFERENCE,
	        .tier = 3,
	        .consistency = FAII_CONSISTENCY_SESSION,
	        .replica_index = 2,
	        .attempt = 1,
	};
	return faii_encode_task(buf, FAII_MSG_SIZE_MAX, &t, payload);
}

/* A client's submission, sent over IPv6: edge inference, eventual. */
static size_t msg_task_client(uint8_t *buf)
{
	static const uint8_t payload[16] = {0xC0, 0xFF, 0xEE, [15] = 0x01};
	struct faii_task t = {
	        .task_id = 0x0102030405060708ull,
	        .client_id = 0x0000000000C11E47ull,
	        .submit_ts_ns = SUBMIT_TS,
	        .latency_budget_us = 5000,
	        .origin_region = 1023,
	        .residency_class = 63,
	        .min_reputation_milli = 0,
	        .payload_len = sizeof(payload),
	        .category = FAII_CAT_EDGE_INFERENCE,
	        .tier = 1,
	        .consistency = FAII_CONSISTENCY_EVENTUAL,
	};
	return faii_encode_task(buf, FAII_MSG_SIZE_MAX, &t, payload);
}

static size_t msg_result(uint8_t *buf)
{
	static const char payload[] = "result!";
	struct faii_result r = {
	        .task_id = TASK_ID,
	        .dispatch_ts_ns = DISPATCH_TS,
	        .node_id = NODE_ID,
	        .exec_time_us = 12345,
	        .status = FAII_RESULT_ERROR,
	        .replica_index = 2,
	        .payload_len = sizeof(payload) - 1,
	};
	for (unsigned i = 0; i < FAII_HASH_SIZE; i++)
		r.result_hash[i] = (uint8_t)(0xA0 + i);
	return faii_encode_result(buf, FAII_MSG_SIZE_MAX, &r, payload);
}

static size_t msg_heartbeat(uint8_t *buf)
{
	struct faii_heartbeat hb = {
	        .node_id = NODE_ID,
	        .seq = 0x01020304,
	        .timestamp_ns = 1700000001000000000ull,
	        .uptime_s = 259207,
	        .tasks_completed = 0x0000000100000002ull,
	        .tasks_failed = 17,
	        .outstanding_tasks = 9,
	        .queue_depth = 33,
	        .load_permille = 625,
	};
	size_t len = faii_encode_heartbeat(buf, FAII_MSG_SIZE_MAX, &hb);
	return len != 0 && faii_msg_sign(buf, len, secret_key) == 0 ? len : 0;
}

static size_t msg_attest(uint8_t *buf, uint16_t nonrenewable)
{
	struct faii_attest a = {
	        .node_id = NODE_ID,
	        .seq = 77,
	        .timestamp_ns = 1700000002000000000ull,
	        .meter_id = 0xDEADBEEFCAFEF00Dull,
	        .interval_start_s = 1700000000,
	        .interval_s = 900,
	        .energy_wh = 4321,
	        .pue_milli = 1150,
	        .energy_to_work_milli = 2500,
	        .grid_stress_permille = 300,
	        .source_mix_permille = {400, 250, 100, 50, 40, 30, 20, nonrenewable},
	};
	size_t len = faii_encode_attest(buf, FAII_MSG_SIZE_MAX, &a);
	return len != 0 && faii_msg_sign(buf, len, secret_key) == 0 ? len : 0;
}

static size_t msg_register(uint8_t *buf, uint8_t family)
{
	static const uint8_t addr4[4] = {198, 51, 100, 23};
	static const uint8_t addr6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 0x17};
	struct faii_register r = {
	        .node_id = NODE_ID,
	        .operator_id = 0x00C0FFEE,
	        .asn = 64512,
	        .capacity_tasks_per_s = 1200,
	        .price_micro = 350,
	        .region = REGION,
	        .node_class = FAII_CLASS_LARGE,
	        .eligibility = 0x2D, /* edge, dag_validation, interactive, ledger_work */
	        .country = {'D', 'E'},
	        .addr_family = family,
	        .udp_port = 7411,
	        .timestamp_ns = 1700000003000000000ull,
	};
	if (family == FAII_ADDR_IPV4) {
		memcpy(r.addr, addr4, sizeof(addr4));
	} else {
		memcpy(r.addr, addr6, sizeof(addr6));
		r.node_id = 0x00000102;
		r.node_class = FAII_CLASS_XL;
		r.eligibility = 0x12; /* storage_shard, batch_inference */
		r.country[0] = 'S';
		r.country[1] = 'E';
	}
	memcpy(r.public_key, public_key, FAII_PUBKEY_SIZE);
	size_t len = faii_encode_register(buf, FAII_MSG_SIZE_MAX, &r);
	return len != 0 && faii_msg_sign(buf, len, secret_key) == 0 ? len : 0;
}

/* Malformed messages, each built to trip exactly one drop reason. */
static size_t msg_bad_magic(uint8_t *buf)
{
	size_t len = msg_heartbeat(buf);
	buf[1] = 0x12; /* 0xFA12 */
	return len;
}

static size_t msg_bad_length(uint8_t *buf)
{
	size_t len = msg_task_dispatched(buf);
	put16(buf + 4, (uint16_t)(len + 4));
	return len;
}

/* Four bytes after a HEARTBEAT; fix_length: the header counts them too. */
static size_t heartbeat_trailer(uint8_t *buf, bool fix_length)
{
	size_t len = msg_heartbeat(buf);
	if (len == 0)
		return 0;
	memcpy(buf + len, "\x01\x02\x03\x04", 4);
	len += 4;
	if (fix_length)
		put16(buf + 4, (uint16_t)len);
	return len;
}

/* The datagram is longer than the header's length. */
static size_t msg_datagram_longer(uint8_t *buf)
{
	return heartbeat_trailer(buf, false);
}

/* Length and datagram agree, but a HEARTBEAT has a fixed size. */
static size_t msg_not_fixed_size(uint8_t *buf)
{
	return heartbeat_trailer(buf, true);
}

static size_t msg_tier_mismatch(uint8_t *buf)
{
	struct faii_task t = {
	        .task_id = 0x00000000000000AAull,
	        .client_id = CLIENT_ID,
	        .submit_ts_ns = SUBMIT_TS,
	        .latency_budget_us = 1000,
	        .origin_region = REGION,
	        .residency_class = 1,
	        .category = FAII_CAT_BATCH_INFERENCE, /* tier 4 */
	        .tier = 2,
	};
	return faii_encode_task(buf, FAII_MSG_SIZE_MAX, &t, NULL);
}

/* A well-formed header of an undefined type, then four bytes. */
static size_t msg_unknown_type(uint8_t *buf)
{
	enum { LEN = FAII_HDR_SIZE + 4 };
	static const uint8_t hdr[FAII_HDR_SIZE] = {
	        0xFA, 0x11, FAII_VERSION, MSG_TYPE_UNKNOWN, 0, LEN, 0, 0};
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + FAII_HDR_SIZE, "\xDE\xAD\xBE\xEF", 4);
	return LEN;
}

/* A RESULT cut after its reserved field: the result hash is missing. */
static size_t msg_too_short(uint8_t *buf)
{
	enum { CUT = FAII_HDR_SIZE + 32 };
	if (msg_result(buf) == 0)
		return 0;
	put16(buf + 4, CUT);
	return CUT;
}

static size_t msg_bad_flags(uint8_t *buf)
{
	size_t len = msg_heartbeat(buf);
	buf[6] = FAII_F_DISPATCHED; /* only a TASK may carry flags */
	return len != 0 && faii_msg_sign(buf, len, secret_key) == 0 ? len : 0;
}

static size_t msg_bad_energy_mix(uint8_t *buf)
{
	return msg_attest(buf, 109);
}

static size_t msg_valid_attest(uint8_t *buf)
{
	return msg_attest(buf, 110);
}
static size_t msg_register_v4(uint8_t *buf)
{
	return msg_register(buf, FAII_ADDR_IPV4);
}
static size_t msg_register_v6(uint8_t *buf)
{
	return msg_register(buf, FAII_ADDR_IPV6);
}

/* Version 2: the dispatched TASK of frame 1 with its auth block, MAC'd. */
static const uint8_t auth_key[FAII_MAC_KEY_SIZE] = {0x42};

static size_t msg_task_v2(uint8_t *buf)
{
	uint8_t v1[FAII_MSG_SIZE_MAX];
	size_t n = msg_task_dispatched(v1);
	struct faii_msg_view view;
	if (n == 0 || faii_parse(v1, n, &view) != FAII_OK)
		return 0;
	struct faii_task t;
	faii_decode_task(&view, &t);
	const struct faii_auth_block a = {.nonce = {0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8},
	                                  .key_epoch = 3};
	size_t len = faii_encode_task_v2(buf, FAII_MSG_SIZE_MAX, &t, &a, view.payload);
	return len && faii_msg_mac_sign(buf, len, auth_key) == 0 ? len : 0;
}

static size_t msg_result_v2(uint8_t *buf)
{
	uint8_t v1[FAII_MSG_SIZE_MAX];
	size_t n = msg_result(v1);
	struct faii_msg_view view;
	if (n == 0 || faii_parse(v1, n, &view) != FAII_OK)
		return 0;
	struct faii_result r;
	faii_decode_result(&view, &r);
	const struct faii_auth_block a = {.nonce = {0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8},
	                                  .key_epoch = 3};
	size_t len = faii_encode_result_v2(buf, FAII_MSG_SIZE_MAX, &r, &a, view.payload);
	return len && faii_msg_mac_sign(buf, len, auth_key) == 0 ? len : 0;
}

/* A client's version 2 TASK that carries a nonce: only the appliance sets one. */
static size_t msg_task_v2_client_nonce(uint8_t *buf)
{
	uint8_t v1[FAII_MSG_SIZE_MAX];
	size_t n = msg_task_client(v1);
	struct faii_msg_view view;
	if (n == 0 || faii_parse(v1, n, &view) != FAII_OK)
		return 0;
	struct faii_task t;
	faii_decode_task(&view, &t);
	const struct faii_auth_block a = {.nonce = {1}};
	return faii_encode_task_v2(buf, FAII_MSG_SIZE_MAX, &t, &a, view.payload);
}

/* The appliance's own answers: no_quorum (5) is the last status defined, 6
 * is the first that is not. */
static size_t msg_result_status(uint8_t *buf, uint8_t status)
{
	struct faii_result r = {.task_id = TASK_ID, .node_id = NODE_ID, .status = status};
	return faii_encode_result(buf, FAII_MSG_SIZE_MAX, &r, NULL);
}

static size_t msg_result_no_quorum(uint8_t *buf)
{
	return msg_result_status(buf, FAII_RESULT_NO_QUORUM);
}

static size_t msg_result_status_6(uint8_t *buf)
{
	return msg_result_status(buf, FAII_RESULT_NO_QUORUM + 1);
}

struct frame_spec {
	const char *name;
	size_t (*build)(uint8_t *buf);
	int ip_version;
	uint16_t dport;
	enum faii_drop expect;
};

/* Frame N of the capture is frames[N - 1]. */
static const struct frame_spec frames[] = {
        {"task dispatched", msg_task_dispatched, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"task from client", msg_task_client, 6, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"result", msg_result, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"heartbeat", msg_heartbeat, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"attest", msg_valid_attest, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"register ipv4", msg_register_v4, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"register ipv6", msg_register_v6, 6, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"bad magic", msg_bad_magic, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_MAGIC},
        {"bad length", msg_bad_length, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_LENGTH},
        {"tier mismatch", msg_tier_mismatch, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_TIER_MISMATCH},
        {"unknown type", msg_unknown_type, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_UNKNOWN_TYPE},
        {"too short", msg_too_short, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_TOO_SHORT},
        {"bad flags", msg_bad_flags, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_FLAGS},
        {"bad energy mix", msg_bad_energy_mix, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_ENERGY_MIX},
        {"datagram longer", msg_datagram_longer, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_LENGTH},
        {"not fixed size", msg_not_fixed_size, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_LENGTH},
        {"heartbeat, other port", msg_heartbeat, 4, ALT_PORT, FAII_OK},
        {"task v2 dispatched", msg_task_v2, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"result v2", msg_result_v2, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"task v2 client with nonce", msg_task_v2_client_nonce, 4, FAII_UDP_PORT_DEFAULT,
         FAII_DROP_BAD_DISPATCH},
        {"result no_quorum", msg_result_no_quorum, 4, FAII_UDP_PORT_DEFAULT, FAII_OK},
        {"result status 6", msg_result_status_6, 4, FAII_UDP_PORT_DEFAULT, FAII_DROP_BAD_STATUS},
};

/* Cross-checks a frame with the C parser; signed messages must verify. */
static int check_frame(const struct frame_spec *spec, const uint8_t *frame, size_t len)
{
	struct faii_frame_view view;
	enum faii_drop got = faii_parse_frame(frame, len, spec->dport, &view);
	if (got != spec->expect) {
		fprintf(stderr, "pcap_writer: frame '%s': faii_parse_frame says %s, want %s\n",
		        spec->name, faii_drop_name(got), faii_drop_name(spec->expect));
		return -1;
	}
	if (got == FAII_OK && faii_msg_is_signed(view.msg.type) &&
	    faii_msg_verify(&view.msg, public_key) != 0) {
		fprintf(stderr, "pcap_writer: frame '%s': signature does not verify\n", spec->name);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.pcap\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "pcap_writer: sodium_init failed\n");
		return 1;
	}
	uint8_t seed[crypto_sign_SEEDBYTES];
	for (unsigned i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(public_key, secret_key, seed);

	pcap_t *pcap = pcap_open_dead(DLT_EN10MB, 65535);
	if (pcap == NULL) {
		fprintf(stderr, "pcap_writer: pcap_open_dead failed\n");
		return 1;
	}
	pcap_dumper_t *dumper = pcap_dump_open(pcap, argv[1]);
	if (dumper == NULL) {
		fprintf(stderr, "pcap_writer: %s: %s\n", argv[1], pcap_geterr(pcap));
		pcap_close(pcap);
		return 1;
	}

	int rc = 0;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]) && rc == 0; i++) {
		const struct frame_spec *spec = &frames[i];
		uint8_t msg[FAII_MSG_SIZE_MAX];
		uint8_t frame[FRAME_MAX];

		size_t msg_len = spec->build(msg);
		if (msg_len == 0) {
			fprintf(stderr, "pcap_writer: frame '%s': encoding failed\n", spec->name);
			rc = 1;
			break;
		}
		size_t len = build_frame(frame, spec->ip_version, spec->dport, (uint16_t)(i + 1),
		                         msg, msg_len);
		if (check_frame(spec, frame, len) != 0) {
			rc = 1;
			break;
		}
		struct pcap_pkthdr hdr = {
		        .ts = {.tv_sec = 1700000000 + (time_t)i, .tv_usec = 0},
		        .caplen = (bpf_u_int32)len,
		        .len = (bpf_u_int32)len,
		};
		pcap_dump((u_char *)dumper, &hdr, frame);
	}

	if (pcap_dump_flush(dumper) != 0) {
		fprintf(stderr, "pcap_writer: %s: write failed\n", argv[1]);
		rc = 1;
	}
	pcap_dump_close(dumper);
	pcap_close(pcap);
	if (rc == 0)
		printf("pcap_writer: wrote %zu frames to %s\n", sizeof(frames) / sizeof(frames[0]),
		       argv[1]);
	return rc;
}
