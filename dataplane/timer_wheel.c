/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The timer wheel (1 ms ticks): a copy not answered within its budget is
 * re-dispatched once to another node, then the client is answered; a finished
 * task is forgotten after its replay window.
 */
#include <string.h>

#include "pipeline.h"

/* ---- timeouts ---------------------------------------------------------------------- */

/* Sends copy k again to a node not yet used by this task. */
bool pipe_redispatch_copy(struct faii_worker *w, struct faii_dispatch *r, unsigned k,
                          const struct faii_route_set *set, uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	if (r->task == NULL || set == NULL)
		return false;
	const struct faii_route_dp_table *t =
	        faii_route_set_lookup(set, r->region, r->category, r->residency_class);
	if (t == NULL || t->count == 0)
		return false;
	struct task_need need = {
	        .budget_us = r->budget_us,
	        .min_reputation = r->min_reputation,
	        .family = r->family,
	        .exclude = r->node, /* every node the task has used */
	        .exclude_count = r->replicas,
	};
	struct rte_mbuf *c = rte_pktmbuf_copy(r->task, dp->pool, 0, UINT32_MAX);
	if (c == NULL) {
		w->stats.pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
		return false;
	}
	c->port = w->ports[r->rx_port_index];
	/* The held copy went to a node, whose UDP port is its own
	 * (nodes[].address), not necessarily the appliance's. */
	struct faii_frame_view fv;
	const void *frame = rte_pktmbuf_mtod(c, const void *);
	enum faii_drop d = faii_parse_frame(frame, rte_pktmbuf_data_len(c), dp->udp_port, &fv);
	if (d == FAII_DROP_WRONG_PORT)
		d = faii_parse_frame(frame, rte_pktmbuf_data_len(c), fv.dst_port, &fv);
	if (d != FAII_OK) {
		rte_pktmbuf_free(c);
		return false;
	}
	/* The held copy went to a node: its headers are ours now, so take the
	 * client-facing ones from the record. */
	struct frame_info fi;
	pipe_frame_info(c, &fv, &fi);
	memcpy(fi.dst_ip, r->local_ip, sizeof(fi.dst_ip));
	fi.dst_port = r->local_port;
	memcpy(fi.src_mac, r->client_mac, sizeof(fi.src_mac));
	uint64_t now_ns = wall_ns(dp, now_tsc);
	for (unsigned tries = 0; tries < 2 + (unsigned)t->count; tries++) {
		int alt = pipe_pick_one(w, t, &need);
		if (alt < 0)
			break;
		const struct faii_route_cand *cand = &t->cand[alt];
		uint8_t nonce[FAII_NONCE_SIZE] = {0};
		if (pipe_address_copy(w, c, &fi, cand, (uint8_t)k, r->replicas, 1, now_ns, nonce) ==
		            0 &&
		    judge(w, c) == FAII_RES_PASS_ALLOWED) {
			memcpy(r->nonce[k], nonce, FAII_NONCE_SIZE); /* the old copy's no longer */
			r->node[k] = cand->node;
			r->second |= (uint8_t)(1u << k);
			r->dispatch_ns[1] = now_ns;
			r->dispatch_tsc[1] = now_tsc;
			struct faii_node_live *lv = &dp->live[cand->node];
			outstanding_take(w, lv, r->tier);
			ATOMIC_ADD(&lv->dispatched, 1);
			w->stats.class_copies[cand->node_class]++;
			w->stats.pipe[FAII_PIPE_REDISPATCHED]++;
			w->stats.pipe[FAII_PIPE_COPIES_SENT]++;
			tx_enqueue(w, r->rx_port_index, c);
			return true;
		}
		w->stats.pipe[FAII_PIPE_RESIDENCY_REFUSED]++;
		need.excluded_cands |= 1ull << alt;
	}
	rte_pktmbuf_free(c);
	return false;
}

