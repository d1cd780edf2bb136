/* SPDX-License-Identifier: BSD-3-Clause */
/* Settlement and the registry, both ways: see settlement_sync.h. */
#include "settlement_sync.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "consensus.h"
#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle_attest.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "settlement.h"

/* What one period learns about its window of slots, under the lock. */
struct window {
	const struct faii_registry *reg;
	uint32_t self; /* this validator's index */
	uint32_t first, count;
	struct {
		bool register_it, slashed, has_reputation;
		uint64_t reputation_ppb;
	} slot[FAII_SETTLE_SYNC_SLOTS_PER_PERIOD];
};

uint32_t faii_settlement_operator_id(const char *operator_name)
{
	uint8_t digest[32];
	crypto_generichash(digest, sizeof(digest), (const uint8_t *)operator_name,
	                   strlen(operator_name), NULL, 0);
	uint32_t id = faii_get_le32(digest);
	return id != 0 ? id : 1;
}

int faii_settlement_sync_init(struct faii_settlement_sync *sync, uint32_t slots)
{
	memset(sync, 0, sizeof(*sync));
	sync->slots = slots;
	sync->slashed_by_us = calloc(slots ? slots : 1, 1);
	sync->status_before = calloc(slots ? slots : 1, 1);
	return sync->slashed_by_us != NULL && sync->status_before != NULL ? 0 : -ENOMEM;
}

void faii_settlement_sync_fini(struct faii_settlement_sync *sync)
{
	free(sync->slashed_by_us);
	free(sync->status_before);
	sync->slashed_by_us = sync->status_before = NULL;
}

static uint32_t capacity_units(const struct faii_cfg_node *node)
{
	double capacity = round(node->capacity_tasks_per_s);
	return capacity < 1 ? 1 : capacity > UINT32_MAX ? UINT32_MAX : (uint32_t)capacity;
}

static void read_window(void *ctx, const struct faii_settle_state *state)
{
	struct window *w = ctx;
	const struct faii_config *cfg = w->reg->cfg;
	for (uint32_t k = 0; k < w->count; k++) {
		const struct faii_cfg_node *node = &cfg->nodes[w->first + k];
		memset(&w->slot[k], 0, sizeof(w->slot[k]));
		if (node->status == FAII_NODE_REMOVED)
			continue;
		struct faii_settle_node_view view;
		/* With home ranges, another appliance's nodes are its to register. */
		w->slot[k].register_it = faii_settle_may_register(state, w->self, node->id) &&
		                         (faii_settle_node(state, node->id, &view) != 0 ||
		                          view.node_class != node->node_class ||
		                          view.capacity_units != capacity_units(node));
		w->slot[k].slashed =
		        faii_settle_slash_is_slashed(faii_settle_state_slash(state), node->id);
		struct faii_settle_reputation_view reputation;
		if (faii_settle_reputation_get(faii_settle_state_reputation(state), node->id,
		                               &reputation) == 0) {
			w->slot[k].has_reputation = true;
			w->slot[k].reputation_ppb = reputation.score_ppb;
		}
	}
}

static int submit_register(struct faii_consensus *consensus, const struct faii_config *cfg,
                           const struct faii_cfg_node *node)
{
	struct faii_settle_tx_node tx_node = {
	        .node_id = node->id,
	        .operator_id = faii_settlement_operator_id(cfg->operators[node->operator_idx]),
	        .node_class = node->node_class,
	        .capacity_units = capacity_units(node),
	};
	memcpy(tx_node.public_key, node->public_key, sizeof(tx_node.public_key));
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_NODE_REGISTER_BODY];
	uint32_t len;
	if (faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len) != 0)
		return -EINVAL;
	return faii_consensus_submit(consensus, tx, len);
}

/* Settlement's `slashed` on, or off again (back to what it replaced). */
static void apply_slashed(struct faii_settlement_sync *sync, struct faii_registry *reg,
                          uint32_t slot, bool slashed)
{
	uint8_t status = reg->cfg->nodes[slot].status;
	if (slashed && status != FAII_NODE_SLASHED && status != FAII_NODE_REMOVED) {
		sync->status_before[slot] = status;
		sync->slashed_by_us[slot] = 1;
		(void)faii_registry_set_status(reg, slot, FAII_NODE_SLASHED);
		sync->slashed++;
	} else if (!slashed && sync->slashed_by_us[slot] && status == FAII_NODE_SLASHED) {
		sync->slashed_by_us[slot] = 0;
		(void)faii_registry_set_status(reg, slot, sync->status_before[slot]);
		sync->unslashed++;
	}
}

/* Governance's values in force at the consortium's current epoch. */
struct gov_read {
	bool ok;
	faii_settle_gov_values values;
};

