/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the wire parser: nanoseconds per packet of faii_parse() for
 * each message type and of faii_parse_frame() for an IPv4 frame.
 *
 * Baseline, measured in the same run on the same bytes: "decode_copy", the
 * same validation followed by faii_decode_*() of the body into a host-order
 * struct (for the frame case: faii_parse_frame() + faii_decode_task()), i.e.
 * what a parser that hands out host-order copies instead of a zero-copy view
 * costs. ratio = value / baseline_value. The baseline contains the candidate
 * (it validates too), so the ratio is below 1 by construction: it shows what
 * the copy and byte swaps would add per packet, not how validation compares
 * with a lower bound. We chose it over a bare memcpy of the packet because a
 * memcpy validates nothing and is not an alternative any receiver could ship.
 *
 * Method: each case runs ITERS back-to-back calls (default 10 M) on one
 * buffer, timed with clock_gettime(CLOCK_MONOTONIC); the best of REPS
 * repetitions (default 5) is reported, candidate and baseline repetitions
 * interleaved so that both see the same machine state. One byte of a field
 * the parser does not validate (an id or sequence number) changes every
 * iteration, so the call cannot be hoisted, and every result is folded into a
 * volatile sink. The parser lives in another translation unit (no LTO), so
 * its calls are not inlined away either.
 *
 * Output: one JSON object per line on stdout, nothing else.
 *   bench_parser [--iters N] [--reps N]
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faii/wire.h"

enum { FRAME_MAX = 2048 };

struct bench_case {
	const char *name; /* the baseline of every case is "decode_copy" */
	uint8_t buf[FRAME_MAX];
	size_t len;
	size_t vary_off; /* byte changed every iteration */
	int is_frame;
};

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Zero-copy: validate and read the type and one field through the view. */
static uint64_t run_parse(struct bench_case *c, uint64_t iters)
{
	uint8_t *buf = c->buf;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		buf[c->vary_off] = (uint8_t)i;
		struct faii_msg_view v;
		enum faii_drop r = faii_parse(buf, c->len, &v);
		acc += (uint64_t)r + v.length + ((const uint8_t *)v.body)[0];
	}
	return acc;
}

static uint64_t run_parse_frame(struct bench_case *c, uint64_t iters)
{
	uint8_t *buf = c->buf;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		buf[c->vary_off] = (uint8_t)i;
		struct faii_frame_view fv;
		enum faii_drop r = faii_parse_frame(buf, c->len, FAII_UDP_PORT_DEFAULT, &fv);
		acc += (uint64_t)r + fv.msg.length + ((const uint8_t *)fv.msg.body)[0];
	}
	return acc;
}

/* Copying: the same validation, then a host-order copy of the body. */
static uint64_t decode_copy(const struct faii_msg_view *v)
{
	switch (v->type) {
	case FAII_MSG_TASK: {
		struct faii_task t;
		faii_decode_task(v, &t);
		return t.task_id + t.payload_len;
	}
	case FAII_MSG_RESULT: {
		struct faii_result r;
		faii_decode_result(v, &r);
		return r.task_id + r.payload_len;
	}
	case FAII_MSG_HEARTBEAT: {
		struct faii_heartbeat hb;
		faii_decode_heartbeat(v, &hb);
		return hb.seq + hb.load_permille;
	}
	case FAII_MSG_ATTEST: {
		struct faii_attest a;
		faii_decode_attest(v, &a);
		return a.seq + a.energy_wh;
	}
	case FAII_MSG_REGISTER: {
		struct faii_register r;
		faii_decode_register(v, &r);
		return r.operator_id + r.udp_port;
	}
	default: return 0;
	}
}

static uint64_t run_decode(struct bench_case *c, uint64_t iters)
{
	uint8_t *buf = c->buf;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		buf[c->vary_off] = (uint8_t)i;
		struct faii_msg_view v;
		enum faii_drop r = faii_parse(buf, c->len, &v);
		acc += (uint64_t)r + v.length + decode_copy(&v);
	}
	return acc;
}

static uint64_t run_decode_frame(struct bench_case *c, uint64_t iters)
{
	uint8_t *buf = c->buf;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		buf[c->vary_off] = (uint8_t)i;
		struct faii_frame_view fv;
		enum faii_drop r = faii_parse_frame(buf, c->len, FAII_UDP_PORT_DEFAULT, &fv);
		acc += (uint64_t)r + fv.msg.length + decode_copy(&fv.msg);
	}
	return acc;
}

static double time_ns_per(uint64_t (*fn)(struct bench_case *, uint64_t), struct bench_case *c,
                          uint64_t iters)
{
	uint64_t t0 = now_ns();
	sink += fn(c, iters);
	uint64_t t1 = now_ns();
	return (double)(t1 - t0) / (double)iters;
}

/* Ethernet + IPv4 + UDP to the faii port around msg; returns the frame length. */
static size_t build_ipv4_frame(uint8_t *f, const uint8_t *msg, size_t msg_len)
{
	static const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
	size_t ip_total = 20 + 8 + msg_len, udp_len = 8 + msg_len;
	uint8_t *ip = f + 14, *udp = f + 34;
	memcpy(f, eth, sizeof(eth));
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_total >> 8);
	ip[3] = (uint8_t)ip_total;
	ip[6] = 0x40; /* don't fragment */
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = 10;
	ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 1;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xFF;
	udp[2] = (uint8_t)(FAII_UDP_PORT_DEFAULT >> 8);
	udp[3] = (uint8_t)FAII_UDP_PORT_DEFAULT;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	udp[6] = udp[7] = 0; /* no checksum (IPv4) */
	memcpy(udp + 8, msg, msg_len);
	return 14 + ip_total;
}

