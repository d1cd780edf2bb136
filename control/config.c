/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML configuration loader: see include/faii/config.h and
 * docs/configuration.md.
 *
 * The file is parsed into a libyaml document (which keeps line and column of
 * every node), then walked with one schema table per mapping: each row names
 * a key, its parser, where it goes and its bounds. Validation and the list of
 * accepted keys live in those rows; cross-references (regions, countries,
 * unique ids) and constraints between values are checked after the walk.
 */
#include "faii/config.h"
#include "faii/assert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

/* Bounds the walk, so that YAML aliases cannot make it explode. */
#define VISITS_MAX     (1u << 22)
#define FOUND_TEXT_MAX 40
/* Mappings and sequences inside each other, counted before libyaml builds
 * the document: its scanner is quadratic in the depth (100 000 levels take
 * minutes), and the schema's deepest value (nodes[].esg.mix.solar) is 5. */
#define DEPTH_MAX 32u
/* YAML events of the depth pre-scan: a document of FAII_CFG_FILE_SIZE_MAX
 * bytes has fewer (each event takes at least one byte). */
#define SCAN_EVENTS_MAX (FAII_CFG_FILE_SIZE_MAX + 16u)

/*
 * Physically meaningful ranges of the numeric fields that have no natural
 * bound of their own (docs/configuration.md). They keep every value the
 * solver derives from them (ratios to fleet means, 1/x terms, squares)
 * many orders of magnitude inside a double.
 */
#define CAPACITY_TASKS_PER_S_MIN 1e-3 /* one task unit per 1000 s */
#define CAPACITY_TASKS_PER_S_MAX 1e9
#define PRICE_MIN                1e-6
#define PRICE_MAX                1e6
#define ENERGY_TO_WORK_WH_MIN    1e-6 /* Wh per task unit */
#define ENERGY_TO_WORK_WH_MAX    1e6
#define MULTIPLIER_MAX           10.0 /* esg_multiplier.max, slo_multiplier.max */
#define SLO_ALPHA_MAX            100.0
#define TIER_FACTOR_MAX          1000.0
#define CONGESTION_GAMMA_MAX     100.0
#define RATE_TOKENS_PER_WORK_MAX 1e9   /* token_rate, availability_rate */
#define ENERGY_PRICE_MAX         1e6   /* energy_price, tokens per kWh */
#define GOVERNANCE_PERIOD_S_MAX  3.2e7 /* about a year */

struct loader {
	yaml_document_t doc;
	const char *file;
	char *err;
	struct faii_config *cfg;
	uint32_t visits;
};

struct field;
typedef int (*field_parse_fn)(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                              const struct field *f);

enum {
	F_REQUIRED = 1u << 0,
	F_MIN_OPEN = 1u << 1, /* the lower bound is excluded */
	F_MAX_OPEN = 1u << 2, /* the upper bound is excluded */
};

struct field {
	const char *key;
	field_parse_fn parse;
	size_t offset;
	double min, max;
	unsigned flags;
	size_t size;     /* string capacity, bytes */
	const void *aux; /* sub-schema */
};

struct schema {
	const struct field *fields;
	size_t count;
};

#define SCHEMA(rows)                                                                               \
	{                                                                                          \
		rows, sizeof(rows) / sizeof((rows)[0])                                             \
	}

/* ---- error reporting ---------------------------------------------------- */

static void describe(const yaml_node_t *node, char *out, size_t cap)
{
	if (node == NULL) {
		snprintf(out, cap, "nothing");
	} else if (node->type == YAML_MAPPING_NODE) {
		snprintf(out, cap, "a mapping");
	} else if (node->type == YAML_SEQUENCE_NODE) {
		snprintf(out, cap, "a sequence");
	} else {
		const char *v = (const char *)node->data.scalar.value;
		size_t n = node->data.scalar.length;
		if (n == 0)
			snprintf(out, cap, "an empty value");
		else if (n > FOUND_TEXT_MAX)
			snprintf(out, cap, "\"%.*s...\"", FOUND_TEXT_MAX, v);
		else
			snprintf(out, cap, "\"%.*s\"", (int)n, v);
	}
}

