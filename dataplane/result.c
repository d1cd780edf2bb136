/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RESULT step: match the dispatch, measure, vote among replicas, forward
 * the majority once, credit the nodes and report disagreements as evidence.
 */
#include <string.h>

#include "pipeline.h"

/* ---- RESULT ------------------------------------------------------------------------ */

void pipe_release(struct faii_worker *w, struct faii_dispatch *r)
{
	if (r->task != NULL) {
		rte_pktmbuf_free(r->task);
		r->task = NULL;
	}
	if (r->replica_slot != NO_SLOT) {
		FAII_ASSERT(r->replica_slot < FAII_REPLICA_SLOTS);
		FAII_ASSERT(w->replica_free_count < FAII_REPLICA_SLOTS); /* no slot freed twice */
		w->replica_free[w->replica_free_count++] = r->replica_slot;
		r->replica_slot = NO_SLOT;
	}
}

/* The copies whose ok answer is the majority's hash (replica sets). */
static uint8_t agreeing_copies(const struct faii_dispatch *r,
                               const uint8_t (*hashes)[FAII_HASH_SIZE])
{
	uint8_t agreed = 0;
	const uint8_t *maj = hashes[r->majority - 1];
	for (unsigned j = 0; j < r->replicas; j++)
		if ((r->ok >> j) & 1 && memcmp(hashes[j], maj, FAII_HASH_SIZE) == 0)
			agreed |= (uint8_t)(1u << j);
	return agreed;
}

/*
 * The task's routing receipt onto the worker's ring (docs/settlement.md,
 * "Work summaries and receipts"): a fixed-size copy, no allocation; a full
 * ring drops it, counted, and the worker goes on.
 */
static void write_receipt(struct faii_worker *w, const struct faii_dispatch *r, uint64_t now_tsc,
                          uint8_t status, const uint8_t *single_hash)
{
	struct faii_dp *dp = w->dp;
	struct faii_receipt rc;
	memset(&rc, 0, sizeof(rc));
	rc.task_id = r->task_id;
	rc.client_id = r->client_id;
	rc.finished_ns = wall_ns(dp, now_tsc);
	uint64_t waited = tsc_to_us(dp, now_tsc - r->arrival_tsc);
	rc.latency_us = r->forwarded ? r->latency_us : (uint32_t)RTE_MIN(waited, UINT32_MAX);
	rc.tier = r->tier;
	rc.replicas = r->replicas;
	rc.status = status;
	rc.answered = r->replied;
	rc.ok = r->ok & r->replied;
	rc.in_slo = r->in_slo & rc.ok;
	const uint8_t(*hashes)[FAII_HASH_SIZE] = NULL;
	if (r->replica_slot != NO_SLOT)
		hashes = (const uint8_t(*)[FAII_HASH_SIZE])w->replica_hash[r->replica_slot];
	if (r->replicas == 1) {
		rc.agreed = rc.ok;
		rc.copy_latency_us[0] = rc.answered ? r->single_rtt_us : 0;
		if (rc.ok && single_hash != NULL)
			memcpy(rc.result_hash, single_hash, FAII_HASH_SIZE);
	} else if (r->majority != 0) {
		rc.agreed = agreeing_copies(r, hashes) & rc.ok;
		memcpy(rc.result_hash, hashes[r->majority - 1], FAII_HASH_SIZE);
	}
	for (unsigned j = 0; j < r->replicas; j++) {
		rc.node[j] = r->node[j];
		rc.node_id[j] = dp->live[r->node[j]].node_id;
		if (r->replicas > 1 && (rc.answered >> j) & 1)
			rc.copy_latency_us[j] = w->replica_rtt_us[r->replica_slot][j];
	}
	if (status == FAII_RESULT_TIMEOUT)
		rc.verdict = FAII_RECEIPT_EXPIRED;
	else if (r->replicas == 1)
		rc.verdict = FAII_RECEIPT_SINGLE;
	else
		rc.verdict = rc.agreed != 0 && rc.agreed == rc.ok ? FAII_RECEIPT_AGREED
		                                                  : FAII_RECEIPT_DISAGREED;
	if (rc.verdict == FAII_RECEIPT_EXPIRED) { /* nobody's answer reached the client */
		rc.agreed = 0;
		memset(rc.result_hash, 0, FAII_HASH_SIZE);
	}
	struct rte_ring *ring = dp->receipt_ring[w->index];
	if (ring != NULL && rte_ring_sp_enqueue_elem(ring, &rc, sizeof(rc)) == 0)
		w->stats.pipe[FAII_PIPE_RECEIPTS]++;
	else
		w->stats.pipe[FAII_PIPE_RECEIPTS_DROPPED]++;
}

