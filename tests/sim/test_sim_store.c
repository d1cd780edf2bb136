/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ledger store on the simulated disk (sim_disk.h), deterministic from
 * seeds: TigerBeetle's VOPR idea for storage, SQLite's crash VFS extended to
 * reads.
 *
 *   test_sim_store torn     torn final batches replayed: kill -9 in the middle
 *                           of a write (at arbitrary bytes, O_DIRECT too) and
 *                           power loss tearing it at sectors; every
 *                           acknowledged record intact, the tail truncated,
 *                           nothing after it, the chain valid, appends dense.
 *   test_sim_store corrupt  a flipped bit before the tail, or in the final
 *                           batch after a clean close, at rest or only on
 *                           reads (a latent sector error), is refused by open
 *                           and verify with -EBADMSG naming the segment and
 *                           offset; a read of a whole record over one fails
 *                           with -EIO.
 *   test_sim_store seeds    SEEDS_DEFAULT seeds: random appends, checkpoints,
 *                           reads, clean and unclean restarts, crash points and
 *                           injected faults; acknowledged => present and intact
 *                           after any crash, a failed append => no append until
 *                           reopened, open never refuses, no crash, no hang.
 *   test_sim_store replay   one seed twice: byte-identical I/O traces.
 *
 * A failing seed prints FAII_SIM_SEED=<seed> and the end of its trace;
 *   FAII_SIM_SEED=<seed> test_sim_store seeds    replays exactly that seed,
 *   FAII_SIM_SOAK=<n> test_sim_store seeds       runs n seeds (a soak CI skips),
 *   FAII_SIM_FIRST_SEED=<s>                      starts the seeds at s,
 *   FAII_SIM_TRACE=<n>                           prints the last n trace events.
 * The program is single-threaded apart from the store's writer; each record
 * is appended with faii_ls_append_wait(), which keeps the disk's operations
 * in one order, and so the run deterministic.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faii/assert.h"
#include "faii/ledger_store.h"
#include "faii/store_io.h"
#include "sim_disk.h"

#define SIM_DIR             "/ledger"
#define SEGMENT_BYTES       (4ull << 20) /* the store's minimum: rolls come early */
#define INDEX_ENTRIES       4096u
#define SEEDS_DEFAULT       200u
#define SEEDS_SOAK_MAX      100000000u
#define STEPS_PER_SEED      48u
#define RECORDS_MAX         4096u /* per seed: one append per step at most, and a few more */
#define PAYLOAD_SMALL_MAX   3000u
#define PAYLOAD_BIG_MIN     (256u << 10)
#define PAYLOAD_BIG_MAX     FAII_LS_RECORD_PAYLOAD_MAX
#define PAYLOAD_CHECK_BYTES 4096u /* payload bytes compared at intermediate checks */
#define BLOB_BYTES_MAX      600u
#define OPEN_ATTEMPTS_MAX   6u
#define SEED_TIMEOUT_S      120u
#define TRACE_PRINT_EVENTS  60u
#define RECORD_MAGIC        0x52534946u /* "FISR" */
#define NODE_KEYS           13u
#define SHAPE_TORN          255u  /* record_shape: the torn scenario's fixed length */
#define TORN_LEN            5000u /* two blocks with O_DIRECT */

FAII_STATIC_ASSERT(STEPS_PER_SEED * 2 < RECORDS_MAX, "the oracle holds every record of a seed");

static uint8_t g_payload[FAII_LS_RECORD_PAYLOAD_MAX];
static uint8_t g_read[FAII_LS_RECORD_PAYLOAD_MAX];
static volatile sig_atomic_t g_seed_active;
static volatile uint64_t g_seed;

/* ---- what a record is: a pure function of (seed, seq, generation) ------------------------ */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
	r->state += 0x9E3779B97F4A7C15ull;
	return mix64(r->state);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	FAII_ASSERT(n > 0);
	return rng_next(r) % n;
}

/* Identity of a record: generation counts the store's opens, so a sequence
 * number reused after a lost unacknowledged record gets other contents. */
static uint64_t record_key(uint64_t seed, uint64_t seq, uint32_t gen)
{
	return mix64(seed ^ mix64(seq ^ mix64((uint64_t)gen << 1 | 1)));
}

struct record_shape {
	uint16_t type;
	uint32_t len;
	struct faii_ls_keys keys;
};

static struct record_shape record_shape(uint64_t seed, uint64_t seq, uint32_t gen,
                                        unsigned big_percent)
{
	uint64_t k = record_key(seed, seq, gen);
	struct record_shape s;
	memset(&s, 0, sizeof(s));
	s.type = (uint16_t)(1 + k % 1000);
	s.len = big_percent == SHAPE_TORN ? TORN_LEN
	        : (k >> 16) % 100 < big_percent
	                ? PAYLOAD_BIG_MIN +
	                          (uint32_t)((k >> 24) % (PAYLOAD_BIG_MAX - PAYLOAD_BIG_MIN))
	                : (uint32_t)((k >> 24) % (PAYLOAD_SMALL_MAX + 1));
	s.keys.present = FAII_LS_KEY_NODE | ((k >> 40) & 1 ? FAII_LS_KEY_EPOCH : 0);
	s.keys.node = (uint32_t)(seq % NODE_KEYS);
	s.keys.epoch = gen;
	return s;
}

/* Payload bytes [from, from + n) of the record: random access by 8-byte word. */
static void record_payload(uint64_t seed, uint64_t seq, uint32_t gen, uint32_t from, uint32_t n,
                           uint8_t *out)
{
	uint64_t k = record_key(seed, seq, gen);
	uint32_t i = from;
	for (; i < from + n && i % 8 != 0; i++)
		out[i - from] = (uint8_t)(mix64(k + i / 8) >> (8 * (i % 8)));
	for (; i + 8 <= from + n; i += 8) {
		uint64_t w = mix64(k + i / 8);
		memcpy(out + (i - from), &w, 8);
	}
	for (; i < from + n; i++)
		out[i - from] = (uint8_t)(mix64(k + i / 8) >> (8 * (i % 8)));
	/* The identity, where it fits, so a misplaced record is recognisable. */
	uint32_t head[3] = {RECORD_MAGIC, (uint32_t)seq, gen};
	for (uint32_t at = from; at < from + n && at < sizeof(head); at++)
		out[at - from] = ((const uint8_t *)head)[at];
}

