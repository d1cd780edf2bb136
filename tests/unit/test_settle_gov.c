/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Governance (ledger/settle/gov.c): the parameter table, the GOV_PROPOSAL
 * and GOV_VOTE formats, every refusal by name, the quorum (2f votes do
 * nothing, 2f + 1 adopt, f + 1 against reject), effective epochs, the step
 * cap within a period (cumulative, over the whole schedule, re-checked at
 * adoption), validator-set changes, the bounded history, and a seeded
 * property run.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "faii/settle_gov.h"
#include "test_rng.h"

#define PPB       1000000000ull
#define MEM_BYTES (1u << 20)

static _Alignas(64) uint8_t mem[MEM_BYTES];
static _Alignas(64) uint8_t mem2[MEM_BYTES];
static uint64_t seq; /* the committed sequence: proposal ids */

static struct faii_settle_gov *make_with(struct faii_settle_gov_config *c, uint8_t *at)
{
	struct faii_settle_gov *gov = NULL;
	cr_assert(faii_settle_gov_bytes(c) <= MEM_BYTES);
	cr_assert_eq(faii_settle_gov_init(at, MEM_BYTES, c, &gov), 0);
	return gov;
}

/* A committee of `members` (mask) and a period of `period` epochs. */
static struct faii_settle_gov *make(uint32_t members, uint32_t period)
{
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, members);
	c.period_epochs = period;
	return make_with(&c, mem);
}

static enum faii_settle_gov_reason propose1(struct faii_settle_gov *gov, uint32_t param,
                                            uint64_t value, uint64_t effective, uint64_t epoch)
{
	struct faii_settle_tx_gov_proposal p = {
	        .effective_epoch = effective,
	        .change_count = 1,
	        .changes = {{param, value}},
	};
	return faii_settle_gov_propose(gov, &p, 0, ++seq, 1000 * epoch, epoch);
}

static enum faii_settle_gov_reason vote(struct faii_settle_gov *gov, uint64_t id, uint32_t voter,
                                        bool yes, uint64_t epoch)
{
	struct faii_settle_tx_gov_vote v = {.proposal_id = id, .in_favour = yes};
	return faii_settle_gov_vote(gov, &v, voter, 1000 * epoch, epoch);
}

/* Votes for by validators 0..count-1. */
static void votes_for(struct faii_settle_gov *gov, uint64_t id, uint32_t count, uint64_t epoch)
{
	for (uint32_t v = 0; v < count; v++)
		cr_assert_eq(vote(gov, id, v, true, epoch), FAII_GOV_R_OK);
}

static uint64_t value_at(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch)
{
	uint64_t value = 0;
	cr_assert_eq(faii_settle_gov_value_at(gov, id, epoch, &value), 0);
	return value;
}

static uint8_t status_of(const struct faii_settle_gov *gov, uint64_t id)
{
	const struct faii_settle_gov_proposal *p = faii_settle_gov_find(gov, id);
	cr_assert_not_null(p);
	return p->status;
}

/* Proposes one change and has validators 0..2 of a 4-committee adopt it. */
static uint64_t adopt1(struct faii_settle_gov *gov, uint32_t param, uint64_t value,
                       uint64_t effective, uint64_t epoch)
{
	cr_assert_eq(propose1(gov, param, value, effective, epoch), FAII_GOV_R_OK);
	uint64_t id = seq;
	votes_for(gov, id, 3, epoch);
	cr_assert_eq(status_of(gov, id), FAII_GOV_ADOPTED);
	return id;
}

#define THETA2 (FAII_GOV_P_THETA0_1 + 1)
#define THETA3 (FAII_GOV_P_THETA0_1 + 2)

Test(settle_gov, the_table_names_every_parameter_once_with_its_range_and_default)
{
	faii_settle_gov_values v;
	faii_settle_gov_defaults(v, 0xF);
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++) {
		const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
		cr_assert_not_null(info, "id %u", id);
		cr_assert(v[id] >= info->min && v[id] <= info->max, "%s", info->name);
		cr_assert_eq(faii_settle_gov_param_by_name(info->name), id, "%s", info->name);
	}
	cr_assert_null(faii_settle_gov_param_info(0));
	cr_assert_null(faii_settle_gov_param_info(FAII_GOV_P_END));
	cr_assert_eq(faii_settle_gov_param_by_name("no.such"), FAII_GOV_P_NONE);
	/* SPEC 2a's defaults, in integers. */
	cr_assert_eq(v[FAII_GOV_P_THETA0_1 + 3], 4 * PPB);
	cr_assert_eq(v[FAII_GOV_P_OPERATORS_MIN_1], 4);
	cr_assert_eq(v[FAII_GOV_P_OPERATORS_MIN_1 + 3], 2);
	cr_assert_eq(v[FAII_GOV_P_EDGE_RESERVE_1], 300000000);
	cr_assert_eq(v[FAII_GOV_P_SOURCE_WEIGHT_1 + 4], 600000000); /* biomass, Table 2 */
	cr_assert_eq(v[FAII_GOV_P_STEP_MAX], PPB / 10);
	cr_assert_eq(v[FAII_GOV_P_DISPUTE_WINDOW_MS], 86400000);
	cr_assert_eq(v[FAII_GOV_P_VALIDATOR_SET], 0xF);
	cr_assert_str_eq(faii_settle_gov_param_info(THETA2)->name, "tiers.2.factor");

	struct faii_settle_gov *gov = make(0xF, 24);
	struct faii_settle_params sp;
	cr_assert_eq(faii_settle_gov_params_at(gov, 0, &sp), 0);
	cr_assert_eq(faii_settle_params_check(&sp, NULL), 0);
	cr_assert_eq(sp.work_rate, PPB);
	cr_assert_eq(sp.availability_rate, PPB / 10);
	cr_assert_eq(sp.theta0_ppb[1], 2 * PPB);
	cr_assert_eq(sp.slo_target_ppb[0], 990000000);
	cr_assert_eq(sp.esg_max_ppb, 1250000000);
	cr_assert_eq(sp.queue_ppb[2], 0);
}

