/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's private table helpers: an open-addressing index from a
 * 32-bit hash to entry numbers of a dense array (lookup only: listings are
 * sorted, never read in slot order), a heapsort by the leading u32 of a
 * row (settlement has no qsort: stdlib.h is not pure), and the carving of
 * a caller's buffer into aligned arrays.
 *
 * Bounds: an index has a power of two of slots, at least twice the entries
 * it may hold, so a probe always ends at an empty slot within `slots`
 * steps (asserted). Entry numbers are stored plus one (0 = empty).
 */
#ifndef FAII_SETTLE_IDTABLE_H
#define FAII_SETTLE_IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDTABLE_NONE UINT32_MAX

struct idtable {
	uint32_t *slots;
	uint32_t mask; /* slots - 1 */
	uint32_t entries_max;
};

/* Slots for an index of entries_max entries (a power of two >= 2x). */
uint32_t idtable_slots(uint32_t entries_max);
void idtable_init(struct idtable *index, uint32_t *slots, uint32_t entries_max);
/* match(ctx, entry) says whether entry holds the key being looked for. */
typedef bool (*idtable_match_fn)(const void *ctx, uint32_t entry);
uint32_t idtable_find(const struct idtable *index, uint32_t hash, idtable_match_fn match,
                      const void *ctx);
/* Inserts an entry number whose key is absent (the caller looked first). */
void idtable_insert(struct idtable *index, uint32_t hash, uint32_t entry);
/* The hash an entry's key has (what its insert was given). */
typedef uint32_t (*idtable_hash_fn)(const void *ctx, uint32_t entry);
/* Removes an entry (present, inserted under hash): the entries after it in
 * its probe run move back, so no tombstone is left and finds stay short. */
void idtable_remove(struct idtable *index, uint32_t hash, uint32_t entry, idtable_hash_fn hash_of,
                    const void *ctx);
/* A node id's hash (a bijective mixer, so ids spread over the slots). */
uint32_t idtable_hash_u32(uint32_t key);

/* Sorts rows of `size` bytes (<= 64) by the uint32_t each begins with. */
void idtable_sort_by_u32(void *rows, size_t count, size_t size);

/* The next `bytes` of *cursor, aligned to 8; advances *cursor. With
 * base NULL, only counts (for ..._bytes()). */
void *idtable_carve(uint8_t *base, size_t *cursor, size_t bytes);

#endif /* FAII_SETTLE_IDTABLE_H */
