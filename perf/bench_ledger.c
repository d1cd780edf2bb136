/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the ledger store (include/faii/ledger_store.h): durable
 * appends per second, acknowledgement latency and recovery time, against
 * three baselines that get the same batching, measured in the same run on
 * the same filesystem.
 *
 * Every contender acknowledges a record only once it is on stable storage,
 * and every contender is driven the same way: THREADS appender threads
 * (default 8) each append their share of N records as fast as the contender
 * takes them, with a callback that runs after durability. The clock starts
 * when the appenders are released and stops in the callback of the last
 * record; records/s = N / that time. Acknowledgement latency is the time
 * from the start of an append call to the start of its callback
 * (CLOCK_MONOTONIC), taken for every 8th append of each appender (a clock
 * read costs about 30 ns on the VM, too much to spend twice per record on
 * the writer's critical path). Under this saturating load the latency is
 * mostly the wait for the batch in flight and then for the record's own.
 *
 * Contenders:
 *   store             faii_ls_append(), default options: two batch buffers,
 *                     one io_uring write + one fdatasync per batch, CRC32C
 *                     per record and a BLAKE2b chain value per batch.
 *   pwrite-fdatasync  a group-commit queue built like the store's (below),
 *                     whose writer does one pwrite() + one fdatasync() per
 *                     batch on a file preallocated with fallocate() (as the
 *                     store's segments are). Records carry the same 24-byte
 *                     header as the store's but no CRC and no hash chain.
 *   sqlite-wal        the same queue; the writer runs one transaction per
 *                     batch (BEGIN, a prepared INSERT of (seq, blob) per
 *                     record, COMMIT) on a database in journal_mode=WAL with
 *                     synchronous=FULL (one WAL fsync per commit; default
 *                     page size and automatic checkpoints).
 *   lmdb              the same queue; one write transaction per batch,
 *                     mdb_put(seq -> blob, MDB_APPEND) on an MDB_INTEGERKEY
 *                     database, default durability (no MDB_NOSYNC and no
 *                     MDB_NOMETASYNC: LMDB syncs the data pages, then the
 *                     meta page, so two syncs per commit).
 *
 * Same batching: the baselines' queue is the store's design. Appenders copy
 * their record into the open one of two buffers under a mutex; a single
 * writer thread takes the open buffer as the next batch as soon as the
 * previous batch is durable (no timer: the store has none, so the "max
 * delay" is one batch's write + sync), and appenders block while both
 * buffers are full. The bounds are the store's: --batch-bytes (default
 * FAII_LS_BATCH_BYTES_DEFAULT, 2 MiB, counted in the same 24-byte-header,
 * 8-aligned record sizes) and --batch-records (default 16384). Every result
 * line reports the average batch size it got.
 *
 * Cases (--cases, default all):
 *   append128   2 M records of 128 bytes for the store and for each baseline
 *               (--records-128, --baseline-records): records/s and latency.
 *   closedloop  each appender keeps one record in flight for 2 s
 *               (--closed-loop-seconds): latency when batches are small.
 *   append1k    500 k records of 1 KiB (--records-1k), then the recovery:
 *               the last run's store is filled up to --recovery-mib (default
 *               1 GiB of log) with more 1 KiB records (not timed), closed,
 *               synced, the page cache dropped (echo 3 >
 *               /proc/sys/vm/drop_caches as root, otherwise
 *               posix_fadvise(DONTNEED) on the segments), and faii_ls_open()
 *               timed: a full scan from genesis (no checkpoint is ever
 *               written) verifying every CRC and the hash chain and
 *               rebuilding the index. Then once more without dropping the
 *               cache ("_warm"), which leaves only the CPU part. On a VM the
 *               host may still cache the image: "cold" is cold in this
 *               kernel only.
 * Each timed case is repeated --reps times (default 5), the contenders
 * interleaved in a rotating order; lines give the median with min and max.
 *
 * libsodium: the store never calls sodium_init() (nor does faiid), so its
 * BLAKE2b is libsodium's portable code; --sodium-init calls it first, which
 * selects the AVX2 code and is flagged in every line.
 *
 * The data lives under --dir (default: a fresh directory under the build
 * directory the binary was built in, else $TMPDIR, else /var/tmp), which must
 * not be tmpfs or ramfs; its filesystem type is reported in every line as
 * "fs". Every case starts from an empty directory and deletes its data
 * afterwards; free space is checked first and the record counts scaled down
 * (with a "note" in every line) if short. The largest case, the recovery,
 * holds about 1.5 GiB (1 GiB of log in preallocated 256 MiB segments).
 *
 * Output: one JSON object per line on stdout, nothing else; progress on
 * stderr. "ratio" is value / baseline_value; "better" says which way is
 * good.
 *   bench_ledger [--dir DIR] [--threads N] [--records-128 N] [--records-1k N]
 *                [--baseline-records N] [--recovery-mib N] [--batch-bytes N]
 *                [--batch-records N] [--closed-loop-seconds S] [--reps N]
 *                [--cases append128,closedloop,append1k] [--sodium-init]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>
#include <sqlite3.h>

#include "faii/ledger_store.h"

#define MIB            (1024.0 * 1024.0)
#define RECORD_HDR     24u /* the store's record header; the baselines use the same */
#define SEGMENT_BYTES  FAII_LS_SEGMENT_SIZE_DEFAULT
#define SPACE_MARGIN   (256ull << 20)
#define RECORD_TYPE    1u
#define N_CONTENDERS   4
#define CLOSED_LOOP_MS 2000u
#define LAT_SAMPLE     8u /* every 8th append of an appender is timed */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t stored_size(uint32_t len)
{
	return (RECORD_HDR + len + 7u) & ~7u;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench_ledger: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench_ledger: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- JSON lines ---------------------------------------------------------- */

static char g_fs[64] = "unknown";
static char g_note[256];

struct jl {
	char s[2048];
	size_t n;
};

static void jl_add(struct jl *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jl_add(struct jl *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n = l->n + (size_t)k < sizeof(l->s) ? l->n + (size_t)k : sizeof(l->s) - 1;
}

static void jl_begin(struct jl *l, const char *name, double value, int prec, const char *unit)
{
	l->n = 0;
	jl_add(l, "{\"bench\": \"ledger\", \"case\": \"%s\", \"value\": %.*f, \"unit\": \"%s\"",
	       name, prec, value, unit);
}

static void jl_baseline(struct jl *l, const char *name, double value, int prec, double ratio)
{
	jl_add(l, ", \"baseline\": \"%s\", \"baseline_value\": %.*f, \"ratio\": %.3f", name, prec,
	       value, ratio);
}

static void jl_str(struct jl *l, const char *key, const char *v)
{
	jl_add(l, ", \"%s\": \"%s\"", key, v);
}

static void jl_num(struct jl *l, const char *key, double v, int prec)
{
	jl_add(l, ", \"%s\": %.*f", key, prec, v);
}

static void jl_bool(struct jl *l, const char *key, bool v)
{
	jl_add(l, ", \"%s\": %s", key, v ? "true" : "false");
}

static bool g_sodium_init;

static void jl_end(struct jl *l)
{
	jl_str(l, "fs", g_fs);
	if (g_sodium_init)
		jl_bool(l, "sodium_init", true);
	if (g_note[0])
		jl_str(l, "note", g_note);
	jl_add(l, "}\n");
	fputs(l->s, stdout);
	fflush(stdout);
}

/* ---- files and filesystems ----------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		progress("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int k = snprintf(out, cap, "%s/%s", dir, name);
	if (k < 0 || (size_t)k >= cap)
		die("path too long: %s/%s", dir, name);
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static bool is_memory_fs(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf) != 0)
		return false;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

/* The type of the filesystem holding path: the longest mount point prefix. */
static void fs_type(const char *path, char *out, size_t cap)
{
	char real[PATH_MAX];
	snprintf(out, cap, "unknown");
	if (realpath(path, real) == NULL)
		return;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return;
	char line[4096];
	size_t best = 0;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], type[64];
		const char *sep = strstr(line, " - ");
		if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		size_t n = strlen(mnt);
		bool under = strncmp(real, mnt, n) == 0 &&
		             (real[n] == '/' || real[n] == '\0' || strcmp(mnt, "/") == 0);
		if (under && n >= best) {
			best = n;
			snprintf(out, cap, "%s", type);
		}
	}
	fclose(f);
}

static uint64_t free_bytes(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Drops the page cache of the store's files; returns the method or NULL. */
static const char *drop_page_cache(const char *dir)
{
	sync();
	if (geteuid() == 0) {
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
		bool ok = fd >= 0 && write(fd, "3", 1) == 1;
		if (fd >= 0)
			close(fd);
		if (ok)
			return "drop_caches";
	}
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	struct dirent *e;
	bool ok = true;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		path_join(path, sizeof(path), dir, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
			ok = false;
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return ok ? "fadvise_dontneed" : NULL;
}

/* ---- the baselines' group-commit queue ------------------------------------ */

/* A record in a baseline batch: the store's header layout, crc left zero. */
struct brec {
	uint32_t length; /* header + payload, before padding */
	uint16_t type;
	uint16_t flags;
	uint32_t crc;
	uint32_t payload_len;
	uint64_t seq;
};
_Static_assert(sizeof(struct brec) == RECORD_HDR, "baseline record header");

struct gbatch {
	uint8_t *buf;
	uint32_t used, count;
	uint64_t first_seq;
	faii_ls_ack_fn *cbs;
	void **args;
};

struct backend {
	const char *name;
	void *ctx;
	int (*commit)(void *ctx, const struct gbatch *b); /* durable on 0 */
	void (*close)(void *ctx);
};

struct gcq {
	pthread_mutex_t lock;
	pthread_cond_t work, space;
	struct gbatch b[2];
	unsigned open;
	bool busy, stopping;
	uint64_t next_seq;
	int error;
	uint32_t cap_bytes, cap_records;
	uint64_t batches;
	struct backend be;
	pthread_t writer;
};

static void gcq_ack(struct gbatch *b, int status)
{
	for (uint32_t i = 0; i < b->count; i++)
		b->cbs[i](b->args[i], b->first_seq + i, status);
}

/* The store's writer loop, with the backend's commit for the write + sync. */
static void *gcq_writer(void *arg)
{
	struct gcq *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct gbatch *open = &q->b[q->open];
		while (open->count == 0 && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (open->count == 0 && q->stopping)
			break;
		unsigned bi = q->open;
		q->open ^= 1u;
		q->b[q->open].first_seq = q->next_seq;
		q->busy = true;
		int failed = q->error;
		pthread_cond_broadcast(&q->space);
		pthread_mutex_unlock(&q->lock);

		struct gbatch *b = &q->b[bi];
		int rc = failed ? failed : q->be.commit(q->be.ctx, b);
		gcq_ack(b, rc);
		b->used = b->count = 0;

		pthread_mutex_lock(&q->lock);
		if (rc != 0 && q->error == 0)
			q->error = rc;
		if (rc == 0)
			q->batches++;
		q->busy = false;
		pthread_cond_broadcast(&q->space);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static int64_t gcq_append(struct gcq *q, const void *payload, uint32_t len, faii_ls_ack_fn cb,
                          void *arg)
{
	uint32_t stored = stored_size(len);
	if (stored > q->cap_bytes)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	struct gbatch *b;
	for (;;) {
		if (q->error || q->stopping) {
			int rc = q->error ? q->error : -ESHUTDOWN;
			pthread_mutex_unlock(&q->lock);
			return rc;
		}
		b = &q->b[q->open];
		if (b->used + stored <= q->cap_bytes && b->count < q->cap_records)
			break;
		pthread_cond_signal(&q->work);
		pthread_cond_wait(&q->space, &q->lock);
	}
	uint64_t seq = q->next_seq++;
	if (b->count == 0)
		b->first_seq = seq;
	struct brec h = {
	        .length = RECORD_HDR + len, .type = RECORD_TYPE, .payload_len = len, .seq = seq};
	uint8_t *p = b->buf + b->used;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), payload, len);
	memset(p + sizeof(h) + len, 0, stored - sizeof(h) - len);
	b->used += stored;
	b->cbs[b->count] = cb;
	b->args[b->count] = arg;
	b->count++;
	if (b->count == 1)
		pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return (int64_t)seq;
}

static struct gcq *gcq_open(struct backend be, uint32_t cap_bytes, uint32_t cap_records)
{
	struct gcq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		die("out of memory");
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->space, NULL);
	q->cap_bytes = cap_bytes;
	q->cap_records = cap_records;
	q->next_seq = 1;
	q->be = be;
	for (int i = 0; i < 2; i++) {
		q->b[i].buf = aligned_alloc(4096, ((size_t)cap_bytes + 4095) & ~(size_t)4095);
		q->b[i].cbs = calloc(cap_records, sizeof(*q->b[i].cbs));
		q->b[i].args = calloc(cap_records, sizeof(*q->b[i].args));
		if (!q->b[i].buf || !q->b[i].cbs || !q->b[i].args)
			die("out of memory");
		memset(q->b[i].buf, 0, cap_bytes);
	}
	q->b[0].first_seq = 1;
	if (pthread_create(&q->writer, NULL, gcq_writer, q) != 0)
		die("pthread_create failed");
	return q;
}

static void gcq_close(struct gcq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->space);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->writer, NULL);
	q->be.close(q->be.ctx);
	for (int i = 0; i < 2; i++) {
		free(q->b[i].buf);
		free(q->b[i].cbs);
		free(q->b[i].args);
	}
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->space);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* The record at offset *off of a baseline batch; advances *off past it. */
static const struct brec *next_brec(const struct gbatch *b, uint32_t *off)
{
	const struct brec *h = (const struct brec *)(const void *)(b->buf + *off);
	*off += stored_size(h->payload_len);
	return h;
}

