/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * calibrate and calibrate.submit: tier factors proposed from observations
 * (docs/settlement.md, "Calibration" and "Operating"). The observations
 * are the ledger's: the window of the last `epochs` settled epochs
 * settlement keeps (faii_settle_state_calib_window), priced with the
 * request's weights; or, with `input`, a window given by hand (`faiictl
 * calibrate --input FILE`). The parameters in force and the step cap are
 * this appliance's settlement's. calibrate only prints the proposal;
 * calibrate.submit (admin) submits it as a GOV_PROPOSAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "faii/assert.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "settlement.h"

static const char *const tier_fields[] = {"verified_work", "answered", "slo_hits",
                                          "energy_wh",     "busy_us",  "queue_ppb_sum"};
#define TIER_FIELDS (sizeof(tier_fields) / sizeof(tier_fields[0]))

/* The ledger's window when the request names no weights: energy alone,
 * one cost unit per Wh (FAII 4.4's "energy intensity"). */
#define ENERGY_WEIGHT_DEFAULT 1u
#define TIME_WEIGHT_DEFAULT   0u

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

/* The ledger's window the estimate used. */
struct calibrate_window {
	uint32_t epochs_asked;
	int rc; /* faii_settle_state_calib_window's */
	uint64_t first_epoch, last_epoch, energy_unattributed_wh;
};

struct calibrate_read {
	struct faii_settle_calib_input *input;
	bool from_ledger; /* else input is the request's */
	struct calibrate_window window;
	bool epoch_given;
	uint64_t epoch; /* effective */
	int estimate_rc, propose_rc;
	struct faii_settle_calib_result result;
	struct faii_settle_tx_gov_proposal proposal;
};

/* The last epochs_asked settled epochs' observations, with the weights
 * the request gave (input's, kept across the sum). */
static void read_window(const struct faii_settle_state *state, struct calibrate_window *w,
                        struct faii_settle_calib_input *input)
{
	uint64_t energy_weight = input->energy_weight, time_weight = input->time_weight;
	w->rc = faii_settle_state_calib_window(state, w->epochs_asked, input);
	input->energy_weight = energy_weight, input->time_weight = time_weight;
	if (w->rc != 0)
		return;
	for (uint32_t k = 0; k < input->epochs; k++) {
		struct faii_settle_calib_epoch epoch;
		FAII_ASSERT(faii_settle_state_calib_epoch(state, k, &epoch) == 0);
		if (k == 0)
			w->last_epoch = epoch.epoch;
		w->first_epoch = epoch.epoch;
		w->energy_unattributed_wh += epoch.energy_unattributed_wh;
	}
}

static void read_calibrate(void *ctx, const struct faii_settle_state *state)
{
	struct calibrate_read *r = ctx;
	const struct faii_settle_gov *gov = faii_settle_state_gov(state);
	if (r->from_ledger) {
		read_window(state, &r->window, r->input);
		if (r->window.rc != 0)
			return;
	}
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
	else /* nothing proposed: every factor stays as in force */
		memcpy(r->result.proposed_ppb, r->result.in_force_ppb,
		       sizeof(r->result.proposed_ppb));
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

/* The request's observations: `input`, or the size and weights of the
 * ledger's window. */
static bool parse_source(json_t *args, struct calibrate_read *r, struct faii_ctl_error *err)
{
	static const char *const ledger_only[] = {"epochs", "energy_weight", "time_weight"};
	if (json_object_get(args, "input") != NULL) {
		for (size_t k = 0; k < sizeof(ledger_only) / sizeof(ledger_only[0]); k++)
			if (json_object_get(args, ledger_only[k]) != NULL) {
				faii_ctl_fail(err, "invalid_argument",
				              "argument \"%s\": the input gives the window and its "
				              "weights",
				              ledger_only[k]);
				return false;
			}
		return parse_input(args, r->input, err);
	}
	uint64_t epochs = FAII_SETTLE_CALIB_EPOCHS_MAX;
	r->input->energy_weight = ENERGY_WEIGHT_DEFAULT;
	r->input->time_weight = TIME_WEIGHT_DEFAULT;
	if (!cmd_arg_uint_opt(args, "epochs", FAII_SETTLE_CALIB_EPOCHS_MAX, &epochs, err) ||
	    !cmd_arg_uint_opt(args, "energy_weight", INT64_MAX, &r->input->energy_weight, err) ||
	    !cmd_arg_uint_opt(args, "time_weight", INT64_MAX, &r->input->time_weight, err))
		return false;
	if (epochs == 0) {
		faii_ctl_fail(err, "out_of_range", "argument \"epochs\": expected 1..%u",
		              FAII_SETTLE_CALIB_EPOCHS_MAX);
		return false;
	}
	r->from_ledger = true;
	r->window.epochs_asked = (uint32_t)epochs;
	return true;
}

/* Where the observations came from, and what they were. */
static json_t *window_json(const struct calibrate_read *r)
{
	const struct faii_settle_calib_input *in = r->input;
	json_t *w = json_object();
	json_object_set_new(w, "source", json_string(r->from_ledger ? "ledger" : "input"));
	if (r->from_ledger) {
		cmd_set_u64(w, "first_epoch", r->window.first_epoch);
		cmd_set_u64(w, "last_epoch", r->window.last_epoch);
	}
	cmd_set_u64(w, "epochs", in->epochs);
	cmd_set_u64(w, "energy_weight", in->energy_weight);
	cmd_set_u64(w, "time_weight", in->time_weight);
	if (r->from_ledger)
		cmd_set_u64(w, "energy_unattributed_wh", r->window.energy_unattributed_wh);
	json_t *tiers = json_array();
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		const struct faii_settle_calib_tier *o = &in->tier[t];
		json_t *row = json_object();
		cmd_set_u64(row, "tier", t + 1);
		const uint64_t values[TIER_FIELDS] = {o->verified_work, o->answered,
		                                      o->slo_hits,      o->energy_wh,
		                                      o->busy_us,       o->queue_ppb_sum};
		for (size_t f = 0; f < TIER_FIELDS; f++)
			cmd_set_u64(row, tier_fields[f], values[f]);
		json_array_append_new(tiers, row);
	}
	json_object_set_new(w, "observations", tiers);
	return w;
}

/* The refusals after the read: false (and err) when there is no estimate to show. */
static bool read_succeeded(const struct calibrate_read *r, struct faii_ctl_error *err)
{
	if (r->from_ledger && r->window.rc != 0)
		faii_ctl_fail(err, "conflict",
		              "no epoch has settled yet: the ledger holds no observations (give "
		              "them with --input FILE)");
	else if (r->estimate_rc == -ERANGE)
		faii_ctl_fail(err, "out_of_range",
		              "epoch %" PRIu64 " is older than governance's history", r->epoch);
	else if (r->estimate_rc != 0 && !r->from_ledger)
		faii_ctl_fail(err, "invalid_argument",
		              "input: tier 1 needs verified work and a cost (it is the unit of the "
		              "scale)");
	else
		return true;
	return false;
}

static json_t *calibrate(struct faii_control *c, json_t *args, bool submit,
                         struct faii_ctl_error *err)
{
	static const char *const known[] = {"input",         "epoch",       "epochs",
	                                    "energy_weight", "time_weight", NULL};
	struct faii_settle_calib_input input = {0};
	struct calibrate_read r = {.input = &input};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !parse_source(args, &r, err) ||
	    !cmd_arg_uint_opt(args, "epoch", INT64_MAX, &r.epoch, err))
		return NULL;
	r.epoch_given = json_object_get(args, "epoch") != NULL;
	faii_settlement_read(c->settlement, read_calibrate, &r);
	if (!read_succeeded(&r, err))
		return NULL;
	/* The ledger's window without tier 1's data: shown, nothing to propose. */
	bool no_data = r.estimate_rc != 0;
	json_t *result = json_object();
	cmd_set_u64(result, "effective_epoch", r.epoch);
	json_object_set_new(result, "window", window_json(&r));
	json_t *tiers = json_array();
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		json_array_append_new(tiers, tier_json(&r.result, t));
	json_object_set_new(result, "tiers", tiers);
	const char *outcome = no_data ? "no_data" : propose_outcome(r.propose_rc);
	json_object_set_new(result, "outcome", json_string(outcome));
	json_t *changes = json_array();
	for (uint32_t k = 0; !no_data && r.propose_rc == 0 && k < r.proposal.change_count; k++)
		json_array_append_new(changes, cmd_gov_change_json(r.proposal.changes[k].param,
		                                                   r.proposal.changes[k].value));
	json_object_set_new(result, "changes", changes);
	if (!submit)
		return result;
	bool proposable = !no_data && r.propose_rc == 0;
	json_t *submitted = proposable ? cmd_gov_submit_proposal(c, &r.proposal, err) : NULL;
	if (!proposable)
		faii_ctl_fail(err, "conflict", "nothing to submit: %s", outcome);
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
