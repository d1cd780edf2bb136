/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-memory indexes of the ledger store, rebuilt at open from the latest
 * checkpoint's snapshot and the records after it:
 *   - by key (round, epoch, node, digest): a chained hash table over a
 *     preallocated pool of entries_max entries, so its memory is fixed at
 *     open: 24 bytes per entry plus 16 bytes per bucket (two to four per
 *     entry), 56 to 88 bytes per entry in all.
 *     Keys beyond the bound are counted, not indexed.
 *   - by sequence number: the position of every 64th record (16 bytes per 64
 *     records); a read scans at most 63 record headers from there.
 * Not thread-safe: the store guards it with a read-write lock.
 */
#ifndef FAII_LEDGER_INDEX_H
#define FAII_LEDGER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "faii/ledger_store.h"

#define LS_SEQ_STRIDE 64u

struct ls_pos {
	uint64_t segment;
	uint64_t offset;
};

struct ls_index_entry {
	uint64_t seq;
	uint64_t key;
	uint32_t next; /* 0: end of chain; entries are numbered from 1 */
	uint32_t kind; /* FAII_LS_KEY_* */
};

/* One per distinct (kind, key), found by a mix of both; entries verify. */
struct ls_index_bucket {
	uint64_t mixed_key;
	uint32_t head, tail; /* 0: empty bucket */
};

struct ls_index {
	uint32_t entries_max;
	uint32_t entry_count;
	uint64_t overflow;
	struct ls_index_entry *entries;  /* [1..entries_max] */
	struct ls_index_bucket *buckets; /* 2 x entries_max, rounded up to 2^n */
	uint64_t bucket_mask;
	struct ls_pos *pos; /* pos[i]: record seq i * LS_SEQ_STRIDE + 1 */
	uint64_t pos_count, pos_cap;
};

int ls_index_init(struct ls_index *ix, uint32_t entries_max);
void ls_index_free(struct ls_index *ix);

/* Indexes one record's keys and, every LS_SEQ_STRIDE records, its position. */
int ls_index_add(struct ls_index *ix, uint64_t seq, const struct faii_ls_keys *keys,
                 uint64_t segment, uint64_t offset);
/* The position to start scanning from for seq; -ENOENT if before any. */
int ls_index_seek(const struct ls_index *ix, uint64_t seq, struct ls_pos *pos);
/* Sequence numbers under one key kind (a FAII_LS_KEY_* bit) and 64-bit key. */
size_t ls_index_find(const struct ls_index *ix, unsigned kind, uint64_t key, uint64_t *seqs,
                     size_t max);
/* The same, leaving out the first skip matches. */
size_t ls_index_find_from(const struct ls_index *ix, unsigned kind, uint64_t key, size_t skip,
                          uint64_t *seqs, size_t max);

/* Snapshot for checkpoints: size, serialise, restore. */
size_t ls_index_snapshot_size(const struct ls_index *ix);
void ls_index_snapshot(const struct ls_index *ix, uint8_t *out);
int ls_index_restore(struct ls_index *ix, const uint8_t *in, size_t len);

/* The 64-bit index key of a kind (the digest's first 8 bytes). */
uint64_t ls_index_key(unsigned kind, const struct faii_ls_keys *keys);

#endif /* FAII_LEDGER_INDEX_H */
