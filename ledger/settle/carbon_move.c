/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Moving certificate Wh: CARBON_TRANSFER between owners (all or nothing),
 * retirement against a node's energy in an epoch (oldest first, each Wh at
 * most once: retired serials leave the tradable part for good), and the
 * expiry and pruning that keep the bounded tables in a steady state
 * (include/faii/settle_carbon.h, ledger/settle/carbon_state.h).
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

#include "carbon_state.h"

#define MS_PER_S   1000u
#define MWH_PER_WH 1000u

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t lot_tradable(const struct carbon_lot *lot)
{
	FAII_ASSERT(lot->wh_retired <= lot->wh);
	return lot->wh - lot->wh_retired;
}

/* ---- Transfers ---- */

static uint32_t walk_first(const struct carbon_account *a, uint8_t rule)
{
	return rule == FAII_SETTLE_TRANSFER_OLDEST_FIRST ? a->head : a->tail;
}

static uint32_t walk_next(const struct carbon_lot *lot, uint8_t rule)
{
	return rule == FAII_SETTLE_TRANSFER_OLDEST_FIRST ? lot->next : lot->prev;
}

static bool lot_selected(const struct carbon_lot *lot,
                         const struct faii_settle_carbon_transfer *transfer)
{
	return (transfer->meter_id == 0 || lot->meter_id == transfer->meter_id) &&
	       lot->interval_start_s >= transfer->not_before_s &&
	       lot->interval_start_s < transfer->not_after_s;
}

/* What the transfer would take, without changing anything: the Wh it can
 * find (at most transfer->wh) and the lots it must split (a lot given only
 * in part, or with retired serials that stay behind). */
static uint64_t transfer_plan(const struct faii_settle_carbon *state, uint32_t from,
                              const struct faii_settle_carbon_transfer *transfer, uint32_t *splits)
{
	const struct carbon_account *a = &state->accounts[from];
	uint64_t need = transfer->wh;
	uint32_t steps = 0;
	*splits = 0;
	for (uint32_t i = walk_first(a, transfer->rule); i != CARBON_NONE && need > 0;
	     i = walk_next(&state->lots[i], transfer->rule)) {
		FAII_ASSERT(++steps <= a->listed);
		const struct carbon_lot *l = &state->lots[i];
		if (!lot_selected(l, transfer))
			continue;
		uint64_t take = min_u64(need, lot_tradable(l));
		if (take < l->wh)
			(*splits)++;
		need -= take;
	}
	return transfer->wh - need;
}

/* Cuts the last `take` tradable serials of `lot` into a new, unlisted
 * lot; the old one leaves its owner's list when nothing tradable is left. */
static uint32_t lot_split(struct faii_settle_carbon *state, uint32_t lot, uint64_t take)
{
	uint32_t part = carbon_lot_take(state);
	struct carbon_lot *l = &state->lots[lot];
	struct carbon_lot *p = &state->lots[part];
	FAII_ASSERT(take > 0 && take < l->wh && take <= lot_tradable(l));
	l->wh -= take;
	p->meter_id = l->meter_id;
	p->interval_start_s = l->interval_start_s;
	p->serial_first = l->serial_first + l->wh;
	p->wh = take;
	p->reading = l->reading;
	struct carbon_reading *r = &state->readings[l->reading];
	p->reading_next = r->first_lot;
	r->first_lot = part;
	r->live_lots++;
	if (lot_tradable(l) == 0)
		carbon_list_unlink(state, lot);
	return part;
}

/* Moves the planned Wh: lots cut or unlinked from the sender, chained in
 * age order through .next, then merged into the receiver's list. */
