/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/bench settlement, second program: settlement's whole state machine
 * (faii_settle_apply, include/faii/settle_state.h) for N registered nodes
 * (default 100 000). Each repetition is one epoch: 4 appliances' work
 * summaries for every node (31 entries a part, the most one transaction
 * holds), one node-signed meter reading per metered node (minting its
 * certificate), then the one apply that moves the consortium's clock into
 * the next epoch: the settlement itself (inputs from the summaries, carbon
 * retired against each node's energy, the parameters governance has in
 * force, payouts, escrow, leaves and the payout tree). A governance change
 * adopted in the first epoch takes effect in the second.
 *
 * Timed in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the machine is
 * shared, so wall time measures the neighbours):
 *   state_epoch_ms    the boundary apply, best of --reps, against the floor
 *                     of hashing the epoch's leaves with BLAKE2b alone;
 *   summary_entry_ns  applying the summaries, per entry, best of --reps,
 *                     against hashing each entry's bytes with BLAKE2b alone;
 *   state_epoch_and_proofs_ms  the boundary apply and then every node's
 *                     payout proof (faii_settle_payout_proof, what
 *                     faiictl payout proof asks), best of --reps, against
 *                     the same floor.
 * Meter readings are signed and applied outside the timed parts (their
 * Ed25519 checks are the carbon registry's input cost, not settlement's).
 *
 *   bench_settlement_state [--nodes N] [--reps R] [--metered-every K] [--proofs P]
 *
 * Where the settling apply's time goes (instruction counts):
 *   valgrind --tool=callgrind --collect-atstart=no \
 *            --toggle-collect=timed_clock_apply bench_settlement_state --reps 1
 *
 * --metered-every K: every K-th node has a meter (default 1: all).
 * --proofs P: the first P nodes' proofs only (default: every node's).
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_settle.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"

#define BENCH_NODES_DEFAULT 100000u
#define BENCH_REPS_DEFAULT  5u
#define BENCH_REPS_MAX      8u         /* the certificate tables hold 8 epochs of every node's */
#define BENCH_APPLIANCES    4u         /* validators, n = 3f + 1 with f = 1 */
#define BENCH_EPOCH_MS      3600000ull /* an hour: one meter interval per epoch */
#define BENCH_T0_MS         1767225600000ull /* 2026-01-01T00:00:00Z, an epoch boundary */
#define BENCH_OPERATORS     5000u
#define BENCH_STAKE         1000000u
#define BENCH_ENTRIES       FAII_SETTLE_WORK_ENTRIES_MAX /* 31 */

struct bench {
	uint32_t nodes, metered_every;
	uint32_t proofs; /* proofs asked per epoch: every node's unless --proofs */
	struct faii_settle_state *state;
	void *memory;
	uint64_t sequence;
	uint64_t slice[BENCH_APPLIANCES];
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
	struct faii_settle_work_entry *entries; /* one part */
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint64_t rng;
};

static void apply_or_die(struct bench *b, uint32_t author, uint32_t len, const char *what)
{
	struct faii_settle_origin origin = {.sequence = ++b->sequence, .author = author};
	enum faii_settle_outcome outcome = faii_settle_apply(b->state, &origin, b->tx, len);
	if (outcome != FAII_SETTLE_APPLIED) {
		fprintf(stderr, "bench_settlement_state: %s refused: %s\n", what,
		        faii_settle_outcome_name(outcome));
		exit(1);
	}
}

static void bench_open(struct bench *b)
{
	struct faii_settle_config config = {
	        .validators = BENCH_APPLIANCES,
	        .nodes_max = b->nodes,
	        .epoch_ms = BENCH_EPOCH_MS,
	        .activation_delay_ms = BENCH_EPOCH_MS,
	        .params = bench_settle_params(),
	};
	size_t bytes = faii_settle_state_bytes(b->nodes);
	b->memory = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	const char *field = NULL;
	if (b->memory == NULL ||
	    faii_settle_state_init(b->memory, bytes, &config, &b->state, &field) != 0) {
		fprintf(stderr, "bench_settlement_state: init failed (%s)\n",
		        field ? field : "memory");
		exit(1);
	}
	crypto_sign_keypair(b->public_key, b->secret_key); /* every node's key: one is enough */
}

static void register_nodes(struct bench *b)
{
	for (uint32_t j = 0; j < b->nodes; j++) {
		struct faii_settle_tx_node node = {
		        .node_id = j + 1,
		        .operator_id = (uint32_t)(bench_next(&b->rng) % BENCH_OPERATORS) + 1,
		        .node_class = (uint8_t)(bench_next(&b->rng) % FAII_SETTLE_CLASSES),
		        .stake = BENCH_STAKE,
		};
		node.capacity_units = 1u << node.node_class;
		memcpy(node.public_key, b->public_key, sizeof(node.public_key));
		uint32_t len;
		if (faii_settle_tx_node_encode(&node, b->tx, sizeof(b->tx), &len) != 0)
			abort();
		apply_or_die(b, j % BENCH_APPLIANCES, len, "a registration");
	}
}

