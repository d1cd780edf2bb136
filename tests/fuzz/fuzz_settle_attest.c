/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for ESG attestations (ledger/settle/attest_tx.c) on a
 * small carbon registry: the input is a sequence of operations, each one
 * byte and its bytes —
 *   op & 3 == 0: 142 bytes of an ESG_ATTESTATION (kind and version forced)
 *                through decode and verify; with op & 4 its fields are
 *                first made valid near consortium time and the message is
 *                signed with the fleet's key, so that inputs reach minting;
 *   op & 3 == 1: a METER_READING (decoded, applied unsigned) for the same
 *                meters, so that the two kinds meet on one (meter,
 *                interval);
 *   op & 3 == 2: a retirement; 3: pruning;
 *   op >> 3: minutes consortium time moves forward.
 * Checked after each: what decodes re-encodes to the same bytes; a signed
 * attestation verifies and a changed byte of it does not; nothing that
 * fails to decode or verify mints; the Wh stay conserved.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_attest.h"
#include "faii/settle_carbon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define T0_S        1800000000ull
#define OPERATORS   4u
#define NODES       4u
#define METERS      8u
#define STATE_BYTES (1u << 20)

static const struct faii_settle_carbon_limits fuzz_limits = {
        .certificates_max = 32,
        .readings_max = 32,
        .owners_max = OPERATORS,
        .nodes_max = NODES,
        .evidence_max = 4,
        .retirements_max = FAII_SETTLE_CARBON_RETIRE_LOTS_MAX,
};
/* Intervals that divide the hour. */
static const uint32_t intervals[8] = {1, 60, 300, 600, 900, 1200, 1800, 3600};

static _Alignas(8) uint8_t state_mem[STATE_BYTES];
static uint8_t public_key[32], secret_key[64];

static uint64_t get_be(const uint8_t *at, unsigned bytes)
{
	uint64_t value = 0;
	for (unsigned i = 0; i < bytes; i++)
		value = value << 8 | at[i];
	return value;
}

/* Valid fields from arbitrary ones, an interval ended by now_s. */
static void make_valid(struct faii_settle_attest *a, const uint8_t *m, uint64_t now_s)
{
	memset(a, 0, sizeof(*a));
	a->node_id = 1 + (uint32_t)get_be(m + 8, 4) % NODES;
	a->seq = (uint32_t)get_be(m + 12, 4);
	a->meter_id = 1 + get_be(m + 24, 8) % METERS;
	a->interval_s = intervals[m[40] % 8];
	uint64_t start = now_s - get_be(m + 32, 8) % 86400;
	a->interval_start_s = start - start % a->interval_s - a->interval_s;
	a->timestamp_ns = (a->interval_start_s + a->interval_s + m[16] % 8) * 1000000000ull;
	/* At most the registry's 100 MW over the interval. */
	uint64_t most = FAII_SETTLE_METER_POWER_W_MAX * a->interval_s / 3600u;
	a->energy_wh = (uint32_t)(get_be(m + 44, 4) % (most + 1));
	a->pue_milli = 1000 + (uint32_t)get_be(m + 48, 4) % 2000u;
	a->energy_to_work_milli = 1 + (uint32_t)get_be(m + 52, 4) % 1000u;
	a->grid_stress_permille = (uint16_t)(get_be(m + 56, 2) % 1001u);
	uint32_t left = 1000;
	for (unsigned s = 0; s + 1 < FAII_SETTLE_ATTEST_SOURCES; s++) {
		a->source_mix_permille[s] = (uint16_t)(get_be(m + 58 + 2 * s, 2) % (left + 1));
		left -= a->source_mix_permille[s];
	}
	a->source_mix_permille[FAII_SETTLE_ATTEST_SOURCES - 1] = (uint16_t)left;
}

/* One operation's context. */
struct step {
	struct faii_settle_carbon *state;
	uint64_t now_ms, epoch;
	uint8_t op;
};

static void check_books(const struct faii_settle_carbon *state)
{
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state,
	                          &totals); /* asserts minted = tradable + retired + expired */
	CHECK(totals.readings <= fuzz_limits.readings_max);
}

