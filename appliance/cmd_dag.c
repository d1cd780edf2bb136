/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dag.status, dag.peers, dag.vertex, dag.evidence, dag.submit: the
 * consortium validator of this appliance (docs/consensus.md, "Operating";
 * docs/control.md). Validators are named by index (0..n-1, the members in
 * id order) and by their configured id.
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "consensus.h"
#include "faii/assert.h"
#include "faii/dag_record.h"

/* Equivocation proofs one dag.evidence answer lists (the oldest first). */
#define DAG_EVIDENCE_LIST_MAX 256u

/* The snapshot every command reads; the control thread is single. */
static struct faii_consensus_snapshot snap;

static bool validator_running(struct faii_control *c, struct faii_ctl_error *err)
{
	if (faii_consensus_running(c->consensus))
		return true;
	faii_ctl_fail(err, "unavailable",
	              "no validator configured (appliance.validators, docs/consensus.md)");
	return false;
}

static void set_u64(json_t *object, const char *key, uint64_t value)
{
	json_object_set_new(object, key, json_integer((json_int_t)value));
}

static json_t *hex_json(const uint8_t *bytes, size_t len)
{
	char hex[2 * 64 + 1];
	FAII_ASSERT(len <= 64);
	return json_string(sodium_bin2hex(hex, sizeof(hex), bytes, len));
}

/* Validators of a mask as indices. */
static json_t *mask_json(uint64_t mask)
{
	json_t *list = json_array();
	for (uint32_t v = 0; v < 64; v++)
		if (mask & (1ull << v))
			json_array_append_new(list, json_integer(v));
	return list;
}

static json_t *refusals_json(const struct faii_dag_stats *dag)
{
	json_t *refused = json_object();
	for (int r = 0; r < FAII_DAG_REFUSAL_COUNT; r++)
		set_u64(refused, faii_dag_refusal_name(r), dag->refused[r]);
	return refused;
}

static json_t *latency_json(void)
{
	uint64_t count = 0;
	for (unsigned b = 0; b < FAII_HIST_BUCKETS; b++)
		count += snap.commit_latency_hist[b];
	const uint64_t *h = snap.commit_latency_hist;
	return json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)count, "p50_ms",
	                 (double)faii_hist_quantile_us(h, 0.5) / 1000.0, "p99_ms",
	                 (double)faii_hist_quantile_us(h, 0.99) / 1000.0, "mean_ms",
	                 count ? (double)snap.commit_latency_sum_us / (double)count / 1000.0 : 0.0);
}

json_t *cmd_dag_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err) || !validator_running(c, err))
		return NULL;
	faii_consensus_snapshot(c->consensus, &snap);
	const struct faii_validator_status *st = &snap.status;
	const struct faii_dag_stats *dag = &st->dag;
	json_t *r = json_object();
	set_u64(r, "epoch", st->epoch);
	set_u64(r, "self", st->self);
	set_u64(r, "self_id", snap.member_ids[st->self]);
	set_u64(r, "validators", st->validator_count);
	set_u64(r, "round", dag->round);
	set_u64(r, "last_committed_anchor", dag->last_committed_anchor);
	set_u64(r, "committed_vertices", dag->committed_vertices);
	set_u64(r, "committed_transactions", dag->committed_transactions);
	set_u64(r, "round_low", dag->round_low);
	set_u64(r, "round_inserted", dag->round_inserted);
	set_u64(r, "round_seen", dag->round_seen);
	set_u64(r, "held_bytes", dag->held_bytes);
	set_u64(r, "pending_bytes", dag->pending_bytes + st->queue_bytes);
	set_u64(r, "vertices_proposed", dag->vertices_proposed);
	set_u64(r, "certificates_formed", dag->certificates_formed);
	set_u64(r, "certificates_accepted", dag->certificates_accepted);
	set_u64(r, "votes_sent", dag->votes_sent);
	set_u64(r, "fetches_sent", dag->fetches_sent);
	set_u64(r, "fetch_vertices_served", dag->fetch_vertices_served);
	set_u64(r, "equivocations", dag->equivocations);
	set_u64(r, "sends_dropped", dag->sends_dropped);
	set_u64(r, "orphaned_vertices", dag->orphaned_vertices);
	set_u64(r, "requeued_transactions", dag->requeued_transactions);
	set_u64(r, "requeue_dropped", dag->requeue_dropped);
	set_u64(r, "flushes", st->flushes);
	set_u64(r, "events", st->events);
	set_u64(r, "submitted", snap.submitted);
	set_u64(r, "submit_refused", snap.submit_refused + st->queue_refused);
	json_object_set_new(r, "failed", json_boolean(dag->failed));
	json_object_set_new(r, "refused", refusals_json(dag));
	json_object_set_new(r, "commit_latency", latency_json());
	return r;
}

static json_t *closes_json(const struct faii_transport_tcp_peer_stats *peer)
{
	json_t *closes = json_object();
	for (int r = 0; r < FAII_TCP_CLOSE_REASONS; r++)
		if (peer->closes[r] != 0)
			set_u64(closes, faii_transport_tcp_close_reason_name(r), peer->closes[r]);
	return closes;
}

