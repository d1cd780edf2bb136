/* SPDX-License-Identifier: BSD-3-Clause */
/* A routing receipt's proof as JSON: see receipt_proof.h. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "receipt_proof.h"

const char *faii_receipt_verdict_name(uint8_t verdict)
{
	switch (verdict) {
	case FAII_SETTLE_VERDICT_AGREED: return "agreed";
	case FAII_SETTLE_VERDICT_DISAGREED: return "disagreed";
	case FAII_SETTLE_VERDICT_EXPIRED: return "expired";
	case FAII_SETTLE_VERDICT_SINGLE: return "single";
	default: return "unknown";
	}
}

static json_t *u64_json(uint64_t value)
{
	if (value <= INT64_MAX)
		return json_integer((json_int_t)value);
	char text[24];
	snprintf(text, sizeof(text), "%" PRIu64, value);
	return json_string(text);
}

static json_t *hex_json(const uint8_t *bytes, size_t len)
{
	char hex[2 * FAII_SETTLE_RECEIPT_BYTES + 1];
	FAII_ASSERT(len <= FAII_SETTLE_RECEIPT_BYTES);
	return json_string(sodium_bin2hex(hex, sizeof(hex), bytes, len));
}

/* The copies of a mask as replica indices. */
static json_t *copies_json(uint8_t mask, uint8_t replicas)
{
	json_t *list = json_array();
	for (unsigned j = 0; j < replicas; j++)
		if ((mask >> j) & 1)
			json_array_append_new(list, json_integer(j));
	return list;
}

json_t *faii_receipt_json(const struct faii_settle_receipt *r)
{
	json_t *nodes = json_array(), *latency = json_array();
	for (unsigned j = 0; j < r->replicas && j < FAII_SETTLE_RECEIPT_NODES; j++) {
		json_array_append_new(nodes, json_integer(r->node_id[j]));
		json_array_append_new(latency, json_integer(r->copy_latency_us[j]));
	}
	json_t *o = json_object();
	json_object_set_new(o, "task_id", u64_json(r->task_id));
	json_object_set_new(o, "client_id", u64_json(r->client_id));
	json_object_set_new(o, "finished_ms", u64_json(r->finished_ms));
	json_object_set_new(o, "latency_us", json_integer(r->latency_us));
	json_object_set_new(o, "tier", json_integer(r->tier));
	json_object_set_new(o, "verdict", json_string(faii_receipt_verdict_name(r->verdict)));
	json_object_set_new(o, "status", json_integer(r->status));
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "answered", copies_json(r->answered, r->replicas));
	json_object_set_new(o, "ok", copies_json(r->ok, r->replicas));
	json_object_set_new(o, "agreed", copies_json(r->agreed, r->replicas));
	json_object_set_new(o, "in_slo", copies_json(r->in_slo, r->replicas));
	json_object_set_new(o, "copy_latency_us", latency);
	json_object_set_new(o, "result_hash", hex_json(r->result_hash, sizeof(r->result_hash)));
	return o;
}

json_t *faii_receipt_proof_json(const struct faii_receipt_proof *p, uint64_t matches)
{
	struct faii_settle_receipt r;
	enum faii_settle_receipt_refusal reason;
	int rc = faii_settle_receipt_decode(p->leaf, &r, &reason);
	FAII_ASSERT(rc == 0); /* the appliance's own leaves */
	json_t *path = json_array();
	for (uint32_t i = 0; i < p->proof.depth; i++)
		json_array_append_new(path, hex_json(p->proof.siblings[i], FAII_SETTLE_HASH_BYTES));
	json_t *o = json_object();
	json_object_set_new(o, "task_id", u64_json(r.task_id));
	json_object_set_new(o, "slice", u64_json(p->slice));
	json_object_set_new(o, "slice_end_ms", u64_json(p->slice_end_ms));
	json_object_set_new(o, "leaf_index", u64_json(p->proof.index));
	json_object_set_new(o, "leaf_count", u64_json(p->proof.count));
	json_object_set_new(o, "root", hex_json(p->root, FAII_SETTLE_HASH_BYTES));
	json_object_set_new(o, "leaf", hex_json(p->leaf, FAII_SETTLE_RECEIPT_BYTES));
	json_object_set_new(o, "path", path);
	json_object_set_new(o, "receipt", faii_receipt_json(&r));
	json_object_set_new(o, "matches", u64_json(matches));
	return o;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A u64 field: a non-negative JSON integer or a decimal string. */
static bool get_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 20)
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long parsed = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = parsed;
	return true;
}

