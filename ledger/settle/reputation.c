/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Node reputation (DePX §3.6.1) in integers: see include/faii/settle_slash.h
 * and docs/settlement.md ("Reputation").
 *
 * As DePX's ReputationSystem does, the score is recomputed from the node's
 * history at every observation, not smoothed: the history is a window of
 * two 30-day months of consortium time (the current one and the one
 * before), so old behaviour leaves it and every counter stays bounded.
 * Decay towards 0.5 applies only while a node goes unobserved (DePX decays
 * from the last update), one whole week at a time.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_slash.h"
#include "idtable.h"

#define PPB FAII_SETTLE_PPB_ONE

/* DePX's weights, in tenths: 0.3 success, 0.4 uptime, 0.2 latency, 0.1 stake. */
#define WEIGHT_SUCCESS 3u
#define WEIGHT_UPTIME  4u
#define WEIGHT_LATENCY 2u
#define WEIGHT_STAKE   1u
#define WEIGHT_SUM     10u
FAII_STATIC_ASSERT(WEIGHT_SUCCESS + WEIGHT_UPTIME + WEIGHT_LATENCY + WEIGHT_STAKE == WEIGHT_SUM,
                   "the weights sum to 1");
/* Latency score: ppb lost per microsecond of average latency. */
#define LATENCY_PPB_PER_US (PPB / FAII_SETTLE_REPUTATION_LATENCY_ZERO_US)
FAII_STATIC_ASSERT(LATENCY_PPB_PER_US *FAII_SETTLE_REPUTATION_LATENCY_ZERO_US == PPB,
                   "200 ms divides 1.0 exactly");

/* One month of a node's counters. */
struct window {
	bool used;
	uint32_t byzantine; /* executed Byzantine slashes this month */
	uint64_t month;
	struct faii_settle_reputation_observation sums; /* stake unused */
};

struct rep_node {
	uint32_t node_id;
	bool closed_pending; /* a month closed since observe() last said so */
	uint64_t score_ppb;
	uint64_t parts[4]; /* success, uptime, latency, stake at the last recompute */
	uint64_t decay_point_ms;
	uint64_t last_epoch;
	uint64_t stake;
	struct window current, previous;
};

struct faii_settle_reputation {
	struct faii_settle_reputation_params params;
	uint32_t nodes_max;
	uint32_t count;
	uint64_t last_now_ms;
	struct faii_settle_reputation_stats stats;
	struct idtable index;
	struct rep_node *nodes;
};

static const char *const refusal_names[FAII_SETTLE_REPUTATION_REFUSAL_COUNT] = {
        [FAII_SETTLE_REPUTATION_REFUSED_TABLE_FULL] = "table_full",
        [FAII_SETTLE_REPUTATION_REFUSED_INCONSISTENT] = "inconsistent",
};

const char *faii_settle_reputation_refusal_name(enum faii_settle_reputation_refusal reason)
{
	if ((unsigned)reason >= FAII_SETTLE_REPUTATION_REFUSAL_COUNT)
		return "unknown";
	return refusal_names[reason];
}

void faii_settle_reputation_params_default(struct faii_settle_reputation_params *params)
{
	params->stake_full = 20000ull * FAII_SETTLE_UNITS_PER_TOKEN;
	params->decay_keep_ppb = 950000000ull;
}

int faii_settle_reputation_params_check(const struct faii_settle_reputation_params *params)
{
	if (params->stake_full == 0 ||
	    params->decay_keep_ppb > FAII_SETTLE_REPUTATION_DECAY_KEEP_MAX_PPB)
		return -EINVAL;
	return 0;
}

static size_t layout(uint8_t *base, uint32_t nodes_max, struct faii_settle_reputation **state,
                     struct rep_node **nodes, uint32_t **slots)
{
	size_t cursor = 0;
	*state = idtable_carve(base, &cursor, sizeof(**state));
	*nodes = idtable_carve(base, &cursor, (size_t)nodes_max * sizeof(**nodes));
	*slots = idtable_carve(base, &cursor, (size_t)idtable_slots(nodes_max) * sizeof(**slots));
	return cursor;
}

