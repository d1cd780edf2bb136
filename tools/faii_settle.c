/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-settle: one settlement epoch from a JSON scenario (fleet,
 * parameters, measured inputs), computed by settlement's own
 * faii_settle_epoch() and payout tree, printed as JSON: every node's
 * payout and multipliers, the totals, the root and every proof
 * (docs/settlement.md, "faii-settle"; docs/faii-settle.1).
 *
 *   faii-settle --scenario FILE.json [--proof NODE]
 *
 * Exit status: 0 ok, 1 nothing to prove (--proof of a node the scenario
 * lacks or that has no leaf) or output not written, 2 usage error or
 * scenario refused.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii_settle_scenario.h"
#include "settle_json.h"

/* A scenario larger than this is refused: 2^20 nodes of about 400 bytes. */
#define SCENARIO_BYTES_MAX (512u << 20)
#define READ_CHUNK_BYTES   (64u << 10)
#define NO_LEAF            UINT32_MAX

enum { EXIT_NOTHING = 1, EXIT_USAGE = 2 };

static const char *prog = "faii-settle";

static void usage(FILE *f)
{
	fprintf(f, "NAME\n"
	           "    faii-settle - one settlement epoch from a JSON scenario\n"
	           "\n"
	           "SYNOPSIS\n"
	           "    faii-settle --scenario FILE.json [--proof NODE]\n"
	           "    faii-settle --help\n"
	           "\n"
	           "DESCRIPTION\n"
	           "    Computes one epoch's payouts, FAII (20) and (27)-(33), exactly as a\n"
	           "    validator does (settlement's faii_settle_epoch(), integers, every\n"
	           "    product rounded down), then the epoch's payout tree: a leaf (epoch,\n"
	           "    operator, node, amount, cumulative) for every node ever owed anything,\n"
	           "    sorted by node id, its BLAKE2b root and every node's proof.\n"
	           "\n"
	           "OPTIONS\n"
	           "    --scenario FILE   the scenario, JSON (- for stdin): \"epoch\", \"params\"\n"
	           "                      (governance's defaults for what is left out) and\n"
	           "                      \"nodes\" with their measurements. A rate is given\n"
	           "                      exactly as NAME_ppb (an integer, 10^9 = 1.0) or as\n"
	           "                      NAME (a decimal); an amount as NAME in base units\n"
	           "                      or NAME_tokens (10^9 units a token). Schema:\n"
	           "                      docs/settlement.md, \"faii-settle\"\n"
	           "    --proof NODE      prints only NODE's payout proof, in the format\n"
	           "                      `faiictl payout verify FILE` checks\n"
	           "    -h, --help        this help\n"
	           "\n"
	           "OUTPUT\n"
	           "    One JSON object, one top-level key a line and one node a line: epoch,\n"
	           "    name, params (in their exact form: a scenario's params that reads back\n"
	           "    to the same values), totals (base, performance, deduction, withheld,\n"
	           "    paid, theta_ppb per tier, class_share_ppb and class_diversity_ppb per\n"
	           "    class), leaves, root, and per node in the scenario's order: base,\n"
	           "    performance, deduction, withheld, paid, cumulative, esg_ppb,\n"
	           "    diversity_ppb, slo_ppb per tier and proof (the leaf, its hex, index,\n"
	           "    count, siblings and root; null without a leaf). Amounts in base\n"
	           "    units, multipliers and shares in ppb.\n"
	           "\n"
	           "EXIT STATUS\n"
	           "    0 ok; 1 --proof of a node the scenario lacks or that has no leaf, or\n"
	           "    the output could not be written; 2 usage error or scenario refused\n"
	           "    (the message names the file and the JSON path of the field).\n");
}

/* The whole file (or stdin), NUL-terminated; NULL with error set. */
static char *read_text(const char *path, size_t *len, char error[FS_ERROR_BYTES])
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		snprintf(error, FS_ERROR_BYTES, "%s", strerror(errno));
		return NULL;
	}
	char *text = NULL;
	size_t used = 0, size = 0;
	bool failed = false;
	while (!failed && used <= SCENARIO_BYTES_MAX) {
		if (size - used < READ_CHUNK_BYTES) {
			size = size ? 2 * size : 4 * READ_CHUNK_BYTES;
			char *grown = realloc(text, size + 1);
			failed = grown == NULL;
			text = grown ? grown : text;
			if (failed)
				break;
		}
		size_t n = fread(text + used, 1, size - used, f);
		used += n;
		if (n == 0)
			break;
	}
	failed = failed || ferror(f);
	if (f != stdin)
		fclose(f);
	if (failed || used > SCENARIO_BYTES_MAX) {
		snprintf(error, FS_ERROR_BYTES, "%s",
		         failed ? "cannot be read" : "larger than 512 MiB");
		free(text);
		return NULL;
	}
	text[used] = '\0';
	*len = used;
	return text;
}

