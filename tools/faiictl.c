/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiictl: the command-line client of faiid's control socket (docs/control.md,
 * docs/faiictl.1).
 *
 * One invocation sends one request line and reads one response line. The
 * client knows the argument shapes of the commands, not their results: a
 * result is rendered generically (scalars as "key: value", arrays of objects
 * as aligned tables), so that fields the server adds later show up without a
 * client change. --json prints the result object as the server sent it.
 *
 * Exit status: 0 ok, 1 the server answered with an error, 2 usage error,
 * 3 cannot connect, timeout, or an answer that is not the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <yaml.h>

#include "faii/demo.h"
#include "faii/protocol.h"
#include "faii/settle.h"
#include "faii/wire.h"
#include "faiictl.h"
#include "settle_json.h"
#include "receipt_proof.h"

#define EXIT_SERVER  1
#define EXIT_USAGE   2
#define EXIT_CONNECT 3

#define DEFAULT_SOCKET  "/run/faii/faii.sock"
#define DEFAULT_TIMEOUT 10.0
/* Responses can be large (node.list of a big fleet, route.explain of a key
 * with thousands of nodes) but never unbounded: a runaway server must not make
 * the client eat the machine's memory. */
#define RESPONSE_MAX (16u << 20)
/* node add --file: a node mapping is a few hundred bytes; 1 MiB is generous. */
#define NODE_FILE_MAX (1u << 20)

struct opts {
	const char *socket_path;
	double timeout_s;
	bool json;
};

static const char *prog = "faiictl";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(EXIT_USAGE);
}

/* ---- commands and their help ------------------------------------------------------------ */

typedef json_t *(*build_fn)(int argc, char **argv, const char *cmd);

struct command {
	const char *group; /* first word */
	const char *sub;   /* second word, NULL when the group is the command */
	const char *name;  /* protocol command */
	const char *usage; /* arguments after the words */
	const char *help;  /* what it does */
	build_fn build;
	/* Offline commands (receipt verify): run here, no server. */
	int (*local)(int argc, char **argv, bool as_json);
};

static json_t *build_none(int argc, char **argv, const char *cmd);
static json_t *build_node_list(int argc, char **argv, const char *cmd);
static json_t *build_node_id(int argc, char **argv, const char *cmd);
static json_t *build_node_add(int argc, char **argv, const char *cmd);
static json_t *build_node_attest(int argc, char **argv, const char *cmd);
static json_t *build_policy_set(int argc, char **argv, const char *cmd);
static json_t *build_residency_set(int argc, char **argv, const char *cmd);
static json_t *build_route_explain(int argc, char **argv, const char *cmd);
static json_t *build_config_reload(int argc, char **argv, const char *cmd);
static json_t *build_keys_reload(int argc, char **argv, const char *cmd);
static json_t *build_dag_vertex(int argc, char **argv, const char *cmd);
static json_t *build_dag_submit(int argc, char **argv, const char *cmd);
static json_t *build_payout_proof(int argc, char **argv, const char *cmd);
static int local_payout_verify(int argc, char **argv, bool json);
static json_t *build_receipt_proof(int argc, char **argv, const char *cmd);
static int receipt_verify(int argc, char **argv, bool as_json);
static void print_result(const json_t *result, bool as_json);

