/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slashing with disputes (DePX §3.6.1): proposals with evidence, the
 * dispute window, 2f+1 votes, execution and its split, and the escrow of an
 * accused node's rewards. See include/faii/settle_slash.h and
 * docs/settlement.md ("Slashing and disputes").
 *
 * Proposals are numbered 1, 2, ... in commit order and kept in a ring of
 * proposals_max slots: a closed proposal stays (with its evidence, so the
 * same evidence is not proposed twice) until the ring comes round to its
 * slot; a slot whose proposal is still open refuses the next proposal
 * (proposals_full). Accused nodes are kept for their escrow, stake and
 * `slashed` status. Both are bounded by the limits given at init and
 * refuse, counted, when full.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"
#include "faii/settle_slash.h"
#include "faii/transport.h"
#include "idtable.h"

#define PPB FAII_SETTLE_PPB_ONE

FAII_STATIC_ASSERT(FAII_SETTLE_SLASH_VALIDATORS_MAX == FAII_VALIDATORS_MAX, "one committee bound");
FAII_STATIC_ASSERT(FAII_SETTLE_SLASH_VALIDATORS_MAX <= 64, "votes are a 64-bit set");

/* DePX's split of a slashed amount: 50 % burned, 30 % reporter, 20 % treasury. */
#define SPLIT_BURN     5u
#define SPLIT_REPORTER 3u
#define SPLIT_TREASURY 2u

struct proposal {
	uint64_t id;
	uint64_t proposed_ms, deadline_ms, proposed_epoch;
	uint64_t rate_ppb, stake, amount;
	uint64_t votes_uphold, votes_dismiss; /* validator sets */
	uint32_t accused;
	uint32_t reporter_account;
	uint8_t offense, state;
	bool has_reporter;
	uint8_t evidence_digest[FAII_SETTLE_DIGEST];
};

struct slash_node {
	uint32_t node_id;
	uint32_t open;
	bool slashed;
	uint64_t escrow;
	uint64_t stake;
	uint64_t stake_needed;
};

struct faii_settle_slash {
	struct faii_settle_slash_params params;
	uint32_t proposals_max, nodes_max;
	uint64_t proposal_count; /* proposals ever opened: the last id */
	uint32_t node_count;
	uint64_t first_open; /* the id of the first proposal that may be open */
	uint64_t last_now_ms;
	struct faii_settle_slash_stats stats;
	struct idtable evidence_index, node_index;
	struct proposal *proposals;
	struct slash_node *nodes;
};

static const char *const refusal_names[FAII_SETTLE_SLASH_REFUSAL_COUNT] = {
        [FAII_SETTLE_SLASH_ACCEPTED] = "accepted",
        [FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR] = "not_validator",
        [FAII_SETTLE_SLASH_REFUSED_UNKNOWN_NODE] = "unknown_node",
        [FAII_SETTLE_SLASH_REFUSED_OFFENSE] = "offense",
        [FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE] = "not_evidence",
        [FAII_SETTLE_SLASH_REFUSED_PROOF] = "proof",
        [FAII_SETTLE_SLASH_REFUSED_WRONG_ACCUSED] = "wrong_accused",
        [FAII_SETTLE_SLASH_REFUSED_DUPLICATE] = "duplicate",
        [FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL] = "proposals_full",
        [FAII_SETTLE_SLASH_REFUSED_NODES_FULL] = "nodes_full",
        [FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL] = "unknown_proposal",
        [FAII_SETTLE_SLASH_REFUSED_NOT_ACCUSED] = "not_accused",
        [FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED] = "window_closed",
        [FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED] = "not_disputed",
        [FAII_SETTLE_SLASH_REFUSED_ALREADY_DISPUTED] = "already_disputed",
        [FAII_SETTLE_SLASH_REFUSED_ALREADY_VOTED] = "already_voted",
        [FAII_SETTLE_SLASH_REFUSED_VOTER_ACCUSED] = "voter_accused",
};

const char *faii_settle_slash_refusal_name(enum faii_settle_slash_refusal reason)
{
	if ((unsigned)reason >= FAII_SETTLE_SLASH_REFUSAL_COUNT)
		return "unknown";
	return refusal_names[reason];
}

