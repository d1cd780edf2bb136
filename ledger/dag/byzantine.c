/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests only: a Byzantine validator's lies on the way out (byzantine.h). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "byzantine.h"
#include "faii/assert.h"
#include "faii/validator.h"
#include "wire.h"

/* The transaction a twin adds to the true vertex's batch. */
#define BYZANTINE_TWIN_TX_BYTES 16u

/*
 * A second vertex for the same round, validly signed: the same parents and
 * one more transaction. 0 when `bytes` is not this validator's own vertex
 * or the twin would not fit in one message.
 */
static uint32_t twin_vertex(struct dag_byzantine *tap, const uint8_t *bytes, uint32_t len,
                            uint64_t *round)
{
	uint32_t n = tap->transport.peer_count;
	struct dag_vertex vertex;
	if (dag_wire_decode_vertex(bytes, len, n, n - (n - 1) / 3, &vertex) != DAG_WIRE_OK ||
	    vertex.author != tap->transport.self ||
	    len + 4 + BYZANTINE_TWIN_TX_BYTES > FAII_TRANSPORT_MESSAGE_BYTES_MAX)
		return 0;
	uint8_t *payload = tap->scratch + FAII_TRANSPORT_MESSAGE_BYTES_MAX;
	memcpy(payload, vertex.payload, vertex.payload_bytes);
	faii_put_le32(payload + vertex.payload_bytes, BYZANTINE_TWIN_TX_BYTES);
	memset(payload + vertex.payload_bytes + 4, 0xee, BYZANTINE_TWIN_TX_BYTES);
	uint8_t parent_digests[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	uint32_t parent = 0; /* the wire lists parent digests by author, the draft indexes them */
	for (uint64_t mask = vertex.parent_mask; mask != 0; mask &= mask - 1, parent++)
		memcpy(parent_digests[__builtin_ctzll(mask)],
		       vertex.parent_digests + parent * FAII_DAG_DIGEST_BYTES,
		       FAII_DAG_DIGEST_BYTES);
	struct dag_vertex_draft draft = {
	        .epoch = vertex.epoch,
	        .round = vertex.round,
	        .author = vertex.author,
	        .parent_mask = vertex.parent_mask,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parent_digests,
	        .payload = payload,
	        .payload_bytes = vertex.payload_bytes + 4 + BYZANTINE_TWIN_TX_BYTES,
	        .tx_count = vertex.tx_count + 1,
	};
	uint8_t twin_digest[FAII_DAG_DIGEST_BYTES];
	*round = vertex.round;
	return dag_wire_encode_vertex(&draft, tap->secret_key, tap->scratch, twin_digest);
}

/* Every peer gets both vertices, so every honest one holds the proof; the
 * order alternates by round and peer, so that their votes split. */
static int send_with_twin(struct dag_byzantine *tap, uint32_t to, const uint8_t *bytes,
                          uint32_t len, uint32_t twin_len, uint64_t round)
{
	tap->told++;
	bool twin_first = ((round + to) & 1) != 0;
	if (twin_first)
		faii_transport_send(tap->inner, to, tap->scratch, twin_len);
	int rc = faii_transport_send(tap->inner, to, bytes, len);
	if (!twin_first)
		faii_transport_send(tap->inner, to, tap->scratch, twin_len);
	return rc;
}

static int byzantine_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                          uint32_t len)
{
	struct dag_byzantine *tap = transport->ctx;
	uint64_t epoch;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	bool signatures_last = type == DAG_MESSAGE_VOTE || type == DAG_MESSAGE_CERTIFICATE;
	if ((tap->lies & FAII_VALIDATOR_LIE_FORGE) && signatures_last) {
		memcpy(tap->scratch, bytes, len);
		tap->scratch[len - 1] ^= 0x01; /* the last signature no longer verifies */
		faii_transport_send(tap->inner, to, tap->scratch, len);
		tap->told++;
	}
	if ((tap->lies & FAII_VALIDATOR_LIE_WITHHOLD) && type == DAG_MESSAGE_VOTE) {
		tap->told++;
		return 0;
	}
	if ((tap->lies & FAII_VALIDATOR_LIE_EQUIVOCATE) && type == DAG_MESSAGE_VERTEX) {
		uint64_t round = 0;
		uint32_t twin_len = twin_vertex(tap, bytes, len, &round);
		if (twin_len > 0)
			return send_with_twin(tap, to, bytes, len, twin_len, round);
	}
	return faii_transport_send(tap->inner, to, bytes, len);
}

int dag_byzantine_init(struct dag_byzantine *tap, struct faii_transport *inner, uint32_t lies,
                       const uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES])
{
	FAII_ASSERT(tap != NULL && inner != NULL && lies != 0);
	*tap = (struct dag_byzantine){
	        .transport = *inner,
	        .inner = inner,
	        .lies = lies,
	        .scratch = malloc(2 * FAII_TRANSPORT_MESSAGE_BYTES_MAX),
	};
	if (tap->scratch == NULL)
		return -ENOMEM;
	tap->transport.send = byzantine_send;
	tap->transport.ctx = tap;
	memcpy(tap->secret_key, secret_key, sizeof(tap->secret_key));
	return 0;
}

void dag_byzantine_fini(struct dag_byzantine *tap)
{
	sodium_memzero(tap->secret_key, sizeof(tap->secret_key));
	free(tap->scratch);
	tap->scratch = NULL;
}
