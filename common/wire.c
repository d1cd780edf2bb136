/* SPDX-License-Identifier: BSD-3-Clause */
/* The faii wire protocol parser and encoders: see include/faii/wire.h. */
#include "faii/wire.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

static_assert(sizeof(struct faii_hdr) == FAII_HDR_SIZE, "header layout");
static_assert(sizeof(struct faii_task) == FAII_TASK_BODY_SIZE, "task layout");
static_assert(sizeof(struct faii_result) == FAII_RESULT_BODY_SIZE, "result layout");
static_assert(sizeof(struct faii_heartbeat) == FAII_HEARTBEAT_BODY_SIZE, "heartbeat layout");
static_assert(sizeof(struct faii_attest) == FAII_ATTEST_BODY_SIZE, "attest layout");
static_assert(sizeof(struct faii_register) == FAII_REGISTER_BODY_SIZE, "register layout");
static_assert(FAII_HDR_SIZE + FAII_REGISTER_BODY_SIZE <= FAII_MSG_SIZE_MAX, "largest body fits");
static_assert(sizeof(struct faii_auth_block) == FAII_AUTH_BLOCK_SIZE, "auth block layout");
static_assert(FAII_TASK_V2_BODY_SIZE == 96 && FAII_RESULT_V2_BODY_SIZE == 104, "v2 body sizes");
static_assert(FAII_MAC_SIZE >= 16, "a 16-byte tag at least: money rides on it");
static_assert(FAII_RESIDENCY_CLASS_MAX < 64, "residency classes index a 64-bit bitmap");

static const char *const drop_names[FAII_DROP_COUNT] = {
#define FAII_DROP_NAME(sym, name, meaning) [FAII_DROP_##sym] = name,
        FAII_DROP_REASONS(FAII_DROP_NAME)
#undef FAII_DROP_NAME
};

static const char *const drop_meanings[FAII_DROP_COUNT] = {
#define FAII_DROP_MEANING(sym, name, meaning) [FAII_DROP_##sym] = meaning,
        FAII_DROP_REASONS(FAII_DROP_MEANING)
#undef FAII_DROP_MEANING
};

const char *faii_drop_name(enum faii_drop reason)
{
	return (unsigned)reason < FAII_DROP_COUNT ? drop_names[reason] : "invalid";
}

const char *faii_drop_meaning(enum faii_drop reason)
{
	return (unsigned)reason < FAII_DROP_COUNT ? drop_meanings[reason] : "invalid drop reason";
}

size_t faii_body_size(uint8_t type)
{
	switch (type) {
	case FAII_MSG_TASK: return FAII_TASK_BODY_SIZE;
	case FAII_MSG_RESULT: return FAII_RESULT_BODY_SIZE;
	case FAII_MSG_HEARTBEAT: return FAII_HEARTBEAT_BODY_SIZE;
	case FAII_MSG_ATTEST: return FAII_ATTEST_BODY_SIZE;
	case FAII_MSG_REGISTER: return FAII_REGISTER_BODY_SIZE;
	default: return 0;
	}
}

size_t faii_body_size_v(uint8_t version, uint8_t type)
{
	size_t v1 = faii_body_size(type);
	if (version == FAII_VERSION)
		return v1;
	if (version != FAII_VERSION_2 || v1 == 0)
		return 0;
	bool has_auth = type == FAII_MSG_TASK || type == FAII_MSG_RESULT;
	return has_auth ? v1 + FAII_AUTH_BLOCK_SIZE : v1;
}

static bool node_id_valid(uint32_t node_id_be)
{
	uint32_t id = faii_be32(node_id_be);
	return id != 0 && id <= FAII_NODE_ID_MAX;
}

static enum faii_drop check_task(const struct faii_task *t, uint8_t flags, uint16_t payload_room)
{
	uint8_t category = t->category;
	uint16_t region = faii_be16(t->origin_region);
	uint16_t residency = faii_be16(t->residency_class);

