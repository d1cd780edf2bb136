/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency BPF object inside the dataplane (dataplane/residency_bpf.c):
 *  - rte_table: the crafted table of residency_frames.c through the rte_bpf
 *    JIT and through the C reference: verdicts, counters, events;
 *  - differential: random frames, valid and mutated, to the appliance's
 *    port, to node ports and to other ports, through the kernel
 *    (BPF_PROG_TEST_RUN on the XDP program, same policy in its maps), the
 *    rte_bpf JIT and the C reference; the verdict reason and the refusal
 *    event must be the same for every frame;
 *  - policy_swap_*: a control thread flips between two whole policies (nodes,
 *    classes and node ports) while a worker lcore judges; no verdict may come
 *    from a mix of the two.
 *
 * The EAL runs without hugepages or PCI, with a per-process file prefix.
 * The differential test needs root (CAP_BPF, CAP_NET_ADMIN) for the kernel.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "faii/wire.h"
#include "residency_bpf.h"
#include "residency_frames.h"

#ifndef FAII_BPF_OBJECT
#error "FAII_BPF_OBJECT must name the compiled residency.bpf.o"
#endif

#define FRAME_CAP 1024u

static void eal_up(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=faii-res-rte-%d", (int)getpid());
	char *argv[] = {"test_residency_rte",
	                "--no-huge",
	                "--no-pci",
	                "-m",
	                "256",
	                prefix,
	                "--no-shconf",
	                "-l",
	                "0-1",
	                "--log-level=*:error",
	                NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	cr_assert_geq(rte_eal_init(argc, argv), 0, "rte_eal_init failed");
}

static void eal_down(void)
{
	rte_eal_cleanup();
}

TestSuite(residency_rte, .init = eal_up, .fini = eal_down, .timeout = 300);

/* Policies are about 1 MiB: one at a time, control thread only. */
static struct faii_res_policy policy;

static void policy_node(uint32_t node_id, uint32_t jurisdiction)
{
	cr_assert_lt(policy.node_count, FAII_RES_NODES_MAX);
	policy.nodes[policy.node_count++] = (struct faii_res_policy_node){node_id, jurisdiction};
}

/* The kernel test's fixture policy (residency_frames.h). */
static void fixture_policy(struct faii_res_rte *res)
{
	faii_res_policy_clear(&policy);
	policy_node(NODE_CH, JUR_CH);
	policy_node(NODE_US, JUR_US);
	policy_node(NODE_ODD, JUR_OUT_OF_SET);
	policy.classes[CLASS_CH_ONLY] =
	        (struct faii_res_class){.allowed = BIT(JUR_CH), .defined = 1};
	policy.classes[CLASS_UNDEFINED] =
	        (struct faii_res_class){.allowed = BIT(JUR_CH), .defined = 0};
	for (size_t i = 0; i < fixture_node_ports_count; i++)
		faii_res_policy_add_port(&policy, fixture_node_ports[i]);
	cr_assert_eq(faii_res_rte_set_policy(res, &policy), 0);
}

static struct faii_res_rte *open_res(const char *path)
{
	struct faii_res_rte *res;
	char err[256] = "";
	int rc = faii_res_rte_open(path, &res, err, sizeof(err));
	cr_assert_eq(rc, 0, "faii_res_rte_open: %s", err);
	return res;
}

static struct faii_res_event expected_event(const struct rcase *c)
{
	struct faii_res_event ev = {.reason = (uint8_t)c->reason, .jurisdiction = c->jurisdiction};
	if (c->reason != FAII_RES_DROP_MALFORMED) {
		ev.task_id = c->task_id;
		ev.node_id = c->node_id;
		ev.residency_class = c->residency_class;
	}
	return ev;
}

static bool same_event(const struct faii_res_event *a, const struct faii_res_event *b)
{
	return a->task_id == b->task_id && a->node_id == b->node_id &&
	       a->residency_class == b->residency_class && a->reason == b->reason &&
	       a->jurisdiction == b->jurisdiction;
}

typedef uint32_t (*judge_fn)(struct faii_res_rte *, const void *, uint32_t);

static void run_table(struct faii_res_rte *res, judge_fn judge, const char *engine)
{
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	for (size_t i = 0; i < cases_count; i++) {
		const struct rcase *c = &cases[i];
		uint8_t frame[FRAME_CAP];
		size_t len = build_frame(c, frame, sizeof(frame));
		uint32_t got = judge(res, frame, (uint32_t)len);
		cr_expect_eq(got, c->reason, "%s: %s: reason %u, want %u", engine, c->name, got,
		             c->reason);
		want[c->reason]++;
		struct faii_res_event ev;
		unsigned n = faii_res_rte_events(res, &ev, 1);
		if (c->reason < FAII_RES_FIRST_DROP) {
			cr_expect_eq(n, 0, "%s: %s: an event for a pass", engine, c->name);
			continue;
		}
		cr_expect_eq(n, 1, "%s: %s: no event for a drop", engine, c->name);
		struct faii_res_event want_ev = expected_event(c);
		if (n == 1) {
			cr_expect(same_event(&ev, &want_ev),
			          "%s: %s: event task %#llx node %#x class %u reason %u jur %#x",
			          engine, c->name, (unsigned long long)ev.task_id, ev.node_id,
			          ev.residency_class, ev.reason, ev.jurisdiction);
			cr_expect_neq(ev.time_ns, 0, "%s: %s: event time 0", engine, c->name);
		}
	}
	uint64_t got[FAII_RES_COUNTER_SLOTS];
	faii_res_rte_counters(res, got);
	for (unsigned s = 0; s < FAII_RES_COUNTER_SLOTS; s++)
		cr_expect_eq(got[s], want[s], "%s: counter %u = %llu, want %llu", engine, s,
		             (unsigned long long)got[s], (unsigned long long)want[s]);
}

Test(residency_rte, rte_table)
{
	struct faii_res_rte *res = open_res(NULL);
	cr_assert(faii_res_rte_has_bpf(res) && faii_res_rte_is_jit(res), "not the JIT");
	fixture_policy(res);
	run_table(res, faii_res_rte_judge, "rte_bpf");
	faii_res_rte_close(res);
}

Test(residency_rte, c_reference_table)
{
	struct faii_res_rte *res = open_res(FAII_RES_RTE_NO_BPF);
	cr_assert(!faii_res_rte_has_bpf(res));
	fixture_policy(res);
	run_table(res, faii_res_c_judge, "c");
	faii_res_rte_close(res);
}

/* The object fails closed before a policy is installed. */
Test(residency_rte, empty_policy_refuses_tasks)
{
	struct faii_res_rte *res = open_res(NULL);
	uint8_t frame[FRAME_CAP];
	size_t len = build_frame(&cases[0], frame, sizeof(frame));
	cr_expect_eq(faii_res_rte_judge(res, frame, (uint32_t)len), FAII_RES_DROP_UNKNOWN_NODE);
	cr_expect_eq(faii_res_c_judge(res, frame, (uint32_t)len), FAII_RES_DROP_UNKNOWN_NODE);
	faii_res_rte_close(res);
}

/* A full event ring: the refusal still counts, and so does its lost event. */
Test(residency_rte, full_ring_counts_lost_events)
{
	struct faii_res_rte *res = open_res(NULL);
	fixture_policy(res);
	const struct rcase *forbidden = NULL;
	for (size_t i = 0; i < cases_count && forbidden == NULL; i++)
		if (cases[i].reason == FAII_RES_DROP_FORBIDDEN)
			forbidden = &cases[i];
	uint8_t frame[FRAME_CAP];
	uint32_t len = (uint32_t)build_frame(forbidden, frame, sizeof(frame));
	const unsigned extra = 100;
	for (unsigned i = 0; i < FAII_RES_RTE_EVENTS_MAX + extra; i++)
		faii_res_rte_judge(res, frame, len);
	uint64_t got[FAII_RES_COUNTER_SLOTS];
	faii_res_rte_counters(res, got);
	cr_expect_eq(got[FAII_RES_DROP_FORBIDDEN], FAII_RES_RTE_EVENTS_MAX + extra);
	cr_expect_eq(got[FAII_RES_COUNTER_EVENTS_LOST], extra);
	static struct faii_res_event evs[FAII_RES_RTE_EVENTS_MAX + 1];
	cr_expect_eq(faii_res_rte_events(res, evs, FAII_RES_RTE_EVENTS_MAX + 1),
	             FAII_RES_RTE_EVENTS_MAX);
	faii_res_rte_close(res);
}

/* ------------------------------------------------------------------------ */
/* Differential: kernel XDP, rte_bpf JIT, C reference.                      */

#define DIFF_PACKETS 100000u
#define DIFF_NODES   48u
#define DIFF_PORTS   64u /* node ports in the random port map */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

struct kernel {
	struct bpf_object *obj;
	int prog_fd, nodes_fd, classes_fd, ports_fd, counters_fd, events_fd;
	struct ring_buffer *rb;
	struct faii_res_event last;
	unsigned events;
	int ncpus;
};

static int on_kernel_event(void *ctx, void *data, size_t size)
{
	struct kernel *k = ctx;
	if (size == sizeof(k->last))
		memcpy(&k->last, data, sizeof(k->last));
	k->events++;
	return 0;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	cr_assert_not_null(m, "%s", name);
	return bpf_map__fd(m);
}

static void kernel_open(struct kernel *k)
{
	memset(k, 0, sizeof(*k));
	k->obj = bpf_object__open_file(FAII_BPF_OBJECT, NULL);
	cr_assert_not_null(k->obj);
	cr_assert_eq(bpf_object__load(k->obj), 0, "load %s (needs root)", FAII_BPF_OBJECT);
	k->prog_fd =
	        bpf_program__fd(bpf_object__find_program_by_name(k->obj, "faii_residency_xdp"));
	k->nodes_fd = map_fd(k->obj, "faii_res_nodes");
	k->classes_fd = map_fd(k->obj, "faii_res_classes");
	k->ports_fd = map_fd(k->obj, "faii_res_ports");
	k->counters_fd = map_fd(k->obj, "faii_res_counters");
	k->events_fd = map_fd(k->obj, "faii_res_events");
	k->rb = ring_buffer__new(k->events_fd, on_kernel_event, k, NULL);
	cr_assert_not_null(k->rb);
	k->ncpus = libbpf_num_possible_cpus();
}

static void kernel_counters(struct kernel *k, uint64_t out[FAII_RES_COUNTER_SLOTS])
{
	uint64_t values[256];
	cr_assert_leq(k->ncpus, 256);
	for (uint32_t s = 0; s < FAII_RES_COUNTER_SLOTS; s++) {
		cr_assert_eq(bpf_map_lookup_elem(k->counters_fd, &s, values), 0);
		out[s] = 0;
		for (int c = 0; c < k->ncpus; c++)
			out[s] += values[c];
	}
}

/* The kernel's reason: the counter that moved. */
static uint32_t kernel_judge(struct kernel *k, const uint8_t *frame, uint32_t len,
                             uint64_t before[FAII_RES_COUNTER_SLOTS])
{
	uint8_t padded[14] = {0};
	struct xdp_md md_in = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .repeat = 1);
	if (len < sizeof(padded)) {
		/* The kernel refuses runts: pad them, show the program only len bytes. */
		memcpy(padded, frame, len);
		md_in.data_end = len;
		opts.data_in = padded;
		opts.data_size_in = sizeof(padded);
		opts.ctx_in = &md_in;
		opts.ctx_size_in = sizeof(md_in);
	}
	cr_assert_eq(bpf_prog_test_run_opts(k->prog_fd, &opts), 0, "test run: %s", strerror(errno));
	uint64_t after[FAII_RES_COUNTER_SLOTS];
	kernel_counters(k, after);
	uint32_t reason = UINT32_MAX;
	for (uint32_t s = 0; s < FAII_RES_REASON_COUNT; s++)
		if (after[s] != before[s])
			reason = s;
	memcpy(before, after, sizeof(after));
	return reason;
}

