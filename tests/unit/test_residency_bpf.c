/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the data-residency BPF program (ebpf/residency.bpf.c).
 *
 * Each test loads the compiled object afresh (so the per-CPU counters and the
 * ring buffer start empty), installs a small policy through the maps, and runs
 * hand-built Ethernet frames through both attach points, faii_residency_xdp
 * and faii_residency_tc, with BPF_PROG_TEST_RUN. The faii messages inside the
 * frames come from the project's own encoders (common/wire.c); the test only
 * wraps them in Ethernet, up to three VLAN tags, IPv4 (optionally with AH) or
 * IPv6 (with optional extension headers), and UDP.
 *
 * Needs CAP_BPF and CAP_NET_ADMIN (root) and the object's path in
 * FAII_BPF_OBJECT, which the build defines.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "faii/frame.h"
#include "faii/protocol.h"
#include "faii/residency.h"
#include "faii/wire.h"
#include "residency_frames.h"

#ifndef FAII_BPF_OBJECT
#error "FAII_BPF_OBJECT must name the compiled residency.bpf.o"
#endif

/* The policy installed by the fixture (constants in residency_frames.h). */
static const struct {
	uint32_t node_id;
	uint32_t jurisdiction;
} policy_nodes[] = {
        {NODE_CH, JUR_CH},
        {NODE_US, JUR_US},
        {NODE_ODD, JUR_OUT_OF_SET},
};

/* ------------------------------------------------------------------------ */
/* The loaded object, fresh for every test.                                 */

static struct bpf_object *obj;
static int prog_fd[2];
static int nodes_fd, classes_fd, ports_fd, counters_fd, events_fd;

enum attach { AT_XDP, AT_TC };
static const char *const attach_names[] = {"xdp", "tc"};

/* The counter slots: one per reason, then the lost events. */
static const char *const reason_names[FAII_RES_COUNTER_SLOTS] = {
#define REASON_NAME(sym, name) name,
        FAII_RESIDENCY_REASONS(REASON_NAME)
#undef REASON_NAME
                [FAII_RES_COUNTER_EVENTS_LOST] = "events_lost",
};

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static int map_fd(const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
	cr_assert_not_null(map, "map %s not in %s", name, FAII_BPF_OBJECT);
	return bpf_map__fd(map);
}

static int program_fd(const char *name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, name);
	cr_assert_not_null(prog, "program %s not in %s", name, FAII_BPF_OBJECT);
	return bpf_program__fd(prog);
}

static void set_node(uint32_t node_id, uint32_t jurisdiction)
{
	struct faii_res_node value = {.jurisdiction = jurisdiction};
	cr_assert_eq(bpf_map_update_elem(nodes_fd, &node_id, &value, BPF_ANY), 0,
	             "faii_res_nodes[%#x]: %s", node_id, strerror(errno));
}

static void set_class(uint32_t class_id, uint64_t allowed, uint32_t defined)
{
	struct faii_res_class value = {.allowed = allowed, .defined = defined};
	cr_assert_eq(bpf_map_update_elem(classes_fd, &class_id, &value, BPF_ANY), 0,
	             "faii_res_classes[%u]: %s", class_id, strerror(errno));
}

/* Sets or clears a port in faii_res_ports (a read-modify-write of its word). */
static void set_port(uint16_t port, bool member)
{
	uint32_t word = FAII_RES_PORT_WORD(port);
	uint64_t bits = 0;
	cr_assert_eq(bpf_map_lookup_elem(ports_fd, &word, &bits), 0, "faii_res_ports[%u]: %s", word,
	             strerror(errno));
	uint64_t bit = UINT64_C(1) << FAII_RES_PORT_BIT(port);
	bits = member ? bits | bit : bits & ~bit;
	cr_assert_eq(bpf_map_update_elem(ports_fd, &word, &bits, BPF_ANY), 0,
	             "faii_res_ports[%u]: %s", word, strerror(errno));
}

