/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-settle's scenario: see faii_settle_scenario.h and docs/settlement.md
 * ("faii-settle"). Fields are described by tables (name, unit, shape,
 * range, where they go), so that every field is read, checked and named
 * the same way. The parameters' ranges are settlement's own
 * (faii_settle_params_check, which is run after them as well); their
 * defaults are governance's (faii_settle_gov_params_at at genesis).
 */
#include "faii_settle_scenario.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faii/assert.h"
#include "faii/settle_gov.h"

#define PATH_BYTES 96u
#define KEY_BYTES  48u
#define PPB        FAII_SETTLE_PPB_ONE

enum fs_unit {
	FS_PPB,   /* exact: NAME_ppb, an integer; decimal: NAME without _ppb */
	FS_UNITS, /* exact: NAME in base units; decimal: NAME_tokens */
	FS_COUNT, /* an integer only */
};
enum fs_shape {
	FS_SCALAR,
	FS_TIERS,   /* an array of FAII_SETTLE_TIERS values */
	FS_CLASSES, /* an object keyed by class name, each key optional */
};

struct fs_field {
	const char *key; /* the exact form's key */
	uint8_t unit, shape;
	uint8_t width; /* bytes of the destination: 4 or 8 */
	bool required;
	size_t offset;
	uint64_t lo, hi;
};

#define U32_MAX 0xffffffffull
/* A field of struct `type`: one value, or an array of them. */
#define SCALAR(type, key, unit, required, member, lo, hi)                                          \
	{                                                                                          \
		key, unit, FS_SCALAR, sizeof(((type *)0)->member), required,                       \
		        offsetof(type, member), lo, hi                                             \
	}
#define ARRAY(type, key, unit, shape, required, member, lo, hi)                                    \
	{                                                                                          \
		key, unit, shape, sizeof(((type *)0)->member[0]), required,                        \
		        offsetof(type, member), lo, hi                                             \
	}
#define P_SCALAR(key, unit, member, lo, hi)                                                        \
	SCALAR(struct faii_settle_params, key, unit, false, member, lo, hi)
#define P_FIELD(key, unit, shape, member, lo, hi)                                                  \
	ARRAY(struct faii_settle_params, key, unit, shape, false, member, lo, hi)
#define N_SCALAR(key, unit, required, member, lo, hi)                                              \
	SCALAR(struct faii_settle_node_input, key, unit, required, member, lo, hi)

/* settlement's ranges: faii_settle_params_check (ledger/settle/payout.c). */
static const struct fs_field param_fields[] = {
        P_SCALAR("availability_rate", FS_UNITS, availability_rate, 0, FS_AMOUNT_MAX),
        P_SCALAR("work_rate", FS_UNITS, work_rate, 0, FS_AMOUNT_MAX),
        P_FIELD("theta0_ppb", FS_PPB, FS_TIERS, theta0_ppb, 1, 1000 * PPB),
        P_FIELD("gamma_ppb", FS_PPB, FS_TIERS, gamma_ppb, 0, 100 * PPB),
        P_FIELD("queue_ppb", FS_PPB, FS_TIERS, queue_ppb, 0, 1000 * PPB),
        P_FIELD("slo_target_ppb", FS_PPB, FS_TIERS, slo_target_ppb, 1, PPB),
        P_FIELD("slo_alpha", FS_COUNT, FS_TIERS, slo_alpha, 1, FAII_SETTLE_ALPHA_MAX),
        P_FIELD("slo_max_ppb", FS_PPB, FS_TIERS, slo_max_ppb, 0, 100 * PPB),
        P_SCALAR("esg_xi_ppb", FS_PPB, esg_xi_ppb, 0, PPB - 1),
        P_SCALAR("esg_baseline_ppb", FS_PPB, esg_baseline_ppb, 0, PPB),
        P_SCALAR("esg_max_ppb", FS_PPB, esg_max_ppb, PPB, 100 * PPB),
        P_SCALAR("diversity_eta_ppb", FS_PPB, diversity_eta_ppb, 0, PPB - 1),
        P_SCALAR("class_share_max_ppb", FS_PPB, class_share_max_ppb, 1, PPB - 1),
        P_SCALAR("energy_price", FS_UNITS, energy_price, 0, FS_AMOUNT_MAX),
        P_SCALAR("energy_price_green", FS_UNITS, energy_price_green, 0, FS_AMOUNT_MAX),
        P_SCALAR("opex_price", FS_UNITS, opex_price, 0, FS_AMOUNT_MAX),
        P_SCALAR("penalty_price", FS_UNITS, penalty_price, 0, FS_AMOUNT_MAX),
        P_FIELD("payout_cap", FS_UNITS, FS_CLASSES, payout_cap, 0, FS_AMOUNT_MAX),
};

