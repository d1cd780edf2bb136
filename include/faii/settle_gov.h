/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Governance of the consortium's parameters and the calibration of tier
 * factors (docs/settlement.md, "Governance" and "Calibration"; FAII 4.4,
 * 4.6-4.8; SPEC 2a and 5.3).
 *
 * Every parameter that settlement or routing reads from governance has a
 * stable id (enum faii_settle_gov_param: never renumbered, new ids are
 * appended), a name (the configuration's policy key where one exists), a
 * unit, a range and a default. Values are integers: rates and shares in
 * parts per billion, amounts in base units, durations in consortium
 * milliseconds, counts, and the validator set as a membership mask.
 *
 * A change is a GOV_PROPOSAL (kind 9, appliance-authored): up to
 * FAII_SETTLE_GOV_CHANGES_MAX (parameter, new value) pairs taking effect
 * together at one published epoch, so that constrained groups (the ESG
 * weights summing to 1, increasing tier factors) move as one. Validators
 * vote with GOV_VOTE (kind 10); a proposal is adopted by n - f votes for
 * (= 2f + 1 when n = 3f + 1), rejected by f + 1 against, and expires when
 * its epoch arrives without adoption. n is the validator set in force at
 * the epoch of the vote; f = (n - 1) / 3.
 *
 * Each parameter's change is capped per period (FAII 4.4, SPEC 2a: the
 * same rule as routing's faii_policy_step_check): within one period of
 * period_epochs epochs, the value in force at any epoch stays within
 * governance_step_max of the value the period started with (the value in
 * force at the epoch before its first), relative to that value; so changes
 * within a period add up against the same start. A count (d_t, the SLO
 * exponent) moves by at most 1 per period, a value at 0 by at most the cap
 * times the width of its range, the validator set by at most one member.
 *
 * Pure settlement code: the state lives in the caller's memory
 * (faii_settle_gov_bytes, faii_settle_gov_init); no clock (the caller
 * passes the consortium time and the epoch, both non-decreasing), no
 * allocation, no floating point in anything validators must agree on (the
 * calibration's estimate is a proposal, rounded to ppb before it becomes a
 * transaction that is then voted on).
 *
 * Error convention: decoding returns 0, -EBADMSG (not such a transaction)
 * or -EINVAL (a field out of its layout's range); apply functions return a
 * refusal reason (FAII_SETTLE_GOV_OK when accepted), each counted; queries
 * return 0, -ENOENT (unknown parameter or proposal) or -ERANGE (an epoch
 * older than the history still held).
 */
#ifndef FAII_SETTLE_GOV_H
#define FAII_SETTLE_GOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle.h"
#include "faii/settle_tx.h"

/* ---- the parameters ---------------------------------------------------- */

enum faii_settle_gov_param {
	FAII_GOV_P_NONE = 0, /* never a parameter: ids start at 1 */
	/* Settlement (struct faii_settle_params). */
	FAII_GOV_P_AVAILABILITY_RATE = 1, /* p0, units per capacity unit (20) */
	FAII_GOV_P_TOKEN_RATE = 2,        /* p, units per verified work unit (27) */
	FAII_GOV_P_THETA0_1 = 3,          /* theta0_t, tiers 1..4: 3..6 (32) */
	FAII_GOV_P_GAMMA_1 = 7,           /* gamma_t: 7..10 (26), (32) */
	FAII_GOV_P_SLO_TARGET_1 = 11,     /* s_bar_t: 11..14 (29) */
	FAII_GOV_P_SLO_ALPHA_1 = 15,      /* alpha_t of (29), a count: 15..18 */
	FAII_GOV_P_SLO_MAX_1 = 19,        /* m_bar_SLO,t: 19..22 (29) */
	FAII_GOV_P_ESG_XI = 23,           /* xi (30) */
	FAII_GOV_P_ESG_BASELINE = 24,     /* RE_bar (30) */
	FAII_GOV_P_ESG_MAX = 25,          /* m_bar_ESG (30) */
	FAII_GOV_P_ETA = 26,              /* eta, routing (13) and settlement (31) */
	FAII_GOV_P_CLASS_SHARE_MAX = 27,  /* s_bar (31), (33) */
	FAII_GOV_P_ENERGY_PRICE = 28,     /* kappa_e, units per Wh (28); routing's (13) */
	FAII_GOV_P_OPEX_PRICE = 29,       /* kappa_o (28) */
	FAII_GOV_P_PENALTY_PRICE = 30,    /* phi (28) */
	FAII_GOV_P_PAYOUT_CAP_MICRO = 31, /* E_bar_i, classes micro..XL: 31..35 (33) */
	/* Routing (struct faii_policy). */
	FAII_GOV_P_ESG_WEIGHT_1 = 36,    /* omega_1..4: 36..39, summing to 1 (41) */
	FAII_GOV_P_SOURCE_WEIGHT_1 = 40, /* lambda_s, solar..waste: 40..46 (42) */
	FAII_GOV_P_CORRIDOR_BELOW = 47,  /* delta- (46) */
	FAII_GOV_P_CORRIDOR_ABOVE = 48,  /* delta+ (46) */
	FAII_GOV_P_OPERATOR_CAP_1 = 49,  /* beta_t: 49..52 (33) */
	FAII_GOV_P_OPERATORS_MIN_1 = 53, /* d_t, a count: 53..56 (33) */
	FAII_GOV_P_EDGE_RESERVE_1 = 57,  /* alpha_t of (25): 57..60 */
	/* The consortium. */
	FAII_GOV_P_STEP_MAX = 61,          /* governance_step_max, ppb of the value */
	FAII_GOV_P_DISPUTE_WINDOW_MS = 62, /* slashing's dispute window, consortium ms */
	FAII_GOV_P_EPOCH_LENGTH_MS = 63,   /* a settlement epoch, consortium ms */
	FAII_GOV_P_VALIDATOR_SET = 64,     /* bit i: validator i is a member */
	FAII_GOV_P_END
};
#define FAII_SETTLE_GOV_PARAMS (FAII_GOV_P_END - 1) /* parameters, ids 1..64 */

/* How a parameter's value reads and how far one period may move it. */
enum faii_settle_gov_kind {
	FAII_GOV_KIND_PPB = 0,   /* a rate or share, 10^9 = 1.0: relative cap */
	FAII_GOV_KIND_UNITS = 1, /* base units (per a unit of something): relative cap */
	FAII_GOV_KIND_MS = 2,    /* consortium milliseconds: relative cap */
	FAII_GOV_KIND_COUNT = 3, /* an integer count: +-1 per period */
	FAII_GOV_KIND_MASK = 4,  /* the validator set: one member per period */
};

struct faii_settle_gov_param_info {
	const char *name; /* e.g. "tiers.2.factor": the configuration's policy key */
	const char *unit; /* "ppb", "units", "units/Wh", "ms", "count", "mask" */
	uint8_t kind;     /* enum faii_settle_gov_kind */
	uint64_t min, max;
	uint64_t default_value; /* for the validator set: the configured set */
};

/* NULL for an id that is not a parameter. */
const struct faii_settle_gov_param_info *faii_settle_gov_param_info(uint32_t id);
/* The id of a parameter's name, or FAII_GOV_P_NONE. */
uint32_t faii_settle_gov_param_by_name(const char *name);

/* One value per id, index = id (index 0 unused). */
typedef uint64_t faii_settle_gov_values[FAII_GOV_P_END];

/* The defaults, with validator_mask as the validator set. */
void faii_settle_gov_defaults(faii_settle_gov_values values, uint32_t validator_mask);

/* ---- transactions ------------------------------------------------------- */

#define FAII_SETTLE_GOV_CHANGES_MAX 8u /* (parameter, value) pairs in one proposal */

struct faii_settle_gov_change {
	uint32_t param; /* enum faii_settle_gov_param */
	uint64_t value;
};

/*
 * GOV_PROPOSAL body (12 + 12 x change_count bytes):
 *   effective_epoch u64 | change_count u8 (1..8) | pad[3] = 0 |
 *   change_count x (param u32 | value u64)
 * The proposer is the committed vertex's author; the proposal's id is the
 * transaction's position in the committed sequence (both passed to apply).
 */
#define FAII_SETTLE_GOV_PROPOSAL_HEAD 12u
#define FAII_SETTLE_GOV_CHANGE_BYTES  12u
#define FAII_SETTLE_GOV_PROPOSAL_TX_MAX                                                            \
	(FAII_SETTLE_TX_HEADER + FAII_SETTLE_GOV_PROPOSAL_HEAD +                                   \
	 FAII_SETTLE_GOV_CHANGES_MAX * FAII_SETTLE_GOV_CHANGE_BYTES)
struct faii_settle_tx_gov_proposal {
	uint64_t effective_epoch;
	uint8_t change_count;
	struct faii_settle_gov_change changes[FAII_SETTLE_GOV_CHANGES_MAX];
};

/* GOV_VOTE body (12 bytes): proposal_id u64 | in_favour u8 (0, 1) | pad[3] = 0 */
#define FAII_SETTLE_GOV_VOTE_BODY 12u
#define FAII_SETTLE_GOV_VOTE_TX   (FAII_SETTLE_TX_HEADER + FAII_SETTLE_GOV_VOTE_BODY)
struct faii_settle_tx_gov_vote {
	uint64_t proposal_id;
	bool in_favour;
};

int faii_settle_gov_proposal_encode(const struct faii_settle_tx_gov_proposal *proposal,
                                    uint8_t *out, uint32_t cap, uint32_t *len);
int faii_settle_gov_proposal_decode(const uint8_t *tx, uint32_t len,
                                    struct faii_settle_tx_gov_proposal *proposal);
int faii_settle_gov_vote_encode(const struct faii_settle_tx_gov_vote *vote, uint8_t *out,
                                uint32_t cap, uint32_t *len);
int faii_settle_gov_vote_decode(const uint8_t *tx, uint32_t len,
                                struct faii_settle_tx_gov_vote *vote);

/* ---- refusals ----------------------------------------------------------- */

#define FAII_SETTLE_GOV_REASONS(X)                                                                 \
	X(OK, "accepted")                                                                          \
	X(UNKNOWN_PARAM, "unknown_parameter")                                                      \
	X(REPEATED_PARAM, "parameter_repeated_in_proposal")                                        \
	X(OUT_OF_RANGE, "value_out_of_range")                                                      \
	X(CONSTRAINT, "breaks_a_constraint")                                                       \
	X(NOTICE, "effective_epoch_too_soon")                                                      \
	X(HORIZON, "effective_epoch_too_far")                                                      \
	X(STEP_CAP, "beyond_the_step_cap")                                                         \
	X(DUPLICATE, "duplicate_open_proposal")                                                    \
	X(ID_NOT_INCREASING, "proposal_id_not_increasing")                                         \
	X(NOT_A_VALIDATOR, "not_a_validator")                                                      \
	X(PROPOSER_BUSY, "proposer_has_too_many_open")                                             \
	X(TABLE_FULL, "proposal_table_full")                                                       \
	X(UNKNOWN_PROPOSAL, "unknown_proposal")                                                    \
	X(CLOSED, "proposal_closed")                                                               \
	X(ALREADY_VOTED, "already_voted")                                                          \
	X(HISTORY_FULL, "history_full")

enum faii_settle_gov_reason {
#define FAII_SETTLE_GOV_REASON_ENUM(sym, name) FAII_GOV_R_##sym,
	FAII_SETTLE_GOV_REASONS(FAII_SETTLE_GOV_REASON_ENUM)
#undef FAII_SETTLE_GOV_REASON_ENUM
	        FAII_GOV_R_COUNT
};
const char *faii_settle_gov_reason_name(enum faii_settle_gov_reason reason);

/* ---- the state ---------------------------------------------------------- */

/* Proposals held, open and closed (the oldest closed one makes room). */
#define FAII_SETTLE_GOV_PROPOSALS_MAX 256u
/* Open proposals one validator may have (so that no one fills the table). */
#define FAII_SETTLE_GOV_OPEN_PER_PROPOSER_MAX 16u
/* Adopted changes held; older ones fold into the base values. */
#define FAII_SETTLE_GOV_HISTORY_MAX 1024u
/* Epochs ahead a proposal may take effect. */
#define FAII_SETTLE_GOV_HORIZON_EPOCHS_MAX (1u << 20)
/* Validators a set may hold: bits of the mask. */
#define FAII_SETTLE_GOV_VALIDATORS_MAX 16u

struct faii_settle_gov_config {
	uint32_t proposals_max;         /* 1..FAII_SETTLE_GOV_PROPOSALS_MAX */
	uint32_t history_max;           /* 1..FAII_SETTLE_GOV_HISTORY_MAX */
	uint32_t period_epochs;         /* the step cap's period, >= 1 */
	uint32_t notice_epochs;         /* effective >= current + notice, >= 1 */
	uint32_t horizon_epochs;        /* effective <= current + horizon, >= notice */
	faii_settle_gov_values genesis; /* in force from epoch 0 */
};

/* Defaults: 256 proposals, 1024 changes, a period of 24 epochs (a day of
 * the default hour-long epochs, as routing's governance_period_s), one
 * epoch of notice, a horizon of 8760 epochs (a year), the default values
 * with the given validator set. */
void faii_settle_gov_config_defaults(struct faii_settle_gov_config *config,
                                     uint32_t validator_mask);

enum faii_settle_gov_status {
	FAII_GOV_OPEN = 0,
	FAII_GOV_ADOPTED = 1,  /* n - f votes for before its epoch: in the history */
	FAII_GOV_REJECTED = 2, /* f + 1 votes against: it could no longer pass */
	FAII_GOV_EXPIRED = 3,  /* its epoch came first */
	FAII_GOV_FAILED = 4,   /* reached n - f, but changes adopted meanwhile made it break
	                          the step cap or a constraint (reason says which) */
};
const char *faii_settle_gov_status_name(enum faii_settle_gov_status status);

struct faii_settle_gov_proposal {
	uint64_t id; /* the committed sequence of its transaction */
	uint64_t effective_epoch;
	uint64_t proposed_epoch, proposed_ms;
	uint64_t closed_epoch; /* when it left OPEN */
	uint32_t proposer;
	uint32_t votes_for, votes_against; /* validator masks */
	uint8_t status;                    /* enum faii_settle_gov_status */
	uint8_t failed_reason;             /* enum faii_settle_gov_reason, FAILED only */
	uint8_t change_count;
	struct faii_settle_gov_change changes[FAII_SETTLE_GOV_CHANGES_MAX];
};

/* One adopted change, in force from effective_epoch on. */
struct faii_settle_gov_adopted {
	uint64_t proposal_id;
	uint64_t effective_epoch;
	uint64_t adopted_epoch;
	uint32_t param;
	uint64_t value;
};

struct faii_settle_gov {
	struct faii_settle_gov_config config;
	uint64_t epoch; /* the latest epoch applied */
	uint64_t last_proposal_id;
	bool any_proposal;
	/* Values in force from base_epoch until the first held change; earlier
	 * epochs were folded away (queries answer -ERANGE). */
	faii_settle_gov_values base;
	uint64_t base_epoch;
	struct faii_settle_gov_proposal *proposals; /* by id, ascending */
	uint32_t proposal_count;
	struct faii_settle_gov_adopted *history; /* in adoption order */
	uint32_t history_count;
	/* Counters. */
	uint64_t refused[FAII_GOV_R_COUNT];
	uint64_t proposals_accepted, votes_accepted;
	uint64_t adopted, rejected, expired, failed, folded;
};

/* Bytes of the caller's memory a state with this configuration needs. */
size_t faii_settle_gov_bytes(const struct faii_settle_gov_config *config);
/*
 * Lays the state out in mem (bytes >= faii_settle_gov_bytes, aligned for
 * uint64_t). -EINVAL for a bad configuration (limits, genesis values out of
 * range or breaking a constraint), else 0 and *out.
 */
int faii_settle_gov_init(void *mem, size_t bytes, const struct faii_settle_gov_config *config,
                         struct faii_settle_gov **out);

/*
 * Applies a decoded GOV_PROPOSAL by validator `proposer`, at the committed
 * sequence `proposal_id` (its id), consortium time now_ms and epoch.
 */
enum faii_settle_gov_reason faii_settle_gov_propose(struct faii_settle_gov *gov,
                                                    const struct faii_settle_tx_gov_proposal *p,
                                                    uint32_t proposer, uint64_t proposal_id,
                                                    uint64_t now_ms, uint64_t epoch);
/* Applies a decoded GOV_VOTE by validator `voter`. */
enum faii_settle_gov_reason faii_settle_gov_vote(struct faii_settle_gov *gov,
                                                 const struct faii_settle_tx_gov_vote *v,
                                                 uint32_t voter, uint64_t now_ms, uint64_t epoch);
/*
 * The epoch advanced (called by the state machine at each epoch boundary,
 * and by propose and vote themselves): expires the open proposals whose
 * epoch came, re-counts the others over the validator set now in force
 * (a removed validator's vote no longer counts; a smaller set may adopt or
 * reject). An adoption that finds the history full first folds the
 * changes in force since before the previous period's start into the
 * base values.
 */
void faii_settle_gov_tick(struct faii_settle_gov *gov, uint64_t epoch);

/* ---- what is in force --------------------------------------------------- */

int faii_settle_gov_value_at(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                             uint64_t *value);
int faii_settle_gov_values_at(const struct faii_settle_gov *gov, uint64_t epoch,
                              faii_settle_gov_values values);
/*
 * Settlement's parameters in force at epoch. The epoch's measured queues
 * (queue_ppb) are not parameters: they are set to 0 for the caller to fill.
 */
int faii_settle_gov_params_at(const struct faii_settle_gov *gov, uint64_t epoch,
                              struct faii_settle_params *out);

/* n - f of a set of n validators, f = (n - 1) / 3. */
uint32_t faii_settle_gov_quorum(uint32_t validators);

/*
 * The values a proposal taking effect at `epoch` may give parameter id
 * under the step cap and the parameter's range, against the changes
 * adopted so far (later adopted changes may narrow it further; the
 * proposal's own check is the judge). For the validator set, [lo, hi] is
 * the parameter's range and the one-member rule still applies.
 */
int faii_settle_gov_step_range(const struct faii_settle_gov *gov, uint32_t id, uint64_t epoch,
                               uint64_t *lo, uint64_t *hi);

/* The proposal with that id, or NULL. */
const struct faii_settle_gov_proposal *faii_settle_gov_find(const struct faii_settle_gov *gov,
                                                            uint64_t id);
/* Proposals with id > after_id, ascending, at most cap: the count copied. */
uint32_t faii_settle_gov_list(const struct faii_settle_gov *gov, uint64_t after_id,
                              struct faii_settle_gov_proposal *out, uint32_t cap);
/* Adopted changes held, sorted by (proposal id, parameter): the count copied. */
uint32_t faii_settle_gov_changes(const struct faii_settle_gov *gov,
                                 struct faii_settle_gov_adopted *out, uint32_t cap);

/* ---- calibration (FAII 4.4) --------------------------------------------- */

/* One tier's observations over the calibration window (fleet totals). */
struct faii_settle_calib_tier {
	uint64_t verified_work; /* V_t: work units verified (majority, within SLO) */
	uint64_t answered;      /* tasks answered */
	uint64_t slo_hits;      /* of which within the SLO */
	uint64_t energy_wh;     /* site energy (PUE included) spent on its answered tasks */
	uint64_t busy_us;       /* node time spent on them (latency sums) */
	uint64_t queue_ppb_sum; /* sum over the window's epochs of its normalised queue q_t */
};

struct faii_settle_calib_input {
	uint32_t epochs;        /* the window, >= 1 */
	uint64_t energy_weight; /* cost units per Wh */
	uint64_t time_weight;   /* cost units per node-second */
	struct faii_settle_calib_tier tier[FAII_SETTLE_TIERS];
};

enum {
	FAII_CALIB_NO_DATA = 1u << 0,    /* no verified work or no cost: kept as in force */
	FAII_CALIB_CLAMPED_UP = 1u << 1, /* raised to the cap's floor: the estimate is lower */
	FAII_CALIB_CLAMPED_DOWN = 1u
	                          << 2, /* lowered to the cap's ceiling: the estimate is higher */
};

struct faii_settle_calib_result {
	/* Per tier, the terms of the estimate (docs/settlement.md). */
	double cost_per_unit[FAII_SETTLE_TIERS];  /* c_t, cost units per verified work unit */
	double slo_mult[FAII_SETTLE_TIERS];       /* m_SLO,t at the fleet's success (29) */
	double surcharge[FAII_SETTLE_TIERS];      /* 1 + gamma_t q_bar_t (32) */
	double estimate[FAII_SETTLE_TIERS];       /* theta0_t, tier 1 = 1 */
	uint64_t estimate_ppb[FAII_SETTLE_TIERS]; /* rounded to the nearest ppb */
	uint64_t in_force_ppb[FAII_SETTLE_TIERS];
	uint64_t proposed_ppb[FAII_SETTLE_TIERS]; /* within the step cap at the epoch */
	uint32_t flags[FAII_SETTLE_TIERS];
};

/*
 * The tier factors the observations call for, given the parameters in
 * force (gamma_t, the SLO targets, exponents and caps, theta0 for tiers
 * without data): result's cost_per_unit .. estimate_ppb, in_force_ppb.
 * -EINVAL for an empty window or tier 1 without data (the unit of the
 * scale). Floating point: it proposes; the vote decides.
 */
int faii_settle_calibrate_estimate(const struct faii_settle_calib_input *in,
                                   const struct faii_settle_params *in_force,
                                   struct faii_settle_calib_result *result);
/*
 * Clamps the estimate to what governance would accept for a proposal
 * taking effect at effective_epoch (faii_settle_gov_step_range), flags
 * what was clamped, and fills the GOV_PROPOSAL of the tiers that change.
 * 0; -ERANGE (history folded); -EDOM when the clamped factors would not
 * increase with the tier (then nothing is proposed); -ENODATA when nothing
 * changes.
 */
int faii_settle_calibrate_propose(const struct faii_settle_gov *gov, uint64_t effective_epoch,
                                  struct faii_settle_calib_result *result,
                                  struct faii_settle_tx_gov_proposal *proposal);

#endif /* FAII_SETTLE_GOV_H */
