/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests only: a Byzantine validator's lies, told on the way out. The tap
 * sits between the consensus core and its transport (as tests/sim's
 * Byzantine tap does) and changes what leaves, never what the core
 * believes or journals: see enum faii_validator_lie (faii/validator.h).
 * Internal to ledger/dag/.
 */
#ifndef FAII_LEDGER_DAG_BYZANTINE_H
#define FAII_LEDGER_DAG_BYZANTINE_H

#include <stdint.h>

#include "faii/dag.h"
#include "faii/transport.h"

struct dag_byzantine {
	struct faii_transport transport;               /* what the core sends through */
	struct faii_transport *inner;                  /* where the messages, true or not, go */
	uint32_t lies;                                 /* enum faii_validator_lie bits */
	uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES]; /* to sign the twins */
	uint8_t *scratch; /* one message being forged, then its twin's batch */
	uint64_t told;    /* lies that left */
};

/* 0 or -ENOMEM; the tap keeps a copy of the secret key until fini. */
int dag_byzantine_init(struct dag_byzantine *tap, struct faii_transport *inner, uint32_t lies,
                       const uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES]);
void dag_byzantine_fini(struct dag_byzantine *tap);

#endif /* FAII_LEDGER_DAG_BYZANTINE_H */
