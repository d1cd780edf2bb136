/* SPDX-License-Identifier: BSD-3-Clause */
/* The consensus validator under simulation: see sim_dag_core.h. */
#include "sim_dag_core.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "sim_prng.h"
#include "wire.h"

#define SIM_DAG_JOURNAL_MAGIC  0x4a47414446494146ull /* "FAIIFDAGJ" */
#define SIM_DAG_JOURNAL_HEADER 16u                   /* magic u64, used u64 */
#define SIM_DAG_RECORD_HEADER  16u                   /* len u32, type u8, pad 3, key u64 */
#define SIM_DAG_INDEX_SLOTS    (1u << 17)            /* certified records findable by key */
#define SIM_DAG_UNSYNCED_MAX   (4u << 20)            /* appended, not yet synced */
#define SIM_DAG_DURABLE_BYTES  (48u << 20)           /* per node */
#define SIM_DAG_PRNG_STREAM    0xda9u
#define SIM_DAG_BYZANTINE_PPM  300000u /* chance of each lie, per chance to lie */
#define SIM_DAG_FLOOD_PPM      20000u  /* chance of a burst of catch-up requests */
#define SIM_DAG_FAR_ROUNDS     100000u /* how far ahead a Byzantine flood reaches */

struct sim_dag_node {
	struct sim_dag *sim;
	uint32_t self;
	bool byzantine;
	struct faii_dag *dag;
	struct faii_transport tap; /* what the core sends through */
	struct faii_transport *net;
	const struct faii_clock *clock;
	struct faii_dag_journal journal;
	uint8_t *durable;
	size_t durable_bytes;
	uint8_t *unsynced;
	uint32_t unsynced_bytes;
	uint64_t *index_keys; /* open addressing: key + 1, 0 empty */
	uint64_t *index_offsets;
	uint64_t next_submit_ns;
	uint64_t resubmit_at_ns;
	uint32_t next_tx;
	void *app; /* the application's instance, when options.app */
	struct sim_prng prng;
	uint8_t scratch[FAII_TRANSPORT_MESSAGE_BYTES_MAX];
};

static void violate(struct sim_dag *sim, const char *format, ...)
{
	if (sim->violated)
		return;
	sim->violated = true;
	va_list args;
	va_start(args, format);
	vsnprintf(sim->violation, sizeof(sim->violation), format, args);
	va_end(args);
}

/* ---- the journal on the durable region ---- */

static int journal_append(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
                          const uint8_t *bytes, uint32_t len)
{
	struct sim_dag_node *node = journal->ctx;
	if (SIM_DAG_UNSYNCED_MAX - node->unsynced_bytes < SIM_DAG_RECORD_HEADER + len)
		return -ENOSPC;
	uint8_t *at = node->unsynced + node->unsynced_bytes;
	memset(at, 0, SIM_DAG_RECORD_HEADER);
	faii_put_le32(at, len);
	at[4] = type;
	faii_put_le64(at + 8, key);
	memcpy(at + SIM_DAG_RECORD_HEADER, bytes, len);
	node->unsynced_bytes += SIM_DAG_RECORD_HEADER + len;
	return 0;
}

/* Remembers where a durable certified record is (the newest wins). */
static void journal_index(struct sim_dag_node *node, const uint8_t *record, uint64_t offset)
{
	if (record[4] != FAII_DAG_RECORD_CERTIFIED)
		return;
	uint64_t key = faii_get_le64(record + 8);
	uint64_t slot = sim_hash_mix(0x1d, key) % SIM_DAG_INDEX_SLOTS;
	for (uint32_t probe = 0; probe < SIM_DAG_INDEX_SLOTS; probe++) {
		uint64_t i = (slot + probe) % SIM_DAG_INDEX_SLOTS;
		if (node->index_keys[i] == 0 || node->index_keys[i] == key + 1) {
			node->index_keys[i] = key + 1;
			node->index_offsets[i] = offset;
			return;
		}
	}
	violate(node->sim, "validator %u: the journal index is full", node->self);
}

