/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node registry: see include/faii/registry.h. Control thread only.
 */
#include "faii/registry.h"
#include "faii/assert.h"

#include "faii/clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

const char *faii_slow_outcome_name(enum faii_slow_outcome o)
{
	static const char *const names[FAII_SLOW_OUTCOME_COUNT] = {
#define FAII_SLOW_OUTCOME_NAME(sym, name) [FAII_SLOW_##sym] = name,
	        FAII_SLOW_OUTCOMES(FAII_SLOW_OUTCOME_NAME)
#undef FAII_SLOW_OUTCOME_NAME
	};
	return (unsigned)o < FAII_SLOW_OUTCOME_COUNT ? names[o] : "invalid";
}

static uint32_t load_limit(const struct faii_cfg_node *n, uint32_t load_permille)
{
	/* The service rate sigma_i (7), the declared capacity unless configured. */
	double limit = n->service_rate_tasks_per_s * FAII_LOAD_WINDOW_S;
	if (limit < FAII_LOAD_LIMIT_MIN)
		limit = FAII_LOAD_LIMIT_MIN;
	/* A node that reports itself busy gets only its spare share. */
	if (load_permille > 0)
		limit *= (double)(FAII_PERMILLE -
		                  (load_permille > FAII_PERMILLE ? FAII_PERMILLE : load_permille)) /
		         FAII_PERMILLE;
	return limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
}

static void init_slot(struct faii_registry *reg, uint32_t slot)
{
	const struct faii_cfg_node *n = &reg->cfg->nodes[slot];
	struct faii_route_node_state *st = &reg->state[slot];
	struct faii_node_live *lv = &reg->live[slot];
	st->status = n->status;
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		st->slo_success[t] = reg->cfg->policy.tier[t].slo_target;
	for (uint32_t r = 0; r < reg->cfg->region_count; r++)
		st->latency_us[r] = faii_route_latency_prior_us(&reg->cfg->regions[r], n);
	lv->node_id = n->id;
	atomic_store_explicit(&lv->jurisdiction, n->jurisdiction, memory_order_relaxed);
	atomic_store_explicit(&lv->status, n->status, memory_order_relaxed);
	atomic_store_explicit(&lv->limit, load_limit(n, 0), memory_order_relaxed);
	double rep = n->reputation * FAII_PERMILLE;
	atomic_store_explicit(&lv->reputation_milli, (uint16_t)(rep + 0.5), memory_order_relaxed);
}

int faii_registry_init(struct faii_registry *reg, struct faii_config *cfg, uint32_t extra,
                       char err[FAII_CFG_ERR_LEN])
{
	memset(reg, 0, sizeof(*reg));
	reg->cfg = cfg;
	reg->clock = &faii_clock_system;
	reg->start_ns = faii_clock_realtime_ns(reg->clock);
	uint64_t cap = (uint64_t)cfg->node_count + extra;
	reg->capacity = (uint32_t)(cap > FAII_CFG_NODES_MAX ? FAII_CFG_NODES_MAX : cap);
	if (reg->capacity == 0)
		reg->capacity = 1;
	reg->state = calloc(reg->capacity, sizeof(*reg->state));
	reg->signals = calloc(reg->capacity, sizeof(*reg->signals));
	reg->live = rte_zmalloc("faii_node_live", reg->capacity * sizeof(*reg->live), 64);
	reg->latency_us =
	        rte_zmalloc("faii_node_latency",
	                    (size_t)reg->capacity * FAII_CFG_REGIONS_MAX * sizeof(uint32_t), 64);
	struct rte_hash_parameters hp = {
	        .name = "faii_nodes_by_id",
	        .entries = reg->capacity < 8 ? 8 : reg->capacity,
	        .key_len = sizeof(uint32_t),
	        .hash_func = rte_hash_crc,
	        .socket_id = (int)rte_socket_id(),
	        /* Workers look nodes up (the residency hook) while the control
	         * thread adds them. */
	        .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	reg->by_id = rte_hash_create(&hp);
	if (!reg->state || !reg->signals || !reg->live || !reg->latency_us || !reg->by_id) {
		snprintf(err, FAII_CFG_ERR_LEN, "registry: out of memory for %u nodes",
		         reg->capacity);
		faii_registry_fini(reg);
		return -1;
	}
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		uint32_t id = cfg->nodes[i].id;
		if (rte_hash_lookup(reg->by_id, &id) >= 0) {
			snprintf(err, FAII_CFG_ERR_LEN, "%s: nodes[%u]: node id %u appears twice",
			         cfg->path, i, id);
			faii_registry_fini(reg);
			return -1;
		}
		if (rte_hash_add_key_data(reg->by_id, &id, (void *)(uintptr_t)i) != 0) {
			snprintf(err, FAII_CFG_ERR_LEN, "registry: cannot index node %u", id);
			faii_registry_fini(reg);
			return -1;
		}
		init_slot(reg, i);
	}
	return 0;
}