const char *faii_settle_slash_offense_name(uint8_t offense)
{
	static const char *const names[FAII_SETTLE_SLASH_OFFENSE_END] = {
	        [FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT] = "replica_disagreement",
	        [FAII_SETTLE_SLASH_EQUIVOCATION] = "equivocation",
	        [FAII_SETTLE_SLASH_INVALID_SIGNATURE] = "invalid_signature",
	        [FAII_SETTLE_SLASH_DOWNTIME] = "downtime",
	        [FAII_SETTLE_SLASH_UNDER_PERFORMANCE] = "under_performance",
	};
	if (offense == 0 || offense >= FAII_SETTLE_SLASH_OFFENSE_END)
		return "unknown";
	return names[offense];
}

const char *faii_settle_slash_state_name(uint8_t state)
{
	static const char *const names[] = {
	        [FAII_SETTLE_SLASH_OPEN] = "open",
	        [FAII_SETTLE_SLASH_DISPUTED] = "disputed",
	        [FAII_SETTLE_SLASH_UPHELD] = "upheld",
	        [FAII_SETTLE_SLASH_REJECTED] = "rejected",
	        [FAII_SETTLE_SLASH_EXECUTED] = "executed",
	        [FAII_SETTLE_SLASH_DISMISSED] = "dismissed",
	};
	if (state == 0 || state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[state];
}

uint64_t faii_settle_slash_rate_ppb(uint8_t offense, uint64_t uptime_ppb)
{
	switch (offense) {
	case FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT: return 100000000ull; /* 10 % */
	case FAII_SETTLE_SLASH_EQUIVOCATION: return PPB;                  /* 100 % */
	case FAII_SETTLE_SLASH_INVALID_SIGNATURE: return 50000000ull;     /* 5 % */
	case FAII_SETTLE_SLASH_UNDER_PERFORMANCE: return 80000000ull;     /* 8 % */
	case FAII_SETTLE_SLASH_DOWNTIME: {
		/* 2 % per percentage point below 95 %: twice the deficit, pro rata. */
		if (uptime_ppb >= FAII_SETTLE_SLASH_UPTIME_MIN_PPB)
			return 0;
		uint64_t rate = 2 * (FAII_SETTLE_SLASH_UPTIME_MIN_PPB - uptime_ppb);
		return rate > PPB ? PPB : rate;
	}
	default: return 0;
	}
}

bool faii_settle_slash_is_byzantine(uint8_t offense)
{
	return offense == FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT ||
	       offense == FAII_SETTLE_SLASH_EQUIVOCATION ||
	       offense == FAII_SETTLE_SLASH_INVALID_SIGNATURE;
}

void faii_settle_slash_params_default(struct faii_settle_slash_params *params, uint32_t validators)
{
	memset(params, 0, sizeof(*params));
	params->validators = validators;
	params->faulty_max = validators > 1 ? (validators - 1) / 3 : 0;
	params->dispute_window_ms = FAII_SETTLE_SLASH_DEFAULT_WINDOW_MS;
	params->vote_window_ms = FAII_SETTLE_SLASH_DEFAULT_WINDOW_MS;
	params->performance_target_ppb = 950000000ull;
	params->performance_min_tasks = 100;
}

int faii_settle_slash_params_check(const struct faii_settle_slash_params *params)
{
	if (params->validators == 0 || params->validators > FAII_SETTLE_SLASH_VALIDATORS_MAX ||
	    3ull * params->faulty_max + 1 > params->validators)
		return -EINVAL;
	if (params->dispute_window_ms == 0 || params->vote_window_ms == 0 ||
	    params->dispute_window_ms > UINT64_MAX / 4 || params->vote_window_ms > UINT64_MAX / 4)
		return -EINVAL;
	if (params->performance_target_ppb == 0 || params->performance_target_ppb > PPB ||
	    params->performance_min_tasks == 0)
		return -EINVAL;
	return 0;
}

static size_t layout(uint8_t *base, const struct faii_settle_slash_limits *limits,
                     struct faii_settle_slash **state, uint32_t **evidence_slots,
                     uint32_t **node_slots)
{
	size_t cursor = 0;
	*state = idtable_carve(base, &cursor, sizeof(**state));
	struct proposal *proposals = idtable_carve(
	        base, &cursor, (size_t)limits->proposals_max * sizeof(struct proposal));
	struct slash_node *nodes =
	        idtable_carve(base, &cursor, (size_t)limits->nodes_max * sizeof(struct slash_node));
	*evidence_slots = idtable_carve(
	        base, &cursor, (size_t)idtable_slots(limits->proposals_max) * sizeof(uint32_t));
	*node_slots = idtable_carve(base, &cursor,
	                            (size_t)idtable_slots(limits->nodes_max) * sizeof(uint32_t));
	if (base != NULL) {
		(*state)->proposals = proposals;
		(*state)->nodes = nodes;
	}
	return cursor;
}

size_t faii_settle_slash_bytes(const struct faii_settle_slash_limits *limits)
{
	if (limits->proposals_max == 0 || limits->proposals_max > FAII_SETTLE_SLASH_PROPOSALS_MAX ||
	    limits->nodes_max == 0 || limits->nodes_max > FAII_SETTLE_SLASH_NODES_MAX)
		return 0;
	struct faii_settle_slash *state;
	uint32_t *evidence_slots, *node_slots;
	return layout(NULL, limits, &state, &evidence_slots, &node_slots);
}

struct faii_settle_slash *faii_settle_slash_init(void *mem, size_t bytes,
                                                 const struct faii_settle_slash_limits *limits,
                                                 const struct faii_settle_slash_params *params)
{
	size_t need = faii_settle_slash_bytes(limits);
	if (mem == NULL || ((uintptr_t)mem & 7) != 0 || need == 0 || bytes < need ||
	    faii_settle_slash_params_check(params) != 0)
		return NULL;
	struct faii_settle_slash *state = mem;
	memset(state, 0, sizeof(*state));
	uint32_t *evidence_slots, *node_slots;
	size_t laid = layout(mem, limits, &state, &evidence_slots, &node_slots);
	FAII_ASSERT(laid == need);
	state->params = *params;
	state->proposals_max = limits->proposals_max;
	state->nodes_max = limits->nodes_max;
	idtable_init(&state->evidence_index, evidence_slots, limits->proposals_max);
	idtable_init(&state->node_index, node_slots, limits->nodes_max);
	return state;
}

static enum faii_settle_slash_refusal refuse(struct faii_settle_slash *state,
                                             enum faii_settle_slash_refusal reason)
{
	FAII_ASSERT(reason > FAII_SETTLE_SLASH_ACCEPTED &&
	            reason < FAII_SETTLE_SLASH_REFUSAL_COUNT);
	state->stats.refused[reason]++;
	return reason;
}

static void note_time(struct faii_settle_slash *state, uint64_t now_ms)
{
	/* Consortium time never goes back (the lead derives it from the
	 * committed sequence). */
	FAII_ASSERT(now_ms >= state->last_now_ms);
	state->last_now_ms = now_ms;
}

struct node_key {
	const struct slash_node *nodes;
	uint32_t node_id;
};

static bool node_matches(const void *ctx, uint32_t entry)
{
	const struct node_key *key = ctx;
	return key->nodes[entry].node_id == key->node_id;
}

static struct slash_node *node_find(const struct faii_settle_slash *state, uint32_t node_id)
{
	struct node_key key = {.nodes = state->nodes, .node_id = node_id};
	uint32_t entry =
	        idtable_find(&state->node_index, idtable_hash_u32(node_id), node_matches, &key);
	return entry == IDTABLE_NONE ? NULL : &state->nodes[entry];
}

static struct slash_node *node_add(struct faii_settle_slash *state, uint32_t node_id)
{
	FAII_ASSERT(node_find(state, node_id) == NULL);
	if (state->node_count == state->nodes_max)
		return NULL;
	uint32_t entry = state->node_count++;
	struct slash_node *node = &state->nodes[entry];
	memset(node, 0, sizeof(*node));
	node->node_id = node_id;
	idtable_insert(&state->node_index, idtable_hash_u32(node_id), entry);
	return node;
}

struct evidence_key {
	const struct proposal *proposals;
	const uint8_t *digest;
};

static bool evidence_matches(const void *ctx, uint32_t entry)
{
	const struct evidence_key *key = ctx;
	return memcmp(key->proposals[entry].evidence_digest, key->digest, FAII_SETTLE_DIGEST) == 0;
}

/* The ring: proposal id -> slot, and the oldest id still held. */
static uint32_t slot_of(const struct faii_settle_slash *state, uint64_t proposal_id)
{
	FAII_ASSERT(proposal_id >= 1);
	return (uint32_t)((proposal_id - 1) % state->proposals_max);
}

static uint64_t oldest_held(const struct faii_settle_slash *state)
{
	return state->proposal_count > state->proposals_max
	               ? state->proposal_count - state->proposals_max + 1
	               : 1;
}

static bool is_closed(const struct proposal *p)
{
	return p->state == FAII_SETTLE_SLASH_EXECUTED || p->state == FAII_SETTLE_SLASH_DISMISSED;
}

static uint32_t evidence_hash(const void *ctx, uint32_t entry)
{
	const struct proposal *proposals = ctx;
	return faii_get_le32(proposals[entry].evidence_digest);
}

/* Frees the slot the next proposal takes: refused while its proposal is
 * open; a closed one is forgotten, its evidence with it. */
static bool slot_free_for_next(struct faii_settle_slash *state)
{
	if (state->proposal_count < state->proposals_max)
		return true;
	uint32_t slot = slot_of(state, state->proposal_count + 1);
	struct proposal *p = &state->proposals[slot];
	FAII_ASSERT(p->id == state->proposal_count + 1 - state->proposals_max);
	if (!is_closed(p))
		return false;
	idtable_remove(&state->evidence_index, evidence_hash(state->proposals, slot), slot,
	               evidence_hash, state->proposals);
	state->stats.forgotten++;
	return true;
}

static bool evidence_known(const struct faii_settle_slash *state,
                           const uint8_t digest[FAII_SETTLE_DIGEST])
{
	struct evidence_key key = {.proposals = state->proposals, .digest = digest};
	return idtable_find(&state->evidence_index, faii_get_le32(digest), evidence_matches,
	                    &key) != IDTABLE_NONE;
}

/*
 * What makes two proposals "the same evidence": BLAKE2b-256 of
 * "faii-slash-evidence-v1" | offense u8 | accused u32 | key, where the key
 * is the task (disagreement), the equivocation's epoch and round, the
 * signed message (invalid signature), the month (downtime) or the epoch
 * (under-performance), each little-endian.
 */
static void evidence_digest(uint8_t offense, uint32_t accused, uint64_t first, uint64_t second,
                            const uint8_t *message, uint32_t message_len,
                            uint8_t digest[FAII_SETTLE_DIGEST])
{
	static const char domain[] = "faii-slash-evidence-v1";
	uint8_t fixed[1 + 4 + 8 + 8];
	fixed[0] = offense;
	faii_put_le32(fixed + 1, accused);
	faii_put_le64(fixed + 5, first);
	faii_put_le64(fixed + 13, second);
	crypto_generichash_state hash;
	crypto_generichash_init(&hash, NULL, 0, FAII_SETTLE_DIGEST);
	crypto_generichash_update(&hash, (const uint8_t *)domain, sizeof(domain) - 1);
	crypto_generichash_update(&hash, fixed, sizeof(fixed));
	if (message_len > 0)
		crypto_generichash_update(&hash, message, message_len);
	crypto_generichash_final(&hash, digest, FAII_SETTLE_DIGEST);
}

/* A proposal as checked: what to open. */
struct opening {
	uint32_t accused;
	uint8_t offense;
	bool has_reporter;
	uint32_t reporter_account;
	uint64_t rate_ppb;
	uint8_t digest[FAII_SETTLE_DIGEST];
};

static enum faii_settle_slash_refusal open_proposal(struct faii_settle_slash *state,
                                                    const struct opening *opening,
                                                    const struct faii_settle_slash_subject *subject,
                                                    uint64_t now_ms, uint64_t epoch,
                                                    uint64_t *proposal_id)
{
	if (evidence_known(state, opening->digest))
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_DUPLICATE);
	struct slash_node *node = node_find(state, opening->accused);
	if (node == NULL && state->node_count == state->nodes_max)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NODES_FULL);
	if (!slot_free_for_next(state))
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_PROPOSALS_FULL);
	if (node == NULL)
		node = node_add(state, opening->accused);
	FAII_ASSERT(node != NULL);
	uint64_t id = ++state->proposal_count;
	uint32_t entry = slot_of(state, id);
	struct proposal *p = &state->proposals[entry];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->proposed_ms = now_ms;
	p->deadline_ms = now_ms + state->params.dispute_window_ms;
	FAII_ASSERT(p->deadline_ms > now_ms); /* params_check bounds the window */
	p->proposed_epoch = epoch;
	p->rate_ppb = opening->rate_ppb;
	p->stake = subject->stake;
	int rc = faii_settle_mul_ppb(p->stake, p->rate_ppb, &p->amount, NULL);
	FAII_ASSERT(rc == 0); /* rate <= 1.0 */
	FAII_ASSERT(p->amount <= p->stake);
	p->accused = opening->accused;
	p->offense = opening->offense;
	p->has_reporter = opening->has_reporter;
	p->reporter_account = opening->reporter_account;
	p->state = FAII_SETTLE_SLASH_OPEN;
	memcpy(p->evidence_digest, opening->digest, FAII_SETTLE_DIGEST);
	idtable_insert(&state->evidence_index, faii_get_le32(opening->digest), entry);
	node->open++;
	node->stake = subject->stake;
	state->stats.proposals++;
	*proposal_id = p->id;
	return FAII_SETTLE_SLASH_ACCEPTED;
}