static const struct fs_field node_fields[] = {
        N_SCALAR("node_id", FS_COUNT, true, node_id, 0, U32_MAX),
        N_SCALAR("operator_id", FS_COUNT, true, operator_id, 0, U32_MAX),
        N_SCALAR("availability_ppb", FS_PPB, true, availability_ppb, 0, PPB),
        N_SCALAR("capacity_units", FS_COUNT, true, capacity_units, 0, FS_AMOUNT_MAX),
        ARRAY(struct faii_settle_node_input, "work", FS_COUNT, FS_TIERS, true, work, 0,
              FS_AMOUNT_MAX),
        ARRAY(struct faii_settle_node_input, "slo_success_ppb", FS_PPB, FS_TIERS, true,
              slo_success_ppb, 0, PPB),
        N_SCALAR("renewable_ppb", FS_PPB, false, renewable_ppb, 0, PPB),
        N_SCALAR("energy_wh", FS_COUNT, false, energy_wh, 0, FS_AMOUNT_MAX),
        N_SCALAR("energy_retired_wh", FS_COUNT, false, energy_retired_wh, 0, FS_AMOUNT_MAX),
        N_SCALAR("opex_units", FS_COUNT, false, opex_units, 0, FS_AMOUNT_MAX),
        N_SCALAR("penalty_points", FS_COUNT, false, penalty_points, 0, FS_AMOUNT_MAX),
        N_SCALAR("cumulative_before", FS_UNITS, false, cumulative_before, 0, FS_AMOUNT_MAX),
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const class_names[FAII_SETTLE_CLASSES] = {"micro", "s", "m", "l", "xl"};

const char *fs_class_name(uint32_t node_class)
{
	FAII_ASSERT(node_class < FAII_SETTLE_CLASSES);
	return class_names[node_class];
}

static int bad(char error[FS_ERROR_BYTES], const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bad(char error[FS_ERROR_BYTES], const char *path, const char *fmt, ...)
{
	int n = snprintf(error, FS_ERROR_BYTES, "%s: ", path);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < FS_ERROR_BYTES)
		vsnprintf(error + n, FS_ERROR_BYTES - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A JSON path; a long one (an unknown key of a thousand bytes) is cut. */
static void path_printf(char out[PATH_BYTES], const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void path_printf(char out[PATH_BYTES], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, PATH_BYTES, fmt, ap);
	va_end(ap);
}

/* The key of a field's other form: NAME_ppb -> NAME, NAME -> NAME_tokens;
 * "" for a count, which has one form. */
static void decimal_key(const struct fs_field *f, char out[KEY_BYTES])
{
	size_t len = strlen(f->key);
	int n = 0;
	if (f->unit == FS_PPB) {
		FAII_ASSERT(len > 4 && strcmp(f->key + len - 4, "_ppb") == 0);
		n = snprintf(out, KEY_BYTES, "%.*s", (int)(len - 4), f->key);
	} else if (f->unit == FS_UNITS) {
		n = snprintf(out, KEY_BYTES, "%s_tokens", f->key);
	} else {
		out[0] = '\0';
	}
	FAII_ASSERT(n >= 0 && (size_t)n < KEY_BYTES);
}

/* A ppb or unit count written as a decimal, exactly: 999999999 -> 0.999999999. */
static void decimal_text(uint64_t value, char out[32])
{
	int n = snprintf(out, 32, "%llu.%09llu", (unsigned long long)(value / PPB),
	                 (unsigned long long)(value % PPB));
	FAII_ASSERT(n > 0 && n < 32);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
}

static int range_error(const struct fs_field *f, bool decimal, const char *at,
                       char error[FS_ERROR_BYTES])
{
	const char *what = !decimal            ? "an integer"
	                   : f->unit == FS_PPB ? "a number"
	                                       : "a number of tokens";
	char lo[32], hi[32];
	if (decimal) {
		decimal_text(f->lo, lo);
		decimal_text(f->hi, hi);
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)f->lo);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)f->hi);
	}
	if (f->hi == FS_AMOUNT_MAX)
		return bad(error, at, "expected %s >= %s", what, lo);
	return bad(error, at, "expected %s in %s..%s", what, lo, hi);
}

