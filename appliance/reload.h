/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reload workers: a thread that reads and validates a file off the
 * control thread, so that the control socket answers other clients while a
 * large file is parsed or a key file is read. One worker per kind of file
 * (the configuration for config.reload and SIGHUP, the key files for
 * keys.reload), each with one request at a time handed over through a
 * single-slot mailbox; the control thread collects the result on its tick
 * and applies it there.
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
 * then it is answered (config_invalid, keys_invalid) and the load's outcome
 * is dropped. */
#define FAII_RELOAD_TIMEOUT_S 60u

/* What a worker does with a request: load runs on the worker, takes the
 * request and returns the result, or NULL with a sentence in err; the two
 * frees drop a request or a result nobody will collect (at stop, or after a
 * time-out). */
struct faii_reload_ops {
	const char *thread_name; /* at most 15 characters */
	void *(*load)(void *request, char err[FAII_CFG_ERR_LEN]);
	void (*free_request)(void *request);
	void (*free_result)(void *result);
};

/* The configuration worker's ops: the request is a path (malloc'd string),
 * the result a struct faii_config. */
extern const struct faii_reload_ops faii_reload_config_ops;

struct faii_reload {
	const struct faii_reload_ops *ops;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* The mailbox, under lock. */
	bool stop, requested, done;
	void *request;
	void *result;
	char err[FAII_CFG_ERR_LEN];
	/* Control thread only. */
	char what[FAII_CFG_PATH_LEN_MAX]; /* the file, for the time-out message */
	bool busy;                        /* submitted, not yet collected */
	bool abandoned;                   /* timed out: the outcome is dropped when it comes */
	double submitted_s;
};

enum faii_reload_state {
	FAII_RELOAD_IDLE,      /* nothing in flight */
	FAII_RELOAD_LOADING,   /* still reading the file */
	FAII_RELOAD_DONE,      /* *result, or NULL and err */
	FAII_RELOAD_TIMED_OUT, /* FAII_RELOAD_TIMEOUT_S passed: answer now */
};

int faii_reload_start(struct faii_reload *r, const struct faii_reload_ops *ops, char *err,
                      size_t errlen);
/* Hands request to the worker (it owns it from now on; what names the file
 * in messages); false while a load is in flight, and request is not taken. */
bool faii_reload_submit(struct faii_reload *r, void *request, const char *what);
/* Collects the outcome: with FAII_RELOAD_DONE the caller owns *result. */
enum faii_reload_state faii_reload_poll(struct faii_reload *r, void **result,
                                        char err[FAII_CFG_ERR_LEN]);
/* Stops the worker; one stuck in a read is left behind (detached). */
void faii_reload_stop(struct faii_reload *r);

#endif /* FAII_APPLIANCE_RELOAD_H */