Test(settle_gov, a_bad_genesis_or_configuration_is_refused)
{
	struct faii_settle_gov_config c;
	struct faii_settle_gov *gov;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.genesis[THETA3] = 2 * PPB; /* theta0_3 = theta0_2 */
	cr_assert_eq(faii_settle_gov_init(mem, MEM_BYTES, &c, &gov), -EINVAL);
	faii_settle_gov_config_defaults(&c, 0x7); /* three validators */
	cr_assert_eq(faii_settle_gov_init(mem, MEM_BYTES, &c, &gov), -EINVAL);
	faii_settle_gov_config_defaults(&c, 0xF);
	c.period_epochs = 0;
	cr_assert_eq(faii_settle_gov_init(mem, MEM_BYTES, &c, &gov), -EINVAL);
	faii_settle_gov_config_defaults(&c, 0xF);
	cr_assert_eq(faii_settle_gov_init(mem, faii_settle_gov_bytes(&c) - 1, &c, &gov), -EINVAL);
	cr_assert_eq(faii_settle_gov_init(mem, faii_settle_gov_bytes(&c), &c, &gov), 0);
}

Test(settle_gov, proposals_and_votes_round_trip_and_malformed_bytes_are_refused)
{
	struct faii_settle_tx_gov_proposal p = {
	        .effective_epoch = 0x0102030405060708ull,
	        .change_count = 2,
	        .changes = {{THETA2, 2200000000ull}, {FAII_GOV_P_ETA, 7}}};
	uint8_t tx[FAII_SETTLE_GOV_PROPOSAL_TX_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_gov_proposal_encode(&p, tx, sizeof(tx), &len), 0);
	cr_assert_eq(len, 2 + 12 + 2 * 12);
	/* kind 9, version 1, epoch little-endian, count, pad, param 4 LE */
	cr_assert_eq(tx[0], FAII_SETTLE_TX_GOV_PROPOSAL);
	cr_assert_eq(tx[1], FAII_SETTLE_TX_VERSION);
	cr_assert_eq(tx[2], 0x08);
	cr_assert_eq(tx[10], 2);
	cr_assert_eq(tx[14], THETA2);
	struct faii_settle_tx_gov_proposal back;
	cr_assert_eq(faii_settle_gov_proposal_decode(tx, len, &back), 0);
	cr_assert_eq(memcmp(&back, &p, sizeof(p)), 0);
	cr_assert_eq(faii_settle_gov_proposal_decode(tx, len - 1, &back), -EBADMSG);
	tx[11] = 1; /* pad */
	cr_assert_eq(faii_settle_gov_proposal_decode(tx, len, &back), -EBADMSG);
	tx[11] = 0;
	tx[1] = 2; /* version */
	cr_assert_eq(faii_settle_gov_proposal_decode(tx, len, &back), -EBADMSG);
	tx[1] = FAII_SETTLE_TX_VERSION;
	p.change_count = 0;
	cr_assert_eq(faii_settle_gov_proposal_encode(&p, tx, sizeof(tx), &len), -EINVAL);
	memset(tx + 2, 0, 12); /* a header that announces no change */
	cr_assert_eq(faii_settle_gov_proposal_decode(tx, 14, &back), -EINVAL);

	struct faii_settle_tx_gov_vote v = {.proposal_id = 77, .in_favour = true}, vb;
	cr_assert_eq(faii_settle_gov_vote_encode(&v, tx, sizeof(tx), &len), 0);
	cr_assert_eq(len, FAII_SETTLE_GOV_VOTE_TX);
	cr_assert_eq(faii_settle_gov_vote_decode(tx, len, &vb), 0);
	cr_assert(vb.proposal_id == 77 && vb.in_favour);
	tx[10] = 2;
	cr_assert_eq(faii_settle_gov_vote_decode(tx, len, &vb), -EINVAL);
	tx[10] = 1;
	tx[0] = FAII_SETTLE_TX_GOV_PROPOSAL;
	cr_assert_eq(faii_settle_gov_vote_decode(tx, len, &vb), -EBADMSG);
	cr_assert_eq(faii_settle_gov_vote_encode(&v, tx, len - 1, &len), -EINVAL);
}

