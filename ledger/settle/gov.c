/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Governance: parameter proposals, validator votes, the step cap and the
 * values in force at an epoch (include/faii/settle_gov.h,
 * docs/settlement.md "Governance").
 *
 * The values in force are the base values (from base_epoch on) overridden
 * by the adopted changes held in the history: at epoch e, a parameter has
 * the value of its latest change (by effective epoch, then adoption order)
 * with an effective epoch <= e. A check on a proposal evaluates the same
 * lookups with the proposal counted as adopted last (a "candidate"), so
 * that the step cap and the constraints hold over the whole schedule,
 * including changes adopted earlier for later epochs.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/limits.h"
#include "faii/settle_gov.h"

_Static_assert(FAII_SETTLE_GOV_VALIDATORS_MAX == FAII_CFG_VALIDATORS_MAX,
               "the validator-set parameter holds every configurable validator");
_Static_assert(FAII_SETTLE_GOV_VALIDATORS_MAX <= 32, "vote masks are uint32_t");

#define PPB FAII_SETTLE_PPB_ONE

/* A proposal being checked, as if adopted after everything in the history. */
struct candidate {
	uint64_t epoch;
	uint32_t count;
	const struct faii_settle_gov_change *changes;
};

static uint32_t popcount(uint64_t mask)
{
	return (uint32_t)__builtin_popcountll(mask);
}

/* The value of id at epoch (>= base_epoch), the candidate counted. */
static uint64_t lookup(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                       const struct candidate *cand)
{
	FAII_ASSERT(epoch >= gov->base_epoch);
	FAII_ASSERT(id > FAII_GOV_P_NONE && id < FAII_GOV_P_END);
	uint64_t value = gov->base[id], from = gov->base_epoch;
	/* Adoption order breaks ties of the effective epoch: the later wins. */
	for (uint32_t i = 0; i < gov->history_count; i++) {
		const struct faii_settle_gov_adopted *h = &gov->history[i];
		if (h->param == id && h->effective_epoch <= epoch && h->effective_epoch >= from) {
			value = h->value;
			from = h->effective_epoch;
		}
	}
	if (cand != NULL && cand->epoch <= epoch && cand->epoch >= from) {
		for (uint32_t i = 0; i < cand->count; i++)
			if (cand->changes[i].param == id)
				value = cand->changes[i].value;
	}
	return value;
}

static uint32_t members_at(const struct faii_settle_gov *gov, uint64_t epoch)
{
	return (uint32_t)lookup(gov, FAII_GOV_P_VALIDATOR_SET, epoch, NULL);
}

uint32_t faii_settle_gov_quorum(uint32_t validators)
{
	FAII_ASSERT(validators >= 1);
	uint32_t faults = (validators - 1) / 3;
	return validators - faults;
}

/* ---- the step cap ----------------------------------------------------------- */

static uint64_t period_start(const struct faii_settle_gov *gov, uint64_t epoch)
{
	return epoch / gov->config.period_epochs * gov->config.period_epochs;
}

/* The value a period inherits: in force at the epoch before its first. */
static uint64_t start_value(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                            const struct candidate *cand)
{
	uint64_t start = period_start(gov, epoch);
	return lookup(gov, id, start > 0 ? start - 1 : 0, cand);
}

/* How far one period may move a value that started at `start`. */
static uint64_t step_allowed(const struct faii_settle_gov_param_info *info, uint64_t start,
                             uint64_t cap_ppb)
{
	FAII_ASSERT(cap_ppb >= 1 && cap_ppb <= PPB);
	if (info->kind == FAII_GOV_KIND_COUNT)
		return 1;
	/* A value at 0 has no relative step: the cap of its range's width. */
	uint64_t of = start != 0 ? start : info->max - info->min;
	uint64_t allowed = 0;
	int rc = faii_settle_mul_ppb(of, cap_ppb, &allowed, NULL);
	FAII_ASSERT(rc == 0);
	return allowed > 0 ? allowed : 1;
}