static const struct command commands[] = {
        {"status", NULL, "status", "",
         "Show the appliance: version, protocol, uptime, workers, nodes, route generation and\n"
         "solve time, configuration path and digest, reload status.",
         build_none, NULL},
        {"node", "list", "node.list", "[--status STATUS]",
         "List the registered nodes, optionally only those with STATUS (active, draining,\n"
         "quarantined, slashed, removed).",
         build_node_list, NULL},
        {"node", "show", "node.show", "ID", "Show everything known about node ID.", build_node_id,
         NULL},
        {"node", "add", "node.add", "--file FILE",
         "Register a node. FILE holds one node mapping as in the configuration's nodes:\n"
         "section (docs/configuration.md), in JSON or YAML; a sequence holding one mapping\n"
         "is accepted too. Use - for standard input.",
         build_node_add, NULL},
        {"node", "remove", "node.remove", "ID", "Remove node ID from the registry.", build_node_id,
         NULL},
        {"node", "drain", "node.drain", "ID",
         "Drain node ID: it gets no new tasks; tasks in flight complete.", build_node_id, NULL},
        {"node", "undrain", "node.undrain", "ID", "Return a drained node ID to active.",
         build_node_id, NULL},
        {"node", "attest", "node.attest",
         "--message HEX | {--heartbeat|--attest} --node ID --demo-key [--seq N]\n"
         "       [--timestamp-ns NS] [--pue X] [--grid-stress X] [--energy-to-work X]\n"
         "       [--mix S,W,H,G,B,Y,X,N] [--print]",
         "Inject a signed HEARTBEAT, ATTEST or REGISTER message as if node ID had sent it.\n"
         "--message takes the whole wire message in hex. --heartbeat or --attest builds\n"
         "one for node ID signed with its demonstration key (include/faii/demo.h; demo\n"
         "fleet only): --seq defaults to the current Unix time in seconds so that each\n"
         "run is newer than the last, --timestamp-ns to now; --pue (default 1.1),\n"
         "--grid-stress (0.2), --energy-to-work (0.02) and --mix (per-mille of solar,\n"
         "wind, hydro, geothermal, biomass, hydrogen, waste, non-renewable; default\n"
         "400,300,200,0,0,0,0,100) fill an ATTEST of 1000 Wh on meter ID over the last\n"
         "whole quarter hour. --print prints the message in hex and sends nothing.",
         build_node_attest, NULL},
        {"policy", "get", "policy.get", "",
         "Show every policy parameter with its value and allowed range.", build_none, NULL},
        {"policy", "set", "policy.set", "NAME=VALUE... [--dry-run]",
         "Set policy parameters, named by their dotted YAML keys (concentration_eta,\n"
         "price_corridor.below, esg_weights.renewables, tiers.1.operator_cap, ...). The\n"
         "request is checked as a whole: one bad value changes nothing. --dry-run reports\n"
         "how the routing shares would change without applying anything.",
         build_policy_set, NULL},
        {"residency", "list", "residency.list", "",
         "List the residency classes with their allowed jurisdictions.", build_none, NULL},
        {"residency", "set", "residency.set", "CLASS ALLOW...",
         "Set the jurisdictions residency class CLASS (id or name) allows: countries,\n"
         "blocs, or any.",
         build_residency_set, NULL},
        {"queues", NULL, "queues", "",
         "Show per tier outstanding tasks, capacity, q_t, p_t and theta_t, and per node\n"
         "class the utilisation.",
         build_none, NULL},
        {"latency", NULL, "latency", "",
         "Show per tier the task count, p50, p90, p99, p99.9 and the latency histogram.",
         build_none, NULL},
        {"route", "explain", "route.explain",
         "--region R --category C --class K [--budget-us N] [--min-reputation M]",
         "Explain the routing of one key (region, task category, residency class; ids or\n"
         "names): the feasible nodes with their values and shares, every excluded node\n"
         "with its reason, and the node the dataplane would pick now. --budget-us and\n"
         "--min-reputation describe a synthetic task.",
         build_route_explain, NULL},
        {"counters", NULL, "counters", "",
         "Show the receive, drop, pipeline and residency counters.", build_none, NULL},
        {"ledger", "status", "ledger.status", "",
         "Show the ledger: durable sequence, segments, bytes, errors.", build_none, NULL},
        {"config", "reload", "config.reload", "[--dry-run] [--path FILE]",
         "Reload the configuration (or FILE instead) after validating it completely; an\n"
         "invalid file changes nothing. --dry-run reports the changes without applying\n"
         "them. A relative FILE is taken from faiictl's working directory.",
         build_config_reload, NULL},
        {"keys", "reload", "keys.reload", "[--dry-run]",
         "Read the key files (appliance.auth) again and put the keys in force without a\n"
         "restart: a rotation (docs/security.md). The files are checked completely; a bad\n"
         "one changes nothing and is named with its line. --dry-run only checks. The\n"
         "answer gives counts, epochs and deadlines, never a key.",
         build_keys_reload, NULL},
        {"dag", "status", "dag.status", "",
         "Show the consortium validator: epoch, index, round, last committed anchor,\n"
         "committed vertices and transactions, the window (round_low, round_inserted,\n"
         "round_seen), held and pending bytes, journal flushes, refusals by reason and\n"
         "the proposal-to-commit latency of its own vertices.",
         build_none, NULL},
        {"dag", "peers", "dag.peers", "",
         "Show every validator of the committee: connected, links, reconnects, bytes and\n"
         "messages each way, queued, drops, close reasons, its highest round and how\n"
         "many rounds it lags behind the front.",
         build_none, NULL},
        {"dag", "vertex", "dag.vertex", "ROUND AUTHOR",
         "Show the certified vertex of ROUND by validator index AUTHOR (0..n-1) from\n"
         "the ledger: digest, parents, transaction count, batch bytes and the\n"
         "certificate's signers.",
         build_dag_vertex, NULL},
        {"dag", "evidence", "dag.evidence", "",
         "List the equivocation proofs in the ledger: author, round, the two digests and\n"
         "whether the proof verifies against the committee's public keys.",
         build_none, NULL},
        {"dag", "submit", "dag.submit", "HEX",
         "Queue an operator transaction (1..4096 bytes, in hex) for this validator's next\n"
         "vertices (admin).",
         build_dag_submit, NULL},
        {"settle", "status", "settle.status", "",
         "Show this appliance's settlement of the committed sequence: the consortium's\n"
         "time, the current epoch, settled and failed epochs, registered nodes, money\n"
         "(minted, paid, escrow, treasury, burned), transactions applied and refused by\n"
         "reason, ESG attestations (applied, refused by reason, and this appliance's\n"
         "queue to its validator), and the latest settled epoch (root, leaves, votes,\n"
         "final, totals).",
         build_none, NULL},
        {"payout", "proof", "payout.proof", "NODE [EPOCH]",
         "Print NODE's payout leaf and Merkle proof in the latest settled epoch (or\n"
         "EPOCH, one of the last 8) as JSON, for `payout verify`.",
         build_payout_proof, NULL},
        {"payout", "verify", NULL, "FILE",
         "Check a payout proof (the JSON of `payout proof`; - for stdin) offline: the\n"
         "leaf hashes up to the root it names. Exit status 0 valid, 1 invalid. Compare\n"
         "the root with the consortium's (`settle status` on any appliance).",
         NULL, local_payout_verify},
        {"receipt", "proof", "receipt.proof", "TASK_ID",
         "Show the routing receipt of task TASK_ID (the newest kept) with its slice, its\n"
         "leaf index, the Merkle path and the slice's root, which the slice's WORK_SUMMARY\n"
         "transactions carry. With --json the output is a proof file for receipt verify.",
         build_receipt_proof, NULL},
        {"receipt", "verify", "(offline)", "FILE",
         "Check a proof file (receipt proof --json; - for standard input) offline, without\n"
         "an appliance: the leaf decodes as a receipt, its reading matches it, and the leaf\n"
         "with its path hashes up to the root. Exit status 0 when it does, 1 when not.",
         NULL, receipt_verify},
        {"gov", "list", "gov.list", "[--after ID]",
         "List governance proposals, open and closed, by id (256 an answer; --after the\n"
         "last id shown for more): proposer, effective epoch, status, votes for and\n"
         "against, the changes with parameter names; and governance's counters\n"
         "(adopted, rejected, expired, failed, refusals by reason).",
         build_gov_list, NULL},
        {"gov", "show", "gov.show", "ID",
         "Show proposal ID: as in `gov list`, with the validator set's size, the quorum\n"
         "that adopts it and the votes against that reject it.",
         build_one_id, NULL},
        {"gov", "params", "gov.params", "[EPOCH]",
         "Show every governed parameter: id, name, unit, the value in force at EPOCH\n"
         "(default: the current epoch), its genesis value, its default, its range and\n"
         "the values a proposal effective at EPOCH may set under the step cap.",
         build_gov_params, NULL},
        {"gov", "propose", "gov.propose", "PARAM=VALUE... --epoch E",
         "Propose changing up to 8 parameters (named as in `gov params`; each VALUE an\n"
         "integer in the parameter's unit: 2.2 as a ppb rate is 2200000000) from epoch E\n"
         "on, through this appliance's validator (admin). Checked first against the\n"
         "notice, the horizon and the step cap; the committed sequence decides. The\n"
         "proposer votes with `gov vote` like every validator.",
         build_gov_propose, NULL},
        {"gov", "vote", "gov.vote", "ID yes|no",
         "Vote on proposal ID as this appliance's validator (admin); n - f votes for\n"
         "adopt it, f + 1 against reject it.",
         build_gov_vote, NULL},
        {"calibrate", NULL, "calibrate",
         "[--epochs N] [--energy-weight W] [--time-weight W] | --input FILE; [--epoch E] "
         "[--submit]",
         "Propose tier factors from observations (docs/settlement.md, \"Calibration\"):\n"
         "the ledger's, summed over the last N settled epochs it keeps (default and at\n"
         "most 64), priced W per Wh (default 1) and W per node-second (default 0); or\n"
         "FILE's, a window's per-tier totals as JSON (schema in docs/settlement.md,\n"
         "\"Operating\"; - for stdin). Prints the window (first..last epoch, totals),\n"
         "each tier's cost, multipliers, estimate and the factor proposed within the\n"
         "step cap for epoch E (default: the next one governance accepts). --submit\n"
         "also submits it as a governance proposal (admin).",
         build_calibrate, NULL},
        {"slash", "list", "slash.list", "[--from ID]",
         "List slashing proposals from ID (default 1; 256 an answer): accused node,\n"
         "offense, state, deadline, rate, stake, amount, votes, evidence digest.",
         build_slash_list, NULL},
        {"slash", "show", "slash.show", "ID", "Show slashing proposal ID.", build_one_id, NULL},
        {"slash", "nodes", "slash.nodes", "[--slashed] [--from NODE]",
         "List the accused nodes (only the slashed ones with --slashed): open\n"
         "proposals, escrowed rewards, stake and the stake that clears `slashed`.",
         build_slash_nodes, NULL},
        {"slash", "vote", "slash.vote", "ID uphold|dismiss",
         "Vote on disputed slashing proposal ID as this appliance's validator (admin);\n"
         "2f + 1 matching votes decide it.",
         build_slash_vote, NULL},
        {"reputation", "list", "reputation.list", "[--from NODE]",
         "List every observed node's reputation score (ppb and decimal), by node id.",
         build_reputation_list, NULL},
        {"reputation", "show", "reputation.show", "NODE",
         "Show NODE's reputation: score, success, uptime, latency and stake components,\n"
         "Byzantine halvings, decay point, and the last closed month's heartbeats.",
         build_reputation_show, NULL},
        {"carbon", "balances", "carbon.balances", "[--from OPERATOR]",
         "List the operators' certificate balances in Wh: tradable, retired, expired,\n"
         "minted, transferred in and out, the last transfer nonce, lots held.",
         build_carbon_balances, NULL},
        {"carbon", "certificates", "carbon.certificates",
         "[--operator N] [--meter M] [--node N] [--from METER:START:SERIAL]",
         "List certificate lots by (meter, interval start, first serial), optionally\n"
         "only an owner's, a meter's or a node's: Wh, retired Wh, owner, node,\n"
         "location, mint epoch.",
         build_carbon_certificates, NULL},
        {"carbon", "retirements", "carbon.retirements",
         "[--operator N] [--meter M] [--node N] [--from SEQ]",
         "List the retirement log from SEQ on: epoch, operator, node, meter, interval,\n"
         "serials and Wh retired against the node's energy.",
         build_carbon_retirements, NULL},
        {"carbon", "totals", "carbon.totals", "",
         "Show the registry's totals: minted, tradable, retired and expired Wh, energy,\n"
         "table fill, evidence, and what was dropped or overwritten.",
         build_none, NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage_line(FILE *f, const struct command *c)
{
	/* A usage string may span lines; its continuation lines start with
	 * spaces already and stay under the first. */
	fprintf(f, "  %s %s%s%s%s%s\n", prog, c->group, c->sub ? " " : "", c->sub ? c->sub : "",
	        c->usage[0] ? " " : "", c->usage);
}

static void usage_main(FILE *f)
{
	fprintf(f,
	        "usage: %s [--socket PATH] [--json] [--timeout S] COMMAND [SUBCOMMAND] [ARGS...]\n"
	        "\n"
	        "The client of faiid's operator control socket (docs/control.md).\n"
	        "\n"
	        "options:\n"
	        "  -s, --socket PATH  control socket (default $FAII_CONTROL_SOCKET, else %s)\n"
	        "  -j, --json         print the server's result as JSON\n"
	        "  -t, --timeout S    give up after S seconds (default %g)\n"
	        "  -h, --help         this help; COMMAND --help for a command's\n"
	        "\n"
	        "commands:\n",
	        prog, DEFAULT_SOCKET, DEFAULT_TIMEOUT);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *c = &commands[i];
		char words[64];
		snprintf(words, sizeof(words), "%s%s%s", c->group, c->sub ? " " : "",
		         c->sub ? c->sub : "");
		/* First line of the usage only: the table stays one line a command. */
		const char *nl = strchr(c->usage, '\n');
		int ulen = nl ? (int)(nl - c->usage) : (int)strlen(c->usage);
		if (ulen)
			fprintf(f, "  %-18s %.*s%s\n", words, ulen, c->usage, nl ? " ..." : "");
		else
			fprintf(f, "  %s\n", words);
	}
	fprintf(f, "\nexit status: 0 ok, 1 server error, 2 usage error, 3 cannot connect or "
	           "timeout.\nSee faiictl(1).\n");
}

static void usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "usage: %s [OPTIONS] %s%s%s%s%s\n\n%s\n\nprotocol command: %s\n", prog, c->group,
	        c->sub ? " " : "", c->sub ? c->sub : "", c->usage[0] ? " " : "", c->usage, c->help,
	        c->name);
}

