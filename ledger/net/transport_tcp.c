/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct faii_transport over TCP: see include/faii/transport_tcp.h and
 * docs/consensus-transport.md. The bytes (handshake, frames) are
 * tcp_wire.c's; this file owns the sockets, the queues and the timers.
 */
#include "faii/transport_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <sodium.h>

#include "faii/assert.h"
#include "faii/limits.h"
#include "tcp_wire.h"

#define TCP_LISTEN_BACKLOG   64 /* connections the kernel holds before accept() */
#define TCP_NO_CONN          UINT32_MAX
#define TCP_LISTEN_TAG       UINT64_MAX /* epoll data of the listening socket */
#define TCP_RECORD_BYTES     4u         /* a queued message's length, before its bytes */
#define TCP_WRITE_PASSES_MAX 64u        /* send() calls per write, each offering all output */
#define TCP_CONNS_MAX        (FAII_VALIDATORS_MAX - 1 + FAII_TRANSPORT_TCP_PENDING_MAX)
/* A connection's receive buffer: one whole frame (a handshake message is smaller). */
#define TCP_IN_BYTES FAII_TRANSPORT_TCP_FRAME_BYTES_MAX

FAII_STATIC_ASSERT(FAII_CFG_VALIDATORS_MAX <= FAII_VALIDATORS_MAX,
                   "every configured committee fits the transport");
FAII_STATIC_ASSERT(TCP_WIRE_REPLY_BYTES <= TCP_IN_BYTES &&
                           TCP_WIRE_REPLY_BYTES <= FAII_TRANSPORT_TCP_WIRE_BYTES,
                   "a handshake message fits both buffers");
FAII_STATIC_ASSERT(FAII_TRANSPORT_TCP_WIRE_BYTES >= 2 * FAII_TRANSPORT_TCP_FRAME_BYTES_MAX,
                   "the output holds a frame being written and the next one");

enum tcp_conn_state {
	TCP_CONN_FREE,
	TCP_CONN_CONNECTING,  /* initiator: connect() in progress */
	TCP_CONN_AWAIT_REPLY, /* initiator: hello sent */
	TCP_CONN_AWAIT_HELLO, /* responder: accepted */
	TCP_CONN_AWAIT_PROOF, /* responder: reply sent */
	TCP_CONN_ESTABLISHED, /* both identities proven, both streams keyed */
};

struct tcp_conn {
	int fd;
	enum tcp_conn_state state;
	bool initiator;
	bool peer_known; /* initiator: always; responder: once a hello named one */
	uint32_t peer;
	uint32_t generation;  /* tells a stale epoll event from this use of the slot */
	uint32_t watched;     /* the epoll events registered */
	uint64_t deadline_ns; /* the handshake's */
	uint64_t received_ns; /* bytes last read */
	uint64_t written_ns;  /* bytes last written, or output began to wait */
	uint64_t framed_ns;   /* a frame last put in the output: the keepalive clock */
	struct tcp_handshake hs;
	uint8_t *in; /* TCP_IN_BYTES */
	uint32_t in_len;
	uint8_t *out; /* FAII_TRANSPORT_TCP_WIRE_BYTES */
	uint32_t out_len, out_sent;
};

/* Messages waiting for a peer: records (4-byte length, bytes) in a ring. */
struct tcp_queue {
	uint8_t *ring;
	uint32_t capacity; /* queue_bytes_max + TCP_RECORD_BYTES * queue_messages_max */
	uint32_t head;     /* the oldest record's first byte */
	uint32_t used;
	uint32_t messages;
	uint64_t bytes; /* message bytes, records' lengths not counted */
};

struct tcp_peer {
	struct sockaddr_storage address;
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	uint32_t conn;       /* TCP_NO_CONN, our dial, or the authenticated link */
	uint64_t dial_ns;    /* the next dial (peers above self) */
	uint32_t backoff_ms; /* the delay after the next failure */
	struct tcp_queue queue;
};

struct faii_transport_tcp {
	struct faii_transport transport;
	const struct faii_clock *clock;
	int listen_fd, epoll_fd;
	uint32_t self, peer_count;
	uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
	uint32_t queue_bytes_max, queue_messages_max;
	uint32_t pending_max, pending; /* unauthenticated inbound connections */
	uint64_t handshake_timeout_ns, idle_timeout_ns, keepalive_ns;
	uint32_t reconnect_ms_min, reconnect_ms_max;
	bool in_poll;
	bool work_left; /* a flush stopped on its round bound with more to write */
	uint64_t next_timer_ns;
	uint32_t conn_count;
	struct tcp_peer peers[FAII_VALIDATORS_MAX];
	struct tcp_conn conns[TCP_CONNS_MAX];
	struct faii_transport_tcp_stats stats;
	uint8_t opened[FAII_TRANSPORT_MESSAGE_BYTES_MAX];  /* one opened frame */
	uint8_t wrapped[FAII_TRANSPORT_MESSAGE_BYTES_MAX]; /* one queued message that wraps */
};

