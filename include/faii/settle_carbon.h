/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Carbon certificates (docs/settlement.md, "Carbon certificates"): granular
 * energy certificates in EnergyTag's model, minted once per (meter,
 * interval) from a node-signed METER_READING, held as tradable or retired
 * Wh per owner (the node's operator), moved by CARBON_TRANSFER, retired by
 * settlement against the energy the node used in the epoch, and expired
 * and pruned after a window so that the bounded tables reach a steady
 * state. Pure settlement code: no I/O, no clock, no allocation; the state
 * lives in memory the caller hands in.
 *
 * Units: energy on the wire in milli-watt-hours (mWh); certificates and
 * balances in whole Wh, rounded down; shares in ppb (FAII_SETTLE_PPB_ONE);
 * interval times in Unix seconds; consortium time (now_ms) in Unix ms.
 *
 * Error convention: encode/decode 0, -EBADMSG (bytes that are not such a
 * transaction), -EINVAL (a field out of range; *why names it) or -ENOSPC
 * (the output buffer); verify 0 or -EACCES; apply/transfer return a
 * faii_settle_carbon_reason (FAII_SETTLE_CARBON_OK = accepted), every
 * refusal counted by name in the state; queries 0 or a negative errno.
 */
#ifndef FAII_SETTLE_CARBON_H
#define FAII_SETTLE_CARBON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle_tx.h"

/* METER_READING body: 56 bytes signed, then the 64-byte signature. */
#define FAII_SETTLE_METER_SIGNED_BYTES 56u
#define FAII_SETTLE_METER_BODY         (FAII_SETTLE_METER_SIGNED_BYTES + FAII_SETTLE_SIGNATURE)
#define FAII_SETTLE_METER_TX_BYTES     (FAII_SETTLE_TX_HEADER + FAII_SETTLE_METER_BODY)
#define FAII_SETTLE_METER_DOMAIN       "faii-settle-meter-v1" /* prefixes the signed bytes */
#define FAII_SETTLE_METER_LOCATION     8u    /* "DE", "DE-BY", "GB-ENG", NUL-padded */
#define FAII_SETTLE_METER_INTERVAL_MAX 3600u /* s: EnergyTag's hourly granularity */
/* The most a meter may report: 100 MW (a large site), in W. */
#define FAII_SETTLE_METER_POWER_W_MAX 100000000ull
/* How far past consortium time a reading's interval may end (s). */
#define FAII_SETTLE_CARBON_SKEW_S 300u

/* CARBON_TRANSFER body: 56 bytes. */
#define FAII_SETTLE_TRANSFER_BODY     56u
#define FAII_SETTLE_TRANSFER_TX_BYTES (FAII_SETTLE_TX_HEADER + FAII_SETTLE_TRANSFER_BODY)

/* Hard ceilings of the tables; a state's limits are at most these. */
#define FAII_SETTLE_CARBON_CERTIFICATES_MAX (1u << 20) /* certificate lots */
#define FAII_SETTLE_CARBON_READINGS_MAX     (1u << 20) /* (meter, interval) records */
#define FAII_SETTLE_CARBON_OWNERS_MAX       (1u << 16) /* operators with a balance */
#define FAII_SETTLE_CARBON_NODES_MAX        (1u << 20) /* nodes with readings */
#define FAII_SETTLE_CARBON_EVIDENCE_MAX     (1u << 12) /* undrained evidence entries */
#define FAII_SETTLE_CARBON_RETIREMENTS_MAX  (1u << 20) /* retirement log ring */
/* Lots one retire call touches (its pieces all stay in the log). */
#define FAII_SETTLE_CARBON_RETIRE_LOTS_MAX 4096u

struct faii_settle_meter_reading {
	uint32_t node_id;
	uint64_t meter_id;         /* not 0 (0 means any meter in a transfer) */
	uint64_t interval_start_s; /* a multiple of interval_s */
	uint32_t interval_s;       /* divides 3600 */
	uint64_t energy_mwh;       /* measured over the interval */
	uint64_t renewable_ppb;    /* certified renewable fraction of the source mix */
	uint8_t location[FAII_SETTLE_METER_LOCATION];
	uint64_t read_at_s; /* >= interval end */
	uint8_t signature[FAII_SETTLE_SIGNATURE];
};

enum faii_settle_transfer_rule {
	FAII_SETTLE_TRANSFER_OLDEST_FIRST = 0,
	FAII_SETTLE_TRANSFER_NEWEST_FIRST = 1,
	FAII_SETTLE_TRANSFER_RULE_END
};

/* Moves `wh` tradable Wh of from_operator's certificates whose meter
 * matches (0 = any) and whose interval starts in [not_before_s,
 * not_after_s), taken in `rule` order. nonce > from_operator's last. */
struct faii_settle_carbon_transfer {
	uint32_t from_operator;
	uint32_t to_operator;
	uint64_t wh;
	uint64_t nonce;
	uint64_t meter_id;
	uint64_t not_before_s;
	uint64_t not_after_s;
	uint8_t rule; /* enum faii_settle_transfer_rule */
};

#define FAII_SETTLE_CARBON_REASONS(X)                                                              \
	X(OK, "accepted")                                                                          \
	X(MALFORMED, "malformed")                                                                  \
	X(BAD_INTERVAL, "bad_interval")                                                            \
	X(BAD_ENERGY, "bad_energy")                                                                \
	X(BAD_RENEWABLE, "bad_renewable")                                                          \
	X(BAD_LOCATION, "bad_location")                                                            \
	X(BAD_READ_TIME, "bad_read_time")                                                          \
	X(BAD_SIGNATURE, "bad_signature")                                                          \
	X(FUTURE, "future")                                                                        \
	X(STALE, "stale")                                                                          \
	X(DOUBLE_MINT, "double_mint")                                                              \
	X(OVERLAP, "overlap")                                                                      \
	X(READINGS_FULL, "readings_full")                                                          \
	X(CERTIFICATES_FULL, "certificates_full")                                                  \
	X(OWNERS_FULL, "owners_full")                                                              \
	X(NODES_FULL, "nodes_full")                                                                \
	X(BAD_RULE, "bad_rule")                                                                    \
	X(SAME_OPERATOR, "same_operator")                                                          \
	X(ZERO_WH, "zero_wh")                                                                      \
	X(UNKNOWN_OPERATOR, "unknown_operator")                                                    \
	X(REPLAYED_NONCE, "replayed_nonce")                                                        \
	X(OVERDRAW, "overdraw")

#define FAII_SETTLE_CARBON_REASON_ENUM(name, text) FAII_SETTLE_CARBON_##name,
enum faii_settle_carbon_reason {
	FAII_SETTLE_CARBON_REASONS(FAII_SETTLE_CARBON_REASON_ENUM) FAII_SETTLE_CARBON_REASON_END
};
#undef FAII_SETTLE_CARBON_REASON_ENUM

/* "accepted", "double_mint", ...: the metric label. */
const char *faii_settle_carbon_reason_name(enum faii_settle_carbon_reason reason);

/* ---- METER_READING (kind 4) and CARBON_TRANSFER (kind 5) ---- */

int faii_settle_meter_encode(const struct faii_settle_meter_reading *reading, uint8_t *out,
                             uint32_t cap, uint32_t *len);
/* Layout and ranges only (the key is the dispatcher's): *why (may be
 * NULL) names the failed check. */
int faii_settle_meter_decode(const uint8_t *tx, uint32_t len,
                             struct faii_settle_meter_reading *reading,
                             enum faii_settle_carbon_reason *why);
/* Signs domain || the 56 signed body bytes with the node's Ed25519 key. */
void faii_settle_meter_sign(struct faii_settle_meter_reading *reading,
                            const uint8_t secret_key[64]);
int faii_settle_meter_verify(const struct faii_settle_meter_reading *reading,
                             const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY]);
