/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What fuzz_dag_message.c and its corpus generator make_corpus_dag.c share:
 * the committee (4 validators with fixed keys, the core is validator 0),
 * the seed DAG (rounds 1 and 2 complete and certified) and the input format.
 *
 * Input: byte 0 picks the mode.
 *   even  decoders only: byte 1 sets the committee size (1 + b % 64); the
 *         rest is one message, given to every decoder of ledger/dag/wire.h
 *         and to faii_dag_evidence_verify().
 *   odd   a core that holds the seed DAG (replayed from its journal) takes
 *         up to FUZZ_DAG_OPS_MAX operations, each an op byte (% FUZZ_DAG_OP_COUNT)
 *         then its operands (missing bytes read as 0):
 */
#ifndef FAII_FUZZ_DAG_H
#define FAII_FUZZ_DAG_H

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "faii/dag.h"
#include "wire.h"

enum fuzz_dag_op {
	FUZZ_DAG_OP_RAW,         /* from, len u16 (LE), bytes: any message */
	FUZZ_DAG_OP_VERTEX,      /* round, author, parents, flags, tx len, bytes: signed */
	FUZZ_DAG_OP_VOTE,        /* round, author, voter, flags: signed */
	FUZZ_DAG_OP_CERTIFICATE, /* round, author, signers, flags: signed by each */
	FUZZ_DAG_OP_FETCH,       /* from, round, rounds, authors */
	FUZZ_DAG_OP_TICK,        /* milliseconds - 1 */
	FUZZ_DAG_OP_SUBMIT,      /* len, bytes */
	FUZZ_DAG_OP_ECHO,        /* index, from: a message the core sent, back to it */
	FUZZ_DAG_OP_RESTART,     /* close; reopen on what the journal synced */
	FUZZ_DAG_OP_FAIL_SYNC,   /* every later sync of the journal fails */
	FUZZ_DAG_OP_COUNT
};

/* Flags of VERTEX, VOTE and CERTIFICATE. */
#define FUZZ_DAG_FLAG_OTHER_KEY    0x01u /* signed by the next validator's key */
#define FUZZ_DAG_FLAG_BAD_DIGEST   0x02u /* one referenced digest changed */
#define FUZZ_DAG_FLAG_NEXT_EPOCH   0x04u
#define FUZZ_DAG_FLAG_UNREMEMBERED 0x08u /* peers will not reference this vertex */

#define FUZZ_DAG_MODE_DECODERS 0u
#define FUZZ_DAG_MODE_CORE     1u

#define FUZZ_DAG_N           4u
#define FUZZ_DAG_SELF        0u
#define FUZZ_DAG_EPOCH       3u
#define FUZZ_DAG_SEED_ROUNDS 2u
#define FUZZ_DAG_OPS_MAX     96u
#define FUZZ_DAG_SEED_BYTES  1024u /* one seed message, at most */
#define FUZZ_DAG_ALL         ((1ull << FUZZ_DAG_N) - 1)

struct fuzz_dag_committee {
	uint8_t public_keys[FAII_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
	uint8_t secret_keys[FUZZ_DAG_N][FAII_DAG_SECRET_KEY_BYTES];
	/* The seed DAG, by round - 1 and author. */
	uint8_t vertex[FUZZ_DAG_SEED_ROUNDS][FUZZ_DAG_N][FUZZ_DAG_SEED_BYTES];
	uint32_t vertex_bytes[FUZZ_DAG_SEED_ROUNDS][FUZZ_DAG_N];
	uint8_t certificate[FUZZ_DAG_SEED_ROUNDS][FUZZ_DAG_N][FUZZ_DAG_SEED_BYTES];
	uint32_t certificate_bytes[FUZZ_DAG_SEED_ROUNDS][FUZZ_DAG_N];
	uint8_t digest[FUZZ_DAG_SEED_ROUNDS][FUZZ_DAG_N][FAII_DAG_DIGEST_BYTES];
};

/* A signed vote's signature, as a certificate carries it. */
static inline void fuzz_dag_vote_signature(const struct fuzz_dag_committee *committee,
                                           uint64_t epoch, uint64_t round, uint32_t author,
                                           uint32_t signer, const uint8_t *digest,
                                           uint8_t signature[FAII_DAG_SIGNATURE_BYTES])
{
	uint8_t vote[DAG_VOTE_BYTES];
	dag_wire_encode_vote(epoch, round, author, signer, digest, committee->secret_keys[signer],
	                     vote);
	memcpy(signature, vote + DAG_VOTE_BYTES - FAII_DAG_SIGNATURE_BYTES,
	       FAII_DAG_SIGNATURE_BYTES);
}

/* A certificate signed by the members in `signers` (others sign zeros). */
static inline uint32_t fuzz_dag_certificate(const struct fuzz_dag_committee *committee,
                                            uint64_t epoch, uint64_t round, uint32_t author,
                                            const uint8_t *digest, uint64_t signers, uint8_t *out)
{
	uint8_t signatures[FAII_VALIDATORS_MAX][FAII_DAG_SIGNATURE_BYTES];
	memset(signatures, 0, sizeof(signatures));
	for (uint32_t signer = 0; signer < FUZZ_DAG_N; signer++)
		if (signers & (1ull << signer))
			fuzz_dag_vote_signature(committee, epoch, round, author, signer, digest,
			                        signatures[signer]);
	return dag_wire_encode_certificate(epoch, round, author, digest, signers,
	                                   (const uint8_t(*)[FAII_DAG_SIGNATURE_BYTES])signatures,
	                                   out);
}

/* Fixed keys, and rounds 1 and 2: every author's vertex (one transaction,
 * all parents) with a certificate signed by validators 1, 2 and 3. */
static inline int fuzz_dag_committee_init(struct fuzz_dag_committee *committee)
{
	if (sodium_init() < 0)
		return -1;
	memset(committee, 0, sizeof(*committee));
	for (uint32_t i = 0; i < FUZZ_DAG_N; i++) {
		uint8_t seed[crypto_sign_SEEDBYTES];
		memset(seed, (int)(0x60 + i), sizeof(seed));
		crypto_sign_seed_keypair(committee->public_keys[i], committee->secret_keys[i],
		                         seed);
	}
	for (uint32_t round = 1; round <= FUZZ_DAG_SEED_ROUNDS; round++)
		for (uint32_t author = 0; author < FUZZ_DAG_N; author++) {
			uint8_t payload[4 + 8] = {8, 0, 0, 0, 's', 'e', 'e', 'd'};
			payload[9] = (uint8_t)round;
			payload[10] = (uint8_t)author;
			struct dag_vertex_draft draft = {
			        .epoch = FUZZ_DAG_EPOCH,
			        .round = round,
			        .author = author,
			        .parent_mask = round > 1 ? FUZZ_DAG_ALL : 0,
			        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])committee
			                                  ->digest[round > 1 ? round - 2 : 0],
			        .payload = payload,
			        .payload_bytes = sizeof(payload),
			        .tx_count = 1,
			};
			uint32_t r = round - 1;
			committee->vertex_bytes[r][author] = dag_wire_encode_vertex(
			        &draft, committee->secret_keys[author],
			        committee->vertex[r][author], committee->digest[r][author]);
			committee->certificate_bytes[r][author] =
			        fuzz_dag_certificate(committee, FUZZ_DAG_EPOCH, round, author,
			                             committee->digest[r][author], 0xe,
			                             committee->certificate[r][author]);
		}
	return 0;
}

#endif /* FAII_FUZZ_DAG_H */
