/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ledger store: an append-only, segmented, hash-chained log on io_uring
 * with group commit, crash recovery and checkpoints. docs/ledger-store.md
 * describes the on-disk format and the durability contract; in short:
 *
 *   An append is acknowledged (its callback runs with status 0, or
 *   faii_ls_append_wait() returns its sequence number) only after the batch
 *   holding it has been written and fdatasync()ed. A record acknowledged is
 *   on stable storage and survives kill -9 and power loss. A failed write or
 *   sync (ENOSPC, EIO, a short write) fails that batch's appends and every
 *   later one with the error; the store then refuses appends until reopened.
 *
 * Thread safety: every function may be called from any thread, except
 * faii_ls_close(), which must be the last call. Callbacks run on the store's
 * writer thread, in sequence order, and must not call back into the store's
 * append functions (they may read).
 *
 * Error convention: negative errno on failure; messages for the operator go
 * into the caller's err buffer where one is taken.
 *
 * Disk: every file and directory operation goes through a struct
 * faii_store_io (include/faii/store_io.h): the system's disk by default, a
 * simulated one in tests (tests/sim/).
 */
#ifndef FAII_LEDGER_STORE_H
#define FAII_LEDGER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAII_LS_ERR_LEN     1024u
#define FAII_LS_DIGEST_SIZE 32u
#define FAII_LS_CHAIN_SIZE  32u

/* Bounds and defaults. */
#define FAII_LS_RECORD_PAYLOAD_MAX    (1u << 20)     /* 1 MiB */
#define FAII_LS_SEGMENT_SIZE_MIN      (4ull << 20)   /* 4 MiB */
#define FAII_LS_SEGMENT_SIZE_DEFAULT  (256ull << 20) /* 256 MiB */
#define FAII_LS_BATCH_BYTES_DEFAULT   (2u << 20)     /* 2 MiB */
#define FAII_LS_BATCH_RECORDS_DEFAULT 16384u
#define FAII_LS_INDEX_ENTRIES_DEFAULT (1u << 20)
#define FAII_LS_SEGMENTS_MAX          65536u

struct faii_store_io; /* include/faii/store_io.h */

/* Record types: applications use 1..FAII_LS_TYPE_USER_MAX. */
#define FAII_LS_TYPE_USER_MAX 0x7FFFu

/* Index keys a record may carry (faii_ls_keys.present). */
enum {
	FAII_LS_KEY_ROUND = 1u << 0,
	FAII_LS_KEY_EPOCH = 1u << 1,
	FAII_LS_KEY_NODE = 1u << 2,
	FAII_LS_KEY_DIGEST = 1u << 3,
};

struct faii_ls_keys {
	unsigned present; /* FAII_LS_KEY_* */
	uint64_t round;
	uint64_t epoch;
	uint32_t node;
	uint8_t digest[FAII_LS_DIGEST_SIZE];
};

/*
 * Fault injection for tests (SQLite's crash-VFS idea): called before every
 * batch write with its segment offset and length. Return 0 to write
 * normally, a negative errno to fail the write without writing, or a
 * positive n < len to write only the first n bytes (a short write).
 */
typedef int64_t (*faii_ls_fault_fn)(void *ctx, uint64_t segment, uint64_t offset, uint32_t len);

struct faii_ls_options {
	const char *dir;             /* created if missing */
	uint64_t segment_size_bytes; /* 0: default; preallocated with fallocate */
	uint32_t batch_bytes_max;    /* 0: default; one write + one fdatasync */
	uint32_t batch_records_max;  /* 0: default */
	uint32_t index_entries_max;  /* 0: default; keys beyond are not indexed */
	bool o_direct;               /* O_DIRECT writes from aligned buffers */
	faii_ls_fault_fn fault;      /* tests only; NULL in production */
	void *fault_ctx;
	const struct faii_store_io *io; /* NULL: faii_store_io_system(); tests: a simulated disk */
	/*
	 * The operator's override (faii-ledger repair --truncate-torn-tail):
	 * open what recovery would refuse because of the log's end (damage to
	 * acknowledged records at the tail, a missing or corrupt DIR/STATE, a
	 * mark that disagrees with the log), truncating the damaged tail. What
	 * was overridden is returned in err. Corruption before the tail is
	 * still refused. Never set by faiid.
	 */
	bool accept_damaged_tail;
};

struct faii_ls;

/* Sequence numbers start at 1 and are dense. */
typedef void (*faii_ls_ack_fn)(void *arg, uint64_t seq, int status);

/*
 * Opens (creating if needed) the store in opt->dir and recovers it: verifies
 * every CRC and the hash chain from the last checkpoint, judges the log's
 * end against the durability mark DIR/STATE, truncates a crash's torn tail,
 * and refuses to open (-EBADMSG, err names the segment and offset) when
 * corruption lies before the tail, or at the tail after a clean close, or
 * when the mark is missing, corrupt or disagrees with the log (see
 * docs/ledger-store.md, "Recovery"). On success err is empty, or says what
 * opt->accept_damaged_tail overrode.
 */
