/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The work summary builder (appliance/work_summary.c): receipts in, the
 * slice's WORK_SUMMARY transactions out, with the per-node, per-tier sums
 * worked out by hand below, split in parts beyond
 * FAII_SETTLE_WORK_ENTRIES_MAX nodes, kept in order while the sink is busy,
 * and proofs of kept receipts that verify against the slice's root.
 * The transactions are read back with this file's own decoder of
 * settle_tx.h's layout, so an encoder that drifts from it fails here.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "faii/bytes.h"
#include "faii/limits.h"
#include "work_summary.h"

#define SINK_MAX 16u

struct sink {
	uint8_t tx[SINK_MAX][FAII_SETTLE_TX_BYTES_MAX];
	uint32_t len[SINK_MAX];
	unsigned count;
	unsigned busy; /* answer -ENOBUFS this many times first */
};

static int sink_take(void *ctx, const uint8_t *tx, uint32_t len)
{
	struct sink *s = ctx;
	if (s->busy > 0) {
		s->busy--;
		return -ENOBUFS;
	}
	cr_assert_lt(s->count, SINK_MAX);
	memcpy(s->tx[s->count], tx, len);
	s->len[s->count++] = len;
	return 0;
}

struct decoded {
	uint64_t slice, end_ms;
	uint16_t part, parts, entries;
	uint32_t receipts;
	uint8_t root[32];
};

static const uint8_t *decode_header(const uint8_t *tx, uint32_t len, struct decoded *d)
{
	cr_assert_eq(tx[0], FAII_SETTLE_TX_WORK_SUMMARY);
	cr_assert_eq(tx[1], FAII_SETTLE_TX_VERSION);
	const uint8_t *b = tx + 2;
	d->slice = faii_get_le64(b);
	d->end_ms = faii_get_le64(b + 8);
	d->part = faii_get_le16(b + 16);
	d->parts = faii_get_le16(b + 18);
	d->entries = faii_get_le16(b + 20);
	cr_assert_eq(faii_get_le16(b + 22), 0);
	d->receipts = faii_get_le32(b + 24);
	memcpy(d->root, b + 28, 32);
	for (unsigned i = 60; i < 76; i++) /* q_t of an idle demo: 0 */
		cr_assert_eq(b[i], 0, "queues");
	for (unsigned i = 76; i < 80; i++)
		cr_assert_eq(b[i], 0, "header pad");
	cr_assert_eq(len, 2 + 80 + 128u * d->entries);
	return b + 80;
}

static void decode_entry(const uint8_t *at, struct faii_settle_work_entry *e)
{
	e->node_id = faii_get_le32(at);
	e->heartbeats_expected = faii_get_le32(at + 4);
	e->heartbeats_seen = faii_get_le32(at + 8);
	e->disagreements = faii_get_le32(at + 12);
	for (unsigned t = 0; t < 4; t++) {
		const uint8_t *x = at + 16 + 28 * t;
		e->tier[t].dispatched = faii_get_le32(x);
		e->tier[t].answered = faii_get_le32(x + 4);
		e->tier[t].verified_work = faii_get_le64(x + 8);
		e->tier[t].slo_hits = faii_get_le32(x + 16);
		e->tier[t].latency_sum_us = faii_get_le64(x + 20);
	}
}

static void tier_is(const struct faii_settle_work_tier *got,
                    const struct faii_settle_work_tier *want, const char *what)
{
	cr_assert_eq(got->dispatched, want->dispatched, "%s dispatched", what);
	cr_assert_eq(got->answered, want->answered, "%s answered", what);
	cr_assert_eq(got->verified_work, want->verified_work, "%s verified", what);
	cr_assert_eq(got->slo_hits, want->slo_hits, "%s slo", what);
	cr_assert_eq(got->latency_sum_us, want->latency_sum_us, "%s latency", what);
}

static struct faii_work_summary ws;
static struct sink out;
static struct faii_work_node nodes[128];

static void start(uint32_t slots, uint32_t kept, uint64_t now_ms)
{
	struct faii_work_options opt = {.slice_ms = 1000,
	                                .heartbeat_period_ms = 100,
	                                .receipts_kept = kept,
	                                .node_slots = slots};
	cr_assert_eq(faii_work_init(&ws, &opt), 0);
	memset(&out, 0, sizeof(out));
	faii_work_start(&ws, now_ms, nodes);
}

