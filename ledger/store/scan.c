/* SPDX-License-Identifier: BSD-3-Clause */
/* Recovery scan of a ledger store directory: see scan.h. */
#include "scan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <sodium.h>

#include "faii/assert.h"

#define SEGMENT_NAME_FMT    "segment-%016" PRIx64 ".log"
#define CHECKPOINT_NAME_FMT "checkpoint-%016" PRIx64 ".ckpt"
/* A directory listing with more checkpoints than this is refused as garbage. */
#define CHECKPOINTS_MAX 1024u
/* Crash leftovers (*.tmp) removed per listing; a crash leaves at most two
 * (a segment's and a checkpoint's), and any beyond go at the next open. */
#define TEMPORARIES_PER_LISTING_MAX 16u
#define TEMPORARY_NAME_BYTES_MAX    64u

uint32_t ls_crc(const void *data, size_t len)
{
	return crc32_iscsi((unsigned char *)data, (int)len, 0xFFFFFFFFu) ^ 0xFFFFFFFFu;
}

uint32_t ls_record_crc(const void *record, uint32_t length)
{
	const uint8_t *p = record;
	const size_t crc_off = offsetof(struct ls_record_header, crc);
	static const uint8_t zero[4];
	uint32_t c = crc32_iscsi((unsigned char *)p, (int)crc_off, 0xFFFFFFFFu);
	c = crc32_iscsi((unsigned char *)zero, 4, c);
	c = crc32_iscsi((unsigned char *)p + crc_off + 4, (int)(length - crc_off - 4), c);
	return c ^ 0xFFFFFFFFu;
}

uint32_t ls_record_crc_parts(const struct ls_record_header *h, const void *keys, uint32_t keys_len,
                             const void *payload, uint32_t payload_len)
{
	struct ls_record_header zeroed = *h;
	zeroed.crc = 0;
	uint32_t c = crc32_iscsi((unsigned char *)&zeroed, (int)sizeof(zeroed), 0xFFFFFFFFu);
	if (keys_len > 0)
		c = crc32_iscsi((unsigned char *)(uintptr_t)keys, (int)keys_len, c);
	if (payload_len > 0)
		c = crc32_iscsi((unsigned char *)(uintptr_t)payload, (int)payload_len, c);
	return c ^ 0xFFFFFFFFu;
}

uint32_t ls_keys_put(uint8_t *p, const struct faii_ls_keys *keys)
{
	uint8_t *start = p;
	if (keys->present & FAII_LS_KEY_ROUND) {
		memcpy(p, &keys->round, 8);
		p += 8;
	}
	if (keys->present & FAII_LS_KEY_EPOCH) {
		memcpy(p, &keys->epoch, 8);
		p += 8;
	}
	if (keys->present & FAII_LS_KEY_NODE) {
		uint64_t node = keys->node;
		memcpy(p, &node, 8);
		p += 8;
	}
	if (keys->present & FAII_LS_KEY_DIGEST) {
		memcpy(p, keys->digest, FAII_LS_DIGEST_SIZE);
		p += FAII_LS_DIGEST_SIZE;
	}
	return (uint32_t)(p - start);
}

void ls_keys_get(const uint8_t *p, unsigned flags, struct faii_ls_keys *keys)
{
	memset(keys, 0, sizeof(*keys));
	keys->present = flags & LS_KEYS_MASK;
	if (flags & FAII_LS_KEY_ROUND) {
		memcpy(&keys->round, p, 8);
		p += 8;
	}
	if (flags & FAII_LS_KEY_EPOCH) {
		memcpy(&keys->epoch, p, 8);
		p += 8;
	}
	if (flags & FAII_LS_KEY_NODE) {
		uint64_t node;
		memcpy(&node, p, 8);
		keys->node = (uint32_t)node;
		p += 8;
	}
	if (flags & FAII_LS_KEY_DIGEST)
		memcpy(keys->digest, p, FAII_LS_DIGEST_SIZE);
}

void ls_segment_path(char *out, size_t cap, const char *dir, uint64_t segment_index)
{
	snprintf(out, cap, "%s/" SEGMENT_NAME_FMT, dir, segment_index);
}

void ls_checkpoint_path(char *out, size_t cap, const char *dir, uint64_t seq_covered)
{
	snprintf(out, cap, "%s/" CHECKPOINT_NAME_FMT, dir, seq_covered);
}

/* ---- directory listing -------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Parses "segment-<16 hex>.log" or "checkpoint-<16 hex>.ckpt". */
static bool parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *v)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(name);
	if (n != pl + 16 + sl || strncmp(name, prefix, pl) != 0 || strcmp(name + pl + 16, suffix))
		return false;
	uint64_t x = 0;
	for (size_t i = pl; i < pl + 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return true;
}

struct listing {
	const char *dir;
	char *err;
	uint64_t *segments;
	size_t segment_count, segment_cap;
	uint64_t checkpoints[CHECKPOINTS_MAX];
	size_t checkpoint_count;
	bool remove_temporaries; /* segment/checkpoint *.tmp left by a crash */
	char temporaries[TEMPORARIES_PER_LISTING_MAX][TEMPORARY_NAME_BYTES_MAX];
	unsigned temporary_count;
	int entry_rc; /* the first error of an entry, which ends the listing */
};

