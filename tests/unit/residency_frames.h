/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames for the residency tests: the crafted case table (allowed, forbidden,
 * each malformed shape, unknown node and class, IPv4/IPv6, VLAN and QinQ,
 * extension headers, replicas, traffic that is not faii) and the builder
 * that wraps faii messages from the project's own encoders in Ethernet, up to
 * three VLAN tags, IPv4 (optionally with AH) or IPv6 (with optional extension
 * headers) and UDP. Shared by the kernel test (test_residency_bpf.c), the
 * rte_bpf test and the differential test; failures are Criterion asserts.
 */
#ifndef FAII_TEST_RESIDENCY_FRAMES_H
#define FAII_TEST_RESIDENCY_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/protocol.h"
#include "faii/residency.h"

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

/* Node ports in the fixture's port map: both ends of one 64-bit word pair
 * and the last port. Their neighbours (7422, 7425) and 7411 are not in it. */
#define PORT_NODE_A    7423u  /* bit 63 of word 115 */
#define PORT_NODE_B    7424u  /* bit 0 of word 116 */
#define PORT_NODE_LAST 65535u /* bit 63 of word 1023 */

#define CLASS_CH_ONLY   5u
#define CLASS_UNDEFINED 9u   /* present in the array with defined = 0 */
#define CLASS_TOO_LARGE 100u /* beyond faii_res_classes' 64 entries */

#define BIT(j) (UINT64_C(1) << (j))

/* ------------------------------------------------------------------------ */
/* Carriers and cases.                                                      */

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
	M_BAD_VERSION,       /* version 0x7F: no faii version */
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

/* The fixture's node ports, for the port map. */
extern const uint16_t fixture_node_ports[];
extern const size_t fixture_node_ports_count;

/* The crafted table; RESIDENCY_CASES_MAX bounds its length. */
#define RESIDENCY_CASES_MAX 128u
extern const struct rcase cases[];
extern const size_t cases_count;

/* The faii TASK a case carries (before mutation). */
struct faii_task task_of(const struct rcase *c);
/* The faii message of a case, mutated; returns its length. */
size_t build_msg(const struct rcase *c, uint8_t *buf, size_t cap);
/* The Ethernet frame of a case; returns its length. */
size_t build_frame(const struct rcase *c, uint8_t *f, size_t cap);
/* Wraps msg in Ethernet/IP/UDP (or TCP, or ICMPv6) as c says; returns the length. */
size_t wrap(uint8_t *f, size_t cap, const struct carrier *c, const void *msg, size_t msg_len);
/* Ethernet header (and tags); returns the offset of the L3 header. */
size_t put_eth(uint8_t *f, uint16_t ethertype, unsigned vlans, bool qinq);

#endif /* FAII_TEST_RESIDENCY_FRAMES_H */
