/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Disagreement evidence into the ledger: see evidence_log.h.
 */
#include "evidence_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/clock.h"

static void on_durable(void *arg, uint64_t seq, int status)
{
	struct faii_evidence_log *log = arg;
	(void)seq;
	atomic_fetch_add(status == 0 ? &log->durable : &log->failed, 1);
}

/* Takes the oldest queued record, waiting for one; false when stopping
 * with nothing left. */
static bool take(struct faii_evidence_log *log, struct faii_audit_disagreement *out)
{
	pthread_mutex_lock(&log->mu);
	while (log->count == 0 && !log->stopping)
		pthread_cond_wait(&log->cv, &log->mu);
	bool got = log->count > 0;
	if (got) {
		FAII_ASSERT(log->head < FAII_EVIDENCE_QUEUE_MAX);
		*out = log->queue[log->head];
		log->head = (log->head + 1) % FAII_EVIDENCE_QUEUE_MAX;
		log->count--;
	}
	pthread_mutex_unlock(&log->mu);
	return got;
}

static void *writer_main(void *arg)
{
	struct faii_evidence_log *log = arg;
	struct faii_audit_disagreement rec;
	while (take(log, &rec)) {
		/* The only call that may wait on the ledger, outside the mutex. */
		int64_t seq = faii_audit_disagreement(log->ls, &rec, on_durable, log);
		atomic_fetch_add(seq > 0 ? &log->appended : &log->failed, 1);
	}
	return NULL;
}

int faii_evidence_log_start(struct faii_evidence_log *log, struct faii_ls *ls, char *err,
                            size_t errlen)
{
	memset(log, 0, sizeof(*log));
	log->ls = ls;
	log->queue = calloc(FAII_EVIDENCE_QUEUE_MAX, sizeof(*log->queue));
	if (log->queue == NULL) {
		snprintf(err, errlen, "evidence log: no memory for %u records",
		         FAII_EVIDENCE_QUEUE_MAX);
		return -1;
	}
	pthread_mutex_init(&log->mu, NULL);
	pthread_cond_init(&log->cv, NULL);
	int rc = pthread_create(&log->writer, NULL, writer_main, log);
	if (rc != 0) {
		snprintf(err, errlen, "evidence log: cannot start its writer: %s", strerror(rc));
		pthread_cond_destroy(&log->cv);
		pthread_mutex_destroy(&log->mu);
		free(log->queue);
		log->queue = NULL;
		return -1;
	}
	log->running = true;
	return 0;
}

void faii_evidence_log_stop(struct faii_evidence_log *log)
{
	if (!log->running)
		return;
	pthread_mutex_lock(&log->mu);
	log->stopping = true;
	pthread_cond_signal(&log->cv);
	pthread_mutex_unlock(&log->mu);
	pthread_join(log->writer, NULL);
	FAII_ASSERT(log->count == 0); /* the writer leaves only with the queue empty */
	pthread_cond_destroy(&log->cv);
	pthread_mutex_destroy(&log->mu);
	free(log->queue);
	log->queue = NULL;
	log->running = false;
}

void faii_evidence_log_record(void *ctx, const struct faii_evidence *ev)
{
	struct faii_evidence_log *log = ctx;
	FAII_ASSERT(log->running);
	struct faii_audit_disagreement rec = {
	        .time_ns = faii_realtime_ns(),
	        .task_id = ev->task_id,
	        .node_id = ev->node_id,
	        .replica_index = ev->replica_index,
	        .replicas = ev->replicas,
	        .status = ev->status,
	        .answered = ev->answered,
	        .tier = ev->tier,
	        .category = ev->category,
	};
	_Static_assert(sizeof(rec.set_node_id) == sizeof(ev->set_node_id), "same set");
	_Static_assert(sizeof(rec.set_hash) == sizeof(ev->set_hash), "same digests");
	memcpy(rec.set_node_id, ev->set_node_id, sizeof(rec.set_node_id));
	memcpy(rec.result_hash, ev->result_hash, sizeof(rec.result_hash));
	memcpy(rec.majority_hash, ev->majority_hash, sizeof(rec.majority_hash));
	memcpy(rec.set_hash, ev->set_hash, sizeof(rec.set_hash));
	pthread_mutex_lock(&log->mu);
	bool room = log->count < FAII_EVIDENCE_QUEUE_MAX;
	if (room) {
		log->queue[(log->head + log->count) % FAII_EVIDENCE_QUEUE_MAX] = rec;
		log->count++;
		pthread_cond_signal(&log->cv);
	}
	pthread_mutex_unlock(&log->mu);
	atomic_fetch_add(room ? &log->queued : &log->dropped, 1);
}
