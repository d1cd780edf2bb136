/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESG_ATTESTATION (kind 3, ledger/settle/attest_tx.c, state_attest.c): a
 * node's wire ATTEST message carried verbatim into the ledger. A message
 * built byte by byte here is the one the dataplane's encoder and signer
 * produce, and settlement's decoder reads it back; through the state
 * machine it mints the hand-computed Wh and renewable Wh for the node's
 * operator, lifts m_ESG exactly as a METER_READING of the same energy does,
 * and counts once per (meter, interval) whichever kind came first. Every
 * refusal is named and counted; a changed byte or another key never mints.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/protocol.h"
#include "faii/settle.h"
#include "faii/settle_attest.h"
#include "faii/settle_carbon.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "faii/wire.h"
#include "settle_test_params.h"

#define EPOCH_MS   10000u
#define T0         1000005000ull /* consortium time inside epoch 100000 */
#define NODE_A     7u            /* micro, operator 1 */
#define NODE_B     3u            /* XL, operator 2 */
#define OPERATOR_A 1u
#define METER      77u
#define TEST_NODES 16u
/* The ten minutes before T0, aligned: [1000200, 1000800) s. */
#define START_S ((T0 / 1000 - 600) / 600 * 600)

struct node_keys {
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
};

static void keys_for(struct node_keys *keys, uint8_t seed_byte)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(keys->public_key, keys->secret_key, seed);
}

/* ---- the bytes ---- */

