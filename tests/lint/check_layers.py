#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The folders are the architecture (docs/architecture.md): this check fails
when an #include crosses a boundary the picture does not allow, and when faiid
carries code that must stay out of it (the demo keys, the sample messages).

    check_layers.py SOURCE_ROOT [FAIID_SYMBOLS]
    check_layers.py --expect N FIXTURE_ROOT   (the check's own test: exactly
                                               N violations must be found)

Every header of include/faii/ belongs to one layer (HEADER_LAYER); every
folder may include the headers of the layers ALLOWED names, its own private
headers, and system headers. include/faii/ headers include only each other.
A header missing from HEADER_LAYER is an error too, so a new header gets a
place in the picture before it is used.
"""
import os
import re
import sys

# The layer of each public header. "ground" is what every layer stands on:
# the wire, the limits, the shared fleet structures, the seams.
HEADER_LAYER = {
    "types.h": "ground", "protocol.h": "ground", "limits.h": "ground",
    "fleet.h": "ground", "wire.h": "ground", "frame.h": "ground",
    "residency.h": "ground", "residency_policy.h": "ground",
    "clock.h": "ground", "assert.h": "ground",
    "transport.h": "ground", "store_io.h": "ground", "auth.h": "ground",
    "multipliers.h": "ground", "bytes.h": "ground",
    "config.h": "control", "routing.h": "control", "registry.h": "control",
    "publish.h": "control", "ctlsock.h": "control", "keys.h": "control",
    "ledger_store.h": "ledger", "audit.h": "ledger", "transport_udp.h": "ledger",
    "transport_tcp.h": "ledger", "dag.h": "ledger", "validator.h": "ledger",
    "settle.h": "ledger", "dag_record.h": "ledger",
    "residency_loader.h": "ebpf",
    # Derivable keys and sample messages: never in the appliance.
    "demo.h": "demo", "samples.h": "demo",
}



def layer_of(name):
    """A header's layer; settlement's headers (settle*.h) are all ledger."""
    if name.startswith("settle") and name.endswith(".h"):
        return "ledger"
    return HEADER_LAYER.get(name)


# Which layers' headers each folder may include (besides its own files).
ALLOWED = {
    "include/faii": None,  # special: only include/faii headers, checked below
    "common": {"ground"},
    "dataplane": {"ground"},
    "control": {"ground", "control"},
    "ledger": {"ground", "ledger"},
    "ebpf": {"ground", "control", "ebpf"},
    "appliance": {"ground", "control", "ledger", "ebpf"},
    "tools": {"ground", "control", "ledger", "ebpf", "demo"},
    "perf": {"ground", "control", "ledger", "ebpf", "demo"},
    "tests": {"ground", "control", "ledger", "ebpf", "demo"},
}
# Files allowed an exception, with the reason.
EXCEPTIONS = {
    "common/samples.c": {"demo"},  # the sample messages' own implementation
}
# Private headers of one folder that another folder may include by path.
SHARED_PRIVATE = {
    # Leaves (tests, benchmarks, the simulator) reach into any folder.
    "tests": {"appliance", "dataplane", "ledger", "control", "ebpf", "common"},
    "perf": {"appliance", "dataplane", "ledger", "control", "ebpf", "common"},
    # faii-validator derives its committee as faiid does (validator_cfg.h).
    "tools": {"appliance"},
    # The composition root wires the dataplane's internals.
    "appliance": {"dataplane"},
}
# Which folder owns a private header reached without a path (meson's
# include_directories): dataplane.h and friends.
PRIVATE_OWNER = {
    "dataplane.h": "dataplane", "residency_bpf.h": "dataplane",
    "residency_snapshot.h": "dataplane",
    "appliance.h": "appliance", "control.h": "appliance", "cmd.h": "appliance",
    "metrics.h": "appliance", "residency_audit.h": "appliance",
    "consensus.h": "appliance", "validator_cfg.h": "appliance",
    "work_summary.h": "appliance", "receipt_proof.h": "appliance",
    "attest_queue.h": "appliance",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)

# Settlement is pure (docs/architecture.md): no I/O, no clock, no threads.
# Its files may include these system headers and, of ours, only ground
# headers other than the clock, and settlement's own settle*.h.
PURE_FOLDER = "ledger/settle/"
PURE_SYSTEM = {"errno.h", "limits.h", "stdbool.h", "stddef.h", "stdint.h", "string.h",
               "sodium.h"}
PURE_FORBIDDEN = {"clock.h"}


def check_pure(rel, text, errors):
    for m in SYSTEM_INCLUDE.finditer(text):
        if m.group(1) not in PURE_SYSTEM:
            line = text.count("\n", 0, m.start()) + 1
            errors.append(f"{rel}:{line}: #include <{m.group(1)}>: settlement is pure "
                          f"(allowed: {', '.join(sorted(PURE_SYSTEM))})")
    for m in INCLUDE.finditer(text):
        name = m.group(1)[len("faii/"):] if m.group(1).startswith("faii/") else None
        if name is not None and (name in PURE_FORBIDDEN or
                                 layer_of(name) not in ("ground", None)) and \
                not name.startswith("settle"):
            line = text.count("\n", 0, m.start()) + 1
            errors.append(f"{rel}:{line}: #include \"{m.group(1)}\": settlement is pure "
                          "(ground headers but the clock, and settle.h)")


def folder_of(rel):
    if rel.startswith("include/faii/"):
        return "include/faii"
    return rel.split("/", 1)[0]


def check_file(root, rel, errors):
    folder = folder_of(rel)
    if folder not in ALLOWED:
        return
    text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
    if rel.startswith(PURE_FOLDER):
        check_pure(rel, text, errors)
    for m in INCLUDE.finditer(text):
        target = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        where = f"{rel}:{line}: #include \"{target}\""
        if target.startswith("faii/"):
            name = target[len("faii/"):]
            layer = layer_of(name)
            if layer is None:
                errors.append(f"{where}: include/faii/{name} has no layer in check_layers.py")
                continue
            if folder == "include/faii":
                own = layer_of(os.path.basename(rel))
                if own == "ground" and layer != "ground":
                    errors.append(f"{where}: a ground header includes a {layer} header")
                continue
            allowed = ALLOWED[folder] | EXCEPTIONS.get(rel, set())
            if layer not in allowed:
                errors.append(f"{where}: {folder}/ may not include {layer} headers")
            continue
        if folder == "include/faii":
            errors.append(f"{where}: include/faii/ includes only include/faii/")
            continue
        # A private header: by relative path into another folder, or by name.
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        owner = folder_of(resolved) if os.path.exists(os.path.join(root, resolved)) else None
        if owner is None or owner == folder:
            owner = PRIVATE_OWNER.get(os.path.basename(target), owner)
        if owner is None or owner == folder:
            continue
        if owner not in SHARED_PRIVATE.get(folder, set()):
            errors.append(f"{where}: {folder}/ may not include {owner}/'s private headers")


def check_symbols(path, errors):
    """path: `nm --defined-only faiid` (check_layers.sh writes it)."""
    for line in open(path, encoding="utf-8", errors="replace"):
        fields = line.split()
        if not fields:
            continue
        symbol = fields[-1]
        if symbol.startswith(("faii_demo_", "faii_sample_")):
            errors.append(f"faiid carries {symbol} (demo keys and samples stay out of faiid)")


def main():
    expect = None
    if len(sys.argv) > 2 and sys.argv[1] == "--expect":
        expect = int(sys.argv[2])
        del sys.argv[1:3]
    root = sys.argv[1]
    errors = []
    checked = 0
    for folder in ALLOWED:
        base = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "corpus"]
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    check_file(root, os.path.relpath(os.path.join(dirpath, f), root), errors)
                    checked += 1
    for name in sorted(os.listdir(os.path.join(root, "include/faii"))):
        if name.endswith(".h") and layer_of(name) is None:
            errors.append(f"include/faii/{name}: no layer in check_layers.py")
    if len(sys.argv) > 2:
        check_symbols(sys.argv[2], errors)
    for e in errors:
        print("FAIL:", e)
    print(f"{checked} files checked, {len(errors)} layer violations")
    if expect is not None:
        print(f"expected {expect}: {'ok' if len(errors) == expect else 'MISMATCH'}")
        return 0 if len(errors) == expect else 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
