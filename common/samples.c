/* SPDX-License-Identifier: BSD-3-Clause */
/* Sample messages; see include/faii/samples.h. */
#include <string.h>

#include <sodium.h>

#include "faii/demo.h"
#include "faii/samples.h"
#include "faii/wire.h"

/* Payload lengths of the samples; the encoder reads that many payload bytes. */
enum { TASK_PAYLOAD = 64, RESULT_PAYLOAD = 32 };

void faii_sample_payload(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

struct faii_task faii_sample_task(void)
{
	return (struct faii_task){
	        .task_id = 0x0102030405060708ull,
	        .client_id = 77,
	        .submit_ts_ns = FAII_SAMPLE_TS_NS,
	        .latency_budget_us = 20000,
	        .origin_region = 12,
	        .residency_class = 3,
	        .min_reputation_milli = 500,
	        .payload_len = TASK_PAYLOAD,
	        .category = FAII_CAT_EDGE_INFERENCE,
	        .tier = 1,
	        .consistency = FAII_CONSISTENCY_EVENTUAL,
	};
}

struct faii_result faii_sample_result(void)
{
	struct faii_result r = {
	        .task_id = 0x0102030405060708ull,
	        .dispatch_ts_ns = FAII_SAMPLE_TS_NS + 150000,
	        .node_id = 4242,
	        .exec_time_us = 1800,
	        .status = FAII_RESULT_OK,
	        .payload_len = RESULT_PAYLOAD,
	};
	memset(r.result_hash, 0xAB, sizeof(r.result_hash));
	return r;
}

struct faii_heartbeat faii_sample_heartbeat(void)
{
	return (struct faii_heartbeat){
	        .node_id = 4242,
	        .seq = 17,
	        .timestamp_ns = FAII_SAMPLE_TS_NS,
	        .uptime_s = 86400,
	        .tasks_completed = 123456,
	        .tasks_failed = 12,
	        .outstanding_tasks = 3,
	        .queue_depth = 5,
	        .load_permille = 420,
	};
}

struct faii_attest faii_sample_attest(void)
{
	return (struct faii_attest){
	        .node_id = 4242,
	        .seq = 3,
	        .timestamp_ns = FAII_SAMPLE_TS_NS,
	        .meter_id = 0xDEADBEEF,
	        .interval_start_s = 1794999100,
	        .interval_s = 900,
	        .energy_wh = 1250,
	        .pue_milli = 1150,
	        .energy_to_work_milli = 35,
	        .grid_stress_permille = 200,
	        .source_mix_permille = {400, 300, 100, 0, 50, 0, 50, 100},
	};
}

struct faii_register faii_sample_register(void)
{
	return (struct faii_register){
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
	        .timestamp_ns = FAII_SAMPLE_TS_NS,
	};
}

struct faii_auth_block faii_sample_auth(uint8_t type)
{
	struct faii_auth_block a = {.key_epoch = FAII_SAMPLE_KEY_EPOCH};
	if (type == FAII_MSG_RESULT) {
		for (int b = 0; b < 8; b++)
			a.nonce[b] = (uint8_t)(FAII_SAMPLE_NONCE >> (56 - 8 * b));
	}
	return a;
}

size_t faii_sample_encode_task(void *buf, size_t cap, const struct faii_task *t,
                               const void *payload)
{
	struct faii_auth_block a = faii_sample_auth(FAII_MSG_TASK);
	uint8_t key[FAII_MAC_KEY_SIZE];
	size_t len = faii_encode_task_v2(buf, cap, t, &a, payload);
	faii_demo_client_key(t->client_id, a.key_epoch, key);
	if (len != 0)
		faii_msg_mac_sign(buf, len, key);
	sodium_memzero(key, sizeof(key));
	return len;
}

size_t faii_sample_encode_result(void *buf, size_t cap, const struct faii_result *r,
                                 const struct faii_auth_block *auth, const void *payload)
{
	uint8_t node_pk[FAII_PUBKEY_SIZE], node_sk[64], app_pk[FAII_KX_KEY_SIZE],
	        app_sk[FAII_KX_KEY_SIZE], key[FAII_MAC_KEY_SIZE];
	size_t len = faii_encode_result_v2(buf, cap, r, auth, payload);
	faii_demo_node_keypair(r->node_id, node_pk, node_sk);
	faii_demo_appliance_keypair(auth->key_epoch, app_pk, app_sk);
	if (len != 0 && faii_result_key_node(node_sk, app_pk, key) == 0)
		faii_msg_mac_sign(buf, len, key);
	sodium_memzero(node_sk, sizeof(node_sk));
	sodium_memzero(app_sk, sizeof(app_sk));
	sodium_memzero(key, sizeof(key));
	return len;
}

struct faii_frame_spec faii_sample_frame_spec(bool ipv6)
{
	static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x0a};
	static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
	struct faii_frame_spec spec = {
	        .dst_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
	        .src_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
	        .vlan_tci = 100, /* priority 0 */
	        .ipv6 = ipv6,
	        .src_ip = {192, 0, 2, 10},
	        .dst_ip = {192, 0, 2, 1},
	        .ip_id = 0x1234,
	        .src_port = 40000,
	        .dst_port = FAII_UDP_PORT_DEFAULT,
	};
	if (ipv6) {
		memcpy(spec.src_ip, src6, sizeof(src6));
		memcpy(spec.dst_ip, dst6, sizeof(dst6));
	}
	return spec;
}