static int journal_sync(struct faii_dag_journal *journal)
{
	struct sim_dag_node *node = journal->ctx;
	uint64_t used = faii_get_le64(node->durable + 8);
	if (node->durable_bytes - SIM_DAG_JOURNAL_HEADER - used < node->unsynced_bytes)
		return -ENOSPC;
	uint8_t *base = node->durable + SIM_DAG_JOURNAL_HEADER;
	memcpy(base + used, node->unsynced, node->unsynced_bytes);
	for (uint64_t offset = used; offset < used + node->unsynced_bytes;
	     offset += SIM_DAG_RECORD_HEADER + faii_get_le32(base + offset))
		journal_index(node, base + offset, offset);
	faii_put_le64(node->durable + 8, used + node->unsynced_bytes);
	node->unsynced_bytes = 0;
	return 0;
}

static int journal_replay(struct faii_dag_journal *journal, faii_dag_record_fn *record, void *arg)
{
	struct sim_dag_node *node = journal->ctx;
	if (faii_get_le64(node->durable) != SIM_DAG_JOURNAL_MAGIC) {
		faii_put_le64(node->durable, SIM_DAG_JOURNAL_MAGIC);
		faii_put_le64(node->durable + 8, 0);
		return 0;
	}
	uint64_t used = faii_get_le64(node->durable + 8);
	const uint8_t *at = node->durable + SIM_DAG_JOURNAL_HEADER;
	for (uint64_t offset = 0; offset < used;) {
		uint32_t len = faii_get_le32(at + offset);
		FAII_ASSERT(offset + SIM_DAG_RECORD_HEADER + len <= used);
		journal_index(node, at + offset, offset);
		int rc = record(arg, at[offset + 4], at + offset + SIM_DAG_RECORD_HEADER, len);
		if (rc != 0)
			return rc;
		offset += SIM_DAG_RECORD_HEADER + len;
	}
	return 0;
}

static int64_t journal_lookup(struct faii_dag_journal *journal, uint8_t type, uint64_t key,
                              uint8_t *buf, uint32_t cap)
{
	struct sim_dag_node *node = journal->ctx;
	if (type != FAII_DAG_RECORD_CERTIFIED)
		return -EINVAL;
	uint64_t slot = sim_hash_mix(0x1d, key) % SIM_DAG_INDEX_SLOTS;
	for (uint32_t probe = 0; probe < SIM_DAG_INDEX_SLOTS; probe++) {
		uint64_t i = (slot + probe) % SIM_DAG_INDEX_SLOTS;
		if (node->index_keys[i] == 0)
			return 0;
		if (node->index_keys[i] != key + 1)
			continue;
		const uint8_t *record =
		        node->durable + SIM_DAG_JOURNAL_HEADER + node->index_offsets[i];
		uint32_t len = faii_get_le32(record);
		if (len > cap)
			return 0;
		memcpy(buf, record + SIM_DAG_RECORD_HEADER, len);
		return len;
	}
	return 0;
}

/* ---- what each node signed, read from what it sent ---- */

static void note_signed(struct sim_dag *sim, uint32_t signer, uint32_t author, uint64_t round,
                        const uint8_t *digest)
{
	FAII_ASSERT(round < (1ull << 40));
	uint64_t key = ((uint64_t)(signer + 1) << 56) | ((uint64_t)author << 48) | round;
	uint64_t index = sim_hash_mix(sim->seed, key) % SIM_DAG_SIGNED_MAX;
	for (uint32_t probe = 0; probe < SIM_DAG_SIGNED_MAX; probe++) {
		struct sim_dag_signed *entry =
		        &sim->signed_table[(index + probe) % SIM_DAG_SIGNED_MAX];
		if (entry->key == 0) {
			entry->key = key;
			memcpy(entry->digest, digest, sizeof(entry->digest));
			return;
		}
		if (entry->key != key)
			continue;
		if (memcmp(entry->digest, digest, sizeof(entry->digest)) != 0)
			violate(sim, "validator %u signed two digests for author %u round %" PRIu64,
			        signer, author, round);
		return;
	}
	violate(sim, "the signed table is full (%u entries)", SIM_DAG_SIGNED_MAX);
}

