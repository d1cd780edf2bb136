/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recovery: the validator's state rebuilt from its journal at open. The
 * records are replayed in the order they were appended, through the same
 * code that handled them live (nothing is sent, appended or voted while
 * replaying), so the DAG, the commits and the window come back exactly;
 * each COMMIT record is checked against the commit the replay re-derives.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "faii/assert.h"
#include "faii/dag_record.h"
#include "wire.h"

struct replay {
	struct faii_dag *dag;
	char *err;
	size_t err_bytes;
	uint64_t records;
};

static int replay_fail(struct replay *replay, const char *what)
{
	snprintf(replay->err, replay->err_bytes, "dag: journal record %" PRIu64 ": %s",
	         replay->records, what);
	return -EIO;
}

static int replay_own_vertex(struct replay *replay, const uint8_t *bytes, uint32_t len)
{
	struct faii_dag *dag = replay->dag;
	struct dag_vertex vertex;
	if (dag_wire_decode_vertex(bytes, len, dag->config.validator_count, dag->quorum, &vertex) !=
	            DAG_WIRE_OK ||
	    vertex.author != dag->config.self || vertex.epoch != dag->config.epoch)
		return replay_fail(replay, "an own vertex that does not decode");
	if (vertex.round > dag->proposed_round)
		dag->proposed_round = vertex.round;
	if (!dag_graph_holds(&dag->graph, vertex.round))
		return 0; /* collected since */
	struct dag_slot *slot = dag_slot(dag, vertex.round, vertex.author);
	if (slot->vertex == NULL)
		dag_store_vertex(dag, slot, bytes, len, vertex.digest, vertex.parent_mask);
	slot->voted = true;
	memcpy(slot->voted_digest, vertex.digest, FAII_DAG_DIGEST_BYTES);
	return 0;
}

static int replay_vote(struct replay *replay, const uint8_t *bytes, uint32_t len)
{
	struct faii_dag *dag = replay->dag;
	if (len != 8 + 4 + FAII_DAG_DIGEST_BYTES ||
	    faii_get_le32(bytes + 8) >= dag->config.validator_count)
		return replay_fail(replay, "a vote record of the wrong size");
	uint64_t round = faii_get_le64(bytes);
	if (!dag_graph_holds(&dag->graph, round))
		return 0;
	struct dag_slot *slot = dag_slot(dag, round, faii_get_le32(bytes + 8));
	slot->voted = true;
	memcpy(slot->voted_digest, bytes + 12, FAII_DAG_DIGEST_BYTES);
	return 0;
}

static int replay_certified(struct replay *replay, const uint8_t *bytes, uint32_t len)
{
	struct faii_dag *dag = replay->dag;
	struct dag_vertex vertex;
	struct dag_certificate certificate;
	uint32_t vertex_bytes = len >= 4 ? faii_get_le32(bytes) : 0;
	if (len < 4 || vertex_bytes > len - 4 ||
	    dag_wire_decode_vertex(bytes + 4, vertex_bytes, dag->config.validator_count,
	                           dag->quorum, &vertex) != DAG_WIRE_OK ||
	    dag_wire_decode_certificate(bytes + 4 + vertex_bytes, len - 4 - vertex_bytes,
	                                dag->config.validator_count, dag->quorum, NULL,
	                                &certificate) != DAG_WIRE_OK ||
	    memcmp(vertex.digest, certificate.digest, FAII_DAG_DIGEST_BYTES) != 0 ||
	    vertex.round != certificate.round || vertex.author != certificate.author)
		return replay_fail(replay, "a certified vertex that does not decode");
	if (!dag_graph_holds(&dag->graph, vertex.round))
		return 0;
	struct dag_slot *slot = dag_slot(dag, vertex.round, vertex.author);
	if (slot->journaled)
		return replay_fail(replay, "a vertex certified twice");
	if (slot->vertex != NULL && memcmp(slot->digest, vertex.digest, FAII_DAG_DIGEST_BYTES) != 0)
		return replay_fail(replay, "a certified vertex that differs from the own one");
	if (slot->vertex == NULL)
		dag_store_vertex(dag, slot, bytes + 4, vertex_bytes, vertex.digest,
		                 vertex.parent_mask);
	dag_store_certificate(dag, slot, bytes + 4 + vertex_bytes, len - 4 - vertex_bytes,
	                      certificate.digest);
	slot->journaled = true;
	dag->stats.certificates_accepted++;
	dag_insert_ready(dag);
	dag_finish(dag);
	return 0;
}

static int replay_commit(struct replay *replay, const uint8_t *bytes, uint32_t len)
{
	struct faii_dag *dag = replay->dag;
	if (len != 8 + 4 + 8)
		return replay_fail(replay, "a commit record of the wrong size");
	uint64_t anchor_round = faii_get_le64(bytes);
	uint64_t sequence = faii_get_le64(bytes + 12);
	if (anchor_round > dag->graph.last_committed_anchor)
		return replay_fail(replay, "a commit the replayed DAG does not reach");
	if (anchor_round == dag->graph.last_committed_anchor &&
	    sequence != dag->last_anchor_sequence)
		return replay_fail(replay, "a commit at another sequence than replayed");
	return 0;
}

static int replay_signed_elsewhere(struct replay *replay, const uint8_t *bytes, uint32_t len)
{
	uint64_t round;
	if (faii_dag_record_signed_elsewhere(bytes, len, &round) != 0)
		return replay_fail(replay, "a signed-elsewhere record of the wrong size");
	if (round > replay->dag->round_signed_elsewhere)
		replay->dag->round_signed_elsewhere = round;
	return 0;
}

static int replay_record(void *arg, uint8_t type, const uint8_t *bytes, uint32_t len)
{
	struct replay *replay = arg;
	replay->records++;
	switch (type) {
	case FAII_DAG_RECORD_OWN_VERTEX: return replay_own_vertex(replay, bytes, len);
	case FAII_DAG_RECORD_VOTE: return replay_vote(replay, bytes, len);
	case FAII_DAG_RECORD_CERTIFIED: return replay_certified(replay, bytes, len);
	case FAII_DAG_RECORD_COMMIT: return replay_commit(replay, bytes, len);
	case FAII_DAG_RECORD_EVIDENCE: replay->dag->stats.equivocations++; return 0;
	case FAII_DAG_RECORD_SIGNED_ELSEWHERE: return replay_signed_elsewhere(replay, bytes, len);
	default: return replay_fail(replay, "an unknown record type");
	}
}

int dag_replay(struct faii_dag *dag, char *err, size_t err_bytes)
{
	struct replay replay = {.dag = dag, .err = err, .err_bytes = err_bytes};
	dag->replaying = true;
	int rc = dag->journal->replay(dag->journal, replay_record, &replay);
	dag->replaying = false;
	if (rc != 0) {
		if (replay.records == 0 || err[0] == '\0')
			snprintf(err, err_bytes, "dag: journal replay failed (%d)", rc);
		return rc < 0 ? rc : -EIO;
	}
	dag->stats.round = dag->proposed_round;
	dag->stats.author_round[dag->config.self] = dag->proposed_round;
	dag->round_seen = dag->graph.round_high;
	if (dag->proposed_round > 0 && dag_graph_holds(&dag->graph, dag->proposed_round)) {
		struct dag_slot *own = dag_slot(dag, dag->proposed_round, dag->config.self);
		if (own->vertex != NULL && own->certificate == NULL)
			dag_own_vote(dag, own); /* collect votes again; peers resend theirs */
	}
	dag_insert_ready(dag); /* votes that replay could not cast */
	dag_finish(dag);
	return 0;
}
