/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TASK step: expiry and replay, the key's table, 1, 3 or 7 nodes picked
 * by weighted draws corrected by live load and re-checked per packet, the
 * residency hook, the rewrite, the dispatch record.
 */
#include <string.h>

#include "pipeline.h"

/* ---- routing per packet: pick.c ---------------------------------------------------- */

int pipe_pick_one(struct faii_worker *w, const struct faii_route_dp_table *t,
                  const struct task_need *need)
{
	return faii_pick_one(w->dp->live, t, need, w->rng);
}

/* Stamps a TASK copy for candidate c and rebuilds its headers towards it. */
int pipe_address_copy(struct faii_worker *w, struct rte_mbuf *m, const struct frame_info *fi,
                      const struct faii_route_cand *c, uint8_t replica_index, uint8_t replicas,
                      uint8_t attempt, uint64_t dispatch_ns, uint8_t nonce[FAII_NONCE_SIZE])
{
	uint8_t *msg = rte_pktmbuf_mtod(m, uint8_t *) + fi->msg_offset;
	uint8_t *body = msg + FAII_HDR_SIZE;
	/* The words that change, at even offsets from the UDP header: flags,
	 * dispatch time and node id, (consistency, replica), (attempt, 0). */
	uint8_t *ts = body + offsetof(struct faii_task, dispatch_ts_ns);
	uint8_t *rep = body + offsetof(struct faii_task, consistency);
	_Static_assert(offsetof(struct faii_task, node_id) ==
	                       offsetof(struct faii_task, dispatch_ts_ns) + 8,
	               "dispatch time and node id are adjacent");
	_Static_assert(offsetof(struct faii_task, consistency) % 2 == 0 &&
	                       offsetof(struct faii_task, replica_index) ==
	                               offsetof(struct faii_task, consistency) + 1 &&
	                       offsetof(struct faii_task, attempt) ==
	                               offsetof(struct faii_task, consistency) + 2,
	               "replica index and attempt share two aligned words");
	/* Version 2: a fresh unguessable nonce per copy and attempt, at an
	 * even offset too; the client's MAC stays (nodes cannot check it). */
	bool v2 = msg[offsetof(struct faii_hdr, version)] == FAII_VERSION_2;
	uint8_t *tok = body + FAII_TASK_BODY_SIZE + offsetof(struct faii_auth_block, nonce);
	_Static_assert((FAII_HDR_SIZE + FAII_TASK_BODY_SIZE) % 2 == 0, "nonce at an even offset");
	uint32_t before = sum16(msg + 6, 2) + sum16(ts, 12) + sum16(rep, 4) +
	                  (v2 ? sum16(tok, FAII_NONCE_SIZE) : 0);
	if (v2) {
		nonce_next(w, nonce);
		memcpy(tok, nonce, FAII_NONCE_SIZE);
	}
	msg[6] = (uint8_t)(FAII_F_DISPATCHED | (replicas > 1 ? FAII_F_REPLICA : 0));
	store_be64(ts, dispatch_ns);
	store_be32(body + offsetof(struct faii_task, node_id), c->node_id);
	body[offsetof(struct faii_task, replica_index)] = replica_index;
	body[offsetof(struct faii_task, attempt)] = attempt;
	uint32_t after = sum16(msg + 6, 2) + sum16(ts, 12) + sum16(rep, 4) +
	                 (v2 ? sum16(tok, FAII_NONCE_SIZE) : 0);
	if (c->addr_family != (fi->ipv6 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4))
		return -1;
	/* The address the client used is ours: the node answers to it. */
	pipe_readdress(w, m, fi->l3_offset, fi->l4_offset, fi->ipv6, fi->src_mac, fi->dst_ip,
	               fi->dst_port, c->addr, c->udp_port, before, after);
	return 0;
}

/* ---- TASK -------------------------------------------------------------------------- */

