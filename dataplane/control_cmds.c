/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's commands: see docs/control.md for each one.
 */
#include "faii/clock.h"
#include "control_cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "faii/audit.h"
#include "metrics.h"
#include "faii/publish.h"
#include "faii/routing.h"
#include "faii/wire.h"

#define VERSION           "0.1.0"
#define EXPLAIN_LIST_MAX  256u  /* excluded nodes listed by route.explain */
#define CHANGES_LIST_MAX  32u   /* keys listed by a dry run */
#define SHARE_CHANGE_MIN  1e-4  /* smaller share moves are not reported */
#define NODE_LIST_DEFAULT 1000u /* node.list pages: about 200 KiB of JSON */
#define NODE_LIST_MAX     2000u

/* ---- arguments ------------------------------------------------------------------------ */

static bool arg_uint(json_t *args, const char *key, uint64_t max, uint64_t *out,
                     struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, key);
	if (v == NULL) {
		faii_ctl_fail(err, "invalid_argument", "argument \"%s\" is required", key);
		return false;
	}
	if (!json_is_integer(v)) {
		faii_ctl_fail(err, "invalid_argument", "argument \"%s\": expected an integer", key);
		return false;
	}
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max) {
		faii_ctl_fail(err, "out_of_range",
		              "argument \"%s\": expected 0..%" PRIu64
		              ", found %" JSON_INTEGER_FORMAT,
		              key, max, i);
		return false;
	}
	*out = (uint64_t)i;
	return true;
}

static bool arg_bool(json_t *args, const char *key, bool *out, struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, key);
	if (v == NULL) {
		*out = false;
		return true;
	}
	if (!json_is_boolean(v)) {
		faii_ctl_fail(err, "invalid_argument", "argument \"%s\": expected true or false",
		              key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

/* Refuses arguments the command does not know: a typo must not pass. */
static bool args_known(json_t *args, const char *const *known, struct faii_ctl_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v)
	{
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok |= strcmp(*k, key) == 0;
		if (!ok) {
			faii_ctl_fail(err, "invalid_argument", "unknown argument \"%s\"", key);
			return false;
		}
	}
	return true;
}

static int32_t arg_node(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	uint64_t id;
	if (!arg_uint(args, "id", FAII_NODE_ID_MAX, &id, err))
		return -1;
	int32_t slot = faii_registry_find(&c->app->reg, (uint32_t)id);
	if (slot < 0) {
		faii_ctl_fail(err, "not_found", "node %" PRIu64 " is not registered", id);
		return -1;
	}
	return slot;
}

/* A region, category or class given by id or by name. */
static bool arg_region(const struct faii_config *cfg, json_t *args, uint16_t *out,
                       struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, "region");
	for (uint32_t r = 0; v && r < cfg->region_count; r++) {
		if ((json_is_integer(v) && json_integer_value(v) == cfg->regions[r].id) ||
		    (json_is_string(v) &&
		     strcmp(json_string_value(v), cfg->regions[r].name) == 0)) {
			*out = cfg->regions[r].id;
			return true;
		}
	}
	faii_ctl_fail(err, v ? "not_found" : "invalid_argument",
	              v ? "no such region" : "argument \"region\" (id or name) is required");
	return false;
}

static bool arg_category(json_t *args, uint8_t *out, struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, "category");
	for (uint8_t k = 1; v && k <= FAII_CATEGORY_COUNT; k++) {
		if ((json_is_integer(v) && json_integer_value(v) == k) ||
		    (json_is_string(v) &&
		     strcmp(json_string_value(v), faii_category_name(k)) == 0)) {
			*out = k;
			return true;
		}
	}
	faii_ctl_fail(err, v ? "not_found" : "invalid_argument",
	              v ? "no such category" : "argument \"category\" (id or name) is required");
	return false;
}

static bool arg_class(const struct faii_config *cfg, json_t *args, const char *key, uint16_t *out,
                      struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, key);
	for (uint32_t r = 0; v && r < cfg->residency_class_count; r++) {
		const struct faii_cfg_residency_class *rc = &cfg->residency_classes[r];
		if ((json_is_integer(v) && json_integer_value(v) == rc->id) ||
		    (json_is_string(v) && strcmp(json_string_value(v), rc->name) == 0)) {
			*out = rc->id;
			return true;
		}
	}
	faii_ctl_fail(err, v ? "not_found" : "invalid_argument",
	              v ? "no such residency class" : "argument \"%s\" (id or name) is required",
	              key);
	return false;
}

/* ---- nodes -------------------------------------------------------------------------- */

static json_t *seconds_or_null(uint64_t ns)
{
	return json_real((double)ns / 1e9);
}

