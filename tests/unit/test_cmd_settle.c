/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The settlement commands through the real dispatcher (appliance/control.c,
 * cmd_gov.c, cmd_calibrate.c, cmd_slash.c, cmd_carbon.c) over a settlement
 * fed committed vertices by hand (one validator, so that its own votes
 * decide): arguments refused by name and code before anything is
 * submitted, listings bounded and paged by their cursors, `unavailable`
 * without settlement, `forbidden` for a reader's admin command.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "faii/bytes.h"
#include "faii/settle_gov.h"
#include "faii/settle_slash.h"
#include "settlement.h"

#ifndef FAII_SOURCE_ROOT
#error "FAII_SOURCE_ROOT must name the repository root"
#endif

#define T0_MS       1800000000000ull /* the consortium's time at the start */
#define SLASHES     300u             /* more than one answer holds */
#define STAKED_NODE 202u
#define OBSERVED    101u

static struct faii_config *config;
static struct faii_settlement settlement;
static struct faii_control control;
static uint64_t sequence;
static const struct faii_ctl_peer admin = {.role = FAII_CTL_ROLE_ADMIN};
static const struct faii_ctl_peer reader = {.role = FAII_CTL_ROLE_READER};
static struct faii_ctl_error err;

/* One committed vertex of validator 0 holding the given transactions. */
static void commit(const uint8_t *const *txs, const uint32_t *lens, uint32_t count)
{
	static uint8_t batch[1u << 16];
	uint32_t at = 0;
	for (uint32_t k = 0; k < count; k++) {
		cr_assert_leq(at + 4 + lens[k], sizeof(batch));
		faii_put_le32(batch + at, lens[k]);
		memcpy(batch + at + 4, txs[k], lens[k]);
		at += 4 + lens[k];
	}
	sequence++;
	struct faii_dag_commit c = {.sequence = sequence,
	                            .round = sequence,
	                            .author = 0,
	                            .transactions = batch,
	                            .transactions_bytes = at,
	                            .tx_count = count};
	faii_settlement_on_commit(&settlement, &c);
}

static void commit_one(const uint8_t *tx, uint32_t len)
{
	commit(&tx, &len, 1);
}

static void register_node(uint32_t node, uint64_t stake)
{
	struct faii_settle_tx_node n = {
	        .node_id = node, .operator_id = node % 10, .capacity_units = 1, .stake = stake};
	n.public_key[0] = (uint8_t)node;
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_NODE_REGISTER_BODY];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_tx_node_encode(&n, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
}

/* A slice of validator 0 at ms (the consortium's clock: n = 1), observing
 * OBSERVED when observe. */
