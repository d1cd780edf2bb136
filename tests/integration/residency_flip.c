/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy updates under load for the kernel path, and the ring-buffer reader
 * of the network-namespace test.
 *
 *   residency_flip run PIN_DIR CONFIG_A CONFIG_B FLIPS
 *     The residency program is loaded with CONFIG_A's policy and attached
 *     (XDP) in this network namespace; a sender elsewhere streams TASKs at
 *     this namespace's CONFIG_A udp_port. Once the first one arrives, syncs
 *     FLIPS times, alternating B, A, B, ... with faii_res_sync(), then prints
 *     "flipped", and keeps receiving until no datagram came for a second.
 *     Meanwhile it receives the datagrams that passed and reads every refusal
 *     from the ring buffer. Each passed task and each refusal must be the
 *     verdict of one whole policy, A or B, for its (node, class); both
 *     policies must have been seen at work; the drop counters must equal the
 *     events read plus the events lost. Prints "counted N", the sum of the
 *     verdict counters, for the caller to compare with what was sent.
 *
 *   residency_flip drain PIN_DIR
 *     Reads the waiting refusals; prints "event REASON NODE CLASS JUR COUNT".
 *
 * The two policies of the test are chosen so that any mixture of them (one
 * map of A with the other of B, or a class half-written) judges some task
 * differently from both: see tests/integration/residency_netns.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "faii/config.h"
#include "faii/residency.h"
#include "faii/residency_loader.h"
#include "faii/wire.h"

#define KINDS_MAX 256

/* One kind of verdict: (node, class, reason, jurisdiction), with its count. */
struct tally {
	uint32_t node;
	uint16_t residency_class;
	uint8_t reason;
	uint8_t jurisdiction;
	uint64_t count;
};

struct tallies {
	pthread_mutex_t lock;
	struct tally t[KINDS_MAX];
	size_t n;
	uint64_t total;
};

static void tally_add(struct tallies *ts, struct tally key)
{
	pthread_mutex_lock(&ts->lock);
	ts->total++;
	size_t i = 0;
	while (i < ts->n &&
	       !(ts->t[i].node == key.node && ts->t[i].residency_class == key.residency_class &&
	         ts->t[i].reason == key.reason && ts->t[i].jurisdiction == key.jurisdiction))
		i++;
	if (i == ts->n && ts->n < KINDS_MAX) {
		key.count = 0;
		ts->t[ts->n++] = key;
	}
	if (i < KINDS_MAX)
		ts->t[i].count++;
	pthread_mutex_unlock(&ts->lock);
}

/* The verdict of one whole policy, as the program computes it. */
static struct tally judge(const struct faii_config *cfg, uint32_t node, uint16_t cls)
{
	struct tally v = {.node = node,
	                  .residency_class = cls,
	                  .jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	if (node == 0) {
		v.reason = FAII_RES_DROP_UNDISPATCHED;
		return v;
	}
	const struct faii_cfg_node *n = NULL;
	for (uint32_t i = 0; i < cfg->node_count && n == NULL; i++) {
		if (cfg->nodes[i].id == node)
			n = &cfg->nodes[i];
	}
	if (n == NULL) {
		v.reason = FAII_RES_DROP_UNKNOWN_NODE;
		return v;
	}
	v.jurisdiction = n->jurisdiction;
	const struct faii_cfg_residency_class *c =
	        cls == 0 ? NULL : faii_config_residency_class(cfg, cls);
	if (c == NULL)
		v.reason = FAII_RES_DROP_UNKNOWN_CLASS;
	else if (n->jurisdiction < 64 && (c->allowed >> n->jurisdiction) & 1)
		v.reason = FAII_RES_PASS_ALLOWED;
	else
		v.reason = FAII_RES_DROP_FORBIDDEN;
	return v;
}

static bool same_verdict(struct tally a, struct tally b)
{
	return a.reason == b.reason &&
	       (a.reason == FAII_RES_PASS_ALLOWED || a.jurisdiction == b.jurisdiction);
}

/* ------------------------------------------------------------------------ */

static struct tallies events = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct tallies received = {.lock = PTHREAD_MUTEX_INITIALIZER};
static atomic_bool stopping;
static atomic_ullong malformed_events;
static atomic_ullong last_rx_ms;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	struct faii_res_event ev;
	if (size != sizeof(ev)) {
		atomic_fetch_add(&malformed_events, 1);
		return 0;
	}
	memcpy(&ev, data, sizeof(ev));
	tally_add(&events, (struct tally){.node = ev.node_id,
	                                  .residency_class = ev.residency_class,
	                                  .reason = ev.reason,
	                                  .jurisdiction = ev.jurisdiction});
	return 0;
}

