/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The carbon registry's state (include/faii/settle_carbon.h), shared by
 * carbon.c (memory, indexes, minting), carbon_move.c (transfers,
 * retirement, pruning), carbon_list.c (listings, epoch accounting) and
 * carbon_tx.c (the transactions' bytes). All of it lives in the caller's memory.
 *
 * Tables and their indexes:
 *   readings  one record per accepted (meter, interval); chained in a hash
 *             bucket keyed by (meter, hour): an interval that divides 3600
 *             and is aligned never crosses an hour, so every reading that
 *             could overlap a new one is in the new one's bucket chain.
 *   lots      certificate holdings: serials [serial_first, serial_first +
 *             wh) of one reading's renewable Wh, one owner; the first
 *             wh_retired serials are retired. A lot with tradable Wh is
 *             "listed" on its owner's list, sorted by age (interval start,
 *             meter, serial); a fully retired lot leaves the list and stays
 *             in the table until pruned.
 *   accounts  one per owner (operator), never removed; open-addressed index.
 *   nodes     per-node accounting of the latest two epochs it was active
 *             in; never removed; open-addressed index.
 *   evidence  a FIFO ring the caller drains; retirements a log ring.
 *   expiry    a binary min-heap of the live readings (readings_max cells),
 *             keyed by (interval end, reading index): pruning pops what the
 *             horizon passed, and each popped reading's lots follow its
 *             chain (first_lot, lot.reading_next), so a prune costs what
 *             expired, never a walk of the tables.
 */
#ifndef FAII_SETTLE_CARBON_STATE_H
#define FAII_SETTLE_CARBON_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/settle_carbon.h"

#define CARBON_NONE        UINT32_MAX
#define CARBON_HOUR_S      3600u
#define CARBON_NODE_EPOCHS 2u /* the latest epoch and the one before */

struct carbon_reading {
	uint64_t meter_id;
	uint64_t interval_start_s;
	uint64_t energy_wh;
	uint64_t renewable_wh;
	uint64_t epoch;
	uint32_t interval_s;
	uint32_t node_id;
	uint32_t owner; /* account index */
	uint32_t live_lots;
	uint32_t first_lot; /* its lots' chain (through lot.reading_next) */
	uint32_t next;      /* bucket chain, or the free list */
	bool in_use;
	uint8_t location[FAII_SETTLE_METER_LOCATION];
	uint8_t digest[FAII_SETTLE_DIGEST];
};

struct carbon_lot {
	uint64_t meter_id;
	uint64_t interval_start_s;
	uint64_t serial_first;
	uint64_t wh;
	uint64_t wh_retired;
	uint32_t reading;
	uint32_t reading_next; /* the next lot of the same reading */
	uint32_t owner;        /* account index */
	uint32_t prev, next;   /* the owner's list, or (next) the free list */
	bool in_use;
	bool listed;
};

struct carbon_account {
	uint32_t operator_id;
	uint32_t listed; /* lots on its list */
	uint32_t head, tail;
	uint64_t tradable_wh, retired_wh, expired_wh, minted_wh;
	uint64_t transferred_in_wh, transferred_out_wh;
	uint64_t last_nonce; /* transfers from it carry larger ones */
};

struct carbon_node_slot {
	bool used;
	uint32_t readings;
	uint64_t epoch;
	uint64_t energy_mwh;
	uint64_t renewable_wh;
	uint64_t retired_wh;
};

struct carbon_node {
	uint32_t node_id;
	uint32_t operator_id; /* its readings' owner (a node never changes operator) */
	uint32_t account;     /* that operator's account index */
	struct carbon_node_slot slot[CARBON_NODE_EPOCHS];
};

struct faii_settle_carbon {
	struct faii_settle_carbon_limits limits;
	uint64_t now_ms;
	uint64_t epoch; /* the latest epoch seen */
	uint64_t prune_horizon_s;

	struct carbon_reading *readings;
	uint32_t *buckets; /* bucket_mask + 1 heads */
	uint32_t bucket_mask;
	uint32_t readings_free, readings_used;
	uint32_t *expiry; /* min-heap of the live readings by end: readings_max cells */
	uint32_t expiry_count;

