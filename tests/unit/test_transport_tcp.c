/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct faii_transport over authenticated, encrypted TCP on loopback
 * (ledger/net/transport_tcp.c): validators in one process exchange
 * messages all-to-all, the largest included; a wrong key, a tampered byte,
 * garbage, an oversize frame, a silent, idle or restarted peer each end
 * as docs/consensus-transport.md says, counted by name, while the other
 * links carry on. Time is bounded: every wait has a wall-clock limit, and
 * timeouts are reached by moving a test clock forward, never by sleeping.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../../ledger/net/tcp_wire.h"
#include "faii/clock.h"
#include "faii/transport_tcp.h"

#define TEST_VALIDATORS_MAX 4u
#define TEST_WAIT_MS        20000u /* the longest any wait may take */
#define TEST_HEADER_BYTES   6u     /* seq (u32), from, to */

/* ---- a clock the test can move forward --------------------------------- */

struct test_clock {
	struct faii_clock clock;
	uint64_t skip_ns;
};

static uint64_t test_clock_monotonic(const struct faii_clock *clock)
{
	const struct test_clock *own = clock->ctx;
	return faii_monotonic_ns() + own->skip_ns;
}

static uint64_t test_clock_realtime(const struct faii_clock *clock)
{
	const struct test_clock *own = clock->ctx;
	return faii_realtime_ns() + own->skip_ns;
}

static void test_clock_init(struct test_clock *clock)
{
	clock->clock = (struct faii_clock){.realtime_ns = test_clock_realtime,
	                                   .monotonic_ns = test_clock_monotonic,
	                                   .ctx = clock};
	clock->skip_ns = 0;
}

/* ---- messages that check themselves ------------------------------------ */

static uint8_t test_pattern(uint32_t from, uint32_t to, uint32_t seq, uint32_t at)
{
	return (uint8_t)(from * 31u + to * 7u + seq * 13u + at);
}

static uint32_t test_message(uint8_t *out, uint32_t from, uint32_t to, uint32_t seq, uint32_t len)
{
	cr_assert_geq(len, TEST_HEADER_BYTES);
	memcpy(out, &seq, 4);
	out[4] = (uint8_t)from;
	out[5] = (uint8_t)to;
	for (uint32_t at = TEST_HEADER_BYTES; at < len; at++)
		out[at] = test_pattern(from, to, seq, at);
	return len;
}

struct test_inbox {
	uint32_t self;
	bool ordered; /* each link must deliver 1, 2, 3 ... */
	uint32_t count[TEST_VALIDATORS_MAX];
	uint32_t last_seq[TEST_VALIDATORS_MAX];
	uint32_t largest[TEST_VALIDATORS_MAX];
};

static void test_receive(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct test_inbox *inbox = receiver;
	cr_assert_lt(from, TEST_VALIDATORS_MAX);
	cr_assert_geq(len, TEST_HEADER_BYTES);
	uint32_t seq;
	memcpy(&seq, bytes, 4);
	cr_assert_eq(bytes[4], from, "a message from %u arrived as from %u", bytes[4], from);
	cr_assert_eq(bytes[5], inbox->self);
	for (uint32_t at = TEST_HEADER_BYTES; at < len; at++)
		cr_assert_eq(bytes[at], test_pattern(from, inbox->self, seq, at), "byte %u", at);
	if (inbox->ordered)
		cr_assert_eq(seq, inbox->last_seq[from] + 1, "from %u: seq %u after %u", from, seq,
		             inbox->last_seq[from]);
	inbox->last_seq[from] = seq;
	inbox->count[from]++;
	if (len > inbox->largest[from])
		inbox->largest[from] = len;
}

/* ---- a committee on loopback -------------------------------------------- */

struct test_committee {
	uint32_t count;
	struct faii_transport_tcp_config config[TEST_VALIDATORS_MAX];
	struct test_clock clock[TEST_VALIDATORS_MAX];
	struct faii_transport_tcp *tcp[TEST_VALIDATORS_MAX];
	bool paused[TEST_VALIDATORS_MAX]; /* not polled: a silent peer */
	struct test_inbox inbox[TEST_VALIDATORS_MAX];
	uint32_t next_seq[TEST_VALIDATORS_MAX][TEST_VALIDATORS_MAX];
};

static struct sockaddr_storage test_loopback(uint16_t port)
{
	struct sockaddr_storage storage = {0};
	struct sockaddr_in *address = (struct sockaddr_in *)&storage;
	address->sin_family = AF_INET;
	address->sin_port = htons(port);
	address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return storage;
}

/* Keys and loopback addresses (port 0) for `count` validators; the caller
 * may change the configurations before test_committee_open(). */
static void test_committee_init(struct test_committee *committee, uint32_t count)
{
	cr_assert_geq(sodium_init(), 0);
	memset(committee, 0, sizeof(*committee));
	committee->count = count;
	uint8_t public_keys[TEST_VALIDATORS_MAX][crypto_sign_PUBLICKEYBYTES];
	uint8_t secret_keys[TEST_VALIDATORS_MAX][crypto_sign_SECRETKEYBYTES];
	for (uint32_t i = 0; i < count; i++)
		crypto_sign_keypair(public_keys[i], secret_keys[i]);
	for (uint32_t i = 0; i < count; i++) {
		struct faii_transport_tcp_config *config = &committee->config[i];
		config->self = i;
		config->peer_count = count;
		for (uint32_t j = 0; j < count; j++) {
			config->peers[j].address = test_loopback(0);
			memcpy(config->peers[j].public_key, public_keys[j], sizeof(public_keys[j]));
		}
		memcpy(config->secret_key, secret_keys[i], sizeof(secret_keys[i]));
		/* Quick redials, so that a test waits for them in milliseconds. */
		config->reconnect_ms_min = 5;
		config->reconnect_ms_max = 50;
		test_clock_init(&committee->clock[i]);
		committee->inbox[i].self = i;
		committee->inbox[i].ordered = true;
	}
}