/* What a random policy registered: the nodes and their ports. */
struct diff_policy {
	uint32_t node_ids[DIFF_NODES];
	uint16_t ports[DIFF_PORTS];
};

/* Node ports: the map's first and last bits, both ends of random words, any. */
static uint16_t random_node_port(unsigned i)
{
	if (i < 2)
		return i == 0 ? 1 : 65535;
	uint32_t word = below(FAII_RES_PORT_WORDS);
	switch (below(3)) {
	case 0: return (uint16_t)(word * FAII_RES_PORT_WORD_BITS);
	case 1: return (uint16_t)(word * FAII_RES_PORT_WORD_BITS + FAII_RES_PORT_WORD_BITS - 1);
	default: return (uint16_t)(1 + below(65535));
	}
}

/* A policy in both worlds: random nodes (some outside 0..63), random classes,
 * random node ports; the kernel's maps and both dataplane judges get it. */
static void random_policy(struct kernel *k, struct faii_res_rte *const res[2],
                          struct diff_policy *d)
{
	faii_res_policy_clear(&policy);
	for (uint32_t i = 0; i < DIFF_NODES; i++) {
		d->node_ids[i] = 0x1000u + i * 7u;
		policy_node(d->node_ids[i], below(72));
		struct faii_res_node v = {policy.nodes[i].jurisdiction};
		cr_assert_eq(bpf_map_update_elem(k->nodes_fd, &d->node_ids[i], &v, BPF_ANY), 0);
	}
	for (uint32_t c = 0; c < FAII_RES_CLASSES_MAX; c++) {
		policy.classes[c].allowed = rnd() & rnd();
		policy.classes[c].defined = below(4) != 0;
		cr_assert_eq(bpf_map_update_elem(k->classes_fd, &c, &policy.classes[c], BPF_ANY),
		             0);
	}
	for (unsigned i = 0; i < DIFF_PORTS; i++) {
		d->ports[i] = random_node_port(i);
		faii_res_policy_add_port(&policy, d->ports[i]);
	}
	for (uint32_t w = 0; w < FAII_RES_PORT_WORDS; w++)
		cr_assert_eq(bpf_map_update_elem(k->ports_fd, &w, &policy.ports[w], BPF_ANY), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(faii_res_rte_set_policy(res[i], &policy), 0);
}

static const enum ext6 ext6_kinds[] = {X_HOP_RA, X_ROUTING,    X_DEST,      X_DEST16,
                                       X_AH,     X_FRAG_FIRST, X_FRAG_LATER};

/* Half to the appliance's port, a quarter to node ports, the rest next to a
 * node port or anywhere. */
static uint16_t random_dst_port(const struct diff_policy *d)
{
	uint16_t node_port = d->ports[below(DIFF_PORTS)];
	switch (below(8)) {
	case 0:
	case 1: return node_port;
	case 2: return (uint16_t)(below(2) ? node_port + 1 : node_port - 1);
	case 3: return (uint16_t)(1 + below(65535));
	default: return 0; /* FAII_UDP_PORT_DEFAULT */
	}
}

static struct carrier random_carrier(const struct diff_policy *d)
{
	struct carrier c = {0};
	c.ipv6 = below(2);
	c.vlans = (uint8_t)(below(4) == 0 ? below(4) : 0);
	c.qinq = c.vlans > 0 && below(2);
	if (below(8) == 0)
		c.l4_proto = 6; /* TCP */
	c.dst_port = random_dst_port(d);
	if (c.ipv6) {
		unsigned n = below(3) == 0 ? below(EXT6_MAX + 1) : 0;
		for (unsigned i = 0; i < n; i++)
			c.ext6[i] = (uint8_t)ext6_kinds[below(ARRAY_SIZE(ext6_kinds))];
	} else {
		c.ipv4_ah = below(6) == 0;
		if (below(10) == 0)
			c.ipv4_frag = (uint16_t)(below(2) ? 0x2000u : below(0x2000));
	}
	return c;
}

/* Where a frame was sent, as built (before any bit flip). */
enum port_kind { TO_APPLIANCE, TO_NODE, TO_OTHER, PORT_KINDS };
static const char *const port_kind_names[PORT_KINDS] = {"appliance port", "node ports",
                                                        "other ports"};

static size_t random_frame(uint8_t *f, size_t cap, const struct diff_policy *d,
                           enum port_kind *kind)
{
	struct rcase c = {.name = "random", .kind = below(10) == 0 ? K_RESULT : K_TASK};
	c.task_id = rnd();
	uint32_t pick = below(10);
	c.node_id = pick < 7 ? d->node_ids[below(DIFF_NODES)] : pick == 7 ? 0 : (uint32_t)rnd();
	c.residency_class = (uint16_t)(below(8) == 0 ? rnd() : below(FAII_RES_CLASSES_MAX + 4));
	c.consistency = (uint8_t)below(3);
	c.replica_index =
	        (uint8_t)(c.consistency ? below(faii_consistency_replicas(c.consistency)) : 0);
	c.mutation = (enum mutation)(below(4) == 0 ? below(M_DISPATCHED_NODE_0 + 1) : M_NONE);
	if (c.mutation == M_DISPATCHED_NODE_0)
		c.node_id = 0;
	if (c.node_id == 0)
		c.replica_index = 0; /* the encoder flags replicas of dispatched tasks only */
	c.carrier = random_carrier(d);
	uint16_t port = c.carrier.dst_port ? c.carrier.dst_port : FAII_UDP_PORT_DEFAULT;
	*kind = port == FAII_UDP_PORT_DEFAULT            ? TO_APPLIANCE
	        : faii_res_ports_has(policy.ports, port) ? TO_NODE
	                                                 : TO_OTHER;
	size_t len = build_frame(&c, f, cap);
	switch (below(6)) {
	case 0: len = below((uint32_t)len + 1); break; /* truncated anywhere */
	case 1:                                        /* bit flips in the headers */
		for (unsigned n = 1 + below(3); n > 0; n--) {
			uint32_t bit = below((uint32_t)RTE_MIN(len, 160u) * 8);
			f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		break;
	default: break;
	}
	return len;
}

/* One frame through the three judges: true when reasons and events agree. */
static bool judge_three(struct kernel *k, struct faii_res_rte *const res[2], const uint8_t *frame,
                        uint32_t len, uint64_t kcount[FAII_RES_COUNTER_SLOTS], uint32_t *reason,
                        bool log_mismatch)
{
	k->events = 0;
	uint32_t kr = kernel_judge(k, frame, len, kcount);
	cr_assert_geq(ring_buffer__consume(k->rb), 0);
	uint32_t rr = faii_res_rte_judge(res[0], frame, len);
	uint32_t cr = faii_res_c_judge(res[1], frame, len);
	struct faii_res_event rev[2];
	unsigned rn = faii_res_rte_events(res[0], &rev[0], 1);
	unsigned cn = faii_res_rte_events(res[1], &rev[1], 1);
	*reason = kr;
	bool same = kr == rr && kr == cr && k->events == rn && rn == cn &&
	            (rn == 0 || (same_event(&k->last, &rev[0]) && same_event(&k->last, &rev[1])));
	if (!same && log_mismatch)
		cr_log_error("%u bytes: kernel %u, rte_bpf %u, c %u; events %u %u %u", len, kr, rr,
		             cr, k->events, rn, cn);
	return same;
}

static void report_by_kind(const uint64_t by_kind[PORT_KINDS][FAII_RES_REASON_COUNT])
{
	fprintf(stderr,
	        "differential: %u packets, identical verdicts and events in kernel XDP, "
	        "rte_bpf JIT and C reference; by reason (",
	        DIFF_PACKETS);
	for (unsigned r = 0; r < FAII_RES_REASON_COUNT; r++)
		fprintf(stderr, "%s%s", r ? " " : "", faii_residency_counter_name(r));
	fprintf(stderr, "):\n");
	for (unsigned p = 0; p < PORT_KINDS; p++) {
		fprintf(stderr, "  %-15s", port_kind_names[p]);
		for (unsigned r = 0; r < FAII_RES_REASON_COUNT; r++)
			fprintf(stderr, " %llu", (unsigned long long)by_kind[p][r]);
		fprintf(stderr, "\n");
	}
}

Test(residency_rte, differential_kernel_rte_c)
{
	struct kernel k;
	kernel_open(&k);
	struct faii_res_rte *res[2] = {open_res(NULL), open_res(FAII_RES_RTE_NO_BPF)};
	cr_assert(faii_res_rte_is_jit(res[0]));
	static struct diff_policy d;
	random_policy(&k, res, &d);

	uint64_t kcount[FAII_RES_COUNTER_SLOTS];
	kernel_counters(&k, kcount);
	uint64_t by_kind[PORT_KINDS][FAII_RES_REASON_COUNT] = {{0}};
	unsigned mismatches = 0;
	for (uint32_t i = 0; i < DIFF_PACKETS; i++) {
		uint8_t frame[FRAME_CAP];
		enum port_kind kind;
		uint32_t len = (uint32_t)random_frame(frame, sizeof(frame), &d, &kind);
		uint32_t reason;
		if (!judge_three(&k, res, frame, len, kcount, &reason, mismatches < 10)) {
			if (mismatches++ < 10)
				cr_log_error("packet %u differs", i);
		}
		if (reason < FAII_RES_REASON_COUNT)
			by_kind[kind][reason]++;
	}
	cr_expect_eq(mismatches, 0, "%u of %u packets judged differently", mismatches,
	             DIFF_PACKETS);
	report_by_kind(by_kind);
	/* Every reason must have been exercised, or the generator is too narrow;
	 * on node ports too: the program judges copies there. */
	for (unsigned r = 0; r < FAII_RES_REASON_COUNT; r++) {
		cr_expect_gt(by_kind[TO_APPLIANCE][r] + by_kind[TO_NODE][r] + by_kind[TO_OTHER][r],
		             0, "reason %u never produced", r);
		cr_expect_gt(by_kind[TO_NODE][r], 0, "reason %u never produced on a node port", r);
	}

	faii_res_rte_close(res[0]);
	faii_res_rte_close(res[1]);
	ring_buffer__free(k.rb);
	bpf_object__close(k.obj);
}

/* ------------------------------------------------------------------------ */
/* Policy swaps under load.                                                 */

/*
 * Policy A: node N in CH, class C allows CH; policy B: N in US, C allows US.
 * A task to N of class C passes under either whole policy and is refused
 * (forbidden) under any mix of them. Node M is US in both, so its task
 * flips between refused (A) and allowed (B): proof the swaps are seen.
 * Node K re-registers between them: in CH on port PA under A, in US on port
 * PB under B, class D allows CH in both. Its task to PA is allowed (A) or not
 * faii (B), to PB not faii (A) or refused (B); the port of one policy with the
 * node of the other would refuse the first or allow the second.
 */
#define SWAP_NODE_N  0x000777u
#define SWAP_NODE_M  0x000888u
#define SWAP_NODE_K  0x000999u
#define SWAP_CLASS_C 12u
#define SWAP_CLASS_D 13u
#define SWAP_PORT_A  9100u
#define SWAP_PORT_B  9200u
#define SWAP_FLIPS   5000u

struct swap_frame {
	uint8_t bytes[FRAME_CAP];
	uint32_t len;
};

struct swap_run {
	struct faii_res_rte *res;
	judge_fn judge;
	struct swap_frame n, m, ka, kb;
	atomic_bool stop;
	uint64_t judged, mixed, m_pass, m_drop, k_ports_mixed;
};

static uint32_t swap_judge(struct swap_run *s, const struct swap_frame *f)
{
	return s->judge(s->res, f->bytes, f->len);
}

static int swap_reader(void *arg)
{
	struct swap_run *s = arg;
	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		uint32_t n = swap_judge(s, &s->n);
		uint32_t m = swap_judge(s, &s->m);
		uint32_t ka = swap_judge(s, &s->ka);
		uint32_t kb = swap_judge(s, &s->kb);
		s->mixed += n != FAII_RES_PASS_ALLOWED;
		s->k_ports_mixed += (ka != FAII_RES_PASS_ALLOWED && ka != FAII_RES_PASS_NOT_FAII) ||
		                    (kb != FAII_RES_PASS_NOT_FAII && kb != FAII_RES_DROP_FORBIDDEN);
		s->m_pass += m == FAII_RES_PASS_ALLOWED;
		s->m_drop += m == FAII_RES_DROP_FORBIDDEN;
		s->judged += 4;
	}
	faii_res_rte_reader_offline(s->res);
	return 0;
}

static void swap_policy(struct faii_res_rte *res, bool b)
{
	faii_res_policy_clear(&policy);
	policy_node(SWAP_NODE_N, b ? JUR_US : JUR_CH);
	policy_node(SWAP_NODE_M, JUR_US);
	policy_node(SWAP_NODE_K, b ? JUR_US : JUR_CH);
	faii_res_policy_add_port(&policy, b ? SWAP_PORT_B : SWAP_PORT_A);
	policy.classes[SWAP_CLASS_C] = (struct faii_res_class){BIT(b ? JUR_US : JUR_CH), 1, 0};
	policy.classes[SWAP_CLASS_D] = (struct faii_res_class){BIT(JUR_CH), 1, 0};
	cr_assert_eq(faii_res_rte_set_policy(res, &policy), 0);
}

static void swap_frame(struct swap_frame *f, uint32_t node, uint16_t class_id, uint16_t port)
{
	struct rcase c = {"swap", K_TASK, node, node, class_id, .carrier = {.dst_port = port}};
	f->len = (uint32_t)build_frame(&c, f->bytes, sizeof(f->bytes));
}

static void policy_swaps(const char *path, judge_fn judge)
{
	cr_assert_geq(rte_lcore_count(), 2, "needs two lcores");
	static struct swap_run s;
	memset(&s, 0, sizeof(s));
	s.res = open_res(path);
	s.judge = judge;
	swap_frame(&s.n, SWAP_NODE_N, SWAP_CLASS_C, 0);
	swap_frame(&s.m, SWAP_NODE_M, SWAP_CLASS_C, 0);
	swap_frame(&s.ka, SWAP_NODE_K, SWAP_CLASS_D, SWAP_PORT_A);
	swap_frame(&s.kb, SWAP_NODE_K, SWAP_CLASS_D, SWAP_PORT_B);
	swap_policy(s.res, false);

	unsigned worker = rte_get_next_lcore(-1, 1, 0);
	cr_assert_eq(rte_eal_remote_launch(swap_reader, &s, worker), 0);
	for (unsigned i = 0; i < SWAP_FLIPS; i++)
		swap_policy(s.res, i % 2 == 0);
	/* Single-entry updates too: each must be whole, never torn. */
	for (unsigned i = 0; i < SWAP_FLIPS; i++)
		cr_assert_eq(faii_res_rte_set_node(s.res, SWAP_NODE_M, i % 2 ? JUR_US : JUR_CH), 0);
	atomic_store_explicit(&s.stop, true, memory_order_release);
	rte_eal_wait_lcore(worker);

	fprintf(stderr,
	        "policy swaps (%s): %u whole-policy and %u node flips, %llu verdicts, "
	        "%llu mixed, %llu with ports of one and nodes of the other; M allowed %llu, "
	        "refused %llu\n",
	        path == NULL ? "rte_bpf" : "c", SWAP_FLIPS, SWAP_FLIPS,
	        (unsigned long long)s.judged, (unsigned long long)s.mixed,
	        (unsigned long long)s.k_ports_mixed, (unsigned long long)s.m_pass,
	        (unsigned long long)s.m_drop);
	cr_expect_eq(s.mixed, 0, "%llu verdicts from a mix of two policies",
	             (unsigned long long)s.mixed);
	cr_expect_eq(s.k_ports_mixed, 0, "%llu verdicts with the ports of another policy",
	             (unsigned long long)s.k_ports_mixed);
	cr_expect_gt(s.m_pass, 0, "the reader never saw policy B");
	cr_expect_gt(s.m_drop, 0, "the reader never saw policy A");
	faii_res_rte_close(s.res);
}

Test(residency_rte, policy_swap_rte_bpf)
{
	policy_swaps(NULL, faii_res_rte_judge);
}

Test(residency_rte, policy_swap_c_reference)
{
	policy_swaps(FAII_RES_RTE_NO_BPF, faii_res_c_judge);
}
