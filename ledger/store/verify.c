/* SPDX-License-Identifier: BSD-3-Clause */
/* Offline verification of a ledger store directory: see faii_ls_verify(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/ledger_store.h"
#include "faii/store_io.h"
#include "scan.h"

static void count_record(void *ctx, const struct ls_record_header *h, const uint8_t *keys,
                         uint64_t segment, uint64_t offset)
{
	struct faii_ls_verify_report *r = ctx;
	(void)keys, (void)segment, (void)offset;
	if (r->first_seq == 0)
		r->first_seq = h->seq;
	r->last_seq = h->seq;
}

int faii_ls_verify(const char *dir, struct faii_ls_verify_report *report, char err[FAII_LS_ERR_LEN])
{
	return faii_ls_verify_io(NULL, dir, report, err);
}

int faii_ls_verify_io(const struct faii_store_io *io, const char *dir,
                      struct faii_ls_verify_report *report, char err[FAII_LS_ERR_LEN])
{
	memset(report, 0, sizeof(*report));
	err[0] = '\0';
	struct ls_scan scan = {
	        .io = io ? io : faii_store_io_system(),
	        .dir = dir,
	        .repair = false, /* look, never touch */
	        .mark = NULL,    /* read DIR/STATE, judged as open judges it */
	        .on_record = count_record,
	        .ctx = report,
	};
	int rc = ls_scan_dir(&scan, err);
	free(scan.checkpoint_data);
	if (rc != 0)
		return rc;
	report->segments = scan.segment_count;
	report->records = scan.records;
	report->bytes = scan.bytes;
	report->last_seq = scan.last_seq;
	report->torn_tail_bytes = scan.torn_bytes;
	report->checkpoint_seq = scan.has_checkpoint ? scan.checkpoint.seq_covered : 0;
	memcpy(report->chain, scan.chain, sizeof(report->chain));
	report->ends_with_close = scan.end.ends_with_close;
	ls_mark_describe(&scan.mark_used, report->mark, sizeof(report->mark));
	return 0;
}
