/* SPDX-License-Identifier: BSD-3-Clause */
/* The DAG and Bullshark's commit rule: see graph.h and docs/consensus.md. */
#include "graph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/dag.h"

static uint64_t bit(uint32_t author)
{
	return 1ull << author;
}

static uint64_t all_authors(const struct dag_graph *graph)
{
	return graph->validator_count == 64 ? ~0ull : bit(graph->validator_count) - 1;
}

uint32_t faii_dag_leader(uint64_t epoch, uint64_t round, uint32_t validator_count)
{
	FAII_ASSERT(validator_count >= 1 && validator_count <= FAII_VALIDATORS_MAX);
	FAII_ASSERT(round >= 2 && round % 2 == 0);
	return (uint32_t)((epoch + round / 2) % validator_count);
}

int dag_graph_init(struct dag_graph *graph, uint64_t epoch, uint32_t validator_count,
                   uint32_t window_rounds, uint32_t gc_depth_rounds)
{
	if (validator_count < 1 || validator_count > FAII_VALIDATORS_MAX ||
	    window_rounds < FAII_DAG_WINDOW_ROUNDS_MIN ||
	    window_rounds > FAII_DAG_WINDOW_ROUNDS_MAX || gc_depth_rounds < 2 ||
	    gc_depth_rounds + 4 > window_rounds)
		return -EINVAL;
	memset(graph, 0, sizeof(*graph));
	graph->epoch = epoch;
	graph->validator_count = validator_count;
	graph->faults = (validator_count - 1) / 3;
	graph->window_rounds = window_rounds;
	graph->gc_depth_rounds = gc_depth_rounds;
	graph->round_low = 1;
	graph->rows = calloc(window_rounds, sizeof(*graph->rows));
	graph->scratch = calloc(window_rounds, sizeof(*graph->scratch));
	if (graph->rows == NULL || graph->scratch == NULL) {
		dag_graph_fini(graph);
		return -ENOMEM;
	}
	for (uint64_t round = 1; round <= window_rounds; round++)
		graph->rows[round % window_rounds].round = round;
	return 0;
}

void dag_graph_fini(struct dag_graph *graph)
{
	free(graph->rows);
	free(graph->scratch);
	graph->rows = NULL;
	graph->scratch = NULL;
}

uint32_t dag_graph_quorum(const struct dag_graph *graph)
{
	return graph->validator_count - graph->faults;
}

uint32_t dag_graph_validity(const struct dag_graph *graph)
{
	return graph->faults + 1;
}

bool dag_graph_holds(const struct dag_graph *graph, uint64_t round)
{
	return round >= graph->round_low && round - graph->round_low < graph->window_rounds;
}

static struct dag_graph_row *row_of(const struct dag_graph *graph, uint64_t round)
{
	FAII_ASSERT(dag_graph_holds(graph, round));
	struct dag_graph_row *row = &graph->rows[round % graph->window_rounds];
	FAII_ASSERT(row->round == round);
	return row;
}

uint64_t dag_graph_present(const struct dag_graph *graph, uint64_t round)
{
	if (round < graph->round_low)
		return all_authors(graph);
	if (!dag_graph_holds(graph, round))
		return 0;
	return row_of(graph, round)->present;
}

uint64_t dag_graph_parents(const struct dag_graph *graph, uint64_t round, uint32_t author)
{
	FAII_ASSERT(author < graph->validator_count);
	return row_of(graph, round)->parents[author];
}

bool dag_graph_committed(const struct dag_graph *graph, uint64_t round, uint32_t author)
{
	FAII_ASSERT(author < graph->validator_count);
	if (round < graph->round_low)
		return true;
	return dag_graph_holds(graph, round) &&
	       (row_of(graph, round)->committed & bit(author)) != 0;
}

bool dag_graph_parents_present(const struct dag_graph *graph, uint64_t round, uint64_t parents)
{
	FAII_ASSERT(round >= 1);
	if (round == 1)
		return parents == 0;
	return (dag_graph_present(graph, round - 1) & parents) == parents;
}

/* Is there a path from (from_round, from_author) down to (to_round, to_author)? */
static bool linked(const struct dag_graph *graph, uint64_t from_round, uint32_t from_author,
                   uint64_t to_round, uint32_t to_author)
{
	FAII_ASSERT(from_round > to_round && to_round >= graph->round_low);
	uint64_t reach = bit(from_author);
	for (uint64_t round = from_round; round > to_round && reach != 0; round--) {
		const struct dag_graph_row *row = row_of(graph, round);
		uint64_t below = 0;
		for (uint32_t author = 0; author < graph->validator_count; author++)
			if (reach & bit(author))
				below |= row->parents[author];
		reach = below & dag_graph_present(graph, round - 1);
	}
	return (reach & bit(to_author)) != 0;
}

/* The lowest round an anchor of `anchor_round` may output: older vertices
 * it reaches but nobody committed in time stay out, the same everywhere. */
static uint64_t order_floor(const struct dag_graph *graph, uint64_t anchor_round)
{
	uint64_t floor =
	        anchor_round > graph->gc_depth_rounds ? anchor_round - graph->gc_depth_rounds : 1;
	return floor > graph->round_low ? floor : graph->round_low;
}

