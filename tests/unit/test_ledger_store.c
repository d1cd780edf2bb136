/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the ledger store (ledger/): record format round trips, CRC
 * and chain verification, segment rolls, indexes, checkpoints, fault
 * injection (torn writes, flipped bits, missing segments, a checkpoint newer
 * than the log, EIO and short writes through the fault hook, ENOSPC on a
 * small tmpfs) and many appenders with a reader following the tail.
 *
 * Every test runs in its own temporary directory. The on-disk checks parse
 * the segment files here, with a CRC32C and the BLAKE2b chain computed by the
 * test rather than by the library.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "faii/ledger_store.h"
#include "faii/store_io.h"
#include "../../ledger/store/format.h"
#include "../../ledger/store/mark.h"

#define SEG_SIZE  FAII_LS_SEGMENT_SIZE_MIN
#define SEGS_MAX  64u
#define ACKS_MAX  4096u
#define ACK_NONE  1
#define DIR_CAP   160u /* the store takes paths up to 207 bytes */
#define PATH_CAP  512u
#define COMMIT_SZ 72u /* header + struct ls_commit */

/* ---- per-test directory --------------------------------------------------- */

static char g_root[DIR_CAP];
static char g_store[DIR_CAP + 8];
static char g_mnt[DIR_CAP + 8];
static bool g_mounted;
static char g_shm[DIR_CAP]; /* a second directory on /dev/shm, if a test made one */

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > DIR_CAP - 32)
		tmp = "/tmp";
	snprintf(g_root, sizeof(g_root), "%s/faii-ls-XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(g_root), "mkdtemp %s: %s", g_root, strerror(errno));
	snprintf(g_store, sizeof(g_store), "%s/store", g_root);
	g_mnt[0] = '\0';
	g_mounted = false;
	g_shm[0] = '\0';
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	if (g_mounted && umount2(g_mnt, MNT_DETACH) == 0)
		g_mounted = false;
	if (g_root[0] != '\0')
		nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (g_shm[0] != '\0')
		nftw(g_shm, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* No per-test .timeout: Criterion 2.4.1 then leaks in its runner when tests run
 * in parallel (LeakSanitizer fails the ASan build); meson's timeout applies. */
TestSuite(format, .init = setup, .fini = teardown);
TestSuite(integrity, .init = setup, .fini = teardown);
TestSuite(segments, .init = setup, .fini = teardown);
TestSuite(index, .init = setup, .fini = teardown);
TestSuite(checkpoint, .init = setup, .fini = teardown);
TestSuite(faults, .init = setup, .fini = teardown);
TestSuite(concurrency, .init = setup, .fini = teardown);

/* ---- small helpers -------------------------------------------------------- */

static uint32_t crc32c_table[256];

/* CRC32C (Castagnoli, reflected), written here independently of ISA-L. */
static uint32_t crc32c(const void *data, size_t len)
{
	if (crc32c_table[1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
			crc32c_table[i] = c;
		}
	}
	const uint8_t *p = data;
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++)
		c = crc32c_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* The CRC a record header must carry: over length bytes, crc field as zero. */
static uint32_t record_crc(const uint8_t *rec, uint32_t length)
{
	uint8_t *copy = malloc(length);
	cr_assert_not_null(copy);
	memcpy(copy, rec, length);
	memset(copy + offsetof(struct ls_record_header, crc), 0, 4);
	uint32_t c = crc32c(copy, length);
	free(copy);
	return c;
}

static void fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static struct faii_ls_options store_opts(const char *dir)
{
	return (struct faii_ls_options){
	        .dir = dir,
	        .segment_size_bytes = SEG_SIZE,
	        .index_entries_max = 1u << 16,
	};
}

static struct faii_ls *open_ok(const struct faii_ls_options *o)
{
	struct faii_ls *ls = NULL;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(o, &ls, err);
	cr_assert_eq(rc, 0, "faii_ls_open(%s) = %d (%s): %s", o->dir, rc, strerror(-rc), err);
	cr_assert_not_null(ls);
	return ls;
}

/* Opening must fail; returns the error, err holds the message. */
static int open_refused(const struct faii_ls_options *o, char err[FAII_LS_ERR_LEN])
{
	struct faii_ls *ls = NULL;
	int rc = faii_ls_open(o, &ls, err);
	if (rc == 0)
		faii_ls_close(ls);
	cr_assert_neq(rc, 0, "faii_ls_open(%s) succeeded, expected a refusal", o->dir);
	cr_assert_null(ls);
	return rc;
}

static struct faii_ls_stats get_stats(struct faii_ls *ls)
{
	struct faii_ls_stats st;
	faii_ls_get_stats(ls, &st);
	return st;
}

static void seg_path(char *out, size_t cap, const char *dir, uint64_t index)
{
	snprintf(out, cap, "%s/segment-%016" PRIx64 ".log", dir, index);
}

static unsigned count_files(const char *dir, const char *prefix, const char *suffix)
{
	unsigned n = 0;
	size_t pl = strlen(prefix), sl = strlen(suffix);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "opendir %s", dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len >= pl + sl && strncmp(e->d_name, prefix, pl) == 0 &&
		    strcmp(e->d_name + len - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static uint8_t *slurp(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	*size = (size_t)st.st_size;
	uint8_t *buf = malloc(*size ? *size : 1);
	cr_assert_not_null(buf);
	size_t got = 0;
	while (got < *size) {
		ssize_t n = pread(fd, buf + got, *size - got, (off_t)got);
		cr_assert_gt(n, 0, "read %s", path);
		got += (size_t)n;
	}
	close(fd);
	return buf;
}

static void copy_file(const char *from, const char *to)
{
	size_t size;
	uint8_t *buf = slurp(from, &size);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	cr_assert_geq(fd, 0, "create %s: %s", to, strerror(errno));
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	cr_assert_eq(fsync(fd), 0);
	close(fd);
	free(buf);
}

static void patch_file(const char *path, uint64_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
	cr_assert_eq(fsync(fd), 0);
	close(fd);
}

static uint8_t read_byte(const char *path, uint64_t off)
{
	uint8_t b = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	close(fd);
	return b;
}

static void xor_byte(const char *path, uint64_t off, uint8_t mask)
{
	uint8_t b = read_byte(path, off) ^ mask;
	patch_file(path, off, &b, 1);
}

/* ---- records: appends with seeded payloads, checked reads ------------------ */

/* Keys derived from a seed; only the fields in mask are meaningful. */
static struct faii_ls_keys keys_for(unsigned mask, uint64_t seed)
{
	struct faii_ls_keys k;
	memset(&k, 0, sizeof(k));
	k.present = mask;
	k.round = seed * 3 + 1;
	k.epoch = 0xE000000000000000ull | seed;
	k.node = 0xF0000000u | (uint32_t)seed;
	fill(k.digest, sizeof(k.digest), seed ^ 0xD16E57);
	return k;
}

static void expect_keys(const struct faii_ls_keys *got, const struct faii_ls_keys *want,
                        uint64_t seq)
{
	unsigned mask = want->present;
	cr_assert_eq(got->present, mask, "seq %" PRIu64 ": keys present %#x, expected %#x", seq,
	             got->present, mask);
	if (mask & FAII_LS_KEY_ROUND)
		cr_assert_eq(got->round, want->round, "seq %" PRIu64 ": round", seq);
	if (mask & FAII_LS_KEY_EPOCH)
		cr_assert_eq(got->epoch, want->epoch, "seq %" PRIu64 ": epoch", seq);
	if (mask & FAII_LS_KEY_NODE)
		cr_assert_eq(got->node, want->node, "seq %" PRIu64 ": node", seq);
	if (mask & FAII_LS_KEY_DIGEST)
		cr_assert_arr_eq(got->digest, want->digest, FAII_LS_DIGEST_SIZE,
		                 "seq %" PRIu64 ": digest", seq);
}

/* Appends a record whose payload is seeded by its expected seq. */
static uint64_t append_seq(struct faii_ls *ls, uint64_t want_seq, uint16_t type,
                           const struct faii_ls_keys *keys, uint32_t len, faii_ls_ack_fn cb,
                           void *arg)
{
	uint8_t *buf = malloc(len ? len : 1);
	cr_assert_not_null(buf);
	fill(buf, len, want_seq);
	int64_t seq = faii_ls_append(ls, type, keys, buf, len, cb, arg);
	free(buf);
	cr_assert_eq(seq, (int64_t)want_seq, "append returned %" PRId64 ", expected seq %" PRIu64,
	             seq, want_seq);
	return (uint64_t)seq;
}

static uint64_t append_wait_seq(struct faii_ls *ls, uint64_t want_seq, uint32_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	cr_assert_not_null(buf);
	fill(buf, len, want_seq);
	int64_t seq = faii_ls_append_wait(ls, 1, NULL, buf, len);
	free(buf);
	cr_assert_eq(seq, (int64_t)want_seq, "append_wait returned %" PRId64 ", expected %" PRIu64,
	             seq, want_seq);
	return (uint64_t)seq;
}

/* Reads seq and checks its type, length and seeded payload. */
static void expect_record(struct faii_ls *ls, uint64_t seq, uint16_t type, uint32_t len)
{
	uint8_t *buf = malloc(len + 16u), *want = malloc(len ? len : 1);
	cr_assert(buf && want);
	struct faii_ls_record rec;
	memset(&rec, 0xA5, sizeof(rec));
	int rc = faii_ls_read(ls, seq, &rec, buf, len + 16u);
	cr_assert_eq(rc, 0, "read seq %" PRIu64 ": %d (%s)", seq, rc, strerror(-rc));
	cr_assert_eq(rec.seq, seq);
	cr_assert_eq(rec.type, type, "seq %" PRIu64 ": type %u, expected %u", seq, rec.type, type);
	cr_assert_eq(rec.payload_len, len, "seq %" PRIu64 ": payload_len %u, expected %u", seq,
	             rec.payload_len, len);
	fill(want, len, seq);
	cr_assert(memcmp(buf, want, len) == 0, "seq %" PRIu64 ": payload differs", seq);
	free(buf);
	free(want);
}

static void expect_absent(struct faii_ls *ls, uint64_t seq)
{
	struct faii_ls_record rec;
	uint8_t b[8];
	int rc = faii_ls_read(ls, seq, &rec, b, sizeof(b));
	cr_assert_eq(rc, -ENOENT, "read seq %" PRIu64 ": %d, expected -ENOENT", seq, rc);
}

/* ---- acknowledgements ------------------------------------------------------ */

struct acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned calls;
	uint64_t last_seq;
	bool out_of_order;
	int status[ACKS_MAX]; /* by seq; ACK_NONE until called */
	unsigned times[ACKS_MAX];
};

static struct acks g_acks;

static void acks_init(struct acks *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	for (unsigned i = 0; i < ACKS_MAX; i++)
		a->status[i] = ACK_NONE;
}

static void ack_cb(void *arg, uint64_t seq, int status)
{
	struct acks *a = arg;
	pthread_mutex_lock(&a->mu);
	if (seq <= a->last_seq)
		a->out_of_order = true;
	a->last_seq = seq;
	if (seq < ACKS_MAX) {
		a->status[seq] = status;
		a->times[seq]++;
	}
	a->calls++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Waits (up to 20 s) until calls callbacks have run. */
static void acks_wait(struct acks *a, unsigned calls)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&a->mu);
	while (a->calls < calls) {
		if (pthread_cond_timedwait(&a->cv, &a->mu, &deadline) != 0)
			break;
	}
	unsigned got = a->calls;
	pthread_mutex_unlock(&a->mu);
	cr_assert_geq(got, calls, "only %u of %u callbacks ran", got, calls);
}

/* ---- the fault hook ----------------------------------------------------------- */

struct fault {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned calls;
	bool hold; /* block the next call until fault_release() */
	bool held;
	bool armed; /* the next call fails: result, or a short write of len/2 */
	bool short_write;
	int64_t result;
	uint64_t fail_from_segment; /* every call in this segment or later: result */
	uint64_t failed_segment, failed_offset;
	uint32_t failed_len;
	int64_t failed_result;
};

static struct fault g_fault;

static void fault_init(struct fault *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->fail_from_segment = UINT64_MAX;
}

static int64_t fault_fn(void *ctx, uint64_t segment, uint64_t offset, uint32_t len)
{
	struct fault *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->calls++;
	int64_t r = 0;
	if (f->armed || segment >= f->fail_from_segment) {
		f->armed = false;
		r = f->short_write ? (int64_t)(len / 2) : f->result;
		f->failed_segment = segment;
		f->failed_offset = offset;
		f->failed_len = len;
		f->failed_result = r;
	}
	if (f->hold) {
		f->hold = false;
		f->held = true;
		pthread_cond_broadcast(&f->cv);
		while (f->held)
			pthread_cond_wait(&f->cv, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static void fault_set(struct fault *f, bool hold, bool armed, bool short_write, int64_t result)
{
	pthread_mutex_lock(&f->mu);
	f->hold = f->hold || hold;
	f->armed = f->armed || armed;
	if (armed) {
		f->short_write = short_write;
		f->result = result;
	}
	pthread_mutex_unlock(&f->mu);
}

/* Waits (up to 20 s) until the writer is blocked in the hook. */
static void fault_wait_held(struct fault *f)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&f->mu);
	while (!f->held) {
		if (pthread_cond_timedwait(&f->cv, &f->mu, &deadline) != 0)
			break;
	}
	bool held = f->held;
	pthread_mutex_unlock(&f->mu);
	cr_assert(held, "the writer never reached the fault hook");
}

static void fault_release(struct fault *f)
{
	pthread_mutex_lock(&f->mu);
	f->held = false;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static unsigned fault_calls(struct fault *f)
{
	pthread_mutex_lock(&f->mu);
	unsigned n = f->calls;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static struct faii_ls_options fault_opts(const char *dir, struct fault *f)
{
	struct faii_ls_options o = store_opts(dir);
	o.fault = fault_fn;
	o.fault_ctx = f;
	return o;
}

/*
 * Record `first` is written as a batch of its own while the writer is held in
 * the fault hook; records first+1 .. first+count, queued meanwhile, form
 * exactly the next batch, for which the hook is armed as asked. No keys;
 * payloads seeded by seq; callbacks into g_acks.
 */
static void append_as_batch(struct faii_ls *ls, struct fault *f, uint64_t first, unsigned count,
                            uint32_t len, bool arm, bool short_write, int64_t result)
{
	fault_set(f, true, false, false, 0);
	append_seq(ls, first, 1, NULL, len, ack_cb, &g_acks);
	fault_wait_held(f);
	for (unsigned i = 1; i <= count; i++)
		append_seq(ls, first + i, 1, NULL, len, ack_cb, &g_acks);
	if (arm)
		fault_set(f, false, true, short_write, result);
	fault_release(f);
}

/* ---- on-disk layout, parsed and verified independently ----------------------- */

struct rec_pos {
	uint64_t seg, off;
	struct ls_record_header h;
	uint64_t batch; /* batches committed before this record */
};

struct layout {
	struct rec_pos *recs; /* every record, commits included, in order */
	size_t n, cap;
	uint64_t segments;
	struct ls_segment_header hdr[SEGS_MAX];
	uint64_t seg_file_size[SEGS_MAX];
	uint8_t end_chain[SEGS_MAX][FAII_LS_CHAIN_SIZE]; /* after a segment's last commit */
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	uint64_t last_seq;
	uint64_t commits;
	uint64_t user_records;
	uint64_t closes;   /* close records */
	size_t last_close; /* recs[] index of the last one */
};

/*
 * Parses every segment of dir from segment 0: header fields and CRC, record
 * CRCs, dense sequence numbers, each commit's chain value recomputed with
 * BLAKE2b-256 and each header's prev_chain. The directory must be intact, with
 * no torn tail.
 */
static void parse_store(const char *dir, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	uint64_t next_seq = 1;
	for (uint64_t seg = 0;; seg++) {
		char path[PATH_CAP];
		seg_path(path, sizeof(path), dir, seg);
		if (!file_exists(path))
			break;
		cr_assert_lt(seg, SEGS_MAX);
		size_t size;
		uint8_t *buf = slurp(path, &size);
		cr_assert_geq(size, LS_SEGMENT_HEADER_SIZE);
		struct ls_segment_header h;
		memcpy(&h, buf, sizeof(h));
		cr_assert(memcmp(h.magic, LS_SEGMENT_MAGIC, 8) == 0, "%s: magic", path);
		cr_assert_eq(h.version, LS_FORMAT_VERSION);
		cr_assert_eq(h.header_size, LS_SEGMENT_HEADER_SIZE);
		cr_assert_eq(h.segment_index, seg);
		cr_assert_eq(h.segment_size, size, "%s: header says %" PRIu64 " bytes, file %zu",
		             path, h.segment_size, size);
		cr_assert_eq(h.crc, crc32c(&h, offsetof(struct ls_segment_header, crc)),
		             "%s: header CRC", path);
		cr_assert_eq(h.first_seq, next_seq, "%s: first_seq %" PRIu64 ", expected %" PRIu64,
		             path, h.first_seq, next_seq);
		cr_assert_arr_eq(
		        h.prev_chain, l->chain, FAII_LS_CHAIN_SIZE,
		        "%s: prev_chain is not the chain at the end of the previous segment", path);
		l->hdr[seg] = h;
		l->seg_file_size[seg] = size;

		crypto_generichash_state st;
		crypto_generichash_init(&st, NULL, 0, FAII_LS_CHAIN_SIZE);
		crypto_generichash_update(&st, l->chain, FAII_LS_CHAIN_SIZE);
		uint64_t off = LS_SEGMENT_HEADER_SIZE, batch_start = off, batch_first = next_seq;
		while (off + sizeof(struct ls_record_header) <= size) {
			struct ls_record_header r;
			memcpy(&r, buf + off, sizeof(r));
			if (r.length == 0 && r.type == LS_TYPE_NONE)
				break;
			cr_assert_geq(r.length, sizeof(r), "%s: offset %" PRIu64, path, off);
			uint64_t stored = ls_align(r.length, LS_ALIGN);
			cr_assert_leq(off + stored, size);
			cr_assert_eq(r.crc, record_crc(buf + off, r.length),
			             "%s: offset %" PRIu64 ": record CRC", path, off);
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 1024;
				l->recs = realloc(l->recs, l->cap * sizeof(*l->recs));
				cr_assert_not_null(l->recs);
			}
			l->recs[l->n++] = (struct rec_pos){seg, off, r, l->commits};
			if (r.type == LS_TYPE_CLOSE) {
				/* Between batches, outside the chain: the end so far. */
				struct ls_close c;
				cr_assert_eq(off, batch_start,
				             "%s: offset %" PRIu64 ": close record inside a batch",
				             path, off);
				cr_assert_geq(r.payload_len, sizeof(c));
				memcpy(&c, buf + off + sizeof(r), sizeof(c));
				cr_assert_eq(c.last_seq, l->last_seq);
				cr_assert_eq(r.seq, l->last_seq);
				cr_assert_arr_eq(c.chain, l->chain, sizeof(c.chain));
				l->closes++;
				l->last_close = l->n - 1;
				off += stored;
				batch_start = off;
				continue;
			}
			if (r.type == LS_TYPE_COMMIT) {
				struct ls_commit c;
				uint8_t chain[FAII_LS_CHAIN_SIZE];
				cr_assert_eq(r.payload_len, sizeof(c));
				memcpy(&c, buf + off + sizeof(r), sizeof(c));
				crypto_generichash_final(&st, chain, sizeof(chain));
				cr_assert_arr_eq(c.chain, chain, sizeof(chain),
				                 "%s: offset %" PRIu64 ": commit chain", path, off);
				cr_assert_eq(c.first_seq, batch_first);
				cr_assert_eq(c.last_seq, next_seq - 1);
				cr_assert_eq(r.seq, c.last_seq);
				memcpy(l->chain, chain, sizeof(chain));
				l->last_seq = c.last_seq;
				l->commits++;
				off += stored;
				batch_start = off;
				batch_first = next_seq;
				crypto_generichash_init(&st, NULL, 0, FAII_LS_CHAIN_SIZE);
				crypto_generichash_update(&st, l->chain, FAII_LS_CHAIN_SIZE);
				continue;
			}
			crypto_generichash_update(&st, buf + off, stored);
			if (r.type != LS_TYPE_PAD) {
				cr_assert(r.type >= 1 && r.type <= FAII_LS_TYPE_USER_MAX);
				cr_assert_eq(r.seq, next_seq, "%s: offset %" PRIu64 ": seq", path,
				             off);
				cr_assert_eq(r.length,
				             sizeof(r) + ls_keys_size(r.flags) + r.payload_len);
				next_seq++;
				l->user_records++;
			}
			off += stored;
		}
		cr_assert_eq(off, batch_start, "%s: uncommitted records at offset %" PRIu64, path,
		             batch_start);
		uint64_t nz = off;
		while (nz < size && buf[nz] == 0)
			nz++;
		cr_assert_eq(nz, size, "%s: non-zero byte at %" PRIu64 " after the data", path, nz);
		memcpy(l->end_chain[seg], l->chain, FAII_LS_CHAIN_SIZE);
		l->segments = seg + 1;
		free(buf);
	}
}

static const struct rec_pos *find_user(const struct layout *l, uint64_t seq)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->recs[i].h.type <= FAII_LS_TYPE_USER_MAX && l->recs[i].h.seq == seq)
			return &l->recs[i];
	}
	cr_assert_fail("seq %" PRIu64 " not found on disk", seq);
	return NULL;
}

/* The commit record of the batch holding user record seq. */
static const struct rec_pos *find_commit_of(const struct layout *l, uint64_t seq)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->recs[i].h.type == LS_TYPE_COMMIT && l->recs[i].h.seq >= seq)
			return &l->recs[i];
	}
	cr_assert_fail("no commit for seq %" PRIu64, seq);
	return NULL;
}

