/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * receipt.proof: a routing receipt of this appliance with its Merkle path
 * to the root of its slice (docs/settlement.md, "Work summaries and
 * receipts"; docs/control.md). The answer is the proof file that
 * `faiictl receipt verify` checks offline.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "receipt_proof.h"

/* task_id: a JSON integer, or a decimal string for ids above 2^63 - 1. */
static bool task_id_arg(json_t *args, uint64_t *out, struct faii_ctl_error *err)
{
	json_t *v = json_object_get(args, "task_id");
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	char *end = NULL;
	errno = 0;
	if (s != NULL && *s >= '0' && *s <= '9' && strlen(s) <= 20) {
		unsigned long long parsed = strtoull(s, &end, 10);
		if (errno == 0 && *end == '\0') {
			*out = parsed;
			return true;
		}
	}
	faii_ctl_fail(
	        err, "invalid_argument",
	        "argument \"task_id\": expected an integer 0..2^64-1 (or its decimal string)");
	return false;
}

json_t *cmd_receipt_proof(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"task_id", NULL};
	uint64_t task_id;
	if (!cmd_args_known(args, known, err) || !task_id_arg(args, &task_id, err))
		return NULL;
	struct faii_work_summary *ws = &c->app->work;
	static struct faii_work_proof found; /* control thread only; 1 KiB */
	bool in_open = false;
	if (faii_work_prove(ws, task_id, &found, &in_open) != 0) {
		if (in_open)
			return faii_ctl_fail(err, "not_found",
			                     "task %" PRIu64 " is in the open slice %" PRIu64
			                     ", whose root is made at %" PRIu64
			                     " ms; ask again then",
			                     task_id, ws->open.slice, ws->open.end_ms);
		return faii_ctl_fail(err, "not_found",
		                     "no receipt of task %" PRIu64
		                     " is kept (the last %u receipts are)",
		                     task_id, ws->opt.receipts_kept);
	}
	struct faii_receipt_proof proof = {
	        .slice = found.slice.slice,
	        .slice_end_ms = found.slice.end_ms,
	        .proof = found.proof,
	};
	memcpy(proof.leaf, found.leaf, sizeof(proof.leaf));
	memcpy(proof.root, found.slice.root, sizeof(proof.root));
	return faii_receipt_proof_json(&proof, found.matches);
}
