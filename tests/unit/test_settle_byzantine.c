/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's state machine (ledger/settle/state.c) against a Byzantine
 * validator: transactions an appliance may author with arbitrary bytes
 * must neither stop the validators (hang, assertion) nor take what the
 * committed sequence does not give them. Each test failed on the code
 * before its fix (or is disabled, with the fix it needs described).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "settle_test_params.h"

#define BYZ_EPOCH_MS   10000u
#define BYZ_T0         1000005000ull /* consortium time inside epoch 100000 */
#define BYZ_DISPUTE_MS 30000u        /* slashing's dispute window here */

struct byz {
	void *mem;
	struct faii_settle_state *state;
	uint64_t sequence;
};

static void byz_open_config(struct byz *b, uint32_t nodes_max, bool node_ranges);

static void byz_open(struct byz *b, uint32_t nodes_max)
{
	byz_open_config(b, nodes_max, false);
}

/* Home ranges of 8 ids in all: validator 0 registers 1-2, 1 3-4, 2 5-6,
 * the liar (3) 100-101. */
static void byz_open_config(struct byz *b, uint32_t nodes_max, bool node_ranges)
{
	struct faii_settle_config config = {
	        .validators = 4,
	        .nodes_max = nodes_max,
	        .epoch_ms = BYZ_EPOCH_MS,
	        .activation_delay_ms = 2 * BYZ_EPOCH_MS,
	        .params = test_params(),
	        .dispute_window_ms = BYZ_DISPUTE_MS,
	};
	static const uint32_t first[4] = {1, 3, 5, 100}, last[4] = {2, 4, 6, 101};
	config.node_ranges = node_ranges;
	memcpy(config.node_first, first, sizeof(first));
	memcpy(config.node_last, last, sizeof(last));
	size_t bytes = faii_settle_state_bytes(nodes_max);
	memset(b, 0, sizeof(*b));
	b->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(b->mem);
	cr_assert_eq(faii_settle_state_init(b->mem, bytes, &config, &b->state, NULL), 0);
}

static enum faii_settle_outcome byz_apply(struct byz *b, uint32_t author, const uint8_t *tx,
                                          uint32_t len)
{
	struct faii_settle_origin origin = {.sequence = ++b->sequence, .author = author};
	return faii_settle_apply(b->state, &origin, tx, len);
}

