/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-validator: one consortium validator without a dataplane
 * (docs/consensus.md, "Operating"): the appliance configuration's
 * `appliance.validators` section and ledger directory, the same validator
 * thread faiid runs, and a status line of JSON on stdout.
 *
 *   faii-validator --config FILE [--ledger-dir DIR] [--status-ms N]
 *                  [--load TX_PER_S] [--tx-bytes N] [--duration S] [--slice-ms N]
 *   faii-validator --public-key KEY_FILE     print the key's public half
 *
 * --load submits synthetic transactions (the benchmark's and the local
 * consortium's traffic): each carries its submission time, so the status
 * line reports submit-to-commit latency of this validator's own
 * transactions (monotonic clock: meaningful when the validators share a
 * host). SIGINT or SIGTERM stops it cleanly; exit 0, or 1 on an error.
 *
 * It settles too, as faiid does (docs/settlement.md, "In faiid"): the
 * configuration's `policy` and `settlement` sections, the committed
 * sequence in, its payout roots out. As a validator-only appliance it routes
 * no work, so its work summaries are empty: one every --slice-ms (default
 * 1000, 0: none), carrying its clock into the consortium's time. The status
 * line shows the latest settled epoch and root.
 *
 * For tests only, and left out of the usage line: --byzantine LIES, a
 * comma-separated list of equivocate, forge, withhold (enum
 * faii_validator_lie), makes this validator lie on the way out
 * (tests/integration/consensus_processes.sh). Never in a real consortium:
 * the others will record the equivocation proofs for slashing.
 * --submit-file FILE, also for tests only and left out of the usage line,
 * submits each line of hex appended to FILE once, as this validator's
 * transactions (read every 100 ms from where the last read stopped): the
 * votes of validators that have no control socket
 * (tests/integration/settle_cmds.sh).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faii/config.h"
#include "faii/settle_tx.h"
#include "faii/validator.h"
#include "settlement.h"
#include "validator_cfg.h"

#define LOAD_MAGIC        0x544c5646u /* "FVLT" */
#define LOAD_HEADER_BYTES 16u         /* magic u32, origin u32, submitted_ns u64 */
#define LATENCY_BUCKETS   512u        /* 8 per power of two of nanoseconds */
#define LOAD_STEP_NS      (1 * FAII_NS_PER_MS)
#define STATUS_MS_DEFAULT 1000u
#define TX_BYTES_DEFAULT  512u
#define CHAIN_MARK_EVERY  256u /* outputs between two printed chain marks */
#define SLICE_MS_DEFAULT  1000u
/* --submit-file: how often it is read, and the lines one read submits. */
#define SUBMIT_FILE_POLL_NS        (100 * FAII_NS_PER_MS)
#define SUBMIT_FILE_LINES_PER_POLL 64u
#define SUBMIT_FILE_LINE_MAX       (2u * FAII_DAG_TX_BYTES_MAX + 1u) /* hex and the newline */

struct counters {
	pthread_mutex_t lock;
	struct faii_ls *store; /* its batches: one write and one fdatasync each */
	uint32_t self;
	uint64_t started_ns; /* transactions submitted before this boot are replayed, not timed */
	uint64_t sequence;   /* the last committed vertex output */
	uint8_t chain[32];   /* BLAKE2b over (sequence, digest) of every output so far */
	uint64_t chain_mark_sequence; /* the last multiple of CHAIN_MARK_EVERY */
	uint8_t chain_mark[32];
	uint64_t committed_txs;
	uint64_t own_committed;
	uint64_t latency[LATENCY_BUCKETS];
	struct faii_settlement *settlement;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint32_t latency_bucket(uint64_t ns)
{
	if (ns < 8)
		return (uint32_t)ns;
	uint32_t power = 63u - (uint32_t)__builtin_clzll(ns);
	uint32_t index = power * 8 + (uint32_t)((ns >> (power - 3)) & 7);
	return index < LATENCY_BUCKETS ? index : LATENCY_BUCKETS - 1;
}

static double bucket_ms(uint32_t index)
{
	if (index < 8)
		return (double)index / 1e6;
	uint32_t power = index / 8;
	double low = ldexp(1.0 + (double)(index % 8) / 8.0, (int)power);
	return low / 1e6;
}

static double percentile_ms(const uint64_t *histogram, uint64_t total, double fraction)
{
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(fraction * (double)total);
	uint64_t seen = 0;
	for (uint32_t i = 0; i < LATENCY_BUCKETS; i++) {
		seen += histogram[i];
		if (seen >= want)
			return bucket_ms(i);
	}
	return bucket_ms(LATENCY_BUCKETS - 1);
}

static void on_commit(void *ctx, const struct faii_dag_commit *commit)
{
	struct counters *counters = ctx;
	faii_settlement_on_commit(counters->settlement, commit);
	uint64_t now = faii_monotonic_ns();
	uint32_t offset = 0;
	const uint8_t *tx;
	uint32_t len;
	pthread_mutex_lock(&counters->lock);
	/* The chain identifies the committed sequence: validators at the same
	 * mark must print the same hash, restarts included. */
	uint8_t link[32 + 8 + FAII_DAG_DIGEST_BYTES];
	memcpy(link, counters->chain, 32);
	memcpy(link + 32, &commit->sequence, 8);
	memcpy(link + 40, commit->digest, FAII_DAG_DIGEST_BYTES);
	crypto_generichash(counters->chain, 32, link, sizeof(link), NULL, 0);
	counters->sequence = commit->sequence;
	if (commit->sequence % CHAIN_MARK_EVERY == 0) {
		counters->chain_mark_sequence = commit->sequence;
		memcpy(counters->chain_mark, counters->chain, 32);
	}
	while (faii_dag_tx_next(commit, &offset, &tx, &len)) {
		counters->committed_txs++;
		uint32_t magic, origin;
		uint64_t submitted;
		if (len < LOAD_HEADER_BYTES)
			continue;
		memcpy(&magic, tx, 4);
		memcpy(&origin, tx + 4, 4);
		memcpy(&submitted, tx + 8, 8);
		if (magic != LOAD_MAGIC || origin != counters->self || submitted > now ||
		    submitted < counters->started_ns)
			continue;
		counters->own_committed++;
		counters->latency[latency_bucket(now - submitted)]++;
	}
	pthread_mutex_unlock(&counters->lock);
}

/* The latency of the own transactions committed since the previous status
 * line: the histogram's growth since then (the benchmark's window). */
struct latency_window {
	uint64_t previous[LATENCY_BUCKETS];
	uint64_t previous_own;
	uint64_t histogram[LATENCY_BUCKETS];
	uint64_t own;
};

static void latency_window_take(struct latency_window *window, const uint64_t *histogram,
                                uint64_t own)
{
	for (uint32_t i = 0; i < LATENCY_BUCKETS; i++) {
		window->histogram[i] = histogram[i] - window->previous[i];
		window->previous[i] = histogram[i];
	}
	window->own = own - window->previous_own;
	window->previous_own = own;
}

/* ,"settle":{...}: the latest settled epoch, as `faiictl settle status` shows it. */
static void print_settlement(struct faii_settlement *settlement)
{
	struct faii_settle_stats stats;
	uint64_t applied = 0;
	struct faii_settle_epoch_record record;
	faii_settlement_stats(settlement, &stats, &applied);
	printf(",\"settle\":{\"applied_sequence\":%" PRIu64 ",\"consortium_ms\":%" PRIu64
	       ",\"current_epoch\":%" PRIu64 ",\"epochs_settled\":%" PRIu64 ",\"nodes\":%u"
	       ",\"paid\":%" PRIu64,
	       applied, stats.consortium_ms, stats.current_epoch, stats.epochs_settled, stats.nodes,
	       stats.paid);
	if (faii_settlement_epoch(settlement, UINT64_MAX, &record) == 0) {
		char root[2 * FAII_SETTLE_HASH_BYTES + 1];
		sodium_bin2hex(root, sizeof(root), record.root, sizeof(record.root));
		printf(",\"latest_epoch\":%" PRIu64 ",\"root\":\"%s\",\"leaves\":%u"
		       ",\"root_votes\":%d,\"final\":%s",
		       record.epoch, root, record.leaves, __builtin_popcountll(record.root_votes),
		       record.final ? "true" : "false");
	}
	printf("}");
}

static void print_status(struct faii_validator *validator, struct counters *counters,
                         uint64_t started_ns, uint64_t submitted, uint64_t submit_refused)
{
	static struct latency_window window; /* the main thread's only */
	struct faii_validator_status status;
	faii_validator_status(validator, &status);
	uint64_t histogram[LATENCY_BUCKETS];
	pthread_mutex_lock(&counters->lock);
	uint64_t committed = counters->committed_txs, own = counters->own_committed;
	memcpy(histogram, counters->latency, sizeof(histogram));
	uint64_t mark_sequence = counters->chain_mark_sequence;
	char mark[65];
	sodium_bin2hex(mark, sizeof(mark), counters->chain_mark, 32);
	pthread_mutex_unlock(&counters->lock);
	latency_window_take(&window, histogram, own);
	struct faii_ls_stats store;
	faii_ls_get_stats(counters->store, &store);
	uint32_t connected = 0;
	for (uint32_t i = 0; i < status.validator_count; i++)
		connected += status.transport.peers[i].connected;
	printf("{\"t_s\":%.3f,\"validator\":%u,\"epoch\":%" PRIu64 ",\"round\":%" PRIu64
	       ",\"last_committed_anchor\":%" PRIu64 ",\"committed_vertices\":%" PRIu64
	       ",\"committed_txs\":%" PRIu64 ",\"submitted\":%" PRIu64
	       ",\"submit_refused\":%" PRIu64 ",\"core_refused\":%" PRIu64
	       ",\"own_committed\":%" PRIu64
	       ",\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,\"window_own_committed\":%" PRIu64
	       ",\"window_p50_ms\":%.3f,\"window_p99_ms\":%.3f"
	       ",\"peers_connected\":%u,\"flushes\":%" PRIu64 ",\"ledger_syncs\":%" PRIu64
	       ",\"ledger_bytes\":%" PRIu64 ",\"held_bytes\":%" PRIu64 ",\"equivocations\":%" PRIu64
	       ",\"lies_told\":%" PRIu64 ",\"chain_mark_sequence\":%" PRIu64
	       ",\"chain_mark\":\"%s\",\"failed\":%s,\"refused\":{",
	       (double)(faii_monotonic_ns() - started_ns) / 1e9, status.self, status.epoch,
	       status.dag.round, status.dag.last_committed_anchor, status.dag.committed_vertices,
	       committed, submitted, submit_refused,
	       status.queue_refused > submit_refused ? status.queue_refused - submit_refused : 0,
	       own, percentile_ms(histogram, own, 0.50), percentile_ms(histogram, own, 0.99),
	       window.own, percentile_ms(window.histogram, window.own, 0.50),
	       percentile_ms(window.histogram, window.own, 0.99), connected, status.flushes,
	       store.batches, store.bytes_written, status.dag.held_bytes, status.dag.equivocations,
	       status.lies_told, mark_sequence, mark, status.dag.failed ? "true" : "false");
	for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", faii_dag_refusal_name(i),
		       status.dag.refused[i]);
	printf("}");
	print_settlement(counters->settlement);
	printf("}\n");
	fflush(stdout);
}

struct run_options {
	const char *config_path;
	const char *ledger_dir;
	uint32_t status_ms;
	double load_per_s;
	uint32_t tx_bytes;
	double duration_s;
	uint32_t byzantine_lies;
	uint32_t slice_ms;
	const char *submit_file;
};

/* --submit-file's reading position. */
struct submit_file {
	const char *path; /* NULL: none, or given up on a bad line */
	long offset;      /* the bytes already submitted */
	uint64_t next_poll_ns;
};

static uint64_t realtime_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* An empty work summary: this validator's clock for the consortium's time.
 * The slice number is the wall clock's, so it keeps growing across restarts. */
static void submit_slice(struct faii_validator *validator, uint32_t slice_ms, uint64_t *last_slice)
{
	uint64_t now = realtime_ms(), slice = now / slice_ms;
	if (slice <= *last_slice)
		return;
	struct faii_settle_work_header header = {.slice = slice, .slice_end_ms = now, .parts = 1};
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES];
	uint32_t len;
	if (faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len) == 0 &&
	    faii_validator_submit(validator, tx, len) == 0)
		*last_slice = slice; /* else: tried again next step */
}

