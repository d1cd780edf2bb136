/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A payout proof as JSON (docs/settlement.md, "Payout proofs"): what
 * `faiictl payout proof` prints and `faiictl payout verify FILE` checks
 * offline, without an appliance. One encoder and one decoder so that the
 * two sides cannot drift.
 */
#ifndef FAII_APPLIANCE_SETTLE_JSON_H
#define FAII_APPLIANCE_SETTLE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "faii/settle.h"

/* {"epoch", "operator", "node", "amount", "cumulative", "leaf" (hex), "index",
 *  "count", "siblings" [hex], "root" (hex)} */
json_t *faii_settle_proof_to_json(const struct faii_settle_payout_leaf *leaf,
                                  const struct faii_settle_proof *proof,
                                  const uint8_t root[FAII_SETTLE_HASH_BYTES]);

/*
 * Decodes a proof; 0, or -EINVAL with the offending field named in err.
 * The leaf's fields and its "leaf" bytes must agree.
 */
int faii_settle_proof_from_json(json_t *object, struct faii_settle_payout_leaf *leaf,
                                uint8_t leaf_bytes[FAII_SETTLE_LEAF_BYTES],
                                struct faii_settle_proof *proof,
                                uint8_t root[FAII_SETTLE_HASH_BYTES], char *err, size_t err_bytes);

#endif /* FAII_APPLIANCE_SETTLE_JSON_H */
