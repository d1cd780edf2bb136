/* SPDX-License-Identifier: BSD-3-Clause */
/* The durability mark and the judgement of a log's end: see mark.h. */
#include "mark.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"
#include "format.h"
#include "scan.h"

#define PATH_BYTES (FAII_LS_ERR_LEN / 2 + 16)
/* The operator's way on: in every refusal about the log's end. */
#define REMEDY                                                                                     \
	"; refusing to open (faii-ledger verify DIR shows it; faii-ledger repair "                 \
	"--truncate-torn-tail DIR accepts the log as it is)"

int ls_write_atomically(const struct faii_store_io *io, const char *dir, const char *path,
                        const void *buf, size_t size)
{
	char tmp[PATH_BYTES + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unsigned create = FAII_STORE_IO_READ_WRITE | FAII_STORE_IO_CREATE | FAII_STORE_IO_TRUNCATE;
	int fd = FAII_STORE_IO_CALL(io, open, tmp, create);
	int rc = fd < 0 ? fd : 0;
	/* Each call moves at most about 2 GiB: loop for large files; a call
	 * that moves nothing is an error, so the loop ends. */
	for (size_t done = 0; rc == 0 && done < size;) {
		int64_t n = FAII_STORE_IO_CALL(io, pwrite, fd, (const uint8_t *)buf + done,
		                               size - done, done);
		if (n <= 0)
			rc = n < 0 ? (int)n : -EIO;
		else
			done += (size_t)n;
	}
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, fsync, fd);
	if (fd >= 0)
		FAII_STORE_IO_CALL(io, close, fd);
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, rename, tmp, path);
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(io, fsync_dir, dir);
	if (rc != 0)
		(void)FAII_STORE_IO_CALL(io, unlink, tmp);
	return rc;
}

/* ---- reading and writing the mark ------------------------------------------ */

/* Up to cap bytes of a small file: the count, or a negative errno. */
static int64_t read_small(const struct faii_store_io *io, const char *path, void *buf, size_t cap)
{
	int fd = FAII_STORE_IO_CALL(io, open, path, FAII_STORE_IO_READ_ONLY);
	if (fd < 0)
		return fd;
	int64_t n = FAII_STORE_IO_CALL(io, pread, fd, buf, cap, 0);
	FAII_STORE_IO_CALL(io, close, fd);
	return n;
}

/* Without DIR/STATE: the clean-close mark an earlier version left in DIR/LOCK. */
static int read_v1_mark(const struct faii_store_io *io, const char *dir, struct ls_mark *mark)
{
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "%s/LOCK", dir);
	struct ls_clean_close v1;
	int64_t n = read_small(io, path, &v1, sizeof(v1));
	if (n == (int64_t)sizeof(v1) && memcmp(v1.magic, LS_CLEAN_MAGIC, 8) == 0 &&
	    v1.crc == ls_crc(&v1, offsetof(struct ls_clean_close, crc))) {
		mark->kind = LS_MARK_CLOSED_V1;
		mark->seq = v1.seq;
	}
	return 0;
}

int ls_mark_read(const struct faii_store_io *io, const char *dir, struct ls_mark *mark,
                 char err[FAII_LS_ERR_LEN])
{
	memset(mark, 0, sizeof(*mark));
	mark->kind = LS_MARK_MISSING;
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "%s/" LS_STATE_FILE, dir);
	uint8_t buf[sizeof(struct ls_state_mark) + 1]; /* one more: a longer file is corrupt */
	int64_t n = read_small(io, path, buf, sizeof(buf));
	if (n == -ENOENT)
		return read_v1_mark(io, dir, mark);
	if (n < 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot read: %s", path, strerror((int)-n));
		return -EIO;
	}
	struct ls_state_mark m;
	mark->kind = LS_MARK_CORRUPT;
	if (n != (int64_t)sizeof(m))
		return 0;
	memcpy(&m, buf, sizeof(m));
	if (memcmp(m.magic, LS_STATE_MAGIC, 8) != 0 || m.version != LS_FORMAT_VERSION ||
	    (m.state != LS_STATE_OPEN && m.state != LS_STATE_CLOSED) ||
	    m.crc != ls_crc(&m, offsetof(struct ls_state_mark, crc)))
		return 0;
	mark->kind = m.state == LS_STATE_OPEN ? LS_MARK_OPEN : LS_MARK_CLOSED;
	mark->seq = m.seq;
	memcpy(mark->chain, m.chain, sizeof(mark->chain));
	mark->close_segment = m.close_segment;
	mark->close_offset = m.close_offset;
	return 0;
}