static void attest_op(const struct step *step, const uint8_t *in)
{
	struct faii_settle_carbon *state = step->state;
	uint64_t now_ms = step->now_ms, epoch = step->epoch;
	bool sign = step->op & 4;
	uint8_t tx[FAII_SETTLE_ATTEST_TX_BYTES];
	memcpy(tx, in, sizeof(tx));
	tx[0] = FAII_SETTLE_TX_ESG_ATTESTATION;
	tx[1] = FAII_SETTLE_TX_VERSION;
	struct faii_settle_attest a;
	if (sign) {
		make_valid(&a, tx + 2, now_ms / 1000);
		faii_settle_attest_sign(&a, secret_key);
		uint32_t len = 0;
		CHECK(faii_settle_attest_encode(&a, tx, sizeof(tx), &len) == 0 &&
		      len == sizeof(tx));
	}
	enum faii_settle_attest_reason why = FAII_SETTLE_ATTEST_REASON_END;
	int rc = faii_settle_attest_decode(tx, sizeof(tx), &a, &why);
	CHECK((rc == 0) == (why == FAII_SETTLE_ATTEST_OK));
	CHECK(strcmp(faii_settle_attest_reason_name(why), "unknown") != 0);
	if (sign)
		CHECK(rc == 0);
	if (rc != 0)
		return;
	uint8_t again[FAII_SETTLE_ATTEST_TX_BYTES];
	uint32_t len = 0;
	CHECK(faii_settle_attest_encode(&a, again, sizeof(again), &len) == 0);
	CHECK(len == sizeof(tx) && memcmp(again, tx, len) == 0);
	bool verified = faii_settle_attest_verify(&a, public_key) == 0;
	if (sign) {
		CHECK(verified);
		struct faii_settle_attest changed = a;
		changed.message[8 + in[2] % 68] ^= (uint8_t)(1u << (in[3] % 8));
		CHECK(faii_settle_attest_verify(&changed, public_key) != 0);
	}
	if (!verified)
		return; /* the dispatcher refuses it: nothing mints */
	struct faii_settle_meter_reading reading;
	faii_settle_attest_reading(&a, &reading);
	CHECK(reading.renewable_ppb <= FAII_SETTLE_PPB_ONE);
	uint8_t digest[FAII_SETTLE_DIGEST];
	faii_settle_attest_digest(&a, digest);
	struct faii_settle_carbon_totals before, after;
	faii_settle_carbon_totals(state, &before);
	enum faii_settle_carbon_reason reason = faii_settle_carbon_apply_attested(
	        state, &reading, digest, a.node_id % OPERATORS, now_ms, epoch);
	faii_settle_carbon_totals(state, &after);
	uint64_t renewable = 0;
	CHECK(faii_settle_mul_ppb(a.energy_wh, reading.renewable_ppb, &renewable, NULL) == 0);
	if (reason == FAII_SETTLE_CARBON_OK)
		CHECK(after.minted_wh == before.minted_wh + renewable &&
		      after.energy_mwh == before.energy_mwh + reading.energy_mwh);
	else
		CHECK(after.minted_wh == before.minted_wh && after.readings == before.readings);
}

static void reading_op(const struct step *step, const uint8_t *in)
{
	struct faii_settle_carbon *state = step->state;
	uint64_t now_ms = step->now_ms, epoch = step->epoch;
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
	memcpy(tx, in, sizeof(tx));
	tx[0] = FAII_SETTLE_TX_METER_READING;
	tx[1] = FAII_SETTLE_TX_VERSION;
	uint8_t *body = tx + 2;
	uint32_t interval = intervals[body[20] % 8];
	uint64_t start = now_ms / 1000 - faii_get_le64(body + 12) % 86400;
	faii_put_le32(body + 0, 1 + faii_get_le32(body + 0) % NODES);
	faii_put_le64(body + 4, 1 + faii_get_le64(body + 4) % METERS);
	faii_put_le64(body + 12, start - start % interval - interval);
	faii_put_le32(body + 20, interval);
	faii_put_le64(body + 48, start - start % interval);
	struct faii_settle_meter_reading reading;
	if (faii_settle_meter_decode(tx, sizeof(tx), &reading, NULL) != 0)
		return;
	faii_settle_carbon_apply_reading(state, &reading, reading.node_id % OPERATORS, now_ms,
	                                 epoch);
}

static void retire_op(const struct step *step, const uint8_t *arg)
{
	uint32_t node = arg[1] % (NODES + 2);
	struct faii_settle_carbon_retire_result result;
	CHECK(faii_settle_carbon_retire(step->state, arg[0] % OPERATORS, node,
	                                faii_get_le32(arg + 2), step->epoch, &result) == 0);
	CHECK(result.wh_retired <= result.wh_uncovered);
}

static void prune_op(const struct step *step, const uint8_t *arg)
{
	(void)arg;
	struct faii_settle_carbon_prune_result pruned;
	faii_settle_carbon_prune(step->state, step->now_ms, (uint64_t)(step->op >> 3) * 3600,
	                         &pruned);
}

/* By op & 3: the bytes each operation takes, and what it does. */
static const struct {
	size_t bytes;
	void (*run)(const struct step *step, const uint8_t *in);
} operations[4] = {
        {FAII_SETTLE_ATTEST_TX_BYTES, attest_op},
        {FAII_SETTLE_METER_TX_BYTES, reading_op},
        {6, retire_op},
        {0, prune_op},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool keyed;
	if (!keyed) {
		uint8_t seed[32] = {0xA7};
		CHECK(sodium_init() >= 0);
		crypto_sign_seed_keypair(public_key, secret_key, seed);
		keyed = true;
	}
	struct step step = {.now_ms = T0_S * 1000};
	CHECK(faii_settle_carbon_init(state_mem, sizeof(state_mem), &fuzz_limits, &step.state) ==
	      0);
	size_t at = 0;
	for (uint32_t n = 0; n < 64 && at < size; n++) {
		step.op = data[at++];
		step.now_ms += (uint64_t)(step.op >> 3) * 60000;
		step.epoch = (step.now_ms / 1000 - T0_S) / 3600; /* an epoch an hour */
		size_t bytes = operations[step.op & 3].bytes;
		if (size - at < bytes)
			return 0;
		operations[step.op & 3].run(&step, data + at);
		at += bytes;
		check_books(step.state);
	}
	return 0;
}
