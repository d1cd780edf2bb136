/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's state machine over the committed sequence: see
 * include/faii/settle_state.h and docs/settlement.md, "The state machine".
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "state_private.h"

static const char *const outcome_names[FAII_SETTLE_OUTCOME_COUNT] = {
        [FAII_SETTLE_APPLIED] = "applied",
        [FAII_SETTLE_REFUSED_MALFORMED] = "malformed",
        [FAII_SETTLE_REFUSED_NOT_MEMBER] = "not_member",
        [FAII_SETTLE_REFUSED_NODE_TABLE_FULL] = "node_table_full",
        [FAII_SETTLE_REFUSED_NODE_REBOUND] = "node_rebound",
        [FAII_SETTLE_REFUSED_STALE_SUMMARY] = "stale_summary",
        [FAII_SETTLE_REFUSED_UNKNOWN_NODE] = "unknown_node",
        [FAII_SETTLE_REFUSED_ROOT_UNKNOWN] = "root_unknown",
        [FAII_SETTLE_REFUSED_ROOT_MISMATCH] = "root_mismatch",
        [FAII_SETTLE_REFUSED_ROOT_DUPLICATE] = "root_duplicate",
        [FAII_SETTLE_REFUSED_NOT_HANDLED] = "not_handled",
        [FAII_SETTLE_REFUSED_BAD_SIGNATURE] = "bad_signature",
        [FAII_SETTLE_REFUSED_CARBON] = "carbon",
        [FAII_SETTLE_REFUSED_SLASH] = "slash",
        [FAII_SETTLE_REFUSED_GOVERNANCE] = "governance",
        [FAII_SETTLE_REFUSED_NOT_HOME] = "not_home",
};

const char *faii_settle_outcome_name(enum faii_settle_outcome outcome)
{
	if ((unsigned)outcome >= FAII_SETTLE_OUTCOME_COUNT)
		return "unknown";
	return outcome_names[outcome];
}

/* ---- memory layout ---- */

static uint32_t index_cells(uint32_t nodes_max)
{
	uint32_t cells = 1;
	while (cells < 2 * nodes_max) /* at most half full: short probes */
		cells <<= 1;
	return cells;
}

static size_t align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

struct layout {
	size_t slots, index, order, order_scratch, inputs, results, hashes, tree, leaves, slices,
	        end;
	struct settle_module_layout modules;
};

static struct layout layout_of(uint32_t nodes_max)
{
	struct layout l;
	size_t at = align8(sizeof(struct faii_settle_state));
	size_t n = nodes_max;
	l.slots = at, at = align8(at + n * sizeof(struct node_slot));
	l.index = at, at = align8(at + (size_t)index_cells(nodes_max) * sizeof(uint32_t));
	l.order = at, at = align8(at + n * sizeof(uint32_t));
	l.order_scratch = at, at = align8(at + n * sizeof(uint32_t));
	l.inputs = at, at = align8(at + n * sizeof(struct faii_settle_node_input));
	l.results = at, at = align8(at + n * sizeof(struct faii_settle_node_result));
	l.hashes = at, at = align8(at + n * FAII_SETTLE_HASH_BYTES);
	/* One payout tree: its levels hold about 2 n hashes (the bound is the
	 * tree's own count for nodes_max leaves). */
	l.tree = at, at = align8(at + faii_settle_merkle_tree_hashes(n) * FAII_SETTLE_HASH_BYTES);
	l.leaves = at, at = align8(at + FAII_SETTLE_EPOCHS_KEPT * n * FAII_SETTLE_LEAF_BYTES);
	l.slices = at, at = align8(at + FAII_SETTLE_VALIDATORS_MAX * sizeof(struct author_slices));
	settle_modules_layout(nodes_max, at, &l.modules);
	l.end = l.modules.end;
	return l;
}

size_t faii_settle_state_bytes(uint32_t nodes_max)
{
	if (nodes_max == 0 || nodes_max > FAII_SETTLE_NODES_MAX)
		return 0;
	return layout_of(nodes_max).end;
}

/* Each range non-empty, no two overlapping, at most nodes_max ids in all. */
static bool node_ranges_valid(const struct faii_settle_config *config)
{
	uint64_t ids = 0;
	for (uint32_t v = 0; v < config->validators; v++) {
		uint32_t first = config->node_first[v], last = config->node_last[v];
		if (first > last)
			return false;
		ids += (uint64_t)last - first + 1;
		for (uint32_t w = 0; w < v; w++)
			if (first <= config->node_last[w] && config->node_first[w] <= last)
				return false;
	}
	return ids <= config->nodes_max;
}

