/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Validator messages on the wire: their layout, decoding with validation,
 * encoding, digests and signatures (docs/consensus.md, "Messages").
 * Integers are little-endian. Every message starts with a 16-byte header:
 *   magic u32 "FDAG" | version u8 | type u8 | reserved u16 (0) | epoch u64
 * Decoders take untrusted bytes and return DAG_WIRE_OK or a refusal; they
 * check signatures only where it is said. Internal to ledger/dag/.
 */
#ifndef FAII_LEDGER_DAG_WIRE_H
#define FAII_LEDGER_DAG_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/bytes.h"
#include "faii/dag.h"

#define DAG_WIRE_MAGIC        0x47414446u /* "FDAG" little-endian */
#define DAG_WIRE_VERSION      1u
#define DAG_WIRE_HEADER_BYTES 16u

enum dag_message_type {
	DAG_MESSAGE_VERTEX = 1,
	DAG_MESSAGE_VOTE = 2,
	DAG_MESSAGE_CERTIFICATE = 3,
	DAG_MESSAGE_FETCH = 4,
};

/* VERTEX: header | round u64 | author u32 | tx_count u32 | payload_bytes u32 |
 *         parent_mask u64 | payload_digest[32] | parent digests[popcount][32] |
 *         signature[64] | payload. The signed part runs from round to the
 *         last parent digest. */
#define DAG_VERTEX_FIXED_BYTES (DAG_WIRE_HEADER_BYTES + 8 + 4 + 4 + 4 + 8 + FAII_DAG_DIGEST_BYTES)
#define DAG_VOTE_BYTES                                                                             \
	(DAG_WIRE_HEADER_BYTES + 8 + 4 + 4 + FAII_DAG_DIGEST_BYTES + FAII_DAG_SIGNATURE_BYTES)
#define DAG_CERTIFICATE_FIXED_BYTES (DAG_WIRE_HEADER_BYTES + 8 + 4 + 4 + 8 + FAII_DAG_DIGEST_BYTES)
#define DAG_FETCH_BYTES             (DAG_WIRE_HEADER_BYTES + 8 + 4 + 4 + 8)

struct dag_vertex {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint32_t tx_count;
	uint32_t payload_bytes;
	uint64_t parent_mask;
	const uint8_t *payload_digest;
	const uint8_t *parent_digests; /* popcount(parent_mask) x 32, by author */
	const uint8_t *signature;
	const uint8_t *payload;
	const uint8_t *signed_part;
	uint32_t signed_bytes;
	uint8_t digest[FAII_DAG_DIGEST_BYTES]; /* what the author signed */
	uint32_t message_bytes;
};

struct dag_vote {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint32_t voter;
	const uint8_t *digest;
	const uint8_t *signature;
};

struct dag_certificate {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint64_t signer_mask;
	const uint8_t *digest;
	const uint8_t *signatures; /* popcount(signer_mask) x 64, by signer */
	uint32_t message_bytes;
};

struct dag_fetch {
	uint64_t epoch;
	uint64_t round_from;
	uint32_t round_count;
	uint64_t author_mask;
};

/* The type of a message whose header is well-formed, or 0. */
uint8_t dag_wire_type(const uint8_t *bytes, uint32_t len, uint64_t *epoch);

/*
 * Decoders: DAG_WIRE_OK, or the refusal. Vertex: layout, transactions
 * well-formed, payload digest, parent count (>= quorum from round 2, none
 * in round 1), author < validator_count; the signature is checked by
 * dag_wire_vertex_signed(). Certificate: layout, >= quorum signers, all
 * members, every signature valid.
 */
#define DAG_WIRE_OK (-1)
int dag_wire_decode_vertex(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                           uint32_t quorum, struct dag_vertex *vertex);
bool dag_wire_vertex_signed(const struct dag_vertex *vertex, const uint8_t *public_key);
int dag_wire_decode_vote(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                         struct dag_vote *vote);
bool dag_wire_vote_signed(const struct dag_vote *vote, const uint8_t *public_key);
/* public_keys NULL: signatures not checked (the validator's own journal). */
int dag_wire_decode_certificate(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                                uint32_t quorum,
                                const uint8_t (*public_keys)[FAII_DAG_PUBLIC_KEY_BYTES],
                                struct dag_certificate *certificate);
int dag_wire_decode_fetch(const uint8_t *bytes, uint32_t len, struct dag_fetch *fetch);

/* Encoders write into `out` (room for FAII_TRANSPORT_MESSAGE_BYTES_MAX) and
 * return the length. */
struct dag_vertex_draft {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint64_t parent_mask;
	const uint8_t (*parent_digests)[FAII_DAG_DIGEST_BYTES]; /* indexed by author */
	const uint8_t *payload;
	uint32_t payload_bytes;
	uint32_t tx_count;
};
uint32_t dag_wire_encode_vertex(const struct dag_vertex_draft *draft, const uint8_t *secret_key,
                                uint8_t *out, uint8_t digest_out[FAII_DAG_DIGEST_BYTES]);
uint32_t dag_wire_encode_vote(uint64_t epoch, uint64_t round, uint32_t author, uint32_t voter,
                              const uint8_t *digest, const uint8_t *secret_key, uint8_t *out);
/* signatures: indexed by signer, only the signers in signer_mask are read. */
uint32_t dag_wire_encode_certificate(uint64_t epoch, uint64_t round, uint32_t author,
                                     const uint8_t *digest, uint64_t signer_mask,
                                     const uint8_t (*signatures)[FAII_DAG_SIGNATURE_BYTES],
                                     uint8_t *out);
uint32_t dag_wire_encode_fetch(uint64_t epoch, uint64_t round_from, uint32_t round_count,
                               uint64_t author_mask, uint8_t *out);

/* The digest an author signs: over the domain, the epoch and the signed
 * part (round to the last parent digest) of a vertex message. */
void dag_wire_vertex_digest(uint64_t epoch, const uint8_t *signed_part, uint32_t signed_bytes,
                            uint8_t digest[FAII_DAG_DIGEST_BYTES]);

/* The bytes a vote signs: domain, epoch, round, author, digest. */
#define DAG_VOTE_SIGNED_BYTES (16 + 8 + 8 + 4 + FAII_DAG_DIGEST_BYTES)
void dag_wire_vote_message(uint64_t epoch, uint64_t round, uint32_t author, const uint8_t *digest,
                           uint8_t out[DAG_VOTE_SIGNED_BYTES]);

/* Fields of a vertex message already decoded once. */
static inline uint32_t dag_vertex_tx_count(const uint8_t *vertex)
{
	return faii_get_le32(vertex + DAG_WIRE_HEADER_BYTES + 12);
}

static inline uint32_t dag_vertex_payload_offset(uint64_t parent_mask)
{
	return DAG_VERTEX_FIXED_BYTES + (uint32_t)__builtin_popcountll(parent_mask) * 32u +
	       FAII_DAG_SIGNATURE_BYTES;
}

#endif /* FAII_LEDGER_DAG_WIRE_H */