static void fill_entry(struct bench *b, uint32_t node_id, struct faii_settle_work_entry *entry)
{
	memset(entry, 0, sizeof(*entry));
	entry->node_id = node_id;
	entry->heartbeats_expected = 360;
	entry->heartbeats_seen = 340 + (uint32_t)(bench_next(&b->rng) % 21);
	entry->disagreements = bench_next(&b->rng) % 50 == 0;
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++) {
		struct faii_settle_work_tier *tier = &entry->tier[t];
		tier->dispatched = 100 + (uint32_t)(bench_next(&b->rng) % 900);
		tier->answered = tier->dispatched - (uint32_t)(bench_next(&b->rng) % 5);
		tier->slo_hits = tier->answered - (uint32_t)(bench_next(&b->rng) % 50);
		tier->verified_work = tier->slo_hits;
		tier->latency_sum_us =
		        (uint64_t)tier->answered * (1000 + bench_next(&b->rng) % 100000);
	}
}

/* One slice of appliance `author` covering every node, ending at end_ms,
 * in parts of 31 entries: the CPU time of the applies, in ms. */
static double apply_summaries(struct bench *b, uint32_t author, uint64_t end_ms)
{
	uint32_t parts = (b->nodes + BENCH_ENTRIES - 1) / BENCH_ENTRIES;
	uint64_t slice = ++b->slice[author];
	double spent = 0;
	for (uint32_t part = 0; part < parts; part++) {
		uint32_t first = part * BENCH_ENTRIES;
		uint32_t count =
		        b->nodes - first < BENCH_ENTRIES ? b->nodes - first : BENCH_ENTRIES;
		for (uint32_t i = 0; i < count; i++)
			fill_entry(b, first + i + 1, &b->entries[i]);
		struct faii_settle_work_header header = {
		        .slice = slice,
		        .slice_end_ms = end_ms,
		        .part = (uint16_t)part,
		        .parts = (uint16_t)parts,
		        .entry_count = (uint16_t)count,
		        .receipt_count = count * 100,
		        .queue_ppb = {100000000, 200000000, 300000000, 400000000},
		};
		uint32_t len;
		if (faii_settle_tx_work_encode(&header, b->entries, b->tx, sizeof(b->tx), &len) !=
		    0)
			abort();
		double start = bench_cpu_ms();
		apply_or_die(b, author, len, "a work summary");
		spent += bench_cpu_ms() - start;
	}
	return spent;
}

/* Not inlined, so that a profile can be limited to it:
 * valgrind --tool=callgrind --collect-atstart=no --toggle-collect=timed_clock_apply */
__attribute__((noinline)) static void timed_clock_apply(struct bench *b, uint32_t author,
                                                        uint32_t len)
{
	apply_or_die(b, author, len, "a clock summary");
}

/* An appliance's empty summary at end_ms: how time moves. */
static double apply_clock(struct bench *b, uint32_t author, uint64_t end_ms)
{
	struct faii_settle_work_header header = {
	        .slice = ++b->slice[author], .slice_end_ms = end_ms, .parts = 1};
	uint32_t len;
	if (faii_settle_tx_work_encode(&header, NULL, b->tx, sizeof(b->tx), &len) != 0)
		abort();
	double start = bench_cpu_ms();
	timed_clock_apply(b, author, len);
	return bench_cpu_ms() - start;
}

/* The metered nodes' readings of the hour before epoch_start_ms. */
static void apply_readings(struct bench *b, uint64_t epoch_start_ms)
{
	for (uint32_t j = 0; j < b->nodes; j += b->metered_every) {
		struct faii_settle_meter_reading reading = {
		        .node_id = j + 1,
		        .meter_id = j + 1,
		        .interval_start_s = epoch_start_ms / 1000 - 3600,
		        .interval_s = 3600,
		        .energy_mwh = 100000 + bench_next(&b->rng) % 1000000,
		        .renewable_ppb = bench_next(&b->rng) % 1000000001,
		        .location = "DE",
		        .read_at_s = epoch_start_ms / 1000,
		};
		faii_settle_meter_sign(&reading, b->secret_key);
		uint32_t len;
		if (faii_settle_meter_encode(&reading, b->tx, sizeof(b->tx), &len) != 0)
			abort();
		apply_or_die(b, j % BENCH_APPLIANCES, len, "a meter reading");
	}
}

