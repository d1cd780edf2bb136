/* SPDX-License-Identifier: BSD-3-Clause */
/* faiid's settlement: see settlement.h. */
#include "settlement.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle_tx.h"
#include "validator_cfg.h"

static uint64_t to_ppb(double value)
{
	return (uint64_t)llround(value * (double)FAII_SETTLE_PPB_ONE);
}

/* A policy parameter in governance's unit, where governance has it by that
 * name (docs/settlement.md, "Governance"): ppb, tokens to units, tokens per
 * kWh to units per Wh, counts as they are. */
static void genesis_of_policy(const struct faii_policy_param *param, void *ctx)
{
	uint64_t *values = ctx;
	uint32_t id = faii_settle_gov_param_by_name(param->name);
	const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
	if (info == NULL)
		return;
	double value = param->value;
	if (info->kind != FAII_GOV_KIND_COUNT)
		value *= strcmp(info->unit, "units/Wh") == 0 ? 1e6 : 1e9;
	if (value < (double)info->min || value > (double)info->max)
		return; /* governance's range is narrower: its default stands */
	values[id] = (uint64_t)llround(value);
}

void faii_settlement_config(const struct faii_config *cfg, uint32_t validators,
                            struct faii_settle_config *out)
{
	const struct faii_policy *policy = &cfg->policy;
	const struct faii_settlement_cfg *s = &cfg->appliance.settlement;
	memset(out, 0, sizeof(*out));
	out->validators = validators;
	out->nodes_max = s->nodes_max;
	out->epoch_ms = (uint64_t)s->epoch_s * 1000u;
	out->activation_delay_ms = (uint64_t)s->activation_delay_s * 1000u;
	out->dispute_window_ms = (uint64_t)s->dispute_window_s * 1000u;
	struct faii_settle_params *p = &out->params;
	/* Tokens become base units (10^9 a token); rates become ppb. */
	p->availability_rate = to_ppb(policy->availability_rate);
	p->work_rate = to_ppb(policy->token_rate);
	long alpha = lround(policy->slo_alpha); /* settlement's exponent is an integer */
	alpha = alpha < 1 ? 1 : alpha > (long)FAII_SETTLE_ALPHA_MAX ? FAII_SETTLE_ALPHA_MAX : alpha;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		p->theta0_ppb[t] = to_ppb(policy->tier[t].factor);
		p->gamma_ppb[t] = to_ppb(policy->tier[t].congestion_gamma);
		p->slo_target_ppb[t] = to_ppb(policy->tier[t].slo_target);
		p->slo_alpha[t] = (uint32_t)alpha;
		p->slo_max_ppb[t] = to_ppb(policy->slo_multiplier_max);
	}
	p->esg_xi_ppb = to_ppb(policy->esg_slope);
	p->esg_baseline_ppb = to_ppb(policy->renewable_baseline);
	p->esg_max_ppb = to_ppb(policy->esg_multiplier_max);
	p->diversity_eta_ppb = to_ppb(policy->concentration_eta);
	p->class_share_max_ppb = to_ppb(policy->class_share_max);
	p->energy_price = to_ppb(policy->energy_price) / 1000u; /* tokens/kWh -> units/Wh */
	p->penalty_price = to_ppb(s->penalty_tokens);
	for (uint32_t c = 0; c < FAII_SETTLE_CLASSES; c++)
		p->payout_cap[c] = to_ppb(s->payout_cap_tokens[c]);
	/* Governance starts from this appliance's routing policy too. */
	faii_settle_gov_defaults(out->gov_genesis, 1);
	faii_policy_foreach(policy, genesis_of_policy, out->gov_genesis);
	out->gov_genesis_given = true;
}

/* Slashing's check of a consensus equivocation proof: the DAG's own
 * offline verifier against the committee's keys (pure, deterministic). */
static int verify_equivocation(void *ctx, const uint8_t *proof, uint32_t len, uint32_t *author,
                               uint64_t *epoch, uint64_t *round)
{
	const struct faii_settlement *settlement = ctx;
	return faii_dag_evidence_verify(
	        proof, len, settlement->validators,
	        (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])settlement->public_keys, epoch, round,
	        author);
}

int faii_settlement_open(struct faii_settlement *settlement, const struct faii_config *cfg,
                         uint32_t validators, uint32_t self, char *err, size_t err_bytes)
{
	memset(settlement, 0, sizeof(*settlement));
	pthread_mutex_init(&settlement->lock, NULL);
	struct faii_settle_config config;
	faii_settlement_config(cfg, validators, &config);
	/* Members in id order are validators 0..n-1 (validator_cfg.h). */
	uint32_t order[FAII_CFG_VALIDATORS_MAX];
	faii_validator_cfg_order(&cfg->appliance, order);
	settlement->validators = validators;
	/* Only the configured members: order[] holds no more (a key left zero
	 * verifies no proof). */
	for (uint32_t v = 0; v < validators && v < cfg->appliance.validator_count; v++) {
		const struct faii_cfg_validator *member = &cfg->appliance.validators[order[v]];
		memcpy(settlement->public_keys[v], member->public_key, FAII_DAG_PUBLIC_KEY_BYTES);
		/* The loader gives every member a home range or none. */
		config.node_ranges = member->node_id_first != 0;
		config.node_first[v] = member->node_id_first;
		config.node_last[v] = member->node_id_last;
	}
	config.verify_equivocation = verify_equivocation;
	config.verify_ctx = settlement;
	size_t bytes = faii_settle_state_bytes(config.nodes_max);
	settlement->memory = bytes ? aligned_alloc(8, (bytes + 7) & ~(size_t)7) : NULL;
	if (settlement->memory == NULL) {
		snprintf(err, err_bytes, "settlement: cannot allocate %zu bytes for %u nodes",
		         bytes, config.nodes_max);
		return -1;
	}
	const char *field = NULL;
	int rc = faii_settle_state_init(settlement->memory, bytes, &config, &settlement->state,
	                                &field);
	if (rc != 0) {
		snprintf(err, err_bytes, "settlement: the parameters are refused (%s)",
		         field ? field : "memory");
		faii_settlement_close(settlement);
		return -1;
	}
	settlement->self = self;
	return 0;
}