static void transfer_move(struct faii_settle_carbon *state, uint32_t from, uint32_t to,
                          const struct faii_settle_carbon_transfer *transfer)
{
	uint64_t need = transfer->wh;
	uint32_t chain_head = CARBON_NONE, chain_tail = CARBON_NONE;
	uint32_t i = walk_first(&state->accounts[from], transfer->rule);
	while (i != CARBON_NONE && need > 0) {
		uint32_t after = walk_next(&state->lots[i], transfer->rule);
		struct carbon_lot *l = &state->lots[i];
		if (lot_selected(l, transfer)) {
			uint64_t take = min_u64(need, lot_tradable(l));
			uint32_t moved = i;
			if (take == l->wh)
				carbon_list_unlink(state, i);
			else
				moved = lot_split(state, i, take);
			need -= take;
			if (transfer->rule == FAII_SETTLE_TRANSFER_OLDEST_FIRST) {
				state->lots[moved].next = CARBON_NONE;
				if (chain_tail == CARBON_NONE)
					chain_head = moved;
				else
					state->lots[chain_tail].next = moved;
				chain_tail = moved;
			} else {
				state->lots[moved].next = chain_head;
				chain_head = moved;
			}
		}
		i = after;
	}
	FAII_ASSERT(need == 0);
	uint32_t hint = CARBON_NONE;
	for (uint32_t m = chain_head; m != CARBON_NONE;) {
		uint32_t next = state->lots[m].next;
		state->lots[m].next = CARBON_NONE;
		carbon_list_insert_forward(state, to, m, hint);
		hint = m;
		m = next;
	}
}

static enum faii_settle_carbon_reason
transfer_refusal(const struct faii_settle_carbon *state,
                 const struct faii_settle_carbon_transfer *transfer, uint32_t from)
{
	if (transfer->rule >= FAII_SETTLE_TRANSFER_RULE_END)
		return FAII_SETTLE_CARBON_BAD_RULE;
	if (transfer->from_operator == transfer->to_operator)
		return FAII_SETTLE_CARBON_SAME_OPERATOR;
	if (transfer->wh == 0)
		return FAII_SETTLE_CARBON_ZERO_WH;
	if (from == CARBON_NONE)
		return FAII_SETTLE_CARBON_UNKNOWN_OPERATOR;
	if (transfer->nonce <= state->accounts[from].last_nonce)
		return FAII_SETTLE_CARBON_REPLAYED_NONCE;
	if (carbon_account_find(state, transfer->to_operator) == CARBON_NONE &&
	    state->owners_used == state->limits.owners_max)
		return FAII_SETTLE_CARBON_OWNERS_FULL;
	return FAII_SETTLE_CARBON_OK;
}

static uint32_t lots_free_count(const struct faii_settle_carbon *state)
{
	return state->limits.certificates_max - state->lots_used;
}

enum faii_settle_carbon_reason
faii_settle_carbon_apply_transfer(struct faii_settle_carbon *state,
                                  const struct faii_settle_carbon_transfer *transfer,
                                  uint64_t now_ms, uint64_t epoch)
{
	carbon_advance(state, now_ms, epoch);
	uint32_t from = carbon_account_find(state, transfer->from_operator);
	enum faii_settle_carbon_reason why = transfer_refusal(state, transfer, from);
	if (why != FAII_SETTLE_CARBON_OK)
		return carbon_refuse(state, why);
	uint32_t splits = 0;
	if (transfer_plan(state, from, transfer, &splits) < transfer->wh)
		return carbon_refuse(state, FAII_SETTLE_CARBON_OVERDRAW);
	if (splits > lots_free_count(state))
		return carbon_refuse(state, FAII_SETTLE_CARBON_CERTIFICATES_FULL);
	uint32_t to = carbon_account_find(state, transfer->to_operator);
	if (to == CARBON_NONE)
		to = carbon_account_create(state, transfer->to_operator);
	transfer_move(state, from, to, transfer);
	struct carbon_account *a = &state->accounts[from], *b = &state->accounts[to];
	FAII_ASSERT(a->tradable_wh >= transfer->wh);
	a->tradable_wh -= transfer->wh;
	a->transferred_out_wh += transfer->wh;
	a->last_nonce = transfer->nonce;
	b->tradable_wh += transfer->wh;
	b->transferred_in_wh += transfer->wh;
	return FAII_SETTLE_CARBON_OK;
}