static int config_check(const struct faii_settle_config *config, const char **field)
{
	/* Governance keeps the committee in a 16-member mask (its validator-set
	 * parameter): a larger committee could not vote there. */
	if (config->validators == 0 || config->validators > FAII_SETTLE_VALIDATORS_MAX ||
	    config->validators > FAII_SETTLE_GOV_VALIDATORS_MAX) {
		*field = "validators";
		return -EINVAL;
	}
	if (config->nodes_max == 0 || config->nodes_max > FAII_SETTLE_NODES_MAX) {
		*field = "nodes_max";
		return -EINVAL;
	}
	if (config->node_ranges && !node_ranges_valid(config)) {
		*field = "node_ranges";
		return -EINVAL;
	}
	if (config->epoch_ms < FAII_SETTLE_EPOCH_MS_MIN) {
		*field = "epoch_ms";
		return -EINVAL;
	}
	return faii_settle_params_check(&config->params, field);
}

int faii_settle_state_init(void *mem, size_t bytes, const struct faii_settle_config *config,
                           struct faii_settle_state **state, const char **field)
{
	const char *unused;
	field = field != NULL ? field : &unused;
	*field = NULL;
	int rc = config_check(config, field);
	if (rc != 0)
		return rc;
	struct layout l = layout_of(config->nodes_max);
	if (mem == NULL || ((uintptr_t)mem & 7u) != 0 || bytes < l.end)
		return -ENOSPC;
	memset(mem, 0, l.end);
	uint8_t *base = mem;
	struct faii_settle_state *s = mem;
	s->config = *config;
	uint32_t f = (config->validators - 1) / 3;
	s->quorum = 2 * f + 1;
	s->index_mask = index_cells(config->nodes_max) - 1;
	s->slots = (struct node_slot *)(base + l.slots);
	s->slices = (struct author_slices *)(base + l.slices);
	s->index = (uint32_t *)(base + l.index);
	s->order = (uint32_t *)(base + l.order);
	s->order_scratch = (uint32_t *)(base + l.order_scratch);
	s->inputs = (struct faii_settle_node_input *)(base + l.inputs);
	s->results = (struct faii_settle_node_result *)(base + l.results);
	s->hashes = (uint8_t(*)[FAII_SETTLE_HASH_BYTES])(base + l.hashes);
	s->tree = (uint8_t(*)[FAII_SETTLE_HASH_BYTES])(base + l.tree);
	for (uint32_t k = 0; k < FAII_SETTLE_EPOCHS_KEPT; k++)
		s->kept[k].leaves = (uint8_t(*)[FAII_SETTLE_LEAF_BYTES])(
		        base + l.leaves + (size_t)k * config->nodes_max * FAII_SETTLE_LEAF_BYTES);
	rc = settle_modules_init(s, base, &l.modules, field);
	if (rc != 0)
		return rc;
	*state = s;
	return 0;
}

/* ---- the node table ---- */

static uint32_t index_home(const struct faii_settle_state *s, uint32_t node_id)
{
	return (node_id * 2654435761u) & s->index_mask; /* Fibonacci hashing */
}

struct node_slot *settle_node_find(const struct faii_settle_state *s, uint32_t node_id)
{
	for (uint32_t i = index_home(s, node_id), probes = 0; probes <= s->index_mask;
	     i = (i + 1) & s->index_mask, probes++) {
		uint32_t cell = s->index[i];
		if (cell == NO_SLOT)
			return NULL;
		if (s->slots[cell - 1].node_id == node_id)
			return &s->slots[cell - 1];
	}
	return NULL;
}

static struct node_slot *node_insert(struct faii_settle_state *s, uint32_t node_id)
{
	FAII_ASSERT(s->nodes < s->config.nodes_max);
	uint32_t i = index_home(s, node_id);
	while (s->index[i] != NO_SLOT) /* terminates: at most half the cells are used */
		i = (i + 1) & s->index_mask;
	struct node_slot *slot = &s->slots[s->nodes];
	s->index[i] = ++s->nodes;
	slot->node_id = node_id;
	return slot;
}

bool faii_settle_may_register(const struct faii_settle_state *s, uint32_t validator,
                              uint32_t node_id)
{
	if (!s->config.node_ranges)
		return true;
	return validator < s->config.validators && node_id >= s->config.node_first[validator] &&
	       node_id <= s->config.node_last[validator];
}