static void usage_group(FILE *f, const char *group)
{
	fprintf(f, "usage: %s [OPTIONS] %s SUBCOMMAND [ARGS...]\n\nsubcommands:\n", prog, group);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			print_usage_line(f, &commands[i]);
	fprintf(f, "\n%s %s SUBCOMMAND --help for more.\n", prog, group);
}

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

/* ---- argument parsing helpers ----------------------------------------------------------- */

static const struct command *current;
static const char *sent_as; /* send_as(): the protocol command actually sent */

void send_as(const char *name)
{
	sent_as = name;
}

void die_cmd_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (current)
		fprintf(stderr, "usage: %s %s%s%s %s\n", prog, current->group,
		        current->sub ? " " : "", current->sub ? current->sub : "", current->usage);
	exit(EXIT_USAGE);
}

bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	/* strtod takes hex floats and "inf"; the protocol wants decimal numbers. */
	if (strpbrk(s, "xXnN"))
		return false;
	*out = v;
	return true;
}

/* A decimal integer as a JSON integer, anything else numeric as a real: the
 * server may check that integer parameters (operators_min) are integers. */
static json_t *json_number_from(const char *s)
{
	uint64_t u;
	if (parse_u64(s, (uint64_t)INT64_MAX, &u))
		return json_integer((json_int_t)u);
	if (s[0] == '-' && parse_u64(s + 1, (uint64_t)INT64_MAX, &u))
		return json_integer(-(json_int_t)u);
	double d;
	if (parse_double(s, &d))
		return json_real(d);
	return NULL;
}

/* Ids or names (route explain, residency set): numbers go as integers. */
static json_t *json_id_or_name(const char *s)
{
	uint64_t u;
	if (parse_u64(s, UINT32_MAX, &u))
		return json_integer((json_int_t)u);
	return json_string(s);
}