static void free_layout(struct layout *l)
{
	free(l->recs);
	l->recs = NULL;
}

/* err must name path and "offset N:". */
static void expect_err_at(const char *err, const char *path, uint64_t off)
{
	char at[64];
	snprintf(at, sizeof(at), "offset %" PRIu64 ":", off);
	cr_assert_not_null(strstr(err, path), "message does not name %s: %s", path, err);
	cr_assert_not_null(strstr(err, at), "message does not say '%s': %s", at, err);
}

/* ============================================================================ */
/* 1. Record format round trips                                                 */
/* ============================================================================ */

struct rt_rec {
	uint16_t type;
	bool null_keys;
	struct faii_ls_keys keys;
	uint32_t len;
};

static void expect_rt(struct faii_ls *ls, const struct rt_rec *r, uint64_t seq, uint8_t *buf,
                      uint8_t *want)
{
	struct faii_ls_record rec;
	memset(&rec, 0x5A, sizeof(rec));
	int rc = faii_ls_read(ls, seq, &rec, buf, FAII_LS_RECORD_PAYLOAD_MAX);
	cr_assert_eq(rc, 0, "read %" PRIu64 ": %d", seq, rc);
	cr_assert_eq(rec.seq, seq);
	cr_assert_eq(rec.type, r->type, "seq %" PRIu64 ": type %u != %u", seq, rec.type, r->type);
	cr_assert_eq(rec.payload_len, r->len, "seq %" PRIu64 ": len %u != %u", seq, rec.payload_len,
	             r->len);
	struct faii_ls_keys want_keys = r->keys;
	if (r->null_keys)
		want_keys.present = 0;
	expect_keys(&rec.keys, &want_keys, seq);
	fill(want, r->len, seq);
	cr_assert(memcmp(buf, want, r->len) == 0, "seq %" PRIu64 ": payload of %u bytes differs",
	          seq, r->len);
}

