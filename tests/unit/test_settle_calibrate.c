/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Calibration of the tier factors (ledger/settle/calibrate.c, FAII 4.4):
 * a hand-computed estimate; recovery of known factors (among them the
 * paper's calibrated example) from noisy synthetic telemetry generated
 * with a fixed seed; and the proposal clamped to the step cap, accepted
 * by governance, converging over periods.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "faii/settle_gov.h"
#include "test_rng.h"

#define PPB       1000000000ull
#define MEM_BYTES (1u << 20)
/* Recovery tolerance: each factor within 1 % of the one the data was made with. */
#define RECOVERY_TOLERANCE 0.01

static _Alignas(64) uint8_t mem[MEM_BYTES];

static struct faii_settle_gov *make(uint32_t period)
{
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.period_epochs = period;
	struct faii_settle_gov *gov = NULL;
	cr_assert_eq(faii_settle_gov_init(mem, sizeof(mem), &c, &gov), 0);
	return gov;
}

static struct faii_settle_params params_now(const struct faii_settle_gov *gov, uint64_t epoch)
{
	struct faii_settle_params p;
	cr_assert_eq(faii_settle_gov_params_at(gov, epoch, &p), 0);
	return p;
}

Test(settle_calibrate, the_estimate_matches_the_hand_computation)
{
	struct faii_settle_params p = params_now(make(24), 0);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		p.slo_target_ppb[t] = 900000000;
	p.slo_alpha[1] = 2;
	struct faii_settle_calib_input in = {.epochs = 2, .energy_weight = 1};
	/* tier 1: 100 Wh for 100 units, success 0.9 = target: m = 1, no queue:
	 * pay called for 1 per unit, the unit of the scale */
	in.tier[0] = (struct faii_settle_calib_tier){
	        .verified_work = 100, .answered = 100, .slo_hits = 90, .energy_wh = 100};
	/* tier 2: 150 Wh for 50 units: c = 3; success 0.81: (0.81 / 0.9)^2 =
	 * 0.81; queue 0.4 over 2 epochs: q = 0.2, g = 1 + 0.5 x 0.2 = 1.1;
	 * theta = 3 / (0.81 x 1.1) = 3 / 0.891 = 3.367003367 */
	in.tier[1] = (struct faii_settle_calib_tier){.verified_work = 50,
	                                             .answered = 100,
	                                             .slo_hits = 81,
	                                             .energy_wh = 150,
	                                             .queue_ppb_sum = 400000000};
	/* tier 3: nothing verified: kept as in force */
	in.tier[2] = (struct faii_settle_calib_tier){.answered = 5, .energy_wh = 10};
	/* tier 4: 40 Wh for 10 units: c = 4; success 1: m = 1 / 0.9 = 1.111
	 * (under the cap 1.2): theta = 4 / 1.111 = 3.6 */
	in.tier[3] = (struct faii_settle_calib_tier){
	        .verified_work = 10, .answered = 10, .slo_hits = 10, .energy_wh = 40};
	struct faii_settle_calib_result r;
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), 0);
	cr_assert_eq(r.estimate_ppb[0], PPB);
	cr_assert_eq(r.estimate_ppb[1], 3367003367ull);
	cr_assert_eq(r.flags[2], FAII_CALIB_NO_DATA);
	cr_assert_eq(r.estimate_ppb[2], 3 * PPB);
	cr_assert_eq(r.estimate_ppb[3], 3600000000ull);
	cr_assert_float_eq(r.cost_per_unit[1], 3.0, 1e-12);
	cr_assert_float_eq(r.slo_mult[1], 0.81, 1e-12);
	cr_assert_float_eq(r.surcharge[1], 1.1, 1e-12);
	/* node time priced in too: 1 unit per node-second, 2 s more on tier 4
	 * makes c_4 = 4.2: theta = 4.2 / 1.111 = 3.78 */
	in.time_weight = 1;
	in.tier[3].busy_us = 2000000;
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), 0);
	cr_assert_eq(r.estimate_ppb[3], 3780000000ull);

	in.tier[0].verified_work = 0; /* no unit of the scale */
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), -EINVAL);
	in.tier[0].verified_work = 100;
	in.epochs = 0;
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), -EINVAL);
}

/* ---- synthetic telemetry made with known factors --------------------------- */

static struct test_rng rng;
static uint64_t rnd(void)
{
	return test_rng_next(&rng);
}

static double uniform(double lo, double hi)
{
	return test_rng_uniform(&rng, lo, hi);
}

#define SYN_NODES  40u
#define SYN_EPOCHS 50u