static enum faii_settle_outcome apply_node(struct faii_settle_state *s, uint32_t author,
                                           const uint8_t *tx, uint32_t len)
{
	struct faii_settle_tx_node tx_node;
	if (faii_settle_tx_node_decode(tx, len, &tx_node) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	FAII_ASSERT(author < s->config.validators);
	if (!faii_settle_may_register(s, author, tx_node.node_id))
		return FAII_SETTLE_REFUSED_NOT_HOME;
	struct node_slot *slot = settle_node_find(s, tx_node.node_id);
	if (slot != NULL && (slot->operator_id != tx_node.operator_id ||
	                     memcmp(slot->public_key, tx_node.public_key, FAII_SETTLE_PUBLIC_KEY)))
		return FAII_SETTLE_REFUSED_NODE_REBOUND;
	if (slot == NULL) {
		if (s->nodes == s->config.nodes_max)
			return FAII_SETTLE_REFUSED_NODE_TABLE_FULL;
		slot = node_insert(s, tx_node.node_id);
		slot->operator_id = tx_node.operator_id;
		memcpy(slot->public_key, tx_node.public_key, FAII_SETTLE_PUBLIC_KEY);
	}
	slot->node_class = tx_node.node_class;
	slot->capacity_units = tx_node.capacity_units;
	slot->stake = tx_node.stake;
	settle_stake_changed(s, slot);
	return FAII_SETTLE_APPLIED;
}

/* ---- work summaries and the consortium's clock ---- */

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void add_entry(struct faii_settle_state *s, const struct faii_settle_work_entry *entry)
{
	struct node_slot *slot = settle_node_find(s, entry->node_id);
	if (slot == NULL) {
		s->stats.entries_refused++;
		return;
	}
	slot->heartbeats_expected =
	        add_saturating(slot->heartbeats_expected, entry->heartbeats_expected);
	slot->heartbeats_seen = add_saturating(slot->heartbeats_seen, entry->heartbeats_seen);
	slot->disagreements = add_saturating(slot->disagreements, entry->disagreements);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		const struct faii_settle_work_tier *tier = &entry->tier[t];
		slot->dispatched[t] = add_saturating(slot->dispatched[t], tier->dispatched);
		slot->verified[t] = add_saturating(slot->verified[t], tier->verified_work);
		slot->slo_hits[t] = add_saturating(slot->slo_hits[t], tier->slo_hits);
		slot->answered[t] = add_saturating(slot->answered[t], tier->answered);
		slot->busy_us[t] = add_saturating(slot->busy_us[t], tier->latency_sum_us);
	}
	settle_observe_entry(s, slot, entry);
}

/*
 * The consortium's time: the (f + 1)-th largest of the validators' latest
 * reported slice ends. At least one honest validator reported that much,
 * so f liars can neither run the clock ahead nor hold it back.
 */
