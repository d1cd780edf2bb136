/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the one wire parser (common/wire.c).
 *
 * Every input goes through faii_parse() as a UDP payload and through
 * faii_parse_frame() as an Ethernet frame. A drop reason must be a defined
 * one with a name; an accepted message must satisfy the invariants below,
 * otherwise the harness traps so that libFuzzer records the input:
 *
 *  - the view covers exactly the bytes parsed (length == size for a
 *    datagram, msg_offset + length within the frame for a frame);
 *  - header and body pointers alias the buffer, the payload pointer (TASK,
 *    RESULT) lies within it and payload_len == length - header - body;
 *  - the type is in range and matches the header;
 *  - decoding to host order and re-encoding gives back the same bytes, except
 *    the TASK header flags (the encoder derives them from the dispatch
 *    fields, the parser accepts a dispatched replica without FAII_F_REPLICA)
 *    and the signature of signed types (the encoder zeroes it).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "faii/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static void check_reason(enum faii_drop reason)
{
	CHECK((unsigned)reason < FAII_DROP_COUNT);
	const char *name = faii_drop_name(reason);
	CHECK(name != NULL && name[0] != '\0' && strcmp(name, "invalid") != 0);
	const char *meaning = faii_drop_meaning(reason);
	CHECK(meaning != NULL && meaning[0] != '\0');
}

static bool within(const void *p, size_t n, const uint8_t *buf, size_t size)
{
	const uint8_t *q = p;
	return q >= buf && q <= buf + size && n <= (size_t)(buf + size - q);
}

/* Re-encodes the decoded view and compares with the parsed bytes. */
static void check_roundtrip(const struct faii_msg_view *v)
{
	static uint8_t out[FAII_MSG_SIZE_MAX + 64];
	const uint8_t *in = (const uint8_t *)v->hdr;
	size_t n = 0;
	size_t sig_off = v->length; /* bytes [sig_off, length) are not compared */

	memset(out, 0xA5, sizeof(out));
	switch (v->type) {
	case FAII_MSG_TASK: {
		struct faii_task t;
		faii_decode_task(v, &t);
		CHECK(t.payload_len == v->payload_len);
		n = v->auth ? faii_encode_task_v2(out, sizeof(out), &t, v->auth, v->payload)
		            : faii_encode_task(out, sizeof(out), &t, v->payload);
		/* Flags: the encoder recomputes them; take the parsed ones. */
		if (n >= FAII_HDR_SIZE)
			out[offsetof(struct faii_hdr, flags)] = v->hdr->flags;
		break;
	}
	case FAII_MSG_RESULT: {
		struct faii_result r;
		faii_decode_result(v, &r);
		CHECK(r.payload_len == v->payload_len);
		n = v->auth ? faii_encode_result_v2(out, sizeof(out), &r, v->auth, v->payload)
		            : faii_encode_result(out, sizeof(out), &r, v->payload);
		break;
	}
	case FAII_MSG_HEARTBEAT: {
		struct faii_heartbeat hb;
		faii_decode_heartbeat(v, &hb);
		n = faii_encode_heartbeat(out, sizeof(out), &hb);
		sig_off = v->length - FAII_SIGNATURE_SIZE;
		break;
	}
	case FAII_MSG_ATTEST: {
		struct faii_attest a;
		faii_decode_attest(v, &a);
		n = faii_encode_attest(out, sizeof(out), &a);
		sig_off = v->length - FAII_SIGNATURE_SIZE;
		break;
	}
	case FAII_MSG_REGISTER: {
		struct faii_register r;
		faii_decode_register(v, &r);
		n = faii_encode_register(out, sizeof(out), &r);
		sig_off = v->length - FAII_SIGNATURE_SIZE;
		break;
	}
	default: CHECK(0);
	}
	CHECK(n == v->length);
	/* HEARTBEAT, ATTEST and REGISTER are the same in both versions; their
	 * encoders write version 1. */
	if (v->auth == NULL && n >= FAII_HDR_SIZE)
		out[offsetof(struct faii_hdr, version)] = v->version;
	if (v->auth != NULL) {
		/* The encoder leaves the MAC zero: compare it apart, then sign
		 * and verify under a fixed key, which must flip nothing else. */
		size_t mac_off = faii_msg_mac_offset(v->version, v->type);
		CHECK(mac_off != 0 && (const uint8_t *)v->auth->mac == in + mac_off);
		memcpy(out + mac_off, in + mac_off, FAII_MAC_SIZE);
		static const uint8_t key[FAII_MAC_KEY_SIZE] = {7};
		uint8_t signed_msg[FAII_MSG_SIZE_MAX];
		memcpy(signed_msg, in, v->length);
		CHECK(faii_msg_mac_sign(signed_msg, v->length, key) == 0);
		struct faii_msg_view sv;
		CHECK(faii_parse(signed_msg, v->length, &sv) == FAII_OK);
		CHECK(faii_msg_mac_ok(&sv, key));
		CHECK(memcmp(signed_msg, in, mac_off) == 0);
	}
	CHECK(memcmp(out, in, sig_off) == 0);
	/* The encoder leaves a zeroed signature and writes nothing past length. */
	for (size_t i = sig_off; i < n; i++)
		CHECK(out[i] == 0);
	CHECK(out[n] == 0xA5);

	/* The re-encoded bytes (signature restored) parse to the same view. */
	memcpy(out + sig_off, in + sig_off, v->length - sig_off);
	struct faii_msg_view again;
	CHECK(faii_parse(out, n, &again) == FAII_OK);
	CHECK(again.type == v->type && again.length == v->length &&
	      again.payload_len == v->payload_len);
}

