/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct faii_transport over UDP: one datagram per message, between
 * validators on real hosts (or on loopback in tests).
 *
 * Each validator binds one non-blocking UDP socket at its own address in
 * the committee's address table and sends to the others' addresses. A
 * datagram is an 8-byte header (magic, version, sender index) and the
 * message. The semantics are exactly those of include/faii/transport.h:
 * unreliable, unordered, possibly duplicated; UDP adds nothing and hides
 * nothing. send() is one sendmsg(MSG_DONTWAIT): it never blocks.
 *
 * Receiving is the owner's loop: when faii_transport_udp_fd() is readable
 * (epoll), faii_transport_udp_receive() reads up to messages_max datagrams
 * and calls `receive` for each valid one, from the owner's own stack,
 * never from inside send(). A datagram is refused (counted by reason, never
 * delivered) if it is short, truncated, of another magic or version, claims
 * an unknown or our own index, or comes from an address other than the one
 * the table holds for the index it claims. That check stops stray traffic,
 * not an attacker: authentication is the consensus's (Ed25519).
 *
 * Threads: one transport belongs to one thread.
 *
 * Error convention: 0 (or a count) on success, or a negative errno. send()
 * as in transport.h, plus -EHOSTDOWN for a peer the kernel reports
 * unreachable (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN), which is
 * a loss like any other.
 */
#ifndef FAII_TRANSPORT_UDP_H
#define FAII_TRANSPORT_UDP_H

#include <stdint.h>
#include <sys/socket.h>

#include "faii/transport.h"

#define FAII_TRANSPORT_UDP_HEADER_BYTES 8u
#define FAII_TRANSPORT_UDP_MAGIC        0xfa17u /* first two bytes, little-endian */
#define FAII_TRANSPORT_UDP_VERSION      1u
/* Asked of the kernel for each direction; it may grant less. */
#define FAII_TRANSPORT_UDP_SOCKET_BUFFER_BYTES (4u << 20)
/* The most datagrams one faii_transport_udp_receive() call reads. */
#define FAII_TRANSPORT_UDP_RECEIVE_MESSAGES_MAX 1024u

struct faii_transport_udp_stats {
	uint64_t sent;
	uint64_t send_dropped_full;        /* EAGAIN/ENOBUFS: the socket buffer was full */
	uint64_t send_dropped_unreachable; /* the kernel knew the peer unreachable */
	uint64_t received;                 /* delivered to the owner's receive callback */
	uint64_t refused_short;            /* shorter than a header and one byte */
	uint64_t refused_truncated;        /* longer than the largest message */
	uint64_t refused_header;           /* other magic or version, or reserved bits set */
	uint64_t refused_sender;           /* index unknown or our own */
	uint64_t refused_source;           /* address not the claimed sender's */
};

struct faii_transport_udp;

/*
 * Binds peers[self] and sends to the others. All addresses are AF_INET or
 * all AF_INET6. A port of 0 in peers[self] lets the kernel choose (tests);
 * read it back with faii_transport_udp_local_address().
 * -EINVAL bad index or count, -EAFNOSUPPORT mixed or other families,
 * -ENOMEM, or the errno of socket()/bind().
 */
int faii_transport_udp_open(struct faii_transport_udp **udp_out, uint32_t self, uint32_t peer_count,
                            const struct sockaddr_storage *peers);
void faii_transport_udp_close(struct faii_transport_udp *udp);

struct faii_transport *faii_transport_udp_transport(struct faii_transport_udp *udp);
int faii_transport_udp_fd(const struct faii_transport_udp *udp);
int faii_transport_udp_local_address(const struct faii_transport_udp *udp,
                                     struct sockaddr_storage *address);

/* Replaces a peer's address (a peer that moved, or bound port 0 in a test). */
int faii_transport_udp_set_peer(struct faii_transport_udp *udp, uint32_t peer,
                                const struct sockaddr_storage *address);

/*
 * Reads at most messages_max (<= FAII_TRANSPORT_UDP_RECEIVE_MESSAGES_MAX)
 * datagrams without blocking and calls receive(receiver, from, bytes, len)
 * for each valid one. Returns how many were delivered (0 when none was
 * waiting), or a negative errno from the socket.
 */
int faii_transport_udp_receive(struct faii_transport_udp *udp, faii_transport_receive_fn *receive,
                               void *receiver, uint32_t messages_max);

const struct faii_transport_udp_stats *
faii_transport_udp_stats(const struct faii_transport_udp *udp);

#endif /* FAII_TRANSPORT_UDP_H */