void faii_registry_fini(struct faii_registry *reg)
{
	rte_hash_free(reg->by_id);
	rte_free(reg->live);
	rte_free(reg->latency_us);
	free(reg->state);
	free(reg->signals);
	faii_config_free(reg->cfg);
	memset(reg, 0, sizeof(*reg));
}

int32_t faii_registry_add(struct faii_registry *reg, const struct faii_cfg_node *node)
{
	int32_t slot = faii_registry_find(reg, node->id);
	if (slot >= 0) {
		if (reg->cfg->nodes[slot].status != FAII_NODE_REMOVED)
			return -EEXIST;
	} else {
		if (reg->cfg->node_count >= reg->capacity)
			return -ENOSPC;
		slot = (int32_t)reg->cfg->node_count;
		uint32_t id = node->id;
		if (rte_hash_add_key_data(reg->by_id, &id, (void *)(uintptr_t)slot) != 0)
			return -ENOSPC;
		reg->cfg->node_count++;
	}
	FAII_ASSERT(slot >= 0 && (uint32_t)slot < reg->cfg->node_count &&
	            reg->cfg->node_count <= reg->capacity);
	reg->cfg->nodes[slot] = *node;
	FAII_ASSERT(faii_registry_find(reg, node->id) == slot); /* id -> slot is one to one */
	memset(&reg->signals[slot], 0, sizeof(reg->signals[slot]));
	/* Counters of a previous life of the slot stay: they are cumulative. */
	uint32_t total[FAII_TIER_COUNT], met[FAII_TIER_COUNT];
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		total[t] = atomic_load(&reg->live[slot].slo_total[t]);
		met[t] = atomic_load(&reg->live[slot].slo_met[t]);
		reg->signals[slot].slo_total_prev[t] = total[t];
		reg->signals[slot].slo_met_prev[t] = met[t];
	}
	for (uint32_t r = 0; r < FAII_CFG_REGIONS_MAX; r++)
		atomic_store(&reg->latency_us[(size_t)slot * FAII_CFG_REGIONS_MAX + r], 0);
	init_slot(reg, (uint32_t)slot);
	reg->residency_dirty = true;
	reg->auth_dirty = true;
	return slot;
}

