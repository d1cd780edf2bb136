/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's state machine (ledger/settle/state.c): the committed
 * sequence in, settled epochs out. A hand-computed epoch, the consortium's
 * clock against lying validators, payout roots becoming final only after
 * the activation delay with 2f + 1 matching roots, escrow held and
 * released or forfeited, every refusal, and byte-identical states from one
 * sequence.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_carbon.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "settle_test_params.h"
#include "test_rng.h"

#define P(x)       ((uint64_t)((x)*1e9 + 0.5))
#define EPOCH_MS   10000u
#define DELAY_MS   20000u
#define T0         1000005000ull /* consortium time inside epoch 100000 */
#define NODE_A     7u            /* micro, operator 1 */
#define NODE_B     3u            /* XL, operator 2 */
#define TEST_NODES 16u
#define DISPUTE_MS 30000u /* slashing's dispute window in these tests */

static struct faii_settle_config test_config(uint32_t nodes_max)
{
	struct faii_settle_config config = {
	        .validators = 4,
	        .nodes_max = nodes_max,
	        .epoch_ms = EPOCH_MS,
	        .activation_delay_ms = DELAY_MS,
	};
	config.params = test_params();
	config.dispute_window_ms = DISPUTE_MS;
	config.params.queue_ppb[1] = 0; /* the appliances report q_t */
	return config;
}

struct fixture {
	void *mem;
	struct faii_settle_state *state;
	uint64_t sequence;
	uint64_t slice[4];
	uint32_t validators;
};

static void fixture_open_config(struct fixture *fx, const struct faii_settle_config *config)
{
	uint32_t nodes_max = config->nodes_max;
	size_t bytes = faii_settle_state_bytes(nodes_max);
	cr_assert_gt(bytes, 0);
	memset(fx, 0, sizeof(*fx));
	fx->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(fx->mem);
	const char *field = NULL;
	int rc = faii_settle_state_init(fx->mem, bytes, config, &fx->state, &field);
	cr_assert_eq(rc, 0, "init: %d (%s)", rc, field ? field : "");
	fx->validators = config->validators;
}

static void fixture_open(struct fixture *fx, uint32_t nodes_max)
{
	struct faii_settle_config config = test_config(nodes_max);
	fixture_open_config(fx, &config);
}

static enum faii_settle_outcome apply(struct fixture *fx, uint32_t author, const uint8_t *tx,
                                      uint32_t len)
{
	struct faii_settle_origin origin = {.sequence = ++fx->sequence, .author = author};
	return faii_settle_apply(fx->state, &origin, tx, len);
}

static enum faii_settle_outcome register_node(struct fixture *fx, uint32_t author, uint32_t node,
                                              uint32_t operator_id, uint8_t node_class,
                                              uint32_t capacity, uint8_t key_byte)
{
	struct faii_settle_tx_node tx_node = {.node_id = node,
	                                      .operator_id = operator_id,
	                                      .node_class = node_class,
	                                      .capacity_units = capacity};
	memset(tx_node.public_key, key_byte, sizeof(tx_node.public_key));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len), 0);
	return apply(fx, author, tx, len);
}

/* One appliance's slice with the queues q_t it measured. */
static enum faii_settle_outcome summary_queues(struct fixture *fx, uint32_t author, uint64_t end_ms,
                                               const struct faii_settle_work_entry *entries,
                                               uint16_t count,
                                               const uint32_t queue_ppb[FAII_SETTLE_TIERS])
{
	struct faii_settle_work_header header = {.slice = ++fx->slice[author],
	                                         .slice_end_ms = end_ms,
	                                         .parts = 1,
	                                         .entry_count = count};
	memcpy(header.queue_ppb, queue_ppb, sizeof(header.queue_ppb));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, entries, tx, sizeof(tx), &len), 0);
	return apply(fx, author, tx, len);
}

/* One appliance's slice: entries as given, q_1 = 0.2 in every report. */
static enum faii_settle_outcome summary(struct fixture *fx, uint32_t author, uint64_t end_ms,
                                        const struct faii_settle_work_entry *entries,
                                        uint16_t count)
{
	static const uint32_t queues[FAII_SETTLE_TIERS] = {0, (uint32_t)P(0.2), 0, 0};
	return summary_queues(fx, author, end_ms, entries, count, queues);
}

static void all_report(struct fixture *fx, uint64_t end_ms)
{
	for (uint32_t v = 0; v < 4; v++)
		cr_assert_eq(summary(fx, v, end_ms, NULL, 0), FAII_SETTLE_APPLIED);
}

/* A's and B's slice in the worked epoch. */
static void worked_entries(struct faii_settle_work_entry entries[2])
{
	memset(entries, 0, 2 * sizeof(entries[0]));
	entries[0].node_id = NODE_A;
	entries[0].heartbeats_expected = 100, entries[0].heartbeats_seen = 99;
	entries[0].tier[0] = (struct faii_settle_work_tier){
	        .dispatched = 100, .answered = 100, .verified_work = 100, .slo_hits = 95};
	entries[1].node_id = NODE_B;
	entries[1].heartbeats_expected = 100, entries[1].heartbeats_seen = 100;
	entries[1].disagreements = 1;
	entries[1].tier[1] = (struct faii_settle_work_tier){
	        .dispatched = 500, .answered = 500, .verified_work = 500, .slo_hits = 450};
}

/* The epoch worked by hand in docs/settlement.md ("The state machine"),
 * up to the clock's move into the next epoch (worked_epoch_end). */
static void worked_epoch_begin(struct fixture *fx)
{
	cr_assert_eq(register_node(fx, 0, NODE_A, 1, 0, 1, 0xA1), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(fx, 1, NODE_B, 2, 4, 20, 0xB2), FAII_SETTLE_APPLIED);
	struct faii_settle_work_entry entries[2];
	worked_entries(entries);
	cr_assert_eq(summary(fx, 0, T0, entries, 2), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(summary(fx, v, T0, NULL, 0), FAII_SETTLE_APPLIED);
}

static void worked_epoch_end(struct fixture *fx)
{
	all_report(fx, T0 + EPOCH_MS); /* the clock enters epoch 100001: 100000 settles */
}

static void worked_epoch(struct fixture *fx)
{
	worked_epoch_begin(fx);
	worked_epoch_end(fx);
}

Test(settle_state, a_worked_epoch_pays_what_the_hand_computation_says)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch(&fx);
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(fx.state);
	cr_assert_not_null(record);
	cr_assert_eq(record->epoch, 100000);
	cr_assert_eq(record->status, 0);
	/* Four of the first slice and the two of the next that moved the clock on. */
	cr_assert_eq(record->summaries, 6);
	/* theta_1 = 2 (1 + 0.5 x 0.2) = 2.2; s_XL = 500/600; m_DIV,XL = 1 - 0.5 x 0.4333.. */
	cr_assert_eq(record->totals.theta_ppb[1], 2200000000ull);
	cr_assert_eq(record->totals.class_share_ppb[4], 833333333ull);
	cr_assert_eq(record->totals.class_diversity_ppb[4], 783333334ull);
	/* A: 990 + 1055 = 2045; B: 20 000 + 8 616 - 100 = 28 516. */
	cr_assert_eq(record->totals.base, 20990);
	cr_assert_eq(record->totals.performance, 9671);
	cr_assert_eq(record->totals.deduction, 100);
	cr_assert_eq(record->totals.paid, 30561);
	cr_assert_eq(record->leaves, 2);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_A, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 2045);
	cr_assert_eq(leaf.cumulative, 2045);
	cr_assert_eq(leaf.operator_id, 1);
	cr_assert_eq(proof.index, 1); /* sorted by node id: B (3) before A (7) */
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_B, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 28516);
	uint8_t encoded[FAII_SETTLE_LEAF_BYTES];
	faii_settle_leaf_encode(&leaf, encoded);
	cr_assert_eq(faii_settle_merkle_verify(encoded, &proof, record->root), 0);
	/* The root is the tree of exactly those two leaves. */
	struct faii_settle_payout_leaf both[2] = {{.epoch = 100000,
	                                           .operator_id = 2,
	                                           .node_id = NODE_B,
	                                           .amount = 28516,
	                                           .cumulative = 28516},
	                                          {.epoch = 100000,
	                                           .operator_id = 1,
	                                           .node_id = NODE_A,
	                                           .amount = 2045,
	                                           .cumulative = 2045}};
	uint8_t hashes[2][FAII_SETTLE_HASH_BYTES], scratch[2][FAII_SETTLE_HASH_BYTES];
	uint8_t root[FAII_SETTLE_HASH_BYTES];
	for (int i = 0; i < 2; i++) {
		faii_settle_leaf_encode(&both[i], encoded);
		faii_settle_leaf_hash(encoded, hashes[i]);
	}
	cr_assert_eq(faii_settle_merkle_root((const uint8_t(*)[32])hashes, 2, scratch, root), 0);
	cr_assert_arr_eq(root, record->root, sizeof(root));
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.minted, 30561);
	cr_assert_eq(stats.paid, 30561);
	cr_assert_eq(stats.current_epoch, 100001);
	free(fx.mem);
}

