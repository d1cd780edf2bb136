/* SPDX-License-Identifier: BSD-3-Clause */
/* Settlement transactions' envelope and the appliance-authored kinds
 * NODE_REGISTER and WORK_SUMMARY: see include/faii/settle_tx.h. */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_tx.h"

_Static_assert(FAII_SETTLE_TX_TIERS == FAII_SETTLE_TIERS, "one tier count");
_Static_assert(FAII_SETTLE_WORK_ENTRIES_MAX >= 16, "a summary part carries a useful batch");
_Static_assert(FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES +
                               FAII_SETTLE_WORK_ENTRIES_MAX * FAII_SETTLE_WORK_ENTRY_BYTES <=
                       FAII_SETTLE_TX_BYTES_MAX,
               "a full summary part fits one transaction");

static const char *const kind_names[FAII_SETTLE_TX_KIND_END] = {
        [FAII_SETTLE_TX_NODE_REGISTER] = "node_register",
        [FAII_SETTLE_TX_WORK_SUMMARY] = "work_summary",
        [FAII_SETTLE_TX_ESG_ATTESTATION] = "esg_attestation",
        [FAII_SETTLE_TX_METER_READING] = "meter_reading",
        [FAII_SETTLE_TX_CARBON_TRANSFER] = "carbon_transfer",
        [FAII_SETTLE_TX_SLASH_PROPOSAL] = "slash_proposal",
        [FAII_SETTLE_TX_DISPUTE] = "dispute",
        [FAII_SETTLE_TX_DISPUTE_VOTE] = "dispute_vote",
        [FAII_SETTLE_TX_GOV_PROPOSAL] = "gov_proposal",
        [FAII_SETTLE_TX_GOV_VOTE] = "gov_vote",
        [FAII_SETTLE_TX_PAYOUT_ROOT] = "payout_root",
};

const char *faii_settle_tx_kind_name(enum faii_settle_tx_kind kind)
{
	if ((unsigned)kind >= FAII_SETTLE_TX_KIND_END || kind_names[kind] == NULL)
		return "unknown";
	return kind_names[kind];
}

int faii_settle_tx_kind(const uint8_t *tx, uint32_t len, enum faii_settle_tx_kind *kind)
{
	if (tx == NULL || len < FAII_SETTLE_TX_HEADER || len > FAII_SETTLE_TX_BYTES_MAX)
		return -EBADMSG;
	if (tx[0] == 0 || tx[0] >= FAII_SETTLE_TX_KIND_END || tx[1] != FAII_SETTLE_TX_VERSION)
		return -EBADMSG;
	*kind = (enum faii_settle_tx_kind)tx[0];
	return 0;
}

static int put_header(enum faii_settle_tx_kind kind, uint32_t body, uint8_t *out, uint32_t cap,
                      uint32_t *len)
{
	if (cap < FAII_SETTLE_TX_HEADER + body ||
	    FAII_SETTLE_TX_HEADER + body > FAII_SETTLE_TX_BYTES_MAX)
		return -EINVAL;
	out[0] = (uint8_t)kind;
	out[1] = FAII_SETTLE_TX_VERSION;
	*len = FAII_SETTLE_TX_HEADER + body;
	return 0;
}

int faii_settle_tx_node_encode(const struct faii_settle_tx_node *node, uint8_t *out, uint32_t cap,
                               uint32_t *len)
{
	if (node->node_class >= FAII_SETTLE_CLASSES)
		return -EINVAL;
	int rc = put_header(FAII_SETTLE_TX_NODE_REGISTER, FAII_SETTLE_NODE_REGISTER_BODY, out, cap,
	                    len);
	if (rc != 0)
		return rc;
	uint8_t *body = out + FAII_SETTLE_TX_HEADER;
	memset(body, 0, FAII_SETTLE_NODE_REGISTER_BODY);
	faii_put_le32(body, node->node_id);
	faii_put_le32(body + 4, node->operator_id);
	body[8] = node->node_class;
	faii_put_le32(body + 12, node->capacity_units);
	faii_put_le64(body + 16, node->stake);
	memcpy(body + 24, node->public_key, FAII_SETTLE_PUBLIC_KEY);
	return 0;
}

