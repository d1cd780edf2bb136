/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * carbon.balances, carbon.certificates, carbon.retirements, carbon.totals:
 * the carbon certificate registry as this appliance's settlement sees it
 * (docs/settlement.md, "Carbon certificates"; docs/control.md). Listings
 * are the registry's own, sorted by key and paged from a key on: every
 * answer holds at most CMD_SETTLE_ROWS_MAX rows and names the key the next
 * page starts at.
 */
#include <inttypes.h>
#include <string.h>

#include "cmd.h"
#include "faii/settle_carbon.h"
#include "faii/settle_state.h"
#include "settlement.h"

/* One more row than answered tells whether more follow (retirements). */
static union {
	struct faii_settle_carbon_balance balances[CMD_SETTLE_ROWS_MAX];
	struct faii_settle_carbon_certificate certificates[CMD_SETTLE_ROWS_MAX];
	struct faii_settle_carbon_retirement retirements[CMD_SETTLE_ROWS_MAX + 1];
} rows;

struct carbon_read {
	uint64_t from;
	struct faii_settle_carbon_filter filter;
	struct faii_settle_carbon_cursor cursor;
	uint32_t count, total;
	uint64_t oldest_seq;
};

static void read_balances(void *ctx, const struct faii_settle_state *state)
{
	struct carbon_read *r = ctx;
	(void)faii_settle_carbon_list_balances(faii_settle_state_carbon(state), (uint32_t)r->from,
	                                       rows.balances, CMD_SETTLE_ROWS_MAX, &r->count,
	                                       &r->total);
}

static json_t *page(json_t *list, bool more, json_t *next, uint32_t total)
{
	return json_pack("{s:o, s:I, s:b, s:o}", "rows", list, "total", (json_int_t)total,
	                 "truncated", more, "next", more ? next : json_null());
}

json_t *cmd_carbon_balances(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"from", NULL};
	struct carbon_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !cmd_arg_uint_opt(args, "from", UINT32_MAX, &r.from, err))
		return NULL;
	faii_settlement_read(c->settlement, read_balances, &r);
	json_t *list = json_array();
	for (uint32_t k = 0; k < r.count; k++) {
		const struct faii_settle_carbon_balance *b = &rows.balances[k];
		json_array_append_new(
		        list,
		        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "operator",
		                  (json_int_t)b->operator_id, "certificates",
		                  (json_int_t)b->certificates, "tradable_wh",
		                  (json_int_t)b->tradable_wh, "retired_wh",
		                  (json_int_t)b->retired_wh, "expired_wh",
		                  (json_int_t)b->expired_wh, "minted_wh", (json_int_t)b->minted_wh,
		                  "transferred_in_wh", (json_int_t)b->transferred_in_wh,
		                  "transferred_out_wh", (json_int_t)b->transferred_out_wh,
		                  "last_nonce", (json_int_t)b->last_nonce));
	}
	bool more = r.total > r.count;
	json_t *next =
	        more ? json_integer((json_int_t)rows.balances[r.count - 1].operator_id + 1) : NULL;
	return page(list, more, next, r.total);
}

/* --operator, --meter, --node: the filter of certificates and retirements. */
static bool parse_filter(json_t *args, struct faii_settle_carbon_filter *f,
                         struct faii_ctl_error *err)
{
	uint64_t owner = 0, node = 0;
	f->by_owner = json_object_get(args, "operator") != NULL;
	f->by_meter = json_object_get(args, "meter") != NULL;
	f->by_node = json_object_get(args, "node") != NULL;
	if (!cmd_arg_uint_opt(args, "operator", UINT32_MAX, &owner, err) ||
	    !cmd_arg_uint_opt(args, "meter", INT64_MAX, &f->meter_id, err) ||
	    !cmd_arg_uint_opt(args, "node", UINT32_MAX, &node, err))
		return false;
	f->owner = (uint32_t)owner;
	f->node_id = (uint32_t)node;
	return true;
}

static void read_certificates(void *ctx, const struct faii_settle_state *state)
{
	struct carbon_read *r = ctx;
	(void)faii_settle_carbon_list_certificates(faii_settle_state_carbon(state), &r->filter,
	                                           &r->cursor, rows.certificates,
	                                           CMD_SETTLE_ROWS_MAX, &r->count, &r->total);
}

static json_t *certificate_json(const struct faii_settle_carbon_certificate *x)
{
	char location[FAII_SETTLE_METER_LOCATION + 1] = {0};
	memcpy(location, x->location, FAII_SETTLE_METER_LOCATION);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "meter",
	                 (json_int_t)x->meter_id, "interval_start_s",
	                 (json_int_t)x->interval_start_s, "interval_s", (json_int_t)x->interval_s,
	                 "serial_first", (json_int_t)x->serial_first, "wh", (json_int_t)x->wh,
	                 "wh_retired", (json_int_t)x->wh_retired, "owner", (json_int_t)x->owner,
	                 "node", (json_int_t)x->node_id, "minted_epoch",
	                 (json_int_t)x->minted_epoch, "location", location);
}