__attribute__((format(printf, 4, 5))) static int fail(struct loader *ld, const yaml_node_t *node,
                                                      const char *path, const char *fmt, ...)
{
	size_t line = node ? node->start_mark.line + 1 : 1;
	size_t col = node ? node->start_mark.column + 1 : 1;
	int n = snprintf(ld->err, FAII_CFG_ERR_LEN, "%s:%zu:%zu: %s: ", ld->file, line, col,
	                 path[0] ? path : "(top level)");
	if (n > 0 && (size_t)n < FAII_CFG_ERR_LEN) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ld->err + n, FAII_CFG_ERR_LEN - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int fail_expected(struct loader *ld, const yaml_node_t *node, const char *path,
                         const char *expected)
{
	char found[FOUND_TEXT_MAX + 8];
	describe(node, found, sizeof(found));
	return fail(ld, node, path, "expected %s, found %s", expected, found);
}

/* ---- scalars ------------------------------------------------------------ */

static bool is_scalar(const yaml_node_t *node)
{
	return node && node->type == YAML_SCALAR_NODE;
}

static bool is_plain_scalar(const yaml_node_t *node)
{
	return is_scalar(node) && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool scalar_equals(const yaml_node_t *node, const char *s)
{
	size_t n = strlen(s);
	return is_scalar(node) && node->data.scalar.length == n &&
	       memcmp(node->data.scalar.value, s, n) == 0;
}

/* Copies a scalar into a NUL-terminated buffer; false if it does not fit. */
static bool scalar_copy(const yaml_node_t *node, char *out, size_t cap)
{
	size_t n = node->data.scalar.length;
	if (n >= cap || memchr(node->data.scalar.value, '\0', n) != NULL)
		return false;
	memcpy(out, node->data.scalar.value, n);
	out[n] = '\0';
	return true;
}

static void range_text(const struct field *f, char *out, size_t cap)
{
	char lo = (f->flags & F_MIN_OPEN) ? '(' : '[';
	char hi = (f->flags & F_MAX_OPEN) ? ')' : ']';
	if (isinf(f->max))
		snprintf(out, cap, "%s %.16g", (f->flags & F_MIN_OPEN) ? ">" : ">=", f->min);
	else
		snprintf(out, cap, "in %c%.16g, %.16g%c", lo, f->min, f->max, hi);
}

static bool in_range(const struct field *f, double v)
{
	bool lo_ok = (f->flags & F_MIN_OPEN) ? v > f->min : v >= f->min;
	bool hi_ok = (f->flags & F_MAX_OPEN) ? v < f->max : v <= f->max;
	return lo_ok && hi_ok;
}

static int scalar_number(struct loader *ld, yaml_node_t *node, const char *path,
                         const struct field *f, bool integer, double *out)
{
	char text[64], range[64], expected[96];
	range_text(f, range, sizeof(range));
	snprintf(expected, sizeof(expected), "%s %s", integer ? "an integer" : "a number", range);
	if (!is_plain_scalar(node) || !scalar_copy(node, text, sizeof(text)) || text[0] == '\0' ||
	    text[strspn(text, "0123456789.eE+-")] != '\0')
		return fail_expected(ld, node, path, expected);
	char *end = NULL;
	errno = 0;
	double v;
	if (integer) {
		if (text[0] == '-' || text[0] == '+')
			return fail_expected(ld, node, path, expected);
		unsigned long long u = strtoull(text, &end, 10);
		v = (double)u;
	} else {
		v = strtod(text, &end);
	}
	/* A subnormal (or one that rounds to 0) is not out of any range here:
	 * say what is wrong with it rather than quote the range it is in. */
	if (!integer && errno == ERANGE && *end == '\0' && fabs(v) < DBL_MIN)
		return fail(ld, node, path,
		            "expected %s, found \"%s\", too close to 0 for a double (below %g "
		            "in magnitude); write 0 if 0 is meant",
		            expected, text, DBL_MIN);
	if (errno != 0 || *end != '\0' || !isfinite(v) || !in_range(f, v))
		return fail_expected(ld, node, path, expected);
	*out = v;
	return 0;
}

static int parse_double(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                        const struct field *f)
{
	return scalar_number(ld, node, path, f, false, dst);
}

static int parse_u32(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                     const struct field *f)
{
	double v = 0;
	if (scalar_number(ld, node, path, f, true, &v) != 0)
		return -1;
	*(uint32_t *)dst = (uint32_t)v;
	return 0;
}

static int parse_u64(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                     const struct field *f)
{
	double v = 0;
	if (scalar_number(ld, node, path, f, true, &v) != 0)
		return -1;
	*(uint64_t *)dst = (uint64_t)v;
	return 0;
}

static int parse_u16(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                     const struct field *f)
{
	double v = 0;
	if (scalar_number(ld, node, path, f, true, &v) != 0)
		return -1;
	*(uint16_t *)dst = (uint16_t)v;
	return 0;
}

/* A plain null (YAML 1.1/1.2 core schema; JSON's null in node.add) is no
 * string: quoted, "null" is one. */
static bool is_null_scalar(const yaml_node_t *node)
{
	return is_plain_scalar(node) &&
	       (scalar_equals(node, "null") || scalar_equals(node, "Null") ||
	        scalar_equals(node, "NULL") || scalar_equals(node, "~"));
}

static int parse_string(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                        const struct field *f)
{
	char expected[64];
	snprintf(expected, sizeof(expected), "a non-empty string of at most %zu bytes",
	         f->size - 1);
	if (!is_scalar(node) || node->data.scalar.length == 0 || is_null_scalar(node) ||
	    !scalar_copy(node, dst, f->size))
		return fail_expected(ld, node, path, expected);
	return 0;
}

/* One of a fixed list of names; the index is stored as a uint8_t. */
static int parse_enum(struct loader *ld, yaml_node_t *node, const char *path, uint8_t *dst,
                      const char *(*name_of)(uint8_t), unsigned count)
{
	char expected[160] = "one of";
	for (unsigned i = 0; i < count; i++) {
		size_t used = strlen(expected);
		snprintf(expected + used, sizeof(expected) - used, "%s %s", i ? "," : "",
		         name_of((uint8_t)i));
		if (scalar_equals(node, name_of((uint8_t)i))) {
			*dst = (uint8_t)i;
			return 0;
		}
	}
	return fail_expected(ld, node, path, expected);
}

static int parse_hex_key(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                         const struct field *f)
{
	(void)f;
	char text[2 * FAII_PUBKEY_SIZE + 1];
	size_t bin_len = 0;
	const char *expected = "an Ed25519 public key as 64 hex digits";
	if (!is_scalar(node) || node->data.scalar.length != 2 * FAII_PUBKEY_SIZE ||
	    !scalar_copy(node, text, sizeof(text)))
		return fail_expected(ld, node, path, expected);
	if (sodium_hex2bin(dst, FAII_PUBKEY_SIZE, text, strlen(text), NULL, &bin_len, NULL) != 0 ||
	    bin_len != FAII_PUBKEY_SIZE)
		return fail_expected(ld, node, path, expected);
	return 0;
}

/* ---- mappings and sequences --------------------------------------------- */

static int count_visit(struct loader *ld, yaml_node_t *node, const char *path)
{
	if (++ld->visits > VISITS_MAX)
		return fail(ld, node, path, "expected at most %u YAML nodes (aliases included)",
		            VISITS_MAX);
	return 0;
}

static void child_path(char *out, size_t cap, const char *path, const char *key)
{
	/* A key path longer than the buffer is cut short: it only names the
	 * place in an error message. */
	int n = snprintf(out, cap, "%s%s%s", path, path[0] ? "." : "", key);
	if (n < 0 && cap > 0)
		out[0] = '\0';
}

static int walk_map(struct loader *ld, yaml_node_t *node, const char *path,
                    const struct schema *schema, void *base)
{
	uint64_t seen = 0;
	if (count_visit(ld, node, path) != 0)
		return -1;
	if (node == NULL || node->type != YAML_MAPPING_NODE)
		return fail_expected(ld, node, path, "a mapping");
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(&ld->doc, pair->key);
		yaml_node_t *value = yaml_document_get_node(&ld->doc, pair->value);
		if (!is_scalar(key))
			return fail_expected(ld, key, path, "a scalar key");
		size_t i = 0;
		while (i < schema->count && !scalar_equals(key, schema->fields[i].key))
			i++;
		if (i == schema->count) {
			char keys[FAII_CFG_ERR_LEN / 2] = "", found[FOUND_TEXT_MAX + 8];
			for (size_t k = 0; k < schema->count; k++) {
				size_t used = strlen(keys);
				snprintf(keys + used, sizeof(keys) - used, "%s%s", k ? ", " : "",
				         schema->fields[k].key);
			}
			describe(key, found, sizeof(found));
			return fail(ld, key, path, "unknown key %s, expected one of: %s", found,
			            keys);
		}
		const struct field *f = &schema->fields[i];
		char sub[160];
		child_path(sub, sizeof(sub), path, f->key);
		if (seen & (1ull << i))
			return fail(ld, key, sub, "duplicate key");
		seen |= 1ull << i;
		if (f->parse(ld, value, sub, (char *)base + f->offset, f) != 0)
			return -1;
	}
	for (size_t i = 0; i < schema->count; i++) {
		if ((schema->fields[i].flags & F_REQUIRED) && !(seen & (1ull << i)))
			return fail(ld, node, path, "missing required key \"%s\"",
			            schema->fields[i].key);
	}
	return 0;
}

static int parse_submap(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                        const struct field *f)
{
	return walk_map(ld, node, path, f->aux, dst);
}

typedef int (*item_fn)(struct loader *ld, yaml_node_t *item, const char *path, uint32_t index);

static int walk_seq(struct loader *ld, yaml_node_t *node, const char *path, uint32_t max,
                    item_fn each, uint32_t *count)
{
	char expected[64];
	snprintf(expected, sizeof(expected), "a sequence of at most %u entries", max);
	if (node == NULL || node->type != YAML_SEQUENCE_NODE)
		return fail_expected(ld, node, path, expected);
	ptrdiff_t n = node->data.sequence.items.top - node->data.sequence.items.start;
	if (n > (ptrdiff_t)max)
		return fail(ld, node, path, "expected at most %u entries, found %td", max, n);
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		yaml_node_t *item =
		        yaml_document_get_node(&ld->doc, node->data.sequence.items.start[i]);
		char sub[160];
		snprintf(sub, sizeof(sub), "%s[%u]", path, i);
		if (count_visit(ld, item, sub) != 0 || each(ld, item, sub, i) != 0)
			return -1;
	}
	*count = (uint32_t)n;
	return 0;
}

/* ---- names -------------------------------------------------------------- */

const char *faii_node_class_name(uint8_t node_class)
{
	static const char *const names[FAII_CLASS_COUNT] = {"micro", "S", "M", "L", "XL"};
	return node_class < FAII_CLASS_COUNT ? names[node_class] : NULL;
}

const char *faii_category_name(uint8_t category)
{
	static const char *const names[FAII_CATEGORY_COUNT] = {
	        "edge_inference",        "storage_shard",   "dag_validation",
	        "interactive_inference", "batch_inference", "ledger_work"};
	return category >= 1 && category <= FAII_CATEGORY_COUNT ? names[category - 1] : NULL;
}

const char *faii_node_status_name(uint8_t status)
{
	static const char *const names[] = {"active", "draining", "quarantined", "slashed",
	                                    "removed"};
	return status <= FAII_NODE_REMOVED ? names[status] : NULL;
}

const char *faii_energy_source_name(uint8_t source)
{
	static const char *const names[FAII_SRC_COUNT] = {"solar",      "wind",        "hydro",
	                                                  "geothermal", "biomass",     "hydrogen",
	                                                  "waste",      "nonrenewable"};
	return source < FAII_SRC_COUNT ? names[source] : NULL;
}

/* ---- defaults ------------------------------------------------------------ */

void faii_policy_defaults(struct faii_policy *p)
{
	static const double omega[FAII_ESG_WEIGHT_COUNT] = {0.4, 0.2, 0.2, 0.2};
	static const double lambda[FAII_SRC_RENEWABLE_COUNT] = {1.00, 0.95, 0.85, 0.90,
	                                                        0.60, 0.70, 0.40};
	static const uint32_t operators_min[FAII_TIER_COUNT] = {4, 3, 3, 2};
	static const double slo_target[FAII_TIER_COUNT] = {0.990, 0.995, 0.995, 0.995};

	memset(p, 0, sizeof(*p));
	memcpy(p->esg_weight, omega, sizeof(omega));
	memcpy(p->source_weight, lambda, sizeof(lambda));
	p->corridor_below = 0.2;
	p->corridor_above = 0.2;
	p->concentration_eta = 0.5;
	p->class_share_max = 0.4;
	p->esg_slope = 0.5;
	p->esg_multiplier_max = 1.25;
	p->renewable_baseline = 0.5;
	p->energy_price = 0.0;
	p->slo_alpha = 1.0;
	p->slo_multiplier_max = 1.2;
	p->token_rate = 1.0;
	p->availability_rate = 0.1;
	p->governance_step_max = 0.10;
	p->governance_period_s = 86400.0;
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		p->tier[t] = (struct faii_tier_policy){
		        .factor = (double)(t + 1),
		        .operator_cap = 0.25,
		        .operators_min = operators_min[t],
		        .edge_reserve = t == 0 ? 0.3 : 0.0,
		        .congestion_gamma = 0.5,
		        .slo_target = slo_target[t],
		};
	}
}

void faii_appliance_defaults(struct faii_appliance_cfg *a)
{
	memset(a, 0, sizeof(*a));
	a->workers = 1;
	a->udp_port = FAII_UDP_PORT_DEFAULT;
	a->metrics_port = 9410;
	a->stats_interval_s = 5;
	snprintf(a->control_socket, sizeof(a->control_socket), "/run/faii/faii.sock");
	snprintf(a->ledger_dir, sizeof(a->ledger_dir), "/var/lib/faii/ledger");
	a->ledger_segment_mb = 64;
	snprintf(a->residency_pin_dir, sizeof(a->residency_pin_dir), "/sys/fs/bpf/faii");
	a->validator_epoch = 1;
	/* The most one message carries: per-round costs are shared by more
	 * transactions (perf/RESULTS.md, "Consensus"). */
	a->validator_batch_bytes = 61440;
	a->validator_batch_wait_ms = 5;
	a->validator_leader_timeout_ms = 200;
	a->validator_retransmit_ms = 50;
	a->validator_gc_depth_rounds = 50;
	a->validator_window_rounds = 128;
	a->validator_tick_ms = 5;
	a->settlement.slice_ms = FAII_CFG_SLICE_MS_DEFAULT;
	a->settlement.heartbeat_period_ms = FAII_CFG_HEARTBEAT_MS_DEFAULT;
	a->settlement.receipts_kept = FAII_CFG_RECEIPTS_KEPT_DEFAULT;
	a->settlement.epoch_s = 60;
	a->settlement.activation_delay_s = 120;
	a->settlement.dispute_window_s = 86400; /* DePX: 24 h */
	a->settlement.nodes_max = 16384;
	a->settlement.penalty_tokens = 0.01;
	for (uint32_t c = 0; c < FAII_CFG_SETTLE_CLASSES; c++)
		a->settlement.payout_cap_tokens[c] = 1e6;
}

