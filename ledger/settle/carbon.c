/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The carbon registry: its memory, its indexes, and minting one granular
 * certificate per (meter, interval) from a node-signed reading, refusing
 * and recording as evidence any reading that would mint the same energy
 * twice (include/faii/settle_carbon.h, ledger/settle/carbon_state.h).
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

#include "carbon_state.h"

#define MS_PER_S   1000u
#define MWH_PER_WH 1000u

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static size_t align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

struct layout {
	size_t readings, expiry, buckets, lots, accounts, owner_index, nodes, node_index, evidence,
	        retirements, total;
	uint32_t bucket_count, owner_slots, node_slots;
};

static bool limits_valid(const struct faii_settle_carbon_limits *limits)
{
	const struct faii_settle_carbon_limits *l = limits;
	return l->certificates_max >= 1 &&
	       l->certificates_max <= FAII_SETTLE_CARBON_CERTIFICATES_MAX && l->readings_max >= 1 &&
	       l->readings_max <= FAII_SETTLE_CARBON_READINGS_MAX && l->owners_max >= 1 &&
	       l->owners_max <= FAII_SETTLE_CARBON_OWNERS_MAX && l->nodes_max >= 1 &&
	       l->nodes_max <= FAII_SETTLE_CARBON_NODES_MAX && l->evidence_max >= 1 &&
	       l->evidence_max <= FAII_SETTLE_CARBON_EVIDENCE_MAX &&
	       l->retirements_max >= FAII_SETTLE_CARBON_RETIRE_LOTS_MAX &&
	       l->retirements_max <= FAII_SETTLE_CARBON_RETIREMENTS_MAX;
}

/* Where each table sits in the caller's memory, after the state. */
static void layout_of(const struct faii_settle_carbon_limits *l, struct layout *at)
{
	at->bucket_count = pow2_at_least(l->readings_max);
	at->owner_slots = pow2_at_least(2 * l->owners_max); /* load <= 1/2 */
	at->node_slots = pow2_at_least(2 * l->nodes_max);
	size_t offset = align8(sizeof(struct faii_settle_carbon));
#define CARBON_PLACE(field, bytes)                                                                 \
	do {                                                                                       \
		at->field = offset;                                                                \
		offset = align8(offset + (bytes));                                                 \
	} while (0)
	CARBON_PLACE(readings, (size_t)l->readings_max * sizeof(struct carbon_reading));
	CARBON_PLACE(expiry, (size_t)l->readings_max * sizeof(uint32_t));
	CARBON_PLACE(buckets, (size_t)at->bucket_count * sizeof(uint32_t));
	CARBON_PLACE(lots, (size_t)l->certificates_max * sizeof(struct carbon_lot));
	CARBON_PLACE(accounts, (size_t)l->owners_max * sizeof(struct carbon_account));
	CARBON_PLACE(owner_index, (size_t)at->owner_slots * sizeof(uint32_t));
	CARBON_PLACE(nodes, (size_t)l->nodes_max * sizeof(struct carbon_node));
	CARBON_PLACE(node_index, (size_t)at->node_slots * sizeof(uint32_t));
	CARBON_PLACE(evidence,
	             (size_t)l->evidence_max * sizeof(struct faii_settle_carbon_evidence));
	CARBON_PLACE(retirements,
	             (size_t)l->retirements_max * sizeof(struct faii_settle_carbon_retirement));
#undef CARBON_PLACE
	at->total = offset;
}

size_t faii_settle_carbon_bytes(const struct faii_settle_carbon_limits *limits)
{
	if (!limits_valid(limits))
		return 0;
	struct layout at;
	layout_of(limits, &at);
	return at.total;
}

