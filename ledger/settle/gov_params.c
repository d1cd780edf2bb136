/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The table of governable parameters (one row per id: name, unit, range,
 * default), the GOV_PROPOSAL and GOV_VOTE formats, and the names of
 * refusals and statuses: see include/faii/settle_gov.h and
 * docs/settlement.md ("Governance").
 *
 * The defaults are SPEC 2a's (control/config.c's faii_policy_defaults)
 * converted to integers: rates in ppb, token amounts in base units
 * (10^9 per token), so that a fresh consortium settles and routes with the
 * same numbers a fresh configuration does.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle_gov.h"

#define ONE        FAII_SETTLE_PPB_ONE /* a rate of 1.0, ppb */
#define TOKEN      FAII_SETTLE_UNITS_PER_TOKEN
#define AMOUNT_MAX (TOKEN * TOKEN) /* 10^18 units, a rate or cap at most */
#define DAY_MS     86400000ull
#define HOUR_MS    3600000ull

#define ROW(id, n, u, k, lo, hi, def)                                                              \
	[id] = {.name = n,                                                                         \
	        .unit = u,                                                                         \
	        .kind = FAII_GOV_KIND_##k,                                                         \
	        .min = lo,                                                                         \
	        .max = hi,                                                                         \
	        .default_value = def}
/* One row per tier t = 1..4 of a per-tier parameter. */
#define TIERS(first, field, u, k, lo, hi, d1, d2, d3, d4)                                          \
	ROW(first + 0, "tiers.1." field, u, k, lo, hi, d1),                                        \
	        ROW(first + 1, "tiers.2." field, u, k, lo, hi, d2),                                \
	        ROW(first + 2, "tiers.3." field, u, k, lo, hi, d3),                                \
	        ROW(first + 3, "tiers.4." field, u, k, lo, hi, d4)

