/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-ledger: offline tools for a ledger store directory.
 *
 *   faii-ledger verify DIR    check every CRC, the hash chain, segment
 *                             headers and the checkpoint; print a summary.
 *                             Exit 0 intact (a torn tail is reported but
 *                             intact: recovery removes it), 1 corrupt, 2 usage.
 *   faii-ledger dump DIR      list the committed records after the latest
 *                             checkpoint, one line each (read-only).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "faii/audit.h"
#include "faii/ledger_store.h"
#include "faii/store_io.h"
#include "store/scan.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: faii-ledger verify DIR | dump DIR\n"
	             "verify: checks a ledger store directory offline and prints a summary.\n"
	             "dump:   lists the committed records after the latest checkpoint.\n"
	             "Both only read. Exit status: 0 intact, 1 corrupt or unreadable, 2 usage.\n");
	return out == stdout ? 0 : 2;
}

/* The task, the outvoted copy, the set's nodes and digests (their first 8 bytes). */
static void print_disagreement(const uint8_t *payload)
{
	struct faii_audit_disagreement d;
	char hex[2 * FAII_HASH_SIZE + 1];
	memcpy(&d, payload, sizeof(d));
	unsigned n = d.replicas <= FAII_REPLICAS_MAX ? d.replicas : FAII_REPLICAS_MAX;
	sodium_bin2hex(hex, sizeof(hex), d.result_hash, FAII_HASH_SIZE);
	printf(" task %" PRIu64 " node %u replica %u/%u tier %u result %.16s", d.task_id, d.node_id,
	       d.replica_index, d.replicas, d.tier, hex);
	sodium_bin2hex(hex, sizeof(hex), d.majority_hash, FAII_HASH_SIZE);
	printf(" majority %.16s set", hex);
	for (unsigned j = 0; j < n; j++) {
		sodium_bin2hex(hex, sizeof(hex), d.set_hash[j], FAII_HASH_SIZE);
		printf(" %u:%.16s", d.set_node_id[j], (d.answered >> j) & 1 ? hex : "-");
	}
}

/* One line per record; audit records with their main fields. */
static void print_record(void *ctx, const struct ls_record_header *h, const uint8_t *keys,
                         uint64_t segment, uint64_t offset)
{
	(void)ctx;
	const char *name = faii_audit_type_name(h->type);
	const uint8_t *payload = keys + ls_keys_size(h->flags);
	printf("seq %" PRIu64 " type %s len %u segment %" PRIu64 " offset %" PRIu64, h->seq,
	       name ? name : "application", h->payload_len, segment, offset);
	if (h->type == FAII_AUDIT_APPLIANCE_STOP &&
	    h->payload_len == sizeof(struct faii_audit_stop)) {
		struct faii_audit_stop stop;
		memcpy(&stop, payload, sizeof(stop));
		printf(" rx %" PRIu64 " task %" PRIu64 " dropped %" PRIu64, stop.rx_packets,
		       stop.valid[FAII_MSG_TASK], stop.dropped);
	} else if (h->type == FAII_AUDIT_RESIDENCY_VIOLATION &&
	           h->payload_len == sizeof(struct faii_res_event)) {
		struct faii_res_event ev;
		memcpy(&ev, payload, sizeof(ev));
		printf(" task %" PRIu64 " node %u class %u jurisdiction %u reason %s", ev.task_id,
		       ev.node_id, ev.residency_class, ev.jurisdiction,
		       ev.reason < FAII_RES_REASON_COUNT ? faii_residency_counter_name(ev.reason)
		                                         : "invalid");
	} else if (h->type == FAII_AUDIT_OPERATOR_ACTION &&
	           h->payload_len == sizeof(struct faii_audit_operator)) {
		struct faii_audit_operator op;
		memcpy(&op, payload, sizeof(op));
		op.command[sizeof(op.command) - 1] = '\0';
		op.error_code[sizeof(op.error_code) - 1] = '\0';
		op.args[sizeof(op.args) - 1] = '\0';
		printf(" uid %u gid %u pid %d command %s %s%s args %s", op.uid, op.gid, op.pid,
		       op.command, op.ok ? "ok" : "error ", op.ok ? "" : op.error_code, op.args);
	} else if (h->type == FAII_AUDIT_REPLICA_DISAGREEMENT &&
	           h->payload_len == sizeof(struct faii_audit_disagreement)) {
		print_disagreement(payload);
	} else if (h->type == FAII_AUDIT_APPLIANCE_START &&
	           h->payload_len == sizeof(struct faii_audit_start)) {
		struct faii_audit_start start;
		char digest[65];
		memcpy(&start, payload, sizeof(start));
		sodium_bin2hex(digest, sizeof(digest), start.config_digest, 32);
		printf(" nodes %u config %s", start.node_count, digest);
	}
	printf("\n");
}

static int dump(const char *dir)
{
	char err[FAII_LS_ERR_LEN];
	struct ls_scan scan = {.io = faii_store_io_system(),
	                       .dir = dir,
	                       .repair = false,
	                       .on_record = print_record};
	int rc = ls_scan_dir(&scan, err);
	free(scan.checkpoint_data);
	if (rc != 0) {
		fprintf(stderr, "faii-ledger: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc != 3 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "dump") != 0))
		return usage(stderr);
	if (sodium_init() < 0)
		return 1;
	if (strcmp(argv[1], "dump") == 0)
		return dump(argv[2]);
	struct faii_ls_verify_report r;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_verify(argv[2], &r, err);
	if (rc != 0) {
		fprintf(stderr, "faii-ledger: %s\n", err[0] ? err : strerror(-rc));
		printf("corrupt: %s\n", err);
		return 1;
	}
	char chain[2 * FAII_LS_CHAIN_SIZE + 1];
	sodium_bin2hex(chain, sizeof(chain), r.chain, sizeof(r.chain));
	printf("intact: %s\n", argv[2]);
	printf("  segments %" PRIu64 ", records scanned %" PRIu64 " (%" PRIu64 " bytes)\n",
	       r.segments, r.records, r.bytes);
	printf("  last seq %" PRIu64 ", checkpoint %s%" PRIu64 "\n", r.last_seq,
	       r.checkpoint_seq ? "at seq " : "none ", r.checkpoint_seq);
	printf("  torn tail %" PRIu64 " bytes%s\n", r.torn_tail_bytes,
	       r.torn_tail_bytes ? " (never acknowledged; removed at the next open)" : "");
	printf("  chain %s\n", chain);
	return 0;
}
