/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Carbon certificates (ledger/settle/carbon*.c): the bytes and signature
 * of METER_READING and CARBON_TRANSFER against an independent encoder
 * (Python's struct, hashlib and the cryptography package's Ed25519),
 * minting with its rounding, double mints and overlaps refused and kept as
 * evidence, transfers and retirements that never overdraw nor retire a Wh
 * twice, bounded tables that refuse and count, pruning that keeps them in
 * a steady state, sorted listings identical across states, and the
 * conservation of Wh over a long random sequence.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/settle.h"
#include "faii/settle_carbon.h"

#define T0_S      1800000000ull /* 2027-01-15 08:00:00 UTC, an hour boundary */
#define HOUR_S    3600u
#define NOW_MS(s) ((s)*1000ull)
#define OK        FAII_SETTLE_CARBON_OK

static const struct faii_settle_carbon_limits small_limits = {
        .certificates_max = 64,
        .readings_max = 64,
        .owners_max = 8,
        .nodes_max = 8,
        .evidence_max = 4,
        .retirements_max = FAII_SETTLE_CARBON_RETIRE_LOTS_MAX,
};

static struct faii_settle_carbon *state_new(const struct faii_settle_carbon_limits *limits)
{
	size_t bytes = faii_settle_carbon_bytes(limits);
	cr_assert_gt(bytes, 0);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(mem);
	struct faii_settle_carbon *state = NULL;
	cr_assert_eq(faii_settle_carbon_init(mem, bytes, limits, &state), 0);
	cr_assert_eq((void *)state, mem);
	return state;
}

static struct faii_settle_meter_reading reading_at(uint32_t node, uint64_t meter, uint64_t start_s,
                                                   uint32_t interval_s, uint64_t mwh, uint64_t ppb)
{
	struct faii_settle_meter_reading r;
	memset(&r, 0, sizeof(r));
	r.node_id = node;
	r.meter_id = meter;
	r.interval_start_s = start_s;
	r.interval_s = interval_s;
	r.energy_mwh = mwh;
	r.renewable_ppb = ppb;
	memcpy(r.location, "DE-BY", 5);
	r.read_at_s = start_s + interval_s;
	return r;
}

/* A reading applied at consortium time one hour after T0 + start. */
static enum faii_settle_carbon_reason mint(struct faii_settle_carbon *state, uint32_t node,
                                           uint32_t operator_id, uint64_t meter, uint64_t start_s,
                                           uint64_t wh, uint64_t epoch)
{
	struct faii_settle_meter_reading r =
	        reading_at(node, meter, start_s, HOUR_S, wh * 1000, FAII_SETTLE_PPB_ONE);
	return faii_settle_carbon_apply_reading(state, &r, operator_id, NOW_MS(T0_S + 100 * HOUR_S),
	                                        epoch);
}

static struct faii_settle_carbon_balance balance_of(const struct faii_settle_carbon *state,
                                                    uint32_t operator_id)
{
	struct faii_settle_carbon_balance row;
	uint32_t count = 0, total = 0;
	cr_assert_eq(faii_settle_carbon_list_balances(state, operator_id, &row, 1, &count, &total),
	             0);
	cr_assert_eq(count, 1);
	cr_assert_eq(row.operator_id, operator_id);
	return row;
}

static void hex(const uint8_t *bytes, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, bytes, len);
}

static void node_key(uint8_t pk[32], uint8_t sk[64])
{
	uint8_t seed[32];
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(pk, sk, seed);
}

Test(settle_carbon, a_reading_encodes_signs_and_digests_as_the_independent_encoder_does)
{
	cr_assert(sodium_init() >= 0);
	uint8_t pk[32], sk[64];
	node_key(pk, sk);
	/* Python: struct.pack("<IQQIQQ8sQ", 42, 0x0102030405060708, 1800000000,
	 * 900, 12345678, 333333333, b"DE-BY", 1800000900), signed with
	 * Ed25519PrivateKey.from_private_bytes(bytes(range(32))) over
	 * b"faii-settle-meter-v1" + body; digest blake2b(tx, digest_size=32). */
	struct faii_settle_meter_reading r =
	        reading_at(42, 0x0102030405060708ull, T0_S, 900, 12345678, 333333333);
	faii_settle_meter_sign(&r, sk);
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_meter_encode(&r, tx, sizeof(tx), &len), 0);
	cr_assert_eq(len, 122);
	cr_assert_eq(tx[0], FAII_SETTLE_TX_METER_READING);
	cr_assert_eq(tx[1], FAII_SETTLE_TX_VERSION);
	char text[2 * FAII_SETTLE_METER_TX_BYTES + 1];
	hex(tx + 2, 56, text);
	cr_assert_str_eq(text, "2a000000080706050403020100d2496b00000000840300004e61bc0000000000"
	                       "5543de130000000044452d425900000084d5496b00000000");
	hex(r.signature, 64, text);
	cr_assert_str_eq(text, "8bed0edcaf12ad7149c5d896a883fd422f1aaf5c04d18ba6b40e58bc60bd515a"
	                       "99ed9d4d254ae250f777aa7e207d8245ecdb0d3afd5d316fc6b04fa25c7b5d07");
	uint8_t digest[FAII_SETTLE_DIGEST];
	faii_settle_meter_digest(&r, digest);
	hex(digest, sizeof(digest), text);
	cr_assert_str_eq(text, "24b69472da4e8b14f6981fba893a90f79dd2cb00ad87ca3878fa0b779fb84930");
	struct faii_settle_meter_reading back;
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_MALFORMED;
	cr_assert_eq(faii_settle_meter_decode(tx, len, &back, &why), 0);
	cr_assert_eq(why, OK);
	cr_assert_eq(memcmp(&back, &r, sizeof(r)), 0);
	cr_assert_eq(faii_settle_meter_verify(&back, pk), 0);
}