int faii_settle_tx_node_decode(const uint8_t *tx, uint32_t len, struct faii_settle_tx_node *node)
{
	enum faii_settle_tx_kind kind;
	if (faii_settle_tx_kind(tx, len, &kind) != 0 || kind != FAII_SETTLE_TX_NODE_REGISTER ||
	    len != FAII_SETTLE_TX_HEADER + FAII_SETTLE_NODE_REGISTER_BODY)
		return -EBADMSG;
	const uint8_t *body = tx + FAII_SETTLE_TX_HEADER;
	if (body[9] != 0 || body[10] != 0 || body[11] != 0)
		return -EBADMSG;
	node->node_id = faii_get_le32(body);
	node->operator_id = faii_get_le32(body + 4);
	node->node_class = body[8];
	node->capacity_units = faii_get_le32(body + 12);
	node->stake = faii_get_le64(body + 16);
	memcpy(node->public_key, body + 24, FAII_SETTLE_PUBLIC_KEY);
	if (node->node_class >= FAII_SETTLE_CLASSES)
		return -EINVAL;
	return 0;
}

static void put_work_entry(uint8_t *at, const struct faii_settle_work_entry *entry)
{
	faii_put_le32(at, entry->node_id);
	faii_put_le32(at + 4, entry->heartbeats_expected);
	faii_put_le32(at + 8, entry->heartbeats_seen);
	faii_put_le32(at + 12, entry->disagreements);
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++) {
		uint8_t *tier = at + 16 + t * FAII_SETTLE_WORK_TIER_BYTES;
		faii_put_le32(tier, entry->tier[t].dispatched);
		faii_put_le32(tier + 4, entry->tier[t].answered);
		faii_put_le64(tier + 8, entry->tier[t].verified_work);
		faii_put_le32(tier + 16, entry->tier[t].slo_hits);
		faii_put_le64(tier + 20, entry->tier[t].latency_sum_us);
	}
}

void faii_settle_tx_work_entry(const uint8_t *tx, uint16_t index,
                               struct faii_settle_work_entry *entry)
{
	const uint8_t *at = tx + FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES +
	                    (size_t)index * FAII_SETTLE_WORK_ENTRY_BYTES;
	FAII_ASSERT(index < FAII_SETTLE_WORK_ENTRIES_MAX);
	entry->node_id = faii_get_le32(at);
	entry->heartbeats_expected = faii_get_le32(at + 4);
	entry->heartbeats_seen = faii_get_le32(at + 8);
	entry->disagreements = faii_get_le32(at + 12);
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++) {
		const uint8_t *tier = at + 16 + t * FAII_SETTLE_WORK_TIER_BYTES;
		entry->tier[t].dispatched = faii_get_le32(tier);
		entry->tier[t].answered = faii_get_le32(tier + 4);
		entry->tier[t].verified_work = faii_get_le64(tier + 8);
		entry->tier[t].slo_hits = faii_get_le32(tier + 16);
		entry->tier[t].latency_sum_us = faii_get_le64(tier + 20);
	}
}

static bool work_header_valid(const struct faii_settle_work_header *header)
{
	if (header->parts == 0 || header->part >= header->parts ||
	    header->entry_count > FAII_SETTLE_WORK_ENTRIES_MAX)
		return false;
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++)
		if (header->queue_ppb[t] > FAII_SETTLE_QUEUE_PPB_MAX)
			return false;
	return true;
}