static json_t *node_json(struct faii_control *c, uint32_t slot, bool detail)
{
	const struct faii_registry *reg = &c->app->reg;
	const struct faii_config *cfg = reg->cfg;
	const struct faii_cfg_node *n = &cfg->nodes[slot];
	const struct faii_node_live *lv = &reg->live[slot];
	const struct faii_node_signals *sig = &reg->signals[slot];
	const struct faii_route_node_state *st = &reg->state[slot];
	const struct faii_cfg_region *region = faii_config_region(cfg, n->region_id);
	uint64_t now = faii_realtime_ns();
	json_t *j = json_pack(
	        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:b}", "id", (json_int_t)n->id,
	        "name", n->name, "class", faii_node_class_name(n->node_class), "status",
	        faii_node_status_name(n->status), "operator", cfg->operators[n->operator_idx],
	        "country", cfg->jurisdictions[n->jurisdiction].country, "region",
	        region ? region->name : "?", "outstanding",
	        (json_int_t)atomic_load(&lv->outstanding), "limit",
	        (json_int_t)atomic_load(&lv->limit), "latency_ms",
	        atomic_load(&lv->latency_ewma_us) / 1000.0, "stale", st->stale_heartbeat);
	json_object_set_new(j, "heartbeat_age_s",
	                    sig->heartbeat_ns ? seconds_or_null(now - sig->heartbeat_ns)
	                                      : json_null());
	if (!detail)
		return j;
	char addr[64];
	if (n->addr_family == FAII_ADDR_IPV4)
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%u", n->addr[0], n->addr[1], n->addr[2],
		         n->addr[3], n->udp_port);
	else
		snprintf(addr, sizeof(addr), "[ipv6]:%u", n->udp_port);
	json_object_set_new(j, "address", json_string(addr));
	json_object_set_new(j, "asn", json_integer(n->asn));
	json_object_set_new(j, "capacity_tasks_per_s", json_real(n->capacity_tasks_per_s));
	json_object_set_new(j, "price", json_real(n->price));
	json_object_set_new(j, "reputation",
	                    json_real(atomic_load(&lv->reputation_milli) / 1000.0));
	json_t *elig = json_array();
	for (uint8_t k = 1; k <= FAII_CATEGORY_COUNT; k++) {
		if ((n->eligibility >> (k - 1)) & 1)
			json_array_append_new(elig, json_string(faii_category_name(k)));
	}
	json_object_set_new(j, "eligibility", elig);
	json_t *mix = json_object();
	for (uint8_t s = 0; s < FAII_SRC_COUNT; s++)
		json_object_set_new(mix, faii_energy_source_name(s),
		                    json_real(n->esg.source_mix[s]));
	struct faii_route_fleet fleet;
	faii_route_fleet_compute(cfg, reg->state, &fleet);
	json_object_set_new(j, "esg",
	                    json_pack("{s:o, s:f, s:f, s:f, s:f}", "mix", mix, "pue", n->esg.pue,
	                              "energy_to_work", n->esg.energy_to_work, "grid_stress",
	                              n->esg.grid_stress, "score",
	                              faii_esg_score(&cfg->policy, &n->esg, &fleet)));
	json_object_set_new(
	        j, "signals",
	        json_pack("{s:o, s:o, s:I, s:I, s:I, s:b, s:b}", "heartbeat_age_s",
	                  seconds_or_null(faii_registry_signal_age_ns(reg, sig->heartbeat_ns, now)),
	                  "attest_age_s",
	                  seconds_or_null(faii_registry_signal_age_ns(reg, sig->attest_ns, now)),
	                  "heartbeat_seq", (json_int_t)sig->heartbeat_seq, "attest_seq",
	                  (json_int_t)sig->attest_seq, "load_permille",
	                  (json_int_t)sig->load_permille, "heartbeat_stale", st->stale_heartbeat,
	                  "attest_stale", st->stale_attest));
	json_t *slo = json_array(), *work = json_array();
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		json_array_append_new(slo, json_real(st->slo_success[t]));
		json_array_append_new(work,
		                      json_integer((json_int_t)atomic_load(&lv->verified_work[t])));
	}
	json_object_set_new(j, "slo_success", slo);
	json_object_set_new(j, "verified_work", work);
	json_object_set_new(j, "counters",
	                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "dispatched",
	                              (json_int_t)atomic_load(&lv->dispatched), "completed",
	                              (json_int_t)atomic_load(&lv->completed), "failed",
	                              (json_int_t)atomic_load(&lv->failed), "disagreed",
	                              (json_int_t)atomic_load(&lv->disagreed), "redispatched",
	                              (json_int_t)atomic_load(&lv->redispatched)));
	json_t *lat = json_object();
	for (uint32_t r = 0; r < cfg->region_count; r++)
		json_object_set_new(lat, cfg->regions[r].name,
		                    json_real(st->latency_us[r] / 1000.0));
	json_object_set_new(j, "latency_ms_from", lat);
	return j;
}

static json_t *cmd_node_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"status", "offset", "limit", NULL};
	if (!args_known(args, known, err))
		return NULL;
	json_t *filter = json_object_get(args, "status");
	if (filter && !json_is_string(filter))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"status\": expected a string");
	uint64_t offset = 0, limit = NODE_LIST_DEFAULT;
	if (json_object_get(args, "offset") && !arg_uint(args, "offset", UINT32_MAX, &offset, err))
		return NULL;
	if (json_object_get(args, "limit") && !arg_uint(args, "limit", NODE_LIST_MAX, &limit, err))
		return NULL;
	const struct faii_config *cfg = c->app->reg.cfg;
	json_t *list = json_array();
	uint64_t matched = 0;
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		if (filter && strcmp(json_string_value(filter),
		                     faii_node_status_name(cfg->nodes[i].status)) != 0)
			continue;
		if (matched++ < offset || json_array_size(list) >= limit)
			continue;
		json_array_append_new(list, node_json(c, i, false));
	}
	return json_pack("{s:o, s:I, s:I}", "nodes", list, "total", (json_int_t)matched, "offset",
	                 (json_int_t)offset);
}

static json_t *cmd_node_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	if (!args_known(args, known, err))
		return NULL;
	int32_t slot = arg_node(c, args, err);
	return slot < 0 ? NULL : node_json(c, (uint32_t)slot, true);
}

