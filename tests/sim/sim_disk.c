/* SPDX-License-Identifier: BSD-3-Clause */
/* The simulated disk: see sim_disk.h for the model and the faults. */
#include "sim_disk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"

#define DIRECT_ALIGN_BYTES 4096u
#define GROW_STEP_BYTES    4096ull /* the first allocation of a file; then doubling */
#define TRACE_PRINT_NAMES  8u      /* names per inode shown in a printed trace */

/* What an event in the trace records: an operation or a decision. */
enum sim_op {
	SIM_OP_MKDIR = 1,
	SIM_OP_LIST_DIR,
	SIM_OP_FSYNC_DIR,
	SIM_OP_RENAME,
	SIM_OP_UNLINK,
	SIM_OP_OPEN,
	SIM_OP_CLOSE,
	SIM_OP_LOCK,
	SIM_OP_SIZE,
	SIM_OP_PREAD,
	SIM_OP_PWRITE,
	SIM_OP_DATASYNC,
	SIM_OP_FALLOCATE,
	SIM_OP_FTRUNCATE,
	SIM_OP_MAP,
	SIM_OP_BATCH_WRITE,
	SIM_OP_BATCH_SYNC,
	SIM_OP_BATCH_DONE,
	SIM_OP_CRASH,     /* the disk froze */
	SIM_OP_RESTART,   /* detail: enum sim_restart */
	SIM_OP_LAND,      /* power loss or failed sync: a write's fate (detail: enum land) */
	SIM_OP_NAMES,     /* power loss: name changes kept (len) of a directory's (offset) */
	SIM_OP_SIZE_KEPT, /* power loss or failed sync: the unsynced size held (detail 1) or not */
	SIM_OP_EVICT,     /* the pending-write bound: the oldest write reached the media */
	SIM_OP_KINDS
};

enum land { LAND_ALL, LAND_SOME, LAND_NONE };

struct sim_trace_event {
	uint64_t op_index; /* the operation counter when it happened */
	uint64_t offset;
	uint32_t len;
	int32_t result;
	uint16_t op;    /* enum sim_op */
	uint16_t fault; /* enum sim_fault */
	uint16_t inode; /* 0xFFFF: none */
	uint16_t detail;
};
FAII_STATIC_ASSERT(sizeof(struct sim_trace_event) == 32, "trace events have no padding");

struct sim_inode {
	bool used;
	uint8_t *cache; /* what reads see */
	uint8_t *media; /* what survives a power loss */
	uint8_t *dirty; /* per sector: the cache may differ from the media */
	uint64_t cache_size, media_size;
	uint64_t alloc_bytes; /* of cache and media each; dirty has alloc/sector */
	int lock_holder;      /* handle, or -1 */
	unsigned handles;
	unsigned maps;  /* views into the cache: it must not move */
	bool read_flip; /* a latent sector error: reads see this bit flipped */
	uint64_t read_flip_offset;
	uint8_t read_flip_mask;
};

struct sim_name {
	bool used;
	bool is_dir;
	int inode; /* -1 for a directory */
	char path[SIM_PATH_BYTES_MAX];
};

enum name_op_kind { NAME_CREATE, NAME_RENAME, NAME_UNLINK, NAME_MKDIR };

struct sim_name_op {
	enum name_op_kind kind;
	int inode;
	char dir[SIM_PATH_BYTES_MAX]; /* the directory whose fsync makes it durable */
	char path[SIM_PATH_BYTES_MAX];
	char to[SIM_PATH_BYTES_MAX]; /* rename */
};

struct sim_pending_write {
	int inode;
	uint64_t offset, len;
	bool flip; /* WRITE_FLIP: this bit of the write reaches the media flipped */
	uint64_t flip_offset;
	uint8_t flip_mask;
};

struct sim_handle {
	bool used;
	int inode;
	unsigned flags;
};

struct sim_map {
	bool used;
	bool copied; /* a copy (a read flip in it), else the cache itself */
	int inode;
	const uint8_t *view;
};

struct faii_store_io_queue {
	struct sim_disk *disk;
	uint8_t *bufs[FAII_STORE_IO_QUEUE_BUFFERS_MAX];
	size_t buf_bytes;
	unsigned buf_count;
	int file;
	bool in_flight;
	uint32_t polls_left; /* DELAY: reaps that find it not yet done */
	struct faii_store_io_completion result;
};

struct sim_disk {
	pthread_mutex_t lock;
	struct faii_store_io io;
	struct sim_disk_options opt;
	uint64_t rng;
	uint64_t ops;
	bool frozen;
	uint64_t crash_at_op;
	bool crash_in_next_write;
	uint32_t crash_landed_bytes;
	uint64_t faults[SIM_FAULT_KINDS];
	struct sim_inode inodes[SIM_INODES_MAX];
	struct sim_name cache_names[SIM_NAMES_MAX];
	struct sim_name media_names[SIM_NAMES_MAX];
	struct sim_name_op name_ops[SIM_NAME_OPS_MAX];
	unsigned name_op_count;
	struct sim_pending_write pending[SIM_PENDING_WRITES_MAX];
	unsigned pending_count;
	struct sim_handle handles[SIM_HANDLES_MAX];
	struct sim_map maps[SIM_MAPS_MAX];
	struct sim_trace_event trace[SIM_TRACE_EVENTS_MAX];
	uint64_t trace_count;
	uint64_t trace_hash;
};

/* memcpy and memset of [off, off + n) that accept an empty range of a file
 * with no buffer yet (NULL). */
static void copy_bytes(void *dst, uint64_t dst_off, const void *src, uint64_t src_off, uint64_t n)
{
	if (n > 0)
		memcpy((uint8_t *)dst + dst_off, (const uint8_t *)src + src_off, n);
}

static void zero_bytes(void *dst, uint64_t off, uint64_t n)
{
	if (n > 0)
		memset((uint8_t *)dst + off, 0, n);
}

/* ---- the seed's decisions and the trace ------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* splitmix64: one stream per disk, drawn in operation order. */
static uint64_t rng_next(struct sim_disk *d)
{
	d->rng += 0x9E3779B97F4A7C15ull;
	return mix64(d->rng);
}

static uint64_t rng_below(struct sim_disk *d, uint64_t n)
{
	FAII_ASSERT(n > 0);
	return rng_next(d) % n;
}

static void trace(struct sim_disk *d, enum sim_op op, enum sim_fault fault, int inode,
                  uint64_t offset, uint64_t len, int64_t result, unsigned detail)
{
	FAII_ASSERT(op > 0 && op < SIM_OP_KINDS && fault < SIM_FAULT_KINDS);
	struct sim_trace_event e = {
	        .op_index = d->ops,
	        .offset = offset,
	        .len = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len),
	        .result = (int32_t)(result < INT32_MIN ? INT32_MIN : result),
	        .op = (uint16_t)op,
	        .fault = (uint16_t)fault,
	        .inode = (uint16_t)(inode < 0 ? 0xFFFF : inode),
	        .detail = (uint16_t)detail,
	};
	d->trace[d->trace_count % SIM_TRACE_EVENTS_MAX] = e;
	d->trace_count++;
	uint64_t words[4];
	memcpy(words, &e, sizeof(e));
	for (unsigned i = 0; i < 4; i++)
		d->trace_hash = mix64(d->trace_hash ^ words[i]) + 0x9E3779B97F4A7C15ull;
}

/* One draw per operation: the fault it suffers among those it admits. */
static enum sim_fault draw_fault(struct sim_disk *d, unsigned admits)
{
	uint64_t roll = rng_below(d, SIM_PPM), acc = 0;
	for (unsigned k = 1; k < SIM_FAULT_KINDS; k++) {
		if (!(admits & (1u << k)))
			continue;
		acc += d->opt.fault_ppm[k];
		if (roll < acc) {
			d->faults[k]++;
			return (enum sim_fault)k;
		}
	}
	return SIM_FAULT_NONE;
}

#define ADMITS(k) (1u << (k))

static int fault_errno(enum sim_fault f)
{
	return f == SIM_FAULT_ENOSPC ? -ENOSPC : -EIO;
}

