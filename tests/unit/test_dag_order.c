/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bullshark's commit rule on small declared DAGs (ledger/dag/graph.c), and
 * the same commit sequence from every delivery order of one random DAG.
 *
 * A DAG is declared as text, one vertex per word, in insertion order:
 *   "2A:ABC"  round 2, author A, parents A, B and C of round 1
 *   "1B"      round 1 has no parents
 * Authors are letters A.. (validator 0..). With epoch = n - 1 the anchors
 * are A at round 2, B at round 4, C at round 6 ...; f + 1 references from
 * the next round commit an anchor.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "faii/dag.h"
#include "graph.h"

#define TEST_OUTPUT_MAX    4096u
#define TEST_WORDS_MAX     2048u
#define TEST_RANDOM_ORDERS 120u

struct test_output {
	char text[TEST_OUTPUT_MAX];
	uint32_t count;
};

static void test_emit(void *arg, uint64_t anchor_round, uint32_t anchor_author, uint64_t round,
                      uint32_t author)
{
	struct test_output *output = arg;
	size_t used = strlen(output->text);
	cr_assert_lt(used + 16, TEST_OUTPUT_MAX);
	cr_assert_leq(round, anchor_round);
	snprintf(output->text + used, TEST_OUTPUT_MAX - used, "%s%lu%c", used ? " " : "",
	         (unsigned long)round, 'A' + author);
	output->count++;
	(void)anchor_author;
}

/* Inserts every vertex of `dag`; returns what was committed, in order. */
static void test_run(uint32_t n, uint32_t gc_depth, const char *dag, struct test_output *output)
{
	struct dag_graph graph;
	cr_assert_eq(dag_graph_init(&graph, n - 1, n, 64, gc_depth), 0);
	memset(output, 0, sizeof(*output));
	char copy[TEST_OUTPUT_MAX];
	snprintf(copy, sizeof(copy), "%s", dag);
	for (char *word = strtok(copy, " "); word != NULL; word = strtok(NULL, " ")) {
		char *end = NULL;
		unsigned long round = strtoul(word, &end, 10);
		uint32_t author = (uint32_t)(*end - 'A');
		uint64_t parents = 0;
		if (end[1] == ':')
			for (const char *p = end + 2; *p; p++)
				parents |= 1ull << (*p - 'A');
		cr_assert(dag_graph_parents_present(&graph, round, parents), "%s: parents missing",
		          word);
		dag_graph_insert(&graph, round, author, parents, test_emit, output);
	}
	dag_graph_fini(&graph);
}

#define ROUND1 "1A 1B 1C 1D "

Test(dag_order, direct_commit_on_f_plus_one_support)
{
	struct test_output output;
	/* 2A is the anchor; 3A alone is not enough (f + 1 = 2), 3B makes it. */
	test_run(4, 10, ROUND1 "2A:ABC 2B:ABC 2C:BCD 3A:ABC", &output);
	cr_assert_str_empty(output.text);
	test_run(4, 10, ROUND1 "2A:ABC 2B:ABC 2C:BCD 3A:ABC 3B:ABC", &output);
	cr_assert_str_eq(output.text, "1A 1B 1C 2A");
}

Test(dag_order, references_not_to_the_anchor_do_not_count)
{
	struct test_output output;
	test_run(4, 10, ROUND1 "2A:ABC 2B:ABC 2C:BCD 2D:BCD 3A:ABC 3B:BCD 3C:BCD 3D:BCD", &output);
	cr_assert_str_empty(output.text, "one reference of four: %s", output.text);
}

Test(dag_order, skipped_anchor_stays_out)
{
	struct test_output output;
	/* Nobody in round 3 references 2A: 4B commits alone, 2A is never output. */
	test_run(4, 10,
	         ROUND1 "2A:ABC 2B:ABC 2C:ABC 2D:ABC 3B:BCD 3C:BCD 3D:BCD "
	                "4A:BCD 4B:BCD 4C:BCD 5A:ABC 5B:ABC",
	         &output);
	cr_assert_str_eq(output.text, "1A 1B 1C 2B 2C 2D 3B 3C 3D 4B");
}

