/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP transport's handshake and frames: see tcp_wire.h and
 * docs/consensus-transport.md. */
#include "tcp_wire.h"

#include <string.h>

/* Hashed first into T1: a transcript of this protocol is never one of another. */
static const char tcp_wire_domain[] = "faii consensus tcp v1";
/* Signed before the transcript: a responder's signature is never an initiator's. */
static const uint8_t tcp_wire_label_responder[TCP_WIRE_SIGNED_LABEL_BYTES] = "faii-tcp-resp-v1";
static const uint8_t tcp_wire_label_initiator[TCP_WIRE_SIGNED_LABEL_BYTES] = "faii-tcp-init-v1";

#define TCP_WIRE_HEADER_BYTES        16u
#define TCP_WIRE_STREAM_HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES

FAII_STATIC_ASSERT(TCP_WIRE_HELLO_BYTES == TCP_WIRE_HEADER_BYTES + crypto_kx_PUBLICKEYBYTES,
                   "hello: header and ephemeral key");
FAII_STATIC_ASSERT(TCP_WIRE_REPLY_SIGNED_BYTES == TCP_WIRE_HEADER_BYTES + crypto_kx_PUBLICKEYBYTES +
                                                          TCP_WIRE_STREAM_HEADER_BYTES,
                   "reply: header, ephemeral key, stream header");
FAII_STATIC_ASSERT(TCP_WIRE_REPLY_BYTES == TCP_WIRE_REPLY_SIGNED_BYTES + crypto_sign_BYTES,
                   "reply: then the signature");
FAII_STATIC_ASSERT(TCP_WIRE_PROOF_SIGNED_BYTES ==
                           TCP_WIRE_HEADER_BYTES + TCP_WIRE_STREAM_HEADER_BYTES,
                   "proof: header, stream header");
FAII_STATIC_ASSERT(TCP_WIRE_PROOF_BYTES == TCP_WIRE_PROOF_SIGNED_BYTES + crypto_sign_BYTES,
                   "proof: then the signature");
FAII_STATIC_ASSERT(FAII_TRANSPORT_TCP_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES &&
                           FAII_TRANSPORT_TCP_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES,
                   "the configured keys are libsodium's Ed25519 keys");
FAII_STATIC_ASSERT(FAII_VALIDATORS_MAX <= UINT16_MAX, "an index fits two bytes");

/* Bytes 0..15 of every handshake message: magic, version, type, two
 * reserved bytes, the sender's and the receiver's index (little-endian
 * u16), four reserved bytes. */
static void tcp_wire_header(uint8_t *out, uint8_t type, uint32_t sender, uint32_t receiver)
{
	FAII_ASSERT(sender < FAII_VALIDATORS_MAX && receiver < FAII_VALIDATORS_MAX);
	memset(out, 0, TCP_WIRE_HEADER_BYTES);
	out[0] = TCP_WIRE_MAGIC_0;
	out[1] = TCP_WIRE_MAGIC_1;
	out[2] = TCP_WIRE_MAGIC_2;
	out[3] = TCP_WIRE_MAGIC_3;
	out[4] = TCP_WIRE_VERSION;
	out[5] = type;
	out[8] = (uint8_t)(sender & 0xff);
	out[9] = (uint8_t)(sender >> 8);
	out[10] = (uint8_t)(receiver & 0xff);
	out[11] = (uint8_t)(receiver >> 8);
}

/* TCP_WIRE_OK when `in` starts with the header of `type` from `sender` to
 * `receiver` (both read out). */
static enum tcp_wire_verdict tcp_wire_check_header(const uint8_t *in, uint8_t type,
                                                   uint32_t *sender, uint32_t *receiver)
{
	static const uint8_t zero[4] = {0};
	if (in[0] != TCP_WIRE_MAGIC_0 || in[1] != TCP_WIRE_MAGIC_1 || in[2] != TCP_WIRE_MAGIC_2 ||
	    in[3] != TCP_WIRE_MAGIC_3 || in[4] != TCP_WIRE_VERSION || in[5] != type ||
	    memcmp(in + 6, zero, 2) != 0 || memcmp(in + 12, zero, 4) != 0)
		return TCP_WIRE_MALFORMED;
	*sender = (uint32_t)in[8] | (uint32_t)in[9] << 8;
	*receiver = (uint32_t)in[10] | (uint32_t)in[11] << 8;
	return TCP_WIRE_OK;
}

