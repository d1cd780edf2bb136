/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct faii_transport over TCP, the production link between validators:
 * mutually authenticated with the validators' configured Ed25519 keys and
 * encrypted (libsodium: ephemeral crypto_kx, Ed25519 signatures over the
 * handshake transcript, crypto_secretstream_xchacha20poly1305 per
 * direction). docs/consensus-transport.md has the handshake and the frame
 * byte by byte, the limits and the failure behaviour.
 *
 * One TCP connection per pair of validators: the lower index dials the
 * higher, which only accepts. A link that closes is redialled by the lower
 * index with a bounded exponential back-off; a newer authenticated
 * connection from a peer replaces the older one.
 *
 * Semantics are exactly those of include/faii/transport.h: send() copies
 * the message into the peer's bounded queue and returns; it never blocks,
 * never calls back, and returns -ENOBUFS (counted) when the queue is full.
 * Queued messages wait across reconnections; what was already encrypted
 * for a connection that closes is lost (counted in bytes). Messages are
 * delivered whole, in order per link, but a reconnection may lose some:
 * the consensus retransmits, as it must over any transport.
 *
 * The owner's loop calls faii_transport_tcp_poll(), which connects,
 * accepts, runs the handshakes and timers, writes what is queued, reads,
 * and calls receive() for each whole message: from the owner's stack,
 * never from inside send(). receive() may call send(); it must not call
 * poll or close. To embed the transport in another event loop, wait on
 * faii_transport_tcp_fd() (an epoll descriptor, readable when there is I/O)
 * for at most faii_transport_tcp_timeout_ms(), then poll with 0.
 *
 * Time comes from the struct faii_clock given at open (monotonic only);
 * the transport never reads the system clock itself.
 *
 * Threads: a transport belongs to one thread.
 *
 * Error convention: 0 (or a count) on success, or a negative errno;
 * faii_transport_tcp_open() returns NULL with a sentence in err.
 */
#ifndef FAII_TRANSPORT_TCP_H
#define FAII_TRANSPORT_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "faii/clock.h"
#include "faii/transport.h"

#define FAII_TRANSPORT_TCP_PUBLIC_KEY_BYTES 32u /* Ed25519 public key */
#define FAII_TRANSPORT_TCP_SECRET_KEY_BYTES 64u /* Ed25519 secret key, libsodium's form */

/* A frame on the wire: a 4-byte length, then the message sealed by
 * secretstream (17 bytes of header and tag added). */
#define FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES 21u
#define FAII_TRANSPORT_TCP_FRAME_BYTES_MAX                                                         \
	(FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES + FAII_TRANSPORT_MESSAGE_BYTES_MAX)

/* Defaults for a 0 in the configuration, and the accepted ranges. */
#define FAII_TRANSPORT_TCP_QUEUE_BYTES_DEFAULT          (4u << 20) /* per peer, message bytes */
#define FAII_TRANSPORT_TCP_QUEUE_BYTES_MAX              (64u << 20)
#define FAII_TRANSPORT_TCP_QUEUE_MESSAGES_DEFAULT       4096u /* per peer */
#define FAII_TRANSPORT_TCP_QUEUE_MESSAGES_MAX           65536u
#define FAII_TRANSPORT_TCP_HANDSHAKE_TIMEOUT_MS_DEFAULT 5000u /* connect to authenticated */
#define FAII_TRANSPORT_TCP_IDLE_TIMEOUT_MS_DEFAULT                                                 \
	15000u                                            /* nothing received, or nothing written  \
	                                                   */
#define FAII_TRANSPORT_TCP_RECONNECT_MS_MIN_DEFAULT 100u  /* first redial delay */
#define FAII_TRANSPORT_TCP_RECONNECT_MS_MAX_DEFAULT 5000u /* the back-off's ceiling */
#define FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX           3600000u /* any configured time */
#define FAII_TRANSPORT_TCP_PENDING_DEFAULT          16u /* unauthenticated inbound connections */
#define FAII_TRANSPORT_TCP_PENDING_MAX              64u

