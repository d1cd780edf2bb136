/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct faii_transport over UDP on loopback: three validators exchange
 * messages through the interface the consensus uses; bad sends are
 * refused; stray and forged datagrams are counted and never delivered.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "faii/transport_udp.h"

#define TEST_VALIDATORS    3u
#define TEST_WAIT_MS       2000
#define TEST_RECEIVED_MAX  16u
#define TEST_MESSAGE_BYTES 32u

struct test_inbox {
	uint32_t count;
	uint32_t from[TEST_RECEIVED_MAX];
	uint32_t len[TEST_RECEIVED_MAX];
	uint8_t bytes[TEST_RECEIVED_MAX][TEST_MESSAGE_BYTES];
};

static void test_receive(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct test_inbox *inbox = receiver;
	cr_assert_lt(inbox->count, TEST_RECEIVED_MAX);
	cr_assert_leq(len, TEST_MESSAGE_BYTES);
	inbox->from[inbox->count] = from;
	inbox->len[inbox->count] = len;
	memcpy(inbox->bytes[inbox->count], bytes, len);
	inbox->count++;
}

static struct sockaddr_storage test_loopback(uint16_t port)
{
	struct sockaddr_storage storage = {0};
	struct sockaddr_in *address = (struct sockaddr_in *)&storage;
	address->sin_family = AF_INET;
	address->sin_port = htons(port);
	address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return storage;
}

/* Three validators on loopback ports the kernel picks, each told the others'. */
static void test_committee(struct faii_transport_udp *udp[TEST_VALIDATORS])
{
	struct sockaddr_storage peers[TEST_VALIDATORS];
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++)
		peers[i] = test_loopback(0);
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++)
		cr_assert_eq(faii_transport_udp_open(&udp[i], i, TEST_VALIDATORS, peers), 0);
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++) {
		struct sockaddr_storage bound;
		cr_assert_eq(faii_transport_udp_local_address(udp[i], &bound), 0);
		cr_assert_neq(((struct sockaddr_in *)&bound)->sin_port, 0);
		for (uint32_t j = 0; j < TEST_VALIDATORS; j++) {
			if (j != i)
				cr_assert_eq(faii_transport_udp_set_peer(udp[j], i, &bound), 0);
		}
	}
}

/* Receives until `count` messages arrived or TEST_WAIT_MS passed. */
static void test_receive_until(struct faii_transport_udp *udp, struct test_inbox *inbox,
                               uint32_t count)
{
	struct pollfd readable = {.fd = faii_transport_udp_fd(udp), .events = POLLIN};
	while (inbox->count < count && poll(&readable, 1, TEST_WAIT_MS) > 0)
		cr_assert_geq(faii_transport_udp_receive(udp, test_receive, inbox, 64), 0);
}

Test(transport_udp, messages_between_validators)
{
	struct faii_transport_udp *udp[TEST_VALIDATORS];
	test_committee(udp);
	struct faii_transport *zero = faii_transport_udp_transport(udp[0]);
	cr_assert_eq(zero->self, 0);
	cr_assert_eq(zero->peer_count, TEST_VALIDATORS);
	cr_assert_eq(zero->message_bytes_max, FAII_TRANSPORT_MESSAGE_BYTES_MAX);
	cr_assert_eq(faii_transport_broadcast(zero, (const uint8_t *)"vertex", 6), 0);
	cr_assert_eq(faii_transport_send(faii_transport_udp_transport(udp[2]), 1,
	                                 (const uint8_t *)"vote", 4),
	             0);
	struct test_inbox one = {0}, two = {0};
	test_receive_until(udp[1], &one, 2);
	test_receive_until(udp[2], &two, 1);
	cr_assert_eq(one.count, 2);
	cr_assert_eq(two.count, 1);
	cr_assert_eq(two.from[0], 0);
	cr_assert_eq(two.len[0], 6);
	cr_assert_arr_eq(two.bytes[0], "vertex", 6);
	/* Loopback keeps order here; the interface does not promise it. */
	uint32_t vote = one.from[0] == 2 ? 0 : 1;
	cr_assert_eq(one.from[vote], 2);
	cr_assert_arr_eq(one.bytes[vote], "vote", 4);
	cr_assert_eq(faii_transport_udp_stats(udp[1])->received, 2);
	cr_assert_eq(faii_transport_udp_stats(udp[0])->sent, 2);
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++)
		faii_transport_udp_close(udp[i]);
}