static void check_case(const struct bench_case *c)
{
	struct faii_msg_view v;
	struct faii_frame_view fv;
	enum faii_drop r = c->is_frame
	                           ? faii_parse_frame(c->buf, c->len, FAII_UDP_PORT_DEFAULT, &fv)
	                           : faii_parse(c->buf, c->len, &v);
	if (r != FAII_OK || c->len == 0 || c->vary_off >= c->len) {
		fprintf(stderr, "bench_parser: case %s is not a valid packet: %s\n", c->name,
		        faii_drop_name(r));
		exit(1);
	}
}

static uint64_t parse_count(const char *arg, const char *opt)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v == 0) {
		fprintf(stderr, "bench_parser: %s needs a positive integer\n", opt);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint64_t iters = 10000000, reps = 5;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
			iters = parse_count(argv[++i], "--iters");
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = parse_count(argv[++i], "--reps");
		else {
			fprintf(stderr, "usage: %s [--iters N] [--reps N]\n", argv[0]);
			return 2;
		}
	}

	static uint8_t payload[64];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	const uint64_t ts = 1795000000000000000ull;

	static struct bench_case cases[6] = {
	        {.name = "parse_task"},      {.name = "parse_result"},
	        {.name = "parse_heartbeat"}, {.name = "parse_attest"},
	        {.name = "parse_register"},  {.name = "parse_frame_ipv4_task", .is_frame = 1},
	};
	const size_t body = FAII_HDR_SIZE; /* offset of the body in a message */

	struct faii_task task = {
	        .task_id = 0x0102030405060708ull,
	        .client_id = 77,
	        .submit_ts_ns = ts,
	        .latency_budget_us = 20000,
	        .origin_region = 12,
	        .residency_class = 3,
	        .min_reputation_milli = 500,
	        .payload_len = sizeof(payload),
	        .category = FAII_CAT_EDGE_INFERENCE,
	        .tier = 1,
	        .consistency = FAII_CONSISTENCY_EVENTUAL,
	};
	cases[0].len = faii_encode_task(cases[0].buf, FRAME_MAX, &task, payload);
	cases[0].vary_off = body + offsetof(struct faii_task, task_id) + 7;

	struct faii_result result = {
	        .task_id = task.task_id,
	        .dispatch_ts_ns = ts + 150000,
	        .node_id = 4242,
	        .exec_time_us = 1800,
	        .status = FAII_RESULT_OK,
	        .payload_len = 32,
	};
	memset(result.result_hash, 0xAB, sizeof(result.result_hash));
	cases[1].len = faii_encode_result(cases[1].buf, FRAME_MAX, &result, payload);
	cases[1].vary_off = body + offsetof(struct faii_result, task_id) + 7;

	struct faii_heartbeat hb = {
	        .node_id = 4242,
	        .seq = 17,
	        .timestamp_ns = ts,
	        .uptime_s = 86400,
	        .tasks_completed = 123456,
	        .load_permille = 420,
	};
	cases[2].len = faii_encode_heartbeat(cases[2].buf, FRAME_MAX, &hb);
	cases[2].vary_off = body + offsetof(struct faii_heartbeat, seq) + 3;

	struct faii_attest att = {
	        .node_id = 4242,
	        .seq = 3,
	        .timestamp_ns = ts,
	        .meter_id = 0xDEADBEEF,
	        .interval_start_s = 1794999100,
	        .interval_s = 900,
	        .energy_wh = 1250,
	        .pue_milli = 1150,
	        .energy_to_work_milli = 35,
	        .grid_stress_permille = 200,
	        .source_mix_permille = {400, 300, 100, 0, 50, 0, 50, 100},
	};
	cases[3].len = faii_encode_attest(cases[3].buf, FRAME_MAX, &att);
	cases[3].vary_off = body + offsetof(struct faii_attest, seq) + 3;

	struct faii_register reg = {
	        .node_id = 4242,
	        .operator_id = 9,
	        .asn = 64500,
	        .capacity_tasks_per_s = 2000,
	        .price_micro = 150,
	        .region = 12,
	        .node_class = FAII_CLASS_MEDIUM,
	        .eligibility = 0x3F,
	        .country = {'D', 'E'},
	        .addr_family = FAII_ADDR_IPV4,
	        .addr = {198, 51, 100, 7},
	        .udp_port = 7411,
	        .timestamp_ns = ts,
	};
	cases[4].len = faii_encode_register(cases[4].buf, FRAME_MAX, &reg);
	cases[4].vary_off = body + offsetof(struct faii_register, operator_id) + 3;

	cases[5].len = build_ipv4_frame(cases[5].buf, cases[0].buf, cases[0].len);
	cases[5].vary_off = 14 + 20 + 8 + cases[0].vary_off;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct bench_case *c = &cases[k];
		check_case(c);
		uint64_t (*cand)(struct bench_case *, uint64_t) =
		        c->is_frame ? run_parse_frame : run_parse;
		uint64_t (*base)(struct bench_case *, uint64_t) =
		        c->is_frame ? run_decode_frame : run_decode;
		double best = 1e30, best_base = 1e30;
		for (uint64_t r = 0; r < reps; r++) {
			double t = time_ns_per(cand, c, iters);
			double b = time_ns_per(base, c, iters);
			best = t < best ? t : best;
			best_base = b < best_base ? b : best_base;
		}
		printf("{\"bench\": \"parser\", \"case\": \"%s\", \"value\": %.2f, "
		       "\"unit\": \"ns/packet\", \"baseline\": \"%s\", \"baseline_value\": %.2f, "
		       "\"ratio\": %.3f}\n",
		       c->name, best, "decode_copy", best_base, best / best_base);
		fflush(stdout);
	}
	return 0;
}
