/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's state machine: consumes the consortium's committed
 * sequence, one transaction at a time, and settles epochs
 * (docs/settlement.md, "The state machine", "Consortium time", "Epochs").
 *
 * Every validator that applies the same committed sequence reaches the
 * same state, byte for byte (faii_settle_state_digest): the state machine
 * reads no clock (time is the consortium's, derived from the committed
 * work summaries), does no I/O and keeps everything in the one block of
 * memory its caller hands to faii_settle_state_init().
 *
 * Error convention: 0 or a negative errno for the caller's mistakes
 * (-EINVAL, -ENOSPC for memory too small). A transaction that is refused
 * is not an error: faii_settle_apply() returns the refusal (or
 * FAII_SETTLE_APPLIED) and counts it.
 */
#ifndef FAII_SETTLE_STATE_H
#define FAII_SETTLE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_tx.h"

#define FAII_SETTLE_VALIDATORS_MAX 64u /* = FAII_DAG_VALIDATORS_MAX: a u64 mask */
/* Settled epochs whose records (root, totals, leaves for proofs) are kept. */
#define FAII_SETTLE_EPOCHS_KEPT  8u
#define FAII_SETTLE_EPOCH_MS_MIN 1000u /* an epoch of at least 1 s */
/* WORK_SUMMARY parts one author's slice may have (part numbers 0..8191):
 * 253 952 nodes of 31 entries; a larger part number is refused
 * (stale_summary). An appliance's whole registry fits (work_summary.c). */
#define FAII_SETTLE_SLICE_PARTS_MAX 8192u

struct faii_settle_config {
	uint32_t validators; /* n = 3f + 1, 1..FAII_SETTLE_GOV_VALIDATORS_MAX (16) */
	uint32_t nodes_max;  /* registered nodes, 1..FAII_SETTLE_NODES_MAX */
	uint64_t epoch_ms;   /* epoch e covers consortium time [e x epoch_ms, (e+1) x epoch_ms) */
	uint64_t activation_delay_ms; /* a settled root's dispute window before it is final */
	/* The genesis values of the governed parameters (governance changes
	 * them from epoch to epoch: docs/settlement.md, "Governance"). */
	struct faii_settle_params params;
	/* Governance's genesis for the parameters params does not hold (the
	 * routing ones): when gov_genesis_given, gov_genesis[id] for every id,
	 * else governance's defaults. params and the windows below win. */
	bool gov_genesis_given;
	faii_settle_gov_values gov_genesis;
	uint64_t dispute_window_ms; /* slashing's dispute window; 0: 24 h (DePX) */
	uint64_t carbon_window_s;   /* certificates expire after this; 0: 365 days */
	/* Validator v's bond: the node id an equivocation proof against v
	 * slashes (0: none registered, such proofs are refused). Its reporter
	 * rewards are credited to account v. */
	uint32_t validator_node[FAII_SETTLE_VALIDATORS_MAX];
	/* Home ranges (docs/settlement.md, "Home ranges"): when node_ranges,
	 * validator v registers only node ids in [node_first[v], node_last[v]];
	 * the ranges are disjoint and hold at most nodes_max ids in all, so no
	 * appliance can take another's node id or fill the node table. */
	bool node_ranges;
	uint32_t node_first[FAII_SETTLE_VALIDATORS_MAX];
	uint32_t node_last[FAII_SETTLE_VALIDATORS_MAX];
	/* Checks a consensus equivocation proof (the appliance passes the
	 * DAG's offline verifier); NULL: equivocation proposals are refused. */
	faii_settle_equivocation_verify_fn verify_equivocation;
	void *verify_ctx;
};

/* Where a transaction sits in the committed sequence. */
struct faii_settle_origin {
	uint64_t sequence; /* the committed vertex's sequence (faii_dag_commit) */
	uint32_t author;   /* the vertex's author: a validator, < config.validators */
	uint32_t index;    /* the transaction's position in the vertex */
};

