/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing receipts as Merkle leaves (ledger/settle/receipt.c): the leaf's
 * bytes and hash against an independent encoding (Python's struct and
 * hashlib, below), the rules a leaf must keep, proofs that verify and
 * tampered ones that do not, and the incremental root against the tree's.
 *
 *   import struct, hashlib
 *   leaf = struct.pack("<QQQI", 0x0102030405060708, 42, 1700000000123, 1234)
 *   leaf += bytes([2, 2, 3, 0b111, 0b111, 0b011, 0b001, 0])
 *   leaf += struct.pack("<7I", 11, 12, 13, 0, 0, 0, 0)
 *   leaf += bytes(range(0xA0, 0xC0))
 *   leaf += struct.pack("<7I", 900, 1100, 2000, 0, 0, 0, 0) + bytes(4)
 *   hashlib.blake2b(b"\x10" + leaf, digest_size=32).hexdigest()
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/settle_receipt.h"

#define LEAVES_MAX 80u

static const char golden_leaf[] =
        "08070605040302012a000000000000007b68e5cf8b010000d204000002020307070301000b0000000c0000"
        "000d00000000000000000000000000000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5"
        "b6b7b8b9babbbcbdbebf840300004c040000d00700000000000000000000000000000000000000000000";
static const char golden_hash[] =
        "8c68ee957d593b40def1b32511511625820febb20107a811e582a0bf4c875e34";

/* A replica set of 3 (tier 2): copies 0 and 1 agreed, copy 2 was outvoted,
 * only copy 0 within its budget. */
static struct faii_settle_receipt golden_receipt(void)
{
	struct faii_settle_receipt r = {
	        .task_id = 0x0102030405060708ull,
	        .client_id = 42,
	        .finished_ms = 1700000000123ull,
	        .latency_us = 1234,
	        .tier = 2,
	        .verdict = FAII_SETTLE_VERDICT_DISAGREED,
	        .replicas = 3,
	        .answered = 7,
	        .ok = 7,
	        .agreed = 3,
	        .in_slo = 1,
	        .node_id = {11, 12, 13},
	        .copy_latency_us = {900, 1100, 2000},
	};
	for (unsigned i = 0; i < FAII_SETTLE_RECEIPT_HASH; i++)
		r.result_hash[i] = (uint8_t)(0xA0 + i);
	return r;
}

static void hex(const uint8_t *bytes, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, bytes, len);
}

Test(settle_receipt, golden_leaf_bytes_and_hash)
{
	struct faii_settle_receipt r = golden_receipt();
	uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES], hash[FAII_SETTLE_HASH_BYTES];
	char text[2 * FAII_SETTLE_RECEIPT_BYTES + 1];
	faii_settle_receipt_encode(&r, leaf);
	hex(leaf, sizeof(leaf), text);
	cr_assert_str_eq(text, golden_leaf);
	faii_settle_receipt_hash(leaf, hash);
	hex(hash, sizeof(hash), text);
	cr_assert_str_eq(text, golden_hash);
	/* Not the payout leaf's domain: H(0x00 | leaf) differs. */
	uint8_t other[FAII_SETTLE_HASH_BYTES];
	uint8_t prefixed[1 + FAII_SETTLE_RECEIPT_BYTES] = {0x00};
	memcpy(prefixed + 1, leaf, sizeof(leaf));
	crypto_generichash(other, sizeof(other), prefixed, sizeof(prefixed), NULL, 0);
	cr_assert_neq(memcmp(other, hash, sizeof(hash)), 0);

	struct faii_settle_receipt back;
	enum faii_settle_receipt_refusal reason;
	cr_assert_eq(faii_settle_receipt_decode(leaf, &back, &reason), 0);
	cr_assert_eq(memcmp(&back, &r, sizeof(r)), 0);
}