static json_t *set_status(struct faii_control *c, json_t *args, uint8_t status,
                          struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	if (!args_known(args, known, err))
		return NULL;
	int32_t slot = arg_node(c, args, err);
	if (slot < 0)
		return NULL;
	if (c->app->reg.cfg->nodes[slot].status == FAII_NODE_REMOVED && status != FAII_NODE_REMOVED)
		return faii_ctl_fail(err, "conflict", "node %u was removed; add it again",
		                     c->app->reg.cfg->nodes[slot].id);
	faii_registry_set_status(&c->app->reg, (uint32_t)slot, status);
	faii_appliance_publish(c->app); /* tables without it, now */
	return node_json(c, (uint32_t)slot, false);
}

static json_t *cmd_node_add(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"node", NULL};
	if (!args_known(args, known, err))
		return NULL;
	json_t *node = json_object_get(args, "node");
	if (!json_is_object(node))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"node\": expected an object like a nodes[] entry");
	json_t *id = json_object_get(node, "id");
	if (json_is_integer(id) &&
	    (json_integer_value(id) < 1 || json_integer_value(id) > FAII_NODE_ID_MAX))
		return faii_ctl_fail(err, "out_of_range", "node.id: expected 1..%u",
		                     FAII_NODE_ID_MAX);
	if (json_is_integer(id)) {
		int32_t have = faii_registry_find(&c->app->reg, (uint32_t)json_integer_value(id));
		if (have >= 0 && c->app->reg.cfg->nodes[have].status != FAII_NODE_REMOVED)
			return faii_ctl_fail(err, "conflict",
			                     "node %" JSON_INTEGER_FORMAT " is already registered",
			                     json_integer_value(id));
	}
	/* JSON is YAML: the configuration's own node parser checks it. */
	char *text = json_dumps(node, JSON_COMPACT);
	struct faii_cfg_node parsed;
	char msg[FAII_CFG_ERR_LEN];
	int rc = text ? faii_config_parse_node(c->app->reg.cfg, text, &parsed, msg) : -1;
	free(text);
	if (rc != 0)
		return faii_ctl_fail(err, "invalid_argument", "%s", text ? msg : "out of memory");
	int32_t slot = faii_registry_add(&c->app->reg, &parsed);
	if (slot == -EEXIST)
		return faii_ctl_fail(err, "conflict", "node %u is already registered", parsed.id);
	if (slot < 0)
		return faii_ctl_fail(err, "out_of_range", "the registry is full (%u nodes)",
		                     c->app->reg.capacity);
	faii_appliance_publish(c->app);
	return node_json(c, (uint32_t)slot, true);
}

static json_t *cmd_node_attest(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"message", NULL};
	if (!args_known(args, known, err))
		return NULL;
	json_t *hex = json_object_get(args, "message");
	if (!json_is_string(hex))
		return faii_ctl_fail(err, "invalid_argument", "argument \"message\": expected hex");
	uint8_t msg[FAII_MSG_SIZE_MAX];
	size_t len = 0;
	if (sodium_hex2bin(msg, sizeof(msg), json_string_value(hex), json_string_length(hex), NULL,
	                   &len, NULL) != 0)
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"message\": expected at most %u bytes of hex",
		                     FAII_MSG_SIZE_MAX);
	struct faii_msg_view view;
	enum faii_drop d = faii_parse(msg, len, &view);
	if (d != FAII_OK)
		return faii_ctl_fail(err, "invalid_argument", "message: %s (%s)", faii_drop_name(d),
		                     faii_drop_meaning(d));
	enum faii_slow_outcome out = faii_registry_apply(&c->app->reg, &view, faii_realtime_ns());
	if (out == FAII_SLOW_NOT_SLOW_PATH)
		return faii_ctl_fail(err, "invalid_argument",
		                     "message: expected a HEARTBEAT, ATTEST or REGISTER");
	return json_pack("{s:s, s:s}", "type",
	                 view.type == FAII_MSG_ATTEST      ? "attest"
	                 : view.type == FAII_MSG_HEARTBEAT ? "heartbeat"
	                                                   : "register",
	                 "outcome", faii_slow_outcome_name(out));
}

/* ---- shares before and after ------------------------------------------------------- */

struct share_change {
	uint32_t key;
	double max_delta;
};

/* Solves every key under cfg as it is now and reports how the shares
 * differ from the published set. */
static json_t *share_changes(struct faii_control *c)
{
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	const struct faii_route_set *cur = faii_publisher_current(&a->pub);
	struct faii_route_fleet fleet;
	faii_route_fleet_compute(cfg, a->reg.state, &fleet);
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

static json_t *cmd_policy_get(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	json_t *list = json_array();
	faii_policy_foreach(&c->app->reg.cfg->policy, param_json, list);
	return json_pack("{s:o}", "params", list);
}

static json_t *cmd_policy_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"params", "dry_run", NULL};
	bool dry_run;
	if (!args_known(args, known, err) || !arg_bool(args, "dry_run", &dry_run, err))
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
	/* Solve under the new policy (control thread: nobody else reads cfg). */
	struct faii_policy prev = cfg->policy;
	cfg->policy = next;
	json_t *changes = share_changes(c);
	if (dry_run)
		cfg->policy = prev;
	else
		faii_appliance_publish(c->app);
	return json_pack("{s:b, s:o}", "applied", !dry_run, "changes", changes);
}

/* ---- residency ---------------------------------------------------------------------- */

