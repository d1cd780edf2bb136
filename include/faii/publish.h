/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Publishing routing tables to the workers (SPEC 3.3): the control thread
 * solves every key of the configuration, compiles the solutions into one
 * immutable struct faii_route_set, swaps it in with an atomic pointer store,
 * and frees a replaced set only when rte_rcu_qsbr says every worker has
 * passed a quiescent state since the swap. A packet never waits for this.
 *
 * Error convention: negative errno (-EBUSY: deferred to the next tick,
 * -ENOMEM).
 */
#ifndef FAII_PUBLISH_H
#define FAII_PUBLISH_H

#include <stdatomic.h>
#include <stdint.h>

#include "faii/fleet.h"
#include "faii/registry.h"

struct rte_rcu_qsbr;

/* Replaced sets waiting for their grace period. When every slot is taken
 * (a worker stopped reporting), publishing pauses: never free early. */
#define FAII_PUBLISH_RETIRED_MAX 8u

struct faii_publisher {
	struct faii_registry *reg;
	struct rte_rcu_qsbr *qsbr; /* NULL: no readers yet, free at once */
	_Atomic(struct faii_route_set *) current;
	struct {
		struct faii_route_set *set;
		uint64_t token;
	} retired[FAII_PUBLISH_RETIRED_MAX];
	unsigned retired_count;
	uint64_t generation;
	uint64_t deferred; /* publishes skipped waiting for a grace period */
	double last_solve_s;
	double solve_seconds_total;
	/* Demand per key (node slots per second) for the congestion term,
	 * measured by the caller. */
	double arrival_rate[FAII_ROUTE_KEYS_MAX];
	/* The class-share cap's prices (33), updated by the caller from the
	 * measured verified work (faii_class_price_update). */
	struct faii_class_price class_price;
};

void faii_publisher_init(struct faii_publisher *p, struct faii_registry *reg,
                         struct rte_rcu_qsbr *qsbr);
/* Frees every set: the workers must have stopped. */
void faii_publisher_fini(struct faii_publisher *p);

/* Solves all keys and publishes them. Returns 0, -EBUSY when deferred, -ENOMEM. */
int faii_publisher_run(struct faii_publisher *p);

/* Frees replaced sets whose grace period has passed. */
void faii_publisher_reclaim(struct faii_publisher *p);

static inline const struct faii_route_set *faii_publisher_current(struct faii_publisher *p)
{
	return atomic_load_explicit(&p->current, memory_order_acquire);
}

/* The fleet inputs every solve of this publisher uses: faii_route_fleet_compute()
 * over the registry, with the class-share prices. */
void faii_publisher_fleet(const struct faii_publisher *p, struct faii_route_fleet *fleet);

/* Compiles one solved table into the dataplane form. */
void faii_route_compile(const struct faii_config *cfg, const struct faii_route_table *t,
                        struct faii_route_dp_table *out);

#endif /* FAII_PUBLISH_H */
