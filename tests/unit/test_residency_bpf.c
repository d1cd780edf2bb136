/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the data-residency BPF program (ebpf/residency.bpf.c).
 *
 * Each test loads the compiled object afresh (so the per-CPU counters and the
 * ring buffer start empty), installs a small policy through the maps, and runs
 * hand-built Ethernet frames through both attach points, faii_residency_xdp
 * and faii_residency_tc, with BPF_PROG_TEST_RUN. The faii messages inside the
 * frames come from the project's own encoders (common/wire.c); the test only
 * wraps them in Ethernet, up to three VLAN tags, IPv4 (optionally with AH) or
 * IPv6 (with optional extension headers), and UDP.
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

#include "faii/frame.h"
#include "faii/protocol.h"
#include "faii/residency.h"
#include "faii/wire.h"

#ifndef FAII_BPF_OBJECT
#error "FAII_BPF_OBJECT must name the compiled residency.bpf.o"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX     512u

#define ETH_HDR_LEN  14u
#define VLAN_HDR_LEN 4u
#define IPV4_HDR_LEN 20u
#define IPV6_HDR_LEN 40u
#define AH_LEN       24u /* 12-byte AH header and a 12-byte ICV (HMAC-SHA1-96) */
#define UDP_HDR_LEN  8u
#define TCP_HDR_LEN  20u

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP  0x0806u
#define ETHERTYPE_VLAN 0x8100u
#define ETHERTYPE_QINQ 0x88A8u /* 802.1ad service tag */
#define ETHERTYPE_IPV6 0x86DDu

#define PROTO_HOPOPTS  0u
#define PROTO_TCP      6u
#define PROTO_UDP      17u
#define PROTO_ROUTING  43u
#define PROTO_FRAGMENT 44u
#define PROTO_AH       51u
#define PROTO_ICMPV6   58u
#define PROTO_DSTOPTS  60u

#define ICMPV6_MLD2_REPORT 143u

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