static uint64_t consortium_time(const struct faii_settle_state *s)
{
	uint64_t sorted[FAII_SETTLE_VALIDATORS_MAX];
	uint32_t n = s->config.validators;
	for (uint32_t i = 0; i < n; i++) { /* insertion sort, descending: n <= 64 */
		uint64_t value = s->author_ms[i];
		uint32_t j = i;
		for (; j > 0 && sorted[j - 1] < value; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = value;
	}
	uint32_t f = (n - 1) / 3;
	return sorted[f];
}

static void settle_epoch(struct faii_settle_state *s, uint64_t sequence);

static void advance_clock(struct faii_settle_state *s, uint64_t sequence)
{
	uint64_t now = consortium_time(s);
	if (now <= s->stats.consortium_ms)
		return; /* the clock never runs backwards */
	s->stats.consortium_ms = now;
	settle_clock_moved(s);
	uint64_t epoch = now / s->config.epoch_ms;
	if (!s->clock_started) {
		/* Work committed before the clock started belongs to its first epoch. */
		s->clock_started = true;
		s->stats.current_epoch = epoch;
		return;
	}
	if (epoch > s->stats.current_epoch) {
		settle_epoch(s, sequence);
		s->stats.current_epoch = epoch;
		settle_epoch_done(s, epoch);
	}
}

/* Opens the rows of the slices after the author's latest, up to slice; at
 * the author's first, the whole window below it too (a part of an earlier
 * slice may still come late). */
static void slices_advance(struct author_slices *a, uint64_t slice)
{
	uint64_t below = slice < SETTLE_LATE_SLICES - 1 ? slice : SETTLE_LATE_SLICES - 1;
	uint64_t from = a->any ? a->max_slice + 1 : slice - below;
	if (slice - from >= SETTLE_LATE_SLICES)
		from = slice - SETTLE_LATE_SLICES + 1; /* every row is reopened anyway */
	/* Counted from `from`, not up to `slice`: a liar's slice UINT64_MAX
	 * must not make `next <= slice` hold forever. */
	for (uint64_t k = 0; k <= slice - from; k++) {
		uint64_t next = from + k;
		uint32_t row = (uint32_t)(next % SETTLE_LATE_SLICES);
		a->slice_of[row] = next;
		memset(a->parts[row], 0, sizeof(a->parts[row]));
	}
	a->any = true;
	a->max_slice = slice;
}

/* Takes (slice, part) once: false for a duplicate or a part too late. */
static bool summary_take(struct faii_settle_state *s, uint32_t author,
                         const struct faii_settle_work_header *header)
{
	struct author_slices *a = &s->slices[author];
	if (header->part >= SETTLE_SLICE_PARTS)
		return false;
	if (a->any && header->slice < a->max_slice &&
	    a->max_slice - header->slice >= SETTLE_LATE_SLICES)
		return false; /* older than the window: it can no longer be told apart */
	if (!a->any || header->slice > a->max_slice)
		slices_advance(a, header->slice);
	uint32_t row = (uint32_t)(header->slice % SETTLE_LATE_SLICES);
	FAII_ASSERT(a->slice_of[row] == header->slice);
	uint8_t bit = (uint8_t)(1u << (header->part % 8));
	if (a->parts[row][header->part / 8] & bit)
		return false;
	a->parts[row][header->part / 8] |= bit;
	return true;
}

static enum faii_settle_outcome apply_work(struct faii_settle_state *s,
                                           const struct faii_settle_origin *origin,
                                           const uint8_t *tx, uint32_t len)
{
	struct faii_settle_work_header header;
	if (faii_settle_tx_work_decode_header(tx, len, &header) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	if (!summary_take(s, origin->author, &header))
		return FAII_SETTLE_REFUSED_STALE_SUMMARY;
	for (uint16_t i = 0; i < header.entry_count; i++) {
		struct faii_settle_work_entry entry;
		faii_settle_tx_work_entry(tx, i, &entry);
		add_entry(s, &entry);
	}
	/* One report of the queues per appliance and slice (its first part). */
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS && header.part == 0; t++) {
		uint64_t *sum = &s->queue_sum[origin->author][t];
		*sum = add_saturating(*sum, header.queue_ppb[t]);
		s->queue_reports[origin->author][t]++;
	}
	s->summaries++;
	if (header.slice_end_ms > s->author_ms[origin->author])
		s->author_ms[origin->author] = header.slice_end_ms;
	advance_clock(s, origin->sequence);
	return FAII_SETTLE_APPLIED;
}

/* ---- settling an epoch ---- */

static uint64_t ratio_ppb(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return 0;
	if (part >= whole)
		return FAII_SETTLE_PPB_ONE;
	return (uint64_t)((unsigned __int128)part * FAII_SETTLE_PPB_ONE / whole);
}

/* s->order <- the used slots sorted by node id (LSD radix, 4 byte passes).
 * Slots never move and keep their ids, so the order stays current until a
 * node registers: an epoch without registrations does not sort again. */
static void sort_by_node_id(struct faii_settle_state *s)
{
	if (s->order_nodes == s->nodes)
		return;
	uint32_t *from = s->order, *to = s->order_scratch;
	for (uint32_t i = 0; i < s->nodes; i++)
		from[i] = i;
	for (uint32_t shift = 0; shift < 32; shift += 8) {
		uint32_t count[257] = {0};
		for (uint32_t i = 0; i < s->nodes; i++)
			count[((s->slots[from[i]].node_id >> shift) & 0xFFu) + 1]++;
		for (uint32_t b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (uint32_t i = 0; i < s->nodes; i++)
			to[count[(s->slots[from[i]].node_id >> shift) & 0xFFu]++] = from[i];
		uint32_t *swap = from;
		from = to, to = swap;
	}
	FAII_ASSERT(from == s->order); /* an even number of passes */
	for (uint32_t i = 1; i < s->nodes; i++)
		FAII_ASSERT(s->slots[s->order[i - 1]].node_id < s->slots[s->order[i]].node_id);
	s->order_nodes = s->nodes;
}

static void fill_input(const struct node_slot *slot, struct faii_settle_node_input *in)
{
	memset(in, 0, sizeof(*in));
	in->node_id = slot->node_id;
	in->operator_id = slot->operator_id;
	in->node_class = slot->node_class;
	in->availability_ppb = ratio_ppb(slot->heartbeats_seen, slot->heartbeats_expected);
	in->capacity_units = slot->capacity_units;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		in->work[t] = slot->verified[t];
		/* A dispatched task that was not answered within its SLO is a miss. */
		in->slo_success_ppb[t] = ratio_ppb(slot->slo_hits[t], slot->dispatched[t]);
	}
	in->penalty_points = slot->disagreements;
	in->cumulative_before = slot->cumulative;
}

/* The epoch's q_t: the (lower) median of the reporting appliances' mean
 * reports. With at most f liars among 2f + 1 or more reporters it lies
 * within the honest appliances' means, however many slices a liar sends. */
static uint64_t epoch_queue(const struct faii_settle_state *s, uint32_t t)
{
	uint64_t means[FAII_SETTLE_VALIDATORS_MAX];
	uint32_t k = 0;
	for (uint32_t v = 0; v < s->config.validators; v++) {
		uint64_t reports = s->queue_reports[v][t];
		if (reports == 0)
			continue;
		uint64_t mean = s->queue_sum[v][t] / reports;
		uint32_t j = k++;
		for (; j > 0 && means[j - 1] > mean; j--) /* insertion sort: k <= 64 */
			means[j] = means[j - 1];
		means[j] = mean;
	}
	return k > 0 ? means[(k - 1) / 2] : 0;
}

static void epoch_params(const struct faii_settle_state *s, struct faii_settle_params *params)
{
	settle_epoch_params(s, s->stats.current_epoch, params);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		params->queue_ppb[t] = epoch_queue(s, t);
}

/* Pays each node its result (or escrows it) and writes the tree's leaves. */
static uint32_t pay_and_write_leaves(struct faii_settle_state *s, struct kept_epoch *kept,
                                     bool computed)
{
	uint32_t leaves = 0;
	for (uint32_t i = 0; i < s->nodes; i++) {
		struct node_slot *slot = &s->slots[s->order[i]];
		uint64_t amount = computed ? s->results[i].paid : 0;
		if (settle_node_held(s, slot)) {
			settle_escrow_record(s, slot, amount);
			slot->escrow += amount;
			kept->record.escrowed += amount;
			s->stats.escrow += amount;
			amount = 0;
		} else {
			amount += slot->release_pending;
			kept->record.released += slot->release_pending;
			s->stats.escrow -= slot->release_pending;
			slot->release_pending = 0;
		}
		slot->cumulative += amount;
		s->stats.paid += amount;
		if (slot->cumulative == 0)
			continue; /* never owed anything: no leaf needed to claim */
		struct faii_settle_payout_leaf leaf = {
		        .epoch = kept->record.epoch,
		        .operator_id = slot->operator_id,
		        .node_id = slot->node_id,
		        .amount = amount,
		        .cumulative = slot->cumulative,
		};
		faii_settle_leaf_encode(&leaf, kept->leaves[leaves++]);
	}
	return leaves;
}

static void reset_epoch_measurements(struct faii_settle_state *s)
{
	for (uint32_t i = 0; i < s->nodes; i++) {
		struct node_slot *slot = &s->slots[i];
		slot->heartbeats_expected = slot->heartbeats_seen = slot->disagreements = 0;
		memset(slot->dispatched, 0, sizeof(slot->dispatched));
		memset(slot->verified, 0, sizeof(slot->verified));
		memset(slot->slo_hits, 0, sizeof(slot->slo_hits));
		memset(slot->answered, 0, sizeof(slot->answered));
		memset(slot->busy_us, 0, sizeof(slot->busy_us));
	}
	memset(s->queue_sum, 0, sizeof(s->queue_sum));
	memset(s->queue_reports, 0, sizeof(s->queue_reports));
	s->summaries = 0;
}

static void assert_money_conserved(const struct faii_settle_state *s)
{
	/* Everything minted or slashed off a stake was paid out, is held in
	 * escrow (or released and waiting for the next epoch), went to the
	 * treasury, was burned or rewarded a reporter. */
	const struct faii_settle_stats *m = &s->stats;
	FAII_ASSERT(m->minted + m->slashed_stake ==
	            m->paid + m->escrow + m->treasury + m->burned + m->reporter_rewards);
}

/*
 * A node whose own amounts do not fit 64 bits (one liar's entry with a huge
 * verified work or penalty count, or a huge metered energy) would make
 * faii_settle_epoch() refuse the whole epoch and pay nobody. Each node is
 * tried alone (its diversity factor, <= 1, is the last product: alone or
 * not, the same node overflows); those that overflow keep their
 * availability floor and lose the epoch's measured work, SLO, penalty and
 * energy inputs, counted in entries_refused. Only on the failure path.
 */
static int settle_without_overflowing_nodes(struct faii_settle_state *s,
                                            const struct faii_settle_params *params,
                                            struct faii_settle_epoch_totals *totals)
{
	struct faii_settle_epoch_totals alone;
	for (uint32_t i = 0; i < s->nodes; i++) {
		struct faii_settle_node_input *in = &s->inputs[i];
		if (faii_settle_epoch(params, in, 1, &s->results[i], &alone) != -EOVERFLOW)
			continue;
		memset(in->work, 0, sizeof(in->work));
		memset(in->slo_success_ppb, 0, sizeof(in->slo_success_ppb));
		in->penalty_points = 0;
		in->energy_wh = in->energy_retired_wh = 0;
		s->stats.entries_refused++;
	}
	return faii_settle_epoch(params, s->inputs, s->nodes, s->results, totals);
}

/* The kept epoch's payout tree, every level, into s->tree; its root. */
static void tree_build(struct faii_settle_state *s, const struct kept_epoch *kept,
                       uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	for (uint32_t i = 0; i < kept->record.leaves; i++)
		faii_settle_leaf_hash(kept->leaves[i], s->hashes[i]);
	FAII_ASSERT(faii_settle_merkle_tree((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])s->hashes,
	                                    kept->record.leaves, s->tree, root) == 0);
	s->tree_held = kept->record.leaves > 0;
	s->tree_epoch = kept->record.epoch;
}

