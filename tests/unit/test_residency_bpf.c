/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the data-residency BPF program (ebpf/residency.bpf.c).
 *
 * Each test loads the compiled object afresh (so the per-CPU counters and the
 * ring buffer start empty), installs a small policy through the maps, and runs
 * hand-built Ethernet frames through both attach points, faii_residency_xdp
 * and faii_residency_tc, with BPF_PROG_TEST_RUN. The faii messages inside the
 * frames come from the project's own encoders (common/wire.c); the test only
 * wraps them in Ethernet, an optional 802.1Q tag, IPv4 or IPv6, and UDP.
 *
 * Needs CAP_BPF and CAP_NET_ADMIN (root) and the object's path in
 * FAII_BPF_OBJECT, which the build defines.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "faii/protocol.h"
#include "faii/residency.h"
#include "faii/wire.h"

#ifndef FAII_BPF_OBJECT
#error "FAII_BPF_OBJECT must name the compiled residency.bpf.o"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX     512u

#define ETH_HDR_LEN   14u
#define VLAN_HDR_LEN  4u
#define IPV4_HDR_LEN  20u
#define IPV6_HDR_LEN  40u
#define IPV6_FRAG_LEN 8u
#define UDP_HDR_LEN   8u
#define TCP_HDR_LEN   20u

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP  0x0806u
#define ETHERTYPE_VLAN 0x8100u
#define ETHERTYPE_IPV6 0x86DDu

#define PROTO_TCP       6u
#define PROTO_UDP       17u
#define PROTO_IPV6_FRAG 44u

#define IPV4_MF 0x2000u /* more fragments; the low 13 bits are the offset */

/* ------------------------------------------------------------------------ */
/* The policy installed by the fixture.                                     */

/* Jurisdiction indices: bit positions in a class's allowed set. */
#define JUR_CH         3u
#define JUR_US         7u
#define JUR_OUT_OF_SET 70u /* outside 0..63: no class can allow it */
#define JUR_UNKNOWN    FAII_RES_JURISDICTION_UNKNOWN

#define NODE_CH      0x000101u
#define NODE_US      0x000202u
#define NODE_ODD     0x000303u /* jurisdiction JUR_OUT_OF_SET */
#define NODE_UNKNOWN 0x00ABCDu /* not in faii_res_nodes */

#define CLASS_CH_ONLY   5u
#define CLASS_UNDEFINED 9u   /* present in the array with defined = 0 */
#define CLASS_TOO_LARGE 100u /* beyond faii_res_classes' 64 entries */

#define BIT(j) (UINT64_C(1) << (j))

static const struct {
	uint32_t node_id;
	uint32_t jurisdiction;
} policy_nodes[] = {
        {NODE_CH, JUR_CH},
        {NODE_US, JUR_US},
        {NODE_ODD, JUR_OUT_OF_SET},
};

/* ------------------------------------------------------------------------ */
/* The loaded object, fresh for every test.                                 */

static struct bpf_object *obj;
static int prog_fd[2];
static int nodes_fd, classes_fd, counters_fd, events_fd;

enum attach { AT_XDP, AT_TC };
static const char *const attach_names[] = {"xdp", "tc"};

static const char *const reason_names[FAII_RES_REASON_COUNT] = {
#define REASON_NAME(sym, name) name,
        FAII_RESIDENCY_REASONS(REASON_NAME)
#undef REASON_NAME
};

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static int map_fd(const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
	cr_assert_not_null(map, "map %s not in %s", name, FAII_BPF_OBJECT);
	return bpf_map__fd(map);
}

static int program_fd(const char *name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, name);
	cr_assert_not_null(prog, "program %s not in %s", name, FAII_BPF_OBJECT);
	return bpf_program__fd(prog);
}

static void set_node(uint32_t node_id, uint32_t jurisdiction)
{
	struct faii_res_node value = {.jurisdiction = jurisdiction};
	cr_assert_eq(bpf_map_update_elem(nodes_fd, &node_id, &value, BPF_ANY), 0,
	             "faii_res_nodes[%#x]: %s", node_id, strerror(errno));
}

static void set_class(uint32_t class_id, uint64_t allowed, uint32_t defined)
{
	struct faii_res_class value = {.allowed = allowed, .defined = defined};
	cr_assert_eq(bpf_map_update_elem(classes_fd, &class_id, &value, BPF_ANY), 0,
	             "faii_res_classes[%u]: %s", class_id, strerror(errno));
}

