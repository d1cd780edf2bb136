/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP transport between two validators on loopback (perf/bench
 * transport): messages per second through faii_transport_tcp (queue,
 * secretstream, framing, epoll) against a same-run baseline of plain TCP
 * with the same 4-byte length framing and no encryption, both driven from
 * one thread that sends until the queue or socket is full and then reads.
 * Best of --reps runs of --count messages per case; JSON lines on stdout.
 * Figures on a loaded shared machine are indicative only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "faii/clock.h"
#include "faii/transport_tcp.h"

#define BENCH_WAIT_NS      (120ull * FAII_NS_PER_S) /* any one run */
#define BENCH_PLAIN_BUFFER (2u * FAII_TRANSPORT_TCP_FRAME_BYTES_MAX)
#define BENCH_LENGTH_BYTES 4u

struct bench_case {
	const char *name;
	uint32_t message_bytes;
	uint64_t count; /* messages per run */
};

static void bench_fail(const char *what)
{
	fprintf(stderr, "bench_transport: %s\n", what);
	exit(1);
}

struct bench_counter {
	uint64_t received;
	uint32_t len;
};

static void bench_receive(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct bench_counter *counter = receiver;
	(void)bytes;
	if (from != 0 || len != counter->len)
		bench_fail("a message arrived altered");
	counter->received++;
}

static struct sockaddr_storage bench_loopback(void)
{
	struct sockaddr_storage storage = {0};
	struct sockaddr_in *address = (struct sockaddr_in *)&storage;
	address->sin_family = AF_INET;
	address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return storage;
}

static void bench_open_pair(struct faii_transport_tcp *tcp[2])
{
	struct faii_transport_tcp_config config[2];
	memset(config, 0, sizeof(config));
	uint8_t public_keys[2][32], secret_keys[2][64];
	for (uint32_t i = 0; i < 2; i++)
		crypto_sign_keypair(public_keys[i], secret_keys[i]);
	for (uint32_t i = 0; i < 2; i++) {
		config[i].self = i;
		config[i].peer_count = 2;
		for (uint32_t j = 0; j < 2; j++) {
			config[i].peers[j].address = bench_loopback();
			memcpy(config[i].peers[j].public_key, public_keys[j], 32);
		}
		memcpy(config[i].secret_key, secret_keys[i], 64);
		char err[256];
		tcp[i] = faii_transport_tcp_open(&config[i], &faii_clock_system, err, sizeof(err));
		if (tcp[i] == NULL)
			bench_fail(err);
	}
	struct sockaddr_storage one;
	faii_transport_tcp_local_address(tcp[1], &one);
	faii_transport_tcp_set_peer_address(tcp[0], 1, &one);
}

/* Messages per second through two faii_transport_tcp. */
static double bench_encrypted(const struct bench_case *c, const uint8_t *message)
{
	struct faii_transport_tcp *tcp[2];
	bench_open_pair(tcp);
	struct bench_counter counter = {.len = c->message_bytes}, ignored = {0};
	struct faii_transport *zero = faii_transport_tcp_transport(tcp[0]);
	uint64_t end_ns = faii_monotonic_ns() + BENCH_WAIT_NS;
	while (!faii_transport_tcp_stats(tcp[0])->peers[1].connected) {
		faii_transport_tcp_poll(tcp[0], 1, bench_receive, &ignored);
		faii_transport_tcp_poll(tcp[1], 1, bench_receive, &counter);
		if (faii_monotonic_ns() > end_ns)
			bench_fail("the link did not come up");
	}
	uint64_t sent = 0, start_ns = faii_monotonic_ns();
	while (counter.received < c->count) {
		while (sent < c->count &&
		       faii_transport_send(zero, 1, message, c->message_bytes) == 0)
			sent++;
		faii_transport_tcp_poll(tcp[0], 0, bench_receive, &ignored);
		faii_transport_tcp_poll(tcp[1], 0, bench_receive, &counter);
		if (faii_monotonic_ns() > start_ns + BENCH_WAIT_NS)
			bench_fail("encrypted run did not finish");
	}
	double seconds = (double)(faii_monotonic_ns() - start_ns) * 1e-9;
	faii_transport_tcp_close(tcp[0]);
	faii_transport_tcp_close(tcp[1]);
	return (double)c->count / seconds;
}