static void summary(uint64_t ms, bool observe)
{
	struct faii_settle_work_header h = {
	        .slice = ms, .slice_end_ms = ms, .parts = 1, .entry_count = observe};
	struct faii_settle_work_entry e = {
	        .node_id = OBSERVED, .heartbeats_expected = 10, .heartbeats_seen = 10};
	e.tier[0] = (struct faii_settle_work_tier){
	        .dispatched = 10, .answered = 10, .verified_work = 10, .slo_hits = 10};
	static uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_tx_work_encode(&h, observe ? &e : NULL, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
}

static void slash(uint64_t task)
{
	struct faii_settle_slash_tx s = {.accused = STAKED_NODE,
	                                 .offense = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT,
	                                 .task_id = task};
	s.majority_hash[0] = 1;
	uint8_t tx[FAII_SETTLE_TX_HEADER + FAII_SETTLE_SLASH_HEADER_BYTES +
	           FAII_SETTLE_SLASH_REPLICA_BYTES];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_slash_tx_encode(&s, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
}

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	char load_err[FAII_CFG_ERR_LEN];
	cr_assert_eq(faii_config_load(FAII_SOURCE_ROOT "/configs/demo.yaml", &config, load_err), 0,
	             "%s", load_err);
	config->appliance.settlement.nodes_max = 100; /* 400 slashing proposals */
	config->appliance.validator_count = 1;        /* a consortium of one: its votes decide */
	config->appliance.validators[0].id = 1;
	char open_err[256];
	cr_assert_eq(faii_settlement_open(&settlement, config, 1, 0, open_err, sizeof(open_err)), 0,
	             "%s", open_err);
	control = (struct faii_control){.settlement = &settlement};
	sequence = 0;
	register_node(OBSERVED, 0);
	register_node(STAKED_NODE, 1000);
	summary(T0_MS, false); /* starts the consortium's clock (n = 1) */
	summary(T0_MS + 1000, true);
}

static void teardown(void)
{
	faii_settlement_close(&settlement);
	faii_config_free(config);
}

TestSuite(cmd_settle, .init = setup, .fini = teardown);

/* Dispatches cmd with args (a JSON text, or NULL) as peer: the result. */
static json_t *run(const struct faii_ctl_peer *peer, const char *cmd, const char *args)
{
	json_t *a = args ? json_loads(args, 0, NULL) : NULL;
	cr_assert(args == NULL || a != NULL, "bad test JSON %s", args);
	memset(&err, 0, sizeof(err));
	json_t *r = faii_control_dispatch(&control, peer, cmd, a, &err);
	json_decref(a);
	return r;
}

static void refused(const char *cmd, const char *args, const char *code)
{
	json_t *r = run(&admin, cmd, args);
	cr_expect_null(r, "%s %s answered", cmd, args ? args : "");
	cr_expect_str_eq(err.code, code, "%s %s: %s (%s)", cmd, args ? args : "", err.code,
	                 err.message);
	json_decref(r);
}

static uint64_t epoch_now(void)
{
	json_t *r = run(&admin, "settle.status", NULL);
	cr_assert_not_null(r);
	uint64_t e = (uint64_t)json_integer_value(json_object_get(r, "current_epoch"));
	json_decref(r);
	return e;
}

Test(cmd_settle, unavailable_without_settlement)
{
	static const char *const cmds[] = {
	        "gov.list",        "gov.show",        "gov.params",          "gov.propose",
	        "gov.vote",        "calibrate",       "calibrate.submit",    "slash.list",
	        "slash.show",      "slash.nodes",     "slash.vote",          "reputation.list",
	        "reputation.show", "carbon.balances", "carbon.certificates", "carbon.retirements",
	        "carbon.totals"};
	struct faii_settlement none = {0};
	control.settlement = &none;
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		refused(cmds[k], NULL, "unavailable");
	control.settlement = NULL;
	refused("gov.list", NULL, "unavailable");
}

Test(cmd_settle, gov_arguments_are_checked_before_anything_is_submitted)
{
	char args[256];
	uint64_t e = epoch_now();
	snprintf(args, sizeof(args), "{\"changes\":{\"tiers.2.factor\":2100000000},\"epoch\":%lu}",
	         (unsigned long)(e + 2));
	/* Every check passed: the submission needs the validator this test lacks. */
	refused("gov.propose", args, "unavailable");
	snprintf(args, sizeof(args), "{\"changes\":{\"no.such\":1},\"epoch\":%lu}",
	         (unsigned long)(e + 2));
	refused("gov.propose", args, "invalid_argument");
	snprintf(args, sizeof(args), "{\"changes\":{\"tiers.2.factor\":-1},\"epoch\":%lu}",
	         (unsigned long)(e + 2));
	refused("gov.propose", args, "out_of_range");
	snprintf(args, sizeof(args), "{\"changes\":{\"tiers.1.factor\":0},\"epoch\":%lu}",
	         (unsigned long)(e + 2));
	refused("gov.propose", args, "out_of_range"); /* below the range (min 1) */
	snprintf(args, sizeof(args), "{\"changes\":{\"tiers.2.factor\":3000000000},\"epoch\":%lu}",
	         (unsigned long)(e + 2));
	refused("gov.propose", args, "step_cap_exceeded");
	cr_expect(strstr(err.message, "1800000000..2200000000") != NULL, "%s", err.message);
	snprintf(args, sizeof(args), "{\"changes\":{\"tiers.2.factor\":2100000000},\"epoch\":%lu}",
	         (unsigned long)e);
	refused("gov.propose", args, "out_of_range"); /* no notice */
	refused("gov.propose", "{\"changes\":{},\"epoch\":9}", "invalid_argument");
	refused("gov.propose", "{\"changes\":{\"token_rate\":1}}", "invalid_argument");
	refused("gov.propose", "{\"changes\":{\"token_rate\":1},\"epoch\":1,\"x\":1}",
	        "invalid_argument");
	refused("gov.vote", "{\"id\":1,\"vote\":\"maybe\"}", "invalid_argument");
	refused("gov.vote", "{\"id\":12345,\"vote\":\"yes\"}", "not_found");
	refused("gov.show", "{\"id\":12345}", "not_found");
	refused("gov.params", "{\"epoch\":\"now\"}", "invalid_argument");
	/* A reader may list, not propose. */
	json_t *r = run(&reader, "gov.propose", args);
	cr_expect_null(r);
	cr_expect_str_eq(err.code, "forbidden");
	r = run(&reader, "gov.list", NULL);
	cr_expect_not_null(r, "%s", err.message);
	json_decref(r);
}

Test(cmd_settle, a_committed_proposal_is_listed_with_names_and_votes)
{
	uint64_t e = epoch_now();
	struct faii_settle_tx_gov_proposal p = {.effective_epoch = e + 2, .change_count = 1};
	p.changes[0] = (struct faii_settle_gov_change){.param = FAII_GOV_P_THETA0_1 + 1,
	                                               .value = 2200000000u};
	uint8_t tx[FAII_SETTLE_GOV_PROPOSAL_TX_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_gov_proposal_encode(&p, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
	uint64_t id = sequence << 16; /* (vertex sequence << 16) + index */
	json_t *r = run(&reader, "gov.list", NULL);
	cr_assert_not_null(r, "%s", err.message);
	json_t *first = json_array_get(json_object_get(r, "proposals"), 0);
	cr_expect_eq(json_integer_value(json_object_get(first, "id")), (json_int_t)id);
	cr_expect_str_eq(json_string_value(json_object_get(first, "status")), "open");
	json_t *change = json_array_get(json_object_get(first, "changes"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(change, "param")), "tiers.2.factor");
	cr_expect_eq(json_integer_value(json_object_get(change, "value")), 2200000000);
	cr_expect(json_is_false(json_object_get(r, "truncated")));
	json_decref(r);
	/* The lone validator's vote adopts it (n = 1). */
	struct faii_settle_tx_gov_vote v = {.proposal_id = id, .in_favour = true};
	cr_assert_eq(faii_settle_gov_vote_encode(&v, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
	char args[64];
	snprintf(args, sizeof(args), "{\"id\":%lu}", (unsigned long)id);
	r = run(&reader, "gov.show", args);
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_str_eq(json_string_value(json_object_get(r, "status")), "adopted");
	cr_expect_eq(json_integer_value(json_object_get(r, "votes_for")), 1);
	cr_expect_eq(json_integer_value(json_object_get(r, "quorum")), 1);
	json_decref(r);
	snprintf(args, sizeof(args), "{\"epoch\":%lu}", (unsigned long)(e + 2));
	r = run(&reader, "gov.params", args);
	cr_assert_not_null(r, "%s", err.message);
	json_t *params = json_object_get(r, "params");
	cr_expect_eq(json_array_size(params), FAII_SETTLE_GOV_PARAMS);
	json_t *theta2 = json_array_get(params, FAII_GOV_P_THETA0_1 + 1 - 1);
	cr_expect_str_eq(json_string_value(json_object_get(theta2, "name")), "tiers.2.factor");
	cr_expect_eq(json_integer_value(json_object_get(theta2, "value")), 2200000000);
	cr_expect_eq(json_integer_value(json_object_get(theta2, "default")), 2000000000);
	json_decref(r);
	refused("gov.vote", "{\"id\":1,\"vote\":\"yes\"}", "not_found");
	snprintf(args, sizeof(args), "{\"id\":%lu,\"vote\":\"no\"}", (unsigned long)id);
	refused("gov.vote", args, "conflict"); /* adopted: votes are closed */
}

Test(cmd_settle, slash_list_is_bounded_and_paged)
{
	for (uint64_t task = 1; task <= SLASHES; task++)
		slash(task);
	json_t *r = run(&reader, "slash.list", NULL);
	cr_assert_not_null(r, "%s", err.message);
	json_t *list = json_object_get(r, "proposals");
	cr_expect_eq(json_array_size(list), CMD_SETTLE_ROWS_MAX);
	cr_expect(json_is_true(json_object_get(r, "truncated")));
	cr_expect_eq(json_integer_value(json_object_get(r, "next")), CMD_SETTLE_ROWS_MAX + 1);
	json_t *first = json_array_get(list, 0);
	cr_expect_str_eq(json_string_value(json_object_get(first, "offense")),
	                 "replica_disagreement");
	cr_expect_str_eq(json_string_value(json_object_get(first, "state")), "open");
	cr_expect_eq(json_integer_value(json_object_get(first, "amount")), 100);
	json_decref(r);
	r = run(&reader, "slash.list", "{\"from\":257}");
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_eq(json_array_size(json_object_get(r, "proposals")),
	             SLASHES - CMD_SETTLE_ROWS_MAX);
	cr_expect(json_is_false(json_object_get(r, "truncated")));
	cr_expect(json_is_null(json_object_get(r, "next")));
	json_decref(r);
	r = run(&reader, "slash.nodes", "{\"slashed\":true}");
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_eq(json_array_size(json_object_get(r, "nodes")), 0);
	json_decref(r);
	r = run(&reader, "slash.nodes", NULL);
	cr_assert_not_null(r, "%s", err.message);
	json_t *node = json_array_get(json_object_get(r, "nodes"), 0);
	cr_expect_eq(json_integer_value(json_object_get(node, "node")), STAKED_NODE);
	cr_expect_eq(json_integer_value(json_object_get(node, "open")), SLASHES);
	json_decref(r);
	refused("slash.vote", "{\"id\":1,\"verdict\":\"maybe\"}", "invalid_argument");
	refused("slash.vote", "{\"id\":1,\"verdict\":\"uphold\"}", "conflict"); /* undisputed */
	refused("slash.show", "{\"id\":99999}", "not_found");
}

Test(cmd_settle, reputation_and_carbon_listings)
{
	json_t *r = run(&reader, "reputation.list", NULL);
	cr_assert_not_null(r, "%s", err.message);
	json_t *nodes = json_object_get(r, "nodes");
	cr_assert_eq(json_array_size(nodes), 1);
	json_t *row = json_array_get(nodes, 0);
	cr_expect_eq(json_integer_value(json_object_get(row, "node")), OBSERVED);
	/* 0.3 + 0.4 + 0.2 x (latency 0: 1) + 0.1 x 0 = 0.9 */
	cr_expect_str_eq(json_string_value(json_object_get(row, "score")), "0.900000000");
	json_decref(r);
	r = run(&reader, "reputation.list", "{\"from\":102}");
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_eq(json_array_size(json_object_get(r, "nodes")), 0);
	json_decref(r);
	r = run(&reader, "reputation.show", "{\"node\":5}");
	cr_assert_not_null(r, "%s", err.message);
	cr_expect(json_is_false(json_object_get(r, "known")));
	cr_expect_eq(json_integer_value(json_object_get(r, "score_ppb")), 500000000);
	json_decref(r);
	r = run(&reader, "carbon.totals", NULL);
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_eq(json_integer_value(json_object_get(r, "minted_wh")), 0);
	json_decref(r);
	r = run(&reader, "carbon.certificates", "{\"operator\":7,\"from_meter\":3}");
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_eq(json_array_size(json_object_get(r, "rows")), 0);
	json_decref(r);
	refused("carbon.retirements", "{\"from\":-1}", "out_of_range");
	refused("carbon.balances", "{\"operator\":1}", "invalid_argument");
}

Test(cmd_settle, calibrate_reads_the_documented_schema)
{
	static const char input[] =
	        "{\"input\":{\"epochs\":10,\"energy_weight\":1,\"time_weight\":0,\"tiers\":["
	        "{\"verified_work\":100,\"answered\":100,\"slo_hits\":100,\"energy_wh\":100,"
	        "\"busy_us\":0,\"queue_ppb_sum\":0},"
	        "{\"verified_work\":100,\"answered\":100,\"slo_hits\":100,\"energy_wh\":210,"
	        "\"busy_us\":0,\"queue_ppb_sum\":0},"
	        "{\"verified_work\":0,\"answered\":0,\"slo_hits\":0,\"energy_wh\":0,"
	        "\"busy_us\":0,\"queue_ppb_sum\":0},"
	        "{\"verified_work\":0,\"answered\":0,\"slo_hits\":0,\"energy_wh\":0,"
	        "\"busy_us\":0,\"queue_ppb_sum\":0}]}}";
	json_t *r = run(&reader, "calibrate", input);
	cr_assert_not_null(r, "%s", err.message);
	cr_expect_str_eq(json_string_value(json_object_get(r, "outcome")), "proposed");
	json_t *tiers = json_object_get(r, "tiers");
	cr_expect_eq(json_array_size(tiers), 4);
	json_t *t3 = json_array_get(tiers, 2);
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t3, "flags"), 0)),
	                 "no_data");
	json_t *change = json_array_get(json_object_get(r, "changes"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(change, "param")), "tiers.2.factor");
	json_decref(r);
	/* calibrate.submit is an admin's: a reader is refused, an admin reaches
	 * the submission (no validator here). */
	cr_expect_null(run(&reader, "calibrate.submit", input));
	cr_expect_str_eq(err.code, "forbidden");
	refused("calibrate.submit", input, "unavailable");
	refused("calibrate", "{\"input\":{\"epochs\":1}}", "invalid_argument");
	refused("calibrate", "{\"input\":{},\"epochs\":2}", "invalid_argument");
}

/* OBSERVED's busy time: 1 s on tier 1, 1.05 s on tier 2 (10 tasks each). */
static void summary_busy(uint64_t ms)
{
	struct faii_settle_work_header h = {
	        .slice = ms, .slice_end_ms = ms, .parts = 1, .entry_count = 1};
	struct faii_settle_work_entry e = {.node_id = OBSERVED};
	e.tier[0] = (struct faii_settle_work_tier){.dispatched = 10,
	                                           .answered = 10,
	                                           .verified_work = 10,
	                                           .slo_hits = 10,
	                                           .latency_sum_us = 1000000};
	e.tier[1] = (struct faii_settle_work_tier){.dispatched = 10,
	                                           .answered = 10,
	                                           .verified_work = 10,
	                                           .slo_hits = 10,
	                                           .latency_sum_us = 1050000};
	static uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_tx_work_encode(&h, &e, tx, sizeof(tx), &len), 0);
	commit_one(tx, len);
}