Test(format, round_trip_types_sizes_keys)
{
	static const uint32_t sizes[] = {0, 1, 7, 8, 128, 1024, FAII_LS_RECORD_PAYLOAD_MAX};
	static const uint16_t types[] = {1, 2, 0x1234, FAII_LS_TYPE_USER_MAX};
	static const unsigned masks[] = {
	        0, /* keys == NULL */
	        0, /* keys with nothing present */
	        FAII_LS_KEY_ROUND,
	        FAII_LS_KEY_EPOCH,
	        FAII_LS_KEY_NODE,
	        FAII_LS_KEY_DIGEST,
	        FAII_LS_KEY_ROUND | FAII_LS_KEY_EPOCH | FAII_LS_KEY_NODE | FAII_LS_KEY_DIGEST,
	};
	enum { NS = sizeof(sizes) / sizeof(sizes[0]), NM = sizeof(masks) / sizeof(masks[0]) };
	static struct rt_rec recs[NS * NM + 1];
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	uint8_t *payload = malloc(FAII_LS_RECORD_PAYLOAD_MAX);
	uint8_t *buf = malloc(FAII_LS_RECORD_PAYLOAD_MAX);
	cr_assert(payload && buf);

	uint64_t seq = 0;
	for (unsigned s = 0; s < NS; s++) {
		for (unsigned m = 0; m < NM; m++) {
			seq++;
			struct rt_rec *r = &recs[seq];
			r->type = types[seq % 4];
			r->null_keys = m == 0;
			r->keys = keys_for(masks[m], seq);
			r->len = sizes[s];
			/* Fields of absent keys hold garbage: they must not matter. */
			fill(payload, r->len, seq);
			int64_t got = faii_ls_append(ls, r->type, r->null_keys ? NULL : &r->keys,
			                             payload, r->len, NULL, NULL);
			cr_assert_eq(got, (int64_t)seq, "append %" PRIu64 ": %" PRId64, seq, got);
		}
	}
	cr_assert_eq(faii_ls_wait_durable(ls, seq, 20000), 0);
	cr_assert_eq(faii_ls_durable_seq(ls), seq);
	for (uint64_t i = 1; i <= seq; i++)
		expect_rt(ls, &recs[i], i, buf, payload);
	faii_ls_close(ls);

	/* The same from disk, after recovery. */
	ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), seq);
	cr_assert_eq(get_stats(ls).recovered_records, seq);
	for (uint64_t i = 1; i <= seq; i++)
		expect_rt(ls, &recs[i], i, buf, payload);
	faii_ls_close(ls);

	struct layout l;
	parse_store(g_store, &l);
	cr_assert_eq(l.user_records, seq);
	cr_assert_eq(l.last_seq, seq);
	free_layout(&l);
	free(payload);
	free(buf);
}

Test(format, read_truncates_to_cap)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	struct faii_ls_keys k = keys_for(FAII_LS_KEY_ROUND | FAII_LS_KEY_DIGEST, 7);
	uint8_t payload[1024], buf[1024];
	fill(payload, sizeof(payload), 1);
	cr_assert_eq(faii_ls_append_wait(ls, 9, &k, payload, sizeof(payload)), 1);

	struct faii_ls_record rec;
	memset(buf, 0xAA, sizeof(buf));
	cr_assert_eq(faii_ls_read(ls, 1, &rec, buf, 10), 0);
	cr_assert_eq(rec.payload_len, sizeof(payload), "the full length must be reported");
	cr_assert_eq(rec.type, 9);
	expect_keys(&rec.keys, &k, 1);
	cr_assert_arr_eq(buf, payload, 10);
	for (size_t i = 10; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xAA, "byte %zu written past cap", i);

	/* cap 0: only the metadata. */
	memset(&rec, 0, sizeof(rec));
	cr_assert_eq(faii_ls_read(ls, 1, &rec, NULL, 0), 0);
	cr_assert_eq(rec.payload_len, sizeof(payload));
	expect_keys(&rec.keys, &k, 1);
	faii_ls_close(ls);
}

Test(format, read_missing_seq)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	expect_absent(ls, 0);
	expect_absent(ls, 1);
	for (uint64_t s = 1; s <= 3; s++)
		append_wait_seq(ls, s, 16);
	expect_absent(ls, 0);
	expect_absent(ls, 4);
	expect_absent(ls, 1000);
	expect_absent(ls, UINT64_MAX);
	expect_record(ls, 3, 1, 16);
	faii_ls_close(ls);

	ls = open_ok(&o);
	expect_absent(ls, 0);
	expect_absent(ls, 4);
	expect_record(ls, 1, 1, 16);
	faii_ls_close(ls);
}

Test(format, invalid_appends)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	static uint8_t big[FAII_LS_RECORD_PAYLOAD_MAX + 1];
	uint8_t p[8] = {0};
	struct faii_ls_keys bad = keys_for(FAII_LS_KEY_ROUND, 1);
	bad.present |= 1u << 4;
	struct faii_ls_keys bad_high = keys_for(0, 1);
	bad_high.present = 1u << 31;

	cr_assert_eq(faii_ls_append(ls, 0, NULL, p, 8, NULL, NULL), -EINVAL, "type 0");
	cr_assert_eq(faii_ls_append(ls, FAII_LS_TYPE_USER_MAX + 1, NULL, p, 8, NULL, NULL), -EINVAL,
	             "type > user max");
	cr_assert_eq(faii_ls_append(ls, LS_TYPE_COMMIT, NULL, p, 8, NULL, NULL), -EINVAL,
	             "commit type");
	cr_assert_eq(faii_ls_append(ls, 0xFFFF, NULL, p, 8, NULL, NULL), -EINVAL, "type 0xFFFF");
	cr_assert_eq(faii_ls_append(ls, 1, NULL, big, FAII_LS_RECORD_PAYLOAD_MAX + 1, NULL, NULL),
	             -EINVAL, "oversized payload");
	cr_assert_eq(faii_ls_append(ls, 1, NULL, NULL, 1, NULL, NULL), -EINVAL,
	             "NULL payload, len 1");
	cr_assert_eq(faii_ls_append(ls, 1, &bad, p, 8, NULL, NULL), -EINVAL, "unknown key bit 4");
	cr_assert_eq(faii_ls_append(ls, 1, &bad_high, p, 8, NULL, NULL), -EINVAL,
	             "unknown key bit 31");
	cr_assert_eq(faii_ls_append_wait(ls, 0, NULL, p, 8), -EINVAL);
	cr_assert_eq(faii_ls_append_wait(ls, 1, &bad, p, 8), -EINVAL);

	/* Nothing was consumed: the first valid append is seq 1. */
	cr_assert_eq(faii_ls_durable_seq(ls), 0);
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, NULL, 0), 1, "NULL payload with len 0");
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, big, FAII_LS_RECORD_PAYLOAD_MAX), 2);
	uint64_t r = 1;
	cr_assert_eq(faii_ls_find(ls, 0, &r, &r, 1), -EINVAL, "find: kind 0");
	cr_assert_eq(faii_ls_find(ls, FAII_LS_KEY_ROUND | FAII_LS_KEY_EPOCH, &r, &r, 1), -EINVAL,
	             "find: two kinds");
	faii_ls_close(ls);

	/* Options out of range. */
	char err[FAII_LS_ERR_LEN];
	struct faii_ls_options small = store_opts(g_store);
	small.segment_size_bytes = SEG_SIZE - 4096;
	cr_assert_eq(open_refused(&small, err), -EINVAL);
	struct faii_ls_options odd = store_opts(g_store);
	odd.segment_size_bytes = SEG_SIZE + 8;
	cr_assert_eq(open_refused(&odd, err), -EINVAL);
	struct faii_ls_options tiny_batch = store_opts(g_store);
	tiny_batch.batch_bytes_max = 4096;
	cr_assert_eq(open_refused(&tiny_batch, err), -EINVAL);
}

/* O_DIRECT: every batch is padded to 4096 bytes with a padding record. */
Test(format, o_direct_round_trip)
{
	struct faii_ls_options o = store_opts(g_store);
	o.o_direct = true;
	struct faii_ls *ls = NULL;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(&o, &ls, err);
	if (rc == -EINVAL)
		cr_skip_test("O_DIRECT not supported here: %s", err);
	cr_assert_eq(rc, 0, "open: %s", err);
	/* One record per batch: record, padding and commit per record. */
	const uint64_t n = 2 * 64 + 5;
	for (uint64_t s = 1; s <= n; s++)
		append_wait_seq(ls, s, (uint32_t)(s % 50));
	for (uint64_t s = 1; s <= n; s++)
		expect_record(ls, s, 1, (uint32_t)(s % 50));
	faii_ls_close(ls);
	ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), n);
	for (uint64_t s = 1; s <= n; s++)
		expect_record(ls, s, 1, (uint32_t)(s % 50));
	faii_ls_close(ls);
	struct layout l;
	parse_store(g_store, &l);
	cr_assert_eq(l.last_seq, n);
	for (size_t i = 0; i < l.n; i++) {
		if (l.recs[i].h.type == LS_TYPE_COMMIT)
			cr_assert_eq((l.recs[i].off + COMMIT_SZ) % 4096, 0,
			             "batch not ending on a block boundary");
	}
	free_layout(&l);
}

/* ============================================================================ */
/* 2. CRC and chain verification                                                */
/* ============================================================================ */

/* Six batches of one record each (seq 1..6), closed; returns the layout. */
static void six_batches(struct layout *l)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 6; s++) {
		struct faii_ls_keys k = keys_for(FAII_LS_KEY_ROUND | FAII_LS_KEY_NODE, s);
		uint8_t p[200];
		fill(p, sizeof(p), s);
		cr_assert_eq(faii_ls_append_wait(ls, 3, &k, p, sizeof(p)), (int64_t)s);
	}
	faii_ls_close(ls);
	parse_store(g_store, l);
	cr_assert_eq(l->commits, 6);
	cr_assert_eq(l->last_seq, 6);
}

/* Open and verify must both refuse, with the same message naming path and off. */
static void expect_refused_at(const char *path, uint64_t off)
{
	char err[FAII_LS_ERR_LEN], verr[FAII_LS_ERR_LEN];
	struct faii_ls_verify_report rep;
	int vrc = faii_ls_verify(g_store, &rep, verr);
	cr_assert_eq(vrc, -EBADMSG, "verify: %d (%s)", vrc, verr);
	expect_err_at(verr, path, off);
	struct faii_ls_options o = store_opts(g_store);
	int rc = open_refused(&o, err);
	cr_assert_eq(rc, -EBADMSG, "open: %d (%s)", rc, err);
	expect_err_at(err, path, off);
	cr_assert_str_eq(err, verr);
	/* Refusing changed nothing: still refused. */
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
}

Test(integrity, flipped_payload_byte_in_earlier_batch)
{
	struct layout l;
	six_batches(&l);
	const struct rec_pos *r = find_user(&l, 2);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	uint64_t payload_off = r->off + sizeof(struct ls_record_header) + ls_keys_size(r->h.flags);
	xor_byte(path, payload_off + 100, 0x01);
	expect_refused_at(path, r->off);
	free_layout(&l);
}

Test(integrity, flipped_key_byte_in_earlier_batch)
{
	struct layout l;
	six_batches(&l);
	const struct rec_pos *r = find_user(&l, 4);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 2, 0x80);
	expect_refused_at(path, r->off);
	free_layout(&l);
}

Test(integrity, flipped_commit_chain_in_earlier_batch)
{
	struct layout l;
	six_batches(&l);
	const struct rec_pos *c = find_commit_of(&l, 3);
	cr_assert_eq(c->h.seq, 3);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, c->seg);
	xor_byte(path,
	         c->off + sizeof(struct ls_record_header) + offsetof(struct ls_commit, chain) + 7,
	         0x10);
	expect_refused_at(path, c->off);
	free_layout(&l);
}

