/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One real validator core (ledger/dag/, include/faii/dag.h) driven message
 * by message: the test plays its three peers (n = 4, the core is validator
 * 0) with the real encoders of wire.h, keeps the core's journal in memory
 * (it can refuse to sync on demand) and records everything the core sends.
 *
 *   refusals   every reason of enum faii_dag_refusal, from a crafted message
 *   votes      one vote per (author, round); equivocation proofs
 *   durable    nothing leaves before its record is synced; a failed journal
 *              stops the validator
 *   restart    the proposed round, votes, DAG and commits come back
 *   cluster    four cores delivering to each other commit the same sequence
 *   evidence   faii_dag_evidence_verify on real and forged proofs
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/dag.h"
#include "wire.h"

#define TEST_N             4u
#define TEST_EPOCH         7u
#define TEST_SELF          0u
#define TEST_ROUNDS_MAX    64u        /* rounds the peers' digests are kept for */
#define TEST_RECORDS_MAX   (1u << 16) /* journal records per node */
#define TEST_SENT_MAX      (1u << 16) /* messages in flight on the test wire */
#define TEST_COMMITS_MAX   (1u << 14) /* outputs one consumer remembers */
#define TEST_TXS_PER_NODE  40u        /* the cluster's submissions per core */
#define TEST_TX_BYTES      16u        /* origin u32, index u32, filler */
#define TEST_CLUSTER_STEPS 3000u      /* 1 ms each: 3 s of the cluster */
#define TEST_FETCH_REPLIES 2u         /* vertices one peer is served per tick */
#define TEST_STEP_NS       FAII_NS_PER_MS
#define TEST_ROUND_WAIT_NS (10 * FAII_NS_PER_MS) /* > batch_wait_ns */
#define TEST_BATCH_WAIT_NS (5 * FAII_NS_PER_MS)
#define TEST_RETRANSMIT_NS (50 * FAII_NS_PER_MS)
#define TEST_MESSAGE_MAX   FAII_TRANSPORT_MESSAGE_BYTES_MAX
#define TEST_ALL_AUTHORS   ((1ull << TEST_N) - 1)
#define TEST_PEER_SIGNERS  0xeull /* validators 1, 2, 3 */

/* ---- keys, clock, the peers' view of the DAG ---------------------------- */

static uint8_t test_public[FAII_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
static uint8_t test_secret[TEST_N][FAII_DAG_SECRET_KEY_BYTES];
/* Digests of the vertices the peers reference, by round and author. */
static uint8_t test_digests[TEST_ROUNDS_MAX][TEST_N][FAII_DAG_DIGEST_BYTES];
static uint64_t test_now_ns;
static uint64_t test_events; /* orders syncs against sends */

static uint64_t test_clock_ns(const struct faii_clock *clock)
{
	(void)clock;
	return test_now_ns;
}

static const struct faii_clock test_clock = {.realtime_ns = test_clock_ns,
                                             .monotonic_ns = test_clock_ns};

static void test_setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	for (uint32_t i = 0; i < TEST_N; i++) {
		uint8_t seed[crypto_sign_SEEDBYTES];
		memset(seed, (int)(0x40 + i), sizeof(seed));
		crypto_sign_seed_keypair(test_public[i], test_secret[i], seed);
	}
	test_now_ns = FAII_NS_PER_S;
	test_events = 0;
}

/* ---- the journal: in memory, fails its sync on demand -------------------- */

struct test_record {
	uint8_t type;
	uint64_t key;
	uint8_t *bytes;
	uint32_t len;
	uint64_t synced_event; /* 0: not durable */
};

struct test_journal {
	struct faii_dag_journal seam;
	struct test_record *records;
	uint32_t count;
	uint32_t durable; /* records[0, durable) are synced */
	uint32_t syncs;   /* successful syncs so far */
	uint32_t fail_at; /* this sync (1-based) and all later ones fail; 0: never */
	bool failed;      /* a sync failed */
};

static int journal_append(struct faii_dag_journal *seam, uint8_t type, uint64_t key,
                          const uint8_t *bytes, uint32_t len)
{
	struct test_journal *journal = seam->ctx;
	if (journal->count == TEST_RECORDS_MAX)
		return -ENOSPC;
	struct test_record *record = &journal->records[journal->count++];
	*record = (struct test_record){.type = type, .key = key, .len = len};
	record->bytes = malloc(len);
	cr_assert_not_null(record->bytes);
	memcpy(record->bytes, bytes, len);
	return 0;
}

static int journal_sync(struct faii_dag_journal *seam)
{
	struct test_journal *journal = seam->ctx;
	if (journal->failed || (journal->fail_at != 0 && journal->syncs + 1 >= journal->fail_at)) {
		journal->failed = true;
		return -EIO;
	}
	journal->syncs++;
	test_events++;
	for (; journal->durable < journal->count; journal->durable++)
		journal->records[journal->durable].synced_event = test_events;
	return 0;
}

