/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator control socket's server side (docs/control.md): a Unix
 * stream socket speaking newline-delimited JSON, polled from the control
 * thread with non-blocking sockets and bounded buffers, so that no client,
 * however slow or hostile, can block the appliance or other clients.
 *
 * This file knows framing, roles and bounds; what the commands do is the
 * dispatcher's business (appliance/control.c and appliance/cmd_*.c).
 *
 * Error convention: faii_ctl_open() returns 0, or -1 with a sentence in
 * err; a dispatcher returns its JSON result, or NULL after faii_ctl_fail()
 * filled err with a code of docs/control.md and a sentence. A client that
 * breaks a bound is answered with an error line or dropped and counted.
 */
#ifndef FAII_CTLSOCK_H
#define FAII_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faii/config.h"

#define FAII_CTL_PROTOCOL          1
#define FAII_CTL_LINE_MAX          65536u
#define FAII_CTL_CLIENTS_MAX       128u
#define FAII_CTL_OUTPUT_MAX        (1u << 20)
#define FAII_CTL_REQUESTS_PER_POLL 16u
/* Of FAII_CTL_CLIENTS_MAX, slots only an admin may take: readers cannot
 * lock the operators out. */
#define FAII_CTL_ADMIN_SLOTS_RESERVED 16u
/* A client that sends, reads and awaits nothing for this long is closed. */
#define FAII_CTL_IDLE_TIMEOUT_S 30u
/* Connections the kernel queues before faiid accepts them (capped by
 * net.core.somaxconn), and how many one poll accepts: a peer without a
 * role is refused at accept, so a flood of them is drained quickly. */
#define FAII_CTL_LISTEN_BACKLOG   1024u
#define FAII_CTL_ACCEPTS_PER_POLL 256u

_Static_assert(FAII_CTL_ADMIN_SLOTS_RESERVED < FAII_CTL_CLIENTS_MAX, "room for readers");
_Static_assert(FAII_CTL_ACCEPTS_PER_POLL >= FAII_CTL_CLIENTS_MAX, "a poll can fill every slot");

enum faii_ctl_role {
	FAII_CTL_ROLE_NONE = 0,
	FAII_CTL_ROLE_READER = 1,
	FAII_CTL_ROLE_ADMIN = 2,
};

struct faii_ctl_peer {
	uint32_t uid, gid;
	int32_t pid;
	enum faii_ctl_role role;
	uint64_t token; /* names the connection for faii_ctl_answer() */
};

/* A command's failure: a stable code (docs/control.md) and a message. */
struct faii_ctl_error {
	char code[24];
	char message[FAII_CFG_ERR_LEN];
};

/* Runs one request. Returns the result (a new reference), or NULL with err
 * filled, or FAII_CTL_DEFERRED: the answer comes later through
 * faii_ctl_answer() with peer->token, and the connection's next requests
 * wait for it. args is an object (empty when the request had none). */
typedef json_t *(*faii_ctl_dispatch_fn)(void *ctx, const struct faii_ctl_peer *peer,
                                        const char *cmd, json_t *args, struct faii_ctl_error *err);

struct faii_ctl_stats {
	uint64_t accepted, refused, busy, requests, errors, disconnected_slow, line_too_long;
	uint64_t idle_closed;
	uint32_t clients;
};

/* What a dispatcher returns for an answer that comes later. */
extern json_t *const FAII_CTL_DEFERRED;

struct faii_ctl;

/* Binds path (mode 0660; a stale socket file is replaced, a live one is an
 * error). Returns 0, or -1 with a message. */
int faii_ctl_open(struct faii_ctl **out, const char *path, const struct faii_appliance_cfg *roles,
                  faii_ctl_dispatch_fn dispatch, void *ctx, char *err, size_t errlen);
/* New role lists (after a reload); connected clients keep their role. */
void faii_ctl_set_roles(struct faii_ctl *s, const struct faii_appliance_cfg *roles);
/* Waits up to timeout_ms for socket activity and serves it. */
void faii_ctl_poll(struct faii_ctl *s, int timeout_ms);
void faii_ctl_get_stats(const struct faii_ctl *s, struct faii_ctl_stats *out);
/* Answers a deferred request (result, or NULL and err). A connection that
 * has gone since is forgotten: the result is released. Takes result. */
void faii_ctl_answer(struct faii_ctl *s, uint64_t token, json_t *result,
                     const struct faii_ctl_error *err);
/* Closes every connection and removes the socket file. */
void faii_ctl_close(struct faii_ctl *s);

/* Sets err: code and printf-style message. Returns NULL for tail calls. */
json_t *faii_ctl_fail(struct faii_ctl_error *err, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif /* FAII_CTLSOCK_H */
