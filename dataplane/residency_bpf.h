/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data-residency judgement inside the DPDK dataplane: the same BPF object
 * the kernel runs at XDP and TC (ebpf/residency.bpf.c, section "faii_dpdk"),
 * loaded and JIT-compiled by rte_bpf, over an in-process policy; and a C
 * reference with the same contract for when the object is absent.
 *
 * Error convention: constructors and policy updates return 0 or a negative
 * errno (and write a message to err where they take one); the judges return
 * an enum faii_residency_reason and never fail.
 *
 * Threads. Judges run on any number of lcores at once and never allocate,
 * lock or make a system call; each judging thread needs an lcore id (an EAL
 * lcore, or a thread the judge registers once with rte_thread_register()).
 * Policy updates, counter reads and event reads belong to control threads;
 * updates are serialised among themselves.
 *
 * Atomicity. The policy (node -> jurisdiction, class -> allowed set, node
 * ports: include/faii/residency_policy.h) is one immutable snapshot. An update builds a new
 * snapshot and publishes it with one atomic pointer store; a judge loads the pointer once per
 * packet and reads nothing else, so every verdict is that of one whole policy, never of a
 * half-applied update. Old snapshots are freed once every judging lcore has reported a quiescent
 * state (rte_rcu_qsbr): each judge reports one when it returns; an lcore that stops judging must
 * call faii_res_rte_quiescent() while idle or faii_res_rte_reader_offline() before it blocks, or
 * updates wait for it (and give up with -EBUSY after FAII_RES_RTE_GRACE_MS).
 */
#ifndef FAII_RESIDENCY_BPF_H
#define FAII_RESIDENCY_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/residency.h"
#include "faii/residency_policy.h"

struct rte_mbuf;
struct faii_res_rte;

/* obj_path for faii_res_rte_open(): no BPF object, the C reference judges. */
#define FAII_RES_RTE_NO_BPF ""

/* Refusal events held for the control thread before new ones are lost. */
#define FAII_RES_RTE_EVENTS_MAX 8192u
/* How long an update waits for judging lcores to leave an old snapshot. */
#define FAII_RES_RTE_GRACE_MS 1000u
/* Old snapshots waiting for that grace period before updates are refused. */
#define FAII_RES_RTE_RETIRED_MAX 16u

/*
 * Loads the residency object and JIT-compiles its "faii_dpdk" section.
 * obj_path: NULL for the object this build made (FAII_RES_BPF_OBJECT_DEFAULT),
 * FAII_RES_RTE_NO_BPF for none (faii_res_rte_judge() then runs the C
 * reference), or a path. Needs the EAL. The policy starts empty: every task is
 * refused (unknown node) until the control plane installs one.
 */
int faii_res_rte_open(const char *obj_path, struct faii_res_rte **out, char *err, size_t errlen);
void faii_res_rte_close(struct faii_res_rte *res);
/* True when faii_res_rte_judge() runs the BPF program (JIT or interpreter). */
bool faii_res_rte_has_bpf(const struct faii_res_rte *res);
/* True when the program runs as native code from rte_bpf's JIT. */
bool faii_res_rte_is_jit(const struct faii_res_rte *res);

/*
 * The appliance's UDP port (default FAII_UDP_PORT_DEFAULT), the program's
 * faii_udp_port: with the policy's node ports, the ports of faii traffic.
 * Set it before judging starts; it is not part of a snapshot.
 */
void faii_res_rte_set_udp_port(struct faii_res_rte *res, uint16_t port);

/* ------------------------------------------------------------------------ */
/* Policy updates (control threads). Each is atomic; 0 or a negative errno. */

/*
 * Replaces the whole policy in one step by a copy of p: nodes (ids unique
 * and not 0, at most FAII_RES_NODES_MAX), the class table indexed by class id
 * as the kernel's faii_res_classes array is (entry 0 and entries with
 * defined == 0 refuse), and the node ports.
 */
int faii_res_rte_set_policy(struct faii_res_rte *res, const struct faii_res_policy *p);
int faii_res_rte_set_node(struct faii_res_rte *res, uint32_t node_id, uint32_t jurisdiction);
int faii_res_rte_remove_node(struct faii_res_rte *res, uint32_t node_id); /* -ENOENT */
/* Defines class_id (1..FAII_RESIDENCY_CLASS_MAX) with this allowed set. */
int faii_res_rte_set_class(struct faii_res_rte *res, uint32_t class_id, uint64_t allowed);
int faii_res_rte_remove_class(struct faii_res_rte *res, uint32_t class_id);

/* ------------------------------------------------------------------------ */
/* Judging (any lcore). Returns enum faii_residency_reason; drops are those */
/* >= FAII_RES_FIRST_DROP. Counts the verdict and queues a refusal's event. */

/* An Ethernet frame of len bytes, all of them present. */
uint32_t faii_res_rte_judge(struct faii_res_rte *res, const void *frame, uint32_t len);
/* An mbuf's first segment; headers past it on a chained mbuf are malformed. */
uint32_t faii_res_rte_judge_mbuf(struct faii_res_rte *res, const struct rte_mbuf *m);
/* The C reference: the same contract, policy, counters and events. */
uint32_t faii_res_c_judge(struct faii_res_rte *res, const void *frame, uint32_t len);

/* An idle judging lcore: lets pending updates reclaim old snapshots. */
void faii_res_rte_quiescent(struct faii_res_rte *res);
/* This lcore stops judging (until its next judge call). */
void faii_res_rte_reader_offline(struct faii_res_rte *res);

/* ------------------------------------------------------------------------ */
/* Readers (control threads).                                               */

/* Every counter slot summed over lcores: per reason, then events lost. */
void faii_res_rte_counters(const struct faii_res_rte *res, uint64_t out[FAII_RES_COUNTER_SLOTS]);
/* Moves up to max waiting refusal events, oldest first, into out; one reader. */
unsigned faii_res_rte_events(struct faii_res_rte *res, struct faii_res_event *out, unsigned max);

#endif /* FAII_RESIDENCY_BPF_H */
