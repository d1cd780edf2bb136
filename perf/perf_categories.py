#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Where a validator's CPU goes, by kind of work, from `perf script` output
of a profile recorded with call graphs (perf/RESULTS.md, "Consensus"):

    perf record -F 499 --call-graph dwarf,16384 -p PID[,PID...] -- sleep 5
    perf script | perf/perf_categories.py

libsodium ships without symbols, so a sample is classified by the first
frame of its stack (leaf first) that names a kind of work:

    signatures   Ed25519 signing and verification (vertices, votes, certificates)
    hashing      BLAKE2b (payload digests, vertex digests, the store's chain), CRC32C
    encryption   the transport's secretstream (ChaCha20-Poly1305)
    copies       memcpy / memmove
    storage      the kernel's side of the ledger store: io_uring workers,
                 buffered writes, fdatasync, block I/O and waiting on it
    network      the kernel's TCP send / receive
    scheduling   the kernel's context switches, futexes, timers, idle-wait syscalls
    other-kernel anything else in the kernel
    other        the rest (the consensus logic, the store, the load generator)
"""
import collections
import re
import sys

# (kind, pattern over a frame's symbol), tried leaf first, first match wins.
KINDS = [
    ("signatures",
     r"crypto_sign|_signed\b|decode_certificate|encode_vote|encode_vertex|ed25519|ge25519"),
    ("encryption", r"secretstream|chacha|poly1305"),
    ("hashing", r"generichash|blake2b|hash_to|seal_batch|crc32|isal_crc|vertex_digest|decode_vertex"),
    ("copies", r"memcpy|memmove"),
    ("network", r"tcp_|inet_|sock_|skb|__sys_sendto|__sys_recvfrom|ip_|dev_queue|netif|loopback"),
    ("scheduling", r"schedule|futex|nanosleep|epoll_wait|io_cqring_wait|hrtimer"),
]
COMPILED = [(kind, re.compile(pattern)) for kind, pattern in KINDS]


INTERRUPT = re.compile(r"^asm_(sysvec|common_interrupt)|^irqentry_exit|^common_interrupt")
# Without a PMU (a VM) the sampling timer fires when interrupts come back on:
# these leaves say where that happened, not what the CPU was doing.
IRQ_ENABLE = re.compile(r"pvm_irq_enable|__raw_callee_save|_raw_spin_unlock_irq")
STORAGE = re.compile(r"io_wq_worker|io_worker_handle_work|io_fsync|ext4_sync_file|"
                     r"fdatawait|writepages|submit_bio|ext4_buffered_write|io_write")


def classify(frames):
    """frames: [(symbol, is_kernel)], leaf first."""
    # A sample taken in an interrupt's exit path belongs to what it interrupted.
    for i, (symbol, kernel) in enumerate(frames):
        if not kernel:
            break
        if INTERRUPT.search(symbol):
            frames = frames[i + 1:] or frames
            break
    while len(frames) > 1 and IRQ_ENABLE.search(frames[0][0]):
        frames = frames[1:]
    if any(kernel and STORAGE.search(symbol) for symbol, kernel in frames):
        return "storage"
    # Our own wrappers (tcp_read, tcp_flush in the transport) come after the
    # library frames below them; the leaf-first walk sees the library first.
    for symbol, _ in frames:
        for kind, pattern in COMPILED:
            if pattern.search(symbol):
                if kind == "network" and not frames[0][1]:
                    break  # a user-space frame named tcp_*: the transport's logic
                return kind
    # libsodium unnamed, called by the store's writer: the BLAKE2b chain.
    if frames[0][0] == "libsodium" and any(s == "writer_main" for s, _ in frames):
        return "hashing"
    if frames and frames[0][1]:
        return "other-kernel"
    return "other"


def samples(stream):
    frames = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if line.startswith(("\t", " ")):
            parts = line.split(None, 2)
            if len(parts) >= 2:
                symbol = parts[1].split("+")[0]
                where = parts[2] if len(parts) > 2 else ""
                if symbol == "[unknown]" and "libisal" in where:
                    symbol = "isal_crc"  # ISA-L's CRC32C, unnamed
                elif symbol == "[unknown]" and "libsodium" in where:
                    symbol = "libsodium"
                frames.append((symbol, "kernel" in where))
    if frames:
        yield frames


def main():
    counts = collections.Counter()
    for frames in samples(sys.stdin):
        counts[classify(frames)] += 1
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples with call graphs on stdin")
    for kind, count in counts.most_common():
        print(f"{kind:13s} {100.0 * count / total:5.1f} %  ({count} samples)")
    print(f"{'total':13s} {total} samples")


if __name__ == "__main__":
    main()
