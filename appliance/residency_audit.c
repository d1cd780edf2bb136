/* SPDX-License-Identifier: BSD-3-Clause */
/* The residency audit reader: see residency_audit.h. */
#include "residency_audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "faii/audit.h"
#include "faii/residency.h"

static int on_event(void *ctx, void *data, size_t size)
{
	struct faii_res_audit *a = ctx;
	struct faii_res_event ev;
	if (size != sizeof(ev)) {
		a->malformed++;
		return 0;
	}
	memcpy(&ev, data, sizeof(ev));
	if (faii_audit_residency(a->ledger, &ev) < 0)
		a->failed++;
	else
		a->recorded++;
	return 0;
}

int faii_res_audit_open(struct faii_res_audit *a, const char *pin_dir, struct faii_ls *ledger)
{
	char path[512];
	memset(a, 0, sizeof(*a));
	a->map_fd = -1;
	a->ledger = ledger;
	snprintf(path, sizeof(path), "%s/faii_res_events", pin_dir);
	if (access(path, F_OK) != 0)
		return 1;
	a->map_fd = bpf_obj_get(path);
	if (a->map_fd < 0) {
		int e = errno;
		fprintf(stderr, "faiid: residency audit: %s: %s\n", path, strerror(e));
		return -e;
	}
	a->rb = ring_buffer__new(a->map_fd, on_event, a, NULL);
	if (a->rb == NULL) {
		int e = errno;
		fprintf(stderr, "faiid: residency audit: %s is not a ring buffer: %s\n", path,
		        strerror(e));
		close(a->map_fd);
		a->map_fd = -1;
		return -e;
	}
	return 0;
}

void faii_res_audit_poll(struct faii_res_audit *a)
{
	if (a->rb)
		ring_buffer__consume(a->rb);
}

void faii_res_audit_close(struct faii_res_audit *a)
{
	if (a->rb)
		ring_buffer__free(a->rb);
	if (a->map_fd >= 0)
		close(a->map_fd);
	a->rb = NULL;
	a->map_fd = -1;
}
