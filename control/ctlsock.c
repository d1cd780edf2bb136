/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket server: see include/faii/ctlsock.h and docs/control.md.
 */
#include "faii/ctlsock.h"
#include "faii/assert.h"
#include "faii/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct client {
	int fd;
	struct faii_ctl_peer peer;
	bool discarding; /* inside a line that was too long */
	bool closing;    /* close once the output is flushed */
	bool pending;    /* a deferred answer is due: its next lines wait */
	json_t *pending_id;
	uint64_t token;
	double last_active_s; /* monotonic: bytes in or out, or an answer */
	size_t in_len;
	char in[FAII_CTL_LINE_MAX + 2]; /* a full line, its newline, and one we add at EOF */
	char *out;
	size_t out_len, out_off, out_cap;
};

struct faii_ctl {
	int listen_fd;
	char path[FAII_CFG_SOCKET_PATH_LEN_MAX];
	struct faii_appliance_cfg roles;
	faii_ctl_dispatch_fn dispatch;
	void *ctx;
	struct faii_ctl_stats stats;
	uint64_t accepts; /* tokens: accept count above the slot bits */
	struct client *clients[FAII_CTL_CLIENTS_MAX];
};

#define TOKEN_SLOT_BITS 16u
_Static_assert(FAII_CTL_CLIENTS_MAX <= (1u << TOKEN_SLOT_BITS), "a slot fits a token");

/* Immortal (refcount -1, as jansson's own singletons): never freed. */
static json_t deferred_sentinel = {JSON_NULL, (size_t)-1};
json_t *const FAII_CTL_DEFERRED = &deferred_sentinel;

json_t *faii_ctl_fail(struct faii_ctl_error *err, const char *code, const char *fmt, ...)
{
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return NULL;
}

static bool in_list(const uint32_t *ids, uint32_t count, uint32_t id)
{
	for (uint32_t i = 0; i < count; i++) {
		if (ids[i] == id)
			return true;
	}
	return false;
}

static enum faii_ctl_role role_of(const struct faii_appliance_cfg *r, uint32_t uid, uint32_t gid)
{
	if (uid == 0 || in_list(r->control_admin_uids, r->control_admin_uid_count, uid) ||
	    in_list(r->control_admin_gids, r->control_admin_gid_count, gid))
		return FAII_CTL_ROLE_ADMIN;
	if (in_list(r->control_reader_uids, r->control_reader_uid_count, uid) ||
	    in_list(r->control_reader_gids, r->control_reader_gid_count, gid))
		return FAII_CTL_ROLE_READER;
	return FAII_CTL_ROLE_NONE;
}

int faii_ctl_open(struct faii_ctl **out, const char *path, const struct faii_appliance_cfg *roles,
                  faii_ctl_dispatch_fn dispatch, void *ctx, char *err, size_t errlen)
{
	*out = NULL;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "control socket %s: path longer than %zu bytes", path,
		         sizeof(addr.sun_path) - 1);
		return -1;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	/* A socket file nobody listens on is left by a crash: replace it. A
	 * live one belongs to another faiid, and anything that is not a socket
	 * is not ours to delete: refuse both. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			snprintf(err, errlen, "control socket %s: exists and is not a socket",
			         path);
			return -1;
		}
		int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		int e = errno;
		close(fd);
		if (rc == 0 || e != ECONNREFUSED) {
			snprintf(err, errlen, "control socket %s: %s", path,
			         rc == 0 ? "another process is listening on it" : strerror(e));
			return -1;
		}
		unlink(path);
	} else {
		close(fd);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0117); /* the file is created 0660 */
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc != 0 || listen(fd, FAII_CTL_LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct faii_ctl *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "control socket: out of memory");
		return -1;
	}
	s->listen_fd = fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->roles = *roles;
	s->dispatch = dispatch;
	s->ctx = ctx;
	*out = s;
	return 0;
}

void faii_ctl_set_roles(struct faii_ctl *s, const struct faii_appliance_cfg *roles)
{
	s->roles = *roles;
}

