/* SPDX-License-Identifier: BSD-3-Clause */
/* Settlement over the simulated consensus: see sim_settle.h. */
#include "sim_settle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle_carbon.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_tx.h"
#include "../unit/settle_test_params.h"
#include "sim_prng.h"

#define SIM_SETTLE_PRNG_STREAM      0x5e771eu
#define SIM_SETTLE_NODE_ID_BASE     100u
#define SIM_SETTLE_ENTRIES_PER_PART 4u       /* work summary entries per part */
#define SIM_SETTLE_ACTION_MS        1000u    /* roots, votes, disputes: looked at this often */
#define SIM_SETTLE_METER_S          5u       /* a meter interval (divides 3600) */
#define SIM_SETTLE_STAKE            1000000u /* base units, per node */
#define SIM_SETTLE_SLASH_PPM        25000u   /* per slice: propose a slash */
#define SIM_SETTLE_LISTING          16u      /* proposals read at once */
#define SIM_SETTLE_REPLAY_RING      8u       /* transactions a liar keeps to replay */
#define SIM_SETTLE_REPLAY_BYTES     1024u    /* the longest it keeps */
#define SIM_SETTLE_KEEP_PPM         100000u  /* a liar keeps a committed transaction */
#define SIM_SETTLE_LIE_PPM          400000u  /* each lie, per slice */
#define SIM_SETTLE_GARBAGE_BYTES    300u
#define SIM_SETTLE_YEAR_MS          (365ull * 86400000ull)

struct sim_settle_node {
	struct sim_settle *sim;
	uint32_t self;
	bool byzantine;
	bool live; /* its own vertex of this life committed: the replay is over */
	const struct faii_clock *clock;
	void *memory;
	struct faii_settle_state *state;
	uint64_t applied; /* the last committed sequence applied */
	uint64_t settled; /* epochs settled, as of the last commit */
	struct sim_prng prng;
	uint64_t last_slice;
	uint64_t next_action_ms;
	uint64_t last_meter_s;
	uint64_t gov_epoch; /* the epoch it last proposed a change in, + 1 */
	uint32_t replay_count;
	uint32_t replay_len[SIM_SETTLE_REPLAY_RING];
	uint8_t replay[SIM_SETTLE_REPLAY_RING][SIM_SETTLE_REPLAY_BYTES];
};

static void violate(struct sim_settle *sim, const char *format, ...)
{
	if (sim->violated)
		return;
	sim->violated = true;
	va_list args;
	va_start(args, format);
	vsnprintf(sim->violation, sizeof(sim->violation), format, args);
	va_end(args);
}

static uint32_t node_id_of(uint32_t k)
{
	return SIM_SETTLE_NODE_ID_BASE + k;
}

/* Node k is served by appliances k mod n (its primary) and k + 1 mod n. */
static bool serves(const struct sim_settle_node *node, uint32_t k)
{
	uint32_t n = node->sim->node_count;
	return k % n == node->self || (k + 1) % n == node->self;
}

static bool registered(const struct sim_settle_node *node, uint32_t k)
{
	struct faii_settle_node_view view;
	return faii_settle_node(node->state, node_id_of(k), &view) == 0;
}

static uint64_t wall_ms(const struct sim_settle_node *node)
{
	return faii_clock_realtime_ns(node->clock) / FAII_NS_PER_MS;
}

static void submit(struct sim_settle_node *node, struct faii_dag *dag, const uint8_t *tx,
                   uint32_t len)
{
	int rc = faii_dag_submit(dag, tx, len);
	FAII_ASSERT(rc == 0 || rc == -ENOBUFS || rc == -EIO);
	if (rc != 0)
		return; /* a full queue or a failed journal: the next look tries again */
	if (node->byzantine)
		node->sim->lies++;
	else
		node->sim->submitted[tx[0] < FAII_SETTLE_TX_KIND_END ? tx[0] : 0]++;
}

/* The worked epochs' parameters (tests/unit/settle_test_params.h); the
 * appliances report the queues. */
