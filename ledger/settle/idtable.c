/* SPDX-License-Identifier: BSD-3-Clause */
/* Settlement's private table helpers: see idtable.h. */
#include <string.h>

#include "faii/assert.h"
#include "idtable.h"

#define ROW_BYTES_MAX 64u

uint32_t idtable_slots(uint32_t entries_max)
{
	FAII_ASSERT(entries_max > 0 && entries_max <= (1u << 30));
	uint32_t slots = 1;
	while (slots < 2 * entries_max)
		slots <<= 1;
	return slots;
}

void idtable_init(struct idtable *index, uint32_t *slots, uint32_t entries_max)
{
	uint32_t count = idtable_slots(entries_max);
	memset(slots, 0, (size_t)count * sizeof(*slots));
	index->slots = slots;
	index->mask = count - 1;
	index->entries_max = entries_max;
}

uint32_t idtable_find(const struct idtable *index, uint32_t hash, idtable_match_fn match,
                      const void *ctx)
{
	uint32_t at = hash & index->mask;
	for (uint32_t probe = 0; probe <= index->mask; probe++) {
		uint32_t stored = index->slots[at];
		if (stored == 0)
			return IDTABLE_NONE;
		if (match(ctx, stored - 1))
			return stored - 1;
		at = (at + 1) & index->mask;
	}
	/* At most half the slots are ever used: an empty one always ends a probe. */
	FAII_UNREACHABLE();
}

void idtable_insert(struct idtable *index, uint32_t hash, uint32_t entry)
{
	FAII_ASSERT(entry < index->entries_max);
	uint32_t at = hash & index->mask;
	for (uint32_t probe = 0; probe <= index->mask; probe++) {
		if (index->slots[at] == 0) {
			index->slots[at] = entry + 1;
			return;
		}
		at = (at + 1) & index->mask;
	}
	FAII_UNREACHABLE();
}

/* Whether `home` lies cyclically in (from, to]: an entry whose run starts
 * there must stay after the hole at `from`. */
static bool stays(uint32_t home, uint32_t from, uint32_t to, uint32_t mask)
{
	return ((home - from - 1) & mask) < ((to - from) & mask);
}

void idtable_remove(struct idtable *index, uint32_t hash, uint32_t entry, idtable_hash_fn hash_of,
                    const void *ctx)
{
	uint32_t hole = hash & index->mask;
	uint32_t probe = 0;
	while (index->slots[hole] != entry + 1) {
		FAII_ASSERT(index->slots[hole] != 0 && probe++ <= index->mask); /* present */
		hole = (hole + 1) & index->mask;
	}
	/* Backward shift (linear probing): fill the hole from later in the run. */
	uint32_t at = hole;
	for (probe = 0; probe <= index->mask; probe++) {
		at = (at + 1) & index->mask;
		uint32_t stored = index->slots[at];
		if (stored == 0)
			break;
		uint32_t home = hash_of(ctx, stored - 1) & index->mask;
		if (stays(home, hole, at, index->mask))
			continue;
		index->slots[hole] = stored;
		hole = at;
	}
	index->slots[hole] = 0;
}

uint32_t idtable_hash_u32(uint32_t key)
{
	/* MurmurHash3's finaliser: a bijection that spreads sequential ids. */
	key ^= key >> 16;
	key *= 0x85ebca6bu;
	key ^= key >> 13;
	key *= 0xc2b2ae35u;
	key ^= key >> 16;
	return key;
}

static uint32_t row_key(const uint8_t *rows, size_t size, size_t i)
{
	uint32_t key;
	memcpy(&key, rows + i * size, sizeof(key));
	return key;
}

static void row_swap(uint8_t *rows, size_t size, size_t a, size_t b)
{
	uint8_t tmp[ROW_BYTES_MAX];
	memcpy(tmp, rows + a * size, size);
	memcpy(rows + a * size, rows + b * size, size);
	memcpy(rows + b * size, tmp, size);
}

static void sift_down(uint8_t *rows, size_t size, size_t root, size_t end)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= end)
			return;
		if (child + 1 < end && row_key(rows, size, child + 1) > row_key(rows, size, child))
			child++;
		if (row_key(rows, size, root) >= row_key(rows, size, child))
			return;
		row_swap(rows, size, root, child);
		root = child;
	}
}

void idtable_sort_by_u32(void *rows, size_t count, size_t size)
{
	FAII_ASSERT(size >= sizeof(uint32_t) && size <= ROW_BYTES_MAX);
	uint8_t *bytes = rows;
	for (size_t i = count / 2; i-- > 0;)
		sift_down(bytes, size, i, count);
	for (size_t end = count; end > 1; end--) {
		row_swap(bytes, size, 0, end - 1);
		sift_down(bytes, size, 0, end - 1);
	}
	for (size_t i = 1; i < count; i++)
		FAII_ASSERT(row_key(bytes, size, i - 1) <= row_key(bytes, size, i));
}

void *idtable_carve(uint8_t *base, size_t *cursor, size_t bytes)
{
	size_t at = (*cursor + 7) & ~(size_t)7;
	*cursor = at + bytes;
	return base == NULL ? NULL : base + at;
}