/* Either side: who is who, the configured keys, a fresh ephemeral key. */
static void tcp_wire_begin(struct tcp_handshake *hs, uint32_t initiator, uint32_t responder,
                           const uint8_t initiator_key[32], const uint8_t responder_key[32])
{
	FAII_ASSERT(initiator < responder);
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	hs->responder = responder;
	memcpy(hs->initiator_key, initiator_key, sizeof(hs->initiator_key));
	memcpy(hs->responder_key, responder_key, sizeof(hs->responder_key));
	crypto_kx_keypair(hs->ephemeral_public, hs->ephemeral_secret);
}

void tcp_wire_hello(struct tcp_handshake *hs, uint32_t initiator, uint32_t responder,
                    const uint8_t initiator_key[32], const uint8_t responder_key[32],
                    uint8_t hello[TCP_WIRE_HELLO_BYTES])
{
	tcp_wire_begin(hs, initiator, responder, initiator_key, responder_key);
	tcp_wire_header(hello, TCP_WIRE_TYPE_HELLO, initiator, responder);
	memcpy(hello + TCP_WIRE_HEADER_BYTES, hs->ephemeral_public, crypto_kx_PUBLICKEYBYTES);
	memcpy(hs->hello, hello, TCP_WIRE_HELLO_BYTES);
}

enum tcp_wire_verdict tcp_wire_hello_initiator(const uint8_t hello[TCP_WIRE_HELLO_BYTES],
                                               uint32_t self, uint32_t peer_count,
                                               uint32_t *initiator)
{
	uint32_t sender, receiver;
	if (tcp_wire_check_header(hello, TCP_WIRE_TYPE_HELLO, &sender, &receiver) != TCP_WIRE_OK)
		return TCP_WIRE_MALFORMED;
	/* The lower index dials: a hello from a higher one breaks the rule. */
	if (receiver != self || sender >= self || sender >= peer_count)
		return TCP_WIRE_MALFORMED;
	*initiator = sender;
	return TCP_WIRE_OK;
}

/* T1 = BLAKE2b-256(domain || I's key || R's key || hello || reply's signed part). */
static void tcp_wire_transcript_one(struct tcp_handshake *hs, const uint8_t *reply_signed)
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, NULL, 0, TCP_WIRE_TRANSCRIPT_BYTES);
	crypto_generichash_update(&state, (const uint8_t *)tcp_wire_domain,
	                          sizeof(tcp_wire_domain) - 1);
	crypto_generichash_update(&state, hs->initiator_key, sizeof(hs->initiator_key));
	crypto_generichash_update(&state, hs->responder_key, sizeof(hs->responder_key));
	crypto_generichash_update(&state, hs->hello, sizeof(hs->hello));
	crypto_generichash_update(&state, reply_signed, TCP_WIRE_REPLY_SIGNED_BYTES);
	crypto_generichash_final(&state, hs->transcript, sizeof(hs->transcript));
}

/* T2 = BLAKE2b-256(T1 || R's signature || proof's signed part). */
static void tcp_wire_transcript_two(struct tcp_handshake *hs, const uint8_t *reply_signature,
                                    const uint8_t *proof_signed)
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, NULL, 0, TCP_WIRE_TRANSCRIPT_BYTES);
	crypto_generichash_update(&state, hs->transcript, sizeof(hs->transcript));
	crypto_generichash_update(&state, reply_signature, crypto_sign_BYTES);
	crypto_generichash_update(&state, proof_signed, TCP_WIRE_PROOF_SIGNED_BYTES);
	crypto_generichash_final(&state, hs->transcript, sizeof(hs->transcript));
}

/* What a party signs: its role's label, then the transcript. */
static void tcp_wire_signed(const struct tcp_handshake *hs, const uint8_t *label,
                            uint8_t out[TCP_WIRE_SIGNED_LABEL_BYTES + TCP_WIRE_TRANSCRIPT_BYTES])
{
	memcpy(out, label, TCP_WIRE_SIGNED_LABEL_BYTES);
	memcpy(out + TCP_WIRE_SIGNED_LABEL_BYTES, hs->transcript, TCP_WIRE_TRANSCRIPT_BYTES);
}