	if (faii_be16(t->payload_len) != payload_room)
		return FAII_DROP_BAD_PAYLOAD_LENGTH;
	if (category == 0 || category > FAII_CATEGORY_COUNT)
		return FAII_DROP_UNKNOWN_CATEGORY;
	if (t->tier == 0 || t->tier > FAII_TIER_COUNT)
		return FAII_DROP_UNKNOWN_TIER;
	if (t->tier != faii_category_tier(category))
		return FAII_DROP_TIER_MISMATCH;
	if (t->consistency >= FAII_CONSISTENCY_COUNT)
		return FAII_DROP_BAD_CONSISTENCY;
	/* A replica flag only on a replicated task, and the index within its set. */
	bool replicated = t->consistency != FAII_CONSISTENCY_EVENTUAL;
	bool replica_flag = (flags & FAII_F_REPLICA) != 0;
	/* Every dispatched member of a replica set says it is one. */
	bool replica_flag_expected = replicated && (flags & FAII_F_DISPATCHED) != 0;
	if (t->replica_index >= faii_consistency_replicas(t->consistency) ||
	    (replica_flag && !replicated) ||
	    ((flags & FAII_F_DISPATCHED) != 0 && replica_flag != replica_flag_expected))
		return FAII_DROP_BAD_REPLICA;
	if (t->attempt > 1)
		return FAII_DROP_BAD_ATTEMPT;
	if (residency == 0 || residency > FAII_RESIDENCY_CLASS_MAX)
		return FAII_DROP_BAD_RESIDENCY_CLASS;
	if (region == 0 || region > FAII_REGION_ID_MAX)
		return FAII_DROP_BAD_REGION;
	if (faii_be16(t->min_reputation_milli) > FAII_REPUTATION_MILLI_MAX)
		return FAII_DROP_BAD_REPUTATION;
	if (t->latency_budget_us == 0)
		return FAII_DROP_BAD_BUDGET;
	if (t->submit_ts_ns == 0)
		return FAII_DROP_BAD_TIMESTAMP;
	/* Dispatch fields are set by the appliance and only with the flag. */
	if (flags & FAII_F_DISPATCHED) {
		if (!node_id_valid(t->node_id) || t->dispatch_ts_ns == 0)
			return FAII_DROP_BAD_DISPATCH;
	} else if (t->node_id != 0 || t->dispatch_ts_ns != 0 || t->replica_index != 0 ||
	           t->attempt != 0 || (flags & FAII_F_REPLICA)) {
		return FAII_DROP_BAD_DISPATCH;
	}
	if (t->reserved[0] | t->reserved[1] | t->reserved[2])
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

static enum faii_drop check_result(const struct faii_result *r, uint16_t payload_room)
{
	if (faii_be16(r->payload_len) != payload_room)
		return FAII_DROP_BAD_PAYLOAD_LENGTH;
	if (r->status > FAII_RESULT_STATUS_MAX)
		return FAII_DROP_BAD_STATUS;
	/*
	 * A node's answer (ok, error) names the node and echoes the dispatch
	 * time; the appliance's own answers (no feasible node, timeout, refused)
	 * may have neither, since the task may never have been dispatched.
	 */
	bool from_node = r->status == FAII_RESULT_OK || r->status == FAII_RESULT_ERROR;
	if (from_node ? !node_id_valid(r->node_id)
	              : (r->node_id != 0 && !node_id_valid(r->node_id)))
		return FAII_DROP_BAD_NODE_ID;
	if (r->replica_index >= FAII_REPLICAS_MAX)
		return FAII_DROP_BAD_REPLICA;
	if (from_node && r->dispatch_ts_ns == 0)
		return FAII_DROP_BAD_TIMESTAMP;
	if (r->reserved != 0)
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++) /* n <= 8: the token halves, reserved */
		acc |= p[i];
	return acc == 0;
}

/*
 * Version 2's block. A client's TASK carries no token (the appliance
 * chooses it); a dispatched copy and a node's answer carry a non-zero
 * nonce; the appliance's own answers (no feasible node, refused, timeout,
 * no quorum) may come for a task never dispatched and carry none.
 */