Test(settle_carbon, a_bad_signature_is_refused)
{
	cr_assert(sodium_init() >= 0);
	uint8_t pk[32], sk[64], other_pk[32], other_sk[64];
	node_key(pk, sk);
	crypto_sign_keypair(other_pk, other_sk);
	struct faii_settle_meter_reading r = reading_at(42, 7, T0_S, 900, 5000, 0);
	faii_settle_meter_sign(&r, sk);
	cr_assert_eq(faii_settle_meter_verify(&r, pk), 0);
	cr_assert_eq(faii_settle_meter_verify(&r, other_pk), -EACCES, "another node's key");
	struct faii_settle_meter_reading changed = r;
	changed.energy_mwh++;
	cr_assert_eq(faii_settle_meter_verify(&changed, pk), -EACCES, "a changed reading");
	changed = r;
	changed.signature[10] ^= 1;
	cr_assert_eq(faii_settle_meter_verify(&changed, pk), -EACCES, "a changed signature");
	/* The same 56 bytes signed without the domain do not pass. */
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
	uint32_t len = 0;
	faii_settle_meter_encode(&r, tx, sizeof(tx), &len);
	changed = r;
	crypto_sign_detached(changed.signature, NULL, tx + 2, 56, sk);
	cr_assert_eq(faii_settle_meter_verify(&changed, pk), -EACCES, "no domain");
	/* The dispatcher counts what it refuses before apply in the same table. */
	struct faii_settle_carbon *state = state_new(&small_limits);
	faii_settle_carbon_count(state, FAII_SETTLE_CARBON_BAD_SIGNATURE);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_BAD_SIGNATURE), 1);
	cr_assert_str_eq(faii_settle_carbon_reason_name(FAII_SETTLE_CARBON_BAD_SIGNATURE),
	                 "bad_signature");
	free(state);
}

static void expect_decode(const struct faii_settle_meter_reading *r, int rc,
                          enum faii_settle_carbon_reason reason, const char *what)
{
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES];
	uint32_t len = 0;
	faii_settle_meter_encode(r, tx, sizeof(tx), &len);
	struct faii_settle_meter_reading back;
	enum faii_settle_carbon_reason why = OK;
	cr_assert_eq(faii_settle_meter_decode(tx, len, &back, &why), rc, "%s", what);
	cr_assert_eq(why, reason, "%s: %s", what, faii_settle_carbon_reason_name(why));
}

Test(settle_carbon, decode_refuses_each_bad_field_by_name)
{
	struct faii_settle_meter_reading good = reading_at(1, 7, T0_S, 900, 5000, 0);
	expect_decode(&good, 0, OK, "good");
	struct faii_settle_meter_reading r = good;
	r.interval_s = 0;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_INTERVAL, "interval 0");
	r.interval_s = 7; /* does not divide the hour */
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_INTERVAL, "interval 7");
	r.interval_s = 7200;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_INTERVAL, "interval 2 h");
	r = good;
	r.interval_start_s += 60; /* not a multiple of 900 */
	r.read_at_s += 60;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_INTERVAL, "unaligned");
	r = good;
	/* 100 MW for 900 s = 25 000 000 Wh = 2.5e10 mWh: the most; one more is refused. */
	r.energy_mwh = 25000000000ull;
	expect_decode(&r, 0, OK, "100 MW");
	r.energy_mwh++;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_ENERGY, "above 100 MW");
	r = good;
	r.renewable_ppb = FAII_SETTLE_PPB_ONE + 1;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_RENEWABLE, "renewable > 1");
	static const char *const bad_locations[] = {"de", "D", "DE-", "DE-BAVA", "DE_BY", "DEU"};
	for (size_t i = 0; i < sizeof(bad_locations) / sizeof(bad_locations[0]); i++) {
		r = good;
		memset(r.location, 0, sizeof(r.location));
		memcpy(r.location, bad_locations[i], strlen(bad_locations[i]));
		expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_LOCATION, bad_locations[i]);
	}
	r = good;
	memcpy(r.location, "DE\0\0\0\0\0X", 8); /* garbage after the padding */
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_LOCATION, "garbage");
	r = good;
	memcpy(r.location, "GB-ENG\0\0", 8);
	expect_decode(&r, 0, OK, "GB-ENG");
	r = good;
	r.read_at_s = r.interval_start_s + r.interval_s - 1;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_BAD_READ_TIME, "read before the end");
	r = good;
	r.meter_id = 0;
	expect_decode(&r, -EINVAL, FAII_SETTLE_CARBON_MALFORMED, "meter 0");
	uint8_t tx[FAII_SETTLE_METER_TX_BYTES + 1];
	uint32_t len = 0;
	faii_settle_meter_encode(&good, tx, sizeof(tx), &len);
	struct faii_settle_meter_reading back;
	enum faii_settle_carbon_reason why = OK;
	cr_assert_eq(faii_settle_meter_decode(tx, len + 1, &back, &why), -EBADMSG);
	cr_assert_eq(faii_settle_meter_decode(tx, len - 1, &back, &why), -EBADMSG);
	tx[0] = FAII_SETTLE_TX_CARBON_TRANSFER;
	cr_assert_eq(faii_settle_meter_decode(tx, len, &back, &why), -EBADMSG, "another kind");
	tx[0] = FAII_SETTLE_TX_METER_READING;
	tx[1] = 2;
	cr_assert_eq(faii_settle_meter_decode(tx, len, &back, &why), -EBADMSG, "another version");
	cr_assert_eq(why, FAII_SETTLE_CARBON_MALFORMED);
	cr_assert_eq(faii_settle_meter_encode(&good, tx, len - 1, &len), -ENOSPC);
}

Test(settle_carbon, a_transfer_encodes_as_the_independent_encoder_does)
{
	/* Python: bytes([5, 1]) + struct.pack("<IIQQQQQB7x", 7, 9, 1500, 3,
	 * 0x0102030405060708, 1800000000, 1800003600, 1). */
	struct faii_settle_carbon_transfer t = {
	        .from_operator = 7,
	        .to_operator = 9,
	        .wh = 1500,
	        .nonce = 3,
	        .meter_id = 0x0102030405060708ull,
	        .not_before_s = T0_S,
	        .not_after_s = T0_S + HOUR_S,
	        .rule = FAII_SETTLE_TRANSFER_NEWEST_FIRST,
	};
	uint8_t tx[FAII_SETTLE_TRANSFER_TX_BYTES];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_transfer_encode(&t, tx, sizeof(tx), &len), 0);
	char text[2 * FAII_SETTLE_TRANSFER_TX_BYTES + 1];
	hex(tx, len, text);
	cr_assert_str_eq(text,
	                 "05010700000009000000dc0500000000000003000000000000000807060504030201"
	                 "00d2496b0000000010e0496b000000000100000000000000");
	struct faii_settle_carbon_transfer back;
	enum faii_settle_carbon_reason why = FAII_SETTLE_CARBON_MALFORMED;
	cr_assert_eq(faii_settle_transfer_decode(tx, len, &back, &why), 0);
	cr_assert(back.from_operator == 7 && back.to_operator == 9 && back.wh == 1500 &&
	          back.nonce == 3 && back.meter_id == t.meter_id && back.not_before_s == T0_S &&
	          back.not_after_s == T0_S + HOUR_S && back.rule == t.rule);
	tx[2 + 50] = 1; /* padding */
	cr_assert_eq(faii_settle_transfer_decode(tx, len, &back, &why), -EBADMSG);
	tx[2 + 50] = 0;
	tx[2 + 48] = FAII_SETTLE_TRANSFER_RULE_END;
	cr_assert_eq(faii_settle_transfer_decode(tx, len, &back, &why), -EINVAL);
	cr_assert_eq(why, FAII_SETTLE_CARBON_BAD_RULE);
	t.to_operator = 7;
	faii_settle_transfer_encode(&t, tx, sizeof(tx), &len);
	cr_assert_eq(faii_settle_transfer_decode(tx, len, &back, &why), -EINVAL);
	cr_assert_eq(why, FAII_SETTLE_CARBON_SAME_OPERATOR);
}