/* ---- appliance ------------------------------------------------------------ */

static int parse_eal_arg(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	static const struct field f = {.size = FAII_CFG_EAL_ARG_LEN_MAX};
	return parse_string(ld, item, path, ld->cfg->appliance.eal_args[i], &f);
}

static int parse_eal(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                     const struct field *f)
{
	(void)dst, (void)f;
	return walk_seq(ld, node, path, FAII_CFG_EAL_ARGS_MAX, parse_eal_arg,
	                &ld->cfg->appliance.eal_arg_count);
}

/* A uid or gid list of the control socket's roles. */
static _Thread_local uint32_t *id_list_target;

static int parse_id_item(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	static const struct field f = {.min = 0, .max = UINT32_MAX - 1};
	double v = 0;
	if (scalar_number(ld, item, path, &f, true, &v) != 0)
		return -1;
	id_list_target[i] = (uint32_t)v;
	return 0;
}

static int parse_id_list(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                         const struct field *f)
{
	/* dst is the count; the array follows at aux's offset from the appliance. */
	id_list_target = (uint32_t *)((char *)&ld->cfg->appliance + (size_t)f->max);
	return walk_seq(ld, node, path, FAII_CFG_CONTROL_IDS_MAX, parse_id_item, dst);
}

#define ID_LIST_FIELD(name, count, array)                                                          \
	{                                                                                          \
		name, parse_id_list, offsetof(struct faii_appliance_cfg, count), 0,                \
		        (double)offsetof(struct faii_appliance_cfg, array), 0, 0, NULL             \
	}

static const struct field validator_fields[] = {
        {"id", parse_u32, offsetof(struct faii_cfg_validator, id), 1, UINT32_MAX, F_REQUIRED, 0,
         NULL},
        {"public_key", parse_hex_key, offsetof(struct faii_cfg_validator, public_key), 0, 0,
         F_REQUIRED, 0, NULL},
        {"address", parse_string, offsetof(struct faii_cfg_validator, address), 0, 0, F_REQUIRED,
         FAII_CFG_NAME_LEN_MAX, NULL},
        {"node_id_first", parse_u32, offsetof(struct faii_cfg_validator, node_id_first), 1,
         UINT32_MAX, 0, 0, NULL},
        {"node_id_last", parse_u32, offsetof(struct faii_cfg_validator, node_id_last), 1,
         UINT32_MAX, 0, 0, NULL},
};
static const struct schema validator_schema = SCHEMA(validator_fields);

static int parse_validator(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	struct faii_appliance_cfg *a = &ld->cfg->appliance;
	if (walk_map(ld, item, path, &validator_schema, &a->validators[i]) != 0)
		return -1;
	for (uint32_t k = 0; k < i; k++) {
		if (a->validators[k].id == a->validators[i].id)
			return fail(ld, item, path,
			            "expected a unique validator id, found %u twice",
			            a->validators[i].id);
		if (memcmp(a->validators[k].public_key, a->validators[i].public_key,
		           FAII_PUBKEY_SIZE) == 0)
			return fail(
			        ld, item, path,
			        "expected a unique public key, found the key of validator %u again",
			        a->validators[k].id);
	}
	return 0;
}

/* Home ranges (docs/settlement.md, "Home ranges"): every member gives
 * node_id_first <= node_id_last, or none gives either; no two overlap. */
static int check_home_ranges(struct loader *ld, yaml_node_t *node, const char *path)
{
	const struct faii_appliance_cfg *a = &ld->cfg->appliance;
	uint32_t given = 0;
	for (uint32_t i = 0; i < a->validator_count; i++) {
		const struct faii_cfg_validator *v = &a->validators[i];
		if ((v->node_id_first == 0) != (v->node_id_last == 0))
			return fail(ld, node, path,
			            "expected both node_id_first and node_id_last of validator %u",
			            v->id);
		if (v->node_id_first > v->node_id_last)
			return fail(ld, node, path,
			            "expected node_id_first <= node_id_last of validator %u",
			            v->id);
		given += v->node_id_first != 0;
		for (uint32_t k = 0; k < i && v->node_id_first != 0; k++)
			if (v->node_id_first <= a->validators[k].node_id_last &&
			    a->validators[k].node_id_first <= v->node_id_last)
				return fail(
				        ld, node, path,
				        "expected disjoint node id ranges, validators %u and %u "
				        "overlap",
				        a->validators[k].id, v->id);
	}
	if (given != 0 && given != a->validator_count)
		return fail(ld, node, path,
		            "expected a node id range for every member or for none (%u of %u)",
		            given, a->validator_count);
	return 0;
}

static int parse_validator_members(struct loader *ld, yaml_node_t *node, const char *path,
                                   void *dst, const struct field *f)
{
	(void)dst, (void)f;
	if (walk_seq(ld, node, path, FAII_CFG_VALIDATORS_MAX, parse_validator,
	             &ld->cfg->appliance.validator_count) != 0)
		return -1;
	if (ld->cfg->appliance.validator_count == 0)
		return fail_expected(ld, node, path, "at least one validator (this appliance)");
	return check_home_ranges(ld, node, path);
}

static const struct field validators_fields[] = {
        {"self", parse_u32, offsetof(struct faii_appliance_cfg, validator_self), 1, UINT32_MAX,
         F_REQUIRED, 0, NULL},
        {"key_file", parse_string, offsetof(struct faii_appliance_cfg, validator_key_file), 0, 0,
         F_REQUIRED, FAII_CFG_PATH_LEN_MAX, NULL},
        {"members", parse_validator_members, 0, 0, 0, F_REQUIRED, 0, NULL},
        {"epoch", parse_u64, offsetof(struct faii_appliance_cfg, validator_epoch), 1, 1e15, 0, 0,
         NULL},
        {"batch_bytes", parse_u32, offsetof(struct faii_appliance_cfg, validator_batch_bytes), 64,
         61440, 0, 0, NULL},
        {"batch_wait_ms", parse_u32, offsetof(struct faii_appliance_cfg, validator_batch_wait_ms),
         0, 10000, 0, 0, NULL},
        {"leader_timeout_ms", parse_u32,
         offsetof(struct faii_appliance_cfg, validator_leader_timeout_ms), 1, 600000, 0, 0, NULL},
        {"retransmit_ms", parse_u32, offsetof(struct faii_appliance_cfg, validator_retransmit_ms),
         1, 600000, 0, 0, NULL},
        {"gc_depth_rounds", parse_u32,
         offsetof(struct faii_appliance_cfg, validator_gc_depth_rounds), 2, 1020, 0, 0, NULL},
        {"window_rounds", parse_u32, offsetof(struct faii_appliance_cfg, validator_window_rounds),
         8, 1024, 0, 0, NULL},
        {"tick_ms", parse_u32, offsetof(struct faii_appliance_cfg, validator_tick_ms), 1, 1000, 0,
         0, NULL},
};
static const struct schema validators_schema = SCHEMA(validators_fields);

static const struct field auth_fields[] = {
        {"key_file", parse_string, offsetof(struct faii_auth_cfg, key_file), 0, 0, F_REQUIRED,
         FAII_CFG_PATH_LEN_MAX, NULL},
        {"clients_file", parse_string, offsetof(struct faii_auth_cfg, clients_file), 0, 0, 0,
         FAII_CFG_PATH_LEN_MAX, NULL},
};
static const struct schema auth_schema = SCHEMA(auth_fields);

static const struct field appliance_fields[] = {
        {"eal", parse_eal, 0, 0, 0, 0, 0, NULL},
        {"workers", parse_u32, offsetof(struct faii_appliance_cfg, workers), 1,
         FAII_CFG_WORKERS_MAX, 0, 0, NULL},
        {"udp_port", parse_u16, offsetof(struct faii_appliance_cfg, udp_port), 1, 65535, 0, 0,
         NULL},
        {"metrics_port", parse_u16, offsetof(struct faii_appliance_cfg, metrics_port), 1, 65535, 0,
         0, NULL},
        {"stats_interval_s", parse_u32, offsetof(struct faii_appliance_cfg, stats_interval_s), 0,
         3600, 0, 0, NULL},
        {"control_socket", parse_string, offsetof(struct faii_appliance_cfg, control_socket), 0, 0,
         0, FAII_CFG_SOCKET_PATH_LEN_MAX, NULL},
        {"ledger_dir", parse_string, offsetof(struct faii_appliance_cfg, ledger_dir), 0, 0, 0,
         FAII_CFG_PATH_LEN_MAX, NULL},
        {"ledger_segment_mb", parse_u32, offsetof(struct faii_appliance_cfg, ledger_segment_mb), 4,
         4096, 0, 0, NULL},
        {"residency_pin_dir", parse_string, offsetof(struct faii_appliance_cfg, residency_pin_dir),
         0, 0, 0, FAII_CFG_PATH_LEN_MAX, NULL},
        ID_LIST_FIELD("control_admin_uids", control_admin_uid_count, control_admin_uids),
        ID_LIST_FIELD("control_admin_gids", control_admin_gid_count, control_admin_gids),
        ID_LIST_FIELD("control_reader_uids", control_reader_uid_count, control_reader_uids),
        ID_LIST_FIELD("control_reader_gids", control_reader_gid_count, control_reader_gids),
        {"attest_stale_s", parse_u32, offsetof(struct faii_appliance_cfg, attest_stale_s), 0,
         31536000, 0, 0, NULL},
        {"heartbeat_stale_s", parse_u32, offsetof(struct faii_appliance_cfg, heartbeat_stale_s), 0,
         31536000, 0, 0, NULL},
        {"validators", parse_submap, 0, 0, 0, 0, 0, &validators_schema},
        {"auth", parse_submap, offsetof(struct faii_appliance_cfg, auth), 0, 0, 0, 0, &auth_schema},
};
static const struct schema appliance_schema = SCHEMA(appliance_fields);

