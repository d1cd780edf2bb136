/* SPDX-License-Identifier: BSD-3-Clause */
/* The harness's self-test core, a reliable broadcast: see sim_selftest_core.h. */
#include "sim_selftest_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/transport.h"
#include "sim_prng.h"

#define SELFTEST_LOG_ENTRIES_MAX (SIM_SELFTEST_NODES_MAX * SIM_SELFTEST_ENTRIES_PER_NODE_MAX)
#define SELFTEST_DURABLE_FORMAT  0x53544631u /* "STF1": the durable region was set up */
#define SELFTEST_WIRE_VERSION    1u
#define SELFTEST_ENTRY_BYTES     16u
#define SELFTEST_ACK_BYTES       8u
#define SELFTEST_PRNG_STREAM     0x5e1fu

FAII_STATIC_ASSERT(SIM_SELFTEST_NODES_MAX <= FAII_VALIDATORS_MAX, "selftest nodes are validators");
FAII_STATIC_ASSERT(SELFTEST_ENTRY_BYTES <= SIM_SELFTEST_MESSAGE_BYTES_MAX &&
                           SELFTEST_ACK_BYTES <= SIM_SELFTEST_MESSAGE_BYTES_MAX,
                   "every message fits");
FAII_STATIC_ASSERT(SIM_SELFTEST_WINDOW_ENTRIES >= 1, "a window holds at least one entry");

enum selftest_message_type {
	SELFTEST_MESSAGE_ENTRY = 1, /* type, version, origin u16, seq u32, value u64 */
	SELFTEST_MESSAGE_ACK = 2,   /* type, version, origin u16, delivered_next u32 */
};

struct selftest_log_entry {
	uint32_t origin;
	uint32_t seq;
	uint64_t value;
};

/* What survives a crash: what the node originated and what it delivered. */
struct selftest_durable {
	uint32_t format;
	uint32_t originated_count;
	uint32_t delivered_next[SIM_SELFTEST_NODES_MAX]; /* per origin: 1 + entries delivered */
	uint32_t log_count;
	struct selftest_log_entry log[SELFTEST_LOG_ENTRIES_MAX]; /* in delivery order */
};

/* What a crash loses. */
struct selftest_node {
	const struct sim_selftest *selftest;
	struct selftest_durable *durable;
	struct faii_transport *transport;
	const struct faii_clock *clock;
	uint32_t self;
	uint32_t node_count;
	uint64_t originate_at_ns;
	uint32_t acked_next[SIM_SELFTEST_NODES_MAX]; /* per peer: it delivered our seq < this */
	uint64_t retransmit_at_ns[SIM_SELFTEST_NODES_MAX];
	uint64_t refused_messages; /* malformed or impossible: counted, ignored */
};

/* The value an origin gives its entry: anyone (the checker) can recompute it. */
static uint64_t selftest_entry_value(const struct sim_selftest *selftest, uint32_t origin,
                                     uint32_t seq)
{
	FAII_ASSERT(origin < selftest->node_count);
	FAII_ASSERT(seq >= 1 && seq <= selftest->entries_per_node);
	return sim_hash_mix(selftest->value_key, ((uint64_t)origin << 32) | seq);
}

static void selftest_send_entry(struct selftest_node *node, uint32_t peer, uint32_t seq)
{
	FAII_ASSERT(peer != node->self && peer < node->node_count);
	FAII_ASSERT(seq >= 1 && seq <= node->durable->originated_count);
	uint8_t message[SELFTEST_ENTRY_BYTES];
	message[0] = SELFTEST_MESSAGE_ENTRY;
	message[1] = SELFTEST_WIRE_VERSION;
	faii_put_le16(message + 2, (uint16_t)node->self);
	faii_put_le32(message + 4, seq);
	faii_put_le64(message + 8, selftest_entry_value(node->selftest, node->self, seq));
	int rc = faii_transport_send(node->transport, peer, message, sizeof(message));
	/* A full queue is a loss like any other; anything else is a bug here. */
	FAII_ASSERT_MSG(rc == 0 || rc == -ENOBUFS, "send: %d", rc);
}