static struct ring_buffer *open_ring(const char *pin_dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", pin_dir, FAII_RES_PIN_EVENTS);
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "residency_flip: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct ring_buffer *rb = ring_buffer__new(fd, on_event, NULL, NULL);
	if (rb == NULL)
		fprintf(stderr, "residency_flip: %s: not a ring buffer\n", path);
	return rb;
}

static void *consume_events(void *arg)
{
	struct ring_buffer *rb = arg;
	while (!atomic_load(&stopping))
		ring_buffer__poll(rb, 50);
	ring_buffer__consume(rb);
	return NULL;
}

static void *receive(void *arg)
{
	int fd = *(int *)arg;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (!atomic_load(&stopping)) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		uint8_t buf[2048];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			atomic_store(&last_rx_ms, now_ms());
			struct faii_msg_view v;
			struct tally key = {.reason = FAII_RES_PASS_ALLOWED};
			if (faii_parse(buf, (size_t)n, &v) == FAII_OK && v.type == FAII_MSG_TASK) {
				struct faii_task t;
				faii_decode_task(&v, &t);
				key.node = t.node_id;
				key.residency_class = t.residency_class;
			} else {
				key.reason = FAII_RES_PASS_NOT_FAII; /* anything else: reported */
			}
			tally_add(&received, key);
		}
	}
	return NULL;
}

static int receiver_socket(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 16 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		fprintf(stderr, "residency_flip: bind %u: %s\n", port, strerror(errno));
		return -1;
	}
	return fd;
}

static const char *reason_name(unsigned r)
{
	return faii_res_counter_name(r) ? faii_res_counter_name(r) : "?";
}

/* Checks one tally against both policies; prints and counts the misfits. */
static uint64_t check(const char *what, const struct tallies *ts, const struct faii_config *a,
                      const struct faii_config *b, uint64_t seen[2])
{
	uint64_t bad = 0;
	for (size_t i = 0; i < ts->n; i++) {
		const struct tally *t = &ts->t[i];
		struct tally ja = judge(a, t->node, t->residency_class);
		struct tally jb = judge(b, t->node, t->residency_class);
		bool in_a = same_verdict(*t, ja), in_b = same_verdict(*t, jb);
		printf("%s node %u class %u %s jurisdiction %u: %llu (policy A: %s, B: %s)%s\n",
		       what, t->node, t->residency_class, reason_name(t->reason), t->jurisdiction,
		       (unsigned long long)t->count, reason_name(ja.reason), reason_name(jb.reason),
		       in_a || in_b ? "" : "  INCONSISTENT");
		if (!in_a && !in_b)
			bad += t->count;
		/* A verdict only one policy gives is proof that policy was at work. */
		if (in_a && !in_b)
			seen[0] += t->count;
		if (in_b && !in_a)
			seen[1] += t->count;
	}
	return bad;
}