/* A changed payload with a recomputed record CRC: the chain still catches it. */
Test(integrity, forged_record_crc_caught_by_chain)
{
	struct layout l;
	six_batches(&l);
	const struct rec_pos *r = find_user(&l, 2);
	const struct rec_pos *c = find_commit_of(&l, 2);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	size_t size;
	uint8_t *seg = slurp(path, &size);
	uint8_t *rec = seg + r->off;
	rec[r->h.length - 1] ^= 0x42;
	uint32_t crc = record_crc(rec, r->h.length);
	memcpy(rec + offsetof(struct ls_record_header, crc), &crc, 4);
	patch_file(path, r->off, rec, r->h.length);
	free(seg);
	/* The record itself is valid now; the commit of its batch is not. */
	expect_refused_at(path, c->off);
	free_layout(&l);
}

/* A forged chain value with a recomputed commit CRC: the recomputed chain differs. */
Test(integrity, forged_commit_chain_with_valid_crc)
{
	struct layout l;
	six_batches(&l);
	const struct rec_pos *c = find_commit_of(&l, 2);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, c->seg);
	size_t size;
	uint8_t *seg = slurp(path, &size);
	uint8_t *rec = seg + c->off;
	rec[sizeof(struct ls_record_header) + offsetof(struct ls_commit, chain)] ^= 0xFF;
	uint32_t crc = record_crc(rec, c->h.length);
	memcpy(rec + offsetof(struct ls_record_header, crc), &crc, 4);
	patch_file(path, c->off, rec, c->h.length);
	free(seg);
	expect_refused_at(path, c->off);
	free_layout(&l);
}

Test(integrity, verify_reports_intact_store)
{
	struct layout l;
	six_batches(&l);
	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.segments, 1);
	cr_assert_eq(rep.records, 6);
	cr_assert_eq(rep.first_seq, 1);
	cr_assert_eq(rep.last_seq, 6);
	cr_assert_eq(rep.torn_tail_bytes, 0);
	cr_assert_eq(rep.checkpoint_seq, 0);
	cr_assert_arr_eq(rep.chain, l.chain, FAII_LS_CHAIN_SIZE);
	free_layout(&l);
}

/* ============================================================================ */
/* 3. Segment roll                                                              */
/* ============================================================================ */

#define ROLL_RECORDS 1600u

static uint32_t roll_len(uint64_t seq)
{
	return 4000u + (uint32_t)(seq * 7919u % 8000u);
}

static struct faii_ls_keys roll_keys(uint64_t seq)
{
	return keys_for(seq % 3 == 0 ? FAII_LS_KEY_ROUND : 0, seq);
}

Test(segments, roll_across_many_segments)
{
	struct faii_ls_options o = store_opts(g_store);
	/* The smallest batch the bounds allow, and at most 16 records each. */
	o.batch_bytes_max = (uint32_t)ls_align(
	        sizeof(struct ls_record_header) + FAII_LS_RECORD_PAYLOAD_MAX + 64, LS_ALIGN);
	o.batch_records_max = 16;
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= ROLL_RECORDS; s++) {
		struct faii_ls_keys k = roll_keys(s);
		append_seq(ls, s, 1, &k, roll_len(s), NULL, NULL);
	}
	cr_assert_eq(faii_ls_wait_durable(ls, ROLL_RECORDS, 20000), 0);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.durable_seq, ROLL_RECORDS);
	cr_assert_geq(st.segments, 3, "only %" PRIu64 " segments written", st.segments);
	cr_assert_eq(st.segments, count_files(g_store, "segment-", ".log"));
	cr_assert_geq(st.batches, ROLL_RECORDS / 16);
	for (uint64_t s = 1; s <= ROLL_RECORDS; s++)
		expect_record(ls, s, 1, roll_len(s));
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	memcpy(chain, st.chain, sizeof(chain));
	faii_ls_close(ls);

	struct layout l;
	parse_store(g_store, &l);
	cr_assert_eq(l.segments, st.segments);
	cr_assert_eq(l.last_seq, ROLL_RECORDS);
	cr_assert_arr_eq(l.chain, chain, FAII_LS_CHAIN_SIZE, "stats.chain is not the chain head");
	uint8_t zero[FAII_LS_CHAIN_SIZE] = {0};
	cr_assert_arr_eq(l.hdr[0].prev_chain, zero, FAII_LS_CHAIN_SIZE);
	for (uint64_t i = 1; i < l.segments; i++) {
		cr_assert_arr_eq(l.hdr[i].prev_chain, l.end_chain[i - 1], FAII_LS_CHAIN_SIZE,
		                 "segment %" PRIu64 ": prev_chain", i);
		cr_assert_eq(l.seg_file_size[i], SEG_SIZE);
		cr_assert_gt(l.hdr[i].first_seq, l.hdr[i - 1].first_seq);
	}
	/* Each segment's first record carries its header's first_seq. */
	for (size_t i = 0; i < l.n; i++) {
		if (i == 0 || l.recs[i].seg != l.recs[i - 1].seg)
			cr_assert_eq(l.recs[i].h.seq, l.hdr[l.recs[i].seg].first_seq);
	}
	free_layout(&l);

	ls = open_ok(&o);
	st = get_stats(ls);
	cr_assert_eq(st.durable_seq, ROLL_RECORDS);
	cr_assert_eq(st.segments, count_files(g_store, "segment-", ".log"));
	cr_assert_eq(st.recovered_records, ROLL_RECORDS);
	cr_assert_eq(st.truncated_bytes, 0);
	cr_assert_arr_eq(st.chain, chain, FAII_LS_CHAIN_SIZE);
	for (uint64_t s = 1; s <= ROLL_RECORDS; s++)
		expect_record(ls, s, 1, roll_len(s));
	for (uint64_t s = ROLL_RECORDS; s > 97; s -= 97)
		expect_record(ls, s, 1, roll_len(s));
	/* Appending continues in the last segment, with the next seq. */
	append_wait_seq(ls, ROLL_RECORDS + 1, 10);
	faii_ls_close(ls);
}

/*
 * Four batches of 1047552 bytes fill a 4 MiB segment exactly (4096 header +
 * 4 x 1047552 = 4194304); the fifth record goes to segment 1 while the read
 * position index still points into segment 0.
 */
static void segment_end_case(const char *dir, uint32_t shrink_last)
{
	const uint32_t batch = (uint32_t)((SEG_SIZE - LS_SEGMENT_HEADER_SIZE) / 4);
	const uint32_t len = batch - COMMIT_SZ - (uint32_t)sizeof(struct ls_record_header);
	struct faii_ls_options o = store_opts(dir);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 4; s++)
		append_wait_seq(ls, s, s == 4 ? len - shrink_last : len);
	append_wait_seq(ls, 5, 100);
	append_wait_seq(ls, 6, 100);
	cr_assert_eq(get_stats(ls).segments, 2);
	for (uint64_t s = 1; s <= 6; s++)
		expect_record(ls, s, 1, s == 4 ? len - shrink_last : s <= 4 ? len : 100);
	faii_ls_close(ls);
	ls = open_ok(&o);
	for (uint64_t s = 1; s <= 6; s++)
		expect_record(ls, s, 1, s == 4 ? len - shrink_last : s <= 4 ? len : 100);
	faii_ls_close(ls);
	struct layout l;
	parse_store(dir, &l);
	cr_assert_eq(l.segments, 2);
	cr_assert_eq(l.hdr[1].first_seq, 5);
	free_layout(&l);
}

Test(segments, read_across_exactly_full_segment)
{
	segment_end_case(g_store, 0);
}

Test(segments, read_across_segment_with_short_remainder)
{
	/* 16 bytes left at the end of segment 0: less than a record header. */
	segment_end_case(g_store, 16);
}

/* ============================================================================ */
/* 4. Index lookups                                                              */
/* ============================================================================ */

#define IX_FIRST 200u
#define IX_MORE  100u

static uint8_t ix_digest_a[FAII_LS_DIGEST_SIZE], ix_digest_b[FAII_LS_DIGEST_SIZE],
        ix_digest_c[FAII_LS_DIGEST_SIZE];

static void ix_init_digests(void)
{
	fill(ix_digest_a, FAII_LS_DIGEST_SIZE, 0xA);
	memcpy(ix_digest_b, ix_digest_a, FAII_LS_DIGEST_SIZE);
	ix_digest_b[31] ^= 1; /* same first 8 bytes, different digest */
	memcpy(ix_digest_c, ix_digest_a, FAII_LS_DIGEST_SIZE);
	ix_digest_c[8] ^= 1; /* same first 8 bytes, on no record */
}

/* The keys of record seq in the index tests. */
static struct faii_ls_keys ix_keys(uint64_t seq)
{
	struct faii_ls_keys k;
	memset(&k, 0, sizeof(k));
	switch (seq % 4) {
	case 0: break;
	case 1: k.present = FAII_LS_KEY_ROUND | FAII_LS_KEY_NODE; break;
	case 2: k.present = FAII_LS_KEY_EPOCH | FAII_LS_KEY_DIGEST; break;
	default: k.present = LS_KEYS_MASK; break;
	}
	k.round = seq % 7;
	k.epoch = seq / 50;
	k.node = 1000u + (uint32_t)(seq % 3);
	if (seq % 4 == 2)
		memcpy(k.digest, (seq / 4) % 2 ? ix_digest_b : ix_digest_a, FAII_LS_DIGEST_SIZE);
	else
		fill(k.digest, FAII_LS_DIGEST_SIZE, seq);
	return k;
}

static bool ix_match(const struct faii_ls_keys *k, unsigned kind, const void *key)
{
	if (!(k->present & kind))
		return false;
	switch (kind) {
	case FAII_LS_KEY_ROUND: return memcmp(&k->round, key, 8) == 0;
	case FAII_LS_KEY_EPOCH: return memcmp(&k->epoch, key, 8) == 0;
	case FAII_LS_KEY_NODE: return memcmp(&k->node, key, 4) == 0;
	default: return memcmp(k->digest, key, FAII_LS_DIGEST_SIZE) == 0;
	}
}

static void ix_expect(struct faii_ls *ls, uint64_t last, unsigned kind, const void *key,
                      const char *what)
{
	static uint64_t want[4096], got[4096];
	size_t n = 0;
	for (uint64_t s = 1; s <= last; s++) {
		struct faii_ls_keys k = ix_keys(s);
		if (ix_match(&k, kind, key))
			want[n++] = s;
	}
	int rc = faii_ls_find(ls, kind, key, got, 4096);
	cr_assert_eq(rc, (int)n, "find %s: %d results, expected %zu", what, rc, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i],
		             "find %s: result %zu is %" PRIu64 ", expected %" PRIu64, what, i,
		             got[i], want[i]);
	/* A smaller max gives the first max, ascending. */
	if (n >= 2) {
		memset(got, 0, sizeof(got[0]) * (n + 1));
		cr_assert_eq(faii_ls_find(ls, kind, key, got, 2), 2, "find %s, max 2", what);
		cr_assert_eq(got[0], want[0]);
		cr_assert_eq(got[1], want[1]);
		cr_assert_eq(got[2], 0, "find %s wrote past max", what);
	}
}

static void ix_expect_all(struct faii_ls *ls, uint64_t last)
{
	for (uint64_t r = 0; r < 8; r++)
		ix_expect(ls, last, FAII_LS_KEY_ROUND, &r, "round");
	for (uint64_t e = 0; e <= last / 50 + 1; e++)
		ix_expect(ls, last, FAII_LS_KEY_EPOCH, &e, "epoch");
	for (uint32_t n = 999; n <= 1003; n++)
		ix_expect(ls, last, FAII_LS_KEY_NODE, &n, "node");
	ix_expect(ls, last, FAII_LS_KEY_DIGEST, ix_digest_a, "digest A");
	ix_expect(ls, last, FAII_LS_KEY_DIGEST, ix_digest_b, "digest B");
	ix_expect(ls, last, FAII_LS_KEY_DIGEST, ix_digest_c, "digest C");
	for (uint64_t s = 3; s <= last; s += 20) {
		struct faii_ls_keys k = ix_keys(s);
		ix_expect(ls, last, FAII_LS_KEY_DIGEST, k.digest, "unique digest");
	}
}

