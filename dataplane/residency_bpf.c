/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency BPF object under rte_bpf (see residency_bpf.h).
 *
 * rte_bpf runs the kernel's bytecode unchanged, so the kernel's helpers and
 * maps are emulated here:
 *  - a `call imm` indexes the xsym table, so the table has the helper's C
 *    emulation at the kernel helper ids the object calls (1, 5, 131, 132) and
 *    harmless variables elsewhere: a call to any other id fails rte_bpf's
 *    verifier ("invalid external function index") instead of running;
 *  - rte_bpf_elf_load() resolves each ld_imm64 relocation by symbol name to
 *    an RTE_BPF_XTYPE_VAR xsym and writes the variable's address into the
 *    instruction pair (src_reg stays 0: clang leaves it 0 and only libbpf
 *    turns it into BPF_PSEUDO_MAP_FD), so a map reference becomes the address
 *    of one of the map descriptors below, and faii_udp_port that of the port;
 *  - the policy maps (nodes, classes, node ports) are read from the snapshot.
 * A helper learns which policy snapshot, counter row and event ring to use
 * from the per-thread call context that the judge fills before it runs the
 * program, so one packet sees one snapshot however many lookups it makes.
 */
#include "residency_bpf.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bpf.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_per_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "faii/assert.h"
#include "faii/protocol.h"
#include "residency_snapshot.h"

#ifndef FAII_RES_BPF_OBJECT_DEFAULT
#error "FAII_RES_BPF_OBJECT_DEFAULT must name the built residency.bpf.o"
#endif

#define SECTION_DPDK "?faii_dpdk"

/* The kernel helper ids the object calls (include/uapi/linux/bpf.h). */
enum {
	HELPER_MAP_LOOKUP_ELEM = 1,
	HELPER_KTIME_GET_NS = 5,
	HELPER_RINGBUF_RESERVE = 131,
	HELPER_RINGBUF_SUBMIT = 132,
	HELPER_IDS = 133,
};

/* The object's entry reads an rte_mbuf at offsets it cannot include. */
_Static_assert(offsetof(struct rte_mbuf, buf_addr) == FAII_RES_MBUF_BUF_ADDR_OFF, "buf_addr");
_Static_assert(offsetof(struct rte_mbuf, data_off) == FAII_RES_MBUF_DATA_OFF_OFF, "data_off");
_Static_assert(offsetof(struct rte_mbuf, pkt_len) == FAII_RES_MBUF_PKT_LEN_OFF, "pkt_len");
_Static_assert(offsetof(struct rte_mbuf, data_len) == FAII_RES_MBUF_DATA_LEN_OFF, "data_len");
_Static_assert(sizeof(struct faii_res_event) % 4 == 0, "rte_ring elements are 4-byte multiples");
_Static_assert(RTE_IS_POWER_OF_2(FAII_RES_RTE_EVENTS_MAX), "ring size");

/* The maps the object names, by what they stand for here. */
enum map_kind { MAP_NODES, MAP_CLASSES, MAP_PORTS, MAP_COUNTERS, MAP_EVENTS, MAP_KINDS };

struct map_desc {
	enum map_kind kind;
};

static const struct map_desc map_descs[MAP_KINDS] = {
        [MAP_NODES] = {MAP_NODES},       [MAP_CLASSES] = {MAP_CLASSES}, [MAP_PORTS] = {MAP_PORTS},
        [MAP_COUNTERS] = {MAP_COUNTERS}, [MAP_EVENTS] = {MAP_EVENTS},
};

static const char *const map_names[MAP_KINDS] = {
        [MAP_NODES] = "faii_res_nodes",   [MAP_CLASSES] = "faii_res_classes",
        [MAP_PORTS] = "faii_res_ports",   [MAP_COUNTERS] = "faii_res_counters",
        [MAP_EVENTS] = "faii_res_events",
};

/* One lcore's counters, written by that lcore alone (per-CPU, like the kernel's). */
struct counter_row {
	uint64_t slot[FAII_RES_COUNTER_SLOTS];
} __rte_cache_aligned;

/* A snapshot replaced but maybe still read, freed after its grace period. */
struct retired {
	struct faii_res_snapshot *snap;
	uint64_t token;
};