static bool is_temporary(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".tmp") == 0 &&
	       (strncmp(name, "segment-", 8) == 0 || strncmp(name, "checkpoint-", 11) == 0);
}

static int add_segment(struct listing *l, uint64_t index)
{
	FAII_ASSERT(l->segment_count <= l->segment_cap);
	if (l->segment_count == FAII_LS_SEGMENTS_MAX) {
		snprintf(l->err, FAII_LS_ERR_LEN, "%s: more than %u segments", l->dir,
		         FAII_LS_SEGMENTS_MAX);
		return -E2BIG;
	}
	if (l->segment_count == l->segment_cap) {
		uint64_t *grown = realloc(l->segments, 2 * l->segment_cap * sizeof(uint64_t));
		if (grown == NULL)
			return -ENOMEM;
		l->segments = grown;
		l->segment_cap *= 2;
	}
	l->segments[l->segment_count++] = index;
	return 0;
}

/* Called by the store's I/O for every name in the directory. */
static int list_entry(void *arg, const char *name)
{
	struct listing *l = arg;
	uint64_t v;
	int rc = 0;
	if (parse_name(name, "segment-", ".log", &v)) {
		rc = add_segment(l, v);
	} else if (l->remove_temporaries && is_temporary(name)) {
		/* Removed after the listing; beyond the bound, at the next open. */
		if (l->temporary_count < TEMPORARIES_PER_LISTING_MAX &&
		    strlen(name) < TEMPORARY_NAME_BYTES_MAX)
			snprintf(l->temporaries[l->temporary_count++], TEMPORARY_NAME_BYTES_MAX,
			         "%s", name);
	} else if (parse_name(name, "checkpoint-", ".ckpt", &v)) {
		if (l->checkpoint_count == CHECKPOINTS_MAX) {
			snprintf(l->err, FAII_LS_ERR_LEN, "%s: more than %u checkpoints", l->dir,
			         CHECKPOINTS_MAX);
			rc = -E2BIG;
		} else {
			l->checkpoints[l->checkpoint_count++] = v;
		}
	}
	l->entry_rc = rc;
	return rc;
}

static int list_dir(const struct faii_store_io *io, const char *dir, struct listing *l, char *err)
{
	l->dir = dir;
	l->err = err;
	l->segment_cap = 64;
	l->segments = malloc(l->segment_cap * sizeof(uint64_t));
	if (l->segments == NULL)
		return -ENOMEM;
	int rc = FAII_STORE_IO_CALL(io, list_dir, dir, list_entry, l);
	if (rc < 0 && l->entry_rc == 0)
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot open: %s", dir, strerror(-rc));
	for (unsigned i = 0; i < l->temporary_count; i++) {
		char path[FAII_LS_ERR_LEN / 2 + TEMPORARY_NAME_BYTES_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, l->temporaries[i]);
		(void)FAII_STORE_IO_CALL(io, unlink, path);
	}
	qsort(l->segments, l->segment_count, sizeof(uint64_t), cmp_u64);
	qsort(l->checkpoints, l->checkpoint_count, sizeof(uint64_t), cmp_u64);
	FAII_ASSERT(l->segment_count <= FAII_LS_SEGMENTS_MAX);
	FAII_ASSERT(l->checkpoint_count <= CHECKPOINTS_MAX);
	return rc;
}

/* ---- checkpoints -------------------------------------------------------- */

void ls_prune_checkpoints(const struct faii_store_io *io, const char *dir, uint64_t keep_from)
{
	struct listing l;
	char err[FAII_LS_ERR_LEN], path[FAII_LS_ERR_LEN / 2];
	memset(&l, 0, sizeof(l));
	if (list_dir(io, dir, &l, err) == 0) {
		for (size_t i = 0; i < l.checkpoint_count; i++) {
			if (l.checkpoints[i] < keep_from) {
				ls_checkpoint_path(path, sizeof(path), dir, l.checkpoints[i]);
				(void)FAII_STORE_IO_CALL(io, unlink, path);
			}
		}
	}
	free(l.segments);
}

/*
 * Reads the whole checkpoint file into *buf_out (the caller frees it): 0;
 * -EIO with err when it cannot be read (an I/O error is not corruption, and
 * moving a good checkpoint aside could lose the segments it covers);
 * -EBADMSG when it is too short to be one.
 */
static int read_checkpoint_file(struct ls_scan *s, const char *path, uint8_t **buf_out,
                                size_t *size_out, char *err)
{
	const struct faii_store_io *io = s->io;
	*buf_out = NULL;
	int fd = FAII_STORE_IO_CALL(io, open, path, FAII_STORE_IO_READ_ONLY);
	int64_t size = fd >= 0 ? FAII_STORE_IO_CALL(io, size, fd) : fd;
	int64_t got = size;
	uint8_t *buf = NULL;
	if (size >= (int64_t)sizeof(struct ls_checkpoint_header)) {
		buf = malloc((size_t)size);
		got = buf ? FAII_STORE_IO_CALL(io, pread, fd, buf, (size_t)size, 0) : -ENOMEM;
		got = got >= 0 && got != size ? -EIO
		                              : got; /* shorter than its size: not readable */
	}
	if (fd >= 0)
		FAII_STORE_IO_CALL(io, close, fd);
	if (got < 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot read: %s", path, strerror((int)-got));
		free(buf);
		return got == -ENOMEM ? -ENOMEM : -EIO;
	}
	*size_out = (size_t)size;
	*buf_out = buf;
	return buf ? 0 : -EBADMSG;
}