Test(settle_state, cumulative_amounts_let_the_latest_root_alone_prove_a_claim)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch(&fx);
	all_report(&fx, T0 + 2 * EPOCH_MS); /* epoch 100001: no work, no heartbeats */
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100001, NODE_A, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 0);
	cr_assert_eq(leaf.cumulative, 2045); /* still in the tree: owed earlier */
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100001, 99, &leaf, &proof), -ENOENT);
	struct faii_settle_epoch_record kept[FAII_SETTLE_EPOCHS_KEPT];
	cr_assert_eq(faii_settle_kept_epochs(fx.state, kept, FAII_SETTLE_EPOCHS_KEPT), 2);
	cr_assert_eq(kept[0].epoch, 100001); /* newest first */
	cr_assert_eq(kept[1].epoch, 100000);
	cr_assert_eq(kept[1].totals.paid, 30561);
	cr_assert_eq(faii_settle_kept_epochs(fx.state, kept, 1), 1);
	cr_assert_eq(faii_settle_payout_proof(fx.state, 5, NODE_A, &leaf, &proof), -ENOENT);
	free(fx.mem);
}

Test(settle_state, f_lying_clocks_neither_run_time_ahead_nor_hold_it_back)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct faii_settle_stats stats;
	/* One validator (f = 1) claims a time far ahead: the clock does not start. */
	cr_assert_eq(summary(&fx, 3, T0 + 1000 * EPOCH_MS, NULL, 0), FAII_SETTLE_APPLIED);
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.consortium_ms, 0);
	/* A second, honest report starts it at the honest time, not the liar's. */
	cr_assert_eq(summary(&fx, 0, T0, NULL, 0), FAII_SETTLE_APPLIED);
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.consortium_ms, T0);
	/* The liar stops reporting (holds time back): two honest ones move it. */
	cr_assert_eq(summary(&fx, 1, T0 + 5 * EPOCH_MS, NULL, 0), FAII_SETTLE_APPLIED);
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.consortium_ms, T0 + 5 * EPOCH_MS);
	cr_assert_eq(stats.epochs_settled, 1);
	/* A report from the past never moves the clock back. */
	cr_assert_eq(summary(&fx, 2, T0, NULL, 0), FAII_SETTLE_APPLIED);
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.consortium_ms, T0 + 5 * EPOCH_MS);
	free(fx.mem);
}

static enum faii_settle_outcome publish_root(struct fixture *fx, uint32_t author, uint64_t epoch,
                                             const uint8_t *root, uint32_t leaves)
{
	struct faii_settle_tx_root tx_root = {.epoch = epoch, .leaves = leaves};
	memcpy(tx_root.root, root, FAII_SETTLE_DIGEST);
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_root_encode(&tx_root, tx, sizeof(tx), &len), 0);
	return apply(fx, author, tx, len);
}

Test(settle_state, a_root_is_final_after_the_delay_with_a_quorum_of_matching_roots)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch(&fx);
	const struct faii_settle_epoch_record *record = faii_settle_epoch_record(fx.state, 100000);
	cr_assert_eq(record->settled_ms, T0 + EPOCH_MS);
	uint8_t root[FAII_SETTLE_HASH_BYTES], wrong[FAII_SETTLE_HASH_BYTES];
	memcpy(root, record->root, sizeof(root));
	memcpy(wrong, root, sizeof(wrong));
	wrong[0] ^= 1;
	cr_assert_eq(publish_root(&fx, 0, 100000, root, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(publish_root(&fx, 0, 100000, root, 2), FAII_SETTLE_REFUSED_ROOT_DUPLICATE);
	cr_assert_eq(publish_root(&fx, 3, 100000, wrong, 2), FAII_SETTLE_REFUSED_ROOT_MISMATCH);
	cr_assert_eq(publish_root(&fx, 1, 99999, root, 2), FAII_SETTLE_REFUSED_ROOT_UNKNOWN);
	cr_assert_eq(publish_root(&fx, 1, 100000, root, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(publish_root(&fx, 2, 100000, root, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(record->root_votes, 0x7u);
	cr_assert_eq(record->root_against, 0x8u);
	/* A quorum of matching roots, but the dispute window is still open. */
	all_report(&fx, T0 + EPOCH_MS + DELAY_MS - 1);
	cr_assert(!record->final);
	all_report(&fx, T0 + EPOCH_MS + DELAY_MS);
	cr_assert(record->final);
	free(fx.mem);
}

Test(settle_state, without_a_quorum_of_matching_roots_no_root_is_final)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch(&fx);
	const struct faii_settle_epoch_record *record = faii_settle_epoch_record(fx.state, 100000);
	uint8_t root[FAII_SETTLE_HASH_BYTES];
	memcpy(root, record->root, sizeof(root));
	cr_assert_eq(publish_root(&fx, 0, 100000, root, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(publish_root(&fx, 2, 100000, root, 2), FAII_SETTLE_APPLIED);
	/* A wrong leaf count is another root, even with the same hash. */
	cr_assert_eq(publish_root(&fx, 1, 100000, root, 3), FAII_SETTLE_REFUSED_ROOT_MISMATCH);
	all_report(&fx, T0 + EPOCH_MS + 3 * DELAY_MS);
	cr_assert(!record->final);
	free(fx.mem);
}

Test(settle_state, a_held_node_is_paid_into_escrow_then_released_or_forfeited)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	cr_assert_eq(register_node(&fx, 0, NODE_A, 1, 0, 1, 0xA1), FAII_SETTLE_APPLIED);
	cr_assert_eq(faii_settle_node_hold(fx.state, NODE_A, FAII_SETTLE_HOLD), 0);
	cr_assert_eq(faii_settle_node_hold(fx.state, 12345, FAII_SETTLE_HOLD), -ENOENT);
	worked_epoch(&fx); /* registers B and A again (same key: applied) */
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(fx.state, NODE_A, &view), 0);
	cr_assert(view.held);
	cr_assert_eq(view.escrow, 2045);
	cr_assert_eq(view.cumulative, 0);
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(fx.state);
	cr_assert_eq(record->escrowed, 2045);
	cr_assert_eq(record->leaves, 1); /* A was never owed anything it can claim */
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.escrow, 2045);
	cr_assert_eq(stats.paid, 28516);
	/* Released: paid with the next epoch. */
	cr_assert_eq(faii_settle_node_hold(fx.state, NODE_A, FAII_SETTLE_RELEASE), 0);
	all_report(&fx, T0 + 2 * EPOCH_MS);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100001, NODE_A, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 2045);
	cr_assert_eq(leaf.cumulative, 2045);
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.escrow, 0);
	cr_assert_eq(stats.paid, 30561);
	cr_assert_eq(faii_settle_latest_epoch(fx.state)->released, 2045);
	free(fx.mem);
}

Test(settle_state, forfeited_escrow_goes_to_the_treasury)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	cr_assert_eq(register_node(&fx, 0, NODE_A, 1, 0, 1, 0xA1), FAII_SETTLE_APPLIED);
	cr_assert_eq(faii_settle_node_hold(fx.state, NODE_A, FAII_SETTLE_HOLD), 0);
	worked_epoch(&fx);
	cr_assert_eq(faii_settle_node_hold(fx.state, NODE_A, FAII_SETTLE_FORFEIT), 0);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.treasury, 2045);
	cr_assert_eq(stats.escrow, 0);
	cr_assert_eq(stats.minted, stats.paid + stats.escrow + stats.treasury);
	all_report(&fx, T0 + 2 * EPOCH_MS);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100001, NODE_A, &leaf, &proof), -ENOENT);
	free(fx.mem);
}