/* One line of hex: submitted (true), or false when the queue is full (the
 * line is tried again at the next read). A line that is not hex stops the
 * file: a test's mistake must show. */
static bool submit_line(struct faii_validator *validator, struct submit_file *file, char *line)
{
	static uint8_t tx[FAII_DAG_TX_BYTES_MAX];
	size_t len = strlen(line), bytes = 0;
	if (len == 0 || line[len - 1] != '\n') {
		if (len + 1 >= SUBMIT_FILE_LINE_MAX + 1) {
			fprintf(stderr, "faii-validator: %s: a line longer than %u bytes\n",
			        file->path, SUBMIT_FILE_LINE_MAX);
			file->path = NULL;
		}
		return false; /* partial: the writer is not done */
	}
	line[--len] = '\0';
	if (sodium_hex2bin(tx, sizeof(tx), line, len, NULL, &bytes, NULL) != 0 || bytes == 0) {
		fprintf(stderr, "faii-validator: %s: not a transaction in hex: %.32s\n", file->path,
		        line);
		file->path = NULL;
		return false;
	}
	return faii_validator_submit(validator, tx, (uint32_t)bytes) == 0;
}

/* Tests only: the lines appended to --submit-file since the last read. */
static void submit_file_poll(struct faii_validator *validator, struct submit_file *file)
{
	uint64_t now = faii_monotonic_ns();
	if (file->path == NULL || now < file->next_poll_ns)
		return;
	file->next_poll_ns = now + SUBMIT_FILE_POLL_NS;
	FILE *in = fopen(file->path, "r");
	if (in == NULL)
		return; /* not written yet */
	static char line[SUBMIT_FILE_LINE_MAX + 1];
	if (fseek(in, file->offset, SEEK_SET) == 0) {
		for (uint32_t n = 0; n < SUBMIT_FILE_LINES_PER_POLL && file->path != NULL &&
		                     fgets(line, sizeof(line), in) != NULL;
		     n++) {
			if (!submit_line(validator, file, line))
				break;
			file->offset = ftell(in);
		}
	}
	fclose(in);
}