static void test_committee_open_one(struct test_committee *committee, uint32_t i)
{
	char err[256] = "";
	committee->tcp[i] = faii_transport_tcp_open(&committee->config[i],
	                                            &committee->clock[i].clock, err, sizeof(err));
	cr_assert_not_null(committee->tcp[i], "validator %u: %s", i, err);
	struct sockaddr_storage bound;
	cr_assert_eq(faii_transport_tcp_local_address(committee->tcp[i], &bound), 0);
	cr_assert_neq(((struct sockaddr_in *)&bound)->sin_port, 0);
	/* Reopened later at the same port. */
	committee->config[i].peers[i].address = bound;
	for (uint32_t j = 0; j < committee->count; j++) {
		if (j != i && committee->tcp[j] != NULL)
			cr_assert_eq(
			        faii_transport_tcp_set_peer_address(committee->tcp[j], i, &bound),
			        0);
		if (j != i)
			committee->config[j].peers[i].address = bound;
	}
}

static void test_committee_open(struct test_committee *committee)
{
	for (uint32_t i = 0; i < committee->count; i++)
		test_committee_open_one(committee, i);
}

static void test_committee_close(struct test_committee *committee)
{
	for (uint32_t i = 0; i < committee->count; i++)
		faii_transport_tcp_close(committee->tcp[i]);
}

static const struct faii_transport_tcp_peer_stats *
test_peer_stats(const struct test_committee *committee, uint32_t at, uint32_t peer)
{
	return &faii_transport_tcp_stats(committee->tcp[at])->peers[peer];
}

/* One round: every open, unpaused transport polls once without waiting. */
static int test_committee_poll(struct test_committee *committee)
{
	int delivered = 0;
	for (uint32_t i = 0; i < committee->count; i++) {
		if (committee->tcp[i] == NULL || committee->paused[i])
			continue;
		int rc = faii_transport_tcp_poll(committee->tcp[i], 0, test_receive,
		                                 &committee->inbox[i]);
		cr_assert_geq(rc, 0);
		delivered += rc;
	}
	return delivered;
}

typedef bool test_done_fn(struct test_committee *committee, const void *arg);

/* Polls until done() or TEST_WAIT_MS; returns done(). */
static bool test_committee_until(struct test_committee *committee, test_done_fn *done,
                                 const void *arg)
{
	uint64_t end_ns = faii_monotonic_ns() + TEST_WAIT_MS * FAII_NS_PER_MS;
	while (!done(committee, arg) && faii_monotonic_ns() < end_ns) {
		if (test_committee_poll(committee) == 0)
			usleep(200);
	}
	return done(committee, arg);
}

static bool test_all_connected(struct test_committee *committee, const void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < committee->count; i++) {
		for (uint32_t j = 0; j < committee->count; j++) {
			if (i != j && !committee->paused[i] && !committee->paused[j] &&
			    committee->tcp[i] != NULL && committee->tcp[j] != NULL &&
			    !test_peer_stats(committee, i, j)->connected)
				return false;
		}
	}
	return true;
}

/* Sends `len` bytes, numbered on the link, from `from` to `to`. */
static int test_send(struct test_committee *committee, uint32_t from, uint32_t to, uint32_t len)
{
	static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	uint32_t seq = committee->next_seq[from][to] + 1;
	test_message(message, from, to, seq, len);
	int rc = faii_transport_send(faii_transport_tcp_transport(committee->tcp[from]), to,
	                             message, len);
	if (rc == 0)
		committee->next_seq[from][to] = seq;
	return rc;
}

/* arg: the messages each listed receiver expects from each peer. */
struct test_expect {
	uint32_t receivers; /* bitmask */
	uint32_t senders;   /* bitmask */
	uint32_t per_link;
};

static bool test_received(struct test_committee *committee, const void *arg)
{
	const struct test_expect *expect = arg;
	for (uint32_t i = 0; i < committee->count; i++) {
		for (uint32_t j = 0; j < committee->count; j++) {
			if (i != j && (expect->receivers >> i & 1) && (expect->senders >> j & 1) &&
			    committee->inbox[i].count[j] < expect->per_link)
				return false;
		}
	}
	return true;
}

static void test_assert_no_close(const struct test_committee *committee, uint32_t at, uint32_t peer)
{
	const struct faii_transport_tcp_peer_stats *stats = test_peer_stats(committee, at, peer);
	for (uint32_t reason = 0; reason < FAII_TCP_CLOSE_REASONS; reason++)
		cr_assert_eq(stats->closes[reason], 0, "validator %u, peer %u: closed %s", at, peer,
		             faii_transport_tcp_close_reason_name(reason));
}

/* ---- all to all --------------------------------------------------------- */

#define TEST_SMALL_MESSAGES 40u