static void selftest_send_ack(struct selftest_node *node, uint32_t to, uint32_t origin)
{
	FAII_ASSERT(to != node->self && origin < node->node_count);
	uint8_t message[SELFTEST_ACK_BYTES];
	message[0] = SELFTEST_MESSAGE_ACK;
	message[1] = SELFTEST_WIRE_VERSION;
	faii_put_le16(message + 2, (uint16_t)origin);
	faii_put_le32(message + 4, node->durable->delivered_next[origin]);
	int rc = faii_transport_send(node->transport, to, message, sizeof(message));
	FAII_ASSERT_MSG(rc == 0 || rc == -ENOBUFS, "send: %d", rc);
}

static void selftest_deliver(struct selftest_node *node, uint32_t origin, uint32_t seq,
                             uint64_t value)
{
	struct selftest_durable *durable = node->durable;
	FAII_ASSERT(origin < node->node_count);
	FAII_ASSERT_MSG(durable->log_count < SELFTEST_LOG_ENTRIES_MAX, "log full");
	FAII_ASSERT(seq == durable->delivered_next[origin] ||
	            node->selftest->bug == SIM_SELFTEST_BUG_DELIVER_DUPLICATES);
	durable->log[durable->log_count++] =
	        (struct selftest_log_entry){.origin = origin, .seq = seq, .value = value};
	if (seq == durable->delivered_next[origin])
		durable->delivered_next[origin]++;
	FAII_ASSERT(durable->delivered_next[origin] <= node->selftest->entries_per_node + 1);
}

/* Sends seq in [first, last] that the window allows, to one peer. */
static void selftest_send_window(struct selftest_node *node, uint32_t peer, uint32_t first,
                                 uint32_t last)
{
	uint32_t window_end = node->acked_next[peer] + SIM_SELFTEST_WINDOW_ENTRIES - 1;
	if (last > window_end)
		last = window_end;
	if (last > node->durable->originated_count)
		last = node->durable->originated_count;
	for (uint32_t seq = first; seq <= last; seq++)
		selftest_send_entry(node, peer, seq);
}

static void selftest_originate(struct selftest_node *node, uint64_t now_ns)
{
	struct selftest_durable *durable = node->durable;
	FAII_ASSERT(durable->originated_count < node->selftest->entries_per_node);
	uint32_t seq = ++durable->originated_count;
	selftest_deliver(node, node->self, seq,
	                 selftest_entry_value(node->selftest, node->self, seq));
	FAII_ASSERT(durable->delivered_next[node->self] == seq + 1);
	for (uint32_t peer = 0; peer < node->node_count; peer++) {
		if (peer == node->self)
			continue;
		/* A peer that was up to date starts its retransmission timer now. */
		if (node->acked_next[peer] == seq)
			node->retransmit_at_ns[peer] = now_ns + SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS;
		selftest_send_window(node, peer, seq, seq);
	}
	node->originate_at_ns = now_ns + SIM_SELFTEST_ORIGINATE_INTERVAL_NS;
}

static void selftest_on_tick(void *state, uint64_t now_ns)
{
	struct selftest_node *node = state;
	FAII_ASSERT(node->durable->format == SELFTEST_DURABLE_FORMAT);
	if (node->durable->originated_count < node->selftest->entries_per_node &&
	    now_ns >= node->originate_at_ns)
		selftest_originate(node, now_ns);
	if (node->selftest->bug == SIM_SELFTEST_BUG_NO_RETRANSMIT)
		return;
	for (uint32_t peer = 0; peer < node->node_count; peer++) {
		if (peer == node->self || node->acked_next[peer] > node->durable->originated_count)
			continue;
		if (now_ns < node->retransmit_at_ns[peer])
			continue;
		selftest_send_window(node, peer, node->acked_next[peer], UINT32_MAX);
		node->retransmit_at_ns[peer] = now_ns + SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS;
	}
}

