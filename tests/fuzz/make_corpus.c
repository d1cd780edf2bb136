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

#include "faii/frame.h"
#include "faii/samples.h"
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

/* Changes a built frame (untagged) into a shape the parser must accept as
 * well: the dataplane, not the parser, checks checksums and removes options. */
typedef size_t (*frame_edit)(uint8_t *frame, size_t len);

/* IPv4 options after the header (the sample's: Router Alert, NOPs). */
static size_t ipv4_options(uint8_t *f, size_t len)
{
	return faii_sample_add_ipv4_options(f, len, len + FAII_SAMPLE_IPV4_OPTIONS_LEN);
}

/* UDP checksum 0 over IPv6 (RFC 8200 forbids it; the dataplane drops it). */
static size_t ipv6_udp_checksum_zero(uint8_t *f, size_t len)
{
	f[FAII_ETH_HDR_LEN + FAII_IPV6_HDR_LEN + 6] = 0;
	f[FAII_ETH_HDR_LEN + FAII_IPV6_HDR_LEN + 7] = 0;
	return len;
}

/* A wrong UDP checksum over IPv4. */
static size_t ipv4_bad_udp_checksum(uint8_t *f, size_t len)
{
	f[FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN + 7] ^= 0x01;
	return len;
}

/* The sample frame (with a tag of VLAN 100 if vlan) around msg, edited by
 * edit when not NULL. */
static void write_frame_edited(const char *name, int ip_version, int vlan, const uint8_t *msg,
                               size_t msg_len, frame_edit edit)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(ip_version == 6);
	spec.vlan = vlan != 0;
	uint8_t frame[2048];
	size_t len = faii_frame_build(frame, sizeof(frame) - 64, &spec, msg, msg_len);
	if (len != 0 && edit != NULL)
		len = edit(frame, len);
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

static void write_frame(const char *name, int ip_version, int vlan, const uint8_t *msg,
                        size_t msg_len)
{
	write_frame_edited(name, ip_version, vlan, msg, msg_len, NULL);
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
	faii_sample_payload(payload, sizeof(payload));
	uint8_t task_msg[FAII_MSG_SIZE_MAX], result_msg[FAII_MSG_SIZE_MAX];
	uint8_t hb_msg[FAII_MSG_SIZE_MAX], msg[FAII_MSG_SIZE_MAX];
	size_t task_len, result_len, hb_len, len;

	/* TASK from a client: no dispatch fields. */
	struct faii_task task = faii_sample_task();
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
	struct faii_result result = faii_sample_result();
	result_len = faii_encode_result(result_msg, sizeof(result_msg), &result, payload);
	write_msg("result_ok", result_msg, result_len);
	struct faii_result r2 = {
	        .task_id = 9,
	        .status = FAII_RESULT_NO_FEASIBLE_NODE,
	};
	len = faii_encode_result(msg, sizeof(msg), &r2, NULL);
	write_msg("result_no_feasible_node", msg, len);

	struct faii_heartbeat hb = faii_sample_heartbeat();
	hb_len = faii_encode_heartbeat(hb_msg, sizeof(hb_msg), &hb);
	write_msg("heartbeat", hb_msg, hb_len);

	struct faii_attest att = faii_sample_attest();
	len = faii_encode_attest(msg, sizeof(msg), &att);
	write_msg("attest", msg, len);

	struct faii_register reg = faii_sample_register();
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

	/* Version 2: a client's TASK and a node's RESULT, MAC'd under a fixed
	 * key, and a dispatched copy carrying its nonce. */
	static const uint8_t mac_key[FAII_MAC_KEY_SIZE] = {0x42};
	struct faii_auth_block a = {.key_epoch = 1};
	len = faii_encode_task_v2(msg, sizeof(msg), &task, &a, payload);
	faii_msg_mac_sign(msg, len, mac_key);
	write_msg("v2_task_client", msg, len);
	static const uint8_t nonce[8] = {0x5E, 0xC2, 0xE7, 0x00, 0x11, 0x22, 0x33, 0x44};
	memcpy(a.nonce, nonce, sizeof(nonce));
	len = faii_encode_task_v2(msg, sizeof(msg), &t2, &a, payload);
	write_msg("v2_task_dispatched_replica", msg, len);
	len = faii_encode_result_v2(msg, sizeof(msg), &result, &a, payload);
	faii_msg_mac_sign(msg, len, mac_key);
	write_msg("v2_result_ok", msg, len);
	write_frame("frame_ipv4_v2_result", 4, 0, msg, len);

	/* Frames: IPv4, IPv4 behind a VLAN tag, IPv6. */
	write_frame("frame_ipv4_task", 4, 0, task_msg, task_len);
	write_frame("frame_vlan_ipv4_heartbeat", 4, 1, hb_msg, hb_len);
	write_frame("frame_ipv6_result", 6, 0, result_msg, result_len);
	write_frame("frame_vlan_ipv6_task", 6, 1, task_msg, task_len);
	/* Frames the parser accepts and the dataplane treats: IPv4 options
	 * (removed from copies), checksums it drops (docs/dataplane.md). */
	write_frame_edited("frame_ipv4_options_task", 4, 0, task_msg, task_len, ipv4_options);
	write_frame_edited("frame_ipv6_task_udp_checksum_zero", 6, 0, task_msg, task_len,
	                   ipv6_udp_checksum_zero);
	write_frame_edited("frame_ipv4_result_bad_udp_checksum", 4, 0, result_msg, result_len,
	                   ipv4_bad_udp_checksum);
	return 0;
}
