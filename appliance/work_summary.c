/* SPDX-License-Identifier: BSD-3-Clause */
/* Work summaries from routing receipts: see work_summary.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/config.h"
#include "faii/settle_state.h"
#include "work_summary.h"

_Static_assert(FAII_SETTLE_TX_TIERS == FAII_SETTLE_RECEIPT_TIERS, "one tier list");
_Static_assert(FAII_CFG_RECEIPTS_KEPT_MAX <= FAII_SETTLE_LEAVES_MAX, "a slice fits one tree");
/* A whole registry's slice is parts settlement takes (docs/settlement.md,
 * "Work summaries and receipts": a part number beyond it is refused). */
_Static_assert((FAII_CFG_NODES_MAX + FAII_SETTLE_WORK_ENTRIES_MAX - 1) /
                               FAII_SETTLE_WORK_ENTRIES_MAX <=
                       FAII_SETTLE_SLICE_PARTS_MAX,
               "a full registry's slice fits settlement's parts of a slice");

uint32_t faii_work_slice_parts(uint32_t node_slots)
{
	uint64_t parts = ((uint64_t)node_slots + FAII_SETTLE_WORK_ENTRIES_MAX - 1) /
	                 FAII_SETTLE_WORK_ENTRIES_MAX;
	return parts > 0 ? (uint32_t)parts : 1; /* an empty slice still reports its time */
}

uint32_t faii_work_pending_parts(uint32_t node_slots)
{
	uint64_t parts = (uint64_t)FAII_WORK_PENDING_SLICES * faii_work_slice_parts(node_slots);
	return parts > FAII_WORK_PENDING_PARTS_MIN ? (uint32_t)parts : FAII_WORK_PENDING_PARTS_MIN;
}

int faii_work_init(struct faii_work_summary *ws, const struct faii_work_options *opt)
{
	memset(ws, 0, sizeof(*ws));
	if (opt->slice_ms < FAII_CFG_SLICE_MS_MIN || opt->slice_ms > FAII_CFG_SLICE_MS_MAX ||
	    opt->heartbeat_period_ms == 0 || opt->receipts_kept < FAII_CFG_RECEIPTS_KEPT_MIN ||
	    opt->receipts_kept > FAII_CFG_RECEIPTS_KEPT_MAX || opt->node_slots == 0 ||
	    opt->node_slots > FAII_CFG_NODES_MAX)
		return -EINVAL;
	ws->opt = *opt;
	/* Allocated once; pages are touched as they fill. */
	ws->leaves = malloc((size_t)opt->receipts_kept * FAII_SETTLE_RECEIPT_BYTES);
	ws->scratch = malloc((size_t)opt->receipts_kept * FAII_SETTLE_HASH_BYTES);
	ws->entries = calloc(opt->node_slots, sizeof(*ws->entries));
	ws->touched = calloc(opt->node_slots, 1);
	ws->beats_at_start = calloc(opt->node_slots, sizeof(*ws->beats_at_start));
	ws->sorted = calloc(opt->node_slots, sizeof(*ws->sorted));
	ws->pending_max = faii_work_pending_parts(opt->node_slots);
	ws->pending = malloc((size_t)ws->pending_max * FAII_SETTLE_TX_BYTES_MAX);
	ws->pending_len = calloc(ws->pending_max, sizeof(*ws->pending_len));
	if (!ws->leaves || !ws->scratch || !ws->entries || !ws->touched || !ws->beats_at_start ||
	    !ws->sorted || !ws->pending || !ws->pending_len) {
		faii_work_fini(ws);
		return -ENOMEM;
	}
	faii_settle_receipt_acc_init(&ws->acc);
	return 0;
}

void faii_work_fini(struct faii_work_summary *ws)
{
	free(ws->leaves);
	free(ws->scratch);
	free(ws->entries);
	free(ws->touched);
	free(ws->beats_at_start);
	free(ws->sorted);
	free(ws->pending);
	free(ws->pending_len);
	memset(ws, 0, sizeof(*ws));
}

