/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * Data residency: no faii TASK leaves towards a node outside the
 * jurisdictions its residency class allows (SPEC section 4).
 *
 * The judgement is one function of the packet bytes and the policy maps,
 * judge(); the attach points are thin wrappers around it. It fails closed:
 * a task to an unknown node, of an undefined class, without a dispatched node,
 * or malformed on a faii port is dropped, each with its own counter and a
 * ring-buffer event for the audit log. Traffic that is not faii passes.
 *
 * The walk looks through up to two VLAN tags, IPv4 options, AH and up to six
 * IPv6 extension headers to find the UDP port. Faii ports are the
 * appliance's (faii_udp_port) and those of the registered nodes
 * (faii_res_ports), so a TASK copy is judged whichever port its node listens
 * on. A first fragment to a faii port is dropped as malformed (faii never
 * fragments, and a task split across fragments could hide its header); later
 * fragments carry no port and pass.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "faii/protocol.h"
#include "faii/residency.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The appliance's UDP port; the loader may set it before load. */
const volatile __u16 faii_udp_port = FAII_UDP_PORT_DEFAULT;

/* The UDP ports of the registered nodes: bit p % 64 of word p / 64. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FAII_RES_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} faii_res_ports SEC(".maps");

/* node id -> jurisdiction index. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAII_RES_NODES_MAX);
	__type(key, __u32);
	__type(value, struct faii_res_node);
} faii_res_nodes SEC(".maps");

/* residency class id -> allowed jurisdictions; undefined entries fail closed. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FAII_RES_CLASSES_MAX);
	__type(key, __u32);
	__type(value, struct faii_res_class);
} faii_res_classes SEC(".maps");

/* Verdicts by reason, per CPU: no atomics on the packet path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FAII_RES_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} faii_res_counters SEC(".maps");

/* Refusals, read by the control plane into the audit log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FAII_RES_EVENTS_BYTES);
} faii_res_events SEC(".maps");

#define IP_FRAG_OFFSET_MASK  0x1FFF
#define IP_MORE_FRAGMENTS    0x2000
#define ETH_P_8021AD_QINQ    0x88A8
#define VLAN_TAGS_MAX        2
#define IPV6_EXT_HEADERS_MAX 6

enum {
	NEXTHDR_HOP = 0,
	NEXTHDR_UDP = 17,
	NEXTHDR_ROUTING = 43,
	NEXTHDR_FRAGMENT = 44,
	NEXTHDR_AUTH = 51,
	NEXTHDR_DEST = 60,
};

struct verdict {
	enum faii_residency_reason reason;
	__u64 task_id;
	__u32 node_id;
	__u16 residency_class;
	__u8 jurisdiction;
};

/*
 * A header that does not fit in [data, data_end) ends the walk: "not faii"
 * on a whole packet, "malformed" when bytes are known to be missing (a TC
 * packet whose headers could not all be made linear): fail closed.
 */
static __always_inline enum faii_residency_reason short_packet(int truncated)
{
	return truncated ? FAII_RES_DROP_MALFORMED : FAII_RES_PASS_NOT_FAII;
}

/*
 * p + off, with p as the destination register. Clang may otherwise emit
 * "off += p", which the kernel's verifier accepts but rte_bpf's does not: it
 * keeps the destination's type, so the sum would be a scalar there and every
 * load through it refused. Every variable-length header advance goes here.
 */
static __always_inline void *ptr_add(void *p, __u64 off)
{
	asm volatile("%[p] += %[off]" : [p] "+r"(p) : [off] "r"(off));
	return p;
}

/*
 * 1 when a == b, else 0 (a, b < 2^63), without a branch: BPF has no
 * set-on-condition, so clang would branch on a comparison. The empty asms
 * keep it from turning the arithmetic back into one, and keep the "& 1" that
 * tells rte_bpf's verifier the result is 0 or 1 (it loses the sign of x - 1).
 */
static __always_inline __u64 same(__u64 a, __u64 b)
{
	__u64 x = a ^ b;
	asm volatile("" : "+r"(x));
	x = (x - 1) >> 63;
	asm volatile("" : "+r"(x));
	return x & 1;
}

/* Where the UDP header starts, and whether the datagram is a first fragment. */
struct l4_walk {
	void *udp;
	int first_fragment;
};