/* Submits the load and prints the status until stopped. */
static void run_loop(struct faii_validator *validator, struct counters *counters,
                     const struct run_options *run)
{
	uint8_t tx[FAII_DAG_TX_BYTES_MAX];
	memset(tx, 0x5a, sizeof(tx));
	uint64_t started = faii_monotonic_ns(), next_status = started, submitted = 0, refused = 0;
	uint64_t last_slice = 0;
	struct submit_file file = {.path = run->submit_file};
	while (!stop_requested) {
		if (run->slice_ms > 0)
			submit_slice(validator, run->slice_ms, &last_slice);
		submit_file_poll(validator, &file);
		uint64_t now = faii_monotonic_ns();
		if (run->duration_s > 0 && (double)(now - started) / 1e9 >= run->duration_s)
			break;
		/* Owed by the clock, not by the steps taken: a late wake-up (a busy
		 * machine) submits what it missed, so the offered load is the one asked. */
		double owed = run->load_per_s * (double)(now - started) / 1e9 -
		              (double)(submitted + refused);
		for (; owed >= 1; owed -= 1) {
			uint32_t magic = LOAD_MAGIC;
			memcpy(tx, &magic, 4);
			memcpy(tx + 4, &counters->self, 4);
			memcpy(tx + 8, &now, 8);
			if (faii_validator_submit(validator, tx, run->tx_bytes) == 0)
				submitted++;
			else
				refused++;
		}
		if (now >= next_status) {
			print_status(validator, counters, started, submitted, refused);
			next_status = now + (uint64_t)run->status_ms * FAII_NS_PER_MS;
		}
		struct timespec step = {0, (long)LOAD_STEP_NS};
		nanosleep(&step, NULL);
	}
	print_status(validator, counters, started, submitted, refused);
}