static json_t *node_id_arg(const char *s)
{
	uint64_t u;
	if (!parse_u64(s, FAII_NODE_ID_MAX, &u) || u == 0)
		die_cmd_usage("expected a node id in [1, %u], found \"%s\"", FAII_NODE_ID_MAX, s);
	return json_integer((json_int_t)u);
}

/* Long options after the command words: "--name VALUE" or "--name=VALUE".
 * Returns the value, or NULL when argv[*i] is not that option. */
const char *take_opt(int argc, char **argv, int *i, const char *name)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		die_cmd_usage("%s needs a value", name);
	(*i)++;
	return argv[*i];
}

/* ---- request builders ------------------------------------------------------------------- */

static json_t *build_none(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc > 0)
		die_cmd_usage("unexpected argument \"%s\"", argv[0]);
	return NULL;
}

static json_t *build_node_list(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	json_t *args = NULL;
	for (int i = 0; i < argc; i++) {
		const char *v = take_opt(argc, argv, &i, "--status");
		if (!v)
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
		if (!args)
			args = json_object();
		json_object_set_new(args, "status", json_string(v));
	}
	return args;
}

static json_t *build_node_id(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc != 1)
		die_cmd_usage("expected one node id");
	return json_pack("{s:o}", "id", node_id_arg(argv[0]));
}

/* YAML -> JSON for node add: plain scalars that read as numbers become
 * numbers, true/false booleans, null/~ null, everything else (and every quoted
 * scalar) a string; the server then checks the node as the loader would. */
static json_t *yaml_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	if (!n || depth > 32)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			json_t *num = json_number_from(s);
			if (num)
				return num;
			if (strcmp(s, "true") == 0)
				return json_true();
			if (strcmp(s, "false") == 0)
				return json_false();
			if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
				return json_null();
		}
		return json_stringn(s, n->data.scalar.length);
	}
	case YAML_SEQUENCE_NODE: {
		json_t *arr = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
			if (!v) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
		}
		return arr;
	}
	case YAML_MAPPING_NODE: {
		json_t *obj = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v =
			        yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!k || k->type != YAML_SCALAR_NODE || !v) {
				json_decref(v);
				json_decref(obj);
				return NULL;
			}
			json_object_set_new(obj, (const char *)k->data.scalar.value, v);
		}
		return obj;
	}
	default: return NULL;
	}
}

char *read_file_bounded(const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(EXIT_USAGE);
	}
	char *buf = malloc(max + 1);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(EXIT_USAGE);
	}
	size_t n = fread(buf, 1, max + 1, f);
	bool err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err || n > max) {
		if (err)
			fprintf(stderr, "%s: %s: cannot read\n", prog, path);
		else
			fprintf(stderr, "%s: %s: larger than %zu bytes\n", prog, path, max);
		exit(EXIT_USAGE);
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static json_t *parse_node_file(const char *path)
{
	size_t len;
	char *text = read_file_bounded(path, NODE_FILE_MAX, &len);
	json_error_t jerr;
	json_t *node = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!node) {
		/* Not JSON: read it as YAML, the form operators copy from the config. */
		yaml_parser_t parser;
		yaml_document_t doc;
		yaml_parser_initialize(&parser);
		yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
		if (!yaml_parser_load(&parser, &doc)) {
			fprintf(stderr, "%s: %s:%zu:%zu: %s\n", prog, path,
			        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			        parser.problem ? parser.problem : "cannot parse");
			yaml_parser_delete(&parser);
			free(text);
			exit(EXIT_USAGE);
		}
		node = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
	}
	free(text);
	/* A "- id: ..." entry cut from a nodes: list is a sequence of one. */
	if (json_is_array(node) && json_array_size(node) == 1) {
		json_t *first = json_incref(json_array_get(node, 0));
		json_decref(node);
		node = first;
	}
	if (!json_is_object(node)) {
		fprintf(stderr, "%s: %s: expected one node mapping (JSON object or YAML mapping)\n",
		        prog, path);
		exit(EXIT_USAGE);
	}
	return node;
}

