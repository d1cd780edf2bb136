/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gov.list, gov.show, gov.params, gov.propose, gov.vote: the consortium's
 * governance as this appliance's settlement sees it, and proposals and
 * votes submitted through its validator (docs/settlement.md, "Governance";
 * docs/control.md). Everything is copied out under the settlement lock
 * (faii_settlement_read) into bounded buffers, then rendered outside it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cmd.h"
#include "faii/assert.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "settlement.h"

/* The control thread is single: one listing's copy at a time. */
static struct faii_settle_gov_proposal proposals[CMD_SETTLE_ROWS_MAX];

struct gov_list_read {
	uint64_t after;
	uint32_t count;
	bool more;
	uint64_t epoch;
	struct faii_settle_gov counters; /* the counters only: the pointers are not followed */
};

static void read_gov_list(void *ctx, const struct faii_settle_state *state)
{
	struct gov_list_read *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	struct faii_settle_gov_proposal beyond;
	r->count = faii_settle_gov_list(gov, r->after, proposals, CMD_SETTLE_ROWS_MAX);
	r->more = r->count == CMD_SETTLE_ROWS_MAX &&
	          faii_settle_gov_list(gov, proposals[r->count - 1].id, &beyond, 1) == 1;
	r->counters = *gov;
	struct faii_settle_stats stats;
	faii_settle_get_stats(state, &stats);
	r->epoch = stats.current_epoch;
}

static json_t *validators_json(uint32_t mask)
{
	json_t *list = json_array();
	for (uint32_t v = 0; v < 32; v++)
		if (mask & (1u << v))
			json_array_append_new(list, json_integer(v));
	return list;
}

json_t *cmd_gov_change_json(uint32_t param, uint64_t value)
{
	const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(param);
	json_t *change = json_object();
	cmd_set_u64(change, "id", param);
	json_object_set_new(change, "param", json_string(info ? info->name : "unknown"));
	cmd_set_u64(change, "value", value);
	json_object_set_new(change, "unit", json_string(info ? info->unit : ""));
	return change;
}

static json_t *proposal_json(const struct faii_settle_gov_proposal *p)
{
	json_t *r = json_object();
	cmd_set_u64(r, "id", p->id);
	cmd_set_u64(r, "proposer", p->proposer);
	cmd_set_u64(r, "proposed_epoch", p->proposed_epoch);
	cmd_set_u64(r, "effective_epoch", p->effective_epoch);
	json_object_set_new(
	        r, "status",
	        json_string(faii_settle_gov_status_name((enum faii_settle_gov_status)p->status)));
	cmd_set_u64(r, "votes_for", (uint64_t)__builtin_popcount(p->votes_for));
	cmd_set_u64(r, "votes_against", (uint64_t)__builtin_popcount(p->votes_against));
	json_object_set_new(r, "voted_for", validators_json(p->votes_for));
	json_object_set_new(r, "voted_against", validators_json(p->votes_against));
	if (p->status != FAII_GOV_OPEN)
		cmd_set_u64(r, "closed_epoch", p->closed_epoch);
	if (p->status == FAII_GOV_FAILED)
		json_object_set_new(r, "failed_reason",
		                    json_string(faii_settle_gov_reason_name(
		                            (enum faii_settle_gov_reason)p->failed_reason)));
	json_t *changes = json_array();
	for (uint32_t k = 0; k < p->change_count && k < FAII_SETTLE_GOV_CHANGES_MAX; k++)
		json_array_append_new(
		        changes, cmd_gov_change_json(p->changes[k].param, p->changes[k].value));
	json_object_set_new(r, "changes", changes);
	return r;
}

static json_t *gov_counters_json(const struct faii_settle_gov *g)
{
	json_t *refused = json_object();
	for (int k = 1; k < FAII_GOV_R_COUNT; k++)
		cmd_set_u64(refused, faii_settle_gov_reason_name((enum faii_settle_gov_reason)k),
		            g->refused[k]);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "proposals_accepted",
	                 (json_int_t)g->proposals_accepted, "votes_accepted",
	                 (json_int_t)g->votes_accepted, "adopted", (json_int_t)g->adopted,
	                 "rejected", (json_int_t)g->rejected, "expired", (json_int_t)g->expired,
	                 "failed", (json_int_t)g->failed, "refused", refused);
}

