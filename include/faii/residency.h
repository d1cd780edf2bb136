/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data-residency program's contract, shared by the BPF object
 * (ebpf/residency.bpf.c), its loaders and the dataplane: verdict reasons,
 * map value layouts and the violation event. Fixed-width types only, so the
 * BPF side can include it.
 *
 * A residency policy fails closed: a faii TASK passes only when its assigned
 * node is known, its residency class is defined, and the node's jurisdiction
 * is in the class's allowed set. Traffic that is not faii passes untouched.
 *
 * Faii traffic is UDP to a faii port: the appliance's own (a load-time
 * constant of the program) or a registered node's (the port map), since a
 * TASK copy goes to the port its node listens on.
 *
 * Error convention: none; the program's verdicts are values of
 * enum faii_residency_reason, counted per reason at every attach point.
 */
#ifndef FAII_RESIDENCY_H
#define FAII_RESIDENCY_H

#include "faii/limits.h"
#include "faii/types.h"

/* X(enum suffix, counter name): verdict reasons, counted per CPU. */
#define FAII_RESIDENCY_REASONS(X)                                                                  \
	X(PASS_ALLOWED, "pass_allowed")                                                            \
	X(PASS_NOT_FAII, "pass_not_faii")                                                          \
	X(PASS_NOT_TASK, "pass_not_task")                                                          \
	X(DROP_MALFORMED, "drop_malformed")                                                        \
	X(DROP_UNDISPATCHED, "drop_undispatched")                                                  \
	X(DROP_UNKNOWN_NODE, "drop_unknown_node")                                                  \
	X(DROP_UNKNOWN_CLASS, "drop_unknown_class")                                                \
	X(DROP_FORBIDDEN, "drop_forbidden")

enum faii_residency_reason {
#define FAII_RESIDENCY_ENUM(sym, name) FAII_RES_##sym,
	FAII_RESIDENCY_REASONS(FAII_RESIDENCY_ENUM)
#undef FAII_RESIDENCY_ENUM
	        FAII_RES_REASON_COUNT
};

#define FAII_RES_FIRST_DROP FAII_RES_DROP_MALFORMED

/* The counters map holds one slot per reason, then this one: refusals whose
 * audit event was lost because the ring buffer was full. */
#define FAII_RES_COUNTER_EVENTS_LOST FAII_RES_REASON_COUNT
#define FAII_RES_COUNTER_SLOTS       (FAII_RES_REASON_COUNT + 1)

/* Map sizes: node ids are hashed (as many as the registry holds, so that
 * every node it can know is known to the program); residency class ids index
 * an array. FAII_RES_NODES_MAX and FAII_RES_CLASSES_MAX are in limits.h. */
#define FAII_RES_EVENTS_BYTES (256u * 1024u)

/*
 * The port map: one bit per UDP port, set for the ports registered nodes
 * listen on, in 64-bit words (port p is bit p % 64 of word p / 64), so that a
 * lookup returns 8 bytes whatever the port: 1024 words, 8 KiB.
 */
#define FAII_RES_PORTS           65536u
#define FAII_RES_PORT_WORD_BITS  64u
#define FAII_RES_PORT_WORDS      (FAII_RES_PORTS / FAII_RES_PORT_WORD_BITS)
#define FAII_RES_PORT_WORD(port) ((uint32_t)(port) / FAII_RES_PORT_WORD_BITS)
#define FAII_RES_PORT_BIT(port)  ((uint32_t)(port) % FAII_RES_PORT_WORD_BITS)

/* node id -> jurisdiction index (bit position in a class's allowed set). */
struct faii_res_node {
	uint32_t jurisdiction; /* 0..63 */
};

/* residency class id -> allowed jurisdictions. */
struct faii_res_class {
	uint64_t allowed; /* bit j: jurisdiction j allowed */
	uint32_t defined; /* 0: the class does not exist (fail closed) */
	uint32_t reserved;
};

/* One refused task, for the audit log. */
struct faii_res_event {
	uint64_t time_ns; /* bpf_ktime_get_ns() */
	uint64_t task_id;
	uint32_t node_id;
	uint16_t residency_class;
	uint8_t reason;       /* enum faii_residency_reason */
	uint8_t jurisdiction; /* 0xFF when the node is unknown */
};

#define FAII_RES_JURISDICTION_UNKNOWN 0xFFu

#ifndef __bpf__
/* "pass_allowed", ..., "events_lost" for the last slot; "invalid" beyond. */
const char *faii_residency_counter_name(unsigned slot);
#endif

/*
 * The dataplane entry (SEC("faii_dpdk")) is given an rte_mbuf, which the BPF
 * side cannot include: these are the offsets of the fields it reads in
 * DPDK 22.11's struct rte_mbuf on a 64-bit machine. The rte_bpf loader
 * (dataplane/residency_bpf.c) asserts them against rte_mbuf.h at compile time.
 */
#define FAII_RES_MBUF_BUF_ADDR_OFF 0  /* void *buf_addr */
#define FAII_RES_MBUF_DATA_OFF_OFF 16 /* uint16_t data_off */
#define FAII_RES_MBUF_PKT_LEN_OFF  36 /* uint32_t pkt_len */
#define FAII_RES_MBUF_DATA_LEN_OFF 40 /* uint16_t data_len */

#endif /* FAII_RESIDENCY_H */
