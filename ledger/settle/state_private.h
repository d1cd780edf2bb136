/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state machine's private layout (include/faii/settle_state.h), shared
 * by state.c (nodes, work, the clock, epochs, roots) and state_modules.c
 * (carbon, slashing, reputation and governance transactions).
 */
#ifndef FAII_SETTLE_STATE_PRIVATE_H
#define FAII_SETTLE_STATE_PRIVATE_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "faii/settle.h"
#include "faii/settle_attest.h"
#include "faii/settle_carbon.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"

#define NO_SLOT 0u /* an empty index cell; cells hold slot + 1 */

struct node_slot {
	uint32_t node_id, operator_id, capacity_units;
	uint8_t node_class, held;
	uint64_t stake, cumulative, escrow, release_pending;
	uint8_t public_key[FAII_SETTLE_PUBLIC_KEY];
	/* This epoch's measurements, summed over every appliance's summaries. */
	uint64_t heartbeats_expected, heartbeats_seen, disagreements;
	uint64_t dispatched[FAII_SETTLE_TIERS], verified[FAII_SETTLE_TIERS];
	uint64_t slo_hits[FAII_SETTLE_TIERS];
	/* For calibration only (state_calib.c): answered tasks, latency sums. */
	uint64_t answered[FAII_SETTLE_TIERS], busy_us[FAII_SETTLE_TIERS];
};

/*
 * The work summary parts one validator has had applied, over its latest
 * SETTLE_LATE_SLICES slices: a part may come late (its vertex orphaned and
 * proposed again, docs/consensus.md) but never twice.
 */
#define SETTLE_LATE_SLICES 64u /* slices behind the author's latest still taken */
#define SETTLE_SLICE_PARTS FAII_SETTLE_SLICE_PARTS_MAX /* parts one slice may have */
struct author_slices {
	bool any;
	uint64_t max_slice;
	uint64_t slice_of[SETTLE_LATE_SLICES]; /* row r holds slice_of[r] */
	uint8_t parts[SETTLE_LATE_SLICES][SETTLE_SLICE_PARTS / 8];
};

struct kept_epoch {
	struct faii_settle_epoch_record record;
	uint8_t (*leaves)[FAII_SETTLE_LEAF_BYTES]; /* nodes_max, sorted by node id */
};

/* Calibration's observations of the latest settled epochs (state_calib.c). */
struct settle_calib_ring {
	uint64_t recorded; /* epochs ever recorded: the next goes to recorded % max */
	struct faii_settle_calib_epoch epoch[FAII_SETTLE_CALIB_EPOCHS_MAX];
};

struct faii_settle_state {
	struct faii_settle_config config;
	uint32_t quorum;     /* 2f + 1 */
	uint32_t index_mask; /* index cells - 1 */
	uint32_t nodes;      /* slots in use, in registration order */
	bool clock_started;  /* f + 1 validators have reported a time */
	uint64_t author_ms[FAII_SETTLE_VALIDATORS_MAX];
	struct author_slices *slices; /* per validator: the parts applied, recent slices */
	/* This epoch's queue reports q_t, per appliance: the epoch takes the
	 * median of the appliances' means, so one appliance's many slices do
	 * not outvote the others. */
	uint64_t queue_sum[FAII_SETTLE_VALIDATORS_MAX][FAII_SETTLE_TIERS];
	uint64_t queue_reports[FAII_SETTLE_VALIDATORS_MAX][FAII_SETTLE_TIERS];
	uint32_t summaries; /* in the current epoch */
	struct faii_settle_stats stats;
	struct kept_epoch kept[FAII_SETTLE_EPOCHS_KEPT];
	struct settle_calib_ring calib;
	/* The parts, each in its own region of the caller's memory. */
	struct faii_settle_gov *gov;
	struct faii_settle_reputation *reputation;
	struct faii_settle_slash *slash;
	struct faii_settle_carbon *carbon;
	uint64_t reporter_rewards[FAII_SETTLE_VALIDATORS_MAX]; /* by validator (account) */
	uint64_t attest_counts[FAII_SETTLE_ATTEST_REASON_END]; /* kind 3, by reason (state_attest.c)
	                                                        */
	/* Arrays, laid out after the state in the caller's memory. */
	struct node_slot *slots;
	uint32_t *index;
	uint32_t *order, *order_scratch;
	uint32_t order_nodes; /* the nodes `order` sorts: equal to `nodes`, it is current */
	struct faii_settle_node_input *inputs;
	struct faii_settle_node_result *results;
	uint8_t (*hashes)[FAII_SETTLE_HASH_BYTES]; /* nodes_max leaf hashes */
	/* One epoch's whole payout tree, every level (faii_settle_merkle_tree_
	 * hashes(nodes_max) hashes, about 2 nodes_max): the latest settled epoch's, or the kept
	 * epoch the latest proof was asked of, so that a proof reads log2(n) levels. */
	uint8_t (*tree)[FAII_SETTLE_HASH_BYTES];
	bool tree_held; /* tree holds tree_epoch's levels */
	uint64_t tree_epoch;
};

