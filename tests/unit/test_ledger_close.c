/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * After a clean close the final batch was acknowledged: faiid's open
 * (faii_ls_open) and faii-ledger verify (the library call and the tool's
 * exit status and message) must both refuse damage to it, naming the segment
 * file and offset, and never truncate it as a crash's torn tail: a flipped
 * final batch, a zeroed tail, a truncation inside a record, a deleted last
 * segment. Deleting or corrupting the store's durability mark must not turn
 * any of them into a silent truncation either. A crash's torn tail is still
 * truncated, and faii-ledger repair --truncate-torn-tail is the operator's
 * explicit way past a refusal.
 *
 * Only the public API and the segment layout are used, so that the file also
 * builds against a store without the judgement (and fails there).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faii/ledger_store.h"
#include "../../ledger/store/format.h"

#define SEG_SIZE     FAII_LS_SEGMENT_SIZE_MIN
#define DIR_CAP      160u
#define PATH_CAP     512u
#define OUT_CAP      8192u
#define RECORDS      6u      /* one batch each */
#define PAYLOAD      300u    /* bytes of each record of the one-segment store */
#define BIG_PAYLOAD  600000u /* bytes of each record of the three-segment store */
#define TYPE_COMMIT  0xFF01u
#define TYPE_PAD     0xFF02u
#define WALK_RECORDS 100000u /* records walked per segment, at most */

static char g_root[DIR_CAP];
static char g_store[DIR_CAP + 8];

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > DIR_CAP - 32)
		tmp = "/tmp";
	snprintf(g_root, sizeof(g_root), "%s/faii-lc-XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(g_root), "mkdtemp %s: %s", g_root, strerror(errno));
	snprintf(g_store, sizeof(g_store), "%s/store", g_root);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	if (g_root[0] != '\0')
		nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(closed, .init = setup, .fini = teardown);
TestSuite(mark, .init = setup, .fini = teardown);
TestSuite(crash, .init = setup, .fini = teardown);
TestSuite(repair, .init = setup, .fini = teardown);

/* ---- the store ------------------------------------------------------------- */

static struct faii_ls_options opts(void)
{
	return (struct faii_ls_options){
	        .dir = g_store, .segment_size_bytes = SEG_SIZE, .index_entries_max = 1u << 12};
}

static struct faii_ls *open_ok(void)
{
	struct faii_ls_options o = opts();
	struct faii_ls *ls = NULL;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(&o, &ls, err);
	cr_assert_eq(rc, 0, "faii_ls_open = %d: %s", rc, err);
	return ls;
}

static void fill(uint8_t *p, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 131u + i * 7u + 1u);
}

static void append(struct faii_ls *ls, uint64_t seq, uint32_t len)
{
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	fill(buf, len, seq);
	cr_assert_eq(faii_ls_append_wait(ls, 1, NULL, buf, len), (int64_t)seq);
	free(buf);
}

static void expect_record(struct faii_ls *ls, uint64_t seq, uint32_t len)
{
	uint8_t *buf = malloc(len), *want = malloc(len);
	cr_assert(buf && want);
	struct faii_ls_record rec;
	cr_assert_eq(faii_ls_read(ls, seq, &rec, buf, len), 0, "read seq %" PRIu64, seq);
	fill(want, len, seq);
	cr_assert_eq(rec.payload_len, len);
	cr_assert(memcmp(buf, want, len) == 0, "seq %" PRIu64 " differs", seq);
	free(buf);
	free(want);
}

/* Records 1..RECORDS of PAYLOAD bytes, each its own batch, then a clean close. */
static void closed_store(void)
{
	struct faii_ls *ls = open_ok();
	for (uint64_t s = 1; s <= RECORDS; s++)
		append(ls, s, PAYLOAD);
	faii_ls_close(ls);
}