static int load(const char *path, struct fs_scenario *sc)
{
	char error[FS_ERROR_BYTES] = "";
	size_t len = 0;
	char *text = read_text(path, &len, error);
	json_error_t jerr;
	json_t *root = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	free(text);
	if (text != NULL && root == NULL)
		snprintf(error, sizeof(error), "line %d, column %d: %s", jerr.line, jerr.column,
		         jerr.text);
	int rc = root != NULL ? fs_scenario_read(root, sc, error) : -1;
	json_decref(root);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", path, error);
	return rc;
}

/* One epoch settled: results per node (the scenario's order) and the tree. */
struct epoch {
	struct faii_settle_node_result *results;
	struct faii_settle_epoch_totals totals;
	uint64_t *cumulative; /* per node: before + paid */
	uint32_t *leaf_index; /* per node, NO_LEAF when never owed anything */
	struct faii_settle_payout_leaf *leaves;
	uint8_t (*hashes)[FAII_SETTLE_HASH_BYTES]; /* the leaves' */
	uint8_t (*levels)[FAII_SETTLE_HASH_BYTES]; /* the whole tree, for the proofs */
	size_t leaf_count;
	uint8_t root[FAII_SETTLE_HASH_BYTES];
};

static void epoch_free(struct epoch *e)
{
	free(e->results);
	free(e->cumulative);
	free(e->leaf_index);
	free(e->leaves);
	free(e->hashes);
	free(e->levels);
}

/*
 * An upper bound of the epoch's base + performance: each node settled
 * alone with eta = 0 (m_DIV = 1, its largest; every other factor is the
 * node's own), summed in 128 bits. faii_settle_epoch() checks the totals
 * of base and of performance but not of deductions and withheld amounts,
 * which can then wrap and fail its conservation assertion (aborting) when
 * base + performance over all nodes leaves 64 bits; bounding that sum
 * below 2^63 first keeps every total in range.
 */
static int gross_bound(const struct fs_scenario *sc, unsigned __int128 *sum)
{
	struct faii_settle_params alone = sc->params;
	alone.diversity_eta_ppb = 0;
	*sum = 0;
	for (size_t j = 0; j < sc->node_count; j++) {
		struct faii_settle_node_result r;
		struct faii_settle_epoch_totals t;
		int rc = faii_settle_epoch(&alone, &sc->nodes[j], 1, &r, &t);
		if (rc != 0)
			return rc;
		*sum += (unsigned __int128)r.base + r.performance;
	}
	return 0;
}

/* Payouts; amounts that JSON integers (signed 64 bits) cannot carry are refused. */
static int pay(const char *path, const struct fs_scenario *sc, struct epoch *e)
{
	unsigned __int128 bound = 0;
	int rc = gross_bound(sc, &bound);
	if (rc == 0 && bound > FS_AMOUNT_MAX)
		rc = -EOVERFLOW;
	if (rc == 0)
		rc = faii_settle_epoch(&sc->params, sc->nodes, sc->node_count, e->results,
		                       &e->totals);
	FAII_ASSERT(rc != 0 || (unsigned __int128)e->totals.base + e->totals.performance <= bound);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", path,
		        rc == -EOVERFLOW
		                ? "the epoch's amounts (before m_DIV) exceed 2^63 - 1 units"
		                : "settlement refuses the inputs");
		return -1;
	}
	for (size_t j = 0; j < sc->node_count; j++) {
		uint64_t before = sc->nodes[j].cumulative_before;
		e->cumulative[j] = before + e->results[j].paid;
		if (e->cumulative[j] > FS_AMOUNT_MAX) {
			fprintf(stderr,
			        "%s: nodes[%zu].cumulative_before: with this epoch's payout beyond "
			        "2^63 - 1 units\n",
			        path, j);
			return -1;
		}
	}
	return 0;
}