/* Invariants of an accepted message parsed from buf[0..size). */
static void check_view(const struct faii_msg_view *v, const uint8_t *buf, size_t size)
{
	CHECK(v->type >= FAII_MSG_TYPE_MIN && v->type <= FAII_MSG_TYPE_MAX);
	size_t body = faii_body_size_v(v->version, v->type);
	CHECK(body != 0);
	CHECK(v->version == FAII_VERSION || v->version == FAII_VERSION_2);
	bool has_auth = v->version == FAII_VERSION_2 &&
	                (v->type == FAII_MSG_TASK || v->type == FAII_MSG_RESULT);
	CHECK((v->auth != NULL) == has_auth);
	CHECK(!has_auth ||
	      (const uint8_t *)v->auth == buf + FAII_HDR_SIZE + body - FAII_AUTH_BLOCK_SIZE);
	CHECK((const uint8_t *)v->hdr == buf);
	CHECK(v->length == size);
	CHECK(v->length <= FAII_MSG_SIZE_MAX);
	CHECK(v->length >= FAII_HDR_SIZE + body);
	CHECK(faii_be16(v->hdr->magic) == FAII_MAGIC);
	CHECK(v->hdr->version == v->version);
	CHECK(v->hdr->type == v->type);
	CHECK(faii_be16(v->hdr->length) == v->length);
	CHECK(v->hdr->reserved == 0);
	CHECK((v->hdr->flags & ~FAII_F_MASK) == 0);
	CHECK(v->type == FAII_MSG_TASK || v->hdr->flags == 0);
	CHECK((const uint8_t *)v->body == buf + FAII_HDR_SIZE);
	CHECK(within(v->body, body, buf, size));
	CHECK(v->payload_len == v->length - FAII_HDR_SIZE - body);

	if (v->type == FAII_MSG_TASK || v->type == FAII_MSG_RESULT) {
		CHECK(v->payload != NULL);
		CHECK(v->payload == buf + FAII_HDR_SIZE + body);
		CHECK(within(v->payload, v->payload_len, buf, size));
		uint16_t declared =
		        v->type == FAII_MSG_TASK ? v->task->payload_len : v->result->payload_len;
		CHECK(faii_be16(declared) == v->payload_len);
	} else {
		CHECK(v->payload == NULL);
		CHECK(v->payload_len == 0);
		CHECK(faii_msg_is_signed(v->type));
	}

	if (v->type == FAII_MSG_TASK) {
		const struct faii_task *t = v->task;
		CHECK(faii_category_tier(t->category) != 0);
		CHECK(t->tier == faii_category_tier(t->category));
		CHECK(t->replica_index < faii_consistency_replicas(t->consistency));
	}

	check_roundtrip(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faii_msg_view view;
	memset(&view, 0, sizeof(view));
	enum faii_drop reason = faii_parse(data, size, &view);
	check_reason(reason);
	if (reason == FAII_OK)
		check_view(&view, data, size);

	struct faii_frame_view fv;
	memset(&fv, 0, sizeof(fv));
	reason = faii_parse_frame(data, size, FAII_UDP_PORT_DEFAULT, &fv);
	check_reason(reason);
	if (reason == FAII_OK) {
		CHECK(fv.ip_version == 4 || fv.ip_version == 6);
		CHECK(fv.l3_offset == 14 || fv.l3_offset == 18);
		CHECK(fv.l4_offset >= fv.l3_offset + (fv.ip_version == 4 ? 20 : 40));
		CHECK(fv.msg_offset == fv.l4_offset + 8);
		CHECK(fv.dst_port == FAII_UDP_PORT_DEFAULT);
		CHECK(fv.msg_offset <= size);
		CHECK(fv.msg.length <= size - fv.msg_offset);
		/* The UDP length names exactly the message, and the IP length the UDP. */
		const uint8_t *ip = data + fv.l3_offset;
		const uint8_t *udp = data + fv.l4_offset;
		size_t udp_len = (size_t)(udp[4] << 8 | udp[5]);
		CHECK(udp_len == 8u + fv.msg.length);
		CHECK(fv.l4_offset + udp_len <= size);
		size_t ip_len = (size_t)(ip[fv.ip_version == 4 ? 2 : 4] << 8 |
		                         ip[fv.ip_version == 4 ? 3 : 5]);
		if (fv.ip_version == 4) {
			CHECK((ip[0] >> 4) == 4 && ip[9] == 17);
			CHECK(fv.l4_offset == fv.l3_offset + (size_t)(ip[0] & 0x0F) * 4);
			CHECK(ip_len == (size_t)(fv.l4_offset - fv.l3_offset) + udp_len);
		} else {
			CHECK((ip[0] >> 4) == 6 && ip[6] == 17);
			CHECK(ip_len == udp_len);
		}
		check_view(&fv.msg, data + fv.msg_offset, fv.msg.length);
	}
	return 0;
}