/* The refusal, its counter, and no proposal recorded. */
static void expect_refused(struct faii_settle_gov *gov, enum faii_settle_gov_reason got,
                           enum faii_settle_gov_reason want)
{
	cr_assert_eq(got, want, "got %s, want %s", faii_settle_gov_reason_name(got),
	             faii_settle_gov_reason_name(want));
	cr_assert_geq(gov->refused[want], 1, "%s not counted", faii_settle_gov_reason_name(want));
}

Test(settle_gov, each_malformed_proposal_is_refused_with_its_reason)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	expect_refused(gov, propose1(gov, 0, 1, 5, 1), FAII_GOV_R_UNKNOWN_PARAM);
	expect_refused(gov, propose1(gov, FAII_GOV_P_END, 1, 5, 1), FAII_GOV_R_UNKNOWN_PARAM);
	expect_refused(gov, propose1(gov, FAII_GOV_P_THETA0_1, PPB + 1, 5, 1),
	               FAII_GOV_R_OUT_OF_RANGE); /* theta0_1 is 1 */
	expect_refused(gov, propose1(gov, FAII_GOV_P_SLO_TARGET_1, 0, 5, 1),
	               FAII_GOV_R_OUT_OF_RANGE);
	expect_refused(gov, propose1(gov, FAII_GOV_P_ETA, PPB, 5, 1), FAII_GOV_R_OUT_OF_RANGE);
	/* notice: effective >= current + 1 */
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 1, 1), FAII_GOV_R_NOTICE);
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 0, 1), FAII_GOV_R_NOTICE);
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 1 + 8761, 1), FAII_GOV_R_HORIZON);
	/* 2.0 -> 2.3 is 15 % */
	expect_refused(gov, propose1(gov, THETA2, 2300000000, 5, 1), FAII_GOV_R_STEP_CAP);
	/* omega_1 0.4 -> 0.42 alone: the weights no longer sum to 1 */
	expect_refused(gov, propose1(gov, FAII_GOV_P_ESG_WEIGHT_1, 420000000, 5, 1),
	               FAII_GOV_R_CONSTRAINT);
	struct faii_settle_tx_gov_proposal twice = {
	        .effective_epoch = 5,
	        .change_count = 2,
	        .changes = {{THETA2, 2100000000}, {THETA2, 2000000001}},
	};
	expect_refused(gov, faii_settle_gov_propose(gov, &twice, 0, ++seq, 0, 1),
	               FAII_GOV_R_REPEATED_PARAM);
	/* the ESG weights move together: 0.4, 0.2, 0.2, 0.2 -> 0.42, 0.19, 0.2, 0.19 */
	struct faii_settle_tx_gov_proposal omega = {
	        .effective_epoch = 5,
	        .change_count = 3,
	        .changes = {{FAII_GOV_P_ESG_WEIGHT_1, 420000000},
	                    {FAII_GOV_P_ESG_WEIGHT_1 + 1, 190000000},
	                    {FAII_GOV_P_ESG_WEIGHT_1 + 3, 190000000}},
	};
	cr_assert_eq(faii_settle_gov_propose(gov, &omega, 1, ++seq, 0, 1), FAII_GOV_R_OK);
	cr_assert_eq(gov->proposals_accepted, 1);
	cr_assert_eq(gov->proposal_count, 1);
}

Test(settle_gov, a_proposal_is_refused_from_outsiders_twice_or_out_of_order)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	struct faii_settle_tx_gov_proposal p = {
	        .effective_epoch = 5, .change_count = 1, .changes = {{THETA2, 2100000000}}};
	expect_refused(gov, faii_settle_gov_propose(gov, &p, 4, 10, 0, 1),
	               FAII_GOV_R_NOT_A_VALIDATOR);
	expect_refused(gov, faii_settle_gov_propose(gov, &p, 99, 11, 0, 1),
	               FAII_GOV_R_NOT_A_VALIDATOR);
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 1, 12, 0, 1), FAII_GOV_R_OK);
	expect_refused(gov, faii_settle_gov_propose(gov, &p, 1, 12, 0, 1),
	               FAII_GOV_R_ID_NOT_INCREASING);
	/* another value for the same parameter and epoch while the first is open */
	p.changes[0].value = 2050000000;
	expect_refused(gov, faii_settle_gov_propose(gov, &p, 2, 13, 0, 1), FAII_GOV_R_DUPLICATE);
	/* another epoch is another proposal */
	p.effective_epoch = 6;
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 2, 14, 0, 1), FAII_GOV_R_OK);
}

Test(settle_gov, one_validator_cannot_fill_the_table_and_a_full_table_refuses)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	for (uint32_t i = 0; i < FAII_SETTLE_GOV_OPEN_PER_PROPOSER_MAX; i++)
		cr_assert_eq(propose1(gov, THETA2, 2000000000 + i + 1, 5 + i, 1), FAII_GOV_R_OK);
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 100, 1), FAII_GOV_R_PROPOSER_BUSY);

	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.proposals_max = 2;
	gov = make_with(&c, mem);
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 5, 1), FAII_GOV_R_OK);
	uint64_t first = seq;
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 6, 1), FAII_GOV_R_OK);
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 7, 1), FAII_GOV_R_TABLE_FULL);
	/* a closed proposal makes room: the oldest closed record goes */
	votes_for(gov, first, 3, 2);
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 7, 2), FAII_GOV_R_OK);
	cr_assert_null(faii_settle_gov_find(gov, first));
	cr_assert_eq(gov->proposal_count, 2);
}