static void selftest_on_entry(struct selftest_node *node, uint32_t from, const uint8_t *message)
{
	uint32_t origin = faii_get_le16(message + 2);
	uint32_t seq = faii_get_le32(message + 4);
	uint64_t value = faii_get_le64(message + 8);
	/* Entries come from their origin only, within what an origin makes. */
	if (origin != from || seq == 0 || seq > node->selftest->entries_per_node) {
		node->refused_messages++;
		return;
	}
	uint32_t next = node->durable->delivered_next[origin];
	if (seq == next)
		selftest_deliver(node, origin, seq, value);
	else if (node->selftest->bug == SIM_SELFTEST_BUG_DELIVER_DUPLICATES && seq + 1 == next)
		selftest_deliver(node, origin, seq, value);
	/* Acknowledge every copy: the ack of the first may have been lost. */
	selftest_send_ack(node, from, origin);
}

static void selftest_on_ack(struct selftest_node *node, uint32_t from, const uint8_t *message)
{
	uint32_t origin = faii_get_le16(message + 2);
	uint32_t delivered_next = faii_get_le32(message + 4);
	if (origin != node->self || delivered_next == 0 ||
	    delivered_next > node->durable->originated_count + 1) {
		node->refused_messages++;
		return;
	}
	uint32_t acked_before = node->acked_next[from];
	if (delivered_next <= acked_before)
		return; /* old news: acks are reordered and duplicated too */
	node->acked_next[from] = delivered_next;
	node->retransmit_at_ns[from] =
	        faii_clock_monotonic_ns(node->clock) + SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS;
	/* Slide the window: send what just entered it. */
	uint32_t first_new = acked_before + SIM_SELFTEST_WINDOW_ENTRIES;
	if (first_new < delivered_next)
		first_new = delivered_next;
	selftest_send_window(node, from, first_new, UINT32_MAX);
}

static void selftest_on_message(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct selftest_node *node = receiver;
	FAII_ASSERT(from < node->node_count && from != node->self);
	FAII_ASSERT(bytes != NULL && len > 0);
	if (len < 2 || bytes[1] != SELFTEST_WIRE_VERSION) {
		node->refused_messages++;
		return;
	}
	if (bytes[0] == SELFTEST_MESSAGE_ENTRY && len == SELFTEST_ENTRY_BYTES)
		selftest_on_entry(node, from, bytes);
	else if (bytes[0] == SELFTEST_MESSAGE_ACK && len == SELFTEST_ACK_BYTES)
		selftest_on_ack(node, from, bytes);
	else
		node->refused_messages++;
}

static int selftest_init(const struct sim_core_env *env, void **state_out)
{
	const struct sim_selftest *selftest = env->ctx;
	if (env->node_count > SIM_SELFTEST_NODES_MAX || env->node_count != selftest->node_count)
		return -EINVAL;
	FAII_ASSERT(env->durable_bytes == sizeof(struct selftest_durable));
	struct selftest_node *node = calloc(1, sizeof(*node));
	if (node == NULL)
		return -ENOMEM;
	struct selftest_durable *durable = (struct selftest_durable *)env->durable;
	if (!env->restarted) {
		FAII_ASSERT(durable->format == 0 && durable->log_count == 0);
		durable->format = SELFTEST_DURABLE_FORMAT;
		for (uint32_t origin = 0; origin < env->node_count; origin++)
			durable->delivered_next[origin] = 1;
	}
	FAII_ASSERT(durable->format == SELFTEST_DURABLE_FORMAT);
	uint64_t now_ns = faii_clock_monotonic_ns(env->clock);
	*node = (struct selftest_node){
	        .selftest = selftest,
	        .durable = durable,
	        .transport = env->transport,
	        .clock = env->clock,
	        .self = env->node,
	        .node_count = env->node_count,
	        .originate_at_ns = now_ns + SIM_SELFTEST_ORIGINATE_INTERVAL_NS,
	};
	/* Nothing is known acknowledged: resend from the start at once after a
	 * restart; the peers' acks skip what they already have. */
	for (uint32_t peer = 0; peer < env->node_count; peer++) {
		node->acked_next[peer] = 1;
		node->retransmit_at_ns[peer] =
		        env->restarted ? now_ns : now_ns + SIM_SELFTEST_RETRANSMIT_TIMEOUT_NS;
	}
	*state_out = node;
	return 0;
}

