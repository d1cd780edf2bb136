/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for slashing's transactions and state machine
 * (ledger/settle/slash.c, slash_tx.c, compiled in to be instrumented).
 *
 * The input is a sequence of records: ctl u8 | len u16 (LE) | len bytes of
 * a transaction. ctl's low 2 bits are the author (0..3 of a committee of
 * four), its high 6 bits advance consortium time by that many hours. Each
 * transaction goes through its decoder; one that decodes must re-encode to
 * the same bytes (the formats are canonical: padding is zero, lengths
 * exact). It is then applied (a dispute unsigned: its signature is the
 * lead's to check), some rewards are escrowed and what is due is closed;
 * every execution must conserve what it took (also asserted inside) and
 * no more than the proposed amount may be taken.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "faii/bytes.h"
#include "faii/settle_slash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define FUZZ_PROPOSALS_MAX 16u
#define FUZZ_NODES_MAX     8u
#define HOUR_MS            3600000ull

/* "EQ" | author u8 | epoch u64 | round u64 holds, as in the unit test. */
static int fake_verify(void *ctx, const uint8_t *proof, uint32_t len, uint32_t *author,
                       uint64_t *epoch, uint64_t *round)
{
	(void)ctx;
	if (len != 19 || proof[0] != 'E' || proof[1] != 'Q')
		return -1;
	*author = proof[2];
	*epoch = faii_get_le64(proof + 3);
	*round = faii_get_le64(proof + 11);
	return 0;
}

static _Alignas(8) uint8_t state_mem[1u << 16];

static struct faii_settle_slash *fresh_state(void)
{
	struct faii_settle_slash_params params;
	faii_settle_slash_params_default(&params, 4);
	for (uint32_t i = 0; i < 4; i++) {
		params.reporter_account[i] = 100 + i;
		params.validator_node[i] = i;
	}
	params.verify_equivocation = fake_verify;
	struct faii_settle_slash_limits limits = {.proposals_max = FUZZ_PROPOSALS_MAX,
	                                          .nodes_max = FUZZ_NODES_MAX};
	size_t bytes = faii_settle_slash_bytes(&limits);
	CHECK(bytes > 0 && bytes <= sizeof(state_mem));
	struct faii_settle_slash *state =
	        faii_settle_slash_init(state_mem, sizeof(state_mem), &limits, &params);
	CHECK(state != NULL);
	return state;
}

static void round_trip(const uint8_t *tx, uint32_t len,
                       int (*encode)(const void *, uint8_t *, uint32_t, uint32_t *),
                       const void *decoded)
{
	static uint8_t again[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t again_len = 0;
	CHECK(encode(decoded, again, sizeof(again), &again_len) == 0);
	CHECK(again_len == len && memcmp(again, tx, len) == 0);
}

static int encode_slash(const void *tx, uint8_t *out, uint32_t cap, uint32_t *len)
{
	return faii_settle_slash_tx_encode(tx, out, cap, len);
}
static int encode_dispute(const void *tx, uint8_t *out, uint32_t cap, uint32_t *len)
{
	return faii_settle_dispute_tx_encode(tx, out, cap, len);
}
static int encode_vote(const void *tx, uint8_t *out, uint32_t cap, uint32_t *len)
{
	return faii_settle_dispute_vote_tx_encode(tx, out, cap, len);
}

static void apply(struct faii_settle_slash *state, const uint8_t *tx, uint32_t len, uint32_t author,
                  uint64_t now)
{
	static const uint8_t key[32] = {1};
	if (len < 1)
		return;
	if (tx[0] == FAII_SETTLE_TX_SLASH_PROPOSAL) {
		struct faii_settle_slash_tx d;
		if (faii_settle_slash_tx_decode(tx, len, &d) != 0)
			return;
		round_trip(tx, len, encode_slash, &d);
		struct faii_settle_slash_subject subject = {.registered = d.accused % 5 != 0,
		                                            .stake = (uint64_t)d.accused * 977,
		                                            .public_key = key};
		uint64_t id;
		(void)faii_settle_slash_propose(state, &d, author, &subject, now, 1, &id);
	} else if (tx[0] == FAII_SETTLE_TX_DISPUTE) {
		struct faii_settle_dispute_tx d;
		if (faii_settle_dispute_tx_decode(tx, len, &d) != 0)
			return;
		round_trip(tx, len, encode_dispute, &d);
		(void)faii_settle_slash_dispute(state, &d, now);
	} else if (tx[0] == FAII_SETTLE_TX_DISPUTE_VOTE) {
		struct faii_settle_dispute_vote_tx d;
		if (faii_settle_dispute_vote_tx_decode(tx, len, &d) != 0)
			return;
		round_trip(tx, len, encode_vote, &d);
		(void)faii_settle_slash_vote(state, &d, author, now);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faii_settle_slash *state = fresh_state();
	uint64_t now = 1700000000000ull;
	size_t at = 0;
	while (at + 3 <= size) {
		uint8_t ctl = data[at];
		uint32_t len = faii_get_le16(data + at + 1);
		at += 3;
		if (len > size - at)
			len = (uint32_t)(size - at);
		now += (uint64_t)(ctl >> 2) * HOUR_MS;
		apply(state, data + at, len, ctl & 3u, now);
		at += len;
		for (uint32_t node = 0; node < 8; node++)
			(void)faii_settle_slash_escrow_hold(state, node, ctl);
		struct faii_settle_slash_outcome out[4];
		size_t n;
		while ((n = faii_settle_slash_due(state, now, out, 4)) > 0) {
			for (size_t i = 0; i < n; i++) {
				CHECK(out[i].burned + out[i].reporter_amount + out[i].treasury ==
				      out[i].from_escrow + out[i].from_stake);
				CHECK(out[i].from_escrow + out[i].from_stake <= out[i].amount);
				CHECK(out[i].executed ||
				      out[i].from_escrow + out[i].from_stake == 0);
			}
			if (n < 4)
				break;
		}
	}
	struct faii_settle_slash_node_view nodes[FUZZ_NODES_MAX];
	long count = faii_settle_slash_nodes(state, false, nodes, FUZZ_NODES_MAX);
	CHECK(count >= 0);
	for (long i = 1; i < count; i++)
		CHECK(nodes[i - 1].node_id < nodes[i].node_id);
	return 0;
}
