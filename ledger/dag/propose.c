/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rounds: when a validator proposes its next vertex (Bullshark's waits for
 * the anchor), what it resends while unacknowledged, and what it asks its
 * peers for when it is behind (docs/consensus.md, "Rounds").
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "faii/assert.h"
#include "wire.h"

static uint64_t bit(uint32_t author)
{
	return 1ull << author;
}

static uint32_t count(uint64_t mask)
{
	return (uint32_t)__builtin_popcountll(mask);
}

/*
 * May a validator that has 2f + 1 vertices of `round` move past it without
 * waiting longer? After an anchor round: once the anchor is there. After
 * the round that votes for an anchor: once f + 1 vertices reference it, or
 * 2f + 1 do not (it cannot be committed this time).
 */
static bool leader_ready(struct faii_dag *dag, uint64_t round)
{
	if (round < 2)
		return true;
	const struct dag_graph *graph = &dag->graph;
	uint64_t present = dag_graph_present(graph, round);
	if (round % 2 == 0)
		return (present & bit(faii_dag_leader(dag->config.epoch, round,
		                                      dag->config.validator_count))) != 0;
	uint32_t leader =
	        faii_dag_leader(dag->config.epoch, round - 1, dag->config.validator_count);
	uint32_t support = 0;
	for (uint32_t author = 0; author < dag->config.validator_count; author++)
		if ((present & bit(author)) &&
		    (dag_graph_parents(graph, round, author) & bit(leader)))
			support++;
	return support >= dag->validity || count(present) - support >= dag->quorum;
}

uint32_t dag_pending_take(struct faii_dag *dag, uint8_t *payload, uint32_t room, uint32_t *tx_count)
{
	uint32_t used = 0;
	*tx_count = 0;
	while (dag->pending_head < dag->pending_tail) {
		uint32_t len = faii_get_le32(dag->pending + dag->pending_head);
		if (room - used < 4 + len)
			break;
		memcpy(payload + used, dag->pending + dag->pending_head, 4 + len);
		used += 4 + len;
		dag->pending_head += 4 + len;
		dag->pending_count--;
		(*tx_count)++;
	}
	if (dag->pending_head == dag->pending_tail)
		dag->pending_head = dag->pending_tail = 0;
	dag->stats.pending_bytes = dag->pending_tail - dag->pending_head;
	return used;
}