static int journal_replay(struct faii_dag_journal *seam, faii_dag_record_fn *fn, void *arg)
{
	struct test_journal *journal = seam->ctx;
	for (uint32_t i = 0; i < journal->durable; i++) {
		const struct test_record *record = &journal->records[i];
		int rc = fn(arg, record->type, record->bytes, record->len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int64_t journal_lookup(struct faii_dag_journal *seam, uint8_t type, uint64_t key,
                              uint8_t *buf, uint32_t cap)
{
	struct test_journal *journal = seam->ctx;
	for (uint32_t i = journal->durable; i-- > 0;) {
		const struct test_record *record = &journal->records[i];
		if (record->type != type || record->key != key)
			continue;
		if (record->len > cap)
			return 0;
		memcpy(buf, record->bytes, record->len);
		return record->len;
	}
	return 0;
}

static void journal_init(struct test_journal *journal)
{
	memset(journal, 0, sizeof(*journal));
	journal->records = calloc(TEST_RECORDS_MAX, sizeof(*journal->records));
	cr_assert_not_null(journal->records);
	journal->seam = (struct faii_dag_journal){.append = journal_append,
	                                          .sync = journal_sync,
	                                          .replay = journal_replay,
	                                          .lookup = journal_lookup,
	                                          .ctx = journal};
}

/* A crash: what was appended but not synced is gone. */
static void journal_crash(struct test_journal *journal)
{
	for (uint32_t i = journal->durable; i < journal->count; i++)
		free(journal->records[i].bytes);
	journal->count = journal->durable;
}

static void journal_fini(struct test_journal *journal)
{
	for (uint32_t i = 0; i < journal->count; i++)
		free(journal->records[i].bytes);
	free(journal->records);
}

/* The newest durable record of a type whose bytes start with `prefix`. */
static const struct test_record *journal_find(const struct test_journal *journal, uint8_t type,
                                              const uint8_t *prefix, uint32_t prefix_len)
{
	for (uint32_t i = journal->durable; i-- > 0;) {
		const struct test_record *record = &journal->records[i];
		if (record->type == type && record->len >= prefix_len &&
		    (prefix_len == 0 || memcmp(record->bytes, prefix, prefix_len) == 0))
			return record;
	}
	return NULL;
}

static uint32_t journal_count(const struct test_journal *journal, uint8_t type)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < journal->count; i++)
		count += journal->records[i].type == type;
	return count;
}

/* ---- the wire: every message a core sent, in order ---------------------- */

struct test_sent {
	uint32_t from;
	uint32_t to;
	uint8_t *bytes;
	uint32_t len;
};

struct test_wire {
	struct test_sent *sent;
	uint32_t count;
	uint32_t delivered; /* the cluster delivers sent[delivered, count) */
};

static void wire_init(struct test_wire *wire)
{
	memset(wire, 0, sizeof(*wire));
	wire->sent = calloc(TEST_SENT_MAX, sizeof(*wire->sent));
	cr_assert_not_null(wire->sent);
}

static void wire_reset(struct test_wire *wire)
{
	for (uint32_t i = 0; i < wire->count; i++)
		free(wire->sent[i].bytes);
	wire->count = 0;
	wire->delivered = 0;
}

static void wire_fini(struct test_wire *wire)
{
	wire_reset(wire);
	free(wire->sent);
}

/* ---- one validator under test ------------------------------------------- */

struct test_commit {
	uint64_t sequence;
	uint64_t round;
	uint32_t author;
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
};

struct test_node {
	uint32_t self;
	struct faii_transport transport;
	struct test_journal journal;
	struct test_wire *wire;
	struct faii_dag *dag;
	struct test_commit *commits;
	uint32_t commit_count;
	uint64_t next_sequence; /* what the consumer expects next */
	uint8_t tx_seen[TEST_N][TEST_TXS_PER_NODE];
	uint32_t fetch_replies_per_tick;
	/* Sends checked against the journal: each had its record synced first. */
	uint64_t checked_votes;
	uint64_t checked_vertices;
	uint64_t checked_certificates;
};

/* Persistence before action, checked at the moment of sending. */
static void check_durable(struct test_node *node, const uint8_t *bytes, uint32_t len)
{
	uint64_t epoch;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	const struct test_record *record = NULL;
	if (type == DAG_MESSAGE_VOTE) {
		struct dag_vote vote;
		cr_assert_eq(dag_wire_decode_vote(bytes, len, TEST_N, &vote), DAG_WIRE_OK);
		cr_assert_eq(vote.voter, node->self, "a core sends only its own votes");
		uint8_t key[8 + 4 + FAII_DAG_DIGEST_BYTES];
		faii_put_le64(key, vote.round);
		faii_put_le32(key + 8, vote.author);
		memcpy(key + 12, vote.digest, FAII_DAG_DIGEST_BYTES);
		record = journal_find(&node->journal, FAII_DAG_RECORD_VOTE, key, sizeof(key));
		cr_assert_not_null(record, "validator %u sent a vote it has not journaled",
		                   node->self);
		node->checked_votes++;
	} else if (type == DAG_MESSAGE_VERTEX &&
	           faii_get_le32(bytes + DAG_WIRE_HEADER_BYTES + 8) == node->self) {
		record = journal_find(&node->journal, FAII_DAG_RECORD_OWN_VERTEX, bytes, len);
		cr_assert_not_null(record, "validator %u sent a vertex it has not journaled",
		                   node->self);
		node->checked_vertices++;
	} else if (type == DAG_MESSAGE_CERTIFICATE) {
		uint64_t round = faii_get_le64(bytes + DAG_WIRE_HEADER_BYTES);
		uint32_t author = faii_get_le32(bytes + DAG_WIRE_HEADER_BYTES + 8);
		bool found = false;
		for (uint32_t i = node->journal.durable; i-- > 0 && !found;)
			found = node->journal.records[i].type == FAII_DAG_RECORD_CERTIFIED &&
			        node->journal.records[i].key == FAII_DAG_KEY(round, author);
		cr_assert(found, "validator %u sent a certificate it has not journaled",
		          node->self);
		node->checked_certificates++;
	}
	cr_assert(record == NULL || record->synced_event <= test_events);
}

static int test_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                     uint32_t len)
{
	struct test_node *node = transport->ctx;
	cr_assert(!node->journal.failed, "validator %u sent after its journal failed", node->self);
	cr_assert_lt(to, TEST_N);
	cr_assert_neq(to, node->self);
	check_durable(node, bytes, len);
	struct test_wire *wire = node->wire;
	cr_assert_lt(wire->count, TEST_SENT_MAX, "the test wire is full");
	struct test_sent *sent = &wire->sent[wire->count++];
	*sent = (struct test_sent){.from = node->self, .to = to, .len = len};
	sent->bytes = malloc(len);
	cr_assert_not_null(sent->bytes);
	memcpy(sent->bytes, bytes, len);
	return 0;
}

static void test_on_commit(void *ctx, const struct faii_dag_commit *commit)
{
	struct test_node *node = ctx;
	cr_assert(!node->journal.failed, "validator %u output after its journal failed",
	          node->self);
	cr_assert_eq(node->journal.count, node->journal.durable,
	             "validator %u output before its journal synced", node->self);
	cr_assert_lt(node->commit_count, TEST_COMMITS_MAX);
	cr_assert_eq(commit->sequence, node->next_sequence, "validator %u output %lu, expected %lu",
	             node->self, (unsigned long)commit->sequence,
	             (unsigned long)node->next_sequence);
	node->next_sequence++;
	struct test_commit *out = &node->commits[node->commit_count++];
	*out = (struct test_commit){
	        .sequence = commit->sequence, .round = commit->round, .author = commit->author};
	memcpy(out->digest, commit->digest, FAII_DAG_DIGEST_BYTES);
	uint32_t offset = 0, len;
	const uint8_t *tx;
	while (faii_dag_tx_next(commit, &offset, &tx, &len)) {
		if (len != TEST_TX_BYTES)
			continue; /* the peers' filler transactions */
		uint32_t origin = faii_get_le32(tx), index = faii_get_le32(tx + 4);
		cr_assert(origin < TEST_N && index < TEST_TXS_PER_NODE);
		cr_assert_eq(node->tx_seen[origin][index], 0, "a transaction committed twice");
		node->tx_seen[origin][index] = 1;
	}
}

static void node_config(const struct test_node *node, struct faii_dag_config *config)
{
	faii_dag_config_defaults(config, TEST_N);
	config->epoch = TEST_EPOCH;
	config->self = node->self;
	memcpy(config->public_keys, test_public, sizeof(config->public_keys));
	memcpy(config->secret_key, test_secret[node->self], sizeof(config->secret_key));
	config->batch_bytes_max = 2048;
	config->batch_wait_ns = TEST_BATCH_WAIT_NS;
	config->leader_timeout_ns = 100 * FAII_NS_PER_MS;
	config->retransmit_ns = TEST_RETRANSMIT_NS;
	config->gc_depth_rounds = 20;
	config->window_rounds = TEST_ROUNDS_MAX;
	config->fetch_replies_per_tick = node->fetch_replies_per_tick;
}

/* Opens (or reopens, on the same journal) the node's core and ticks once. */
static void node_open(struct test_node *node, uint64_t consumer_applied)
{
	struct faii_dag_config config;
	node_config(node, &config);
	node->transport = (struct faii_transport){.send = test_send,
	                                          .ctx = node,
	                                          .self = node->self,
	                                          .peer_count = TEST_N,
	                                          .message_bytes_max = TEST_MESSAGE_MAX};
	struct faii_dag_consumer consumer = {.on_commit = test_on_commit, .ctx = node};
	char err[256] = "";
	node->next_sequence = consumer_applied + 1;
	int rc = faii_dag_open(&config, &node->transport, &test_clock, &node->journal.seam,
	                       &consumer, consumer_applied, &node->dag, err, sizeof(err));
	cr_assert_eq(rc, 0, "open: %s", err);
	faii_dag_on_tick(node->dag, test_now_ns);
}