/* The evidence of an appliance-authored proposal: refused, or the key. */
static enum faii_settle_slash_refusal
check_evidence(const struct faii_settle_slash *state, const struct faii_settle_slash_tx *tx,
               const struct faii_settle_slash_subject *subject, struct opening *opening)
{
	const struct faii_settle_slash_params *params = &state->params;
	uint64_t first = 0, second = 0;
	const uint8_t *message = NULL;
	uint32_t message_len = 0;
	switch (tx->offense) {
	case FAII_SETTLE_SLASH_REPLICA_DISAGREEMENT:
		if (memcmp(tx->majority_hash, tx->node_hash, FAII_SETTLE_DIGEST) == 0)
			return FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE;
		first = tx->task_id;
		break;
	case FAII_SETTLE_SLASH_EQUIVOCATION: {
		uint32_t author = UINT32_MAX;
		if (params->verify_equivocation == NULL ||
		    params->verify_equivocation(params->verify_ctx, tx->proof, tx->proof_len,
		                                &author, &first, &second) != 0 ||
		    author >= params->validators)
			return FAII_SETTLE_SLASH_REFUSED_PROOF;
		if (params->validator_node[author] != tx->accused)
			return FAII_SETTLE_SLASH_REFUSED_WRONG_ACCUSED;
		break;
	}
	case FAII_SETTLE_SLASH_INVALID_SIGNATURE:
		if (subject->public_key == NULL ||
		    crypto_sign_verify_detached(tx->signature, tx->message, tx->message_len,
		                                subject->public_key) == 0)
			return FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE;
		message = tx->message;
		message_len = tx->message_len;
		break;
	case FAII_SETTLE_SLASH_UNDER_PERFORMANCE: {
		uint64_t success =
		        tx->dispatched == 0 ? 0 : (uint64_t)tx->slo_hits * PPB / tx->dispatched;
		if (tx->dispatched < params->performance_min_tasks ||
		    tx->slo_hits > tx->dispatched || success >= params->performance_target_ppb)
			return FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE;
		first = tx->epoch;
		break;
	}
	default: return FAII_SETTLE_SLASH_REFUSED_OFFENSE; /* DOWNTIME is settlement's own */
	}
	opening->rate_ppb = faii_settle_slash_rate_ppb(tx->offense, 0);
	evidence_digest(tx->offense, tx->accused, first, second, message, message_len,
	                opening->digest);
	return FAII_SETTLE_SLASH_ACCEPTED;
}

