/* SPDX-License-Identifier: BSD-3-Clause */
/* The simulated network: see sim_net.h. */
#include "sim_net.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "sim_prng.h"

#define SIM_NET_SLOT_NONE UINT32_MAX

/* The PRNG stream of the network, apart from the faults' and the cores'. */
#define SIM_NET_PRNG_STREAM 1u

/* A message in flight: the header of a slot; its bytes are in `payload`. */
struct sim_net_message {
	uint64_t deliver_at_ns;
	uint64_t sequence; /* send order: breaks ties in delivery time */
	uint64_t sent_ns;
	uint32_t from;
	uint32_t to;
	uint32_t len;
};

struct sim_net {
	struct sim_net_options options;
	const uint64_t *sim_now_ns;
	struct sim_prng prng;
	struct faii_transport transports[FAII_VALIDATORS_MAX];
	uint64_t link_latency_ns[FAII_VALIDATORS_MAX][FAII_VALIDATORS_MAX];
	uint64_t link_cut_to_mask[FAII_VALIDATORS_MAX]; /* bit `to` of [from]: from->to cut */
	uint64_t node_down_mask;

	struct sim_net_message *slots; /* in_flight_messages_max of them */
	uint8_t *payload;              /* in_flight_messages_max * message_bytes_max */
	uint32_t *free_slots;          /* a stack of free slot indices */
	uint32_t free_count;
	uint32_t *heap; /* slot indices, a binary min-heap on (deliver_at_ns, sequence) */
	uint32_t heap_count;
	uint32_t delivering_slot; /* popped, not yet released */

	uint64_t sequence_next;
	struct sim_net_stats stats;
	uint64_t trace_hash;
	FILE *trace;
};

static uint8_t *sim_net_slot_bytes(struct sim_net *net, uint32_t slot)
{
	FAII_ASSERT(slot < net->options.in_flight_messages_max);
	return net->payload + (size_t)slot * net->options.message_bytes_max;
}

static bool sim_net_earlier(const struct sim_net *net, uint32_t slot_a, uint32_t slot_b)
{
	const struct sim_net_message *a = &net->slots[slot_a];
	const struct sim_net_message *b = &net->slots[slot_b];
	if (a->deliver_at_ns != b->deliver_at_ns)
		return a->deliver_at_ns < b->deliver_at_ns;
	FAII_ASSERT(a->sequence != b->sequence);
	return a->sequence < b->sequence;
}

static void sim_net_heap_sift_up(struct sim_net *net, uint32_t index)
{
	FAII_ASSERT(index < net->heap_count);
	while (index > 0) {
		uint32_t parent = (index - 1) / 2;
		if (!sim_net_earlier(net, net->heap[index], net->heap[parent]))
			break;
		uint32_t swap = net->heap[index];
		net->heap[index] = net->heap[parent];
		net->heap[parent] = swap;
		index = parent;
	}
}

static void sim_net_heap_sift_down(struct sim_net *net, uint32_t index)
{
	for (;;) {
		uint32_t earliest = index;
		uint32_t left = 2 * index + 1;
		uint32_t right = left + 1;
		if (left < net->heap_count &&
		    sim_net_earlier(net, net->heap[left], net->heap[earliest]))
			earliest = left;
		if (right < net->heap_count &&
		    sim_net_earlier(net, net->heap[right], net->heap[earliest]))
			earliest = right;
		if (earliest == index)
			return;
		uint32_t swap = net->heap[index];
		net->heap[index] = net->heap[earliest];
		net->heap[earliest] = swap;
		index = earliest;
	}
}

static uint32_t sim_net_heap_pop(struct sim_net *net)
{
	FAII_ASSERT(net->heap_count > 0);
	uint32_t slot = net->heap[0];
	net->heap_count--;
	if (net->heap_count > 0) {
		net->heap[0] = net->heap[net->heap_count];
		sim_net_heap_sift_down(net, 0);
	}
	return slot;
}

static void sim_net_slot_free(struct sim_net *net, uint32_t slot)
{
	FAII_ASSERT(slot < net->options.in_flight_messages_max);
	FAII_ASSERT(net->free_count < net->options.in_flight_messages_max);
	net->free_slots[net->free_count++] = slot;
}

