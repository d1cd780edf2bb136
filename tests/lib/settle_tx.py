#!/usr/bin/env python3
"""Settlement transactions in hex, written from docs/settlement.md
("Transactions") rather than from the C encoders, so that tests check the
documented format:

  settle_tx.py register NODE OPERATOR CLASS CAPACITY STAKE KEYHEX
  settle_tx.py summary SLICE END_MS NODE:HB_EXP:HB_SEEN:TIER:DISPATCHED:VERIFIED:SLO_HITS ...
  settle_tx.py public SEEDHEX                  a node's Ed25519 public key from its seed
  settle_tx.py meter SEEDHEX NODE METER START_S INTERVAL_S MWH RENEWABLE_PPB LOCATION READ_AT_S
  settle_tx.py gov_proposal EPOCH PARAM_ID=VALUE ...
  settle_tx.py gov_vote PROPOSAL 1|0
  settle_tx.py slash_replica ACCUSED TASK_ID
  settle_tx.py dispute SEEDHEX PROPOSAL NODE REASON
  settle_tx.py dispute_vote PROPOSAL 1|2      (1 uphold, 2 dismiss)
  settle_tx.py operator-id NAME               faiid's operator id of a name

Signatures (meter readings, disputes) use the cryptography package's Ed25519.
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


def operator_id(name):
    """faiid's consortium-wide operator id (docs/settlement.md, "In faiid")."""
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return struct.unpack("<I", digest[:4])[0] or 1


def _key(seed_hex):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def public(seed_hex):
    from cryptography.hazmat.primitives import serialization
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return _key(seed_hex).public_key().public_bytes(*raw)


def meter(seed_hex, node, meter_id, start_s, interval_s, mwh, renewable_ppb, location, read_at_s):
    """METER_READING (kind 4): docs/settlement.md, "Carbon certificates"."""
    body = struct.pack("<IQQIQQ8sQ", node, meter_id, start_s, interval_s, mwh, renewable_ppb,
                       location.encode(), read_at_s)
    assert len(body) == 56
    signature = _key(seed_hex).sign(b"faii-settle-meter-v1" + body)
    return bytes([4, VERSION]) + body + signature


def gov_proposal(epoch, changes):
    """GOV_PROPOSAL (kind 9): changes are (parameter id, value) pairs."""
    body = struct.pack("<QB3x", epoch, len(changes))
    for param, value in changes:
        body += struct.pack("<IQ", param, value)
    return bytes([9, VERSION]) + body


def gov_vote(proposal, in_favour):
    return bytes([10, VERSION]) + struct.pack("<QB3x", proposal, in_favour)


def slash_replica(accused, task_id):
    """SLASH_PROPOSAL (kind 6) of a replica disagreement (offense 1)."""
    evidence = struct.pack("<Q", task_id) + bytes([0xAA]) * 32 + bytes([0xBB]) * 32
    return bytes([6, VERSION]) + struct.pack("<IB3xHH", accused, 1, len(evidence), 0) + evidence


def dispute(seed_hex, proposal, node, reason):
    """DISPUTE (kind 7), signed by the accused node."""
    reason = reason.encode()
    body = struct.pack("<QIHH", proposal, node, len(reason), 0) + reason
    signature = _key(seed_hex).sign(b"faii-settle-dispute-v1" + body)
    return bytes([7, VERSION]) + body + signature


def dispute_vote(proposal, verdict):
    return bytes([8, VERSION]) + struct.pack("<QB3x", proposal, verdict)


def main(argv):
    if argv[1] == "operator-id":
        print(operator_id(argv[2]))
        return
    kind, a = argv[1], argv[2:]
    if kind == "register":
        node, operator, cls, capacity, stake = (int(x) for x in a[0:5])
        tx = register(node, operator, cls, capacity, stake, a[5])
    elif kind == "summary":
        entries = [tuple(int(f) for f in e.split(":")) for e in a[2:]]
        tx = summary(int(a[0]), int(a[1]), entries)
    elif kind == "public":
        tx = public(a[0])
    elif kind == "meter":
        numbers = [int(x) for x in a[1:7]]
        tx = meter(a[0], *numbers, a[7], int(a[8]))
    elif kind == "gov_proposal":
        changes = [tuple(int(f) for f in c.split("=")) for c in a[1:]]
        tx = gov_proposal(int(a[0]), changes)
    elif kind == "gov_vote":
        tx = gov_vote(int(a[0]), int(a[1]))
    elif kind == "slash_replica":
        tx = slash_replica(int(a[0]), int(a[1]))
    elif kind == "dispute":
        tx = dispute(a[0], int(a[1]), int(a[2]), a[3])
    elif kind == "dispute_vote":
        tx = dispute_vote(int(a[0]), int(a[1]))
    else:
        sys.exit("usage: settle_tx.py register|summary|public|meter|gov_proposal|gov_vote|"
                 "slash_replica|dispute|dispute_vote ...")
    print(tx.hex())


if __name__ == "__main__":
    main(sys.argv)