static json_t *build_node_add(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	const char *file = NULL;
	for (int i = 0; i < argc; i++) {
		const char *v = take_opt(argc, argv, &i, "--file");
		if (!v)
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
		file = v;
	}
	if (!file)
		die_cmd_usage("--file FILE is required");
	return json_pack("{s:o}", "node", parse_node_file(file));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t milli_arg(const char *name, const char *s, double lo, double hi)
{
	double d;
	if (!parse_double(s, &d) || d < lo || d > hi)
		die_cmd_usage("%s: expected a number in [%g, %g], found \"%s\"", name, lo, hi, s);
	return (uint32_t)lround(d * 1000.0);
}

static json_t *build_node_attest(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	const char *message = NULL, *v;
	int type = 0;
	bool demo_key = false, print = false;
	uint64_t node = 0, seq = (uint64_t)time(NULL), ts = now_ns();
	uint32_t pue = 1100, grid = 200, etw = 20;
	uint16_t mix[FAII_SRC_COUNT] = {400, 300, 200, 0, 0, 0, 0, 100};
	for (int i = 0; i < argc; i++) {
		if ((v = take_opt(argc, argv, &i, "--message"))) {
			message = v;
		} else if (strcmp(argv[i], "--heartbeat") == 0) {
			type = FAII_MSG_HEARTBEAT;
		} else if (strcmp(argv[i], "--attest") == 0) {
			type = FAII_MSG_ATTEST;
		} else if (strcmp(argv[i], "--demo-key") == 0) {
			demo_key = true;
		} else if (strcmp(argv[i], "--print") == 0) {
			print = true;
		} else if ((v = take_opt(argc, argv, &i, "--node"))) {
			if (!parse_u64(v, FAII_NODE_ID_MAX, &node) || node == 0)
				die_cmd_usage("--node: expected a node id in [1, %u], found \"%s\"",
				              FAII_NODE_ID_MAX, v);
		} else if ((v = take_opt(argc, argv, &i, "--seq"))) {
			if (!parse_u64(v, UINT32_MAX, &seq))
				die_cmd_usage("--seq: expected an integer in [0, %u], found \"%s\"",
				              UINT32_MAX, v);
		} else if ((v = take_opt(argc, argv, &i, "--timestamp-ns"))) {
			if (!parse_u64(v, UINT64_MAX, &ts))
				die_cmd_usage("--timestamp-ns: expected an integer, found \"%s\"",
				              v);
		} else if ((v = take_opt(argc, argv, &i, "--pue"))) {
			pue = milli_arg("--pue", v, 1, 10);
		} else if ((v = take_opt(argc, argv, &i, "--grid-stress"))) {
			grid = milli_arg("--grid-stress", v, 0, 1);
		} else if ((v = take_opt(argc, argv, &i, "--energy-to-work"))) {
			etw = milli_arg("--energy-to-work", v, 0.001, 4e6);
		} else if ((v = take_opt(argc, argv, &i, "--mix"))) {
			char *copy = strdup(v), *save = NULL, *tok = strtok_r(copy, ",", &save);
			unsigned n = 0, sum = 0;
			for (; tok && n < FAII_SRC_COUNT; tok = strtok_r(NULL, ",", &save), n++) {
				uint64_t m;
				if (!parse_u64(tok, 1000, &m))
					die_cmd_usage(
					        "--mix: expected per-mille integers, found \"%s\"",
					        tok);
				mix[n] = (uint16_t)m;
				sum += (unsigned)m;
			}
			if (tok || n != FAII_SRC_COUNT || sum != 1000)
				die_cmd_usage("--mix: expected %u per-mille values summing to 1000",
				              FAII_SRC_COUNT);
			free(copy);
		} else {
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
		}
	}
	if (message && type)
		die_cmd_usage("--message and --heartbeat/--attest exclude each other");
	if (!message && !type)
		die_cmd_usage("--message HEX, --heartbeat or --attest is required");
	char hex[2 * FAII_MSG_SIZE_MAX + 1];
	if (type) {
		if (!node)
			die_cmd_usage("--node ID is required with --heartbeat or --attest");
		if (!demo_key)
			/* The only key the client can sign with; say so rather than
			 * pretend another could be given. */
			die_cmd_usage("--demo-key is required: faiictl signs only with the "
			              "demonstration keys");
		uint8_t buf[FAII_MSG_SIZE_MAX], pk[FAII_PUBKEY_SIZE], sk[64];
		size_t len;
		if (type == FAII_MSG_HEARTBEAT) {
			struct faii_heartbeat hb = {
			        .node_id = (uint32_t)node,
			        .seq = (uint32_t)seq,
			        .timestamp_ns = ts,
			        .uptime_s = 3600,
			        .load_permille = 100,
			};
			len = faii_encode_heartbeat(buf, sizeof(buf), &hb);
		} else {
			struct faii_attest at = {
			        .node_id = (uint32_t)node,
			        .seq = (uint32_t)seq,
			        .timestamp_ns = ts,
			        .meter_id = node,
			        /* The last whole quarter hour before it: aligned,
			         * as settlement's certificates want it. */
			        .interval_start_s = ts / 1000000000u / 900 * 900 > 900
			                                    ? ts / 1000000000u / 900 * 900 - 900
			                                    : 0,
			        .interval_s = 900,
			        .energy_wh = 1000,
			        .pue_milli = pue,
			        .energy_to_work_milli = etw,
			        .grid_stress_permille = (uint16_t)grid,
			};
			memcpy(at.source_mix_permille, mix, sizeof(mix));
			len = faii_encode_attest(buf, sizeof(buf), &at);
		}
		faii_demo_node_keypair((uint32_t)node, pk, sk);
		if (len == 0 || faii_msg_sign(buf, len, sk) != 0) {
			fprintf(stderr, "%s: cannot build the message\n", prog);
			exit(EXIT_USAGE);
		}
		sodium_memzero(sk, sizeof(sk));
		sodium_bin2hex(hex, sizeof(hex), buf, len);
		message = hex;
	} else {
		size_t n = strlen(message);
		if (n == 0 || n % 2 || n > 2 * FAII_MSG_SIZE_MAX ||
		    strspn(message, "0123456789abcdefABCDEF") != n)
			die_cmd_usage("--message: expected an even number of hex digits (at most "
			              "%u bytes)",
			              FAII_MSG_SIZE_MAX);
	}
	if (print) {
		printf("%s\n", message);
		exit(0);
	}
	return json_pack("{s:s}", "message", message);
}

static json_t *build_policy_set(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	json_t *params = json_object();
	bool dry_run = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0) {
			dry_run = true;
			continue;
		}
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			die_cmd_usage("expected NAME=VALUE, found \"%s\"", argv[i]);
		*eq = '\0';
		json_t *num = json_number_from(eq + 1);
		if (!num)
			die_cmd_usage("%s: expected a decimal number, found \"%s\"", argv[i],
			              eq + 1);
		if (json_object_get(params, argv[i]))
			die_cmd_usage("%s given twice", argv[i]);
		json_object_set_new(params, argv[i], num);
	}
	if (json_object_size(params) == 0)
		die_cmd_usage("expected at least one NAME=VALUE");
	return json_pack("{s:o,s:b}", "params", params, "dry_run", dry_run);
}

static json_t *build_residency_set(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc < 2)
		die_cmd_usage("expected a class and at least one allowed jurisdiction");
	json_t *allow = json_array();
	for (int i = 1; i < argc; i++) {
		/* "CH,EU" and "CH EU" mean the same. */
		char *copy = strdup(argv[i]), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(allow, json_string(t));
		free(copy);
	}
	if (json_array_size(allow) == 0)
		die_cmd_usage("expected at least one allowed jurisdiction");
	return json_pack("{s:o,s:o}", "id", json_id_or_name(argv[0]), "allow", allow);
}

static json_t *build_route_explain(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	json_t *args = json_object();
	const char *v;
	for (int i = 0; i < argc; i++) {
		if ((v = take_opt(argc, argv, &i, "--region"))) {
			json_object_set_new(args, "region", json_id_or_name(v));
		} else if ((v = take_opt(argc, argv, &i, "--category"))) {
			json_object_set_new(args, "category", json_id_or_name(v));
		} else if ((v = take_opt(argc, argv, &i, "--class"))) {
			json_object_set_new(args, "class", json_id_or_name(v));
		} else if ((v = take_opt(argc, argv, &i, "--budget-us"))) {
			uint64_t u;
			if (!parse_u64(v, UINT32_MAX, &u) || u == 0)
				die_cmd_usage("--budget-us: expected an integer in [1, %u], found "
				              "\"%s\"",
				              UINT32_MAX, v);
			json_object_set_new(args, "budget_us", json_integer((json_int_t)u));
		} else if ((v = take_opt(argc, argv, &i, "--min-reputation"))) {
			json_t *num = json_number_from(v);
			if (!num)
				die_cmd_usage("--min-reputation: expected a number, found \"%s\"",
				              v);
			json_object_set_new(args, "min_reputation", num);
		} else {
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
		}
	}
	if (!json_object_get(args, "region") || !json_object_get(args, "category") ||
	    !json_object_get(args, "class"))
		die_cmd_usage("--region, --category and --class are required");
	return args;
}

static json_t *build_keys_reload(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	bool dry_run = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			dry_run = true;
		else
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
	}
	return json_pack("{s:b}", "dry_run", dry_run);
}