static const char *const tcp_close_names[FAII_TCP_CLOSE_REASONS] = {
        [FAII_TCP_CLOSE_PEER_CLOSED] = "peer_closed",
        [FAII_TCP_CLOSE_CONNECT_FAILED] = "connect_failed",
        [FAII_TCP_CLOSE_SOCKET_ERROR] = "socket_error",
        [FAII_TCP_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
        [FAII_TCP_CLOSE_HANDSHAKE_MALFORMED] = "handshake_malformed",
        [FAII_TCP_CLOSE_IDENTITY] = "identity",
        [FAII_TCP_CLOSE_KEY_EXCHANGE] = "key_exchange",
        [FAII_TCP_CLOSE_BAD_TAG] = "bad_tag",
        [FAII_TCP_CLOSE_OVERSIZE] = "oversize",
        [FAII_TCP_CLOSE_BAD_FRAME] = "bad_frame",
        [FAII_TCP_CLOSE_IDLE] = "idle",
        [FAII_TCP_CLOSE_STALLED] = "stalled",
        [FAII_TCP_CLOSE_REPLACED] = "replaced",
        [FAII_TCP_CLOSE_CLOSED] = "closed",
};

const char *faii_transport_tcp_close_reason_name(enum faii_transport_tcp_close_reason reason)
{
	FAII_ASSERT(reason < FAII_TCP_CLOSE_REASONS);
	return tcp_close_names[reason];
}

static uint64_t tcp_now(const struct faii_transport_tcp *tcp)
{
	return faii_clock_monotonic_ns(tcp->clock);
}

static socklen_t tcp_address_len(const struct sockaddr_storage *address)
{
	FAII_ASSERT(address->ss_family == AF_INET || address->ss_family == AF_INET6);
	return address->ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                     : sizeof(struct sockaddr_in6);
}

static uint32_t tcp_conn_index(const struct faii_transport_tcp *tcp, const struct tcp_conn *conn)
{
	FAII_ASSERT(conn >= tcp->conns && conn < tcp->conns + tcp->conn_count);
	return (uint32_t)(conn - tcp->conns);
}

/* ---- the send queue ---------------------------------------------------- */

static void tcp_ring_copy_in(struct tcp_queue *queue, uint32_t at, const uint8_t *bytes,
                             uint32_t len)
{
	at %= queue->capacity;
	uint32_t first = queue->capacity - at < len ? queue->capacity - at : len;
	memcpy(queue->ring + at, bytes, first);
	memcpy(queue->ring, bytes + first, len - first);
}

static void tcp_ring_copy_out(const struct tcp_queue *queue, uint32_t at, uint8_t *bytes,
                              uint32_t len)
{
	at %= queue->capacity;
	uint32_t first = queue->capacity - at < len ? queue->capacity - at : len;
	memcpy(bytes, queue->ring + at, first);
	memcpy(bytes + first, queue->ring, len - first);
}

static void tcp_queue_push(struct tcp_queue *queue, const uint8_t *bytes, uint32_t len)
{
	uint8_t record[TCP_RECORD_BYTES] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
	                                    (uint8_t)(len >> 24)};
	FAII_ASSERT(queue->used + TCP_RECORD_BYTES + len <= queue->capacity);
	tcp_ring_copy_in(queue, queue->head + queue->used, record, TCP_RECORD_BYTES);
	tcp_ring_copy_in(queue, queue->head + queue->used + TCP_RECORD_BYTES, bytes, len);
	queue->used += TCP_RECORD_BYTES + len;
	queue->messages++;
	queue->bytes += len;
}

static uint32_t tcp_queue_front_len(const struct tcp_queue *queue)
{
	FAII_ASSERT(queue->messages > 0 && queue->used >= TCP_RECORD_BYTES);
	uint8_t record[TCP_RECORD_BYTES];
	tcp_ring_copy_out(queue, queue->head, record, TCP_RECORD_BYTES);
	uint32_t len = (uint32_t)record[0] | (uint32_t)record[1] << 8 | (uint32_t)record[2] << 16 |
	               (uint32_t)record[3] << 24;
	FAII_ASSERT(len >= 1 && len <= FAII_TRANSPORT_MESSAGE_BYTES_MAX &&
	            TCP_RECORD_BYTES + len <= queue->used);
	return len;
}

/* The oldest message's bytes: in place, or copied to `wrapped` when the
 * ring wraps inside it. */
static const uint8_t *tcp_queue_front(const struct tcp_queue *queue, uint32_t len, uint8_t *wrapped)
{
	uint32_t at = (queue->head + TCP_RECORD_BYTES) % queue->capacity;
	if (at + len <= queue->capacity)
		return queue->ring + at;
	tcp_ring_copy_out(queue, at, wrapped, len);
	return wrapped;
}

static void tcp_queue_pop(struct tcp_queue *queue, uint32_t len)
{
	FAII_ASSERT(queue->messages > 0 && queue->bytes >= len);
	queue->head = (queue->head + TCP_RECORD_BYTES + len) % queue->capacity;
	queue->used -= TCP_RECORD_BYTES + len;
	queue->messages--;
	queue->bytes -= len;
	if (queue->messages == 0) {
		FAII_ASSERT(queue->used == 0 && queue->bytes == 0);
		queue->head = 0;
	}
}

static int tcp_send(struct faii_transport *transport, uint32_t to, const uint8_t *bytes,
                    uint32_t len)
{
	struct faii_transport_tcp *tcp = transport->ctx;
	FAII_ASSERT(transport == &tcp->transport);
	if (to >= tcp->peer_count || to == tcp->self)
		return -EINVAL;
	if (len == 0 || len > transport->message_bytes_max)
		return -EMSGSIZE;
	FAII_ASSERT(bytes != NULL);
	struct tcp_queue *queue = &tcp->peers[to].queue;
	if (queue->messages >= tcp->queue_messages_max ||
	    queue->bytes + len > tcp->queue_bytes_max) {
		tcp->stats.peers[to].send_dropped_full++;
		return -ENOBUFS;
	}
	tcp_queue_push(queue, bytes, len);
	return 0;
}

/* ---- connections -------------------------------------------------------- */

static void tcp_watch(struct faii_transport_tcp *tcp, struct tcp_conn *conn)
{
	uint32_t wanted = EPOLLIN;
	if (conn->state == TCP_CONN_CONNECTING || conn->out_sent < conn->out_len)
		wanted |= EPOLLOUT;
	if (wanted == conn->watched)
		return;
	struct epoll_event event = {
	        .events = wanted,
	        .data.u64 = (uint64_t)conn->generation << 32 | tcp_conn_index(tcp, conn),
	};
	int op = conn->watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	/* Fails only for a bad descriptor or no kernel memory; the link is then
	 * only as good as its timers, which close it. */
	if (epoll_ctl(tcp->epoll_fd, op, conn->fd, &event) == 0)
		conn->watched = wanted;
}

static struct tcp_conn *tcp_conn_take(struct faii_transport_tcp *tcp, int fd, uint64_t now)
{
	for (uint32_t i = 0; i < tcp->conn_count; i++) {
		struct tcp_conn *conn = &tcp->conns[i];
		if (conn->state != TCP_CONN_FREE)
			continue;
		FAII_ASSERT(conn->fd < 0 && conn->in_len == 0 && conn->out_len == 0);
		conn->fd = fd;
		conn->peer_known = false;
		conn->watched = 0;
		conn->deadline_ns = now + tcp->handshake_timeout_ns;
		conn->received_ns = conn->written_ns = conn->framed_ns = now;
		return conn;
	}
	return NULL;
}

