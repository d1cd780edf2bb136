/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's records read back for operators (include/faii/dag_record.h):
 * a certified vertex, an own vertex, a vote, a commit and an equivocation
 * proof built with the validator's own encoders decode to their fields and
 * digests; every truncation and a certificate of another vertex are refused.
 * The journal in the ledger store finds an epoch's proofs by their digest key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/dag_record.h"
#include "faii/validator.h"
#include "wire.h"

#define EPOCH 3u

static uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES];
static uint8_t vertex[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
static uint8_t certificate[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
static uint8_t record[2 * FAII_TRANSPORT_MESSAGE_BYTES_MAX];

/* Round 5 by author 1 over parents 0, 2, 3, carrying two transactions. */
static uint32_t make_vertex(uint8_t tag, uint8_t digest[FAII_DAG_DIGEST_BYTES])
{
	uint8_t parents[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	memset(parents, tag, sizeof(parents));
	uint8_t payload[4 + 3 + 4 + 1] = {3, 0, 0, 0, 'a', 'b', tag, 1, 0, 0, 0, 'z'};
	struct dag_vertex_draft draft = {
	        .epoch = EPOCH,
	        .round = 5,
	        .author = 1,
	        .parent_mask = 0xd,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parents,
	        .payload = payload,
	        .payload_bytes = sizeof(payload),
	        .tx_count = 2,
	};
	return dag_wire_encode_vertex(&draft, secret_key, vertex, digest);
}

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	uint8_t public_key[FAII_DAG_PUBLIC_KEY_BYTES], seed[32] = {7};
	crypto_sign_seed_keypair(public_key, secret_key, seed);
}

TestSuite(dag_record, .init = setup);

static void expect_vertex(const struct faii_dag_vertex_info *v, const uint8_t *digest)
{
	cr_expect_eq(v->epoch, EPOCH);
	cr_expect_eq(v->round, 5);
	cr_expect_eq(v->author, 1);
	cr_expect_eq(v->parent_mask, 0xd);
	cr_expect_eq(v->tx_count, 2);
	cr_expect_eq(v->payload_bytes, 12);
	cr_expect_eq(memcmp(v->digest, digest, FAII_DAG_DIGEST_BYTES), 0, "the signed digest");
}

Test(dag_record, certified_and_own_vertex)
{
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	uint32_t vertex_bytes = make_vertex(1, digest);
	uint8_t signatures[FAII_VALIDATORS_MAX][FAII_DAG_SIGNATURE_BYTES] = {{0}};
	uint32_t certificate_bytes = dag_wire_encode_certificate(
	        EPOCH, 5, 1, digest, 0x7, (const uint8_t(*)[FAII_DAG_SIGNATURE_BYTES])signatures,
	        certificate);
	faii_put_le32(record, vertex_bytes);
	memcpy(record + 4, vertex, vertex_bytes);
	memcpy(record + 4 + vertex_bytes, certificate, certificate_bytes);
	uint32_t len = 4 + vertex_bytes + certificate_bytes;
	struct faii_dag_certified_info certified;
	cr_assert_eq(faii_dag_record_certified(record, len, &certified), 0);
	expect_vertex(&certified.vertex, digest);
	cr_expect_eq(certified.signer_mask, 0x7);
	for (uint32_t cut = 0; cut < len; cut++)
		cr_expect_eq(faii_dag_record_certified(record, cut, &certified), -EBADMSG,
		             "cut to %u bytes", cut);
	struct faii_dag_vertex_info own;
	cr_assert_eq(faii_dag_record_own_vertex(vertex, vertex_bytes, &own), 0);
	expect_vertex(&own, digest);
	cr_expect_eq(faii_dag_record_own_vertex(vertex, vertex_bytes - 1, &own), -EBADMSG);
	/* A certificate for another digest does not certify this vertex. */
	record[4 + vertex_bytes + DAG_WIRE_HEADER_BYTES + 24] ^= 1;
	cr_expect_eq(faii_dag_record_certified(record, len, &certified), -EBADMSG);
}

Test(dag_record, evidence)
{
	uint8_t first_digest[FAII_DAG_DIGEST_BYTES], second_digest[FAII_DAG_DIGEST_BYTES];
	uint32_t header_bytes = dag_vertex_payload_offset(0xd);
	make_vertex(1, first_digest);
	faii_put_le32(record, header_bytes);
	memcpy(record + 4, vertex, header_bytes);
	make_vertex(2, second_digest);
	faii_put_le32(record + 4 + header_bytes, header_bytes);
	memcpy(record + 8 + header_bytes, vertex, header_bytes);
	uint32_t len = 8 + 2 * header_bytes;
	struct faii_dag_evidence_info evidence;
	cr_assert_eq(faii_dag_record_evidence(record, len, &evidence), 0);
	expect_vertex(&evidence.first, first_digest);
	expect_vertex(&evidence.second, second_digest);
	cr_expect_neq(memcmp(first_digest, second_digest, FAII_DAG_DIGEST_BYTES), 0);
	for (uint32_t cut = 0; cut < len; cut++)
		cr_expect_eq(faii_dag_record_evidence(record, cut, &evidence), -EBADMSG,
		             "cut to %u bytes", cut);
}

Test(dag_record, vote_and_commit)
{
	uint8_t bytes[8 + 4 + FAII_DAG_DIGEST_BYTES];
	faii_put_le64(bytes, 12);
	faii_put_le32(bytes + 8, 3);
	memset(bytes + 12, 0xab, FAII_DAG_DIGEST_BYTES);
	struct faii_dag_vote_info vote;
	cr_assert_eq(faii_dag_record_vote(bytes, sizeof(bytes), &vote), 0);
	cr_expect_eq(vote.round, 12);
	cr_expect_eq(vote.author, 3);
	cr_expect_eq(vote.digest[31], 0xab);
	cr_expect_eq(faii_dag_record_vote(bytes, sizeof(bytes) - 1, &vote), -EBADMSG);
	uint8_t commit_bytes[8 + 4 + 8];
	faii_put_le64(commit_bytes, 10);
	faii_put_le32(commit_bytes + 8, 2);
	faii_put_le64(commit_bytes + 12, 77);
	struct faii_dag_commit_info commit;
	cr_assert_eq(faii_dag_record_commit(commit_bytes, sizeof(commit_bytes), &commit), 0);
	cr_expect_eq(commit.anchor_round, 10);
	cr_expect_eq(commit.anchor_author, 2);
	cr_expect_eq(commit.sequence, 77);
	cr_expect_eq(faii_dag_record_commit(commit_bytes, sizeof(commit_bytes) + 1, &commit),
	             -EBADMSG);
	cr_expect_str_eq(faii_dag_record_name(FAII_DAG_RECORD_CERTIFIED), "certified");
	cr_expect_str_eq(faii_dag_record_name(99), "unknown");
	uint8_t elsewhere[FAII_DAG_SIGNED_ELSEWHERE_RECORD_BYTES + 1];
	faii_put_le64(elsewhere, 41);
	uint64_t round = 0;
	cr_assert_eq(faii_dag_record_signed_elsewhere(elsewhere, 8, &round), 0);
	cr_expect_eq(round, 41);
	cr_expect_eq(faii_dag_record_signed_elsewhere(elsewhere, 9, &round), -EBADMSG);
	cr_expect_eq(faii_dag_record_signed_elsewhere(elsewhere, 7, &round), -EBADMSG);
	cr_expect_str_eq(faii_dag_record_name(FAII_DAG_RECORD_SIGNED_ELSEWHERE),
	                 "signed_elsewhere");
}

/* The journal in the ledger store finds an epoch's proofs by their digest
 * key, and only them: other records and other epochs are not under it. */
Test(dag_record, evidence_found_by_its_key)
{
	char dir[] = "/tmp/faii-dag-record-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct faii_ls_options options = {.dir = dir, .index_entries_max = 1024};
	char err[FAII_LS_ERR_LEN];
	struct faii_ls *store = NULL;
	cr_assert_eq(faii_ls_open(&options, &store, err), 0, "%s", err);
	struct faii_dag_store_journal epoch3, epoch4;
	cr_assert_eq(faii_dag_store_journal_init(&epoch3, store, EPOCH), 0);
	cr_assert_eq(faii_dag_store_journal_init(&epoch4, store, EPOCH + 1), 0);
	uint8_t bytes[64] = {1};
	struct faii_dag_journal *j3 = &epoch3.journal, *j4 = &epoch4.journal;
	cr_assert_eq(j3->append(j3, FAII_DAG_RECORD_VOTE, 0, bytes, 44), 0);
	cr_assert_eq(j3->append(j3, FAII_DAG_RECORD_EVIDENCE, 0, bytes, 64), 0);
	cr_assert_eq(j4->append(j4, FAII_DAG_RECORD_EVIDENCE, 0, bytes, 64), 0);
	cr_assert_eq(j3->append(j3, FAII_DAG_RECORD_COMMIT, 0, bytes, 20), 0);
	cr_assert_eq(j3->append(j3, FAII_DAG_RECORD_EVIDENCE, 0, bytes, 64), 0);
	cr_assert_eq(j3->sync(j3), 0);
	uint8_t key[FAII_LS_DIGEST_SIZE], other[FAII_LS_DIGEST_SIZE];
	faii_dag_evidence_key(EPOCH, key);
	faii_dag_evidence_key(EPOCH + 1, other);
	cr_expect_neq(memcmp(key, other, sizeof(key)), 0);
	uint64_t seqs[8];
	cr_assert_eq(faii_ls_find(store, FAII_LS_KEY_DIGEST, key, seqs, 8), 2);
	cr_expect_eq(seqs[0], 2);
	cr_expect_eq(seqs[1], 5);
	cr_assert_eq(faii_ls_find(store, FAII_LS_KEY_DIGEST, other, seqs, 8), 1);
	cr_expect_eq(seqs[0], 3);
	faii_dag_store_journal_fini(&epoch3);
	faii_dag_store_journal_fini(&epoch4);
	faii_ls_close(store);
	char command[64];
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	cr_expect_eq(system(command), 0);
}