static json_t *build_config_reload(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	bool dry_run = false;
	const char *path = NULL, *v;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			dry_run = true;
		else if ((v = take_opt(argc, argv, &i, "--path")))
			path = v;
		else
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
	}
	json_t *args = json_pack("{s:b}", "dry_run", dry_run);
	if (path) {
		/* faiid resolves a relative path against its own working directory;
		 * the operator means faiictl's. */
		char abs[PATH_MAX];
		if (path[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)) ||
			    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
				die_cmd_usage("--path: path too long");
			path = abs;
		}
		json_object_set_new(args, "path", json_string(path));
	}
	return args;
}

/* ---- transport -------------------------------------------------------------------------- */

static json_t *build_dag_vertex(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	uint64_t round, author;
	if (argc != 2)
		die_cmd_usage("expected ROUND AUTHOR");
	if (!parse_u64(argv[0], INT64_MAX, &round))
		die_cmd_usage("ROUND: expected an integer, found \"%s\"", argv[0]);
	if (!parse_u64(argv[1], INT64_MAX, &author))
		die_cmd_usage("AUTHOR: expected a validator index, found \"%s\"", argv[1]);
	return json_pack("{s:I, s:I}", "round", (json_int_t)round, "author", (json_int_t)author);
}

static json_t *build_dag_submit(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc != 1)
		die_cmd_usage("expected one transaction in hex");
	return json_pack("{s:s}", "hex", argv[0]);
}

static json_t *build_receipt_proof(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	uint64_t task_id;
	if (argc != 1 || !parse_u64(argv[0], UINT64_MAX, &task_id))
		die_cmd_usage("expected one task id, an integer 0..2^64-1");
	if (task_id <= INT64_MAX)
		return json_pack("{s:I}", "task_id", (json_int_t)task_id);
	return json_pack("{s:s}", "task_id", argv[0]); /* beyond JSON's integers */
}

/* receipt verify FILE: offline, against the root the file names. */
static int receipt_verify(int argc, char **argv, bool as_json)
{
	if (argc != 1)
		die_cmd_usage("expected one proof file (or - for standard input)");
	size_t len;
	char *text = read_file_bounded(argv[0], FAII_RECEIPT_PROOF_FILE_BYTES_MAX, &len);
	struct faii_receipt_proof p;
	char err[256];
	int rc = faii_receipt_proof_verify_text(text, len, &p, err, sizeof(err));
	free(text);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: does not verify: %s\n", prog, argv[0], err);
		return EXIT_SERVER;
	}
	struct faii_settle_receipt r;
	enum faii_settle_receipt_refusal reason;
	faii_settle_receipt_decode(p.leaf, &r, &reason); /* decoded once already */
	char root[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(root, sizeof(root), p.root, sizeof(p.root));
	json_t *out = json_pack("{s:b, s:I, s:I, s:I, s:s, s:o}", "verified", 1, "slice",
	                        (json_int_t)p.slice, "leaf_index", (json_int_t)p.proof.index,
	                        "leaf_count", (json_int_t)p.proof.count, "root", root, "receipt",
	                        faii_receipt_json(&r));
	print_result(out, as_json);
	json_decref(out);
	return 0;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_connect(const struct opts *o, const char *what, int err) __attribute__((noreturn));
static void die_connect(const struct opts *o, const char *what, int err)
{
	if (err)
		fprintf(stderr, "%s: %s: %s: %s\n", prog, o->socket_path, what, strerror(err));
	else
		fprintf(stderr, "%s: %s: %s\n", prog, o->socket_path, what);
	exit(EXIT_CONNECT);
}

/* Waits for events on fd until the deadline; 0 when ready, -1 on timeout. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - mono_s();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = events};
		int ms = left > 1e6 ? 1000000000 : (int)(left * 1000.0) + 1;
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_socket(const struct opts *o, double deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(o->socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: %s: socket path longer than %zu bytes\n", prog, o->socket_path,
		        sizeof(sa.sun_path) - 1);
		exit(EXIT_USAGE);
	}
	strcpy(sa.sun_path, o->socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die_connect(o, "socket", errno);
	/* A Unix connect completes at once or fails with EAGAIN when the
	 * listener's backlog is full: retry until the deadline. */
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINPROGRESS) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				die_connect(o, "connect timed out", 0);
			int err = 0;
			socklen_t l = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err)
				die_connect(o, "cannot connect", err);
			return fd;
		}
		if (errno != EAGAIN && errno != EINTR)
			die_connect(o, "cannot connect", errno);
		if (mono_s() >= deadline)
			die_connect(o, "connect timed out", 0);
		struct timespec pause = {0, 10 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

/* Sends the request; false when the server has closed its end. A server that
 * refuses a peer (forbidden, busy) writes one line and closes, possibly before
 * the request is sent: the caller then still reads that line. */
static bool send_all(const struct opts *o, int fd, const char *buf, size_t len, double deadline)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				die_connect(o, "timed out sending the request", 0);
		} else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			return false;
		} else {
			die_connect(o, "cannot send the request", n < 0 ? errno : 0);
		}
	}
	return true;
}

/* Reads one line, at most RESPONSE_MAX bytes; returns it NUL-terminated with
 * the newline removed. */
static char *recv_line(const struct opts *o, int fd, double deadline, size_t *len_out)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		die_connect(o, "out of memory", 0);
	for (;;) {
		if (len == cap) {
			if (cap >= RESPONSE_MAX + 1)
				die_connect(o, "response longer than 16 MiB", 0);
			cap = cap * 2 > RESPONSE_MAX + 1 ? RESPONSE_MAX + 1 : cap * 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				die_connect(o, "out of memory", 0);
			buf = nb;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			char *nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl) {
				/* One request, one response: anything after the line is
				 * not ours to read. */
				*nl = '\0';
				*len_out = (size_t)(nl - buf);
				return buf;
			}
		} else if (n == 0) {
			die_connect(o,
			            len ? "connection closed in the middle of the response"
			                : "connection closed without a response",
			            0);
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				die_connect(o, "timed out waiting for the response", 0);
		} else {
			die_connect(o, "cannot read the response", errno);
		}
	}
}

/* ---- rendering -------------------------------------------------------------------------- */