int faii_settle_carbon_init(void *mem, size_t bytes, const struct faii_settle_carbon_limits *limits,
                            struct faii_settle_carbon **state_out)
{
	FAII_ASSERT(mem != NULL && ((uintptr_t)mem & 7u) == 0);
	if (!limits_valid(limits))
		return -EINVAL;
	struct layout at;
	layout_of(limits, &at);
	if (bytes < at.total)
		return -ENOSPC;
	uint8_t *base = mem;
	memset(base, 0, at.total);
	struct faii_settle_carbon *state = mem;
	state->limits = *limits;
	state->readings = (struct carbon_reading *)(base + at.readings);
	state->expiry = (uint32_t *)(base + at.expiry);
	state->buckets = (uint32_t *)(base + at.buckets);
	state->bucket_mask = at.bucket_count - 1;
	state->lots = (struct carbon_lot *)(base + at.lots);
	state->accounts = (struct carbon_account *)(base + at.accounts);
	state->owner_index = (uint32_t *)(base + at.owner_index);
	state->owner_mask = at.owner_slots - 1;
	state->nodes = (struct carbon_node *)(base + at.nodes);
	state->node_index = (uint32_t *)(base + at.node_index);
	state->node_mask = at.node_slots - 1;
	state->evidence = (struct faii_settle_carbon_evidence *)(base + at.evidence);
	state->retirements = (struct faii_settle_carbon_retirement *)(base + at.retirements);
	for (uint32_t i = 0; i < at.bucket_count; i++)
		state->buckets[i] = CARBON_NONE;
	/* Free lists in index order, so that every validator reuses the same slots. */
	for (uint32_t i = 0; i < limits->readings_max; i++)
		state->readings[i].next = i + 1 < limits->readings_max ? i + 1 : CARBON_NONE;
	for (uint32_t i = 0; i < limits->certificates_max; i++)
		state->lots[i].next = i + 1 < limits->certificates_max ? i + 1 : CARBON_NONE;
	state->readings_free = 0;
	state->lots_free = 0;
	*state_out = state;
	return 0;
}

/* ---- Indexes ---- */

/* SplitMix64's finaliser: hash tables only, never an output order. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Linear probing over `index` (record index + 1, 0 empty); records start
 * with their uint32_t id. The slot holding `id`, or the empty slot ending
 * its probe sequence (the table is at most half full). */
static uint32_t index_slot(const uint32_t *index, uint32_t mask, const void *records, size_t stride,
                           uint32_t id)
{
	uint32_t slot = (uint32_t)mix64(id) & mask;
	for (uint32_t probe = 0; probe <= mask; probe++) {
		uint32_t entry = index[slot];
		if (entry == 0)
			return slot;
		uint32_t held;
		memcpy(&held, (const uint8_t *)records + (size_t)(entry - 1) * stride,
		       sizeof(held));
		if (held == id)
			return slot;
		slot = (slot + 1) & mask;
	}
	FAII_UNREACHABLE(); /* never more than half full */
}

uint32_t carbon_account_find(const struct faii_settle_carbon *state, uint32_t operator_id)
{
	uint32_t slot = index_slot(state->owner_index, state->owner_mask, state->accounts,
	                           sizeof(struct carbon_account), operator_id);
	uint32_t entry = state->owner_index[slot];
	return entry == 0 ? CARBON_NONE : entry - 1;
}

uint32_t carbon_node_find(const struct faii_settle_carbon *state, uint32_t node_id)
{
	uint32_t slot = index_slot(state->node_index, state->node_mask, state->nodes,
	                           sizeof(struct carbon_node), node_id);
	uint32_t entry = state->node_index[slot];
	return entry == 0 ? CARBON_NONE : entry - 1;
}

const uint32_t *carbon_node_home(const struct faii_settle_carbon *state, uint32_t node_id)
{
	return &state->node_index[(uint32_t)mix64(node_id) & state->node_mask];
}

