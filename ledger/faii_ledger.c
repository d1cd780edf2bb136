/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-ledger: offline tools for a ledger store directory.
 *
 *   faii-ledger verify DIR    check every CRC, the hash chain, segment
 *                             headers and the checkpoint; print a summary.
 *                             Exit 0 intact (a torn tail is reported but
 *                             intact: recovery removes it), 1 corrupt, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "faii/ledger_store.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: faii-ledger verify DIR\n"
	             "Checks a ledger store directory offline and prints a summary.\n"
	             "Exit status: 0 intact, 1 corrupt or unreadable, 2 usage error.\n");
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc != 3 || strcmp(argv[1], "verify") != 0)
		return usage(stderr);
	if (sodium_init() < 0)
		return 1;
	struct faii_ls_verify_report r;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_verify(argv[2], &r, err);
	if (rc != 0) {
		fprintf(stderr, "faii-ledger: %s\n", err[0] ? err : strerror(-rc));
		printf("corrupt: %s\n", err);
		return 1;
	}
	char chain[2 * FAII_LS_CHAIN_SIZE + 1];
	sodium_bin2hex(chain, sizeof(chain), r.chain, sizeof(r.chain));
	printf("intact: %s\n", argv[2]);
	printf("  segments %" PRIu64 ", records scanned %" PRIu64 " (%" PRIu64 " bytes)\n",
	       r.segments, r.records, r.bytes);
	printf("  last seq %" PRIu64 ", checkpoint %s%" PRIu64 "\n", r.last_seq,
	       r.checkpoint_seq ? "at seq " : "none ", r.checkpoint_seq);
	printf("  torn tail %" PRIu64 " bytes%s\n", r.torn_tail_bytes,
	       r.torn_tail_bytes ? " (never acknowledged; removed at the next open)" : "");
	printf("  chain %s\n", chain);
	return 0;
}