static struct faii_settle_receipt replicated(uint64_t task, uint8_t tier, uint8_t agreed,
                                             uint8_t in_slo, const uint32_t lat[3])
{
	struct faii_settle_receipt r = {.task_id = task,
	                                .client_id = 7,
	                                .finished_ms = 5100,
	                                .latency_us = 50,
	                                .tier = tier,
	                                .replicas = 3,
	                                .answered = 7,
	                                .ok = 7,
	                                .agreed = agreed,
	                                .in_slo = in_slo,
	                                .node_id = {100, 101, 102}};
	r.verdict = agreed == 7 ? FAII_SETTLE_VERDICT_AGREED : FAII_SETTLE_VERDICT_DISAGREED;
	memcpy(r.copy_latency_us, lat, 3 * sizeof(uint32_t));
	memset(r.result_hash, 0x5A, sizeof(r.result_hash));
	return r;
}

static struct faii_settle_receipt single(uint64_t task, uint8_t tier, uint32_t node, bool ok,
                                         uint32_t lat)
{
	struct faii_settle_receipt r = {.task_id = task,
	                                .tier = tier,
	                                .replicas = 1,
	                                .node_id = {node},
	                                .finished_ms = 5200};
	r.verdict = ok ? FAII_SETTLE_VERDICT_SINGLE : FAII_SETTLE_VERDICT_EXPIRED;
	r.status = ok ? 0 : 3;
	if (ok) {
		r.answered = r.ok = r.agreed = r.in_slo = 1;
		r.copy_latency_us[0] = lat;
		memset(r.result_hash, 0x33, sizeof(r.result_hash));
	}
	return r;
}

/*
 * Four nodes (slots 0..3, ids 100..103), slice 5 = [5000, 6000) ms,
 * heartbeats expected 1000 / 100 = 10.
 *   R1 tier 1, 3 copies all agreed, in budget copies 0, 1; latencies 10 20 30
 *   R2 tier 1, copy 2 outvoted, all in budget; latencies 5 5 5
 *   R3 tier 3, one copy on 101, ok in budget, 40 us
 *   R4 tier 4, one copy on 102, expired (no answer)
 * By hand, tier 1: 100 dispatched 2 answered 2 verified 2 slo 2 latency 15;
 * 101 the same with latency 25; 102 dispatched 2 answered 2 verified 0
 * (R1 out of budget, R2 outvoted) slo 1 latency 35, 1 disagreement.
 * 101 tier 3: 1 1 1 1 40. 102 tier 4: dispatched 1, nothing else. 103: none.
 * Heartbeats seen: 10 - 0, 14 - 5, 3 - 0, 7 - 7.
 */
