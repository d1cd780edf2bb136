/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One validator: receiving vertices, votes, certificates and catch-up
 * requests, proposing a vertex per round, forming certificates, and
 * feeding the DAG (graph.c) whose commit rule orders the ledger. See
 * include/faii/dag.h and docs/consensus.md.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "faii/assert.h"
#include "faii/dag_record.h"
#include "wire.h"

static const char *const refusal_names[FAII_DAG_REFUSAL_COUNT] = {
        [FAII_DAG_REFUSED_MALFORMED] = "malformed",
        [FAII_DAG_REFUSED_WRONG_EPOCH] = "wrong_epoch",
        [FAII_DAG_REFUSED_NOT_MEMBER] = "not_member",
        [FAII_DAG_REFUSED_BAD_SIGNATURE] = "bad_signature",
        [FAII_DAG_REFUSED_OUTSIDE_WINDOW] = "outside_window",
        [FAII_DAG_REFUSED_BAD_PARENTS] = "bad_parents",
        [FAII_DAG_REFUSED_PAYLOAD_DIGEST] = "payload_digest",
        [FAII_DAG_REFUSED_BAD_TRANSACTION] = "bad_transaction",
        [FAII_DAG_REFUSED_EQUIVOCATION] = "equivocation",
        [FAII_DAG_REFUSED_STALE_VOTE] = "stale_vote",
        [FAII_DAG_REFUSED_FETCH_BUDGET] = "fetch_budget",
};

const char *faii_dag_refusal_name(enum faii_dag_refusal refusal)
{
	return (unsigned)refusal < FAII_DAG_REFUSAL_COUNT ? refusal_names[refusal] : "unknown";
}

void faii_dag_config_defaults(struct faii_dag_config *config, uint32_t validator_count)
{
	memset(config, 0, sizeof(*config));
	config->validator_count = validator_count;
	config->batch_bytes_max = 32u << 10;
	config->batch_wait_ns = 5 * FAII_NS_PER_MS;
	config->leader_timeout_ns = 200 * FAII_NS_PER_MS;
	config->retransmit_ns = 50 * FAII_NS_PER_MS;
	config->gc_depth_rounds = 50;
	config->window_rounds = 128;
	config->fetch_replies_per_tick = 4 * validator_count;
}

bool faii_dag_tx_next(const struct faii_dag_commit *commit, uint32_t *offset, const uint8_t **tx,
                      uint32_t *len)
{
	if (*offset >= commit->transactions_bytes)
		return false;
	FAII_ASSERT(commit->transactions_bytes - *offset >= 4);
	*len = faii_get_le32(commit->transactions + *offset);
	*tx = commit->transactions + *offset + 4;
	*offset += 4 + *len;
	FAII_ASSERT(*offset <= commit->transactions_bytes);
	return true;
}

static uint64_t bit(uint32_t author)
{
	return 1ull << author;
}

static void refuse(struct faii_dag *dag, int reason)
{
	FAII_ASSERT(reason >= 0 && reason < FAII_DAG_REFUSAL_COUNT);
	dag->stats.refused[reason]++;
}

struct dag_slot *dag_slot(struct faii_dag *dag, uint64_t round, uint32_t author)
{
	FAII_ASSERT(dag_graph_holds(&dag->graph, round) && author < dag->config.validator_count);
	struct dag_slot *slot =
	        &dag->slots[(round % dag->config.window_rounds) * dag->config.validator_count +
	                    author];
	FAII_ASSERT(slot->round == round);
	return slot;
}

uint32_t dag_slot_author(const struct faii_dag *dag, const struct dag_slot *slot)
{
	return (uint32_t)((size_t)(slot - dag->slots) % dag->config.validator_count);
}

static uint8_t *copy_bytes(const uint8_t *bytes, uint32_t len)
{
	uint8_t *copy = malloc(len);
	FAII_ASSERT(copy != NULL);
	memcpy(copy, bytes, len);
	return copy;
}