struct node_slot *settle_node_find(const struct faii_settle_state *s, uint32_t node_id);

/* The parts' memory for nodes_max nodes, and their set-up (state_modules.c). */
struct settle_module_layout {
	size_t gov, reputation, slash, carbon, end; /* offsets from the start, and the end */
};
void settle_modules_layout(uint32_t nodes_max, size_t start, struct settle_module_layout *out);
int settle_modules_init(struct faii_settle_state *s, uint8_t *base,
                        const struct settle_module_layout *layout, const char **field);

/* The kinds the parts consume (state_modules.c). */
enum faii_settle_outcome settle_apply_module(struct faii_settle_state *s,
                                             const struct faii_settle_origin *origin,
                                             enum faii_settle_tx_kind kind, const uint8_t *tx,
                                             uint32_t len);
/* ESG_ATTESTATION (kind 3, state_attest.c): decoded, verified under the
 * node's registered key, minted as a reading. */
enum faii_settle_outcome settle_apply_attestation(struct faii_settle_state *s, const uint8_t *tx,
                                                  uint32_t len);
/* A work summary entry's observation for reputation (and downtime). */
void settle_observe_entry(struct faii_settle_state *s, const struct node_slot *slot,
                          const struct faii_settle_work_entry *entry);
/* A registration changed a node's stake. */
void settle_stake_changed(struct faii_settle_state *s, const struct node_slot *slot);
/* The clock moved: slashes due, reputation decay. */
void settle_clock_moved(struct faii_settle_state *s);
/* At an epoch's settlement: carbon retired against each node's energy
 * (fills energy, retired and renewable share of the inputs), and the
 * governance parameters in force. */
void settle_epoch_carbon(struct faii_settle_state *s, uint64_t epoch);
void settle_epoch_params(const struct faii_settle_state *s, uint64_t epoch,
                         struct faii_settle_params *params);
/* After the epoch: governance's tick, carbon pruning. */
void settle_epoch_done(struct faii_settle_state *s, uint64_t next_epoch);
/* Whether a node's rewards are held (slashing's escrow or an operator hold). */
bool settle_node_held(const struct faii_settle_state *s, const struct node_slot *slot);
void settle_escrow_record(struct faii_settle_state *s, const struct node_slot *slot,
                          uint64_t amount);

/* At an epoch's settlement, after the carbon figures (inputs' energy_wh)
 * and before the measurements are reset: records the epoch's calibration
 * observations, q_t from params (state_calib.c). */
void settle_calib_record(struct faii_settle_state *s, const struct faii_settle_params *params);
/* The observations kept, into the state's digest. */
void settle_calib_hash(crypto_generichash_state *h, const struct faii_settle_state *s);

#endif /* FAII_SETTLE_STATE_PRIVATE_H */