static void sim_net_trace_event(struct sim_net *net, const char *what, uint32_t from, uint32_t to,
                                uint32_t len, uint64_t at_ns)
{
	net->trace_hash =
	        sim_hash_mix(net->trace_hash, ((uint64_t)from << 40) | ((uint64_t)to << 32) | len);
	net->trace_hash = sim_hash_mix(net->trace_hash, at_ns);
	net->trace_hash = sim_hash_mix(net->trace_hash, (uint64_t)(unsigned char)what[0] << 8 |
	                                                        (unsigned char)what[1]);
	if (net->trace != NULL)
		fprintf(net->trace, "%12" PRIu64 " net %-14s %2u -> %2u %5u bytes at %" PRIu64 "\n",
		        *net->sim_now_ns, what, from, to, len, at_ns);
}

/* Queues one copy with its own latency; the slot pool is the bound. */
static int sim_net_enqueue(struct sim_net *net, uint32_t from, uint32_t to, const uint8_t *bytes,
                           uint32_t len)
{
	if (net->free_count == 0) {
		net->stats.dropped_queue_full++;
		sim_net_trace_event(net, "drop-queue-full", from, to, len, 0);
		return -ENOBUFS;
	}
	uint64_t latency_ns = net->link_latency_ns[from][to] +
	                      sim_prng_between(&net->prng, 0, net->options.latency_jitter_ns);
	if (sim_prng_chance(&net->prng, net->options.reorder_ppm)) {
		net->stats.reordered++;
		latency_ns += sim_prng_between(&net->prng, 0, net->options.reorder_delay_ns_max);
	}
	FAII_ASSERT(latency_ns <= SIM_NET_LATENCY_NS_MAX);

	uint32_t slot = net->free_slots[--net->free_count];
	net->slots[slot] = (struct sim_net_message){
	        .deliver_at_ns = *net->sim_now_ns + latency_ns,
	        .sequence = net->sequence_next++,
	        .sent_ns = *net->sim_now_ns,
	        .from = from,
	        .to = to,
	        .len = len,
	};
	memcpy(sim_net_slot_bytes(net, slot), bytes, len);
	net->heap[net->heap_count++] = slot;
	sim_net_heap_sift_up(net, net->heap_count - 1);
	if (net->heap_count > net->stats.in_flight_peak)
		net->stats.in_flight_peak = net->heap_count;
	sim_net_trace_event(net, "queued", from, to, len, net->slots[slot].deliver_at_ns);
	return 0;
}

static int sim_net_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                        uint32_t len)
{
	struct sim_net *net = transport->ctx;
	uint32_t from = transport->self;
	FAII_ASSERT(from < net->options.node_count && transport == &net->transports[from]);
	FAII_ASSERT_MSG(sim_net_node_is_up(net, from), "node %u sent while crashed", from);
	if (to >= net->options.node_count || to == from)
		return -EINVAL;
	if (len == 0 || len > net->options.message_bytes_max)
		return -EMSGSIZE;
	FAII_ASSERT(bytes != NULL);

	net->stats.sent++;
	net->trace_hash = sim_hash_bytes(net->trace_hash, bytes, len);
	if (!sim_net_node_is_up(net, to)) {
		net->stats.dropped_node_down++;
		sim_net_trace_event(net, "drop-node-down", from, to, len, 0);
		return 0; /* a dead host's packets vanish; the sender cannot tell */
	}
	if (sim_net_link_is_cut(net, from, to)) {
		net->stats.dropped_partition++;
		sim_net_trace_event(net, "drop-partition", from, to, len, 0);
		return 0;
	}
	if (sim_prng_chance(&net->prng, net->options.drop_ppm)) {
		net->stats.dropped_loss++;
		sim_net_trace_event(net, "drop-loss", from, to, len, 0);
		return 0;
	}
	int rc = sim_net_enqueue(net, from, to, bytes, len);
	if (rc == 0 && sim_prng_chance(&net->prng, net->options.duplicate_ppm)) {
		net->stats.duplicated++;
		(void)sim_net_enqueue(net, from, to, bytes, len); /* a lost copy is counted */
	}
	return rc;
}

static int sim_net_options_check(const struct sim_net_options *options)
{
	if (options->node_count == 0 || options->node_count > FAII_VALIDATORS_MAX)
		return -EINVAL;
	if (options->in_flight_messages_max == 0 ||
	    options->in_flight_messages_max > SIM_NET_IN_FLIGHT_MESSAGES_MAX)
		return -EINVAL;
	if (options->message_bytes_max == 0 ||
	    options->message_bytes_max > SIM_NET_MESSAGE_BYTES_MAX)
		return -EINVAL;
	if (options->latency_min_ns > options->latency_mean_ns)
		return -EINVAL;
	if (options->drop_ppm > SIM_PRNG_PPM_ONE || options->duplicate_ppm > SIM_PRNG_PPM_ONE ||
	    options->reorder_ppm > SIM_PRNG_PPM_ONE)
		return -EINVAL;
	/* The slowest message: the slowest link, full jitter, full reorder delay. */
	uint64_t link_max_ns = 2 * options->latency_mean_ns - options->latency_min_ns;
	if (options->latency_mean_ns > SIM_NET_LATENCY_NS_MAX ||
	    options->latency_jitter_ns > SIM_NET_LATENCY_NS_MAX ||
	    options->reorder_delay_ns_max > SIM_NET_LATENCY_NS_MAX ||
	    link_max_ns + options->latency_jitter_ns + options->reorder_delay_ns_max >
	            SIM_NET_LATENCY_NS_MAX)
		return -EINVAL;
	return 0;
}