/* pwrite + fdatasync on a preallocated file. */
struct pw {
	int fd;
	uint64_t off;
};

static int pw_commit(void *ctx, const struct gbatch *b)
{
	struct pw *w = ctx;
	size_t done = 0;
	while (done < b->used) {
		ssize_t n = pwrite(w->fd, b->buf + done, b->used - done, (off_t)(w->off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	if (fdatasync(w->fd) != 0)
		return -errno;
	w->off += b->used;
	return 0;
}

static void pw_close(void *ctx)
{
	struct pw *w = ctx;
	close(w->fd);
	free(w);
}

static struct backend pw_open(const char *dir, uint64_t prealloc)
{
	char path[PATH_MAX];
	path_join(path, sizeof(path), dir, "pwrite.log");
	struct pw *w = calloc(1, sizeof(*w));
	if (w == NULL)
		die("out of memory");
	w->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (w->fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fallocate(w->fd, 0, 0, (off_t)prealloc) != 0)
		die("fallocate %s: %s", path, strerror(errno));
	if (fsync(w->fd) != 0)
		die("fsync %s: %s", path, strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return (struct backend){"pwrite-fdatasync", w, pw_commit, pw_close};
}

/* SQLite, WAL, synchronous=FULL, one transaction per batch. */
struct sq {
	sqlite3 *db;
	sqlite3_stmt *begin, *insert, *commit;
};

static int sq_step(struct sq *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		progress("sqlite: %s", sqlite3_errmsg(s->db));
		return -EIO;
	}
	return 0;
}

static int sq_commit(void *ctx, const struct gbatch *b)
{
	struct sq *s = ctx;
	int rc = sq_step(s, s->begin);
	for (uint32_t off = 0; rc == 0 && off < b->used;) {
		const struct brec *h = next_brec(b, &off);
		sqlite3_bind_int64(s->insert, 1, (sqlite3_int64)h->seq);
		sqlite3_bind_blob(s->insert, 2, h + 1, (int)h->payload_len, SQLITE_STATIC);
		rc = sq_step(s, s->insert);
	}
	if (rc == 0)
		rc = sq_step(s, s->commit);
	return rc;
}

static void sq_close(void *ctx)
{
	struct sq *s = ctx;
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->insert);
	sqlite3_finalize(s->commit);
	sqlite3_close(s->db);
	free(s);
}

static void sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		die("sqlite: %s: %s", sql, sqlite3_errmsg(s->db));
}

static struct backend sq_open(const char *dir)
{
	char path[PATH_MAX];
	path_join(path, sizeof(path), dir, "log.sqlite");
	struct sq *s = calloc(1, sizeof(*s));
	if (s == NULL)
		die("out of memory");
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		die("sqlite: open %s: %s", path, sqlite3_errmsg(s->db));
	sqlite3_stmt *st;
	sq_prepare(s, "PRAGMA journal_mode=WAL", &st);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		die("sqlite: cannot switch %s to WAL mode", path);
	sqlite3_finalize(st);
	char *err = NULL;
	if (sqlite3_exec(s->db,
	                 "PRAGMA synchronous=FULL;"
	                 "CREATE TABLE log(seq INTEGER PRIMARY KEY, data BLOB NOT NULL);",
	                 NULL, NULL, &err) != SQLITE_OK)
		die("sqlite: %s", err ? err : "setup failed");
	sq_prepare(s, "BEGIN", &s->begin);
	sq_prepare(s, "INSERT INTO log(seq, data) VALUES (?1, ?2)", &s->insert);
	sq_prepare(s, "COMMIT", &s->commit);
	return (struct backend){"sqlite-wal", s, sq_commit, sq_close};
}

/* LMDB, default durability, one write transaction per batch. */
struct lm {
	MDB_env *env;
	MDB_dbi dbi;
};

static int lm_commit(void *ctx, const struct gbatch *b)
{
	struct lm *l = ctx;
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	if (rc != 0) {
		progress("lmdb: txn_begin: %s", mdb_strerror(rc));
		return -EIO;
	}
	for (uint32_t off = 0; rc == 0 && off < b->used;) {
		const struct brec *h = next_brec(b, &off);
		size_t k = (size_t)h->seq;
		MDB_val key = {sizeof(k), &k};
		MDB_val val = {h->payload_len, (void *)(uintptr_t)(h + 1)};
		rc = mdb_put(txn, l->dbi, &key, &val, MDB_APPEND);
	}
	if (rc != 0) {
		progress("lmdb: put: %s", mdb_strerror(rc));
		mdb_txn_abort(txn);
		return -EIO;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		progress("lmdb: commit: %s", mdb_strerror(rc));
		return -EIO;
	}
	return 0;
}

static void lm_close(void *ctx)
{
	struct lm *l = ctx;
	mdb_env_close(l->env);
	free(l);
}

static struct backend lm_open(const char *dir, uint64_t mapsize)
{
	struct lm *l = calloc(1, sizeof(*l));
	if (l == NULL)
		die("out of memory");
	MDB_txn *txn;
	int rc = mdb_env_create(&l->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(l->env, (size_t)mapsize);
	if (rc == 0)
		rc = mdb_env_open(l->env, dir, 0, 0640);
	if (rc == 0)
		rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &l->dbi);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0)
		die("lmdb: %s: %s", dir, mdb_strerror(rc));
	return (struct backend){"lmdb", l, lm_commit, lm_close};
}