size_t faii_settle_reputation_bytes(const struct faii_settle_reputation_limits *limits)
{
	if (limits->nodes_max == 0 || limits->nodes_max > FAII_SETTLE_REPUTATION_NODES_MAX)
		return 0;
	struct faii_settle_reputation *state;
	struct rep_node *nodes;
	uint32_t *slots;
	return layout(NULL, limits->nodes_max, &state, &nodes, &slots);
}

struct faii_settle_reputation *
faii_settle_reputation_init(void *mem, size_t bytes,
                            const struct faii_settle_reputation_limits *limits,
                            const struct faii_settle_reputation_params *params)
{
	size_t need = faii_settle_reputation_bytes(limits);
	if (mem == NULL || ((uintptr_t)mem & 7) != 0 || need == 0 || bytes < need ||
	    faii_settle_reputation_params_check(params) != 0)
		return NULL;
	struct faii_settle_reputation *state;
	struct rep_node *nodes;
	uint32_t *slots;
	size_t laid = layout(mem, limits->nodes_max, &state, &nodes, &slots);
	FAII_ASSERT(laid == need);
	memset(state, 0, sizeof(*state));
	state->params = *params;
	state->nodes_max = limits->nodes_max;
	state->nodes = nodes;
	idtable_init(&state->index, slots, limits->nodes_max);
	return state;
}

struct lookup_ctx {
	const struct rep_node *nodes;
	uint32_t node_id;
};

static bool lookup_matches(const void *ctx, uint32_t entry)
{
	const struct lookup_ctx *lookup = ctx;
	return lookup->nodes[entry].node_id == lookup->node_id;
}

/* The node's entry, or IDTABLE_NONE. */
static uint32_t lookup(const struct faii_settle_reputation *state, uint32_t node_id)
{
	struct lookup_ctx ctx = {.nodes = state->nodes, .node_id = node_id};
	return idtable_find(&state->index, idtable_hash_u32(node_id), lookup_matches, &ctx);
}

static uint64_t month_of(uint64_t now_ms)
{
	return now_ms / FAII_SETTLE_MONTH_MS;
}

/* The node's entry, created at the start value when new; NULL when full. */
static struct rep_node *lookup_or_add(struct faii_settle_reputation *state, uint32_t node_id,
                                      uint64_t now_ms)
{
	uint32_t entry = lookup(state, node_id);
	if (entry != IDTABLE_NONE)
		return &state->nodes[entry];
	if (state->count == state->nodes_max) {
		state->stats.refused[FAII_SETTLE_REPUTATION_REFUSED_TABLE_FULL]++;
		return NULL;
	}
	entry = state->count++;
	struct rep_node *node = &state->nodes[entry];
	memset(node, 0, sizeof(*node));
	node->node_id = node_id;
	node->score_ppb = FAII_SETTLE_REPUTATION_START_PPB;
	for (int i = 0; i < 4; i++)
		node->parts[i] = FAII_SETTLE_REPUTATION_NEUTRAL_PPB;
	node->decay_point_ms = now_ms;
	node->current.used = true;
	node->current.month = month_of(now_ms);
	idtable_insert(&state->index, idtable_hash_u32(node_id), entry);
	state->stats.nodes = state->count;
	return node;
}

/* Moves the window to now's month: the current month becomes the previous
 * one (closed) and a new one starts. */
static void roll(struct rep_node *node, uint64_t now_ms)
{
	uint64_t month = month_of(now_ms);
	FAII_ASSERT(node->current.used && month >= node->current.month);
	if (month == node->current.month)
		return;
	node->previous = node->current;
	memset(&node->current, 0, sizeof(node->current));
	node->current.used = true;
	node->current.month = month;
	node->closed_pending = true;
}