Test(settle_state, every_refusal_is_named_and_counted)
{
	struct fixture fx;
	fixture_open(&fx, 2);
	uint8_t junk[8] = {FAII_SETTLE_TX_WORK_SUMMARY, FAII_SETTLE_TX_VERSION, 1, 2, 3};
	cr_assert_eq(apply(&fx, 0, junk, sizeof(junk)), FAII_SETTLE_REFUSED_MALFORMED);
	junk[1] = 2; /* a version this build does not know */
	cr_assert_eq(apply(&fx, 0, junk, sizeof(junk)), FAII_SETTLE_REFUSED_MALFORMED);
	cr_assert_eq(apply(&fx, 0, junk, 1), FAII_SETTLE_REFUSED_MALFORMED);
	cr_assert_eq(register_node(&fx, 4, 1, 1, 0, 1, 1), FAII_SETTLE_REFUSED_NOT_MEMBER);
	cr_assert_eq(register_node(&fx, 0, 1, 1, 0, 1, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(&fx, 0, 1, 1, 2, 8, 1), FAII_SETTLE_APPLIED); /* new class */
	cr_assert_eq(register_node(&fx, 0, 1, 1, 2, 8, 2), FAII_SETTLE_REFUSED_NODE_REBOUND);
	cr_assert_eq(register_node(&fx, 0, 1, 9, 2, 8, 1), FAII_SETTLE_REFUSED_NODE_REBOUND);
	cr_assert_eq(register_node(&fx, 0, 2, 1, 0, 1, 3), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(&fx, 0, 3, 1, 0, 1, 4), FAII_SETTLE_REFUSED_NODE_TABLE_FULL);
	struct faii_settle_work_entry entry = {.node_id = 77};
	cr_assert_eq(summary(&fx, 1, T0, &entry, 1), FAII_SETTLE_APPLIED);
	fx.slice[1]--; /* the same slice again */
	cr_assert_eq(summary(&fx, 1, T0, NULL, 0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	/* An ESG attestation without its message (test_settle_attest.c has the rest). */
	uint8_t attestation[2] = {FAII_SETTLE_TX_ESG_ATTESTATION, FAII_SETTLE_TX_VERSION};
	cr_assert_eq(apply(&fx, 0, attestation, 2), FAII_SETTLE_REFUSED_MALFORMED);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_MALFORMED], 4);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_NOT_MEMBER], 1);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_NODE_REBOUND], 2);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_NODE_TABLE_FULL], 1);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_STALE_SUMMARY], 1);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_NOT_HANDLED], 0);
	cr_assert_eq(stats.entries_refused, 1);
	cr_assert_eq(stats.applied[FAII_SETTLE_TX_NODE_REGISTER], 3);
	cr_assert_eq(stats.nodes, 2);
	for (int o = 0; o < FAII_SETTLE_OUTCOME_COUNT; o++)
		cr_assert_str_neq(faii_settle_outcome_name((enum faii_settle_outcome)o), "unknown");
	free(fx.mem);
}

Test(settle_state, the_config_is_checked_and_memory_must_suffice)
{
	struct faii_settle_config config = test_config(4);
	struct faii_settle_state *state;
	const char *field = NULL;
	size_t bytes = faii_settle_state_bytes(4);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_eq(faii_settle_state_init(mem, bytes - 8, &config, &state, &field), -ENOSPC);
	config.epoch_ms = 10;
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	cr_assert_str_eq(field, "epoch_ms");
	config = test_config(4);
	config.validators = 65;
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	cr_assert_str_eq(field, "validators");
	config.validators = 17; /* beyond governance's 16-member validator set */
	field = NULL;
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	cr_assert_str_eq(field, "validators");
	config = test_config(4);
	config.params.esg_max_ppb = P(0.5); /* below 1.0 */
	cr_assert_eq(faii_settle_state_init(mem, bytes, &config, &state, &field), -EINVAL);
	cr_assert_eq(faii_settle_state_bytes(0), 0);
	free(mem);
}

/* A seeded stream of transactions: valid ones, damaged ones, liars. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static void random_sequence(struct fixture *fx, uint64_t seed, uint32_t steps)
{
	uint64_t x = seed;
	for (uint32_t i = 0; i < steps; i++) {
		uint32_t author = (uint32_t)(next_random(&x) % 5); /* 4: not a member */
		uint64_t r = next_random(&x);
		if (r % 7 == 0) {
			register_node(fx, author, (uint32_t)(r >> 8) % 40, (uint32_t)(r >> 16) % 3,
			              (uint8_t)((r >> 24) % 5), 1 + (uint32_t)(r >> 32) % 20, 1);
			continue;
		}
		struct faii_settle_work_entry entries[3] = {0};
		for (int e = 0; e < 3; e++) {
			entries[e].node_id = (uint32_t)(next_random(&x) % 40);
			entries[e].heartbeats_expected = 10;
			entries[e].heartbeats_seen = (uint32_t)(next_random(&x) % 11);
			int t = (int)(next_random(&x) % 4);
			entries[e].tier[t].dispatched = 50;
			entries[e].tier[t].verified_work = next_random(&x) % 60;
			entries[e].tier[t].slo_hits = (uint32_t)(next_random(&x) % 51);
		}
		uint64_t end = T0 + i * 900 + next_random(&x) % 3000;
		if (author < 4 && r % 11 == 0) {
			uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
			uint32_t len;
			struct faii_settle_work_header header = {.slice = ++fx->slice[author],
			                                         .slice_end_ms = end,
			                                         .parts = 1,
			                                         .entry_count = 3};
			cr_assert_eq(
			        faii_settle_tx_work_encode(&header, entries, tx, sizeof(tx), &len),
			        0);
			tx[2 + (next_random(&x) % (len - 2))] ^=
			        (uint8_t)(1 + r % 255); /* damage */
			apply(fx, author, tx, len);
		} else if (author < 4) {
			summary(fx, author, end, entries, 3);
		}
	}
}

Test(settle_state, one_committed_sequence_gives_byte_identical_states)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct fixture a, b, c;
		fixture_open(&a, 64);
		fixture_open(&b, 64);
		fixture_open(&c, 64);
		random_sequence(&a, seed * 7919, 600);
		random_sequence(&b, seed * 7919, 600);
		random_sequence(&c, seed * 7919 + 1, 600);
		uint8_t da[32], db[32], dc[32];
		faii_settle_state_digest(a.state, da);
		faii_settle_state_digest(b.state, db);
		faii_settle_state_digest(c.state, dc);
		cr_assert_arr_eq(da, db, 32, "seed %lu: same sequence, different states",
		                 (unsigned long)seed);
		cr_assert(memcmp(da, dc, 32) != 0, "seed %lu: another sequence, the same state",
		          (unsigned long)seed);
		struct faii_settle_stats stats;
		faii_settle_get_stats(a.state, &stats);
		cr_assert_gt(stats.epochs_settled, 10);
		cr_assert_eq(stats.minted, stats.paid + stats.escrow + stats.treasury);
		free(a.mem), free(b.mem), free(c.mem);
	}
}