static bool within_step(const struct faii_settle_gov_param_info *info, uint64_t start,
                        uint64_t value, uint64_t cap_ppb)
{
	if (info->kind == FAII_GOV_KIND_MASK)
		return popcount(start ^ value) <= 1;
	uint64_t diff = value > start ? value - start : start - value;
	return diff <= step_allowed(info, start, cap_ppb);
}

/* The value of id at epoch against its period's start, the candidate counted. */
static bool step_ok_at(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                       const struct candidate *cand)
{
	uint64_t cap = start_value(gov, FAII_GOV_P_STEP_MAX, epoch, cand);
	return within_step(faii_settle_gov_param_info(id), start_value(gov, id, epoch, cand),
	                   lookup(gov, id, epoch, cand), cap);
}

/*
 * Every epoch where id changes, from the period of the candidate's epoch
 * on, stays within the cap of its period's start.
 */
static bool step_ok(const struct faii_settle_gov *gov, uint32_t id, const struct candidate *cand)
{
	if (!step_ok_at(gov, id, cand->epoch, cand))
		return false;
	uint64_t from = period_start(gov, cand->epoch);
	for (uint32_t i = 0; i < gov->history_count; i++) {
		const struct faii_settle_gov_adopted *h = &gov->history[i];
		if (h->param == id && h->effective_epoch >= from &&
		    !step_ok_at(gov, id, h->effective_epoch, cand))
			return false;
	}
	return true;
}

static bool candidate_has(const struct candidate *cand, uint32_t id)
{
	for (uint32_t i = 0; i < cand->count; i++)
		if (cand->changes[i].param == id)
			return true;
	return false;
}

static bool schedule_step_ok(const struct faii_settle_gov *gov, const struct candidate *cand)
{
	/* A new cap changes every parameter's allowance from its period on. */
	bool all = candidate_has(cand, FAII_GOV_P_STEP_MAX);
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		if ((all || candidate_has(cand, id)) && !step_ok(gov, id, cand))
			return false;
	return true;
}

/* ---- constraints between parameters ------------------------------------------ */

enum group { GROUP_NONE, GROUP_THETA, GROUP_OMEGA, GROUP_VALIDATORS };

static enum group group_of(uint32_t id)
{
	if (id >= FAII_GOV_P_THETA0_1 && id < FAII_GOV_P_THETA0_1 + FAII_SETTLE_TIERS)
		return GROUP_THETA;
	if (id >= FAII_GOV_P_ESG_WEIGHT_1 && id < FAII_GOV_P_ESG_WEIGHT_1 + 4)
		return GROUP_OMEGA;
	return id == FAII_GOV_P_VALIDATOR_SET ? GROUP_VALIDATORS : GROUP_NONE;
}

/* Tier factors increase with the tier (FAII 4.4); the ESG weights sum to 1
 * (41); a committee is one validator or n >= 4 (= 3f + 1, f >= 1). */
static bool values_ok(enum group group, const uint64_t *v)
{
	switch (group) {
	case GROUP_THETA:
		for (uint32_t t = 1; t < FAII_SETTLE_TIERS; t++)
			if (v[t] <= v[t - 1])
				return false;
		return true;
	case GROUP_OMEGA: return v[0] + v[1] + v[2] + v[3] == PPB;
	case GROUP_VALIDATORS: return popcount(v[0]) == 1 || popcount(v[0]) >= 4;
	case GROUP_NONE: return true;
	}
	FAII_UNREACHABLE();
}

static uint32_t group_first(enum group group)
{
	return group == GROUP_THETA   ? FAII_GOV_P_THETA0_1
	       : group == GROUP_OMEGA ? FAII_GOV_P_ESG_WEIGHT_1
	                              : FAII_GOV_P_VALIDATOR_SET;
}

static uint32_t group_size(enum group group)
{
	return group == GROUP_THETA ? FAII_SETTLE_TIERS : group == GROUP_OMEGA ? 4 : 1;
}

static bool group_ok_at(const struct faii_settle_gov *gov, enum group group, uint64_t epoch,
                        const struct candidate *cand)
{
	uint64_t v[FAII_SETTLE_TIERS];
	for (uint32_t i = 0; i < group_size(group); i++)
		v[i] = lookup(gov, group_first(group) + i, epoch, cand);
	return values_ok(group, v);
}

