/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reputation (ledger/settle/reputation.c, DePX §3.6.1): the score's
 * components and weights against hand-computed values, weekly decay
 * towards 0.5 in consortium time, halving on Byzantine evidence for as long
 * as it is in the window, month closure (the downtime check's input),
 * bounds, refusals and sorted, order-independent listings.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_slash.h"

#define P         FAII_SETTLE_PPB_ONE
#define TOKEN     FAII_SETTLE_UNITS_PER_TOKEN
#define WEEK      FAII_SETTLE_WEEK_MS
#define MONTH     FAII_SETTLE_MONTH_MS
#define T0        (1000ull * MONTH) /* a month boundary, well after Unix time 0 */
#define NODES_MAX 64u

static struct faii_settle_reputation *make(uint32_t nodes_max, void **mem)
{
	struct faii_settle_reputation_limits limits = {.nodes_max = nodes_max};
	struct faii_settle_reputation_params params;
	faii_settle_reputation_params_default(&params);
	size_t bytes = faii_settle_reputation_bytes(&limits);
	cr_assert_gt(bytes, 0);
	*mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(*mem);
	struct faii_settle_reputation *state =
	        faii_settle_reputation_init(*mem, bytes, &limits, &params);
	cr_assert_not_null(state);
	return state;
}

/* 1000 tasks, 950 succeeded, 50 ms on average, 99 of 100 heartbeats,
 * 10 000 tokens staked. */
static const struct faii_settle_reputation_observation good = {
        .tasks_dispatched = 1000,
        .tasks_succeeded = 950,
        .latency_samples = 1000,
        .latency_sum_us = 1000ull * 50000,
        .heartbeats_expected = 100,
        .heartbeats_seen = 99,
        .stake = 10000ull * TOKEN,
};

Test(settle_reputation, a_golden_score)
{
	/* success 950/1000 = 0.95, uptime 99/100 = 0.99, latency 1 - 50/200 =
	 * 0.75, stake 10 000 / 20 000 = 0.5:
	 * 0.3 x 0.95 + 0.4 x 0.99 + 0.2 x 0.75 + 0.1 x 0.5
	 * = 0.285 + 0.396 + 0.15 + 0.05 = 0.881 */
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0, 1), 0);
	struct faii_settle_reputation_view view;
	cr_assert_eq(faii_settle_reputation_get(state, 7, &view), 0);
	cr_assert_eq(view.success_ppb, 950000000ull);
	cr_assert_eq(view.uptime_ppb, 990000000ull);
	cr_assert_eq(view.latency_ppb, 750000000ull);
	cr_assert_eq(view.stake_ppb, 500000000ull);
	cr_assert_eq(view.score_ppb, 881000000ull);
	cr_assert_eq(view.last_epoch, 1);
	free(mem);
}

Test(settle_reputation, a_golden_score_with_rounding)
{
	/* success 2/3 -> 666 666 666; uptime 5/7 -> 714 285 714;
	 * latency: 3 answers, 100 ms in all: floor(10^9 (600 000 - 100 000) /
	 * 600 000) = 833 333 333; stake 1 / 20 000 tokens = 50 000 ppb.
	 * (3 x 666 666 666 + 4 x 714 285 714 + 2 x 833 333 333 + 50 000) / 10
	 * = (1 999 999 998 + 2 857 142 856 + 1 666 666 666 + 50 000) / 10
	 * = 6 523 859 520 / 10 = 652 385 952 (one rounding, at the end). */
	struct faii_settle_reputation_params params;
	faii_settle_reputation_params_default(&params);
	struct faii_settle_reputation_observation obs = {
	        .tasks_dispatched = 3,
	        .tasks_succeeded = 2,
	        .latency_samples = 3,
	        .latency_sum_us = 100000,
	        .heartbeats_expected = 7,
	        .heartbeats_seen = 5,
	        .stake = TOKEN,
	};
	struct faii_settle_reputation_view parts;
	cr_assert_eq(faii_settle_reputation_score(&params, &obs, 0, &parts), 652385952ull);
	cr_assert_eq(parts.success_ppb, 666666666ull);
	cr_assert_eq(parts.uptime_ppb, 714285714ull);
	cr_assert_eq(parts.latency_ppb, 833333333ull);
	cr_assert_eq(parts.stake_ppb, 50000ull);
}