static void observe_send(struct sim_dag_node *node, const uint8_t *bytes, uint32_t len)
{
	uint64_t epoch;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	if (type == DAG_MESSAGE_VOTE) {
		struct dag_vote vote;
		if (dag_wire_decode_vote(bytes, len, node->sim->node_count, &vote) == DAG_WIRE_OK &&
		    vote.voter == node->self)
			note_signed(node->sim, node->self, vote.author, vote.round, vote.digest);
	} else if (type == DAG_MESSAGE_VERTEX) {
		struct dag_vertex vertex;
		uint32_t quorum = node->sim->node_count - (node->sim->node_count - 1) / 3;
		if (dag_wire_decode_vertex(bytes, len, node->sim->node_count, quorum, &vertex) ==
		            DAG_WIRE_OK &&
		    vertex.author == node->self)
			note_signed(node->sim, node->self, node->self, vertex.round, vertex.digest);
	}
}

/* ---- Byzantine lies, on the way out ---- */

static bool lie(struct sim_dag_node *node)
{
	return sim_prng_chance(&node->prng, SIM_DAG_BYZANTINE_PPM);
}

/* A second vertex for the same round: same parents, one more transaction. */
static uint32_t equivocate(struct sim_dag_node *node, const uint8_t *bytes, uint32_t len)
{
	struct dag_vertex vertex;
	uint32_t n = node->sim->node_count;
	if (dag_wire_decode_vertex(bytes, len, n, n - (n - 1) / 3, &vertex) != DAG_WIRE_OK ||
	    vertex.author != node->self || vertex.payload_bytes + 4 + SIM_DAG_TX_BYTES > 8192)
		return 0;
	uint8_t payload[8192];
	memcpy(payload, vertex.payload, vertex.payload_bytes);
	faii_put_le32(payload + vertex.payload_bytes, SIM_DAG_TX_BYTES);
	memset(payload + vertex.payload_bytes + 4, 0xee, SIM_DAG_TX_BYTES);
	uint8_t parent_digests[FAII_VALIDATORS_MAX][FAII_DAG_DIGEST_BYTES];
	const uint8_t *digest = vertex.parent_digests;
	for (uint32_t author = 0; author < n; author++)
		if (vertex.parent_mask & (1ull << author)) {
			memcpy(parent_digests[author], digest, FAII_DAG_DIGEST_BYTES);
			digest += FAII_DAG_DIGEST_BYTES;
		}
	struct dag_vertex_draft draft = {
	        .epoch = vertex.epoch,
	        .round = vertex.round,
	        .author = node->self,
	        .parent_mask = vertex.parent_mask,
	        .parent_digests = (const uint8_t(*)[FAII_DAG_DIGEST_BYTES])parent_digests,
	        .payload = payload,
	        .payload_bytes = vertex.payload_bytes + 4 + SIM_DAG_TX_BYTES,
	        .tx_count = vertex.tx_count + 1,
	};
	if (lie(node)) /* parents nobody has */
		for (uint32_t author = 0; author < n; author++)
			parent_digests[author][0] ^= 0x5a;
	if (lie(node)) /* far in the future */
		draft.round += SIM_DAG_FAR_ROUNDS;
	uint8_t twin_digest[FAII_DAG_DIGEST_BYTES];
	return dag_wire_encode_vertex(&draft, node->sim->secret_keys[node->self], node->scratch,
	                              twin_digest);
}

