/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement transactions: what appliances, nodes and validators put into
 * the consortium's committed sequence for settlement to consume
 * (docs/settlement.md, "Transactions"). Each is one DAG transaction
 * (at most FAII_SETTLE_TX_BYTES_MAX bytes), little-endian (faii/bytes.h):
 *
 *   kind u8 | version u8 (FAII_SETTLE_TX_VERSION) | body
 *
 * A transaction that does not decode, or whose kind or version is
 * unknown, is refused and counted by settlement; it never stops the
 * sequence (every validator refuses the same bytes the same way).
 *
 * Who may submit what is checked against the committed vertex's author
 * (a validator, i.e. an appliance) or, for node-signed kinds, against the
 * node's Ed25519 key registered by NODE_REGISTER.
 *
 * Error convention: 0, or -EBADMSG for bytes that are not such a
 * transaction, -EINVAL for a field out of range.
 */
#ifndef FAII_SETTLE_TX_H
#define FAII_SETTLE_TX_H

#include <stdint.h>

#define FAII_SETTLE_TX_VERSION    1u
#define FAII_SETTLE_TX_BYTES_MAX  4096u       /* = FAII_DAG_TX_BYTES_MAX */
#define FAII_SETTLE_TX_HEADER     2u          /* kind, version */
#define FAII_SETTLE_PUBLIC_KEY    32u         /* Ed25519 */
#define FAII_SETTLE_SIGNATURE     64u         /* Ed25519 */
#define FAII_SETTLE_DIGEST        32u         /* BLAKE2b-256 */
#define FAII_SETTLE_TX_TIERS      4u          /* = FAII_SETTLE_TIERS */
#define FAII_SETTLE_QUEUE_PPB_MAX 4000000000u /* q_t <= 4.0: a queue four times capacity */

enum faii_settle_tx_kind {
	FAII_SETTLE_TX_NODE_REGISTER = 1,   /* appliance: a node, its class, operator and key */
	FAII_SETTLE_TX_WORK_SUMMARY = 2,    /* appliance: one slice's measured work, receipt root */
	FAII_SETTLE_TX_ESG_ATTESTATION = 3, /* node-signed: its wire ATTEST, verbatim */
	FAII_SETTLE_TX_METER_READING = 4,   /* node-signed: one meter interval (carbon) */
	FAII_SETTLE_TX_CARBON_TRANSFER = 5, /* appliance for an operator: tradable Wh */
	FAII_SETTLE_TX_SLASH_PROPOSAL = 6,  /* appliance: accused node, evidence */
	FAII_SETTLE_TX_DISPUTE = 7,         /* node-signed: contests a slash proposal */
	FAII_SETTLE_TX_DISPUTE_VOTE = 8,    /* appliance: uphold or dismiss a disputed slash */
	FAII_SETTLE_TX_GOV_PROPOSAL = 9,    /* appliance: a parameter change */
	FAII_SETTLE_TX_GOV_VOTE = 10,       /* appliance: for or against a proposal */
	FAII_SETTLE_TX_PAYOUT_ROOT = 11,    /* appliance: the payout root it computed (a check) */
	FAII_SETTLE_TX_KIND_END
};

/*
 * NODE_REGISTER body (56 bytes):
 *   node_id u32 | operator_id u32 | class u8 | pad[3] = 0 |
 *   capacity_units u32 | stake u64 | public_key[32]
 * A node keeps its first registration's key; a later one from any
 * appliance may change class, capacity and stake (not the key or operator).
 */
#define FAII_SETTLE_NODE_REGISTER_BODY 56u
struct faii_settle_tx_node {
	uint32_t node_id;
	uint32_t operator_id;
	uint8_t node_class;
	uint32_t capacity_units;
	uint64_t stake;
	uint8_t public_key[FAII_SETTLE_PUBLIC_KEY];
};

