/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A validator process stopped (SIGSTOP, a paused VM) longer than
 * FAII_VALIDATOR_SYNC_MS while a journal sync is in flight must not take
 * the stop for a failed disk: once continued, the sync completes and the
 * validator goes on. Found by tests/integration/consensus_processes.sh
 * (SIGSTOP 10 s): the validator failed its journal and stopped for good.
 *
 * A child process opens a ledger store whose batch write is held in the
 * store's fault hook until the parent says so, appends one journal record
 * and syncs. The parent waits until the write is held, stops the child for
 * FAII_VALIDATOR_SYNC_MS + 500 ms, continues it, and releases the write one
 * second later: the child's sync must return 0 (its exit status).
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faii/validator.h"

#define RELEASE_AFTER_CONT_MS 1000u

struct hold {
	int held_fd;    /* the child tells: a write is held */
	int release_fd; /* the parent tells: let it go */
	bool armed;
};

static int64_t hold_write(void *ctx, uint64_t segment, uint64_t offset, uint32_t len)
{
	(void)segment, (void)offset, (void)len;
	struct hold *hold = ctx;
	if (!hold->armed)
		return 0;
	hold->armed = false;
	char byte = 'h';
	if (write(hold->held_fd, &byte, 1) != 1 || read(hold->release_fd, &byte, 1) != 1)
		return -EIO;
	return 0;
}

static int child(const char *dir, struct hold *hold)
{
	struct faii_ls_options options = {
	        .dir = dir,
	        .segment_size_bytes = FAII_LS_SEGMENT_SIZE_MIN,
	        .fault = hold_write,
	        .fault_ctx = hold,
	};
	char err[FAII_LS_ERR_LEN];
	struct faii_ls *store = NULL;
	if (faii_ls_open(&options, &store, err) != 0) {
		fprintf(stderr, "child: open: %s\n", err);
		return 2;
	}
	struct faii_dag_store_journal journal;
	if (faii_dag_store_journal_init(&journal, store, 1) != 0)
		return 2;
	static const uint8_t record[64] = {1};
	hold->armed = true;
	if (journal.journal.append(&journal.journal, FAII_DAG_RECORD_VOTE, 0, record,
	                           sizeof(record)) != 0)
		return 2;
	int rc = journal.journal.sync(&journal.journal);
	if (rc != 0)
		fprintf(stderr, "child: the sync failed after the stop: %s\n", strerror(-rc));
	faii_dag_store_journal_fini(&journal);
	faii_ls_close(store);
	return rc == 0 ? 0 : 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
}

int main(void)
{
	char dir[] = "/tmp/faii-journal-stopped-XXXXXX";
	int held[2], release[2];
	if (mkdtemp(dir) == NULL || pipe(held) != 0 || pipe(release) != 0) {
		perror("test_journal_stopped");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		struct hold hold = {.held_fd = held[1], .release_fd = release[0]};
		_exit(child(dir, &hold));
	}
	char byte;
	int status = 0;
	if (pid < 0 || read(held[0], &byte, 1) != 1) {
		fprintf(stderr, "FAIL: the child never reached its write\n");
		return 1;
	}
	sleep_ms(50); /* the child's thread is now waiting for the sync */
	kill(pid, SIGSTOP);
	sleep_ms(FAII_VALIDATOR_SYNC_MS + 500);
	kill(pid, SIGCONT);
	sleep_ms(RELEASE_AFTER_CONT_MS);
	if (write(release[1], "r", 1) != 1 || waitpid(pid, &status, 0) != pid) {
		perror("test_journal_stopped");
		return 1;
	}
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "FAIL: after a %u ms stop the journal sync did not complete\n",
		        FAII_VALIDATOR_SYNC_MS + 500);
		return 1;
	}
	printf("ok: a journal sync survives a %u ms SIGSTOP\n", FAII_VALIDATOR_SYNC_MS + 500);
	return 0;
}
