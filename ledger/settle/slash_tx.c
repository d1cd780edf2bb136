/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SLASH_PROPOSAL (6), DISPUTE (7) and DISPUTE_VOTE (8): encoders, decoders
 * (layout and ranges only) and the dispute's signature. Formats in
 * docs/settlement.md ("Slashing and disputes"), little-endian
 * (faii/bytes.h), inside the envelope kind u8 | version u8 | body.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle_slash.h"

#define HDR FAII_SETTLE_TX_HEADER
#define SIG FAII_SETTLE_SIGNATURE

static const char dispute_domain[] = "faii-settle-dispute-v1";
#define DISPUTE_DOMAIN_BYTES (sizeof(dispute_domain) - 1)

static int envelope(const uint8_t *bytes, uint32_t len, enum faii_settle_tx_kind kind)
{
	if (bytes == NULL || len < HDR || len > FAII_SETTLE_TX_BYTES_MAX || bytes[0] != kind ||
	    bytes[1] != FAII_SETTLE_TX_VERSION)
		return -EBADMSG;
	return 0;
}

static bool zeros(const uint8_t *at, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (at[i] != 0)
			return false;
	return true;
}

/* The evidence's length for an offense; 0 for a variable one not yet known. */
static int evidence_len(const struct faii_settle_slash_tx *tx, uint32_t *len)
{
	switch (tx->offense) {
	case FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT: *len = FAII_SETTLE_SLASH_REPLICA_BYTES; break;
	case FAII_SETTLE_SLASH_EQUIVOCATION:
		if (tx->proof == NULL || tx->proof_len == 0 ||
		    tx->proof_len > FAII_SETTLE_SLASH_EVIDENCE_MAX)
			return -EINVAL;
		*len = tx->proof_len;
		break;
	case FAII_SETTLE_SLASH_INVALID_SIGNATURE:
		if (tx->message == NULL || tx->message_len == 0 ||
		    tx->message_len > FAII_SETTLE_SLASH_MESSAGE_MAX)
			return -EINVAL;
		*len = 4 + tx->message_len + SIG;
		break;
	case FAII_SETTLE_SLASH_DOWNTIME: *len = 0; break;
	case FAII_SETTLE_SLASH_UNDER_PERFORMANCE:
		if (tx->slo_hits > tx->dispatched)
			return -EINVAL;
		*len = FAII_SETTLE_SLASH_PERFORMANCE_BYTES;
		break;
	default: return -EINVAL;
	}
	return 0;
}

static void evidence_put(const struct faii_settle_slash_tx *tx, uint8_t *at)
{
	switch (tx->offense) {
	case FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT:
		faii_put_le64(at, tx->task_id);
		memcpy(at + 8, tx->majority_hash, FAII_SETTLE_DIGEST);
		memcpy(at + 8 + FAII_SETTLE_DIGEST, tx->node_hash, FAII_SETTLE_DIGEST);
		break;
	case FAII_SETTLE_SLASH_EQUIVOCATION: memcpy(at, tx->proof, tx->proof_len); break;
	case FAII_SETTLE_SLASH_INVALID_SIGNATURE:
		faii_put_le16(at, (uint16_t)tx->message_len);
		faii_put_le16(at + 2, 0);
		memcpy(at + 4, tx->message, tx->message_len);
		memcpy(at + 4 + tx->message_len, tx->signature, SIG);
		break;
	case FAII_SETTLE_SLASH_UNDER_PERFORMANCE:
		faii_put_le64(at, tx->epoch);
		faii_put_le32(at + 8, tx->dispatched);
		faii_put_le32(at + 12, tx->slo_hits);
		break;
	default: break;
	}
}

int faii_settle_slash_tx_encode(const struct faii_settle_slash_tx *tx, uint8_t *out, uint32_t cap,
                                uint32_t *len)
{
	uint32_t evidence = 0;
	int rc = evidence_len(tx, &evidence);
	if (rc != 0)
		return rc;
	if (evidence > FAII_SETTLE_SLASH_EVIDENCE_MAX)
		return -EINVAL;
	uint32_t total = HDR + FAII_SETTLE_SLASH_HEADER_BYTES + evidence;
	if (total > cap)
		return -ENOSPC;
	memset(out, 0, HDR + FAII_SETTLE_SLASH_HEADER_BYTES);
	out[0] = FAII_SETTLE_TX_SLASH_PROPOSAL;
	out[1] = FAII_SETTLE_TX_VERSION;
	faii_put_le32(out + HDR, tx->accused);
	out[HDR + 4] = tx->offense;
	faii_put_le16(out + HDR + 8, (uint16_t)evidence);
	evidence_put(tx, out + HDR + FAII_SETTLE_SLASH_HEADER_BYTES);
	*len = total;
	return 0;
}