/*
 * Counts an operation. -EIO when the disk is frozen; *crash_here when the
 * crash point is this operation (the caller lands what it must, then freezes).
 */
static int op_begin(struct sim_disk *d, bool *crash_here)
{
	*crash_here = false;
	if (d->frozen)
		return -EIO;
	d->ops++;
	*crash_here = d->crash_at_op != 0 && d->ops == d->crash_at_op;
	return 0;
}

static void freeze(struct sim_disk *d, enum sim_op during, int inode)
{
	FAII_ASSERT(!d->frozen);
	d->frozen = true;
	d->crash_at_op = 0;
	d->crash_in_next_write = false;
	trace(d, SIM_OP_CRASH, SIM_FAULT_NONE, inode, 0, 0, 0, (unsigned)during);
}

/* ---- names ---------------------------------------------------------------------- */

/* The directory holding path: "/" for "/x", "." for "x". */
static void parent_of(const char *path, char out[SIM_PATH_BYTES_MAX])
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(out, SIM_PATH_BYTES_MAX, ".");
	else if (slash == path)
		snprintf(out, SIM_PATH_BYTES_MAX, "/");
	else
		snprintf(out, SIM_PATH_BYTES_MAX, "%.*s", (int)(slash - path), path);
}

static int find_name(const struct sim_name *names, const char *path)
{
	for (unsigned i = 0; i < SIM_NAMES_MAX; i++) {
		if (names[i].used && strcmp(names[i].path, path) == 0)
			return (int)i;
	}
	return -1;
}

static bool dir_exists(const struct sim_name *names, const char *path)
{
	if (strcmp(path, "/") == 0 || strcmp(path, ".") == 0)
		return true;
	int i = find_name(names, path);
	return i >= 0 && names[i].is_dir;
}

/* Adds or replaces path; false when the table is full. */
static bool put_name(struct sim_name *names, const char *path, bool is_dir, int inode)
{
	int i = find_name(names, path);
	for (unsigned j = 0; i < 0 && j < SIM_NAMES_MAX; j++) {
		if (!names[j].used)
			i = (int)j;
	}
	if (i < 0)
		return false;
	names[i] = (struct sim_name){.used = true, .is_dir = is_dir, .inode = inode};
	snprintf(names[i].path, SIM_PATH_BYTES_MAX, "%s", path);
	return true;
}

static void apply_name_op(struct sim_name *names, const struct sim_name_op *op)
{
	int i = find_name(names, op->path);
	switch (op->kind) {
	case NAME_CREATE: FAII_ASSERT(put_name(names, op->path, false, op->inode)); break;
	case NAME_MKDIR: FAII_ASSERT(put_name(names, op->path, true, -1)); break;
	case NAME_UNLINK:
		if (i >= 0)
			names[i].used = false;
		break;
	case NAME_RENAME:
		if (i < 0)
			break;
		int to = find_name(names, op->to);
		if (to >= 0)
			names[to].used = false;
		snprintf(names[i].path, SIM_PATH_BYTES_MAX, "%s", op->to);
		break;
	}
}

static void drop_name_op(struct sim_disk *d, unsigned index)
{
	FAII_ASSERT(index < d->name_op_count);
	memmove(&d->name_ops[index], &d->name_ops[index + 1],
	        (d->name_op_count - index - 1) * sizeof(d->name_ops[0]));
	d->name_op_count--;
}

/* Queues a name change in its directory; beyond the bound the oldest commits. */
static void queue_name_op(struct sim_disk *d, enum name_op_kind kind, const char *path,
                          const char *to, int inode)
{
	if (d->name_op_count == SIM_NAME_OPS_MAX) {
		/* A journal may commit any time, in order: the oldest goes first. */
		apply_name_op(d->media_names, &d->name_ops[0]);
		drop_name_op(d, 0);
	}
	struct sim_name_op *op = &d->name_ops[d->name_op_count++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->inode = inode;
	parent_of(path, op->dir);
	snprintf(op->path, SIM_PATH_BYTES_MAX, "%s", path);
	if (to)
		snprintf(op->to, SIM_PATH_BYTES_MAX, "%s", to);
	FAII_ASSERT(d->name_op_count <= SIM_NAME_OPS_MAX);
}

/* ---- inodes --------------------------------------------------------------------- */

static uint64_t sectors_of(const struct sim_disk *d, uint64_t bytes)
{
	return (bytes + d->opt.sector_bytes - 1) / d->opt.sector_bytes;
}

static bool inode_referenced(const struct sim_disk *d, int inode)
{
	if (d->inodes[inode].handles > 0)
		return true;
	for (unsigned i = 0; i < SIM_NAMES_MAX; i++) {
		if ((d->cache_names[i].used && d->cache_names[i].inode == inode) ||
		    (d->media_names[i].used && d->media_names[i].inode == inode))
			return true;
	}
	for (unsigned i = 0; i < d->name_op_count; i++) {
		if (d->name_ops[i].inode == inode)
			return true;
	}
	return false;
}

static void drop_pending_of(struct sim_disk *d, int inode)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < d->pending_count; i++) {
		if (d->pending[i].inode != inode)
			d->pending[kept++] = d->pending[i];
	}
	d->pending_count = kept;
}

/* Frees the inodes nothing refers to any more. */
static void collect_inodes(struct sim_disk *d)
{
	for (unsigned i = 0; i < SIM_INODES_MAX; i++) {
		struct sim_inode *n = &d->inodes[i];
		if (!n->used || inode_referenced(d, (int)i))
			continue;
		drop_pending_of(d, (int)i);
		free(n->cache);
		free(n->media);
		free(n->dirty);
		memset(n, 0, sizeof(*n));
	}
}

static int new_inode(struct sim_disk *d)
{
	for (unsigned i = 0; i < SIM_INODES_MAX; i++) {
		if (!d->inodes[i].used) {
			d->inodes[i] = (struct sim_inode){.used = true, .lock_holder = -1};
			return (int)i;
		}
	}
	return -ENOSPC;
}

static uint64_t bytes_in_use(const struct sim_disk *d)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < SIM_INODES_MAX; i++) {
		const struct sim_inode *n = &d->inodes[i];
		if (n->used)
			sum += n->cache_size > n->media_size ? n->cache_size : n->media_size;
	}
	return sum;
}

/* Room for size bytes in both images: -ENOSPC past the file or disk bound. */
/* A buffer grown from old_bytes to bytes, the new part zero (calloc'd when new). */
static uint8_t *grow_zeroed(uint8_t *p, uint64_t old_bytes, uint64_t bytes)
{
	FAII_ASSERT(bytes > old_bytes);
	if (p == NULL)
		return calloc(bytes, 1); /* fresh pages: zero without touching them */
	uint8_t *grown = realloc(p, bytes);
	if (grown)
		memset(grown + old_bytes, 0, bytes - old_bytes);
	return grown;
}

/* Room for size bytes in both images: -ENOSPC past the file or disk bound. */
static int reserve(struct sim_disk *d, int inode, uint64_t size)
{
	struct sim_inode *n = &d->inodes[inode];
	uint64_t have = n->cache_size > n->media_size ? n->cache_size : n->media_size;
	if (size > SIM_FILE_BYTES_MAX ||
	    (size > have && bytes_in_use(d) + (size - have) > d->opt.capacity_bytes))
		return -ENOSPC;
	if (size <= n->alloc_bytes)
		return 0;
	FAII_ASSERT_MSG(n->maps == 0, "a mapped file grows: its view would move");
	/* Doubling from one step: small files stay small, segments come whole. */
	uint64_t alloc = n->alloc_bytes ? 2 * n->alloc_bytes : GROW_STEP_BYTES;
	alloc = alloc < size ? (size + GROW_STEP_BYTES - 1) / GROW_STEP_BYTES * GROW_STEP_BYTES
	                     : alloc;
	alloc = alloc > SIM_FILE_BYTES_MAX ? SIM_FILE_BYTES_MAX : alloc;
	uint8_t *cache = grow_zeroed(n->cache, n->alloc_bytes, alloc);
	if (cache)
		n->cache = cache;
	uint8_t *media = cache ? grow_zeroed(n->media, n->alloc_bytes, alloc) : NULL;
	if (media)
		n->media = media;
	uint8_t *dirty =
	        media ? grow_zeroed(n->dirty, sectors_of(d, n->alloc_bytes), sectors_of(d, alloc))
	              : NULL;
	if (dirty == NULL)
		return -ENOMEM; /* the buffers grown so far stay: alloc_bytes is still right */
	n->dirty = dirty;
	n->alloc_bytes = alloc;
	FAII_ASSERT(size <= n->alloc_bytes);
	return 0;
}