static void open_slice(struct faii_work_summary *ws, uint64_t slice, uint64_t start_ms,
                       const struct faii_work_node *nodes)
{
	memset(&ws->open, 0, sizeof(ws->open));
	ws->open.slice = slice;
	ws->open.start_ms = start_ms;
	ws->open.end_ms = (slice + 1) * ws->opt.slice_ms;
	ws->open.first = ws->next;
	FAII_ASSERT(start_ms < ws->open.end_ms);
	faii_settle_receipt_acc_init(&ws->acc);
	memset(ws->entries, 0, (size_t)ws->opt.node_slots * sizeof(*ws->entries));
	memset(ws->touched, 0, ws->opt.node_slots);
	for (uint32_t s = 0; s < ws->opt.node_slots; s++)
		ws->beats_at_start[s] = nodes[s].heartbeats;
	ws->open_started = true;
}

void faii_work_start(struct faii_work_summary *ws, uint64_t now_ms,
                     const struct faii_work_node *nodes)
{
	FAII_ASSERT(!ws->open_started);
	open_slice(ws, now_ms / ws->opt.slice_ms, now_ms, nodes);
}

bool faii_work_slice_due(const struct faii_work_summary *ws, uint64_t now_ms)
{
	return ws->open_started && now_ms >= ws->open.end_ms;
}

/* The slot's entry for node_id in this slice, or NULL (counted). */
static struct faii_settle_work_entry *entry_of(struct faii_work_summary *ws, uint32_t slot,
                                               uint32_t node_id)
{
	if (slot >= ws->opt.node_slots) {
		ws->counters.receipts_bad_slot++;
		return NULL;
	}
	struct faii_settle_work_entry *e = &ws->entries[slot];
	if (!ws->touched[slot]) {
		ws->touched[slot] = 1;
		e->node_id = node_id;
	} else if (e->node_id != node_id) {
		ws->counters.receipts_bad_slot++; /* the slot changed hands within the slice */
		return NULL;
	}
	return e;
}

static uint32_t add_u32(uint32_t a, uint64_t b)
{
	uint64_t sum = (uint64_t)a + b;
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum; /* a slice cannot reach it */
}

/* The receipt's copies into their nodes' sums (docs/settlement.md). */
static void accumulate(struct faii_work_summary *ws, const struct faii_settle_receipt *r,
                       const uint32_t *slots)
{
	unsigned t = r->tier - 1u;
	uint8_t verified = r->agreed & r->in_slo;
	/* Outvoted: answered ok while some majority hash won. */
	uint8_t outvoted = r->agreed != 0 ? (uint8_t)(r->ok & ~r->agreed) : 0;
	for (unsigned j = 0; j < r->replicas; j++) {
		struct faii_settle_work_entry *e = entry_of(ws, slots[j], r->node_id[j]);
		if (e == NULL)
			continue;
		struct faii_settle_work_tier *tier = &e->tier[t];
		tier->dispatched = add_u32(tier->dispatched, 1);
		if ((r->answered >> j) & 1) {
			tier->answered = add_u32(tier->answered, 1);
			tier->latency_sum_us += r->copy_latency_us[j];
		}
		tier->verified_work += (verified >> j) & 1;
		tier->slo_hits = add_u32(tier->slo_hits, (r->in_slo >> j) & 1);
		e->disagreements = add_u32(e->disagreements, (outvoted >> j) & 1);
	}
}

void faii_work_add(struct faii_work_summary *ws, const struct faii_settle_receipt *r,
                   const uint32_t *slots)
{
	FAII_ASSERT(ws->open_started);
	if (faii_settle_receipt_check(r) != FAII_SETTLE_RECEIPT_REFUSED_NONE) {
		ws->counters.receipts_invalid++;
		return;
	}
	if (ws->open.count >= ws->opt.receipts_kept) {
		ws->counters.receipts_slice_full++; /* never over the slice's own leaves */
		return;
	}
	uint8_t *leaf = ws->leaves[ws->next % ws->opt.receipts_kept];
	faii_settle_receipt_encode(r, leaf);
	uint8_t hash[FAII_SETTLE_HASH_BYTES];
	faii_settle_receipt_hash(leaf, hash);
	int rc = faii_settle_receipt_acc_add(&ws->acc, hash);
	FAII_ASSERT(rc == 0); /* receipts_kept <= FAII_SETTLE_LEAVES_MAX */
	ws->next++;
	ws->open.count++;
	ws->counters.receipts++;
	accumulate(ws, r, slots);
}