Test(settle_gov, votes_are_refused_once_each_from_members_on_open_proposals)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 5, 1), FAII_GOV_R_OK);
	uint64_t id = seq;
	expect_refused(gov, vote(gov, id + 1, 0, true, 1), FAII_GOV_R_UNKNOWN_PROPOSAL);
	expect_refused(gov, vote(gov, id, 4, true, 1), FAII_GOV_R_NOT_A_VALIDATOR);
	expect_refused(gov, vote(gov, id, 31, true, 1), FAII_GOV_R_NOT_A_VALIDATOR);
	cr_assert_eq(vote(gov, id, 0, true, 1), FAII_GOV_R_OK);
	expect_refused(gov, vote(gov, id, 0, true, 1), FAII_GOV_R_ALREADY_VOTED);
	expect_refused(gov, vote(gov, id, 0, false, 1), FAII_GOV_R_ALREADY_VOTED);
	votes_for(gov, id, 0, 1);
	cr_assert_eq(vote(gov, id, 1, true, 1), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, id, 2, true, 1), FAII_GOV_R_OK);
	cr_assert_eq(status_of(gov, id), FAII_GOV_ADOPTED);
	expect_refused(gov, vote(gov, id, 3, true, 1), FAII_GOV_R_CLOSED);
	cr_assert_eq(gov->votes_accepted, 3);
	for (uint32_t r = 0; r < FAII_GOV_R_COUNT; r++)
		cr_assert_str_neq(faii_settle_gov_reason_name(r), "unknown");
}

Test(settle_gov, two_f_votes_do_nothing_and_two_f_plus_one_adopt)
{
	cr_assert_eq(faii_settle_gov_quorum(1), 1);
	cr_assert_eq(faii_settle_gov_quorum(4), 3);
	cr_assert_eq(faii_settle_gov_quorum(5), 4); /* n - f: two quorums share an honest one */
	cr_assert_eq(faii_settle_gov_quorum(7), 5);
	cr_assert_eq(faii_settle_gov_quorum(16), 11);
	for (uint32_t f = 1; f <= 5 && 3 * f + 1 <= FAII_SETTLE_GOV_VALIDATORS_MAX; f++) {
		uint32_t n = 3 * f + 1;
		struct faii_settle_gov *gov = make((1u << n) - 1, 24);
		cr_assert_eq(propose1(gov, THETA2, 2100000000, 5, 1), FAII_GOV_R_OK);
		uint64_t id = seq;
		votes_for(gov, id, 2 * f, 1);
		cr_assert_eq(status_of(gov, id), FAII_GOV_OPEN, "n %u: 2f votes adopted", n);
		uint64_t before = 0;
		cr_assert_eq(faii_settle_gov_value_at(gov, THETA2, 5, &before), 0);
		cr_assert_eq(before, 2 * PPB);
		cr_assert_eq(vote(gov, id, 2 * f, true, 1), FAII_GOV_R_OK);
		cr_assert_eq(status_of(gov, id), FAII_GOV_ADOPTED, "n %u", n);
		cr_assert_eq(value_at(gov, THETA2, 5), 2100000000);
	}
}

Test(settle_gov, f_plus_one_against_reject)
{
	struct faii_settle_gov *gov = make(0x7F, 24); /* n = 7, f = 2 */
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 5, 1), FAII_GOV_R_OK);
	uint64_t id = seq;
	cr_assert_eq(vote(gov, id, 0, false, 1), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, id, 1, false, 1), FAII_GOV_R_OK);
	cr_assert_eq(status_of(gov, id), FAII_GOV_OPEN); /* 5 may still vote for */
	cr_assert_eq(vote(gov, id, 2, false, 1), FAII_GOV_R_OK);
	cr_assert_eq(status_of(gov, id), FAII_GOV_REJECTED);
	cr_assert_eq(gov->rejected, 1);
	cr_assert_eq(value_at(gov, THETA2, 5), 2 * PPB);
	/* a rejected change may be proposed again */
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 5, 1), FAII_GOV_R_OK);
}