/* The highest round any validator has shown, this one included. */
static uint64_t front_round(const struct faii_validator_status *st)
{
	uint64_t front = st->dag.round_inserted;
	for (uint32_t v = 0; v < st->validator_count; v++)
		if (st->dag.author_round[v] > front)
			front = st->dag.author_round[v];
	return front;
}

static json_t *peer_json(uint32_t v, uint64_t front)
{
	const struct faii_validator_status *st = &snap.status;
	const struct faii_transport_tcp_peer_stats *p = &st->transport.peers[v];
	json_t *r = json_object();
	set_u64(r, "index", v);
	set_u64(r, "id", snap.member_ids[v]);
	json_object_set_new(r, "self", json_boolean(v == st->self));
	json_object_set_new(r, "connected", json_boolean(v == st->self || p->connected));
	set_u64(r, "round", st->dag.author_round[v]);
	set_u64(r, "lag_rounds", front - st->dag.author_round[v]);
	set_u64(r, "links", p->links);
	set_u64(r, "reconnects", p->reconnects);
	set_u64(r, "bytes_sent", p->bytes_sent);
	set_u64(r, "bytes_received", p->bytes_received);
	set_u64(r, "messages_sent", p->messages_sent);
	set_u64(r, "messages_received", p->messages_received);
	set_u64(r, "queued_messages", p->queued_messages);
	set_u64(r, "queued_bytes", p->queued_bytes);
	set_u64(r, "send_dropped", p->send_dropped_full);
	set_u64(r, "wire_bytes_discarded", p->wire_bytes_discarded);
	json_object_set_new(r, "closes", closes_json(p));
	return r;
}

json_t *cmd_dag_peers(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err) || !validator_running(c, err))
		return NULL;
	faii_consensus_snapshot(c->consensus, &snap);
	uint64_t front = front_round(&snap.status);
	json_t *peers = json_array();
	for (uint32_t v = 0; v < snap.status.validator_count; v++)
		json_array_append_new(peers, peer_json(v, front));
	return json_pack("{s:I, s:o}", "front_round", (json_int_t)front, "peers", peers);
}

static json_t *vertex_json(const struct faii_consensus *consensus,
                           const struct faii_dag_vertex_info *vertex)
{
	json_t *r = json_object();
	set_u64(r, "epoch", vertex->epoch);
	set_u64(r, "round", vertex->round);
	set_u64(r, "author", vertex->author);
	if (vertex->author < consensus->validator_count)
		set_u64(r, "author_id", consensus->member_ids[vertex->author]);
	json_object_set_new(r, "digest", hex_json(vertex->digest, FAII_DAG_DIGEST_BYTES));
	return r;
}

json_t *cmd_dag_vertex(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"round", "author", NULL};
	uint64_t round = 0, author = 0;
	if (!cmd_args_known(args, known, err) || !validator_running(c, err) ||
	    !cmd_arg_uint(args, "round", UINT64_MAX >> 6, &round, err) ||
	    !cmd_arg_uint(args, "author", c->consensus->validator_count - 1, &author, err))
		return NULL;
	/* The validator's own lookup (the store's round index), on this thread. */
	struct faii_dag_store_journal journal;
	if (faii_dag_store_journal_init(&journal, c->consensus->store, c->consensus->epoch) != 0)
		return faii_ctl_fail(err, "internal", "out of memory");
	int64_t len = journal.journal.lookup(&journal.journal, FAII_DAG_RECORD_CERTIFIED,
	                                     FAII_DAG_KEY(round, author), journal.record,
	                                     FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	struct faii_dag_certified_info info;
	int rc = len > 0 ? faii_dag_record_certified(journal.record, (uint32_t)len, &info) : 0;
	faii_dag_store_journal_fini(&journal);
	if (len < 0)
		return faii_ctl_fail(err, "internal", "ledger: %s", strerror((int)-len));
	if (len == 0)
		return faii_ctl_fail(err, "not_found",
		                     "no certified vertex of round %" PRIu64
		                     " by validator %" PRIu64 " in the ledger (epoch %" PRIu64 ")",
		                     round, author, c->consensus->epoch);
	if (rc != 0)
		return faii_ctl_fail(err, "internal",
		                     "the ledger's record of round %" PRIu64 " by %" PRIu64
		                     " does not decode",
		                     round, author);
	json_t *r = vertex_json(c->consensus, &info.vertex);
	json_object_set_new(r, "parents", mask_json(info.vertex.parent_mask));
	set_u64(r, "tx_count", info.vertex.tx_count);
	set_u64(r, "batch_bytes", info.vertex.payload_bytes);
	json_object_set_new(r, "signers", mask_json(info.signer_mask));
	return r;
}

static const char *verify_error(int rc)
{
	switch (rc) {
	case -EKEYREJECTED: return "a signature does not hold";
	case -EBADMSG: return "not two vertex headers of committee members";
	case -EINVAL: return "not a conflict (another author, epoch or round, or one digest)";
	default: return strerror(-rc);
	}
}

/* One proof: its two headers, checked offline against the committee's keys
 * as anyone holding them would (faii_dag_evidence_verify). */
