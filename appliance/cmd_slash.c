/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * slash.list, slash.show, slash.nodes, slash.vote, reputation.list,
 * reputation.show: slashing with disputes and DePX reputation as this
 * appliance's settlement sees them (docs/settlement.md, "Reputation",
 * "Slashing and disputes"; docs/control.md). Proposals are opened by the
 * dataplane's evidence path (SLASH_PROPOSAL), not from here; a validator
 * votes on a disputed one with slash.vote.
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/assert.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "settlement.h"

/* Attempts at sizing a node listing while nodes register meanwhile. */
#define NODE_LISTING_ATTEMPTS 4u
/* Rows added to the size just read, so that a registration meanwhile fits. */
#define NODE_LISTING_SLACK 64u

static struct faii_settle_slash_view views[CMD_SETTLE_ROWS_MAX + 1];

static json_t *slash_json(const struct faii_settle_slash_view *v)
{
	char digest[2 * FAII_SETTLE_DIGEST + 1];
	sodium_bin2hex(digest, sizeof(digest), v->evidence_digest, sizeof(v->evidence_digest));
	json_t *r = json_object();
	cmd_set_u64(r, "id", v->proposal_id);
	cmd_set_u64(r, "accused", v->accused);
	json_object_set_new(r, "offense", json_string(faii_settle_slash_offense_name(v->offense)));
	json_object_set_new(r, "state", json_string(faii_settle_slash_state_name(v->state)));
	json_object_set_new(r, "reporter",
	                    v->has_reporter ? json_integer((json_int_t)v->reporter_account)
	                                    : json_null());
	cmd_set_u64(r, "proposed_epoch", v->proposed_epoch);
	cmd_set_u64(r, "proposed_ms", v->proposed_ms);
	cmd_set_u64(r, "deadline_ms", v->deadline_ms);
	cmd_set_u64(r, "rate_ppb", v->rate_ppb);
	cmd_set_u64(r, "stake", v->stake);
	cmd_set_u64(r, "amount", v->amount);
	cmd_set_u64(r, "votes_uphold", v->votes_uphold);
	cmd_set_u64(r, "votes_dismiss", v->votes_dismiss);
	json_object_set_new(r, "evidence", json_string(digest));
	return r;
}

struct slash_list_read {
	uint64_t from;
	size_t count;
};

static void read_slash_list(void *ctx, const struct faii_settle_state *state)
{
	struct slash_list_read *r = ctx;
	/* One more than answered tells whether more follow. */
	r->count = faii_settle_slash_list(faii_settle_state_slash(state), r->from, views,
	                                  CMD_SETTLE_ROWS_MAX + 1);
}

json_t *cmd_slash_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"from", NULL};
	struct slash_list_read r = {.from = 1};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint_opt(args, "from", INT64_MAX, &r.from, err))
		return NULL;
	faii_settlement_read(c->settlement, read_slash_list, &r);
	bool more = r.count > CMD_SETTLE_ROWS_MAX;
	size_t shown = more ? CMD_SETTLE_ROWS_MAX : r.count;
	json_t *list = json_array();
	for (size_t k = 0; k < shown; k++)
		json_array_append_new(list, slash_json(&views[k]));
	return json_pack("{s:o, s:b, s:o}", "proposals", list, "truncated", more, "next",
	                 more ? json_integer((json_int_t)views[shown].proposal_id) : json_null());
}

struct slash_show_read {
	uint64_t id;
	int rc;
	struct faii_settle_slash_view view;
};

static void read_slash_show(void *ctx, const struct faii_settle_state *state)
{
	struct slash_show_read *r = ctx;
	r->rc = faii_settle_slash_get(faii_settle_state_slash(state), r->id, &r->view);
}

json_t *cmd_slash_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	struct slash_show_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "id", INT64_MAX, &r.id, err))
		return NULL;
	faii_settlement_read(c->settlement, read_slash_show, &r);
	if (r.rc != 0)
		return faii_ctl_fail(err, "not_found", "no slashing proposal %" PRIu64, r.id);
	return slash_json(&r.view);
}