static void be(uint8_t *at, unsigned bytes, uint64_t value)
{
	for (unsigned i = 0; i < bytes; i++)
		at[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
}

/* docs/protocol.md §3 and §5.4, offset by offset, then §6's signature over
 * bytes [0, 76). */
static void hand_built(uint8_t m[140], const struct node_keys *keys)
{
	static const uint16_t mix[8] = {400, 300, 200, 0, 0, 0, 0, 100};
	memset(m, 0, 140);
	be(m + 0, 2, 0xFA11), m[2] = 1, m[3] = 4, be(m + 4, 2, 140);
	be(m + 8, 4, NODE_A);                           /* node_id */
	be(m + 12, 4, 42);                              /* seq */
	be(m + 16, 8, (START_S + 600) * 1000000000ull); /* timestamp_ns: at the end */
	be(m + 24, 8, METER);                           /* meter_id */
	be(m + 32, 8, START_S);                         /* interval_start_s */
	be(m + 40, 4, 600);                             /* interval_s */
	be(m + 44, 4, 1234);                            /* energy_wh */
	be(m + 48, 4, 1100);                            /* pue_milli */
	be(m + 52, 4, 20);                              /* energy_to_work_milli */
	be(m + 56, 2, 200);                             /* grid_stress_permille */
	for (unsigned s = 0; s < 8; s++)
		be(m + 58 + 2 * s, 2, mix[s]);
	cr_assert_eq(crypto_sign_detached(m + 76, NULL, m, 76, keys->secret_key), 0);
}

static struct faii_settle_attest attest_of(uint32_t node, uint64_t start_s, uint32_t energy_wh,
                                           const uint16_t mix[8])
{
	struct faii_settle_attest a = {.node_id = node,
	                               .seq = 42,
	                               .timestamp_ns = (start_s + 600) * 1000000000ull,
	                               .meter_id = METER,
	                               .interval_start_s = start_s,
	                               .interval_s = 600,
	                               .energy_wh = energy_wh,
	                               .pue_milli = 1100,
	                               .energy_to_work_milli = 20,
	                               .grid_stress_permille = 200};
	memcpy(a.source_mix_permille, mix, sizeof(a.source_mix_permille));
	return a;
}

static const uint16_t mix_900[8] = {400, 300, 200, 0, 0, 0, 0, 100};
static const uint16_t mix_all[8] = {600, 400, 0, 0, 0, 0, 0, 0};

Test(settle_attest, a_hand_built_message_is_the_wire_encoders_and_decodes_and_verifies)
{
	struct node_keys a;
	keys_for(&a, 0xA1);
	uint8_t hand[140];
	hand_built(hand, &a);
	/* The dataplane's encoder and signer make the same bytes. */
	struct faii_attest wire = {.node_id = NODE_A,
	                           .seq = 42,
	                           .timestamp_ns = (START_S + 600) * 1000000000ull,
	                           .meter_id = METER,
	                           .interval_start_s = START_S,
	                           .interval_s = 600,
	                           .energy_wh = 1234,
	                           .pue_milli = 1100,
	                           .energy_to_work_milli = 20,
	                           .grid_stress_permille = 200};
	memcpy(wire.source_mix_permille, mix_900, sizeof(mix_900));
	uint8_t encoded[FAII_MSG_SIZE_MAX];
	size_t n = faii_encode_attest(encoded, sizeof(encoded), &wire);
	cr_assert_eq(n, 140);
	cr_assert_eq(faii_msg_sign(encoded, n, a.secret_key), 0);
	cr_assert_arr_eq(encoded, hand, 140);
	/* And settlement's signer too. */
	struct faii_settle_attest mine = attest_of(NODE_A, START_S, 1234, mix_900);
	faii_settle_attest_sign(&mine, a.secret_key);
	cr_assert_arr_eq(mine.message, hand, 140);

	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_attest_wrap(hand, 140, tx, sizeof(tx), &len), 0);
	cr_assert_eq(len, 142);
	cr_assert_eq(tx[0], 3);
	cr_assert_eq(tx[1], 1);
	cr_assert_arr_eq(tx + 2, hand, 140, "the message verbatim");
	struct faii_settle_attest got;
	enum faii_settle_attest_reason why = FAII_SETTLE_ATTEST_MALFORMED;
	cr_assert_eq(faii_settle_attest_decode(tx, len, &got, &why), 0);
	cr_assert_eq(why, FAII_SETTLE_ATTEST_OK);
	cr_assert_eq(got.node_id, NODE_A);
	cr_assert_eq(got.seq, 42);
	cr_assert_eq(got.meter_id, METER);
	cr_assert_eq(got.interval_start_s, START_S);
	cr_assert_eq(got.interval_s, 600);
	cr_assert_eq(got.energy_wh, 1234);
	cr_assert_eq(got.pue_milli, 1100);
	cr_assert_eq(got.energy_to_work_milli, 20);
	cr_assert_eq(got.grid_stress_permille, 200);
	cr_assert_arr_eq(got.source_mix_permille, mix_900, sizeof(mix_900));
	cr_assert_eq(faii_settle_attest_verify(&got, a.public_key), 0);
	/* 400 + 300 + 200 renewable per mille = 0.9 = 900 000 000 ppb. */
	cr_assert_eq(faii_settle_attest_renewable_ppb(&got), 900000000u);
	struct faii_settle_meter_reading reading;
	faii_settle_attest_reading(&got, &reading);
	cr_assert_eq(reading.energy_mwh, 1234000u);
	cr_assert_eq(reading.read_at_s, START_S + 600);
	/* Version 2's header is the same message for ATTEST (protocol.md §1). */
	tx[2 + 2] = 2;
	cr_assert_eq(faii_settle_attest_decode(tx, len, &got, NULL), 0);
	cr_assert_neq(faii_settle_attest_verify(&got, a.public_key), 0, "the header is signed");
}

/* The decoder's checks, each alone on a valid message (signature aside). */
struct bad_case {
	unsigned offset, bytes;
	uint64_t value;
	enum faii_settle_attest_reason why;
};