void faii_registry_update(struct faii_registry *reg, uint32_t slot,
                          const struct faii_cfg_node *node)
{
	FAII_ASSERT(slot < reg->cfg->node_count);
	FAII_ASSERT(node->id == reg->cfg->nodes[slot].id); /* a slot keeps its node */
	struct faii_cfg_node *n = &reg->cfg->nodes[slot];
	/* The jurisdiction is the node's policy, the port makes its copies
	 * faii to the residency program. */
	if (n->jurisdiction != node->jurisdiction || n->udp_port != node->udp_port)
		reg->residency_dirty = true;
	reg->auth_dirty = true; /* key, address or status may have changed */
	*n = *node;
	struct faii_node_live *lv = &reg->live[slot];
	atomic_store_explicit(&lv->status, n->status, memory_order_release);
	atomic_store_explicit(&lv->jurisdiction, n->jurisdiction, memory_order_release);
	atomic_store_explicit(&lv->limit, load_limit(n, reg->signals[slot].load_permille),
	                      memory_order_relaxed);
	atomic_store_explicit(&lv->reputation_milli,
	                      (uint16_t)(n->reputation * FAII_PERMILLE + 0.5),
	                      memory_order_relaxed);
	reg->state[slot].status = n->status;
}

int32_t faii_registry_find(const struct faii_registry *reg, uint32_t node_id)
{
	void *data = NULL;
	if (rte_hash_lookup_data(reg->by_id, &node_id, &data) < 0)
		return -1;
	uint32_t slot = (uint32_t)(uintptr_t)data;
	FAII_ASSERT(slot < reg->cfg->node_count && reg->cfg->nodes[slot].id == node_id);
	return (int32_t)slot;
}

int faii_registry_set_status(struct faii_registry *reg, uint32_t slot, uint8_t status)
{
	if (slot >= reg->cfg->node_count || status > FAII_NODE_REMOVED)
		return -EINVAL;
	if ((status == FAII_NODE_REMOVED) != (reg->cfg->nodes[slot].status == FAII_NODE_REMOVED))
		reg->residency_dirty = reg->auth_dirty = true;
	reg->cfg->nodes[slot].status = status;
	reg->state[slot].status = status;
	/* Workers re-check it per packet: a drained node gets nothing new from
	 * now on, not from the next published table. */
	atomic_store_explicit(&reg->live[slot].status, status, memory_order_release);
	return 0;
}

int faii_registry_set_reputation(struct faii_registry *reg, uint32_t slot, double reputation)
{
	if (slot >= reg->cfg->node_count || !(reputation >= 0.0 && reputation <= 1.0))
		return -EINVAL;
	reg->cfg->nodes[slot].reputation = reputation;
	atomic_store_explicit(&reg->live[slot].reputation_milli,
	                      (uint16_t)(reputation * FAII_PERMILLE + 0.5), memory_order_relaxed);
	return 0;
}

static enum faii_slow_outcome apply_heartbeat(struct faii_registry *reg, uint32_t slot,
                                              const struct faii_msg_view *msg, uint64_t now_ns)
{
	struct faii_heartbeat hb;
	faii_decode_heartbeat(msg, &hb);
	struct faii_node_signals *sig = &reg->signals[slot];
	if (sig->heartbeat_ns != 0 && hb.seq <= sig->heartbeat_seq)
		return FAII_SLOW_STALE_SEQUENCE; /* a replayed or reordered heartbeat */
	sig->heartbeat_seq = hb.seq;
	sig->heartbeat_ns = now_ns;
	sig->heartbeats++;
	sig->load_permille = hb.load_permille;
	atomic_store_explicit(&reg->live[slot].limit,
	                      load_limit(&reg->cfg->nodes[slot], hb.load_permille),
	                      memory_order_relaxed);
	return FAII_SLOW_ACCEPTED;
}

static enum faii_slow_outcome apply_attest(struct faii_registry *reg, uint32_t slot,
                                           const struct faii_msg_view *msg, uint64_t now_ns)
{
	struct faii_attest at;
	faii_decode_attest(msg, &at);
	struct faii_node_signals *sig = &reg->signals[slot];
	if (sig->attest_ns != 0 && at.seq <= sig->attest_seq)
		return FAII_SLOW_STALE_SEQUENCE;
	sig->attest_seq = at.seq;
	sig->attest_ns = now_ns;
	struct faii_cfg_esg *esg = &reg->cfg->nodes[slot].esg;
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		esg->source_mix[s] = at.source_mix_permille[s] / 1000.0;
	esg->pue = at.pue_milli / 1000.0;
	esg->energy_to_work = at.energy_to_work_milli / 1000.0;
	esg->grid_stress = at.grid_stress_permille / 1000.0;
	return FAII_SLOW_ACCEPTED;
}