static void settle_epoch(struct faii_settle_state *s, uint64_t sequence)
{
	struct kept_epoch *kept = &s->kept[s->stats.epochs_settled % FAII_SETTLE_EPOCHS_KEPT];
	memset(&kept->record, 0, sizeof(kept->record));
	kept->record.epoch = s->stats.current_epoch;
	kept->record.settled_ms = s->stats.consortium_ms;
	kept->record.sequence = sequence;
	kept->record.summaries = s->summaries;
	sort_by_node_id(s);
	for (uint32_t i = 0; i < s->nodes; i++)
		fill_input(&s->slots[s->order[i]], &s->inputs[i]);
	settle_epoch_carbon(s, s->stats.current_epoch);
	struct faii_settle_params params;
	epoch_params(s, &params);
	settle_calib_record(s, &params);
	int rc = faii_settle_epoch(&params, s->inputs, s->nodes, s->results, &kept->record.totals);
	if (rc == -EOVERFLOW)
		rc = settle_without_overflowing_nodes(s, &params, &kept->record.totals);
	kept->record.status = rc;
	if (rc != 0) {
		memset(&kept->record.totals, 0, sizeof(kept->record.totals));
		s->stats.epochs_failed++;
	}
	s->stats.minted += kept->record.totals.paid;
	uint32_t leaves = pay_and_write_leaves(s, kept, rc == 0);
	kept->record.leaves = leaves;
	tree_build(s, kept, kept->record.root);
	s->stats.epochs_settled++;
	reset_epoch_measurements(s);
	assert_money_conserved(s);
}

