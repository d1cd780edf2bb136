/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames the pipeline reads and writes: the checksums of what it received,
 * checked before anything is built from it; replies and results in fresh
 * headers, TASK copies readdressed in place with incremental checksums,
 * answers to clients.
 */
#include <string.h>

#include <rte_ip.h>

#include "pipeline.h"

/* ---- frames in --------------------------------------------------------------------- */

/* The ones'-complement sum, folded to 16 bits, of the UDP pseudo header, UDP
 * header and message, in DPDK's order (host words: compare with 0xFFFF or
 * store as is, never swap). */
static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udp, size_t udp_len, bool ipv6)
{
	uint32_t s = ipv6 ? rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)ip, 0)
	                  : rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, 0);
	s += rte_raw_cksum(udp, udp_len);
	s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)((s & 0xFFFF) + (s >> 16));
}

/*
 * Whether the checksums of a received TASK or RESULT hold, before anything
 * is built from it: copies and forwarded results are patched incrementally,
 * which keeps a wrong checksum wrong. The port's verdict when it gives one
 * (RX offload flags GOOD or BAD); computed here when it does not (UNKNOWN:
 * net_ring, net_null, memif, ports without the offload). FAII_PIPE_COUNT
 * when intact, else bad_ip (the step's first reason), bad_ip + 1 (UDP) or
 * bad_ip + 2 (IPv6 without a checksum).
 */