uint32_t carbon_account_create(struct faii_settle_carbon *state, uint32_t operator_id)
{
	FAII_ASSERT(state->owners_used < state->limits.owners_max);
	uint32_t slot = index_slot(state->owner_index, state->owner_mask, state->accounts,
	                           sizeof(struct carbon_account), operator_id);
	FAII_ASSERT(state->owner_index[slot] == 0);
	uint32_t account = state->owners_used++;
	struct carbon_account *a = &state->accounts[account];
	memset(a, 0, sizeof(*a));
	a->operator_id = operator_id;
	a->head = a->tail = CARBON_NONE;
	state->owner_index[slot] = account + 1;
	return account;
}

static uint32_t node_add(struct faii_settle_carbon *state, uint32_t node_id, uint32_t operator_id,
                         uint32_t account)
{
	FAII_ASSERT(state->nodes_used < state->limits.nodes_max);
	uint32_t slot = index_slot(state->node_index, state->node_mask, state->nodes,
	                           sizeof(struct carbon_node), node_id);
	FAII_ASSERT(state->node_index[slot] == 0);
	uint32_t node = state->nodes_used++;
	memset(&state->nodes[node], 0, sizeof(state->nodes[node]));
	state->nodes[node].node_id = node_id;
	state->nodes[node].operator_id = operator_id;
	state->nodes[node].account = account;
	state->node_index[slot] = node + 1;
	return node;
}

bool carbon_epoch_kept(const struct faii_settle_carbon *state, uint64_t epoch)
{
	return epoch + 1 >= state->epoch;
}

const struct carbon_node_slot *carbon_node_slot_find(const struct carbon_node *node, uint64_t epoch)
{
	for (uint32_t k = 0; k < CARBON_NODE_EPOCHS; k++)
		if (node->slot[k].used && node->slot[k].epoch == epoch)
			return &node->slot[k];
	return NULL;
}

struct carbon_node_slot *carbon_node_slot_for(struct carbon_node *node, uint64_t epoch)
{
	const struct carbon_node_slot *found = carbon_node_slot_find(node, epoch);
	if (found != NULL)
		return &node->slot[found - node->slot];
	uint32_t k = !node->slot[0].used                         ? 0
	             : !node->slot[1].used                       ? 1
	             : node->slot[0].epoch < node->slot[1].epoch ? 0
	                                                         : 1;
	struct carbon_node_slot *slot = &node->slot[k];
	FAII_ASSERT(!slot->used || slot->epoch < epoch);
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	slot->epoch = epoch;
	return slot;
}

/* ---- Bookkeeping shared with carbon_move.c ---- */

void faii_settle_carbon_count(struct faii_settle_carbon *state,
                              enum faii_settle_carbon_reason reason)
{
	FAII_ASSERT((unsigned)reason < FAII_SETTLE_CARBON_REASON_END);
	state->refused[reason]++;
}

uint64_t faii_settle_carbon_refused(const struct faii_settle_carbon *state,
                                    enum faii_settle_carbon_reason reason)
{
	FAII_ASSERT((unsigned)reason < FAII_SETTLE_CARBON_REASON_END);
	return state->refused[reason];
}

enum faii_settle_carbon_reason carbon_refuse(struct faii_settle_carbon *state,
                                             enum faii_settle_carbon_reason reason)
{
	FAII_ASSERT(reason != FAII_SETTLE_CARBON_OK);
	faii_settle_carbon_count(state, reason);
	return reason;
}

void carbon_advance(struct faii_settle_carbon *state, uint64_t now_ms, uint64_t epoch)
{
	FAII_ASSERT(now_ms >= state->now_ms);
	FAII_ASSERT(epoch >= state->epoch);
	state->now_ms = now_ms;
	state->epoch = epoch;
}

uint32_t carbon_lot_take(struct faii_settle_carbon *state)
{
	uint32_t lot = state->lots_free;
	FAII_ASSERT(lot != CARBON_NONE && !state->lots[lot].in_use);
	state->lots_free = state->lots[lot].next;
	state->lots_used++;
	memset(&state->lots[lot], 0, sizeof(state->lots[lot]));
	state->lots[lot].in_use = true;
	state->lots[lot].prev = state->lots[lot].next = CARBON_NONE;
	return lot;
}

/* ---- The expiry heap ---- */