/* ---- Retirement ---- */

static void retirement_log(struct faii_settle_carbon *state, uint32_t lot, uint64_t take,
                           uint32_t operator_id, uint32_t node_id, uint64_t epoch)
{
	const struct carbon_lot *l = &state->lots[lot];
	uint64_t seq = state->retire_next_seq++;
	if (seq >= state->limits.retirements_max)
		state->retirements_overwritten++;
	struct faii_settle_carbon_retirement *r =
	        &state->retirements[seq % state->limits.retirements_max];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->epoch = epoch;
	r->meter_id = l->meter_id;
	r->interval_start_s = l->interval_start_s;
	r->serial_first = l->serial_first + l->wh_retired - take; /* the serials just retired */
	r->wh = take;
	r->operator_id = operator_id;
	r->node_id = node_id;
}

/* The node's energy in `epoch` not yet covered by retired certificates. */
static uint64_t node_uncovered_wh(const struct carbon_node_slot *slot)
{
	if (slot == NULL)
		return 0;
	uint64_t energy_wh = slot->energy_mwh / MWH_PER_WH;
	FAII_ASSERT(slot->retired_wh <= energy_wh);
	return energy_wh - slot->retired_wh;
}

/* Retires up to `want` Wh from the account's oldest lots; the Wh retired. */
static uint64_t retire_lots(struct faii_settle_carbon *state, uint32_t account, uint32_t node_id,
                            uint64_t want, uint64_t epoch,
                            struct faii_settle_carbon_retire_result *result)
{
	struct carbon_account *a = &state->accounts[account];
	uint64_t done = 0;
	uint32_t i = a->head;
	while (i != CARBON_NONE && done < want) {
		if (result->pieces == FAII_SETTLE_CARBON_RETIRE_LOTS_MAX) {
			result->short_of_lots = true;
			break;
		}
		struct carbon_lot *l = &state->lots[i];
		uint32_t next = l->next;
		uint64_t take = min_u64(want - done, lot_tradable(l));
		FAII_ASSERT(take > 0); /* listed lots hold tradable Wh */
		l->wh_retired += take; /* serials only ever move from tradable to retired */
		retirement_log(state, i, take, a->operator_id, node_id, epoch);
		result->pieces++;
		done += take;
		if (lot_tradable(l) == 0)
			carbon_list_unlink(state, i);
		i = next;
	}
	return done;
}

/* Retirement for a node already looked up (node: its row, or CARBON_NONE;
 * account: its operator's, or CARBON_NONE), after the epoch checks. */
static void retire_for(struct faii_settle_carbon *state, uint32_t node, uint32_t account,
                       uint32_t node_id, uint64_t wh_wanted, uint64_t epoch,
                       struct faii_settle_carbon_retire_result *result)
{
	struct carbon_node_slot *slot = node == CARBON_NONE
	                                        ? NULL
	                                        : (struct carbon_node_slot *)carbon_node_slot_find(
	                                                  &state->nodes[node], epoch);
	result->wh_wanted = wh_wanted;
	result->first_seq = state->retire_next_seq;
	result->wh_uncovered = node_uncovered_wh(slot);
	uint64_t want = min_u64(wh_wanted, result->wh_uncovered);
	result->short_of_energy = want < wh_wanted;
	uint64_t done = 0;
	if (account != CARBON_NONE && want > 0)
		done = retire_lots(state, account, node_id, want, epoch, result);
	result->wh_retired = done;
	result->short_of_balance = done < want && !result->short_of_lots;
	if (done == 0)
		return;
	struct carbon_account *a = &state->accounts[account];
	FAII_ASSERT(a->tradable_wh >= done);
	a->tradable_wh -= done;
	a->retired_wh += done;
	state->retired_wh += done;
	FAII_ASSERT(slot != NULL); /* done > 0 needs uncovered energy */
	slot->retired_wh += done;
	FAII_ASSERT(slot->retired_wh <= slot->energy_mwh / MWH_PER_WH);
}