/* ---- contenders ----------------------------------------------------------- */

enum kind { K_STORE, K_PWRITE, K_SQLITE, K_LMDB };
static const char *const kind_name[N_CONTENDERS] = {"store", "pwrite-fdatasync", "sqlite-wal",
                                                    "lmdb"};

struct config {
	char root[PATH_MAX]; /* our temporary directory */
	unsigned threads;
	uint64_t n128, n1k, nbase;
	uint64_t recovery_bytes;
	uint32_t batch_bytes, batch_records;
	double closed_loop_s;
	unsigned reps;
	bool sodium_init;
	bool do_128, do_closed_loop, do_1k; /* do_1k includes the recovery */
};

struct contender {
	enum kind kind;
	char dir[PATH_MAX];
	struct faii_ls *ls;
	struct gcq *q;
};

static void contender_open(struct contender *c, const struct config *cfg, enum kind kind,
                           const char *sub, uint64_t expect_bytes)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	path_join(c->dir, sizeof(c->dir), cfg->root, sub);
	rm_rf(c->dir);
	make_dir(c->dir);
	struct backend be;
	switch (kind) {
	case K_STORE: {
		struct faii_ls_options opt = {.dir = c->dir,
		                              .batch_bytes_max = cfg->batch_bytes,
		                              .batch_records_max = cfg->batch_records};
		char err[FAII_LS_ERR_LEN];
		int rc = faii_ls_open(&opt, &c->ls, err);
		if (rc != 0)
			die("faii_ls_open: %s (%s)", err, strerror(-rc));
		return;
	}
	case K_PWRITE: be = pw_open(c->dir, expect_bytes + 2ull * cfg->batch_bytes); break;
	case K_SQLITE: be = sq_open(c->dir); break;
	case K_LMDB:
	default: be = lm_open(c->dir, 2 * expect_bytes + (256ull << 20)); break;
	}
	c->q = gcq_open(be, cfg->batch_bytes, cfg->batch_records);
}

static int64_t contender_append(struct contender *c, const void *p, uint32_t len, faii_ls_ack_fn cb,
                                void *arg)
{
	if (c->ls)
		return faii_ls_append(c->ls, RECORD_TYPE, NULL, p, len, cb, arg);
	return gcq_append(c->q, p, len, cb, arg);
}

