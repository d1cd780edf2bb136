/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one builder of Ethernet frames around a faii message: Ethernet (one
 * optional 802.1Q tag), IPv4 or IPv6 (no options, no extension headers) and
 * UDP, the shape faii_parse_frame() accepts. Whatever writes frames (tests,
 * tools, and the dataplane and simulators when they send) builds them here,
 * so that every frame the project makes has one layout and correct checksums.
 *
 * Same convention as wire.h: sizes are returned, 0 on failure; nothing
 * allocates, blocks or logs, so everything here is safe on the hot path.
 *
 * Error convention: builders return the bytes written, 0 when the buffer
 * is too small; nothing here fails otherwise.
 */
#ifndef FAII_FRAME_H
#define FAII_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header sizes of the frames built here (and parsed by faii_parse_frame()). */
#define FAII_ETH_HDR_LEN  14u
#define FAII_VLAN_TAG_LEN 4u
#define FAII_IPV4_HDR_LEN 20u
#define FAII_IPV6_HDR_LEN 40u
#define FAII_UDP_HDR_LEN  8u
/* The largest header: Ethernet, a tag, IPv6 and UDP. */
#define FAII_FRAME_HDR_MAX                                                                         \
	(FAII_ETH_HDR_LEN + FAII_VLAN_TAG_LEN + FAII_IPV6_HDR_LEN + FAII_UDP_HDR_LEN)

/* The TTL (IPv4) or hop limit (IPv6) used when the spec's ttl is 0. */
#define FAII_FRAME_TTL_DEFAULT 64u

/*
 * Where a frame goes. Addresses and ports are in the order they take on the
 * wire; the zero value of every other field is a sensible default, so that a
 * designated initializer names only what matters to its caller.
 */
struct faii_frame_spec {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	bool vlan;         /* one 802.1Q tag (TPID 0x8100) */
	uint16_t vlan_tci; /* with vlan: priority (3 bits), DEI, VLAN id (12 bits) */
	bool ipv6;
	uint8_t src_ip[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst_ip[16];
	uint8_t ttl;    /* 0: FAII_FRAME_TTL_DEFAULT */
	uint16_t ip_id; /* IPv4 identification; ignored for IPv6 */
	uint16_t src_port;
	uint16_t dst_port;
};

/* Offset of the message in a frame built to spec: the sum of its headers. */
size_t faii_frame_hdr_len(const struct faii_frame_spec *spec);

/*
 * Writes Ethernet, IP and UDP headers and msg into buf; returns the frame
 * length, or 0 when cap is too small or msg_len too long for the IP and UDP
 * length fields. msg_len is not checked against FAII_MSG_SIZE_MAX, nor is msg
 * parsed: like the encoders, the builder frames invalid messages on purpose.
 *
 * IPv4 has IHL 5 and DF set (a faii message fits the MTU, and the parser does
 * not reassemble); IPv6 has traffic class and flow label 0. Both checksums
 * are computed, the UDP one over the pseudo-header (0 is sent as 0xFFFF, as
 * RFC 768 says). The frame is not padded to Ethernet's 60-byte minimum: the
 * NIC pads, and a capture shows the frame as it was built.
 *
 * msg may overlap buf: encoding the message at buf + faii_frame_hdr_len()
 * first and then building the frame around it saves a copy.
 */
size_t faii_frame_build(void *buf, size_t cap, const struct faii_frame_spec *spec, const void *msg,
                        size_t msg_len);

/*
 * The Internet checksum (RFC 1071), in host order. faii_csum_add() adds len
 * bytes, taken as big-endian 16-bit words, to a running sum and returns it
 * folded to 16 bits, so calls chain over the pieces of a pseudo-header and a
 * segment; only the last piece may have an odd length (its last byte is
 * padded with zero). faii_csum_fold() folds and complements: the value that
 * goes into a checksum field, or 0 when summed over data whose checksum is
 * already correct.
 */
uint32_t faii_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t faii_csum_fold(uint32_t sum);

/* The checksum field of an IPv4 header of hdr_len bytes (its field zero). */
static inline uint16_t faii_ipv4_checksum(const void *hdr, size_t hdr_len)
{
	return faii_csum_fold(faii_csum_add(0, hdr, hdr_len));
}

#endif /* FAII_FRAME_H */
