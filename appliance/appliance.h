/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running appliance minus its process shell: registry, publisher,
 * workers and the control thread's periodic work. faiid wraps it with the
 * EAL, ports, ledger and signals; tests and benchmarks drive it directly
 * over DPDK virtual devices.
 */
#ifndef FAII_APPLIANCE_H
#define FAII_APPLIANCE_H

#include <stdint.h>

#include <rte_rcu_qsbr.h>

#include "attest_queue.h"
#include "dataplane.h"
#include "residency_bpf.h"
#include "work_summary.h"
#include "faii/keys.h"
#include "faii/publish.h"
#include "faii/registry.h"

#define FAII_CONTROL_TICK_MS   10u  /* slow path and evidence */
#define FAII_PUBLISH_PERIOD_MS 100u /* solve and publish: 10 times a second */
#define FAII_QUEUE_EWMA_WEIGHT 0.3
#define FAII_EVIDENCE_KEEP     256u /* most recent disagreements kept for operators */
#define FAII_SLOW_BATCH_MAX    256u /* slow-path messages per tick */
/* Receipts taken from one worker's ring per tick: the whole ring, so a
 * tick keeps up with anything a worker can write in 10 ms. */
#define FAII_RECEIPT_DRAIN_MAX FAII_RECEIPT_RING_SIZE

/* Queue measurement and prices (SPEC 3.5). */
struct faii_queue_state {
	double outstanding[FAII_TIER_COUNT]; /* copies dispatched, not yet answered or given up */
	double capacity[FAII_TIER_COUNT];    /* sum of L_i of active nodes eligible in the tier */
	double q[FAII_TIER_COUNT];           /* smoothed outstanding / capacity, both in slots */
	double price[FAII_TIER_COUNT]; /* p_t = p0_t (1 + gamma_t q_t), p0_t = p theta0_t (26) */
	double theta[FAII_TIER_COUNT]; /* theta_t = theta0_t (1 + gamma_t q_t) (32) */
	/* copies per second / sum of sigma_i of the class (7) */
	double class_util[FAII_CLASS_COUNT];
	double class_share[FAII_CLASS_COUNT]; /* smoothed share of verified work, s_k (33) */
	double class_price[FAII_CLASS_COUNT]; /* its dual price pi_k in routing (33) */
};

struct faii_appliance_dp {
	struct faii_registry reg;
	struct faii_publisher pub;
	struct faii_keys keys; /* TASK and RESULT authentication (docs/security.md) */
	struct faii_dp dp;
	/* The residency judge (the program under rte_bpf, or its C reference)
	 * and which one runs, and why. */
	struct faii_res_rte *residency_rte;
	char residency_mode[96];
	struct faii_res_policy *residency_policy; /* built at each sync */
	uint64_t residency_syncs;
	uint64_t residency_events_read;
	struct rte_rcu_qsbr *qsbr;
	unsigned worker_count;
	struct faii_worker *workers;
	struct faii_queue_state queues;
	/* Control-thread bookkeeping. */
	double last_publish_s;
	double last_measure_s;
	uint64_t prev_tier_copies[FAII_CLASS_COUNT];
	uint64_t
	        prev_class_work[FAII_CLASS_COUNT]; /* verified work per class at the last measure */
	uint64_t *prev_key_arrivals;               /* FAII_ROUTE_KEYS_MAX */
	uint64_t slow_processed;
	uint64_t evidence_received;
	struct faii_evidence evidence[FAII_EVIDENCE_KEEP];
	/* Called after the residency policy changed (nodes, classes,
	 * jurisdictions, ports) with the policy the dataplane's judge gets
	 * next: faiid syncs the kernel program's maps from the same object. */
	void (*on_residency_policy)(void *ctx, const struct faii_config *cfg,
	                            const struct faii_res_policy *policy);
	void *on_residency_policy_ctx;
	/* Called for every residency refusal of the in-dataplane program. */
	void (*on_residency_event)(void *ctx, const struct faii_res_event *ev);
	void *on_residency_event_ctx;
	/* Called for every disagreement (e.g. to record it); may be NULL. */
	void (*on_evidence)(void *ctx, const struct faii_evidence *ev);
	void *on_evidence_ctx;
	/* Routing receipts and work summaries (work_summary.h); the sink takes
	 * each WORK_SUMMARY transaction (faiid: the validator or the ledger).
	 * NULL sink: they wait in the bounded queue, then are counted dropped. */
	struct faii_work_summary work;
	struct faii_work_node *work_nodes; /* reg.capacity, filled at each slice's edge */
	faii_work_sink_fn on_work_summary;
	void *on_work_summary_ctx;
	/* Accepted ATTEST messages for the ledger (attest_queue.h): enabled
	 * by faiid when a validator runs, drained by settlement_sync.c. */
	struct faii_attest_queue attest;
};