static void mark_dirty(struct sim_disk *d, struct sim_inode *n, uint64_t offset, uint64_t len)
{
	FAII_ASSERT(offset + len <= n->alloc_bytes);
	if (len == 0)
		return;
	for (uint64_t s = offset / d->opt.sector_bytes; s < sectors_of(d, offset + len); s++)
		n->dirty[s] = 1;
}

/* Copies sector s of the cache to the media. */
static void sector_to_media(struct sim_disk *d, struct sim_inode *n, uint64_t s)
{
	uint64_t off = s * d->opt.sector_bytes;
	FAII_ASSERT(off + d->opt.sector_bytes <= n->alloc_bytes);
	memcpy(n->media + off, n->cache + off, d->opt.sector_bytes);
}

/* The flipped bit of a write that reached the media in sector s. */
static void apply_write_flip(struct sim_disk *d, struct sim_inode *n,
                             const struct sim_pending_write *w, uint64_t s)
{
	if (w->flip && w->flip_offset / d->opt.sector_bytes == s)
		n->media[w->flip_offset] ^= w->flip_mask;
}

/* Remembers an unsynced write; past the bound the oldest reaches the media. */
static void add_pending(struct sim_disk *d, const struct sim_pending_write *w)
{
	if (d->pending_count == SIM_PENDING_WRITES_MAX) {
		/* A device may write a cached sector back whenever it likes. */
		const struct sim_pending_write *old = &d->pending[0];
		struct sim_inode *n = &d->inodes[old->inode];
		for (uint64_t s = old->offset / d->opt.sector_bytes;
		     s < sectors_of(d, old->offset + old->len); s++) {
			sector_to_media(d, n, s);
			apply_write_flip(d, n, old, s);
		}
		trace(d, SIM_OP_EVICT, SIM_FAULT_NONE, old->inode, old->offset, old->len, 0, 0);
		memmove(&d->pending[0], &d->pending[1],
		        (d->pending_count - 1) * sizeof(d->pending[0]));
		d->pending_count--;
	}
	d->pending[d->pending_count++] = *w;
	FAII_ASSERT(d->pending_count <= SIM_PENDING_WRITES_MAX);
}

/* ---- syncs, failed syncs and power loss ------------------------------------------- */

/* A remembered write's fate: its sectors not yet decided each reach the media or not. */
static void land_write(struct sim_disk *d, const struct sim_pending_write *w, uint8_t *decided)
{
	struct sim_inode *n = &d->inodes[w->inode];
	enum land fate = (enum land)rng_below(d, 3);
	trace(d, SIM_OP_LAND, SIM_FAULT_NONE, w->inode, w->offset, w->len, 0, fate);
	for (uint64_t s = w->offset / d->opt.sector_bytes; s < sectors_of(d, w->offset + w->len);
	     s++) {
		if (decided[s] || !n->dirty[s])
			continue;
		decided[s] = 1;
		bool lands = fate == LAND_ALL || (fate == LAND_SOME && rng_below(d, 2) == 1);
		if (lands) {
			sector_to_media(d, n, s);
			apply_write_flip(d, n, w, s);
		}
	}
}

static void zero_media_tail(struct sim_inode *n)
{
	FAII_ASSERT(n->media_size <= n->alloc_bytes);
	zero_bytes(n->media, n->media_size, n->alloc_bytes - n->media_size);
}

/*
 * What reaches the media of an inode's unsynced state when it is lost (a
 * power loss, a failed sync): the newest write decides a sector; sectors no
 * remembered write covers go either way; an unsynced size holds or not.
 */
static void decide_unsynced(struct sim_disk *d, int inode)
{
	struct sim_inode *n = &d->inodes[inode];
	uint64_t sectors = sectors_of(d, n->alloc_bytes);
	uint8_t *decided = calloc(sectors + 1, 1);
	FAII_ASSERT(decided != NULL);
	for (unsigned p = d->pending_count; p-- > 0;) {
		if (d->pending[p].inode == inode)
			land_write(d, &d->pending[p], decided);
	}
	for (uint64_t s = 0; s < sectors; s++) {
		if (n->dirty[s] && !decided[s] && rng_below(d, 2) == 1)
			sector_to_media(d, n, s);
	}
	free(decided);
	drop_pending_of(d, inode);
	if (n->cache_size != n->media_size) {
		bool held = rng_below(d, 2) == 1;
		trace(d, SIM_OP_SIZE_KEPT, SIM_FAULT_NONE, inode, n->media_size, n->cache_size, 0,
		      held);
		if (held)
			n->media_size = n->cache_size;
	}
	zero_media_tail(n);
	zero_bytes(n->dirty, 0, sectors);
}

/* A successful sync: every dirty sector and the size reach the media. */
static void sync_inode(struct sim_disk *d, int inode)
{
	struct sim_inode *n = &d->inodes[inode];
	uint64_t sectors = sectors_of(d, n->alloc_bytes);
	for (uint64_t s = 0; s < sectors; s++) {
		if (n->dirty[s])
			sector_to_media(d, n, s);
	}
	for (unsigned p = 0; p < d->pending_count; p++) {
		const struct sim_pending_write *w = &d->pending[p];
		if (w->inode == inode && w->flip)
			apply_write_flip(d, n, w, w->flip_offset / d->opt.sector_bytes);
	}
	drop_pending_of(d, inode);
	zero_bytes(n->dirty, 0, sectors);
	n->media_size = n->cache_size;
	zero_media_tail(n);
	FAII_ASSERT(n->media_size == n->cache_size);
}

/* Each directory keeps a prefix of its unsynced name changes. */
static void lose_power_names(struct sim_disk *d)
{
	bool done[SIM_NAME_OPS_MAX] = {false};
	for (unsigned i = 0; i < d->name_op_count; i++) {
		if (done[i])
			continue;
		const char *dir = d->name_ops[i].dir;
		unsigned count = 0;
		for (unsigned j = i; j < d->name_op_count; j++)
			count += strcmp(d->name_ops[j].dir, dir) == 0;
		unsigned keep = (unsigned)rng_below(d, count + 1);
		trace(d, SIM_OP_NAMES, SIM_FAULT_NONE, -1, count, keep, 0, 0);
		for (unsigned j = i, seen = 0; j < d->name_op_count; j++) {
			if (strcmp(d->name_ops[j].dir, dir) != 0)
				continue;
			done[j] = true;
			if (seen++ < keep)
				apply_name_op(d->media_names, &d->name_ops[j]);
		}
	}
	d->name_op_count = 0;
	/* A name whose directory did not survive goes with it; each pass removes
	 * one level at least, and there are fewer levels than names. */
	for (unsigned pass = 0; pass < SIM_NAMES_MAX; pass++) {
		bool removed = false;
		for (unsigned i = 0; i < SIM_NAMES_MAX; i++) {
			char parent[SIM_PATH_BYTES_MAX];
			if (!d->media_names[i].used)
				continue;
			parent_of(d->media_names[i].path, parent);
			if (!dir_exists(d->media_names, parent)) {
				d->media_names[i].used = false;
				removed = true;
			}
		}
		if (!removed)
			break;
	}
	memcpy(d->cache_names, d->media_names, sizeof(d->cache_names));
}