/* The walkers return this to mean "UDP found, go on". */
#define WALK_FOUND_UDP FAII_RES_PASS_ALLOWED

/* IPv4: options, and AH (which authenticates but does not hide UDP). */
static __always_inline enum faii_residency_reason walk_ipv4(void *l3, void *data_end, int truncated,
                                                            struct l4_walk *w)
{
	struct iphdr *ip = l3;
	if ((void *)(ip + 1) > data_end)
		return short_packet(truncated);
	if (ip->ihl < 5)
		return FAII_RES_PASS_NOT_FAII;
	__u16 frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_FRAG_OFFSET_MASK)
		return FAII_RES_PASS_NOT_FAII; /* a later fragment: no UDP header */
	w->first_fragment = (frag & IP_MORE_FRAGMENTS) != 0;
	void *l4 = ptr_add(l3, ip->ihl * 4);
	__u8 proto = ip->protocol;
	if (proto == NEXTHDR_AUTH) {
		__u8 *ah = l4;
		if ((void *)(ah + 2) > data_end)
			return short_packet(truncated);
		proto = ah[0];
		l4 = ptr_add(l4, ((__u32)ah[1] + 2) * 4);
	}
	if (proto != NEXTHDR_UDP)
		return FAII_RES_PASS_NOT_FAII;
	w->udp = l4;
	return WALK_FOUND_UDP;
}

/* IPv6: a bounded walk over the extension headers that may precede UDP. */
static __always_inline enum faii_residency_reason walk_ipv6(void *l3, void *data_end, int truncated,
                                                            struct l4_walk *w)
{
	struct ipv6hdr *ip6 = l3;
	if ((void *)(ip6 + 1) > data_end)
		return short_packet(truncated);
	__u8 next = ip6->nexthdr;
	void *p = ip6 + 1;
	/*
	 * Unrolled, like the VLAN walk: rte_bpf's verifier refuses any back
	 * edge. A step past UDP changes nothing, so the loop has no early exit
	 * but its returns, which is what lets clang unroll it.
	 */
#pragma clang loop unroll(full)
	for (int i = 0; i < IPV6_EXT_HEADERS_MAX; i++) {
		if (next == NEXTHDR_UDP)
			continue;
		__u8 *ext = p;
		if ((void *)(ext + 8) > data_end)
			return short_packet(truncated);
		/*
		 * One length rule for the three kinds, computed without
		 * branches: rte_bpf's verifier explores every path, and only
		 * paths that leave identical states can be pruned. Three
		 * kinds of advance per header over six headers took it
		 * minutes; one takes milliseconds. Fragment: 8 bytes; AH:
		 * (len + 2) * 4; hop-by-hop, routing, destination options:
		 * (len + 1) * 8.
		 */
		__u64 is_frag = same(next, NEXTHDR_FRAGMENT);
		__u64 is_auth = same(next, NEXTHDR_AUTH);
		__u64 is_opts = same(next, NEXTHDR_HOP) | same(next, NEXTHDR_ROUTING) |
		                same(next, NEXTHDR_DEST);
		if ((is_frag | is_auth | is_opts) == 0)
			return FAII_RES_PASS_NOT_FAII; /* TCP, ICMPv6, ESP, ...: not faii */
		__u64 offset = bpf_ntohs(*(__u16 *)(ext + 2)) & 0xFFF8;
		if (is_frag & (same(offset, 0) ^ 1))
			return FAII_RES_PASS_NOT_FAII; /* a later fragment */
		w->first_fragment |= (int)is_frag;
		/*
		 * Selected with masks: both verifiers bound add, sub and and
		 * of two unknowns, the kernel's no shift or multiply by one.
		 */
		__u64 len = ext[1] & (is_frag - 1); /* a fragment header's is 8 */
		__u64 step =
		        (((len + 2) << 2) & (0 - is_auth)) + (((len + 1) << 3) & (is_auth - 1));
		p = ptr_add(p, step);
		next = ext[0];
	}
	if (next == NEXTHDR_UDP) {
		w->udp = p;
		return WALK_FOUND_UDP;
	}
	/* Still more extension headers than faii would ever send: fail closed. */
	if (next == NEXTHDR_HOP || next == NEXTHDR_ROUTING || next == NEXTHDR_FRAGMENT ||
	    next == NEXTHDR_AUTH || next == NEXTHDR_DEST)
		return FAII_RES_DROP_MALFORMED;
	return FAII_RES_PASS_NOT_FAII;
}

