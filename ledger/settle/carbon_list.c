/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the carbon registry shows: balances, certificates and retirements
 * for `faiictl carbon ...`, each node's energy and retired renewable Wh
 * per epoch for the payouts, and the carbon-adjusted energy deduction
 * (include/faii/settle_carbon.h). Every listing is sorted by its key, so
 * two validators with the same committed sequence list the same bytes
 * whatever their tables' slot order.
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

#include "carbon_state.h"

#define MWH_PER_WH      1000u
#define LIST_ELEM_BYTES 128u /* the largest listed struct, for swaps */

/*
 * The `cap` smallest elements a scan offers, sorted: a max-heap of at most
 * cap elements in the caller's output array (O(n log cap), no memory of
 * its own), then sorted in place.
 */
struct selection {
	uint8_t *out;
	size_t size;
	uint32_t cap, count, total;
	int (*cmp)(const void *a, const void *b);
};

static void *sel_at(const struct selection *s, uint32_t i)
{
	return s->out + (size_t)i * s->size;
}

static void sel_swap(const struct selection *s, uint32_t i, uint32_t j)
{
	uint8_t tmp[LIST_ELEM_BYTES];
	memcpy(tmp, sel_at(s, i), s->size);
	memcpy(sel_at(s, i), sel_at(s, j), s->size);
	memcpy(sel_at(s, j), tmp, s->size);
}

static void sel_sift_down(const struct selection *s, uint32_t i, uint32_t count)
{
	for (;;) {
		uint32_t largest = i, left = 2 * i + 1, right = 2 * i + 2;
		if (left < count && s->cmp(sel_at(s, left), sel_at(s, largest)) > 0)
			largest = left;
		if (right < count && s->cmp(sel_at(s, right), sel_at(s, largest)) > 0)
			largest = right;
		if (largest == i)
			return;
		sel_swap(s, i, largest);
		i = largest;
	}
}

static void sel_offer(struct selection *s, const void *elem)
{
	s->total++;
	if (s->count < s->cap) {
		uint32_t i = s->count++;
		memcpy(sel_at(s, i), elem, s->size);
		while (i > 0 && s->cmp(sel_at(s, (i - 1) / 2), sel_at(s, i)) < 0) {
			sel_swap(s, i, (i - 1) / 2);
			i = (i - 1) / 2;
		}
	} else if (s->cap > 0 && s->cmp(elem, sel_at(s, 0)) < 0) {
		memcpy(sel_at(s, 0), elem, s->size);
		sel_sift_down(s, 0, s->count);
	}
}

static void sel_finish(struct selection *s)
{
	for (uint32_t end = s->count; end > 1; end--) {
		sel_swap(s, 0, end - 1);
		sel_sift_down(s, 0, end - 1);
	}
	for (uint32_t i = 1; i < s->count; i++)
		FAII_ASSERT(s->cmp(sel_at(s, i - 1), sel_at(s, i)) < 0);
}