/* Exactly len bytes of hex. */
static bool get_hex(json_t *v, uint8_t *out, size_t len)
{
	const char *s = json_string_value(v);
	size_t got = 0;
	return s != NULL && json_string_length(v) == 2 * len &&
	       sodium_hex2bin(out, len, s, 2 * len, NULL, &got, NULL) == 0 && got == len;
}

static int parse_path(json_t *path, struct faii_settle_proof *proof, char *err, size_t errlen)
{
	if (!json_is_array(path) || json_array_size(path) > FAII_SETTLE_PROOF_DEPTH_MAX)
		return fail(err, errlen, "\"path\": expected at most %u hashes",
		            FAII_SETTLE_PROOF_DEPTH_MAX);
	proof->depth = (uint32_t)json_array_size(path);
	for (uint32_t i = 0; i < proof->depth; i++)
		if (!get_hex(json_array_get(path, i), proof->siblings[i], FAII_SETTLE_HASH_BYTES))
			return fail(err, errlen, "\"path\"[%u]: expected %u bytes of hex", i,
			            FAII_SETTLE_HASH_BYTES);
	return 0;
}

static int parse_object(json_t *o, struct faii_receipt_proof *out, char *err, size_t errlen)
{
	if (!json_is_object(o))
		return fail(err, errlen, "expected a JSON object");
	if (!get_u64(o, "slice", &out->slice) || !get_u64(o, "slice_end_ms", &out->slice_end_ms))
		return fail(err, errlen, "\"slice\", \"slice_end_ms\": expected integers");
	if (!get_u64(o, "leaf_index", &out->proof.index) ||
	    !get_u64(o, "leaf_count", &out->proof.count) || out->proof.count == 0 ||
	    out->proof.count > FAII_SETTLE_LEAVES_MAX || out->proof.index >= out->proof.count)
		return fail(err, errlen,
		            "\"leaf_index\", \"leaf_count\": expected 0 <= index < count <= %u",
		            FAII_SETTLE_LEAVES_MAX);
	if (!get_hex(json_object_get(o, "leaf"), out->leaf, FAII_SETTLE_RECEIPT_BYTES))
		return fail(err, errlen, "\"leaf\": expected %u bytes of hex",
		            FAII_SETTLE_RECEIPT_BYTES);
	if (!get_hex(json_object_get(o, "root"), out->root, FAII_SETTLE_HASH_BYTES))
		return fail(err, errlen, "\"root\": expected %u bytes of hex",
		            FAII_SETTLE_HASH_BYTES);
	return parse_path(json_object_get(o, "path"), &out->proof, err, errlen);
}

/* The leaf must decode, and the file's reading of it (if any) must be it. */
static int check_reading(json_t *o, const struct faii_receipt_proof *p, char *err, size_t errlen)
{
	struct faii_settle_receipt r;
	enum faii_settle_receipt_refusal reason;
	if (faii_settle_receipt_decode(p->leaf, &r, &reason) != 0)
		return fail(err, errlen, "\"leaf\": not a receipt (%s)",
		            faii_settle_receipt_refusal_name(reason));
	json_t *reading = json_object_get(o, "receipt");
	uint64_t task_id;
	bool ok = true;
	if (reading != NULL) {
		json_t *expected = faii_receipt_json(&r);
		ok = json_equal(reading, expected);
		json_decref(expected);
	}
	if (!ok)
		return fail(err, errlen, "\"receipt\" does not match the leaf");
	if (json_object_get(o, "task_id") != NULL &&
	    (!get_u64(o, "task_id", &task_id) || task_id != r.task_id))
		return fail(err, errlen, "\"task_id\" is not the leaf's");
	return 0;
}

int faii_receipt_proof_parse(const char *text, size_t len, struct faii_receipt_proof *out,
                             char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len > FAII_RECEIPT_PROOF_FILE_BYTES_MAX)
		return fail(err, errlen, "more than %u bytes", FAII_RECEIPT_PROOF_FILE_BYTES_MAX);
	json_error_t jerr;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return fail(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
	int rc = parse_object(o, out, err, errlen);
	if (rc == 0)
		rc = check_reading(o, out, err, errlen);
	json_decref(o);
	return rc;
}

int faii_receipt_proof_verify_text(const char *text, size_t len, struct faii_receipt_proof *out,
                                   char *err, size_t errlen)
{
	if (faii_receipt_proof_parse(text, len, out, err, errlen) != 0)
		return -1;
	if (faii_settle_receipt_verify(out->leaf, &out->proof, out->root) != 0)
		return fail(err, errlen, "the leaf and its path do not lead to the root");
	return 0;
}