void faii_settlement_close(struct faii_settlement *settlement)
{
	free(settlement->memory);
	settlement->memory = NULL;
	settlement->state = NULL;
}

void faii_settlement_set_submit(struct faii_settlement *settlement,
                                faii_settlement_submit_fn submit, void *ctx)
{
	pthread_mutex_lock(&settlement->lock);
	settlement->submit = submit;
	settlement->submit_ctx = ctx;
	pthread_mutex_unlock(&settlement->lock);
}

bool faii_settlement_running(const struct faii_settlement *settlement)
{
	return settlement != NULL && settlement->state != NULL;
}

/*
 * Publishes the latest settled epoch's root once, when live: during the
 * replay of a restart the roots of old epochs were published in an earlier
 * life (the replayed sequence shows them).
 */
static void publish_root(struct faii_settlement *settlement)
{
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(settlement->state);
	if (!settlement->live || record == NULL || record->status != 0 ||
	    settlement->root_epoch_submitted == record->epoch + 1 || settlement->submit == NULL)
		return;
	uint64_t own = 1ull << settlement->self;
	if ((record->root_votes | record->root_against) & own)
		return;
	struct faii_settle_tx_root root = {.epoch = record->epoch, .leaves = record->leaves};
	memcpy(root.root, record->root, sizeof(root.root));
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_PAYOUT_ROOT_BODY];
	uint32_t len;
	FAII_ASSERT(faii_settle_tx_root_encode(&root, tx, sizeof(tx), &len) == 0);
	if (settlement->submit(settlement->submit_ctx, tx, len) == 0) {
		settlement->roots_submitted++;
		settlement->root_epoch_submitted = record->epoch + 1;
	} else {
		settlement->roots_refused++; /* the queue is full: tried again next commit */
	}
}

void faii_settlement_on_commit(struct faii_settlement *settlement,
                               const struct faii_dag_commit *commit)
{
	if (!faii_settlement_running(settlement))
		return;
	pthread_mutex_lock(&settlement->lock);
	FAII_ASSERT(commit->sequence > settlement->applied_sequence);
	uint32_t offset = 0, len = 0, index = 0;
	const uint8_t *tx = NULL;
	while (faii_dag_tx_next(commit, &offset, &tx, &len)) {
		struct faii_settle_origin origin = {
		        .sequence = commit->sequence, .author = commit->author, .index = index++};
		(void)faii_settle_apply(settlement->state, &origin, tx, len);
	}
	settlement->applied_sequence = commit->sequence;
	if (commit->proposed_ns != 0)
		settlement->live = true; /* our own vertex of this life: the replay is over */
	publish_root(settlement);
	pthread_mutex_unlock(&settlement->lock);
}

void faii_settlement_stats(struct faii_settlement *settlement, struct faii_settle_stats *stats,
                           uint64_t *applied_sequence)
{
	pthread_mutex_lock(&settlement->lock);
	faii_settle_get_stats(settlement->state, stats);
	*applied_sequence = settlement->applied_sequence;
	pthread_mutex_unlock(&settlement->lock);
}

int faii_settlement_epoch(struct faii_settlement *settlement, uint64_t epoch,
                          struct faii_settle_epoch_record *record)
{
	pthread_mutex_lock(&settlement->lock);
	const struct faii_settle_epoch_record *found =
	        epoch == UINT64_MAX ? faii_settle_latest_epoch(settlement->state)
	                            : faii_settle_epoch_record(settlement->state, epoch);
	if (found != NULL)
		*record = *found;
	pthread_mutex_unlock(&settlement->lock);
	return found != NULL ? 0 : -ENOENT;
}

uint32_t faii_settlement_kept(struct faii_settlement *settlement,
                              struct faii_settle_epoch_record records[FAII_SETTLE_EPOCHS_KEPT])
{
	pthread_mutex_lock(&settlement->lock);
	uint32_t count =
	        faii_settle_kept_epochs(settlement->state, records, FAII_SETTLE_EPOCHS_KEPT);
	pthread_mutex_unlock(&settlement->lock);
	return count;
}

void faii_settlement_read(struct faii_settlement *settlement,
                          void (*read)(void *ctx, const struct faii_settle_state *state), void *ctx)
{
	pthread_mutex_lock(&settlement->lock);
	read(ctx, settlement->state);
	pthread_mutex_unlock(&settlement->lock);
}

int faii_settlement_proof(struct faii_settlement *settlement, uint64_t epoch, uint32_t node_id,
                          struct faii_settle_payout_leaf *leaf, struct faii_settle_proof *proof,
                          struct faii_settle_epoch_record *record)
{
	pthread_mutex_lock(&settlement->lock);
	const struct faii_settle_epoch_record *found =
	        epoch == UINT64_MAX ? faii_settle_latest_epoch(settlement->state)
	                            : faii_settle_epoch_record(settlement->state, epoch);
	int rc = -ENOENT;
	if (found != NULL) {
		*record = *found;
		rc = faii_settle_payout_proof(settlement->state, found->epoch, node_id, leaf,
		                              proof);
	}
	pthread_mutex_unlock(&settlement->lock);
	return rc;
}