static void load_object(void)
{
	libbpf_set_print(print_warnings);
	obj = bpf_object__open_file(FAII_BPF_OBJECT, NULL);
	cr_assert_not_null(obj, "open %s: %s", FAII_BPF_OBJECT, strerror(errno));
	int err = bpf_object__load(obj);
	cr_assert_eq(err, 0, "load %s: %s (needs root)", FAII_BPF_OBJECT, strerror(-err));

	prog_fd[AT_XDP] = program_fd("faii_residency_xdp");
	prog_fd[AT_TC] = program_fd("faii_residency_tc");
	nodes_fd = map_fd("faii_res_nodes");
	classes_fd = map_fd("faii_res_classes");
	counters_fd = map_fd("faii_res_counters");
	events_fd = map_fd("faii_res_events");

	for (size_t i = 0; i < ARRAY_SIZE(policy_nodes); i++)
		set_node(policy_nodes[i].node_id, policy_nodes[i].jurisdiction);
	set_class(CLASS_CH_ONLY, BIT(JUR_CH), 1);
	/* Allows CH but does not exist: the bitmap must not be consulted. */
	set_class(CLASS_UNDEFINED, BIT(JUR_CH), 0);
}

static void unload_object(void)
{
	bpf_object__close(obj);
	obj = NULL;
}

TestSuite(residency_bpf, .init = load_object, .fini = unload_object);

/* ------------------------------------------------------------------------ */
/* Frames.                                                                  */

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xFFFFu);
}

/* Ones' complement sum of len bytes, big-endian words, not yet folded. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFFu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* How a faii message is carried. The zero value: untagged IPv4/UDP to 7410. */
struct carrier {
	bool ipv6;
	bool vlan;          /* one 802.1Q tag, VID 100 */
	uint8_t l4_proto;   /* 0: UDP; PROTO_TCP: a TCP segment instead */
	uint16_t dst_port;  /* 0: FAII_UDP_PORT_DEFAULT */
	uint16_t ipv4_frag; /* IPv4 flags and fragment offset (IPV4_MF | offset/8) */
	bool ipv6_frag_hdr; /* an IPv6 fragment header (nexthdr 44) before UDP */
};

/* Ethernet header (and tag); returns the offset of the L3 header. */
static size_t put_eth(uint8_t *f, uint16_t ethertype, bool vlan)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
	memcpy(f, macs, sizeof(macs));
	size_t off = 12;
	if (vlan) {
		put16(f + off, ETHERTYPE_VLAN);
		put16(f + off + 2, 100); /* PCP 0, DEI 0, VID 100 */
		off += VLAN_HDR_LEN;
	}
	put16(f + off, ethertype);
	return off + 2;
}