enum faii_settle_slash_refusal
faii_settle_slash_propose(struct faii_settle_slash *state, const struct faii_settle_slash_tx *tx,
                          uint32_t author, const struct faii_settle_slash_subject *subject,
                          uint64_t now_ms, uint64_t epoch, uint64_t *proposal_id)
{
	note_time(state, now_ms);
	*proposal_id = 0;
	if (author >= state->params.validators)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR);
	if (tx->offense == 0 || tx->offense >= FAII_SETTLE_SLASH_OFFENSE_END ||
	    tx->offense == FAII_SETTLE_SLASH_DOWNTIME)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_OFFENSE);
	if (!subject->registered)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_UNKNOWN_NODE);
	struct opening opening = {
	        .accused = tx->accused,
	        .offense = tx->offense,
	        .has_reporter = true,
	        .reporter_account = state->params.reporter_account[author],
	};
	enum faii_settle_slash_refusal reason = check_evidence(state, tx, subject, &opening);
	if (reason != FAII_SETTLE_SLASH_ACCEPTED)
		return refuse(state, reason);
	return open_proposal(state, &opening, subject, now_ms, epoch, proposal_id);
}

bool faii_settle_slash_downtime_offense(uint64_t heartbeats_seen, uint64_t heartbeats_expected,
                                        uint64_t *rate_ppb)
{
	*rate_ppb = 0;
	if (heartbeats_expected == 0)
		return false; /* nothing was expected: nothing was missed */
	uint64_t seen =
	        heartbeats_seen < heartbeats_expected ? heartbeats_seen : heartbeats_expected;
	uint64_t uptime = (uint64_t)((unsigned __int128)seen * PPB / heartbeats_expected);
	*rate_ppb = faii_settle_slash_rate_ppb(FAII_SETTLE_SLASH_DOWNTIME, uptime);
	return *rate_ppb > 0;
}