/*
 * 1 for a faii port: the appliance's, or one a registered node listens on. An
 * ARRAY lookup, which the kernel inlines; rte_bpf calls its emulation, which
 * reads the policy snapshot of the packet being judged. Without a branch but
 * the NULL check (which cannot be taken: every word exists), as same() is:
 * one more branch here would double the paths rte_bpf's verifier explores
 * through the rest of judge().
 */
static __always_inline __u64 faii_port(__u16 port)
{
	__u32 word = FAII_RES_PORT_WORD(port);
	__u64 *bits = bpf_map_lookup_elem(&faii_res_ports, &word);
	if (bits == NULL)
		return 0;
	return (same(port, faii_udp_port) | (*bits >> FAII_RES_PORT_BIT(port))) & 1;
}

/* Finds the UDP header of a faii datagram; NULL with *reason set otherwise. */
static __always_inline struct udphdr *find_udp(void *data, void *data_end, int truncated,
                                               enum faii_residency_reason *reason)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	struct l4_walk w = {0};

	*reason = short_packet(truncated);
	if (l3 > data_end)
		return NULL;
	__u16 proto = eth->h_proto;
#pragma clang loop unroll(full)
	for (int i = 0; i < VLAN_TAGS_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD_QINQ))
			break;
		if (l3 + 4 > data_end)
			return NULL;
		proto = *(__u16 *)(l3 + 2);
		l3 += 4;
	}
	if (proto == bpf_htons(ETH_P_IP))
		*reason = walk_ipv4(l3, data_end, truncated, &w);
	else if (proto == bpf_htons(ETH_P_IPV6))
		*reason = walk_ipv6(l3, data_end, truncated, &w);
	else if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD_QINQ))
		*reason = FAII_RES_DROP_MALFORMED; /* more tags than we look through */
	else
		*reason = FAII_RES_PASS_NOT_FAII;
	if (*reason != WALK_FOUND_UDP)
		return NULL;

	struct udphdr *udp = w.udp;
	if ((void *)(udp + 1) > data_end) {
		*reason = short_packet(truncated);
		return NULL;
	}
	*reason = FAII_RES_PASS_NOT_FAII;
	if (!faii_port(bpf_ntohs(udp->dest)))
		return NULL;
	if (w.first_fragment) {
		/* A fragmented task could hide its header: faii never fragments. */
		*reason = FAII_RES_DROP_MALFORMED;
		return NULL;
	}
	return udp;
}

static __always_inline void judge(void *data, void *data_end, int truncated, struct verdict *v)
{
	struct udphdr *udp = find_udp(data, data_end, truncated, &v->reason);
	if (udp == NULL)
		return;

	struct faii_hdr *hdr = (void *)(udp + 1);
	v->reason = FAII_RES_DROP_MALFORMED;
	if ((void *)(hdr + 1) > data_end || hdr->magic != bpf_htons(FAII_MAGIC) ||
	    (hdr->version != FAII_VERSION && hdr->version != FAII_VERSION_2))
		return;
	if (hdr->type != FAII_MSG_TASK) {
		v->reason = FAII_RES_PASS_NOT_TASK;
		return;
	}
	struct faii_task *task = (void *)(hdr + 1);
	if ((void *)(task + 1) > data_end)
		return;

	v->task_id = bpf_be64_to_cpu(task->task_id);
	v->node_id = bpf_ntohl(task->node_id);
	v->residency_class = bpf_ntohs(task->residency_class);
	if (!(hdr->flags & FAII_F_DISPATCHED) || v->node_id == 0) {
		v->reason = FAII_RES_DROP_UNDISPATCHED;
		return;
	}
	__u32 node_key = v->node_id;
	struct faii_res_node *node = bpf_map_lookup_elem(&faii_res_nodes, &node_key);
	if (node == NULL) {
		v->reason = FAII_RES_DROP_UNKNOWN_NODE;
		return;
	}
	v->jurisdiction = (__u8)node->jurisdiction;
	__u32 class_key = v->residency_class;
	struct faii_res_class *cls = bpf_map_lookup_elem(&faii_res_classes, &class_key);
	if (class_key == 0 || cls == NULL || !cls->defined) {
		v->reason = FAII_RES_DROP_UNKNOWN_CLASS;
		return;
	}
	if (node->jurisdiction < 64 && (cls->allowed >> node->jurisdiction) & 1)
		v->reason = FAII_RES_PASS_ALLOWED;
	else
		v->reason = FAII_RES_DROP_FORBIDDEN;
}