int dag_store_vertex(struct faii_dag *dag, struct dag_slot *slot, const uint8_t *bytes,
                     uint32_t len, const uint8_t *digest, uint64_t parent_mask)
{
	FAII_ASSERT(slot->vertex == NULL);
	slot->vertex = copy_bytes(bytes, len);
	slot->vertex_bytes = len;
	memcpy(slot->digest, digest, FAII_DAG_DIGEST_BYTES);
	slot->parent_mask = parent_mask;
	dag->stats.held_bytes += len;
	return 0;
}

int dag_store_certificate(struct faii_dag *dag, struct dag_slot *slot, const uint8_t *bytes,
                          uint32_t len, const uint8_t *digest)
{
	FAII_ASSERT(slot->certificate == NULL);
	slot->certificate = copy_bytes(bytes, len);
	slot->certificate_bytes = len;
	memcpy(slot->certified_digest, digest, FAII_DAG_DIGEST_BYTES);
	dag->stats.held_bytes += len;
	return 0;
}

static void drop_vertex(struct faii_dag *dag, struct dag_slot *slot)
{
	FAII_ASSERT(!slot->in_graph && !slot->journaled);
	dag->stats.held_bytes -= slot->vertex_bytes;
	free(slot->vertex);
	slot->vertex = NULL;
	slot->vertex_bytes = 0;
}

/* Every parent is in the graph, and is the vertex the author says it is. */
static bool parents_match(struct faii_dag *dag, uint64_t round, const struct dag_slot *slot)
{
	if (!dag_graph_parents_present(&dag->graph, round, slot->parent_mask))
		return false;
	if (round == 1 || round - 1 < dag->graph.round_low)
		return true;
	const uint8_t *digest = slot->vertex + DAG_VERTEX_FIXED_BYTES;
	for (uint32_t author = 0; author < dag->config.validator_count; author++) {
		if (!(slot->parent_mask & bit(author)))
			continue;
		if (memcmp(dag_slot(dag, round - 1, author)->digest, digest, FAII_DAG_DIGEST_BYTES))
			return false;
		digest += FAII_DAG_DIGEST_BYTES;
	}
	return true;
}

static void send_vote(struct faii_dag *dag, const struct dag_slot *slot, uint32_t author)
{
	uint8_t message[DAG_VOTE_BYTES];
	uint32_t len =
	        dag_wire_encode_vote(dag->config.epoch, slot->round, author, dag->config.self,
	                             slot->voted_digest, dag->config.secret_key, message);
	dag_stage_send(dag, author, message, len);
	dag->stats.votes_sent++;
}

/* Votes for a vertex whose parents are known: at most once per (author,
 * round), recorded in the journal before the vote can leave. */
static void maybe_vote(struct faii_dag *dag, struct dag_slot *slot, uint32_t author)
{
	if (dag->replaying || slot->voted || author == dag->config.self ||
	    slot->certificate != NULL || !parents_match(dag, slot->round, slot))
		return;
	uint8_t record[8 + 4 + FAII_DAG_DIGEST_BYTES];
	faii_put_le64(record, slot->round);
	faii_put_le32(record + 8, author);
	memcpy(record + 12, slot->digest, FAII_DAG_DIGEST_BYTES);
	dag_journal_append(dag, FAII_DAG_RECORD_VOTE, 0, record, sizeof(record));
	slot->voted = true;
	memcpy(slot->voted_digest, slot->digest, FAII_DAG_DIGEST_BYTES);
	send_vote(dag, slot, author);
}

static void emit_commit(void *arg, uint64_t anchor_round, uint32_t anchor_author, uint64_t round,
                        uint32_t author)
{
	struct faii_dag *dag = arg;
	if (round == anchor_round && author == anchor_author) {
		uint8_t record[8 + 4 + 8];
		faii_put_le64(record, anchor_round);
		faii_put_le32(record + 8, anchor_author);
		faii_put_le64(record + 12, dag->committed_sequence + 1);
		dag_journal_append(dag, FAII_DAG_RECORD_COMMIT, 0, record, sizeof(record));
		dag->stats.last_committed_anchor = anchor_round;
		dag->last_anchor_sequence = dag->committed_sequence + 1;
	}
	dag_stage_output(dag, anchor_round, round, author);
}