/* ---- payout roots and finality ---- */

static struct kept_epoch *kept_find(const struct faii_settle_state *s, uint64_t epoch)
{
	uint64_t settled = s->stats.epochs_settled;
	uint64_t kept = settled < FAII_SETTLE_EPOCHS_KEPT ? settled : FAII_SETTLE_EPOCHS_KEPT;
	for (uint64_t k = 0; k < kept; k++) {
		const struct kept_epoch *candidate =
		        &s->kept[(settled - 1 - k) % FAII_SETTLE_EPOCHS_KEPT];
		if (candidate->record.epoch == epoch)
			return (struct kept_epoch *)candidate;
	}
	return NULL;
}

static enum faii_settle_outcome apply_root(struct faii_settle_state *s,
                                           const struct faii_settle_origin *origin,
                                           const uint8_t *tx, uint32_t len)
{
	struct faii_settle_tx_root root;
	if (faii_settle_tx_root_decode(tx, len, &root) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	struct kept_epoch *kept = kept_find(s, root.epoch);
	if (kept == NULL)
		return FAII_SETTLE_REFUSED_ROOT_UNKNOWN;
	uint64_t bit = 1ull << origin->author;
	struct faii_settle_epoch_record *record = &kept->record;
	if ((record->root_votes | record->root_against) & bit)
		return FAII_SETTLE_REFUSED_ROOT_DUPLICATE;
	if (root.leaves != record->leaves ||
	    memcmp(root.root, record->root, FAII_SETTLE_HASH_BYTES)) {
		record->root_against |= bit;
		return FAII_SETTLE_REFUSED_ROOT_MISMATCH;
	}
	record->root_votes |= bit;
	return FAII_SETTLE_APPLIED;
}

static void update_finality(struct faii_settle_state *s)
{
	for (uint32_t k = 0; k < FAII_SETTLE_EPOCHS_KEPT && k < s->stats.epochs_settled; k++) {
		struct faii_settle_epoch_record *record = &s->kept[k].record;
		if (record->final || record->status != 0)
			continue;
		bool delay_over = s->stats.consortium_ms >=
		                  record->settled_ms + s->config.activation_delay_ms;
		if (delay_over && (uint32_t)__builtin_popcountll(record->root_votes) >= s->quorum)
			record->final = true;
	}
}

enum faii_settle_outcome faii_settle_apply(struct faii_settle_state *s,
                                           const struct faii_settle_origin *origin,
                                           const uint8_t *tx, uint32_t len)
{
	FAII_ASSERT(s != NULL && origin != NULL);
	enum faii_settle_tx_kind kind;
	enum faii_settle_outcome outcome;
	if (faii_settle_tx_kind(tx, len, &kind) != 0)
		outcome = FAII_SETTLE_REFUSED_MALFORMED;
	else if (origin->author >= s->config.validators)
		outcome = FAII_SETTLE_REFUSED_NOT_MEMBER;
	else if (kind == FAII_SETTLE_TX_NODE_REGISTER)
		outcome = apply_node(s, origin->author, tx, len);
	else if (kind == FAII_SETTLE_TX_WORK_SUMMARY)
		outcome = apply_work(s, origin, tx, len);
	else if (kind == FAII_SETTLE_TX_PAYOUT_ROOT)
		outcome = apply_root(s, origin, tx, len);
	else
		outcome = settle_apply_module(s, origin, kind, tx, len);
	if (outcome == FAII_SETTLE_APPLIED)
		s->stats.applied[kind]++;
	else
		s->stats.refused[outcome]++;
	update_finality(s);
	return outcome;
}

/* ---- reading the state ---- */

void faii_settle_get_stats(const struct faii_settle_state *s, struct faii_settle_stats *stats)
{
	*stats = s->stats;
	stats->nodes = s->nodes;
}

const struct faii_settle_epoch_record *faii_settle_epoch_record(const struct faii_settle_state *s,
                                                                uint64_t epoch)
{
	const struct kept_epoch *kept = kept_find(s, epoch);
	return kept != NULL ? &kept->record : NULL;
}

uint32_t faii_settle_kept_epochs(const struct faii_settle_state *s,
                                 struct faii_settle_epoch_record *records, uint32_t cap)
{
	uint64_t settled = s->stats.epochs_settled;
	uint32_t kept =
	        settled < FAII_SETTLE_EPOCHS_KEPT ? (uint32_t)settled : FAII_SETTLE_EPOCHS_KEPT;
	uint32_t count = kept < cap ? kept : cap;
	for (uint32_t k = 0; k < count; k++)
		records[k] = s->kept[(settled - 1 - k) % FAII_SETTLE_EPOCHS_KEPT].record;
	return count;
}

const struct faii_settle_epoch_record *faii_settle_latest_epoch(const struct faii_settle_state *s)
{
	if (s->stats.epochs_settled == 0)
		return NULL;
	return &s->kept[(s->stats.epochs_settled - 1) % FAII_SETTLE_EPOCHS_KEPT].record;
}

static int64_t leaf_search(const struct kept_epoch *kept, uint32_t node_id)
{
	uint32_t low = 0, high = kept->record.leaves; /* leaves are sorted by node id */
	while (low < high) {
		uint32_t mid = low + (high - low) / 2;
		uint32_t at = faii_get_le32(kept->leaves[mid] + 12);
		if (at == node_id)
			return mid;
		if (at < node_id)
			low = mid + 1;
		else
			high = mid;
	}
	return -1;
}

int faii_settle_payout_proof(struct faii_settle_state *s, uint64_t epoch, uint32_t node_id,
                             struct faii_settle_payout_leaf *leaf, struct faii_settle_proof *proof)
{
	const struct kept_epoch *kept = kept_find(s, epoch);
	int64_t index = kept != NULL ? leaf_search(kept, node_id) : -1;
	if (index < 0)
		return -ENOENT;
	const uint8_t *bytes = kept->leaves[index];
	leaf->epoch = faii_get_le64(bytes);
	leaf->operator_id = faii_get_le32(bytes + 8);
	leaf->node_id = faii_get_le32(bytes + 12);
	leaf->amount = faii_get_le64(bytes + 16);
	leaf->cumulative = faii_get_le64(bytes + 24);
	if (!s->tree_held || s->tree_epoch != epoch) {
		/* An older kept epoch: its tree replaces the one held, once. */
		uint8_t root[FAII_SETTLE_HASH_BYTES];
		tree_build(s, kept, root);
		FAII_ASSERT(memcmp(root, kept->record.root, FAII_SETTLE_HASH_BYTES) == 0);
	}
	int rc = faii_settle_merkle_tree_proof((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])s->tree,
	                                       kept->record.leaves, (size_t)index, proof);
	FAII_ASSERT(rc == 0 && proof->index == (uint64_t)index &&
	            proof->count == kept->record.leaves);
	return 0;
}