/* The counter slots: one per reason, then the lost events. */
static const char *const reason_names[FAII_RES_COUNTER_SLOTS] = {
#define REASON_NAME(sym, name) name,
        FAII_RESIDENCY_REASONS(REASON_NAME)
#undef REASON_NAME
                [FAII_RES_COUNTER_EVENTS_LOST] = "events_lost",
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

/* IPv6 extension headers a carrier can put between the IPv6 header and L4. */
enum ext6 {
	X_END,        /* ends carrier.ext6 */
	X_HOP_RA,     /* hop-by-hop, router alert (MLD): 8 bytes */
	X_ROUTING,    /* routing type 253 (experimental), segments left 0: 8 bytes */
	X_DEST,       /* destination options, PadN: 8 bytes */
	X_DEST16,     /* destination options, PadN: 16 bytes (hdr ext len 1) */
	X_AH,         /* authentication header: AH_LEN bytes (payload len 4) */
	X_FRAG_FIRST, /* fragment header, offset 0, M: a first fragment */
	X_FRAG_LATER, /* fragment header, offset 185 (1480 bytes), M */
};

#define EXT6_MAX 8

/* How a faii message is carried. The zero value: untagged IPv4/UDP to 7410. */
struct carrier {
	bool ipv6;
	uint8_t vlans;          /* 802.1Q tags, VIDs 100, 200, ..., outermost first */
	bool qinq;              /* the outermost tag is an 802.1ad one (TPID 0x88A8) */
	uint8_t l4_proto;       /* 0: UDP; PROTO_TCP: a TCP segment; PROTO_ICMPV6: see wrap() */
	uint16_t dst_port;      /* 0: FAII_UDP_PORT_DEFAULT */
	uint16_t ipv4_frag;     /* IPv4 flags and fragment offset (IPV4_MF | offset/8) */
	bool ipv4_ah;           /* IPv4: an AH header between the IPv4 header and L4 */
	uint8_t ext6[EXT6_MAX]; /* IPv6: extension headers in order, until X_END */
};

static uint8_t ext6_proto(enum ext6 x)
{
	switch (x) {
	case X_HOP_RA: return PROTO_HOPOPTS;
	case X_ROUTING: return PROTO_ROUTING;
	case X_DEST:
	case X_DEST16: return PROTO_DSTOPTS;
	case X_AH: return PROTO_AH;
	case X_FRAG_FIRST:
	case X_FRAG_LATER: return PROTO_FRAGMENT;
	case X_END: break;
	}
	cr_assert_fail("ext6_proto(%d)", x);
	return 0;
}

static size_t ext6_len(enum ext6 x)
{
	switch (x) {
	case X_DEST16: return 16;
	case X_AH: return AH_LEN;
	default: return 8;
	}
}

/* An AH header with next header next: SPI, sequence number and a dummy ICV. */
static void put_ah(uint8_t *p, uint8_t next)
{
	p[0] = next;
	p[1] = AH_LEN / 4 - 2; /* RFC 4302: length in 32-bit words, minus 2 */
	put32(p + 4, 0x00001000u);
	put32(p + 8, 1);
	memset(p + 12, 0xA5, AH_LEN - 12);
}

/* One IPv6 extension header, followed by next; returns its length. */
static size_t put_ext6(uint8_t *p, enum ext6 x, uint8_t next)
{
	size_t len = ext6_len(x);
	p[0] = next;
	switch (x) {
	case X_HOP_RA:
		p[2] = 0x05; /* router alert */
		p[3] = 2;
		put16(p + 4, 0); /* MLD */
		p[6] = 0x01;     /* PadN, 0 bytes of data */
		p[7] = 0;
		break;
	case X_ROUTING:
		p[2] = 253; /* routing type: experimentation */
		p[3] = 0;   /* segments left */
		break;
	case X_DEST:
	case X_DEST16:
		p[1] = (uint8_t)(len / 8 - 1);
		p[2] = 0x01; /* PadN */
		p[3] = (uint8_t)(len - 4);
		break;
	case X_AH: put_ah(p, next); break;
	case X_FRAG_FIRST:
		put16(p + 2, 0x0001); /* offset 0, M */
		put32(p + 4, 0xFA110001u);
		break;
	case X_FRAG_LATER:
		put16(p + 2, 185u << 3 | 0x0001); /* offset 185 (1480 bytes), M */
		put32(p + 4, 0xFA110001u);
		break;
	case X_END: cr_assert_fail("put_ext6(X_END)");
	}
	return len;
}

/* Ethernet header (and tags); returns the offset of the L3 header. */
static size_t put_eth(uint8_t *f, uint16_t ethertype, unsigned vlans, bool qinq)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
	memcpy(f, macs, sizeof(macs));
	size_t off = 12;
	for (unsigned i = 0; i < vlans; i++) {
		put16(f + off, i == 0 && qinq ? ETHERTYPE_QINQ : ETHERTYPE_VLAN);
		put16(f + off + 2, 100 * (i + 1)); /* PCP 0, DEI 0, VID */
		off += VLAN_HDR_LEN;
	}
	put16(f + off, ethertype);
	return off + 2;
}

/*
 * Wraps msg in Ethernet/IP/UDP (or TCP) as c says; returns the frame length.
 * With PROTO_ICMPV6, msg is a whole ICMPv6 message (its checksum is filled
 * in) sent to ff02::16, all MLDv2-capable routers, as an MLDv2 report is.
 */
