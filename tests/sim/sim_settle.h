/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement (ledger/settle/, include/faii/settle_state.h) under
 * deterministic simulation: every simulated validator runs a settlement
 * state as the consumer of its consensus core (tests/sim/sim_dag_core.h,
 * through struct sim_dag_app), and its simulated appliance submits
 * settlement transactions into that core:
 *
 *   honest appliances: NODE_REGISTER for the simulation's nodes until they
 *     are registered; a WORK_SUMMARY every slice of their wall clock (in
 *     parts); METER_READINGs signed with the nodes' keys (the two
 *     appliances that serve a node both relay its reading: one mints, the
 *     other is refused as a double mint); now and then a SLASH_PROPOSAL;
 *     a DISPUTE signed by the accused node; DISPUTE_VOTEs on disputed
 *     proposals; a GOV_PROPOSAL within the step cap and GOV_VOTEs for the
 *     open ones; and, once live (their own vertex of this life committed,
 *     as faiid's appliance/settlement.c), the PAYOUT_ROOT of every kept
 *     settled epoch they have not yet published;
 *   Byzantine appliances (the DAG's liars): garbage bytes, well-headed
 *     transactions with damaged bodies, replays of committed transactions
 *     (others' and their own), work summaries from a year ahead, and wrong
 *     payout roots.
 *
 * Checked after every commit an honest validator applies: the digest of its
 * settlement (faii_settle_state_digest) equals every other honest
 * validator's at the same committed sequence (a table by sequence, bounded
 * by SIM_SETTLE_SEQUENCES_MAX), and money is conserved (the stats'
 * invariant). A validator that restarts rebuilds its settlement from the
 * first committed vertex and must meet the same digests again.
 * Convergence: after the faults, every honest validator settled
 * SIM_SETTLE_EPOCHS_AFTER_FAULTS more epochs, and each of its kept epochs
 * older than SIM_SETTLE_FINAL_LAG epochs is final (2f + 1 matching roots).
 */
#ifndef FAII_SIM_SETTLE_H
#define FAII_SIM_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/settle_state.h"
#include "sim_dag_core.h"

#define SIM_SETTLE_NODES               12u   /* nodes the appliances register */
#define SIM_SETTLE_NODES_MAX           64u   /* settlement's node table */
#define SIM_SETTLE_EPOCH_MS            1000u /* consortium time */
#define SIM_SETTLE_SLICE_MS            250u  /* an appliance's work summary period */
#define SIM_SETTLE_DELAY_MS            1000u /* a root's activation delay */
#define SIM_SETTLE_DISPUTE_MS          2000u /* slashing's dispute window */
#define SIM_SETTLE_SEQUENCES_MAX       SIM_DAG_REFERENCE_MAX /* committed vertices checked */
#define SIM_SETTLE_EPOCHS_MAX          4096u /* settled epochs tracked for finality */
#define SIM_SETTLE_EPOCHS_AFTER_FAULTS 6u
#define SIM_SETTLE_FINAL_LAG           2u /* epochs a root may take to become final */

struct sim_settle_digest {
	bool set;
	uint32_t by; /* the validator that applied this sequence first */
	uint8_t digest[FAII_SETTLE_HASH_BYTES];
};

struct sim_settle_node;

struct sim_settle {
	struct sim_dag *dag;
	struct sim_dag_app app; /* what the DAG core runs: options.app = &app */
	uint64_t seed;
	uint32_t node_count;
	uint64_t byzantine_mask;
	uint8_t node_public[SIM_SETTLE_NODES][FAII_SETTLE_PUBLIC_KEY];
	uint8_t node_secret[SIM_SETTLE_NODES][64];
	struct sim_settle_node *instances[FAII_VALIDATORS_MAX]; /* NULL while down */
	uint64_t boots[FAII_VALIDATORS_MAX];
	uint64_t applied_before_crash[FAII_VALIDATORS_MAX];
	struct sim_settle_digest *digests; /* by sequence - 1 */
	uint8_t *epoch_final;              /* by settled-epoch ordinal: 1 once seen final */
	/* The checker's own test: from this committed sequence on, the last
	 * validator credits each transaction to the next author (0: never). */
	uint64_t misread_from;
	bool violated;
	char violation[SIM_HARNESS_REASON_BYTES_MAX];
	bool baseline_set;
	uint64_t baseline_settled; /* honest epochs settled when the faults ended */
	/* Totals over the run, for the report and the test's coverage checks. */
	uint64_t digests_compared; /* a sequence's digest met another validator's */
	uint64_t rebuilt;          /* restarts whose replay reached the last life's position */
	uint64_t epochs_settled;   /* the most any honest validator settled */
	uint64_t epochs_final;     /* ordinals seen final */
	uint64_t evicted_unfinal;  /* kept epochs forgotten before they were final */
	uint64_t submitted[FAII_SETTLE_TX_KIND_END];
	uint64_t lies;
	struct faii_settle_stats stats; /* the honest validator that applied the most */
	uint64_t stats_sequence;
	uint64_t gov_adopted;
};

/* Prepares the settlement over a prepared DAG simulation and plugs it into
 * dag->options.app. 0 or -ENOMEM. */
int sim_settle_prepare(struct sim_settle *sim, struct sim_dag *dag);
void sim_settle_release(struct sim_settle *sim);
/* The DAG core with settlement's safety and liveness added. */
struct sim_core sim_settle_core(struct sim_settle *sim);

#endif /* FAII_SIM_SETTLE_H */
