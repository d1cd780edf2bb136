/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's state machine (ledger/settle/state.c) against a Byzantine
 * validator: transactions an appliance may author with arbitrary bytes
 * must neither stop the validators (hang, assertion) nor take what the
 * committed sequence does not give them. Each test failed on the code
 * before its fix (or is disabled, with the fix it needs described).
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "settle_test_params.h"

#define BYZ_EPOCH_MS 10000u
#define BYZ_T0       1000005000ull /* consortium time inside epoch 100000 */

struct byz {
	void *mem;
	struct faii_settle_state *state;
	uint64_t sequence;
};

static void byz_open(struct byz *b, uint32_t nodes_max)
{
	struct faii_settle_config config = {
	        .validators = 4,
	        .nodes_max = nodes_max,
	        .epoch_ms = BYZ_EPOCH_MS,
	        .activation_delay_ms = 2 * BYZ_EPOCH_MS,
	        .params = test_params(),
	};
	size_t bytes = faii_settle_state_bytes(nodes_max);
	memset(b, 0, sizeof(*b));
	b->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(b->mem);
	cr_assert_eq(faii_settle_state_init(b->mem, bytes, &config, &b->state, NULL), 0);
}

static enum faii_settle_outcome byz_apply(struct byz *b, uint32_t author, const uint8_t *tx,
                                          uint32_t len)
{
	struct faii_settle_origin origin = {.sequence = ++b->sequence, .author = author};
	return faii_settle_apply(b->state, &origin, tx, len);
}

/* An empty work summary part of `slice`, ending at end_ms. */
static enum faii_settle_outcome byz_slice(struct byz *b, uint32_t author, uint64_t slice,
                                          uint64_t end_ms)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = end_ms, .part = 0, .parts = 1};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* A liar's slice number at the top of u64 used to spin every validator
 * forever (the loop opening the window's rows counted past UINT64_MAX);
 * the same number below another author's window wrapped the staleness
 * check. Now the slice is taken once, the next refused, and the honest
 * authors are not affected. */
Test(settle_byzantine, a_slice_number_at_the_top_of_u64_neither_hangs_nor_wraps, .timeout = 10)
{
	struct byz b;
	byz_open(&b, 4);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX - 63, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 3, UINT64_MAX - 64, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 3, 5, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	/* Another author whose latest is small: a slice near the top is new. */
	cr_assert_eq(byz_slice(&b, 2, 10, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 2, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 2, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_REFUSED_STALE_SUMMARY);
	cr_assert_eq(byz_slice(&b, 1, 100, BYZ_T0), FAII_SETTLE_APPLIED);
	cr_assert_eq(byz_slice(&b, 1, UINT64_MAX - 10, BYZ_T0), FAII_SETTLE_APPLIED); /* wrapped */
	cr_assert_eq(byz_slice(&b, 0, 1, BYZ_T0), FAII_SETTLE_APPLIED);
	free(b.mem);
}

/* A slice with one queue report q_1 from `author`. */
static enum faii_settle_outcome byz_queue(struct byz *b, uint32_t author, uint64_t slice,
                                          uint64_t end_ms, uint32_t q1_ppb)
{
	struct faii_settle_work_header header = {
	        .slice = slice, .slice_end_ms = end_ms, .parts = 1, .queue_ppb = {0, q1_ppb, 0, 0}};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, NULL, tx, sizeof(tx), &len), 0);
	return byz_apply(b, author, tx, len);
}

/* The epoch's q_t of (32) sets theta_t for every node. The honest three
 * report q_1 = 0.2 once a slice; the liar (validator 3) sends 40 slices in
 * the same epoch, each reporting q_1 = 4.0. A mean over reports let the
 * liar's many slices set q_1 ~ 3.6 (theta_1 = 2 (1 + 0.5 q) = 5.6 instead
 * of 2.2: every node's tier-1 work paid 2.5 times over). Now each
 * appliance's reports are averaged first and the epoch takes the median of
 * the appliances: the liar moves it at most within the honest ones. */
Test(settle_byzantine, one_appliance_flooding_slices_does_not_set_the_epochs_queue, .timeout = 10)
{
	struct byz b;
	byz_open(&b, 4);
	for (uint32_t v = 0; v < 3; v++)
		cr_assert_eq(byz_queue(&b, v, 1, BYZ_T0, 200000000u), FAII_SETTLE_APPLIED);
	for (uint64_t slice = 1; slice <= 40; slice++)
		cr_assert_eq(byz_queue(&b, 3, slice, BYZ_T0, FAII_SETTLE_QUEUE_PPB_MAX),
		             FAII_SETTLE_APPLIED);
	for (uint32_t v = 0; v < 3; v++) /* the clock enters the next epoch */
		cr_assert_eq(byz_queue(&b, v, 2, BYZ_T0 + BYZ_EPOCH_MS, 200000000u),
		             FAII_SETTLE_APPLIED);
	const struct faii_settle_epoch_record *record = faii_settle_latest_epoch(b.state);
	cr_assert_not_null(record);
	cr_assert_eq(record->epoch, 100000);
	/* theta_1 = 2 x (1 + 0.5 x 0.2) = 2.2: the honest appliances' q_1. */
	cr_assert_eq(record->totals.theta_ppb[1], 2200000000ull, "theta_1 %lu",
	             (unsigned long)record->totals.theta_ppb[1]);
	free(b.mem);
}