/* A loopback TCP connection, both ends non-blocking, no Nagle delay. */
static void bench_plain_pair(int fds[2])
{
	struct sockaddr_storage address = bench_loopback();
	socklen_t len = sizeof(struct sockaddr_in);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, len) < 0 ||
	    listen(listener, 1) < 0 || getsockname(listener, (struct sockaddr *)&address, &len) < 0)
		bench_fail("plain listener");
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fds[0], (struct sockaddr *)&address, len) < 0)
		bench_fail("plain connect");
	fds[1] = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
	close(listener);
	int one = 1;
	for (int i = 0; i < 2; i++)
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fds[1] < 0)
		bench_fail("plain accept");
}

struct bench_plain_side {
	uint8_t bytes[BENCH_PLAIN_BUFFER];
	uint32_t len, done;
};

/* Reads and counts whole frames; false when the stream broke. */
static bool bench_plain_read(int fd, struct bench_plain_side *in, uint32_t message_bytes,
                             uint64_t *received)
{
	ssize_t got = recv(fd, in->bytes + in->len, sizeof(in->bytes) - in->len, MSG_DONTWAIT);
	if (got == 0 || (got < 0 && errno != EAGAIN))
		return false;
	if (got > 0)
		in->len += (uint32_t)got;
	uint32_t at = 0, frame = BENCH_LENGTH_BYTES + message_bytes;
	while (in->len - at >= frame) {
		uint32_t len;
		memcpy(&len, in->bytes + at, BENCH_LENGTH_BYTES);
		if (len != message_bytes)
			return false;
		at += frame;
		(*received)++;
	}
	memmove(in->bytes, in->bytes + at, in->len - at);
	in->len -= at;
	return true;
}

/* Messages per second over plain TCP with the same framing. */
static double bench_plain(const struct bench_case *c, const uint8_t *message)
{
	int fds[2];
	bench_plain_pair(fds);
	static struct bench_plain_side out, in;
	out.len = out.done = in.len = 0;
	uint32_t frame = BENCH_LENGTH_BYTES + c->message_bytes;
	uint64_t sent = 0, received = 0, start_ns = faii_monotonic_ns();
	while (received < c->count) {
		if (out.done == out.len)
			out.len = out.done = 0;
		while (sent < c->count && out.len + frame <= sizeof(out.bytes)) {
			memcpy(out.bytes + out.len, &c->message_bytes, BENCH_LENGTH_BYTES);
			memcpy(out.bytes + out.len + BENCH_LENGTH_BYTES, message, c->message_bytes);
			out.len += frame;
			sent++;
		}
		ssize_t written = send(fds[0], out.bytes + out.done, out.len - out.done,
		                       MSG_DONTWAIT | MSG_NOSIGNAL);
		if (written > 0)
			out.done += (uint32_t)written;
		else if (written < 0 && errno != EAGAIN)
			bench_fail("plain send");
		if (!bench_plain_read(fds[1], &in, c->message_bytes, &received))
			bench_fail("plain stream broke");
		if (faii_monotonic_ns() > start_ns + BENCH_WAIT_NS)
			bench_fail("plain run did not finish");
	}
	double seconds = (double)(faii_monotonic_ns() - start_ns) * 1e-9;
	close(fds[0]);
	close(fds[1]);
	return (double)c->count / seconds;
}

static uint64_t bench_arg(const char *value)
{
	char *end = NULL;
	unsigned long long parsed = strtoull(value, &end, 10);
	if (*value == '\0' || *end != '\0' || parsed == 0)
		bench_fail("arguments: --count N --reps N, N a positive integer");
	return parsed;
}

int main(int argc, char **argv)
{
	uint64_t count = 200000, reps = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = bench_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--reps") == 0)
			reps = bench_arg(argv[i + 1]);
		else
			bench_fail("arguments: --count N --reps N");
	}
	if (sodium_init() < 0)
		bench_fail("libsodium");
	const struct bench_case cases[] = {
	        {"tcp_encrypted_512", 512, count},
	        {"tcp_encrypted_largest", FAII_TRANSPORT_MESSAGE_BYTES_MAX, count / 100 + 1},
	};
	static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	randombytes_buf(message, sizeof(message));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double best = 0, best_base = 0;
		for (uint64_t r = 0; r < reps; r++) {
			double rate = bench_encrypted(&cases[i], message);
			double base = bench_plain(&cases[i], message);
			best = rate > best ? rate : best;
			best_base = base > best_base ? base : best_base;
		}
		printf("{\"bench\": \"transport\", \"case\": \"%s\", \"value\": %.0f, "
		       "\"unit\": \"msgs/s\", \"baseline\": \"plain_tcp\", \"baseline_value\": "
		       "%.0f, "
		       "\"ratio\": %.3f}\n",
		       cases[i].name, best, best_base, best / best_base);
		fflush(stdout);
	}
	return 0;
}
