/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash-consistency test of the ledger store (docs/ledger-store.md).
 *
 * Every round, a forked child opens the store in DIR and runs THREADS
 * appender threads appending self-describing records as fast as it can (in
 * "paced" rounds each waits for its record to be durable, in "serial" ones
 * one at a time: tiny and one-record batches). The acknowledgement callbacks,
 * on the store's writer thread, report (seq, thread, counter, record hash) to
 * the parent on a pipe. Some rounds take checkpoints, at open or under load.
 * The child is killed with SIGKILL:
 *   - by the parent, a random 5-200 ms after the first acknowledgement or at
 *     a random acknowledgement count, whichever comes first;
 *   - early, 0-40 ms after fork, acknowledged or not (often mid-recovery);
 *   - by itself, a random moment into a planned batch write (the fault hook
 *     only watches, a killer thread fires): kill -9 in the middle of a write;
 *   - by itself after an injected short write (the fault hook makes batch n
 *     write a random prefix; the store must fail that batch): a torn tail
 *     at an arbitrary byte, not only at a page boundary.
 * The parent drains the pipe (whole entries only), reaps the child and
 * reopens the store. It checks:
 *   - faii_ls_verify() before the reopen says intact, and agrees with the
 *     reopen on the last sequence number and the torn tail;
 *   - faii_ls_open() succeeds; durable_seq covers every acknowledged record
 *     and never goes back; faii_ls_read(durable + 1) is -ENOENT;
 *   - every record up to durable_seq reads back whole (its own checksum and
 *     a regeneration from its identity agree), sequence numbers are dense,
 *     rounds never go back, and each thread's counters are dense and in
 *     order within a round;
 *   - every acknowledged record is at its sequence number with the
 *     acknowledged contents; acknowledgements came in sequence order;
 *   - faii_ls_find() by the round's (round, thread) node keys gives exactly
 *     the records found by the scan; the latest checkpoint is the newest one
 *     completed (or newer) with the expected blob;
 *   - faii_ls_verify() after the reopen: intact, no torn tail left.
 * The next round appends to the same directory, so repairing a torn tail and
 * appending after it is exercised again and again.
 *
 *   ledger_crash [--rounds N] [--dir DIR] [--seed S] [--segment-size BYTES[KMG]]
 *                [--o-direct] [--round-mib M] [--keep] [--verbose]
 *
 * The test command runs 50 rounds. For a longer soak, set FAII_CRASH_ROUNDS
 * (e.g. FAII_CRASH_ROUNDS=1000 meson test -C build ledger_crash; it wins over
 * --rounds) or run build/tests/integration/ledger_crash --rounds 1000, with
 * --o-direct for the O_DIRECT write path. About 4 MiB of disk per round.
 * A failure prints the seed and round and keeps the directory; --seed S
 * replays the same plan (the kill timing itself is not reproducible).
 *
 * Cost control: records 1..durable_seq and every acknowledgement are re-read
 * in rounds 1, every max(25, N/4) and the last; in between, every record
 * after the previous round's durable_seq, the previous round's last 1024
 * acknowledgements and a random sample of 256 older records and 256 older
 * acknowledgements (faii_ls_verify re-checks every CRC and the chain from the
 * checkpoint every round). Each child appends at most --round-mib MiB
 * (default 6) so that the directory stays small.
 *
 * With --o-direct, a killed process's O_DIRECT writes can still be in flight
 * after it is reaped (io_uring ends the ring asynchronously). faii_ls_open
 * waits for them itself; the parent also waits before its read-only
 * faii_ls_verify, which cannot, so that verify and the reopen see the same
 * log. FAII_CRASH_NO_SETTLE=1 skips the parent's wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/falloc.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faii/ledger_store.h"

#define THREADS               4u
#define PAYLOAD_MAX           2048u
#define PAYLOAD_HEADER        32u         /* payloads this long carry their identity and checksum */
#define PAYLOAD_MAGIC         0x31524346u /* "FCR1" */
#define ACKS_PER_WRITE        128u        /* 128 x 32 bytes = PIPE_BUF: one atomic write */
#define HASH_RING             (1u << 16)  /* > 2 batches x 16384 records in flight */
#define FIRST_ACK_TIMEOUT_MS  10000
#define KILLED_EOF_TIMEOUT_MS 30000
#define FULL_EVERY            25u
#define PREV_ROUND_ACKS       1024u
#define SAMPLE_RECORDS        256u
#define SAMPLE_ACKS           256u
#define BLOB_MAX              600u
#define ROUNDS_MAX            (1u << 24) /* the round goes in the node key's upper 24 bits */
#define ENTRY_ACK             0u
#define ENTRY_CHECKPOINT      1u

/* One pipe entry, child to parent. */
struct entry {
	uint64_t seq;     /* ACK: the record; CHECKPOINT: seq_covered */
	uint64_t counter; /* ACK: the thread's counter */
	uint64_t hash;    /* ACK: record hash; CHECKPOINT: blob hash */
	uint16_t kind;    /* ENTRY_* */
	uint16_t thread;
	uint32_t round;
};
_Static_assert(sizeof(struct entry) == 32, "pipe entry");
_Static_assert(ACKS_PER_WRITE * sizeof(struct entry) <= 4096, "PIPE_BUF");

/* The identity and checksum at the start of payloads >= PAYLOAD_HEADER. */
struct payload_header {
	uint32_t magic;
	uint32_t round;
	uint32_t thread;
	uint32_t len;
	uint64_t counter;
	uint64_t checksum; /* hash of type, keys and payload with this field zero */
};
_Static_assert(sizeof(struct payload_header) == PAYLOAD_HEADER, "payload header");

/* A generated record. */
struct gen {
	uint16_t type;
	uint32_t len;
	struct faii_ls_keys keys;
	uint64_t hash; /* of type, keys and the whole payload */
	uint8_t payload[PAYLOAD_MAX];
};

/* What a round does, drawn from the seed. */
struct plan {
	uint32_t round;
	bool early_kill;          /* kill at early_ms after fork, acknowledged or not */
	uint32_t early_ms;        /*   (the child may still be recovering) */
	uint32_t kill_ms;         /* otherwise kill this long after the first ack, */
	uint64_t kill_acks;       /*   or once this many records are acknowledged */
	uint32_t write_kill;      /* the child kills itself during batch write n (0: no) */
	uint32_t short_write;     /* batch write n writes only part of it, then kill -9 */
	bool paced;               /* appenders wait for each record to be durable, */
	bool serial;              /*   one at a time: one-record batches */
	bool ckpt_at_open;        /* checkpoint right after open, before appending */
	uint32_t ckpt_under_load; /* checkpoints while appending (0..3) */
	uint32_t ckpt_every;      /* records durable between them */
	uint64_t budget_bytes;    /* payload bytes the child appends at most */
	uint64_t rng;             /* the child's own choices */
};

