/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DAG of certified vertices and Bullshark's commit rule, as pure
 * bookkeeping over (round, author) with parent bitmasks: no bytes, no
 * signatures, no I/O. The validator (core.c) inserts a vertex once it is
 * certified and every parent is in the graph; the commit-rule tests insert
 * declared DAGs directly (tests/unit/test_dag_order.c).
 *
 * Rounds below round_low were collected (garbage); a parent there counts as
 * present. Rounds at or above round_low + window are not held. Internal to
 * ledger/dag/.
 */
#ifndef FAII_LEDGER_DAG_GRAPH_H
#define FAII_LEDGER_DAG_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/transport.h"

struct dag_graph_row {
	uint64_t round;     /* which round the row holds now */
	uint64_t present;   /* authors with a certified vertex in the graph */
	uint64_t committed; /* authors whose vertex has been output */
	uint64_t parents[FAII_VALIDATORS_MAX];
};

struct dag_graph {
	uint64_t epoch;
	uint32_t validator_count;
	uint32_t faults; /* f: validator_count = 3f + 1 (or less) */
	uint32_t window_rounds;
	uint32_t gc_depth_rounds;
	uint64_t round_low;  /* >= 1 */
	uint64_t round_high; /* highest round with a vertex, 0: none */
	uint64_t last_committed_anchor;
	struct dag_graph_row *rows; /* window_rounds rows, round % window_rounds */
	uint64_t *scratch;          /* window_rounds masks for ordering */
};

/* Called for each vertex the commit of an anchor outputs, in order. */
typedef void dag_graph_emit_fn(void *arg, uint64_t anchor_round, uint32_t anchor_author,
                               uint64_t round, uint32_t author);

int dag_graph_init(struct dag_graph *graph, uint64_t epoch, uint32_t validator_count,
                   uint32_t window_rounds, uint32_t gc_depth_rounds);
void dag_graph_fini(struct dag_graph *graph);

uint32_t dag_graph_quorum(const struct dag_graph *graph);   /* 2f + 1 */
uint32_t dag_graph_validity(const struct dag_graph *graph); /* f + 1 */

/* round_low <= round < round_low + window_rounds */
bool dag_graph_holds(const struct dag_graph *graph, uint64_t round);
/* The authors present in a round; every author for a collected round. */
uint64_t dag_graph_present(const struct dag_graph *graph, uint64_t round);
uint64_t dag_graph_parents(const struct dag_graph *graph, uint64_t round, uint32_t author);
bool dag_graph_committed(const struct dag_graph *graph, uint64_t round, uint32_t author);
/* Every parent (authors of round - 1 in `parents`) is in the graph. */
bool dag_graph_parents_present(const struct dag_graph *graph, uint64_t round, uint64_t parents);

/*
 * Inserts a certified vertex whose parents are present, then applies the
 * commit rule; every vertex it commits is passed to emit. Returns the
 * number of vertices committed.
 */
uint32_t dag_graph_insert(struct dag_graph *graph, uint64_t round, uint32_t author,
                          uint64_t parents, dag_graph_emit_fn *emit, void *arg);

/* The round_low that garbage collection may move to now (>= round_low). */
uint64_t dag_graph_gc_round(const struct dag_graph *graph);
/* Drops every round below new_low (<= dag_graph_gc_round()). */
void dag_graph_collect(struct dag_graph *graph, uint64_t new_low);

#endif /* FAII_LEDGER_DAG_GRAPH_H */
