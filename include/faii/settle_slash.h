/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reputation and slashing (DePX §3.6.1), in settlement's pure integers
 * (docs/settlement.md, "Reputation" and "Slashing and disputes").
 *
 * Reputation: each node's score in ppb, 0.3 success + 0.4 uptime + 0.2
 * latency + 0.1 stake, recomputed from windowed counters at every
 * observation, halved per executed Byzantine slash in the window, decaying
 * towards 0.5 by 5 % a week while the node is not observed.
 *
 * Slashing: SLASH_PROPOSAL (kind 6), DISPUTE (kind 7) and DISPUTE_VOTE
 * (kind 8) transactions, the downtime check settlement makes itself, the
 * dispute window, the 2f+1 vote, execution (50 % burned, 30 % to the
 * reporter, 20 % to the treasury) and the escrow of a node's rewards while
 * a proposal against it is open.
 *
 * State lives in memory the caller hands in (..._bytes(limits), then
 * ..._init(mem, bytes, ...)), 8-byte aligned; tables never grow: a full
 * table refuses with a counted reason. Nothing here reads a clock: every
 * call that depends on time receives `now_ms`, the consortium time (Unix
 * ms, non-decreasing across calls: asserted), and the settlement epoch.
 * Listings are sorted (by node id or by proposal id), never in memory order.
 *
 * Error convention: decoders return 0, -EBADMSG (not such a transaction) or
 * -EINVAL (a field out of range); state functions return 0 or a negative
 * errno; the slash transactions' apply functions return the refusal (0 =
 * accepted), which the state also counts by name.
 */
#ifndef FAII_SETTLE_SLASH_H
#define FAII_SETTLE_SLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle_tx.h"

#define FAII_SETTLE_WEEK_MS  (7ull * 86400000ull)  /* the decay period */
#define FAII_SETTLE_MONTH_MS (30ull * 86400000ull) /* DePX's 30-day window: uptime, downtime */

/* ------------------------------------------------------------------ */
/* Reputation                                                          */
/* ------------------------------------------------------------------ */

#define FAII_SETTLE_REPUTATION_NODES_MAX       (1u << 20)   /* nodes one table may hold */
#define FAII_SETTLE_REPUTATION_START_PPB       500000000ull /* a new node: 0.5, DePX's neutral */
#define FAII_SETTLE_REPUTATION_NEUTRAL_PPB     500000000ull /* a component with no samples */
#define FAII_SETTLE_REPUTATION_LATENCY_ZERO_US 200000ull    /* DePX: 200 ms scores 0 */
/* Decay steps one node may take in one call: enough to reach exactly 0.5
 * from 0 or 1 at the largest keep rate allowed (0.99 a week). */
#define FAII_SETTLE_REPUTATION_DECAY_STEPS_MAX    4096u
#define FAII_SETTLE_REPUTATION_DECAY_KEEP_MAX_PPB 990000000ull
#define FAII_SETTLE_REPUTATION_HALVINGS_MAX       31u /* after that the score is 0 anyway */

struct faii_settle_reputation_limits {
	uint32_t nodes_max; /* 1..FAII_SETTLE_REPUTATION_NODES_MAX */
};

struct faii_settle_reputation_params {
	uint64_t stake_full;     /* the stake (units) that scores 1.0; DePX: 20 000 tokens */
	uint64_t decay_keep_ppb; /* kept of (r - 0.5) per week; DePX: 0.95 (5 % decay) */
};

/* What one work summary says about one node (summed over tiers). */
struct faii_settle_reputation_observation {
	uint64_t tasks_dispatched;
	uint64_t tasks_succeeded; /* answered within the SLO and not outvoted, <= dispatched */
	uint64_t latency_samples; /* answered tasks, <= dispatched */
	uint64_t latency_sum_us;  /* over those answers */
	uint64_t heartbeats_expected;
	uint64_t heartbeats_seen; /* <= expected */
	uint64_t stake;           /* the node's registered stake now (units) */
};

/* One node as settlement sees it (faiictl, the downtime check). */
struct faii_settle_reputation_view {
	uint32_t node_id;
	uint32_t byzantine; /* executed Byzantine slashes in the window: halvings */
	uint64_t score_ppb;
	uint64_t success_ppb, uptime_ppb, latency_ppb, stake_ppb; /* at the last recompute */
	uint64_t decay_point_ms; /* the last recompute or applied week of decay */
	uint64_t last_epoch;     /* of the last observation */
	uint64_t month;          /* the current month: now_ms / FAII_SETTLE_MONTH_MS */
	/* The last month closed (the node was observed in a later month). */
	bool closed_valid;
	uint64_t closed_month;
	uint64_t closed_heartbeats_expected, closed_heartbeats_seen;
};