enum faii_pipe_counter pipe_check_checksums(struct rte_mbuf *m, const struct faii_frame_view *fv,
                                            enum faii_pipe_counter bad_ip)
{
	_Static_assert(
	        FAII_PIPE_TASK_BAD_UDP_CHECKSUM == FAII_PIPE_TASK_BAD_IP_CHECKSUM + 1 &&
	                FAII_PIPE_TASK_UDP_CHECKSUM_ZERO == FAII_PIPE_TASK_BAD_IP_CHECKSUM + 2 &&
	                FAII_PIPE_RESULT_BAD_UDP_CHECKSUM == FAII_PIPE_RESULT_BAD_IP_CHECKSUM + 1 &&
	                FAII_PIPE_RESULT_UDP_CHECKSUM_ZERO == FAII_PIPE_RESULT_BAD_IP_CHECKSUM + 2,
	        "each step's three checksum reasons follow one another");
	FAII_ASSERT(bad_ip == FAII_PIPE_TASK_BAD_IP_CHECKSUM ||
	            bad_ip == FAII_PIPE_RESULT_BAD_IP_CHECKSUM);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	const uint8_t *ip = f + fv->l3_offset;
	uint8_t *udp = f + fv->l4_offset;
	bool ipv6 = fv->ip_version == 6;
	uint64_t ipf = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	/* IPv4 header: the port's verdict, else ours. NONE (the header was
	 * checked, its field is not right) passes: copies get a new one. */
	if (!ipv6 && (ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	              (ipf == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN &&
	               rte_raw_cksum(ip, (size_t)(fv->l4_offset - fv->l3_offset)) != 0xFFFF)))
		return bad_ip;
	uint64_t l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	size_t udp_len = (size_t)fv->msg.length + FAII_UDP_HDR_LEN;
	if (l4f == RTE_MBUF_F_RX_L4_CKSUM_NONE) {
		/* The data was checked (a virtio host, say), the field holds no
		 * final sum: write the right one, so that patches of it are right. */
		memset(udp + 6, 0, 2);
		uint16_t ck = (uint16_t)~udp_sum(ip, udp, udp_len, ipv6);
		ck = ck == 0 ? 0xFFFF : ck; /* 0 would mean "no checksum" (RFC 768) */
		memcpy(udp + 6, &ck, 2);
		return FAII_PIPE_COUNT;
	}
	uint16_t field;
	memcpy(&field, udp + 6, 2);
	if (field == 0) /* no checksum: allowed over IPv4, not over IPv6 */
		return ipv6 ? (enum faii_pipe_counter)(bad_ip + 2) : FAII_PIPE_COUNT;
	if (l4f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return FAII_PIPE_COUNT;
	if (l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return (enum faii_pipe_counter)(bad_ip + 1);
	/* UNKNOWN: pseudo header, UDP header and message sum to 0xFFFF. */
	return udp_sum(ip, udp, udp_len, ipv6) == 0xFFFF ? FAII_PIPE_COUNT
	                                                 : (enum faii_pipe_counter)(bad_ip + 1);
}

uint16_t pipe_cut_ipv4_options(struct faii_worker *w, struct rte_mbuf *m, uint16_t l3, uint16_t l4)
{
	uint16_t cut = (uint16_t)(l4 - l3 - FAII_IPV4_HDR_LEN);
	if (cut == 0 || l4 - l3 == FAII_IPV6_HDR_LEN) /* IPv6 carries no options here */
		return 0;
	FAII_ASSERT(l4 - l3 <= 60 && cut % 4 == 0); /* IHL is 4 bits of 32-bit words */
	/* Ethernet, tag and the fixed 20 bytes move forward over the options;
	 * the UDP header and message stay. Their checksum does not cover the
	 * IP header, so it still holds; the header's own is recomputed when
	 * the frame is readdressed. */
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memmove(f + cut, f, (size_t)l3 + FAII_IPV4_HDR_LEN);
	char *start = rte_pktmbuf_adj(m, cut);
	FAII_ASSERT(start != NULL);
	uint8_t *ip = (uint8_t *)start + l3;
	ip[0] = 0x45;
	uint16_t total = faii_be16((uint16_t)(load_be16(ip + 2) - cut));
	memcpy(ip + 2, &total, 2);
	w->stats.pipe[FAII_PIPE_IP_OPTIONS_REMOVED]++;
	return cut;
}

/* ---- frames ------------------------------------------------------------------------ */

/* Rewrites m so that its message (at msg_offset, msg_len bytes) travels in
 * fresh headers; checksums recomputed. 0, or -1 if it cannot fit. */
int pipe_emit(struct faii_worker *w, struct rte_mbuf *m, uint16_t msg_offset, uint16_t msg_len,
              bool ipv6, bool vlan, uint16_t vlan_tci, const uint8_t *dst_mac,
              const uint8_t *src_ip, uint16_t src_port, const uint8_t *dst_ip, uint16_t dst_port)
{
	struct faii_frame_spec spec = {
	        .vlan = vlan,
	        .vlan_tci = vlan_tci,
	        .ipv6 = ipv6,
	        .src_port = src_port,
	        .dst_port = dst_port,
	};
	memcpy(spec.dst_mac, dst_mac, 6);
	memcpy(spec.src_mac, w->dp->port_mac[m->port].addr_bytes, 6);
	memcpy(spec.src_ip, src_ip, ipv6 ? 16 : 4);
	memcpy(spec.dst_ip, dst_ip, ipv6 ? 16 : 4);
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	size_t cap = (size_t)m->buf_len - m->data_off;
	size_t len = faii_frame_build(base, cap, &spec, base + msg_offset, msg_len);
	if (len == 0)
		return -1;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return 0;
}

/*
 * Readdresses a frame in place, keeping its header layout: Ethernet
 * addresses, IP source and destination, UDP ports. The UDP checksum is
 * updated for the changed words only (RFC 1624), including the message
 * words the caller changed (their sums before and after, msg_old and
 * msg_new), so the payload is not read again: right because every frame
 * readdressed here was received with checksums found intact
 * (pipe_check_checksums) or was built by us. The IPv4 header checksum is
 * recomputed (callers removed any options first). A UDP checksum of 0
 * over IPv4 (none) stays 0; over IPv6 it was refused on receipt.
 */
void pipe_readdress(struct faii_worker *w, struct rte_mbuf *m, uint16_t l3, uint16_t l4, bool ipv6,
                    const uint8_t *dst_mac, const uint8_t *src_ip, uint16_t src_port,
                    const uint8_t *dst_ip, uint16_t dst_port, uint32_t msg_old, uint32_t msg_new)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, w->dp->port_mac[m->port].addr_bytes, 6);
	uint8_t *ip = f + l3, *udp = f + l4;
	size_t alen = ipv6 ? 16 : 4;
	uint8_t *sip = ip + (ipv6 ? 8 : 12), *dip = ip + (ipv6 ? 24 : 16);
	uint32_t old = sum16(sip, alen) + sum16(dip, alen) + sum16(udp, 4) + msg_old;
	memcpy(sip, src_ip, alen);
	memcpy(dip, dst_ip, alen);
	uint16_t ports[2] = {faii_be16(src_port), faii_be16(dst_port)};
	memcpy(udp, ports, 4);
	uint32_t neu = sum16(sip, alen) + sum16(dip, alen) + sum16(udp, 4) + msg_new;
	uint16_t ck;
	memcpy(&ck, udp + 6, 2);
	FAII_ASSERT(ck != 0 || !ipv6); /* refused on receipt */
	if (ck != 0) {
		/* HC' = ~(~HC + ~m + m'), all in 16-bit ones' complement. */
		uint32_t acc = (uint16_t)~faii_be16(ck);
		old = (old & 0xFFFF) + (old >> 16);
		old = (old & 0xFFFF) + (old >> 16);
		acc += (uint16_t)~old + neu;
		while (acc >> 16)
			acc = (acc & 0xFFFF) + (acc >> 16);
		uint16_t v = (uint16_t)~acc;
		ck = faii_be16(v == 0 ? 0xFFFF : v);
		memcpy(udp + 6, &ck, 2);
	}
	if (ipv6) {
		ip[7] = FAII_FRAME_TTL_DEFAULT;
	} else {
		size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
		ip[8] = FAII_FRAME_TTL_DEFAULT;
		ip[10] = ip[11] = 0;
		uint16_t hc = faii_be16(faii_ipv4_checksum(ip, ihl));
		memcpy(ip + 10, &hc, 2);
	}
}

