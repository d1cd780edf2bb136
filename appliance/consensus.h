/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiid's consortium validator (docs/consensus.md, "Operating"): started
 * when appliance.validators is configured, after the ledger store opened
 * and after the EAL, so that its thread inherits the control thread's CPU
 * set and never runs on a worker lcore; stopped before the store closes.
 * The validator thread (include/faii/validator.h) writes its journal into
 * the appliance's ledger store.
 *
 * The consumer of committed vertices runs on the validator thread. Until
 * settlement consumes them (issue #14) it measures, for this validator's
 * own vertices, the time from proposal to commit output.
 *
 * Threads: start and stop on the main thread; faii_consensus_snapshot()
 * and faii_consensus_submit() from the control thread.
 */
#ifndef FAII_APPLIANCE_CONSENSUS_H
#define FAII_APPLIANCE_CONSENSUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "faii/config.h"
#include "faii/ledger_store.h"
#include "faii/validator.h"

/* What the control commands and the metrics read, copied out at once. */
struct faii_consensus_snapshot {
	struct faii_validator_status status;
	uint32_t member_ids[FAII_CFG_VALIDATORS_MAX]; /* validator index -> configured id */
	/* Own vertices, proposal to commit output, in the dataplane's log
	 * buckets of microseconds (faii_hist_bucket). */
	uint64_t commit_latency_hist[FAII_HIST_BUCKETS];
	uint64_t commit_latency_sum_us;
	uint64_t submitted;      /* dag.submit accepted */
	uint64_t submit_refused; /* dag.submit refused: too large, queue full */
};

struct faii_settlement; /* settlement.h */

struct faii_consensus {
	struct faii_validator *validator; /* NULL: no validator configured */
	struct faii_ls *store;
	uint32_t validator_count;
	uint64_t epoch;
	uint32_t member_ids[FAII_CFG_VALIDATORS_MAX];
	uint8_t public_keys[FAII_CFG_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
	const struct faii_clock *clock;
	struct faii_settlement *settlement; /* the consumer of the committed sequence, or NULL */

	pthread_mutex_t lock; /* the fields below: validator thread and control thread */
	uint64_t commit_latency_hist[FAII_HIST_BUCKETS];
	uint64_t commit_latency_sum_us;
	uint64_t submitted;
	uint64_t submit_refused;
};

/*
 * Starts the validator over store when appliance.validators is configured
 * (else leaves consensus->validator NULL and returns 0). 0, or a negative
 * errno with a sentence in err: faiid does not start without the validator
 * it was configured to run.
 */
int faii_consensus_start(struct faii_consensus *consensus,
                         const struct faii_appliance_cfg *appliance, struct faii_ls *store,
                         struct faii_settlement *settlement, char *err, size_t err_bytes);
/* Stops the thread (its last journal records made durable); the store stays open. */
void faii_consensus_stop(struct faii_consensus *consensus);

bool faii_consensus_running(const struct faii_consensus *consensus);
void faii_consensus_snapshot(struct faii_consensus *consensus,
                             struct faii_consensus_snapshot *snapshot);
/* Queues an operator transaction (0, -EMSGSIZE, -ENOBUFS), counted. */
int faii_consensus_submit(struct faii_consensus *consensus, const uint8_t *tx, uint32_t len);

#endif /* FAII_APPLIANCE_CONSENSUS_H */
