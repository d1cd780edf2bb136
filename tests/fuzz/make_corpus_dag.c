/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes the seed corpus of fuzz_dag_message (input format: fuzz_dag.h):
 * each message type alone for the decoders, raw messages and operation
 * sequences for the core (two full rounds that commit, an equivocation, a
 * failing journal, catch-up requests, a far-future certificate), built with
 * the encoders and the harness's fixed keys so that they are valid.
 *
 *   make_corpus_dag OUTDIR   (the committed seeds are in tests/fuzz/corpus_dag/)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dag.h"

#define SEED_BYTES_MAX 16384u

struct seed {
	uint8_t bytes[SEED_BYTES_MAX];
	uint32_t len;
};

static const char *outdir;
static struct fuzz_dag_committee committee;

static void put(struct seed *seed, uint8_t byte)
{
	if (seed->len == SEED_BYTES_MAX) {
		fprintf(stderr, "make_corpus_dag: a seed is over %u bytes\n", SEED_BYTES_MAX);
		exit(1);
	}
	seed->bytes[seed->len++] = byte;
}

static void put_bytes(struct seed *seed, const uint8_t *bytes, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		put(seed, bytes[i]);
}

static void write_seed(const char *name, const struct seed *seed)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(seed->bytes, 1, seed->len, f) != seed->len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void decoder_seed(const char *name, const uint8_t *message, uint32_t len)
{
	struct seed seed = {.len = 0};
	put(&seed, FUZZ_DAG_MODE_DECODERS);
	put(&seed, FUZZ_DAG_N - 1);
	put_bytes(&seed, message, len);
	write_seed(name, &seed);
}

static void raw(struct seed *seed, uint32_t from, const uint8_t *message, uint32_t len)
{
	put(seed, FUZZ_DAG_OP_RAW);
	put(seed, (uint8_t)from);
	put(seed, (uint8_t)len);
	put(seed, (uint8_t)(len >> 8));
	put_bytes(seed, message, len);
}

static void op(struct seed *seed, uint8_t code, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	put(seed, code);
	put(seed, a);
	put(seed, b);
	put(seed, c);
	put(seed, d);
}

static void vertex_op(struct seed *seed, uint8_t round, uint8_t author, uint8_t flags,
                      const char *tx)
{
	op(seed, FUZZ_DAG_OP_VERTEX, round, author, (uint8_t)FUZZ_DAG_ALL, flags);
	put(seed, (uint8_t)strlen(tx));
	put_bytes(seed, (const uint8_t *)tx, (uint32_t)strlen(tx));
}

/* The peers' part of one round: vertices, two votes for the core's, their
 * certificates, then 10 ms. */
static void round_ops(struct seed *seed, uint8_t round)
{
	for (uint8_t author = 1; author < FUZZ_DAG_N; author++)
		vertex_op(seed, round, author, 0, "peer tx");
	for (uint8_t voter = 1; voter <= 2; voter++)
		op(seed, FUZZ_DAG_OP_VOTE, round, FUZZ_DAG_SELF, voter, 0);
	for (uint8_t author = 1; author < FUZZ_DAG_N; author++)
		op(seed, FUZZ_DAG_OP_CERTIFICATE, round, author, 0x0e, (uint8_t)(author << 4));
	put(seed, FUZZ_DAG_OP_TICK);
	put(seed, 9);
}

static void decoder_seeds(void)
{
	uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	decoder_seed("decode_vertex_round1", committee.vertex[0][1], committee.vertex_bytes[0][1]);
	decoder_seed("decode_vertex_round2", committee.vertex[1][2], committee.vertex_bytes[1][2]);
	decoder_seed("decode_certificate", committee.certificate[1][3],
	             committee.certificate_bytes[1][3]);
	uint32_t len = dag_wire_encode_vote(FUZZ_DAG_EPOCH, 2, 1, 2, committee.digest[1][1],
	                                    committee.secret_keys[2], message);
	decoder_seed("decode_vote", message, len);
	len = dag_wire_encode_fetch(FUZZ_DAG_EPOCH, 1, 2, FUZZ_DAG_ALL, message);
	decoder_seed("decode_fetch", message, len);

	/* Validator 2 signs two vertices for round 3: the proof of it. */
	uint8_t proof[2 * FUZZ_DAG_SEED_BYTES];
	uint32_t proof_len = 0;
	for (uint8_t twin = 0; twin < 2; twin++) {
		uint8_t payload[5] = {1, 0, 0, 0, twin};
		struct dag_vertex_draft draft = {
		        .epoch = FUZZ_DAG_EPOCH,
		        .round = 3,
		        .author = 2,
		        .parent_mask = FUZZ_DAG_ALL,
		        .parent_digests =
		                (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])committee.digest[1],
		        .payload = payload,
		        .payload_bytes = sizeof(payload),
		        .tx_count = 1,
		};
		uint8_t digest[FAII_DAG_DIGEST_BYTES];
		dag_wire_encode_vertex(&draft, committee.secret_keys[2], message, digest);
		uint32_t cut = dag_vertex_payload_offset(FUZZ_DAG_ALL);
		faii_put_le32(proof + proof_len, cut);
		memcpy(proof + proof_len + 4, message, cut);
		proof_len += 4 + cut;
	}
	if (faii_dag_evidence_verify(
	            proof, proof_len, FUZZ_DAG_N,
	            (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])committee.public_keys, NULL, NULL,
	            NULL) != 0) {
		fprintf(stderr, "make_corpus_dag: the seed proof does not verify\n");
		exit(1);
	}
	decoder_seed("decode_evidence", proof, proof_len);
}

