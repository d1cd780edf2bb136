/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the wire protocol parser, encoders and signatures
 * (common/wire.c). Messages are built from host-order structs with the
 * encoders, then mutated on the wire so that each test names one defect.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "faii/frame.h"
#include "faii/protocol.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_SIZE      2048u

/* The documented layout: a change here is a wire protocol change. */
_Static_assert(sizeof(struct faii_hdr) == FAII_HDR_SIZE, "header size");
_Static_assert(sizeof(struct faii_task) == FAII_TASK_BODY_SIZE, "task size");
_Static_assert(sizeof(struct faii_result) == FAII_RESULT_BODY_SIZE, "result size");
_Static_assert(sizeof(struct faii_heartbeat) == FAII_HEARTBEAT_BODY_SIZE, "heartbeat size");
_Static_assert(sizeof(struct faii_attest) == FAII_ATTEST_BODY_SIZE, "attest size");
_Static_assert(sizeof(struct faii_register) == FAII_REGISTER_BODY_SIZE, "register size");
_Static_assert(offsetof(struct faii_task, payload_len) == 46, "task payload_len offset");
_Static_assert(offsetof(struct faii_task, category) == 48, "task category offset");
_Static_assert(offsetof(struct faii_result, result_hash) == 32, "result hash offset");
_Static_assert(offsetof(struct faii_heartbeat, signature) == 56, "heartbeat signature offset");
_Static_assert(offsetof(struct faii_attest, signature) == 68, "attest signature offset");
_Static_assert(offsetof(struct faii_register, public_key) == 56, "register key offset");
_Static_assert(offsetof(struct faii_register, signature) == 88, "register signature offset");

/* ------------------------------------------------------------------------ */
/* Valid messages of every kind, in host order.                             */

static const uint8_t task_payload[] = {'h', 'e', 'l', 'l', 'o'};
static const uint8_t result_payload[] = {0xde, 0xad, 0xbe, 0xef};

static struct faii_task task_client(void)
{
	return (struct faii_task){
	        .task_id = 0x0102030405060708u,
	        .client_id = 0x1112131415161718u,
	        .submit_ts_ns = 1700000000123456789u,
	        .latency_budget_us = 20000,
	        .origin_region = 12,
	        .residency_class = 5,
	        .min_reputation_milli = 800,
	        .payload_len = sizeof(task_payload),
	        .category = FAII_CAT_INTERACTIVE_INFERENCE,
	        .tier = 3,
	        .consistency = FAII_CONSISTENCY_SESSION,
	};
}

/* The same task as the appliance forwards it: replica 2 of 3, re-dispatched. */
static struct faii_task task_dispatched(void)
{
	struct faii_task t = task_client();
	t.dispatch_ts_ns = 1700000000200000000u;
	t.node_id = 0x00ABCDEF;
	t.replica_index = 2;
	t.attempt = 1;
	return t;
}

static struct faii_result result_node(void)
{
	struct faii_result r = {
	        .task_id = 0x0102030405060708u,
	        .dispatch_ts_ns = 1700000000200000000u,
	        .node_id = 0x00000042,
	        .exec_time_us = 1500,
	        .status = FAII_RESULT_OK,
	        .replica_index = 1,
	        .payload_len = sizeof(result_payload),
	};
	for (unsigned i = 0; i < FAII_HASH_SIZE; i++)
		r.result_hash[i] = (uint8_t)(0x80 + i);
	return r;
}

/* The appliance's own answer to a task nothing could take: no node, no dispatch. */
static struct faii_result result_appliance(void)
{
	return (struct faii_result){
	        .task_id = 0x0102030405060708u,
	        .status = FAII_RESULT_NO_FEASIBLE_NODE,
	};
}

static struct faii_heartbeat heartbeat(void)
{
	return (struct faii_heartbeat){
	        .node_id = 0x00001234,
	        .seq = 77,
	        .timestamp_ns = 1700000000300000000u,
	        .uptime_s = 86400,
	        .tasks_completed = 123456789012u,
	        .tasks_failed = 3,
	        .outstanding_tasks = 17,
	        .queue_depth = 4,
	        .load_permille = 650,
	};
}

static struct faii_attest attest(void)
{
	return (struct faii_attest){
	        .node_id = 0x00001234,
	        .seq = 9,
	        .timestamp_ns = 1700000000400000000u,
	        .meter_id = 0xA1A2A3A4A5A6A7A8u,
	        .interval_start_s = 1700000000u,
	        .interval_s = 900,
	        .energy_wh = 4200,
	        .pue_milli = 1180,
	        .energy_to_work_milli = 35,
	        .grid_stress_permille = 250,
	        .source_mix_permille = {400, 300, 100, 0, 0, 0, 0, 200},
	};
}

static struct faii_register register_v4(void)
{
	struct faii_register r = {
	        .node_id = 0x00001234,
	        .operator_id = 7,
	        .asn = 64500,
	        .capacity_tasks_per_s = 500,
	        .price_micro = 1500,
	        .region = 12,
	        .node_class = FAII_CLASS_MEDIUM,
	        .eligibility = 0x0D,
	        .country = {'D', 'E'},
	        .addr_family = FAII_ADDR_IPV4,
	        .addr = {192, 0, 2, 10},
	        .udp_port = 7411,
	        .timestamp_ns = 1700000000500000000u,
	};
	for (unsigned i = 0; i < FAII_PUBKEY_SIZE; i++)
		r.public_key[i] = (uint8_t)(0x40 + i);
	return r;
}

static struct faii_register register_v6(void)
{
	static const uint8_t addr6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                                  0,    0,    0,    0,    0, 0, 0, 0x10};
	struct faii_register r = register_v4();
	r.addr_family = FAII_ADDR_IPV6;
	memcpy(r.addr, addr6, sizeof(r.addr));
	return r;
}

enum base {
	B_TASK,
	B_TASK_DISP,
	B_RESULT,
	B_RESULT_APPL,
	B_HB,
	B_ATTEST,
	B_REG4,
	B_REG6,
	B_COUNT,
};

static const char *const base_names[B_COUNT] = {
        "task",      "dispatched task", "result",      "appliance result",
        "heartbeat", "attest",          "register v4", "register v6",
};

/* Encodes the valid message of a base kind; returns its length. */
static size_t build_msg(enum base b, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	switch (b) {
	case B_TASK: {
		struct faii_task t = task_client();
		len = faii_encode_task(buf, cap, &t, task_payload);
		break;
	}
	case B_TASK_DISP: {
		struct faii_task t = task_dispatched();
		len = faii_encode_task(buf, cap, &t, task_payload);
		break;
	}
	case B_RESULT: {
		struct faii_result r = result_node();
		len = faii_encode_result(buf, cap, &r, result_payload);
		break;
	}
	case B_RESULT_APPL: {
		struct faii_result r = result_appliance();
		len = faii_encode_result(buf, cap, &r, NULL);
		break;
	}
	case B_HB: {
		struct faii_heartbeat hb = heartbeat();
		len = faii_encode_heartbeat(buf, cap, &hb);
		break;
	}
	case B_ATTEST: {
		struct faii_attest a = attest();
		len = faii_encode_attest(buf, cap, &a);
		break;
	}
	case B_REG4: {
		struct faii_register r = register_v4();
		len = faii_encode_register(buf, cap, &r);
		break;
	}
	case B_REG6: {
		struct faii_register r = register_v6();
		len = faii_encode_register(buf, cap, &r);
		break;
	}
	default: break;
	}
	cr_assert_neq(len, 0, "encoding the %s base failed", base_names[b]);
	return len;
}

static uint8_t base_type(enum base b)
{
	static const uint8_t type[B_COUNT] = {
	        FAII_MSG_TASK,      FAII_MSG_TASK,   FAII_MSG_RESULT,   FAII_MSG_RESULT,
	        FAII_MSG_HEARTBEAT, FAII_MSG_ATTEST, FAII_MSG_REGISTER, FAII_MSG_REGISTER,
	};
	return type[b];
}

static const enum base signed_bases[] = {B_HB, B_ATTEST, B_REG4, B_REG6};

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static void put_be(uint8_t *p, unsigned width, uint64_t v)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < width; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Parses a copy in a heap block of exactly len bytes, so that AddressSanitizer
 * catches any read past the datagram.
 */
static enum faii_drop parse_exact(const uint8_t *msg, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, msg, len);
	struct faii_msg_view view;
	enum faii_drop reason = faii_parse(copy, len, &view);
	free(copy);
	return reason;
}

static enum faii_drop parse_frame_exact(const uint8_t *frame, size_t len, uint16_t port)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, frame, len);
	struct faii_frame_view view;
	enum faii_drop reason = faii_parse_frame(copy, len, port, &view);
	free(copy);
	return reason;
}

/* The fixed header of an encoded message, byte by byte (big-endian). */
static void expect_header(const uint8_t *buf, uint8_t type, size_t len, uint8_t flags)
{
	cr_expect_eq(buf[0], 0xFA, "magic high byte first");
	cr_expect_eq(buf[1], 0x11);
	cr_expect_eq(buf[2], FAII_VERSION);
	cr_expect_eq(buf[3], type);
	cr_expect_eq(get_be(buf + 4, 2), len, "length big-endian");
	cr_expect_eq(buf[6], flags);
	cr_expect_eq(buf[7], 0, "header reserved");
}

/* The view of a parsed message points into the parsed buffer. */
static void expect_view(const struct faii_msg_view *v, const uint8_t *buf, uint8_t type, size_t len,
                        const void *payload, size_t payload_len)
{
	cr_expect_eq(v->type, type);
	cr_expect_eq(v->length, len);
	cr_expect_eq((const void *)v->hdr, (const void *)buf);
	cr_expect_eq(v->body, (const void *)(buf + FAII_HDR_SIZE));
	cr_expect_eq(v->payload_len, payload_len);
	if (type == FAII_MSG_TASK || type == FAII_MSG_RESULT) {
		cr_expect_eq((const void *)v->payload,
		             (const void *)(buf + FAII_HDR_SIZE + faii_body_size(type)));
		if (payload_len > 0)
			cr_expect_arr_eq(v->payload, payload, payload_len);
	} else {
		cr_expect_null(v->payload, "signed types carry no payload");
	}
}

