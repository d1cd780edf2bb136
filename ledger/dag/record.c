/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal's records read back for operators: see include/faii/dag_record.h. */
#include <errno.h>
#include <string.h>

#include "faii/dag_record.h"
#include "wire.h"

#define VOTE_RECORD_BYTES   (8u + 4u + FAII_DAG_DIGEST_BYTES)
#define COMMIT_RECORD_BYTES (8u + 4u + 8u)

/*
 * A vertex message's signed header; with_payload: the whole message (its
 * batch included), else cut just before the batch (an equivocation
 * proof's half).
 */
static int read_vertex(const uint8_t *bytes, uint32_t len, bool with_payload,
                       struct faii_dag_vertex_info *vertex)
{
	uint64_t epoch = 0;
	if (len < DAG_VERTEX_FIXED_BYTES || dag_wire_type(bytes, len, &epoch) != DAG_MESSAGE_VERTEX)
		return -EBADMSG;
	const uint8_t *at = bytes + DAG_WIRE_HEADER_BYTES;
	*vertex = (struct faii_dag_vertex_info){
	        .epoch = epoch,
	        .round = faii_get_le64(at),
	        .author = faii_get_le32(at + 8),
	        .tx_count = faii_get_le32(at + 12),
	        .payload_bytes = faii_get_le32(at + 16),
	        .parent_mask = faii_get_le64(at + 20),
	};
	uint64_t header_bytes = dag_vertex_payload_offset(vertex->parent_mask);
	uint64_t expected = header_bytes + (with_payload ? vertex->payload_bytes : 0);
	if (expected != len || vertex->round == 0 || vertex->author >= FAII_VALIDATORS_MAX)
		return -EBADMSG;
	dag_wire_vertex_digest(
	        epoch, at,
	        (uint32_t)(header_bytes - FAII_DAG_SIGNATURE_BYTES - DAG_WIRE_HEADER_BYTES),
	        vertex->digest);
	return 0;
}

int faii_dag_record_own_vertex(const uint8_t *bytes, uint32_t len,
                               struct faii_dag_vertex_info *vertex)
{
	return read_vertex(bytes, len, true, vertex);
}

int faii_dag_record_certified(const uint8_t *bytes, uint32_t len,
                              struct faii_dag_certified_info *certified)
{
	if (len < 4 || faii_get_le32(bytes) > len - 4)
		return -EBADMSG;
	uint32_t vertex_bytes = faii_get_le32(bytes);
	int rc = read_vertex(bytes + 4, vertex_bytes, true, &certified->vertex);
	if (rc != 0)
		return rc;
	struct dag_certificate certificate;
	if (dag_wire_decode_certificate(bytes + 4 + vertex_bytes, len - 4 - vertex_bytes,
	                                FAII_VALIDATORS_MAX, 1, NULL,
	                                &certificate) != DAG_WIRE_OK ||
	    certificate.round != certified->vertex.round ||
	    certificate.author != certified->vertex.author ||
	    certificate.epoch != certified->vertex.epoch ||
	    memcmp(certificate.digest, certified->vertex.digest, FAII_DAG_DIGEST_BYTES) != 0)
		return -EBADMSG;
	certified->signer_mask = certificate.signer_mask;
	return 0;
}

int faii_dag_record_vote(const uint8_t *bytes, uint32_t len, struct faii_dag_vote_info *vote)
{
	if (len != VOTE_RECORD_BYTES)
		return -EBADMSG;
	vote->round = faii_get_le64(bytes);
	vote->author = faii_get_le32(bytes + 8);
	memcpy(vote->digest, bytes + 12, FAII_DAG_DIGEST_BYTES);
	return 0;
}

int faii_dag_record_commit(const uint8_t *bytes, uint32_t len, struct faii_dag_commit_info *commit)
{
	if (len != COMMIT_RECORD_BYTES)
		return -EBADMSG;
	commit->anchor_round = faii_get_le64(bytes);
	commit->anchor_author = faii_get_le32(bytes + 8);
	commit->sequence = faii_get_le64(bytes + 12);
	return 0;
}

int faii_dag_record_evidence(const uint8_t *bytes, uint32_t len,
                             struct faii_dag_evidence_info *evidence)
{
	if (len < 8 || faii_get_le32(bytes) > len - 8)
		return -EBADMSG;
	uint32_t first_bytes = faii_get_le32(bytes);
	const uint8_t *second = bytes + 4 + first_bytes + 4;
	uint32_t second_bytes = faii_get_le32(second - 4);
	if (second_bytes != len - 8 - first_bytes)
		return -EBADMSG;
	int rc = read_vertex(bytes + 4, first_bytes, false, &evidence->first);
	if (rc == 0)
		rc = read_vertex(second, second_bytes, false, &evidence->second);
	return rc;
}

int faii_dag_record_signed_elsewhere(const uint8_t *bytes, uint32_t len, uint64_t *round)
{
	if (len != FAII_DAG_SIGNED_ELSEWHERE_RECORD_BYTES)
		return -EBADMSG;
	*round = faii_get_le64(bytes);
	return 0;
}

const char *faii_dag_record_name(uint8_t type)
{
	switch (type) {
	case FAII_DAG_RECORD_OWN_VERTEX: return "own_vertex";
	case FAII_DAG_RECORD_VOTE: return "vote";
	case FAII_DAG_RECORD_CERTIFIED: return "certified";
	case FAII_DAG_RECORD_COMMIT: return "commit";
	case FAII_DAG_RECORD_EVIDENCE: return "evidence";
	case FAII_DAG_RECORD_SIGNED_ELSEWHERE: return "signed_elsewhere";
	default: return "unknown";
	}
}