/* The minimum-reputation filter's input: one row per known node. */
struct faii_settle_reputation_score {
	uint32_t node_id;
	uint64_t score_ppb;
};

enum faii_settle_reputation_refusal {
	FAII_SETTLE_REPUTATION_REFUSED_TABLE_FULL,   /* a new node beyond nodes_max */
	FAII_SETTLE_REPUTATION_REFUSED_INCONSISTENT, /* succeeded, samples > dispatched or
	                                                seen > expected */
	FAII_SETTLE_REPUTATION_REFUSAL_COUNT
};

struct faii_settle_reputation_stats {
	uint32_t nodes;
	uint64_t observations, halvings, decay_steps;
	uint64_t refused[FAII_SETTLE_REPUTATION_REFUSAL_COUNT];
};

struct faii_settle_reputation;

const char *faii_settle_reputation_refusal_name(enum faii_settle_reputation_refusal reason);
/* DePX's defaults: 20 000 tokens for a full stake score, 5 % decay a week. */
void faii_settle_reputation_params_default(struct faii_settle_reputation_params *params);
/* 0, or -EINVAL (stake_full 0, keep above FAII_SETTLE_REPUTATION_DECAY_KEEP_MAX_PPB). */
int faii_settle_reputation_params_check(const struct faii_settle_reputation_params *params);

/* Bytes the state needs for these limits; 0 when the limits are out of range. */
size_t faii_settle_reputation_bytes(const struct faii_settle_reputation_limits *limits);
/* Lays the state out in mem (8-byte aligned, at least ..._bytes()); NULL on
 * bad limits, parameters or a short buffer. */
struct faii_settle_reputation *
faii_settle_reputation_init(void *mem, size_t bytes,
                            const struct faii_settle_reputation_limits *limits,
                            const struct faii_settle_reputation_params *params);

/*
 * Adds one observation (one work-summary entry) to the node's window and
 * recomputes its score from the window (the current and the previous
 * 30-day month of consortium time). Returns 1 when this observation closed
 * the node's previous month (then ..._get()'s closed_* fields hold it, for
 * faii_settle_slash_downtime_propose), 0 otherwise, -ENOSPC (table full) or
 * -EINVAL (inconsistent counts): both counted.
 */
int faii_settle_reputation_observe(struct faii_settle_reputation *state, uint32_t node_id,
                                   const struct faii_settle_reputation_observation *obs,
                                   uint64_t now_ms, uint64_t epoch);
/* Halves the node's score for an executed Byzantine slash, now and at every
 * recompute while the slash is in the window (a new node starts at 0.5
 * first). 0 or -ENOSPC. */
int faii_settle_reputation_byzantine(struct faii_settle_reputation *state, uint32_t node_id,
                                     uint64_t now_ms);
/* Applies the weeks of decay due by now_ms to every node: call once per
 * epoch. Returns the decay steps applied. */
uint64_t faii_settle_reputation_advance(struct faii_settle_reputation *state, uint64_t now_ms);
/* 0 and the node's view, or -ENOENT and a new node's view (score 0.5). */
int faii_settle_reputation_get(const struct faii_settle_reputation *state, uint32_t node_id,
                               struct faii_settle_reputation_view *view);
/* Every known node's score, sorted by node id: the count, or -ENOSPC when
 * cap is smaller than the number of nodes (nothing written then). */
long faii_settle_reputation_list(const struct faii_settle_reputation *state,
                                 struct faii_settle_reputation_score *out, size_t cap);
void faii_settle_reputation_get_stats(const struct faii_settle_reputation *state,
                                      struct faii_settle_reputation_stats *stats);

/* The observation a WORK_SUMMARY entry makes, summed over tiers:
 * succeeded = min(SLO hits, answered) - disagreements (not below 0),
 * samples = answered, sums saturating at UINT64_MAX. */
void faii_settle_reputation_observation_from_work(const struct faii_settle_work_entry *entry,
                                                  uint64_t stake,
                                                  struct faii_settle_reputation_observation *obs);

/* The score of a window's counters (exposed for tests and faii-settle):
 * the components and the weighted sum, then halved `byzantine` times. */
