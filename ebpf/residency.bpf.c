/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * Data residency: no faii TASK leaves towards a node outside the
 * jurisdictions its residency class allows (SPEC section 4).
 *
 * The judgement is one function of the packet bytes and the policy maps,
 * judge(); the attach points are thin wrappers around it. It fails closed:
 * a task to an unknown node, of an undefined class, without a dispatched node,
 * or malformed on the faii port is dropped, each with its own counter and a
 * ring-buffer event for the audit log. Traffic that is not faii passes.
 *
 * IPv6 packets with extension headers and first IPv4 fragments on the faii
 * port are dropped as malformed: faii never sends them, and a policy that
 * looked past them could be bypassed by them.
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

/* The faii UDP port; the loader may set it before load. */
const volatile __u16 faii_udp_port = FAII_UDP_PORT_DEFAULT;

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
	__uint(max_entries, FAII_RES_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} faii_res_counters SEC(".maps");

/* Refusals, read by the control plane into the audit log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FAII_RES_EVENTS_BYTES);
} faii_res_events SEC(".maps");

#define IPV6_NEXTHDR_UDP    17
#define IP_FRAG_OFFSET_MASK 0x1FFF
#define IP_MORE_FRAGMENTS   0x2000

struct verdict {
	enum faii_residency_reason reason;
	__u64 task_id;
	__u32 node_id;
	__u16 residency_class;
	__u8 jurisdiction;
};

/* Finds the UDP header of a faii datagram; NULL with *reason set otherwise. */
static __always_inline struct udphdr *find_udp(void *data, void *data_end,
                                               enum faii_residency_reason *reason)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u16 proto;

	*reason = FAII_RES_PASS_NOT_FAII;
	if (l3 > data_end)
		return NULL;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		if (l3 + 4 > data_end)
			return NULL;
		proto = *(__u16 *)(l3 + 2);
		l3 += 4;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
			return NULL;
		__u16 frag = bpf_ntohs(ip->frag_off);
		if (frag & IP_FRAG_OFFSET_MASK)
			return NULL; /* a later fragment: no UDP header to judge */
		struct udphdr *udp = l3 + ip->ihl * 4;
		if (ip->ihl < 5 || (void *)(udp + 1) > data_end)
			return NULL;
		if (udp->dest != bpf_htons(faii_udp_port))
			return NULL;
		if (frag & IP_MORE_FRAGMENTS) {
			*reason = FAII_RES_DROP_MALFORMED;
			return NULL;
		}
		return udp;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end)
			return NULL;
		if (ip6->nexthdr != IPV6_NEXTHDR_UDP) {
			/* Extension headers might hide a task: refuse them. */
			if (ip6->nexthdr == 0 || ip6->nexthdr == 43 || ip6->nexthdr == 44 ||
			    ip6->nexthdr == 60)
				*reason = FAII_RES_DROP_MALFORMED;
			return NULL;
		}
		struct udphdr *udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(faii_udp_port))
			return NULL;
		return udp;
	}
	return NULL;
}

static __always_inline void judge(void *data, void *data_end, struct verdict *v)
{
	struct udphdr *udp = find_udp(data, data_end, &v->reason);
	if (udp == NULL)
		return;

	struct faii_hdr *hdr = (void *)(udp + 1);
	v->reason = FAII_RES_DROP_MALFORMED;
	if ((void *)(hdr + 1) > data_end || hdr->magic != bpf_htons(FAII_MAGIC) ||
	    hdr->version != FAII_VERSION)
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
	}
	return 0;
}

SEC("xdp")
int faii_residency_xdp(struct xdp_md *ctx)
{
	struct verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	judge((void *)(long)ctx->data, (void *)(long)ctx->data_end, &v);
	return account(&v) ? XDP_PASS : XDP_DROP;
}

/* Headers the judgement reads: Ethernet, VLAN, IPv6, UDP, faii header, task. */
#define JUDGED_BYTES (14 + 4 + 40 + 8 + FAII_HDR_SIZE + FAII_TASK_BODY_SIZE)

SEC("tc")
int faii_residency_tc(struct __sk_buff *skb)
{
	struct verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	/* Make the judged headers linear; a shorter packet stays as it is. */
	bpf_skb_pull_data(skb, skb->len < JUDGED_BYTES ? skb->len : JUDGED_BYTES);
	judge((void *)(long)skb->data, (void *)(long)skb->data_end, &v);
	return account(&v) ? TC_ACT_OK : TC_ACT_SHOT;
}