static int evidence_get(const uint8_t *at, uint32_t len, struct faii_settle_slash_tx *tx)
{
	switch (tx->offense) {
	case FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT:
		if (len != FAII_SETTLE_SLASH_REPLICA_BYTES)
			return -EBADMSG;
		tx->task_id = faii_get_le64(at);
		memcpy(tx->majority_hash, at + 8, FAII_SETTLE_DIGEST);
		memcpy(tx->node_hash, at + 8 + FAII_SETTLE_DIGEST, FAII_SETTLE_DIGEST);
		return 0;
	case FAII_SETTLE_SLASH_EQUIVOCATION:
		if (len == 0)
			return -EBADMSG;
		tx->proof = at;
		tx->proof_len = len;
		return 0;
	case FAII_SETTLE_SLASH_INVALID_SIGNATURE: {
		if (len < 4 + SIG || faii_get_le16(at + 2) != 0)
			return -EBADMSG;
		uint32_t message_len = faii_get_le16(at);
		if (len != 4 + message_len + SIG)
			return -EBADMSG;
		if (message_len == 0 || message_len > FAII_SETTLE_SLASH_MESSAGE_MAX)
			return -EINVAL;
		tx->message = at + 4;
		tx->message_len = message_len;
		memcpy(tx->signature, at + 4 + message_len, SIG);
		return 0;
	}
	case FAII_SETTLE_SLASH_DOWNTIME: return len == 0 ? 0 : -EBADMSG;
	case FAII_SETTLE_SLASH_UNDER_PERFORMANCE:
		if (len != FAII_SETTLE_SLASH_PERFORMANCE_BYTES)
			return -EBADMSG;
		tx->epoch = faii_get_le64(at);
		tx->dispatched = faii_get_le32(at + 8);
		tx->slo_hits = faii_get_le32(at + 12);
		return tx->slo_hits <= tx->dispatched ? 0 : -EINVAL;
	default: return -EINVAL;
	}
}

int faii_settle_slash_tx_decode(const uint8_t *bytes, uint32_t len, struct faii_settle_slash_tx *tx)
{
	int rc = envelope(bytes, len, FAII_SETTLE_TX_SLASH_PROPOSAL);
	if (rc != 0)
		return rc;
	if (len < HDR + FAII_SETTLE_SLASH_HEADER_BYTES)
		return -EBADMSG;
	const uint8_t *body = bytes + HDR;
	uint32_t evidence = faii_get_le16(body + 8);
	if (!zeros(body + 5, 3) || !zeros(body + 10, 2) ||
	    len != HDR + FAII_SETTLE_SLASH_HEADER_BYTES + evidence)
		return -EBADMSG;
	memset(tx, 0, sizeof(*tx));
	tx->accused = faii_get_le32(body);
	tx->offense = body[4];
	return evidence_get(body + FAII_SETTLE_SLASH_HEADER_BYTES, evidence, tx);
}

int faii_settle_dispute_tx_encode(const struct faii_settle_dispute_tx *tx, uint8_t *out,
                                  uint32_t cap, uint32_t *len)
{
	if (tx->proposal_id == 0 || tx->reason_len > FAII_SETTLE_SLASH_REASON_MAX ||
	    (tx->reason_len > 0 && tx->reason == NULL))
		return -EINVAL;
	uint32_t total = HDR + FAII_SETTLE_SLASH_DISPUTE_FIXED + tx->reason_len + SIG;
	if (total > cap)
		return -ENOSPC;
	memset(out, 0, HDR + FAII_SETTLE_SLASH_DISPUTE_FIXED);
	out[0] = FAII_SETTLE_TX_DISPUTE;
	out[1] = FAII_SETTLE_TX_VERSION;
	faii_put_le64(out + HDR, tx->proposal_id);
	faii_put_le32(out + HDR + 8, tx->node_id);
	faii_put_le16(out + HDR + 12, (uint16_t)tx->reason_len);
	if (tx->reason_len > 0)
		memcpy(out + HDR + FAII_SETTLE_SLASH_DISPUTE_FIXED, tx->reason, tx->reason_len);
	memcpy(out + total - SIG, tx->signature, SIG);
	*len = total;
	return 0;
}

