/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reload worker: see reload.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/clock.h"
#include "reload.h"

static void *worker_main(void *arg)
{
	struct faii_reload *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stop && !r->requested)
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stop)
			break;
		char path[FAII_CFG_PATH_LEN_MAX], err[FAII_CFG_ERR_LEN];
		memcpy(path, r->path, sizeof(path));
		r->requested = false;
		pthread_mutex_unlock(&r->lock);
		struct faii_config *cfg = NULL;
		err[0] = '\0';
		faii_config_load(path, &cfg, err); /* the slow part, unlocked */
		pthread_mutex_lock(&r->lock);
		FAII_ASSERT(!r->done && r->cfg == NULL);
		r->cfg = cfg;
		memcpy(r->err, err, sizeof(err));
		r->done = true;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int faii_reload_start(struct faii_reload *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	int rc = pthread_create(&r->thread, NULL, worker_main, r);
	if (rc != 0) {
		snprintf(err, errlen, "reload worker: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(r->thread, "faii-reload");
	r->started = true;
	return 0;
}

bool faii_reload_submit(struct faii_reload *r, const char *path)
{
	FAII_ASSERT(r->started);
	if (r->busy)
		return false;
	pthread_mutex_lock(&r->lock);
	FAII_ASSERT(!r->requested && !r->done);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->requested = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	r->busy = true;
	r->abandoned = false;
	r->submitted_s = faii_monotonic_s();
	return true;
}

enum faii_reload_state faii_reload_poll(struct faii_reload *r, struct faii_config **cfg,
                                        char err[FAII_CFG_ERR_LEN])
{
	*cfg = NULL;
	if (!r->busy)
		return FAII_RELOAD_IDLE;
	pthread_mutex_lock(&r->lock);
	bool done = r->done;
	if (done) {
		*cfg = r->cfg;
		memcpy(err, r->err, FAII_CFG_ERR_LEN);
		r->cfg = NULL;
		r->done = false;
	}
	pthread_mutex_unlock(&r->lock);
	if (done) {
		r->busy = false;
		if (!r->abandoned)
			return FAII_RELOAD_DONE;
		faii_config_free(*cfg); /* its client was answered long ago */
		*cfg = NULL;
		return FAII_RELOAD_IDLE;
	}
	if (!r->abandoned && faii_monotonic_s() - r->submitted_s > FAII_RELOAD_TIMEOUT_S) {
		r->abandoned = true; /* busy until the worker comes back */
		snprintf(err, FAII_CFG_ERR_LEN, "%s: not read within %u s", r->path,
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
		faii_config_free(r->cfg);
	}
	r->started = false;
}