/* A value as one table cell or "key: value" text; the caller frees it. */
static char *scalar_text(const json_t *v)
{
	char *s = NULL;
	int r = 0;
	switch (json_typeof(v)) {
	case JSON_STRING: return strdup(json_string_value(v));
	case JSON_INTEGER: r = asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
	case JSON_REAL: r = asprintf(&s, "%.6g", json_real_value(v)); break;
	case JSON_TRUE: return strdup("yes");
	case JSON_FALSE: return strdup("no");
	case JSON_NULL: return strdup("-");
	case JSON_ARRAY: {
		/* Lists of scalars read best comma-separated; anything nested as JSON. */
		bool flat = true;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) flat = flat && !json_is_object(e) && !json_is_array(e);
		if (flat) {
			size_t cap = 1, used = 0;
			s = calloc(1, cap);
			json_array_foreach(v, i, e)
			{
				char *t = scalar_text(e);
				size_t tl = strlen(t);
				char *ns = realloc(s, cap + tl + 1);
				if (!ns) {
					free(t);
					break;
				}
				s = ns;
				cap += tl + 1;
				used += (size_t)sprintf(s + used, "%s%s", i ? "," : "", t);
				free(t);
			}
			return s;
		}
	}
		/* fall through */
	default: return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	}
	return r < 0 ? strdup("?") : s;
}

static bool is_table(const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (!json_is_object(e)) return false;
	return true;
}

/* Cells longer than this are cut so that one histogram does not wreck a table. */
#define CELL_MAX 60

static void print_table(const json_t *rows, int indent)
{
	/* Columns: the union of the rows' keys in order of first appearance. */
	json_t *cols = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)row, k, x)
		{
			bool seen = false;
			size_t j;
			json_t *c;
			json_array_foreach(cols, j, c) seen =
			        seen || strcmp(json_string_value(c), k) == 0;
			if (!seen)
				json_array_append_new(cols, json_string(k));
		}
	}
	size_t nc = json_array_size(cols), nr = json_array_size(rows);
	char ***cells = calloc(nr, sizeof(*cells));
	size_t *width = calloc(nc, sizeof(*width));
	for (size_t c = 0; c < nc; c++) {
		width[c] = strlen(json_string_value(json_array_get(cols, c)));
	}
	for (size_t r = 0; r < nr; r++) {
		cells[r] = calloc(nc, sizeof(char *));
		for (size_t c = 0; c < nc; c++) {
			json_t *v = json_object_get(json_array_get(rows, r),
			                            json_string_value(json_array_get(cols, c)));
			char *t = v ? scalar_text(v) : strdup("");
			if (t && strlen(t) > CELL_MAX)
				strcpy(t + CELL_MAX - 3, "...");
			cells[r][c] = t;
			size_t w = t ? strlen(t) : 0;
			if (w > width[c])
				width[c] = w;
		}
	}
	/* Header upper-cased like ps(1) and ss(8); numbers right-aligned. */
	printf("%*s", indent, "");
	for (size_t c = 0; c < nc; c++) {
		const char *h = json_string_value(json_array_get(cols, c));
		for (size_t k = 0; h[k]; k++)
			putchar(h[k] >= 'a' && h[k] <= 'z' ? h[k] - 'a' + 'A' : h[k]);
		if (c + 1 < nc)
			printf("%*s", (int)(width[c] - strlen(h) + 2), "");
	}
	putchar('\n');
	for (size_t r = 0; r < nr; r++) {
		printf("%*s", indent, "");
		for (size_t c = 0; c < nc; c++) {
			json_t *v = json_object_get(json_array_get(rows, r),
			                            json_string_value(json_array_get(cols, c)));
			const char *t = cells[r][c] ? cells[r][c] : "";
			bool num = v && json_is_number(v);
			if (c + 1 == nc && !num)
				printf("%s", t);
			else if (num)
				printf("%*s", (int)width[c], t);
			else
				printf("%-*s", (int)width[c], t);
			if (c + 1 < nc)
				printf("  ");
			free(cells[r][c]);
		}
		putchar('\n');
		free(cells[r]);
	}
	free(cells);
	free(width);
	json_decref(cols);
}

static void print_object(const json_t *obj, int indent)
{
	size_t keyw = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (strlen(k) > keyw)
			keyw = strlen(k);
	}
	json_object_foreach((json_t *)obj, k, v)
	{
		if (is_table(v)) {
			printf("%*s%s:\n", indent, "", k);
			print_table(v, indent + 2);
		} else if (json_is_object(v) && json_object_size(v) > 0) {
			printf("%*s%s:\n", indent, "", k);
			print_object(v, indent + 2);
		} else {
			char *t = scalar_text(v);
			printf("%*s%-*s  %s\n", indent, "", (int)keyw + 1, k, t ? t : "");
			free(t);
		}
	}
}

static void print_result(const json_t *result, bool as_json)
{
	if (as_json) {
		char *s =
		        json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	if (json_is_object(result))
		print_object(result, 0);
	else if (is_table(result))
		print_table(result, 0);
	else {
		char *t = scalar_text(result);
		printf("%s\n", t ? t : "");
		free(t);
	}
}

/* ---- main ------------------------------------------------------------------------------- */

/* One request, one response: returns the response object (exits 3 when
 * there is none that follows the protocol). Takes args' reference. */
static json_t *call(const struct opts *o, const char *cmd, json_t *args)
{
	/* The id lets us check that the line we read answers our request. */
	static json_int_t next_id;
	json_int_t id = (json_int_t)getpid() * 1000 + ++next_id;
	json_t *req = json_pack("{s:I,s:s}", "id", id, "cmd", cmd);
	if (args)
		json_object_set_new(req, "args", args);
	char *line = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	size_t ll = line ? strlen(line) : 0;
	char *framed = line ? malloc(ll + 2) : NULL;
	if (!framed) {
		fprintf(stderr, "%s: cannot encode the request\n", prog);
		exit(EXIT_USAGE);
	}
	memcpy(framed, line, ll);
	framed[ll] = '\n';
	free(line);

	double deadline = mono_s() + o->timeout_s;
	int fd = connect_socket(o, deadline);
	(void)send_all(o, fd, framed, ll + 1, deadline);
	free(framed);
	size_t rlen;
	char *resp = recv_line(o, fd, deadline, &rlen);
	close(fd);

	json_error_t jerr;
	json_t *r = json_loadb(resp, rlen, 0, &jerr);
	free(resp);
	if (!json_is_object(r)) {
		fprintf(stderr, "%s: the server's answer is not a JSON object: %s\n", prog,
		        r ? "wrong type" : jerr.text);
		exit(EXIT_CONNECT);
	}
	json_t *ok = json_object_get(r, "ok");
	json_t *rid = json_object_get(r, "id");
	json_t *err = json_object_get(r, "error");
	/* A refusal before the request was read (busy, forbidden) carries a
	 * null id: it still answers us. */
	bool ours = (json_is_integer(rid) && json_integer_value(rid) == id) ||
	            (json_is_null(rid) && json_is_false(ok));
	if (!ours || !(json_is_true(ok) || (json_is_false(ok) && json_is_object(err)))) {
		fprintf(stderr, "%s: the server's answer does not follow the protocol\n", prog);
		exit(EXIT_CONNECT);
	}
	return r;
}

/* Prints a server error; returns 1. */
static int server_error(const json_t *r)
{
	const json_t *err = json_object_get(r, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));
	fprintf(stderr, "%s: %s: %s\n", prog, code ? code : "error", msg ? msg : "");
	return EXIT_SERVER;
}

