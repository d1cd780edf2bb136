/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ledger store: appenders, the group-committing writer thread on
 * io_uring, reads, finds and checkpoints. See include/faii/ledger_store.h for
 * the contract and docs/ledger-store.md for the design.
 *
 * Two batch buffers: appenders copy records into the open one under the
 * store's mutex while the writer writes and syncs the other; the writer then
 * takes the open buffer as the next batch. A batch is one write linked to
 * one fdatasync (io_uring in production, from a registered buffer to a
 * registered file). Acknowledgements (callbacks, waiters) follow only a
 * successful sync.
 *
 * Every disk operation goes through opt->io (include/faii/store_io.h), the
 * system's disk unless a test passes a simulated one.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jemalloc/jemalloc.h>
#include <sodium.h>

#include "faii/assert.h"
#include "faii/ledger_store.h"
#include "faii/store_io.h"
#include "format.h"
#include "index.h"
#include "mark.h"
#include "scan.h"

#define COMMIT_RECORD_SIZE 72u /* header + ls_commit, 8-aligned */
#define PAD_RECORD_MIN     24u
#define READ_FDS_MAX       256u

FAII_STATIC_ASSERT(COMMIT_RECORD_SIZE == sizeof(struct ls_record_header) + sizeof(struct ls_commit),
                   "the commit record is a header and its payload, already 8-aligned");
FAII_STATIC_ASSERT(PAD_RECORD_MIN == sizeof(struct ls_record_header), "an empty padding record");

struct batch {
	uint8_t *buf; /* aligned to LS_DIRECT_ALIGN */
	uint32_t cap; /* bytes the records may use, commit and pad excluded */
	uint32_t used;
	uint32_t count;
	uint64_t first_seq;
	faii_ls_ack_fn *cbs;
	void **args;
	/* The chain hash over this batch, advanced by the writer while the
	 * previous batch is being written and synced. */
	crypto_generichash_state hash;
	uint32_t hashed; /* bytes of buf already in hash */
};

struct faii_ls {
	struct faii_ls_options opt;
	char dir[FAII_LS_ERR_LEN / 2];

	pthread_mutex_t lock;
	pthread_mutex_t checkpoint_lock; /* one checkpoint at a time */
	int lock_fd;                     /* flock()ed DIR/LOCK: one process per store */
	struct ls_mark mark;             /* DIR/STATE as found at open */
	pthread_cond_t work;             /* writer: a batch has records, or stop */
	pthread_cond_t space;            /* appenders: the open batch was taken */
	pthread_cond_t durable;          /* waiters: durable_seq moved, or error */
	struct batch batches[2];
	unsigned open_batch; /* index of the batch appenders fill */
	bool writer_busy;    /* the other batch is being written */
	bool stopping;
	uint64_t next_seq;
	_Atomic uint64_t durable_seq;
	int error; /* sticky write error (negative errno) */

	/* Writer-only state. */
	pthread_t writer;
	const struct faii_store_io *io; /* opt.io, or the system's disk */
	struct faii_store_io_queue *queue;
	int seg_fd;
	uint64_t seg_index;
	uint64_t seg_offset;
	uint64_t seg_size;
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	/* The log ends with a close record of durable_seq (nothing appended
	 * since the last clean close): the next close needs no other. */
	bool log_closed;
	uint64_t close_segment, close_offset;
	char accepted[FAII_LS_ERR_LEN]; /* accept_damaged_tail: the refusal it overrode */

	/* Readers. */
	pthread_rwlock_t index_lock;
	struct ls_index index;
	uint64_t first_segment;
	pthread_mutex_t read_lock;  /* the fd cache, and the use of its fds */
	int read_fds[READ_FDS_MAX]; /* cache by segment index % READ_FDS_MAX */
	uint64_t read_fd_segment[READ_FDS_MAX];

	/* Checkpoint and statistics, under lock. */
	uint64_t ckpt_seq;
	uint8_t *ckpt_blob;
	size_t ckpt_len;
	uint64_t durable_segment, durable_offset; /* end of the last commit */
	uint8_t durable_chain[FAII_LS_CHAIN_SIZE];
	struct faii_ls_stats stats;
};

/* ---- helpers ------------------------------------------------------------ */

static uint32_t record_size(uint32_t len, const struct faii_ls_keys *keys)
{
	unsigned flags = keys ? keys->present & LS_KEYS_MASK : 0;
	return (uint32_t)sizeof(struct ls_record_header) + ls_keys_size(flags) + len;
}

/* Serialises one record at p; returns its stored (8-aligned) size. */
static uint32_t put_record(uint8_t *p, uint16_t type, uint64_t seq, const struct faii_ls_keys *keys,
                           const void *payload, uint32_t len)
{
	struct ls_record_header h = {
	        .length = record_size(len, keys),
	        .type = type,
	        .flags = (uint16_t)(keys ? keys->present & LS_KEYS_MASK : 0),
	        .payload_len = len,
	        .seq = seq,
	};
	memcpy(p, &h, sizeof(h));
	uint32_t off = sizeof(h);
	if (keys)
		off += ls_keys_put(p + off, keys);
	if (len && payload)
		memcpy(p + off, payload, len);
	else if (len)
		memset(p + off, 0, len); /* a padding record: no payload given */
	uint32_t stored = (uint32_t)ls_align(h.length, LS_ALIGN);
	memset(p + h.length, 0, stored - h.length);
	h.crc = ls_record_crc(p, h.length);
	memcpy(p + offsetof(struct ls_record_header, crc), &h.crc, sizeof(h.crc));
	return stored;
}

/* ---- segments ---------------------------------------------------------- */

/* The header block of segment index: it carries the chain before it. */
static void segment_header_block(const struct faii_ls *ls, uint64_t index, uint64_t first_seq,
                                 uint8_t *block)
{
	FAII_ASSERT(first_seq >= 1);
	struct ls_segment_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, LS_SEGMENT_MAGIC, 8);
	h.version = LS_FORMAT_VERSION;
	h.header_size = LS_SEGMENT_HEADER_SIZE;
	h.segment_index = index;
	h.first_seq = first_seq;
	h.segment_size = ls->seg_size;
	memcpy(h.prev_chain, ls->chain, FAII_LS_CHAIN_SIZE);
	h.crc = ls_crc(&h, offsetof(struct ls_segment_header, crc));
	memset(block, 0, LS_SEGMENT_HEADER_SIZE);
	memcpy(block, &h, sizeof(h));
}

/* Preallocates, writes the header and syncs the temporary segment fd. */
static int fill_segment(struct faii_ls *ls, int fd, uint64_t index, uint64_t first_seq)
{
	const struct faii_store_io *io = ls->io;
	uint8_t *block = mallocx(LS_SEGMENT_HEADER_SIZE, MALLOCX_ZERO);
	if (block == NULL)
		return -ENOMEM;
	segment_header_block(ls, index, first_seq, block);
	/* Preallocate so that appends never extend the file. */
	int rc = FAII_STORE_IO_CALL(io, fallocate, fd, 0, 0, ls->seg_size);
	if (rc == 0) {
		int64_t n = FAII_STORE_IO_CALL(io, pwrite, fd, block, LS_SEGMENT_HEADER_SIZE, 0);
		rc = n == LS_SEGMENT_HEADER_SIZE ? 0 : n < 0 ? (int)n : -EIO;
	}
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, datasync, fd);
	dallocx(block, 0);
	return rc;
}