static const struct faii_settle_gov_param_info params[FAII_GOV_P_END] = {
        ROW(FAII_GOV_P_AVAILABILITY_RATE, "availability_rate", "units", UNITS, 1, AMOUNT_MAX,
            TOKEN / 10),
        ROW(FAII_GOV_P_TOKEN_RATE, "token_rate", "units", UNITS, 1, AMOUNT_MAX, TOKEN),
        /* theta0_1 = 1 by definition (FAII 4.4): its range is one value. */
        ROW(FAII_GOV_P_THETA0_1, "tiers.1.factor", "ppb", PPB, ONE, ONE, ONE),
        ROW(FAII_GOV_P_THETA0_1 + 1, "tiers.2.factor", "ppb", PPB, ONE, 1000 * ONE, 2 * ONE),
        ROW(FAII_GOV_P_THETA0_1 + 2, "tiers.3.factor", "ppb", PPB, ONE, 1000 * ONE, 3 * ONE),
        ROW(FAII_GOV_P_THETA0_1 + 3, "tiers.4.factor", "ppb", PPB, ONE, 1000 * ONE, 4 * ONE),
        TIERS(FAII_GOV_P_GAMMA_1, "congestion_gamma", "ppb", PPB, 0, 100 * ONE, ONE / 2, ONE / 2,
              ONE / 2, ONE / 2),
        TIERS(FAII_GOV_P_SLO_TARGET_1, "slo_target", "ppb", PPB, 1, ONE, 990000000, 995000000,
              995000000, 995000000),
        TIERS(FAII_GOV_P_SLO_ALPHA_1, "slo_alpha", "count", COUNT, 1, FAII_SETTLE_ALPHA_MAX, 1, 1,
              1, 1),
        TIERS(FAII_GOV_P_SLO_MAX_1, "slo_max", "ppb", PPB, ONE, 10 * ONE, 1200000000, 1200000000,
              1200000000, 1200000000),
        ROW(FAII_GOV_P_ESG_XI, "esg_multiplier.slope", "ppb", PPB, 0, ONE - 1, ONE / 2),
        ROW(FAII_GOV_P_ESG_BASELINE, "esg_multiplier.baseline", "ppb", PPB, 0, ONE, ONE / 2),
        ROW(FAII_GOV_P_ESG_MAX, "esg_multiplier.max", "ppb", PPB, ONE, 10 * ONE, 1250000000),
        ROW(FAII_GOV_P_ETA, "concentration_eta", "ppb", PPB, 0, ONE - 1, ONE / 2),
        ROW(FAII_GOV_P_CLASS_SHARE_MAX, "class_share_max", "ppb", PPB, 1, ONE - 1, 400000000),
        /* routing's 10^6 tokens per kWh at most = 10^12 units per Wh */
        ROW(FAII_GOV_P_ENERGY_PRICE, "energy_price", "units/Wh", UNITS, 0, 1000 * TOKEN, 0),
        ROW(FAII_GOV_P_OPEX_PRICE, "opex_price", "units", UNITS, 0, 1000 * TOKEN, 0),
        ROW(FAII_GOV_P_PENALTY_PRICE, "penalty_price", "units", UNITS, 0, 1000000 * TOKEN, 0),
        ROW(FAII_GOV_P_PAYOUT_CAP_MICRO + 0, "payout_cap.micro", "units", UNITS, 1, AMOUNT_MAX,
            1000000 * TOKEN),
        ROW(FAII_GOV_P_PAYOUT_CAP_MICRO + 1, "payout_cap.small", "units", UNITS, 1, AMOUNT_MAX,
            1000000 * TOKEN),
        ROW(FAII_GOV_P_PAYOUT_CAP_MICRO + 2, "payout_cap.medium", "units", UNITS, 1, AMOUNT_MAX,
            1000000 * TOKEN),
        ROW(FAII_GOV_P_PAYOUT_CAP_MICRO + 3, "payout_cap.large", "units", UNITS, 1, AMOUNT_MAX,
            1000000 * TOKEN),
        ROW(FAII_GOV_P_PAYOUT_CAP_MICRO + 4, "payout_cap.xl", "units", UNITS, 1, AMOUNT_MAX,
            1000000 * TOKEN),
        ROW(FAII_GOV_P_ESG_WEIGHT_1 + 0, "esg_weights.renewables", "ppb", PPB, 0, ONE, 400000000),
        ROW(FAII_GOV_P_ESG_WEIGHT_1 + 1, "esg_weights.rpue", "ppb", PPB, 0, ONE, 200000000),
        ROW(FAII_GOV_P_ESG_WEIGHT_1 + 2, "esg_weights.energy_to_work", "ppb", PPB, 0, ONE,
            200000000),
        ROW(FAII_GOV_P_ESG_WEIGHT_1 + 3, "esg_weights.grid", "ppb", PPB, 0, ONE, 200000000),
        /* FAII Table 2 */
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 0, "source_weights.solar", "ppb", PPB, 0, ONE, ONE),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 1, "source_weights.wind", "ppb", PPB, 0, ONE, 950000000),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 2, "source_weights.hydro", "ppb", PPB, 0, ONE, 850000000),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 3, "source_weights.geothermal", "ppb", PPB, 0, ONE,
            900000000),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 4, "source_weights.biomass", "ppb", PPB, 0, ONE,
            600000000),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 5, "source_weights.hydrogen", "ppb", PPB, 0, ONE,
            700000000),
        ROW(FAII_GOV_P_SOURCE_WEIGHT_1 + 6, "source_weights.waste", "ppb", PPB, 0, ONE, 400000000),
        ROW(FAII_GOV_P_CORRIDOR_BELOW, "price_corridor.below", "ppb", PPB, 0, ONE, 200000000),
        ROW(FAII_GOV_P_CORRIDOR_ABOVE, "price_corridor.above", "ppb", PPB, 0, ONE, 200000000),
        TIERS(FAII_GOV_P_OPERATOR_CAP_1, "operator_cap", "ppb", PPB, 1, ONE - 1, ONE / 4, ONE / 4,
              ONE / 4, ONE / 4),
        TIERS(FAII_GOV_P_OPERATORS_MIN_1, "operators_min", "count", COUNT, 1, 1024, 4, 3, 3, 2),
        TIERS(FAII_GOV_P_EDGE_RESERVE_1, "edge_reserve", "ppb", PPB, 0, ONE, 300000000, 0, 0, 0),
        ROW(FAII_GOV_P_STEP_MAX, "governance_step_max", "ppb", PPB, 1, ONE, ONE / 10),
        ROW(FAII_GOV_P_DISPUTE_WINDOW_MS, "dispute_window_ms", "ms", MS, 1000, 30 * DAY_MS, DAY_MS),
        ROW(FAII_GOV_P_EPOCH_LENGTH_MS, "epoch_length_ms", "ms", MS, 1000, 7 * DAY_MS, HOUR_MS),
        ROW(FAII_GOV_P_VALIDATOR_SET, "validator_set", "mask", MASK, 1,
            (1ull << FAII_SETTLE_GOV_VALIDATORS_MAX) - 1, 0),
};