static int by_node_id(const void *a, const void *b)
{
	uint32_t x = ((const struct faii_settle_work_entry *)a)->node_id;
	uint32_t y = ((const struct faii_settle_work_entry *)b)->node_id;
	return (x > y) - (x < y);
}

/* Every node of the slice, with its heartbeats, sorted by node id. */
static uint32_t collect_entries(struct faii_work_summary *ws, const struct faii_work_node *nodes)
{
	uint64_t span_ms = ws->open.end_ms - ws->open.start_ms;
	uint32_t expected = (uint32_t)(span_ms / ws->opt.heartbeat_period_ms);
	uint32_t n = 0;
	for (uint32_t s = 0; s < ws->opt.node_slots; s++) {
		bool present = nodes[s].node_id != 0;
		if (!present && !ws->touched[s])
			continue;
		struct faii_settle_work_entry *e = &ws->sorted[n++];
		*e = ws->entries[s];
		if (!ws->touched[s])
			e->node_id = nodes[s].node_id;
		if (present && e->node_id == nodes[s].node_id) {
			/* A slot re-used since start counts from zero. */
			uint64_t before = ws->beats_at_start[s];
			uint64_t now = nodes[s].heartbeats;
			uint64_t seen = now >= before ? now - before : now;
			e->heartbeats_expected = expected;
			e->heartbeats_seen = (uint32_t)(seen > UINT32_MAX ? UINT32_MAX : seen);
		}
	}
	qsort(ws->sorted, n, sizeof(*ws->sorted), by_node_id);
	return n;
}

static void queue_part(struct faii_work_summary *ws, const struct faii_settle_work_header *h,
                       const struct faii_settle_work_entry *entries)
{
	ws->counters.summaries++;
	if (ws->pending_count == ws->pending_max) {
		ws->counters.summaries_queue_full++;
		return;
	}
	uint32_t at = (ws->pending_head + ws->pending_count) % ws->pending_max;
	int rc = faii_settle_tx_work_encode(h, entries, ws->pending[at], FAII_SETTLE_TX_BYTES_MAX,
	                                    &ws->pending_len[at]);
	FAII_ASSERT(rc == 0); /* entry_count <= FAII_SETTLE_WORK_ENTRIES_MAX fits */
	ws->pending_count++;
	ws->counters.summaries_pending = ws->pending_count;
}

uint32_t faii_work_close(struct faii_work_summary *ws, const struct faii_work_node *nodes,
                         uint64_t now_ms)
{
	FAII_ASSERT(ws->open_started);
	struct faii_work_slice *s = &ws->open;
	faii_settle_receipt_acc_root(&ws->acc, s->root);
	FAII_ASSERT(ws->acc.count == s->count);
	uint32_t n = collect_entries(ws, nodes);
	uint32_t parts = faii_work_slice_parts(n);
	FAII_ASSERT(parts <= faii_work_slice_parts(ws->opt.node_slots)); /* n <= node_slots */
	FAII_ASSERT(parts <= UINT16_MAX);
	s->parts = (uint16_t)parts;
	for (uint32_t p = 0; p < parts; p++) {
		uint32_t from = p * FAII_SETTLE_WORK_ENTRIES_MAX;
		uint32_t count = n - from < FAII_SETTLE_WORK_ENTRIES_MAX
		                         ? n - from
		                         : FAII_SETTLE_WORK_ENTRIES_MAX;
		struct faii_settle_work_header h = {
		        .slice = s->slice,
		        .slice_end_ms = s->end_ms,
		        .part = (uint16_t)p,
		        .parts = (uint16_t)parts,
		        .entry_count = (uint16_t)count,
		        .receipt_count = s->count,
		};
		memcpy(h.queue_ppb, ws->queue_ppb, sizeof(h.queue_ppb));
		memcpy(h.receipt_root, s->root, sizeof(h.receipt_root));
		queue_part(ws, &h, ws->sorted + from);
	}
	ws->closed[ws->closed_count % FAII_WORK_SLICES_KEPT] = *s;
	ws->closed_count++;
	ws->counters.slices++;
	/* The next slice is the one now falls in: a stalled or stepped clock
	 * skips the slices in between rather than summarising each empty. */
	uint64_t next = now_ms / ws->opt.slice_ms;
	if (next <= s->slice)
		next = s->slice + 1;
	uint64_t start = next * ws->opt.slice_ms;
	open_slice(ws, next, start > s->end_ms ? start : s->end_ms, nodes);
	return parts;
}

