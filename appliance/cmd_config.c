/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.reload (and SIGHUP): validate completely, then apply or change nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/assert.h"
#include "faii/clock.h"
#include "faii/publish.h"
#include "metrics.h"

/* ---- reload ------------------------------------------------------------------------- */

/* Keys that only a restart applies, and whether they changed. */
static json_t *restart_needed(const struct faii_appliance_cfg *old,
                              const struct faii_appliance_cfg *neu)
{
	json_t *list = json_array();
	bool eal = old->eal_arg_count != neu->eal_arg_count;
	for (uint32_t i = 0; !eal && i < old->eal_arg_count; i++)
		eal = strcmp(old->eal_args[i], neu->eal_args[i]) != 0;
	if (eal)
		json_array_append_new(list, json_string("appliance.eal"));
#define CHANGED(field, name)                                                                       \
	if (old->field != neu->field)                                                              \
		json_array_append_new(list, json_string(name));
	CHANGED(workers, "appliance.workers")
	CHANGED(udp_port, "appliance.udp_port")
	CHANGED(metrics_port, "appliance.metrics_port")
	CHANGED(ledger_segment_mb, "appliance.ledger_segment_mb")
	CHANGED(settlement.slice_ms, "settlement.slice_ms")
	CHANGED(settlement.heartbeat_period_ms, "settlement.heartbeat_period_ms")
	CHANGED(settlement.receipts_kept, "settlement.receipts_kept")
#undef CHANGED
	if (strcmp(old->control_socket, neu->control_socket) != 0)
		json_array_append_new(list, json_string("appliance.control_socket"));
	if (strcmp(old->ledger_dir, neu->ledger_dir) != 0)
		json_array_append_new(list, json_string("appliance.ledger_dir"));
	if (strcmp(old->residency_pin_dir, neu->residency_pin_dir) != 0)
		json_array_append_new(list, json_string("appliance.residency_pin_dir"));
	/* The key files are re-read by keys.reload, but where they are is fixed. */
	if (strcmp(old->auth.key_file, neu->auth.key_file) != 0 ||
	    strcmp(old->auth.clients_file, neu->auth.clients_file) != 0)
		json_array_append_new(list, json_string("appliance.auth"));
	return list;
}

/* A refused reload: counted, remembered and exported (not for a dry run). */
static json_t *reload_refused(struct faii_control *c, bool dry_run,
                              const struct faii_ctl_error *err)
{
	if (!dry_run) {
		c->reloads_failed++;
		snprintf(c->last_reload_error, sizeof(c->last_reload_error), "%s", err->message);
		faii_metrics_note_reload(false, (double)faii_realtime_ns() / 1e9);
	}
	return NULL;
}

/* Checks a loaded configuration against the running one, then applies it
 * (not for a dry run); takes neu. */
