/* SPDX-License-Identifier: BSD-3-Clause */
/* struct faii_transport over UDP: see include/faii/transport_udp.h. */
#include "faii/transport_udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "faii/assert.h"
#include "faii/limits.h"

/* The largest UDP payload over IPv4 (65535 - 20 - 8); IPv6 allows more. */
#define TRANSPORT_UDP_DATAGRAM_BYTES_MAX 65507u

FAII_STATIC_ASSERT(FAII_TRANSPORT_UDP_HEADER_BYTES + FAII_TRANSPORT_MESSAGE_BYTES_MAX <=
                           TRANSPORT_UDP_DATAGRAM_BYTES_MAX,
                   "the largest message fits one datagram with its header");
FAII_STATIC_ASSERT(FAII_CFG_VALIDATORS_MAX <= FAII_VALIDATORS_MAX,
                   "every configured committee fits the transport");
FAII_STATIC_ASSERT(FAII_VALIDATORS_MAX <= UINT16_MAX, "a sender index fits the header");

struct faii_transport_udp {
	struct faii_transport transport;
	int fd;
	int family;
	uint32_t self;
	uint32_t peer_count;
	struct sockaddr_storage peers[FAII_VALIDATORS_MAX];
	struct faii_transport_udp_stats stats;
	/* One datagram: the header, the largest message, and one byte more to
	 * tell a truncated datagram from one that fits exactly. */
	uint8_t receive_buffer[FAII_TRANSPORT_UDP_HEADER_BYTES + FAII_TRANSPORT_MESSAGE_BYTES_MAX +
	                       1];
};