/*
 * WORK_SUMMARY body: one slice of one appliance's measurements, possibly
 * in several parts (a slice with many nodes does not fit one transaction).
 *   slice u64 | slice_end_ms u64 (the appliance's clock, Unix ms) |
 *   part u16 | parts u16 | entry_count u16 | pad u16 = 0 |
 *   receipt_count u32 | receipt_root[32] |
 *   queue_ppb[4] u32 (per tier, the slice's normalised queue q_t of (32)) |
 *   pad u32 = 0 |
 *   entry_count x entry (FAII_SETTLE_WORK_ENTRY_BYTES each):
 *     node_id u32 | heartbeats_expected u32 | heartbeats_seen u32 |
 *     disagreements u32 |
 *     per tier t = 0..3: dispatched u32 | answered u32 | verified_work u64 |
 *                        slo_hits u32 | latency_sum_us u64
 * The slice's end time feeds the consortium's clock (docs/settlement.md,
 * "Consortium time"); (author, slice, part) is accepted once.
 */
#define FAII_SETTLE_WORK_HEADER_BYTES 80u
#define FAII_SETTLE_WORK_TIER_BYTES   28u
#define FAII_SETTLE_WORK_ENTRY_BYTES  (16u + FAII_SETTLE_TX_TIERS * FAII_SETTLE_WORK_TIER_BYTES)
#define FAII_SETTLE_WORK_ENTRIES_MAX                                                               \
	((FAII_SETTLE_TX_BYTES_MAX - FAII_SETTLE_TX_HEADER - FAII_SETTLE_WORK_HEADER_BYTES) /      \
	 FAII_SETTLE_WORK_ENTRY_BYTES)

struct faii_settle_work_tier {
	uint32_t dispatched;
	uint32_t answered;
	uint64_t verified_work; /* work units of majority-agreeing results within the SLO */
	uint32_t slo_hits;
	uint64_t latency_sum_us;
};

struct faii_settle_work_entry {
	uint32_t node_id;
	uint32_t heartbeats_expected;
	uint32_t heartbeats_seen;
	uint32_t disagreements;
	struct faii_settle_work_tier tier[FAII_SETTLE_TX_TIERS];
};

struct faii_settle_work_header {
	uint64_t slice;
	uint64_t slice_end_ms;
	uint16_t part, parts, entry_count;
	uint32_t receipt_count;
	uint8_t receipt_root[FAII_SETTLE_DIGEST];
	uint32_t queue_ppb[FAII_SETTLE_TX_TIERS]; /* q_t, at most FAII_SETTLE_QUEUE_PPB_MAX */
};

/*
 * PAYOUT_ROOT body (44 bytes): epoch u64 | leaves u32 | root[32].
 * Each appliance publishes the root it computed for a settled epoch; the
 * root becomes final once 2f + 1 validators published the same root and
 * the activation delay has passed (docs/settlement.md, "Epochs").
 */
#define FAII_SETTLE_PAYOUT_ROOT_BODY 44u
struct faii_settle_tx_root {
	uint64_t epoch;
	uint32_t leaves;
	uint8_t root[FAII_SETTLE_DIGEST];
};

/* The kind of a transaction (its first byte), after checking the header. */
int faii_settle_tx_kind(const uint8_t *tx, uint32_t len, enum faii_settle_tx_kind *kind);
const char *faii_settle_tx_kind_name(enum faii_settle_tx_kind kind);

int faii_settle_tx_node_encode(const struct faii_settle_tx_node *node, uint8_t *out, uint32_t cap,
                               uint32_t *len);
int faii_settle_tx_node_decode(const uint8_t *tx, uint32_t len, struct faii_settle_tx_node *node);

/* entries[0..header->entry_count - 1]; entry_count <= FAII_SETTLE_WORK_ENTRIES_MAX. */
int faii_settle_tx_work_encode(const struct faii_settle_work_header *header,
                               const struct faii_settle_work_entry *entries, uint8_t *out,
                               uint32_t cap, uint32_t *len);
int faii_settle_tx_work_decode_header(const uint8_t *tx, uint32_t len,
                                      struct faii_settle_work_header *header);
/* Entry `index` (< header.entry_count) of a transaction whose header decoded. */
void faii_settle_tx_work_entry(const uint8_t *tx, uint16_t index,
                               struct faii_settle_work_entry *entry);

int faii_settle_tx_root_encode(const struct faii_settle_tx_root *root, uint8_t *out, uint32_t cap,
                               uint32_t *len);
int faii_settle_tx_root_decode(const uint8_t *tx, uint32_t len, struct faii_settle_tx_root *root);

#endif /* FAII_SETTLE_TX_H */
