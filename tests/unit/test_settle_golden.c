/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's results pinned: a fixed, seeded committed sequence (nodes
 * registered, four appliances' work summaries in several parts, signed
 * meter readings minting certificates, transfers between operators,
 * retirement at every settlement and certificates expiring through the
 * carbon window) through faii_settle_apply, with the state's digest after
 * every settled epoch and every tenth node's payout proof folded into one
 * BLAKE2b hash. The golden value was computed on the code before the
 * settlement performance work (the carbon registry's per-node lookups and
 * its prune, the kept payout tree): a change there that moves any result,
 * any root or any proof's bytes fails here.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_carbon.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "settle_test_params.h"

#define GOLDEN_NODES_MAX 200u
#define GOLDEN_NODES     150u /* registered before the first epoch ... */
#define GOLDEN_LATE      10u  /* ... and these at the third */
#define GOLDEN_OPERATORS 6u
#define GOLDEN_EPOCHS    12u
#define GOLDEN_EPOCH_MS  600000u  /* 10 minutes */
#define GOLDEN_EPOCH0    2900000u /* epoch index at the start */
#define GOLDEN_WINDOW_S  1800u    /* certificates expire after three epochs */
#define GOLDEN_INTERVAL  600u     /* each reading covers its epoch's 10 minutes */

struct golden {
	void *mem;
	struct faii_settle_state *state;
	uint64_t sequence, rng;
	uint64_t slice[4];
	uint8_t secret[GOLDEN_NODES_MAX + GOLDEN_LATE + 1][crypto_sign_SECRETKEYBYTES];
	crypto_generichash_state fold;
};

static uint64_t golden_random(struct golden *g)
{
	g->rng ^= g->rng << 13, g->rng ^= g->rng >> 7, g->rng ^= g->rng << 17;
	return g->rng;
}

static enum faii_settle_outcome golden_apply(struct golden *g, uint32_t author, const uint8_t *tx,
                                             uint32_t len)
{
	struct faii_settle_origin origin = {.sequence = ++g->sequence, .author = author};
	return faii_settle_apply(g->state, &origin, tx, len);
}

static uint32_t operator_of(uint32_t node)
{
	return 1 + node % GOLDEN_OPERATORS;
}

static void golden_register(struct golden *g, uint32_t node)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0, sizeof(seed));
	memcpy(seed, &node, sizeof(node));
	struct faii_settle_tx_node tx_node = {.node_id = node,
	                                      .operator_id = operator_of(node),
	                                      .node_class = (uint8_t)(node % FAII_SETTLE_CLASSES),
	                                      .capacity_units = 1 + node % 7,
	                                      .stake = 1000 * (node % 5)};
	crypto_sign_seed_keypair(tx_node.public_key, g->secret[node], seed);
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len), 0);
	cr_assert_eq(golden_apply(g, 0, tx, len), FAII_SETTLE_APPLIED);
}

/* Author a's slice: the nodes n with n % 4 == a, in parts of at most
 * FAII_SETTLE_WORK_ENTRIES_MAX entries. */
static void golden_slice(struct golden *g, uint32_t author, uint32_t nodes, uint64_t end_ms)
{
	struct faii_settle_work_entry entries[GOLDEN_NODES_MAX];
	uint32_t count = 0;
	for (uint32_t node = 1; node <= nodes; node++) {
		if (node % 4 != author)
			continue;
		struct faii_settle_work_entry *e = &entries[count++];
		memset(e, 0, sizeof(*e));
		e->node_id = node;
		e->heartbeats_expected = 30;
		e->heartbeats_seen = (uint32_t)(25 + golden_random(g) % 6);
		e->disagreements = (uint32_t)(golden_random(g) % 3 == 0);
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
			e->tier[t].dispatched = (uint32_t)(golden_random(g) % 200);
			e->tier[t].answered = e->tier[t].dispatched;
			e->tier[t].verified_work = golden_random(g) % (e->tier[t].dispatched + 1);
			e->tier[t].slo_hits =
			        (uint32_t)(golden_random(g) % (e->tier[t].dispatched + 1));
		}
	}
	uint32_t parts = (count + FAII_SETTLE_WORK_ENTRIES_MAX - 1) / FAII_SETTLE_WORK_ENTRIES_MAX;
	uint64_t slice = ++g->slice[author];
	for (uint32_t p = 0; p < parts; p++) {
		uint32_t from = p * FAII_SETTLE_WORK_ENTRIES_MAX;
		uint32_t n = count - from < FAII_SETTLE_WORK_ENTRIES_MAX
		                     ? count - from
		                     : FAII_SETTLE_WORK_ENTRIES_MAX;
		struct faii_settle_work_header header = {
		        .slice = slice,
		        .slice_end_ms = end_ms,
		        .part = (uint16_t)p,
		        .parts = (uint16_t)parts,
		        .entry_count = (uint16_t)n,
		        .queue_ppb = {0, (uint32_t)P(0.2), (uint32_t)(golden_random(g) % P(0.5)),
		                      0}};
		uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
		uint32_t len;
		cr_assert_eq(
		        faii_settle_tx_work_encode(&header, entries + from, tx, sizeof(tx), &len),
		        0);
		cr_assert_eq(golden_apply(g, author, tx, len), FAII_SETTLE_APPLIED);
	}
}