Test(transport_tcp, all_to_all_with_largest_messages)
{
	struct test_committee committee;
	test_committee_init(&committee, 4);
	test_committee_open(&committee);
	/* Queued before any link is up: they wait for the handshakes. */
	uint32_t per_link = 0;
	for (uint32_t m = 0; m < TEST_SMALL_MESSAGES; m++, per_link++) {
		for (uint32_t i = 0; i < 4; i++) {
			for (uint32_t j = 0; j < 4; j++) {
				if (i != j)
					cr_assert_eq(test_send(&committee, i, j, 512 + m), 0);
			}
		}
	}
	for (uint32_t m = 0; m < 3; m++, per_link++) {
		for (uint32_t i = 0; i < 4; i++) {
			for (uint32_t j = 0; j < 4; j++) {
				if (i != j)
					cr_assert_eq(test_send(&committee, i, j,
					                       FAII_TRANSPORT_MESSAGE_BYTES_MAX),
					             0);
			}
		}
	}
	struct test_expect expect = {.receivers = 0xf, .senders = 0xf, .per_link = per_link};
	cr_assert(test_committee_until(&committee, test_received, &expect));
	for (uint32_t i = 0; i < 4; i++) {
		for (uint32_t j = 0; j < 4; j++) {
			if (i == j)
				continue;
			cr_assert_eq(committee.inbox[i].count[j], per_link);
			cr_assert_eq(committee.inbox[i].largest[j],
			             FAII_TRANSPORT_MESSAGE_BYTES_MAX);
			const struct faii_transport_tcp_peer_stats *stats =
			        test_peer_stats(&committee, i, j);
			cr_assert_eq(stats->connected, 1);
			cr_assert_eq(stats->links, 1);
			cr_assert_eq(stats->reconnects, 0);
			cr_assert_eq(stats->messages_sent, per_link);
			cr_assert_eq(stats->messages_received, per_link);
			cr_assert_eq(stats->queued_messages, 0);
			cr_assert_eq(stats->connects, i < j ? 1 : 0, "only the lower index dials");
			cr_assert_gt(stats->bytes_sent, (uint64_t)per_link * 512);
			test_assert_no_close(&committee, i, j);
		}
	}
	test_committee_close(&committee);
}

Test(transport_tcp, bad_sends_and_configurations_are_refused)
{
	struct test_committee committee;
	test_committee_init(&committee, 4);
	test_committee_open(&committee);
	struct faii_transport *zero = faii_transport_tcp_transport(committee.tcp[0]);
	static uint8_t big[FAII_TRANSPORT_MESSAGE_BYTES_MAX + 1];
	cr_assert_eq(zero->self, 0);
	cr_assert_eq(zero->peer_count, 4);
	cr_assert_eq(zero->message_bytes_max, FAII_TRANSPORT_MESSAGE_BYTES_MAX);
	cr_assert_eq(faii_transport_send(zero, 0, big, 1), -EINVAL);
	cr_assert_eq(faii_transport_send(zero, 4, big, 1), -EINVAL);
	cr_assert_eq(faii_transport_send(zero, 1, big, 0), -EMSGSIZE);
	cr_assert_eq(faii_transport_send(zero, 1, big, sizeof(big)), -EMSGSIZE);
	test_committee_close(&committee);

	char err[256];
	struct faii_transport_tcp_config config = committee.config[1];
	config.secret_key[0] ^= 1; /* no longer the public key's */
	config.peers[1].address = test_loopback(0);
	cr_assert_null(faii_transport_tcp_open(&config, &faii_clock_system, err, sizeof(err)));
	cr_assert(strstr(err, "secret key") != NULL, "%s", err);
	config = committee.config[1];
	config.peers[1].address = test_loopback(0);
	memcpy(config.peers[2].public_key, config.peers[3].public_key, 32);
	cr_assert_null(faii_transport_tcp_open(&config, &faii_clock_system, err, sizeof(err)));
	cr_assert(strstr(err, "same public key") != NULL, "%s", err);
	config = committee.config[1];
	config.peers[1].address = test_loopback(0);
	config.queue_bytes_max = 100; /* below the largest message */
	cr_assert_null(faii_transport_tcp_open(&config, &faii_clock_system, err, sizeof(err)));
	config.queue_bytes_max = 0;
	config.self = 4;
	cr_assert_null(faii_transport_tcp_open(&config, &faii_clock_system, err, sizeof(err)));

	struct sockaddr_storage address;
	cr_assert_eq(faii_transport_tcp_parse_address("192.0.2.7:7000", &address), 0);
	cr_assert_eq(address.ss_family, AF_INET);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&address)->sin_port), 7000);
	cr_assert_eq(faii_transport_tcp_parse_address("[2001:db8::1]:65535", &address), 0);
	cr_assert_eq(address.ss_family, AF_INET6);
	const char *bad[] = {"192.0.2.7",        "192.0.2.7:", "192.0.2.7:65536", "host:7000",
	                     "2001:db8::1:7000", ":7000",      "192.0.2.7:-1",    "[::1]x:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(faii_transport_tcp_parse_address(bad[i], &address), -EINVAL, "%s",
		             bad[i]);
}

/* ---- a validator with the wrong key ------------------------------------ */

/* The transcript names both configured keys, so whoever verifies first
 * sees the disagreement: 0 verifies 1's reply; 1, dialling 2 and 3, cannot
 * verify theirs, which were signed over a transcript naming the key they
 * hold for index 1. */
static bool test_identity_refused_twice(struct test_committee *committee, const void *arg)
{
	(void)arg;
	return test_peer_stats(committee, 0, 1)->closes[FAII_TCP_CLOSE_IDENTITY] >= 2 &&
	       test_peer_stats(committee, 1, 2)->closes[FAII_TCP_CLOSE_IDENTITY] >= 2 &&
	       test_peer_stats(committee, 1, 3)->closes[FAII_TCP_CLOSE_IDENTITY] >= 2;
}

