/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consensus journal's records read back for operators: `faii-ledger
 * dump`, `faiictl dag vertex` and `faiictl dag evidence` show what a
 * validator recorded (include/faii/dag.h, enum faii_dag_record_type;
 * docs/consensus.md, "Persistence before action").
 *
 * The decoders check layout and lengths only: records come from a file, so
 * a damaged one is refused (-EBADMSG), never trusted. They check no
 * signature: an equivocation proof is checked offline by
 * faii_dag_evidence_verify() where it is built in.
 *
 * Error convention: 0, or -EBADMSG when the bytes are not such a record.
 */
#ifndef FAII_DAG_RECORD_H
#define FAII_DAG_RECORD_H

#include <stdint.h>

#include "faii/dag.h"

/* A vertex's signed header, as recorded (OWN_VERTEX, CERTIFIED, EVIDENCE). */
struct faii_dag_vertex_info {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint32_t tx_count;
	uint32_t payload_bytes;                /* the batch's bytes */
	uint64_t parent_mask;                  /* bit a: a parent from author a of round - 1 */
	uint8_t digest[FAII_DAG_DIGEST_BYTES]; /* what the author signed */
};

/* OWN_VERTEX: one whole vertex message. */
int faii_dag_record_own_vertex(const uint8_t *bytes, uint32_t len,
                               struct faii_dag_vertex_info *vertex);

/* CERTIFIED: the vertex and its certificate, which must name it. */
struct faii_dag_certified_info {
	struct faii_dag_vertex_info vertex;
	uint64_t signer_mask; /* bit v: validator v's vote is in the certificate */
};
int faii_dag_record_certified(const uint8_t *bytes, uint32_t len,
                              struct faii_dag_certified_info *certified);

/* VOTE: the (round, author, digest) this validator voted for. */
struct faii_dag_vote_info {
	uint64_t round;
	uint32_t author;
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
};
int faii_dag_record_vote(const uint8_t *bytes, uint32_t len, struct faii_dag_vote_info *vote);

/* COMMIT: an anchor committed at a sequence of the committed output. */
struct faii_dag_commit_info {
	uint64_t anchor_round;
	uint32_t anchor_author;
	uint64_t sequence;
};
int faii_dag_record_commit(const uint8_t *bytes, uint32_t len, struct faii_dag_commit_info *commit);

/* SIGNED_ELSEWHERE: the round (u64) its key signed without it. */
#define FAII_DAG_SIGNED_ELSEWHERE_RECORD_BYTES 8u
int faii_dag_record_signed_elsewhere(const uint8_t *bytes, uint32_t len, uint64_t *round);

/* EVIDENCE: two signed headers of one author for one round. */
struct faii_dag_evidence_info {
	struct faii_dag_vertex_info first;
	struct faii_dag_vertex_info second;
};
int faii_dag_record_evidence(const uint8_t *bytes, uint32_t len,
                             struct faii_dag_evidence_info *evidence);

/* "own_vertex", "vote", "certified", "commit", "evidence"; "unknown". */
const char *faii_dag_record_name(uint8_t type);

#endif /* FAII_DAG_RECORD_H */