/* The payout tree, leaves sorted by node id (as the state machine's). */
static void build_tree(const struct fs_scenario *sc, struct epoch *e)
{
	e->leaf_count = 0;
	for (size_t k = 0; k < sc->node_count; k++) {
		uint32_t j = sc->by_id[k];
		e->leaf_index[j] = NO_LEAF;
		if (e->cumulative[j] == 0)
			continue; /* never owed anything: no leaf needed to claim */
		struct faii_settle_payout_leaf *leaf = &e->leaves[e->leaf_count];
		*leaf = (struct faii_settle_payout_leaf){.epoch = sc->epoch,
		                                         .operator_id = sc->nodes[j].operator_id,
		                                         .node_id = sc->nodes[j].node_id,
		                                         .amount = e->results[j].paid,
		                                         .cumulative = e->cumulative[j]};
		uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
		faii_settle_leaf_encode(leaf, bytes);
		faii_settle_leaf_hash(bytes, e->hashes[e->leaf_count]);
		e->leaf_index[j] = (uint32_t)e->leaf_count++;
	}
	FAII_ASSERT(faii_settle_merkle_tree((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])e->hashes,
	                                    e->leaf_count, e->levels, e->root) == 0);
}

static int settle(const char *path, const struct fs_scenario *sc, struct epoch *e)
{
	size_t n = sc->node_count ? sc->node_count : 1;
	memset(e, 0, sizeof(*e));
	e->results = calloc(n, sizeof(e->results[0]));
	e->cumulative = calloc(n, sizeof(e->cumulative[0]));
	e->leaf_index = calloc(n, sizeof(e->leaf_index[0]));
	e->leaves = calloc(n, sizeof(e->leaves[0]));
	e->hashes = calloc(n, FAII_SETTLE_HASH_BYTES);
	e->levels = calloc(faii_settle_merkle_tree_hashes(n), FAII_SETTLE_HASH_BYTES);
	if (!e->results || !e->cumulative || !e->leaf_index || !e->leaves || !e->hashes ||
	    !e->levels) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_NOTHING;
	}
	if (pay(path, sc, e) != 0)
		return EXIT_USAGE;
	build_tree(sc, e);
	return 0;
}

/* Node j's proof as `faiictl payout verify` reads it; NULL without a leaf. */
static json_t *proof_json(const struct epoch *e, size_t j)
{
	if (e->leaf_index[j] == NO_LEAF)
		return NULL;
	struct faii_settle_proof proof;
	uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
	const struct faii_settle_payout_leaf *leaf = &e->leaves[e->leaf_index[j]];
	FAII_ASSERT(
	        faii_settle_merkle_tree_proof((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])e->levels,
	                                      e->leaf_count, e->leaf_index[j], &proof) == 0);
	faii_settle_leaf_encode(leaf, bytes);
	FAII_ASSERT(faii_settle_merkle_verify(bytes, &proof, e->root) == 0);
	return faii_settle_proof_to_json(leaf, &proof, e->root);
}

static json_t *integers(const uint64_t *values, size_t count)
{
	json_t *list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, json_integer((json_int_t)values[i]));
	return list;
}

static json_t *per_class(const uint64_t values[FAII_SETTLE_CLASSES])
{
	json_t *obj = json_object();
	for (uint32_t c = 0; c < FAII_SETTLE_CLASSES; c++)
		json_object_set_new(obj, fs_class_name(c), json_integer((json_int_t)values[c]));
	return obj;
}

#define AMOUNT(x) json_integer((json_int_t)(x))

static json_t *node_json(const struct fs_scenario *sc, const struct epoch *e, size_t j)
{
	const struct faii_settle_node_input *in = &sc->nodes[j];
	const struct faii_settle_node_result *r = &e->results[j];
	json_t *proof = proof_json(e, j);
	return json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                 "node_id", (json_int_t)in->node_id, "operator_id",
	                 (json_int_t)in->operator_id, "class", fs_class_name(in->node_class),
	                 "base", AMOUNT(r->base), "performance", AMOUNT(r->performance),
	                 "deduction", AMOUNT(r->deduction), "withheld", AMOUNT(r->withheld), "paid",
	                 AMOUNT(r->paid), "cumulative", AMOUNT(e->cumulative[j]), "esg_ppb",
	                 AMOUNT(r->esg_ppb), "diversity_ppb", AMOUNT(r->diversity_ppb), "slo_ppb",
	                 integers(r->slo_ppb, FAII_SETTLE_TIERS), "proof",
	                 proof ? proof : json_null());
}