struct faii_res_rte {
	/* Read by every judge. */
	_Atomic(const struct faii_res_snapshot *) policy;
	struct rte_rcu_qsbr *qsbr;
	struct rte_ring *events;
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);
	uint16_t udp_port; /* the object's faii_udp_port points here */
	uint64_t tsc_hz;
	uint64_t tsc0;
	uint64_t mono0_ns;

	/* Written by each lcore for itself. */
	bool online[RTE_MAX_LCORE];
	struct counter_row rows[RTE_MAX_LCORE];

	/* Control threads. */
	pthread_mutex_t update_lock;
	struct retired retired[FAII_RES_RTE_RETIRED_MAX];
	unsigned retired_count;
};

/* What the helpers of the packet being judged on this thread work with. */
struct call_ctx {
	struct faii_res_rte *res;
	const struct faii_res_snapshot *snap;
	struct counter_row *row;
	struct faii_res_event scratch; /* bpf_ringbuf_reserve()'s record */
};

static RTE_DEFINE_PER_LCORE(struct call_ctx, res_call);

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

/* ------------------------------------------------------------------------ */
/* Time: bpf_ktime_get_ns() is CLOCK_MONOTONIC; the TSC gets there without  */
/* a clock_gettime() on the packet path.                                    */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t res_now_ns(const struct faii_res_rte *res)
{
	uint64_t cycles = rte_get_tsc_cycles() - res->tsc0;
	return res->mono0_ns + (uint64_t)((unsigned __int128)cycles * 1000000000u / res->tsc_hz);
}

/* ------------------------------------------------------------------------ */
/* Helpers, with rte_bpf's signature: five 64-bit arguments, one result.    */

static uint64_t helper_map_lookup_elem(uint64_t map, uint64_t key_ptr, uint64_t a3, uint64_t a4,
                                       uint64_t a5)
{
	RTE_SET_USED(a3), RTE_SET_USED(a4), RTE_SET_USED(a5);
	const struct map_desc *m = (const void *)(uintptr_t)map;
	uint32_t key;
	memcpy(&key, (const void *)(uintptr_t)key_ptr, sizeof(key));
	struct call_ctx *c = &RTE_PER_LCORE(res_call);
	switch (m->kind) {
	case MAP_NODES: return (uintptr_t)faii_res_snapshot_node(c->snap, key);
	case MAP_CLASSES: return (uintptr_t)faii_res_snapshot_class(c->snap, key);
	case MAP_PORTS: return (uintptr_t)faii_res_snapshot_port_word(c->snap, key);
	case MAP_COUNTERS: return key < FAII_RES_COUNTER_SLOTS ? (uintptr_t)&c->row->slot[key] : 0;
	case MAP_EVENTS:
	case MAP_KINDS: break;
	}
	return 0;
}

static uint64_t helper_ktime_get_ns(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	RTE_SET_USED(a1), RTE_SET_USED(a2), RTE_SET_USED(a3), RTE_SET_USED(a4), RTE_SET_USED(a5);
	return res_now_ns(RTE_PER_LCORE(res_call).res);
}

/*
 * The record is this thread's scratch event, copied into the ring on submit:
 * rte_ring's zero-copy enqueue would hold the producer head across the
 * program's stores. A full ring refuses the reservation, which the program
 * counts as a lost event, as with the kernel's ring buffer.
 */
static uint64_t helper_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags, uint64_t a4,
                                       uint64_t a5)
{
	RTE_SET_USED(a4), RTE_SET_USED(a5);
	const struct map_desc *m = (const void *)(uintptr_t)map;
	struct call_ctx *c = &RTE_PER_LCORE(res_call);
	if (m->kind != MAP_EVENTS || size != sizeof(struct faii_res_event) || flags != 0 ||
	    rte_ring_free_count(c->res->events) == 0)
		return 0;
	return (uintptr_t)&c->scratch;
}