int faii_settle_node(const struct faii_settle_state *s, uint32_t node_id,
                     struct faii_settle_node_view *view)
{
	const struct node_slot *slot = settle_node_find(s, node_id);
	if (slot == NULL)
		return -ENOENT;
	*view = (struct faii_settle_node_view){
	        .node_id = slot->node_id,
	        .operator_id = slot->operator_id,
	        .node_class = slot->node_class,
	        .held = slot->held != 0,
	        .capacity_units = slot->capacity_units,
	        .stake = slot->stake,
	        .cumulative = slot->cumulative,
	        .escrow = slot->escrow,
	};
	memcpy(view->public_key, slot->public_key, FAII_SETTLE_PUBLIC_KEY);
	return 0;
}

int faii_settle_node_hold(struct faii_settle_state *s, uint32_t node_id, enum faii_settle_hold hold)
{
	struct node_slot *slot = settle_node_find(s, node_id);
	if (slot == NULL)
		return -ENOENT;
	if (hold == FAII_SETTLE_HOLD) {
		slot->held = 1;
		return 0;
	}
	/* Slashing takes its amount from this escrow when a proposal closes:
	 * emptying it first would pay (or forfeit) what the slash is owed. */
	if (faii_settle_slash_escrowed(s->slash, node_id))
		return -EBUSY;
	slot->held = 0;
	if (hold == FAII_SETTLE_RELEASE) {
		/* An operator's hold; slashing's escrow ends with its proposals. */
		slot->release_pending += slot->escrow; /* paid with the next settled epoch */
	} else {
		s->stats.escrow -= slot->escrow;
		s->stats.treasury += slot->escrow;
	}
	slot->escrow = 0;
	return 0;
}

/* ---- the state's digest ---- */

static void hash_u64(crypto_generichash_state *h, uint64_t value)
{
	uint8_t bytes[8];
	faii_put_le64(bytes, value);
	crypto_generichash_update(h, bytes, sizeof(bytes));
}

