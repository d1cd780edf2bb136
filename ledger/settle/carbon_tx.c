/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * METER_READING (kind 4) and CARBON_TRANSFER (kind 5): their bytes, the
 * range checks a decoder can make alone, and the reading's Ed25519
 * signature over a domain-separated message (include/faii/settle_carbon.h,
 * docs/settlement.md "Carbon certificates").
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

#include "carbon_state.h"

FAII_STATIC_ASSERT(FAII_SETTLE_METER_TX_BYTES <= FAII_SETTLE_TX_BYTES_MAX, "a reading fits a tx");
FAII_STATIC_ASSERT(FAII_SETTLE_TRANSFER_TX_BYTES <= FAII_SETTLE_TX_BYTES_MAX, "a transfer fits");

#define FAII_SETTLE_CARBON_REASON_TEXT(name, text) [FAII_SETTLE_CARBON_##name] = text,
static const char *const reason_names[FAII_SETTLE_CARBON_REASON_END] = {
        FAII_SETTLE_CARBON_REASONS(FAII_SETTLE_CARBON_REASON_TEXT)};
#undef FAII_SETTLE_CARBON_REASON_TEXT

const char *faii_settle_carbon_reason_name(enum faii_settle_carbon_reason reason)
{
	if ((unsigned)reason >= FAII_SETTLE_CARBON_REASON_END)
		return "unknown";
	return reason_names[reason];
}

static int refuse(enum faii_settle_carbon_reason *why, enum faii_settle_carbon_reason reason,
                  int error)
{
	if (why != NULL)
		*why = reason;
	return error;
}

/* kind u8 | version u8 | a body of fixed size (settle_tx.h). */
static bool envelope_valid(const uint8_t *tx, uint32_t len, enum faii_settle_tx_kind kind,
                           uint32_t bytes)
{
	return len == bytes && tx[0] == kind && tx[1] == FAII_SETTLE_TX_VERSION;
}

static void meter_signed_bytes(const struct faii_settle_meter_reading *reading,
                               uint8_t out[FAII_SETTLE_METER_SIGNED_BYTES])
{
	faii_put_le32(out + 0, reading->node_id);
	faii_put_le64(out + 4, reading->meter_id);
	faii_put_le64(out + 12, reading->interval_start_s);
	faii_put_le32(out + 20, reading->interval_s);
	faii_put_le64(out + 24, reading->energy_mwh);
	faii_put_le64(out + 32, reading->renewable_ppb);
	memcpy(out + 40, reading->location, FAII_SETTLE_METER_LOCATION);
	faii_put_le64(out + 48, reading->read_at_s);
}

int faii_settle_meter_encode(const struct faii_settle_meter_reading *reading, uint8_t *out,
                             uint32_t cap, uint32_t *len)
{
	if (cap < FAII_SETTLE_METER_TX_BYTES)
		return -ENOSPC;
	out[0] = FAII_SETTLE_TX_METER_READING;
	out[1] = FAII_SETTLE_TX_VERSION;
	meter_signed_bytes(reading, out + FAII_SETTLE_TX_HEADER);
	memcpy(out + FAII_SETTLE_TX_HEADER + FAII_SETTLE_METER_SIGNED_BYTES, reading->signature,
	       FAII_SETTLE_SIGNATURE);
	*len = FAII_SETTLE_METER_TX_BYTES;
	return 0;
}

/* Two upper-case letters (ISO 3166-1), optionally '-' and one to three
 * letters or digits (ISO 3166-2), then NUL padding. */
static bool location_valid(const uint8_t location[FAII_SETTLE_METER_LOCATION])
{
	for (uint32_t i = 0; i < 2; i++)
		if (location[i] < 'A' || location[i] > 'Z')
			return false;
	uint32_t end = 2;
	if (location[2] == '-') {
		end = 3;
		while (end < 6 && ((location[end] >= 'A' && location[end] <= 'Z') ||
		                   (location[end] >= '0' && location[end] <= '9')))
			end++;
		if (end == 3)
			return false;
	}
	for (uint32_t i = end; i < FAII_SETTLE_METER_LOCATION; i++)
		if (location[i] != 0)
			return false;
	return true;
}

