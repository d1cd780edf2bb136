/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store's durability mark (DIR/STATE, format.h) and the one judgement of
 * a log's end against it, shared by recovery (faii_ls_open), faii_ls_verify
 * and faii-ledger dump, so that they cannot disagree.
 *
 * The question it answers: is what lies past the last intact commit a torn
 * batch that was never acknowledged (a crash: truncate it), or damage to
 * acknowledged records (refuse, naming the segment and offset)? A crash
 * leaves the mark "open"; only a clean close makes it "closed", after a close
 * record naming the last sequence number and chain value has been written
 * into the log and synced. The mark is required: without it (missing or
 * corrupt) a damaged acknowledged tail could not be told from a torn one.
 */
#ifndef FAII_LEDGER_MARK_H
#define FAII_LEDGER_MARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/ledger_store.h"
#include "faii/store_io.h"

enum ls_mark_kind {
	LS_MARK_MISSING,   /* no DIR/STATE (and no earlier version's mark in DIR/LOCK) */
	LS_MARK_CORRUPT,   /* DIR/STATE of the wrong size, magic, version, state or CRC */
	LS_MARK_OPEN,      /* in use, or the process died; seq was durable when opened */
	LS_MARK_CLOSED,    /* closed cleanly at seq; the close record's position */
	LS_MARK_CLOSED_V1, /* closed cleanly at seq by an earlier version (DIR/LOCK) */
};

struct ls_mark {
	enum ls_mark_kind kind;
	uint64_t seq;
	uint8_t chain[FAII_LS_CHAIN_SIZE]; /* open, closed: the chain value after seq */
	uint64_t close_segment, close_offset;
};

/* What the recovery scan found at the end of the log. */
struct ls_log_end {
	uint64_t segments; /* segment files present */
	uint64_t last_seq; /* the last intact commit's */
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	bool chain_at_mark_known; /* the scan passed the mark's seq: chain_at_mark is the chain */
	uint8_t chain_at_mark[FAII_LS_CHAIN_SIZE];
	bool ends_with_close; /* a close record of last_seq follows the last commit */
	uint64_t close_segment, close_offset;
	uint64_t tail_segment, tail_offset; /* where intact data ends */
	uint64_t torn_bytes;                /* non-zero bytes from there on */
	uint64_t tail_close_seq;            /* the highest seq a close record among them names */
	uint64_t tail_close_offset;
};

/*
 * Reads the mark of dir: 0 with *mark filled (MISSING and CORRUPT included),
 * or -EIO (err says why) when the file exists but cannot be read: an I/O
 * error is not corruption.
 */
int ls_mark_read(const struct faii_store_io *io, const char *dir, struct ls_mark *mark,
                 char err[FAII_LS_ERR_LEN]);
/* Replaces dir's mark (open or closed) atomically and durably. */
int ls_mark_write(const struct faii_store_io *io, const char *dir, const struct ls_mark *mark);
/* The mark's state in words, for reports: "open at seq 12", "missing", ... */
void ls_mark_describe(const struct ls_mark *mark, char *out, size_t cap);

/*
 * The judgement: 0 when the log's end agrees with the mark (a torn tail is
 * then a crash's and is truncated), -EBADMSG with a message naming the
 * segment file and offset, what was found and how to proceed otherwise.
 */
int ls_judge(const char *dir, const struct ls_mark *mark, const struct ls_log_end *end,
             char err[FAII_LS_ERR_LEN]);

/* Writes buf to path atomically: a synced temporary, renamed, dir synced. */
int ls_write_atomically(const struct faii_store_io *io, const char *dir, const char *path,
                        const void *buf, size_t size);

#endif /* FAII_LEDGER_MARK_H */