static uint64_t env_u64(const char *name, uint64_t fallback);

/* ---- failures: the seed, the trace, how to replay ------------------------------------------- */

static void on_fatal_signal(int sig)
{
	char msg[200];
	int n = snprintf(msg, sizeof(msg),
	                 "\ntest_sim_store: %s during seed: FAII_SIM_SEED=%" PRIu64
	                 " (replay: FAII_SIM_SEED=%" PRIu64 " test_sim_store seeds)\n",
	                 sig == SIGALRM ? "timeout (a hang?)" : "abort", (uint64_t)g_seed,
	                 (uint64_t)g_seed);
	if (g_seed_active && n > 0)
		(void)!write(2, msg, (size_t)n);
	signal(SIGABRT, SIG_DFL);
	abort();
}

struct run {
	uint64_t seed;
	struct sim_disk *disk;
	struct faii_ls *ls;
	unsigned big_percent;
	bool o_direct;
	uint32_t gen;                      /* opens of the store so far */
	uint64_t acked_max;                /* every record up to it was acknowledged */
	uint64_t durable;                  /* the store's durable_seq */
	uint32_t attempt_gen[RECORDS_MAX]; /* generation of each seq's last append */
	uint8_t attempt_big[RECORDS_MAX];  /* its big_percent */
	uint64_t ckpt_ok;                  /* the last checkpoint that succeeded */
	bool ckpt_tried[RECORDS_MAX];      /* seq_covered of every checkpoint tried */
	uint32_t saved_faults[SIM_FAULT_KINDS];
	uint64_t crash_in_ops; /* a crash point put off while checking */
	struct tally {
		uint64_t opens, open_failures, power_losses, kills, append_failures;
		uint64_t truncations, checkpoints, segments;
	} tally;
	char what[512]; /* the first failure */
};

__attribute__((format(printf, 2, 3))) static bool fail(struct run *r, const char *fmt, ...)
{
	if (r->what[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->what, sizeof(r->what), fmt, ap);
		va_end(ap);
	}
	return false;
}

#define EXPECT(r, cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return fail((r), __VA_ARGS__);                                             \
	} while (0)

static void report_failure(struct run *r)
{
	fprintf(stderr, "test_sim_store: seed %" PRIu64 " failed: %s\n", r->seed, r->what);
	if (r->disk)
		sim_disk_trace_print(r->disk, stderr,
		                     (unsigned)env_u64("FAII_SIM_TRACE", TRACE_PRINT_EVENTS));
	fprintf(stderr,
	        "FAII_SIM_SEED=%" PRIu64 "\nreplay: FAII_SIM_SEED=%" PRIu64
	        " build/tests/sim/test_sim_store seeds\n",
	        r->seed, r->seed);
}

/*
 * The test's own checks run without faults; a crash point still to come is
 * put off by as many operations as the checks take.
 */
static void faults_off(struct run *r)
{
	static const uint32_t none[SIM_FAULT_KINDS];
	sim_disk_set_faults(r->disk, none);
	uint64_t point = sim_disk_crash_point(r->disk);
	r->crash_in_ops = point ? point - sim_disk_ops(r->disk) : 0;
	sim_disk_crash_at(r->disk, 0);
}

static void faults_on(struct run *r)
{
	sim_disk_set_faults(r->disk, r->saved_faults);
	if (r->crash_in_ops != 0 && !sim_disk_frozen(r->disk))
		sim_disk_crash_at(r->disk, sim_disk_ops(r->disk) + r->crash_in_ops);
	r->crash_in_ops = 0;
}

/* ---- the store and its checks ------------------------------------------------------------- */

static struct faii_ls_options options(struct run *r)
{
	return (struct faii_ls_options){
	        .dir = SIM_DIR,
	        .segment_size_bytes = SEGMENT_BYTES,
	        .index_entries_max = INDEX_ENTRIES,
	        .o_direct = r->o_direct,
	        .io = sim_disk_io(r->disk),
	};
}

/* Record seq as it must be: its last attempt's contents (PAYLOAD_CHECK_BYTES or all). */
static bool check_record(struct run *r, uint64_t seq, bool whole)
{
	FAII_ASSERT(seq >= 1 && seq < RECORDS_MAX);
	uint32_t gen = r->attempt_gen[seq];
	EXPECT(r, gen != 0, "seq %" PRIu64 " is in the store but was never appended", seq);
	struct record_shape want = record_shape(r->seed, seq, gen, r->attempt_big[seq]);
	uint32_t cap = whole || want.len < PAYLOAD_CHECK_BYTES ? want.len : PAYLOAD_CHECK_BYTES;
	struct faii_ls_record rec;
	int rc = faii_ls_read(r->ls, seq, &rec, g_read, cap);
	EXPECT(r, rc == 0, "read of seq %" PRIu64 ": %s", seq, strerror(-rc));
	EXPECT(r, rec.seq == seq && rec.type == want.type && rec.payload_len == want.len,
	       "seq %" PRIu64 ": type %u len %u, expected type %u len %u (generation %u)", seq,
	       rec.type, rec.payload_len, want.type, want.len, gen);
	EXPECT(r, rec.keys.present == want.keys.present && rec.keys.node == want.keys.node,
	       "seq %" PRIu64 ": keys differ", seq);
	record_payload(r->seed, seq, gen, 0, cap, g_payload);
	EXPECT(r, memcmp(g_read, g_payload, cap) == 0, "seq %" PRIu64 ": payload differs", seq);
	return true;
}

