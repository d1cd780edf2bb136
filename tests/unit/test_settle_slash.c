/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slashing with disputes (ledger/settle/slash.c, slash_tx.c; DePX §3.6.1):
 * the DePX rates per offense, execution exactly when the dispute window
 * ends, disputes held then dismissed (escrow released) or upheld
 * (executed, from escrow first), the 2f+1 vote rule, duplicate evidence,
 * the 50/30/20 split conserving every unit, the `slashed` status, the
 * transactions' formats and sorted, order-independent listings.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_slash.h"

#define P      FAII_SETTLE_PPB_ONE
#define DAY    86400000ull
#define WINDOW (24 * 3600000ull)
#define T0     (20000 * DAY)
#define NODE   7u
#define STAKE  1000000ull

/* A stand-in for the DAG's proof check: "EQ" | author u8 | epoch u64 |
 * round u64 holds; anything else does not. */
static int fake_verify(void *ctx, const uint8_t *proof, uint32_t len, uint32_t *author,
                       uint64_t *epoch, uint64_t *round)
{
	(void)ctx;
	if (len != 19 || proof[0] != 'E' || proof[1] != 'Q')
		return -EKEYREJECTED;
	*author = proof[2];
	*epoch = faii_get_le64(proof + 3);
	*round = faii_get_le64(proof + 11);
	return 0;
}

static void fake_proof(uint8_t proof[19], uint8_t author, uint64_t epoch, uint64_t round)
{
	proof[0] = 'E';
	proof[1] = 'Q';
	proof[2] = author;
	faii_put_le64(proof + 3, epoch);
	faii_put_le64(proof + 11, round);
}

struct fixture {
	void *mem;
	struct faii_settle_slash *state;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	struct faii_settle_slash_subject subject;
};

/* n = 4, f = 1: a decision takes 3 votes. Validator i's operator is 100 + i
 * and its bond is node 900 + i. */
static void setup(struct fixture *fx, uint32_t proposals_max)
{
	cr_assert_geq(sodium_init(), 0);
	struct faii_settle_slash_params params;
	faii_settle_slash_params_default(&params, 4);
	cr_assert_eq(params.faulty_max, 1);
	for (uint32_t i = 0; i < 4; i++) {
		params.reporter_account[i] = 100 + i;
		params.validator_node[i] = 900 + i;
	}
	params.verify_equivocation = fake_verify;
	struct faii_settle_slash_limits limits = {.proposals_max = proposals_max, .nodes_max = 64};
	size_t bytes = faii_settle_slash_bytes(&limits);
	cr_assert_gt(bytes, 0);
	fx->mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	fx->state = faii_settle_slash_init(fx->mem, bytes, &limits, &params);
	cr_assert_not_null(fx->state);
	crypto_sign_keypair(fx->pk, fx->sk);
	fx->subject = (struct faii_settle_slash_subject){
	        .registered = true, .stake = STAKE, .public_key = fx->pk};
}

static struct faii_settle_slash_tx disagreement(uint32_t accused, uint64_t task)
{
	struct faii_settle_slash_tx tx = {.accused = accused,
	                                  .offense = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT,
	                                  .task_id = task};
	memset(tx.majority_hash, 0xaa, sizeof(tx.majority_hash));
	memset(tx.node_hash, 0xbb, sizeof(tx.node_hash));
	return tx;
}

/* Proposes a disagreement against NODE from validator 1 at `now`. */
static uint64_t propose(struct fixture *fx, uint64_t task, uint64_t now)
{
	struct faii_settle_slash_tx tx = disagreement(NODE, task);
	uint64_t id = 0;
	cr_assert_eq(faii_settle_slash_propose(fx->state, &tx, 1, &fx->subject, now, 3, &id),
	             FAII_SETTLE_SLASH_ACCEPTED);
	return id;
}