static uint64_t contender_batches(struct contender *c)
{
	if (c->ls) {
		struct faii_ls_stats st;
		faii_ls_get_stats(c->ls, &st);
		return st.batches;
	}
	pthread_mutex_lock(&c->q->lock);
	uint64_t n = c->q->batches;
	pthread_mutex_unlock(&c->q->lock);
	return n;
}

/* Closes; deletes the data unless keep. */
static void contender_close(struct contender *c, bool keep)
{
	if (c->ls)
		faii_ls_close(c->ls);
	if (c->q)
		gcq_close(c->q);
	c->ls = NULL;
	c->q = NULL;
	if (!keep) {
		rm_rf(c->dir);
		sync(); /* the next case starts with no writeback in flight */
	}
}

/* ---- saturating runs ---------------------------------------------------- */

struct run {
	struct contender *c;
	uint32_t len;
	uint64_t total;
	unsigned threads;
	uint64_t *lat_ns; /* sampled latencies; NULL: not kept */
	uint64_t lat_n, lat_cap;
	_Atomic uint64_t acked;
	_Atomic uint64_t appended;
	_Atomic int error;
	uint64_t t_start, t_end;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pthread_barrier_t start;
};

static struct run *g_run; /* one run at a time; the callbacks find it here */

/* Callbacks run on one writer thread at a time, so lat_n needs no atomics. */
static void on_ack(void *arg, uint64_t seq, int status)
{
	(void)seq;
	struct run *r = g_run;
	uint64_t t0 = (uint64_t)(uintptr_t)arg;
	if (status != 0) {
		int zero = 0;
		atomic_compare_exchange_strong(&r->error, &zero, status);
	} else if (t0 != 0 && r->lat_n < r->lat_cap) {
		r->lat_ns[r->lat_n++] = now_ns() - t0;
	}
	if (atomic_fetch_add(&r->acked, 1) + 1 == r->total) {
		r->t_end = now_ns();
		pthread_mutex_lock(&r->lock);
		r->done = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
}

struct appender {
	struct run *r;
	pthread_t thread;
	unsigned id;
	uint64_t count;
};

static void *appender_main(void *p)
{
	struct appender *a = p;
	struct run *r = a->r;
	uint8_t *payload = malloc(r->len);
	if (payload == NULL)
		die("out of memory");
	for (uint32_t i = 0; i < r->len; i++)
		payload[i] = (uint8_t)(i * 131u + a->id * 7u + 1u);
	pthread_barrier_wait(&r->start);
	for (uint64_t i = 0; i < a->count; i++) {
		memcpy(payload, &i, sizeof(i));
		payload[8] = (uint8_t)a->id;
		/* Every LAT_SAMPLE-th append is timed: arg carries its start time. */
		uint64_t t0 = r->lat_ns && i % LAT_SAMPLE == 0 ? now_ns() : 0;
		int64_t rc = contender_append(r->c, payload, r->len, on_ack, (void *)(uintptr_t)t0);
		if (rc < 0) {
			int zero = 0;
			atomic_compare_exchange_strong(&r->error, &zero, (int)rc);
			break;
		}
		atomic_fetch_add(&r->appended, 1);
	}
	free(payload);
	return NULL;
}

struct result {
	double rps; /* records/s */
	double seconds;
	uint64_t batches;
	double p50_us, p99_us, max_us;
	double other_cpus; /* see cpu_other() */
};

/* ---- other load on the machine ------------------------------------------- */

struct cpu_snap {
	uint64_t busy; /* jiffies of every CPU not idle, not waiting for I/O */
	uint64_t self; /* jiffies of this process (all its threads) */
	uint64_t t_ns;
};

static void cpu_snap(struct cpu_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = now_ns();
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (f) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		           &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
			s->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* not idle, iowait */
		fclose(f);
	}
	char buf[1024];
	f = fopen("/proc/self/stat", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		const char *p = strrchr(buf, ')');
		unsigned long long ut, st;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		                &st) == 2)
			s->self = ut + st;
	}
}

/*
 * CPUs kept busy by everything but this process between two snapshots, on
 * average: other programs, and the kernel threads that do our writeback
 * and journal commits (so it is not zero on an idle machine either). A
 * figure near or above 1 on this 2-vCPU VM means the run was disturbed.
 */
static double cpu_other(const struct cpu_snap *a, const struct cpu_snap *b)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	double busy = (double)(b->busy - a->busy) - (double)(b->self - a->self);
	double wall = (double)(b->t_ns - a->t_ns) / 1e9;
	return busy > 0 && wall > 0 ? busy / hz / wall : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct_us(const uint64_t *v, uint64_t n, double p)
{
	if (n == 0)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)n + 0.999999);
	rank = rank < 1 ? 1 : rank > n ? n : rank;
	return (double)v[rank - 1] / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Field by field median of n repetitions; *lo and *hi: the range of rps. */
static struct result median_result(const struct result *r, unsigned n, double *lo, double *hi)
{
	double v[6][64];
	n = n > 64 ? 64 : n;
	*lo = *hi = r[0].rps;
	for (unsigned i = 0; i < n; i++) {
		v[0][i] = r[i].rps;
		v[1][i] = r[i].seconds;
		v[2][i] = (double)r[i].batches;
		v[3][i] = r[i].p50_us;
		v[4][i] = r[i].p99_us;
		v[5][i] = r[i].other_cpus;
		*lo = r[i].rps < *lo ? r[i].rps : *lo;
		*hi = r[i].rps > *hi ? r[i].rps : *hi;
	}
	struct result m = {.rps = median(v[0], n),
	                   .seconds = median(v[1], n),
	                   .batches = (uint64_t)median(v[2], n),
	                   .p50_us = median(v[3], n),
	                   .p99_us = median(v[4], n),
	                   .other_cpus = median(v[5], n)};
	for (unsigned i = 0; i < n; i++)
		m.max_us = r[i].max_us > m.max_us ? r[i].max_us : m.max_us;
	return m;
}

