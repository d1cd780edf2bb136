/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consensus journal in the ledger store (include/faii/validator.h):
 * append queues a store record, sync waits until the last one is durable
 * (one fdatasync covers every record of the batch: the store's group
 * commit), replay scans the store for this epoch's records, lookup finds a
 * certified vertex through the store's round index.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/validator.h"

#define JOURNAL_LOOKUP_SEQS_MAX 256u /* records of one round the index may name */
#define JOURNAL_SYNC_SLICE_MS   100u /* a sync is waited for in slices of this */

static bool dag_type(uint16_t type)
{
	return type > FAII_DAG_LS_TYPE_BASE && type <= FAII_DAG_LS_TYPE_BASE + FAII_DAG_RECORD_LAST;
}

void faii_dag_evidence_key(uint64_t epoch, uint8_t key[FAII_LS_DIGEST_SIZE])
{
	static const char domain[] = "FAII-DAG-EVIDENCE";
	uint8_t message[sizeof(domain) - 1 + 8];
	memcpy(message, domain, sizeof(domain) - 1);
	for (int i = 0; i < 8; i++)
		message[sizeof(domain) - 1 + i] = (uint8_t)(epoch >> (8 * i));
	crypto_generichash(key, FAII_LS_DIGEST_SIZE, message, sizeof(message), NULL, 0);
}

static int store_append(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
                        const uint8_t *bytes, uint32_t len)
{
	struct faii_dag_store_journal *self = journal->ctx;
	struct faii_ls_keys keys = {.present = FAII_LS_KEY_EPOCH, .epoch = self->epoch};
	if (type == FAII_DAG_RECORD_CERTIFIED) {
		keys.present |= FAII_LS_KEY_ROUND | FAII_LS_KEY_NODE;
		keys.round = key >> 6;
		keys.node = (uint32_t)(key & 63);
	} else if (type == FAII_DAG_RECORD_EVIDENCE) {
		keys.present |= FAII_LS_KEY_DIGEST;
		faii_dag_evidence_key(self->epoch, keys.digest);
	}
	int64_t seq = faii_ls_append(self->store, (uint16_t)(FAII_DAG_LS_TYPE_BASE + type), &keys,
	                             bytes, len, NULL, NULL);
	if (seq < 0)
		return (int)seq;
	FAII_ASSERT((uint64_t)seq > self->appended_seq);
	self->appended_seq = (uint64_t)seq;
	return 0;
}

/*
 * Waits in slices and counts at most two slices per slice waited: a process
 * that was stopped (SIGSTOP, a paused VM) while a sync was in flight wakes
 * up long after its deadline with the sync not yet reaped, and that is not
 * a slow disk. Only a disk that stays slow while the thread runs fails the
 * journal (tests/integration/consensus_processes.sh stops a validator 10 s).
 */
static int store_sync(struct faii_dag_journal *journal)
{
	struct faii_dag_store_journal *self = journal->ctx;
	if (self->appended_seq == 0)
		return 0;
	for (uint32_t waited_ms = 0; waited_ms < FAII_VALIDATOR_SYNC_MS;) {
		uint64_t started = faii_monotonic_ns();
		int rc = faii_ls_wait_durable(self->store, self->appended_seq,
		                              JOURNAL_SYNC_SLICE_MS);
		if (rc != -ETIMEDOUT)
			return rc;
		uint64_t took_ms = (faii_monotonic_ns() - started) / FAII_NS_PER_MS;
		waited_ms += took_ms < 2 * JOURNAL_SYNC_SLICE_MS ? (uint32_t)took_ms
		                                                 : 2 * JOURNAL_SYNC_SLICE_MS;
	}
	return -ETIMEDOUT;
}

static int store_replay(struct faii_dag_journal *journal, faii_dag_record_fn *record, void *arg)
{
	struct faii_dag_store_journal *self = journal->ctx;
	uint64_t durable = faii_ls_durable_seq(self->store);
	for (uint64_t seq = 1; seq <= durable; seq++) {
		struct faii_ls_record header;
		int rc = faii_ls_read(self->store, seq, &header, self->record,
		                      FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
		if (rc == -ENOENT)
			continue; /* before the store's first segment: collected */
		if (rc < 0)
			return rc;
		if (!dag_type(header.type) || !(header.keys.present & FAII_LS_KEY_EPOCH) ||
		    header.keys.epoch != self->epoch)
			continue;
		if (header.payload_len > FAII_DAG_JOURNAL_RECORD_BYTES_MAX)
			return -EBADMSG;
		rc = record(arg, (uint8_t)(header.type - FAII_DAG_LS_TYPE_BASE), self->record,
		            header.payload_len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int64_t store_lookup(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
                            uint8_t *buf, uint32_t cap)
{
	struct faii_dag_store_journal *self = journal->ctx;
	if (type != FAII_DAG_RECORD_CERTIFIED)
		return -EINVAL;
	uint64_t round = key >> 6;
	uint64_t seqs[JOURNAL_LOOKUP_SEQS_MAX];
	int found =
	        faii_ls_find(self->store, FAII_LS_KEY_ROUND, &round, seqs, JOURNAL_LOOKUP_SEQS_MAX);
	if (found < 0)
		return found;
	uint32_t count = (uint32_t)found < JOURNAL_LOOKUP_SEQS_MAX ? (uint32_t)found
	                                                           : JOURNAL_LOOKUP_SEQS_MAX;
	for (uint32_t i = count; i-- > 0;) { /* the newest first */
		struct faii_ls_record header;
		int rc = faii_ls_read(self->store, seqs[i], &header, buf, cap);
		if (rc < 0)
			continue;
		if (header.type == FAII_DAG_LS_TYPE_BASE + FAII_DAG_RECORD_CERTIFIED &&
		    header.keys.epoch == self->epoch && header.keys.node == (uint32_t)(key & 63) &&
		    header.payload_len <= cap)
			return header.payload_len;
	}
	return 0;
}

int faii_dag_store_journal_init(struct faii_dag_store_journal *journal, struct faii_ls *store,
                                uint64_t epoch)
{
	FAII_ASSERT(journal != NULL && store != NULL);
	memset(journal, 0, sizeof(*journal));
	journal->record = malloc(FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	if (journal->record == NULL)
		return -ENOMEM;
	journal->store = store;
	journal->epoch = epoch;
	journal->journal = (struct faii_dag_journal){
	        .append = store_append,
	        .sync = store_sync,
	        .replay = store_replay,
	        .lookup = store_lookup,
	        .ctx = journal,
	};
	return 0;
}

void faii_dag_store_journal_fini(struct faii_dag_store_journal *journal)
{
	free(journal->record);
	journal->record = NULL;
}