/* The records of a node key are exactly those the oracle says. */
static bool check_find(struct run *r, uint32_t node)
{
	uint64_t seqs[RECORDS_MAX];
	int n = faii_ls_find(r->ls, FAII_LS_KEY_NODE, &node, seqs, RECORDS_MAX);
	EXPECT(r, n >= 0, "find node %u: %s", node, strerror(-n));
	int want = 0;
	for (uint64_t seq = 1; seq <= r->durable; seq++) {
		if (seq % NODE_KEYS != node)
			continue;
		EXPECT(r, want < n && seqs[want] == seq, "find node %u: seq %" PRIu64 " missing",
		       node, seq);
		want++;
	}
	EXPECT(r, n == want, "find node %u: %d records, expected %d", node, n, want);
	return true;
}

static bool check_checkpoint(struct run *r)
{
	uint64_t seq = 0;
	size_t len = 0;
	uint8_t blob[BLOB_BYTES_MAX], want[BLOB_BYTES_MAX];
	int rc = faii_ls_checkpoint_get(r->ls, &seq, blob, sizeof(blob), &len);
	if (rc == -ENOENT) {
		EXPECT(r, r->ckpt_ok == 0, "checkpoint %" PRIu64 " lost", r->ckpt_ok);
		return true;
	}
	EXPECT(r, rc == 0, "checkpoint_get: %s", strerror(-rc));
	EXPECT(r, seq >= r->ckpt_ok && seq < RECORDS_MAX && r->ckpt_tried[seq],
	       "checkpoint %" PRIu64 " found, the last that succeeded is %" PRIu64, seq,
	       r->ckpt_ok);
	EXPECT(r, seq <= r->durable, "checkpoint %" PRIu64 " beyond durable %" PRIu64, seq,
	       r->durable);
	struct rng g = {mix64(r->seed ^ seq ^ 0xB10Bull)};
	size_t want_len = (size_t)rng_below(&g, BLOB_BYTES_MAX + 1);
	for (size_t i = 0; i < want_len; i++)
		want[i] = (uint8_t)rng_next(&g);
	EXPECT(r, len == want_len && memcmp(blob, want, len) == 0,
	       "checkpoint %" PRIu64 ": blob differs", seq);
	return true;
}

/*
 * After an open: every acknowledged record present and intact, nothing
 * beyond the durable one, the log intact by faii_ls_verify, finds exact.
 */
static bool check_store(struct run *r, bool whole)
{
	faults_off(r);
	struct faii_ls_stats st;
	faii_ls_get_stats(r->ls, &st);
	r->durable = st.durable_seq;
	EXPECT(r, st.error == 0, "store failed right after open: %s", strerror(-st.error));
	EXPECT(r, r->durable >= r->acked_max,
	       "acknowledged seq %" PRIu64 " lost: durable is %" PRIu64, r->acked_max, r->durable);
	EXPECT(r, r->durable < RECORDS_MAX, "durable %" PRIu64 " was never appended", r->durable);
	for (uint64_t seq = 1; seq <= r->durable; seq++) {
		if (!check_record(r, seq, whole))
			return false;
	}
	struct faii_ls_record rec;
	int rc = faii_ls_read(r->ls, r->durable + 1, &rec, NULL, 0);
	EXPECT(r, rc == -ENOENT, "seq %" PRIu64 " after durable: %d", r->durable + 1, rc);
	for (uint32_t node = 0; node < NODE_KEYS; node++) {
		if (!check_find(r, node))
			return false;
	}
	if (!check_checkpoint(r))
		return false;
	faults_on(r);
	return true;
}

/* The offline verify agrees: intact, and (after repair) no torn tail. */
static bool check_verify(struct run *r, bool torn_allowed, uint64_t *torn_bytes)
{
	faults_off(r);
	struct faii_ls_verify_report rep;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_verify_io(sim_disk_io(r->disk), SIM_DIR, &rep, err);
	faults_on(r);
	EXPECT(r, rc == 0, "verify: %s (%s)", err, strerror(-rc));
	EXPECT(r, torn_allowed || rep.torn_tail_bytes == 0,
	       "verify: torn tail of %" PRIu64 " bytes", rep.torn_tail_bytes);
	if (torn_bytes)
		*torn_bytes = rep.torn_tail_bytes;
	return true;
}

/*
 * Opens the store, retrying what faults break (each retry after a restart of
 * the process; the last attempt without faults). Corruption (-EBADMSG) is a
 * failure: class-A faults never justify refusing to open.
 */
static bool open_store(struct run *r)
{
	FAII_ASSERT(r->ls == NULL);
	for (unsigned attempt = 1; attempt <= OPEN_ATTEMPTS_MAX; attempt++) {
		if (attempt == OPEN_ATTEMPTS_MAX)
			faults_off(r);
		struct faii_ls_options o = options(r);
		char err[FAII_LS_ERR_LEN];
		int rc = faii_ls_open(&o, &r->ls, err);
		faults_on(r);
		if (rc == 0) {
			struct faii_ls_stats st;
			faii_ls_get_stats(r->ls, &st);
			r->tally.truncations += st.truncated_bytes > 0;
			r->tally.opens++;
			r->gen++;
			return true;
		}
		r->tally.open_failures++;
		EXPECT(r, rc == -EIO || rc == -ENOSPC, "open refused (attempt %u): %s (%s)",
		       attempt, err, strerror(-rc));
		EXPECT(r, attempt < OPEN_ATTEMPTS_MAX, "open without faults failed: %s", err);
		sim_disk_restart(r->disk, SIM_RESTART_PROCESS);
	}
	FAII_UNREACHABLE();
}

static bool reopen_and_check(struct run *r, bool whole)
{
	if (!open_store(r) || !check_store(r, whole) || !check_verify(r, false, NULL))
		return false;
	/* Attempts beyond what survived are void: their seqs are reused. */
	for (uint64_t seq = r->durable + 1; seq < RECORDS_MAX; seq++)
		r->attempt_gen[seq] = 0;
	return true;
}