void faii_ctl_get_stats(const struct faii_ctl *s, struct faii_ctl_stats *out)
{
	*out = s->stats;
}

static void drop_client(struct faii_ctl *s, unsigned i)
{
	struct client *c = s->clients[i];
	close(c->fd);
	json_decref(c->pending_id);
	free(c->out);
	free(c);
	s->clients[i] = NULL;
	s->stats.clients--;
}

/* Queues one line; false when the client's output bound is exceeded. */
static bool queue_line(struct client *c, const char *text, size_t len)
{
	size_t need = c->out_len - c->out_off + len + 1;
	if (need > FAII_CTL_OUTPUT_MAX)
		return false;
	if (c->out_off > 0) { /* compact before growing */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len + 1)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (p == NULL)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	FAII_ASSERT(c->out_off <= c->out_len && c->out_len <= c->out_cap);
	FAII_ASSERT(c->out_len - c->out_off <= FAII_CTL_OUTPUT_MAX);
	return true;
}

static bool respond(struct faii_ctl *s, struct client *c, json_t *id, json_t *result,
                    const struct faii_ctl_error *err)
{
	json_t *r = json_object();
	json_object_set(r, "id", id ? id : json_null());
	json_object_set_new(r, "ok", json_boolean(result != NULL));
	if (result != NULL) {
		json_object_set_new(r, "result", result);
	} else {
		s->stats.errors++;
		json_object_set_new(
		        r, "error",
		        json_pack("{s:s, s:s}", "code", err->code, "message", err->message));
	}
	char *text = json_dumps(r, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(r);
	if (text != NULL && strlen(text) + 1 > FAII_CTL_OUTPUT_MAX / 2) {
		/* One answer may not fill the client's whole output bound: say
		 * why instead of hanging up on a client that reads. */
		free(text);
		struct faii_ctl_error big;
		faii_ctl_fail(&big, "internal",
		              "the answer exceeds %u bytes; narrow the request (e.g. offset/limit)",
		              FAII_CTL_OUTPUT_MAX / 2);
		json_t *e = json_pack("{s:O, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(), "ok",
		                      0, "error", "code", big.code, "message", big.message);
		text = json_dumps(e, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(e);
		if (result != NULL)
			s->stats.errors++;
	}
	bool ok = text != NULL && queue_line(c, text, strlen(text));
	free(text);
	return ok;
}

static bool handle_line(struct faii_ctl *s, struct client *c, const char *line, size_t len)
{
	struct faii_ctl_error err;
	memset(&err, 0, sizeof(err));
	s->stats.requests++;
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (req == NULL) {
		faii_ctl_fail(&err, "parse_error", "not valid JSON: %s (column %d)", jerr.text,
		              jerr.column);
		return respond(s, c, NULL, NULL, &err);
	}
	json_t *id = json_object_get(req, "id");
	json_t *cmd = json_object_get(req, "cmd");
	json_t *args = json_object_get(req, "args");
	bool good_id = id != NULL && (json_is_integer(id) || json_is_string(id));
	bool ok;
	if (!json_is_object(req) || !good_id || !json_is_string(cmd) ||
	    (args != NULL && !json_is_object(args))) {
		faii_ctl_fail(
		        &err, "invalid_request",
		        "expected {\"id\": integer or string, \"cmd\": string, \"args\": object}");
		ok = respond(s, c, good_id ? id : NULL, NULL, &err);
	} else {
		json_t *empty = args ? NULL : json_object();
		json_t *result = s->dispatch(s->ctx, &c->peer, json_string_value(cmd),
		                             args ? args : empty, &err);
		json_decref(empty);
		if (result == FAII_CTL_DEFERRED) {
			FAII_ASSERT(!c->pending && c->pending_id == NULL);
			c->pending = true;
			c->pending_id = json_incref(id);
			ok = true;
		} else {
			ok = respond(s, c, id, result, &err);
		}
	}
	json_decref(req);
	return ok;
}

/* Serves complete lines in the input buffer; false: drop the client. */
static bool serve_lines(struct faii_ctl *s, struct client *c)
{
	size_t start = 0;
	unsigned served = 0;
	FAII_ASSERT(c->in_len <= FAII_CTL_LINE_MAX + 1);
	while (served < FAII_CTL_REQUESTS_PER_POLL && !c->pending) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		if (c->discarding) {
			c->discarding = false; /* the end of the long line */
		} else if (len > 0 && !handle_line(s, c, c->in + start, len)) {
			s->stats.disconnected_slow++;
			return false;
		}
		start += len + 1;
		served++;
	}
	FAII_ASSERT(start <= c->in_len);
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == FAII_CTL_LINE_MAX + 1 && memchr(c->in, '\n', c->in_len) == NULL) {
		/* A line longer than the bound: say so once, skip to its end. */
		s->stats.line_too_long++;
		c->in_len = 0;
		if (!c->discarding) {
			c->discarding = true;
			struct faii_ctl_error err;
			faii_ctl_fail(&err, "line_too_long", "a request line is at most %u bytes",
			              FAII_CTL_LINE_MAX);
			if (!respond(s, c, NULL, NULL, &err))
				return false;
		}
	}
	return true;
}

