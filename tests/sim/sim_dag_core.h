/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consensus validator (include/faii/dag.h) as a simulation core: the
 * production code of ledger/dag/, run by the harness over the simulated
 * network and clock, with a journal on each node's durable region that
 * loses whatever was appended but not synced when the node crashes.
 *
 * The checker, after every step:
 *   - every node's committed sequence is a prefix of one reference sequence
 *     (same round, author and digest at every position);
 *   - no node ever signed two different vertices for one round, or voted
 *     for two different digests of one (author, round), across restarts
 *     (read from what each node actually sent, by a tap on its transport);
 *   - every output arrived with nothing left unsynced in its journal.
 * Liveness: every node's consumer has seen every transaction every node
 * submitted (clients resubmit what a crash lost).
 *
 * Byzantine nodes (options.byzantine_mask) run a corrupted outbound tap:
 * they equivocate (a second signed vertex per round to half the peers),
 * forge signatures on votes and certificates, and send vertices with
 * unknown parents and far-future rounds. The checker then covers only the
 * honest nodes, and at most f nodes may be Byzantine.
 */
#ifndef FAII_SIM_DAG_CORE_H
#define FAII_SIM_DAG_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/dag.h"
#include "sim_harness.h"

#define SIM_DAG_TXS_PER_NODE_MAX 256u
#define SIM_DAG_TX_BYTES         24u
#define SIM_DAG_SIGNED_MAX       (1u << 18) /* (signer, author, round) entries checked */
#define SIM_DAG_REFERENCE_MAX    (1u << 18) /* committed vertices checked */

/*
 * An application over the committed sequence, run on every node (settlement:
 * tests/sim/sim_settle.h). A node's instance lives from its boot to its
 * crash: open() runs before the validator opens, and the validator hands
 * it every committed vertex from the first (consumer_applied 0, as faiid's
 * settlement rebuilds itself from the journal at every start); on_tick()
 * follows each of the validator's ticks and may submit into it.
 */
struct sim_dag_app {
	void *ctx;
	int (*open)(void *ctx, uint32_t node, bool byzantine, const struct faii_clock *clock,
	            void **instance);
	void (*on_commit)(void *instance, const struct faii_dag_commit *commit);
	void (*on_tick)(void *instance, struct faii_dag *dag, uint64_t now_ns);
	void (*close)(void *instance); /* the node died: free, write nothing */
};

struct sim_dag_options {
	uint32_t txs_per_node;         /* each node submits this many, then stops */
	uint64_t submit_interval_ns;   /* between two submissions of one node */
	uint64_t resubmit_ns;          /* a client resubmits what has not committed */
	uint64_t byzantine_mask;       /* nodes that lie; at most f */
	const struct sim_dag_app *app; /* NULL: none */
	struct faii_dag_config dag;    /* timings and sizes; keys are derived per run */
};

struct sim_dag_signed {
	uint64_t key; /* signer, author, round; 0: empty */
	uint8_t digest[8];
};

struct sim_dag_reference {
	uint64_t round;
	uint32_t author;
	uint8_t digest[8];
};

struct sim_dag_node_log {
	uint64_t applied; /* the consumer's durable position */
	uint32_t txs_seen;
	uint8_t tx_seen[FAII_VALIDATORS_MAX][SIM_DAG_TXS_PER_NODE_MAX];
	uint64_t boots;
};

struct sim_dag {
	struct sim_dag_options options;
	uint32_t node_count;
	uint64_t seed;
	uint8_t public_keys[FAII_VALIDATORS_MAX][FAII_DAG_PUBLIC_KEY_BYTES];
	uint8_t secret_keys[FAII_VALIDATORS_MAX][FAII_DAG_SECRET_KEY_BYTES];
	struct sim_dag_node_log logs[FAII_VALIDATORS_MAX]; /* survive crashes: the consumers */
	struct sim_dag_reference *reference;
	uint64_t reference_count;
	struct sim_dag_signed *signed_table;
	bool violated;
	char violation[SIM_HARNESS_REASON_BYTES_MAX];
	/* Totals over the run, for the report. */
	uint64_t committed_max;
	uint64_t refused[FAII_DAG_REFUSAL_COUNT];
	uint64_t equivocations;
	uint64_t byzantine_sends;
};

/* Sets sane options for n nodes; the test may then adjust them. */
void sim_dag_options_default(struct sim_dag_options *options, uint32_t node_count);
/* An Ed25519 key pair derived from (seed, index): the same in every replay. */
void sim_dag_seed_keypair(uint64_t seed, uint64_t index, uint8_t public_key[32],
                          uint8_t secret_key[64]);
int sim_dag_prepare(struct sim_dag *sim, const struct sim_dag_options *options, uint32_t node_count,
                    uint64_t seed);
void sim_dag_release(struct sim_dag *sim);
struct sim_core sim_dag_core(struct sim_dag *sim);

#endif /* FAII_SIM_DAG_CORE_H */
