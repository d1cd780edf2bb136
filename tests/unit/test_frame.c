/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the frame builder (common/frame.c). Every header field is
 * read back byte by byte, both checksums are verified with a sum written
 * here rather than with the builder's own, and faii_parse_frame() must
 * accept every frame built from a valid message.
 */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faii/frame.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define BUF_SIZE 2048u

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Ones' complement sum, byte by byte: even offsets are high bytes. */
static uint32_t byte_sum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += i % 2 == 0 ? (uint32_t)p[i] << 8 : p[i];
	return sum;
}

/* A header or segment with a correct checksum sums to 0xFFFF (RFC 1071). */
static bool sums_to_ffff(uint32_t sum)
{
	while (sum > 0xFFFF)
		sum = (sum >> 16) + (sum & 0xFFFF);
	return sum == 0xFFFF;
}

/* The UDP segment at udp, checked over the pseudo-header of RFC 768 / RFC 8200. */
static void expect_udp_checksum(const uint8_t *ip, bool ipv6, const uint8_t *udp)
{
	size_t udp_len = get16(udp + 4);
	uint8_t pseudo[40] = {0};
	size_t pseudo_len;
	if (ipv6) {
		memcpy(pseudo, ip + 8, 32); /* source, destination */
		pseudo[34] = (uint8_t)(udp_len >> 8);
		pseudo[35] = (uint8_t)udp_len;
		pseudo[39] = 17;
		pseudo_len = 40;
	} else {
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = 17;
		pseudo[10] = (uint8_t)(udp_len >> 8);
		pseudo[11] = (uint8_t)udp_len;
		pseudo_len = 12;
	}
	cr_expect_neq(get16(udp + 6), 0, "a UDP checksum is always sent");
	cr_expect(sums_to_ffff(byte_sum(pseudo, pseudo_len) + byte_sum(udp, udp_len)),
	          "UDP checksum %#06x does not verify", get16(udp + 6));
}

/* Builds the sample heartbeat into a frame to spec and checks every header field. */
static void expect_frame(const struct faii_frame_spec *spec)
{
	uint8_t msg[FAII_MSG_SIZE_MAX], f[BUF_SIZE];
	size_t msg_len = faii_sample_encode(FAII_MSG_HEARTBEAT, msg, sizeof(msg));
	cr_assert_neq(msg_len, 0);
	memset(f, 0xEE, sizeof(f));
	size_t len = faii_frame_build(f, sizeof(f), spec, msg, msg_len);

	size_t l3 = FAII_ETH_HDR_LEN + (spec->vlan ? FAII_VLAN_TAG_LEN : 0);
	size_t l4 = l3 + (spec->ipv6 ? FAII_IPV6_HDR_LEN : FAII_IPV4_HDR_LEN);
	size_t hdr = l4 + FAII_UDP_HDR_LEN;
	cr_assert_eq(faii_frame_hdr_len(spec), hdr);
	cr_assert_eq(len, hdr + msg_len);
	cr_expect_eq(f[len], 0xEE, "nothing written past the frame");

	/* Ethernet and the tag. */
	cr_expect_arr_eq(f, spec->dst_mac, 6);
	cr_expect_arr_eq(f + 6, spec->src_mac, 6);
	if (spec->vlan) {
		cr_expect_eq(get16(f + 12), 0x8100);
		cr_expect_eq(get16(f + 14), spec->vlan_tci);
	}
	cr_expect_eq(get16(f + l3 - 2), spec->ipv6 ? 0x86DD : 0x0800);

	/* IP. */
	const uint8_t *ip = f + l3;
	unsigned ttl = spec->ttl ? spec->ttl : 64;
	if (spec->ipv6) {
		cr_expect_eq(ip[0], 0x60, "version 6, traffic class 0");
		cr_expect_eq(ip[1] | ip[2] | ip[3], 0, "flow label 0");
		cr_expect_eq(get16(ip + 4), FAII_UDP_HDR_LEN + msg_len, "payload length");
		cr_expect_eq(ip[6], 17, "next header UDP");
		cr_expect_eq(ip[7], ttl, "hop limit");
		cr_expect_arr_eq(ip + 8, spec->src_ip, 16);
		cr_expect_arr_eq(ip + 24, spec->dst_ip, 16);
	} else {
		cr_expect_eq(ip[0], 0x45, "version 4, IHL 5");
		cr_expect_eq(ip[1], 0, "DSCP/ECN");
		cr_expect_eq(get16(ip + 2), FAII_IPV4_HDR_LEN + FAII_UDP_HDR_LEN + msg_len);
		cr_expect_eq(get16(ip + 4), spec->ip_id);
		cr_expect_eq(get16(ip + 6), 0x4000, "DF, offset 0");
		cr_expect_eq(ip[8], ttl);
		cr_expect_eq(ip[9], 17);
		cr_expect_arr_eq(ip + 12, spec->src_ip, 4);
		cr_expect_arr_eq(ip + 16, spec->dst_ip, 4);
		cr_expect(sums_to_ffff(byte_sum(ip, FAII_IPV4_HDR_LEN)),
		          "IPv4 header checksum %#06x does not verify", get16(ip + 10));
	}

	/* UDP and the message. */
	const uint8_t *udp = f + l4;
	cr_expect_eq(get16(udp), spec->src_port);
	cr_expect_eq(get16(udp + 2), spec->dst_port);
	cr_expect_eq(get16(udp + 4), FAII_UDP_HDR_LEN + msg_len);
	expect_udp_checksum(ip, spec->ipv6, udp);
	cr_expect_arr_eq(f + hdr, msg, msg_len);

	struct faii_frame_view v;
	cr_assert_eq(faii_parse_frame(f, len, spec->dst_port, &v), FAII_OK);
	cr_expect_eq(v.ip_version, spec->ipv6 ? 6 : 4);
	cr_expect_eq(v.l3_offset, l3);
	cr_expect_eq(v.l4_offset, l4);
	cr_expect_eq(v.msg_offset, hdr);
	cr_expect_eq(v.src_port, spec->src_port);
	cr_expect_eq(v.msg.type, FAII_MSG_HEARTBEAT);
	cr_expect_eq(v.msg.length, msg_len);
}

