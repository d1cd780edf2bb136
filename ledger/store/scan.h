/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recovery scan, shared by faii_ls_open() (which repairs a torn tail) and
 * faii_ls_verify() (which changes nothing): lists the segments and
 * checkpoints of a directory, starts at the latest checkpoint, verifies every
 * record's CRC, every batch's chain value and every segment header, and tells
 * a torn tail (the last batch, never acknowledged) from corruption before it.
 */
#ifndef FAII_LEDGER_SCAN_H
#define FAII_LEDGER_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/store_io.h"
#include "format.h"
#include "mark.h"

/* Called for every committed user record, in sequence order. */
typedef void (*ls_record_fn)(void *ctx, const struct ls_record_header *h, const uint8_t *keys,
                             uint64_t segment_index, uint64_t offset);

/* Called once with the checkpoint recovery starts from, before any record. */
typedef int (*ls_checkpoint_fn)(void *ctx, const struct ls_checkpoint_header *h,
                                const uint8_t *blob_then_index);

struct ls_scan {
	/* inputs */
	const struct faii_store_io *io; /* every read and repair goes through it */
	const char *dir;
	bool repair;                /* zero a torn tail on disk */
	const struct ls_mark *mark; /* the store's mark; NULL: read from dir */
	bool accept_damage;         /* operator's override: truncate whatever ls_judge() refuses */
	ls_checkpoint_fn on_checkpoint;
	ls_record_fn on_record;
	void *ctx;

	/* outputs */
	uint64_t first_segment, last_segment; /* indices; last < first: none */
	uint64_t segment_count;
	uint64_t write_segment; /* where the next batch goes */
	uint64_t write_offset;
	uint64_t write_segment_size;
	uint64_t last_batch_offset; /* start of the last batch in write_segment (repair rewrites it)
	                             */
	uint64_t last_seq;          /* last committed sequence number */
	uint64_t commit_segment;    /* end of the last commit (the durable position), */
	uint64_t commit_offset;     /*   or the first segment's header */
	uint64_t records;           /* user records scanned (after the checkpoint) */
	uint64_t bytes;             /* bytes scanned */
	uint64_t torn_bytes;        /* bytes past the last commit that were torn */
	uint8_t chain[FAII_LS_CHAIN_SIZE];

	struct ls_mark mark_used; /* *mark, or what was read */
	struct ls_log_end end;    /* what ls_judge() was given */
	bool damage_accepted;     /* accept_damage overrode a refusal: finding says which */
	char finding[FAII_LS_ERR_LEN];

	bool has_checkpoint;
	struct ls_checkpoint_header checkpoint;
	uint8_t *checkpoint_data; /* blob then index snapshot; free() it */
};

/*
 * 0, or -EBADMSG / -errno with a message naming the file and offset in err.
 * The log's end is judged against the mark (ls_judge()) before any repair.
 */
int ls_scan_dir(struct ls_scan *scan, char err[FAII_LS_ERR_LEN]);

/* Removes checkpoints older than keep_from. */
void ls_prune_checkpoints(const struct faii_store_io *io, const char *dir, uint64_t keep_from);

/* File names. */
void ls_segment_path(char *out, size_t cap, const char *dir, uint64_t segment_index);
void ls_checkpoint_path(char *out, size_t cap, const char *dir, uint64_t seq_covered);

#endif /* FAII_LEDGER_SCAN_H */
