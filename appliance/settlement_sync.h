/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement and the appliance's registry, both ways (docs/settlement.md,
 * "In faiid"), once a second on the control thread:
 *  - the registry's nodes go to settlement: a NODE_REGISTER for each node
 *    settlement does not know yet (or knows with another class or
 *    capacity), through the validator;
 *  - settlement's verdicts come back: a node that settlement has slashed
 *    gets status `slashed` (routing and the dataplane stop using it at
 *    once) and gets its status back when the slash is cleared; a node's
 *    reputation becomes settlement's (the minimum-reputation filter);
 *  - accepted ATTEST messages go to the ledger as ESG_ATTESTATION
 *    transactions (attest_queue.h), at every tick, oldest first;
 *  - governance's routing parameters in force at the consortium's epoch
 *    (tier factors, corridor, operator caps, ESG weights, ...) become the
 *    routing policy, and the routes are solved and published again.
 */
#ifndef FAII_APPLIANCE_SETTLEMENT_SYNC_H
#define FAII_APPLIANCE_SETTLEMENT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "appliance.h"
#include "faii/registry.h"

struct faii_settlement;
struct faii_consensus;

#define FAII_SETTLE_SYNC_PERIOD_NS        1000000000ull /* once a second */
#define FAII_SETTLE_SYNC_REGISTER_MAX     1024u         /* registrations submitted per period */
#define FAII_SETTLE_SYNC_SLOTS_PER_PERIOD 16384u        /* registry slots read per period */
#define FAII_SETTLE_SYNC_ATTEST_MAX       256u          /* attestations submitted per tick */

struct faii_settlement_sync {
	uint64_t next_ns;
	uint32_t cursor;        /* the next registry slot to look at */
	uint32_t slots;         /* the registry's capacity */
	uint8_t *slashed_by_us; /* per slot: settlement set `slashed` (and what it replaced) */
	uint8_t *status_before;
	uint64_t registrations, registrations_refused, slashed, unslashed, reputations;
	uint64_t policy_changes, policy_refused; /* governance's values applied, or not */
};

int faii_settlement_sync_init(struct faii_settlement_sync *sync, uint32_t slots);
void faii_settlement_sync_fini(struct faii_settlement_sync *sync);
/* Submits queued attestations (at every call), then does a period's work
 * when one is due. */
void faii_settlement_sync_tick(struct faii_settlement_sync *sync,
                               struct faii_settlement *settlement, struct faii_consensus *consensus,
                               struct faii_appliance_dp *app, uint64_t now_ns);
/* A registered node's operator as settlement knows it: consortium-wide,
 * from the operator's name (the first 4 bytes, little-endian, of
 * BLAKE2b-256 of it; 0 is never used). */
uint32_t faii_settlement_operator_id(const char *operator_name);

#endif /* FAII_APPLIANCE_SETTLEMENT_SYNC_H */