/* The next dial to a peer above self: the back-off, a quarter of it again
 * at random (validators that lost each other at once do not redial in
 * step), then the back-off doubles up to its ceiling. */
static void tcp_schedule_dial(struct faii_transport_tcp *tcp, uint32_t index, uint64_t now)
{
	struct tcp_peer *peer = &tcp->peers[index];
	FAII_ASSERT(index > tcp->self && peer->conn == TCP_NO_CONN);
	uint32_t delay_ms = peer->backoff_ms + randombytes_uniform(peer->backoff_ms / 4 + 1);
	peer->dial_ns = now + (uint64_t)delay_ms * FAII_NS_PER_MS;
	peer->backoff_ms = peer->backoff_ms >= tcp->reconnect_ms_max / 2 ? tcp->reconnect_ms_max
	                                                                 : peer->backoff_ms * 2;
	FAII_ASSERT(peer->backoff_ms <= tcp->reconnect_ms_max);
}

static void tcp_conn_close(struct faii_transport_tcp *tcp, struct tcp_conn *conn,
                           enum faii_transport_tcp_close_reason reason, uint64_t now)
{
	FAII_ASSERT(conn->state != TCP_CONN_FREE && conn->fd >= 0 &&
	            reason < FAII_TCP_CLOSE_REASONS);
	uint32_t index = tcp_conn_index(tcp, conn);
	if (!conn->initiator && conn->state != TCP_CONN_ESTABLISHED) {
		FAII_ASSERT(tcp->pending > 0);
		tcp->pending--;
	}
	if (conn->peer_known) {
		struct faii_transport_tcp_peer_stats *stats = &tcp->stats.peers[conn->peer];
		stats->closes[reason]++;
		if (conn->state == TCP_CONN_ESTABLISHED)
			stats->wire_bytes_discarded += conn->out_len - conn->out_sent;
		struct tcp_peer *peer = &tcp->peers[conn->peer];
		if (peer->conn == index) {
			peer->conn = TCP_NO_CONN;
			stats->connected = 0;
			if (conn->initiator)
				tcp_schedule_dial(tcp, conn->peer, now);
		}
	} else {
		tcp->stats.closes_unattributed[reason]++;
	}
	if (conn->watched != 0)
		(void)epoll_ctl(tcp->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	sodium_memzero(&conn->hs, sizeof(conn->hs));
	conn->fd = -1;
	conn->state = TCP_CONN_FREE;
	conn->generation++;
	conn->in_len = conn->out_len = conn->out_sent = 0;
	conn->watched = 0;
}

static enum faii_transport_tcp_close_reason tcp_errno_reason(const struct tcp_conn *conn, int error)
{
	if (error == ECONNRESET || error == EPIPE)
		return FAII_TCP_CLOSE_PEER_CLOSED;
	if (conn->state == TCP_CONN_CONNECTING)
		return FAII_TCP_CLOSE_CONNECT_FAILED;
	return FAII_TCP_CLOSE_SOCKET_ERROR;
}

static enum faii_transport_tcp_close_reason tcp_verdict_reason(enum tcp_wire_verdict verdict)
{
	switch (verdict) {
	case TCP_WIRE_MALFORMED: return FAII_TCP_CLOSE_HANDSHAKE_MALFORMED;
	case TCP_WIRE_IDENTITY: return FAII_TCP_CLOSE_IDENTITY;
	case TCP_WIRE_KEY_EXCHANGE: return FAII_TCP_CLOSE_KEY_EXCHANGE;
	case TCP_WIRE_BAD_TAG: return FAII_TCP_CLOSE_BAD_TAG;
	case TCP_WIRE_OVERSIZE: return FAII_TCP_CLOSE_OVERSIZE;
	case TCP_WIRE_BAD_FRAME: return FAII_TCP_CLOSE_BAD_FRAME;
	case TCP_WIRE_OK:
	case TCP_WIRE_NEED_MORE: break;
	}
	FAII_UNREACHABLE();
}

/* Room for `len` more bytes of output, or NULL. Output that begins to wait
 * starts the stall clock. */
static uint8_t *tcp_out_reserve(struct tcp_conn *conn, uint32_t len, uint64_t now)
{
	if (conn->out_sent == conn->out_len) {
		conn->out_sent = conn->out_len = 0;
		conn->written_ns = now;
	} else if (conn->out_sent > 0 && conn->out_len + len > FAII_TRANSPORT_TCP_WIRE_BYTES) {
		memmove(conn->out, conn->out + conn->out_sent, conn->out_len - conn->out_sent);
		conn->out_len -= conn->out_sent;
		conn->out_sent = 0;
	}
	if (conn->out_len + len > FAII_TRANSPORT_TCP_WIRE_BYTES)
		return NULL;
	return conn->out + conn->out_len;
}

static void tcp_out_put(struct tcp_conn *conn, const uint8_t *bytes, uint32_t len, uint64_t now)
{
	uint8_t *room = tcp_out_reserve(conn, len, now);
	FAII_ASSERT(room != NULL); /* handshake messages go into an empty output */
	memcpy(room, bytes, len);
	conn->out_len += len;
}

/* Writes the output until it is empty or the socket is full. False when
 * the connection closed. */
static bool tcp_write(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	FAII_ASSERT(conn->state != TCP_CONN_FREE && conn->state != TCP_CONN_CONNECTING);
	for (uint32_t pass = 0; conn->out_sent < conn->out_len && pass < TCP_WRITE_PASSES_MAX;
	     pass++) {
		ssize_t written = send(conn->fd, conn->out + conn->out_sent,
		                       conn->out_len - conn->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			tcp_conn_close(tcp, conn, tcp_errno_reason(conn, errno), now);
			return false;
		}
		FAII_ASSERT(written > 0 && (uint32_t)written <= conn->out_len - conn->out_sent);
		conn->out_sent += (uint32_t)written;
		conn->written_ns = now;
		if (conn->peer_known)
			tcp->stats.peers[conn->peer].bytes_sent += (uint64_t)written;
	}
	if (conn->out_sent == conn->out_len)
		conn->out_sent = conn->out_len = 0;
	tcp_watch(tcp, conn);
	return true;
}

/* Seals queued messages into the output while they fit. */
static void tcp_fill(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	FAII_ASSERT(conn->state == TCP_CONN_ESTABLISHED);
	struct tcp_queue *queue = &tcp->peers[conn->peer].queue;
	struct faii_transport_tcp_peer_stats *stats = &tcp->stats.peers[conn->peer];
	while (queue->messages > 0) {
		uint32_t len = tcp_queue_front_len(queue);
		uint8_t *frame =
		        tcp_out_reserve(conn, FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES + len, now);
		if (frame == NULL)
			break;
		const uint8_t *bytes = tcp_queue_front(queue, len, tcp->wrapped);
		conn->out_len += tcp_wire_seal(&conn->hs.push, bytes, len, frame);
		tcp_queue_pop(queue, len);
		conn->framed_ns = now;
		stats->messages_sent++;
	}
	stats->queued_messages = queue->messages;
	stats->queued_bytes = queue->bytes;
}

/* Encrypts and writes for a bounded number of rounds. */
static void tcp_flush(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	if (conn->state == TCP_CONN_FREE || conn->state == TCP_CONN_CONNECTING)
		return;
	for (uint32_t round = 0; round < FAII_TRANSPORT_TCP_WRITE_ROUNDS_MAX; round++) {
		if (conn->state == TCP_CONN_ESTABLISHED)
			tcp_fill(tcp, conn, now);
		if (conn->out_sent == conn->out_len)
			return;
		if (!tcp_write(tcp, conn, now))
			return;
		if (conn->out_len != 0)
			return; /* the socket is full: EPOLLOUT calls again */
	}
	if (conn->state == TCP_CONN_ESTABLISHED &&
	    (conn->out_len > conn->out_sent || tcp->peers[conn->peer].queue.messages > 0))
		tcp->work_left = true;
}

static void tcp_flush_all(struct faii_transport_tcp *tcp, uint64_t now)
{
	tcp->work_left = false;
	for (uint32_t i = 0; i < tcp->conn_count; i++)
		tcp_flush(tcp, &tcp->conns[i], now);
}

/* ---- handshakes and frames ---------------------------------------------- */

static void tcp_established(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	FAII_ASSERT(conn->peer_known && conn->peer < tcp->peer_count && conn->peer != tcp->self);
	uint32_t index = tcp_conn_index(tcp, conn);
	struct tcp_peer *peer = &tcp->peers[conn->peer];
	if (!conn->initiator) {
		FAII_ASSERT(tcp->pending > 0);
		tcp->pending--;
		/* The peer dials only when it has given up its previous link. */
		if (peer->conn != TCP_NO_CONN)
			tcp_conn_close(tcp, &tcp->conns[peer->conn], FAII_TCP_CLOSE_REPLACED, now);
		peer->conn = index;
	}
	FAII_ASSERT(peer->conn == index);
	tcp_wire_forget_secrets(&conn->hs);
	conn->state = TCP_CONN_ESTABLISHED;
	conn->received_ns = conn->framed_ns = now;
	peer->backoff_ms = tcp->reconnect_ms_min;
	struct faii_transport_tcp_peer_stats *stats = &tcp->stats.peers[conn->peer];
	stats->connected = 1;
	stats->links++;
	if (stats->links > 1)
		stats->reconnects++;
}

/* One whole handshake message at `bytes` for the connection's state. */
static enum tcp_wire_verdict tcp_handshake_step(struct faii_transport_tcp *tcp,
                                                struct tcp_conn *conn, const uint8_t *bytes,
                                                uint64_t now)
{
	enum tcp_wire_verdict verdict;
	switch (conn->state) {
	case TCP_CONN_AWAIT_HELLO: {
		uint32_t initiator;
		verdict = tcp_wire_hello_initiator(bytes, tcp->self, tcp->peer_count, &initiator);
		if (verdict != TCP_WIRE_OK)
			return verdict;
		conn->peer = initiator;
		conn->peer_known = true; /* claimed: the proof will tell */
		uint8_t reply[TCP_WIRE_REPLY_BYTES];
		verdict = tcp_wire_reply(&conn->hs, bytes, tcp->self, initiator,
		                         tcp->peers[initiator].public_key,
		                         tcp->peers[tcp->self].public_key, tcp->secret_key, reply);
		if (verdict == TCP_WIRE_OK) {
			tcp_out_put(conn, reply, sizeof(reply), now);
			conn->state = TCP_CONN_AWAIT_PROOF;
		}
		return verdict;
	}
	case TCP_CONN_AWAIT_REPLY: {
		uint8_t proof[TCP_WIRE_PROOF_BYTES];
		verdict = tcp_wire_proof(&conn->hs, bytes, tcp->secret_key, proof);
		if (verdict == TCP_WIRE_OK) {
			tcp_out_put(conn, proof, sizeof(proof), now);
			tcp_established(tcp, conn, now);
		}
		return verdict;
	}
	case TCP_CONN_AWAIT_PROOF:
		verdict = tcp_wire_accept_proof(&conn->hs, bytes);
		if (verdict == TCP_WIRE_OK)
			tcp_established(tcp, conn, now);
		return verdict;
	case TCP_CONN_FREE:
	case TCP_CONN_CONNECTING:
	case TCP_CONN_ESTABLISHED: break;
	}
	FAII_UNREACHABLE();
}

static uint32_t tcp_handshake_bytes(enum tcp_conn_state state)
{
	switch (state) {
	case TCP_CONN_AWAIT_HELLO: return TCP_WIRE_HELLO_BYTES;
	case TCP_CONN_AWAIT_REPLY: return TCP_WIRE_REPLY_BYTES;
	case TCP_CONN_AWAIT_PROOF: return TCP_WIRE_PROOF_BYTES;
	case TCP_CONN_FREE:
	case TCP_CONN_CONNECTING:
	case TCP_CONN_ESTABLISHED: break;
	}
	FAII_UNREACHABLE();
}

struct tcp_delivery {
	faii_transport_receive_fn *receive;
	void *receiver;
	int delivered;
};

/* One whole frame at `bytes` of an established link. */
static enum tcp_wire_verdict tcp_frame_step(struct faii_transport_tcp *tcp, struct tcp_conn *conn,
                                            const uint8_t *bytes, uint32_t frame_bytes,
                                            struct tcp_delivery *delivery)
{
	uint32_t len = 0;
	enum tcp_wire_verdict verdict =
	        tcp_wire_open(&conn->hs.pull, bytes, frame_bytes, tcp->opened, &len);
	if (verdict != TCP_WIRE_OK)
		return verdict;
	struct faii_transport_tcp_peer_stats *stats = &tcp->stats.peers[conn->peer];
	if (len == 0) {
		stats->keepalives_received++;
		return TCP_WIRE_OK;
	}
	stats->messages_received++;
	delivery->delivered++;
	delivery->receive(delivery->receiver, conn->peer, tcp->opened, len);
	return TCP_WIRE_OK;
}

/* Consumes the whole messages in the receive buffer. False when the
 * connection closed. */
static bool tcp_consume(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now,
                        struct tcp_delivery *delivery)
{
	uint32_t consumed = 0;
	enum tcp_wire_verdict verdict = TCP_WIRE_OK;
	/* Each pass consumes a whole message or stops; the buffer holds one frame at most. */
	while (verdict == TCP_WIRE_OK) {
		const uint8_t *at = conn->in + consumed;
		uint32_t have = conn->in_len - consumed, need;
		if (conn->state == TCP_CONN_ESTABLISHED) {
			verdict = tcp_wire_frame_size(at, have, &need);
			if (verdict == TCP_WIRE_OK)
				verdict = tcp_frame_step(tcp, conn, at, need, delivery);
		} else {
			need = tcp_handshake_bytes(conn->state);
			verdict = have < need ? TCP_WIRE_NEED_MORE
			                      : tcp_handshake_step(tcp, conn, at, now);
		}
		if (verdict == TCP_WIRE_OK)
			consumed += need;
	}
	if (verdict != TCP_WIRE_NEED_MORE) {
		tcp_conn_close(tcp, conn, tcp_verdict_reason(verdict), now);
		return false;
	}
	memmove(conn->in, conn->in + consumed, conn->in_len - consumed);
	conn->in_len -= consumed;
	FAII_ASSERT(conn->in_len < TCP_IN_BYTES);
	return true;
}

/* Reads up to FAII_TRANSPORT_TCP_READ_BUDGET_BYTES and consumes them. */
static void tcp_read(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now,
                     struct tcp_delivery *delivery)
{
	uint32_t budget = FAII_TRANSPORT_TCP_READ_BUDGET_BYTES;
	while (budget > 0) {
		uint32_t room = TCP_IN_BYTES - conn->in_len;
		ssize_t got = recv(conn->fd, conn->in + conn->in_len, room < budget ? room : budget,
		                   MSG_DONTWAIT);
		if (got == 0) {
			tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_PEER_CLOSED, now);
			return;
		}
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				tcp_conn_close(tcp, conn, tcp_errno_reason(conn, errno), now);
			return;
		}
		FAII_ASSERT((uint32_t)got <= room && (uint32_t)got <= budget);
		conn->in_len += (uint32_t)got;
		budget -= (uint32_t)got;
		conn->received_ns = now;
		if (conn->peer_known)
			tcp->stats.peers[conn->peer].bytes_received += (uint64_t)got;
		if (!tcp_consume(tcp, conn, now, delivery))
			return;
	}
}