Test(settle_attest, every_malformed_field_is_refused_by_name)
{
	struct node_keys a;
	keys_for(&a, 0xA1);
	static const struct bad_case cases[] = {
	        {0, 2, 0xFA12, FAII_SETTLE_ATTEST_BAD_HEADER}, /* magic */
	        {2, 1, 3, FAII_SETTLE_ATTEST_BAD_HEADER},      /* version */
	        {3, 1, 3, FAII_SETTLE_ATTEST_BAD_HEADER},      /* a HEARTBEAT's type */
	        {4, 2, 141, FAII_SETTLE_ATTEST_BAD_HEADER},    /* length */
	        {6, 1, 1, FAII_SETTLE_ATTEST_BAD_HEADER},      /* flags */
	        {7, 1, 1, FAII_SETTLE_ATTEST_BAD_HEADER},      /* header reserved */
	        {8, 4, 0, FAII_SETTLE_ATTEST_BAD_NODE_ID},     /* node 0 */
	        {8, 4, 0x01000000, FAII_SETTLE_ATTEST_BAD_NODE_ID},
	        {16, 8, 0, FAII_SETTLE_ATTEST_BAD_TIMESTAMP},
	        {40, 4, 0, FAII_SETTLE_ATTEST_BAD_INTERVAL},
	        {40, 4, 7200, FAII_SETTLE_ATTEST_BAD_INTERVAL},         /* longer than an hour */
	        {40, 4, 700, FAII_SETTLE_ATTEST_BAD_INTERVAL},          /* does not divide 3600 */
	        {32, 8, START_S + 60, FAII_SETTLE_ATTEST_BAD_INTERVAL}, /* not aligned */
	        {48, 4, 999, FAII_SETTLE_ATTEST_BAD_PUE},
	        {52, 4, 0, FAII_SETTLE_ATTEST_BAD_ENERGY_TO_WORK},
	        {56, 2, 1001, FAII_SETTLE_ATTEST_BAD_GRID_STRESS},
	        {72, 2, 99, FAII_SETTLE_ATTEST_BAD_MIX},  /* sums to 999 */
	        {72, 2, 101, FAII_SETTLE_ATTEST_BAD_MIX}, /* sums to 1001 */
	        {74, 2, 1, FAII_SETTLE_ATTEST_RESERVED_NONZERO},
	        {24, 8, 0, FAII_SETTLE_ATTEST_BAD_METER},
	        /* 100 MW for 600 s is 16 666 666 Wh: one more is beyond it. */
	        {44, 4, 16666667, FAII_SETTLE_ATTEST_BAD_ENERGY},
	        {16, 8, (START_S + 599) * 1000000000ull, FAII_SETTLE_ATTEST_EARLY},
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint8_t tx[FAII_SETTLE_ATTEST_TX_BYTES] = {3, 1};
		hand_built(tx + 2, &a);
		be(tx + 2 + cases[k].offset, cases[k].bytes, cases[k].value);
		struct faii_settle_attest got;
		enum faii_settle_attest_reason why = FAII_SETTLE_ATTEST_OK;
		cr_assert_neq(faii_settle_attest_decode(tx, sizeof(tx), &got, &why), 0, "case %u",
		              k);
		cr_assert_eq(why, cases[k].why, "case %u: %s, expected %s", k,
		             faii_settle_attest_reason_name(why),
		             faii_settle_attest_reason_name(cases[k].why));
	}
	/* 16 666 666 Wh is exactly within it. */
	uint8_t tx[FAII_SETTLE_ATTEST_TX_BYTES] = {3, 1};
	hand_built(tx + 2, &a);
	be(tx + 2 + 44, 4, 16666666);
	struct faii_settle_attest got;
	cr_assert_eq(faii_settle_attest_decode(tx, sizeof(tx), &got, NULL), 0);
	/* The envelope: kind, version, length. */
	enum faii_settle_attest_reason why = FAII_SETTLE_ATTEST_OK;
	tx[0] = FAII_SETTLE_TX_METER_READING;
	cr_assert_eq(faii_settle_attest_decode(tx, sizeof(tx), &got, &why), -EBADMSG);
	cr_assert_eq(why, FAII_SETTLE_ATTEST_MALFORMED);
	tx[0] = 3, tx[1] = 2;
	cr_assert_eq(faii_settle_attest_decode(tx, sizeof(tx), &got, &why), -EBADMSG);
	tx[1] = 1;
	cr_assert_eq(faii_settle_attest_decode(tx, sizeof(tx) - 1, &got, &why), -EBADMSG);
	cr_assert_eq(faii_settle_attest_wrap(tx + 2, 139, tx, sizeof(tx), &(uint32_t){0}), -EINVAL);
	cr_assert_str_eq(faii_settle_attest_reason_name(FAII_SETTLE_ATTEST_BAD_MIX),
	                 "bad_energy_mix");
	cr_assert_str_eq(faii_settle_attest_reason_name(FAII_SETTLE_ATTEST_REASON_END), "unknown");
}

