/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state machine's parts: the carbon registry, slashing with
 * disputes, reputation and governance, fed from the committed sequence
 * (docs/settlement.md, "The state machine"). state.c owns nodes, work,
 * the clock and epochs; this file turns their events into the parts'
 * calls and the parts' outcomes into money.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "faii/settle_state.h"
#include "state_private.h"

#define DISPUTE_WINDOW_MS_DEFAULT (24ull * 3600000ull) /* DePX */
#define CARBON_WINDOW_S_DEFAULT   (365ull * 86400ull)  /* a guarantee of origin's year */
#define SLASH_PROPOSALS_PER_NODE  4u                   /* sizes the proposal table */
#define CARBON_CERTS_PER_NODE     64u                  /* sizes the certificate tables */
#define OUTCOMES_PER_CALL         64u                  /* slashing outcomes taken at once */

static uint32_t clamp_u32(uint64_t value, uint32_t low, uint32_t high)
{
	return value < low ? low : value > high ? high : (uint32_t)value;
}

static struct faii_settle_slash_limits slash_limits(uint32_t nodes_max)
{
	return (struct faii_settle_slash_limits){
	        .proposals_max = clamp_u32((uint64_t)nodes_max * SLASH_PROPOSALS_PER_NODE, 64,
	                                   FAII_SETTLE_SLASH_PROPOSALS_MAX),
	        .nodes_max = clamp_u32(nodes_max, 1, FAII_SETTLE_SLASH_NODES_MAX),
	};
}

static struct faii_settle_carbon_limits carbon_limits(uint32_t nodes_max)
{
	uint64_t lots = (uint64_t)nodes_max * CARBON_CERTS_PER_NODE;
	return (struct faii_settle_carbon_limits){
	        .certificates_max = clamp_u32(lots, 1024, FAII_SETTLE_CARBON_CERTIFICATES_MAX),
	        .readings_max = clamp_u32(lots, 1024, FAII_SETTLE_CARBON_READINGS_MAX),
	        .owners_max = clamp_u32(nodes_max, 16, FAII_SETTLE_CARBON_OWNERS_MAX),
	        .nodes_max = clamp_u32(nodes_max, 1, FAII_SETTLE_CARBON_NODES_MAX),
	        .evidence_max = FAII_SETTLE_CARBON_EVIDENCE_MAX,
	        .retirements_max = clamp_u32(lots, FAII_SETTLE_CARBON_RETIRE_LOTS_MAX,
	                                     FAII_SETTLE_CARBON_RETIREMENTS_MAX),
	};
}

static struct faii_settle_gov_config gov_config_default(void)
{
	struct faii_settle_gov_config config;
	faii_settle_gov_config_defaults(&config, 1);
	return config;
}

static size_t align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

void settle_modules_layout(uint32_t nodes_max, size_t start, struct settle_module_layout *out)
{
	struct faii_settle_gov_config gov = gov_config_default();
	struct faii_settle_reputation_limits reputation = {.nodes_max = nodes_max};
	struct faii_settle_slash_limits slash = slash_limits(nodes_max);
	struct faii_settle_carbon_limits carbon = carbon_limits(nodes_max);
	size_t at = align8(start);
	out->gov = at, at = align8(at + faii_settle_gov_bytes(&gov));
	out->reputation = at, at = align8(at + faii_settle_reputation_bytes(&reputation));
	out->slash = at, at = align8(at + faii_settle_slash_bytes(&slash));
	out->carbon = at, at = align8(at + faii_settle_carbon_bytes(&carbon));
	out->end = at;
}

/* Governance's genesis: its defaults, with settlement's parameters and the
 * validator set of the configuration. */