/* residency.set takes a class id: a name is looked up in residency.list. */
static int resolve_class_name(const struct opts *o, json_t *args)
{
	json_t *id = json_object_get(args, "id");
	if (!json_is_string(id))
		return 0;
	json_t *r = call(o, "residency.list", NULL);
	if (!json_is_true(json_object_get(r, "ok"))) {
		int rc = server_error(r);
		json_decref(r);
		return rc;
	}
	json_t *classes = json_object_get(json_object_get(r, "result"), "classes");
	size_t i;
	json_t *c;
	json_array_foreach(classes, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *cid = json_object_get(c, "id");
		if (name && json_is_integer(cid) && strcmp(name, json_string_value(id)) == 0) {
			json_object_set_new(args, "id", json_integer(json_integer_value(cid)));
			json_decref(r);
			return 0;
		}
	}
	fprintf(stderr, "%s: not_found: no residency class named \"%s\"\n", prog,
	        json_string_value(id));
	json_decref(r);
	return EXIT_SERVER;
}

static int run(const struct opts *o, const char *cmd, json_t *args)
{
	if (strcmp(cmd, "residency.set") == 0) {
		int rc = resolve_class_name(o, args);
		if (rc) {
			json_decref(args);
			return rc;
		}
	}
	json_t *r = call(o, cmd, args);
	int status;
	if (json_is_true(json_object_get(r, "ok"))) {
		json_t *result = json_object_get(r, "result");
		json_t *empty = json_object();
		print_result(result ? result : empty, o->json);
		json_decref(empty);
		status = 0;
	} else {
		status = server_error(r);
	}
	json_decref(r);
	return status;
}

static json_t *build_payout_proof(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc < 1 || argc > 2)
		die_cmd_usage("expected NODE [EPOCH]");
	uint64_t node, epoch;
	if (!parse_u64(argv[0], UINT32_MAX, &node))
		die_cmd_usage("expected a node id, found \"%s\"", argv[0]);
	json_t *args = json_pack("{s:I}", "node", (json_int_t)node);
	if (argc == 2) {
		if (!parse_u64(argv[1], INT64_MAX, &epoch))
			die_cmd_usage("expected an epoch, found \"%s\"", argv[1]);
		json_object_set_new(args, "epoch", json_integer((json_int_t)epoch));
	}
	return args;
}

/* payout verify FILE: no socket, no appliance. */
static int local_payout_verify(int argc, char **argv, bool json)
{
	if (argc != 1)
		die_cmd_usage("expected one FILE (- for stdin)");
	if (sodium_init() < 0)
		return EXIT_USAGE;
	size_t len = 0;
	char *text = read_file_bounded(argv[0], 1u << 16, &len);
	json_error_t jerr;
	json_t *object = json_loadb(text, len, 0, &jerr);
	free(text);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	uint8_t leaf_bytes[FAII_SETTLE_LEAF_BYTES], root[FAII_SETTLE_HASH_BYTES];
	char err[256] = "";
	if (object == NULL)
		snprintf(err, sizeof(err), "line %d: %s", jerr.line, jerr.text);
	else if (faii_settle_proof_from_json(object, &leaf, leaf_bytes, &proof, root, err,
	                                     sizeof(err)) == 0 &&
	         faii_settle_merkle_verify(leaf_bytes, &proof, root) != 0)
		snprintf(err, sizeof(err), "the leaf does not hash up to the root");
	json_decref(object);
	bool valid = err[0] == '\0';
	if (json)
		printf("{\"valid\": %s%s%s%s}\n", valid ? "true" : "false",
		       valid ? "" : ", \"error\": \"", valid ? "" : err, valid ? "" : "\"");
	else if (valid)
		printf("valid: node %u (operator %u) is owed %" PRIu64
		       " units in all as of epoch %" PRIu64 " (%" PRIu64 " that epoch)\n",
		       leaf.node_id, leaf.operator_id, leaf.cumulative, leaf.epoch, leaf.amount);
	else
		printf("invalid: %s: %s\n", argv[0], err);
	return valid ? 0 : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct opts o = {
	        .socket_path = getenv("FAII_CONTROL_SOCKET"),
	        .timeout_s = DEFAULT_TIMEOUT,
	};
	if (!o.socket_path || !*o.socket_path)
		o.socket_path = DEFAULT_SOCKET;

	static const struct option longopts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"timeout", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	/* "+": stop at the command word, whose own options follow it. */
	int c;
	while ((c = getopt_long(argc, argv, "+s:jt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.socket_path = optarg; break;
		case 'j': o.json = true; break;
		case 't':
			if (!parse_double(optarg, &o.timeout_s) || o.timeout_s <= 0 ||
			    o.timeout_s > 86400)
				die_usage("--timeout: expected seconds in (0, 86400], found \"%s\"",
				          optarg);
			break;
		case 'h': usage_main(stdout); return 0;
		default: fprintf(stderr, "Try '%s --help'.\n", prog); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	const char *group = argv[optind++];
	if (is_help(group)) {
		usage_main(stdout);
		return 0;
	}
	bool known_group = false, has_subs = false;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].group, group) == 0) {
			known_group = true;
			has_subs = commands[i].sub != NULL;
		}
	}
	if (!known_group)
		die_usage("unknown command \"%s\"", group);
	const char *sub = NULL;
	if (has_subs) {
		if (optind >= argc) {
			usage_group(stderr, group);
			return EXIT_USAGE;
		}
		sub = argv[optind++];
		if (is_help(sub)) {
			usage_group(stdout, group);
			return 0;
		}
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *cmd = &commands[i];
		if (strcmp(cmd->group, group) != 0 || (sub && strcmp(cmd->sub, sub) != 0))
			continue;
		current = cmd;
		for (int a = optind; a < argc; a++) {
			if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
				usage_command(stdout, cmd);
				return 0;
			}
		}
		if (sodium_init() < 0) {
			fprintf(stderr, "%s: libsodium cannot start\n", prog);
			return EXIT_USAGE;
		}
		if (cmd->local != NULL)
			return cmd->local(argc - optind, argv + optind, o.json);
		json_t *args = cmd->build(argc - optind, argv + optind, cmd->name);
		return run(&o, sent_as ? sent_as : cmd->name, args);
	}
	die_usage("unknown command \"%s %s\"", group, sub);
}