uint64_t faii_settle_reputation_score(const struct faii_settle_reputation_params *params,
                                      const struct faii_settle_reputation_observation *window,
                                      uint32_t byzantine,
                                      struct faii_settle_reputation_view *parts);
/* One week's decay of a score towards 0.5: 0.5 + sign(d) floor(|d| keep). */
uint64_t faii_settle_reputation_decay_step(uint64_t score_ppb, uint64_t keep_ppb);

/* ------------------------------------------------------------------ */
/* Slashing and disputes                                               */
/* ------------------------------------------------------------------ */

#define FAII_SETTLE_SLASH_PROPOSALS_MAX  (1u << 16) /* proposals one table may hold, ever */
#define FAII_SETTLE_SLASH_NODES_MAX      (1u << 20) /* accused nodes one table may hold */
#define FAII_SETTLE_SLASH_VALIDATORS_MAX 64u        /* = FAII_VALIDATORS_MAX */
#define FAII_SETTLE_SLASH_HEADER_BYTES   12u        /* the proposal's fixed fields */
#define FAII_SETTLE_SLASH_EVIDENCE_MAX                                                             \
	(FAII_SETTLE_TX_BYTES_MAX - FAII_SETTLE_TX_HEADER - FAII_SETTLE_SLASH_HEADER_BYTES)
#define FAII_SETTLE_SLASH_REPLICA_BYTES     72u   /* task u64, two result hashes */
#define FAII_SETTLE_SLASH_PERFORMANCE_BYTES 16u   /* epoch u64, dispatched u32, hits u32 */
#define FAII_SETTLE_SLASH_MESSAGE_MAX       1024u /* a signed message as evidence (bytes) */
#define FAII_SETTLE_SLASH_DISPUTE_FIXED     16u   /* proposal u64, node u32, length u16, pad */
#define FAII_SETTLE_SLASH_REASON_MAX        256u  /* a dispute's reason (bytes) */
#define FAII_SETTLE_SLASH_VOTE_BODY         12u   /* proposal u64, verdict u8, pad[3] */
#define FAII_SETTLE_SLASH_DEFAULT_WINDOW_MS (24ull * 3600000ull) /* DePX: 24 h to dispute */
#define FAII_SETTLE_SLASH_UPTIME_MIN_PPB    950000000ull         /* DePX: 95 % monthly uptime */

enum faii_settle_slash_offense {
	FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT = 1, /* 10 %, Byzantine */
	FAII_SETTLE_SLASH_EQUIVOCATION = 2,         /* 100 %, Byzantine (a validator) */
	FAII_SETTLE_SLASH_INVALID_SIGNATURE = 3,    /* 5 %, Byzantine */
	FAII_SETTLE_SLASH_DOWNTIME = 4,             /* 2 % per point below 95 %; settlement's own */
	FAII_SETTLE_SLASH_UNDER_PERFORMANCE = 5,    /* 8 % */
	FAII_SETTLE_SLASH_OFFENSE_END
};

/* A decoded SLASH_PROPOSAL; the pointers point into the decoded bytes. */
struct faii_settle_slash_tx {
	uint32_t accused; /* node id (for EQUIVOCATION: the validator's bond node) */
	uint8_t offense;  /* enum faii_settle_slash_offense */
	/* REPLICA_DISAGREEMENT */
	uint64_t task_id;
	uint8_t majority_hash[FAII_SETTLE_DIGEST];
	uint8_t node_hash[FAII_SETTLE_DIGEST];
	/* EQUIVOCATION: the consensus proof's bytes */
	const uint8_t *proof;
	uint32_t proof_len;
	/* INVALID_SIGNATURE: a message the node sent and a signature that fails */
	const uint8_t *message;
	uint32_t message_len;
	uint8_t signature[FAII_SETTLE_SIGNATURE];
	/* UNDER_PERFORMANCE: one epoch's SLO hits out of dispatched tasks */
	uint64_t epoch;
	uint32_t dispatched, slo_hits;
};

/* A decoded DISPUTE (node-signed); reason points into the decoded bytes. */
struct faii_settle_dispute_tx {
	uint64_t proposal_id;
	uint32_t node_id;
	const uint8_t *reason;
	uint32_t reason_len; /* <= FAII_SETTLE_SLASH_REASON_MAX */
	uint8_t signature[FAII_SETTLE_SIGNATURE];
};

enum faii_settle_slash_verdict {
	FAII_SETTLE_SLASH_UPHOLD = 1,
	FAII_SETTLE_SLASH_DISMISS = 2,
};