const struct faii_settle_gov_param_info *faii_settle_gov_param_info(uint32_t id)
{
	if (id == FAII_GOV_P_NONE || id >= FAII_GOV_P_END)
		return NULL;
	FAII_ASSERT(params[id].name != NULL);
	FAII_ASSERT(params[id].min <= params[id].max);
	return &params[id];
}

uint32_t faii_settle_gov_param_by_name(const char *name)
{
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		if (strcmp(params[id].name, name) == 0)
			return id;
	return FAII_GOV_P_NONE;
}

void faii_settle_gov_defaults(faii_settle_gov_values values, uint32_t validator_mask)
{
	values[FAII_GOV_P_NONE] = 0;
	for (uint32_t id = 1; id < FAII_GOV_P_END; id++)
		values[id] = params[id].default_value;
	values[FAII_GOV_P_VALIDATOR_SET] = validator_mask;
}

void faii_settle_gov_config_defaults(struct faii_settle_gov_config *config, uint32_t validator_mask)
{
	memset(config, 0, sizeof(*config));
	config->proposals_max = FAII_SETTLE_GOV_PROPOSALS_MAX;
	config->history_max = FAII_SETTLE_GOV_HISTORY_MAX;
	config->period_epochs = 24;
	config->notice_epochs = 1;
	config->horizon_epochs = 8760;
	faii_settle_gov_defaults(config->genesis, validator_mask);
}

/* ---- formats -------------------------------------------------------------- */

/* Writes the envelope, zeroes the body (padding included), points *body at it. */
static int begin_tx(enum faii_settle_tx_kind kind, uint32_t body_bytes, uint8_t *out, uint32_t cap,
                    uint32_t *len, uint8_t **body)
{
	if (cap < FAII_SETTLE_TX_HEADER + body_bytes)
		return -EINVAL;
	out[0] = (uint8_t)kind;
	out[1] = FAII_SETTLE_TX_VERSION;
	memset(out + FAII_SETTLE_TX_HEADER, 0, body_bytes);
	*len = FAII_SETTLE_TX_HEADER + body_bytes;
	*body = out + FAII_SETTLE_TX_HEADER;
	return 0;
}

static bool header_is(const uint8_t *tx, uint32_t len, enum faii_settle_tx_kind kind)
{
	return len >= FAII_SETTLE_TX_HEADER && tx[0] == kind && tx[1] == FAII_SETTLE_TX_VERSION;
}

static bool zero(const uint8_t *at, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (at[i] != 0)
			return false;
	return true;
}