#define CAP_FIELD(name, c)                                                                         \
	{                                                                                          \
		name, parse_double,                                                                \
		        offsetof(struct faii_settlement_cfg, payout_cap_tokens) +                  \
		                (c) * sizeof(double),                                              \
		        0, 1e9, 0, 0, NULL                                                         \
	}
static const struct field payout_cap_fields[] = {
        CAP_FIELD("micro", 0), CAP_FIELD("s", 1),  CAP_FIELD("m", 2),
        CAP_FIELD("l", 3),     CAP_FIELD("xl", 4),
};
static const struct schema payout_cap_schema = SCHEMA(payout_cap_fields);

static const struct field settlement_fields[] = {
        {"slice_ms", parse_u32, offsetof(struct faii_settlement_cfg, slice_ms),
         FAII_CFG_SLICE_MS_MIN, FAII_CFG_SLICE_MS_MAX, 0, 0, NULL},
        {"heartbeat_period_ms", parse_u32,
         offsetof(struct faii_settlement_cfg, heartbeat_period_ms), FAII_CFG_SLICE_MS_MIN,
         FAII_CFG_SLICE_MS_MAX, 0, 0, NULL},
        {"receipts_kept", parse_u32, offsetof(struct faii_settlement_cfg, receipts_kept),
         FAII_CFG_RECEIPTS_KEPT_MIN, FAII_CFG_RECEIPTS_KEPT_MAX, 0, 0, NULL},
        {"epoch_s", parse_u32, offsetof(struct faii_settlement_cfg, epoch_s), 1, 2592000, 0, 0,
         NULL},
        {"activation_delay_s", parse_u32, offsetof(struct faii_settlement_cfg, activation_delay_s),
         0, 2592000, 0, 0, NULL},
        {"dispute_window_s", parse_u32, offsetof(struct faii_settlement_cfg, dispute_window_s), 1,
         2592000, 0, 0, NULL},
        {"nodes_max", parse_u32, offsetof(struct faii_settlement_cfg, nodes_max), 1,
         FAII_CFG_NODES_MAX, 0, 0, NULL},
        {"penalty_tokens", parse_double, offsetof(struct faii_settlement_cfg, penalty_tokens), 0,
         1e6, 0, 0, NULL},
        {"payout_cap_tokens", parse_submap, 0, 0, 0, 0, 0, &payout_cap_schema},
};
static const struct schema settlement_schema = SCHEMA(settlement_fields);

/* ---- policy --------------------------------------------------------------- */

#define UNIT_FIELD(name, type, member)                                                             \
	{                                                                                          \
		name, parse_double, offsetof(type, member), 0, 1, F_REQUIRED, 0, NULL              \
	}

static const struct field esg_weight_fields[] = {
        UNIT_FIELD("renewables", struct faii_policy, esg_weight[0]),
        UNIT_FIELD("rpue", struct faii_policy, esg_weight[1]),
        UNIT_FIELD("energy_to_work", struct faii_policy, esg_weight[2]),
        UNIT_FIELD("grid", struct faii_policy, esg_weight[3]),
};
static const struct schema esg_weight_schema = SCHEMA(esg_weight_fields);

/* Partial overrides are allowed here: each source keeps its default. */
#define SOURCE_FIELD(name, i)                                                                      \
	{                                                                                          \
		name, parse_double, offsetof(struct faii_policy, source_weight[i]), 0, 1, 0, 0,    \
		        NULL                                                                       \
	}
static const struct field source_weight_fields[] = {
        SOURCE_FIELD("solar", FAII_SRC_SOLAR),     SOURCE_FIELD("wind", FAII_SRC_WIND),
        SOURCE_FIELD("hydro", FAII_SRC_HYDRO),     SOURCE_FIELD("geothermal", FAII_SRC_GEOTHERMAL),
        SOURCE_FIELD("biomass", FAII_SRC_BIOMASS), SOURCE_FIELD("hydrogen", FAII_SRC_HYDROGEN),
        SOURCE_FIELD("waste", FAII_SRC_WASTE),
};
static const struct schema source_weight_schema = SCHEMA(source_weight_fields);

static const struct field corridor_fields[] = {
        {"below", parse_double, offsetof(struct faii_policy, corridor_below), 0, 1, 0, 0, NULL},
        {"above", parse_double, offsetof(struct faii_policy, corridor_above), 0, 1, 0, 0, NULL},
};
static const struct schema corridor_schema = SCHEMA(corridor_fields);

static const struct field esg_multiplier_fields[] = {
        {"slope", parse_double, offsetof(struct faii_policy, esg_slope), 0, 1, F_MAX_OPEN, 0, NULL},
        {"max", parse_double, offsetof(struct faii_policy, esg_multiplier_max), 1, MULTIPLIER_MAX,
         0, 0, NULL},
        {"baseline", parse_double, offsetof(struct faii_policy, renewable_baseline), 0, 1, 0, 0,
         NULL},
};
static const struct schema esg_multiplier_schema = SCHEMA(esg_multiplier_fields);

static const struct field slo_multiplier_fields[] = {
        {"alpha", parse_double, offsetof(struct faii_policy, slo_alpha), 1, SLO_ALPHA_MAX, 0, 0,
         NULL},
        {"max", parse_double, offsetof(struct faii_policy, slo_multiplier_max), 1, MULTIPLIER_MAX,
         0, 0, NULL},
};
static const struct schema slo_multiplier_schema = SCHEMA(slo_multiplier_fields);

static const struct field tier_fields[] = {
        {"factor", parse_double, offsetof(struct faii_tier_policy, factor), 1, TIER_FACTOR_MAX, 0,
         0, NULL},
        {"operator_cap", parse_double, offsetof(struct faii_tier_policy, operator_cap), 0, 1,
         F_MIN_OPEN | F_MAX_OPEN, 0, NULL},
        {"operators_min", parse_u32, offsetof(struct faii_tier_policy, operators_min), 1,
         FAII_CFG_OPERATORS_MAX, 0, 0, NULL},
        {"edge_reserve", parse_double, offsetof(struct faii_tier_policy, edge_reserve), 0, 1, 0, 0,
         NULL},
        {"congestion_gamma", parse_double, offsetof(struct faii_tier_policy, congestion_gamma), 0,
         CONGESTION_GAMMA_MAX, 0, 0, NULL},
        {"slo_target", parse_double, offsetof(struct faii_tier_policy, slo_target), 0, 1,
         F_MIN_OPEN, 0, NULL},
};
static const struct schema tier_schema = SCHEMA(tier_fields);

#define TIER_FIELD(name, i)                                                                        \
	{                                                                                          \
		name, parse_submap, offsetof(struct faii_policy, tier[i]), 0, 0, 0, 0,             \
		        &tier_schema                                                               \
	}
static const struct field tiers_fields[] = {
        TIER_FIELD("1", 0),
        TIER_FIELD("2", 1),
        TIER_FIELD("3", 2),
        TIER_FIELD("4", 3),
};
static const struct schema tiers_schema = SCHEMA(tiers_fields);

#define POLICY_OFF(m) offsetof(struct faii_policy, m)
static const struct field policy_fields[] = {
        {"esg_weights", parse_submap, 0, 0, 0, 0, 0, &esg_weight_schema},
        {"source_weights", parse_submap, 0, 0, 0, 0, 0, &source_weight_schema},
        {"price_corridor", parse_submap, 0, 0, 0, 0, 0, &corridor_schema},
        {"concentration_eta", parse_double, POLICY_OFF(concentration_eta), 0, 1, F_MAX_OPEN, 0,
         NULL},
        {"class_share_max", parse_double, POLICY_OFF(class_share_max), 0, 1,
         F_MIN_OPEN | F_MAX_OPEN, 0, NULL},
        {"esg_multiplier", parse_submap, 0, 0, 0, 0, 0, &esg_multiplier_schema},
        {"slo_multiplier", parse_submap, 0, 0, 0, 0, 0, &slo_multiplier_schema},
        {"energy_price", parse_double, POLICY_OFF(energy_price), 0, ENERGY_PRICE_MAX, 0, 0, NULL},
        {"token_rate", parse_double, POLICY_OFF(token_rate), 0, RATE_TOKENS_PER_WORK_MAX,
         F_MIN_OPEN, 0, NULL},
        {"availability_rate", parse_double, POLICY_OFF(availability_rate), 0,
         RATE_TOKENS_PER_WORK_MAX, F_MIN_OPEN, 0, NULL},
        {"governance_step_max", parse_double, POLICY_OFF(governance_step_max), 0, 1, F_MIN_OPEN, 0,
         NULL},
        {"governance_period_s", parse_double, POLICY_OFF(governance_period_s), 1,
         GOVERNANCE_PERIOD_S_MAX, 0, 0, NULL},
        {"tiers", parse_submap, 0, 0, 0, 0, 0, &tiers_schema},
};
static const struct schema policy_schema = SCHEMA(policy_fields);