enum faii_settle_slash_refusal faii_settle_slash_downtime_propose(
        struct faii_settle_slash *state, uint32_t node_id, uint64_t month, uint64_t heartbeats_seen,
        uint64_t heartbeats_expected, const struct faii_settle_slash_subject *subject,
        uint64_t now_ms, uint64_t epoch, uint64_t *proposal_id)
{
	note_time(state, now_ms);
	*proposal_id = 0;
	if (!subject->registered)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_UNKNOWN_NODE);
	struct opening opening = {
	        .accused = node_id,
	        .offense = FAII_SETTLE_SLASH_DOWNTIME,
	        .has_reporter = false, /* settlement's own observation: no reporter's share */
	};
	if (!faii_settle_slash_downtime_offense(heartbeats_seen, heartbeats_expected,
	                                        &opening.rate_ppb))
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NOT_EVIDENCE);
	evidence_digest(FAII_SETTLE_SLASH_DOWNTIME, node_id, month, 0, NULL, 0, opening.digest);
	return open_proposal(state, &opening, subject, now_ms, epoch, proposal_id);
}

/* A proposal still held (NULL: never opened, or forgotten by the ring). */
static const struct proposal *proposal_held(const struct faii_settle_slash *state,
                                            uint64_t proposal_id)
{
	if (proposal_id == 0 || proposal_id > state->proposal_count ||
	    proposal_id < oldest_held(state))
		return NULL;
	const struct proposal *p = &state->proposals[slot_of(state, proposal_id)];
	FAII_ASSERT(p->id == proposal_id);
	return p;
}

