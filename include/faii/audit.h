/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance's audit log: typed records in the ledger store
 * (include/faii/ledger_store.h). Payloads are little-endian structs of fixed
 * layout; docs/ledger-store.md lists the types. The DAG later carries some of
 * them (residency violations, routing receipts) to the other validators.
 *
 * Error convention: the ledger store's: a sequence number (> 0) or a
 * negative errno.
 */
#ifndef FAII_AUDIT_H
#define FAII_AUDIT_H

#include <stdint.h>

#include "faii/ledger_store.h"
#include "faii/protocol.h"
#include "faii/residency.h"

enum faii_audit_type {
	FAII_AUDIT_APPLIANCE_START = 1,
	FAII_AUDIT_APPLIANCE_STOP = 2,
	FAII_AUDIT_RESIDENCY_VIOLATION = 3,
	FAII_AUDIT_ROUTING_RECEIPT = 4,
	FAII_AUDIT_OPERATOR_ACTION = 5,
	FAII_AUDIT_REPLICA_DISAGREEMENT = 6,
	/* A WORK_SUMMARY transaction (faii/settle_tx.h) of an appliance that
	 * runs no validator, as its bytes; keyed by slice (the epoch key). */
	FAII_AUDIT_WORK_SUMMARY = 7,
};
#define FAII_AUDIT_TYPE_MAX FAII_AUDIT_WORK_SUMMARY

struct faii_audit_start {
	uint64_t time_ns;          /* CLOCK_REALTIME */
	uint8_t config_digest[32]; /* BLAKE2b-256 of the configuration file */
	uint32_t node_count;
	uint32_t workers;
	char version[16];
};

struct faii_audit_stop {
	uint64_t time_ns;
	uint64_t uptime_ns;
	uint64_t rx_packets;
	uint64_t valid[FAII_MSG_TYPE_MAX + 1]; /* by message type */
	uint64_t dropped;
};

/* An operator's command on the control socket, whatever its outcome. */
struct faii_audit_operator {
	uint64_t time_ns;
	uint32_t uid, gid;
	int32_t pid;
	uint8_t ok;
	uint8_t reserved[3];
	char command[32];    /* "policy.set" */
	char error_code[24]; /* "" when ok */
	char args[192];      /* the arguments as compact JSON, cut to fit */
};

/*
 * A replica set's copy outvoted by the majority (SPEC 3.6: evidence for
 * slashing, a result mismatch): the task, the copy and its node, the set's
 * nodes and the result digest each copy had answered by then (bit j of
 * answered), the majority's digest. Keyed by the outvoted node.
 */
struct faii_audit_disagreement {
	uint64_t time_ns; /* when the control thread received it */
	uint64_t task_id;
	uint32_t node_id; /* the outvoted copy's node */
	uint8_t replica_index;
	uint8_t replicas;
	uint8_t status; /* its result status */
	uint8_t answered;
	uint8_t tier;
	uint8_t category;
	uint8_t reserved[2];
	uint32_t set_node_id[FAII_REPLICAS_MAX];
	uint8_t result_hash[FAII_HASH_SIZE];
	uint8_t majority_hash[FAII_HASH_SIZE];
	uint8_t set_hash[FAII_REPLICAS_MAX][FAII_HASH_SIZE];
};

/* "appliance_start", ...; NULL for an unknown type. */
const char *faii_audit_type_name(uint16_t type);

/* Appends and waits until durable: the sequence number or a negative errno. */
int64_t faii_audit_start(struct faii_ls *ls, const struct faii_audit_start *rec);
int64_t faii_audit_stop(struct faii_ls *ls, const struct faii_audit_stop *rec);
/* Appends an operator action and waits until durable. */
int64_t faii_audit_operator(struct faii_ls *ls, const struct faii_audit_operator *rec);
/* Queues a refusal from the residency program; keyed by its node. */
int64_t faii_audit_residency(struct faii_ls *ls, const struct faii_res_event *ev);
/* Queues a disagreement; cb (may be NULL) runs when it is durable or failed. */
int64_t faii_audit_disagreement(struct faii_ls *ls, const struct faii_audit_disagreement *rec,
                                faii_ls_ack_fn cb, void *arg);

#endif /* FAII_AUDIT_H */