/* The group holds at the candidate's epoch and wherever it changes later. */
static bool group_ok(const struct faii_settle_gov *gov, enum group group,
                     const struct candidate *cand)
{
	if (!group_ok_at(gov, group, cand->epoch, cand))
		return false;
	for (uint32_t i = 0; i < gov->history_count; i++) {
		const struct faii_settle_gov_adopted *h = &gov->history[i];
		if (group_of(h->param) == group && h->effective_epoch > cand->epoch &&
		    !group_ok_at(gov, group, h->effective_epoch, cand))
			return false;
	}
	return true;
}

static bool schedule_constraints_ok(const struct faii_settle_gov *gov, const struct candidate *cand)
{
	static const enum group groups[] = {GROUP_THETA, GROUP_OMEGA, GROUP_VALIDATORS};
	for (uint32_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		bool touched = false;
		for (uint32_t i = 0; i < cand->count; i++)
			touched |= group_of(cand->changes[i].param) == groups[g];
		if (touched && !group_ok(gov, groups[g], cand))
			return false;
	}
	return true;
}

static enum faii_settle_gov_reason schedule_check(const struct faii_settle_gov *gov,
                                                  const struct candidate *cand)
{
	if (!schedule_step_ok(gov, cand))
		return FAII_GOV_R_STEP_CAP;
	if (!schedule_constraints_ok(gov, cand))
		return FAII_GOV_R_CONSTRAINT;
	return FAII_GOV_R_OK;
}

/* ---- the state ------------------------------------------------------------- */

size_t faii_settle_gov_bytes(const struct faii_settle_gov_config *config)
{
	return sizeof(struct faii_settle_gov) +
	       (size_t)config->proposals_max * sizeof(struct faii_settle_gov_proposal) +
	       (size_t)config->history_max * sizeof(struct faii_settle_gov_adopted);
}

static bool config_ok(const struct faii_settle_gov_config *c)
{
	if (c->proposals_max < 1 || c->proposals_max > FAII_SETTLE_GOV_PROPOSALS_MAX ||
	    c->history_max < FAII_SETTLE_GOV_CHANGES_MAX ||
	    c->history_max > FAII_SETTLE_GOV_HISTORY_MAX || c->period_epochs < 1 ||
	    c->notice_epochs < 1 || c->horizon_epochs < c->notice_epochs ||
	    c->horizon_epochs > FAII_SETTLE_GOV_HORIZON_EPOCHS_MAX)
		return false;
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++) {
		const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
		if (c->genesis[id] < info->min || c->genesis[id] > info->max)
			return false;
	}
	static const enum group groups[] = {GROUP_THETA, GROUP_OMEGA, GROUP_VALIDATORS};
	for (uint32_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		if (!values_ok(groups[g], &c->genesis[group_first(groups[g])]))
			return false;
	return true;
}

int faii_settle_gov_init(void *mem, size_t bytes, const struct faii_settle_gov_config *config,
                         struct faii_settle_gov **out)
{
	FAII_ASSERT(mem != NULL && out != NULL);
	FAII_ASSERT((uintptr_t)mem % _Alignof(struct faii_settle_gov) == 0);
	if (!config_ok(config) || bytes < faii_settle_gov_bytes(config))
		return -EINVAL;
	memset(mem, 0, faii_settle_gov_bytes(config));
	struct faii_settle_gov *gov = mem;
	gov->config = *config;
	memcpy(gov->base, config->genesis, sizeof(gov->base));
	gov->proposals = (struct faii_settle_gov_proposal *)(gov + 1);
	gov->history = (struct faii_settle_gov_adopted *)(gov->proposals + config->proposals_max);
	*out = gov;
	return 0;
}

/* ---- folding the history ---------------------------------------------------- */

/*
 * Folds the changes in force by the previous period's start into the base
 * values: queries from there on stay exact (the current period's start
 * value, the epoch settlement is closing), older ones answer -ERANGE.
 */