static int init_gov(struct faii_settle_state *s, uint8_t *base,
                    const struct settle_module_layout *layout)
{
	const struct faii_settle_config *c = &s->config;
	const struct faii_settle_params *p = &c->params;
	uint32_t set = c->validators >= 32 ? UINT32_MAX : (1u << c->validators) - 1u;
	struct faii_settle_gov_config config = gov_config_default();
	faii_settle_gov_defaults(config.genesis, set);
	if (c->gov_genesis_given) {
		memcpy(config.genesis, c->gov_genesis, sizeof(config.genesis));
		config.genesis[FAII_GOV_P_VALIDATOR_SET] = set;
	}
	uint64_t *v = config.genesis;
	v[FAII_GOV_P_AVAILABILITY_RATE] = p->availability_rate;
	v[FAII_GOV_P_TOKEN_RATE] = p->work_rate;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		v[FAII_GOV_P_THETA0_1 + t] = p->theta0_ppb[t];
		v[FAII_GOV_P_GAMMA_1 + t] = p->gamma_ppb[t];
		v[FAII_GOV_P_SLO_TARGET_1 + t] = p->slo_target_ppb[t];
		v[FAII_GOV_P_SLO_ALPHA_1 + t] = p->slo_alpha[t];
		v[FAII_GOV_P_SLO_MAX_1 + t] = p->slo_max_ppb[t];
	}
	v[FAII_GOV_P_ESG_XI] = p->esg_xi_ppb;
	v[FAII_GOV_P_ESG_BASELINE] = p->esg_baseline_ppb;
	v[FAII_GOV_P_ESG_MAX] = p->esg_max_ppb;
	v[FAII_GOV_P_ETA] = p->diversity_eta_ppb;
	v[FAII_GOV_P_CLASS_SHARE_MAX] = p->class_share_max_ppb;
	v[FAII_GOV_P_ENERGY_PRICE] = p->energy_price;
	v[FAII_GOV_P_OPEX_PRICE] = p->opex_price;
	v[FAII_GOV_P_PENALTY_PRICE] = p->penalty_price;
	for (uint32_t k = 0; k < FAII_SETTLE_CLASSES; k++)
		v[FAII_GOV_P_PAYOUT_CAP_MICRO + k] = p->payout_cap[k];
	v[FAII_GOV_P_EPOCH_LENGTH_MS] = c->epoch_ms;
	v[FAII_GOV_P_DISPUTE_WINDOW_MS] = c->dispute_window_ms;
	return faii_settle_gov_init(base + layout->gov, layout->reputation - layout->gov, &config,
	                            &s->gov);
}

static int init_slash(struct faii_settle_state *s, uint8_t *base,
                      const struct settle_module_layout *layout)
{
	const struct faii_settle_config *c = &s->config;
	struct faii_settle_slash_params params;
	faii_settle_slash_params_default(&params, c->validators);
	params.dispute_window_ms = c->dispute_window_ms;
	for (uint32_t v = 0; v < c->validators; v++) {
		params.reporter_account[v] = v;
		params.validator_node[v] = c->validator_node[v];
	}
	params.verify_equivocation = c->verify_equivocation;
	params.verify_ctx = c->verify_ctx;
	struct faii_settle_slash_limits limits = slash_limits(c->nodes_max);
	s->slash = faii_settle_slash_init(base + layout->slash, layout->carbon - layout->slash,
	                                  &limits, &params);
	return s->slash != NULL ? 0 : -EINVAL;
}

int settle_modules_init(struct faii_settle_state *s, uint8_t *base,
                        const struct settle_module_layout *layout, const char **field)
{
	if (s->config.dispute_window_ms == 0)
		s->config.dispute_window_ms = DISPUTE_WINDOW_MS_DEFAULT;
	if (s->config.carbon_window_s == 0)
		s->config.carbon_window_s = CARBON_WINDOW_S_DEFAULT;
	if (init_gov(s, base, layout) != 0) {
		*field = "governance genesis (a parameter outside governance's range)";
		return -EINVAL;
	}
	struct faii_settle_reputation_params reputation;
	faii_settle_reputation_params_default(&reputation);
	struct faii_settle_reputation_limits limits = {.nodes_max = s->config.nodes_max};
	s->reputation = faii_settle_reputation_init(base + layout->reputation,
	                                            layout->slash - layout->reputation, &limits,
	                                            &reputation);
	if (s->reputation == NULL || init_slash(s, base, layout) != 0) {
		*field = s->reputation == NULL ? "reputation" : "slashing (validators, windows)";
		return -EINVAL;
	}
	struct faii_settle_carbon_limits carbon = carbon_limits(s->config.nodes_max);
	if (faii_settle_carbon_init(base + layout->carbon, layout->end - layout->carbon, &carbon,
	                            &s->carbon) != 0) {
		*field = "carbon";
		return -EINVAL;
	}
	return 0;
}

/* ---- transactions ---- */

