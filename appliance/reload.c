/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reload workers: see reload.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/clock.h"
#include "reload.h"

static void *config_load(void *request, char err[FAII_CFG_ERR_LEN])
{
	struct faii_config *cfg = NULL;
	faii_config_load(request, &cfg, err);
	free(request);
	return cfg;
}

static void config_free(void *result)
{
	faii_config_free(result);
}

const struct faii_reload_ops faii_reload_config_ops = {
        .thread_name = "faii-reload",
        .load = config_load,
        .free_request = free,
        .free_result = config_free,
};

static void *worker_main(void *arg)
{
	struct faii_reload *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stop && !r->requested)
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stop)
			break;
		void *request = r->request;
		char err[FAII_CFG_ERR_LEN];
		r->request = NULL;
		r->requested = false;
		pthread_mutex_unlock(&r->lock);
		err[0] = '\0';
		void *result = r->ops->load(request, err); /* the slow part, unlocked */
		pthread_mutex_lock(&r->lock);
		FAII_ASSERT(!r->done && r->result == NULL);
		r->result = result;
		memcpy(r->err, err, sizeof(err));
		r->done = true;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int faii_reload_start(struct faii_reload *r, const struct faii_reload_ops *ops, char *err,
                      size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	int rc = pthread_create(&r->thread, NULL, worker_main, r);
	if (rc != 0) {
		snprintf(err, errlen, "%s worker: %s", ops->thread_name, strerror(rc));
		return -rc;
	}
	pthread_setname_np(r->thread, ops->thread_name);
	r->started = true;
	return 0;
}

bool faii_reload_submit(struct faii_reload *r, void *request, const char *what)
{
	FAII_ASSERT(r->started && request != NULL);
	if (r->busy)
		return false;
	/* Before the hand-over: what may live in the request, which the worker
	 * owns (and may free) from then on. */
	snprintf(r->what, sizeof(r->what), "%s", what);
	pthread_mutex_lock(&r->lock);
	FAII_ASSERT(!r->requested && !r->done);
	r->request = request;
	r->requested = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	r->busy = true;
	r->abandoned = false;
	r->submitted_s = faii_monotonic_s();
	return true;
}

enum faii_reload_state faii_reload_poll(struct faii_reload *r, void **result,
                                        char err[FAII_CFG_ERR_LEN])
{
	*result = NULL;
	if (!r->busy)
		return FAII_RELOAD_IDLE;
	pthread_mutex_lock(&r->lock);
	bool done = r->done;
	if (done) {
		*result = r->result;
		memcpy(err, r->err, FAII_CFG_ERR_LEN);
		r->result = NULL;
		r->done = false;
	}
	pthread_mutex_unlock(&r->lock);
	if (done) {
		r->busy = false;
		if (!r->abandoned)
			return FAII_RELOAD_DONE;
		if (*result != NULL)
			r->ops->free_result(*result); /* its client was answered long ago */
		*result = NULL;
		return FAII_RELOAD_IDLE;
	}
	if (!r->abandoned && faii_monotonic_s() - r->submitted_s > FAII_RELOAD_TIMEOUT_S) {
		r->abandoned = true; /* busy until the worker comes back */
		snprintf(err, FAII_CFG_ERR_LEN, "%s: not read within %u s", r->what,
		         FAII_RELOAD_TIMEOUT_S);
		return FAII_RELOAD_TIMED_OUT;
	}
	return FAII_RELOAD_LOADING;
}

void faii_reload_stop(struct faii_reload *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	bool loading = r->busy && !r->done;
	pthread_mutex_unlock(&r->lock);
	if (loading) {
		pthread_detach(r->thread); /* a read that never ends must not stop faiid */
	} else {
		pthread_join(r->thread, NULL);
		if (r->request != NULL)
			r->ops->free_request(r->request);
		if (r->result != NULL)
			r->ops->free_result(r->result);
	}
	r->started = false;
}
