/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Solve, compile, publish, reclaim: see include/faii/publish.h.
 */
#include "faii/clock.h"
#include "faii/publish.h"
#include "faii/assert.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_rcu_qsbr.h>

void faii_publisher_init(struct faii_publisher *p, struct faii_registry *reg,
                         struct rte_rcu_qsbr *qsbr)
{
	memset(p, 0, sizeof(*p));
	p->reg = reg;
	p->qsbr = qsbr;
	atomic_init(&p->current, NULL);
}

void faii_publisher_fini(struct faii_publisher *p)
{
	for (unsigned i = 0; i < p->retired_count; i++)
		free(p->retired[i].set);
	p->retired_count = 0;
	free(atomic_exchange(&p->current, NULL));
}

/* One address family's solution: its alias table for single copies, the
 * inclusion probabilities of its replica sets. */
static void compile_family(const struct faii_config *cfg, const struct faii_route_table *t,
                           unsigned f, struct faii_route_dp_family *out)
{
	out->flags = t->family_flags[f];
	for (unsigned k = 0; k < t->count; k++) {
		out->share[k] = t->family_share[f][k];
		out->share_max = out->share[k] > out->share_max ? out->share[k] : out->share_max;
		if (FAII_ROUTE_FAMILY(cfg->nodes[t->node[k]].addr_family) == f)
			out->count++;
	}
	if (out->count == 0)
		return;
	faii_route_alias_build(out->share, t->count, out->prob, out->alias);
	static const unsigned sizes[FAII_REPLICA_LEVELS] = {3, 7};
	for (unsigned l = 0; l < FAII_REPLICA_LEVELS; l++) {
		FAII_ASSERT(FAII_REPLICA_LEVEL(sizes[l]) == l);
		bool relaxed;
		out->operator_copies_max[l] =
		        (uint8_t)faii_route_inclusion(cfg, t, f, sizes[l], out->incl[l], &relaxed);
		if (relaxed)
			out->flags |= l == 0 ? FAII_ROUTE_F_SET3_CAPS_RELAXED
			                     : FAII_ROUTE_F_SET7_CAPS_RELAXED;
	}
}

void faii_route_compile(const struct faii_config *cfg, const struct faii_route_table *t,
                        struct faii_route_dp_table *out)
{
	const double rad = M_PI / 180.0;
	FAII_ASSERT(t->count <= FAII_ROUTE_CANDIDATES_MAX);
	memset(out, 0, sizeof(*out));
	out->count = t->count;
	out->flags = t->flags;
	out->region = t->region;
	out->category = t->category;
	out->residency_class = t->residency_class;
	for (unsigned f = 0; f < FAII_ROUTE_FAMILIES; f++)
		compile_family(cfg, t, f, &out->family[f]);
	for (unsigned k = 0; k < t->count; k++) {
		FAII_ASSERT(t->node[k] < cfg->node_count && t->alias[k] < t->count);
		const struct faii_cfg_node *n = &cfg->nodes[t->node[k]];
		struct faii_route_cand *c = &out->cand[k];
		out->share[k] = t->share[k];
		c->node = t->node[k];
		c->node_id = n->id;
		c->latency_us = t->latency_us[k];
		c->asn = n->asn;
		c->operator_idx = n->operator_idx;
		c->udp_port = n->udp_port;
		c->jurisdiction = n->jurisdiction;
		c->node_class = n->node_class;
		c->addr_family = n->addr_family;
		memcpy(c->addr, n->addr, sizeof(c->addr));
		double lat = n->lat_deg * rad, lon = n->lon_deg * rad;
		c->unit[0] = (float)(cos(lat) * cos(lon));
		c->unit[1] = (float)(cos(lat) * sin(lon));
		c->unit[2] = (float)sin(lat);
	}
}

void faii_publisher_fleet(const struct faii_publisher *p, struct faii_route_fleet *fleet)
{
	faii_route_fleet_compute(p->reg->cfg, p->reg->state, fleet);
	memcpy(fleet->class_price, p->class_price.price, sizeof(fleet->class_price));
}

static struct faii_route_set *build_set(struct faii_publisher *p)
{
	const struct faii_config *cfg = p->reg->cfg;
	uint32_t keys = cfg->region_count * FAII_CATEGORY_COUNT * cfg->residency_class_count;
	size_t size =
	        sizeof(struct faii_route_set) + (size_t)keys * sizeof(struct faii_route_dp_table);
	size = (size + 63) & ~(size_t)63;
	struct faii_route_set *set = aligned_alloc(64, size);
	if (set == NULL)
		return NULL;
	memset(set, 0, sizeof(*set));
	memset(set->region_slot, FAII_REGION_NO_SLOT, sizeof(set->region_slot));
	memset(set->index, 0xFF, sizeof(set->index));
	set->region_count = cfg->region_count;
	for (uint32_t r = 0; r < cfg->region_count; r++)
		set->region_slot[cfg->regions[r].id] = (uint8_t)r;

	struct faii_route_fleet fleet;
	faii_publisher_fleet(p, &fleet);
	static struct faii_route_table solved; /* control thread only */
	uint32_t n = 0;
	for (uint32_t r = 0; r < cfg->region_count; r++) {
		for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
			for (uint32_t c = 0; c < cfg->residency_class_count; c++) {
				uint16_t class_id = cfg->residency_classes[c].id;
				uint32_t key = faii_route_key_index((uint8_t)r, cat, class_id);
				struct faii_route_key k = {
				        .region = cfg->regions[r].id,
				        .category = cat,
				        .residency_class = (uint8_t)class_id,
				        .arrival_rate = p->arrival_rate[key],
				};
				if (faii_route_solve(cfg, p->reg->state, &fleet, &k, &solved,
				                     NULL) != 0)
					continue;
				faii_route_compile(cfg, &solved, &set->tables[n]);
				set->index[key] = n++;
			}
		}
	}
	set->table_count = n;
	return set;
}

void faii_publisher_reclaim(struct faii_publisher *p)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < p->retired_count; i++) {
		if (p->qsbr == NULL || rte_rcu_qsbr_check(p->qsbr, p->retired[i].token, false) == 1)
			free(p->retired[i].set);
		else
			p->retired[kept++] = p->retired[i];
	}
	p->retired_count = kept;
}

int faii_publisher_run(struct faii_publisher *p)
{
	faii_publisher_reclaim(p);
	if (p->retired_count == FAII_PUBLISH_RETIRED_MAX) {
		p->deferred++;
		return -EBUSY;
	}
	const struct faii_clock *clock = p->reg->clock;
	uint64_t t0_ns = faii_clock_monotonic_ns(clock);
	struct faii_route_set *set = build_set(p);
	if (set == NULL)
		return -ENOMEM;
	set->generation = ++p->generation;
	set->published_ns = faii_clock_realtime_ns(clock);
	struct faii_route_set *old =
	        atomic_exchange_explicit(&p->current, set, memory_order_acq_rel);
	if (old != NULL) {
		if (p->qsbr == NULL) {
			free(old);
		} else {
			p->retired[p->retired_count].set = old;
			p->retired[p->retired_count].token = rte_rcu_qsbr_start(p->qsbr);
			p->retired_count++;
		}
	}
	p->last_solve_s = (double)(faii_clock_monotonic_ns(clock) - t0_ns) * 1e-9;
	p->solve_seconds_total += p->last_solve_s;
	return 0;
}