static int load_checkpoint(struct ls_scan *s, uint64_t seq, char *err)
{
	char path[FAII_LS_ERR_LEN / 2];
	ls_checkpoint_path(path, sizeof(path), s->dir, seq);
	size_t size = 0;
	uint8_t *buf;
	int rc = read_checkpoint_file(s, path, &buf, &size, err);
	if (rc != 0 && rc != -EBADMSG)
		return rc;
	struct ls_checkpoint_header h;
	bool ok = rc == 0;
	if (ok) {
		memcpy(&h, buf, sizeof(h));
		uint32_t crc = h.crc;
		((struct ls_checkpoint_header *)(void *)buf)->crc = 0;
		ok = memcmp(h.magic, LS_CHECKPOINT_MAGIC, 8) == 0 &&
		     h.version == LS_FORMAT_VERSION && h.seq_covered == seq &&
		     h.seq_covered <= h.last_seq && sizeof(h) + h.blob_len + h.index_len == size &&
		     ls_crc(buf, size) == crc;
	}
	if (!ok) {
		snprintf(
		        err, FAII_LS_ERR_LEN,
		        "%s: checkpoint corrupt (bad magic, size or CRC); move it aside to recover "
		        "from the previous checkpoint",
		        path);
		free(buf);
		return -EBADMSG;
	}
	s->has_checkpoint = true;
	s->checkpoint = h;
	s->checkpoint_data = malloc(size - sizeof(h) + 1);
	if (s->checkpoint_data == NULL) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(s->checkpoint_data, buf + sizeof(h), size - sizeof(h));
	free(buf);
	return 0;
}

/* ---- one segment ---------------------------------------------------------- */

struct mapped {
	const struct faii_store_io *io;
	const uint8_t *p;
	uint64_t size;
	int fd;
};

static int map_segment(const struct faii_store_io *io, const char *path, struct mapped *m,
                       bool writable, char *err)
{
	m->io = io;
	m->fd = FAII_STORE_IO_CALL(io, open, path,
	                           writable ? FAII_STORE_IO_READ_WRITE : FAII_STORE_IO_READ_ONLY);
	int64_t size = m->fd >= 0 ? FAII_STORE_IO_CALL(io, size, m->fd) : m->fd;
	if (size < 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot open: %s", path, strerror((int)-size));
		if (m->fd >= 0)
			FAII_STORE_IO_CALL(io, close, m->fd);
		return -EIO;
	}
	m->size = (uint64_t)size;
	if (m->size < LS_SEGMENT_HEADER_SIZE) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: %" PRIu64 " bytes, shorter than its header",
		         path, m->size);
		FAII_STORE_IO_CALL(io, close, m->fd);
		return -EBADMSG;
	}
	const void *view;
	int rc = FAII_STORE_IO_CALL(io, map, m->fd, m->size, &view);
	if (rc != 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot map: %s", path, strerror(-rc));
		FAII_STORE_IO_CALL(io, close, m->fd);
		return -EIO;
	}
	m->p = view;
	return 0;
}

static void unmap_segment(struct mapped *m)
{
	FAII_STORE_IO_CALL(m->io, unmap, m->fd, m->p, m->size);
	FAII_STORE_IO_CALL(m->io, close, m->fd);
}

/* A record header at off that passes every structural and CRC check. */
static bool record_valid(const struct mapped *m, uint64_t off, const struct ls_record_header **out)
{
	FAII_ASSERT(off % LS_ALIGN == 0);
	if (off + sizeof(struct ls_record_header) > m->size)
		return false;
	const struct ls_record_header *h = (const void *)(m->p + off);
	if (h->length < sizeof(*h) || off + ls_align(h->length, LS_ALIGN) > m->size ||
	    (h->flags & ~LS_KEYS_MASK) != 0 ||
	    h->length != sizeof(*h) + ls_keys_size(h->flags) + h->payload_len)
		return false;
	bool user = h->type >= 1 && h->type <= FAII_LS_TYPE_USER_MAX;
	if (!user && h->type != LS_TYPE_COMMIT && h->type != LS_TYPE_PAD &&
	    h->type != LS_TYPE_CLOSE)
		return false;
	if (h->type == LS_TYPE_COMMIT &&
	    (h->flags != 0 || h->payload_len != sizeof(struct ls_commit)))
		return false;
	if (h->type == LS_TYPE_CLOSE &&
	    (h->flags != 0 || h->payload_len < sizeof(struct ls_close) ||
	     h->length > LS_CLOSE_RECORD_MAX))
		return false;
	if (ls_record_crc(h, h->length) != h->crc)
		return false;
	*out = h;
	return true;
}

/*
 * After a bad record: is there a commit of a later batch further on? Then the
 * bad record was in a batch that had been made durable: corruption. Only one
 * batch is ever in flight, so a torn tail never has a later commit after it.
 */