/* The availability rate 5 % up from the next epoch, adopted by 3 votes. */
static void adopt_change(struct bench *b, uint64_t epoch)
{
	struct faii_settle_tx_gov_proposal proposal = {
	        .effective_epoch = epoch + 1,
	        .change_count = 1,
	        .changes = {{.param = FAII_GOV_P_AVAILABILITY_RATE, .value = 1050}}};
	uint32_t len;
	if (faii_settle_gov_proposal_encode(&proposal, b->tx, sizeof(b->tx), &len) != 0)
		abort();
	apply_or_die(b, 0, len, "a governance proposal");
	uint64_t id = b->sequence << 16;
	for (uint32_t v = 0; v < 3; v++) {
		struct faii_settle_tx_gov_vote vote = {.proposal_id = id, .in_favour = true};
		if (faii_settle_gov_vote_encode(&vote, b->tx, sizeof(b->tx), &len) != 0)
			abort();
		apply_or_die(b, v, len, "a governance vote");
	}
}

/* A floor: `count` distinct buffers of `bytes` hashed with BLAKE2b, in ms
 * (the leaves of the tree, 32 bytes; the summary entries, 128 bytes). */
static double hash_floor(uint32_t bytes, uint64_t count)
{
	uint8_t buffer[FAII_SETTLE_WORK_ENTRY_BYTES], hash[FAII_SETTLE_HASH_BYTES];
	if (bytes > sizeof(buffer))
		abort();
	memset(buffer, 0x5a, sizeof(buffer));
	double start = bench_cpu_ms();
	for (uint64_t i = 0; i < count; i++) {
		memcpy(buffer, &i, sizeof(i));
		crypto_generichash(hash, sizeof(hash), buffer, bytes, NULL, 0);
		buffer[8] ^= hash[0];
	}
	return bench_cpu_ms() - start;
}

struct bench_figures {
	double epoch_ms, leaf_ms, summaries_ms, entry_floor_ms, proofs_ms, with_proofs_ms;
	uint32_t leaves;
	uint64_t retired_wh;
	uint8_t root[FAII_SETTLE_HASH_BYTES];
};

/* Every node's payout proof of the settled epoch, as faiictl payout proof
 * asks for them (faii_settle_payout_proof), in CPU ms; the first and the
 * last checked against the root outside the timing. */
static double all_proofs(struct bench *b, const struct faii_settle_epoch_record *record)
{
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	double start = bench_cpu_ms();
	for (uint32_t j = 0; j < b->proofs; j++)
		if (faii_settle_payout_proof(b->state, record->epoch, j + 1, &leaf, &proof) != 0)
			abort();
	double spent = bench_cpu_ms() - start;
	uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
	const uint32_t checked[2] = {1, b->nodes};
	for (uint32_t k = 0; k < 2; k++) {
		if (faii_settle_payout_proof(b->state, record->epoch, checked[k], &leaf, &proof) !=
		    0)
			abort();
		faii_settle_leaf_encode(&leaf, bytes);
		if (faii_settle_merkle_verify(bytes, &proof, record->root) != 0)
			abort();
	}
	return spent;
}

/* Epoch e (starting at start_ms): summaries, readings, the boundary apply. */
static void run_epoch(struct bench *b, uint64_t rep, struct bench_figures *best)
{
	uint64_t start_ms = BENCH_T0_MS + rep * BENCH_EPOCH_MS;
	double summaries = 0;
	for (uint32_t a = 0; a < BENCH_APPLIANCES; a++)
		summaries += apply_summaries(b, a, start_ms + BENCH_EPOCH_MS / 2);
	if (rep == 0)
		adopt_change(b, start_ms / BENCH_EPOCH_MS);
	apply_readings(b, start_ms);
	uint64_t next_ms = start_ms + BENCH_EPOCH_MS + 1;
	(void)apply_clock(b, 0, next_ms);          /* one appliance ahead: the clock holds */
	double epoch = apply_clock(b, 1, next_ms); /* the second: the epoch settles */
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(b->state);
	if (record == NULL || record->epoch != start_ms / BENCH_EPOCH_MS || record->status != 0 ||
	    record->leaves != b->nodes) {
		fprintf(stderr, "bench_settlement_state: epoch %" PRIu64 " did not settle\n", rep);
		exit(1);
	}
	double proofs = all_proofs(b, record);
	double floor = hash_floor(FAII_SETTLE_LEAF_BYTES, record->leaves);
	double entries_floor =
	        hash_floor(FAII_SETTLE_WORK_ENTRY_BYTES, (uint64_t)BENCH_APPLIANCES * b->nodes);
	if (rep == 0 || epoch < best->epoch_ms)
		best->epoch_ms = epoch;
	if (rep == 0 || proofs < best->proofs_ms)
		best->proofs_ms = proofs;
	if (rep == 0 || epoch + proofs < best->with_proofs_ms)
		best->with_proofs_ms = epoch + proofs;
	if (rep == 0 || floor < best->leaf_ms)
		best->leaf_ms = floor;
	if (rep == 0 || summaries < best->summaries_ms)
		best->summaries_ms = summaries;
	if (rep == 0 || entries_floor < best->entry_floor_ms)
		best->entry_floor_ms = entries_floor;
	best->leaves = record->leaves;
	memcpy(best->root, record->root, sizeof(best->root));
	struct faii_settle_stats stats;
	faii_settle_get_stats(b->state, &stats);
	best->retired_wh = stats.carbon_retired_wh;
}