/* BLAKE2b-256 of the encoded transaction: what evidence names. */
void faii_settle_meter_digest(const struct faii_settle_meter_reading *reading,
                              uint8_t digest[FAII_SETTLE_DIGEST]);

int faii_settle_transfer_encode(const struct faii_settle_carbon_transfer *transfer, uint8_t *out,
                                uint32_t cap, uint32_t *len);
int faii_settle_transfer_decode(const uint8_t *tx, uint32_t len,
                                struct faii_settle_carbon_transfer *transfer,
                                enum faii_settle_carbon_reason *why);

/* ---- The registry's state, in caller memory ---- */

struct faii_settle_carbon_limits {
	uint32_t certificates_max; /* lots, 1..FAII_SETTLE_CARBON_CERTIFICATES_MAX */
	uint32_t readings_max;     /* 1..FAII_SETTLE_CARBON_READINGS_MAX */
	uint32_t owners_max;       /* 1..FAII_SETTLE_CARBON_OWNERS_MAX */
	uint32_t nodes_max;        /* 1..FAII_SETTLE_CARBON_NODES_MAX */
	uint32_t evidence_max;     /* 1..FAII_SETTLE_CARBON_EVIDENCE_MAX */
	uint32_t retirements_max;  /* FAII_SETTLE_CARBON_RETIRE_LOTS_MAX..RETIREMENTS_MAX */
};

