/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Arguments of the control commands: checked, bounded, explained on refusal.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* ---- arguments ------------------------------------------------------------------------ */

bool cmd_arg_uint(json_t *args, const char *key, uint64_t max, uint64_t *out,
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

bool cmd_arg_uint_opt(json_t *args, const char *key, uint64_t max, uint64_t *out,
                      struct faii_ctl_error *err)
{
	return json_object_get(args, key) == NULL || cmd_arg_uint(args, key, max, out, err);
}

void cmd_set_u64(json_t *object, const char *key, uint64_t value)
{
	json_object_set_new(object, key, json_integer((json_int_t)value));
}

bool cmd_arg_bool(json_t *args, const char *key, bool *out, struct faii_ctl_error *err)
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
bool cmd_args_known(json_t *args, const char *const *known, struct faii_ctl_error *err)
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

int32_t cmd_arg_node(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	uint64_t id;
	if (!cmd_arg_uint(args, "id", FAII_NODE_ID_MAX, &id, err))
		return -1;
	int32_t slot = faii_registry_find(&c->app->reg, (uint32_t)id);
	if (slot < 0) {
		faii_ctl_fail(err, "not_found", "node %" PRIu64 " is not registered", id);
		return -1;
	}
	return slot;
}

/* A region, category or class given by id or by name. */
bool cmd_arg_region(const struct faii_config *cfg, json_t *args, uint16_t *out,
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

bool cmd_arg_category(json_t *args, uint8_t *out, struct faii_ctl_error *err)
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

bool cmd_arg_class(const struct faii_config *cfg, json_t *args, const char *key, uint16_t *out,
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