/* Whether reading a ends before reading b (ties: the lower index). */
static bool expiry_before(const struct faii_settle_carbon *state, uint32_t a, uint32_t b)
{
	const struct carbon_reading *x = &state->readings[a], *y = &state->readings[b];
	uint64_t end_x = x->interval_start_s + x->interval_s;
	uint64_t end_y = y->interval_start_s + y->interval_s;
	return end_x != end_y ? end_x < end_y : a < b;
}

static void expiry_swap(uint32_t *heap, uint32_t i, uint32_t j)
{
	uint32_t held = heap[i];
	heap[i] = heap[j];
	heap[j] = held;
}

void carbon_expiry_push(struct faii_settle_carbon *state, uint32_t reading)
{
	uint32_t *heap = state->expiry;
	FAII_ASSERT(state->expiry_count < state->limits.readings_max);
	uint32_t i = state->expiry_count++;
	heap[i] = reading;
	while (i > 0 && expiry_before(state, heap[i], heap[(i - 1) / 2])) {
		expiry_swap(heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

uint32_t carbon_expiry_pop(struct faii_settle_carbon *state, uint64_t horizon_s)
{
	uint32_t *heap = state->expiry;
	if (state->expiry_count == 0)
		return CARBON_NONE;
	const struct carbon_reading *first = &state->readings[heap[0]];
	FAII_ASSERT(first->in_use);
	if (first->interval_start_s + first->interval_s > horizon_s)
		return CARBON_NONE;
	uint32_t popped = heap[0];
	uint32_t count = --state->expiry_count;
	heap[0] = heap[count];
	for (uint32_t i = 0;;) { /* sift down: at most log2(readings_max) steps */
		uint32_t least = i, left = 2 * i + 1, right = 2 * i + 2;
		if (left < count && expiry_before(state, heap[left], heap[least]))
			least = left;
		if (right < count && expiry_before(state, heap[right], heap[least]))
			least = right;
		if (least == i)
			break;
		expiry_swap(heap, i, least);
		i = least;
	}
	return popped;
}

/* <0, 0, >0 as lot a is older, as old, younger than lot b. */
static int lot_age_cmp(const struct carbon_lot *a, const struct carbon_lot *b)
{
	if (a->interval_start_s != b->interval_start_s)
		return a->interval_start_s < b->interval_start_s ? -1 : 1;
	if (a->meter_id != b->meter_id)
		return a->meter_id < b->meter_id ? -1 : 1;
	if (a->serial_first != b->serial_first)
		return a->serial_first < b->serial_first ? -1 : 1;
	return 0;
}

void carbon_list_unlink(struct faii_settle_carbon *state, uint32_t lot)
{
	struct carbon_lot *l = &state->lots[lot];
	FAII_ASSERT(l->in_use && l->listed);
	struct carbon_account *a = &state->accounts[l->owner];
	if (l->prev == CARBON_NONE)
		a->head = l->next;
	else
		state->lots[l->prev].next = l->next;
	if (l->next == CARBON_NONE)
		a->tail = l->prev;
	else
		state->lots[l->next].prev = l->prev;
	l->prev = l->next = CARBON_NONE;
	l->listed = false;
	FAII_ASSERT(a->listed > 0);
	a->listed--;
}

/* Links `lot` into the account's list right after `after` (NONE: head). */
static void list_link_after(struct faii_settle_carbon *state, uint32_t account, uint32_t lot,
                            uint32_t after)
{
	struct carbon_account *a = &state->accounts[account];
	struct carbon_lot *l = &state->lots[lot];
	FAII_ASSERT(l->in_use && !l->listed && l->wh > l->wh_retired);
	l->owner = account;
	l->prev = after;
	l->next = after == CARBON_NONE ? a->head : state->lots[after].next;
	if (l->next == CARBON_NONE)
		a->tail = lot;
	else
		state->lots[l->next].prev = lot;
	if (after == CARBON_NONE)
		a->head = lot;
	else
		state->lots[after].next = lot;
	l->listed = true;
	a->listed++;
}

void carbon_list_insert_from_tail(struct faii_settle_carbon *state, uint32_t account, uint32_t lot)
{
	uint32_t after = state->accounts[account].tail;
	while (after != CARBON_NONE && lot_age_cmp(&state->lots[after], &state->lots[lot]) > 0)
		after = state->lots[after].prev;
	list_link_after(state, account, lot, after);
}

void carbon_list_insert_forward(struct faii_settle_carbon *state, uint32_t account, uint32_t lot,
                                uint32_t hint)
{
	uint32_t after = hint;
	FAII_ASSERT(hint == CARBON_NONE || lot_age_cmp(&state->lots[hint], &state->lots[lot]) <= 0);
	uint32_t next =
	        hint == CARBON_NONE ? state->accounts[account].head : state->lots[hint].next;
	while (next != CARBON_NONE && lot_age_cmp(&state->lots[next], &state->lots[lot]) <= 0) {
		after = next;
		next = state->lots[next].next;
	}
	list_link_after(state, account, lot, after);
}

/* ---- Minting ---- */

uint32_t carbon_reading_bucket(const struct faii_settle_carbon *state, uint64_t meter_id,
                               uint64_t interval_start_s)
{
	return (uint32_t)mix64(meter_id ^ mix64(interval_start_s / CARBON_HOUR_S)) &
	       state->bucket_mask;
}

/* A known reading of the same meter starting at the same second, else one
 * overlapping it, else CARBON_NONE. Intervals never cross an hour, so all
 * candidates share the (meter, hour) bucket; its chain is bounded by the
 * readings table. */
static uint32_t reading_conflict(const struct faii_settle_carbon *state,
                                 const struct faii_settle_meter_reading *reading)
{
	uint64_t start = reading->interval_start_s, end = start + reading->interval_s;
	uint32_t overlap = CARBON_NONE;
	uint32_t steps = 0;
	for (uint32_t i = state->buckets[carbon_reading_bucket(state, reading->meter_id, start)];
	     i != CARBON_NONE; i = state->readings[i].next) {
		FAII_ASSERT(++steps <= state->limits.readings_max);
		const struct carbon_reading *r = &state->readings[i];
		if (r->meter_id != reading->meter_id)
			continue;
		if (r->interval_start_s == start)
			return i;
		if (overlap == CARBON_NONE && r->interval_start_s < end &&
		    start < r->interval_start_s + r->interval_s)
			overlap = i;
	}
	return overlap;
}

static void evidence_record(struct faii_settle_carbon *state,
                            const struct faii_settle_meter_reading *reading,
                            const uint8_t digest[FAII_SETTLE_DIGEST], uint32_t first,
                            enum faii_settle_carbon_reason reason)
{
	if (state->evidence_count == state->limits.evidence_max) {
		state->evidence_dropped++;
		return;
	}
	uint32_t at = (state->evidence_head + state->evidence_count) % state->limits.evidence_max;
	state->evidence_count++;
	const struct carbon_reading *r = &state->readings[first];
	struct faii_settle_carbon_evidence *e = &state->evidence[at];
	memset(e, 0, sizeof(*e));
	e->reason = (uint8_t)reason;
	e->replay = memcmp(r->digest, digest, FAII_SETTLE_DIGEST) == 0;
	e->node_id = reading->node_id;
	e->first_node_id = r->node_id;
	e->meter_id = reading->meter_id;
	e->interval_start_s = reading->interval_start_s;
	e->first_interval_start_s = r->interval_start_s;
	e->interval_s = reading->interval_s;
	e->first_interval_s = r->interval_s;
	e->epoch = state->epoch;
	memcpy(e->digest, digest, FAII_SETTLE_DIGEST);
	memcpy(e->first_digest, r->digest, FAII_SETTLE_DIGEST);
}

uint32_t faii_settle_carbon_evidence_drain(struct faii_settle_carbon *state,
                                           struct faii_settle_carbon_evidence *out, uint32_t cap)
{
	uint32_t moved = 0;
	while (moved < cap && state->evidence_count > 0) {
		out[moved++] = state->evidence[state->evidence_head];
		state->evidence_head = (state->evidence_head + 1) % state->limits.evidence_max;
		state->evidence_count--;
	}
	return moved;
}

/* Consortium time bounds a reading: not from the future (beyond the skew),
 * not older than what pruning forgot (it could be minted twice). */
static enum faii_settle_carbon_reason
reading_timely(const struct faii_settle_carbon *state,
               const struct faii_settle_meter_reading *reading)
{
	uint64_t now_s = state->now_ms / MS_PER_S;
	uint64_t end_s = reading->interval_start_s + reading->interval_s;
	if (end_s > now_s + FAII_SETTLE_CARBON_SKEW_S ||
	    reading->read_at_s > now_s + FAII_SETTLE_CARBON_SKEW_S)
		return FAII_SETTLE_CARBON_FUTURE;
	if (reading->interval_start_s < state->prune_horizon_s)
		return FAII_SETTLE_CARBON_STALE;
	return FAII_SETTLE_CARBON_OK;
}

/* Every slot the mint needs, before anything changes. */
static enum faii_settle_carbon_reason reading_room(const struct faii_settle_carbon *state,
                                                   const struct faii_settle_meter_reading *reading,
                                                   uint32_t operator_id, uint64_t renewable_wh)
{
	if (state->readings_free == CARBON_NONE)
		return FAII_SETTLE_CARBON_READINGS_FULL;
	if (renewable_wh > 0 && state->lots_free == CARBON_NONE)
		return FAII_SETTLE_CARBON_CERTIFICATES_FULL;
	if (carbon_account_find(state, operator_id) == CARBON_NONE &&
	    state->owners_used == state->limits.owners_max)
		return FAII_SETTLE_CARBON_OWNERS_FULL;
	if (carbon_node_find(state, reading->node_id) == CARBON_NONE &&
	    state->nodes_used == state->limits.nodes_max)
		return FAII_SETTLE_CARBON_NODES_FULL;
	return FAII_SETTLE_CARBON_OK;
}

static uint32_t reading_store(struct faii_settle_carbon *state,
                              const struct faii_settle_meter_reading *reading,
                              const uint8_t digest[FAII_SETTLE_DIGEST], uint32_t account,
                              uint64_t renewable_wh)
{
	uint32_t index = state->readings_free;
	struct carbon_reading *r = &state->readings[index];
	FAII_ASSERT(!r->in_use);
	state->readings_free = r->next;
	state->readings_used++;
	memset(r, 0, sizeof(*r));
	r->in_use = true;
	r->meter_id = reading->meter_id;
	r->interval_start_s = reading->interval_start_s;
	r->interval_s = reading->interval_s;
	r->energy_wh = reading->energy_mwh / MWH_PER_WH;
	r->renewable_wh = renewable_wh;
	r->epoch = state->epoch;
	r->node_id = reading->node_id;
	r->owner = account;
	memcpy(r->location, reading->location, FAII_SETTLE_METER_LOCATION);
	memcpy(r->digest, digest, FAII_SETTLE_DIGEST);
	uint32_t bucket = carbon_reading_bucket(state, r->meter_id, r->interval_start_s);
	r->next = state->buckets[bucket];
	state->buckets[bucket] = index;
	r->first_lot = CARBON_NONE;
	carbon_expiry_push(state, index);
	return index;
}

static void mint(struct faii_settle_carbon *state, const struct faii_settle_meter_reading *reading,
                 const uint8_t digest[FAII_SETTLE_DIGEST], uint32_t operator_id,
                 uint64_t renewable_wh)
{
	uint32_t account = carbon_account_find(state, operator_id);
	if (account == CARBON_NONE)
		account = carbon_account_create(state, operator_id);
	uint32_t node = carbon_node_find(state, reading->node_id);
	if (node == CARBON_NONE)
		node = node_add(state, reading->node_id, operator_id, account);
	uint32_t index = reading_store(state, reading, digest, account, renewable_wh);
	if (renewable_wh > 0) {
		uint32_t lot = carbon_lot_take(state);
		struct carbon_lot *l = &state->lots[lot];
		l->meter_id = reading->meter_id;
		l->interval_start_s = reading->interval_start_s;
		l->serial_first = 0;
		l->wh = renewable_wh;
		l->reading = index;
		l->reading_next = CARBON_NONE;
		carbon_list_insert_from_tail(state, account, lot);
		state->readings[index].live_lots = 1;
		state->readings[index].first_lot = lot;
	}
	struct carbon_account *a = &state->accounts[account];
	a->minted_wh += renewable_wh;
	a->tradable_wh += renewable_wh;
	struct carbon_node_slot *slot = carbon_node_slot_for(&state->nodes[node], state->epoch);
	slot->readings++;
	slot->energy_mwh += reading->energy_mwh;
	slot->renewable_wh += renewable_wh;
	state->minted_wh += renewable_wh;
	state->energy_mwh += reading->energy_mwh;
}

/* A checked reading (its transaction's digest given): timely, not minted
 * before, room for it; then minted. */
static enum faii_settle_carbon_reason apply_checked(struct faii_settle_carbon *state,
                                                    const struct faii_settle_meter_reading *reading,
                                                    const uint8_t digest[FAII_SETTLE_DIGEST],
                                                    uint32_t operator_id)
{
	enum faii_settle_carbon_reason why = reading_timely(state, reading);
	if (why != FAII_SETTLE_CARBON_OK)
		return carbon_refuse(state, why);
	uint32_t first = reading_conflict(state, reading);
	if (first != CARBON_NONE) {
		why = state->readings[first].interval_start_s == reading->interval_start_s
		              ? FAII_SETTLE_CARBON_DOUBLE_MINT
		              : FAII_SETTLE_CARBON_OVERLAP;
		evidence_record(state, reading, digest, first, why);
		return carbon_refuse(state, why);
	}
	/* Whole Wh, then the renewable part of them, each rounded down. */
	uint64_t renewable_wh = 0;
	int rc = faii_settle_mul_ppb(reading->energy_mwh / MWH_PER_WH, reading->renewable_ppb,
	                             &renewable_wh, NULL);
	FAII_ASSERT(rc == 0); /* renewable_ppb <= 1.0 */
	why = reading_room(state, reading, operator_id, renewable_wh);
	if (why != FAII_SETTLE_CARBON_OK)
		return carbon_refuse(state, why);
	mint(state, reading, digest, operator_id, renewable_wh);
	return FAII_SETTLE_CARBON_OK;
}

enum faii_settle_carbon_reason
faii_settle_carbon_apply_reading(struct faii_settle_carbon *state,
                                 const struct faii_settle_meter_reading *reading,
                                 uint32_t operator_id, uint64_t now_ms, uint64_t epoch)
{
	carbon_advance(state, now_ms, epoch);
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_OK;
	if (carbon_meter_check(reading, &why) != 0)
		return carbon_refuse(state, why);
	uint8_t digest[FAII_SETTLE_DIGEST];
	faii_settle_meter_digest(reading, digest);
	return apply_checked(state, reading, digest, operator_id);
}

enum faii_settle_carbon_reason
faii_settle_carbon_apply_attested(struct faii_settle_carbon *state,
                                  const struct faii_settle_meter_reading *reading,
                                  const uint8_t digest[FAII_SETTLE_DIGEST], uint32_t operator_id,
                                  uint64_t now_ms, uint64_t epoch)
{
	carbon_advance(state, now_ms, epoch);
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_OK;
	if (carbon_reading_check(reading, false, &why) != 0)
		return carbon_refuse(state, why);
	return apply_checked(state, reading, digest, operator_id);
}