static void node_init(struct test_node *node, uint32_t self, struct test_wire *wire)
{
	memset(node, 0, sizeof(*node));
	node->self = self;
	node->wire = wire;
	node->fetch_replies_per_tick = 4 * TEST_N;
	node->commits = calloc(TEST_COMMITS_MAX, sizeof(*node->commits));
	cr_assert_not_null(node->commits);
	journal_init(&node->journal);
}

static void node_fini(struct test_node *node)
{
	faii_dag_close(node->dag);
	node->dag = NULL;
	journal_fini(&node->journal);
	free(node->commits);
}

static struct faii_dag_stats node_stats(const struct test_node *node)
{
	struct faii_dag_stats stats;
	faii_dag_get_stats(node->dag, &stats);
	return stats;
}

static void deliver(struct test_node *node, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	faii_dag_on_message(node->dag, from, bytes, len);
}

static void tick_after(struct test_node *node, uint64_t ns)
{
	test_now_ns += ns;
	faii_dag_on_tick(node->dag, test_now_ns);
}

/* ---- the peers' messages, from the real encoders ------------------------ */

struct test_vertex_spec {
	uint64_t epoch;
	uint64_t round;
	uint32_t author;
	uint32_t signer;        /* whose key signs (author: honest) */
	uint64_t parent_mask;   /* digests from test_digests[round - 1] */
	uint8_t tag;            /* the one 8-byte filler transaction's bytes */
	const uint8_t *payload; /* instead of the filler transaction */
	uint32_t payload_bytes;
	uint32_t tx_count;
};

static struct test_vertex_spec honest(uint64_t round, uint32_t author, uint8_t tag)
{
	return (struct test_vertex_spec){.epoch = TEST_EPOCH,
	                                 .round = round,
	                                 .author = author,
	                                 .signer = author,
	                                 .parent_mask = round > 1 ? TEST_ALL_AUTHORS : 0,
	                                 .tag = tag};
}

static uint32_t make_vertex(const struct test_vertex_spec *spec, uint8_t *out,
                            uint8_t digest[FAII_DAG_DIGEST_BYTES])
{
	uint8_t filler[4 + 8];
	faii_put_le32(filler, 8);
	memset(filler + 4, spec->tag, 8);
	uint8_t parents[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	memset(parents, 0xab, sizeof(parents));
	if (spec->round >= 2 && spec->round - 1 < TEST_ROUNDS_MAX)
		memcpy(parents, test_digests[spec->round - 1], sizeof(test_digests[0]));
	struct dag_vertex_draft draft = {
	        .epoch = spec->epoch,
	        .round = spec->round,
	        .author = spec->author,
	        .parent_mask = spec->parent_mask,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parents,
	        .payload = spec->payload != NULL ? spec->payload : filler,
	        .payload_bytes = spec->payload != NULL ? spec->payload_bytes : sizeof(filler),
	        .tx_count = spec->payload != NULL ? spec->tx_count : 1,
	};
	uint8_t ignored[FAII_DAG_DIGEST_BYTES];
	return dag_wire_encode_vertex(&draft, test_secret[spec->signer], out,
	                              digest != NULL ? digest : ignored);
}

static void vote_signature(uint64_t round, uint32_t author, uint32_t signer, const uint8_t *digest,
                           uint8_t signature[FAII_DAG_SIGNATURE_BYTES])
{
	uint8_t vote[DAG_VOTE_BYTES];
	dag_wire_encode_vote(TEST_EPOCH, round, author, signer, digest, test_secret[signer], vote);
	memcpy(signature, vote + DAG_VOTE_BYTES - FAII_DAG_SIGNATURE_BYTES,
	       FAII_DAG_SIGNATURE_BYTES);
}

/* A certificate signed by the validators in `signers` (< TEST_N). */
static uint32_t make_certificate(uint64_t round, uint32_t author, const uint8_t *digest,
                                 uint64_t signers, uint8_t *out)
{
	static uint8_t signatures[FAII_VALIDATORS_MAX][FAII_DAG_SIGNATURE_BYTES];
	for (uint32_t signer = 0; signer < TEST_N; signer++)
		if (signers & (1ull << signer))
			vote_signature(round, author, signer, digest, signatures[signer]);
	return dag_wire_encode_certificate(TEST_EPOCH, round, author, digest, signers,
	                                   (const uint8_t(*)[FAII_DAG_SIGNATURE_BYTES])signatures,
	                                   out);
}

/* ---- reading what the core sent ----------------------------------------- */

/* The core's own vertex of `round`, from the wire: its digest. */
static bool own_vertex(const struct test_node *node, uint64_t round, uint8_t *digest)
{
	for (uint32_t i = node->wire->count; i-- > 0;) {
		const struct test_sent *sent = &node->wire->sent[i];
		struct dag_vertex vertex;
		uint64_t epoch;
		if (sent->from != node->self ||
		    dag_wire_type(sent->bytes, sent->len, &epoch) != DAG_MESSAGE_VERTEX ||
		    dag_wire_decode_vertex(sent->bytes, sent->len, TEST_N, 3, &vertex) !=
		            DAG_WIRE_OK ||
		    vertex.round != round || vertex.author != node->self)
			continue;
		memcpy(digest, vertex.digest, FAII_DAG_DIGEST_BYTES);
		return true;
	}
	return false;
}

/* Votes the core sent since wire index `since` for (round, author), for
 * `digest` (NULL: any digest). */
static uint32_t votes_for(const struct test_node *node, uint32_t since, uint64_t round,
                          uint32_t author, const uint8_t *digest, const struct test_sent **last)
{
	uint32_t count = 0;
	for (uint32_t i = since; i < node->wire->count; i++) {
		const struct test_sent *sent = &node->wire->sent[i];
		struct dag_vote vote;
		uint64_t epoch;
		if (sent->from != node->self ||
		    dag_wire_type(sent->bytes, sent->len, &epoch) != DAG_MESSAGE_VOTE ||
		    dag_wire_decode_vote(sent->bytes, sent->len, TEST_N, &vote) != DAG_WIRE_OK ||
		    vote.round != round || vote.author != author)
			continue;
		cr_assert_eq(sent->to, author, "a vote goes to the vertex's author");
		if (digest != NULL && memcmp(vote.digest, digest, FAII_DAG_DIGEST_BYTES) != 0)
			continue;
		count++;
		if (last != NULL)
			*last = sent;
	}
	return count;
}

static uint32_t votes_sent(const struct test_node *node, uint32_t since, uint64_t round,
                           uint32_t author, const struct test_sent **last)
{
	return votes_for(node, since, round, author, NULL, last);
}

/*
 * The peers' part of one round: their vertices (referencing all of the
 * round before), votes from 1 and 2 for the core's vertex, certificates
 * for theirs; then time passes and the core proposes the next round.
 */
static void peers_round(struct test_node *node, uint64_t round)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	for (uint32_t author = 1; author < TEST_N; author++) {
		struct test_vertex_spec spec = honest(round, author, (uint8_t)(round * 4 + author));
		uint32_t len = make_vertex(&spec, message, test_digests[round][author]);
		deliver(node, author, message, len);
	}
	for (uint32_t voter = 1; voter <= 2; voter++) {
		uint32_t len = dag_wire_encode_vote(TEST_EPOCH, round, node->self, voter,
		                                    test_digests[round][node->self],
		                                    test_secret[voter], message);
		deliver(node, voter, message, len);
	}
	for (uint32_t author = 1; author < TEST_N; author++) {
		uint32_t len = make_certificate(round, author, test_digests[round][author],
		                                TEST_PEER_SIGNERS, message);
		deliver(node, author, message, len);
	}
}

