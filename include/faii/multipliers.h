/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The papers' bounded multipliers as pure functions of plain numbers, for
 * routing (control/) and for settlement (ledger/settle/, which may include
 * only ground headers): no configuration, no clock, no state. Each clamps
 * whatever it is given into its documented range (NaN to the range's
 * neutral end), so a caller's bad input cannot leak out of the bounds.
 * docs/routing.md says which equation each implements and why.
 */
#ifndef FAII_MULTIPLIERS_H
#define FAII_MULTIPLIERS_H

#include <math.h>

/*
 * (30) The payout ESG multiplier on the certified renewable share:
 *   m_ESG = clamp(1 + xi g(RE - RE_bar), 1, m_max),  g = tanh,
 * g increasing and bounded (|g| < 1, g(0) = 0, slope 1 at 0); RE and RE_bar
 * are shares in [0, 1]. A share at or below the baseline earns 1.
 */
static inline double faii_mult_esg_payout(double re, double re_baseline, double xi, double m_max)
{
	double m = 1.0 + xi * tanh(re - re_baseline);
	if (!(m >= 1.0))
		return 1.0;
	return m < m_max ? m : (m_max >= 1.0 ? m_max : 1.0);
}

/*
 * (47) The routing reward multiplier m_i in [0, 1]: R_i = m_i p_i is what a
 * unit of the node's work earns. A node at or above its category's mean ESG
 * score captures the full posted price; below it, the share of the mean it
 * reaches (a discount for poor ESG, never a premium).
 */
static inline double faii_mult_reward(double esg, double esg_mean)
{
	if (!(esg_mean > 0))
		return 1.0;
	double m = esg / esg_mean;
	if (!(m >= 0.0))
		return 0.0;
	return m < 1.0 ? m : 1.0;
}

/* (29) m_SLO = clamp((s / s_target)^alpha, 0, m_max), s the verified SLO success. */
static inline double faii_mult_slo(double s, double s_target, double alpha, double m_max)
{
	if (!(s > 0) || !(s_target > 0))
		return 0.0;
	double m = pow(s / s_target, alpha);
	if (!(m >= 0.0))
		return 0.0;
	return m < m_max ? m : m_max;
}

/* (31) m_DIV = 1 - eta (s_class - s_bar)+, s_class the class's share of verified work. */
static inline double faii_mult_div(double s_class, double s_bar, double eta)
{
	double excess = s_class - s_bar;
	double m = 1.0 - eta * (excess > 0 ? excess : 0.0);
	if (!(m <= 1.0))
		return 1.0;
	return m > 0.0 ? m : 0.0;
}

#endif /* FAII_MULTIPLIERS_H */
