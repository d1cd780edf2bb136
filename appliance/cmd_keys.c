/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * keys.reload: a key rotation without a restart (docs/security.md §3.4). The
 * key files are read, checked and the new node keys derived on the keys
 * worker (reload.h), never on the control thread; the control thread
 * installs the result and publishes it to the workers (RCU), or nothing
 * changes. Answers, logs and audit records carry counts, epochs and
 * deadlines, never a key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "faii/assert.h"
#include "faii/clock.h"

/* The request becomes the result: one struct faii_keys_stage. */
static void *keys_load(void *request, char err[FAII_CFG_ERR_LEN])
{
	struct faii_keys_stage *s = request;
	if (faii_keys_stage_load(s, err, FAII_CFG_ERR_LEN) == 0)
		return s;
	faii_keys_stage_free(s);
	return NULL;
}

static void keys_free(void *stage)
{
	faii_keys_stage_free(stage);
}

const struct faii_reload_ops faii_reload_keys_ops = {
        .thread_name = "faii-keys",
        .load = keys_load,
        .free_request = keys_free,
        .free_result = keys_free,
};

json_t *cmd_keys_summary(const struct faii_keys *k, const struct faii_keys_summary *s)
{
	json_t *epochs = json_array();
	for (uint32_t i = 0; i < s->appliance_keys && i < FAII_AUTH_KEYS_MAX; i++)
		json_array_append_new(epochs, json_integer(s->appliance_epochs[i]));
	json_t *deadline =
	        s->next_deadline_ns ? json_real((double)s->next_deadline_ns / 1e9) : json_null();
	return json_pack("{s:s, s:s, s:{s:I, s:o, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, "
	                 "s:o}",
	                 "key_file", k->key_file, "clients_file", k->clients_file, "appliance",
	                 "keys", (json_int_t)s->appliance_keys, "epochs", epochs, "expiring",
	                 (json_int_t)s->appliance_expiring, "expired_skipped",
	                 (json_int_t)s->appliance_expired, "clients", "clients",
	                 (json_int_t)s->clients, "keys", (json_int_t)s->client_keys, "expiring",
	                 (json_int_t)s->client_keys_expiring, "expired_skipped",
	                 (json_int_t)s->client_keys_expired, "next_deadline_unix", deadline);
}

/* The outcome to its client, audited, and one line in the log (counts only). */
static void keys_finish(struct faii_control *c, json_t *result, struct faii_ctl_error *err)
{
	struct faii_keys_job *job = &c->keys_job;
	if (result != NULL) {
		c->key_reloads_ok++;
		c->last_key_reload_error[0] = '\0';
		char *text = json_dumps(result, JSON_COMPACT);
		printf("faiid: keys.reload: %s: %s\n", job->dry_run ? "checked" : "applied",
		       text ? text : "?");
		free(text);
	} else {
		c->key_reloads_failed++;
		snprintf(c->last_key_reload_error, sizeof(c->last_key_reload_error), "%s",
		         err->message);
		fprintf(stderr, "faiid: keys.reload refused: %s\n", err->message);
	}
	fflush(stdout);
	faii_control_answer_deferred(c, &job->peer, "keys.reload", job->args, result, err);
	json_decref(job->args);
	*job = (struct faii_keys_job){0};
}

/* A loaded stage: installed and published (not for a dry run); takes s. */
static json_t *keys_apply(struct faii_control *c, struct faii_keys_stage *s, bool dry_run,
                          struct faii_ctl_error *err)
{
	struct faii_appliance_dp *a = c->app;
	json_t *result = cmd_keys_summary(&a->keys, &s->summary);
	json_object_set_new(result, "nodes",
	                    json_pack("{s:I, s:I}", "keys_derived",
	                              (json_int_t)s->summary.nodes_derived, "derive_failed",
	                              (json_int_t)s->summary.derive_failed));
	json_object_set_new(result, "applied", json_boolean(!dry_run));
	if (dry_run) {
		faii_keys_stage_free(s);
		return result;
	}
	if (faii_appliance_install_keys(a, s) != 0) {
		/* Installed; the set goes out on a later tick (auth_dirty). */
		json_decref(result);
		return faii_ctl_fail(err, "internal",
		                     "keys read and installed, but not yet published (out of "
		                     "memory); retried every tick");
	}
	json_object_set_new(result, "generation", json_integer((json_int_t)a->keys.generation));
	return result;
}

void faii_control_keys_tick(struct faii_control *c)
{
	struct faii_keys_job *job = &c->keys_job;
	void *loaded = NULL;
	char msg[FAII_CFG_ERR_LEN];
	enum faii_reload_state st = faii_reload_poll(&c->keys_reload, &loaded, msg);
	if (st == FAII_RELOAD_IDLE || st == FAII_RELOAD_LOADING)
		return;
	FAII_ASSERT(job->active);
	struct faii_ctl_error err;
	memset(&err, 0, sizeof(err));
	json_t *result = NULL;
	if (loaded != NULL)
		result = keys_apply(c, loaded, job->dry_run, &err);
	else
		faii_ctl_fail(&err, "keys_invalid", "%s; the keys in force are unchanged", msg);
	keys_finish(c, result, &err);
}

json_t *cmd_keys_reload(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"dry_run", NULL};
	bool dry_run;
	if (!cmd_args_known(args, known, err) || !cmd_arg_bool(args, "dry_run", &dry_run, err))
		return NULL;
	struct faii_appliance_dp *a = c->app;
	if (!a->keys.enabled)
		return faii_ctl_fail(
		        err, "conflict",
		        "authentication is off (no appliance.auth.key_file): there are "
		        "no keys to reload");
	if (c->keys_job.active || c->keys_reload.busy)
		return faii_ctl_fail(err, "busy", "a key reload is in progress; try again");
	char msg[FAII_CFG_ERR_LEN];
	/* A dry run derives nothing: it reads and checks the files. */
	struct faii_keys_stage *s = faii_keys_stage_new(&a->keys, dry_run ? NULL : a->reg.cfg,
	                                                faii_realtime_ns(), msg, sizeof(msg));
	if (s == NULL)
		return faii_ctl_fail(err, "internal", "%s", msg);
	FAII_ASSERT(c->peer != NULL);
	bool submitted = faii_reload_submit(&c->keys_reload, s, s->key_file);
	FAII_ASSERT(submitted); /* not busy: checked above */
	c->keys_job = (struct faii_keys_job){
	        .active = true, .dry_run = dry_run, .peer = *c->peer, .args = json_incref(args)};
	return FAII_CTL_DEFERRED; /* answered by faii_control_keys_tick() */
}
