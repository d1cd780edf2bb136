/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for what a validator receives (ledger/dag/): arbitrary
 * bytes as messages from arbitrary peers, and messages the harness signs
 * for them, into a core that holds a DAG (input format: fuzz_dag.h).
 *
 * Beyond "no crash, no failed assertion, no sanitizer report", every input
 * checks what the core does, across restarts within the input:
 *   - it sends only well-formed messages of its epoch, to a peer;
 *   - every vote, own vertex and certificate it sends is already synced in
 *     its journal, and a core whose journal failed sends and outputs nothing;
 *   - it never signs two digests for one (round, author) (votes and own
 *     vertices, read from what it sends);
 *   - its commits arrive in sequence, once, after consumer_applied;
 *   - a journal it wrote always reopens.
 * Nothing here draws randomness (Ed25519 signatures are deterministic), so
 * an input replays exactly.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define FUZZ_JOURNAL_RECORDS 4096u      /* records one input's journal holds */
#define FUZZ_JOURNAL_BYTES   (4u << 20) /* their bytes */
#define FUZZ_KEPT            32u        /* sent messages kept for ECHO */
#define FUZZ_KEPT_BYTES      4096u      /* larger ones are not kept */
#define FUZZ_SIGNED_SLOTS    1024u      /* (kind, round, author) signatures tracked */
#define FUZZ_ROUNDS          256u       /* rounds whose digests the peers know */
#define FUZZ_PAYLOAD_BYTES   260u
#define FUZZ_WINDOW_ROUNDS   16u
#define FUZZ_GC_DEPTH_ROUNDS 8u

/* ---- state ------------------------------------------------------------- */

struct fuzz_record {
	uint8_t type;
	uint64_t key;
	uint32_t offset;
	uint32_t len;
};

struct fuzz_signed {
	bool used;
	uint8_t kind; /* FAII_DAG_RECORD_VOTE or FAII_DAG_RECORD_OWN_VERTEX */
	uint64_t round;
	uint32_t author;
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
};

static struct fuzz_dag_committee fuzz_committee;

static struct {
	struct faii_dag_journal seam;
	struct fuzz_record records[FUZZ_JOURNAL_RECORDS];
	uint32_t count, durable;
	uint8_t bytes[FUZZ_JOURNAL_BYTES];
	uint32_t used, durable_used;
	bool failing;
} fuzz_journal;

static struct {
	struct faii_transport transport;
	struct faii_clock clock;
	struct faii_dag *dag;
	bool stopped; /* this instance's journal failed */
	uint64_t now_ns;
	uint64_t applied;
	uint8_t digests[FUZZ_ROUNDS][FUZZ_DAG_N][FAII_DAG_DIGEST_BYTES];
	uint8_t kept[FUZZ_KEPT][FUZZ_KEPT_BYTES];
	uint32_t kept_bytes[FUZZ_KEPT];
	uint32_t kept_count;
	struct fuzz_signed signed_slots[FUZZ_SIGNED_SLOTS];
} fuzz;

/* ---- the journal -------------------------------------------------------- */

static int journal_append(struct faii_dag_journal *seam, uint8_t type, uint64_t key,
                          const uint8_t *bytes, uint32_t len)
{
	(void)seam;
	if (fuzz_journal.count == FUZZ_JOURNAL_RECORDS ||
	    FUZZ_JOURNAL_BYTES - fuzz_journal.used < len) {
		fuzz.stopped = true; /* the core stops on a failed append */
		return -ENOSPC;
	}
	fuzz_journal.records[fuzz_journal.count++] = (struct fuzz_record){
	        .type = type, .key = key, .offset = fuzz_journal.used, .len = len};
	memcpy(fuzz_journal.bytes + fuzz_journal.used, bytes, len);
	fuzz_journal.used += len;
	return 0;
}

static int journal_sync(struct faii_dag_journal *seam)
{
	(void)seam;
	if (fuzz_journal.failing) {
		fuzz.stopped = true;
		return -EIO;
	}
	fuzz_journal.durable = fuzz_journal.count;
	fuzz_journal.durable_used = fuzz_journal.used;
	return 0;
}