/* Outputs the anchor's uncommitted causal history: by round, then author. */
static uint32_t order_history(struct dag_graph *graph, uint64_t anchor_round,
                              uint32_t anchor_author, dag_graph_emit_fn *emit, void *arg)
{
	uint64_t floor = order_floor(graph, anchor_round);
	uint64_t reach = bit(anchor_author);
	for (uint64_t round = anchor_round; round >= floor; round--) {
		struct dag_graph_row *row = row_of(graph, round);
		uint64_t fresh = reach & row->present & ~row->committed;
		graph->scratch[round % graph->window_rounds] = fresh;
		reach = 0;
		for (uint32_t author = 0; author < graph->validator_count; author++)
			if (fresh & bit(author))
				reach |= row->parents[author];
		if (round == floor || reach == 0) {
			floor = round;
			break;
		}
	}
	uint32_t emitted = 0;
	for (uint64_t round = floor; round <= anchor_round; round++) {
		struct dag_graph_row *row = row_of(graph, round);
		uint64_t fresh = graph->scratch[round % graph->window_rounds];
		graph->scratch[round % graph->window_rounds] = 0;
		for (uint32_t author = 0; author < graph->validator_count; author++) {
			if (!(fresh & bit(author)))
				continue;
			row->committed |= bit(author);
			emit(arg, anchor_round, anchor_author, round, author);
			emitted++;
		}
	}
	FAII_ASSERT(emitted >= 1 && (row_of(graph, anchor_round)->committed & bit(anchor_author)));
	return emitted;
}

/* The anchor of anchor_round has f + 1 support: commit it and the earlier
 * uncommitted anchors on its causal path, oldest first. */
static uint32_t commit_from(struct dag_graph *graph, uint64_t anchor_round, dag_graph_emit_fn *emit,
                            void *arg)
{
	uint64_t chain[FAII_DAG_WINDOW_ROUNDS_MAX / 2 + 1];
	uint32_t chain_length = 0;
	uint64_t current_round = anchor_round;
	uint32_t current = faii_dag_leader(graph->epoch, anchor_round, graph->validator_count);
	chain[chain_length++] = anchor_round;
	for (uint64_t round = anchor_round - 2;
	     round > graph->last_committed_anchor && round >= 2 && round >= graph->round_low;
	     round -= 2) {
		uint32_t leader = faii_dag_leader(graph->epoch, round, graph->validator_count);
		if (!(dag_graph_present(graph, round) & bit(leader)) ||
		    !linked(graph, current_round, current, round, leader))
			continue;
		FAII_ASSERT(chain_length < sizeof(chain) / sizeof(chain[0]));
		chain[chain_length++] = round;
		current_round = round;
		current = leader;
	}
	uint32_t emitted = 0;
	while (chain_length > 0) {
		uint64_t round = chain[--chain_length];
		FAII_ASSERT(round > graph->last_committed_anchor);
		emitted += order_history(
		        graph, round, faii_dag_leader(graph->epoch, round, graph->validator_count),
		        emit, arg);
		graph->last_committed_anchor = round;
	}
	return emitted;
}

/* Support for the anchor of round - 1 among the vertices of `round`. */
static uint32_t anchor_support(const struct dag_graph *graph, uint64_t round, uint32_t leader)
{
	const struct dag_graph_row *row = row_of(graph, round);
	uint32_t support = 0;
	for (uint32_t author = 0; author < graph->validator_count; author++)
		if ((row->present & bit(author)) && (row->parents[author] & bit(leader)))
			support++;
	return support;
}

uint32_t dag_graph_insert(struct dag_graph *graph, uint64_t round, uint32_t author,
                          uint64_t parents, dag_graph_emit_fn *emit, void *arg)
{
	FAII_ASSERT(author < graph->validator_count);
	FAII_ASSERT((parents & ~all_authors(graph)) == 0);
	FAII_ASSERT(dag_graph_parents_present(graph, round, parents));
	struct dag_graph_row *row = row_of(graph, round);
	FAII_ASSERT(!(row->present & bit(author)));
	row->present |= bit(author);
	row->parents[author] = parents;
	if (round > graph->round_high)
		graph->round_high = round;

	uint64_t anchor_round = round - 1;
	if (round < 3 || anchor_round % 2 != 0 || anchor_round <= graph->last_committed_anchor ||
	    !dag_graph_holds(graph, anchor_round))
		return 0;
	uint32_t leader = faii_dag_leader(graph->epoch, anchor_round, graph->validator_count);
	if (!(row_of(graph, anchor_round)->present & bit(leader)) || !(parents & bit(leader)) ||
	    anchor_support(graph, round, leader) < dag_graph_validity(graph))
		return 0;
	return commit_from(graph, anchor_round, emit, arg);
}

uint64_t dag_graph_gc_round(const struct dag_graph *graph)
{
	uint64_t anchor = graph->last_committed_anchor;
	if (anchor <= graph->gc_depth_rounds + graph->round_low)
		return graph->round_low;
	return anchor - graph->gc_depth_rounds;
}

void dag_graph_collect(struct dag_graph *graph, uint64_t new_low)
{
	FAII_ASSERT(new_low >= graph->round_low && new_low <= dag_graph_gc_round(graph));
	for (uint64_t round = graph->round_low; round < new_low; round++) {
		struct dag_graph_row *row = &graph->rows[round % graph->window_rounds];
		FAII_ASSERT(row->round == round);
		memset(row, 0, sizeof(*row));
		row->round = round + graph->window_rounds;
	}
	graph->round_low = new_low;
}
