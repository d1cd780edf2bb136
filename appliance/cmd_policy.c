/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.get, policy.set, and the share changes a dry run reports: see
 * docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/publish.h"
#include "faii/routing.h"

#define CHANGES_LIST_MAX 32u  /* keys listed by a dry run */
#define SHARE_CHANGE_MIN 1e-4 /* smaller share moves are not reported */

/* ---- shares before and after ------------------------------------------------------- */

struct share_change {
	uint32_t key;
	double max_delta;
};

/* Solves every key under cfg as it is now and reports how the shares
 * differ from the published set. */
json_t *cmd_share_changes(struct faii_control *c)
{
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	const struct faii_route_set *cur = faii_publisher_current(&a->pub);
	struct faii_route_fleet fleet;
	faii_publisher_fleet(&a->pub, &fleet);
	static struct faii_route_table solved;
	static float before[FAII_CFG_NODES_MAX];
	json_t *keys = json_array();
	uint32_t changed = 0, total = 0;
	double worst = 0;
	for (uint32_t r = 0; r < cfg->region_count; r++) {
		for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
			for (uint32_t k = 0; k < cfg->residency_class_count; k++) {
				uint16_t cls = cfg->residency_classes[k].id;
				uint32_t key = faii_route_key_index((uint8_t)r, cat, cls);
				struct faii_route_key rk = {.region = cfg->regions[r].id,
				                            .category = cat,
				                            .residency_class = (uint8_t)cls,
				                            .arrival_rate =
				                                    a->pub.arrival_rate[key]};
				if (faii_route_solve(cfg, a->reg.state, &fleet, &rk, &solved,
				                     NULL) != 0)
					continue;
				total++;
				const struct faii_route_dp_table *old =
				        cur ? faii_route_set_lookup(cur, rk.region, cat, cls)
				            : NULL;
				/* Per node: old share, new share, largest move. */
				double max_delta = 0;
				json_t *moves = json_array();
				for (unsigned i = 0; old && i < old->count; i++)
					before[old->cand[i].node] = old->share[i];
				for (unsigned i = 0; i < solved.count; i++) {
					double was = before[solved.node[i]];
					double d = fabs(solved.share[i] - was);
					before[solved.node[i]] = -1.0f; /* seen */
					if (d > max_delta)
						max_delta = d;
					if (d > SHARE_CHANGE_MIN && json_array_size(moves) < 8)
						json_array_append_new(
						        moves,
						        json_pack("{s:I, s:f, s:f}", "node",
						                  (json_int_t)cfg
						                          ->nodes[solved.node[i]]
						                          .id,
						                  "before", was < 0 ? 0.0 : was,
						                  "after",
						                  (double)solved.share[i]));
				}
				for (unsigned i = 0; old && i < old->count; i++) {
					float was = before[old->cand[i].node];
					if (was >= 0) { /* left the table */
						if (was > max_delta)
							max_delta = was;
						if (was > SHARE_CHANGE_MIN &&
						    json_array_size(moves) < 8)
							json_array_append_new(
							        moves,
							        json_pack("{s:I, s:f, s:f}", "node",
							                  (json_int_t)old->cand[i]
							                          .node_id,
							                  "before", (double)was,
							                  "after", 0.0));
					}
					before[old->cand[i].node] = 0;
				}
				for (unsigned i = 0; i < solved.count; i++)
					before[solved.node[i]] = 0;
				if (max_delta > worst)
					worst = max_delta;
				if (max_delta <= SHARE_CHANGE_MIN) {
					json_decref(moves);
					continue;
				}
				changed++;
				if (json_array_size(keys) < CHANGES_LIST_MAX)
					json_array_append_new(
					        keys,
					        json_pack("{s:s, s:s, s:s, s:f, s:o}", "region",
					                  cfg->regions[r].name, "category",
					                  faii_category_name(cat), "class",
					                  cfg->residency_classes[k].name,
					                  "max_share_change", max_delta, "nodes",
					                  moves));
				else
					json_decref(moves);
			}
		}
	}
	return json_pack("{s:I, s:I, s:f, s:o}", "keys", (json_int_t)total, "keys_changed",
	                 (json_int_t)changed, "max_share_change", worst, "changes", keys);
}

/* ---- policy ------------------------------------------------------------------------ */

static void param_json(const struct faii_policy_param *p, void *ctx)
{
	json_t *list = ctx;
	json_t *o = json_pack("{s:s, s:f, s:f, s:f, s:b, s:b}", "name", p->name, "value", p->value,
	                      "min", isfinite(p->min) ? p->min : -1e308, "max",
	                      isfinite(p->max) ? p->max : 1e308, "min_open", p->min_open,
	                      "max_open", p->max_open);
	if (p->integer)
		json_object_set_new(o, "value", json_integer((json_int_t)p->value));
	json_array_append_new(list, o);
}

json_t *cmd_policy_get(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	json_t *list = json_array();
	faii_policy_foreach(&c->app->reg.cfg->policy, param_json, list);
	return json_pack("{s:o}", "params", list);
}

bool cmd_step_cap_ok(struct faii_control *c, const struct faii_policy *next,
                     struct faii_ctl_error *err)
{
	const struct faii_policy *cur = &c->app->reg.cfg->policy;
	uint64_t now = faii_realtime_ns();
	if (!c->governance_started) {
		faii_policy_period_begin(&c->governance, cur, now);
		c->governance_started = true;
	}
	faii_policy_period_roll(&c->governance, cur, now);
	char msg[FAII_CFG_ERR_LEN];
	if (faii_policy_step_check(&c->governance, next, now, msg) == 0)
		return true;
	faii_ctl_fail(err, "step_cap_exceeded", "%s", msg);
	return false;
}

json_t *cmd_policy_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"params", "dry_run", NULL};
	bool dry_run;
	if (!cmd_args_known(args, known, err) || !cmd_arg_bool(args, "dry_run", &dry_run, err))
		return NULL;
	json_t *params = json_object_get(args, "params");
	if (!json_is_object(params) || json_object_size(params) == 0)
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"params\": expected {\"name\": number, ...}");
	struct faii_config *cfg = c->app->reg.cfg;
	struct faii_policy next = cfg->policy;
	const char *name;
	json_t *v;
	char msg[FAII_CFG_ERR_LEN];
	json_object_foreach(params, name, v)
	{
		if (!json_is_number(v))
			return faii_ctl_fail(err, "invalid_argument",
			                     "policy.%s: expected a number", name);
		int rc = faii_policy_set(&next, name, json_number_value(v), msg);
		if (rc == -2)
			return faii_ctl_fail(err, "invalid_argument", "%s", msg);
		if (rc != 0)
			return faii_ctl_fail(err, "out_of_range", "%s", msg);
	}
	if (faii_policy_check(&next, msg) != 0)
		return faii_ctl_fail(err, "out_of_range", "%s", msg);
	if (!cmd_step_cap_ok(c, &next, err))
		return NULL;
	/* Solve under the new policy (control thread: nobody else reads cfg). */
	struct faii_policy prev = cfg->policy;
	cfg->policy = next;
	json_t *changes = cmd_share_changes(c);
	if (dry_run)
		cfg->policy = prev;
	else
		faii_appliance_publish(c->app);
	return json_pack("{s:b, s:o}", "applied", !dry_run, "changes", changes);
}