static enum faii_settle_slash_refusal dispute(struct fixture *fx, uint64_t id, uint64_t now)
{
	/* Through the bytes, as the lead does: sign, verify, decode, apply. */
	static const uint8_t reason[] = "my answer matched the reference";
	struct faii_settle_dispute_tx tx = {
	        .proposal_id = id, .node_id = NODE, .reason = reason, .reason_len = sizeof(reason)};
	uint8_t bytes[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	cr_assert_eq(faii_settle_dispute_tx_sign(&tx, fx->sk, bytes, sizeof(bytes), &len), 0);
	cr_assert_eq(faii_settle_dispute_tx_verify(bytes, len, fx->pk), 0);
	struct faii_settle_dispute_tx decoded;
	cr_assert_eq(faii_settle_dispute_tx_decode(bytes, len, &decoded), 0);
	return faii_settle_slash_dispute(fx->state, &decoded, now);
}

static enum faii_settle_slash_refusal vote(struct fixture *fx, uint64_t id, uint32_t author,
                                           uint8_t verdict, uint64_t now)
{
	struct faii_settle_dispute_vote_tx tx = {.proposal_id = id, .verdict = verdict};
	uint8_t bytes[64];
	uint32_t len;
	cr_assert_eq(faii_settle_dispute_vote_tx_encode(&tx, bytes, sizeof(bytes), &len), 0);
	struct faii_settle_dispute_vote_tx decoded;
	cr_assert_eq(faii_settle_dispute_vote_tx_decode(bytes, len, &decoded), 0);
	return faii_settle_slash_vote(fx->state, &decoded, author, now);
}

static uint64_t refused(struct fixture *fx, enum faii_settle_slash_refusal reason)
{
	struct faii_settle_slash_stats stats;
	faii_settle_slash_get_stats(fx->state, &stats);
	return stats.refused[reason];
}

static void conserved(const struct faii_settle_slash_outcome *o)
{
	cr_assert_eq(o->burned + o->reporter_amount + o->treasury, o->from_escrow + o->from_stake);
	cr_assert_leq(o->from_escrow + o->from_stake, o->amount);
}

Test(settle_slash, the_depx_rates)
{
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT, 0),
	             100000000ull);
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_INVALID_SIGNATURE, 0),
	             50000000ull);
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_UNDER_PERFORMANCE, 0),
	             80000000ull);
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_EQUIVOCATION, 0), P);
	/* Downtime: 2 % per point below 95 %: 93.5 % is 1.5 points, 3 %. */
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_DOWNTIME, 935000000ull),
	             30000000ull);
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_DOWNTIME, 950000000ull), 0);
	/* 40 % uptime is 55 points: 110 %, capped at the whole stake. */
	cr_assert_eq(faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_DOWNTIME, 400000000ull), P);
	cr_assert(faii_settle_slash_is_byzantine(FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT));
	cr_assert(faii_settle_slash_is_byzantine(FAII_SETTLE_SLASH_EQUIVOCATION));
	cr_assert(faii_settle_slash_is_byzantine(FAII_SETTLE_SLASH_INVALID_SIGNATURE));
	cr_assert_not(faii_settle_slash_is_byzantine(FAII_SETTLE_SLASH_DOWNTIME));
	cr_assert_not(faii_settle_slash_is_byzantine(FAII_SETTLE_SLASH_UNDER_PERFORMANCE));
}

Test(settle_slash, executes_when_its_window_ends_not_one_ms_before)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t id = propose(&fx, 1, T0);
	cr_assert_eq(id, 1);
	struct faii_settle_slash_view view;
	cr_assert_eq(faii_settle_slash_get(fx.state, id, &view), 0);
	cr_assert_eq(view.amount, 100000); /* 10 % of 1 000 000 */
	cr_assert_eq(view.deadline_ms, T0 + WINDOW);
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW - 1, out, 4), 0);
	cr_assert(faii_settle_slash_escrowed(fx.state, NODE));
	cr_assert_not(faii_settle_slash_is_slashed(fx.state, NODE));
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 1);
	cr_assert_eq(out[0].proposal_id, id);
	cr_assert(out[0].executed);
	cr_assert(out[0].byzantine);
	/* 100 000: 50 000 burned, 30 000 to validator 1's operator, 20 000 to
	 * the treasury. */
	cr_assert_eq(out[0].from_stake, 100000);
	cr_assert_eq(out[0].from_escrow, 0);
	cr_assert_eq(out[0].burned, 50000);
	cr_assert_eq(out[0].reporter_amount, 30000);
	cr_assert_eq(out[0].reporter_account, 101);
	cr_assert_eq(out[0].treasury, 20000);
	conserved(&out[0]);
	cr_assert(faii_settle_slash_is_slashed(fx.state, NODE));
	cr_assert_not(faii_settle_slash_escrowed(fx.state, NODE));
	/* Closed: nothing more is due, ever. */
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 10 * WINDOW, out, 4), 0);
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.state, FAII_SETTLE_SLASH_EXECUTED);
	free(fx.mem);
}

Test(settle_slash, a_dispute_is_accepted_only_within_the_window)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t late = propose(&fx, 1, T0);
	uint64_t in_time = propose(&fx, 2, T0 + 1);
	cr_assert_eq(dispute(&fx, late, T0 + WINDOW), FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED);
	cr_assert_eq(dispute(&fx, in_time, T0 + WINDOW), FAII_SETTLE_SLASH_ACCEPTED);
	cr_assert_eq(dispute(&fx, in_time, T0 + WINDOW),
	             FAII_SETTLE_SLASH_REFUSED_ALREADY_DISPUTED);
	cr_assert_eq(dispute(&fx, 99, T0 + WINDOW), FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL);
	/* Another node cannot contest it. */
	struct faii_settle_dispute_tx other = {.proposal_id = in_time, .node_id = NODE + 1};
	cr_assert_eq(faii_settle_slash_dispute(fx.state, &other, T0 + WINDOW),
	             FAII_SETTLE_SLASH_REFUSED_NOT_ACCUSED);
	cr_assert_eq(refused(&fx, FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED), 1);
	cr_assert_eq(refused(&fx, FAII_SETTLE_SLASH_REFUSED_NOT_ACCUSED), 1);
	/* The late one executes; the disputed one is held. */
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW + 1, out, 4), 1);
	cr_assert_eq(out[0].proposal_id, late);
	cr_assert_eq(dispute(&fx, late, T0 + WINDOW + 2), FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED);
	free(fx.mem);
}

