/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the consortium's consensus (docs/consensus.md): four
 * faii-validator processes on this machine, on loopback, each submitting
 * its share of an offered load of 512-byte transactions; the load is swept
 * upwards until committed throughput stops rising. Each step starts four
 * fresh validators (empty ledgers), lets them run one window (start-up and
 * warm-up), then measures one window of --seconds:
 *
 *   value          committed transactions per second (the mean over the
 *                  live validators of committed_txs growth in the window:
 *                  every validator commits every transaction)
 *   p50_ms, p99_ms submit-to-commit latency of the transactions committed
 *                  in the window, at the validator that submitted them (the
 *                  status line's window_p50_ms / window_p99_ms; the worst
 *                  live validator is reported)
 *   cpu_us_per_tx  CPU time (utime + stime from /proc/PID/stat) of all the
 *                  validator processes in the window, per committed
 *                  transaction; cpu_cores the same per second of wall time
 *   rounds_per_s   rounds each validator proposed per second, syncs_per_s the
 *                  ledger store's write + fdatasync batches per second (the
 *                  means over the live validators)
 *   offered_per_s  what the load generators actually submitted or had
 *                  refused (a full queue) per second; refused_per_s the
 *                  transactions refused or dropped (the validator's queue
 *                  full at submission, or the core's pending bytes full when
 *                  the queue is handed over), never committed
 *   other_cpus     CPUs kept busy by anything but the validators (other
 *                  work on the machine, kernel writeback), load1 the load
 *                  average at the end of the window: disturbed figures show
 *
 * Cases: --crashed 0 (all four) and 1 (validator 4 never starts: the three
 * others form the quorum, and every fourth anchor round waits out the
 * leader timeout). The same-run baseline: the same number of 512-byte
 * records appended durably to one ledger store, no consensus (one thread,
 * faii_ls_append with a completion callback, the store's group commit), in
 * records per second: what one validator's disk path can take at most.
 *
 *   bench_consensus [--loads 1000,5000,...] [--crashed 0,1] [--seconds S]
 *                   [--port P] [--validator PATH] [--dir DIR] [--keep]
 *                   [--baseline-records N] [--batch-bytes B] [--batch-wait-ms M]
 *
 * The validators' configuration is scripts/consortium.sh's (docs/consensus.md
 * defaults) unless --batch-bytes or --batch-wait-ms say otherwise.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faii/ledger_store.h"

#define VALIDATORS       4u
#define TX_BYTES         512u
#define LOADS_MAX        32u
#define LINE_BYTES       8192u /* one status line, at most */
#define STOP_WAIT_MS     10000u
#define BASELINE_RECORDS 500000u

struct options {
	double loads[LOADS_MAX]; /* offered transactions/s, all validators together */
	uint32_t load_count;
	int crashed[2];
	uint32_t crashed_count;
	uint32_t seconds;
	uint32_t port;
	uint32_t batch_bytes, batch_wait_ms;
	uint64_t baseline_records;
	char validator[PATH_MAX];
	char dir[PATH_MAX];
	bool keep;
};

/* The last status line's figures of one validator. */
struct status {
	double t_s, committed_txs, submitted, submit_refused, refused, rounds, syncs;
	double p50_ms, p99_ms;
	uint64_t lines;
};

struct process {
	pid_t pid;
	int out; /* its stdout, non-blocking */
	char line[LINE_BYTES];
	size_t line_bytes;
	struct status status;
};

struct step {
	double committed_per_s, offered_per_s, refused_per_s, rounds_per_s, syncs_per_s;
	double p50_ms, p99_ms, cpu_seconds, wall_seconds, other_cpus, load1;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bench_fail(const char *what)
{
	fprintf(stderr, "bench_consensus: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- CPU time ------------------------------------------------------------- */

static double process_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Seconds of CPU the whole machine spent busy (not idle, not waiting for I/O). */
static double machine_busy_seconds(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL)
		return 0;
	int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	                 &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (got != 8)
		return 0;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double load_average(void)
{
	double load = 0;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf", &load) != 1)
			load = 0;
		fclose(f);
	}
	return load;
}

/* ---- the baseline: durable appends, no consensus ---------------------------- */

static void count_ack(void *arg, uint64_t seq, int status)
{
	(void)seq;
	if (status != 0) {
		fprintf(stderr, "bench_consensus: baseline append failed: %s\n", strerror(-status));
		exit(1);
	}
	__atomic_fetch_add((uint64_t *)arg, 1, __ATOMIC_RELAXED);
}

static double baseline_records_per_s(const struct options *options)
{
	char dir[PATH_MAX + 16], err[FAII_LS_ERR_LEN];
	snprintf(dir, sizeof(dir), "%s/baseline", options->dir);
	struct faii_ls_options store_options = {.dir = dir, .segment_size_bytes = 64ull << 20};
	struct faii_ls *store = NULL;
	if (faii_ls_open(&store_options, &store, err) != 0) {
		fprintf(stderr, "bench_consensus: baseline store: %s\n", err);
		exit(1);
	}
	uint8_t record[TX_BYTES];
	randombytes_buf(record, sizeof(record));
	uint64_t acked = 0, started = now_ns();
	int64_t last = 0;
	for (uint64_t i = 0; i < options->baseline_records; i++)
		if ((last = faii_ls_append(store, 1, NULL, record, sizeof(record), count_ack,
		                           &acked)) < 0)
			bench_fail("baseline append");
	if (faii_ls_wait_durable(store, (uint64_t)last, 60000) != 0)
		bench_fail("baseline wait");
	double seconds = (double)(now_ns() - started) / 1e9;
	faii_ls_close(store);
	return (double)options->baseline_records / seconds;
}

/* ---- the consortium's files ----------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
		bench_fail(path);
}

/* Keys (mode 0600) and one configuration per validator, under options->dir. */
static void write_consortium(const struct options *options)
{
	char members[VALIDATORS * 256] = "", path[PATH_MAX + 64];
	for (uint32_t i = 1; i <= VALIDATORS; i++) {
		uint8_t seed[32], public_key[32], secret_key[64];
		char hex[65], line[256];
		randombytes_buf(seed, sizeof(seed));
		crypto_sign_seed_keypair(public_key, secret_key, seed);
		snprintf(path, sizeof(path), "%s/v%u", options->dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			bench_fail(path);
		snprintf(path, sizeof(path), "%s/v%u/validator.key", options->dir, i);
		snprintf(line, sizeof(line), "%s\n", sodium_bin2hex(hex, sizeof(hex), seed, 32));
		write_file(path, line, 0600);
		snprintf(line, sizeof(line),
		         "      - id: %u\n        public_key: %s\n        address: "
		         "\"127.0.0.1:%u\"\n",
		         i, sodium_bin2hex(hex, sizeof(hex), public_key, 32), options->port + i);
		strcat(members, line);
	}
	for (uint32_t i = 1; i <= VALIDATORS; i++) {
		char config[sizeof(members) + 2 * PATH_MAX + 512];
		snprintf(config, sizeof(config),
		         "appliance:\n  ledger_dir: %s/v%u/ledger\n  ledger_segment_mb: 64\n"
		         "  validators:\n    self: %u\n    key_file: %s/v%u/validator.key\n"
		         "    batch_bytes: %u\n    batch_wait_ms: %u\n    members:\n%s",
		         options->dir, i, i, options->dir, i, options->batch_bytes,
		         options->batch_wait_ms, members);
		snprintf(path, sizeof(path), "%s/v%u/appliance.yaml", options->dir, i);
		write_file(path, config, 0644);
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		bench_fail(path);
}

/* ---- validator processes ---------------------------------------------------- */

static void spawn(const struct options *options, uint32_t i, double load_per_s,
                  struct process *process)
{
	char config[PATH_MAX + 32], errors[PATH_MAX + 32], load[32], status_ms[32];
	snprintf(config, sizeof(config), "%s/v%u/appliance.yaml", options->dir, i);
	snprintf(errors, sizeof(errors), "%s/v%u/stderr.log", options->dir, i);
	snprintf(load, sizeof(load), "%.1f", load_per_s);
	snprintf(status_ms, sizeof(status_ms), "%u", options->seconds * 1000);
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		bench_fail("pipe");
	pid_t pid = fork();
	if (pid < 0)
		bench_fail("fork");
	if (pid == 0) {
		int err_fd = open(errors, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (dup2(pipe_fds[1], STDOUT_FILENO) < 0 || err_fd < 0 ||
		    dup2(err_fd, STDERR_FILENO) < 0)
			_exit(127);
		execl(options->validator, options->validator, "--config", config, "--load", load,
		      "--tx-bytes", "512", "--status-ms", status_ms, (char *)NULL);
		_exit(127);
	}
	close(pipe_fds[1]);
	fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
	*process = (struct process){.pid = pid, .out = pipe_fds[0]};
}

static double number(json_t *object, const char *key)
{
	json_t *value = json_object_get(object, key);
	return json_is_number(value) ? json_number_value(value) : 0;
}

static void parse_line(struct process *process)
{
	json_t *line = json_loads(process->line, 0, NULL);
	if (line == NULL)
		return;
	process->status = (struct status){
	        .t_s = number(line, "t_s"),
	        .committed_txs = number(line, "committed_txs"),
	        .submitted = number(line, "submitted"),
	        .submit_refused = number(line, "submit_refused"),
	        .refused = number(line, "submit_refused") + number(line, "core_refused"),
	        .rounds = number(line, "round"),
	        .syncs = number(line, "ledger_syncs"),
	        .p50_ms = number(line, "window_p50_ms"),
	        .p99_ms = number(line, "window_p99_ms"),
	        .lines = process->status.lines + 1,
	};
	json_decref(line);
}

/* Reads what a process printed; false once its stdout closed. */
static bool read_lines(struct process *process)
{
	for (;;) {
		char *at = process->line + process->line_bytes;
		ssize_t got = read(process->out, at, LINE_BYTES - 1 - process->line_bytes);
		if (got == 0)
			return false;
		if (got < 0)
			return errno == EAGAIN || errno == EINTR;
		process->line_bytes += (size_t)got;
		char *end;
		while ((end = memchr(process->line, '\n', process->line_bytes)) != NULL) {
			*end = '\0';
			parse_line(process);
			size_t used = (size_t)(end + 1 - process->line);
			memmove(process->line, end + 1, process->line_bytes - used);
			process->line_bytes -= used;
		}
		if (process->line_bytes == LINE_BYTES - 1)
			process->line_bytes = 0; /* not a status line: dropped */
	}
}

/* Waits until every process printed `lines` status lines. */
static void wait_lines(struct process *processes, uint32_t count, uint64_t lines,
                       uint32_t timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		bool all = true;
		struct pollfd fds[VALIDATORS];
		for (uint32_t i = 0; i < count; i++) {
			all = all && processes[i].status.lines >= lines;
			fds[i] = (struct pollfd){.fd = processes[i].out, .events = POLLIN};
		}
		if (all)
			return;
		if (now_ns() > deadline) {
			fprintf(stderr, "bench_consensus: no status line %" PRIu64 " in %u ms\n",
			        lines, timeout_ms);
			exit(1);
		}
		poll(fds, count, 100);
		for (uint32_t i = 0; i < count; i++)
			if (!read_lines(&processes[i])) {
				fprintf(stderr, "bench_consensus: validator %u exited early\n",
				        i + 1);
				exit(1);
			}
	}
}

static void stop_all(struct process *processes, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		kill(processes[i].pid, SIGTERM);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t deadline = now_ns() + STOP_WAIT_MS * 1000000ull;
		while (waitpid(processes[i].pid, NULL, WNOHANG) == 0) {
			if (now_ns() > deadline) {
				kill(processes[i].pid, SIGKILL);
				waitpid(processes[i].pid, NULL, 0);
				break;
			}
			struct timespec pause = {0, 10000000};
			nanosleep(&pause, NULL);
		}
		close(processes[i].out);
	}
}

/* ---- one load step ---------------------------------------------------------- */

struct snapshot {
	struct status status[VALIDATORS];
	double cpu_seconds, busy_seconds;
	uint64_t t_ns;
};

static void take_snapshot(const struct process *processes, uint32_t count,
                          struct snapshot *snapshot)
{
	snapshot->cpu_seconds = 0;
	for (uint32_t i = 0; i < count; i++) {
		snapshot->status[i] = processes[i].status;
		snapshot->cpu_seconds += process_cpu_seconds(processes[i].pid);
	}
	snapshot->busy_seconds = machine_busy_seconds();
	snapshot->t_ns = now_ns();
}

static struct step step_figures(const struct snapshot *a, const struct snapshot *b, uint32_t count)
{
	struct step step = {.load1 = load_average()};
	for (uint32_t i = 0; i < count; i++) {
		const struct status *x = &a->status[i], *y = &b->status[i];
		double seconds = y->t_s - x->t_s;
		step.committed_per_s += (y->committed_txs - x->committed_txs) / seconds / count;
		step.rounds_per_s += (y->rounds - x->rounds) / seconds / count;
		step.syncs_per_s += (y->syncs - x->syncs) / seconds / count;
		step.offered_per_s +=
		        (y->submitted + y->submit_refused - x->submitted - x->submit_refused) /
		        seconds;
		step.refused_per_s += (y->refused - x->refused) / seconds;
		step.p50_ms = y->p50_ms > step.p50_ms ? y->p50_ms : step.p50_ms;
		step.p99_ms = y->p99_ms > step.p99_ms ? y->p99_ms : step.p99_ms;
	}
	double wall = (double)(b->t_ns - a->t_ns) / 1e9;
	step.wall_seconds = wall;
	step.cpu_seconds = b->cpu_seconds - a->cpu_seconds;
	double other = (b->busy_seconds - a->busy_seconds - step.cpu_seconds) / wall;
	step.other_cpus = other > 0 ? other : 0;
	return step;
}

/* Four fresh validators (or three: the fourth crashed), one warm-up window,
 * one measured window. */
static struct step run_step(const struct options *options, double load, int crashed)
{
	uint32_t live = VALIDATORS - (uint32_t)crashed;
	struct process processes[VALIDATORS];
	char ledger[PATH_MAX + 32];
	for (uint32_t i = 1; i <= VALIDATORS; i++) {
		snprintf(ledger, sizeof(ledger), "%s/v%u/ledger", options->dir, i);
		remove_tree(ledger);
	}
	for (uint32_t i = 0; i < live; i++)
		spawn(options, i + 1, load / live, &processes[i]);
	uint32_t window_ms = options->seconds * 1000;
	struct snapshot a, b;
	wait_lines(processes, live, 2, 3 * window_ms + 10000);
	take_snapshot(processes, live, &a);
	wait_lines(processes, live, 3, 3 * window_ms);
	take_snapshot(processes, live, &b);
	stop_all(processes, live);
	return step_figures(&a, &b, live);
}

static void print_step(double load, int crashed, const struct step *step, double baseline)
{
	double wall_seconds = step->wall_seconds;
	double per_tx = step->committed_per_s > 0
	                        ? step->cpu_seconds / (step->committed_per_s * wall_seconds) * 1e6
	                        : 0;
	printf("{\"bench\": \"consensus\", \"case\": \"offered_%.0f_crashed_%d\", \"value\": %.0f, "
	       "\"unit\": \"tx/s\", \"baseline\": \"ledger_append_512\", \"baseline_value\": %.0f, "
	       "\"ratio\": %.4f, \"offered\": %.0f, \"offered_per_s\": %.0f, \"refused_per_s\": "
	       "%.0f, \"p50_ms\": %.1f, \"p99_ms\": %.1f, \"rounds_per_s\": %.1f, \"syncs_per_s\": "
	       "%.0f, "
	       "\"cpu_us_per_tx\": %.1f, \"cpu_cores\": %.2f, \"other_cpus\": %.2f, "
	       "\"load1\": %.2f}\n",
	       load, crashed, step->committed_per_s, baseline, step->committed_per_s / baseline,
	       load, step->offered_per_s, step->refused_per_s, step->p50_ms, step->p99_ms,
	       step->rounds_per_s, step->syncs_per_s, per_tx, step->cpu_seconds / wall_seconds,
	       step->other_cpus, step->load1);
	fflush(stdout);
}

/* ---- options ------------------------------------------------------------------ */

static uint32_t parse_list(const char *text, double *values, uint32_t max)
{
	uint32_t count = 0;
	char *end;
	while (*text != '\0' && count < max) {
		values[count++] = strtod(text, &end);
		if (end == text || values[count - 1] <= 0)
			return 0;
		text = *end == ',' ? end + 1 : end;
	}
	return *text == '\0' ? count : 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: bench_consensus [--loads TX_PER_S,...] [--crashed 0,1] [--seconds S]\n"
	        "       [--port P] [--validator PATH] [--dir DIR] [--keep]\n"
	        "       [--baseline-records N] [--batch-bytes B] [--batch-wait-ms M]\n");
	exit(2);
}

static void parse_options(int argc, char **argv, struct options *options)
{
	static const double default_loads[] = {1000,  5000,  10000,  20000,
	                                       30000, 50000, 100000, 150000};
	*options = (struct options){.crashed = {0, 1},
	                            .crashed_count = 2,
	                            .seconds = 5,
	                            .port = 7700,
	                            .batch_bytes = 61440,
	                            .batch_wait_ms = 5,
	                            .baseline_records = BASELINE_RECORDS};
	memcpy(options->loads, default_loads, sizeof(default_loads));
	options->load_count = sizeof(default_loads) / sizeof(default_loads[0]);
	static const struct option long_options[] = {
	        {"loads", required_argument, NULL, 'l'},
	        {"crashed", required_argument, NULL, 'c'},
	        {"seconds", required_argument, NULL, 's'},
	        {"port", required_argument, NULL, 'p'},
	        {"validator", required_argument, NULL, 'v'},
	        {"dir", required_argument, NULL, 'd'},
	        {"keep", no_argument, NULL, 'k'},
	        {"baseline-records", required_argument, NULL, 'r'},
	        {"batch-bytes", required_argument, NULL, 'b'},
	        {"batch-wait-ms", required_argument, NULL, 'w'},
	        {NULL, 0, NULL, 0},
	};
	int option;
	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 'l':
			options->load_count = parse_list(optarg, options->loads, LOADS_MAX);
			if (options->load_count == 0)
				usage();
			break;
		case 'c':
			options->crashed_count = 0;
			for (const char *at = optarg; *at != '\0'; at++) {
				if ((*at != '0' && *at != '1' && *at != ',') ||
				    (*at != ',' && options->crashed_count == 2))
					usage();
				if (*at != ',')
					options->crashed[options->crashed_count++] = *at - '0';
			}
			if (options->crashed_count == 0)
				usage();
			break;
		case 's': options->seconds = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': options->port = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'v': snprintf(options->validator, PATH_MAX, "%s", optarg); break;
		case 'd': snprintf(options->dir, PATH_MAX, "%s", optarg); break;
		case 'k': options->keep = true; break;
		case 'r': options->baseline_records = strtoull(optarg, NULL, 10); break;
		case 'b': options->batch_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': options->batch_wait_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc || options->seconds == 0 || options->port == 0 ||
	    options->port + VALIDATORS > 65535 || options->baseline_records == 0)
		usage();
}

/* The validator and the data directory default to this build's. */
static void default_paths(struct options *options)
{
	char self[PATH_MAX];
	ssize_t got = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (got <= 0)
		bench_fail("/proc/self/exe");
	self[got] = '\0';
	char *build = dirname(dirname(self)); /* build/perf/bench_consensus -> build */
	if (options->validator[0] == '\0')
		snprintf(options->validator, PATH_MAX, "%.*s/tools/faii-validator", PATH_MAX - 32,
		         build);
	if (options->dir[0] == '\0')
		snprintf(options->dir, PATH_MAX, "%.*s/consensus-bench-%d", PATH_MAX - 32, build,
		         (int)getpid());
	if (access(options->validator, X_OK) != 0)
		bench_fail(options->validator);
	if (mkdir(options->dir, 0700) != 0 && errno != EEXIST)
		bench_fail(options->dir);
}

int main(int argc, char **argv)
{
	struct options options;
	parse_options(argc, argv, &options);
	if (sodium_init() < 0)
		bench_fail("libsodium");
	default_paths(&options);
	signal(SIGPIPE, SIG_IGN);
	write_consortium(&options);
	double baseline = baseline_records_per_s(&options);
	fprintf(stderr, "bench_consensus: baseline %.0f durable 512-byte appends/s\n", baseline);
	for (uint32_t c = 0; c < options.crashed_count; c++) {
		double best = 0;
		for (uint32_t l = 0; l < options.load_count; l++) {
			struct step step = run_step(&options, options.loads[l], options.crashed[c]);
			print_step(options.loads[l], options.crashed[c], &step, baseline);
			/* Committed throughput stopped rising: the curve has its knee. */
			if (l > 0 && step.committed_per_s < 1.05 * best)
				break;
			best = step.committed_per_s > best ? step.committed_per_s : best;
		}
	}
	if (!options.keep)
		remove_tree(options.dir);
	return 0;
}