int ls_mark_write(const struct faii_store_io *io, const char *dir, const struct ls_mark *mark)
{
	FAII_ASSERT(mark->kind == LS_MARK_OPEN || mark->kind == LS_MARK_CLOSED);
	struct ls_state_mark m;
	memset(&m, 0, sizeof(m));
	memcpy(m.magic, LS_STATE_MAGIC, 8);
	m.version = LS_FORMAT_VERSION;
	m.state = mark->kind == LS_MARK_OPEN ? LS_STATE_OPEN : LS_STATE_CLOSED;
	m.seq = mark->seq;
	memcpy(m.chain, mark->chain, sizeof(m.chain));
	m.close_segment = mark->close_segment;
	m.close_offset = mark->close_offset;
	m.crc = ls_crc(&m, offsetof(struct ls_state_mark, crc));
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "%s/" LS_STATE_FILE, dir);
	return ls_write_atomically(io, dir, path, &m, sizeof(m));
}

void ls_mark_describe(const struct ls_mark *mark, char *out, size_t cap)
{
	switch (mark->kind) {
	case LS_MARK_MISSING: snprintf(out, cap, "missing"); break;
	case LS_MARK_CORRUPT: snprintf(out, cap, "corrupt"); break;
	case LS_MARK_OPEN:
		snprintf(out, cap, "open since seq %" PRIu64 " (in use, or the process died)",
		         mark->seq);
		break;
	case LS_MARK_CLOSED:
		snprintf(out, cap,
		         "closed cleanly at seq %" PRIu64 " (close record: segment %" PRIu64
		         " offset %" PRIu64 ")",
		         mark->seq, mark->close_segment, mark->close_offset);
		break;
	case LS_MARK_CLOSED_V1:
		snprintf(out, cap, "closed cleanly at seq %" PRIu64 " (an earlier version's mark)",
		         mark->seq);
		break;
	}
}

/* ---- the judgement ----------------------------------------------------------- */

/* "<segment file>: offset N" where intact data ends (the directory if no segment). */
static void where_end(const char *dir, const struct ls_log_end *e, char *out, size_t cap)
{
	if (e->segments == 0) {
		snprintf(out, cap, "%s", dir);
		return;
	}
	char path[PATH_BYTES];
	ls_segment_path(path, sizeof(path), dir, e->tail_segment);
	snprintf(out, cap, "%s: offset %" PRIu64, path, e->tail_offset);
}

/* Without a mark nothing tells a crash from damage: refused unless nothing is at stake. */
static int judge_without_mark(const char *dir, const struct ls_mark *mark,
                              const struct ls_log_end *e, const char *where, char *err)
{
	if (e->last_seq == 0 && e->torn_bytes == 0)
		return 0; /* nothing was ever acknowledged (a new store) */
	char how[96];
	if (e->torn_bytes > 0)
		snprintf(how, sizeof(how), "then %" PRIu64 " bytes that do not verify",
		         e->torn_bytes);
	else
		snprintf(how, sizeof(how), "%s",
		         e->ends_with_close ? "with a close record" : "without a close record");
	snprintf(err, FAII_LS_ERR_LEN,
	         "%s/" LS_STATE_FILE " is %s, so a damaged acknowledged tail cannot be told from a "
	         "crash's torn tail; the log's intact records end at seq %" PRIu64
	         " (%s), %s" REMEDY,
	         dir, mark->kind == LS_MARK_MISSING ? "missing" : "corrupt", e->last_seq, where,
	         how);
	return -EBADMSG;
}