static struct faii_settle_config settle_config(uint32_t validators)
{
	struct faii_settle_config config = {
	        .validators = validators,
	        .nodes_max = SIM_SETTLE_NODES_MAX,
	        .epoch_ms = SIM_SETTLE_EPOCH_MS,
	        .activation_delay_ms = SIM_SETTLE_DELAY_MS,
	        .dispute_window_ms = SIM_SETTLE_DISPUTE_MS,
	        .params = test_params(),
	};
	memset(config.params.queue_ppb, 0, sizeof(config.params.queue_ppb));
	return config;
}

/* ---- the honest appliance's transactions ---- */

static void register_nodes(struct sim_settle_node *node, struct faii_dag *dag)
{
	for (uint32_t k = 0; k < SIM_SETTLE_NODES; k++) {
		if (!serves(node, k) || registered(node, k))
			continue;
		struct faii_settle_tx_node tx_node = {
		        .node_id = node_id_of(k),
		        .operator_id = 1 + k % 3,
		        .node_class = (uint8_t)(k % FAII_SETTLE_CLASSES),
		        .capacity_units = 1u << (k % FAII_SETTLE_CLASSES),
		        .stake = SIM_SETTLE_STAKE,
		};
		memcpy(tx_node.public_key, node->sim->node_public[k], FAII_SETTLE_PUBLIC_KEY);
		uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_NODE_REGISTER_BODY];
		uint32_t len;
		FAII_ASSERT(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
}

/* Node k's measurements in one appliance's slice: drawn from the seed. */
static void work_entry(const struct sim_settle_node *node, uint64_t slice, uint32_t k,
                       struct faii_settle_work_entry *entry)
{
	uint64_t h = sim_hash_mix(
	        sim_hash_mix(node->sim->seed, ((uint64_t)node->self << 48) ^ slice), k);
	memset(entry, 0, sizeof(*entry));
	entry->node_id = node_id_of(k);
	entry->heartbeats_expected = 10;
	entry->heartbeats_seen = h % 8 == 0 ? 10 - (uint32_t)((h >> 3) % 4) : 10;
	entry->disagreements = (h >> 5) % 64 == 0;
	struct faii_settle_work_tier *tier = &entry->tier[k % FAII_SETTLE_TX_TIERS];
	tier->dispatched = 20 + (uint32_t)((h >> 11) % 30);
	tier->answered = tier->dispatched - (uint32_t)((h >> 17) % 2);
	tier->slo_hits = tier->answered - (uint32_t)((h >> 19) % 3);
	tier->verified_work = (uint64_t)tier->slo_hits * (1 + k % 4);
	tier->latency_sum_us = (uint64_t)tier->answered * (1000 + (h >> 23) % 50000);
}

/* The slice that just ended, in parts of SIM_SETTLE_ENTRIES_PER_PART. */
static void submit_summary(struct sim_settle_node *node, struct faii_dag *dag, uint64_t slice,
                           uint64_t end_ms)
{
	struct faii_settle_work_entry entries[SIM_SETTLE_NODES];
	uint32_t count = 0;
	for (uint32_t k = 0; k < SIM_SETTLE_NODES; k++)
		if (serves(node, k))
			work_entry(node, slice, k, &entries[count++]);
	uint32_t parts = count == 0 ? 1
	                            : (count + SIM_SETTLE_ENTRIES_PER_PART - 1) /
	                                      SIM_SETTLE_ENTRIES_PER_PART;
	uint64_t h = sim_hash_mix(node->sim->seed ^ 0x9e, ((uint64_t)node->self << 48) ^ slice);
	for (uint32_t part = 0; part < parts; part++) {
		uint32_t first = part * SIM_SETTLE_ENTRIES_PER_PART;
		uint32_t in_part = count - first < SIM_SETTLE_ENTRIES_PER_PART
		                           ? count - first
		                           : SIM_SETTLE_ENTRIES_PER_PART;
		struct faii_settle_work_header header = {
		        .slice = slice,
		        .slice_end_ms = end_ms,
		        .part = (uint16_t)part,
		        .parts = (uint16_t)parts,
		        .entry_count = (uint16_t)in_part,
		        .receipt_count = in_part * 20,
		};
		for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++)
			header.queue_ppb[t] = (uint32_t)((h >> (8 * t)) % 1000000000u);
		memset(header.receipt_root, (int)(h & 0xff), sizeof(header.receipt_root));
		uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
		uint32_t len;
		FAII_ASSERT(faii_settle_tx_work_encode(&header, entries + first, tx, sizeof(tx),
		                                       &len) == 0);
		submit(node, dag, tx, len);
	}
}