Test(dag_order, indirect_commit_through_a_later_anchor)
{
	struct test_output output;
	/* 2A has one reference (3A): not committed directly. 4B references 3A,
	 * so committing 4B commits 2A first, with 2A's history, then the rest of
	 * 4B's: 1D (reached through 2B) comes after 2A, not before it. */
	test_run(4, 10,
	         ROUND1 "2A:ABC 2B:BCD 2C:ABC 2D:ABC 3A:ABC 3B:BCD 3C:BCD 3D:BCD "
	                "4A:ABC 4B:ABC 4C:ABC 5A:ABC 5B:ABC",
	         &output);
	cr_assert_str_eq(output.text, "1A 1B 1C 2A 1D 2B 2C 2D 3A 3B 3C 4B");
}

Test(dag_order, direct_or_indirect_the_sequence_is_the_same)
{
	struct test_output direct, indirect;
	/* In round order, 3B gives 2A its second reference: 2A commits directly,
	 * then 4B. With 3B (and 4A, which needs it) delivered last, 4B commits
	 * first and 2A only through it. Both must output the same sequence. */
	test_run(4, 10,
	         ROUND1 "2A:ABC 2B:BCD 2C:ABC 2D:ABC 3A:ABC 3B:ABC 3C:BCD 3D:BCD "
	                "4A:ABC 4B:ACD 4C:ACD 4D:ACD 5A:BCD 5B:BCD",
	         &direct);
	test_run(4, 10,
	         ROUND1 "2A:ABC 2B:BCD 2C:ABC 2D:ABC 3A:ABC 3C:BCD 3D:BCD "
	                "4B:ACD 4C:ACD 4D:ACD 5A:BCD 5B:BCD 3B:ABC 4A:ABC",
	         &indirect);
	cr_assert_str_eq(direct.text, "1A 1B 1C 2A 1D 2B 2C 2D 3A 3C 3D 4B");
	cr_assert_str_eq(indirect.text, direct.text);
}

Test(dag_order, anchor_missing_then_next_anchor_commits)
{
	struct test_output output;
	/* 2A never arrives; 4B commits with its history (1D: nobody references it). */
	test_run(4, 10,
	         ROUND1 "2B:ABC 2C:ABC 2D:ABC 3A:BCD 3B:BCD 3C:BCD 4A:ABC 4B:ABC 4C:ABC 5A:ABC",
	         &output);
	cr_assert_str_empty(output.text, "one reference: %s", output.text);
	test_run(4, 10,
	         ROUND1 "2B:ABC 2C:ABC 2D:ABC 3A:BCD 3B:BCD 3C:BCD 4A:ABC 4B:ABC 4C:ABC 5A:ABC "
	                "5C:BC",
	         &output);
	cr_assert_str_eq(output.text, "1A 1B 1C 2B 2C 2D 3A 3B 3C 4B");
}

Test(dag_order, seven_validators_need_three_references)
{
	struct test_output output;
	const char *base = "1A 1B 1C 1D 1E 1F 1G 2A:ABCDE 2B:ABCDE 2C:ABCDE 2D:ABCDE 2E:ABCDE ";
	char dag[512];
	/* n = 7 (epoch 6): anchor of round 2 is A; f + 1 = 3. */
	snprintf(dag, sizeof(dag), "%s3A:ABCDE 3B:ABCDE", base);
	test_run(7, 10, dag, &output);
	cr_assert_str_empty(output.text);
	snprintf(dag, sizeof(dag), "%s3A:ABCDE 3B:ABCDE 3C:ABCDE", base);
	test_run(7, 10, dag, &output);
	cr_assert_str_eq(output.text, "1A 1B 1C 1D 1E 2A");
}

Test(dag_order, old_rounds_beyond_the_depth_are_not_output)
{
	struct test_output output;
	/* gc depth 2: the anchor of round 4 outputs rounds 2..4 only; 1D, which
	 * only 2D references, stays out however it is reached. */
	test_run(4, 2,
	         ROUND1 "2A:ABC 2B:ABC 2C:ABC 2D:BCD 3A:BCD 3B:BCD 3C:BCD 3D:BCD "
	                "4A:ABC 4B:ABCD 4C:ABC 5A:ABC 5B:ABC",
	         &output);
	cr_assert_str_eq(output.text, "2B 2C 2D 3A 3B 3C 3D 4B");
}

/* ---- one random DAG, many delivery orders ---- */

struct test_vertex {
	uint64_t round;
	uint32_t author;
	uint64_t parents;
};

static uint64_t test_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	uint64_t z = *state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Rounds of n validators; in each round up to f are missing; each vertex
 * references 2f + 1 (sometimes more) of the previous round's, at random. */
