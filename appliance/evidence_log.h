/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Disagreement evidence into the ledger, off the control thread.
 *
 * The dataplane sends every copy its replica set outvoted to the control
 * thread (struct faii_evidence, the evidence ring). The control thread
 * hands each to faii_evidence_log_record(), which only copies it into a
 * bounded queue under a mutex no one holds across a ledger call; a writer
 * thread of its own appends the queued records (FAII_AUDIT_REPLICA_DISAGREEMENT)
 * to the ledger store, where the store's own back-pressure may make it
 * wait. So the control thread never waits on the ledger; when the queue is
 * full the record is dropped and counted (dropped), never blocked on.
 *
 * Error convention: start returns 0 or -1 with a sentence in err.
 */
#ifndef FAII_APPLIANCE_EVIDENCE_LOG_H
#define FAII_APPLIANCE_EVIDENCE_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "faii/audit.h"

/* Records waiting for the writer thread: 4096 x 344 bytes. */
#define FAII_EVIDENCE_QUEUE_MAX 4096u

struct faii_evidence_log {
	struct faii_ls *ls;
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct faii_audit_disagreement *queue; /* FAII_EVIDENCE_QUEUE_MAX, a ring */
	unsigned head, count;                  /* under mu */
	bool stopping;                         /* under mu */
	bool running;
	_Atomic uint64_t queued;   /* accepted into the queue */
	_Atomic uint64_t dropped;  /* the queue was full */
	_Atomic uint64_t appended; /* handed to the store */
	_Atomic uint64_t durable;  /* acknowledged durable by the store */
	_Atomic uint64_t failed;   /* refused or failed by the store */
};

/* Starts the writer over an open store (which must outlive the log). */
int faii_evidence_log_start(struct faii_evidence_log *log, struct faii_ls *ls, char *err,
                            size_t errlen);
/* Appends what is queued, then joins the writer; before faii_ls_close(). */
void faii_evidence_log_stop(struct faii_evidence_log *log);
/* struct faii_appliance_dp's on_evidence hook; ctx is the log. Never waits
 * on the ledger. */
void faii_evidence_log_record(void *ctx, const struct faii_evidence *ev);

#endif /* FAII_APPLIANCE_EVIDENCE_LOG_H */