static int byzantine_send(struct sim_dag_node *node, uint32_t to, const uint8_t *bytes,
                          uint32_t len)
{
	uint64_t epoch;
	uint8_t type = dag_wire_type(bytes, len, &epoch);
	node->sim->byzantine_sends++;
	if (type == DAG_MESSAGE_VOTE && lie(node))
		return 0; /* withheld */
	if (type == DAG_MESSAGE_VERTEX && lie(node)) {
		uint32_t twin = equivocate(node, bytes, len);
		if (twin > 0)
			faii_transport_send(node->net, to, node->scratch, twin);
		if (lie(node))
			return 0; /* only the twin */
	}
	if ((type == DAG_MESSAGE_VOTE || type == DAG_MESSAGE_CERTIFICATE) && lie(node)) {
		memcpy(node->scratch, bytes, len);
		node->scratch[len - 1] ^= 0x01; /* a forged signature */
		faii_transport_send(node->net, to, node->scratch, len);
	}
	if (sim_prng_chance(&node->prng, SIM_DAG_FLOOD_PPM)) { /* a burst of catch-up requests */
		uint32_t fetch = dag_wire_encode_fetch(epoch, 1, FAII_DAG_FETCH_ROUNDS_MAX, ~0ull,
		                                       node->scratch);
		for (int i = 0; i < 4; i++)
			faii_transport_send(node->net, to, node->scratch, fetch);
	}
	return faii_transport_send(node->net, to, bytes, len);
}

static int tap_send(struct faii_transport *tap, uint32_t to, const uint8_t *bytes, uint32_t len)
{
	struct sim_dag_node *node = tap->ctx;
	if (node->byzantine)
		return byzantine_send(node, to, bytes, len);
	observe_send(node, bytes, len);
	return faii_transport_send(node->net, to, bytes, len);
}

/* ---- the consumer: survives crashes (it is durable in its own right) ---- */

static void consumer_commit(void *ctx, const struct faii_dag_commit *commit)
{
	struct sim_dag_node *node = ctx;
	struct sim_dag *sim = node->sim;
	struct sim_dag_node_log *log = &sim->logs[node->self];
	if (node->unsynced_bytes != 0)
		violate(sim, "validator %u output sequence %" PRIu64 " before its journal synced",
		        node->self, commit->sequence);
	if (commit->sequence != log->applied + 1)
		violate(sim, "validator %u output sequence %" PRIu64 " after %" PRIu64, node->self,
		        commit->sequence, log->applied);
	log->applied = commit->sequence;
	if (commit->sequence > sim->committed_max)
		sim->committed_max = commit->sequence;
	if (!node->byzantine) {
		if (commit->sequence > sim->reference_count + 1 ||
		    commit->sequence > SIM_DAG_REFERENCE_MAX) {
			violate(sim, "validator %u output sequence %" PRIu64 " past the reference",
			        node->self, commit->sequence);
			return;
		}
		struct sim_dag_reference *reference = &sim->reference[commit->sequence - 1];
		if (commit->sequence == sim->reference_count + 1) {
			*reference = (struct sim_dag_reference){.round = commit->round,
			                                        .author = commit->author};
			memcpy(reference->digest, commit->digest, sizeof(reference->digest));
			sim->reference_count++;
		} else if (reference->round != commit->round ||
		           reference->author != commit->author ||
		           memcmp(reference->digest, commit->digest, sizeof(reference->digest)) !=
		                   0) {
			violate(sim,
			        "validator %u committed round %" PRIu64
			        " author %u at sequence %" PRIu64 ", others round %" PRIu64
			        " author %u",
			        node->self, commit->round, commit->author, commit->sequence,
			        reference->round, reference->author);
		}
	}
	uint32_t offset = 0;
	const uint8_t *tx;
	uint32_t len;
	while (faii_dag_tx_next(commit, &offset, &tx, &len)) {
		if (len != SIM_DAG_TX_BYTES || faii_get_le32(tx) >= sim->node_count ||
		    faii_get_le32(tx + 4) >= sim->options.txs_per_node)
			continue; /* a Byzantine twin's filler */
		uint8_t *seen = &log->tx_seen[faii_get_le32(tx)][faii_get_le32(tx + 4)];
		if (!*seen)
			log->txs_seen++;
		*seen = 1;
	}
	if (node->app != NULL)
		sim->options.app->on_commit(node->app, commit);
}

