/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the TCP transport's bytes (ledger/net/tcp_wire.c):
 * what a validator reads from a peer before and after authentication.
 *
 * The first input byte picks a mode:
 *   0  the input is what an unauthenticated client sends a responder:
 *      hello, then (if the hello passed) a proof. Nothing forged may pass:
 *      the proof needs validator 0's signature over a transcript with the
 *      responder's fresh key, which the input cannot contain.
 *   1  the input is the byte stream of an authenticated link, cut into
 *      frames and opened until the first refusal.
 *   2  the input describes messages that one stream seals and the other
 *      opens, with one byte changed at an input-chosen place: unchanged
 *      frames must open to the same bytes, and the changed one must not.
 * Randomness is a fixed deterministic generator, so an input replays.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "../../ledger/net/tcp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define FUZZ_MESSAGES_MAX 8u
#define FUZZ_STREAM_MAX   (4u * FAII_TRANSPORT_TCP_FRAME_BYTES_MAX)

/* ---- deterministic randomness for libsodium ----------------------------- */

static uint64_t fuzz_random_state;

static uint32_t fuzz_random(void)
{
	fuzz_random_state += 0x9e3779b97f4a7c15ull;
	uint64_t z = fuzz_random_state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static void fuzz_random_buf(void *const buf, const size_t size)
{
	uint8_t *bytes = buf;
	for (size_t i = 0; i < size; i++)
		bytes[i] = (uint8_t)fuzz_random();
}

static const char *fuzz_random_name(void)
{
	return "fuzz";
}

static struct randombytes_implementation fuzz_randomness = {
        .implementation_name = fuzz_random_name,
        .random = fuzz_random,
        .buf = fuzz_random_buf,
};

/* ---- the committee: two validators with fixed keys ---------------------- */

static uint8_t fuzz_public[2][crypto_sign_PUBLICKEYBYTES];
static uint8_t fuzz_secret[2][crypto_sign_SECRETKEYBYTES];

static void fuzz_init(void)
{
	static int ready;
	if (ready)
		return;
	randombytes_set_implementation(&fuzz_randomness);
	CHECK(sodium_init() >= 0);
	for (uint32_t i = 0; i < 2; i++) {
		uint8_t seed[crypto_sign_SEEDBYTES];
		memset(seed, (int)(i + 1), sizeof(seed));
		crypto_sign_seed_keypair(fuzz_public[i], fuzz_secret[i], seed);
	}
	ready = 1;
}

static void fuzz_unauthenticated(const uint8_t *data, size_t size)
{
	if (size < TCP_WIRE_HELLO_BYTES)
		return;
	uint32_t initiator = UINT32_MAX;
	if (tcp_wire_hello_initiator(data, 1, 2, &initiator) != TCP_WIRE_OK)
		return;
	CHECK(initiator == 0);
	struct tcp_handshake hs;
	uint8_t reply[TCP_WIRE_REPLY_BYTES];
	if (tcp_wire_reply(&hs, data, 1, 0, fuzz_public[0], fuzz_public[1], fuzz_secret[1],
	                   reply) != TCP_WIRE_OK)
		return;
	data += TCP_WIRE_HELLO_BYTES;
	size -= TCP_WIRE_HELLO_BYTES;
	if (size < TCP_WIRE_PROOF_BYTES)
		return;
	CHECK(tcp_wire_accept_proof(&hs, data) != TCP_WIRE_OK);
}

/* A real handshake between validators 0 and 1: `initiator` and `responder`
 * end with matching streams. */
static void fuzz_link(struct tcp_handshake *initiator, struct tcp_handshake *responder)
{
	uint8_t hello[TCP_WIRE_HELLO_BYTES], reply[TCP_WIRE_REPLY_BYTES],
	        proof[TCP_WIRE_PROOF_BYTES];
	tcp_wire_hello(initiator, 0, 1, fuzz_public[0], fuzz_public[1], hello);
	CHECK(tcp_wire_reply(responder, hello, 1, 0, fuzz_public[0], fuzz_public[1], fuzz_secret[1],
	                     reply) == TCP_WIRE_OK);
	CHECK(tcp_wire_proof(initiator, reply, fuzz_secret[0], proof) == TCP_WIRE_OK);
	CHECK(tcp_wire_accept_proof(responder, proof) == TCP_WIRE_OK);
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	struct tcp_handshake initiator, responder;
	fuzz_link(&initiator, &responder);
	uint32_t have = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size, at = 0;
	for (;;) {
		uint32_t frame_bytes = 0, len = 0;
		enum tcp_wire_verdict verdict =
		        tcp_wire_frame_size(data + at, have - at, &frame_bytes);
		if (verdict != TCP_WIRE_OK)
			return;
		CHECK(frame_bytes >= FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES &&
		      frame_bytes <= FAII_TRANSPORT_TCP_FRAME_BYTES_MAX &&
		      frame_bytes <= have - at);
		if (tcp_wire_open(&responder.pull, data + at, frame_bytes, message, &len) !=
		    TCP_WIRE_OK)
			return;
		CHECK(len == frame_bytes - FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES);
		at += frame_bytes;
	}
}

/* Input: [message count][flip position u32][flip mask], then per message a
 * u16 length (0 is a keepalive) taken mod 4097 and filled from the input. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	static uint8_t stream[FUZZ_STREAM_MAX], messages[FUZZ_MESSAGES_MAX][4096];
	static uint8_t opened[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	if (size < 6)
		return;
	uint32_t count = data[0] % (FUZZ_MESSAGES_MAX + 1), flip;
	memcpy(&flip, data + 1, 4);
	uint8_t mask = data[5];
	data += 6;
	size -= 6;
	struct tcp_handshake initiator, responder;
	fuzz_link(&initiator, &responder);
	uint32_t lengths[FUZZ_MESSAGES_MAX], ends[FUZZ_MESSAGES_MAX], total = 0;
	for (uint32_t m = 0; m < count; m++) {
		uint16_t raw = 0;
		if (size >= 2) {
			memcpy(&raw, data, 2);
			data += 2;
			size -= 2;
		}
		lengths[m] = raw % 4097u;
		for (uint32_t i = 0; i < lengths[m]; i++)
			messages[m][i] = size > 0 ? data[i % size] : (uint8_t)i;
		total += tcp_wire_seal(&initiator.push, messages[m], lengths[m], stream + total);
		ends[m] = total;
	}
	if (total == 0)
		return;
	flip %= total;
	if (mask != 0)
		stream[flip] ^= mask;
	uint32_t at = 0;
	for (uint32_t m = 0; m < count; m++) {
		uint32_t frame_bytes = 0, len = 0;
		enum tcp_wire_verdict verdict =
		        tcp_wire_frame_size(stream + at, total - at, &frame_bytes);
		bool touched = mask != 0 && flip >= at && flip < ends[m];
		if (verdict == TCP_WIRE_OK)
			verdict = tcp_wire_open(&responder.pull, stream + at, frame_bytes, opened,
			                        &len);
		if (!touched) {
			CHECK(verdict == TCP_WIRE_OK && len == lengths[m]);
			CHECK(len == 0 || memcmp(opened, messages[m], len) == 0);
			at += frame_bytes;
			continue;
		}
		CHECK(verdict != TCP_WIRE_OK); /* a changed byte never opens */
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	fuzz_random_state = 0;
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: fuzz_unauthenticated(data + 1, size - 1); break;
	case 1: fuzz_stream(data + 1, size - 1); break;
	default: fuzz_round_trip(data + 1, size - 1); break;
	}
	return 0;
}