json_t *cmd_carbon_certificates(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"operator",      "meter",       "node", "from_meter",
	                                    "from_interval", "from_serial", NULL};
	struct carbon_read r = {0};
	struct faii_settle_carbon_cursor *from = &r.cursor;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !parse_filter(args, &r.filter, err) ||
	    !cmd_arg_uint_opt(args, "from_meter", INT64_MAX, &from->meter_id, err) ||
	    !cmd_arg_uint_opt(args, "from_interval", INT64_MAX, &from->interval_start_s, err) ||
	    !cmd_arg_uint_opt(args, "from_serial", INT64_MAX, &from->serial_first, err))
		return NULL;
	faii_settlement_read(c->settlement, read_certificates, &r);
	json_t *list = json_array();
	for (uint32_t k = 0; k < r.count; k++)
		json_array_append_new(list, certificate_json(&rows.certificates[k]));
	bool more = r.total > r.count;
	const struct faii_settle_carbon_certificate *last = &rows.certificates[r.count - !!r.count];
	/* One past the last key: the next serial of the same interval. */
	json_t *next = more ? json_pack("{s:I, s:I, s:I}", "from_meter", (json_int_t)last->meter_id,
	                                "from_interval", (json_int_t)last->interval_start_s,
	                                "from_serial", (json_int_t)last->serial_first + 1)
	                    : NULL;
	return page(list, more, next, r.total);
}

static void read_retirements(void *ctx, const struct faii_settle_state *state)
{
	struct carbon_read *r = ctx;
	(void)faii_settle_carbon_list_retirements(
	        faii_settle_state_carbon(state), r->from, &r->filter, rows.retirements,
	        CMD_SETTLE_ROWS_MAX + 1, &r->count, &r->oldest_seq);
}

json_t *cmd_carbon_retirements(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {"operator", "meter", "node", "from", NULL};
	struct carbon_read r = {0};
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err) ||
	    !parse_filter(args, &r.filter, err) ||
	    !cmd_arg_uint_opt(args, "from", INT64_MAX, &r.from, err))
		return NULL;
	faii_settlement_read(c->settlement, read_retirements, &r);
	bool more = r.count > CMD_SETTLE_ROWS_MAX;
	uint32_t shown = more ? CMD_SETTLE_ROWS_MAX : r.count;
	json_t *list = json_array();
	for (uint32_t k = 0; k < shown; k++) {
		const struct faii_settle_carbon_retirement *x = &rows.retirements[k];
		json_array_append_new(
		        list,
		        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "seq",
		                  (json_int_t)x->seq, "epoch", (json_int_t)x->epoch, "operator",
		                  (json_int_t)x->operator_id, "node", (json_int_t)x->node_id,
		                  "meter", (json_int_t)x->meter_id, "interval_start_s",
		                  (json_int_t)x->interval_start_s, "serial_first",
		                  (json_int_t)x->serial_first, "wh", (json_int_t)x->wh));
	}
	json_t *result =
	        page(list, more,
	             more ? json_integer((json_int_t)rows.retirements[shown].seq) : NULL, shown);
	/* Records before oldest_seq were overwritten (the log is a ring). */
	json_object_del(result, "total");
	cmd_set_u64(result, "oldest_seq", r.oldest_seq);
	return result;
}

static void read_totals(void *ctx, const struct faii_settle_state *state)
{
	faii_settle_carbon_totals(faii_settle_state_carbon(state), ctx);
}

json_t *cmd_carbon_totals(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	struct faii_settle_carbon_totals t;
	if (!cmd_args_known(args, known, err) || !cmd_settlement_running(c, err))
		return NULL;
	faii_settlement_read(c->settlement, read_totals, &t);
	json_t *r = json_object();
	cmd_set_u64(r, "minted_wh", t.minted_wh);
	cmd_set_u64(r, "tradable_wh", t.tradable_wh);
	cmd_set_u64(r, "retired_wh", t.retired_wh);
	cmd_set_u64(r, "expired_wh", t.expired_wh);
	cmd_set_u64(r, "energy_mwh", t.energy_mwh);
	cmd_set_u64(r, "certificates", t.certificates);
	cmd_set_u64(r, "readings", t.readings);
	cmd_set_u64(r, "owners", t.owners);
	cmd_set_u64(r, "nodes", t.nodes);
	cmd_set_u64(r, "evidence", t.evidence);
	cmd_set_u64(r, "evidence_dropped", t.evidence_dropped);
	cmd_set_u64(r, "retirements_overwritten", t.retirements_overwritten);
	cmd_set_u64(r, "prune_horizon_s", t.prune_horizon_s);
	return r;
}