/* Work per faii_transport_tcp_poll() call, so that one busy peer cannot
 * starve the others: bytes read per connection, connections accepted,
 * epoll events handled, encrypt-and-write rounds per connection. */
#define FAII_TRANSPORT_TCP_READ_BUDGET_BYTES    (256u << 10)
#define FAII_TRANSPORT_TCP_ACCEPTS_PER_POLL_MAX 16u
#define FAII_TRANSPORT_TCP_EVENTS_PER_POLL_MAX  128u
#define FAII_TRANSPORT_TCP_WRITE_ROUNDS_MAX     4u
/* A connection's encrypted output buffer: two of the largest frames. */
#define FAII_TRANSPORT_TCP_WIRE_BYTES (2u * FAII_TRANSPORT_TCP_FRAME_BYTES_MAX)

struct faii_transport_tcp_peer {
	struct sockaddr_storage address; /* AF_INET or AF_INET6 */
	uint8_t public_key[FAII_TRANSPORT_TCP_PUBLIC_KEY_BYTES];
};

struct faii_transport_tcp_config {
	uint32_t self;       /* this validator's index */
	uint32_t peer_count; /* the committee, self included, 2..FAII_VALIDATORS_MAX */
	struct faii_transport_tcp_peer peers[FAII_VALIDATORS_MAX];
	/* This validator's Ed25519 secret key; its public half must be
	 * peers[self].public_key. Copied, and wiped at close. */
	uint8_t secret_key[FAII_TRANSPORT_TCP_SECRET_KEY_BYTES];
	/* Bounds and times; 0 takes the default above. */
	uint32_t queue_bytes_max;
	uint32_t queue_messages_max;
	uint32_t handshake_timeout_ms;
	uint32_t idle_timeout_ms; /* keepalives are sent every third of it */
	uint32_t reconnect_ms_min;
	uint32_t reconnect_ms_max;
	uint32_t pending_max;
};

/* Why a connection closed. Counted per peer (for a handshake that named a
 * peer index: the index it claimed) or, before any index is known, in
 * closes_unattributed. */
enum faii_transport_tcp_close_reason {
	FAII_TCP_CLOSE_PEER_CLOSED,         /* end of stream or reset from the other side */
	FAII_TCP_CLOSE_CONNECT_FAILED,      /* our dial failed (refused, unreachable) */
	FAII_TCP_CLOSE_SOCKET_ERROR,        /* another socket error */
	FAII_TCP_CLOSE_HANDSHAKE_TIMEOUT,   /* not authenticated within handshake_timeout_ms */
	FAII_TCP_CLOSE_HANDSHAKE_MALFORMED, /* bad magic, version, type, reserved bits or index */
	FAII_TCP_CLOSE_IDENTITY,            /* signature not by the configured key of the index */
	FAII_TCP_CLOSE_KEY_EXCHANGE,        /* an ephemeral key of low order */
	FAII_TCP_CLOSE_BAD_TAG,             /* a frame failed authentication */
	FAII_TCP_CLOSE_OVERSIZE,            /* a frame longer than the largest message */
	FAII_TCP_CLOSE_BAD_FRAME,           /* shorter than a tag, or a tag other than MESSAGE */
	FAII_TCP_CLOSE_IDLE,                /* nothing received for idle_timeout_ms */
	FAII_TCP_CLOSE_STALLED,  /* output waiting and nothing written for idle_timeout_ms */
	FAII_TCP_CLOSE_REPLACED, /* a newer authenticated connection from the same peer */
	FAII_TCP_CLOSE_CLOSED,   /* faii_transport_tcp_close() */
	FAII_TCP_CLOSE_REASONS
};