/* Inserts every certified vertex whose parents arrived, lowest round first
 * (one pass suffices: a round's insertions enable only later rounds), and
 * votes for the uncertified vertices that became votable. */
void dag_insert_ready(struct faii_dag *dag)
{
	uint64_t low = dag->graph.round_low;
	for (uint64_t round = low; round < low + dag->config.window_rounds; round++) {
		for (uint32_t author = 0; author < dag->config.validator_count; author++) {
			struct dag_slot *slot = dag_slot(dag, round, author);
			if (slot->vertex == NULL || slot->in_graph)
				continue;
			if (slot->journaled && parents_match(dag, round, slot)) {
				slot->in_graph = true;
				dag_graph_insert(&dag->graph, round, author, slot->parent_mask,
				                 emit_commit, dag);
			} else if (!slot->journaled) {
				maybe_vote(dag, slot, author);
			}
		}
	}
}

/* A slot holds a certificate and the vertex it certifies: journal it, then
 * let it into the graph. */
void dag_accept_certified(struct faii_dag *dag, struct dag_slot *slot)
{
	FAII_ASSERT(slot->vertex != NULL && slot->certificate != NULL);
	FAII_ASSERT(memcmp(slot->digest, slot->certified_digest, FAII_DAG_DIGEST_BYTES) == 0);
	if (slot->journaled)
		return;
	uint32_t len = 4 + slot->vertex_bytes + slot->certificate_bytes;
	FAII_ASSERT(len <= FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	uint8_t *record = malloc(len);
	FAII_ASSERT(record != NULL);
	faii_put_le32(record, slot->vertex_bytes);
	memcpy(record + 4, slot->vertex, slot->vertex_bytes);
	memcpy(record + 4 + slot->vertex_bytes, slot->certificate, slot->certificate_bytes);
	dag_journal_append(dag, FAII_DAG_RECORD_CERTIFIED,
	                   FAII_DAG_KEY(slot->round, dag_slot_author(dag, slot)), record, len);
	free(record);
	slot->journaled = true;
	dag->stats.certificates_accepted++;
	dag_insert_ready(dag);
}

static void note_round(struct faii_dag *dag, uint64_t round, uint32_t author)
{
	if (round > dag->round_seen)
		dag->round_seen = round;
	if (round > dag->stats.author_round[author])
		dag->stats.author_round[author] = round;
}

void dag_request_fetch(struct faii_dag *dag, uint32_t peer, uint64_t round_from,
                       uint32_t round_count, uint64_t authors)
{
	if (peer == dag->config.self || round_count == 0)
		return;
	uint8_t message[DAG_FETCH_BYTES];
	uint32_t len =
	        dag_wire_encode_fetch(dag->config.epoch, round_from, round_count, authors, message);
	dag_stage_send(dag, peer, message, len);
	dag->stats.fetches_sent++;
}

/* Two signed vertices from one author for one round: keep both signed
 * headers (without their batches) as a proof anyone can check. */
static void record_equivocation(struct faii_dag *dag, struct dag_slot *slot,
                                const struct dag_vertex *second)
{
	refuse(dag, FAII_DAG_REFUSED_EQUIVOCATION);
	if (slot->evidence)
		return;
	uint32_t first_bytes = dag_vertex_payload_offset(slot->parent_mask);
	uint32_t second_bytes = dag_vertex_payload_offset(second->parent_mask);
	uint8_t *proof = malloc(8 + first_bytes + second_bytes);
	FAII_ASSERT(proof != NULL);
	faii_put_le32(proof, first_bytes);
	memcpy(proof + 4, slot->vertex, first_bytes);
	faii_put_le32(proof + 4 + first_bytes, second_bytes);
	memcpy(proof + 8 + first_bytes, second->signed_part - DAG_WIRE_HEADER_BYTES, second_bytes);
	dag_journal_append(dag, FAII_DAG_RECORD_EVIDENCE, 0, proof, 8 + first_bytes + second_bytes);
	free(proof);
	slot->evidence = true;
	dag->stats.equivocations++;
}

/*
 * A vertex signed with this validator's key that it does not hold (a valid
 * vertex, or a certificate for one): it signed it in a life its journal
 * forgot (a restored backup), or its key signs elsewhere. Either way it must
 * never sign that round (or an earlier one) again: it proposes after it.
 */
static void note_signed_elsewhere(struct faii_dag *dag, uint64_t round)
{
	if (round <= dag->round_signed_elsewhere)
		return;
	dag->round_signed_elsewhere = round;
	/* Journaled (and synced at the handler's end, before anything is sent)
	 * so that a restart does not forget it. */
	uint8_t record[FAII_DAG_SIGNED_ELSEWHERE_RECORD_BYTES];
	faii_put_le64(record, round);
	dag_journal_append(dag, FAII_DAG_RECORD_SIGNED_ELSEWHERE, 0, record, sizeof(record));
}

static void handle_vertex(struct faii_dag *dag, const uint8_t *bytes, uint32_t len)
{
	struct dag_vertex vertex;
	int rc = dag_wire_decode_vertex(bytes, len, dag->config.validator_count, dag->quorum,
	                                &vertex);
	if (rc != DAG_WIRE_OK)
		return refuse(dag, rc);
	if (!dag_graph_holds(&dag->graph, vertex.round))
		return refuse(dag, FAII_DAG_REFUSED_OUTSIDE_WINDOW);
	struct dag_slot *slot = dag_slot(dag, vertex.round, vertex.author);
	if (slot->vertex != NULL &&
	    memcmp(slot->digest, vertex.digest, FAII_DAG_DIGEST_BYTES) == 0) {
		if (slot->voted && vertex.author != dag->config.self)
			send_vote(dag, slot, vertex.author); /* our vote was lost */
		return;
	}
	if (!dag_wire_vertex_signed(&vertex, dag->config.public_keys[vertex.author]))
		return refuse(dag, FAII_DAG_REFUSED_BAD_SIGNATURE);
	note_round(dag, vertex.round, vertex.author);
	if (slot->vertex != NULL)
		return record_equivocation(dag, slot, &vertex);
	if (slot->certificate != NULL &&
	    memcmp(slot->certified_digest, vertex.digest, FAII_DAG_DIGEST_BYTES) != 0)
		return refuse(dag, FAII_DAG_REFUSED_EQUIVOCATION);
	if (vertex.author == dag->config.self) {
		note_signed_elsewhere(dag, vertex.round);
		if (slot->certificate == NULL) /* only its certified copy enters the DAG */
			return refuse(dag, FAII_DAG_REFUSED_EQUIVOCATION);
	}
	dag_store_vertex(dag, slot, bytes, len, vertex.digest, vertex.parent_mask);
	if (slot->certificate != NULL)
		dag_accept_certified(dag, slot);
	else if (slot->voted &&
	         memcmp(slot->voted_digest, vertex.digest, FAII_DAG_DIGEST_BYTES) == 0)
		send_vote(dag, slot, vertex.author); /* voted before a restart: the same vote */
	else
		maybe_vote(dag, slot, vertex.author);
}

void dag_certify_own(struct faii_dag *dag)
{
	struct dag_slot *slot = dag_slot(dag, dag->proposed_round, dag->config.self);
	FAII_ASSERT(slot->certificate == NULL);
	FAII_ASSERT((uint32_t)__builtin_popcountll(dag->own_vote_mask) >= dag->quorum);
	uint32_t len = dag_wire_encode_certificate(
	        dag->config.epoch, slot->round, dag->config.self, slot->digest, dag->own_vote_mask,
	        (const uint8_t(*)[FAII_DAG_SIGNATURE_BYTES])dag->own_votes, dag->scratch);
	dag_store_certificate(dag, slot, dag->scratch, len, slot->digest);
	dag->stats.certificates_formed++;
	dag_stage_send(dag, DAG_BROADCAST, dag->scratch, len);
	dag_accept_certified(dag, slot);
}

static void handle_vote(struct faii_dag *dag, const uint8_t *bytes, uint32_t len)
{
	struct dag_vote vote;
	int rc = dag_wire_decode_vote(bytes, len, dag->config.validator_count, &vote);
	if (rc != DAG_WIRE_OK)
		return refuse(dag, rc);
	if (vote.author != dag->config.self || vote.round != dag->proposed_round ||
	    !dag_graph_holds(&dag->graph, vote.round))
		return refuse(dag, FAII_DAG_REFUSED_STALE_VOTE);
	struct dag_slot *slot = dag_slot(dag, vote.round, dag->config.self);
	if (slot->vertex == NULL || memcmp(slot->digest, vote.digest, FAII_DAG_DIGEST_BYTES) != 0)
		return refuse(dag, FAII_DAG_REFUSED_STALE_VOTE);
	if (slot->certificate != NULL || (dag->own_vote_mask & bit(vote.voter)))
		return; /* a duplicate, or late: the certificate exists */
	if (!dag_wire_vote_signed(&vote, dag->config.public_keys[vote.voter]))
		return refuse(dag, FAII_DAG_REFUSED_BAD_SIGNATURE);
	memcpy(dag->own_votes[vote.voter], vote.signature, FAII_DAG_SIGNATURE_BYTES);
	dag->own_vote_mask |= bit(vote.voter);
	if ((uint32_t)__builtin_popcountll(dag->own_vote_mask) >= dag->quorum)
		dag_certify_own(dag);
}

/* A certificate this validator already holds costs no signature check. */
static bool certificate_known(struct faii_dag *dag, const uint8_t *bytes, uint32_t len)
{
	if (len < DAG_CERTIFICATE_FIXED_BYTES)
		return false;
	uint64_t round = faii_get_le64(bytes + DAG_WIRE_HEADER_BYTES);
	uint32_t author = faii_get_le32(bytes + DAG_WIRE_HEADER_BYTES + 8);
	if (!dag_graph_holds(&dag->graph, round) || author >= dag->config.validator_count)
		return false;
	const struct dag_slot *slot = dag_slot(dag, round, author);
	return slot->certificate != NULL &&
	       memcmp(slot->certified_digest, bytes + DAG_WIRE_HEADER_BYTES + 24,
	              FAII_DAG_DIGEST_BYTES) == 0;
}

static void handle_certificate(struct faii_dag *dag, uint32_t from, const uint8_t *bytes,
                               uint32_t len)
{
	if (certificate_known(dag, bytes, len))
		return;
	/* Outside the window only a round beyond any seen is worth 2f + 1
	 * signature checks (it tells how far behind this validator is). */
	if (len >= DAG_CERTIFICATE_FIXED_BYTES) {
		uint64_t round = faii_get_le64(bytes + DAG_WIRE_HEADER_BYTES);
		if (!dag_graph_holds(&dag->graph, round) && round <= dag->round_seen)
			return refuse(dag, FAII_DAG_REFUSED_OUTSIDE_WINDOW);
	}
	struct dag_certificate certificate;
	int rc = dag_wire_decode_certificate(
	        bytes, len, dag->config.validator_count, dag->quorum,
	        (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])dag->config.public_keys, &certificate);
	if (rc != DAG_WIRE_OK)
		return refuse(dag, rc);
	note_round(dag, certificate.round, certificate.author); /* proven by 2f + 1 signatures */
	if (!dag_graph_holds(&dag->graph, certificate.round))
		return refuse(dag, FAII_DAG_REFUSED_OUTSIDE_WINDOW);
	struct dag_slot *slot = dag_slot(dag, certificate.round, certificate.author);
	if (slot->certificate != NULL)
		return refuse(dag, FAII_DAG_REFUSED_EQUIVOCATION); /* more than f liars */
	if (certificate.author == dag->config.self &&
	    (slot->vertex == NULL ||
	     memcmp(slot->digest, certificate.digest, FAII_DAG_DIGEST_BYTES) != 0))
		note_signed_elsewhere(dag, certificate.round);
	dag_store_certificate(dag, slot, bytes, len, certificate.digest);
	if (slot->vertex != NULL &&
	    memcmp(slot->digest, certificate.digest, FAII_DAG_DIGEST_BYTES) != 0)
		drop_vertex(dag, slot); /* the author equivocated; the certified one wins */
	if (slot->vertex != NULL)
		dag_accept_certified(dag, slot);
	else
		dag_request_fetch(dag, from, certificate.round, 1, bit(certificate.author));
}