Test(settle_slash, a_disputed_slash_is_held_then_dismissed_and_the_escrow_released)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t id = propose(&fx, 1, T0);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE, 5000), 0);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE + 1, 5000), -ENOENT);
	cr_assert_eq(dispute(&fx, id, T0 + 10), FAII_SETTLE_SLASH_ACCEPTED);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE, 2000), 0);
	struct faii_settle_slash_outcome out[4];
	/* The window ends: disputed, so nothing executes; rewards stay held. */
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 0);
	cr_assert(faii_settle_slash_escrowed(fx.state, NODE));
	cr_assert_eq(vote(&fx, id, 0, FAII_SETTLE_SLASH_DISMISS, T0 + WINDOW), 0);
	cr_assert_eq(vote(&fx, id, 2, FAII_SETTLE_SLASH_DISMISS, T0 + WINDOW), 0);
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 0);
	cr_assert_eq(vote(&fx, id, 3, FAII_SETTLE_SLASH_DISMISS, T0 + WINDOW), 0);
	struct faii_settle_slash_view view;
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.state, FAII_SETTLE_SLASH_REJECTED);
	cr_assert_eq(view.votes_dismiss, 3);
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 1);
	cr_assert_not(out[0].executed);
	cr_assert_eq(out[0].escrow_released, 7000);
	cr_assert_eq(out[0].from_stake + out[0].from_escrow + out[0].burned, 0);
	cr_assert_not(faii_settle_slash_escrowed(fx.state, NODE));
	cr_assert_not(faii_settle_slash_is_slashed(fx.state, NODE));
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.state, FAII_SETTLE_SLASH_DISMISSED);
	/* A vote after the decision changes nothing. */
	cr_assert_eq(vote(&fx, id, 1, FAII_SETTLE_SLASH_UPHOLD, T0 + WINDOW),
	             FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED);
	free(fx.mem);
}

Test(settle_slash, an_upheld_slash_executes_from_escrow_first)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t id = propose(&fx, 1, T0);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE, 30000), 0);
	cr_assert_eq(dispute(&fx, id, T0 + 10), FAII_SETTLE_SLASH_ACCEPTED);
	for (uint32_t v = 0; v < 3; v++)
		cr_assert_eq(vote(&fx, id, v, FAII_SETTLE_SLASH_UPHOLD, T0 + 20), 0);
	/* Decided before the window ended: it executes at once. */
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 21, out, 4), 1);
	cr_assert(out[0].executed);
	/* 100 000 due: 30 000 from escrow, 70 000 from the stake, nothing left
	 * to release. */
	cr_assert_eq(out[0].from_escrow, 30000);
	cr_assert_eq(out[0].from_stake, 70000);
	cr_assert_eq(out[0].escrow_released, 0);
	conserved(&out[0]);
	struct faii_settle_slash_node_view nodes[4];
	cr_assert_eq(faii_settle_slash_nodes(fx.state, true, nodes, 4), 1);
	cr_assert_eq(nodes[0].node_id, NODE);
	cr_assert_eq(nodes[0].stake, STAKE - 70000);
	free(fx.mem);
}

Test(settle_slash, escrow_beyond_the_amount_goes_back_to_the_node)
{
	struct fixture fx;
	setup(&fx, 16);
	propose(&fx, 1, T0);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE, 150000), 0);
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 1);
	cr_assert_eq(out[0].from_escrow, 100000);
	cr_assert_eq(out[0].from_stake, 0);
	cr_assert_eq(out[0].escrow_released, 50000);
	conserved(&out[0]);
	free(fx.mem);
}

Test(settle_slash, escrow_is_released_only_when_the_last_open_proposal_closes)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t first = propose(&fx, 1, T0);
	uint64_t second = propose(&fx, 2, T0 + 1);
	cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, NODE, 1000), 0);
	cr_assert_eq(dispute(&fx, first, T0 + 2), 0);
	for (uint32_t v = 0; v < 3; v++)
		cr_assert_eq(vote(&fx, first, v, FAII_SETTLE_SLASH_DISMISS, T0 + 3), 0);
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 4, out, 4), 1);
	cr_assert_eq(out[0].proposal_id, first);
	cr_assert_eq(out[0].escrow_released, 0); /* the second is still open */
	cr_assert(faii_settle_slash_escrowed(fx.state, NODE));
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 1 + WINDOW, out, 4), 1);
	cr_assert_eq(out[0].proposal_id, second);
	cr_assert_eq(out[0].from_escrow, 1000);
	free(fx.mem);
}

Test(settle_slash, two_f_votes_decide_nothing_and_undecided_is_dismissed)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t id = propose(&fx, 1, T0);
	cr_assert_eq(dispute(&fx, id, T0 + 1), 0);
	cr_assert_eq(vote(&fx, id, 0, FAII_SETTLE_SLASH_UPHOLD, T0 + 2), 0);
	cr_assert_eq(vote(&fx, id, 1, FAII_SETTLE_SLASH_UPHOLD, T0 + 2), 0);
	cr_assert_eq(vote(&fx, id, 1, FAII_SETTLE_SLASH_UPHOLD, T0 + 2),
	             FAII_SETTLE_SLASH_REFUSED_ALREADY_VOTED);
	cr_assert_eq(vote(&fx, id, 1, FAII_SETTLE_SLASH_DISMISS, T0 + 2),
	             FAII_SETTLE_SLASH_REFUSED_ALREADY_VOTED);
	cr_assert_eq(vote(&fx, id, 4, FAII_SETTLE_SLASH_UPHOLD, T0 + 2),
	             FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR);
	cr_assert_eq(vote(&fx, id, 2, FAII_SETTLE_SLASH_DISMISS, T0 + 2), 0);
	cr_assert_eq(vote(&fx, id, 3, FAII_SETTLE_SLASH_DISMISS, T0 + 2), 0);
	/* 2 for, 2 against: 2f = 2 of either decides nothing. */
	struct faii_settle_slash_view view;
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.state, FAII_SETTLE_SLASH_DISPUTED);
	struct faii_settle_slash_outcome out[4];
	uint64_t end = T0 + WINDOW + WINDOW; /* dispute window, then the vote window */
	cr_assert_eq(faii_settle_slash_due(fx.state, end - 1, out, 4), 0);
	cr_assert_eq(faii_settle_slash_due(fx.state, end, out, 4), 1);
	cr_assert_not(out[0].executed);
	cr_assert_eq(vote(&fx, id, 0, FAII_SETTLE_SLASH_UPHOLD, end),
	             FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED);
	free(fx.mem);
}