/* Wraps msg in Ethernet/IP/UDP (or TCP) as c says; returns the frame length. */
static size_t wrap(uint8_t *f, size_t cap, const struct carrier *c, const void *msg, size_t msg_len)
{
	static const uint8_t ip4_src[4] = {192, 0, 2, 1}, ip4_dst[4] = {198, 51, 100, 7};
	static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	uint8_t proto = c->l4_proto ? c->l4_proto : PROTO_UDP;
	uint16_t port = c->dst_port ? c->dst_port : FAII_UDP_PORT_DEFAULT;
	size_t l4_hdr = proto == PROTO_TCP ? TCP_HDR_LEN : UDP_HDR_LEN;
	size_t l4_len = l4_hdr + msg_len;
	size_t ext = c->ipv6 && c->ipv6_frag_hdr ? IPV6_FRAG_LEN : 0;
	size_t l3_len = (c->ipv6 ? IPV6_HDR_LEN : IPV4_HDR_LEN) + ext;
	size_t total = ETH_HDR_LEN + (c->vlan ? VLAN_HDR_LEN : 0) + l3_len + l4_len;
	cr_assert_leq(total, cap, "frame of %zu bytes does not fit", total);
	memset(f, 0, total);

	size_t l3 = put_eth(f, c->ipv6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, c->vlan);
	size_t l4 = l3 + l3_len;
	uint32_t pseudo;
	if (!c->ipv6) {
		uint8_t *ip = f + l3;
		ip[0] = 0x45; /* version 4, IHL 5 */
		put16(ip + 2, (uint32_t)(IPV4_HDR_LEN + l4_len));
		put16(ip + 4, 0x1234);
		put16(ip + 6, c->ipv4_frag);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, ip4_src, 4);
		memcpy(ip + 16, ip4_dst, 4);
		put16(ip + 10, fold(sum16(ip, IPV4_HDR_LEN, 0)));
		pseudo = sum16(ip + 12, 8, proto + (uint32_t)l4_len);
	} else {
		uint8_t *ip6 = f + l3;
		put32(ip6, 0x60000000u);
		put16(ip6 + 4, (uint32_t)(ext + l4_len));
		ip6[6] = ext ? PROTO_IPV6_FRAG : proto;
		ip6[7] = 64;
		memcpy(ip6 + 8, ip6_src, 16);
		memcpy(ip6 + 24, ip6_dst, 16);
		if (ext) {
			uint8_t *frag = ip6 + IPV6_HDR_LEN;
			frag[0] = proto;
			put16(frag + 2, 0x0001); /* offset 0, M: a first fragment */
			put32(frag + 4, 0xFA110001u);
		}
		pseudo = sum16(ip6 + 8, 32, proto + (uint32_t)l4_len);
	}

	uint8_t *l4p = f + l4;
	put16(l4p, 40000);
	put16(l4p + 2, port);
	if (proto == PROTO_TCP) {
		put32(l4p + 4, 1);
		l4p[12] = 5 << 4; /* data offset: 5 words */
		l4p[13] = 0x18;   /* PSH, ACK */
		put16(l4p + 14, 65535);
	} else {
		put16(l4p + 4, (uint32_t)l4_len);
	}
	memcpy(l4p + l4_hdr, msg, msg_len);
	uint16_t csum = fold(sum16(l4p, l4_len, pseudo));
	put16(l4p + (proto == PROTO_TCP ? 16 : 6), csum == 0 && proto == PROTO_UDP ? 0xFFFF : csum);
	return total;
}

/* ------------------------------------------------------------------------ */
/* Cases.                                                                   */

enum kind {
	K_TASK,   /* a faii TASK from the encoder, then mutated */
	K_RESULT, /* a faii RESULT from the encoder */
	K_ARP,    /* an ARP request */
	K_RUNT,   /* 10 bytes: shorter than an Ethernet header */
};

enum mutation {
	M_NONE,
	M_BAD_MAGIC,         /* 0xFA12 */
	M_BAD_VERSION,       /* version 2 */
	M_TRUNCATED_BODY,    /* the datagram ends one byte short of the task body */
	M_CLEAR_DISPATCHED,  /* node id set, but FAII_F_DISPATCHED cleared */
	M_DISPATCHED_NODE_0, /* dispatch timestamp set, node id 0: DISPATCHED with no node */
};

struct rcase {
	const char *name;
	enum kind kind;
	uint64_t task_id;
	uint32_t node_id;
	uint16_t residency_class;
	uint8_t consistency;
	uint8_t replica_index;
	enum mutation mutation;
	struct carrier carrier;
	enum faii_residency_reason reason;
	uint8_t jurisdiction; /* in the ring-buffer event of a drop */
};

/* Malformed frames are refused before the task body is read: zero fields. */
#define MALFORMED .reason = FAII_RES_DROP_MALFORMED, .jurisdiction = JUR_UNKNOWN