/* Counts the verdict and reports a refusal; true when the packet may pass. */
static __always_inline int account(const struct verdict *v)
{
	__u32 key = v->reason;
	__u64 *count = bpf_map_lookup_elem(&faii_res_counters, &key);
	if (count)
		*count += 1;
	if (v->reason < FAII_RES_FIRST_DROP)
		return 1;
	struct faii_res_event *ev = bpf_ringbuf_reserve(&faii_res_events, sizeof(*ev), 0);
	if (ev) {
		ev->time_ns = bpf_ktime_get_ns();
		ev->task_id = v->task_id;
		ev->node_id = v->node_id;
		ev->residency_class = v->residency_class;
		ev->reason = (__u8)v->reason;
		ev->jurisdiction = v->jurisdiction;
		bpf_ringbuf_submit(ev, 0);
	} else {
		/* The audit log must know it missed something. */
		__u32 lost_key = FAII_RES_COUNTER_EVENTS_LOST;
		__u64 *lost = bpf_map_lookup_elem(&faii_res_counters, &lost_key);
		if (lost)
			*lost += 1;
	}
	return 0;
}

/*
 * Inside the DPDK dataplane, through rte_bpf (dataplane/residency_bpf.c).
 * rte_bpf has no xdp_md to rewrite into packet pointers: its verifier only
 * knows a packet pointer when the program reads it from an rte_mbuf
 * (RTE_BPF_ARG_PTR_MBUF), so this entry takes one, reads buf_addr, data_off,
 * data_len and pkt_len at their DPDK offsets (residency.h, checked by the
 * loader at compile time), and judges the first segment. A chained mbuf whose
 * headers run past its first segment is malformed, as on TC: fail closed.
 * The helpers and maps are the loader's emulations; the return value is the
 * reason itself, so the dataplane can count and log without another lookup.
 */
SEC("?faii_dpdk")
__u64 faii_residency_dpdk(void *mbuf)
{
	struct verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	void *buf = *(void **)(mbuf + FAII_RES_MBUF_BUF_ADDR_OFF);
	__u16 data_off = *(__u16 *)(mbuf + FAII_RES_MBUF_DATA_OFF_OFF);
	__u32 pkt_len = *(__u32 *)(mbuf + FAII_RES_MBUF_PKT_LEN_OFF);
	__u16 data_len = *(__u16 *)(mbuf + FAII_RES_MBUF_DATA_LEN_OFF);
	void *data = buf + data_off;
	judge(data, data + data_len, data_len < pkt_len, &v);
	account(&v);
	return v.reason;
}

SEC("xdp")
int faii_residency_xdp(struct xdp_md *ctx)
{
	struct verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	judge((void *)(long)ctx->data, (void *)(long)ctx->data_end, 0, &v);
	return account(&v) ? XDP_PASS : XDP_DROP;
}

/*
 * Bytes made linear before judging: two VLAN tags, IPv6 with a few extension
 * headers, UDP and the task. Headers beyond them on a non-linear packet make
 * it malformed (fail closed), not "not faii".
 */
#define TC_LINEAR_BYTES 512u

SEC("tc")
int faii_residency_tc(struct __sk_buff *skb)
{
	struct verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	__u32 want = skb->len < TC_LINEAR_BYTES ? skb->len : TC_LINEAR_BYTES;
	if (bpf_skb_pull_data(skb, want) != 0) {
		v.reason = FAII_RES_DROP_MALFORMED;
	} else {
		void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
		int truncated = data_end - data < (long)skb->len;
		judge(data, data_end, truncated, &v);
	}
	return account(&v) ? TC_ACT_OK : TC_ACT_SHOT;
}
