/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing receipts: one per finished task, written by the dataplane and
 * gathered by the appliance into slices (docs/settlement.md, "Work
 * summaries and receipts"). A slice's receipts are the leaves of a BLAKE2b
 * Merkle tree (the tree of settle.h: inner nodes H(0x01 | left | right),
 * the odd last hash promoted, the root H(0x02 | count u64 | top)) whose
 * root the slice's WORK_SUMMARY transactions carry, so that any one task's
 * receipt can be proven to a client or an auditor offline.
 *
 * A leaf is 128 bytes, little-endian (faii/bytes.h):
 *
 *   off size
 *     0    8  task_id u64
 *     8    8  client_id u64
 *    16    8  finished_ms u64   the appliance's clock (Unix ms) when the task finished
 *    24    4  latency_us u32    arrival to the answer the client got (forwarded
 *                               result, timeout or no_quorum)
 *    28    1  tier u8           1..4
 *    29    1  verdict u8        enum faii_settle_verdict
 *    30    1  replicas u8       1, 3 or 7: the copies (and nodes) below
 *    31    1  answered u8       bit j: copy j answered (ok or error)
 *    32    1  ok u8             bit j: copy j answered ok          (ok within answered)
 *    33    1  agreed u8         bit j: its hash is the majority's  (agreed within ok)
 *    34    1  in_slo u8         bit j: ok within the task's budget (in_slo within ok)
 *    35    1  status u8         the result status the client got (protocol.h)
 *    36   28  node_id[7] u32    the node of each copy's last attempt; 0 beyond replicas
 *    64   32  result_hash       the majority's (single: the answer's), zero when none
 *    96   28  copy_latency_us[7] u32  round trip of each answered copy; 0 otherwise
 *   124    4  reserved u32 = 0
 *
 * Its hash is domain-separated from the payout leaves' (H(0x00 | leaf)) and
 * from the inner nodes: leaf hash = H(0x10 | leaf bytes).
 *
 * Pure (no I/O, no clock, no allocation). Error convention: 0 or -EINVAL
 * (a leaf that breaks the rules above, with the reason; a proof that does
 * not lead to the root).
 */
#ifndef FAII_SETTLE_RECEIPT_H
#define FAII_SETTLE_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "faii/settle.h"

#define FAII_SETTLE_RECEIPT_BYTES 128u
#define FAII_SETTLE_RECEIPT_NODES 7u /* = FAII_REPLICAS_MAX */
#define FAII_SETTLE_RECEIPT_TIERS 4u /* = FAII_TIER_COUNT */
#define FAII_SETTLE_RECEIPT_HASH  32u

enum faii_settle_verdict {
	FAII_SETTLE_VERDICT_AGREED = 1, /* a replica set: every ok copy gave the majority's hash */
	FAII_SETTLE_VERDICT_DISAGREED =
	        2,                       /* a replica set: an ok copy was outvoted, or no quorum */
	FAII_SETTLE_VERDICT_EXPIRED = 3, /* the client got timeout: no answer in two budgets */
	FAII_SETTLE_VERDICT_SINGLE = 4,  /* one copy: its answer, ok or not */
};

struct faii_settle_receipt {
	uint64_t task_id;
	uint64_t client_id;
	uint64_t finished_ms;
	uint32_t latency_us;
	uint8_t tier;
	uint8_t verdict;
	uint8_t replicas;
	uint8_t answered, ok, agreed, in_slo; /* bit j: copy j */
	uint8_t status;
	uint32_t node_id[FAII_SETTLE_RECEIPT_NODES];
	uint8_t result_hash[FAII_SETTLE_RECEIPT_HASH];
	uint32_t copy_latency_us[FAII_SETTLE_RECEIPT_NODES];
};

/* Why a leaf is refused: X(symbol, name). */
#define FAII_SETTLE_RECEIPT_REFUSALS(X)                                                            \
	X(NONE, "none")                                                                            \
	X(TIER, "tier")                                                                            \
	X(VERDICT, "verdict")                                                                      \
	X(REPLICAS, "replicas")                                                                    \
	X(MASKS, "masks")                                                                          \
	X(NODES, "nodes")                                                                          \
	X(LATENCY, "copy_latency")                                                                 \
	X(HASH, "result_hash")                                                                     \
	X(RESERVED, "reserved")

enum faii_settle_receipt_refusal {
#define FAII_SETTLE_RECEIPT_REFUSAL_ENUM(sym, name) FAII_SETTLE_RECEIPT_REFUSED_##sym,
	FAII_SETTLE_RECEIPT_REFUSALS(FAII_SETTLE_RECEIPT_REFUSAL_ENUM)
#undef FAII_SETTLE_RECEIPT_REFUSAL_ENUM
	        FAII_SETTLE_RECEIPT_REFUSAL_COUNT
};
const char *faii_settle_receipt_refusal_name(enum faii_settle_receipt_refusal reason);

/* The receipt's leaf; the receipt must be valid (asserted). */
void faii_settle_receipt_encode(const struct faii_settle_receipt *receipt,
                                uint8_t out[FAII_SETTLE_RECEIPT_BYTES]);
/* A leaf from outside (a proof file): 0, or -EINVAL with *reason. */
int faii_settle_receipt_decode(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                               struct faii_settle_receipt *receipt,
                               enum faii_settle_receipt_refusal *reason);
/* FAII_SETTLE_RECEIPT_REFUSED_NONE when the receipt keeps the rules. */
enum faii_settle_receipt_refusal
faii_settle_receipt_check(const struct faii_settle_receipt *receipt);

/* H(0x10 | leaf). */
void faii_settle_receipt_hash(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                              uint8_t hash[FAII_SETTLE_HASH_BYTES]);

/*
 * The root of a slice built as its receipts arrive, in O(log n) memory and
 * one inner hash a leaf on average: the same root as
 * faii_settle_merkle_root over the same leaf hashes (the promoted-odd tree
 * is the fold, right to left, of the perfect subtrees of the count's
 * binary digits). stack[i] holds the subtree of 2^i leaves when bit i of
 * count is set.
 */
struct faii_settle_receipt_acc {
	uint64_t count;
	uint8_t stack[FAII_SETTLE_PROOF_DEPTH_MAX + 1][FAII_SETTLE_HASH_BYTES];
};
void faii_settle_receipt_acc_init(struct faii_settle_receipt_acc *acc);
/* -ENOSPC once FAII_SETTLE_LEAVES_MAX leaves are in. */
int faii_settle_receipt_acc_add(struct faii_settle_receipt_acc *acc,
                                const uint8_t leaf_hash[FAII_SETTLE_HASH_BYTES]);
void faii_settle_receipt_acc_root(const struct faii_settle_receipt_acc *acc,
                                  uint8_t root[FAII_SETTLE_HASH_BYTES]);

/*
 * 0 when the leaf, with the proof (faii_settle_merkle_proof over the
 * slice's receipt hashes), hashes up to root; -EINVAL otherwise, a leaf
 * that does not decode included.
 */
int faii_settle_receipt_verify(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                               const struct faii_settle_proof *proof,
                               const uint8_t root[FAII_SETTLE_HASH_BYTES]);

#endif /* FAII_SETTLE_RECEIPT_H */