Test(settle_slash, a_vote_after_the_vote_window_is_refused)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t id = propose(&fx, 1, T0);
	cr_assert_eq(vote(&fx, id, 0, FAII_SETTLE_SLASH_UPHOLD, T0 + 1),
	             FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED);
	cr_assert_eq(dispute(&fx, id, T0 + 1), 0);
	cr_assert_eq(vote(&fx, id, 0, FAII_SETTLE_SLASH_UPHOLD, T0 + 2 * WINDOW - 1), 0);
	cr_assert_eq(vote(&fx, id, 1, FAII_SETTLE_SLASH_UPHOLD, T0 + 2 * WINDOW),
	             FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED);
	free(fx.mem);
}

Test(settle_slash, duplicate_evidence_is_refused)
{
	struct fixture fx;
	setup(&fx, 16);
	propose(&fx, 1, T0);
	struct faii_settle_slash_tx tx = disagreement(NODE, 1);
	uint64_t id = 0;
	/* The same evidence from another validator: refused. */
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 2, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	cr_assert_eq(id, 0);
	/* Even after it executed. */
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 1);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 2, &fx.subject, T0 + WINDOW, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	/* Another task, or another node on the same task: new evidence. */
	tx = disagreement(NODE, 2);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 2, &fx.subject, T0 + WINDOW, 3, &id),
	             0);
	tx = disagreement(NODE + 1, 1);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 2, &fx.subject, T0 + WINDOW, 3, &id),
	             0);
	cr_assert_eq(id, 3);
	cr_assert_eq(refused(&fx, FAII_SETTLE_SLASH_REFUSED_DUPLICATE), 2);
	free(fx.mem);
}

Test(settle_slash, a_disagreement_needs_two_different_hashes)
{
	struct fixture fx;
	setup(&fx, 16);
	struct faii_settle_slash_tx tx = disagreement(NODE, 1);
	memcpy(tx.node_hash, tx.majority_hash, sizeof(tx.node_hash));
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	tx = disagreement(NODE, 1);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 4, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR);
	struct faii_settle_slash_subject unknown = {.registered = false};
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &unknown, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_UNKNOWN_NODE);
	tx.offense = FAII_SETTLE_SLASH_DOWNTIME;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_OFFENSE);
	free(fx.mem);
}

Test(settle_slash, the_split_conserves_every_unit)
{
	/* A stake of 70 at 10 %: 7 units. floor(3.5) = 3 burned, floor(2.1) = 2
	 * to the reporter, floor(1.4) = 1 + the remainder 1 = 2 to the treasury. */
	struct fixture fx;
	setup(&fx, 512);
	fx.subject.stake = 70;
	propose(&fx, 1, T0);
	struct faii_settle_slash_outcome out[1];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 1), 1);
	cr_assert_eq(out[0].amount, 7);
	cr_assert_eq(out[0].burned, 3);
	cr_assert_eq(out[0].reporter_amount, 2);
	cr_assert_eq(out[0].treasury, 2);
	/* Random stakes, escrows and offenses (fixed seed): every execution
	 * conserves what it took. */
	uint64_t seed = 0x51a5;
	uint64_t now = T0 + WINDOW;
	for (uint64_t task = 2; task < 400; task++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		fx.subject.stake = seed >> 20;
		struct faii_settle_slash_tx tx = disagreement(NODE + (uint32_t)(task % 5), task);
		uint64_t id;
		cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, (uint32_t)(task % 4),
		                                       &fx.subject, now, 3, &id),
		             0);
		cr_assert_eq(faii_settle_slash_escrow_hold(fx.state, tx.accused, seed % 100003), 0);
		now += 1 + seed % 1000;
		struct faii_settle_slash_outcome o[8];
		size_t n = faii_settle_slash_due(fx.state, now, o, 8);
		for (size_t i = 0; i < n; i++)
			conserved(&o[i]);
	}
	struct faii_settle_slash_stats stats;
	faii_settle_slash_get_stats(fx.state, &stats);
	cr_assert_eq(stats.refused[FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL], 0);
	free(fx.mem);
}

Test(settle_slash, equivocation_through_the_verifier_costs_the_whole_bond)
{
	struct fixture fx;
	setup(&fx, 16);
	uint8_t proof[19];
	fake_proof(proof, 2, 5, 40); /* validator 2 equivocated in epoch 5, round 40 */
	struct faii_settle_slash_tx tx = {.accused = 902,
	                                  .offense = FAII_SETTLE_SLASH_EQUIVOCATION,
	                                  .proof = proof,
	                                  .proof_len = sizeof(proof)};
	uint64_t id;
	/* The proof's validator bonds node 902, not 901. */
	tx.accused = 901;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 0, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_WRONG_ACCUSED);
	tx.accused = 902;
	uint8_t forged[19];
	memcpy(forged, proof, sizeof(forged));
	forged[0] = 'X';
	tx.proof = forged;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 0, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_PROOF);
	tx.proof = proof;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 0, &fx.subject, T0, 3, &id), 0);
	struct faii_settle_slash_view view;
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.amount, STAKE);
	cr_assert_eq(view.reporter_account, 100);
	/* The same equivocation (epoch, round) again: a duplicate. */
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	/* The accused validator does not vote on its own dispute. */
	struct faii_settle_dispute_tx d = {.proposal_id = 1, .node_id = 902};
	cr_assert_eq(faii_settle_slash_dispute(fx.state, &d, T0 + 1), 0);
	cr_assert_eq(vote(&fx, 1, 2, FAII_SETTLE_SLASH_DISMISS, T0 + 2),
	             FAII_SETTLE_SLASH_REFUSED_VOTER_ACCUSED);
	free(fx.mem);
}

