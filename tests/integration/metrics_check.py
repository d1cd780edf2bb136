#!/usr/bin/env python3
# Helpers of metrics.sh: a free TCP port, a bounded wait for /metrics to show
# the replayed traffic, and the comparison of the Prometheus exposition with
# the expected counts and with DPDK telemetry (/faii/* over the EAL's
# dpdk_telemetry.v2 socket, the protocol dpdk-telemetry.py speaks).
#   metrics_check.py port
#   metrics_check.py wait URL RX_PACKETS SLOW_MESSAGES OUT_FILE
#   metrics_check.py compare URL METRICS_FILE EXPECTED_FILE TELEMETRY_SOCKET START_S
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.request

MSG_TYPES = ("task", "result", "heartbeat", "attest", "register")
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

failures = 0


def check(what, ok):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("unparsable line: " + line)
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def get(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def telemetry(path, commands):
    """Answers of DPDK telemetry commands, one connection, bounded by timeouts."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    hello = json.loads(s.recv(1 << 16))
    out = {}
    for cmd in commands:
        s.send(cmd.encode())
        reply = json.loads(s.recv(hello["max_output_len"]))
        out[cmd] = reply[cmd]
    s.close()
    return hello, out


def cmd_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait(url, rx, slow, out):
    """Until rx packets are counted and the slow path has taken its messages."""
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        try:
            status, _, text = fetch(url)
            s = parse(text)
            if (status == 200 and get(s, "faii_rx_packets_total") == rx
                    and get(s, "faii_slow_path_processed_total") == slow):
                open(out, "w").write(text)
                return 0
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.2)
    open(out, "w").write(text)
    print("FAIL: /metrics did not reach rx %d, slow path %d within 30 s" % (rx, slow))
    return 1


def cmd_compare(url, metrics_file, expected_file, sock, start_s):
    before = parse(open(metrics_file).read())
    expected = {}
    for line in open(expected_file):
        name, count = line.split()
        expected[name] = int(count)

    # Counts from the pcap: valid messages by type and drops by reason,
    # and every other drop reason zero.
    for t in MSG_TYPES:
        check("faii_messages_valid_total{type=%s} = %d" % (t, expected.get(t, 0)),
              get(before, "faii_messages_valid_total", type=t) == expected.get(t, 0))
    reasons = [l[0][1] for (n, l) in before if n == "faii_packets_dropped_total"]
    check("40 drop reasons exported", len(reasons) == 40)
    for r in reasons:
        want = expected.get(r, 0)
        check("faii_packets_dropped_total{reason=%s} = %d" % (r, want),
              get(before, "faii_packets_dropped_total", reason=r) == want)
    slow = sum(expected.get(t, 0) for t in ("heartbeat", "attest", "register"))
    got = sum(v for (n, l), v in before.items() if n == "faii_slow_path_messages_total")
    check("slow-path messages by type and outcome sum to %d (got %g)" % (slow, got), got == slow)
    check("240 nodes active", get(before, "faii_nodes", status="active") == 240)
    check("a faii_node_info per node",
          sum(1 for (n, _) in before if n == "faii_node_info") == 240)
    check("route set published", (get(before, "faii_route_generation") or 0) >= 1)
    check("solve time counted", (get(before, "faii_route_solve_seconds_total") or 0) > 0)
    check("no reload yet", get(before, "faii_config_reloads_total", result="ok") == 0
          and get(before, "faii_config_reloads_total", result="error") == 0)
    ts = get(before, "faii_config_last_reload_success_timestamp_seconds") or 0
    check("initial load time %f within the run" % ts, start_s - 1 <= ts <= time.time() + 1)

    # Histograms: cumulative, +Inf equals _count, per tier.
    for tier in "1234":
        buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in before.items()
                          if n == "faii_task_latency_seconds_bucket"
                          and dict(l)["tier"] == tier), key=lambda b: b[0])
        counts = [v for _, v in buckets]
        check("tier %s: 20 buckets, cumulative, +Inf = _count" % tier,
              len(buckets) == 20 and buckets[-1][0] == float("inf")
              and counts == sorted(counts)
              and counts[-1] == get(before, "faii_task_latency_seconds_count", tier=tier))

    # Telemetry between two scrapes: counters only grow (timeouts of tasks
    # that no node answers keep some moving), so each telemetry value must
    # lie between the scrape before and the one after.
    hello, tel = telemetry(sock, ["/", "/faii/stats", "/faii/drops", "/faii/pipeline",
                                  "/faii/residency", "/faii/classes", "/faii/slow",
                                  "/faii/tiers"])
    _, _, text = fetch(url)
    after = parse(text)
    check("telemetry greets with the DPDK version", hello.get("version", "").startswith("DPDK"))
    for c in ("/faii/stats", "/faii/drops", "/faii/pipeline", "/faii/residency",
              "/faii/classes", "/faii/slow", "/faii/tiers"):
        check("telemetry lists " + c, c in tel["/"])

    def between(what, value, name, **labels):
        lo, hi = get(before, name, **labels), get(after, name, **labels)
        check("%s: telemetry %s within /metrics [%s, %s]" % (what, value, lo, hi),
              lo is not None and hi is not None and lo <= value <= hi)

    st = tel["/faii/stats"]
    between("rx packets", st["rx_packets"], "faii_rx_packets_total")
    between("rx bytes", st["rx_bytes"], "faii_rx_bytes_total")
    between("tx packets", st["tx_packets"], "faii_tx_packets_total")
    for t in MSG_TYPES:
        between("valid " + t, st["valid/" + t], "faii_messages_valid_total", type=t)
    check("telemetry dropped = sum of drop reasons",
          st["dropped"] == sum(expected.get(r, 0) for r in reasons))
    for r, v in tel["/faii/drops"].items():
        between("drop " + r, v, "faii_packets_dropped_total", reason=r)
    check("telemetry drops has every reason", sorted(tel["/faii/drops"]) == sorted(reasons))
    for e, v in tel["/faii/pipeline"].items():
        between("pipeline " + e, v, "faii_pipeline_events_total", event=e)
    check("pipeline: tasks dispatched counted",
          tel["/faii/pipeline"]["tasks_dispatched"] + tel["/faii/pipeline"]["task_expired"] > 0)
    for r, v in tel["/faii/residency"].items():
        between("residency " + r, v, "faii_residency_verdicts_total", reason=r)
    for c, v in tel["/faii/classes"].items():
        between("copies " + c, v, "faii_task_copies_total", **{"class": c})
    for k, v in tel["/faii/slow"].items():
        t, o = k.split("/")
        between("slow " + k, v, "faii_slow_path_messages_total", type=t, outcome=o)
    tiers = tel["/faii/tiers"]
    for i, tier in enumerate("1234"):
        between("tier %s dispatched" % tier, tiers["dispatched"][i],
                "faii_tier_tasks_dispatched_total", tier=tier)
        between("tier %s answered" % tier, tiers["answered"][i],
                "faii_tier_tasks_answered_total", tier=tier)
        between("tier %s latency count" % tier, tiers["latency_count"][i],
                "faii_task_latency_seconds_count", tier=tier)
        cap = float(tiers["capacity"][i])
        check("tier %s capacity gauge %g > 0 and in /metrics" % (tier, cap),
              cap > 0 and cap in (get(before, "faii_tier_capacity_tasks", tier=tier),
                                  get(after, "faii_tier_capacity_tasks", tier=tier)))
    return 1 if failures else 0


def cmd_slowloris(port, seconds=12.0, clients=16):
    """clients connections from 127.0.0.2, each sending one byte of a request
    every second (never finishing it), while /metrics is scraped from
    127.0.0.1 every 0.5 s with a 3 s bound: every scrape must succeed."""
    socks = []
    for _ in range(clients):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(3)
        try:
            s.connect(("127.0.0.1", port))
            socks.append(s)
        except OSError:
            s.close()
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
    url = "http://127.0.0.1:%d/metrics" % port
    t0 = time.monotonic()
    good = total = 0
    worst = 0.0
    sent = 0
    next_byte = t0
    while time.monotonic() - t0 < seconds:
        if time.monotonic() >= next_byte:
            for s in list(socks):
                try:
                    s.send(request[sent % len(request):sent % len(request) + 1])
                except OSError:
                    socks.remove(s)
            sent += 1
            next_byte += 1.0
        p0 = time.monotonic()
        try:
            status, _, body = fetch(url, timeout=3)
            good += status == 200 and "faii_" in body
        except OSError:
            pass
        worst = max(worst, time.monotonic() - p0)
        total += 1
        time.sleep(0.5)
    print("note: %d slow clients still connected at the end" % len(socks))
    for s in socks:
        s.close()
    check("while 16 slow clients trickle bytes, /metrics scrapes succeed (%d/%d, worst %.2f s)"
          % (good, total, worst), total >= 10 and good == total)
    return 1 if failures else 0


def main(argv):
    if argv[1] == "port":
        cmd_port()
        return 0
    if argv[1] == "wait":
        return cmd_wait(argv[2], int(argv[3]), int(argv[4]), argv[5])
    if argv[1] == "compare":
        return cmd_compare(argv[2], argv[3], argv[4], argv[5], float(argv[6]))
    if argv[1] == "slowloris":
        return cmd_slowloris(int(argv[2]))
    print("usage: see the header", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