static const struct rcase cases[] = {
        /* Allowed: a CH node, a CH-only class. */
        {"allowed ipv4", K_TASK, 0x1001, NODE_CH, CLASS_CH_ONLY, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed ipv6", K_TASK, 0x1002, NODE_CH, CLASS_CH_ONLY, .carrier = {.ipv6 = true},
         .reason = FAII_RES_PASS_ALLOWED},
        {"allowed vlan ipv4", K_TASK, 0x1003, NODE_CH, CLASS_CH_ONLY, .carrier = {.vlan = true},
         .reason = FAII_RES_PASS_ALLOWED},
        {"allowed vlan ipv6", K_TASK, 0x1004, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlan = true}, .reason = FAII_RES_PASS_ALLOWED},
        /* Forbidden: a US node, a CH-only class. */
        {"forbidden ipv4", K_TASK, 0x2001, NODE_US, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"forbidden ipv6 vlan", K_TASK, 0x2002, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlan = true}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden: jurisdiction outside 0..63", K_TASK, 0x2003, NODE_ODD, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_OUT_OF_SET},
        /* Replicas: FAII_F_REPLICA set by the encoder; judged like any task. */
        {"replica 1/3 session allowed", K_TASK, 0x3001, NODE_CH, CLASS_CH_ONLY,
         FAII_CONSISTENCY_SESSION, 1, .reason = FAII_RES_PASS_ALLOWED},
        {"replica 4/7 strong allowed ipv6", K_TASK, 0x3002, NODE_CH, CLASS_CH_ONLY,
         FAII_CONSISTENCY_STRONG, 4, .carrier = {.ipv6 = true}, .reason = FAII_RES_PASS_ALLOWED},
        {"replica 2/3 session forbidden", K_TASK, 0x3003, NODE_US, CLASS_CH_ONLY,
         FAII_CONSISTENCY_SESSION, 2, .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"replica 6/7 strong forbidden", K_TASK, 0x3004, NODE_US, CLASS_CH_ONLY,
         FAII_CONSISTENCY_STRONG, 6, .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        /* Fail closed on the policy. */
        {"unknown node", K_TASK, 0x4001, NODE_UNKNOWN, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_UNKNOWN_NODE, .jurisdiction = JUR_UNKNOWN},
        {"client task: not dispatched, node 0", K_TASK, 0x4002, 0, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_UNDISPATCHED, .jurisdiction = JUR_UNKNOWN},
        {"node id set without DISPATCHED", K_TASK, 0x4003, NODE_CH, CLASS_CH_ONLY,
         .mutation = M_CLEAR_DISPATCHED, .reason = FAII_RES_DROP_UNDISPATCHED,
         .jurisdiction = JUR_UNKNOWN},
        {"DISPATCHED with node id 0", K_TASK, 0x4004, 0, CLASS_CH_ONLY,
         .mutation = M_DISPATCHED_NODE_0, .reason = FAII_RES_DROP_UNDISPATCHED,
         .jurisdiction = JUR_UNKNOWN},
        {"undefined class (defined = 0)", K_TASK, 0x4005, NODE_CH, CLASS_UNDEFINED,
         .reason = FAII_RES_DROP_UNKNOWN_CLASS, .jurisdiction = JUR_CH},
        {"class id 0", K_TASK, 0x4006, NODE_CH, 0, .reason = FAII_RES_DROP_UNKNOWN_CLASS,
         .jurisdiction = JUR_CH},
        {"class id beyond the class map", K_TASK, 0x4007, NODE_CH, CLASS_TOO_LARGE,
         .reason = FAII_RES_DROP_UNKNOWN_CLASS, .jurisdiction = JUR_CH},
        /* Malformed on the faii port. */
        {"bad magic", K_TASK, 0x5001, NODE_CH, CLASS_CH_ONLY, .mutation = M_BAD_MAGIC, MALFORMED},
        {"bad version", K_TASK, 0x5002, NODE_CH, CLASS_CH_ONLY, .mutation = M_BAD_VERSION,
         MALFORMED},
        {"truncated task body", K_TASK, 0x5003, NODE_CH, CLASS_CH_ONLY,
         .mutation = M_TRUNCATED_BODY, MALFORMED},
        {"truncated task body ipv6 vlan", K_TASK, 0x5004, NODE_CH, CLASS_CH_ONLY,
         .mutation = M_TRUNCATED_BODY, .carrier = {.ipv6 = true, .vlan = true}, MALFORMED},
        {"ipv4 first fragment (MF)", K_TASK, 0x5005, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF}, MALFORMED},
        {"ipv6 fragment header (nexthdr 44)", K_TASK, 0x5006, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ipv6_frag_hdr = true}, MALFORMED},
        /* Not faii: passes untouched, even when it would be refused on 7410. */
        {"arp", K_ARP, .reason = FAII_RES_PASS_NOT_FAII},
        {"udp to another port", K_TASK, 0x6001, NODE_US, CLASS_CH_ONLY,
         .carrier = {.dst_port = 7411}, .reason = FAII_RES_PASS_NOT_FAII},
        {"udp to another port ipv6", K_TASK, 0x6002, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .dst_port = 53}, .reason = FAII_RES_PASS_NOT_FAII},
        {"tcp to 7410", K_TASK, 0x6003, NODE_US, CLASS_CH_ONLY, .carrier = {.l4_proto = PROTO_TCP},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv4 later fragment", K_TASK, 0x6004, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = 185}, .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv4 last fragment", K_TASK, 0x6005, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF | 185}, .reason = FAII_RES_PASS_NOT_FAII},
        {"runt: shorter than Ethernet", K_RUNT, .reason = FAII_RES_PASS_NOT_FAII},
        /* Not a task. */
        {"result to 7410", K_RESULT, 0x7001, NODE_US, .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410 ipv6 vlan", K_RESULT, 0x7002, NODE_US,
         .carrier = {.ipv6 = true, .vlan = true}, .reason = FAII_RES_PASS_NOT_TASK},
};