Test(settle_slash, without_a_verifier_equivocation_is_refused)
{
	cr_assert_geq(sodium_init(), 0);
	struct faii_settle_slash_params params;
	faii_settle_slash_params_default(&params, 1);
	params.validator_node[0] = 900;
	struct faii_settle_slash_limits limits = {.proposals_max = 4, .nodes_max = 4};
	size_t bytes = faii_settle_slash_bytes(&limits);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	struct faii_settle_slash *state = faii_settle_slash_init(mem, bytes, &limits, &params);
	cr_assert_not_null(state);
	uint8_t proof[19];
	fake_proof(proof, 0, 1, 2);
	struct faii_settle_slash_tx tx = {.accused = 900,
	                                  .offense = FAII_SETTLE_SLASH_EQUIVOCATION,
	                                  .proof = proof,
	                                  .proof_len = sizeof(proof)};
	struct faii_settle_slash_subject subject = {.registered = true, .stake = 10};
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(state, &tx, 0, &subject, T0, 1, &id),
	             FAII_SETTLE_SLASH_REFUSED_PROOF);
	free(mem);
}

Test(settle_slash, an_invalid_signature_must_really_fail)
{
	struct fixture fx;
	setup(&fx, 16);
	static const uint8_t message[] = "result of task 12: 0xabcdef";
	struct faii_settle_slash_tx tx = {.accused = NODE,
	                                  .offense = FAII_SETTLE_SLASH_INVALID_SIGNATURE,
	                                  .message = message,
	                                  .message_len = sizeof(message)};
	crypto_sign_detached(tx.signature, NULL, message, sizeof(message), fx.sk);
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	tx.signature[0] ^= 1;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id), 0);
	struct faii_settle_slash_view view;
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.amount, 50000); /* 5 % */
	/* Another bad signature on the same message: the same evidence. */
	tx.signature[1] ^= 1;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	free(fx.mem);
}

Test(settle_slash, under_performance_is_below_target_over_enough_tasks)
{
	struct fixture fx;
	setup(&fx, 16);
	struct faii_settle_slash_tx tx = {.accused = NODE,
	                                  .offense = FAII_SETTLE_SLASH_UNDER_PERFORMANCE,
	                                  .epoch = 9,
	                                  .dispatched = 200,
	                                  .slo_hits = 190}; /* 95 %: at target */
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	tx.dispatched = 99; /* below the 100 tasks that prove anything */
	tx.slo_hits = 0;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	tx.dispatched = 200;
	tx.slo_hits = 189;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id), 0);
	struct faii_settle_slash_view view;
	faii_settle_slash_get(fx.state, id, &view);
	cr_assert_eq(view.amount, 80000); /* 8 % */
	struct faii_settle_slash_outcome out[2];
	faii_settle_slash_due(fx.state, T0 + WINDOW, out, 2);
	cr_assert_not(out[0].byzantine);
	free(fx.mem);
}

Test(settle_slash, downtime_is_settlements_own_proposal)
{
	struct fixture fx;
	setup(&fx, 16);
	uint64_t rate;
	cr_assert_not(faii_settle_slash_downtime_offense(95, 100, &rate));
	cr_assert_not(faii_settle_slash_downtime_offense(0, 0, &rate));
	cr_assert(faii_settle_slash_downtime_offense(935, 1000, &rate));
	cr_assert_eq(rate, 30000000ull);
	uint64_t id;
	cr_assert_eq(faii_settle_slash_downtime_propose(fx.state, NODE, 700, 95, 100, &fx.subject,
	                                                T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	cr_assert_eq(faii_settle_slash_downtime_propose(fx.state, NODE, 700, 935, 1000, &fx.subject,
	                                                T0, 3, &id),
	             0);
	cr_assert_eq(faii_settle_slash_downtime_propose(fx.state, NODE, 700, 1, 1000, &fx.subject,
	                                                T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	struct faii_settle_slash_outcome out[2];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 2), 1);
	/* 3 % of 1 000 000 = 30 000: 15 000 burned; no reporter, so the
	 * treasury has 9 000 + 6 000. */
	cr_assert_eq(out[0].amount, 30000);
	cr_assert_eq(out[0].burned, 15000);
	cr_assert_not(out[0].has_reporter);
	cr_assert_eq(out[0].reporter_amount, 0);
	cr_assert_eq(out[0].treasury, 15000);
	cr_assert_not(out[0].byzantine);
	conserved(&out[0]);
	free(fx.mem);
}

Test(settle_slash, slashed_until_the_bond_is_restored)
{
	struct fixture fx;
	setup(&fx, 16);
	propose(&fx, 1, T0);
	struct faii_settle_slash_outcome out[2];
	faii_settle_slash_due(fx.state, T0 + WINDOW, out, 2);
	cr_assert(faii_settle_slash_is_slashed(fx.state, NODE));
	cr_assert_eq(faii_settle_slash_stake(fx.state, NODE, STAKE - 1), 0);
	cr_assert(faii_settle_slash_is_slashed(fx.state, NODE));
	cr_assert_eq(faii_settle_slash_stake(fx.state, NODE, STAKE), 0);
	cr_assert_not(faii_settle_slash_is_slashed(fx.state, NODE));
	cr_assert_eq(faii_settle_slash_stake(fx.state, NODE + 50, STAKE), -ENOENT);
	free(fx.mem);
}

Test(settle_slash, a_second_slash_takes_only_what_is_left)
{
	/* 100 % then 10 %: the second finds no stake and takes nothing from it. */
	struct fixture fx;
	setup(&fx, 16);
	uint8_t proof[19];
	fake_proof(proof, 3, 1, 1);
	struct faii_settle_slash_tx tx = {.accused = 903,
	                                  .offense = FAII_SETTLE_SLASH_EQUIVOCATION,
	                                  .proof = proof,
	                                  .proof_len = sizeof(proof)};
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 0, &fx.subject, T0, 3, &id), 0);
	struct faii_settle_slash_tx second = disagreement(903, 77);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &second, 0, &fx.subject, T0, 3, &id), 0);
	struct faii_settle_slash_outcome out[2];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 2), 2);
	cr_assert_eq(out[0].from_stake, STAKE);
	cr_assert_eq(out[1].amount, 100000);
	cr_assert_eq(out[1].from_stake, 0);
	cr_assert_eq(out[1].burned + out[1].reporter_amount + out[1].treasury, 0);
	free(fx.mem);
}

