/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One epoch's payouts, FAII (27)-(33), in integers: see include/faii/settle.h
 * and docs/settlement.md ("Payouts") for each step, its rounding and its
 * order. Every product rounds down; the order of the factors is fixed, so
 * every validator gets the same units.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

#define PPB FAII_SETTLE_PPB_ONE

static int fail(const char **field, const char *name)
{
	if (field != NULL)
		*field = name;
	return -EINVAL;
}

int faii_settle_params_check(const struct faii_settle_params *params, const char **field)
{
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		if (params->theta0_ppb[t] == 0 || params->theta0_ppb[t] > 1000 * PPB)
			return fail(field, "theta0");
		if (params->slo_target_ppb[t] == 0 || params->slo_target_ppb[t] > PPB)
			return fail(field, "slo_target");
		if (params->slo_alpha[t] < 1 || params->slo_alpha[t] > FAII_SETTLE_ALPHA_MAX)
			return fail(field, "slo_alpha");
		if (params->slo_max_ppb[t] > 100 * PPB)
			return fail(field, "slo_max");
		if (params->gamma_ppb[t] > 100 * PPB || params->queue_ppb[t] > 1000 * PPB)
			return fail(field, "gamma or queue");
	}
	if (params->esg_xi_ppb >= PPB)
		return fail(field, "esg_xi");
	if (params->esg_baseline_ppb > PPB)
		return fail(field, "esg_baseline");
	if (params->esg_max_ppb < PPB || params->esg_max_ppb > 100 * PPB)
		return fail(field, "esg_max");
	if (params->diversity_eta_ppb >= PPB)
		return fail(field, "diversity_eta");
	if (params->class_share_max_ppb == 0 || params->class_share_max_ppb >= PPB)
		return fail(field, "class_share_max");
	if (params->energy_price_green > params->energy_price)
		return fail(field, "energy_price_green");
	return 0;
}

static int node_check(const struct faii_settle_node_input *node)
{
	if (node->node_class >= FAII_SETTLE_CLASSES || node->availability_ppb > PPB ||
	    node->renewable_ppb > PPB)
		return -EINVAL;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		if (node->slo_success_ppb[t] > PPB)
			return -EINVAL;
	return 0;
}

/* a x b, or -EOVERFLOW. */
static int mul_units(uint64_t a, uint64_t b, uint64_t *out)
{
	if (__builtin_mul_overflow(a, b, out))
		return -EOVERFLOW;
	return 0;
}

static int add_units(uint64_t a, uint64_t b, uint64_t *out)
{
	if (__builtin_add_overflow(a, b, out))
		return -EOVERFLOW;
	return 0;
}