static void ix_append(struct faii_ls *ls, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++) {
		struct faii_ls_keys k = ix_keys(s);
		append_seq(ls, s, 1, &k, 24, NULL, NULL);
	}
	cr_assert_eq(faii_ls_wait_durable(ls, to, 20000), 0);
}

Test(index, find_by_every_key)
{
	ix_init_digests();
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	ix_append(ls, 1, IX_FIRST);
	ix_expect_all(ls, IX_FIRST);
	/* The keys a record read returns are the ones indexed. */
	for (uint64_t s = 1; s <= 8; s++) {
		struct faii_ls_record rec;
		struct faii_ls_keys k = ix_keys(s);
		cr_assert_eq(faii_ls_read(ls, s, &rec, NULL, 0), 0);
		expect_keys(&rec.keys, &k, s);
	}
	faii_ls_close(ls);

	/* After reopen: rebuilt from the log. */
	ls = open_ok(&o);
	cr_assert_eq(get_stats(ls).recovered_records, IX_FIRST);
	ix_expect_all(ls, IX_FIRST);

	/* After reopen from a checkpoint: the snapshot plus the tail. */
	cr_assert_eq(faii_ls_checkpoint(ls, IX_FIRST, "ix", 2), 0);
	ix_append(ls, IX_FIRST + 1, IX_FIRST + IX_MORE);
	ix_expect_all(ls, IX_FIRST + IX_MORE);
	uint64_t entries = get_stats(ls).index_entries;
	faii_ls_close(ls);

	ls = open_ok(&o);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.recovered_records, IX_MORE, "recovered %" PRIu64 ", expected %u",
	             st.recovered_records, IX_MORE);
	cr_assert_eq(st.index_entries, entries,
	             "index entries %" PRIu64 " after reopen, %" PRIu64 " before", st.index_entries,
	             entries);
	ix_expect_all(ls, IX_FIRST + IX_MORE);
	faii_ls_close(ls);
}

/* Digests are hashed by their first 8 bytes: max counts exact matches only. */
Test(index, digest_prefix_collision_honours_max)
{
	ix_init_digests();
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	ix_append(ls, 1, 40);
	/* Records 2, 10, 18, 26, 34 carry A; 6, 14, 22, 30, 38 carry B. */
	uint64_t got[8] = {0};
	cr_assert_eq(faii_ls_find(ls, FAII_LS_KEY_DIGEST, ix_digest_b, got, 8), 5);
	cr_assert_eq(got[0], 6);
	memset(got, 0, sizeof(got));
	int rc = faii_ls_find(ls, FAII_LS_KEY_DIGEST, ix_digest_b, got, 1);
	cr_assert_eq(rc, 1, "find digest B, max 1: %d results (record 6 carries B)", rc);
	cr_assert_eq(got[0], 6);
	memset(got, 0, sizeof(got));
	rc = faii_ls_find(ls, FAII_LS_KEY_DIGEST, ix_digest_b, got, 5);
	cr_assert_eq(rc, 5, "find digest B, max 5: %d results, 5 records carry B", rc);
	cr_assert_eq(got[4], 38);
	faii_ls_close(ls);
}

Test(index, bound_counts_overflow)
{
	ix_init_digests();
	struct faii_ls_options o = store_opts(g_store);
	o.index_entries_max = 10;
	struct faii_ls *ls = open_ok(&o);
	ix_append(ls, 1, 40);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.index_entries, 10);
	cr_assert_gt(st.index_overflow, 0);
	/* Reads do not depend on the key index. */
	for (uint64_t s = 1; s <= 40; s++)
		expect_record(ls, s, 1, 24);
	faii_ls_close(ls);
}

/* ============================================================================ */
/* 5. Checkpoints and replay                                                    */
/* ============================================================================ */

static void expect_checkpoint(struct faii_ls *ls, uint64_t seq, const char *blob)
{
	uint64_t got_seq = 0;
	char buf[64];
	size_t len = 0;
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(faii_ls_checkpoint_get(ls, &got_seq, buf, sizeof(buf), &len), 0);
	cr_assert_eq(got_seq, seq, "checkpoint seq %" PRIu64 ", expected %" PRIu64, got_seq, seq);
	cr_assert_eq(len, strlen(blob));
	cr_assert_str_eq(buf, blob);
}

static bool checkpoint_file(uint64_t seq)
{
	char path[PATH_CAP];
	snprintf(path, sizeof(path), "%s/checkpoint-%016" PRIx64 ".ckpt", g_store, seq);
	return file_exists(path);
}

Test(checkpoint, replay_after_checkpoint)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	uint64_t s0;
	size_t l0;
	cr_assert_eq(faii_ls_checkpoint_get(ls, &s0, NULL, 0, &l0), -ENOENT);
	cr_assert_eq(faii_ls_checkpoint(ls, 1, "x", 1), -EINVAL, "nothing durable yet");
	for (uint64_t s = 1; s <= 50; s++)
		append_seq(ls, s, 2, NULL, 64, NULL, NULL);
	cr_assert_eq(faii_ls_wait_durable(ls, 50, 10000), 0);
	cr_assert_eq(faii_ls_checkpoint(ls, 0, "x", 1), -EINVAL, "seq 0");
	cr_assert_eq(faii_ls_checkpoint(ls, 51, "x", 1), -EINVAL, "beyond durable");
	cr_assert_eq(faii_ls_checkpoint(ls, UINT64_MAX, "x", 1), -EINVAL);
	cr_assert_eq(faii_ls_checkpoint_get(ls, &s0, NULL, 0, &l0), -ENOENT);
	/* The blob covers 40; the store's position is after 50, the last commit. */
	cr_assert_eq(faii_ls_checkpoint(ls, 40, "state@40", 8), 0);
	expect_checkpoint(ls, 40, "state@40");
	cr_assert(checkpoint_file(40));
	for (uint64_t s = 51; s <= 80; s++)
		append_seq(ls, s, 2, NULL, 64, NULL, NULL);
	cr_assert_eq(faii_ls_wait_durable(ls, 80, 10000), 0);
	faii_ls_close(ls);

	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.checkpoint_seq, 40);
	cr_assert_eq(rep.records, 30);
	cr_assert_eq(rep.first_seq, 51);
	cr_assert_eq(rep.last_seq, 80);

	ls = open_ok(&o);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.durable_seq, 80);
	cr_assert_eq(st.recovered_records, 30,
	             "recovery rescanned %" PRIu64 " records, expected the 30 after the checkpoint",
	             st.recovered_records);
	expect_checkpoint(ls, 40, "state@40");
	/* A smaller cap copies a prefix and reports the full size. */
	char small[4] = {0};
	uint64_t seq;
	size_t len;
	cr_assert_eq(faii_ls_checkpoint_get(ls, &seq, small, 3, &len), 0);
	cr_assert_eq(len, 8);
	cr_assert(memcmp(small, "sta", 3) == 0 && small[3] == 0);
	/* Records before the checkpoint are still readable. */
	for (uint64_t s = 1; s <= 80; s++)
		expect_record(ls, s, 2, 64);
	append_wait_seq(ls, 81, 8);
	faii_ls_close(ls);
}

Test(checkpoint, keeps_the_newest_two)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 30; s++)
		append_wait_seq(ls, s, 32);
	cr_assert_eq(faii_ls_checkpoint(ls, 10, "c10", 3), 0);
	cr_assert_eq(faii_ls_checkpoint(ls, 20, "c20", 3), 0);
	cr_assert(checkpoint_file(10) && checkpoint_file(20));
	cr_assert_eq(faii_ls_checkpoint(ls, 30, "c30", 3), 0);
	cr_assert_not(checkpoint_file(10), "checkpoint 10 was not pruned");
	cr_assert(checkpoint_file(20) && checkpoint_file(30));
	cr_assert_eq(count_files(g_store, "checkpoint-", ".ckpt"), 2);
	cr_assert_eq(count_files(g_store, "checkpoint-", ".tmp"), 0);
	expect_checkpoint(ls, 30, "c30");
	faii_ls_close(ls);

	ls = open_ok(&o);
	expect_checkpoint(ls, 30, "c30");
	cr_assert_eq(get_stats(ls).recovered_records, 0);
	for (uint64_t s = 31; s <= 40; s++)
		append_wait_seq(ls, s, 32);
	cr_assert_eq(faii_ls_checkpoint(ls, 40, "c40", 3), 0);
	cr_assert_eq(count_files(g_store, "checkpoint-", ".ckpt"), 2);
	cr_assert(checkpoint_file(30) && checkpoint_file(40));
	faii_ls_close(ls);

	/* A corrupt newest checkpoint is refused, naming the file. */
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	snprintf(path, sizeof(path), "%s/checkpoint-%016" PRIx64 ".ckpt", g_store, (uint64_t)40);
	xor_byte(path, sizeof(struct ls_checkpoint_header) + 1, 0x04);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	cr_assert_not_null(strstr(err, path), "%s", err);
}

/*
 * The write after a segment roll fails, so the newest segment holds only its
 * header. After reopening, the durable position is the start of that segment,
 * and a checkpoint taken there must be accepted by the next open.
 */
Test(checkpoint, at_the_start_of_an_empty_segment)
{
	const uint32_t len = 1000000;
	fault_init(&g_fault);
	struct faii_ls_options o = fault_opts(g_store, &g_fault);
	g_fault.result = -EIO;
	g_fault.fail_from_segment = 1;
	struct faii_ls *ls = open_ok(&o);
	uint64_t s = 1;
	int64_t rc;
	for (;; s++) {
		uint8_t *p = malloc(len);
		fill(p, len, s);
		rc = faii_ls_append_wait(ls, 1, NULL, p, len);
		free(p);
		if (rc < 0)
			break;
		cr_assert_eq(rc, (int64_t)s);
	}
	cr_assert_eq(rc, -EIO);
	cr_assert_eq(g_fault.failed_segment, 1);
	cr_assert_eq(g_fault.failed_offset, LS_SEGMENT_HEADER_SIZE);
	uint64_t durable = s - 1;
	faii_ls_close(ls);

	struct faii_ls_options plain = store_opts(g_store);
	ls = open_ok(&plain);
	cr_assert_eq(faii_ls_durable_seq(ls), durable);
	cr_assert_eq(get_stats(ls).segments, 2);
	cr_assert_eq(faii_ls_checkpoint(ls, durable, "empty-seg", 9), 0);
	faii_ls_close(ls);

	char err[FAII_LS_ERR_LEN];
	struct faii_ls_verify_report rep;
	int vrc = faii_ls_verify(g_store, &rep, err);
	cr_expect_eq(vrc, 0, "verify after a checkpoint at a segment start: %s", err);
	ls = NULL;
	int orc = faii_ls_open(&plain, &ls, err);
	cr_assert_eq(orc, 0, "open after a checkpoint at a segment start: %d: %s", orc, err);
	expect_checkpoint(ls, durable, "empty-seg");
	cr_assert_eq(faii_ls_durable_seq(ls), durable);
	append_wait_seq(ls, durable + 1, 10);
	expect_record(ls, 1, 1, len);
	faii_ls_close(ls);
	ls = open_ok(&plain);
	expect_record(ls, durable + 1, 1, 10);
	faii_ls_close(ls);
}

/*
 * Checkpoints taken while an appender runs: each checkpoint's index snapshot
 * must hold exactly the records up to its own position (one key per record
 * here), or recovery replays a batch the snapshot already has and
 * faii_ls_find() returns its records twice. The window is narrow: a broken
 * store fails this test in some runs, not all.
 */
static struct {
	struct faii_ls *ls;
	atomic_bool stop;
	_Atomic int err;
	_Atomic uint64_t allowed; /* paced by the checkpoints: 16 records each */
} ck;

static void *ck_appender(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; !ck.stop; i++) {
		while (i >= ck.allowed && !ck.stop)
			sched_yield();
		struct faii_ls_keys k = {.present = FAII_LS_KEY_ROUND, .round = i};
		/* 1 KiB: the append holds the store's mutex a little longer, and
		 * the writer waits for it inside the window. */
		static const uint8_t p[1024];
		int64_t s = faii_ls_append(ck.ls, 1, &k, p, sizeof(p), NULL, NULL);
		if (s != (int64_t)i + 1) {
			ck.err = s < 0 ? (int)s : -EPROTO;
			break;
		}
	}
	return NULL;
}