Test(settle_slash, due_reports_in_proposal_order_and_respects_its_cap)
{
	struct fixture fx;
	setup(&fx, 16);
	for (uint64_t task = 1; task <= 5; task++)
		propose(&fx, task, T0 + task);
	/* Proposal 2 is upheld early, so it closes before the others are due. */
	cr_assert_eq(dispute(&fx, 2, T0 + 10), 0);
	for (uint32_t v = 0; v < 3; v++)
		cr_assert_eq(vote(&fx, 2, v, FAII_SETTLE_SLASH_UPHOLD, T0 + 11), 0);
	struct faii_settle_slash_outcome out[8];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 12, out, 8), 1);
	cr_assert_eq(out[0].proposal_id, 2);
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW + 5, out, 2), 2);
	cr_assert_eq(out[0].proposal_id, 1);
	cr_assert_eq(out[1].proposal_id, 3);
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW + 5, out, 8), 2);
	cr_assert_eq(out[0].proposal_id, 4);
	cr_assert_eq(out[1].proposal_id, 5);
	free(fx.mem);
}

Test(settle_slash, a_full_table_refuses)
{
	struct fixture fx;
	setup(&fx, 2);
	propose(&fx, 1, T0);
	propose(&fx, 2, T0);
	struct faii_settle_slash_tx tx = disagreement(NODE, 3);
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL);
	cr_assert_eq(refused(&fx, FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL), 1);
	cr_assert_str_eq(faii_settle_slash_refusal_name(FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL),
	                 "proposals_full");
	free(fx.mem);
}

/* The table is a ring: a closed proposal's slot is taken by the proposal
 * that comes round to it (the old one and its evidence forgotten, counted);
 * an open one still refuses. */
Test(settle_slash, a_closed_proposals_slot_is_reused_an_open_ones_is_not)
{
	struct fixture fx;
	setup(&fx, 2);
	propose(&fx, 1, T0);
	propose(&fx, 2, T0 + 1);
	struct faii_settle_slash_outcome out[4];
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + WINDOW, out, 4), 1); /* 1 executes */
	cr_assert_eq(propose(&fx, 3, T0 + WINDOW), 3, "1's slot is free: 3 takes it");
	struct faii_settle_slash_tx tx = disagreement(NODE, 4);
	uint64_t id;
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0 + WINDOW, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL, "2 is still open");
	/* Evidence still held is a duplicate; forgotten evidence is not. */
	tx = disagreement(NODE, 2);
	cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 1, &fx.subject, T0 + WINDOW, 3, &id),
	             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	struct faii_settle_slash_view view;
	cr_assert_eq(faii_settle_slash_get(fx.state, 1, &view), -ENOENT, "1 forgotten");
	cr_assert_eq(faii_settle_slash_get(fx.state, 3, &view), 0);
	cr_assert_eq(view.proposal_id, 3);
	struct faii_settle_slash_view list[4];
	cr_assert_eq(faii_settle_slash_list(fx.state, 0, list, 4), 2);
	cr_assert_eq(list[0].proposal_id, 2);
	cr_assert_eq(list[1].proposal_id, 3);
	cr_assert_eq(dispute(&fx, 1, T0 + WINDOW), FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL);
	cr_assert_eq(faii_settle_slash_due(fx.state, T0 + 2 * WINDOW + 1, out, 4), 2);
	cr_assert_eq(out[0].proposal_id, 2);
	cr_assert_eq(out[1].proposal_id, 3);
	struct faii_settle_slash_stats stats;
	faii_settle_slash_get_stats(fx.state, &stats);
	cr_assert_eq(stats.forgotten, 1);
	/* Round and round: 200 more proposals through two slots, each closed in
	 * turn; the evidence index stays exact (each new one is no duplicate,
	 * the two held are). */
	uint64_t now = T0 + 2 * WINDOW + 2;
	for (uint64_t task = 100; task < 300; task++, now += WINDOW) {
		cr_assert_eq(propose(&fx, task, now), task - 96);
		tx = disagreement(NODE, task);
		cr_assert_eq(faii_settle_slash_propose(fx.state, &tx, 2, &fx.subject, now, 3, &id),
		             FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
		cr_assert_eq(faii_settle_slash_due(fx.state, now + WINDOW, out, 4), 1);
	}
	faii_settle_slash_get_stats(fx.state, &stats);
	cr_assert_eq(stats.forgotten, 201);
	free(fx.mem);
}

