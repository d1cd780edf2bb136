/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The system's disk for the ledger store (include/faii/store_io.h): POSIX
 * calls, mmap for the recovery scan and, for batches, one io_uring write from
 * a registered buffer to a registered file linked (IOSQE_IO_LINK) to one
 * fdatasync. The behaviour is the store's from before the interface; only
 * the place of the calls moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/falloc.h>

#include <liburing.h>

#include "faii/assert.h"
#include "faii/store_io.h"

#define RING_ENTRIES            8u /* one write and one fsync in flight */
#define FILE_MODE               0640
#define DIR_MODE                0750
#define USER_DATA_WRITE         1u
#define USER_DATA_SYNC          2u
#define COMPLETIONS_PER_BATCH   2u /* the write's and the sync's */
#define INTERRUPTED_RETRIES_MAX 64u

FAII_STATIC_ASSERT(RING_ENTRIES >= COMPLETIONS_PER_BATCH, "a batch fits the ring");

struct faii_store_io_queue {
	struct io_uring ring;
	uint8_t *bufs[FAII_STORE_IO_QUEUE_BUFFERS_MAX];
	size_t buf_bytes;
	unsigned buf_count;
	bool file_registered;
	bool in_flight;
	unsigned completions_seen; /* of the batch in flight */
	struct faii_store_io_completion result;
};

/* ---- directories and names ------------------------------------------------ */

static int sys_mkdir(void *ctx, const char *path)
{
	(void)ctx;
	return mkdir(path, DIR_MODE) == 0 ? 0 : -errno;
}

static int sys_list_dir(void *ctx, const char *path, faii_store_io_name_fn fn, void *arg)
{
	(void)ctx;
	DIR *d = opendir(path);
	if (d == NULL)
		return -errno;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = fn(arg, e->d_name);
	}
	closedir(d);
	return rc;
}