static enum faii_settle_outcome apply_reading(struct faii_settle_state *s, const uint8_t *tx,
                                              uint32_t len)
{
	struct faii_settle_meter_reading reading;
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_MALFORMED;
	if (faii_settle_meter_decode(tx, len, &reading, &why) != 0) {
		faii_settle_carbon_count(s->carbon, why);
		return FAII_SETTLE_REFUSED_MALFORMED;
	}
	const struct node_slot *slot = settle_node_find(s, reading.node_id);
	if (slot == NULL)
		return FAII_SETTLE_REFUSED_UNKNOWN_NODE;
	if (faii_settle_meter_verify(&reading, slot->public_key) != 0) {
		faii_settle_carbon_count(s->carbon, FAII_SETTLE_CARBON_BAD_SIGNATURE);
		return FAII_SETTLE_REFUSED_BAD_SIGNATURE;
	}
	enum faii_settle_carbon_reason reason =
	        faii_settle_carbon_apply_reading(s->carbon, &reading, slot->operator_id,
	                                         s->stats.consortium_ms, s->stats.current_epoch);
	return reason == FAII_SETTLE_CARBON_OK ? FAII_SETTLE_APPLIED : FAII_SETTLE_REFUSED_CARBON;
}

static enum faii_settle_outcome apply_transfer(struct faii_settle_state *s, const uint8_t *tx,
                                               uint32_t len)
{
	struct faii_settle_carbon_transfer transfer;
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_MALFORMED;
	if (faii_settle_transfer_decode(tx, len, &transfer, &why) != 0) {
		faii_settle_carbon_count(s->carbon, why);
		return FAII_SETTLE_REFUSED_MALFORMED;
	}
	enum faii_settle_carbon_reason reason = faii_settle_carbon_apply_transfer(
	        s->carbon, &transfer, s->stats.consortium_ms, s->stats.current_epoch);
	return reason == FAII_SETTLE_CARBON_OK ? FAII_SETTLE_APPLIED : FAII_SETTLE_REFUSED_CARBON;
}

static struct faii_settle_slash_subject subject_of(const struct node_slot *slot)
{
	return (struct faii_settle_slash_subject){
	        .registered = slot != NULL,
	        .stake = slot != NULL ? slot->stake : 0,
	        .public_key = slot != NULL ? slot->public_key : NULL,
	};
}

