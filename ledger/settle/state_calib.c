/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Calibration's observations kept by the state machine (FAII 4.4;
 * include/faii/settle_state.h and docs/settlement.md, "Calibration"): per
 * settled epoch and tier, the fleet's totals faii_settle_calibrate_estimate
 * takes, from the work summaries and the carbon registry's metered energy,
 * in a ring of the last FAII_SETTLE_CALIB_EPOCHS_MAX epochs. Integers only:
 * validators agree on the ring (it is in the state's digest).
 */
#include <errno.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_gov.h"
#include "faii/settle_state.h"
#include "state_private.h"

/* One kept epoch, encoded for the digest: epoch, unattributed energy and
 * six counters per tier, each u64 little-endian. */
#define CALIB_TIER_FIELDS 6u
#define CALIB_EPOCH_BYTES (8u * (2u + CALIB_TIER_FIELDS * FAII_SETTLE_TIERS))

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void tier_add(struct faii_settle_calib_tier *sum, const struct faii_settle_calib_tier *add)
{
	sum->verified_work = add_sat(sum->verified_work, add->verified_work);
	sum->answered = add_sat(sum->answered, add->answered);
	sum->slo_hits = add_sat(sum->slo_hits, add->slo_hits);
	sum->energy_wh = add_sat(sum->energy_wh, add->energy_wh);
	sum->busy_us = add_sat(sum->busy_us, add->busy_us);
	sum->queue_ppb_sum = add_sat(sum->queue_ppb_sum, add->queue_ppb_sum);
}

/* floor(energy x busy_t / busy), in 64 bits when everything fits. */
static uint64_t energy_share(uint64_t energy_wh, uint64_t busy_t, unsigned __int128 busy)
{
	uint64_t product;
	if (busy <= UINT64_MAX && !__builtin_mul_overflow(energy_wh, busy_t, &product))
		return product / (uint64_t)busy;
	return (uint64_t)((unsigned __int128)energy_wh * busy_t / busy);
}

/*
 * A node's metered energy shared out to the tiers by its busy time:
 * floor(energy x busy_t / busy) each; what is left (no busy time at all,
 * or the rounding, less than one Wh per tier) is unattributed.
 */
static void apportion_energy(const struct node_slot *slot, uint64_t energy_wh,
                             struct faii_settle_calib_epoch *out)
{
	unsigned __int128 busy = 0;
	uint32_t busy_tiers = 0;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		busy_tiers += slot->busy_us[t] > 0;
		busy += slot->busy_us[t];
	}
	uint64_t given = 0;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS && busy > 0; t++) {
		if (slot->busy_us[t] == 0)
			continue;
		uint64_t share = busy_tiers == 1 ? energy_wh /* most nodes serve one tier */
		                                 : energy_share(energy_wh, slot->busy_us[t], busy);
		out->tier[t].energy_wh = add_sat(out->tier[t].energy_wh, share);
		given += share;
	}
	FAII_ASSERT(given <= energy_wh);
	out->energy_unattributed_wh = add_sat(out->energy_unattributed_wh, energy_wh - given);
}

/* A node's work of the epoch into the fleet's totals. */
static void add_node_work(const struct node_slot *slot, struct faii_settle_calib_epoch *out)
{
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		if (slot->answered[t] == 0 && slot->verified[t] == 0 && slot->busy_us[t] == 0)
			continue; /* most nodes serve one tier */
		struct faii_settle_calib_tier *o = &out->tier[t];
		uint64_t hits = slot->slo_hits[t] < slot->answered[t] ? slot->slo_hits[t]
		                                                      : slot->answered[t];
		o->verified_work = add_sat(o->verified_work, slot->verified[t]);
		o->answered = add_sat(o->answered, slot->answered[t]);
		o->slo_hits = add_sat(o->slo_hits, hits);
		o->busy_us = add_sat(o->busy_us, slot->busy_us[t]);
	}
}