static void load_object(void)
{
	libbpf_set_print(print_warnings);
	obj = bpf_object__open_file(FAII_BPF_OBJECT, NULL);
	cr_assert_not_null(obj, "open %s: %s", FAII_BPF_OBJECT, strerror(errno));
	int err = bpf_object__load(obj);
	cr_assert_eq(err, 0, "load %s: %s (needs root)", FAII_BPF_OBJECT, strerror(-err));

	prog_fd[AT_XDP] = program_fd("faii_residency_xdp");
	prog_fd[AT_TC] = program_fd("faii_residency_tc");
	nodes_fd = map_fd("faii_res_nodes");
	classes_fd = map_fd("faii_res_classes");
	ports_fd = map_fd("faii_res_ports");
	counters_fd = map_fd("faii_res_counters");
	events_fd = map_fd("faii_res_events");

	for (size_t i = 0; i < ARRAY_SIZE(policy_nodes); i++)
		set_node(policy_nodes[i].node_id, policy_nodes[i].jurisdiction);
	set_class(CLASS_CH_ONLY, BIT(JUR_CH), 1);
	/* Allows CH but does not exist: the bitmap must not be consulted. */
	set_class(CLASS_UNDEFINED, BIT(JUR_CH), 0);
	for (size_t i = 0; i < fixture_node_ports_count; i++)
		set_port(fixture_node_ports[i], true);
}

static void unload_object(void)
{
	bpf_object__close(obj);
	obj = NULL;
}

TestSuite(residency_bpf, .init = load_object, .fini = unload_object);

static bool is_drop(enum faii_residency_reason reason)
{
	return reason >= FAII_RES_FIRST_DROP;
}

static uint32_t expected_retval(enum attach at, enum faii_residency_reason reason)
{
	if (at == AT_XDP)
		return is_drop(reason) ? XDP_DROP : XDP_PASS;
	return is_drop(reason) ? TC_ACT_SHOT : TC_ACT_OK;
}

/*
 * One BPF_PROG_TEST_RUN; returns 0 or -errno.
 *
 * The kernel (6.18) refuses test data shorter than an Ethernet header, for
 * XDP and skb programs alike. XDP can still be shown a runt: the frame is
 * padded to 14 bytes and xdp_md.data_end put at its real length, so that only
 * those bytes are linear (the padding goes to a fragment, which a program
 * without xdp.frags cannot reach). ctx_out confirms what the program saw.
 */
static int run_repeat(enum attach at, const uint8_t *frame, size_t len, uint32_t repeat,
                      uint32_t *retval)
{
	uint8_t padded[ETH_HDR_LEN] = {0};
	struct xdp_md md_in = {0}, md_out = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
	            .repeat = repeat);
	bool runt = at == AT_XDP && len < ETH_HDR_LEN;
	if (runt) {
		memcpy(padded, frame, len);
		md_in.data_end = (uint32_t)len;
		opts.data_in = padded;
		opts.data_size_in = sizeof(padded);
		opts.ctx_in = &md_in;
		opts.ctx_size_in = sizeof(md_in);
		opts.ctx_out = &md_out;
		opts.ctx_size_out = sizeof(md_out);
	}
	int err = bpf_prog_test_run_opts(prog_fd[at], &opts);
	*retval = opts.retval;
	if (err < 0)
		return err;
	if (runt)
		cr_expect_eq(md_out.data_end - md_out.data, len,
		             "xdp: runt: the program saw %u bytes, not %zu",
		             md_out.data_end - md_out.data, len);
	return 0;
}

static int run(enum attach at, const uint8_t *frame, size_t len, uint32_t *retval)
{
	return run_repeat(at, frame, len, 1, retval);
}

/* Runs a frame through one program and checks the verdict. */
static void expect_verdict(enum attach at, const char *name, const uint8_t *frame, size_t len,
                           enum faii_residency_reason reason)
{
	uint32_t retval = 0;
	int err = run(at, frame, len, &retval);
	cr_expect_eq(err, 0, "%s: %s: test run: %s", attach_names[at], name, strerror(-err));
	cr_expect_eq(retval, expected_retval(at, reason), "%s: %s: returned %u, want %u (%s)",
	             attach_names[at], name, retval, expected_retval(at, reason),
	             reason_names[reason]);
}

/* ------------------------------------------------------------------------ */
/* Counters and events.                                                     */

/* A counter slot (a reason or FAII_RES_COUNTER_EVENTS_LOST), summed over CPUs. */
static uint64_t counter(unsigned slot)
{
	int ncpus = libbpf_num_possible_cpus();
	cr_assert_gt(ncpus, 0, "libbpf_num_possible_cpus: %d", ncpus);
	uint64_t *values = calloc((size_t)ncpus, sizeof(*values));
	cr_assert_not_null(values);
	uint32_t key = slot;
	int err = bpf_map_lookup_elem(counters_fd, &key, values);
	int saved = errno;
	uint64_t sum = 0;
	for (int i = 0; i < ncpus; i++)
		sum += values[i];
	free(values);
	cr_assert_eq(err, 0, "faii_res_counters[%s]: %s", reason_names[slot], strerror(saved));
	return sum;
}