/* An empty work summary part of `slice`, ending at end_ms. */
static enum faii_settle_outcome byz_slice(struct byz *b, uint32_t author, uint64_t slice,
                                          uint64_t end_ms)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = end_ms, .part = 0, .parts = 1};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* A liar's slice number at the top of u64 used to spin every validator
 * forever (the loop opening the window's rows counted past UINT64_MAX);
 * the same number below another author's window wrapped the staleness
 * check. Now the slice is taken once, the next refused, and the honest
 * authors are not affected. */
Test(settle_byzantine, a_slice_number_at_the_top_of_u64_neither_hangs_nor_wraps, .timeout = 10)
{
	struct byz b;
	byz_open(&b, 4);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX - 63, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX - 64, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 3, 5, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	/* Another author whose latest is small: a slice near the top is new. */
	cr_assert_eq(byz_slice(&b, 2, 10, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 2, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 2, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 1, 100, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 1, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_APPLIED); /* wrapped */
	cr_assert_eq(byz_slice(&b, 0, 1, BYZ_T0), FAII_SETTLE_APPLIED);
	free(b.mem);
}

/* A slice with one queue report q_1 from `author`. */
static enum faii_settle_outcome byz_queue(struct byz *b, uint32_t author, uint64_t slice,
                                          uint64_t end_ms, uint32_t q1_ppb)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = end_ms, .parts = 1, .queue_ppb = {0, q1_ppb, 0, 0}};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* The epoch's q_t of (32) sets theta_t for every node. The honest three
 * report q_1 = 0.2 once a slice; the liar (validator 3) sends 40 slices in
 * the same epoch, each reporting q_1 = 4.0. A mean over reports let the
 * liar's many slices set q_1 ~ 3.6 (theta_1 = 2 (1 + 0.5 q) = 5.6 instead
 * of 2.2: every node's tier-1 work paid 2.5 times over). Now each
 * appliance's reports are averaged first and the epoch takes the median of
 * the appliances: the liar moves it at most within the honest ones. */
Test(settle_byzantine, one_appliance_flooding_slices_does_not_set_the_epochs_queue, .timeout = 10)
{
	struct byz b;
	byz_open(&b, 4);
	for (uint32_t v = 0; v < 3; v++)
		cr_assert_eq(byz_queue(&b, v, 1, BYZ_T0, 200000000u), FAII_SETTLE_APPLIED);
	for (uint64_t slice = 1; slice <= 40; slice++)
		cr_assert_eq(byz_queue(&b, 3, slice, BYZ_T0, FAII_SETTLE_QUEUE_PPB_MAX),
		             FAII_SETTLE_APPLIED);
	for (uint32_t v = 0; v < 3; v++) /* the clock enters the next epoch */
		cr_assert_eq(byz_queue(&b, v, 2, BYZ_T0 + BYZ_EPOCH_MS, 200000000u),
		             FAII_SETTLE_APPLIED);
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(b.state);
	cr_assert_not_null(record);
	cr_assert_eq(record->epoch, 100000);
	/* theta_1 = 2 x (1 + 0.5 x 0.2) = 2.2: the honest appliances' q_1. */
	cr_assert_eq(record->totals.theta_ppb[1], 2200000000ull, "theta_1 %lu",
	             (unsigned long)record->totals.theta_ppb[1]);
	free(b.mem);
}

static enum faii_settle_outcome byz_register(struct byz *b, uint32_t author, uint32_t node,
                                             uint32_t operator_id, uint64_t stake, uint8_t key_byte)
{
	struct faii_settle_tx_node tx_node = {
	        .node_id = node, .operator_id = operator_id, .capacity_units = 1, .stake = stake};
	memset(tx_node.public_key, key_byte, sizeof(tx_node.public_key));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* A slice whose one entry says `node` did `work` units of tier-1 work. */
static enum faii_settle_outcome byz_work(struct byz *b, uint32_t author, uint64_t slice,
                                         uint64_t end_ms, uint32_t node, uint64_t work)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = end_ms, .parts = 1, .entry_count = 1};
	struct faii_settle_work_entry entry = {
	        .node_id = node, .heartbeats_expected = 10, .heartbeats_seen = 10};
	entry.tier[0] = (struct faii_settle_work_tier){
	        .dispatched = 100, .answered = 100, .verified_work = work, .slo_hits = 100};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, &entry, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* Every validator's empty slice `slice`, ending at end_ms. */
static void byz_all(struct byz *b, uint64_t slice, uint64_t end_ms)
{
	for (uint32_t v = 0; v < 4; v++)
		cr_assert_eq(byz_slice(b, v, slice, end_ms), FAII_SETTLE_APPLIED);
}

static enum faii_settle_outcome byz_replica_slash(struct byz *b, uint32_t author, uint32_t node,
                                                  uint64_t task)
{
	struct faii_settle_slash_tx proposal = {.accused = node,
	                                        .offense = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT,
	                                        .task_id = task};
	memset(proposal.majority_hash, 0x11, sizeof(proposal.majority_hash));
	memset(proposal.node_hash, 0x22, sizeof(proposal.node_hash));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_slash_tx_encode(&proposal, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

static void byz_assert_conserved(const struct byz *b)
{
	struct faii_settle_stats st;
	faii_settle_get_stats(b->state, &st);
	cr_assert_eq(st.minted + st.slashed_stake,
	             st.paid + st.escrow + st.treasury + st.burned + st.reporter_rewards);
}

/* Node 3 paid into slashing's escrow: a proposal against it is open. */
static void byz_escrowed_node(struct byz *b)
{
	cr_assert_eq(byz_register(b, 0, 3, 1, 1000, 0x33), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_work(b, 0, 1, BYZ_T0, 3, 100), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(byz_slice(b, v, 1, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_replica_slash(b, 2, 3, 4242), FAII_SETTLE_APPLIED);
	byz_all(b, 2, BYZ_T0 + BYZ_EPOCH_MS); /* 100000 settles: its amount to escrow */
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(b->state, 3, &view), 0);
	cr_assert_gt(view.escrow, 0);
}

/* An operator's release or forfeit of a node's escrow while slashing holds
 * it used to empty the escrow slashing was about to take its amount from:
 * the execution then stopped the validator on an assertion (and a release
 * paid what the slash was owed). Now the hold cannot end while a slashing
 * proposal is open (-EBUSY); the slash executes from the escrow. */
Test(settle_byzantine, an_operator_release_cannot_take_the_escrow_a_slash_is_owed, .timeout = 10)
{
	for (int forfeit = 0; forfeit < 2; forfeit++) {
		struct byz b;
		byz_open(&b, 4);
		byz_escrowed_node(&b);
		enum faii_settle_hold hold = forfeit ? FAII_SETTLE_FORFEIT : FAII_SETTLE_RELEASE;
		cr_assert_eq(faii_settle_node_hold(b.state, 3, hold), -EBUSY);
		byz_all(&b, 3, BYZ_T0 + BYZ_DISPUTE_MS); /* the slash executes */
		struct faii_settle_stats st;
		faii_settle_get_stats(b.state, &st);
		cr_assert_eq(st.slashes_executed, 1);
		cr_assert_eq(st.burned, 50); /* 10 % of 1000, half burned, from the escrow */
		cr_assert_eq(st.slashed_stake, 0);
		byz_assert_conserved(&b);
		cr_assert_eq(faii_settle_node_hold(b.state, 3, hold), 0); /* closed: allowed */
		byz_assert_conserved(&b);
		free(b.mem);
	}
}

/*
 * One Byzantine appliance filled the node table with NODE_REGISTER
 * transactions for made-up ids: nodes are never removed, so every honest
 * registration after it was refused (node_table_full) forever. With home
 * ranges (disjoint, at most nodes_max ids in all) it registers only its own
 * range, and the honest appliances' ids always fit. Without them the old
 * behaviour stands (the last assertion): ranges are the operators' choice.
 */
Test(settle_byzantine, one_appliance_cannot_fill_the_node_table)
{
	struct byz b;
	byz_open_config(&b, 8, true);
	cr_assert_eq(byz_register(&b, 3, 100, 66, 0, 0x66), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_register(&b, 3, 101, 66, 0, 0x67), FAII_SETTLE_APPLIED);
	for (uint32_t node = 102; node < 120; node++)
		cr_assert_eq(byz_register(&b, 3, node, 66, 0, 0x68), FAII_SETTLE_REFUSED_NOT_HOME);
	for (uint32_t node = 1; node <= 6; node++)
		cr_assert_eq(byz_register(&b, (node - 1) / 2, node, 1, 1000, (uint8_t)node),
		             FAII_SETTLE_APPLIED);
	struct faii_settle_stats stats;
	faii_settle_get_stats(b.state, &stats);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_NOT_HOME], 18);
	cr_assert_str_eq(faii_settle_outcome_name(FAII_SETTLE_REFUSED_NOT_HOME), "not_home");
	/* What an appliance asks before it submits (appliance/settlement_sync.c). */
	cr_assert(faii_settle_may_register(b.state, 0, 2));
	cr_assert(!faii_settle_may_register(b.state, 0, 3));
	cr_assert(faii_settle_may_register(b.state, 3, 101));
	cr_assert(!faii_settle_may_register(b.state, 3, 102));
	free(b.mem);
	byz_open(&b, 4); /* no home ranges: any appliance registers any id */
	cr_assert(faii_settle_may_register(b.state, 0, 102));
	for (uint32_t node = 100; node < 104; node++)
		cr_assert_eq(byz_register(&b, 3, node, 66, 0, 0x66), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_register(&b, 0, 3, 1, 1000, 0x33), FAII_SETTLE_REFUSED_NODE_TABLE_FULL);
	free(b.mem);
}

/*
 * The first NODE_REGISTER of a node id fixes the node's key and operator:
 * a Byzantine appliance that registered an honest node's id first, with
 * its own key and operator, took the node's payouts, signed meter readings
 * and disputes as the node, and the honest registration was refused
 * (node_rebound). With home ranges only the node's home appliance binds it.
 */
Test(settle_byzantine, a_liar_cannot_bind_an_honest_nodes_id_to_its_own_operator)
{
	struct byz b;
	byz_open_config(&b, 8, true);
	cr_assert_eq(byz_register(&b, 3, 3, 66, 0, 0x66), FAII_SETTLE_REFUSED_NOT_HOME);
	cr_assert_eq(byz_register(&b, 1, 3, 1, 1000, 0x33), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_register(&b, 3, 3, 66, 0, 0x66), FAII_SETTLE_REFUSED_NOT_HOME);
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(b.state, 3, &view), 0);
	cr_assert_eq(view.operator_id, 1);
	free(b.mem);
}

/* Home ranges that overlap, or hold more ids than the node table, are
 * refused at init: either would let one appliance crowd out another. */
Test(settle_byzantine, home_ranges_are_checked)
{
	struct faii_settle_config config = {.validators = 4,
	                                    .nodes_max = 8,
	                                    .epoch_ms = BYZ_EPOCH_MS,
	                                    .params = test_params(),
	                                    .node_ranges = true,
	                                    .node_first = {1, 3, 5, 7},
	                                    .node_last = {2, 4, 6, 8}};
	size_t bytes = faii_settle_state_bytes(8);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	struct faii_settle_state *state;
	const char *field = NULL;
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), 0);
	config.node_last[3] = 9; /* 9 ids for 8 slots */
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	cr_assert_str_eq(field, "node_ranges");
	config.node_last[3] = 8;
	config.node_first[1] = 2; /* overlaps validator 0's */
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	config.node_first[1] = 5; /* last < first */
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	free(mem);
}