static struct {
	uint32_t rounds;
	char dir[512];
	bool dir_given;
	uint64_t seed;
	uint64_t segment_size;
	bool o_direct;
	uint64_t round_bytes;
	bool keep;
	bool verbose;
} cfg = {
        .rounds = 50,
        .segment_size = 4ull << 20,
        .round_bytes = 6ull << 20,
};

/* ---- hashing and generation --------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15ull;
	return mix64(*s);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
	const uint8_t *p = data;
	h ^= mix64(n + 0x5851F42D4C957F2Dull);
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix64(h ^ w) + 0x9E3779B97F4A7C15ull;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	return mix64(h ^ w ^ ((uint64_t)n << 56));
}

static uint64_t hash_keys(uint64_t h, const struct faii_ls_keys *k)
{
	uint64_t present = k->present;
	h = hash_bytes(h, &present, 8);
	if (k->present & FAII_LS_KEY_ROUND)
		h = hash_bytes(h, &k->round, 8);
	if (k->present & FAII_LS_KEY_EPOCH)
		h = hash_bytes(h, &k->epoch, 8);
	if (k->present & FAII_LS_KEY_NODE)
		h = hash_bytes(h, &k->node, 4);
	if (k->present & FAII_LS_KEY_DIGEST)
		h = hash_bytes(h, k->digest, FAII_LS_DIGEST_SIZE);
	return h;
}

static uint64_t record_hash(uint16_t type, const struct faii_ls_keys *keys, const void *payload,
                            uint32_t len)
{
	uint64_t type64 = type;
	uint64_t h = hash_bytes(0x243F6A8885A308D3ull, &type64, 8);
	h = hash_keys(h, keys);
	return hash_bytes(h, payload, len);
}

/* The payload's own checksum: the record hash with the checksum field zero. */
static uint64_t payload_checksum(uint16_t type, const struct faii_ls_keys *keys,
                                 const uint8_t *payload, uint32_t len)
{
	uint8_t copy[PAYLOAD_MAX];
	memcpy(copy, payload, len);
	memset(copy + offsetof(struct payload_header, checksum), 0, 8);
	return record_hash(type, keys, copy, len) ^ 0xC0FFEEull;
}

static uint32_t node_key(uint32_t round, uint32_t thread)
{
	return round << 8 | thread;
}

/*
 * Record `counter` of `thread` in `round`: a pure function of the seed and
 * that identity, so any record can be regenerated from the keys it carries
 * (node = round << 8 | thread, epoch = counter, always present).
 */
static void gen_record(uint32_t round, uint32_t thread, uint64_t counter, struct gen *g)
{
	uint64_t s = mix64(cfg.seed ^ mix64((uint64_t)node_key(round, thread) ^
	                                    mix64(counter ^ 0xA5A5A5A5ull)));
	uint64_t pick = rng_below(&s, 100);
	if (pick < 5)
		g->len = 0;
	else if (pick < 15)
		g->len = 1 + (uint32_t)rng_below(&s, PAYLOAD_HEADER - 1);
	else if (pick < 90)
		g->len = PAYLOAD_HEADER + (uint32_t)rng_below(&s, 1024 - PAYLOAD_HEADER + 1);
	else
		g->len = 1025 + (uint32_t)rng_below(&s, PAYLOAD_MAX - 1024);
	g->type = (uint16_t)(1 + rng_below(&s, FAII_LS_TYPE_USER_MAX));
	memset(&g->keys, 0, sizeof(g->keys));
	uint64_t which = rng_next(&s);
	g->keys.present = FAII_LS_KEY_NODE | FAII_LS_KEY_EPOCH;
	g->keys.node = node_key(round, thread);
	g->keys.epoch = counter;
	if (which & 1) {
		g->keys.present |= FAII_LS_KEY_ROUND;
		g->keys.round = round;
	}
	if (which & 2) {
		g->keys.present |= FAII_LS_KEY_DIGEST;
		for (unsigned i = 0; i < FAII_LS_DIGEST_SIZE; i += 8) {
			uint64_t w = rng_next(&s);
			memcpy(g->keys.digest + i, &w, 8);
		}
	}
	for (uint32_t i = 0; i < g->len; i += 8) {
		uint64_t w = rng_next(&s);
		memcpy(g->payload + i, &w, g->len - i < 8 ? g->len - i : 8);
	}
	if (g->len >= PAYLOAD_HEADER) {
		struct payload_header h = {
		        .magic = PAYLOAD_MAGIC,
		        .round = round,
		        .thread = thread,
		        .len = g->len,
		        .counter = counter,
		};
		memcpy(g->payload, &h, sizeof(h));
		h.checksum = payload_checksum(g->type, &g->keys, g->payload, g->len);
		memcpy(g->payload, &h, sizeof(h));
	}
	g->hash = record_hash(g->type, &g->keys, g->payload, g->len);
}

/* The checkpoint blob for seq_covered: a function of the seed and seq. */
static uint32_t gen_blob(uint64_t seq_covered, uint8_t *blob, uint64_t *hash)
{
	uint64_t s = mix64(cfg.seed ^ 0xB10Bull ^ mix64(seq_covered));
	uint32_t len = (uint32_t)rng_below(&s, BLOB_MAX + 1);
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t w = rng_next(&s);
		memcpy(blob + i, &w, len - i < 8 ? len - i : 8);
	}
	*hash = hash_bytes(seq_covered, blob, len);
	return len;
}

static bool keys_equal(const struct faii_ls_keys *a, const struct faii_ls_keys *b)
{
	if (a->present != b->present)
		return false;
	if ((a->present & FAII_LS_KEY_ROUND) && a->round != b->round)
		return false;
	if ((a->present & FAII_LS_KEY_EPOCH) && a->epoch != b->epoch)
		return false;
	if ((a->present & FAII_LS_KEY_NODE) && a->node != b->node)
		return false;
	if ((a->present & FAII_LS_KEY_DIGEST) &&
	    memcmp(a->digest, b->digest, FAII_LS_DIGEST_SIZE) != 0)
		return false;
	return true;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static struct faii_ls_options store_options(void)
{
	return (struct faii_ls_options){
	        .dir = cfg.dir,
	        .segment_size_bytes = cfg.segment_size,
	        .o_direct = cfg.o_direct,
	};
}

/* ---- the child ------------------------------------------------------------ */

static struct {
	const struct plan *plan;
	struct faii_ls *ls;
	int fd; /* the pipe's write end */
	uint64_t start_durable;
	_Atomic uint64_t bytes;
	int kill_fd; /* eventfd: the write to die in has started */
	pthread_mutex_t serial_lock;
	bool torn_batch; /* writer thread only: a short write was injected */
	uint32_t writes; /* writer thread only */
	_Atomic uint32_t write_len;
	/* Writer-thread only: acknowledgements not yet written. */
	struct entry pending[ACKS_PER_WRITE];
	unsigned npending;
	uint64_t last_acked;
	/* Record hashes by thread and counter, for the callbacks. */
	uint64_t hashes[THREADS][HASH_RING];
} child;

static void child_die(int code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "ledger_crash: child of round %u: %s\n", child.plan->round, msg);
	_exit(code);
}

