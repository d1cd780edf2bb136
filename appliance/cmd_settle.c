/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * settle.status and payout.proof: this appliance's settlement of the
 * consortium's committed sequence (docs/settlement.md, "In faiid";
 * docs/control.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "cmd.h"
#include "consensus.h"
#include "faii/assert.h"
#include "faii/settle_attest.h"
#include "faii/settle_tx.h"
#include "settle_json.h"
#include "settlement.h"

bool cmd_settlement_running(struct faii_control *c, struct faii_ctl_error *err)
{
	if (faii_settlement_running(c->settlement))
		return true;
	faii_ctl_fail(err, "unavailable",
	              "settlement runs with the consortium validator (appliance.validators, "
	              "docs/settlement.md)");
	return false;
}

json_t *cmd_settle_submit(struct faii_control *c, const uint8_t *tx, uint32_t len,
                          struct faii_ctl_error *err)
{
	FAII_ASSERT(len > 0 && len <= FAII_SETTLE_TX_BYTES_MAX);
	if (!faii_consensus_running(c->consensus))
		return faii_ctl_fail(err, "unavailable",
		                     "no validator configured (appliance.validators, "
		                     "docs/consensus.md)");
	int rc = faii_consensus_submit(c->consensus, tx, len);
	if (rc == -ENOBUFS)
		return faii_ctl_fail(err, "busy", "the validator's queue is full; try again");
	if (rc != 0)
		return faii_ctl_fail(err, "internal", "the validator refused the transaction: %s",
		                     strerror(-rc));
	uint8_t digest[crypto_generichash_BYTES];
	char digest_hex[2 * sizeof(digest) + 1], hex[2 * FAII_SETTLE_TX_BYTES_MAX + 1];
	crypto_generichash(digest, sizeof(digest), tx, len, NULL, 0);
	sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
	sodium_bin2hex(hex, sizeof(hex), tx, len);
	return json_pack("{s:b, s:I, s:s, s:s}", "queued", 1, "bytes", (json_int_t)len, "blake2b",
	                 digest_hex, "hex", hex);
}

static void set_u64(json_t *object, const char *key, uint64_t value)
{
	json_object_set_new(object, key, json_integer((json_int_t)value));
}