static const uint8_t payload[] = {'h', 'e', 'l', 'l', 'o'};

static struct faii_task task_of(const struct rcase *c)
{
	bool dispatched = c->node_id != 0 || c->mutation == M_DISPATCHED_NODE_0;
	return (struct faii_task){
	        .task_id = c->task_id,
	        .client_id = 0x1112131415161718u,
	        .submit_ts_ns = 1700000000123456789u,
	        .dispatch_ts_ns = dispatched ? 1700000000200000000u : 0,
	        .node_id = c->node_id,
	        .latency_budget_us = 20000,
	        .origin_region = 12,
	        .residency_class = c->residency_class,
	        .min_reputation_milli = 800,
	        .payload_len = sizeof(payload),
	        .category = FAII_CAT_INTERACTIVE_INFERENCE,
	        .tier = 3,
	        .consistency = c->consistency,
	        .replica_index = c->replica_index,
	};
}

/* The faii message of a case, mutated; returns its length. */
static size_t build_msg(const struct rcase *c, uint8_t *buf, size_t cap)
{
	if (c->kind == K_RESULT) {
		struct faii_result r = {
		        .task_id = c->task_id,
		        .dispatch_ts_ns = 1700000000200000000u,
		        .node_id = c->node_id,
		        .exec_time_us = 1500,
		        .payload_len = sizeof(payload),
		};
		size_t len = faii_encode_result(buf, cap, &r, payload);
		cr_assert_gt(len, 0, "%s: encode", c->name);
		return len;
	}

	struct faii_task t = task_of(c);
	size_t len = faii_encode_task(buf, cap, &t, payload);
	cr_assert_eq(len, FAII_HDR_SIZE + FAII_TASK_BODY_SIZE + sizeof(payload), "%s: encode",
	             c->name);
	uint8_t *flags = buf + offsetof(struct faii_hdr, flags);
	if (c->replica_index != 0)
		cr_assert_eq(*flags, FAII_F_DISPATCHED | FAII_F_REPLICA, "%s: replica flags %#x",
		             c->name, *flags);
	switch (c->mutation) {
	case M_NONE: break;
	case M_BAD_MAGIC: buf[1] = 0x12; break;
	case M_BAD_VERSION: buf[offsetof(struct faii_hdr, version)] = FAII_VERSION + 1; break;
	case M_TRUNCATED_BODY: len = FAII_HDR_SIZE + FAII_TASK_BODY_SIZE - 1; break;
	case M_CLEAR_DISPATCHED: *flags &= (uint8_t)~FAII_F_DISPATCHED; break;
	case M_DISPATCHED_NODE_0:
		cr_assert(*flags & FAII_F_DISPATCHED, "%s: encoder did not set DISPATCHED",
		          c->name);
		break;
	}
	return len;
}

/* The Ethernet frame of a case; returns its length. */
static size_t build_frame(const struct rcase *c, uint8_t *f, size_t cap)
{
	switch (c->kind) {
	case K_ARP: {
		static const uint8_t request[28] = {
		        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, /* Ethernet, IPv4, request */
		        0x02, 0,    0,    0,    0, 1, 192,  0,    2,   1, /* sender */
		        0,    0,    0,    0,    0, 0, 198,  51,   100, 7, /* target */
		};
		size_t l2 = put_eth(f, ETHERTYPE_ARP, false);
		memset(f, 0xFF, 6); /* broadcast */
		memcpy(f + l2, request, sizeof(request));
		return l2 + sizeof(request);
	}
	case K_RUNT: memset(f, 0xFF, 10); return 10;
	case K_TASK:
	case K_RESULT: break;
	}
	uint8_t msg[FAII_MSG_SIZE_MAX];
	size_t len = build_msg(c, msg, sizeof(msg));
	return wrap(f, cap, &c->carrier, msg, len);
}

static bool is_drop(enum faii_residency_reason reason)
{
	return reason >= FAII_RES_FIRST_DROP;
}