/* Three segments of BIG_PAYLOAD records, closed cleanly; the last seq. */
static uint64_t closed_three_segments(void)
{
	struct faii_ls *ls = open_ok();
	uint64_t s = 0;
	struct faii_ls_stats st;
	do {
		append(ls, ++s, BIG_PAYLOAD);
		faii_ls_get_stats(ls, &st);
	} while (st.segments < 3);
	append(ls, ++s, BIG_PAYLOAD);
	faii_ls_close(ls);
	return s;
}

static void seg_path(char *out, uint64_t index)
{
	snprintf(out, PATH_CAP, "%s/segment-%016" PRIx64 ".log", g_store, index);
}

/* Where a segment's records lie: read here, independently of the store. */
struct walk {
	uint64_t last_user_off;  /* the last application record */
	uint64_t last_batch_off; /* the first record after the commit before it */
	uint64_t data_end;       /* after the last non-zero record */
};

static struct walk walk_segment(uint64_t index)
{
	char path[PATH_CAP];
	seg_path(path, index);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", path);
	struct walk w = {0, LS_SEGMENT_HEADER_SIZE, LS_SEGMENT_HEADER_SIZE};
	uint64_t off = LS_SEGMENT_HEADER_SIZE, batch = off;
	for (unsigned i = 0; i < WALK_RECORDS; i++) {
		struct ls_record_header h;
		if (pread(fd, &h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h) || h.length == 0)
			break;
		if (h.type >= 1 && h.type <= FAII_LS_TYPE_USER_MAX) {
			w.last_user_off = off;
			w.last_batch_off = batch;
		}
		off += ls_align(h.length, LS_ALIGN);
		if (h.type != TYPE_PAD && h.type > FAII_LS_TYPE_USER_MAX)
			batch = off; /* a commit, or a close record: the next batch starts here */
		w.data_end = off;
	}
	close(fd);
	cr_assert_gt(w.last_user_off, 0, "%s: no record", path);
	return w;
}