static void drive_round(struct test_node *node, uint64_t round)
{
	cr_assert(own_vertex(node, round, test_digests[round][node->self]),
	          "the core did not propose round %lu", (unsigned long)round);
	peers_round(node, round);
	tick_after(node, TEST_ROUND_WAIT_NS);
}

static void drive_rounds(struct test_node *node, uint64_t last_round)
{
	for (uint64_t round = 1; round <= last_round; round++)
		drive_round(node, round);
}

/* ---- refusals ----------------------------------------------------------- */

static bool test_covered[FAII_DAG_REFUSAL_COUNT];

/* Delivers a message that must be refused for `reason` and nothing else. */
static void expect_refusal(struct test_node *node, uint32_t from, const uint8_t *bytes,
                           uint32_t len, enum faii_dag_refusal reason, const char *what)
{
	struct faii_dag_stats before = node_stats(node);
	deliver(node, from, bytes, len);
	struct faii_dag_stats after = node_stats(node);
	for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
		cr_assert_eq(after.refused[i], before.refused[i] + (i == (int)reason),
		             "%s: %s counted %lu -> %lu, expected %s", what,
		             faii_dag_refusal_name((enum faii_dag_refusal)i),
		             (unsigned long)before.refused[i], (unsigned long)after.refused[i],
		             faii_dag_refusal_name(reason));
	test_covered[reason] = true;
}

static void refuse_vertex(struct test_node *node, struct test_vertex_spec spec,
                          enum faii_dag_refusal reason, const char *what)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	uint32_t len = make_vertex(&spec, message, NULL);
	expect_refusal(node, spec.author < TEST_N ? spec.author : 1, message, len, reason, what);
}

/* Framing, epoch and membership. */
static void refusals_of_form(struct test_node *node)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	const uint8_t garbage[3] = {1, 2, 3};
	expect_refusal(node, 1, garbage, sizeof(garbage), FAII_DAG_REFUSED_MALFORMED, "3 bytes");
	struct test_vertex_spec spec = honest(3, 2, 9);
	uint32_t len = make_vertex(&spec, message, NULL);
	message[0] ^= 0xff;
	expect_refusal(node, 2, message, len, FAII_DAG_REFUSED_MALFORMED, "bad magic");
	message[0] ^= 0xff;
	expect_refusal(node, 2, message, len - 1, FAII_DAG_REFUSED_MALFORMED, "a vertex cut short");
	len = dag_wire_encode_fetch(TEST_EPOCH, 1, 1, TEST_ALL_AUTHORS, message);
	faii_put_le32(message + DAG_WIRE_HEADER_BYTES + 8, 0);
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_MALFORMED, "fetch of 0 rounds");
	len = dag_wire_encode_vote(TEST_EPOCH, 2, 0, 1, test_digests[1][0], test_secret[1],
	                           message);
	expect_refusal(node, 1, message, len + 1, FAII_DAG_REFUSED_MALFORMED, "a long vote");

	spec.epoch = TEST_EPOCH + 1;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_WRONG_EPOCH, "another epoch");
	spec = honest(3, 2, 9);
	spec.author = TEST_N; /* signed by 2, claims validator 4 */
	spec.signer = 2;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_NOT_MEMBER, "author outside the committee");
	len = dag_wire_encode_vote(TEST_EPOCH, 3, 0, TEST_N + 3, test_digests[1][0], test_secret[1],
	                           message);
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_NOT_MEMBER, "voter outside");
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	memset(digest, 0x55, sizeof(digest));
	len = make_certificate(3, 1, digest, TEST_PEER_SIGNERS, message);
	faii_put_le64(message + DAG_WIRE_HEADER_BYTES + 16, TEST_PEER_SIGNERS | (1ull << 9));
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_MALFORMED,
	               "signer mask and length disagree");
	len = make_certificate(3, 1, digest, TEST_PEER_SIGNERS | (1ull << 9), message);
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_NOT_MEMBER, "signer outside");
	len = dag_wire_encode_fetch(TEST_EPOCH, 1, 1, TEST_ALL_AUTHORS, message);
	expect_refusal(node, TEST_SELF, message, len, FAII_DAG_REFUSED_NOT_MEMBER,
	               "a fetch from the validator itself");
}

/* Signatures of vertices, votes and certificates. */
static void refusals_of_signature(struct test_node *node)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	struct test_vertex_spec spec = honest(3, 3, 9);
	spec.signer = 2;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_SIGNATURE, "a vertex signed by another");
	uint8_t own[FAII_DAG_DIGEST_BYTES];
	cr_assert(own_vertex(node, 3, own));
	uint32_t len =
	        dag_wire_encode_vote(TEST_EPOCH, 3, TEST_SELF, 3, own, test_secret[2], message);
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_BAD_SIGNATURE,
	               "a vote signed by another");
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	memset(digest, 0x55, sizeof(digest));
	len = make_certificate(3, 1, digest, TEST_PEER_SIGNERS, message);
	message[len - 1] ^= 0x01;
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_BAD_SIGNATURE,
	               "a certificate with a forged signature");
	len = make_certificate(3, 3, test_digests[2][3], 0x6, message);
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_BAD_SIGNATURE,
	               "a certificate of 2 < 2f + 1 signers");
}

/* Rounds, parents and payloads. */
static void refusals_of_content(struct test_node *node)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	refuse_vertex(node, honest(TEST_ROUNDS_MAX + 5, 2, 9), FAII_DAG_REFUSED_OUTSIDE_WINDOW,
	              "a vertex beyond the window");
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	memset(digest, 0x77, sizeof(digest));
	uint32_t len = make_certificate(TEST_ROUNDS_MAX + 5, 2, digest, TEST_PEER_SIGNERS, message);
	expect_refusal(node, 2, message, len, FAII_DAG_REFUSED_OUTSIDE_WINDOW,
	               "a certificate beyond the window");

	struct test_vertex_spec spec = honest(3, 2, 9);
	spec.parent_mask = 0x3;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_PARENTS, "2 < 2f + 1 parents");
	spec = honest(1, 2, 9);
	spec.parent_mask = 0x7;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_PARENTS, "parents in round 1");
	spec = honest(3, 2, 9);
	spec.parent_mask = TEST_ALL_AUTHORS | (1ull << 20);
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_PARENTS, "a parent outside the committee");

	spec = honest(3, 2, 9);
	len = make_vertex(&spec, message, NULL);
	message[len - 1] ^= 0x10; /* the filler transaction's last byte */
	expect_refusal(node, 2, message, len, FAII_DAG_REFUSED_PAYLOAD_DIGEST,
	               "a batch that is not the signed one");

	uint8_t payload[16];
	memset(payload, 0x11, sizeof(payload));
	faii_put_le32(payload, 0);
	spec = honest(3, 2, 9);
	spec.payload = payload;
	spec.payload_bytes = 4;
	spec.tx_count = 1;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_TRANSACTION, "an empty transaction");
	faii_put_le32(payload, 13);
	spec.payload_bytes = sizeof(payload);
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_TRANSACTION, "a transaction cut short");
	faii_put_le32(payload, 12);
	spec.tx_count = 2;
	refuse_vertex(node, spec, FAII_DAG_REFUSED_BAD_TRANSACTION, "fewer transactions than said");
}