static enum faii_slow_outcome apply_register(struct faii_registry *reg, uint32_t slot,
                                             const struct faii_msg_view *msg)
{
	struct faii_register r;
	faii_decode_register(msg, &r);
	struct faii_config *cfg = reg->cfg;
	struct faii_cfg_node *n = &cfg->nodes[slot];
	if (memcmp(r.public_key, n->public_key, FAII_PUBKEY_SIZE) != 0)
		return FAII_SLOW_KEY_MISMATCH; /* keys change through the operator only */
	/* REGISTER has no sequence number: its timestamp orders it. An old
	 * registration replayed would move the node back (address, country). */
	if (r.timestamp_ns <= reg->signals[slot].register_ts_ns)
		return FAII_SLOW_STALE_SEQUENCE;
	reg->signals[slot].register_ts_ns = r.timestamp_ns;
	int jurisdiction = -1;
	for (uint32_t j = 0; j < cfg->jurisdiction_count; j++) {
		if (memcmp(cfg->jurisdictions[j].country, r.country, 2) == 0)
			jurisdiction = (int)j;
	}
	if (jurisdiction < 0)
		return FAII_SLOW_UNKNOWN_JURISDICTION;
	if (faii_config_region(cfg, r.region) == NULL)
		return FAII_SLOW_UNKNOWN_REGION;
	if (n->jurisdiction != (uint8_t)jurisdiction)
		reg->residency_dirty = true;
	n->jurisdiction = (uint8_t)jurisdiction;
	atomic_store_explicit(&reg->live[slot].jurisdiction, n->jurisdiction, memory_order_release);
	n->region_id = r.region;
	n->node_class = r.node_class;
	n->eligibility = r.eligibility;
	n->asn = r.asn;
	n->capacity_tasks_per_s = r.capacity_tasks_per_s;
	if (!n->service_rate_configured)
		n->service_rate_tasks_per_s = r.capacity_tasks_per_s;
	n->price = r.price_micro / 1e6;
	if (n->addr_family != r.addr_family || n->udp_port != r.udp_port ||
	    memcmp(n->addr, r.addr, sizeof(n->addr)) != 0)
		reg->auth_dirty = true; /* RESULTs must now come from the new address */
	n->addr_family = r.addr_family;
	memcpy(n->addr, r.addr, sizeof(n->addr));
	if (n->udp_port != r.udp_port)
		reg->residency_dirty = true; /* the program's port map follows */
	n->udp_port = r.udp_port;
	atomic_store_explicit(&reg->live[slot].limit,
	                      load_limit(n, reg->signals[slot].load_permille),
	                      memory_order_relaxed);
	return FAII_SLOW_ACCEPTED;
}

