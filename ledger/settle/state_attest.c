/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESG_ATTESTATION (kind 3) in the state machine (docs/settlement.md, "ESG
 * attestations"): the node's wire ATTEST message decoded, its signature
 * checked under the key the node registered (NODE_REGISTER), and its energy
 * minted by the carbon registry as a METER_READING's would be, for the
 * node's operator. Every outcome is counted by name.
 */
#include <stdint.h>

#include "faii/assert.h"
#include "faii/settle_attest.h"
#include "faii/settle_carbon.h"
#include "faii/settle_state.h"
#include "state_private.h"

static enum faii_settle_outcome counted(struct faii_settle_state *s,
                                        enum faii_settle_attest_reason reason,
                                        enum faii_settle_outcome outcome)
{
	FAII_ASSERT((unsigned)reason < FAII_SETTLE_ATTEST_REASON_END);
	s->attest_counts[reason]++;
	return outcome;
}

enum faii_settle_outcome settle_apply_attestation(struct faii_settle_state *s, const uint8_t *tx,
                                                  uint32_t len)
{
	struct faii_settle_attest attest;
	enum faii_settle_attest_reason why = FAII_SETTLE_ATTEST_MALFORMED;
	if (faii_settle_attest_decode(tx, len, &attest, &why) != 0)
		return counted(s, why, FAII_SETTLE_REFUSED_MALFORMED);
	const struct node_slot *slot = settle_node_find(s, attest.node_id);
	if (slot == NULL)
		return counted(s, FAII_SETTLE_ATTEST_UNKNOWN_NODE,
		               FAII_SETTLE_REFUSED_UNKNOWN_NODE);
	if (faii_settle_attest_verify(&attest, slot->public_key) != 0)
		return counted(s, FAII_SETTLE_ATTEST_BAD_SIGNATURE,
		               FAII_SETTLE_REFUSED_BAD_SIGNATURE);
	struct faii_settle_meter_reading reading;
	faii_settle_attest_reading(&attest, &reading);
	uint8_t digest[FAII_SETTLE_DIGEST];
	faii_settle_attest_digest(&attest, digest);
	enum faii_settle_carbon_reason reason =
	        faii_settle_carbon_apply_attested(s->carbon, &reading, digest, slot->operator_id,
	                                          s->stats.consortium_ms, s->stats.current_epoch);
	if (reason != FAII_SETTLE_CARBON_OK)
		return counted(s, FAII_SETTLE_ATTEST_CARBON, FAII_SETTLE_REFUSED_CARBON);
	return counted(s, FAII_SETTLE_ATTEST_OK, FAII_SETTLE_APPLIED);
}

uint64_t faii_settle_attest_count(const struct faii_settle_state *s,
                                  enum faii_settle_attest_reason reason)
{
	if ((unsigned)reason >= FAII_SETTLE_ATTEST_REASON_END)
		return 0;
	return s->attest_counts[reason];
}