enum faii_settle_outcome {
	FAII_SETTLE_APPLIED = 0,
	FAII_SETTLE_REFUSED_MALFORMED,       /* does not decode: header, kind, length, field */
	FAII_SETTLE_REFUSED_NOT_MEMBER,      /* the author is outside the committee */
	FAII_SETTLE_REFUSED_NODE_TABLE_FULL, /* nodes_max nodes already registered */
	FAII_SETTLE_REFUSED_NODE_REBOUND,    /* a registered node's key or operator changed */
	FAII_SETTLE_REFUSED_STALE_SUMMARY,   /* (slice, part) not after the author's last one */
	FAII_SETTLE_REFUSED_UNKNOWN_NODE,    /* a summary entry for an unregistered node */
	FAII_SETTLE_REFUSED_ROOT_UNKNOWN,    /* a root for an epoch not settled, or forgotten */
	FAII_SETTLE_REFUSED_ROOT_MISMATCH,   /* another root than this validator computed */
	FAII_SETTLE_REFUSED_ROOT_DUPLICATE,  /* the author already published this epoch's root */
	FAII_SETTLE_REFUSED_NOT_HANDLED,     /* a kind this state machine does not consume */
	FAII_SETTLE_REFUSED_BAD_SIGNATURE,   /* a node-signed kind whose signature fails */
	FAII_SETTLE_REFUSED_CARBON,     /* refused by the carbon registry (its reason counted) */
	FAII_SETTLE_REFUSED_SLASH,      /* refused by slashing (its reason counted) */
	FAII_SETTLE_REFUSED_GOVERNANCE, /* refused by governance (its reason counted) */
	FAII_SETTLE_REFUSED_NOT_HOME,   /* a node id outside the author's home range */
	FAII_SETTLE_OUTCOME_COUNT
};
const char *faii_settle_outcome_name(enum faii_settle_outcome outcome);

/* One settled epoch. */
struct faii_settle_epoch_record {
	uint64_t epoch;
	uint64_t settled_ms;   /* consortium time when it was settled */
	uint64_t sequence;     /* the committed sequence that settled it */
	int status;            /* 0, or the negative errno faii_settle_epoch() gave */
	uint32_t leaves;       /* nodes in the payout tree */
	uint32_t summaries;    /* work summary parts counted in it */
	uint64_t root_votes;   /* bit v: validator v published the same root */
	uint64_t root_against; /* bit v: validator v published another root */
	bool final;            /* the activation delay passed with 2f + 1 matching roots */
	uint8_t root[FAII_SETTLE_HASH_BYTES];
	uint64_t escrowed; /* paid into escrow for held nodes, this epoch */
	uint64_t released; /* escrow released into this epoch's amounts */
	struct faii_settle_epoch_totals totals;
};

struct faii_settle_stats {
	uint64_t applied[FAII_SETTLE_TX_KIND_END];
	uint64_t refused[FAII_SETTLE_OUTCOME_COUNT];
	uint64_t entries_refused; /* summary entries skipped (unknown node) */
	uint64_t consortium_ms;
	uint64_t current_epoch;
	uint64_t epochs_settled;
	uint64_t epochs_failed; /* faii_settle_epoch() refused the inputs */
	uint32_t nodes;
	/* Money, in base units, since genesis. Conserved: minted + slashed
	 * stake = paid + escrow + treasury + burned + reporter rewards. */
	uint64_t minted, paid, escrow, treasury, burned;
	uint64_t slashed_stake, reporter_rewards;
	uint64_t slashes_executed, slashes_dismissed;
	uint64_t carbon_retired_wh; /* certificates retired against the nodes' energy */
};

struct faii_settle_state;

/* Whether validator may register node_id: always without home ranges,
 * else when the id is in its range (docs/settlement.md, "Home ranges"). */
bool faii_settle_may_register(const struct faii_settle_state *state, uint32_t validator,
                              uint32_t node_id);

/* The memory faii_settle_state_init() needs for nodes_max nodes. */
size_t faii_settle_state_bytes(uint32_t nodes_max);
/* Checks the config (-EINVAL with *field named) and lays the state out in
 * mem (8-byte aligned, at least faii_settle_state_bytes(), else -ENOSPC). */
int faii_settle_state_init(void *mem, size_t bytes, const struct faii_settle_config *config,
                           struct faii_settle_state **state, const char **field);

/* Applies one committed transaction. */
enum faii_settle_outcome faii_settle_apply(struct faii_settle_state *state,
                                           const struct faii_settle_origin *origin,
                                           const uint8_t *tx, uint32_t len);

void faii_settle_get_stats(const struct faii_settle_state *state, struct faii_settle_stats *stats);
/* The record of a settled epoch still kept, or NULL. */
const struct faii_settle_epoch_record *
faii_settle_epoch_record(const struct faii_settle_state *state, uint64_t epoch);
/* The kept epochs' records, newest first: how many were copied (<= cap). */
uint32_t faii_settle_kept_epochs(const struct faii_settle_state *state,
                                 struct faii_settle_epoch_record *records, uint32_t cap);
/* The latest settled epoch's record, or NULL before the first. */
const struct faii_settle_epoch_record *
faii_settle_latest_epoch(const struct faii_settle_state *state);

/*
 * A node's payout leaf and proof in a kept epoch's tree: 0, -ENOENT when
 * the epoch is not kept or the node has no leaf in it.
 */