static uint32_t expected_retval(enum attach at, enum faii_residency_reason reason)
{
	if (at == AT_XDP)
		return is_drop(reason) ? XDP_DROP : XDP_PASS;
	return is_drop(reason) ? TC_ACT_SHOT : TC_ACT_OK;
}

/*
 * One BPF_PROG_TEST_RUN; returns 0 or -errno.
 *
 * The kernel (6.18) refuses test data shorter than an Ethernet header, for
 * XDP and skb programs alike. XDP can still be shown a runt: the frame is
 * padded to 14 bytes and xdp_md.data_end put at its real length, so that only
 * those bytes are linear (the padding goes to a fragment, which a program
 * without xdp.frags cannot reach). ctx_out confirms what the program saw.
 */
static int run(enum attach at, const uint8_t *frame, size_t len, uint32_t *retval)
{
	uint8_t padded[ETH_HDR_LEN] = {0};
	struct xdp_md md_in = {0}, md_out = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
	            .repeat = 1);
	bool runt = at == AT_XDP && len < ETH_HDR_LEN;
	if (runt) {
		memcpy(padded, frame, len);
		md_in.data_end = (uint32_t)len;
		opts.data_in = padded;
		opts.data_size_in = sizeof(padded);
		opts.ctx_in = &md_in;
		opts.ctx_size_in = sizeof(md_in);
		opts.ctx_out = &md_out;
		opts.ctx_size_out = sizeof(md_out);
	}
	int err = bpf_prog_test_run_opts(prog_fd[at], &opts);
	*retval = opts.retval;
	if (err < 0)
		return err;
	if (runt)
		cr_expect_eq(md_out.data_end - md_out.data, len,
		             "xdp: runt: the program saw %u bytes, not %zu",
		             md_out.data_end - md_out.data, len);
	return 0;
}

/* Runs a frame through one program and checks the verdict. */
static void expect_verdict(enum attach at, const char *name, const uint8_t *frame, size_t len,
                           enum faii_residency_reason reason)
{
	uint32_t retval = 0;
	int err = run(at, frame, len, &retval);
	cr_expect_eq(err, 0, "%s: %s: test run: %s", attach_names[at], name, strerror(-err));
	cr_expect_eq(retval, expected_retval(at, reason), "%s: %s: returned %u, want %u (%s)",
	             attach_names[at], name, retval, expected_retval(at, reason),
	             reason_names[reason]);
}

/* ------------------------------------------------------------------------ */
/* Counters and events.                                                     */

static uint64_t counter(enum faii_residency_reason reason)
{
	int ncpus = libbpf_num_possible_cpus();
	cr_assert_gt(ncpus, 0, "libbpf_num_possible_cpus: %d", ncpus);
	uint64_t *values = calloc((size_t)ncpus, sizeof(*values));
	cr_assert_not_null(values);
	uint32_t key = reason;
	int err = bpf_map_lookup_elem(counters_fd, &key, values);
	int saved = errno;
	uint64_t sum = 0;
	for (int i = 0; i < ncpus; i++)
		sum += values[i];
	free(values);
	cr_assert_eq(err, 0, "faii_res_counters[%s]: %s", reason_names[reason], strerror(saved));
	return sum;
}

static void expect_counters(const char *what, const uint64_t want[FAII_RES_REASON_COUNT])
{
	for (unsigned r = 0; r < FAII_RES_REASON_COUNT; r++) {
		uint64_t got = counter(r);
		cr_expect_eq(got, want[r], "%s: counter %s = %llu, want %llu", what,
		             reason_names[r], (unsigned long long)got, (unsigned long long)want[r]);
	}
}

#define EVENTS_MAX (2 * ARRAY_SIZE(cases))

struct event_sink {
	struct faii_res_event events[EVENTS_MAX];
	size_t count;
	size_t bad_size;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct event_sink *sink = ctx;
	if (size != sizeof(struct faii_res_event)) {
		sink->bad_size++;
		return 0;
	}
	if (sink->count < EVENTS_MAX)
		memcpy(&sink->events[sink->count], data, sizeof(struct faii_res_event));
	sink->count++;
	return 0;
}

/* Drains the ring buffer into sink. */
static void consume_events(struct event_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	struct ring_buffer *rb = ring_buffer__new(events_fd, on_event, sink, NULL);
	cr_assert_not_null(rb, "ring_buffer__new: %s", strerror(errno));
	int n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_geq(n, 0, "ring_buffer__consume: %s", strerror(-n));
	cr_expect_eq(sink->bad_size, 0, "%zu events of the wrong size", sink->bad_size);
	cr_expect_eq((size_t)n, sink->count);
}