static void lose_power(struct sim_disk *d)
{
	for (unsigned i = 0; i < SIM_INODES_MAX; i++) {
		struct sim_inode *n = &d->inodes[i];
		if (!n->used)
			continue;
		uint64_t used = n->cache_size > n->media_size ? n->cache_size : n->media_size;
		decide_unsynced(d, (int)i);
		/* The page cache is gone: reads see the media (zero past both sizes). */
		copy_bytes(n->cache, 0, n->media, 0, used);
		n->cache_size = n->media_size;
	}
	FAII_ASSERT(d->pending_count == 0);
	lose_power_names(d);
	collect_inodes(d);
}

/* ---- directories and names ------------------------------------------------------- */

static int sim_mkdir(void *ctx, const char *path)
{
	struct sim_disk *d = ctx;
	FAII_ASSERT(strlen(path) < SIM_PATH_BYTES_MAX);
	pthread_mutex_lock(&d->lock);
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	char parent[SIM_PATH_BYTES_MAX];
	parent_of(path, parent);
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_MKDIR, -1);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO) | ADMITS(SIM_FAULT_ENOSPC));
		if (f != SIM_FAULT_NONE)
			rc = fault_errno(f);
		else if (find_name(d->cache_names, path) >= 0 || dir_exists(d->cache_names, path))
			rc = -EEXIST;
		else if (!dir_exists(d->cache_names, parent))
			rc = -ENOENT;
		else if (!put_name(d->cache_names, path, true, -1))
			rc = -ENOSPC;
		else
			queue_name_op(d, NAME_MKDIR, path, NULL, -1);
	}
	trace(d, SIM_OP_MKDIR, f, -1, 0, 0, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* The names directly in dir, copied so that the callback runs unlocked. */
static unsigned collect_children(struct sim_disk *d, const char *dir,
                                 char (*names)[SIM_PATH_BYTES_MAX])
{
	unsigned count = 0;
	for (unsigned i = 0; i < SIM_NAMES_MAX; i++) {
		char parent[SIM_PATH_BYTES_MAX];
		if (!d->cache_names[i].used)
			continue;
		parent_of(d->cache_names[i].path, parent);
		if (strcmp(parent, dir) != 0)
			continue;
		const char *slash = strrchr(d->cache_names[i].path, '/');
		snprintf(names[count++], SIM_PATH_BYTES_MAX, "%s",
		         slash ? slash + 1 : d->cache_names[i].path);
	}
	FAII_ASSERT(count <= SIM_NAMES_MAX);
	return count;
}

static int sim_list_dir(void *ctx, const char *path, faii_store_io_name_fn fn, void *arg)
{
	struct sim_disk *d = ctx;
	char(*names)[SIM_PATH_BYTES_MAX] = malloc(SIM_NAMES_MAX * SIM_PATH_BYTES_MAX);
	FAII_ASSERT(names != NULL);
	pthread_mutex_lock(&d->lock);
	bool crash;
	unsigned count = 0;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_LIST_DIR, -1);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO));
		if (f != SIM_FAULT_NONE)
			rc = fault_errno(f);
		else if (!dir_exists(d->cache_names, path))
			rc = -ENOENT;
		else
			count = collect_children(d, path, names);
	}
	trace(d, SIM_OP_LIST_DIR, f, -1, 0, count, rc, 0);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; rc == 0 && i < count; i++)
		rc = fn(arg, names[i]);
	free(names);
	return rc;
}

static int sim_fsync_dir(void *ctx, const char *path)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	unsigned committed = 0;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_FSYNC_DIR, -1);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO));
		if (f != SIM_FAULT_NONE)
			rc = fault_errno(f); /* the changes stay unsynced */
		else if (!dir_exists(d->cache_names, path))
			rc = -ENOENT;
	}
	for (unsigned i = 0; rc == 0 && i < d->name_op_count;) {
		if (strcmp(d->name_ops[i].dir, path) != 0) {
			i++;
			continue;
		}
		apply_name_op(d->media_names, &d->name_ops[i]);
		drop_name_op(d, i);
		committed++;
	}
	collect_inodes(d);
	trace(d, SIM_OP_FSYNC_DIR, f, -1, 0, committed, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_rename(void *ctx, const char *from, const char *to)
{
	struct sim_disk *d = ctx;
	char from_dir[SIM_PATH_BYTES_MAX], to_dir[SIM_PATH_BYTES_MAX];
	parent_of(from, from_dir);
	parent_of(to, to_dir);
	FAII_ASSERT_MSG(strcmp(from_dir, to_dir) == 0, "rename across directories: %s -> %s", from,
	                to);
	pthread_mutex_lock(&d->lock);
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	int i = find_name(d->cache_names, from), inode = i >= 0 ? d->cache_names[i].inode : -1;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_RENAME, inode);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO));
		int target = find_name(d->cache_names, to);
		if (f != SIM_FAULT_NONE)
			rc = fault_errno(f);
		else if (i < 0)
			rc = -ENOENT;
		else if (d->cache_names[i].is_dir || (target >= 0 && d->cache_names[target].is_dir))
			rc = -EISDIR;
		if (rc == 0) {
			struct sim_name_op op = {.kind = NAME_RENAME};
			snprintf(op.path, sizeof(op.path), "%s", from);
			snprintf(op.to, sizeof(op.to), "%s", to);
			apply_name_op(d->cache_names, &op);
			queue_name_op(d, NAME_RENAME, from, to, inode);
			collect_inodes(d);
		}
	}
	trace(d, SIM_OP_RENAME, f, inode, 0, 0, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_unlink(void *ctx, const char *path)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	int i = find_name(d->cache_names, path), inode = i >= 0 ? d->cache_names[i].inode : -1;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_UNLINK, inode);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO));
		if (f != SIM_FAULT_NONE)
			rc = fault_errno(f);
		else if (i < 0)
			rc = -ENOENT;
		else if (d->cache_names[i].is_dir)
			rc = -EISDIR;
		if (rc == 0) {
			d->cache_names[i].used = false;
			queue_name_op(d, NAME_UNLINK, path, NULL, inode);
			collect_inodes(d);
		}
	}
	trace(d, SIM_OP_UNLINK, f, inode, 0, 0, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* ---- files ------------------------------------------------------------------------ */

static struct sim_handle *handle_of(struct sim_disk *d, int file)
{
	FAII_ASSERT_MSG(file >= 0 && (unsigned)file < SIM_HANDLES_MAX && d->handles[file].used,
	                "file handle %d is not open", file);
	FAII_ASSERT(d->inodes[d->handles[file].inode].used);
	return &d->handles[file];
}

static void truncate_cache(struct sim_disk *d, int inode, uint64_t size)
{
	struct sim_inode *n = &d->inodes[inode];
	FAII_ASSERT(size <= n->cache_size);
	zero_bytes(n->cache, size, n->cache_size - size);
	mark_dirty(d, n, size, n->cache_size - size);
	n->cache_size = size;
}

/* The name's inode for open, created if asked: >= 0 or a negative errno. */
static int open_inode(struct sim_disk *d, const char *path, unsigned flags)
{
	int i = find_name(d->cache_names, path);
	if (i >= 0)
		return d->cache_names[i].is_dir ? -EISDIR : d->cache_names[i].inode;
	if (!(flags & FAII_STORE_IO_CREATE))
		return -ENOENT;
	char parent[SIM_PATH_BYTES_MAX];
	parent_of(path, parent);
	if (!dir_exists(d->cache_names, parent))
		return -ENOENT;
	int inode = new_inode(d);
	if (inode < 0)
		return inode;
	if (!put_name(d->cache_names, path, false, inode)) {
		d->inodes[inode].used = false;
		return -ENOSPC;
	}
	queue_name_op(d, NAME_CREATE, path, NULL, inode);
	return inode;
}

static int new_handle(struct sim_disk *d, int inode, unsigned flags)
{
	for (unsigned h = 0; h < SIM_HANDLES_MAX; h++) {
		if (!d->handles[h].used) {
			d->handles[h] =
			        (struct sim_handle){.used = true, .inode = inode, .flags = flags};
			d->inodes[inode].handles++;
			return (int)h;
		}
	}
	return -EMFILE;
}

static int sim_open(void *ctx, const char *path, unsigned flags)
{
	struct sim_disk *d = ctx;
	FAII_ASSERT(strlen(path) < SIM_PATH_BYTES_MAX);
	pthread_mutex_lock(&d->lock);
	bool crash;
	int rc = op_begin(d, &crash), inode = -1;
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_OPEN, -1);
		rc = -EIO;
	} else if (rc == 0) {
		unsigned admits = ADMITS(SIM_FAULT_EIO);
		if (flags & FAII_STORE_IO_CREATE)
			admits |= ADMITS(SIM_FAULT_ENOSPC);
		f = draw_fault(d, admits);
		rc = f != SIM_FAULT_NONE ? fault_errno(f) : open_inode(d, path, flags);
	}
	if (rc >= 0) {
		inode = rc;
		rc = new_handle(d, inode, flags);
		if (rc >= 0 && (flags & FAII_STORE_IO_TRUNCATE))
			truncate_cache(d, inode, 0);
		collect_inodes(d);
	}
	trace(d, SIM_OP_OPEN, f, inode, 0, flags, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void sim_close(void *ctx, int file)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	struct sim_inode *n = &d->inodes[h->inode];
	FAII_ASSERT(n->handles > 0);
	n->handles--;
	if (n->lock_holder == file)
		n->lock_holder = -1;
	trace(d, SIM_OP_CLOSE, SIM_FAULT_NONE, h->inode, 0, 0, 0, 0);
	h->used = false;
	collect_inodes(d);
	pthread_mutex_unlock(&d->lock);
}