/*
 * The client's MAC, before anything else: a TASK that fails it gets no
 * answer (its source may be spoofed: answering would make us a reflector)
 * and touches no state. FAII_PIPE_COUNT when the TASK may go on.
 */
static enum faii_pipe_counter task_auth(const struct faii_worker *w,
                                        const struct faii_msg_view *msg)
{
	if (w->dp->auth_set == NULL)
		return msg->version == FAII_VERSION ? FAII_PIPE_COUNT : FAII_PIPE_AUTH_OFF;
	if (msg->auth == NULL)
		return FAII_PIPE_TASK_UNAUTHENTICATED;
	const struct faii_auth_client *c =
	        w->auth ? faii_auth_client_find(w->auth, load_be64(&msg->task->client_id)) : NULL;
	if (c == NULL)
		return FAII_PIPE_TASK_UNKNOWN_CLIENT;
	const struct faii_auth_key *k = faii_auth_key_for(c->keys, msg->auth->key_epoch);
	if (k == NULL)
		return FAII_PIPE_TASK_BAD_KEY_EPOCH;
	if (!faii_msg_mac_ok(msg, k->key))
		return FAII_PIPE_TASK_BAD_MAC;
	return FAII_PIPE_COUNT;
}

void pipe_handle_task(struct faii_worker *w, struct rte_mbuf *m, unsigned port_index,
                      const struct faii_frame_view *fv, const struct faii_route_set *set,
                      uint64_t now_tsc)
{
	struct faii_dp *dp = w->dp;
	struct faii_worker_stats *st = &w->stats;
	const uint8_t *body = (const uint8_t *)fv->msg.task;
	uint64_t task_id = load_be64(body + offsetof(struct faii_task, task_id));

	if (fv->msg.hdr->flags & FAII_F_DISPATCHED) {
		st->pipe[FAII_PIPE_TASK_DISPATCHED_FLAG]++; /* only the appliance dispatches */
		rte_pktmbuf_free(m);
		return;
	}
	/* Checksums first: the copies are patched from these bytes. Then the
	 * MAC; a failure of either gets no answer (nothing to trust in it). */
	enum faii_pipe_counter refused =
	        pipe_check_checksums(m, fv, FAII_PIPE_TASK_BAD_IP_CHECKSUM);
	if (refused == FAII_PIPE_COUNT)
		refused = task_auth(w, &fv->msg);
	if (refused != FAII_PIPE_COUNT) {
		st->pipe[refused]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* The copies are our datagrams: a 20-byte IPv4 header, not the client's
	 * options (the message does not move; the headers before it do). */
	uint16_t cut = pipe_cut_ipv4_options(w, m, fv->l3_offset, fv->l4_offset);
	struct frame_info fi;
	pipe_frame_info(m, fv, &fi);
	fi.l4_offset = (uint16_t)(fi.l4_offset - cut);
	fi.msg_offset = (uint16_t)(fi.msg_offset - cut);
	uint64_t now_ns = wall_ns(dp, now_tsc);
	uint64_t submit = load_be64(body + offsetof(struct faii_task, submit_ts_ns));
	uint32_t budget_us = load_be32(body + offsetof(struct faii_task, latency_budget_us));
	uint64_t expire = submit + (uint64_t)budget_us * 1000u;
	if (expire < now_ns || submit > now_ns + FAII_CLOCK_SKEW_NS) {
		/* Answered, so the client knows; a replay (below) is not, since
		 * answering it would amplify whoever replays. */
		st->pipe[FAII_PIPE_TASK_EXPIRED]++;
		pipe_answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
		return;
	}
	hash_sig_t sig = rte_hash_crc_8byte(task_id, 0);
	if (rte_hash_lookup_with_hash(w->dispatch, &task_id, sig) >= 0) {
		st->pipe[FAII_PIPE_TASK_REPLAY]++;
		rte_pktmbuf_free(m);
		return;
	}
	uint8_t category = body[offsetof(struct faii_task, category)];
	uint8_t tier = body[offsetof(struct faii_task, tier)];
	uint8_t consistency = body[offsetof(struct faii_task, consistency)];
	uint16_t region = load_be16(body + offsetof(struct faii_task, origin_region));
	uint16_t rclass = load_be16(body + offsetof(struct faii_task, residency_class));
	st->category_tasks[category - 1]++;

	const struct faii_route_dp_table *t =
	        set ? faii_route_set_lookup(set, region, category, rclass) : NULL;
	if (t == NULL) {
		st->pipe[FAII_PIPE_TASK_UNKNOWN_KEY]++;
		pipe_answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_NO_FEASIBLE_NODE);
		return;
	}
	uint8_t rslot = set->region_slot[region];
	unsigned replicas = faii_consistency_replicas(consistency);
	/* Demand in node slots: a 7-replica task loads the fleet 7 times. */
	w->key_arrivals[faii_route_key_index(rslot, category, rclass)] += replicas;

	uint16_t chosen[FAII_REPLICAS_MAX];
	struct task_need need = {
	        .budget_us = budget_us,
	        .min_reputation =
	                load_be16(body + offsetof(struct faii_task, min_reputation_milli)),
	        .family = fi.ipv6 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4,
	};
	unsigned got = t->count ? faii_pick_set(dp->live, t, &need, replicas, chosen, w->rng) : 0;
	if (got < replicas) {
		st->pipe[FAII_PIPE_NO_FEASIBLE]++;
		pipe_answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_NO_FEASIBLE_NODE);
		return;
	}
	int32_t pos = rte_hash_add_key_with_hash(w->dispatch, &task_id, sig);
	if (pos < 0) {
		st->pipe[FAII_PIPE_TABLE_FULL]++;
		pipe_answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
		return;
	}
	uint32_t rslot_pool = NO_SLOT;
	if (replicas > 1) {
		if (w->replica_free_count == 0) {
			rte_hash_del_key_with_hash(w->dispatch, &task_id, sig);
			st->pipe[FAII_PIPE_REPLICA_POOL_EMPTY]++;
			pipe_answer_task(w, m, port_index, &fi, task_id, FAII_RESULT_REFUSED);
			return;
		}
		rslot_pool = w->replica_free[--w->replica_free_count];
	}

	FAII_ASSERT((uint32_t)pos < FAII_DISPATCH_ENTRIES);
	struct faii_dispatch *r = &w->records[pos];
	FAII_ASSERT(r->state == REC_FREE); /* the hash gave a position nobody holds */
	FAII_ASSERT(replicas >= 1 && replicas <= FAII_REPLICAS_MAX);
	memset(r, 0, sizeof(*r));
	r->task_id = task_id;
	r->client_id = load_be64(body + offsetof(struct faii_task, client_id));
	r->expire_ns = expire;
	r->arrival_tsc = now_tsc;
	r->dispatch_ns[0] = now_ns;
	r->dispatch_tsc[0] = now_tsc;
	r->replica_slot = rslot_pool;
	r->budget_us = budget_us;
	r->region = region;
	r->residency_class = rclass;
	r->min_reputation = need.min_reputation;
	r->client_port = fi.src_port;
	r->local_port = fi.dst_port;
	r->vlan_tci = fi.vlan_tci;
	r->vlan = fi.vlan;
	r->category = category;
	r->tier = tier;
	r->replicas = (uint8_t)replicas;
	r->quorum = faii_consistency_quorum(consistency);
	r->state = REC_DISPATCHED;
	r->region_slot = rslot;
	r->family = need.family;
	r->rx_port_index = (uint8_t)port_index;
	memcpy(r->client_mac, fi.src_mac, 6);
	memcpy(r->client_ip, fi.src_ip, fi.ipv6 ? 16 : 4);
	memcpy(r->local_ip, fi.dst_ip, fi.ipv6 ? 16 : 4);
	w->records_in_use++;
	FAII_ASSERT(w->records_in_use <= FAII_DISPATCH_ENTRIES);
	FAII_ASSERT(r->quorum >= 1 && r->quorum <= r->replicas);

	/* Copies first, from the client's bytes; the original goes last. */
	struct rte_mbuf *copies[FAII_REPLICAS_MAX];
	copies[replicas - 1] = m;
	for (unsigned k = 0; k + 1 < replicas; k++) {
		copies[k] = rte_pktmbuf_copy(m, dp->pool, 0, UINT32_MAX);
		if (copies[k] == NULL)
			st->pipe[FAII_PIPE_MBUF_EXHAUSTED]++;
	}
	/* The frame info points into m, which is rewritten last. */
	for (unsigned k = 0; k < replicas; k++) {
		struct rte_mbuf *c = copies[k];
		r->node[k] = t->cand[chosen[k]].node;
		if (c == NULL) {
			r->unsent |= (uint8_t)(1u << k); /* re-dispatched at the deadline */
			continue;
		}
		c->port = m->port;
		bool sent = false;
		for (unsigned tries = 0; tries <= t->count; tries++) {
			const struct faii_route_cand *cand = &t->cand[chosen[k]];
			r->node[k] = cand->node;
			if (pipe_address_copy(w, c, &fi, cand, (uint8_t)k, (uint8_t)replicas, 0,
			                      now_ns, r->nonce[k]) == 0 &&
			    judge(w, c) == FAII_RES_PASS_ALLOWED) {
				sent = true;
				break;
			}
			/* Defence in depth: the table holds only allowed nodes, so a
			 * refusal means the policy changed under us. Never send it. */
			st->pipe[FAII_PIPE_RESIDENCY_REFUSED]++;
			int alt = pipe_pick_one(w, t, &need); /* refused ones stay excluded */
			if (alt < 0)
				break;
			chosen[k] = (uint16_t)alt;
			need.excluded_cands |= 1ull << alt;
		}
		if (!sent) {
			r->node[k] = t->cand[chosen[k]].node;
			if (c == m)
				m = NULL; /* nothing to hold: re-dispatch will find no copy */
			rte_pktmbuf_free(c);
			copies[k] = NULL;
			r->unsent |= (uint8_t)(1u << k);
			continue;
		}
		struct faii_node_live *lv = &dp->live[r->node[k]];
		outstanding_take(w, lv, tier);
		ATOMIC_ADD(&lv->dispatched, 1);
		st->class_copies[t->cand[chosen[k]].node_class]++;
		st->pipe[FAII_PIPE_COPIES_SENT]++;
	}
	if (r->unsent == (uint8_t)((1u << replicas) - 1)) {
		/* Every copy refused (the residency policy changed under the
		 * tables) or unbuilt: nothing left, so say so now, not after a
		 * timeout, and forget the task. */
		st->pipe[FAII_PIPE_NO_FEASIBLE]++;
		pipe_answer_record(w, r, FAII_RESULT_NO_FEASIBLE_NODE, 0, 0);
		pipe_release(w, r);
		int32_t deleted = rte_hash_del_key_with_hash(w->dispatch, &task_id, sig);
		FAII_ASSERT(deleted == pos);
		FAII_ASSERT(w->records_in_use > 0);
		r->state = REC_FREE;
		w->records_in_use--;
		return;
	}
	/* Hold the last copy for a re-dispatch after a timeout. */
	if (m != NULL) {
		rte_mbuf_refcnt_update(m, 1);
		r->task = m;
	}
	for (unsigned k = 0; k < replicas; k++) {
		if (copies[k] != NULL)
			tx_enqueue(w, port_index, copies[k]);
	}
	st->pipe[FAII_PIPE_TASKS_DISPATCHED]++;
	st->tier_dispatched[tier - 1]++;
	wheel_insert(w, (uint32_t)pos, tick_of(dp, now_tsc) + ticks_for_us(budget_us));
}
