/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESG_ATTESTATION (kind 3, docs/settlement.md "ESG attestations"): a node's
 * signed wire ATTEST message (docs/protocol.md §5.4), carried verbatim, so
 * that any validator checks the node's own Ed25519 signature offline with
 * no second signature from the node:
 *
 *   kind u8 = 3 | version u8 = 1 | the 140-byte ATTEST message as sent
 *
 * The message keeps the wire's byte order (big-endian) and its header; the
 * signature covers its bytes [0, 76). An accepted attestation mints a carbon
 * certificate for (meter, interval) exactly as a METER_READING does
 * (settle_carbon.h): the same (meter, interval) counts once, whichever kind
 * came first. Pure settlement code: no I/O, no clock, no allocation.
 *
 * Error convention: decode 0, -EBADMSG (not such a transaction) or -EINVAL
 * (a field out of range), *why naming the check; verify 0 or -EACCES;
 * encode/wrap 0, -EINVAL or -ENOSPC.
 */
#ifndef FAII_SETTLE_ATTEST_H
#define FAII_SETTLE_ATTEST_H

#include <stdint.h>

#include "faii/protocol.h"
#include "faii/settle_carbon.h"
#include "faii/settle_tx.h"

/* The wire message: header, 132-byte body; the signature is its last 64. */
#define FAII_SETTLE_ATTEST_MSG_BYTES    (FAII_HDR_SIZE + FAII_ATTEST_BODY_SIZE) /* 140 */
#define FAII_SETTLE_ATTEST_SIGNED_BYTES (FAII_SETTLE_ATTEST_MSG_BYTES - FAII_SIGNATURE_SIZE)
#define FAII_SETTLE_ATTEST_TX_BYTES     (FAII_SETTLE_TX_HEADER + FAII_SETTLE_ATTEST_MSG_BYTES)
/* Sources 0..6 are renewable (FAII Table 2, docs/protocol.md §5.4). */
#define FAII_SETTLE_ATTEST_SOURCES   FAII_SRC_COUNT
#define FAII_SETTLE_ATTEST_RENEWABLE FAII_SRC_RENEWABLE_COUNT

struct faii_settle_attest {
	uint32_t node_id;
	uint32_t seq;
	uint64_t timestamp_ns;     /* the node's send time */
	uint64_t meter_id;         /* not 0 */
	uint64_t interval_start_s; /* a multiple of interval_s */
	uint32_t interval_s;       /* divides 3600 */
	uint32_t energy_wh;        /* metered over the interval */
	uint32_t pue_milli;        /* >= 1000 */
	uint32_t energy_to_work_milli;
	uint16_t grid_stress_permille;
	uint16_t source_mix_permille[FAII_SETTLE_ATTEST_SOURCES]; /* sums to 1000 */
	/* The message as the node sent it: what the signature covers. decode
	 * fills it from the transaction; sign writes it from the fields. */
	uint8_t message[FAII_SETTLE_ATTEST_MSG_BYTES];
};

#define FAII_SETTLE_ATTEST_REASONS(X)                                                              \
	X(OK, "accepted")                                                                          \
	X(MALFORMED, "malformed")                                                                  \
	X(BAD_HEADER, "bad_header")                                                                \
	X(BAD_NODE_ID, "bad_node_id")                                                              \
	X(BAD_TIMESTAMP, "bad_timestamp")                                                          \
	X(BAD_INTERVAL, "bad_interval")                                                            \
	X(BAD_PUE, "bad_pue")                                                                      \
	X(BAD_ENERGY_TO_WORK, "bad_energy_to_work")                                                \
	X(BAD_GRID_STRESS, "bad_grid_stress")                                                      \
	X(BAD_MIX, "bad_energy_mix")                                                               \
	X(RESERVED_NONZERO, "reserved_nonzero")                                                    \
	X(BAD_METER, "bad_meter")                                                                  \
	X(BAD_ENERGY, "bad_energy")                                                                \
	X(EARLY, "early")                                                                          \
	X(UNKNOWN_NODE, "unknown_node")                                                            \
	X(BAD_SIGNATURE, "bad_signature")                                                          \
	X(CARBON, "carbon")

#define FAII_SETTLE_ATTEST_REASON_ENUM(name, text) FAII_SETTLE_ATTEST_##name,
enum faii_settle_attest_reason {
	FAII_SETTLE_ATTEST_REASONS(FAII_SETTLE_ATTEST_REASON_ENUM) FAII_SETTLE_ATTEST_REASON_END
};
#undef FAII_SETTLE_ATTEST_REASON_ENUM

/* "accepted", "bad_signature", ...: the metric label. */
const char *faii_settle_attest_reason_name(enum faii_settle_attest_reason reason);

/* Layout and ranges only (the key is the dispatcher's); *why may be NULL. */
int faii_settle_attest_decode(const uint8_t *tx, uint32_t len, struct faii_settle_attest *attest,
                              enum faii_settle_attest_reason *why);
/* The node's signature over message[0, 76) under its registered key. */
int faii_settle_attest_verify(const struct faii_settle_attest *attest,
                              const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY]);
/* Writes the wire message from the fields (version 1, reserved zero) and
 * signs it with the node's Ed25519 key, as a node does (tests, tools). */
void faii_settle_attest_sign(struct faii_settle_attest *attest, const uint8_t secret_key[64]);
/* The transaction carrying attest->message. */
int faii_settle_attest_encode(const struct faii_settle_attest *attest, uint8_t *out, uint32_t cap,
                              uint32_t *len);
/* The transaction carrying a received wire message (message_len must be
 * FAII_SETTLE_ATTEST_MSG_BYTES); its fields are checked by decode. */
int faii_settle_attest_wrap(const uint8_t *message, uint32_t message_len, uint8_t *out,
                            uint32_t cap, uint32_t *len);
/* BLAKE2b-256 of the transaction: what carbon evidence names. */
void faii_settle_attest_digest(const struct faii_settle_attest *attest,
                               uint8_t digest[FAII_SETTLE_DIGEST]);
/* Renewable share of the mix, ppb: (sum of sources 0..6) x 10^6, exact. */
uint64_t faii_settle_attest_renewable_ppb(const struct faii_settle_attest *attest);
/* The attestation as the carbon registry's reading: energy_wh x 1000 mWh,
 * the renewable share, read at the send time (whole seconds), no location
 * (all zero), no signature of its own. */
void faii_settle_attest_reading(const struct faii_settle_attest *attest,
                                struct faii_settle_meter_reading *reading);

/* ---- In the state machine (include/faii/settle_state.h) ---- */

struct faii_settle_state;
/* Kind 3 transactions the state machine counted under `reason` (accepted
 * ones under FAII_SETTLE_ATTEST_OK); a carbon refusal is also counted by
 * the carbon registry under its own reason. */
uint64_t faii_settle_attest_count(const struct faii_settle_state *state,
                                  enum faii_settle_attest_reason reason);

#endif /* FAII_SETTLE_ATTEST_H */
