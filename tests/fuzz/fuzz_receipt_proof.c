/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the receipt proof file (appliance/receipt_proof.c),
 * which `faiictl receipt verify FILE` reads from anyone: every input is
 * parsed and verified. The parser must refuse what is not a proof with a
 * message, never crash or leak; what it accepts must be in the bounds the
 * verifier relies on, must verify or be refused, and must come out of its
 * own JSON the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receipt_proof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faii_receipt_proof p;
	char err[256];
	if (faii_receipt_proof_parse((const char *)data, size, &p, err, sizeof(err)) != 0) {
		CHECK(err[0] != '\0');
		return 0;
	}
	CHECK(p.proof.count >= 1 && p.proof.count <= FAII_SETTLE_LEAVES_MAX);
	CHECK(p.proof.index < p.proof.count);
	CHECK(p.proof.depth <= FAII_SETTLE_PROOF_DEPTH_MAX);
	struct faii_settle_receipt r;
	enum faii_settle_receipt_refusal reason;
	CHECK(faii_settle_receipt_decode(p.leaf, &r, &reason) == 0);
	bool verified = faii_settle_receipt_verify(p.leaf, &p.proof, p.root) == 0;
	/* What it accepted, written out again, reads back the same. */
	json_t *again = faii_receipt_proof_json(&p, 1);
	char *text = json_dumps(again, JSON_COMPACT);
	json_decref(again);
	CHECK(text != NULL);
	struct faii_receipt_proof q;
	CHECK(faii_receipt_proof_parse(text, strlen(text), &q, err, sizeof(err)) == 0);
	free(text);
	CHECK(memcmp(q.leaf, p.leaf, sizeof(p.leaf)) == 0 && memcmp(q.root, p.root, 32) == 0);
	CHECK(q.proof.index == p.proof.index && q.proof.count == p.proof.count &&
	      q.proof.depth == p.proof.depth && q.slice == p.slice);
	CHECK((faii_settle_receipt_verify(q.leaf, &q.proof, q.root) == 0) == verified);
	return 0;
}
