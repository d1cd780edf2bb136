/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's command table, roles and operator audit records: one
 * file per noun (cmd_*.c) holds the commands, see docs/control.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/audit.h"
#include "faii/clock.h"

static const struct {
	const char *name;
	bool admin;
	cmd_fn fn;
} commands[] = {
        {"status", false, cmd_status},
        {"node.list", false, cmd_node_list},
        {"node.show", false, cmd_node_show},
        {"node.add", true, cmd_node_add},
        {"node.remove", true, cmd_node_remove},
        {"node.drain", true, cmd_node_drain},
        {"node.undrain", true, cmd_node_undrain},
        {"node.attest", true, cmd_node_attest},
        {"policy.get", false, cmd_policy_get},
        {"policy.set", true, cmd_policy_set},
        {"residency.list", false, cmd_residency_list},
        {"residency.set", true, cmd_residency_set},
        {"queues", false, cmd_queues},
        {"latency", false, cmd_latency},
        {"route.explain", false, cmd_route_explain},
        {"counters", false, cmd_counters},
        {"ledger.status", false, cmd_ledger_status},
        {"config.reload", true, cmd_config_reload},
        {"keys.reload", true, cmd_keys_reload},
        {"dag.status", false, cmd_dag_status},
        {"dag.peers", false, cmd_dag_peers},
        {"dag.vertex", false, cmd_dag_vertex},
        {"dag.evidence", false, cmd_dag_evidence},
        {"dag.submit", true, cmd_dag_submit},
        {"settle.status", false, cmd_settle_status},
        {"payout.proof", false, cmd_payout_proof},
        {"receipt.proof", false, cmd_receipt_proof},
        {"gov.list", false, cmd_gov_list},
        {"gov.show", false, cmd_gov_show},
        {"gov.params", false, cmd_gov_params},
        {"gov.propose", true, cmd_gov_propose},
        {"gov.vote", true, cmd_gov_vote},
        {"calibrate", false, cmd_calibrate},
        {"calibrate.submit", true, cmd_calibrate_submit},
        {"slash.list", false, cmd_slash_list},
        {"slash.show", false, cmd_slash_show},
        {"slash.nodes", false, cmd_slash_nodes},
        {"slash.vote", true, cmd_slash_vote},
        {"reputation.list", false, cmd_reputation_list},
        {"reputation.show", false, cmd_reputation_show},
        {"carbon.balances", false, cmd_carbon_balances},
        {"carbon.certificates", false, cmd_carbon_certificates},
        {"carbon.retirements", false, cmd_carbon_retirements},
        {"carbon.totals", false, cmd_carbon_totals},
};

void faii_control_audit(struct faii_control *c, const struct faii_ctl_peer *peer, const char *cmd,
                        json_t *args, const struct faii_ctl_error *err, bool ok)
{
	if (c->ledger == NULL)
		return;
	struct faii_audit_operator rec = {
	        .time_ns = faii_realtime_ns(),
	        .uid = peer->uid,
	        .gid = peer->gid,
	        .pid = peer->pid,
	        .ok = ok,
	};
	snprintf(rec.command, sizeof(rec.command), "%s", cmd);
	if (!ok)
		snprintf(rec.error_code, sizeof(rec.error_code), "%s", err->code);
	char *text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(rec.args, sizeof(rec.args), "%s", text ? text : "?");
	free(text);
	if (faii_audit_operator(c->ledger, &rec) < 0)
		c->audit_failed++;
}

void faii_control_answer_deferred(struct faii_control *c, const struct faii_ctl_peer *peer,
                                  const char *cmd, json_t *args, json_t *result,
                                  const struct faii_ctl_error *err)
{
	faii_control_audit(c, peer, cmd, args, err, result != NULL);
	if (c->server != NULL)
		faii_ctl_answer(c->server, peer->token, result, err);
	else
		json_decref(result);
}

json_t *faii_control_dispatch(void *ctx, const struct faii_ctl_peer *peer, const char *cmd,
                              json_t *args, struct faii_ctl_error *err)
{
	struct faii_control *c = ctx;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		if (commands[i].admin && peer->role != FAII_CTL_ROLE_ADMIN) {
			faii_ctl_fail(err, "forbidden",
			              "%s needs the admin role (uid %u is a reader)", cmd,
			              peer->uid);
			faii_control_audit(c, peer, cmd, args, err, false);
			return NULL;
		}
		c->peer = peer;
		json_t *result = commands[i].fn(c, args, err);
		c->peer = NULL;
		/* A deferred command records itself when it is answered. */
		if (commands[i].admin && result != FAII_CTL_DEFERRED)
			faii_control_audit(c, peer, cmd, args, err, result != NULL);
		return result;
	}
	return faii_ctl_fail(err, "unknown_command", "no command \"%.64s\" (see docs/control.md)",
	                     cmd);
}