/* One value of a field, in its exact or decimal form. */
static int value(const struct fs_field *f, json_t *v, bool decimal, const char *at, uint64_t *out,
                 char error[FS_ERROR_BYTES])
{
	if (!decimal) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) < f->lo ||
		    (uint64_t)json_integer_value(v) > f->hi)
			return range_error(f, false, at, error);
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	/* A decimal: rounded to the nearest ppb or unit (10^-9 of a token). */
	double x = json_is_number(v) ? json_number_value(v) * 1e9 : NAN;
	if (!isfinite(x) || x < 0 || x >= 9223372036854775808.0)
		return range_error(f, true, at, error);
	uint64_t scaled = (uint64_t)llround(x);
	if (scaled < f->lo || scaled > f->hi)
		return range_error(f, true, at, error);
	*out = scaled;
	return 0;
}

static void store(void *base, const struct fs_field *f, uint32_t index, uint64_t v)
{
	uint8_t *at = (uint8_t *)base + f->offset + (size_t)index * f->width;
	if (f->width == sizeof(uint32_t)) {
		FAII_ASSERT(v <= U32_MAX);
		uint32_t narrow = (uint32_t)v;
		memcpy(at, &narrow, sizeof(narrow));
	} else {
		FAII_ASSERT(f->width == sizeof(uint64_t));
		memcpy(at, &v, sizeof(v));
	}
}

static int tiers(const struct fs_field *f, json_t *v, bool decimal, const char *at, void *base,
                 char error[FS_ERROR_BYTES])
{
	if (!json_is_array(v) || json_array_size(v) != FAII_SETTLE_TIERS)
		return bad(error, at, "expected an array of %u values, one per tier",
		           FAII_SETTLE_TIERS);
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		char item[PATH_BYTES];
		uint64_t x = 0;
		path_printf(item, "%s[%u]", at, t);
		if (value(f, json_array_get(v, t), decimal, item, &x, error) != 0)
			return -1;
		store(base, f, t, x);
	}
	return 0;
}

static int classes(const struct fs_field *f, json_t *v, bool decimal, const char *at, void *base,
                   char error[FS_ERROR_BYTES])
{
	if (!json_is_object(v))
		return bad(error, at, "expected an object keyed by class (micro, s, m, l, xl)");
	const char *key;
	json_t *item;
	json_object_foreach(v, key, item)
	{
		char item_at[PATH_BYTES];
		uint32_t c = 0;
		while (c < FAII_SETTLE_CLASSES && strcmp(key, class_names[c]) != 0)
			c++;
		path_printf(item_at, "%s.%s", at, key);
		if (c == FAII_SETTLE_CLASSES)
			return bad(error, item_at, "unknown class (micro, s, m, l, xl)");
		uint64_t x = 0;
		if (value(f, item, decimal, item_at, &x, error) != 0)
			return -1;
		store(base, f, c, x);
	}
	return 0;
}

/* Reads field f of obj (path `path`) into base, whichever form it is in. */
static int field(json_t *obj, const char *path, const struct fs_field *f, void *base,
                 char error[FS_ERROR_BYTES])
{
	char alt[KEY_BYTES], at[PATH_BYTES];
	decimal_key(f, alt);
	json_t *exact = json_object_get(obj, f->key);
	json_t *decimal = alt[0] ? json_object_get(obj, alt) : NULL;
	if (exact != NULL && decimal != NULL) {
		path_printf(at, "%s.%s", path, alt);
		return bad(error, at, "give one of \"%s\" and \"%s\", not both", f->key, alt);
	}
	json_t *v = exact != NULL ? exact : decimal;
	path_printf(at, "%s.%s", path, exact != NULL || !alt[0] ? f->key : alt);
	if (v == NULL && !f->required)
		return 0;
	if (v == NULL && alt[0])
		return bad(error, at, "missing (give \"%s\" or \"%s\")", alt, f->key);
	if (v == NULL)
		return bad(error, at, "missing");
	if (f->shape == FS_TIERS)
		return tiers(f, v, decimal != NULL, at, base, error);
	if (f->shape == FS_CLASSES)
		return classes(f, v, decimal != NULL, at, base, error);
	uint64_t x = 0;
	if (value(f, v, decimal != NULL, at, &x, error) != 0)
		return -1;
	store(base, f, 0, x);
	return 0;
}