/* ---- clients: each node submits its transactions and resubmits lost ones ---- */

static void submit_tx(struct sim_dag_node *node, uint32_t k)
{
	uint8_t tx[SIM_DAG_TX_BYTES];
	memset(tx, 0, sizeof(tx));
	faii_put_le32(tx, node->self);
	faii_put_le32(tx + 4, k);
	faii_put_le64(tx + 8, sim_hash_mix(node->sim->seed, ((uint64_t)node->self << 32) | k));
	int rc = faii_dag_submit(node->dag, tx, sizeof(tx));
	FAII_ASSERT(rc == 0 || rc == -ENOBUFS || rc == -EIO);
}

static void clients_tick(struct sim_dag_node *node, uint64_t now_ns)
{
	const struct sim_dag_options *options = &node->sim->options;
	struct sim_dag_node_log *log = &node->sim->logs[node->self];
	if (node->next_tx < options->txs_per_node && now_ns >= node->next_submit_ns) {
		submit_tx(node, node->next_tx++);
		node->next_submit_ns = now_ns + options->submit_interval_ns;
	}
	if (now_ns < node->resubmit_at_ns)
		return;
	node->resubmit_at_ns = now_ns + options->resubmit_ns;
	for (uint32_t k = 0; k < node->next_tx; k++)
		if (!log->tx_seen[node->self][k])
			submit_tx(node, k);
}

/* ---- the core's entry points ---- */

static void node_free(struct sim_dag_node *node)
{
	faii_dag_close(node->dag);
	if (node->app != NULL)
		node->sim->options.app->close(node->app);
	free(node->unsynced);
	free(node->index_keys);
	free(node->index_offsets);
	free(node);
}

static int node_init(const struct sim_core_env *env, void **state_out)
{
	struct sim_dag *sim = env->ctx;
	struct sim_dag_node *node = calloc(1, sizeof(*node));
	if (node == NULL)
		return -ENOMEM;
	node->unsynced = malloc(SIM_DAG_UNSYNCED_MAX);
	node->index_keys = calloc(SIM_DAG_INDEX_SLOTS, sizeof(uint64_t));
	node->index_offsets = calloc(SIM_DAG_INDEX_SLOTS, sizeof(uint64_t));
	if (node->unsynced == NULL || node->index_keys == NULL || node->index_offsets == NULL) {
		node_free(node);
		return -ENOMEM;
	}
	node->sim = sim;
	node->self = env->node;
	node->byzantine = (sim->options.byzantine_mask >> env->node) & 1;
	node->net = env->transport;
	node->clock = env->clock;
	node->durable = env->durable;
	node->durable_bytes = env->durable_bytes;
	node->tap = *env->transport;
	node->tap.send = tap_send;
	node->tap.ctx = node;
	node->journal = (struct faii_dag_journal){
	        .append = journal_append,
	        .sync = journal_sync,
	        .replay = journal_replay,
	        .lookup = journal_lookup,
	        .ctx = node,
	};
	sim_prng_stream(&node->prng, env->seed, SIM_DAG_PRNG_STREAM);
	struct faii_dag_config config = sim->options.dag;
	config.epoch = 1;
	config.self = env->node;
	config.validator_count = env->node_count;
	memcpy(config.public_keys, sim->public_keys, sizeof(config.public_keys));
	memcpy(config.secret_key, sim->secret_keys[env->node], sizeof(config.secret_key));
	struct faii_dag_consumer consumer = {.on_commit = consumer_commit, .ctx = node};
	struct sim_dag_node_log *log = &sim->logs[env->node];
	const struct sim_dag_app *app = sim->options.app;
	if (app != NULL) {
		int rc = app->open(app->ctx, env->node, node->byzantine, env->clock, &node->app);
		if (rc != 0) {
			node_free(node);
			return rc;
		}
		log->applied = 0; /* the application rebuilds itself from the first */
	}
	char err[256] = "";
	int rc = faii_dag_open(&config, &node->tap, env->clock, &node->journal, &consumer,
	                       log->applied, &node->dag, err, sizeof(err));
	sodium_memzero(config.secret_key, sizeof(config.secret_key));
	if (rc != 0) {
		violate(sim, "validator %u did not open: %s", env->node, err);
		node_free(node);
		return rc;
	}
	log->boots++;
	/* The client carries on where it was; what the crash lost is resubmitted. */
	for (uint32_t k = 0; k < sim->options.txs_per_node; k++)
		if (log->tx_seen[env->node][k])
			node->next_tx = k + 1;
	*state_out = node;
	return 0;
}