/* Every slot, the lost events included (0 unless want says otherwise). */
static void expect_counters(const char *what, const uint64_t want[FAII_RES_COUNTER_SLOTS])
{
	for (unsigned r = 0; r < FAII_RES_COUNTER_SLOTS; r++) {
		uint64_t got = counter(r);
		cr_expect_eq(got, want[r], "%s: counter %s = %llu, want %llu", what,
		             reason_names[r], (unsigned long long)got, (unsigned long long)want[r]);
	}
}

#define EVENTS_MAX (2 * RESIDENCY_CASES_MAX)

struct event_sink {
	struct faii_res_event events[EVENTS_MAX];
	size_t count;
	size_t bad_size;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct event_sink *sink = ctx;
	if (size != sizeof(struct faii_res_event)) {
		sink->bad_size++;
		return 0;
	}
	if (sink->count < EVENTS_MAX)
		memcpy(&sink->events[sink->count], data, sizeof(struct faii_res_event));
	sink->count++;
	return 0;
}

/* Drains the ring buffer into sink. */
static void consume_events(struct event_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	struct ring_buffer *rb = ring_buffer__new(events_fd, on_event, sink, NULL);
	cr_assert_not_null(rb, "ring_buffer__new: %s", strerror(errno));
	int n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_geq(n, 0, "ring_buffer__consume: %s", strerror(-n));
	cr_expect_eq(sink->bad_size, 0, "%zu events of the wrong size", sink->bad_size);
	cr_expect_eq((size_t)n, sink->count);
}

/* The event a refused case must leave in the ring buffer. */
static struct faii_res_event expected_event(const struct rcase *c)
{
	struct faii_res_event ev = {
	        .reason = (uint8_t)c->reason,
	        .jurisdiction = c->jurisdiction,
	};
	if (c->reason != FAII_RES_DROP_MALFORMED) {
		ev.task_id = c->task_id;
		ev.node_id = c->node_id;
		ev.residency_class = c->residency_class;
	}
	return ev;
}

static void expect_event(const char *what, const struct faii_res_event *got,
                         const struct faii_res_event *want)
{
	cr_expect_neq(got->time_ns, 0, "%s: event time_ns is 0", what);
	cr_expect_eq(got->task_id, want->task_id, "%s: event task_id %#llx, want %#llx", what,
	             (unsigned long long)got->task_id, (unsigned long long)want->task_id);
	cr_expect_eq(got->node_id, want->node_id, "%s: event node_id %#x, want %#x", what,
	             got->node_id, want->node_id);
	cr_expect_eq(got->residency_class, want->residency_class,
	             "%s: event residency_class %u, want %u", what, got->residency_class,
	             want->residency_class);
	cr_expect_eq(got->reason, want->reason, "%s: event reason %u, want %u (%s)", what,
	             got->reason, want->reason, reason_names[want->reason]);
	cr_expect_eq(got->jurisdiction, want->jurisdiction, "%s: event jurisdiction %#x, want %#x",
	             what, got->jurisdiction, want->jurisdiction);
}

/* ------------------------------------------------------------------------ */
/* The table through one attach point.                                      */

static void run_table(enum attach at, const struct rcase *table, size_t n)
{
	const char *prog = attach_names[at];
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	const struct rcase *dropped[RESIDENCY_CASES_MAX];
	size_t ndropped = 0;
	cr_assert_leq(n, cases_count);

	for (size_t i = 0; i < n; i++) {
		const struct rcase *c = &table[i];
		uint8_t frame[FRAME_MAX];
		size_t len = build_frame(c, frame, sizeof(frame));
		if (at == AT_TC && len < ETH_HDR_LEN) {
			/* An skb always holds an Ethernet header: the kernel refuses it. */
			uint32_t retval;
			int err = run(at, frame, len, &retval);
			cr_expect_eq(err, -EINVAL, "tc: %s: test run: %s", c->name, strerror(-err));
			continue;
		}
		expect_verdict(at, c->name, frame, len, c->reason);
		want[c->reason]++;
		if (is_drop(c->reason))
			dropped[ndropped++] = c;
	}

	expect_counters(prog, want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, ndropped, "%s: %zu events for %zu dropped packets", prog,
	             sink.count, ndropped);
	for (size_t i = 0; i < ndropped && i < sink.count; i++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: %s", prog, dropped[i]->name);
		struct faii_res_event want_ev = expected_event(dropped[i]);
		expect_event(what, &sink.events[i], &want_ev);
	}
}