static socklen_t transport_udp_address_len(int family)
{
	FAII_ASSERT(family == AF_INET || family == AF_INET6);
	return family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static bool transport_udp_same_address(const struct sockaddr_storage *a,
                                       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	FAII_ASSERT(a->ss_family == AF_INET6);
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

static void transport_udp_header(uint8_t *header, uint32_t from)
{
	FAII_ASSERT(from < FAII_VALIDATORS_MAX);
	memset(header, 0, FAII_TRANSPORT_UDP_HEADER_BYTES);
	header[0] = (uint8_t)(FAII_TRANSPORT_UDP_MAGIC & 0xff);
	header[1] = (uint8_t)(FAII_TRANSPORT_UDP_MAGIC >> 8);
	header[2] = FAII_TRANSPORT_UDP_VERSION;
	header[4] = (uint8_t)(from & 0xff);
	header[5] = (uint8_t)(from >> 8);
}

static int transport_udp_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                              uint32_t len)
{
	struct faii_transport_udp *udp = transport->ctx;
	FAII_ASSERT(transport == &udp->transport && udp->fd >= 0);
	if (to >= udp->peer_count || to == udp->self)
		return -EINVAL;
	if (len == 0 || len > transport->message_bytes_max)
		return -EMSGSIZE;
	FAII_ASSERT(bytes != NULL);
	uint8_t header[FAII_TRANSPORT_UDP_HEADER_BYTES];
	transport_udp_header(header, udp->self);
	/* Two pieces, no copy of the message. */
	struct iovec pieces[2] = {
	        {.iov_base = header, .iov_len = sizeof(header)},
	        {.iov_base = (void *)bytes, .iov_len = len},
	};
	struct msghdr message = {
	        .msg_name = &udp->peers[to],
	        .msg_namelen = transport_udp_address_len(udp->family),
	        .msg_iov = pieces,
	        .msg_iovlen = 2,
	};
	ssize_t sent = sendmsg(udp->fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent >= 0) {
		FAII_ASSERT((size_t)sent == sizeof(header) + len); /* UDP sends whole or fails */
		udp->stats.sent++;
		return 0;
	}
	int error = errno;
	if (error == EAGAIN || error == ENOBUFS) {
		udp->stats.send_dropped_full++;
		return -ENOBUFS;
	}
	if (error == ECONNREFUSED || error == EHOSTUNREACH || error == ENETUNREACH ||
	    error == EHOSTDOWN) {
		udp->stats.send_dropped_unreachable++;
		return -EHOSTDOWN;
	}
	return -error;
}

static int transport_udp_check_peers(uint32_t self, uint32_t peer_count,
                                     const struct sockaddr_storage *peers)
{
	if (peer_count == 0 || peer_count > FAII_VALIDATORS_MAX || self >= peer_count ||
	    peers == NULL)
		return -EINVAL;
	int family = peers[0].ss_family;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	for (uint32_t peer = 1; peer < peer_count; peer++) {
		if (peers[peer].ss_family != family)
			return -EAFNOSUPPORT;
	}
	return 0;
}

static int transport_udp_socket(struct faii_transport_udp *udp)
{
	udp->fd = socket(udp->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (udp->fd < 0)
		return -errno;
	/* Best effort: a bigger buffer absorbs a burst of vertices; less is a loss. */
	int buffer_bytes = (int)FAII_TRANSPORT_UDP_SOCKET_BUFFER_BYTES;
	(void)setsockopt(udp->fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
	(void)setsockopt(udp->fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
	if (bind(udp->fd, (const struct sockaddr *)&udp->peers[udp->self],
	         transport_udp_address_len(udp->family)) < 0)
		return -errno;
	/* The table holds what the kernel bound, so a port of 0 reads back. */
	socklen_t len = sizeof(udp->peers[udp->self]);
	if (getsockname(udp->fd, (struct sockaddr *)&udp->peers[udp->self], &len) < 0)
		return -errno;
	return 0;
}

int faii_transport_udp_open(struct faii_transport_udp **udp_out, uint32_t self, uint32_t peer_count,
                            const struct sockaddr_storage *peers)
{
	FAII_ASSERT(udp_out != NULL);
	int rc = transport_udp_check_peers(self, peer_count, peers);
	if (rc < 0)
		return rc;
	struct faii_transport_udp *udp = calloc(1, sizeof(*udp));
	if (udp == NULL)
		return -ENOMEM;
	udp->family = peers[0].ss_family;
	udp->self = self;
	udp->peer_count = peer_count;
	memcpy(udp->peers, peers, peer_count * sizeof(peers[0]));
	udp->transport = (struct faii_transport){
	        .send = transport_udp_send,
	        .ctx = udp,
	        .self = self,
	        .peer_count = peer_count,
	        .message_bytes_max = FAII_TRANSPORT_MESSAGE_BYTES_MAX,
	};
	rc = transport_udp_socket(udp);
	if (rc < 0) {
		faii_transport_udp_close(udp);
		return rc;
	}
	*udp_out = udp;
	return 0;
}

void faii_transport_udp_close(struct faii_transport_udp *udp)
{
	if (udp == NULL)
		return;
	if (udp->fd >= 0)
		close(udp->fd);
	free(udp);
}

struct faii_transport *faii_transport_udp_transport(struct faii_transport_udp *udp)
{
	FAII_ASSERT(udp->transport.ctx == udp);
	return &udp->transport;
}

int faii_transport_udp_fd(const struct faii_transport_udp *udp)
{
	FAII_ASSERT(udp->fd >= 0);
	return udp->fd;
}

int faii_transport_udp_local_address(const struct faii_transport_udp *udp,
                                     struct sockaddr_storage *address)
{
	FAII_ASSERT(address != NULL);
	*address = udp->peers[udp->self];
	return 0;
}

int faii_transport_udp_set_peer(struct faii_transport_udp *udp, uint32_t peer,
                                const struct sockaddr_storage *address)
{
	if (peer >= udp->peer_count || peer == udp->self)
		return -EINVAL;
	if (address->ss_family != udp->family)
		return -EAFNOSUPPORT;
	udp->peers[peer] = *address;
	return 0;
}

/* The sender index of a datagram, or a negative number after counting the refusal. */
static int transport_udp_sender(struct faii_transport_udp *udp, size_t len,
                                const struct sockaddr_storage *source)
{
	const uint8_t *header = udp->receive_buffer;
	if (len <= FAII_TRANSPORT_UDP_HEADER_BYTES) {
		udp->stats.refused_short++;
		return -1;
	}
	if (len > FAII_TRANSPORT_UDP_HEADER_BYTES + FAII_TRANSPORT_MESSAGE_BYTES_MAX) {
		udp->stats.refused_truncated++;
		return -1;
	}
	uint32_t magic = (uint32_t)header[0] | (uint32_t)header[1] << 8;
	if (magic != FAII_TRANSPORT_UDP_MAGIC || header[2] != FAII_TRANSPORT_UDP_VERSION ||
	    header[3] != 0 || header[6] != 0 || header[7] != 0) {
		udp->stats.refused_header++;
		return -1;
	}
	uint32_t from = (uint32_t)header[4] | (uint32_t)header[5] << 8;
	if (from >= udp->peer_count || from == udp->self) {
		udp->stats.refused_sender++;
		return -1;
	}
	if (!transport_udp_same_address(source, &udp->peers[from])) {
		udp->stats.refused_source++;
		return -1;
	}
	return (int)from;
}

int faii_transport_udp_receive(struct faii_transport_udp *udp, faii_transport_receive_fn *receive,
                               void *receiver, uint32_t messages_max)
{
	FAII_ASSERT(receive != NULL && udp->fd >= 0);
	FAII_ASSERT(messages_max >= 1 && messages_max <= FAII_TRANSPORT_UDP_RECEIVE_MESSAGES_MAX);
	int delivered = 0;
	for (uint32_t attempt = 0; attempt < messages_max; attempt++) {
		struct sockaddr_storage source;
		socklen_t source_len = sizeof(source);
		ssize_t len = recvfrom(udp->fd, udp->receive_buffer, sizeof(udp->receive_buffer),
		                       MSG_DONTWAIT, (struct sockaddr *)&source, &source_len);
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* an ICMP error from an earlier send: not ours to stop on
				           */
			return -errno;
		}
		FAII_ASSERT((size_t)len <= sizeof(udp->receive_buffer));
		int from = transport_udp_sender(udp, (size_t)len, &source);
		if (from < 0)
			continue;
		udp->stats.received++;
		receive(receiver, (uint32_t)from,
		        udp->receive_buffer + FAII_TRANSPORT_UDP_HEADER_BYTES,
		        (uint32_t)((size_t)len - FAII_TRANSPORT_UDP_HEADER_BYTES));
		delivered++;
	}
	FAII_ASSERT(delivered >= 0 && (uint32_t)delivered <= messages_max);
	return delivered;
}

const struct faii_transport_udp_stats *
faii_transport_udp_stats(const struct faii_transport_udp *udp)
{
	return &udp->stats;
}
