/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * calibrate and calibrate.submit: tier factors proposed from observations
 * (docs/settlement.md, "Calibration" and "Operating"). Settlement does not
 * keep the per-tier window the estimate needs (energy and node time per
 * tier over many epochs), so the observations come with the request
 * (`faiictl calibrate --input FILE`); the parameters in force and the step
 * cap are this appliance's settlement's. calibrate only prints the
 * proposal; calibrate.submit (admin) submits it as a GOV_PROPOSAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "settlement.h"

static const char *const tier_fields[] = {"verified_work", "answered", "slo_hits",
                                          "energy_wh",     "busy_us",  "queue_ppb_sum"};
#define TIER_FIELDS (sizeof(tier_fields) / sizeof(tier_fields[0]))

/* object[key] as an unsigned integer up to max; `where` names it in errors. */
static bool field_uint(json_t *object, const char *where, const char *key, uint64_t max,
                       uint64_t *out, struct faii_ctl_error *err)
{
	json_t *v = json_object_get(object, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		faii_ctl_fail(err, "invalid_argument",
		              "input%s.%s: expected an integer in 0..%" PRIu64, where, key, max);
		return false;
	}
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool parse_tier(json_t *tier, uint32_t t, struct faii_settle_calib_tier *out,
                       struct faii_ctl_error *err)
{
	char where[24];
	snprintf(where, sizeof(where), ".tiers[%u]", t);
	uint64_t *fields[TIER_FIELDS] = {&out->verified_work, &out->answered, &out->slo_hits,
	                                 &out->energy_wh,     &out->busy_us,  &out->queue_ppb_sum};
	if (!json_is_object(tier)) {
		faii_ctl_fail(err, "invalid_argument", "input%s: expected an object", where);
		return false;
	}
	for (size_t f = 0; f < TIER_FIELDS; f++)
		if (!field_uint(tier, where, tier_fields[f], INT64_MAX, fields[f], err))
			return false;
	if (out->slo_hits > out->answered) {
		faii_ctl_fail(err, "invalid_argument", "input%s: slo_hits exceeds answered", where);
		return false;
	}
	return true;
}

/* The request's observations (docs/settlement.md, "Operating": the schema). */
static bool parse_input(json_t *args, struct faii_settle_calib_input *in,
                        struct faii_ctl_error *err)
{
	json_t *input = json_object_get(args, "input");
	json_t *tiers = json_object_get(input, "tiers");
	uint64_t epochs = 0;
	if (!json_is_object(input) || !json_is_array(tiers) ||
	    json_array_size(tiers) != FAII_SETTLE_TIERS) {
		faii_ctl_fail(err, "invalid_argument",
		              "argument \"input\": expected {\"epochs\", \"energy_weight\", "
		              "\"time_weight\", \"tiers\": [%u tier objects]}",
		              FAII_SETTLE_TIERS);
		return false;
	}
	if (!field_uint(input, "", "epochs", UINT32_MAX, &epochs, err) ||
	    !field_uint(input, "", "energy_weight", INT64_MAX, &in->energy_weight, err) ||
	    !field_uint(input, "", "time_weight", INT64_MAX, &in->time_weight, err))
		return false;
	if (epochs == 0) {
		faii_ctl_fail(err, "out_of_range", "input.epochs: expected at least 1");
		return false;
	}
	in->epochs = (uint32_t)epochs;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		if (!parse_tier(json_array_get(tiers, t), t, &in->tier[t], err))
			return false;
	return true;
}

struct calibrate_read {
	const struct faii_settle_calib_input *input;
	bool epoch_given;
	uint64_t epoch; /* effective */
	int estimate_rc, propose_rc;
	struct faii_settle_calib_result result;
	struct faii_settle_tx_gov_proposal proposal;
};

static void read_calibrate(void *ctx, const struct faii_settle_state *state)
{
	struct calibrate_read *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	if (!r->epoch_given) {
		struct faii_settle_stats stats;
		faii_settle_get_stats(state, &stats);
		r->epoch = stats.current_epoch + gov->config.notice_epochs;
	}
	struct faii_settle_params in_force;
	r->estimate_rc = faii_settle_gov_params_at(gov, r->epoch, &in_force);
	if (r->estimate_rc == 0)
		r->estimate_rc = faii_settle_calibrate_estimate(r->input, &in_force, &r->result);
	if (r->estimate_rc == 0)
		r->propose_rc =
		        faii_settle_calibrate_propose(gov, r->epoch, &r->result, &r->proposal);
}

static json_t *tier_json(const struct faii_settle_calib_result *res, uint32_t t)
{
	json_t *flags = json_array();
	if (res->flags[t] & FAII_CALIB_NO_DATA)
		json_array_append_new(flags, json_string("no_data"));
	if (res->flags[t] & FAII_CALIB_CLAMPED_UP)
		json_array_append_new(flags, json_string("clamped_up"));
	if (res->flags[t] & FAII_CALIB_CLAMPED_DOWN)
		json_array_append_new(flags, json_string("clamped_down"));
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:o}", "tier", (json_int_t)t + 1,
	                 "cost_per_unit", res->cost_per_unit[t], "slo_mult", res->slo_mult[t],
	                 "surcharge", res->surcharge[t], "estimate", res->estimate[t],
	                 "estimate_ppb", (json_int_t)res->estimate_ppb[t], "in_force_ppb",
	                 (json_int_t)res->in_force_ppb[t], "proposed_ppb",
	                 (json_int_t)res->proposed_ppb[t], "flags", flags);
}

