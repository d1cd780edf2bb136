/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consortium's ledger consensus: one validator of a DAG-based BFT
 * protocol of the Narwhal/Bullshark family (docs/consensus.md).
 *
 * n = 3f + 1 appliances each run one validator. Every round each validator
 * proposes one vertex (a batch of transactions and references to at least
 * 2f + 1 certified vertices of the previous round), signed with Ed25519
 * over a BLAKE2b-256 digest. The others vote for it (each at most once per
 * author and round); 2f + 1 votes form its certificate. Certified vertices
 * form the DAG. Every even round has a deterministic anchor; an anchor
 * commits when f + 1 vertices of the next round reference it, and
 * committing it commits the earlier uncommitted anchors on its causal path.
 * Each anchor's causal history is then output in a deterministic order: all
 * honest validators output the same sequence, exactly once.
 *
 * The core is single-threaded and event-driven. Its owner calls
 * faii_dag_on_message() for each message the transport delivers and
 * faii_dag_on_tick() on a timer; it never blocks and never reads a clock
 * other than the one it is given. It talks to peers through a struct
 * faii_transport (include/faii/transport.h) and keeps everything it must not
 * forget in a journal (below). Production backs the three seams with TCP,
 * the system clock and the ledger store; tests/sim/ backs them with a
 * simulated network, time and disk from one seed.
 *
 * Persistence before action: everything a handler wants to send or output
 * waits in an outbox until the records that handler appended are synced.
 * A validator therefore never sends a vote or a vertex it could forget,
 * and never outputs a commit that a crash could take back.
 *
 * Error convention: faii_dag_open() returns 0 or a negative errno with a
 * sentence in `err`; faii_dag_submit() returns 0 or a negative errno
 * (-EMSGSIZE, -ENOBUFS, -EIO once the journal failed). Input from peers is
 * never an error to the caller: it is refused and counted by reason
 * (enum faii_dag_refusal). A failed journal stops the validator (it then
 * sends and outputs nothing: fail-stop is safe, forgetting is not).
 */
#ifndef FAII_DAG_H
#define FAII_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/clock.h"
#include "faii/transport.h"

#define FAII_DAG_PUBLIC_KEY_BYTES 32u
#define FAII_DAG_SECRET_KEY_BYTES 64u /* libsodium's Ed25519 secret key (seed + public) */
#define FAII_DAG_SIGNATURE_BYTES  64u
#define FAII_DAG_DIGEST_BYTES     32u /* BLAKE2b-256 */

/* One transaction, in bytes: a routing receipt, summary, vote or proof. */
#define FAII_DAG_TX_BYTES_MAX 4096u
/* Transactions waiting to be proposed, in bytes, per validator. (This bound
 * and the outbox's may be lowered at build time: the fuzzer opens a core per
 * input and reaches their limits with small inputs.) */
#ifndef FAII_DAG_PENDING_BYTES_MAX
#define FAII_DAG_PENDING_BYTES_MAX (16u << 20)
#endif
/* Rounds held in memory: gc_depth_rounds + rounds ahead of the last commit. */
#define FAII_DAG_WINDOW_ROUNDS_MAX 1024u
#define FAII_DAG_WINDOW_ROUNDS_MIN 8u
/* Rounds one catch-up request may ask for, and vertices one answer carries. */
#define FAII_DAG_FETCH_ROUNDS_MAX 8u
/* Records one journal record may carry, in bytes (a vertex and its certificate). */
#define FAII_DAG_JOURNAL_RECORD_BYTES_MAX (2 * FAII_TRANSPORT_MESSAGE_BYTES_MAX)
/* What one handler may queue for sending, in bytes; beyond it sends are dropped
 * and counted (retransmission recovers). */
#ifndef FAII_DAG_OUTBOX_BYTES_MAX
#define FAII_DAG_OUTBOX_BYTES_MAX (8u << 20)
#endif

struct faii_dag_config {
	uint64_t epoch;
	uint32_t self;            /* this validator's index */
	uint32_t validator_count; /* n = 3f + 1, 4 ..FAII_VALIDATORS_MAX (1 for a lone validator) */
	uint8_t public_keys[FAII_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
	uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES];

	uint32_t batch_bytes_max;        /* transaction bytes per vertex */
	uint64_t batch_wait_ns;          /* propose a partial batch after this long */
	uint64_t leader_timeout_ns;      /* wait this long for an anchor's support */
	uint64_t retransmit_ns;          /* resend unacknowledged vertices, certificates */
	uint32_t gc_depth_rounds;        /* rounds kept behind the last committed anchor */
	uint32_t window_rounds;          /* rounds held at once (>= gc_depth_rounds + 4) */
	uint32_t fetch_replies_per_tick; /* vertices answered per peer per tick */
	/* false: every on_message and on_tick ends with a journal sync and the
	 * sends it released. true: the owner calls faii_dag_flush() after a
	 * batch of events, so that one sync covers them all (group commit). */
	bool flush_explicitly;
};