static void read_gov(void *ctx, const struct faii_settle_state *state)
{
	struct gov_read *g = ctx;
	struct faii_settle_stats stats;
	faii_settle_get_stats(state, &stats);
	g->ok = faii_settle_gov_values_at(faii_settle_state_gov(state), stats.current_epoch,
	                                  g->values) == 0;
}

/* A governed value in the routing policy's unit (docs/configuration.md). */
static double policy_value(const struct faii_settle_gov_param_info *info, uint64_t value)
{
	if (info->kind == FAII_GOV_KIND_COUNT)
		return (double)value;
	if (strcmp(info->unit, "units/Wh") == 0)
		return (double)value * 1000.0 / 1e9; /* tokens per kWh */
	return (double)value / 1e9;                  /* ppb, or units to tokens */
}

/* Governance's routing parameters become the policy where they differ. */
static void sync_policy(struct faii_settlement_sync *sync, struct faii_settlement *settlement,
                        struct faii_appliance_dp *app)
{
	static struct gov_read g; /* the control thread's only */
	faii_settlement_read(settlement, read_gov, &g);
	if (!g.ok)
		return;
	struct faii_config *cfg = app->reg.cfg;
	struct faii_policy next = cfg->policy;
	char err[FAII_CFG_ERR_LEN];
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++) {
		const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
		struct faii_policy probe = next;
		/* Not a routing parameter (-2), or outside the file's range: skipped. */
		if (faii_policy_set(&probe, info->name, policy_value(info, g.values[id]), err) == 0)
			next = probe;
	}
	if (memcmp(&next, &cfg->policy, sizeof(next)) == 0)
		return;
	if (faii_policy_check(&next, err) != 0) {
		sync->policy_refused++;
		return;
	}
	cfg->policy = next;
	sync->policy_changes++;
	(void)faii_appliance_publish(app);
}

/* Accepted attestations, oldest first, while the validator's queue takes
 * them; a full queue keeps them for the next tick. */
static void submit_attestations(struct faii_attest_queue *q, struct faii_consensus *consensus)
{
	for (uint32_t n = 0; n < FAII_SETTLE_SYNC_ATTEST_MAX; n++) {
		const uint8_t *msg = faii_attest_queue_peek(q);
		if (msg == NULL)
			return;
		uint8_t tx[FAII_SETTLE_ATTEST_TX_BYTES];
		uint32_t len = 0;
		int rc = faii_settle_attest_wrap(msg, FAII_ATTEST_MSG_BYTES, tx, sizeof(tx), &len);
		FAII_ASSERT(rc == 0);
		rc = faii_consensus_submit(consensus, tx, len);
		if (rc == -ENOBUFS) {
			q->counters.submit_busy++;
			return;
		}
		faii_attest_queue_pop(q);
		if (rc == 0)
			q->counters.submitted++;
		else
			q->counters.submit_failed++;
	}
}

void faii_settlement_sync_tick(struct faii_settlement_sync *sync,
                               struct faii_settlement *settlement, struct faii_consensus *consensus,
                               struct faii_appliance_dp *app, uint64_t now_ns)
{
	struct faii_registry *reg = &app->reg;
	if (!faii_settlement_running(settlement) || !faii_consensus_running(consensus))
		return;
	submit_attestations(&app->attest, consensus);
	if (now_ns < sync->next_ns || reg->cfg->node_count == 0)
		return;
	sync->next_ns = now_ns + FAII_SETTLE_SYNC_PERIOD_NS;
	static struct window w; /* the control thread's only */
	uint32_t nodes = reg->cfg->node_count < sync->slots ? reg->cfg->node_count : sync->slots;
	w.reg = reg;
	w.self = settlement->self;
	w.first = sync->cursor < nodes ? sync->cursor : 0;
	w.count = nodes - w.first < FAII_SETTLE_SYNC_SLOTS_PER_PERIOD
	                  ? nodes - w.first
	                  : FAII_SETTLE_SYNC_SLOTS_PER_PERIOD;
	faii_settlement_read(settlement, read_window, &w);
	uint32_t submitted = 0;
	for (uint32_t k = 0; k < w.count; k++) {
		uint32_t slot = w.first + k;
		apply_slashed(sync, reg, slot, w.slot[k].slashed);
		if (w.slot[k].has_reputation &&
		    faii_registry_set_reputation(reg, slot,
		                                 (double)w.slot[k].reputation_ppb / 1e9) == 0)
			sync->reputations++;
		if (w.slot[k].register_it && submitted < FAII_SETTLE_SYNC_REGISTER_MAX) {
			if (submit_register(consensus, reg->cfg, &reg->cfg->nodes[slot]) == 0)
				sync->registrations++, submitted++;
			else
				sync->registrations_refused++;
		}
	}
	sync->cursor = w.first + w.count >= nodes ? 0 : w.first + w.count;
	sync_policy(sync, settlement, app);
}