/*
 * Creates segment index atomically: written as a temporary file with its
 * header, preallocated, synced, then renamed into place and the directory
 * synced. A crash leaves either no segment or a whole empty one.
 */
static int create_segment(struct faii_ls *ls, uint64_t index, uint64_t first_seq, int *fd_out)
{
	FAII_ASSERT(index < UINT64_MAX);
	const struct faii_store_io *io = ls->io;
	char path[FAII_LS_ERR_LEN / 2], tmp[FAII_LS_ERR_LEN / 2 + 8];
	ls_segment_path(path, sizeof(path), ls->dir, index);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unsigned create = FAII_STORE_IO_READ_WRITE | FAII_STORE_IO_CREATE | FAII_STORE_IO_TRUNCATE;
	int fd = FAII_STORE_IO_CALL(io, open, tmp, create);
	if (fd < 0)
		return fd;
	int rc = fill_segment(ls, fd, index, first_seq);
	FAII_STORE_IO_CALL(io, close, fd);
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, rename, tmp, path);
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, fsync_dir, ls->dir);
	if (rc != 0) {
		(void)FAII_STORE_IO_CALL(io, unlink, tmp);
		return rc;
	}
	unsigned flags = FAII_STORE_IO_READ_WRITE | (ls->opt.o_direct ? FAII_STORE_IO_DIRECT : 0);
	fd = FAII_STORE_IO_CALL(io, open, path, flags);
	if (fd < 0)
		return fd;
	*fd_out = fd;
	return 0;
}

static int open_write_segment(struct faii_ls *ls, uint64_t index)
{
	FAII_ASSERT(ls->seg_fd < 0);
	char path[FAII_LS_ERR_LEN / 2];
	ls_segment_path(path, sizeof(path), ls->dir, index);
	unsigned flags = FAII_STORE_IO_READ_WRITE | (ls->opt.o_direct ? FAII_STORE_IO_DIRECT : 0);
	int fd = FAII_STORE_IO_CALL(ls->io, open, path, flags);
	if (fd < 0)
		return fd;
	ls->seg_fd = fd;
	return FAII_STORE_IO_CALL(ls->io, queue_set_file, ls->queue, fd);
}

static int roll_segment(struct faii_ls *ls, uint64_t first_seq)
{
	FAII_ASSERT(ls->seg_fd >= 0);
	FAII_ASSERT(first_seq == atomic_load(&ls->durable_seq) + 1);
	int fd;
	int rc = create_segment(ls, ls->seg_index + 1, first_seq, &fd);
	if (rc != 0)
		return rc;
	rc = FAII_STORE_IO_CALL(ls->io, queue_set_file, ls->queue, fd);
	FAII_STORE_IO_CALL(ls->io, close, ls->seg_fd);
	ls->seg_fd = fd;
	ls->seg_index++;
	ls->seg_offset = LS_SEGMENT_HEADER_SIZE;
	pthread_mutex_lock(&ls->lock);
	ls->stats.segments++;
	pthread_mutex_unlock(&ls->lock);
	return rc;
}

/* ---- the writer ---------------------------------------------------------- */

/* Bytes a batch of used record bytes takes once padded and committed. */
static uint32_t sealed_size(const struct faii_ls *ls, uint32_t used)
{
	if (!ls->opt.o_direct)
		return used + COMMIT_RECORD_SIZE;
	uint32_t end = (uint32_t)ls_align(used + COMMIT_RECORD_SIZE, LS_DIRECT_ALIGN);
	uint32_t gap = end - COMMIT_RECORD_SIZE - used;
	return gap > 0 && gap < PAD_RECORD_MIN ? end + LS_DIRECT_ALIGN : end;
}

/* Ends a batch: padding (O_DIRECT) and the commit record carrying the chain. */
/* Starts a batch's chain hash from the chain value before it. */
static void hash_begin(const struct faii_ls *ls, struct batch *b)
{
	crypto_generichash_init(&b->hash, NULL, 0, FAII_LS_CHAIN_SIZE);
	crypto_generichash_update(&b->hash, ls->chain, FAII_LS_CHAIN_SIZE);
	b->hashed = 0;
}

/* Hashes the batch's bytes up to end (records below it are complete). */
static void hash_to(struct batch *b, uint32_t end)
{
	if (end > b->hashed) {
		crypto_generichash_update(&b->hash, b->buf + b->hashed, end - b->hashed);
		b->hashed = end;
	}
}

static uint32_t seal_batch(struct faii_ls *ls, struct batch *b)
{
	uint32_t len = b->used, total = sealed_size(ls, b->used);
	uint32_t gap = total - COMMIT_RECORD_SIZE - len;
	if (gap > 0)
		len += put_record(b->buf + len, LS_TYPE_PAD, 0, NULL, NULL,
		                  gap - (uint32_t)sizeof(struct ls_record_header));
	hash_to(b, len);
	struct ls_commit c = {.first_seq = b->first_seq, .last_seq = b->first_seq + b->count - 1};
	crypto_generichash_final(&b->hash, c.chain, sizeof(c.chain));
	len += put_record(b->buf + len, LS_TYPE_COMMIT, c.last_seq, NULL, &c, sizeof(c));
	memcpy(ls->chain, c.chain, sizeof(c.chain));
	FAII_ASSERT(len == total);
	FAII_ASSERT(c.last_seq >= c.first_seq);
	return len;
}

/* Hashing the next batch between completions: at most this much at a time. */
#define HASH_CHUNK_BYTES (256u << 10)
#define IDLE_WAIT_NS     200000u /* then look for new records to hash again */

/* The batch's status from its completion: 0 only when written in full and synced. */
static int batch_status(const struct faii_store_io_completion *c, uint32_t len)
{
	if (c->written_bytes < 0)
		return (int)c->written_bytes;
	if ((uint64_t)c->written_bytes != len)
		return -EIO; /* a short write: never acknowledged */
	FAII_ASSERT_MSG(c->sync_status <= 0, "sync status %d", c->sync_status);
	return c->sync_status;
}

/*
 * Waits for the write and the sync, hashing what appenders add to the next
 * batch meanwhile, so that sealing it later costs little. Not bounded by a
 * count: the device's completion ends it, and each turn either hashes at
 * most HASH_CHUNK_BYTES or sleeps until the completion or IDLE_WAIT_NS.
 */
