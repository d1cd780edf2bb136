/* SPDX-License-Identifier: BSD-3-Clause */
/* Accepted ATTEST messages on their way to the ledger: see attest_queue.h. */
#include "attest_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"

int faii_attest_queue_init(struct faii_attest_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->msg = calloc(FAII_ATTEST_QUEUE_MAX, sizeof(*q->msg));
	return q->msg != NULL ? 0 : -ENOMEM;
}

void faii_attest_queue_fini(struct faii_attest_queue *q)
{
	free(q->msg);
	memset(q, 0, sizeof(*q));
}

bool faii_attest_queue_push(struct faii_attest_queue *q, const uint8_t *msg, uint32_t len)
{
	if (!q->enabled || q->msg == NULL)
		return false;
	FAII_ASSERT(len == FAII_ATTEST_MSG_BYTES); /* the parser's exact size for ATTEST */
	if (q->count == FAII_ATTEST_QUEUE_MAX) {
		q->counters.dropped_full++;
		return false;
	}
	memcpy(q->msg[(q->head + q->count) % FAII_ATTEST_QUEUE_MAX], msg, FAII_ATTEST_MSG_BYTES);
	q->count++;
	q->counters.queued++;
	return true;
}

const uint8_t *faii_attest_queue_peek(const struct faii_attest_queue *q)
{
	return q->count > 0 ? q->msg[q->head] : NULL;
}

void faii_attest_queue_pop(struct faii_attest_queue *q)
{
	FAII_ASSERT(q->count > 0);
	q->head = (q->head + 1) % FAII_ATTEST_QUEUE_MAX;
	q->count--;
}