static bool later_commit_exists(const struct mapped *m, uint64_t from, uint64_t batch_first_seq)
{
	for (uint64_t off = ls_align(from, LS_ALIGN);
	     off + sizeof(struct ls_record_header) <= m->size; off += LS_ALIGN) {
		const struct ls_record_header *h = (const void *)(m->p + off);
		if (h->type != LS_TYPE_COMMIT)
			continue;
		const struct ls_record_header *v;
		if (record_valid(m, off, &v)) {
			struct ls_commit c;
			memcpy(&c, v + 1, sizeof(c));
			if (c.first_seq > batch_first_seq)
				return true;
		}
	}
	return false;
}

static int check_segment_header(struct ls_scan *s, const struct mapped *m, const char *path,
                                uint64_t index, bool check_chain, char *err)
{
	FAII_ASSERT(m->size >= LS_SEGMENT_HEADER_SIZE);
	struct ls_segment_header h;
	memcpy(&h, m->p, sizeof(h));
	bool ok = memcmp(h.magic, LS_SEGMENT_MAGIC, 8) == 0 && h.version == LS_FORMAT_VERSION &&
	          h.header_size == LS_SEGMENT_HEADER_SIZE && h.segment_index == index &&
	          h.crc == ls_crc(&h, offsetof(struct ls_segment_header, crc));
	if (!ok) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: offset 0: segment header corrupt", path);
		return -EBADMSG;
	}
	if (check_chain &&
	    (h.first_seq != s->last_seq + 1 || memcmp(h.prev_chain, s->chain, sizeof(s->chain)))) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: offset 0: segment header does not continue the chain (first seq "
		         "%" PRIu64 ", expected %" PRIu64 ")",
		         path, h.first_seq, s->last_seq + 1);
		return -EBADMSG;
	}
	return 0;
}

/* Delivers the user records of a verified batch [from, to) to the caller. */
static void deliver_batch(struct ls_scan *s, const struct mapped *m, uint64_t index, uint64_t from,
                          uint64_t to)
{
	FAII_ASSERT(from < to && to <= m->size);
	for (uint64_t off = from; off < to;) {
		const struct ls_record_header *h = (const void *)(m->p + off);
		if (h->type != LS_TYPE_PAD) {
			s->records++;
			if (s->on_record)
				s->on_record(s->ctx, h, (const uint8_t *)(h + 1), index, off);
		}
		off += ls_align(h->length, LS_ALIGN);
	}
}

enum seg_end { SEG_FULL, SEG_TORN };

/* The batch being scanned: where it starts, its sequence numbers, its chain hash. */
struct batch_cursor {
	uint64_t start;
	uint64_t first_seq;
	uint64_t next_seq;
	crypto_generichash_state hash;
};

static void cursor_begin(struct batch_cursor *c, const struct ls_scan *s, uint64_t off)
{
	c->start = off;
	c->first_seq = s->last_seq + 1;
	c->next_seq = s->last_seq + 1;
	crypto_generichash_init(&c->hash, NULL, 0, FAII_LS_CHAIN_SIZE);
	crypto_generichash_update(&c->hash, s->chain, FAII_LS_CHAIN_SIZE);
}

/*
 * Does the valid commit record h close the batch under the cursor (its
 * sequence numbers and chain value)? Then *commit has its payload and chain
 * the chain value it carries.
 */
static bool commit_closes_batch(struct batch_cursor *c, const struct ls_record_header *h,
                                struct ls_commit *commit)
{
	FAII_ASSERT(h->type == LS_TYPE_COMMIT);
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	memcpy(commit, h + 1, sizeof(*commit));
	crypto_generichash_final(&c->hash, chain, sizeof(chain));
	return commit->first_seq == c->first_seq && commit->last_seq == c->next_seq - 1 &&
	       commit->last_seq >= commit->first_seq && h->seq == commit->last_seq &&
	       memcmp(chain, commit->chain, sizeof(chain)) == 0;
}

/* Records where the scan passes the mark's seq: the chain value the mark names. */
static void note_chain(struct ls_scan *s)
{
	const struct ls_mark *mark = &s->mark_used;
	if ((mark->kind == LS_MARK_OPEN || mark->kind == LS_MARK_CLOSED) &&
	    s->last_seq == mark->seq) {
		s->end.chain_at_mark_known = true;
		memcpy(s->end.chain_at_mark, s->chain, FAII_LS_CHAIN_SIZE);
	}
}

/* Does the valid close record h name the end of the log scanned so far? */
static bool close_ends_log(const struct ls_scan *s, const struct ls_record_header *h)
{
	FAII_ASSERT(h->type == LS_TYPE_CLOSE && h->payload_len >= sizeof(struct ls_close));
	struct ls_close c;
	memcpy(&c, h + 1, sizeof(c));
	return h->seq == s->last_seq && c.last_seq == s->last_seq &&
	       memcmp(c.chain, s->chain, FAII_LS_CHAIN_SIZE) == 0;
}

