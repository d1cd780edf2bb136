/* SPDX-License-Identifier: BSD-3-Clause */
/* faiid's consortium validator: see consensus.h. */
#include "consensus.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"
#include "settlement.h"
#include "validator_cfg.h"

/* On the validator thread, for every committed vertex once. */
static void on_commit(void *ctx, const struct faii_dag_commit *commit)
{
	struct faii_consensus *consensus = ctx;
	faii_settlement_on_commit(consensus->settlement, commit);
	if (commit->proposed_ns == 0)
		return; /* another author's, or proposed before this start */
	uint64_t now = faii_clock_monotonic_ns(consensus->clock);
	uint64_t us = now > commit->proposed_ns ? (now - commit->proposed_ns) / 1000 : 0;
	pthread_mutex_lock(&consensus->lock);
	consensus->commit_latency_hist[faii_hist_bucket(us)]++;
	consensus->commit_latency_sum_us += us;
	pthread_mutex_unlock(&consensus->lock);
}

/* On the validator thread: settlement's own transactions. */
static int consensus_submit(void *ctx, const uint8_t *tx, uint32_t len)
{
	return faii_consensus_submit(ctx, tx, len);
}

int faii_consensus_start(struct faii_consensus *consensus,
                         const struct faii_appliance_cfg *appliance, struct faii_ls *store,
                         struct faii_settlement *settlement, char *err, size_t err_bytes)
{
	FAII_ASSERT(consensus != NULL && appliance != NULL && store != NULL);
	memset(consensus, 0, sizeof(*consensus));
	pthread_mutex_init(&consensus->lock, NULL);
	if (appliance->validator_count == 0)
		return 0;
	static struct faii_validator_options options; /* large; main thread only */
	int rc = faii_validator_cfg_options(appliance, &options, err, err_bytes);
	if (rc != 0)
		return rc;
	uint32_t order[FAII_CFG_VALIDATORS_MAX];
	faii_validator_cfg_order(appliance, order);
	consensus->validator_count = appliance->validator_count;
	consensus->epoch = appliance->validator_epoch;
	for (uint32_t i = 0; i < consensus->validator_count; i++) {
		consensus->member_ids[i] = appliance->validators[order[i]].id;
		memcpy(consensus->public_keys[i], options.dag.public_keys[i],
		       FAII_DAG_PUBLIC_KEY_BYTES);
	}
	consensus->store = store;
	consensus->settlement = settlement;
	if (settlement != NULL)
		faii_settlement_set_submit(settlement, consensus_submit, consensus);
	/* consumer_applied stays 0: settlement rebuilds its state from the whole
	 * committed sequence at every start (settlement.h). */
	consensus->clock = &faii_clock_system;
	options.store = store;
	options.clock = consensus->clock;
	options.consumer = (struct faii_dag_consumer){.on_commit = on_commit, .ctx = consensus};
	rc = faii_validator_start(&options, &consensus->validator, err, err_bytes);
	sodium_memzero(&options, sizeof(options));
	return rc;
}

void faii_consensus_stop(struct faii_consensus *consensus)
{
	if (consensus->validator == NULL)
		return;
	faii_validator_stop(consensus->validator);
	consensus->validator = NULL;
}

bool faii_consensus_running(const struct faii_consensus *consensus)
{
	return consensus != NULL && consensus->validator != NULL;
}

void faii_consensus_snapshot(struct faii_consensus *consensus,
                             struct faii_consensus_snapshot *snapshot)
{
	FAII_ASSERT(faii_consensus_running(consensus));
	faii_validator_status(consensus->validator, &snapshot->status);
	memcpy(snapshot->member_ids, consensus->member_ids, sizeof(snapshot->member_ids));
	pthread_mutex_lock(&consensus->lock);
	memcpy(snapshot->commit_latency_hist, consensus->commit_latency_hist,
	       sizeof(snapshot->commit_latency_hist));
	snapshot->commit_latency_sum_us = consensus->commit_latency_sum_us;
	snapshot->submitted = consensus->submitted;
	snapshot->submit_refused = consensus->submit_refused;
	pthread_mutex_unlock(&consensus->lock);
}

int faii_consensus_submit(struct faii_consensus *consensus, const uint8_t *tx, uint32_t len)
{
	FAII_ASSERT(faii_consensus_running(consensus));
	int rc = faii_validator_submit(consensus->validator, tx, len);
	pthread_mutex_lock(&consensus->lock);
	if (rc == 0)
		consensus->submitted++;
	else
		consensus->submit_refused++;
	pthread_mutex_unlock(&consensus->lock);
	return rc;
}