static int submit_to_validator(void *ctx, const uint8_t *tx, uint32_t len)
{
	return faii_validator_submit(ctx, tx, len);
}

static int print_public_key(const char *path)
{
	uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES], public_key[FAII_DAG_PUBLIC_KEY_BYTES];
	char err[512], hex[2 * FAII_DAG_PUBLIC_KEY_BYTES + 1];
	if (faii_validator_key_load(path, secret_key, public_key, err, sizeof(err)) != 0) {
		fprintf(stderr, "faii-validator: %s\n", err);
		return 1;
	}
	sodium_memzero(secret_key, sizeof(secret_key));
	printf("%s\n", sodium_bin2hex(hex, sizeof(hex), public_key, sizeof(public_key)));
	return 0;
}

/* "equivocate,forge,withhold" (any of them) into enum faii_validator_lie bits; 0 on an
 * unknown word. */
static uint32_t parse_lies(const char *text)
{
	static const struct {
		const char *name;
		uint32_t lie;
	} lies[] = {
	        {"equivocate", FAII_VALIDATOR_LIE_EQUIVOCATE},
	        {"forge", FAII_VALIDATOR_LIE_FORGE},
	        {"withhold", FAII_VALIDATOR_LIE_WITHHOLD},
	};
	uint32_t bits = 0;
	while (*text != '\0') {
		size_t word = strcspn(text, ",");
		uint32_t found = 0;
		for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++)
			if (strlen(lies[i].name) == word && strncmp(text, lies[i].name, word) == 0)
				found = lies[i].lie;
		if (found == 0)
			return 0;
		bits |= found;
		text += word + (text[word] == ',');
	}
	return bits;
}