/* ---- through the state machine ---- */

struct fixture {
	void *mem;
	struct faii_settle_state *state;
	uint64_t sequence;
	uint64_t slice[4];
	struct node_keys a, b;
};

static enum faii_settle_outcome apply(struct fixture *fx, uint32_t author, const uint8_t *tx,
                                      uint32_t len)
{
	struct faii_settle_origin origin = {.sequence = ++fx->sequence, .author = author};
	return faii_settle_apply(fx->state, &origin, tx, len);
}

static void register_with_key(struct fixture *fx, uint32_t node, uint32_t operator_id,
                              uint8_t node_class, uint32_t capacity, const struct node_keys *keys)
{
	struct faii_settle_tx_node tx_node = {.node_id = node,
	                                      .operator_id = operator_id,
	                                      .node_class = node_class,
	                                      .capacity_units = capacity};
	memcpy(tx_node.public_key, keys->public_key, sizeof(tx_node.public_key));
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_node_encode(&tx_node, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(fx, 0, tx, len), FAII_SETTLE_APPLIED);
}

static void summary(struct fixture *fx, uint32_t author, uint64_t end_ms,
                    const struct faii_settle_work_entry *entries, uint16_t count)
{
	struct faii_settle_work_header header = {.slice = ++fx->slice[author],
	                                         .slice_end_ms = end_ms,
	                                         .parts = 1,
	                                         .entry_count = count,
	                                         .queue_ppb = {0, (uint32_t)P(0.2), 0, 0}};
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_tx_work_encode(&header, entries, tx, sizeof(tx), &len), 0);
	cr_assert_eq(apply(fx, author, tx, len), FAII_SETTLE_APPLIED);
}

/* test_settle_state.c's worked epoch (docs/settlement.md) with real keys:
 * A (micro, operator 1) and B (XL, operator 2), the clock at T0. */
static void fixture_open(struct fixture *fx)
{
	struct faii_settle_config config = {.validators = 4,
	                                    .nodes_max = TEST_NODES,
	                                    .epoch_ms = EPOCH_MS,
	                                    .activation_delay_ms = 20000};
	config.params = test_params();
	config.params.queue_ppb[1] = 0;
	size_t bytes = faii_settle_state_bytes(TEST_NODES);
	memset(fx, 0, sizeof(*fx));
	fx->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	cr_assert_not_null(fx->mem);
	const char *field = NULL;
	cr_assert_eq(faii_settle_state_init(fx->mem, bytes, &config, &fx->state, &field), 0);
	keys_for(&fx->a, 0xA1);
	keys_for(&fx->b, 0xB2);
	register_with_key(fx, NODE_A, OPERATOR_A, 0, 1, &fx->a);
	register_with_key(fx, NODE_B, 2, 4, 20, &fx->b);
	struct faii_settle_work_entry entries[2];
	memset(entries, 0, sizeof(entries));
	entries[0].node_id = NODE_A;
	entries[0].heartbeats_expected = 100, entries[0].heartbeats_seen = 99;
	entries[0].tier[0] = (struct faii_settle_work_tier){
	        .dispatched = 100, .answered = 100, .verified_work = 100, .slo_hits = 95};
	entries[1].node_id = NODE_B;
	entries[1].heartbeats_expected = 100, entries[1].heartbeats_seen = 100;
	entries[1].disagreements = 1;
	entries[1].tier[1] = (struct faii_settle_work_tier){
	        .dispatched = 500, .answered = 500, .verified_work = 500, .slo_hits = 450};
	summary(fx, 0, T0, entries, 2);
	for (uint32_t v = 1; v < 4; v++)
		summary(fx, v, T0, NULL, 0);
}