/* Stops the store: a clean close, or the process dying (kill -9 or power loss). */
static void stop_store(struct run *r, bool crash, enum sim_restart how)
{
	if (crash)
		sim_disk_crash(r->disk);
	struct faii_ls_stats st;
	faii_ls_get_stats(r->ls, &st);
	r->tally.segments = st.segments > r->tally.segments ? st.segments : r->tally.segments;
	if (crash || sim_disk_frozen(r->disk)) {
		r->tally.power_losses += how == SIM_RESTART_POWER;
		r->tally.kills += how == SIM_RESTART_PROCESS;
	}
	faii_ls_close(r->ls);
	r->ls = NULL;
	FAII_ASSERT_MSG(sim_disk_open_files(r->disk) == 0, "the store left %u files open",
	                sim_disk_open_files(r->disk));
	if (crash || sim_disk_frozen(r->disk))
		sim_disk_restart(r->disk, how);
}

/* ---- steps ------------------------------------------------------------------------------------
 */

/* One record appended and waited for; a failure must stick until reopened. */
static bool step_append(struct run *r, bool *failed)
{
	uint64_t seq = r->durable + 1;
	EXPECT(r, seq < RECORDS_MAX - 1, "too many records for the oracle");
	struct record_shape s = record_shape(r->seed, seq, r->gen, r->big_percent);
	record_payload(r->seed, seq, r->gen, 0, s.len, g_payload);
	r->attempt_gen[seq] = r->gen;
	r->attempt_big[seq] = (uint8_t)r->big_percent;
	int64_t got = faii_ls_append_wait(r->ls, s.type, &s.keys, g_payload, s.len);
	*failed = got < 0;
	if (got >= 0) {
		EXPECT(r, (uint64_t)got == seq, "append got seq %" PRId64 ", expected %" PRIu64,
		       got, seq);
		r->acked_max = r->durable = seq;
		return true;
	}
	EXPECT(r, got != -EINVAL && got != -ESHUTDOWN, "append: %s", strerror((int)-got));
	r->tally.append_failures++;
	struct faii_ls_stats st;
	faii_ls_get_stats(r->ls, &st);
	EXPECT(r, st.error != 0, "append failed (%s) but the store kept no error",
	       strerror((int)-got));
	int64_t again = faii_ls_append(r->ls, s.type, &s.keys, g_payload, s.len, NULL, NULL);
	EXPECT(r, again < 0, "append accepted (seq %" PRId64 ") after a failed one", again);
	EXPECT(r, st.durable_seq == r->durable, "durable moved to %" PRIu64 " on a failure",
	       st.durable_seq);
	return true;
}

/* A checkpoint of everything durable; its failure is allowed, its effect checked later. */
static void step_checkpoint(struct run *r)
{
	uint64_t seq = r->durable;
	if (seq == 0 || seq == r->ckpt_ok)
		return;
	uint8_t blob[BLOB_BYTES_MAX];
	struct rng g = {mix64(r->seed ^ seq ^ 0xB10Bull)};
	size_t len = (size_t)rng_below(&g, BLOB_BYTES_MAX + 1);
	for (size_t i = 0; i < len; i++)
		blob[i] = (uint8_t)rng_next(&g);
	r->ckpt_tried[seq] = true;
	if (faii_ls_checkpoint(r->ls, seq, blob, len) == 0) {
		r->ckpt_ok = seq;
		r->tally.checkpoints++;
	}
}

/* A few durable records read back; a failed read is allowed, wrong data never. */
static bool step_read(struct run *r, struct rng *g)
{
	for (unsigned i = 0; i < 4 && r->durable > 0; i++) {
		uint64_t seq = 1 + rng_below(g, r->durable);
		struct record_shape want =
		        record_shape(r->seed, seq, r->attempt_gen[seq], r->attempt_big[seq]);
		uint32_t cap = want.len < PAYLOAD_CHECK_BYTES ? want.len : PAYLOAD_CHECK_BYTES;
		struct faii_ls_record rec;
		if (faii_ls_read(r->ls, seq, &rec, g_read, cap) != 0)
			continue;
		record_payload(r->seed, seq, r->attempt_gen[seq], 0, cap, g_payload);
		EXPECT(r, rec.payload_len == want.len && memcmp(g_read, g_payload, cap) == 0,
		       "read of seq %" PRIu64 " returned wrong data", seq);
	}
	return true;
}

enum action { ACT_APPEND, ACT_CHECKPOINT, ACT_READ, ACT_CLOSE, ACT_CRASH, ACT_CRASH_SOON };

static enum action pick_action(struct rng *g)
{
	uint64_t roll = rng_below(g, 100);
	return roll < 66   ? ACT_APPEND
	       : roll < 74 ? ACT_CHECKPOINT
	       : roll < 82 ? ACT_READ
	       : roll < 87 ? ACT_CLOSE
	       : roll < 93 ? ACT_CRASH
	                   : ACT_CRASH_SOON;
}

/* After a failure or a crash: the process dies one way or the other, then reopens. */
static bool restart(struct run *r, struct rng *g, bool crash)
{
	enum sim_restart how = rng_below(g, 2) ? SIM_RESTART_POWER : SIM_RESTART_PROCESS;
	stop_store(r, crash, how);
	return reopen_and_check(r, false);
}

static bool run_step(struct run *r, struct rng *g)
{
	bool failed = false;
	switch (pick_action(g)) {
	case ACT_APPEND:
		if (!step_append(r, &failed))
			return false;
		break;
	case ACT_CHECKPOINT: step_checkpoint(r); break;
	case ACT_READ: return step_read(r, g);
	case ACT_CLOSE:
		stop_store(r, false, SIM_RESTART_PROCESS);
		return reopen_and_check(r, false);
	case ACT_CRASH: return restart(r, g, true);
	case ACT_CRASH_SOON:
		/* Somewhere in the next operations: a write, a sync, a roll, a checkpoint. */
		sim_disk_crash_at(r->disk, sim_disk_ops(r->disk) + 1 + rng_below(g, 40));
		break;
	}
	if (failed || sim_disk_frozen(r->disk))
		return restart(r, g, true);
	return true;
}