/* Operations on an open file without faults of their own: lock and size. */
static int64_t plain_file_op(struct sim_disk *d, int file, enum sim_op op)
{
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	struct sim_inode *n = &d->inodes[h->inode];
	bool crash;
	int64_t rc = op_begin(d, &crash);
	if (rc == 0 && crash) {
		freeze(d, op, h->inode);
		rc = -EIO;
	} else if (rc == 0 && op == SIM_OP_SIZE) {
		rc = (int64_t)n->cache_size;
	} else if (rc == 0 && n->lock_holder >= 0 && n->lock_holder != file) {
		rc = -EWOULDBLOCK;
	} else if (rc == 0) {
		n->lock_holder = file;
	}
	trace(d, op, SIM_FAULT_NONE, h->inode, 0, 0, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_lock(void *ctx, int file)
{
	return (int)plain_file_op(ctx, file, SIM_OP_LOCK);
}

static int64_t sim_size(void *ctx, int file)
{
	return plain_file_op(ctx, file, SIM_OP_SIZE);
}

/* Bit flips a read of [offset, offset + len) returns: latent, then drawn. */
static void flip_read(struct sim_disk *d, const struct sim_inode *n, uint8_t *buf, uint64_t offset,
                      uint64_t len, enum sim_fault f)
{
	if (n->read_flip && n->read_flip_offset >= offset && n->read_flip_offset < offset + len)
		buf[n->read_flip_offset - offset] ^= n->read_flip_mask;
	if (f == SIM_FAULT_READ_FLIP && len > 0)
		buf[rng_below(d, len)] ^= (uint8_t)(1u << rng_below(d, 8));
}

static int64_t sim_pread(void *ctx, int file, void *buf, size_t len, uint64_t offset)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	struct sim_inode *n = &d->inodes[h->inode];
	bool crash;
	int64_t rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_PREAD, h->inode);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO) | ADMITS(SIM_FAULT_READ_FLIP));
		if (f == SIM_FAULT_EIO) {
			rc = -EIO;
		} else {
			uint64_t n_bytes = offset >= n->cache_size ? 0 : n->cache_size - offset;
			n_bytes = n_bytes < len ? n_bytes : len;
			copy_bytes(buf, 0, n->cache, offset, n_bytes);
			flip_read(d, n, buf, offset, n_bytes, f);
			rc = (int64_t)n_bytes;
		}
	}
	trace(d, SIM_OP_PREAD, f, h->inode, offset, len, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/*
 * Puts [offset, offset + len) of buf into the cache, every sector of it
 * (LAND_ALL) or each with even odds (LAND_SOME), dirty and remembered.
 */
static void put_in_cache(struct sim_disk *d, int inode, const uint8_t *buf, uint64_t offset,
                         uint64_t len, enum land how, const struct sim_pending_write *flip)
{
	struct sim_inode *n = &d->inodes[inode];
	FAII_ASSERT(offset + len <= n->alloc_bytes && how != LAND_NONE);
	uint64_t end = offset + len;
	bool landed = false;
	for (uint64_t pos = offset; pos < end;) {
		uint64_t sector_end = (pos / d->opt.sector_bytes + 1) * d->opt.sector_bytes;
		uint64_t piece = (sector_end < end ? sector_end : end) - pos;
		if (how == LAND_ALL || rng_below(d, 2) == 1) {
			memcpy(n->cache + pos, buf + (pos - offset), piece);
			mark_dirty(d, n, pos, piece);
			landed = true;
		}
		pos += piece;
	}
	if (landed && end > n->cache_size)
		n->cache_size = end;
	struct sim_pending_write w = {.inode = inode, .offset = offset, .len = len};
	if (flip) {
		w.flip = true;
		w.flip_offset = flip->flip_offset;
		w.flip_mask = flip->flip_mask;
	}
	if (len > 0)
		add_pending(d, &w);
}

/* The crash point inside a write: what lands first. */
static int64_t crash_in_write(struct sim_disk *d, int inode, const uint8_t *buf, uint64_t len,
                              uint64_t offset, enum sim_op op)
{
	bool prefix = d->crash_in_next_write;
	uint64_t landed = prefix && d->crash_landed_bytes < len ? d->crash_landed_bytes : len;
	if (landed > 0 && reserve(d, inode, offset + landed) == 0)
		put_in_cache(d, inode, buf, offset, landed, prefix ? LAND_ALL : LAND_SOME, NULL);
	freeze(d, op, inode);
	return -EIO;
}

/*
 * A write of len bytes at offset through the fault model: bytes written
 * (fewer for a short write) or a negative errno; *fault what was drawn.
 */
static int64_t write_bytes(struct sim_disk *d, int inode, const uint8_t *buf, uint64_t len,
                           uint64_t offset, bool crash, enum sim_op op, enum sim_fault *fault)
{
	*fault = SIM_FAULT_NONE;
	if (crash || d->crash_in_next_write)
		return crash_in_write(d, inode, buf, len, offset, op);
	*fault =
	        draw_fault(d, ADMITS(SIM_FAULT_EIO) | ADMITS(SIM_FAULT_ENOSPC) |
	                              ADMITS(SIM_FAULT_SHORT_WRITE) | ADMITS(SIM_FAULT_TORN_WRITE) |
	                              ADMITS(SIM_FAULT_WRITE_FLIP) | ADMITS(SIM_FAULT_LOST_WRITE));
	if (*fault == SIM_FAULT_EIO || *fault == SIM_FAULT_ENOSPC)
		return fault_errno(*fault);
	int rc = reserve(d, inode, offset + len);
	if (rc != 0)
		return rc;
	struct sim_inode *n = &d->inodes[inode];
	switch (*fault) {
	case SIM_FAULT_SHORT_WRITE: {
		uint64_t part = len > 1 ? 1 + rng_below(d, len - 1) : len;
		put_in_cache(d, inode, buf, offset, part, LAND_ALL, NULL);
		return (int64_t)part;
	}
	case SIM_FAULT_TORN_WRITE:
		put_in_cache(d, inode, buf, offset, len, LAND_SOME, NULL);
		return -EIO;
	case SIM_FAULT_LOST_WRITE:
		/* The cache has it; nothing marks it for the media. */
		copy_bytes(n->cache, offset, buf, 0, len);
		n->cache_size = offset + len > n->cache_size ? offset + len : n->cache_size;
		return (int64_t)len;
	case SIM_FAULT_WRITE_FLIP: {
		struct sim_pending_write flip = {.flip_offset =
		                                         offset + rng_below(d, len ? len : 1),
		                                 .flip_mask = (uint8_t)(1u << rng_below(d, 8))};
		put_in_cache(d, inode, buf, offset, len, LAND_ALL, len ? &flip : NULL);
		return (int64_t)len;
	}
	default: put_in_cache(d, inode, buf, offset, len, LAND_ALL, NULL); return (int64_t)len;
	}
}

static bool direct_aligned(const struct sim_handle *h, const void *buf, uint64_t len,
                           uint64_t offset)
{
	return !(h->flags & FAII_STORE_IO_DIRECT) ||
	       ((uintptr_t)buf % DIRECT_ALIGN_BYTES == 0 && len % DIRECT_ALIGN_BYTES == 0 &&
	        offset % DIRECT_ALIGN_BYTES == 0);
}

static int64_t sim_pwrite(void *ctx, int file, const void *buf, size_t len, uint64_t offset)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	bool crash;
	int64_t rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && !(h->flags & FAII_STORE_IO_READ_WRITE))
		rc = -EBADF;
	else if (rc == 0 && !direct_aligned(h, buf, len, offset))
		rc = -EINVAL;
	else if (rc == 0)
		rc = write_bytes(d, h->inode, buf, len, offset, crash, SIM_OP_PWRITE, &f);
	trace(d, SIM_OP_PWRITE, f, h->inode, offset, len, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* A sync's fault and effect on an inode (the crash point handled by the caller). */
static int sync_or_fail(struct sim_disk *d, int inode, unsigned admits, enum sim_fault *f)
{
	*f = draw_fault(d, admits);
	if (*f == SIM_FAULT_EIO) {
		/* fsyncgate: the writeback failed; what reached the media is
		 * decided now, and the cache no longer counts it as dirty. */
		decide_unsynced(d, inode);
		return -EIO;
	}
	sync_inode(d, inode);
	return 0;
}

static int sync_file(struct sim_disk *d, int file)
{
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_DATASYNC, h->inode);
		rc = -EIO;
	} else if (rc == 0) {
		rc = sync_or_fail(d, h->inode, ADMITS(SIM_FAULT_EIO), &f);
	}
	trace(d, SIM_OP_DATASYNC, f, h->inode, 0, 0, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* fdatasync and fsync: the model makes no difference (the size is data). */
static int sim_datasync(void *ctx, int file)
{
	return sync_file(ctx, file);
}

static int sim_fsync(void *ctx, int file)
{
	return sync_file(ctx, file);
}

/* fallocate and ftruncate: size changes, room permitting. */
static int resize_file(struct sim_disk *d, int file, enum sim_op op, unsigned mode,
                       uint64_t new_size)
{
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	struct sim_inode *n = &d->inodes[h->inode];
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, op, h->inode);
		rc = -EIO;
	} else if (rc == 0) {
		unsigned admits = ADMITS(SIM_FAULT_EIO);
		if (op == SIM_OP_FALLOCATE)
			admits |= ADMITS(SIM_FAULT_ENOSPC);
		f = draw_fault(d, admits);
		rc = f != SIM_FAULT_NONE ? fault_errno(f) : 0;
	}
	if (rc == 0 && op == SIM_OP_FTRUNCATE && new_size < n->cache_size) {
		truncate_cache(d, h->inode, new_size);
	} else if (rc == 0 && new_size > n->cache_size) {
		rc = reserve(d, h->inode, new_size);
		if (rc == 0 && !(mode & FAII_STORE_IO_KEEP_SIZE))
			n->cache_size = new_size; /* zeros: both images are zero past the size */
	}
	trace(d, op, f, h->inode, 0, new_size, rc, mode);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_fallocate(void *ctx, int file, unsigned mode, uint64_t offset, uint64_t len)
{
	FAII_ASSERT((mode & ~FAII_STORE_IO_KEEP_SIZE) == 0);
	return resize_file(ctx, file, SIM_OP_FALLOCATE, mode, offset + len);
}