void faii_work_flush(struct faii_work_summary *ws, faii_work_sink_fn sink, void *ctx)
{
	for (uint32_t sent = 0; ws->pending_count > 0 && sent < ws->pending_max; sent++) {
		uint32_t at = ws->pending_head;
		int rc = sink(ctx, ws->pending[at], ws->pending_len[at]);
		if (rc == -ENOBUFS) {
			ws->counters.summaries_busy++;
			break; /* in order: the rest waits too */
		}
		if (rc == 0)
			ws->counters.summaries_sent++;
		else
			ws->counters.summaries_failed++;
		ws->pending_head = (ws->pending_head + 1) % ws->pending_max;
		ws->pending_count--;
	}
	ws->counters.summaries_pending = ws->pending_count;
}

/* The slice (closed, all its leaves still kept) holding ring index at. */
static bool slice_kept(const struct faii_work_summary *ws, const struct faii_work_slice *s)
{
	return s->first + ws->opt.receipts_kept >= ws->next;
}

/* The newest kept receipt of task_id in s: its index in the slice. */
static bool find_in_slice(const struct faii_work_summary *ws, const struct faii_work_slice *s,
                          uint64_t task_id, uint32_t *index, uint64_t *matches)
{
	bool found = false;
	for (uint32_t i = s->count; i-- > 0;) {
		const uint8_t *leaf = ws->leaves[(s->first + i) % ws->opt.receipts_kept];
		if (faii_get_le64(leaf) != task_id)
			continue;
		if (!found)
			*index = i;
		found = true;
		(*matches)++;
	}
	return found;
}

int faii_work_prove(struct faii_work_summary *ws, uint64_t task_id, struct faii_work_proof *out,
                    bool *in_open)
{
	memset(out, 0, sizeof(*out));
	uint32_t ignored;
	uint64_t open_matches = 0;
	*in_open =
	        ws->open_started && find_in_slice(ws, &ws->open, task_id, &ignored, &open_matches);
	const struct faii_work_slice *hit = NULL;
	uint32_t index = 0;
	uint64_t kept =
	        ws->closed_count < FAII_WORK_SLICES_KEPT ? ws->closed_count : FAII_WORK_SLICES_KEPT;
	for (uint64_t k = 0; k < kept; k++) {
		const struct faii_work_slice *s =
		        &ws->closed[(ws->closed_count - 1 - k) % FAII_WORK_SLICES_KEPT];
		if (!slice_kept(ws, s))
			break; /* older ones are gone too */
		uint32_t i;
		if (find_in_slice(ws, s, task_id, &i, &out->matches) && hit == NULL) {
			hit = s;
			index = i;
		}
	}
	if (hit == NULL)
		return -ENOENT;
	for (uint32_t i = 0; i < hit->count; i++)
		faii_settle_receipt_hash(ws->leaves[(hit->first + i) % ws->opt.receipts_kept],
		                         ws->scratch[i]);
	int rc = faii_settle_merkle_proof((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])ws->scratch,
	                                  hit->count, index, ws->scratch, &out->proof);
	FAII_ASSERT(rc == 0);
	out->slice = *hit;
	memcpy(out->leaf, ws->leaves[(hit->first + index) % ws->opt.receipts_kept],
	       FAII_SETTLE_RECEIPT_BYTES);
	ws->counters.proofs++;
	return 0;
}