struct faii_transport_tcp_peer_stats {
	uint32_t connected;       /* 1 while an authenticated link is up */
	uint32_t queued_messages; /* waiting in the send queue now */
	uint64_t queued_bytes;
	uint64_t connects;          /* dials started (by the lower index) */
	uint64_t links;             /* handshakes completed */
	uint64_t reconnects;        /* handshakes completed after the first */
	uint64_t messages_sent;     /* encrypted into the connection's output */
	uint64_t messages_received; /* delivered to receive() */
	uint64_t keepalives_sent;
	uint64_t keepalives_received;
	uint64_t bytes_sent;           /* written to the socket, handshake included */
	uint64_t bytes_received;       /* read from the socket, once the peer is known */
	uint64_t send_dropped_full;    /* send() returned -ENOBUFS */
	uint64_t wire_bytes_discarded; /* encrypted but unwritten when a link closed */
	uint64_t closes[FAII_TCP_CLOSE_REASONS];
};

struct faii_transport_tcp_stats {
	uint64_t accepted;             /* inbound TCP connections */
	uint64_t refused_pending_full; /* closed at once: pending_max unauthenticated already */
	uint64_t accept_errors;        /* accept() failed (EMFILE, ENOBUFS ...) */
	uint64_t closes_unattributed[FAII_TCP_CLOSE_REASONS];
	struct faii_transport_tcp_peer_stats peers[FAII_VALIDATORS_MAX];
};

struct faii_transport_tcp;

/*
 * Checks the configuration, binds and listens on peers[self].address (a
 * port of 0 lets the kernel choose: read it with
 * faii_transport_tcp_local_address()) and dials nothing yet: the first
 * poll does. NULL with a sentence in err on a bad configuration or a
 * socket error.
 */
struct faii_transport_tcp *faii_transport_tcp_open(const struct faii_transport_tcp_config *config,
                                                   const struct faii_clock *clock, char *err,
                                                   size_t errlen);
/* Closes every connection (counted as FAII_TCP_CLOSE_CLOSED), wipes the keys. */
void faii_transport_tcp_close(struct faii_transport_tcp *tcp);

struct faii_transport *faii_transport_tcp_transport(struct faii_transport_tcp *tcp);

/*
 * Does the I/O that is ready, waiting at most timeout_ms (0: not at all)
 * and less when a timer is due; calls receive(receiver, from, bytes, len)
 * for each whole message. Returns the number of messages delivered, or a
 * negative errno from epoll.
 */
int faii_transport_tcp_poll(struct faii_transport_tcp *tcp, int timeout_ms,
                            faii_transport_receive_fn *receive, void *receiver);

/* The epoll descriptor: readable when a socket is. */
int faii_transport_tcp_fd(const struct faii_transport_tcp *tcp);
/* Milliseconds until the transport needs a poll without any I/O (a timer,
 * or queued messages to encrypt): 0 means now. */
int faii_transport_tcp_timeout_ms(const struct faii_transport_tcp *tcp);

int faii_transport_tcp_local_address(const struct faii_transport_tcp *tcp,
                                     struct sockaddr_storage *address);
/* Replaces a peer's address (a peer that moved, or bound port 0 in a test);
 * the next dial uses it. -EINVAL bad index, -EAFNOSUPPORT other family. */
int faii_transport_tcp_set_peer_address(struct faii_transport_tcp *tcp, uint32_t peer,
                                        const struct sockaddr_storage *address);

const struct faii_transport_tcp_stats *
faii_transport_tcp_stats(const struct faii_transport_tcp *tcp);
const char *faii_transport_tcp_close_reason_name(enum faii_transport_tcp_close_reason reason);

/*
 * "192.0.2.1:7000" or "[2001:db8::1]:7000" (numeric only: no name lookup,
 * which could block) into *address. -EINVAL when it is neither.
 */
int faii_transport_tcp_parse_address(const char *host_port, struct sockaddr_storage *address);

#endif /* FAII_TRANSPORT_TCP_H */