Test(work_summary, one_slice_sums_per_node_and_tier)
{
	const uint64_t beats0[4] = {0, 5, 0, 7}, beats1[4] = {10, 14, 3, 7};
	for (unsigned s = 0; s < 4; s++)
		nodes[s] = (struct faii_work_node){.node_id = 100 + s, .heartbeats = beats0[s]};
	start(4, 1024, 5000);
	const uint32_t slots[3] = {0, 1, 2}, lat1[3] = {10, 20, 30}, lat2[3] = {5, 5, 5};
	struct faii_settle_receipt r[4] = {
	        replicated(1, 1, 7, 3, lat1), replicated(2, 1, 3, 7, lat2),
	        single(3, 3, 101, true, 40), single(4, 4, 102, false, 0)};
	const uint32_t slot101 = 1, slot102 = 2;
	faii_work_add(&ws, &r[0], slots);
	faii_work_add(&ws, &r[1], slots);
	faii_work_add(&ws, &r[2], &slot101);
	faii_work_add(&ws, &r[3], &slot102);
	cr_assert(!faii_work_slice_due(&ws, 5999));
	cr_assert(faii_work_slice_due(&ws, 6000));
	for (unsigned s = 0; s < 4; s++)
		nodes[s].heartbeats = beats1[s];
	cr_assert_eq(faii_work_close(&ws, nodes, 6003), 1);
	faii_work_flush(&ws, sink_take, &out);
	cr_assert_eq(out.count, 1);

	struct decoded d;
	const uint8_t *e = decode_header(out.tx[0], out.len[0], &d);
	cr_assert_eq(d.slice, 5);
	cr_assert_eq(d.end_ms, 6000);
	cr_assert_eq(d.part, 0);
	cr_assert_eq(d.parts, 1);
	cr_assert_eq(d.entries, 4);
	cr_assert_eq(d.receipts, 4);
	uint8_t hashes[4][32], root[32];
	for (unsigned i = 0; i < 4; i++) {
		uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES];
		faii_settle_receipt_encode(&r[i], leaf);
		faii_settle_receipt_hash(leaf, hashes[i]);
	}
	faii_settle_merkle_root((const uint8_t(*)[32])hashes, 4, hashes, root);
	cr_assert_eq(memcmp(d.root, root, 32), 0, "the root over the slice's 4 receipts");

	struct faii_settle_work_entry n[4];
	for (unsigned i = 0; i < 4; i++)
		decode_entry(e + 128 * i, &n[i]);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(n[i].node_id, 100 + i);
		cr_assert_eq(n[i].heartbeats_expected, 10);
		cr_assert_eq(n[i].heartbeats_seen, beats1[i] - beats0[i]);
	}
	const struct faii_settle_work_tier t100 = {2, 2, 2, 2, 15}, t101 = {2, 2, 2, 2, 25},
	                                   t102 = {2, 2, 0, 1, 35}, t101_3 = {1, 1, 1, 1, 40},
	                                   t102_4 = {1, 0, 0, 0, 0}, none = {0};
	tier_is(&n[0].tier[0], &t100, "100 tier 1");
	tier_is(&n[1].tier[0], &t101, "101 tier 1");
	tier_is(&n[2].tier[0], &t102, "102 tier 1");
	tier_is(&n[1].tier[2], &t101_3, "101 tier 3");
	tier_is(&n[2].tier[3], &t102_4, "102 tier 4");
	tier_is(&n[0].tier[1], &none, "100 tier 2");
	for (unsigned t = 0; t < 4; t++)
		tier_is(&n[3].tier[t], &none, "103");
	cr_assert_eq(n[0].disagreements + n[1].disagreements + n[3].disagreements, 0);
	cr_assert_eq(n[2].disagreements, 1);
	/* The next slice opened where now is; nothing of the last one in it. */
	cr_assert_eq(ws.open.slice, 6);
	cr_assert_eq(ws.open.count, 0);
	faii_work_fini(&ws);
}

/* 70 nodes in slots of decreasing id: three parts of 31, 31 and 8 entries,
 * sorted by node id across the parts, each naming the same root. */
Test(work_summary, many_nodes_split_in_parts_sorted_by_id)
{
	cr_assert_eq(FAII_SETTLE_WORK_ENTRIES_MAX, 31);
	memset(nodes, 0, sizeof(nodes));
	for (unsigned s = 0; s < 70; s++)
		nodes[s].node_id = 1000 - s;
	start(80, 1024, 12345);
	for (unsigned s = 0; s < 70; s++) {
		struct faii_settle_receipt r = single(s, 2, 1000 - s, true, s);
		faii_work_add(&ws, &r, &s);
	}
	cr_assert_eq(faii_work_close(&ws, nodes, 13000), 3);
	faii_work_flush(&ws, sink_take, &out);
	cr_assert_eq(out.count, 3);
	uint32_t last = 0, seen = 0;
	const unsigned expect[3] = {31, 31, 8};
	struct decoded first;
	for (unsigned p = 0; p < 3; p++) {
		struct decoded d;
		const uint8_t *e = decode_header(out.tx[p], out.len[p], &d);
		cr_assert_eq(d.part, p);
		cr_assert_eq(d.parts, 3);
		cr_assert_eq(d.entries, expect[p]);
		cr_assert_eq(d.slice, 12);
		cr_assert_eq(d.receipts, 70);
		if (p == 0)
			first = d;
		cr_assert_eq(memcmp(d.root, first.root, 32), 0);
		for (unsigned i = 0; i < d.entries; i++) {
			struct faii_settle_work_entry x;
			decode_entry(e + 128 * i, &x);
			cr_assert_gt(x.node_id, last);
			last = x.node_id;
			cr_assert_eq(x.tier[1].verified_work, 1);
			cr_assert_eq(x.tier[1].latency_sum_us, 1000 - x.node_id);
			seen++;
		}
	}
	cr_assert_eq(seen, 70);
	faii_work_fini(&ws);
}