static void node_on_message(void *state, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct sim_dag_node *node = state;
	faii_dag_on_message(node->dag, from, bytes, len);
}

static void node_on_tick(void *state, uint64_t now_ns)
{
	struct sim_dag_node *node = state;
	clients_tick(node, now_ns);
	faii_dag_on_tick(node->dag, now_ns);
	if (node->app != NULL)
		node->sim->options.app->on_tick(node->app, node->dag, now_ns);
	struct faii_dag_stats stats;
	faii_dag_get_stats(node->dag, &stats);
	if (stats.failed)
		violate(node->sim, "validator %u stopped: its journal failed", node->self);
	const char *debug = getenv("FAII_SIM_DAG_DEBUG");
	if (debug != NULL && strtoul(debug, NULL, 0) == node->self + 100 &&
	    now_ns % 200000000 < 1000000)
		fprintf(stderr,
		        "t %.1f node %u: proposed %" PRIu64 " inserted %" PRIu64 " seen %" PRIu64
		        " low %" PRIu64 " committed %" PRIu64 " fetches %" PRIu64 " budget %" PRIu64
		        "\n",
		        (double)now_ns / 1e9, node->self, stats.round, stats.round_inserted,
		        stats.round_seen, stats.round_low, stats.committed_vertices,
		        stats.fetches_sent, stats.refused[FAII_DAG_REFUSED_FETCH_BUDGET]);
}

static void node_fini(void *state)
{
	struct sim_dag_node *node = state;
	struct faii_dag_stats stats;
	faii_dag_get_stats(node->dag, &stats);
	for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
		node->sim->refused[i] += stats.refused[i];
	node->sim->equivocations += stats.equivocations;
	if (getenv("FAII_SIM_DAG_DEBUG") != NULL)
		fprintf(stderr,
		        "dag node %u: round %" PRIu64 " anchor %" PRIu64 " committed %" PRIu64
		        " txs seen %u pending %" PRIu64 " low %" PRIu64 " held %" PRIu64
		        " certs %" PRIu64 "/%" PRIu64 " fetches %" PRIu64 " served %" PRIu64
		        " dropped %" PRIu64 " stale %" PRIu64 " window %" PRIu64 "\n",
		        node->self, stats.round, stats.last_committed_anchor,
		        stats.committed_vertices, node->sim->logs[node->self].txs_seen,
		        stats.pending_bytes, stats.round_low, stats.held_bytes,
		        stats.certificates_formed, stats.certificates_accepted, stats.fetches_sent,
		        stats.fetch_vertices_served, stats.sends_dropped,
		        stats.refused[FAII_DAG_REFUSED_STALE_VOTE],
		        stats.refused[FAII_DAG_REFUSED_OUTSIDE_WINDOW]);
	node_free(node);
}

static bool sim_dag_check(void *ctx, const struct sim_node_view *nodes, uint32_t node_count,
                          char *reason, size_t reason_bytes)
{
	struct sim_dag *sim = ctx;
	(void)nodes;
	(void)node_count;
	if (!sim->violated)
		return true;
	snprintf(reason, reason_bytes, "%s", sim->violation);
	return false;
}