static int wait_batch(struct faii_ls *ls, uint32_t len, struct batch *next)
{
	for (;;) {
		pthread_mutex_lock(&ls->lock);
		uint32_t used = next->used;
		pthread_mutex_unlock(&ls->lock);
		FAII_ASSERT(next->hashed <= used);
		bool hashed = used > next->hashed;
		if (hashed)
			hash_to(next, used - next->hashed > HASH_CHUNK_BYTES
			                      ? next->hashed + HASH_CHUNK_BYTES
			                      : used);
		/* Nothing to hash: sleep until the completion, or a while if the
		 * next batch has started filling and may grow. */
		uint64_t wait_ns = hashed      ? 0
		                   : used == 0 ? FAII_STORE_IO_WAIT_FOREVER
		                               : IDLE_WAIT_NS;
		struct faii_store_io_completion c;
		int rc = FAII_STORE_IO_CALL(ls->io, queue_reap, ls->queue, wait_ns, &c);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return batch_status(&c, len);
	}
}

/* One write linked to one fdatasync; 0 only when both completed fully. */
static int write_and_sync(struct faii_ls *ls, unsigned buf_index, const void *buf, uint32_t len)
{
	FAII_ASSERT(buf_index < 2);
	FAII_ASSERT(len > 0 && len % LS_ALIGN == 0);
	FAII_ASSERT_MSG(ls->seg_offset >= LS_SEGMENT_HEADER_SIZE &&
	                        ls->seg_offset % LS_ALIGN == 0 &&
	                        ls->seg_offset + len <= ls->seg_size,
	                "batch of %u bytes at offset %" PRIu64 " outside segment of %" PRIu64, len,
	                ls->seg_offset, ls->seg_size);
	FAII_ASSERT(!ls->opt.o_direct ||
	            (ls->seg_offset % LS_DIRECT_ALIGN == 0 && len % LS_DIRECT_ALIGN == 0));
	uint32_t write_len = len;
	if (ls->opt.fault) {
		int64_t f = ls->opt.fault(ls->opt.fault_ctx, ls->seg_index, ls->seg_offset, len);
		if (f < 0)
			return (int)f;
		if (f > 0 && f < len)
			write_len = (uint32_t)f; /* the device takes only part of it */
	}
	int rc = FAII_STORE_IO_CALL(ls->io, queue_submit, ls->queue, buf_index, buf, write_len,
	                            ls->seg_offset);
	if (rc < 0)
		return rc;
	return wait_batch(ls, len, &ls->batches[buf_index ^ 1u]);
}

/* Indexes the batch's records at their final position; returns with the
 * index write-locked. */
static void index_batch(struct faii_ls *ls, const struct batch *b, uint64_t base)
{
	pthread_rwlock_wrlock(&ls->index_lock);
	uint32_t off = 0;
	for (uint32_t i = 0; i < b->count; i++) {
		const struct ls_record_header *h = (const void *)(b->buf + off);
		FAII_ASSERT_MSG(h->seq == b->first_seq + i,
		                "record %u of the batch has seq %" PRIu64 ", expected %" PRIu64, i,
		                h->seq, b->first_seq + i);
		FAII_ASSERT(h->type >= 1 && h->type <= FAII_LS_TYPE_USER_MAX);
		struct faii_ls_keys keys;
		ls_keys_get((const uint8_t *)(h + 1), h->flags, &keys);
		ls_index_add(&ls->index, h->seq, &keys, ls->seg_index, base + off);
		off += (uint32_t)ls_align(h->length, LS_ALIGN);
	}
	FAII_ASSERT(off == b->used);
	/* commit_batch() unlocks once durable_seq and the position have moved. */
}

static void acknowledge(struct batch *b, int status)
{
	for (uint32_t i = 0; i < b->count; i++) {
		if (b->cbs[i])
			b->cbs[i](b->args[i], b->first_seq + i, status);
	}
}

static void commit_batch(struct faii_ls *ls, unsigned bi)
{
	struct batch *b = &ls->batches[bi];
	/* Sequence density and chain continuity: the batch extends what is durable. */
	FAII_ASSERT(b->count > 0 && b->used > 0);
	FAII_ASSERT_MSG(b->first_seq == atomic_load(&ls->durable_seq) + 1,
	                "batch starts at seq %" PRIu64 ", durable is %" PRIu64, b->first_seq,
	                atomic_load(&ls->durable_seq));
	FAII_ASSERT(memcmp(ls->chain, ls->durable_chain, FAII_LS_CHAIN_SIZE) == 0);
	int rc = 0;
	/* Roll first: the new segment's header carries the chain before the batch.
	 * O_DIRECT writes start on a block; a log written without O_DIRECT ends
	 * anywhere, so its first O_DIRECT batch goes to a new segment. */
	bool unaligned = ls->opt.o_direct && ls->seg_offset % LS_DIRECT_ALIGN != 0;
	if (unaligned || ls->seg_offset + sealed_size(ls, b->used) > ls->seg_size)
		rc = roll_segment(ls, b->first_seq);
	uint8_t chain_before[FAII_LS_CHAIN_SIZE];
	memcpy(chain_before, ls->chain, sizeof(chain_before));
	uint32_t len = seal_batch(ls, b);
	/* The next batch's chain starts from this one's. */
	hash_begin(ls, &ls->batches[bi ^ 1u]);
	uint64_t base = ls->seg_offset;
	if (rc == 0)
		rc = write_and_sync(ls, bi, b->buf, len);
	if (rc == 0) {
		ls->seg_offset += len;
		ls->log_closed = false;
		FAII_ASSERT(ls->seg_offset <= ls->seg_size);
		index_batch(ls, b, base);
	} else {
		memcpy(ls->chain, chain_before, sizeof(chain_before));
	}
	pthread_mutex_lock(&ls->lock);
	if (rc == 0) {
		atomic_store(&ls->durable_seq, b->first_seq + b->count - 1);
		ls->durable_segment = ls->seg_index;
		ls->durable_offset = ls->seg_offset;
		memcpy(ls->durable_chain, ls->chain, FAII_LS_CHAIN_SIZE);
		ls->stats.batches++;
		ls->stats.bytes_written += len;
	} else if (ls->error == 0) {
		ls->error = rc;
	}
	pthread_cond_broadcast(&ls->durable);
	pthread_mutex_unlock(&ls->lock);
	/* Held since index_batch(): a checkpoint never sees the index ahead of
	 * the durable position it records. */
	if (rc == 0)
		pthread_rwlock_unlock(&ls->index_lock);

	acknowledge(b, rc);
	b->used = b->count = 0;
}

static void *writer_main(void *arg)
{
	struct faii_ls *ls = arg;
	pthread_mutex_lock(&ls->lock);
	for (;;) {
		struct batch *open = &ls->batches[ls->open_batch];
		while (open->count == 0 && !ls->stopping)
			pthread_cond_wait(&ls->work, &ls->lock);
		if (open->count == 0 && ls->stopping)
			break;
		unsigned bi = ls->open_batch;
		FAII_ASSERT_MSG(open->first_seq + open->count == ls->next_seq,
		                "the open batch holds seq %" PRIu64 "..+%u, next is %" PRIu64,
		                open->first_seq, open->count, ls->next_seq);
		ls->open_batch ^= 1u;
		FAII_ASSERT(ls->batches[ls->open_batch].count == 0);
		ls->batches[ls->open_batch].first_seq = ls->next_seq;
		ls->writer_busy = true;
		int failed = ls->error;
		pthread_cond_broadcast(&ls->space);
		pthread_mutex_unlock(&ls->lock);

		if (failed) {
			/* After a failure nothing more is written: fail the batch. */
			acknowledge(&ls->batches[bi], failed);
			ls->batches[bi].used = ls->batches[bi].count = 0;
		} else {
			commit_batch(ls, bi);
		}

		pthread_mutex_lock(&ls->lock);
		ls->writer_busy = false;
		pthread_cond_broadcast(&ls->space);
	}
	pthread_mutex_unlock(&ls->lock);
	return NULL;
}