Test(settle_gov, a_change_takes_effect_at_its_epoch_and_one_not_adopted_by_then_expires)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	adopt1(gov, THETA2, 2200000000, 5, 2);
	cr_assert_eq(value_at(gov, THETA2, 4), 2 * PPB);
	cr_assert_eq(value_at(gov, THETA2, 5), 2200000000);
	cr_assert_eq(value_at(gov, THETA2, 6), 2200000000);
	struct faii_settle_params sp;
	cr_assert_eq(faii_settle_gov_params_at(gov, 4, &sp), 0);
	cr_assert_eq(sp.theta0_ppb[1], 2 * PPB);
	cr_assert_eq(faii_settle_gov_params_at(gov, 5, &sp), 0);
	cr_assert_eq(sp.theta0_ppb[1], 2200000000);

	cr_assert_eq(propose1(gov, FAII_GOV_P_GAMMA_1, 550000000, 8, 3), FAII_GOV_R_OK);
	uint64_t late = seq;
	votes_for(gov, late, 2, 7);
	expect_refused(gov, vote(gov, late, 2, true, 8), FAII_GOV_R_CLOSED);
	cr_assert_eq(status_of(gov, late), FAII_GOV_EXPIRED);
	cr_assert_eq(value_at(gov, FAII_GOV_P_GAMMA_1, 8), PPB / 2);

	cr_assert_eq(propose1(gov, FAII_GOV_P_GAMMA_1, 550000000, 10, 8), FAII_GOV_R_OK);
	uint64_t ticked = seq;
	faii_settle_gov_tick(gov, 10);
	cr_assert_eq(status_of(gov, ticked), FAII_GOV_EXPIRED);
	cr_assert_eq(gov->expired, 2);
	/* the minimum notice is configurable */
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.notice_epochs = 3;
	gov = make_with(&c, mem);
	expect_refused(gov, propose1(gov, THETA2, 2100000000, 12, 10), FAII_GOV_R_NOTICE);
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 13, 10), FAII_GOV_R_OK);
}

Test(settle_gov, two_ten_percent_steps_in_one_period_are_refused)
{
	struct faii_settle_gov *gov = make(0xF, 10); /* periods [0, 10), [10, 20) */
	adopt1(gov, THETA2, 2200000000, 3, 1);
	/* 2.2 -> 2.42 at epoch 6: 21 % from the period's start, 2.0 */
	expect_refused(gov, propose1(gov, THETA2, 2420000000, 6, 2), FAII_GOV_R_STEP_CAP);
	/* back to the start is within the cap; the next period starts from 2.2 */
	cr_assert_eq(propose1(gov, THETA2, 2000000000, 6, 2), FAII_GOV_R_OK);
	cr_assert_eq(propose1(gov, THETA2, 2420000000, 10, 2), FAII_GOV_R_OK);
	expect_refused(gov, propose1(gov, THETA2, 2420000001, 11, 2), FAII_GOV_R_STEP_CAP);
	/* decreases add up the same way: 2.0 -> 1.8 is the floor of 10 % */
	adopt1(gov, FAII_GOV_P_GAMMA_1, 450000000, 4, 2);
	expect_refused(gov, propose1(gov, FAII_GOV_P_GAMMA_1, 405000000, 5, 2),
	               FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, FAII_GOV_P_GAMMA_1, 450000000 - 1, 5, 2), FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, FAII_GOV_P_GAMMA_1, 460000000, 5, 2), FAII_GOV_R_OK);
}

Test(settle_gov, the_cap_holds_over_the_schedule_and_again_at_adoption)
{
	struct faii_settle_gov *gov = make(0xF, 10);
	/* adopted for the next period: 2.0 -> 2.2 */
	adopt1(gov, THETA2, 2200000000, 12, 1);
	/* 1.9 in this period would make the next period start at 1.9, from
	 * which 2.2 is 15.8 % */
	expect_refused(gov, propose1(gov, THETA2, 1900000000, 5, 1), FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, THETA2, 2050000000, 5, 1), FAII_GOV_R_OK);

	/* two open proposals each within the cap alone; together 21 % */
	gov = make(0xF, 10);
	cr_assert_eq(propose1(gov, THETA3, 3300000000, 4, 1), FAII_GOV_R_OK);
	uint64_t a = seq;
	cr_assert_eq(propose1(gov, THETA3, 2700000000, 6, 1), FAII_GOV_R_OK);
	uint64_t b = seq;
	cr_assert_eq(propose1(gov, THETA3, 3630000000, 7, 1), FAII_GOV_R_STEP_CAP);
	votes_for(gov, a, 3, 2);
	/* b: 3.3 at epoch 4, 2.7 at 6 is still within 10 % of 3.0: adopted */
	votes_for(gov, b, 3, 2);
	cr_assert_eq(status_of(gov, b), FAII_GOV_ADOPTED);

	/* Each alone within the cap: 3.3 from epoch 11 (10 % of the next
	 * period's start, 3.0), and 2.9 from epoch 9. Adopted in that order,
	 * the second would start the next period at 2.9, from which 3.3 is
	 * 13.8 %: it reaches its quorum and fails, named. */
	gov = make(0xF, 10);
	cr_assert_eq(propose1(gov, THETA3, 3300000000, 11, 1), FAII_GOV_R_OK);
	uint64_t e = seq;
	cr_assert_eq(propose1(gov, THETA3, 2900000000, 9, 1), FAII_GOV_R_OK);
	uint64_t g = seq;
	votes_for(gov, e, 3, 3);
	cr_assert_eq(status_of(gov, e), FAII_GOV_ADOPTED);
	votes_for(gov, g, 3, 3);
	const struct faii_settle_gov_proposal *failed = faii_settle_gov_find(gov, g);
	cr_assert_eq(failed->status, FAII_GOV_FAILED);
	cr_assert_eq(failed->failed_reason, FAII_GOV_R_STEP_CAP);
	cr_assert_eq(gov->failed, 1);
	cr_assert_eq(value_at(gov, THETA3, 9), 3 * PPB);
	cr_assert_eq(value_at(gov, THETA3, 11), 3300000000);
}