static void epoch_end(struct fixture *fx)
{
	for (uint32_t v = 0; v < 4; v++)
		summary(fx, v, T0 + EPOCH_MS, NULL, 0);
}

static enum faii_settle_outcome submit(struct fixture *fx, const struct faii_settle_attest *a)
{
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len = 0;
	cr_assert_eq(faii_settle_attest_encode(a, tx, sizeof(tx), &len), 0);
	return apply(fx, 2, tx, len);
}

static enum faii_settle_outcome attest(struct fixture *fx, uint32_t energy_wh,
                                       const uint16_t mix[8])
{
	struct faii_settle_attest a = attest_of(NODE_A, START_S, energy_wh, mix);
	faii_settle_attest_sign(&a, fx->a.secret_key);
	return submit(fx, &a);
}

static enum faii_settle_outcome meter_reading(struct fixture *fx, uint64_t mwh)
{
	struct faii_settle_meter_reading reading = {.node_id = NODE_A,
	                                            .meter_id = METER,
	                                            .interval_start_s = START_S,
	                                            .interval_s = 600,
	                                            .energy_mwh = mwh,
	                                            .renewable_ppb = P(1.0),
	                                            .location = "DE",
	                                            .read_at_s = START_S + 600};
	faii_settle_meter_sign(&reading, fx->a.secret_key);
	uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_meter_encode(&reading, tx, sizeof(tx), &len), 0);
	return apply(fx, 1, tx, len);
}

static uint64_t counted(const struct fixture *fx, enum faii_settle_attest_reason reason)
{
	return faii_settle_attest_count(fx->state, reason);
}

Test(settle_attest, an_attestation_mints_its_renewable_wh_for_the_nodes_operator)
{
	struct fixture fx;
	fixture_open(&fx);
	/* 1234 Wh at 90 % renewable: floor(1234 x 900 000 000 / 10^9) =
	 * floor(1110.6) = 1110 Wh certified, 1234 Wh of the node's energy. */
	cr_assert_eq(attest(&fx, 1234, mix_900), FAII_SETTLE_APPLIED);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_OK), 1);
	const struct faii_settle_carbon *carbon = faii_settle_state_carbon(fx.state);
	struct faii_settle_carbon_certificate cert;
	struct faii_settle_carbon_filter all = {0};
	struct faii_settle_carbon_cursor from = {0};
	uint32_t count = 0, total = 0;
	cr_assert_eq(
	        faii_settle_carbon_list_certificates(carbon, &all, &from, &cert, 1, &count, &total),
	        0);
	cr_assert_eq(count, 1);
	cr_assert_eq(cert.meter_id, METER);
	cr_assert_eq(cert.interval_start_s, START_S);
	cr_assert_eq(cert.interval_s, 600);
	cr_assert_eq(cert.wh, 1110);
	cr_assert_eq(cert.owner, OPERATOR_A);
	cr_assert_eq(cert.node_id, NODE_A);
	static const uint8_t no_location[FAII_SETTLE_METER_LOCATION] = {0};
	cr_assert_arr_eq(cert.location, no_location, sizeof(no_location));
	struct faii_settle_carbon_node_epoch node;
	cr_assert_eq(faii_settle_carbon_node_epoch(carbon, NODE_A, 100000, &node), 0);
	cr_assert_eq(node.energy_wh, 1234);
	cr_assert_eq(node.renewable_wh, 1110);
	cr_assert_eq(node.readings, 1);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.applied[FAII_SETTLE_TX_ESG_ATTESTATION], 1);
	free(fx.mem);
}