/* Every key of obj must be a field's (in either form) or one of extra. */
static int known_keys(json_t *obj, const char *path, const struct fs_field *fields, size_t count,
                      const char *const *extra, char error[FS_ERROR_BYTES])
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		bool found = false;
		for (size_t i = 0; i < count && !found; i++) {
			char alt[KEY_BYTES];
			decimal_key(&fields[i], alt);
			found = strcmp(key, fields[i].key) == 0 ||
			        (alt[0] && strcmp(key, alt) == 0);
		}
		for (const char *const *e = extra; e != NULL && *e != NULL && !found; e++)
			found = strcmp(key, *e) == 0;
		if (!found) {
			char at[PATH_BYTES];
			path_printf(at, "%s%s%s", path, path[0] ? "." : "", key);
			return bad(error, at, "unknown field");
		}
	}
	return 0;
}

static int fields(json_t *obj, const char *path, const struct fs_field *table, size_t count,
                  void *base, char error[FS_ERROR_BYTES])
{
	for (size_t i = 0; i < count; i++)
		if (field(obj, path, &table[i], base, error) != 0)
			return -1;
	return 0;
}

/* Governance's genesis values (SPEC section 2a), queues 0. */
static void default_params(struct faii_settle_params *params)
{
	struct faii_settle_gov_config config;
	faii_settle_gov_config_defaults(&config, 1);
	config.proposals_max = 1;
	config.history_max = FAII_SETTLE_GOV_CHANGES_MAX;
	size_t bytes = faii_settle_gov_bytes(&config);
	void *mem = aligned_alloc(sizeof(uint64_t), (bytes + 7) & ~(size_t)7);
	struct faii_settle_gov *gov = NULL;
	FAII_ASSERT(mem != NULL);
	FAII_ASSERT(faii_settle_gov_init(mem, bytes, &config, &gov) == 0);
	FAII_ASSERT(faii_settle_gov_params_at(gov, 0, params) == 0);
	free(mem);
}

static int read_params(json_t *root, struct faii_settle_params *params, char error[FS_ERROR_BYTES])
{
	default_params(params);
	json_t *obj = json_object_get(root, "params");
	if (obj == NULL)
		return 0;
	if (!json_is_object(obj))
		return bad(error, "params", "expected an object");
	if (known_keys(obj, "params", param_fields, COUNT_OF(param_fields), NULL, error) != 0 ||
	    fields(obj, "params", param_fields, COUNT_OF(param_fields), params, error) != 0)
		return -1;
	/* The tables above restate settlement's ranges; its own check judges. */
	const char *name = NULL;
	if (faii_settle_params_check(params, &name) != 0)
		return bad(error, "params", "settlement refuses %s%s", name,
		           strcmp(name, "energy_price_green") == 0
		                   ? " (it may not exceed energy_price)"
		                   : "");
	return 0;
}

static int read_node(json_t *obj, const char *path, struct faii_settle_node_input *node,
                     char error[FS_ERROR_BYTES])
{
	static const char *const extra[] = {"class", NULL};
	char at[PATH_BYTES];
	memset(node, 0, sizeof(*node));
	if (!json_is_object(obj))
		return bad(error, path, "expected an object");
	if (known_keys(obj, path, node_fields, COUNT_OF(node_fields), extra, error) != 0 ||
	    fields(obj, path, node_fields, COUNT_OF(node_fields), node, error) != 0)
		return -1;
	path_printf(at, "%s.class", path);
	json_t *c = json_object_get(obj, "class");
	const char *text = json_string_value(c);
	uint32_t k = 0;
	while (text != NULL && k < FAII_SETTLE_CLASSES && strcasecmp(text, class_names[k]) != 0)
		k++;
	if (c == NULL)
		return bad(error, at, "missing");
	if (text == NULL || k == FAII_SETTLE_CLASSES)
		return bad(error, at, "expected one of \"micro\", \"s\", \"m\", \"l\", \"xl\"");
	node->node_class = (uint8_t)k;
	return 0;
}

/* qsort's comparison has no context argument: the nodes being sorted. */
static const struct faii_settle_node_input *sort_nodes;

static int by_node_id(const void *a, const void *b)
{
	uint32_t x = sort_nodes[*(const uint32_t *)a].node_id;
	uint32_t y = sort_nodes[*(const uint32_t *)b].node_id;
	return (x > y) - (x < y);
}