static json_t *reload_apply(struct faii_control *c, struct faii_config *neu, const char *file,
                            bool dry_run, struct faii_ctl_error *err)
{
	struct faii_appliance_dp *a = c->app;
	struct faii_config *cur = a->reg.cfg;
	if (neu->node_count > a->reg.capacity) {
		faii_ctl_fail(err, "config_invalid",
		              "%s: %u nodes, more than the %u this run has room for; restart", file,
		              neu->node_count, a->reg.capacity);
		faii_config_free(neu);
		return reload_refused(c, dry_run, err);
	}
	/* What changes: nodes by id. */
	uint32_t added = 0, removed = 0, changed = 0;
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot < 0 || cur->nodes[slot].status == FAII_NODE_REMOVED)
			added++;
		else if (memcmp(&cur->nodes[slot], &neu->nodes[i], sizeof(neu->nodes[i])) != 0)
			changed++;
	}
	static uint8_t seen[FAII_CFG_NODES_MAX];
	memset(seen, 0, cur->node_count);
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot >= 0)
			seen[slot] = 1;
	}
	for (uint32_t i = 0; i < cur->node_count; i++)
		removed += !seen[i] && cur->nodes[i].status != FAII_NODE_REMOVED;
	if (added > a->reg.capacity - cur->node_count) {
		faii_ctl_fail(err, "config_invalid", "%s: %u new nodes do not fit; restart", file,
		              added);
		faii_config_free(neu);
		return reload_refused(c, dry_run, err);
	}
	/* What the command line set stays set. */
	if (c->socket_overridden)
		memcpy(neu->appliance.control_socket, cur->appliance.control_socket,
		       sizeof(neu->appliance.control_socket));
	if (c->ledger_overridden)
		memcpy(neu->appliance.ledger_dir, cur->appliance.ledger_dir,
		       sizeof(neu->appliance.ledger_dir));
	if (c->metrics_overridden)
		neu->appliance.metrics_port = cur->appliance.metrics_port;
	if (!cmd_step_cap_ok(c, &neu->policy, err)) {
		faii_config_free(neu);
		return reload_refused(c, dry_run, err);
	}
	json_t *restart = restart_needed(&cur->appliance, &neu->appliance);
	bool regions_changed = cur->region_count != neu->region_count ||
	                       memcmp(cur->regions, neu->regions,
	                              cur->region_count * sizeof(cur->regions[0])) != 0;

	/* The share changes a policy change alone would make (node changes
	 * are reported as counts). */
	struct faii_policy prev = cur->policy;
	cur->policy = neu->policy;
	json_t *shares = cmd_share_changes(c);
	cur->policy = prev;
	json_t *result = json_pack("{s:b, s:s, s:{s:I, s:I, s:I}, s:o, s:o}", "applied", !dry_run,
	                           "path", file, "nodes", "added", (json_int_t)added, "removed",
	                           (json_int_t)removed, "changed", (json_int_t)changed,
	                           "restart_needed", restart, "policy_share_changes", shares);
	if (dry_run) {
		faii_config_free(neu);
		return result;
	}

	/* Apply: everything but what needs a restart, node slots kept by id. */
	struct faii_appliance_cfg keep = cur->appliance;
	memcpy(cur->path, neu->path, sizeof(cur->path));
	memcpy(cur->digest, neu->digest, sizeof(cur->digest));
	cur->policy = neu->policy;
	cur->jurisdiction_count = neu->jurisdiction_count;
	memcpy(cur->jurisdictions, neu->jurisdictions, sizeof(cur->jurisdictions));
	cur->residency_class_count = neu->residency_class_count;
	memcpy(cur->residency_classes, neu->residency_classes, sizeof(cur->residency_classes));
	cur->region_count = neu->region_count;
	memcpy(cur->regions, neu->regions, sizeof(cur->regions));
	cur->operator_count = neu->operator_count;
	memcpy(cur->operators, neu->operators, sizeof(cur->operators));
	cur->appliance = keep;
	/* Hot keys of the appliance section. */
	cur->appliance.stats_interval_s = neu->appliance.stats_interval_s;
	cur->appliance.attest_stale_s = neu->appliance.attest_stale_s;
	cur->appliance.heartbeat_stale_s = neu->appliance.heartbeat_stale_s;
	memcpy(cur->appliance.control_admin_uids, neu->appliance.control_admin_uids,
	       sizeof(cur->appliance.control_admin_uids));
	memcpy(cur->appliance.control_admin_gids, neu->appliance.control_admin_gids,
	       sizeof(cur->appliance.control_admin_gids));
	memcpy(cur->appliance.control_reader_uids, neu->appliance.control_reader_uids,
	       sizeof(cur->appliance.control_reader_uids));
	memcpy(cur->appliance.control_reader_gids, neu->appliance.control_reader_gids,
	       sizeof(cur->appliance.control_reader_gids));
	cur->appliance.control_admin_uid_count = neu->appliance.control_admin_uid_count;
	cur->appliance.control_admin_gid_count = neu->appliance.control_admin_gid_count;
	cur->appliance.control_reader_uid_count = neu->appliance.control_reader_uid_count;
	cur->appliance.control_reader_gid_count = neu->appliance.control_reader_gid_count;
	for (uint32_t i = 0; i < cur->node_count; i++) {
		if (!seen[i] && cur->nodes[i].status != FAII_NODE_REMOVED)
			faii_registry_set_status(&a->reg, i, FAII_NODE_REMOVED);
	}
	for (uint32_t i = 0; i < neu->node_count; i++) {
		int32_t slot = faii_registry_find(&a->reg, neu->nodes[i].id);
		if (slot < 0 || cur->nodes[slot].status == FAII_NODE_REMOVED) {
			faii_registry_add(&a->reg, &neu->nodes[i]);
		} else {
			faii_registry_update(&a->reg, (uint32_t)slot, &neu->nodes[i]);
		}
	}
	if (regions_changed) {
		/* Measured latencies are per region slot: start them again. */
		for (size_t i = 0; i < (size_t)a->reg.capacity * FAII_CFG_REGIONS_MAX; i++)
			atomic_store(&a->reg.latency_us[i], 0);
	}
	faii_config_free(neu);
	a->reg.residency_dirty = true;
	if (c->server)
		faii_ctl_set_roles(c->server, &cur->appliance);
	faii_appliance_publish(a);
	c->reloads_ok++;
	c->last_reload_ok_ns = faii_realtime_ns();
	faii_metrics_note_reload(true, (double)c->last_reload_ok_ns / 1e9);
	c->last_reload_error[0] = '\0';
	return result;
}