struct scenario {
	double theta[FAII_SETTLE_TIERS];   /* the factors the fleet's costs follow */
	double success[FAII_SETTLE_TIERS]; /* true SLO success per tier */
	double queue[FAII_SETTLE_TIERS];   /* mean normalised queue per tier */
	double work_per_task[FAII_SETTLE_TIERS];
	double time_share; /* of the cost that is node time (the rest energy) */
};

/*
 * Telemetry of SYN_NODES nodes over SYN_EPOCHS epochs whose cost per
 * verified unit is k theta_t m_t g_t (the fleet is paid in proportion to
 * cost when the factors are right; g_t at the queues the window saw, each
 * epoch's off the tier's mean by up to +-50 %), each observation's cost
 * off by up to +-20 %, each task a Bernoulli trial of the tier's success.
 */
static void synthesize(const struct scenario *s, const struct faii_settle_params *p, uint64_t seed,
                       struct faii_settle_calib_input *in)
{
	rng = (struct test_rng){seed};
	memset(in, 0, sizeof(*in));
	in->epochs = SYN_EPOCHS;
	in->energy_weight = 1; /* per Wh */
	in->time_weight = 2;   /* per node-second */
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		struct faii_settle_calib_tier *o = &in->tier[t];
		double m = s->success[t] / ((double)p->slo_target_ppb[t] / 1e9);
		double cap = (double)p->slo_max_ppb[t] / 1e9;
		m = m < cap ? m : cap; /* alpha = 1 by default */
		/* The queues first: the surcharge the window actually paid. */
		for (uint32_t e = 0; e < SYN_EPOCHS; e++)
			o->queue_ppb_sum += (uint64_t)(s->queue[t] * uniform(0.5, 1.5) * 1e9);
		double queue = (double)o->queue_ppb_sum / SYN_EPOCHS / 1e9;
		double g = 1.0 + (double)p->gamma_ppb[t] / 1e9 * queue;
		double unit_cost = 0.5 * s->theta[t] * m * g;
		for (uint32_t e = 0; e < SYN_EPOCHS; e++) {
			for (uint32_t n = 0; n < SYN_NODES; n++) {
				uint64_t tasks = 200 + rnd() % 201, hits = 0;
				for (uint64_t k = 0; k < tasks; k++)
					hits += uniform(0, 1) < s->success[t];
				double work = (double)hits * s->work_per_task[t];
				double cost = unit_cost * work * uniform(0.8, 1.2);
				o->answered += tasks;
				o->slo_hits += hits;
				o->verified_work += (uint64_t)work;
				o->energy_wh += (uint64_t)(cost * (1 - s->time_share) + 0.5);
				o->busy_us += (uint64_t)(cost * s->time_share / 2 * 1e6);
			}
		}
	}
}

static void expect_recovered(const struct scenario *s, uint64_t seed)
{
	struct faii_settle_params p = params_now(make(24), 0);
	struct faii_settle_calib_input in;
	synthesize(s, &p, seed, &in);
	struct faii_settle_calib_result r;
	cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), 0);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		double got = (double)r.estimate_ppb[t] / 1e9, want = s->theta[t];
		cr_assert(got > want * (1 - RECOVERY_TOLERANCE) &&
		                  got < want * (1 + RECOVERY_TOLERANCE),
		          "seed %lu tier %u: %.4f, made with %.4f", (unsigned long)seed, t + 1, got,
		          want);
	}
}

Test(settle_calibrate, known_factors_are_recovered_from_noisy_telemetry)
{
	/* the paper's calibrated example (FAII 4.4) */
	struct scenario paper = {
	        .theta = {1, 2.221, 3.476, 4.333},
	        .success = {0.985, 0.99, 0.97, 0.995},
	        .queue = {0.1, 0.4, 0.2, 0.8},
	        .work_per_task = {1, 3, 8, 20},
	        .time_share = 0,
	};
	expect_recovered(&paper, 1);
	paper.time_share = 0.4;
	expect_recovered(&paper, 2);
	/* a non-monotone cost pattern, low success, congestion on tier 1 */
	struct scenario other = {
	        .theta = {1, 1.37, 2.9, 6.5},
	        .success = {0.8, 0.999, 0.9, 0.6},
	        .queue = {1.5, 0, 0.05, 0.3},
	        .work_per_task = {2, 2, 5, 50},
	        .time_share = 0.7,
	};
	for (uint64_t seed = 10; seed < 13; seed++)
		expect_recovered(&other, seed);
}

