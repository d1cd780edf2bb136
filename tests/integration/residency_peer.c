/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Both ends of the residency network-namespace tests: real UDP datagrams
 * through the kernel's stack, so that the residency program judges them at a
 * real XDP or TC hook. Messages come from the project's encoders.
 *
 *   residency_peer send DST_IPV4 [--loop] [--pace-us N] SPEC...
 *     SPEC is KIND:PORT:COUNT[:NODE:CLASS], sent COUNT times in order:
 *       task      a dispatched TASK to NODE of residency CLASS (NODE 0: a
 *                 client's TASK, not dispatched)
 *       result    a RESULT (faii, not a TASK)
 *       badmagic  a TASK to NODE/CLASS whose magic is 0xFA12
 *       short     a TASK to NODE/CLASS cut one byte short of its body
 *       raw       64 bytes that are not faii
 *     --loop repeats the list until SIGTERM or SIGINT; --pace-us sleeps N us
 *     after each datagram. Prints "sent KIND:PORT:NODE:CLASS N" per SPEC.
 *
 *   residency_peer recv [--idle-ms N] [--max-ms N] PORT...
 *     Prints "ready" once bound, then counts what arrives until no datagram
 *     came for N ms (default 1000) or M ms passed (default 30000), and prints
 *     "recv PORT task NODE CLASS N", "recv PORT result N", "recv PORT other N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "faii/protocol.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define SPECS_MAX 64
#define PORTS_MAX 8
#define SEEN_MAX  1024

enum kind { K_TASK, K_RESULT, K_BADMAGIC, K_SHORT, K_RAW };
static const char *const kind_names[] = {"task", "result", "badmagic", "short", "raw"};

struct spec {
	enum kind kind;
	uint16_t port;
	unsigned long count;
	uint32_t node;
	uint16_t residency_class;
	unsigned long sent;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool parse_spec(const char *text, struct spec *s)
{
	char kind[16];
	unsigned port, node = 0, cls = 0;
	unsigned long count;
	int n = sscanf(text, "%15[a-z]:%u:%lu:%u:%u", kind, &port, &count, &node, &cls);
	if (n != 3 && n != 5)
		return false;
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(kind, kind_names[i]) == 0) {
			s->kind = (enum kind)i;
			s->port = (uint16_t)port;
			s->count = count;
			s->node = node;
			s->residency_class = (uint16_t)cls;
			return port > 0 && port <= 65535 && cls <= 0xFFFF;
		}
	}
	return false;
}

/* The datagram of one spec; task ids count up so that no two are alike. */
static size_t build(const struct spec *s, uint64_t task_id, uint8_t *buf, size_t cap)
{
	if (s->kind == K_RAW) {
		for (size_t i = 0; i < 64; i++)
			buf[i] = (uint8_t)(0x5A ^ i);
		return 64;
	}
	if (s->kind == K_RESULT) {
		struct faii_result r = faii_sample_result();
		r.task_id = task_id;
		r.payload_len = 0;
		return faii_encode_result(buf, cap, &r, NULL);
	}
	struct faii_task t = faii_sample_task();
	t.task_id = task_id;
	t.node_id = s->node;
	t.dispatch_ts_ns = s->node ? FAII_SAMPLE_TS_NS + 1000 : 0;
	t.residency_class = s->residency_class;
	t.payload_len = 0;
	size_t n = faii_encode_task(buf, cap, &t, NULL);
	if (n == 0)
		return 0;
	if (s->kind == K_BADMAGIC)
		buf[1] ^= 0x03; /* 0xFA11 -> 0xFA12 */
	if (s->kind == K_SHORT)
		n = FAII_HDR_SIZE + FAII_TASK_BODY_SIZE - 1;
	return n;
}