/* Divides the hour and is aligned: then it never crosses an hour. */
static bool interval_valid(const struct faii_settle_meter_reading *reading)
{
	uint32_t interval_s = reading->interval_s;
	return interval_s >= 1 && interval_s <= FAII_SETTLE_METER_INTERVAL_MAX &&
	       FAII_SETTLE_METER_INTERVAL_MAX % interval_s == 0 &&
	       reading->interval_start_s % interval_s == 0 &&
	       reading->interval_start_s <= UINT64_MAX - interval_s;
}

/* At most FAII_SETTLE_METER_POWER_W_MAX on average over the interval:
 * mWh x 3600 s/h <= W x s x 1000 mW/W. */
static bool energy_valid(const struct faii_settle_meter_reading *reading)
{
	unsigned __int128 measured = (unsigned __int128)reading->energy_mwh * 3600u;
	unsigned __int128 most =
	        (unsigned __int128)FAII_SETTLE_METER_POWER_W_MAX * reading->interval_s * 1000u;
	return measured <= most;
}

int carbon_meter_check(const struct faii_settle_meter_reading *reading,
                       enum faii_settle_carbon_reason *why)
{
	return carbon_reading_check(reading, true, why);
}

int carbon_reading_check(const struct faii_settle_meter_reading *reading, bool located,
                         enum faii_settle_carbon_reason *why)
{
	if (reading->meter_id == 0)
		return refuse(why, FAII_SETTLE_CARBON_MALFORMED, -EINVAL);
	if (!interval_valid(reading))
		return refuse(why, FAII_SETTLE_CARBON_BAD_INTERVAL, -EINVAL);
	if (!energy_valid(reading))
		return refuse(why, FAII_SETTLE_CARBON_BAD_ENERGY, -EINVAL);
	if (reading->renewable_ppb > FAII_SETTLE_PPB_ONE)
		return refuse(why, FAII_SETTLE_CARBON_BAD_RENEWABLE, -EINVAL);
	if (located && !location_valid(reading->location))
		return refuse(why, FAII_SETTLE_CARBON_BAD_LOCATION, -EINVAL);
	if (reading->read_at_s < reading->interval_start_s + reading->interval_s)
		return refuse(why, FAII_SETTLE_CARBON_BAD_READ_TIME, -EINVAL);
	return 0;
}

int faii_settle_meter_decode(const uint8_t *tx, uint32_t len,
                             struct faii_settle_meter_reading *reading,
                             enum faii_settle_carbon_reason *why)
{
	if (!envelope_valid(tx, len, FAII_SETTLE_TX_METER_READING, FAII_SETTLE_METER_TX_BYTES))
		return refuse(why, FAII_SETTLE_CARBON_MALFORMED, -EBADMSG);
	const uint8_t *body = tx + FAII_SETTLE_TX_HEADER;
	memset(reading, 0, sizeof(*reading));
	reading->node_id = faii_get_le32(body + 0);
	reading->meter_id = faii_get_le64(body + 4);
	reading->interval_start_s = faii_get_le64(body + 12);
	reading->interval_s = faii_get_le32(body + 20);
	reading->energy_mwh = faii_get_le64(body + 24);
	reading->renewable_ppb = faii_get_le64(body + 32);
	memcpy(reading->location, body + 40, FAII_SETTLE_METER_LOCATION);
	reading->read_at_s = faii_get_le64(body + 48);
	memcpy(reading->signature, body + FAII_SETTLE_METER_SIGNED_BYTES, FAII_SETTLE_SIGNATURE);
	int rc = carbon_meter_check(reading, why);
	if (rc == 0 && why != NULL)
		*why = FAII_SETTLE_CARBON_OK;
	return rc;
}

#define METER_DOMAIN_BYTES (sizeof(FAII_SETTLE_METER_DOMAIN) - 1)

static void meter_message(const struct faii_settle_meter_reading *reading,
                          uint8_t out[METER_DOMAIN_BYTES + FAII_SETTLE_METER_SIGNED_BYTES])
{
	memcpy(out, FAII_SETTLE_METER_DOMAIN, METER_DOMAIN_BYTES);
	meter_signed_bytes(reading, out + METER_DOMAIN_BYTES);
}

