#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Raw-socket checks of faiid's control socket (docs/control.md), and a mock
server for faiictl's own tests.

  control_probe.py request SOCKET JSON        one request line, print the response line
  control_probe.py abuse SOCKET CHECK         one abuse check against a live faiid:
      long_line, max_line, bad_utf8, malformed, truncated, pipeline, concurrent,
      busy, stuck_reader, idle
  control_probe.py flood SOCKET [SECONDS]     connect and hang up in a loop (a user without a role)
  control_probe.py admin_under_flood SOCKET   status requests must keep being answered meanwhile
  control_probe.py hold SOCKET N SECONDS      open N clients, print "served S busy B", hold them
  control_probe.py reload_concurrent SOCKET FILE  a slow reload must not stall other clients
  control_probe.py find|param FILE KEY        a field / a policy parameter of faiictl --json output
  control_probe.py nodes FILE                 "id status" of every node in faiictl --json output
  control_probe.py route FILE COUNTRIES NODES [DRAINED]  check a route.explain result
  control_probe.py mock SOCKET LOG [MODE]     serve canned answers until killed, logging
      each request line to LOG; MODE: normal (default), silent (never answer),
      garbage (answer a non-JSON line), wrong_id (answer another id), close
      (close without answering), huge (answer a line longer than 16 MiB)