static int do_send(int argc, char **argv)
{
	bool loop = false;
	long pace_us = 0;
	struct spec specs[SPECS_MAX];
	size_t nspecs = 0;
	const char *dst = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--loop") == 0) {
			loop = true;
		} else if (strcmp(argv[i], "--pace-us") == 0 && i + 1 < argc) {
			pace_us = atol(argv[++i]);
		} else if (dst == NULL) {
			dst = argv[i];
		} else if (nspecs < SPECS_MAX && parse_spec(argv[i], &specs[nspecs])) {
			nspecs++;
		} else {
			fprintf(stderr, "residency_peer: bad SPEC \"%s\"\n", argv[i]);
			return 2;
		}
	}
	struct sockaddr_in to = {.sin_family = AF_INET};
	if (dst == NULL || inet_pton(AF_INET, dst, &to.sin_addr) != 1 || nspecs == 0) {
		fprintf(stderr,
		        "usage: residency_peer send DST_IPV4 [--loop] [--pace-us N] SPEC...\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("residency_peer: socket");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	uint64_t task_id = 1;
	struct timespec pace = {.tv_nsec = pace_us * 1000};
	do {
		for (size_t i = 0; i < nspecs && !stop; i++) {
			struct spec *s = &specs[i];
			to.sin_port = htons(s->port);
			for (unsigned long k = 0; k < s->count && !stop; k++) {
				uint8_t buf[FAII_MSG_SIZE_MAX];
				size_t len = build(s, task_id++, buf, sizeof(buf));
				ssize_t rc =
				        sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
				/* A TC egress drop is ENOBUFS at most: the datagram was
				 * handed to the stack, which is what we count. */
				if (rc < 0 && errno != ENOBUFS && errno != EINTR) {
					perror("residency_peer: sendto");
					return 1;
				}
				if (rc >= 0 || errno == ENOBUFS)
					s->sent++;
				if (pace_us > 0)
					nanosleep(&pace, NULL);
			}
		}
	} while (loop && !stop);
	for (size_t i = 0; i < nspecs; i++)
		printf("sent %s:%u:%u:%u %lu\n", kind_names[specs[i].kind], specs[i].port,
		       specs[i].node, specs[i].residency_class, specs[i].sent);
	close(fd);
	return 0;
}

struct seen {
	uint16_t port;
	int what; /* 0 task, 1 result, 2 other */
	uint32_t node;
	uint16_t residency_class;
	unsigned long count;
};

static void record(struct seen *seen, size_t *n, struct seen key)
{
	for (size_t i = 0; i < *n; i++) {
		if (seen[i].port == key.port && seen[i].what == key.what &&
		    seen[i].node == key.node && seen[i].residency_class == key.residency_class) {
			seen[i].count++;
			return;
		}
	}
	if (*n < SEEN_MAX) {
		key.count = 1;
		seen[(*n)++] = key;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int do_recv(int argc, char **argv)
{
	long idle_ms = 1000, max_ms = 30000;
	struct pollfd fds[PORTS_MAX];
	uint16_t ports[PORTS_MAX];
	size_t nports = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--idle-ms") == 0 && i + 1 < argc) {
			idle_ms = atol(argv[++i]);
		} else if (strcmp(argv[i], "--max-ms") == 0 && i + 1 < argc) {
			max_ms = atol(argv[++i]);
		} else if (nports < PORTS_MAX && atoi(argv[i]) > 0 && atoi(argv[i]) < 65536) {
			ports[nports] = (uint16_t)atoi(argv[i]);
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			int big = 8 << 20;
			setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
			struct sockaddr_in a = {.sin_family = AF_INET,
			                        .sin_port = htons(ports[nports])};
			if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
				fprintf(stderr, "residency_peer: bind %u: %s\n", ports[nports],
				        strerror(errno));
				return 1;
			}
			fds[nports++] = (struct pollfd){.fd = fd, .events = POLLIN};
		} else {
			fprintf(stderr, "usage: residency_peer recv [--idle-ms N] [--max-ms N] "
			                "PORT...\n");
			return 2;
		}
	}
	printf("ready\n");
	fflush(stdout);
	static struct seen seen[SEEN_MAX];
	size_t nseen = 0;
	uint64_t start = now_ms(), last = start;
	for (;;) {
		uint64_t now = now_ms();
		if (now - last >= (uint64_t)idle_ms || now - start >= (uint64_t)max_ms)
			break;
		if (poll(fds, nports, 50) <= 0)
			continue;
		for (size_t i = 0; i < nports; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			uint8_t buf[2048];
			ssize_t n = recv(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0)
				continue;
			last = now_ms();
			struct faii_msg_view v;
			struct seen key = {.port = ports[i], .what = 2};
			if (faii_parse(buf, (size_t)n, &v) == FAII_OK) {
				if (v.type == FAII_MSG_TASK) {
					struct faii_task t;
					faii_decode_task(&v, &t);
					key.what = 0;
					key.node = t.node_id;
					key.residency_class = t.residency_class;
				} else if (v.type == FAII_MSG_RESULT) {
					key.what = 1;
				}
			}
			record(seen, &nseen, key);
		}
	}
	for (size_t i = 0; i < nseen; i++) {
		const struct seen *s = &seen[i];
		if (s->what == 0)
			printf("recv %u task %u %u %lu\n", s->port, s->node, s->residency_class,
			       s->count);
		else
			printf("recv %u %s %lu\n", s->port, s->what == 1 ? "result" : "other",
			       s->count);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return do_send(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "recv") == 0)
		return do_recv(argc - 2, argv + 2);
	fprintf(stderr, "usage: residency_peer send|recv ...\n");
	return 2;
}