/* Every multi-byte field on the wire is the host value, big-endian. */
#define EXPECT_WIRE(type, buf, in, f)                                                              \
	cr_expect_eq(get_be((buf) + FAII_HDR_SIZE + offsetof(type, f), sizeof((in)->f)),           \
	             (uint64_t)(in)->f, "%s on the wire", #f)

static void expect_task_wire(const uint8_t *buf, const struct faii_task *in)
{
#define F(f) EXPECT_WIRE(struct faii_task, buf, in, f)
	F(task_id);
	F(client_id);
	F(submit_ts_ns);
	F(dispatch_ts_ns);
	F(node_id);
	F(latency_budget_us);
	F(origin_region);
	F(residency_class);
	F(min_reputation_milli);
	F(payload_len);
	F(category);
	F(tier);
	F(consistency);
	F(replica_index);
	F(attempt);
#undef F
}

static void expect_result_wire(const uint8_t *buf, const struct faii_result *in)
{
#define F(f) EXPECT_WIRE(struct faii_result, buf, in, f)
	F(task_id);
	F(dispatch_ts_ns);
	F(node_id);
	F(exec_time_us);
	F(status);
	F(replica_index);
	F(payload_len);
	F(reserved);
#undef F
	/* The hash is bytes, copied as is. */
	cr_expect_arr_eq(buf + FAII_HDR_SIZE + offsetof(struct faii_result, result_hash),
	                 in->result_hash, FAII_HASH_SIZE);
}

static void expect_heartbeat_wire(const uint8_t *buf, const struct faii_heartbeat *in)
{
#define F(f) EXPECT_WIRE(struct faii_heartbeat, buf, in, f)
	F(node_id);
	F(seq);
	F(timestamp_ns);
	F(uptime_s);
	F(tasks_completed);
	F(tasks_failed);
	F(outstanding_tasks);
	F(queue_depth);
	F(load_permille);
	F(reserved);
#undef F
}

static void expect_attest_wire(const uint8_t *buf, const struct faii_attest *in)
{
#define F(f) EXPECT_WIRE(struct faii_attest, buf, in, f)
	F(node_id);
	F(seq);
	F(timestamp_ns);
	F(meter_id);
	F(interval_start_s);
	F(interval_s);
	F(energy_wh);
	F(pue_milli);
	F(energy_to_work_milli);
	F(grid_stress_permille);
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		F(source_mix_permille[s]);
	F(reserved);
#undef F
}

static void expect_register_wire(const uint8_t *buf, const struct faii_register *in)
{
	const uint8_t *body = buf + FAII_HDR_SIZE;
#define F(f) EXPECT_WIRE(struct faii_register, buf, in, f)
	F(node_id);
	F(operator_id);
	F(asn);
	F(capacity_tasks_per_s);
	F(price_micro);
	F(region);
	F(node_class);
	F(eligibility);
	F(addr_family);
	F(reserved);
	F(udp_port);
	F(reserved2);
	F(timestamp_ns);
#undef F
	cr_expect_arr_eq(body + offsetof(struct faii_register, country), in->country, 2);
	cr_expect_arr_eq(body + offsetof(struct faii_register, addr), in->addr, sizeof(in->addr),
	                 "addresses are bytes in network order already");
	cr_expect_arr_eq(body + offsetof(struct faii_register, public_key), in->public_key,
	                 FAII_PUBKEY_SIZE);
}

/* ------------------------------------------------------------------------ */
/* 1. Round trips.                                                          */

Test(roundtrip, task_from_client)
{
	uint8_t buf[BUF_SIZE];
	struct faii_task in = task_client(), out;
	size_t len = faii_encode_task(buf, sizeof(buf), &in, task_payload);
	size_t want = FAII_HDR_SIZE + FAII_TASK_BODY_SIZE + sizeof(task_payload);

	cr_assert_eq(len, want);
	expect_header(buf, FAII_MSG_TASK, len, 0);
	/* task_id 0x0102...08, most significant byte first. */
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(buf[FAII_HDR_SIZE + i], i + 1, "task_id byte %u", i);
	expect_task_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_TASK, len, task_payload, sizeof(task_payload));
	/* The view stays in network order. */
	cr_expect_eq(faii_be64(v.task->task_id), in.task_id);

	faii_decode_task(&v, &out);
	cr_expect_eq(out.task_id, in.task_id);
	cr_expect_eq(out.client_id, in.client_id);
	cr_expect_eq(out.submit_ts_ns, in.submit_ts_ns);
	cr_expect_eq(out.latency_budget_us, in.latency_budget_us);
	cr_expect_eq(out.origin_region, in.origin_region);
	cr_expect_eq(out.residency_class, in.residency_class);
	cr_expect_eq(out.min_reputation_milli, in.min_reputation_milli);
	cr_expect_eq(out.payload_len, in.payload_len);
	cr_expect_eq(out.category, in.category);
	cr_expect_eq(out.tier, in.tier);
	cr_expect_eq(out.consistency, in.consistency);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, task_dispatched_replica)
{
	uint8_t buf[BUF_SIZE];
	struct faii_task in = task_dispatched(), out;
	size_t len = faii_encode_task(buf, sizeof(buf), &in, task_payload);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_TASK_BODY_SIZE + sizeof(task_payload));
	/* A dispatched member of a replica set carries both flags. */
	expect_header(buf, FAII_MSG_TASK, len, FAII_F_DISPATCHED | FAII_F_REPLICA);
	const uint8_t *node = buf + FAII_HDR_SIZE + offsetof(struct faii_task, node_id);
	cr_expect_eq(node[0], 0x00);
	cr_expect_eq(node[1], 0xAB);
	cr_expect_eq(node[2], 0xCD);
	cr_expect_eq(node[3], 0xEF);
	expect_task_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_TASK, len, task_payload, sizeof(task_payload));
	cr_expect_eq(v.hdr->flags, FAII_F_DISPATCHED | FAII_F_REPLICA);

	faii_decode_task(&v, &out);
	cr_expect_eq(out.node_id, in.node_id);
	cr_expect_eq(out.dispatch_ts_ns, in.dispatch_ts_ns);
	cr_expect_eq(out.replica_index, in.replica_index);
	cr_expect_eq(out.attempt, in.attempt);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, task_dispatched_eventual_has_no_replica_flag)
{
	uint8_t buf[BUF_SIZE];
	struct faii_task in = task_dispatched();
	in.consistency = FAII_CONSISTENCY_EVENTUAL;
	in.replica_index = 0;
	size_t len = faii_encode_task(buf, sizeof(buf), &in, task_payload);

	cr_assert_neq(len, 0);
	expect_header(buf, FAII_MSG_TASK, len, FAII_F_DISPATCHED);
	struct faii_msg_view v;
	cr_expect_eq(faii_parse(buf, len, &v), FAII_OK);
}

Test(roundtrip, task_without_payload)
{
	uint8_t buf[BUF_SIZE];
	struct faii_task in = task_client(), out;
	in.payload_len = 0;
	size_t len = faii_encode_task(buf, sizeof(buf), &in, NULL);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_TASK_BODY_SIZE);
	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_TASK, len, NULL, 0);
	faii_decode_task(&v, &out);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, result_from_node)
{
	uint8_t buf[BUF_SIZE];
	struct faii_result in = result_node(), out;
	size_t len = faii_encode_result(buf, sizeof(buf), &in, result_payload);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_RESULT_BODY_SIZE + sizeof(result_payload));
	expect_header(buf, FAII_MSG_RESULT, len, 0);
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(buf[FAII_HDR_SIZE + i], i + 1, "task_id byte %u", i);
	expect_result_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_RESULT, len, result_payload, sizeof(result_payload));

	faii_decode_result(&v, &out);
	cr_expect_eq(out.task_id, in.task_id);
	cr_expect_eq(out.dispatch_ts_ns, in.dispatch_ts_ns);
	cr_expect_eq(out.node_id, in.node_id);
	cr_expect_eq(out.exec_time_us, in.exec_time_us);
	cr_expect_eq(out.status, in.status);
	cr_expect_eq(out.replica_index, in.replica_index);
	cr_expect_eq(out.payload_len, in.payload_len);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, result_from_appliance_no_feasible_node)
{
	uint8_t buf[BUF_SIZE];
	struct faii_result in = result_appliance(), out;
	size_t len = faii_encode_result(buf, sizeof(buf), &in, NULL);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_RESULT_BODY_SIZE);
	expect_header(buf, FAII_MSG_RESULT, len, 0);
	expect_result_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK, "node_id 0 is fine from the appliance");
	expect_view(&v, buf, FAII_MSG_RESULT, len, NULL, 0);
	faii_decode_result(&v, &out);
	cr_expect_eq(out.node_id, 0);
	cr_expect_eq(out.status, FAII_RESULT_NO_FEASIBLE_NODE);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, heartbeat)
{
	uint8_t buf[BUF_SIZE];
	struct faii_heartbeat in = heartbeat(), out;
	/* The encoder must zero the signature whatever the caller left there. */
	memset(in.signature, 0xAA, sizeof(in.signature));
	size_t len = faii_encode_heartbeat(buf, sizeof(buf), &in);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_HEARTBEAT_BODY_SIZE);
	expect_header(buf, FAII_MSG_HEARTBEAT, len, 0);
	cr_expect_eq(get_be(buf + FAII_HDR_SIZE, 4), 0x1234, "node_id big-endian");
	expect_heartbeat_wire(buf, &in);
	for (unsigned i = 0; i < FAII_SIGNATURE_SIZE; i++)
		cr_expect_eq(buf[len - FAII_SIGNATURE_SIZE + i], 0, "signature byte %u", i);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_HEARTBEAT, len, NULL, 0);

	faii_decode_heartbeat(&v, &out);
	memset(in.signature, 0, sizeof(in.signature));
	cr_expect_eq(out.node_id, in.node_id);
	cr_expect_eq(out.seq, in.seq);
	cr_expect_eq(out.timestamp_ns, in.timestamp_ns);
	cr_expect_eq(out.load_permille, in.load_permille);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, attest)
{
	uint8_t buf[BUF_SIZE];
	struct faii_attest in = attest(), out;
	memset(in.signature, 0x55, sizeof(in.signature));
	size_t len = faii_encode_attest(buf, sizeof(buf), &in);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_ATTEST_BODY_SIZE);
	expect_header(buf, FAII_MSG_ATTEST, len, 0);
	cr_expect_eq(buf[FAII_HDR_SIZE + offsetof(struct faii_attest, meter_id)], 0xA1);
	expect_attest_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_ATTEST, len, NULL, 0);

	faii_decode_attest(&v, &out);
	memset(in.signature, 0, sizeof(in.signature));
	cr_expect_eq(out.pue_milli, in.pue_milli);
	cr_expect_eq(out.grid_stress_permille, in.grid_stress_permille);
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		cr_expect_eq(out.source_mix_permille[s], in.source_mix_permille[s], "source %u", s);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

static void roundtrip_register(const struct faii_register *reg)
{
	uint8_t buf[BUF_SIZE];
	struct faii_register in = *reg, out;
	memset(in.signature, 0xC3, sizeof(in.signature));
	size_t len = faii_encode_register(buf, sizeof(buf), &in);

	cr_assert_eq(len, FAII_HDR_SIZE + FAII_REGISTER_BODY_SIZE);
	expect_header(buf, FAII_MSG_REGISTER, len, 0);
	cr_expect_eq(get_be(buf + FAII_HDR_SIZE + offsetof(struct faii_register, asn), 4), 64500);
	expect_register_wire(buf, &in);

	struct faii_msg_view v;
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	expect_view(&v, buf, FAII_MSG_REGISTER, len, NULL, 0);

	faii_decode_register(&v, &out);
	memset(in.signature, 0, sizeof(in.signature));
	cr_expect_eq(out.addr_family, in.addr_family);
	cr_expect_eq(out.region, in.region);
	cr_expect_eq(out.timestamp_ns, in.timestamp_ns);
	cr_expect_eq(memcmp(&out, &in, sizeof(in)), 0);
}

Test(roundtrip, register_ipv4)
{
	struct faii_register r = register_v4();
	roundtrip_register(&r);
}

Test(roundtrip, register_ipv6)
{
	struct faii_register r = register_v6();
	roundtrip_register(&r);
}

/*
 * Encoders do not validate (tests build invalid messages with them) and the
 * decoders copy what is there: reserved fields survive both ways, swapped.
 */