/* A round collected from memory is served from the journal. */
static bool serve_archived(struct faii_dag *dag, uint32_t to, uint64_t round, uint32_t author)
{
	int64_t len = dag->journal->lookup(dag->journal, FAII_DAG_RECORD_CERTIFIED,
	                                   FAII_DAG_KEY(round, author), dag->archive,
	                                   FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	if (len <= 4)
		return false;
	uint32_t vertex_bytes = faii_get_le32(dag->archive);
	if (vertex_bytes == 0 || vertex_bytes >= (uint64_t)len - 4 ||
	    (uint64_t)len - 4 - vertex_bytes > FAII_TRANSPORT_MESSAGE_BYTES_MAX)
		return false;
	dag_stage_send(dag, to, dag->archive + 4, vertex_bytes);
	dag_stage_send(dag, to, dag->archive + 4 + vertex_bytes, (uint32_t)len - 4 - vertex_bytes);
	return true;
}

static bool serve_vertex(struct faii_dag *dag, uint32_t to, uint64_t round, uint32_t author)
{
	if (round < dag->graph.round_low)
		return serve_archived(dag, to, round, author);
	if (!dag_graph_holds(&dag->graph, round))
		return false;
	struct dag_slot *slot = dag_slot(dag, round, author);
	if (!slot->journaled)
		return false;
	dag_stage_send(dag, to, slot->vertex, slot->vertex_bytes);
	dag_stage_send(dag, to, slot->certificate, slot->certificate_bytes);
	return true;
}

/* Answers a catch-up request with certified vertices, from memory or the
 * journal, within the peer's budget for this tick. */
static void handle_fetch(struct faii_dag *dag, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct dag_fetch fetch;
	int rc = dag_wire_decode_fetch(bytes, len, &fetch);
	if (rc != DAG_WIRE_OK)
		return refuse(dag, rc);
	if (from == dag->config.self || from >= dag->config.validator_count)
		return refuse(dag, FAII_DAG_REFUSED_NOT_MEMBER);
	for (uint64_t round = fetch.round_from; round < fetch.round_from + fetch.round_count;
	     round++)
		for (uint32_t author = 0; author < dag->config.validator_count; author++) {
			if (!(fetch.author_mask & bit(author)))
				continue;
			if (dag->fetch_budget[from] == 0)
				return refuse(dag, FAII_DAG_REFUSED_FETCH_BUDGET);
			if (!serve_vertex(dag, from, round, author))
				continue;
			dag->fetch_budget[from]--;
			dag->stats.fetch_vertices_served++;
		}
}

/* The author's own vote for its vertex: the OWN_VERTEX record already
 * guarantees it signs one vertex per round, so no VOTE record. */
void dag_own_vote(struct faii_dag *dag, struct dag_slot *slot)
{
	FAII_ASSERT(slot->round == dag->proposed_round && slot->vertex != NULL);
	uint8_t message[DAG_VOTE_BYTES];
	dag_wire_encode_vote(dag->config.epoch, slot->round, dag->config.self, dag->config.self,
	                     slot->digest, dag->config.secret_key, message);
	memcpy(dag->own_votes[dag->config.self],
	       message + DAG_VOTE_BYTES - FAII_DAG_SIGNATURE_BYTES, FAII_DAG_SIGNATURE_BYTES);
	dag->own_vote_mask = bit(dag->config.self);
	slot->voted = true;
	memcpy(slot->voted_digest, slot->digest, FAII_DAG_DIGEST_BYTES);
	if (dag->quorum == 1 && slot->certificate == NULL)
		dag_certify_own(dag);
}

void faii_dag_on_message(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct faii_dag *dag = receiver;
	if (dag->stats.failed)
		return;
	uint64_t epoch = 0;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	if (type == 0)
		refuse(dag, FAII_DAG_REFUSED_MALFORMED);
	else if (epoch != dag->config.epoch)
		refuse(dag, FAII_DAG_REFUSED_WRONG_EPOCH);
	else if (type == DAG_MESSAGE_VERTEX)
		handle_vertex(dag, bytes, len);
	else if (type == DAG_MESSAGE_VOTE)
		handle_vote(dag, bytes, len);
	else if (type == DAG_MESSAGE_CERTIFICATE)
		handle_certificate(dag, from, bytes, len);
	else
		handle_fetch(dag, from, bytes, len);
	dag_maybe_propose(dag, faii_clock_monotonic_ns(dag->clock));
	if (!dag->config.flush_explicitly)
		dag_finish(dag);
}

void faii_dag_flush(struct faii_dag *dag)
{
	dag_finish(dag);
}

void faii_dag_on_tick(struct faii_dag *dag, uint64_t now_ns)
{
	if (dag->stats.failed)
		return;
	for (uint32_t peer = 0; peer < dag->config.validator_count; peer++)
		dag->fetch_budget[peer] = dag->config.fetch_replies_per_tick;
	dag_maybe_propose(dag, now_ns);
	bool retransmit_due = now_ns >= dag->retransmit_at_ns;
	if (retransmit_due) {
		dag_retransmit(dag);
		dag->retransmit_at_ns = now_ns + dag->config.retransmit_ns;
	}
	dag_catch_up(dag, now_ns, retransmit_due);
	if (!dag->config.flush_explicitly)
		dag_finish(dag);
}

int faii_dag_submit(struct faii_dag *dag, const uint8_t *tx, uint32_t len)
{
	if (dag->stats.failed)
		return -EIO;
	if (len == 0 || len > FAII_DAG_TX_BYTES_MAX || 4 + len > dag->config.batch_bytes_max)
		return -EMSGSIZE;
	if (FAII_DAG_PENDING_BYTES_MAX - dag->pending_tail < 4 + len) {
		/* Compact only when it frees at least as much as it moves: a full
		 * queue refuses at once instead of moving megabytes per refusal, and
		 * every byte is moved O(1) times on average. */
		uint32_t held = dag->pending_tail - dag->pending_head;
		if (dag->pending_head < held || FAII_DAG_PENDING_BYTES_MAX - held < 4 + len)
			return -ENOBUFS;
		memmove(dag->pending, dag->pending + dag->pending_head, held);
		dag->pending_head = 0;
		dag->pending_tail = held;
	}
	faii_put_le32(dag->pending + dag->pending_tail, len);
	memcpy(dag->pending + dag->pending_tail + 4, tx, len);
	dag->pending_tail += 4 + len;
	dag->pending_count++;
	dag->stats.pending_bytes = dag->pending_tail - dag->pending_head;
	return 0;
}

void faii_dag_get_stats(const struct faii_dag *dag, struct faii_dag_stats *stats)
{
	*stats = dag->stats;
	stats->round_inserted = dag->graph.round_high;
	stats->round_seen = dag->round_seen;
}

static int check_config(const struct faii_dag_config *config,
                        const struct faii_transport *transport, char *err, size_t err_bytes)
{
	uint32_t n = config->validator_count;
	uint64_t vertex_max = DAG_VERTEX_FIXED_BYTES + (uint64_t)n * FAII_DAG_DIGEST_BYTES +
	                      FAII_DAG_SIGNATURE_BYTES + config->batch_bytes_max;
	const char *problem = NULL;
	if (n < 1 || n > FAII_VALIDATORS_MAX || config->self >= n)
		problem = "validator_count must be 1..64 and self below it";
	else if (transport->self != config->self || transport->peer_count != n)
		problem = "the transport's self and peer count differ from the configuration";
	else if (vertex_max > transport->message_bytes_max)
		problem = "batch_bytes_max does not fit one transport message with its header";
	else if (config->window_rounds < FAII_DAG_WINDOW_ROUNDS_MIN ||
	         config->window_rounds > FAII_DAG_WINDOW_ROUNDS_MAX ||
	         config->gc_depth_rounds < 2 || config->gc_depth_rounds + 4 > config->window_rounds)
		problem = "window_rounds must be 8..1024 and at least gc_depth_rounds + 4";
	else if (config->retransmit_ns == 0 || config->leader_timeout_ns == 0 ||
	         config->fetch_replies_per_tick == 0 || config->batch_bytes_max < 8)
		problem = "timeouts, batch size and fetch budget must be positive";
	if (problem == NULL)
		return 0;
	snprintf(err, err_bytes, "dag: %s", problem);
	return -EINVAL;
}

static int allocate(struct faii_dag *dag)
{
	uint32_t slots = dag->config.window_rounds * dag->config.validator_count;
	dag->slots = calloc(slots, sizeof(*dag->slots));
	dag->own_votes = calloc(FAII_VALIDATORS_MAX, sizeof(*dag->own_votes));
	dag->pending = malloc(FAII_DAG_PENDING_BYTES_MAX);
	dag->scratch = malloc(FAII_TRANSPORT_MESSAGE_BYTES_MAX);
	dag->archive = malloc(FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	if (!dag->slots || !dag->own_votes || !dag->pending || !dag->scratch || !dag->archive ||
	    dag_outbox_init(dag) != 0)
		return -ENOMEM;
	for (uint64_t round = 1; round <= dag->config.window_rounds; round++)
		for (uint32_t author = 0; author < dag->config.validator_count; author++)
			dag->slots[(round % dag->config.window_rounds) *
			                   dag->config.validator_count +
			           author]
			        .round = round;
	return 0;
}

int faii_dag_open(const struct faii_dag_config *config, struct faii_transport *transport,
                  const struct faii_clock *clock, struct faii_dag_journal *journal,
                  const struct faii_dag_consumer *consumer, uint64_t consumer_applied,
                  struct faii_dag **out, char *err, size_t err_bytes)
{
	FAII_ASSERT(config && transport && clock && journal && consumer && out);
	int rc = check_config(config, transport, err, err_bytes);
	if (rc != 0)
		return rc;
	if (sodium_init() < 0) {
		snprintf(err, err_bytes, "dag: libsodium failed to initialise");
		return -EIO;
	}
	struct faii_dag *dag = calloc(1, sizeof(*dag));
	if (dag == NULL)
		return -ENOMEM;
	dag->config = *config;
	dag->transport = transport;
	dag->clock = clock;
	dag->journal = journal;
	dag->consumer = *consumer;
	dag->consumer_applied = consumer_applied;
	dag->validity = (config->validator_count - 1) / 3 + 1;
	dag->quorum = config->validator_count - (config->validator_count - 1) / 3;
	rc = dag_graph_init(&dag->graph, config->epoch, config->validator_count,
	                    config->window_rounds, config->gc_depth_rounds);
	if (rc == 0)
		rc = allocate(dag);
	if (rc == 0)
		rc = dag_replay(dag, err, err_bytes);
	if (rc != 0) {
		if (rc == -ENOMEM)
			snprintf(err, err_bytes, "dag: out of memory");
		faii_dag_close(dag);
		return rc;
	}
	dag->stats.round_low = dag->graph.round_low;
	*out = dag;
	return 0;
}

void faii_dag_close(struct faii_dag *dag)
{
	if (dag == NULL)
		return;
	if (dag->slots != NULL)
		for (uint32_t i = 0; i < dag->config.window_rounds * dag->config.validator_count;
		     i++) {
			free(dag->slots[i].vertex);
			free(dag->slots[i].certificate);
		}
	free(dag->slots);
	free(dag->own_votes);
	free(dag->pending);
	free(dag->scratch);
	free(dag->archive);
	dag_outbox_fini(dag);
	dag_graph_fini(&dag->graph);
	sodium_memzero(dag->config.secret_key, sizeof(dag->config.secret_key));
	free(dag);
}