/* The value of key in map, or map itself when absent: errors then point at
 * the enclosing mapping. */
static yaml_node_t *find_key(struct loader *ld, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		if (scalar_equals(yaml_document_get_node(&ld->doc, pair->key), key))
			return yaml_document_get_node(&ld->doc, pair->value);
	}
	return map;
}

/* Constraints between policy values, checked after each value's own range. */
static int check_policy(struct loader *ld, yaml_node_t *policy_node)
{
	const struct faii_policy *p = &ld->cfg->policy;
	double sum = 0;
	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		sum += p->esg_weight[i];
	if (fabs(sum - 1.0) > 1e-9)
		return fail(ld, find_key(ld, policy_node, "esg_weights"), "policy.esg_weights",
		            "expected weights summing to 1, found %g", sum);
	yaml_node_t *tiers = find_key(ld, policy_node, "tiers");
	if (fabs(p->tier[0].factor - 1.0) > 1e-12)
		return fail(ld, tiers, "policy.tiers.1.factor",
		            "expected 1 (theta0_1 = 1), found %g", p->tier[0].factor);
	for (unsigned t = 1; t < FAII_TIER_COUNT; t++) {
		if (!(p->tier[t].factor > p->tier[t - 1].factor)) {
			char path[64];
			snprintf(path, sizeof(path), "policy.tiers.%u.factor", t + 1);
			return fail(
			        ld, tiers, path,
			        "expected tier factors increasing with the tier, found %g after %g",
			        p->tier[t].factor, p->tier[t - 1].factor);
		}
	}
	return 0;
}

static int parse_policy(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                        const struct field *f)
{
	(void)f;
	if (walk_map(ld, node, path, &policy_schema, dst) != 0)
		return -1;
	return check_policy(ld, node);
}

/* ---- policy parameters by name (the control socket) ------------------------ */

/* Finds a dotted name in the policy schema; *offset accumulates. */
static const struct field *policy_field(const char *name, size_t *offset)
{
	const struct schema *sc = &policy_schema;
	const char *p = name;
	*offset = 0;
	for (;;) {
		size_t len = strcspn(p, ".");
		const struct field *f = NULL;
		for (size_t i = 0; i < sc->count; i++) {
			if (strlen(sc->fields[i].key) == len &&
			    strncmp(sc->fields[i].key, p, len) == 0)
				f = &sc->fields[i];
		}
		if (f == NULL)
			return NULL;
		*offset += f->offset;
		if (p[len] == '\0')
			return f->parse == parse_submap ? NULL : f;
		if (f->parse != parse_submap)
			return NULL;
		sc = f->aux;
		p += len + 1;
	}
}

int faii_policy_set(struct faii_policy *p, const char *name, double value,
                    char err[FAII_CFG_ERR_LEN])
{
	size_t offset;
	const struct field *f = policy_field(name, &offset);
	if (f == NULL) {
		snprintf(err, FAII_CFG_ERR_LEN, "policy.%s: no such parameter", name);
		return -2;
	}
	bool integer = f->parse == parse_u32;
	char range[64];
	range_text(f, range, sizeof(range));
	if (!isfinite(value) || !in_range(f, value) || (integer && value != floor(value))) {
		snprintf(err, FAII_CFG_ERR_LEN, "policy.%s: expected %s %s, found %g", name,
		         integer ? "an integer" : "a number", range, value);
		return -1;
	}
	if (integer)
		*(uint32_t *)((char *)p + offset) = (uint32_t)value;
	else
		*(double *)((char *)p + offset) = value;
	return 0;
}

int faii_policy_check(const struct faii_policy *p, char err[FAII_CFG_ERR_LEN])
{
	double sum = 0;
	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		sum += p->esg_weight[i];
	if (fabs(sum - 1.0) > 1e-9) {
		snprintf(err, FAII_CFG_ERR_LEN,
		         "policy.esg_weights: expected weights summing to 1, found %g", sum);
		return -1;
	}
	if (fabs(p->tier[0].factor - 1.0) > 1e-12) {
		snprintf(err, FAII_CFG_ERR_LEN,
		         "policy.tiers.1.factor: expected 1 (theta0_1 = 1), found %g",
		         p->tier[0].factor);
		return -1;
	}
	for (unsigned t = 1; t < FAII_TIER_COUNT; t++) {
		if (!(p->tier[t].factor > p->tier[t - 1].factor)) {
			snprintf(err, FAII_CFG_ERR_LEN,
			         "policy.tiers.%u.factor: expected tier factors increasing with "
			         "the tier, "
			         "found %g after %g",
			         t + 1, p->tier[t].factor, p->tier[t - 1].factor);
			return -1;
		}
	}
	return 0;
}

static void foreach_schema(const struct faii_policy *p, const struct schema *sc, const char *prefix,
                           size_t base, void (*each)(const struct faii_policy_param *, void *),
                           void *ctx)
{
	for (size_t i = 0; i < sc->count; i++) {
		const struct field *f = &sc->fields[i];
		char name[64];
		int n = snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "",
		                 f->key);
		if (n < 0 || (size_t)n >= sizeof(name))
			continue;
		if (f->parse == parse_submap) {
			foreach_schema(p, f->aux, name, base + f->offset, each, ctx);
			continue;
		}
		struct faii_policy_param prm = {
		        .min = f->min,
		        .max = f->max,
		        .min_open = f->flags & F_MIN_OPEN,
		        .max_open = f->flags & F_MAX_OPEN,
		        .integer = f->parse == parse_u32,
		};
		snprintf(prm.name, sizeof(prm.name), "%s", name);
		const char *at = (const char *)p + base + f->offset;
		prm.value = prm.integer ? *(const uint32_t *)at : *(const double *)at;
		each(&prm, ctx);
	}
}

void faii_policy_foreach(const struct faii_policy *p,
                         void (*each)(const struct faii_policy_param *param, void *ctx), void *ctx)
{
	foreach_schema(p, &policy_schema, "", 0, each, ctx);
}

/* ---- the governance step cap ------------------------------------------------ */

void faii_policy_period_begin(struct faii_policy_period *g, const struct faii_policy *p,
                              uint64_t now_ns)
{
	g->start = *p;
	g->start_ns = now_ns;
}

void faii_policy_period_roll(struct faii_policy_period *g, const struct faii_policy *current,
                             uint64_t now_ns)
{
	double period_ns = g->start.governance_period_s * 1e9;
	if (now_ns < g->start_ns || (double)(now_ns - g->start_ns) >= period_ns)
		faii_policy_period_begin(g, current, now_ns);
}

/* Every parameter of a policy in schema order, at most STEP_PARAMS_MAX. */
#define STEP_PARAMS_MAX 64u
struct param_list {
	unsigned n;
	struct faii_policy_param p[STEP_PARAMS_MAX];
};

static void collect_param(const struct faii_policy_param *p, void *ctx)
{
	struct param_list *l = ctx;
	FAII_ASSERT(l->n < STEP_PARAMS_MAX);
	l->p[l->n++] = *p;
}

int faii_policy_step_check(const struct faii_policy_period *g, const struct faii_policy *next,
                           uint64_t now_ns, char err[FAII_CFG_ERR_LEN])
{
	static struct param_list was, now; /* control thread only */
	was.n = now.n = 0;
	faii_policy_foreach(&g->start, collect_param, &was);
	faii_policy_foreach(next, collect_param, &now);
	FAII_ASSERT(was.n == now.n);
	double cap = g->start.governance_step_max;
	double left_s = g->start.governance_period_s - (double)(now_ns - g->start_ns) * 1e-9;
	for (unsigned i = 0; i < was.n; i++) {
		const struct faii_policy_param *b = &was.p[i], *n = &now.p[i];
		double step = b->integer      ? 1.0
		              : b->value != 0 ? cap * fabs(b->value)
		                              : cap * (b->max - b->min);
		/* A relative tolerance: 0.5 -> 0.45 is exactly 10 %. */
		if (fabs(n->value - b->value) <= step * (1.0 + 1e-9))
			continue;
		snprintf(err, FAII_CFG_ERR_LEN,
		         "policy.%s: %g -> %g is beyond the governance step cap: from %g at the "
		         "start of this period, governance_step_max %g allows %g to %g%s for "
		         "%.0f s more",
		         n->name, b->value, n->value, b->value, cap, b->value - step,
		         b->value + step, b->integer ? " (an integer: 1 per period)" : "",
		         left_s > 0 ? left_s : 0.0);
		return -1;
	}
	return 0;
}

/* ---- jurisdictions, residency classes, regions ----------------------------- */