Test(settle_reputation, clamps_and_neutral_components)
{
	struct faii_settle_reputation_params params;
	faii_settle_reputation_params_default(&params);
	/* Nothing measured: success, uptime and latency neutral (0.5), no
	 * stake: (1.5 + 2 + 1 + 0) / 10 = 0.45. */
	struct faii_settle_reputation_observation none = {0};
	cr_assert_eq(faii_settle_reputation_score(&params, &none, 0, NULL), 450000000ull);
	/* 250 ms on average scores 0 (not negative); a stake of 40 000 tokens
	 * scores 1 (not 2): 0.3 + 0.4 + 0 + 0.1 = 0.8. */
	struct faii_settle_reputation_observation slow = {
	        .tasks_dispatched = 10,
	        .tasks_succeeded = 10,
	        .latency_samples = 10,
	        .latency_sum_us = 10ull * 250000,
	        .heartbeats_expected = 5,
	        .heartbeats_seen = 5,
	        .stake = 40000ull * TOKEN,
	};
	struct faii_settle_reputation_view parts;
	cr_assert_eq(faii_settle_reputation_score(&params, &slow, 0, &parts), 800000000ull);
	cr_assert_eq(parts.latency_ppb, 0);
	cr_assert_eq(parts.stake_ppb, P);
	/* Exactly 200 ms: 0; one microsecond less in all: just above 0. */
	slow.latency_sum_us = 10ull * 200000;
	faii_settle_reputation_score(&params, &slow, 0, &parts);
	cr_assert_eq(parts.latency_ppb, 0);
	slow.latency_sum_us -= 1;
	faii_settle_reputation_score(&params, &slow, 0, &parts);
	cr_assert_eq(parts.latency_ppb, 500); /* 10^9 x 1 / 2 000 000 */
}

Test(settle_reputation, new_nodes_start_at_one_half)
{
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	struct faii_settle_reputation_view view;
	cr_assert_eq(faii_settle_reputation_get(state, 42, &view), -ENOENT);
	cr_assert_eq(view.score_ppb, FAII_SETTLE_REPUTATION_START_PPB);
	cr_assert_eq(view.score_ppb, 500000000ull);
	free(mem);
}

Test(settle_reputation, decays_towards_one_half_by_whole_weeks)
{
	/* From 0.881, d = 0.381 and each week keeps floor(0.95 d):
	 * 361 950 000, 343 852 500, 326 659 875, 310 326 881 (.25 dropped). */
	static const uint64_t expected[] = {881000000ull, 861950000ull, 843852500ull, 826659875ull,
	                                    810326881ull};
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0, 1), 0);
	struct faii_settle_reputation_view view;
	for (uint64_t week = 1; week <= 4; week++) {
		/* One millisecond before the week ends: nothing. */
		cr_assert_eq(faii_settle_reputation_advance(state, T0 + week * WEEK - 1), 0);
		faii_settle_reputation_get(state, 7, &view);
		cr_assert_eq(view.score_ppb, expected[week - 1], "week %llu",
		             (unsigned long long)week);
		cr_assert_eq(faii_settle_reputation_advance(state, T0 + week * WEEK), 1);
		faii_settle_reputation_get(state, 7, &view);
		cr_assert_eq(view.score_ppb, expected[week], "week %llu", (unsigned long long)week);
		cr_assert_eq(view.decay_point_ms, T0 + week * WEEK);
	}
	/* Four weeks at once give the same as one at a time. */
	void *mem2;
	struct faii_settle_reputation *other = make(NODES_MAX, &mem2);
	faii_settle_reputation_observe(other, 7, &good, T0, 1);
	cr_assert_eq(faii_settle_reputation_advance(other, T0 + 4 * WEEK + WEEK / 2), 4);
	faii_settle_reputation_get(other, 7, &view);
	cr_assert_eq(view.score_ppb, expected[4]);
	/* The weeks stay on the grid of the last recompute: the fifth is due
	 * at T0 + 5 weeks, not half a week after the last call. */
	cr_assert_eq(view.decay_point_ms, T0 + 4 * WEEK);
	cr_assert_eq(faii_settle_reputation_advance(other, T0 + 5 * WEEK - 1), 0);
	cr_assert_eq(faii_settle_reputation_advance(other, T0 + 5 * WEEK), 1);
	free(mem);
	free(mem2);
}