/* Writes whole entries; a pipe write of <= PIPE_BUF bytes is atomic. */
static void child_write(const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(child.fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(5); /* the parent is gone */
		p += n;
		len -= (size_t)n;
	}
}

static void child_flush(void)
{
	if (child.npending > 0)
		child_write(child.pending, child.npending * sizeof(struct entry));
	child.npending = 0;
}

/* Runs on the store's writer thread, in sequence order. */
static void on_ack(void *arg, uint64_t seq, int status)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	uint32_t thread = (uint32_t)(id & 0xFFu);
	uint64_t counter = id >> 8;
	if (status != 0 && child.torn_batch) {
		/* The injected short write failed its batch, as it must: crash now,
		 * leaving the torn batch on disk. */
		child_flush();
		kill(getpid(), SIGKILL);
	}
	if (status != 0)
		child_die(4, "seq %" PRIu64 " failed: %s", seq, strerror(-status));
	if (seq <= child.last_acked)
		child_die(4, "acknowledgement of seq %" PRIu64 " after seq %" PRIu64, seq,
		          child.last_acked);
	child.last_acked = seq;
	child.pending[child.npending++] = (struct entry){
	        .seq = seq,
	        .counter = counter,
	        .hash = child.hashes[thread][counter % HASH_RING],
	        .kind = ENTRY_ACK,
	        .thread = (uint16_t)thread,
	        .round = child.plan->round,
	};
	/* Flush when full and at the end of each batch (durable_seq is the
	 * batch's last seq while its callbacks run). */
	if (child.npending == ACKS_PER_WRITE || seq == faii_ls_durable_seq(child.ls))
		child_flush();
}

/*
 * The fault hook, called on the writer thread just before each batch write.
 * At the planned write it wakes the killer thread (write_kill), or makes the
 * write short (short_write): a torn write, which fails the batch; its
 * callbacks then kill the process.
 */
