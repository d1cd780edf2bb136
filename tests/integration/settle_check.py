#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""faii-settle's checks (tests/integration/faii_settle_cli.sh).

  settle_check.py scenarios WORKED.json DIR
                                           writes every case's scenarios below,
                                           DIR/caseI-K.json
  settle_check.py check WORKED.json DIR    checks the outputs DIR/caseI-K.out
  settle_check.py readback IN FULL OUT     IN with the params FULL printed
  settle_check.py mutate IN <LINES         writes IN's variants, one a line:
                                           OUT, then PATH VALUE pairs (tabs)
  settle_check.py proof FULL.json PROOF.json NODE
                                           --proof NODE printed the node's
                                           proof of the full output
  settle_check.py forge PROOF.json OUT AMOUNT
                                           the proof claiming AMOUNT, its
                                           leaf bytes re-encoded

Every epoch's figures are computed by hand in the comments beside them
(docs/settlement.md, "Payouts", for the equations and the rounding: every
product rounds down, in the table's order). On every output the checker
also verifies conservation (base + performance = paid + deduction +
withheld, per node and in total), the leaf rule (a leaf for each node with
cumulative > 0, sorted by node id), and the root and every proof against
its own Python computation of the tree.
"""
import copy
import hashlib
import json
import random
import struct
import sys

PPB = 10**9
CLASSES = ["micro", "s", "m", "l", "xl"]
failures = []


def H(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def leaf_bytes(epoch, operator, node, amount, cumulative):
    return struct.pack("<QIIQQ", epoch, operator, node, amount, cumulative)


def merkle_root(leaves):
    """docs/settlement.md's snippet: the odd hash is promoted, the root
    commits to the count."""
    level = [H(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        pairs = [H(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + (level[-1:] if len(level) % 2 else [])
    return H(b"\x02" + struct.pack("<Q", len(leaves)) + (level[0] if level else b""))


def verify_proof(proof):
    """Recomputes the root from a proof: the sibling is on the left when the
    index is odd; a level's last odd hash is promoted without a sibling."""
    h = H(b"\x00" + bytes.fromhex(proof["leaf"]))
    index, count, siblings = proof["index"], proof["count"], list(proof["siblings"])
    while count > 1:
        if index % 2 == 1:
            h = H(b"\x01" + bytes.fromhex(siblings.pop(0)) + h)
        elif index + 1 < count:
            h = H(b"\x01" + h + bytes.fromhex(siblings.pop(0)))
        index, count = index // 2, (count + 1) // 2
    root = H(b"\x02" + struct.pack("<Q", proof["count"]) + h)
    return not siblings and root.hex() == proof["root"]


def check(case, what, got, want):
    if got != want:
        failures.append(f"{case}: {what}: got {got}, want {want}")


def invariants(case, scenario, out):
    """Conservation, the leaf rule, the root and every proof."""
    keys = ["base", "performance", "deduction", "withheld", "paid"]
    for n in out["nodes"]:
        check(case, f"node {n['node_id']} conservation", n["base"] + n["performance"],
              n["paid"] + n["deduction"] + n["withheld"])
    t = out["totals"]
    for k in keys:
        check(case, f"totals.{k} = sum over nodes", t[k], sum(n[k] for n in out["nodes"]))
    check(case, "totals conservation", t["base"] + t["performance"],
          t["paid"] + t["deduction"] + t["withheld"])
    leaves = []
    inputs = {n["node_id"]: n for n in scenario["nodes"]}
    for n in sorted(out["nodes"], key=lambda n: n["node_id"]):
        before = inputs[n["node_id"]].get("cumulative_before", 0)
        check(case, f"node {n['node_id']} cumulative", n["cumulative"], before + n["paid"])
        if n["cumulative"] == 0:
            check(case, f"node {n['node_id']} has no leaf", n["proof"], None)
            continue
        b = leaf_bytes(out["epoch"], n["operator_id"], n["node_id"], n["paid"], n["cumulative"])
        check(case, f"node {n['node_id']} leaf bytes", n["proof"]["leaf"], b.hex())
        check(case, f"node {n['node_id']} leaf index", n["proof"]["index"], len(leaves))
        check(case, f"node {n['node_id']} proof verifies", verify_proof(n["proof"]), True)
        leaves.append(b)
    check(case, "leaves", out["leaves"], len(leaves))
    check(case, "root (Python's tree)", out["root"], merkle_root(leaves).hex())


def base_params(**changes):
    """Exact integers: p0 1000, p 10, theta0 (1, 2, 3, 4), no congestion,
    s_bar_t 0.9, alpha 1, m_bar_SLO 1.2, xi 0.5, RE_bar 0.3, m_bar_ESG 1.25,
    eta 0 (m_DIV 1) with s_bar 0.4, no prices, caps 10^6."""
    p = {
        "availability_rate": 1000, "work_rate": 10,
        "theta0_ppb": [PPB, 2 * PPB, 3 * PPB, 4 * PPB],
        "gamma_ppb": [0, 0, 0, 0], "queue_ppb": [0, 0, 0, 0],
        "slo_target_ppb": [900000000] * 4, "slo_alpha": [1, 1, 1, 1],
        "slo_max_ppb": [1200000000] * 4,
        "esg_xi_ppb": 500000000, "esg_baseline_ppb": 300000000, "esg_max_ppb": 1250000000,
        "diversity_eta_ppb": 0, "class_share_max_ppb": 400000000,
        "energy_price": 0, "energy_price_green": 0, "opex_price": 0, "penalty_price": 0,
        "payout_cap": {c: 1000000 for c in CLASSES},
    }
    p.update(changes)
    return p


def node(node_id, work, cls="micro", success=900000000, **fields):
    """Availability 1, capacity 1 (base 1000), success at target, RE 0."""
    n = {"node_id": node_id, "operator_id": 100 + node_id, "class": cls,
         "availability_ppb": PPB, "capacity_units": 1, "work": work,
         "slo_success_ppb": success if isinstance(success, list) else [success] * 4}
    n.update(fields)
    return n


def expect(case, out, node_id, **want):
    n = next(n for n in out["nodes"] if n["node_id"] == node_id)
    for k, v in want.items():
        check(case, f"node {node_id} {k}", n[k], v)


def case_worked(worked):
    """docs/settlement.md's worked epoch, from tests/data; and again with the
    amounts in tokens and theta0 in ppb."""
    case = "the worked epoch"
    with open(worked) as f:
        scenario = json.load(f)
    tokens = copy.deepcopy(scenario)
    p = tokens["params"]
    p["availability_rate_tokens"] = 1e-6
    p["work_rate_tokens"] = 1e-8
    p["energy_price_tokens"] = 2e-9
    p["penalty_price_tokens"] = 1e-7
    for k in ("availability_rate", "work_rate", "energy_price", "penalty_price"):
        del p[k]
    p["theta0_ppb"] = [PPB, 2 * PPB, 3 * PPB, 4 * PPB]
    del p["theta0"]
    out, tokens_out = yield [scenario, tokens]
    invariants(case, scenario, out)
    t = out["totals"]
    check(case, "theta_2", t["theta_ppb"][1], 2200000000)
    check(case, "s_micro", t["class_share_ppb"]["micro"], 52631578)
    check(case, "s_XL", t["class_share_ppb"]["xl"], 947368421)
    check(case, "m_DIV,XL", t["class_diversity_ppb"]["xl"], 726315790)
    check(case, "m_DIV,micro", t["class_diversity_ppb"]["micro"], PPB)
    expect(case, out, 1, base=990, esg_ppb=1250000000, performance=1319, deduction=110,
           paid=2199, withheld=0)
    check(case, "A's m_SLO,1", out["nodes"][0]["slo_ppb"][0], 1055555555)
    expect(case, out, 2, base=20000, esg_ppb=PPB, performance=7989 + 6536, deduction=4600,
           paid=29925)
    check(case, "B's m_SLO,2 = 1^2", out["nodes"][1]["slo_ppb"][1], PPB)
    expect(case, out, 3, base=10000, esg_ppb=1250000000, performance=39947, deduction=200,
           paid=40000, withheld=9747)
    check(case, "C's m_SLO,4", out["nodes"][2]["slo_ppb"][3], 1100000000)
    check(case, "totals", [t[k] for k in ("base", "performance", "paid", "deduction", "withheld")],
          [30990, 55791, 72124, 4910, 9747])
    # The checker's verifier refuses what it should (so its accepting means something).
    tampered = dict(out["nodes"][2]["proof"], amount=40001)
    tampered["leaf"] = leaf_bytes(7, 2, 3, 40001, 40001).hex()
    check(case, "a larger claim fails the Python verifier", verify_proof(tampered), False)
    check(case, "tokens and ppb forms give the same epoch", tokens_out, out)


def case_slo_max():
    """m_SLO at its max: tier 1 success 1.0 / 0.8 = 1.25 > 1.2 (clamped
    before the power); tier 2 0.99 / 0.9 = 1.1, squared (alpha 2) 1.21 >
    1.2: clamped after it. Base 1000 x 1 x 1 = 1000. Tier 1: 100 x 10 = 1000
    x theta 1 x ESG 1 x SLO 1.2 = 1200; tier 2: 1000 x 2 = 2000 x 1.2 = 2400.
    Performance 3600, paid 4600. Tiers 3, 4 (no work): 0.9 / 0.9 = 1."""
    case = "m_SLO at its max"
    params = base_params(slo_target_ppb=[800000000, 900000000, 900000000, 900000000],
                         slo_alpha=[1, 2, 1, 1])
    scenario = {"epoch": 1, "params": params,
                "nodes": [node(1, [100, 100, 0, 0],
                               success=[PPB, 990000000, 900000000, 900000000])]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    expect(case, out, 1, slo_ppb=[1200000000, 1200000000, PPB, PPB], base=1000,
           performance=3600, paid=4600)


def case_slo_below():
    """m_SLO below target, alpha 2: success 0.8, target 0.9: ratio
    floor(0.8e9 x 1e9 / 0.9e9) = 888888888; squared and floored:
    888888888^2 / 1e9 = 790123455.2 -> 790123455 (the exact 0.790123456790
    is not what validators compute: every step rounds down). Tier 2 work
    100: 1000 x theta 2 = 2000 x 0.790123455 = 1580.2 -> 1580. Paid 2580.
    A second node at 0.81: ratio exactly 0.9, squared 0.81: 2000 x 0.81 =
    1620, paid 2620."""
    case = "m_SLO below target, alpha 2"
    params = base_params(slo_alpha=[1, 2, 1, 1])
    scenario = {"epoch": 2, "params": params,
                "nodes": [node(1, [0, 100, 0, 0], success=800000000),
                          node(2, [0, 100, 0, 0], success=810000000)]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    check(case, "node 1 m_SLO,2", out["nodes"][0]["slo_ppb"][1], 790123455)
    expect(case, out, 1, performance=1580, paid=2580)
    check(case, "node 2 m_SLO,2", out["nodes"][1]["slo_ppb"][1], 810000000)
    expect(case, out, 2, performance=1620, paid=2620)


def case_esg():
    """m_ESG = 1 + xi (RE - RE_bar), xi 0.5, RE_bar 0.3, in [1, 1.25]:
    RE 0.2 (below): 1; RE 0.3 (at the baseline): 1; RE 0.5: 1 + 0.5 x 0.2 =
    1.1; RE 1.0: 1 + 0.35 = 1.35, clamped to 1.25. Work 100 in tier 1:
    1000 x 1 x m_ESG x SLO 1: 1000, 1000, 1100, 1250."""
    case = "m_ESG at 1 and at m_bar"
    scenario = {"epoch": 3, "params": base_params(),
                "nodes": [node(1, [100, 0, 0, 0], renewable_ppb=200000000),
                          node(2, [100, 0, 0, 0], renewable_ppb=300000000),
                          node(3, [100, 0, 0, 0], renewable_ppb=500000000),
                          node(4, [100, 0, 0, 0], renewable_ppb=PPB)]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    for node_id, esg, perf in ((1, PPB, 1000), (2, PPB, 1000), (3, 1100000000, 1100),
                               (4, 1250000000, 1250)):
        expect(case, out, node_id, esg_ppb=esg, performance=perf, paid=1000 + perf)


def case_diversity():
    """m_DIV = 1 - eta (s_i - s_bar)+, eta 0.5, s_bar 0.4. Work: micro 100
    (share 0.1, under: 1), M 400 (0.4, exactly at s_bar: 1), XL 500 (0.5:
    1 - 0.5 x 0.1 = 0.95). Performance: micro 100 x 10 x 1 = 1000; M 4000;
    XL in tier 2: 500 x 10 = 5000 x 2 = 10000 x 0.95 = 9500."""
    case = "m_DIV under and over s_bar"
    scenario = {"epoch": 4, "params": base_params(diversity_eta_ppb=500000000),
                "nodes": [node(1, [100, 0, 0, 0], "micro"), node(2, [400, 0, 0, 0], "m"),
                          node(3, [0, 500, 0, 0], "xl")]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    t = out["totals"]
    check(case, "class shares", [t["class_share_ppb"][c] for c in CLASSES],
          [100000000, 0, 400000000, 0, 500000000])
    check(case, "class m_DIV", [t["class_diversity_ppb"][c] for c in CLASSES],
          [PPB, PPB, PPB, PPB, 950000000])
    expect(case, out, 1, diversity_ppb=PPB, performance=1000)
    expect(case, out, 2, diversity_ppb=PPB, performance=4000)
    expect(case, out, 3, diversity_ppb=950000000, performance=9500)


def case_deduction():
    """Phi > base + performance: node 1 earns 1000 + 1000 and owes 5000 Wh x
    1 = 5000: deduction 2000 (all it earned), paid 0, never owed anything:
    no leaf. Node 2 owes 3 x 100 (opex) + 2 x 1000 (penalty price 1000) =
    2300 of its 2000: paid 0, but owed 500 before: a leaf (amount 0,
    cumulative 500). Node 3: Phi = 10 + 30 + 1000 = 1040: paid 960."""
    case = "deductions beyond base + performance"
    params = base_params(energy_price=1, opex_price=3, penalty_price=1000)
    scenario = {"epoch": 5, "params": params,
                "nodes": [node(1, [100, 0, 0, 0], energy_wh=5000),
                          node(2, [100, 0, 0, 0], opex_units=100, penalty_points=2,
                               cumulative_before=500),
                          node(3, [100, 0, 0, 0], energy_wh=10, opex_units=10,
                               penalty_points=1)]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    expect(case, out, 1, base=1000, performance=1000, deduction=2000, paid=0, withheld=0,
           cumulative=0, proof=None)
    expect(case, out, 2, deduction=2000, paid=0, cumulative=500)
    check(case, "node 2's leaf amount", out["nodes"][1]["proof"]["amount"], 0)
    expect(case, out, 3, deduction=1040, paid=960)
    check(case, "leaves: nodes 2 and 3", out["leaves"], 2)


def case_green():
    """The carbon-adjusted energy price (docs/settlement.md, "Carbon
    certificates"): kappa_e 5 per uncertified Wh, kappa_e,green 2 per Wh of
    retired certificates, r = min(retired, e). Each node earns base 1000 +
    performance 10 x 1000 = 11000. Node 1: e 1000, 400 retired: 5 x 600 +
    2 x 400 = 3800, paid 7200. Node 2: 1500 retired of e 1000 (r = 1000):
    2 x 1000 = 2000, paid 9000. Node 3: nothing retired: 5 x 1000 = 5000,
    paid 6000. Node 4: 400 retired at kappa_e,green = kappa_e (the second
    scenario): (28) unchanged, 5000, paid 6000."""
    case = "the carbon-adjusted energy price"
    nodes = [node(1, [1000, 0, 0, 0], energy_wh=1000, energy_retired_wh=400),
             node(2, [1000, 0, 0, 0], energy_wh=1000, energy_retired_wh=1500),
             node(3, [1000, 0, 0, 0], energy_wh=1000)]
    green = {"epoch": 9, "params": base_params(energy_price=5, energy_price_green=2),
             "nodes": nodes}
    same = {"epoch": 9, "params": base_params(energy_price=5, energy_price_green=5),
            "nodes": [node(4, [1000, 0, 0, 0], energy_wh=1000, energy_retired_wh=400)]}
    out, out_same = yield [green, same]
    invariants(case, green, out)
    invariants(case, same, out_same)
    expect(case, out, 1, base=1000, performance=10000, deduction=3800, paid=7200)
    expect(case, out, 2, deduction=2000, paid=9000)
    expect(case, out, 3, deduction=5000, paid=6000)
    check(case, "energy_price_green printed", out["params"]["energy_price_green"], 2)
    expect(case, out_same, 4, deduction=5000, paid=6000)


def case_cap():
    """The class cap E_bar (33): XL capped at 1500 earns 1000 + 1000 - 100
    (energy 100 Wh x 1) = 1900: paid 1500, withheld 400. Micro capped at 0:
    base 1000 + performance 1000 all withheld. S (cap 10^6) paid 2000."""
    case = "the class cap E_bar"
    caps = {c: 1000000 for c in CLASSES}
    caps.update(xl=1500, micro=0)
    scenario = {"epoch": 6, "params": base_params(payout_cap=caps, energy_price=1),
                "nodes": [node(1, [100, 0, 0, 0], "xl", energy_wh=100),
                          node(2, [100, 0, 0, 0], "micro"), node(3, [100, 0, 0, 0], "s")]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    expect(case, out, 1, deduction=100, paid=1500, withheld=400)
    expect(case, out, 2, paid=0, withheld=2000, proof=None)
    expect(case, out, 3, paid=2000, withheld=0)
    check(case, "total withheld", out["totals"]["withheld"], 2400)


def case_theta():
    """theta_t = theta0_t + floor(theta0_t x floor(gamma_t q_t)):
    tier 2: theta0 2.5, gamma 0.3, q 0.7: 0.21 -> 2.5 + 0.525 = 3.025;
    tier 3: 3 (1 + 0.5 x 0.3) = 3.45;
    tier 4: gamma 0.333333333 x q 0.5 = 0.1666666665 -> 0.166666666;
    4 x that = 0.666666664: theta 4.666666664.
    Work 100 each tier: 1000, 3025, 3450, 4666.666664 -> 4666: 12141."""
    case = "theta with gamma q"
    params = base_params(theta0_ppb=[PPB, 2500000000, 3 * PPB, 4 * PPB],
                         gamma_ppb=[0, 300000000, 500000000, 333333333],
                         queue_ppb=[PPB, 700000000, 300000000, 500000000])
    scenario = {"epoch": 8, "params": params, "nodes": [node(1, [100, 100, 100, 100])]}
    out, = yield [scenario]
    invariants(case, scenario, out)
    check(case, "theta", out["totals"]["theta_ppb"], [PPB, 3025000000, 3450000000, 4666666664])
    expect(case, out, 1, performance=12141, paid=13141)


def case_random():
    """A seeded fleet of 257 nodes (odd levels in the tree), every field
    random: only the invariants and the Python tree."""
    rng = random.Random(14)
    nodes = []
    for i, node_id in enumerate(rng.sample(range(1, 1 << 32), 257)):
        nodes.append({"node_id": node_id, "operator_id": rng.randrange(1 << 32),
                      "class": rng.choice(CLASSES), "availability_ppb": rng.randrange(PPB + 1),
                      "capacity_units": rng.randrange(100),
                      "work": [rng.randrange(10**6) for _ in range(4)],
                      "slo_success_ppb": [rng.randrange(PPB + 1) for _ in range(4)],
                      "renewable_ppb": rng.randrange(PPB + 1), "energy_wh": rng.randrange(10**4),
                      "opex_units": rng.randrange(10**3), "penalty_points": rng.randrange(3),
                      "cumulative_before": rng.choice([0, rng.randrange(10**9)])})
    caps = {c: rng.randrange(10**6, 10**8) for c in CLASSES}
    params = base_params(diversity_eta_ppb=500000000, energy_price=2, opex_price=5,
                         penalty_price=10**5, payout_cap=caps,
                         gamma_ppb=[500000000] * 4, queue_ppb=[200000000] * 4)
    scenario = {"epoch": 99, "params": params, "nodes": nodes}
    out, = yield [scenario]
    invariants("a random fleet of 257 nodes", scenario, out)


CASES = [
    ("the worked epoch of docs/settlement.md, in exact, decimal and token forms", case_worked),
    ("m_SLO at its max, before and after the power", case_slo_max),
    ("m_SLO below target with alpha 2, rounded down at each step", case_slo_below),
    ("m_ESG at 1 below and at the baseline, inside, at m_bar above", case_esg),
    ("m_DIV under, at and over s_bar", case_diversity),
    ("deductions beyond base + performance: paid 0, leaves", case_deduction),
    ("the class cap E_bar withholds", case_cap),
    ("the carbon-adjusted energy price, retired Wh at kappa_e,green", case_green),
    ("theta with gamma q, rounded down", case_theta),
    ("a random fleet of 257 nodes: conservation, root, proofs", case_random),
]


def cmd_scenarios(worked, directory):
    """Writes every case's scenarios: DIR/caseI-K.json."""
    for i, (_, case) in enumerate(CASES):
        for k, scenario in enumerate(next(case(worked) if case is case_worked else case())):
            with open(f"{directory}/case{i}-{k}.json", "w") as f:
                json.dump(scenario, f)
    return 0


def cmd_check(worked, directory):
    """Checks every case's outputs, DIR/caseI-K.out, one line per case."""
    for i, (name, case) in enumerate(CASES):
        before = len(failures)
        gen = case(worked) if case is case_worked else case()
        outs = []
        for k in range(len(next(gen))):
            with open(f"{directory}/case{i}-{k}.out") as f:
                outs.append(json.load(f))
        try:
            gen.send(outs)
        except StopIteration:
            pass
        print(f"{'ok' if len(failures) == before else 'FAIL'}: {name}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


def cmd_readback(src, full, dst):
    """SRC with the params FULL printed: the exact form, which must read back
    to the same epoch."""
    with open(src) as f:
        scenario = json.load(f)
    with open(full) as f:
        scenario["params"] = json.load(f)["params"]
    with open(dst, "w") as f:
        json.dump(scenario, f)
    return 0


def cmd_mutate(src):
    """One line of stdin per file to write: OUT, then PATH and VALUE pairs,
    tab-separated; OUT is SRC with each PATH (a.b.0.c) set to the JSON VALUE
    (DELETE removes it)."""
    with open(src) as f:
        original = json.load(f)
    for line in sys.stdin.read().splitlines():
        out, *pairs = line.split("\t")
        doc = copy.deepcopy(original)
        for path, value in zip(pairs[0::2], pairs[1::2]):
            keys = [int(k) if k.isdigit() else k for k in path.split(".")]
            target = doc
            for k in keys[:-1]:
                target = target[k]
            if value == "DELETE":
                del target[keys[-1]]
            else:
                target[keys[-1]] = json.loads(value)
        with open(out, "w") as f:
            json.dump(doc, f)
    return 0


def cmd_proof(full, proof, node_id):
    with open(full) as f:
        out = json.load(f)
    with open(proof) as f:
        got = json.load(f)
    want = next(n["proof"] for n in out["nodes"] if n["node_id"] == int(node_id))
    if got != want or not verify_proof(got):
        print(f"FAIL: --proof {node_id} printed {got}, the full output has {want}")
        return 1
    return 0


def cmd_forge(src, dst, amount):
    """A proof claiming `amount` (and as much cumulatively), the leaf bytes
    re-encoded to agree: only the tree can refuse it."""
    with open(src) as f:
        proof = json.load(f)
    proof["amount"] = proof["cumulative"] = int(amount)
    proof["leaf"] = leaf_bytes(proof["epoch"], proof["operator"], proof["node"], int(amount),
                               int(amount)).hex()
    with open(dst, "w") as f:
        json.dump(proof, f)
    return 0


def main(argv):
    commands = {"scenarios": (cmd_scenarios, 2), "check": (cmd_check, 2),
                "readback": (cmd_readback, 3), "mutate": (cmd_mutate, 1), "proof": (cmd_proof, 3),
                "forge": (cmd_forge, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