static enum faii_drop check_auth(const struct faii_auth_block *a, uint8_t type, uint8_t flags,
                                 uint8_t status)
{
	bool token_zero =
	        all_zero(a->nonce, sizeof(a->nonce)) && all_zero(a->handle, sizeof(a->handle));
	if (type == FAII_MSG_TASK) {
		if ((flags & FAII_F_DISPATCHED) ? all_zero(a->nonce, sizeof(a->nonce))
		                                : !token_zero)
			return FAII_DROP_BAD_DISPATCH;
	} else if (status == FAII_RESULT_OK || status == FAII_RESULT_ERROR) {
		if (all_zero(a->nonce, sizeof(a->nonce)))
			return FAII_DROP_BAD_DISPATCH;
	}
	if (!all_zero(a->reserved, sizeof(a->reserved)))
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

static enum faii_drop check_heartbeat(const struct faii_heartbeat *hb)
{
	if (!node_id_valid(hb->node_id))
		return FAII_DROP_BAD_NODE_ID;
	if (hb->timestamp_ns == 0)
		return FAII_DROP_BAD_TIMESTAMP;
	if (faii_be32(hb->load_permille) > FAII_PERMILLE)
		return FAII_DROP_BAD_LOAD;
	if (hb->reserved != 0)
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

static enum faii_drop check_attest(const struct faii_attest *a)
{
	if (!node_id_valid(a->node_id))
		return FAII_DROP_BAD_NODE_ID;
	if (a->timestamp_ns == 0)
		return FAII_DROP_BAD_TIMESTAMP;
	if (a->interval_s == 0)
		return FAII_DROP_BAD_INTERVAL;
	if (faii_be32(a->pue_milli) < FAII_PERMILLE)
		return FAII_DROP_BAD_PUE;
	if (a->energy_to_work_milli == 0)
		return FAII_DROP_BAD_ENERGY_TO_WORK;
	if (faii_be16(a->grid_stress_permille) > FAII_PERMILLE)
		return FAII_DROP_BAD_GRID_STRESS;
	uint32_t mix_sum = 0;
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		mix_sum += faii_be16(a->source_mix_permille[s]);
	if (mix_sum != FAII_PERMILLE)
		return FAII_DROP_BAD_ENERGY_MIX;
	if (a->reserved != 0)
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

static bool is_upper_alpha(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static enum faii_drop check_register(const struct faii_register *r)
{
	if (!node_id_valid(r->node_id))
		return FAII_DROP_BAD_NODE_ID;
	if (r->node_class >= FAII_CLASS_COUNT)
		return FAII_DROP_BAD_NODE_CLASS;
	if (r->eligibility == 0 || (r->eligibility & ~FAII_ELIGIBILITY_MASK) != 0)
		return FAII_DROP_BAD_ELIGIBILITY;
	if (!is_upper_alpha(r->country[0]) || !is_upper_alpha(r->country[1]))
		return FAII_DROP_BAD_COUNTRY;
	uint16_t region = faii_be16(r->region);
	if (region == 0 || region > FAII_REGION_ID_MAX)
		return FAII_DROP_BAD_REGION;
	if (r->addr_family == FAII_ADDR_IPV4) {
		static const uint8_t zero[12];
		if (memcmp(r->addr + 4, zero, sizeof(zero)) != 0)
			return FAII_DROP_BAD_ADDRESS;
	} else if (r->addr_family != FAII_ADDR_IPV6) {
		return FAII_DROP_BAD_ADDRESS;
	}
	if (r->udp_port == 0)
		return FAII_DROP_BAD_PORT;
	if (r->capacity_tasks_per_s == 0)
		return FAII_DROP_BAD_CAPACITY;
	if (r->timestamp_ns == 0)
		return FAII_DROP_BAD_TIMESTAMP;
	if (r->reserved != 0 || r->reserved2 != 0)
		return FAII_DROP_RESERVED_NONZERO;
	return FAII_OK;
}

/* The body of a parsed header, by type; version 2 adds the auth block. */
static enum faii_drop check_body(const uint8_t *bytes, const struct faii_hdr *hdr,
                                 uint16_t payload_room)
{
	const void *body = bytes + FAII_HDR_SIZE;
	enum faii_drop reason;
	switch (hdr->type) {
	case FAII_MSG_TASK: reason = check_task(body, hdr->flags, payload_room); break;
	case FAII_MSG_RESULT: reason = check_result(body, payload_room); break;
	case FAII_MSG_HEARTBEAT: return check_heartbeat(body);
	case FAII_MSG_ATTEST: return check_attest(body);
	default: return check_register(body);
	}
	if (reason != FAII_OK || hdr->version == FAII_VERSION)
		return reason;
	size_t v1_body = faii_body_size(hdr->type);
	uint8_t status =
	        hdr->type == FAII_MSG_RESULT ? ((const struct faii_result *)body)->status : 0;
	return check_auth((const void *)(bytes + FAII_HDR_SIZE + v1_body), hdr->type, hdr->flags,
	                  status);
}

/*
 * The version byte selects the parser path (docs/protocol.md section 8):
 * version 1 is unchanged; version 2 differs only in the TASK and RESULT
 * bodies, which end with the auth block.
 */
enum faii_drop faii_parse(const void *msg, size_t len, struct faii_msg_view *view)
{
	const uint8_t *bytes = msg;

	if (len < FAII_HDR_SIZE)
		return FAII_DROP_TOO_SHORT;
	const struct faii_hdr *hdr = msg;
	if (faii_be16(hdr->magic) != FAII_MAGIC)
		return FAII_DROP_BAD_MAGIC;
	if (hdr->version != FAII_VERSION && hdr->version != FAII_VERSION_2)
		return FAII_DROP_BAD_VERSION;
	size_t body_size = faii_body_size_v(hdr->version, hdr->type);
	if (body_size == 0)
		return FAII_DROP_UNKNOWN_TYPE;
	if (len < FAII_HDR_SIZE + body_size)
		return FAII_DROP_TOO_SHORT;
	uint16_t length = faii_be16(hdr->length);
	if (length != len || length > FAII_MSG_SIZE_MAX)
		return FAII_DROP_BAD_LENGTH;
	bool has_payload = hdr->type == FAII_MSG_TASK || hdr->type == FAII_MSG_RESULT;
	if (!has_payload && length != FAII_HDR_SIZE + body_size)
		return FAII_DROP_BAD_LENGTH;
	uint8_t allowed_flags = hdr->type == FAII_MSG_TASK ? FAII_F_MASK : 0;
	if ((hdr->flags & ~allowed_flags) != 0)
		return FAII_DROP_BAD_FLAGS;
	if (hdr->reserved != 0)
		return FAII_DROP_RESERVED_NONZERO;

	uint16_t payload_room = (uint16_t)(length - FAII_HDR_SIZE - body_size);
	enum faii_drop reason = check_body(bytes, hdr, payload_room);
	if (reason != FAII_OK)
		return reason;

	bool has_auth = has_payload && hdr->version == FAII_VERSION_2;
	view->hdr = hdr;
	view->body = bytes + FAII_HDR_SIZE;
	view->type = hdr->type;
	view->version = hdr->version;
	view->length = length;
	view->payload_len = payload_room;
	view->payload = has_payload ? bytes + FAII_HDR_SIZE + body_size : NULL;
	view->auth =
	        has_auth ? (const void *)(bytes + FAII_HDR_SIZE + body_size - FAII_AUTH_BLOCK_SIZE)
	                 : NULL;
	assert(view->payload_len == 0 || has_payload);
	return FAII_OK;
}

/* Ethernet, one optional VLAN tag, IPv4/IPv6 and UDP, bounds-checked. */
enum {
	ETH_HDR_LEN = 14,
	VLAN_TAG_LEN = 4,
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86DD,
	ETHERTYPE_VLAN = 0x8100,
	IPV4_HDR_MIN = 20,
	IPV6_HDR_LEN = 40,
	UDP_HDR_LEN = 8,
	IPPROTO_UDP_NUM = 17,
};

static uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

enum faii_drop faii_parse_frame(const void *frame, size_t len, uint16_t udp_port,
                                struct faii_frame_view *view)
{
	const uint8_t *p = frame;
	size_t off = ETH_HDR_LEN;

	if (len < ETH_HDR_LEN)
		return FAII_DROP_TOO_SHORT;
	uint16_t ethertype = load_be16(p + 12);
	if (ethertype == ETHERTYPE_VLAN) {
		if (len < ETH_HDR_LEN + VLAN_TAG_LEN)
			return FAII_DROP_TOO_SHORT;
		ethertype = load_be16(p + 16);
		off += VLAN_TAG_LEN;
	}

	size_t l3 = off, l4, l4_end;
	if (ethertype == ETHERTYPE_IPV4) {
		if (len < l3 + IPV4_HDR_MIN || (p[l3] >> 4) != 4)
			return FAII_DROP_BAD_IP_HEADER;
		size_t ihl = (size_t)(p[l3] & 0x0F) * 4;
		size_t total = load_be16(p + l3 + 2);
		if (ihl < IPV4_HDR_MIN || total < ihl || l3 + total > len)
			return FAII_DROP_BAD_IP_HEADER;
		/* More-fragments set or a non-zero offset: a fragment. */
		if ((load_be16(p + l3 + 6) & 0x3FFF) != 0)
			return FAII_DROP_IP_FRAGMENT;
		if (p[l3 + 9] != IPPROTO_UDP_NUM)
			return FAII_DROP_NOT_UDP;
		l4 = l3 + ihl;
		l4_end = l3 + total;
		view->ip_version = 4;
	} else if (ethertype == ETHERTYPE_IPV6) {
		if (len < l3 + IPV6_HDR_LEN || (p[l3] >> 4) != 6)
			return FAII_DROP_BAD_IP_HEADER;
		size_t payload = load_be16(p + l3 + 4);
		if (l3 + IPV6_HDR_LEN + payload > len)
			return FAII_DROP_BAD_IP_HEADER;
		if (p[l3 + 6] == 44)
			return FAII_DROP_IP_FRAGMENT;
		if (p[l3 + 6] != IPPROTO_UDP_NUM)
			return FAII_DROP_NOT_UDP;
		l4 = l3 + IPV6_HDR_LEN;
		l4_end = l4 + payload;
		view->ip_version = 6;
	} else {
		return FAII_DROP_NOT_IP;
	}

	if (l4_end < l4 + UDP_HDR_LEN)
		return FAII_DROP_BAD_UDP_LENGTH;
	size_t udp_len = load_be16(p + l4 + 4);
	if (udp_len < UDP_HDR_LEN || l4 + udp_len != l4_end)
		return FAII_DROP_BAD_UDP_LENGTH;
	view->src_port = load_be16(p + l4);
	view->dst_port = load_be16(p + l4 + 2);
	if (view->dst_port != udp_port)
		return FAII_DROP_WRONG_PORT;

	view->l3_offset = (uint16_t)l3;
	view->l4_offset = (uint16_t)l4;
	view->msg_offset = (uint16_t)(l4 + UDP_HDR_LEN);
	return faii_parse(p + view->msg_offset, udp_len - UDP_HDR_LEN, &view->msg);
}

/*
 * Byte-order swaps of each body, field by field. A swap is its own inverse, so
 * one function serves both encoding (host to wire) and decoding.
 */
#define SWAP16(f) ((f) = faii_be16(f))
#define SWAP32(f) ((f) = faii_be32(f))
#define SWAP64(f) ((f) = faii_be64(f))

static void swap_task(struct faii_task *t)
{
	SWAP64(t->task_id);
	SWAP64(t->client_id);
	SWAP64(t->submit_ts_ns);
	SWAP64(t->dispatch_ts_ns);
	SWAP32(t->node_id);
	SWAP32(t->latency_budget_us);
	SWAP16(t->origin_region);
	SWAP16(t->residency_class);
	SWAP16(t->min_reputation_milli);
	SWAP16(t->payload_len);
}

static void swap_result(struct faii_result *r)
{
	SWAP64(r->task_id);
	SWAP64(r->dispatch_ts_ns);
	SWAP32(r->node_id);
	SWAP32(r->exec_time_us);
	SWAP16(r->payload_len);
	SWAP32(r->reserved);
}

static void swap_heartbeat(struct faii_heartbeat *hb)
{
	SWAP32(hb->node_id);
	SWAP32(hb->seq);
	SWAP64(hb->timestamp_ns);
	SWAP64(hb->uptime_s);
	SWAP64(hb->tasks_completed);
	SWAP64(hb->tasks_failed);
	SWAP32(hb->outstanding_tasks);
	SWAP32(hb->queue_depth);
	SWAP32(hb->load_permille);
	SWAP32(hb->reserved);
}

static void swap_attest(struct faii_attest *a)
{
	SWAP32(a->node_id);
	SWAP32(a->seq);
	SWAP64(a->timestamp_ns);
	SWAP64(a->meter_id);
	SWAP64(a->interval_start_s);
	SWAP32(a->interval_s);
	SWAP32(a->energy_wh);
	SWAP32(a->pue_milli);
	SWAP32(a->energy_to_work_milli);
	SWAP16(a->grid_stress_permille);
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		SWAP16(a->source_mix_permille[s]);
	SWAP16(a->reserved);
}

static void swap_register(struct faii_register *r)
{
	SWAP32(r->node_id);
	SWAP32(r->operator_id);
	SWAP32(r->asn);
	SWAP32(r->capacity_tasks_per_s);
	SWAP32(r->price_micro);
	SWAP16(r->region);
	SWAP16(r->udp_port);
	SWAP16(r->reserved2);
	SWAP64(r->timestamp_ns);
}

/* Writes header and body; returns the message length or 0. */
static size_t encode_v(void *buf, size_t cap, uint8_t version, uint8_t type, uint8_t flags,
                       const void *body, size_t body_size, const void *payload, size_t payload_len)
{
	size_t length = FAII_HDR_SIZE + body_size + payload_len;
	if (length > cap || length > FAII_MSG_SIZE_MAX || (payload_len > 0 && payload == NULL))
		return 0;
	struct faii_hdr hdr = {
	        .magic = faii_be16(FAII_MAGIC),
	        .version = version,
	        .type = type,
	        .length = faii_be16((uint16_t)length),
	        .flags = flags,
	};
	uint8_t *out = buf;
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + FAII_HDR_SIZE, body, body_size);
	if (payload_len > 0)
		memcpy(out + FAII_HDR_SIZE + body_size, payload, payload_len);
	return length;
}

static size_t encode(void *buf, size_t cap, uint8_t type, uint8_t flags, const void *body,
                     size_t body_size, const void *payload, size_t payload_len)
{
	return encode_v(buf, cap, FAII_VERSION, type, flags, body, body_size, payload, payload_len);
}

static uint8_t task_flags(const struct faii_task *task)
{
	uint8_t flags = 0;
	if (task->node_id != 0 || task->dispatch_ts_ns != 0)
		flags |= FAII_F_DISPATCHED;
	if (task->consistency != FAII_CONSISTENCY_EVENTUAL && (flags & FAII_F_DISPATCHED))
		flags |= FAII_F_REPLICA;
	return flags;
}

size_t faii_encode_task_v2(void *buf, size_t cap, const struct faii_task *task,
                           const struct faii_auth_block *auth, const void *payload)
{
	struct {
		struct faii_task t;
		struct faii_auth_block a;
	} FAII_PACKED wire = {.t = *task, .a = *auth};
	static_assert(sizeof(wire) == FAII_TASK_V2_BODY_SIZE, "v2 task body");
	swap_task(&wire.t);
	memset(wire.a.mac, 0, sizeof(wire.a.mac));
	return encode_v(buf, cap, FAII_VERSION_2, FAII_MSG_TASK, task_flags(task), &wire,
	                sizeof(wire), payload, task->payload_len);
}

size_t faii_encode_result_v2(void *buf, size_t cap, const struct faii_result *result,
                             const struct faii_auth_block *auth, const void *payload)
{
	struct {
		struct faii_result r;
		struct faii_auth_block a;
	} FAII_PACKED wire = {.r = *result, .a = *auth};
	static_assert(sizeof(wire) == FAII_RESULT_V2_BODY_SIZE, "v2 result body");
	swap_result(&wire.r);
	memset(wire.a.mac, 0, sizeof(wire.a.mac));
	return encode_v(buf, cap, FAII_VERSION_2, FAII_MSG_RESULT, 0, &wire, sizeof(wire), payload,
	                result->payload_len);
}

size_t faii_encode_task(void *buf, size_t cap, const struct faii_task *task, const void *payload)
{
	struct faii_task wire = *task;
	swap_task(&wire);
	return encode(buf, cap, FAII_MSG_TASK, task_flags(task), &wire, sizeof(wire), payload,
	              task->payload_len);
}

size_t faii_encode_result(void *buf, size_t cap, const struct faii_result *result,
                          const void *payload)
{
	struct faii_result wire = *result;
	swap_result(&wire);
	return encode(buf, cap, FAII_MSG_RESULT, 0, &wire, sizeof(wire), payload,
	              result->payload_len);
}

size_t faii_encode_heartbeat(void *buf, size_t cap, const struct faii_heartbeat *hb)
{
	struct faii_heartbeat wire = *hb;
	swap_heartbeat(&wire);
	memset(wire.signature, 0, sizeof(wire.signature));
	return encode(buf, cap, FAII_MSG_HEARTBEAT, 0, &wire, sizeof(wire), NULL, 0);
}

size_t faii_encode_attest(void *buf, size_t cap, const struct faii_attest *att)
{
	struct faii_attest wire = *att;
	swap_attest(&wire);
	memset(wire.signature, 0, sizeof(wire.signature));
	return encode(buf, cap, FAII_MSG_ATTEST, 0, &wire, sizeof(wire), NULL, 0);
}

size_t faii_encode_register(void *buf, size_t cap, const struct faii_register *reg)
{
	struct faii_register wire = *reg;
	swap_register(&wire);
	memset(wire.signature, 0, sizeof(wire.signature));
	return encode(buf, cap, FAII_MSG_REGISTER, 0, &wire, sizeof(wire), NULL, 0);
}

void faii_decode_task(const struct faii_msg_view *view, struct faii_task *out)
{
	assert(view->type == FAII_MSG_TASK);
	memcpy(out, view->task, sizeof(*out));
	swap_task(out);
}

void faii_decode_result(const struct faii_msg_view *view, struct faii_result *out)
{
	assert(view->type == FAII_MSG_RESULT);
	memcpy(out, view->result, sizeof(*out));
	swap_result(out);
}

void faii_decode_heartbeat(const struct faii_msg_view *view, struct faii_heartbeat *out)
{
	assert(view->type == FAII_MSG_HEARTBEAT);
	memcpy(out, view->heartbeat, sizeof(*out));
	swap_heartbeat(out);
}

void faii_decode_attest(const struct faii_msg_view *view, struct faii_attest *out)
{
	assert(view->type == FAII_MSG_ATTEST);
	memcpy(out, view->attest, sizeof(*out));
	swap_attest(out);
}

void faii_decode_register(const struct faii_msg_view *view, struct faii_register *out)
{
	assert(view->type == FAII_MSG_REGISTER);
	memcpy(out, view->reg, sizeof(*out));
	swap_register(out);
}

bool faii_msg_is_signed(uint8_t type)
{
	return type == FAII_MSG_HEARTBEAT || type == FAII_MSG_ATTEST || type == FAII_MSG_REGISTER;
}

int faii_msg_sign(void *msg, size_t len, const uint8_t secret_key[64])
{
	const struct faii_hdr *hdr = msg;
	/* Only a whole signed message: the signature goes at its very end. */
	if (len < FAII_HDR_SIZE || !faii_msg_is_signed(hdr->type) ||
	    len != FAII_HDR_SIZE + faii_body_size(hdr->type) || faii_be16(hdr->length) != len)
		return -EINVAL;
	uint8_t *sig = (uint8_t *)msg + len - FAII_SIGNATURE_SIZE;
	return crypto_sign_detached(sig, NULL, msg, len - FAII_SIGNATURE_SIZE, secret_key) == 0
	               ? 0
	               : -EINVAL;
}

int faii_msg_verify(const struct faii_msg_view *view, const uint8_t public_key[FAII_PUBKEY_SIZE])
{
	if (!faii_msg_is_signed(view->type))
		return -EINVAL;
	const uint8_t *msg = (const uint8_t *)view->hdr;
	size_t signed_len = view->length - FAII_SIGNATURE_SIZE;
	return crypto_sign_verify_detached(msg + signed_len, msg, signed_len, public_key) == 0
	               ? 0
	               : -EBADMSG;
}

size_t faii_msg_mac_offset(uint8_t version, uint8_t type)
{
	if (version != FAII_VERSION_2)
		return 0;
	return type == FAII_MSG_TASK     ? FAII_TASK_MAC_OFFSET
	       : type == FAII_MSG_RESULT ? FAII_RESULT_MAC_OFFSET
	                                 : 0;
}

/* Keyed BLAKE2b-128 over [0, off) and [off + 16, len): one pass, no copy. */
static void mac_of(const uint8_t *msg, size_t len, size_t off, const uint8_t *key, uint8_t *mac)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, FAII_MAC_KEY_SIZE, FAII_MAC_SIZE);
	crypto_generichash_update(&st, msg, off);
	crypto_generichash_update(&st, msg + off + FAII_MAC_SIZE, len - off - FAII_MAC_SIZE);
	crypto_generichash_final(&st, mac, FAII_MAC_SIZE);
}

int faii_msg_mac(const void *msg, size_t len, const uint8_t key[FAII_MAC_KEY_SIZE],
                 uint8_t mac[FAII_MAC_SIZE])
{
	const struct faii_hdr *hdr = msg;
	if (len < FAII_HDR_SIZE || len > FAII_MSG_SIZE_MAX || faii_be16(hdr->length) != len)
		return -EINVAL;
	size_t off = faii_msg_mac_offset(hdr->version, hdr->type);
	if (off == 0 || len < off + FAII_MAC_SIZE)
		return -EINVAL;
	mac_of(msg, len, off, key, mac);
	return 0;
}

int faii_msg_mac_sign(void *msg, size_t len, const uint8_t key[FAII_MAC_KEY_SIZE])
{
	uint8_t mac[FAII_MAC_SIZE];
	int rc = faii_msg_mac(msg, len, key, mac);
	if (rc != 0)
		return rc;
	const struct faii_hdr *hdr = msg;
	memcpy((uint8_t *)msg + faii_msg_mac_offset(hdr->version, hdr->type), mac, sizeof(mac));
	return 0;
}

bool faii_msg_mac_ok(const struct faii_msg_view *view, const uint8_t key[FAII_MAC_KEY_SIZE])
{
	if (view->auth == NULL)
		return false;
	const uint8_t *msg = (const uint8_t *)view->hdr;
	size_t off = (size_t)(view->auth->mac - msg);
	uint8_t mac[FAII_MAC_SIZE];
	mac_of(msg, view->length, off, key, mac);
	return sodium_memcmp(mac, view->auth->mac, FAII_MAC_SIZE) == 0;
}

static_assert(FAII_KX_KEY_SIZE == crypto_kx_PUBLICKEYBYTES &&
                      FAII_KX_KEY_SIZE == crypto_kx_SECRETKEYBYTES &&
                      FAII_MAC_KEY_SIZE == crypto_kx_SESSIONKEYBYTES,
              "crypto_kx sizes");

int faii_result_key_appliance(const uint8_t appliance_pk[FAII_KX_KEY_SIZE],
                              const uint8_t appliance_sk[FAII_KX_KEY_SIZE],
                              const uint8_t node_public_key[FAII_PUBKEY_SIZE],
                              uint8_t key[FAII_MAC_KEY_SIZE])
{
	uint8_t node_x[crypto_kx_PUBLICKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	if (crypto_sign_ed25519_pk_to_curve25519(node_x, node_public_key) != 0)
		return -EINVAL;
	/* The node's transmit key is the appliance's receive key. */
	int rc = crypto_kx_server_session_keys(key, tx, appliance_pk, appliance_sk, node_x);
	sodium_memzero(tx, sizeof(tx));
	return rc == 0 ? 0 : -EINVAL;
}

int faii_result_key_node(const uint8_t node_secret_key[64],
                         const uint8_t appliance_pk[FAII_KX_KEY_SIZE],
                         uint8_t key[FAII_MAC_KEY_SIZE])
{
	uint8_t x_sk[crypto_kx_SECRETKEYBYTES], x_pk[crypto_kx_PUBLICKEYBYTES];
	uint8_t rx[crypto_kx_SESSIONKEYBYTES];
	int rc = -EINVAL;
	if (crypto_sign_ed25519_sk_to_curve25519(x_sk, node_secret_key) == 0 &&
	    crypto_sign_ed25519_pk_to_curve25519(x_pk, node_secret_key + 32) == 0 &&
	    crypto_kx_client_session_keys(rx, key, x_pk, x_sk, appliance_pk) == 0)
		rc = 0;
	sodium_memzero(x_sk, sizeof(x_sk));
	sodium_memzero(rx, sizeof(rx));
	return rc;
}