static int64_t on_write(void *ctx, uint64_t segment, uint64_t offset, uint32_t len)
{
	(void)ctx, (void)segment, (void)offset;
	uint32_t n = ++child.writes;
	if (n == child.plan->write_kill) {
		atomic_store(&child.write_len, len);
		uint64_t one = 1;
		if (write(child.kill_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			child_die(3, "eventfd write: %s", strerror(errno));
	}
	if (n == child.plan->short_write) {
		uint64_t rng = child.plan->rng ^ len;
		/* O_DIRECT takes whole blocks only. */
		uint32_t unit = cfg.o_direct ? 4096u : 1u;
		if (len / unit >= 2) {
			child.torn_batch = true;
			return (int64_t)unit * (1 + (int64_t)rng_below(&rng, len / unit - 1));
		}
	}
	return 0;
}

/* kill -9s its own process a random moment into the planned batch write. */
static void *killer(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg, v;
	while (read(child.kill_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		if (errno != EINTR)
			child_die(3, "eventfd read: %s", strerror(errno));
	/* Somewhere in the copy into the page cache or to the device. */
	uint64_t delay_ns = 1000u * rng_below(&rng, atomic_load(&child.write_len) / 2048u + 100u);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t.tv_nsec -
	               (uint64_t)t0.tv_nsec <
	       delay_ns);
	kill(getpid(), SIGKILL);
	return NULL;
}

static void *appender(void *arg)
{
	uint32_t thread = (uint32_t)(uintptr_t)arg;
	struct gen *g = malloc(sizeof(*g));
	if (g == NULL)
		child_die(3, "out of memory");
	for (uint64_t counter = 0;; counter++) {
		if (atomic_load(&child.bytes) >= child.plan->budget_bytes)
			break;
		gen_record(child.plan->round, thread, counter, g);
		child.hashes[thread][counter % HASH_RING] = g->hash;
		if (child.plan->serial)
			pthread_mutex_lock(&child.serial_lock);
		atomic_fetch_add(&child.bytes, (uint64_t)g->len + 64u);
		int64_t seq = faii_ls_append(child.ls, g->type, &g->keys, g->payload, g->len,
		                             on_ack, (void *)(uintptr_t)(counter << 8 | thread));
		if (seq <= 0) {
			if (child.plan->serial)
				pthread_mutex_unlock(&child.serial_lock);
			if (child.plan->short_write)
				break; /* the store refuses appends after the torn write */
			child_die(4, "append: %s", strerror((int)-seq));
		}
		if (child.plan->paced) {
			int rc = faii_ls_wait_durable(child.ls, (uint64_t)seq, 10000);
			if (child.plan->serial)
				pthread_mutex_unlock(&child.serial_lock);
			if (rc != 0 && child.plan->short_write)
				break;
			if (rc != 0)
				child_die(4, "wait_durable(%" PRId64 "): %s", seq, strerror(-rc));
		}
	}
	/* The budget is spent: idle until killed. */
	for (;;)
		pause();
	return NULL;
}

static void child_checkpoint(uint64_t *rng)
{
	uint64_t durable = faii_ls_durable_seq(child.ls);
	if (durable == 0)
		return;
	/* Half the time the newest durable record, else anything before. */
	uint64_t seq = rng_below(rng, 2) ? durable : 1 + rng_below(rng, durable);
	uint8_t blob[BLOB_MAX];
	uint64_t hash;
	uint32_t len = gen_blob(seq, blob, &hash);
	int rc = faii_ls_checkpoint(child.ls, seq, blob, len);
	if (rc != 0)
		child_die(4, "checkpoint(%" PRIu64 "): %s", seq, strerror(-rc));
	struct entry e = {
	        .seq = seq, .hash = hash, .kind = ENTRY_CHECKPOINT, .round = child.plan->round};
	child_write(&e, sizeof(e));
}

static _Noreturn void child_main(const struct plan *plan, int fd)
{
	child.plan = plan;
	child.fd = fd;
	pthread_mutex_init(&child.serial_lock, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct faii_ls_options opt = store_options();
	uint64_t rng = plan->rng;
	if (plan->short_write)
		opt.fault = on_write;
	if (plan->write_kill) {
		child.kill_fd = eventfd(0, EFD_CLOEXEC);
		pthread_t th;
		if (child.kill_fd < 0 ||
		    pthread_create(&th, NULL, killer, (void *)(uintptr_t)rng_next(&rng)) != 0)
			child_die(3, "cannot start the killer thread");
		opt.fault = on_write;
	}
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(&opt, &child.ls, err);
	if (rc != 0)
		child_die(3, "faii_ls_open: %s (%s)", err, strerror(-rc));
	child.start_durable = faii_ls_durable_seq(child.ls);
	child.last_acked = child.start_durable;
	if (plan->ckpt_at_open)
		child_checkpoint(&rng);
	for (uint32_t t = 0; t < THREADS; t++) {
		pthread_t th;
		if (pthread_create(&th, NULL, appender, (void *)(uintptr_t)t) != 0)
			child_die(3, "pthread_create failed");
	}
	uint64_t next = child.start_durable + plan->ckpt_every;
	for (uint32_t i = 0; i < plan->ckpt_under_load;) {
		if (faii_ls_durable_seq(child.ls) >= next) {
			child_checkpoint(&rng);
			next = faii_ls_durable_seq(child.ls) + plan->ckpt_every;
			i++;
		} else {
			sleep_ms(1);
		}
	}
	for (;;)
		pause();
}

/* ---- the parent: bookkeeping ----------------------------------------------- */

struct ack {
	uint64_t seq;
	uint64_t counter;
	uint64_t hash;
	uint32_t round;
	uint32_t thread;
};

static struct {
	struct ack *acks;
	size_t nacks, cap;
	size_t prev_round_acks; /* the previous round's acknowledgements start here */
	uint64_t durable;       /* after the previous round */
	uint64_t max_ckpt;      /* largest seq_covered of a completed checkpoint */
	/* Scan state at `durable`: the next counter of each (round, thread). */
	uint64_t *next_counter;
	uint32_t last_round_seen;
	/* Totals. */
	uint64_t records_verified, acks_verified, torn_bytes, torn_rounds, checkpoints;
	uint64_t unacked_recovered, write_kills, short_writes;
	uint32_t failures;
	uint32_t round; /* being checked, for messages */
	struct gen gen, got;
} st;

static void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr,
	        "ledger_crash: FAIL round %u (seed %" PRIu64 ", replay with --seed %" PRIu64
	        " --rounds %u%s): %s\n",
	        st.round, cfg.seed, cfg.seed, st.round, cfg.o_direct ? " --o-direct" : "", msg);
	st.failures++;
}

static struct plan make_plan(uint32_t round)
{
	uint64_t s = mix64(cfg.seed ^ mix64(0x9E3779B9ull * round + 1));
	struct plan p = {.round = round};
	p.early_kill = round > 1 && rng_below(&s, 10) == 0;
	p.early_ms = (uint32_t)rng_below(&s, 40);
	p.kill_ms = 5 + (uint32_t)rng_below(&s, 196);
	p.paced = rng_below(&s, 5) == 0;
	p.serial = p.paced && rng_below(&s, 2) == 0;
	p.budget_bytes = cfg.round_bytes / 4 + rng_below(&s, cfg.round_bytes - cfg.round_bytes / 4);
	p.kill_acks = 1 + rng_below(&s, p.budget_bytes / 1100u);
	/* Four in ten rounds die in a batch write, one in eight after a short
	 * one: torn tails. */
	uint64_t how = rng_below(&s, 40);
	if (!p.early_kill && how < 16)
		p.write_kill = 1 + (uint32_t)rng_below(&s, p.paced ? 64 : 4);
	else if (!p.early_kill && how < 21)
		p.short_write = 1 + (uint32_t)rng_below(&s, p.paced ? 64 : 4);
	p.ckpt_at_open = rng_below(&s, 5) == 0;
	p.ckpt_under_load = rng_below(&s, 3) == 0 ? 1 + (uint32_t)rng_below(&s, 3) : 0;
	p.ckpt_every = 1 + (uint32_t)rng_below(&s, 3000);
	p.rng = rng_next(&s);
	return p;
}

static int take_entry(const struct entry *e, uint32_t round, uint64_t *last_counter,
                      bool *seen_thread)
{
	if (e->round != round) {
		fail("pipe entry of round %u during round %u", e->round, round);
		return -1;
	}
	if (e->kind == ENTRY_CHECKPOINT) {
		uint8_t blob[BLOB_MAX];
		uint64_t hash;
		gen_blob(e->seq, blob, &hash);
		if (hash != e->hash) {
			fail("checkpoint %" PRIu64 ": the child reported another blob", e->seq);
			return -1;
		}
		if (e->seq > st.max_ckpt)
			st.max_ckpt = e->seq;
		st.checkpoints++;
		return 0;
	}
	if (e->kind != ENTRY_ACK || e->thread >= THREADS) {
		fail("garbled pipe entry (kind %u thread %u)", e->kind, e->thread);
		return -1;
	}
	uint64_t last = st.nacks ? st.acks[st.nacks - 1].seq : 0;
	if (e->seq <= last || e->seq <= st.durable) {
		fail("acknowledgement of seq %" PRIu64 " after seq %" PRIu64
		     " (durable before the round %" PRIu64 "): out of order",
		     e->seq, last, st.durable);
		return -1;
	}
	if (seen_thread[e->thread] && e->counter <= last_counter[e->thread]) {
		fail("thread %u: counter %" PRIu64 " acknowledged after counter %" PRIu64,
		     e->thread, e->counter, last_counter[e->thread]);
		return -1;
	}
	seen_thread[e->thread] = true;
	last_counter[e->thread] = e->counter;
	gen_record(round, e->thread, e->counter, &st.gen);
	if (st.gen.hash != e->hash) {
		fail("seq %" PRIu64 ": the child acknowledged a record other than thread %u "
		     "counter %" PRIu64,
		     e->seq, e->thread, e->counter);
		return -1;
	}
	if (st.nacks == st.cap) {
		size_t cap = st.cap ? 2 * st.cap : 65536;
		struct ack *grown = realloc(st.acks, cap * sizeof(*grown));
		if (grown == NULL) {
			fail("out of memory");
			return -1;
		}
		st.acks = grown;
		st.cap = cap;
	}
	st.acks[st.nacks++] = (struct ack){e->seq, e->counter, e->hash, e->round, e->thread};
	return 0;
}

/*
 * Runs the child, collects its acknowledgements, kills it. Returns 0, or -1
 * when the round failed (the child is reaped either way).
 */
static int run_child(const struct plan *plan, uint64_t *acked, uint64_t *partial_bytes)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fail("pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(plan, fds[1]);
	}
	close(fds[1]);

	uint64_t start = now_ms(), kill_at = plan->early_kill ? start + plan->early_ms : 0;
	uint64_t first_ack_deadline = start + FIRST_ACK_TIMEOUT_MS;
	bool killed = false, eof = false, timed_out = false;
	int rc = 0;
	uint8_t buf[1 << 16];
	size_t have = 0;
	uint64_t last_counter[THREADS] = {0};
	bool seen_thread[THREADS] = {false};
	size_t acks_before = st.nacks;
	uint64_t first_ack_ms = 0, last_ack_ms = 0;
	while (!eof) {
		uint64_t now = now_ms();
		if (!killed && kill_at == 0 && now >= first_ack_deadline) {
			timed_out = true;
			kill_at = now;
		}
		if (!killed && kill_at != 0 && now >= kill_at) {
			kill(pid, SIGKILL);
			killed = true;
		}
		/* Once killed, the pipe reaches EOF when the child is gone. */
		int timeout = KILLED_EOF_TIMEOUT_MS;
		if (!killed)
			timeout = (int)((kill_at ? kill_at : first_ack_deadline) - now);
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR) {
			fail("poll: %s", strerror(errno));
			rc = -1;
			if (!killed)
				kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (n == 0 && killed) {
			fail("the pipe stayed open %d s after kill -9",
			     KILLED_EOF_TIMEOUT_MS / 1000);
			rc = -1;
			break;
		}
		if (n <= 0)
			continue;
		ssize_t got = read(fds[0], buf + have, sizeof(buf) - have);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail("read: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (got == 0) {
			eof = true;
			break;
		}
		have += (size_t)got;
		size_t whole = have / sizeof(struct entry);
		for (size_t i = 0; i < whole && rc == 0; i++) {
			struct entry e;
			memcpy(&e, buf + i * sizeof(e), sizeof(e));
			if (take_entry(&e, plan->round, last_counter, seen_thread) != 0)
				rc = -1;
		}
		memmove(buf, buf + whole * sizeof(struct entry),
		        have - whole * sizeof(struct entry));
		have -= whole * sizeof(struct entry);
		if (rc != 0 && !killed) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (kill_at == 0 && st.nacks > acks_before) {
			kill_at = now_ms() + plan->kill_ms;
			first_ack_ms = now_ms() - start;
		}
		if (!killed && st.nacks - acks_before >= plan->kill_acks) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (st.nacks > acks_before)
			last_ack_ms = now_ms() - start;
	}
	if (!killed)
		kill(pid, SIGKILL); /* reaped below whatever happened */
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*acked = st.nacks - acks_before;
	if (cfg.verbose)
		printf("round %u: child ran %" PRIu64 " ms, first ack at %" PRIu64
		       " ms, last at %" PRIu64 " ms, kill planned %u ms after the first\n",
		       plan->round, now_ms() - start, first_ack_ms, last_ack_ms, plan->kill_ms);
	*partial_bytes = have; /* a partial trailing entry is ignored */
	if (timed_out) {
		fail("the child acknowledged nothing within %d s", FIRST_ACK_TIMEOUT_MS / 1000);
		return -1;
	}
	bool self_killed = !killed && (plan->write_kill || plan->short_write) &&
	                   WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (self_killed && plan->write_kill)
		st.write_kills++;
	else if (self_killed)
		st.short_writes++;
	else if (!killed || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		if (WIFEXITED(status))
			fail("the child exited with status %d before it was killed",
			     WEXITSTATUS(status));
		else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			fail("the child died of signal %d", WTERMSIG(status));
		else
			fail("the child's pipe closed before it was killed");
		return -1;
	}
	return rc;
}

/* ---- the parent: checks ----------------------------------------------------- */

struct scan {
	uint64_t *next_counter; /* by round * THREADS + thread */
	uint32_t last_round;
	uint64_t *round_seqs[THREADS]; /* this round's records, by thread */
	size_t round_count[THREADS], round_cap[THREADS];
	const struct ack *ack; /* next acknowledgement to meet, by seq */
	const struct ack *ack_end;
};

/*
 * Reads record seq, checks it is whole (its own checksum and a regeneration
 * from its identity) and returns its identity.
 */
static int check_record(struct faii_ls *ls, uint64_t seq, uint32_t *round, uint32_t *thread,
                        uint64_t *counter, uint64_t *hash)
{
	struct faii_ls_record rec;
	memset(&rec, 0, sizeof(rec));
	int rc = faii_ls_read(ls, seq, &rec, st.got.payload, sizeof(st.got.payload));
	if (rc != 0) {
		fail("faii_ls_read(%" PRIu64 ") = %d (%s), durable_seq %" PRIu64, seq, rc,
		     strerror(-rc), faii_ls_durable_seq(ls));
		return -1;
	}
	if (rec.seq != seq) {
		fail("faii_ls_read(%" PRIu64 ") returned seq %" PRIu64, seq, rec.seq);
		return -1;
	}
	if (rec.payload_len > PAYLOAD_MAX) {
		fail("seq %" PRIu64 ": payload of %u bytes, more than any written", seq,
		     rec.payload_len);
		return -1;
	}
	if ((rec.keys.present & (FAII_LS_KEY_NODE | FAII_LS_KEY_EPOCH)) !=
	    (FAII_LS_KEY_NODE | FAII_LS_KEY_EPOCH)) {
		fail("seq %" PRIu64 ": keys 0x%x lack the node and epoch keys", seq,
		     rec.keys.present);
		return -1;
	}
	*round = rec.keys.node >> 8;
	*thread = rec.keys.node & 0xFFu;
	*counter = rec.keys.epoch;
	if (*thread >= THREADS || *round == 0 || *round > st.round) {
		fail("seq %" PRIu64 ": node key 0x%x names no writer (round %u thread %u)", seq,
		     rec.keys.node, *round, *thread);
		return -1;
	}
	const uint8_t *p = st.got.payload;
	uint32_t len = rec.payload_len;
	if (len >= PAYLOAD_HEADER) {
		struct payload_header h;
		memcpy(&h, p, sizeof(h));
		if (h.magic != PAYLOAD_MAGIC || h.round != *round || h.thread != *thread ||
		    h.len != len || h.counter != *counter) {
			fail("seq %" PRIu64 ": payload header (magic %08x round %u thread %u len "
			     "%u counter %" PRIu64 ") disagrees with the record (round %u thread "
			     "%u len %u counter %" PRIu64 ")",
			     seq, h.magic, h.round, h.thread, h.len, h.counter, *round, *thread,
			     len, *counter);
			return -1;
		}
		if (payload_checksum(rec.type, &rec.keys, p, len) != h.checksum) {
			fail("seq %" PRIu64 " (round %u thread %u counter %" PRIu64
			     "): payload checksum mismatch: a partial or damaged record",
			     seq, *round, *thread, *counter);
			return -1;
		}
	}
	gen_record(*round, *thread, *counter, &st.gen);
	if (rec.type != st.gen.type || len != st.gen.len || !keys_equal(&rec.keys, &st.gen.keys) ||
	    memcmp(p, st.gen.payload, len) != 0) {
		fail("seq %" PRIu64 " (round %u thread %u counter %" PRIu64
		     "): type %u len %u keys 0x%x differ from the record written (type %u len %u "
		     "keys 0x%x) or its payload does",
		     seq, *round, *thread, *counter, rec.type, len, rec.keys.present, st.gen.type,
		     st.gen.len, st.gen.keys.present);
		return -1;
	}
	*hash = st.gen.hash;
	st.records_verified++;
	return 0;
}

static int check_ack(const struct ack *a, uint64_t seq, uint32_t round, uint32_t thread,
                     uint64_t counter, uint64_t hash)
{
	if (a->round != round || a->thread != thread || a->counter != counter || a->hash != hash) {
		fail("seq %" PRIu64 ": acknowledged as round %u thread %u counter %" PRIu64
		     " (hash %016" PRIx64 ") but reads back as round %u thread %u counter "
		     "%" PRIu64 " (hash %016" PRIx64 ")",
		     seq, a->round, a->thread, a->counter, a->hash, round, thread, counter, hash);
		return -1;
	}
	st.acks_verified++;
	return 0;
}

static const struct ack *first_ack_from(uint64_t seq)
{
	size_t lo = 0, hi = st.nacks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st.acks[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return st.acks ? st.acks + lo : NULL; /* no acknowledgement yet: no array */
}

/* Records from..to in order: whole, dense, per-thread counters dense. */
static int scan_range(struct faii_ls *ls, uint64_t from, uint64_t to, struct scan *sc)
{
	sc->ack = first_ack_from(from);
	sc->ack_end = st.acks ? st.acks + st.nacks : NULL;
	for (uint64_t seq = from; seq <= to; seq++) {
		uint32_t round, thread;
		uint64_t counter, hash;
		if (check_record(ls, seq, &round, &thread, &counter, &hash) != 0)
			return -1;
		if (round < sc->last_round) {
			fail("seq %" PRIu64 " is of round %u, after a record of round %u", seq,
			     round, sc->last_round);
			return -1;
		}
		sc->last_round = round;
		uint64_t *next = &sc->next_counter[(size_t)round * THREADS + thread];
		if (counter != *next) {
			fail("seq %" PRIu64 ": round %u thread %u counter %" PRIu64
			     ", expected %" PRIu64 " (a thread's records are dense and in order)",
			     seq, round, thread, counter, *next);
			return -1;
		}
		(*next)++;
		if (sc->ack < sc->ack_end && sc->ack->seq == seq) {
			if (check_ack(sc->ack, seq, round, thread, counter, hash) != 0)
				return -1;
			sc->ack++;
		} else if (round == st.round) {
			st.unacked_recovered++;
		}
		if (round == st.round) {
			if (sc->round_count[thread] == sc->round_cap[thread]) {
				size_t cap =
				        sc->round_cap[thread] ? 2 * sc->round_cap[thread] : 4096;
				uint64_t *grown =
				        realloc(sc->round_seqs[thread], cap * sizeof(uint64_t));
				if (grown == NULL) {
					fail("out of memory");
					return -1;
				}
				sc->round_seqs[thread] = grown;
				sc->round_cap[thread] = cap;
			}
			sc->round_seqs[thread][sc->round_count[thread]++] = seq;
		}
	}
	return 0;
}

/* Acknowledgements a..b, each read back and compared. */
static int check_acks(struct faii_ls *ls, const struct ack *a, const struct ack *b)
{
	for (; a < b; a++) {
		uint32_t round, thread;
		uint64_t counter, hash;
		if (check_record(ls, a->seq, &round, &thread, &counter, &hash) != 0 ||
		    check_ack(a, a->seq, round, thread, counter, hash) != 0)
			return -1;
	}
	return 0;
}

/* The index by node key gives exactly the scan's records of this round. */
static int check_find(struct faii_ls *ls, const struct scan *sc)
{
	for (uint32_t t = 0; t < THREADS; t++) {
		size_t want = sc->round_count[t];
		uint64_t *seqs = malloc((want + 2) * sizeof(uint64_t));
		if (seqs == NULL) {
			fail("out of memory");
			return -1;
		}
		uint32_t node = node_key(st.round, t);
		int n = faii_ls_find(ls, FAII_LS_KEY_NODE, &node, seqs, want + 2);
		int rc = 0;
		if (n < 0 || (size_t)n != want) {
			fail("faii_ls_find(node round %u thread %u) = %d, expected %zu records%s",
			     st.round, t, n, want,
			     n > (int)want ? " (duplicate or phantom index entries)" : "");
			rc = -1;
		}
		for (size_t i = 0; rc == 0 && i < want; i++) {
			if (seqs[i] != sc->round_seqs[t][i]) {
				fail("faii_ls_find(node round %u thread %u): result %zu is seq "
				     "%" PRIu64 ", expected %" PRIu64,
				     st.round, t, i, seqs[i], sc->round_seqs[t][i]);
				rc = -1;
			}
		}
		free(seqs);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int check_checkpoint(struct faii_ls *ls, uint64_t durable)
{
	uint64_t seq;
	size_t len;
	uint8_t blob[BLOB_MAX + 8], want[BLOB_MAX];
	int rc = faii_ls_checkpoint_get(ls, &seq, blob, sizeof(blob), &len);
	if (rc == -ENOENT) {
		if (st.max_ckpt != 0) {
			fail("no checkpoint after reopening, but checkpoint %" PRIu64
			     " was completed",
			     st.max_ckpt);
			return -1;
		}
		return 0;
	}
	if (rc != 0) {
		fail("faii_ls_checkpoint_get: %s", strerror(-rc));
		return -1;
	}
	uint64_t hash;
	uint32_t want_len = gen_blob(seq, want, &hash);
	if (seq < st.max_ckpt || seq > durable || len != want_len || memcmp(blob, want, len)) {
		fail("checkpoint after reopening covers seq %" PRIu64 " with a %zu-byte blob; "
		     "expected seq >= %" PRIu64 " (the newest completed) and <= %" PRIu64
		     " (durable) with its %u-byte blob",
		     seq, len, st.max_ckpt, durable, want_len);
		return -1;
	}
	return 0;
}

static void free_scan(struct scan *sc)
{
	for (uint32_t t = 0; t < THREADS; t++)
		free(sc->round_seqs[t]);
	free(sc->next_counter);
}

/*
 * A killed process is reaped before its in-flight O_DIRECT writes complete:
 * io_uring tears the ring down asynchronously, and the bios finish on their
 * own. Wait for them as a restart after a real crash would (the device has
 * them or not by then): fallocate() waits for direct I/O in flight on the
 * inode (inode_dio_wait on ext4 and XFS); the range is already allocated, so
 * nothing changes on disk.
 */
static void settle_direct_io(void)
{
	DIR *d = opendir(cfg.dir);
	if (d == NULL)
		return;
	struct dirent *e;
	char path[1024];
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "segment-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", cfg.dir, e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			(void)fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096);
			close(fd);
		}
	}
	closedir(d);
}

/* Reopens the store after the crash of round `round` and checks it. */
static int check_round(uint32_t round, size_t round_acks_from, uint64_t *seed_state)
{
	char err[FAII_LS_ERR_LEN];
	struct faii_ls_verify_report before, after;
	if (cfg.o_direct && !getenv("FAII_CRASH_NO_SETTLE"))
		settle_direct_io();
	int rc = faii_ls_verify(cfg.dir, &before, err);
	if (rc != 0) {
		fail("faii_ls_verify before reopening: %s (%s)", err, strerror(-rc));
		return -1;
	}
	struct faii_ls_options opt = store_options();
	struct faii_ls *ls;
	rc = faii_ls_open(&opt, &ls, err);
	if (rc != 0) {
		fail("faii_ls_open after the crash: %s (%s)", err, strerror(-rc));
		return -1;
	}
	struct faii_ls_stats stats;
	faii_ls_get_stats(ls, &stats);
	uint64_t durable = faii_ls_durable_seq(ls);
	uint64_t max_acked = st.nacks ? st.acks[st.nacks - 1].seq : 0;
	struct scan sc;
	memset(&sc, 0, sizeof(sc));
	size_t counters = ((size_t)round + 1) * THREADS;
	sc.next_counter = calloc(counters, sizeof(uint64_t));
	if (sc.next_counter == NULL) {
		fail("out of memory");
		rc = -1;
		goto out;
	}
	rc = -1;
	if (stats.error != 0 || stats.durable_seq != durable) {
		fail("stats after reopening: error %d, durable %" PRIu64 " vs %" PRIu64,
		     stats.error, stats.durable_seq, durable);
		goto out;
	}
	if (durable < max_acked || durable < st.durable) {
		fail("durable_seq %" PRIu64 " after reopening, but seq %" PRIu64
		     " was acknowledged and %" PRIu64 " was durable before the round",
		     durable, max_acked, st.durable);
		goto out;
	}
	if (before.last_seq != durable || before.torn_tail_bytes != stats.truncated_bytes) {
		fail("faii_ls_verify before reopening saw last seq %" PRIu64 " and a %" PRIu64
		     "-byte torn tail; the reopen recovered %" PRIu64 " and truncated %" PRIu64
		     " bytes",
		     before.last_seq, before.torn_tail_bytes, durable, stats.truncated_bytes);
		goto out;
	}
	struct faii_ls_record rec;
	int r = faii_ls_read(ls, durable + 1, &rec, NULL, 0);
	if (r != -ENOENT) {
		fail("faii_ls_read(durable_seq + 1 = %" PRIu64 ") = %d, expected -ENOENT",
		     durable + 1, r);
		goto out;
	}
	/* Records: all of them now and then, else those new since the last round. */
	uint32_t every = cfg.rounds / 4 > FULL_EVERY ? cfg.rounds / 4 : FULL_EVERY;
	bool full = round == 1 || round % every == 0 || round == cfg.rounds;
	uint64_t from = 1;
	if (full) {
		sc.last_round = 0;
	} else {
		from = st.durable + 1;
		memcpy(sc.next_counter, st.next_counter,
		       (size_t)round * THREADS * sizeof(uint64_t));
		sc.last_round = st.last_round_seen;
	}
	if (scan_range(ls, from, durable, &sc) != 0)
		goto out;
	if (sc.ack != sc.ack_end) {
		fail("acknowledged seq %" PRIu64 " not met in the scan up to %" PRIu64, sc.ack->seq,
		     durable);
		goto out;
	}
	if (!full) {
		/* The previous round's last acknowledgements (the records next to the
		 * tail recovery worked on), then a sample of older ones. */
		size_t prev = st.prev_round_acks;
		if (round_acks_from - prev > PREV_ROUND_ACKS)
			prev = round_acks_from - PREV_ROUND_ACKS;
		if (st.acks && check_acks(ls, st.acks + prev, st.acks + round_acks_from) != 0)
			goto out;
		for (unsigned i = 0; i < SAMPLE_RECORDS && st.durable > 0; i++) {
			uint32_t rr, tt;
			uint64_t cc, hh;
			if (check_record(ls, 1 + rng_below(seed_state, st.durable), &rr, &tt, &cc,
			                 &hh) != 0)
				goto out;
		}
		for (unsigned i = 0; i < SAMPLE_ACKS && round_acks_from > 0; i++) {
			const struct ack *a = st.acks + rng_below(seed_state, round_acks_from);
			if (check_acks(ls, a, a + 1) != 0)
				goto out;
		}
	}
	if (stats.index_overflow == 0 && check_find(ls, &sc) != 0)
		goto out;
	if (check_checkpoint(ls, durable) != 0)
		goto out;
	rc = faii_ls_verify(cfg.dir, &after, err);
	if (rc != 0) {
		fail("faii_ls_verify after reopening: %s (%s)", err, strerror(-rc));
		rc = -1;
		goto out;
	}
	if (after.last_seq != durable || after.torn_tail_bytes != 0) {
		fail("faii_ls_verify after reopening: last seq %" PRIu64 " (durable %" PRIu64
		     "), torn tail %" PRIu64 " bytes (expected none: the reopen repairs it)",
		     after.last_seq, durable, after.torn_tail_bytes);
		rc = -1;
		goto out;
	}
	/* Keep the scan state at durable for the next round. */
	memcpy(st.next_counter, sc.next_counter, counters * sizeof(uint64_t));
	st.last_round_seen = sc.last_round;
	st.durable = durable;
	st.torn_bytes += stats.truncated_bytes;
	st.torn_rounds += stats.truncated_bytes > 0;
	if (cfg.verbose)
		printf("round %u: durable %" PRIu64 ", torn %" PRIu64 " bytes, %" PRIu64
		       " segments, checkpoint %" PRIu64 ", %s check from seq %" PRIu64 "\n",
		       round, durable, stats.truncated_bytes, stats.segments, before.checkpoint_seq,
		       full ? "full" : "incremental", from);
	rc = 0;
out:
	faii_ls_close(ls);
	free_scan(&sc);
	return rc;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: ledger_crash [--rounds N] [--dir DIR] [--seed S] [--segment-size B[KMG]]\n"
	        "                    [--o-direct] [--round-mib M] [--keep] [--verbose]\n"
	        "Kills a child appending to a ledger store N times (default 50, or\n"
	        "FAII_CRASH_ROUNDS) and checks recovery after each kill.\n");
}