/* One line saying why, best effort, then close; counted. */
static void refuse(struct faii_ctl *s, int fd, bool forbidden)
{
	static const char refused[] = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"forbidden\","
	                              "\"message\":"
	                              "\"this user has no role on the control socket\"}}\n";
	static const char busy[] = "{\"id\":null,\"ok\":false,\"error\":{\"code\":"
	                           "\"busy\",\"message\":"
	                           "\"too many clients are connected\"}}\n";
	const char *msg = forbidden ? refused : busy;
	ssize_t w = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
	if (forbidden)
		s->stats.refused++;
	else
		s->stats.busy++;
}

/* A free slot for a peer of this role, or FAII_CTL_CLIENTS_MAX: the last
 * FAII_CTL_ADMIN_SLOTS_RESERVED are an admin's only. */
static unsigned free_slot(const struct faii_ctl *s, enum faii_ctl_role role)
{
	unsigned slot = FAII_CTL_CLIENTS_MAX, others = 0;
	for (unsigned i = 0; i < FAII_CTL_CLIENTS_MAX; i++) {
		if (s->clients[i] == NULL)
			slot = slot == FAII_CTL_CLIENTS_MAX ? i : slot;
		else
			others += s->clients[i]->peer.role != FAII_CTL_ROLE_ADMIN;
	}
	if (role != FAII_CTL_ROLE_ADMIN &&
	    others >= FAII_CTL_CLIENTS_MAX - FAII_CTL_ADMIN_SLOTS_RESERVED)
		return FAII_CTL_CLIENTS_MAX;
	return slot;
}

static void accept_clients(struct faii_ctl *s)
{
	for (unsigned k = 0; k < FAII_CTL_ACCEPTS_PER_POLL; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			close(fd);
			continue;
		}
		/* Refused before anything is allocated or read. */
		enum faii_ctl_role role = role_of(&s->roles, cred.uid, cred.gid);
		if (role == FAII_CTL_ROLE_NONE) {
			refuse(s, fd, true);
			continue;
		}
		unsigned slot = free_slot(s, role);
		struct client *c = slot < FAII_CTL_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			refuse(s, fd, false);
			continue;
		}
		c->fd = fd;
		c->token = ++s->accepts << TOKEN_SLOT_BITS | slot;
		c->last_active_s = faii_monotonic_s();
		c->peer = (struct faii_ctl_peer){.uid = cred.uid,
		                                 .gid = cred.gid,
		                                 .pid = cred.pid,
		                                 .role = role,
		                                 .token = c->token};
		s->clients[slot] = c;
		s->stats.clients++;
		s->stats.accepted++;
	}
}