/* ---- dialling and accepting --------------------------------------------- */

/* connect() finished: on success the hello goes out. */
static void tcp_connected(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	FAII_ASSERT(conn->state == TCP_CONN_CONNECTING && conn->initiator);
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error != 0) {
		tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_CONNECT_FAILED, now);
		return;
	}
	uint8_t hello[TCP_WIRE_HELLO_BYTES];
	tcp_wire_hello(&conn->hs, tcp->self, conn->peer, tcp->peers[tcp->self].public_key,
	               tcp->peers[conn->peer].public_key, hello);
	conn->state = TCP_CONN_AWAIT_REPLY;
	tcp_out_put(conn, hello, sizeof(hello), now);
	(void)tcp_write(tcp, conn, now);
}

static void tcp_dial(struct faii_transport_tcp *tcp, uint32_t index, uint64_t now)
{
	struct tcp_peer *peer = &tcp->peers[index];
	FAII_ASSERT(index > tcp->self && peer->conn == TCP_NO_CONN);
	tcp->stats.peers[index].connects++;
	int fd = socket(peer->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		tcp->stats.peers[index].closes[FAII_TCP_CLOSE_SOCKET_ERROR]++;
		tcp_schedule_dial(tcp, index, now);
		return;
	}
	/* Consensus messages are latency-bound: no Nagle delay. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct tcp_conn *conn = tcp_conn_take(tcp, fd, now);
	FAII_ASSERT(conn != NULL); /* one connection per peer is always left for dials */
	conn->initiator = true;
	conn->peer_known = true;
	conn->peer = index;
	conn->state = TCP_CONN_CONNECTING;
	peer->conn = tcp_conn_index(tcp, conn);
	if (connect(fd, (const struct sockaddr *)&peer->address, tcp_address_len(&peer->address)) ==
	    0) {
		tcp_connected(tcp, conn, now);
		return;
	}
	if (errno != EINPROGRESS) {
		tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_CONNECT_FAILED, now);
		return;
	}
	tcp_watch(tcp, conn);
}