static void patch(const char *path, uint64_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", path);
	cr_assert_eq(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void xor_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", path);
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void zero_range(const char *path, uint64_t from, uint64_t to)
{
	cr_assert_leq(from, to);
	uint8_t *zeros = calloc(1, to - from + 1);
	cr_assert_not_null(zeros);
	patch(path, from, zeros, to - from);
	free(zeros);
}

/* A payload byte of the final acknowledged record flipped. */
static void flip_final_batch(char *path_out)
{
	struct walk w = walk_segment(0);
	seg_path(path_out, 0);
	xor_byte(path_out, w.last_user_off + sizeof(struct ls_record_header) + 100);
}

/* ---- the durability mark: whatever file holds it ------------------------------ */

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Deletes the mark: DIR/STATE, and a mark an earlier store kept in DIR/LOCK. */
static void delete_mark(void)
{
	char path[PATH_CAP];
	snprintf(path, sizeof(path), "%s/STATE", g_store);
	cr_assert(unlink(path) == 0 || errno == ENOENT);
	snprintf(path, sizeof(path), "%s/LOCK", g_store);
	cr_assert_eq(truncate(path, 0), 0);
}

/* Flips a byte inside the mark, wherever one is; there must be one. */
static void corrupt_mark(void)
{
	static const char *const names[] = {"STATE", "LOCK"};
	bool done = false;
	for (unsigned i = 0; i < 2; i++) {
		char path[PATH_CAP];
		snprintf(path, sizeof(path), "%s/%s", g_store, names[i]);
		if (file_size(path) > 16) {
			xor_byte(path, 16);
			done = true;
		}
	}
	cr_assert(done, "no mark to corrupt in %s", g_store);
}

static void copy_mark(const char *to_dir)
{
	static const char *const names[] = {"STATE", "LOCK"};
	for (unsigned i = 0; i < 2; i++) {
		char from[PATH_CAP], to[PATH_CAP + 16], cmd[3 * PATH_CAP];
		snprintf(from, sizeof(from), "%s/%s", g_store, names[i]);
		snprintf(to, sizeof(to), "%s/%s", to_dir, names[i]);
		if (file_size(from) < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
		cr_assert_eq(system(cmd), 0);
	}
}

/* ---- the tool ----------------------------------------------------------------- */

/* Runs faii-ledger with args; its exit status, stdout and stderr in out. */
static int run_tool(char out[OUT_CAP], const char *args)
{
	char cmd[PATH_CAP * 2];
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", FAII_LEDGER_TOOL, args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, OUT_CAP - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int tool_on_store(char out[OUT_CAP], const char *command)
{
	char args[PATH_CAP];
	snprintf(args, sizeof(args), "%s '%s'", command, g_store);
	return run_tool(out, args);
}

/*
 * faii_ls_verify, faii-ledger verify and faiid's open all refuse, with the same
 * message, naming path (a segment file, or the directory) and containing what.
 */
static void expect_refused(const char *path, const char *what)
{
	struct faii_ls_verify_report rep;
	char verr[FAII_LS_ERR_LEN], oerr[FAII_LS_ERR_LEN], out[OUT_CAP];
	int rc = faii_ls_verify(g_store, &rep, verr);
	cr_assert_eq(rc, -EBADMSG, "faii_ls_verify = %d (torn tail %" PRIu64 "): %s", rc,
	             rep.torn_tail_bytes, verr);
	cr_assert_not_null(strstr(verr, path), "verify does not name %s: %s", path, verr);
	cr_assert_not_null(strstr(verr, what), "verify does not say '%s': %s", what, verr);

	rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 1, "faii-ledger verify exit %d:\n%s", rc, out);
	cr_assert_not_null(strstr(out, "corrupt: "), "%s", out);
	cr_assert_not_null(strstr(out, verr), "the tool's message differs:\n%s", out);

	struct faii_ls_options o = opts();
	struct faii_ls *ls = NULL;
	rc = faii_ls_open(&o, &ls, oerr);
	if (rc == 0)
		faii_ls_close(ls);
	cr_assert_eq(rc, -EBADMSG, "faii_ls_open = %d: %s", rc, oerr);
	cr_assert_str_eq(oerr, verr, "open and verify disagree");
}

/* A message names a segment file with an offset in it. */
static void expect_segment_offset(uint64_t index)
{
	char path[PATH_CAP], err[FAII_LS_ERR_LEN];
	seg_path(path, index);
	struct faii_ls_verify_report rep;
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), -EBADMSG);
	char at[PATH_CAP + 16];
	snprintf(at, sizeof(at), "%s: offset ", path);
	cr_assert_not_null(strstr(err, at), "no '%s' in: %s", at, err);
}

/* ---- after a clean close: damage at the tail is corruption ------------------------ */

Test(closed, flipped_final_batch_is_refused)
{
	closed_store();
	char path[PATH_CAP];
	flip_final_batch(path);
	expect_refused(path, "closed cleanly at seq 6");
	expect_segment_offset(0);
}

Test(closed, zeroed_tail_is_refused)
{
	closed_store();
	struct walk w = walk_segment(0);
	char path[PATH_CAP];
	seg_path(path, 0);
	zero_range(path, w.last_batch_off, w.data_end);
	expect_refused(path, "closed cleanly at seq 6");
	expect_segment_offset(0);
}

Test(closed, zeroed_final_record_is_refused)
{
	closed_store();
	struct walk w = walk_segment(0);
	char path[PATH_CAP];
	seg_path(path, 0);
	zero_range(path, w.last_user_off, w.last_user_off + 64);
	expect_refused(path, "closed cleanly at seq 6");
}

Test(closed, truncated_mid_record_is_refused)
{
	closed_store();
	struct walk w = walk_segment(0);
	char path[PATH_CAP];
	seg_path(path, 0);
	cr_assert_eq(truncate(path, (off_t)(w.last_user_off + 100)), 0);
	expect_refused(path, "closed cleanly at seq 6");
	expect_segment_offset(0);
}

Test(closed, deleted_last_segment_is_refused)
{
	uint64_t last = closed_three_segments();
	char path[PATH_CAP], want[64];
	seg_path(path, 2);
	cr_assert_eq(unlink(path), 0);
	snprintf(want, sizeof(want), "closed cleanly at seq %" PRIu64, last);
	seg_path(path, 1);
	expect_refused(path, want);
	expect_segment_offset(1);
}

Test(closed, intact_store_opens_and_verifies)
{
	closed_store();
	char out[OUT_CAP];
	int rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "intact: "), "%s", out);
	cr_assert_not_null(strstr(out, "torn tail 0 bytes"), "%s", out);
	struct faii_ls *ls = open_ok();
	cr_assert_eq(faii_ls_durable_seq(ls), RECORDS);
	for (uint64_t s = 1; s <= RECORDS; s++)
		expect_record(ls, s, PAYLOAD);
	faii_ls_close(ls);
}