static const char *propose_outcome(int rc)
{
	switch (rc) {
	case 0: return "proposed";
	case -ENODATA: return "nothing_changes";
	case -EDOM: return "factors_not_increasing";
	default: return "history_folded";
	}
}

static json_t *calibrate(struct faii_control *c, json_t *args, bool submit,
                         struct faii_ctl_error *err)
{
	static const char *const known[] = {"input", "epoch", NULL};
	struct faii_settle_calib_input input = {0};
	struct calibrate_read r = {.input = &input};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !parse_input(args, &input, err) ||
	    !cmd_arg_uint_opt(args, "epoch", INT64_MAX, &r.epoch, err))
		return NULL;
	r.epoch_given = json_object_get(args, "epoch") != NULL;
	faii_settlement_read(c->settlement, read_calibrate, &r);
	if (r.estimate_rc == -ERANGE)
		return faii_ctl_fail(err, "out_of_range",
		                     "epoch %" PRIu64 " is older than governance's history",
		                     r.epoch);
	if (r.estimate_rc != 0)
		return faii_ctl_fail(err, "invalid_argument",
		                     "input: tier 1 needs verified work and a cost (it is the unit "
		                     "of the scale)");
	json_t *result = json_object();
	cmd_set_u64(result, "effective_epoch", r.epoch);
	json_t *tiers = json_array();
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		json_array_append_new(tiers, tier_json(&r.result, t));
	json_object_set_new(result, "tiers", tiers);
	json_object_set_new(result, "outcome", json_string(propose_outcome(r.propose_rc)));
	json_t *changes = json_array();
	for (uint32_t k = 0; r.propose_rc == 0 && k < r.proposal.change_count; k++)
		json_array_append_new(changes, cmd_gov_change_json(r.proposal.changes[k].param,
		                                                   r.proposal.changes[k].value));
	json_object_set_new(result, "changes", changes);
	if (!submit)
		return result;
	json_t *submitted = r.propose_rc == 0 ? cmd_gov_submit_proposal(c, &r.proposal, err) : NULL;
	if (r.propose_rc != 0)
		faii_ctl_fail(err, "conflict", "nothing to submit: %s",
		              propose_outcome(r.propose_rc));
	if (submitted == NULL) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(result, "submitted", submitted);
	return result;
}

json_t *cmd_calibrate(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	return calibrate(c, args, false, err);
}

json_t *cmd_calibrate_submit(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	return calibrate(c, args, true, err);
}