bool faii_control_reload_start(struct faii_control *c, const char *path, bool dry_run,
                               const struct faii_ctl_peer *peer, json_t *args,
                               struct faii_ctl_error *err)
{
	struct faii_reload_job *job = &c->job;
	const char *file = path ? path : c->config_path;
	char *request = job->active ? NULL : strdup(file);
	if (request == NULL || !faii_reload_submit(&c->reload, request, file)) {
		free(request);
		faii_ctl_fail(err, "busy", "a configuration reload is in progress; try again");
		return false;
	}
	FAII_ASSERT(job->args == NULL);
	*job = (struct faii_reload_job){.active = true,
	                                .dry_run = dry_run,
	                                .from_signal = peer == NULL,
	                                .peer = peer ? *peer : (struct faii_ctl_peer){0},
	                                .args = json_incref(args)};
	snprintf(job->file, sizeof(job->file), "%s", file);
	return true;
}

/* The outcome of a reload, to its client (audited) or to the log. */
static void reload_finish(struct faii_control *c, json_t *result, struct faii_ctl_error *err)
{
	struct faii_reload_job *job = &c->job;
	if (job->from_signal) {
		if (result != NULL)
			printf("faiid: SIGHUP: configuration %s reloaded\n", job->file);
		else
			fprintf(stderr, "faiid: SIGHUP: reload refused: %s\n", err->message);
		fflush(stdout);
		json_decref(result);
	} else {
		faii_control_answer_deferred(c, &job->peer, "config.reload", job->args, result,
		                             err);
	}
	json_decref(job->args);
	*job = (struct faii_reload_job){0};
}

void faii_control_reload_tick(struct faii_control *c)
{
	struct faii_reload_job *job = &c->job;
	void *loaded = NULL;
	char msg[FAII_CFG_ERR_LEN];
	enum faii_reload_state st = faii_reload_poll(&c->reload, &loaded, msg);
	struct faii_config *neu = loaded;
	if (st == FAII_RELOAD_IDLE || st == FAII_RELOAD_LOADING)
		return;
	FAII_ASSERT(job->active);
	struct faii_ctl_error err;
	memset(&err, 0, sizeof(err));
	json_t *result = NULL;
	if (neu != NULL) {
		result = reload_apply(c, neu, job->file, job->dry_run, &err);
	} else {
		faii_ctl_fail(&err, "config_invalid", "%s; the running configuration is unchanged",
		              msg);
		reload_refused(c, job->dry_run, &err);
	}
	reload_finish(c, result, &err);
}

json_t *cmd_config_reload(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"dry_run", "path", NULL};
	bool dry_run;
	if (!cmd_args_known(args, known, err) || !cmd_arg_bool(args, "dry_run", &dry_run, err))
		return NULL;
	json_t *path = json_object_get(args, "path");
	if (path && (!json_is_string(path) || json_string_length(path) == 0 ||
	             json_string_length(path) >= FAII_CFG_PATH_LEN_MAX))
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"path\": expected a file path");
	FAII_ASSERT(c->peer != NULL);
	if (!faii_control_reload_start(c, path ? json_string_value(path) : NULL, dry_run, c->peer,
	                               args, err))
		return NULL;
	return FAII_CTL_DEFERRED; /* answered by faii_control_reload_tick() */
}