Test(roundtrip, reserved_fields_are_swapped_not_checked)
{
	uint8_t buf[BUF_SIZE];
	struct faii_msg_view v;

	struct faii_result r = result_node(), r_out;
	r.reserved = 0x01020304;
	size_t len = faii_encode_result(buf, sizeof(buf), &r, result_payload);
	cr_assert_neq(len, 0);
	expect_result_wire(buf, &r);
	cr_expect_eq(faii_parse(buf, len, &v), FAII_DROP_RESERVED_NONZERO);
	v = (struct faii_msg_view){
	        .hdr = (const void *)buf, .body = buf + FAII_HDR_SIZE, .type = FAII_MSG_RESULT};
	faii_decode_result(&v, &r_out);
	cr_expect_eq(memcmp(&r_out, &r, sizeof(r)), 0);

	struct faii_heartbeat hb = heartbeat(), hb_out;
	hb.reserved = 0x0A0B0C0D;
	len = faii_encode_heartbeat(buf, sizeof(buf), &hb);
	cr_assert_neq(len, 0);
	expect_heartbeat_wire(buf, &hb);
	cr_expect_eq(faii_parse(buf, len, &v), FAII_DROP_RESERVED_NONZERO);
	v = (struct faii_msg_view){
	        .hdr = (const void *)buf, .body = buf + FAII_HDR_SIZE, .type = FAII_MSG_HEARTBEAT};
	faii_decode_heartbeat(&v, &hb_out);
	cr_expect_eq(memcmp(&hb_out, &hb, sizeof(hb)), 0);

	struct faii_attest a = attest(), a_out;
	a.reserved = 0x0E0F;
	len = faii_encode_attest(buf, sizeof(buf), &a);
	cr_assert_neq(len, 0);
	expect_attest_wire(buf, &a);
	cr_expect_eq(faii_parse(buf, len, &v), FAII_DROP_RESERVED_NONZERO);
	v = (struct faii_msg_view){
	        .hdr = (const void *)buf, .body = buf + FAII_HDR_SIZE, .type = FAII_MSG_ATTEST};
	faii_decode_attest(&v, &a_out);
	cr_expect_eq(memcmp(&a_out, &a, sizeof(a)), 0);

	struct faii_register rg = register_v6(), rg_out;
	rg.reserved = 0x11;
	rg.reserved2 = 0x1213;
	len = faii_encode_register(buf, sizeof(buf), &rg);
	cr_assert_neq(len, 0);
	expect_register_wire(buf, &rg);
	cr_expect_eq(faii_parse(buf, len, &v), FAII_DROP_RESERVED_NONZERO);
	v = (struct faii_msg_view){
	        .hdr = (const void *)buf, .body = buf + FAII_HDR_SIZE, .type = FAII_MSG_REGISTER};
	faii_decode_register(&v, &rg_out);
	cr_expect_eq(memcmp(&rg_out, &rg, sizeof(rg)), 0);
}

Test(roundtrip, encoders_respect_capacity)
{
	uint8_t buf[BUF_SIZE];
	for (int b = 0; b < B_COUNT; b++) {
		size_t len = build_msg((enum base)b, buf, sizeof(buf));
		uint8_t small[BUF_SIZE];
		memset(small, 0x5A, sizeof(small));

		/* One byte short: refused, and nothing written. */
		struct faii_task t = b == B_TASK_DISP ? task_dispatched() : task_client();
		struct faii_result r = b == B_RESULT_APPL ? result_appliance() : result_node();
		struct faii_heartbeat hb = heartbeat();
		struct faii_attest a = attest();
		struct faii_register rg = b == B_REG6 ? register_v6() : register_v4();
		size_t got = 0, exact = 0;
		switch (base_type((enum base)b)) {
		case FAII_MSG_TASK:
			got = faii_encode_task(small, len - 1, &t, task_payload);
			exact = faii_encode_task(small + BUF_SIZE / 2, len, &t, task_payload);
			break;
		case FAII_MSG_RESULT:
			got = faii_encode_result(small, len - 1, &r, result_payload);
			exact = faii_encode_result(small + BUF_SIZE / 2, len, &r, result_payload);
			break;
		case FAII_MSG_HEARTBEAT:
			got = faii_encode_heartbeat(small, len - 1, &hb);
			exact = faii_encode_heartbeat(small + BUF_SIZE / 2, len, &hb);
			break;
		case FAII_MSG_ATTEST:
			got = faii_encode_attest(small, len - 1, &a);
			exact = faii_encode_attest(small + BUF_SIZE / 2, len, &a);
			break;
		default:
			got = faii_encode_register(small, len - 1, &rg);
			exact = faii_encode_register(small + BUF_SIZE / 2, len, &rg);
			break;
		}
		cr_expect_eq(got, 0, "%s: cap len-1 accepted", base_names[b]);
		for (size_t i = 0; i < BUF_SIZE / 2; i++)
			cr_assert_eq(small[i], 0x5A, "%s: wrote byte %zu on failure", base_names[b],
			             i);
		cr_expect_eq(exact, len, "%s: cap == len refused", base_names[b]);
		cr_expect_arr_eq(small + BUF_SIZE / 2, buf, len, "%s: same bytes", base_names[b]);
	}
}

/* ------------------------------------------------------------------------ */
/* 2. Drop reasons, table driven.                                           */

/* Overwrites width bytes at off with value, big-endian. */
struct patch {
	uint16_t off;
	uint8_t width;
	uint64_t value;
};

#define MAX_PATCHES 3
struct drop_case {
	const char *what;
	enum base base;
	struct patch patch[MAX_PATCHES];
	int len_delta; /* added to the datagram or frame length */
	enum faii_drop expect;
};

#define MEMBER_SIZE(type, f) sizeof(((type *)0)->f)
#define HDR_P(f, v)                                                                                \
	{                                                                                          \
		.off = (uint16_t)offsetof(struct faii_hdr, f),                                     \
		.width = (uint8_t)MEMBER_SIZE(struct faii_hdr, f), .value = (v)                    \
	}
#define BODY_P(type, f, v)                                                                         \
	{                                                                                          \
		.off = (uint16_t)(FAII_HDR_SIZE + offsetof(type, f)),                              \
		.width = (uint8_t)MEMBER_SIZE(type, f), .value = (v)                               \
	}
#define TASK_P(f, v) BODY_P(struct faii_task, f, v)
#define RES_P(f, v)  BODY_P(struct faii_result, f, v)
#define HB_P(f, v)   BODY_P(struct faii_heartbeat, f, v)
#define ATT_P(f, v)  BODY_P(struct faii_attest, f, v)
#define REG_P(f, v)  BODY_P(struct faii_register, f, v)
/* Four energy sources at once, so a whole mix fits in two patches. */
#define MIX4_P(first, v)                                                                           \
	{                                                                                          \
		.off = (uint16_t)(FAII_HDR_SIZE +                                                  \
		                  offsetof(struct faii_attest, source_mix_permille[first])),       \
		.width = 8, .value = (v)                                                           \
	}
#define CC(a, b) ((uint64_t)(a) << 8 | (uint64_t)(b))

#define HB_LEN   (FAII_HDR_SIZE + FAII_HEARTBEAT_BODY_SIZE)
#define TASK_LEN (FAII_HDR_SIZE + FAII_TASK_BODY_SIZE + sizeof(task_payload))