/* ---- appends ------------------------------------------------------------- */

int64_t faii_ls_append(struct faii_ls *ls, uint16_t type, const struct faii_ls_keys *keys,
                       const void *payload, uint32_t len, faii_ls_ack_fn cb, void *arg)
{
	if (type == 0 || type > FAII_LS_TYPE_USER_MAX || len > FAII_LS_RECORD_PAYLOAD_MAX ||
	    (len > 0 && payload == NULL) || (keys && (keys->present & ~LS_KEYS_MASK)))
		return -EINVAL;
	uint32_t stored = (uint32_t)ls_align(record_size(len, keys), LS_ALIGN);
	if (stored > ls->batches[0].cap)
		return -EINVAL;

	pthread_mutex_lock(&ls->lock);
	struct batch *b;
	for (;;) {
		if (ls->error || ls->stopping) {
			int rc = ls->error ? ls->error : -ESHUTDOWN;
			pthread_mutex_unlock(&ls->lock);
			return rc;
		}
		b = &ls->batches[ls->open_batch];
		if (b->used + stored <= b->cap && b->count < ls->opt.batch_records_max)
			break;
		/* The open batch is full: wait for the writer to take it. */
		pthread_cond_signal(&ls->work);
		pthread_cond_wait(&ls->space, &ls->lock);
	}
	uint64_t seq = ls->next_seq++;
	if (b->count == 0)
		b->first_seq = seq;
	/* Dense: the open batch holds first_seq .. seq with no gap. */
	FAII_ASSERT(b->first_seq + b->count == seq);
	put_record(b->buf + b->used, type, seq, keys, payload, len);
	b->used += stored;
	FAII_ASSERT(b->used <= b->cap && b->used % LS_ALIGN == 0);
	b->cbs[b->count] = cb;
	b->args[b->count] = arg;
	b->count++;
	if (b->count == 1)
		pthread_cond_signal(&ls->work);
	pthread_mutex_unlock(&ls->lock);
	return (int64_t)seq;
}

int faii_ls_wait_durable(struct faii_ls *ls, uint64_t seq, uint32_t timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline); /* the condition waits on this clock */
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	int rc = 0;
	pthread_mutex_lock(&ls->lock);
	while (atomic_load(&ls->durable_seq) < seq && ls->error == 0 && rc == 0) {
		if (pthread_cond_timedwait(&ls->durable, &ls->lock, &deadline) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	}
	if (atomic_load(&ls->durable_seq) >= seq)
		rc = 0;
	else if (ls->error)
		rc = ls->error;
	pthread_mutex_unlock(&ls->lock);
	return rc;
}

int64_t faii_ls_append_wait(struct faii_ls *ls, uint16_t type, const struct faii_ls_keys *keys,
                            const void *payload, uint32_t len)
{
	int64_t seq = faii_ls_append(ls, type, keys, payload, len, NULL, NULL);
	if (seq < 0)
		return seq;
	int rc = faii_ls_wait_durable(ls, (uint64_t)seq, UINT32_MAX / 2);
	return rc == 0 ? seq : rc;
}

uint64_t faii_ls_durable_seq(struct faii_ls *ls)
{
	return atomic_load(&ls->durable_seq);
}

/* ---- reads ----------------------------------------------------------------- */

static int read_fd(struct faii_ls *ls, uint64_t segment)
{
	unsigned slot = (unsigned)(segment % READ_FDS_MAX);
	if (ls->read_fds[slot] >= 0 && ls->read_fd_segment[slot] == segment)
		return ls->read_fds[slot];
	char path[FAII_LS_ERR_LEN / 2];
	ls_segment_path(path, sizeof(path), ls->dir, segment);
	int fd = FAII_STORE_IO_CALL(ls->io, open, path, FAII_STORE_IO_READ_ONLY);
	if (fd < 0)
		return fd;
	if (ls->read_fds[slot] >= 0)
		FAII_STORE_IO_CALL(ls->io, close, ls->read_fds[slot]);
	ls->read_fds[slot] = fd;
	ls->read_fd_segment[slot] = segment;
	return fd;
}

/* Finds record seq from pos; reads its header (and keys) into h/keys_buf. */
static int locate(struct faii_ls *ls, uint64_t seq, struct ls_pos pos, int *fd_out,
                  uint64_t *off_out, struct ls_record_header *h)
{
	/* Per record skipped at most a padding record, a commit, a close record
	 * and a segment end. */
	for (unsigned steps = 0; steps < 5 * LS_SEQ_STRIDE + 2; steps++) {
		int fd = read_fd(ls, pos.segment);
		if (fd < 0)
			return -EIO;
		FAII_ASSERT(pos.offset >= LS_SEGMENT_HEADER_SIZE && pos.offset % LS_ALIGN == 0);
		int64_t got = FAII_STORE_IO_CALL(ls->io, pread, fd, h, sizeof(*h), pos.offset);
		if (got < 0)
			return -EIO;
		if ((size_t)got < sizeof(*h) || (h->length == 0 && h->type == LS_TYPE_NONE)) {
			/* The end of a segment's data, or of a segment filled to its
			 * last byte(s): the next segment goes on. */
			pos.segment++;
			pos.offset = LS_SEGMENT_HEADER_SIZE;
			continue;
		}
		if (h->length < sizeof(*h))
			return -EIO;
		if (h->type <= FAII_LS_TYPE_USER_MAX && h->seq == seq) {
			*fd_out = fd;
			*off_out = pos.offset;
			return 0;
		}
		pos.offset += ls_align(h->length, LS_ALIGN);
	}
	return -EIO;
}

