/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the in-dataplane residency judge (dataplane/residency_bpf.c):
 * nanoseconds per packet of the residency BPF object JIT-compiled by rte_bpf
 * (faii_res_rte_judge), with the C reference (faii_res_c_judge) as baseline,
 * on the same frames and the same policy; ratio = value / baseline_value.
 * Both include what the dataplane pays per packet: the snapshot load, the
 * counter, the quiescent-state report and, for refusals, the event.
 *
 * Cases: an allowed IPv4 task, an allowed IPv6 task behind a VLAN tag, a
 * forbidden IPv4 task (its event goes to the ring, drained between
 * repetitions; once full, the lost-event path is measured too, as under a
 * flood), all to the appliance's port, and an allowed IPv4 task to its node's
 * own port (found in the port map). Method: ITERS calls per repetition (default 2 M) timed with
 * CLOCK_MONOTONIC, best of REPS (default 5), candidate and baseline
 * interleaved; one byte the judge does not read changes every iteration and
 * every verdict is folded into a volatile sink.
 *
 * Output: one JSON object per line on stdout, nothing else (EAL logs off).
 *   bench_residency_rte [--iters N] [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>

#include "faii/frame.h"
#include "faii/residency.h"
#include "faii/wire.h"
#include "residency_bpf.h"

#define NODE_CH   0x101u
#define NODE_US   0x202u
#define JUR_CH    3u
#define JUR_US    7u
#define CLASS_CH  5u
#define NODE_PORT 9000u /* NODE_CH's own port, in the port map */

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct bench_case {
	const char *name;
	uint8_t frame[256];
	uint32_t len;
};

static uint32_t build(uint8_t *buf, size_t cap, bool ipv6, bool vlan, uint32_t node,
                      uint16_t dst_port)
{
	uint8_t msg[FAII_MSG_SIZE_MAX];
	static const uint8_t payload[16];
	struct faii_task t = {.task_id = 42,
	                      .node_id = node,
	                      .dispatch_ts_ns = 1,
	                      .residency_class = CLASS_CH,
	                      .payload_len = sizeof(payload),
	                      .category = FAII_CAT_INTERACTIVE_INFERENCE,
	                      .tier = 3};
	size_t len = faii_encode_task(msg, sizeof(msg), &t, payload);
	struct faii_frame_spec spec = {.ipv6 = ipv6,
	                               .vlan = vlan,
	                               .vlan_tci = 100,
	                               .src_port = 40000,
	                               .dst_port = dst_port};
	return (uint32_t)faii_frame_build(buf, cap, &spec, msg, len);
}

typedef uint32_t (*judge_fn)(struct faii_res_rte *, const void *, uint32_t);

static double run(struct faii_res_rte *res, judge_fn judge, struct bench_case *c, uint64_t iters)
{
	struct faii_res_event evs[256];
	while (faii_res_rte_events(res, evs, 256) > 0)
		;
	uint64_t acc = 0, t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		c->frame[6] = (uint8_t)i; /* the source MAC: never read */
		acc += judge(res, c->frame, c->len);
	}
	uint64_t t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	uint64_t iters = 2000000;
	unsigned reps = 5;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--iters") == 0)
			iters = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0)
			reps = (unsigned)strtoul(argv[i + 1], NULL, 10);
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=faii-bench-res-%d", (int)getpid());
	char *eal[] = {argv[0], "--no-huge",   "--no-pci", "-m", "256",
	               prefix,  "--no-shconf", "-l",       "0",  "--log-level=*:error",
	               NULL};
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "bench_residency_rte: rte_eal_init failed\n");
		return 1;
	}
	struct faii_res_rte *res;
	char err[256];
	if (faii_res_rte_open(NULL, &res, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_residency_rte: %s\n", err);
		return 1;
	}
	static struct faii_res_policy policy; /* about 1 MiB */
	policy.nodes[0] = (struct faii_res_policy_node){NODE_CH, JUR_CH};
	policy.nodes[1] = (struct faii_res_policy_node){NODE_US, JUR_US};
	policy.node_count = 2;
	policy.classes[CLASS_CH] =
	        (struct faii_res_class){.allowed = UINT64_C(1) << JUR_CH, .defined = 1};
	faii_res_policy_add_port(&policy, NODE_PORT);
	if (faii_res_rte_set_policy(res, &policy) != 0)
		return 1;

	const uint16_t port = FAII_UDP_PORT_DEFAULT;
	static struct bench_case cases[] = {{.name = "allowed_ipv4"},
	                                    {.name = "allowed_vlan_ipv6"},
	                                    {.name = "forbidden_ipv4"},
	                                    {.name = "allowed_ipv4_node_port"}};
	cases[0].len = build(cases[0].frame, sizeof(cases[0].frame), false, false, NODE_CH, port);
	cases[1].len = build(cases[1].frame, sizeof(cases[1].frame), true, true, NODE_CH, port);
	cases[2].len = build(cases[2].frame, sizeof(cases[2].frame), false, false, NODE_US, port);
	cases[3].len =
	        build(cases[3].frame, sizeof(cases[3].frame), false, false, NODE_CH, NODE_PORT);
	const char *engine = faii_res_rte_is_jit(res) ? "rte_bpf_jit" : "rte_bpf_interp";

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		double best = 1e30, base = 1e30;
		for (unsigned r = 0; r < reps; r++) {
			double v = run(res, faii_res_rte_judge, &cases[k], iters);
			double b = run(res, faii_res_c_judge, &cases[k], iters);
			best = v < best ? v : best;
			base = b < base ? b : base;
		}
		printf("{\"bench\":\"residency_rte\",\"case\":\"%s/%s\",\"value\":%.2f,"
		       "\"unit\":\"ns/"
		       "packet\",\"baseline\":\"c_reference\",\"baseline_value\":%.2f,"
		       "\"ratio\":%.3f}\n",
		       engine, cases[k].name, best, base, best / base);
	}
	faii_res_rte_close(res);
	rte_eal_cleanup();
	return 0;
}