/* Sensible defaults for n validators; the caller sets epoch, self and keys. */
void faii_dag_config_defaults(struct faii_dag_config *config, uint32_t validator_count);

/*
 * The journal: an append-only log of the records a validator must not
 * forget (its own vertices, its votes, the certified vertices it accepted,
 * its commits, the evidence it found). append() only queues; sync() returns
 * once everything appended so far is durable (0) or fails (negative errno:
 * the validator stops). replay() calls `record` for every durable record in
 * append order, at open. lookup() finds the newest durable record of a type
 * with a key (certified vertices are keyed by FAII_DAG_KEY(round, author)):
 * it is how a validator serves rounds it no longer holds in memory to a
 * peer that is catching up. Production: the ledger store; tests/sim/: a
 * simulated disk that loses what was not synced.
 */
enum faii_dag_record_type {
	FAII_DAG_RECORD_OWN_VERTEX = 1, /* a vertex message this validator signed */
	FAII_DAG_RECORD_VOTE = 2,       /* round, author, digest this validator voted for */
	FAII_DAG_RECORD_CERTIFIED = 3,  /* u32 vertex length, the vertex, its certificate */
	FAII_DAG_RECORD_COMMIT = 4,     /* an anchor committed: round, author, sequence */
	FAII_DAG_RECORD_EVIDENCE = 5,   /* an equivocation proof */
	/* round u64: this validator's key signed a vertex of that round that it
	 * does not hold (a restored journal, or the key used elsewhere) */
	FAII_DAG_RECORD_SIGNED_ELSEWHERE = 6,
	FAII_DAG_RECORD_LAST = FAII_DAG_RECORD_SIGNED_ELSEWHERE,
};

#define FAII_DAG_KEY(round, author) (((uint64_t)(round) << 6) | (uint64_t)(author))

typedef int faii_dag_record_fn(void *arg, uint8_t type, const uint8_t *bytes, uint32_t len);

struct faii_dag_journal {
	int (*append)(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
	              const uint8_t *bytes, uint32_t len);
	int (*sync)(struct faii_dag_journal *journal);
	int (*replay)(struct faii_dag_journal *journal, faii_dag_record_fn *record, void *arg);
	/* The record's length copied into buf, 0 when there is none (or it is
	 * larger than cap), or a negative errno. */
	int64_t (*lookup)(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
	                  uint8_t *buf, uint32_t cap);
	void *ctx;
};

/* One committed vertex, as the consumer (settlement) sees it. */
struct faii_dag_commit {
	uint64_t sequence;     /* 1, 2, 3 ... across the validator's whole life */
	uint64_t anchor_round; /* the anchor whose commit ordered it */
	uint64_t round;
	uint32_t author;
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	const uint8_t *transactions; /* tx_count entries: u32 length (LE), bytes */
	uint32_t transactions_bytes;
	uint32_t tx_count;
	/* This validator's own vertex proposed since open: when (the core's
	 * monotonic clock), for a proposal-to-commit latency; 0 otherwise. */
	uint64_t proposed_ns;
};

/*
 * The consumer gets every committed vertex exactly once, in order, after
 * the commit is durable. It must remember (durably) the last sequence it
 * applied and pass it as consumer_applied at the next open: the validator
 * rebuilds its state from the journal and resumes output after it.
 */
struct faii_dag_consumer {
	void (*on_commit)(void *ctx, const struct faii_dag_commit *commit);
	void *ctx;
};

/* Walks a committed vertex's transactions; false at the end. */
bool faii_dag_tx_next(const struct faii_dag_commit *commit, uint32_t *offset, const uint8_t **tx,
                      uint32_t *len);