/* N records of len bytes from cfg->threads appenders; fails loudly. */
static struct result run_saturated(struct contender *c, const struct config *cfg, uint32_t len,
                                   uint64_t total, bool latency)
{
	struct run r = {.c = c, .len = len, .total = total, .threads = cfg->threads};
	atomic_init(&r.acked, 0);
	atomic_init(&r.appended, 0);
	atomic_init(&r.error, 0);
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	pthread_barrier_init(&r.start, NULL, cfg->threads + 1);
	if (latency) {
		r.lat_cap = total / LAT_SAMPLE + cfg->threads + 1;
		r.lat_ns = calloc(r.lat_cap, sizeof(uint64_t));
		if (r.lat_ns == NULL)
			die("out of memory");
	}
	uint64_t batches0 = contender_batches(c);
	g_run = &r;
	struct appender *a = calloc(cfg->threads, sizeof(*a));
	if (a == NULL)
		die("out of memory");
	for (unsigned i = 0; i < cfg->threads; i++) {
		a[i] = (struct appender){.r = &r,
		                         .id = i,
		                         .count =
		                                 total / cfg->threads + (i < total % cfg->threads)};
		if (pthread_create(&a[i].thread, NULL, appender_main, &a[i]) != 0)
			die("pthread_create failed");
	}
	struct cpu_snap c0, c1;
	cpu_snap(&c0);
	pthread_barrier_wait(&r.start);
	r.t_start = now_ns();
	for (unsigned i = 0; i < cfg->threads; i++)
		pthread_join(a[i].thread, NULL);
	if (atomic_load(&r.appended) == total) {
		pthread_mutex_lock(&r.lock);
		while (!r.done)
			pthread_cond_wait(&r.cond, &r.lock);
		pthread_mutex_unlock(&r.lock);
	} else {
		/* An append failed: every queued record still gets its callback. */
		while (atomic_load(&r.acked) < atomic_load(&r.appended))
			usleep(1000);
	}
	cpu_snap(&c1);
	g_run = NULL;
	if (atomic_load(&r.error) != 0)
		die("%s: append failed: %s", kind_name[c->kind], strerror(-atomic_load(&r.error)));

	struct result res = {.seconds = (double)(r.t_end - r.t_start) / 1e9,
	                     .other_cpus = cpu_other(&c0, &c1)};
	res.rps = (double)total / res.seconds;
	res.batches = contender_batches(c) - batches0;
	if (latency) {
		qsort(r.lat_ns, r.lat_n, sizeof(uint64_t), cmp_u64);
		res.p50_us = pct_us(r.lat_ns, r.lat_n, 0.50);
		res.p99_us = pct_us(r.lat_ns, r.lat_n, 0.99);
		res.max_us = r.lat_n ? (double)r.lat_ns[r.lat_n - 1] / 1000.0 : 0;
		free(r.lat_ns);
	}
	free(a);
	pthread_barrier_destroy(&r.start);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.lock);
	return res;
}

/* ---- closed loop: one record in flight per appender ---------------------- */

struct cl_slot {
	struct contender *c;
	pthread_t thread;
	unsigned id;
	uint32_t len;
	uint64_t deadline;
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool acked;
	int status;
	uint64_t t0;
	uint64_t *lat;
	uint64_t n, cap;
};

static void on_ack_cl(void *arg, uint64_t seq, int status)
{
	(void)seq;
	struct cl_slot *s = arg;
	uint64_t now = now_ns();
	pthread_mutex_lock(&s->m);
	if (s->n < s->cap)
		s->lat[s->n++] = now - s->t0;
	s->status = status;
	s->acked = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
}

static void *cl_main(void *p)
{
	struct cl_slot *s = p;
	uint8_t payload[1024];
	memset(payload, (int)(s->id + 1), sizeof(payload));
	for (uint64_t i = 0; s->status == 0 && s->n < s->cap; i++) {
		memcpy(payload, &i, sizeof(i));
		s->acked = false;
		s->t0 = now_ns();
		if (s->t0 >= s->deadline)
			break;
		int64_t rc = contender_append(s->c, payload, s->len, on_ack_cl, s);
		if (rc < 0) {
			s->status = (int)rc;
			break;
		}
		pthread_mutex_lock(&s->m);
		while (!s->acked)
			pthread_cond_wait(&s->cv, &s->m);
		pthread_mutex_unlock(&s->m);
	}
	return NULL;
}

static struct result run_closed_loop(struct contender *c, const struct config *cfg, uint32_t len)
{
	unsigned n = cfg->threads;
	struct cl_slot *s = calloc(n, sizeof(*s));
	if (s == NULL)
		die("out of memory");
	uint64_t dur = (uint64_t)(cfg->closed_loop_s * 1e9);
	struct cpu_snap c0, c1;
	cpu_snap(&c0);
	uint64_t t_start = now_ns();
	for (unsigned i = 0; i < n; i++) {
		s[i].c = c;
		s[i].id = i;
		s[i].len = len;
		s[i].deadline = t_start + dur;
		s[i].cap = (uint64_t)(cfg->closed_loop_s * 200000.0) + 16; /* >= 5 us each */
		s[i].lat = malloc(s[i].cap * sizeof(uint64_t));
		if (s[i].lat == NULL)
			die("out of memory");
		pthread_mutex_init(&s[i].m, NULL);
		pthread_cond_init(&s[i].cv, NULL);
		if (pthread_create(&s[i].thread, NULL, cl_main, &s[i]) != 0)
			die("pthread_create failed");
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(s[i].thread, NULL);
		if (s[i].status != 0)
			die("%s: closed-loop append failed: %s", kind_name[c->kind],
			    strerror(-s[i].status));
		total += s[i].n;
	}
	uint64_t t_end = now_ns();
	cpu_snap(&c1);
	uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
	if (all == NULL)
		die("out of memory");
	for (unsigned i = 0, k = 0; i < n; i++) {
		memcpy(all + k, s[i].lat, s[i].n * sizeof(uint64_t));
		k += (unsigned)s[i].n;
		free(s[i].lat);
		pthread_cond_destroy(&s[i].cv);
		pthread_mutex_destroy(&s[i].m);
	}
	qsort(all, total, sizeof(uint64_t), cmp_u64);
	struct result res = {.seconds = (double)(t_end - t_start) / 1e9,
	                     .other_cpus = cpu_other(&c0, &c1)};
	res.rps = (double)total / res.seconds;
	res.p50_us = pct_us(all, total, 0.50);
	res.p99_us = pct_us(all, total, 0.99);
	res.max_us = total ? (double)all[total - 1] / 1000.0 : 0;
	free(all);
	free(s);
	return res;
}

/* ---- cases ------------------------------------------------------------------ */

static const char *const sub_name[N_CONTENDERS] = {"store", "pwrite", "sqlite", "lmdb"};

static void emit_common(struct jl *l, const struct config *cfg, uint64_t records, uint32_t len,
                        const struct result *r, unsigned reps, double lo, double hi)
{
	if (reps > 1) {
		jl_num(l, "reps", reps, 0);
		jl_num(l, "min", lo, 0);
		jl_num(l, "max", hi, 0);
	}
	jl_num(l, "records", (double)records, 0);
	jl_num(l, "record_bytes", len, 0);
	jl_num(l, "threads", cfg->threads, 0);
	if (r->batches)
		jl_num(l, "avg_batch_records", (double)records / (double)r->batches, 1);
	jl_num(l, "seconds", r->seconds, 3);
	jl_num(l, "other_cpus", r->other_cpus, 2);
}