static struct proposal *proposal_find(struct faii_settle_slash *state, uint64_t proposal_id)
{
	return (struct proposal *)proposal_held(state, proposal_id);
}

enum faii_settle_slash_refusal faii_settle_slash_dispute(struct faii_settle_slash *state,
                                                         const struct faii_settle_dispute_tx *tx,
                                                         uint64_t now_ms)
{
	note_time(state, now_ms);
	struct proposal *p = proposal_find(state, tx->proposal_id);
	if (p == NULL)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL);
	if (tx->node_id != p->accused)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NOT_ACCUSED);
	if (p->state == FAII_SETTLE_SLASH_DISPUTED || p->state == FAII_SETTLE_SLASH_UPHELD ||
	    p->state == FAII_SETTLE_SLASH_REJECTED)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_ALREADY_DISPUTED);
	/* Closed, or its window ended (executing at the next due()). */
	if (p->state != FAII_SETTLE_SLASH_OPEN || now_ms >= p->deadline_ms)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED);
	p->state = FAII_SETTLE_SLASH_DISPUTED;
	state->stats.disputes++;
	return FAII_SETTLE_SLASH_ACCEPTED;
}

static uint32_t quorum(const struct faii_settle_slash_params *params)
{
	return 2 * params->faulty_max + 1;
}

enum faii_settle_slash_refusal faii_settle_slash_vote(struct faii_settle_slash *state,
                                                      const struct faii_settle_dispute_vote_tx *tx,
                                                      uint32_t author, uint64_t now_ms)
{
	note_time(state, now_ms);
	if (author >= state->params.validators)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NOT_VALIDATOR);
	struct proposal *p = proposal_find(state, tx->proposal_id);
	if (p == NULL)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_UNKNOWN_PROPOSAL);
	if (p->state != FAII_SETTLE_SLASH_DISPUTED)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_NOT_DISPUTED);
	if (now_ms >= p->deadline_ms + state->params.vote_window_ms)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_WINDOW_CLOSED);
	if (p->offense == FAII_SETTLE_SLASH_EQUIVOCATION &&
	    state->params.validator_node[author] == p->accused)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_VOTER_ACCUSED);
	FAII_ASSERT(tx->verdict == FAII_SETTLE_SLASH_UPHOLD ||
	            tx->verdict == FAII_SETTLE_SLASH_DISMISS); /* decode checked it */
	uint64_t bit = 1ull << author;
	if ((p->votes_uphold | p->votes_dismiss) & bit)
		return refuse(state, FAII_SETTLE_SLASH_REFUSED_ALREADY_VOTED);
	if (tx->verdict == FAII_SETTLE_SLASH_UPHOLD)
		p->votes_uphold |= bit;
	else
		p->votes_dismiss |= bit;
	state->stats.votes++;
	FAII_ASSERT((p->votes_uphold & p->votes_dismiss) == 0);
	if ((uint32_t)__builtin_popcountll(p->votes_uphold) >= quorum(&state->params))
		p->state = FAII_SETTLE_SLASH_UPHELD;
	else if ((uint32_t)__builtin_popcountll(p->votes_dismiss) >= quorum(&state->params))
		p->state = FAII_SETTLE_SLASH_REJECTED;
	return FAII_SETTLE_SLASH_ACCEPTED;
}

