/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiid's settlement (docs/settlement.md, "In faiid"): the state machine of
 * include/faii/settle_state.h fed by the validator's committed sequence.
 *
 * Threads: faii_settlement_on_commit() runs on the validator thread (the
 * consensus consumer); the control thread reads through the
 * faii_settlement_* accessors. One mutex guards the state: it is held for
 * one committed vertex at a time, never on the dataplane.
 *
 * Restart: the validator hands every committed vertex again from the first
 * (consumer_applied 0), so the state is rebuilt from the journal; it keeps
 * nothing of its own on disk.
 */
#ifndef FAII_APPLIANCE_SETTLEMENT_H
#define FAII_APPLIANCE_SETTLEMENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/config.h"
#include "faii/dag.h"
#include "faii/settle_state.h"

/* Where this validator's own settlement transactions (payout roots) go:
 * 0, or a negative errno when the queue is full (tried again later). */
typedef int (*faii_settlement_submit_fn)(void *ctx, const uint8_t *tx, uint32_t len);

struct faii_settlement {
	pthread_mutex_t lock;
	void *memory;
	struct faii_settle_state *state;  /* NULL: settlement is off (no validator) */
	faii_settlement_submit_fn submit; /* where our payout roots go; NULL: nowhere */
	void *submit_ctx;
	uint32_t self;             /* this validator's index */
	bool live;                 /* the replay is over: our own vertices commit */
	uint64_t applied_sequence; /* the last committed vertex applied */
	uint64_t roots_submitted, roots_refused;
	uint64_t root_epoch_submitted; /* + 1; 0: none in this life */
	/* The committee's keys, for equivocation proofs offered to slashing. */
	uint32_t validators;
	uint8_t public_keys[FAII_CFG_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
};

/* Converts `policy` and `settlement` of a configuration into settlement's
 * integer configuration (docs/settlement.md, "In faiid"). */
void faii_settlement_config(const struct faii_config *cfg, uint32_t validators,
                            struct faii_settle_config *out);

/* Allocates and initialises the state: 0, or -1 with err. */
int faii_settlement_open(struct faii_settlement *settlement, const struct faii_config *cfg,
                         uint32_t validators, uint32_t self, char *err, size_t err_bytes);
void faii_settlement_close(struct faii_settlement *settlement);
/* Where roots go, set under the lock (the validator thread may be applying). */
void faii_settlement_set_submit(struct faii_settlement *settlement,
                                faii_settlement_submit_fn submit, void *ctx);
bool faii_settlement_running(const struct faii_settlement *settlement);

/* The validator thread: one committed vertex. */
void faii_settlement_on_commit(struct faii_settlement *settlement,
                               const struct faii_dag_commit *commit);

/* The control thread: copies under the lock. */
void faii_settlement_stats(struct faii_settlement *settlement, struct faii_settle_stats *stats,
                           uint64_t *applied_sequence);
/* The record of `epoch` (UINT64_MAX: the latest): 0 or -ENOENT. */
int faii_settlement_epoch(struct faii_settlement *settlement, uint64_t epoch,
                          struct faii_settle_epoch_record *record);
/* The kept epochs, newest first (faii_settle_kept_epochs). */
uint32_t faii_settlement_kept(struct faii_settlement *settlement,
                              struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT]);
/* Runs read(ctx, state) under the lock: listings of the parts (governance,
 * slashing, carbon, reputation) through their own headers' functions. */
void faii_settlement_read(struct faii_settlement *settlement,
                          void (*read)(void *ctx, const struct faii_settle_state *state),
                          void *ctx);
int faii_settlement_proof(struct faii_settlement *settlement, uint64_t epoch, uint32_t node_id,
                          struct faii_settle_payout_leaf *leaf, struct faii_settle_proof *proof,
                          struct faii_settle_epoch_record *record);

#endif /* FAII_APPLIANCE_SETTLEMENT_H */
