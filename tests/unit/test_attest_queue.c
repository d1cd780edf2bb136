/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Accepted ATTEST messages on their way to the ledger
 * (appliance/attest_queue.c): nothing is queued without a validator;
 * messages come out oldest first, byte for byte; a full ring drops the new
 * message and counts it, and takes messages again once drained.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "attest_queue.h"

static void message(uint8_t msg[FAII_ATTEST_MSG_BYTES], uint32_t n)
{
	for (uint32_t i = 0; i < FAII_ATTEST_MSG_BYTES; i++)
		msg[i] = (uint8_t)(n * 31u + i);
}

Test(attest_queue, nothing_is_queued_without_a_validator)
{
	struct faii_attest_queue q;
	cr_assert_eq(faii_attest_queue_init(&q), 0);
	uint8_t msg[FAII_ATTEST_MSG_BYTES];
	message(msg, 1);
	cr_assert(!faii_attest_queue_push(&q, msg, sizeof(msg)));
	cr_assert_null(faii_attest_queue_peek(&q));
	cr_assert_eq(q.counters.queued, 0);
	cr_assert_eq(q.counters.dropped_full, 0);
	faii_attest_queue_fini(&q);
}

Test(attest_queue, oldest_first_byte_for_byte_and_a_full_ring_drops_the_new_one)
{
	struct faii_attest_queue q;
	cr_assert_eq(faii_attest_queue_init(&q), 0);
	q.enabled = true;
	uint8_t msg[FAII_ATTEST_MSG_BYTES];
	for (uint32_t n = 0; n < FAII_ATTEST_QUEUE_MAX; n++) {
		message(msg, n);
		cr_assert(faii_attest_queue_push(&q, msg, sizeof(msg)));
	}
	message(msg, FAII_ATTEST_QUEUE_MAX);
	cr_assert(!faii_attest_queue_push(&q, msg, sizeof(msg)));
	cr_assert_eq(q.counters.queued, FAII_ATTEST_QUEUE_MAX);
	cr_assert_eq(q.counters.dropped_full, 1);
	/* Half out, half in again across the ring's end: still in order. */
	for (uint32_t n = 0; n < FAII_ATTEST_QUEUE_MAX / 2; n++) {
		message(msg, n);
		cr_assert_arr_eq(faii_attest_queue_peek(&q), msg, sizeof(msg), "message %u", n);
		faii_attest_queue_pop(&q);
	}
	for (uint32_t n = 0; n < FAII_ATTEST_QUEUE_MAX / 2; n++) {
		message(msg, FAII_ATTEST_QUEUE_MAX + 1 + n);
		cr_assert(faii_attest_queue_push(&q, msg, sizeof(msg)));
	}
	for (uint32_t n = FAII_ATTEST_QUEUE_MAX / 2; n < FAII_ATTEST_QUEUE_MAX; n++) {
		message(msg, n);
		cr_assert_arr_eq(faii_attest_queue_peek(&q), msg, sizeof(msg), "message %u", n);
		faii_attest_queue_pop(&q);
	}
	for (uint32_t n = 0; n < FAII_ATTEST_QUEUE_MAX / 2; n++) {
		message(msg, FAII_ATTEST_QUEUE_MAX + 1 + n);
		cr_assert_arr_eq(faii_attest_queue_peek(&q), msg, sizeof(msg));
		faii_attest_queue_pop(&q);
	}
	cr_assert_null(faii_attest_queue_peek(&q));
	faii_attest_queue_fini(&q);
}