void faii_settle_meter_sign(struct faii_settle_meter_reading *reading, const uint8_t secret_key[64])
{
	uint8_t message[METER_DOMAIN_BYTES + FAII_SETTLE_METER_SIGNED_BYTES];
	meter_message(reading, message);
	int rc = crypto_sign_detached(reading->signature, NULL, message, sizeof(message),
	                              secret_key);
	FAII_ASSERT(rc == 0);
}

int faii_settle_meter_verify(const struct faii_settle_meter_reading *reading,
                             const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY])
{
	uint8_t message[METER_DOMAIN_BYTES + FAII_SETTLE_METER_SIGNED_BYTES];
	meter_message(reading, message);
	if (crypto_sign_verify_detached(reading->signature, message, sizeof(message), public_key) !=
	    0)
		return -EACCES;
	return 0;
}

void faii_settle_meter_digest(const struct faii_settle_meter_reading *reading,
                              uint8_t digest[FAII_SETTLE_DIGEST])
{
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
	uint32_t len = 0;
	int rc = faii_settle_meter_encode(reading, tx, sizeof(tx), &len);
	FAII_ASSERT(rc == 0 && len == sizeof(tx));
	crypto_generichash(digest, FAII_SETTLE_DIGEST, tx, len, NULL, 0);
}

int faii_settle_transfer_encode(const struct faii_settle_carbon_transfer *transfer, uint8_t *out,
                                uint32_t cap, uint32_t *len)
{
	if (cap < FAII_SETTLE_TRANSFER_TX_BYTES)
		return -ENOSPC;
	memset(out, 0, FAII_SETTLE_TRANSFER_TX_BYTES);
	out[0] = FAII_SETTLE_TX_CARBON_TRANSFER;
	out[1] = FAII_SETTLE_TX_VERSION;
	uint8_t *body = out + FAII_SETTLE_TX_HEADER;
	faii_put_le32(body + 0, transfer->from_operator);
	faii_put_le32(body + 4, transfer->to_operator);
	faii_put_le64(body + 8, transfer->wh);
	faii_put_le64(body + 16, transfer->nonce);
	faii_put_le64(body + 24, transfer->meter_id);
	faii_put_le64(body + 32, transfer->not_before_s);
	faii_put_le64(body + 40, transfer->not_after_s);
	body[48] = transfer->rule;
	*len = FAII_SETTLE_TRANSFER_TX_BYTES;
	return 0;
}

int faii_settle_transfer_decode(const uint8_t *tx, uint32_t len,
                                struct faii_settle_carbon_transfer *transfer,
                                enum faii_settle_carbon_reason *why)
{
	if (!envelope_valid(tx, len, FAII_SETTLE_TX_CARBON_TRANSFER, FAII_SETTLE_TRANSFER_TX_BYTES))
		return refuse(why, FAII_SETTLE_CARBON_MALFORMED, -EBADMSG);
	const uint8_t *body = tx + FAII_SETTLE_TX_HEADER;
	for (uint32_t i = 49; i < FAII_SETTLE_TRANSFER_BODY; i++)
		if (body[i] != 0)
			return refuse(why, FAII_SETTLE_CARBON_MALFORMED, -EBADMSG);
	memset(transfer, 0, sizeof(*transfer));
	transfer->from_operator = faii_get_le32(body + 0);
	transfer->to_operator = faii_get_le32(body + 4);
	transfer->wh = faii_get_le64(body + 8);
	transfer->nonce = faii_get_le64(body + 16);
	transfer->meter_id = faii_get_le64(body + 24);
	transfer->not_before_s = faii_get_le64(body + 32);
	transfer->not_after_s = faii_get_le64(body + 40);
	transfer->rule = body[48];
	if (transfer->rule >= FAII_SETTLE_TRANSFER_RULE_END)
		return refuse(why, FAII_SETTLE_CARBON_BAD_RULE, -EINVAL);
	if (transfer->from_operator == transfer->to_operator)
		return refuse(why, FAII_SETTLE_CARBON_SAME_OPERATOR, -EINVAL);
	if (transfer->wh == 0)
		return refuse(why, FAII_SETTLE_CARBON_ZERO_WH, -EINVAL);
	if (why != NULL)
		*why = FAII_SETTLE_CARBON_OK;
	return 0;
}