Test(checkpoint, snapshot_never_ahead_of_its_position)
{
	/* On tmpfs a checkpoint costs microseconds, not a disk flush: many more
	 * of them land in the window. */
	const char *dir = g_store;
	char shm_store[DIR_CAP + 8];
	snprintf(g_shm, sizeof(g_shm), "/dev/shm/faii-ls-XXXXXX");
	if (mkdtemp(g_shm) != NULL) {
		snprintf(shm_store, sizeof(shm_store), "%s/store", g_shm);
		dir = shm_store;
	} else {
		g_shm[0] = '\0';
	}
	struct faii_ls_options o = store_opts(dir);
	o.batch_records_max = 4;
	o.index_entries_max = 1u << 17;
	ck.ls = open_ok(&o);
	ck.allowed = 16;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, ck_appender, NULL), 0);
	unsigned taken = 0, bad = 0;
	uint64_t bad_seq = 0, bad_entries = 0;
	for (unsigned tries = 0; taken < 3000 && tries < 300000; tries++) {
		uint64_t d = faii_ls_durable_seq(ck.ls);
		if (d == 0 || ck.err != 0) {
			usleep(100);
			continue;
		}
		ck.allowed += 16;
		int rc = faii_ls_checkpoint(ck.ls, d, "load", 4);
		if (rc != 0) {
			bad_seq = d, bad = UINT_MAX;
			break;
		}
		taken++;
		char path[PATH_CAP];
		snprintf(path, sizeof(path), "%s/checkpoint-%016" PRIx64 ".ckpt", dir, d);
		size_t size;
		uint8_t *buf = slurp(path, &size);
		struct ls_checkpoint_header h;
		uint64_t entries;
		memcpy(&h, buf, sizeof(h));
		memcpy(&entries, buf + sizeof(h) + h.blob_len, 8);
		free(buf);
		if (entries != h.last_seq) {
			bad++;
			bad_seq = h.last_seq;
			bad_entries = entries;
			break;
		}
	}
	ck.stop = true;
	pthread_join(t, NULL);
	faii_ls_close(ck.ls);
	cr_assert_eq(ck.err, 0, "appender: %d", ck.err);
	cr_assert_neq(bad, UINT_MAX, "checkpoint of %" PRIu64 " failed", bad_seq);
	cr_assert_eq(bad, 0,
	             "checkpoint %u snapshot the index ahead of its position: last_seq %" PRIu64
	             " with %" PRIu64 " index entries",
	             taken, bad_seq, bad_entries);
	cr_assert_eq(taken, 3000);

	struct faii_ls *ls = open_ok(&o);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.index_entries, st.durable_seq,
	             "%" PRIu64 " index entries for %" PRIu64 " records after reopen",
	             st.index_entries, st.durable_seq);
	for (uint64_t s = st.durable_seq; s > 0 && s + 64 > st.durable_seq; s--) {
		uint64_t round = s - 1, got[4] = {0};
		cr_assert_eq(faii_ls_find(ls, FAII_LS_KEY_ROUND, &round, got, 4), 1,
		             "round %" PRIu64 " found %" PRIu64 " %" PRIu64, round, got[0], got[1]);
		cr_assert_eq(got[0], s);
	}
	faii_ls_close(ls);
}

/* ============================================================================ */
/* 6. Fault injection                                                            */
/* ============================================================================ */

/*
 * Records 1..5 acknowledged one by one, record 6 alone, then 7..9 as one
 * batch that fails (EIO, or a short write of half its bytes), while 10..12
 * are queued behind it. Returns with the store closed.
 */
static void failing_batch(bool short_write)
{
	acks_init(&g_acks);
	fault_init(&g_fault);
	struct faii_ls_options o = fault_opts(g_store, &g_fault);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 5; s++)
		append_wait_seq(ls, s, 300);
	cr_assert_eq(fault_calls(&g_fault), 5);

	/* Batch [6] is held in the hook while 7..9 are queued as the next batch. */
	fault_set(&g_fault, true, false, false, 0);
	append_seq(ls, 6, 1, NULL, 300, ack_cb, &g_acks);
	fault_wait_held(&g_fault);
	for (uint64_t s = 7; s <= 9; s++)
		append_seq(ls, s, 1, NULL, 300, ack_cb, &g_acks);
	/* [7..9] fails, and is held too so that 10..12 queue behind it. */
	fault_set(&g_fault, true, true, short_write, -EIO);
	fault_release(&g_fault);
	fault_wait_held(&g_fault);
	for (uint64_t s = 10; s <= 12; s++)
		append_seq(ls, s, 1, NULL, 300, ack_cb, &g_acks);
	fault_release(&g_fault);

	acks_wait(&g_acks, 7);
	cr_assert_eq(g_acks.status[6], 0, "record 6 was written: status %d", g_acks.status[6]);
	for (uint64_t s = 7; s <= 12; s++) {
		cr_assert_eq(g_acks.status[s], -EIO, "record %" PRIu64 ": status %d, expected -EIO",
		             s, g_acks.status[s]);
		cr_assert_eq(g_acks.times[s], 1);
	}
	cr_assert_not(g_acks.out_of_order, "callbacks out of sequence order");
	cr_assert_eq(g_fault.failed_segment, 0);
	cr_assert_eq(g_fault.failed_len, 3 * (24 + 304) + COMMIT_SZ);
	cr_assert_eq(faii_ls_wait_durable(ls, 7, 1000), -EIO);
	cr_assert_eq(faii_ls_wait_durable(ls, 6, 1000), 0);
	cr_assert_eq(faii_ls_durable_seq(ls), 6);

	/* The error is sticky; nothing more reaches the hook or the disk. */
	unsigned calls = fault_calls(&g_fault);
	uint8_t p[16] = {0};
	cr_assert_eq(faii_ls_append(ls, 1, NULL, p, 16, ack_cb, &g_acks), -EIO);
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, p, 16), -EIO);
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, NULL, 0), -EIO);
	usleep(20000);
	pthread_mutex_lock(&g_acks.mu);
	unsigned ack_calls = g_acks.calls;
	pthread_mutex_unlock(&g_acks.mu);
	cr_assert_eq(ack_calls, 7, "a rejected append's callback ran");
	cr_assert_eq(fault_calls(&g_fault), calls, "a batch was written after the failure");
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.error, -EIO);
	cr_assert_eq(st.durable_seq, 6);
	expect_absent(ls, 7);
	for (uint64_t s = 1; s <= 6; s++)
		expect_record(ls, s, 1, 300);
	faii_ls_close(ls);
}

/* After failing_batch: only 1..6 exist; appends go on from 7. */
static void reopen_after_failure(uint64_t torn)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.durable_seq, 6);
	cr_assert_eq(st.error, 0);
	cr_assert_eq(st.truncated_bytes, torn);
	for (uint64_t s = 1; s <= 6; s++)
		expect_record(ls, s, 1, 300);
	expect_absent(ls, 7);
	append_wait_seq(ls, 7, 40);
	append_wait_seq(ls, 8, 40);
	faii_ls_close(ls);

	ls = open_ok(&o);
	st = get_stats(ls);
	cr_assert_eq(st.durable_seq, 8);
	cr_assert_eq(st.truncated_bytes, 0, "the torn tail came back");
	expect_record(ls, 7, 1, 40);
	expect_record(ls, 8, 1, 40);
	faii_ls_close(ls);
	struct layout l;
	parse_store(g_store, &l);
	cr_assert_eq(l.last_seq, 8);
	free_layout(&l);
}

Test(faults, eio_fails_the_batch_and_sticks)
{
	failing_batch(false);
	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.last_seq, 6);
	cr_assert_eq(rep.torn_tail_bytes, 0, "nothing of the failed batch was written");
	reopen_after_failure(0);
}

Test(faults, torn_last_write_by_short_write)
{
	failing_batch(true);
	const uint32_t written = g_fault.failed_len / 2;
	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "a torn tail is intact: %s", err);
	cr_assert_eq(rep.last_seq, 6);
	cr_assert_eq(rep.records, 6);
	cr_assert_gt(rep.torn_tail_bytes, 0);
	cr_assert_leq(rep.torn_tail_bytes, ls_align(written, LS_ALIGN));
	/* The first half of the batch really is on disk. */
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, 0);
	struct ls_record_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &h, sizeof(h), (off_t)g_fault.failed_offset), (ssize_t)sizeof(h));
	close(fd);
	cr_assert_eq(h.seq, 7, "record 7 not on disk at the failed offset");
	reopen_after_failure(rep.torn_tail_bytes);
	/* Verify agrees once the tail is gone. */
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.torn_tail_bytes, 0);
	cr_assert_eq(rep.last_seq, 8);
}

/* Records 1..4 in batches of one, 5 alone, 6..8 as the last batch; closed. */
static void last_batch_of_three(struct layout *l)
{
	acks_init(&g_acks);
	fault_init(&g_fault);
	struct faii_ls_options o = fault_opts(g_store, &g_fault);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 4; s++)
		append_wait_seq(ls, s, 120);
	append_as_batch(ls, &g_fault, 5, 3, 120, false, false, 0);
	cr_assert_eq(faii_ls_wait_durable(ls, 8, 10000), 0);
	acks_wait(&g_acks, 4);
	faii_ls_close(ls);
	parse_store(g_store, l);
	cr_assert_eq(l->commits, 6);
	cr_assert_eq(find_commit_of(l, 6)->h.seq, 8, "records 6..8 are not one batch");
}

/* The mark a process leaves that opened dir when its log was empty. */
static void mark_open_since_genesis(const char *dir)
{
	struct ls_mark open = {.kind = LS_MARK_OPEN, .seq = 0};
	cr_assert_eq(ls_mark_write(faii_store_io_system(), dir, &open), 0);
}

/* Zeros the close record at the end of an intact store (a clean close wrote it). */
static void zero_close_record(const char *dir)
{
	struct layout l;
	parse_store(dir, &l);
	cr_assert_gt(l.closes, 0, "no close record in %s", dir);
	const struct rec_pos *c = &l.recs[l.last_close];
	char path[PATH_CAP];
	seg_path(path, sizeof(path), dir, c->seg);
	static const uint8_t zeros[LS_CLOSE_RECORD_MAX];
	patch_file(path, c->off, zeros, ls_align(c->h.length, LS_ALIGN));
	free_layout(&l);
}

/* As after a crash: the mark "open" and no close record, so the last batch
 * counts as never acknowledged and damage to it is a torn tail. */
static void forget_clean_close(void)
{
	zero_close_record(g_store);
	mark_open_since_genesis(g_store);
}

Test(faults, flipped_bit_in_the_tail_is_torn)
{
	struct layout l;
	last_batch_of_three(&l);
	const struct rec_pos *r = find_user(&l, 7);
	const uint64_t first_off = find_user(&l, 6)->off;
	char path[PATH_CAP];
	forget_clean_close();
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 50, 0x08);

	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.last_seq, 5);
	cr_assert_gt(rep.torn_tail_bytes, 0);

	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.durable_seq, 5, "the damaged last batch must be dropped whole");
	cr_assert_eq(st.truncated_bytes, rep.torn_tail_bytes);
	cr_assert_eq(st.truncated_bytes, 3 * (24 + 120) + COMMIT_SZ);
	for (uint64_t s = 1; s <= 5; s++)
		expect_record(ls, s, 1, 120);
	for (uint64_t s = 6; s <= 8; s++)
		expect_absent(ls, s);
	append_wait_seq(ls, 6, 33);
	faii_ls_close(ls);
	/* The new record took the torn batch's place. */
	free_layout(&l);
	parse_store(g_store, &l);
	cr_assert_eq(l.last_seq, 6);
	cr_assert_eq(find_user(&l, 6)->off, first_off);
	free_layout(&l);
}