int faii_settle_payout_proof(struct faii_settle_state *state, uint64_t epoch, uint32_t node_id,
                             struct faii_settle_payout_leaf *leaf, struct faii_settle_proof *proof);

/* A registered node, as settlement knows it. */
struct faii_settle_node_view {
	uint32_t node_id, operator_id;
	uint8_t node_class;
	bool held; /* rewards go to escrow */
	uint32_t capacity_units;
	uint64_t stake;
	uint64_t cumulative; /* everything paid out to it, in base units */
	uint64_t escrow;     /* held, not yet released or forfeited */
	uint8_t public_key[FAII_SETTLE_PUBLIC_KEY];
};
int faii_settle_node(const struct faii_settle_state *state, uint32_t node_id,
                     struct faii_settle_node_view *view);

/*
 * Holds a node's rewards in escrow (a dispute is open against it) or ends
 * the hold: released escrow is paid in the next settled epoch; forfeited
 * escrow goes to the treasury. -ENOENT for an unknown node; -EBUSY to end
 * a hold while a slashing proposal against the node is open (slashing's
 * amount comes out of that escrow: it is released when the last closes).
 */
enum faii_settle_hold { FAII_SETTLE_HOLD, FAII_SETTLE_RELEASE, FAII_SETTLE_FORFEIT };
int faii_settle_node_hold(struct faii_settle_state *state, uint32_t node_id,
                          enum faii_settle_hold hold);

/* The parts, read-only, for listings (faiictl gov, slash, carbon,
 * reputation): their own headers' listing functions take these. */
const struct faii_settle_gov *faii_settle_state_gov(const struct faii_settle_state *state);
const struct faii_settle_reputation *
faii_settle_state_reputation(const struct faii_settle_state *state);
const struct faii_settle_slash *faii_settle_state_slash(const struct faii_settle_state *state);
const struct faii_settle_carbon *faii_settle_state_carbon(const struct faii_settle_state *state);
/* A validator's reporter rewards so far (base units). */
uint64_t faii_settle_reporter_rewards(const struct faii_settle_state *state, uint32_t validator);

/*
 * Calibration's observations (docs/settlement.md, "Calibration"): for each
 * of the last FAII_SETTLE_CALIB_EPOCHS_MAX settled epochs, per tier, the
 * fleet's totals in the shape faii_settle_calibrate_estimate() takes,
 * recorded when the epoch settles from what the committed sequence
 * carried: the work summaries' verified work, answered tasks, SLO hits
 * (at most answered, per node), latency sums (busy_us), the epoch's q_t of
 * (32), and the nodes' metered energy (the carbon registry's e_ij)
 * apportioned to the tiers by each node's share of busy time:
 *   E_i,t = floor(e_i x busy_i,t / sum_t busy_i,t)
 * What no tier claims (a node metered but never busy, and each node's
 * rounding remainder, < 4 Wh) is energy_unattributed_wh.
 */
#define FAII_SETTLE_CALIB_EPOCHS_MAX 64u /* settled epochs of observations kept */

struct faii_settle_calib_epoch {
	uint64_t epoch;                  /* the settled epoch */
	uint64_t energy_unattributed_wh; /* metered energy no tier's busy time claims */
	struct faii_settle_calib_tier tier[FAII_SETTLE_TIERS];
};

/* Settled epochs whose observations are kept: <= FAII_SETTLE_CALIB_EPOCHS_MAX. */
uint32_t faii_settle_state_calib_kept(const struct faii_settle_state *state);
/* The k-th newest kept epoch's observations (k = 0: the latest settled):
 * 0, or -ENOENT when k >= faii_settle_state_calib_kept(). */
int faii_settle_state_calib_epoch(const struct faii_settle_state *state, uint32_t k,
                                  struct faii_settle_calib_epoch *out);
/*
 * The sum of the last `epochs` settled epochs' observations (fewer when
 * fewer are kept: out->epochs says how many), weights left 0 for the
 * caller to set. 0; -EINVAL for epochs 0 or beyond
 * FAII_SETTLE_CALIB_EPOCHS_MAX; -ENODATA before the first settled epoch.
 */
int faii_settle_state_calib_window(const struct faii_settle_state *state, uint32_t epochs,
                                   struct faii_settle_calib_input *out);

/* BLAKE2b-256 over everything validators must agree on: nodes (in id
 * order), the kept epochs' records, calibration's observations, money
 * and the consortium's clock. */
void faii_settle_state_digest(const struct faii_settle_state *state,
                              uint8_t digest[FAII_SETTLE_HASH_BYTES]);

#endif /* FAII_SETTLE_STATE_H */