static bool is_country_code(const char *s)
{
	return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

static const struct field jurisdiction_fields[] = {
        {"country", parse_string, offsetof(struct faii_cfg_jurisdiction, country), 0, 0, F_REQUIRED,
         3, NULL},
        {"bloc", parse_string, offsetof(struct faii_cfg_jurisdiction, bloc), 0, 0, 0,
         FAII_CFG_NAME_LEN_MAX, NULL},
};
static const struct schema jurisdiction_schema = SCHEMA(jurisdiction_fields);

static int find_jurisdiction(const struct faii_config *c, const char *country)
{
	for (uint32_t j = 0; j < c->jurisdiction_count; j++) {
		if (strcmp(c->jurisdictions[j].country, country) == 0)
			return (int)j;
	}
	return -1;
}

static int parse_jurisdiction(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	struct faii_cfg_jurisdiction *j = &ld->cfg->jurisdictions[i];
	if (walk_map(ld, item, path, &jurisdiction_schema, j) != 0)
		return -1;
	yaml_node_t *country = find_key(ld, item, "country");
	char sub[160];
	child_path(sub, sizeof(sub), path, "country");
	if (!is_country_code(j->country))
		return fail_expected(ld, country, sub,
		                     "an ISO 3166-1 alpha-2 country code (two upper-case letters)");
	ld->cfg->jurisdiction_count = i; /* look only at the ones before */
	if (find_jurisdiction(ld->cfg, j->country) >= 0)
		return fail(ld, country, sub, "expected a unique country, found %s twice",
		            j->country);
	if (j->bloc[0] == '\0')
		memcpy(j->bloc, j->country, sizeof(j->country));
	return 0;
}

static int parse_jurisdictions(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                               const struct field *f)
{
	(void)dst, (void)f;
	return walk_seq(ld, node, path, FAII_CFG_JURISDICTIONS_MAX, parse_jurisdiction,
	                &ld->cfg->jurisdiction_count);
}

/* Residency "allow" entries: "any", a country code, or a bloc name. */
static int parse_allow_entry(struct loader *ld, yaml_node_t *item, const char *path,
                             uint64_t *allowed)
{
	const struct faii_config *c = ld->cfg;
	char name[FAII_CFG_NAME_LEN_MAX];
	if (!is_scalar(item) || !scalar_copy(item, name, sizeof(name)))
		return fail_expected(ld, item, path, "a country, a bloc or \"any\"");
	bool any = strcmp(name, "any") == 0, matched = any;
	for (uint32_t j = 0; j < c->jurisdiction_count; j++) {
		if (any || strcmp(name, c->jurisdictions[j].country) == 0 ||
		    strcmp(name, c->jurisdictions[j].bloc) == 0) {
			*allowed |= 1ull << j;
			matched = true;
		}
	}
	if (!matched)
		return fail(ld, item, path,
		            "expected a country or bloc declared under jurisdictions, found \"%s\"",
		            name);
	return 0;
}

static int parse_allow(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                       const struct field *f)
{
	(void)f;
	struct faii_cfg_residency_class *rc = dst;
	if (node == NULL || node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.top == node->data.sequence.items.start)
		return fail_expected(ld, node, path, "a non-empty sequence of countries or blocs");
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		if (parse_allow_entry(ld, yaml_document_get_node(&ld->doc, *it), path,
		                      &rc->allowed) != 0)
			return -1;
	}
	return 0;
}

static const struct field residency_fields[] = {
        {"id", parse_u16, offsetof(struct faii_cfg_residency_class, id), 1,
         FAII_RESIDENCY_CLASS_MAX, F_REQUIRED, 0, NULL},
        {"name", parse_string, offsetof(struct faii_cfg_residency_class, name), 0, 0, F_REQUIRED,
         FAII_CFG_NAME_LEN_MAX, NULL},
        {"allow", parse_allow, 0, 0, 0, F_REQUIRED, 0, NULL},
};
static const struct schema residency_schema = SCHEMA(residency_fields);

static int parse_residency_class(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	struct faii_config *c = ld->cfg;
	struct faii_cfg_residency_class *rc = &c->residency_classes[i];
	if (walk_map(ld, item, path, &residency_schema, rc) != 0)
		return -1;
	for (uint32_t k = 0; k < i; k++) {
		if (c->residency_classes[k].id == rc->id)
			return fail(ld, item, path, "expected a unique class id, found %u twice",
			            rc->id);
		if (strcmp(c->residency_classes[k].name, rc->name) == 0)
			return fail(ld, item, path,
			            "expected a unique class name, found \"%s\" twice", rc->name);
	}
	return 0;
}

static int parse_residency_classes(struct loader *ld, yaml_node_t *node, const char *path,
                                   void *dst, const struct field *f)
{
	(void)dst, (void)f;
	return walk_seq(ld, node, path, FAII_RESIDENCY_CLASS_MAX, parse_residency_class,
	                &ld->cfg->residency_class_count);
}

static const struct field region_fields[] = {
        {"id", parse_u16, offsetof(struct faii_cfg_region, id), 1, FAII_REGION_ID_MAX, F_REQUIRED,
         0, NULL},
        {"name", parse_string, offsetof(struct faii_cfg_region, name), 0, 0, F_REQUIRED,
         FAII_CFG_NAME_LEN_MAX, NULL},
        {"lat", parse_double, offsetof(struct faii_cfg_region, lat_deg), -90, 90, F_REQUIRED, 0,
         NULL},
        {"lon", parse_double, offsetof(struct faii_cfg_region, lon_deg), -180, 180, F_REQUIRED, 0,
         NULL},
};
static const struct schema region_schema = SCHEMA(region_fields);

static int parse_region(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	struct faii_config *c = ld->cfg;
	struct faii_cfg_region *r = &c->regions[i];
	if (walk_map(ld, item, path, &region_schema, r) != 0)
		return -1;
	for (uint32_t k = 0; k < i; k++) {
		if (c->regions[k].id == r->id || strcmp(c->regions[k].name, r->name) == 0)
			return fail(
			        ld, item, path,
			        "expected a unique region id and name, found id %u \"%s\" twice",
			        r->id, r->name);
	}
	return 0;
}

static int parse_regions(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                         const struct field *f)
{
	(void)dst, (void)f;
	return walk_seq(ld, node, path, FAII_CFG_REGIONS_MAX, parse_region, &ld->cfg->region_count);
}

/* ---- nodes ------------------------------------------------------------------ */

/* Scratch for fields that reference other sections, resolved per node. */
struct node_scratch {
	struct faii_cfg_node node;
	char operator_name[FAII_CFG_NAME_LEN_MAX];
	char region_name[FAII_CFG_NAME_LEN_MAX];
	char country[3];
};

static int parse_class_field(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                             const struct field *f)
{
	(void)f;
	return parse_enum(ld, node, path, dst, faii_node_class_name, FAII_CLASS_COUNT);
}

static int parse_status_field(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                              const struct field *f)
{
	(void)f;
	return parse_enum(ld, node, path, dst, faii_node_status_name, 4);
}

/* Task categories by index from 0, then "all". */
static const char *eligibility_name(uint8_t i)
{
	return i == FAII_CATEGORY_COUNT ? "all" : faii_category_name((uint8_t)(i + 1));
}

static int parse_eligibility(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                             const struct field *f)
{
	(void)f;
	uint8_t *mask = dst;
	if (node == NULL || node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.top == node->data.sequence.items.start)
		return fail_expected(ld, node, path, "a non-empty sequence of task categories");
	*mask = 0;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		uint8_t idx = 0;
		if (parse_enum(ld, item, path, &idx, eligibility_name, FAII_CATEGORY_COUNT + 1) !=
		    0)
			return -1;
		*mask = (uint8_t)(*mask |
		                  (idx == FAII_CATEGORY_COUNT ? FAII_ELIGIBILITY_MASK : 1u << idx));
	}
	return 0;
}

/* "192.0.2.1:7410" or "[2001:db8::1]:7410". */
static int parse_address(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                         const struct field *f)
{
	(void)f;
	struct faii_cfg_node *n = dst;
	const char *expected = "an address as IPv4:port or [IPv6]:port";
	char text[80], *host = text, *port;
	if (!is_scalar(node) || !scalar_copy(node, text, sizeof(text)))
		return fail_expected(ld, node, path, expected);
	if (text[0] == '[') {
		char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return fail_expected(ld, node, path, expected);
		*close = '\0';
		host = text + 1;
		port = close + 2;
		n->addr_family = FAII_ADDR_IPV6;
	} else {
		port = strrchr(text, ':');
		if (port == NULL)
			return fail_expected(ld, node, path, expected);
		*port++ = '\0';
		n->addr_family = FAII_ADDR_IPV4;
	}
	memset(n->addr, 0, sizeof(n->addr));
	int af = n->addr_family == FAII_ADDR_IPV6 ? AF_INET6 : AF_INET;
	size_t digits = strspn(port, "0123456789");
	unsigned long p =
	        digits >= 1 && digits <= 5 && port[0] != '0' ? strtoul(port, NULL, 10) : 0;
	if (inet_pton(af, host, n->addr) != 1 || port[digits] != '\0' || p == 0 || p > 65535)
		return fail_expected(ld, node, path, expected);
	n->udp_port = (uint16_t)p;
	return 0;
}