/* The leaves' order, and no node twice. */
static int order_by_id(struct fs_scenario *sc, char error[FS_ERROR_BYTES])
{
	for (size_t j = 0; j < sc->node_count; j++)
		sc->by_id[j] = (uint32_t)j;
	sort_nodes = sc->nodes;
	qsort(sc->by_id, sc->node_count, sizeof(sc->by_id[0]), by_node_id);
	for (size_t k = 1; k < sc->node_count; k++) {
		uint32_t a = sc->by_id[k - 1], b = sc->by_id[k];
		if (sc->nodes[a].node_id == sc->nodes[b].node_id) {
			char at[PATH_BYTES];
			path_printf(at, "nodes[%u].node_id", a > b ? a : b);
			return bad(error, at, "%u is also nodes[%u]'s", sc->nodes[a].node_id,
			           a > b ? b : a);
		}
	}
	return 0;
}

static int read_nodes(json_t *root, struct fs_scenario *sc, char error[FS_ERROR_BYTES])
{
	json_t *list = json_object_get(root, "nodes");
	if (list == NULL)
		return bad(error, "nodes", "missing");
	if (!json_is_array(list) || json_array_size(list) > FAII_SETTLE_NODES_MAX)
		return bad(error, "nodes", "expected an array of at most %u nodes",
		           FAII_SETTLE_NODES_MAX);
	size_t count = json_array_size(list);
	sc->nodes = calloc(count ? count : 1, sizeof(sc->nodes[0]));
	sc->by_id = calloc(count ? count : 1, sizeof(sc->by_id[0]));
	if (sc->nodes == NULL || sc->by_id == NULL)
		return bad(error, "nodes", "out of memory");
	for (size_t j = 0; j < count; j++) {
		char at[PATH_BYTES];
		path_printf(at, "nodes[%zu]", j);
		if (read_node(json_array_get(list, j), at, &sc->nodes[j], error) != 0)
			return -1;
	}
	sc->node_count = count;
	return order_by_id(sc, error);
}

int fs_scenario_read(json_t *root, struct fs_scenario *sc, char error[FS_ERROR_BYTES])
{
	static const char *const top[] = {"name", "epoch", "params", "nodes", NULL};
	memset(sc, 0, sizeof(*sc));
	if (!json_is_object(root))
		return bad(error, "(top level)", "expected an object");
	if (known_keys(root, "", NULL, 0, top, error) != 0)
		return -1;
	json_t *name = json_object_get(root, "name");
	if (name != NULL && (!json_is_string(name) || json_string_length(name) >= FS_NAME_BYTES))
		return bad(error, "name", "expected a string of at most %u bytes",
		           FS_NAME_BYTES - 1);
	if (name != NULL)
		snprintf(sc->name, sizeof(sc->name), "%s", json_string_value(name));
	json_t *epoch = json_object_get(root, "epoch");
	if (epoch == NULL)
		return bad(error, "epoch", "missing");
	if (!json_is_integer(epoch) || json_integer_value(epoch) < 0)
		return bad(error, "epoch", "expected an integer >= 0");
	sc->epoch = (uint64_t)json_integer_value(epoch);
	if (read_params(root, &sc->params, error) != 0)
		return -1;
	return read_nodes(root, sc, error);
}

void fs_scenario_free(struct fs_scenario *sc)
{
	free(sc->nodes);
	free(sc->by_id);
	sc->nodes = NULL;
	sc->by_id = NULL;
	sc->node_count = 0;
}

static json_t *field_json(const struct fs_field *f, const void *base, uint32_t index)
{
	const uint8_t *at = (const uint8_t *)base + f->offset + (size_t)index * f->width;
	uint64_t v = 0;
	if (f->width == sizeof(uint32_t)) {
		uint32_t narrow = 0;
		memcpy(&narrow, at, sizeof(narrow));
		v = narrow;
	} else {
		memcpy(&v, at, sizeof(v));
	}
	FAII_ASSERT(v <= FS_AMOUNT_MAX);
	return json_integer((json_int_t)v);
}

json_t *fs_params_to_json(const struct faii_settle_params *params)
{
	json_t *out = json_object();
	for (size_t i = 0; i < COUNT_OF(param_fields); i++) {
		const struct fs_field *f = &param_fields[i];
		json_t *v = NULL;
		if (f->shape == FS_SCALAR) {
			v = field_json(f, params, 0);
		} else if (f->shape == FS_TIERS) {
			v = json_array();
			for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
				json_array_append_new(v, field_json(f, params, t));
		} else {
			v = json_object();
			for (uint32_t c = 0; c < FAII_SETTLE_CLASSES; c++)
				json_object_set_new(v, class_names[c], field_json(f, params, c));
		}
		json_object_set_new(out, f->key, v);
	}
	return out;
}