static void propose(struct faii_dag *dag, uint64_t round, uint64_t now_ns)
{
	uint8_t parent_digests[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	uint64_t parents = round >= 2 ? dag_graph_present(&dag->graph, round - 1) : 0;
	/* Rounds only move forward, and a vertex past round 1 stands on a quorum. */
	FAII_ASSERT(round > dag->proposed_round);
	FAII_ASSERT(round == 1 || count(parents) >= dag->quorum);
	for (uint32_t author = 0; author < dag->config.validator_count; author++)
		if (parents & bit(author))
			memcpy(parent_digests[author], dag_slot(dag, round - 1, author)->digest,
			       FAII_DAG_DIGEST_BYTES);
	uint8_t *payload = malloc(dag->config.batch_bytes_max);
	FAII_ASSERT(payload != NULL);
	struct dag_vertex_draft draft = {
	        .epoch = dag->config.epoch,
	        .round = round,
	        .author = dag->config.self,
	        .parent_mask = parents,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parent_digests,
	        .payload = payload,
	};
	draft.payload_bytes =
	        dag_pending_take(dag, payload, dag->config.batch_bytes_max, &draft.tx_count);
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	uint32_t len = dag_wire_encode_vertex(&draft, dag->config.secret_key, dag->scratch, digest);
	free(payload);

	dag_journal_append(dag, FAII_DAG_RECORD_OWN_VERTEX, 0, dag->scratch, len);
	struct dag_slot *slot = dag_slot(dag, round, dag->config.self);
	FAII_ASSERT(slot->vertex == NULL && !slot->voted);
	dag_store_vertex(dag, slot, dag->scratch, len, digest, parents);
	dag->proposed_round = round;
	dag->stats.round = round;
	dag->stats.author_round[dag->config.self] = round;
	dag->stats.vertices_proposed++;
	slot->proposed_ns = now_ns;
	dag->last_proposal_ns = now_ns;
	dag_stage_send(dag, DAG_BROADCAST, dag->scratch, len);
	dag_own_vote(dag, slot);
}

/* The round to propose next: after the own last one (and after any round
 * its key signed elsewhere), or, for a validator that fell behind and caught
 * up, right after the highest round with a quorum (skipping rounds is
 * allowed; signing two vertices for one is not). */
static uint64_t next_round(struct faii_dag *dag)
{
	uint64_t last = dag->proposed_round > dag->round_signed_elsewhere
	                        ? dag->proposed_round
	                        : dag->round_signed_elsewhere;
	uint64_t round = last + 1;
	for (uint64_t high = dag->graph.round_high; high >= round && high >= 1; high--)
		if (count(dag_graph_present(&dag->graph, high)) >= dag->quorum)
			return high + 1;
	return round;
}

void dag_maybe_propose(struct faii_dag *dag, uint64_t now_ns)
{
	uint64_t round = next_round(dag);
	if (dag->stats.failed || !dag_graph_holds(&dag->graph, round))
		return;
	if (round >= 2) {
		if (count(dag_graph_present(&dag->graph, round - 1)) < dag->quorum)
			return;
		if (dag->quorum_round != round - 1) {
			dag->quorum_round = round - 1;
			dag->quorum_since_ns = now_ns;
		}
		if (now_ns - dag->quorum_since_ns < dag->config.leader_timeout_ns &&
		    !leader_ready(dag, round - 1))
			return;
	}
	bool batch_full = dag->pending_tail - dag->pending_head >= dag->config.batch_bytes_max;
	if (!batch_full && dag->proposed_round > 0 &&
	    now_ns - dag->last_proposal_ns < dag->config.batch_wait_ns)
		return;
	propose(dag, round, now_ns);
}

/* Resends the own vertex to whoever has not voted, and the latest own
 * certificate to everyone: the network may have lost either. */
void dag_retransmit(struct faii_dag *dag)
{
	if (dag->proposed_round == 0 || !dag_graph_holds(&dag->graph, dag->proposed_round))
		return;
	struct dag_slot *slot = dag_slot(dag, dag->proposed_round, dag->config.self);
	if (slot->vertex == NULL)
		return;
	if (slot->certificate == NULL) {
		for (uint32_t peer = 0; peer < dag->config.validator_count; peer++)
			if (peer != dag->config.self && !(dag->own_vote_mask & bit(peer)))
				dag_stage_send(dag, peer, slot->vertex, slot->vertex_bytes);
		return;
	}
	dag_stage_send(dag, DAG_BROADCAST, slot->certificate, slot->certificate_bytes);
}

static uint32_t next_peer(struct faii_dag *dag)
{
	uint32_t peer;
	do
		peer = dag->fetch_cursor++ % dag->config.validator_count;
	while (peer == dag->config.self);
	return peer;
}

/* What a round lacks: certified vertices without their batch (returned),
 * and the parents its held vertices wait for (absent_parents, of round - 1). */
static uint64_t missing_in(struct faii_dag *dag, uint64_t round, uint64_t *absent_parents)
{
	uint64_t missing = 0;
	*absent_parents = 0;
	bool parents_held = round >= 2 && round - 1 >= dag->graph.round_low;
	uint64_t present_below = parents_held ? dag_graph_present(&dag->graph, round - 1) : 0;
	for (uint32_t author = 0; author < dag->config.validator_count; author++) {
		const struct dag_slot *slot = dag_slot(dag, round, author);
		if (slot->certificate != NULL && slot->vertex == NULL)
			missing |= bit(author);
		if (slot->vertex != NULL && !slot->in_graph && parents_held)
			*absent_parents |= slot->parent_mask & ~present_below;
	}
	return missing;
}

/* Asks for the vertices and parents known to be missing, a bounded number
 * of requests per retransmission interval. */
static void fetch_missing(struct faii_dag *dag)
{
	uint32_t requests = 0;
	uint64_t high =
	        dag->graph.round_high > dag->round_seen ? dag->graph.round_high : dag->round_seen;
	for (uint64_t round = dag->graph.round_low;
	     round <= high && dag_graph_holds(&dag->graph, round) &&
	     requests < DAG_FETCH_REQUESTS_PER_TICK;
	     round++) {
		uint64_t absent_parents;
		uint64_t missing = missing_in(dag, round, &absent_parents);
		if (missing != 0) {
			dag_request_fetch(dag, next_peer(dag), round, 1, missing);
			requests++;
		}
		if (absent_parents != 0) {
			dag_request_fetch(dag, next_peer(dag), round - 1, 1, absent_parents);
			requests++;
		}
	}
}

/*
 * Peers are rounds ahead: ask several of them at once for consecutive
 * ranges after the last round in the DAG, as far as the window reaches,
 * and keep the pipe full: each tick asks only for rounds not already asked
 * for within the last retransmission interval. A range holds as many
 * rounds as one peer answers in a tick.
 */
static void fetch_ahead(struct faii_dag *dag, uint64_t now_ns)
{
	uint64_t next = dag->graph.round_high + 1;
	if (now_ns < dag->fetch_horizon_expiry_ns && dag->fetch_horizon >= next)
		next = dag->fetch_horizon + 1;
	uint32_t per_range = dag->config.fetch_replies_per_tick / dag->config.validator_count;
	if (per_range == 0)
		per_range = 1;
	if (per_range > FAII_DAG_FETCH_ROUNDS_MAX)
		per_range = FAII_DAG_FETCH_ROUNDS_MAX;
	uint64_t all =
	        dag->config.validator_count == 64 ? ~0ull : bit(dag->config.validator_count) - 1;
	for (uint32_t requests = 0; requests < DAG_FETCH_REQUESTS_PER_TICK &&
	                            next <= dag->round_seen && dag_graph_holds(&dag->graph, next);
	     requests++) {
		uint64_t rounds = dag->round_seen - next + 1;
		if (rounds > per_range)
			rounds = per_range;
		dag_request_fetch(dag, next_peer(dag), next, (uint32_t)rounds, all);
		next += rounds;
		dag->fetch_horizon = next - 1;
		dag->fetch_horizon_expiry_ns = now_ns + dag->config.retransmit_ns;
	}
}

void dag_catch_up(struct faii_dag *dag, uint64_t now_ns, bool retransmit_due)
{
	if (dag->config.validator_count == 1)
		return;
	if (dag->round_seen > dag->graph.round_high + 1)
		fetch_ahead(dag, now_ns);
	if (retransmit_due)
		fetch_missing(dag);
}