/* A bad record at off: a torn last batch (0, *end SEG_TORN) or corruption. */
static int bad_record(const struct ls_scan *s, const struct mapped *m, const char *path,
                      uint64_t off, bool is_last, const struct batch_cursor *c, enum seg_end *end,
                      uint64_t *tail_off, char *err)
{
	(void)s;
	if (!is_last || later_commit_exists(m, off + LS_ALIGN, c->first_seq)) {
		static const char what[] = "corrupt record (bad length, CRC, sequence "
		                           "or chain) before the tail; refusing to open";
		snprintf(err, FAII_LS_ERR_LEN, "%s: offset %" PRIu64 ": %s", path, off, what);
		return -EBADMSG;
	}
	*end = SEG_TORN;
	*tail_off = c->start;
	return 0;
}

/* Zeros where a record should start: the end, unless a later commit follows. */
static int zeros_at(const struct mapped *m, const char *path, uint64_t off,
                    const struct batch_cursor *c, char *err)
{
	/* Zeros end the written data, unless a later batch's commit follows:
	 * then durable history was zeroed (a lost block). */
	if (later_commit_exists(m, off, c->first_seq)) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: offset %" PRIu64
		         ": zeroed bytes inside committed history; refusing to open",
		         path, off);
		return -EBADMSG;
	}
	return 0;
}

/*
 * Verifies records from off to the end of written data. Returns 0 with *end
 * telling whether the segment ended cleanly (zeros or its end) or with a
 * torn batch at *tail_off; -EBADMSG on corruption.
 */
static int scan_records(struct ls_scan *s, const struct mapped *m, const char *path, uint64_t index,
                        uint64_t off, bool is_last, enum seg_end *end, uint64_t *tail_off,
                        char *err)
{
	FAII_ASSERT(off >= LS_SEGMENT_HEADER_SIZE && off % LS_ALIGN == 0 && off <= m->size);
	struct batch_cursor c;
	cursor_begin(&c, s, off);
	while (off + sizeof(struct ls_record_header) <= m->size) {
		const struct ls_record_header *h = (const void *)(m->p + off);
		if (h->length == 0 && h->type == LS_TYPE_NONE) {
			int rc = zeros_at(m, path, off, &c, err);
			if (rc != 0)
				return rc;
			break;
		}
		const struct ls_record_header *v;
		bool ok = record_valid(m, off, &v);
		bool user = ok && h->type <= FAII_LS_TYPE_USER_MAX;
		if (user && h->seq != c.next_seq)
			ok = false;
		struct ls_commit commit;
		if (ok && h->type == LS_TYPE_COMMIT) {
			if (commit_closes_batch(&c, h, &commit)) {
				deliver_batch(s, m, index, c.start, off);
				s->last_batch_offset = c.start;
				memcpy(s->chain, commit.chain, sizeof(commit.chain));
				s->last_seq = commit.last_seq;
				off += ls_align(h->length, LS_ALIGN);
				s->bytes += off - c.start;
				s->commit_segment = index;
				s->commit_offset = off;
				s->end.ends_with_close = false;
				note_chain(s);
				cursor_begin(&c, s, off);
				continue;
			}
			ok = false;
		}
		if (ok && h->type == LS_TYPE_CLOSE) {
			/* Between batches only, and for the end of the last one. */
			if (off == c.start && close_ends_log(s, h)) {
				s->end.ends_with_close = true;
				s->end.close_segment = index;
				s->end.close_offset = off;
				off += ls_align(h->length, LS_ALIGN);
				s->bytes += off - c.start;
				cursor_begin(&c, s, off);
				continue;
			}
			ok = false;
		}
		if (!ok)
			return bad_record(s, m, path, off, is_last, &c, end, tail_off, err);
		uint64_t stored = ls_align(h->length, LS_ALIGN);
		crypto_generichash_update(&c.hash, (const uint8_t *)h, stored);
		if (user)
			c.next_seq++;
		off += stored;
	}
	FAII_ASSERT(c.start <= off && c.first_seq == s->last_seq + 1);
	/* Records after the last commit without their commit: a torn batch too. */
	if (off != c.start) {
		if (!is_last) {
			snprintf(err, FAII_LS_ERR_LEN,
			         "%s: offset %" PRIu64
			         ": batch without a commit before the last segment",
			         path, c.start);
			return -EBADMSG;
		}
		*end = SEG_TORN;
		*tail_off = c.start;
		return 0;
	}
	*end = SEG_FULL;
	*tail_off = off;
	return 0;
}