/* Faults within the contract only (the store must lose nothing acknowledged),
 * at a level the seed picks: none, some, many. */
static struct sim_disk_options seed_disk_options(uint64_t seed, struct rng *g)
{
	static const uint32_t levels[] = {0, 1, 4, 10};
	uint32_t level = levels[rng_below(g, sizeof(levels) / sizeof(levels[0]))];
	struct sim_disk_options o = {.seed = seed};
	o.fault_ppm[SIM_FAULT_EIO] = 1000 * level;
	o.fault_ppm[SIM_FAULT_ENOSPC] = 300 * level;
	o.fault_ppm[SIM_FAULT_SHORT_WRITE] = 1000 * level;
	o.fault_ppm[SIM_FAULT_TORN_WRITE] = 1000 * level;
	o.fault_ppm[SIM_FAULT_DELAY] = 100000;
	return o;
}

/* One seed from start to end; false with r->what on a failure. */
static bool run_seed(struct run *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->seed = seed;
	struct rng g = {mix64(seed ^ 0x5133D)};
	r->big_percent = rng_below(&g, 4) == 0 ? 30 : 2;
	r->o_direct = rng_below(&g, 4) == 0;
	struct sim_disk_options o = seed_disk_options(seed, &g);
	memcpy(r->saved_faults, o.fault_ppm, sizeof(r->saved_faults));
	FAII_ASSERT(sim_disk_create(&o, &r->disk) == 0);
	if (!reopen_and_check(r, false))
		return false;
	for (unsigned step = 0; step < STEPS_PER_SEED; step++) {
		if (!run_step(r, &g))
			return false;
	}
	/* The end: power loss, then everything checked in full. */
	stop_store(r, true, SIM_RESTART_POWER);
	if (!reopen_and_check(r, true))
		return false;
	stop_store(r, false, SIM_RESTART_PROCESS);
	return true;
}

static void end_seed(struct run *r)
{
	if (r->ls) {
		faii_ls_close(r->ls);
		r->ls = NULL;
	}
	sim_disk_destroy(r->disk);
	r->disk = NULL;
}

static uint64_t env_u64(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return fallback;
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end != '\0') {
		fprintf(stderr, "test_sim_store: %s=%s is not a number\n", name, v);
		exit(2);
	}
	return x;
}

static int cmd_seeds(void)
{
	static struct run r;
	bool one = getenv("FAII_SIM_SEED") && *getenv("FAII_SIM_SEED");
	uint64_t first = one ? env_u64("FAII_SIM_SEED", 0) : env_u64("FAII_SIM_FIRST_SEED", 1);
	uint64_t count = one ? 1 : env_u64("FAII_SIM_SOAK", SEEDS_DEFAULT);
	if (count == 0 || count > SEEDS_SOAK_MAX)
		count = SEEDS_DEFAULT;
	uint64_t faults[SIM_FAULT_KINDS] = {0}, ops = 0;
	struct tally sum = {0};
	for (uint64_t i = 0; i < count; i++) {
		g_seed = first + i;
		g_seed_active = 1;
		alarm(SEED_TIMEOUT_S);
		bool ok = run_seed(&r, first + i);
		alarm(0);
		if (!ok) {
			report_failure(&r);
			end_seed(&r);
			return 1;
		}
		for (unsigned k = 0; k < SIM_FAULT_KINDS; k++)
			faults[k] += sim_disk_faults(r.disk, (enum sim_fault)k);
		ops += sim_disk_ops(r.disk);
		sum.opens += r.tally.opens;
		sum.open_failures += r.tally.open_failures;
		sum.power_losses += r.tally.power_losses;
		sum.kills += r.tally.kills;
		sum.append_failures += r.tally.append_failures;
		sum.truncations += r.tally.truncations;
		sum.checkpoints += r.tally.checkpoints;
		sum.segments += r.tally.segments > 1 ? r.tally.segments - 1 : 0;
		end_seed(&r);
		g_seed_active = 0;
	}
	printf("test_sim_store: %" PRIu64 " seeds from %" PRIu64 " passed: %" PRIu64
	       " disk operations; faults:",
	       count, first, ops);
	for (unsigned k = 1; k < SIM_FAULT_KINDS; k++)
		printf(" %s %" PRIu64, sim_fault_name((enum sim_fault)k), faults[k]);
	printf("\ntest_sim_store: %" PRIu64 " opens (%" PRIu64 " failed and retried), %" PRIu64
	       " power losses, %" PRIu64 " kills, %" PRIu64 " failed appends, %" PRIu64
	       " torn tails truncated, %" PRIu64 " checkpoints, %" PRIu64 " segment rolls\n",
	       sum.opens, sum.open_failures, sum.power_losses, sum.kills, sum.append_failures,
	       sum.truncations, sum.checkpoints, sum.segments);
	return 0;
}

/* ---- replay: one seed twice, the same trace ------------------------------------------------ */

/* Runs seed twice: 0 when both traces are byte-identical. */
static int replay_seed(uint64_t seed)
{
	static struct run r;
	static uint8_t first[SIM_TRACE_EVENTS_MAX * 32], second[SIM_TRACE_EVENTS_MAX * 32];
	size_t n[2];
	uint64_t hash[2], count[2];
	for (unsigned run = 0; run < 2; run++) {
		g_seed = seed;
		g_seed_active = 1;
		bool ok = run_seed(&r, seed);
		if (!ok) {
			report_failure(&r);
			end_seed(&r);
			return 1;
		}
		n[run] = sim_disk_trace_copy(r.disk, run ? second : first, sizeof(first));
		hash[run] = sim_disk_trace_hash(r.disk);
		count[run] = sim_disk_trace_count(r.disk);
		end_seed(&r);
	}
	g_seed_active = 0;
	if (n[0] != n[1] || hash[0] != hash[1] || count[0] != count[1] ||
	    memcmp(first, second, n[0]) != 0) {
		fprintf(stderr,
		        "test_sim_store: seed %" PRIu64 " is not deterministic: %" PRIu64
		        " then %" PRIu64 " events, hash %016" PRIx64 " then %016" PRIx64 "\n",
		        seed, count[0], count[1], hash[0], hash[1]);
		return 1;
	}
	printf("test_sim_store: seed %" PRIu64 " replayed: %" PRIu64
	       " trace events, hash %016" PRIx64 ", byte-identical\n",
	       seed, count[0], hash[0]);
	return 0;
}