/* The event a refused case must leave in the ring buffer. */
static struct faii_res_event expected_event(const struct rcase *c)
{
	struct faii_res_event ev = {
	        .reason = (uint8_t)c->reason,
	        .jurisdiction = c->jurisdiction,
	};
	if (c->reason != FAII_RES_DROP_MALFORMED) {
		ev.task_id = c->task_id;
		ev.node_id = c->node_id;
		ev.residency_class = c->residency_class;
	}
	return ev;
}

static void expect_event(const char *what, const struct faii_res_event *got,
                         const struct faii_res_event *want)
{
	cr_expect_neq(got->time_ns, 0, "%s: event time_ns is 0", what);
	cr_expect_eq(got->task_id, want->task_id, "%s: event task_id %#llx, want %#llx", what,
	             (unsigned long long)got->task_id, (unsigned long long)want->task_id);
	cr_expect_eq(got->node_id, want->node_id, "%s: event node_id %#x, want %#x", what,
	             got->node_id, want->node_id);
	cr_expect_eq(got->residency_class, want->residency_class,
	             "%s: event residency_class %u, want %u", what, got->residency_class,
	             want->residency_class);
	cr_expect_eq(got->reason, want->reason, "%s: event reason %u, want %u (%s)", what,
	             got->reason, want->reason, reason_names[want->reason]);
	cr_expect_eq(got->jurisdiction, want->jurisdiction, "%s: event jurisdiction %#x, want %#x",
	             what, got->jurisdiction, want->jurisdiction);
}

/* ------------------------------------------------------------------------ */
/* The table through one attach point.                                      */

static void run_table(enum attach at)
{
	const char *prog = attach_names[at];
	uint64_t want[FAII_RES_REASON_COUNT] = {0};
	const struct rcase *dropped[ARRAY_SIZE(cases)];
	size_t ndropped = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct rcase *c = &cases[i];
		uint8_t frame[FRAME_MAX];
		size_t len = build_frame(c, frame, sizeof(frame));
		if (at == AT_TC && len < ETH_HDR_LEN) {
			/* An skb always holds an Ethernet header: the kernel refuses it. */
			uint32_t retval;
			int err = run(at, frame, len, &retval);
			cr_expect_eq(err, -EINVAL, "tc: %s: test run: %s", c->name, strerror(-err));
			continue;
		}
		expect_verdict(at, c->name, frame, len, c->reason);
		want[c->reason]++;
		if (is_drop(c->reason))
			dropped[ndropped++] = c;
	}

	expect_counters(prog, want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, ndropped, "%s: %zu events for %zu dropped packets", prog,
	             sink.count, ndropped);
	for (size_t i = 0; i < ndropped && i < sink.count; i++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: %s", prog, dropped[i]->name);
		struct faii_res_event want_ev = expected_event(dropped[i]);
		expect_event(what, &sink.events[i], &want_ev);
	}
}

Test(residency_bpf, xdp_verdicts_counters_events)
{
	run_table(AT_XDP);
}

Test(residency_bpf, tc_verdicts_counters_events)
{
	run_table(AT_TC);
}

/*
 * Both programs share the maps: their counts add up, their events interleave
 * (each frame goes through XDP, then TC, so event 2k is XDP's, 2k+1 TC's).
 */
Test(residency_bpf, both_programs_share_counters_and_events)
{
	uint64_t want[FAII_RES_REASON_COUNT] = {0};
	size_t ndropped = 0;
	const struct rcase *dropped[2 * ARRAY_SIZE(cases)];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct rcase *c = &cases[i];
		if (c->kind == K_RUNT)
			continue;
		uint8_t frame[FRAME_MAX];
		size_t len = build_frame(c, frame, sizeof(frame));
		for (int at = AT_XDP; at <= AT_TC; at++) {
			expect_verdict((enum attach)at, c->name, frame, len, c->reason);
			want[c->reason]++;
			if (is_drop(c->reason))
				dropped[ndropped++] = c;
		}
	}
	expect_counters("xdp+tc", want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, ndropped, "%zu events for %zu dropped packets", sink.count,
	             ndropped);
	for (size_t i = 0; i < ndropped && i < sink.count; i++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: %s", attach_names[i % 2], dropped[i]->name);
		struct faii_res_event want_ev = expected_event(dropped[i]);
		expect_event(what, &sink.events[i], &want_ev);
	}
}

