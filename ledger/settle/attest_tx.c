/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESG_ATTESTATION (kind 3): a node's wire ATTEST message carried verbatim
 * (include/faii/settle_attest.h, docs/settlement.md "ESG attestations").
 * The wire's rules (docs/protocol.md §7.2, §7.6) and its signature (§6) are
 * checked here again, in settlement's own pure code: validators do not link
 * the dataplane's parser, and they must all refuse the same bytes the same
 * way whatever an appliance accepted.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/protocol.h"
#include "faii/settle.h"
#include "faii/settle_attest.h"
#include "faii/settle_carbon.h"

FAII_STATIC_ASSERT(FAII_SETTLE_ATTEST_MSG_BYTES == 140u, "docs/protocol.md §5.4");
FAII_STATIC_ASSERT(FAII_SETTLE_ATTEST_TX_BYTES <= FAII_SETTLE_TX_BYTES_MAX, "fits a transaction");

/* Offsets in the wire message (docs/protocol.md §3, §5.4: Off). */
enum {
	AT_MAGIC = 0,
	AT_VERSION = 2,
	AT_TYPE = 3,
	AT_LENGTH = 4,
	AT_FLAGS = 6,
	AT_HDR_RESERVED = 7,
	AT_NODE_ID = 8,
	AT_SEQ = 12,
	AT_TIMESTAMP = 16,
	AT_METER = 24,
	AT_INTERVAL_START = 32,
	AT_INTERVAL = 40,
	AT_ENERGY = 44,
	AT_PUE = 48,
	AT_ENERGY_TO_WORK = 52,
	AT_GRID_STRESS = 56,
	AT_MIX = 58,
	AT_RESERVED = 74,
	AT_SIGNATURE = 76,
};
FAII_STATIC_ASSERT(AT_SIGNATURE == FAII_SETTLE_ATTEST_SIGNED_BYTES, "signature offset");
FAII_STATIC_ASSERT(AT_RESERVED == AT_MIX + 2 * FAII_SETTLE_ATTEST_SOURCES, "mix layout");

#define PPB_PER_PERMILLE 1000000u
#define NS_PER_S         1000000000ull
#define HOUR_S           3600u
/* The carbon registry's ceiling on a meter's average power (W). */
#define POWER_W_MAX FAII_SETTLE_METER_POWER_W_MAX

#define FAII_SETTLE_ATTEST_REASON_TEXT(name, text) [FAII_SETTLE_ATTEST_##name] = text,
static const char *const reason_names[FAII_SETTLE_ATTEST_REASON_END] = {
        FAII_SETTLE_ATTEST_REASONS(FAII_SETTLE_ATTEST_REASON_TEXT)};
#undef FAII_SETTLE_ATTEST_REASON_TEXT

const char *faii_settle_attest_reason_name(enum faii_settle_attest_reason reason)
{
	if ((unsigned)reason >= FAII_SETTLE_ATTEST_REASON_END)
		return "unknown";
	return reason_names[reason];
}

/* The wire is big-endian (docs/protocol.md §2); the ledger's formats are
 * little-endian (faii/bytes.h), so these two stay here. */
static uint64_t get_be(const uint8_t *at, unsigned bytes)
{
	uint64_t value = 0;
	for (unsigned i = 0; i < bytes; i++)
		value = value << 8 | at[i];
	return value;
}