/* Conflicts, stale votes and the catch-up budget. */
static void refusals_of_state(struct test_node *node)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	refuse_vertex(node, honest(2, 1, 0xee), FAII_DAG_REFUSED_EQUIVOCATION,
	              "a second vertex for round 2 from validator 1");
	uint32_t len = dag_wire_encode_vote(TEST_EPOCH, 3, 2, 1, test_digests[2][2], test_secret[1],
	                                    message);
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_STALE_VOTE,
	               "a vote for another author's vertex");
	len = dag_wire_encode_vote(TEST_EPOCH, 3, TEST_SELF, 1, test_digests[2][2], test_secret[1],
	                           message);
	expect_refusal(node, 1, message, len, FAII_DAG_REFUSED_STALE_VOTE,
	               "a vote for a digest the core did not propose");
	len = dag_wire_encode_vote(TEST_EPOCH, 2, TEST_SELF, 3, test_digests[2][TEST_SELF],
	                           test_secret[3], message);
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_STALE_VOTE,
	               "a vote for an earlier round");

	/* Round 1 holds 4 certified vertices; the budget is 2 per tick. */
	tick_after(node, TEST_STEP_NS);
	struct faii_dag_stats before = node_stats(node);
	uint32_t sent_before = node->wire->count;
	len = dag_wire_encode_fetch(TEST_EPOCH, 1, 1, TEST_ALL_AUTHORS, message);
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_FETCH_BUDGET,
	               "a fetch for more than the budget");
	cr_assert_eq(node_stats(node).fetch_vertices_served,
	             before.fetch_vertices_served + TEST_FETCH_REPLIES);
	cr_assert_eq(node->wire->count - sent_before, 2 * TEST_FETCH_REPLIES,
	             "each served vertex comes with its certificate");
	expect_refusal(node, 3, message, len, FAII_DAG_REFUSED_FETCH_BUDGET,
	               "a fetch with the budget spent");
	cr_assert_eq(node->wire->count - sent_before, 2 * TEST_FETCH_REPLIES);
}

Test(dag_core, every_refusal_reason_is_counted, .init = test_setup)
{
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node.fetch_replies_per_tick = TEST_FETCH_REPLIES;
	node_open(&node, 0);
	drive_rounds(&node, 2); /* rounds 1 and 2 certified; the core proposed round 3 */
	refusals_of_form(&node);
	refusals_of_signature(&node);
	refusals_of_content(&node);
	refusals_of_state(&node);
	for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
		cr_assert(test_covered[i], "no test produces refusal '%s'",
		          faii_dag_refusal_name((enum faii_dag_refusal)i));
	/* None of it disturbed the round: the core still certifies round 3. */
	drive_round(&node, 3);
	cr_assert_eq(node_stats(&node).round, 4);
	cr_assert_eq(node_stats(&node).certificates_accepted, 12);
	cr_assert_str_eq(faii_dag_refusal_name(FAII_DAG_REFUSAL_COUNT), "unknown");
	node_fini(&node);
	wire_fini(&wire);
}

/* ---- one vote per (author, round), and equivocation proofs -------------- */

static const struct test_record *only_evidence(const struct test_node *node)
{
	cr_assert_eq(journal_count(&node->journal, FAII_DAG_RECORD_EVIDENCE), 1);
	return journal_find(&node->journal, FAII_DAG_RECORD_EVIDENCE, NULL, 0);
}

/* The record holds both signed headers, each cut before its batch. */
static void check_proof(const struct test_record *proof, const uint8_t *first,
                        const uint8_t *second)
{
	uint64_t epoch = 0, round = 0;
	uint32_t author = UINT32_MAX;
	cr_assert_eq(
	        faii_dag_evidence_verify(proof->bytes, proof->len, TEST_N,
	                                 (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])test_public,
	                                 &epoch, &round, &author),
	        0);
	cr_assert(epoch == TEST_EPOCH && round == 1 && author == 1);
	uint32_t cut = dag_vertex_payload_offset(0);
	cr_assert_eq(proof->len, 8 + 2 * cut);
	cr_assert_eq(faii_get_le32(proof->bytes), cut);
	cr_assert_arr_eq(proof->bytes + 4, first, cut);
	cr_assert_eq(faii_get_le32(proof->bytes + 4 + cut), cut);
	cr_assert_arr_eq(proof->bytes + 8 + cut, second, cut);
}

Test(dag_core, one_vote_per_author_and_round, .init = test_setup)
{
	static uint8_t first[TEST_MESSAGE_MAX], second[TEST_MESSAGE_MAX], vote[DAG_VOTE_BYTES];
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node_open(&node, 0);
	struct test_vertex_spec spec = honest(1, 1, 0x0a);
	uint32_t first_len = make_vertex(&spec, first, NULL);
	spec.tag = 0x0b;
	uint32_t second_len = make_vertex(&spec, second, NULL);

	uint32_t mark = wire.count;
	const struct test_sent *sent = NULL;
	deliver(&node, 1, first, first_len);
	cr_assert_eq(votes_sent(&node, mark, 1, 1, &sent), 1, "a fresh vertex gets a vote");
	memcpy(vote, sent->bytes, DAG_VOTE_BYTES);

	mark = wire.count;
	deliver(&node, 1, second, second_len);
	cr_assert_eq(votes_sent(&node, mark, 1, 1, NULL), 0, "a second vertex gets no vote");
	struct faii_dag_stats stats = node_stats(&node);
	cr_assert_eq(stats.refused[FAII_DAG_REFUSED_EQUIVOCATION], 1);
	cr_assert_eq(stats.equivocations, 1);
	check_proof(only_evidence(&node), first, second);

	mark = wire.count;
	deliver(&node, 1, first, first_len);
	cr_assert_eq(votes_sent(&node, mark, 1, 1, &sent), 1, "the same vertex: the vote again");
	cr_assert_arr_eq(sent->bytes, vote, DAG_VOTE_BYTES, "the same vote, byte for byte");

	mark = wire.count;
	deliver(&node, 1, second, second_len);
	cr_assert_eq(votes_sent(&node, mark, 1, 1, NULL), 0);
	cr_assert_eq(node_stats(&node).refused[FAII_DAG_REFUSED_EQUIVOCATION], 2);
	cr_assert_eq(node_stats(&node).equivocations, 1, "one proof per slot");
	only_evidence(&node);
	cr_assert_gt(node.checked_votes, 0);
	node_fini(&node);
	wire_fini(&wire);
}

/* A round-2 vertex signed with the core's own key that the core did not
 * propose, from peer 1: refused (only its certified copy may enter). */
static uint32_t deliver_forged_round_2(struct test_node *node, uint8_t *forged)
{
	struct test_vertex_spec spec = honest(2, TEST_SELF, 0xf0);
	uint32_t len = make_vertex(&spec, forged, test_digests[2][TEST_SELF]);
	deliver(node, 1, forged, len);
	cr_assert_eq(node_stats(node).refused[FAII_DAG_REFUSED_EQUIVOCATION], 1);
	return len;
}

/* A vertex signed with the core's own key that the core does not hold (its
 * journal was restored from an old backup, or its key signs elsewhere): the
 * core must not sign that round itself, and only the certified copy counts. */