/* ---- the parts, fed through the state machine ---- */

struct node_keys {
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
};

static void register_with_key(struct fixture *fx, uint32_t node, uint32_t operator_id,
                              uint8_t node_class, uint32_t capacity, uint64_t stake,
                              const struct node_keys *keys)
{
	struct faii_settle_tx_node tx_node = {.node_id = node,
	                                      .operator_id = operator_id,
	                                      .node_class = node_class,
	                                      .capacity_units = capacity,
	                                      .stake = stake};
	memcpy(tx_node.public_key, keys->public_key, sizeof(tx_node.public_key));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(fx, 0, tx, len), FAII_SETTLE_APPLIED);
}

/* A's key in the worked epoch (0xA1 x 32) as a real key pair: the same
 * public key bytes cannot be, so A is re-keyed by a fresh fixture. */
static void keys_for(struct node_keys *keys, uint8_t seed_byte)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(keys->public_key, keys->secret_key, seed);
}

/* worked_epoch_begin with signing keys for A and B (and B's stake). */
static void keyed_epoch_begin(struct fixture *fx, struct node_keys *a, struct node_keys *b,
                              uint64_t b_stake)
{
	keys_for(a, 0xA1);
	keys_for(b, 0xB2);
	register_with_key(fx, NODE_A, 1, 0, 1, 0, a);
	register_with_key(fx, NODE_B, 2, 4, 20, b_stake, b);
	struct faii_settle_work_entry entries[2];
	worked_entries(entries);
	cr_assert_eq(summary(fx, 0, T0, entries, 2), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(summary(fx, v, T0, NULL, 0), FAII_SETTLE_APPLIED);
}

/* Signed with keys (a bit flipped when !sign), applied by validator 1 (or 0 alone). */
static enum faii_settle_outcome apply_reading(struct fixture *fx, const struct node_keys *keys,
                                              struct faii_settle_meter_reading *reading, bool sign)
{
	faii_settle_meter_sign(reading, keys->secret_key);
	if (!sign)
		reading->signature[0] ^= 1;
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_meter_encode(reading, tx, sizeof(tx), &len), 0);
	return apply(fx, 1 % fx->validators, tx, len);
}

static enum faii_settle_outcome meter_reading(struct fixture *fx, const struct node_keys *keys,
                                              uint64_t start_s, uint64_t mwh, bool sign)
{
	struct faii_settle_meter_reading reading = {.node_id = NODE_A,
	                                            .meter_id = 77,
	                                            .interval_start_s = start_s,
	                                            .interval_s = 600,
	                                            .energy_mwh = mwh,
	                                            .renewable_ppb = P(1.0),
	                                            .location = "DE",
	                                            .read_at_s = start_s + 600};
	return apply_reading(fx, keys, &reading, sign);
}

Test(settle_state, certified_renewable_energy_lifts_esg_and_is_charged_the_green_price)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct node_keys a, b;
	keyed_epoch_begin(&fx, &a, &b, 0);
	/* 50 Wh, all certified renewable, over the 10 minutes before T0. */
	uint64_t start = (T0 / 1000 - 600) / 600 * 600;
	cr_assert_eq(meter_reading(&fx, &a, start, 50000, false),
	             FAII_SETTLE_REFUSED_BAD_SIGNATURE);
	cr_assert_eq(meter_reading(&fx, &a, start, 50000, true), FAII_SETTLE_APPLIED);
	/* The same (meter, interval) again, even with other numbers: refused. */
	cr_assert_eq(meter_reading(&fx, &a, start, 60000, true), FAII_SETTLE_REFUSED_CARBON);
	worked_epoch_end(&fx);
	/* A: RE 1.0, ESG 1 + 0.5 (1 - 0.3) = 1.35 clamped to 1.25; performance
	 * 1000 x 1.25 = 1250 x 1.055555555 = 1319.4 -> 1319; the 50 Wh are
	 * retired certificates: charged the green price 0 instead of 2 x 50.
	 * Paid 990 + 1319 = 2309 (2045 without the certificate). B unchanged. */
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_A, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 2309);
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_B, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 28516);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.carbon_retired_wh, 50);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_CARBON], 1);
	struct faii_settle_carbon_totals carbon;
	faii_settle_carbon_totals(faii_settle_state_carbon(fx.state), &carbon);
	cr_assert_eq(carbon.minted_wh, 50);
	cr_assert_eq(carbon.retired_wh, 50);
	cr_assert_eq(carbon.tradable_wh, 0);
	free(fx.mem);
}

static enum faii_settle_outcome propose_replica_slash(struct fixture *fx, uint32_t author)
{
	struct faii_settle_slash_tx proposal = {.accused = NODE_B,
	                                        .offense = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT,
	                                        .task_id = 4242};
	memset(proposal.majority_hash, 0x11, sizeof(proposal.majority_hash));
	memset(proposal.node_hash, 0x22, sizeof(proposal.node_hash));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_slash_tx_encode(&proposal, tx, sizeof(tx), &len), 0);
	return apply(fx, author, tx, len);
}

Test(settle_state, a_slash_escrows_rewards_then_executes_after_its_window)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct node_keys a, b;
	keyed_epoch_begin(&fx, &a, &b, 1000);
	cr_assert_eq(propose_replica_slash(&fx, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(propose_replica_slash(&fx, 3),
	             FAII_SETTLE_REFUSED_SLASH); /* the same evidence */
	worked_epoch_end(&fx);                   /* B's 28 516 go to escrow: a proposal is open */
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(fx.state, NODE_B, &view), 0);
	cr_assert_eq(view.escrow, 28516);
	cr_assert_eq(view.cumulative, 0);
	/* One millisecond before the window ends: nothing executes. */
	all_report(&fx, T0 + DISPUTE_MS - 1);
	cr_assert_eq(faii_settle_node(fx.state, NODE_B, &view), 0);
	cr_assert_eq(view.escrow, 28516);
	/* Executed: 10 % of the stake of 1000 = 100, taken from the escrow and
	 * split 50 burned, 30 to the reporter (validator 2), 20 to the
	 * treasury; the rest of the escrow is released into the next epoch. */
	all_report(&fx, T0 + DISPUTE_MS);
	all_report(&fx, T0 + DISPUTE_MS + EPOCH_MS);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.slashes_executed, 1);
	cr_assert_eq(stats.burned, 50);
	cr_assert_eq(stats.treasury, 20);
	cr_assert_eq(faii_settle_reporter_rewards(fx.state, 2), 30);
	cr_assert_eq(stats.escrow, 0);
	cr_assert_eq(stats.paid, 2045 + 28416);
	cr_assert_eq(stats.minted + stats.slashed_stake, stats.paid + stats.escrow +
	                                                         stats.treasury + stats.burned +
	                                                         stats.reporter_rewards);
	cr_assert_eq(faii_settle_node(fx.state, NODE_B, &view), 0);
	cr_assert_eq(view.cumulative, 28416);
	struct faii_settle_reputation_view reputation;
	cr_assert_eq(faii_settle_reputation_get(faii_settle_state_reputation(fx.state), NODE_B,
	                                        &reputation),
	             0);
	cr_assert_eq(reputation.byzantine, 1); /* replica disagreement is Byzantine: halved */
	free(fx.mem);
}