/*
 * Slashing kept every proposal it ever opened in a table that was never
 * reclaimed: a Byzantine appliance filled it with replica-disagreement
 * proposals (their evidence cannot be checked by the others) and, once they
 * had all closed, every later proposal was refused (proposals_full)
 * forever. The table is now a ring: a closed proposal's slot is reused.
 */
Test(settle_byzantine, closed_slash_proposals_do_not_fill_the_table_forever)
{
	struct byz b;
	byz_open(&b, 4);
	cr_assert_eq(byz_register(&b, 0, 3, 1, 1000, 0x33), FAII_SETTLE_APPLIED);
	byz_all(&b, 1, BYZ_T0);
	for (uint64_t task = 1; task <= 64; task++)
		cr_assert_eq(byz_replica_slash(&b, 3, 3, task), FAII_SETTLE_APPLIED);
	byz_all(&b, 2, BYZ_T0 + BYZ_DISPUTE_MS); /* all 64 close */
	struct faii_settle_slash_stats slash;
	faii_settle_slash_get_stats(faii_settle_state_slash(b.state), &slash);
	cr_assert_eq(slash.executed + slash.dismissed, 64);
	/* New evidence from an honest appliance, after every proposal closed. */
	cr_assert_eq(byz_replica_slash(&b, 0, 3, 1000), FAII_SETTLE_APPLIED);
	free(b.mem);
}