/* Overwrites a torn tail with zeros, durably, so no later scan sees it. */
static int zero_tail(const struct mapped *m, const char *path, uint64_t from, uint64_t len,
                     char *err)
{
	FAII_ASSERT(from >= LS_SEGMENT_HEADER_SIZE && from % LS_ALIGN == 0 && len > 0);
	uint64_t to = from + len > m->size ? m->size : from + len;
	static const uint8_t zeros[65536];
	/* Bounded by the segment's size over the chunk's. */
	for (uint64_t off = from; off < to;) {
		size_t n = (size_t)(to - off < sizeof(zeros) ? to - off : sizeof(zeros));
		int64_t wrote = FAII_STORE_IO_CALL(m->io, pwrite, m->fd, zeros, n, off);
		if (wrote != (int64_t)n) {
			snprintf(err, FAII_LS_ERR_LEN, "%s: cannot truncate the torn tail: %s",
			         path, strerror(wrote < 0 ? (int)-wrote : EIO));
			return -EIO;
		}
		off += n;
	}
	int rc = FAII_STORE_IO_CALL(m->io, datasync, m->fd);
	if (rc != 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: fdatasync: %s", path, strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* Bytes of non-zero data from off on, for the report. */
static uint64_t torn_extent(const struct mapped *m, uint64_t off)
{
	uint64_t last = off;
	for (uint64_t p = off; p + 8 <= m->size; p += 8) {
		uint64_t w;
		memcpy(&w, m->p + p, 8);
		if (w != 0)
			last = p + 8;
	}
	FAII_ASSERT(last >= off && last <= m->size);
	return last - off;
}

/*
 * A write of a killed predecessor may still be in flight (io_uring finishes
 * it after the process is gone, O_DIRECT ones especially). fallocate() takes
 * the inode lock and waits for direct I/O, so after it nothing old lands
 * behind the scan. KEEP_SIZE over one allocated byte changes nothing.
 */
static void settle_writes(const struct mapped *m)
{
	(void)FAII_STORE_IO_CALL(m->io, fallocate, m->fd, FAII_STORE_IO_KEEP_SIZE, 0, 1);
}

/*
 * Writes the last batch again, as recovery read it, and syncs it. After a
 * failed fdatasync Linux may keep the batch in the page cache, marked clean,
 * without it on the disk ("fsyncgate"): a restart without a reboot then
 * reads it back whole, and later batches would commit on top of a hole that
 * a power loss reveals. Only the last batch can be in that state: after a
 * failed sync the store writes nothing more. Rewriting identical bytes
 * changes nothing on a healthy disk, torn or not.
 */
static int rewrite_last_batch(const struct mapped *m, const char *path, uint64_t from, uint64_t to,
                              char *err)
{
	FAII_ASSERT(from >= LS_SEGMENT_HEADER_SIZE && from < to && to <= m->size);
	FAII_ASSERT(from % LS_ALIGN == 0 && to % LS_ALIGN == 0);
	size_t len = (size_t)(to - from);
	uint8_t *copy = malloc(len); /* not from the mapping of the same pages */
	int64_t wrote = copy ? 0 : -ENOMEM;
	if (copy) {
		memcpy(copy, m->p + from, len);
		wrote = FAII_STORE_IO_CALL(m->io, pwrite, m->fd, copy, len, from);
		free(copy);
	}
	int rc = wrote == (int64_t)len ? FAII_STORE_IO_CALL(m->io, datasync, m->fd)
	         : wrote < 0           ? (int)wrote
	                               : -EIO;
	if (rc != 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot make the last batch durable: %s", path,
		         strerror(-rc));
		return rc == -ENOMEM ? rc : -EIO;
	}
	return 0;
}

/* Valid close records among the bytes that do not verify: the highest seq one names. */
static void find_tail_close(const struct mapped *m, uint64_t from, uint64_t to,
                            struct ls_log_end *e)
{
	e->tail_close_seq = 0;
	e->tail_close_offset = 0;
	/* Bounded by the torn extent, within the segment. */
	for (uint64_t off = from; off < to; off += LS_ALIGN) {
		const struct ls_record_header *h = (const void *)(m->p + off), *v;
		if (off + sizeof(*h) > m->size || h->type != LS_TYPE_CLOSE ||
		    !record_valid(m, off, &v))
			continue;
		struct ls_close c;
		memcpy(&c, v + 1, sizeof(c));
		if (c.last_seq >= e->tail_close_seq) {
			e->tail_close_seq = c.last_seq;
			e->tail_close_offset = off;
		}
	}
}

/*
 * A segment shorter than its header says was truncated (the operator's
 * override accepted it; a crash never shrinks a preallocated file): it gets
 * its size back, so that appends stay inside it and new segments keep the
 * store's size.
 */
static int restore_preallocation(struct ls_scan *s, const struct mapped *m, const char *path,
                                 char *err)
{
	struct ls_segment_header h;
	memcpy(&h, m->p, sizeof(h));
	if (h.segment_size <= m->size || h.segment_size % LS_DIRECT_ALIGN != 0 ||
	    h.segment_size < FAII_LS_SEGMENT_SIZE_MIN)
		return 0;
	int rc = FAII_STORE_IO_CALL(m->io, fallocate, m->fd, 0, 0, h.segment_size);
	if (rc == 0)
		rc = FAII_STORE_IO_CALL(m->io, datasync, m->fd);
	if (rc != 0) {
		snprintf(err, FAII_LS_ERR_LEN, "%s: cannot extend to %" PRIu64 " bytes: %s", path,
		         h.segment_size, strerror(-rc));
		return -EIO;
	}
	s->write_segment_size = h.segment_size;
	return 0;
}

/*
 * The one judgement of the log's end against the mark (ls_judge()), made
 * before anything is repaired. The operator's override (accept_damage) keeps
 * the refusal as a finding and lets the repair go on.
 */
static int judge_end(struct ls_scan *s, char *err)
{
	s->end.segments = s->segment_count;
	s->end.last_seq = s->last_seq;
	memcpy(s->end.chain, s->chain, FAII_LS_CHAIN_SIZE);
	int rc = ls_judge(s->dir, &s->mark_used, &s->end, err);
	if (rc == -EBADMSG && s->accept_damage) {
		snprintf(s->finding, sizeof(s->finding), "%s", err);
		char *remedy = strstr(s->finding, "; refusing to open");
		if (remedy)
			*remedy = '\0';
		s->damage_accepted = true;
		err[0] = '\0';
		rc = 0;
	}
	return rc;
}

/*
 * After the records of the last segment: whatever lies past its intact data
 * is a torn batch (possibly missing its first block) or damage. Judged; then
 * (repair) the last batch is made durable and the torn tail zeroed, all of
 * it, so no later append shares a page with it and no scan meets it again.
 */
static int end_of_log(struct ls_scan *s, const struct mapped *m, const char *path, uint64_t index,
                      uint64_t tail, char *err)
{
	uint64_t extent = torn_extent(m, tail);
	s->end.tail_segment = index;
	s->end.tail_offset = tail;
	s->end.torn_bytes = extent;
	find_tail_close(m, tail, tail + extent, &s->end);
	int rc = judge_end(s, err);
	if (rc != 0)
		return rc;
	s->torn_bytes = extent;
	if (s->repair && s->last_batch_offset < tail)
		rc = rewrite_last_batch(m, path, s->last_batch_offset, tail, err);
	if (rc == 0 && s->repair && extent > 0)
		rc = zero_tail(m, path, tail, extent, err);
	if (rc == 0 && s->repair)
		rc = restore_preallocation(s, m, path, err);
	return rc;
}

static int scan_segment(struct ls_scan *s, uint64_t index, uint64_t start_off, bool first,
                        bool is_last, char *err)
{
	char path[FAII_LS_ERR_LEN / 2];
	struct mapped m;
	ls_segment_path(path, sizeof(path), s->dir, index);
	int rc = map_segment(s->io, path, &m, s->repair && is_last, err);
	if (rc != 0)
		return rc;
	if (s->repair)
		settle_writes(&m);
	/* The chain is checked across segments, except into the checkpoint's
	 * segment, whose earlier records are not rescanned. */
	bool check_chain = !(first && s->has_checkpoint);
	rc = check_segment_header(s, &m, path, index, check_chain, err);
	if (rc == 0 && start_off > m.size) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: the checkpoint points past the end of the segment (offset %" PRIu64
		         "): the checkpoint is newer than the log",
		         path, start_off);
		rc = -EBADMSG;
	}
	enum seg_end end = SEG_FULL;
	uint64_t tail = start_off;
	s->last_batch_offset = start_off;
	if (rc == 0)
		rc = scan_records(s, &m, path, index, start_off, is_last, &end, &tail, err);
	if (rc == 0) {
		FAII_ASSERT(tail >= LS_SEGMENT_HEADER_SIZE && tail <= m.size);
		FAII_ASSERT(is_last || end == SEG_FULL);
		FAII_ASSERT(s->last_batch_offset <= tail);
		s->write_segment = index;
		s->write_offset = tail;
		s->write_segment_size = m.size;
		if (is_last)
			rc = end_of_log(s, &m, path, index, tail, err);
	}
	unmap_segment(&m);
	return rc;
}