Test(settle_reputation, decay_reaches_one_half_exactly_from_either_side)
{
	/* Flooring the distance moves towards 0.5: from 0.881, 339 weeks reach
	 * it exactly; from below, 0.1 -> 0.5 - floor(0.95 x 0.4) = 0.12. */
	cr_assert_eq(faii_settle_reputation_decay_step(100000000ull, 950000000ull), 120000000ull);
	cr_assert_eq(faii_settle_reputation_decay_step(499999997ull, 950000000ull), 499999998ull);
	cr_assert_eq(faii_settle_reputation_decay_step(500000003ull, 950000000ull), 500000002ull);
	cr_assert_eq(faii_settle_reputation_decay_step(500000000ull, 950000000ull), 500000000ull);
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	faii_settle_reputation_observe(state, 7, &good, T0, 1);
	cr_assert_eq(faii_settle_reputation_advance(state, T0 + 338 * WEEK), 338);
	struct faii_settle_reputation_view view;
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_gt(view.score_ppb, 500000000ull);
	/* A year idle: one step more reaches 0.5, then nothing moves. */
	cr_assert_eq(faii_settle_reputation_advance(state, T0 + 400 * WEEK), 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 500000000ull);
	cr_assert_eq(view.decay_point_ms, T0 + 400 * WEEK);
	free(mem);
}

Test(settle_reputation, an_observation_recomputes_and_restarts_the_decay)
{
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	faii_settle_reputation_observe(state, 7, &good, T0, 1);
	faii_settle_reputation_advance(state, T0 + 2 * WEEK);
	/* The same ratios again, in the same month: the window's score is 0.881
	 * again, and the decay counts from now. */
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + 2 * WEEK + 5, 2), 0);
	struct faii_settle_reputation_view view;
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 881000000ull);
	cr_assert_eq(view.decay_point_ms, T0 + 2 * WEEK + 5);
	cr_assert_eq(faii_settle_reputation_advance(state, T0 + 3 * WEEK + 4), 0);
	cr_assert_eq(faii_settle_reputation_advance(state, T0 + 3 * WEEK + 5), 1);
	free(mem);
}

Test(settle_reputation, byzantine_evidence_halves_while_in_the_window)
{
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	faii_settle_reputation_observe(state, 7, &good, T0, 1);
	cr_assert_eq(faii_settle_reputation_byzantine(state, 7, T0 + 10), 0);
	struct faii_settle_reputation_view view;
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 440500000ull); /* 0.881 / 2 */
	cr_assert_eq(view.byzantine, 1);
	/* Recomputed in the same month: still halved. */
	faii_settle_reputation_observe(state, 7, &good, T0 + 20, 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 440500000ull);
	/* A second piece of evidence: a quarter. */
	faii_settle_reputation_byzantine(state, 7, T0 + 30);
	faii_settle_reputation_observe(state, 7, &good, T0 + 40, 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 220250000ull);
	/* Next month: the evidence is in the previous month, still in the window. */
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + MONTH, 2), 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 220250000ull);
	/* The month after: it has left the window. */
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + 2 * MONTH, 3), 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.score_ppb, 881000000ull);
	cr_assert_eq(view.byzantine, 0);
	free(mem);
}

Test(settle_reputation, an_unknown_node_with_evidence_starts_at_one_half_then_halves)
{
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	cr_assert_eq(faii_settle_reputation_byzantine(state, 9, T0), 0);
	struct faii_settle_reputation_view view;
	cr_assert_eq(faii_settle_reputation_get(state, 9, &view), 0);
	cr_assert_eq(view.score_ppb, 250000000ull);
	free(mem);
}

Test(settle_reputation, months_close_and_keep_their_heartbeats)
{
	void *mem;
	struct faii_settle_reputation *state = make(NODES_MAX, &mem);
	struct faii_settle_reputation_observation obs = good;
	obs.heartbeats_expected = 1000;
	obs.heartbeats_seen = 900;
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &obs, T0, 1), 0);
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &obs, T0 + MONTH - 1, 1), 0);
	struct faii_settle_reputation_view view;
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.closed_valid, false);
	/* The first observation of the next month closes the previous one. */
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + MONTH, 2), 1);
	faii_settle_reputation_get(state, 7, &view);
	cr_assert_eq(view.closed_valid, true);
	cr_assert_eq(view.closed_month, T0 / MONTH);
	cr_assert_eq(view.closed_heartbeats_expected, 2000);
	cr_assert_eq(view.closed_heartbeats_seen, 1800);
	cr_assert_eq(view.month, T0 / MONTH + 1);
	/* The window is both months: uptime (1800 + 99) / (2000 + 100). */
	cr_assert_eq(view.uptime_ppb, 1899ull * P / 2100);
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + MONTH + 1, 2), 0);
	/* A month closed by evidence is reported by the next observation. */
	faii_settle_reputation_byzantine(state, 7, T0 + 2 * MONTH);
	cr_assert_eq(faii_settle_reputation_observe(state, 7, &good, T0 + 2 * MONTH + 1, 3), 1);
	free(mem);
}

