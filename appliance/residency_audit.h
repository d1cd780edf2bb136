/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency audit reader: refusals of the residency BPF program, read
 * from its ring buffer (pinned under appliance.residency_pin_dir by whoever
 * attached the program) and appended to the ledger as audit records. Runs on
 * the main lcore's slow path, never on a worker.
 */
#ifndef FAII_RESIDENCY_AUDIT_H
#define FAII_RESIDENCY_AUDIT_H

#include <stdint.h>

#include "faii/ledger_store.h"

struct ring_buffer;

struct faii_res_audit {
	struct ring_buffer *rb;
	int map_fd;
	struct faii_ls *ledger;
	uint64_t recorded;  /* appended to the ledger */
	uint64_t malformed; /* events of the wrong size: counted, dropped */
	uint64_t failed;    /* the ledger refused the append */
};

/*
 * Opens the pinned ring buffer DIR/faii_res_events. 0: reading; 1: nothing
 * pinned there, the reader stays idle; negative errno: a pin that cannot be
 * used (wrong map type), with a message on stderr.
 */
int faii_res_audit_open(struct faii_res_audit *a, const char *pin_dir, struct faii_ls *ledger);
/* Moves every waiting event into the ledger; never blocks. */
void faii_res_audit_poll(struct faii_res_audit *a);
void faii_res_audit_close(struct faii_res_audit *a);

#endif /* FAII_RESIDENCY_AUDIT_H */