Test(residency_bpf, xdp_verdicts_counters_events)
{
	run_table(AT_XDP, cases, cases_count);
}

Test(residency_bpf, tc_verdicts_counters_events)
{
	run_table(AT_TC, cases, cases_count);
}

/*
 * Six extension headers is the most the walk looks through; when the sixth is
 * followed by something other than UDP (or another extension header), the
 * packet is not faii, like the same packet behind fewer headers.
 */
#define SIX_EXT6                                                                                   \
	{                                                                                          \
		X_HOP_RA, X_DEST, X_DEST, X_DEST, X_DEST, X_DEST                                   \
	}
static const struct rcase six_ext6_then_not_udp[] = {
        {"ipv6 tcp to 7410 behind 6 extension headers", K_TASK, 0x9001, NODE_US, CLASS_CH_ONLY,
         .carrier = {.ipv6 = true, .ext6 = SIX_EXT6, .l4_proto = PROTO_TCP},
         .reason = FAII_RES_PASS_NOT_FAII},
        {"mldv2 report behind 6 extension headers", K_MLD,
         .carrier = {.ipv6 = true, .ext6 = SIX_EXT6, .l4_proto = PROTO_ICMPV6},
         .reason = FAII_RES_PASS_NOT_FAII},
};
#undef SIX_EXT6

Test(residency_bpf, xdp_six_ext6_then_not_udp)
{
	run_table(AT_XDP, six_ext6_then_not_udp, ARRAY_SIZE(six_ext6_then_not_udp));
}

Test(residency_bpf, tc_six_ext6_then_not_udp)
{
	run_table(AT_TC, six_ext6_then_not_udp, ARRAY_SIZE(six_ext6_then_not_udp));
}

/*
 * Both programs share the maps: their counts add up, their events interleave
 * (each frame goes through XDP, then TC, so event 2k is XDP's, 2k+1 TC's).
 */
Test(residency_bpf, both_programs_share_counters_and_events)
{
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	size_t ndropped = 0;
	const struct rcase *dropped[2 * RESIDENCY_CASES_MAX];

	for (size_t i = 0; i < cases_count; i++) {
		const struct rcase *c = &cases[i];
		if (c->kind == K_RUNT)
			continue;
		uint8_t frame[FRAME_MAX];
		size_t len = build_frame(c, frame, sizeof(frame));
		for (int at = AT_XDP; at <= AT_TC; at++) {
			expect_verdict((enum attach)at, c->name, frame, len, c->reason);
			want[c->reason]++;
			if (is_drop(c->reason))
				dropped[ndropped++] = c;
		}
	}
	expect_counters("xdp+tc", want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, ndropped, "%zu events for %zu dropped packets", sink.count,
	             ndropped);
	for (size_t i = 0; i < ndropped && i < sink.count; i++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: %s", attach_names[i % 2], dropped[i]->name);
		struct faii_res_event want_ev = expected_event(dropped[i]);
		expect_event(what, &sink.events[i], &want_ev);
	}
}

/* ------------------------------------------------------------------------ */
/* Policy changes take effect on the next packet.                           */

static const struct rcase to_us = {
        "task to US node", K_TASK,        0x8001,
        NODE_US,           CLASS_CH_ONLY, .reason = FAII_RES_DROP_FORBIDDEN};
static const struct rcase to_ch = {
        "task to CH node", K_TASK, 0x8002, NODE_CH, CLASS_CH_ONLY, .reason = FAII_RES_PASS_ALLOWED};