/* The node's last open proposal closed: its escrow goes back to it. */
static uint64_t close_for_node(struct faii_settle_slash *state, struct slash_node *node)
{
	FAII_ASSERT(node->open > 0);
	node->open--;
	if (node->open > 0)
		return 0;
	uint64_t released = node->escrow;
	node->escrow = 0;
	state->stats.escrow_released += released;
	return released;
}

/* Takes the amount from escrow first, then from the stake settlement knows
 * (never more than either holds), and splits what was taken. */
static void execute(struct faii_settle_slash *state, struct proposal *p, struct slash_node *node,
                    struct faii_settle_slash_outcome *out)
{
	out->executed = true;
	out->byzantine = faii_settle_slash_is_byzantine(p->offense);
	out->from_escrow = p->amount < node->escrow ? p->amount : node->escrow;
	node->escrow -= out->from_escrow;
	uint64_t rest = p->amount - out->from_escrow;
	out->from_stake = rest < node->stake ? rest : node->stake;
	node->stake -= out->from_stake;
	uint64_t taken = out->from_escrow + out->from_stake;
	const uint64_t weights[3] = {SPLIT_BURN, SPLIT_REPORTER, SPLIT_TREASURY};
	uint64_t shares[3], remainder;
	int rc = faii_settle_split(taken, weights, 3, shares, &remainder);
	FAII_ASSERT(rc == 0);
	out->burned = shares[0];
	out->has_reporter = p->has_reporter;
	out->reporter_account = p->reporter_account;
	/* Without a reporter (downtime) its share goes to the treasury. */
	out->reporter_amount = p->has_reporter ? shares[1] : 0;
	out->treasury = shares[2] + remainder + (p->has_reporter ? 0 : shares[1]);
	FAII_ASSERT(out->burned + out->reporter_amount + out->treasury == taken);
	node->slashed = true;
	if (p->stake > node->stake_needed)
		node->stake_needed = p->stake;
	p->state = FAII_SETTLE_SLASH_EXECUTED;
	state->stats.executed++;
	state->stats.burned += out->burned;
	state->stats.to_reporters += out->reporter_amount;
	state->stats.to_treasury += out->treasury;
}

/* Whether a proposal closes now, and how. */
static bool closes(const struct faii_settle_slash *state, const struct proposal *p, uint64_t now_ms,
                   bool *executes)
{
	switch (p->state) {
	case FAII_SETTLE_SLASH_OPEN: *executes = true; return now_ms >= p->deadline_ms;
	case FAII_SETTLE_SLASH_UPHELD: *executes = true; return true;
	case FAII_SETTLE_SLASH_REJECTED: *executes = false; return true;
	case FAII_SETTLE_SLASH_DISPUTED:
		/* Undecided when the vote window ends: dismissed (the accusers did
		 * not convince 2f + 1). */
		*executes = false;
		return now_ms >= p->deadline_ms + state->params.vote_window_ms;
	default: return false;
	}
}

size_t faii_settle_slash_due(struct faii_settle_slash *state, uint64_t now_ms,
                             struct faii_settle_slash_outcome *out, size_t cap)
{
	note_time(state, now_ms);
	size_t written = 0;
	if (state->first_open < oldest_held(state))
		state->first_open = oldest_held(state);
	for (uint64_t id = state->first_open; id <= state->proposal_count && written < cap; id++) {
		struct proposal *p = proposal_find(state, id);
		bool executes = false;
		if (!closes(state, p, now_ms, &executes))
			continue;
		struct slash_node *node = node_find(state, p->accused);
		FAII_ASSERT(node != NULL);
		struct faii_settle_slash_outcome *o = &out[written++];
		memset(o, 0, sizeof(*o));
		o->proposal_id = p->id;
		o->node_id = p->accused;
		o->offense = p->offense;
		o->amount = p->amount;
		if (executes) {
			execute(state, p, node, o);
		} else {
			p->state = FAII_SETTLE_SLASH_DISMISSED;
			state->stats.dismissed++;
		}
		o->escrow_released = close_for_node(state, node);
	}
	while (state->first_open <= state->proposal_count &&
	       is_closed(proposal_find(state, state->first_open)))
		state->first_open++;
	return written;
}

