/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * residency.list, residency.set: see docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/publish.h"

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

json_t *cmd_residency_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	const struct faii_config *cfg = c->app->reg.cfg;
	json_t *list = json_array();
	for (uint32_t i = 0; i < cfg->residency_class_count; i++)
		json_array_append_new(list, class_json(cfg, &cfg->residency_classes[i]));
	return json_pack("{s:o, s:s}", "classes", list, "judge", c->app->residency_mode);
}

json_t *cmd_residency_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"id", "name", "allow", NULL};
	uint64_t id;
	if (!cmd_args_known(args, known, err) ||
	    !cmd_arg_uint(args, "id", FAII_RESIDENCY_CLASS_MAX, &id, err))
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
