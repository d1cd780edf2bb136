/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the routing solver (control/routing.c).
 *
 * The input is read as a stream of numbers that build a fleet, a policy and
 * the live node state, then every key is solved. The numbers go beyond what
 * the configuration allows (docs/configuration.md): prices, capacities, PUE,
 * energy-to-work and arrival rates take any positive finite double, from
 * subnormals to DBL_MAX; the policy stays within its schema's ranges, which
 * are structural (a cap is a share, weights sum to 1). The solver must not
 * crash, and its own postcondition check (check_solution: shares sum to 1,
 * operator caps hold, alias indexes in range) aborts on a wrong table; the
 * harness also traps on a share or value that is not finite, and on
 * replica inclusion probabilities (faii_route_inclusion) that are not in
 * [0, 1] or do not sum to the set size. Nodes are of either address family, and
 * the classes carry class-share prices.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faii/routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* Fleets of up to 2.5 candidate tables' worth of nodes, a few operators. */
#define FUZZ_NODES_MAX     160u
#define FUZZ_OPERATORS_MAX 40u
#define FUZZ_REGIONS       2u
#define FUZZ_CLASSES       3u

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (in->left ? *in->p : 0);
		if (in->left) {
			in->p++;
			in->left--;
		}
	}
	return v;
}

/* [0, 1] in 2^16 steps. */
static double take_unit(struct input *in)
{
	return (double)take(in, 2) / 65535.0;
}

/* A positive finite double: its bits when they are one, else a fraction of
 * a decade picked by the next byte (1e-300 .. 1e300). */
static double take_positive(struct input *in)
{
	uint64_t bits = take(in, 8);
	double v;
	memcpy(&v, &bits, sizeof(v));
	v = fabs(v);
	if (!isfinite(v) || v == 0)
		v = pow(10.0, (double)(bits % 601) - 300.0);
	return v;
}

static struct faii_config *cfg;
static struct faii_route_node_state state[FUZZ_NODES_MAX];

static void build_world(void)
{
	static const char *const countries[] = {"CH", "DE", "FR", "US"};
	cfg = calloc(1, sizeof(*cfg));
	CHECK(cfg != NULL);
	faii_appliance_defaults(&cfg->appliance);
	cfg->jurisdiction_count = 4;
	for (unsigned j = 0; j < 4; j++)
		memcpy(cfg->jurisdictions[j].country, countries[j], 3);
	cfg->residency_class_count = FUZZ_CLASSES;
	cfg->residency_classes[0] = (struct faii_cfg_residency_class){.id = 1, .allowed = 0xF};
	cfg->residency_classes[1] = (struct faii_cfg_residency_class){.id = 2, .allowed = 0x1};
	cfg->residency_classes[2] = (struct faii_cfg_residency_class){.id = 3, .allowed = 0x6};
	cfg->region_count = FUZZ_REGIONS;
	cfg->regions[0] = (struct faii_cfg_region){.id = 1, .lat_deg = 47.4, .lon_deg = 8.5};
	cfg->regions[1] = (struct faii_cfg_region){.id = 2, .lat_deg = 50.1, .lon_deg = 8.7};
}

static void read_policy(struct input *in, struct faii_policy *p)
{
	faii_policy_defaults(p);
	double w[FAII_ESG_WEIGHT_COUNT], sum = 0;
	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		sum += w[i] = take_unit(in);
	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		p->esg_weight[i] = sum > 0 ? w[i] / sum : 0.25;
	for (unsigned s = 0; s < FAII_SRC_RENEWABLE_COUNT; s++)
		p->source_weight[s] = take_unit(in);
	p->corridor_below = take_unit(in);
	p->corridor_above = take_unit(in);
	p->concentration_eta = take_unit(in) * 0.999;
	p->esg_slope = take_unit(in) * 0.999;
	p->esg_multiplier_max = 1.0 + (take(in, 1) & 1 ? take_positive(in) : take_unit(in));
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		struct faii_tier_policy *tp = &p->tier[t];
		tp->operator_cap = ((double)take(in, 2) + 1.0) / 65537.0; /* (0, 1) */
		tp->operators_min = (uint32_t)(take(in, 2) % FAII_CFG_OPERATORS_MAX) + 1;
		tp->edge_reserve = take_unit(in);
	}
	p->energy_price = take(in, 1) & 1 ? take_unit(in) * 1e6 : 0.0;
}

