/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's commands (docs/control.md) over a running appliance.
 * Everything here runs on the control thread, between its other duties.
 */
#ifndef FAII_APPLIANCE_CONTROL_H
#define FAII_APPLIANCE_CONTROL_H

#include <stdint.h>

#include "appliance.h"
#include "faii/ctlsock.h"
#include "faii/ledger_store.h"
#include "reload.h"

/* A reload in flight: whom to answer and what to record when it is done. */
struct faii_reload_job {
	bool active;
	bool dry_run;
	bool from_signal; /* SIGHUP: the outcome goes to the log, not a client */
	struct faii_ctl_peer peer;
	json_t *args; /* for the audit record */
	char file[FAII_CFG_PATH_LEN_MAX];
};

/* A key reload in flight (keys.reload): whom to answer. */
struct faii_keys_job {
	bool active;
	bool dry_run;
	struct faii_ctl_peer peer;
	json_t *args; /* for the audit record */
};

struct faii_consensus;  /* consensus.h */
struct faii_settlement; /* settlement.h */

struct faii_control {
	struct faii_appliance_dp *app;
	struct faii_ls *ledger;             /* the audit log; NULL: actions are not recorded */
	struct faii_consensus *consensus;   /* the validator; NULL or stopped: none configured */
	struct faii_settlement *settlement; /* its consumer; NULL or closed: none */
	struct faii_ctl *server;
	char config_path[FAII_CFG_PATH_LEN_MAX];
	uint64_t start_ns;
	/* Reloads (config.reload, SIGHUP). */
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ok_ns; /* the start counts as the first good load */
	char last_reload_error[FAII_CFG_ERR_LEN];
	uint64_t audit_failed;
	struct faii_reload reload; /* the worker thread */
	struct faii_reload_job job;
	/* Key rotations (keys.reload) on their own worker. */
	struct faii_reload keys_reload;
	struct faii_keys_job keys_job;
	uint64_t key_reloads_ok, key_reloads_failed;
	char last_key_reload_error[FAII_CFG_ERR_LEN];
	const struct faii_ctl_peer *peer; /* of the command being dispatched */
	/* Set on the command line: a reload keeps them, whatever the file says. */
	bool socket_overridden, ledger_overridden, metrics_overridden;
	/* The governance step cap's period (faii/config.h); begun at the first
	 * change checked against it. */
	struct faii_policy_period governance;
	bool governance_started;
};

/* The dispatcher handed to faii_ctl_open(); ctx is a struct faii_control. */
json_t *faii_control_dispatch(void *ctx, const struct faii_ctl_peer *peer, const char *cmd,
                              json_t *args, struct faii_ctl_error *err);

/*
 * Starts a reload of the configuration file (path NULL: the current one) on
 * the reload worker; it is validated completely there, then applied on the
 * control thread by faii_control_reload_tick(), or nothing changes. false
 * (and busy in err) while another reload is in flight. peer NULL: SIGHUP.
 */
bool faii_control_reload_start(struct faii_control *c, const char *path, bool dry_run,
                               const struct faii_ctl_peer *peer, json_t *args,
                               struct faii_ctl_error *err);
/* Control thread, every tick: applies a loaded configuration and answers. */
void faii_control_reload_tick(struct faii_control *c);
/* The keys worker's ops (cmd_keys.c): the request is a struct
 * faii_keys_stage, and so is the result. */
extern const struct faii_reload_ops faii_reload_keys_ops;
/* Control thread, every tick: installs loaded keys and answers keys.reload. */
void faii_control_keys_tick(struct faii_control *c);
/* A deferred admin command's end: its audit record, and its answer (result,
 * or NULL and err) to the client, or dropped when there is no server. */
void faii_control_answer_deferred(struct faii_control *c, const struct faii_ctl_peer *peer,
                                  const char *cmd, json_t *args, json_t *result,
                                  const struct faii_ctl_error *err);
/* The operator audit record of an admin command (control.c). */
void faii_control_audit(struct faii_control *c, const struct faii_ctl_peer *peer, const char *cmd,
                        json_t *args, const struct faii_ctl_error *err, bool ok);

#endif /* FAII_APPLIANCE_CONTROL_H */
