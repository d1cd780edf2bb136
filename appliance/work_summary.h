/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Work summaries from routing receipts (docs/settlement.md, "Work summaries
 * and receipts"), on the control thread. The workers write one receipt per
 * finished task on their receipt rings; appliance.c drains them every
 * control tick into the open slice here, which:
 *
 *  - keeps each receipt as its 128-byte Merkle leaf (faii/settle_receipt.h)
 *    in a ring of receipts_kept leaves shared by the last slices, so that
 *    receipt.proof can prove any task of a closed slice still in it;
 *  - folds each leaf hash into the slice's root as it arrives (O(log n));
 *  - adds the receipt to its nodes' per-tier sums: dispatched (every copy),
 *    answered, verified work (1 unit per copy that agreed with the majority
 *    within the budget, the dataplane's own unit; settlement weighs tiers
 *    with theta_t), SLO hits, latency sum (each answered copy's round trip),
 *    disagreements (ok copies outvoted).
 *
 * At the slice's end (slice k covers [k, k + 1) x slice_ms of the
 * appliance's Unix clock) it adds each node's heartbeats, sorts the
 * entries by node id, encodes the WORK_SUMMARY transactions (parts of at
 * most FAII_SETTLE_WORK_ENTRIES_MAX entries) into a bounded queue and hands
 * them to the sink (the validator, or the local ledger) in order; a busy
 * sink keeps them queued for the next tick.
 *
 * No DPDK here: the unit test drives it with receipts it makes. Not thread
 * safe: the control thread only. Bounds: FAII_WORK_SLICES_KEPT slices,
 * receipts_kept leaves, faii_work_pending_parts(node_slots) queued
 * transactions (FAII_WORK_PENDING_SLICES slices of every slot's entries),
 * node_slots accumulators. Error convention: 0 or a negative errno.
 */
#ifndef FAII_WORK_SUMMARY_H
#define FAII_WORK_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle_receipt.h"
#include "faii/settle_tx.h"

#define FAII_WORK_SLICES_KEPT 4096u /* closed slices remembered (their leaves may be gone) */
/* The pending queue holds this many whole slices of every node slot's
 * parts: the slice just closed and two more the sink has not taken (a
 * 100 000-slot registry: 3 x 3 226 parts, 9 678 x 4 KiB, about 40 MB
 * reserved, touched only as a backlog fills). */
#define FAII_WORK_PENDING_SLICES    3u
#define FAII_WORK_PENDING_PARTS_MIN 64u /* encoded transactions, small fleets */

/* Parts one slice makes for node_slots nodes, and the pending queue's
 * bound in parts: FAII_WORK_PENDING_SLICES slices, at least the minimum. */
uint32_t faii_work_slice_parts(uint32_t node_slots);
uint32_t faii_work_pending_parts(uint32_t node_slots);

struct faii_work_options {
	uint32_t slice_ms;            /* FAII_CFG_SLICE_MS_MIN..MAX */
	uint32_t heartbeat_period_ms; /* heartbeats expected: slice length / period */
	uint32_t receipts_kept;       /* leaves kept, FAII_CFG_RECEIPTS_KEPT_MIN..MAX */
	uint32_t node_slots;          /* accumulators: the registry's capacity */
};

/* Where a slice's transactions go: 0 taken, -ENOBUFS busy (kept, tried
 * again next tick), any other negative errno failed (dropped, counted). */
typedef int (*faii_work_sink_fn)(void *ctx, const uint8_t *tx, uint32_t len);

struct faii_work_slice {
	uint64_t slice;    /* start_ms / slice_ms */
	uint64_t start_ms; /* of the slice, or the first observation in it */
	uint64_t end_ms;
	uint64_t first; /* ring index (since start) of its first receipt */
	uint32_t count; /* receipts */
	uint16_t parts;
	uint8_t root[FAII_SETTLE_HASH_BYTES];
};

/* Counted by name (metrics, receipt.proof's status). */
struct faii_work_counters {
	uint64_t receipts;             /* taken into a slice */
	uint64_t receipts_invalid;     /* broke the leaf rules: not kept (a dataplane bug) */
	uint64_t receipts_slice_full;  /* the open slice already held receipts_kept */
	uint64_t receipts_bad_slot;    /* a node slot beyond node_slots, or reused in the slice */
	uint64_t slices;               /* closed */
	uint64_t summaries;            /* WORK_SUMMARY transactions (parts) made */
	uint64_t summaries_sent;       /* taken by the sink */
	uint64_t summaries_busy;       /* the sink was full: kept, tried again later */
	uint64_t summaries_failed;     /* the sink refused: dropped */
	uint64_t summaries_queue_full; /* no room in the pending queue: dropped, counted */
	uint64_t summaries_pending;    /* waiting now */
	uint64_t proofs;               /* answered */
};

/* What the builder needs of a node at a slice's end, per slot. */
struct faii_work_node {
	uint32_t node_id;    /* 0: no node in the slot (never used, or removed) */
	uint64_t heartbeats; /* accepted since start (registry) */
};

struct faii_work_summary {
	struct faii_work_options opt;
	uint32_t queue_ppb[FAII_SETTLE_TX_TIERS];     /* the caller's q_t for the next summary */
	uint8_t (*leaves)[FAII_SETTLE_RECEIPT_BYTES]; /* ring of receipts_kept */
	uint64_t next;                                /* ring index of the next receipt */
	uint8_t (*scratch)[FAII_SETTLE_HASH_BYTES];   /* receipts_kept hashes, for proofs */
	struct faii_work_slice closed[FAII_WORK_SLICES_KEPT]; /* ring by slice count */
	uint64_t closed_count;
	bool open_started;
	struct faii_work_slice open;
	struct faii_settle_receipt_acc acc;
	struct faii_settle_work_entry *entries; /* node_slots, the open slice's sums */
	uint8_t *touched;                       /* node_slots: an entry holds a node */
	uint64_t *beats_at_start;               /* node_slots */
	struct faii_settle_work_entry *sorted;  /* node_slots, at close */
	uint8_t (*pending)[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t *pending_len;
	uint32_t pending_max; /* faii_work_pending_parts(node_slots) */
	uint32_t pending_head, pending_count;
	struct faii_work_counters counters;
};

int faii_work_init(struct faii_work_summary *ws, const struct faii_work_options *opt);
void faii_work_fini(struct faii_work_summary *ws);

/*
 * Starts the first slice at now_ms with each slot's heartbeat count then
 * (nodes[0..node_slots - 1]); later slices start where the previous ended.
 */
void faii_work_start(struct faii_work_summary *ws, uint64_t now_ms,
                     const struct faii_work_node *nodes);
/* One receipt into the open slice; slots[j]: copy j's node slot. */
void faii_work_add(struct faii_work_summary *ws, const struct faii_settle_receipt *receipt,
                   const uint32_t *slots);
/* True when the open slice ends at or before now_ms. */
bool faii_work_slice_due(const struct faii_work_summary *ws, uint64_t now_ms);
/*
 * Closes the open slice: root, heartbeats (nodes[] as for start), the
 * transactions queued, and the slice now_ms falls in opened (slices
 * skipped by a stalled or stepped clock get no summary). Returns the
 * parts made.
 */
uint32_t faii_work_close(struct faii_work_summary *ws, const struct faii_work_node *nodes,
                         uint64_t now_ms);
/* Hands queued transactions to the sink in order until it is busy. */
void faii_work_flush(struct faii_work_summary *ws, faii_work_sink_fn sink, void *ctx);

/* A proof of one receipt: the newest kept receipt of task_id. */
struct faii_work_proof {
	struct faii_work_slice slice;
	uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
	struct faii_settle_proof proof;
	uint64_t matches; /* receipts of that task id kept (ids are the clients') */
};
/* 0, or -ENOENT: not kept (gone, or never seen); *in_open tells whether
 * the open slice, which has no root yet, holds it. The newest first. */
int faii_work_prove(struct faii_work_summary *ws, uint64_t task_id, struct faii_work_proof *out,
                    bool *in_open);

#endif /* FAII_WORK_SUMMARY_H */