/* Feeds one fixed sequence of proposals (accused in a scrambled order). */
static void feed(struct fixture *fx)
{
	for (uint32_t i = 0; i < 40; i++) {
		uint32_t accused = (i * 2654435761u) % 1000;
		struct faii_settle_slash_tx tx = disagreement(accused, i);
		uint64_t id;
		cr_assert_eq(faii_settle_slash_propose(fx->state, &tx, i % 4, &fx->subject, T0 + i,
		                                       3, &id),
		             0);
	}
	struct faii_settle_slash_outcome out[64];
	faii_settle_slash_due(fx->state, T0 + WINDOW + 20, out, 64);
}

Test(settle_slash, listings_are_sorted_and_the_same_on_every_validator)
{
	struct fixture a, b;
	setup(&a, 64);
	setup(&b, 64);
	feed(&a);
	feed(&b);
	struct faii_settle_slash_node_view na[64], nb[64];
	long count = faii_settle_slash_nodes(a.state, false, na, 64);
	cr_assert_eq(count, 40);
	cr_assert_eq(faii_settle_slash_nodes(b.state, false, nb, 64), count);
	cr_assert_eq(memcmp(na, nb, sizeof(na[0]) * (size_t)count), 0);
	for (long i = 1; i < count; i++)
		cr_assert_lt(na[i - 1].node_id, na[i].node_id);
	/* 21 of them executed by T0 + window + 20; the rest are open. */
	cr_assert_eq(faii_settle_slash_nodes(a.state, true, na, 64), 21);
	for (long i = 0; i < 21; i++)
		cr_assert(na[i].slashed);
	cr_assert_eq(faii_settle_slash_nodes(a.state, false, na, 39), -ENOSPC);
	struct faii_settle_slash_view va[64], vb[64];
	cr_assert_eq(faii_settle_slash_list(a.state, 1, va, 64), 40);
	cr_assert_eq(faii_settle_slash_list(b.state, 1, vb, 64), 40);
	cr_assert_eq(memcmp(va, vb, sizeof(va[0]) * 40), 0);
	for (uint32_t i = 0; i < 40; i++)
		cr_assert_eq(va[i].proposal_id, i + 1);
	cr_assert_eq(faii_settle_slash_list(a.state, 39, va, 64), 2);
	free(a.mem);
	free(b.mem);
}

Test(settle_slash, proposals_round_trip_and_malformed_bytes_are_refused)
{
	uint8_t bytes[FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len;
	struct faii_settle_slash_tx tx = disagreement(NODE, 0x0102030405060708ull), back;
	cr_assert_eq(faii_settle_slash_tx_encode(&tx, bytes, sizeof(bytes), &len), 0);
	cr_assert_eq(len, 2 + 12 + 72);
	cr_assert_eq(bytes[0], FAII_SETTLE_TX_SLASH_PROPOSAL);
	cr_assert_eq(bytes[2], NODE); /* accused, little-endian */
	cr_assert_eq(bytes[6], FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT);
	cr_assert_eq(bytes[14], 0x08); /* task id, little-endian */
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len, &back), 0);
	cr_assert_eq(back.task_id, tx.task_id);
	cr_assert_eq(memcmp(back.node_hash, tx.node_hash, sizeof(tx.node_hash)), 0);
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len - 1, &back), -EBADMSG);
	bytes[7] = 1; /* padding */
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len, &back), -EBADMSG);
	bytes[7] = 0;
	bytes[6] = 9; /* unknown offense */
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len, &back), -EINVAL);
	bytes[6] = FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT;
	bytes[1] = 2; /* version */
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len, &back), -EBADMSG);
	/* An invalid-signature proposal with its message. */
	static const uint8_t message[] = "hello";
	struct faii_settle_slash_tx sig = {.accused = 3,
	                                   .offense = FAII_SETTLE_SLASH_INVALID_SIGNATURE,
	                                   .message = message,
	                                   .message_len = 5};
	memset(sig.signature, 0x5a, sizeof(sig.signature));
	cr_assert_eq(faii_settle_slash_tx_encode(&sig, bytes, sizeof(bytes), &len), 0);
	cr_assert_eq(faii_settle_slash_tx_decode(bytes, len, &back), 0);
	cr_assert_eq(back.message_len, 5);
	cr_assert_eq(memcmp(back.message, "hello", 5), 0);
	cr_assert_eq(back.signature[63], 0x5a);
	/* Under-performance with more hits than tasks is out of range. */
	struct faii_settle_slash_tx perf = {
	        .offense = FAII_SETTLE_SLASH_UNDER_PERFORMANCE, .dispatched = 1, .slo_hits = 2};
	cr_assert_eq(faii_settle_slash_tx_encode(&perf, bytes, sizeof(bytes), &len), -EINVAL);
	cr_assert_eq(faii_settle_slash_tx_encode(&tx, bytes, 10, &len), -ENOSPC);
}