Test(dag_core, a_vertex_signed_with_its_own_key_is_not_signed_again, .init = test_setup)
{
	static uint8_t message[TEST_MESSAGE_MAX], forged[TEST_MESSAGE_MAX];
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node_open(&node, 0);
	cr_assert(own_vertex(&node, 1, test_digests[1][TEST_SELF]));
	peers_round(&node, 1); /* round 1 complete; the core proposes round 2 at its next tick */
	uint32_t forged_len = deliver_forged_round_2(&node, forged);
	tick_after(&node, TEST_ROUND_WAIT_NS);
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	cr_assert(!own_vertex(&node, 2, digest), "the core signed a second vertex for round 2");
	cr_assert_eq(node_stats(&node).round, 1);
	cr_assert_eq(node_stats(&node).certificates_accepted, 4, "its round-1 vertex certified");

	/* The certified copy is the core's vertex of round 2; it proposes round 3. */
	uint32_t len = make_certificate(2, TEST_SELF, test_digests[2][TEST_SELF], TEST_PEER_SIGNERS,
	                                message);
	deliver(&node, 1, message, len);
	deliver(&node, 1, forged, forged_len);
	cr_assert_eq(node_stats(&node).certificates_accepted, 5);
	peers_round(&node, 2);
	tick_after(&node, TEST_ROUND_WAIT_NS);
	cr_assert(!own_vertex(&node, 2, digest));
	cr_assert(own_vertex(&node, 3, digest));
	cr_assert_eq(node_stats(&node).round, 3);
	node_fini(&node);
	wire_fini(&wire);
}

/* ---- persistence before action ------------------------------------------ */

Test(dag_core, a_journal_that_cannot_sync_stops_everything, .init = test_setup)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node.journal.fail_at = 1;
	node_open(&node, 0); /* the tick proposes round 1: its record does not sync */
	cr_assert(node_stats(&node).failed);
	for (uint32_t author = 1; author < TEST_N; author++) {
		struct test_vertex_spec spec = honest(1, author, (uint8_t)author);
		uint32_t len = make_vertex(&spec, message, test_digests[1][author]);
		deliver(&node, author, message, len);
		len = make_certificate(1, author, test_digests[1][author], TEST_PEER_SIGNERS,
		                       message);
		deliver(&node, author, message, len);
	}
	for (int i = 0; i < 100; i++)
		tick_after(&node, TEST_RETRANSMIT_NS);
	cr_assert_eq(faii_dag_submit(node.dag, (const uint8_t *)"tx", 2), -EIO);
	cr_assert_eq(wire.count, 0, "a validator whose journal failed sends nothing");
	cr_assert_eq(node.commit_count, 0);
	struct faii_dag_stats stats = node_stats(&node);
	cr_assert(stats.failed);
	cr_assert_eq(stats.votes_sent + stats.certificates_accepted, 0);
	node_fini(&node);
	wire_fini(&wire);
}

/* ---- restart ------------------------------------------------------------ */

struct test_before_restart {
	struct faii_dag_stats stats;
	struct test_commit commits[64];
	uint32_t commit_count;
	uint8_t own_digest[FAII_DAG_DIGEST_BYTES];
	uint8_t vote[DAG_VOTE_BYTES];                 /* for validator 1's vertex */
	uint8_t votes[TEST_N][FAII_DAG_DIGEST_BYTES]; /* the digests voted for */
};

/* Rounds 1..5 certified (anchors 2 and 4 committed), round 6 proposed, and
 * the round-6 vertices of validators 1 and 2 voted for, not certified. */
static void before_restart(struct test_node *node, struct test_before_restart *before)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	drive_rounds(node, 5);
	for (uint32_t author = 1; author <= 2; author++) {
		uint32_t mark = node->wire->count;
		const struct test_sent *sent = NULL;
		struct test_vertex_spec spec = honest(6, author, (uint8_t)(6 * 4 + author));
		uint32_t len = make_vertex(&spec, message, NULL);
		deliver(node, author, message, len);
		cr_assert_eq(votes_sent(node, mark, 6, author, &sent), 1);
		if (author == 1)
			memcpy(before->vote, sent->bytes, DAG_VOTE_BYTES);
		memcpy(before->votes[author], sent->bytes + DAG_WIRE_HEADER_BYTES + 16,
		       FAII_DAG_DIGEST_BYTES);
	}
	before->stats = node_stats(node);
	cr_assert_eq(before->stats.round, 6);
	cr_assert_eq(before->stats.last_committed_anchor, 4);
	cr_assert(node->commit_count > 5 && node->commit_count <= 64);
	before->commit_count = node->commit_count;
	memcpy(before->commits, node->commits, node->commit_count * sizeof(*node->commits));
	cr_assert(own_vertex(node, 6, before->own_digest));
}

static void check_same_state(const struct faii_dag_stats *before,
                             const struct faii_dag_stats *after)
{
	cr_assert_eq(after->round, before->round, "the proposed round comes back");
	cr_assert_eq(after->round_inserted, before->round_inserted);
	cr_assert_eq(after->certificates_accepted, before->certificates_accepted);
	cr_assert_eq(after->last_committed_anchor, before->last_committed_anchor);
	cr_assert_eq(after->committed_vertices, before->committed_vertices);
}

static void reopen(struct test_node *node, uint64_t applied)
{
	faii_dag_close(node->dag);
	journal_crash(&node->journal);
	node->commit_count = 0;
	node_open(node, applied);
}

/* The same, with a crash between the note and the next proposal: the note
 * is journaled, so the restarted core still never signs round 2. */
Test(dag_core, a_vertex_signed_with_its_own_key_is_remembered_across_a_restart, .init = test_setup)
{
	static uint8_t forged[TEST_MESSAGE_MAX];
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node_open(&node, 0);
	cr_assert(own_vertex(&node, 1, test_digests[1][TEST_SELF]));
	deliver_forged_round_2(&node, forged);
	reopen(&node, 0);      /* what was not synced is lost */
	peers_round(&node, 1); /* round 1 complete: the core may propose again */
	tick_after(&node, TEST_ROUND_WAIT_NS);
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	cr_assert(!own_vertex(&node, 2, digest),
	          "after a restart the core signed round 2, which its key signed elsewhere");
	cr_assert_eq(node_stats(&node).round, 1);
	node_fini(&node);
	wire_fini(&wire);
}

Test(dag_core, restart_recovers_round_votes_dag_and_commits, .init = test_setup)
{
	static uint8_t message[TEST_MESSAGE_MAX];
	static struct test_before_restart before;
	struct test_wire wire;
	struct test_node node;
	wire_init(&wire);
	node_init(&node, TEST_SELF, &wire);
	node_open(&node, 0);
	before_restart(&node, &before);

	const uint64_t applied = 3;
	uint32_t mark = wire.count;
	reopen(&node, applied);
	struct faii_dag_stats after = node_stats(&node);
	check_same_state(&before.stats, &after);
	cr_assert_eq(node.commit_count, before.commit_count - applied,
	             "only the commits after consumer_applied are output again");
	for (uint32_t i = 0; i < node.commit_count; i++)
		cr_assert(memcmp(&node.commits[i], &before.commits[applied + i],
		                 sizeof(node.commits[i])) == 0,
		          "commit %u differs after the restart", i);
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	cr_assert(own_vertex(&node, 6, digest), "the own round-6 vertex is retransmitted");
	cr_assert_arr_eq(digest, before.own_digest, FAII_DAG_DIGEST_BYTES,
	                 "and it is the same vertex");
	cr_assert_eq(votes_sent(&node, mark, 6, 1, NULL), 0);

	/* Validator 1's vertex again: the same vote. Validator 2's, changed: none. */
	const struct test_sent *sent = NULL;
	struct test_vertex_spec spec = honest(6, 1, 6 * 4 + 1);
	uint32_t len = make_vertex(&spec, message, NULL);
	deliver(&node, 1, message, len);
	cr_assert_eq(votes_sent(&node, mark, 6, 1, &sent), 1, "a vertex voted before: the vote");
	cr_assert_arr_eq(sent->bytes, before.vote, DAG_VOTE_BYTES);
	spec = honest(6, 2, 0xee);
	uint8_t conflicting[FAII_DAG_DIGEST_BYTES];
	len = make_vertex(&spec, message, conflicting);
	deliver(&node, 2, message, len);
	deliver(&node, 2, message, len);
	cr_assert_eq(votes_for(&node, mark, 6, 2, conflicting, NULL), 0,
	             "a conflicting vertex: no vote for it");
	cr_assert_eq(votes_for(&node, mark, 6, 2, before.votes[2], NULL),
	             votes_sent(&node, mark, 6, 2, NULL), "at most the first vote again");

	/* It carries on: two votes certify its round-6 vertex. */
	for (uint32_t voter = 1; voter <= 2; voter++) {
		len = dag_wire_encode_vote(TEST_EPOCH, 6, TEST_SELF, voter, before.own_digest,
		                           test_secret[voter], message);
		deliver(&node, voter, message, len);
	}
	cr_assert_eq(node_stats(&node).certificates_formed, 1);

	reopen(&node, before.commit_count);
	cr_assert_eq(node.commit_count, 0, "everything applied: nothing output again");
	node_fini(&node);
	wire_fini(&wire);
}

