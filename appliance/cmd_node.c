/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * node.list, node.show, node.add, node.attest, node.remove, node.drain, node.undrain:
 * see docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "faii/clock.h"
#include "faii/publish.h"
#include "faii/wire.h"

#define NODE_LIST_DEFAULT 1000u /* node.list pages: about 200 KiB of JSON */
#define NODE_LIST_MAX     2000u

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
	/* (41) per eligible category: energy-to-work is normalised within the
	 * node's (category, class) group. */
	json_t *score = json_object();
	for (uint8_t k = 1; k <= FAII_CATEGORY_COUNT; k++) {
		if ((n->eligibility >> (k - 1)) & 1)
			json_object_set_new(
			        score, faii_category_name(k),
			        json_real(faii_route_node_esg(&cfg->policy, &fleet, n, k)));
	}
	json_object_set_new(j, "esg",
	                    json_pack("{s:o, s:f, s:f, s:f, s:o}", "mix", mix, "pue", n->esg.pue,
	                              "energy_to_work", n->esg.energy_to_work, "grid_stress",
	                              n->esg.grid_stress, "score", score));
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

json_t *cmd_node_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"status", "offset", "limit", NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	json_t *filter = json_object_get(args, "status");
	bool known_status = false;
	for (uint8_t s = 0; filter && json_is_string(filter) && s <= FAII_NODE_REMOVED; s++)
		known_status |= strcmp(json_string_value(filter), faii_node_status_name(s)) == 0;
	if (filter && !known_status)
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"status\": expected one of active, draining, "
		                     "quarantined, slashed, removed");
	uint64_t offset = 0, limit = NODE_LIST_DEFAULT;
	if (json_object_get(args, "offset") &&
	    !cmd_arg_uint(args, "offset", UINT32_MAX, &offset, err))
		return NULL;
	if (json_object_get(args, "limit") &&
	    !cmd_arg_uint(args, "limit", NODE_LIST_MAX, &limit, err))
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

json_t *cmd_node_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	int32_t slot = cmd_arg_node(c, args, err);
	return slot < 0 ? NULL : node_json(c, (uint32_t)slot, true);
}

json_t *cmd_node_set_status(struct faii_control *c, json_t *args, uint8_t status,
                            struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	int32_t slot = cmd_arg_node(c, args, err);
	if (slot < 0)
		return NULL;
	if (c->app->reg.cfg->nodes[slot].status == FAII_NODE_REMOVED && status != FAII_NODE_REMOVED)
		return faii_ctl_fail(err, "conflict", "node %u was removed; add it again",
		                     c->app->reg.cfg->nodes[slot].id);
	faii_registry_set_status(&c->app->reg, (uint32_t)slot, status);
	faii_appliance_publish(c->app); /* tables without it, now */
	return node_json(c, (uint32_t)slot, false);
}

json_t *cmd_node_add(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"node", NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	json_t *node = json_object_get(args, "node");
	if (!json_is_object(node))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"node\": expected an object like a nodes[] entry");
	/* The configuration's name is optional; an operator's node has one. A
	 * JSON null would reach the YAML parser as a plain null. */
	json_t *name = json_object_get(node, "name");
	if (!json_is_string(name) || json_string_length(name) == 0)
		return faii_ctl_fail(err, "invalid_argument",
		                     "node.name: expected a non-empty string");
	const char *key;
	json_t *value;
	json_object_foreach(node, key, value)
	{
		if (json_is_null(value))
			return faii_ctl_fail(err, "invalid_argument",
			                     "node.%.64s: expected a value, found null", key);
	}
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

json_t *cmd_node_attest(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"message", NULL};
	if (!cmd_args_known(args, known, err))
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
	enum faii_slow_outcome out = faii_appliance_apply_signal(c->app, &view, faii_realtime_ns());
	if (out == FAII_SLOW_NOT_SLOW_PATH)
		return faii_ctl_fail(err, "invalid_argument",
		                     "message: expected a HEARTBEAT, ATTEST or REGISTER");
	return json_pack("{s:s, s:s}", "type",
	                 view.type == FAII_MSG_ATTEST      ? "attest"
	                 : view.type == FAII_MSG_HEARTBEAT ? "heartbeat"
	                                                   : "register",
	                 "outcome", faii_slow_outcome_name(out));
}

/* ---- dispatch ----------------------------------------------------------------------- */

json_t *cmd_node_drain(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return cmd_node_set_status(c, a, FAII_NODE_DRAINING, e);
}
json_t *cmd_node_undrain(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return cmd_node_set_status(c, a, FAII_NODE_ACTIVE, e);
}
json_t *cmd_node_remove(struct faii_control *c, json_t *a, struct faii_ctl_error *e)
{
	return cmd_node_set_status(c, a, FAII_NODE_REMOVED, e);
}