Test(faults, flipped_bit_in_the_last_commit_is_torn)
{
	struct layout l;
	last_batch_of_three(&l);
	const struct rec_pos *c = find_commit_of(&l, 8);
	char path[PATH_CAP];
	forget_clean_close();
	seg_path(path, sizeof(path), g_store, c->seg);
	xor_byte(path, c->off + 30, 0x01);
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), 5);
	cr_assert_gt(get_stats(ls).truncated_bytes, 0);
	faii_ls_close(ls);
	free_layout(&l);
}

/* After a clean close the last batch was acknowledged: damage to it is
 * refused, never dropped as a torn tail. */
Test(faults, flipped_bit_in_the_last_batch_after_a_clean_close_is_refused)
{
	struct layout l;
	last_batch_of_three(&l);
	const struct rec_pos *r = find_user(&l, 7);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 50, 0x08);
	struct faii_ls_options o = store_opts(g_store);
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(open_refused(&o, err), -EBADMSG, "%s", err);
	cr_assert(strstr(err, "closed cleanly at seq 8") != NULL, "message: %s", err);
	free_layout(&l);
}

/* A close record among the bytes that do not verify was written after their
 * batch was acknowledged: refused whatever the mark says ("open" here). */
Test(faults, close_record_after_a_damaged_batch_is_refused_under_an_open_mark)
{
	struct layout l;
	last_batch_of_three(&l);
	const struct rec_pos *r = find_user(&l, 7);
	const struct rec_pos *c = &l.recs[l.last_close];
	char path[PATH_CAP];
	mark_open_since_genesis(g_store);
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 50, 0x08);
	struct faii_ls_options o = store_opts(g_store);
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(open_refused(&o, err), -EBADMSG, "%s", err);
	expect_err_at(err, path, c->off);
	cr_assert(strstr(err, "a close record says the store was closed cleanly at seq 8") != NULL,
	          "message: %s", err);
	free_layout(&l);
}

/* An earlier version's clean-close mark (FAIICLN1 in DIR/LOCK, no STATE) is
 * honoured, and replaced by STATE at open. */
Test(faults, earlier_versions_clean_close_mark_is_honoured)
{
	struct layout l;
	last_batch_of_three(&l);
	char state[PATH_CAP], lock[PATH_CAP];
	snprintf(state, sizeof(state), "%s/STATE", g_store);
	snprintf(lock, sizeof(lock), "%s/LOCK", g_store);
	cr_assert_eq(unlink(state), 0);
	struct ls_clean_close v1 = {.magic = LS_CLEAN_MAGIC, .seq = 8};
	v1.crc = crc32c(&v1, offsetof(struct ls_clean_close, crc));
	patch_file(lock, 0, &v1, sizeof(v1));
	/* Damage to the final batch: refused, as that version refused it. */
	const struct rec_pos *r = find_user(&l, 7);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 50, 0x08);
	struct faii_ls_options o = store_opts(g_store);
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(open_refused(&o, err), -EBADMSG, "%s", err);
	cr_assert(strstr(err, "closed cleanly at seq 8") != NULL, "message: %s", err);
	/* Undamaged, it opens; the old mark goes and STATE takes over. */
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 50, 0x08);
	struct faii_ls *ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), 8);
	faii_ls_close(ls);
	size_t size;
	free(slurp(lock, &size));
	cr_assert_eq(size, 0, "the earlier version's mark is still in LOCK");
	cr_assert(file_exists(state));
	free_layout(&l);
}

/* A zeroed block inside history with later batches after it: corruption,
 * not the end of the data. */
Test(faults, zeroed_block_before_the_tail_is_refused)
{
	struct layout l;
	last_batch_of_three(&l);
	const struct rec_pos *r = find_user(&l, 3);
	char path[PATH_CAP];
	forget_clean_close();
	seg_path(path, sizeof(path), g_store, r->seg);
	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	static const uint8_t zeros[4096];
	cr_assert_eq(pwrite(fd, zeros, 24, (off_t)r->off), 24);
	close(fd);
	struct faii_ls_options o = store_opts(g_store);
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(open_refused(&o, err), -EBADMSG, "%s", err);
	cr_assert(strstr(err, "zeroed bytes inside committed history") != NULL, "message: %s", err);
	free_layout(&l);
}

Test(faults, flipped_bit_before_the_tail_is_refused)
{
	struct layout l;
	last_batch_of_three(&l);
	/* Record 5 is alone in the batch before the last. */
	const struct rec_pos *r = find_user(&l, 5);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, r->seg);
	xor_byte(path, r->off + sizeof(struct ls_record_header) + 3, 0x20);
	expect_refused_at(path, r->off);
	free_layout(&l);
}

/* Several segments with single-record batches of ~600 KiB. */
static uint64_t three_segments(const struct faii_ls_options *o)
{
	struct faii_ls *ls = open_ok(o);
	uint64_t s = 0;
	while (get_stats(ls).segments < 3)
		append_wait_seq(ls, ++s, 600000);
	append_wait_seq(ls, ++s, 600000);
	append_wait_seq(ls, ++s, 600000);
	cr_assert_eq(get_stats(ls).segments, 3);
	faii_ls_close(ls);
	return s;
}

Test(faults, flipped_bit_in_an_earlier_segment_is_refused)
{
	struct faii_ls_options o = store_opts(g_store);
	three_segments(&o);
	struct layout l;
	parse_store(g_store, &l);
	cr_assert_eq(l.segments, 3);
	/* The last record of segment 0: the last batch there, not the tail. */
	const struct rec_pos *r = NULL;
	for (size_t i = 0; i < l.n; i++) {
		if (l.recs[i].seg == 0 && l.recs[i].h.type <= FAII_LS_TYPE_USER_MAX)
			r = &l.recs[i];
	}
	cr_assert_not_null(r);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, 0);
	xor_byte(path, r->off + 1000, 0x02);
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(open_refused(&o, err), -EBADMSG, "%s", err);
	expect_err_at(err, path, r->off);
	free_layout(&l);
}

Test(faults, corrupt_segment_header_is_refused)
{
	struct faii_ls_options o = store_opts(g_store);
	three_segments(&o);
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(path, sizeof(path), g_store, 1);
	xor_byte(path, offsetof(struct ls_segment_header, prev_chain) + 3, 0x01);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	expect_err_at(err, path, 0);
}

Test(faults, missing_middle_segment_is_refused)
{
	struct faii_ls_options o = store_opts(g_store);
	three_segments(&o);
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(path, sizeof(path), g_store, 1);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	cr_assert_not_null(strstr(err, path), "message does not name %s: %s", path, err);
	cr_assert_not_null(strstr(err, "missing"), "%s", err);
	struct faii_ls_verify_report rep;
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), -EBADMSG);
}

Test(faults, missing_segment_zero_is_refused)
{
	struct faii_ls_options o = store_opts(g_store);
	three_segments(&o);
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(path, sizeof(path), g_store, 0);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	cr_assert_not_null(strstr(err, path), "message does not name %s: %s", path, err);
	cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

/* With a checkpoint in a later segment, segment 0 may go (it is covered). */
Test(faults, segment_zero_covered_by_checkpoint)
{
	struct faii_ls_options o = store_opts(g_store);
	uint64_t n = three_segments(&o);
	struct faii_ls *ls = open_ok(&o);
	cr_assert_eq(faii_ls_checkpoint(ls, n, "all", 3), 0);
	faii_ls_close(ls);
	char path[PATH_CAP];
	seg_path(path, sizeof(path), g_store, 0);
	cr_assert_eq(unlink(path), 0);
	ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), n);
	/* Records still in segments 1 and 2 stay readable; those of 0 are gone. */
	uint64_t first_kept = 0;
	for (uint64_t s = 1; s <= n; s++) {
		struct faii_ls_record rec;
		if (faii_ls_read(ls, s, &rec, NULL, 0) == 0 && first_kept == 0)
			first_kept = s;
	}
	cr_assert_gt(first_kept, 1, "a record of the removed segment 0 was read");
	for (uint64_t s = first_kept; s <= n; s++)
		expect_record(ls, s, 1, 600000);
	append_wait_seq(ls, n + 1, 10);
	faii_ls_close(ls);
	char seg1[PATH_CAP];
	seg_path(seg1, sizeof(seg1), g_store, 1);
	struct ls_segment_header h;
	int fd = open(seg1, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	cr_assert_eq(first_kept, h.first_seq,
	             "first readable %" PRIu64 ", segment 1 starts at %" PRIu64, first_kept,
	             h.first_seq);
}

Test(faults, checkpoint_newer_than_log_deleted_segment)
{
	struct faii_ls_options o = store_opts(g_store);
	uint64_t n = three_segments(&o);
	struct faii_ls *ls = open_ok(&o);
	cr_assert_eq(faii_ls_checkpoint(ls, n, "head", 4), 0);
	faii_ls_close(ls);
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(path, sizeof(path), g_store, 2);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	cr_assert_not_null(strstr(err, "newer than the log"), "%s", err);
	struct faii_ls_verify_report rep;
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), -EBADMSG);
	cr_assert_not_null(strstr(err, "newer than the log"), "%s", err);
}

Test(faults, checkpoint_newer_than_log_older_copy)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= 20; s++)
		append_wait_seq(ls, s, 100);
	faii_ls_close(ls);
	char seg[PATH_CAP], old[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(seg, sizeof(seg), g_store, 0);
	snprintf(old, sizeof(old), "%s/old-segment-0", g_root);
	copy_file(seg, old);

	ls = open_ok(&o);
	for (uint64_t s = 21; s <= 40; s++)
		append_wait_seq(ls, s, 100);
	cr_assert_eq(faii_ls_checkpoint(ls, 40, "at40", 4), 0);
	faii_ls_close(ls);

	/* The log goes back to its state at 20; the checkpoint stays. */
	copy_file(old, seg);
	cr_assert_eq(open_refused(&o, err), -EBADMSG);
	cr_assert_not_null(strstr(err, "newer than the log"), "%s", err);
	cr_assert_not_null(strstr(err, seg), "message does not name %s: %s", seg, err);
}

/* ENOSPC for real: a 10 MiB tmpfs holds two 4 MiB segments, not three. */
Test(faults, enospc_on_a_small_tmpfs)
{
	snprintf(g_mnt, sizeof(g_mnt), "%s/mnt", g_root);
	cr_assert_eq(mkdir(g_mnt, 0750), 0);
	if (mount("tmpfs", g_mnt, "tmpfs", 0, "size=10m") != 0)
		cr_skip_test("cannot mount a tmpfs (%s): needs root or CAP_SYS_ADMIN",
		             strerror(errno));
	g_mounted = true;
	char dir[DIR_CAP + 16];
	snprintf(dir, sizeof(dir), "%s/store", g_mnt);
	acks_init(&g_acks);
	struct faii_ls_options o = store_opts(dir);
	struct faii_ls *ls = open_ok(&o);
	const uint32_t len = 60000;
	uint8_t *p = malloc(len);
	int64_t rc = 0;
	uint64_t appended = 0;
	for (uint64_t s = 1; s < 1000; s++) {
		fill(p, len, s);
		rc = faii_ls_append(ls, 1, NULL, p, len, ack_cb, &g_acks);
		if (rc < 0)
			break;
		cr_assert_eq(rc, (int64_t)s);
		appended = s;
	}
	free(p);
	cr_assert_eq(rc, -ENOSPC, "appends ended with %" PRId64 ", expected -ENOSPC", rc);
	acks_wait(&g_acks, (unsigned)appended);
	cr_assert_not(g_acks.out_of_order);
	uint64_t acked = 0;
	for (uint64_t s = 1; s <= appended; s++) {
		if (g_acks.status[s] == 0) {
			cr_assert_eq(acked, s - 1,
			             "record %" PRIu64 " acknowledged after a failure", s);
			acked = s;
		} else {
			cr_assert_eq(g_acks.status[s], -ENOSPC, "record %" PRIu64 ": status %d", s,
			             g_acks.status[s]);
		}
	}
	cr_assert_gt(acked, 0);
	cr_assert_lt(acked, appended, "no append failed");
	struct faii_ls_stats st = get_stats(ls);
	cr_assert_eq(st.error, -ENOSPC);
	cr_assert_eq(st.durable_seq, acked);
	cr_assert_eq(st.segments, 2);
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, "x", 1), -ENOSPC);
	faii_ls_close(ls);
	cr_assert_eq(count_files(dir, "segment-", ".tmp"), 0, "a temporary segment was left");

	ls = open_ok(&o);
	cr_assert_eq(faii_ls_durable_seq(ls), acked,
	             "durable %" PRIu64 " after reopen, acked %" PRIu64, faii_ls_durable_seq(ls),
	             acked);
	for (uint64_t s = 1; s <= acked; s++)
		expect_record(ls, s, 1, len);
	expect_absent(ls, acked + 1);
	faii_ls_close(ls);
}