static void case_128(const struct config *cfg)
{
	const uint32_t len = 128;
	struct result all[N_CONTENDERS][64], res[N_CONTENDERS];
	double lo[N_CONTENDERS], hi[N_CONTENDERS];
	for (unsigned rep = 0; rep < cfg->reps; rep++) {
		/* Interleaved, and the order rotates so that no contender always
		 * follows the same one. */
		for (int j = 0; j < N_CONTENDERS; j++) {
			int k = (int)((rep + (unsigned)j) % N_CONTENDERS);
			uint64_t n = k == K_STORE ? cfg->n128 : cfg->nbase;
			progress("%s: %" PRIu64 " x %u B records, %u appenders (repetition %u/%u)",
			         kind_name[k], n, len, cfg->threads, rep + 1, cfg->reps);
			struct contender c;
			contender_open(&c, cfg, (enum kind)k, sub_name[k], n * stored_size(len));
			struct result *r = &all[k][rep];
			*r = run_saturated(&c, cfg, len, n, true);
			contender_close(&c, false);
			progress("%s: %.0f records/s, %.0f records per batch, p50 %.0f us, p99 "
			         "%.0f us, other load %.2f CPUs",
			         kind_name[k], r->rps, (double)n / (double)r->batches, r->p50_us,
			         r->p99_us, r->other_cpus);
		}
	}
	for (int k = 0; k < N_CONTENDERS; k++)
		res[k] = median_result(all[k], cfg->reps, &lo[k], &hi[k]);

	struct jl l;
	const struct result *s = &res[K_STORE], *sq = &res[K_SQLITE];
	jl_begin(&l, "append_128B", s->rps, 0, "records/s");
	jl_baseline(&l, "sqlite-wal", sq->rps, 0, s->rps / sq->rps);
	jl_str(&l, "better", "higher");
	emit_common(&l, cfg, cfg->n128, len, s, cfg->reps, lo[K_STORE], hi[K_STORE]);
	jl_str(&l, "target", ">= 1000000 records/s and >= 5 x sqlite-wal");
	jl_bool(&l, "target_met", s->rps >= 1e6 && s->rps >= 5 * sq->rps);
	jl_end(&l);
	static const enum kind others[] = {K_PWRITE, K_LMDB};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		enum kind k = others[i];
		char name[64];
		snprintf(name, sizeof(name), "append_128B_vs_%s", kind_name[k]);
		jl_begin(&l, name, s->rps, 0, "records/s");
		jl_baseline(&l, kind_name[k], res[k].rps, 0, s->rps / res[k].rps);
		jl_str(&l, "better", "higher");
		jl_num(&l, "reps", cfg->reps, 0);
		jl_end(&l);
	}
	for (int k = K_PWRITE; k <= K_LMDB; k++) {
		char name[64];
		snprintf(name, sizeof(name), "%s_append_128B", kind_name[k]);
		jl_begin(&l, name, res[k].rps, 0, "records/s");
		jl_str(&l, "better", "higher");
		emit_common(&l, cfg, cfg->nbase, len, &res[k], cfg->reps, lo[k], hi[k]);
		jl_num(&l, "ack_latency_p50_us", res[k].p50_us, 1);
		jl_num(&l, "ack_latency_p99_us", res[k].p99_us, 1);
		jl_num(&l, "ack_latency_max_us", res[k].max_us, 1);
		jl_end(&l);
	}
	jl_begin(&l, "ack_latency_p50_128B", s->p50_us, 1, "us");
	jl_baseline(&l, "sqlite-wal", sq->p50_us, 1, s->p50_us / sq->p50_us);
	jl_str(&l, "better", "lower");
	jl_str(&l, "load", "saturated");
	jl_end(&l);
	jl_begin(&l, "ack_latency_p99_128B", s->p99_us, 1, "us");
	jl_baseline(&l, "sqlite-wal", sq->p99_us, 1, s->p99_us / sq->p99_us);
	jl_str(&l, "better", "lower");
	jl_str(&l, "load", "saturated");
	jl_num(&l, "max_us", s->max_us, 1);
	jl_end(&l);
}

static void case_closed_loop(const struct config *cfg)
{
	const uint32_t len = 128;
	struct result res[N_CONTENDERS];
	for (int k = 0; k < N_CONTENDERS; k++) {
		progress("%s: closed loop, %u appenders x 1 record in flight, %.1f s", kind_name[k],
		         cfg->threads, cfg->closed_loop_s);
		struct contender c;
		contender_open(&c, cfg, (enum kind)k, sub_name[k], (64ull << 20));
		uint64_t b0 = contender_batches(&c);
		res[k] = run_closed_loop(&c, cfg, len);
		res[k].batches = contender_batches(&c) - b0;
		contender_close(&c, false);
		progress("%s: %.0f records/s, p50 %.0f us, p99 %.0f us, other load %.2f CPUs",
		         kind_name[k], res[k].rps, res[k].p50_us, res[k].p99_us, res[k].other_cpus);
	}
	struct jl l;
	const struct result *s = &res[K_STORE], *sq = &res[K_SQLITE];
	jl_begin(&l, "closed_loop_ack_latency_p50_128B", s->p50_us, 1, "us");
	jl_baseline(&l, "sqlite-wal", sq->p50_us, 1, s->p50_us / sq->p50_us);
	jl_str(&l, "better", "lower");
	jl_str(&l, "load", "one record in flight per appender");
	jl_num(&l, "threads", cfg->threads, 0);
	jl_end(&l);
	jl_begin(&l, "closed_loop_ack_latency_p99_128B", s->p99_us, 1, "us");
	jl_baseline(&l, "sqlite-wal", sq->p99_us, 1, s->p99_us / sq->p99_us);
	jl_str(&l, "better", "lower");
	jl_str(&l, "load", "one record in flight per appender");
	jl_num(&l, "threads", cfg->threads, 0);
	jl_end(&l);
	for (int k = 0; k < N_CONTENDERS; k++) {
		char name[96];
		snprintf(name, sizeof(name), "%s_closed_loop_128B", kind_name[k]);
		jl_begin(&l, name, res[k].rps, 0, "records/s");
		jl_str(&l, "better", "higher");
		jl_num(&l, "threads", cfg->threads, 0);
		if (res[k].batches)
			jl_num(&l, "avg_batch_records",
			       res[k].rps * res[k].seconds / (double)res[k].batches, 2);
		jl_num(&l, "ack_latency_p50_us", res[k].p50_us, 1);
		jl_num(&l, "ack_latency_p99_us", res[k].p99_us, 1);
		jl_num(&l, "other_cpus", res[k].other_cpus, 2);
		jl_end(&l);
	}
}

static void format_size(char *out, size_t cap, uint64_t bytes)
{
	if (bytes % (1ull << 30) == 0)
		snprintf(out, cap, "%" PRIu64 "GiB", bytes >> 30);
	else
		snprintf(out, cap, "%" PRIu64 "MiB", bytes >> 20);
}

/* Opens the store in dir (recovering it); returns the seconds faii_ls_open took. */
static double timed_open(const struct config *cfg, const char *dir, uint64_t records,
                         double *other_cpus)
{
	struct faii_ls_options opt = {.dir = dir,
	                              .batch_bytes_max = cfg->batch_bytes,
	                              .batch_records_max = cfg->batch_records};
	char err[FAII_LS_ERR_LEN];
	struct faii_ls *ls;
	struct faii_ls_stats st;
	struct cpu_snap c0, c1;
	cpu_snap(&c0);
	uint64_t t0 = now_ns();
	int rc = faii_ls_open(&opt, &ls, err);
	uint64_t t1 = now_ns();
	cpu_snap(&c1);
	*other_cpus = cpu_other(&c0, &c1);
	if (rc != 0)
		die("recovery: faii_ls_open: %s (%s)", err, strerror(-rc));
	faii_ls_get_stats(ls, &st);
	faii_ls_close(ls);
	if (st.recovered_records != records || st.durable_seq != records)
		die("recovery: %" PRIu64 " records recovered, %" PRIu64 " expected",
		    st.recovered_records, records);
	return (double)(t1 - t0) / 1e9;
}