Test(settle_carbon, minting_rounds_mwh_then_the_renewable_part_down)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	/* 12 345 678 mWh -> 12 345 Wh; x 0.333333333 = 4114.999995885 -> 4114 Wh. */
	struct faii_settle_meter_reading r = reading_at(42, 7, T0_S, 900, 12345678, 333333333);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &r, 5, NOW_MS(T0_S + 900), 10), OK);
	/* A second reading of 654 mWh mints nothing (0 Wh), but its energy
	 * counts: the epoch's energy is floor((12 345 678 + 654) / 1000) =
	 * 12 346 Wh, more than the sum of the per-reading floors (12 345). */
	r = reading_at(42, 7, T0_S + 900, 900, 654, FAII_SETTLE_PPB_ONE);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &r, 5, NOW_MS(T0_S + 1800), 10), OK);
	struct faii_settle_carbon_balance b = balance_of(state, 5);
	cr_assert_eq(b.minted_wh, 4114);
	cr_assert_eq(b.tradable_wh, 4114);
	cr_assert_eq(b.certificates, 1);
	struct faii_settle_carbon_node_epoch e;
	cr_assert_eq(faii_settle_carbon_node_epoch(state, 42, 10, &e), 0);
	cr_assert_eq(e.readings, 2);
	cr_assert_eq(e.energy_wh, 12346);
	cr_assert_eq(e.renewable_wh, 4114);
	cr_assert_eq(e.retired_wh, 0);
	cr_assert_eq(e.renewable_ppb, 0);
	struct faii_settle_carbon_certificate c[2];
	struct faii_settle_carbon_filter all = {0};
	struct faii_settle_carbon_cursor start = {0};
	uint32_t count = 0, total = 0;
	faii_settle_carbon_list_certificates(state, &all, &start, c, 2, &count, &total);
	cr_assert_eq(count, 1, "no certificate of 0 Wh");
	cr_assert_eq(c[0].wh, 4114);
	cr_assert_eq(c[0].owner, 5);
	cr_assert_eq(c[0].node_id, 42);
	cr_assert_eq(c[0].minted_epoch, 10);
	cr_assert_eq(memcmp(c[0].location, "DE-BY\0\0\0", 8), 0);
	free(state);
}

Test(settle_carbon, a_double_mint_is_refused_and_kept_as_evidence)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	struct faii_settle_meter_reading first = reading_at(1, 7, T0_S, HOUR_S, 100000, 500000000);
	uint64_t now = NOW_MS(T0_S + HOUR_S);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &first, 3, now, 1), OK);
	/* The same bytes again (a replay), then other numbers, even from
	 * another node, for the same (meter, interval). */
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &first, 3, now, 1),
	             FAII_SETTLE_CARBON_DOUBLE_MINT);
	struct faii_settle_meter_reading second = first;
	second.node_id = 2;
	second.energy_mwh = 900000;
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &second, 4, now, 1),
	             FAII_SETTLE_CARBON_DOUBLE_MINT);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_DOUBLE_MINT), 2);
	cr_assert_eq(balance_of(state, 3).minted_wh, 50); /* 100 Wh x 0.5, minted once */
	struct faii_settle_carbon_balance none;
	uint32_t count = 0, total = 0;
	faii_settle_carbon_list_balances(state, 4, &none, 1, &count, &total);
	cr_assert_eq(count, 0, "the refused reading's operator got nothing");
	struct faii_settle_carbon_evidence e[4];
	cr_assert_eq(faii_settle_carbon_evidence_drain(state, e, 4), 2);
	uint8_t d1[FAII_SETTLE_DIGEST], d2[FAII_SETTLE_DIGEST];
	faii_settle_meter_digest(&first, d1);
	faii_settle_meter_digest(&second, d2);
	cr_assert_eq(e[0].reason, FAII_SETTLE_CARBON_DOUBLE_MINT);
	cr_assert(e[0].replay);
	cr_assert_eq(memcmp(e[0].digest, d1, 32), 0);
	cr_assert_eq(memcmp(e[0].first_digest, d1, 32), 0);
	cr_assert(!e[1].replay);
	cr_assert_eq(e[1].node_id, 2);
	cr_assert_eq(e[1].first_node_id, 1);
	cr_assert_eq(e[1].meter_id, 7);
	cr_assert_eq(e[1].interval_start_s, T0_S);
	cr_assert_eq(memcmp(e[1].digest, d2, 32), 0);
	cr_assert_eq(memcmp(e[1].first_digest, d1, 32), 0);
	cr_assert_eq(faii_settle_carbon_evidence_drain(state, e, 4), 0, "drained");
	/* The evidence list is bounded (4 here): more attempts are counted as dropped. */
	for (int i = 0; i < 6; i++)
		faii_settle_carbon_apply_reading(state, &second, 4, now, 1);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state, &totals);
	cr_assert_eq(totals.evidence, 4);
	cr_assert_eq(totals.evidence_dropped, 2);
	free(state);
}

