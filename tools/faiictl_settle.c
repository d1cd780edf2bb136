/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiictl's requests for settlement's parts (docs/control.md, docs/faiictl.1):
 * gov, calibrate, slash, reputation and carbon. Options are integers (ids,
 * epochs, cursors); the server checks them against the state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faiictl.h"

/* calibrate --input: the observations of a window are a few hundred bytes. */
#define CALIBRATE_FILE_MAX (1u << 20)

/* An option that takes an unsigned integer (--name N) or nothing (a flag). */
struct opt_spec {
	const char *opt;
	const char *key;
	uint64_t max;
	bool flag;
};

/* Options of specs into args (created when NULL); positional words into
 * words[] (at most words_max, the count in *word_count). */
static json_t *parse_opts(int argc, char **argv, const struct opt_spec *specs, json_t *args,
                          char **words, int words_max, int *word_count)
{
	if (args == NULL)
		args = json_object();
	for (int i = 0; i < argc; i++) {
		const struct opt_spec *s = specs;
		const char *v = NULL;
		for (; s != NULL && s->opt != NULL; s++) {
			if (s->flag ? strcmp(argv[i], s->opt) == 0
			            : (v = take_opt(argc, argv, &i, s->opt)) != NULL)
				break;
		}
		if (s != NULL && s->opt != NULL && s->flag) {
			json_object_set_new(args, s->key, json_true());
		} else if (s != NULL && s->opt != NULL) {
			uint64_t u;
			if (!parse_u64(v, s->max, &u))
				die_cmd_usage("%s: expected an integer in [0, %" PRIu64
				              "], found \"%s\"",
				              s->opt, s->max, v);
			json_object_set_new(args, s->key, json_integer((json_int_t)u));
		} else if (argv[i][0] != '-' && words != NULL && *word_count < words_max) {
			words[(*word_count)++] = argv[i];
		} else {
			die_cmd_usage("unexpected argument \"%s\"", argv[i]);
		}
	}
	return args;
}

/* Takes the first "--name VALUE" (or "--name=VALUE") out of argv: its value,
 * or NULL. For the options whose value is not an integer. */
static const char *extract_opt(int *argc, char **argv, const char *name)
{
	for (int i = 0; i < *argc; i++) {
		const char *value = take_opt(*argc, argv, &i, name);
		if (value == NULL)
			continue;
		int taken =
		        strchr(argv[i], '=') != NULL && strncmp(argv[i], name, strlen(name)) == 0
		                ? 1
		                : 2;
		int first = i + 1 - taken;
		memmove(argv + first, argv + i + 1, (size_t)(*argc - i - 1) * sizeof(*argv));
		*argc -= taken;
		return value;
	}
	return NULL;
}

/* Only options: the args, or NULL when none was given. */
static json_t *options_only(int argc, char **argv, const struct opt_spec *specs)
{
	json_t *args = parse_opts(argc, argv, specs, NULL, NULL, 0, NULL);
	if (json_object_size(args) == 0) {
		json_decref(args);
		return NULL;
	}
	return args;
}

static uint64_t word_u64(const char *what, const char *s, uint64_t max)
{
	uint64_t u;
	if (!parse_u64(s, max, &u))
		die_cmd_usage("expected %s (an integer in [0, %" PRIu64 "]), found \"%s\"", what,
		              max, s);
	return u;
}

json_t *build_gov_list(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {{"--after", "after", INT64_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}

/* gov show ID, slash show ID. */
json_t *build_one_id(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc != 1)
		die_cmd_usage("expected one ID");
	return json_pack("{s:I}", "id", (json_int_t)word_u64("an id", argv[0], INT64_MAX));
}

json_t *build_gov_params(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc > 1)
		die_cmd_usage("expected at most one EPOCH");
	if (argc == 0)
		return NULL;
	return json_pack("{s:I}", "epoch", (json_int_t)word_u64("an epoch", argv[0], INT64_MAX));
}

json_t *build_gov_propose(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	json_t *changes = json_object();
	json_t *epoch = NULL;
	for (int i = 0; i < argc; i++) {
		const char *v = take_opt(argc, argv, &i, "--epoch");
		if (v != NULL) {
			epoch = json_integer((json_int_t)word_u64("--epoch", v, INT64_MAX));
			continue;
		}
		char *eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i])
			die_cmd_usage("expected PARAM=VALUE, found \"%s\"", argv[i]);
		*eq = '\0';
		if (json_object_get(changes, argv[i]) != NULL)
			die_cmd_usage("%s given twice", argv[i]);
		uint64_t value = word_u64("a value in the parameter's unit", eq + 1, INT64_MAX);
		json_object_set_new(changes, argv[i], json_integer((json_int_t)value));
	}
	if (epoch == NULL)
		die_cmd_usage("--epoch E is required: the epoch the changes take effect");
	if (json_object_size(changes) == 0)
		die_cmd_usage("expected at least one PARAM=VALUE");
	return json_pack("{s:o, s:o}", "changes", changes, "epoch", epoch);
}