/* Another lcore may have taken the last place since the reservation. */
static uint64_t helper_ringbuf_submit(uint64_t rec, uint64_t flags, uint64_t a3, uint64_t a4,
                                      uint64_t a5)
{
	RTE_SET_USED(flags), RTE_SET_USED(a3), RTE_SET_USED(a4), RTE_SET_USED(a5);
	struct call_ctx *c = &RTE_PER_LCORE(res_call);
	if (rte_ring_mp_enqueue_elem(c->res->events, (void *)(uintptr_t)rec,
	                             sizeof(struct faii_res_event)) != 0)
		c->row->slot[FAII_RES_COUNTER_EVENTS_LOST]++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The xsym table.                                                          */

#define ARG_PTR(sz)                                                                                \
	{                                                                                          \
		.type = RTE_BPF_ARG_PTR, .size = (sz)                                              \
	}
#define ARG_RAW                                                                                    \
	{                                                                                          \
		.type = RTE_BPF_ARG_RAW, .size = sizeof(uint64_t)                                  \
	}

/* The largest map value a lookup returns: what the verifier lets the program touch. */
#define LOOKUP_VALUE_MAX                                                                           \
	RTE_MAX(sizeof(struct faii_res_class),                                                     \
	        RTE_MAX(sizeof(struct faii_res_node), sizeof(uint64_t)))

static uint8_t no_helper_here;

#define XSYM_COUNT (HELPER_IDS + MAP_KINDS + 1)

static void fill_xsyms(struct rte_bpf_xsym *x, struct faii_res_rte *res)
{
	for (unsigned i = 0; i < HELPER_IDS; i++)
		x[i] = (struct rte_bpf_xsym){
		        .name = "faii_res_no_such_helper",
		        .type = RTE_BPF_XTYPE_VAR,
		        .var = {.val = &no_helper_here,
		                .desc = {.type = RTE_BPF_ARG_RAW, .size = 1}},
		};
	x[HELPER_MAP_LOOKUP_ELEM] = (struct rte_bpf_xsym){
	        .name = "bpf_map_lookup_elem",
	        .type = RTE_BPF_XTYPE_FUNC,
	        .func = {.val = helper_map_lookup_elem,
	                 .nb_args = 2,
	                 .args = {ARG_PTR(sizeof(struct map_desc)), ARG_PTR(sizeof(uint32_t))},
	                 .ret = ARG_PTR(LOOKUP_VALUE_MAX)},
	};
	x[HELPER_KTIME_GET_NS] = (struct rte_bpf_xsym){
	        .name = "bpf_ktime_get_ns",
	        .type = RTE_BPF_XTYPE_FUNC,
	        .func = {.val = helper_ktime_get_ns, .nb_args = 0, .ret = ARG_RAW},
	};
	x[HELPER_RINGBUF_RESERVE] = (struct rte_bpf_xsym){
	        .name = "bpf_ringbuf_reserve",
	        .type = RTE_BPF_XTYPE_FUNC,
	        .func = {.val = helper_ringbuf_reserve,
	                 .nb_args = 3,
	                 .args = {ARG_PTR(sizeof(struct map_desc)), ARG_RAW, ARG_RAW},
	                 .ret = ARG_PTR(sizeof(struct faii_res_event))},
	};
	x[HELPER_RINGBUF_SUBMIT] = (struct rte_bpf_xsym){
	        .name = "bpf_ringbuf_submit",
	        .type = RTE_BPF_XTYPE_FUNC,
	        .func = {.val = helper_ringbuf_submit,
	                 .nb_args = 2,
	                 .args = {ARG_PTR(sizeof(struct faii_res_event)), ARG_RAW},
	                 .ret = ARG_RAW},
	};
	for (unsigned k = 0; k < MAP_KINDS; k++)
		x[HELPER_IDS + k] = (struct rte_bpf_xsym){
		        .name = map_names[k],
		        .type = RTE_BPF_XTYPE_VAR,
		        .var = {.val = (void *)(uintptr_t)&map_descs[k],
		                .desc = ARG_PTR(sizeof(struct map_desc))},
		};
	x[HELPER_IDS + MAP_KINDS] = (struct rte_bpf_xsym){
	        .name = "faii_udp_port",
	        .type = RTE_BPF_XTYPE_VAR,
	        .var = {.val = &res->udp_port, .desc = ARG_PTR(sizeof(res->udp_port))},
	};
}

static int load_program(struct faii_res_rte *res, const char *path, char *err, size_t errlen)
{
	struct rte_bpf_xsym *xsyms = calloc(XSYM_COUNT, sizeof(*xsyms));
	if (xsyms == NULL) {
		set_err(err, errlen, "%s%s: out of memory", path, "");
		return -ENOMEM;
	}
	fill_xsyms(xsyms, res);
	struct rte_bpf_prm prm = {
	        .xsym = xsyms,
	        .nb_xsym = XSYM_COUNT,
	        /* The verifier knows a packet pointer only as an mbuf's buf_addr. */
	        .prog_arg = {.type = RTE_BPF_ARG_PTR_MBUF,
	                     .size = sizeof(struct rte_mbuf),
	                     .buf_size = UINT16_MAX},
	};
	/* rte_bpf_load() keeps a copy of the table. */
	res->bpf = rte_bpf_elf_load(&prm, path, SECTION_DPDK);
	free(xsyms);
	if (res->bpf == NULL) {
		int e = rte_errno;
		set_err(err, errlen, "%s: rte_bpf_elf_load: %s", path, strerror(e));
		return -e;
	}
	struct rte_bpf_jit jit;
	if (rte_bpf_get_jit(res->bpf, &jit) == 0 && jit.func != NULL)
		res->jit = jit.func;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Snapshots.                                                               */

static uint32_t slots_for(uint32_t nodes)
{
	uint32_t slots = FAII_RES_SLOTS_MIN;
	while (slots < 2 * nodes)
		slots *= 2;
	return slots;
}

static struct faii_res_snapshot *snapshot_new(uint32_t node_capacity)
{
	uint32_t slots = slots_for(node_capacity);
	struct faii_res_snapshot *s = rte_zmalloc(
	        "faii_res_policy", sizeof(*s) + slots * sizeof(s->slots[0]), RTE_CACHE_LINE_SIZE);
	if (s != NULL)
		s->slot_mask = slots - 1;
	return s;
}

/* Inserts or replaces; the table has room (it is sized for the count). */
static void snapshot_put(struct faii_res_snapshot *s, uint32_t node_id, uint32_t jurisdiction)
{
	uint32_t i = faii_res_node_hash(node_id) & s->slot_mask;
	while (s->slots[i].node_id != 0 && s->slots[i].node_id != node_id)
		i = (i + 1) & s->slot_mask;
	if (s->slots[i].node_id == 0)
		s->node_count++;
	FAII_ASSERT(s->node_count * 2 <= s->slot_mask + 1);
	s->slots[i] = (struct faii_res_node_slot){node_id, {jurisdiction}};
}

/* A copy of s with room for extra more nodes, without node skip (0: none). */
static struct faii_res_snapshot *snapshot_copy(const struct faii_res_snapshot *s, uint32_t extra,
                                               uint32_t skip)
{
	struct faii_res_snapshot *n = snapshot_new(s->node_count + extra);
	if (n == NULL)
		return NULL;
	memcpy(n->classes, s->classes, sizeof(n->classes));
	memcpy(n->ports, s->ports, sizeof(n->ports));
	for (uint32_t i = 0; i <= s->slot_mask; i++)
		if (s->slots[i].node_id != 0 && s->slots[i].node_id != skip)
			snapshot_put(n, s->slots[i].node_id, s->slots[i].value.jurisdiction);
	return n;
}

/* Frees the retired snapshots whose readers have all moved on. */
static void reclaim(struct faii_res_rte *res, bool wait)
{
	uint64_t deadline = rte_get_tsc_cycles() + res->tsc_hz / 1000 * FAII_RES_RTE_GRACE_MS;
	unsigned kept = 0;
	for (unsigned i = 0; i < res->retired_count; i++) {
		struct retired r = res->retired[i];
		int done = rte_rcu_qsbr_check(res->qsbr, r.token, false);
		while (!done && wait && rte_get_tsc_cycles() < deadline) {
			rte_pause();
			done = rte_rcu_qsbr_check(res->qsbr, r.token, false);
		}
		if (done)
			rte_free(r.snap);
		else
			res->retired[kept++] = r;
	}
	res->retired_count = kept;
}

/* Publishes next (owned from here on) and retires the snapshot it replaces. */
static int publish(struct faii_res_rte *res, struct faii_res_snapshot *next)
{
	reclaim(res, res->retired_count == FAII_RES_RTE_RETIRED_MAX);
	if (res->retired_count == FAII_RES_RTE_RETIRED_MAX) {
		rte_free(next); /* a judging lcore never reports: refuse, change nothing */
		return -EBUSY;
	}
	const struct faii_res_snapshot *old =
	        atomic_exchange_explicit(&res->policy, next, memory_order_acq_rel);
	res->retired[res->retired_count++] = (struct retired){
	        (struct faii_res_snapshot *)(uintptr_t)old, rte_rcu_qsbr_start(res->qsbr)};
	reclaim(res, true);
	return 0;
}

static const struct faii_res_snapshot *current(struct faii_res_rte *res)
{
	/* Only updates, under update_lock, store it. */
	return atomic_load_explicit(&res->policy, memory_order_relaxed);
}

int faii_res_rte_set_policy(struct faii_res_rte *res, const struct faii_res_policy *p)
{
	if (p->node_count > FAII_RES_NODES_MAX)
		return -EINVAL;
	struct faii_res_snapshot *s = snapshot_new(p->node_count);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s->classes, p->classes, sizeof(s->classes));
	memcpy(s->ports, p->ports, sizeof(s->ports));
	for (uint32_t i = 0; i < p->node_count; i++) {
		uint32_t id = p->nodes[i].node_id;
		if (id == 0 || faii_res_snapshot_node(s, id) != NULL) {
			rte_free(s);
			return -EINVAL;
		}
		snapshot_put(s, id, p->nodes[i].jurisdiction);
	}
	pthread_mutex_lock(&res->update_lock);
	int rc = publish(res, s);
	pthread_mutex_unlock(&res->update_lock);
	return rc;
}

int faii_res_rte_set_node(struct faii_res_rte *res, uint32_t node_id, uint32_t jurisdiction)
{
	if (node_id == 0)
		return -EINVAL;
	pthread_mutex_lock(&res->update_lock);
	const struct faii_res_snapshot *cur = current(res);
	bool known = faii_res_snapshot_node(cur, node_id) != NULL;
	int rc = -ENOSPC;
	if (known || cur->node_count < FAII_RES_NODES_MAX) {
		struct faii_res_snapshot *s = snapshot_copy(cur, known ? 0 : 1, 0);
		rc = -ENOMEM;
		if (s != NULL) {
			snapshot_put(s, node_id, jurisdiction);
			rc = publish(res, s);
		}
	}
	pthread_mutex_unlock(&res->update_lock);
	return rc;
}

int faii_res_rte_remove_node(struct faii_res_rte *res, uint32_t node_id)
{
	pthread_mutex_lock(&res->update_lock);
	const struct faii_res_snapshot *cur = current(res);
	int rc = -ENOENT;
	if (faii_res_snapshot_node(cur, node_id) != NULL) {
		struct faii_res_snapshot *s = snapshot_copy(cur, 0, node_id);
		rc = s == NULL ? -ENOMEM : publish(res, s);
	}
	pthread_mutex_unlock(&res->update_lock);
	return rc;
}

static int put_class(struct faii_res_rte *res, uint32_t class_id, struct faii_res_class value)
{
	if (class_id == 0 || class_id > FAII_RESIDENCY_CLASS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&res->update_lock);
	struct faii_res_snapshot *s = snapshot_copy(current(res), 0, 0);
	int rc = -ENOMEM;
	if (s != NULL) {
		s->classes[class_id] = value;
		rc = publish(res, s);
	}
	pthread_mutex_unlock(&res->update_lock);
	return rc;
}

int faii_res_rte_set_class(struct faii_res_rte *res, uint32_t class_id, uint64_t allowed)
{
	return put_class(res, class_id, (struct faii_res_class){.allowed = allowed, .defined = 1});
}

int faii_res_rte_remove_class(struct faii_res_rte *res, uint32_t class_id)
{
	return put_class(res, class_id, (struct faii_res_class){0});
}

/* ------------------------------------------------------------------------ */
/* Open and close.                                                          */

int faii_res_rte_open(const char *obj_path, struct faii_res_rte **out, char *err, size_t errlen)
{
	static atomic_uint instances;
	char name[RTE_RING_NAMESIZE];
	*out = NULL;
	struct faii_res_rte *res = rte_zmalloc("faii_res_rte", sizeof(*res), RTE_CACHE_LINE_SIZE);
	if (res == NULL) {
		set_err(err, errlen, "%s%s: out of memory", "faii_res_rte", "");
		return -ENOMEM;
	}
	pthread_mutex_init(&res->update_lock, NULL);
	res->udp_port = FAII_UDP_PORT_DEFAULT;
	res->tsc_hz = rte_get_tsc_hz();
	res->tsc0 = rte_get_tsc_cycles();
	res->mono0_ns = monotonic_ns();
	int rc = -ENOMEM;
	size_t qsz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	res->qsbr = rte_zmalloc("faii_res_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	struct faii_res_snapshot *empty = snapshot_new(0);
	atomic_store_explicit(&res->policy, empty, memory_order_release);
	if (res->qsbr == NULL || empty == NULL ||
	    rte_rcu_qsbr_init(res->qsbr, RTE_MAX_LCORE) != 0) {
		set_err(err, errlen, "%s%s: out of memory", "faii_res_rte", "");
		goto fail;
	}
	snprintf(name, sizeof(name), "faii_res_ev%u", atomic_fetch_add(&instances, 1));
	res->events =
	        rte_ring_create_elem(name, sizeof(struct faii_res_event), FAII_RES_RTE_EVENTS_MAX,
	                             SOCKET_ID_ANY, RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (res->events == NULL) {
		rc = -rte_errno;
		set_err(err, errlen, "%s: rte_ring_create_elem: %s", name, strerror(rte_errno));
		goto fail;
	}
	if (obj_path == NULL)
		obj_path = FAII_RES_BPF_OBJECT_DEFAULT;
	if (obj_path[0] != '\0') {
		rc = load_program(res, obj_path, err, errlen);
		if (rc < 0)
			goto fail;
	}
	*out = res;
	return 0;
fail:
	faii_res_rte_close(res);
	return rc;
}

void faii_res_rte_close(struct faii_res_rte *res)
{
	if (res == NULL)
		return;
	if (res->bpf != NULL)
		rte_bpf_destroy(res->bpf);
	rte_ring_free(res->events);
	/* No judge may run any more: every snapshot can go. */
	for (unsigned i = 0; i < res->retired_count; i++)
		rte_free(res->retired[i].snap);
	rte_free((void *)(uintptr_t)atomic_load(&res->policy));
	rte_free(res->qsbr);
	pthread_mutex_destroy(&res->update_lock);
	rte_free(res);
}

bool faii_res_rte_has_bpf(const struct faii_res_rte *res)
{
	return res->bpf != NULL;
}

bool faii_res_rte_is_jit(const struct faii_res_rte *res)
{
	return res->jit != NULL;
}

void faii_res_rte_set_udp_port(struct faii_res_rte *res, uint16_t port)
{
	__atomic_store_n(&res->udp_port, port, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------------ */
/* Judging.                                                                 */

/*
 * Makes this thread a reader of the current snapshot: false (fail closed)
 * when it has no lcore id and none is left to register it with.
 */
static inline bool enter(struct faii_res_rte *res, struct call_ctx *c)
{
	unsigned lcore = rte_lcore_id();
	if (unlikely(lcore == LCORE_ID_ANY)) {
		if (rte_thread_register() != 0)
			return false;
		lcore = rte_lcore_id();
	}
	if (unlikely(!res->online[lcore])) {
		rte_rcu_qsbr_thread_register(res->qsbr, lcore);
		rte_rcu_qsbr_thread_online(res->qsbr, lcore);
		res->online[lcore] = true;
	}
	c->res = res;
	c->row = &res->rows[lcore];
	c->snap = atomic_load_explicit(&res->policy, memory_order_acquire);
	return true;
}

static inline void leave(struct faii_res_rte *res)
{
	rte_rcu_qsbr_quiescent(res->qsbr, rte_lcore_id());
}

/* account() of the BPF source, for the C reference. */
static void account(struct call_ctx *c, const struct faii_res_verdict *v)
{
	c->row->slot[v->reason]++;
	if (v->reason < FAII_RES_FIRST_DROP)
		return;
	struct faii_res_event ev = {
	        .time_ns = res_now_ns(c->res),
	        .task_id = v->task_id,
	        .node_id = v->node_id,
	        .residency_class = v->residency_class,
	        .reason = (uint8_t)v->reason,
	        .jurisdiction = v->jurisdiction,
	};
	if (rte_ring_mp_enqueue_elem(c->res->events, &ev, sizeof(ev)) != 0)
		c->row->slot[FAII_RES_COUNTER_EVENTS_LOST]++;
}

static uint32_t ref_judge(struct faii_res_rte *res, const void *data, uint32_t len, int truncated)
{
	struct call_ctx *c = &RTE_PER_LCORE(res_call);
	if (!enter(res, c))
		return FAII_RES_DROP_MALFORMED;
	struct faii_res_verdict v = {.jurisdiction = FAII_RES_JURISDICTION_UNKNOWN};
	faii_res_ref_judge(c->snap, __atomic_load_n(&res->udp_port, __ATOMIC_RELAXED), data, len,
	                   truncated, &v);
	account(c, &v);
	leave(res);
	return v.reason;
}

uint32_t faii_res_c_judge(struct faii_res_rte *res, const void *frame, uint32_t len)
{
	return ref_judge(res, frame, len, 0);
}

uint32_t faii_res_rte_judge_mbuf(struct faii_res_rte *res, const struct rte_mbuf *m)
{
	if (res->bpf == NULL)
		return ref_judge(res, rte_pktmbuf_mtod(m, const void *), m->data_len,
		                 m->data_len < m->pkt_len);
	struct call_ctx *c = &RTE_PER_LCORE(res_call);
	if (!enter(res, c))
		return FAII_RES_DROP_MALFORMED;
	void *arg = (void *)(uintptr_t)m;
	uint64_t reason = res->jit != NULL ? res->jit(arg) : rte_bpf_exec(res->bpf, arg);
	leave(res);
	/* The program returns a reason; anything else would be a broken object. */
	return reason < FAII_RES_REASON_COUNT ? (uint32_t)reason : FAII_RES_DROP_MALFORMED;
}

uint32_t faii_res_rte_judge(struct faii_res_rte *res, const void *frame, uint32_t len)
{
	/* The program reads four fields; the rest of the mbuf stays unset. */
	struct rte_mbuf m;
	m.buf_addr = (void *)(uintptr_t)frame;
	m.data_off = 0;
	m.pkt_len = len;
	m.data_len = (uint16_t)RTE_MIN(len, (uint32_t)UINT16_MAX);
	return faii_res_rte_judge_mbuf(res, &m);
}

void faii_res_rte_quiescent(struct faii_res_rte *res)
{
	unsigned lcore = rte_lcore_id();
	if (lcore != LCORE_ID_ANY && res->online[lcore])
		rte_rcu_qsbr_quiescent(res->qsbr, lcore);
}

void faii_res_rte_reader_offline(struct faii_res_rte *res)
{
	unsigned lcore = rte_lcore_id();
	if (lcore != LCORE_ID_ANY && res->online[lcore]) {
		rte_rcu_qsbr_thread_offline(res->qsbr, lcore);
		res->online[lcore] = false;
	}
}

/* ------------------------------------------------------------------------ */
/* Readers.                                                                 */

void faii_res_rte_counters(const struct faii_res_rte *res, uint64_t out[FAII_RES_COUNTER_SLOTS])
{
	memset(out, 0, FAII_RES_COUNTER_SLOTS * sizeof(out[0]));
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		for (unsigned s = 0; s < FAII_RES_COUNTER_SLOTS; s++)
			out[s] += __atomic_load_n(&res->rows[l].slot[s], __ATOMIC_RELAXED);
}

unsigned faii_res_rte_events(struct faii_res_rte *res, struct faii_res_event *out, unsigned max)
{
	return rte_ring_sc_dequeue_burst_elem(res->events, out, sizeof(*out), max, NULL);
}