void pipe_frame_info(const struct rte_mbuf *m, const struct faii_frame_view *fv,
                     struct frame_info *fi)
{
	/* Copied, not pointed to: the frame is rewritten while these are used. */
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	fi->l3_offset = fv->l3_offset;
	fi->l4_offset = fv->l4_offset;
	memcpy(fi->src_mac, f + 6, 6);
	fi->ipv6 = fv->ip_version == 6;
	memset(fi->src_ip, 0, sizeof(fi->src_ip));
	memset(fi->dst_ip, 0, sizeof(fi->dst_ip));
	memcpy(fi->src_ip, f + fv->l3_offset + (fi->ipv6 ? 8 : 12), fi->ipv6 ? 16 : 4);
	memcpy(fi->dst_ip, f + fv->l3_offset + (fi->ipv6 ? 24 : 16), fi->ipv6 ? 16 : 4);
	fi->src_port = fv->src_port;
	fi->dst_port = fv->dst_port;
	/* The parser accepts up to two tags; replies keep the outer one only. */
	fi->vlan = fv->l3_offset > FAII_ETH_HDR_LEN;
	fi->vlan_tci = fi->vlan ? load_be16(f + 14) : 0;
	fi->msg_offset = fv->msg_offset;
	fi->msg_len = fv->msg.length;
}

/* Writes a RESULT of the appliance's own (no feasible node, refused,
 * timeout, no quorum) into m and queues it. */
void pipe_answer(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index, uint64_t task_id,
                 uint8_t status, uint32_t node_id, uint64_t dispatch_ns, bool ipv6, bool vlan,
                 uint16_t vlan_tci, const uint8_t *client_mac, const uint8_t *client_ip,
                 uint16_t client_port, const uint8_t *local_ip, uint16_t local_port)
{
	uint8_t msg[FAII_HDR_SIZE + FAII_RESULT_V2_BODY_SIZE];
	struct faii_result r = {
	        .task_id = task_id,
	        .status = status,
	        .node_id = node_id,
	        .dispatch_ts_ns = dispatch_ns,
	};
	/* With keys, clients speak version 2: the answer does too, with no
	 * token and no MAC (appliance-to-client MACs: docs/security.md). */
	static const struct faii_auth_block no_auth;
	size_t len = w->dp->auth_set != NULL
	                     ? faii_encode_result_v2(msg, sizeof(msg), &r, &no_auth, NULL)
	                     : faii_encode_result(msg, sizeof(msg), &r, NULL);
	/* Copy out of the frame first: pipe_emit() rebuilds headers in place. */
	uint8_t mac[6], cip[16], lip[16];
	memcpy(mac, client_mac, 6);
	memcpy(cip, client_ip, 16);
	memcpy(lip, local_ip, 16);
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	size_t hdr = FAII_ETH_HDR_LEN + (vlan ? FAII_VLAN_TAG_LEN : 0) +
	             (ipv6 ? FAII_IPV6_HDR_LEN : FAII_IPV4_HDR_LEN) + FAII_UDP_HDR_LEN;
	if (len == 0 || hdr + len > (size_t)m->buf_len - m->data_off) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(base + hdr, msg, len);
	if (pipe_emit(w, m, (uint16_t)hdr, (uint16_t)len, ipv6, vlan, vlan_tci, mac, lip,
	              local_port, cip, client_port) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	w->stats.pipe[FAII_PIPE_ANSWERS]++;
	tx_enqueue(w, port_index, m);
}

void pipe_answer_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                      const struct frame_info *fi, uint64_t task_id, uint8_t status)
{
	pipe_answer(w, m, port_index, task_id, status, 0, 0, fi->ipv6, fi->vlan, fi->vlan_tci,
	            fi->src_mac, fi->src_ip, fi->src_port, fi->dst_ip, fi->dst_port);
}

/* node_id and dispatch_ns: 0 for the appliance's own statuses; an ERROR
 * (no quorum) must name a node that answered and echo its dispatch time,
 * or the client's parser drops it (bad_node_id). */
void pipe_answer_record(struct faii_worker *w, const struct faii_dispatch *r, uint8_t status,
                        uint32_t node_id, uint64_t dispatch_ns)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
	if (m == NULL) {
		w->stats.pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
		return;
	}
	m->port = w->ports[r->rx_port_index];
	pipe_answer(w, m, r->rx_port_index, r->task_id, status, node_id, dispatch_ns,
	            r->family == FAII_ADDR_IPV6, r->vlan, r->vlan_tci, r->client_mac, r->client_ip,
	            r->client_port, r->local_ip, r->local_port);
}
