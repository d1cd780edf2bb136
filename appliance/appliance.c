/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * See appliance.h. Everything here runs on the control thread except the
 * worker loops it launches.
 */
#include "faii/clock.h"
#include "appliance.h"
#include "faii/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

static struct rte_ring *ring_create(const char *name, unsigned size, unsigned flags, unsigned esize)
{
	struct rte_ring *r = rte_ring_lookup(name);
	if (r != NULL)
		rte_ring_free(r); /* left by a previous appliance in this process */
	return esize ? rte_ring_create_elem(name, esize, size, (int)rte_socket_id(), flags)
	             : rte_ring_create(name, size, (int)rte_socket_id(), flags);
}

static void clock_init(struct faii_dp *dp)
{
	dp->tsc_hz = rte_get_tsc_hz();
	dp->tsc_base = rte_rdtsc();
	dp->realtime_base_ns = faii_realtime_ns();
	dp->ns_per_tsc_q32 = (uint64_t)((1e9 * 4294967296.0) / (double)dp->tsc_hz);
	dp->tsc_per_tick = dp->tsc_hz / 1000u;
	if (dp->tsc_per_tick == 0)
		dp->tsc_per_tick = 1;
}

/* Every TASK copy, whatever port its node listens on. ctx: the judge. */
static uint32_t judge_copy(void *ctx, const void *frame, uint32_t len)
{
	return faii_res_rte_judge(ctx, frame, len);
}

/*
 * The residency judge: the BPF program under rte_bpf; its C reference, over
 * the same policy snapshot with the same counters and events, when
 * FAII_RESIDENCY_JUDGE=c or when the program does not load. Installs the
 * first policy.
 */
static int open_residency_judge(struct faii_appliance_dp *a, const struct faii_config *cfg,
                                char *err, size_t errlen)
{
	const char *forced = getenv("FAII_RESIDENCY_JUDGE");
	bool reference = forced != NULL && strcmp(forced, "c") == 0;
	char why[256] = "FAII_RESIDENCY_JUDGE=c";
	if (!reference && faii_res_rte_open(NULL, &a->residency_rte, why, sizeof(why)) != 0)
		reference = true;
	if (reference &&
	    faii_res_rte_open(FAII_RES_RTE_NO_BPF, &a->residency_rte, err, errlen) != 0)
		return -1;
	if (reference)
		snprintf(a->residency_mode, sizeof(a->residency_mode), "C reference (%.70s)", why);
	else
		snprintf(a->residency_mode, sizeof(a->residency_mode),
		         "BPF program under rte_bpf (%s)",
		         faii_res_rte_is_jit(a->residency_rte) ? "JIT" : "interpreter");
	faii_res_rte_set_udp_port(a->residency_rte, cfg->appliance.udp_port);
	a->residency_policy = malloc(sizeof(*a->residency_policy));
	if (a->residency_policy == NULL || faii_appliance_sync_residency(a) != 0) {
		snprintf(err, errlen, "cannot install the residency policy");
		return -1;
	}
	a->dp.residency_judge = judge_copy;
	a->dp.residency_ctx = a->residency_rte;
	a->dp.residency_rte = a->residency_rte;
	return 0;
}

int faii_appliance_sync_residency(struct faii_appliance_dp *a)
{
	char err[FAII_CFG_ERR_LEN];
	struct faii_res_policy *policy = a->residency_policy;
	a->reg.residency_dirty = false;
	/* One object for every judge: built once, handed to the kernel's
	 * program (faiid's callback) and to the dataplane's. */
	int rc = faii_res_policy_from_config(a->reg.cfg, policy, err) == 0 ? 0 : -EINVAL;
	if (rc == 0 && a->on_residency_policy != NULL)
		a->on_residency_policy(a->on_residency_policy_ctx, a->reg.cfg, policy);
	if (rc == 0)
		rc = faii_res_rte_set_policy(a->residency_rte, policy);
	if (rc == 0)
		a->residency_syncs++;
	else
		a->reg.residency_dirty = true; /* try again at the next publish */
	return rc;
}