static void raw_seeds(void)
{
	uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	struct seed seed = {.len = 0};
	put(&seed, FUZZ_DAG_MODE_CORE);
	raw(&seed, 1, committee.vertex[1][1], committee.vertex_bytes[1][1]);
	write_seed("core_raw_vertex", &seed);
	seed.len = 1;
	raw(&seed, 2, committee.certificate[1][2], committee.certificate_bytes[1][2]);
	write_seed("core_raw_certificate", &seed);
	seed.len = 1;
	uint32_t len = dag_wire_encode_vote(FUZZ_DAG_EPOCH, 2, FUZZ_DAG_SELF, 1,
	                                    committee.digest[1][FUZZ_DAG_SELF],
	                                    committee.secret_keys[1], message);
	raw(&seed, 1, message, len);
	write_seed("core_raw_vote", &seed);
	seed.len = 1;
	put(&seed, FUZZ_DAG_OP_TICK);
	put(&seed, 0);
	len = dag_wire_encode_fetch(FUZZ_DAG_EPOCH, 1, 2, FUZZ_DAG_ALL, message);
	raw(&seed, 3, message, len);
	raw(&seed, 3, message, len);
	write_seed("core_raw_fetch_twice", &seed);
}

static void core_seeds(void)
{
	struct seed seed = {.len = 0};
	put(&seed, FUZZ_DAG_MODE_CORE);
	put(&seed, FUZZ_DAG_OP_SUBMIT);
	put(&seed, 5);
	put_bytes(&seed, (const uint8_t *)"hello", 5);
	for (uint8_t round = 3; round <= 6; round++)
		round_ops(&seed, round);
	put(&seed, FUZZ_DAG_OP_RESTART);
	op(&seed, FUZZ_DAG_OP_ECHO, 0, 1, FUZZ_DAG_OP_TICK, 60);
	write_seed("core_four_rounds_commit_restart", &seed);

	seed.len = 1;
	vertex_op(&seed, 3, 1, 0, "first");
	vertex_op(&seed, 3, 1, FUZZ_DAG_FLAG_UNREMEMBERED, "second");
	op(&seed, FUZZ_DAG_OP_ECHO, 0, 1, FUZZ_DAG_OP_ECHO, 1);
	put(&seed, 1);
	write_seed("core_equivocation", &seed);

	seed.len = 1;
	vertex_op(&seed, 3, 1, 0, "before");
	put(&seed, FUZZ_DAG_OP_FAIL_SYNC);
	vertex_op(&seed, 3, 2, 0, "after");
	op(&seed, FUZZ_DAG_OP_TICK, 50, FUZZ_DAG_OP_RESTART, FUZZ_DAG_OP_TICK, 50);
	write_seed("core_failing_journal", &seed);

	seed.len = 1;
	op(&seed, FUZZ_DAG_OP_TICK, 0, FUZZ_DAG_OP_FETCH, 2, 1);
	put(&seed, 2);
	put(&seed, (uint8_t)FUZZ_DAG_ALL);
	op(&seed, FUZZ_DAG_OP_FETCH, 2, 1, 8, (uint8_t)FUZZ_DAG_ALL);
	write_seed("core_fetch_budget", &seed);

	seed.len = 1;
	op(&seed, FUZZ_DAG_OP_CERTIFICATE, 200, 1, 0x0e, 0x10);
	op(&seed, FUZZ_DAG_OP_TICK, 30, FUZZ_DAG_OP_TICK, 30, FUZZ_DAG_OP_TICK);
	put(&seed, 30);
	write_seed("core_far_certificate", &seed);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (fuzz_dag_committee_init(&committee) != 0) {
		fprintf(stderr, "make_corpus_dag: libsodium failed to initialise\n");
		return 1;
	}
	decoder_seeds();
	raw_seeds();
	core_seeds();
	return 0;
}