int faii_settle_carbon_retire(struct faii_settle_carbon *state, uint32_t operator_id,
                              uint32_t node_id, uint64_t wh_wanted, uint64_t epoch,
                              struct faii_settle_carbon_retire_result *result)
{
	memset(result, 0, sizeof(*result));
	if (epoch > state->epoch)
		carbon_advance(state, state->now_ms, epoch);
	if (!carbon_epoch_kept(state, epoch))
		return -ERANGE;
	retire_for(state, carbon_node_find(state, node_id), carbon_account_find(state, operator_id),
	           node_id, wh_wanted, epoch, result);
	return 0;
}

int faii_settle_carbon_settle_node(struct faii_settle_carbon *state, uint32_t operator_id,
                                   uint32_t node_id, uint64_t epoch,
                                   struct faii_settle_carbon_node_epoch *figures,
                                   struct faii_settle_carbon_retire_result *retired)
{
	memset(retired, 0, sizeof(*retired));
	if (!carbon_epoch_kept(state, epoch))
		return -ERANGE;
	uint32_t node = carbon_node_find(state, node_id); /* the one hash lookup */
	const struct carbon_node *row = node == CARBON_NONE ? NULL : &state->nodes[node];
	const struct carbon_node_slot *slot =
	        row == NULL ? NULL : carbon_node_slot_find(row, epoch);
	if (slot == NULL || slot->energy_mwh / MWH_PER_WH == 0) {
		memset(figures, 0, sizeof(*figures)); /* no energy: nothing to retire */
		figures->node_id = node_id;
		figures->epoch = epoch;
		return 0;
	}
	/* As faii_settle_carbon_retire: its epoch checks passed above. */
	if (epoch > state->epoch)
		carbon_advance(state, state->now_ms, epoch);
	uint32_t account = row->operator_id == operator_id
	                           ? row->account
	                           : carbon_account_find(state, operator_id);
	retire_for(state, node, account, node_id, slot->energy_mwh / MWH_PER_WH, epoch, retired);
	carbon_node_epoch_fill(row, slot, epoch, figures);
	return 0;
}

/* How far ahead settle_epoch starts a node's memory on its way: its index
 * cell 2 x this many nodes ahead, its row and its account this many ahead
 * (hints only: the tables are tens of MB, their rows scattered). */
#define SETTLE_PREFETCH_AHEAD 8u

static void settle_prefetch(const struct faii_settle_carbon *state,
                            const struct faii_settle_node_input *inputs, uint32_t count, uint32_t i)
{
	if (i + 2 * SETTLE_PREFETCH_AHEAD < count)
		__builtin_prefetch(
		        carbon_node_home(state, inputs[i + 2 * SETTLE_PREFETCH_AHEAD].node_id));
	if (i + SETTLE_PREFETCH_AHEAD < count) {
		uint32_t cell = *carbon_node_home(state, inputs[i + SETTLE_PREFETCH_AHEAD].node_id);
		if (cell != 0)
			__builtin_prefetch(&state->nodes[cell - 1]);
	}
	if (i + SETTLE_PREFETCH_AHEAD / 2 < count) {
		uint32_t cell =
		        *carbon_node_home(state, inputs[i + SETTLE_PREFETCH_AHEAD / 2].node_id);
		if (cell != 0 && state->nodes[cell - 1].account < state->owners_used)
			__builtin_prefetch(&state->accounts[state->nodes[cell - 1].account]);
	}
}