static void sim_net_links_init(struct sim_net *net, uint64_t seed)
{
	const struct sim_net_options *options = &net->options;
	sim_prng_stream(&net->prng, seed, SIM_NET_PRNG_STREAM);
	uint64_t link_max_ns = 2 * options->latency_mean_ns - options->latency_min_ns;
	for (uint32_t from = 0; from < options->node_count; from++) {
		net->transports[from] = (struct faii_transport){
		        .send = sim_net_send,
		        .ctx = net,
		        .self = from,
		        .peer_count = options->node_count,
		        .message_bytes_max = options->message_bytes_max,
		};
		for (uint32_t to = 0; to < options->node_count; to++)
			net->link_latency_ns[from][to] =
			        sim_prng_between(&net->prng, options->latency_min_ns, link_max_ns);
	}
}

int sim_net_create(struct sim_net **net_out, const struct sim_net_options *options, uint64_t seed,
                   const uint64_t *sim_now_ns)
{
	FAII_ASSERT(net_out != NULL && options != NULL && sim_now_ns != NULL);
	int rc = sim_net_options_check(options);
	if (rc < 0)
		return rc;
	struct sim_net *net = calloc(1, sizeof(*net));
	if (net == NULL)
		return -ENOMEM;
	net->options = *options;
	net->sim_now_ns = sim_now_ns;
	uint32_t capacity = options->in_flight_messages_max;
	net->slots = calloc(capacity, sizeof(net->slots[0]));
	net->payload = calloc(capacity, options->message_bytes_max);
	net->free_slots = calloc(capacity, sizeof(net->free_slots[0]));
	net->heap = calloc(capacity, sizeof(net->heap[0]));
	if (net->slots == NULL || net->payload == NULL || net->free_slots == NULL ||
	    net->heap == NULL) {
		sim_net_destroy(net);
		return -ENOMEM;
	}
	/* Highest index at the bottom of the stack: slot 0 is used first. */
	for (uint32_t slot = 0; slot < capacity; slot++)
		net->free_slots[slot] = capacity - 1 - slot;
	net->free_count = capacity;
	net->delivering_slot = SIM_NET_SLOT_NONE;
	net->trace_hash = seed;
	sim_net_links_init(net, seed);
	*net_out = net;
	return 0;
}

void sim_net_destroy(struct sim_net *net)
{
	if (net == NULL)
		return;
	free(net->slots);
	free(net->payload);
	free(net->free_slots);
	free(net->heap);
	free(net);
}

struct faii_transport *sim_net_transport(struct sim_net *net, uint32_t node)
{
	FAII_ASSERT(node < net->options.node_count);
	FAII_ASSERT(net->transports[node].ctx == net);
	return &net->transports[node];
}

bool sim_net_next_delivery_ns(const struct sim_net *net, uint64_t *deliver_at_ns)
{
	if (net->heap_count == 0)
		return false;
	*deliver_at_ns = net->slots[net->heap[0]].deliver_at_ns;
	return true;
}

bool sim_net_pop(struct sim_net *net, struct sim_net_delivery *delivery)
{
	FAII_ASSERT_MSG(net->delivering_slot == SIM_NET_SLOT_NONE, "pop before release");
	if (net->heap_count == 0 || net->slots[net->heap[0]].deliver_at_ns > *net->sim_now_ns)
		return false;
	uint32_t slot = sim_net_heap_pop(net);
	const struct sim_net_message *message = &net->slots[slot];
	FAII_ASSERT(message->deliver_at_ns <= *net->sim_now_ns);
	FAII_ASSERT(message->from < net->options.node_count &&
	            message->to < net->options.node_count);
	/* Crashes purge the queue, so a dead end here means a partition. */
	FAII_ASSERT(sim_net_node_is_up(net, message->to) && sim_net_node_is_up(net, message->from));
	if (sim_net_link_is_cut(net, message->from, message->to)) {
		net->stats.dropped_partition++;
		sim_net_trace_event(net, "drop-on-arrival", message->from, message->to,
		                    message->len, message->deliver_at_ns);
		sim_net_slot_free(net, slot);
		return false;
	}
	net->stats.delivered++;
	sim_net_trace_event(net, "delivered", message->from, message->to, message->len,
	                    message->deliver_at_ns);
	*delivery = (struct sim_net_delivery){
	        .from = message->from,
	        .to = message->to,
	        .bytes = sim_net_slot_bytes(net, slot),
	        .len = message->len,
	        .sent_ns = message->sent_ns,
	};
	net->delivering_slot = slot;
	return true;
}