static json_t *class_json(const struct faii_config *cfg, const struct faii_cfg_residency_class *rc)
{
	json_t *allow = json_array();
	for (uint32_t j = 0; j < cfg->jurisdiction_count; j++) {
		if ((rc->allowed >> j) & 1)
			json_array_append_new(allow, json_string(cfg->jurisdictions[j].country));
	}
	char bits[24];
	snprintf(bits, sizeof(bits), "0x%016" PRIx64, rc->allowed);
	return json_pack("{s:i, s:s, s:o, s:s}", "id", rc->id, "name", rc->name, "allow", allow,
	                 "bitmap", bits);
}

static json_t *cmd_residency_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	const struct faii_config *cfg = c->app->reg.cfg;
	json_t *list = json_array();
	for (uint32_t i = 0; i < cfg->residency_class_count; i++)
		json_array_append_new(list, class_json(cfg, &cfg->residency_classes[i]));
	return json_pack("{s:o, s:s}", "classes", list, "judge", c->app->residency_mode);
}

static json_t *cmd_residency_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", "name", "allow", NULL};
	uint64_t id;
	if (!args_known(args, known, err) ||
	    !arg_uint(args, "id", FAII_RESIDENCY_CLASS_MAX, &id, err))
		return NULL;
	if (id == 0)
		return faii_ctl_fail(err, "out_of_range", "argument \"id\": expected 1..%u",
		                     FAII_RESIDENCY_CLASS_MAX);
	struct faii_config *cfg = c->app->reg.cfg;
	json_t *allow = json_object_get(args, "allow");
	json_t *name = json_object_get(args, "name");
	if (!json_is_array(allow) || json_array_size(allow) == 0)
		return faii_ctl_fail(
		        err, "invalid_argument",
		        "argument \"allow\": expected a non-empty list of countries, blocs or "
		        "\"any\"");
	if (name && (!json_is_string(name) || json_string_length(name) == 0 ||
	             json_string_length(name) >= FAII_CFG_NAME_LEN_MAX))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"name\": expected a string of 1..%u bytes",
		                     FAII_CFG_NAME_LEN_MAX - 1);
	uint64_t bits = 0;
	size_t i;
	json_t *item;
	json_array_foreach(allow, i, item)
	{
		const char *s = json_string_value(item);
		if (s == NULL)
			return faii_ctl_fail(err, "invalid_argument",
			                     "allow[%zu]: expected a string", i);
		uint64_t before = bits;
		for (uint32_t j = 0; j < cfg->jurisdiction_count; j++) {
			if (strcmp(s, "any") == 0 ||
			    strcmp(s, cfg->jurisdictions[j].country) == 0 ||
			    (cfg->jurisdictions[j].bloc[0] &&
			     strcmp(s, cfg->jurisdictions[j].bloc) == 0))
				bits |= 1ull << j;
		}
		if (bits == before && strcmp(s, "any") != 0)
			return faii_ctl_fail(err, "not_found",
			                     "allow[%zu]: \"%s\" is no configured country or bloc",
			                     i, s);
	}
	struct faii_cfg_residency_class *rc = NULL;
	for (uint32_t k = 0; k < cfg->residency_class_count; k++) {
		if (cfg->residency_classes[k].id == id)
			rc = &cfg->residency_classes[k];
	}
	if (rc == NULL) {
		if (name == NULL)
			return faii_ctl_fail(err, "invalid_argument",
			                     "a new class needs a \"name\"");
		if (cfg->residency_class_count == FAII_RESIDENCY_CLASS_MAX)
			return faii_ctl_fail(err, "out_of_range", "at most %u residency classes",
			                     FAII_RESIDENCY_CLASS_MAX);
		rc = &cfg->residency_classes[cfg->residency_class_count++];
		memset(rc, 0, sizeof(*rc));
		rc->id = (uint16_t)id;
	}
	if (name)
		snprintf(rc->name, sizeof(rc->name), "%s", json_string_value(name));
	rc->allowed = bits;
	/* One new route set and one new program snapshot: each atomic. */
	c->app->reg.residency_dirty = true;
	faii_appliance_publish(c->app);
	return class_json(cfg, rc);
}

/* ---- measurements ------------------------------------------------------------------- */

static json_t *cmd_queues(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	const struct faii_queue_state *q = &c->app->queues;
	json_t *tiers = json_array(), *classes = json_object();
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		json_array_append_new(tiers, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "tier",
		                                       t + 1, "outstanding", q->outstanding[t],
		                                       "capacity", q->capacity[t], "q", q->q[t],
		                                       "price", q->price[t], "theta", q->theta[t]));
	for (uint8_t k = 0; k < FAII_CLASS_COUNT; k++)
		json_object_set_new(classes, faii_node_class_name(k), json_real(q->class_util[k]));
	return json_pack("{s:o, s:o}", "tiers", tiers, "class_utilisation", classes);
}

static json_t *cmd_latency(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	static struct faii_worker_stats total;
	faii_stats_sum(c->app->workers, c->app->worker_count, &total);
	json_t *tiers = json_array();
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		const uint64_t *h = total.latency_hist[t];
		uint64_t count = 0;
		json_t *buckets = json_array();
		for (unsigned b = 0; b < FAII_HIST_BUCKETS; b++) {
			count += h[b];
			if (h[b] != 0)
				json_array_append_new(
				        buckets, json_pack("{s:I, s:I}", "le_us",
				                           (json_int_t)faii_hist_bucket_upper_us(b),
				                           "count", (json_int_t)h[b]));
		}
		json_array_append_new(
		        tiers, json_pack("{s:i, s:I, s:f, s:f, s:f, s:f, s:o}", "tier", t + 1,
		                         "count", (json_int_t)count, "p50_ms",
		                         (double)faii_hist_quantile_us(h, 0.5) / 1000.0, "p90_ms",
		                         (double)faii_hist_quantile_us(h, 0.9) / 1000.0, "p99_ms",
		                         (double)faii_hist_quantile_us(h, 0.99) / 1000.0, "p999_ms",
		                         (double)faii_hist_quantile_us(h, 0.999) / 1000.0,
		                         "buckets", buckets));
	}
	return json_pack("{s:o}", "tiers", tiers);
}