Test(settle_carbon, overlapping_intervals_of_one_meter_are_refused)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	uint64_t now = NOW_MS(T0_S + 2 * HOUR_S);
	struct faii_settle_meter_reading hour = reading_at(1, 7, T0_S, HOUR_S, 10000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &hour, 3, now, 1), OK);
	/* 10:15-10:30 lies inside 10:00-11:00 of the same meter. */
	struct faii_settle_meter_reading quarter = reading_at(1, 7, T0_S + 900, 900, 2000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &quarter, 3, now, 1),
	             FAII_SETTLE_CARBON_OVERLAP);
	struct faii_settle_carbon_evidence e;
	cr_assert_eq(faii_settle_carbon_evidence_drain(state, &e, 1), 1);
	cr_assert_eq(e.reason, FAII_SETTLE_CARBON_OVERLAP);
	cr_assert_eq(e.first_interval_start_s, T0_S);
	cr_assert_eq(e.first_interval_s, HOUR_S);
	/* Adjacent intervals and another meter's same interval are fine. */
	quarter = reading_at(1, 7, T0_S + HOUR_S, 900, 2000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &quarter, 3, now, 1), OK);
	quarter = reading_at(1, 8, T0_S + 900, 900, 2000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &quarter, 3, now, 1), OK);
	/* A whole hour over quarters already read. */
	hour = reading_at(1, 8, T0_S, HOUR_S, 10000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &hour, 3, now, 1),
	             FAII_SETTLE_CARBON_OVERLAP);
	/* Over two quarters, one of them starting at the same second: that one
	 * is named, as a double mint, whichever the chain meets first. */
	for (uint64_t q = 0; q < 2; q++) {
		quarter = reading_at(1, 9, T0_S + q * 900, 900, 2000, 0);
		cr_assert_eq(faii_settle_carbon_apply_reading(state, &quarter, 3, now, 1), OK);
	}
	hour = reading_at(1, 9, T0_S, HOUR_S, 10000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &hour, 3, now, 1),
	             FAII_SETTLE_CARBON_DOUBLE_MINT);
	faii_settle_carbon_evidence_drain(state, &e, 1); /* the hour over meter 8's quarter */
	cr_assert_eq(faii_settle_carbon_evidence_drain(state, &e, 1), 1);
	cr_assert_eq(e.reason, FAII_SETTLE_CARBON_DOUBLE_MINT);
	cr_assert_eq(e.first_interval_start_s, T0_S);
	cr_assert_eq(e.first_interval_s, 900);
	free(state);
}

Test(settle_carbon, readings_from_the_future_are_refused)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	struct faii_settle_meter_reading r = reading_at(1, 7, T0_S, HOUR_S, 10000, 0);
	/* The interval ends at T0 + 3600: consortium time must be >= T0 + 3300. */
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &r, 3, NOW_MS(T0_S + 3299), 1),
	             FAII_SETTLE_CARBON_FUTURE);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &r, 3, NOW_MS(T0_S + 3300), 1), OK);
	free(state);
}

static enum faii_settle_carbon_reason transfer(struct faii_settle_carbon *state, uint32_t from,
                                               uint32_t to, uint64_t wh, uint64_t nonce,
                                               uint8_t rule)
{
	struct faii_settle_carbon_transfer t = {
	        .from_operator = from,
	        .to_operator = to,
	        .wh = wh,
	        .nonce = nonce,
	        .not_before_s = 0,
	        .not_after_s = UINT64_MAX,
	        .rule = rule,
	};
	return faii_settle_carbon_apply_transfer(state, &t, NOW_MS(T0_S + 100 * HOUR_S), 1);
}

Test(settle_carbon, a_transfer_never_overdraws)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S, 100, 1), OK);
	cr_assert_eq(transfer(state, 3, 4, 101, 1, 0), FAII_SETTLE_CARBON_OVERDRAW);
	cr_assert_eq(balance_of(state, 3).tradable_wh, 100, "nothing moved");
	cr_assert_eq(transfer(state, 3, 4, 60, 1, 0), OK);
	cr_assert_eq(transfer(state, 3, 4, 10, 1, 0), FAII_SETTLE_CARBON_REPLAYED_NONCE);
	cr_assert_eq(transfer(state, 3, 4, 41, 2, 0), FAII_SETTLE_CARBON_OVERDRAW);
	cr_assert_eq(transfer(state, 9, 4, 1, 1, 0), FAII_SETTLE_CARBON_UNKNOWN_OPERATOR);
	cr_assert_eq(transfer(state, 3, 3, 1, 2, 0), FAII_SETTLE_CARBON_SAME_OPERATOR);
	cr_assert_eq(transfer(state, 3, 4, 0, 2, 0), FAII_SETTLE_CARBON_ZERO_WH);
	cr_assert_eq(transfer(state, 3, 4, 1, 2, 2), FAII_SETTLE_CARBON_BAD_RULE);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_OVERDRAW), 2);
	struct faii_settle_carbon_balance a = balance_of(state, 3), b = balance_of(state, 4);
	cr_assert_eq(a.tradable_wh, 40);
	cr_assert_eq(a.transferred_out_wh, 60);
	cr_assert_eq(a.last_nonce, 1);
	cr_assert_eq(b.tradable_wh, 60);
	cr_assert_eq(b.transferred_in_wh, 60);
	free(state);
}

static uint32_t certificates_of(const struct faii_settle_carbon *state, uint32_t owner,
                                struct faii_settle_carbon_certificate *out, uint32_t cap)
{
	struct faii_settle_carbon_filter filter = {.by_owner = true, .owner = owner};
	struct faii_settle_carbon_cursor start = {0};
	uint32_t count = 0, total = 0;
	cr_assert_eq(faii_settle_carbon_list_certificates(state, &filter, &start, out, cap, &count,
	                                                  &total),
	             0);
	cr_assert_eq(count, total);
	return count;
}

Test(settle_carbon, a_transfer_takes_certificates_in_its_rule_order_and_splits_the_last)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S, 100, 1), OK);         /* older */
	cr_assert_eq(mint(state, 1, 3, 7, T0_S + HOUR_S, 50, 1), OK); /* newer */
	/* Oldest first, 120 Wh: the 100 whole, then serials [30, 50) of the newer one. */
	cr_assert_eq(transfer(state, 3, 4, 120, 1, FAII_SETTLE_TRANSFER_OLDEST_FIRST), OK);
	struct faii_settle_carbon_certificate c[4];
	cr_assert_eq(certificates_of(state, 4, c, 4), 2);
	cr_assert_eq(c[0].interval_start_s, T0_S);
	cr_assert_eq(c[0].serial_first, 0);
	cr_assert_eq(c[0].wh, 100);
	cr_assert_eq(c[1].interval_start_s, T0_S + HOUR_S);
	cr_assert_eq(c[1].serial_first, 30);
	cr_assert_eq(c[1].wh, 20);
	cr_assert_eq(certificates_of(state, 3, c, 4), 1);
	cr_assert_eq(c[0].serial_first, 0);
	cr_assert_eq(c[0].wh, 30);
	/* Newest first, 25 Wh back: the 20 of the newer hour, then 5 of the older. */
	cr_assert_eq(transfer(state, 4, 3, 25, 1, FAII_SETTLE_TRANSFER_NEWEST_FIRST), OK);
	cr_assert_eq(certificates_of(state, 3, c, 4), 3);
	cr_assert_eq(c[0].interval_start_s, T0_S);
	cr_assert_eq(c[0].serial_first, 95);
	cr_assert_eq(c[0].wh, 5);
	cr_assert_eq(c[1].serial_first, 0);
	cr_assert_eq(c[1].wh, 30);
	cr_assert_eq(c[2].serial_first, 30);
	cr_assert_eq(c[2].wh, 20);
	/* A meter and window filter: nothing of meter 8 to give. */
	struct faii_settle_carbon_transfer t = {.from_operator = 3,
	                                        .to_operator = 4,
	                                        .wh = 1,
	                                        .nonce = 2,
	                                        .meter_id = 8,
	                                        .not_after_s = UINT64_MAX};
	cr_assert_eq(faii_settle_carbon_apply_transfer(state, &t, NOW_MS(T0_S + 100 * HOUR_S), 1),
	             FAII_SETTLE_CARBON_OVERDRAW);
	t.meter_id = 7;
	t.not_before_s = T0_S + HOUR_S; /* only the newer hour */
	t.wh = 50;
	cr_assert_eq(faii_settle_carbon_apply_transfer(state, &t, NOW_MS(T0_S + 100 * HOUR_S), 1),
	             OK);
	cr_assert_eq(certificates_of(state, 3, c, 4), 1);
	cr_assert_eq(c[0].interval_start_s, T0_S);
	free(state);
}