void pipe_finish(struct faii_worker *w, uint32_t pos, uint64_t now_tsc, uint8_t status,
                 const uint8_t *single_hash)
{
	FAII_ASSERT(pos < FAII_DISPATCH_ENTRIES);
	struct faii_dispatch *r = &w->records[pos];
	FAII_ASSERT(r->state == REC_DISPATCHED); /* a task finishes once */
	FAII_ASSERT(single_hash == NULL || r->replicas == 1);
	write_receipt(w, r, now_tsc, status, single_hash);
	r->state = REC_DONE;
	pipe_release(w, r);
	/* Kept until its replay window ends; the wheel entry already pending
	 * for the deadline re-queues it for then. */
}

static void emit_evidence(struct faii_worker *w, const struct faii_dispatch *r, unsigned k,
                          uint8_t status, const uint8_t *hash, const uint8_t *majority,
                          const uint8_t (*hashes)[FAII_HASH_SIZE])
{
	struct faii_evidence ev = {
	        .task_id = r->task_id,
	        .node = r->node[k],
	        .node_id = w->dp->live[r->node[k]].node_id,
	        .replica_index = (uint8_t)k,
	        .replicas = r->replicas,
	        .status = status,
	        .answered = r->ok,
	        .tier = r->tier,
	        .category = r->category,
	};
	memcpy(ev.result_hash, hash, FAII_HASH_SIZE);
	memcpy(ev.majority_hash, majority, FAII_HASH_SIZE);
	FAII_ASSERT(r->replicas <= FAII_REPLICAS_MAX);
	for (unsigned j = 0; j < r->replicas; j++) {
		ev.set_node_id[j] = w->dp->live[r->node[j]].node_id;
		if ((r->ok >> j) & 1)
			memcpy(ev.set_hash[j], hashes[j], FAII_HASH_SIZE);
	}
	w->stats.pipe[FAII_PIPE_DISAGREEMENTS]++;
	ATOMIC_ADD(&w->dp->live[r->node[k]].disagreed, 1);
	if (rte_ring_mp_enqueue_elem(w->dp->evidence_ring, &ev, sizeof(ev)) != 0)
		w->stats.pipe[FAII_PIPE_EVIDENCE_LOST]++;
}

static void credit(struct faii_worker *w, const struct faii_dispatch *r, unsigned k)
{
	if (r->in_slo & (1u << k))
		ATOMIC_ADD(&w->dp->live[r->node[k]].verified_work[r->tier - 1], 1);
}