/*
 * The nodes' readings of the last whole meter interval of consortium time,
 * signed with their keys. Both appliances that serve a node relay the same
 * signed bytes: the second is refused as a double mint (a replay).
 */
static void submit_readings(struct sim_settle_node *node, struct faii_dag *dag)
{
	struct faii_settle_stats stats;
	faii_settle_get_stats(node->state, &stats);
	uint64_t start = stats.consortium_ms / 1000 / SIM_SETTLE_METER_S * SIM_SETTLE_METER_S;
	if (start < SIM_SETTLE_METER_S || start - SIM_SETTLE_METER_S <= node->last_meter_s)
		return;
	start -= SIM_SETTLE_METER_S;
	node->last_meter_s = start;
	for (uint32_t k = 0; k < SIM_SETTLE_NODES; k++) {
		if (!serves(node, k) || !registered(node, k))
			continue;
		uint64_t h = sim_hash_mix(sim_hash_mix(node->sim->seed ^ 0x3e, start), k);
		struct faii_settle_meter_reading reading = {
		        .node_id = node_id_of(k),
		        .meter_id = 1000 + k,
		        .interval_start_s = start,
		        .interval_s = SIM_SETTLE_METER_S,
		        .energy_mwh = 1000 + h % 100000,
		        .renewable_ppb = (h >> 20) % 1000000001u,
		        .location = "DE",
		        .read_at_s = start + SIM_SETTLE_METER_S,
		};
		faii_settle_meter_sign(&reading, node->sim->node_secret[k]);
		uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
		uint32_t len;
		FAII_ASSERT(faii_settle_meter_encode(&reading, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
}

/* Now and then, replica-disagreement evidence against a registered node. */
static void maybe_propose_slash(struct sim_settle_node *node, struct faii_dag *dag)
{
	if (!sim_prng_chance(&node->prng, SIM_SETTLE_SLASH_PPM))
		return;
	uint32_t k = (uint32_t)sim_prng_below(&node->prng, SIM_SETTLE_NODES);
	if (!registered(node, k))
		return;
	struct faii_settle_slash_tx proposal = {
	        .accused = node_id_of(k),
	        .offense = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT,
	        .task_id = sim_prng_u64(&node->prng),
	};
	for (uint32_t i = 0; i < FAII_SETTLE_DIGEST; i++)
		proposal.majority_hash[i] = (uint8_t)sim_prng_u64(&node->prng);
	memcpy(proposal.node_hash, proposal.majority_hash, FAII_SETTLE_DIGEST);
	proposal.node_hash[0] ^= 0x01;
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	FAII_ASSERT(faii_settle_slash_tx_encode(&proposal, tx, sizeof(tx), &len) == 0);
	submit(node, dag, tx, len);
}

/* Every kept settled epoch's root this validator has not published yet
 * (appliance/settlement.c publishes the latest; a simulated crash may lose
 * a root in the queue, so the simulated appliance looks at all it keeps). */
static void publish_roots(struct sim_settle_node *node, struct faii_dag *dag)
{
	struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT];
	uint32_t count = faii_settle_kept_epochs(node->state, records, FAII_SETTLE_EPOCHS_KEPT);
	for (uint32_t i = 0; i < count; i++) {
		const struct faii_settle_epoch_record *record = &records[i];
		if (record->status != 0 ||
		    ((record->root_votes | record->root_against) >> node->self) & 1)
			continue;
		struct faii_settle_tx_root root = {.epoch = record->epoch,
		                                   .leaves = record->leaves};
		memcpy(root.root, record->root, sizeof(root.root));
		uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_PAYOUT_ROOT_BODY];
		uint32_t len;
		FAII_ASSERT(faii_settle_tx_root_encode(&root, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
}

/* The accused node disputes odd proposals (through its primary
 * appliance); every validator votes on disputed ones, the verdict being a
 * function of the proposal so that all honest votes agree. */
static void slash_actions(struct sim_settle_node *node, struct faii_dag *dag,
                          const struct faii_settle_slash_view *view)
{
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	uint32_t k = view->accused - SIM_SETTLE_NODE_ID_BASE;
	if (view->state == FAII_SETTLE_SLASH_OPEN && view->proposal_id % 2 == 1 &&
	    k < SIM_SETTLE_NODES && k % node->sim->node_count == node->self) {
		static const uint8_t reason[] = "the replica was right";
		struct faii_settle_dispute_tx dispute = {.proposal_id = view->proposal_id,
		                                         .node_id = view->accused,
		                                         .reason = reason,
		                                         .reason_len = sizeof(reason) - 1};
		FAII_ASSERT(faii_settle_dispute_tx_sign(&dispute, node->sim->node_secret[k], tx,
		                                        sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
	if (view->state == FAII_SETTLE_SLASH_DISPUTED) {
		struct faii_settle_dispute_vote_tx vote = {
		        .proposal_id = view->proposal_id,
		        .verdict = (view->proposal_id / 2) % 2 ? FAII_SETTLE_SLASH_UPHOLD
		                                               : FAII_SETTLE_SLASH_DISMISS};
		FAII_ASSERT(faii_settle_dispute_vote_tx_encode(&vote, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
}

static void slash_look(struct sim_settle_node *node, struct faii_dag *dag)
{
	const struct faii_settle_slash *slash = faii_settle_state_slash(node->state);
	struct faii_settle_slash_view views[SIM_SETTLE_LISTING];
	for (uint64_t first = 1; first < FAII_SETTLE_SLASH_PROPOSALS_MAX;
	     first += SIM_SETTLE_LISTING) {
		size_t count = faii_settle_slash_list(slash, first, views, SIM_SETTLE_LISTING);
		for (size_t i = 0; i < count; i++)
			slash_actions(node, dag, &views[i]);
		if (count < SIM_SETTLE_LISTING)
			break;
	}
}

/* In its turn, a change of the availability rate within the step cap. */
static void maybe_propose_change(struct sim_settle_node *node, struct faii_dag *dag)
{
	struct faii_settle_stats stats;
	faii_settle_get_stats(node->state, &stats);
	uint64_t epoch = stats.current_epoch;
	if (stats.consortium_ms == 0 || epoch % node->sim->node_count != node->self ||
	    node->gov_epoch == epoch + 1)
		return;
	node->gov_epoch = epoch + 1;
	const struct faii_settle_gov *gov = faii_settle_state_gov(node->state);
	uint64_t lo, hi;
	if (faii_settle_gov_step_range(gov, FAII_GOV_P_AVAILABILITY_RATE, epoch + 2, &lo, &hi) != 0)
		return;
	struct faii_settle_tx_gov_proposal proposal = {
	        .effective_epoch = epoch + 2,
	        .change_count = 1,
	        .changes = {{.param = FAII_GOV_P_AVAILABILITY_RATE,
	                     .value = lo + sim_prng_below(&node->prng, hi - lo + 1)}},
	};
	uint8_t tx[FAII_SETTLE_GOV_PROPOSAL_TX_MAX];
	uint32_t len;
	FAII_ASSERT(faii_settle_gov_proposal_encode(&proposal, tx, sizeof(tx), &len) == 0);
	submit(node, dag, tx, len);
}

static void gov_votes(struct sim_settle_node *node, struct faii_dag *dag)
{
	const struct faii_settle_gov *gov = faii_settle_state_gov(node->state);
	struct faii_settle_gov_proposal proposals[SIM_SETTLE_LISTING];
	uint64_t after = 0;
	for (uint32_t round = 0; round <= FAII_SETTLE_GOV_PROPOSALS_MAX / SIM_SETTLE_LISTING;
	     round++) {
		uint32_t count = faii_settle_gov_list(gov, after, proposals, SIM_SETTLE_LISTING);
		for (uint32_t i = 0; i < count; i++) {
			const struct faii_settle_gov_proposal *p = &proposals[i];
			if (p->status != FAII_GOV_OPEN ||
			    ((p->votes_for | p->votes_against) >> node->self) & 1)
				continue;
			struct faii_settle_tx_gov_vote vote = {.proposal_id = p->id,
			                                       .in_favour = true};
			uint8_t tx[FAII_SETTLE_GOV_VOTE_TX];
			uint32_t len;
			FAII_ASSERT(faii_settle_gov_vote_encode(&vote, tx, sizeof(tx), &len) == 0);
			submit(node, dag, tx, len);
		}
		if (count < SIM_SETTLE_LISTING)
			break;
		after = proposals[count - 1].id;
	}
}

static void honest_tick(struct sim_settle_node *node, struct faii_dag *dag, uint64_t now_ms)
{
	uint64_t slice = now_ms / SIM_SETTLE_SLICE_MS;
	if (slice > node->last_slice) {
		node->last_slice = slice;
		submit_summary(node, dag, slice - 1, slice * SIM_SETTLE_SLICE_MS);
		if (node->live)
			maybe_propose_slash(node, dag);
	}
	submit_readings(node, dag);
	if (now_ms < node->next_action_ms)
		return;
	node->next_action_ms = now_ms + SIM_SETTLE_ACTION_MS;
	register_nodes(node, dag);
	if (!node->live)
		return; /* what it would publish may be in the part of the sequence still ahead */
	publish_roots(node, dag);
	slash_look(node, dag);
	gov_votes(node, dag);
	maybe_propose_change(node, dag);
}

/* ---- the liars ---- */

static void random_bytes(struct sim_prng *prng, uint8_t *out, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)sim_prng_u64(prng);
}

static void keep_for_replay(struct sim_settle_node *node, const uint8_t *tx, uint32_t len)
{
	if (len > SIM_SETTLE_REPLAY_BYTES || !sim_prng_chance(&node->prng, SIM_SETTLE_KEEP_PPM))
		return;
	uint32_t slot = node->replay_count++ % SIM_SETTLE_REPLAY_RING;
	memcpy(node->replay[slot], tx, len);
	node->replay_len[slot] = len;
}

/* A wrong root for the latest settled epoch, or a work summary from a
 * year ahead (f such reports cannot move the consortium's clock). */
static void lie_about_time_and_roots(struct sim_settle_node *node, struct faii_dag *dag,
                                     uint64_t slice, uint64_t now_ms)
{
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	const struct faii_settle_epoch_record *latest = faii_settle_latest_epoch(node->state);
	if (latest != NULL && sim_prng_chance(&node->prng, SIM_SETTLE_LIE_PPM)) {
		struct faii_settle_tx_root root = {.epoch = latest->epoch,
		                                   .leaves = latest->leaves};
		memcpy(root.root, latest->root, sizeof(root.root));
		root.root[sim_prng_below(&node->prng, sizeof(root.root))] ^= 0x10;
		FAII_ASSERT(faii_settle_tx_root_encode(&root, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
	if (sim_prng_chance(&node->prng, SIM_SETTLE_LIE_PPM / 4)) {
		struct faii_settle_work_header header = {
		        .slice = slice, .slice_end_ms = now_ms + SIM_SETTLE_YEAR_MS, .parts = 1};
		FAII_ASSERT(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len) == 0);
		submit(node, dag, tx, len);
	}
}

static void byzantine_tick(struct sim_settle_node *node, struct faii_dag *dag, uint64_t now_ms)
{
	uint64_t slice = now_ms / SIM_SETTLE_SLICE_MS;
	if (slice <= node->last_slice)
		return;
	node->last_slice = slice;
	uint8_t tx[SIM_SETTLE_GARBAGE_BYTES + FAII_SETTLE_TX_HEADER];
	if (sim_prng_chance(&node->prng, SIM_SETTLE_LIE_PPM)) { /* garbage */
		uint32_t len = 1 + (uint32_t)sim_prng_below(&node->prng, SIM_SETTLE_GARBAGE_BYTES);
		random_bytes(&node->prng, tx, len);
		submit(node, dag, tx, len);
	}
	if (sim_prng_chance(&node->prng, SIM_SETTLE_LIE_PPM)) { /* a kind, a damaged body */
		uint32_t len = FAII_SETTLE_TX_HEADER +
		               (uint32_t)sim_prng_below(&node->prng, SIM_SETTLE_GARBAGE_BYTES);
		random_bytes(&node->prng, tx, len);
		tx[0] = (uint8_t)(1 + sim_prng_below(&node->prng, FAII_SETTLE_TX_KIND_END - 1));
		tx[1] = FAII_SETTLE_TX_VERSION;
		submit(node, dag, tx, len);
	}
	if (node->replay_count > 0 && sim_prng_chance(&node->prng, SIM_SETTLE_LIE_PPM)) {
		uint32_t kept = node->replay_count < SIM_SETTLE_REPLAY_RING
		                        ? node->replay_count
		                        : SIM_SETTLE_REPLAY_RING;
		uint32_t slot = (uint32_t)sim_prng_below(&node->prng, kept);
		submit(node, dag, node->replay[slot], node->replay_len[slot]);
	}
	lie_about_time_and_roots(node, dag, slice, now_ms);
}

/* ---- the application's entry points ---- */

/*
 * After each transaction an honest validator applied: which settled epochs
 * (by ordinal: the k-th epoch settled) are final, and whether the
 * transaction pushed one out of the kept records before it became final.
 */
static void check_epochs(struct sim_settle_node *node)
{
	struct sim_settle *sim = node->sim;
	struct faii_settle_stats stats;
	faii_settle_get_stats(node->state, &stats);
	uint64_t settled = stats.epochs_settled;
	if (settled >= SIM_SETTLE_EPOCHS_MAX) {
		violate(sim, "validator %u settled more epochs than the checker tracks",
		        node->self);
		return;
	}
	uint64_t kept = FAII_SETTLE_EPOCHS_KEPT;
	uint64_t gone_before = node->settled > kept ? node->settled - kept : 0;
	uint64_t gone_now = settled > kept ? settled - kept : 0;
	for (uint64_t ordinal = gone_before; ordinal < gone_now; ordinal++)
		if (sim->epoch_final[ordinal] == 0) {
			sim->epoch_final[ordinal] = 2;
			sim->evicted_unfinal++;
		}
	node->settled = settled;
	if (settled > sim->epochs_settled)
		sim->epochs_settled = settled;
	struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT];
	uint32_t count = faii_settle_kept_epochs(node->state, records, FAII_SETTLE_EPOCHS_KEPT);
	for (uint32_t i = 0; i < count; i++)
		if (records[i].final && sim->epoch_final[settled - 1 - i] == 0) {
			sim->epoch_final[settled - 1 - i] = 1;
			sim->epochs_final++;
		}
}

/* After each commit an honest validator applied: its digest against the
 * others' at the same sequence, money, the epochs' finality. */
static void check_commit(struct sim_settle_node *node, uint64_t sequence)
{
	struct sim_settle *sim = node->sim;
	struct faii_settle_stats stats;
	faii_settle_get_stats(node->state, &stats);
	if (stats.minted + stats.slashed_stake !=
	    stats.paid + stats.escrow + stats.treasury + stats.burned + stats.reporter_rewards)
		violate(sim, "validator %u: money not conserved at sequence %" PRIu64, node->self,
		        sequence);
	if (sequence > SIM_SETTLE_SEQUENCES_MAX) {
		violate(sim, "sequence %" PRIu64 " beyond the digest table", sequence);
		return;
	}
	struct sim_settle_digest *entry = &sim->digests[sequence - 1];
	uint8_t digest[FAII_SETTLE_HASH_BYTES];
	faii_settle_state_digest(node->state, digest);
	if (!entry->set) {
		*entry = (struct sim_settle_digest){.set = true, .by = node->self};
		memcpy(entry->digest, digest, sizeof(digest));
	} else if (memcmp(entry->digest, digest, sizeof(digest)) != 0) {
		violate(sim,
		        "validator %u's settlement differs from validator %u's at sequence "
		        "%" PRIu64,
		        node->self, entry->by, sequence);
	} else {
		sim->digests_compared++;
	}
	if (sim->boots[node->self] > 1 && sequence == sim->applied_before_crash[node->self])
		sim->rebuilt++; /* rebuilt up to where the last life was, digests matching */
	if (sequence > sim->stats_sequence) {
		sim->stats_sequence = sequence;
		sim->stats = stats;
		sim->gov_adopted = faii_settle_state_gov(node->state)->adopted;
	}
}

static void settle_on_commit(void *instance, const struct faii_dag_commit *commit)
{
	struct sim_settle_node *node = instance;
	FAII_ASSERT(commit->sequence == node->applied + 1);
	uint32_t offset = 0, len = 0, index = 0, author = commit->author;
	const uint8_t *tx = NULL;
	if (node->sim->misread_from != 0 && commit->sequence >= node->sim->misread_from &&
	    node->self == node->sim->node_count - 1)
		author = (author + 1) % node->sim->node_count; /* the checker's own test */
	while (faii_dag_tx_next(commit, &offset, &tx, &len)) {
		struct faii_settle_origin origin = {
		        .sequence = commit->sequence, .author = author, .index = index++};
		(void)faii_settle_apply(node->state, &origin, tx, len);
		if (node->byzantine)
			keep_for_replay(node, tx, len);
		else
			check_epochs(node);
	}
	node->applied = commit->sequence;
	if (commit->proposed_ns != 0)
		node->live = true;
	if (!node->byzantine)
		check_commit(node, commit->sequence);
}

static void settle_on_tick(void *instance, struct faii_dag *dag, uint64_t now_ns)
{
	struct sim_settle_node *node = instance;
	(void)now_ns; /* the appliance's slices follow its wall clock */
	uint64_t now_ms = wall_ms(node);
	if (node->byzantine)
		byzantine_tick(node, dag, now_ms);
	else
		honest_tick(node, dag, now_ms);
}

static void settle_close(void *instance)
{
	struct sim_settle_node *node = instance;
	struct sim_settle *sim = node->sim;
	if (node->applied > sim->applied_before_crash[node->self])
		sim->applied_before_crash[node->self] = node->applied;
	sim->instances[node->self] = NULL;
	free(node->memory);
	free(node);
}

static int settle_open(void *ctx, uint32_t self, bool byzantine, const struct faii_clock *clock,
                       void **instance)
{
	struct sim_settle *sim = ctx;
	struct sim_settle_node *node = calloc(1, sizeof(*node));
	struct faii_settle_config config = settle_config(sim->node_count);
	size_t bytes = faii_settle_state_bytes(config.nodes_max);
	if (node == NULL || bytes == 0 ||
	    (node->memory = aligned_alloc(8, (bytes + 7) & ~7ul)) == NULL) {
		free(node);
		return -ENOMEM;
	}
	const char *field = NULL;
	int rc = faii_settle_state_init(node->memory, bytes, &config, &node->state, &field);
	FAII_ASSERT(rc == 0); /* the simulation's own configuration */
	node->sim = sim;
	node->self = self;
	node->byzantine = byzantine;
	node->clock = clock;
	sim->boots[self]++;
	sim_prng_stream(&node->prng, sim_hash_mix(sim->seed, sim->boots[self]),
	                SIM_SETTLE_PRNG_STREAM + self);
	sim->instances[self] = node;
	*instance = node;
	return 0;
}

/* ---- safety and liveness, over the DAG's own ---- */

static struct sim_settle *settle_of(void *ctx)
{
	struct sim_dag *dag = ctx;
	return dag->options.app->ctx;
}

static bool settle_check(void *ctx, const struct sim_node_view *nodes, uint32_t node_count,
                         char *reason, size_t reason_bytes)
{
	struct sim_settle *sim = settle_of(ctx);
	if (!sim_dag_core(sim->dag).check(ctx, nodes, node_count, reason, reason_bytes))
		return false;
	if (!sim->violated)
		return true;
	snprintf(reason, reason_bytes, "%s", sim->violation);
	return false;
}

static bool honest(const struct sim_settle *sim, uint32_t node)
{
	return !((sim->byzantine_mask >> node) & 1);
}

/* Every honest validator settled more epochs after the faults, and its
 * kept epochs but the newest SIM_SETTLE_FINAL_LAG are final. */
static bool settle_converged(void *ctx, const struct sim_node_view *nodes, uint32_t node_count)
{
	struct sim_settle *sim = settle_of(ctx);
	if (!sim->baseline_set) {
		sim->baseline_set = true;
		sim->baseline_settled = sim->epochs_settled;
	}
	if (!sim_dag_core(sim->dag).converged(ctx, nodes, node_count))
		return false;
	for (uint32_t i = 0; i < node_count; i++) {
		const struct sim_settle_node *node = sim->instances[i];
		if (!honest(sim, i))
			continue;
		if (node == NULL ||
		    node->settled < sim->baseline_settled + SIM_SETTLE_EPOCHS_AFTER_FAULTS)
			return false;
		struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT];
		uint32_t count =
		        faii_settle_kept_epochs(node->state, records, FAII_SETTLE_EPOCHS_KEPT);
		for (uint32_t k = SIM_SETTLE_FINAL_LAG; k < count; k++)
			if (!records[k].final)
				return false;
	}
	return true;
}

int sim_settle_prepare(struct sim_settle *sim, struct sim_dag *dag)
{
	memset(sim, 0, sizeof(*sim));
	sim->dag = dag;
	sim->seed = dag->seed;
	sim->node_count = dag->node_count;
	sim->byzantine_mask = dag->options.byzantine_mask;
	for (uint32_t k = 0; k < SIM_SETTLE_NODES; k++) /* "node" keys, not the validators' */
		sim_dag_seed_keypair(dag->seed ^ 0x6e6f6465ull, k, sim->node_public[k],
		                     sim->node_secret[k]);
	sim->digests = calloc(SIM_SETTLE_SEQUENCES_MAX, sizeof(*sim->digests));
	sim->epoch_final = calloc(SIM_SETTLE_EPOCHS_MAX, 1);
	if (sim->digests == NULL || sim->epoch_final == NULL) {
		sim_settle_release(sim);
		return -ENOMEM;
	}
	sim->app = (struct sim_dag_app){.ctx = sim,
	                                .open = settle_open,
	                                .on_commit = settle_on_commit,
	                                .on_tick = settle_on_tick,
	                                .close = settle_close};
	dag->options.app = &sim->app;
	dag->options.txs_per_node = 0; /* the appliances submit settlement instead */
	return 0;
}

void sim_settle_release(struct sim_settle *sim)
{
	free(sim->digests);
	free(sim->epoch_final);
	sim->digests = NULL;
	sim->epoch_final = NULL;
}

struct sim_core sim_settle_core(struct sim_settle *sim)
{
	struct sim_core core = sim_dag_core(sim->dag);
	core.name = "settle";
	core.check = settle_check;
	core.converged = settle_converged;
	return core;
}