Test(settle_carbon, retirement_takes_the_oldest_and_never_retires_a_wh_twice)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	/* Node 1 (operator 3) used 1000 Wh of grey energy in epoch 1 (another meter). */
	struct faii_settle_meter_reading grey = reading_at(1, 99, T0_S, HOUR_S, 1000000, 0);
	cr_assert_eq(
	        faii_settle_carbon_apply_reading(state, &grey, 3, NOW_MS(T0_S + 100 * HOUR_S), 1),
	        OK);
	cr_assert_eq(mint(state, 2, 3, 7, T0_S + HOUR_S, 50, 1), OK); /* newer */
	cr_assert_eq(mint(state, 2, 3, 7, T0_S, 100, 1), OK);         /* older, minted later */
	struct faii_settle_carbon_retire_result res;
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 120, 1, &res), 0);
	cr_assert_eq(res.wh_retired, 120);
	cr_assert_eq(res.wh_uncovered, 1000);
	cr_assert_eq(res.pieces, 2);
	cr_assert(!res.short_of_balance && !res.short_of_energy && !res.short_of_lots);
	struct faii_settle_carbon_retirement log[4];
	uint32_t count = 0;
	uint64_t oldest = 1;
	struct faii_settle_carbon_filter all = {0};
	faii_settle_carbon_list_retirements(state, res.first_seq, &all, log, 4, &count, &oldest);
	cr_assert_eq(count, 2);
	cr_assert_eq(oldest, 0);
	cr_assert_eq(log[0].interval_start_s, T0_S, "oldest first");
	cr_assert_eq(log[0].wh, 100);
	cr_assert_eq(log[1].interval_start_s, T0_S + HOUR_S);
	cr_assert_eq(log[1].serial_first, 0);
	cr_assert_eq(log[1].wh, 20);
	cr_assert_eq(log[1].node_id, 1);
	/* Beyond the balance: retires the 30 that exist and says so. */
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 500, 1, &res), 0);
	cr_assert_eq(res.wh_retired, 30);
	cr_assert(res.short_of_balance);
	cr_assert_eq(log[0].seq + 2, res.first_seq);
	faii_settle_carbon_list_retirements(state, res.first_seq, &all, log, 4, &count, &oldest);
	cr_assert_eq(count, 1);
	cr_assert_eq(log[0].serial_first, 20, "the serials after those already retired");
	/* Nothing is left to retire or to transfer: retired Wh stay retired. */
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 500, 1, &res), 0);
	cr_assert_eq(res.wh_retired, 0);
	cr_assert_eq(transfer(state, 3, 4, 1, 1, 0), FAII_SETTLE_CARBON_OVERDRAW);
	struct faii_settle_carbon_balance b = balance_of(state, 3);
	cr_assert_eq(b.retired_wh, 150);
	cr_assert_eq(b.tradable_wh, 0);
	struct faii_settle_carbon_certificate c[4];
	cr_assert_eq(certificates_of(state, 3, c, 4), 2, "retired certificates stay listed");
	cr_assert_eq(c[0].wh_retired, c[0].wh);
	cr_assert_eq(c[1].wh_retired, c[1].wh);
	/* RE_ij = 150 / 1000; node 2 (whose meter minted them) has no energy of its own... */
	struct faii_settle_carbon_node_epoch e;
	faii_settle_carbon_node_epoch(state, 1, 1, &e);
	cr_assert_eq(e.retired_wh, 150);
	cr_assert_eq(e.renewable_ppb, 150000000);
	free(state);
}

Test(settle_carbon, retirement_is_capped_by_the_energy_it_covers)
{
	struct faii_settle_carbon *state = state_new(&small_limits);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S, 100, 4), OK); /* node 1: 100 Wh, all renewable */
	struct faii_settle_carbon_retire_result res;
	/* ...but node 2 used none in epoch 4: nothing to retire against. */
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 2, 80, 4, &res), 0);
	cr_assert_eq(res.wh_retired, 0);
	cr_assert(res.short_of_energy);
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 80, 4, &res), 0);
	cr_assert_eq(res.wh_retired, 80);
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 80, 4, &res), 0);
	cr_assert_eq(res.wh_retired, 20, "100 Wh used, 80 covered already");
	cr_assert(res.short_of_energy);
	struct faii_settle_carbon_node_epoch e;
	faii_settle_carbon_node_epoch(state, 1, 4, &e);
	cr_assert_eq(e.renewable_ppb, FAII_SETTLE_PPB_ONE);
	/* Epoch 5 starts; epoch 4 is still kept, epoch 3 is not. */
	cr_assert_eq(mint(state, 1, 3, 7, T0_S + HOUR_S, 10, 5), OK);
	cr_assert_eq(faii_settle_carbon_node_epoch(state, 1, 4, &e), 0);
	cr_assert_eq(e.energy_wh, 100);
	cr_assert_eq(faii_settle_carbon_node_epoch(state, 1, 3, &e), -ERANGE);
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 10, 3, &res), -ERANGE);
	cr_assert_eq(faii_settle_carbon_retire(state, 3, 1, 10, 5, &res), 0);
	cr_assert_eq(res.wh_retired, 10);
	free(state);
}