Test(transport_tcp, a_validator_proving_another_key_is_refused)
{
	struct test_committee committee;
	test_committee_init(&committee, 4);
	/* Validator 1 runs with a key pair the others do not know for index 1. */
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	crypto_sign_keypair(public_key, committee.config[1].secret_key);
	memcpy(committee.config[1].peers[1].public_key, public_key, sizeof(public_key));
	committee.inbox[1].ordered = false;
	test_committee_open(&committee);
	for (uint32_t i = 0; i < 4; i++) {
		for (uint32_t j = 0; j < 4; j++) {
			if (i != j)
				cr_assert_eq(test_send(&committee, i, j, 100), 0);
		}
	}
	/* Each refusal again after a back-off. */
	cr_assert(test_committee_until(&committee, test_identity_refused_twice, NULL));
	struct test_expect others = {.receivers = 0xd, .senders = 0xd, .per_link = 1};
	cr_assert(test_committee_until(&committee, test_received, &others));
	for (uint32_t i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		cr_assert_eq(test_peer_stats(&committee, i, 1)->links, 0);
		cr_assert_eq(test_peer_stats(&committee, i, 1)->connected, 0);
		cr_assert_eq(committee.inbox[i].count[1], 0, "nothing from the impostor");
		cr_assert_eq(test_peer_stats(&committee, 1, i)->links, 0);
	}
	cr_assert_eq(committee.inbox[1].count[0] + committee.inbox[1].count[2] +
	                     committee.inbox[1].count[3],
	             0, "nothing to the impostor");
	test_committee_close(&committee);
}

/* ---- a relay that can change one byte ----------------------------------- */

#define TEST_RELAY_BUFFER_BYTES 65536u

/* Carries validator 0's connections to validator 1; flips one byte of the
 * first connection's 0 -> 1 stream at `tamper_at`. */
struct test_relay {
	int listen_fd;
	int down_fd, up_fd; /* toward 0 (accepted), toward 1 (dialled) */
	uint32_t connections;
	uint64_t forwarded; /* 0 -> 1 bytes on this connection */
	uint64_t tamper_at;
	bool tampered;
	struct sockaddr_storage target;
};

static void test_relay_open(struct test_relay *relay, const struct sockaddr_storage *target,
                            uint64_t tamper_at)
{
	memset(relay, 0, sizeof(*relay));
	relay->down_fd = relay->up_fd = -1;
	relay->target = *target;
	relay->tamper_at = tamper_at;
	relay->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_storage any = test_loopback(0);
	cr_assert_eq(bind(relay->listen_fd, (struct sockaddr *)&any, sizeof(struct sockaddr_in)),
	             0);
	cr_assert_eq(listen(relay->listen_fd, 4), 0);
}

static struct sockaddr_storage test_relay_address(const struct test_relay *relay)
{
	struct sockaddr_storage address;
	socklen_t len = sizeof(address);
	cr_assert_eq(getsockname(relay->listen_fd, (struct sockaddr *)&address, &len), 0);
	return address;
}

static void test_relay_drop(struct test_relay *relay)
{
	if (relay->down_fd >= 0)
		close(relay->down_fd);
	if (relay->up_fd >= 0)
		close(relay->up_fd);
	relay->down_fd = relay->up_fd = -1;
}

/* Moves what is waiting one way; false when that side closed. */
static bool test_relay_move(struct test_relay *relay, int from, int to, bool tamper)
{
	uint8_t buffer[TEST_RELAY_BUFFER_BYTES];
	ssize_t got = recv(from, buffer, sizeof(buffer), MSG_DONTWAIT);
	if (got == 0 || (got < 0 && errno != EAGAIN))
		return false;
	if (got < 0)
		return true;
	if (tamper && !relay->tampered && relay->forwarded + (uint64_t)got > relay->tamper_at) {
		buffer[relay->tamper_at - relay->forwarded] ^= 0x01;
		relay->tampered = true;
	}
	if (tamper)
		relay->forwarded += (uint64_t)got;
	/* Loopback takes what a test sends here; a short write fails the test. */
	cr_assert_eq(send(to, buffer, (size_t)got, MSG_NOSIGNAL), got);
	return true;
}

static void test_relay_pump(struct test_relay *relay)
{
	if (relay->down_fd < 0) {
		int fd = accept4(relay->listen_fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			return;
		relay->down_fd = fd;
		relay->up_fd = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(relay->up_fd, (struct sockaddr *)&relay->target,
		                     sizeof(struct sockaddr_in)),
		             0);
		relay->forwarded = 0;
		relay->connections++;
	}
	bool first = relay->connections == 1;
	if (!test_relay_move(relay, relay->down_fd, relay->up_fd, first) ||
	    !test_relay_move(relay, relay->up_fd, relay->down_fd, false))
		test_relay_drop(relay);
}