static bool parse_u64(const char *s, uint64_t *v, bool suffix)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *s == '-')
		return false;
	uint64_t mult = 1;
	if (suffix && *end != '\0') {
		switch (*end) {
		case 'k':
		case 'K': mult = 1ull << 10; break;
		case 'm':
		case 'M': mult = 1ull << 20; break;
		case 'g':
		case 'G': mult = 1ull << 30; break;
		default: return false;
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
	}
	if (*end != '\0' || x > UINT64_MAX / mult)
		return false;
	*v = x * mult;
	return true;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"rounds", required_argument, NULL, 'r'},
	        {"dir", required_argument, NULL, 'd'},
	        {"seed", required_argument, NULL, 's'},
	        {"segment-size", required_argument, NULL, 'S'},
	        {"o-direct", no_argument, NULL, 'D'},
	        {"round-mib", required_argument, NULL, 'b'},
	        {"keep", no_argument, NULL, 'k'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *env = getenv("FAII_CRASH_ROUNDS");
	uint64_t v;
	bool rounds_given = false, seed_given = false;
	if (env && *env) {
		if (!parse_u64(env, &v, false) || v == 0 || v >= ROUNDS_MAX) {
			fprintf(stderr, "ledger_crash: bad FAII_CRASH_ROUNDS=%s\n", env);
			return -1;
		}
		cfg.rounds = (uint32_t)v;
	}
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!parse_u64(optarg, &v, false) || v == 0 || v >= ROUNDS_MAX)
				goto bad;
			if (!(env && *env))
				cfg.rounds = (uint32_t)v; /* FAII_CRASH_ROUNDS wins */
			rounds_given = true;
			break;
		case 'd':
			if (strlen(optarg) >= sizeof(cfg.dir) - 64)
				goto bad;
			snprintf(cfg.dir, sizeof(cfg.dir), "%s", optarg);
			cfg.dir_given = true;
			break;
		case 's':
			if (!parse_u64(optarg, &cfg.seed, false))
				goto bad;
			seed_given = true;
			break;
		case 'S':
			if (!parse_u64(optarg, &cfg.segment_size, true))
				goto bad;
			break;
		case 'D': cfg.o_direct = true; break;
		case 'b':
			if (!parse_u64(optarg, &v, false) || v == 0 || v > 4096)
				goto bad;
			cfg.round_bytes = v << 20;
			break;
		case 'k': cfg.keep = true; break;
		case 'v': cfg.verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	(void)rounds_given;
	if (!seed_given) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		cfg.seed = mix64(t ^ ((uint64_t)getpid() << 32)) % 1000000000000ull;
	}
	return 0;
