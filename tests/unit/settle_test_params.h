/* SPDX-License-Identifier: BSD-3-Clause */
/* The settlement parameters of docs/settlement.md's worked epochs, shared by
 * the settlement unit tests. */
#ifndef FAII_SETTLE_TEST_PARAMS_H
#define FAII_SETTLE_TEST_PARAMS_H

#include "faii/settle.h"

#define P(x) ((uint64_t)((x)*1e9 + 0.5)) /* a rate in ppb, for readable tests */

static inline struct faii_settle_params test_params(void)
{
	struct faii_settle_params params = {
	        .availability_rate = 1000,
	        .work_rate = 10,
	        .theta0_ppb = {P(1), P(2), P(3), P(4)},
	        .gamma_ppb = {0, P(0.5), 0, 0},
	        .queue_ppb = {0, P(0.2), 0, 0},
	        .slo_target_ppb = {P(0.9), P(0.9), P(0.9), P(0.9)},
	        .slo_alpha = {1, 2, 1, 1},
	        .slo_max_ppb = {P(1.2), P(1.2), P(1.2), P(1.2)},
	        .esg_xi_ppb = P(0.5),
	        .esg_baseline_ppb = P(0.3),
	        .esg_max_ppb = P(1.25),
	        .diversity_eta_ppb = P(0.5),
	        .class_share_max_ppb = P(0.4),
	        .energy_price = 2,
	        .opex_price = 1,
	        .penalty_price = 100,
	        .payout_cap = {1000000, 1000000, 1000000, 1000000, 40000},
	};
	return params;
}

#endif /* FAII_SETTLE_TEST_PARAMS_H */