static void tcp_accept(struct faii_transport_tcp *tcp, uint64_t now)
{
	for (uint32_t i = 0; i < FAII_TRANSPORT_TCP_ACCEPTS_PER_POLL_MAX; i++) {
		int fd = accept4(tcp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				tcp->stats.accept_errors++;
			return;
		}
		tcp->stats.accepted++;
		if (tcp->pending >= tcp->pending_max) {
			tcp->stats.refused_pending_full++;
			close(fd);
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct tcp_conn *conn = tcp_conn_take(tcp, fd, now);
		FAII_ASSERT(conn != NULL); /* pending_max connections are kept for accepts */
		conn->initiator = false;
		conn->state = TCP_CONN_AWAIT_HELLO;
		tcp->pending++;
		tcp_watch(tcp, conn);
	}
}

/* ---- timers ------------------------------------------------------------- */

static uint64_t tcp_earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Handshake deadlines, idleness, stalls and keepalives of one connection;
 * returns when it next needs the timers. */
static uint64_t tcp_conn_timers(struct faii_transport_tcp *tcp, struct tcp_conn *conn, uint64_t now)
{
	if (conn->state != TCP_CONN_ESTABLISHED) {
		if (now < conn->deadline_ns)
			return conn->deadline_ns;
		tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_HANDSHAKE_TIMEOUT, now);
		return UINT64_MAX;
	}
	bool waiting = conn->out_sent < conn->out_len;
	if (now - conn->received_ns >= tcp->idle_timeout_ns) {
		tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_IDLE, now);
		return UINT64_MAX;
	}
	if (waiting && now - conn->written_ns >= tcp->idle_timeout_ns) {
		tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_STALLED, now);
		return UINT64_MAX;
	}
	if (now - conn->framed_ns >= tcp->keepalive_ns) {
		uint8_t *frame =
		        tcp_out_reserve(conn, FAII_TRANSPORT_TCP_FRAME_OVERHEAD_BYTES, now);
		/* A full output is not idle: the stall clock watches it instead. */
		if (frame != NULL) {
			conn->out_len += tcp_wire_seal(&conn->hs.push, NULL, 0, frame);
			tcp->stats.peers[conn->peer].keepalives_sent++;
		}
		conn->framed_ns = now;
	}
	uint64_t next = tcp_earlier(conn->received_ns + tcp->idle_timeout_ns,
	                            conn->framed_ns + tcp->keepalive_ns);
	if (conn->out_sent < conn->out_len)
		next = tcp_earlier(next, conn->written_ns + tcp->idle_timeout_ns);
	return next;
}

