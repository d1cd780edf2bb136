/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for carbon certificates (ledger/settle/carbon*.c): the
 * input is a sequence of operations on one registry with small tables —
 * METER_READING and CARBON_TRANSFER bytes through the decoders and into
 * apply, retirements, pruning — with consortium time moving forward. After
 * each operation the Wh must be conserved per owner and in total
 * (faii_settle_carbon_totals asserts the total; listings assert their
 * order), and no Wh may be retired beyond the node's energy.
 *
 * Each operation starts with one byte: its low two bits choose the kind,
 * bit 2 moves a reading's interval near consortium time (so that random
 * bytes reach minting rather than only `future`), the high bits advance
 * time by that many minutes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_carbon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define T0_S        1800000000ull
#define OPERATORS   4u
#define BALANCES    8u
#define STATE_BYTES (1u << 20)

static const struct faii_settle_carbon_limits fuzz_limits = {
        .certificates_max = 32,
        .readings_max = 32,
        .owners_max = OPERATORS,
        .nodes_max = 4,
        .evidence_max = 4,
        .retirements_max = FAII_SETTLE_CARBON_RETIRE_LOTS_MAX,
};

static _Alignas(8) uint8_t state_mem[STATE_BYTES];

static void check_books(const struct faii_settle_carbon *state)
{
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state,
	                          &totals); /* asserts minted = tradable + retired + expired */
	struct faii_settle_carbon_balance rows[BALANCES];
	uint32_t count = 0, total = 0;
	faii_settle_carbon_list_balances(state, 0, rows, BALANCES, &count, &total);
	CHECK(count == total && count <= OPERATORS);
	uint64_t in = 0, out = 0;
	for (uint32_t i = 0; i < count; i++) {
		CHECK(rows[i].minted_wh + rows[i].transferred_in_wh - rows[i].transferred_out_wh ==
		      rows[i].tradable_wh + rows[i].retired_wh + rows[i].expired_wh);
		in += rows[i].transferred_in_wh;
		out += rows[i].transferred_out_wh;
	}
	CHECK(in == out);
}

static void reading_op(struct faii_settle_carbon *state, const uint8_t *tx, bool near,
                       uint64_t now_ms, uint64_t epoch)
{
	struct faii_settle_meter_reading reading;
	enum faii_settle_carbon_reason why;
	uint8_t bytes[FAII_SETTLE_METER_TX_BYTES];
	memcpy(bytes, tx, sizeof(bytes));
	bytes[0] = FAII_SETTLE_TX_METER_READING;
	bytes[1] = FAII_SETTLE_TX_VERSION;
	if (near) { /* an aligned interval starting up to a day before now, read at its end */
		uint32_t interval = faii_get_le32(bytes + 2 + 20);
		uint64_t start = now_ms / 1000 - faii_get_le64(bytes + 2 + 12) % 86400;
		if (interval > 0)
			start -= start % interval;
		faii_put_le64(bytes + 2 + 12, start);
		faii_put_le64(bytes + 2 + 48, start + interval);
	}
	/* Near readings that do not decode go to apply anyway: it checks again. */
	if (faii_settle_meter_decode(bytes, sizeof(bytes), &reading, &why) != 0 && !near)
		return;
	faii_settle_carbon_apply_reading(state, &reading, reading.node_id % OPERATORS, now_ms,
	                                 epoch);
}

static void transfer_op(struct faii_settle_carbon *state, const uint8_t *tx, uint64_t now_ms,
                        uint64_t epoch)
{
	uint8_t bytes[FAII_SETTLE_TRANSFER_TX_BYTES];
	memcpy(bytes, tx, sizeof(bytes));
	bytes[0] = FAII_SETTLE_TX_CARBON_TRANSFER;
	bytes[1] = FAII_SETTLE_TX_VERSION;
	struct faii_settle_carbon_transfer transfer;
	enum faii_settle_carbon_reason why;
	if (faii_settle_transfer_decode(bytes, sizeof(bytes), &transfer, &why) != 0)
		return;
	transfer.from_operator %= OPERATORS;
	transfer.to_operator %= OPERATORS;
	faii_settle_carbon_apply_transfer(state, &transfer, now_ms, epoch);
}

static void retire_op(struct faii_settle_carbon *state, const uint8_t *arg, uint64_t epoch)
{
	uint32_t node = arg[1] % 8; /* some nodes never read a meter */
	uint64_t want = faii_get_le32(arg + 2);
	uint64_t which = arg[6] & 1 ? epoch : epoch - (epoch > 0); /* latest or the one before */
	struct faii_settle_carbon_node_epoch before, after;
	CHECK(faii_settle_carbon_node_epoch(state, node, which, &before) == 0);
	struct faii_settle_carbon_retire_result result;
	CHECK(faii_settle_carbon_retire(state, arg[0] % OPERATORS, node, want, which, &result) ==
	      0);
	CHECK(faii_settle_carbon_node_epoch(state, node, which, &after) == 0);
	CHECK(result.wh_retired <= want && result.wh_retired <= result.wh_uncovered);
	CHECK(after.retired_wh == before.retired_wh + result.wh_retired);
	CHECK(after.retired_wh <= after.energy_wh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faii_settle_carbon *state = NULL;
	size_t bytes = faii_settle_carbon_bytes(&fuzz_limits);
	CHECK(bytes > 0 && bytes <= sizeof(state_mem));
	CHECK(faii_settle_carbon_init(state_mem, sizeof(state_mem), &fuzz_limits, &state) == 0);
	uint64_t now_ms = T0_S * 1000;
	size_t at = 0;
	for (uint32_t ops = 0; ops < 256 && at < size; ops++) {
		uint8_t op = data[at++];
		now_ms += (uint64_t)(op >> 3) * 60000;
		uint64_t epoch = (now_ms / 1000 - T0_S) / 3600; /* an epoch an hour */
		size_t left = size - at;
		switch (op & 3) {
		case 0:
			if (left < FAII_SETTLE_METER_TX_BYTES)
				return 0;
			reading_op(state, data + at, op & 4, now_ms, epoch);
			at += FAII_SETTLE_METER_TX_BYTES;
			break;
		case 1:
			if (left < FAII_SETTLE_TRANSFER_TX_BYTES)
				return 0;
			transfer_op(state, data + at, now_ms, epoch);
			at += FAII_SETTLE_TRANSFER_TX_BYTES;
			break;
		case 2:
			if (left < 7)
				return 0;
			retire_op(state, data + at, epoch);
			at += 7;
			break;
		default: {
			struct faii_settle_carbon_prune_result pruned;
			faii_settle_carbon_prune(state, now_ms, (uint64_t)(op >> 3) * 3600,
			                         &pruned);
			break;
		}
		}
		check_books(state);
	}
	return 0;
}