static int journal_replay(struct faii_dag_journal *seam, faii_dag_record_fn *fn, void *arg)
{
	(void)seam;
	for (uint32_t i = 0; i < fuzz_journal.durable; i++) {
		const struct fuzz_record *record = &fuzz_journal.records[i];
		int rc = fn(arg, record->type, fuzz_journal.bytes + record->offset, record->len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The newest durable record of a type and key (key UINT64_MAX: any key)
 * whose bytes start with `prefix`. */
static const struct fuzz_record *journal_find(uint8_t type, uint64_t key, const uint8_t *prefix,
                                              uint32_t prefix_len)
{
	for (uint32_t i = fuzz_journal.durable; i-- > 0;) {
		const struct fuzz_record *record = &fuzz_journal.records[i];
		if (record->type == type && (key == UINT64_MAX || record->key == key) &&
		    record->len >= prefix_len &&
		    (prefix_len == 0 ||
		     memcmp(fuzz_journal.bytes + record->offset, prefix, prefix_len) == 0))
			return record;
	}
	return NULL;
}

static int64_t journal_lookup(struct faii_dag_journal *seam, uint8_t type, uint64_t key,
                              uint8_t *buf, uint32_t cap)
{
	(void)seam;
	const struct fuzz_record *record = journal_find(type, key, NULL, 0);
	if (record == NULL || record->len > cap)
		return 0;
	memcpy(buf, fuzz_journal.bytes + record->offset, record->len);
	return record->len;
}

/* The seed: the own vertices and the certified vertices of rounds 1, 2. */
static void journal_seed(void)
{
	fuzz_journal.count = fuzz_journal.durable = 0;
	fuzz_journal.used = fuzz_journal.durable_used = 0;
	fuzz_journal.failing = false;
	static uint8_t record[2 * FUZZ_DAG_SEED_BYTES + 4];
	for (uint32_t r = 0; r < FUZZ_DAG_SEED_ROUNDS; r++) {
		CHECK(journal_append(NULL, FAII_DAG_RECORD_OWN_VERTEX, 0,
		                     fuzz_committee.vertex[r][FUZZ_DAG_SELF],
		                     fuzz_committee.vertex_bytes[r][FUZZ_DAG_SELF]) == 0);
		for (uint32_t author = 0; author < FUZZ_DAG_N; author++) {
			uint32_t vertex_bytes = fuzz_committee.vertex_bytes[r][author];
			uint32_t certificate_bytes = fuzz_committee.certificate_bytes[r][author];
			faii_put_le32(record, vertex_bytes);
			memcpy(record + 4, fuzz_committee.vertex[r][author], vertex_bytes);
			memcpy(record + 4 + vertex_bytes, fuzz_committee.certificate[r][author],
			       certificate_bytes);
			CHECK(journal_append(NULL, FAII_DAG_RECORD_CERTIFIED,
			                     FAII_DAG_KEY(r + 1, author), record,
			                     4 + vertex_bytes + certificate_bytes) == 0);
		}
	}
	CHECK(journal_sync(NULL) == 0);
}

/* ---- what the core sends ------------------------------------------------ */

/* The core signs one digest per (kind, round, author), across restarts. */
static void note_signed(uint8_t kind, uint64_t round, uint32_t author, const uint8_t *digest)
{
	uint64_t hash = (round * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)author << 8) ^ kind;
	for (uint32_t probe = 0; probe < FUZZ_SIGNED_SLOTS; probe++) {
		struct fuzz_signed *slot = &fuzz.signed_slots[(hash + probe) % FUZZ_SIGNED_SLOTS];
		if (!slot->used) {
			*slot = (struct fuzz_signed){
			        .used = true, .kind = kind, .round = round, .author = author};
			memcpy(slot->digest, digest, FAII_DAG_DIGEST_BYTES);
			return;
		}
		if (slot->kind == kind && slot->round == round && slot->author == author) {
			CHECK(memcmp(slot->digest, digest, FAII_DAG_DIGEST_BYTES) == 0);
			return;
		}
	}
}

static void observe_vote(const uint8_t *bytes, uint32_t len)
{
	struct dag_vote vote;
	CHECK(dag_wire_decode_vote(bytes, len, FUZZ_DAG_N, &vote) == DAG_WIRE_OK);
	CHECK(vote.voter == FUZZ_DAG_SELF && vote.author != FUZZ_DAG_SELF);
	uint8_t key[8 + 4 + FAII_DAG_DIGEST_BYTES];
	faii_put_le64(key, vote.round);
	faii_put_le32(key + 8, vote.author);
	memcpy(key + 12, vote.digest, FAII_DAG_DIGEST_BYTES);
	CHECK(journal_find(FAII_DAG_RECORD_VOTE, UINT64_MAX, key, sizeof(key)) != NULL);
	note_signed(FAII_DAG_RECORD_VOTE, vote.round, vote.author, vote.digest);
}

static void observe_vertex(const uint8_t *bytes, uint32_t len)
{
	struct dag_vertex vertex;
	CHECK(dag_wire_decode_vertex(bytes, len, FUZZ_DAG_N, 3, &vertex) == DAG_WIRE_OK);
	if (vertex.author != FUZZ_DAG_SELF)
		return; /* a peer's vertex, served to a peer that is catching up */
	const struct fuzz_record *record =
	        journal_find(FAII_DAG_RECORD_OWN_VERTEX, UINT64_MAX, bytes, len);
	CHECK(record != NULL && record->len == len);
	note_signed(FAII_DAG_RECORD_OWN_VERTEX, vertex.round, FUZZ_DAG_SELF, vertex.digest);
	if (vertex.round < FUZZ_ROUNDS)
		memcpy(fuzz.digests[vertex.round][FUZZ_DAG_SELF], vertex.digest,
		       FAII_DAG_DIGEST_BYTES);
}

static int fuzz_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                     uint32_t len)
{
	(void)transport;
	CHECK(!fuzz.stopped);
	CHECK(to < FUZZ_DAG_N && to != FUZZ_DAG_SELF);
	uint64_t epoch = 0;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	CHECK(type != 0 && epoch == FUZZ_DAG_EPOCH);
	struct dag_certificate certificate;
	struct dag_fetch fetch;
	if (type == DAG_MESSAGE_VOTE) {
		observe_vote(bytes, len);
	} else if (type == DAG_MESSAGE_VERTEX) {
		observe_vertex(bytes, len);
	} else if (type == DAG_MESSAGE_CERTIFICATE) {
		CHECK(dag_wire_decode_certificate(bytes, len, FUZZ_DAG_N, 3, NULL, &certificate) ==
		      DAG_WIRE_OK);
		CHECK(journal_find(FAII_DAG_RECORD_CERTIFIED,
		                   FAII_DAG_KEY(certificate.round, certificate.author), NULL,
		                   0) != NULL);
	} else {
		CHECK(dag_wire_decode_fetch(bytes, len, &fetch) == DAG_WIRE_OK);
	}
	if (len <= FUZZ_KEPT_BYTES) {
		uint32_t slot = fuzz.kept_count++ % FUZZ_KEPT;
		memcpy(fuzz.kept[slot], bytes, len);
		fuzz.kept_bytes[slot] = len;
	}
	return 0;
}

static void fuzz_on_commit(void *ctx, const struct faii_dag_commit *commit)
{
	(void)ctx;
	CHECK(!fuzz.stopped);
	CHECK(fuzz_journal.count == fuzz_journal.durable);
	CHECK(commit->sequence == fuzz.applied + 1);
	fuzz.applied = commit->sequence;
	uint32_t offset = 0, len, count = 0;
	const uint8_t *tx;
	while (faii_dag_tx_next(commit, &offset, &tx, &len))
		count++;
	CHECK(count == commit->tx_count);
}

/* ---- the core ----------------------------------------------------------- */

static uint64_t fuzz_clock_ns(const struct faii_clock *clock)
{
	(void)clock;
	return fuzz.now_ns;
}

static void core_open(void)
{
	struct faii_dag_config config;
	faii_dag_config_defaults(&config, FUZZ_DAG_N);
	config.epoch = FUZZ_DAG_EPOCH;
	config.self = FUZZ_DAG_SELF;
	memcpy(config.public_keys, fuzz_committee.public_keys, sizeof(config.public_keys));
	memcpy(config.secret_key, fuzz_committee.secret_keys[FUZZ_DAG_SELF],
	       sizeof(config.secret_key));
	config.batch_bytes_max = 1024;
	config.batch_wait_ns = 5 * FAII_NS_PER_MS;
	config.leader_timeout_ns = 50 * FAII_NS_PER_MS;
	config.retransmit_ns = 20 * FAII_NS_PER_MS;
	config.gc_depth_rounds = FUZZ_GC_DEPTH_ROUNDS;
	config.window_rounds = FUZZ_WINDOW_ROUNDS;
	config.fetch_replies_per_tick = 6;
	struct faii_dag_consumer consumer = {.on_commit = fuzz_on_commit};
	char err[256] = "";
	fuzz.stopped = false;
	int rc = faii_dag_open(&config, &fuzz.transport, &fuzz.clock, &fuzz_journal.seam, &consumer,
	                       fuzz.applied, &fuzz.dag, err, sizeof(err));
	CHECK(rc == 0); /* a journal the core wrote always reopens */
}

static void core_restart(void)
{
	faii_dag_close(fuzz.dag);
	fuzz.dag = NULL;
	fuzz_journal.count = fuzz_journal.durable; /* a crash: what was not synced is gone */
	fuzz_journal.used = fuzz_journal.durable_used;
	core_open();
}

static void fuzz_reset(void)
{
	fuzz.transport =
	        (struct faii_transport){.send = fuzz_send,
	                                .self = FUZZ_DAG_SELF,
	                                .peer_count = FUZZ_DAG_N,
	                                .message_bytes_max = FAII_TRANSPORT_MESSAGE_BYTES_MAX};
	fuzz.clock =
	        (struct faii_clock){.realtime_ns = fuzz_clock_ns, .monotonic_ns = fuzz_clock_ns};
	fuzz.now_ns = FAII_NS_PER_S;
	fuzz.applied = 0;
	fuzz.kept_count = 0;
	memset(fuzz.signed_slots, 0, sizeof(fuzz.signed_slots));
	memset(fuzz.digests, 0, sizeof(fuzz.digests));
	for (uint32_t r = 0; r < FUZZ_DAG_SEED_ROUNDS; r++)
		memcpy(fuzz.digests[r + 1], fuzz_committee.digest[r], sizeof(fuzz.digests[0]));
	fuzz_journal.seam = (struct faii_dag_journal){.append = journal_append,
	                                              .sync = journal_sync,
	                                              .replay = journal_replay,
	                                              .lookup = journal_lookup};
	journal_seed();
}

/* ---- reading the input -------------------------------------------------- */

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

static uint8_t take(struct fuzz_input *in)
{
	if (in->size == 0)
		return 0;
	in->size--;
	return *in->data++;
}

/* Up to `want` bytes; fewer at the end of the input. */
static uint32_t take_bytes(struct fuzz_input *in, uint32_t want, const uint8_t **bytes)
{
	uint32_t got = in->size < want ? (uint32_t)in->size : want;
	*bytes = in->data;
	in->data += got;
	in->size -= got;
	return got;
}

static const uint8_t *digest_of(uint64_t round, uint32_t author)
{
	static const uint8_t unknown[FAII_DAG_DIGEST_BYTES];
	return round < FUZZ_ROUNDS ? fuzz.digests[round][author % FUZZ_DAG_N] : unknown;
}

static void deliver(uint32_t from, const uint8_t *bytes, uint32_t len)
{
	faii_dag_on_message(fuzz.dag, from % FUZZ_DAG_N, bytes, len);
}

/* ---- operations --------------------------------------------------------- */

/* What VERTEX, VOTE and CERTIFICATE start with. */
struct fuzz_head {
	uint64_t round;
	uint32_t author;
	uint8_t extra; /* parents, voter or signers */
	uint8_t flags;
	uint64_t epoch;
	uint8_t digest[FAII_DAG_DIGEST_BYTES]; /* of the vertex (round, author) */
};

static void take_head(struct fuzz_input *in, struct fuzz_head *head)
{
	head->round = take(in);
	head->author = take(in) % FUZZ_DAG_N;
	head->extra = take(in);
	head->flags = take(in);
	head->epoch = FUZZ_DAG_EPOCH + ((head->flags & FUZZ_DAG_FLAG_NEXT_EPOCH) != 0);
	memcpy(head->digest, digest_of(head->round, head->author), FAII_DAG_DIGEST_BYTES);
	if (head->flags & FUZZ_DAG_FLAG_BAD_DIGEST)
		head->digest[0] ^= 0x01;
}

static void op_vertex(struct fuzz_input *in, uint8_t *message)
{
	struct fuzz_head head;
	take_head(in, &head);
	uint8_t payload[FUZZ_PAYLOAD_BYTES];
	const uint8_t *tx;
	uint32_t tx_len = take_bytes(in, take(in), &tx);
	faii_put_le32(payload, tx_len);
	if (tx_len > 0)
		memcpy(payload + 4, tx, tx_len);
	uint8_t parent_digests[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	memset(parent_digests, 0xab, sizeof(parent_digests));
	for (uint32_t i = 0; i < FUZZ_DAG_N; i++)
		memcpy(parent_digests[i], digest_of(head.round - 1, i), FAII_DAG_DIGEST_BYTES);
	if (head.flags & FUZZ_DAG_FLAG_BAD_DIGEST)
		parent_digests[head.flags >> 6][0] ^= 0x01;
	struct dag_vertex_draft draft = {
	        .epoch = head.epoch,
	        .round = head.round,
	        .author = head.author,
	        .parent_mask = head.extra,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parent_digests,
	        .payload = payload,
	        .payload_bytes = tx_len > 0 ? 4 + tx_len : 0,
	        .tx_count = tx_len > 0,
	};
	uint32_t signer = (head.flags & FUZZ_DAG_FLAG_OTHER_KEY) ? (head.author + 1) % FUZZ_DAG_N
	                                                         : head.author;
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	uint32_t len =
	        dag_wire_encode_vertex(&draft, fuzz_committee.secret_keys[signer], message, digest);
	if (!(head.flags & FUZZ_DAG_FLAG_UNREMEMBERED) && head.round < FUZZ_ROUNDS &&
	    head.author != FUZZ_DAG_SELF)
		memcpy(fuzz.digests[head.round][head.author], digest, FAII_DAG_DIGEST_BYTES);
	deliver(head.author, message, len);
}

static void op_vote(struct fuzz_input *in, uint8_t *message)
{
	struct fuzz_head head;
	take_head(in, &head);
	uint32_t voter = head.extra % FUZZ_DAG_N;
	uint32_t signer = (head.flags & FUZZ_DAG_FLAG_OTHER_KEY) ? (voter + 1) % FUZZ_DAG_N : voter;
	uint32_t len = dag_wire_encode_vote(head.epoch, head.round, head.author, voter, head.digest,
	                                    fuzz_committee.secret_keys[signer], message);
	deliver(voter, message, len);
}

static void op_certificate(struct fuzz_input *in, uint8_t *message)
{
	struct fuzz_head head;
	take_head(in, &head);
	uint32_t len = fuzz_dag_certificate(&fuzz_committee, head.epoch, head.round, head.author,
	                                    head.digest, head.extra, message);
	if ((head.flags & FUZZ_DAG_FLAG_OTHER_KEY) && len > DAG_CERTIFICATE_FIXED_BYTES)
		message[len - 1] ^= 0x01; /* a forged signature */
	deliver(head.flags >> 4, message, len);
}

static void op_misc(uint8_t op, struct fuzz_input *in, uint8_t *message)
{
	const uint8_t *bytes;
	uint32_t len;
	switch (op) {
	case FUZZ_DAG_OP_RAW: {
		uint32_t from = take(in);
		uint32_t want = take(in);
		want |= (uint32_t)take(in) << 8;
		len = take_bytes(in, want, &bytes);
		uint8_t *exact = malloc(len > 0 ? len : 1); /* reading past len is caught */
		CHECK(exact != NULL);
		if (len > 0)
			memcpy(exact, bytes, len);
		deliver(from, exact, len);
		free(exact);
		break;
	}
	case FUZZ_DAG_OP_FETCH: {
		uint32_t from = take(in);
		uint64_t round = take(in);
		uint32_t rounds = take(in);
		uint64_t authors = take(in);
		len = dag_wire_encode_fetch(FUZZ_DAG_EPOCH, round, rounds, authors, message);
		deliver(from, message, len);
		break;
	}
	case FUZZ_DAG_OP_TICK:
		fuzz.now_ns += (1 + (uint64_t)take(in)) * FAII_NS_PER_MS;
		faii_dag_on_tick(fuzz.dag, fuzz.now_ns);
		break;
	case FUZZ_DAG_OP_SUBMIT: {
		len = take_bytes(in, take(in), &bytes);
		int rc = faii_dag_submit(fuzz.dag, len > 0 ? bytes : message, len);
		CHECK(rc == 0 || rc == -EMSGSIZE || rc == -ENOBUFS || rc == -EIO);
		break;
	}
	case FUZZ_DAG_OP_ECHO: {
		uint32_t index = take(in), from = take(in);
		if (fuzz.kept_count == 0)
			break;
		uint32_t kept = fuzz.kept_count < FUZZ_KEPT ? fuzz.kept_count : FUZZ_KEPT;
		uint32_t slot = index % kept;
		memcpy(message, fuzz.kept[slot], fuzz.kept_bytes[slot]);
		deliver(from, message, fuzz.kept_bytes[slot]);
		break;
	}
	case FUZZ_DAG_OP_RESTART: core_restart(); break;
	default: fuzz_journal.failing = true; break;
	}
}

static void fuzz_core(const uint8_t *data, size_t size)
{
	static uint8_t message[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
	struct fuzz_input in = {.data = data, .size = size};
	fuzz_reset();
	core_open();
	for (uint32_t ops = 0; ops < FUZZ_DAG_OPS_MAX && in.size > 0; ops++) {
		uint8_t op = take(&in) % FUZZ_DAG_OP_COUNT;
		if (op == FUZZ_DAG_OP_VERTEX)
			op_vertex(&in, message);
		else if (op == FUZZ_DAG_OP_VOTE)
			op_vote(&in, message);
		else if (op == FUZZ_DAG_OP_CERTIFICATE)
			op_certificate(&in, message);
		else
			op_misc(op, &in, message);
	}
	/* Whatever happened, the journal it wrote reopens. */
	core_restart();
	faii_dag_close(fuzz.dag);
	fuzz.dag = NULL;
}

/* ---- decoders only ------------------------------------------------------ */

static void fuzz_decode_vertex(const uint8_t *bytes, uint32_t len, uint32_t n, uint32_t quorum)
{
	struct dag_vertex vertex;
	if (dag_wire_decode_vertex(bytes, len, n, quorum, &vertex) != DAG_WIRE_OK)
		return;
	CHECK(vertex.message_bytes == len && vertex.round != 0 && vertex.author < n);
	CHECK(vertex.payload + vertex.payload_bytes == bytes + len);
	CHECK(vertex.signed_part + vertex.signed_bytes == vertex.signature);
	struct faii_dag_commit commit = {.transactions = vertex.payload,
	                                 .transactions_bytes = vertex.payload_bytes,
	                                 .tx_count = vertex.tx_count};
	uint32_t offset = 0, tx_len, count = 0;
	const uint8_t *tx;
	while (faii_dag_tx_next(&commit, &offset, &tx, &tx_len))
		count++;
	CHECK(count == vertex.tx_count);
	dag_wire_vertex_signed(&vertex, fuzz_committee.public_keys[vertex.author]);
}

static void fuzz_decoders(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	uint32_t n = 1 + data[0] % FAII_VALIDATORS_MAX;
	uint32_t quorum = n - (n - 1) / 3;
	uint32_t len = size - 1 > FAII_TRANSPORT_MESSAGE_BYTES_MAX
	                       ? FAII_TRANSPORT_MESSAGE_BYTES_MAX
	                       : (uint32_t)(size - 1);
	const uint8_t *bytes = data + 1;
	uint64_t epoch = 0;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	CHECK(type <= DAG_MESSAGE_FETCH);
	fuzz_decode_vertex(bytes, len, n, quorum);
	struct dag_vote vote;
	if (dag_wire_decode_vote(bytes, len, n, &vote) == DAG_WIRE_OK) {
		CHECK(vote.author < n && vote.voter < n && vote.round != 0);
		dag_wire_vote_signed(&vote, fuzz_committee.public_keys[vote.voter]);
	}
	struct dag_certificate certificate;
	if (dag_wire_decode_certificate(
	            bytes, len, n, quorum,
	            (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])fuzz_committee.public_keys,
	            &certificate) == DAG_WIRE_OK)
		CHECK(certificate.message_bytes == len &&
		      (uint32_t)__builtin_popcountll(certificate.signer_mask) >= quorum);
	struct dag_fetch fetch;
	if (dag_wire_decode_fetch(bytes, len, &fetch) == DAG_WIRE_OK)
		CHECK(fetch.round_count >= 1 && fetch.round_count <= FAII_DAG_FETCH_ROUNDS_MAX);
	uint64_t round = 0;
	uint32_t author = UINT32_MAX;
	int rc = faii_dag_evidence_verify(
	        bytes, len, n,
	        (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])fuzz_committee.public_keys, &epoch,
	        &round, &author);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EINVAL || rc == -EKEYREJECTED);
	CHECK(rc != 0 || (author < n && round != 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		CHECK(fuzz_dag_committee_init(&fuzz_committee) == 0);
		ready = true;
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == FUZZ_DAG_MODE_DECODERS)
		fuzz_decoders(data + 1, size - 1);
	else
		fuzz_core(data + 1, size - 1);
	return 0;
}