int faii_settle_gov_proposal_encode(const struct faii_settle_tx_gov_proposal *proposal,
                                    uint8_t *out, uint32_t cap, uint32_t *len)
{
	uint32_t count = proposal->change_count;
	if (count == 0 || count > FAII_SETTLE_GOV_CHANGES_MAX)
		return -EINVAL;
	uint8_t *at = NULL;
	int rc = begin_tx(FAII_SETTLE_TX_GOV_PROPOSAL,
	                  FAII_SETTLE_GOV_PROPOSAL_HEAD + count * FAII_SETTLE_GOV_CHANGE_BYTES, out,
	                  cap, len, &at);
	if (rc != 0)
		return rc;
	faii_put_le64(at, proposal->effective_epoch);
	at[8] = (uint8_t)count;
	at += FAII_SETTLE_GOV_PROPOSAL_HEAD;
	for (uint32_t i = 0; i < count; i++, at += FAII_SETTLE_GOV_CHANGE_BYTES) {
		faii_put_le32(at, proposal->changes[i].param);
		faii_put_le64(at + 4, proposal->changes[i].value);
	}
	FAII_ASSERT(at == out + *len);
	return 0;
}

int faii_settle_gov_proposal_decode(const uint8_t *tx, uint32_t len,
                                    struct faii_settle_tx_gov_proposal *proposal)
{
	if (!header_is(tx, len, FAII_SETTLE_TX_GOV_PROPOSAL) ||
	    len < FAII_SETTLE_TX_HEADER + FAII_SETTLE_GOV_PROPOSAL_HEAD)
		return -EBADMSG;
	const uint8_t *at = tx + FAII_SETTLE_TX_HEADER;
	uint32_t count = at[8];
	if (len != FAII_SETTLE_TX_HEADER + FAII_SETTLE_GOV_PROPOSAL_HEAD +
	                    count * FAII_SETTLE_GOV_CHANGE_BYTES ||
	    !zero(at + 9, 3))
		return -EBADMSG;
	if (count == 0 || count > FAII_SETTLE_GOV_CHANGES_MAX)
		return -EINVAL;
	memset(proposal, 0, sizeof(*proposal));
	proposal->effective_epoch = faii_get_le64(at);
	proposal->change_count = (uint8_t)count;
	at += FAII_SETTLE_GOV_PROPOSAL_HEAD;
	for (uint32_t i = 0; i < count; i++, at += FAII_SETTLE_GOV_CHANGE_BYTES) {
		proposal->changes[i].param = faii_get_le32(at);
		proposal->changes[i].value = faii_get_le64(at + 4);
	}
	return 0;
}

int faii_settle_gov_vote_encode(const struct faii_settle_tx_gov_vote *vote, uint8_t *out,
                                uint32_t cap, uint32_t *len)
{
	uint8_t *at = NULL;
	int rc = begin_tx(FAII_SETTLE_TX_GOV_VOTE, FAII_SETTLE_GOV_VOTE_BODY, out, cap, len, &at);
	if (rc != 0)
		return rc;
	faii_put_le64(at, vote->proposal_id);
	at[8] = vote->in_favour ? 1 : 0;
	return 0;
}

int faii_settle_gov_vote_decode(const uint8_t *tx, uint32_t len,
                                struct faii_settle_tx_gov_vote *vote)
{
	if (!header_is(tx, len, FAII_SETTLE_TX_GOV_VOTE) || len != FAII_SETTLE_GOV_VOTE_TX)
		return -EBADMSG;
	const uint8_t *at = tx + FAII_SETTLE_TX_HEADER;
	if (!zero(at + 9, 3))
		return -EBADMSG;
	if (at[8] > 1)
		return -EINVAL;
	vote->proposal_id = faii_get_le64(at);
	vote->in_favour = at[8] == 1;
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

const char *faii_settle_gov_reason_name(enum faii_settle_gov_reason reason)
{
	static const char *const names[FAII_GOV_R_COUNT] = {
#define FAII_SETTLE_GOV_REASON_NAME(sym, name) [FAII_GOV_R_##sym] = name,
	        FAII_SETTLE_GOV_REASONS(FAII_SETTLE_GOV_REASON_NAME)
#undef FAII_SETTLE_GOV_REASON_NAME
	};
	return (unsigned)reason < FAII_GOV_R_COUNT ? names[reason] : "unknown";
}

const char *faii_settle_gov_status_name(enum faii_settle_gov_status status)
{
	static const char *const names[] = {"open", "adopted", "rejected", "expired", "failed"};
	return (unsigned)status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}