/* The same mints into two registries: `a` settles each node with the three
 * calls the state machine made before (figures, retire, figures again),
 * `b` with faii_settle_carbon_settle_node; every outcome must match. */
static void settle_both(struct faii_settle_carbon *a, struct faii_settle_carbon *b,
                        uint32_t operator_id, uint32_t node, uint64_t epoch)
{
	struct faii_settle_carbon_node_epoch fa, fb;
	struct faii_settle_carbon_retire_result ra, rb;
	memset(&ra, 0, sizeof(ra));
	int rc_a = faii_settle_carbon_node_epoch(a, node, epoch, &fa);
	if (rc_a == 0 && fa.energy_wh > 0) {
		cr_assert_eq(
		        faii_settle_carbon_retire(a, operator_id, node, fa.energy_wh, epoch, &ra),
		        0);
		cr_assert_eq(faii_settle_carbon_node_epoch(a, node, epoch, &fa), 0);
	}
	int rc_b = faii_settle_carbon_settle_node(b, operator_id, node, epoch, &fb, &rb);
	cr_assert_eq(rc_a, rc_b, "node %u epoch %lu", node, (unsigned long)epoch);
	if (rc_a != 0)
		return;
	cr_assert_eq(memcmp(&fa, &fb, sizeof(fa)), 0, "node %u: figures differ", node);
	cr_assert_eq(ra.wh_retired, rb.wh_retired, "node %u", node);
	cr_assert_eq(ra.pieces, rb.pieces);
	cr_assert_eq(ra.first_seq, rb.first_seq);
	cr_assert_eq(ra.short_of_balance, rb.short_of_balance);
}

Test(settle_carbon, settling_a_node_in_one_call_matches_figures_retire_figures)
{
	static const struct faii_settle_carbon_limits limits = {
	        .certificates_max = 256,
	        .readings_max = 256,
	        .owners_max = 8,
	        .nodes_max = 16,
	        .evidence_max = 4,
	        .retirements_max = FAII_SETTLE_CARBON_RETIRE_LOTS_MAX,
	};
	struct faii_settle_carbon *a = state_new(&limits), *b = state_new(&limits);
	uint64_t x = 12345;
	for (uint64_t epoch = 1; epoch <= 6; epoch++) {
		for (uint32_t node = 1; node <= 12; node++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 4 == 0)
				continue; /* no reading this epoch */
			/* Node 5's readings are minted to another operator than the
			 * one it settles under: the cached account must not be used. */
			uint32_t owner = node == 5 ? 7 : 1 + node % 3;
			struct faii_settle_meter_reading r = reading_at(
			        node, 100 + node, T0_S + epoch * HOUR_S, HOUR_S,
			        (x % 900) * 1000 + x % 999, (x >> 20) % (FAII_SETTLE_PPB_ONE + 1));
			uint64_t now = NOW_MS(T0_S + (epoch + 1) * HOUR_S);
			cr_assert_eq(faii_settle_carbon_apply_reading(a, &r, owner, now, epoch),
			             faii_settle_carbon_apply_reading(b, &r, owner, now, epoch));
		}
		for (uint32_t node = 0; node <= 13; node++) /* 0 and 13: never metered */
			settle_both(a, b, 1 + node % 3, node, epoch);
		settle_both(a, b, 1, 2, epoch - 1); /* the epoch before: kept */
		settle_both(a, b, 1, 2, epoch + 2); /* a later epoch: the registry moves to it */
	}
	settle_both(a, b, 1, 2, 1); /* long gone: -ERANGE from both */
	struct faii_settle_carbon_totals ta, tb;
	faii_settle_carbon_totals(a, &ta);
	faii_settle_carbon_totals(b, &tb);
	cr_assert_eq(memcmp(&ta, &tb, sizeof(ta)), 0);
	cr_assert_gt(ta.retired_wh, 0);
	free(a);
	free(b);
}

Test(settle_carbon, a_full_table_refuses_and_counts)
{
	struct faii_settle_carbon_limits limits = small_limits;
	limits.certificates_max = 2;
	limits.readings_max = 3;
	limits.owners_max = 2;
	limits.nodes_max = 2;
	struct faii_settle_carbon *state = state_new(&limits);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S, 100, 1), OK);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S + HOUR_S, 100, 1), OK);
	cr_assert_eq(mint(state, 1, 3, 7, T0_S + 2 * HOUR_S, 100, 1),
	             FAII_SETTLE_CARBON_CERTIFICATES_FULL);
	/* A transfer that must split a certificate needs a slot: refused whole. */
	cr_assert_eq(transfer(state, 3, 4, 150, 1, 0), FAII_SETTLE_CARBON_CERTIFICATES_FULL);
	cr_assert_eq(balance_of(state, 3).tradable_wh, 200);
	cr_assert_eq(transfer(state, 3, 4, 100, 1, 0), OK, "a whole certificate moves without one");
	cr_assert_eq(transfer(state, 3, 5, 100, 2, 0), FAII_SETTLE_CARBON_OWNERS_FULL);
	/* A grey reading needs no certificate, only a (meter, interval) record. */
	struct faii_settle_meter_reading grey = reading_at(2, 8, T0_S, HOUR_S, 5000, 0);
	uint64_t now = NOW_MS(T0_S + 100 * HOUR_S);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &grey, 3, now, 1), OK);
	grey = reading_at(2, 8, T0_S + HOUR_S, HOUR_S, 5000, 0);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &grey, 3, now, 1),
	             FAII_SETTLE_CARBON_READINGS_FULL);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_CERTIFICATES_FULL), 2);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_READINGS_FULL), 1);
	cr_assert_eq(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_OWNERS_FULL), 1);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state, &totals);
	cr_assert_eq(totals.certificates, 2);
	cr_assert_eq(totals.readings, 3);
	free(state);
}