bool faii_settle_slash_escrowed(const struct faii_settle_slash *state, uint32_t node_id)
{
	const struct slash_node *node = node_find(state, node_id);
	return node != NULL && node->open > 0;
}

int faii_settle_slash_escrow_hold(struct faii_settle_slash *state, uint32_t node_id,
                                  uint64_t amount)
{
	struct slash_node *node = node_find(state, node_id);
	if (node == NULL || node->open == 0)
		return -ENOENT;
	if (__builtin_add_overflow(node->escrow, amount, &node->escrow))
		return -EOVERFLOW;
	state->stats.escrow_held += amount;
	return 0;
}

int faii_settle_slash_stake(struct faii_settle_slash *state, uint32_t node_id, uint64_t stake)
{
	struct slash_node *node = node_find(state, node_id);
	if (node == NULL)
		return -ENOENT;
	node->stake = stake;
	if (node->slashed && stake >= node->stake_needed)
		node->slashed = false;
	return 0;
}

bool faii_settle_slash_is_slashed(const struct faii_settle_slash *state, uint32_t node_id)
{
	const struct slash_node *node = node_find(state, node_id);
	return node != NULL && node->slashed;
}

static void view_of(const struct proposal *p, struct faii_settle_slash_view *view)
{
	memset(view, 0, sizeof(*view));
	view->proposal_id = p->id;
	view->accused = p->accused;
	view->offense = p->offense;
	view->state = p->state;
	view->has_reporter = p->has_reporter;
	view->reporter_account = p->reporter_account;
	view->proposed_ms = p->proposed_ms;
	view->deadline_ms = p->deadline_ms;
	view->proposed_epoch = p->proposed_epoch;
	view->rate_ppb = p->rate_ppb;
	view->stake = p->stake;
	view->amount = p->amount;
	view->votes_uphold = (uint32_t)__builtin_popcountll(p->votes_uphold);
	view->votes_dismiss = (uint32_t)__builtin_popcountll(p->votes_dismiss);
	memcpy(view->evidence_digest, p->evidence_digest, FAII_SETTLE_DIGEST);
}

int faii_settle_slash_get(const struct faii_settle_slash *state, uint64_t proposal_id,
                          struct faii_settle_slash_view *view)
{
	const struct proposal *p = proposal_held(state, proposal_id);
	if (p == NULL)
		return -ENOENT;
	view_of(p, view);
	return 0;
}

size_t faii_settle_slash_list(const struct faii_settle_slash *state, uint64_t first_id,
                              struct faii_settle_slash_view *out, size_t cap)
{
	size_t written = 0;
	uint64_t id = first_id > oldest_held(state) ? first_id : oldest_held(state);
	for (; id <= state->proposal_count && written < cap; id++)
		view_of(proposal_held(state, id), &out[written++]);
	return written;
}

long faii_settle_slash_nodes(const struct faii_settle_slash *state, bool slashed_only,
                             struct faii_settle_slash_node_view *out, size_t cap)
{
	size_t count = 0;
	for (uint32_t i = 0; i < state->node_count; i++)
		count += !slashed_only || state->nodes[i].slashed;
	if (count > cap)
		return -ENOSPC;
	size_t written = 0;
	for (uint32_t i = 0; i < state->node_count; i++) {
		const struct slash_node *node = &state->nodes[i];
		if (slashed_only && !node->slashed)
			continue;
		struct faii_settle_slash_node_view *v = &out[written++];
		memset(v, 0, sizeof(*v));
		v->node_id = node->node_id;
		v->slashed = node->slashed;
		v->open = node->open;
		v->escrow = node->escrow;
		v->stake = node->stake;
		v->stake_needed = node->stake_needed;
	}
	FAII_ASSERT(written == count);
	idtable_sort_by_u32(out, count, sizeof(*out));
	return (long)count;
}

void faii_settle_slash_get_stats(const struct faii_settle_slash *state,
                                 struct faii_settle_slash_stats *stats)
{
	*stats = state->stats;
}