static json_t *counter_object(const uint64_t *v, unsigned n, const char *(*name)(unsigned))
{
	json_t *o = json_object();
	for (unsigned i = 0; i < n; i++)
		json_object_set_new(o, name(i), json_integer((json_int_t)v[i]));
	return o;
}

static const char *drop_name(unsigned i)
{
	return faii_drop_name((enum faii_drop)i);
}
static const char *pipe_name(unsigned i)
{
	return faii_pipe_counter_name((enum faii_pipe_counter)i);
}
static json_t *cmd_counters(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	static struct faii_worker_stats s;
	faii_stats_sum(c->app->workers, c->app->worker_count, &s);
	json_t *drops = json_object();
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++) /* [FAII_OK] is not a drop */
		json_object_set_new(drops, drop_name(r), json_integer((json_int_t)s.drops[r]));
	json_t *slow = json_object();
	for (unsigned o = 0; o < FAII_SLOW_OUTCOME_COUNT; o++) {
		uint64_t sum = 0;
		for (unsigned t = 0; t <= FAII_MSG_TYPE_MAX; t++)
			sum += c->app->reg.slow[o][t];
		json_object_set_new(slow, faii_slow_outcome_name((enum faii_slow_outcome)o),
		                    json_integer((json_int_t)sum));
	}
	return json_pack(
	        "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:o, s:o, s:o, s:o, s:I, s:I}", "rx",
	        "packets", (json_int_t)s.rx_packets, "bytes", (json_int_t)s.rx_bytes, "task",
	        (json_int_t)s.valid[FAII_MSG_TASK], "result", (json_int_t)s.valid[FAII_MSG_RESULT],
	        "heartbeat", (json_int_t)s.valid[FAII_MSG_HEARTBEAT], "attest",
	        (json_int_t)s.valid[FAII_MSG_ATTEST], "register",
	        (json_int_t)s.valid[FAII_MSG_REGISTER], "tx_packets", (json_int_t)s.tx_packets,
	        "drops", drops, "pipeline", counter_object(s.pipe, FAII_PIPE_COUNT, pipe_name),
	        "residency",
	        counter_object(s.residency, FAII_RES_REASON_COUNT, faii_residency_counter_name),
	        "slow_path", slow, "residency_refusals",
	        (json_int_t)s.pipe[FAII_PIPE_RESIDENCY_REFUSED], "no_feasible_node",
	        (json_int_t)s.pipe[FAII_PIPE_NO_FEASIBLE]);
}

/* ---- route explain ------------------------------------------------------------------ */

static json_t *cmd_route_explain(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"region",    "category",       "class",
	                                    "budget_us", "min_reputation", NULL};
	if (!args_known(args, known, err))
		return NULL;
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	uint16_t region, cls;
	uint8_t cat;
	if (!arg_region(cfg, args, &region, err) || !arg_category(args, &cat, err) ||
	    !arg_class(cfg, args, "class", &cls, err))
		return NULL;
	uint64_t budget = faii_category_latency_budget_us(cat), min_rep = 0;
	if (json_object_get(args, "budget_us") &&
	    !arg_uint(args, "budget_us", UINT32_MAX, &budget, err))
		return NULL;
	if (json_object_get(args, "min_reputation") &&
	    !arg_uint(args, "min_reputation", FAII_REPUTATION_MILLI_MAX, &min_rep, err))
		return NULL;

	/* Why each node is in or out: the solver's view now. */
	static struct faii_route_table solved;
	static struct faii_route_explain ex;
	struct faii_route_fleet fleet;
	faii_route_fleet_compute(cfg, a->reg.state, &fleet);
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
	for (unsigned k = 0; t && k < t->count; k++) {
		const struct faii_route_cand *cd = &t->cand[k];
		const struct faii_node_live *lv = &a->reg.live[cd->node];
		const char *why = NULL;
		if (atomic_load(&lv->status) != FAII_NODE_ACTIVE)
			why = "not_active";
		else if (atomic_load(&lv->reputation_milli) < min_rep)
			why = "reputation_below_minimum";
		else if (cd->latency_us > budget)
			why = "latency_over_budget";
		else if (atomic_load(&lv->outstanding) >= atomic_load(&lv->limit))
			why = "at_load_limit";
		if (why == NULL) {
			feasible_share += t->share[k];
			if (best < 0 || t->share[k] > t->share[best])
				best = (int)k;
		}
		json_t *o = json_pack("{s:I, s:f, s:f, s:I, s:I, s:I, s:s}", "node",
		                      (json_int_t)cd->node_id, "share", (double)t->share[k],
		                      "value", (double)ex.value[cd->node], "latency_us",
		                      (json_int_t)cd->latency_us, "outstanding",
		                      (json_int_t)atomic_load(&lv->outstanding), "limit",
		                      (json_int_t)atomic_load(&lv->limit), "operator",
		                      cfg->operators[cd->operator_idx]);
		json_object_set_new(o, "per_packet",
		                    why ? json_string(why) : json_string("feasible"));
		json_array_append_new(cands, o);
	}
	json_t *pick =
	        best >= 0 ? json_pack("{s:I, s:f}", "node", (json_int_t)t->cand[best].node_id,
	                              "probability",
	                              feasible_share > 0 ? t->share[best] / feasible_share : 0.0)
	                  : json_null();
	json_t *flags = json_array();
	uint16_t fl = t ? t->flags : FAII_ROUTE_F_EMPTY;
	if (fl & FAII_ROUTE_F_EMPTY)
		json_array_append_new(flags, json_string("empty"));
	if (fl & FAII_ROUTE_F_CAPS_RELAXED)
		json_array_append_new(flags, json_string("operator_cap_relaxed"));
	if (fl & FAII_ROUTE_F_FEW_OPERATORS)
		json_array_append_new(flags, json_string("fewer_operators_than_required"));
	if (fl & FAII_ROUTE_F_EDGE_SHORT)
		json_array_append_new(flags, json_string("edge_reserve_short"));
	return json_pack("{s:{s:i, s:s, s:s}, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "key",
	                 "region", region, "category", faii_category_name(cat), "class",
	                 faii_config_residency_class(cfg, cls)->name, "nodes",
	                 (json_int_t)ex.node_count, "feasible", (json_int_t)ex.feasible,
	                 "operators", (json_int_t)ex.operators, "excluded_by_reason", reasons,
	                 "excluded", excluded, "candidates", cands, "would_pick", pick, "flags",
	                 flags, "generation", (json_int_t)(set ? set->generation : 0));
}