/* ---- four cores delivering to each other -------------------------------- */

struct test_cluster {
	struct test_wire wire;
	struct test_node nodes[TEST_N];
	uint32_t step;
	/* Steps [silent_from, silent_until): what silent_node sends is lost. */
	uint32_t silent_node, silent_from, silent_until;
};

static void cluster_open(struct test_cluster *cluster, uint32_t fail_node, uint32_t fail_at)
{
	wire_init(&cluster->wire);
	cluster->step = 0;
	for (uint32_t i = 0; i < TEST_N; i++) {
		node_init(&cluster->nodes[i], i, &cluster->wire);
		if (i == fail_node)
			cluster->nodes[i].journal.fail_at = fail_at;
		node_open(&cluster->nodes[i], 0);
	}
}

static void cluster_close(struct test_cluster *cluster)
{
	for (uint32_t i = 0; i < TEST_N; i++)
		node_fini(&cluster->nodes[i]);
	wire_fini(&cluster->wire);
}

/* Every node's clients submit one transaction every 5 steps, 40 in all. */
static void cluster_submit(struct test_cluster *cluster)
{
	if (cluster->step % 5 != 0 || cluster->step / 5 >= TEST_TXS_PER_NODE)
		return;
	uint32_t index = cluster->step / 5;
	for (uint32_t i = 0; i < TEST_N; i++) {
		uint8_t tx[TEST_TX_BYTES];
		memset(tx, 0x5c, sizeof(tx));
		faii_put_le32(tx, i);
		faii_put_le32(tx + 4, index);
		int rc = faii_dag_submit(cluster->nodes[i].dag, tx, sizeof(tx));
		cr_assert(rc == 0 || (rc == -EIO && cluster->nodes[i].journal.failed));
	}
}

/* One millisecond: every message in flight is delivered (and what that
 * sends, in order), then every core ticks. */
static void cluster_step(struct test_cluster *cluster)
{
	struct test_wire *wire = &cluster->wire;
	while (wire->delivered < wire->count) {
		const struct test_sent *sent = &wire->sent[wire->delivered++];
		if (sent->from == cluster->silent_node && cluster->step >= cluster->silent_from &&
		    cluster->step < cluster->silent_until)
			continue;
		deliver(&cluster->nodes[sent->to], sent->from, sent->bytes, sent->len);
	}
	wire_reset(wire);
	cluster_submit(cluster);
	test_now_ns += TEST_STEP_NS;
	for (uint32_t i = 0; i < TEST_N; i++)
		faii_dag_on_tick(cluster->nodes[i].dag, test_now_ns);
	cluster->step++;
}

/* Has every live node committed every transaction of every live node? */
static bool cluster_done(const struct test_cluster *cluster)
{
	for (uint32_t i = 0; i < TEST_N; i++) {
		if (cluster->nodes[i].journal.failed)
			continue;
		for (uint32_t origin = 0; origin < TEST_N; origin++)
			for (uint32_t k = 0;
			     k < TEST_TXS_PER_NODE && !cluster->nodes[origin].journal.failed; k++)
				if (!cluster->nodes[i].tx_seen[origin][k])
					return false;
	}
	return true;
}

static void cluster_run(struct test_cluster *cluster)
{
	while (!cluster_done(cluster)) {
		cr_assert_lt(cluster->step, TEST_CLUSTER_STEPS, "no convergence in %u ms",
		             TEST_CLUSTER_STEPS);
		cluster_step(cluster);
	}
}

/* Every output sequence is a prefix of the longest one. */
static void check_one_sequence(const struct test_cluster *cluster)
{
	const struct test_node *longest = &cluster->nodes[0];
	for (uint32_t i = 1; i < TEST_N; i++)
		if (cluster->nodes[i].commit_count > longest->commit_count)
			longest = &cluster->nodes[i];
	for (uint32_t i = 0; i < TEST_N; i++) {
		const struct test_node *node = &cluster->nodes[i];
		for (uint32_t k = 0; k < node->commit_count; k++)
			cr_assert(memcmp(&node->commits[k], &longest->commits[k],
			                 sizeof(node->commits[k])) == 0,
			          "validator %u's commit %u differs from validator %u's", i, k,
			          longest->self);
	}
}

Test(dag_core, four_cores_commit_one_sequence, .init = test_setup)
{
	static struct test_cluster cluster;
	cluster_open(&cluster, TEST_N, 0);
	cluster_run(&cluster);
	check_one_sequence(&cluster);
	for (uint32_t i = 0; i < TEST_N; i++) {
		const struct test_node *node = &cluster.nodes[i];
		struct faii_dag_stats stats = node_stats(node);
		cr_assert_eq(stats.committed_transactions, TEST_N * TEST_TXS_PER_NODE,
		             "validator %u committed %lu transactions", i,
		             (unsigned long)stats.committed_transactions);
		cr_assert(node->checked_votes > 0 && node->checked_vertices > 0 &&
		          node->checked_certificates > 0);
		cr_assert_eq(stats.refused[FAII_DAG_REFUSED_EQUIVOCATION], 0);
	}
	cluster_close(&cluster);
}

/*
 * Validator 3 is cut off for 60 ms while its clients keep submitting: the
 * vertices it proposes then reach nobody (or arrive too late for anyone to
 * reference them), so no anchor's history ever holds them. When they leave
 * its window uncommitted, their transactions go back to its queue and
 * commit in later vertices: every submitted transaction is committed.
 * (Before that, they were lost and the cluster never converged.)
 */
Test(dag_core, an_orphaned_vertex_has_its_transactions_proposed_again, .init = test_setup)
{
	static struct test_cluster cluster;
	cluster_open(&cluster, TEST_N, 0);
	cluster.silent_node = 3, cluster.silent_from = 20, cluster.silent_until = 80;
	cluster_run(&cluster);
	check_one_sequence(&cluster);
	struct faii_dag_stats stats = node_stats(&cluster.nodes[3]);
	cr_assert_gt(stats.orphaned_vertices, 0);
	cr_assert_gt(stats.requeued_transactions, 0);
	cr_assert_eq(stats.requeue_dropped, 0);
	cluster_close(&cluster);
}

/* Validator 0's journal fails mid-run: from that sync on it sends and
 * outputs nothing (test_send and test_on_commit assert it); the other
 * three, 2f + 1, carry on and commit everything they were given. */