static int parse_arguments(int argc, char **argv, struct run_options *run)
{
	static const struct option long_options[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"ledger-dir", required_argument, NULL, 'l'},
	        {"status-ms", required_argument, NULL, 's'},
	        {"load", required_argument, NULL, 'L'},
	        {"tx-bytes", required_argument, NULL, 'b'},
	        {"duration", required_argument, NULL, 'd'},
	        {"public-key", required_argument, NULL, 'p'},
	        {"byzantine", required_argument, NULL, 'z'},
	        {"slice-ms", required_argument, NULL, 'S'},
	        {"submit-file", required_argument, NULL, 'f'},
	        {NULL, 0, NULL, 0},
	};
	*run = (struct run_options){.status_ms = STATUS_MS_DEFAULT,
	                            .tx_bytes = TX_BYTES_DEFAULT,
	                            .slice_ms = SLICE_MS_DEFAULT};
	int option;
	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 'c': run->config_path = optarg; break;
		case 'l': run->ledger_dir = optarg; break;
		case 's': run->status_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'L': run->load_per_s = strtod(optarg, NULL); break;
		case 'b': run->tx_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': run->duration_s = strtod(optarg, NULL); break;
		case 'S': run->slice_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'f': run->submit_file = optarg; break;
		case 'p': exit(print_public_key(optarg));
		case 'z':
			run->byzantine_lies = parse_lies(optarg);
			if (run->byzantine_lies == 0) {
				fprintf(stderr, "faii-validator: --byzantine: expected "
				                "equivocate,forge,withhold (any of them)\n");
				return -1;
			}
			break;
		default: return -1;
		}
	}
	if (run->config_path == NULL || run->status_ms == 0 || !(run->load_per_s >= 0) ||
	    run->tx_bytes < LOAD_HEADER_BYTES || run->tx_bytes > FAII_DAG_TX_BYTES_MAX) {
		fprintf(stderr, "usage: faii-validator --config FILE [--ledger-dir DIR] "
		                "[--status-ms N] [--load TX_PER_S] [--tx-bytes 16..4096] "
		                "[--duration S] [--slice-ms N]\n"
		                "       faii-validator --public-key KEY_FILE\n");
		return -1;
	}
	return 0;
}

static struct faii_ls *open_store(const struct faii_appliance_cfg *appliance, const char *dir)
{
	struct faii_ls_options store_options = {
	        .dir = dir,
	        .segment_size_bytes = (uint64_t)appliance->ledger_segment_mb << 20,
	};
	char err[FAII_LS_ERR_LEN];
	struct faii_ls *store = NULL;
	if (faii_ls_open(&store_options, &store, err) != 0) {
		fprintf(stderr, "faii-validator: ledger %s: %s\n", dir, err);
		return NULL;
	}
	return store;
}

int main(int argc, char **argv)
{
	struct run_options run;
	if (parse_arguments(argc, argv, &run) != 0 || sodium_init() < 0)
		return 1;
	char err[FAII_CFG_ERR_LEN];
	struct faii_config *config = NULL;
	if (faii_config_load(run.config_path, &config, err) != 0) {
		fprintf(stderr, "faii-validator: %s\n", err);
		return 1;
	}
	static struct faii_validator_options options;
	static struct counters counters = {.lock = PTHREAD_MUTEX_INITIALIZER};
	static struct faii_settlement settlement;
	int rc = faii_validator_cfg_options(&config->appliance, &options, err, sizeof(err));
	if (rc == 0)
		rc = faii_settlement_open(&settlement, config, options.dag.validator_count,
		                          options.dag.self, err, sizeof(err));
	struct faii_ls *store = NULL;
	if (rc == 0)
		store = open_store(&config->appliance,
		                   run.ledger_dir ? run.ledger_dir : config->appliance.ledger_dir);
	faii_config_free(config);
	if (rc != 0 || store == NULL) {
		if (rc != 0)
			fprintf(stderr, "faii-validator: %s\n", err);
		return 1;
	}
	counters.self = options.dag.self;
	counters.settlement = &settlement;
	counters.store = store;
	counters.started_ns = faii_monotonic_ns();
	options.store = store;
	options.clock = &faii_clock_system;
	options.consumer = (struct faii_dag_consumer){.on_commit = on_commit, .ctx = &counters};
	options.byzantine_lies = run.byzantine_lies;
	struct faii_validator *validator = NULL;
	rc = faii_validator_start(&options, &validator, err, sizeof(err));
	sodium_memzero(&options, sizeof(options));
	if (rc != 0) {
		fprintf(stderr, "faii-validator: %s\n", err);
		faii_ls_close(store);
		return 1;
	}
	faii_settlement_set_submit(&settlement, submit_to_validator, validator);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	run_loop(validator, &counters, &run);
	faii_validator_stop(validator);
	faii_settlement_close(&settlement);
	faii_ls_close(store);
	return 0;
}
