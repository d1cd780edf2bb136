/* SPDX-License-Identifier: BSD-3-Clause */
/* Payout proofs as JSON: see settle_json.h. */
#include "settle_json.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static json_t *hex(const uint8_t *bytes, size_t len)
{
	char text[2 * FAII_SETTLE_HASH_BYTES + 1];
	return json_string(sodium_bin2hex(text, sizeof(text), bytes, len));
}

json_t *faii_settle_proof_to_json(const struct faii_settle_payout_leaf *leaf,
                                  const struct faii_settle_proof *proof,
                                  const uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
	faii_settle_leaf_encode(leaf, bytes);
	json_t *siblings = json_array();
	for (uint32_t i = 0; i < proof->depth; i++)
		json_array_append_new(siblings, hex(proof->siblings[i], FAII_SETTLE_HASH_BYTES));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o}", "epoch",
	                 (json_int_t)leaf->epoch, "operator", (json_int_t)leaf->operator_id, "node",
	                 (json_int_t)leaf->node_id, "amount", (json_int_t)leaf->amount,
	                 "cumulative", (json_int_t)leaf->cumulative, "leaf",
	                 hex(bytes, sizeof(bytes)), "index", (json_int_t)proof->index, "count",
	                 (json_int_t)proof->count, "siblings", siblings, "root",
	                 hex(root, FAII_SETTLE_HASH_BYTES));
}

static int get_uint(json_t *object, const char *key, uint64_t max, uint64_t *out, char *err,
                    size_t err_bytes)
{
	json_t *value = json_object_get(object, key);
	if (!json_is_integer(value) || json_integer_value(value) < 0 ||
	    (uint64_t)json_integer_value(value) > max) {
		snprintf(err, err_bytes, "\"%s\": expected an integer in 0..%llu", key,
		         (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(value);
	return 0;
}

static int get_hex(json_t *value, const char *what, uint8_t *out, size_t len, char *err,
                   size_t err_bytes)
{
	const char *text = json_string_value(value);
	size_t got = 0;
	if (text == NULL || strlen(text) != 2 * len ||
	    sodium_hex2bin(out, len, text, strlen(text), NULL, &got, NULL) != 0 || got != len) {
		snprintf(err, err_bytes, "\"%s\": expected %zu bytes in hex", what, len);
		return -EINVAL;
	}
	return 0;
}

static int get_siblings(json_t *object, struct faii_settle_proof *proof, char *err,
                        size_t err_bytes)
{
	json_t *siblings = json_object_get(object, "siblings");
	if (!json_is_array(siblings) || json_array_size(siblings) > FAII_SETTLE_PROOF_DEPTH_MAX) {
		snprintf(err, err_bytes, "\"siblings\": expected a list of at most %u hashes",
		         FAII_SETTLE_PROOF_DEPTH_MAX);
		return -EINVAL;
	}
	proof->depth = (uint32_t)json_array_size(siblings);
	for (uint32_t i = 0; i < proof->depth; i++)
		if (get_hex(json_array_get(siblings, i), "siblings", proof->siblings[i],
		            FAII_SETTLE_HASH_BYTES, err, err_bytes) != 0)
			return -EINVAL;
	return 0;
}

int faii_settle_proof_from_json(json_t *object, struct faii_settle_payout_leaf *leaf,
                                uint8_t leaf_bytes[FAII_SETTLE_LEAF_BYTES],
                                struct faii_settle_proof *proof,
                                uint8_t root[FAII_SETTLE_HASH_BYTES], char *err, size_t err_bytes)
{
	uint64_t op = 0, node = 0;
	memset(proof, 0, sizeof(*proof));
	if (!json_is_object(object)) {
		snprintf(err, err_bytes, "expected a JSON object");
		return -EINVAL;
	}
	if (get_uint(object, "epoch", INT64_MAX, &leaf->epoch, err, err_bytes) ||
	    get_uint(object, "operator", UINT32_MAX, &op, err, err_bytes) ||
	    get_uint(object, "node", UINT32_MAX, &node, err, err_bytes) ||
	    get_uint(object, "amount", INT64_MAX, &leaf->amount, err, err_bytes) ||
	    get_uint(object, "cumulative", INT64_MAX, &leaf->cumulative, err, err_bytes) ||
	    get_uint(object, "index", FAII_SETTLE_LEAVES_MAX - 1, &proof->index, err, err_bytes) ||
	    get_uint(object, "count", FAII_SETTLE_LEAVES_MAX, &proof->count, err, err_bytes) ||
	    get_hex(json_object_get(object, "leaf"), "leaf", leaf_bytes, FAII_SETTLE_LEAF_BYTES,
	            err, err_bytes) ||
	    get_hex(json_object_get(object, "root"), "root", root, FAII_SETTLE_HASH_BYTES, err,
	            err_bytes) ||
	    get_siblings(object, proof, err, err_bytes))
		return -EINVAL;
	leaf->operator_id = (uint32_t)op;
	leaf->node_id = (uint32_t)node;
	if (leaf->amount > leaf->cumulative) {
		snprintf(err, err_bytes, "\"amount\" exceeds \"cumulative\"");
		return -EINVAL;
	}
	uint8_t encoded[FAII_SETTLE_LEAF_BYTES];
	faii_settle_leaf_encode(leaf, encoded);
	if (memcmp(encoded, leaf_bytes, sizeof(encoded)) != 0) {
		snprintf(err, err_bytes, "\"leaf\" does not encode the fields beside it");
		return -EINVAL;
	}
	return 0;
}
