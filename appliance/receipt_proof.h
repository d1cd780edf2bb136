/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A routing receipt's proof as JSON (docs/settlement.md, "Work summaries
 * and receipts"): what receipt.proof answers and `faiictl receipt proof
 * --json` prints, and what `faiictl receipt verify FILE` reads back and
 * checks offline, with no appliance:
 *
 *   {"task_id": T, "slice": S, "slice_end_ms": E, "leaf_index": i,
 *    "leaf_count": n, "leaf": "<256 hex digits>", "path": ["<64 hex>", ...],
 *    "root": "<64 hex>", "receipt": {the leaf's fields, readable}, ...}
 *
 * The leaf is the evidence; "receipt" is its reading, and a file whose
 * reading differs from its leaf is refused. u64 values above 2^63 - 1 are
 * decimal strings (JSON integers stop there).
 *
 * Error convention: the parser returns 0, or -1 with a sentence in err
 * (the file is outside input: every field is checked, nothing asserted).
 */
#ifndef FAII_RECEIPT_PROOF_H
#define FAII_RECEIPT_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faii/settle_receipt.h"

#define FAII_RECEIPT_PROOF_FILE_BYTES_MAX 65536u /* a proof is about 2.5 KiB */

struct faii_receipt_proof {
	uint64_t slice;
	uint64_t slice_end_ms;
	uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
	struct faii_settle_proof proof; /* index, count, depth, siblings */
	uint8_t root[FAII_SETTLE_HASH_BYTES];
};

const char *faii_receipt_verdict_name(uint8_t verdict);
/* The leaf's fields as JSON (valid leaf: decoded first). */
json_t *faii_receipt_json(const struct faii_settle_receipt *receipt);
/* The whole proof; matches: how many receipts of that task id are kept. */
json_t *faii_receipt_proof_json(const struct faii_receipt_proof *proof, uint64_t matches);
/* Parses a proof (JSON text, len bytes). */
int faii_receipt_proof_parse(const char *text, size_t len, struct faii_receipt_proof *out,
                             char *err, size_t errlen);
/* Parses and verifies: 0 when the leaf hashes up to the root; -1 with err. */
int faii_receipt_proof_verify_text(const char *text, size_t len, struct faii_receipt_proof *out,
                                   char *err, size_t errlen);

#endif /* FAII_RECEIPT_PROOF_H */
