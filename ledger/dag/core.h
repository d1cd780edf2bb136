/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The validator's state, shared by its files (core.c: messages and
 * rounds; outbox.c: what waits for the journal; replay.c: recovery).
 * Internal to ledger/dag/.
 */
#ifndef FAII_LEDGER_DAG_CORE_H
#define FAII_LEDGER_DAG_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/dag.h"
#include "graph.h"

/* Catch-up requests one tick may send. */
#define DAG_FETCH_REQUESTS_PER_TICK 4u

/* One (round, author): the vertex, its certificate, this validator's vote. */
struct dag_slot {
	uint64_t round;  /* the round the slot holds now */
	uint8_t *vertex; /* the vertex message, NULL: none held */
	uint32_t vertex_bytes;
	uint8_t digest[FAII_DAG_DIGEST_BYTES]; /* of the held vertex */
	uint64_t parent_mask;
	uint8_t *certificate; /* the certificate message, NULL: not certified */
	uint32_t certificate_bytes;
	uint8_t certified_digest[FAII_DAG_DIGEST_BYTES];
	uint8_t voted_digest[FAII_DAG_DIGEST_BYTES];
	bool voted;     /* this validator signed a vote for voted_digest */
	bool journaled; /* the certified vertex is in the journal */
	bool in_graph;
	bool evidence;        /* an equivocation proof was recorded */
	uint64_t proposed_ns; /* own vertex proposed since open: when; else 0 */
};

/* A committed vertex waiting for the journal's sync before output. */
struct dag_output {
	uint64_t sequence;
	uint64_t anchor_round;
	uint64_t round;
	uint32_t author;
};

/* A message waiting for the journal's sync before it is sent. */
struct dag_outgoing {
	uint32_t to; /* a validator, or DAG_BROADCAST */
	uint32_t offset;
	uint32_t len;
};
#define DAG_BROADCAST UINT32_MAX

struct faii_dag {
	struct faii_dag_config config;
	struct faii_transport *transport;
	const struct faii_clock *clock;
	struct faii_dag_journal *journal;
	struct faii_dag_consumer consumer;
	uint64_t consumer_applied;
	uint32_t quorum;   /* 2f + 1 */
	uint32_t validity; /* f + 1 */

	struct dag_graph graph;
	struct dag_slot *slots; /* window_rounds x validator_count */
	uint64_t round_seen;    /* the highest round any valid message named */

	/* Own proposals. */
	uint64_t proposed_round;
	uint64_t own_vote_mask;
	uint8_t (*own_votes)[FAII_DAG_SIGNATURE_BYTES]; /* by voter, for proposed_round */
	uint64_t last_proposal_ns;
	uint64_t quorum_round;    /* the round whose quorum time is known */
	uint64_t quorum_since_ns; /* when quorum_round first had 2f + 1 vertices */
	uint64_t retransmit_at_ns;
	/* The highest round of a vertex signed with this validator's key that it
	 * does not hold (core.c, note_signed_elsewhere); it proposes after it. */
	uint64_t round_signed_elsewhere;

	/* Submitted transactions: u32 length + bytes each, FIFO. */
	uint8_t *pending;
	uint32_t pending_head;
	uint32_t pending_tail;
	uint32_t pending_count;

	/* What waits for the journal. */
	bool journal_dirty;
	bool replaying;
	uint8_t *outbox;
	uint32_t outbox_bytes;
	struct dag_outgoing *outgoing;
	uint32_t outgoing_count;
	uint32_t outgoing_max;
	struct dag_output *outputs;
	uint32_t output_count;
	uint32_t output_max;
	uint64_t committed_sequence;
	uint64_t last_anchor_sequence; /* the sequence of the last committed anchor */

	uint32_t fetch_budget[FAII_VALIDATORS_MAX]; /* replies left this tick, per peer */
	uint32_t fetch_cursor;
	uint64_t fetch_horizon; /* the last round asked for by fetch_ahead */
	uint64_t fetch_horizon_expiry_ns;
	uint8_t *scratch; /* one message being built */
	uint8_t *archive; /* one journal record being served */

	struct faii_dag_stats stats;
};

struct dag_slot *dag_slot(struct faii_dag *dag, uint64_t round, uint32_t author);
uint32_t dag_slot_author(const struct faii_dag *dag, const struct dag_slot *slot);

/* outbox.c */
int dag_outbox_init(struct faii_dag *dag);
void dag_outbox_fini(struct faii_dag *dag);
void dag_stage_send(struct faii_dag *dag, uint32_t to, const uint8_t *bytes, uint32_t len);
void dag_journal_append(struct faii_dag *dag, uint8_t type, uint64_t key, const uint8_t *bytes,
                        uint32_t len);
void dag_stage_output(struct faii_dag *dag, uint64_t anchor_round, uint64_t round, uint32_t author);
/* Syncs the journal, then outputs commits and sends; then collects garbage. */
void dag_finish(struct faii_dag *dag);

/* core.c, for replay.c */
void dag_accept_certified(struct faii_dag *dag, struct dag_slot *slot);
void dag_insert_ready(struct faii_dag *dag);
int dag_store_vertex(struct faii_dag *dag, struct dag_slot *slot, const uint8_t *bytes,
                     uint32_t len, const uint8_t *digest, uint64_t parent_mask);
int dag_store_certificate(struct faii_dag *dag, struct dag_slot *slot, const uint8_t *bytes,
                          uint32_t len, const uint8_t *digest);

void dag_certify_own(struct faii_dag *dag);
void dag_own_vote(struct faii_dag *dag, struct dag_slot *slot);
void dag_request_fetch(struct faii_dag *dag, uint32_t peer, uint64_t round_from,
                       uint32_t round_count, uint64_t authors);

/* propose.c */
void dag_maybe_propose(struct faii_dag *dag, uint64_t now_ns);
void dag_retransmit(struct faii_dag *dag);
void dag_catch_up(struct faii_dag *dag, uint64_t now_ns, bool retransmit_due);
uint32_t dag_pending_take(struct faii_dag *dag, uint8_t *payload, uint32_t room,
                          uint32_t *tx_count);

/* replay.c */
int dag_replay(struct faii_dag *dag, char *err, size_t err_bytes);

#endif /* FAII_LEDGER_DAG_CORE_H */