/* One liar's entry with a huge verified work for one node made the epoch's
 * arithmetic overflow, and faii_settle_epoch() refused the whole epoch:
 * nobody was paid. Now the nodes whose own amounts overflow have their
 * measured work, SLO and penalty inputs dropped for the epoch (counted in
 * entries_refused; they keep their availability floor) and everyone else
 * is paid as the hand computation says. */
Test(settle_byzantine, one_liars_huge_work_does_not_void_the_epoch_for_everyone, .timeout = 10)
{
	struct byz b;
	byz_open(&b, 4);
	cr_assert_eq(byz_register(&b, 0, 3, 1, 1000, 0x33), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_register(&b, 0, 7, 2, 1000, 0x77), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_work(&b, 0, 1, BYZ_T0, 7, 100), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_work(&b, 3, 1, BYZ_T0, 3, UINT64_MAX / 4), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 3; v++)
		cr_assert_eq(byz_slice(&b, v, 1, BYZ_T0), FAII_SETTLE_APPLIED);
	byz_all(&b, 2, BYZ_T0 + BYZ_EPOCH_MS); /* 100000 settles */
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(b.state);
	cr_assert_not_null(record);
	cr_assert_eq(record->epoch, 100000);
	cr_assert_eq(record->status, 0);
	/* Node 7 (micro, capacity 1): base 1000 x 1 x 1.0 = 1000; no queue
	 * reports, theta_1 = 1; SLO 1.0 / 0.9 = 1.111111111; m_DIV: micro's
	 * share is all the work (node 3's is dropped): 1 - 0.5 x 0.6 = 0.7;
	 * performance 100 x 10 = 1000 x 1.111111111 = 1111 x 0.7 = 777;
	 * paid 1777. Node 3: its floor of 1000 only. */
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(b.state, 7, &view), 0);
	cr_assert_eq(view.cumulative, 1777, "node 7 %lu", (unsigned long)view.cumulative);
	cr_assert_eq(faii_settle_node(b.state, 3, &view), 0);
	cr_assert_eq(view.cumulative, 1000, "node 3 %lu", (unsigned long)view.cumulative);
	byz_assert_conserved(&b);
	free(b.mem);
}