json_t *cmd_gov_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"after", NULL};
	struct gov_list_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint_opt(args, "after", INT64_MAX, &r.after, err))
		return NULL;
	faii_settlement_read(c->settlement, read_gov_list, &r);
	json_t *list = json_array();
	for (uint32_t k = 0; k < r.count; k++)
		json_array_append_new(list, proposal_json(&proposals[k]));
	json_t *result = json_object();
	cmd_set_u64(result, "current_epoch", r.epoch);
	json_object_set_new(result, "proposals", list);
	json_object_set_new(result, "truncated", json_boolean(r.more));
	json_object_set_new(result, "next",
	                    r.more ? json_integer((json_int_t)proposals[r.count - 1].id)
	                           : json_null());
	json_object_set_new(result, "counters", gov_counters_json(&r.counters));
	return result;
}

struct gov_show_read {
	uint64_t id;
	bool found;
	uint32_t validators, quorum;
	struct faii_settle_gov_proposal proposal;
};

static void read_gov_show(void *ctx, const struct faii_settle_state *state)
{
	struct gov_show_read *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	const struct faii_settle_gov_proposal *p = faii_settle_gov_find(gov, r->id);
	r->found = p != NULL;
	if (p != NULL)
		r->proposal = *p;
	uint64_t set = 0;
	if (faii_settle_gov_value_at(gov, FAII_GOV_P_VALIDATOR_SET, gov->epoch, &set) == 0) {
		r->validators = (uint32_t)__builtin_popcountll(set);
		r->quorum = faii_settle_gov_quorum(r->validators);
	}
}

json_t *cmd_gov_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	struct gov_show_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "id", INT64_MAX, &r.id, err))
		return NULL;
	faii_settlement_read(c->settlement, read_gov_show, &r);
	if (!r.found)
		return faii_ctl_fail(err, "not_found",
		                     "no governance proposal %" PRIu64
		                     " (gov.list lists the %u kept, open and closed)",
		                     r.id, FAII_SETTLE_GOV_PROPOSALS_MAX);
	json_t *result = proposal_json(&r.proposal);
	cmd_set_u64(result, "validators", r.validators);
	cmd_set_u64(result, "quorum", r.quorum);
	cmd_set_u64(result, "reject_at", r.validators - r.quorum + 1);
	return result;
}

/* ---- gov.params ------------------------------------------------------------------------ */

struct param_row {
	uint64_t value, genesis, lo, hi;
	bool range_known;
};

struct gov_params_read {
	uint64_t epoch; /* UINT64_MAX: the current one */
	int rc;
	struct param_row rows[FAII_GOV_P_END];
};

static void read_gov_params(void *ctx, const struct faii_settle_state *state)
{
	struct gov_params_read *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	if (r->epoch == UINT64_MAX) {
		struct faii_settle_stats stats;
		faii_settle_get_stats(state, &stats);
		r->epoch = stats.current_epoch;
	}
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++) {
		struct param_row *row = &r->rows[id];
		r->rc = faii_settle_gov_value_at(gov, id, r->epoch, &row->value);
		if (r->rc != 0)
			return;
		row->genesis = gov->config.genesis[id];
		row->range_known =
		        faii_settle_gov_step_range(gov, id, r->epoch, &row->lo, &row->hi) == 0;
	}
}

static json_t *param_json(uint32_t id, const struct param_row *row)
{
	const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
	json_t *p = json_object();
	cmd_set_u64(p, "id", id);
	json_object_set_new(p, "name", json_string(info->name));
	json_object_set_new(p, "unit", json_string(info->unit));
	cmd_set_u64(p, "value", row->value);
	cmd_set_u64(p, "genesis", row->genesis);
	cmd_set_u64(p, "default", info->default_value);
	cmd_set_u64(p, "min", info->min);
	cmd_set_u64(p, "max", info->max);
	json_object_set_new(p, "may_set",
	                    row->range_known
	                            ? json_pack("[I, I]", (json_int_t)row->lo, (json_int_t)row->hi)
	                            : json_null());
	return p;
}