/* Seeds that once found store bugs (a fault, a crash, a restart each), and one more. */
static int cmd_replay(void)
{
	static const uint64_t seeds[] = {7, 27, 71, 1188, 1293};
	if (getenv("FAII_SIM_SEED") && *getenv("FAII_SIM_SEED"))
		return replay_seed(env_u64("FAII_SIM_SEED", 0));
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		if (replay_seed(seeds[i]) != 0)
			return 1;
	}
	return 0;
}

/* ---- the torn-write scenario ---------------------------------------------------------------- */

struct torn_case {
	const char *what;
	bool o_direct;
	enum sim_restart how;
	uint32_t landed_bytes; /* of the torn batch, before the crash */
	bool after_roll;       /* in a segment after the first */
	bool checkpoint;       /* a checkpoint before the torn batch */
};

static const struct torn_case torn_cases[] = {
        {"kill -9 after 1 byte of the batch", false, SIM_RESTART_PROCESS, 1, false, false},
        {"kill -9 inside a record header", false, SIM_RESTART_PROCESS, 21, false, true},
        {"kill -9 inside a payload", false, SIM_RESTART_PROCESS, 700, false, false},
        {"kill -9 inside the commit record", false, SIM_RESTART_PROCESS, 0, false, false},
        {"kill -9 after the first block (O_DIRECT)", true, SIM_RESTART_PROCESS, 4096, false, true},
        {"kill -9 in a later segment", false, SIM_RESTART_PROCESS, 3000, true, false},
        {"power loss with the batch unsynced", false, SIM_RESTART_POWER, UINT32_MAX, false, false},
        {"power loss, O_DIRECT, batch unsynced", true, SIM_RESTART_POWER, UINT32_MAX, false, true},
        {"power loss in a later segment", false, SIM_RESTART_POWER, UINT32_MAX, true, true},
};

#define TORN_RECORDS_BEFORE 5u
#define TORN_RECORDS_AFTER  2u
#define ROLL_RECORDS_MAX    16u /* 1 MiB records: a 4 MiB segment rolls within 4 */

static bool append_acked(struct run *r)
{
	bool failed;
	if (!step_append(r, &failed))
		return false;
	EXPECT(r, !failed, "append of seq %" PRIu64 " failed without a fault", r->durable + 1);
	return true;
}

/* Appends (1 MiB records) until the store has rolled to a new segment. */
static bool fill_to_next_segment(struct run *r)
{
	struct faii_ls_stats st;
	faii_ls_get_stats(r->ls, &st);
	uint64_t segments = st.segments;
	r->big_percent = 100;
	for (unsigned i = 0; i < ROLL_RECORDS_MAX && st.segments == segments; i++) {
		if (!append_acked(r))
			return false;
		faii_ls_get_stats(r->ls, &st);
	}
	r->big_percent = 0;
	EXPECT(r, st.segments > segments, "no segment roll after %u records", ROLL_RECORDS_MAX);
	return true;
}

/* Bytes of the torn batch that land: the case's, or into its commit record. */
static uint32_t torn_landed(const struct run *r, const struct torn_case *c)
{
	if (c->landed_bytes != 0)
		return c->landed_bytes;
	struct record_shape s = record_shape(r->seed, r->durable + 1, r->gen, SHAPE_TORN);
	uint32_t keys = 8 + ((s.keys.present & FAII_LS_KEY_EPOCH) ? 8 : 0);
	uint32_t record = (24 + keys + s.len + 7) / 8 * 8;
	return record + 40; /* inside the 72-byte commit that follows */
}

/* One round: acknowledged records, a torn batch, the process or the power gone. */
static bool torn_round(struct run *r, const struct torn_case *c)
{
	r->o_direct = c->o_direct;
	if (!reopen_and_check(r, true))
		return false;
	if (c->after_roll && !fill_to_next_segment(r))
		return false;
	for (unsigned i = 0; i < TORN_RECORDS_BEFORE; i++) {
		if (!append_acked(r))
			return false;
	}
	if (c->checkpoint)
		step_checkpoint(r);
	EXPECT(r, r->ckpt_ok == r->durable || !c->checkpoint, "checkpoint failed without a fault");
	sim_disk_crash_in_next_write(r->disk, torn_landed(r, c));
	bool failed;
	r->big_percent = SHAPE_TORN;
	if (!step_append(r, &failed))
		return false;
	r->big_percent = 0;
	EXPECT(r, failed, "the torn append was acknowledged");
	stop_store(r, false, c->how);
	uint64_t torn_verify = 0;
	if (!check_verify(r, true, &torn_verify))
		return false;
	if (!open_store(r) || !check_store(r, true))
		return false;
	struct faii_ls_stats st;
	faii_ls_get_stats(r->ls, &st);
	EXPECT(r, st.truncated_bytes == torn_verify,
	       "open truncated %" PRIu64 " bytes, verify saw a torn tail of %" PRIu64,
	       st.truncated_bytes, torn_verify);
	EXPECT(r, c->how != SIM_RESTART_PROCESS || st.truncated_bytes > 0,
	       "kill -9 inside a batch left no torn tail to truncate");
	EXPECT(r, c->how != SIM_RESTART_PROCESS || st.durable_seq == r->acked_max,
	       "the torn record survived: durable %" PRIu64, st.durable_seq);
	if (!check_verify(r, false, NULL))
		return false;
	for (uint64_t seq = r->durable + 1; seq < RECORDS_MAX; seq++)
		r->attempt_gen[seq] = 0;
	/* Appends continue densely after the repaired tail. */
	for (unsigned i = 0; i < TORN_RECORDS_AFTER; i++) {
		if (!append_acked(r))
			return false;
	}
	stop_store(r, true, SIM_RESTART_PROCESS);
	return true;
}