Test(settle_carbon, pruning_expires_old_certificates_and_keeps_the_tables_steady)
{
	struct faii_settle_carbon_limits limits = small_limits;
	limits.certificates_max = 8;
	limits.readings_max = 8;
	struct faii_settle_carbon *state = state_new(&limits);
	/* 30 days, one reading an hour with a 4-hour window: the tables never fill. */
	uint64_t retired = 0, minted = 0;
	for (uint64_t h = 0; h < 30 * 24; h++) {
		uint64_t start = T0_S + h * HOUR_S, now = NOW_MS(start + HOUR_S);
		struct faii_settle_meter_reading r =
		        reading_at(1, 7, start, HOUR_S, 10000, 700000000);
		cr_assert_eq(faii_settle_carbon_apply_reading(state, &r, 3, now, h), OK, "hour %lu",
		             (unsigned long)h);
		minted += 7;
		struct faii_settle_carbon_retire_result res;
		faii_settle_carbon_retire(state, 3, 1, h % 2 ? 10 : 3, h, &res); /* some, not all */
		retired += res.wh_retired;
		struct faii_settle_carbon_prune_result pr;
		faii_settle_carbon_prune(state, now, 4 * HOUR_S, &pr);
	}
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state, &totals);
	cr_assert_leq(totals.certificates, 5);
	cr_assert_leq(totals.readings, 5);
	cr_assert_eq(totals.minted_wh, minted);
	cr_assert_eq(totals.retired_wh, retired);
	cr_assert_gt(totals.expired_wh, 0);
	cr_assert_eq(totals.minted_wh, totals.tradable_wh + totals.retired_wh + totals.expired_wh);
	/* A (meter, interval) pruned cannot be minted again: stale. */
	struct faii_settle_meter_reading old = reading_at(1, 7, T0_S, HOUR_S, 10000, 700000000);
	cr_assert_eq(faii_settle_carbon_apply_reading(state, &old, 3,
	                                              NOW_MS(T0_S + 30 * 24 * HOUR_S), 720),
	             FAII_SETTLE_CARBON_STALE);
	free(state);
}

Test(settle_carbon, the_carbon_adjusted_energy_charge)
{
	uint64_t charge = 0;
	/* e = 1000 Wh, 400 Wh certified and retired, kappa_e = 5, green 2:
	 * 5 x 600 + 2 x 400 = 3000 + 800 = 3800. */
	cr_assert_eq(faii_settle_carbon_energy_charge(1000, 400, 5, 2, &charge), 0);
	cr_assert_eq(charge, 3800);
	/* Nothing certified: kappa_e x e, the paper's (28). */
	cr_assert_eq(faii_settle_carbon_energy_charge(1000, 0, 5, 2, &charge), 0);
	cr_assert_eq(charge, 5000);
	/* More retired than used counts only what was used: 2 x 1000. */
	cr_assert_eq(faii_settle_carbon_energy_charge(1000, 1500, 5, 2, &charge), 0);
	cr_assert_eq(charge, 2000);
	cr_assert_eq(faii_settle_carbon_energy_charge(1000, 400, 2, 5, &charge), -EINVAL);
	cr_assert_eq(faii_settle_carbon_energy_charge(UINT64_MAX, 0, 2, 1, &charge), -EOVERFLOW);
}

/* ---- Random sequences: determinism and conservation ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#define RANDOM_STEPS     3000u
#define RANDOM_OPERATORS 5u
#define RANDOM_NODES     6u
#define RANDOM_METERS    4u

/* One random operation at step `step` (consortium time advancing a
 * quarter-hour per 4 steps, an epoch per 40). */
static void random_step(struct faii_settle_carbon *state, uint64_t *seed, uint32_t step,
                        uint64_t nonces[RANDOM_OPERATORS + 1])
{
	uint64_t now_s = T0_S + (uint64_t)step * 225 + HOUR_S, epoch = step / 40;
	uint64_t pick = rng_next(seed);
	uint32_t op = (uint32_t)(rng_next(seed) % RANDOM_OPERATORS) + 1;
	uint32_t node = (uint32_t)(rng_next(seed) % RANDOM_NODES) + 1;
	if (pick % 10 < 5) {
		static const uint32_t intervals[] = {900, 1800, 3600, 300};
		uint32_t interval = intervals[rng_next(seed) % 4];
		uint64_t start = now_s - HOUR_S - (rng_next(seed) % 8) * 900;
		start -= start % interval;
		struct faii_settle_meter_reading r = reading_at(
		        node, rng_next(seed) % RANDOM_METERS + 1, start, interval,
		        rng_next(seed) % 5000000, rng_next(seed) % (FAII_SETTLE_PPB_ONE + 1));
		faii_settle_carbon_apply_reading(state, &r, op, NOW_MS(now_s), epoch);
	} else if (pick % 10 < 7) {
		uint32_t to = (uint32_t)(rng_next(seed) % RANDOM_OPERATORS) + 1;
		struct faii_settle_carbon_transfer t = {
		        .from_operator = op,
		        .to_operator = to,
		        .wh = rng_next(seed) % 3000 + 1,
		        .nonce = ++nonces[op],
		        .meter_id = rng_next(seed) % 2 ? 0 : rng_next(seed) % RANDOM_METERS + 1,
		        .not_after_s = UINT64_MAX,
		        .rule = (uint8_t)(rng_next(seed) % 2),
		};
		faii_settle_carbon_apply_transfer(state, &t, NOW_MS(now_s), epoch);
	} else if (pick % 10 < 9) {
		struct faii_settle_carbon_retire_result res;
		faii_settle_carbon_retire(state, op, node, rng_next(seed) % 4000, epoch, &res);
		cr_assert_leq(res.wh_retired, res.wh_wanted);
		cr_assert_leq(res.wh_retired, res.wh_uncovered);
	} else {
		struct faii_settle_carbon_prune_result pr;
		faii_settle_carbon_prune(state, NOW_MS(now_s), 6 * HOUR_S, &pr);
	}
}

#define LIST_CAP 256u

struct listings {
	struct faii_settle_carbon_balance balances[LIST_CAP];
	struct faii_settle_carbon_certificate certificates[LIST_CAP];
	struct faii_settle_carbon_retirement retirements[LIST_CAP];
	struct faii_settle_carbon_node_epoch nodes[LIST_CAP];
	uint32_t counts[4];
};

static void list_all(const struct faii_settle_carbon *state, uint64_t epoch, struct listings *l)
{
	memset(l, 0, sizeof(*l));
	uint32_t total = 0;
	uint64_t oldest = 0;
	struct faii_settle_carbon_filter all = {0};
	struct faii_settle_carbon_cursor start = {0};
	faii_settle_carbon_list_balances(state, 0, l->balances, LIST_CAP, &l->counts[0], &total);
	faii_settle_carbon_list_certificates(state, &all, &start, l->certificates, LIST_CAP,
	                                     &l->counts[1], &total);
	cr_assert_eq(l->counts[1], total, "raise LIST_CAP");
	faii_settle_carbon_list_retirements(state, 0, &all, l->retirements, LIST_CAP, &l->counts[2],
	                                    &oldest);
	cr_assert_eq(faii_settle_carbon_epoch_nodes(state, epoch, 0, l->nodes, LIST_CAP,
	                                            &l->counts[3], &total),
	             0);
}