struct faii_settle_dispute_vote_tx {
	uint64_t proposal_id;
	uint8_t verdict; /* enum faii_settle_slash_verdict */
};

/*
 * Checks an equivocation proof (the consensus layer's evidence bytes):
 * 0 and the equivocating validator's index, epoch and round when it holds,
 * a negative errno otherwise. faii_dag_evidence_verify with the
 * committee's keys is the appliance's implementation.
 */
typedef int (*faii_settle_equivocation_verify_fn)(void *ctx, const uint8_t *proof, uint32_t len,
                                                  uint32_t *author, uint64_t *epoch,
                                                  uint64_t *round);

struct faii_settle_slash_params {
	uint32_t validators;        /* n, 1..FAII_SETTLE_SLASH_VALIDATORS_MAX */
	uint32_t faulty_max;        /* f, 3f + 1 <= n: a decision takes 2f + 1 matching votes */
	uint64_t dispute_window_ms; /* a proposal executes this long after it committed */
	uint64_t vote_window_ms;    /* a disputed one is dismissed when undecided this long after
	                               its dispute window */
	/* Validator i: the operator its reporter's share is paid to, and the
	 * node id its own bond is registered under (what equivocation slashes). */
	uint32_t reporter_account[FAII_SETTLE_SLASH_VALIDATORS_MAX];
	uint32_t validator_node[FAII_SETTLE_SLASH_VALIDATORS_MAX];
	uint64_t performance_target_ppb; /* SLO success below this is under-performance */
	uint32_t performance_min_tasks;  /* fewer dispatched tasks prove nothing */
	faii_settle_equivocation_verify_fn verify_equivocation; /* NULL: refused */
	void *verify_ctx;
};

struct faii_settle_slash_limits {
	uint32_t proposals_max; /* 1..FAII_SETTLE_SLASH_PROPOSALS_MAX */
	uint32_t nodes_max;     /* 1..FAII_SETTLE_SLASH_NODES_MAX */
};

/* What the node registry knows of the accused (the lead looks it up). */
struct faii_settle_slash_subject {
	bool registered;
	uint64_t stake;            /* units, now */
	const uint8_t *public_key; /* 32 bytes: INVALID_SIGNATURE checks it */
};

enum faii_settle_slash_refusal {
	FAII_SETTLE_SLASH_ACCEPTED = 0,
	FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR,  /* author index outside the committee */
	FAII_SETTLE_SLASH_REFUSED_UNKNOWN_NODE,   /* accused not registered */
	FAII_SETTLE_SLASH_REFUSED_OFFENSE,        /* unknown, or DOWNTIME by transaction */
	FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE,   /* equal hashes, a valid signature, SLO met,
	                                             too few tasks, uptime at or above 95 % */
	FAII_SETTLE_SLASH_REFUSED_PROOF,          /* the equivocation proof does not hold */
	FAII_SETTLE_SLASH_REFUSED_WRONG_ACCUSED,  /* the proof's validator bonds another node */
	FAII_SETTLE_SLASH_REFUSED_DUPLICATE,      /* the same evidence was already proposed */
	FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL, /* proposals_max reached */
	FAII_SETTLE_SLASH_REFUSED_NODES_FULL,     /* nodes_max reached */
	FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL,
	FAII_SETTLE_SLASH_REFUSED_NOT_ACCUSED,   /* a dispute signed for another node */
	FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED, /* a dispute after the window, a vote after
	                                            the vote window */
	FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED,  /* a vote on an undisputed or closed one */
	FAII_SETTLE_SLASH_REFUSED_ALREADY_DISPUTED,
	FAII_SETTLE_SLASH_REFUSED_ALREADY_VOTED,
	FAII_SETTLE_SLASH_REFUSED_VOTER_ACCUSED, /* the accused validator votes on itself */
	FAII_SETTLE_SLASH_REFUSAL_COUNT
};

enum faii_settle_slash_state {
	FAII_SETTLE_SLASH_OPEN = 1, /* in its dispute window, undisputed */
	FAII_SETTLE_SLASH_DISPUTED, /* contested, votes being collected */
	FAII_SETTLE_SLASH_UPHELD,   /* 2f + 1 upheld it: executes at the next due() */
	FAII_SETTLE_SLASH_REJECTED, /* 2f + 1 dismissed it: closes at the next due() */
	FAII_SETTLE_SLASH_EXECUTED,
	FAII_SETTLE_SLASH_DISMISSED,
};