/* Each slot's node and heartbeat count, for a slice's edge. */
static void fill_work_nodes(struct faii_appliance_dp *a)
{
	const struct faii_registry *reg = &a->reg;
	for (uint32_t s = 0; s < reg->capacity; s++) {
		bool in_use = s < reg->cfg->node_count &&
		              atomic_load(&reg->live[s].status) != FAII_NODE_REMOVED;
		a->work_nodes[s].node_id = in_use ? reg->live[s].node_id : 0;
		a->work_nodes[s].heartbeats = reg->signals[s].heartbeats;
	}
}

/* The receipt rings (one per worker) and the slices they feed. */
static int open_work(struct faii_appliance_dp *a, const struct faii_config *cfg, char *err,
                     size_t errlen)
{
	const struct faii_settlement_cfg *sc = &cfg->appliance.settlement;
	struct faii_work_options opt = {
	        .slice_ms = sc->slice_ms,
	        .heartbeat_period_ms = sc->heartbeat_period_ms,
	        .receipts_kept = sc->receipts_kept,
	        .node_slots = a->reg.capacity,
	};
	a->work_nodes = calloc(a->reg.capacity, sizeof(*a->work_nodes));
	if (a->work_nodes == NULL || faii_work_init(&a->work, &opt) != 0) {
		snprintf(err, errlen, "out of memory for %u kept receipts", sc->receipts_kept);
		return -1;
	}
	if (faii_attest_queue_init(&a->attest) != 0) {
		snprintf(err, errlen, "out of memory for %u queued attestations",
		         FAII_ATTEST_QUEUE_MAX);
		return -1;
	}
	fill_work_nodes(a);
	faii_work_start(&a->work, faii_realtime_ns() / 1000000u, a->work_nodes);
	for (unsigned i = 0; i < a->worker_count; i++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "faii_receipts_%u", i);
		a->dp.receipt_ring[i] =
		        ring_create(name, FAII_RECEIPT_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ,
		                    sizeof(struct faii_receipt));
		if (a->dp.receipt_ring[i] == NULL) {
			snprintf(err, errlen, "cannot create %s: %s", name,
			         rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

int faii_appliance_init(struct faii_appliance_dp *a, struct faii_config *cfg, const uint16_t *ports,
                        unsigned port_count, unsigned workers, struct rte_mempool *pool, char *err,
                        size_t errlen)
{
	memset(a, 0, sizeof(*a));
	char cfg_err[FAII_CFG_ERR_LEN];
	if (workers == 0 || workers > FAII_WORKERS_MAX || port_count > FAII_PORTS_MAX) {
		snprintf(err, errlen, "workers must be 1..%u and ports at most %u",
		         FAII_WORKERS_MAX, FAII_PORTS_MAX);
		faii_config_free(cfg);
		return -1;
	}
	uint16_t udp_port = cfg->appliance.udp_port;
	if (faii_registry_init(&a->reg, cfg, 1024, cfg_err) != 0) {
		snprintf(err, errlen, "%s", cfg_err);
		return -1;
	}
	a->worker_count = workers;
	size_t qsize = rte_rcu_qsbr_get_memsize(workers);
	a->qsbr = rte_zmalloc("faii_qsbr", qsize, RTE_CACHE_LINE_SIZE);
	a->workers =
	        rte_zmalloc("faii_workers", workers * sizeof(*a->workers), RTE_CACHE_LINE_SIZE);
	a->prev_key_arrivals = calloc(FAII_ROUTE_KEYS_MAX, sizeof(uint64_t));
	if (a->qsbr == NULL || a->workers == NULL || a->prev_key_arrivals == NULL ||
	    rte_rcu_qsbr_init(a->qsbr, workers) != 0) {
		snprintf(err, errlen, "out of memory for the worker state");
		goto fail;
	}
	for (unsigned i = 0; i < workers; i++)
		rte_rcu_qsbr_thread_register(a->qsbr, i);
	faii_publisher_init(&a->pub, &a->reg, a->qsbr);
	if (faii_keys_init(&a->keys, &a->reg.cfg->appliance.auth, a->reg.cfg->path, a->qsbr, err,
	                   errlen) != 0)
		goto fail;

	struct faii_dp *dp = &a->dp;
	dp->live = a->reg.live;
	dp->latency_us = a->reg.latency_us;
	dp->node_capacity = a->reg.capacity;
	dp->route_set = &a->pub.current;
	dp->auth_set = a->keys.enabled ? &a->keys.current : NULL;
	dp->qsbr = a->qsbr;
	dp->pool = pool;
	dp->worker_count = workers;
	dp->udp_port = udp_port;
	clock_init(dp);
	if (open_residency_judge(a, cfg, err, errlen) != 0)
		goto fail;
	dp->slow_ring = ring_create("faii_slow", FAII_SLOW_RING_SIZE, RING_F_SC_DEQ, 0);
	dp->evidence_ring = ring_create("faii_evidence", FAII_EVIDENCE_RING_SIZE, RING_F_SC_DEQ,
	                                sizeof(struct faii_evidence));
	if (dp->slow_ring == NULL || dp->evidence_ring == NULL) {
		snprintf(err, errlen, "cannot create the control rings: %s",
		         rte_strerror(rte_errno));
		goto fail;
	}
	if (open_work(a, cfg, err, errlen) != 0)
		goto fail;
	for (unsigned i = 0; i < workers; i++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "faii_handoff_%u", i);
		dp->handoff[i] = ring_create(name, FAII_HANDOFF_RING_SIZE, RING_F_SC_DEQ, 0);
		if (dp->handoff[i] == NULL) {
			snprintf(err, errlen, "cannot create %s: %s", name,
			         rte_strerror(rte_errno));
			goto fail;
		}
	}
	for (unsigned p = 0; p < port_count; p++)
		rte_eth_macaddr_get(ports[p], &dp->port_mac[ports[p]]);
	for (unsigned i = 0; i < workers; i++) {
		struct faii_worker *w = &a->workers[i];
		if (faii_worker_init(w, dp, i, err, errlen) != 0)
			goto fail;
		w->port_count = (uint16_t)port_count;
		memcpy(w->ports, ports, port_count * sizeof(uint16_t));
	}
	a->last_publish_s = a->last_measure_s = faii_monotonic_s();
	if (faii_appliance_publish_keys(a) != 0) {
		snprintf(err, errlen, "cannot publish the first key set");
		goto fail;
	}
	if (faii_appliance_publish(a) != 0) {
		snprintf(err, errlen, "cannot publish the first route set");
		goto fail;
	}
	return 0;
fail:
	faii_appliance_fini(a);
	return -1;
}

int faii_appliance_launch(struct faii_appliance_dp *a, char *err, size_t errlen)
{
	unsigned lcore, k = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (k == a->worker_count)
			break;
		a->workers[k].lcore_id = lcore;
		int rc = rte_eal_remote_launch(faii_worker_main, &a->workers[k], lcore);
		if (rc != 0) {
			snprintf(err, errlen, "cannot launch worker %u on lcore %u: %s", k, lcore,
			         strerror(-rc));
			return -1;
		}
		k++;
	}
	if (k < a->worker_count) {
		snprintf(err, errlen, "%u workers need %u worker lcores, the EAL has %u",
		         a->worker_count, a->worker_count, k);
		return -1;
	}
	return 0;
}

void faii_appliance_stop(struct faii_appliance_dp *a)
{
	(void)a;
	atomic_store(&faii_force_quit, true);
	rte_eal_mp_wait_lcore();
}

void faii_appliance_fini(struct faii_appliance_dp *a)
{
	if (a->workers != NULL) {
		for (unsigned i = 0; i < a->worker_count; i++)
			faii_worker_fini(&a->workers[i]);
	}
	/* Whatever the control thread has not taken goes back to the pool. */
	struct rte_mbuf *m;
	while (a->dp.slow_ring && rte_ring_sc_dequeue(a->dp.slow_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	for (unsigned i = 0; i < FAII_WORKERS_MAX; i++) {
		while (a->dp.handoff[i] && rte_ring_sc_dequeue(a->dp.handoff[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(a->dp.handoff[i]);
	}
	if (a->residency_rte != NULL)
		faii_res_rte_close(a->residency_rte);
	free(a->residency_policy);
	rte_ring_free(a->dp.slow_ring);
	rte_ring_free(a->dp.evidence_ring);
	for (unsigned i = 0; i < FAII_WORKERS_MAX; i++)
		rte_ring_free(a->dp.receipt_ring[i]);
	if (a->work_nodes != NULL)
		faii_work_fini(&a->work);
	free(a->work_nodes);
	faii_attest_queue_fini(&a->attest);
	faii_publisher_fini(&a->pub);
	faii_keys_fini(&a->keys);
	if (a->reg.cfg != NULL)
		faii_registry_fini(&a->reg);
	rte_free(a->workers);
	rte_free(a->qsbr);
	free(a->prev_key_arrivals);
	memset(a, 0, sizeof(*a));
}

enum faii_slow_outcome faii_appliance_apply_signal(struct faii_appliance_dp *a,
                                                   const struct faii_msg_view *msg, uint64_t now_ns)
{
	enum faii_slow_outcome out = faii_registry_apply(&a->reg, msg, now_ns);
	/* The node's signed bytes as they came: the ledger checks them again. */
	if (out == FAII_SLOW_ACCEPTED && msg->type == FAII_MSG_ATTEST)
		(void)faii_attest_queue_push(&a->attest, (const uint8_t *)msg->hdr, msg->length);
	/* A failed sync leaves the policy dirty: the next publish tries again. */
	if (a->reg.residency_dirty && a->residency_policy != NULL)
		faii_appliance_sync_residency(a);
	/* A REGISTER that moved the node: its RESULTs are taken from the new
	 * address, and no longer from the old one, once it counts as accepted
	 * (not at the next tick). With every retired key set still in its
	 * grace period the set stays dirty and the tick publishes it. */
	if (a->reg.auth_dirty)
		faii_appliance_publish_keys(a);
	return out;
}

void faii_appliance_drain_slow(struct faii_appliance_dp *a)
{
	struct rte_mbuf *batch[64];
	unsigned done = 0;
	while (done < FAII_SLOW_BATCH_MAX) {
		unsigned n = rte_ring_sc_dequeue_burst(a->dp.slow_ring, (void **)batch, 64, NULL);
		if (n == 0)
			break;
		uint64_t now = faii_realtime_ns();
		for (unsigned i = 0; i < n; i++) {
			struct faii_frame_view fv;
			struct rte_mbuf *m = batch[i];
			if (faii_parse_frame(rte_pktmbuf_mtod(m, const void *),
			                     rte_pktmbuf_data_len(m), a->dp.udp_port,
			                     &fv) == FAII_OK)
				faii_appliance_apply_signal(a, &fv.msg, now);
			rte_pktmbuf_free(m);
		}
		done += n;
		a->slow_processed += n;
	}
	if (a->residency_rte != NULL) {
		struct faii_res_event evs[64];
		unsigned got;
		unsigned rounds = 0;
		while (rounds++ < 16 &&
		       (got = faii_res_rte_events(a->residency_rte, evs, 64)) > 0) {
			a->residency_events_read += got;
			for (unsigned i = 0; i < got && a->on_residency_event; i++)
				a->on_residency_event(a->on_residency_event_ctx, &evs[i]);
		}
	}
	struct faii_evidence ev;
	while (rte_ring_sc_dequeue_elem(a->dp.evidence_ring, &ev, sizeof(ev)) == 0) {
		a->evidence[a->evidence_received % FAII_EVIDENCE_KEEP] = ev;
		a->evidence_received++;
		if (a->on_evidence)
			a->on_evidence(a->on_evidence_ctx, &ev);
	}
}

/*
 * The class-share cap (33): each class's verified work since the last
 * measure moves its dual price one step (faii_class_price_update).
 * Counters are cumulative per slot; a class that lost a node (a REGISTER
 * moved it) may read less than before: that measure counts nothing.
 */
static void measure_class_shares(struct faii_appliance_dp *a)
{
	const struct faii_config *cfg = a->reg.cfg;
	uint64_t now[FAII_CLASS_COUNT] = {0};
	double work[FAII_CLASS_COUNT];
	bool valid = true;
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		FAII_ASSERT(cfg->nodes[i].node_class < FAII_CLASS_COUNT);
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			now[cfg->nodes[i].node_class] += atomic_load_explicit(
			        &a->reg.live[i].verified_work[t], memory_order_relaxed);
	}
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		valid = valid && now[k] >= a->prev_class_work[k];
		work[k] = (double)(now[k] - a->prev_class_work[k]);
		a->prev_class_work[k] = now[k];
	}
	if (valid)
		faii_class_price_update(&a->pub.class_price, work, cfg->policy.class_share_max);
	memcpy(a->queues.class_share, a->pub.class_price.share, sizeof(a->queues.class_share));
	memcpy(a->queues.class_price, a->pub.class_price.price, sizeof(a->queues.class_price));
}

void faii_appliance_measure(struct faii_appliance_dp *a, double dt_s)
{
	const struct faii_config *cfg = a->reg.cfg;
	struct faii_queue_state *qs = &a->queues;
	static struct faii_worker_stats total; /* control thread only */
	faii_stats_sum(a->workers, a->worker_count, &total);

	/* Eligible capacity per tier: the load limits of active nodes that can
	 * take some category of the tier. */
	double cap[FAII_TIER_COUNT] = {0}, class_cap[FAII_CLASS_COUNT] = {0};
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		const struct faii_cfg_node *n = &cfg->nodes[i];
		if (atomic_load(&a->reg.live[i].status) != FAII_NODE_ACTIVE)
			continue;
		double limit = atomic_load(&a->reg.live[i].limit);
		/* Sigma_i = n_i sigma_i (7): the verified service rate. */
		class_cap[n->node_class] += n->service_rate_tasks_per_s;
		bool tier_seen[FAII_TIER_COUNT] = {false};
		for (uint8_t c = 1; c <= FAII_CATEGORY_COUNT; c++) {
			unsigned t = faii_category_tier(c) - 1;
			if ((n->eligibility >> (c - 1)) & 1 && !tier_seen[t]) {
				tier_seen[t] = true;
				cap[t] += limit;
			}
		}
	}
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		const struct faii_tier_policy *tp = &cfg->policy.tier[t];
		/* Outstanding work in node slots: a 7-replica task holds 7. */
		double out = (double)(total.tier_copies_taken[t] - total.tier_copies_returned[t]);
		double q = cap[t] > 0 ? out / cap[t] : (out > 0 ? 1.0 : 0.0);
		qs->outstanding[t] = out;
		qs->capacity[t] = cap[t];
		qs->q[t] = (1.0 - FAII_QUEUE_EWMA_WEIGHT) * qs->q[t] + FAII_QUEUE_EWMA_WEIGHT * q;
		qs->theta[t] = tp->factor * (1.0 + tp->congestion_gamma * qs->q[t]);
		qs->price[t] = cfg->policy.token_rate * tp->factor *
		               (1.0 + tp->congestion_gamma * qs->q[t]);
	}
	if (dt_s > 0) {
		measure_class_shares(a);
		for (unsigned c = 0; c < FAII_CLASS_COUNT; c++) {
			double rate =
			        (double)(total.class_copies[c] - a->prev_tier_copies[c]) / dt_s;
			a->prev_tier_copies[c] = total.class_copies[c];
			qs->class_util[c] = class_cap[c] > 0 ? rate / class_cap[c] : 0.0;
		}
		/* Demand per key for the congestion term, smoothed. */
		for (uint32_t r = 0; r < cfg->region_count; r++) {
			for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
				for (uint32_t c = 0; c < cfg->residency_class_count; c++) {
					uint32_t key = faii_route_key_index(
					        (uint8_t)r, cat, cfg->residency_classes[c].id);
					uint64_t sum = 0;
					for (unsigned w = 0; w < a->worker_count; w++)
						sum += a->workers[w].key_arrivals[key];
					double rate =
					        (double)(sum - a->prev_key_arrivals[key]) / dt_s;
					a->prev_key_arrivals[key] = sum;
					a->pub.arrival_rate[key] =
					        (1.0 - FAII_QUEUE_EWMA_WEIGHT) *
					                a->pub.arrival_rate[key] +
					        FAII_QUEUE_EWMA_WEIGHT * rate;
				}
			}
		}
	}
}

int faii_appliance_publish_keys(struct faii_appliance_dp *a)
{
	a->reg.auth_dirty = false;
	int rc = faii_keys_publish(&a->keys, a->reg.cfg, a->reg.capacity);
	if (rc != 0)
		a->reg.auth_dirty = true; /* again at the next tick */
	return rc == -EBUSY ? 0 : rc;
}

int faii_appliance_reload_keys(struct faii_appliance_dp *a, char *err, size_t errlen)
{
	if (faii_keys_reload(&a->keys, err, errlen) != 0)
		return -1;
	if (faii_appliance_publish_keys(a) != 0) {
		snprintf(err, errlen, "keys read, but the key set could not be published");
		return -1;
	}
	return 0;
}

int faii_appliance_install_keys(struct faii_appliance_dp *a, struct faii_keys_stage *s)
{
	faii_keys_stage_install(&a->keys, s);
	faii_keys_expire(&a->keys, faii_realtime_ns()); /* a deadline passed while reading */
	return faii_appliance_publish_keys(a);
}

int faii_appliance_publish(struct faii_appliance_dp *a)
{
	faii_registry_refresh(&a->reg);
	if (a->reg.residency_dirty)
		faii_appliance_sync_residency(a);
	int rc = faii_publisher_run(&a->pub);
	return rc == -EBUSY ? 0 : rc;
}

/* A worker's receipt as the leaf's fields (faii/settle_receipt.h). */
static void receipt_leaf_fields(const struct faii_receipt *in, struct faii_settle_receipt *out)
{
	memset(out, 0, sizeof(*out));
	out->task_id = in->task_id;
	out->client_id = in->client_id;
	out->finished_ms = in->finished_ns / 1000000u;
	out->latency_us = in->latency_us;
	out->tier = in->tier;
	out->verdict = in->verdict;
	out->replicas = in->replicas;
	out->answered = in->answered;
	out->ok = in->ok;
	out->agreed = in->agreed;
	out->in_slo = in->in_slo;
	out->status = in->status;
	memcpy(out->node_id, in->node_id, sizeof(out->node_id));
	memcpy(out->copy_latency_us, in->copy_latency_us, sizeof(out->copy_latency_us));
	memcpy(out->result_hash, in->result_hash, sizeof(out->result_hash));
}

static void drain_receipts(struct faii_appliance_dp *a)
{
	for (unsigned w = 0; w < a->worker_count; w++) {
		struct rte_ring *ring = a->dp.receipt_ring[w];
		struct faii_receipt batch[32];
		unsigned taken = 0, n;
		while (taken < FAII_RECEIPT_DRAIN_MAX &&
		       (n = rte_ring_sc_dequeue_burst_elem(ring, batch, sizeof(batch[0]), 32,
		                                           NULL)) > 0) {
			for (unsigned i = 0; i < n; i++) {
				struct faii_settle_receipt leaf;
				receipt_leaf_fields(&batch[i], &leaf);
				faii_work_add(&a->work, &leaf, batch[i].node);
			}
			taken += n;
		}
	}
}

void faii_appliance_work_step(struct faii_appliance_dp *a, uint64_t now_ms)
{
	/* The slice's end first: what the workers wrote since goes to the next. */
	if (faii_work_slice_due(&a->work, now_ms)) {
		fill_work_nodes(a);
		/* The tiers' normalised queues q_t of (32), as routing measures them. */
		for (uint32_t t = 0; t < FAII_TIER_COUNT; t++) {
			double q = a->queues.q[t] * 1e9;
			a->work.queue_ppb[t] = q <= 0     ? 0
			                       : q >= 4e9 ? FAII_SETTLE_QUEUE_PPB_MAX
			                                  : (uint32_t)q;
		}
		faii_work_close(&a->work, a->work_nodes, now_ms);
	}
	drain_receipts(a);
	if (a->on_work_summary != NULL)
		faii_work_flush(&a->work, a->on_work_summary, a->on_work_summary_ctx);
}

void faii_appliance_tick(struct faii_appliance_dp *a)
{
	faii_appliance_drain_slow(a);
	faii_appliance_work_step(a, faii_realtime_ns() / 1000000u);
	faii_publisher_reclaim(&a->pub);
	faii_keys_reclaim(&a->keys);
	if (faii_keys_expire(&a->keys, faii_realtime_ns())) /* an overlap ended */
		a->reg.auth_dirty = true;
	if (a->reg.auth_dirty) /* a REGISTER moved a node: its RESULTs follow it now */
		faii_appliance_publish_keys(a);
	double now = faii_monotonic_s();
	if ((now - a->last_publish_s) * 1000.0 >= FAII_PUBLISH_PERIOD_MS) {
		faii_appliance_measure(a, now - a->last_measure_s);
		a->last_measure_s = now;
		faii_appliance_publish(a);
		a->last_publish_s = now;
	}
}