Test(settle_state, a_disputed_slash_dismissed_by_the_validators_releases_the_escrow)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct node_keys a, b;
	keyed_epoch_begin(&fx, &a, &b, 1000);
	cr_assert_eq(propose_replica_slash(&fx, 2), FAII_SETTLE_APPLIED);
	struct faii_settle_dispute_tx dispute = {.proposal_id = 1, .node_id = NODE_B};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_dispute_tx_sign(&dispute, a.secret_key, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(&fx, 1, tx, len), FAII_SETTLE_REFUSED_BAD_SIGNATURE); /* A's key */
	cr_assert_eq(faii_settle_dispute_tx_sign(&dispute, b.secret_key, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(&fx, 1, tx, len), FAII_SETTLE_APPLIED);
	worked_epoch_end(&fx);
	for (uint32_t v = 0; v < 3; v++) {
		struct faii_settle_dispute_vote_tx vote = {.proposal_id = 1,
		                                           .verdict = FAII_SETTLE_SLASH_DISMISS};
		cr_assert_eq(faii_settle_dispute_vote_tx_encode(&vote, tx, sizeof(tx), &len), 0);
		cr_assert_eq(apply(&fx, v, tx, len), FAII_SETTLE_APPLIED);
	}
	all_report(&fx, T0 + 2 * EPOCH_MS); /* closes the dismissed proposal, pays 100001 */
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.slashes_dismissed, 1);
	cr_assert_eq(stats.burned, 0);
	struct faii_settle_node_view view;
	cr_assert_eq(faii_settle_node(fx.state, NODE_B, &view), 0);
	cr_assert_eq(view.escrow, 0);
	cr_assert_eq(view.cumulative, 28516); /* all of it, a epoch late */
	free(fx.mem);
}

Test(settle_state, an_adopted_governance_change_pays_from_its_effective_epoch)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch_begin(&fx);
	/* p from 10 to 11 units (+10 %, the step cap) from epoch 100001. */
	struct faii_settle_tx_gov_proposal proposal = {
	        .effective_epoch = 100001,
	        .change_count = 1,
	        .changes = {{.param = FAII_GOV_P_TOKEN_RATE, .value = 11}}};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_gov_proposal_encode(&proposal, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(&fx, 0, tx, len), FAII_SETTLE_APPLIED);
	uint64_t id = fx.sequence << 16;
	proposal.changes[0].value = 20; /* +100 %: beyond the cap */
	cr_assert_eq(faii_settle_gov_proposal_encode(&proposal, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(&fx, 1, tx, len), FAII_SETTLE_REFUSED_GOVERNANCE);
	for (uint32_t v = 0; v < 3; v++) { /* n - f = 3 votes for, the proposer's too */
		struct faii_settle_tx_gov_vote vote = {.proposal_id = id, .in_favour = true};
		cr_assert_eq(faii_settle_gov_vote_encode(&vote, tx, sizeof(tx), &len), 0);
		cr_assert_eq(apply(&fx, v, tx, len), FAII_SETTLE_APPLIED);
	}
	worked_epoch_end(&fx); /* 100000 still pays at p = 10 */
	cr_assert_eq(faii_settle_latest_epoch(fx.state)->totals.paid, 30561);
	/* The same work in 100001: A 990 + 1100 x 1.055555555 -> 1161 = 2151;
	 * B 20 000 + 5500 x 2.2 x 0.783333334 -> 9478 - 100 = 29 378. */
	struct faii_settle_work_entry entries[2];
	worked_entries(entries);
	cr_assert_eq(summary(&fx, 0, T0 + EPOCH_MS + 1, entries, 2), FAII_SETTLE_APPLIED);
	all_report(&fx, T0 + 2 * EPOCH_MS);
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(fx.state);
	cr_assert_eq(record->epoch, 100001);
	cr_assert_eq(record->totals.paid, 2151 + 29378, "paid %lu",
	             (unsigned long)record->totals.paid);
	free(fx.mem);
}

/* A part may come late (its vertex was orphaned and proposed again) but is
 * counted once; one older than the window of 64 slices is refused. */
static enum faii_settle_outcome summary_at(struct fixture *fx, uint32_t author, uint64_t slice,
                                           uint16_t part, uint16_t parts)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = T0, .part = part, .parts = parts};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len), 0);
	return apply(fx, author, tx, len);
}

