/* SPDX-License-Identifier: BSD-3-Clause */
/* In-memory indexes of the ledger store: see index.h. */
#include "index.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

/* Snapshot layout: [u64 entries][entry: u64 seq, u64 key, u32 kind, u32 0]
 *                  [u64 positions][pos: u64 segment, u64 offset] */
#define SNAP_ENTRY_SIZE 24u
#define SNAP_POS_SIZE   16u

static uint64_t mix(unsigned kind, uint64_t key)
{
	uint64_t z = key ^ ((uint64_t)kind * 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t ls_index_key(unsigned kind, const struct faii_ls_keys *keys)
{
	uint64_t key = 0;
	switch (kind) {
	case FAII_LS_KEY_ROUND: return keys->round;
	case FAII_LS_KEY_EPOCH: return keys->epoch;
	case FAII_LS_KEY_NODE: return keys->node;
	default: memcpy(&key, keys->digest, sizeof(key)); return key;
	}
}

int ls_index_init(struct ls_index *ix, uint32_t entries_max)
{
	memset(ix, 0, sizeof(*ix));
	uint64_t buckets = 1;
	while (buckets < 2ull * entries_max)
		buckets <<= 1;
	ix->entries_max = entries_max;
	ix->bucket_mask = buckets - 1;
	ix->entries = mallocx(((size_t)entries_max + 1) * sizeof(*ix->entries), MALLOCX_ZERO);
	ix->buckets = mallocx(buckets * sizeof(*ix->buckets), MALLOCX_ZERO);
	ix->pos_cap = 1024;
	ix->pos = mallocx(ix->pos_cap * sizeof(*ix->pos), 0);
	if (ix->entries == NULL || ix->buckets == NULL || ix->pos == NULL) {
		ls_index_free(ix);
		return -ENOMEM;
	}
	return 0;
}

void ls_index_free(struct ls_index *ix)
{
	if (ix->entries)
		dallocx(ix->entries, 0);
	if (ix->buckets)
		dallocx(ix->buckets, 0);
	if (ix->pos)
		dallocx(ix->pos, 0);
	memset(ix, 0, sizeof(*ix));
}

static struct ls_index_bucket *bucket_for(const struct ls_index *ix, uint64_t mixed, bool *found)
{
	/* Linear probing; the table is at most half full. */
	for (uint64_t i = mixed & ix->bucket_mask;; i = (i + 1) & ix->bucket_mask) {
		struct ls_index_bucket *b = &ix->buckets[i];
		if (b->head == 0) {
			*found = false;
			return b;
		}
		if (b->mixed_key == mixed) {
			*found = true;
			return b;
		}
	}
}

static int add_key(struct ls_index *ix, unsigned kind, uint64_t key, uint64_t seq)
{
	if (ix->entry_count == ix->entries_max) {
		ix->overflow++;
		return 0;
	}
	uint32_t e = ++ix->entry_count;
	ix->entries[e] = (struct ls_index_entry){.seq = seq, .key = key, .kind = kind};
	uint64_t mixed = mix(kind, key);
	bool found;
	struct ls_index_bucket *b = bucket_for(ix, mixed, &found);
	if (found) {
		ix->entries[b->tail].next = e;
		b->tail = e;
	} else {
		*b = (struct ls_index_bucket){.mixed_key = mixed, .head = e, .tail = e};
	}
	return 0;
}

static int add_pos(struct ls_index *ix, uint64_t seq, uint64_t segment, uint64_t offset)
{
	if ((seq - 1) % LS_SEQ_STRIDE != 0)
		return 0;
	uint64_t i = (seq - 1) / LS_SEQ_STRIDE;
	if (i != ix->pos_count)
		return i < ix->pos_count ? 0 : -EINVAL; /* positions arrive in order */
	if (ix->pos_count == ix->pos_cap) {
		struct ls_pos *grown = rallocx(ix->pos, 2 * ix->pos_cap * sizeof(*ix->pos), 0);
		if (grown == NULL)
			return -ENOMEM;
		ix->pos = grown;
		ix->pos_cap *= 2;
	}
	ix->pos[ix->pos_count++] = (struct ls_pos){segment, offset};
	return 0;
}

int ls_index_add(struct ls_index *ix, uint64_t seq, const struct faii_ls_keys *keys,
                 uint64_t segment, uint64_t offset)
{
	static const unsigned kinds[] = {FAII_LS_KEY_ROUND, FAII_LS_KEY_EPOCH, FAII_LS_KEY_NODE,
	                                 FAII_LS_KEY_DIGEST};
	for (unsigned k = 0; k < 4; k++) {
		if (keys->present & kinds[k])
			add_key(ix, kinds[k], ls_index_key(kinds[k], keys), seq);
	}
	return add_pos(ix, seq, segment, offset);
}

int ls_index_seek(const struct ls_index *ix, uint64_t seq, struct ls_pos *pos)
{
	if (seq == 0)
		return -ENOENT;
	uint64_t i = (seq - 1) / LS_SEQ_STRIDE;
	if (i >= ix->pos_count)
		return -ENOENT;
	*pos = ix->pos[i];
	return 0;
}

size_t ls_index_find(const struct ls_index *ix, unsigned kind, uint64_t key, uint64_t *seqs,
                     size_t max)
{
	return ls_index_find_from(ix, kind, key, 0, seqs, max);
}

size_t ls_index_find_from(const struct ls_index *ix, unsigned kind, uint64_t key, size_t skip,
                          uint64_t *seqs, size_t max)
{
	bool found;
	const struct ls_index_bucket *b = bucket_for(ix, mix(kind, key), &found);
	size_t n = 0;
	if (!found)
		return 0;
	for (uint32_t e = b->head; e != 0 && n < max; e = ix->entries[e].next) {
		if (ix->entries[e].kind == kind && ix->entries[e].key == key) {
			if (skip > 0)
				skip--;
			else
				seqs[n++] = ix->entries[e].seq;
		}
	}
	return n;
}

size_t ls_index_snapshot_size(const struct ls_index *ix)
{
	return 16 + (size_t)ix->entry_count * SNAP_ENTRY_SIZE +
	       (size_t)ix->pos_count * SNAP_POS_SIZE;
}

void ls_index_snapshot(const struct ls_index *ix, uint8_t *out)
{
	uint64_t n = ix->entry_count;
	memcpy(out, &n, 8);
	out += 8;
	for (uint32_t e = 1; e <= ix->entry_count; e++) {
		const struct ls_index_entry *x = &ix->entries[e];
		uint32_t zero = 0;
		memcpy(out, &x->seq, 8);
		memcpy(out + 8, &x->key, 8);
		memcpy(out + 16, &x->kind, 4);
		memcpy(out + 20, &zero, 4);
		out += SNAP_ENTRY_SIZE;
	}
	memcpy(out, &ix->pos_count, 8);
	out += 8;
	memcpy(out, ix->pos, ix->pos_count * SNAP_POS_SIZE);
}

int ls_index_restore(struct ls_index *ix, const uint8_t *in, size_t len)
{
	uint64_t n, p;
	if (len < 16)
		return -EBADMSG;
	memcpy(&n, in, 8);
	if (n > (len - 16) / SNAP_ENTRY_SIZE)
		return -EBADMSG;
	const uint8_t *q = in + 8 + n * SNAP_ENTRY_SIZE;
	memcpy(&p, q, 8);
	if (16 + n * SNAP_ENTRY_SIZE + p * SNAP_POS_SIZE != len)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t seq, key;
		uint32_t kind;
		memcpy(&seq, in + 8 + i * SNAP_ENTRY_SIZE, 8);
		memcpy(&key, in + 16 + i * SNAP_ENTRY_SIZE, 8);
		memcpy(&kind, in + 24 + i * SNAP_ENTRY_SIZE, 4);
		add_key(ix, kind, key, seq);
	}
	q += 8;
	for (uint64_t i = 0; i < p; i++) {
		struct ls_pos pos;
		memcpy(&pos, q + i * SNAP_POS_SIZE, SNAP_POS_SIZE);
		int rc = add_pos(ix, i * LS_SEQ_STRIDE + 1, pos.segment, pos.offset);
		if (rc != 0)
			return rc;
	}
	return 0;
}