/* Does the checkpoint's position hold a commit of its seq and chain? */
static bool checkpoint_position_holds(const struct ls_checkpoint_header *c, const struct mapped *m)
{
	/* The commit record ends exactly at the checkpoint's offset. */
	uint64_t commit_len =
	        ls_align(sizeof(struct ls_record_header) + sizeof(struct ls_commit), LS_ALIGN);
	if (c->offset == LS_SEGMENT_HEADER_SIZE) {
		/* Taken after recovery into a segment that has no batch yet (a crash
		 * right after a roll): the segment header carries the chain. */
		struct ls_segment_header sh;
		memcpy(&sh, m->p, sizeof(sh));
		return sh.crc == ls_crc(&sh, offsetof(struct ls_segment_header, crc)) &&
		       sh.first_seq == c->last_seq + 1 &&
		       memcmp(sh.prev_chain, c->chain, FAII_LS_CHAIN_SIZE) == 0;
	}
	const struct ls_record_header *h;
	bool ok = c->offset >= LS_SEGMENT_HEADER_SIZE + commit_len && c->offset <= m->size &&
	          c->offset % LS_ALIGN == 0 && record_valid(m, c->offset - commit_len, &h) &&
	          h->type == LS_TYPE_COMMIT;
	if (ok) {
		struct ls_commit commit;
		memcpy(&commit, h + 1, sizeof(commit));
		ok = commit.last_seq == c->last_seq &&
		     memcmp(commit.chain, c->chain, FAII_LS_CHAIN_SIZE) == 0;
	}
	return ok;
}

/*
 * The checkpoint's position must be a commit boundary of the log that
 * carries the checkpoint's sequence number and chain value.
 */