	struct carbon_lot *lots;
	uint32_t lots_free, lots_used;

	struct carbon_account *accounts;
	uint32_t *owner_index; /* owner_mask + 1 slots: account index + 1, 0 empty */
	uint32_t owner_mask, owners_used;

	struct carbon_node *nodes;
	uint32_t *node_index; /* as owner_index */
	uint32_t node_mask, nodes_used;

	struct faii_settle_carbon_evidence *evidence;
	uint32_t evidence_head, evidence_count;
	uint64_t evidence_dropped;

	struct faii_settle_carbon_retirement *retirements;
	uint64_t retire_next_seq;
	uint64_t retirements_overwritten;

	uint64_t minted_wh, retired_wh, expired_wh, energy_mwh;
	uint64_t refused[FAII_SETTLE_CARBON_REASON_END];
};

/* Index lookups shared by the files: CARBON_NONE when absent. */
uint32_t carbon_account_find(const struct faii_settle_carbon *state, uint32_t operator_id);
/* A new, empty account (absent, and the table not full). */
uint32_t carbon_account_create(struct faii_settle_carbon *state, uint32_t operator_id);
/* The hash bucket of a (meter, hour). */
uint32_t carbon_reading_bucket(const struct faii_settle_carbon *state, uint64_t meter_id,
                               uint64_t interval_start_s);
uint32_t carbon_node_find(const struct faii_settle_carbon *state, uint32_t node_id);
/* The index cell a node's probe starts at (for prefetching only). */
const uint32_t *carbon_node_home(const struct faii_settle_carbon *state, uint32_t node_id);
/* The node's slot for `epoch`, or NULL. */
const struct carbon_node_slot *carbon_node_slot_find(const struct carbon_node *node,
                                                     uint64_t epoch);
/* The node's slot for `epoch`, replacing the oldest when it has none. */
struct carbon_node_slot *carbon_node_slot_for(struct carbon_node *node, uint64_t epoch);
/* An epoch whose figures are still kept: the latest or the one before. */
bool carbon_epoch_kept(const struct faii_settle_carbon *state, uint64_t epoch);
/* The decoder's range checks (carbon_tx.c), again on apply. */
int carbon_meter_check(const struct faii_settle_meter_reading *reading,
                       enum faii_settle_carbon_reason *why);
/* The same checks; without `located`, not the location (an ESG
 * attestation has none: settle_attest.h). */
int carbon_reading_check(const struct faii_settle_meter_reading *reading, bool located,
                         enum faii_settle_carbon_reason *why);
/* Records a refusal and returns it. */
enum faii_settle_carbon_reason carbon_refuse(struct faii_settle_carbon *state,
                                             enum faii_settle_carbon_reason reason);
/* Moves consortium time and the epoch forward (both never decrease). */
void carbon_advance(struct faii_settle_carbon *state, uint64_t now_ms, uint64_t epoch);
/* The owner's list, sorted by age (interval start, meter, serial). Insert
 * puts the lot after the last one not younger: searching back from the
 * tail (a new mint is usually the youngest), or forward from `hint`, a
 * listed lot not younger than it (CARBON_NONE: from the head). */
void carbon_list_unlink(struct faii_settle_carbon *state, uint32_t lot);
void carbon_list_insert_from_tail(struct faii_settle_carbon *state, uint32_t account, uint32_t lot);
void carbon_list_insert_forward(struct faii_settle_carbon *state, uint32_t account, uint32_t lot,
                                uint32_t hint);
/* A free lot slot taken from the free list (one must be free). */
uint32_t carbon_lot_take(struct faii_settle_carbon *state);
/* A live reading into the expiry heap, and the one ending first out of it (CARBON_NONE when none
 * ends at or before horizon_s). */
void carbon_expiry_push(struct faii_settle_carbon *state, uint32_t reading);
uint32_t carbon_expiry_pop(struct faii_settle_carbon *state, uint64_t horizon_s);
/* A node's figures for one epoch from its slot (NULL: zeros). */
void carbon_node_epoch_fill(const struct carbon_node *node, const struct carbon_node_slot *slot,
                            uint64_t epoch, struct faii_settle_carbon_node_epoch *out);

#endif /* FAII_SETTLE_CARBON_STATE_H */