static uint32_t test_random_dag(uint32_t n, uint32_t rounds, uint64_t seed,
                                struct test_vertex *vertices)
{
	uint32_t f = (n - 1) / 3;
	uint32_t count = 0;
	uint64_t previous = 0;
	for (uint32_t round = 1; round <= rounds; round++) {
		uint64_t present = (1ull << n) - 1;
		for (uint32_t missing = (uint32_t)(test_next(&seed) % (f + 1)); missing > 0;
		     missing--)
			present &= ~(1ull << (test_next(&seed) % n));
		if ((uint32_t)__builtin_popcountll(present) < n - f)
			present = (1ull << n) - 1;
		for (uint32_t author = 0; author < n; author++) {
			if (!(present & (1ull << author)))
				continue;
			uint64_t parents = 0;
			while (round > 1 && (uint32_t)__builtin_popcountll(parents) <
			                            n - f + (uint32_t)(test_next(&seed) % (f + 1)))
				parents |= previous & (1ull << (test_next(&seed) % n));
			vertices[count++] = (struct test_vertex){round, author, parents};
		}
		previous = present;
	}
	return count;
}

/* Inserts in a random order that respects causality: repeatedly pick a
 * random vertex whose parents are all in. Like a real network, an order has
 * slow validators (1 to f + 1 of them, drawn per order) whose vertices are
 * mostly picked only when nothing else is ready: that is what lets a later
 * anchor commit before an earlier one gathers its support. */
static void test_insert_random_order(uint32_t n, const struct test_vertex *vertices, uint32_t count,
                                     uint64_t seed, struct test_output *output)
{
	struct dag_graph graph;
	cr_assert_eq(dag_graph_init(&graph, n - 1, n, 128, 100), 0);
	memset(output, 0, sizeof(*output));
	uint32_t f = (n - 1) / 3;
	uint64_t slow = 0;
	for (uint32_t i = 0; i <= test_next(&seed) % (f + 1); i++)
		slow |= 1ull << (test_next(&seed) % n);
	bool inserted[TEST_WORDS_MAX] = {false};
	for (uint32_t done = 0; done < count; done++) {
		uint32_t ready[TEST_WORDS_MAX], fast[TEST_WORDS_MAX];
		uint32_t ready_count = 0, fast_count = 0;
		for (uint32_t i = 0; i < count; i++)
			if (!inserted[i] && dag_graph_parents_present(&graph, vertices[i].round,
			                                              vertices[i].parents)) {
				ready[ready_count++] = i;
				if (!(slow & (1ull << vertices[i].author)))
					fast[fast_count++] = i;
			}
		cr_assert_gt(ready_count, 0);
		bool prefer_fast = fast_count > 0 && test_next(&seed) % 10 != 0;
		uint32_t pick = prefer_fast ? fast[test_next(&seed) % fast_count]
		                            : ready[test_next(&seed) % ready_count];
		inserted[pick] = true;
		dag_graph_insert(&graph, vertices[pick].round, vertices[pick].author,
		                 vertices[pick].parents, test_emit, output);
	}
	dag_graph_fini(&graph);
}

static void test_orders(uint32_t n, uint64_t dag_seed)
{
	struct test_vertex vertices[TEST_WORDS_MAX];
	uint32_t count = test_random_dag(n, 40, dag_seed, vertices);
	struct test_output first;
	test_insert_random_order(n, vertices, count, 1, &first);
	cr_assert_gt(first.count, count / 2, "the DAG commits most of itself (%u of %u)",
	             first.count, count);
	for (uint64_t order = 2; order <= TEST_RANDOM_ORDERS; order++) {
		struct test_output other;
		test_insert_random_order(n, vertices, count, order, &other);
		cr_assert_str_eq(other.text, first.text, "n %u dag %lu order %lu differs", n,
		                 (unsigned long)dag_seed, (unsigned long)order);
	}
}

Test(dag_order, same_sequence_from_every_delivery_order_four)
{
	for (uint64_t dag_seed = 1; dag_seed <= 4; dag_seed++)
		test_orders(4, dag_seed);
}

Test(dag_order, same_sequence_from_every_delivery_order_seven)
{
	for (uint64_t dag_seed = 11; dag_seed <= 13; dag_seed++)
		test_orders(7, dag_seed);
}

Test(dag_order, leader_schedule_rotates_from_the_epoch)
{
	cr_assert_eq(faii_dag_leader(3, 2, 4), 0);
	cr_assert_eq(faii_dag_leader(3, 4, 4), 1);
	cr_assert_eq(faii_dag_leader(3, 10, 4), 0);
	cr_assert_eq(faii_dag_leader(0, 2, 7), 1);
}