int faii_settle_dispute_tx_decode(const uint8_t *bytes, uint32_t len,
                                  struct faii_settle_dispute_tx *tx)
{
	int rc = envelope(bytes, len, FAII_SETTLE_TX_DISPUTE);
	if (rc != 0)
		return rc;
	if (len < HDR + FAII_SETTLE_SLASH_DISPUTE_FIXED + SIG)
		return -EBADMSG;
	const uint8_t *body = bytes + HDR;
	uint32_t reason_len = faii_get_le16(body + 12);
	if (faii_get_le16(body + 14) != 0 ||
	    len != HDR + FAII_SETTLE_SLASH_DISPUTE_FIXED + reason_len + SIG)
		return -EBADMSG;
	memset(tx, 0, sizeof(*tx));
	tx->proposal_id = faii_get_le64(body);
	tx->node_id = faii_get_le32(body + 8);
	tx->reason_len = reason_len;
	tx->reason = body + FAII_SETTLE_SLASH_DISPUTE_FIXED;
	memcpy(tx->signature, bytes + len - SIG, SIG);
	if (tx->proposal_id == 0 || reason_len > FAII_SETTLE_SLASH_REASON_MAX)
		return -EINVAL;
	return 0;
}

/* "faii-settle-dispute-v1" || body without the signature, into buf. */
static uint32_t dispute_message(const uint8_t *bytes, uint32_t len,
                                uint8_t buf[DISPUTE_DOMAIN_BYTES + FAII_SETTLE_TX_BYTES_MAX])
{
	FAII_ASSERT(len >= HDR + SIG && len <= FAII_SETTLE_TX_BYTES_MAX);
	uint32_t body = len - HDR - SIG;
	memcpy(buf, dispute_domain, DISPUTE_DOMAIN_BYTES);
	memcpy(buf + DISPUTE_DOMAIN_BYTES, bytes + HDR, body);
	return DISPUTE_DOMAIN_BYTES + body;
}

int faii_settle_dispute_tx_sign(const struct faii_settle_dispute_tx *tx,
                                const uint8_t secret_key[64], uint8_t *out, uint32_t cap,
                                uint32_t *len)
{
	int rc = faii_settle_dispute_tx_encode(tx, out, cap, len);
	if (rc != 0)
		return rc;
	uint8_t buf[DISPUTE_DOMAIN_BYTES + FAII_SETTLE_TX_BYTES_MAX];
	uint32_t n = dispute_message(out, *len, buf);
	crypto_sign_detached(out + *len - SIG, NULL, buf, n, secret_key);
	return 0;
}

int faii_settle_dispute_tx_verify(const uint8_t *bytes, uint32_t len,
                                  const uint8_t public_key[FAII_SETTLE_PUBLIC_KEY])
{
	struct faii_settle_dispute_tx tx;
	int rc = faii_settle_dispute_tx_decode(bytes, len, &tx);
	if (rc != 0)
		return rc;
	uint8_t buf[DISPUTE_DOMAIN_BYTES + FAII_SETTLE_TX_BYTES_MAX];
	uint32_t n = dispute_message(bytes, len, buf);
	if (crypto_sign_verify_detached(bytes + len - SIG, buf, n, public_key) != 0)
		return -EKEYREJECTED;
	return 0;
}

int faii_settle_dispute_vote_tx_encode(const struct faii_settle_dispute_vote_tx *tx, uint8_t *out,
                                       uint32_t cap, uint32_t *len)
{
	if (tx->proposal_id == 0 ||
	    (tx->verdict != FAII_SETTLE_SLASH_UPHOLD && tx->verdict != FAII_SETTLE_SLASH_DISMISS))
		return -EINVAL;
	if (cap < HDR + FAII_SETTLE_SLASH_VOTE_BODY)
		return -ENOSPC;
	memset(out, 0, HDR + FAII_SETTLE_SLASH_VOTE_BODY);
	out[0] = FAII_SETTLE_TX_DISPUTE_VOTE;
	out[1] = FAII_SETTLE_TX_VERSION;
	faii_put_le64(out + HDR, tx->proposal_id);
	out[HDR + 8] = tx->verdict;
	*len = HDR + FAII_SETTLE_SLASH_VOTE_BODY;
	return 0;
}

int faii_settle_dispute_vote_tx_decode(const uint8_t *bytes, uint32_t len,
                                       struct faii_settle_dispute_vote_tx *tx)
{
	int rc = envelope(bytes, len, FAII_SETTLE_TX_DISPUTE_VOTE);
	if (rc != 0)
		return rc;
	if (len != HDR + FAII_SETTLE_SLASH_VOTE_BODY || !zeros(bytes + HDR + 9, 3))
		return -EBADMSG;
	memset(tx, 0, sizeof(*tx));
	tx->proposal_id = faii_get_le64(bytes + HDR);
	tx->verdict = bytes[HDR + 8];
	if (tx->proposal_id == 0 ||
	    (tx->verdict != FAII_SETTLE_SLASH_UPHOLD && tx->verdict != FAII_SETTLE_SLASH_DISMISS))
		return -EINVAL;
	return 0;
}