Test(settle_reputation, refusals_are_counted)
{
	void *mem;
	struct faii_settle_reputation *state = make(2, &mem);
	struct faii_settle_reputation_observation bad = good;
	bad.heartbeats_seen = bad.heartbeats_expected + 1;
	cr_assert_eq(faii_settle_reputation_observe(state, 1, &bad, T0, 1), -EINVAL);
	bad = good;
	bad.tasks_succeeded = bad.tasks_dispatched + 1;
	cr_assert_eq(faii_settle_reputation_observe(state, 1, &bad, T0, 1), -EINVAL);
	bad = good;
	bad.latency_samples = bad.tasks_dispatched + 1;
	cr_assert_eq(faii_settle_reputation_observe(state, 1, &bad, T0, 1), -EINVAL);
	cr_assert_eq(faii_settle_reputation_observe(state, 1, &good, T0, 1), 0);
	cr_assert_eq(faii_settle_reputation_observe(state, 2, &good, T0, 1), 0);
	cr_assert_eq(faii_settle_reputation_observe(state, 3, &good, T0, 1), -ENOSPC);
	cr_assert_eq(faii_settle_reputation_byzantine(state, 3, T0), -ENOSPC);
	struct faii_settle_reputation_stats stats;
	faii_settle_reputation_get_stats(state, &stats);
	cr_assert_eq(stats.refused[FAII_SETTLE_REPUTATION_REFUSED_INCONSISTENT], 3);
	cr_assert_eq(stats.refused[FAII_SETTLE_REPUTATION_REFUSED_TABLE_FULL], 2);
	cr_assert_eq(stats.nodes, 2);
	cr_assert_str_eq(
	        faii_settle_reputation_refusal_name(FAII_SETTLE_REPUTATION_REFUSED_TABLE_FULL),
	        "table_full");
	free(mem);
}

Test(settle_reputation, limits_and_parameters_are_checked)
{
	struct faii_settle_reputation_limits limits = {.nodes_max = 0};
	cr_assert_eq(faii_settle_reputation_bytes(&limits), 0);
	limits.nodes_max = FAII_SETTLE_REPUTATION_NODES_MAX + 1;
	cr_assert_eq(faii_settle_reputation_bytes(&limits), 0);
	limits.nodes_max = 4;
	struct faii_settle_reputation_params params;
	faii_settle_reputation_params_default(&params);
	size_t bytes = faii_settle_reputation_bytes(&limits);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_null(faii_settle_reputation_init(mem, bytes - 1, &limits, &params));
	params.decay_keep_ppb = FAII_SETTLE_REPUTATION_DECAY_KEEP_MAX_PPB + 1;
	cr_assert_null(faii_settle_reputation_init(mem, bytes, &limits, &params));
	params.decay_keep_ppb = 950000000ull;
	params.stake_full = 0;
	cr_assert_null(faii_settle_reputation_init(mem, bytes, &limits, &params));
	free(mem);
}

/* A fixed-seed generator (xorshift64*). */
static uint64_t next(uint64_t *seed)
{
	*seed ^= *seed >> 12;
	*seed ^= *seed << 25;
	*seed ^= *seed >> 27;
	return *seed * 2685821657736338717ull;
}