Test(transport_tcp, a_tampered_byte_closes_the_link_and_it_reconnects)
{
	struct test_committee committee;
	test_committee_init(&committee, 2);
	committee.inbox[1].ordered = false;
	test_committee_open(&committee);
	struct test_relay relay;
	struct sockaddr_storage one;
	faii_transport_tcp_local_address(committee.tcp[1], &one);
	/* The byte after the hello, the proof and the first frame's length. */
	test_relay_open(&relay, &one, TCP_WIRE_HELLO_BYTES + TCP_WIRE_PROOF_BYTES + 10);
	struct sockaddr_storage through = test_relay_address(&relay);
	cr_assert_eq(faii_transport_tcp_set_peer_address(committee.tcp[0], 1, &through), 0);
	for (uint32_t m = 0; m < 5; m++)
		cr_assert_eq(test_send(&committee, 0, 1, 1000), 0);
	uint64_t end_ns = faii_monotonic_ns() + TEST_WAIT_MS * FAII_NS_PER_MS;
	while (test_peer_stats(&committee, 0, 1)->reconnects == 0 && faii_monotonic_ns() < end_ns) {
		test_relay_pump(&relay);
		test_committee_poll(&committee);
	}
	cr_assert(relay.tampered);
	cr_assert_eq(relay.connections, 2);
	cr_assert_eq(test_peer_stats(&committee, 1, 0)->closes[FAII_TCP_CLOSE_BAD_TAG], 1);
	cr_assert_eq(test_peer_stats(&committee, 0, 1)->closes[FAII_TCP_CLOSE_PEER_CLOSED], 1);
	cr_assert_eq(test_peer_stats(&committee, 0, 1)->reconnects, 1);
	cr_assert_eq(committee.inbox[1].count[0], 0, "nothing from the tampered stream");
	/* After the reconnection the link carries messages both ways. */
	uint32_t lost = committee.next_seq[0][1];
	for (uint32_t m = 0; m < 5; m++) {
		cr_assert_eq(test_send(&committee, 0, 1, 1000), 0);
		cr_assert_eq(test_send(&committee, 1, 0, 1000), 0);
	}
	end_ns = faii_monotonic_ns() + TEST_WAIT_MS * FAII_NS_PER_MS;
	while ((committee.inbox[1].last_seq[0] < lost + 5 || committee.inbox[0].count[1] < 5) &&
	       faii_monotonic_ns() < end_ns) {
		test_relay_pump(&relay);
		test_committee_poll(&committee);
	}
	cr_assert_eq(committee.inbox[1].last_seq[0], lost + 5);
	cr_assert_eq(committee.inbox[0].count[1], 5);
	test_relay_drop(&relay);
	close(relay.listen_fd);
	test_committee_close(&committee);
}

/* ---- a silent peer ------------------------------------------------------- */

#define TEST_SILENT_QUEUE_BYTES (256u << 10)
#define TEST_SILENT_SENDS_MAX   20000u

Test(transport_tcp, a_silent_peer_fills_only_its_own_queue)
{
	struct test_committee committee;
	test_committee_init(&committee, 4);
	for (uint32_t i = 0; i < 4; i++) {
		committee.config[i].queue_bytes_max = TEST_SILENT_QUEUE_BYTES;
		committee.config[i].idle_timeout_ms = 120000; /* silent, not idle, for this test */
	}
	test_committee_open(&committee);
	cr_assert(test_committee_until(&committee, test_all_connected, NULL));
	/* Validator 3 stops reading: its socket, then 0's, then 0's queue fill. */
	committee.paused[3] = true;
	uint32_t sends = 0;
	int rc = 0;
	for (; sends < TEST_SILENT_SENDS_MAX; sends++) {
		rc = test_send(&committee, 0, 3, FAII_TRANSPORT_MESSAGE_BYTES_MAX);
		if (rc != 0)
			break;
		test_committee_poll(&committee);
	}
	cr_assert_eq(rc, -ENOBUFS, "after %u sends", sends);
	const struct faii_transport_tcp_peer_stats *three = test_peer_stats(&committee, 0, 3);
	cr_assert_eq(three->send_dropped_full, 1);
	cr_assert_leq(three->queued_bytes, TEST_SILENT_QUEUE_BYTES);
	cr_assert_eq(three->connected, 1, "silent, not gone");
	/* The others go on exchanging, through 0 too. */
	for (uint32_t m = 0; m < 20; m++) {
		for (uint32_t i = 0; i < 3; i++) {
			for (uint32_t j = 0; j < 3; j++) {
				if (i != j)
					cr_assert_eq(test_send(&committee, i, j, 2000), 0);
			}
		}
	}
	struct test_expect others = {.receivers = 0x7, .senders = 0x7, .per_link = 20};
	cr_assert(test_committee_until(&committee, test_received, &others));
	/* The kernel may have taken a little more meanwhile; the queue is soon
	 * full again, and never holds more than its bound. */
	for (sends = 0; sends < TEST_SILENT_SENDS_MAX; sends++) {
		rc = test_send(&committee, 0, 3, FAII_TRANSPORT_MESSAGE_BYTES_MAX);
		cr_assert_leq(three->queued_bytes, TEST_SILENT_QUEUE_BYTES);
		if (rc != 0)
			break;
		test_committee_poll(&committee);
	}
	cr_assert_eq(rc, -ENOBUFS, "after %u more sends", sends);
	cr_assert_eq(three->send_dropped_full, 2);
	test_committee_close(&committee);
}

/* ---- timeouts, reached on the test clock ---------------------------------- */

Test(transport_tcp, an_idle_peer_is_closed_and_keepalives_keep_a_quiet_one)
{
	struct test_committee committee;
	test_committee_init(&committee, 2);
	for (uint32_t i = 0; i < 2; i++)
		committee.config[i].idle_timeout_ms = 3000;
	test_committee_open(&committee);
	cr_assert(test_committee_until(&committee, test_all_connected, NULL));
	/* Quiet but alive: past the keepalive interval, both send one. */
	for (uint32_t i = 0; i < 2; i++)
		committee.clock[i].skip_ns += 1100 * FAII_NS_PER_MS;
	for (uint32_t round = 0; round < 50; round++) {
		test_committee_poll(&committee);
		usleep(1000);
	}
	cr_assert_geq(test_peer_stats(&committee, 0, 1)->keepalives_received, 1);
	cr_assert_geq(test_peer_stats(&committee, 1, 0)->keepalives_received, 1);
	cr_assert_eq(test_peer_stats(&committee, 0, 1)->connected, 1);
	/* 1 falls silent; 0's clock passes the idle timeout. */
	committee.paused[1] = true;
	committee.clock[0].skip_ns += 3100 * FAII_NS_PER_MS;
	test_committee_poll(&committee);
	cr_assert_eq(test_peer_stats(&committee, 0, 1)->closes[FAII_TCP_CLOSE_IDLE], 1);
	cr_assert_eq(test_peer_stats(&committee, 0, 1)->connected, 0);
	test_committee_close(&committee);
}

