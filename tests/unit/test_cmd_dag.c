/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dag.evidence over a real ledger store (appliance/cmd_dag.c): an
 * equivocation proof made of two vertices one author signed for one round
 * is found through its digest key, decoded, and verified against the
 * committee's keys; a proof whose signature was altered is listed with
 * verified false and the reason; another epoch's proof is not listed.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "consensus.h"
#include "wire.h"

#define EPOCH 5u

static uint8_t secret_keys[4][FAII_DAG_SECRET_KEY_BYTES];
static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];

/* Author 2's signed header of round 7 with a batch tagged `tag`, cut
 * before the batch, appended to proof at *len. */
static void add_header(uint8_t *proof, uint32_t *len, uint8_t tag, uint64_t epoch)
{
	uint8_t parents[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES] = {{0}};
	uint8_t payload[5] = {1, 0, 0, 0, tag};
	struct dag_vertex_draft draft = {
	        .epoch = epoch,
	        .round = 7,
	        .author = 2,
	        .parent_mask = 0x7,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parents,
	        .payload = payload,
	        .payload_bytes = sizeof(payload),
	        .tx_count = 1,
	};
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	dag_wire_encode_vertex(&draft, secret_keys[2], message, digest);
	uint32_t header_bytes = dag_vertex_payload_offset(0x7);
	faii_put_le32(proof + *len, header_bytes);
	memcpy(proof + *len + 4, message, header_bytes);
	*len += 4 + header_bytes;
}

static void append_proof(struct faii_dag_store_journal *journal, bool forged, uint64_t epoch)
{
	uint8_t proof[2048];
	uint32_t len = 0;
	add_header(proof, &len, 'a', epoch);
	add_header(proof, &len, 'b', epoch);
	if (forged)
		proof[len - 1] ^= 1; /* the second signature's last byte */
	cr_assert_eq(
	        journal->journal.append(&journal->journal, FAII_DAG_RECORD_EVIDENCE, 0, proof, len),
	        0);
}

Test(cmd_dag, evidence_listed_and_verified)
{
	cr_assert_geq(sodium_init(), 0);
	char dir[] = "/tmp/faii-cmd-dag-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct faii_ls_options options = {.dir = dir, .index_entries_max = 1024};
	char err[FAII_LS_ERR_LEN];
	struct faii_ls *store = NULL;
	cr_assert_eq(faii_ls_open(&options, &store, err), 0, "%s", err);

	static struct faii_consensus consensus;
	consensus.store = store;
	consensus.epoch = EPOCH;
	consensus.validator_count = 4;
	for (uint32_t v = 0; v < 4; v++) {
		uint8_t seed[32] = {(uint8_t)(v + 1)};
		crypto_sign_seed_keypair(consensus.public_keys[v], secret_keys[v], seed);
		consensus.member_ids[v] = 10 * (v + 1);
	}
	/* dag.evidence reads the store and the committee only: the validator
	 * thread is not needed, any non-NULL handle says one is configured. */
	consensus.validator = (struct faii_validator *)&consensus;

	struct faii_dag_store_journal journal, other_epoch;
	cr_assert_eq(faii_dag_store_journal_init(&journal, store, EPOCH), 0);
	cr_assert_eq(faii_dag_store_journal_init(&other_epoch, store, EPOCH + 1), 0);
	append_proof(&journal, false, EPOCH);
	append_proof(&other_epoch, false, EPOCH + 1);
	append_proof(&journal, true, EPOCH);
	cr_assert_eq(journal.journal.sync(&journal.journal), 0);

	struct faii_control control = {.consensus = &consensus};
	struct faii_ctl_error ctl_err = {0};
	json_t *result = cmd_dag_evidence(&control, NULL, &ctl_err);
	cr_assert_not_null(result, "%s", ctl_err.message);
	cr_expect_eq(json_integer_value(json_object_get(result, "found")), 2);
	json_t *proofs = json_object_get(result, "proofs");
	cr_assert_eq(json_array_size(proofs), 2);
	json_t *good = json_array_get(proofs, 0), *forged = json_array_get(proofs, 1);
	cr_expect_eq(json_integer_value(json_object_get(good, "round")), 7);
	cr_expect_eq(json_integer_value(json_object_get(good, "author")), 2);
	cr_expect_eq(json_integer_value(json_object_get(good, "author_id")), 30);
	cr_expect(json_is_true(json_object_get(good, "verified")));
	cr_expect_null(json_object_get(good, "verify_error"));
	cr_expect_str_neq(json_string_value(json_object_get(good, "first_digest")),
	                  json_string_value(json_object_get(good, "second_digest")));
	cr_expect(json_is_false(json_object_get(forged, "verified")));
	cr_expect_str_eq(json_string_value(json_object_get(forged, "verify_error")),
	                 "a signature does not hold");
	json_decref(result);

	/* Without a validator: the operator is told so. */
	consensus.validator = NULL;
	cr_expect_null(cmd_dag_evidence(&control, NULL, &ctl_err));
	cr_expect_str_eq(ctl_err.code, "unavailable");

	faii_dag_store_journal_fini(&journal);
	faii_dag_store_journal_fini(&other_epoch);
	faii_ls_close(store);
	char command[64];
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	cr_expect_eq(system(command), 0);
}