Test(settle_reputation, listings_are_sorted_and_independent_of_arrival_order)
{
	enum { COUNT = 48 };
	uint32_t ids[COUNT];
	struct faii_settle_reputation_observation obs[COUNT];
	uint64_t seed = 0x5eed;
	for (uint32_t i = 0; i < COUNT; i++) {
		ids[i] = (uint32_t)next(&seed);
		uint64_t dispatched = 1 + next(&seed) % 1000;
		obs[i] = (struct faii_settle_reputation_observation){
		        .tasks_dispatched = dispatched,
		        .tasks_succeeded = next(&seed) % (dispatched + 1),
		        .latency_samples = dispatched,
		        .latency_sum_us = dispatched * (next(&seed) % 300000),
		        .heartbeats_expected = 100,
		        .heartbeats_seen = next(&seed) % 101,
		        .stake = next(&seed) % (30000 * TOKEN),
		};
	}
	void *mem_a, *mem_b;
	struct faii_settle_reputation *a = make(NODES_MAX, &mem_a);
	struct faii_settle_reputation *b = make(NODES_MAX, &mem_b);
	for (uint32_t i = 0; i < COUNT; i++)
		cr_assert_geq(faii_settle_reputation_observe(a, ids[i], &obs[i], T0, 1), 0);
	for (uint32_t i = COUNT; i-- > 0;)
		cr_assert_geq(faii_settle_reputation_observe(b, ids[i], &obs[i], T0, 1), 0);
	struct faii_settle_reputation_score list_a[COUNT], list_b[COUNT];
	cr_assert_eq(faii_settle_reputation_list(a, list_a, COUNT - 1), -ENOSPC);
	cr_assert_eq(faii_settle_reputation_list(a, list_a, COUNT), COUNT);
	cr_assert_eq(faii_settle_reputation_list(b, list_b, COUNT), COUNT);
	cr_assert_eq(memcmp(list_a, list_b, sizeof(list_a)), 0);
	for (uint32_t i = 1; i < COUNT; i++)
		cr_assert_lt(list_a[i - 1].node_id, list_a[i].node_id);
	for (uint32_t i = 0; i < COUNT; i++) {
		struct faii_settle_reputation_view view;
		faii_settle_reputation_get(a, ids[i], &view);
		cr_assert_leq(view.score_ppb, P);
	}
	free(mem_a);
	free(mem_b);
}

Test(settle_reputation, decay_follows_the_real_formula_within_rounding)
{
	/* 0.5 + (r - 0.5) 0.95^w, computed in doubles here only, against the
	 * integer steps: each floor loses less than one ppb, so after w weeks
	 * the two differ by less than w ppb. */
	uint64_t seed = 99;
	for (int trial = 0; trial < 200; trial++) {
		uint64_t r = next(&seed) % (P + 1);
		uint32_t weeks = (uint32_t)(next(&seed) % 60);
		uint64_t s = r;
		double exact = (double)r - 5e8;
		for (uint32_t w = 0; w < weeks; w++) {
			s = faii_settle_reputation_decay_step(s, 950000000ull);
			exact *= 0.95;
		}
		double diff = ((double)s - 5e8) - exact;
		cr_assert(diff <= 0.0 + 1e-3 || exact < 0, "r %llu weeks %u", (unsigned long long)r,
		          weeks);
		cr_assert(diff > -(double)weeks - 1e-3 && diff < (double)weeks + 1e-3);
	}
}

Test(settle_reputation, a_work_summary_entry_becomes_an_observation)
{
	struct faii_settle_work_entry entry = {
	        .node_id = 5,
	        .heartbeats_expected = 10,
	        .heartbeats_seen = 9,
	        .disagreements = 3,
	};
	entry.tier[0] = (struct faii_settle_work_tier){
	        .dispatched = 50, .answered = 48, .slo_hits = 45, .latency_sum_us = 4800};
	entry.tier[2] = (struct faii_settle_work_tier){
	        .dispatched = 10, .answered = 10, .slo_hits = 10, .latency_sum_us = 1000};
	struct faii_settle_reputation_observation obs;
	faii_settle_reputation_observation_from_work(&entry, 77, &obs);
	cr_assert_eq(obs.tasks_dispatched, 60);
	/* SLO hits 55, less the 3 outvoted answers. */
	cr_assert_eq(obs.tasks_succeeded, 52);
	cr_assert_eq(obs.latency_samples, 58);
	cr_assert_eq(obs.latency_sum_us, 5800);
	cr_assert_eq(obs.heartbeats_expected, 10);
	cr_assert_eq(obs.heartbeats_seen, 9);
	cr_assert_eq(obs.stake, 77);
	/* More disagreements than hits: no success, not a wrap-around. */
	entry.disagreements = 1000;
	faii_settle_reputation_observation_from_work(&entry, 77, &obs);
	cr_assert_eq(obs.tasks_succeeded, 0);
}