static void golden_reading(struct golden *g, uint32_t node, uint64_t meter, uint64_t start_s)
{
	struct faii_settle_meter_reading reading = {
	        .node_id = node,
	        .meter_id = meter,
	        .interval_start_s = start_s,
	        .interval_s = GOLDEN_INTERVAL,
	        .energy_mwh = 1000 * (golden_random(g) % 400) + golden_random(g) % 1000,
	        .renewable_ppb = golden_random(g) % (P(1.0) + 1),
	        .location = "DE",
	        .read_at_s = start_s + GOLDEN_INTERVAL,
	};
	faii_settle_meter_sign(&reading, g->secret[node]);
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_meter_encode(&reading, tx, sizeof(tx), &len), 0);
	(void)golden_apply(g, 1, tx, len); /* full tables and replays are refused: part of it */
}

static void golden_transfer(struct golden *g, uint32_t epoch_index)
{
	struct faii_settle_carbon_transfer transfer = {
	        .from_operator = 1 + epoch_index % GOLDEN_OPERATORS,
	        /* Every other one to an operator without nodes: those Wh are
	         * never retired and expire through the window. */
	        .to_operator = epoch_index % 2 == 0
	                               ? GOLDEN_OPERATORS + 1
	                               : 1 + (epoch_index + 1 + epoch_index / 3) % GOLDEN_OPERATORS,
	        .wh = 1 + golden_random(g) % 600,
	        .nonce = epoch_index + 1,
	        .not_after_s = UINT64_MAX,
	        .rule = (uint8_t)(epoch_index % 2),
	};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_transfer_encode(&transfer, tx, sizeof(tx), &len), 0);
	(void)golden_apply(g, 2, tx, len); /* an overdraw is refused: part of it */
}

/* The settled epoch's digest and every tenth node's leaf and proof. */
static void golden_fold(struct golden *g, uint64_t epoch, uint32_t nodes)
{
	uint8_t digest[FAII_SETTLE_HASH_BYTES];
	faii_settle_state_digest(g->state, digest);
	crypto_generichash_update(&g->fold, digest, sizeof(digest));
	const struct faii_settle_epoch_record *record = faii_settle_epoch_record(g->state, epoch);
	cr_assert_not_null(record);
	for (uint32_t node = 1; node <= nodes; node += 10) {
		struct faii_settle_payout_leaf leaf;
		struct faii_settle_proof proof;
		memset(&proof, 0, sizeof(proof));
		if (faii_settle_payout_proof(g->state, epoch, node, &leaf, &proof) != 0)
			continue;
		uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
		faii_settle_leaf_encode(&leaf, bytes);
		cr_assert_eq(faii_settle_merkle_verify(bytes, &proof, record->root), 0);
		crypto_generichash_update(&g->fold, bytes, sizeof(bytes));
		crypto_generichash_update(&g->fold, (const uint8_t *)proof.siblings,
		                          (size_t)proof.depth * FAII_SETTLE_HASH_BYTES);
	}
}

static void golden_epoch(struct golden *g, uint32_t k)
{
	uint64_t epoch = GOLDEN_EPOCH0 + k;
	uint64_t start_ms = epoch * GOLDEN_EPOCH_MS;
	uint32_t nodes = k >= 2 ? GOLDEN_NODES + GOLDEN_LATE : GOLDEN_NODES;
	if (k == 2)
		for (uint32_t node = GOLDEN_NODES + 1; node <= nodes; node++)
			golden_register(g, node);
	for (uint32_t a = 0; a < 4; a++)
		golden_slice(g, a, nodes, start_ms + GOLDEN_EPOCH_MS / 2);
	/* Mid-epoch: the epoch's interval ends within the skew of now. */
	for (uint32_t node = 1; node <= nodes; node++) {
		if ((node + k) % 3 == 0)
			continue;
		golden_reading(g, node, 10ull * node + 1, start_ms / 1000);
		if (node % 5 == 0)
			golden_reading(g, node, 10ull * node + 2, start_ms / 1000);
	}
	golden_transfer(g, k);
	for (uint32_t a = 0; a < 4; a++)
		golden_slice(g, a, nodes, start_ms + GOLDEN_EPOCH_MS); /* epoch settles */
	const struct faii_settle_epoch_record *latest = faii_settle_latest_epoch(g->state);
	cr_assert_not_null(latest);
	cr_assert_eq(latest->epoch, epoch);
	golden_fold(g, epoch, nodes);
}