Test(frame_build, ipv4)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	expect_frame(&spec);
}

Test(frame_build, ipv6)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(true);
	expect_frame(&spec);
}

Test(frame_build, vlan_ipv4)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	spec.vlan = true;
	spec.vlan_tci = 0xA064; /* priority 5, VLAN 100 */
	expect_frame(&spec);
}

Test(frame_build, vlan_ipv6)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(true);
	spec.vlan = true;
	spec.vlan_tci = 4094;
	expect_frame(&spec);
}

/* Every other field is the caller's: TTL, identification, ports, addresses. */
Test(frame_build, spec_fields)
{
	struct faii_frame_spec spec = {
	        .dst_mac = {0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54},
	        .src_mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
	        .src_ip = {10, 255, 0, 1},
	        .dst_ip = {172, 16, 254, 255},
	        .ttl = 1,
	        .ip_id = 0xFFFF,
	        .src_port = 65535,
	        .dst_port = 9999,
	};
	expect_frame(&spec);
	spec.ipv6 = true;
	memset(spec.src_ip, 0xFF, sizeof(spec.src_ip));
	spec.ttl = 255;
	expect_frame(&spec);
}

/* A checksum that comes out as 0 is sent as 0xFFFF: 0 means "none" in IPv4. */
Test(frame_build, udp_checksum_zero_is_ffff)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	uint8_t msg[16] = {0}, f[BUF_SIZE];
	size_t len = faii_frame_build(f, sizeof(f), &spec, msg, sizeof(msg));
	cr_assert_neq(len, 0);
	size_t udp = faii_frame_hdr_len(&spec) - FAII_UDP_HDR_LEN;
	unsigned first = get16(f + udp + 6);
	cr_assert_neq(first, 0xFFFF, "pick another message: this one already sums to zero");

	/* A last word equal to the first checksum makes the segment sum 0xFFFF. */
	msg[14] = (uint8_t)(first >> 8);
	msg[15] = (uint8_t)first;
	cr_assert_eq(faii_frame_build(f, sizeof(f), &spec, msg, sizeof(msg)), len);
	cr_expect_eq(get16(f + udp + 6), 0xFFFF);
	expect_udp_checksum(f + FAII_ETH_HDR_LEN, false, f + udp);
}

/* cap one byte short: 0, and nothing written; cap exact: the frame. */
Test(frame_build, capacity)
{
	const struct faii_frame_spec specs[] = {
	        faii_sample_frame_spec(false),
	        faii_sample_frame_spec(true),
	};
	uint8_t msg[FAII_MSG_SIZE_MAX], f[BUF_SIZE];
	size_t msg_len = faii_sample_encode(FAII_MSG_TASK, msg, sizeof(msg));
	cr_assert_neq(msg_len, 0);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		size_t want = faii_frame_hdr_len(&specs[i]) + msg_len;
		memset(f, 0x5A, sizeof(f));
		cr_expect_eq(faii_frame_build(f, want - 1, &specs[i], msg, msg_len), 0);
		for (size_t k = 0; k < sizeof(f); k++)
			cr_assert_eq(f[k], 0x5A, "byte %zu written on failure", k);
		cr_expect_eq(faii_frame_build(f, 0, &specs[i], msg, msg_len), 0);
		cr_expect_eq(
		        faii_frame_build(f, faii_frame_hdr_len(&specs[i]) - 1, &specs[i], NULL, 0),
		        0);
		cr_expect_eq(faii_frame_build(f, want, &specs[i], msg, msg_len), want);
	}
}