static void fold(struct faii_settle_gov *gov)
{
	uint64_t current_start = period_start(gov, gov->epoch);
	if (current_start < gov->config.period_epochs)
		return;
	uint64_t boundary = current_start - gov->config.period_epochs;
	if (boundary <= gov->base_epoch)
		return;
	faii_settle_gov_values folded;
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		folded[id] = lookup(gov, id, boundary, NULL);
	uint32_t kept = 0;
	for (uint32_t i = 0; i < gov->history_count; i++) {
		if (gov->history[i].effective_epoch > boundary)
			gov->history[kept++] = gov->history[i];
		else
			gov->folded++;
	}
	gov->history_count = kept;
	memcpy(&gov->base[1], &folded[1], FAII_SETTLE_GOV_PARAMS * sizeof(uint64_t));
	gov->base_epoch = boundary;
}

/* ---- proposals ---------------------------------------------------------------- */

static struct faii_settle_gov_proposal *find(const struct faii_settle_gov *gov, uint64_t id)
{
	uint32_t lo = 0, hi = gov->proposal_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (gov->proposals[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < gov->proposal_count && gov->proposals[lo].id == id ? &gov->proposals[lo] : NULL;
}

const struct faii_settle_gov_proposal *faii_settle_gov_find(const struct faii_settle_gov *gov,
                                                            uint64_t id)
{
	return find(gov, id);
}

static void close_proposal(struct faii_settle_gov *gov, struct faii_settle_gov_proposal *p,
                           enum faii_settle_gov_status status, enum faii_settle_gov_reason why)
{
	FAII_ASSERT(p->status == FAII_GOV_OPEN && status != FAII_GOV_OPEN);
	p->status = (uint8_t)status;
	p->failed_reason = (uint8_t)why;
	p->closed_epoch = gov->epoch;
	gov->adopted += status == FAII_GOV_ADOPTED;
	gov->rejected += status == FAII_GOV_REJECTED;
	gov->expired += status == FAII_GOV_EXPIRED;
	gov->failed += status == FAII_GOV_FAILED;
}

/* n - f votes for: re-checked against what was adopted meanwhile, then in. */
static void adopt(struct faii_settle_gov *gov, struct faii_settle_gov_proposal *p)
{
	struct candidate cand = {p->effective_epoch, p->change_count, p->changes};
	enum faii_settle_gov_reason why = schedule_check(gov, &cand);
	if (why == FAII_GOV_R_OK && gov->history_count + p->change_count > gov->config.history_max)
		fold(gov);
	if (why == FAII_GOV_R_OK && gov->history_count + p->change_count > gov->config.history_max)
		why = FAII_GOV_R_HISTORY_FULL;
	if (why != FAII_GOV_R_OK) {
		close_proposal(gov, p, FAII_GOV_FAILED, why);
		return;
	}
	for (uint32_t i = 0; i < p->change_count; i++)
		gov->history[gov->history_count++] = (struct faii_settle_gov_adopted){
		        .proposal_id = p->id,
		        .effective_epoch = p->effective_epoch,
		        .adopted_epoch = gov->epoch,
		        .param = p->changes[i].param,
		        .value = p->changes[i].value,
		};
	close_proposal(gov, p, FAII_GOV_ADOPTED, FAII_GOV_R_OK);
}

/* Counts the votes of the validators in force now: adopt, reject or wait. */
static void evaluate(struct faii_settle_gov *gov, struct faii_settle_gov_proposal *p,
                     uint32_t members)
{
	FAII_ASSERT(p->status == FAII_GOV_OPEN);
	uint32_t n = popcount(members);
	uint32_t quorum = faii_settle_gov_quorum(n);
	uint32_t votes_for = popcount(p->votes_for & members);
	uint32_t votes_against = popcount(p->votes_against & members);
	FAII_ASSERT(votes_for + votes_against <= n);
	if (votes_for >= quorum)
		adopt(gov, p);
	else if (votes_against >= n - quorum + 1) /* f + 1: n - f can no longer be reached */
		close_proposal(gov, p, FAII_GOV_REJECTED, FAII_GOV_R_OK);
}

void faii_settle_gov_tick(struct faii_settle_gov *gov, uint64_t epoch)
{
	FAII_ASSERT(epoch >= gov->epoch); /* the state machine's epochs never go back */
	gov->epoch = epoch;
	uint32_t members = members_at(gov, epoch);
	for (uint32_t i = 0; i < gov->proposal_count; i++) {
		struct faii_settle_gov_proposal *p = &gov->proposals[i];
		if (p->status != FAII_GOV_OPEN)
			continue;
		if (p->effective_epoch <= epoch)
			close_proposal(gov, p, FAII_GOV_EXPIRED, FAII_GOV_R_OK);
		else
			evaluate(gov, p, members);
	}
}

static bool is_member(const struct faii_settle_gov *gov, uint32_t validator)
{
	return validator < FAII_SETTLE_GOV_VALIDATORS_MAX &&
	       (members_at(gov, gov->epoch) >> validator & 1u) != 0;
}

/* The changes themselves: known, once each, in range. */
static enum faii_settle_gov_reason changes_check(const struct faii_settle_tx_gov_proposal *p)
{
	FAII_ASSERT(p->change_count >= 1 && p->change_count <= FAII_SETTLE_GOV_CHANGES_MAX);
	for (uint32_t i = 0; i < p->change_count; i++) {
		const struct faii_settle_gov_param_info *info =
		        faii_settle_gov_param_info(p->changes[i].param);
		if (info == NULL)
			return FAII_GOV_R_UNKNOWN_PARAM;
		for (uint32_t j = 0; j < i; j++)
			if (p->changes[j].param == p->changes[i].param)
				return FAII_GOV_R_REPEATED_PARAM;
		if (p->changes[i].value < info->min || p->changes[i].value > info->max)
			return FAII_GOV_R_OUT_OF_RANGE;
	}
	return FAII_GOV_R_OK;
}

/* An open proposal for the same epoch that changes one of the same parameters. */
static bool duplicates_open(const struct faii_settle_gov *gov,
                            const struct faii_settle_tx_gov_proposal *p)
{
	for (uint32_t i = 0; i < gov->proposal_count; i++) {
		const struct faii_settle_gov_proposal *q = &gov->proposals[i];
		if (q->status != FAII_GOV_OPEN || q->effective_epoch != p->effective_epoch)
			continue;
		for (uint32_t a = 0; a < q->change_count; a++)
			for (uint32_t b = 0; b < p->change_count; b++)
				if (q->changes[a].param == p->changes[b].param)
					return true;
	}
	return false;
}

static uint32_t open_by(const struct faii_settle_gov *gov, uint32_t proposer)
{
	uint32_t open = 0;
	for (uint32_t i = 0; i < gov->proposal_count; i++)
		open += gov->proposals[i].status == FAII_GOV_OPEN &&
		        gov->proposals[i].proposer == proposer;
	return open;
}

/* Room for one more record: the oldest closed one goes when the table is full. */
static bool make_room(struct faii_settle_gov *gov)
{
	if (gov->proposal_count < gov->config.proposals_max)
		return true;
	for (uint32_t i = 0; i < gov->proposal_count; i++) {
		if (gov->proposals[i].status == FAII_GOV_OPEN)
			continue;
		memmove(&gov->proposals[i], &gov->proposals[i + 1],
		        (gov->proposal_count - i - 1) * sizeof(gov->proposals[0]));
		gov->proposal_count--;
		return true;
	}
	return false;
}

static enum faii_settle_gov_reason propose_check(const struct faii_settle_gov *gov,
                                                 const struct faii_settle_tx_gov_proposal *p,
                                                 uint32_t proposer)
{
	if (!is_member(gov, proposer))
		return FAII_GOV_R_NOT_A_VALIDATOR;
	if (p->effective_epoch < gov->epoch + gov->config.notice_epochs)
		return FAII_GOV_R_NOTICE;
	if (p->effective_epoch > gov->epoch + gov->config.horizon_epochs)
		return FAII_GOV_R_HORIZON;
	enum faii_settle_gov_reason why = changes_check(p);
	if (why != FAII_GOV_R_OK)
		return why;
	if (duplicates_open(gov, p))
		return FAII_GOV_R_DUPLICATE;
	struct candidate cand = {p->effective_epoch, p->change_count, p->changes};
	why = schedule_check(gov, &cand);
	if (why != FAII_GOV_R_OK)
		return why;
	if (open_by(gov, proposer) >= FAII_SETTLE_GOV_OPEN_PER_PROPOSER_MAX)
		return FAII_GOV_R_PROPOSER_BUSY;
	return FAII_GOV_R_OK;
}

static enum faii_settle_gov_reason refuse(struct faii_settle_gov *gov,
                                          enum faii_settle_gov_reason why)
{
	FAII_ASSERT(why != FAII_GOV_R_OK && why < FAII_GOV_R_COUNT);
	gov->refused[why]++;
	return why;
}

enum faii_settle_gov_reason faii_settle_gov_propose(struct faii_settle_gov *gov,
                                                    const struct faii_settle_tx_gov_proposal *p,
                                                    uint32_t proposer, uint64_t proposal_id,
                                                    uint64_t now_ms, uint64_t epoch)
{
	faii_settle_gov_tick(gov, epoch);
	if (gov->any_proposal && proposal_id <= gov->last_proposal_id)
		return refuse(gov, FAII_GOV_R_ID_NOT_INCREASING);
	gov->any_proposal = true;
	gov->last_proposal_id = proposal_id;
	enum faii_settle_gov_reason why = propose_check(gov, p, proposer);
	if (why != FAII_GOV_R_OK)
		return refuse(gov, why);
	if (!make_room(gov))
		return refuse(gov, FAII_GOV_R_TABLE_FULL);
	struct faii_settle_gov_proposal *q = &gov->proposals[gov->proposal_count++];
	*q = (struct faii_settle_gov_proposal){
	        .id = proposal_id,
	        .effective_epoch = p->effective_epoch,
	        .proposed_epoch = epoch,
	        .proposed_ms = now_ms,
	        .proposer = proposer,
	        .status = FAII_GOV_OPEN,
	        .change_count = p->change_count,
	};
	memcpy(q->changes, p->changes, p->change_count * sizeof(p->changes[0]));
	FAII_ASSERT(q == gov->proposals || q[-1].id < q->id); /* the table stays sorted */
	gov->proposals_accepted++;
	return FAII_GOV_R_OK;
}

enum faii_settle_gov_reason faii_settle_gov_vote(struct faii_settle_gov *gov,
                                                 const struct faii_settle_tx_gov_vote *v,
                                                 uint32_t voter, uint64_t now_ms, uint64_t epoch)
{
	(void)now_ms;
	faii_settle_gov_tick(gov, epoch);
	if (!is_member(gov, voter))
		return refuse(gov, FAII_GOV_R_NOT_A_VALIDATOR);
	struct faii_settle_gov_proposal *p = find(gov, v->proposal_id);
	if (p == NULL)
		return refuse(gov, FAII_GOV_R_UNKNOWN_PROPOSAL);
	if (p->status != FAII_GOV_OPEN)
		return refuse(gov, FAII_GOV_R_CLOSED);
	uint32_t bit = 1u << voter;
	if (((p->votes_for | p->votes_against) & bit) != 0)
		return refuse(gov, FAII_GOV_R_ALREADY_VOTED);
	if (v->in_favour)
		p->votes_for |= bit;
	else
		p->votes_against |= bit;
	gov->votes_accepted++;
	evaluate(gov, p, members_at(gov, epoch));
	return FAII_GOV_R_OK;
}

/* ---- queries ------------------------------------------------------------------ */

int faii_settle_gov_value_at(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                             uint64_t *value)
{
	if (faii_settle_gov_param_info(id) == NULL)
		return -ENOENT;
	if (epoch < gov->base_epoch)
		return -ERANGE;
	*value = lookup(gov, id, epoch, NULL);
	return 0;
}

int faii_settle_gov_values_at(const struct faii_settle_gov *gov, uint64_t epoch,
                              faii_settle_gov_values values)
{
	if (epoch < gov->base_epoch)
		return -ERANGE;
	values[FAII_GOV_P_NONE] = 0;
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		values[id] = lookup(gov, id, epoch, NULL);
	return 0;
}

int faii_settle_gov_params_at(const struct faii_settle_gov *gov, uint64_t epoch,
                              struct faii_settle_params *out)
{
	faii_settle_gov_values v;
	int rc = faii_settle_gov_values_at(gov, epoch, v);
	if (rc != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->availability_rate = v[FAII_GOV_P_AVAILABILITY_RATE];
	out->work_rate = v[FAII_GOV_P_TOKEN_RATE];
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		out->theta0_ppb[t] = v[FAII_GOV_P_THETA0_1 + t];
		out->gamma_ppb[t] = v[FAII_GOV_P_GAMMA_1 + t];
		out->slo_target_ppb[t] = v[FAII_GOV_P_SLO_TARGET_1 + t];
		out->slo_alpha[t] = (uint32_t)v[FAII_GOV_P_SLO_ALPHA_1 + t];
		out->slo_max_ppb[t] = v[FAII_GOV_P_SLO_MAX_1 + t];
	}
	out->esg_xi_ppb = v[FAII_GOV_P_ESG_XI];
	out->esg_baseline_ppb = v[FAII_GOV_P_ESG_BASELINE];
	out->esg_max_ppb = v[FAII_GOV_P_ESG_MAX];
	out->diversity_eta_ppb = v[FAII_GOV_P_ETA];
	out->class_share_max_ppb = v[FAII_GOV_P_CLASS_SHARE_MAX];
	out->energy_price = v[FAII_GOV_P_ENERGY_PRICE];
	out->opex_price = v[FAII_GOV_P_OPEX_PRICE];
	out->penalty_price = v[FAII_GOV_P_PENALTY_PRICE];
	for (uint32_t c = 0; c < FAII_SETTLE_CLASSES; c++)
		out->payout_cap[c] = v[FAII_GOV_P_PAYOUT_CAP_MICRO + c];
	/* Every value governance can reach is one settlement accepts. */
	FAII_ASSERT(faii_settle_params_check(out, NULL) == 0);
	return 0;
}

int faii_settle_gov_step_range(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                               uint64_t *lo, uint64_t *hi)
{
	const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
	if (info == NULL)
		return -ENOENT;
	uint64_t start = period_start(gov, epoch);
	if ((start > 0 ? start - 1 : 0) < gov->base_epoch)
		return -ERANGE;
	*lo = info->min;
	*hi = info->max;
	if (info->kind == FAII_GOV_KIND_MASK)
		return 0;
	uint64_t from = start_value(gov, id, epoch, NULL);
	uint64_t allowed =
	        step_allowed(info, from, start_value(gov, FAII_GOV_P_STEP_MAX, epoch, NULL));
	if (from >= info->min + allowed)
		*lo = from - allowed;
	if (from <= info->max - allowed)
		*hi = from + allowed;
	FAII_ASSERT(*lo <= from && from <= *hi);
	return 0;
}

uint32_t faii_settle_gov_list(const struct faii_settle_gov *gov, uint64_t after_id,
                              struct faii_settle_gov_proposal *out, uint32_t cap)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < gov->proposal_count && n < cap; i++)
		if (gov->proposals[i].id > after_id)
			out[n++] = gov->proposals[i];
	return n;
}

static bool change_before(const struct faii_settle_gov_adopted *a,
                          const struct faii_settle_gov_adopted *b)
{
	return a->proposal_id != b->proposal_id ? a->proposal_id < b->proposal_id
	                                        : a->param < b->param;
}

uint32_t faii_settle_gov_changes(const struct faii_settle_gov *gov,
                                 struct faii_settle_gov_adopted *out, uint32_t cap)
{
	/* Insertion sort of the smallest cap entries: the history is short. */
	uint32_t n = 0;
	for (uint32_t i = 0; i < gov->history_count; i++) {
		const struct faii_settle_gov_adopted *h = &gov->history[i];
		uint32_t at = n;
		while (at > 0 && change_before(h, &out[at - 1]))
			at--;
		if (at >= cap)
			continue;
		uint32_t keep = n < cap ? n : cap - 1;
		memmove(&out[at + 1], &out[at], (keep - at) * sizeof(out[0]));
		out[at] = *h;
		n = keep + 1;
	}
	return n;
}