static void tcp_timers(struct faii_transport_tcp *tcp, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (uint32_t index = tcp->self + 1; index < tcp->peer_count; index++) {
		struct tcp_peer *peer = &tcp->peers[index];
		if (peer->conn == TCP_NO_CONN && now >= peer->dial_ns)
			tcp_dial(tcp, index, now);
		if (peer->conn == TCP_NO_CONN)
			next = tcp_earlier(next, peer->dial_ns);
	}
	for (uint32_t i = 0; i < tcp->conn_count; i++) {
		if (tcp->conns[i].state != TCP_CONN_FREE)
			next = tcp_earlier(next, tcp_conn_timers(tcp, &tcp->conns[i], now));
	}
	/* A connection closed by the loop above scheduled a dial. */
	for (uint32_t index = tcp->self + 1; index < tcp->peer_count; index++) {
		if (tcp->peers[index].conn == TCP_NO_CONN)
			next = tcp_earlier(next, tcp->peers[index].dial_ns);
	}
	tcp->next_timer_ns = next;
}

static int tcp_timeout_at(const struct faii_transport_tcp *tcp, uint64_t now)
{
	if (tcp->work_left)
		return 0;
	for (uint32_t i = 0; i < tcp->conn_count; i++) {
		const struct tcp_conn *conn = &tcp->conns[i];
		if (conn->state == TCP_CONN_ESTABLISHED && conn->out_len == 0 &&
		    tcp->peers[conn->peer].queue.messages > 0)
			return 0;
	}
	if (tcp->next_timer_ns <= now)
		return 0;
	uint64_t ms = (tcp->next_timer_ns - now + FAII_NS_PER_MS - 1) / FAII_NS_PER_MS;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int faii_transport_tcp_timeout_ms(const struct faii_transport_tcp *tcp)
{
	return tcp_timeout_at(tcp, tcp_now(tcp));
}

/* ---- the owner's loop --------------------------------------------------- */

static void tcp_event(struct faii_transport_tcp *tcp, const struct epoll_event *event, uint64_t now,
                      struct tcp_delivery *delivery)
{
	if (event->data.u64 == TCP_LISTEN_TAG) {
		tcp_accept(tcp, now);
		return;
	}
	uint32_t index = (uint32_t)(event->data.u64 & UINT32_MAX);
	uint32_t generation = (uint32_t)(event->data.u64 >> 32);
	FAII_ASSERT(index < tcp->conn_count);
	struct tcp_conn *conn = &tcp->conns[index];
	/* The slot was closed (and perhaps reused) earlier in this batch. */
	if (conn->state == TCP_CONN_FREE || conn->generation != generation)
		return;
	if (conn->state == TCP_CONN_CONNECTING) {
		tcp_connected(tcp, conn, now);
		return;
	}
	if (event->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		tcp_read(tcp, conn, now, delivery);
	if (conn->state != TCP_CONN_FREE && conn->generation == generation &&
	    (event->events & EPOLLOUT))
		tcp_flush(tcp, conn, now);
}

int faii_transport_tcp_poll(struct faii_transport_tcp *tcp, int timeout_ms,
                            faii_transport_receive_fn *receive, void *receiver)
{
	FAII_ASSERT(!tcp->in_poll && receive != NULL && timeout_ms >= 0);
	tcp->in_poll = true;
	uint64_t now = tcp_now(tcp);
	tcp_timers(tcp, now);
	tcp_flush_all(tcp, now);
	int wait_ms = tcp_timeout_at(tcp, now);
	struct epoll_event events[FAII_TRANSPORT_TCP_EVENTS_PER_POLL_MAX];
	int ready = epoll_wait(tcp->epoll_fd, events, FAII_TRANSPORT_TCP_EVENTS_PER_POLL_MAX,
	                       wait_ms < timeout_ms ? wait_ms : timeout_ms);
	if (ready < 0) {
		int error = errno;
		tcp->in_poll = false;
		return error == EINTR ? 0 : -error;
	}
	now = tcp_now(tcp);
	struct tcp_delivery delivery = {.receive = receive, .receiver = receiver};
	for (int i = 0; i < ready; i++)
		tcp_event(tcp, &events[i], now, &delivery);
	tcp_flush_all(tcp, now);
	tcp->in_poll = false;
	FAII_ASSERT(delivery.delivered >= 0);
	return delivery.delivered;
}

/* ---- opening and closing ------------------------------------------------ */

/* A configured value, or its default for 0; false when out of [low, high]. */
static bool tcp_setting(uint32_t value, uint32_t fallback, uint32_t low, uint32_t high,
                        uint32_t *out)
{
	*out = value == 0 ? fallback : value;
	return *out >= low && *out <= high;
}

static int tcp_check_settings(struct faii_transport_tcp *tcp,
                              const struct faii_transport_tcp_config *config, char *err,
                              size_t errlen)
{
	uint32_t handshake_ms, idle_ms;
	if (!tcp_setting(config->queue_bytes_max, FAII_TRANSPORT_TCP_QUEUE_BYTES_DEFAULT,
	                 FAII_TRANSPORT_MESSAGE_BYTES_MAX, FAII_TRANSPORT_TCP_QUEUE_BYTES_MAX,
	                 &tcp->queue_bytes_max) ||
	    !tcp_setting(config->queue_messages_max, FAII_TRANSPORT_TCP_QUEUE_MESSAGES_DEFAULT, 1,
	                 FAII_TRANSPORT_TCP_QUEUE_MESSAGES_MAX, &tcp->queue_messages_max)) {
		snprintf(err, errlen, "queue bounds: expected %u to %u bytes and 1 to %u messages",
		         FAII_TRANSPORT_MESSAGE_BYTES_MAX, FAII_TRANSPORT_TCP_QUEUE_BYTES_MAX,
		         FAII_TRANSPORT_TCP_QUEUE_MESSAGES_MAX);
		return -EINVAL;
	}
	if (!tcp_setting(config->handshake_timeout_ms,
	                 FAII_TRANSPORT_TCP_HANDSHAKE_TIMEOUT_MS_DEFAULT, 1,
	                 FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX, &handshake_ms) ||
	    !tcp_setting(config->idle_timeout_ms, FAII_TRANSPORT_TCP_IDLE_TIMEOUT_MS_DEFAULT, 3,
	                 FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX, &idle_ms) ||
	    !tcp_setting(config->reconnect_ms_min, FAII_TRANSPORT_TCP_RECONNECT_MS_MIN_DEFAULT, 1,
	                 FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX, &tcp->reconnect_ms_min) ||
	    !tcp_setting(config->reconnect_ms_max, FAII_TRANSPORT_TCP_RECONNECT_MS_MAX_DEFAULT,
	                 tcp->reconnect_ms_min, FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX,
	                 &tcp->reconnect_ms_max)) {
		snprintf(err, errlen,
		         "times: expected 1 to %u ms (idle at least 3), reconnect minimum <= "
		         "maximum",
		         FAII_TRANSPORT_TCP_TIMEOUT_MS_MAX);
		return -EINVAL;
	}
	if (!tcp_setting(config->pending_max, FAII_TRANSPORT_TCP_PENDING_DEFAULT, 1,
	                 FAII_TRANSPORT_TCP_PENDING_MAX, &tcp->pending_max)) {
		snprintf(err, errlen, "pending_max: expected 1 to %u",
		         FAII_TRANSPORT_TCP_PENDING_MAX);
		return -EINVAL;
	}
	tcp->handshake_timeout_ns = (uint64_t)handshake_ms * FAII_NS_PER_MS;
	tcp->idle_timeout_ns = (uint64_t)idle_ms * FAII_NS_PER_MS;
	tcp->keepalive_ns = tcp->idle_timeout_ns / 3;
	return 0;
}

static int tcp_check_committee(const struct faii_transport_tcp_config *config, char *err,
                               size_t errlen)
{
	if (config->peer_count < 2 || config->peer_count > FAII_VALIDATORS_MAX ||
	    config->self >= config->peer_count) {
		snprintf(err, errlen,
		         "committee: expected 2 to %u validators and self below their count",
		         FAII_VALIDATORS_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < config->peer_count; i++) {
		int family = config->peers[i].address.ss_family;
		if (family != AF_INET && family != AF_INET6) {
			snprintf(err, errlen, "validator %u: expected an IPv4 or IPv6 address", i);
			return -EAFNOSUPPORT;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (memcmp(config->peers[i].public_key, config->peers[j].public_key,
			           FAII_TRANSPORT_TCP_PUBLIC_KEY_BYTES) == 0) {
				snprintf(err, errlen, "validators %u and %u: the same public key",
				         j, i);
				return -EINVAL;
			}
		}
	}
	/* From the seed: libsodium's secret key carries a copy of the public
	 * key, which proves nothing about the seed beside it. */
	uint8_t seed[crypto_sign_SEEDBYTES], own[crypto_sign_PUBLICKEYBYTES],
	        derived[crypto_sign_SECRETKEYBYTES];
	crypto_sign_ed25519_sk_to_seed(seed, config->secret_key);
	crypto_sign_seed_keypair(own, derived, seed);
	bool matches = sodium_memcmp(derived, config->secret_key, sizeof(derived)) == 0 &&
	               memcmp(own, config->peers[config->self].public_key, sizeof(own)) == 0;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(derived, sizeof(derived));
	if (!matches) {
		snprintf(err, errlen,
		         "validator %u: the secret key is not the configured public key's",
		         config->self);
		return -EINVAL;
	}
	return 0;
}

static int tcp_allocate(struct faii_transport_tcp *tcp)
{
	for (uint32_t i = 0; i < tcp->conn_count; i++) {
		struct tcp_conn *conn = &tcp->conns[i];
		conn->fd = -1;
		conn->in = malloc(TCP_IN_BYTES);
		conn->out = malloc(FAII_TRANSPORT_TCP_WIRE_BYTES);
		if (conn->in == NULL || conn->out == NULL)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < tcp->peer_count; i++) {
		struct tcp_peer *peer = &tcp->peers[i];
		peer->conn = TCP_NO_CONN;
		peer->backoff_ms = tcp->reconnect_ms_min;
		if (i == tcp->self)
			continue;
		peer->queue.capacity =
		        tcp->queue_bytes_max + TCP_RECORD_BYTES * tcp->queue_messages_max;
		peer->queue.ring = malloc(peer->queue.capacity);
		if (peer->queue.ring == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int tcp_listen(struct faii_transport_tcp *tcp, char *err, size_t errlen)
{
	struct sockaddr_storage *own = &tcp->peers[tcp->self].address;
	tcp->listen_fd = socket(own->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* A restarted validator binds its port again while old links sit in TIME_WAIT. */
	if (tcp->listen_fd < 0 ||
	    setsockopt(tcp->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(tcp->listen_fd, (const struct sockaddr *)own, tcp_address_len(own)) < 0 ||
	    listen(tcp->listen_fd, TCP_LISTEN_BACKLOG) < 0) {
		int error = errno;
		snprintf(err, errlen, "validator %u: cannot listen: %s", tcp->self,
		         strerror(error));
		return -error;
	}
	socklen_t len = sizeof(*own);
	tcp->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event event = {.events = EPOLLIN, .data.u64 = TCP_LISTEN_TAG};
	if (getsockname(tcp->listen_fd, (struct sockaddr *)own, &len) < 0 || tcp->epoll_fd < 0 ||
	    epoll_ctl(tcp->epoll_fd, EPOLL_CTL_ADD, tcp->listen_fd, &event) < 0) {
		int error = errno;
		snprintf(err, errlen, "validator %u: epoll: %s", tcp->self, strerror(error));
		return -error;
	}
	return 0;
}

struct faii_transport_tcp *faii_transport_tcp_open(const struct faii_transport_tcp_config *config,
                                                   const struct faii_clock *clock, char *err,
                                                   size_t errlen)
{
	FAII_ASSERT(config != NULL && clock != NULL && err != NULL && errlen > 0);
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium did not initialise");
		return NULL;
	}
	if (tcp_check_committee(config, err, errlen) < 0)
		return NULL;
	struct faii_transport_tcp *tcp = calloc(1, sizeof(*tcp));
	if (tcp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tcp->listen_fd = tcp->epoll_fd = -1;
	tcp->clock = clock;
	tcp->self = config->self;
	tcp->peer_count = config->peer_count;
	tcp->conn_count = config->peer_count - 1; /* set again below, once pending_max is known */
	memcpy(tcp->secret_key, config->secret_key, sizeof(tcp->secret_key));
	for (uint32_t i = 0; i < config->peer_count; i++) {
		tcp->peers[i].address = config->peers[i].address;
		memcpy(tcp->peers[i].public_key, config->peers[i].public_key,
		       sizeof(tcp->peers[i].public_key));
	}
	if (tcp_check_settings(tcp, config, err, errlen) < 0) {
		faii_transport_tcp_close(tcp);
		return NULL;
	}
	tcp->conn_count = config->peer_count - 1 + tcp->pending_max;
	FAII_ASSERT(tcp->conn_count <= TCP_CONNS_MAX);
	if (tcp_allocate(tcp) < 0) {
		snprintf(err, errlen, "out of memory for %u connections and queues",
		         tcp->conn_count);
		faii_transport_tcp_close(tcp);
		return NULL;
	}
	if (tcp_listen(tcp, err, errlen) < 0) {
		faii_transport_tcp_close(tcp);
		return NULL;
	}
	tcp->transport = (struct faii_transport){
	        .send = tcp_send,
	        .ctx = tcp,
	        .self = tcp->self,
	        .peer_count = tcp->peer_count,
	        .message_bytes_max = FAII_TRANSPORT_MESSAGE_BYTES_MAX,
	};
	return tcp;
}

void faii_transport_tcp_close(struct faii_transport_tcp *tcp)
{
	if (tcp == NULL)
		return;
	FAII_ASSERT(!tcp->in_poll);
	uint64_t now = tcp_now(tcp);
	for (uint32_t i = 0; i < tcp->conn_count; i++) {
		struct tcp_conn *conn = &tcp->conns[i];
		if (conn->state != TCP_CONN_FREE)
			tcp_conn_close(tcp, conn, FAII_TCP_CLOSE_CLOSED, now);
		free(conn->in);
		free(conn->out);
	}
	for (uint32_t i = 0; i < tcp->peer_count; i++)
		free(tcp->peers[i].queue.ring);
	if (tcp->listen_fd >= 0)
		close(tcp->listen_fd);
	if (tcp->epoll_fd >= 0)
		close(tcp->epoll_fd);
	sodium_memzero(tcp->secret_key, sizeof(tcp->secret_key));
	free(tcp);
}

/* ---- accessors ---------------------------------------------------------- */

struct faii_transport *faii_transport_tcp_transport(struct faii_transport_tcp *tcp)
{
	FAII_ASSERT(tcp->transport.ctx == tcp);
	return &tcp->transport;
}

int faii_transport_tcp_fd(const struct faii_transport_tcp *tcp)
{
	FAII_ASSERT(tcp->epoll_fd >= 0);
	return tcp->epoll_fd;
}

int faii_transport_tcp_local_address(const struct faii_transport_tcp *tcp,
                                     struct sockaddr_storage *address)
{
	FAII_ASSERT(address != NULL);
	*address = tcp->peers[tcp->self].address;
	return 0;
}

int faii_transport_tcp_set_peer_address(struct faii_transport_tcp *tcp, uint32_t peer,
                                        const struct sockaddr_storage *address)
{
	if (peer >= tcp->peer_count || peer == tcp->self)
		return -EINVAL;
	if (address->ss_family != AF_INET && address->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	tcp->peers[peer].address = *address;
	return 0;
}

const struct faii_transport_tcp_stats *
faii_transport_tcp_stats(const struct faii_transport_tcp *tcp)
{
	return &tcp->stats;
}

int faii_transport_tcp_parse_address(const char *host_port, struct sockaddr_storage *address)
{
	FAII_ASSERT(host_port != NULL && address != NULL);
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(host_port, ':');
	if (colon == NULL || colon == host_port || (size_t)(colon - host_port) >= sizeof(host))
		return -EINVAL;
	memcpy(host, host_port, (size_t)(colon - host_port));
	host[colon - host_port] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port > UINT16_MAX)
		return -EINVAL;
	memset(address, 0, sizeof(*address));
	struct sockaddr_in *v4 = (struct sockaddr_in *)address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
	size_t host_len = strlen(host);
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			return 0;
		}
	}
	return -EINVAL;
}