static int parse_location(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                          const struct field *f)
{
	(void)f;
	struct faii_cfg_node *n = dst;
	static const struct field lat = {"lat", NULL, 0, -90, 90, 0, 0, NULL};
	static const struct field lon = {"lon", NULL, 0, -180, 180, 0, 0, NULL};
	if (node == NULL || node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.top - node->data.sequence.items.start != 2)
		return fail_expected(ld, node, path, "[latitude, longitude] in degrees");
	yaml_node_item_t *items = node->data.sequence.items.start;
	if (scalar_number(ld, yaml_document_get_node(&ld->doc, items[0]), path, &lat, false,
	                  &n->lat_deg) != 0)
		return -1;
	return scalar_number(ld, yaml_document_get_node(&ld->doc, items[1]), path, &lon, false,
	                     &n->lon_deg);
}

#define MIX_FIELD(name, i)                                                                         \
	{                                                                                          \
		name, parse_double, offsetof(struct faii_cfg_esg, source_mix[i]), 0, 1, 0, 0, NULL \
	}
static const struct field mix_fields[] = {
        MIX_FIELD("solar", FAII_SRC_SOLAR),     MIX_FIELD("wind", FAII_SRC_WIND),
        MIX_FIELD("hydro", FAII_SRC_HYDRO),     MIX_FIELD("geothermal", FAII_SRC_GEOTHERMAL),
        MIX_FIELD("biomass", FAII_SRC_BIOMASS), MIX_FIELD("hydrogen", FAII_SRC_HYDROGEN),
        MIX_FIELD("waste", FAII_SRC_WASTE),     MIX_FIELD("nonrenewable", FAII_SRC_NONRENEWABLE),
};
static const struct schema mix_schema = SCHEMA(mix_fields);

static int parse_mix(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                     const struct field *f)
{
	(void)f;
	double *mix = dst;
	if (walk_map(ld, node, path, &mix_schema, dst) != 0)
		return -1;
	double sum = 0;
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		sum += mix[s];
	if (fabs(sum - 1.0) > 1e-6)
		return fail(ld, node, path, "expected source fractions summing to 1, found %g",
		            sum);
	return 0;
}

static const struct field esg_fields[] = {
        {"mix", parse_mix, offsetof(struct faii_cfg_esg, source_mix), 0, 0, F_REQUIRED, 0, NULL},
        {"pue", parse_double, offsetof(struct faii_cfg_esg, pue), 1, 10, F_REQUIRED, 0, NULL},
        {"energy_to_work", parse_double, offsetof(struct faii_cfg_esg, energy_to_work),
         ENERGY_TO_WORK_WH_MIN, ENERGY_TO_WORK_WH_MAX, F_REQUIRED, 0, NULL},
        {"grid_stress", parse_double, offsetof(struct faii_cfg_esg, grid_stress), 0, 1, F_REQUIRED,
         0, NULL},
};
static const struct schema esg_schema = SCHEMA(esg_fields);

#define NODE_OFF(m) (offsetof(struct node_scratch, node) + offsetof(struct faii_cfg_node, m))
static const struct field node_fields[] = {
        {"id", parse_u32, NODE_OFF(id), 1, FAII_NODE_ID_MAX, F_REQUIRED, 0, NULL},
        {"name", parse_string, NODE_OFF(name), 0, 0, 0, FAII_CFG_NAME_LEN_MAX, NULL},
        {"class", parse_class_field, NODE_OFF(node_class), 0, 0, F_REQUIRED, 0, NULL},
        {"status", parse_status_field, NODE_OFF(status), 0, 0, 0, 0, NULL},
        {"operator", parse_string, offsetof(struct node_scratch, operator_name), 0, 0, F_REQUIRED,
         FAII_CFG_NAME_LEN_MAX, NULL},
        {"asn", parse_u32, NODE_OFF(asn), 1, UINT32_MAX, F_REQUIRED, 0, NULL},
        {"country", parse_string, offsetof(struct node_scratch, country), 0, 0, F_REQUIRED, 3,
         NULL},
        {"region", parse_string, offsetof(struct node_scratch, region_name), 0, 0, F_REQUIRED,
         FAII_CFG_NAME_LEN_MAX, NULL},
        {"location", parse_location, offsetof(struct node_scratch, node), 0, 0, F_REQUIRED, 0,
         NULL},
        {"address", parse_address, offsetof(struct node_scratch, node), 0, 0, F_REQUIRED, 0, NULL},
        {"capacity", parse_double, NODE_OFF(capacity_tasks_per_s), CAPACITY_TASKS_PER_S_MIN,
         CAPACITY_TASKS_PER_S_MAX, F_REQUIRED, 0, NULL},
        {"service_rate", parse_double, NODE_OFF(service_rate_tasks_per_s), CAPACITY_TASKS_PER_S_MIN,
         CAPACITY_TASKS_PER_S_MAX, 0, 0, NULL},
        {"eligibility", parse_eligibility, NODE_OFF(eligibility), 0, 0, F_REQUIRED, 0, NULL},
        {"price", parse_double, NODE_OFF(price), PRICE_MIN, PRICE_MAX, F_REQUIRED, 0, NULL},
        {"reputation", parse_double, NODE_OFF(reputation), 0, 1, 0, 0, NULL},
        {"esg", parse_submap, NODE_OFF(esg), 0, 0, F_REQUIRED, 0, &esg_schema},
        {"public_key", parse_hex_key, NODE_OFF(public_key), 0, 0, F_REQUIRED, 0, NULL},
};
static const struct schema node_schema = SCHEMA(node_fields);

static int intern_operator(struct loader *ld, yaml_node_t *item, const char *path, const char *name,
                           uint16_t *idx)
{
	struct faii_config *c = ld->cfg;
	for (uint32_t k = 0; k < c->operator_count; k++) {
		if (strcmp(c->operators[k], name) == 0) {
			*idx = (uint16_t)k;
			return 0;
		}
	}
	if (c->operator_count == FAII_CFG_OPERATORS_MAX)
		return fail(ld, item, path, "expected at most %u distinct operators",
		            FAII_CFG_OPERATORS_MAX);
	snprintf(c->operators[c->operator_count], FAII_CFG_NAME_LEN_MAX, "%s", name);
	*idx = (uint16_t)c->operator_count++;
	return 0;
}

static int resolve_node(struct loader *ld, yaml_node_t *item, const char *path,
                        struct node_scratch *s)
{
	struct faii_config *c = ld->cfg;
	char sub[160];
	int j = find_jurisdiction(c, s->country);
	if (j < 0) {
		child_path(sub, sizeof(sub), path, "country");
		return fail(ld, find_key(ld, item, "country"), sub,
		            "expected a country declared under jurisdictions, found \"%s\"",
		            s->country);
	}
	s->node.jurisdiction = (uint8_t)j;
	uint32_t r = 0;
	while (r < c->region_count && strcmp(c->regions[r].name, s->region_name) != 0)
		r++;
	if (r == c->region_count) {
		child_path(sub, sizeof(sub), path, "region");
		return fail(ld, find_key(ld, item, "region"), sub,
		            "expected a region declared under regions, found \"%s\"",
		            s->region_name);
	}
	s->node.region_id = c->regions[r].id;
	s->node.service_rate_configured = s->node.service_rate_tasks_per_s != 0;
	if (!s->node.service_rate_configured)
		s->node.service_rate_tasks_per_s = s->node.capacity_tasks_per_s;
	return intern_operator(ld, item, path, s->operator_name, &s->node.operator_idx);
}

static int parse_node(struct loader *ld, yaml_node_t *item, const char *path, uint32_t i)
{
	struct faii_config *c = ld->cfg;
	struct node_scratch s;
	memset(&s, 0, sizeof(s));
	s.node.reputation = 0.5; /* DePX: unknown nodes start neutral */
	if (walk_map(ld, item, path, &node_schema, &s) != 0 ||
	    resolve_node(ld, item, path, &s) != 0)
		return -1;
	/* Node ids are dense enough that a linear check is fine at load time. */
	for (uint32_t k = 0; k < i; k++) {
		/* A node an operator removed (never a file's) may come back. */
		if (c->nodes[k].status == FAII_NODE_REMOVED)
			continue;
		if (c->nodes[k].id == s.node.id)
			return fail(ld, find_key(ld, item, "id"), path,
			            "expected a unique node id, found %u twice", s.node.id);
		if (memcmp(c->nodes[k].public_key, s.node.public_key, FAII_PUBKEY_SIZE) == 0)
			return fail(ld, find_key(ld, item, "public_key"), path,
			            "expected a unique public key, found the key of node %u again",
			            c->nodes[k].id);
	}
	c->nodes[i] = s.node;
	return 0;
}

static int parse_nodes(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                       const struct field *f)
{
	(void)dst, (void)f;
	return walk_seq(ld, node, path, FAII_CFG_NODES_MAX, parse_node, &ld->cfg->node_count);
}

/* ---- top level --------------------------------------------------------------- */

/* Sections in dependency order: nodes reference regions and jurisdictions. */
static const struct field top_fields[] = {
        {"appliance", parse_submap, offsetof(struct faii_config, appliance), 0, 0, 0, 0,
         &appliance_schema},
        {"policy", parse_policy, offsetof(struct faii_config, policy), 0, 0, 0, 0, NULL},
        {"settlement", parse_submap, offsetof(struct faii_config, appliance.settlement), 0, 0, 0, 0,
         &settlement_schema},
        {"jurisdictions", parse_jurisdictions, 0, 0, 0, 0, 0, NULL},
        {"residency_classes", parse_residency_classes, 0, 0, 0, 0, 0, NULL},
        {"regions", parse_regions, 0, 0, 0, 0, 0, NULL},
        {"nodes", parse_nodes, 0, 0, 0, 0, 0, NULL},
};