Test(settle_state, a_late_summary_part_counts_once_within_the_window)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	cr_assert_eq(summary_at(&fx, 1, 100, 1, 2), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 1, 101, 0, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 1, 100, 0, 2), FAII_SETTLE_APPLIED); /* late, first time */
	cr_assert_eq(summary_at(&fx, 1, 100, 0, 2), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(summary_at(&fx, 1, 101, 0, 1), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(summary_at(&fx, 2, 100, 0, 2), FAII_SETTLE_APPLIED); /* another author */
	cr_assert_eq(summary_at(&fx, 1, 164, 0, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 1, 101, 1, 2), FAII_SETTLE_APPLIED); /* 63 behind: taken */
	cr_assert_eq(summary_at(&fx, 1, 100, 1, 2), FAII_SETTLE_REFUSED_STALE_SUMMARY); /* 64 */
	cr_assert_eq(summary_at(&fx, 1, 300, 8191, 8192), FAII_SETTLE_APPLIED);
	/* FAII_SETTLE_SLICE_PARTS_MAX: one part beyond is refused and counted. */
	cr_assert_eq(summary_at(&fx, 1, 300, FAII_SETTLE_SLICE_PARTS_MAX,
	                        FAII_SETTLE_SLICE_PARTS_MAX + 1),
	             FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(summary_at(&fx, 1, 164, 0, 1), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	free(fx.mem);
}

/* An author's first summary opens the window below it: an earlier slice's
 * part coming late is taken once (it used to find its row never opened and
 * stop every validator on an assertion), one older than the window is not. */
Test(settle_state, a_late_part_older_than_the_authors_first_slice_counts_once)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	cr_assert_eq(summary_at(&fx, 1, 1000, 0, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 1, 990, 0, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 1, 990, 0, 1), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(summary_at(&fx, 1, 937, 0, 1), FAII_SETTLE_APPLIED); /* 63 behind */
	cr_assert_eq(summary_at(&fx, 1, 936, 0, 1), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(summary_at(&fx, 2, 5, 0, 1), FAII_SETTLE_APPLIED); /* near slice 0 */
	cr_assert_eq(summary_at(&fx, 2, 0, 0, 1), FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_at(&fx, 2, 0, 0, 1), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	free(fx.mem);
}

/* The order by node id is kept from epoch to epoch while nobody registers
 * (state.c sorts again only then): nodes registered later, with smaller
 * and larger ids than the others, still land in the next tree sorted. */
Test(settle_state, nodes_registered_after_a_settled_epoch_are_sorted_into_the_next_tree)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	worked_epoch(&fx); /* 3 and 7 sorted and paid in 100000 */
	cr_assert_eq(register_node(&fx, 2, 1, 3, 0, 1, 0xC3), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(&fx, 3, 5, 3, 0, 1, 0xC5), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(&fx, 0, 9, 3, 0, 1, 0xC9), FAII_SETTLE_APPLIED);
	struct faii_settle_work_entry entries[3];
	memset(entries, 0, sizeof(entries));
	const uint32_t fresh[3] = {9, 1, 5};
	for (int i = 0; i < 3; i++) {
		entries[i].node_id = fresh[i];
		entries[i].heartbeats_expected = entries[i].heartbeats_seen = 10;
	}
	cr_assert_eq(summary(&fx, 0, T0 + EPOCH_MS + 1, entries, 3), FAII_SETTLE_APPLIED);
	all_report(&fx, T0 + 2 * EPOCH_MS); /* 100001 settles: 1, 3, 5, 7, 9 */
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(fx.state);
	cr_assert_eq(record->epoch, 100001);
	cr_assert_eq(record->leaves, 5);
	const uint32_t sorted[5] = {1, 3, 5, 7, 9};
	for (uint32_t i = 0; i < 5; i++) {
		struct faii_settle_payout_leaf leaf;
		struct faii_settle_proof proof;
		cr_assert_eq(faii_settle_payout_proof(fx.state, 100001, sorted[i], &leaf, &proof),
		             0, "node %u", sorted[i]);
		cr_assert_eq(proof.index, i, "node %u at %u", sorted[i], (unsigned)proof.index);
		cr_assert_gt(leaf.cumulative, 0);
	}
	/* An epoch without registrations: the same order, everyone still there. */
	all_report(&fx, T0 + 3 * EPOCH_MS);
	cr_assert_eq(faii_settle_latest_epoch(fx.state)->leaves, 5);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100002, 1, &leaf, &proof), 0);
	cr_assert_eq(proof.index, 0);
	free(fx.mem);
}

/* ---- calibration's observations (ledger/settle/state_calib.c) ---- */

static void expect_calib_tier(const struct faii_settle_calib_tier *got, uint64_t verified,
                              uint64_t answered, uint64_t hits, uint64_t busy_us,
                              uint64_t energy_wh, uint64_t queue_ppb_sum)
{
	cr_expect_eq(got->verified_work, verified);
	cr_expect_eq(got->answered, answered);
	cr_expect_eq(got->slo_hits, hits);
	cr_expect_eq(got->busy_us, busy_us);
	cr_expect_eq(got->energy_wh, energy_wh);
	cr_expect_eq(got->queue_ppb_sum, queue_ppb_sum);
}

static enum faii_settle_outcome metered(struct fixture *fx, const struct node_keys *keys,
                                        uint32_t node, uint64_t meter, uint64_t start_s,
                                        uint32_t interval_s, uint64_t mwh)
{
	struct faii_settle_meter_reading reading = {.node_id = node,
	                                            .meter_id = meter,
	                                            .interval_start_s = start_s,
	                                            .interval_s = interval_s,
	                                            .energy_mwh = mwh,
	                                            .location = "DE",
	                                            .read_at_s = start_s + interval_s};
	return apply_reading(fx, keys, &reading, true);
}

/* A works tiers 1 and 3, B tiers 2 and 4 (B claims more SLO hits than
 * answers on tier 4); A's meter reads 101.5 Wh, B's 50 Wh. */
static void observed_epoch_begin(struct fixture *fx, struct node_keys *a, struct node_keys *b)
{
	keys_for(a, 0xA1);
	keys_for(b, 0xB2);
	register_with_key(fx, NODE_A, 1, 0, 1, 0, a);
	register_with_key(fx, NODE_B, 2, 4, 20, 0, b);
	struct faii_settle_work_entry entries[2] = {{.node_id = NODE_A}, {.node_id = NODE_B}};
	entries[0].tier[0] = (struct faii_settle_work_tier){.dispatched = 100,
	                                                    .answered = 100,
	                                                    .verified_work = 100,
	                                                    .slo_hits = 95,
	                                                    .latency_sum_us = 300000};
	entries[0].tier[2] = (struct faii_settle_work_tier){.dispatched = 12,
	                                                    .answered = 10,
	                                                    .verified_work = 80,
	                                                    .slo_hits = 10,
	                                                    .latency_sum_us = 700000};
	entries[1].tier[1] = (struct faii_settle_work_tier){.dispatched = 500,
	                                                    .answered = 500,
	                                                    .verified_work = 500,
	                                                    .slo_hits = 450,
	                                                    .latency_sum_us = 2000000};
	entries[1].tier[3] = (struct faii_settle_work_tier){.dispatched = 20,
	                                                    .answered = 20,
	                                                    .verified_work = 400,
	                                                    .slo_hits = 25,
	                                                    .latency_sum_us = 1000000};
	cr_assert_eq(summary(fx, 0, T0, entries, 2), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(summary(fx, v, T0, NULL, 0), FAII_SETTLE_APPLIED);
	uint64_t start = (T0 / 1000 - 600) / 600 * 600;
	cr_assert_eq(metered(fx, a, NODE_A, 77, start, 600, 101500), FAII_SETTLE_APPLIED);
	cr_assert_eq(metered(fx, b, NODE_B, 88, start, 600, 50000), FAII_SETTLE_APPLIED);
}

/* Epoch 100001: A answers 50 tier-1 tasks in 0.1 s; B is idle but its
 * meter reads 7 Wh. */
static void observed_second_epoch(struct fixture *fx, const struct node_keys *b)
{
	struct faii_settle_work_entry entry = {.node_id = NODE_A};
	entry.tier[0] = (struct faii_settle_work_tier){.dispatched = 50,
	                                               .answered = 50,
	                                               .verified_work = 50,
	                                               .slo_hits = 50,
	                                               .latency_sum_us = 100000};
	cr_assert_eq(summary(fx, 0, T0 + EPOCH_MS + 1000, &entry, 1), FAII_SETTLE_APPLIED);
	uint64_t start = (T0 / 1000 - 600) / 600 * 600 + 600;
	cr_assert_eq(metered(fx, b, NODE_B, 88, start, 600, 7000), FAII_SETTLE_APPLIED);
	all_report(fx, T0 + 2 * EPOCH_MS); /* 100001 settles */
}

Test(settle_state, calibration_observations_of_two_epochs_match_the_hand_computation)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct faii_settle_calib_input window;
	cr_assert_eq(faii_settle_state_calib_window(fx.state, 1, &window), -ENODATA);
	struct node_keys a, b;
	observed_epoch_begin(&fx, &a, &b);
	worked_epoch_end(&fx); /* 100000 settles */
	observed_second_epoch(&fx, &b);
	cr_assert_eq(faii_settle_state_calib_kept(fx.state), 2);
	/*
	 * Epoch 100000. Energy by busy time, each share rounded down:
	 *   A: 101.5 Wh metered -> e = 101 Wh (whole Wh); busy 0.3 s on tier 1,
	 *      0.7 s on tier 3: floor(101 x 0.3) = 30, floor(101 x 0.7) = 70,
	 *      1 Wh unattributed.
	 *   B: 50 Wh; busy 2 s on tier 2, 1 s on tier 4: floor(100 / 3) = 33,
	 *      floor(50 / 3) = 16, 1 Wh unattributed.
	 * B's 25 SLO hits on tier 4 count as its 20 answers. Every report
	 * said q_2 = 0.2: the epoch's q_2 = 0.2.
	 */
	struct faii_settle_calib_epoch first;
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 1, &first), 0);
	cr_assert_eq(first.epoch, 100000);
	expect_calib_tier(&first.tier[0], 100, 100, 95, 300000, 30, 0);
	expect_calib_tier(&first.tier[1], 500, 500, 450, 2000000, 33, P(0.2));
	expect_calib_tier(&first.tier[2], 80, 10, 10, 700000, 70, 0);
	expect_calib_tier(&first.tier[3], 400, 20, 20, 1000000, 16, 0);
	cr_assert_eq(first.energy_unattributed_wh, 2);
	/* Epoch 100001: A's tier-1 work; B's 7 Wh have no busy time to go to. */
	struct faii_settle_calib_epoch second;
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 0, &second), 0);
	cr_assert_eq(second.epoch, 100001);
	expect_calib_tier(&second.tier[0], 50, 50, 50, 100000, 0, 0);
	expect_calib_tier(&second.tier[1], 0, 0, 0, 0, 0, P(0.2));
	cr_assert_eq(second.energy_unattributed_wh, 7);
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 2, &second), -ENOENT);
	/* The window of both: the sums; of the latest alone: epoch 100001. */
	cr_assert_eq(faii_settle_state_calib_window(fx.state, 2, &window), 0);
	cr_assert_eq(window.epochs, 2);
	cr_assert_eq(window.energy_weight, 0);
	expect_calib_tier(&window.tier[0], 150, 150, 145, 400000, 30, 0);
	expect_calib_tier(&window.tier[1], 500, 500, 450, 2000000, 33, P(0.4));
	expect_calib_tier(&window.tier[2], 80, 10, 10, 700000, 70, 0);
	expect_calib_tier(&window.tier[3], 400, 20, 20, 1000000, 16, 0);
	cr_assert_eq(faii_settle_state_calib_window(fx.state, 1, &window), 0);
	cr_assert_eq(window.epochs, 1);
	expect_calib_tier(&window.tier[0], 50, 50, 50, 100000, 0, 0);
	/* More than kept: what is kept; beyond the bound or none: refused. */
	cr_assert_eq(
	        faii_settle_state_calib_window(fx.state, FAII_SETTLE_CALIB_EPOCHS_MAX, &window), 0);
	cr_assert_eq(window.epochs, 2);
	cr_assert_eq(faii_settle_state_calib_window(fx.state, 0, &window), -EINVAL);
	cr_assert_eq(
	        faii_settle_state_calib_window(fx.state, FAII_SETTLE_CALIB_EPOCHS_MAX + 1, &window),
	        -EINVAL);
	free(fx.mem);
}