struct faii_settle_carbon;

/* Bytes of caller memory (8-byte aligned) a state with these limits
 * needs; 0 for limits out of range. */
size_t faii_settle_carbon_bytes(const struct faii_settle_carbon_limits *limits);
/* -EINVAL for bad limits, -ENOSPC when bytes is short. */
int faii_settle_carbon_init(void *mem, size_t bytes, const struct faii_settle_carbon_limits *limits,
                            struct faii_settle_carbon **state);

/* Counts a refusal found before apply (decode, signature) by the dispatcher. */
void faii_settle_carbon_count(struct faii_settle_carbon *state,
                              enum faii_settle_carbon_reason reason);
uint64_t faii_settle_carbon_refused(const struct faii_settle_carbon *state,
                                    enum faii_settle_carbon_reason reason);

/*
 * Applies a decoded, verified reading of a node whose operator is
 * `operator_id`. Mints one certificate of floor(floor(mWh / 1000) x
 * renewable_ppb / 10^9) Wh owned by the operator (none when that is 0)
 * and adds the reading's energy to the node's epoch. A (meter, interval)
 * already known, or overlapping a known one, is refused and recorded as
 * evidence. `now_ms` and `epoch` never decrease.
 */
enum faii_settle_carbon_reason
faii_settle_carbon_apply_reading(struct faii_settle_carbon *state,
                                 const struct faii_settle_meter_reading *reading,
                                 uint32_t operator_id, uint64_t now_ms, uint64_t epoch);

/*
 * Applies the energy of a decoded, verified ESG attestation (kind 3,
 * faii/settle_attest.h: faii_settle_attest_reading) as a reading: the same
 * checks but the location (an attestation has none; its certificate's is
 * all zero), the same mint, the same (meter, interval) table, so that an
 * interval counts once whichever kind came first. `digest` names the
 * attestation's transaction in evidence.
 */
enum faii_settle_carbon_reason
faii_settle_carbon_apply_attested(struct faii_settle_carbon *state,
                                  const struct faii_settle_meter_reading *reading,
                                  const uint8_t digest[FAII_SETTLE_DIGEST], uint32_t operator_id,
                                  uint64_t now_ms, uint64_t epoch);

/* Applies a decoded CARBON_TRANSFER whose author the dispatcher checked;
 * all or nothing. */
enum faii_settle_carbon_reason
faii_settle_carbon_apply_transfer(struct faii_settle_carbon *state,
                                  const struct faii_settle_carbon_transfer *transfer,
                                  uint64_t now_ms, uint64_t epoch);

/* What a retire call did. short_* say why wh_retired < wh_wanted. */
struct faii_settle_carbon_retire_result {
	uint64_t wh_wanted;
	uint64_t wh_retired;
	uint64_t wh_uncovered; /* the node's epoch energy not yet covered, before */
	uint64_t first_seq;    /* the log's records [first_seq, first_seq + pieces) */
	uint32_t pieces;       /* lots retired from */
	bool short_of_energy;  /* wanted more than the node's uncovered energy */
	bool short_of_balance; /* the operator had fewer tradable Wh */
	bool short_of_lots;    /* FAII_SETTLE_CARBON_RETIRE_LOTS_MAX reached */
};

/*
 * Retires up to wh_wanted of the operator's tradable Wh, oldest
 * certificates first, against the node's energy in `epoch` (the state's
 * latest epoch or the one before): never more than that energy not yet
 * covered, never more than the balance. Retired Wh can never be retired
 * again or transferred. 0, or -ERANGE for an epoch no longer kept.
 */
int faii_settle_carbon_retire(struct faii_settle_carbon *state, uint32_t operator_id,
                              uint32_t node_id, uint64_t wh_wanted, uint64_t epoch,
                              struct faii_settle_carbon_retire_result *result);