static void put_be(uint8_t *at, unsigned bytes, uint64_t value)
{
	for (unsigned i = 0; i < bytes; i++)
		at[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
}

static int refuse(enum faii_settle_attest_reason *why, enum faii_settle_attest_reason reason,
                  int error)
{
	if (why != NULL)
		*why = reason;
	return error;
}

/* §7.2 for an ATTEST: magic, version 1 or 2, type 4, the exact length, no
 * flags, reserved zero. */
static bool header_valid(const uint8_t *m)
{
	uint8_t version = m[AT_VERSION];
	return get_be(m + AT_MAGIC, 2) == FAII_MAGIC &&
	       (version == FAII_VERSION || version == FAII_VERSION_2) &&
	       m[AT_TYPE] == FAII_MSG_ATTEST &&
	       get_be(m + AT_LENGTH, 2) == FAII_SETTLE_ATTEST_MSG_BYTES && m[AT_FLAGS] == 0 &&
	       m[AT_HDR_RESERVED] == 0;
}

static void fields_of(const uint8_t *m, struct faii_settle_attest *a)
{
	a->node_id = (uint32_t)get_be(m + AT_NODE_ID, 4);
	a->seq = (uint32_t)get_be(m + AT_SEQ, 4);
	a->timestamp_ns = get_be(m + AT_TIMESTAMP, 8);
	a->meter_id = get_be(m + AT_METER, 8);
	a->interval_start_s = get_be(m + AT_INTERVAL_START, 8);
	a->interval_s = (uint32_t)get_be(m + AT_INTERVAL, 4);
	a->energy_wh = (uint32_t)get_be(m + AT_ENERGY, 4);
	a->pue_milli = (uint32_t)get_be(m + AT_PUE, 4);
	a->energy_to_work_milli = (uint32_t)get_be(m + AT_ENERGY_TO_WORK, 4);
	a->grid_stress_permille = (uint16_t)get_be(m + AT_GRID_STRESS, 2);
	for (unsigned s = 0; s < FAII_SETTLE_ATTEST_SOURCES; s++)
		a->source_mix_permille[s] = (uint16_t)get_be(m + AT_MIX + 2 * s, 2);
}

/* The carbon registry's interval rule: 1..3600 s, dividing the hour and
 * aligned to it, so that it never crosses an hour (carbon_state.h). */
static bool interval_valid(const struct faii_settle_attest *a)
{
	return a->interval_s >= 1 && a->interval_s <= HOUR_S && HOUR_S % a->interval_s == 0 &&
	       a->interval_start_s % a->interval_s == 0 &&
	       a->interval_start_s <= UINT64_MAX - a->interval_s;
}

static uint32_t mix_sum(const struct faii_settle_attest *a, unsigned sources)
{
	uint32_t sum = 0;
	for (unsigned s = 0; s < sources; s++)
		sum += a->source_mix_permille[s];
	return sum;
}

/* The wire's §7.6 in its order, then settlement's own: a meter, at most
 * POWER_W_MAX on average (Wh x 3600 <= W x s), sent after the interval. */
static enum faii_settle_attest_reason fields_check(const struct faii_settle_attest *a,
                                                   const uint8_t *m)
{
	if (a->node_id == 0 || a->node_id > FAII_NODE_ID_MAX)
		return FAII_SETTLE_ATTEST_BAD_NODE_ID;
	if (a->timestamp_ns == 0)
		return FAII_SETTLE_ATTEST_BAD_TIMESTAMP;
	if (!interval_valid(a))
		return FAII_SETTLE_ATTEST_BAD_INTERVAL;
	if (a->pue_milli < FAII_PERMILLE)
		return FAII_SETTLE_ATTEST_BAD_PUE;
	if (a->energy_to_work_milli == 0)
		return FAII_SETTLE_ATTEST_BAD_ENERGY_TO_WORK;
	if (a->grid_stress_permille > FAII_PERMILLE)
		return FAII_SETTLE_ATTEST_BAD_GRID_STRESS;
	if (mix_sum(a, FAII_SETTLE_ATTEST_SOURCES) != FAII_PERMILLE)
		return FAII_SETTLE_ATTEST_BAD_MIX;
	if (get_be(m + AT_RESERVED, 2) != 0)
		return FAII_SETTLE_ATTEST_RESERVED_NONZERO;
	if (a->meter_id == 0)
		return FAII_SETTLE_ATTEST_BAD_METER;
	if ((uint64_t)a->energy_wh * HOUR_S > POWER_W_MAX * a->interval_s)
		return FAII_SETTLE_ATTEST_BAD_ENERGY;
	if (a->timestamp_ns / NS_PER_S < a->interval_start_s + a->interval_s)
		return FAII_SETTLE_ATTEST_EARLY;
	return FAII_SETTLE_ATTEST_OK;
}

int faii_settle_attest_decode(const uint8_t *tx, uint32_t len, struct faii_settle_attest *attest,
                              enum faii_settle_attest_reason *why)
{
	if (len != FAII_SETTLE_ATTEST_TX_BYTES || tx[0] != FAII_SETTLE_TX_ESG_ATTESTATION ||
	    tx[1] != FAII_SETTLE_TX_VERSION)
		return refuse(why, FAII_SETTLE_ATTEST_MALFORMED, -EBADMSG);
	const uint8_t *m = tx + FAII_SETTLE_TX_HEADER;
	if (!header_valid(m))
		return refuse(why, FAII_SETTLE_ATTEST_BAD_HEADER, -EBADMSG);
	memset(attest, 0, sizeof(*attest));
	fields_of(m, attest);
	memcpy(attest->message, m, FAII_SETTLE_ATTEST_MSG_BYTES);
	enum faii_settle_attest_reason reason = fields_check(attest, m);
	if (reason != FAII_SETTLE_ATTEST_OK)
		return refuse(why, reason, -EINVAL);
	return refuse(why, FAII_SETTLE_ATTEST_OK, 0);
}

int faii_settle_attest_verify(const struct faii_settle_attest *attest,
                              const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY])
{
	const uint8_t *m = attest->message;
	if (crypto_sign_verify_detached(m + AT_SIGNATURE, m, FAII_SETTLE_ATTEST_SIGNED_BYTES,
	                                public_key) != 0)
		return -EACCES;
	return 0;
}