static size_t wrap(uint8_t *f, size_t cap, const struct carrier *c, const void *msg, size_t msg_len)
{
	static const uint8_t ip4_src[4] = {192, 0, 2, 1}, ip4_dst[4] = {198, 51, 100, 7};
	static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	static const uint8_t ip6_mld2[16] = {0xff, 0x02, [15] = 0x16};
	static const uint8_t mac_mld2[6] = {0x33, 0x33, 0, 0, 0, 0x16};
	uint8_t proto = c->l4_proto ? c->l4_proto : PROTO_UDP;
	bool icmp = proto == PROTO_ICMPV6;
	cr_assert(!icmp || c->ipv6, "ICMPv6 over IPv4");
	uint16_t port = c->dst_port ? c->dst_port : FAII_UDP_PORT_DEFAULT;
	size_t l4_hdr = proto == PROTO_TCP ? TCP_HDR_LEN : icmp ? 0 : UDP_HDR_LEN;
	size_t l4_len = l4_hdr + msg_len;
	size_t ext = 0;
	if (c->ipv6) {
		for (size_t i = 0; i < EXT6_MAX && c->ext6[i] != X_END; i++)
			ext += ext6_len(c->ext6[i]);
	} else if (c->ipv4_ah) {
		ext = AH_LEN;
	}
	size_t l3_len = (c->ipv6 ? IPV6_HDR_LEN : IPV4_HDR_LEN) + ext;
	size_t total = ETH_HDR_LEN + c->vlans * VLAN_HDR_LEN + l3_len + l4_len;
	cr_assert_leq(total, cap, "frame of %zu bytes does not fit", total);
	memset(f, 0, total);

	size_t l3 = put_eth(f, c->ipv6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, c->vlans, c->qinq);
	if (icmp)
		memcpy(f, mac_mld2, sizeof(mac_mld2));
	size_t l4 = l3 + l3_len;
	uint32_t pseudo;
	if (!c->ipv6) {
		uint8_t *ip = f + l3;
		ip[0] = 0x45; /* version 4, IHL 5 */
		put16(ip + 2, (uint32_t)(IPV4_HDR_LEN + ext + l4_len));
		put16(ip + 4, 0x1234);
		put16(ip + 6, c->ipv4_frag);
		ip[8] = 64;
		ip[9] = c->ipv4_ah ? PROTO_AH : proto;
		memcpy(ip + 12, ip4_src, 4);
		memcpy(ip + 16, ip4_dst, 4);
		put16(ip + 10, faii_ipv4_checksum(ip, IPV4_HDR_LEN));
		if (c->ipv4_ah)
			put_ah(ip + IPV4_HDR_LEN, proto);
		pseudo = faii_csum_add(proto + (uint32_t)l4_len, ip + 12, 8);
	} else {
		uint8_t *ip6 = f + l3;
		put32(ip6, 0x60000000u);
		put16(ip6 + 4, (uint32_t)(ext + l4_len));
		ip6[7] = icmp ? 1 : 64;
		memcpy(ip6 + 8, ip6_src, 16);
		memcpy(ip6 + 24, icmp ? ip6_mld2 : ip6_dst, 16);
		uint8_t *next = ip6 + 6;
		uint8_t *p = ip6 + IPV6_HDR_LEN;
		for (size_t i = 0; i < EXT6_MAX && c->ext6[i] != X_END; i++) {
			*next = ext6_proto(c->ext6[i]);
			next = p; /* every extension header starts with its next header */
			bool last = i + 1 == EXT6_MAX || c->ext6[i + 1] == X_END;
			p += put_ext6(p, c->ext6[i], last ? proto : ext6_proto(c->ext6[i + 1]));
		}
		*next = proto;
		pseudo = faii_csum_add(proto + (uint32_t)l4_len, ip6 + 8, 32);
	}

	uint8_t *l4p = f + l4;
	if (icmp) {
		memcpy(l4p, msg, msg_len);
		put16(l4p + 2, 0);
		put16(l4p + 2, faii_csum_fold(faii_csum_add(pseudo, l4p, l4_len)));
		return total;
	}
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
	uint16_t csum = faii_csum_fold(faii_csum_add(pseudo, l4p, l4_len));
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
	K_MLD,    /* an MLDv2 report (ICMPv6 type 143), carried as the case says */
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
        {"allowed vlan ipv4", K_TASK, 0x1003, NODE_CH, CLASS_CH_ONLY, .carrier = {.vlans = 1},
         .reason = FAII_RES_PASS_ALLOWED},
        {"allowed vlan ipv6", K_TASK, 0x1004, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlans = 1}, .reason = FAII_RES_PASS_ALLOWED},
        /* Allowed behind AH, two tags and the most IPv6 extension headers walked. */
        {"allowed behind ipv4 AH", K_TASK, 0x1005, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv4_ah = true}, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed behind ipv6 AH", K_TASK, 0x1006, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_AH}}, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed: two 802.1Q tags", K_TASK, 0x1007, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.vlans = 2}, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed qinq (0x88A8, 0x8100) ipv6", K_TASK, 0x1008, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlans = 2, .qinq = true}, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed behind 6 ipv6 extension headers (the most walked)", K_TASK, 0x1009, NODE_CH,
         CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA, X_ROUTING, X_DEST16, X_AH, X_DEST, X_DEST}},
         .reason = FAII_RES_PASS_ALLOWED},
        /* Forbidden: a US node, a CH-only class. */
        {"forbidden ipv4", K_TASK, 0x2001, NODE_US, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"forbidden ipv6 vlan", K_TASK, 0x2002, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlans = 1}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden: jurisdiction outside 0..63", K_TASK, 0x2003, NODE_ODD, CLASS_CH_ONLY,
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_OUT_OF_SET},
        {"forbidden behind ipv4 AH", K_TASK, 0x2004, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_ah = true}, .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"forbidden behind ipv6 AH", K_TASK, 0x2005, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_AH}}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden behind ipv6 hop-by-hop + destination options", K_TASK, 0x2006, NODE_US,
         CLASS_CH_ONLY, .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA, X_DEST16}},
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"forbidden behind ipv6 routing header", K_TASK, 0x2007, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_ROUTING}}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden qinq (0x88A8, 0x8100)", K_TASK, 0x2008, NODE_US, CLASS_CH_ONLY,
         .carrier = {.vlans = 2, .qinq = true}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden vlan ipv4 AH", K_TASK, 0x2009, NODE_US, CLASS_CH_ONLY,
         .carrier = {.vlans = 1, .ipv4_ah = true}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
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
         .mutation = M_TRUNCATED_BODY, .carrier = {.ipv6 = true, .vlans = 1}, MALFORMED},
        {"ipv4 first fragment (MF)", K_TASK, 0x5005, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF}, MALFORMED},
        {"ipv6 fragment header (nexthdr 44)", K_TASK, 0x5006, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_FRAG_FIRST}}, MALFORMED},
        {"ipv4 first fragment (MF) behind AH", K_TASK, 0x5007, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF, .ipv4_ah = true}, MALFORMED},
        {"ipv6 first fragment behind hop-by-hop", K_TASK, 0x5008, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA, X_FRAG_FIRST}}, MALFORMED},
        {"7 ipv6 destination-options headers before UDP", K_TASK, 0x5009, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true,
                     .ext6 = {X_DEST, X_DEST, X_DEST, X_DEST, X_DEST, X_DEST, X_DEST}},
         MALFORMED},
        {"three 802.1Q tags", K_TASK, 0x500A, NODE_CH, CLASS_CH_ONLY, .carrier = {.vlans = 3},
         MALFORMED},
        {"three tags, qinq outer, ipv6", K_TASK, 0x500B, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlans = 3, .qinq = true}, MALFORMED},
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
        {"mldv2 report behind hop-by-hop (router alert)", K_MLD,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA}, .l4_proto = PROTO_ICMPV6},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv6 tcp first fragment to 443", K_TASK, 0x6006, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_FRAG_FIRST}, .l4_proto = PROTO_TCP, .dst_port = 443},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv6 later fragment", K_TASK, 0x6007, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_FRAG_LATER}}, .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv6 later fragment behind hop-by-hop", K_TASK, 0x6008, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA, X_FRAG_LATER}},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv6 first fragment udp to 53", K_TASK, 0x6009, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_FRAG_FIRST}, .dst_port = 53},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv4 first fragment udp to 53", K_TASK, 0x600A, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF, .dst_port = 53}, .reason = FAII_RES_PASS_NOT_FAII},
        {"udp to another port behind ipv4 AH", K_TASK, 0x600B, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_ah = true, .dst_port = 7411}, .reason = FAII_RES_PASS_NOT_FAII},
        {"tcp to 7410 behind ipv4 AH", K_TASK, 0x600C, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_ah = true, .l4_proto = PROTO_TCP}, .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv6 tcp to 7410 behind hop-by-hop + destination options", K_TASK, 0x600D, NODE_US,
         CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA, X_DEST}, .l4_proto = PROTO_TCP},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"runt: shorter than Ethernet", K_RUNT, .reason = FAII_RES_PASS_NOT_FAII},
        /* Not a task. */
        {"result to 7410", K_RESULT, 0x7001, NODE_US, .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410 ipv6 vlan", K_RESULT, 0x7002, NODE_US,
         .carrier = {.ipv6 = true, .vlans = 1}, .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410 qinq ipv6 behind hop-by-hop + AH", K_RESULT, 0x7003, NODE_US,
         .carrier = {.ipv6 = true, .vlans = 2, .qinq = true, .ext6 = {X_HOP_RA, X_AH}},
         .reason = FAII_RES_PASS_NOT_TASK},
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
		size_t l2 = put_eth(f, ETHERTYPE_ARP, 0, false);
		memset(f, 0xFF, 6); /* broadcast */
		memcpy(f + l2, request, sizeof(request));
		return l2 + sizeof(request);
	}
	case K_RUNT: memset(f, 0xFF, 10); return 10;
	case K_MLD: {
		/* One record: CHANGE_TO_EXCLUDE_MODE for ff02::fb, no sources. */
		static const uint8_t report[28] = {
		        ICMPV6_MLD2_REPORT,
		        0,
		        0,
		        0,
		        0,
		        0,
		        0,
		        1, /* type, code, csum, 1 record */
		        4,
		        0,
		        0,
		        0,
		        0xff,
		        0x02,
		        [27] = 0xfb, /* record type, aux, nsrc */
		};
		return wrap(f, cap, &c->carrier, report, sizeof(report));
	}
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
static int run_repeat(enum attach at, const uint8_t *frame, size_t len, uint32_t repeat,
                      uint32_t *retval)
{
	uint8_t padded[ETH_HDR_LEN] = {0};
	struct xdp_md md_in = {0}, md_out = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
	            .repeat = repeat);
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

