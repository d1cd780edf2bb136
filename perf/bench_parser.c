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

#include "faii/frame.h"
#include "faii/samples.h"
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

	/* The sample messages in type order; vary_off: in an id or a sequence number. */
	static struct bench_case cases[6] = {
	        {.name = "parse_task", .vary_off = offsetof(struct faii_task, task_id) + 7},
	        {.name = "parse_result", .vary_off = offsetof(struct faii_result, task_id) + 7},
	        {.name = "parse_heartbeat", .vary_off = offsetof(struct faii_heartbeat, seq) + 3},
	        {.name = "parse_attest", .vary_off = offsetof(struct faii_attest, seq) + 3},
	        {.name = "parse_register",
	         .vary_off = offsetof(struct faii_register, operator_id) + 3},
	        {.name = "parse_frame_ipv4_task", .is_frame = 1},
	};
	for (uint8_t k = 0; k < 5; k++) {
		cases[k].len = faii_sample_encode(FAII_MSG_TYPE_MIN + k, cases[k].buf, FRAME_MAX);
		cases[k].vary_off += FAII_HDR_SIZE;
	}

	/* The TASK in the sample Ethernet + IPv4 + UDP frame. */
	struct faii_frame_spec ipv4 = faii_sample_frame_spec(false);
	cases[5].len = faii_frame_build(cases[5].buf, FRAME_MAX, &ipv4, cases[0].buf, cases[0].len);
	cases[5].vary_off = faii_frame_hdr_len(&ipv4) + cases[0].vary_off;

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