/* ID and one of two words: gov vote ID yes|no, slash vote ID uphold|dismiss. */
static json_t *build_vote(int argc, char **argv, const char *key, const char *yes, const char *no)
{
	if (argc != 2)
		die_cmd_usage("expected ID %s|%s", yes, no);
	if (strcmp(argv[1], yes) != 0 && strcmp(argv[1], no) != 0)
		die_cmd_usage("expected %s or %s, found \"%s\"", yes, no, argv[1]);
	return json_pack("{s:I, s:s}", "id", (json_int_t)word_u64("an id", argv[0], INT64_MAX), key,
	                 argv[1]);
}

json_t *build_gov_vote(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	return build_vote(argc, argv, "vote", "yes", "no");
}

json_t *build_calibrate(int argc, char **argv, const char *cmd)
{
	/* Without --input the window is the ledger's: the server checks its
	 * size against what settlement keeps. */
	static const struct opt_spec specs[] = {
	        {"--epoch", "epoch", INT64_MAX, false},
	        {"--epochs", "epochs", UINT32_MAX, false},
	        {"--energy-weight", "energy_weight", INT64_MAX, false},
	        {"--time-weight", "time_weight", INT64_MAX, false},
	        {"--submit", "submit", 0, true},
	        {0}};
	const char *file = extract_opt(&argc, argv, "--input");
	json_t *args = parse_opts(argc, argv, specs, NULL, NULL, 0, NULL);
	if (json_object_get(args, "submit") != NULL) {
		json_object_del(args, "submit");
		send_as("calibrate.submit");
	} else {
		send_as(cmd);
	}
	if (file == NULL)
		return args;
	size_t len = 0;
	char *text = read_file_bounded(file, CALIBRATE_FILE_MAX, &len);
	json_error_t jerr;
	json_t *input = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(input))
		die_cmd_usage("%s: line %d: %s", file, jerr.line,
		              input ? "expected a JSON object" : jerr.text);
	json_object_set_new(args, "input", input);
	return args;
}

json_t *build_slash_list(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {{"--from", "from", INT64_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}

json_t *build_slash_nodes(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {
	        {"--slashed", "slashed", 0, true}, {"--from", "from", UINT32_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}

json_t *build_slash_vote(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	return build_vote(argc, argv, "verdict", "uphold", "dismiss");
}

json_t *build_reputation_list(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {{"--from", "from", UINT32_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}

json_t *build_reputation_show(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	if (argc != 1)
		die_cmd_usage("expected one NODE");
	return json_pack("{s:I}", "node", (json_int_t)word_u64("a node id", argv[0], UINT32_MAX));
}

json_t *build_carbon_balances(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {{"--from", "from", UINT32_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}

#define CARBON_FILTER_SPECS                                                                        \
	{"--operator", "operator", UINT32_MAX, false}, {"--meter", "meter", INT64_MAX, false},     \
	{                                                                                          \
		"--node", "node", UINT32_MAX, false                                                \
	}

json_t *build_carbon_certificates(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {CARBON_FILTER_SPECS, {0}};
	const char *from = extract_opt(&argc, argv, "--from");
	json_t *args = parse_opts(argc, argv, specs, NULL, NULL, 0, NULL);
	if (from != NULL) {
		uint64_t meter, start, serial;
		char tail;
		if (sscanf(from, "%" SCNu64 ":%" SCNu64 ":%" SCNu64 "%c", &meter, &start, &serial,
		           &tail) != 3)
			die_cmd_usage("--from: expected METER:START:SERIAL (the `next` of the last "
			              "answer), found \"%s\"",
			              from);
		json_object_set_new(args, "from_meter", json_integer((json_int_t)meter));
		json_object_set_new(args, "from_interval", json_integer((json_int_t)start));
		json_object_set_new(args, "from_serial", json_integer((json_int_t)serial));
	}
	return args;
}

json_t *build_carbon_retirements(int argc, char **argv, const char *cmd)
{
	(void)cmd;
	static const struct opt_spec specs[] = {
	        CARBON_FILTER_SPECS, {"--from", "from", INT64_MAX, false}, {0}};
	return options_only(argc, argv, specs);
}