json_t *cmd_gov_params(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"epoch", NULL};
	static struct gov_params_read r;
	r.epoch = UINT64_MAX;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint_opt(args, "epoch", INT64_MAX, &r.epoch, err))
		return NULL;
	faii_settlement_read(c->settlement, read_gov_params, &r);
	if (r.rc == -ERANGE)
		return faii_ctl_fail(err, "out_of_range",
		                     "epoch %" PRIu64 " is older than the history governance "
		                     "keeps (older changes were folded)",
		                     r.epoch);
	json_t *params = json_array();
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		json_array_append_new(params, param_json(id, &r.rows[id]));
	json_t *result = json_object();
	cmd_set_u64(result, "epoch", r.epoch);
	json_object_set_new(result, "params", params);
	return result;
}

/* ---- gov.propose, gov.vote -------------------------------------------------------------- */

/* What governance would answer now, checked before submitting: the epoch's
 * notice and horizon and each value's step range. Advisory: the committed
 * sequence decides (a change adopted meanwhile may still refuse it). */
struct propose_check {
	const struct faii_settle_tx_gov_proposal *proposal;
	uint64_t current_epoch, notice, horizon;
	int bad_change; /* -1: none */
	uint64_t lo, hi;
	int rc; /* of faii_settle_gov_step_range */
};

static void read_propose_check(void *ctx, const struct faii_settle_state *state)
{
	struct propose_check *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	struct faii_settle_stats stats;
	faii_settle_get_stats(state, &stats);
	r->current_epoch = stats.current_epoch;
	r->notice = gov->config.notice_epochs;
	r->horizon = gov->config.horizon_epochs;
	r->bad_change = -1;
	const struct faii_settle_tx_gov_proposal *p = r->proposal;
	for (uint32_t k = 0; k < p->change_count; k++) {
		const struct faii_settle_gov_change *change = &p->changes[k];
		r->rc = faii_settle_gov_step_range(gov, change->param, p->effective_epoch, &r->lo,
		                                   &r->hi);
		if (r->rc != 0 || change->value < r->lo || change->value > r->hi) {
			r->bad_change = (int)k;
			return;
		}
	}
}

/* True (and err) when governance would refuse the proposal now. */
static bool propose_refused(const struct propose_check *r, struct faii_ctl_error *err)
{
	const struct faii_settle_tx_gov_proposal *p = r->proposal;
	if (p->effective_epoch < r->current_epoch + r->notice ||
	    p->effective_epoch > r->current_epoch + r->horizon) {
		faii_ctl_fail(err, "out_of_range",
		              "argument \"epoch\": expected %" PRIu64 "..%" PRIu64
		              " (the current epoch %" PRIu64 " + %" PRIu64
		              " of notice, at most %" PRIu64 " ahead)",
		              r->current_epoch + r->notice, r->current_epoch + r->horizon,
		              r->current_epoch, r->notice, r->horizon);
		return true;
	}
	if (r->bad_change < 0)
		return false;
	const struct faii_settle_gov_change *change = &p->changes[r->bad_change];
	const char *name = faii_settle_gov_param_info(change->param)->name;
	if (r->rc != 0)
		faii_ctl_fail(err, "out_of_range",
		              "%s: epoch %" PRIu64 " is older than governance's history", name,
		              p->effective_epoch);
	else
		faii_ctl_fail(err, "step_cap_exceeded",
		              "%s: %" PRIu64 " is beyond the step cap; a proposal effective at "
		              "epoch %" PRIu64 " may set %" PRIu64 "..%" PRIu64
		              " (gov.params EPOCH shows it)",
		              name, change->value, p->effective_epoch, r->lo, r->hi);
	return true;
}