/* ---- the mark deleted or corrupted: refused, never a silent truncation -------------- */

/* The close record after the damaged batch is the log's own evidence. */
Test(mark, deleted_with_flipped_final_batch_is_refused)
{
	closed_store();
	char path[PATH_CAP];
	flip_final_batch(path);
	delete_mark();
	expect_refused(path, "a close record says the store was closed cleanly at seq 6");
}

Test(mark, deleted_with_truncated_tail_is_refused)
{
	closed_store();
	struct walk w = walk_segment(0);
	char path[PATH_CAP];
	seg_path(path, 0);
	cr_assert_eq(truncate(path, (off_t)(w.last_user_off + 40)), 0);
	delete_mark();
	expect_refused(path, "STATE is missing");
}

Test(mark, deleted_with_deleted_last_segment_is_refused)
{
	closed_three_segments();
	char path[PATH_CAP];
	seg_path(path, 2);
	cr_assert_eq(unlink(path), 0);
	delete_mark();
	seg_path(path, 1);
	expect_refused(path, "STATE is missing");
}

Test(mark, deleted_with_intact_log_is_refused)
{
	closed_store();
	delete_mark();
	expect_refused(g_store, "STATE is missing");
}

Test(mark, corrupted_with_flipped_final_batch_is_refused)
{
	closed_store();
	char path[PATH_CAP];
	flip_final_batch(path);
	corrupt_mark();
	expect_refused(path, "a close record says the store was closed cleanly at seq 6");
}

Test(mark, corrupted_with_intact_log_is_refused)
{
	closed_store();
	corrupt_mark();
	expect_refused(g_store, "STATE is corrupt");
}

/* A mark from an earlier state of the same store (restored, copied). */
Test(mark, stale_mark_is_refused)
{
	struct faii_ls *ls = open_ok();
	append(ls, 1, PAYLOAD);
	append(ls, 2, PAYLOAD);
	faii_ls_close(ls);
	char saved[PATH_CAP];
	snprintf(saved, sizeof(saved), "%s/saved", g_root);
	cr_assert_eq(mkdir(saved, 0750), 0);
	copy_mark(saved);
	ls = open_ok();
	for (uint64_t s = 3; s <= RECORDS; s++)
		append(ls, s, PAYLOAD);
	faii_ls_close(ls);
	char cmd[2 * PATH_CAP];
	snprintf(cmd, sizeof(cmd), "cp '%s'/* '%s'/", saved, g_store);
	cr_assert_eq(system(cmd), 0);
	expect_refused(g_store, "closed cleanly at seq 2");
}

/* A store that never held a record needs no mark. */
Test(mark, deleted_on_an_empty_store_opens)
{
	struct faii_ls *ls = open_ok();
	faii_ls_close(ls);
	delete_mark();
	ls = open_ok();
	append(ls, 1, PAYLOAD);
	faii_ls_close(ls);
}

