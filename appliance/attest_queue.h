/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Accepted ATTEST messages on their way to the ledger (docs/settlement.md,
 * "ESG attestations"): the control thread's slow path puts each ATTEST the
 * registry accepted here, byte for byte as the node sent and signed it;
 * the settlement submitter takes them out as ESG_ATTESTATION transactions
 * (kind 3) through this appliance's validator. Only the appliance that
 * received an attestation submits it.
 *
 * A ring of FAII_ATTEST_QUEUE_MAX messages, control thread only (no lock).
 * Full: the new message is dropped and counted; the registry has applied
 * it all the same (routing's ESG inputs), only the ledger misses it.
 */
#ifndef FAII_APPLIANCE_ATTEST_QUEUE_H
#define FAII_APPLIANCE_ATTEST_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/protocol.h"

#define FAII_ATTEST_QUEUE_MAX 1024u /* messages waiting for the validator's queue */
#define FAII_ATTEST_MSG_BYTES (FAII_HDR_SIZE + FAII_ATTEST_BODY_SIZE) /* 140 */

struct faii_attest_queue_counters {
	uint64_t queued;        /* accepted ATTEST messages put in the ring */
	uint64_t dropped_full;  /* the ring was full */
	uint64_t submitted;     /* handed to the validator as kind 3 transactions */
	uint64_t submit_busy;   /* the validator's queue was full: kept, tried again */
	uint64_t submit_failed; /* refused by the validator otherwise: dropped */
};

struct faii_attest_queue {
	bool enabled; /* a validator runs: attestations go to the ledger */
	uint8_t (*msg)[FAII_ATTEST_MSG_BYTES];
	uint32_t head, count;
	struct faii_attest_queue_counters counters;
};

/* 0, or -ENOMEM. Starts disabled. */
int faii_attest_queue_init(struct faii_attest_queue *q);
void faii_attest_queue_fini(struct faii_attest_queue *q);
/* Takes one accepted ATTEST (len FAII_ATTEST_MSG_BYTES) when enabled:
 * true when queued. */
bool faii_attest_queue_push(struct faii_attest_queue *q, const uint8_t *msg, uint32_t len);
/* The oldest message, or NULL when empty; pop removes it. */
const uint8_t *faii_attest_queue_peek(const struct faii_attest_queue *q);
void faii_attest_queue_pop(struct faii_attest_queue *q);

#endif /* FAII_APPLIANCE_ATTEST_QUEUE_H */