Test(settle_calibrate, the_proposal_is_clamped_to_the_step_cap_and_converges_over_periods)
{
	struct scenario paper = {
	        .theta = {1, 2.221, 3.476, 4.333},
	        .success = {0.985, 0.99, 0.97, 0.995},
	        .queue = {0.1, 0.4, 0.2, 0.8},
	        .work_per_task = {1, 3, 8, 20},
	};
	struct faii_settle_gov *gov = make(10);
	uint64_t id = 1;
	for (uint32_t round = 0; round < 3; round++) {
		uint64_t epoch = 1 + 10 * round, effective = 10 * (round + 1);
		struct faii_settle_params p = params_now(gov, epoch);
		struct faii_settle_calib_input in;
		synthesize(&paper, &p, 7, &in);
		struct faii_settle_calib_result r;
		struct faii_settle_tx_gov_proposal prop;
		cr_assert_eq(faii_settle_calibrate_estimate(&in, &p, &r), 0);
		int rc = faii_settle_calibrate_propose(gov, effective, &r, &prop);
		if (round == 0) {
			/* from (1, 2, 3, 4): 2.2 and 3.3 at most this period */
			cr_assert_eq(rc, 0);
			cr_assert_eq(r.proposed_ppb[1], 2200000000ull);
			cr_assert_eq(r.proposed_ppb[2], 3300000000ull);
			cr_assert(r.flags[1] & FAII_CALIB_CLAMPED_DOWN);
			cr_assert(r.flags[2] & FAII_CALIB_CLAMPED_DOWN);
			cr_assert_eq(r.flags[3], 0);
			cr_assert_eq(r.proposed_ppb[3], r.estimate_ppb[3]);
			cr_assert_eq(prop.change_count, 3);
		}
		if (round == 2) {
			/* nothing left to change */
			cr_assert_eq(rc, -ENODATA);
			break;
		}
		cr_assert_eq(rc, 0);
		cr_assert_eq(faii_settle_gov_propose(gov, &prop, 0, id, 0, epoch), FAII_GOV_R_OK);
		struct faii_settle_tx_gov_vote v = {.proposal_id = id++, .in_favour = true};
		for (uint32_t voter = 0; voter < 3; voter++)
			cr_assert_eq(faii_settle_gov_vote(gov, &v, voter, 0, epoch), FAII_GOV_R_OK);
		p = params_now(gov, effective);
		for (uint32_t t = 1; t < FAII_SETTLE_TIERS; t++)
			cr_assert_eq(p.theta0_ppb[t], r.proposed_ppb[t]);
	}
	/* after two periods the factors in force are the estimate */
	struct faii_settle_params p = params_now(gov, 20);
	cr_assert(p.theta0_ppb[1] > 2198000000ull && p.theta0_ppb[1] < 2243000000ull);
	cr_assert(p.theta0_ppb[2] > 3441000000ull && p.theta0_ppb[2] < 3511000000ull);
}

Test(settle_calibrate, clamped_factors_that_would_not_increase_are_not_proposed)
{
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.genesis[FAII_GOV_P_THETA0_1 + 2] = 2100000000; /* (1, 2, 2.1, 4) */
	struct faii_settle_gov *gov = NULL;
	cr_assert_eq(faii_settle_gov_init(mem, sizeof(mem), &c, &gov), 0);
	struct faii_settle_calib_result r = {
	        .estimate_ppb = {PPB, 2200000000, 1800000000, 4 * PPB},
	};
	struct faii_settle_tx_gov_proposal prop;
	/* theta 2 -> 2.2, theta 3 -> 1.89 (its floor): not increasing */
	cr_assert_eq(faii_settle_calibrate_propose(gov, 5, &r, &prop), -EDOM);
	cr_assert(r.flags[2] & FAII_CALIB_CLAMPED_UP);
	cr_assert_eq(r.proposed_ppb[2], 1890000000);
	r.estimate_ppb[1] = 2 * PPB;
	r.estimate_ppb[2] = 2100000000;
	cr_assert_eq(faii_settle_calibrate_propose(gov, 5, &r, &prop), -ENODATA);
	r.estimate_ppb[2] = 2150000000;
	cr_assert_eq(faii_settle_calibrate_propose(gov, 5, &r, &prop), 0);
	cr_assert_eq(prop.change_count, 1);
	cr_assert_eq(prop.changes[0].param, FAII_GOV_P_THETA0_1 + 2);
	cr_assert_eq(prop.changes[0].value, 2150000000);
	cr_assert_eq(prop.effective_epoch, 5);
}