static int cmd_torn(void)
{
	static struct run r;
	memset(&r, 0, sizeof(r));
	r.seed = env_u64("FAII_SIM_SEED", 11);
	g_seed = r.seed;
	g_seed_active = 1;
	struct sim_disk_options o = {.seed = r.seed};
	FAII_ASSERT(sim_disk_create(&o, &r.disk) == 0);
	for (size_t i = 0; i < sizeof(torn_cases) / sizeof(torn_cases[0]); i++) {
		if (!torn_round(&r, &torn_cases[i])) {
			fprintf(stderr, "test_sim_store: torn case \"%s\"\n", torn_cases[i].what);
			report_failure(&r);
			end_seed(&r);
			return 1;
		}
		printf("test_sim_store: torn: %s: ok (%" PRIu64 " records)\n", torn_cases[i].what,
		       r.durable);
	}
	end_seed(&r);
	return 0;
}

/* ---- corruption before the tail ------------------------------------------------------------ */

#define RECORD_HEADER_BYTES 24u

static void segment_name(char *out, size_t cap, uint64_t segment)
{
	snprintf(out, cap, SIM_DIR "/segment-%016" PRIx64 ".log", segment);
}

/* Where user record seq starts in a segment (walking its record headers), or 0. */
static uint64_t record_offset(struct sim_disk *d, uint64_t segment, uint64_t seq)
{
	char path[SIM_PATH_BYTES_MAX];
	segment_name(path, sizeof(path), segment);
	int64_t size = sim_disk_file_size(d, path);
	for (uint64_t off = 4096; size > 0 && off + RECORD_HEADER_BYTES <= (uint64_t)size;) {
		uint8_t h[RECORD_HEADER_BYTES];
		uint32_t length;
		uint16_t type;
		uint64_t at;
		FAII_ASSERT(sim_disk_read(d, path, h, sizeof(h), off) == (int64_t)sizeof(h));
		memcpy(&length, h, 4);
		memcpy(&type, h + 4, 2);
		memcpy(&at, h + 16, 8);
		if (length == 0)
			break;
		if (type >= 1 && type <= FAII_LS_TYPE_USER_MAX && at == seq)
			return off;
		off += (length + 7) / 8 * 8;
	}
	return 0;
}

/* Open and verify both refuse with -EBADMSG, naming the segment file and offset. */
static bool expect_refused(struct run *r, uint64_t segment, uint64_t offset)
{
	char where[SIM_PATH_BYTES_MAX + 40], err[FAII_LS_ERR_LEN];
	segment_name(where, SIM_PATH_BYTES_MAX, segment);
	snprintf(where + strlen(where), 40, ": offset %" PRIu64 ":", offset);
	struct faii_ls_options o = options(r);
	struct faii_ls *ls = NULL;
	int rc = faii_ls_open(&o, &ls, err);
	if (ls)
		faii_ls_close(ls);
	EXPECT(r, rc == -EBADMSG, "open of a corrupt store: %d (%s)", rc, err);
	EXPECT(r, strstr(err, where) != NULL, "open's message does not name \"%s\": %s", where,
	       err);
	struct faii_ls_verify_report rep;
	rc = faii_ls_verify_io(sim_disk_io(r->disk), SIM_DIR, &rep, err);
	EXPECT(r, rc == -EBADMSG && strstr(err, where) != NULL, "verify: %d: %s", rc, err);
	return true;
}

/* A bit of record seq flipped at rest, then only on reads: refused both times. */
static bool corrupt_record(struct run *r, uint64_t segment, uint64_t seq)
{
	char path[SIM_PATH_BYTES_MAX];
	segment_name(path, sizeof(path), segment);
	uint64_t off = record_offset(r->disk, segment, seq);
	EXPECT(r, off != 0, "seq %" PRIu64 " not found in segment %" PRIu64, seq, segment);
	uint64_t byte = off + RECORD_HEADER_BYTES + 2; /* a key byte */
	FAII_ASSERT(sim_disk_flip_bit(r->disk, path, byte, 5) == 0);
	if (!expect_refused(r, segment, off))
		return false;
	FAII_ASSERT(sim_disk_flip_bit(r->disk, path, byte, 5) == 0);
	/* A latent sector error: the media is right, reads are not. */
	FAII_ASSERT(sim_disk_flip_on_read(r->disk, path, byte, 1) == 0);
	if (!expect_refused(r, segment, off))
		return false;
	FAII_ASSERT(sim_disk_flip_on_read(r->disk, NULL, 0, 0) == 0);
	return true;
}

/* Open and verify both refuse a damaged final batch after a clean close. */
static bool expect_refused_after_close(struct run *r, uint64_t segment)
{
	char where[SIM_PATH_BYTES_MAX + 16], what[64], err[FAII_LS_ERR_LEN];
	segment_name(where, SIM_PATH_BYTES_MAX, segment);
	snprintf(where + strlen(where), 16, ": offset ");
	snprintf(what, sizeof(what), "closed cleanly at seq %" PRIu64, r->durable);
	struct faii_ls_options o = options(r);
	struct faii_ls *ls = NULL;
	int rc = faii_ls_open(&o, &ls, err);
	if (ls)
		faii_ls_close(ls);
	EXPECT(r, rc == -EBADMSG && strstr(err, where) && strstr(err, what),
	       "open after a clean close, final batch damaged: %d (%s)", rc, err);
	struct faii_ls_verify_report rep;
	char verr[FAII_LS_ERR_LEN];
	rc = faii_ls_verify_io(sim_disk_io(r->disk), SIM_DIR, &rep, verr);
	EXPECT(r, rc == -EBADMSG && strcmp(err, verr) == 0, "verify disagrees: %d: %s", rc, verr);
	return true;
}