static void hash_node(crypto_generichash_state *h, const struct node_slot *slot)
{
	const uint64_t fields[] = {
	        slot->node_id,
	        slot->operator_id,
	        slot->capacity_units,
	        slot->node_class,
	        slot->held,
	        slot->stake,
	        slot->cumulative,
	        slot->escrow,
	        slot->release_pending,
	        slot->heartbeats_expected,
	        slot->heartbeats_seen,
	        slot->disagreements,
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hash_u64(h, fields[i]);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		hash_u64(h, slot->dispatched[t]);
		hash_u64(h, slot->verified[t]);
		hash_u64(h, slot->slo_hits[t]);
		hash_u64(h, slot->answered[t]);
		hash_u64(h, slot->busy_us[t]);
	}
	crypto_generichash_update(h, slot->public_key, FAII_SETTLE_PUBLIC_KEY);
}

static void hash_record(crypto_generichash_state *h, const struct faii_settle_epoch_record *r)
{
	const struct faii_settle_epoch_totals *t = &r->totals;
	const uint64_t fields[] = {
	        r->epoch,       r->settled_ms, r->sequence,   (uint64_t)(int64_t)r->status,
	        r->leaves,      r->summaries,  r->root_votes, r->root_against,
	        r->final,       r->escrowed,   r->released,   t->base,
	        t->performance, t->deduction,  t->withheld,   t->paid,
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hash_u64(h, fields[i]);
	crypto_generichash_update(h, r->root, FAII_SETTLE_HASH_BYTES);
}

/* The parts' books: counts and totals every validator must share. */
static void hash_parts(crypto_generichash_state *h, const struct faii_settle_state *s)
{
	struct faii_settle_slash_stats slash;
	struct faii_settle_reputation_stats reputation;
	struct faii_settle_carbon_totals carbon;
	faii_settle_slash_get_stats(s->slash, &slash);
	faii_settle_reputation_get_stats(s->reputation, &reputation);
	faii_settle_carbon_totals(s->carbon, &carbon);
	const uint64_t fields[] = {
	        slash.proposals,          slash.disputes,         slash.votes,
	        slash.executed,           slash.dismissed,        slash.burned,
	        slash.to_reporters,       slash.to_treasury,      slash.escrow_held,
	        slash.escrow_released,    reputation.nodes,       reputation.observations,
	        reputation.halvings,      reputation.decay_steps, carbon.minted_wh,
	        carbon.tradable_wh,       carbon.retired_wh,      carbon.expired_wh,
	        carbon.energy_mwh,        carbon.certificates,    carbon.readings,
	        s->gov->proposal_count,   s->gov->history_count,  s->gov->adopted,
	        s->gov->rejected,         s->gov->expired,        s->gov->failed,
	        s->gov->last_proposal_id,
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hash_u64(h, fields[i]);
	for (uint32_t v = 0; v < s->config.validators; v++)
		hash_u64(h, s->reporter_rewards[v]);
}

void faii_settle_state_digest(const struct faii_settle_state *s,
                              uint8_t digest[FAII_SETTLE_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, (const uint8_t *)"faii-settle-state-v1", 20,
	                        FAII_SETTLE_HASH_BYTES);
	const struct faii_settle_stats *st = &s->stats;
	const uint64_t money[] = {st->consortium_ms,
	                          st->current_epoch,
	                          st->epochs_settled,
	                          st->epochs_failed,
	                          st->minted,
	                          st->paid,
	                          st->escrow,
	                          st->treasury,
	                          st->burned,
	                          st->slashed_stake,
	                          st->reporter_rewards,
	                          st->slashes_executed,
	                          st->slashes_dismissed,
	                          st->carbon_retired_wh,
	                          s->nodes,
	                          s->summaries};
	for (size_t i = 0; i < sizeof(money) / sizeof(money[0]); i++)
		hash_u64(&h, money[i]);
	for (uint32_t v = 0; v < s->config.validators; v++) {
		hash_u64(&h, s->author_ms[v]);
		const struct author_slices *a = &s->slices[v];
		hash_u64(&h, a->any);
		hash_u64(&h, a->max_slice);
		for (uint32_t r = 0; r < SETTLE_LATE_SLICES; r++)
			hash_u64(&h, a->slice_of[r]);
		crypto_generichash_update(&h, &a->parts[0][0], sizeof(a->parts));
	}
	for (uint32_t v = 0; v < s->config.validators; v++)
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
			hash_u64(&h, s->queue_sum[v][t]);
			hash_u64(&h, s->queue_reports[v][t]);
		}
	/* Slots in registration order: the committed sequence fixes it. */
	for (uint32_t i = 0; i < s->nodes; i++)
		hash_node(&h, &s->slots[i]);
	uint64_t kept = st->epochs_settled < FAII_SETTLE_EPOCHS_KEPT ? st->epochs_settled
	                                                             : FAII_SETTLE_EPOCHS_KEPT;
	for (uint64_t k = 0; k < kept; k++)
		hash_record(&h, &s->kept[k].record);
	hash_parts(&h, s);
	settle_calib_hash(&h, s);
	crypto_generichash_final(&h, digest, FAII_SETTLE_HASH_BYTES);
}