static int sim_ftruncate(void *ctx, int file, uint64_t len)
{
	return resize_file(ctx, file, SIM_OP_FTRUNCATE, 0, len);
}

static int sim_map(void *ctx, int file, uint64_t len, const void **out)
{
	struct sim_disk *d = ctx;
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, file);
	struct sim_inode *n = &d->inodes[h->inode];
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_MAP, h->inode);
		rc = -EIO;
	} else if (rc == 0) {
		f = draw_fault(d, ADMITS(SIM_FAULT_EIO) | ADMITS(SIM_FAULT_READ_FLIP));
		rc = f == SIM_FAULT_EIO                ? -EIO
		     : len == 0 || len > n->cache_size ? -EINVAL
		                                       : -ENOMEM;
	}
	for (unsigned m = 0; rc == -ENOMEM && m < SIM_MAPS_MAX; m++) {
		if (d->maps[m].used)
			continue;
		/* Like a shared mapping, a view of the cache itself; a copy only
		 * when a bit must read flipped. */
		bool copy = f == SIM_FAULT_READ_FLIP || n->read_flip;
		uint8_t *view = copy ? malloc(len) : NULL;
		FAII_ASSERT(!copy || view != NULL);
		if (copy) {
			memcpy(view, n->cache, len);
			flip_read(d, n, view, 0, len, f);
		}
		d->maps[m] = (struct sim_map){.used = true,
		                              .copied = copy,
		                              .inode = h->inode,
		                              .view = copy ? view : n->cache};
		n->maps++;
		*out = d->maps[m].view;
		rc = 0;
	}
	trace(d, SIM_OP_MAP, f, h->inode, 0, len, rc, 0);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void sim_unmap(void *ctx, int file, const void *view, uint64_t len)
{
	struct sim_disk *d = ctx;
	(void)file, (void)len;
	pthread_mutex_lock(&d->lock);
	bool found = false;
	for (unsigned m = 0; m < SIM_MAPS_MAX && !found; m++) {
		if (d->maps[m].used && d->maps[m].view == view) {
			if (d->maps[m].copied)
				free((void *)(uintptr_t)d->maps[m].view);
			FAII_ASSERT(d->inodes[d->maps[m].inode].maps > 0);
			d->inodes[d->maps[m].inode].maps--;
			d->maps[m].used = false;
			found = true;
		}
	}
	FAII_ASSERT_MSG(found, "unmap of a view that was not mapped");
	pthread_mutex_unlock(&d->lock);
}

/* ---- the batch queue ------------------------------------------------------------- */

static int sim_queue_open(void *ctx, void *const bufs[], unsigned buf_count, size_t buf_bytes,
                          struct faii_store_io_queue **out)
{
	FAII_ASSERT(buf_count >= 1 && buf_count <= FAII_STORE_IO_QUEUE_BUFFERS_MAX);
	struct faii_store_io_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->disk = ctx;
	for (unsigned i = 0; i < buf_count; i++)
		q->bufs[i] = bufs[i];
	q->buf_count = buf_count;
	q->buf_bytes = buf_bytes;
	q->file = -1;
	*out = q;
	return 0;
}

static void sim_queue_close(void *ctx, struct faii_store_io_queue *q)
{
	FAII_ASSERT(q->disk == ctx);
	FAII_ASSERT_MSG(!q->in_flight, "queue closed with a batch in flight");
	free(q);
}