/* args.changes {"name": value, ...} into the proposal's changes. */
static bool parse_changes(json_t *args, struct faii_settle_tx_gov_proposal *p,
                          struct faii_ctl_error *err)
{
	json_t *changes = json_object_get(args, "changes"), *value;
	const char *name;
	if (!json_is_object(changes) || json_object_size(changes) == 0 ||
	    json_object_size(changes) > FAII_SETTLE_GOV_CHANGES_MAX) {
		faii_ctl_fail(err, "invalid_argument",
		              "argument \"changes\": expected an object of 1..%u "
		              "{\"parameter\": value} (gov.params names them)",
		              FAII_SETTLE_GOV_CHANGES_MAX);
		return false;
	}
	json_object_foreach(changes, name, value)
	{
		uint32_t id = faii_settle_gov_param_by_name(name);
		const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
		if (info == NULL) {
			faii_ctl_fail(err, "invalid_argument",
			              "no governed parameter \"%.64s\" (gov.params lists them)",
			              name);
			return false;
		}
		json_t *one = json_pack("{s:O}", name, value);
		bool ok =
		        cmd_arg_uint(one, name, info->max, &p->changes[p->change_count].value, err);
		json_decref(one);
		if (!ok)
			return false;
		if (p->changes[p->change_count].value < info->min) {
			faii_ctl_fail(err, "out_of_range",
			              "%s: expected %" PRIu64 "..%" PRIu64 " %s, found %" PRIu64,
			              name, info->min, info->max, info->unit,
			              p->changes[p->change_count].value);
			return false;
		}
		p->changes[p->change_count++].param = id;
	}
	return true;
}

json_t *cmd_gov_submit_proposal(struct faii_control *c,
                                const struct faii_settle_tx_gov_proposal *proposal,
                                struct faii_ctl_error *err)
{
	struct propose_check check = {.proposal = proposal};
	faii_settlement_read(c->settlement, read_propose_check, &check);
	if (propose_refused(&check, err))
		return NULL;
	uint8_t tx[FAII_SETTLE_GOV_PROPOSAL_TX_MAX];
	uint32_t len = 0;
	if (faii_settle_gov_proposal_encode(proposal, tx, sizeof(tx), &len) != 0)
		return faii_ctl_fail(err, "internal", "the proposal does not encode");
	json_t *result = cmd_settle_submit(c, tx, len, err);
	if (result == NULL)
		return NULL;
	cmd_set_u64(result, "effective_epoch", proposal->effective_epoch);
	json_t *changes = json_array();
	for (uint32_t k = 0; k < proposal->change_count; k++)
		json_array_append_new(changes, cmd_gov_change_json(proposal->changes[k].param,
		                                                   proposal->changes[k].value));
	json_object_set_new(result, "changes", changes);
	return result;
}

json_t *cmd_gov_propose(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"changes", "epoch", NULL};
	struct faii_settle_tx_gov_proposal proposal = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "epoch", INT64_MAX, &proposal.effective_epoch, err) ||
	    !parse_changes(args, &proposal, err))
		return NULL;
	return cmd_gov_submit_proposal(c, &proposal, err);
}

struct vote_check {
	uint64_t id;
	bool found;
	uint8_t status;
};

static void read_vote_check(void *ctx, const struct faii_settle_state *state)
{
	struct vote_check *r = ctx;
	const struct faii_settle_gov_proposal *p =
	        faii_settle_gov_find(faii_settle_state_gov(state), r->id);
	r->found = p != NULL;
	r->status = p != NULL ? p->status : 0;
}

json_t *cmd_gov_vote(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", "vote", NULL};
	struct vote_check check = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "id", INT64_MAX, &check.id, err))
		return NULL;
	const char *vote = json_string_value(json_object_get(args, "vote"));
	if (vote == NULL || (strcmp(vote, "yes") != 0 && strcmp(vote, "no") != 0))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"vote\": expected \"yes\" or \"no\"");
	faii_settlement_read(c->settlement, read_vote_check, &check);
	if (!check.found)
		return faii_ctl_fail(err, "not_found", "no governance proposal %" PRIu64, check.id);
	if (check.status != FAII_GOV_OPEN)
		return faii_ctl_fail(
		        err, "conflict", "proposal %" PRIu64 " is %s: votes are closed", check.id,
		        faii_settle_gov_status_name((enum faii_settle_gov_status)check.status));
	struct faii_settle_tx_gov_vote v = {.proposal_id = check.id,
	                                    .in_favour = strcmp(vote, "yes") == 0};
	uint8_t tx[FAII_SETTLE_GOV_VOTE_TX];
	uint32_t len = 0;
	FAII_ASSERT(faii_settle_gov_vote_encode(&v, tx, sizeof(tx), &len) == 0);
	json_t *result = cmd_settle_submit(c, tx, len, err);
	if (result != NULL) {
		cmd_set_u64(result, "proposal", check.id);
		json_object_set_new(result, "vote", json_string(vote));
	}
	return result;
}
