/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane internals shared by faiid's files, the simulator and the tests:
 * limits with their units, the per-worker state and the shared context.
 * Each worker owns one cache-aligned struct faii_worker; workers share only
 * the live node counters (atomics), the published route set (RCU) and the
 * rings between them.
 *
 * Ownership: a task belongs to worker hash(task_id) % workers. A worker that
 * receives another worker's task or result hands it over on the owner's ring,
 * so a task's dispatch record is touched by one lcore only and needs no lock.
 */
#ifndef FAII_DATAPLANE_H
#define FAII_DATAPLANE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "faii/auth.h"
#include "faii/fleet.h"
#include "faii/residency.h"
#include "faii/wire.h"

#define FAII_RX_BURST_MAX    32u
#define FAII_RX_RING_SIZE    1024u
#define FAII_TX_RING_SIZE    1024u
#define FAII_MBUF_COUNT      32767u /* 2^n - 1: bounds tasks held for re-dispatch */
#define FAII_MBUF_CACHE_SIZE 256u
#define FAII_PORTS_MAX       8u
#define FAII_WORKERS_MAX     FAII_CFG_WORKERS_MAX

#define FAII_DISPATCH_ENTRIES   131072u /* per worker: in flight plus replay window */
#define FAII_REPLICA_SLOTS      16384u  /* per worker: replicated tasks in flight */
#define FAII_HANDOFF_RING_SIZE  4096u
#define FAII_SLOW_RING_SIZE     4096u
#define FAII_EVIDENCE_RING_SIZE 1024u
/* Routing receipts, one per finished task, per worker: drained every control
 * tick (10 ms), so 16384 hold 1.6 M tasks/s a worker; full: counted drop. */
#define FAII_RECEIPT_RING_SIZE  16384u
#define FAII_WHEEL_SLOTS        65536u       /* 1 ms ticks: 65 s horizon, longer ones re-queue */
#define FAII_CLOCK_SKEW_NS      100000000ull /* a client clock may run 100 ms ahead */
#define FAII_LATENCY_EWMA_SHIFT 3u           /* new = old + (sample - old) / 8 */
/* Dispatch nonces: ChaCha20 keystream under a per-worker random key, made in
 * bulk (one refill gives FAII_NONCE_POOL_BYTES / 8 nonces) at the end of a
 * loop iteration once FAII_NONCE_REFILL_BYTES are used, or when empty. */
#define FAII_NONCE_POOL_BYTES   4096u
#define FAII_NONCE_REFILL_BYTES 3072u
#define FAII_NONCE_SIZE         8u

/* Latency histograms: log2 buckets of microseconds with 8 linear steps each. */
#define FAII_HIST_SUB_BITS 3u
#define FAII_HIST_BUCKETS  (28u << FAII_HIST_SUB_BITS) /* up to 2^28 us */

