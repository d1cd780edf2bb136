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

struct faii_control {
	struct faii_appliance_dp *app;
	struct faii_ls *ledger; /* the audit log; NULL: actions are not recorded */
	struct faii_ctl *server;
	char config_path[FAII_CFG_PATH_LEN_MAX];
	uint64_t start_ns;
	/* Reloads (config.reload, SIGHUP). */
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ok_ns; /* the start counts as the first good load */
	char last_reload_error[FAII_CFG_ERR_LEN];
	uint64_t audit_failed;
	/* Set on the command line: a reload keeps them, whatever the file says. */
	bool socket_overridden, ledger_overridden, metrics_overridden;
};

/* The dispatcher handed to faii_ctl_open(); ctx is a struct faii_control. */
json_t *faii_control_dispatch(void *ctx, const struct faii_ctl_peer *peer, const char *cmd,
                              json_t *args, struct faii_ctl_error *err);

/*
 * Reloads the configuration file (path NULL: the current one): validated
 * completely, then applied, or nothing changes. The result describes what
 * changed (or would, with dry_run); NULL with err on refusal.
 */
json_t *faii_control_reload(struct faii_control *c, const char *path, bool dry_run,
                            struct faii_ctl_error *err);

#endif /* FAII_APPLIANCE_CONTROL_H */