static bool chain_disagrees(const struct ls_mark *mark, const struct ls_log_end *e)
{
	return e->chain_at_mark_known &&
	       memcmp(e->chain_at_mark, mark->chain, FAII_LS_CHAIN_SIZE) != 0;
}

/* After a crash: a torn tail is truncated, but never below what was durable at open. */
static int judge_open(const char *dir, const struct ls_mark *mark, const struct ls_log_end *e,
                      const char *where, char *err)
{
	if (e->last_seq < mark->seq) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: the store was opened with seq %" PRIu64
		         " durable, but the intact log "
		         "ends at seq %" PRIu64 ": acknowledged records damaged or removed" REMEDY,
		         where, mark->seq, e->last_seq);
		return -EBADMSG;
	}
	if (chain_disagrees(mark, e)) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: the log's chain value at seq %" PRIu64
		         " is not the one recorded when "
		         "the store was opened: the log was replaced or rewritten" REMEDY,
		         dir, mark->seq);
		return -EBADMSG;
	}
	return 0;
}

/* After a clean close the log must end exactly as the mark says, with nothing after it. */
static int judge_closed(const char *dir, const struct ls_mark *mark, const struct ls_log_end *e,
                        const char *where, char *err)
{
	const uint64_t n = mark->seq;
	if (e->last_seq < n) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: the store was closed cleanly at seq %" PRIu64 " but only %" PRIu64
		         " records are intact: acknowledged records %s" REMEDY,
		         where, n, e->last_seq,
		         e->torn_bytes > 0 ? "damaged" : "missing (segments removed or zeroed?)");
	} else if (e->last_seq > n || chain_disagrees(mark, e)) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s/" LS_STATE_FILE " says the store was closed cleanly at seq %" PRIu64
		         " but the log %s: the mark does not belong to this log (restored or "
		         "copied?)" REMEDY,
		         dir, n,
		         e->last_seq > n ? "goes on past it" : "has another chain value there");
	} else if (e->torn_bytes > 0) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: %" PRIu64
		         " bytes of damaged data after the clean close at seq %" PRIu64 REMEDY,
		         where, e->torn_bytes, n);
	} else if (mark->kind == LS_MARK_CLOSED &&
	           (!e->ends_with_close || e->close_segment != mark->close_segment ||
	            e->close_offset != mark->close_offset)) {
		char path[PATH_BYTES];
		ls_segment_path(path, sizeof(path), dir, mark->close_segment);
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: offset %" PRIu64
		         ": the close record of the clean close at seq %" PRIu64
		         " is missing" REMEDY,
		         path, mark->close_offset, n);
	} else {
		return 0;
	}
	return -EBADMSG;
}

int ls_judge(const char *dir, const struct ls_mark *mark, const struct ls_log_end *e,
             char err[FAII_LS_ERR_LEN])
{
	FAII_ASSERT(e->tail_close_seq == 0 || e->torn_bytes > 0);
	char where[PATH_BYTES + 32];
	where_end(dir, e, where, sizeof(where));
	/* The log's own evidence, whatever the mark says: a close record among
	 * the bytes that do not verify was written after their batch had been
	 * acknowledged. */
	if (e->tail_close_seq > e->last_seq) {
		char path[PATH_BYTES];
		ls_segment_path(path, sizeof(path), dir, e->tail_segment);
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: offset %" PRIu64 ": a close record says the store was closed cleanly "
		         "at seq %" PRIu64 ", but the intact log ends at seq %" PRIu64
		         ": acknowledged records damaged" REMEDY,
		         path, e->tail_close_offset, e->tail_close_seq, e->last_seq);
		return -EBADMSG;
	}
	switch (mark->kind) {
	case LS_MARK_MISSING:
	case LS_MARK_CORRUPT: return judge_without_mark(dir, mark, e, where, err);
	case LS_MARK_OPEN: return judge_open(dir, mark, e, where, err);
	case LS_MARK_CLOSED:
	case LS_MARK_CLOSED_V1: return judge_closed(dir, mark, e, where, err);
	}
	FAII_ASSERT_MSG(false, "mark kind %d", (int)mark->kind);
	return -EBADMSG;
}
