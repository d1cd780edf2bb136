/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * route.explain: see docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/routing.h"

#define EXPLAIN_LIST_MAX 256u /* excluded nodes listed by route.explain */

/* ---- route explain ------------------------------------------------------------------ */

/* The terms of a candidate's value and reward (docs/routing.md 2, 3a). */
static json_t *terms_json(const struct faii_config *cfg, const struct faii_route_node_state *st,
                          const struct faii_route_fleet *fleet, uint32_t slot, uint8_t cat)
{
	const struct faii_cfg_node *n = &cfg->nodes[slot];
	struct faii_route_terms tm;
	faii_route_terms(cfg, &st[slot], fleet, n, cat, &tm);
	json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "esg", tm.esg,
	                      "esg_relative", tm.esg_rel, "slo_success",
	                      st[slot].slo_success[faii_category_tier(cat) - 1], "price", n->price,
	                      "reward_multiplier", tm.reward_mult, "reward", tm.reward,
	                      "energy_kwh", tm.energy_kwh, "energy_cost", tm.energy_cost,
	                      "class_price", fleet->class_price[n->node_class], "value", tm.value);
	json_object_set_new(o, "class", json_string(faii_node_class_name(n->node_class)));
	return o;
}

json_t *cmd_route_explain(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"region",         "category", "class", "budget_us",
	                                    "min_reputation", "family",   NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	uint16_t region, cls;
	uint8_t cat;
	if (!cmd_arg_region(cfg, args, &region, err) || !cmd_arg_category(args, &cat, err) ||
	    !cmd_arg_class(cfg, args, "class", &cls, err))
		return NULL;
	uint64_t budget = faii_category_latency_budget_us(cat), min_rep = 0;
	if (json_object_get(args, "budget_us") &&
	    !cmd_arg_uint(args, "budget_us", UINT32_MAX, &budget, err))
		return NULL;
	if (json_object_get(args, "min_reputation") &&
	    !cmd_arg_uint(args, "min_reputation", FAII_REPUTATION_MILLI_MAX, &min_rep, err))
		return NULL;
	/* A task's copies go to nodes of its own address family (docs/routing.md 4). */
	uint8_t family = FAII_ADDR_IPV4;
	json_t *fam = json_object_get(args, "family");
	if (fam != NULL) {
		const char *f = json_string_value(fam);
		if (f == NULL || (strcmp(f, "ipv4") != 0 && strcmp(f, "ipv6") != 0))
			return faii_ctl_fail(err, "invalid_argument",
			                     "family: expected \"ipv4\" or \"ipv6\"");
		family = strcmp(f, "ipv6") == 0 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4;
	}

	/* Why each node is in or out: the solver's view now. */
	static struct faii_route_table solved;
	static struct faii_route_explain ex;
	struct faii_route_fleet fleet;
	faii_publisher_fleet(&a->pub, &fleet);
	uint8_t slot = 0;
	for (uint32_t r = 0; r < cfg->region_count; r++) {
		if (cfg->regions[r].id == region)
			slot = (uint8_t)r;
	}
	struct faii_route_key rk = {
	        .region = region,
	        .category = cat,
	        .residency_class = (uint8_t)cls,
	        .arrival_rate = a->pub.arrival_rate[faii_route_key_index(slot, cat, cls)]};
	if (faii_route_solve(cfg, a->reg.state, &fleet, &rk, &solved, &ex) != 0)
		return faii_ctl_fail(err, "not_found", "no such key");
	json_t *excluded = json_array();
	uint32_t by_reason[FAII_ROUTE_EX_COUNT] = {0};
	for (uint32_t i = 0; i < ex.node_count; i++) {
		by_reason[ex.exclusion[i]]++;
		if (ex.exclusion[i] != FAII_ROUTE_EX_NONE &&
		    json_array_size(excluded) < EXPLAIN_LIST_MAX)
			json_array_append_new(
			        excluded,
			        json_pack("{s:I, s:s}", "node", (json_int_t)cfg->nodes[i].id,
			                  "reason",
			                  faii_route_exclusion_name(
			                          (enum faii_route_exclusion)ex.exclusion[i])));
	}
	json_t *reasons = json_object();
	for (unsigned r = 1; r < FAII_ROUTE_EX_COUNT; r++)
		json_object_set_new(reasons,
		                    faii_route_exclusion_name((enum faii_route_exclusion)r),
		                    json_integer(by_reason[r]));

	/* What the dataplane uses: the published table, and the per-packet
	 * re-check applied to it now. The candidate a draw lands on most
	 * often is the feasible one with the largest share. */
	const struct faii_route_set *set = faii_publisher_current(&a->pub);
	const struct faii_route_dp_table *t =
	        set ? faii_route_set_lookup(set, region, cat, cls) : NULL;
	json_t *cands = json_array();
	int best = -1;
	double feasible_share = 0;
	const struct faii_route_dp_family *tf = t ? &t->family[FAII_ROUTE_FAMILY(family)] : NULL;
	for (unsigned k = 0; t && k < t->count; k++) {
		const struct faii_route_cand *cd = &t->cand[k];
		const struct faii_node_live *lv = &a->reg.live[cd->node];
		const char *why = NULL;
		if (cd->addr_family != family)
			why = "other_address_family";
		else if (atomic_load(&lv->status) != FAII_NODE_ACTIVE)
			why = "not_active";
		else if (atomic_load(&lv->reputation_milli) < min_rep)
			why = "reputation_below_minimum";
		else if (cd->latency_us > budget)
			why = "latency_over_budget";
		else if (atomic_load(&lv->outstanding) >= atomic_load(&lv->limit))
			why = "at_load_limit";
		if (why == NULL) {
			feasible_share += tf->share[k];
			if (best < 0 || tf->share[k] > tf->share[best])
				best = (int)k;
		}
		json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:s}", "node",
		                      (json_int_t)cd->node_id, "share", (double)tf->share[k],
		                      "key_share", (double)t->share[k], "set3_inclusion",
		                      (double)tf->incl[0][k], "set7_inclusion",
		                      (double)tf->incl[1][k], "value", (double)ex.value[cd->node],
		                      "latency_us", (json_int_t)cd->latency_us, "outstanding",
		                      (json_int_t)atomic_load(&lv->outstanding), "limit",
		                      (json_int_t)atomic_load(&lv->limit), "operator",
		                      cfg->operators[cd->operator_idx]);
		json_object_set_new(o, "per_packet",
		                    why ? json_string(why) : json_string("feasible"));
		json_object_set_new(o, "terms",
		                    terms_json(cfg, a->reg.state, &fleet, cd->node, cat));
		json_array_append_new(cands, o);
	}
	json_t *pick =
	        best >= 0 ? json_pack("{s:I, s:f}", "node", (json_int_t)t->cand[best].node_id,
	                              "probability",
	                              feasible_share > 0 ? tf->share[best] / feasible_share : 0.0)
	                  : json_null();
	json_t *flags = json_array();
	uint16_t fl = tf ? tf->flags : FAII_ROUTE_F_EMPTY;
	if (fl & FAII_ROUTE_F_EMPTY)
		json_array_append_new(flags, json_string("empty"));
	if (fl & FAII_ROUTE_F_CAPS_RELAXED)
		json_array_append_new(flags, json_string("operator_cap_relaxed"));
	if (fl & FAII_ROUTE_F_FEW_OPERATORS)
		json_array_append_new(flags, json_string("fewer_operators_than_required"));
	if (fl & FAII_ROUTE_F_EDGE_SHORT)
		json_array_append_new(flags, json_string("edge_reserve_short"));
	if (fl & FAII_ROUTE_F_SET3_CAPS_RELAXED)
		json_array_append_new(flags, json_string("session_set_operator_cap_relaxed"));
	if (fl & FAII_ROUTE_F_SET7_CAPS_RELAXED)
		json_array_append_new(flags, json_string("strong_set_operator_cap_relaxed"));
	json_t *res =
	        json_pack("{s:{s:i, s:s, s:s, s:s}, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I}",
	                  "key", "region", region, "category", faii_category_name(cat), "class",
	                  faii_config_residency_class(cfg, cls)->name, "family",
	                  family == FAII_ADDR_IPV6 ? "ipv6" : "ipv4", "nodes",
	                  (json_int_t)ex.node_count, "feasible", (json_int_t)ex.feasible,
	                  "operators", (json_int_t)ex.operators, "excluded_by_reason", reasons,
	                  "excluded", excluded, "candidates", cands, "would_pick", pick, "flags",
	                  flags, "generation", (json_int_t)(set ? set->generation : 0));
	/* What every candidate's terms are relative to. */
	json_t *prices = json_object();
	for (uint8_t k = 0; k < FAII_CLASS_COUNT; k++)
		json_object_set_new(prices, faii_node_class_name(k),
		                    json_real(fleet.class_price[k]));
	json_object_set_new(res, "fleet",
	                    json_pack("{s:f, s:f, s:f, s:o}", "price_mean", fleet.price_mean,
	                              "esg_mean", fleet.esg_mean[cat - 1], "energy_price",
	                              cfg->policy.energy_price, "class_price", prices));
	/* The operator cap the family's solve settled on (raised when relaxed). */
	json_object_set_new(res, "operator_cap",
	                    json_real(solved.family_beta[FAII_ROUTE_FAMILY(family)]));
	return res;
}