Test(transport_tcp, a_peer_that_never_answers_times_out_and_is_redialled)
{
	struct test_committee committee;
	test_committee_init(&committee, 2);
	/* Validator 1's port accepts TCP connections (the kernel's backlog) but
	 * nothing ever answers the hello. */
	int mute = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage any = test_loopback(0);
	cr_assert_eq(bind(mute, (struct sockaddr *)&any, sizeof(struct sockaddr_in)), 0);
	cr_assert_eq(listen(mute, 4), 0);
	socklen_t len = sizeof(any);
	cr_assert_eq(getsockname(mute, (struct sockaddr *)&any, &len), 0);
	committee.config[0].peers[1].address = any;
	committee.count = 1; /* only validator 0 runs */
	test_committee_open_one(&committee, 0);
	for (uint32_t round = 0; round < 20; round++)
		test_committee_poll(&committee);
	const struct faii_transport_tcp_peer_stats *one = test_peer_stats(&committee, 0, 1);
	cr_assert_eq(one->connects, 1);
	cr_assert_eq(one->connected, 0);
	committee.clock[0].skip_ns +=
	        (FAII_TRANSPORT_TCP_HANDSHAKE_TIMEOUT_MS_DEFAULT + 1) * FAII_NS_PER_MS;
	test_committee_poll(&committee);
	cr_assert_eq(one->closes[FAII_TCP_CLOSE_HANDSHAKE_TIMEOUT], 1);
	/* The next dial comes after the back-off (5 ms and a quarter at most). */
	committee.clock[0].skip_ns += 10 * FAII_NS_PER_MS;
	test_committee_poll(&committee);
	cr_assert_eq(one->connects, 2);
	faii_transport_tcp_close(committee.tcp[0]);
	close(mute);
}

/* ---- restart ------------------------------------------------------------- */

static bool test_down_everywhere(struct test_committee *committee, const void *arg)
{
	uint32_t gone = *(const uint32_t *)arg;
	for (uint32_t i = 0; i < committee->count; i++) {
		if (i != gone && test_peer_stats(committee, i, gone)->connected)
			return false;
	}
	return true;
}

Test(transport_tcp, a_restarted_validator_reconnects)
{
	struct test_committee committee;
	test_committee_init(&committee, 4);
	test_committee_open(&committee);
	for (uint32_t i = 0; i < 4; i++) {
		for (uint32_t j = 0; j < 4; j++) {
			if (i != j)
				cr_assert_eq(test_send(&committee, i, j, 300), 0);
		}
	}
	struct test_expect first = {.receivers = 0xf, .senders = 0xf, .per_link = 1};
	cr_assert(test_committee_until(&committee, test_received, &first));
	uint32_t gone = 2;
	faii_transport_tcp_close(committee.tcp[gone]);
	committee.tcp[gone] = NULL;
	cr_assert(test_committee_until(&committee, test_down_everywhere, &gone));
	/* Back at the same address with nothing of its past: numbering restarts. */
	test_committee_open_one(&committee, gone);
	memset(&committee.inbox[gone], 0, sizeof(committee.inbox[gone]));
	committee.inbox[gone].self = gone;
	committee.inbox[gone].ordered = true;
	for (uint32_t i = 0; i < 4; i++) {
		committee.next_seq[gone][i] = 0;
		committee.next_seq[i][gone] = 0;
		committee.inbox[i].last_seq[gone] = 0;
		committee.inbox[i].count[gone] = 0;
	}
	cr_assert(test_committee_until(&committee, test_all_connected, NULL));
	for (uint32_t i = 0; i < 4; i++) {
		for (uint32_t j = 0; j < 4; j++) {
			if (i != j)
				cr_assert_eq(test_send(&committee, i, j, 300), 0);
		}
	}
	struct test_expect again = {.receivers = 1u << gone, .senders = 0xf, .per_link = 1};
	cr_assert(test_committee_until(&committee, test_received, &again));
	struct test_expect from_gone = {.receivers = 0xf, .senders = 1u << gone, .per_link = 1};
	cr_assert(test_committee_until(&committee, test_received, &from_gone));
	for (uint32_t i = 0; i < 4; i++) {
		if (i == gone)
			continue;
		const struct faii_transport_tcp_peer_stats *stats =
		        test_peer_stats(&committee, i, gone);
		cr_assert_eq(stats->reconnects, 1, "validator %u", i);
		cr_assert_eq(stats->closes[FAII_TCP_CLOSE_PEER_CLOSED], 1, "validator %u", i);
	}
	test_committee_close(&committee);
}

/* ---- a raw peer: the test plays validator 0 against validator 1 --------- */

struct test_raw {
	int fd;
	struct tcp_handshake hs;
};

