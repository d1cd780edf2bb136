/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The C reference of the residency judgement (see residency_snapshot.h). It is
 * written apart from the BPF source on purpose: the differential test runs
 * both, and two independent readings of the rules that agree on every packet
 * say more than one reading compiled twice. Every bound is an offset checked
 * against len before the bytes are read; offsets stay far below 2^32 (the
 * walk adds at most six extension headers of at most 2 KiB each).
 */
#include "residency_snapshot.h"

#include <stddef.h>

#include "faii/protocol.h"

#define ETH_HDR_LEN          14u
#define VLAN_TAG_LEN         4u
#define VLAN_TAGS_MAX        2u
#define IPV4_HDR_LEN         20u
#define IPV6_HDR_LEN         40u
#define IPV6_EXT_HEADERS_MAX 6u
#define UDP_HDR_LEN          8u

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_IPV6 0x86DDu
#define ETHERTYPE_VLAN 0x8100u
#define ETHERTYPE_QINQ 0x88A8u

#define IP_FRAG_OFFSET_MASK 0x1FFFu
#define IP_MORE_FRAGMENTS   0x2000u

enum {
	PROTO_HOP = 0,
	PROTO_UDP = 17,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_AUTH = 51,
	PROTO_DEST = 60,
};

/* The walkers' "found UDP at *udp_off, go on". */
#define FOUND_UDP FAII_RES_PASS_ALLOWED

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return be16(p) << 16 | be16(p + 2);
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static enum faii_residency_reason short_packet(int truncated)
{
	return truncated ? FAII_RES_DROP_MALFORMED : FAII_RES_PASS_NOT_FAII;
}

static int fits(uint64_t off, uint64_t need, uint32_t len)
{
	return off + need <= len;
}

static int is_ext6(uint32_t proto)
{
	return proto == PROTO_HOP || proto == PROTO_ROUTING || proto == PROTO_FRAGMENT ||
	       proto == PROTO_AUTH || proto == PROTO_DEST;
}

static enum faii_residency_reason walk_ipv4(const uint8_t *f, uint32_t len, uint64_t l3,
                                            int truncated, uint64_t *udp_off, int *first_frag)
{
	if (!fits(l3, IPV4_HDR_LEN, len))
		return short_packet(truncated);
	uint32_t ihl = f[l3] & 0x0Fu;
	if (ihl < 5)
		return FAII_RES_PASS_NOT_FAII;
	uint32_t frag = be16(f + l3 + 6);
	if (frag & IP_FRAG_OFFSET_MASK)
		return FAII_RES_PASS_NOT_FAII;
	*first_frag = (frag & IP_MORE_FRAGMENTS) != 0;
	uint64_t l4 = l3 + ihl * 4u;
	uint32_t proto = f[l3 + 9];
	if (proto == PROTO_AUTH) {
		if (!fits(l4, 2, len))
			return short_packet(truncated);
		proto = f[l4];
		l4 += ((uint64_t)f[l4 + 1] + 2) * 4;
	}
	if (proto != PROTO_UDP)
		return FAII_RES_PASS_NOT_FAII;
	*udp_off = l4;
	return FOUND_UDP;
}

static enum faii_residency_reason walk_ipv6(const uint8_t *f, uint32_t len, uint64_t l3,
                                            int truncated, uint64_t *udp_off, int *first_frag)
{
	if (!fits(l3, IPV6_HDR_LEN, len))
		return short_packet(truncated);
	uint32_t next = f[l3 + 6];
	uint64_t p = l3 + IPV6_HDR_LEN;
	for (unsigned i = 0; i < IPV6_EXT_HEADERS_MAX && next != PROTO_UDP; i++) {
		if (!fits(p, 8, len))
			return short_packet(truncated);
		const uint8_t *ext = f + p;
		if (next == PROTO_FRAGMENT) {
			if (be16(ext + 2) & 0xFFF8u)
				return FAII_RES_PASS_NOT_FAII; /* a later fragment */
			*first_frag = 1;
			p += 8;
		} else if (next == PROTO_AUTH) {
			p += ((uint64_t)ext[1] + 2) * 4;
		} else if (next == PROTO_HOP || next == PROTO_ROUTING || next == PROTO_DEST) {
			p += ((uint64_t)ext[1] + 1) * 8;
		} else {
			return FAII_RES_PASS_NOT_FAII;
		}
		next = ext[0];
	}
	if (next == PROTO_UDP) {
		*udp_off = p;
		return FOUND_UDP;
	}
	return is_ext6(next) ? FAII_RES_DROP_MALFORMED : FAII_RES_PASS_NOT_FAII;
}