int faii_ls_open(const struct faii_ls_options *opt, struct faii_ls **out,
                 char err[FAII_LS_ERR_LEN]);
/*
 * Stops accepting appends, makes pending ones durable, joins the writer and,
 * unless a write failed, closes cleanly: a close record in the log, then
 * DIR/STATE "closed" naming it.
 */
void faii_ls_close(struct faii_ls *ls);

/*
 * Queues one record. Returns its sequence number (> 0), or -EINVAL (type or
 * size out of range), -ESHUTDOWN (closing) or the store's stored write
 * error. cb (may be NULL) runs once the record is durable (status 0) or
 * failed (negative errno). Blocks while both batch buffers are full.
 */
int64_t faii_ls_append(struct faii_ls *ls, uint16_t type, const struct faii_ls_keys *keys,
                       const void *payload, uint32_t len, faii_ls_ack_fn cb, void *arg);
/* Appends and waits until durable; the sequence number or a negative errno. */
int64_t faii_ls_append_wait(struct faii_ls *ls, uint16_t type, const struct faii_ls_keys *keys,
                            const void *payload, uint32_t len);

/* The highest durable sequence number (0 when empty). */
uint64_t faii_ls_durable_seq(struct faii_ls *ls);
/* Waits until seq is durable or the store fails: 0, -ETIMEDOUT or the error. */
int faii_ls_wait_durable(struct faii_ls *ls, uint64_t seq, uint32_t timeout_ms);

struct faii_ls_record {
	uint64_t seq;
	uint16_t type;
	struct faii_ls_keys keys;
	uint32_t payload_len;
};

/*
 * Reads durable record seq; copies up to cap payload bytes into buf. Returns
 * 0, -ENOENT (not durable or never written) or -EIO. rec->payload_len is the
 * full length even when cap was smaller.
 */
int faii_ls_read(struct faii_ls *ls, uint64_t seq, struct faii_ls_record *rec, void *buf,
                 size_t cap);

/*
 * Sequence numbers of durable records carrying a key, ascending; returns how
 * many were found (at most max written to seqs) or a negative errno. kind is
 * one FAII_LS_KEY_* bit; key points to a uint64_t (round, epoch), a uint32_t
 * (node) or FAII_LS_DIGEST_SIZE bytes (digest).
 */
int faii_ls_find(struct faii_ls *ls, unsigned kind, const void *key, uint64_t *seqs, size_t max);

/*
 * Writes a checkpoint atomically: the caller's state blob covering records
 * up to seq_covered (which must be durable), with the store's own position,
 * chain value and indexes, so that recovery replays only what follows.
 */
int faii_ls_checkpoint(struct faii_ls *ls, uint64_t seq_covered, const void *blob, size_t len);
/*
 * The latest checkpoint found at open or written since: its seq_covered and
 * blob (copied up to cap; *len set to its full size). -ENOENT if none.
 */
int faii_ls_checkpoint_get(struct faii_ls *ls, uint64_t *seq_covered, void *blob, size_t cap,
                           size_t *len);

struct faii_ls_stats {
	uint64_t durable_seq;
	uint64_t batches;
	uint64_t bytes_written;
	uint64_t segments;
	uint64_t recovered_records; /* scanned at open */
	uint64_t truncated_bytes;   /* torn tail removed at open */
	uint64_t index_entries;
	uint64_t index_overflow; /* keys not indexed: the bound was reached */
	int error;               /* stored write error, 0 if healthy */
	uint8_t chain[FAII_LS_CHAIN_SIZE];
};
void faii_ls_get_stats(struct faii_ls *ls, struct faii_ls_stats *stats);

/*
 * Offline check of a store directory (faii-ledger verify): the same scan and
 * the same judgement of the log's end as recovery, changing nothing. Returns
 * 0 exactly when faii_ls_open would open the store (a crash's torn tail
 * counts: open truncates it, reported in torn_tail_bytes), -EBADMSG when it
 * would refuse (err says why, naming the segment file and offset), or
 * another negative errno (-EIO: unreadable).
 */
struct faii_ls_verify_report {
	uint64_t segments;
	uint64_t records;
	uint64_t bytes;
	uint64_t first_seq, last_seq;
	uint64_t torn_tail_bytes;
	uint64_t checkpoint_seq; /* 0: none */
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	bool ends_with_close; /* the log ends with a close record (a clean close) */
	char mark[160];       /* DIR/STATE in words: "closed cleanly at seq 8 (...)" */
};
int faii_ls_verify(const char *dir, struct faii_ls_verify_report *report,
                   char err[FAII_LS_ERR_LEN]);
/* The same through io (NULL: the system's disk). */
int faii_ls_verify_io(const struct faii_store_io *io, const char *dir,
                      struct faii_ls_verify_report *report, char err[FAII_LS_ERR_LEN]);

#endif /* FAII_LEDGER_STORE_H */