/* Pipeline events, counted per worker: X(symbol, counter name, meaning). */
#define FAII_PIPE_COUNTERS(X)                                                                      \
	X(HANDOFF_OUT, "handoff_out", "packets handed to their owning worker")                     \
	X(HANDOFF_FULL, "handoff_full", "dropped: the owner's hand-off ring was full")             \
	X(TASK_DISPATCHED_FLAG, "task_from_client_dispatched",                                     \
	  "refused: client TASK already dispatched")                                               \
	X(TASK_EXPIRED, "task_expired", "answered refused: older than its budget, or ahead")       \
	X(TASK_REPLAY, "task_replay", "refused: task id seen within its window")                   \
	X(TASK_UNKNOWN_KEY, "task_unknown_key", "answered no feasible node: region/class unknown") \
	X(NO_FEASIBLE, "no_feasible_node", "answered: nothing feasible for the task")              \
	X(TABLE_FULL, "dispatch_table_full", "answered refused: no dispatch record free")          \
	X(REPLICA_POOL_EMPTY, "replica_pool_empty", "answered refused: no replica slot free")      \
	X(RESIDENCY_REFUSED, "residency_refused", "candidate refused by the residency hook")       \
	X(TASKS_DISPATCHED, "tasks_dispatched", "tasks accepted and sent")                         \
	X(COPIES_SENT, "task_copies_sent", "TASK packets sent to nodes, replicas included")        \
	X(REDISPATCHED, "redispatched", "copies re-sent to another node after a timeout")          \
	X(TIMEOUTS, "timeouts", "copies not answered within the budget")                           \
	X(TIMED_OUT_TASKS, "tasks_timed_out", "answered timeout after the retry")                  \
	X(RESULTS_MATCHED, "results_matched", "results matched to a dispatch")                     \
	X(RESULT_UNKNOWN, "result_unknown_task", "dropped: no dispatch for the task id")           \
	X(RESULT_WRONG_NODE, "result_wrong_node", "dropped: not the node the copy went to")        \
	X(RESULT_DUPLICATE, "result_duplicate", "dropped: that copy already answered")             \
	X(RESULT_BAD_ECHO, "result_bad_echo", "dropped: dispatch time not echoed")                 \
	X(RESULT_LATE, "result_late", "dropped: the task was already finished")                    \
	X(NODE_ERRORS, "node_errors", "error results from nodes")                                  \
	X(RESULTS_FORWARDED, "results_forwarded", "results returned to clients")                   \
	X(DISAGREEMENTS, "disagreements", "results outvoted by their replica set (evidence)")      \
	X(NO_QUORUM, "no_quorum", "answered error: replicas did not agree")                        \
	X(ANSWERS, "answers_sent", "results the appliance wrote itself")                           \
	X(EVIDENCE_LOST, "evidence_lost", "disagreement evidence dropped: ring full")              \
	X(RECEIPTS, "receipts", "routing receipts written: one per finished task")                 \
	X(RECEIPTS_DROPPED, "receipts_dropped", "routing receipts dropped: receipt ring full")     \
	X(SLOW_PUNTED, "slow_punted", "HEARTBEAT/ATTEST/REGISTER sent to the control thread")      \
	X(SLOW_RING_FULL, "slow_ring_full", "dropped: control-thread ring full")                   \
	X(TX_DROPPED, "tx_dropped", "packets the device did not take")                             \
	X(MBUF_EXHAUSTED, "mbuf_exhausted", "no mbuf for a replica copy or an answer")             \
	X(TASK_UNAUTHENTICATED, "task_unauthenticated",                                            \
	  "dropped: version 1 TASK (no MAC) where keys are configured")                            \
	X(TASK_UNKNOWN_CLIENT, "task_unknown_client", "dropped: no key for the TASK's client id")  \
	X(TASK_BAD_KEY_EPOCH, "task_bad_key_epoch",                                                \
	  "dropped: the client has no key of that epoch")                                          \
	X(TASK_BAD_MAC, "task_bad_mac", "dropped: the TASK's MAC does not verify")                 \
	X(RESULT_UNAUTHENTICATED, "result_unauthenticated",                                        \
	  "dropped: version 1 RESULT (no MAC) where keys are configured")                          \
	X(RESULT_WRONG_SOURCE, "result_wrong_source",                                              \
	  "dropped: not from the node's registered address and port")                              \
	X(RESULT_BAD_KEY_EPOCH, "result_bad_key_epoch",                                            \
	  "dropped: the node has no key of that epoch")                                            \
	X(RESULT_BAD_MAC, "result_bad_mac", "dropped: the RESULT's MAC does not verify")           \
	X(RESULT_BAD_TOKEN, "result_bad_token",                                                    \
	  "dropped: dispatch token not the one sent with that copy")                               \
	X(AUTH_OFF, "auth_not_configured",                                                         \
	  "dropped: version 2 TASK or RESULT while no keys are configured")                        \
	X(TASK_BAD_IP_CHECKSUM, "task_bad_ip_checksum",                                            \
	  "dropped: the TASK's IPv4 header checksum is wrong")                                     \
	X(TASK_BAD_UDP_CHECKSUM, "task_bad_udp_checksum",                                          \
	  "dropped: the TASK's UDP checksum is wrong")                                             \
	X(TASK_UDP_CHECKSUM_ZERO, "task_udp_checksum_zero",                                        \
	  "dropped: IPv6 TASK with UDP checksum 0 (none; RFC 8200 forbids it)")                    \
	X(RESULT_BAD_IP_CHECKSUM, "result_bad_ip_checksum",                                        \
	  "dropped: the RESULT's IPv4 header checksum is wrong")                                   \
	X(RESULT_BAD_UDP_CHECKSUM, "result_bad_udp_checksum",                                      \
	  "dropped: the RESULT's UDP checksum is wrong")                                           \
	X(RESULT_UDP_CHECKSUM_ZERO, "result_udp_checksum_zero",                                    \
	  "dropped: IPv6 RESULT with UDP checksum 0 (none; RFC 8200 forbids it)")                  \
	X(IP_OPTIONS_REMOVED, "ip_options_removed",                                                \
	  "IPv4 options removed from a TASK or a forwarded RESULT (ours have 20-byte headers)")