/*
 * Walks the top-level sections in the order of top_fields whatever their
 * order in the file, so that references resolve; unknown and duplicate keys
 * are caught by one walk_map over a schema of no-op rows first.
 */
static int skip_value(struct loader *ld, yaml_node_t *node, const char *path, void *dst,
                      const struct field *f)
{
	(void)ld, (void)node, (void)path, (void)dst, (void)f;
	return 0;
}

static int check_appliance(struct loader *ld, yaml_node_t *root)
{
	const struct faii_appliance_cfg *a = &ld->cfg->appliance;
	if (a->validator_count == 0)
		return 0;
	yaml_node_t *validators = find_key(ld, find_key(ld, root, "appliance"), "validators");
	/* The validator holds gc_depth_rounds behind its last commit and at
	 * least 4 rounds ahead of it (docs/consensus.md, "Garbage"). */
	if (a->validator_window_rounds < a->validator_gc_depth_rounds + 4)
		return fail(ld, find_key(ld, validators, "window_rounds"),
		            "appliance.validators.window_rounds",
		            "expected at least gc_depth_rounds + 4 = %u, found %u",
		            a->validator_gc_depth_rounds + 4, a->validator_window_rounds);
	for (uint32_t v = 0; v < a->validator_count; v++) {
		if (a->validators[v].id == a->validator_self)
			return 0;
	}
	return fail(ld, validators, "appliance.validators.self",
	            "expected the id of one of the members, found %u", a->validator_self);
}

static int load_document(struct loader *ld, yaml_node_t *root)
{
	enum { TOP_COUNT = sizeof(top_fields) / sizeof(top_fields[0]) };
	struct field skip_rows[TOP_COUNT];
	memcpy(skip_rows, top_fields, sizeof(skip_rows));
	for (size_t i = 0; i < TOP_COUNT; i++)
		skip_rows[i].parse = skip_value;
	const struct schema skip_schema = {skip_rows, TOP_COUNT};
	if (root == NULL)
		return fail(ld, NULL, "", "expected a mapping, found an empty document");
	if (walk_map(ld, root, "", &skip_schema, ld->cfg) != 0)
		return -1;
	for (size_t i = 0; i < TOP_COUNT; i++) {
		yaml_node_t *value = find_key(ld, root, top_fields[i].key);
		if (value == root)
			continue;
		if (top_fields[i].parse(ld, value, top_fields[i].key,
		                        (char *)ld->cfg + top_fields[i].offset,
		                        &top_fields[i]) != 0)
			return -1;
	}
	return check_appliance(ld, root);
}

/*
 * Walks the event stream once, before libyaml builds the document, and
 * refuses nesting deeper than DEPTH_MAX. Returns 0 (within the bound, or a
 * syntax error that the load then reports itself), or -1 with the message.
 */
static int check_depth(const char *name, const char *text, size_t len, char err[FAII_CFG_ERR_LEN])
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return 0; /* the load says so */
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	unsigned depth = 0;
	int rc = 0;
	bool end = false;
	for (uint32_t n = 0; n < SCAN_EVENTS_MAX && !end && rc == 0; n++) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev))
			break;
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > DEPTH_MAX) {
				snprintf(err, FAII_CFG_ERR_LEN,
				         "%s:%zu:%zu: (top level): expected mappings and sequences "
				         "nested at most %u deep, found deeper",
				         name, ev.start_mark.line + 1, ev.start_mark.column + 1,
				         DEPTH_MAX);
				rc = -1;
			}
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		           ev.type == YAML_MAPPING_END_EVENT) {
			FAII_ASSERT(depth > 0);
			depth--;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* One file, one document: a second "---" document would be silently unused. */
static int refuse_more_documents(yaml_parser_t *parser, const char *name,
                                 char err[FAII_CFG_ERR_LEN])
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s:%zu:%zu: syntax error: %s", name,
		         parser->problem_mark.line + 1, parser->problem_mark.column + 1,
		         parser->problem ? parser->problem : "unreadable YAML");
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	int rc = 0;
	if (root != NULL) {
		snprintf(err, FAII_CFG_ERR_LEN,
		         "%s:%zu:%zu: (top level): expected one YAML document, found another", name,
		         root->start_mark.line + 1, root->start_mark.column + 1);
		rc = -1;
	}
	yaml_document_delete(&next);
	return rc;
}

int faii_config_load_into(const char *name, const char *text, size_t len, struct faii_config *cfg,
                          char err[FAII_CFG_ERR_LEN])
{
	err[0] = '\0';
	if (len > FAII_CFG_FILE_SIZE_MAX) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: expected at most %u bytes, found %zu", name,
		         FAII_CFG_FILE_SIZE_MAX, len);
		return -1;
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	crypto_generichash(cfg->digest, sizeof(cfg->digest), (const unsigned char *)text, len, NULL,
	                   0);
	faii_appliance_defaults(&cfg->appliance);
	faii_policy_defaults(&cfg->policy);
	if (check_depth(name, text, len, err) != 0)
		return -1;

	struct loader ld = {.file = name, .err = err, .cfg = cfg};
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int rc = -1;
	if (!yaml_parser_load(&parser, &ld.doc)) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s:%zu:%zu: syntax error: %s%s%s", name,
		         parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		         parser.problem ? parser.problem : "unreadable YAML",
		         parser.context ? " " : "", parser.context ? parser.context : "");
	} else {
		rc = load_document(&ld, yaml_document_get_root_node(&ld.doc));
		yaml_document_delete(&ld.doc);
		if (rc == 0)
			rc = refuse_more_documents(&parser, name, err);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int faii_config_load_string(const char *name, const char *text, size_t len,
                            struct faii_config **out, char err[FAII_CFG_ERR_LEN])
{
	*out = NULL;
	err[0] = '\0';
	if (len > FAII_CFG_FILE_SIZE_MAX) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: expected at most %u bytes, found %zu", name,
		         FAII_CFG_FILE_SIZE_MAX, len);
		return -1;
	}
	struct faii_config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: out of memory", name);
		return -1;
	}
	if (faii_config_load_into(name, text, len, cfg, err) != 0) {
		free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int faii_config_parse_node(struct faii_config *cfg, const char *text, struct faii_cfg_node *out,
                           char err[FAII_CFG_ERR_LEN])
{
	err[0] = '\0';
	if (cfg->node_count >= FAII_CFG_NODES_MAX) {
		snprintf(err, FAII_CFG_ERR_LEN, "node: at most %u nodes", FAII_CFG_NODES_MAX);
		return -1;
	}
	if (check_depth("node", text, strlen(text), err) != 0)
		return -1;
	struct loader ld = {.file = "node", .err = err, .cfg = cfg};
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, FAII_CFG_ERR_LEN, "node: cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	int rc = -1;
	if (!yaml_parser_load(&parser, &ld.doc)) {
		snprintf(err, FAII_CFG_ERR_LEN, "node: syntax error: %s",
		         parser.problem ? parser.problem : "unreadable");
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&ld.doc);
		/* The entry after the last node: checked for a unique id and key
		 * against every node, written there, copied out. */
		rc = root == NULL ? fail_expected(&ld, root, "node", "a mapping")
		                  : parse_node(&ld, root, "node", cfg->node_count);
		if (rc == 0)
			*out = cfg->nodes[cfg->node_count];
		memset(&cfg->nodes[cfg->node_count], 0, sizeof(cfg->nodes[0]));
		yaml_document_delete(&ld.doc);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int faii_config_load(const char *path, struct faii_config **out, char err[FAII_CFG_ERR_LEN])
{
	*out = NULL;
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, and
	 * a device may wait for anything; neither is a configuration. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct stat st = {0};
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > FAII_CFG_FILE_SIZE_MAX) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: expected a regular file of at most %u bytes%s",
		         path, FAII_CFG_FILE_SIZE_MAX,
		         S_ISFIFO(st.st_mode)   ? ", found a FIFO"
		         : S_ISDIR(st.st_mode)  ? ", found a directory"
		         : !S_ISREG(st.st_mode) ? ", found a device or socket"
		                                : "");
		close(fd);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	char *text = malloc(size + 1);
	size_t got = 0;
	/* A regular file: each read makes progress or ends; bounded by size. */
	while (text != NULL && got < size) {
		ssize_t r = read(fd, text + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (text == NULL || got != size) {
		snprintf(err, FAII_CFG_ERR_LEN, "%s: cannot read: %s", path,
		         text ? "short read" : "out of memory");
		free(text);
		return -1;
	}
	int rc = faii_config_load_string(path, text, size, out, err);
	free(text);
	return rc;
}

void faii_config_free(struct faii_config *config)
{
	free(config);
}

const struct faii_cfg_residency_class *faii_config_residency_class(const struct faii_config *c,
                                                                   uint16_t id)
{
	for (uint32_t i = 0; i < c->residency_class_count; i++) {
		if (c->residency_classes[i].id == id)
			return &c->residency_classes[i];
	}
	return NULL;
}

const struct faii_cfg_region *faii_config_region(const struct faii_config *c, uint16_t id)
{
	for (uint32_t i = 0; i < c->region_count; i++) {
		if (c->regions[i].id == id)
			return &c->regions[i];
	}
	return NULL;
}
