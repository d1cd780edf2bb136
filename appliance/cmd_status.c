/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * status, ledger.status: see docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "faii/clock.h"

#define VERSION "0.1.0"

/* ---- status, ledger ----------------------------------------------------------------- */

/* Authentication: off, or the keys in force as counts (never a key). */
static json_t *status_keys(const struct faii_control *c)
{
	const struct faii_keys *k = &c->app->keys;
	if (!k->enabled)
		return json_pack("{s:b}", "enabled", false);
	struct faii_keys_summary sum;
	faii_keys_describe(k, &sum);
	json_t *o = cmd_keys_summary(k, &sum);
	json_t *extra =
	        json_pack("{s:b, s:I, s:I, s:I, s:I, s:s}", "enabled", true, "generation",
	                  (json_int_t)k->generation, "reloads_ok", (json_int_t)c->key_reloads_ok,
	                  "reloads_failed", (json_int_t)c->key_reloads_failed, "expired",
	                  (json_int_t)k->expired, "last_error", c->last_key_reload_error);
	json_object_update(o, extra);
	json_decref(extra);
	return o;
}

json_t *cmd_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	struct faii_appliance_dp *a = c->app;
	const struct faii_config *cfg = a->reg.cfg;
	uint32_t active = 0;
	for (uint32_t i = 0; i < cfg->node_count; i++)
		active += cfg->nodes[i].status == FAII_NODE_ACTIVE;
	char digest[65];
	sodium_bin2hex(digest, sizeof(digest), cfg->digest, sizeof(cfg->digest));
	const struct faii_route_set *set = faii_publisher_current(&a->pub);
	struct faii_ctl_stats cs = {0};
	if (c->server)
		faii_ctl_get_stats(c->server, &cs);
	json_t *status = json_pack(
	        "{s:s, s:i, s:f, s:i, s:I, s:I, s:I, s:f, s:I, s:s, s:{s:s, s:s}, s:{s:I, s:I, "
	        "s:f, "
	        "s:s}, s:i}",
	        "version", VERSION, "protocol", FAII_CTL_PROTOCOL, "uptime_s",
	        (double)(faii_realtime_ns() - c->start_ns) / 1e9, "workers", a->worker_count,
	        "nodes", (json_int_t)cfg->node_count, "nodes_active", (json_int_t)active,
	        "route_generation", (json_int_t)(set ? set->generation : 0), "last_solve_ms",
	        a->pub.last_solve_s * 1e3, "route_keys", (json_int_t)(set ? set->table_count : 0),
	        "residency_judge", a->residency_mode, "config", "path", c->config_path, "digest",
	        digest, "reload", "ok", (json_int_t)c->reloads_ok, "failed",
	        (json_int_t)c->reloads_failed, "last_success_unix",
	        (double)c->last_reload_ok_ns / 1e9, "last_error", c->last_reload_error,
	        "control_clients", cs.clients);
	json_object_set_new(status, "keys", status_keys(c));
	return status;
}

json_t *cmd_ledger_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	if (c->ledger == NULL)
		return faii_ctl_fail(err, "not_found", "no ledger is open");
	struct faii_ls_stats st;
	faii_ls_get_stats(c->ledger, &st);
	char chain[2 * FAII_LS_CHAIN_SIZE + 1];
	sodium_bin2hex(chain, sizeof(chain), st.chain, sizeof(st.chain));
	return json_pack(
	        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I}", "dir",
	        c->app->reg.cfg->appliance.ledger_dir, "durable_seq", (json_int_t)st.durable_seq,
	        "batches", (json_int_t)st.batches, "bytes_written", (json_int_t)st.bytes_written,
	        "segments", (json_int_t)st.segments, "recovered_records",
	        (json_int_t)st.recovered_records, "index_entries", (json_int_t)st.index_entries,
	        "index_overflow", (json_int_t)st.index_overflow, "error",
	        st.error ? strerror(-st.error) : "", "chain", chain, "audit_failed",
	        (json_int_t)c->audit_failed);
}