int faii_ls_read(struct faii_ls *ls, uint64_t seq, struct faii_ls_record *rec, void *buf,
                 size_t cap)
{
	if (seq == 0 || seq > atomic_load(&ls->durable_seq))
		return -ENOENT;
	pthread_rwlock_rdlock(&ls->index_lock);
	struct ls_pos pos;
	int rc = ls_index_seek(&ls->index, seq, &pos);
	if (rc == 0 && pos.segment < ls->first_segment) {
		/* Its 64-record stride starts in a segment removed under a
		 * checkpoint: the record, if kept, is within 63 of the first one. */
		pos.segment = ls->first_segment;
		pos.offset = LS_SEGMENT_HEADER_SIZE;
	}
	int fd = -1;
	uint64_t off = 0;
	struct ls_record_header h;
	/* Readers share index_lock; read_fd() may close a cached fd another
	 * reader is using, so the cache and the preads go one reader at a time. */
	pthread_mutex_lock(&ls->read_lock);
	if (rc == 0)
		rc = locate(ls, seq, pos, &fd, &off, &h);
	uint8_t keys_buf[64];
	uint32_t keys_len = rc == 0 ? ls_keys_size(h.flags) : 0;
	FAII_ASSERT(keys_len <= sizeof(keys_buf));
	if (rc == 0 && keys_len > 0 &&
	    FAII_STORE_IO_CALL(ls->io, pread, fd, keys_buf, keys_len, off + sizeof(h)) !=
	            (int64_t)keys_len)
		rc = -EIO;
	size_t n = rc == 0 ? (h.payload_len < cap ? h.payload_len : cap) : 0;
	if (rc == 0 && n > 0 &&
	    FAII_STORE_IO_CALL(ls->io, pread, fd, buf, n, off + sizeof(h) + keys_len) != (int64_t)n)
		rc = -EIO;
	/* A whole record read is checked against its CRC: a latent sector error
	 * or a lying disk reads as -EIO, never as other contents. */
	if (rc == 0 && n == h.payload_len &&
	    (h.length != sizeof(h) + keys_len + h.payload_len ||
	     ls_record_crc_parts(&h, keys_buf, keys_len, buf, h.payload_len) != h.crc))
		rc = -EIO;
	pthread_mutex_unlock(&ls->read_lock);
	pthread_rwlock_unlock(&ls->index_lock);
	if (rc != 0)
		return rc;
	rec->seq = seq;
	rec->type = h.type;
	rec->payload_len = h.payload_len;
	ls_keys_get(keys_buf, h.flags, &rec->keys);
	return 0;
}

int faii_ls_find(struct faii_ls *ls, unsigned kind, const void *key, uint64_t *seqs, size_t max)
{
	struct faii_ls_keys k = {.present = kind};
	switch (kind) {
	case FAII_LS_KEY_ROUND: memcpy(&k.round, key, 8); break;
	case FAII_LS_KEY_EPOCH: memcpy(&k.epoch, key, 8); break;
	case FAII_LS_KEY_NODE: memcpy(&k.node, key, 4); break;
	case FAII_LS_KEY_DIGEST: memcpy(k.digest, key, FAII_LS_DIGEST_SIZE); break;
	default: return -EINVAL;
	}
	if (kind != FAII_LS_KEY_DIGEST) {
		pthread_rwlock_rdlock(&ls->index_lock);
		size_t n = ls_index_find(&ls->index, kind, ls_index_key(kind, &k), seqs, max);
		pthread_rwlock_unlock(&ls->index_lock);
		return (int)n;
	}
	/*
	 * The index keys digests by their first 8 bytes: keep exact matches,
	 * taking candidates in chunks until max of them are kept, so that
	 * digests sharing a prefix do not use up max.
	 */
	uint64_t cand[64];
	size_t kept = 0, skip = 0, n;
	do {
		pthread_rwlock_rdlock(&ls->index_lock);
		n = ls_index_find_from(&ls->index, kind, ls_index_key(kind, &k), skip, cand,
		                       sizeof(cand) / sizeof(cand[0]));
		pthread_rwlock_unlock(&ls->index_lock);
		skip += n;
		for (size_t i = 0; i < n && kept < max; i++) {
			struct faii_ls_record rec;
			if (faii_ls_read(ls, cand[i], &rec, NULL, 0) == 0 &&
			    memcmp(rec.keys.digest, k.digest, FAII_LS_DIGEST_SIZE) == 0)
				seqs[kept++] = cand[i];
		}
	} while (n == sizeof(cand) / sizeof(cand[0]) && kept < max);
	return (int)kept;
}

/* ---- checkpoints ------------------------------------------------------------ */

static int write_checkpoint(struct faii_ls *ls, uint64_t seq_covered, const void *blob, size_t len);

int faii_ls_checkpoint(struct faii_ls *ls, uint64_t seq_covered, const void *blob, size_t len)
{
	/* Two checkpoints of the same seq would share a temporary file. */
	pthread_mutex_lock(&ls->checkpoint_lock);
	int rc = write_checkpoint(ls, seq_covered, blob, len);
	pthread_mutex_unlock(&ls->checkpoint_lock);
	return rc;
}

/*
 * Serialises a checkpoint covering seq_covered: header, blob, index
 * snapshot, taken at the durable position. *buf_out is the caller's to free.
 */
static int build_checkpoint(struct faii_ls *ls, uint64_t seq_covered, const void *blob, size_t len,
                            uint8_t **buf_out, size_t *size_out)
{
	struct ls_checkpoint_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, LS_CHECKPOINT_MAGIC, 8);
	h.version = LS_FORMAT_VERSION;
	h.seq_covered = seq_covered;
	h.blob_len = len;

	/* The index is updated before durable_seq moves; hold both still. */
	pthread_rwlock_rdlock(&ls->index_lock);
	pthread_mutex_lock(&ls->lock);
	h.last_seq = atomic_load(&ls->durable_seq);
	h.segment_index = ls->durable_segment;
	h.offset = ls->durable_offset;
	memcpy(h.chain, ls->durable_chain, FAII_LS_CHAIN_SIZE);
	pthread_mutex_unlock(&ls->lock);
	if (seq_covered == 0 || seq_covered > h.last_seq) {
		pthread_rwlock_unlock(&ls->index_lock);
		return -EINVAL;
	}
	/* The position is a commit boundary inside its segment. */
	FAII_ASSERT(h.offset >= LS_SEGMENT_HEADER_SIZE && h.offset % LS_ALIGN == 0);
	h.index_len = ls_index_snapshot_size(&ls->index);
	size_t size = sizeof(h) + len + h.index_len;
	uint8_t *buf = mallocx(size, 0);
	if (buf == NULL) {
		pthread_rwlock_unlock(&ls->index_lock);
		return -ENOMEM;
	}
	ls_index_snapshot(&ls->index, buf + sizeof(h) + len);
	pthread_rwlock_unlock(&ls->index_lock);
	memcpy(buf + sizeof(h), blob, len);
	memcpy(buf, &h, sizeof(h));
	h.crc = ls_crc(buf, size);
	memcpy(buf, &h, sizeof(h));
	*buf_out = buf;
	*size_out = size;
	return 0;
}

static int write_checkpoint(struct faii_ls *ls, uint64_t seq_covered, const void *blob, size_t len)
{
	uint8_t *buf;
	size_t size;
	int rc = build_checkpoint(ls, seq_covered, blob, len, &buf, &size);
	if (rc != 0)
		return rc;
	char path[FAII_LS_ERR_LEN / 2];
	ls_checkpoint_path(path, sizeof(path), ls->dir, seq_covered);
	rc = ls_write_atomically(ls->io, ls->dir, path, buf, size);
	dallocx(buf, 0);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&ls->lock);
	uint64_t previous = ls->ckpt_seq;
	if (ls->ckpt_blob)
		dallocx(ls->ckpt_blob, 0);
	ls->ckpt_blob = mallocx(len ? len : 1, 0);
	if (ls->ckpt_blob)
		memcpy(ls->ckpt_blob, blob, len);
	ls->ckpt_len = ls->ckpt_blob ? len : 0; /* the file has it; memory may not */
	ls->ckpt_seq = seq_covered;
	pthread_mutex_unlock(&ls->lock);
	/* Keep the new checkpoint and the one before it; older ones go. */
	if (previous != 0 && previous < seq_covered)
		ls_prune_checkpoints(ls->io, ls->dir, previous);
	return 0;
}

