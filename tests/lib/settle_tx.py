#!/usr/bin/env python3
"""Settlement transactions in hex, written from docs/settlement.md
("Transactions") rather than from the C encoders, so that tests check the
documented format:

  settle_tx.py register NODE OPERATOR CLASS CAPACITY STAKE KEYHEX
  settle_tx.py summary SLICE END_MS NODE:HB_EXP:HB_SEEN:TIER:DISPATCHED:VERIFIED:SLO_HITS ...
  settle_tx.py replica-slash NODE TASK_ID
  settle_tx.py operator-id NAME     (faiid's operator id: docs/settlement.md)
"""
import hashlib
import struct
import sys

VERSION = 1


def register(node, operator, cls, capacity, stake, key_hex):
    key = bytes.fromhex(key_hex)
    assert len(key) == 32
    body = struct.pack("<IIB3xIQ", node, operator, cls, capacity, stake) + key
    assert len(body) == 56
    return bytes([1, VERSION]) + body


def summary(slice_no, end_ms, entries, queues=(0, 0, 0, 0)):
    header = struct.pack("<QQHHHHI", slice_no, end_ms, 0, 1, len(entries), 0, 0)
    header += bytes(32) + struct.pack("<4I", *queues) + bytes(4)
    assert len(header) == 80
    body = b""
    for node, hb_expected, hb_seen, tier, dispatched, verified, slo_hits in entries:
        entry = struct.pack("<IIII", node, hb_expected, hb_seen, 0)
        for t in range(4):
            if t == tier:
                entry += struct.pack("<IIQIQ", dispatched, dispatched, verified, slo_hits, 0)
            else:
                entry += bytes(28)
        assert len(entry) == 128
        body += entry
    return bytes([2, VERSION]) + header + body


def replica_slash(node, task_id):
    evidence = struct.pack("<Q", task_id) + bytes([0x11]) * 32 + bytes([0x22]) * 32
    body = struct.pack("<IB3xHH", node, 1, len(evidence), 0) + evidence
    return bytes([6, VERSION]) + body


def operator_id(name):
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return struct.unpack("<I", digest[:4])[0] or 1


def main(argv):
    if argv[1] == "operator-id":
        print(operator_id(argv[2]))
        return
    if argv[1] == "register":
        node, operator, cls, capacity, stake = (int(a) for a in argv[2:7])
        tx = register(node, operator, cls, capacity, stake, argv[7])
    elif argv[1] == "summary":
        entries = [tuple(int(f) for f in e.split(":")) for e in argv[4:]]
        tx = summary(int(argv[2]), int(argv[3]), entries)
    elif argv[1] == "replica-slash":
        tx = replica_slash(int(argv[2]), int(argv[3]))
    else:
        sys.exit("usage: settle_tx.py register|summary ...")
    print(tx.hex())


if __name__ == "__main__":
    main(sys.argv)