Test(settle_state, calibration_keeps_the_latest_epochs_when_the_ring_wraps)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	cr_assert_eq(register_node(&fx, 0, NODE_A, 1, 0, 1, 0xA1), FAII_SETTLE_APPLIED);
	const uint32_t rounds = FAII_SETTLE_CALIB_EPOCHS_MAX + 6;
	for (uint32_t k = 1; k <= rounds; k++) {
		/* A answers k tasks; the clock then enters epoch 100000 + k and
		 * epoch 100000 + k - 1 settles with them. */
		struct faii_settle_work_entry entry = {.node_id = NODE_A};
		entry.tier[0] = (struct faii_settle_work_tier){
		        .dispatched = k, .answered = k, .verified_work = k, .slo_hits = k};
		cr_assert_eq(summary(&fx, 0, T0 + k * EPOCH_MS, &entry, 1), FAII_SETTLE_APPLIED);
		for (uint32_t v = 1; v < 4; v++)
			cr_assert_eq(summary(&fx, v, T0 + k * EPOCH_MS, NULL, 0),
			             FAII_SETTLE_APPLIED);
	}
	cr_assert_eq(faii_settle_state_calib_kept(fx.state), FAII_SETTLE_CALIB_EPOCHS_MAX);
	struct faii_settle_calib_epoch e;
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 0, &e), 0);
	cr_assert_eq(e.epoch, 100000 + rounds - 1);
	cr_assert_eq(e.tier[0].answered, rounds);
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, FAII_SETTLE_CALIB_EPOCHS_MAX - 1, &e),
	             0);
	cr_assert_eq(e.epoch, 100000 + rounds - FAII_SETTLE_CALIB_EPOCHS_MAX); /* 100006 */
	cr_assert_eq(e.tier[0].answered, 7);
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, FAII_SETTLE_CALIB_EPOCHS_MAX, &e),
	             -ENOENT);
	/* The last 64 epochs answered 7 + 8 + ... + 70 = 77 x 64 / 2 = 2464. */
	struct faii_settle_calib_input window;
	cr_assert_eq(
	        faii_settle_state_calib_window(fx.state, FAII_SETTLE_CALIB_EPOCHS_MAX, &window), 0);
	cr_assert_eq(window.epochs, FAII_SETTLE_CALIB_EPOCHS_MAX);
	cr_assert_eq(window.tier[0].answered, 2464);
	cr_assert_eq(window.tier[1].queue_ppb_sum, 64 * P(0.2));
	free(fx.mem);
}

Test(settle_state, calibration_apportions_busy_times_beyond_64_bits_exactly)
{
	struct fixture fx;
	fixture_open(&fx, TEST_NODES);
	struct node_keys a;
	keys_for(&a, 0xA1);
	register_with_key(&fx, NODE_A, 1, 0, 1, 0, &a);
	/* 2^63 us on each of tiers 1-3: busy 1.5 x 2^64, past 64 bits (a
	 * saturated sum would give each floor(101 x 2^63 / (2^64 - 1)) = 50,
	 * 150 Wh of 101); 101 Wh: floor(101 / 3) = 33 each, 2 unattributed. */
	struct faii_settle_work_entry entry = {.node_id = NODE_A};
	for (uint32_t t = 0; t < 3; t++)
		entry.tier[t].latency_sum_us = 1ull << 63;
	cr_assert_eq(summary(&fx, 0, T0, &entry, 1), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(summary(&fx, v, T0, NULL, 0), FAII_SETTLE_APPLIED);
	uint64_t start = (T0 / 1000 - 600) / 600 * 600;
	cr_assert_eq(metered(&fx, &a, NODE_A, 77, start, 600, 101000), FAII_SETTLE_APPLIED);
	worked_epoch_end(&fx);
	struct faii_settle_calib_epoch e;
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 0, &e), 0);
	for (uint32_t t = 0; t < 3; t++)
		cr_assert_eq(e.tier[t].energy_wh, 33);
	cr_assert_eq(e.tier[3].energy_wh, 0);
	cr_assert_eq(e.energy_unattributed_wh, 2);
	cr_assert_eq(e.tier[0].busy_us, 1ull << 63);
	free(fx.mem);
}

/* The worked epoch with A's tier-1 latency sum given: it enters no payout. */
static void settle_with_latency(struct fixture *fx, uint64_t latency_sum_us)
{
	fixture_open(fx, TEST_NODES);
	cr_assert_eq(register_node(fx, 0, NODE_A, 1, 0, 1, 0xA1), FAII_SETTLE_APPLIED);
	cr_assert_eq(register_node(fx, 1, NODE_B, 2, 4, 20, 0xB2), FAII_SETTLE_APPLIED);
	struct faii_settle_work_entry entries[2];
	worked_entries(entries);
	entries[0].tier[0].latency_sum_us = latency_sum_us;
	cr_assert_eq(summary(fx, 0, T0, entries, 2), FAII_SETTLE_APPLIED);
	for (uint32_t v = 1; v < 4; v++)
		cr_assert_eq(summary(fx, v, T0, NULL, 0), FAII_SETTLE_APPLIED);
	worked_epoch_end(fx);
	cr_assert_eq(faii_settle_state_calib_kept(fx->state), 1);
}

Test(settle_state, validators_with_other_observations_have_other_digests)
{
	struct fixture one, same, other;
	settle_with_latency(&one, 300000);
	settle_with_latency(&same, 300000);
	settle_with_latency(&other, 300001);
	uint8_t d_one[FAII_SETTLE_HASH_BYTES], d_same[FAII_SETTLE_HASH_BYTES];
	uint8_t d_other[FAII_SETTLE_HASH_BYTES];
	faii_settle_state_digest(one.state, d_one);
	faii_settle_state_digest(same.state, d_same);
	faii_settle_state_digest(other.state, d_other);
	cr_assert_eq(memcmp(d_one, d_same, sizeof(d_one)), 0);
	/* The same payouts (latency pays nothing), measurements reset by the
	 * settlement: only the kept observations differ. */
	cr_assert_eq(memcmp(faii_settle_latest_epoch(one.state)->root,
	                    faii_settle_latest_epoch(other.state)->root, FAII_SETTLE_HASH_BYTES),
	             0);
	cr_assert_neq(memcmp(d_one, d_other, sizeof(d_one)), 0);
	free(one.mem), free(same.mem), free(other.mem);
}

/* ---- calibration from the ledger: known factors recovered ---- */

#define FLEET_NODES  24u      /* one work summary part (<= 30 entries) */
#define FLEET_EPOCHS 60u      /* within FAII_SETTLE_CALIB_EPOCHS_MAX */
#define FLEET_EPOCH0 3000000u /* consortium epochs of 10 minutes */
#define FLEET_MS     600000u
#define FLEET_METER  300u /* each node's meter reads the epoch's first 5 minutes */
/* Each factor within 2 % of the one the fleet's costs were made with. */
#define FLEET_TOLERANCE 0.02

struct fleet {
	double theta[FAII_SETTLE_TIERS];   /* the factors the fleet's costs follow */
	double success[FAII_SETTLE_TIERS]; /* true SLO success per tier */
	double queue[FAII_SETTLE_TIERS];   /* mean normalised queue per tier */
	double work_per_task[FAII_SETTLE_TIERS];
	double time_share; /* of the cost that is node time, the rest energy */
	struct node_keys keys[FLEET_NODES];
	double energy_wh[FAII_SETTLE_TIERS]; /* made, before any rounding */
};

