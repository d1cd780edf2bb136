/* SPDX-License-Identifier: BSD-3-Clause */
/* Validator messages: see wire.h. */
#include "wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"

FAII_STATIC_ASSERT(FAII_DAG_SIGNATURE_BYTES == crypto_sign_BYTES, "Ed25519 signatures");
FAII_STATIC_ASSERT(FAII_DAG_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 keys");
FAII_STATIC_ASSERT(FAII_DAG_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES, "Ed25519 keys");

static const uint8_t vertex_domain[16] = "FAII-DAG-VERTEX";
static const uint8_t vote_domain[16] = "FAII-DAG-VOTE-1";

static uint32_t popcount(uint64_t mask)
{
	return (uint32_t)__builtin_popcountll(mask);
}

static uint64_t members(uint32_t validator_count)
{
	return validator_count == 64 ? ~0ull : (1ull << validator_count) - 1;
}

uint8_t dag_wire_type(const uint8_t *bytes, uint32_t len, uint64_t *epoch)
{
	if (len < DAG_WIRE_HEADER_BYTES || faii_get_le32(bytes) != DAG_WIRE_MAGIC ||
	    bytes[4] != DAG_WIRE_VERSION || bytes[6] != 0 || bytes[7] != 0)
		return 0;
	if (bytes[5] < DAG_MESSAGE_VERTEX || bytes[5] > DAG_MESSAGE_FETCH)
		return 0;
	*epoch = faii_get_le64(bytes + 8);
	return bytes[5];
}

static void put_header(uint8_t *out, uint8_t type, uint64_t epoch)
{
	faii_put_le32(out, DAG_WIRE_MAGIC);
	out[4] = DAG_WIRE_VERSION;
	out[5] = type;
	out[6] = 0;
	out[7] = 0;
	faii_put_le64(out + 8, epoch);
}

/* The payload is tx_count transactions, each u32 length then bytes. */
static bool payload_well_formed(const uint8_t *payload, uint32_t bytes, uint32_t tx_count)
{
	uint32_t offset = 0;
	for (uint32_t i = 0; i < tx_count; i++) {
		if (bytes - offset < 4)
			return false;
		uint32_t len = faii_get_le32(payload + offset);
		offset += 4;
		if (len == 0 || len > FAII_DAG_TX_BYTES_MAX || len > bytes - offset)
			return false;
		offset += len;
	}
	return offset == bytes;
}

static void vertex_digest(uint64_t epoch, const uint8_t *signed_part, uint32_t signed_bytes,
                          uint8_t digest[FAII_DAG_DIGEST_BYTES])
{
	crypto_generichash_state state;
	uint8_t epoch_bytes[8];
	faii_put_le64(epoch_bytes, epoch);
	crypto_generichash_init(&state, NULL, 0, FAII_DAG_DIGEST_BYTES);
	crypto_generichash_update(&state, vertex_domain, sizeof(vertex_domain));
	crypto_generichash_update(&state, epoch_bytes, sizeof(epoch_bytes));
	crypto_generichash_update(&state, signed_part, signed_bytes);
	crypto_generichash_final(&state, digest, FAII_DAG_DIGEST_BYTES);
}

/* The signed header of a vertex message: its fields, and the pointers into
 * it, for a message of `len` bytes of which `len` >= DAG_VERTEX_FIXED_BYTES. */
static void read_vertex_header(const uint8_t *bytes, uint32_t len, struct dag_vertex *vertex)
{
	FAII_ASSERT(len >= DAG_VERTEX_FIXED_BYTES);
	const uint8_t *at = bytes + DAG_WIRE_HEADER_BYTES;
	vertex->epoch = faii_get_le64(bytes + 8);
	vertex->round = faii_get_le64(at);
	vertex->author = faii_get_le32(at + 8);
	vertex->tx_count = faii_get_le32(at + 12);
	vertex->payload_bytes = faii_get_le32(at + 16);
	vertex->parent_mask = faii_get_le64(at + 20);
	vertex->payload_digest = at + 28;
	vertex->message_bytes = len;
}

/* The pointers past the fixed part, once the length is known to hold them. */
static void point_vertex_parts(const uint8_t *bytes, struct dag_vertex *vertex)
{
	vertex->parent_digests = bytes + DAG_VERTEX_FIXED_BYTES;
	vertex->signature = vertex->parent_digests + popcount(vertex->parent_mask) * 32;
	vertex->payload = vertex->signature + FAII_DAG_SIGNATURE_BYTES;
	vertex->signed_part = bytes + DAG_WIRE_HEADER_BYTES;
	vertex->signed_bytes = (uint32_t)(vertex->signature - vertex->signed_part);
}

int dag_wire_decode_vertex(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                           uint32_t quorum, struct dag_vertex *vertex)
{
	if (len < DAG_VERTEX_FIXED_BYTES)
		return FAII_DAG_REFUSED_MALFORMED;
	read_vertex_header(bytes, len, vertex);
	uint32_t parents = popcount(vertex->parent_mask);
	uint64_t expected = (uint64_t)DAG_VERTEX_FIXED_BYTES + (uint64_t)parents * 32 +
	                    FAII_DAG_SIGNATURE_BYTES + vertex->payload_bytes;
	if (expected != len || vertex->round == 0)
		return FAII_DAG_REFUSED_MALFORMED;
	if (vertex->author >= validator_count)
		return FAII_DAG_REFUSED_NOT_MEMBER;
	if ((vertex->parent_mask & ~members(validator_count)) != 0 ||
	    (vertex->round == 1 && parents != 0) || (vertex->round > 1 && parents < quorum))
		return FAII_DAG_REFUSED_BAD_PARENTS;
	point_vertex_parts(bytes, vertex);
	if (!payload_well_formed(vertex->payload, vertex->payload_bytes, vertex->tx_count))
		return FAII_DAG_REFUSED_BAD_TRANSACTION;
	uint8_t payload_digest[FAII_DAG_DIGEST_BYTES];
	crypto_generichash(payload_digest, sizeof(payload_digest), vertex->payload,
	                   vertex->payload_bytes, NULL, 0);
	if (sodium_memcmp(payload_digest, vertex->payload_digest, sizeof(payload_digest)) != 0)
		return FAII_DAG_REFUSED_PAYLOAD_DIGEST;
	vertex_digest(vertex->epoch, vertex->signed_part, vertex->signed_bytes, vertex->digest);
	return DAG_WIRE_OK;
}

bool dag_wire_vertex_signed(const struct dag_vertex *vertex, const uint8_t *public_key)
{
	return crypto_sign_verify_detached(vertex->signature, vertex->digest, FAII_DAG_DIGEST_BYTES,
	                                   public_key) == 0;
}

uint32_t dag_wire_encode_vertex(const struct dag_vertex_draft *draft, const uint8_t *secret_key,
                                uint8_t *out, uint8_t digest_out[FAII_DAG_DIGEST_BYTES])
{
	uint32_t parents = popcount(draft->parent_mask);
	uint64_t len = (uint64_t)DAG_VERTEX_FIXED_BYTES + parents * 32u + FAII_DAG_SIGNATURE_BYTES +
	               draft->payload_bytes;
	FAII_ASSERT(len <= FAII_TRANSPORT_MESSAGE_BYTES_MAX);
	put_header(out, DAG_MESSAGE_VERTEX, draft->epoch);
	uint8_t *at = out + DAG_WIRE_HEADER_BYTES;
	faii_put_le64(at, draft->round);
	faii_put_le32(at + 8, draft->author);
	faii_put_le32(at + 12, draft->tx_count);
	faii_put_le32(at + 16, draft->payload_bytes);
	faii_put_le64(at + 20, draft->parent_mask);
	crypto_generichash(at + 28, FAII_DAG_DIGEST_BYTES, draft->payload, draft->payload_bytes,
	                   NULL, 0);
	uint8_t *digests = out + DAG_VERTEX_FIXED_BYTES;
	for (uint32_t author = 0; author < FAII_VALIDATORS_MAX; author++)
		if (draft->parent_mask & (1ull << author)) {
			memcpy(digests, draft->parent_digests[author], FAII_DAG_DIGEST_BYTES);
			digests += FAII_DAG_DIGEST_BYTES;
		}
	vertex_digest(draft->epoch, at, (uint32_t)(digests - at), digest_out);
	crypto_sign_detached(digests, NULL, digest_out, FAII_DAG_DIGEST_BYTES, secret_key);
	if (draft->payload_bytes > 0)
		memcpy(digests + FAII_DAG_SIGNATURE_BYTES, draft->payload, draft->payload_bytes);
	return (uint32_t)len;
}

void dag_wire_vertex_digest(uint64_t epoch, const uint8_t *signed_part, uint32_t signed_bytes,
                            uint8_t digest[FAII_DAG_DIGEST_BYTES])
{
	vertex_digest(epoch, signed_part, signed_bytes, digest);
}

void dag_wire_vote_message(uint64_t epoch, uint64_t round, uint32_t author, const uint8_t *digest,
                           uint8_t out[DAG_VOTE_SIGNED_BYTES])
{
	memcpy(out, vote_domain, sizeof(vote_domain));
	faii_put_le64(out + 16, epoch);
	faii_put_le64(out + 24, round);
	faii_put_le32(out + 32, author);
	memcpy(out + 36, digest, FAII_DAG_DIGEST_BYTES);
}

int dag_wire_decode_vote(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                         struct dag_vote *vote)
{
	if (len != DAG_VOTE_BYTES)
		return FAII_DAG_REFUSED_MALFORMED;
	const uint8_t *at = bytes + DAG_WIRE_HEADER_BYTES;
	vote->epoch = faii_get_le64(bytes + 8);
	vote->round = faii_get_le64(at);
	vote->author = faii_get_le32(at + 8);
	vote->voter = faii_get_le32(at + 12);
	vote->digest = at + 16;
	vote->signature = at + 16 + FAII_DAG_DIGEST_BYTES;
	if (vote->round == 0)
		return FAII_DAG_REFUSED_MALFORMED;
	if (vote->author >= validator_count || vote->voter >= validator_count)
		return FAII_DAG_REFUSED_NOT_MEMBER;
	return DAG_WIRE_OK;
}

bool dag_wire_vote_signed(const struct dag_vote *vote, const uint8_t *public_key)
{
	uint8_t message[DAG_VOTE_SIGNED_BYTES];
	dag_wire_vote_message(vote->epoch, vote->round, vote->author, vote->digest, message);
	return crypto_sign_verify_detached(vote->signature, message, sizeof(message), public_key) ==
	       0;
}

uint32_t dag_wire_encode_vote(uint64_t epoch, uint64_t round, uint32_t author, uint32_t voter,
                              const uint8_t *digest, const uint8_t *secret_key, uint8_t *out)
{
	put_header(out, DAG_MESSAGE_VOTE, epoch);
	uint8_t *at = out + DAG_WIRE_HEADER_BYTES;
	faii_put_le64(at, round);
	faii_put_le32(at + 8, author);
	faii_put_le32(at + 12, voter);
	memcpy(at + 16, digest, FAII_DAG_DIGEST_BYTES);
	uint8_t message[DAG_VOTE_SIGNED_BYTES];
	dag_wire_vote_message(epoch, round, author, digest, message);
	crypto_sign_detached(at + 16 + FAII_DAG_DIGEST_BYTES, NULL, message, sizeof(message),
	                     secret_key);
	return DAG_VOTE_BYTES;
}

int dag_wire_decode_certificate(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                                uint32_t quorum,
                                const uint8_t (*public_keys)[FAII_DAG_PUBLIC_KEY_BYTES],
                                struct dag_certificate *certificate)
{
	if (len < DAG_CERTIFICATE_FIXED_BYTES)
		return FAII_DAG_REFUSED_MALFORMED;
	const uint8_t *at = bytes + DAG_WIRE_HEADER_BYTES;
	certificate->epoch = faii_get_le64(bytes + 8);
	certificate->round = faii_get_le64(at);
	certificate->author = faii_get_le32(at + 8);
	certificate->signer_mask = faii_get_le64(at + 16);
	certificate->digest = at + 24;
	certificate->signatures = bytes + DAG_CERTIFICATE_FIXED_BYTES;
	certificate->message_bytes = len;
	uint32_t signers = popcount(certificate->signer_mask);
	if (faii_get_le32(at + 12) != 0 || certificate->round == 0 ||
	    len != DAG_CERTIFICATE_FIXED_BYTES + (uint64_t)signers * FAII_DAG_SIGNATURE_BYTES)
		return FAII_DAG_REFUSED_MALFORMED;
	if (certificate->author >= validator_count ||
	    (certificate->signer_mask & ~members(validator_count)) != 0)
		return FAII_DAG_REFUSED_NOT_MEMBER;
	if (signers < quorum)
		return FAII_DAG_REFUSED_BAD_SIGNATURE;
	if (public_keys == NULL)
		return DAG_WIRE_OK;
	uint8_t message[DAG_VOTE_SIGNED_BYTES];
	dag_wire_vote_message(certificate->epoch, certificate->round, certificate->author,
	                      certificate->digest, message);
	const uint8_t *signature = certificate->signatures;
	for (uint32_t signer = 0; signer < validator_count; signer++) {
		if (!(certificate->signer_mask & (1ull << signer)))
			continue;
		if (crypto_sign_verify_detached(signature, message, sizeof(message),
		                                public_keys[signer]) != 0)
			return FAII_DAG_REFUSED_BAD_SIGNATURE;
		signature += FAII_DAG_SIGNATURE_BYTES;
	}
	return DAG_WIRE_OK;
}

uint32_t dag_wire_encode_certificate(uint64_t epoch, uint64_t round, uint32_t author,
                                     const uint8_t *digest, uint64_t signer_mask,
                                     const uint8_t (*signatures)[FAII_DAG_SIGNATURE_BYTES],
                                     uint8_t *out)
{
	put_header(out, DAG_MESSAGE_CERTIFICATE, epoch);
	uint8_t *at = out + DAG_WIRE_HEADER_BYTES;
	faii_put_le64(at, round);
	faii_put_le32(at + 8, author);
	faii_put_le32(at + 12, 0);
	faii_put_le64(at + 16, signer_mask);
	memcpy(at + 24, digest, FAII_DAG_DIGEST_BYTES);
	uint8_t *signature = out + DAG_CERTIFICATE_FIXED_BYTES;
	for (uint32_t signer = 0; signer < FAII_VALIDATORS_MAX; signer++)
		if (signer_mask & (1ull << signer)) {
			memcpy(signature, signatures[signer], FAII_DAG_SIGNATURE_BYTES);
			signature += FAII_DAG_SIGNATURE_BYTES;
		}
	return (uint32_t)(signature - out);
}

int dag_wire_decode_fetch(const uint8_t *bytes, uint32_t len, struct dag_fetch *fetch)
{
	if (len != DAG_FETCH_BYTES)
		return FAII_DAG_REFUSED_MALFORMED;
	const uint8_t *at = bytes + DAG_WIRE_HEADER_BYTES;
	fetch->epoch = faii_get_le64(bytes + 8);
	fetch->round_from = faii_get_le64(at);
	fetch->round_count = faii_get_le32(at + 8);
	fetch->author_mask = faii_get_le64(at + 16);
	if (faii_get_le32(at + 12) != 0 || fetch->round_from == 0 || fetch->round_count == 0 ||
	    fetch->round_count > FAII_DAG_FETCH_ROUNDS_MAX)
		return FAII_DAG_REFUSED_MALFORMED;
	return DAG_WIRE_OK;
}

uint32_t dag_wire_encode_fetch(uint64_t epoch, uint64_t round_from, uint32_t round_count,
                               uint64_t author_mask, uint8_t *out)
{
	put_header(out, DAG_MESSAGE_FETCH, epoch);
	uint8_t *at = out + DAG_WIRE_HEADER_BYTES;
	faii_put_le64(at, round_from);
	faii_put_le32(at + 8, round_count);
	faii_put_le32(at + 12, 0);
	faii_put_le64(at + 16, author_mask);
	return DAG_FETCH_BYTES;
}

/* One half of an equivocation proof: a vertex message cut just before its
 * payload, from a committee member, whose signature holds. */
static int read_signed_header(const uint8_t *bytes, uint32_t len, uint32_t validator_count,
                              const uint8_t (*public_keys)[FAII_DAG_PUBLIC_KEY_BYTES],
                              struct dag_vertex *vertex)
{
	uint64_t epoch;
	if (len < DAG_VERTEX_FIXED_BYTES || dag_wire_type(bytes, len, &epoch) != DAG_MESSAGE_VERTEX)
		return -EBADMSG;
	read_vertex_header(bytes, len, vertex);
	if (len != dag_vertex_payload_offset(vertex->parent_mask) || vertex->round == 0 ||
	    vertex->author >= validator_count)
		return -EBADMSG;
	point_vertex_parts(bytes, vertex);
	vertex_digest(vertex->epoch, vertex->signed_part, vertex->signed_bytes, vertex->digest);
	if (!dag_wire_vertex_signed(vertex, public_keys[vertex->author]))
		return -EKEYREJECTED;
	return 0;
}

int faii_dag_evidence_verify(const uint8_t *proof, uint32_t len, uint32_t validator_count,
                             const uint8_t (*public_keys)[FAII_DAG_PUBLIC_KEY_BYTES],
                             uint64_t *epoch, uint64_t *round, uint32_t *author)
{
	if (proof == NULL || public_keys == NULL || validator_count == 0 ||
	    validator_count > FAII_VALIDATORS_MAX)
		return -EINVAL;
	if (len < 4 || faii_get_le32(proof) > len - 4 || len - 4 - faii_get_le32(proof) < 4)
		return -EBADMSG;
	uint32_t first_bytes = faii_get_le32(proof);
	const uint8_t *second = proof + 4 + first_bytes + 4;
	uint32_t second_bytes = faii_get_le32(second - 4);
	if (second_bytes != len - 8 - first_bytes)
		return -EBADMSG;
	struct dag_vertex first_vertex, second_vertex;
	int rc = read_signed_header(proof + 4, first_bytes, validator_count, public_keys,
	                            &first_vertex);
	if (rc == 0)
		rc = read_signed_header(second, second_bytes, validator_count, public_keys,
		                        &second_vertex);
	if (rc != 0)
		return rc;
	if (first_vertex.epoch != second_vertex.epoch ||
	    first_vertex.round != second_vertex.round ||
	    first_vertex.author != second_vertex.author ||
	    memcmp(first_vertex.digest, second_vertex.digest, FAII_DAG_DIGEST_BYTES) == 0)
		return -EINVAL;
	if (epoch != NULL)
		*epoch = first_vertex.epoch;
	if (round != NULL)
		*round = first_vertex.round;
	if (author != NULL)
		*author = first_vertex.author;
	return 0;
}