bad:
	usage(stderr);
	return -1;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	char path[1024];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (cfg.dir_given) {
		/* Records are regenerated from the seed and round: start empty. */
		DIR *d = opendir(cfg.dir);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				fprintf(stderr, "ledger_crash: %s is not empty\n", cfg.dir);
				closedir(d);
				return 2;
			}
		}
		if (d != NULL)
			closedir(d);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(cfg.dir, sizeof(cfg.dir), "%s/ledger_crash.XXXXXX",
		         tmp && *tmp && strlen(tmp) < 400 ? tmp : "/tmp");
		if (mkdtemp(cfg.dir) == NULL) {
			fprintf(stderr, "ledger_crash: mkdtemp %s: %s\n", cfg.dir, strerror(errno));
			return 1;
		}
	}
	printf("ledger_crash: seed %" PRIu64 ", %u rounds, %u threads, dir %s, segment %" PRIu64
	       " bytes%s\n",
	       cfg.seed, cfg.rounds, THREADS, cfg.dir, cfg.segment_size,
	       cfg.o_direct ? ", O_DIRECT" : "");
	fflush(stdout);
	st.next_counter = calloc(((size_t)cfg.rounds + 1) * THREADS, sizeof(uint64_t));
	if (st.next_counter == NULL) {
		fprintf(stderr, "ledger_crash: out of memory\n");
		return 1;
	}
	uint64_t check_rng = mix64(cfg.seed ^ 0xC4EC4ull);
	uint64_t start = now_ms(), partial_total = 0, early = 0, paced = 0;
	uint32_t completed = 0;
	for (uint32_t round = 1; round <= cfg.rounds && st.failures == 0; round++) {
		st.round = round;
		struct plan plan = make_plan(round);
		size_t acks_from = st.nacks;
		uint64_t acked = 0, partial = 0;
		if (cfg.verbose)
			printf("round %u: plan: %s kill %u ms, %" PRIu64 " acks; kill in write %u, "
			       "short write %u; %s; checkpoint at open %d, under load %u every %u; "
			       "budget %" PRIu64 " bytes\n",
			       round, plan.early_kill ? "early" : "after the first ack",
			       plan.early_kill ? plan.early_ms : plan.kill_ms, plan.kill_acks,
			       plan.write_kill, plan.short_write,
			       plan.serial  ? "serial"
			       : plan.paced ? "paced"
			                    : "flood",
			       plan.ckpt_at_open, plan.ckpt_under_load, plan.ckpt_every,
			       plan.budget_bytes);
		early += plan.early_kill;
		paced += plan.paced;
		if (run_child(&plan, &acked, &partial) != 0)
			break;
		partial_total += partial;
		uint64_t t0 = now_ms();
		if (check_round(round, acks_from, &check_rng) != 0)
			break;
		if (cfg.verbose)
			printf("round %u: checks took %" PRIu64 " ms\n", round, now_ms() - t0);
		st.prev_round_acks = acks_from;
		completed++;
		if (cfg.verbose)
			printf("round %u: %" PRIu64 " acknowledged (%s%s%s)\n", round, acked,
			       plan.early_kill ? "early kill, " : "",
			       plan.serial  ? "serial, "
			       : plan.paced ? "paced, "
			                    : "",
			       plan.ckpt_at_open || plan.ckpt_under_load ? "checkpoints" : "-");
	}
	printf("ledger_crash: %u rounds, %zu acknowledged records verified, %" PRIu64
	       " torn bytes truncated, %u failures (%" PRIu64 " record reads and %" PRIu64
	       " acknowledgement checks; torn tails in %" PRIu64 " rounds; %" PRIu64
	       " unacknowledged records recovered; %" PRIu64 " checkpoints; %" PRIu64
	       " early kills, %" PRIu64 " kills in a write, %" PRIu64 " torn writes, %" PRIu64
	       " paced rounds; %" PRIu64 " partial pipe bytes ignored; %.1f s)\n",
	       completed, st.nacks, st.torn_bytes, st.failures, st.records_verified,
	       st.acks_verified, st.torn_rounds, st.unacked_recovered, st.checkpoints, early,
	       st.write_kills, st.short_writes, paced, partial_total,
	       (double)(now_ms() - start) / 1000.0);
	if (st.failures == 0 && !cfg.dir_given && !cfg.keep)
		remove_dir(cfg.dir);
	else if (st.failures != 0)
		fprintf(stderr, "ledger_crash: the store is kept in %s\n", cfg.dir);
	free(st.acks);
	free(st.next_counter);
	return st.failures ? 1 : 0;
}