static uint64_t u64_at(json_t *object, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(object, key));
}

Test(cmd_settle, calibrate_without_input_reads_the_ledgers_window)
{
	/* Nothing settled yet: a conflict, not an empty estimate. */
	refused("calibrate", NULL, "conflict");
	refused("calibrate", "{\"epochs\":0}", "out_of_range");
	refused("calibrate", "{\"epochs\":65}", "out_of_range");
	uint64_t epoch = epoch_now(); /* T0_MS / 60 s */
	summary_busy(T0_MS + 2000);
	summary(T0_MS + 60000, false); /* the clock enters the next epoch: `epoch` settles */
	/* Energy alone (the default weights): no meter read, no cost: tier 1
	 * has no data, the window is shown and nothing proposed. */
	json_t *r = run(&reader, "calibrate", NULL);
	cr_assert_not_null(r, "%s", err.message);
	json_t *w = json_object_get(r, "window");
	cr_expect_str_eq(json_string_value(json_object_get(w, "source")), "ledger");
	cr_expect_eq(u64_at(w, "first_epoch"), epoch);
	cr_expect_eq(u64_at(w, "last_epoch"), epoch);
	cr_expect_eq(u64_at(w, "epochs"), 1);
	cr_expect_eq(u64_at(w, "energy_weight"), 1);
	cr_expect_str_eq(json_string_value(json_object_get(r, "outcome")), "no_data");
	json_t *t2 = json_array_get(json_object_get(r, "tiers"), 1);
	cr_expect_eq(u64_at(t2, "proposed_ppb"), u64_at(t2, "in_force_ppb"));
	cr_expect_eq(json_array_size(json_object_get(r, "changes")), 0);
	json_decref(r);
	refused("calibrate.submit", NULL, "conflict");
	/* Node time priced: tier 1 costs 1 s for 20 units (the setup's 10 and
	 * these 10), tier 2 1.05 s for 10: 0.05 and 0.105 a unit. */
	r = run(&reader, "calibrate", "{\"epochs\":64,\"energy_weight\":0,\"time_weight\":1}");
	cr_assert_not_null(r, "%s", err.message);
	w = json_object_get(r, "window");
	cr_expect_eq(u64_at(w, "epochs"), 1);
	json_t *t1 = json_array_get(json_object_get(w, "observations"), 0);
	cr_expect_eq(u64_at(t1, "verified_work"), 20);
	cr_expect_eq(u64_at(t1, "busy_us"), 1000000);
	json_t *tiers = json_object_get(r, "tiers");
	double c1 = json_real_value(json_object_get(json_array_get(tiers, 0), "cost_per_unit"));
	double c2 = json_real_value(json_object_get(json_array_get(tiers, 1), "cost_per_unit"));
	cr_expect_float_eq(c1, 0.05, 1e-12);
	cr_expect_float_eq(c2, 0.105, 1e-12);
	cr_expect_str_eq(json_string_value(json_object_get(r, "outcome")), "proposed");
	json_decref(r);
}