static void case_1k_and_recovery(const struct config *cfg)
{
	const uint32_t len = 1024;
	struct contender c;
	struct result all[64];
	for (unsigned rep = 0; rep < cfg->reps; rep++) {
		progress("store: %" PRIu64 " x %u B records, %u appenders (repetition %u/%u)",
		         cfg->n1k, len, cfg->threads, rep + 1, cfg->reps);
		contender_open(&c, cfg, K_STORE, "store1k", cfg->n1k * stored_size(len));
		all[rep] = run_saturated(&c, cfg, len, cfg->n1k, false);
		progress("store: %.0f records/s (%.0f MiB/s of payload), other load %.2f CPUs",
		         all[rep].rps, all[rep].rps * len / MIB, all[rep].other_cpus);
		if (rep + 1 < cfg->reps)
			contender_close(&c, false); /* the last one is kept for the recovery */
	}
	double lo, hi;
	struct result r = median_result(all, cfg->reps, &lo, &hi);
	struct jl l;
	jl_begin(&l, "append_1KiB", r.rps, 0, "records/s");
	jl_str(&l, "better", "higher");
	emit_common(&l, cfg, cfg->n1k, len, &r, cfg->reps, lo, hi);
	jl_num(&l, "payload_mib_per_s", r.rps * len / MIB, 1);
	jl_end(&l);

	/* Fill the log up to the recovery size with more 1 KiB records. */
	uint64_t records = cfg->n1k;
	struct faii_ls_stats st;
	faii_ls_get_stats(c.ls, &st);
	uint64_t fill_t0 = now_ns();
	while (st.bytes_written < cfg->recovery_bytes) {
		uint64_t more = (cfg->recovery_bytes - st.bytes_written) / stored_size(len) + 1;
		progress("store: filling the log with %" PRIu64 " more records", more);
		run_saturated(&c, cfg, len, more, false);
		records += more;
		faii_ls_get_stats(c.ls, &st);
	}
	double fill_s = (double)(now_ns() - fill_t0) / 1e9;
	uint64_t log_bytes = st.bytes_written, segments = st.segments;
	contender_close(&c, true);

	/* Cold: page cache dropped before every open. */
	double cold[64], other[64], warm_other;
	const char *method = NULL;
	for (unsigned rep = 0; rep < cfg->reps; rep++) {
		method = drop_page_cache(c.dir);
		cold[rep] = timed_open(cfg, c.dir, records, &other[rep]);
		progress("recovery: %.0f MiB, %" PRIu64 " records in %" PRIu64
		         " segments, page cache %s: %.3f s, other load %.2f CPUs",
		         (double)log_bytes / MIB, records, segments,
		         method ? method : "not dropped", cold[rep], other[rep]);
	}
	/* Warm: the files are in the page cache from the open before. */
	double warm = timed_open(cfg, c.dir, records, &warm_other);
	progress("recovery, page cache warm: %.3f s", warm);
	rm_rf(c.dir);
	sync();

	double cold_lo = cold[0], cold_hi = cold[0];
	for (unsigned i = 0; i < cfg->reps; i++) {
		cold_lo = cold[i] < cold_lo ? cold[i] : cold_lo;
		cold_hi = cold[i] > cold_hi ? cold[i] : cold_hi;
	}
	double secs = median(cold, cfg->reps);
	char name[64], size[32];
	format_size(size, sizeof(size), cfg->recovery_bytes);
	snprintf(name, sizeof(name), "recovery_%s", size);
	jl_begin(&l, name, secs, 3, "s");
	jl_str(&l, "better", "lower");
	jl_num(&l, "log_bytes", (double)log_bytes, 0);
	jl_num(&l, "records", (double)records, 0);
	jl_num(&l, "segments", (double)segments, 0);
	jl_bool(&l, "cache_dropped", method != NULL);
	jl_str(&l, "cache_drop_method", method ? method : "none");
	if (cfg->reps > 1) {
		jl_num(&l, "reps", cfg->reps, 0);
		jl_num(&l, "min", cold_lo, 3);
		jl_num(&l, "max", cold_hi, 3);
	}
	jl_str(&l, "target", "< 2 s for 1 GiB");
	jl_bool(&l, "target_met", secs < 2.0 * (double)log_bytes / (double)(1ull << 30));
	jl_num(&l, "fill_seconds", fill_s, 3);
	jl_num(&l, "other_cpus", median(other, cfg->reps), 2);
	jl_end(&l);
	jl_begin(&l, "recovery_scan_throughput", (double)log_bytes / MIB / secs, 1, "MiB/s");
	jl_str(&l, "better", "higher");
	jl_num(&l, "records_per_s", (double)records / secs, 0);
	jl_bool(&l, "cache_dropped", method != NULL);
	jl_end(&l);
	snprintf(name, sizeof(name), "recovery_%s_warm", size);
	jl_begin(&l, name, warm, 3, "s");
	jl_str(&l, "better", "lower");
	jl_num(&l, "log_bytes", (double)log_bytes, 0);
	jl_num(&l, "scan_mib_per_s", (double)log_bytes / MIB / warm, 1);
	jl_bool(&l, "cache_dropped", false);
	jl_num(&l, "other_cpus", warm_other, 2);
	jl_end(&l);
}

/* ---- main ------------------------------------------------------------------ */

static uint64_t parse_u64(const char *arg, const char *opt, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v == 0 || v > max) {
		fprintf(stderr, "bench_ledger: %s needs an integer in 1..%" PRIu64 "\n", opt, max);
		exit(2);
	}
	return v;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s [--dir DIR] [--threads N] [--records-128 N] [--records-1k N]\n"
	        "          [--baseline-records N] [--recovery-mib N] [--batch-bytes N]\n"
	        "          [--batch-records N] [--closed-loop-seconds S (0: skip)]\n"
	        "          [--reps N] [--cases append128,closedloop,append1k] [--sodium-init]\n",
	        argv0);
}

/* Where the data goes: under --dir, or the build directory, $TMPDIR, /var/tmp. */
static void choose_root(struct config *cfg, const char *dir_arg)
{
	char cand[3][PATH_MAX];
	int n = 0;
	if (dir_arg) {
		make_dir(dir_arg);
		snprintf(cand[n++], PATH_MAX, "%s", dir_arg);
	} else {
		char exe[PATH_MAX];
		ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (k > 0) {
			exe[k] = '\0';
			for (int up = 0; up < 2; up++) { /* BUILDDIR/perf/bench_ledger */
				char *slash = strrchr(exe, '/');
				if (slash && slash != exe)
					*slash = '\0';
			}
			snprintf(cand[n++], PATH_MAX, "%s", exe);
		}
		const char *tmp = getenv("TMPDIR");
		if (tmp && tmp[0])
			snprintf(cand[n++], PATH_MAX, "%s", tmp);
		snprintf(cand[n++], PATH_MAX, "/var/tmp");
	}
	for (int i = 0; i < n; i++) {
		if (is_memory_fs(cand[i])) {
			progress("%s is on tmpfs/ramfs: fsync means nothing there, skipped",
			         cand[i]);
			continue;
		}
		char tmpl[PATH_MAX];
		path_join(tmpl, sizeof(tmpl), cand[i], "ledger-bench-XXXXXX");
		if (mkdtemp(tmpl) == NULL) {
			progress("cannot create a directory in %s: %s", cand[i], strerror(errno));
			continue;
		}
		snprintf(cfg->root, sizeof(cfg->root), "%s", tmpl);
		fs_type(cfg->root, g_fs, sizeof(g_fs));
		return;
	}
	die("no directory on a disk filesystem to write to (give one with --dir)");
}