Test(settle_gov, counts_and_zero_values_have_their_own_cap)
{
	struct faii_settle_gov *gov = make(0xF, 10);
	/* d_1 = 4: +1 per period */
	expect_refused(gov, propose1(gov, FAII_GOV_P_OPERATORS_MIN_1, 6, 5, 1),
	               FAII_GOV_R_STEP_CAP);
	adopt1(gov, FAII_GOV_P_OPERATORS_MIN_1, 5, 3, 1);
	expect_refused(gov, propose1(gov, FAII_GOV_P_OPERATORS_MIN_1, 6, 5, 1),
	               FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, FAII_GOV_P_OPERATORS_MIN_1, 6, 10, 1), FAII_GOV_R_OK);
	/* kappa_e = 0: 10 % of its range, 10^12 units per Wh, is 10^11 */
	expect_refused(gov, propose1(gov, FAII_GOV_P_ENERGY_PRICE, 100000000001ull, 5, 1),
	               FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, FAII_GOV_P_ENERGY_PRICE, 100000000000ull, 5, 1), FAII_GOV_R_OK);
	/* a cap changed at a period's start applies from that period on */
	adopt1(gov, FAII_GOV_P_STEP_MAX, PPB / 10 + PPB / 100, 10, 1);
	expect_refused(gov, propose1(gov, THETA2, 2220000000, 10, 1), FAII_GOV_R_STEP_CAP);
	cr_assert_eq(propose1(gov, THETA2, 2220000000, 20, 1), FAII_GOV_R_OK);
	uint64_t lo = 0, hi = 0;
	cr_assert_eq(faii_settle_gov_step_range(gov, THETA2, 20, &lo, &hi), 0);
	cr_assert_eq(lo, 1780000000); /* 2.0 - 11 % */
	cr_assert_eq(hi, 2220000000);
	cr_assert_eq(faii_settle_gov_step_range(gov, FAII_GOV_P_THETA0_1, 20, &lo, &hi), 0);
	cr_assert(lo == PPB && hi == PPB);
}

Test(settle_gov, a_validator_set_change_is_effective_at_its_epoch_one_member_a_period)
{
	struct faii_settle_gov *gov = make(0x1F, 10); /* n = 5, f = 1: quorum 4 */
	expect_refused(gov, propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x7F, 5, 1),
	               FAII_GOV_R_STEP_CAP); /* two joining */
	expect_refused(gov, propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x3E, 5, 1),
	               FAII_GOV_R_STEP_CAP); /* one joining, one leaving */
	/* a proposal with votes from 0, 1 and 4: 3 of 5, short of 4 */
	cr_assert_eq(propose1(gov, FAII_GOV_P_ETA, 520000000, 20, 1), FAII_GOV_R_OK);
	uint64_t eta = seq;
	cr_assert_eq(vote(gov, eta, 0, true, 1), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, eta, 1, true, 1), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, eta, 4, true, 1), FAII_GOV_R_OK);
	/* validator 2 leaves at epoch 6 */
	cr_assert_eq(propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x1B, 6, 1), FAII_GOV_R_OK);
	uint64_t leave = seq;
	votes_for(gov, leave, 4, 2);
	cr_assert_eq(status_of(gov, leave), FAII_GOV_ADOPTED);
	cr_assert_eq(value_at(gov, FAII_GOV_P_VALIDATOR_SET, 5), 0x1F);
	cr_assert_eq(value_at(gov, FAII_GOV_P_VALIDATOR_SET, 6), 0x1B);
	faii_settle_gov_tick(gov, 5);
	cr_assert_eq(status_of(gov, eta), FAII_GOV_OPEN);
	/* at 6: n = 4, quorum 3, and 0, 1, 4 are members: adopted at the boundary */
	faii_settle_gov_tick(gov, 6);
	cr_assert_eq(status_of(gov, eta), FAII_GOV_ADOPTED);
	cr_assert_eq(faii_settle_gov_find(gov, eta)->closed_epoch, 6);
	/* the one who left can no longer propose or vote */
	struct faii_settle_tx_gov_proposal p = {
	        .effective_epoch = 9, .change_count = 1, .changes = {{THETA2, 2100000000}}};
	expect_refused(gov, faii_settle_gov_propose(gov, &p, 2, ++seq, 0, 6),
	               FAII_GOV_R_NOT_A_VALIDATOR);
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 3, ++seq, 0, 6), FAII_GOV_R_OK);
	expect_refused(gov, vote(gov, seq, 2, true, 6), FAII_GOV_R_NOT_A_VALIDATOR);
	/* a second member leaving in the same period: beyond the cap; to three
	 * members: not a committee (n = 1 or n >= 4) */
	expect_refused(gov, propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x13, 9, 6),
	               FAII_GOV_R_STEP_CAP);
	expect_refused(gov, propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x13, 10, 6),
	               FAII_GOV_R_CONSTRAINT);
	/* a new member joins at 10 and votes from then on */
	cr_assert_eq(propose1(gov, FAII_GOV_P_VALIDATOR_SET, 0x3B, 10, 6), FAII_GOV_R_OK);
	uint64_t join = seq;
	cr_assert_eq(vote(gov, join, 0, true, 6), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, join, 1, true, 6), FAII_GOV_R_OK);
	cr_assert_eq(vote(gov, join, 3, true, 6), FAII_GOV_R_OK);
	cr_assert_eq(status_of(gov, join), FAII_GOV_ADOPTED);
	cr_assert_eq(propose1(gov, THETA3, 3100000000, 15, 9), FAII_GOV_R_OK);
	expect_refused(gov, vote(gov, seq, 5, true, 9), FAII_GOV_R_NOT_A_VALIDATOR);
	cr_assert_eq(vote(gov, seq, 5, true, 10), FAII_GOV_R_OK);
}