Test(settle_attest, rounding_is_down_on_the_renewable_share)
{
	struct fixture fx;
	fixture_open(&fx);
	/* 999 Wh x 333 / 1000 = 332.667: 332 Wh. */
	static const uint16_t mix_333[8] = {0, 0, 0, 0, 0, 0, 333, 667};
	cr_assert_eq(attest(&fx, 999, mix_333), FAII_SETTLE_APPLIED);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(faii_settle_state_carbon(fx.state), &totals);
	cr_assert_eq(totals.minted_wh, 332);
	cr_assert_eq(totals.energy_mwh, 999000);
	free(fx.mem);
}

Test(settle_attest, an_attestation_lifts_esg_exactly_as_the_same_meter_reading)
{
	/* test_settle_state.c's certified_renewable_energy test with the 50 Wh
	 * attested instead of read: A is paid 2309 (2045 without them), B 28516. */
	struct fixture fx;
	fixture_open(&fx);
	cr_assert_eq(attest(&fx, 50, mix_all), FAII_SETTLE_APPLIED);
	epoch_end(&fx);
	struct faii_settle_payout_leaf leaf;
	struct faii_settle_proof proof;
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_A, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 2309);
	cr_assert_eq(faii_settle_payout_proof(fx.state, 100000, NODE_B, &leaf, &proof), 0);
	cr_assert_eq(leaf.amount, 28516);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.carbon_retired_wh, 50);
	free(fx.mem);
}

Test(settle_attest, a_meter_reading_and_an_attestation_of_one_interval_count_once)
{
	struct fixture fx;
	fixture_open(&fx);
	cr_assert_eq(meter_reading(&fx, 50000), FAII_SETTLE_APPLIED);
	cr_assert_eq(attest(&fx, 50, mix_all), FAII_SETTLE_REFUSED_CARBON);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_CARBON), 1);
	struct faii_settle_carbon *carbon =
	        (struct faii_settle_carbon *)faii_settle_state_carbon(fx.state);
	cr_assert_eq(faii_settle_carbon_refused(carbon, FAII_SETTLE_CARBON_DOUBLE_MINT), 1);
	struct faii_settle_carbon_evidence evidence[2];
	cr_assert_eq(faii_settle_carbon_evidence_drain(carbon, evidence, 2), 1);
	cr_assert_eq(evidence[0].reason, FAII_SETTLE_CARBON_DOUBLE_MINT);
	cr_assert_eq(evidence[0].meter_id, METER);
	cr_assert_eq(evidence[0].interval_start_s, START_S);
	cr_assert(!evidence[0].replay, "another transaction than the first");
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(carbon, &totals);
	cr_assert_eq(totals.minted_wh, 50);
	cr_assert_eq(totals.energy_mwh, 50000, "the node's energy counted once");
	free(fx.mem);

	/* The other way round, and the same attestation again (a replay). */
	fixture_open(&fx);
	cr_assert_eq(attest(&fx, 50, mix_all), FAII_SETTLE_APPLIED);
	cr_assert_eq(meter_reading(&fx, 50000), FAII_SETTLE_REFUSED_CARBON);
	cr_assert_eq(attest(&fx, 50, mix_all), FAII_SETTLE_REFUSED_CARBON);
	carbon = (struct faii_settle_carbon *)faii_settle_state_carbon(fx.state);
	cr_assert_eq(faii_settle_carbon_refused(carbon, FAII_SETTLE_CARBON_DOUBLE_MINT), 2);
	cr_assert_eq(faii_settle_carbon_evidence_drain(carbon, evidence, 2), 2);
	cr_assert(!evidence[0].replay);
	cr_assert(evidence[1].replay, "the same bytes again");
	free(fx.mem);
}