int faii_ls_checkpoint_get(struct faii_ls *ls, uint64_t *seq_covered, void *blob, size_t cap,
                           size_t *len)
{
	pthread_mutex_lock(&ls->lock);
	int rc = ls->ckpt_seq ? 0 : -ENOENT;
	if (rc == 0) {
		*seq_covered = ls->ckpt_seq;
		*len = ls->ckpt_len;
		if (blob && cap)
			memcpy(blob, ls->ckpt_blob, cap < ls->ckpt_len ? cap : ls->ckpt_len);
	}
	pthread_mutex_unlock(&ls->lock);
	return rc;
}

void faii_ls_get_stats(struct faii_ls *ls, struct faii_ls_stats *stats)
{
	pthread_rwlock_rdlock(&ls->index_lock);
	pthread_mutex_lock(&ls->lock);
	*stats = ls->stats;
	stats->durable_seq = atomic_load(&ls->durable_seq);
	stats->error = ls->error;
	stats->index_entries = ls->index.entry_count;
	stats->index_overflow = ls->index.overflow;
	memcpy(stats->chain, ls->durable_chain, FAII_LS_CHAIN_SIZE);
	pthread_mutex_unlock(&ls->lock);
	pthread_rwlock_unlock(&ls->index_lock);
}

/* ---- open and close ------------------------------------------------------------- */

static void on_recovered(void *ctx, const struct ls_record_header *h, const uint8_t *keys_p,
                         uint64_t segment, uint64_t offset)
{
	struct faii_ls *ls = ctx;
	struct faii_ls_keys keys;
	ls_keys_get(keys_p, h->flags, &keys);
	ls_index_add(&ls->index, h->seq, &keys, segment, offset);
}

/* The directory holding dir: "/" for "/x", "." for "x"; trailing slashes ignored. */
static void parent_dir(const char *dir, char *out, size_t cap)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	while (n > 0 && dir[n - 1] != '/')
		n--;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0)
		snprintf(out, cap, ".");
	else
		snprintf(out, cap, "%.*s", (int)n, dir);
}

/*
 * Creates the store's directory if missing and makes the names in it and its
 * own name durable. A name is durable only once its directory is synced; an
 * earlier run may have created the directory, or renamed a new segment into
 * place, and died or seen that sync fail before it succeeded: without these
 * syncs a power loss could take segments holding acknowledged records, or
 * the whole store. Two directory syncs per open.
 */
static int make_dir(struct faii_ls *ls)
{
	int rc = FAII_STORE_IO_CALL(ls->io, mkdir, ls->dir);
	if (rc != 0 && rc != -EEXIST)
		return rc;
	char parent[FAII_LS_ERR_LEN / 2];
	parent_dir(ls->dir, parent, sizeof(parent));
	FAII_ASSERT(parent[0] != '\0');
	rc = FAII_STORE_IO_CALL(ls->io, fsync_dir, parent);
	/* mkdir needs no read permission on the parent, opening it to sync
	 * does: where it is not readable, the store runs as before. */
	if (rc != 0 && rc != -EACCES && rc != -EPERM)
		return rc;
	return FAII_STORE_IO_CALL(ls->io, fsync_dir, ls->dir);
}

/*
 * One process per store: a second one would interleave batches. The lock
 * goes with the process, kill -9 included.
 */
static int lock_dir(struct faii_ls *ls, char *err)
{
	const struct faii_store_io *io = ls->io;
	char path[FAII_LS_ERR_LEN / 2 + 8];
	snprintf(path, sizeof(path), "%s/LOCK", ls->dir);
	int rc =
	        FAII_STORE_IO_CALL(io, open, path, FAII_STORE_IO_READ_WRITE | FAII_STORE_IO_CREATE);
	if (rc >= 0) {
		ls->lock_fd = rc;
		rc = FAII_STORE_IO_CALL(io, lock, ls->lock_fd);
	}
	if (rc < 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: %s", path,
		         rc == -EWOULDBLOCK ? "the store is in use by another process"
		                            : strerror(-rc));
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	/* The store is ours: its mark cannot change under the scan. */
	return ls_mark_read(io, ls->dir, &ls->mark, err);
}

/*
 * The store is open: from now on a crash must not look like a clean close,
 * and records durable now must never be truncated. An earlier version's mark
 * in DIR/LOCK goes, as that version did at open.
 */
static int mark_open(struct faii_ls *ls)
{
	struct ls_mark open = {.kind = LS_MARK_OPEN, .seq = atomic_load(&ls->durable_seq)};
	memcpy(open.chain, ls->durable_chain, FAII_LS_CHAIN_SIZE);
	int rc = ls_mark_write(ls->io, ls->dir, &open);
	if (rc == 0 && ls->mark.kind == LS_MARK_CLOSED_V1) {
		rc = FAII_STORE_IO_CALL(ls->io, ftruncate, ls->lock_fd, 0);
		if (rc == 0)
			rc = FAII_STORE_IO_CALL(ls->io, fsync, ls->lock_fd);
	}
	return rc;
}

/* Bytes of a close record at off: to the next O_DIRECT block, at least its minimum. */
static uint32_t close_record_size(uint64_t off)
{
	uint64_t end = ls_align(off + LS_CLOSE_RECORD_MIN, LS_DIRECT_ALIGN);
	FAII_ASSERT(end - off >= LS_CLOSE_RECORD_MIN && end - off <= LS_CLOSE_RECORD_MAX);
	return (uint32_t)(end - off);
}

/*
 * Appends the close record (the last commit's seq and chain) after the last
 * batch, through the batch queue from the idle first buffer: written and
 * synced, or an error. A segment without room for it (or, with O_DIRECT, an
 * unaligned end) rolls first.
 */