json_t *cmd_slash_vote(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", "verdict", NULL};
	struct slash_show_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "id", INT64_MAX, &r.id, err))
		return NULL;
	const char *verdict = json_string_value(json_object_get(args, "verdict"));
	if (verdict == NULL || (strcmp(verdict, "uphold") != 0 && strcmp(verdict, "dismiss") != 0))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"verdict\": expected \"uphold\" or \"dismiss\"");
	faii_settlement_read(c->settlement, read_slash_show, &r);
	if (r.rc != 0)
		return faii_ctl_fail(err, "not_found", "no slashing proposal %" PRIu64, r.id);
	/* Settlement refuses a vote on one that is not disputed: say so now. */
	if (r.view.state != FAII_SETTLE_SLASH_DISPUTED)
		return faii_ctl_fail(err, "conflict",
		                     "proposal %" PRIu64 " is %s: validators vote only on a "
		                     "disputed proposal",
		                     r.id, faii_settle_slash_state_name(r.view.state));
	struct faii_settle_dispute_vote_tx vote = {
	        .proposal_id = r.id,
	        .verdict = strcmp(verdict, "uphold") == 0 ? FAII_SETTLE_SLASH_UPHOLD
	                                                  : FAII_SETTLE_SLASH_DISMISS,
	};
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_SLASH_VOTE_BODY];
	uint32_t len = 0;
	FAII_ASSERT(faii_settle_dispute_vote_tx_encode(&vote, tx, sizeof(tx), &len) == 0);
	json_t *result = cmd_settle_submit(c, tx, len, err);
	if (result != NULL) {
		cmd_set_u64(result, "proposal", r.id);
		json_object_set_new(result, "verdict", json_string(verdict));
	}
	return result;
}

/* ---- node listings: slash.nodes, reputation.list ------------------------------------------ */

/*
 * Both listing functions answer every node or nothing (-ENOSPC), so the
 * rows are copied into a buffer sized from the node count read just before,
 * then paged here. Registered nodes bound both (a node is observed or
 * accused only once registered), so the buffer is at most nodes_max rows.
 */
struct node_listing {
	bool reputation;   /* else slashing's accused nodes */
	bool slashed_only; /* slash.nodes --slashed */
	void *rows;
	size_t cap;
	size_t need; /* the node count seen under the lock */
	long count;
};

static void read_node_listing(void *ctx, const struct faii_settle_state *state)
{
	struct node_listing *l = ctx;
	struct faii_settle_stats stats;
	faii_settle_get_stats(state, &stats);
	l->need = stats.nodes;
	l->count = -ENOSPC;
	if (l->cap < l->need)
		return;
	if (l->reputation)
		l->count = faii_settle_reputation_list(faii_settle_state_reputation(state), l->rows,
		                                       l->cap);
	else
		l->count = faii_settle_slash_nodes(faii_settle_state_slash(state), l->slashed_only,
		                                   l->rows, l->cap);
}

/* 0 and l->rows (the caller frees), or -ENOMEM / -ENOSPC. */
static int node_listing_copy(struct faii_control *c, struct node_listing *l, size_t row_bytes)
{
	for (uint32_t attempt = 0; attempt < NODE_LISTING_ATTEMPTS; attempt++) {
		faii_settlement_read(c->settlement, read_node_listing, l);
		if (l->count >= 0)
			return 0;
		free(l->rows);
		l->cap = l->need + NODE_LISTING_SLACK;
		l->rows = calloc(l->cap, row_bytes);
		if (l->rows == NULL)
			return -ENOMEM;
	}
	return -ENOSPC;
}

static json_t *node_listing_fail(int rc, struct faii_ctl_error *err)
{
	return faii_ctl_fail(err, rc == -ENOMEM ? "internal" : "busy",
	                     rc == -ENOMEM ? "out of memory for the node listing"
	                                   : "nodes registered faster than they could be "
	                                     "listed; try again");
}

static json_t *slash_node_json(const struct faii_settle_slash_node_view *v)
{
	return json_pack("{s:I, s:b, s:I, s:I, s:I, s:I}", "node", (json_int_t)v->node_id,
	                 "slashed", v->slashed, "open", (json_int_t)v->open, "escrow",
	                 (json_int_t)v->escrow, "stake", (json_int_t)v->stake, "stake_needed",
	                 (json_int_t)v->stake_needed);
}

_Static_assert(offsetof(struct faii_settle_slash_node_view, node_id) == 0, "node id first");
_Static_assert(offsetof(struct faii_settle_reputation_score, node_id) == 0, "node id first");

static uint32_t row_node(const uint8_t *row)
{
	uint32_t node;
	memcpy(&node, row, sizeof(node));
	return node;
}