static void selftest_fini(void *state)
{
	FAII_ASSERT(state != NULL);
	free(state);
}

/* What is wrong with a delivered entry, given the next one the checker expects. */
static const char *selftest_entry_fault(const struct sim_selftest *selftest,
                                        const struct sim_node_view *nodes,
                                        const struct selftest_log_entry *entry, uint32_t expected)
{
	FAII_ASSERT(entry->origin < selftest->node_count && expected >= 1);
	const struct selftest_durable *origin = (const void *)nodes[entry->origin].durable;
	if (entry->seq < expected)
		return "delivered twice";
	if (entry->seq > expected)
		return "delivered with a gap before it";
	if (entry->seq > origin->originated_count)
		return "never originated";
	if (entry->value != selftest_entry_value(selftest, entry->origin, entry->seq))
		return "has the wrong value";
	return NULL;
}

/* Verifies the log entries a node appended since the last step. */
static bool selftest_check_log(struct sim_selftest *selftest, const struct sim_node_view *nodes,
                               uint32_t node, char *reason, size_t reason_bytes)
{
	const struct selftest_durable *durable = (const void *)nodes[node].durable;
	uint32_t *checked_next = selftest->checked_next[node];
	if (durable->log_count < selftest->checked_log_count[node] ||
	    durable->log_count > SELFTEST_LOG_ENTRIES_MAX) {
		snprintf(reason, reason_bytes, "node %u: log went from %u to %u entries", node,
		         selftest->checked_log_count[node], durable->log_count);
		return false;
	}
	for (uint32_t i = selftest->checked_log_count[node]; i < durable->log_count; i++) {
		const struct selftest_log_entry *entry = &durable->log[i];
		if (entry->origin >= selftest->node_count) {
			snprintf(reason, reason_bytes, "node %u: log[%u] from origin %u", node, i,
			         entry->origin);
			return false;
		}
		uint32_t expected = checked_next[entry->origin];
		const char *wrong = selftest_entry_fault(selftest, nodes, entry, expected);
		if (wrong != NULL) {
			snprintf(reason, reason_bytes,
			         "node %u: entry %u:%u (log[%u]) %s; next expected %u:%u", node,
			         entry->origin, entry->seq, i, wrong, entry->origin, expected);
			return false;
		}
		checked_next[entry->origin]++;
	}
	selftest->checked_log_count[node] = durable->log_count;
	return true;
}

/* A node's counters agree with its log; its acks agree with its peers' logs. */
static bool selftest_check_counters(const struct sim_selftest *selftest,
                                    const struct sim_node_view *nodes, uint32_t node, char *reason,
                                    size_t reason_bytes)
{
	const struct selftest_durable *durable = (const void *)nodes[node].durable;
	if (durable->originated_count > selftest->entries_per_node ||
	    durable->delivered_next[node] != durable->originated_count + 1) {
		snprintf(reason, reason_bytes, "node %u: originated %u, delivered own up to %u",
		         node, durable->originated_count, durable->delivered_next[node]);
		return false;
	}
	const struct selftest_node *state = nodes[node].state;
	for (uint32_t other = 0; other < selftest->node_count; other++) {
		if (durable->delivered_next[other] != selftest->checked_next[node][other]) {
			snprintf(reason, reason_bytes, "node %u: counts %u from %u, its log %u",
			         node, durable->delivered_next[other] - 1, other,
			         selftest->checked_next[node][other] - 1);
			return false;
		}
		const struct selftest_durable *peer = (const void *)nodes[other].durable;
		if (state != NULL && other != node &&
		    state->acked_next[other] > peer->delivered_next[node]) {
			snprintf(reason, reason_bytes,
			         "node %u: believes %u acked %u, it delivered %u", node, other,
			         state->acked_next[other] - 1, peer->delivered_next[node] - 1);
			return false;
		}
	}
	return true;
}