/* clang-format off */
static const struct drop_case msg_cases[] = {
	/* Header. */
	{"7 bytes, no whole header", B_HB, {{0}}, -(int)(HB_LEN - 7), FAII_DROP_TOO_SHORT},
	/* Nothing of a header is judged before all 8 bytes are there. */
	{"7 bytes, bad magic", B_HB, {HDR_P(magic, 0xFA12)}, -(int)(HB_LEN - 7),
	 FAII_DROP_TOO_SHORT},
	{"7 bytes, bad version and type", B_TASK, {HDR_P(version, 9), HDR_P(type, 9)},
	 -(int)(TASK_LEN - 7), FAII_DROP_TOO_SHORT},
	{"task header only", B_TASK, {{0}}, -(int)(TASK_LEN - FAII_HDR_SIZE), FAII_DROP_TOO_SHORT},
	{"attest body one byte short", B_ATTEST, {{0}}, -1, FAII_DROP_TOO_SHORT},
	{"magic 0xFA12", B_TASK, {HDR_P(magic, 0xFA12)}, 0, FAII_DROP_BAD_MAGIC},
	{"magic byte-swapped", B_HB, {HDR_P(magic, 0x11FA)}, 0, FAII_DROP_BAD_MAGIC},
	{"version 0", B_TASK, {HDR_P(version, 0)}, 0, FAII_DROP_BAD_VERSION},
	{"version 3", B_REG4, {HDR_P(version, 3)}, 0, FAII_DROP_BAD_VERSION},
	{"type 0", B_TASK, {HDR_P(type, 0)}, 0, FAII_DROP_UNKNOWN_TYPE},
	{"type 6", B_HB, {HDR_P(type, 6)}, 0, FAII_DROP_UNKNOWN_TYPE},
	{"type 255", B_HB, {HDR_P(type, 255)}, 0, FAII_DROP_UNKNOWN_TYPE},
	{"length field one more", B_HB, {HDR_P(length, HB_LEN + 1)}, 0, FAII_DROP_BAD_LENGTH},
	{"length field one less", B_TASK, {HDR_P(length, TASK_LEN - 1)}, 0, FAII_DROP_BAD_LENGTH},
	{"datagram one byte longer", B_RESULT, {{0}}, 1, FAII_DROP_BAD_LENGTH},
	{"register with a trailing byte", B_REG4,
	 {HDR_P(length, FAII_HDR_SIZE + FAII_REGISTER_BODY_SIZE + 1)}, 1, FAII_DROP_BAD_LENGTH},
	{"task flag 0x04", B_TASK, {HDR_P(flags, 0x04)}, 0, FAII_DROP_BAD_FLAGS},
	{"task flag 0x80", B_TASK_DISP, {HDR_P(flags, 0x83)}, 0, FAII_DROP_BAD_FLAGS},
	{"result with dispatched flag", B_RESULT, {HDR_P(flags, FAII_F_DISPATCHED)}, 0,
	 FAII_DROP_BAD_FLAGS},
	{"heartbeat with dispatched flag", B_HB, {HDR_P(flags, FAII_F_DISPATCHED)}, 0,
	 FAII_DROP_BAD_FLAGS},
	{"attest with replica flag", B_ATTEST, {HDR_P(flags, FAII_F_REPLICA)}, 0,
	 FAII_DROP_BAD_FLAGS},
	{"register with a flag", B_REG6, {HDR_P(flags, 0x10)}, 0, FAII_DROP_BAD_FLAGS},
	{"header reserved", B_TASK, {HDR_P(reserved, 1)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"header reserved, heartbeat", B_HB, {HDR_P(reserved, 0x80)}, 0,
	 FAII_DROP_RESERVED_NONZERO},

	/* TASK. */
	{"task reserved[0]", B_TASK, {TASK_P(reserved[0], 1)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"task reserved[2]", B_TASK_DISP, {TASK_P(reserved[2], 0x80)}, 0,
	 FAII_DROP_RESERVED_NONZERO},
	{"task payload_len short", B_TASK, {TASK_P(payload_len, 4)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"task payload_len long", B_TASK, {TASK_P(payload_len, 6)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"task payload_len 0", B_TASK, {TASK_P(payload_len, 0)}, 0, FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"category 0", B_TASK, {TASK_P(category, 0)}, 0, FAII_DROP_UNKNOWN_CATEGORY},
	{"category 7", B_TASK, {TASK_P(category, 7)}, 0, FAII_DROP_UNKNOWN_CATEGORY},
	{"tier 0", B_TASK, {TASK_P(tier, 0)}, 0, FAII_DROP_UNKNOWN_TIER},
	{"tier 5", B_TASK, {TASK_P(tier, 5)}, 0, FAII_DROP_UNKNOWN_TIER},
	{"tier 2 for interactive", B_TASK, {TASK_P(tier, 2)}, 0, FAII_DROP_TIER_MISMATCH},
	{"tier 2 for edge", B_TASK, {TASK_P(category, FAII_CAT_EDGE_INFERENCE), TASK_P(tier, 2)},
	 0, FAII_DROP_TIER_MISMATCH},
	{"tier 3 for ledger", B_TASK, {TASK_P(category, FAII_CAT_LEDGER_WORK), TASK_P(tier, 3)}, 0,
	 FAII_DROP_TIER_MISMATCH},
	{"tier 4 for ledger", B_TASK, {TASK_P(category, FAII_CAT_LEDGER_WORK), TASK_P(tier, 4)}, 0,
	 FAII_DROP_OK},
	{"consistency 3", B_TASK, {TASK_P(consistency, 3)}, 0, FAII_DROP_BAD_CONSISTENCY},
	{"consistency 255", B_TASK, {TASK_P(consistency, 255)}, 0, FAII_DROP_BAD_CONSISTENCY},
	{"client replica 3 of session", B_TASK, {TASK_P(replica_index, 3)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"replica 3 of session", B_TASK_DISP, {TASK_P(replica_index, 3)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"replica 7 of strong", B_TASK_DISP,
	 {TASK_P(consistency, FAII_CONSISTENCY_STRONG), TASK_P(replica_index, 7)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"replica 6 of strong", B_TASK_DISP,
	 {TASK_P(consistency, FAII_CONSISTENCY_STRONG), TASK_P(replica_index, 6)}, 0, FAII_DROP_OK},
	{"replica 1 of eventual", B_TASK_DISP,
	 {TASK_P(consistency, FAII_CONSISTENCY_EVENTUAL), TASK_P(replica_index, 1),
	  HDR_P(flags, FAII_F_DISPATCHED)}, 0, FAII_DROP_BAD_REPLICA},
	{"dispatched session, no replica flag", B_TASK_DISP, {HDR_P(flags, FAII_F_DISPATCHED)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"dispatched strong, no replica flag", B_TASK_DISP,
	 {HDR_P(flags, FAII_F_DISPATCHED), TASK_P(consistency, FAII_CONSISTENCY_STRONG)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"replica flag on eventual", B_TASK_DISP,
	 {TASK_P(consistency, FAII_CONSISTENCY_EVENTUAL), TASK_P(replica_index, 0)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"attempt 2", B_TASK_DISP, {TASK_P(attempt, 2)}, 0, FAII_DROP_BAD_ATTEMPT},
	{"client attempt 2", B_TASK, {TASK_P(attempt, 2)}, 0, FAII_DROP_BAD_ATTEMPT},
	{"residency 0", B_TASK, {TASK_P(residency_class, 0)}, 0, FAII_DROP_BAD_RESIDENCY_CLASS},
	{"residency 64", B_TASK, {TASK_P(residency_class, FAII_RESIDENCY_CLASS_MAX + 1)}, 0,
	 FAII_DROP_BAD_RESIDENCY_CLASS},
	{"residency 63", B_TASK, {TASK_P(residency_class, FAII_RESIDENCY_CLASS_MAX)}, 0,
	 FAII_DROP_OK},
	{"region 0", B_TASK, {TASK_P(origin_region, 0)}, 0, FAII_DROP_BAD_REGION},
	{"region 1024", B_TASK, {TASK_P(origin_region, FAII_REGION_ID_MAX + 1)}, 0,
	 FAII_DROP_BAD_REGION},
	{"region 1023", B_TASK, {TASK_P(origin_region, FAII_REGION_ID_MAX)}, 0, FAII_DROP_OK},
	{"reputation 1001", B_TASK, {TASK_P(min_reputation_milli, 1001)}, 0,
	 FAII_DROP_BAD_REPUTATION},
	{"reputation 0xFFFF", B_TASK, {TASK_P(min_reputation_milli, 0xFFFF)}, 0,
	 FAII_DROP_BAD_REPUTATION},
	{"reputation 1000", B_TASK, {TASK_P(min_reputation_milli, 1000)}, 0, FAII_DROP_OK},
	{"budget 0", B_TASK, {TASK_P(latency_budget_us, 0)}, 0, FAII_DROP_BAD_BUDGET},
	{"submit time 0", B_TASK, {TASK_P(submit_ts_ns, 0)}, 0, FAII_DROP_BAD_TIMESTAMP},
	{"client task with node", B_TASK, {TASK_P(node_id, 5)}, 0, FAII_DROP_BAD_DISPATCH},
	{"client task with dispatch time", B_TASK, {TASK_P(dispatch_ts_ns, 1)}, 0,
	 FAII_DROP_BAD_DISPATCH},
	{"client task with replica 1", B_TASK, {TASK_P(replica_index, 1)}, 0,
	 FAII_DROP_BAD_DISPATCH},
	{"client task with attempt 1", B_TASK, {TASK_P(attempt, 1)}, 0, FAII_DROP_BAD_DISPATCH},
	{"replica flag without dispatched", B_TASK, {HDR_P(flags, FAII_F_REPLICA)}, 0,
	 FAII_DROP_BAD_DISPATCH},
	{"dispatched to node 0", B_TASK_DISP, {TASK_P(node_id, 0)}, 0, FAII_DROP_BAD_DISPATCH},
	{"dispatched to node 2^24", B_TASK_DISP, {TASK_P(node_id, FAII_NODE_ID_MAX + 1)}, 0,
	 FAII_DROP_BAD_DISPATCH},
	{"dispatched to the last node", B_TASK_DISP, {TASK_P(node_id, FAII_NODE_ID_MAX)}, 0,
	 FAII_DROP_OK},
	{"dispatched at time 0", B_TASK_DISP, {TASK_P(dispatch_ts_ns, 0)}, 0,
	 FAII_DROP_BAD_DISPATCH},

	/* RESULT. */
	{"result reserved", B_RESULT, {RES_P(reserved, 0x100)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"result payload_len short", B_RESULT, {RES_P(payload_len, 3)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"result payload_len on empty", B_RESULT_APPL, {RES_P(payload_len, 1)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"status above the last", B_RESULT, {RES_P(status, FAII_RESULT_STATUS_MAX + 1)}, 0,
	 FAII_DROP_BAD_STATUS},
	{"status 255", B_RESULT_APPL, {RES_P(status, 255)}, 0, FAII_DROP_BAD_STATUS},
	{"node result from node 0", B_RESULT, {RES_P(node_id, 0)}, 0, FAII_DROP_BAD_NODE_ID},
	{"node error from node 0", B_RESULT, {RES_P(status, FAII_RESULT_ERROR), RES_P(node_id, 0)},
	 0, FAII_DROP_BAD_NODE_ID},
	{"node result from node 2^24", B_RESULT, {RES_P(node_id, FAII_NODE_ID_MAX + 1)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"appliance result naming node 2^24", B_RESULT_APPL,
	 {RES_P(node_id, FAII_NODE_ID_MAX + 1)}, 0, FAII_DROP_BAD_NODE_ID},
	{"appliance result naming a node", B_RESULT_APPL, {RES_P(node_id, 42)}, 0, FAII_DROP_OK},
	{"appliance timeout", B_RESULT_APPL, {RES_P(status, FAII_RESULT_TIMEOUT)}, 0,
	 FAII_DROP_OK},
	{"appliance refusal", B_RESULT_APPL, {RES_P(status, FAII_RESULT_REFUSED)}, 0,
	 FAII_DROP_OK},
	{"appliance no quorum", B_RESULT_APPL, {RES_P(status, FAII_RESULT_NO_QUORUM)}, 0,
	 FAII_DROP_OK},
	{"result replica 7", B_RESULT, {RES_P(replica_index, FAII_REPLICAS_MAX)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"result replica 6", B_RESULT, {RES_P(replica_index, FAII_REPLICAS_MAX - 1)}, 0,
	 FAII_DROP_OK},
	{"node result never dispatched", B_RESULT, {RES_P(dispatch_ts_ns, 0)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
	{"node error never dispatched", B_RESULT,
	 {RES_P(status, FAII_RESULT_ERROR), RES_P(dispatch_ts_ns, 0)}, 0, FAII_DROP_BAD_TIMESTAMP},

	/* HEARTBEAT. */
	{"heartbeat reserved", B_HB, {HB_P(reserved, 1)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"heartbeat node 0", B_HB, {HB_P(node_id, 0)}, 0, FAII_DROP_BAD_NODE_ID},
	{"heartbeat node 0xFFFFFFFF", B_HB, {HB_P(node_id, 0xFFFFFFFF)}, 0, FAII_DROP_BAD_NODE_ID},
	{"heartbeat time 0", B_HB, {HB_P(timestamp_ns, 0)}, 0, FAII_DROP_BAD_TIMESTAMP},
	{"load 1001", B_HB, {HB_P(load_permille, 1001)}, 0, FAII_DROP_BAD_LOAD},
	{"load 1000", B_HB, {HB_P(load_permille, 1000)}, 0, FAII_DROP_OK},

	/* ATTEST. */
	{"attest reserved", B_ATTEST, {ATT_P(reserved, 1)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"attest node 0", B_ATTEST, {ATT_P(node_id, 0)}, 0, FAII_DROP_BAD_NODE_ID},
	{"attest time 0", B_ATTEST, {ATT_P(timestamp_ns, 0)}, 0, FAII_DROP_BAD_TIMESTAMP},
	{"interval 0", B_ATTEST, {ATT_P(interval_s, 0)}, 0, FAII_DROP_BAD_INTERVAL},
	{"PUE 0.999", B_ATTEST, {ATT_P(pue_milli, 999)}, 0, FAII_DROP_BAD_PUE},
	{"PUE 0", B_ATTEST, {ATT_P(pue_milli, 0)}, 0, FAII_DROP_BAD_PUE},
	{"PUE 1.000", B_ATTEST, {ATT_P(pue_milli, 1000)}, 0, FAII_DROP_OK},
	{"energy-to-work 0", B_ATTEST, {ATT_P(energy_to_work_milli, 0)}, 0,
	 FAII_DROP_BAD_ENERGY_TO_WORK},
	{"grid stress 1001", B_ATTEST, {ATT_P(grid_stress_permille, 1001)}, 0,
	 FAII_DROP_BAD_GRID_STRESS},
	{"grid stress 1000", B_ATTEST, {ATT_P(grid_stress_permille, 1000)}, 0, FAII_DROP_OK},
	{"mix sums to 1001", B_ATTEST, {ATT_P(source_mix_permille[0], 401)}, 0,
	 FAII_DROP_BAD_ENERGY_MIX},
	{"mix sums to 800", B_ATTEST, {ATT_P(source_mix_permille[7], 0)}, 0,
	 FAII_DROP_BAD_ENERGY_MIX},
	/* 65535 + 1001 is 1000 modulo 2^16: a 16-bit sum would accept it. */
	{"mix wraps 16 bits", B_ATTEST, {MIX4_P(0, 0xFFFF03E900000000u), MIX4_P(4, 0)}, 0,
	 FAII_DROP_BAD_ENERGY_MIX},
	{"mix all solar", B_ATTEST, {MIX4_P(0, 0x03E8000000000000u), MIX4_P(4, 0)}, 0,
	 FAII_DROP_OK},

	/* REGISTER. */
	{"register reserved", B_REG4, {REG_P(reserved, 1)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"register reserved2", B_REG6, {REG_P(reserved2, 0x8000)}, 0, FAII_DROP_RESERVED_NONZERO},
	{"register node 0", B_REG4, {REG_P(node_id, 0)}, 0, FAII_DROP_BAD_NODE_ID},
	{"register node 2^24", B_REG4, {REG_P(node_id, FAII_NODE_ID_MAX + 1)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"register time 0", B_REG4, {REG_P(timestamp_ns, 0)}, 0, FAII_DROP_BAD_TIMESTAMP},
	{"register region 0", B_REG4, {REG_P(region, 0)}, 0, FAII_DROP_BAD_REGION},
	{"register region 1024", B_REG6, {REG_P(region, FAII_REGION_ID_MAX + 1)}, 0,
	 FAII_DROP_BAD_REGION},
	{"node class 5", B_REG4, {REG_P(node_class, FAII_CLASS_COUNT)}, 0,
	 FAII_DROP_BAD_NODE_CLASS},
	{"node class XL", B_REG4, {REG_P(node_class, FAII_CLASS_XL)}, 0, FAII_DROP_OK},
	{"eligibility 0", B_REG4, {REG_P(eligibility, 0)}, 0, FAII_DROP_BAD_ELIGIBILITY},
	{"eligibility category 7", B_REG4, {REG_P(eligibility, 0x40)}, 0,
	 FAII_DROP_BAD_ELIGIBILITY},
	{"eligibility 0xFF", B_REG4, {REG_P(eligibility, 0xFF)}, 0, FAII_DROP_BAD_ELIGIBILITY},
	{"eligibility all six", B_REG4, {REG_P(eligibility, FAII_ELIGIBILITY_MASK)}, 0,
	 FAII_DROP_OK},
	{"country lower case", B_REG4, {REG_P(country, CC('d', 'e'))}, 0, FAII_DROP_BAD_COUNTRY},
	{"country with a digit", B_REG4, {REG_P(country, CC('D', '1'))}, 0, FAII_DROP_BAD_COUNTRY},
	{"country 'A' - 1", B_REG4, {REG_P(country, CC('@', 'A'))}, 0, FAII_DROP_BAD_COUNTRY},
	{"country 'Z' + 1", B_REG4, {REG_P(country, CC('A', '['))}, 0, FAII_DROP_BAD_COUNTRY},
	{"country ZZ", B_REG4, {REG_P(country, CC('Z', 'Z'))}, 0, FAII_DROP_OK},
	{"address family 0", B_REG4, {REG_P(addr_family, 0)}, 0, FAII_DROP_BAD_ADDRESS},
	{"address family 5", B_REG6, {REG_P(addr_family, 5)}, 0, FAII_DROP_BAD_ADDRESS},
	{"IPv4 byte 4 set", B_REG4, {REG_P(addr[4], 1)}, 0, FAII_DROP_BAD_ADDRESS},
	{"IPv4 byte 15 set", B_REG4, {REG_P(addr[15], 1)}, 0, FAII_DROP_BAD_ADDRESS},
	{"IPv6 address as IPv4", B_REG6, {REG_P(addr_family, FAII_ADDR_IPV4)}, 0,
	 FAII_DROP_BAD_ADDRESS},
	{"IPv4 address as IPv6", B_REG4, {REG_P(addr_family, FAII_ADDR_IPV6)}, 0, FAII_DROP_OK},
	{"port 0", B_REG4, {REG_P(udp_port, 0)}, 0, FAII_DROP_BAD_PORT},
	{"capacity 0", B_REG6, {REG_P(capacity_tasks_per_s, 0)}, 0, FAII_DROP_BAD_CAPACITY},

	/*
	 * Two defects: checks run in the order of docs/protocol.md section 7,
	 * which the dissector repeats, so the earlier check names the drop.
	 */
	{"magic, version", B_TASK, {HDR_P(magic, 0), HDR_P(version, 2)}, 0, FAII_DROP_BAD_MAGIC},
	{"version, type", B_TASK, {HDR_P(version, 3), HDR_P(type, 0)}, 0, FAII_DROP_BAD_VERSION},
	{"type, short", B_HB, {HDR_P(type, 9)}, -(int)(HB_LEN - 9), FAII_DROP_UNKNOWN_TYPE},
	{"length, flags", B_HB, {HDR_P(length, HB_LEN + 1), HDR_P(flags, 1)}, 0,
	 FAII_DROP_BAD_LENGTH},
	{"flags, reserved", B_RESULT, {HDR_P(flags, 1), HDR_P(reserved, 1)}, 0,
	 FAII_DROP_BAD_FLAGS},
	{"header reserved, body", B_TASK, {HDR_P(reserved, 1), TASK_P(category, 0)}, 0,
	 FAII_DROP_RESERVED_NONZERO},
	{"payload_len, category", B_TASK, {TASK_P(payload_len, 0), TASK_P(category, 0)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"category, tier", B_TASK, {TASK_P(category, 0), TASK_P(tier, 0)}, 0,
	 FAII_DROP_UNKNOWN_CATEGORY},
	{"tier, consistency", B_TASK, {TASK_P(tier, 5), TASK_P(consistency, 3)}, 0,
	 FAII_DROP_UNKNOWN_TIER},
	{"tier mismatch, consistency", B_TASK, {TASK_P(tier, 1), TASK_P(consistency, 3)}, 0,
	 FAII_DROP_TIER_MISMATCH},
	{"consistency, attempt", B_TASK_DISP, {TASK_P(consistency, 3), TASK_P(attempt, 2)}, 0,
	 FAII_DROP_BAD_CONSISTENCY},
	{"replica, attempt", B_TASK_DISP, {TASK_P(replica_index, 3), TASK_P(attempt, 2)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"attempt, residency", B_TASK_DISP, {TASK_P(attempt, 2), TASK_P(residency_class, 0)}, 0,
	 FAII_DROP_BAD_ATTEMPT},
	{"residency, region", B_TASK, {TASK_P(residency_class, 0), TASK_P(origin_region, 0)}, 0,
	 FAII_DROP_BAD_RESIDENCY_CLASS},
	{"region, reputation", B_TASK,
	 {TASK_P(origin_region, 0), TASK_P(min_reputation_milli, 1001)}, 0, FAII_DROP_BAD_REGION},
	{"reputation, budget", B_TASK,
	 {TASK_P(min_reputation_milli, 1001), TASK_P(latency_budget_us, 0)}, 0,
	 FAII_DROP_BAD_REPUTATION},
	{"budget, submit time", B_TASK, {TASK_P(latency_budget_us, 0), TASK_P(submit_ts_ns, 0)}, 0,
	 FAII_DROP_BAD_BUDGET},
	{"submit time, dispatch", B_TASK, {TASK_P(submit_ts_ns, 0), TASK_P(node_id, 5)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
	{"dispatch, reserved", B_TASK_DISP, {TASK_P(node_id, 0), TASK_P(reserved[1], 1)}, 0,
	 FAII_DROP_BAD_DISPATCH},
	{"result payload_len, status", B_RESULT, {RES_P(payload_len, 0), RES_P(status, 5)}, 0,
	 FAII_DROP_BAD_PAYLOAD_LENGTH},
	{"status, node", B_RESULT, {RES_P(status, FAII_RESULT_STATUS_MAX + 1), RES_P(node_id, 0)}, 0, FAII_DROP_BAD_STATUS},
	{"node, replica", B_RESULT, {RES_P(node_id, 0), RES_P(replica_index, 7)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"replica, dispatch time", B_RESULT, {RES_P(replica_index, 7), RES_P(dispatch_ts_ns, 0)}, 0,
	 FAII_DROP_BAD_REPLICA},
	{"dispatch time, reserved", B_RESULT, {RES_P(dispatch_ts_ns, 0), RES_P(reserved, 1)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
	{"heartbeat node, time", B_HB, {HB_P(node_id, 0), HB_P(timestamp_ns, 0)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"heartbeat time, load", B_HB, {HB_P(timestamp_ns, 0), HB_P(load_permille, 1001)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
	{"load, reserved", B_HB, {HB_P(load_permille, 1001), HB_P(reserved, 1)}, 0,
	 FAII_DROP_BAD_LOAD},
	{"attest node, time", B_ATTEST, {ATT_P(node_id, 0), ATT_P(timestamp_ns, 0)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"attest time, interval", B_ATTEST, {ATT_P(timestamp_ns, 0), ATT_P(interval_s, 0)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
	{"interval, PUE", B_ATTEST, {ATT_P(interval_s, 0), ATT_P(pue_milli, 0)}, 0,
	 FAII_DROP_BAD_INTERVAL},
	{"PUE, energy-to-work", B_ATTEST, {ATT_P(pue_milli, 0), ATT_P(energy_to_work_milli, 0)}, 0,
	 FAII_DROP_BAD_PUE},
	{"energy-to-work, grid", B_ATTEST,
	 {ATT_P(energy_to_work_milli, 0), ATT_P(grid_stress_permille, 1001)}, 0,
	 FAII_DROP_BAD_ENERGY_TO_WORK},
	{"grid, mix", B_ATTEST,
	 {ATT_P(grid_stress_permille, 1001), ATT_P(source_mix_permille[0], 0)}, 0,
	 FAII_DROP_BAD_GRID_STRESS},
	{"mix, reserved", B_ATTEST, {ATT_P(source_mix_permille[0], 0), ATT_P(reserved, 1)}, 0,
	 FAII_DROP_BAD_ENERGY_MIX},
	{"register node, class", B_REG4, {REG_P(node_id, 0), REG_P(node_class, 5)}, 0,
	 FAII_DROP_BAD_NODE_ID},
	{"class, eligibility", B_REG4, {REG_P(node_class, 5), REG_P(eligibility, 0)}, 0,
	 FAII_DROP_BAD_NODE_CLASS},
	{"eligibility, country", B_REG4, {REG_P(eligibility, 0), REG_P(country, 0)}, 0,
	 FAII_DROP_BAD_ELIGIBILITY},
	{"country, region", B_REG4, {REG_P(country, 0), REG_P(region, 0)}, 0,
	 FAII_DROP_BAD_COUNTRY},
	{"region, address", B_REG4, {REG_P(region, 0), REG_P(addr_family, 0)}, 0,
	 FAII_DROP_BAD_REGION},
	{"address, port", B_REG4, {REG_P(addr_family, 0), REG_P(udp_port, 0)}, 0,
	 FAII_DROP_BAD_ADDRESS},
	{"port, capacity", B_REG4, {REG_P(udp_port, 0), REG_P(capacity_tasks_per_s, 0)}, 0,
	 FAII_DROP_BAD_PORT},
	{"capacity, time", B_REG4, {REG_P(capacity_tasks_per_s, 0), REG_P(timestamp_ns, 0)}, 0,
	 FAII_DROP_BAD_CAPACITY},
	{"register time, reserved", B_REG4, {REG_P(timestamp_ns, 0), REG_P(reserved2, 1)}, 0,
	 FAII_DROP_BAD_TIMESTAMP},
};
/* clang-format on */

static enum faii_drop run_msg_case(const struct drop_case *c)
{
	uint8_t buf[BUF_SIZE] = {0};
	size_t len = build_msg(c->base, buf, sizeof(buf));
	for (unsigned i = 0; i < MAX_PATCHES && c->patch[i].width != 0; i++)
		put_be(buf + c->patch[i].off, c->patch[i].width, c->patch[i].value);
	return parse_exact(buf, (size_t)((long)len + c->len_delta));
}

Test(drop, message_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(msg_cases); i++) {
		const struct drop_case *c = &msg_cases[i];
		enum faii_drop got = run_msg_case(c);
		cr_expect_eq(got, c->expect, "%s (%s): got %s, want %s", c->what,
		             base_names[c->base], faii_drop_name(got), faii_drop_name(c->expect));
	}
}

/*
 * docs/protocol.md 7.3 lists "dispatched session/strong TASK without REPLICA"
 * under bad_replica, before bad_attempt, so it must win over every later check.
 */
Test(drop, missing_replica_flag_in_spec_order)
{
	static const struct drop_case cases[] = {
	        {"no replica flag, attempt 2",
	         B_TASK_DISP,
	         {HDR_P(flags, FAII_F_DISPATCHED), TASK_P(attempt, 2)},
	         0,
	         FAII_DROP_BAD_REPLICA},
	        {"no replica flag, residency 0",
	         B_TASK_DISP,
	         {HDR_P(flags, FAII_F_DISPATCHED), TASK_P(residency_class, 0)},
	         0,
	         FAII_DROP_BAD_REPLICA},
	        {"no replica flag, node 0",
	         B_TASK_DISP,
	         {HDR_P(flags, FAII_F_DISPATCHED), TASK_P(node_id, 0)},
	         0,
	         FAII_DROP_BAD_REPLICA},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum faii_drop got = run_msg_case(&cases[i]);
		cr_expect_eq(got, cases[i].expect, "%s: got %s", cases[i].what,
		             faii_drop_name(got));
	}
}

/* Every base message is itself valid, so each case tests only its mutation. */
Test(drop, bases_are_valid)
{
	for (int b = 0; b < B_COUNT; b++) {
		uint8_t buf[BUF_SIZE];
		size_t len = build_msg((enum base)b, buf, sizeof(buf));
		enum faii_drop got = parse_exact(buf, len);
		cr_expect_eq(got, FAII_OK, "%s: %s", base_names[b], faii_drop_name(got));
	}
}

/* Frames: Ethernet, an optional 802.1Q tag, IPv4 or IPv6, UDP, a heartbeat. */
enum frame_base {
	F_V4,
	F_V6,
	F_VLAN_V4,
	F_VLAN_V6,
	F_V4_OPTS, /* IHL 6: one word of IPv4 options */
	F_COUNT,
};

struct frame_spec {
	uint8_t ip_version;
	uint8_t vlan;
	uint8_t ip_opt_words;
};

static const struct frame_spec frame_specs[F_COUNT] = {
        [F_V4] = {4, 0, 0},      [F_V6] = {6, 0, 0},      [F_VLAN_V4] = {4, 1, 0},
        [F_VLAN_V6] = {6, 1, 0}, [F_V4_OPTS] = {4, 0, 1},
};

#define SRC_PORT 40000u
#define ETH_LEN  FAII_ETH_HDR_LEN
#define VLAN_LEN FAII_VLAN_TAG_LEN
#define IPV4_LEN FAII_IPV4_HDR_LEN
#define IPV6_LEN FAII_IPV6_HDR_LEN
#define UDP_LEN  FAII_UDP_HDR_LEN

/*
 * Wraps msg into the sample frame, to dst_port, with the shared builder;
 * returns the frame length. IPv4 options are inserted afterwards: the builder
 * makes none.
 */
static size_t build_frame(uint8_t *f, size_t cap, const struct frame_spec *s, uint16_t dst_port,
                          const uint8_t *msg, size_t msg_len)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(s->ip_version == 6);
	spec.vlan = s->vlan; /* VLAN 100, priority 0 */
	spec.src_port = SRC_PORT;
	spec.dst_port = dst_port;
	size_t len = faii_frame_build(f, cap, &spec, msg, msg_len);
	cr_assert_neq(len, 0, "frame does not fit %zu bytes", cap);

	size_t opt_len = 4u * s->ip_opt_words;
	if (opt_len > 0) {
		size_t l3 = faii_frame_hdr_len(&spec) - UDP_LEN - IPV4_LEN;
		uint8_t *opt = f + l3 + IPV4_LEN;
		cr_assert_leq(len + opt_len, cap);
		memmove(opt + opt_len, opt, len - (l3 + IPV4_LEN));
		memset(opt, 1, opt_len); /* NOP options */
		f[l3] = (uint8_t)(0x40 | ((IPV4_LEN + opt_len) / 4));
		put_be(f + l3 + 2, 2, get_be(f + l3 + 2, 2) + opt_len);
		put_be(f + l3 + 10, 2, 0);
		put_be(f + l3 + 10, 2, faii_ipv4_checksum(f + l3, IPV4_LEN + opt_len));
		len += opt_len;
	}
	return len;
}

static size_t build_frame_base(enum frame_base fb, uint8_t *f, size_t cap)
{
	uint8_t msg[BUF_SIZE];
	size_t msg_len = build_msg(B_HB, msg, sizeof(msg));
	return build_frame(f, cap, &frame_specs[fb], FAII_UDP_PORT_DEFAULT, msg, msg_len);
}

/* Frame offsets of the bases without and with a VLAN tag. */
#define L3    ETH_LEN
#define L4_V4 (L3 + IPV4_LEN)
#define L4_V6 (L3 + IPV6_LEN)
#define FRAME_P(at, w, v)                                                                          \
	{                                                                                          \
		.off = (uint16_t)(at), .width = (w), .value = (v)                                  \
	}
#define ETH_P(at, w, v)  FRAME_P(at, w, v)
#define V4_P(at, w, v)   FRAME_P(L3 + (at), w, v)
#define V6_P(at, w, v)   FRAME_P(L3 + (at), w, v)
#define UDP4_P(at, w, v) FRAME_P(L4_V4 + (at), w, v)
#define UDP6_P(at, w, v) FRAME_P(L4_V6 + (at), w, v)
#define FRAME_V4_LEN     (L4_V4 + UDP_LEN + HB_LEN)
#define FRAME_V6_LEN     (L4_V6 + UDP_LEN + HB_LEN)

struct frame_case {
	const char *what;
	enum frame_base base;
	struct patch patch[MAX_PATCHES];
	int len_delta;
	enum faii_drop expect;
};

/* clang-format off */
static const struct frame_case frame_cases[] = {
	{"frame of 13 bytes", F_V4, {{0}}, -(int)(FRAME_V4_LEN - 13), FAII_DROP_TOO_SHORT},
	{"frame of 0 bytes", F_V4, {{0}}, -(int)FRAME_V4_LEN, FAII_DROP_TOO_SHORT},
	{"VLAN tag cut", F_VLAN_V4, {{0}}, -(int)(FRAME_V4_LEN + VLAN_LEN - 17),
	 FAII_DROP_TOO_SHORT},
	{"message of 7 bytes", F_V4,
	 {V4_P(2, 2, IPV4_LEN + UDP_LEN + 7), UDP4_P(4, 2, UDP_LEN + 7)}, -(int)(HB_LEN - 7),
	 FAII_DROP_TOO_SHORT},
	{"message body cut", F_V6,
	 {V6_P(4, 2, UDP_LEN + HB_LEN - 1), UDP6_P(4, 2, UDP_LEN + HB_LEN - 1)}, -1,
	 FAII_DROP_TOO_SHORT},
	{"ARP", F_V4, {ETH_P(12, 2, 0x0806)}, 0, FAII_DROP_NOT_IP},
	{"VLAN carrying ARP", F_VLAN_V4, {ETH_P(16, 2, 0x0806)}, 0, FAII_DROP_NOT_IP},
	{"two VLAN tags", F_VLAN_V4, {ETH_P(16, 2, 0x8100)}, 0, FAII_DROP_NOT_IP},
	{"802.1ad outer tag", F_VLAN_V4, {ETH_P(12, 2, 0x88A8)}, 0, FAII_DROP_NOT_IP},
	{"IPv4 ethertype, version 6", F_V4, {V4_P(0, 1, 0x65)}, 0, FAII_DROP_BAD_IP_HEADER},
	{"IPv4 IHL 4", F_V4, {V4_P(0, 1, 0x44)}, 0, FAII_DROP_BAD_IP_HEADER},
	{"IPv4 total below IHL", F_V4, {V4_P(2, 2, IPV4_LEN - 1)}, 0, FAII_DROP_BAD_IP_HEADER},
	{"IPv4 total past the frame", F_V4, {V4_P(2, 2, IPV4_LEN + UDP_LEN + HB_LEN + 1)}, 0,
	 FAII_DROP_BAD_IP_HEADER},
	{"IPv4 header cut", F_V4, {{0}}, -(int)(FRAME_V4_LEN - (L3 + IPV4_LEN - 1)),
	 FAII_DROP_BAD_IP_HEADER},
	{"IPv6 ethertype, version 4", F_V6, {V6_P(0, 1, 0x40)}, 0, FAII_DROP_BAD_IP_HEADER},
	{"IPv6 payload past the frame", F_V6, {V6_P(4, 2, UDP_LEN + HB_LEN + 1)}, 0,
	 FAII_DROP_BAD_IP_HEADER},
	{"IPv6 header cut", F_VLAN_V6, {{0}}, -(int)(FRAME_V6_LEN - (L3 + IPV6_LEN - 1)),
	 FAII_DROP_BAD_IP_HEADER},
	{"IPv4 more fragments", F_V4, {V4_P(6, 2, 0x2000)}, 0, FAII_DROP_IP_FRAGMENT},
	{"IPv4 last fragment", F_V4, {V4_P(6, 2, 0x00B9)}, 0, FAII_DROP_IP_FRAGMENT},
	{"IPv4 DF and offset 1", F_V4, {V4_P(6, 2, 0x4001)}, 0, FAII_DROP_IP_FRAGMENT},
	{"IPv4 DF clear", F_V4, {V4_P(6, 2, 0)}, 0, FAII_DROP_OK},
	{"IPv6 fragment header", F_V6, {V6_P(6, 1, 44)}, 0, FAII_DROP_IP_FRAGMENT},
	{"IPv4 TCP", F_V4, {V4_P(9, 1, 6)}, 0, FAII_DROP_NOT_UDP},
	{"IPv6 TCP", F_V6, {V6_P(6, 1, 6)}, 0, FAII_DROP_NOT_UDP},
	{"IPv6 hop-by-hop header", F_VLAN_V6, {V6_P(VLAN_LEN + 6, 1, 0)}, 0, FAII_DROP_NOT_UDP},
	{"UDP length one more", F_V4, {UDP4_P(4, 2, UDP_LEN + HB_LEN + 1)}, 0,
	 FAII_DROP_BAD_UDP_LENGTH},
	{"UDP length one less", F_V4, {UDP4_P(4, 2, UDP_LEN + HB_LEN - 1)}, 0,
	 FAII_DROP_BAD_UDP_LENGTH},
	{"UDP length 7", F_V4, {UDP4_P(4, 2, 7)}, 0, FAII_DROP_BAD_UDP_LENGTH},
	{"UDP length 0", F_V6, {UDP6_P(4, 2, 0)}, 0, FAII_DROP_BAD_UDP_LENGTH},
	{"IPv6 UDP length one more", F_V6, {UDP6_P(4, 2, UDP_LEN + HB_LEN + 1)}, 0,
	 FAII_DROP_BAD_UDP_LENGTH},
	{"IPv4 room for half a UDP header", F_V4, {V4_P(2, 2, IPV4_LEN + 4)}, 0,
	 FAII_DROP_BAD_UDP_LENGTH},
	{"IPv6 room for half a UDP header", F_V6, {V6_P(4, 2, 4)}, 0, FAII_DROP_BAD_UDP_LENGTH},
	{"wrong destination port", F_V4, {UDP4_P(2, 2, FAII_UDP_PORT_DEFAULT + 1)}, 0,
	 FAII_DROP_WRONG_PORT},
	{"ports swapped", F_V6, {UDP6_P(0, 2, FAII_UDP_PORT_DEFAULT), UDP6_P(2, 2, SRC_PORT)}, 0,
	 FAII_DROP_WRONG_PORT},
	{"bad magic in a good frame", F_V4, {UDP4_P(UDP_LEN, 2, 0xFA12)}, 0, FAII_DROP_BAD_MAGIC},
	{"Ethernet padding after IPv4", F_V4, {{0}}, 20, FAII_DROP_OK},
	{"IPv4 options", F_V4_OPTS, {{0}}, 0, FAII_DROP_OK},
	{"VLAN IPv4", F_VLAN_V4, {{0}}, 0, FAII_DROP_OK},
	{"VLAN IPv6", F_VLAN_V6, {{0}}, 0, FAII_DROP_OK},

	/* Two defects: the earlier check of section 7.1 names the drop. */
	{"IP header, fragment", F_V4, {V4_P(0, 1, 0x44), V4_P(6, 2, 0x2000)}, 0,
	 FAII_DROP_BAD_IP_HEADER},
	{"fragment, protocol", F_V4, {V4_P(6, 2, 0x2000), V4_P(9, 1, 6)}, 0, FAII_DROP_IP_FRAGMENT},
	{"protocol, UDP length", F_V6, {V6_P(6, 1, 6), UDP6_P(4, 2, 0)}, 0, FAII_DROP_NOT_UDP},
	{"UDP length, port", F_V4, {UDP4_P(4, 2, 0), UDP4_P(2, 2, 1)}, 0, FAII_DROP_BAD_UDP_LENGTH},
	{"port, magic", F_V4, {UDP4_P(2, 2, 1), UDP4_P(UDP_LEN, 2, 0)}, 0, FAII_DROP_WRONG_PORT},
};
/* clang-format on */

static enum faii_drop run_frame_case(const struct frame_case *c)
{
	uint8_t f[BUF_SIZE] = {0};
	size_t len = build_frame_base(c->base, f, sizeof(f));
	for (unsigned i = 0; i < MAX_PATCHES && c->patch[i].width != 0; i++)
		put_be(f + c->patch[i].off, c->patch[i].width, c->patch[i].value);
	return parse_frame_exact(f, (size_t)((long)len + c->len_delta), FAII_UDP_PORT_DEFAULT);
}

Test(drop, frame_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(frame_cases); i++) {
		const struct frame_case *c = &frame_cases[i];
		enum faii_drop got = run_frame_case(c);
		cr_expect_eq(got, c->expect, "frame %s: got %s, want %s", c->what,
		             faii_drop_name(got), faii_drop_name(c->expect));
	}
}

/* A reason added to FAII_DROP_REASONS without a case here fails this test. */
Test(drop, every_reason_has_a_case)
{
	bool hit[FAII_DROP_COUNT] = {false};
	for (size_t i = 0; i < ARRAY_SIZE(msg_cases); i++)
		if (run_msg_case(&msg_cases[i]) == msg_cases[i].expect)
			hit[msg_cases[i].expect] = true;
	for (size_t i = 0; i < ARRAY_SIZE(frame_cases); i++)
		if (run_frame_case(&frame_cases[i]) == frame_cases[i].expect)
			hit[frame_cases[i].expect] = true;
	for (int r = FAII_DROP_OK + 1; r < FAII_DROP_COUNT; r++)
		cr_expect(hit[r], "no passing case returns %s", faii_drop_name((enum faii_drop)r));
}

static void expect_frame_view(enum frame_base fb, size_t l3, size_t l4)
{
	uint8_t f[BUF_SIZE];
	size_t len = build_frame_base(fb, f, sizeof(f));
	struct faii_frame_view v;

	cr_assert_eq(faii_parse_frame(f, len, FAII_UDP_PORT_DEFAULT, &v), FAII_OK);
	cr_expect_eq(v.ip_version, frame_specs[fb].ip_version);
	cr_expect_eq(v.l3_offset, l3);
	cr_expect_eq(v.l4_offset, l4);
	cr_expect_eq(v.msg_offset, l4 + UDP_LEN);
	cr_expect_eq(v.src_port, SRC_PORT);
	cr_expect_eq(v.dst_port, FAII_UDP_PORT_DEFAULT);
	cr_expect_eq((const void *)v.msg.hdr, (const void *)(f + l4 + UDP_LEN));
	cr_expect_eq(v.msg.type, FAII_MSG_HEARTBEAT);
	cr_expect_eq(v.msg.length, HB_LEN);
}

Test(frame, ipv4)
{
	expect_frame_view(F_V4, L3, L4_V4);
}
Test(frame, ipv6)
{
	expect_frame_view(F_V6, L3, L4_V6);
}
Test(frame, vlan_ipv4)
{
	expect_frame_view(F_VLAN_V4, L3 + VLAN_LEN, L4_V4 + VLAN_LEN);
}
Test(frame, vlan_ipv6)
{
	expect_frame_view(F_VLAN_V6, L3 + VLAN_LEN, L4_V6 + VLAN_LEN);
}
Test(frame, ipv4_options)
{
	expect_frame_view(F_V4_OPTS, L3, L4_V4 + 4);
}

/* The port is the caller's: the same frame is dropped or accepted. */
Test(frame, configured_port)
{
	uint8_t msg[BUF_SIZE], f[BUF_SIZE];
	size_t msg_len = build_msg(B_TASK, msg, sizeof(msg));
	size_t len = build_frame(f, sizeof(f), &frame_specs[F_V6], 9999, msg, msg_len);
	struct faii_frame_view v;

	cr_expect_eq(faii_parse_frame(f, len, FAII_UDP_PORT_DEFAULT, &v), FAII_DROP_WRONG_PORT);
	cr_assert_eq(faii_parse_frame(f, len, 9999, &v), FAII_OK);
	cr_expect_eq(v.msg.type, FAII_MSG_TASK);
	cr_expect_eq(v.msg.payload_len, sizeof(task_payload));
	cr_expect_arr_eq(v.msg.payload, task_payload, sizeof(task_payload));
}

/* ------------------------------------------------------------------------ */
/* 3. Boundary lengths.                                                     */

Test(length, every_short_length_of_every_type)
{
	for (int b = 0; b < B_COUNT; b++) {
		uint8_t buf[BUF_SIZE];
		size_t len = build_msg((enum base)b, buf, sizeof(buf));
		size_t fixed = FAII_HDR_SIZE + faii_body_size(base_type((enum base)b));

		for (size_t n = 0; n < fixed; n++) {
			enum faii_drop got = parse_exact(buf, n);
			cr_expect_eq(got, FAII_DROP_TOO_SHORT, "%s cut to %zu: %s", base_names[b],
			             n, faii_drop_name(got));
			/* A header that agrees with the cut changes nothing. */
			uint8_t cut[BUF_SIZE];
			memcpy(cut, buf, len);
			put_be(cut + 4, 2, n);
			got = parse_exact(cut, n);
			cr_expect_eq(got, FAII_DROP_TOO_SHORT, "%s of length %zu: %s",
			             base_names[b], n, faii_drop_name(got));
		}
		cr_expect_eq(parse_exact(buf, len), FAII_OK, "%s exact size", base_names[b]);

		/* A payload cut short: the header no longer matches, or payload_len. */
		for (size_t n = fixed; n < len; n++) {
			enum faii_drop got = parse_exact(buf, n);
			cr_expect_eq(got, FAII_DROP_BAD_LENGTH, "%s cut to %zu: %s", base_names[b],
			             n, faii_drop_name(got));
			uint8_t cut[BUF_SIZE];
			memcpy(cut, buf, len);
			put_be(cut + 4, 2, n);
			got = parse_exact(cut, n);
			cr_expect_eq(got, FAII_DROP_BAD_PAYLOAD_LENGTH, "%s of length %zu: %s",
			             base_names[b], n, faii_drop_name(got));
		}
	}
}

Test(length, length_field_and_datagram_disagree)
{
	for (int b = 0; b < B_COUNT; b++) {
		uint8_t buf[BUF_SIZE] = {0};
		size_t len = build_msg((enum base)b, buf, sizeof(buf));

		put_be(buf + 4, 2, len + 1);
		cr_expect_eq(parse_exact(buf, len), FAII_DROP_BAD_LENGTH, "%s length+1",
		             base_names[b]);
		put_be(buf + 4, 2, len - 1);
		cr_expect_eq(parse_exact(buf, len), FAII_DROP_BAD_LENGTH, "%s length-1",
		             base_names[b]);
		put_be(buf + 4, 2, len);
		cr_expect_eq(parse_exact(buf, len + 1), FAII_DROP_BAD_LENGTH, "%s datagram+1",
		             base_names[b]);
		cr_expect_eq(parse_exact(buf, len + 64), FAII_DROP_BAD_LENGTH, "%s datagram+64",
		             base_names[b]);
		/* A length that agrees modulo 2^16 must not pass. */
		uint8_t *big = calloc(1, len + 65536);
		cr_assert_not_null(big);
		memcpy(big, buf, len);
		struct faii_msg_view v;
		cr_expect_eq(faii_parse(big, len + 65536, &v), FAII_DROP_BAD_LENGTH,
		             "%s datagram+65536", base_names[b]);
		free(big);
	}
}

/* Signed types have no payload: extra bytes are an error even if declared. */
Test(length, signed_types_reject_trailing_bytes)
{
	for (size_t i = 0; i < ARRAY_SIZE(signed_bases); i++) {
		enum base b = signed_bases[i];
		uint8_t buf[BUF_SIZE] = {0};
		size_t len = build_msg(b, buf, sizeof(buf));

		for (size_t extra = 1; extra <= 64; extra *= 4) {
			put_be(buf + 4, 2, len + extra);
			enum faii_drop got = parse_exact(buf, len + extra);
			cr_expect_eq(got, FAII_DROP_BAD_LENGTH, "%s + %zu bytes: %s", base_names[b],
			             extra, faii_drop_name(got));
		}
	}
}

Test(length, task_payload_max)
{
	static uint8_t payload[FAII_TASK_PAYLOAD_MAX + 1];
	uint8_t buf[BUF_SIZE] = {0};
	struct faii_task t = task_client();
	struct faii_msg_view v;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	t.payload_len = FAII_TASK_PAYLOAD_MAX;
	size_t len = faii_encode_task(buf, sizeof(buf), &t, payload);
	cr_assert_eq(len, FAII_MSG_SIZE_MAX);
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	cr_expect_eq(v.payload_len, FAII_TASK_PAYLOAD_MAX);
	cr_expect_eq(v.length, FAII_MSG_SIZE_MAX);
	cr_expect_arr_eq(v.payload, payload, FAII_TASK_PAYLOAD_MAX);

	/* One more byte: the encoder refuses, and a hand-made one is dropped. */
	uint8_t big[BUF_SIZE];
	t.payload_len = FAII_TASK_PAYLOAD_MAX + 1;
	cr_expect_eq(faii_encode_task(big, sizeof(big), &t, payload), 0, "room is not the limit");
	put_be(buf + 4, 2, FAII_MSG_SIZE_MAX + 1);
	put_be(buf + FAII_HDR_SIZE + offsetof(struct faii_task, payload_len), 2,
	       FAII_TASK_PAYLOAD_MAX + 1);
	buf[FAII_MSG_SIZE_MAX] = 0xEE;
	enum faii_drop got = parse_exact(buf, FAII_MSG_SIZE_MAX + 1);
	cr_expect_eq(got, FAII_DROP_BAD_LENGTH, "%s", faii_drop_name(got));
}

Test(length, result_payload_max)
{
	static uint8_t payload[FAII_RESULT_PAYLOAD_MAX + 1];
	uint8_t buf[BUF_SIZE] = {0};
	struct faii_result r = result_node();
	struct faii_msg_view v;

	memset(payload, 0x77, sizeof(payload));
	r.payload_len = FAII_RESULT_PAYLOAD_MAX;
	size_t len = faii_encode_result(buf, sizeof(buf), &r, payload);
	cr_assert_eq(len, FAII_MSG_SIZE_MAX);
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	cr_expect_eq(v.payload_len, FAII_RESULT_PAYLOAD_MAX);

	uint8_t big[BUF_SIZE];
	r.payload_len = FAII_RESULT_PAYLOAD_MAX + 1;
	cr_expect_eq(faii_encode_result(big, sizeof(big), &r, payload), 0, "room is not the limit");
	put_be(buf + 4, 2, FAII_MSG_SIZE_MAX + 1);
	put_be(buf + FAII_HDR_SIZE + offsetof(struct faii_result, payload_len), 2,
	       FAII_RESULT_PAYLOAD_MAX + 1);
	enum faii_drop got = parse_exact(buf, FAII_MSG_SIZE_MAX + 1);
	cr_expect_eq(got, FAII_DROP_BAD_LENGTH, "%s", faii_drop_name(got));
}

Test(length, body_sizes)
{
	cr_expect_eq(faii_body_size(0), 0);
	cr_expect_eq(faii_body_size(FAII_MSG_TASK), sizeof(struct faii_task));
	cr_expect_eq(faii_body_size(FAII_MSG_RESULT), sizeof(struct faii_result));
	cr_expect_eq(faii_body_size(FAII_MSG_HEARTBEAT), sizeof(struct faii_heartbeat));
	cr_expect_eq(faii_body_size(FAII_MSG_ATTEST), sizeof(struct faii_attest));
	cr_expect_eq(faii_body_size(FAII_MSG_REGISTER), sizeof(struct faii_register));
	cr_expect_eq(faii_body_size(FAII_MSG_TYPE_MAX + 1), 0);
	cr_expect_eq(faii_body_size(255), 0);
}

/* ------------------------------------------------------------------------ */
/* 4. Drop reason names.                                                    */

static bool is_snake_case(const char *s)
{
	if (s[0] < 'a' || s[0] > 'z')
		return false;
	for (const char *p = s; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
		if (!ok || (p[0] == '_' && (p[1] == '_' || p[1] == '\0')))
			return false;
	}
	return true;
}

Test(names, distinct_snake_case)
{
	for (int r = 0; r < FAII_DROP_COUNT; r++) {
		const char *name = faii_drop_name((enum faii_drop)r);
		const char *meaning = faii_drop_meaning((enum faii_drop)r);
		cr_assert_not_null(name, "reason %d", r);
		cr_assert_not_null(meaning, "reason %d", r);
		cr_expect(is_snake_case(name), "reason %d name \"%s\"", r, name);
		cr_expect_gt(strlen(meaning), 0, "reason %d (%s) has no meaning", r, name);
		cr_expect_str_neq(name, "invalid", "reason %d", r);
		for (int o = 0; o < r; o++)
			cr_expect_str_neq(name, faii_drop_name((enum faii_drop)o), "reasons %d, %d",
			                  o, r);
	}
}

/* Counter names are stable labels: each is its enum suffix in lower case. */
Test(names, match_enum_symbols)
{
	static const struct {
		enum faii_drop reason;
		const char *sym;
	} syms[] = {
#define SYM(sym, name, meaning) {FAII_DROP_##sym, #sym},
	        FAII_DROP_REASONS(SYM)
#undef SYM
	};
	cr_assert_eq(ARRAY_SIZE(syms), FAII_DROP_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		char lower[64];
		size_t n = strlen(syms[i].sym);
		cr_assert_lt(n, sizeof(lower));
		for (size_t k = 0; k <= n; k++) {
			char c = syms[i].sym[k];
			lower[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		cr_expect_str_eq(faii_drop_name(syms[i].reason), lower);
	}
	cr_expect_str_eq(faii_drop_name(FAII_OK), "ok");
	cr_expect_str_eq(faii_drop_name(FAII_DROP_BAD_MAGIC), "bad_magic");
}

Test(names, out_of_range)
{
	cr_expect_str_eq(faii_drop_name(FAII_DROP_COUNT), "invalid");
	cr_expect_str_eq(faii_drop_name((enum faii_drop)(FAII_DROP_COUNT + 100)), "invalid");
	cr_expect_str_eq(faii_drop_name((enum faii_drop) - 1), "invalid");
	const char *meaning = faii_drop_meaning(FAII_DROP_COUNT);
	cr_assert_not_null(meaning);
	cr_expect_gt(strlen(meaning), 0);
	cr_assert_not_null(faii_drop_meaning((enum faii_drop) - 1));
}

/* ------------------------------------------------------------------------ */
/* 5. Signatures.                                                           */

static void sodium_setup(void)
{
	cr_assert_geq(sodium_init(), 0, "sodium_init failed");
}

TestSuite(sign, .init = sodium_setup);

/* Builds and signs a signed base; a REGISTER carries its own public key. */
static size_t build_signed(enum base b, uint8_t *buf, size_t cap, const uint8_t *pk,
                           const uint8_t *sk, struct faii_msg_view *v)
{
	size_t len = build_msg(b, buf, cap);
	if (base_type(b) == FAII_MSG_REGISTER)
		memcpy(buf + FAII_HDR_SIZE + offsetof(struct faii_register, public_key), pk,
		       crypto_sign_PUBLICKEYBYTES);
	cr_assert_eq(faii_msg_sign(buf, len, sk), 0, "%s", base_names[b]);
	cr_assert_eq(faii_parse(buf, len, v), FAII_OK, "%s signed", base_names[b]);
	return len;
}

Test(sign, verify_every_signed_type)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	cr_assert_eq(crypto_sign_keypair(pk, sk), 0);

	for (size_t i = 0; i < ARRAY_SIZE(signed_bases); i++) {
		enum base b = signed_bases[i];
		uint8_t buf[BUF_SIZE];
		struct faii_msg_view v;
		size_t len = build_signed(b, buf, sizeof(buf), pk, sk, &v);

		cr_expect_eq(faii_msg_verify(&v, pk), 0, "%s", base_names[b]);
		/* The signature covers every byte before it, header included. */
		uint8_t sig[FAII_SIGNATURE_SIZE];
		crypto_sign_detached(sig, NULL, buf, len - FAII_SIGNATURE_SIZE, sk);
		cr_expect_arr_eq(buf + len - FAII_SIGNATURE_SIZE, sig, FAII_SIGNATURE_SIZE, "%s",
		                 base_names[b]);
	}
}

Test(sign, any_flipped_bit_fails)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	cr_assert_eq(crypto_sign_keypair(pk, sk), 0);

	for (size_t i = 0; i < ARRAY_SIZE(signed_bases); i++) {
		enum base b = signed_bases[i];
		uint8_t buf[BUF_SIZE];
		struct faii_msg_view v;
		size_t len = build_signed(b, buf, sizeof(buf), pk, sk, &v);

		/* One bit per byte, header and signature included; the view aliases buf. */
		for (size_t k = 0; k < len; k++) {
			uint8_t mask = (uint8_t)(1u << (k % 8));
			buf[k] = (uint8_t)(buf[k] ^ mask);
			cr_expect_eq(faii_msg_verify(&v, pk), -EBADMSG, "%s: byte %zu flipped",
			             base_names[b], k);
			buf[k] = (uint8_t)(buf[k] ^ mask);
		}
		cr_expect_eq(faii_msg_verify(&v, pk), 0, "%s restored", base_names[b]);
	}
}

Test(sign, wrong_key_fails)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
	cr_assert_eq(crypto_sign_keypair(pk, sk), 0);
	cr_assert_eq(crypto_sign_keypair(pk2, sk2), 0);

	for (size_t i = 0; i < ARRAY_SIZE(signed_bases); i++) {
		enum base b = signed_bases[i];
		uint8_t buf[BUF_SIZE];
		struct faii_msg_view v;
		build_signed(b, buf, sizeof(buf), pk, sk, &v);
		cr_expect_eq(faii_msg_verify(&v, pk2), -EBADMSG, "%s", base_names[b]);
	}
}

Test(sign, unsigned_message_unsigned_types)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	cr_assert_eq(crypto_sign_keypair(pk, sk), 0);

	/* An encoded but unsigned message carries a zero signature. */
	uint8_t buf[BUF_SIZE];
	struct faii_msg_view v;
	size_t len = build_msg(B_HB, buf, sizeof(buf));
	cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
	cr_expect_eq(faii_msg_verify(&v, pk), -EBADMSG);

	/* TASK and RESULT are never signed: both directions refuse them. */
	static const enum base unsigned_bases[] = {B_TASK, B_TASK_DISP, B_RESULT, B_RESULT_APPL};
	for (size_t i = 0; i < ARRAY_SIZE(unsigned_bases); i++) {
		enum base b = unsigned_bases[i];
		len = build_msg(b, buf, sizeof(buf));
		cr_assert_eq(faii_parse(buf, len, &v), FAII_OK);
		cr_expect_eq(faii_msg_verify(&v, pk), -EINVAL, "%s verify", base_names[b]);
		uint8_t before[BUF_SIZE];
		memcpy(before, buf, len);
		cr_expect_eq(faii_msg_sign(buf, len, sk), -EINVAL, "%s sign", base_names[b]);
		cr_expect_arr_eq(buf, before, len, "%s changed by a refused sign", base_names[b]);
	}
	/* Too short to hold a header and a signature. */
	build_msg(B_HB, buf, sizeof(buf));
	cr_expect_eq(faii_msg_sign(buf, FAII_HDR_SIZE + FAII_SIGNATURE_SIZE - 1, sk), -EINVAL);
}

Test(sign, is_signed)
{
	cr_expect_not(faii_msg_is_signed(0));
	cr_expect_not(faii_msg_is_signed(FAII_MSG_TASK));
	cr_expect_not(faii_msg_is_signed(FAII_MSG_RESULT));
	cr_expect(faii_msg_is_signed(FAII_MSG_HEARTBEAT));
	cr_expect(faii_msg_is_signed(FAII_MSG_ATTEST));
	cr_expect(faii_msg_is_signed(FAII_MSG_REGISTER));
	cr_expect_not(faii_msg_is_signed(FAII_MSG_TYPE_MAX + 1));
}

/* ------------------------------------------------------------------------ */
/* 6. Categories and consistency levels.                                    */

Test(protocol, category_tiers)
{
	static const uint8_t want[FAII_CATEGORY_COUNT + 1] = {0, 1, 2, 2, 3, 4, 4};
	for (uint8_t c = 0; c <= FAII_CATEGORY_COUNT; c++)
		cr_expect_eq(faii_category_tier(c), want[c], "category %u", c);
	cr_expect_eq(faii_category_tier(FAII_CATEGORY_COUNT + 1), 0);
	cr_expect_eq(faii_category_tier(255), 0);
	cr_expect_eq(faii_category_tier(FAII_CAT_EDGE_INFERENCE), 1);
	cr_expect_eq(faii_category_tier(FAII_CAT_LEDGER_WORK), FAII_TIER_COUNT);
}

Test(protocol, consistency_replicas_and_quorum)
{
	cr_expect_eq(faii_consistency_replicas(FAII_CONSISTENCY_EVENTUAL), 1);
	cr_expect_eq(faii_consistency_replicas(FAII_CONSISTENCY_SESSION), 3);
	cr_expect_eq(faii_consistency_replicas(FAII_CONSISTENCY_STRONG), 7);
	cr_expect_eq(faii_consistency_quorum(FAII_CONSISTENCY_EVENTUAL), 1);
	cr_expect_eq(faii_consistency_quorum(FAII_CONSISTENCY_SESSION), 2);
	cr_expect_eq(faii_consistency_quorum(FAII_CONSISTENCY_STRONG), 5);
	for (uint8_t c = 0; c < FAII_CONSISTENCY_COUNT; c++) {
		uint8_t n = faii_consistency_replicas(c), q = faii_consistency_quorum(c);
		cr_expect_leq(n, FAII_REPLICAS_MAX, "level %u", c);
		/* A majority, so two disjoint quorums cannot both agree. */
		cr_expect_gt(2 * q, n, "level %u", c);
		cr_expect_leq(q, n, "level %u", c);
	}
}