static int write_close_record(struct faii_ls *ls)
{
	const uint64_t seq = atomic_load(&ls->durable_seq);
	bool unaligned = ls->opt.o_direct && ls->seg_offset % LS_DIRECT_ALIGN != 0;
	int rc = 0;
	if (unaligned || ls->seg_offset + close_record_size(ls->seg_offset) > ls->seg_size)
		rc = roll_segment(ls, seq + 1);
	if (rc != 0)
		return rc;
	uint32_t size = close_record_size(ls->seg_offset);
	uint8_t payload[LS_CLOSE_RECORD_MAX];
	memset(payload, 0, sizeof(payload));
	struct ls_close c = {.last_seq = seq};
	memcpy(c.chain, ls->durable_chain, FAII_LS_CHAIN_SIZE);
	memcpy(payload, &c, sizeof(c));
	uint8_t *buf = ls->batches[0].buf; /* the writer has stopped */
	uint32_t len = put_record(buf, LS_TYPE_CLOSE, seq, NULL, payload,
	                          size - (uint32_t)sizeof(struct ls_record_header));
	FAII_ASSERT(len == size);
	rc = FAII_STORE_IO_CALL(ls->io, queue_submit, ls->queue, 0, buf, len, ls->seg_offset);
	struct faii_store_io_completion done;
	if (rc == 0) {
		rc = FAII_STORE_IO_CALL(ls->io, queue_reap, ls->queue, FAII_STORE_IO_WAIT_FOREVER,
		                        &done);
		rc = rc > 0 ? batch_status(&done, len) : rc < 0 ? rc : -EIO;
	}
	if (rc == 0) {
		ls->close_segment = ls->seg_index;
		ls->close_offset = ls->seg_offset;
		ls->seg_offset += len;
		ls->log_closed = true;
	}
	return rc;
}

/*
 * A clean close: the close record in the log, then DIR/STATE "closed" naming
 * it. Either failing leaves the mark "open", which reads as a crash.
 */
static void mark_closed(struct faii_ls *ls)
{
	FAII_ASSERT(ls->error == 0);
	if (!ls->log_closed && write_close_record(ls) != 0)
		return;
	struct ls_mark closed = {.kind = LS_MARK_CLOSED,
	                         .seq = atomic_load(&ls->durable_seq),
	                         .close_segment = ls->close_segment,
	                         .close_offset = ls->close_offset};
	memcpy(closed.chain, ls->durable_chain, FAII_LS_CHAIN_SIZE);
	(void)ls_mark_write(ls->io, ls->dir, &closed);
}

static int alloc_batches(struct faii_ls *ls)
{
	/* Records, then up to one block of padding and the commit record. */
	size_t size = ls_align(ls->opt.batch_bytes_max + 2 * LS_DIRECT_ALIGN, LS_DIRECT_ALIGN);
	void *bufs[2];
	for (int i = 0; i < 2; i++) {
		struct batch *b = &ls->batches[i];
		b->buf = mallocx(size, MALLOCX_ALIGN(LS_DIRECT_ALIGN) | MALLOCX_ZERO);
		b->cbs = mallocx(ls->opt.batch_records_max * sizeof(*b->cbs), 0);
		b->args = mallocx(ls->opt.batch_records_max * sizeof(*b->args), 0);
		if (!b->buf || !b->cbs || !b->args)
			return -ENOMEM;
		b->cap = ls->opt.batch_bytes_max;
		bufs[i] = b->buf;
	}
	/* A sealed batch (records, padding, commit) fits its buffer. */
	FAII_ASSERT(sealed_size(ls, ls->opt.batch_bytes_max) <= size);
	return FAII_STORE_IO_CALL(ls->io, queue_open, bufs, 2, size, &ls->queue);
}

static void free_store(struct faii_ls *ls)
{
	const struct faii_store_io *io = ls->io;
	if (ls->queue)
		FAII_STORE_IO_CALL(io, queue_close, ls->queue);
	if (ls->seg_fd >= 0)
		FAII_STORE_IO_CALL(io, close, ls->seg_fd);
	for (int i = 0; i < 2; i++) {
		if (ls->batches[i].buf)
			dallocx(ls->batches[i].buf, 0);
		if (ls->batches[i].cbs)
			dallocx(ls->batches[i].cbs, 0);
		if (ls->batches[i].args)
			dallocx(ls->batches[i].args, 0);
	}
	for (unsigned i = 0; i < READ_FDS_MAX; i++) {
		if (ls->read_fds[i] >= 0)
			FAII_STORE_IO_CALL(io, close, ls->read_fds[i]);
	}
	if (ls->ckpt_blob)
		dallocx(ls->ckpt_blob, 0);
	ls_index_free(&ls->index);
	pthread_rwlock_destroy(&ls->index_lock);
	pthread_cond_destroy(&ls->work);
	pthread_cond_destroy(&ls->space);
	pthread_cond_destroy(&ls->durable);
	pthread_mutex_destroy(&ls->read_lock);
	pthread_mutex_destroy(&ls->checkpoint_lock);
	if (ls->lock_fd >= 0)
		FAII_STORE_IO_CALL(io, close, ls->lock_fd);
	pthread_mutex_destroy(&ls->lock);
	dallocx(ls, 0);
}

static int check_options(struct faii_ls_options *o, char *err)
{
	if (o->dir == NULL || o->dir[0] == '\0' || strlen(o->dir) >= FAII_LS_ERR_LEN / 2 - 48) {
		snprintf(err, FAII_LS_ERR_LEN, "ledger store: expected a directory path");
		return -EINVAL;
	}
	if (o->segment_size_bytes == 0)
		o->segment_size_bytes = FAII_LS_SEGMENT_SIZE_DEFAULT;
	if (o->batch_bytes_max == 0)
		o->batch_bytes_max = FAII_LS_BATCH_BYTES_DEFAULT;
	if (o->batch_records_max == 0)
		o->batch_records_max = FAII_LS_BATCH_RECORDS_DEFAULT;
	if (o->index_entries_max == 0)
		o->index_entries_max = FAII_LS_INDEX_ENTRIES_DEFAULT;
	uint64_t largest = ls_align(record_size(FAII_LS_RECORD_PAYLOAD_MAX, NULL) + 64, LS_ALIGN);
	if (o->segment_size_bytes < FAII_LS_SEGMENT_SIZE_MIN ||
	    o->segment_size_bytes % LS_DIRECT_ALIGN != 0 || o->batch_bytes_max < largest ||
	    o->batch_bytes_max > o->segment_size_bytes / 2 || o->batch_records_max < 1 ||
	    o->batch_records_max > (1u << 24) || o->index_entries_max > (1u << 30)) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "ledger store: options out of range (segment size >= %llu and a multiple "
		         "of "
		         "4096, %" PRIu64 " <= batch bytes <= segment size / 2, 1 <= batch records "
		         "<= 2^24, index entries <= 2^30)",
		         (unsigned long long)FAII_LS_SEGMENT_SIZE_MIN, largest);
		return -EINVAL;
	}
	return 0;
}

/* The checkpoint's index snapshot goes in before the records after it. */
static int on_checkpoint(void *ctx, const struct ls_checkpoint_header *h, const uint8_t *data)
{
	struct faii_ls *ls = ctx;
	int rc = ls_index_restore(&ls->index, data + h->blob_len, h->index_len);
	if (rc != 0)
		return rc;
	ls->ckpt_seq = h->seq_covered;
	ls->ckpt_len = h->blob_len;
	ls->ckpt_blob = mallocx(h->blob_len ? h->blob_len : 1, 0);
	if (ls->ckpt_blob == NULL)
		return -ENOMEM;
	memcpy(ls->ckpt_blob, data, h->blob_len);
	return 0;
}