/* ---- status, ledger ----------------------------------------------------------------- */

static json_t *cmd_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	uint32_t active = 0;
	for (uint32_t i = 0; i < cfg->node_count; i++)
		active += cfg->nodes[i].status == FAII_NODE_ACTIVE;
	char digest[65];
	sodium_bin2hex(digest, sizeof(digest), cfg->digest, sizeof(cfg->digest));
	const struct faii_route_set *set = faii_publisher_current(&a->pub);
	struct faii_ctl_stats cs = {0};
	if (c->server)
		faii_ctl_get_stats(c->server, &cs);
	return json_pack(
	        "{s:s, s:i, s:f, s:i, s:I, s:I, s:I, s:f, s:I, s:s, s:{s:s, s:s}, s:{s:I, s:I, "
	        "s:f, "
	        "s:s}, s:i}",
	        "version", VERSION, "protocol", FAII_CTL_PROTOCOL, "uptime_s",
	        (double)(faii_realtime_ns() - c->start_ns) / 1e9, "workers", a->worker_count,
	        "nodes", (json_int_t)cfg->node_count, "nodes_active", (json_int_t)active,
	        "route_generation", (json_int_t)(set ? set->generation : 0), "last_solve_ms",
	        a->pub.last_solve_s * 1e3, "route_keys", (json_int_t)(set ? set->table_count : 0),
	        "residency_judge", a->residency_mode, "config", "path", c->config_path, "digest",
	        digest, "reload", "ok", (json_int_t)c->reloads_ok, "failed",
	        (json_int_t)c->reloads_failed, "last_success_unix",
	        (double)c->last_reload_ok_ns / 1e9, "last_error", c->last_reload_error,
	        "control_clients", cs.clients);
}

static json_t *cmd_ledger_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!args_known(args, known, err))
		return NULL;
	if (c->ledger == NULL)
		return faii_ctl_fail(err, "not_found", "no ledger is open");
	struct faii_ls_stats st;
	faii_ls_get_stats(c->ledger, &st);
	char chain[2 * FAII_LS_CHAIN_SIZE + 1];
	sodium_bin2hex(chain, sizeof(chain), st.chain, sizeof(st.chain));
	return json_pack(
	        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I}", "dir",
	        c->app->reg.cfg->appliance.ledger_dir, "durable_seq", (json_int_t)st.durable_seq,
	        "batches", (json_int_t)st.batches, "bytes_written", (json_int_t)st.bytes_written,
	        "segments", (json_int_t)st.segments, "recovered_records",
	        (json_int_t)st.recovered_records, "index_entries", (json_int_t)st.index_entries,
	        "index_overflow", (json_int_t)st.index_overflow, "error",
	        st.error ? strerror(-st.error) : "", "chain", chain, "audit_failed",
	        (json_int_t)c->audit_failed);
}

/* ---- reload ------------------------------------------------------------------------- */

/* Keys that only a restart applies, and whether they changed. */
static json_t *restart_needed(const struct faii_appliance_cfg *old,
                              const struct faii_appliance_cfg *neu)
{
	json_t *list = json_array();
	bool eal = old->eal_arg_count != neu->eal_arg_count;
	for (uint32_t i = 0; !eal && i < old->eal_arg_count; i++)
		eal = strcmp(old->eal_args[i], neu->eal_args[i]) != 0;
	if (eal)
		json_array_append_new(list, json_string("appliance.eal"));
#define CHANGED(field, name)                                                                       \
	if (old->field != neu->field)                                                              \
		json_array_append_new(list, json_string(name));
	CHANGED(workers, "appliance.workers")
	CHANGED(udp_port, "appliance.udp_port")
	CHANGED(metrics_port, "appliance.metrics_port")
	CHANGED(ledger_segment_mb, "appliance.ledger_segment_mb")
#undef CHANGED
	if (strcmp(old->control_socket, neu->control_socket) != 0)
		json_array_append_new(list, json_string("appliance.control_socket"));
	if (strcmp(old->ledger_dir, neu->ledger_dir) != 0)
		json_array_append_new(list, json_string("appliance.ledger_dir"));
	if (strcmp(old->residency_pin_dir, neu->residency_pin_dir) != 0)
		json_array_append_new(list, json_string("appliance.residency_pin_dir"));
	return list;
}

