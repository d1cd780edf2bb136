/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet/IP/UDP frames around a faii message; see include/faii/frame.h. */
#include <string.h>

#include "faii/frame.h"

enum {
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86DD,
	ETHERTYPE_VLAN = 0x8100,
	IPV4_DONT_FRAGMENT = 0x4000,
	IPPROTO_UDP_NUM = 17,
	IP_LEN_MAX = 0xFFFF, /* the IPv4 total length and IPv6 payload length fields */
};

static void store_be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t faii_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum;
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		acc += (uint32_t)(p[len - 1] << 8);
	while (acc >> 16)
		acc = (acc & 0xFFFF) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t faii_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t faii_frame_hdr_len(const struct faii_frame_spec *spec)
{
	return FAII_ETH_HDR_LEN + (spec->vlan ? FAII_VLAN_TAG_LEN : 0) +
	       (spec->ipv6 ? FAII_IPV6_HDR_LEN : FAII_IPV4_HDR_LEN) + FAII_UDP_HDR_LEN;
}

size_t faii_frame_build(void *buf, size_t cap, const struct faii_frame_spec *spec, const void *msg,
                        size_t msg_len)
{
	if (msg_len > IP_LEN_MAX) /* first, so that the sums below cannot wrap */
		return 0;
	size_t hdr_len = faii_frame_hdr_len(spec);
	size_t udp_len = FAII_UDP_HDR_LEN + msg_len;
	size_t ip_len = spec->ipv6 ? udp_len : FAII_IPV4_HDR_LEN + udp_len;
	if (ip_len > IP_LEN_MAX || hdr_len + msg_len > cap)
		return 0;

	uint8_t *f = buf;
	/* The message first: it may sit where the headers go (see frame.h). */
	if (msg_len > 0 && f + hdr_len != (const uint8_t *)msg)
		memmove(f + hdr_len, msg, msg_len);

	memcpy(f, spec->dst_mac, 6);
	memcpy(f + 6, spec->src_mac, 6);
	size_t l3 = FAII_ETH_HDR_LEN;
	if (spec->vlan) {
		store_be16(f + 12, ETHERTYPE_VLAN);
		store_be16(f + 14, spec->vlan_tci);
		l3 += FAII_VLAN_TAG_LEN;
	}
	store_be16(f + l3 - 2, spec->ipv6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);

	uint8_t *ip = f + l3;
	uint8_t ttl = spec->ttl ? spec->ttl : FAII_FRAME_TTL_DEFAULT;
	uint32_t pseudo;
	if (spec->ipv6) {
		memset(ip, 0, FAII_IPV6_HDR_LEN);
		ip[0] = 0x60;
		store_be16(ip + 4, udp_len);
		ip[6] = IPPROTO_UDP_NUM;
		ip[7] = ttl;
		memcpy(ip + 8, spec->src_ip, 16);
		memcpy(ip + 24, spec->dst_ip, 16);
		pseudo = faii_csum_add(0, ip + 8, 32);
	} else {
		memset(ip, 0, FAII_IPV4_HDR_LEN);
		ip[0] = 0x45;
		store_be16(ip + 2, ip_len);
		store_be16(ip + 4, spec->ip_id);
		store_be16(ip + 6, IPV4_DONT_FRAGMENT);
		ip[8] = ttl;
		ip[9] = IPPROTO_UDP_NUM;
		memcpy(ip + 12, spec->src_ip, 4);
		memcpy(ip + 16, spec->dst_ip, 4);
		store_be16(ip + 10, faii_ipv4_checksum(ip, FAII_IPV4_HDR_LEN));
		pseudo = faii_csum_add(0, ip + 12, 8);
	}
	/* Pseudo-header: the addresses above, then protocol and UDP length. */
	pseudo += IPPROTO_UDP_NUM + (uint32_t)udp_len;

	uint8_t *udp = f + hdr_len - FAII_UDP_HDR_LEN;
	store_be16(udp, spec->src_port);
	store_be16(udp + 2, spec->dst_port);
	store_be16(udp + 4, udp_len);
	store_be16(udp + 6, 0);
	uint16_t sum = faii_csum_fold(faii_csum_add(pseudo, udp, udp_len));
	store_be16(udp + 6, sum == 0 ? 0xFFFF : sum);
	return hdr_len + msg_len;
}