static bool selftest_check(void *ctx, const struct sim_node_view *nodes, uint32_t node_count,
                           char *reason, size_t reason_bytes)
{
	struct sim_selftest *selftest = ctx;
	FAII_ASSERT(node_count == selftest->node_count);
	for (uint32_t node = 0; node < node_count; node++) {
		const struct selftest_durable *durable = (const void *)nodes[node].durable;
		FAII_ASSERT(durable->format == SELFTEST_DURABLE_FORMAT);
		FAII_ASSERT(nodes[node].up == (nodes[node].state != NULL));
		if (!selftest_check_log(selftest, nodes, node, reason, reason_bytes))
			return false;
	}
	/* Counters after every log: acks compare against the peers' logs. */
	for (uint32_t node = 0; node < node_count; node++) {
		if (!selftest_check_counters(selftest, nodes, node, reason, reason_bytes))
			return false;
	}
	return true;
}

static bool selftest_converged(void *ctx, const struct sim_node_view *nodes, uint32_t node_count)
{
	const struct sim_selftest *selftest = ctx;
	FAII_ASSERT(node_count == selftest->node_count);
	for (uint32_t node = 0; node < node_count; node++) {
		const struct selftest_durable *durable = (const void *)nodes[node].durable;
		if (!nodes[node].up || durable->originated_count != selftest->entries_per_node)
			return false;
		for (uint32_t origin = 0; origin < node_count; origin++) {
			if (durable->delivered_next[origin] != selftest->entries_per_node + 1)
				return false;
		}
		FAII_ASSERT(durable->log_count == node_count * selftest->entries_per_node);
	}
	return true;
}

void sim_selftest_prepare(struct sim_selftest *selftest, uint64_t seed, uint32_t node_count,
                          enum sim_selftest_bug bug)
{
	FAII_ASSERT(node_count >= 1 && node_count <= SIM_SELFTEST_NODES_MAX);
	struct sim_prng prng;
	sim_prng_stream(&prng, seed, SELFTEST_PRNG_STREAM);
	*selftest = (struct sim_selftest){
	        .node_count = node_count,
	        .entries_per_node =
	                (uint32_t)sim_prng_between(&prng, 1, SIM_SELFTEST_ENTRIES_PER_NODE_MAX),
	        .value_key = sim_prng_u64(&prng),
	        .bug = bug,
	};
	for (uint32_t node = 0; node < SIM_SELFTEST_NODES_MAX; node++) {
		for (uint32_t origin = 0; origin < SIM_SELFTEST_NODES_MAX; origin++)
			selftest->checked_next[node][origin] = 1;
	}
}

struct sim_core sim_selftest_core(struct sim_selftest *selftest)
{
	FAII_ASSERT(selftest->node_count >= 1);
	return (struct sim_core){
	        .name = selftest->bug == SIM_SELFTEST_BUG_NONE ? "selftest"
	                : selftest->bug == SIM_SELFTEST_BUG_NO_RETRANSMIT
	                        ? "selftest-bug-no-retransmit"
	                        : "selftest-bug-deliver-duplicates",
	        .durable_bytes = sizeof(struct selftest_durable),
	        .tick_interval_ns = SIM_SELFTEST_TICK_NS,
	        .ctx = selftest,
	        .init = selftest_init,
	        .on_message = selftest_on_message,
	        .on_tick = selftest_on_tick,
	        .fini = selftest_fini,
	        .check = selftest_check,
	        .converged = selftest_converged,
	};
}