void faii_settle_attest_sign(struct faii_settle_attest *attest, const uint8_t secret_key[64])
{
	uint8_t *m = attest->message;
	memset(m, 0, FAII_SETTLE_ATTEST_MSG_BYTES);
	put_be(m + AT_MAGIC, 2, FAII_MAGIC);
	m[AT_VERSION] = FAII_VERSION;
	m[AT_TYPE] = FAII_MSG_ATTEST;
	put_be(m + AT_LENGTH, 2, FAII_SETTLE_ATTEST_MSG_BYTES);
	put_be(m + AT_NODE_ID, 4, attest->node_id);
	put_be(m + AT_SEQ, 4, attest->seq);
	put_be(m + AT_TIMESTAMP, 8, attest->timestamp_ns);
	put_be(m + AT_METER, 8, attest->meter_id);
	put_be(m + AT_INTERVAL_START, 8, attest->interval_start_s);
	put_be(m + AT_INTERVAL, 4, attest->interval_s);
	put_be(m + AT_ENERGY, 4, attest->energy_wh);
	put_be(m + AT_PUE, 4, attest->pue_milli);
	put_be(m + AT_ENERGY_TO_WORK, 4, attest->energy_to_work_milli);
	put_be(m + AT_GRID_STRESS, 2, attest->grid_stress_permille);
	for (unsigned s = 0; s < FAII_SETTLE_ATTEST_SOURCES; s++)
		put_be(m + AT_MIX + 2 * s, 2, attest->source_mix_permille[s]);
	int rc = crypto_sign_detached(m + AT_SIGNATURE, NULL, m, FAII_SETTLE_ATTEST_SIGNED_BYTES,
	                              secret_key);
	FAII_ASSERT(rc == 0);
}

int faii_settle_attest_wrap(const uint8_t *message, uint32_t message_len, uint8_t *out,
                            uint32_t cap, uint32_t *len)
{
	if (message_len != FAII_SETTLE_ATTEST_MSG_BYTES)
		return -EINVAL;
	if (cap < FAII_SETTLE_ATTEST_TX_BYTES)
		return -ENOSPC;
	out[0] = FAII_SETTLE_TX_ESG_ATTESTATION;
	out[1] = FAII_SETTLE_TX_VERSION;
	memcpy(out + FAII_SETTLE_TX_HEADER, message, FAII_SETTLE_ATTEST_MSG_BYTES);
	*len = FAII_SETTLE_ATTEST_TX_BYTES;
	return 0;
}

int faii_settle_attest_encode(const struct faii_settle_attest *attest, uint8_t *out, uint32_t cap,
                              uint32_t *len)
{
	return faii_settle_attest_wrap(attest->message, FAII_SETTLE_ATTEST_MSG_BYTES, out, cap,
	                               len);
}

void faii_settle_attest_digest(const struct faii_settle_attest *attest,
                               uint8_t digest[FAII_SETTLE_DIGEST])
{
	uint8_t tx[FAII_SETTLE_ATTEST_TX_BYTES];
	uint32_t len = 0;
	int rc = faii_settle_attest_encode(attest, tx, sizeof(tx), &len);
	FAII_ASSERT(rc == 0 && len == sizeof(tx));
	crypto_generichash(digest, FAII_SETTLE_DIGEST, tx, len, NULL, 0);
}

uint64_t faii_settle_attest_renewable_ppb(const struct faii_settle_attest *attest)
{
	uint64_t permille = mix_sum(attest, FAII_SETTLE_ATTEST_RENEWABLE);
	return permille <= FAII_PERMILLE ? permille * PPB_PER_PERMILLE : FAII_SETTLE_PPB_ONE;
}

void faii_settle_attest_reading(const struct faii_settle_attest *attest,
                                struct faii_settle_meter_reading *reading)
{
	memset(reading, 0, sizeof(*reading));
	reading->node_id = attest->node_id;
	reading->meter_id = attest->meter_id;
	reading->interval_start_s = attest->interval_start_s;
	reading->interval_s = attest->interval_s;
	reading->energy_mwh = (uint64_t)attest->energy_wh * 1000u;
	reading->renewable_ppb = faii_settle_attest_renewable_ppb(attest);
	reading->read_at_s = attest->timestamp_ns / NS_PER_S;
}