/* An empty message still makes a frame: headers only. */
Test(frame_build, empty_message)
{
	struct faii_frame_spec spec = faii_sample_frame_spec(true);
	uint8_t f[BUF_SIZE];
	size_t len = faii_frame_build(f, sizeof(f), &spec, NULL, 0);
	cr_assert_eq(len, faii_frame_hdr_len(&spec));
	cr_expect_eq(get16(f + len - FAII_UDP_HDR_LEN + 4), FAII_UDP_HDR_LEN);
	expect_udp_checksum(f + FAII_ETH_HDR_LEN, true, f + len - FAII_UDP_HDR_LEN);
}

/* The IP and UDP length fields bound the message: 65507 bytes over IPv4, 65527 over IPv6. */
Test(frame_build, message_too_long)
{
	enum { CAP = 70000 };
	uint8_t *msg = calloc(1, CAP), *f = malloc(CAP);
	cr_assert(msg != NULL && f != NULL);
	struct faii_frame_spec v4 = faii_sample_frame_spec(false);
	struct faii_frame_spec v6 = faii_sample_frame_spec(true);

	cr_expect_eq(faii_frame_build(f, CAP, &v4, msg, 65508), 0);
	size_t len = faii_frame_build(f, CAP, &v4, msg, 65507);
	cr_expect_eq(len, faii_frame_hdr_len(&v4) + 65507);
	cr_expect_eq(get16(f + FAII_ETH_HDR_LEN + 2), 65535, "IPv4 total length");
	expect_udp_checksum(f + FAII_ETH_HDR_LEN, false, f + faii_frame_hdr_len(&v4) - 8);

	cr_expect_eq(faii_frame_build(f, CAP, &v6, msg, 65528), 0);
	len = faii_frame_build(f, CAP, &v6, msg, 65527);
	cr_expect_eq(len, faii_frame_hdr_len(&v6) + 65527);
	cr_expect_eq(get16(f + FAII_ETH_HDR_LEN + 4), 65535, "IPv6 payload length");
	expect_udp_checksum(f + FAII_ETH_HDR_LEN, true, f + faii_frame_hdr_len(&v6) - 8);

	cr_expect_eq(faii_frame_build(f, CAP, &v6, msg, SIZE_MAX), 0, "no wrap-around");
	free(msg);
	free(f);
}

/* A message encoded where the builder puts it is framed without a copy. */
Test(frame_build, message_in_place)
{
	for (int ipv6 = 0; ipv6 <= 1; ipv6++) {
		struct faii_frame_spec spec = faii_sample_frame_spec(ipv6);
		spec.vlan = ipv6;
		uint8_t copied[BUF_SIZE], in_place[BUF_SIZE], msg[FAII_MSG_SIZE_MAX];
		size_t hdr = faii_frame_hdr_len(&spec);
		size_t msg_len = faii_sample_encode(FAII_MSG_RESULT, msg, sizeof(msg));
		cr_assert_eq(faii_sample_encode(FAII_MSG_RESULT, in_place + hdr, BUF_SIZE - hdr),
		             msg_len);

		size_t len = faii_frame_build(copied, sizeof(copied), &spec, msg, msg_len);
		cr_assert_eq(faii_frame_build(in_place, sizeof(in_place), &spec, in_place + hdr,
		                              msg_len),
		             len);
		cr_expect_arr_eq(in_place, copied, len);
	}
}

/* The checksum helpers, on the example of RFC 1071 section 3. */
Test(checksum, rfc1071_example)
{
	static const uint8_t data[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	cr_expect_eq(faii_csum_add(0, data, sizeof(data)), 0xddf2);
	cr_expect_eq(faii_csum_fold(faii_csum_add(0, data, sizeof(data))), 0x220d);
	/* In two pieces, and with an odd last piece padded with zero. */
	cr_expect_eq(faii_csum_add(faii_csum_add(0, data, 4), data + 4, 4), 0xddf2);
	cr_expect_eq(faii_csum_add(0, data, 3), 0x0001 + 0xf200);
	/* Over data that carries its checksum: 0. */
	static const uint8_t with_sum[10] = {0x00, 0x01, 0xf2, 0x03, 0xf4,
	                                     0xf5, 0xf6, 0xf7, 0x22, 0x0d};
	cr_expect_eq(faii_csum_fold(faii_csum_add(0, with_sum, sizeof(with_sum))), 0);
	cr_expect_eq(faii_ipv4_checksum(with_sum, sizeof(with_sum)), 0);
}