/* Sends the result in m to the task's client. */
static void forward(struct faii_worker *w, struct faii_dispatch *r, struct rte_mbuf *m,
                    const struct faii_frame_view *fv, uint64_t now_tsc)
{
	struct faii_worker_stats *st = &w->stats;
	uint64_t us = tsc_to_us(w->dp, now_tsc - r->arrival_tsc);
	st->latency_hist[r->tier - 1][faii_hist_bucket(us)]++;
	st->latency_sum_us[r->tier - 1] += us;
	if (us <= r->budget_us)
		st->tier_slo_met[r->tier - 1]++;
	st->tier_finished[r->tier - 1]++;
	r->forwarded = 1;
	r->latency_us = (uint32_t)RTE_MIN(us, UINT32_MAX);
	m->port = w->ports[r->rx_port_index];
	bool ipv6 = r->family == FAII_ADDR_IPV6;
	bool tagged = fv->l3_offset > FAII_ETH_HDR_LEN;
	/* Our datagram to the client: not the node's IPv4 options. */
	uint16_t cut = pipe_cut_ipv4_options(w, m, fv->l3_offset, fv->l4_offset);
	if (tagged == (bool)r->vlan && (fv->ip_version == 6) == ipv6) {
		/* The usual case: the same layout both ways, readdressed in place. */
		if (tagged) {
			uint16_t tci = faii_be16(r->vlan_tci);
			memcpy(rte_pktmbuf_mtod(m, uint8_t *) + 14, &tci, 2);
		}
		pipe_readdress(w, m, fv->l3_offset, (uint16_t)(fv->l4_offset - cut), ipv6,
		               r->client_mac, r->local_ip, r->local_port, r->client_ip,
		               r->client_port, 0, 0);
	} else if (pipe_emit(w, m, (uint16_t)(fv->msg_offset - cut), fv->msg.length, ipv6, r->vlan,
	                     r->vlan_tci, r->client_mac, r->local_ip, r->local_port, r->client_ip,
	                     r->client_port) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	st->pipe[FAII_PIPE_RESULTS_FORWARDED]++;
	tx_enqueue(w, r->rx_port_index, m);
}

/* A copy that will not answer (timeout): its node loses the task. */
void pipe_copy_failed(struct faii_worker *w, struct faii_dispatch *r, unsigned k)
{
	struct faii_node_live *lv = &w->dp->live[r->node[k]];
	outstanding_give_back(w, lv, r->tier);
	ATOMIC_ADD(&lv->failed, 1);
	ATOMIC_ADD(&lv->slo_total[r->tier - 1], 1);
	w->stats.pipe[FAII_PIPE_TIMEOUTS]++;
}

/* The answering node's address, as the frame says, against its registered one. */
static bool from_registered(const struct rte_mbuf *m, const struct faii_frame_view *fv,
                            const struct faii_auth_node *an)
{
	bool v6 = fv->ip_version == 6;
	if (an->addr_family != (v6 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4) ||
	    an->udp_port != fv->src_port)
		return false;
	const uint8_t *src = rte_pktmbuf_mtod(m, const uint8_t *) + fv->l3_offset + (v6 ? 8 : 12);
	return memcmp(src, an->addr, v6 ? 16 : 4) == 0;
}

/*
 * Who may answer copy k (docs/security.md): its node, from the node's
 * registered address and port, under the node's key, echoing the nonce that
 * copy was sent with. Read-only: a RESULT that fails here cannot touch the
 * record, so a forgery can neither finish a task nor make an honest answer
 * late. FAII_PIPE_COUNT when the RESULT is the node's.
 */
static enum faii_pipe_counter result_auth(const struct faii_worker *w, const struct rte_mbuf *m,
                                          const struct faii_frame_view *fv,
                                          const struct faii_dispatch *r, unsigned k)
{
	const struct faii_msg_view *msg = &fv->msg;
	const struct faii_auth_set *auth = w->auth;
	if (w->dp->auth_set == NULL)
		return FAII_PIPE_COUNT; /* version 1: the checks of the caller only */
	uint32_t node = r->node[k];
	if (auth == NULL || node >= auth->node_count)
		return FAII_PIPE_RESULT_BAD_KEY_EPOCH; /* no key published for it */
	const struct faii_auth_node *an = &auth->nodes[node];
	if (!from_registered(m, fv, an))
		return FAII_PIPE_RESULT_WRONG_SOURCE;
	const struct faii_auth_key *key = faii_auth_key_for(an->keys, msg->auth->key_epoch);
	if (key == NULL)
		return FAII_PIPE_RESULT_BAD_KEY_EPOCH;
	if (!faii_msg_mac_ok(msg, key->key))
		return FAII_PIPE_RESULT_BAD_MAC;
	if (memcmp(msg->auth->nonce, r->nonce[k], FAII_NONCE_SIZE) != 0)
		return FAII_PIPE_RESULT_BAD_TOKEN; /* not the copy this node was sent */
	return FAII_PIPE_COUNT;
}

/* Finds the record and checks the RESULT against it; FAII_PIPE_COUNT when
 * it may be counted and voted, else the drop reason. */
static enum faii_pipe_counter result_check(struct faii_worker *w, struct rte_mbuf *m,
                                           const struct faii_frame_view *fv, int32_t *pos_out)
{
	const struct faii_dp *dp = w->dp;
	const uint8_t *body = (const uint8_t *)fv->msg.result;
	/* A corrupted hash must not vote (it would make an honest node look
	 * byzantine), nor reach the client under a patched checksum. */
	enum faii_pipe_counter bad = pipe_check_checksums(m, fv, FAII_PIPE_RESULT_BAD_IP_CHECKSUM);
	if (bad != FAII_PIPE_COUNT)
		return bad;
	if ((dp->auth_set != NULL) != (fv->msg.version == FAII_VERSION_2))
		return dp->auth_set != NULL ? FAII_PIPE_RESULT_UNAUTHENTICATED : FAII_PIPE_AUTH_OFF;
	uint64_t task_id = load_be64(body + offsetof(struct faii_result, task_id));
	int32_t pos = rte_hash_lookup(w->dispatch, &task_id);
	*pos_out = pos;
	if (pos < 0)
		return FAII_PIPE_RESULT_UNKNOWN;
	const struct faii_dispatch *r = &w->records[pos];
	unsigned k = body[offsetof(struct faii_result, replica_index)];
	if (k >= r->replicas ||
	    dp->live[r->node[k]].node_id != load_be32(body + offsetof(struct faii_result, node_id)))
		return FAII_PIPE_RESULT_WRONG_NODE;
	enum faii_pipe_counter refused = result_auth(w, m, fv, r, k);
	if (refused != FAII_PIPE_COUNT)
		return refused;
	/* Authentic from here on: what remains is the node's own timing. */
	if (r->state != REC_DISPATCHED)
		return FAII_PIPE_RESULT_LATE;
	if (r->replied & (1u << k))
		return FAII_PIPE_RESULT_DUPLICATE;
	if (load_be64(body + offsetof(struct faii_result, dispatch_ts_ns)) !=
	    r->dispatch_ns[(r->second >> k) & 1])
		return FAII_PIPE_RESULT_BAD_ECHO;
	return FAII_PIPE_COUNT;
}

void pipe_handle_result(struct faii_worker *w, struct rte_mbuf *m, const struct faii_frame_view *fv,
                        const struct faii_route_set *set, uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	struct faii_worker_stats *st = &w->stats;
	const uint8_t *body = (const uint8_t *)fv->msg.result;
	int32_t pos = -1;
	enum faii_pipe_counter drop = result_check(w, m, fv, &pos);
	if (drop != FAII_PIPE_COUNT) {
		st->pipe[drop]++;
		rte_pktmbuf_free(m);
		return;
	}
	FAII_ASSERT(pos >= 0 && (uint32_t)pos < FAII_DISPATCH_ENTRIES);
	struct faii_dispatch *r = &w->records[pos];
	unsigned k = body[offsetof(struct faii_result, replica_index)];
	st->pipe[FAII_PIPE_RESULTS_MATCHED]++;
	FAII_ASSERT(r->replicas == 1 || r->replicas == 3 || r->replicas == FAII_REPLICAS_MAX);
	FAII_ASSERT(r->tier >= 1 && r->tier <= FAII_TIER_COUNT);
	FAII_ASSERT(r->node[k] < dp->node_capacity);

	unsigned attempt = (r->second >> k) & 1;
	uint64_t rtt_us = tsc_to_us(dp, now_tsc - r->dispatch_tsc[attempt]);
	uint8_t status = body[offsetof(struct faii_result, status)];
	bool ok = status == FAII_RESULT_OK;
	bool in_slo = ok && rtt_us <= r->budget_us;
	struct faii_node_live *lv = &dp->live[r->node[k]];
	r->replied |= (uint8_t)(1u << k);
	uint32_t rtt32 = (uint32_t)RTE_MIN(rtt_us, UINT32_MAX);
	if (r->replica_slot != NO_SLOT)
		w->replica_rtt_us[r->replica_slot][k] = rtt32; /* for the receipt */
	else
		r->single_rtt_us = rtt32;
	outstanding_give_back(w, lv, r->tier);
	ATOMIC_ADD(&lv->completed, 1);
	ATOMIC_ADD(&lv->slo_total[r->tier - 1], 1);
	if (in_slo)
		ATOMIC_ADD(&lv->slo_met[r->tier - 1], 1);
	/* EWMA of the round trip, overall and from the task's region. */
	uint32_t sample = rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
	if (sample == 0)
		sample = 1; /* 0 means "not measured" */
	_Atomic uint32_t *reg_lat =
	        &dp->latency_us[(size_t)r->node[k] * FAII_CFG_REGIONS_MAX + r->region_slot];
	uint32_t old = ATOMIC_LOAD(reg_lat);
	int64_t upd = old == 0
	                      ? sample
	                      : (int64_t)old + (((int64_t)sample - old) >> FAII_LATENCY_EWMA_SHIFT);
	atomic_store_explicit(reg_lat, (uint32_t)(upd > 0 ? upd : 1), memory_order_relaxed);
	old = ATOMIC_LOAD(&lv->latency_ewma_us);
	upd = old == 0 ? sample
	               : (int64_t)old + (((int64_t)sample - old) >> FAII_LATENCY_EWMA_SHIFT);
	atomic_store_explicit(&lv->latency_ewma_us, (uint32_t)(upd > 0 ? upd : 1),
	                      memory_order_relaxed);

	const uint8_t *hash = body + offsetof(struct faii_result, result_hash);
	if (!ok) {
		st->pipe[FAII_PIPE_NODE_ERRORS]++;
		ATOMIC_ADD(&lv->failed, 1);
		r->errors |= (uint8_t)(1u << k);
	} else {
		r->ok |= (uint8_t)(1u << k);
		if (in_slo)
			r->in_slo |= (uint8_t)(1u << k);
	}

	const uint8_t full = (uint8_t)((1u << r->replicas) - 1);
	/* Vote masks name copies of this task only, and a copy is in its SLO only
	 * if it answered ok. (A copy can have both an error, from its first
	 * attempt, and an ok, from the re-dispatch that error caused.) */
	FAII_ASSERT((r->replied & ~full) == 0 && (r->ok & ~full) == 0 && (r->errors & ~full) == 0);
	FAII_ASSERT((r->in_slo & ~r->ok) == 0);
	if (r->replicas == 1) {
		if (ok || attempt == 1 || r->task == NULL) {
			/* The answer, or the node's error after the retry. */
			if (ok)
				credit(w, r, 0);
			forward(w, r, m, fv, now_tsc);
			pipe_finish(w, (uint32_t)pos, now_tsc, status, ok ? hash : NULL);
		} else if (pipe_redispatch_copy(w, r, 0, set, now_tsc)) {
			/* An error on the first attempt: retried at once elsewhere. The
			 * pending wheel entry moves itself to the new deadline. */
			rte_pktmbuf_free(m);
			ATOMIC_ADD(&lv->redispatched, 1);
			r->attempt = 1;
			r->replied = 0;
			r->due_tick = tick_of(dp, now_tsc) + ticks_for_us(r->budget_us);
		} else {
			forward(w, r, m, fv, now_tsc);
			pipe_finish(w, (uint32_t)pos, now_tsc, status, NULL);
		}
		return;
	}

	FAII_ASSERT(r->replica_slot < FAII_REPLICA_SLOTS);
	FAII_ASSERT(r->quorum > r->replicas / 2 && r->quorum <= r->replicas);
	uint8_t(*hashes)[FAII_HASH_SIZE] = w->replica_hash[r->replica_slot];
	if (ok)
		memcpy(hashes[k], hash, FAII_HASH_SIZE);
	bool consumed = false;
	if (ok && r->majority == 0) {
		unsigned agree = 0;
		for (unsigned j = 0; j < r->replicas; j++)
			agree += (r->ok >> j) & 1 && memcmp(hashes[j], hash, FAII_HASH_SIZE) == 0;
		FAII_ASSERT(agree >= 1 && agree <= r->replicas); /* k agrees with itself */
		if (agree >= r->quorum) {
			r->majority = (uint8_t)(k + 1);
			for (unsigned j = 0; j < r->replicas; j++) {
				if (!((r->ok >> j) & 1))
					continue;
				if (memcmp(hashes[j], hash, FAII_HASH_SIZE) == 0)
					credit(w, r, j);
				else
					emit_evidence(w, r, j, FAII_RESULT_OK, hashes[j], hash,
					              hashes);
			}
			forward(w, r, m, fv, now_tsc);
			consumed = true;
		}
	} else if (ok) {
		const uint8_t *maj = hashes[r->majority - 1];
		if (memcmp(maj, hash, FAII_HASH_SIZE) == 0)
			credit(w, r, k);
		else
			emit_evidence(w, r, k, FAII_RESULT_OK, hash, maj, hashes);
	}
	if (!consumed)
		rte_pktmbuf_free(m);
	if (r->replied == full) {
		if (r->majority == 0) {
			st->pipe[FAII_PIPE_NO_QUORUM]++;
			st->tier_finished[r->tier - 1]++;
			pipe_answer_record(w, r, FAII_RESULT_NO_QUORUM, 0, 0);
		}
		pipe_finish(w, (uint32_t)pos, now_tsc,
		            r->majority != 0 ? FAII_RESULT_OK : FAII_RESULT_NO_QUORUM, NULL);
	}
}