Test(residency_bpf, class_bitmap_update_flips_verdict)
{
	uint8_t us[FRAME_MAX], ch[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));
	size_t ch_len = build_frame(&to_ch, ch, sizeof(ch));
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};

	for (int at = AT_XDP; at <= AT_TC; at++) {
		enum attach a = (enum attach)at;
		set_class(CLASS_CH_ONLY, BIT(JUR_CH), 1);
		expect_verdict(a, "CH-only: US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		expect_verdict(a, "CH-only: CH", ch, ch_len, FAII_RES_PASS_ALLOWED);

		set_class(CLASS_CH_ONLY, BIT(JUR_CH) | BIT(JUR_US), 1);
		expect_verdict(a, "CH+US: US", us, us_len, FAII_RES_PASS_ALLOWED);
		expect_verdict(a, "CH+US: CH", ch, ch_len, FAII_RES_PASS_ALLOWED);

		set_class(CLASS_CH_ONLY, BIT(JUR_US), 1);
		expect_verdict(a, "US-only: US", us, us_len, FAII_RES_PASS_ALLOWED);
		expect_verdict(a, "US-only: CH", ch, ch_len, FAII_RES_DROP_FORBIDDEN);

		set_class(CLASS_CH_ONLY, 0, 1);
		expect_verdict(a, "empty: US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		expect_verdict(a, "empty: CH", ch, ch_len, FAII_RES_DROP_FORBIDDEN);

		/* Withdrawn: the bitmap still allows both, the class no longer exists. */
		set_class(CLASS_CH_ONLY, BIT(JUR_CH) | BIT(JUR_US), 0);
		expect_verdict(a, "undefined: US", us, us_len, FAII_RES_DROP_UNKNOWN_CLASS);
		expect_verdict(a, "undefined: CH", ch, ch_len, FAII_RES_DROP_UNKNOWN_CLASS);

		want[FAII_RES_PASS_ALLOWED] += 4;
		want[FAII_RES_DROP_FORBIDDEN] += 4;
		want[FAII_RES_DROP_UNKNOWN_CLASS] += 2;
	}
	expect_counters("bitmap flips", want);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, 12, "%zu events, want 12", sink.count);
}

Test(residency_bpf, node_update_flips_verdict)
{
	uint8_t us[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));
	uint32_t node = NODE_US;

	for (int at = AT_XDP; at <= AT_TC; at++) {
		enum attach a = (enum attach)at;
		set_node(NODE_US, JUR_US);
		expect_verdict(a, "node in US", us, us_len, FAII_RES_DROP_FORBIDDEN);
		set_node(NODE_US, JUR_CH);
		expect_verdict(a, "node moved to CH", us, us_len, FAII_RES_PASS_ALLOWED);
		cr_assert_eq(bpf_map_delete_elem(nodes_fd, &node), 0, "delete: %s",
		             strerror(errno));
		expect_verdict(a, "node removed", us, us_len, FAII_RES_DROP_UNKNOWN_NODE);
	}

	struct event_sink sink;
	consume_events(&sink);
	cr_assert_eq(sink.count, 4, "%zu events, want 4", sink.count);
	static const uint8_t want_reason[] = {FAII_RES_DROP_FORBIDDEN, FAII_RES_DROP_UNKNOWN_NODE};
	static const uint8_t want_jur[] = {JUR_US, JUR_UNKNOWN};
	for (size_t i = 0; i < sink.count; i++) {
		cr_expect_eq(sink.events[i].reason, want_reason[i % 2], "event %zu reason %u", i,
		             sink.events[i].reason);
		cr_expect_eq(sink.events[i].jurisdiction, want_jur[i % 2],
		             "event %zu jurisdiction %#x", i, sink.events[i].jurisdiction);
		cr_expect_eq(sink.events[i].node_id, NODE_US);
	}
}

/*
 * A node that registers on a new port: its copies there are not faii until
 * the port is in the map, then judged; a port taken out of the map makes its
 * datagrams "not faii" again, whatever they carry.
 */
Test(residency_bpf, port_map_update_flips_verdict)
{
	const uint16_t port = 9001;
	struct rcase c = to_us;
	c.carrier.dst_port = port;
	uint8_t us[FRAME_MAX];
	size_t us_len = build_frame(&c, us, sizeof(us));
	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};

	for (int at = AT_XDP; at <= AT_TC; at++) {
		enum attach a = (enum attach)at;
		set_port(port, false);
		expect_verdict(a, "port not in the map", us, us_len, FAII_RES_PASS_NOT_FAII);
		set_port(port, true);
		expect_verdict(a, "port in the map", us, us_len, FAII_RES_DROP_FORBIDDEN);
		set_port(port, false);
		expect_verdict(a, "port out of the map again", us, us_len, FAII_RES_PASS_NOT_FAII);
		want[FAII_RES_PASS_NOT_FAII] += 2;
		want[FAII_RES_DROP_FORBIDDEN] += 1;
	}
	expect_counters("port map flips", want);
	struct event_sink sink;
	consume_events(&sink);
	cr_expect_eq(sink.count, 2, "%zu events, want 2", sink.count);
}