int faii_settle_tx_work_encode(const struct faii_settle_work_header *header,
                               const struct faii_settle_work_entry *entries, uint8_t *out,
                               uint32_t cap, uint32_t *len)
{
	if (!work_header_valid(header))
		return -EINVAL;
	uint32_t body = FAII_SETTLE_WORK_HEADER_BYTES +
	                (uint32_t)header->entry_count * FAII_SETTLE_WORK_ENTRY_BYTES;
	int rc = put_header(FAII_SETTLE_TX_WORK_SUMMARY, body, out, cap, len);
	if (rc != 0)
		return rc;
	uint8_t *at = out + FAII_SETTLE_TX_HEADER;
	memset(at, 0, FAII_SETTLE_WORK_HEADER_BYTES);
	faii_put_le64(at, header->slice);
	faii_put_le64(at + 8, header->slice_end_ms);
	faii_put_le16(at + 16, header->part);
	faii_put_le16(at + 18, header->parts);
	faii_put_le16(at + 20, header->entry_count);
	faii_put_le32(at + 24, header->receipt_count);
	memcpy(at + 28, header->receipt_root, FAII_SETTLE_DIGEST);
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++)
		faii_put_le32(at + 60 + 4 * t, header->queue_ppb[t]);
	for (uint16_t i = 0; i < header->entry_count; i++)
		put_work_entry(at + FAII_SETTLE_WORK_HEADER_BYTES +
		                       (size_t)i * FAII_SETTLE_WORK_ENTRY_BYTES,
		               &entries[i]);
	return 0;
}

int faii_settle_tx_work_decode_header(const uint8_t *tx, uint32_t len,
                                      struct faii_settle_work_header *header)
{
	enum faii_settle_tx_kind kind;
	if (faii_settle_tx_kind(tx, len, &kind) != 0 || kind != FAII_SETTLE_TX_WORK_SUMMARY ||
	    len < FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES)
		return -EBADMSG;
	const uint8_t *at = tx + FAII_SETTLE_TX_HEADER;
	if (faii_get_le16(at + 22) != 0 || faii_get_le32(at + 76) != 0)
		return -EBADMSG;
	header->slice = faii_get_le64(at);
	header->slice_end_ms = faii_get_le64(at + 8);
	header->part = faii_get_le16(at + 16);
	header->parts = faii_get_le16(at + 18);
	header->entry_count = faii_get_le16(at + 20);
	header->receipt_count = faii_get_le32(at + 24);
	memcpy(header->receipt_root, at + 28, FAII_SETTLE_DIGEST);
	for (uint32_t t = 0; t < FAII_SETTLE_TX_TIERS; t++)
		header->queue_ppb[t] = faii_get_le32(at + 60 + 4 * t);
	if (len != FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES +
	                   (uint32_t)header->entry_count * FAII_SETTLE_WORK_ENTRY_BYTES)
		return -EBADMSG;
	return work_header_valid(header) ? 0 : -EINVAL;
}

int faii_settle_tx_root_encode(const struct faii_settle_tx_root *root, uint8_t *out, uint32_t cap,
                               uint32_t *len)
{
	int rc =
	        put_header(FAII_SETTLE_TX_PAYOUT_ROOT, FAII_SETTLE_PAYOUT_ROOT_BODY, out, cap, len);
	if (rc != 0)
		return rc;
	uint8_t *body = out + FAII_SETTLE_TX_HEADER;
	faii_put_le64(body, root->epoch);
	faii_put_le32(body + 8, root->leaves);
	memcpy(body + 12, root->root, FAII_SETTLE_DIGEST);
	return 0;
}

int faii_settle_tx_root_decode(const uint8_t *tx, uint32_t len, struct faii_settle_tx_root *root)
{
	enum faii_settle_tx_kind kind;
	if (faii_settle_tx_kind(tx, len, &kind) != 0 || kind != FAII_SETTLE_TX_PAYOUT_ROOT ||
	    len != FAII_SETTLE_TX_HEADER + FAII_SETTLE_PAYOUT_ROOT_BODY)
		return -EBADMSG;
	const uint8_t *body = tx + FAII_SETTLE_TX_HEADER;
	root->epoch = faii_get_le64(body);
	root->leaves = faii_get_le32(body + 8);
	memcpy(root->root, body + 12, FAII_SETTLE_DIGEST);
	return 0;
}