static void print_figures(const struct bench *b, const struct bench_figures *f, uint32_t reps)
{
	char hex[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), f->root, sizeof(f->root));
	uint32_t metered = (b->nodes + b->metered_every - 1) / b->metered_every;
	printf("{\"bench\": \"settlement\", \"case\": \"state_epoch_ms\", \"nodes\": %u, "
	       "\"tiers\": %u, \"value\": %.3f, \"unit\": \"cpu_ms\", \"baseline\": "
	       "\"leaf_hash_ms\", \"baseline_value\": %.3f, \"ratio\": %.3f, \"better\": "
	       "\"lower\", "
	       "\"reps\": %u, \"leaves\": %u, \"metered\": %u, \"retired_wh\": %" PRIu64
	       ", \"root\": \"%s\"}\n",
	       b->nodes, FAII_SETTLE_TIERS, f->epoch_ms, f->leaf_ms, f->epoch_ms / f->leaf_ms, reps,
	       f->leaves, metered, f->retired_wh, hex);
	printf("{\"bench\": \"settlement\", \"case\": \"state_epoch_and_proofs_ms\", "
	       "\"nodes\": %u, \"tiers\": %u, \"value\": %.3f, \"unit\": \"cpu_ms\", "
	       "\"baseline\": \"leaf_hash_ms\", \"baseline_value\": %.3f, \"ratio\": %.3f, "
	       "\"better\": \"lower\", \"reps\": %u, \"proofs\": %u, \"proofs_ms\": %.3f}\n",
	       b->nodes, FAII_SETTLE_TIERS, f->with_proofs_ms, f->leaf_ms,
	       f->with_proofs_ms / f->leaf_ms, reps, b->proofs, f->proofs_ms);
	uint64_t entries = (uint64_t)BENCH_APPLIANCES * b->nodes;
	double per_entry = f->summaries_ms * 1e6 / (double)entries;
	double per_floor = f->entry_floor_ms * 1e6 / (double)entries;
	printf("{\"bench\": \"settlement\", \"case\": \"summary_entry_ns\", \"nodes\": %u, "
	       "\"value\": %.1f, \"unit\": \"cpu_ns\", \"baseline\": \"entry_hash_ns\", "
	       "\"baseline_value\": %.1f, \"ratio\": %.3f, \"better\": \"lower\", \"reps\": %u, "
	       "\"entries\": %" PRIu64 ", \"entries_per_part\": %u, \"summaries_ms\": %.3f}\n",
	       b->nodes, per_entry, per_floor, per_entry / per_floor, reps, entries, BENCH_ENTRIES,
	       f->summaries_ms);
}

int main(int argc, char **argv)
{
	struct bench b = {.nodes = BENCH_NODES_DEFAULT, .metered_every = 1, .rng = 42};
	uint32_t reps = BENCH_REPS_DEFAULT;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--nodes") == 0)
			b.nodes = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0)
			reps = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--metered-every") == 0)
			b.metered_every = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--proofs") == 0)
			b.proofs = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (sodium_init() < 0 || b.nodes == 0 || b.nodes > FAII_SETTLE_NODES_MAX || reps == 0 ||
	    b.metered_every == 0) {
		fprintf(stderr,
		        "usage: bench_settlement_state [--nodes 1..%u] [--reps 1..] "
		        "[--metered-every K] [--proofs P]\n",
		        FAII_SETTLE_NODES_MAX);
		return 2;
	}
	if (b.proofs == 0 || b.proofs > b.nodes)
		b.proofs = b.nodes;
	if (reps > BENCH_REPS_MAX)
		reps = BENCH_REPS_MAX; /* shared arguments: bench_settlement allows more */
	b.entries = calloc(BENCH_ENTRIES, sizeof(*b.entries));
	if (b.entries == NULL)
		return 1;
	bench_open(&b);
	register_nodes(&b);
	/* The clock starts at T0 (every appliance reports it): epoch 0 of the run. */
	for (uint32_t a = 0; a < BENCH_APPLIANCES; a++)
		(void)apply_clock(&b, a, BENCH_T0_MS);
	struct bench_figures best = {0};
	for (uint32_t rep = 0; rep < reps; rep++)
		run_epoch(&b, rep, &best);
	print_figures(&b, &best, reps);
	free(b.entries);
	free(b.memory);
	return 0;
}