/* Each rule broken once: the leaf is refused with that reason. */
Test(settle_receipt, leaves_that_break_a_rule_are_refused_by_name)
{
	static const struct {
		size_t offset;
		uint8_t value;
		enum faii_settle_receipt_refusal reason;
	} cases[] = {
	        {28, 0, FAII_SETTLE_RECEIPT_REFUSED_TIER},
	        {28, 5, FAII_SETTLE_RECEIPT_REFUSED_TIER},
	        {29, 9, FAII_SETTLE_RECEIPT_REFUSED_VERDICT},
	        {29, FAII_SETTLE_VERDICT_AGREED, FAII_SETTLE_RECEIPT_REFUSED_VERDICT},
	        {29, FAII_SETTLE_VERDICT_SINGLE, FAII_SETTLE_RECEIPT_REFUSED_VERDICT},
	        {35, 6, FAII_SETTLE_RECEIPT_REFUSED_VERDICT},
	        {30, 2, FAII_SETTLE_RECEIPT_REFUSED_REPLICAS},
	        {31, 0x0F, FAII_SETTLE_RECEIPT_REFUSED_MASKS},   /* a fourth copy */
	        {33, 0x0B, FAII_SETTLE_RECEIPT_REFUSED_MASKS},   /* agreed beyond ok */
	        {34, 0x07, FAII_SETTLE_RECEIPT_REFUSED_NONE},    /* in_slo within ok: fine */
	        {36 + 12, 7, FAII_SETTLE_RECEIPT_REFUSED_NODES}, /* a node beyond the copies */
	        {36 + 4, 0, FAII_SETTLE_RECEIPT_REFUSED_NODES},  /* copy 1 without a node */
	        {96 + 12, 1, FAII_SETTLE_RECEIPT_REFUSED_LATENCY},
	        {124, 1, FAII_SETTLE_RECEIPT_REFUSED_RESERVED},
	};
	struct faii_settle_receipt r = golden_receipt();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
		faii_settle_receipt_encode(&r, leaf);
		leaf[cases[i].offset] = cases[i].value;
		struct faii_settle_receipt back;
		enum faii_settle_receipt_refusal reason;
		int rc = faii_settle_receipt_decode(leaf, &back, &reason);
		enum faii_settle_receipt_refusal want = cases[i].reason;
		cr_assert_eq(reason, want, "case %zu: %s, want %s", i,
		             faii_settle_receipt_refusal_name(reason),
		             faii_settle_receipt_refusal_name(want));
		cr_assert_eq(rc, want == FAII_SETTLE_RECEIPT_REFUSED_NONE ? 0 : -EINVAL);
	}
	/* Nobody's majority: the hash must be zero. */
	r.verdict = FAII_SETTLE_VERDICT_EXPIRED;
	r.agreed = 0;
	cr_assert_eq(faii_settle_receipt_check(&r), FAII_SETTLE_RECEIPT_REFUSED_HASH);
	memset(r.result_hash, 0, sizeof(r.result_hash));
	cr_assert_eq(faii_settle_receipt_check(&r), FAII_SETTLE_RECEIPT_REFUSED_NONE);
	cr_assert_str_eq(faii_settle_receipt_refusal_name(FAII_SETTLE_RECEIPT_REFUSED_HASH),
	                 "result_hash");
}

static void leaf_of(uint64_t task, uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES])
{
	struct faii_settle_receipt r = golden_receipt();
	r.task_id = task;
	faii_settle_receipt_encode(&r, leaf);
}

/* Roots from Python (the docs' root() over H(0x10 | leaf_i), leaf_i the
 * golden leaf with task_id = i). */