/* ============================================================================ */
/* 7. Concurrency                                                                */
/* ============================================================================ */

#define CT_THREADS 8u
#define CT_PER     20000u
#define CT_TOTAL   (CT_THREADS * CT_PER)

struct ct_payload {
	uint32_t tid, ctr;
	uint64_t check;
};

static struct {
	struct faii_ls *ls;
	uint64_t seqs[CT_THREADS][CT_PER];
	uint64_t cb_tag[CT_TOTAL + 1]; /* tag + 1 by seq; 0: no callback */
	uint64_t rd_tag[CT_TOTAL + 1];
	uint64_t cb_last;
	_Atomic uint64_t cb_calls;
	_Atomic unsigned cb_bad_order, cb_bad_status, cb_dup, cb_bad_seq;
	_Atomic int append_err;
	int reader_err;
	char reader_msg[256];
} ct;

static uint64_t ct_check(uint32_t tid, uint32_t ctr)
{
	return ((uint64_t)tid << 32 | ctr) * 0xD6E8FEB86659FD93ull ^ 0x5851F42D4C957F2Dull;
}

static uint64_t ct_tag(uint32_t tid, uint32_t ctr)
{
	return ((uint64_t)tid << 32 | ctr) + 1;
}

static void ct_cb(void *arg, uint64_t seq, int status)
{
	uint64_t tag = (uint64_t)(uintptr_t)arg;
	if (seq != ct.cb_last + 1)
		ct.cb_bad_order++;
	ct.cb_last = seq;
	if (status != 0)
		ct.cb_bad_status++;
	if (seq == 0 || seq > CT_TOTAL) {
		ct.cb_bad_seq++;
	} else {
		if (ct.cb_tag[seq] != 0)
			ct.cb_dup++;
		ct.cb_tag[seq] = tag;
	}
	ct.cb_calls++;
}

static void *ct_appender(void *arg)
{
	uint32_t tid = (uint32_t)(uintptr_t)arg;
	for (uint32_t ctr = 0; ctr < CT_PER; ctr++) {
		struct ct_payload p = {tid, ctr, ct_check(tid, ctr)};
		int64_t seq = faii_ls_append(ct.ls, (uint16_t)(tid + 1), NULL, &p, sizeof(p), ct_cb,
		                             (void *)(uintptr_t)ct_tag(tid, ctr));
		if (seq <= 0) {
			ct.append_err = seq < 0 ? (int)seq : -1;
			return NULL;
		}
		ct.seqs[tid][ctr] = (uint64_t)seq;
	}
	return NULL;
}

static void *ct_reader(void *arg)
{
	(void)arg;
	uint32_t next_ctr[CT_THREADS] = {0};
	for (uint64_t seq = 1; seq <= CT_TOTAL; seq++) {
		int rc = faii_ls_wait_durable(ct.ls, seq, 30000);
		if (rc != 0) {
			ct.reader_err = rc;
			snprintf(ct.reader_msg, sizeof(ct.reader_msg),
			         "wait_durable(%" PRIu64 "): %d", seq, rc);
			return NULL;
		}
		struct faii_ls_record rec;
		struct ct_payload p;
		rc = faii_ls_read(ct.ls, seq, &rec, &p, sizeof(p));
		const char *bad = rc != 0                             ? "read failed"
		                  : rec.seq != seq                    ? "wrong seq"
		                  : rec.payload_len != sizeof(p)      ? "wrong length"
		                  : p.tid >= CT_THREADS               ? "bad thread id"
		                  : rec.type != p.tid + 1             ? "wrong type"
		                  : p.check != ct_check(p.tid, p.ctr) ? "bad payload"
		                  : p.ctr != next_ctr[p.tid]          ? "per-thread order"
		                  : rec.keys.present != 0             ? "keys"
		                                                      : NULL;
		if (bad) {
			ct.reader_err = rc ? rc : -EBADMSG;
			snprintf(ct.reader_msg, sizeof(ct.reader_msg),
			         "seq %" PRIu64 ": %s (rc %d, tid %u, ctr %u)", seq, bad, rc, p.tid,
			         p.ctr);
			return NULL;
		}
		next_ctr[p.tid]++;
		ct.rd_tag[seq] = ct_tag(p.tid, p.ctr);
	}
	return NULL;
}

Test(concurrency, appenders_and_a_tail_follower)
{
	struct faii_ls_options o = store_opts(g_store);
	ct.ls = open_ok(&o);
	pthread_t app[CT_THREADS], rd;
	cr_assert_eq(pthread_create(&rd, NULL, ct_reader, NULL), 0);
	for (uint32_t t = 0; t < CT_THREADS; t++)
		cr_assert_eq(pthread_create(&app[t], NULL, ct_appender, (void *)(uintptr_t)t), 0);
	for (uint32_t t = 0; t < CT_THREADS; t++)
		pthread_join(app[t], NULL);
	pthread_join(rd, NULL);
	struct faii_ls_stats st = get_stats(ct.ls);
	faii_ls_close(ct.ls); /* joins the writer: every callback has run */

	cr_assert_eq(ct.append_err, 0, "an append failed: %d", ct.append_err);
	cr_assert_eq(ct.reader_err, 0, "follower: %s", ct.reader_msg);
	cr_assert_eq(st.durable_seq, CT_TOTAL);
	cr_assert_eq(ct.cb_calls, CT_TOTAL, "%" PRIu64 " callbacks", (uint64_t)ct.cb_calls);
	cr_assert_eq(ct.cb_bad_order, 0, "callbacks out of order");
	cr_assert_eq(ct.cb_bad_status, 0);
	cr_assert_eq(ct.cb_dup, 0);
	cr_assert_eq(ct.cb_bad_seq, 0);
	static bool seen[CT_TOTAL + 1];
	for (uint32_t t = 0; t < CT_THREADS; t++) {
		for (uint32_t c = 0; c < CT_PER; c++) {
			uint64_t s = ct.seqs[t][c];
			cr_assert(s >= 1 && s <= CT_TOTAL, "thread %u #%u: seq %" PRIu64, t, c, s);
			cr_assert_not(seen[s], "seq %" PRIu64 " handed out twice", s);
			seen[s] = true;
			if (c > 0)
				cr_assert_gt(s, ct.seqs[t][c - 1], "thread %u: order lost at #%u",
				             t, c);
			cr_assert_eq(ct.cb_tag[s], ct_tag(t, c), "seq %" PRIu64 ": callback arg",
			             s);
			cr_assert_eq(ct.rd_tag[s], ct_tag(t, c), "seq %" PRIu64 ": record read", s);
		}
	}
	/* CT_TOTAL distinct values in 1..CT_TOTAL: dense. */

	struct faii_ls *ls = open_ok(&o);
	st = get_stats(ls);
	cr_assert_eq(st.durable_seq, CT_TOTAL);
	cr_assert_eq(st.recovered_records, CT_TOTAL);
	struct faii_ls_record rec;
	struct ct_payload p;
	for (uint64_t s = 1; s <= CT_TOTAL; s += 997) {
		cr_assert_eq(faii_ls_read(ls, s, &rec, &p, sizeof(p)), 0);
		cr_assert_eq(ct_tag(p.tid, p.ctr), ct.rd_tag[s]);
	}
	faii_ls_close(ls);
}

/*
 * Readers on several threads, each opening the store's segment descriptors
 * for the first time at once: reads must neither fail nor leak descriptors.
 */
#define PR_READERS 4u
#define PR_RECORDS 60u
#define PR_LEN     200000u
#define PR_ROUNDS  60u

static struct {
	struct faii_ls *ls;
	pthread_barrier_t start;
	_Atomic unsigned errors;
	_Atomic int first_rc;
} pr;

static void *pr_reader(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	uint8_t buf[64], want[64];
	pthread_barrier_wait(&pr.start);
	for (uint64_t i = 0; i < PR_RECORDS; i++) {
		uint64_t s = (i + id * 7) % PR_RECORDS + 1;
		struct faii_ls_record rec;
		int rc = faii_ls_read(pr.ls, s, &rec, buf, sizeof(buf));
		fill(want, sizeof(want), s);
		if (rc != 0 || rec.seq != s || rec.payload_len != PR_LEN ||
		    memcmp(buf, want, sizeof(buf)) != 0) {
			if (pr.errors++ == 0)
				pr.first_rc = rc;
		}
	}
	return NULL;
}

static unsigned open_fds(void)
{
	return count_files("/proc/self/fd", "", "");
}

Test(concurrency, parallel_readers)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	for (uint64_t s = 1; s <= PR_RECORDS; s++)
		append_seq(ls, s, 1, NULL, PR_LEN, NULL, NULL);
	cr_assert_eq(faii_ls_wait_durable(ls, PR_RECORDS, 20000), 0);
	cr_assert_geq(get_stats(ls).segments, 3);
	faii_ls_close(ls);
	unsigned fds = open_fds();
	for (unsigned round = 0; round < PR_ROUNDS; round++) {
		pr.ls = open_ok(&o);
		cr_assert_eq(pthread_barrier_init(&pr.start, NULL, PR_READERS), 0);
		pthread_t t[PR_READERS];
		for (uintptr_t i = 0; i < PR_READERS; i++)
			cr_assert_eq(pthread_create(&t[i], NULL, pr_reader, (void *)i), 0);
		for (unsigned i = 0; i < PR_READERS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&pr.start);
		faii_ls_close(pr.ls);
	}
	cr_assert_eq(pr.errors, 0, "%u failed reads (the first: %d)", (unsigned)pr.errors,
	             (int)pr.first_rc);
	cr_assert_eq(open_fds(), fds, "descriptors leaked: %u open, %u before", open_fds(), fds);
}

/* ---- one process per store, and crash leftovers ----------------------------- */

Test(integrity, second_open_is_refused_while_the_first_runs)
{
	struct faii_ls_options o = store_opts(g_store);
	struct faii_ls *ls = open_ok(&o);
	char err[FAII_LS_ERR_LEN];
	int rc = open_refused(&o, err);
	cr_assert_eq(rc, -EBUSY, "second open: %d (%s)", rc, err);
	cr_assert(strstr(err, "in use by another process") != NULL, "message: %s", err);
	faii_ls_close(ls);
	/* Once the first has closed, the store opens again. */
	faii_ls_close(open_ok(&o));
}

Test(integrity, crash_temporaries_are_removed_at_open)
{
	struct faii_ls_options o = store_opts(g_store);
	faii_ls_close(open_ok(&o));
	static const char *const leftovers[] = {"segment-0000000000000001.log.tmp",
	                                        "checkpoint-0000000000000007.ckpt.tmp"};
	char path[DIR_CAP + 64];
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", g_store, leftovers[i]);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fputs("half-written", f);
		fclose(f);
	}
	/* verify only looks; open repairs. */
	struct faii_ls_verify_report r;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &r, err), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/%s", g_store, leftovers[0]);
	cr_assert_eq(access(path, F_OK), 0, "verify must not remove files");
	faii_ls_close(open_ok(&o));
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", g_store, leftovers[i]);
		cr_assert_neq(access(path, F_OK), 0, "%s survived the open", leftovers[i]);
	}
}