static void note_time(struct faii_settle_reputation *state, uint64_t now_ms)
{
	/* Consortium time never goes back: the lead's state machine derives it
	 * from the committed sequence. */
	FAII_ASSERT(now_ms >= state->last_now_ms);
	state->last_now_ms = now_ms;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	uint64_t sum;
	return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

static void sums_add(struct faii_settle_reputation_observation *sums,
                     const struct faii_settle_reputation_observation *obs)
{
	sums->tasks_dispatched = add_sat(sums->tasks_dispatched, obs->tasks_dispatched);
	sums->tasks_succeeded = add_sat(sums->tasks_succeeded, obs->tasks_succeeded);
	sums->latency_samples = add_sat(sums->latency_samples, obs->latency_samples);
	sums->latency_sum_us = add_sat(sums->latency_sum_us, obs->latency_sum_us);
	sums->heartbeats_expected = add_sat(sums->heartbeats_expected, obs->heartbeats_expected);
	sums->heartbeats_seen = add_sat(sums->heartbeats_seen, obs->heartbeats_seen);
}

/* The window's sums: the current month, and the previous one when it is
 * the month just before. */
static void window_sums(const struct rep_node *node,
                        struct faii_settle_reputation_observation *sums, uint32_t *byzantine)
{
	*sums = node->current.sums;
	*byzantine = node->current.byzantine;
	if (node->previous.used && node->previous.month + 1 == node->current.month) {
		sums_add(sums, &node->previous.sums);
		*byzantine += node->previous.byzantine;
	}
	sums->stake = node->stake;
}

/* floor(10^9 part / whole); neutral when nothing was measured. Saturated
 * sums keep part <= whole, so the ratio stays within 1.0. */
static uint64_t ratio_ppb(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return FAII_SETTLE_REPUTATION_NEUTRAL_PPB;
	FAII_ASSERT(part <= whole);
	return (uint64_t)((unsigned __int128)part * PPB / whole);
}

/* 1 - average / 200 ms, clamped to [0, 1], floored: with n answers and a
 * latency sum S, floor(10^9 (200 000 n - S) / (200 000 n)). */
static uint64_t latency_ppb(uint64_t samples, uint64_t sum_us)
{
	if (samples == 0)
		return FAII_SETTLE_REPUTATION_NEUTRAL_PPB;
	unsigned __int128 zero =
	        (unsigned __int128)FAII_SETTLE_REPUTATION_LATENCY_ZERO_US * samples;
	if (sum_us >= zero)
		return 0;
	uint64_t score = (uint64_t)((zero - sum_us) * LATENCY_PPB_PER_US / samples);
	FAII_ASSERT(score <= PPB);
	return score;
}

uint64_t faii_settle_reputation_score(const struct faii_settle_reputation_params *params,
                                      const struct faii_settle_reputation_observation *window,
                                      uint32_t byzantine, struct faii_settle_reputation_view *parts)
{
	FAII_ASSERT(params->stake_full > 0);
	uint64_t success = ratio_ppb(window->tasks_succeeded, window->tasks_dispatched);
	uint64_t uptime = ratio_ppb(window->heartbeats_seen, window->heartbeats_expected);
	uint64_t latency = latency_ppb(window->latency_samples, window->latency_sum_us);
	unsigned __int128 stake_ratio = (unsigned __int128)window->stake * PPB / params->stake_full;
	uint64_t stake = stake_ratio > PPB ? PPB : (uint64_t)stake_ratio;
	/* One rounding, at the end: the weighted sum is at most 10^10 < 2^64. */
	uint64_t weighted = (WEIGHT_SUCCESS * success + WEIGHT_UPTIME * uptime +
	                     WEIGHT_LATENCY * latency + WEIGHT_STAKE * stake) /
	                    WEIGHT_SUM;
	FAII_ASSERT(weighted <= PPB);
	uint32_t halvings = byzantine > FAII_SETTLE_REPUTATION_HALVINGS_MAX
	                            ? FAII_SETTLE_REPUTATION_HALVINGS_MAX
	                            : byzantine;
	uint64_t score = weighted >> halvings;
	if (parts != NULL) {
		parts->success_ppb = success;
		parts->uptime_ppb = uptime;
		parts->latency_ppb = latency;
		parts->stake_ppb = stake;
		parts->byzantine = byzantine;
		parts->score_ppb = score;
	}
	return score;
}

static void recompute(const struct faii_settle_reputation *state, struct rep_node *node)
{
	struct faii_settle_reputation_observation sums;
	uint32_t byzantine;
	struct faii_settle_reputation_view parts;
	window_sums(node, &sums, &byzantine);
	node->score_ppb = faii_settle_reputation_score(&state->params, &sums, byzantine, &parts);
	node->parts[0] = parts.success_ppb;
	node->parts[1] = parts.uptime_ppb;
	node->parts[2] = parts.latency_ppb;
	node->parts[3] = parts.stake_ppb;
}

static bool observation_consistent(const struct faii_settle_reputation_observation *obs)
{
	return obs->tasks_succeeded <= obs->tasks_dispatched &&
	       obs->latency_samples <= obs->tasks_dispatched &&
	       obs->heartbeats_seen <= obs->heartbeats_expected;
}

int faii_settle_reputation_observe(struct faii_settle_reputation *state, uint32_t node_id,
                                   const struct faii_settle_reputation_observation *obs,
                                   uint64_t now_ms, uint64_t epoch)
{
	note_time(state, now_ms);
	if (!observation_consistent(obs)) {
		state->stats.refused[FAII_SETTLE_REPUTATION_REFUSED_INCONSISTENT]++;
		return -EINVAL;
	}
	struct rep_node *node = lookup_or_add(state, node_id, now_ms);
	if (node == NULL)
		return -ENOSPC;
	roll(node, now_ms);
	sums_add(&node->current.sums, obs);
	node->stake = obs->stake;
	node->last_epoch = epoch;
	recompute(state, node);
	node->decay_point_ms = now_ms;
	state->stats.observations++;
	bool closed = node->closed_pending;
	node->closed_pending = false;
	return closed ? 1 : 0;
}

int faii_settle_reputation_byzantine(struct faii_settle_reputation *state, uint32_t node_id,
                                     uint64_t now_ms)
{
	note_time(state, now_ms);
	struct rep_node *node = lookup_or_add(state, node_id, now_ms);
	if (node == NULL)
		return -ENOSPC;
	roll(node, now_ms);
	if (node->current.byzantine < UINT32_MAX)
		node->current.byzantine++;
	/* Halved now; later recomputes halve again while it is in the window. */
	node->score_ppb >>= 1;
	node->decay_point_ms = now_ms;
	state->stats.halvings++;
	return 0;
}

uint64_t faii_settle_reputation_decay_step(uint64_t score_ppb, uint64_t keep_ppb)
{
	FAII_ASSERT(score_ppb <= PPB && keep_ppb < PPB);
	const uint64_t half = PPB / 2;
	uint64_t distance = score_ppb >= half ? score_ppb - half : half - score_ppb;
	uint64_t kept = (uint64_t)((unsigned __int128)distance * keep_ppb / PPB);
	/* Rounding moves towards 0.5, so the score reaches it exactly. */
	FAII_ASSERT(kept < distance || distance == 0);
	return score_ppb >= half ? half + kept : half - kept;
}

/* The weeks due for one node; returns the steps that changed its score. */
static uint64_t decay_node(const struct faii_settle_reputation *state, struct rep_node *node,
                           uint64_t now_ms)
{
	uint64_t weeks = (now_ms - node->decay_point_ms) / FAII_SETTLE_WEEK_MS;
	uint64_t steps = 0;
	for (uint64_t w = 0; w < weeks && node->score_ppb != FAII_SETTLE_PPB_ONE / 2; w++) {
		FAII_ASSERT(steps < FAII_SETTLE_REPUTATION_DECAY_STEPS_MAX);
		node->score_ppb = faii_settle_reputation_decay_step(node->score_ppb,
		                                                    state->params.decay_keep_ppb);
		steps++;
	}
	node->decay_point_ms += weeks * FAII_SETTLE_WEEK_MS;
	return steps;
}

uint64_t faii_settle_reputation_advance(struct faii_settle_reputation *state, uint64_t now_ms)
{
	note_time(state, now_ms);
	uint64_t steps = 0;
	for (uint32_t i = 0; i < state->count; i++)
		steps += decay_node(state, &state->nodes[i], now_ms);
	state->stats.decay_steps += steps;
	return steps;
}

static void view_of(const struct rep_node *node, struct faii_settle_reputation_view *view)
{
	memset(view, 0, sizeof(*view));
	view->node_id = node->node_id;
	view->score_ppb = node->score_ppb;
	view->success_ppb = node->parts[0];
	view->uptime_ppb = node->parts[1];
	view->latency_ppb = node->parts[2];
	view->stake_ppb = node->parts[3];
	view->byzantine = node->current.byzantine;
	if (node->previous.used && node->previous.month + 1 == node->current.month)
		view->byzantine += node->previous.byzantine;
	view->decay_point_ms = node->decay_point_ms;
	view->last_epoch = node->last_epoch;
	view->month = node->current.month;
	view->closed_valid = node->previous.used;
	view->closed_month = node->previous.month;
	view->closed_heartbeats_expected = node->previous.sums.heartbeats_expected;
	view->closed_heartbeats_seen = node->previous.sums.heartbeats_seen;
}

int faii_settle_reputation_get(const struct faii_settle_reputation *state, uint32_t node_id,
                               struct faii_settle_reputation_view *view)
{
	uint32_t entry = lookup(state, node_id);
	if (entry != IDTABLE_NONE) {
		view_of(&state->nodes[entry], view);
		return 0;
	}
	memset(view, 0, sizeof(*view));
	view->node_id = node_id;
	view->score_ppb = FAII_SETTLE_REPUTATION_START_PPB;
	view->success_ppb = view->uptime_ppb = view->latency_ppb = view->stake_ppb =
	        FAII_SETTLE_REPUTATION_NEUTRAL_PPB;
	return -ENOENT;
}

long faii_settle_reputation_list(const struct faii_settle_reputation *state,
                                 struct faii_settle_reputation_score *out, size_t cap)
{
	if (cap < state->count)
		return -ENOSPC;
	for (uint32_t i = 0; i < state->count; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].node_id = state->nodes[i].node_id;
		out[i].score_ppb = state->nodes[i].score_ppb;
	}
	idtable_sort_by_u32(out, state->count, sizeof(*out));
	return (long)state->count;
}

void faii_settle_reputation_get_stats(const struct faii_settle_reputation *state,
                                      struct faii_settle_reputation_stats *stats)
{
	*stats = state->stats;
}

void faii_settle_reputation_observation_from_work(const struct faii_settle_work_entry *entry,
                                                  uint64_t stake,
                                                  struct faii_settle_reputation_observation *obs)
{
	memset(obs, 0, sizeof(*obs));
	uint64_t hits = 0, answered = 0;
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++) {
		const struct faii_settle_work_tier *tier = &entry->tier[t];
		obs->tasks_dispatched = add_sat(obs->tasks_dispatched, tier->dispatched);
		obs->latency_sum_us = add_sat(obs->latency_sum_us, tier->latency_sum_us);
		hits += tier->slo_hits; /* four u32s: no overflow */
		answered += tier->answered;
	}
	uint64_t good = hits < answered ? hits : answered;
	obs->tasks_succeeded = good > entry->disagreements ? good - entry->disagreements : 0;
	obs->latency_samples = answered;
	obs->heartbeats_expected = entry->heartbeats_expected;
	obs->heartbeats_seen = entry->heartbeats_seen;
	obs->stake = stake;
}
