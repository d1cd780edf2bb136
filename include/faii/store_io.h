/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ledger store's disk behind one interface (SQLite's sqlite3_io_methods,
 * TigerBeetle's storage seam): everything the store, its recovery scan and
 * its offline verify do to files and directories goes through a struct
 * faii_store_io. Production uses faii_store_io_system() (POSIX calls and
 * io_uring, ledger/store/io_system.c); tests/sim/ passes a simulated disk
 * that keeps the data in memory and tears, drops, corrupts, delays or fails
 * any operation, decided by a seed.
 *
 * Error convention: every operation returns 0 (or a count, a size, a file
 * handle >= 0) on success and a negative errno on failure. close, unmap and
 * queue_close cannot fail.
 *
 * Durability contract (what the simulator models; ext4 and XFS give it):
 *
 *   - pwrite and the batch write put data into the file's volatile image
 *     (the page cache): reads and maps see it at once, a process crash
 *     (kill -9) keeps it, a power loss keeps each sector of it or not
 *     (sectors are the atomic unit; a write that crossed several may keep
 *     any subset). Data can reach the media before it is synced.
 *   - datasync (fdatasync) and fsync: 0 means every write, fallocate and
 *     ftruncate of that file completed before the call is durable, the size
 *     included. A failure means nothing about which of them are durable, and
 *     a later successful sync does not make them durable either: the kernel
 *     may have dropped the dirty pages ("fsyncgate"). Never retry a failed
 *     sync to prove durability.
 *   - the batch (queue_submit): one write linked to one datasync of the
 *     queue's file. The data is durable when the completion reports
 *     written_bytes == the length submitted and sync_status == 0. A short or
 *     failed write cancels the sync (sync_status -ECANCELED).
 *   - names: open with FAII_STORE_IO_CREATE, rename, unlink and mkdir are
 *     atomic. They become durable when fsync_dir of the directory holding
 *     the name returns 0 (for mkdir: the parent). Before that, a power loss
 *     keeps a prefix, in order, of the changes made in that directory since
 *     its last fsync_dir (journalled file systems commit in order). A
 *     renamed file's data is durable only if it was synced before.
 *   - fallocate without FAII_STORE_IO_KEEP_SIZE extends the size like a
 *     write of zeros; -ENOSPC when the space is not there.
 *   - lock: exclusive and non-blocking; -EWOULDBLOCK while another open file
 *     holds it. It goes with the file's close and with the process.
 *
 * Threads: the store calls the table from its writer thread and from its
 * callers' threads; an implementation serialises what it must. One queue is
 * used by one thread at a time.
 */
#ifndef FAII_STORE_IO_H
#define FAII_STORE_IO_H

#include <stddef.h>
#include <stdint.h>

/* queue_reap: wait until the batch completes. */
#define FAII_STORE_IO_WAIT_FOREVER UINT64_MAX
/* Buffers a queue registers: the store's two batch buffers. */
#define FAII_STORE_IO_QUEUE_BUFFERS_MAX 2u

/* open flags */
enum {
	FAII_STORE_IO_READ_ONLY = 0,
	FAII_STORE_IO_READ_WRITE = 1u << 0,
	FAII_STORE_IO_CREATE = 1u << 1,   /* create if missing (mode 0640) */
	FAII_STORE_IO_TRUNCATE = 1u << 2, /* size 0 at open */
	FAII_STORE_IO_DIRECT = 1u << 3,   /* O_DIRECT: 4096-aligned buffers, offsets, lengths */
};

/* fallocate mode */
enum {
	FAII_STORE_IO_KEEP_SIZE = 1u << 0, /* allocate without changing the size */
};

/* One per store: the batch write + datasync in flight (at most one). */
struct faii_store_io_queue;

struct faii_store_io_completion {
	int64_t written_bytes; /* bytes the write wrote, or a negative errno */
	int sync_status;       /* 0, a negative errno, or -ECANCELED after a short write */
};

/* list_dir calls it for every name but "." and ".."; non-zero stops the listing. */
typedef int (*faii_store_io_name_fn)(void *arg, const char *name);

struct faii_store_io {
	/* ---- directories and names ---- */
	/* 0 when created, -EEXIST when the name exists. */
	int (*mkdir)(void *ctx, const char *path);
	/* 0, the callback's non-zero return, or a negative errno. */
	int (*list_dir)(void *ctx, const char *path, faii_store_io_name_fn fn, void *arg);
	int (*fsync_dir)(void *ctx, const char *path);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *path);

	/* ---- files ---- */
	/* A file handle >= 0. flags: FAII_STORE_IO_*. */
	int (*open)(void *ctx, const char *path, unsigned flags);
	void (*close)(void *ctx, int file);
	int (*lock)(void *ctx, int file);
	/* The size in bytes. */
	int64_t (*size)(void *ctx, int file);
	/* Bytes read (fewer only at the end of the file) or written. */
	int64_t (*pread)(void *ctx, int file, void *buf, size_t len_bytes, uint64_t offset);
	int64_t (*pwrite)(void *ctx, int file, const void *buf, size_t len_bytes, uint64_t offset);
	int (*datasync)(void *ctx, int file);
	int (*fsync)(void *ctx, int file);
	/* mode: 0 or FAII_STORE_IO_KEEP_SIZE. */
	int (*fallocate)(void *ctx, int file, unsigned mode, uint64_t offset, uint64_t len_bytes);
	int (*ftruncate)(void *ctx, int file, uint64_t len_bytes);
	/*
	 * A read-only view of the file's first len_bytes (> 0, <= its size), for
	 * the recovery scan. Valid until unmap; whether later writes show in it
	 * is unspecified.
	 */
	int (*map)(void *ctx, int file, uint64_t len_bytes, const void **out);
	void (*unmap)(void *ctx, int file, const void *view, uint64_t len_bytes);

	/* ---- the batch queue: one write linked to one datasync ---- */
	/*
	 * Registers buf_count (<= FAII_STORE_IO_QUEUE_BUFFERS_MAX) buffers of
	 * buf_bytes each; batches are written from them only.
	 */
	int (*queue_open)(void *ctx, void *const bufs[], unsigned buf_count, size_t buf_bytes,
	                  struct faii_store_io_queue **out);
	void (*queue_close)(void *ctx, struct faii_store_io_queue *queue);
	/* The file batches go to (it stays open by the caller); -1: none. */
	int (*queue_set_file)(void *ctx, struct faii_store_io_queue *queue, int file);
	/* Starts writing buf (inside buffer buf_index) at offset, then datasync. */
	int (*queue_submit)(void *ctx, struct faii_store_io_queue *queue, unsigned buf_index,
	                    const void *buf, uint32_t len_bytes, uint64_t offset);
	/*
	 * 1 with *out once the batch in flight has completed (write and sync);
	 * 0 when it has not within wait_ns (0: just look; FAII_STORE_IO_WAIT_FOREVER);
	 * a negative errno when the queue itself failed.
	 */
	int (*queue_reap)(void *ctx, struct faii_store_io_queue *queue, uint64_t wait_ns,
	                  struct faii_store_io_completion *out);

	void *ctx; /* the implementation's state */
};

/* Calls one operation: FAII_STORE_IO_CALL(io, pread, file, buf, len, offset). */
#define FAII_STORE_IO_CALL(io, op, ...) ((io)->op((io)->ctx, __VA_ARGS__))

/* The system's disk: POSIX calls, mmap and io_uring (ledger/store/io_system.c). */
const struct faii_store_io *faii_store_io_system(void);

#endif /* FAII_STORE_IO_H */