Test(dag_core, a_journal_failing_mid_run_stops_its_validator, .init = test_setup)
{
	static struct test_cluster cluster;
	const uint32_t fail_at = 40;
	cluster_open(&cluster, 0, fail_at);
	cluster_run(&cluster);
	check_one_sequence(&cluster);
	const struct test_node *failed = &cluster.nodes[0];
	cr_assert(failed->journal.failed && node_stats(failed).failed);
	cr_assert_eq(failed->journal.syncs, fail_at - 1);
	cr_assert_gt(failed->commit_count, 0, "it had output commits before it failed");
	cr_assert_lt(failed->commit_count, cluster.nodes[1].commit_count);
	cluster_close(&cluster);
}

/* ---- equivocation proofs, offline --------------------------------------- */

/* A proof as the core records it: both vertices cut before their batches. */
static uint32_t make_proof(const uint8_t *first, const uint8_t *second, uint8_t *out)
{
	uint32_t first_cut =
	        dag_vertex_payload_offset(faii_get_le64(first + DAG_WIRE_HEADER_BYTES + 20));
	uint32_t second_cut =
	        dag_vertex_payload_offset(faii_get_le64(second + DAG_WIRE_HEADER_BYTES + 20));
	faii_put_le32(out, first_cut);
	memcpy(out + 4, first, first_cut);
	faii_put_le32(out + 4 + first_cut, second_cut);
	memcpy(out + 8 + first_cut, second, second_cut);
	return 8 + first_cut + second_cut;
}

static int verify(const uint8_t *proof, uint32_t len)
{
	return faii_dag_evidence_verify(proof, len, TEST_N,
	                                (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])test_public,
	                                NULL, NULL, NULL);
}

/* The proof of two vertices built from specs. */
static uint32_t proof_of(struct test_vertex_spec first, struct test_vertex_spec second,
                         uint8_t *out)
{
	static uint8_t a[TEST_MESSAGE_MAX], b[TEST_MESSAGE_MAX];
	make_vertex(&first, a, NULL);
	make_vertex(&second, b, NULL);
	return make_proof(a, b, out);
}

Test(dag_evidence, two_signed_vertices_for_one_slot_verify, .init = test_setup)
{
	static uint8_t proof[2 * TEST_MESSAGE_MAX];
	uint32_t len = proof_of(honest(3, 2, 1), honest(3, 2, 2), proof);
	uint64_t epoch = 0, round = 0;
	uint32_t author = 0;
	cr_assert_eq(
	        faii_dag_evidence_verify(proof, len, TEST_N,
	                                 (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])test_public,
	                                 &epoch, &round, &author),
	        0);
	cr_assert(epoch == TEST_EPOCH && round == 3 && author == 2);
	struct test_vertex_spec fewer_parents = honest(3, 2, 1);
	fewer_parents.parent_mask = 0x7; /* different parents, different header length */
	len = proof_of(fewer_parents, honest(3, 2, 1), proof);
	cr_assert_eq(verify(proof, len), 0);
	len = proof_of(honest(1, 3, 1), honest(1, 3, 2), proof);
	cr_assert_eq(verify(proof, len), 0);
}

Test(dag_evidence, forged_proofs_are_refused, .init = test_setup)
{
	static uint8_t proof[2 * TEST_MESSAGE_MAX];
	struct test_vertex_spec base = honest(3, 2, 1), other = honest(3, 2, 2);
	uint32_t len = proof_of(base, base, proof);
	cr_assert_eq(verify(proof, len), -EINVAL, "the same vertex twice");
	len = proof_of(base, honest(3, 1, 2), proof);
	cr_assert_eq(verify(proof, len), -EINVAL, "two authors");
	len = proof_of(base, honest(4, 2, 2), proof);
	cr_assert_eq(verify(proof, len), -EINVAL, "two rounds");
	struct test_vertex_spec later = other;
	later.epoch = TEST_EPOCH + 1;
	len = proof_of(base, later, proof);
	cr_assert_eq(verify(proof, len), -EINVAL, "two epochs");
	struct test_vertex_spec stolen = other;
	stolen.signer = 1; /* validator 1 framing validator 2 */
	len = proof_of(base, stolen, proof);
	cr_assert_eq(verify(proof, len), -EKEYREJECTED, "a signature by another key");

	len = proof_of(base, other, proof);
	cr_assert_eq(verify(proof, len), 0);
	for (uint32_t at = 4; at < len; at++) {
		if (at == 4 + faii_get_le32(proof) || at == 5 + faii_get_le32(proof) ||
		    at == 6 + faii_get_le32(proof) || at == 7 + faii_get_le32(proof))
			continue; /* the second length, below */
		proof[at] ^= 0x01;
		cr_assert_neq(verify(proof, len), 0, "byte %u changed", at);
		proof[at] ^= 0x01;
	}
	for (uint32_t cut = 0; cut < len; cut++)
		cr_assert_eq(verify(proof, cut), -EBADMSG, "cut at %u", cut);
	proof[len] = 0;
	cr_assert_eq(verify(proof, len + 1), -EBADMSG, "a byte too many");
	faii_put_le32(proof, faii_get_le32(proof) + 1);
	cr_assert_eq(verify(proof, len), -EBADMSG, "the first length off by one");
	faii_put_le32(proof, faii_get_le32(proof) - 1);
	cr_assert_eq(
	        faii_dag_evidence_verify(proof, len, 2,
	                                 (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])test_public,
	                                 NULL, NULL, NULL),
	        -EBADMSG, "an author outside a committee of 2");
	cr_assert_eq(
	        faii_dag_evidence_verify(proof, len, 0,
	                                 (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])test_public,
	                                 NULL, NULL, NULL),
	        -EINVAL);
	uint8_t swapped[FAII_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
	memcpy(swapped, test_public, sizeof(swapped));
	memcpy(swapped[2], test_public[1], FAII_DAG_PUBLIC_KEY_BYTES);
	cr_assert_eq(faii_dag_evidence_verify(proof, len, TEST_N,
	                                      (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])swapped,
	                                      NULL, NULL, NULL),
	             -EKEYREJECTED, "another validator's key");
}

Test(dag_evidence, whole_messages_and_other_types_are_not_proofs, .init = test_setup)
{
	static uint8_t a[TEST_MESSAGE_MAX], b[TEST_MESSAGE_MAX], proof[2 * TEST_MESSAGE_MAX];
	struct test_vertex_spec first = honest(3, 2, 1), second = honest(3, 2, 2);
	uint32_t a_len = make_vertex(&first, a, NULL), b_len = make_vertex(&second, b, NULL);
	faii_put_le32(proof, a_len); /* with their batches */
	memcpy(proof + 4, a, a_len);
	faii_put_le32(proof + 4 + a_len, b_len);
	memcpy(proof + 8 + a_len, b, b_len);
	cr_assert_eq(verify(proof, 8 + a_len + b_len), -EBADMSG);
	uint32_t vote_len =
	        dag_wire_encode_vote(TEST_EPOCH, 3, 2, 2, test_digests[0][0], test_secret[2], a);
	faii_put_le32(proof, vote_len);
	memcpy(proof + 4, a, vote_len);
	uint32_t cut = dag_vertex_payload_offset(TEST_ALL_AUTHORS);
	faii_put_le32(proof + 4 + vote_len, cut);
	memcpy(proof + 8 + vote_len, b, cut);
	cr_assert_eq(verify(proof, 8 + vote_len + cut), -EBADMSG, "a vote is not a vertex");
}