/* (32) theta_t = theta0_t (1 + gamma_t q_t) */
static int tier_factors(const struct faii_settle_params *params,
                        uint64_t theta_ppb[FAII_SETTLE_TIERS])
{
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		uint64_t surge = 0, scaled = 0;
		int rc = faii_settle_mul_ppb(params->gamma_ppb[t], params->queue_ppb[t], &surge,
		                             NULL);
		if (rc == 0)
			rc = faii_settle_mul_ppb(params->theta0_ppb[t], surge, &scaled, NULL);
		if (rc == 0)
			rc = add_units(params->theta0_ppb[t], scaled, &theta_ppb[t]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* (31) s_i, and m_DIV,i = 1 - eta (s_i - s_bar)_+ */
static int class_diversity(const struct faii_settle_params *params,
                           const struct faii_settle_node_input *nodes, size_t count,
                           struct faii_settle_epoch_totals *totals)
{
	unsigned __int128 by_class[FAII_SETTLE_CLASSES] = {0}, all = 0;
	for (size_t j = 0; j < count; j++)
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
			by_class[nodes[j].node_class] += nodes[j].work[t];
			all += nodes[j].work[t];
		}
	for (uint32_t i = 0; i < FAII_SETTLE_CLASSES; i++) {
		uint64_t share = all == 0 ? 0 : (uint64_t)(by_class[i] * PPB / all);
		uint64_t excess = share > params->class_share_max_ppb
		                          ? share - params->class_share_max_ppb
		                          : 0;
		uint64_t cut = 0;
		int rc = faii_settle_mul_ppb(params->diversity_eta_ppb, excess, &cut, NULL);
		if (rc != 0)
			return rc;
		FAII_ASSERT(cut < PPB);
		totals->class_share_ppb[i] = share;
		totals->class_diversity_ppb[i] = PPB - cut;
	}
	return 0;
}

/* (29) m_SLO = (s / s_bar_t)^alpha_t, clamped to [0, m_bar_SLO,t] */
static int slo_multiplier(const struct faii_settle_params *params, uint32_t t, uint64_t success_ppb,
                          uint64_t *out)
{
	uint64_t ratio =
	        (uint64_t)((unsigned __int128)success_ppb * PPB / params->slo_target_ppb[t]);
	uint64_t cap = params->slo_max_ppb[t];
	/* A ratio above 1 and above the cap only grows with the power. */
	if (ratio > PPB && ratio > cap) {
		*out = cap;
		return 0;
	}
	uint64_t power = PPB;
	for (uint32_t k = 0; k < params->slo_alpha[t]; k++) {
		int rc = faii_settle_mul_ppb(power, ratio, &power, NULL);
		if (rc != 0)
			return rc;
	}
	*out = faii_settle_clamp(power, 0, cap);
	return 0;
}

/* (30) m_ESG = 1 + xi g(RE - RE_bar), g the identity on [-1, 1] (shares in
 * [0, 1] keep it there: increasing and bounded), clamped to [1, m_bar_ESG]. */
static uint64_t esg_multiplier(const struct faii_settle_params *params, uint64_t renewable_ppb)
{
	if (renewable_ppb <= params->esg_baseline_ppb)
		return PPB; /* the clamp at 1 */
	uint64_t lift = 0;
	int rc = faii_settle_mul_ppb(params->esg_xi_ppb, renewable_ppb - params->esg_baseline_ppb,
	                             &lift, NULL);
	FAII_ASSERT(rc == 0 && lift < PPB);
	return faii_settle_clamp(PPB + lift, PPB, params->esg_max_ppb);
}

/* (27) P_perf = sum_t p theta_t m_ESG m_SLO,t m_DIV V_t, each product
 * rounded down in that order. */
static int performance(const struct faii_settle_params *params,
                       const struct faii_settle_node_input *node,
                       const struct faii_settle_epoch_totals *totals,
                       struct faii_settle_node_result *result)
{
	result->esg_ppb = esg_multiplier(params, node->renewable_ppb);
	result->diversity_ppb = totals->class_diversity_ppb[node->node_class];
	result->performance = 0;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		uint64_t amount = 0;
		int rc = slo_multiplier(params, t, node->slo_success_ppb[t], &result->slo_ppb[t]);
		if (rc == 0)
			rc = mul_units(node->work[t], params->work_rate, &amount);
		if (rc == 0)
			rc = faii_settle_mul_ppb(amount, totals->theta_ppb[t], &amount, NULL);
		if (rc == 0)
			rc = faii_settle_mul_ppb(amount, result->esg_ppb, &amount, NULL);
		if (rc == 0)
			rc = faii_settle_mul_ppb(amount, result->slo_ppb[t], &amount, NULL);
		if (rc == 0)
			rc = faii_settle_mul_ppb(amount, result->diversity_ppb, &amount, NULL);
		if (rc == 0)
			rc = add_units(result->performance, amount, &result->performance);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* (20) base, (27) performance, (28) deductions, (33) the class's cap. */
static int settle_node(const struct faii_settle_params *params,
                       const struct faii_settle_node_input *node,
                       const struct faii_settle_epoch_totals *totals,
                       struct faii_settle_node_result *result)
{
	memset(result, 0, sizeof(*result));
	uint64_t floor_units = 0, energy = 0, opex = 0, penalty = 0, phi = 0, gross = 0;
	int rc = mul_units(params->availability_rate, node->capacity_units, &floor_units);
	if (rc == 0)
		rc = faii_settle_mul_ppb(floor_units, node->availability_ppb, &result->base, NULL);
	if (rc == 0)
		rc = performance(params, node, totals, result);
	if (rc == 0)
		rc = faii_settle_carbon_energy_charge(node->energy_wh, node->energy_retired_wh,
		                                      params->energy_price,
		                                      params->energy_price_green, &energy);
	if (rc == 0)
		rc = mul_units(params->opex_price, node->opex_units, &opex);
	if (rc == 0)
		rc = mul_units(params->penalty_price, node->penalty_points, &penalty);
	if (rc == 0)
		rc = add_units(energy, opex, &phi);
	if (rc == 0)
		rc = add_units(phi, penalty, &phi);
	if (rc == 0)
		rc = add_units(result->base, result->performance, &gross);
	if (rc != 0)
		return rc;
	/* Pi >= 0: deductions take at most what was earned. */
	result->deduction = phi < gross ? phi : gross;
	uint64_t net = gross - result->deduction;
	uint64_t cap = params->payout_cap[node->node_class];
	result->paid = net < cap ? net : cap;
	result->withheld = net - result->paid;
	FAII_ASSERT(result->paid + result->deduction + result->withheld == gross);
	return 0;
}

int faii_settle_epoch(const struct faii_settle_params *params,
                      const struct faii_settle_node_input *nodes, size_t count,
                      struct faii_settle_node_result *results,
                      struct faii_settle_epoch_totals *totals)
{
	if (faii_settle_params_check(params, NULL) != 0 || count > FAII_SETTLE_NODES_MAX)
		return -EINVAL;
	for (size_t j = 0; j < count; j++)
		if (node_check(&nodes[j]) != 0)
			return -EINVAL;
	memset(totals, 0, sizeof(*totals));
	int rc = tier_factors(params, totals->theta_ppb);
	if (rc == 0)
		rc = class_diversity(params, nodes, count, totals);
	for (size_t j = 0; j < count && rc == 0; j++) {
		rc = settle_node(params, &nodes[j], totals, &results[j]);
		if (rc == 0)
			rc = add_units(totals->base, results[j].base, &totals->base);
		if (rc == 0)
			rc = add_units(totals->performance, results[j].performance,
			               &totals->performance);
		if (rc == 0)
			rc = add_units(totals->paid, results[j].paid, &totals->paid);
		/* Each node's fit; the fleet's sums may not (both totals checked). */
		if (rc == 0)
			rc = add_units(totals->deduction, results[j].deduction, &totals->deduction);
		if (rc == 0)
			rc = add_units(totals->withheld, results[j].withheld, &totals->withheld);
	}
	if (rc != 0)
		return rc;
	FAII_ASSERT((unsigned __int128)totals->base + totals->performance ==
	            (unsigned __int128)totals->paid + totals->deduction + totals->withheld);
	return 0;
}