/* m_t of (29) at the true success, for the parameters in force. */
static double fleet_slo_mult(const struct fleet *f, const struct faii_settle_params *p, uint32_t t)
{
	double ratio = f->success[t] / ((double)p->slo_target_ppb[t] / 1e9), m = 1;
	for (uint32_t i = 0; i < p->slo_alpha[t]; i++)
		m *= ratio;
	double cap = (double)p->slo_max_ppb[t] / 1e9;
	return m < cap ? m : cap;
}

/*
 * One epoch of the fleet: per node and tier, 200..400 tasks each a
 * Bernoulli trial of the tier's success, a cost of unit_cost[t] per
 * verified unit off by up to +-20 %, energy (1 Wh = 1 cost unit) and node
 * time (1 s = 2 cost units) sharing it; the node's meter reads the sum of
 * its tiers' energy, which settlement apportions back by busy time.
 */
static void fleet_epoch(struct fixture *fx, struct fleet *f, struct test_rng *rng, uint64_t epoch,
                        const double unit_cost[FAII_SETTLE_TIERS],
                        const uint32_t queue_ppb[FAII_SETTLE_TIERS])
{
	struct faii_settle_work_entry entries[FLEET_NODES];
	for (uint32_t n = 0; n < FLEET_NODES; n++) {
		struct faii_settle_work_entry *entry = &entries[n];
		memset(entry, 0, sizeof(*entry));
		entry->node_id = 100 + n;
		double energy = 0;
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
			uint32_t tasks = 200 + (uint32_t)(test_rng_next(rng) % 201), hits = 0;
			for (uint32_t k = 0; k < tasks; k++)
				hits += test_rng_uniform(rng, 0, 1) < f->success[t];
			double work = hits * f->work_per_task[t];
			double cost = unit_cost[t] * work * test_rng_uniform(rng, 0.8, 1.2);
			entry->tier[t] = (struct faii_settle_work_tier){
			        .dispatched = tasks,
			        .answered = tasks,
			        .verified_work = (uint64_t)work,
			        .slo_hits = hits,
			        .latency_sum_us = (uint64_t)(cost * f->time_share / 2 * 1e6)};
			energy += cost * (1 - f->time_share);
			f->energy_wh[t] += cost * (1 - f->time_share);
		}
		uint64_t start_s = epoch * FLEET_MS / 1000;
		cr_assert_eq(metered(fx, &f->keys[n], 100 + n, 1000 + n, start_s, FLEET_METER,
		                     (uint64_t)(energy * 1000)),
		             FAII_SETTLE_APPLIED);
	}
	/* The slice ends with the epoch: the clock moves on and it settles. */
	cr_assert_eq(summary_queues(fx, 0, (epoch + 1) * FLEET_MS, entries, FLEET_NODES, queue_ppb),
	             FAII_SETTLE_APPLIED);
}

static void fleet_open(struct fixture *fx, struct fleet *f)
{
	struct faii_settle_config config = test_config(64); /* room for the readings */
	config.validators = 1; /* one report per slice: the epoch's q_t is it */
	config.epoch_ms = FLEET_MS;
	fixture_open_config(fx, &config);
	for (uint32_t n = 0; n < FLEET_NODES; n++) {
		keys_for(&f->keys[n], (uint8_t)(1 + n));
		register_with_key(fx, 100 + n, 1 + n % 3, (uint8_t)(n % 5), 10, 0, &f->keys[n]);
	}
	/* The clock starts in FLEET_EPOCH0, which settles empty. */
	static const uint32_t none[FAII_SETTLE_TIERS] = {0};
	cr_assert_eq(summary_queues(fx, 0, (uint64_t)FLEET_EPOCH0 * FLEET_MS + 1, NULL, 0, none),
	             FAII_SETTLE_APPLIED);
	cr_assert_eq(summary_queues(fx, 0, (uint64_t)(FLEET_EPOCH0 + 1) * FLEET_MS, NULL, 0, none),
	             FAII_SETTLE_APPLIED);
}

static void expect_fleet_recovered(struct fleet *f, uint64_t seed)
{
	struct fixture fx;
	fleet_open(&fx, f);
	struct faii_settle_params p;
	cr_assert_eq(faii_settle_gov_params_at(faii_settle_state_gov(fx.state), FLEET_EPOCH0, &p),
	             0);
	struct test_rng rng = {seed};
	/* The queues first: the surcharge the window actually paid. */
	uint32_t queues[FLEET_EPOCHS][FAII_SETTLE_TIERS];
	double unit_cost[FAII_SETTLE_TIERS];
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		double sum = 0;
		for (uint32_t e = 0; e < FLEET_EPOCHS; e++) {
			queues[e][t] =
			        (uint32_t)(f->queue[t] * test_rng_uniform(&rng, 0.5, 1.5) * 1e9);
			sum += queues[e][t];
		}
		double g = 1 + (double)p.gamma_ppb[t] / 1e9 * (sum / FLEET_EPOCHS / 1e9);
		unit_cost[t] = 10 * f->theta[t] * fleet_slo_mult(f, &p, t) * g;
		f->energy_wh[t] = 0;
	}
	for (uint32_t e = 0; e < FLEET_EPOCHS; e++)
		fleet_epoch(&fx, f, &rng, FLEET_EPOCH0 + 1 + e, unit_cost, queues[e]);
	struct faii_settle_calib_input in;
	cr_assert_eq(faii_settle_state_calib_window(fx.state, FLEET_EPOCHS, &in), 0);
	cr_assert_eq(in.epochs, FLEET_EPOCHS);
	struct faii_settle_calib_epoch last, first;
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, 0, &last), 0);
	cr_assert_eq(faii_settle_state_calib_epoch(fx.state, FLEET_EPOCHS - 1, &first), 0);
	cr_assert_eq(last.epoch, FLEET_EPOCH0 + FLEET_EPOCHS);
	cr_assert_eq(first.epoch, FLEET_EPOCH0 + 1);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		/* Apportioned back to within the roundings: the meter's mWh and
		 * whole Wh, and each tier's share, a Wh at most each. */
		double got = (double)in.tier[t].energy_wh, made = f->energy_wh[t];
		cr_assert(got <= made && got > made - 3.0 * FLEET_NODES * FLEET_EPOCHS,
		          "tier %u: %.0f Wh apportioned, %.0f made", t + 1, got, made);
	}
	in.energy_weight = 1, in.time_weight = 2;
	struct faii_settle_calib_result r;
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), 0);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		double got = (double)r.estimate_ppb[t] / 1e9, want = f->theta[t];
		cr_assert(got > want * (1 - FLEET_TOLERANCE) && got < want * (1 + FLEET_TOLERANCE),
		          "seed %lu tier %u: %.4f, made with %.4f", (unsigned long)seed, t + 1, got,
		          want);
	}
	free(fx.mem);
}

Test(settle_state, known_factors_are_recovered_from_the_committed_work_and_energy)
{
	/* the paper's calibrated example (FAII 4.4) */
	struct fleet paper = {
	        .theta = {1, 2.221, 3.476, 4.333},
	        .success = {0.985, 0.99, 0.97, 0.995},
	        .queue = {0.1, 0.4, 0.2, 0.8},
	        .work_per_task = {1, 3, 8, 20},
	        .time_share = 0.4,
	};
	expect_fleet_recovered(&paper, 1);
	/* a non-monotone cost pattern, low success, congestion on tier 1 */
	struct fleet other = {
	        .theta = {1, 1.37, 2.9, 6.5},
	        .success = {0.8, 0.999, 0.9, 0.6},
	        .queue = {1.5, 0, 0.05, 0.3},
	        .work_per_task = {2, 2, 5, 50},
	        .time_share = 0.7,
	};
	expect_fleet_recovered(&other, 10);
}