static int sys_fsync_dir(void *ctx, const char *path)
{
	(void)ctx;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int sys_rename(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	return rename(from, to) == 0 ? 0 : -errno;
}

static int sys_unlink(void *ctx, const char *path)
{
	(void)ctx;
	return unlink(path) == 0 ? 0 : -errno;
}

/* ---- files ------------------------------------------------------------------ */

static int sys_open(void *ctx, const char *path, unsigned flags)
{
	(void)ctx;
	FAII_ASSERT((flags & ~(FAII_STORE_IO_READ_WRITE | FAII_STORE_IO_CREATE |
	                       FAII_STORE_IO_TRUNCATE | FAII_STORE_IO_DIRECT)) == 0);
	int oflags = O_CLOEXEC | ((flags & FAII_STORE_IO_READ_WRITE) ? O_RDWR : O_RDONLY);
	oflags |= (flags & FAII_STORE_IO_CREATE) ? O_CREAT : 0;
	oflags |= (flags & FAII_STORE_IO_TRUNCATE) ? O_TRUNC : 0;
	oflags |= (flags & FAII_STORE_IO_DIRECT) ? O_DIRECT : 0;
	int fd = open(path, oflags, FILE_MODE);
	return fd >= 0 ? fd : -errno;
}

static void sys_close(void *ctx, int file)
{
	(void)ctx;
	FAII_ASSERT(file >= 0);
	close(file);
}

static int sys_lock(void *ctx, int file)
{
	(void)ctx;
	return flock(file, LOCK_EX | LOCK_NB) == 0 ? 0 : -errno;
}

static int64_t sys_size(void *ctx, int file)
{
	(void)ctx;
	struct stat st;
	return fstat(file, &st) == 0 ? (int64_t)st.st_size : -errno;
}

static int64_t sys_pread(void *ctx, int file, void *buf, size_t len_bytes, uint64_t offset)
{
	(void)ctx;
	for (unsigned retry = 0; retry < INTERRUPTED_RETRIES_MAX; retry++) {
		ssize_t n = pread(file, buf, len_bytes, (off_t)offset);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
	return -EINTR;
}

static int64_t sys_pwrite(void *ctx, int file, const void *buf, size_t len_bytes, uint64_t offset)
{
	(void)ctx;
	for (unsigned retry = 0; retry < INTERRUPTED_RETRIES_MAX; retry++) {
		ssize_t n = pwrite(file, buf, len_bytes, (off_t)offset);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
	return -EINTR;
}

static int sys_datasync(void *ctx, int file)
{
	(void)ctx;
	return fdatasync(file) == 0 ? 0 : -errno;
}

static int sys_fsync(void *ctx, int file)
{
	(void)ctx;
	return fsync(file) == 0 ? 0 : -errno;
}

static int sys_fallocate(void *ctx, int file, unsigned mode, uint64_t offset, uint64_t len_bytes)
{
	(void)ctx;
	FAII_ASSERT((mode & ~FAII_STORE_IO_KEEP_SIZE) == 0);
	int m = (mode & FAII_STORE_IO_KEEP_SIZE) ? FALLOC_FL_KEEP_SIZE : 0;
	return fallocate(file, m, (off_t)offset, (off_t)len_bytes) == 0 ? 0 : -errno;
}

static int sys_ftruncate(void *ctx, int file, uint64_t len_bytes)
{
	(void)ctx;
	return ftruncate(file, (off_t)len_bytes) == 0 ? 0 : -errno;
}

static int sys_map(void *ctx, int file, uint64_t len_bytes, const void **out)
{
	(void)ctx;
	FAII_ASSERT(len_bytes > 0);
	void *p = mmap(NULL, len_bytes, PROT_READ, MAP_SHARED, file, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* The scan reads each segment once, front to back. */
	madvise(p, len_bytes, MADV_SEQUENTIAL);
	*out = p;
	return 0;
}

static void sys_unmap(void *ctx, int file, const void *view, uint64_t len_bytes)
{
	(void)ctx, (void)file;
	munmap((void *)(uintptr_t)view, len_bytes);
}

/* ---- the batch queue ------------------------------------------------------------ */

static int sys_queue_open(void *ctx, void *const bufs[], unsigned buf_count, size_t buf_bytes,
                          struct faii_store_io_queue **out)
{
	(void)ctx;
	FAII_ASSERT(buf_count >= 1 && buf_count <= FAII_STORE_IO_QUEUE_BUFFERS_MAX);
	FAII_ASSERT(buf_bytes > 0);
	struct faii_store_io_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	int rc = io_uring_queue_init(RING_ENTRIES, &q->ring, 0);
	if (rc != 0) {
		free(q);
		return rc;
	}
	struct iovec iov[FAII_STORE_IO_QUEUE_BUFFERS_MAX];
	for (unsigned i = 0; i < buf_count; i++) {
		FAII_ASSERT(bufs[i] != NULL);
		q->bufs[i] = bufs[i];
		iov[i] = (struct iovec){bufs[i], buf_bytes};
	}
	q->buf_count = buf_count;
	q->buf_bytes = buf_bytes;
	rc = io_uring_register_buffers(&q->ring, iov, buf_count);
	if (rc != 0) {
		io_uring_queue_exit(&q->ring);
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

static void sys_queue_close(void *ctx, struct faii_store_io_queue *q)
{
	(void)ctx;
	FAII_ASSERT_MSG(!q->in_flight, "a batch is still in flight");
	io_uring_queue_exit(&q->ring);
	free(q);
}

static int sys_queue_set_file(void *ctx, struct faii_store_io_queue *q, int file)
{
	(void)ctx;
	FAII_ASSERT_MSG(!q->in_flight, "the file changes under a batch in flight");
	if (q->file_registered)
		io_uring_unregister_files(&q->ring);
	q->file_registered = false;
	if (file < 0)
		return 0;
	int rc = io_uring_register_files(&q->ring, &file, 1);
	q->file_registered = rc == 0;
	return rc;
}

static int sys_queue_submit(void *ctx, struct faii_store_io_queue *q, unsigned buf_index,
                            const void *buf, uint32_t len_bytes, uint64_t offset)
{
	(void)ctx;
	FAII_ASSERT(!q->in_flight);
	FAII_ASSERT(q->file_registered);
	FAII_ASSERT(buf_index < q->buf_count);
	const uint8_t *start = q->bufs[buf_index], *p = buf;
	FAII_ASSERT_MSG(p >= start && p + len_bytes <= start + q->buf_bytes,
	                "the batch lies outside its registered buffer");
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	FAII_ASSERT(sqe != NULL);
	io_uring_prep_write_fixed(sqe, 0, buf, len_bytes, offset, (int)buf_index);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	sqe->user_data = USER_DATA_WRITE;
	sqe = io_uring_get_sqe(&q->ring);
	FAII_ASSERT(sqe != NULL);
	io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = USER_DATA_SYNC;
	int rc = io_uring_submit(&q->ring);
	if (rc < 0)
		return rc;
	q->in_flight = true;
	q->completions_seen = 0;
	q->result = (struct faii_store_io_completion){.written_bytes = 0, .sync_status = 0};
	return 0;
}

/* One completion within wait_ns: 1, 0 (not yet) or a negative errno. */
static int reap_one(struct faii_store_io_queue *q, uint64_t wait_ns)
{
	struct io_uring_cqe *cqe;
	int rc;
	if (wait_ns == 0) {
		rc = io_uring_peek_cqe(&q->ring, &cqe);
	} else if (wait_ns == FAII_STORE_IO_WAIT_FOREVER) {
		rc = io_uring_wait_cqe(&q->ring, &cqe);
	} else {
		struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ns / 1000000000u),
		                               .tv_nsec = (long long)(wait_ns % 1000000000u)};
		rc = io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts);
	}
	if (rc == -EAGAIN || rc == -ETIME || rc == -EINTR)
		return 0;
	if (rc < 0)
		return rc;
	FAII_ASSERT(cqe->user_data == USER_DATA_WRITE || cqe->user_data == USER_DATA_SYNC);
	if (cqe->user_data == USER_DATA_WRITE)
		q->result.written_bytes = cqe->res;
	else
		q->result.sync_status = cqe->res;
	io_uring_cqe_seen(&q->ring, cqe);
	q->completions_seen++;
	return 1;
}

static int sys_queue_reap(void *ctx, struct faii_store_io_queue *q, uint64_t wait_ns,
                          struct faii_store_io_completion *out)
{
	(void)ctx;
	FAII_ASSERT_MSG(q->in_flight, "nothing to reap");
	while (q->completions_seen < COMPLETIONS_PER_BATCH) {
		int rc = reap_one(q, wait_ns);
		if (rc <= 0)
			return rc;
	}
	FAII_ASSERT(q->completions_seen == COMPLETIONS_PER_BATCH);
	q->in_flight = false;
	*out = q->result;
	return 1;
}

static const struct faii_store_io system_io = {
        .mkdir = sys_mkdir,
        .list_dir = sys_list_dir,
        .fsync_dir = sys_fsync_dir,
        .rename = sys_rename,
        .unlink = sys_unlink,
        .open = sys_open,
        .close = sys_close,
        .lock = sys_lock,
        .size = sys_size,
        .pread = sys_pread,
        .pwrite = sys_pwrite,
        .datasync = sys_datasync,
        .fsync = sys_fsync,
        .fallocate = sys_fallocate,
        .ftruncate = sys_ftruncate,
        .map = sys_map,
        .unmap = sys_unmap,
        .queue_open = sys_queue_open,
        .queue_close = sys_queue_close,
        .queue_set_file = sys_queue_set_file,
        .queue_submit = sys_queue_submit,
        .queue_reap = sys_queue_reap,
        .ctx = NULL,
};

const struct faii_store_io *faii_store_io_system(void)
{
	return &system_io;
}
