/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-ledger: offline tools for a ledger store directory.
 *
 *   faii-ledger verify DIR    check every CRC, the hash chain, segment
 *                             headers, the checkpoint and the log's end
 *                             against DIR/STATE, as faiid's open does; print a
 *                             summary. Exit 0 when faiid would open the store
 *                             (a crash's torn tail is reported: recovery
 *                             removes it), 1 when it would refuse, 2 usage.
 *   faii-ledger dump DIR      list the committed records after the latest
 *                             checkpoint, one line each (read-only).
 *   faii-ledger repair --truncate-torn-tail DIR
 *                             the operator's override: open a store that
 *                             recovery refuses because of its end, truncate
 *                             the damaged tail and close it cleanly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "faii/audit.h"
#include "faii/bytes.h"
#include "faii/dag_record.h"
#include "faii/ledger_store.h"
#include "faii/settle_tx.h"
#include "faii/validator.h"
#include "faii/store_io.h"
#include "store/scan.h"

static int usage(FILE *out)
{
	fprintf(out,
	        "usage: faii-ledger verify DIR | dump DIR | repair --truncate-torn-tail DIR\n"
	        "verify: checks a ledger store directory offline, as faiid's open would, and\n"
	        "        prints a summary. Exit status: 0 faiid would open it (a crash's torn\n"
	        "        tail is reported: faiid removes it), 1 it would refuse (corruption,\n"
	        "        damage at the tail after a clean close, DIR/STATE missing, corrupt or\n"
	        "        disagreeing with the log) or DIR is unreadable, 2 usage.\n"
	        "dump:   lists the committed records after the latest checkpoint; exit\n"
	        "        status as verify.\n"
	        "repair --truncate-torn-tail: the override for a store verify refuses because\n"
	        "        of its end: removes whatever past the last intact commit does not\n"
	        "        verify (acknowledged records included: it prints which), writes a new\n"
	        "        DIR/STATE and closes the store cleanly. Corruption before the tail is\n"
	        "        still refused. Stop faiid first. Exit status: 0 repaired, 1 refused.\n"
	        "verify and dump only read.\n");
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

/* Validators of a mask as "0,1,3" ("-" for none). */
static void print_mask(const char *name, uint64_t mask)
{
	printf(" %s=", name);
	bool first = true;
	for (uint32_t v = 0; v < 64; v++)
		if (mask & (1ull << v)) {
			printf("%s%u", first ? "" : ",", v);
			first = false;
		}
	if (first)
		printf("-");
}

/* A digest's first 8 bytes: enough to tell vertices apart by eye. */
static void print_digest(const char *name, const uint8_t *digest)
{
	char hex[17];
	printf(" %s=%s", name, sodium_bin2hex(hex, sizeof(hex), digest, 8));
}

static void print_vertex(const struct faii_dag_vertex_info *v)
{
	printf(" epoch=%" PRIu64 " round=%" PRIu64 " author=%u", v->epoch, v->round, v->author);
	print_digest("digest", v->digest);
	print_mask("parents", v->parent_mask);
	printf(" tx=%u bytes=%u", v->tx_count, v->payload_bytes);
}

/* A consensus journal record (include/faii/dag_record.h), readably. */
static void print_dag_record(uint8_t type, const uint8_t *payload, uint32_t len)
{
	union {
		struct faii_dag_vertex_info vertex;
		struct faii_dag_certified_info certified;
		struct faii_dag_vote_info vote;
		struct faii_dag_commit_info commit;
		struct faii_dag_evidence_info evidence;
		uint64_t round;
	} r;
	int rc = -EBADMSG;
	if (type == FAII_DAG_RECORD_OWN_VERTEX &&
	    (rc = faii_dag_record_own_vertex(payload, len, &r.vertex)) == 0)
		print_vertex(&r.vertex);
	else if (type == FAII_DAG_RECORD_CERTIFIED &&
	         (rc = faii_dag_record_certified(payload, len, &r.certified)) == 0) {
		print_vertex(&r.certified.vertex);
		print_mask("signers", r.certified.signer_mask);
	} else if (type == FAII_DAG_RECORD_VOTE &&
	           (rc = faii_dag_record_vote(payload, len, &r.vote)) == 0) {
		printf(" round=%" PRIu64 " author=%u", r.vote.round, r.vote.author);
		print_digest("digest", r.vote.digest);
	} else if (type == FAII_DAG_RECORD_COMMIT &&
	           (rc = faii_dag_record_commit(payload, len, &r.commit)) == 0) {
		printf(" anchor_round=%" PRIu64 " author=%u sequence=%" PRIu64,
		       r.commit.anchor_round, r.commit.anchor_author, r.commit.sequence);
	} else if (type == FAII_DAG_RECORD_EVIDENCE &&
	           (rc = faii_dag_record_evidence(payload, len, &r.evidence)) == 0) {
		printf(" epoch=%" PRIu64 " round=%" PRIu64 " author=%u", r.evidence.first.epoch,
		       r.evidence.first.round, r.evidence.first.author);
		print_digest("first", r.evidence.first.digest);
		print_digest("second", r.evidence.second.digest);
	} else if (type == FAII_DAG_RECORD_SIGNED_ELSEWHERE &&
	           (rc = faii_dag_record_signed_elsewhere(payload, len, &r.round)) == 0) {
		printf(" round=%" PRIu64, r.round);
	}
	if (rc != 0)
		printf(" (does not decode)");
}

/* One line per record; audit records with their main fields. */
/* A WORK_SUMMARY transaction's header (faii/settle_tx.h). */
static void print_work_summary(const uint8_t *body)
{
	char root[2 * FAII_SETTLE_DIGEST + 1];
	sodium_bin2hex(root, sizeof(root), body + 28, FAII_SETTLE_DIGEST);
	printf(" slice %" PRIu64 " end_ms %" PRIu64 " part %u/%u entries %u receipts %u root %s",
	       faii_get_le64(body), faii_get_le64(body + 8), faii_get_le16(body + 16),
	       faii_get_le16(body + 18), faii_get_le16(body + 20), faii_get_le32(body + 24), root);
}

static void print_record(void *ctx, const struct ls_record_header *h, const uint8_t *keys,
                         uint64_t segment, uint64_t offset)
{
	(void)ctx;
	const char *name = faii_audit_type_name(h->type);
	const uint8_t *payload = keys + ls_keys_size(h->flags);
	bool dag = h->type > FAII_DAG_LS_TYPE_BASE &&
	           h->type <= FAII_DAG_LS_TYPE_BASE + FAII_DAG_RECORD_LAST;
	uint8_t dag_type = (uint8_t)(h->type - FAII_DAG_LS_TYPE_BASE);
	printf("seq %" PRIu64 " type %s%s len %u segment %" PRIu64 " offset %" PRIu64, h->seq,
	       dag ? "dag." : "",
	       dag    ? faii_dag_record_name(dag_type)
	       : name ? name
	              : "application",
	       h->payload_len, segment, offset);
	if (dag) {
		print_dag_record(dag_type, payload, h->payload_len);
	} else if (h->type == FAII_AUDIT_APPLIANCE_STOP &&
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
	} else if (h->type == FAII_AUDIT_WORK_SUMMARY &&
	           h->payload_len >= FAII_SETTLE_TX_HEADER + FAII_SETTLE_WORK_HEADER_BYTES &&
	           payload[0] == FAII_SETTLE_TX_WORK_SUMMARY) {
		print_work_summary(payload + FAII_SETTLE_TX_HEADER);
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

/* Bounds of the store repair opens: it appends nothing. */
#define REPAIR_INDEX_ENTRIES 1024u

static int repair(const char *dir)
{
	struct stat st_dir;
	if (stat(dir, &st_dir) != 0 || !S_ISDIR(st_dir.st_mode)) {
		fprintf(stderr, "faii-ledger: %s: not a store directory\n", dir);
		return 1;
	}
	struct faii_ls_options o = {
	        .dir = dir,
	        .index_entries_max = REPAIR_INDEX_ENTRIES, /* keys beyond are just not indexed */
	        .accept_damaged_tail = true,
	};
	struct faii_ls *ls;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(&o, &ls, err);
	if (rc != 0) {
		fprintf(stderr, "faii-ledger: %s\n", err[0] ? err : strerror(-rc));
		printf("not repaired: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	struct faii_ls_stats st;
	faii_ls_get_stats(ls, &st);
	if (err[0])
		printf("accepted: %s\n", err);
	else
		printf("nothing to override: the store opens as it is\n");
	printf("  truncated %" PRIu64 " bytes; the log ends at seq %" PRIu64 "\n",
	       st.truncated_bytes, st.durable_seq);
	faii_ls_close(ls);
	/* The clean close can fail (a write error): say so, as verify sees it. */
	struct faii_ls_verify_report r;
	rc = faii_ls_verify(dir, &r, err);
	if (rc != 0 || !r.ends_with_close) {
		fprintf(stderr, "faii-ledger: %s: not closed cleanly after the repair: %s\n", dir,
		        rc ? err : "no close record");
		return 1;
	}
	printf("repaired: %s (%s)\n", dir, r.mark);
	return 0;
}

static int verify(const char *dir)
{
	struct faii_ls_verify_report r;
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_verify(dir, &r, err);
	if (rc != 0) {
		fprintf(stderr, "faii-ledger: %s\n", err[0] ? err : strerror(-rc));
		printf("%s: %s\n", rc == -EBADMSG ? "corrupt" : "unreadable",
		       err[0] ? err : strerror(-rc));
		return 1;
	}
	char chain[2 * FAII_LS_CHAIN_SIZE + 1];
	sodium_bin2hex(chain, sizeof(chain), r.chain, sizeof(r.chain));
	printf("intact: %s\n", dir);
	printf("  segments %" PRIu64 ", records scanned %" PRIu64 " (%" PRIu64 " bytes)\n",
	       r.segments, r.records, r.bytes);
	printf("  last seq %" PRIu64 ", checkpoint %s%" PRIu64 "\n", r.last_seq,
	       r.checkpoint_seq ? "at seq " : "none ", r.checkpoint_seq);
	printf("  torn tail %" PRIu64 " bytes%s\n", r.torn_tail_bytes,
	       r.torn_tail_bytes ? " (never acknowledged; removed at the next open)" : "");
	printf("  state %s; the log ends %s\n", r.mark,
	       r.ends_with_close ? "with a close record" : "without a close record");
	printf("  chain %s\n", chain);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	bool is_repair = argc == 4 && strcmp(argv[1], "repair") == 0 &&
	                 strcmp(argv[2], "--truncate-torn-tail") == 0;
	if (!is_repair &&
	    (argc != 3 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "dump") != 0)))
		return usage(stderr);
	if (sodium_init() < 0)
		return 1;
	if (is_repair)
		return repair(argv[3]);
	if (strcmp(argv[1], "dump") == 0)
		return dump(argv[2]);
	return verify(argv[2]);
}