Every check prints "ok: ..." or "FAIL: ..." lines and exits 1 if any failed.
Every wait is bounded.
"""
import json
import os
import select
import selectors
import socket
import sys
import threading
import time

failures = 0


def check(what, cond, detail=""):
    global failures
    if cond:
        print(f"ok: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""))


def connect(path, timeout=5.0):
    """Connects, retrying while the listen backlog is full (a Unix socket
    connect fails with EAGAIN then instead of waiting), up to the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Lines:
    """Reads newline-terminated lines from a socket, bounded in time and size."""

    def __init__(self, sock, limit=16 << 20):
        self.sock, self.buf, self.limit, self.eof = sock, b"", limit, False

    def read(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
                return None
            self.buf += chunk
            if len(self.buf) > self.limit:
                raise RuntimeError("response line over the limit")
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_json(self, timeout=5.0):
        line = self.read(timeout)
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {"unparsable": line[:200].decode("utf-8", "replace")}


def roundtrip(path, req, timeout=5.0):
    s = connect(path, timeout)
    try:
        s.sendall((req if isinstance(req, bytes) else json.dumps(req).encode()) + b"\n")
        return Lines(s).read_json(timeout)
    finally:
        s.close()


def is_error(resp, code):
    return (isinstance(resp, dict) and resp.get("ok") is False
            and isinstance(resp.get("error"), dict) and resp["error"].get("code") == code)


def status_ok(resp, rid):
    return (isinstance(resp, dict) and resp.get("ok") is True and resp.get("id") == rid
            and isinstance(resp.get("result"), dict))


def still_serving(path, what):
    """A fresh client gets status within 1 s."""
    t0 = time.monotonic()
    try:
        r = roundtrip(path, {"id": "alive", "cmd": "status"}, timeout=1.0)
    except OSError as e:
        r = repr(e)
    check(f"{what}: server still answers status within 1 s "
          f"({time.monotonic() - t0:.3f} s)", status_ok(r, "alive"), str(r)[:300])


# ---- abuse checks ------------------------------------------------------------------------------

def abuse_long_line(path):
    s = connect(path)
    lines = Lines(s)
    big = b'{"id":1,"cmd":"status","pad":"' + b"x" * (1 << 20) + b'"}\n'
    # The server may answer (and even close) before the whole line is sent:
    # send from a thread and read here so that neither side waits on the other.
    send_err = []

    def sender():
        try:
            s.sendall(big)
            s.sendall(b'{"id":2,"cmd":"status"}\n')
        except OSError as e:
            send_err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    first = lines.read_json(10.0)
    check("1 MiB line answered with line_too_long", is_error(first, "line_too_long"), str(first)[:300])
    second = lines.read_json(10.0)
    t.join(10.0)
    if second is None and lines.eof:
        print("note: the server closed the connection after the long line")
        check("long line: connection closed cleanly (EOF, no more lines)", lines.buf == b"")
    else:
        # Exactly one error for the one long line, then the next request served.
        check("after the long line the connection still serves requests (one error only)",
              status_ok(second, 2), str(second)[:300])
    s.close()
    still_serving(path, "after a 1 MiB line")


def abuse_bad_utf8(path):
    s = connect(path)
    lines = Lines(s)
    s.sendall(b'{"id":1,"cmd":"status","x":"\xff\xfe\xc0\x80"}\n')
    r = lines.read_json()
    check("invalid UTF-8 answered with parse_error", is_error(r, "parse_error"), str(r)[:300])
    check("parse_error carries id null", isinstance(r, dict) and "id" in r and r["id"] is None,
          str(r)[:300])
    s.sendall(b'{"id":3,"cmd":"status"}\n')
    r = lines.read_json()
    check("connection usable after invalid UTF-8", status_ok(r, 3), str(r)[:300])
    s.close()


def abuse_malformed(path):
    cases = [
        (b"{not json", "parse_error"),
        (b"[1,2,3]", "invalid_request"),
        (b'{"cmd":"status"}', "invalid_request"),
        (b'{"id":1}', "invalid_request"),
        (b'{"id":1,"cmd":5}', "invalid_request"),
        (b'{"id":[1],"cmd":"status"}', "invalid_request"),
        (b'{"id":1,"cmd":"status","args":[]}', "invalid_request"),
        (b'{"id":1,"cmd":"no.such.command"}', "unknown_command"),
        (b'{"id":1,"cmd":"node.show"}', "invalid_argument"),
        (b'{"id":1,"cmd":"node.show","args":{"id":"five"}}', "invalid_argument"),
        (b'{"id":1,"cmd":"node.show","args":{"id":9999999}}', "not_found"),
        (b'{"id":1,"cmd":"policy.set","args":{"params":{"concentration_eta":"0.3"}}}',
         "invalid_argument"),
    ]
    s = connect(path)
    lines = Lines(s)
    for raw, code in cases:
        s.sendall(raw + b"\n")
        r = lines.read_json()
        check(f"{raw.decode()[:60]} -> {code}", is_error(r, code), str(r)[:300])
    # The string id is echoed as given.
    s.sendall(b'{"id":"abc","cmd":"status"}\n')
    r = lines.read_json()
    check("string id echoed", status_ok(r, "abc"), str(r)[:300])
    # Two requests in one write: two answers, in order.
    s.sendall(b'{"id":10,"cmd":"status"}\n{"id":11,"cmd":"status"}\n')
    a, b = lines.read_json(), lines.read_json()
    check("pipelined requests answered in order", status_ok(a, 10) and status_ok(b, 11),
          f"{str(a)[:100]} {str(b)[:100]}")
    s.close()


def abuse_truncated(path):
    s = connect(path)
    s.sendall(b'{"id":1,"cmd":"sta')
    s.shutdown(socket.SHUT_WR)
    lines = Lines(s)
    r = lines.read_json(5.0)
    # Either silence or a parse_error, then the server must close: no hang.
    if r is not None:
        check("truncated JSON then EOF: any answer is parse_error", is_error(r, "parse_error"),
              str(r)[:300])
        r = lines.read_json(5.0)
    check("truncated JSON then EOF: the server closes the connection", r is None and lines.eof)
    s.close()
    still_serving(path, "after truncated JSON")


def abuse_pipeline(path, n=5000):
    """Many requests written at once (more than one 64 KiB input buffer's worth):
    every one answered, in order, and the connection stays open."""
    s = connect(path, 10.0)
    data = b"".join(json.dumps({"id": i, "cmd": "status"}).encode() + b"\n" for i in range(n))
    err = []

    def sender():
        try:
            s.sendall(data)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    lines = Lines(s)
    got = 0
    deadline = time.monotonic() + 60.0
    while got < n and time.monotonic() < deadline:
        r = lines.read_json(5.0)
        if not status_ok(r, got):
            print(f"note: answer {got} of {n}: {str(r)[:200]} (eof {lines.eof}, send error {err})")
            break
        got += 1
    t.join(5.0)
    check(f"{n} pipelined requests ({len(data)} bytes in one write) all answered in order "
          f"({got}/{n})", got == n)
    s.sendall(b'{"id":"after","cmd":"status"}\n')
    r = lines.read_json(5.0)
    check("the pipelining connection is still open afterwards", status_ok(r, "after"), str(r)[:200])
    s.close()


def abuse_max_line(path):
    """A request line of exactly 65536 bytes (newline excluded) is within the
    bound (docs/control.md: line_too_long when it exceeds 65536 bytes)."""
    head = b'{"id":1,"cmd":"status","pad":"'
    tail = b'"}'
    line = head + b"x" * (65536 - len(head) - len(tail)) + tail
    assert len(line) == 65536
    s = connect(path)
    lines = Lines(s)
    s.sendall(line + b"\n")
    r = lines.read_json(5.0)
    check("a 65536-byte line is served (not line_too_long)",
          status_ok(r, 1) or is_error(r, "invalid_argument"), str(r)[:200])
    s.close()


def abuse_concurrent(path, n=100):
    socks = []
    for i in range(n):
        socks.append(connect(path, 10.0))
    for i, s in enumerate(socks):
        s.sendall(json.dumps({"id": i, "cmd": "status"}).encode() + b"\n")
    sel = selectors.DefaultSelector()
    bufs = {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        bufs[i] = b""
    answers = {}
    deadline = time.monotonic() + 15.0
    while len(answers) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                answers[i] = None
                sel.unregister(key.fileobj)
                continue
            bufs[i] += chunk
            if b"\n" in bufs[i]:
                try:
                    answers[i] = json.loads(bufs[i].split(b"\n", 1)[0])
                except ValueError:
                    answers[i] = None
                sel.unregister(key.fileobj)
    good = sum(1 for i in range(n) if status_ok(answers.get(i), i))
    bad = [answers.get(i) for i in range(n) if not status_ok(answers.get(i), i)][:3]
    check(f"{n} concurrent clients each got their own status answer ({good}/{n})", good == n,
          str(bad)[:300])
    # The answers agree with each other: same protocol and node count.
    protos = {json.dumps(a["result"].get("protocol")) for a in answers.values() if status_ok(a, a.get("id"))}
    check("concurrent answers agree on the protocol version", len(protos) == 1, str(protos))
    for s in socks:
        s.close()
    still_serving(path, f"after {n} concurrent clients")


def abuse_busy(path, limit=128):
    """The 129th client gets one busy line and is closed; when one leaves, a
    new one gets in."""
    socks = []
    for i in range(limit):
        s = connect(path, 10.0)
        socks.append(s)
        # A round trip on each: the server has accepted it before the next.
        s.sendall(b'{"id":1,"cmd":"status"}\n')
        r = Lines(s).read_json(5.0)
        if not status_ok(r, 1):
            check(f"client {i + 1} of {limit} served", False, str(r)[:200])
            break
    extra = connect(path, 5.0)
    lines = Lines(extra)
    r = lines.read_json(5.0)
    check(f"client {limit + 1} gets busy", is_error(r, "busy"), str(r)[:200])
    check(f"client {limit + 1} is then closed", lines.read(5.0) is None and lines.eof)
    extra.close()
    socks.pop().close()
    time.sleep(0.3)
    still_serving(path, f"after one of {limit} clients left")
    for s in socks:
        s.close()


def abuse_stuck_reader(path):
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.connect(path)
    stuck.setblocking(False)
    req = b"".join(json.dumps({"id": i, "cmd": "node.list"}).encode() + b"\n" for i in range(64))
    sent = 0
    disconnected = False
    worst = 0.0
    probes = 0
    blocked_since = None
    t0 = time.monotonic()
    # Flood for at most 20 s: until the server drops us, or has not taken a
    # byte for 3 s (it stopped reading from us). Probe another client meanwhile.
    next_probe = t0
    while time.monotonic() - t0 < 20.0:
        try:
            n = stuck.send(req)
            sent += n
            blocked_since = None
        except BlockingIOError:
            if blocked_since is None:
                blocked_since = time.monotonic()
            elif time.monotonic() - blocked_since > 3.0:
                break
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            disconnected = True
            break
        if time.monotonic() >= next_probe:
            p0 = time.monotonic()
            try:
                r = roundtrip(path, {"id": "probe", "cmd": "status"}, timeout=1.0)
            except OSError as e:
                r = repr(e)
            dt = time.monotonic() - p0
            worst = max(worst, dt)
            probes += 1
            check(f"while a client floods without reading: status answered in {dt:.3f} s",
                  status_ok(r, "probe") and dt < 1.0, str(r)[:200])
            next_probe = time.monotonic() + 0.5
    print(f"note: flooded {sent} bytes of requests, {probes} probes, worst {worst:.3f} s")
    check("the other client was probed during the flood", probes >= 1)
    if not disconnected:
        # The server closes a client whose output buffer passed 1 MiB; the
        # close shows as POLLHUP on our end, without our reading a byte.
        deadline = time.monotonic() + 15.0
        poller = select.poll()
        poller.register(stuck, select.POLLHUP | select.POLLERR)
        while time.monotonic() < deadline and not disconnected:
            for _, ev in poller.poll(500):
                if ev & (select.POLLHUP | select.POLLERR):
                    disconnected = True
    check("the client that never reads is eventually disconnected", disconnected)
    stuck.close()
    still_serving(path, "after the stuck client")


# ---- admission and reloads (run with the uids the shell test gives them) -----------------------

def flood(path, seconds=10.0, procs=8, hold=64):
    """Connects as fast as it can from several processes (run as a user
    without a role), each keeping its last `hold` connections open so that
    they queue in the listen backlog; prints how many connects it made."""
    stop = time.monotonic() + seconds
    r, w = os.pipe()
    for _ in range(procs):
        if os.fork() == 0:
            os.close(r)
            n, kept = 0, []
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            while time.monotonic() < stop:
                try:
                    s.connect(path)  # EAGAIN while the backlog is full: again
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                n += 1
                kept.append(s)
                if len(kept) > hold:
                    kept.pop(0).close()
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
            os.write(w, b"%d\n" % n)
            os._exit(0)
    os.close(w)
    for _ in range(procs):
        os.wait()
    total = sum(int(x) for x in os.read(r, 4096).split())
    print(f"note: flood made {total} connects in {seconds:.0f} s from {procs} processes")


def admin_under_flood(path, seconds=8.0):
    """Sequential status requests (5 s bound each, connect retried on a full
    backlog) while another user floods the socket: nearly all answered. At
    least 10 requests, for `seconds` or longer (at most 30 s) on a machine so
    loaded that each takes seconds. A starved admin waits without bound; 5 s
    tells that apart from a sanitizer build on a loaded machine."""
    t0 = time.monotonic()
    good = total = 0
    worst = 0.0
    while (time.monotonic() - t0 < seconds or total < 10) and time.monotonic() - t0 < 30.0:
        p0 = time.monotonic()
        try:
            r = roundtrip(path, {"id": total, "cmd": "status"}, timeout=5.0)
        except OSError as e:
            r = repr(e)
        dt = time.monotonic() - p0
        worst = max(worst, dt)
        good += status_ok(r, total)
        total += 1
        time.sleep(0.05)
    check(f"under a connect flood by a user without a role, admin requests answered "
          f"({good}/{total}, worst {worst:.3f} s)", total >= 10 and good >= 0.95 * total)


def hold(path, n=128, seconds=20.0):
    """Opens n connections (run as a reader), a status round trip on each;
    prints "served S busy B", then holds them for seconds."""
    # Every connection first, then every request, then every answer: one
    # round trip at a time would leave the first connections idle long
    # enough on a loaded machine for the idle timeout to free their slots.
    opened, socks, served, busy = [], [], 0, 0
    for i in range(n):
        try:
            opened.append(connect(path, 5.0))
        except OSError:
            busy += 1
    for s in opened:
        try:
            s.sendall(b'{"id":1,"cmd":"status"}\n')
        except OSError:
            pass  # refused: the busy line is still to be read
    for s in opened:
        r = Lines(s).read_json(10.0)
        if status_ok(r, 1):
            served += 1
            socks.append(s)
        else:
            busy += is_error(r, "busy")
            s.close()
    print(f"served {served} busy {busy}", flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def abuse_idle(path, idle_s=30.0):
    """Idle clients are closed after the idle timeout; a client that sends a
    request now and then is not."""
    idle = [connect(path, 5.0) for _ in range(4)]
    busy = connect(path, 5.0)
    lines = Lines(busy)
    t0 = time.monotonic()
    answered = True
    while time.monotonic() - t0 < idle_s + 6.0:
        busy.sendall(b'{"id":"tick","cmd":"status"}\n')
        answered &= status_ok(lines.read_json(5.0), "tick")
        time.sleep(min(idle_s / 3, 5.0))
    closed = 0
    for s in idle:
        s.settimeout(2.0)
        try:
            closed += s.recv(1) == b""
        except socket.timeout:
            pass  # still open
        except OSError:
            closed += 1  # reset
        s.close()
    check(f"idle clients closed after {idle_s:.0f} s ({closed}/4)", closed == 4)
    check("a client that keeps asking stays connected and answered", answered)
    busy.close()


def abuse_reload_concurrent(path, big):
    """A reload of a large file runs off the control thread: another client's
    status requests are answered meanwhile (each within 0.5 s, several before
    the reload's answer), and a second reload gets busy."""
    a = connect(path, 5.0)
    a_lines = Lines(a)
    t0 = time.monotonic()
    a.sendall(json.dumps({"id": "big", "cmd": "config.reload",
                          "args": {"path": big, "dry_run": True}}).encode() + b"\n")
    time.sleep(0.1)
    second = roundtrip(path, {"id": "second", "cmd": "config.reload",
                              "args": {"dry_run": True}}, timeout=5.0)
    before, worst, answer = 0, 0.0, None
    while answer is None and time.monotonic() - t0 < 90.0:
        p0 = time.monotonic()
        try:
            r = roundtrip(path, {"id": "meanwhile", "cmd": "status"}, timeout=5.0)
        except OSError as e:
            r = repr(e)
        dt = time.monotonic() - p0
        worst = max(worst, dt)
        if not status_ok(r, "meanwhile"):
            check("status while a reload runs", False, str(r)[:200])
            break
        answer = a_lines.read_json(0.05)
        before += answer is None
        time.sleep(0.05)
    took = time.monotonic() - t0
    print(f"note: the reload took {took:.2f} s; {before} status answers came before it, "
          f"worst {worst:.3f} s")
    check("the reloading client gets its answer",
          isinstance(answer, dict) and answer.get("id") == "big", str(answer)[:300])
    # Blocked behind the reload, a status would wait about as long as the
    # reload itself; a bound relative to it holds on a loaded sanitizer build.
    bound = max(0.5, took / 4)
    check(f"other clients answered while the reload ran ({before} before it, worst "
          f"{worst:.3f} s, bound {bound:.3f} s)", before >= 3 and worst < bound)
    check("a second reload meanwhile: busy", is_error(second, "busy"), str(second)[:200])
    a.close()
    still_serving(path, "after the reload")


# ---- lookups over faiictl --json output ------------------------------------------------------
# The result shapes are the server's (docs/control.md names the fields, not
# the nesting): these helpers find a field wherever it sits, so that the
# assertions check values, not layout.

def find_all(v, key):
    """Every value of member `key` in v, shallowest first (a node's own
    "status" before the "status" of something nested in it)."""
    out, level = [], [v]
    while level:
        nxt = []
        for x in level:
            if isinstance(x, dict):
                if key in x:
                    out.append(x[key])
                nxt.extend(x.values())
            elif isinstance(x, list):
                nxt.extend(x)
        level = nxt
    return out


def show(v):
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def policy_param(result, name):
    """A policy parameter's value: {"name": v}, {"name": {"value": v}}, a list
    of {"name": name, "value": v}, or the nested YAML form (tiers: {1: ...})."""
    for x in find_all(result, name):
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return x
        if isinstance(x, dict) and isinstance(x.get("value"), (int, float)):
            return x["value"]

    def lists(v):
        if isinstance(v, list):
            for e in v:
                if isinstance(e, dict) and e.get("name") == name and "value" in e:
                    return e["value"]
                r = lists(e)
                if r is not None:
                    return r
        elif isinstance(v, dict):
            for e in v.values():
                r = lists(e)
                if r is not None:
                    return r
        return None

    r = lists(result)
    if r is not None:
        return r
    v = result.get("params", result.get("policy", result)) if isinstance(result, dict) else None
    for part in name.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v.get("value") if isinstance(v, dict) else v


def node_entries(result):
    """Objects that look like nodes (an integer id and a status)."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("id"), int) and "status" in v:
                out.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(result)
    return out


def route_check(result, countries_allowed, drained=None, nodes_file=None):
    """route.explain: candidates (the feasible nodes the solver kept) with
    shares, excluded nodes each with a reason, counts that add up, the node
    the dataplane would pick among the candidates with its share as its
    probability, every candidate in the allowed jurisdictions; a drained node
    excluded as not active."""
    def nid(e):
        return e.get("id", e.get("node")) if isinstance(e, dict) else e

    feas = next((x for k in ("candidates", "feasible", "feasible_set")
                 for x in find_all(result, k) if isinstance(x, list)), None)
    excl = next((x for k in ("excluded", "infeasible")
                 for x in find_all(result, k) if isinstance(x, list)), None)
    pick = next((x for k in ("would_pick", "chosen", "pick")
                 for x in find_all(result, k)), None)
    check("route explain: a non-empty candidate list", isinstance(feas, list) and len(feas) > 0,
          show(result)[:400])
    check("route explain: an excluded list", isinstance(excl, list), show(result)[:400])
    if not isinstance(feas, list) or not isinstance(excl, list):
        return
    ids_f, ids_x = {nid(e) for e in feas}, {nid(e) for e in excl}
    check("route explain: candidates and excluded do not overlap", not (ids_f & ids_x))
    total = result.get("nodes") if isinstance(result, dict) else None
    if isinstance(total, int):
        check(f"route explain: candidates + excluded = every node ({len(feas)} + {len(excl)}"
              f" = {total})", len(feas) + len(excl) == total)
    by = result.get("excluded_by_reason") if isinstance(result, dict) else None
    if isinstance(by, dict):
        counted = {}
        for e in excl:
            counted[e.get("reason")] = counted.get(e.get("reason"), 0) + 1
        check("route explain: excluded_by_reason matches the excluded list",
              {k: v for k, v in by.items() if v} == counted, f"{by} vs {counted}")
    no_reason = [e for e in excl if not (isinstance(e, dict) and e.get("reason"))]
    check(f"route explain: every excluded node ({len(excl)}) carries a reason", not no_reason,
          show(no_reason[:3]))
    shares = {nid(e): e.get("share") for e in feas if isinstance(e, dict)}
    if shares and all(isinstance(x, (int, float)) for x in shares.values()):
        check(f"route explain: candidate shares sum to 1 ({sum(shares.values()):.6f})",
              abs(sum(shares.values()) - 1) < 1e-3)
    chosen = nid(pick)
    check(f"route explain: the node the dataplane would pick ({chosen}) is a candidate",
          chosen in ids_f, show(pick))
    if isinstance(pick, dict) and isinstance(pick.get("probability"), (int, float)) \
            and chosen in shares and isinstance(shares[chosen], (int, float)):
        check(f"route explain: pick probability {pick['probability']:.4f} is its share",
              abs(pick["probability"] - shares[chosen]) < 1e-3)
        check("route explain: a picked node has a positive share", shares[chosen] > 0)
    if countries_allowed and nodes_file:
        with open(nodes_file) as f:
            country = {n["id"]: n.get("country") for n in node_entries(json.load(f))}
        allowed = set(countries_allowed.split(","))
        wrong = [(i, country.get(i)) for i in ids_f if country.get(i) not in allowed]
        check(f"route explain: every candidate is in {sorted(allowed)}", not wrong, str(wrong[:5]))
        refused = [e for e in excl if e.get("reason") == "residency"]
        check("route explain: every node excluded for residency is outside "
              f"{sorted(allowed)} ({len(refused)})",
              refused and all(country.get(nid(e)) not in allowed for e in refused))
    if drained:
        d = int(drained)
        hit = [e for e in excl if nid(e) == d]
        check(f"route explain: drained node {d} is excluded", bool(hit), show(result)[:400])
        check(f"route explain: drained node {d}'s reason says it is not active "
              f"({hit[0].get('reason') if hit else None})",
              bool(hit) and any(w in show(hit[0].get("reason")) for w in ("drain", "not_active")))
        check(f"route explain: drained node {d} is not picked", chosen != d)

# ---- mock server for faiictl's tests ---------------------------------------------------------

MOCK_RESULTS = {
    "status": {"version": "0.1.0", "protocol": 1, "uptime_s": 12, "nodes": 2,
               "config": {"path": "/etc/faii/appliance.yaml", "digest": "ab12"}},
    "residency.list": {"classes": [{"id": 2, "name": "CH-only", "allow": ["CH"]}]},
    "node.list": {"nodes": [
        {"id": 1, "name": "frankfurt-micro-001", "class": "micro", "status": "active",
         "latency_us": 850.5},
        {"id": 22, "name": "zurich-xl-022", "class": "XL", "status": "draining",
         "latency_us": 12000},
    ]},
}


def mock(path, log_path, mode="normal"):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    log = open(log_path, "ab", buffering=0)
    while True:
        c, _ = srv.accept()
        c.settimeout(30)
        buf = b""
        try:
            while b"\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    break
                buf += chunk
            line = buf.split(b"\n", 1)[0]
            log.write(line + b"\n")
            if mode == "silent":
                time.sleep(30)
                continue
            if mode == "close":
                continue
            if mode == "garbage":
                c.sendall(b"this is not json\n")
                continue
            if mode == "huge":
                c.sendall(b'{"id":1,"ok":true,"result":{"x":"' + b"y" * (17 << 20))
                continue
            req = json.loads(line)
            rid = req.get("id")
            if mode == "wrong_id":
                rid = "someone-else"
            cmd, args = req.get("cmd"), req.get("args", {})
            if args.get("id") == 404:
                resp = {"id": rid, "ok": False,
                        "error": {"code": "not_found", "message": "node 404 is not registered"}}
            elif cmd == "policy.set" and "bad" in args.get("params", {}):
                resp = {"id": rid, "ok": False,
                        "error": {"code": "out_of_range", "message": "bad: expected [0, 1]"}}
            else:
                result = MOCK_RESULTS.get(cmd, {"cmd": cmd, "args": args})
                resp = {"id": rid, "ok": True, "result": result}
            c.sendall(json.dumps(resp).encode() + b"\n")
        except (OSError, ValueError):
            pass
        finally:
            c.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    what, path = argv[1], argv[2]
    if what == "request":
        line = Lines(connect(path))
        line.sock.sendall(argv[3].encode() + b"\n")
        r = line.read(5.0)
        print(r.decode() if r is not None else "")
        return 0 if r is not None else 3
    if what in ("find", "param", "nodes", "route"):
        # path is a file of faiictl --json output here
        with open(path) as f:
            result = json.load(f)
        if what == "find":
            vals = find_all(result, argv[3])
            print(show(vals[0]) if vals else "")
            return 0 if vals else 1
        if what == "param":
            v = policy_param(result, argv[3])
            print("" if v is None else show(v))
            return 0 if v is not None else 1
        if what == "nodes":
            # "nodes FILE": one "id status" line per node
            for n in node_entries(result):
                print(n["id"], n["status"])
            return 0
        # "route FILE COUNTRIES NODES_FILE [DRAINED]"
        route_check(result, argv[3], argv[5] if len(argv) > 5 else None, argv[4])
        return 1 if failures else 0
    if what == "flood":
        flood(path, float(argv[3]) if len(argv) > 3 else 10.0)
        return 0
    if what == "admin_under_flood":
        admin_under_flood(path)
        return 1 if failures else 0
    if what == "hold":
        hold(path, int(argv[3]), float(argv[4]))
        return 0
    if what == "reload_concurrent":
        abuse_reload_concurrent(path, argv[3])
        return 1 if failures else 0
    if what == "mock":
        mock(path, argv[3], argv[4] if len(argv) > 4 else "normal")
        return 0
    if what == "abuse":
        fn = globals().get("abuse_" + argv[3])
        if not fn:
            print(f"unknown check {argv[3]}", file=sys.stderr)
            return 2
        try:
            fn(path)
        except Exception as e:  # a crash of the probe is a failed check, not a pass
            check(f"{argv[3]} ran to the end", False, repr(e))
        return 1 if failures else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