size_t faii_sample_add_ipv4_options(uint8_t *frame, size_t len, size_t cap)
{
	static const uint8_t opts[FAII_SAMPLE_IPV4_OPTIONS_LEN] = {0x94, 0x04, 0x00, 0x00,
	                                                           0x01, 0x01, 0x01, 0x00};
	const size_t l4 = FAII_ETH_HDR_LEN + FAII_IPV4_HDR_LEN;
	uint8_t *ip = frame + FAII_ETH_HDR_LEN;
	if (len < l4 || cap < len + sizeof(opts) || frame[12] != 0x08 || frame[13] != 0x00 ||
	    ip[0] != 0x45)
		return 0;
	memmove(frame + l4 + sizeof(opts), frame + l4, len - l4);
	memcpy(frame + l4, opts, sizeof(opts));
	ip[0] = (uint8_t)(0x45 + sizeof(opts) / 4);
	size_t total = (size_t)(ip[2] << 8 | ip[3]) + sizeof(opts);
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[10] = ip[11] = 0;
	uint16_t ck = faii_ipv4_checksum(ip, FAII_IPV4_HDR_LEN + sizeof(opts));
	ip[10] = (uint8_t)(ck >> 8);
	ip[11] = (uint8_t)ck;
	return len + sizeof(opts);
}

size_t faii_sample_encode(uint8_t type, void *buf, size_t cap)
{
	uint8_t payload[TASK_PAYLOAD > RESULT_PAYLOAD ? TASK_PAYLOAD : RESULT_PAYLOAD];
	faii_sample_payload(payload, sizeof(payload));
	switch (type) {
	case FAII_MSG_TASK: {
		struct faii_task t = faii_sample_task();
		return faii_sample_encode_task(buf, cap, &t, payload);
	}
	case FAII_MSG_RESULT: {
		struct faii_result r = faii_sample_result();
		struct faii_auth_block a = faii_sample_auth(FAII_MSG_RESULT);
		return faii_sample_encode_result(buf, cap, &r, &a, payload);
	}
	case FAII_MSG_HEARTBEAT: {
		struct faii_heartbeat hb = faii_sample_heartbeat();
		return faii_encode_heartbeat(buf, cap, &hb);
	}
	case FAII_MSG_ATTEST: {
		struct faii_attest a = faii_sample_attest();
		return faii_encode_attest(buf, cap, &a);
	}
	case FAII_MSG_REGISTER: {
		struct faii_register r = faii_sample_register();
		return faii_encode_register(buf, cap, &r);
	}
	default: return 0;
	}
}