static json_t *totals_json(const struct faii_settle_epoch_totals *t)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "base", AMOUNT(t->base),
	                 "performance", AMOUNT(t->performance), "deduction", AMOUNT(t->deduction),
	                 "withheld", AMOUNT(t->withheld), "paid", AMOUNT(t->paid), "theta_ppb",
	                 integers(t->theta_ppb, FAII_SETTLE_TIERS), "class_share_ppb",
	                 per_class(t->class_share_ppb), "class_diversity_ppb",
	                 per_class(t->class_diversity_ppb));
}

/* One top-level key and its value, compact, on a line of its own. */
static void print_key(const char *key, json_t *value)
{
	printf("  \"%s\": ", key);
	json_dumpf(value, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(value);
	fputs(",\n", stdout);
}

/*
 * The whole epoch, streamed: one key a line and one node a line, so that
 * a fleet of 2^20 nodes never holds its proofs in memory at once (and a
 * node's line can be found with grep).
 */
static void print_epoch(const struct fs_scenario *sc, const struct epoch *e)
{
	char root_hex[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(root_hex, sizeof(root_hex), e->root, sizeof(e->root));
	fputs("{\n", stdout);
	print_key("epoch", json_integer((json_int_t)sc->epoch));
	print_key("name", json_string(sc->name));
	print_key("params", fs_params_to_json(&sc->params));
	print_key("totals", totals_json(&e->totals));
	print_key("leaves", json_integer((json_int_t)e->leaf_count));
	print_key("root", json_string(root_hex));
	fputs("  \"nodes\": [", stdout);
	for (size_t j = 0; j < sc->node_count; j++) {
		json_t *node = node_json(sc, e, j);
		fputs(j == 0 ? "\n    " : ",\n    ", stdout);
		json_dumpf(node, stdout, JSON_COMPACT);
		json_decref(node);
	}
	fputs(sc->node_count ? "\n  ]\n}\n" : "]\n}\n", stdout);
}

/* --proof NODE: that node's proof alone, or why there is none. */
static json_t *one_proof(const char *path, const struct fs_scenario *sc, const struct epoch *e,
                         uint32_t node_id)
{
	for (size_t j = 0; j < sc->node_count; j++) {
		if (sc->nodes[j].node_id != node_id)
			continue;
		json_t *proof = proof_json(e, j);
		if (proof == NULL)
			fprintf(stderr, "%s: node %u has no leaf: it was never owed anything\n",
			        path, node_id);
		return proof;
	}
	fprintf(stderr, "%s: no node %u in the scenario\n", path, node_id);
	return NULL;
}

/* A proof, as `faiictl payout verify` reads it. */
static void print_proof(json_t *proof)
{
	json_dumpf(proof, stdout, JSON_INDENT(2));
	json_decref(proof);
	fputc('\n', stdout);
}

/* Whether everything printed reached stdout. */
static int flushed(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", prog, strerror(errno));
		return EXIT_NOTHING;
	}
	return 0;
}

static bool parse_node_id(const char *text, uint32_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int run(const char *path, bool only_one, uint32_t node_id)
{
	struct fs_scenario sc;
	struct epoch e;
	memset(&sc, 0, sizeof(sc));
	memset(&e, 0, sizeof(e));
	int rc = load(path, &sc) != 0 ? EXIT_USAGE : settle(path, &sc, &e);
	if (rc == 0 && only_one) {
		json_t *proof = one_proof(path, &sc, &e, node_id);
		if (proof != NULL)
			print_proof(proof);
		rc = proof != NULL ? flushed() : EXIT_NOTHING;
	} else if (rc == 0) {
		print_epoch(&sc, &e);
		rc = flushed();
	}
	epoch_free(&e);
	fs_scenario_free(&sc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {{"scenario", required_argument, NULL, 's'},
	                                        {"proof", required_argument, NULL, 'p'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *path = NULL;
	bool only_one = false;
	uint32_t node_id = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'p':
			only_one = true;
			if (!parse_node_id(optarg, &node_id)) {
				fprintf(stderr, "%s: --proof: expected a node id in 0..%u\n", prog,
				        UINT32_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "%s: %s\n", prog,
		        path == NULL ? "--scenario FILE is required" : "unexpected argument");
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to start\n", prog);
		return EXIT_NOTHING;
	}
	return run(path, only_one, node_id);
}