Test(settle_gov, listings_are_sorted_by_proposal_id)
{
	struct faii_settle_gov *gov = make(0xF, 24);
	cr_assert_eq(propose1(gov, THETA3, 3100000000, 9, 1), FAII_GOV_R_OK);
	uint64_t first = seq;
	uint64_t second = adopt1(gov, THETA2, 2100000000, 5, 1);
	votes_for(gov, first, 3, 1); /* adopted after the second */
	struct faii_settle_gov_proposal list[4];
	cr_assert_eq(faii_settle_gov_list(gov, 0, list, 4), 2);
	cr_assert(list[0].id == first && list[1].id == second);
	cr_assert_eq(faii_settle_gov_list(gov, first, list, 4), 1);
	cr_assert_eq(list[0].id, second);
	struct faii_settle_gov_adopted changes[4];
	cr_assert_eq(gov->history[0].proposal_id, second); /* adoption order */
	cr_assert_eq(faii_settle_gov_changes(gov, changes, 4), 2);
	cr_assert(changes[0].proposal_id == first && changes[1].proposal_id == second);
	cr_assert_eq(faii_settle_gov_changes(gov, changes, 1), 1);
	cr_assert_eq(changes[0].proposal_id, first);
	cr_assert_str_eq(faii_settle_gov_status_name(FAII_GOV_ADOPTED), "adopted");
}

Test(settle_gov, a_full_history_folds_what_is_old_and_refuses_what_it_cannot_hold)
{
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0xF);
	c.history_max = FAII_SETTLE_GOV_CHANGES_MAX;
	c.period_epochs = 2;
	struct faii_settle_gov *gov = make_with(&c, mem);
	uint64_t value = 2 * PPB;
	for (uint64_t e = 1; e <= 8; e++) {
		value += 10000000;
		adopt1(gov, THETA2, value, e + 1, e);
	}
	cr_assert_eq(gov->history_count, 8);
	cr_assert_eq(gov->folded, 0);
	/* at epoch 9 (period [8, 10)) the changes in force by epoch 6 fold */
	value += 10000000;
	adopt1(gov, THETA2, value, 10, 9);
	cr_assert_eq(gov->base_epoch, 6);
	cr_assert_eq(gov->folded, 5);
	uint64_t v = 0;
	cr_assert_eq(faii_settle_gov_value_at(gov, THETA2, 5, &v), -ERANGE);
	cr_assert_eq(value_at(gov, THETA2, 6), 2 * PPB + 5 * 10000000);
	cr_assert_eq(value_at(gov, THETA2, 9), 2 * PPB + 8 * 10000000);
	cr_assert_eq(value_at(gov, THETA2, 10), value);
	struct faii_settle_params sp;
	cr_assert_eq(faii_settle_gov_params_at(gov, 5, &sp), -ERANGE);

	/* nothing old enough to fold: a reaching proposal fails, named */
	gov = make_with(&c, mem);
	struct faii_settle_tx_gov_proposal p = {.effective_epoch = 2, .change_count = 8};
	for (uint32_t i = 0; i < 8; i++)
		p.changes[i] = (struct faii_settle_gov_change){FAII_GOV_P_SOURCE_WEIGHT_1 + i % 7,
		                                               800000000};
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 0, ++seq, 0, 1), FAII_GOV_R_REPEATED_PARAM);
	p.change_count = 7;
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 0, ++seq, 0, 1), FAII_GOV_R_STEP_CAP);
	for (uint32_t i = 0; i < 7; i++)
		p.changes[i].value = c.genesis[FAII_GOV_P_SOURCE_WEIGHT_1 + i] - 1;
	cr_assert_eq(faii_settle_gov_propose(gov, &p, 0, ++seq, 0, 1), FAII_GOV_R_OK);
	votes_for(gov, seq, 3, 1);
	cr_assert_eq(propose1(gov, THETA2, 2100000000, 3, 1), FAII_GOV_R_OK);
	uint64_t id = seq;
	cr_assert_eq(propose1(gov, THETA3, 3100000000, 3, 1), FAII_GOV_R_OK);
	votes_for(gov, id, 3, 1); /* 7 + 1 = 8 fit */
	votes_for(gov, seq, 3, 1);
	cr_assert_eq(status_of(gov, seq), FAII_GOV_FAILED);
	cr_assert_eq(faii_settle_gov_find(gov, seq)->failed_reason, FAII_GOV_R_HISTORY_FULL);
}