/*
 * The final batch was acknowledged before the clean close: a bit of it
 * flipped at rest, then only on reads, is refused, never truncated as torn.
 */
static bool corrupt_final_batch(struct run *r)
{
	uint64_t segment = 1, off = record_offset(r->disk, 1, r->durable);
	if (off == 0)
		off = record_offset(r->disk, segment = 0, r->durable);
	EXPECT(r, off != 0, "the final record %" PRIu64 " not found", r->durable);
	char path[SIM_PATH_BYTES_MAX];
	segment_name(path, sizeof(path), segment);
	uint64_t byte = off + RECORD_HEADER_BYTES + 2; /* a key byte */
	FAII_ASSERT(sim_disk_flip_bit(r->disk, path, byte, 3) == 0);
	if (!expect_refused_after_close(r, segment))
		return false;
	FAII_ASSERT(sim_disk_flip_bit(r->disk, path, byte, 3) == 0);
	FAII_ASSERT(sim_disk_flip_on_read(r->disk, path, byte, 4) == 0);
	if (!expect_refused_after_close(r, segment))
		return false;
	FAII_ASSERT(sim_disk_flip_on_read(r->disk, NULL, 0, 0) == 0);
	return true;
}

/*
 * A latent sector error under a record faii_ls_read reads whole: -EIO, never
 * other contents. A read of a prefix the error does not touch is right.
 */
static bool corrupt_read(struct run *r)
{
	uint64_t seq = 1;
	struct record_shape s =
	        record_shape(r->seed, seq, r->attempt_gen[seq], r->attempt_big[seq]);
	for (; seq <= 6 && s.len < 2; seq++)
		s = record_shape(r->seed, seq + 1, r->attempt_gen[seq + 1],
		                 r->attempt_big[seq + 1]);
	EXPECT(r, seq <= 6 && s.len >= 2, "no record with a payload to damage");
	char path[SIM_PATH_BYTES_MAX];
	segment_name(path, sizeof(path), 0);
	uint64_t off = record_offset(r->disk, 0, seq);
	uint32_t keys_len = 8 + ((s.keys.present & FAII_LS_KEY_EPOCH) ? 8 : 0);
	uint64_t last_byte = off + RECORD_HEADER_BYTES + keys_len + s.len - 1;
	FAII_ASSERT(off != 0 && sim_disk_flip_on_read(r->disk, path, last_byte, 6) == 0);
	struct faii_ls_record rec;
	int rc = faii_ls_read(r->ls, seq, &rec, g_read, s.len);
	EXPECT(r, rc == -EIO, "whole read over a latent sector error: %d, expected -EIO", rc);
	rc = faii_ls_read(r->ls, seq, &rec, g_read, s.len - 1);
	record_payload(r->seed, seq, r->attempt_gen[seq], 0, s.len - 1, g_payload);
	EXPECT(r, rc == 0 && memcmp(g_read, g_payload, s.len - 1) == 0,
	       "read of the prefix before the error: %d", rc);
	FAII_ASSERT(sim_disk_flip_on_read(r->disk, NULL, 0, 0) == 0);
	return check_record(r, seq, true);
}

static bool corrupt_scenario(struct run *r)
{
	if (!reopen_and_check(r, true))
		return false;
	for (unsigned i = 0; i < 6; i++) {
		if (!append_acked(r))
			return false;
	}
	if (!fill_to_next_segment(r))
		return false;
	uint64_t in_second = r->durable + 1;
	for (unsigned i = 0; i < 3; i++) {
		if (!append_acked(r))
			return false;
	}
	stop_store(r, false, SIM_RESTART_PROCESS);
	/* Early in segment 0, early in segment 1 (a later batch follows in both). */
	if (!corrupt_record(r, 0, 2) || !corrupt_record(r, 1, in_second))
		return false;
	/* Undamaged again: opens, everything intact. */
	if (!reopen_and_check(r, true) || !corrupt_read(r))
		return false;
	stop_store(r, false, SIM_RESTART_PROCESS);
	/* The final batch after the clean close; undamaged again, it opens. */
	if (!corrupt_final_batch(r) || !reopen_and_check(r, true))
		return false;
	stop_store(r, false, SIM_RESTART_PROCESS);
	return true;
}

static int cmd_corrupt(void)
{
	static struct run r;
	memset(&r, 0, sizeof(r));
	r.seed = env_u64("FAII_SIM_SEED", 13);
	g_seed = r.seed;
	g_seed_active = 1;
	struct sim_disk_options o = {.seed = r.seed};
	FAII_ASSERT(sim_disk_create(&o, &r.disk) == 0);
	bool ok = corrupt_scenario(&r);
	if (!ok)
		report_failure(&r);
	else
		printf("test_sim_store: corrupt: flipped bits before the tail, and in the final "
		       "batch after a clean close, refused at rest and on reads; a whole-record "
		       "read over one fails\n");
	end_seed(&r);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGABRT, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "torn") == 0)
		return cmd_torn();
	if (strcmp(cmd, "corrupt") == 0)
		return cmd_corrupt();
	if (strcmp(cmd, "seeds") == 0)
		return cmd_seeds();
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay();
	fprintf(stderr,
	        "usage: %s torn|corrupt|seeds|replay\n"
	        "  FAII_SIM_SEED=<seed>  one seed (seeds, replay) or the scenario's seed\n"
	        "  FAII_SIM_SOAK=<n>     n seeds (seeds; default %u)\n"
	        "  FAII_SIM_FIRST_SEED=<s>\n",
	        argv[0], SEEDS_DEFAULT);
	return 2;
}