enum tcp_wire_verdict tcp_wire_reply(struct tcp_handshake *hs,
                                     const uint8_t hello[TCP_WIRE_HELLO_BYTES], uint32_t self,
                                     uint32_t initiator, const uint8_t initiator_key[32],
                                     const uint8_t responder_key[32], const uint8_t *secret_key,
                                     uint8_t reply[TCP_WIRE_REPLY_BYTES])
{
	tcp_wire_begin(hs, initiator, self, initiator_key, responder_key);
	memcpy(hs->hello, hello, sizeof(hs->hello));
	if (crypto_kx_server_session_keys(hs->receive_key, hs->send_key, hs->ephemeral_public,
	                                  hs->ephemeral_secret, hello + TCP_WIRE_HEADER_BYTES) != 0)
		return TCP_WIRE_KEY_EXCHANGE;
	tcp_wire_header(reply, TCP_WIRE_TYPE_REPLY, self, initiator);
	memcpy(reply + TCP_WIRE_HEADER_BYTES, hs->ephemeral_public, crypto_kx_PUBLICKEYBYTES);
	crypto_secretstream_xchacha20poly1305_init_push(
	        &hs->push, reply + TCP_WIRE_HEADER_BYTES + crypto_kx_PUBLICKEYBYTES, hs->send_key);
	tcp_wire_transcript_one(hs, reply);
	uint8_t to_sign[TCP_WIRE_SIGNED_LABEL_BYTES + TCP_WIRE_TRANSCRIPT_BYTES];
	tcp_wire_signed(hs, tcp_wire_label_responder, to_sign);
	crypto_sign_detached(reply + TCP_WIRE_REPLY_SIGNED_BYTES, NULL, to_sign, sizeof(to_sign),
	                     secret_key);
	memcpy(hs->reply_signature, reply + TCP_WIRE_REPLY_SIGNED_BYTES, crypto_sign_BYTES);
	return TCP_WIRE_OK;
}

enum tcp_wire_verdict tcp_wire_proof(struct tcp_handshake *hs,
                                     const uint8_t reply[TCP_WIRE_REPLY_BYTES],
                                     const uint8_t *secret_key, uint8_t proof[TCP_WIRE_PROOF_BYTES])
{
	uint32_t sender, receiver;
	if (tcp_wire_check_header(reply, TCP_WIRE_TYPE_REPLY, &sender, &receiver) != TCP_WIRE_OK ||
	    sender != hs->responder || receiver != hs->initiator)
		return TCP_WIRE_MALFORMED;
	const uint8_t *responder_ephemeral = reply + TCP_WIRE_HEADER_BYTES;
	if (crypto_kx_client_session_keys(hs->receive_key, hs->send_key, hs->ephemeral_public,
	                                  hs->ephemeral_secret, responder_ephemeral) != 0)
		return TCP_WIRE_KEY_EXCHANGE;
	tcp_wire_transcript_one(hs, reply);
	uint8_t to_check[TCP_WIRE_SIGNED_LABEL_BYTES + TCP_WIRE_TRANSCRIPT_BYTES];
	tcp_wire_signed(hs, tcp_wire_label_responder, to_check);
	if (crypto_sign_verify_detached(reply + TCP_WIRE_REPLY_SIGNED_BYTES, to_check,
	                                sizeof(to_check), hs->responder_key) != 0)
		return TCP_WIRE_IDENTITY;
	if (crypto_secretstream_xchacha20poly1305_init_pull(
	            &hs->pull, responder_ephemeral + crypto_kx_PUBLICKEYBYTES, hs->receive_key) !=
	    0)
		return TCP_WIRE_MALFORMED;
	tcp_wire_header(proof, TCP_WIRE_TYPE_PROOF, hs->initiator, hs->responder);
	crypto_secretstream_xchacha20poly1305_init_push(&hs->push, proof + TCP_WIRE_HEADER_BYTES,
	                                                hs->send_key);
	tcp_wire_transcript_two(hs, reply + TCP_WIRE_REPLY_SIGNED_BYTES, proof);
	uint8_t to_sign[TCP_WIRE_SIGNED_LABEL_BYTES + TCP_WIRE_TRANSCRIPT_BYTES];
	tcp_wire_signed(hs, tcp_wire_label_initiator, to_sign);
	crypto_sign_detached(proof + TCP_WIRE_PROOF_SIGNED_BYTES, NULL, to_sign, sizeof(to_sign),
	                     secret_key);
	return TCP_WIRE_OK;
}