enum faii_slow_outcome faii_registry_apply(struct faii_registry *reg,
                                           const struct faii_msg_view *msg, uint64_t now_ns)
{
	uint32_t node_id;
	switch (msg->type) {
	case FAII_MSG_HEARTBEAT: node_id = faii_be32(msg->heartbeat->node_id); break;
	case FAII_MSG_ATTEST: node_id = faii_be32(msg->attest->node_id); break;
	case FAII_MSG_REGISTER: node_id = faii_be32(msg->reg->node_id); break;
	default: return FAII_SLOW_NOT_SLOW_PATH;
	}
	uint64_t ts = 0;
	switch (msg->type) {
	case FAII_MSG_HEARTBEAT: ts = faii_be64(msg->heartbeat->timestamp_ns); break;
	case FAII_MSG_ATTEST: ts = faii_be64(msg->attest->timestamp_ns); break;
	default: ts = faii_be64(msg->reg->timestamp_ns); break;
	}
	enum faii_slow_outcome out;
	int32_t slot = faii_registry_find(reg, node_id);
	if (slot < 0) {
		out = FAII_SLOW_UNKNOWN_NODE;
	} else if (ts + FAII_SIGNAL_SKEW_NS < now_ns || ts > now_ns + FAII_SIGNAL_SKEW_NS) {
		out = FAII_SLOW_STALE_TIMESTAMP;
	} else if (msg->type == FAII_MSG_REGISTER
	                   ? faii_msg_verify(msg, msg->reg->public_key) != 0
	                   : faii_msg_verify(msg, reg->cfg->nodes[slot].public_key) != 0) {
		/* REGISTER is checked under the key it carries, then that key
		 * must be the registered one (apply_register). */
		out = FAII_SLOW_BAD_SIGNATURE;
	} else if (msg->type == FAII_MSG_HEARTBEAT) {
		out = apply_heartbeat(reg, (uint32_t)slot, msg, now_ns);
	} else if (msg->type == FAII_MSG_ATTEST) {
		out = apply_attest(reg, (uint32_t)slot, msg, now_ns);
	} else {
		out = apply_register(reg, (uint32_t)slot, msg);
	}
	reg->slow[out][msg->type]++;
	return out;
}

uint64_t faii_registry_signal_age_ns(const struct faii_registry *reg, uint64_t signal_ns,
                                     uint64_t now_ns)
{
	/* Until a node has spoken, its age counts from the appliance's start:
	 * the configuration stands for its first attestation. */
	uint64_t since = signal_ns > reg->start_ns ? signal_ns : reg->start_ns;
	return now_ns > since ? now_ns - since : 0;
}

void faii_registry_refresh(struct faii_registry *reg)
{
	const struct faii_config *cfg = reg->cfg;
	uint64_t now = faii_clock_realtime_ns(reg->clock);
	uint64_t hb_stale = (uint64_t)cfg->appliance.heartbeat_stale_s * 1000000000ull;
	uint64_t at_stale = (uint64_t)cfg->appliance.attest_stale_s * 1000000000ull;
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		struct faii_route_node_state *st = &reg->state[i];
		struct faii_node_live *lv = &reg->live[i];
		struct faii_node_signals *sig = &reg->signals[i];
		st->status = cfg->nodes[i].status;
		st->stale_heartbeat =
		        hb_stale != 0 &&
		        faii_registry_signal_age_ns(reg, sig->heartbeat_ns, now) > hb_stale;
		st->stale_attest = at_stale != 0 &&
		                   faii_registry_signal_age_ns(reg, sig->attest_ns, now) > at_stale;
		for (uint32_t r = 0; r < cfg->region_count; r++) {
			uint32_t us = atomic_load_explicit(
			        &reg->latency_us[(size_t)i * FAII_CFG_REGIONS_MAX + r],
			        memory_order_relaxed);
			st->latency_us[r] = us != FAII_LATENCY_UNKNOWN
			                            ? us
			                            : faii_route_latency_prior_us(&cfg->regions[r],
			                                                          &cfg->nodes[i]);
		}
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
			uint32_t total =
			        atomic_load_explicit(&lv->slo_total[t], memory_order_relaxed);
			uint32_t met = atomic_load_explicit(&lv->slo_met[t], memory_order_relaxed);
			uint32_t d_total = total - sig->slo_total_prev[t];
			uint32_t d_met = met - sig->slo_met_prev[t];
			sig->slo_total_prev[t] = total;
			sig->slo_met_prev[t] = met;
			if (d_total > 0 && d_met <= d_total)
				st->slo_success[t] =
				        (1.0 - FAII_SLO_EWMA_WEIGHT) * st->slo_success[t] +
				        FAII_SLO_EWMA_WEIGHT * d_met / d_total;
		}
	}
}