struct faii_settle_carbon_prune_result {
	uint64_t horizon_s;    /* intervals ending at or before it are gone */
	uint32_t certificates; /* lots removed */
	uint32_t readings;     /* (meter, interval) records removed */
	uint64_t wh_expired;   /* tradable Wh that expired unretired */
};

/*
 * Removes every certificate and (meter, interval) record whose interval
 * ended at or before now - window_s; tradable Wh of those expire (counted
 * in the owner's expired balance). Readings starting before the horizon
 * are refused from then on (stale), so nothing pruned can be minted again.
 * Its cost is what expired (readings_max-bounded heap of the readings by
 * interval end, each reading's lots chained to it): a prune with nothing
 * due is O(1), whatever the tables hold.
 */
void faii_settle_carbon_prune(struct faii_settle_carbon *state, uint64_t now_ms, uint64_t window_s,
                              struct faii_settle_carbon_prune_result *result);

/* ---- Evidence of double minting ---- */

struct faii_settle_carbon_evidence {
	uint8_t reason; /* FAII_SETTLE_CARBON_DOUBLE_MINT or _OVERLAP */
	bool replay;    /* the same bytes again (equal digests) */
	uint32_t node_id;
	uint32_t first_node_id;
	uint64_t meter_id;
	uint64_t interval_start_s, first_interval_start_s;
	uint32_t interval_s, first_interval_s;
	uint64_t epoch; /* when the second reading came */
	uint8_t digest[FAII_SETTLE_DIGEST];
	uint8_t first_digest[FAII_SETTLE_DIGEST];
};

/* Moves up to cap entries, oldest first, out of the state; their count. */
uint32_t faii_settle_carbon_evidence_drain(struct faii_settle_carbon *state,
                                           struct faii_settle_carbon_evidence *out, uint32_t cap);

/* ---- Per-epoch accounting for the payouts ---- */

struct faii_settle_carbon_node_epoch {
	uint32_t node_id;
	uint32_t readings;
	uint64_t epoch;
	uint64_t energy_wh;     /* e_ij: floor(sum of the readings' mWh / 1000) */
	uint64_t renewable_wh;  /* certified renewable Wh minted from them */
	uint64_t retired_wh;    /* certificates retired for the node in the epoch */
	uint64_t renewable_ppb; /* RE_ij = retired / energy (0 without energy) */
};

/* The node's figures for `epoch` (zeros when it had none); -ERANGE for an
 * epoch no longer kept (older than the latest but one). Listings below
 * start at a key (inclusive) and are sorted: the next page starts one past
 * the last key returned. */
int faii_settle_carbon_node_epoch(const struct faii_settle_carbon *state, uint32_t node_id,
                                  uint64_t epoch, struct faii_settle_carbon_node_epoch *out);
/*
 * Settlement's step for one node, in node id order (the state machine's
 * settle_epoch_carbon): when the node has energy in `epoch`, its
 * operator's tradable Wh retired against it as faii_settle_carbon_retire
 * does, then its figures for the epoch as faii_settle_carbon_node_epoch
 * gives them; without energy, zero figures and nothing retired. One hash
 * lookup of the node (its row caches its operator's account) instead of
 * the three calls' four. -ERANGE for an epoch no longer kept.
 */
int faii_settle_carbon_settle_node(struct faii_settle_carbon *state, uint32_t operator_id,
                                   uint32_t node_id, uint64_t epoch,
                                   struct faii_settle_carbon_node_epoch *figures,
                                   struct faii_settle_carbon_retire_result *retired);

/*
 * The whole epoch's step: faii_settle_carbon_settle_node for inputs[0..
 * count - 1] in that order (node id order: the state machine's), filling
 * each input with energy its energy_wh, energy_retired_wh and
 * renewable_ppb (inputs without energy are left as they are); the Wh
 * retired in *retired_wh. Starts each node's rows on their way from
 * memory a few nodes ahead. -ERANGE for an epoch no longer kept.
 */
struct faii_settle_node_input;
int faii_settle_carbon_settle_epoch(struct faii_settle_carbon *state, uint64_t epoch,
                                    struct faii_settle_node_input *inputs, uint32_t count,
                                    uint64_t *retired_wh);

/* Every node with readings or retirements in `epoch`, sorted by node id,
 * from node id from_node on, at most cap; *total counts them all. */