Test(settle_receipt, incremental_roots_match_the_tree_and_python)
{
	static const struct {
		unsigned count;
		const char *root;
	} vectors[] = {
	        {0, "5c3cd7b696e23b2d800734e78972f333448955cdd73bedd7061bb3e8c6e4edd0"},
	        {1, "baea653ef191608c20c47d9bae020a0164584f2d31b07b1761eeca5c0931006d"},
	        {3, "43424ce544cbae9bc38282d8ce12f0be82137f2801157108721c3b52418884eb"},
	        {7, "5b163d0f07db799528026fba6c10dc10def1e85e17ea6727643356a78c65038e"},
	};
	static uint8_t hashes[LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	static uint8_t scratch[LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	struct faii_settle_receipt_acc acc;
	faii_settle_receipt_acc_init(&acc);
	for (unsigned n = 0; n <= LEAVES_MAX; n++) {
		uint8_t from_acc[FAII_SETTLE_HASH_BYTES], from_tree[FAII_SETTLE_HASH_BYTES];
		faii_settle_receipt_acc_root(&acc, from_acc);
		cr_assert_eq(
		        faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, n,
		                                scratch, from_tree),
		        0);
		cr_assert_eq(memcmp(from_acc, from_tree, sizeof(from_acc)), 0, "%u leaves", n);
		for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
			char text[2 * FAII_SETTLE_HASH_BYTES + 1];
			hex(from_acc, sizeof(from_acc), text);
			if (vectors[v].count == n)
				cr_assert_str_eq(text, vectors[v].root, "%u leaves", n);
		}
		if (n == LEAVES_MAX)
			break;
		uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
		leaf_of(n, leaf);
		faii_settle_receipt_hash(leaf, hashes[n]);
		cr_assert_eq(faii_settle_receipt_acc_add(&acc, hashes[n]), 0);
	}
}

/* Every proof of trees of 1..40 receipts verifies; tampering fails. */
Test(settle_receipt, proofs_verify_and_tampered_ones_fail)
{
	static uint8_t hashes[LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	static uint8_t scratch[LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	for (unsigned n = 1; n <= 40; n++) {
		for (unsigned i = 0; i < n; i++) {
			uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
			leaf_of(i, leaf);
			faii_settle_receipt_hash(leaf, hashes[i]);
		}
		uint8_t root[FAII_SETTLE_HASH_BYTES];
		faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, n,
		                        scratch, root);
		for (unsigned i = 0; i < n; i++) {
			struct faii_settle_proof proof;
			cr_assert_eq(faii_settle_merkle_proof(
			                     (const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, n, i,
			                     scratch, &proof),
			             0);
			uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
			leaf_of(i, leaf);
			cr_assert_eq(faii_settle_receipt_verify(leaf, &proof, root), 0, "%u of %u",
			             i, n);
			leaf[24] ^= 1; /* the latency */
			cr_assert_eq(faii_settle_receipt_verify(leaf, &proof, root), -EINVAL);
			leaf[24] ^= 1;
			struct faii_settle_proof bad = proof;
			bad.index = (i + 1) % n;
			if (n > 1)
				cr_assert_eq(faii_settle_receipt_verify(leaf, &bad, root), -EINVAL);
			bad = proof;
			bad.count = n + 1;
			cr_assert_eq(faii_settle_receipt_verify(leaf, &bad, root), -EINVAL);
			if (proof.depth > 0) {
				bad = proof;
				bad.siblings[0][0] ^= 1;
				cr_assert_eq(faii_settle_receipt_verify(leaf, &bad, root), -EINVAL);
				bad = proof;
				bad.depth--;
				cr_assert_eq(faii_settle_receipt_verify(leaf, &bad, root), -EINVAL);
			}
			root[0] ^= 1;
			cr_assert_eq(faii_settle_receipt_verify(leaf, &proof, root), -EINVAL);
			root[0] ^= 1;
			/* The same bytes as a payout tree's leaf do not verify here. */
			leaf[124] = 1;
			cr_assert_eq(faii_settle_receipt_verify(leaf, &proof, root), -EINVAL);
		}
	}
}

Test(settle_receipt, the_accumulator_stops_at_the_tree_bound)
{
	struct faii_settle_receipt_acc acc;
	faii_settle_receipt_acc_init(&acc);
	acc.count = FAII_SETTLE_LEAVES_MAX; /* as if full: no 2^22 hashes in a unit test */
	uint8_t hash[FAII_SETTLE_HASH_BYTES] = {0};
	cr_assert_eq(faii_settle_receipt_acc_add(&acc, hash), -ENOSPC);
}
