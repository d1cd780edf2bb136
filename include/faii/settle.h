/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's foundations (docs/settlement.md): integer amounts, rates
 * and rounding that every validator computes byte-identically, and the
 * Merkle tree of an epoch's payouts with its proofs.
 *
 * Settlement is pure: ledger/settle/ does no I/O, reads no clock, starts
 * no thread and allocates only through the caller's buffers
 * (tests/lint/check_layers.py enforces the includes). Its callers hand it
 * the committed sequence and the epoch.
 *
 * Amounts are unsigned integers in base units: FAII_SETTLE_UNITS_PER_TOKEN
 * per token. Rates and multipliers are integers in parts per billion
 * (FAII_SETTLE_PPB_ONE = 1.0). A product rounds down; what rounding leaves
 * over is never lost: the functions that split an amount return the
 * remainder, which settlement credits to the treasury, so that totals are
 * conserved exactly.
 *
 * Error convention: 0 or a negative errno (-EINVAL for a malformed proof or
 * out-of-range input, -EOVERFLOW when a result does not fit 64 bits).
 */
#ifndef FAII_SETTLE_H
#define FAII_SETTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAII_SETTLE_UNITS_PER_TOKEN 1000000000ull /* 1 token = 10^9 base units */
#define FAII_SETTLE_PPB_ONE         1000000000ull /* a rate of 1.0 */
#define FAII_SETTLE_HASH_BYTES      32u           /* BLAKE2b-256 */
/* Leaves one tree may hold: 100 k nodes x 4 tiers with room to spare. */
#define FAII_SETTLE_LEAVES_MAX (1u << 22)
/* Siblings on one proof's path: ceil(log2(FAII_SETTLE_LEAVES_MAX)). */
#define FAII_SETTLE_PROOF_DEPTH_MAX 22u

/* amount x rate_ppb / 10^9, rounded down; *remainder_out (may be NULL)
 * receives what the rounding dropped, in billionths of a unit. */
int faii_settle_mul_ppb(uint64_t amount, uint64_t rate_ppb, uint64_t *result,
                        uint64_t *remainder_out);
/* Clamps value to [low, high] (low <= high). */
uint64_t faii_settle_clamp(uint64_t value, uint64_t low, uint64_t high);
/*
 * Splits `total` in proportion to weights[0..count-1] (their sum > 0):
 * shares[i] = floor(total x w_i / sum w); returns the remainder (total -
 * sum of shares), which the caller credits to the treasury.
 */
int faii_settle_split(uint64_t total, const uint64_t *weights, size_t count, uint64_t *shares,
                      uint64_t *remainder);

/*
 * The payout tree. A leaf is 32 bytes, little-endian:
 *   epoch u64 | operator u32 | node u32 | amount u64 | cumulative u64
 * (cumulative: everything the node was ever owed, so a claim needs only
 * the latest root). Hashes (BLAKE2b-256) are domain-separated:
 *   leaf = H(0x00 | leaf bytes)    node = H(0x01 | left | right)
 * A level with an odd count promotes its last hash unchanged (nothing is
 * duplicated, so two different leaf lists never share a root). The root
 * commits to the number of leaves: root = H(0x02 | count u64 | top hash),
 * and H(0x02 | 0 u64) for no leaves.
 */
#define FAII_SETTLE_LEAF_BYTES 32u

struct faii_settle_payout_leaf {
	uint64_t epoch;
	uint32_t operator_id;
	uint32_t node_id;
	uint64_t amount;
	uint64_t cumulative;
};

void faii_settle_leaf_encode(const struct faii_settle_payout_leaf *leaf,
                             uint8_t out[FAII_SETTLE_LEAF_BYTES]);
void faii_settle_leaf_hash(const uint8_t leaf[FAII_SETTLE_LEAF_BYTES],
                           uint8_t hash[FAII_SETTLE_HASH_BYTES]);

/*
 * The root over `count` leaf hashes. `scratch` holds count hashes (it may
 * be the leaves' own array, which is then overwritten).
 */
int faii_settle_merkle_root(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                            uint8_t (*scratch)[FAII_SETTLE_HASH_BYTES],
                            uint8_t root[FAII_SETTLE_HASH_BYTES]);

struct faii_settle_proof {
	uint64_t index; /* the leaf's position */
	uint64_t count; /* leaves in the tree */
	uint32_t depth; /* siblings used */
	uint8_t siblings[FAII_SETTLE_PROOF_DEPTH_MAX][FAII_SETTLE_HASH_BYTES];
};

/* The path of leaf `index`; scratch as for the root. */
int faii_settle_merkle_proof(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                             size_t index, uint8_t (*scratch)[FAII_SETTLE_HASH_BYTES],
                             struct faii_settle_proof *proof);
/* 0 when the leaf with that proof hashes up to root, else -EINVAL. */
int faii_settle_merkle_verify(const uint8_t leaf[FAII_SETTLE_LEAF_BYTES],
                              const struct faii_settle_proof *proof,
                              const uint8_t root[FAII_SETTLE_HASH_BYTES]);

#endif /* FAII_SETTLE_H */