int faii_settle_carbon_epoch_nodes(const struct faii_settle_carbon *state, uint64_t epoch,
                                   uint32_t from_node, struct faii_settle_carbon_node_epoch *out,
                                   uint32_t cap, uint32_t *count, uint32_t *total);

/*
 * The carbon-adjusted energy deduction of (28): kappa_e per uncertified Wh,
 * kappa_e_green (<= kappa_e) per certified renewable Wh retired for the
 * node: charge = kappa_e (e - r) + kappa_e_green r, r = min(retired, e).
 * -EINVAL when kappa_e_green > kappa_e, -EOVERFLOW beyond 64 bits.
 */
int faii_settle_carbon_energy_charge(uint64_t energy_wh, uint64_t retired_wh, uint64_t kappa_e,
                                     uint64_t kappa_e_green, uint64_t *charge);

/* ---- Listings (faiictl carbon ...) ---- */

struct faii_settle_carbon_balance {
	uint32_t operator_id;
	uint32_t certificates; /* lots it holds with tradable Wh */
	uint64_t tradable_wh;
	uint64_t retired_wh;
	uint64_t expired_wh;
	uint64_t minted_wh;
	uint64_t transferred_in_wh;
	uint64_t transferred_out_wh;
	uint64_t last_nonce;
};

struct faii_settle_carbon_certificate {
	uint64_t meter_id;
	uint64_t interval_start_s;
	uint64_t serial_first; /* its Wh are serials [first, first + wh) of the interval */
	uint64_t wh;
	uint64_t wh_retired; /* the first wh_retired serials */
	uint64_t minted_epoch;
	uint32_t interval_s;
	uint32_t owner;
	uint32_t node_id; /* the node whose meter read it */
	uint8_t location[FAII_SETTLE_METER_LOCATION];
	uint32_t pad; /* 0 */
};

struct faii_settle_carbon_retirement {
	uint64_t seq;
	uint64_t epoch;
	uint64_t meter_id;
	uint64_t interval_start_s;
	uint64_t serial_first;
	uint64_t wh;
	uint32_t operator_id;
	uint32_t node_id;
};

/* Balances sorted by operator, from operator id from_operator on, at most
 * cap; *total counts them all. */
int faii_settle_carbon_list_balances(const struct faii_settle_carbon *state, uint32_t from_operator,
                                     struct faii_settle_carbon_balance *out, uint32_t cap,
                                     uint32_t *count, uint32_t *total);

/* Which certificates or retirements to list: those matching every field
 * whose by_ flag is set (none set: all). For a certificate, owner is its
 * holder and node the node that read it; for a retirement, the operator
 * that retired it and the node it was retired for. */
struct faii_settle_carbon_filter {
	bool by_meter, by_owner, by_node;
	uint64_t meter_id;
	uint32_t owner;
	uint32_t node_id;
};

/* Certificates sorted by (meter, interval start, first serial), from the
 * given key on (all zero: from the start). */
struct faii_settle_carbon_cursor {
	uint64_t meter_id, interval_start_s, serial_first;
};
int faii_settle_carbon_list_certificates(const struct faii_settle_carbon *state,
                                         const struct faii_settle_carbon_filter *filter,
                                         const struct faii_settle_carbon_cursor *from,
                                         struct faii_settle_carbon_certificate *out, uint32_t cap,
                                         uint32_t *count, uint32_t *total);

/* Retirement records with seq >= from_seq still in the log, in seq order.
 * *oldest_seq: the oldest the log still holds. */
int faii_settle_carbon_list_retirements(const struct faii_settle_carbon *state, uint64_t from_seq,
                                        const struct faii_settle_carbon_filter *filter,
                                        struct faii_settle_carbon_retirement *out, uint32_t cap,
                                        uint32_t *count, uint64_t *oldest_seq);

/* Totals over the whole registry (conservation, metrics). */
struct faii_settle_carbon_totals {
	uint64_t minted_wh, tradable_wh, retired_wh, expired_wh;
	uint64_t energy_mwh; /* every accepted reading's energy */
	uint32_t certificates, readings, owners, nodes, evidence;
	uint64_t evidence_dropped;        /* the evidence list was full */
	uint64_t retirements_overwritten; /* the log ring wrapped */
	uint64_t prune_horizon_s;
};
void faii_settle_carbon_totals(const struct faii_settle_carbon *state,
                               struct faii_settle_carbon_totals *totals);

#endif /* FAII_SETTLE_CARBON_H */