/* A refused reload: counted, remembered and exported (not for a dry run). */
static json_t *reload_refused(struct faii_control *c, bool dry_run,
                              const struct faii_ctl_error *err)
{
	if (!dry_run) {
		c->reloads_failed++;
		snprintf(c->last_reload_error, sizeof(c->last_reload_error), "%s", err->message);
		faii_metrics_note_reload(false, (double)faii_realtime_ns() / 1e9);
	}
	return NULL;
}

json_t *faii_control_reload(struct faii_control *c, const char *path, bool dry_run,
                            struct faii_ctl_error *err)
{
	struct faii_appliance_dp *a = c->app;
	struct faii_config *cur = a->reg.cfg;
	const char *file = path ? path : c->config_path;
	struct faii_config *neu = NULL;
	char msg[FAII_CFG_ERR_LEN];
	if (faii_config_load(file, &neu, msg) != 0) {
		if (!dry_run) {
			c->reloads_failed++;
			snprintf(c->last_reload_error, sizeof(c->last_reload_error), "%s", msg);
			faii_metrics_note_reload(false, (double)faii_realtime_ns() / 1e9);
		}
		return faii_ctl_fail(err, "config_invalid",
		                     "%s; the running configuration is unchanged", msg);
	}
	if (neu->node_count > a->reg.capacity) {
		faii_ctl_fail(err, "config_invalid",
		              "%s: %u nodes, more than the %u this run has room for; restart", file,
		              neu->node_count, a->reg.capacity);
		faii_config_free(neu);
		return reload_refused(c, dry_run, err);
	}
	/* What changes: nodes by id. */
	uint32_t added = 0, removed = 0, changed = 0;
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot < 0 || cur->nodes[slot].status == FAII_NODE_REMOVED)
			added++;
		else if (memcmp(&cur->nodes[slot], &neu->nodes[i], sizeof(neu->nodes[i])) != 0)
			changed++;
	}
	static uint8_t seen[FAII_CFG_NODES_MAX];
	memset(seen, 0, cur->node_count);
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot >= 0)
			seen[slot] = 1;
	}
	for (uint32_t i = 0; i < cur->node_count; i++)
		removed += !seen[i] && cur->nodes[i].status != FAII_NODE_REMOVED;
	if (added > a->reg.capacity - cur->node_count) {
		faii_ctl_fail(err, "config_invalid", "%s: %u new nodes do not fit; restart", file,
		              added);
		faii_config_free(neu);
		return reload_refused(c, dry_run, err);
	}
	/* What the command line set stays set. */
	if (c->socket_overridden)
		memcpy(neu->appliance.control_socket, cur->appliance.control_socket,
		       sizeof(neu->appliance.control_socket));
	if (c->ledger_overridden)
		memcpy(neu->appliance.ledger_dir, cur->appliance.ledger_dir,
		       sizeof(neu->appliance.ledger_dir));
	if (c->metrics_overridden)
		neu->appliance.metrics_port = cur->appliance.metrics_port;
	json_t *restart = restart_needed(&cur->appliance, &neu->appliance);
	bool regions_changed = cur->region_count != neu->region_count ||
	                       memcmp(cur->regions, neu->regions,
	                              cur->region_count * sizeof(cur->regions[0])) != 0;

	/* The share changes a policy change alone would make (node changes
	 * are reported as counts). */
	struct faii_policy prev = cur->policy;
	cur->policy = neu->policy;
	json_t *shares = share_changes(c);
	cur->policy = prev;
	json_t *result = json_pack("{s:b, s:s, s:{s:I, s:I, s:I}, s:o, s:o}", "applied", !dry_run,
	                           "path", file, "nodes", "added", (json_int_t)added, "removed",
	                           (json_int_t)removed, "changed", (json_int_t)changed,
	                           "restart_needed", restart, "policy_share_changes", shares);
	if (dry_run) {
		faii_config_free(neu);
		return result;
	}

	/* Apply: everything but what needs a restart, node slots kept by id. */
	struct faii_appliance_cfg keep = cur->appliance;
	memcpy(cur->path, neu->path, sizeof(cur->path));
	memcpy(cur->digest, neu->digest, sizeof(cur->digest));
	cur->policy = neu->policy;
	cur->jurisdiction_count = neu->jurisdiction_count;
	memcpy(cur->jurisdictions, neu->jurisdictions, sizeof(cur->jurisdictions));
	cur->residency_class_count = neu->residency_class_count;
	memcpy(cur->residency_classes, neu->residency_classes, sizeof(cur->residency_classes));
	cur->region_count = neu->region_count;
	memcpy(cur->regions, neu->regions, sizeof(cur->regions));
	cur->operator_count = neu->operator_count;
	memcpy(cur->operators, neu->operators, sizeof(cur->operators));
	cur->appliance = keep;
	/* Hot keys of the appliance section. */
	cur->appliance.stats_interval_s = neu->appliance.stats_interval_s;
	cur->appliance.attest_stale_s = neu->appliance.attest_stale_s;
	cur->appliance.heartbeat_stale_s = neu->appliance.heartbeat_stale_s;
	memcpy(cur->appliance.control_admin_uids, neu->appliance.control_admin_uids,
	       sizeof(cur->appliance.control_admin_uids));
	memcpy(cur->appliance.control_admin_gids, neu->appliance.control_admin_gids,
	       sizeof(cur->appliance.control_admin_gids));
	memcpy(cur->appliance.control_reader_uids, neu->appliance.control_reader_uids,
	       sizeof(cur->appliance.control_reader_uids));
	memcpy(cur->appliance.control_reader_gids, neu->appliance.control_reader_gids,
	       sizeof(cur->appliance.control_reader_gids));
	cur->appliance.control_admin_uid_count = neu->appliance.control_admin_uid_count;
	cur->appliance.control_admin_gid_count = neu->appliance.control_admin_gid_count;
	cur->appliance.control_reader_uid_count = neu->appliance.control_reader_uid_count;
	cur->appliance.control_reader_gid_count = neu->appliance.control_reader_gid_count;
	for (uint32_t i = 0; i < cur->node_count; i++) {
		if (!seen[i] && cur->nodes[i].status != FAII_NODE_REMOVED)
			faii_registry_set_status(&a->reg, i, FAII_NODE_REMOVED);
	}
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot < 0 || cur->nodes[slot].status == FAII_NODE_REMOVED) {
			faii_registry_add(&a->reg, &neu->nodes[i]);
		} else {
			faii_registry_update(&a->reg, (uint32_t)slot, &neu->nodes[i]);
		}
	}
	if (regions_changed) {
		/* Measured latencies are per region slot: start them again. */
		for (size_t i = 0; i < (size_t)a->reg.capacity * FAII_CFG_REGIONS_MAX; i++)
			atomic_store(&a->reg.latency_us[i], 0);
	}
	faii_config_free(neu);
	a->reg.residency_dirty = true;
	if (c->server)
		faii_ctl_set_roles(c->server, &cur->appliance);
	faii_appliance_publish(a);
	c->reloads_ok++;
	c->last_reload_ok_ns = faii_realtime_ns();
	faii_metrics_note_reload(true, (double)c->last_reload_ok_ns / 1e9);
	c->last_reload_error[0] = '\0';
	return result;
}