/* A busy sink keeps the parts in order; an empty slice still says so. */
Test(work_summary, a_busy_sink_keeps_them_queued_in_order)
{
	memset(nodes, 0, sizeof(nodes));
	start(4, 1024, 0);
	faii_work_close(&ws, nodes, 1000);
	faii_work_close(&ws, nodes, 2000);
	out.busy = 3;
	faii_work_flush(&ws, sink_take, &out);
	cr_assert_eq(out.count, 0);
	cr_assert_eq(ws.counters.summaries_busy, 1);
	cr_assert_eq(ws.counters.summaries_pending, 2);
	faii_work_flush(&ws, sink_take, &out);
	faii_work_flush(&ws, sink_take, &out);
	faii_work_flush(&ws, sink_take, &out);
	cr_assert_eq(out.count, 2);
	struct decoded a, b;
	decode_header(out.tx[0], out.len[0], &a);
	decode_header(out.tx[1], out.len[1], &b);
	cr_assert_eq(a.slice, 0);
	cr_assert_eq(b.slice, 1);
	cr_assert_eq(a.entries, 0);
	cr_assert_eq(a.receipts, 0);
	cr_assert_eq(ws.counters.summaries_sent, 2);
	cr_assert_eq(ws.counters.summaries_pending, 0);
	/* A stepped clock: slices 2..9 get no summary, slice 10 is next. */
	faii_work_close(&ws, nodes, 10500);
	cr_assert_eq(ws.open.slice, 10);
	faii_work_fini(&ws);
}

/* A sink that counts what it takes, in order (slice, part). */
struct counting_sink {
	uint32_t taken;
	uint64_t last_slice;
	uint16_t last_part;
	bool ordered;
};

static int sink_count(void *ctx, const uint8_t *tx, uint32_t len)
{
	struct counting_sink *c = ctx;
	struct decoded d;
	decode_header(tx, len, &d);
	if (c->taken > 0 &&
	    !(d.slice > c->last_slice || (d.slice == c->last_slice && d.part == c->last_part + 1)))
		c->ordered = false;
	c->last_slice = d.slice;
	c->last_part = d.part;
	c->taken++;
	return 0;
}

static int sink_busy(void *ctx, const uint8_t *tx, uint32_t len)
{
	(void)ctx, (void)tx, (void)len;
	return -ENOBUFS;
}

/* The pending queue holds FAII_WORK_PENDING_SLICES whole slices of every
 * slot's parts (a fixed 4 096 parts used to hold barely one slice of a
 * 100 000-node registry and not one of a full one); the slice beyond, with
 * the sink busy throughout, is dropped part by part and counted. */