static enum faii_settle_outcome apply_slash(struct faii_settle_state *s,
                                            const struct faii_settle_origin *origin,
                                            const uint8_t *tx, uint32_t len)
{
	struct faii_settle_slash_tx proposal;
	if (faii_settle_slash_tx_decode(tx, len, &proposal) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	struct faii_settle_slash_subject subject =
	        subject_of(settle_node_find(s, proposal.accused));
	uint64_t id = 0;
	enum faii_settle_slash_refusal refusal =
	        faii_settle_slash_propose(s->slash, &proposal, origin->author, &subject,
	                                  s->stats.consortium_ms, s->stats.current_epoch, &id);
	return refusal == FAII_SETTLE_SLASH_ACCEPTED ? FAII_SETTLE_APPLIED
	                                             : FAII_SETTLE_REFUSED_SLASH;
}

static enum faii_settle_outcome apply_dispute(struct faii_settle_state *s, const uint8_t *tx,
                                              uint32_t len)
{
	struct faii_settle_dispute_tx dispute;
	if (faii_settle_dispute_tx_decode(tx, len, &dispute) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	const struct node_slot *slot = settle_node_find(s, dispute.node_id);
	if (slot == NULL)
		return FAII_SETTLE_REFUSED_UNKNOWN_NODE;
	if (faii_settle_dispute_tx_verify(tx, len, slot->public_key) != 0)
		return FAII_SETTLE_REFUSED_BAD_SIGNATURE;
	enum faii_settle_slash_refusal refusal =
	        faii_settle_slash_dispute(s->slash, &dispute, s->stats.consortium_ms);
	return refusal == FAII_SETTLE_SLASH_ACCEPTED ? FAII_SETTLE_APPLIED
	                                             : FAII_SETTLE_REFUSED_SLASH;
}

static enum faii_settle_outcome apply_dispute_vote(struct faii_settle_state *s,
                                                   const struct faii_settle_origin *origin,
                                                   const uint8_t *tx, uint32_t len)
{
	struct faii_settle_dispute_vote_tx vote;
	if (faii_settle_dispute_vote_tx_decode(tx, len, &vote) != 0)
		return FAII_SETTLE_REFUSED_MALFORMED;
	enum faii_settle_slash_refusal refusal =
	        faii_settle_slash_vote(s->slash, &vote, origin->author, s->stats.consortium_ms);
	return refusal == FAII_SETTLE_SLASH_ACCEPTED ? FAII_SETTLE_APPLIED
	                                             : FAII_SETTLE_REFUSED_SLASH;
}

/* A proposal's id: its transaction's place in the committed sequence,
 * increasing and unique (a vertex holds fewer than 2^16 transactions). */
static uint64_t proposal_id_of(const struct faii_settle_origin *origin)
{
	FAII_ASSERT(origin->index < (1u << 16));
	return (origin->sequence << 16) | origin->index;
}

static enum faii_settle_outcome apply_gov(struct faii_settle_state *s,
                                          const struct faii_settle_origin *origin,
                                          enum faii_settle_tx_kind kind, const uint8_t *tx,
                                          uint32_t len)
{
	enum faii_settle_gov_reason reason;
	uint64_t now = s->stats.consortium_ms, epoch = s->stats.current_epoch;
	if (kind == FAII_SETTLE_TX_GOV_PROPOSAL) {
		struct faii_settle_tx_gov_proposal proposal;
		if (faii_settle_gov_proposal_decode(tx, len, &proposal) != 0)
			return FAII_SETTLE_REFUSED_MALFORMED;
		reason = faii_settle_gov_propose(s->gov, &proposal, origin->author,
		                                 proposal_id_of(origin), now, epoch);
	} else {
		struct faii_settle_tx_gov_vote vote;
		if (faii_settle_gov_vote_decode(tx, len, &vote) != 0)
			return FAII_SETTLE_REFUSED_MALFORMED;
		reason = faii_settle_gov_vote(s->gov, &vote, origin->author, now, epoch);
	}
	return reason == FAII_GOV_R_OK ? FAII_SETTLE_APPLIED : FAII_SETTLE_REFUSED_GOVERNANCE;
}

enum faii_settle_outcome settle_apply_module(struct faii_settle_state *s,
                                             const struct faii_settle_origin *origin,
                                             enum faii_settle_tx_kind kind, const uint8_t *tx,
                                             uint32_t len)
{
	switch (kind) {
	case FAII_SETTLE_TX_ESG_ATTESTATION: return settle_apply_attestation(s, tx, len);
	case FAII_SETTLE_TX_METER_READING: return apply_reading(s, tx, len);
	case FAII_SETTLE_TX_CARBON_TRANSFER: return apply_transfer(s, tx, len);
	case FAII_SETTLE_TX_SLASH_PROPOSAL: return apply_slash(s, origin, tx, len);
	case FAII_SETTLE_TX_DISPUTE: return apply_dispute(s, tx, len);
	case FAII_SETTLE_TX_DISPUTE_VOTE: return apply_dispute_vote(s, origin, tx, len);
	case FAII_SETTLE_TX_GOV_PROPOSAL:
	case FAII_SETTLE_TX_GOV_VOTE: return apply_gov(s, origin, kind, tx, len);
	default: return FAII_SETTLE_REFUSED_NOT_HANDLED;
	}
}

/* ---- events of state.c ---- */

void settle_observe_entry(struct faii_settle_state *s, const struct node_slot *slot,
                          const struct faii_settle_work_entry *entry)
{
	/* Before the consortium's clock starts there is no month to count in. */
	if (!s->clock_started)
		return;
	struct faii_settle_reputation_observation observation;
	faii_settle_reputation_observation_from_work(entry, slot->stake, &observation);
	int rc = faii_settle_reputation_observe(s->reputation, slot->node_id, &observation,
	                                        s->stats.consortium_ms, s->stats.current_epoch);
	if (rc != 1)
		return; /* no month closed (or refused and counted there) */
	struct faii_settle_reputation_view view;
	if (faii_settle_reputation_get(s->reputation, slot->node_id, &view) != 0 ||
	    !view.closed_valid)
		return;
	struct faii_settle_slash_subject subject = subject_of(slot);
	uint64_t id = 0;
	/* Settlement's own proposal: refused (and counted) when uptime was enough. */
	(void)faii_settle_slash_downtime_propose(
	        s->slash, slot->node_id, view.closed_month, view.closed_heartbeats_seen,
	        view.closed_heartbeats_expected, &subject, s->stats.consortium_ms,
	        s->stats.current_epoch, &id);
}

void settle_stake_changed(struct faii_settle_state *s, const struct node_slot *slot)
{
	(void)faii_settle_slash_stake(s->slash, slot->node_id, slot->stake); /* -ENOENT: never
	                                                                        accused */
}

/* One closed slashing proposal's money: escrow and stake in, burned,
 * reporter and treasury out. */
static void slash_outcome(struct faii_settle_state *s, const struct faii_settle_slash_outcome *o)
{
	struct node_slot *slot = settle_node_find(s, o->node_id);
	if (o->executed) {
		FAII_ASSERT(o->burned + o->reporter_amount + o->treasury ==
		            o->from_escrow + o->from_stake);
		s->stats.slashes_executed++;
		s->stats.burned += o->burned;
		s->stats.treasury += o->treasury;
		s->stats.reporter_rewards += o->reporter_amount;
		if (o->has_reporter && o->reporter_account < FAII_SETTLE_VALIDATORS_MAX)
			s->reporter_rewards[o->reporter_account] += o->reporter_amount;
		s->stats.slashed_stake += o->from_stake;
		if (slot != NULL) {
			FAII_ASSERT(slot->escrow >= o->from_escrow);
			slot->escrow -= o->from_escrow;
			s->stats.escrow -= o->from_escrow;
			slot->stake = slot->stake > o->from_stake ? slot->stake - o->from_stake : 0;
		}
		if (o->byzantine)
			(void)faii_settle_reputation_byzantine(s->reputation, o->node_id,
			                                       s->stats.consortium_ms);
	} else {
		s->stats.slashes_dismissed++;
	}
	if (slot != NULL && o->escrow_released > 0) {
		FAII_ASSERT(slot->escrow >= o->escrow_released);
		slot->escrow -= o->escrow_released; /* paid with the next settled epoch */
		slot->release_pending += o->escrow_released;
	}
}

void settle_clock_moved(struct faii_settle_state *s)
{
	struct faii_settle_slash_outcome outcomes[OUTCOMES_PER_CALL];
	for (uint32_t round = 0; round <= FAII_SETTLE_SLASH_PROPOSALS_MAX / OUTCOMES_PER_CALL;
	     round++) {
		size_t n = faii_settle_slash_due(s->slash, s->stats.consortium_ms, outcomes,
		                                 OUTCOMES_PER_CALL);
		for (size_t i = 0; i < n; i++)
			slash_outcome(s, &outcomes[i]);
		if (n < OUTCOMES_PER_CALL)
			break;
	}
	(void)faii_settle_reputation_advance(s->reputation, s->stats.consortium_ms);
}

/* ---- epochs ---- */

void settle_epoch_carbon(struct faii_settle_state *s, uint64_t epoch)
{
	/* The operators' certificates, oldest first, cover each node's energy. */
	uint64_t retired_wh = 0;
	if (faii_settle_carbon_settle_epoch(s->carbon, epoch, s->inputs, s->nodes, &retired_wh) ==
	    0)
		s->stats.carbon_retired_wh += retired_wh;
}

void settle_epoch_params(const struct faii_settle_state *s, uint64_t epoch,
                         struct faii_settle_params *params)
{
	if (faii_settle_gov_params_at(s->gov, epoch, params) != 0)
		*params = s->config.params; /* folded history: the genesis values */
	params->energy_price_green = s->config.params.energy_price_green <= params->energy_price
	                                     ? s->config.params.energy_price_green
	                                     : params->energy_price;
}

void settle_epoch_done(struct faii_settle_state *s, uint64_t next_epoch)
{
	faii_settle_gov_tick(s->gov, next_epoch);
	struct faii_settle_carbon_prune_result pruned;
	faii_settle_carbon_prune(s->carbon, s->stats.consortium_ms, s->config.carbon_window_s,
	                         &pruned);
}

bool settle_node_held(const struct faii_settle_state *s, const struct node_slot *slot)
{
	return slot->held || faii_settle_slash_escrowed(s->slash, slot->node_id);
}

void settle_escrow_record(struct faii_settle_state *s, const struct node_slot *slot,
                          uint64_t amount)
{
	if (amount > 0 && faii_settle_slash_escrowed(s->slash, slot->node_id))
		FAII_ASSERT(faii_settle_slash_escrow_hold(s->slash, slot->node_id, amount) == 0);
}

/* ---- reading ---- */

const struct faii_settle_gov *faii_settle_state_gov(const struct faii_settle_state *s)
{
	return s->gov;
}

const struct faii_settle_reputation *faii_settle_state_reputation(const struct faii_settle_state *s)
{
	return s->reputation;
}

const struct faii_settle_slash *faii_settle_state_slash(const struct faii_settle_state *s)
{
	return s->slash;
}

const struct faii_settle_carbon *faii_settle_state_carbon(const struct faii_settle_state *s)
{
	return s->carbon;
}

uint64_t faii_settle_reporter_rewards(const struct faii_settle_state *s, uint32_t validator)
{
	return validator < FAII_SETTLE_VALIDATORS_MAX ? s->reporter_rewards[validator] : 0;
}