/* The golden value, from the code before the performance work. */
static const char golden_hex[] = "dea62684747a01f3d915bb32d80cfee08c35afc1ead4401e410ab346347c80ce";

/* The fixed sequence, its digests and proofs folded into g->fold. */
static struct golden *golden_run(void)
{
	cr_assert_eq(sodium_init() >= 0, 1);
	struct golden *g = calloc(1, sizeof(*g));
	cr_assert_not_null(g);
	g->rng = 0x9e3779b97f4a7c15ull;
	struct faii_settle_config config = {
	        .validators = 4,
	        .nodes_max = GOLDEN_NODES_MAX,
	        .epoch_ms = GOLDEN_EPOCH_MS,
	        .activation_delay_ms = GOLDEN_EPOCH_MS,
	        .carbon_window_s = GOLDEN_WINDOW_S,
	};
	config.params = test_params();
	config.params.queue_ppb[1] = 0; /* the appliances report q_t */
	size_t bytes = faii_settle_state_bytes(GOLDEN_NODES_MAX);
	g->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(g->mem);
	const char *field = NULL;
	cr_assert_eq(faii_settle_state_init(g->mem, bytes, &config, &g->state, &field), 0, "%s",
	             field ? field : "");
	crypto_generichash_init(&g->fold, NULL, 0, FAII_SETTLE_HASH_BYTES);
	for (uint32_t node = 1; node <= GOLDEN_NODES; node++)
		golden_register(g, node);
	for (uint32_t k = 0; k < GOLDEN_EPOCHS; k++)
		golden_epoch(g, k);
	return g;
}

Test(settle_golden, a_fixed_sequence_settles_to_the_pinned_digests_roots_and_proofs)
{
	struct golden *g = golden_run();
	/* The run exercised what it pins: retirement, transfers, expiry. */
	struct faii_settle_carbon_totals carbon;
	faii_settle_carbon_totals(faii_settle_state_carbon(g->state), &carbon);
	cr_assert_gt(carbon.retired_wh, 0);
	cr_assert_gt(carbon.expired_wh, 0);
	cr_assert_gt(carbon.tradable_wh, 0);
	struct faii_settle_stats stats;
	faii_settle_get_stats(g->state, &stats);
	cr_assert_eq(stats.epochs_settled, GOLDEN_EPOCHS);
	cr_assert_gt(stats.applied[FAII_SETTLE_TX_CARBON_TRANSFER], 2);
	uint8_t fold[FAII_SETTLE_HASH_BYTES];
	crypto_generichash_final(&g->fold, fold, sizeof(fold));
	char hex[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), fold, sizeof(fold));
	cr_assert_str_eq(hex, golden_hex, "the settled results moved: %s", hex);
	free(g->mem);
	free(g);
}

/* Proofs of every kept epoch, asked in turn (each switch rebuilds the
 * tree the state keeps), verify against their own epoch's root; the
 * latest epoch's tree is the settlement's own. */
Test(settle_golden, proofs_of_every_kept_epoch_in_turn_verify_against_their_roots)
{
	struct golden *g = golden_run();
	struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT];
	uint32_t kept = faii_settle_kept_epochs(g->state, records, FAII_SETTLE_EPOCHS_KEPT);
	cr_assert_eq(kept, FAII_SETTLE_EPOCHS_KEPT);
	uint32_t verified = 0;
	for (uint32_t node = 1; node <= GOLDEN_NODES + GOLDEN_LATE + 1; node++) {
		for (uint32_t k = 0; k < kept; k++) {
			struct faii_settle_payout_leaf leaf;
			struct faii_settle_proof proof;
			int rc = faii_settle_payout_proof(g->state, records[k].epoch, node, &leaf,
			                                  &proof);
			if (node > GOLDEN_NODES + GOLDEN_LATE) {
				cr_assert_eq(rc, -ENOENT);
				continue;
			}
			cr_assert_eq(rc, 0, "node %u epoch %lu", node,
			             (unsigned long)records[k].epoch);
			uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
			faii_settle_leaf_encode(&leaf, bytes);
			cr_assert_eq(faii_settle_merkle_verify(bytes, &proof, records[k].root), 0);
			cr_assert_eq(proof.count, records[k].leaves);
			verified++;
		}
	}
	cr_assert_eq(verified, (GOLDEN_NODES + GOLDEN_LATE) * FAII_SETTLE_EPOCHS_KEPT);
	free(g->mem);
	free(g);
}