static int recover(struct faii_ls *ls, char *err)
{
	struct ls_scan scan = {
	        .io = ls->io,
	        .dir = ls->dir,
	        .repair = true,
	        .mark = &ls->mark,
	        .accept_damage = ls->opt.accept_damaged_tail,
	        .on_checkpoint = on_checkpoint,
	        .on_record = on_recovered,
	        .ctx = ls,
	};
	int rc = ls_scan_dir(&scan, err);
	free(scan.checkpoint_data);
	if (rc != 0)
		return rc;
	if (scan.damage_accepted) /* what the operator's override let through */
		snprintf(ls->accepted, sizeof(ls->accepted), "%s", scan.finding);
	ls->log_closed = scan.end.ends_with_close;
	ls->close_segment = scan.end.close_segment;
	ls->close_offset = scan.end.close_offset;
	ls->next_seq = scan.last_seq + 1;
	atomic_store(&ls->durable_seq, scan.last_seq);
	memcpy(ls->chain, scan.chain, FAII_LS_CHAIN_SIZE);
	memcpy(ls->durable_chain, scan.chain, FAII_LS_CHAIN_SIZE);
	ls->stats.recovered_records = scan.records;
	ls->stats.truncated_bytes = scan.torn_bytes;
	ls->stats.segments = scan.segment_count;
	if (scan.segment_count == 0) {
		ls->seg_index = 0;
		ls->seg_offset = LS_SEGMENT_HEADER_SIZE;
		int fd;
		rc = create_segment(ls, 0, 1, &fd);
		if (rc != 0) {
			snprintf(err, FAII_LS_ERR_LEN, "%s: cannot create the first segment: %s",
			         ls->dir, strerror(-rc));
			return rc;
		}
		FAII_STORE_IO_CALL(ls->io, close, fd);
		ls->stats.segments = 1;
	} else {
		ls->seg_index = scan.write_segment;
		ls->seg_offset = scan.write_offset;
		ls->seg_size = scan.write_segment_size;
	}
	ls->first_segment = scan.segment_count ? scan.first_segment : 0;
	/* Checkpoints name the end of the last commit: a close record after it
	 * is not a commit boundary. */
	ls->durable_segment = scan.segment_count ? scan.commit_segment : 0;
	ls->durable_offset = scan.segment_count ? scan.commit_offset : LS_SEGMENT_HEADER_SIZE;
	/* Appends continue right after the last commit, inside the segment. */
	FAII_ASSERT(ls->seg_offset >= LS_SEGMENT_HEADER_SIZE && ls->seg_offset % LS_ALIGN == 0 &&
	            ls->seg_offset <= ls->seg_size);
	FAII_ASSERT(ls->next_seq == atomic_load(&ls->durable_seq) + 1);
	return 0;
}

/* Locks, conditions and the defaults of a store not yet opened. */
static struct faii_ls *new_store(const struct faii_ls_options *opt)
{
	struct faii_ls *ls = mallocx(sizeof(*ls), MALLOCX_ZERO);
	if (ls == NULL)
		return NULL;
	ls->opt = *opt;
	ls->io = opt->io ? opt->io : faii_store_io_system();
	ls->seg_fd = -1;
	ls->lock_fd = -1;
	for (unsigned i = 0; i < READ_FDS_MAX; i++)
		ls->read_fds[i] = -1;
	pthread_mutex_init(&ls->lock, NULL);
	pthread_mutex_init(&ls->checkpoint_lock, NULL);
	pthread_mutex_init(&ls->read_lock, NULL);
	pthread_cond_init(&ls->work, NULL);
	pthread_cond_init(&ls->space, NULL);
	/* Timeouts of waiters must not jump with the wall clock. */
	pthread_condattr_t monotonic;
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&ls->durable, &monotonic);
	pthread_condattr_destroy(&monotonic);
	/* Steady readers must not starve the writer's index updates (and with
	 * them every acknowledgement). No thread takes the read lock twice. */
	pthread_rwlockattr_t prefer_writer;
	pthread_rwlockattr_init(&prefer_writer);
	pthread_rwlockattr_setkind_np(&prefer_writer, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ls->index_lock, &prefer_writer);
	pthread_rwlockattr_destroy(&prefer_writer);
	return ls;
}

/* Directory, lock, index and batch queue: everything before recovery. */
static int set_up(struct faii_ls *ls, char *err)
{
	int rc = make_dir(ls);
	if (rc == 0) {
		rc = lock_dir(ls, err);
		if (rc != 0)
			return rc; /* lock_dir wrote the message */
	}
	if (rc == 0)
		rc = ls_index_init(&ls->index, ls->opt.index_entries_max);
	if (rc == 0)
		rc = alloc_batches(ls);
	if (rc != 0)
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot set up the store: %s", ls->dir,
		         strerror(-rc));
	return rc;
}

int faii_ls_open(const struct faii_ls_options *opt, struct faii_ls **out, char err[FAII_LS_ERR_LEN])
{
	*out = NULL;
	err[0] = '\0';
	/* libsodium picks its fastest BLAKE2b only once initialised. */
	if (sodium_init() < 0) {
		snprintf(err, FAII_LS_ERR_LEN, "ledger store: libsodium cannot initialise");
		return -EIO;
	}
	struct faii_ls *ls = new_store(opt);
	if (ls == NULL)
		return -ENOMEM;
	int rc = check_options(&ls->opt, err);
	if (rc != 0)
		goto fail;
	snprintf(ls->dir, sizeof(ls->dir), "%s", ls->opt.dir);
	ls->opt.dir = ls->dir;
	ls->seg_size = ls->opt.segment_size_bytes;
	rc = set_up(ls, err);
	if (rc != 0)
		goto fail;
	rc = recover(ls, err);
	if (rc == 0) {
		ls->batches[0].first_seq = ls->next_seq;
		hash_begin(ls, &ls->batches[0]);
		rc = mark_open(ls);
		if (rc != 0)
			snprintf(err, FAII_LS_ERR_LEN, "%s/" LS_STATE_FILE ": cannot write: %s",
			         ls->dir, strerror(-rc));
	}
	if (rc == 0)
		rc = open_write_segment(ls, ls->seg_index);
	if (rc == 0 && pthread_create(&ls->writer, NULL, writer_main, ls) != 0)
		rc = -EAGAIN;
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, FAII_LS_ERR_LEN, "%s: cannot open the store: %s", ls->dir,
			         strerror(-rc));
		goto fail;
	}
	snprintf(err, FAII_LS_ERR_LEN, "%s", ls->accepted);
	*out = ls;
	return 0;
fail:
	FAII_ASSERT(rc < 0);
	free_store(ls);
	return rc;
}

void faii_ls_close(struct faii_ls *ls)
{
	if (ls == NULL)
		return;
	pthread_mutex_lock(&ls->lock);
	ls->stopping = true;
	pthread_cond_broadcast(&ls->work);
	pthread_cond_broadcast(&ls->space);
	pthread_mutex_unlock(&ls->lock);
	pthread_join(ls->writer, NULL);
	/* Everything acknowledged is durable now; a failed store is not clean. */
	if (ls->error == 0)
		mark_closed(ls);
	free_store(ls);
}