Test(transport_udp, bad_sends_are_refused)
{
	struct faii_transport_udp *udp[TEST_VALIDATORS];
	test_committee(udp);
	struct faii_transport *zero = faii_transport_udp_transport(udp[0]);
	static uint8_t big[FAII_TRANSPORT_MESSAGE_BYTES_MAX + 1];
	cr_assert_eq(faii_transport_send(zero, 0, big, 1), -EINVAL);
	cr_assert_eq(faii_transport_send(zero, TEST_VALIDATORS, big, 1), -EINVAL);
	cr_assert_eq(faii_transport_send(zero, 1, big, 0), -EMSGSIZE);
	cr_assert_eq(faii_transport_send(zero, 1, big, sizeof(big)), -EMSGSIZE);
	/* The largest message goes in one datagram. */
	cr_assert_eq(faii_transport_send(zero, 1, big, FAII_TRANSPORT_MESSAGE_BYTES_MAX), 0);
	struct sockaddr_storage v6 = {.ss_family = AF_INET6};
	cr_assert_eq(faii_transport_udp_set_peer(udp[0], 1, &v6), -EAFNOSUPPORT);
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++)
		faii_transport_udp_close(udp[i]);
}

Test(transport_udp, stray_and_forged_datagrams_are_refused)
{
	struct faii_transport_udp *udp[TEST_VALIDATORS];
	test_committee(udp);
	struct sockaddr_storage target;
	faii_transport_udp_local_address(udp[1], &target);
	int stray = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(stray, 0);
	/* A valid header claiming to be validator 0, from another port: forged. */
	const uint8_t forged[] = {0x17, 0xfa, 1, 0, 0, 0, 0, 0, 'x'};
	const uint8_t bad_magic[] = {0, 0, 1, 0, 0, 0, 0, 0, 'x'};
	const uint8_t self_claim[] = {0x17, 0xfa, 1, 0, 1, 0, 0, 0, 'x'};
	const uint8_t header_only[] = {0x17, 0xfa, 1, 0, 0, 0, 0, 0};
	const uint8_t *datagrams[] = {forged, bad_magic, self_claim, header_only};
	const size_t sizes[] = {sizeof(forged), sizeof(bad_magic), sizeof(self_claim),
	                        sizeof(header_only)};
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(sendto(stray, datagrams[i], sizes[i], 0, (struct sockaddr *)&target,
		                    sizeof(struct sockaddr_in)),
		             (ssize_t)sizes[i]);
	close(stray);
	/* Then a real one, so that we know the strays were read before it. */
	cr_assert_eq(faii_transport_send(faii_transport_udp_transport(udp[0]), 1,
	                                 (const uint8_t *)"ok", 2),
	             0);
	struct test_inbox inbox = {0};
	test_receive_until(udp[1], &inbox, 1);
	cr_assert_eq(inbox.count, 1);
	cr_assert_arr_eq(inbox.bytes[0], "ok", 2);
	const struct faii_transport_udp_stats *stats = faii_transport_udp_stats(udp[1]);
	cr_assert_eq(stats->refused_source, 1);
	cr_assert_eq(stats->refused_header, 1);
	cr_assert_eq(stats->refused_sender, 1);
	cr_assert_eq(stats->refused_short, 1);
	for (uint32_t i = 0; i < TEST_VALIDATORS; i++)
		faii_transport_udp_close(udp[i]);
}