enum faii_pipe_counter {
#define FAII_PIPE_ENUM(sym, name, meaning) FAII_PIPE_##sym,
	FAII_PIPE_COUNTERS(FAII_PIPE_ENUM)
#undef FAII_PIPE_ENUM
	        FAII_PIPE_COUNT
};
const char *faii_pipe_counter_name(enum faii_pipe_counter c);
const char *faii_pipe_counter_meaning(enum faii_pipe_counter c);

/* Counters of one worker; written by it alone, read by the control thread. */
struct faii_worker_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t valid[FAII_MSG_TYPE_MAX + 1]; /* by message type */
	uint64_t drops[FAII_DROP_COUNT];       /* by reason; [FAII_OK] unused */
	uint64_t pipe[FAII_PIPE_COUNT];
	uint64_t residency[FAII_RES_REASON_COUNT];
	/* Per tier (index tier - 1) and category (index category - 1). */
	uint64_t tier_dispatched[FAII_TIER_COUNT];
	uint64_t tier_finished[FAII_TIER_COUNT]; /* answered, timed out or refused after dispatch */
	uint64_t tier_slo_met[FAII_TIER_COUNT];  /* forwarded within the budget */
	/* Node slots (copies) taken and given back per tier: their difference
	 * is the tier's outstanding work in slots, q_t's numerator. */
	uint64_t tier_copies_taken[FAII_TIER_COUNT];
	uint64_t tier_copies_returned[FAII_TIER_COUNT];
	uint64_t category_tasks[FAII_CATEGORY_COUNT];
	uint64_t class_copies[FAII_CLASS_COUNT];                   /* TASK copies per node class */
	uint64_t latency_hist[FAII_TIER_COUNT][FAII_HIST_BUCKETS]; /* client-visible RTT */
	/* Exact sum of the histogram's samples: Prometheus histograms carry a
	 * _sum, which the log buckets cannot give back. */
	uint64_t latency_sum_us[FAII_TIER_COUNT];
} __rte_cache_aligned;

/* A disagreeing result, sent to the control thread as slashing evidence:
 * the copy outvoted, and the whole replica set as it stood then. */
struct faii_evidence {
	uint64_t task_id;
	uint32_t node; /* registry slot */
	uint32_t node_id;
	uint8_t replica_index;
	uint8_t replicas;
	uint8_t status;   /* the node's result status */
	uint8_t answered; /* bit j: set_hash[j] is copy j's answer */
	uint8_t tier;
	uint8_t category;
	uint8_t reserved[2];
	uint32_t set_node_id[FAII_REPLICAS_MAX]; /* the node of every copy */
	uint8_t result_hash[FAII_HASH_SIZE];
	uint8_t majority_hash[FAII_HASH_SIZE];
	uint8_t set_hash[FAII_REPLICAS_MAX][FAII_HASH_SIZE]; /* the copies' result digests */
};

/*
 * A finished task's routing receipt (docs/settlement.md, "Work summaries and
 * receipts"), on its worker's receipt ring to the control thread, which
 * makes it a Merkle leaf (faii/settle_receipt.h). Copy j: node[j], the
 * masks' bit j. 160 bytes.
 */
enum faii_receipt_verdict {
	FAII_RECEIPT_AGREED = 1,    /* a replica set, every ok copy with the majority */
	FAII_RECEIPT_DISAGREED = 2, /* a replica set: a copy outvoted, or no quorum */
	FAII_RECEIPT_EXPIRED = 3,   /* answered timeout */
	FAII_RECEIPT_SINGLE = 4,    /* one copy */
};

struct faii_receipt {
	uint64_t task_id;
	uint64_t client_id;
	uint64_t finished_ns; /* the worker's wall clock (TSC-derived) */
	uint32_t latency_us;  /* arrival to the client's answer */
	uint8_t tier, verdict, replicas, status;
	uint8_t answered, ok, agreed, in_slo;
	uint32_t node[FAII_REPLICAS_MAX];    /* registry slots */
	uint32_t node_id[FAII_REPLICAS_MAX]; /* their ids when the task finished */
	uint32_t copy_latency_us[FAII_REPLICAS_MAX];
	uint8_t result_hash[FAII_HASH_SIZE]; /* the majority's, or zero */
	uint64_t reserved;                   /* to 160 bytes: the ring copies 16 bytes at a time */
};
_Static_assert(sizeof(struct faii_receipt) % 16 == 0, "rte_ring's 128-bit element copy");

/* The residency hook: the contract of ebpf/residency.bpf.c, frame in,
 * enum faii_residency_reason out. Runs before TX of every TASK copy. */
typedef uint32_t (*faii_residency_judge_fn)(void *ctx, const void *frame, uint32_t len);