/* ---- after a crash: a torn tail is still truncated ------------------------------- */

/* Records 1..RECORDS acknowledged by a process that then dies without closing. */
static void crashed_store(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct faii_ls_options o = opts();
		struct faii_ls *ls = NULL;
		char err[FAII_LS_ERR_LEN];
		if (faii_ls_open(&o, &ls, err) != 0)
			_exit(2);
		uint8_t buf[PAYLOAD];
		for (uint64_t s = 1; s <= RECORDS; s++) {
			fill(buf, sizeof(buf), s);
			if (faii_ls_append_wait(ls, 1, NULL, buf, sizeof(buf)) != (int64_t)s)
				_exit(3);
		}
		_exit(0); /* no faii_ls_close: as kill -9 */
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

Test(crash, flipped_last_batch_is_truncated)
{
	crashed_store();
	char path[PATH_CAP], out[OUT_CAP];
	flip_final_batch(path);
	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	cr_assert_eq(faii_ls_verify(g_store, &rep, err), 0, "%s", err);
	cr_assert_eq(rep.last_seq, RECORDS - 1);
	cr_assert_gt(rep.torn_tail_bytes, 0);
	int rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "removed at the next open"), "%s", out);
	struct faii_ls *ls = open_ok();
	struct faii_ls_stats st;
	faii_ls_get_stats(ls, &st);
	cr_assert_eq(st.durable_seq, RECORDS - 1);
	cr_assert_eq(st.truncated_bytes, rep.torn_tail_bytes);
	append(ls, RECORDS, 50);
	faii_ls_close(ls);
	rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 0, "%s", out);
}

/* ---- the operator's override ---------------------------------------------------------- */

Test(repair, truncates_a_refused_tail_and_says_what)
{
	closed_store();
	char path[PATH_CAP], out[OUT_CAP];
	flip_final_batch(path);
	int rc = tool_on_store(out, "repair --truncate-torn-tail");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "accepted: "), "%s", out);
	cr_assert_not_null(strstr(out, "closed cleanly at seq 6"), "%s", out);
	cr_assert_not_null(strstr(out, "the log ends at seq 5"), "%s", out);
	rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "torn tail 0 bytes"), "%s", out);
	struct faii_ls *ls = open_ok();
	cr_assert_eq(faii_ls_durable_seq(ls), RECORDS - 1);
	for (uint64_t s = 1; s < RECORDS; s++)
		expect_record(ls, s, PAYLOAD);
	append(ls, RECORDS, 50);
	faii_ls_close(ls);
}

Test(repair, writes_a_new_mark)
{
	closed_store();
	delete_mark();
	char out[OUT_CAP];
	int rc = tool_on_store(out, "repair --truncate-torn-tail");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "STATE is missing"), "%s", out);
	cr_assert_not_null(strstr(out, "truncated 0 bytes"), "%s", out);
	struct faii_ls *ls = open_ok();
	cr_assert_eq(faii_ls_durable_seq(ls), RECORDS);
	faii_ls_close(ls);
}

Test(repair, refuses_corruption_before_the_tail)
{
	closed_store();
	char path[PATH_CAP], out[OUT_CAP];
	seg_path(path, 0);
	/* The first record, with five acknowledged batches after it. */
	xor_byte(path, LS_SEGMENT_HEADER_SIZE + sizeof(struct ls_record_header) + 10);
	int rc = tool_on_store(out, "repair --truncate-torn-tail");
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert_not_null(strstr(out, "before the tail"), "%s", out);
	rc = tool_on_store(out, "verify");
	cr_assert_eq(rc, 1, "%s", out);
}

Test(repair, help_names_it)
{
	char out[OUT_CAP];
	int rc = run_tool(out, "--help");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "repair --truncate-torn-tail DIR"), "%s", out);
	cr_assert_not_null(strstr(out, "1 it would refuse"), "%s", out);
	rc = run_tool(out, "repair");
	cr_assert_eq(rc, 2, "%s", out);
}