Test(settle_attest, a_bad_signature_another_key_or_a_changed_byte_never_mints)
{
	struct fixture fx;
	fixture_open(&fx);
	struct faii_settle_attest a = attest_of(NODE_A, START_S, 1234, mix_900);
	faii_settle_attest_sign(&a, fx.a.secret_key);
	struct faii_settle_attest bad = a;
	bad.message[76] ^= 1; /* the signature */
	cr_assert_eq(submit(&fx, &bad), FAII_SETTLE_REFUSED_BAD_SIGNATURE);
	struct faii_settle_attest other = a;
	faii_settle_attest_sign(&other, fx.b.secret_key); /* B's key for A's message */
	cr_assert_eq(submit(&fx, &other), FAII_SETTLE_REFUSED_BAD_SIGNATURE);
	/* Every byte of the signed part changed in turn, where the change still
	 * decodes: refused by the signature, never minted. */
	uint32_t signature_refusals = 2;
	for (unsigned at = 8; at < 76; at++) {
		struct faii_settle_attest tampered = a;
		tampered.message[at] ^= 0x01;
		uint8_t tx[FAII_SETTLE_TX_BYTES_MAX];
		uint32_t len = 0;
		cr_assert_eq(faii_settle_attest_encode(&tampered, tx, sizeof(tx), &len), 0);
		struct faii_settle_attest probe;
		bool decodes = faii_settle_attest_decode(tx, len, &probe, NULL) == 0;
		enum faii_settle_outcome out = apply(&fx, 2, tx, len);
		cr_assert_neq(out, FAII_SETTLE_APPLIED, "byte %u", at);
		if (!decodes) {
			cr_assert_eq(out, FAII_SETTLE_REFUSED_MALFORMED, "byte %u", at);
		} else if (probe.node_id == NODE_A) {
			cr_assert_eq(out, FAII_SETTLE_REFUSED_BAD_SIGNATURE, "byte %u", at);
			signature_refusals++;
		}
	}
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_BAD_SIGNATURE), signature_refusals);
	/* seq, most of the timestamp, meter, energy, PUE, energy to work and
	 * grid stress still decode changed (the rest are ranges or alignment). */
	cr_assert_gt(signature_refusals, 25, "%u", signature_refusals);
	struct faii_settle_carbon_totals totals;
	faii_settle_carbon_totals(faii_settle_state_carbon(fx.state), &totals);
	cr_assert_eq(totals.minted_wh, 0);
	cr_assert_eq(totals.readings, 0);
	/* The genuine one still mints afterwards. */
	cr_assert_eq(submit(&fx, &a), FAII_SETTLE_APPLIED);
	free(fx.mem);
}

Test(settle_attest, refusals_before_the_registry_are_counted_by_name)
{
	struct fixture fx;
	fixture_open(&fx);
	/* A mix summing to 999, signed by the node: refused by the decoder. */
	static const uint16_t mix_999[8] = {400, 300, 200, 0, 0, 0, 0, 99};
	cr_assert_eq(attest(&fx, 1234, mix_999), FAII_SETTLE_REFUSED_MALFORMED);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_BAD_MIX), 1);
	/* An unregistered node, well signed. */
	struct node_keys c;
	keys_for(&c, 0xC3);
	struct faii_settle_attest a = attest_of(99, START_S, 1234, mix_900);
	faii_settle_attest_sign(&a, c.secret_key);
	cr_assert_eq(submit(&fx, &a), FAII_SETTLE_REFUSED_UNKNOWN_NODE);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_UNKNOWN_NODE), 1);
	/* An interval ending beyond consortium time + 5 min: the registry's
	 * `future`, counted there and as `carbon` here. */
	a = attest_of(NODE_A, START_S + 3600, 1234, mix_900);
	faii_settle_attest_sign(&a, fx.a.secret_key);
	cr_assert_eq(submit(&fx, &a), FAII_SETTLE_REFUSED_CARBON);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_CARBON), 1);
	cr_assert_eq(faii_settle_carbon_refused(faii_settle_state_carbon(fx.state),
	                                        FAII_SETTLE_CARBON_FUTURE),
	             1);
	cr_assert_eq(counted(&fx, FAII_SETTLE_ATTEST_OK), 0);
	struct faii_settle_stats stats;
	faii_settle_get_stats(fx.state, &stats);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_MALFORMED], 1);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_UNKNOWN_NODE], 1);
	cr_assert_eq(stats.refused[FAII_SETTLE_REFUSED_CARBON], 1);
	free(fx.mem);
}