Test(settle_slash, disputes_and_votes_round_trip_and_signatures_hold)
{
	cr_assert_geq(sodium_init(), 0);
	uint8_t pk[32], sk[64], other_pk[32], other_sk[64];
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(other_pk, other_sk);
	static const uint8_t reason[] = "wrong task";
	struct faii_settle_dispute_tx tx = {
	        .proposal_id = 12, .node_id = 5, .reason = reason, .reason_len = 10};
	uint8_t bytes[512];
	uint32_t len;
	cr_assert_eq(faii_settle_dispute_tx_sign(&tx, sk, bytes, sizeof(bytes), &len), 0);
	cr_assert_eq(len, 2 + 16 + 10 + 64);
	cr_assert_eq(faii_settle_dispute_tx_verify(bytes, len, pk), 0);
	cr_assert_eq(faii_settle_dispute_tx_verify(bytes, len, other_pk), -EKEYREJECTED);
	bytes[2] ^= 1; /* the proposal id */
	cr_assert_eq(faii_settle_dispute_tx_verify(bytes, len, pk), -EKEYREJECTED);
	bytes[2] ^= 1;
	struct faii_settle_dispute_tx back;
	cr_assert_eq(faii_settle_dispute_tx_decode(bytes, len, &back), 0);
	cr_assert_eq(back.proposal_id, 12);
	cr_assert_eq(back.node_id, 5);
	cr_assert_eq(back.reason_len, 10);
	cr_assert_eq(memcmp(back.reason, "wrong task", 10), 0);
	cr_assert_eq(faii_settle_dispute_tx_decode(bytes, len - 1, &back), -EBADMSG);
	tx.reason_len = FAII_SETTLE_SLASH_REASON_MAX + 1;
	cr_assert_eq(faii_settle_dispute_tx_encode(&tx, bytes, sizeof(bytes), &len), -EINVAL);

	struct faii_settle_dispute_vote_tx v = {.proposal_id = 12,
	                                        .verdict = FAII_SETTLE_SLASH_DISMISS};
	cr_assert_eq(faii_settle_dispute_vote_tx_encode(&v, bytes, sizeof(bytes), &len), 0);
	cr_assert_eq(len, 14);
	struct faii_settle_dispute_vote_tx vb;
	cr_assert_eq(faii_settle_dispute_vote_tx_decode(bytes, len, &vb), 0);
	cr_assert_eq(vb.verdict, FAII_SETTLE_SLASH_DISMISS);
	bytes[10] = 3;
	cr_assert_eq(faii_settle_dispute_vote_tx_decode(bytes, len, &vb), -EINVAL);
	bytes[10] = 1;
	bytes[11] = 1;
	cr_assert_eq(faii_settle_dispute_vote_tx_decode(bytes, len, &vb), -EBADMSG);
	bytes[0] = FAII_SETTLE_TX_DISPUTE;
	cr_assert_eq(faii_settle_dispute_vote_tx_decode(bytes, len, &vb), -EBADMSG);
}

Test(settle_slash, parameters_and_limits_are_checked)
{
	struct faii_settle_slash_params params;
	faii_settle_slash_params_default(&params, 4);
	cr_assert_eq(faii_settle_slash_params_check(&params), 0);
	params.faulty_max = 2; /* 3f + 1 = 7 > 4 */
	cr_assert_eq(faii_settle_slash_params_check(&params), -EINVAL);
	faii_settle_slash_params_default(&params, 65);
	cr_assert_eq(faii_settle_slash_params_check(&params), -EINVAL);
	faii_settle_slash_params_default(&params, 4);
	params.dispute_window_ms = 0;
	cr_assert_eq(faii_settle_slash_params_check(&params), -EINVAL);
	struct faii_settle_slash_limits limits = {.proposals_max = 0, .nodes_max = 1};
	cr_assert_eq(faii_settle_slash_bytes(&limits), 0);
	limits.proposals_max = FAII_SETTLE_SLASH_PROPOSALS_MAX + 1;
	cr_assert_eq(faii_settle_slash_bytes(&limits), 0);
}

Test(settle_slash, a_byzantine_execution_halves_the_reputation)
{
	/* The lead's wiring, in small: an executed Byzantine slash halves the
	 * node's reputation. */
	struct fixture fx;
	setup(&fx, 16);
	struct faii_settle_reputation_limits limits = {.nodes_max = 8};
	struct faii_settle_reputation_params params;
	faii_settle_reputation_params_default(&params);
	size_t bytes = faii_settle_reputation_bytes(&limits);
	void *mem = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	struct faii_settle_reputation *rep =
	        faii_settle_reputation_init(mem, bytes, &limits, &params);
	cr_assert_not_null(rep);
	propose(&fx, 1, T0);
	struct faii_settle_slash_outcome out[2];
	size_t n = faii_settle_slash_due(fx.state, T0 + WINDOW, out, 2);
	for (size_t i = 0; i < n; i++)
		if (out[i].byzantine)
			cr_assert_eq(
			        faii_settle_reputation_byzantine(rep, out[i].node_id, T0 + WINDOW),
			        0);
	struct faii_settle_reputation_view view;
	cr_assert_eq(faii_settle_reputation_get(rep, NODE, &view), 0);
	cr_assert_eq(view.score_ppb, 250000000ull);
	free(mem);
	free(fx.mem);
}