static void sel_start(struct selection *s, void *out, size_t size, uint32_t cap,
                      int (*cmp)(const void *, const void *))
{
	FAII_ASSERT(size <= LIST_ELEM_BYTES);
	s->out = out;
	s->size = size;
	s->cap = cap;
	s->count = s->total = 0;
	s->cmp = cmp;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* ---- Per-epoch accounting ---- */

void carbon_node_epoch_fill(const struct carbon_node *node, const struct carbon_node_slot *slot,
                            uint64_t epoch, struct faii_settle_carbon_node_epoch *out)
{
	memset(out, 0, sizeof(*out));
	out->node_id = node->node_id;
	out->epoch = epoch;
	if (slot == NULL)
		return;
	out->readings = slot->readings;
	out->energy_wh = slot->energy_mwh / MWH_PER_WH;
	out->renewable_wh = slot->renewable_wh;
	out->retired_wh = slot->retired_wh;
	FAII_ASSERT(out->retired_wh <= out->energy_wh);
	if (out->energy_wh > 0)
		out->renewable_ppb = (uint64_t)((unsigned __int128)out->retired_wh *
		                                FAII_SETTLE_PPB_ONE / out->energy_wh);
}

int faii_settle_carbon_node_epoch(const struct faii_settle_carbon *state, uint32_t node_id,
                                  uint64_t epoch, struct faii_settle_carbon_node_epoch *out)
{
	if (!carbon_epoch_kept(state, epoch))
		return -ERANGE;
	uint32_t node = carbon_node_find(state, node_id);
	if (node == CARBON_NONE) {
		memset(out, 0, sizeof(*out));
		out->node_id = node_id;
		out->epoch = epoch;
		return 0;
	}
	carbon_node_epoch_fill(&state->nodes[node],
	                       carbon_node_slot_find(&state->nodes[node], epoch), epoch, out);
	return 0;
}

static int cmp_node_epoch(const void *a, const void *b)
{
	const struct faii_settle_carbon_node_epoch *x = a, *y = b;
	return cmp_u64(x->node_id, y->node_id);
}

int faii_settle_carbon_epoch_nodes(const struct faii_settle_carbon *state, uint64_t epoch,
                                   uint32_t from_node, struct faii_settle_carbon_node_epoch *out,
                                   uint32_t cap, uint32_t *count, uint32_t *total)
{
	if (!carbon_epoch_kept(state, epoch))
		return -ERANGE;
	struct selection s;
	sel_start(&s, out, sizeof(*out), cap, cmp_node_epoch);
	for (uint32_t i = 0; i < state->nodes_used; i++) {
		const struct carbon_node *node = &state->nodes[i];
		const struct carbon_node_slot *slot = carbon_node_slot_find(node, epoch);
		if (slot == NULL || node->node_id < from_node)
			continue;
		struct faii_settle_carbon_node_epoch row;
		carbon_node_epoch_fill(node, slot, epoch, &row);
		sel_offer(&s, &row);
	}
	sel_finish(&s);
	*count = s.count;
	*total = s.total;
	return 0;
}

int faii_settle_carbon_energy_charge(uint64_t energy_wh, uint64_t retired_wh, uint64_t kappa_e,
                                     uint64_t kappa_e_green, uint64_t *charge)
{
	if (kappa_e_green > kappa_e)
		return -EINVAL;
	uint64_t green_wh = retired_wh < energy_wh ? retired_wh : energy_wh;
	uint64_t grey, green;
	if (__builtin_mul_overflow(energy_wh - green_wh, kappa_e, &grey) ||
	    __builtin_mul_overflow(green_wh, kappa_e_green, &green) ||
	    __builtin_add_overflow(grey, green, charge))
		return -EOVERFLOW;
	/* Certified Wh never cost more than uncertified ones. */
	FAII_ASSERT(*charge <= (unsigned __int128)energy_wh * kappa_e);
	return 0;
}

/* ---- Listings ---- */

static int cmp_balance(const void *a, const void *b)
{
	const struct faii_settle_carbon_balance *x = a, *y = b;
	return cmp_u64(x->operator_id, y->operator_id);
}

int faii_settle_carbon_list_balances(const struct faii_settle_carbon *state, uint32_t from_operator,
                                     struct faii_settle_carbon_balance *out, uint32_t cap,
                                     uint32_t *count, uint32_t *total)
{
	struct selection s;
	sel_start(&s, out, sizeof(*out), cap, cmp_balance);
	for (uint32_t i = 0; i < state->owners_used; i++) {
		const struct carbon_account *a = &state->accounts[i];
		if (a->operator_id < from_operator)
			continue;
		struct faii_settle_carbon_balance row;
		memset(&row, 0, sizeof(row));
		row.operator_id = a->operator_id;
		row.certificates = a->listed;
		row.tradable_wh = a->tradable_wh;
		row.retired_wh = a->retired_wh;
		row.expired_wh = a->expired_wh;
		row.minted_wh = a->minted_wh;
		row.transferred_in_wh = a->transferred_in_wh;
		row.transferred_out_wh = a->transferred_out_wh;
		row.last_nonce = a->last_nonce;
		sel_offer(&s, &row);
	}
	sel_finish(&s);
	*count = s.count;
	*total = s.total;
	return 0;
}

static bool filter_passes(const struct faii_settle_carbon_filter *filter, uint64_t meter_id,
                          uint32_t owner, uint32_t node_id)
{
	return (!filter->by_meter || meter_id == filter->meter_id) &&
	       (!filter->by_owner || owner == filter->owner) &&
	       (!filter->by_node || node_id == filter->node_id);
}

static int cmp_certificate(const void *a, const void *b)
{
	const struct faii_settle_carbon_certificate *x = a, *y = b;
	int c = cmp_u64(x->meter_id, y->meter_id);
	if (c == 0)
		c = cmp_u64(x->interval_start_s, y->interval_start_s);
	return c != 0 ? c : cmp_u64(x->serial_first, y->serial_first);
}

static void certificate_fill(const struct faii_settle_carbon *state, const struct carbon_lot *l,
                             struct faii_settle_carbon_certificate *row)
{
	const struct carbon_reading *r = &state->readings[l->reading];
	memset(row, 0, sizeof(*row));
	row->meter_id = l->meter_id;
	row->interval_start_s = l->interval_start_s;
	row->serial_first = l->serial_first;
	row->wh = l->wh;
	row->wh_retired = l->wh_retired;
	row->minted_epoch = r->epoch;
	row->interval_s = r->interval_s;
	row->owner = state->accounts[l->owner].operator_id;
	row->node_id = r->node_id;
	memcpy(row->location, r->location, FAII_SETTLE_METER_LOCATION);
}

int faii_settle_carbon_list_certificates(const struct faii_settle_carbon *state,
                                         const struct faii_settle_carbon_filter *filter,
                                         const struct faii_settle_carbon_cursor *from,
                                         struct faii_settle_carbon_certificate *out, uint32_t cap,
                                         uint32_t *count, uint32_t *total)
{
	struct faii_settle_carbon_certificate start;
	memset(&start, 0, sizeof(start));
	start.meter_id = from->meter_id;
	start.interval_start_s = from->interval_start_s;
	start.serial_first = from->serial_first;
	struct selection s;
	sel_start(&s, out, sizeof(*out), cap, cmp_certificate);
	for (uint32_t i = 0; i < state->limits.certificates_max; i++) {
		const struct carbon_lot *l = &state->lots[i];
		if (!l->in_use)
			continue;
		struct faii_settle_carbon_certificate row;
		certificate_fill(state, l, &row);
		if (filter_passes(filter, row.meter_id, row.owner, row.node_id) &&
		    cmp_certificate(&row, &start) >= 0)
			sel_offer(&s, &row);
	}
	sel_finish(&s);
	*count = s.count;
	*total = s.total;
	return 0;
}

int faii_settle_carbon_list_retirements(const struct faii_settle_carbon *state, uint64_t from_seq,
                                        const struct faii_settle_carbon_filter *filter,
                                        struct faii_settle_carbon_retirement *out, uint32_t cap,
                                        uint32_t *count, uint64_t *oldest_seq)
{
	uint64_t kept = state->limits.retirements_max;
	uint64_t oldest = state->retire_next_seq > kept ? state->retire_next_seq - kept : 0;
	*oldest_seq = oldest;
	*count = 0;
	for (uint64_t seq = from_seq > oldest ? from_seq : oldest;
	     seq < state->retire_next_seq && *count < cap; seq++) {
		const struct faii_settle_carbon_retirement *r = &state->retirements[seq % kept];
		FAII_ASSERT(r->seq == seq);
		if (filter_passes(filter, r->meter_id, r->operator_id, r->node_id))
			out[(*count)++] = *r;
	}
	return 0;
}

void faii_settle_carbon_totals(const struct faii_settle_carbon *state,
                               struct faii_settle_carbon_totals *totals)
{
	memset(totals, 0, sizeof(*totals));
	totals->minted_wh = state->minted_wh;
	totals->retired_wh = state->retired_wh;
	totals->expired_wh = state->expired_wh;
	totals->energy_mwh = state->energy_mwh;
	for (uint32_t i = 0; i < state->owners_used; i++)
		totals->tradable_wh += state->accounts[i].tradable_wh;
	totals->certificates = state->lots_used;
	totals->readings = state->readings_used;
	totals->owners = state->owners_used;
	totals->nodes = state->nodes_used;
	totals->evidence = state->evidence_count;
	totals->evidence_dropped = state->evidence_dropped;
	totals->retirements_overwritten = state->retirements_overwritten;
	totals->prune_horizon_s = state->prune_horizon_s;
	/* Conservation: every minted Wh is tradable, retired or expired. */
	FAII_ASSERT(totals->minted_wh ==
	            totals->tradable_wh + totals->retired_wh + totals->expired_wh);
}