static json_t *evidence_json(const struct faii_consensus *consensus, uint64_t seq,
                             const uint8_t *record, uint32_t len,
                             const struct faii_dag_evidence_info *info)
{
	json_t *r = vertex_json(consensus, &info->first);
	json_object_del(r, "digest");
	set_u64(r, "seq", seq);
	json_object_set_new(r, "first_digest", hex_json(info->first.digest, FAII_DAG_DIGEST_BYTES));
	json_object_set_new(r, "second_digest",
	                    hex_json(info->second.digest, FAII_DAG_DIGEST_BYTES));
	int rc = faii_dag_evidence_verify(
	        record, len, consensus->validator_count,
	        (const uint8_t(*)[FAII_DAG_PUBLIC_KEY_BYTES])consensus->public_keys, NULL, NULL,
	        NULL);
	json_object_set_new(r, "verified", json_boolean(rc == 0));
	if (rc != 0)
		json_object_set_new(r, "verify_error", json_string(verify_error(rc)));
	return r;
}

/* Reads the proofs the store's index names; false (err set) on a store error. */
static bool list_evidence(struct faii_consensus *consensus, json_t *proofs, uint64_t *found,
                          struct faii_ctl_error *err)
{
	uint8_t key[FAII_LS_DIGEST_SIZE];
	faii_dag_evidence_key(consensus->epoch, key);
	uint64_t seqs[DAG_EVIDENCE_LIST_MAX];
	int count = faii_ls_find(consensus->store, FAII_LS_KEY_DIGEST, key, seqs,
	                         DAG_EVIDENCE_LIST_MAX);
	if (count < 0) {
		faii_ctl_fail(err, "internal", "ledger: %s", strerror(-count));
		return false;
	}
	*found = (uint64_t)count;
	uint8_t *record = malloc(FAII_DAG_JOURNAL_RECORD_BYTES_MAX);
	if (record == NULL) {
		faii_ctl_fail(err, "internal", "out of memory");
		return false;
	}
	uint32_t listed =
	        (uint32_t)count < DAG_EVIDENCE_LIST_MAX ? (uint32_t)count : DAG_EVIDENCE_LIST_MAX;
	for (uint32_t i = 0; i < listed; i++) {
		struct faii_ls_record header;
		struct faii_dag_evidence_info info;
		if (faii_ls_read(consensus->store, seqs[i], &header, record,
		                 FAII_DAG_JOURNAL_RECORD_BYTES_MAX) != 0 ||
		    header.type != FAII_DAG_LS_TYPE_BASE + FAII_DAG_RECORD_EVIDENCE ||
		    header.keys.epoch != consensus->epoch ||
		    header.payload_len > FAII_DAG_JOURNAL_RECORD_BYTES_MAX ||
		    faii_dag_record_evidence(record, header.payload_len, &info) != 0)
			continue; /* another record under the same digest key */
		json_array_append_new(proofs, evidence_json(consensus, seqs[i], record,
		                                            header.payload_len, &info));
	}
	free(record);
	return true;
}

json_t *cmd_dag_evidence(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err) || !validator_running(c, err))
		return NULL;
	json_t *proofs = json_array();
	uint64_t found = 0;
	if (!list_evidence(c->consensus, proofs, &found, err)) {
		json_decref(proofs);
		return NULL;
	}
	return json_pack("{s:I, s:I, s:b, s:o}", "epoch", (json_int_t)c->consensus->epoch, "found",
	                 (json_int_t)found, "truncated", found > DAG_EVIDENCE_LIST_MAX, "proofs",
	                 proofs);
}

json_t *cmd_dag_submit(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"hex", NULL};
	if (!cmd_args_known(args, known, err) || !validator_running(c, err))
		return NULL;
	json_t *hex = json_object_get(args, "hex");
	if (!json_is_string(hex))
		return faii_ctl_fail(err, "invalid_argument", "argument \"hex\": expected hex");
	static uint8_t tx[FAII_DAG_TX_BYTES_MAX];
	size_t len = 0;
	if (sodium_hex2bin(tx, sizeof(tx), json_string_value(hex), json_string_length(hex), NULL,
	                   &len, NULL) != 0 ||
	    len == 0)
		return faii_ctl_fail(err, "invalid_argument",
		                     "argument \"hex\": expected 1..%u bytes of hex",
		                     FAII_DAG_TX_BYTES_MAX);
	int rc = faii_consensus_submit(c->consensus, tx, (uint32_t)len);
	if (rc == -ENOBUFS)
		return faii_ctl_fail(err, "busy", "the validator's queue is full; try again");
	if (rc != 0)
		return faii_ctl_fail(err, "out_of_range", "the transaction does not fit: %s",
		                     strerror(-rc));
	char digest_hex[2 * FAII_DAG_DIGEST_BYTES + 1];
	uint8_t digest[FAII_DAG_DIGEST_BYTES];
	crypto_generichash(digest, sizeof(digest), tx, len, NULL, 0);
	sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
	return json_pack("{s:b, s:I, s:s}", "queued", 1, "bytes", (json_int_t)len, "blake2b",
	                 digest_hex);
}