Test(settle_carbon, the_same_sequence_lists_the_same_bytes_whatever_the_table_sizes)
{
	/* Three states, two of them with larger tables (other hash slots,
	 * other probe orders), fed the same sequence. */
	struct faii_settle_carbon_limits big = small_limits;
	big.certificates_max = 4096;
	big.readings_max = 4096;
	big.owners_max = 64;
	big.nodes_max = 64;
	struct faii_settle_carbon_limits bigger = big;
	bigger.readings_max = 8192;
	bigger.nodes_max = 1000;
	struct faii_settle_carbon *states[3] = {state_new(&big), state_new(&big),
	                                        state_new(&bigger)};
	uint64_t seeds[3] = {42, 42, 42};
	uint64_t nonces[3][RANDOM_OPERATORS + 1] = {{0}};
	static struct listings first, other;
	for (uint32_t step = 0; step < 800; step++)
		for (int k = 0; k < 3; k++)
			random_step(states[k], &seeds[k], step, nonces[k]);
	list_all(states[0], 799 / 40, &first);
	cr_assert_gt(first.counts[1], 10, "a sequence with certificates to compare");
	cr_assert_gt(first.counts[2], 10, "and retirements");
	for (int k = 1; k < 3; k++) {
		list_all(states[k], 799 / 40, &other);
		cr_assert_eq(memcmp(&first, &other, sizeof(first)), 0, "state %d", k);
	}
	/* Paging gives the same rows as one listing. */
	struct faii_settle_carbon_certificate page[7];
	struct faii_settle_carbon_filter all = {0};
	struct faii_settle_carbon_cursor at = {0};
	uint32_t seen = 0, count = 0, total = 0;
	do {
		faii_settle_carbon_list_certificates(states[0], &all, &at, page, 7, &count, &total);
		for (uint32_t i = 0; i < count; i++)
			cr_assert_eq(
			        memcmp(&page[i], &first.certificates[seen + i], sizeof(page[i])),
			        0);
		seen += count;
		if (count > 0) {
			at.meter_id = page[count - 1].meter_id;
			at.interval_start_s = page[count - 1].interval_start_s;
			at.serial_first = page[count - 1].serial_first + 1;
		}
	} while (count == 7);
	cr_assert_eq(seen, first.counts[1]);
	for (int k = 0; k < 3; k++)
		free(states[k]);
}

/* Every owner: minted + in - out = tradable + retired + expired; in and
 * out balance; the certificates' tradable and retired Wh add up. */
static void check_conservation(const struct faii_settle_carbon *state, uint64_t epoch)
{
	static struct listings l;
	list_all(state, epoch, &l);
	uint64_t in = 0, out = 0, tradable = 0, minted = 0, retired = 0, expired = 0;
	for (uint32_t i = 0; i < l.counts[0]; i++) {
		const struct faii_settle_carbon_balance *b = &l.balances[i];
		cr_assert_eq(b->minted_wh + b->transferred_in_wh - b->transferred_out_wh,
		             b->tradable_wh + b->retired_wh + b->expired_wh, "operator %u",
		             b->operator_id);
		in += b->transferred_in_wh;
		out += b->transferred_out_wh;
		tradable += b->tradable_wh;
		minted += b->minted_wh;
		retired += b->retired_wh;
		expired += b->expired_wh;
	}
	cr_assert_eq(in, out);
	uint64_t lots_tradable = 0;
	for (uint32_t i = 0; i < l.counts[1]; i++) {
		cr_assert_leq(l.certificates[i].wh_retired, l.certificates[i].wh);
		lots_tradable += l.certificates[i].wh - l.certificates[i].wh_retired;
	}
	cr_assert_eq(lots_tradable, tradable);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state, &totals);
	cr_assert_eq(totals.minted_wh, minted);
	cr_assert_eq(totals.retired_wh, retired);
	cr_assert_eq(totals.expired_wh, expired);
}

Test(settle_carbon, wh_are_conserved_over_a_long_random_sequence)
{
	struct faii_settle_carbon_limits limits = small_limits;
	limits.certificates_max = 24; /* small: a full table refuses too */
	limits.readings_max = 256;
	limits.owners_max = 8;
	limits.nodes_max = 8;
	struct faii_settle_carbon *state = state_new(&limits);
	uint64_t seed = 7, nonces[RANDOM_OPERATORS + 1] = {0};
	uint64_t retired_serials = 0;
	for (uint32_t step = 0; step < RANDOM_STEPS; step++) {
		random_step(state, &seed, step, nonces);
		if (step % 25 == 0)
			check_conservation(state, step / 40);
	}
	check_conservation(state, (RANDOM_STEPS - 1) / 40);
	/* Each retired Wh is logged once: the log's Wh are the retired balance. */
	struct faii_settle_carbon_retirement log[LIST_CAP];
	struct faii_settle_carbon_filter all = {0};
	uint32_t count = 0;
	uint64_t oldest = 0, from = 0;
	do {
		faii_settle_carbon_list_retirements(state, from, &all, log, LIST_CAP, &count,
		                                    &oldest);
		for (uint32_t i = 0; i < count; i++)
			retired_serials += log[i].wh;
		if (count > 0)
			from = log[count - 1].seq + 1;
	} while (count == LIST_CAP);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(state, &totals);
	cr_assert_eq(oldest, 0, "the log kept everything");
	cr_assert_eq(retired_serials, totals.retired_wh);
	cr_assert_gt(totals.retired_wh, 0);
	cr_assert_gt(totals.expired_wh, 0);
	cr_assert_gt(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_OVERDRAW), 0);
	cr_assert_gt(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_CERTIFICATES_FULL), 0);
	cr_assert_gt(faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_DOUBLE_MINT) +
	                     faii_settle_carbon_refused(state, FAII_SETTLE_CARBON_OVERLAP),
	             0);
	free(state);
}

Test(settle_carbon, limits_out_of_range_are_refused)
{
	struct faii_settle_carbon_limits limits = small_limits;
	limits.certificates_max = FAII_SETTLE_CARBON_CERTIFICATES_MAX + 1;
	cr_assert_eq(faii_settle_carbon_bytes(&limits), 0);
	limits = small_limits;
	limits.retirements_max = FAII_SETTLE_CARBON_RETIRE_LOTS_MAX - 1;
	cr_assert_eq(faii_settle_carbon_bytes(&limits), 0);
	uint64_t mem[64];
	struct faii_settle_carbon *state = NULL;
	cr_assert_eq(faii_settle_carbon_init(mem, sizeof(mem), &limits, &state), -EINVAL);
	cr_assert_eq(faii_settle_carbon_init(mem, sizeof(mem), &small_limits, &state), -ENOSPC);
}