static bool sim_dag_converged(void *ctx, const struct sim_node_view *nodes, uint32_t node_count)
{
	struct sim_dag *sim = ctx;
	uint32_t honest = 0;
	for (uint32_t i = 0; i < node_count; i++)
		honest += !((sim->options.byzantine_mask >> i) & 1);
	uint32_t expected = honest * sim->options.txs_per_node;
	for (uint32_t i = 0; i < node_count; i++) {
		if ((sim->options.byzantine_mask >> i) & 1)
			continue;
		if (!nodes[i].up)
			return false;
		uint32_t seen = 0;
		for (uint32_t origin = 0; origin < node_count; origin++)
			if (!((sim->options.byzantine_mask >> origin) & 1))
				for (uint32_t k = 0; k < sim->options.txs_per_node; k++)
					seen += sim->logs[i].tx_seen[origin][k];
		if (seen < expected)
			return false;
	}
	return true;
}

void sim_dag_options_default(struct sim_dag_options *options, uint32_t node_count)
{
	memset(options, 0, sizeof(*options));
	options->txs_per_node = 40;
	options->submit_interval_ns = 20 * FAII_NS_PER_MS;
	options->resubmit_ns = 2 * FAII_NS_PER_S;
	faii_dag_config_defaults(&options->dag, node_count);
	options->dag.batch_bytes_max = 2048;
	options->dag.batch_wait_ns = 20 * FAII_NS_PER_MS;
	options->dag.leader_timeout_ns = 100 * FAII_NS_PER_MS;
	options->dag.retransmit_ns = 50 * FAII_NS_PER_MS;
	options->dag.gc_depth_rounds = 20;
	options->dag.window_rounds = 64;
}

void sim_dag_seed_keypair(uint64_t seed, uint64_t index, uint8_t public_key[32],
                          uint8_t secret_key[64])
{
	uint8_t key_seed[crypto_sign_SEEDBYTES];
	uint8_t input[16];
	faii_put_le64(input, seed);
	faii_put_le64(input + 8, index);
	crypto_generichash(key_seed, sizeof(key_seed), input, sizeof(input), NULL, 0);
	crypto_sign_seed_keypair(public_key, secret_key, key_seed);
}

int sim_dag_prepare(struct sim_dag *sim, const struct sim_dag_options *options, uint32_t node_count,
                    uint64_t seed)
{
	FAII_ASSERT(node_count >= 1 && node_count <= FAII_VALIDATORS_MAX);
	FAII_ASSERT(options->txs_per_node <= SIM_DAG_TXS_PER_NODE_MAX);
	FAII_ASSERT((uint32_t)__builtin_popcountll(options->byzantine_mask) <=
	            (node_count - 1) / 3);
	if (sodium_init() < 0)
		return -EIO;
	memset(sim, 0, sizeof(*sim));
	sim->options = *options;
	sim->node_count = node_count;
	sim->seed = seed;
	for (uint32_t i = 0; i < node_count; i++)
		sim_dag_seed_keypair(seed, i, sim->public_keys[i], sim->secret_keys[i]);
	sim->reference = calloc(SIM_DAG_REFERENCE_MAX, sizeof(*sim->reference));
	sim->signed_table = calloc(SIM_DAG_SIGNED_MAX, sizeof(*sim->signed_table));
	if (sim->reference == NULL || sim->signed_table == NULL) {
		sim_dag_release(sim);
		return -ENOMEM;
	}
	return 0;
}

void sim_dag_release(struct sim_dag *sim)
{
	free(sim->reference);
	free(sim->signed_table);
	sim->reference = NULL;
	sim->signed_table = NULL;
}

struct sim_core sim_dag_core(struct sim_dag *sim)
{
	return (struct sim_core){
	        .name = "dag",
	        .durable_bytes = SIM_DAG_DURABLE_BYTES,
	        .tick_interval_ns = FAII_NS_PER_MS,
	        .ctx = sim,
	        .init = node_init,
	        .on_message = node_on_message,
	        .on_tick = node_on_tick,
	        .fini = node_fini,
	        .check = sim_dag_check,
	        .converged = sim_dag_converged,
	};
}