enum tcp_wire_verdict tcp_wire_accept_proof(struct tcp_handshake *hs,
                                            const uint8_t proof[TCP_WIRE_PROOF_BYTES])
{
	uint32_t sender, receiver;
	if (tcp_wire_check_header(proof, TCP_WIRE_TYPE_PROOF, &sender, &receiver) != TCP_WIRE_OK ||
	    sender != hs->initiator || receiver != hs->responder)
		return TCP_WIRE_MALFORMED;
	tcp_wire_transcript_two(hs, hs->reply_signature, proof);
	uint8_t to_check[TCP_WIRE_SIGNED_LABEL_BYTES + TCP_WIRE_TRANSCRIPT_BYTES];
	tcp_wire_signed(hs, tcp_wire_label_initiator, to_check);
	if (crypto_sign_verify_detached(proof + TCP_WIRE_PROOF_SIGNED_BYTES, to_check,
	                                sizeof(to_check), hs->initiator_key) != 0)
		return TCP_WIRE_IDENTITY;
	if (crypto_secretstream_xchacha20poly1305_init_pull(
	            &hs->pull, proof + TCP_WIRE_HEADER_BYTES, hs->receive_key) != 0)
		return TCP_WIRE_MALFORMED;
	return TCP_WIRE_OK;
}

void tcp_wire_forget_secrets(struct tcp_handshake *hs)
{
	sodium_memzero(hs->ephemeral_secret, sizeof(hs->ephemeral_secret));
	sodium_memzero(hs->receive_key, sizeof(hs->receive_key));
	sodium_memzero(hs->send_key, sizeof(hs->send_key));
}

static void tcp_wire_put_length(uint8_t *out, uint32_t value)
{
	out[0] = (uint8_t)(value & 0xff);
	out[1] = (uint8_t)(value >> 8 & 0xff);
	out[2] = (uint8_t)(value >> 16 & 0xff);
	out[3] = (uint8_t)(value >> 24);
}

uint32_t tcp_wire_seal(crypto_secretstream_xchacha20poly1305_state *push, const uint8_t *bytes,
                       uint32_t len, uint8_t *frame)
{
	FAII_ASSERT(len <= FAII_TRANSPORT_MESSAGE_BYTES_MAX);
	FAII_ASSERT(len == 0 || bytes != NULL);
	uint32_t sealed = len + crypto_secretstream_xchacha20poly1305_ABYTES;
	tcp_wire_put_length(frame, sealed);
	/* The length is the additional data: a changed length fails the tag. */
	unsigned long long written = 0;
	int rc = crypto_secretstream_xchacha20poly1305_push(
	        push, frame + TCP_WIRE_LENGTH_BYTES, &written, bytes, len, frame,
	        TCP_WIRE_LENGTH_BYTES, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	FAII_ASSERT(rc == 0 && written == sealed);
	return TCP_WIRE_LENGTH_BYTES + sealed;
}

enum tcp_wire_verdict tcp_wire_frame_size(const uint8_t *bytes, uint32_t have,
                                          uint32_t *frame_bytes)
{
	if (have < TCP_WIRE_LENGTH_BYTES)
		return TCP_WIRE_NEED_MORE;
	uint32_t sealed = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
	                  (uint32_t)bytes[3] << 24;
	if (sealed >
	    FAII_TRANSPORT_MESSAGE_BYTES_MAX + crypto_secretstream_xchacha20poly1305_ABYTES)
		return TCP_WIRE_OVERSIZE;
	if (sealed < crypto_secretstream_xchacha20poly1305_ABYTES)
		return TCP_WIRE_BAD_FRAME;
	*frame_bytes = TCP_WIRE_LENGTH_BYTES + sealed;
	return have >= *frame_bytes ? TCP_WIRE_OK : TCP_WIRE_NEED_MORE;
}

enum tcp_wire_verdict tcp_wire_open(crypto_secretstream_xchacha20poly1305_state *pull,
                                    const uint8_t *frame, uint32_t frame_bytes, uint8_t *message,
                                    uint32_t *len)
{
	FAII_ASSERT(frame_bytes >= FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES &&
	            frame_bytes <= FAII_TRANSPORT_TCP_FRAME_BYTES_MAX);
	unsigned long long opened = 0;
	unsigned char tag = 0;
	if (crypto_secretstream_xchacha20poly1305_pull(
	            pull, message, &opened, &tag, frame + TCP_WIRE_LENGTH_BYTES,
	            frame_bytes - TCP_WIRE_LENGTH_BYTES, frame, TCP_WIRE_LENGTH_BYTES) != 0)
		return TCP_WIRE_BAD_TAG;
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return TCP_WIRE_BAD_FRAME;
	FAII_ASSERT(opened == frame_bytes - FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES);
	*len = (uint32_t)opened;
	return TCP_WIRE_OK;
}