static int test_raw_connect(struct test_committee *committee)
{
	struct sockaddr_storage one;
	faii_transport_tcp_local_address(committee->tcp[1], &one);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	/* Completes from the kernel's backlog: the transport need not poll. */
	cr_assert_eq(connect(fd, (struct sockaddr *)&one, sizeof(struct sockaddr_in)), 0);
	return fd;
}

static void test_raw_write(int fd, const uint8_t *bytes, size_t len)
{
	cr_assert_eq(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads exactly `len` bytes while the committee polls; false at end of
 * stream (the transport closed us). */
static bool test_raw_read(struct test_committee *committee, int fd, uint8_t *bytes, size_t len)
{
	size_t have = 0;
	uint64_t end_ns = faii_monotonic_ns() + TEST_WAIT_MS * FAII_NS_PER_MS;
	while (have < len && faii_monotonic_ns() < end_ns) {
		test_committee_poll(committee);
		ssize_t got = recv(fd, bytes + have, len - have, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN))
			return false;
		if (got > 0)
			have += (size_t)got;
		else
			usleep(200);
	}
	cr_assert_eq(have, len, "timed out reading");
	return true;
}

/* True once the transport has closed the raw connection. */
static bool test_raw_closed(struct test_committee *committee, int fd)
{
	uint8_t byte;
	uint64_t end_ns = faii_monotonic_ns() + TEST_WAIT_MS * FAII_NS_PER_MS;
	while (faii_monotonic_ns() < end_ns) {
		test_committee_poll(committee);
		ssize_t got = recv(fd, &byte, 1, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN))
			return true;
		usleep(200);
	}
	return false;
}

/* Connects and runs the handshake as validator 0 with `secret_key`. */
static void test_raw_authenticate(struct test_committee *committee, struct test_raw *raw,
                                  const uint8_t *secret_key)
{
	raw->fd = test_raw_connect(committee);
	uint8_t hello[TCP_WIRE_HELLO_BYTES], reply[TCP_WIRE_REPLY_BYTES],
	        proof[TCP_WIRE_PROOF_BYTES];
	tcp_wire_hello(&raw->hs, 0, 1, committee->config[1].peers[0].public_key,
	               committee->config[1].peers[1].public_key, hello);
	test_raw_write(raw->fd, hello, sizeof(hello));
	cr_assert(test_raw_read(committee, raw->fd, reply, sizeof(reply)));
	cr_assert_eq(tcp_wire_proof(&raw->hs, reply, secret_key, proof), TCP_WIRE_OK);
	test_raw_write(raw->fd, proof, sizeof(proof));
}

static void test_raw_send(struct test_raw *raw, uint32_t seq, uint32_t len)
{
	static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	static uint8_t frame[FAII_TRANSPORT_TCP_FRAME_BYTES_MAX];
	test_message(message, 0, 1, seq, len);
	uint32_t bytes = tcp_wire_seal(&raw->hs.push, message, len, frame);
	test_raw_write(raw->fd, frame, bytes);
}

static bool test_one_heard_from_zero(struct test_committee *committee, const void *arg)
{
	return committee->inbox[1].count[0] >= *(const uint32_t *)arg;
}

static const uint64_t *test_closes(struct test_committee *committee)
{
	return test_peer_stats(committee, 1, 0)->closes;
}

Test(transport_tcp, byzantine_frames_from_an_authenticated_peer_close_its_link)
{
	struct test_committee committee;
	test_committee_init(&committee, 2);
	committee.inbox[1].ordered = false;
	committee.count = 2;
	test_committee_open_one(&committee, 1); /* 0 is the test */
	committee.paused[0] = true;
	const uint8_t *zero_key = committee.config[0].secret_key;

	/* A valid frame is delivered; then an oversize length closes the link. */
	struct test_raw raw;
	test_raw_authenticate(&committee, &raw, zero_key);
	test_raw_send(&raw, 1, 64);
	uint32_t expected = 1;
	cr_assert(test_committee_until(&committee, test_one_heard_from_zero, &expected));
	const uint8_t oversize[4] = {0xff, 0xff, 0x01, 0x00};
	test_raw_write(raw.fd, oversize, sizeof(oversize));
	cr_assert(test_raw_closed(&committee, raw.fd));
	cr_assert_eq(test_closes(&committee)[FAII_TCP_CLOSE_OVERSIZE], 1);
	close(raw.fd);

	/* A frame shorter than its tag. */
	test_raw_authenticate(&committee, &raw, zero_key);
	const uint8_t short_frame[4 + 16] = {16};
	test_raw_write(raw.fd, short_frame, sizeof(short_frame));
	cr_assert(test_raw_closed(&committee, raw.fd));
	cr_assert_eq(test_closes(&committee)[FAII_TCP_CLOSE_BAD_FRAME], 1);
	close(raw.fd);

	/* A frame sealed for another stream fails its tag. */
	test_raw_authenticate(&committee, &raw, zero_key);
	uint8_t frame[FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES + 8];
	crypto_secretstream_xchacha20poly1305_state other;
	uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES], header[24];
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&other, header, key);
	test_raw_write(raw.fd, frame, tcp_wire_seal(&other, (const uint8_t *)"12345678", 8, frame));
	cr_assert(test_raw_closed(&committee, raw.fd));
	cr_assert_eq(test_closes(&committee)[FAII_TCP_CLOSE_BAD_TAG], 1);
	close(raw.fd);

	/* A second authenticated connection replaces the first. */
	struct test_raw older, newer;
	test_raw_authenticate(&committee, &older, zero_key);
	test_raw_send(&older, 2, 64);
	expected = 2;
	cr_assert(test_committee_until(&committee, test_one_heard_from_zero, &expected));
	test_raw_authenticate(&committee, &newer, zero_key);
	cr_assert(test_raw_closed(&committee, older.fd));
	cr_assert_eq(test_closes(&committee)[FAII_TCP_CLOSE_REPLACED], 1);
	test_raw_send(&newer, 3, 64);
	expected = 3;
	cr_assert(test_committee_until(&committee, test_one_heard_from_zero, &expected));
	/* And validator 1 sends to it: the raw side opens what arrives. */
	cr_assert_eq(test_send(&committee, 1, 0, 200), 0);
	uint8_t in[FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES + 200], opened[200];
	cr_assert(test_raw_read(&committee, newer.fd, in, sizeof(in)));
	uint32_t frame_bytes = 0, len = 0;
	cr_assert_eq(tcp_wire_frame_size(in, sizeof(in), &frame_bytes), TCP_WIRE_OK);
	cr_assert_eq(tcp_wire_open(&newer.hs.pull, in, frame_bytes, opened, &len), TCP_WIRE_OK);
	cr_assert_eq(len, 200);
	cr_assert_eq(opened[4], 1);
	close(older.fd);
	close(newer.fd);
	cr_assert_eq(test_peer_stats(&committee, 1, 0)->links, 5);
	faii_transport_tcp_close(committee.tcp[1]);
}