/*
 * Builds everything over cfg (ownership passes to the registry): needs the
 * EAL, the started ports and their mbuf pool. workers may be driven by
 * faii_appliance_launch() on worker lcores or by faii_worker_poll() from the
 * caller. Publishes the first route set before returning.
 */
int faii_appliance_init(struct faii_appliance_dp *a, struct faii_config *cfg, const uint16_t *ports,
                        unsigned port_count, unsigned workers, struct rte_mempool *pool, char *err,
                        size_t errlen);
int faii_appliance_launch(struct faii_appliance_dp *a, char *err, size_t errlen);
/* The control thread's periodic work; call every FAII_CONTROL_TICK_MS. */
void faii_appliance_tick(struct faii_appliance_dp *a);
/* Stops launched workers (faii_force_quit) and waits for them. */
void faii_appliance_stop(struct faii_appliance_dp *a);
void faii_appliance_fini(struct faii_appliance_dp *a);

/* Helpers for callers that drive workers themselves. */
void faii_appliance_measure(struct faii_appliance_dp *a, double dt_s);
int faii_appliance_publish(struct faii_appliance_dp *a);
/* Builds the residency policy (faii/residency_policy.h) from the registry
 * and installs it in the dataplane's judge as one atomic snapshot (and in
 * the kernel's, through on_residency_policy). */
int faii_appliance_sync_residency(struct faii_appliance_dp *a);
void faii_appliance_drain_slow(struct faii_appliance_dp *a);
/* Takes the workers' receipts into the open slice, closes it when its time
 * is up (now_ms, the appliance's Unix clock) and hands summaries to the
 * sink: the tick's step, exposed for tests that drive the clock. */
void faii_appliance_work_step(struct faii_appliance_dp *a, uint64_t now_ms);
/*
 * Applies one signed slow-path message (HEARTBEAT, ATTEST, REGISTER) to the
 * registry. A change the residency judges must know (a node's jurisdiction
 * or port) is installed in them before this returns, so no copy is judged
 * under the old policy once the message counts as accepted: residency fails
 * closed during changes instead of lagging one publish behind.
 */
enum faii_slow_outcome faii_appliance_apply_signal(struct faii_appliance_dp *a,
                                                   const struct faii_msg_view *msg,
                                                   uint64_t now_ns);
/* Publishes the workers' auth set again (a node's key or address changed). */
int faii_appliance_publish_keys(struct faii_appliance_dp *a);
/* Reads the key files again (a rotation) and publishes; 0 or -1 with err. */
int faii_appliance_reload_keys(struct faii_appliance_dp *a, char *err, size_t errlen);
/* Installs a rotation read off the control thread (keys.reload: see
 * faii/keys.h), drops what expired meanwhile and publishes; takes s. 0, or a
 * negative errno when the set could not be published (retried each tick). */
int faii_appliance_install_keys(struct faii_appliance_dp *a, struct faii_keys_stage *s);

#endif /* FAII_APPLIANCE_H */
