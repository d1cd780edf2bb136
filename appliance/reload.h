/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reload worker: a thread that loads and validates a configuration file
 * off the control thread (config.reload, SIGHUP), so that the control socket
 * answers other clients while a large file is parsed. One request at a
 * time, handed over through a single-slot mailbox; the control thread
 * collects the loaded configuration on its tick and applies it there.
 *
 * Error convention: faii_reload_start() returns 0 or a negative errno with a
 * sentence in err; faii_reload_submit() returns false while a load is in
 * flight; faii_reload_poll() says whether the load is done.
 */
#ifndef FAII_APPLIANCE_RELOAD_H
#define FAII_APPLIANCE_RELOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "faii/config.h"

/* How long a reloading client waits for the file to be read and checked;
 * then it is answered config_invalid and the load's outcome is dropped. */
#define FAII_RELOAD_TIMEOUT_S 60u

struct faii_reload {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* The mailbox, under lock. */
	bool stop, requested, done;
	char path[FAII_CFG_PATH_LEN_MAX];
	struct faii_config *cfg;
	char err[FAII_CFG_ERR_LEN];
	/* Control thread only. */
	bool busy;      /* submitted, not yet collected */
	bool abandoned; /* timed out: the outcome is dropped when it comes */
	double submitted_s;
};

enum faii_reload_state {
	FAII_RELOAD_IDLE,      /* nothing in flight */
	FAII_RELOAD_LOADING,   /* still reading the file */
	FAII_RELOAD_DONE,      /* *cfg, or NULL and err */
	FAII_RELOAD_TIMED_OUT, /* FAII_RELOAD_TIMEOUT_S passed: answer now */
};

int faii_reload_start(struct faii_reload *r, char *err, size_t errlen);
/* Hands path to the worker; false while a load is in flight. */
bool faii_reload_submit(struct faii_reload *r, const char *path);
/* Collects the outcome: with FAII_RELOAD_DONE the caller owns *cfg. */
enum faii_reload_state faii_reload_poll(struct faii_reload *r, struct faii_config **cfg,
                                        char err[FAII_CFG_ERR_LEN]);
/* Stops the worker; one stuck in a read is left behind (detached). */
void faii_reload_stop(struct faii_reload *r);

#endif /* FAII_APPLIANCE_RELOAD_H */