void faii_ctl_answer(struct faii_ctl *s, uint64_t token, json_t *result,
                     const struct faii_ctl_error *err)
{
	unsigned slot = (unsigned)(token & ((1u << TOKEN_SLOT_BITS) - 1));
	struct client *c = slot < FAII_CTL_CLIENTS_MAX ? s->clients[slot] : NULL;
	if (c == NULL || c->token != token || !c->pending) {
		json_decref(result); /* the client left meanwhile */
		return;
	}
	FAII_ASSERT(result != FAII_CTL_DEFERRED);
	c->pending = false;
	c->last_active_s = faii_monotonic_s();
	bool ok = respond(s, c, c->pending_id, result, err);
	json_decref(c->pending_id);
	c->pending_id = NULL;
	if (!ok) {
		s->stats.disconnected_slow++;
		c->closing = true;
		c->out_off = c->out_len; /* nothing more will be written */
	}
}

/* Reads what the client sent and serves it; false: drop the client. */
static bool client_input(struct faii_ctl *s, struct client *c, short revents)
{
	size_t room = FAII_CTL_LINE_MAX + 1 - c->in_len;
	if ((revents & (POLLIN | POLLHUP)) && !c->closing && room > 0) {
		ssize_t r = read(c->fd, c->in + c->in_len, room);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			c->closing = true; /* the peer is done: answer what it sent */
			if (c->in_len > 0 && !c->discarding)
				c->in[c->in_len++] = '\n'; /* a last line without its newline */
		} else if (r > 0) {
			c->in_len += (size_t)r;
			c->last_active_s = faii_monotonic_s();
		}
	}
	/* Requests left over from the per-poll bound are served here too. */
	return c->in_len == 0 || serve_lines(s, c);
}

/* Writes what is queued; false: drop the client. */
static bool client_output(struct client *c)
{
	if (c->out_len == c->out_off)
		return true;
	/* MSG_NOSIGNAL: a client that hung up must not kill faiid. */
	ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	if (w > 0) {
		c->out_off += (size_t)w;
		c->last_active_s = faii_monotonic_s();
	}
	return w >= 0 || errno == EAGAIN || errno == EINTR;
}

/* Nothing sent, read or awaited for FAII_CTL_IDLE_TIMEOUT_S. */
static bool client_idle(const struct client *c, double now_s)
{
	return !c->pending && c->out_len == c->out_off &&
	       now_s - c->last_active_s > FAII_CTL_IDLE_TIMEOUT_S;
}

void faii_ctl_poll(struct faii_ctl *s, int timeout_ms)
{
	struct pollfd fds[FAII_CTL_CLIENTS_MAX + 1];
	unsigned idx[FAII_CTL_CLIENTS_MAX + 1];
	nfds_t n = 0;
	fds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (unsigned i = 0; i < FAII_CTL_CLIENTS_MAX; i++) {
		struct client *c = s->clients[i];
		if (c == NULL)
			continue;
		/* A client awaiting a deferred answer is not read from. */
		short ev = c->closing || c->pending ? 0 : POLLIN;
		if (c->out_len > c->out_off)
			ev |= POLLOUT;
		idx[n] = i;
		fds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	if (poll(fds, n, timeout_ms) < 0)
		return;
	double now_s = faii_monotonic_s();
	for (nfds_t k = 1; k < n; k++) {
		struct client *c = s->clients[idx[k]];
		bool drop = (fds[k].revents & (POLLERR | POLLNVAL)) != 0;
		/* Gone while its answer is due: the answer is dropped then. */
		drop |= c->pending && (fds[k].revents & POLLHUP);
		if (!drop && !c->pending && !client_input(s, c, fds[k].revents))
			drop = true;
		if (!drop && !client_output(c))
			drop = true;
		if (!drop && c->closing && !c->pending && c->out_len == c->out_off &&
		    memchr(c->in, '\n', c->in_len) == NULL)
			drop = true;
		if (!drop && client_idle(c, now_s)) {
			s->stats.idle_closed++;
			drop = true;
		}
		if (drop)
			drop_client(s, idx[k]);
	}
	if (fds[0].revents & POLLIN)
		accept_clients(s);
}

void faii_ctl_close(struct faii_ctl *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < FAII_CTL_CLIENTS_MAX; i++) {
		if (s->clients[i] != NULL)
			drop_client(s, i);
	}
	close(s->listen_fd);
	unlink(s->path);
	free(s);
}
