/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control commands, one file per noun (cmd_node.c, cmd_policy.c, ...),
 * and the argument helpers they share. Private to appliance/: control.c
 * holds the table that maps a command name to its function and its role.
 *
 * Convention: a command returns its JSON result, or NULL after filling err
 * with faii_ctl_fail() (a code from docs/control.md and a sentence). The
 * argument helpers return false (or -1) after doing the same. Everything
 * runs on the control thread.
 */
#ifndef FAII_APPLIANCE_CMD_H
#define FAII_APPLIANCE_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "control.h"

/* ---- arguments (cmd_args.c) ---- */
bool cmd_arg_uint(json_t *args, const char *key, uint64_t max, uint64_t *out,
                  struct faii_ctl_error *err);
bool cmd_arg_bool(json_t *args, const char *key, bool *out, struct faii_ctl_error *err);
/* Refuses a key that is not in the NULL-terminated list known. */
bool cmd_args_known(json_t *args, const char *const *known, struct faii_ctl_error *err);
/* The registry slot of args.node, or -1. */
int32_t cmd_arg_node(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
bool cmd_arg_region(const struct faii_config *cfg, json_t *args, uint16_t *out,
                    struct faii_ctl_error *err);
bool cmd_arg_category(json_t *args, uint8_t *out, struct faii_ctl_error *err);
bool cmd_arg_class(const struct faii_config *cfg, json_t *args, const char *key, uint16_t *out,
                   struct faii_ctl_error *err);
/* An optional unsigned argument: *out keeps its default when key is absent. */
bool cmd_arg_uint_opt(json_t *args, const char *key, uint64_t max, uint64_t *out,
                      struct faii_ctl_error *err);
/* object[key] = value, as a JSON integer (values above INT64_MAX do not occur:
 * settlement's amounts and ids stay below 2^63). */
void cmd_set_u64(json_t *object, const char *key, uint64_t value);

/* ---- commands: the signature of every entry of control.c's table ---- */
typedef json_t *(*cmd_fn)(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_ledger_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_node_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_add(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_attest(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_remove(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_drain(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_undrain(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_node_set_status(struct faii_control *c, json_t *args, uint8_t status,
                            struct faii_ctl_error *err);

json_t *cmd_policy_get(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_policy_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* Solves every key under the current configuration and reports how the
 * shares differ from the published set (dry runs of policy.set and reload). */
json_t *cmd_share_changes(struct faii_control *c);
/* The governance step cap on a policy about to replace the running one:
 * true when within it, else false with step_cap_exceeded in err. */
bool cmd_step_cap_ok(struct faii_control *c, const struct faii_policy *next,
                     struct faii_ctl_error *err);

json_t *cmd_residency_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_residency_set(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_queues(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_latency(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_counters(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_route_explain(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_dag_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_dag_peers(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_dag_vertex(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_dag_evidence(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_dag_submit(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* cmd_settle.c */
json_t *cmd_settle_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_payout_proof(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* Rows one settlement listing answers at most (gov, slash, carbon, reputation):
 * the rest is paged with the listing's cursor (its `next` field). */
#define CMD_SETTLE_ROWS_MAX 256u
/* True when settlement runs; else false with `unavailable` in err. */
bool cmd_settlement_running(struct faii_control *c, struct faii_ctl_error *err);
/* Queues one settlement transaction through this appliance's validator, as
 * dag.submit does: {queued, bytes, blake2b, hex}, or NULL with err. */
json_t *cmd_settle_submit(struct faii_control *c, const uint8_t *tx, uint32_t len,
                          struct faii_ctl_error *err);
/* cmd_gov.c: governance and calibration (docs/settlement.md, "Governance"). */
json_t *cmd_gov_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_gov_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_gov_params(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_gov_propose(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_gov_vote(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* One change as JSON: id, param (its name), value, unit. */
json_t *cmd_gov_change_json(uint32_t param, uint64_t value);
struct faii_settle_tx_gov_proposal;
/* Checks a proposal against governance now (notice, horizon, step cap:
 * advisory, the committed sequence decides), encodes and submits it:
 * cmd_settle_submit's answer with effective_epoch and changes, or NULL. */
json_t *cmd_gov_submit_proposal(struct faii_control *c,
                                const struct faii_settle_tx_gov_proposal *proposal,
                                struct faii_ctl_error *err);
/* cmd_calibrate.c: tier factors from observations (docs/settlement.md,
 * "Calibration"). */
json_t *cmd_calibrate(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_calibrate_submit(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* cmd_slash.c: slashing and reputation. */
json_t *cmd_slash_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_slash_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_slash_nodes(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_slash_vote(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_reputation_list(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_reputation_show(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* cmd_carbon.c: carbon certificates. */
json_t *cmd_carbon_balances(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_carbon_certificates(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_carbon_retirements(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
json_t *cmd_carbon_totals(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_receipt_proof(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_config_reload(struct faii_control *c, json_t *args, struct faii_ctl_error *err);

json_t *cmd_keys_reload(struct faii_control *c, json_t *args, struct faii_ctl_error *err);
/* The key set a summary describes, as JSON: counts, epochs, deadlines. */
json_t *cmd_keys_summary(const struct faii_keys *k, const struct faii_keys_summary *s);

#endif /* FAII_APPLIANCE_CMD_H */