static int check_checkpoint_position(struct ls_scan *s, char *err)
{
	const struct ls_checkpoint_header *c = &s->checkpoint;
	char path[FAII_LS_ERR_LEN / 2];
	ls_segment_path(path, sizeof(path), s->dir, c->segment_index);
	if (s->segment_count == 0 || c->segment_index < s->first_segment ||
	    c->segment_index > s->last_segment) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "checkpoint %" PRIu64 " names segment %" PRIu64
		         ", which is not in %s: the checkpoint is newer than the log",
		         c->seq_covered, c->segment_index, s->dir);
		return -EBADMSG;
	}
	struct mapped m;
	int rc = map_segment(s->io, path, &m, false, err);
	if (rc != 0)
		return rc;
	bool ok = checkpoint_position_holds(c, &m);
	unmap_segment(&m);
	if (!ok) {
		snprintf(err, FAII_LS_ERR_LEN,
		         "%s: offset %" PRIu64 ": no commit of seq %" PRIu64
		         " where checkpoint %" PRIu64 " says: the checkpoint is newer than the log",
		         path, c->offset, c->last_seq, c->seq_covered);
		return -EBADMSG;
	}
	return 0;
}

/* Segments are numbered densely: a gap is a lost segment. */
static int check_segments_dense(const struct ls_scan *s, const struct listing *l, char *err)
{
	for (size_t i = 1; i < l->segment_count; i++) {
		if (l->segments[i] != l->segments[i - 1] + 1) {
			char path[FAII_LS_ERR_LEN / 2];
			ls_segment_path(path, sizeof(path), s->dir, l->segments[i - 1] + 1);
			snprintf(err, FAII_LS_ERR_LEN, "%s: missing segment; refusing to open",
			         path);
			return -EBADMSG;
		}
	}
	return 0;
}

/* The latest checkpoint, verified against the log and handed to the caller. */
static int start_from_checkpoint(struct ls_scan *s, uint64_t seq, char *err)
{
	int rc = load_checkpoint(s, seq, err);
	if (rc == 0)
		rc = check_checkpoint_position(s, err);
	if (rc == 0 && s->on_checkpoint) {
		rc = s->on_checkpoint(s->ctx, &s->checkpoint, s->checkpoint_data);
		if (rc != 0)
			snprintf(err, FAII_LS_ERR_LEN,
			         "checkpoint %" PRIu64 " in %s: index snapshot unreadable",
			         s->checkpoint.seq_covered, s->dir);
	}
	return rc;
}

/* Scans every segment from the checkpoint's (or genesis) to the last. */
static int scan_segments(struct ls_scan *s, char *err)
{
	/* Without a checkpoint the log must start at segment 0 (genesis). */
	uint64_t from = s->first_segment, offset = LS_SEGMENT_HEADER_SIZE;
	if (s->has_checkpoint) {
		from = s->checkpoint.segment_index;
		offset = s->checkpoint.offset;
		s->last_seq = s->checkpoint.last_seq;
		memcpy(s->chain, s->checkpoint.chain, sizeof(s->chain));
	} else if (s->first_segment != 0) {
		char path[FAII_LS_ERR_LEN / 2];
		ls_segment_path(path, sizeof(path), s->dir, 0);
		snprintf(err, FAII_LS_ERR_LEN, "%s: missing segment (no checkpoint covers it)",
		         path);
		return -EBADMSG;
	}
	s->commit_segment = from;
	s->commit_offset = offset;
	note_chain(s);
	FAII_ASSERT(from >= s->first_segment && from <= s->last_segment);
	int rc = 0;
	for (uint64_t i = from; i <= s->last_segment && rc == 0; i++) {
		uint64_t seq_before = s->last_seq;
		rc = scan_segment(s, i, i == from ? offset : LS_SEGMENT_HEADER_SIZE, i == from,
		                  i == s->last_segment, err);
		FAII_ASSERT(s->last_seq >= seq_before);
	}
	return rc;
}

int ls_scan_dir(struct ls_scan *s, char err[FAII_LS_ERR_LEN])
{
	FAII_ASSERT(s->io != NULL && s->dir != NULL);
	struct listing l;
	memset(&l, 0, sizeof(l));
	l.remove_temporaries = s->repair;
	memset(s->chain, 0, sizeof(s->chain));
	s->last_seq = 0;
	s->records = s->bytes = s->torn_bytes = 0;
	s->has_checkpoint = false;
	s->checkpoint_data = NULL;
	s->segment_count = 0;
	s->write_segment = 0;
	s->write_offset = 0;
	s->commit_segment = 0;
	s->commit_offset = LS_SEGMENT_HEADER_SIZE;
	memset(&s->end, 0, sizeof(s->end));
	s->damage_accepted = false;
	s->finding[0] = '\0';
	int rc = 0;
	if (s->mark)
		s->mark_used = *s->mark;
	else
		rc = ls_mark_read(s->io, s->dir, &s->mark_used, err);
	if (rc == 0)
		rc = list_dir(s->io, s->dir, &l, err);
	if (rc == 0) {
		s->segment_count = l.segment_count;
		if (l.segment_count > 0) {
			s->first_segment = l.segments[0];
			s->last_segment = l.segments[l.segment_count - 1];
		}
		rc = check_segments_dense(s, &l, err);
	}
	if (rc == 0 && l.checkpoint_count > 0)
		rc = start_from_checkpoint(s, l.checkpoints[l.checkpoint_count - 1], err);
	if (rc == 0 && l.segment_count > 0)
		rc = scan_segments(s, err);
	else if (rc == 0)
		rc = judge_end(s, err); /* no segment: a mark may still say there were records */
	free(l.segments);
	if (rc != 0) {
		free(s->checkpoint_data);
		s->checkpoint_data = NULL;
	}
	return rc;
}