/* ------------------------------------------------------------------------ */
/* Policy changes take effect on the next packet.                           */

static const struct rcase to_us = {
        "task to US node", K_TASK,        0x8001,
        NODE_US,           CLASS_CH_ONLY, .reason = FAII_RES_DROP_FORBIDDEN};
static const struct rcase to_ch = {
        "task to CH node", K_TASK, 0x8002, NODE_CH, CLASS_CH_ONLY, .reason = FAII_RES_PASS_ALLOWED};

Test(residency_bpf, class_bitmap_update_flips_verdict)
{
	uint8_t us[FRAME_MAX], ch[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));
	size_t ch_len = build_frame(&to_ch, ch, sizeof(ch));
	uint64_t want[FAII_RES_REASON_COUNT] = {0};

	for (int at = AT_XDP; at <= AT_TC; at++) {
		enum attach a = (enum attach)at;
		set_class(CLASS_CH_ONLY, BIT(JUR_CH), 1);
		expect_verdict(a, "CH-only: US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		expect_verdict(a, "CH-only: CH", ch, ch_len, FAII_RES_PASS_ALLOWED);

		set_class(CLASS_CH_ONLY, BIT(JUR_CH) | BIT(JUR_US), 1);
		expect_verdict(a, "CH+US: US", us, us_len, FAII_RES_PASS_ALLOWED);
		expect_verdict(a, "CH+US: CH", ch, ch_len, FAII_RES_PASS_ALLOWED);

		set_class(CLASS_CH_ONLY, BIT(JUR_US), 1);
		expect_verdict(a, "US-only: US", us, us_len, FAII_RES_PASS_ALLOWED);
		expect_verdict(a, "US-only: CH", ch, ch_len, FAII_RES_DROP_FORBIDDEN);

		set_class(CLASS_CH_ONLY, 0, 1);
		expect_verdict(a, "empty: US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		expect_verdict(a, "empty: CH", ch, ch_len, FAII_RES_DROP_FORBIDDEN);

		/* Withdrawn: the bitmap still allows both, the class no longer exists. */
		set_class(CLASS_CH_ONLY, BIT(JUR_CH) | BIT(JUR_US), 0);
		expect_verdict(a, "undefined: US", us, us_len, FAII_RES_DROP_UNKNOWN_CLASS);
		expect_verdict(a, "undefined: CH", ch, ch_len, FAII_RES_DROP_UNKNOWN_CLASS);

		want[FAII_RES_PASS_ALLOWED] += 4;
		want[FAII_RES_DROP_FORBIDDEN] += 4;
		want[FAII_RES_DROP_UNKNOWN_CLASS] += 2;
	}
	expect_counters("bitmap flips", want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, 12, "%zu events, want 12", sink.count);
}

Test(residency_bpf, node_update_flips_verdict)
{
	uint8_t us[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));
	uint32_t node = NODE_US;

	for (int at = AT_XDP; at <= AT_TC; at++) {
		enum attach a = (enum attach)at;
		set_node(NODE_US, JUR_US);
		expect_verdict(a, "node in US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		set_node(NODE_US, JUR_CH);
		expect_verdict(a, "node moved to CH", us, us_len, FAII_RES_PASS_ALLOWED);
		cr_assert_eq(bpf_map_delete_elem(nodes_fd, &node), 0, "delete: %s",
		             strerror(errno));
		expect_verdict(a, "node removed", us, us_len, FAII_RES_DROP_UNKNOWN_NODE);
	}

	struct event_sink sink;
	consume_events(&sink);
	cr_assert_eq(sink.count, 4, "%zu events, want 4", sink.count);
	static const uint8_t want_reason[] = {FAII_RES_DROP_FORBIDDEN, FAII_RES_DROP_UNKNOWN_NODE};
	static const uint8_t want_jur[] = {JUR_US, JUR_UNKNOWN};
	for (size_t i = 0; i < sink.count; i++) {
		cr_expect_eq(sink.events[i].reason, want_reason[i % 2], "event %zu reason %u", i,
		             sink.events[i].reason);
		cr_expect_eq(sink.events[i].jurisdiction, want_jur[i % 2],
		             "event %zu jurisdiction %#x", i, sink.events[i].jurisdiction);
		cr_expect_eq(sink.events[i].node_id, NODE_US);
	}
}