/* ---- a seeded run: random proposals and votes, invariants each epoch ---- */

static struct test_rng rng;
static uint64_t rnd(void)
{
	return test_rng_next(&rng);
}

/* A random change of a random parameter, usually within the cap. */
static void random_proposal(const struct faii_settle_gov *gov, uint64_t epoch,
                            struct faii_settle_tx_gov_proposal *p)
{
	uint32_t id = 1 + (uint32_t)(rnd() % FAII_SETTLE_GOV_PARAMS);
	const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
	p->effective_epoch = epoch + 1 + rnd() % 12;
	p->change_count = 1;
	uint64_t lo = 0, hi = 0;
	cr_assert_eq(faii_settle_gov_step_range(gov, id, p->effective_epoch, &lo, &hi), 0);
	uint64_t v = lo + rnd() % (hi - lo + 1);
	if (info->kind == FAII_GOV_KIND_MASK)
		v = value_at(gov, id, epoch) ^ (1ull << (rnd() % FAII_SETTLE_GOV_VALIDATORS_MAX));
	if (rnd() % 8 == 0)
		v = info->min + rnd() % (info->max - info->min + 1);
	p->changes[0] = (struct faii_settle_gov_change){id, v};
}

static void check_epoch(const struct faii_settle_gov *gov, uint64_t epoch)
{
	faii_settle_gov_values now, start;
	cr_assert_eq(faii_settle_gov_values_at(gov, epoch, now), 0);
	uint64_t first = epoch / gov->config.period_epochs * gov->config.period_epochs;
	cr_assert_eq(faii_settle_gov_values_at(gov, first > 0 ? first - 1 : 0, start), 0);
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++) {
		const struct faii_settle_gov_param_info *info = faii_settle_gov_param_info(id);
		cr_assert(now[id] >= info->min && now[id] <= info->max);
		if (info->kind == FAII_GOV_KIND_MASK) {
			cr_assert_leq(__builtin_popcountll(now[id] ^ start[id]), 1);
			continue;
		}
		unsigned __int128 d =
		        now[id] > start[id] ? now[id] - start[id] : start[id] - now[id];
		uint64_t of = start[id] ? start[id] : info->max - info->min;
		unsigned __int128 cap = (unsigned __int128)of * start[FAII_GOV_P_STEP_MAX] / PPB;
		if (info->kind == FAII_GOV_KIND_COUNT || cap == 0)
			cap = 1;
		cr_assert(d <= cap, "%s at %lu", info->name, (unsigned long)epoch);
	}
	for (uint32_t t = 1; t < FAII_SETTLE_TIERS; t++)
		cr_assert_gt(now[FAII_GOV_P_THETA0_1 + t], now[FAII_GOV_P_THETA0_1 + t - 1]);
	struct faii_settle_params sp;
	cr_assert_eq(faii_settle_gov_params_at(gov, epoch, &sp), 0);
}

static void seeded_run(struct faii_settle_gov *gov, uint64_t seed)
{
	rng = (struct test_rng){seed};
	uint64_t id = 1000;
	for (uint64_t epoch = 1; epoch <= 300; epoch++) {
		for (uint32_t k = 0; k < 6; k++) {
			struct faii_settle_tx_gov_proposal p;
			random_proposal(gov, epoch, &p);
			faii_settle_gov_propose(gov, &p, (uint32_t)(rnd() % 6), ++id, epoch * 1000,
			                        epoch);
			uint32_t count = gov->proposal_count;
			if (count == 0)
				continue;
			struct faii_settle_tx_gov_vote v = {
			        .proposal_id = gov->proposals[rnd() % count].id,
			        .in_favour = rnd() % 4 != 0,
			};
			for (uint32_t r = 0; r < 6; r++)
				faii_settle_gov_vote(gov, &v, (uint32_t)(rnd() % 6), epoch * 1000,
				                     epoch);
		}
		faii_settle_gov_tick(gov, epoch);
		check_epoch(gov, epoch);
	}
}

Test(settle_gov, a_seeded_run_keeps_every_invariant_and_two_runs_agree)
{
	struct faii_settle_gov_config c;
	faii_settle_gov_config_defaults(&c, 0x1F);
	c.period_epochs = 7;
	c.history_max = 64;
	struct faii_settle_gov *a = make_with(&c, mem);
	struct faii_settle_gov *b = make_with(&c, mem2);
	seeded_run(a, 42);
	seeded_run(b, 42);
	cr_assert_gt(a->adopted, 50, "adopted %lu", (unsigned long)a->adopted);
	cr_assert_gt(a->refused[FAII_GOV_R_STEP_CAP], 10);
	cr_assert_gt(a->folded, 0);
	faii_settle_gov_values va, vb;
	for (uint64_t e = a->base_epoch; e <= 310; e++) {
		cr_assert_eq(faii_settle_gov_values_at(a, e, va), 0);
		cr_assert_eq(faii_settle_gov_values_at(b, e, vb), 0);
		cr_assert_eq(memcmp(va, vb, sizeof(va)), 0);
	}
	cr_assert_eq(memcmp(a->refused, b->refused, sizeof(a->refused)), 0);
	cr_assert_eq(a->history_count, b->history_count);
}