/* The page of `rows` (sorted by node id, node id first) from node `from` on. */
static json_t *node_page(const void *rows, size_t count, size_t row_bytes, uint64_t from,
                         const char *key, json_t *(*row_json)(const void *row))
{
	const uint8_t *bytes = rows;
	size_t first = 0;
	while (first < count && row_node(bytes + first * row_bytes) < from)
		first++;
	size_t shown = count - first < CMD_SETTLE_ROWS_MAX ? count - first : CMD_SETTLE_ROWS_MAX;
	json_t *list = json_array();
	for (size_t k = first; k < first + shown; k++)
		json_array_append_new(list, row_json(bytes + k * row_bytes));
	bool more = first + shown < count;
	uint32_t next = more ? row_node(bytes + (first + shown) * row_bytes) : 0;
	return json_pack("{s:o, s:I, s:b, s:o}", key, list, "total", (json_int_t)count, "truncated",
	                 more, "next", more ? json_integer((json_int_t)next) : json_null());
}

static json_t *slash_node_row(const void *row)
{
	return slash_node_json(row);
}

json_t *cmd_slash_nodes(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"slashed", "from", NULL};
	struct node_listing l = {0};
	uint64_t from = 0;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_bool(args, "slashed", &l.slashed_only, err) ||
	    !cmd_arg_uint_opt(args, "from", UINT32_MAX, &from, err))
		return NULL;
	int rc = node_listing_copy(c, &l, sizeof(struct faii_settle_slash_node_view));
	json_t *result = rc == 0 ? node_page(l.rows, (size_t)l.count,
	                                     sizeof(struct faii_settle_slash_node_view), from,
	                                     "nodes", slash_node_row)
	                         : node_listing_fail(rc, err);
	free(l.rows);
	return result;
}

static json_t *reputation_row(const void *row)
{
	const struct faii_settle_reputation_score *s = row;
	char decimal[24];
	snprintf(decimal, sizeof(decimal), "%" PRIu64 ".%09" PRIu64,
	         s->score_ppb / (uint64_t)FAII_SETTLE_PPB_ONE,
	         s->score_ppb % (uint64_t)FAII_SETTLE_PPB_ONE);
	return json_pack("{s:I, s:I, s:s}", "node", (json_int_t)s->node_id, "score_ppb",
	                 (json_int_t)s->score_ppb, "score", decimal);
}

json_t *cmd_reputation_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"from", NULL};
	struct node_listing l = {.reputation = true};
	uint64_t from = 0;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint_opt(args, "from", UINT32_MAX, &from, err))
		return NULL;
	int rc = node_listing_copy(c, &l, sizeof(struct faii_settle_reputation_score));
	json_t *result = rc == 0 ? node_page(l.rows, (size_t)l.count,
	                                     sizeof(struct faii_settle_reputation_score), from,
	                                     "nodes", reputation_row)
	                         : node_listing_fail(rc, err);
	free(l.rows);
	return result;
}

struct reputation_show_read {
	uint32_t node;
	int rc;
	struct faii_settle_reputation_view view;
};

static void read_reputation_show(void *ctx, const struct faii_settle_state *state)
{
	struct reputation_show_read *r = ctx;
	r->rc = faii_settle_reputation_get(faii_settle_state_reputation(state), r->node, &r->view);
}

json_t *cmd_reputation_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"node", NULL};
	uint64_t node = 0;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "node", UINT32_MAX, &node, err))
		return NULL;
	struct reputation_show_read r = {.node = (uint32_t)node};
	faii_settlement_read(c->settlement, read_reputation_show, &r);
	const struct faii_settle_reputation_view *v = &r.view;
	json_t *result = reputation_row(&(struct faii_settle_reputation_score){
	        .node_id = (uint32_t)node, .score_ppb = v->score_ppb});
	json_object_set_new(result, "known", json_boolean(r.rc == 0));
	cmd_set_u64(result, "success_ppb", v->success_ppb);
	cmd_set_u64(result, "uptime_ppb", v->uptime_ppb);
	cmd_set_u64(result, "latency_ppb", v->latency_ppb);
	cmd_set_u64(result, "stake_ppb", v->stake_ppb);
	cmd_set_u64(result, "byzantine", v->byzantine);
	cmd_set_u64(result, "decay_point_ms", v->decay_point_ms);
	cmd_set_u64(result, "last_epoch", v->last_epoch);
	cmd_set_u64(result, "month", v->month);
	json_object_set_new(
	        result, "closed_month",
	        v->closed_valid ? json_pack("{s:I, s:I, s:I}", "month", (json_int_t)v->closed_month,
	                                    "expected", (json_int_t)v->closed_heartbeats_expected,
	                                    "seen", (json_int_t)v->closed_heartbeats_seen)
	                        : json_null());
	return result;
}