/* Disk a store holding log_bytes takes: whole preallocated segments. */
static uint64_t store_footprint(uint64_t log_bytes)
{
	return (log_bytes / (SEGMENT_BYTES - 4096) + 1) * SEGMENT_BYTES;
}

/* Disk the largest case takes (cases delete their data before the next). */
static uint64_t space_needed(const struct config *cfg)
{
	uint64_t rec = cfg->recovery_bytes > cfg->n1k * stored_size(1024)
	                       ? cfg->recovery_bytes
	                       : cfg->n1k * stored_size(1024);
	uint64_t sizes[] = {
	        store_footprint(cfg->n128 * stored_size(128)),
	        cfg->nbase * stored_size(128) + 2ull * cfg->batch_bytes, /* pwrite */
	        cfg->nbase * 200 + (64ull << 20),                        /* sqlite */
	        cfg->nbase * 320 + (64ull << 20),                        /* lmdb */
	        store_footprint(rec),
	};
	uint64_t need = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		need = sizes[i] > need ? sizes[i] : need;
	return need + SPACE_MARGIN;
}

static void scale_config(struct config *c, const struct config *from, double f)
{
	*c = *from;
	c->n128 = (uint64_t)((double)from->n128 * f);
	c->n1k = (uint64_t)((double)from->n1k * f);
	c->nbase = (uint64_t)((double)from->nbase * f);
	c->recovery_bytes = ((uint64_t)((double)from->recovery_bytes * f) >> 20) << 20;
}

/* Checks free space for the largest case and scales the sizes down if short. */
static void check_space(struct config *cfg)
{
	uint64_t need = space_needed(cfg), avail = free_bytes(cfg->root);
	progress("data in %s (%s), %.1f GiB free, largest case needs %.1f GiB", cfg->root, g_fs,
	         (double)avail / (1 << 30), (double)need / (1 << 30));
	if (avail >= need)
		return;
	double lo = 0, hi = 1;
	struct config t;
	for (int i = 0; i < 40; i++) {
		double mid = (lo + hi) / 2;
		scale_config(&t, cfg, mid);
		if (space_needed(&t) <= avail)
			lo = mid;
		else
			hi = mid;
	}
	scale_config(&t, cfg, lo);
	if (lo < 0.01 || t.recovery_bytes < (1ull << 20) || t.n1k < cfg->threads ||
	    t.n128 < cfg->threads || t.nbase < cfg->threads)
		die("only %.2f GiB free in %s", (double)avail / (1 << 30), cfg->root);
	*cfg = t;
	snprintf(g_note, sizeof(g_note),
	         "scaled down to %.0f%% of the requested sizes: only %.2f GiB free", lo * 100.0,
	         (double)avail / (1 << 30));
	progress("%s", g_note);
}

int main(int argc, char **argv)
{
	struct config cfg = {
	        .threads = 8,
	        .n128 = 2000000,
	        .n1k = 500000,
	        .recovery_bytes = 1ull << 30,
	        .batch_bytes = FAII_LS_BATCH_BYTES_DEFAULT,
	        .batch_records = FAII_LS_BATCH_RECORDS_DEFAULT,
	        .closed_loop_s = CLOSED_LOOP_MS / 1000.0,
	        .reps = 5,
	        .do_128 = true,
	        .do_closed_loop = true,
	        .do_1k = true,
	};
	const char *dir_arg = NULL;
	bool nbase_set = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(argv[0]);
			return 0;
		}
		if (strcmp(o, "--sodium-init") == 0) {
			cfg.sodium_init = true;
			continue;
		}
		if (i + 1 >= argc) {
			usage(argv[0]);
			return 2;
		}
		const char *v = argv[++i];
		if (strcmp(o, "--dir") == 0)
			dir_arg = v;
		else if (strcmp(o, "--threads") == 0)
			cfg.threads = (unsigned)parse_u64(v, o, 1024);
		else if (strcmp(o, "--records-128") == 0)
			cfg.n128 = parse_u64(v, o, 1ull << 32);
		else if (strcmp(o, "--records-1k") == 0)
			cfg.n1k = parse_u64(v, o, 1ull << 30);
		else if (strcmp(o, "--baseline-records") == 0) {
			cfg.nbase = parse_u64(v, o, 1ull << 32);
			nbase_set = true;
		} else if (strcmp(o, "--recovery-mib") == 0)
			cfg.recovery_bytes = parse_u64(v, o, 1ull << 22) << 20;
		else if (strcmp(o, "--batch-bytes") == 0)
			cfg.batch_bytes = (uint32_t)parse_u64(v, o, 1ull << 30);
		else if (strcmp(o, "--batch-records") == 0)
			cfg.batch_records = (uint32_t)parse_u64(v, o, 1ull << 24);
		else if (strcmp(o, "--reps") == 0)
			cfg.reps = (unsigned)parse_u64(v, o, 64);
		else if (strcmp(o, "--cases") == 0) {
			cfg.do_128 = strstr(v, "append128") != NULL;
			cfg.do_closed_loop = strstr(v, "closedloop") != NULL;
			cfg.do_1k = strstr(v, "append1k") != NULL;
		} else if (strcmp(o, "--closed-loop-seconds") == 0) {
			char *end;
			cfg.closed_loop_s = strtod(v, &end);
			if (*end != '\0' || cfg.closed_loop_s < 0 || cfg.closed_loop_s > 600) {
				fprintf(stderr, "bench_ledger: %s needs seconds in 0..600\n", o);
				return 2;
			}
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	if (!nbase_set)
		cfg.nbase = cfg.n128;

	/* The store never calls sodium_init(), and neither does faiid: without it
	 * libsodium runs its portable BLAKE2b. --sodium-init measures the store
	 * with the CPU-specific implementation instead. */
	if (cfg.sodium_init && sodium_init() < 0)
		die("sodium_init failed");
	g_sodium_init = cfg.sodium_init;
	choose_root(&cfg, dir_arg);
	check_space(&cfg);
	if (cfg.n128 < cfg.threads || cfg.nbase < cfg.threads || cfg.n1k < cfg.threads)
		die("fewer records than appenders");

	if (cfg.do_128)
		case_128(&cfg);
	if (cfg.do_closed_loop && cfg.closed_loop_s > 0)
		case_closed_loop(&cfg);
	if (cfg.do_1k)
		case_1k_and_recovery(&cfg);
	rm_rf(cfg.root);
	return 0;
}
