/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP transport's bytes, apart from its sockets: the three handshake
 * messages and the encrypted frames (docs/consensus-transport.md). Pure
 * functions of their inputs and libsodium's randomness, so that the fuzz
 * harness (tests/fuzz/fuzz_tcp_wire.c) drives them without a socket.
 *
 * Handshake (the lower index I dials the higher R):
 *   I -> R  hello  48 bytes: magic, version, type 1, I, R, I's ephemeral key
 *   R -> I  reply 136 bytes: type 2, R's ephemeral key, R's stream header,
 *                            R's signature over transcript T1
 *   I -> R  proof 104 bytes: type 3, I's stream header, I's signature over T2
 * then length-prefixed secretstream frames both ways.
 *
 * Error convention: an enum tcp_wire_verdict; TCP_WIRE_OK or the reason to
 * close, which the caller counts.
 */
#ifndef FAII_LEDGER_NET_TCP_WIRE_H
#define FAII_LEDGER_NET_TCP_WIRE_H

#include <stdint.h>

#include <sodium.h>

#include "faii/assert.h"
#include "faii/transport_tcp.h"

#define TCP_WIRE_MAGIC_0      'F'
#define TCP_WIRE_MAGIC_1      'A'
#define TCP_WIRE_MAGIC_2      'I'
#define TCP_WIRE_MAGIC_3      'C'
#define TCP_WIRE_VERSION      1u
#define TCP_WIRE_TYPE_HELLO   1u
#define TCP_WIRE_TYPE_REPLY   2u
#define TCP_WIRE_TYPE_PROOF   3u
#define TCP_WIRE_HELLO_BYTES  48u
#define TCP_WIRE_REPLY_BYTES  136u
#define TCP_WIRE_PROOF_BYTES  104u
#define TCP_WIRE_LENGTH_BYTES 4u
/* The signed parts: everything before the signature. */
#define TCP_WIRE_REPLY_SIGNED_BYTES 72u
#define TCP_WIRE_PROOF_SIGNED_BYTES 40u
#define TCP_WIRE_TRANSCRIPT_BYTES   32u
#define TCP_WIRE_SIGNED_LABEL_BYTES 16u

enum tcp_wire_verdict {
	TCP_WIRE_OK,
	TCP_WIRE_NEED_MORE, /* frames: the buffer holds part of a frame */
	TCP_WIRE_MALFORMED,
	TCP_WIRE_IDENTITY,
	TCP_WIRE_KEY_EXCHANGE,
	TCP_WIRE_BAD_TAG,
	TCP_WIRE_OVERSIZE,
	TCP_WIRE_BAD_FRAME,
};

/* One side of one handshake, then its two streams. Wiped when done. */
struct tcp_handshake {
	uint32_t initiator, responder;
	uint8_t initiator_key[crypto_sign_PUBLICKEYBYTES]; /* long-term, as configured */
	uint8_t responder_key[crypto_sign_PUBLICKEYBYTES];
	uint8_t ephemeral_public[crypto_kx_PUBLICKEYBYTES];
	uint8_t ephemeral_secret[crypto_kx_SECRETKEYBYTES];
	uint8_t hello[TCP_WIRE_HELLO_BYTES]; /* sent (I) or received (R) */
	uint8_t transcript[TCP_WIRE_TRANSCRIPT_BYTES];
	uint8_t reply_signature[crypto_sign_BYTES]; /* R's, hashed into T2 */
	uint8_t receive_key[crypto_kx_SESSIONKEYBYTES];
	uint8_t send_key[crypto_kx_SESSIONKEYBYTES];
	crypto_secretstream_xchacha20poly1305_state push, pull;
};

FAII_STATIC_ASSERT(crypto_kx_SESSIONKEYBYTES == crypto_secretstream_xchacha20poly1305_KEYBYTES,
                   "a crypto_kx session key is a secretstream key");
FAII_STATIC_ASSERT(FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES ==
                           TCP_WIRE_LENGTH_BYTES + crypto_secretstream_xchacha20poly1305_ABYTES,
                   "the public frame overhead is the length and secretstream's");

/* Initiator: a fresh ephemeral key and the hello for `responder`. */
void tcp_wire_hello(struct tcp_handshake *hs, uint32_t initiator, uint32_t responder,
                    const uint8_t initiator_key[32], const uint8_t responder_key[32],
                    uint8_t hello[TCP_WIRE_HELLO_BYTES]);

/* Responder: the initiator a hello names, if the hello is well formed, is
 * addressed to `self` and comes from a lower index of the committee. */
enum tcp_wire_verdict tcp_wire_hello_initiator(const uint8_t hello[TCP_WIRE_HELLO_BYTES],
                                               uint32_t self, uint32_t peer_count,
                                               uint32_t *initiator);

/* Responder: keys, its stream and the signed reply to a checked hello. */
enum tcp_wire_verdict tcp_wire_reply(struct tcp_handshake *hs,
                                     const uint8_t hello[TCP_WIRE_HELLO_BYTES], uint32_t self,
                                     uint32_t initiator, const uint8_t initiator_key[32],
                                     const uint8_t responder_key[32], const uint8_t *secret_key,
                                     uint8_t reply[TCP_WIRE_REPLY_BYTES]);

/* Initiator: checks the reply; on TCP_WIRE_OK both streams are ready and
 * `proof` must be sent. */
enum tcp_wire_verdict tcp_wire_proof(struct tcp_handshake *hs,
                                     const uint8_t reply[TCP_WIRE_REPLY_BYTES],
                                     const uint8_t *secret_key,
                                     uint8_t proof[TCP_WIRE_PROOF_BYTES]);

/* Responder: checks the proof; on TCP_WIRE_OK both streams are ready. */
enum tcp_wire_verdict tcp_wire_accept_proof(struct tcp_handshake *hs,
                                            const uint8_t proof[TCP_WIRE_PROOF_BYTES]);

/* Forgets the ephemeral secret and the session keys (the stream states
 * stay: they are the link). */
void tcp_wire_forget_secrets(struct tcp_handshake *hs);

/* Seals `len` (0 for a keepalive) bytes into `frame`, which has room for
 * FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES + len; returns the frame's size. */
uint32_t tcp_wire_seal(crypto_secretstream_xchacha20poly1305_state *push, const uint8_t *bytes,
                       uint32_t len, uint8_t *frame);

/* The size of the frame at the start of `bytes` (`have` bytes there):
 * TCP_WIRE_OK with *frame_bytes, TCP_WIRE_NEED_MORE, TCP_WIRE_OVERSIZE or
 * TCP_WIRE_BAD_FRAME. */
enum tcp_wire_verdict tcp_wire_frame_size(const uint8_t *bytes, uint32_t have,
                                          uint32_t *frame_bytes);

/* Opens a whole frame of `frame_bytes` into `message` (room for
 * FAII_TRANSPORT_MESSAGE_BYTES_MAX); *len 0 is a keepalive. */
enum tcp_wire_verdict tcp_wire_open(crypto_secretstream_xchacha20poly1305_state *pull,
                                    const uint8_t *frame, uint32_t frame_bytes, uint8_t *message,
                                    uint32_t *len);

#endif /* FAII_LEDGER_NET_TCP_WIRE_H */
