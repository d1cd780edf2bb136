/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Validator-to-validator messages: the network seam of deterministic
 * simulation.
 *
 * The consensus core is a single-threaded state machine with two entry
 * points that its owner calls: on_message(from, bytes, len) for each
 * message that arrived and on_tick(now) on a timer. It talks to the other
 * validators only through a struct faii_transport, which production backs
 * with sockets and tests/sim/sim_net.c backs with a simulated network that
 * delays, reorders, duplicates, drops and partitions by seed.
 *
 * Contract of send():
 *   - It only enqueues: it never blocks, never sleeps, never reads a clock
 *     and never calls back into the core. Delivery is driven by the owner
 *     (the appliance's event loop, or the simulation harness), which calls
 *     the core's on_message from its own loop, never from inside send().
 *     A core therefore never sees a message re-entrantly, and the same core
 *     runs identically in production and under simulation.
 *   - The bytes are copied before send() returns; the caller keeps its
 *     buffer.
 *   - Returning 0 means "accepted", not "delivered".
 *
 * Delivery semantics, honestly: unreliable, unordered, possibly duplicated.
 * A message may arrive late, never, twice, or after a message sent after
 * it; a peer may crash and come back with none of the messages that were
 * in flight. Messages are never split, merged or truncated: a message is
 * delivered whole with the length it was sent with, or not at all. The
 * consensus must cope: retransmit what matters until it is acknowledged,
 * make every handler idempotent, and never infer order from arrival.
 *
 * Identity: a peer is a validator index 0..peer_count-1 within the
 * committee of the current epoch; `self` is this validator's own index.
 * The `from` that the owner passes to on_message is what the transport
 * believes; it is not proof of authorship. Messages are opaque bytes here:
 * authentication (Ed25519 signatures over vertices and votes) is the
 * consensus's job, so a forged `from` or a corrupted message must be caught
 * there.
 *
 * Threads: a transport belongs to one thread, the core's.
 *
 * Error convention: 0 on success or a negative errno:
 *   -EINVAL   peer index out of range, or the validator's own index
 *   -EMSGSIZE len is 0 or above message_bytes_max
 *   -ENOBUFS  no room to queue the message now; it was dropped (and counted
 *             by the implementation). Retransmission is the core's job,
 *             exactly as for a message lost on the wire.
 *   -EHOSTDOWN the implementation knows the peer cannot be reached now
 *             (also a drop; the core treats it like any loss).
 */
#ifndef FAII_TRANSPORT_H
#define FAII_TRANSPORT_H

#include <errno.h>
#include <stdint.h>

/* Validators in one epoch's committee (n = 3f + 1 <= 64: a set of them is a
 * uint64_t bitmask). */
#define FAII_VALIDATORS_MAX 64u

/* The largest message any transport carries, in bytes: one UDP datagram
 * (65507 bytes of IPv4 payload) with room for a transport header. A
 * consensus message larger than this must be split by the consensus. */
#define FAII_TRANSPORT_MESSAGE_BYTES_MAX 65280u

struct faii_transport {
	/* Queues `len` bytes for validator `to`. See the contract above. */
	int (*send)(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
	            uint32_t len);
	void *ctx;                  /* the implementation's state */
	uint32_t self;              /* this validator's index */
	uint32_t peer_count;        /* validators in the committee, self included */
	uint32_t message_bytes_max; /* <= FAII_TRANSPORT_MESSAGE_BYTES_MAX */
};

/*
 * What the owner calls for each arriving message: the consensus core's
 * on_message has this shape. `bytes` is valid only during the call.
 */
typedef void faii_transport_receive_fn(void *receiver, uint32_t from, const uint8_t *bytes,
                                       uint32_t len);

static inline int faii_transport_send(struct faii_transport *transport, uint32_t to,
                                      const uint8_t *bytes, uint32_t len)
{
	return transport->send(transport, to, bytes, len);
}

/*
 * Sends the same bytes to every validator but self, in index order. Tries
 * every peer even when one fails; returns 0 if every peer accepted it, or
 * the first negative errno. A partial broadcast is normal: the consensus
 * retransmits to whoever has not acknowledged.
 */
static inline int faii_transport_broadcast(struct faii_transport *transport, const uint8_t *bytes,
                                           uint32_t len)
{
	int first_error = 0;
	for (uint32_t peer = 0; peer < transport->peer_count; peer++) {
		if (peer == transport->self)
			continue;
		int rc = transport->send(transport, peer, bytes, len);
		if (rc < 0 && first_error == 0)
			first_error = rc;
	}
	return first_error;
}

#endif /* FAII_TRANSPORT_H */
