/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Persistence before action: what a handler wants to send or output waits
 * here until the journal has synced what the handler appended (core.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "faii/assert.h"
#include "wire.h"

int dag_outbox_init(struct faii_dag *dag)
{
	uint32_t slots = dag->config.window_rounds * dag->config.validator_count;
	dag->outgoing_max = FAII_DAG_OUTBOX_BYTES_MAX / 64;
	dag->output_max = slots;
	dag->outbox = malloc(FAII_DAG_OUTBOX_BYTES_MAX);
	dag->outgoing = calloc(dag->outgoing_max, sizeof(*dag->outgoing));
	dag->outputs = calloc(dag->output_max, sizeof(*dag->outputs));
	return dag->outbox && dag->outgoing && dag->outputs ? 0 : -1;
}

void dag_outbox_fini(struct faii_dag *dag)
{
	free(dag->outbox);
	free(dag->outgoing);
	free(dag->outputs);
}

void dag_stage_send(struct faii_dag *dag, uint32_t to, const uint8_t *bytes, uint32_t len)
{
	FAII_ASSERT(len > 0 && len <= dag->transport->message_bytes_max);
	FAII_ASSERT(to == DAG_BROADCAST ||
	            (to < dag->config.validator_count && to != dag->config.self));
	if (dag->replaying || dag->config.validator_count == 1)
		return;
	if (dag->outgoing_count == dag->outgoing_max ||
	    FAII_DAG_OUTBOX_BYTES_MAX - dag->outbox_bytes < len) {
		dag->stats.sends_dropped++;
		return;
	}
	memcpy(dag->outbox + dag->outbox_bytes, bytes, len);
	dag->outgoing[dag->outgoing_count++] =
	        (struct dag_outgoing){.to = to, .offset = dag->outbox_bytes, .len = len};
	dag->outbox_bytes += len;
}

void dag_journal_append(struct faii_dag *dag, uint8_t type, uint64_t key, const uint8_t *bytes,
                        uint32_t len)
{
	FAII_ASSERT(len > 0 && len <= FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	if (dag->replaying || dag->stats.failed)
		return;
	if (dag->journal->append(dag->journal, type, key, bytes, len) != 0)
		dag->stats.failed = true;
	dag->journal_dirty = true;
}

void dag_stage_output(struct faii_dag *dag, uint64_t anchor_round, uint64_t round, uint32_t author)
{
	FAII_ASSERT(dag->output_count < dag->output_max);
	dag->committed_sequence++;
	dag->outputs[dag->output_count++] = (struct dag_output){
	        .sequence = dag->committed_sequence,
	        .anchor_round = anchor_round,
	        .round = round,
	        .author = author,
	};
}

static void deliver(struct faii_dag *dag, const struct dag_output *output)
{
	struct dag_slot *slot = dag_slot(dag, output->round, output->author);
	FAII_ASSERT(slot->in_graph && slot->vertex != NULL);
	uint32_t payload_at = dag_vertex_payload_offset(slot->parent_mask);
	FAII_ASSERT(payload_at <= slot->vertex_bytes);
	struct faii_dag_commit commit = {
	        .sequence = output->sequence,
	        .anchor_round = output->anchor_round,
	        .round = output->round,
	        .author = output->author,
	        .transactions = slot->vertex + payload_at,
	        .transactions_bytes = slot->vertex_bytes - payload_at,
	        .tx_count = dag_vertex_tx_count(slot->vertex),
	        .proposed_ns = slot->proposed_ns,
	};
	memcpy(commit.digest, slot->digest, sizeof(commit.digest));
	dag->stats.committed_vertices = output->sequence;
	dag->stats.committed_transactions += commit.tx_count;
	if (output->sequence > dag->consumer_applied && dag->consumer.on_commit != NULL)
		dag->consumer.on_commit(dag->consumer.ctx, &commit);
}

static void flush_sends(struct faii_dag *dag)
{
	for (uint32_t i = 0; i < dag->outgoing_count; i++) {
		const struct dag_outgoing *message = &dag->outgoing[i];
		const uint8_t *bytes = dag->outbox + message->offset;
		int rc = message->to == DAG_BROADCAST
		                 ? faii_transport_broadcast(dag->transport, bytes, message->len)
		                 : faii_transport_send(dag->transport, message->to, bytes,
		                                       message->len);
		if (rc < 0)
			dag->stats.sends_dropped++;
	}
}

/*
 * An own vertex leaves the window without having been committed: no
 * anchor's causal history reached it, and none can any more (its round is
 * below every round a new vertex may reference). Its transactions would be
 * lost; they go back to the pending queue for a later vertex, so that
 * every transaction submitted to an honest validator is committed.
 */
static void requeue_orphan(struct faii_dag *dag, const struct dag_slot *slot)
{
	const uint8_t *vertex = slot->vertex;
	uint32_t at = dag_vertex_payload_offset(slot->parent_mask);
	uint32_t count = dag_vertex_tx_count(vertex);
	dag->stats.orphaned_vertices++;
	for (uint32_t i = 0; i < count && at + 4 <= slot->vertex_bytes; i++) {
		uint32_t len = faii_get_le32(vertex + at);
		if (len > slot->vertex_bytes - at - 4)
			break; /* cannot be: our own vertex, checked when built */
		if (faii_dag_submit(dag, vertex + at + 4, len) == 0)
			dag->stats.requeued_transactions++;
		else
			dag->stats.requeue_dropped++;
		at += 4 + len;
	}
}

static void collect_garbage(struct faii_dag *dag)
{
	uint64_t low = dag->graph.round_low;
	uint64_t new_low = dag_graph_gc_round(&dag->graph);
	for (uint64_t round = low; round < new_low; round++)
		for (uint32_t author = 0; author < dag->config.validator_count; author++) {
			struct dag_slot *slot = dag_slot(dag, round, author);
			/* Not while replaying: the last life requeued those already. */
			if (!dag->replaying && author == dag->config.self && slot->vertex != NULL &&
			    slot->round == round &&
			    !dag_graph_committed(&dag->graph, round, author))
				requeue_orphan(dag, slot);
			dag->stats.held_bytes -= slot->vertex_bytes + slot->certificate_bytes;
			free(slot->vertex);
			free(slot->certificate);
			memset(slot, 0, sizeof(*slot));
			slot->round = round + dag->config.window_rounds;
		}
	if (new_low > low)
		dag_graph_collect(&dag->graph, new_low);
	dag->stats.round_low = dag->graph.round_low;
}

void dag_finish(struct faii_dag *dag)
{
	if (dag->journal_dirty && !dag->stats.failed && dag->journal->sync(dag->journal) != 0)
		dag->stats.failed = true;
	dag->journal_dirty = false;
	if (!dag->stats.failed) {
		for (uint32_t i = 0; i < dag->output_count; i++)
			deliver(dag, &dag->outputs[i]);
		flush_sends(dag);
	}
	/* A failed journal: nothing leaves, ever again (fail-stop). */
	dag->output_count = 0;
	dag->outgoing_count = 0;
	dag->outbox_bytes = 0;
	if (!dag->stats.failed)
		collect_garbage(dag);
}