void settle_calib_record(struct faii_settle_state *s, const struct faii_settle_params *params)
{
	struct settle_calib_ring *ring = &s->calib;
	struct faii_settle_calib_epoch *out =
	        &ring->epoch[ring->recorded % FAII_SETTLE_CALIB_EPOCHS_MAX];
	memset(out, 0, sizeof(*out));
	out->epoch = s->stats.current_epoch;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
		out->tier[t].queue_ppb_sum = params->queue_ppb[t];
	/* s->inputs[i] is the node of s->order[i] (its energy_wh the carbon
	 * registry's e_ij of this epoch). */
	for (uint32_t i = 0; i < s->nodes; i++) {
		const struct node_slot *slot = &s->slots[s->order[i]];
		FAII_ASSERT(s->inputs[i].node_id == slot->node_id);
		add_node_work(slot, out);
		if (s->inputs[i].energy_wh > 0)
			apportion_energy(slot, s->inputs[i].energy_wh, out);
	}
	ring->recorded++;
}

uint32_t faii_settle_state_calib_kept(const struct faii_settle_state *s)
{
	uint64_t recorded = s->calib.recorded;
	return recorded < FAII_SETTLE_CALIB_EPOCHS_MAX ? (uint32_t)recorded
	                                               : FAII_SETTLE_CALIB_EPOCHS_MAX;
}

/* The k-th newest kept epoch, k < faii_settle_state_calib_kept(). */
static const struct faii_settle_calib_epoch *newest(const struct faii_settle_state *s, uint32_t k)
{
	FAII_ASSERT(k < faii_settle_state_calib_kept(s));
	return &s->calib.epoch[(s->calib.recorded - 1 - k) % FAII_SETTLE_CALIB_EPOCHS_MAX];
}

int faii_settle_state_calib_epoch(const struct faii_settle_state *s, uint32_t k,
                                  struct faii_settle_calib_epoch *out)
{
	if (k >= faii_settle_state_calib_kept(s))
		return -ENOENT;
	*out = *newest(s, k);
	return 0;
}

int faii_settle_state_calib_window(const struct faii_settle_state *s, uint32_t epochs,
                                   struct faii_settle_calib_input *out)
{
	memset(out, 0, sizeof(*out));
	if (epochs == 0 || epochs > FAII_SETTLE_CALIB_EPOCHS_MAX)
		return -EINVAL;
	uint32_t kept = faii_settle_state_calib_kept(s);
	if (kept == 0)
		return -ENODATA;
	out->epochs = epochs < kept ? epochs : kept;
	for (uint32_t k = 0; k < out->epochs; k++) {
		const struct faii_settle_calib_epoch *e = newest(s, k);
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++)
			tier_add(&out->tier[t], &e->tier[t]);
	}
	return 0;
}

static void encode_epoch(const struct faii_settle_calib_epoch *e, uint8_t out[CALIB_EPOCH_BYTES])
{
	faii_put_le64(out, e->epoch);
	faii_put_le64(out + 8, e->energy_unattributed_wh);
	uint8_t *at = out + 16;
	for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
		const struct faii_settle_calib_tier *o = &e->tier[t];
		const uint64_t fields[CALIB_TIER_FIELDS] = {o->verified_work, o->answered,
		                                            o->slo_hits,      o->energy_wh,
		                                            o->busy_us,       o->queue_ppb_sum};
		for (uint32_t f = 0; f < CALIB_TIER_FIELDS; f++, at += 8)
			faii_put_le64(at, fields[f]);
	}
	FAII_ASSERT(at == out + CALIB_EPOCH_BYTES);
}

void settle_calib_hash(crypto_generichash_state *h, const struct faii_settle_state *s)
{
	uint8_t bytes[CALIB_EPOCH_BYTES];
	faii_put_le64(bytes, s->calib.recorded);
	crypto_generichash_update(h, bytes, 8);
	/* Newest first: the same order on every validator. */
	for (uint32_t k = 0; k < faii_settle_state_calib_kept(s); k++) {
		encode_epoch(newest(s, k), bytes);
		crypto_generichash_update(h, bytes, sizeof(bytes));
	}
}