/* ------------------------------------------------------------------------ */
/* A full ring buffer: the refusal still counts, and so does its lost event. */

/*
 * A faii_res_event record in the ring: header + event, 8-aligned (32 bytes).
 * The kernel reserves only while the producer stays less than the ring's size
 * ahead of the consumer, so an unread ring holds (size - 1) / record of them.
 */
#define EVENT_RECORD_BYTES ((BPF_RINGBUF_HDR_SZ + sizeof(struct faii_res_event) + 7) / 8 * 8)
#define RING_RECORDS       ((FAII_RES_EVENTS_BYTES - 1) / EVENT_RECORD_BYTES)
#define FILL_REPEAT        (RING_RECORDS + RING_RECORDS / 4)

static void full_ring_counts_lost_events(enum attach at)
{
	const char *prog = attach_names[at];
	uint8_t us[FRAME_MAX];
	size_t us_len = build_frame(&to_us, us, sizeof(us));

	/* Nobody consumes: the ring fills, then every refusal loses its event. */
	uint32_t retval = 0;
	int err = run_repeat(at, us, us_len, FILL_REPEAT, &retval);
	cr_assert_eq(err, 0, "%s: test run x%zu: %s", prog, (size_t)FILL_REPEAT, strerror(-err));
	cr_expect_eq(retval, expected_retval(at, FAII_RES_DROP_FORBIDDEN),
	             "%s: returned %u on a full ring", prog, retval);

	uint64_t forbidden = counter(FAII_RES_DROP_FORBIDDEN);
	uint64_t lost = counter(FAII_RES_COUNTER_EVENTS_LOST);
	cr_expect_eq(forbidden, FILL_REPEAT, "%s: drop_forbidden = %llu, want %zu", prog,
	             (unsigned long long)forbidden, (size_t)FILL_REPEAT);
	cr_expect_gt(lost, 0, "%s: the ring is full, yet no event was counted lost", prog);

	struct event_sink sink;
	consume_events(&sink);
	cr_expect_gt(sink.count, 0, "%s: no event consumed", prog);
	cr_expect_eq(forbidden, sink.count + lost,
	             "%s: drop_forbidden %llu != %zu events consumed + %llu lost", prog,
	             (unsigned long long)forbidden, sink.count, (unsigned long long)lost);
	/* The ring takes whole records until the next one would not fit. */
	cr_expect_eq(sink.count, RING_RECORDS, "%s: %zu events in the ring, want %zu", prog,
	             sink.count, (size_t)RING_RECORDS);
	struct faii_res_event want_ev = expected_event(&to_us);
	want_ev.jurisdiction = JUR_US;
	for (size_t i = 0; i < sink.count && i < EVENTS_MAX; i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s: event %zu of a full ring", prog, i);
		expect_event(what, &sink.events[i], &want_ev);
	}

	/* Drained: the next refusal's event gets through, nothing more is lost. */
	expect_verdict(at, "after draining", us, us_len, FAII_RES_DROP_FORBIDDEN);
	cr_expect_eq(counter(FAII_RES_COUNTER_EVENTS_LOST), lost,
	             "%s: an event was lost on a drained ring", prog);
	consume_events(&sink);
	cr_expect_eq(sink.count, 1, "%s: %zu events after draining, want 1", prog, sink.count);
	if (sink.count > 0)
		expect_event(prog, &sink.events[0], &want_ev);

	uint64_t want[FAII_RES_COUNTER_SLOTS] = {0};
	want[FAII_RES_DROP_FORBIDDEN] = FILL_REPEAT + 1;
	want[FAII_RES_COUNTER_EVENTS_LOST] = lost;
	expect_counters(prog, want);
}

Test(residency_bpf, xdp_full_ring_counts_lost_events)
{
	full_ring_counts_lost_events(AT_XDP);
}

Test(residency_bpf, tc_full_ring_counts_lost_events)
{
	full_ring_counts_lost_events(AT_TC);
}