int faii_settle_carbon_settle_epoch(struct faii_settle_carbon *state, uint64_t epoch,
                                    struct faii_settle_node_input *inputs, uint32_t count,
                                    uint64_t *retired_wh)
{
	*retired_wh = 0;
	if (!carbon_epoch_kept(state, epoch))
		return -ERANGE;
	for (uint32_t i = 0; i < count; i++) {
		settle_prefetch(state, inputs, count, i);
		struct faii_settle_node_input *in = &inputs[i];
		struct faii_settle_carbon_node_epoch figures;
		struct faii_settle_carbon_retire_result retired;
		int rc = faii_settle_carbon_settle_node(state, in->operator_id, in->node_id, epoch,
		                                        &figures, &retired);
		FAII_ASSERT(rc == 0); /* the epoch stays kept: settling only moves to it */
		if (figures.energy_wh == 0)
			continue;
		*retired_wh += retired.wh_retired;
		in->energy_wh = figures.energy_wh;
		in->energy_retired_wh = figures.retired_wh;
		in->renewable_ppb = figures.renewable_ppb;
	}
	return 0;
}

/* ---- Expiry and pruning ---- */

static uint64_t reading_end_s(const struct carbon_reading *r)
{
	return r->interval_start_s + r->interval_s;
}

/* Frees the lot; its tradable Wh expire in its owner's account. */
static uint64_t lot_expire(struct faii_settle_carbon *state, uint32_t lot)
{
	struct carbon_lot *l = &state->lots[lot];
	uint64_t tradable = lot_tradable(l);
	FAII_ASSERT(l->listed == (tradable > 0)); /* listed iff it holds tradable Wh */
	if (l->listed) {
		struct carbon_account *a = &state->accounts[l->owner];
		carbon_list_unlink(state, lot);
		FAII_ASSERT(a->tradable_wh >= tradable);
		a->tradable_wh -= tradable;
		a->expired_wh += tradable;
	}
	struct carbon_reading *r = &state->readings[l->reading];
	FAII_ASSERT(r->live_lots > 0);
	r->live_lots--;
	l->in_use = false;
	l->next = state->lots_free;
	state->lots_free = lot;
	state->lots_used--;
	return tradable;
}

/* Unlinks reading `index` from its bucket chain and frees it. */
static void reading_free(struct faii_settle_carbon *state, uint32_t index)
{
	struct carbon_reading *r = &state->readings[index];
	FAII_ASSERT(r->in_use && r->live_lots == 0);
	uint32_t *link =
	        &state->buckets[carbon_reading_bucket(state, r->meter_id, r->interval_start_s)];
	uint32_t steps = 0;
	while (*link != index) {
		FAII_ASSERT(*link != CARBON_NONE && ++steps <= state->limits.readings_max);
		link = &state->readings[*link].next;
	}
	*link = r->next;
	r->in_use = false;
	r->next = state->readings_free;
	state->readings_free = index;
	state->readings_used--;
}

void faii_settle_carbon_prune(struct faii_settle_carbon *state, uint64_t now_ms, uint64_t window_s,
                              struct faii_settle_carbon_prune_result *result)
{
	carbon_advance(state, now_ms, state->epoch);
	memset(result, 0, sizeof(*result));
	uint64_t now_s = now_ms / MS_PER_S;
	uint64_t horizon_s = now_s > window_s ? now_s - window_s : 0;
	if (horizon_s > state->prune_horizon_s)
		state->prune_horizon_s = horizon_s;
	result->horizon_s = state->prune_horizon_s;
	/* Only what the horizon passed: each reading once, its lots with it. */
	for (uint32_t steps = 0; steps < state->limits.readings_max; steps++) {
		uint32_t index = carbon_expiry_pop(state, result->horizon_s);
		if (index == CARBON_NONE)
			break;
		for (uint32_t lot = state->readings[index].first_lot; lot != CARBON_NONE;) {
			uint32_t next = state->lots[lot].reading_next;
			FAII_ASSERT(state->lots[lot].in_use && state->lots[lot].reading == index);
			result->wh_expired += lot_expire(state, lot);
			result->certificates++;
			lot = next;
		}
		reading_free(state, index);
		result->readings++;
	}
	FAII_ASSERT(state->expiry_count == state->readings_used);
	FAII_ASSERT(state->expiry_count == 0 ||
	            reading_end_s(&state->readings[state->expiry[0]]) > result->horizon_s);
	state->expired_wh += result->wh_expired;
}
