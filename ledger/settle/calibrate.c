/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Calibration of the tier factors theta0_t from observed telemetry
 * (FAII 4.4; docs/settlement.md, "Calibration").
 *
 * FAII 4.4 asks for factors "calibrated to verified work, energy intensity
 * and latency success", estimated "from telemetry and queue observations"
 * so that "prices then internalise congestion and risk", updated per
 * period under a cap on change and adopted by vote. It gives no formula;
 * this is the cost-based rule that text describes:
 *
 *   c_t = (w_e E_t + w_h H_t) / V_t       cost of one verified work unit
 *   m_t = min((s_t / s_bar_t)^alpha_t, m_bar_SLO,t)   (29) at the fleet's
 *                                          success s_t = hits / answered
 *   g_t = 1 + gamma_t q_bar_t              (32) at the window's mean queue
 *   theta0_t = (c_t / (m_t g_t)) / (c_1 / (m_1 g_1))
 *
 * i.e. the factors that make a verified unit's expected pay p theta0_t
 * m_t g_t proportional to what it costs to produce, tier by tier, so that
 * an operator is indifferent between tiers at the margin; tier 1 is the
 * unit (theta0_1 = 1). The failed attempts' energy and time are in E_t and
 * H_t but not in V_t, so SLO failures raise c_t.
 *
 * This file computes in double precision: it only proposes. The result is
 * rounded to ppb and clamped to what the step cap allows before it becomes
 * a GOV_PROPOSAL, which validators then vote on; nothing here enters a
 * result validators must agree on by itself.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle_gov.h"

#define PPB   FAII_SETTLE_PPB_ONE
#define PPB_D 1e9

/* (29) at a fleet's success rate s: (s / target)^alpha, at most max. */
static double slo_multiplier(double success, uint64_t target_ppb, uint32_t alpha, uint64_t max_ppb)
{
	FAII_ASSERT(target_ppb > 0 && alpha >= 1 && alpha <= FAII_SETTLE_ALPHA_MAX);
	double ratio = success / ((double)target_ppb / PPB_D), m = 1.0;
	for (uint32_t i = 0; i < alpha; i++)
		m *= ratio;
	double max = (double)max_ppb / PPB_D;
	return m < max ? m : max;
}

static uint64_t to_factor_ppb(double factor)
{
	const struct faii_settle_gov_param_info *info =
	        faii_settle_gov_param_info(FAII_GOV_P_THETA0_1 + 1);
	double ppb = factor * PPB_D + 0.5; /* to the nearest ppb */
	if (!(ppb >= (double)info->min))
		return info->min;
	if (ppb >= (double)info->max)
		return info->max;
	return (uint64_t)ppb;
}

/* The pay per verified unit tier t calls for, or 0 without data. */
static double required_pay(const struct faii_settle_calib_input *in,
                           const struct faii_settle_params *in_force, uint32_t t,
                           struct faii_settle_calib_result *result)
{
	const struct faii_settle_calib_tier *o = &in->tier[t];
	double cost = (double)in->energy_weight * (double)o->energy_wh +
	              (double)in->time_weight * ((double)o->busy_us / 1e6);
	if (o->verified_work == 0 || o->answered == 0 || o->slo_hits > o->answered || !(cost > 0))
		return 0;
	result->cost_per_unit[t] = cost / (double)o->verified_work;
	result->slo_mult[t] = slo_multiplier((double)o->slo_hits / (double)o->answered,
	                                     in_force->slo_target_ppb[t], in_force->slo_alpha[t],
	                                     in_force->slo_max_ppb[t]);
	double queue = (double)o->queue_ppb_sum / (double)in->epochs / PPB_D;
	result->surcharge[t] = 1.0 + (double)in_force->gamma_ppb[t] / PPB_D * queue;
	if (!(result->slo_mult[t] > 0))
		return 0;
	return result->cost_per_unit[t] / (result->slo_mult[t] * result->surcharge[t]);
}

int faii_settle_calibrate_estimate(const struct faii_settle_calib_input *in,
                                   const struct faii_settle_params *in_force,
                                   struct faii_settle_calib_result *result)
{
	memset(result, 0, sizeof(*result));
	if (in->epochs == 0)
		return -EINVAL;
	double required[FAII_SETTLE_TIERS];
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		result->in_force_ppb[t] = in_force->theta0_ppb[t];
		required[t] = required_pay(in, in_force, t, result);
		if (!(required[t] > 0))
			result->flags[t] |= FAII_CALIB_NO_DATA;
	}
	if (result->flags[0] & FAII_CALIB_NO_DATA)
		return -EINVAL; /* tier 1 is the unit of the scale */
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		if (result->flags[t] & FAII_CALIB_NO_DATA) {
			result->estimate[t] = (double)in_force->theta0_ppb[t] / PPB_D;
			result->estimate_ppb[t] = in_force->theta0_ppb[t];
			continue;
		}
		result->estimate[t] = t == 0 ? 1.0 : required[t] / required[0];
		result->estimate_ppb[t] = t == 0 ? PPB : to_factor_ppb(result->estimate[t]);
	}
	return 0;
}

/* The estimate of tier t clamped into what a proposal at epoch may set. */
static int clamp_tier(const struct faii_settle_gov *gov, uint64_t epoch, uint32_t t,
                      struct faii_settle_calib_result *result)
{
	uint32_t id = FAII_GOV_P_THETA0_1 + t;
	uint64_t lo = 0, hi = 0, now = 0;
	int rc = faii_settle_gov_value_at(gov, id, epoch, &now);
	if (rc == 0)
		rc = faii_settle_gov_step_range(gov, id, epoch, &lo, &hi);
	if (rc != 0)
		return rc;
	result->in_force_ppb[t] = now;
	result->flags[t] &= ~(uint32_t)(FAII_CALIB_CLAMPED_UP | FAII_CALIB_CLAMPED_DOWN);
	if (result->flags[t] & FAII_CALIB_NO_DATA) {
		result->proposed_ppb[t] = now;
		return 0;
	}
	uint64_t want = result->estimate_ppb[t];
	result->proposed_ppb[t] = faii_settle_clamp(want, lo, hi);
	if (want > hi)
		result->flags[t] |= FAII_CALIB_CLAMPED_DOWN;
	if (want < lo)
		result->flags[t] |= FAII_CALIB_CLAMPED_UP;
	return 0;
}

int faii_settle_calibrate_propose(const struct faii_settle_gov *gov, uint64_t effective_epoch,
                                  struct faii_settle_calib_result *result,
                                  struct faii_settle_tx_gov_proposal *proposal)
{
	memset(proposal, 0, sizeof(*proposal));
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		int rc = clamp_tier(gov, effective_epoch, t, result);
		if (rc != 0)
			return rc;
	}
	for (uint32_t t = 1; t < FAII_SETTLE_TIERS; t++)
		if (result->proposed_ppb[t] <= result->proposed_ppb[t - 1])
			return -EDOM;
	proposal->effective_epoch = effective_epoch;
	for (uint32_t t = 1; t < FAII_SETTLE_TIERS; t++) {
		if (result->proposed_ppb[t] == result->in_force_ppb[t])
			continue;
		proposal->changes[proposal->change_count++] = (struct faii_settle_gov_change){
		        .param = FAII_GOV_P_THETA0_1 + t,
		        .value = result->proposed_ppb[t],
		};
	}
	return proposal->change_count > 0 ? 0 : -ENODATA;
}