void sim_net_release(struct sim_net *net)
{
	FAII_ASSERT(net->delivering_slot != SIM_NET_SLOT_NONE);
	sim_net_slot_free(net, net->delivering_slot);
	net->delivering_slot = SIM_NET_SLOT_NONE;
}

void sim_net_partition(struct sim_net *net, uint64_t side_mask, bool one_way)
{
	uint32_t node_count = net->options.node_count;
	uint64_t all_mask = node_count == 64 ? UINT64_MAX : (1ull << node_count) - 1;
	FAII_ASSERT(side_mask != 0 && (side_mask & ~all_mask) == 0);
	for (uint32_t from = 0; from < node_count; from++) {
		bool inside = (side_mask >> from) & 1;
		if (inside)
			net->link_cut_to_mask[from] |= all_mask & ~side_mask;
		else if (!one_way)
			net->link_cut_to_mask[from] |= side_mask;
	}
	net->trace_hash = sim_hash_mix(net->trace_hash, side_mask ^ ((uint64_t)one_way << 63));
	if (net->trace != NULL)
		fprintf(net->trace, "%12" PRIu64 " net partition side=%#" PRIx64 " %s\n",
		        *net->sim_now_ns, side_mask, one_way ? "one-way" : "symmetric");
}

void sim_net_heal(struct sim_net *net)
{
	memset(net->link_cut_to_mask, 0, sizeof(net->link_cut_to_mask));
	net->trace_hash = sim_hash_mix(net->trace_hash, 0x4ea1);
	if (net->trace != NULL)
		fprintf(net->trace, "%12" PRIu64 " net heal\n", *net->sim_now_ns);
}

bool sim_net_link_is_cut(const struct sim_net *net, uint32_t from, uint32_t to)
{
	FAII_ASSERT(from < net->options.node_count && to < net->options.node_count);
	return (net->link_cut_to_mask[from] >> to) & 1;
}

void sim_net_node_crash(struct sim_net *net, uint32_t node)
{
	FAII_ASSERT(node < net->options.node_count);
	FAII_ASSERT(sim_net_node_is_up(net, node));
	FAII_ASSERT_MSG(net->delivering_slot == SIM_NET_SLOT_NONE, "crash during a delivery");
	/* Keep the survivors in heap order, then rebuild: deterministic and O(n). */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < net->heap_count; i++) {
		uint32_t slot = net->heap[i];
		if (net->slots[slot].from == node || net->slots[slot].to == node) {
			net->stats.dropped_node_down++;
			sim_net_slot_free(net, slot);
		} else {
			net->heap[kept++] = slot;
		}
	}
	net->heap_count = kept;
	for (uint32_t i = kept / 2; i-- > 0;)
		sim_net_heap_sift_down(net, i);
	net->node_down_mask |= 1ull << node;
	FAII_ASSERT(net->free_count + net->heap_count == net->options.in_flight_messages_max);
	net->trace_hash = sim_hash_mix(net->trace_hash, 0xc0a5400ull + node);
}

void sim_net_node_restart(struct sim_net *net, uint32_t node)
{
	FAII_ASSERT(node < net->options.node_count);
	FAII_ASSERT(!sim_net_node_is_up(net, node));
	net->node_down_mask &= ~(1ull << node);
	net->trace_hash = sim_hash_mix(net->trace_hash, 0x5e57a00ull + node);
}

bool sim_net_node_is_up(const struct sim_net *net, uint32_t node)
{
	FAII_ASSERT(node < net->options.node_count);
	return ((net->node_down_mask >> node) & 1) == 0;
}

const struct sim_net_stats *sim_net_stats(const struct sim_net *net)
{
	return &net->stats;
}

uint32_t sim_net_in_flight(const struct sim_net *net)
{
	return net->heap_count;
}

uint64_t sim_net_trace_hash(const struct sim_net *net)
{
	return net->trace_hash;
}

void sim_net_set_trace(struct sim_net *net, FILE *trace)
{
	net->trace = trace;
}