/* Shared, read-mostly context of all workers. */
struct faii_dp {
	struct faii_node_live *live;
	_Atomic uint32_t *latency_us; /* [slot * FAII_CFG_REGIONS_MAX + region slot] */
	uint32_t node_capacity;
	_Atomic(struct faii_route_set *) *route_set;
	/* NULL: authentication off, protocol version 1 TASK/RESULT. Otherwise
	 * the published keys (include/faii/auth.h), and only version 2. */
	_Atomic(struct faii_auth_set *) *auth_set;
	struct rte_rcu_qsbr *qsbr;
	struct rte_ring *slow_ring;     /* mbufs for the control thread */
	struct rte_ring *evidence_ring; /* struct faii_evidence */
	/* struct faii_receipt, one ring per worker (single producer, single
	 * consumer); NULL: receipts are not written (counted as dropped). */
	struct rte_ring *receipt_ring[FAII_WORKERS_MAX];
	struct rte_ring *handoff[FAII_WORKERS_MAX];
	struct rte_mempool *pool;
	faii_residency_judge_fn residency_judge;
	void *residency_ctx;
	struct faii_res_rte *residency_rte; /* the judge behind residency_judge */
	unsigned worker_count;
	uint16_t udp_port;
	struct rte_ether_addr port_mac[RTE_MAX_ETHPORTS];
	/* Wall clock from the TSC without a syscall: ns = base + tsc * mult >> 32. */
	uint64_t tsc_hz;
	uint64_t tsc_base;
	uint64_t realtime_base_ns;
	uint64_t ns_per_tsc_q32;
	uint64_t tsc_per_tick; /* wheel tick, 1 ms */
};

struct faii_dispatch;
struct faii_res_rte;

struct faii_worker {
	struct faii_worker_stats stats;
	struct faii_dp *dp;
	unsigned index;
	unsigned lcore_id;
	uint16_t queue_id; /* this worker's RX/TX queue on every port */
	uint16_t port_count;
	uint16_t ports[FAII_PORTS_MAX];
	uint64_t rng[2]; /* xorshift128+: routing draws only, never a secret */
	/* Loaded once per loop iteration, like the route set. */
	const struct faii_auth_set *auth;
	/* Unguessable dispatch nonces (ChaCha20 keystream, see above). */
	uint32_t nonce_used; /* bytes of nonce_pool handed out */
	uint64_t nonce_refills;
	uint8_t nonce_key[32];
	uint8_t nonce_pool[FAII_NONCE_POOL_BYTES];
	/* Dispatch records: position in the hash = index in records. */
	struct rte_hash *dispatch;
	struct faii_dispatch *records;
	uint8_t (*replica_hash)[FAII_REPLICAS_MAX][FAII_HASH_SIZE];
	uint32_t (*replica_rtt_us)[FAII_REPLICAS_MAX]; /* per slot: each copy's round trip */
	uint32_t *replica_free;
	uint32_t replica_free_count;
	/* Timer wheel of dispatch records: heads of singly linked lists. */
	uint32_t *wheel;
	uint64_t wheel_tick; /* every tick up to here is processed */
	uint64_t records_in_use;
	/* Node slots asked per route key (replicas per arriving task), for the
	 * control plane's demand estimate. */
	uint64_t *key_arrivals;
	/* Transmit buffers per port index. */
	uint16_t tx_count[FAII_PORTS_MAX];
	struct rte_mbuf *tx[FAII_PORTS_MAX][FAII_RX_BURST_MAX];
	_Atomic uint64_t loops; /* progress, for the control thread's watchdog */
} __rte_cache_aligned;

/* Set by the signal handler; workers poll it between bursts. */
extern _Atomic bool faii_force_quit;

/* Allocates a worker's tables (dispatch hash, records, wheel). */
int faii_worker_init(struct faii_worker *w, struct faii_dp *dp, unsigned index, char *err,
                     size_t errlen);
void faii_worker_fini(struct faii_worker *w);

/* The worker loop: rte_eal_remote_launch() entry point, arg is a faii_worker. */
int faii_worker_main(void *arg);

/* One iteration of the loop (tests and benchmarks drive it directly). */
void faii_worker_poll(struct faii_worker *w);

/* Sums every worker's counters into out. */
void faii_stats_sum(const struct faii_worker *workers, unsigned count,
                    struct faii_worker_stats *out);

/* Histogram helpers. */
unsigned faii_hist_bucket(uint64_t us);
uint64_t faii_hist_bucket_upper_us(unsigned bucket);
/* The q-quantile (0..1) of a histogram in microseconds, 0 when empty. */
uint64_t faii_hist_quantile_us(const uint64_t *hist, double q);

#endif /* FAII_DATAPLANE_H */
