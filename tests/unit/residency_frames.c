/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames for the residency tests: see residency_frames.h. */
#include "residency_frames.h"

#include <criterion/criterion.h>

#include <string.h>

#include "faii/frame.h"
#include "faii/wire.h"

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
size_t put_eth(uint8_t *f, uint16_t ethertype, unsigned vlans, bool qinq)
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
size_t wrap(uint8_t *f, size_t cap, const struct carrier *c, const void *msg, size_t msg_len)
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

const struct rcase cases[] = {
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
        /* A node's own port is a faii port too (the port map): copies to it are judged. */
        {"allowed to a node's own port", K_TASK, 0x1101, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.dst_port = PORT_NODE_A}, .reason = FAII_RES_PASS_ALLOWED},
        {"allowed to a node port, ipv6 behind hop-by-hop", K_TASK, 0x1102, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = {X_HOP_RA}, .dst_port = PORT_NODE_B},
         .reason = FAII_RES_PASS_ALLOWED},
        {"forbidden to a node's own port", K_TASK, 0x2101, NODE_US, CLASS_CH_ONLY,
         .carrier = {.dst_port = PORT_NODE_B}, .reason = FAII_RES_DROP_FORBIDDEN,
         .jurisdiction = JUR_US},
        {"forbidden to port 65535 (the map's last bit), qinq ipv6", K_TASK, 0x2102, NODE_US,
         CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .vlans = 2, .qinq = true, .dst_port = PORT_NODE_LAST},
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"forbidden replica to a node port behind ipv4 AH", K_TASK, 0x2103, NODE_US, CLASS_CH_ONLY,
         FAII_CONSISTENCY_STRONG, 3, .carrier = {.ipv4_ah = true, .dst_port = PORT_NODE_A},
         .reason = FAII_RES_DROP_FORBIDDEN, .jurisdiction = JUR_US},
        {"unknown node on a node port", K_TASK, 0x4101, NODE_UNKNOWN, CLASS_CH_ONLY,
         .carrier = {.dst_port = PORT_NODE_A}, .reason = FAII_RES_DROP_UNKNOWN_NODE,
         .jurisdiction = JUR_UNKNOWN},
        {"undefined class on a node port", K_TASK, 0x4102, NODE_CH, CLASS_UNDEFINED,
         .carrier = {.dst_port = PORT_NODE_B}, .reason = FAII_RES_DROP_UNKNOWN_CLASS,
         .jurisdiction = JUR_CH},
        {"client task (undispatched) to a node port", K_TASK, 0x4103, 0, CLASS_CH_ONLY,
         .carrier = {.dst_port = PORT_NODE_LAST}, .reason = FAII_RES_DROP_UNDISPATCHED,
         .jurisdiction = JUR_UNKNOWN},
        {"bad magic to a node port", K_TASK, 0x5101, NODE_CH, CLASS_CH_ONLY,
         .mutation = M_BAD_MAGIC, .carrier = {.dst_port = PORT_NODE_A}, MALFORMED},
        {"ipv4 first fragment to a node port", K_TASK, 0x5102, NODE_CH, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = IPV4_MF, .dst_port = PORT_NODE_B}, MALFORMED},
        {"udp to the port below a node port", K_TASK, 0x6101, NODE_US, CLASS_CH_ONLY,
         .carrier = {.dst_port = PORT_NODE_A - 1}, .reason = FAII_RES_PASS_NOT_FAII},
        {"udp to the port above a node port, ipv6", K_TASK, 0x6102, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .dst_port = PORT_NODE_B + 1}, .reason = FAII_RES_PASS_NOT_FAII},
        {"tcp to a node port", K_TASK, 0x6103, NODE_US, CLASS_CH_ONLY,
         .carrier = {.l4_proto = PROTO_TCP, .dst_port = PORT_NODE_A},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"ipv4 later fragment to a node port", K_TASK, 0x6104, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv4_frag = 185, .dst_port = PORT_NODE_B}, .reason = FAII_RES_PASS_NOT_FAII},
        /* Not a task. */
        {"result to a node port", K_RESULT, 0x7101, NODE_US, .carrier = {.dst_port = PORT_NODE_A},
         .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410", K_RESULT, 0x7001, NODE_US, .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410 ipv6 vlan", K_RESULT, 0x7002, NODE_US,
         .carrier = {.ipv6 = true, .vlans = 1}, .reason = FAII_RES_PASS_NOT_TASK},
        {"result to 7410 qinq ipv6 behind hop-by-hop + AH", K_RESULT, 0x7003, NODE_US,
         .carrier = {.ipv6 = true, .vlans = 2, .qinq = true, .ext6 = {X_HOP_RA, X_AH}},
         .reason = FAII_RES_PASS_NOT_TASK},
};

static const uint8_t payload[] = {'h', 'e', 'l', 'l', 'o'};

struct faii_task task_of(const struct rcase *c)
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
size_t build_msg(const struct rcase *c, uint8_t *buf, size_t cap)
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
	case M_BAD_VERSION: buf[offsetof(struct faii_hdr, version)] = 0x7F; break;
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
size_t build_frame(const struct rcase *c, uint8_t *f, size_t cap)
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

const size_t cases_count = ARRAY_SIZE(cases);

const uint16_t fixture_node_ports[] = {PORT_NODE_A, PORT_NODE_B, PORT_NODE_LAST};
const size_t fixture_node_ports_count = ARRAY_SIZE(fixture_node_ports);
_Static_assert(ARRAY_SIZE(cases) <= RESIDENCY_CASES_MAX, "raise RESIDENCY_CASES_MAX");