/* One proposal (faiictl slash show/list). */
struct faii_settle_slash_view {
	uint64_t proposal_id;
	uint32_t accused;
	uint8_t offense, state;
	bool has_reporter;
	uint32_t reporter_account;
	uint64_t proposed_ms, deadline_ms, proposed_epoch;
	uint64_t rate_ppb, stake, amount; /* amount = rate x stake at proposal */
	uint32_t votes_uphold, votes_dismiss;
	uint8_t evidence_digest[FAII_SETTLE_DIGEST];
};

/* What due() reports for each proposal that closed, in proposal-id order. */
struct faii_settle_slash_outcome {
	uint64_t proposal_id;
	uint32_t node_id;
	uint8_t offense;
	bool executed;            /* false: dismissed, nothing taken */
	bool byzantine;           /* executed and of a Byzantine kind: halve the reputation */
	uint64_t amount;          /* proposed */
	uint64_t from_escrow;     /* taken from the node's escrowed rewards */
	uint64_t from_stake;      /* taken off the registered stake (the lead deducts it) */
	uint64_t burned;          /* 50 % */
	uint64_t reporter_amount; /* 30 %, paid to reporter_account */
	uint64_t treasury;        /* 20 %, the remainders, and 30 % without a reporter */
	bool has_reporter;
	uint32_t reporter_account;
	uint64_t escrow_released; /* to the node: its last open proposal closed */
};

/* One accused node (faiictl; the registry reads `slashed`). */
struct faii_settle_slash_node_view {
	uint32_t node_id;
	bool slashed;          /* an executed slash, bond not restored: do not route */
	uint32_t open;         /* open proposals: rewards escrowed while > 0 */
	uint64_t escrow;       /* rewards held */
	uint64_t stake;        /* as settlement last knew it, less executed slashes */
	uint64_t stake_needed; /* the stake that clears `slashed` */
};

struct faii_settle_slash_stats {
	uint64_t proposals, disputes, votes, executed, dismissed;
	uint64_t burned, to_reporters, to_treasury, escrow_held, escrow_released;
	uint64_t forgotten; /* closed proposals the ring reused the slot of */
	uint64_t refused[FAII_SETTLE_SLASH_REFUSAL_COUNT];
};

struct faii_settle_slash;

const char *faii_settle_slash_refusal_name(enum faii_settle_slash_refusal reason);
const char *faii_settle_slash_offense_name(uint8_t offense);
const char *faii_settle_slash_state_name(uint8_t state);
/* The DePX rate of an offense (ppb of stake); DOWNTIME: 2 x the deficit. */
uint64_t faii_settle_slash_rate_ppb(uint8_t offense, uint64_t uptime_ppb);
/* True for the kinds that prove Byzantine behaviour. */
bool faii_settle_slash_is_byzantine(uint8_t offense);

/* n = 1 (f = 0) or n >= 3f + 1, 24 h windows, 95 % SLO over >= 100 tasks. */
void faii_settle_slash_params_default(struct faii_settle_slash_params *params, uint32_t validators);
int faii_settle_slash_params_check(const struct faii_settle_slash_params *params);
size_t faii_settle_slash_bytes(const struct faii_settle_slash_limits *limits);
struct faii_settle_slash *faii_settle_slash_init(void *mem, size_t bytes,
                                                 const struct faii_settle_slash_limits *limits,
                                                 const struct faii_settle_slash_params *params);

/* Transactions: encode, decode (layout and ranges), sign and verify. */
int faii_settle_slash_tx_encode(const struct faii_settle_slash_tx *tx, uint8_t *out, uint32_t cap,
                                uint32_t *len);
int faii_settle_slash_tx_decode(const uint8_t *bytes, uint32_t len,
                                struct faii_settle_slash_tx *tx);
int faii_settle_dispute_tx_encode(const struct faii_settle_dispute_tx *tx, uint8_t *out,
                                  uint32_t cap, uint32_t *len);
int faii_settle_dispute_tx_decode(const uint8_t *bytes, uint32_t len,
                                  struct faii_settle_dispute_tx *tx);
/* Encodes and signs ("faii-settle-dispute-v1" || body without the signature). */
int faii_settle_dispute_tx_sign(const struct faii_settle_dispute_tx *tx,
                                const uint8_t secret_key[64], uint8_t *out, uint32_t cap,
                                uint32_t *len);
/* 0 when the encoded dispute's signature holds under the key, else -EKEYREJECTED
 * (-EBADMSG when the bytes are not a dispute). */