/* The appliance's port, or one of the snapshot's node ports. */
static int faii_port(const struct faii_res_snapshot *s, uint16_t udp_port, uint32_t port)
{
	if (port == udp_port)
		return 1;
	const uint64_t *bits = faii_res_snapshot_port_word(s, FAII_RES_PORT_WORD(port));
	return bits != NULL && (*bits >> FAII_RES_PORT_BIT(port)) & 1;
}

/* The offset of a faii datagram's UDP header, or 0 with v->reason set. */
static uint64_t find_udp(const struct faii_res_snapshot *s, const uint8_t *f, uint32_t len,
                         uint16_t port, int truncated, struct faii_res_verdict *v)
{
	v->reason = short_packet(truncated);
	if (!fits(0, ETH_HDR_LEN, len))
		return 0;
	uint64_t l3 = ETH_HDR_LEN;
	uint32_t proto = be16(f + 12);
	for (unsigned i = 0; i < VLAN_TAGS_MAX; i++) {
		if (proto != ETHERTYPE_VLAN && proto != ETHERTYPE_QINQ)
			break;
		if (!fits(l3, VLAN_TAG_LEN, len))
			return 0;
		proto = be16(f + l3 + 2);
		l3 += VLAN_TAG_LEN;
	}
	uint64_t udp = 0;
	int first_frag = 0;
	if (proto == ETHERTYPE_IPV4)
		v->reason = walk_ipv4(f, len, l3, truncated, &udp, &first_frag);
	else if (proto == ETHERTYPE_IPV6)
		v->reason = walk_ipv6(f, len, l3, truncated, &udp, &first_frag);
	else if (proto == ETHERTYPE_VLAN || proto == ETHERTYPE_QINQ)
		v->reason = FAII_RES_DROP_MALFORMED;
	else
		v->reason = FAII_RES_PASS_NOT_FAII;
	if (v->reason != FOUND_UDP)
		return 0;
	if (!fits(udp, UDP_HDR_LEN, len)) {
		v->reason = short_packet(truncated);
		return 0;
	}
	v->reason = FAII_RES_PASS_NOT_FAII;
	if (!faii_port(s, port, be16(f + udp + 2)))
		return 0;
	if (first_frag) {
		v->reason = FAII_RES_DROP_MALFORMED;
		return 0;
	}
	return udp;
}

void faii_res_ref_judge(const struct faii_res_snapshot *s, uint16_t udp_port, const uint8_t *frame,
                        uint32_t len, int truncated, struct faii_res_verdict *v)
{
	uint64_t udp = find_udp(s, frame, len, udp_port, truncated, v);
	if (udp == 0)
		return;

	uint64_t hdr = udp + UDP_HDR_LEN;
	const uint8_t *h = frame + hdr;
	v->reason = FAII_RES_DROP_MALFORMED;
	if (!fits(hdr, FAII_HDR_SIZE, len) ||
	    be16(h + offsetof(struct faii_hdr, magic)) != FAII_MAGIC ||
	    (h[offsetof(struct faii_hdr, version)] != FAII_VERSION &&
	     h[offsetof(struct faii_hdr, version)] != FAII_VERSION_2))
		return;
	if (h[offsetof(struct faii_hdr, type)] != FAII_MSG_TASK) {
		v->reason = FAII_RES_PASS_NOT_TASK;
		return;
	}
	uint64_t body = hdr + FAII_HDR_SIZE;
	if (!fits(body, FAII_TASK_BODY_SIZE, len))
		return;
	const uint8_t *t = frame + body;
	v->task_id = be64(t + offsetof(struct faii_task, task_id));
	v->node_id = be32(t + offsetof(struct faii_task, node_id));
	v->residency_class = (uint16_t)be16(t + offsetof(struct faii_task, residency_class));
	if (!(h[offsetof(struct faii_hdr, flags)] & FAII_F_DISPATCHED) || v->node_id == 0) {
		v->reason = FAII_RES_DROP_UNDISPATCHED;
		return;
	}
	const struct faii_res_node *node = faii_res_snapshot_node(s, v->node_id);
	if (node == NULL) {
		v->reason = FAII_RES_DROP_UNKNOWN_NODE;
		return;
	}
	v->jurisdiction = (uint8_t)node->jurisdiction;
	const struct faii_res_class *cls = faii_res_snapshot_class(s, v->residency_class);
	if (v->residency_class == 0 || cls == NULL || !cls->defined) {
		v->reason = FAII_RES_DROP_UNKNOWN_CLASS;
		return;
	}
	if (node->jurisdiction < 64 && (cls->allowed >> node->jurisdiction) & 1)
		v->reason = FAII_RES_PASS_ALLOWED;
	else
		v->reason = FAII_RES_DROP_FORBIDDEN;
}