static void read_node(struct input *in, uint32_t i, unsigned ops)
{
	struct faii_cfg_node *n = &cfg->nodes[i];
	memset(n, 0, sizeof(*n));
	n->id = i + 1;
	n->node_class = (uint8_t)(take(in, 1) % FAII_CLASS_COUNT);
	n->status = take(in, 1) % 8 == 0 ? FAII_NODE_DRAINING : FAII_NODE_ACTIVE;
	n->eligibility = (uint8_t)(take(in, 1) & FAII_ELIGIBILITY_MASK);
	n->jurisdiction = (uint8_t)(take(in, 1) % cfg->jurisdiction_count);
	n->operator_idx = (uint16_t)(take(in, 1) % ops);
	n->region_id = cfg->regions[take(in, 1) % FUZZ_REGIONS].id;
	n->addr_family = take(in, 1) & 1 ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4;
	n->capacity_tasks_per_s = take_positive(in);
	n->service_rate_tasks_per_s = n->capacity_tasks_per_s;
	n->price = take_positive(in);
	n->reputation = take_unit(in);
	double mix_sum = 0;
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		mix_sum += n->esg.source_mix[s] = take_unit(in);
	for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
		n->esg.source_mix[s] = mix_sum > 0 ? n->esg.source_mix[s] / mix_sum : 0.0;
	if (mix_sum == 0)
		n->esg.source_mix[FAII_SRC_NONRENEWABLE] = 1.0;
	n->esg.pue = take_positive(in);
	n->esg.energy_to_work = take_positive(in);
	n->esg.grid_stress = take_unit(in);

	struct faii_route_node_state *st = &state[i];
	memset(st, 0, sizeof(*st));
	st->status = n->status;
	uint8_t flags = (uint8_t)take(in, 1);
	st->stale_heartbeat = (flags & 0x7) == 0;
	st->stale_attest = (flags & 0x18) == 0;
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		st->slo_success[t] = take_unit(in);
	for (unsigned r = 0; r < FUZZ_REGIONS; r++)
		st->latency_us[r] = (double)take(in, 3);
}

/* A solved table's replica sets: inclusion in [0, 1], summing to n. */
static void check_inclusion(const struct faii_route_table *t)
{
	static const unsigned sizes[FAII_REPLICA_LEVELS] = {3, 7};
	float incl[FAII_ROUTE_CANDIDATES_MAX];
	for (unsigned f = 0; f < FAII_ROUTE_FAMILIES; f++) {
		for (unsigned l = 0; l < FAII_REPLICA_LEVELS; l++) {
			bool relaxed;
			unsigned most = faii_route_inclusion(cfg, t, f, sizes[l], incl, &relaxed);
			if (most == 0)
				continue; /* fewer candidates of the family than the set */
			CHECK(most <= sizes[l]);
			double sum = 0;
			for (unsigned k = 0; k < t->count; k++) {
				CHECK(incl[k] >= 0 && incl[k] <= 1.0f + 1e-6f);
				sum += incl[k];
			}
			CHECK(fabs(sum - sizes[l]) < 1e-3);
		}
	}
}

static void solve_all(struct input *in, double rate)
{
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_fleet fleet;
	faii_route_fleet_compute(cfg, state, &fleet);
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++)
		fleet.class_price[k] = take_unit(in) * FAII_CLASS_PRICE_MAX;
	for (unsigned r = 0; r < FUZZ_REGIONS; r++) {
		for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
			for (unsigned c = 0; c < FUZZ_CLASSES; c++) {
				struct faii_route_key key = {cfg->regions[r].id, cat,
				                             (uint8_t)cfg->residency_classes[c].id,
				                             rate};
				CHECK(faii_route_solve(cfg, state, &fleet, &key, &t,
				                       c == 0 ? &ex : NULL) == 0);
				for (unsigned k = 0; k < t.count; k++)
					CHECK(isfinite(t.share[k]) && isfinite(t.value[k]));
				check_inclusion(&t);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (cfg == NULL)
		build_world();
	struct input in = {data, size};
	read_policy(&in, &cfg->policy);
	unsigned ops = (unsigned)(take(&in, 1) % FUZZ_OPERATORS_MAX) + 1;
	cfg->operator_count = ops;
	cfg->node_count = (uint32_t)(take(&in, 1) % FUZZ_NODES_MAX) + 1;
	for (uint32_t i = 0; i < cfg->node_count; i++)
		read_node(&in, i, ops);
	double rate = take(&in, 1) & 1 ? take_positive(&in) : (double)take(&in, 1);
	solve_all(&in, rate);
	return 0;
}
