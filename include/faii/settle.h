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
/*
 * Every level of the tree at once, bottom up and contiguous (the leaves'
 * hashes first), so that each proof is then read in O(log count): what a
 * settlement that publishes every node's proof needs. `levels` holds
 * faii_settle_merkle_tree_hashes(count) hashes.
 */
size_t faii_settle_merkle_tree_hashes(size_t count);
int faii_settle_merkle_tree(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                            uint8_t (*levels)[FAII_SETTLE_HASH_BYTES],
                            uint8_t root[FAII_SETTLE_HASH_BYTES]);
int faii_settle_merkle_tree_proof(const uint8_t (*levels)[FAII_SETTLE_HASH_BYTES], size_t count,
                                  size_t index, struct faii_settle_proof *proof);

/*
 * The tree's own hashes, for other leaf kinds that share it (routing
 * receipts, ledger/settle/receipt.c): an inner node H(0x01 | left | right),
 * the root H(0x02 | count | top) (top NULL for no leaves), and the walk of
 * a proof from a leaf's hash (whatever its domain) up to root.
 */
void faii_settle_merkle_node(const uint8_t left[FAII_SETTLE_HASH_BYTES],
                             const uint8_t right[FAII_SETTLE_HASH_BYTES],
                             uint8_t out[FAII_SETTLE_HASH_BYTES]);
void faii_settle_merkle_seal(uint64_t count, const uint8_t *top,
                             uint8_t root[FAII_SETTLE_HASH_BYTES]);
int faii_settle_merkle_verify_hash(const uint8_t leaf_hash[FAII_SETTLE_HASH_BYTES],
                                   const struct faii_settle_proof *proof,
                                   const uint8_t root[FAII_SETTLE_HASH_BYTES]);

/* 0 when the leaf with that proof hashes up to root, else -EINVAL. */
int faii_settle_merkle_verify(const uint8_t leaf[FAII_SETTLE_LEAF_BYTES],
                              const struct faii_settle_proof *proof,
                              const uint8_t root[FAII_SETTLE_HASH_BYTES]);

/*
 * One epoch's payouts, FAII (27)-(33), in integers (docs/settlement.md,
 * "Payouts"). Rates and shares are ppb; work, capacity, energy and
 * penalties are integer units of their own; prices turn them into amounts.
 */
#define FAII_SETTLE_TIERS     4u
#define FAII_SETTLE_CLASSES   5u /* micro, S, M, L, XL */
#define FAII_SETTLE_ALPHA_MAX 8u /* the SLO exponent, an integer >= 1 */
#define FAII_SETTLE_NODES_MAX (1u << 20)

struct faii_settle_params {
	uint64_t availability_rate; /* p0: units per capacity unit at full availability (20) */
	uint64_t work_rate;         /* p: units per unit of verified work (27) */
	uint64_t theta0_ppb[FAII_SETTLE_TIERS];     /* tier factors theta_t^0, theta_1^0 = 1.0 */
	uint64_t gamma_ppb[FAII_SETTLE_TIERS];      /* congestion sensitivity (32) */
	uint64_t queue_ppb[FAII_SETTLE_TIERS];      /* the epoch's normalised queue q_t (32) */
	uint64_t slo_target_ppb[FAII_SETTLE_TIERS]; /* s_bar_t > 0 (29) */
	uint32_t slo_alpha[FAII_SETTLE_TIERS];      /* alpha_t, 1..FAII_SETTLE_ALPHA_MAX (29) */
	uint64_t slo_max_ppb[FAII_SETTLE_TIERS];    /* m_bar_SLO,t (29) */
	uint64_t esg_xi_ppb;                        /* xi < 1.0 (30) */
	uint64_t esg_baseline_ppb;                  /* RE_bar (30) */
	uint64_t esg_max_ppb;                       /* m_bar_ESG >= 1.0 (30) */
	uint64_t diversity_eta_ppb;                 /* eta < 1.0 (31) */
	uint64_t class_share_max_ppb;               /* s_bar (31), (33) */
	uint64_t energy_price;                      /* kappa_e: units per Wh (28) */
	uint64_t energy_price_green; /* kappa_e for certified renewable Wh retired, <= kappa_e */
	uint64_t opex_price;         /* kappa_o: units per unit of operating cost (28) */
	uint64_t penalty_price;      /* phi: units per penalty point (28) */
	uint64_t payout_cap[FAII_SETTLE_CLASSES]; /* E_bar_i: the most one node of the class gets
	                                             (33) */
};

struct faii_settle_node_input {
	uint32_t node_id;
	uint32_t operator_id;
	uint8_t node_class;                          /* 0..FAII_SETTLE_CLASSES - 1 */
	uint64_t availability_ppb;                   /* a_ij */
	uint64_t capacity_units;                     /* c_i */
	uint64_t work[FAII_SETTLE_TIERS];            /* V_ij,t */
	uint64_t slo_success_ppb[FAII_SETTLE_TIERS]; /* s_ij,t */
	uint64_t renewable_ppb;                      /* RE_ij, certified */
	uint64_t energy_wh;                          /* e_ij */
	uint64_t energy_retired_wh; /* certified renewable Wh retired against e_ij (carbon) */
	uint64_t opex_units;        /* o_ij */
	uint64_t penalty_points;    /* l_ij */
	uint64_t cumulative_before; /* owed in earlier epochs */
};

struct faii_settle_node_result {
	uint64_t base;        /* P_base (20) */
	uint64_t performance; /* P_perf (27) */
	uint64_t deduction;   /* Phi (28), at most base + performance */
	uint64_t withheld;    /* above the class's cap E_bar_i (33) */
	uint64_t paid;        /* Pi = base + performance - deduction - withheld */
	uint64_t esg_ppb;
	uint64_t diversity_ppb;
	uint64_t slo_ppb[FAII_SETTLE_TIERS];
};

struct faii_settle_epoch_totals {
	uint64_t base, performance, deduction, withheld, paid;
	uint64_t theta_ppb[FAII_SETTLE_TIERS];             /* (32), as applied */
	uint64_t class_share_ppb[FAII_SETTLE_CLASSES];     /* s_i (31) */
	uint64_t class_diversity_ppb[FAII_SETTLE_CLASSES]; /* m_DIV,i (31) */
};

/* Checks the parameters' ranges: 0, or -EINVAL with the field's name. */
int faii_settle_params_check(const struct faii_settle_params *params, const char **field);
/*
 * Computes every node's payout for the epoch. Conservation is asserted:
 * the totals' base + performance = paid + deduction + withheld. -EINVAL for
 * bad parameters or inputs, -EOVERFLOW when an amount leaves 64 bits.
 */
int faii_settle_epoch(const struct faii_settle_params *params,
                      const struct faii_settle_node_input *nodes, size_t count,
                      struct faii_settle_node_result *results,
                      struct faii_settle_epoch_totals *totals);

#endif /* FAII_SETTLE_H */