static void on_due(struct faii_worker *w, uint32_t pos, const struct faii_route_set *set,
                   uint64_t now_tsc, uint64_t tick)
{
	FAII_ASSERT(pos < FAII_DISPATCH_ENTRIES);
	struct faii_dispatch *r = &w->records[pos];
	struct faii_dp *dp = w->dp;
	FAII_ASSERT(r->state == REC_DISPATCHED ||
	            r->state == REC_DONE); /* wheel holds no free record */
	if (r->due_tick > tick) {
		wheel_insert(w, pos, r->due_tick); /* beyond the wheel's horizon */
		return;
	}
	if (r->state == REC_DONE) {
		uint64_t now_ns = wall_ns(dp, now_tsc);
		if (now_ns >= r->expire_ns)
			forget(w, pos);
		else
			wheel_insert(w, pos, tick + ticks_for_us((r->expire_ns - now_ns) / 1000u));
		return;
	}
	const uint8_t full = (uint8_t)((1u << r->replicas) - 1);
	uint8_t silent = (uint8_t)(full & ~r->replied);
	FAII_ASSERT(r->attempt <= 1 && (r->unsent & ~full) == 0);
	if (r->forwarded) {
		for (unsigned k = 0; k < r->replicas; k++) {
			if ((silent >> k) & 1 && !((r->unsent >> k) & 1))
				pipe_copy_failed(w, r, k);
		}
		pipe_finish(w, pos, now_tsc, FAII_RESULT_OK, NULL); /* the majority went out */
		wheel_insert(w, pos, tick);
		return;
	}
	if (r->attempt == 0) {
		r->attempt = 1;
		bool any = false;
		for (unsigned k = 0; k < r->replicas; k++) {
			if (!((silent >> k) & 1))
				continue;
			if (!((r->unsent >> k) & 1))
				pipe_copy_failed(w, r, k);
			ATOMIC_ADD(&dp->live[r->node[k]].redispatched, 1);
			if (pipe_redispatch_copy(w, r, k, set, now_tsc)) {
				r->unsent &= (uint8_t) ~(1u << k);
				any = true;
			} else {
				r->unsent |= (uint8_t)(1u << k); /* nobody left to ask */
			}
		}
		if (any) {
			/* The retry was sent now: a full budget from now, not from
			 * the tick being caught up (a late worker would otherwise
			 * time the retry out in this same pass). */
			wheel_insert(w, pos, tick_of(dp, now_tsc) + ticks_for_us(r->budget_us));
			return;
		}
	} else {
		for (unsigned k = 0; k < r->replicas; k++) {
			if ((silent >> k) & 1 && !((r->unsent >> k) & 1))
				pipe_copy_failed(w, r, k);
		}
	}
	w->stats.pipe[FAII_PIPE_TIMED_OUT_TASKS]++;
	w->stats.tier_finished[r->tier - 1]++;
	pipe_answer_record(w, r, FAII_RESULT_TIMEOUT, 0, 0);
	pipe_finish(w, pos, now_tsc, FAII_RESULT_TIMEOUT, NULL);
	wheel_insert(w, pos, tick);
}

void pipe_run_wheel(struct faii_worker *w, const struct faii_route_set *set, uint64_t now_tsc)
{
	uint64_t now_tick = tick_of(w->dp, now_tsc);
	/* Bounded catch-up: a worker that stalled processes at most one lap. */
	if (now_tick - w->wheel_tick > FAII_WHEEL_SLOTS)
		w->wheel_tick = now_tick - FAII_WHEEL_SLOTS;
	while (w->wheel_tick < now_tick) {
		uint64_t tick = ++w->wheel_tick;
		uint32_t slot = (uint32_t)(tick & (FAII_WHEEL_SLOTS - 1));
		uint32_t pos = w->wheel[slot];
		w->wheel[slot] = NO_SLOT;
		/* A slot's list holds each record once: at most every record. */
		uint32_t visited = 0;
		while (pos != NO_SLOT) {
			FAII_ASSERT(++visited <= FAII_DISPATCH_ENTRIES);
			uint32_t next = w->records[pos].wheel_next;
			on_due(w, pos, set, now_tsc, tick);
			pos = next;
		}
	}
}