Test(work_summary, the_pending_queue_holds_three_whole_slices_then_counts_drops)
{
	cr_assert_eq(faii_work_slice_parts(100000), 3226);
	cr_assert_eq(faii_work_pending_parts(100000), 3 * 3226);
	cr_assert_geq(faii_work_pending_parts(FAII_CFG_NODES_MAX),
	              FAII_WORK_PENDING_SLICES * faii_work_slice_parts(FAII_CFG_NODES_MAX));
	cr_assert_eq(faii_work_pending_parts(1), FAII_WORK_PENDING_PARTS_MIN);
	enum { SLOTS = 31 * 40 }; /* 40 parts a slice */
	static struct faii_work_node many[SLOTS];
	for (unsigned s = 0; s < SLOTS; s++)
		many[s] = (struct faii_work_node){.node_id = 1 + s};
	struct faii_work_options opt = {.slice_ms = 1000,
	                                .heartbeat_period_ms = 100,
	                                .receipts_kept = 1024,
	                                .node_slots = SLOTS};
	cr_assert_eq(faii_work_init(&ws, &opt), 0);
	cr_assert_eq(ws.pending_max, 120);
	faii_work_start(&ws, 0, many);
	for (uint64_t slice = 0; slice < FAII_WORK_PENDING_SLICES; slice++) {
		cr_assert_eq(faii_work_close(&ws, many, (slice + 1) * 1000), 40);
		faii_work_flush(&ws, sink_busy, NULL);
	}
	cr_assert_eq(ws.counters.summaries_pending, 120, "three whole slices wait");
	cr_assert_eq(ws.counters.summaries_queue_full, 0);
	cr_assert_eq(faii_work_close(&ws, many, 4000), 40); /* no room left */
	cr_assert_eq(ws.counters.summaries, 160);
	cr_assert_eq(ws.counters.summaries_queue_full, 40, "every dropped part counted");
	struct counting_sink taken = {.ordered = true};
	faii_work_flush(&ws, sink_count, &taken);
	cr_assert_eq(taken.taken, 120);
	cr_assert(taken.ordered, "the queued slices leave in order");
	cr_assert_eq(taken.last_slice, 2);
	cr_assert_eq(ws.counters.summaries_sent + ws.counters.summaries_queue_full,
	             ws.counters.summaries, "no part lost uncounted");
	faii_work_fini(&ws);
}

/* Proofs of kept receipts verify against the slice's root; the open
 * slice's are not yet provable; old slices leave as the ring wraps. */
Test(work_summary, proofs_of_kept_receipts_and_the_bounds)
{
	memset(nodes, 0, sizeof(nodes));
	start(4, 1024, 0);
	const uint32_t slot = 0;
	for (unsigned i = 0; i < 600; i++) {
		struct faii_settle_receipt r = single(10000 + i, 1, 100, true, i);
		faii_work_add(&ws, &r, &slot);
	}
	struct faii_work_proof p;
	bool in_open = false;
	cr_assert_eq(faii_work_prove(&ws, 10005, &p, &in_open), -ENOENT);
	cr_assert(in_open);
	faii_work_close(&ws, nodes, 1000);
	cr_assert_eq(faii_work_prove(&ws, 10005, &p, &in_open), 0);
	cr_assert(!in_open);
	cr_assert_eq(p.slice.slice, 0);
	cr_assert_eq(p.proof.index, 5);
	cr_assert_eq(p.proof.count, 600);
	cr_assert_eq(p.matches, 1);
	cr_assert_eq(faii_settle_receipt_verify(p.leaf, &p.proof, p.slice.root), 0);
	p.leaf[24] ^= 1;
	cr_assert_eq(faii_settle_receipt_verify(p.leaf, &p.proof, p.slice.root), -EINVAL);
	/* 600 more overwrite the first slice's oldest leaves: it is gone. */
	for (unsigned i = 0; i < 600; i++) {
		struct faii_settle_receipt r = single(20000 + i, 1, 100, true, i);
		faii_work_add(&ws, &r, &slot);
	}
	faii_work_close(&ws, nodes, 2000);
	cr_assert_eq(faii_work_prove(&ws, 10599, &p, &in_open), -ENOENT);
	cr_assert_eq(faii_work_prove(&ws, 20599, &p, &in_open), 0);
	/* The open slice holds at most receipts_kept: the rest is counted. */
	for (unsigned i = 0; i < 1030; i++) {
		struct faii_settle_receipt r = single(30000 + i, 1, 100, true, 1);
		faii_work_add(&ws, &r, &slot);
	}
	cr_assert_eq(ws.open.count, 1024);
	cr_assert_eq(ws.counters.receipts_slice_full, 6);
	/* A receipt that breaks the leaf rules, and an unknown slot, are counted. */
	struct faii_settle_receipt bad = single(1, 9, 100, true, 1);
	faii_work_add(&ws, &bad, &slot);
	cr_assert_eq(ws.counters.receipts_invalid, 1);
	faii_work_fini(&ws);
	start(4, 1024, 0);
	const uint32_t far = 4;
	struct faii_settle_receipt r = single(1, 1, 100, true, 1);
	faii_work_add(&ws, &r, &far);
	cr_assert_eq(ws.counters.receipts_bad_slot, 1);
	faii_work_fini(&ws);
}