static json_t *epoch_json(const struct faii_settle_epoch_record *r)
{
	char root[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(root, sizeof(root), r->root, sizeof(r->root));
	json_t *e = json_object();
	set_u64(e, "epoch", r->epoch);
	set_u64(e, "settled_ms", r->settled_ms);
	set_u64(e, "sequence", r->sequence);
	json_object_set_new(e, "status", json_string(r->status == 0 ? "ok" : strerror(-r->status)));
	json_object_set_new(e, "root", json_string(root));
	set_u64(e, "leaves", r->leaves);
	set_u64(e, "summaries", r->summaries);
	set_u64(e, "root_votes", (uint64_t)__builtin_popcountll(r->root_votes));
	set_u64(e, "root_against", (uint64_t)__builtin_popcountll(r->root_against));
	json_object_set_new(e, "final", json_boolean(r->final));
	set_u64(e, "base", r->totals.base);
	set_u64(e, "performance", r->totals.performance);
	set_u64(e, "deduction", r->totals.deduction);
	set_u64(e, "withheld", r->totals.withheld);
	set_u64(e, "paid", r->totals.paid);
	set_u64(e, "escrowed", r->escrowed);
	set_u64(e, "released", r->released);
	json_t *shares = json_array();
	for (uint32_t k = 0; k < FAII_SETTLE_CLASSES; k++)
		json_array_append_new(shares,
		                      json_integer((json_int_t)r->totals.class_share_ppb[k]));
	json_object_set_new(e, "class_share_ppb", shares);
	return e;
}

static json_t *counts_json(const struct faii_settle_stats *st)
{
	json_t *applied = json_object(), *refused = json_object();
	for (int k = 1; k < FAII_SETTLE_TX_KIND_END; k++)
		set_u64(applied, faii_settle_tx_kind_name((enum faii_settle_tx_kind)k),
		        st->applied[k]);
	for (int o = 1; o < FAII_SETTLE_OUTCOME_COUNT; o++)
		set_u64(refused, faii_settle_outcome_name((enum faii_settle_outcome)o),
		        st->refused[o]);
	return json_pack("{s:o, s:o, s:I}", "applied", applied, "refused", refused,
	                 "entries_refused", (json_int_t)st->entries_refused);
}

/* Kind 3 as settlement counted it, by reason (state_attest.c). */
static void read_attestations(void *ctx, const struct faii_settle_state *state)
{
	uint64_t *counts = ctx;
	for (int k = 0; k < FAII_SETTLE_ATTEST_REASON_END; k++)
		counts[k] = faii_settle_attest_count(state, (enum faii_settle_attest_reason)k);
}

/* Accepted ATTEST messages: this appliance's queue to the ledger, and
 * every appliance's attestations as the committed sequence made them. */
static json_t *attestations_json(struct faii_control *c)
{
	uint64_t counts[FAII_SETTLE_ATTEST_REASON_END] = {0};
	faii_settlement_read(c->settlement, read_attestations, counts);
	json_t *refused = json_object();
	for (int k = FAII_SETTLE_ATTEST_OK + 1; k < FAII_SETTLE_ATTEST_REASON_END; k++)
		set_u64(refused, faii_settle_attest_reason_name((enum faii_settle_attest_reason)k),
		        counts[k]);
	json_t *r = json_object();
	set_u64(r, "applied", counts[FAII_SETTLE_ATTEST_OK]);
	json_object_set_new(r, "refused", refused);
	if (c->app != NULL) {
		const struct faii_attest_queue *q = &c->app->attest;
		set_u64(r, "queued", q->counters.queued);
		set_u64(r, "submitted", q->counters.submitted);
		set_u64(r, "waiting", q->count);
		set_u64(r, "dropped_queue_full", q->counters.dropped_full);
		set_u64(r, "dropped_submit_failed", q->counters.submit_failed);
	}
	return r;
}

json_t *cmd_settle_status(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err))
		return NULL;
	struct faii_settle_stats st;
	uint64_t applied_sequence = 0;
	faii_settlement_stats(c->settlement, &st, &applied_sequence);
	json_t *r = json_object();
	set_u64(r, "applied_sequence", applied_sequence);
	set_u64(r, "consortium_ms", st.consortium_ms);
	set_u64(r, "current_epoch", st.current_epoch);
	set_u64(r, "epochs_settled", st.epochs_settled);
	set_u64(r, "epochs_failed", st.epochs_failed);
	set_u64(r, "nodes", st.nodes);
	json_object_set_new(r, "money",
	                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "minted",
	                              (json_int_t)st.minted, "paid", (json_int_t)st.paid, "escrow",
	                              (json_int_t)st.escrow, "treasury", (json_int_t)st.treasury,
	                              "burned", (json_int_t)st.burned, "slashed_stake",
	                              (json_int_t)st.slashed_stake, "reporter_rewards",
	                              (json_int_t)st.reporter_rewards));
	set_u64(r, "slashes_executed", st.slashes_executed);
	set_u64(r, "slashes_dismissed", st.slashes_dismissed);
	set_u64(r, "carbon_retired_wh", st.carbon_retired_wh);
	json_object_set_new(r, "transactions", counts_json(&st));
	json_object_set_new(r, "attestations", attestations_json(c));
	set_u64(r, "roots_submitted", c->settlement->roots_submitted);
	set_u64(r, "roots_refused", c->settlement->roots_refused);
	struct faii_settle_epoch_record kept[FAII_SETTLE_EPOCHS_KEPT];
	uint32_t count = faii_settlement_kept(c->settlement, kept);
	json_object_set_new(r, "latest_epoch", count > 0 ? epoch_json(&kept[0]) : json_null());
	json_t *epochs = json_array();
	for (uint32_t k = 0; k < count; k++)
		json_array_append_new(epochs, epoch_json(&kept[k]));
	json_object_set_new(r, "epochs", epochs);
	return r;
}

json_t *cmd_payout_proof(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"node", "epoch", NULL};
	uint64_t node = 0, epoch = UINT64_MAX;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint(args, "node", UINT32_MAX, &node, err))
		return NULL;
	if (json_object_get(args, "epoch") != NULL &&
	    !cmd_arg_uint(args, "epoch", INT64_MAX, &epoch, err))
		return NULL;
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	struct faii_settle_epoch_record record;
	int rc =
	        faii_settlement_proof(c->settlement, epoch, (uint32_t)node, &leaf, &proof, &record);
	if (rc != 0 && epoch == UINT64_MAX)
		return faii_ctl_fail(
		        err, "not_found",
		        "node %" PRIu64 " has no payout leaf in the latest settled epoch", node);
	if (rc != 0)
		return faii_ctl_fail(err, "not_found",
		                     "no payout leaf of node %" PRIu64 " in epoch %" PRIu64
		                     " (settled epochs are kept for %u epochs; a leaf carries the "
		                     "cumulative amount, so the latest proves everything owed)",
		                     node, epoch, FAII_SETTLE_EPOCHS_KEPT);
	json_t *r = faii_settle_proof_to_json(&leaf, &proof, record.root);
	json_object_set_new(r, "final", json_boolean(record.final));
	return r;
}