static json_t *cmd_config_reload(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"dry_run", "path", NULL};
	bool dry_run;
	if (!args_known(args, known, err) || !arg_bool(args, "dry_run", &dry_run, err))
		return NULL;
	json_t *path = json_object_get(args, "path");
	if (path && (!json_is_string(path) || json_string_length(path) == 0 ||
	             json_string_length(path) >= FAII_CFG_PATH_LEN_MAX))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"path\": expected a file path");
	return faii_control_reload(c, path ? json_string_value(path) : NULL, dry_run, err);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static json_t *cmd_drain(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return set_status(c, a, FAII_NODE_DRAINING, e);
}
static json_t *cmd_undrain(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return set_status(c, a, FAII_NODE_ACTIVE, e);
}
static json_t *cmd_remove(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return set_status(c, a, FAII_NODE_REMOVED, e);
}

typedef json_t *(*cmd_fn)(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

static const struct {
	const char *name;
	bool admin;
	cmd_fn fn;
} commands[] = {
        {"status", false, cmd_status},
        {"node.list", false, cmd_node_list},
        {"node.show", false, cmd_node_show},
        {"node.add", true, cmd_node_add},
        {"node.remove", true, cmd_remove},
        {"node.drain", true, cmd_drain},
        {"node.undrain", true, cmd_undrain},
        {"node.attest", true, cmd_node_attest},
        {"policy.get", false, cmd_policy_get},
        {"policy.set", true, cmd_policy_set},
        {"residency.list", false, cmd_residency_list},
        {"residency.set", true, cmd_residency_set},
        {"queues", false, cmd_queues},
        {"latency", false, cmd_latency},
        {"route.explain", false, cmd_route_explain},
        {"counters", false, cmd_counters},
        {"ledger.status", false, cmd_ledger_status},
        {"config.reload", true, cmd_config_reload},
};

static void audit(struct faii_control *c, const struct faii_ctl_peer *peer, const char *cmd,
                  json_t *args, const struct faii_ctl_error *err, bool ok)
{
	if (c->ledger == NULL)
		return;
	struct faii_audit_operator rec = {
	        .time_ns = faii_realtime_ns(),
	        .uid = peer->uid,
	        .gid = peer->gid,
	        .pid = peer->pid,
	        .ok = ok,
	};
	snprintf(rec.command, sizeof(rec.command), "%s", cmd);
	if (!ok)
		snprintf(rec.error_code, sizeof(rec.error_code), "%s", err->code);
	char *text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(rec.args, sizeof(rec.args), "%s", text ? text : "?");
	free(text);
	if (faii_audit_operator(c->ledger, &rec) < 0)
		c->audit_failed++;
}

json_t *faii_control_dispatch(void *ctx, const struct faii_ctl_peer *peer, const char *cmd,
                              json_t *args, struct faii_ctl_error *err)
{
	struct faii_control *c = ctx;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		if (commands[i].admin && peer->role != FAII_CTL_ROLE_ADMIN) {
			faii_ctl_fail(err, "forbidden",
			              "%s needs the admin role (uid %u is a reader)", cmd,
			              peer->uid);
			audit(c, peer, cmd, args, err, false);
			return NULL;
		}
		json_t *result = commands[i].fn(c, args, err);
		if (commands[i].admin)
			audit(c, peer, cmd, args, err, result != NULL);
		return result;
	}
	return faii_ctl_fail(err, "unknown_command", "no command \"%.64s\" (see docs/control.md)",
	                     cmd);
}