static int run(enum attach at, const uint8_t *frame, size_t len, uint32_t *retval)
{
	return run_repeat(at, frame, len, 1, retval);
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

/* A counter slot (a reason or FAII_RES_COUNTER_EVENTS_LOST), summed over CPUs. */
static uint64_t counter(unsigned slot)
{
	int ncpus = libbpf_num_possible_cpus();
	cr_assert_gt(ncpus, 0, "libbpf_num_possible_cpus: %d", ncpus);
	uint64_t *values = calloc((size_t)ncpus, sizeof(*values));
	cr_assert_not_null(values);
	uint32_t key = slot;
	int err = bpf_map_lookup_elem(counters_fd, &key, values);
	int saved = errno;
	uint64_t sum = 0;
	for (int i = 0; i < ncpus; i++)
		sum += values[i];
	free(values);
	cr_assert_eq(err, 0, "faii_res_counters[%s]: %s", reason_names[slot], strerror(saved));
	return sum;
}

/* Every slot, the lost events included (0 unless want says otherwise). */
static void expect_counters(const char *what, const uint64_t want[FAII_RES_COUNTER_SLOTS])
{
	for (unsigned r = 0; r < FAII_RES_COUNTER_SLOTS; r++) {
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

static void run_table(enum attach at, const struct rcase *table, size_t n)
{
	const char *prog = attach_names[at];
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	const struct rcase *dropped[ARRAY_SIZE(cases)];
	size_t ndropped = 0;
	cr_assert_leq(n, ARRAY_SIZE(cases));

	for (size_t i = 0; i < n; i++) {
		const struct rcase *c = &table[i];
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
	run_table(AT_XDP, cases, ARRAY_SIZE(cases));
}

Test(residency_bpf, tc_verdicts_counters_events)
{
	run_table(AT_TC, cases, ARRAY_SIZE(cases));
}

/*
 * Six extension headers is the most the walk looks through; when the sixth is
 * followed by something other than UDP (or another extension header), the
 * packet is not faii, like the same packet behind fewer headers.
 */
#define SIX_EXT6                                                                                   \
	{                                                                                          \
		X_HOP_RA, X_DEST, X_DEST, X_DEST, X_DEST, X_DEST                                   \
	}
static const struct rcase six_ext6_then_not_udp[] = {
        {"ipv6 tcp to 7410 behind 6 extension headers", K_TASK, 0x9001, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = SIX_EXT6, .l4_proto = PROTO_TCP},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"mldv2 report behind 6 extension headers", K_MLD,
         .carrier = {.ipv6 = true, .ext6 = SIX_EXT6, .l4_proto = PROTO_ICMPV6},
         .reason = FAII_RES_PASS_NOT_FAII},
};
#undef SIX_EXT6

Test(residency_bpf, xdp_six_ext6_then_not_udp)
{
	run_table(AT_XDP, six_ext6_then_not_udp, ARRAY_SIZE(six_ext6_then_not_udp));
}

Test(residency_bpf, tc_six_ext6_then_not_udp)
{
	run_table(AT_TC, six_ext6_then_not_udp, ARRAY_SIZE(six_ext6_then_not_udp));
}

/*
 * Both programs share the maps: their counts add up, their events interleave
 * (each frame goes through XDP, then TC, so event 2k is XDP's, 2k+1 TC's).
 */
Test(residency_bpf, both_programs_share_counters_and_events)
{
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
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
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};

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

/* ------------------------------------------------------------------------ */
/* A full ring buffer: the refusal still counts, and so does its lost event. */

/*
 * A faii_res_event record in the ring: header + event, 8-aligned (32 bytes).
 * The kernel reserves only while the producer stays less than the ring's size
 * ahead of the consumer, so an unread ring holds (size - 1) / record of them.
 */
#define EVENT_RECORD_BYTES ((BPF_RINGBUF_HDR_SZ + sizeof(struct faii_res_event) + 7) / 8 * 8)
#define RING_RECORDS       ((FAII_RES_EVENTS_BYTES - 1) / EVENT_RECORD_BYTES)
#define FILL_REPEAT        (RING_RECORDS + RING_RECORDS / 4)

static void full_ring_counts_lost_events(enum attach at)
{
	const char *prog = attach_names[at];
	uint8_t us[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));

	/* Nobody consumes: the ring fills, then every refusal loses its event. */
	uint32_t retval = 0;
	int err = run_repeat(at, us, us_len, FILL_REPEAT, &retval);
	cr_assert_eq(err, 0, "%s: test run x%zu: %s", prog, (size_t)FILL_REPEAT, strerror(-err));
	cr_expect_eq(retval, expected_retval(at, FAII_RES_DROP_FORBIDDEN),
	             "%s: returned %u on a full ring", prog, retval);

	uint64_t forbidden = counter(FAII_RES_DROP_FORBIDDEN);
	uint64_t lost = counter(FAII_RES_COUNTER_EVENTS_LOST);
	cr_expect_eq(forbidden, FILL_REPEAT, "%s: drop_forbidden = %llu, want %zu", prog,
	             (unsigned long long)forbidden, (size_t)FILL_REPEAT);
	cr_expect_gt(lost, 0, "%s: the ring is full, yet no event was counted lost", prog);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_gt(sink.count, 0, "%s: no event consumed", prog);
	cr_expect_eq(forbidden, sink.count + lost,
	             "%s: drop_forbidden %llu != %zu events consumed + %llu lost", prog,
	             (unsigned long long)forbidden, sink.count, (unsigned long long)lost);
	/* The ring takes whole records until the next one would not fit. */
	cr_expect_eq(sink.count, RING_RECORDS, "%s: %zu events in the ring, want %zu", prog,
	             sink.count, (size_t)RING_RECORDS);
	struct faii_res_event want_ev = expected_event(&to_us);
	want_ev.jurisdiction = JUR_US;
	for (size_t i = 0; i < sink.count && i < EVENTS_MAX; i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s: event %zu of a full ring", prog, i);
		expect_event(what, &sink.events[i], &want_ev);
	}

	/* Drained: the next refusal's event gets through, nothing more is lost. */
	expect_verdict(at, "after draining", us, us_len, FAII_RES_DROP_FORBIDDEN);
	cr_expect_eq(counter(FAII_RES_COUNTER_EVENTS_LOST), lost,
	             "%s: an event was lost on a drained ring", prog);
	consume_events(&sink);
	cr_expect_eq(sink.count, 1, "%s: %zu events after draining, want 1", prog, sink.count);
	if (sink.count > 0)
		expect_event(prog, &sink.events[0], &want_ev);

	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	want[FAII_RES_DROP_FORBIDDEN] = FILL_REPEAT + 1;
	want[FAII_RES_COUNTER_EVENTS_LOST] = lost;
	expect_counters(prog, want);
}

Test(residency_bpf, xdp_full_ring_counts_lost_events)
{
	full_ring_counts_lost_events(AT_XDP);
}

Test(residency_bpf, tc_full_ring_counts_lost_events)
{
	full_ring_counts_lost_events(AT_TC);
}
