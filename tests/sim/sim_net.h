/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated network: struct faii_transport for N nodes in one process.
 *
 * Every message sent is either dropped at once (loss, a cut link, a dead
 * destination, a full queue: each counted by reason) or put in one priority
 * queue of in-flight messages ordered by delivery time (ties broken by send
 * order, so the order is total and the run deterministic). The harness asks
 * for the earliest delivery time, advances simulated time to it and pops
 * the message; a message whose link was cut or whose destination died
 * while it was in flight is dropped on arrival.
 *
 * What a seed decides, through the network's own PRNG stream:
 *   - each directed link's base latency, uniform in
 *     [latency_min_ns, 2 * latency_mean_ns - latency_min_ns] (mean: mean);
 *   - each message's jitter, uniform in [0, latency_jitter_ns];
 *   - loss (drop_ppm), a second copy with its own latency (duplicate_ppm),
 *     and an extra delay uniform in [0, reorder_delay_ns_max] that lets
 *     later messages overtake it (reorder_ppm).
 * Partitions and crashes are decided by the caller (the harness's fault
 * schedule) through sim_net_partition(), sim_net_heal() and
 * sim_net_node_crash()/sim_net_node_restart().
 *
 * Bounds: in_flight_messages_max slots of message_bytes_max bytes each,
 * allocated by sim_net_create() and never again.
 *
 * Error convention: negative errno (sim_net_create: -EINVAL, -ENOMEM; send:
 * as in include/faii/transport.h). Single-threaded.
 */
#ifndef FAII_SIM_NET_H
#define FAII_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "faii/clock.h"
#include "faii/transport.h"

/* Bounds on the options: the queue, a slot and any one message's latency. */
#define SIM_NET_IN_FLIGHT_MESSAGES_MAX (1u << 20)
#define SIM_NET_MESSAGE_BYTES_MAX      FAII_TRANSPORT_MESSAGE_BYTES_MAX
#define SIM_NET_LATENCY_NS_MAX         (10ull * FAII_NS_PER_S)

struct sim_net_options {
	uint32_t node_count;             /* 1..FAII_VALIDATORS_MAX */
	uint32_t in_flight_messages_max; /* 1..SIM_NET_IN_FLIGHT_MESSAGES_MAX */
	uint32_t message_bytes_max;      /* 1..SIM_NET_MESSAGE_BYTES_MAX */
	uint64_t latency_min_ns;         /* <= latency_mean_ns */
	uint64_t latency_mean_ns;
	uint64_t latency_jitter_ns;
	uint32_t drop_ppm;      /* parts per million of sends lost */
	uint32_t duplicate_ppm; /* ... delivered twice */
	uint32_t reorder_ppm;   /* ... held back by an extra delay */
	uint64_t reorder_delay_ns_max;
};

/* Why messages did not arrive, and what else the network did to them. */
struct sim_net_stats {
	uint64_t sent;               /* send() calls that passed validation */
	uint64_t delivered;          /* handed to the harness by sim_net_pop() */
	uint64_t duplicated;         /* extra copies queued */
	uint64_t reordered;          /* messages given an extra delay */
	uint64_t dropped_loss;       /* lost by drop_ppm */
	uint64_t dropped_partition;  /* link cut at send or at arrival */
	uint64_t dropped_node_down;  /* destination or source crashed */
	uint64_t dropped_queue_full; /* no free slot: in_flight_messages_max reached */
	uint64_t in_flight_peak;     /* most messages ever in the queue at once */
};

/* A message handed to the harness; valid until sim_net_release(). */
struct sim_net_delivery {
	uint32_t from;
	uint32_t to;
	const uint8_t *bytes;
	uint32_t len;
	uint64_t sent_ns;
};

struct sim_net;

/* `sim_now_ns` is the simulation's time, read at every send and pop. */
int sim_net_create(struct sim_net **net_out, const struct sim_net_options *options, uint64_t seed,
                   const uint64_t *sim_now_ns);
void sim_net_destroy(struct sim_net *net);

/* Node `node`'s endpoint: what its core sends through. */
struct faii_transport *sim_net_transport(struct sim_net *net, uint32_t node);

/* The earliest delivery time in the queue; false when nothing is in flight. */
bool sim_net_next_delivery_ns(const struct sim_net *net, uint64_t *deliver_at_ns);

/*
 * Takes the earliest message due at or before now. True: *delivery holds
 * it until sim_net_release(). False: nothing was due, or the message was
 * dropped on arrival (cut link, dead destination). One message per call, so
 * that the harness can check invariants between any two deliveries.
 */
bool sim_net_pop(struct sim_net *net, struct sim_net_delivery *delivery);
void sim_net_release(struct sim_net *net);

/*
 * Cuts every link from the nodes in `side_mask` to the others and, unless
 * `one_way`, back. Adds to the links already cut.
 */
void sim_net_partition(struct sim_net *net, uint64_t side_mask, bool one_way);
void sim_net_heal(struct sim_net *net);
bool sim_net_link_is_cut(const struct sim_net *net, uint32_t from, uint32_t to);

/* A crash loses every message in flight to or from the node. */
void sim_net_node_crash(struct sim_net *net, uint32_t node);
void sim_net_node_restart(struct sim_net *net, uint32_t node);
bool sim_net_node_is_up(const struct sim_net *net, uint32_t node);

const struct sim_net_stats *sim_net_stats(const struct sim_net *net);
uint32_t sim_net_in_flight(const struct sim_net *net);

/* A hash of every decision the network made, in order: the determinism check. */
uint64_t sim_net_trace_hash(const struct sim_net *net);

/* Prints every send, drop and delivery to `trace` (NULL: silent). */
void sim_net_set_trace(struct sim_net *net, FILE *trace);

#endif /* FAII_SIM_NET_H */