static int sim_queue_set_file(void *ctx, struct faii_store_io_queue *q, int file)
{
	struct sim_disk *d = ctx;
	FAII_ASSERT(q->disk == d && !q->in_flight);
	pthread_mutex_lock(&d->lock);
	if (file >= 0)
		(void)handle_of(d, file);
	q->file = file;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* The sync half of a batch whose write landed in full: its own operation. */
static int batch_sync(struct sim_disk *d, struct faii_store_io_queue *q, int inode)
{
	bool crash;
	int rc = op_begin(d, &crash);
	enum sim_fault f = SIM_FAULT_NONE;
	if (rc == 0 && crash) {
		freeze(d, SIM_OP_BATCH_SYNC, inode);
		rc = -EIO;
	} else if (rc == 0) {
		rc = sync_or_fail(d, inode, ADMITS(SIM_FAULT_EIO) | ADMITS(SIM_FAULT_DELAY), &f);
		if (f == SIM_FAULT_DELAY)
			q->polls_left = 1 + (uint32_t)rng_below(d, d->opt.delay_polls_max);
	}
	trace(d, SIM_OP_BATCH_SYNC, f, inode, 0, q->polls_left, rc, 0);
	return rc;
}

static int sim_queue_submit(void *ctx, struct faii_store_io_queue *q, unsigned buf_index,
                            const void *buf, uint32_t len, uint64_t offset)
{
	struct sim_disk *d = ctx;
	FAII_ASSERT(q->disk == d && !q->in_flight && buf_index < q->buf_count);
	const uint8_t *p = buf;
	FAII_ASSERT_MSG(p >= q->bufs[buf_index] && p + len <= q->bufs[buf_index] + q->buf_bytes,
	                "the batch lies outside its registered buffer");
	pthread_mutex_lock(&d->lock);
	struct sim_handle *h = handle_of(d, q->file);
	bool crash;
	int rc = op_begin(d, &crash);
	if (rc != 0) {
		pthread_mutex_unlock(&d->lock);
		return rc; /* frozen: the process is as good as gone */
	}
	enum sim_fault f = SIM_FAULT_NONE;
	q->polls_left = 0;
	q->result.written_bytes =
	        direct_aligned(h, buf, len, offset)
	                ? write_bytes(d, h->inode, p, len, offset, crash, SIM_OP_BATCH_WRITE, &f)
	                : -EINVAL;
	trace(d, SIM_OP_BATCH_WRITE, f, h->inode, offset, len, q->result.written_bytes, buf_index);
	/* io_uring cancels a linked request after a short or failed one. */
	q->result.sync_status =
	        q->result.written_bytes == (int64_t)len ? batch_sync(d, q, h->inode) : -ECANCELED;
	q->in_flight = true;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int sim_queue_reap(void *ctx, struct faii_store_io_queue *q, uint64_t wait_ns,
                          struct faii_store_io_completion *out)
{
	struct sim_disk *d = ctx;
	FAII_ASSERT(q->disk == d);
	FAII_ASSERT_MSG(q->in_flight, "nothing to reap");
	pthread_mutex_lock(&d->lock);
	/* No time passes in the simulation: waiting for ever ends the delay. */
	if (q->polls_left > 0 && wait_ns != FAII_STORE_IO_WAIT_FOREVER) {
		q->polls_left--;
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	q->polls_left = 0;
	q->in_flight = false;
	*out = q->result;
	trace(d, SIM_OP_BATCH_DONE, SIM_FAULT_NONE, -1, 0, 0, out->written_bytes,
	      (unsigned)-out->sync_status);
	pthread_mutex_unlock(&d->lock);
	return 1;
}

/* ---- the disk ---------------------------------------------------------------------- */

int sim_disk_create(const struct sim_disk_options *opt, struct sim_disk **out)
{
	struct sim_disk *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->opt = *opt;
	if (d->opt.sector_bytes == 0)
		d->opt.sector_bytes = SIM_SECTOR_BYTES_DEFAULT;
	if (d->opt.capacity_bytes == 0)
		d->opt.capacity_bytes = SIM_CAPACITY_BYTES_DEFAULT;
	if (d->opt.delay_polls_max == 0)
		d->opt.delay_polls_max = SIM_DELAY_POLLS_DEFAULT;
	FAII_ASSERT((d->opt.sector_bytes & (d->opt.sector_bytes - 1)) == 0);
	FAII_ASSERT(GROW_STEP_BYTES % d->opt.sector_bytes == 0);
	d->rng = mix64(opt->seed ^ 0x5EEDD15Cull);
	d->crash_at_op = opt->crash_at_op;
	pthread_mutex_init(&d->lock, NULL);
	d->io = (struct faii_store_io){
	        .mkdir = sim_mkdir,
	        .list_dir = sim_list_dir,
	        .fsync_dir = sim_fsync_dir,
	        .rename = sim_rename,
	        .unlink = sim_unlink,
	        .open = sim_open,
	        .close = sim_close,
	        .lock = sim_lock,
	        .size = sim_size,
	        .pread = sim_pread,
	        .pwrite = sim_pwrite,
	        .datasync = sim_datasync,
	        .fsync = sim_fsync,
	        .fallocate = sim_fallocate,
	        .ftruncate = sim_ftruncate,
	        .map = sim_map,
	        .unmap = sim_unmap,
	        .queue_open = sim_queue_open,
	        .queue_close = sim_queue_close,
	        .queue_set_file = sim_queue_set_file,
	        .queue_submit = sim_queue_submit,
	        .queue_reap = sim_queue_reap,
	        .ctx = d,
	};
	*out = d;
	return 0;
}

void sim_disk_destroy(struct sim_disk *d)
{
	if (d == NULL)
		return;
	for (unsigned i = 0; i < SIM_INODES_MAX; i++) {
		free(d->inodes[i].cache);
		free(d->inodes[i].media);
		free(d->inodes[i].dirty);
	}
	for (unsigned m = 0; m < SIM_MAPS_MAX; m++) {
		if (d->maps[m].used && d->maps[m].copied)
			free((void *)(uintptr_t)d->maps[m].view);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const struct faii_store_io *sim_disk_io(struct sim_disk *d)
{
	return &d->io;
}

void sim_disk_crash(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	if (!d->frozen)
		freeze(d, SIM_OP_CRASH, -1);
	pthread_mutex_unlock(&d->lock);
}

void sim_disk_crash_at(struct sim_disk *d, uint64_t op)
{
	pthread_mutex_lock(&d->lock);
	FAII_ASSERT(op == 0 || op > d->ops);
	d->crash_at_op = op;
	pthread_mutex_unlock(&d->lock);
}

uint64_t sim_disk_crash_point(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t op = d->crash_at_op;
	pthread_mutex_unlock(&d->lock);
	return op;
}

void sim_disk_crash_in_next_write(struct sim_disk *d, uint32_t landed_bytes)
{
	pthread_mutex_lock(&d->lock);
	d->crash_in_next_write = true;
	d->crash_landed_bytes = landed_bytes;
	pthread_mutex_unlock(&d->lock);
}

bool sim_disk_frozen(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	bool frozen = d->frozen;
	pthread_mutex_unlock(&d->lock);
	return frozen;
}

static unsigned open_files(const struct sim_disk *d)
{
	unsigned n = 0;
	for (unsigned h = 0; h < SIM_HANDLES_MAX; h++)
		n += d->handles[h].used;
	return n;
}

void sim_disk_restart(struct sim_disk *d, enum sim_restart how)
{
	pthread_mutex_lock(&d->lock);
	FAII_ASSERT_MSG(open_files(d) == 0, "restart with %u files open: close the store first",
	                open_files(d));
	for (unsigned m = 0; m < SIM_MAPS_MAX; m++)
		FAII_ASSERT_MSG(!d->maps[m].used, "restart with a segment mapped");
	if (how == SIM_RESTART_POWER)
		lose_power(d);
	for (unsigned i = 0; i < SIM_INODES_MAX; i++)
		d->inodes[i].lock_holder = -1; /* locks go with the process */
	d->frozen = false;
	d->crash_at_op = 0;
	d->crash_in_next_write = false;
	trace(d, SIM_OP_RESTART, SIM_FAULT_NONE, -1, 0, 0, 0, (unsigned)how);
	pthread_mutex_unlock(&d->lock);
}

void sim_disk_set_faults(struct sim_disk *d, const uint32_t fault_ppm[SIM_FAULT_KINDS])
{
	pthread_mutex_lock(&d->lock);
	uint64_t sum = 0;
	for (unsigned k = 0; k < SIM_FAULT_KINDS; k++) {
		d->opt.fault_ppm[k] = fault_ppm[k];
		sum += fault_ppm[k];
	}
	FAII_ASSERT_MSG(sum <= SIM_PPM, "fault probabilities add up to more than one");
	pthread_mutex_unlock(&d->lock);
}

uint64_t sim_disk_ops(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t ops = d->ops;
	pthread_mutex_unlock(&d->lock);
	return ops;
}

uint64_t sim_disk_faults(struct sim_disk *d, enum sim_fault kind)
{
	FAII_ASSERT(kind < SIM_FAULT_KINDS);
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->faults[kind];
	pthread_mutex_unlock(&d->lock);
	return n;
}

unsigned sim_disk_open_files(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	unsigned n = open_files(d);
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* The inode a path names in the cache, or -ENOENT. */
static int inode_at(struct sim_disk *d, const char *path)
{
	int i = find_name(d->cache_names, path);
	return i < 0 || d->cache_names[i].is_dir ? -ENOENT : d->cache_names[i].inode;
}

int64_t sim_disk_file_size(struct sim_disk *d, const char *path)
{
	pthread_mutex_lock(&d->lock);
	int inode = inode_at(d, path);
	int64_t size = inode < 0 ? inode : (int64_t)d->inodes[inode].cache_size;
	pthread_mutex_unlock(&d->lock);
	return size;
}

int64_t sim_disk_read(struct sim_disk *d, const char *path, void *buf, size_t len, uint64_t offset)
{
	pthread_mutex_lock(&d->lock);
	int inode = inode_at(d, path);
	int64_t rc = inode;
	if (inode >= 0) {
		const struct sim_inode *n = &d->inodes[inode];
		uint64_t avail = offset >= n->cache_size ? 0 : n->cache_size - offset;
		rc = (int64_t)(avail < len ? avail : len);
		copy_bytes(buf, 0, n->cache, offset, (uint64_t)rc);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int sim_disk_flip_bit(struct sim_disk *d, const char *path, uint64_t offset, unsigned bit)
{
	FAII_ASSERT(bit < 8);
	pthread_mutex_lock(&d->lock);
	int inode = inode_at(d, path), rc = inode < 0 ? inode : 0;
	if (rc == 0 && offset >= d->inodes[inode].cache_size)
		rc = -EINVAL;
	if (rc == 0) {
		d->inodes[inode].cache[offset] ^= (uint8_t)(1u << bit);
		d->inodes[inode].media[offset] ^= (uint8_t)(1u << bit);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int sim_disk_flip_on_read(struct sim_disk *d, const char *path, uint64_t offset, unsigned bit)
{
	FAII_ASSERT(bit < 8);
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	if (path == NULL) {
		for (unsigned i = 0; i < SIM_INODES_MAX; i++)
			d->inodes[i].read_flip = false;
	} else {
		int inode = inode_at(d, path);
		rc = inode < 0 ? inode : 0;
		if (rc == 0) {
			d->inodes[inode].read_flip = true;
			d->inodes[inode].read_flip_offset = offset;
			d->inodes[inode].read_flip_mask = (uint8_t)(1u << bit);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* ---- the trace ---------------------------------------------------------------------- */

uint64_t sim_disk_trace_count(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->trace_count;
	pthread_mutex_unlock(&d->lock);
	return n;
}

uint64_t sim_disk_trace_hash(struct sim_disk *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t h = d->trace_hash;
	pthread_mutex_unlock(&d->lock);
	return h;
}

size_t sim_disk_trace_copy(struct sim_disk *d, void *buf, size_t cap)
{
	pthread_mutex_lock(&d->lock);
	uint64_t kept =
	        d->trace_count < SIM_TRACE_EVENTS_MAX ? d->trace_count : SIM_TRACE_EVENTS_MAX;
	size_t n = 0;
	/* Oldest retained event first. */
	for (uint64_t i = d->trace_count - kept; i < d->trace_count; i++) {
		if (n + sizeof(struct sim_trace_event) > cap)
			break;
		memcpy((uint8_t *)buf + n, &d->trace[i % SIM_TRACE_EVENTS_MAX],
		       sizeof(struct sim_trace_event));
		n += sizeof(struct sim_trace_event);
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

static const char *const op_names[SIM_OP_KINDS] = {
        [SIM_OP_MKDIR] = "mkdir",
        [SIM_OP_LIST_DIR] = "list_dir",
        [SIM_OP_FSYNC_DIR] = "fsync_dir",
        [SIM_OP_RENAME] = "rename",
        [SIM_OP_UNLINK] = "unlink",
        [SIM_OP_OPEN] = "open",
        [SIM_OP_CLOSE] = "close",
        [SIM_OP_LOCK] = "lock",
        [SIM_OP_SIZE] = "size",
        [SIM_OP_PREAD] = "pread",
        [SIM_OP_PWRITE] = "pwrite",
        [SIM_OP_DATASYNC] = "sync",
        [SIM_OP_FALLOCATE] = "fallocate",
        [SIM_OP_FTRUNCATE] = "ftruncate",
        [SIM_OP_MAP] = "map",
        [SIM_OP_BATCH_WRITE] = "batch_write",
        [SIM_OP_BATCH_SYNC] = "batch_sync",
        [SIM_OP_BATCH_DONE] = "batch_done",
        [SIM_OP_CRASH] = "CRASH",
        [SIM_OP_RESTART] = "RESTART",
        [SIM_OP_LAND] = "land",
        [SIM_OP_NAMES] = "names_kept",
        [SIM_OP_SIZE_KEPT] = "size_kept",
        [SIM_OP_EVICT] = "evict",
};

const char *sim_fault_name(enum sim_fault kind)
{
	static const char *const names[SIM_FAULT_KINDS] = {
	        [SIM_FAULT_NONE] = "none",
	        [SIM_FAULT_EIO] = "EIO",
	        [SIM_FAULT_ENOSPC] = "ENOSPC",
	        [SIM_FAULT_SHORT_WRITE] = "short_write",
	        [SIM_FAULT_TORN_WRITE] = "torn_write",
	        [SIM_FAULT_DELAY] = "delay",
	        [SIM_FAULT_WRITE_FLIP] = "write_flip",
	        [SIM_FAULT_READ_FLIP] = "read_flip",
	        [SIM_FAULT_LOST_WRITE] = "lost_write",
	};
	FAII_ASSERT(kind < SIM_FAULT_KINDS);
	return names[kind];
}

/* A name of the inode now, for the printed trace. */
static const char *inode_name(const struct sim_disk *d, unsigned inode)
{
	for (unsigned i = 0; i < SIM_NAMES_MAX; i++) {
		if (d->cache_names[i].used && d->cache_names[i].inode == (int)inode)
			return d->cache_names[i].path;
	}
	return "(no name now)";
}

void sim_disk_trace_print(struct sim_disk *d, FILE *out, unsigned last_events)
{
	pthread_mutex_lock(&d->lock);
	uint64_t kept =
	        d->trace_count < SIM_TRACE_EVENTS_MAX ? d->trace_count : SIM_TRACE_EVENTS_MAX;
	kept = kept < last_events ? kept : last_events;
	fprintf(out,
	        "sim disk: %" PRIu64 " operations, %" PRIu64 " trace events (hash %016" PRIx64
	        "), the last %" PRIu64 ":\n",
	        d->ops, d->trace_count, d->trace_hash, kept);
	for (uint64_t i = d->trace_count - kept; i < d->trace_count; i++) {
		const struct sim_trace_event *e = &d->trace[i % SIM_TRACE_EVENTS_MAX];
		fprintf(out, "  op %6" PRIu64 " %-11s", e->op_index, op_names[e->op]);
		if (e->inode != 0xFFFF)
			fprintf(out, " inode %u (%s)", e->inode, inode_name(d, e->inode));
		fprintf(out, " offset %" PRIu64 " len %u -> %d", e->offset, e->len, e->result);
		if (e->fault != SIM_FAULT_NONE)
			fprintf(out, " FAULT %s", sim_fault_name((enum sim_fault)e->fault));
		if (e->detail != 0)
			fprintf(out, " detail %u", e->detail);
		fputc('\n', out);
	}
	pthread_mutex_unlock(&d->lock);
}