/* ---- what a crash may truncate, and what it may not ------------------------------------ */

/* A process opens the closed store (durable: 1..RECORDS) and dies without closing. */
static void reopened_and_crashed(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct faii_ls_options o = opts();
		struct faii_ls *ls = NULL;
		char err[FAII_LS_ERR_LEN];
		_exit(faii_ls_open(&o, &ls, err) == 0 ? 0 : 2);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

/* Records durable when a crashed process opened the store are never truncated. */
Test(crash, never_below_what_was_durable_at_open)
{
	closed_store();
	reopened_and_crashed();
	struct walk w = walk_segment(0);
	char path[PATH_CAP];
	seg_path(path, 0);
	zero_range(path, w.last_batch_off, w.data_end);
	expect_refused(path, "opened with seq 6 durable");
}

/* ---- appends after a clean close -------------------------------------------------------- */

/* A checkpoint names the end of the last commit, not the close record after it. */
Test(closed, checkpoint_after_a_clean_reopen)
{
	closed_store();
	struct faii_ls *ls = open_ok();
	const char blob[] = "state";
	cr_assert_eq(faii_ls_checkpoint(ls, RECORDS, blob, sizeof(blob)), 0);
	faii_ls_close(ls);
	ls = open_ok();
	cr_assert_eq(faii_ls_durable_seq(ls), RECORDS);
	append(ls, RECORDS + 1, PAYLOAD);
	cr_assert_eq(faii_ls_checkpoint(ls, RECORDS + 1, blob, sizeof(blob)), 0);
	faii_ls_close(ls);
	ls = open_ok();
	for (uint64_t s = 1; s <= RECORDS + 1; s++)
		expect_record(ls, s, PAYLOAD);
	faii_ls_close(ls);
	char out[OUT_CAP];
	cr_assert_eq(tool_on_store(out, "verify"), 0, "%s", out);
}

/* Close records keep O_DIRECT appends aligned: no segment is rolled for them. */
Test(closed, o_direct_closes_keep_one_segment)
{
	struct faii_ls_options o = opts();
	o.o_direct = true;
	for (uint64_t s = 1; s <= RECORDS; s++) {
		struct faii_ls *ls = NULL;
		char err[FAII_LS_ERR_LEN];
		int rc = faii_ls_open(&o, &ls, err);
		if (rc == -EINVAL)
			cr_skip_test("O_DIRECT not supported here: %s", err);
		cr_assert_eq(rc, 0, "open: %s", err);
		append(ls, s, PAYLOAD);
		struct faii_ls_stats st;
		faii_ls_get_stats(ls, &st);
		cr_assert_eq(st.segments, 1, "a segment rolled after %" PRIu64 " closes", s - 1);
		faii_ls_close(ls);
	}
	char out[OUT_CAP];
	cr_assert_eq(tool_on_store(out, "verify"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "with a close record"), "%s", out);
}

/* A segment truncated by the damage gets its preallocated size back. */
Test(repair, truncated_segment_gets_its_size_back)
{
	closed_store();
	struct walk w = walk_segment(0);
	char path[PATH_CAP], out[OUT_CAP];
	seg_path(path, 0);
	cr_assert_eq(truncate(path, (off_t)(w.last_user_off + 100)), 0);
	int rc = tool_on_store(out, "repair --truncate-torn-tail");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(file_size(path), (off_t)SEG_SIZE);
	struct faii_ls *ls = open_ok();
	cr_assert_eq(faii_ls_durable_seq(ls), RECORDS - 1);
	append(ls, RECORDS, PAYLOAD);
	struct faii_ls_stats st;
	faii_ls_get_stats(ls, &st);
	cr_assert_eq(st.segments, 1, "the close record or the append rolled a segment");
	faii_ls_close(ls);
}