enum faii_dag_refusal {
	FAII_DAG_REFUSED_MALFORMED, /* cannot be decoded, or lengths disagree */
	FAII_DAG_REFUSED_WRONG_EPOCH,
	FAII_DAG_REFUSED_NOT_MEMBER,      /* author, voter or signer outside the committee */
	FAII_DAG_REFUSED_BAD_SIGNATURE,   /* vertex, vote or certificate signature */
	FAII_DAG_REFUSED_OUTSIDE_WINDOW,  /* round too far ahead, or already collected */
	FAII_DAG_REFUSED_BAD_PARENTS,     /* fewer than 2f + 1 parents, or parents in round 1 */
	FAII_DAG_REFUSED_PAYLOAD_DIGEST,  /* the batch does not match its signed digest */
	FAII_DAG_REFUSED_BAD_TRANSACTION, /* a transaction too long or cut short */
	FAII_DAG_REFUSED_EQUIVOCATION,    /* a second vertex from one author for one round */
	FAII_DAG_REFUSED_STALE_VOTE,      /* a vote for something this validator did not propose */
	FAII_DAG_REFUSED_FETCH_BUDGET,    /* a peer asked for more than its share this tick */
	FAII_DAG_REFUSAL_COUNT
};

const char *faii_dag_refusal_name(enum faii_dag_refusal refusal);

struct faii_dag_stats {
	uint64_t round;                 /* the last round this validator proposed */
	uint64_t last_committed_anchor; /* round of the last committed anchor, 0: none */
	uint64_t committed_vertices;    /* = the sequence of the last output */
	uint64_t committed_transactions;
	uint64_t certificates_formed;   /* of own vertices */
	uint64_t certificates_accepted; /* all authors, own included */
	uint64_t votes_sent;
	uint64_t vertices_proposed;
	uint64_t fetches_sent;
	uint64_t fetch_vertices_served;
	uint64_t equivocations; /* proofs recorded */
	uint64_t sends_dropped; /* transport or outbox refused a send */
	/* Own vertices that fell out of the window uncommitted (no anchor's
	 * history reached them): their transactions were queued again, or
	 * lost when the queue was full. */
	uint64_t orphaned_vertices, requeued_transactions, requeue_dropped;
	uint64_t pending_bytes;  /* submitted, not yet proposed */
	uint64_t held_bytes;     /* vertex bytes held in memory */
	uint64_t round_low;      /* the window: lowest round held */
	uint64_t round_inserted; /* the highest round in the DAG */
	uint64_t round_seen;     /* the highest round a peer proved to exist */
	/* Per author: the highest round of a vertex or certificate of theirs
	 * whose signatures held (own: the last proposed); how far each lags. */
	uint64_t author_round[FAII_VALIDATORS_MAX];
	uint64_t refused[FAII_DAG_REFUSAL_COUNT];
	bool failed; /* the journal failed: the validator stopped */
};

struct faii_dag;

int faii_dag_open(const struct faii_dag_config *config, struct faii_transport *transport,
                  const struct faii_clock *clock, struct faii_dag_journal *journal,
                  const struct faii_dag_consumer *consumer, uint64_t consumer_applied,
                  struct faii_dag **out, char *err, size_t err_bytes);
void faii_dag_close(struct faii_dag *dag);

/* The transport's receive function: `receiver` is the struct faii_dag. */
void faii_dag_on_message(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len);
void faii_dag_on_tick(struct faii_dag *dag, uint64_t now_monotonic_ns);

/* Syncs the journal, then outputs what committed and sends what waited for
 * it (see flush_explicitly). */
void faii_dag_flush(struct faii_dag *dag);

/* Queues a transaction for this validator's next vertices. */
int faii_dag_submit(struct faii_dag *dag, const uint8_t *tx, uint32_t len);

void faii_dag_get_stats(const struct faii_dag *dag, struct faii_dag_stats *stats);

/*
 * Checks an equivocation proof offline (the bytes of a
 * FAII_DAG_RECORD_EVIDENCE record, what settlement receives for slashing):
 * u32 length (LE), the first vertex message cut just before its
 * payload (header, signed fields, parent digests, signature), u32 length,
 * the second one likewise. Valid when both are signed by the same committee
 * member (public_keys[author]) for the same epoch and round, and sign
 * different digests. On success returns 0 and sets *epoch, *round and
 * *author (each may be NULL). Errors: -EINVAL bad arguments, or two headers
 * that are not a conflict (another author, epoch or round, or the same
 * digest); -EBADMSG the bytes are not two vertex headers (truncated,
 * lengths that disagree, an author outside the committee); -EKEYREJECTED a
 * signature does not hold.
 */
int faii_dag_evidence_verify(const uint8_t *proof, uint32_t len, uint32_t validator_count,
                             const uint8_t (*public_keys)[FAII_DAG_PUBLIC_KEY_BYTES],
                             uint64_t *epoch, uint64_t *round, uint32_t *author);

/* The anchor (leader) of an even round >= 2: a rotation over the committee
 * starting from the epoch, documented in docs/consensus.md. */
uint32_t faii_dag_leader(uint64_t epoch, uint64_t round, uint32_t validator_count);

#endif /* FAII_DAG_H */