static int do_run(const char *pin_dir, const char *path_a, const char *path_b, long flips)
{
	struct faii_config *cfg[2];
	char cerr[FAII_CFG_ERR_LEN], err[FAII_RES_ERR_LEN];
	for (int i = 0; i < 2; i++) {
		if (faii_config_load(i ? path_b : path_a, &cfg[i], cerr) != 0) {
			fprintf(stderr, "residency_flip: %s\n", cerr);
			return 1;
		}
	}
	int fd = receiver_socket(cfg[0]->appliance.udp_port);
	struct ring_buffer *rb = open_ring(pin_dir);
	if (fd < 0 || rb == NULL)
		return 1;
	pthread_t rx, ev;
	pthread_create(&rx, NULL, receive, &fd);
	pthread_create(&ev, NULL, consume_events, rb);
	printf("ready\n");
	fflush(stdout);

	int rc = 0;
	uint64_t start = now_ms();
	while (atomic_load(&last_rx_ms) == 0 && now_ms() - start < 10000)
		usleep(10000);
	if (atomic_load(&last_rx_ms) == 0) {
		fprintf(stderr, "residency_flip: no traffic arrived within 10 s\n");
		rc = 1;
	}
	uint64_t t0 = now_ms(), swaps_missing = 0;
	long done = 0;
	for (; rc == 0 && done < flips; done++) {
		struct faii_res_sync_report rep;
		if (faii_res_sync(cfg[(done + 1) % 2], pin_dir, &rep, err) != 0) {
			fprintf(stderr, "residency_flip: sync %ld: %s\n", done, err);
			rc = 1;
			break;
		}
		if (rep.xdp_swapped + rep.tc_swapped == 0)
			swaps_missing++;
	}
	uint64_t elapsed = now_ms() - t0;
	printf("flipped %ld times in %llu ms (%.1f ms per sync)\n", done,
	       (unsigned long long)elapsed, done ? (double)elapsed / (double)done : 0.0);
	fflush(stdout);
	if (swaps_missing) {
		fprintf(stderr, "residency_flip: %llu syncs moved no attachment\n",
		        (unsigned long long)swaps_missing);
		rc = 1;
	}
	/* The caller stops the sender on "flipped"; take what is still in flight. */
	uint64_t deadline = now_ms() + 30000;
	while (now_ms() - atomic_load(&last_rx_ms) < 1000 && now_ms() < deadline)
		usleep(50000);
	atomic_store(&stopping, true);
	pthread_join(rx, NULL);
	pthread_join(ev, NULL);
	ring_buffer__free(rb);

	uint64_t counters[FAII_RES_COUNTER_SLOTS], total = 0, drops = 0;
	if (faii_res_read_counters(pin_dir, counters, err) != 0) {
		fprintf(stderr, "residency_flip: %s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < FAII_RES_COUNTER_SLOTS; i++) {
		printf("counter %s %llu\n", faii_res_counter_name(i),
		       (unsigned long long)counters[i]);
		if (i < FAII_RES_REASON_COUNT)
			total += counters[i];
		if (i >= FAII_RES_FIRST_DROP && i < FAII_RES_REASON_COUNT)
			drops += counters[i];
	}
	uint64_t seen[2] = {0, 0};
	uint64_t bad = check("event", &events, cfg[0], cfg[1], seen);
	bad += check("received", &received, cfg[0], cfg[1], seen);
	printf("counted %llu\n", (unsigned long long)total);
	printf("events %llu, lost %llu, malformed %llu; received %llu; only-A verdicts %llu, "
	       "only-B verdicts %llu; inconsistent %llu\n",
	       (unsigned long long)events.total,
	       (unsigned long long)counters[FAII_RES_COUNTER_EVENTS_LOST],
	       (unsigned long long)atomic_load(&malformed_events),
	       (unsigned long long)received.total, (unsigned long long)seen[0],
	       (unsigned long long)seen[1], (unsigned long long)bad);
	if (bad) {
		fprintf(stderr, "residency_flip: %llu verdicts of neither policy\n",
		        (unsigned long long)bad);
		rc = 1;
	}
	if (drops != events.total + counters[FAII_RES_COUNTER_EVENTS_LOST]) {
		fprintf(stderr, "residency_flip: %llu drops counted, %llu events read + lost\n",
		        (unsigned long long)drops,
		        (unsigned long long)(events.total +
		                             counters[FAII_RES_COUNTER_EVENTS_LOST]));
		rc = 1;
	}
	if (received.total > counters[FAII_RES_PASS_ALLOWED]) {
		fprintf(stderr, "residency_flip: %llu tasks received, %llu passed\n",
		        (unsigned long long)received.total,
		        (unsigned long long)counters[FAII_RES_PASS_ALLOWED]);
		rc = 1;
	}
	if (flips >= 2 && (seen[0] == 0 || seen[1] == 0)) {
		fprintf(stderr, "residency_flip: policy %s never judged a packet\n",
		        seen[0] == 0 ? "A" : "B");
		rc = 1;
	}
	close(fd);
	faii_config_free(cfg[0]);
	faii_config_free(cfg[1]);
	return rc;
}

static int do_drain(const char *pin_dir)
{
	struct ring_buffer *rb = open_ring(pin_dir);
	if (rb == NULL)
		return 1;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	for (size_t i = 0; i < events.n; i++) {
		const struct tally *t = &events.t[i];
		printf("event %s %u %u %u %llu\n", reason_name(t->reason), t->node,
		       t->residency_class, t->jurisdiction, (unsigned long long)t->count);
	}
	if (atomic_load(&malformed_events))
		printf("event malformed %llu\n",
		       (unsigned long long)atomic_load(&malformed_events));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "run") == 0)
		return do_run(argv[2], argv[3], argv[4], atol(argv[5]));
	if (argc == 3 && strcmp(argv[1], "drain") == 0)
		return do_drain(argv[2]);
	fprintf(stderr, "usage: residency_flip run PIN_DIR CONFIG_A CONFIG_B FLIPS\n"
	                "       residency_flip drain PIN_DIR\n");
	return 2;
}
