/* SPDX-License-Identifier: BSD-3-Clause */
/* Typed audit records in the ledger store: see include/faii/audit.h. */
#include "faii/audit.h"

#include <stddef.h>

const char *faii_audit_type_name(uint16_t type)
{
	static const char *const names[FAII_AUDIT_TYPE_MAX + 1] = {
	        [FAII_AUDIT_APPLIANCE_START] = "appliance_start",
	        [FAII_AUDIT_APPLIANCE_STOP] = "appliance_stop",
	        [FAII_AUDIT_RESIDENCY_VIOLATION] = "residency_violation",
	        [FAII_AUDIT_ROUTING_RECEIPT] = "routing_receipt",
	        [FAII_AUDIT_OPERATOR_ACTION] = "operator_action",
	        [FAII_AUDIT_REPLICA_DISAGREEMENT] = "replica_disagreement",
	        [FAII_AUDIT_WORK_SUMMARY] = "work_summary",
	};
	return type <= FAII_AUDIT_TYPE_MAX ? names[type] : NULL;
}

int64_t faii_audit_start(struct faii_ls *ls, const struct faii_audit_start *rec)
{
	return faii_ls_append_wait(ls, FAII_AUDIT_APPLIANCE_START, NULL, rec, sizeof(*rec));
}

int64_t faii_audit_stop(struct faii_ls *ls, const struct faii_audit_stop *rec)
{
	return faii_ls_append_wait(ls, FAII_AUDIT_APPLIANCE_STOP, NULL, rec, sizeof(*rec));
}

int64_t faii_audit_operator(struct faii_ls *ls, const struct faii_audit_operator *rec)
{
	return faii_ls_append_wait(ls, FAII_AUDIT_OPERATOR_ACTION, NULL, rec, sizeof(*rec));
}

int64_t faii_audit_residency(struct faii_ls *ls, const struct faii_res_event *ev)
{
	struct faii_ls_keys keys = {.present = FAII_LS_KEY_NODE, .node = ev->node_id};
	return faii_ls_append(ls, FAII_AUDIT_RESIDENCY_VIOLATION, &keys, ev, sizeof(*ev), NULL,
	                      NULL);
}

int64_t faii_audit_disagreement(struct faii_ls *ls, const struct faii_audit_disagreement *rec,
                                faii_ls_ack_fn cb, void *arg)
{
	struct faii_ls_keys keys = {.present = FAII_LS_KEY_NODE, .node = rec->node_id};
	return faii_ls_append(ls, FAII_AUDIT_REPLICA_DISAGREEMENT, &keys, rec, sizeof(*rec), cb,
	                      arg);
}