#define TEST_GARBAGE_CONNECTIONS 64u

Test(transport_tcp, garbage_and_impostors_are_refused_without_harm)
{
	struct test_committee committee;
	test_committee_init(&committee, 2);
	committee.count = 2;
	test_committee_open_one(&committee, 1);
	committee.paused[0] = true;
	const struct faii_transport_tcp_stats *stats = faii_transport_tcp_stats(committee.tcp[1]);

	/* Random bytes of random lengths: never a crash, always closed. */
	uint8_t garbage[4096];
	for (uint32_t i = 0; i < TEST_GARBAGE_CONNECTIONS; i++) {
		int fd = test_raw_connect(&committee);
		size_t len = TCP_WIRE_HELLO_BYTES + randombytes_uniform(sizeof(garbage) - 48);
		randombytes_buf(garbage, len);
		test_raw_write(fd, garbage, len);
		cr_assert(test_raw_closed(&committee, fd));
		close(fd);
	}
	cr_assert_eq(stats->closes_unattributed[FAII_TCP_CLOSE_HANDSHAKE_MALFORMED],
	             TEST_GARBAGE_CONNECTIONS);

	/* A well-formed hello from the wrong direction (1 does not dial itself). */
	struct tcp_handshake hs;
	uint8_t hello[TCP_WIRE_HELLO_BYTES];
	tcp_wire_hello(&hs, 0, 1, committee.config[1].peers[0].public_key,
	               committee.config[1].peers[1].public_key, hello);
	hello[8] = 1; /* the initiator claims index 1 */
	int fd = test_raw_connect(&committee);
	test_raw_write(fd, hello, sizeof(hello));
	cr_assert(test_raw_closed(&committee, fd));
	close(fd);
	cr_assert_eq(stats->closes_unattributed[FAII_TCP_CLOSE_HANDSHAKE_MALFORMED],
	             TEST_GARBAGE_CONNECTIONS + 1);

	/* Claiming index 0 without its key; then a low-order ephemeral key. */
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret_key[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(public_key, secret_key);
	struct test_raw raw;
	test_raw_authenticate(&committee, &raw, secret_key);
	cr_assert(test_raw_closed(&committee, raw.fd));
	close(raw.fd);
	cr_assert_eq(stats->peers[0].closes[FAII_TCP_CLOSE_IDENTITY], 1);
	tcp_wire_hello(&hs, 0, 1, public_key, public_key, hello);
	memset(hello + 16, 0, 32);
	fd = test_raw_connect(&committee);
	test_raw_write(fd, hello, sizeof(hello));
	cr_assert(test_raw_closed(&committee, fd));
	close(fd);
	cr_assert_eq(stats->peers[0].closes[FAII_TCP_CLOSE_KEY_EXCHANGE], 1);
	cr_assert_eq(stats->peers[0].links, 0);

	/* More silent connections than pending_max: the rest are refused at
	 * once, the others time out. */
	int silent[FAII_TRANSPORT_TCP_PENDING_DEFAULT + 4];
	for (uint32_t i = 0; i < FAII_TRANSPORT_TCP_PENDING_DEFAULT + 4; i++) {
		silent[i] = test_raw_connect(&committee);
		test_committee_poll(&committee);
	}
	cr_assert_eq(stats->refused_pending_full, 4);
	committee.clock[1].skip_ns +=
	        (FAII_TRANSPORT_TCP_HANDSHAKE_TIMEOUT_MS_DEFAULT + 1) * FAII_NS_PER_MS;
	test_committee_poll(&committee);
	cr_assert_eq(stats->closes_unattributed[FAII_TCP_CLOSE_HANDSHAKE_TIMEOUT],
	             FAII_TRANSPORT_TCP_PENDING_DEFAULT);
	for (uint32_t i = 0; i < FAII_TRANSPORT_TCP_PENDING_DEFAULT + 4; i++)
		close(silent[i]);

	/* After all that, the real validator 0 is still served. */
	test_raw_authenticate(&committee, &raw, committee.config[0].secret_key);
	test_raw_send(&raw, 1, 100);
	uint32_t expected = 1;
	cr_assert(test_committee_until(&committee, test_one_heard_from_zero, &expected));
	close(raw.fd);
	faii_transport_tcp_close(committee.tcp[1]);
}