int faii_settle_dispute_tx_verify(const uint8_t *bytes, uint32_t len,
                                  const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY]);
int faii_settle_dispute_vote_tx_encode(const struct faii_settle_dispute_vote_tx *tx, uint8_t *out,
                                       uint32_t cap, uint32_t *len);
int faii_settle_dispute_vote_tx_decode(const uint8_t *bytes, uint32_t len,
                                       struct faii_settle_dispute_vote_tx *tx);

/*
 * Applies a SLASH_PROPOSAL committed from validator `author`: checks the
 * evidence, refuses evidence already proposed, and opens the proposal
 * (*proposal_id: 1, 2, ... in commit order) with amount = rate x stake.
 */
enum faii_settle_slash_refusal
faii_settle_slash_propose(struct faii_settle_slash *state, const struct faii_settle_slash_tx *tx,
                          uint32_t author, const struct faii_settle_slash_subject *subject,
                          uint64_t now_ms, uint64_t epoch, uint64_t *proposal_id);
/* True (and the rate) when a month's heartbeats are below 95 % uptime. */
bool faii_settle_slash_downtime_offense(uint64_t heartbeats_seen, uint64_t heartbeats_expected,
                                        uint64_t *rate_ppb);
/* Settlement's own DOWNTIME proposal for a closed month (no reporter). */
enum faii_settle_slash_refusal faii_settle_slash_downtime_propose(
        struct faii_settle_slash *state, uint32_t node_id, uint64_t month, uint64_t heartbeats_seen,
        uint64_t heartbeats_expected, const struct faii_settle_slash_subject *subject,
        uint64_t now_ms, uint64_t epoch, uint64_t *proposal_id);
/* A DISPUTE whose signature the lead verified under tx->node_id's key. */
enum faii_settle_slash_refusal faii_settle_slash_dispute(struct faii_settle_slash *state,
                                                         const struct faii_settle_dispute_tx *tx,
                                                         uint64_t now_ms);
/* A DISPUTE_VOTE committed from validator `author`. */
enum faii_settle_slash_refusal faii_settle_slash_vote(struct faii_settle_slash *state,
                                                      const struct faii_settle_dispute_vote_tx *tx,
                                                      uint32_t author, uint64_t now_ms);
/*
 * Closes what is due by now_ms, in proposal-id order: undisputed proposals
 * whose window ended (now_ms >= deadline), upheld ones (executed), rejected
 * ones and disputed ones undecided at deadline + vote window (dismissed).
 * Writes at most cap outcomes and returns their number; call again while
 * it returns cap. Conservation is asserted for every execution.
 */
size_t faii_settle_slash_due(struct faii_settle_slash *state, uint64_t now_ms,
                             struct faii_settle_slash_outcome *out, size_t cap);

/* True while the node has an open proposal: its rewards go to escrow. */
bool faii_settle_slash_escrowed(const struct faii_settle_slash *state, uint32_t node_id);
/* Holds an amount of the node's rewards; -ENOENT when it is not escrowed,
 * -EOVERFLOW. */
int faii_settle_slash_escrow_hold(struct faii_settle_slash *state, uint32_t node_id,
                                  uint64_t amount);
/* The node's registered stake changed (NODE_REGISTER): settlement slashes
 * at most this much, and a stake >= stake_needed clears `slashed`. Only
 * for nodes already accused; 0 or -ENOENT. */
int faii_settle_slash_stake(struct faii_settle_slash *state, uint32_t node_id, uint64_t stake);
bool faii_settle_slash_is_slashed(const struct faii_settle_slash *state, uint32_t node_id);
/* 0 and the proposal, or -ENOENT. */
int faii_settle_slash_get(const struct faii_settle_slash *state, uint64_t proposal_id,
                          struct faii_settle_slash_view *view);
/* Proposals first_id, first_id + 1, ... (at most cap): the count written. */
size_t faii_settle_slash_list(const struct faii_settle_slash *state, uint64_t first_id,
                              struct faii_settle_slash_view *out, size_t cap);
/* Accused nodes sorted by node id (only the slashed ones when slashed_only):
 * the count, or -ENOSPC when cap is too small (nothing written then). */
long faii_settle_slash_nodes(const struct faii_settle_slash *state, bool slashed_only,
                             struct faii_settle_slash_node_view *out, size_t cap);
void faii_settle_slash_get_stats(const struct faii_settle_slash *state,
                                 struct faii_settle_slash_stats *stats);

#endif /* FAII_SETTLE_SLASH_H */
