/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel side of data residency: loads ebpf/residency.bpf.c (embedded in
 * the loader as a bpftool skeleton), pins its maps and programs under a bpffs
 * directory, fills the policy maps from the appliance configuration, attaches
 * the program to interfaces with XDP or TC egress, and replaces the policy
 * atomically with respect to packets (docs/residency.md).
 *
 * Pinned under DIR (appliance.residency_pin_dir, default /sys/fs/bpf/faii):
 *   DIR/faii_res_nodes, faii_res_classes,
 *       faii_res_ports                         the policy of the current generation
 *   DIR/faii_res_counters, faii_res_events     shared by every generation
 *   DIR/faii_residency_xdp, faii_residency_tc  the programs of the current generation
 *
 * The policy written is a struct faii_res_policy (faii/residency_policy.h),
 * built from a configuration by the one builder faiid uses too.
 *
 * A policy is never edited in place. faii_res_sync() loads a new generation
 * (program + nodes + classes + ports, reusing the pinned counters and ring buffer),
 * fills its maps while no packet can see them, then swaps every attachment
 * of the old program in this network namespace to the new one (XDP with
 * XDP_FLAGS_REPLACE, TC with BPF_TC_F_REPLACE: one pointer each, published
 * under RCU) and re-pins. A packet runs one program instance from start to
 * end, and an instance only ever sees its own, complete maps, so every packet
 * is judged by exactly one whole policy, the old or the new.
 *
 * Error convention: 0 on success, -1 with a one-line message in err. Every
 * call takes an exclusive flock on DIR, so two loaders never interleave.
 * Nothing here runs on a packet path.
 */
#ifndef FAII_RESIDENCY_LOADER_H
#define FAII_RESIDENCY_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "faii/config.h"
#include "faii/residency.h"
#include "faii/residency_policy.h"

#define FAII_RES_ERR_LEN 512u

/* The TC egress filter of the program: one handle and priority, so that the
 * loader finds, replaces and removes exactly its own filter. */
#define FAII_RES_TC_HANDLE   0xFA11u
#define FAII_RES_TC_PRIORITY 1u

/* Names of the pins under the pin directory. */
#define FAII_RES_PIN_NODES    "faii_res_nodes"
#define FAII_RES_PIN_CLASSES  "faii_res_classes"
#define FAII_RES_PIN_PORTS    "faii_res_ports"
#define FAII_RES_PIN_COUNTERS "faii_res_counters"
#define FAII_RES_PIN_EVENTS   "faii_res_events"
#define FAII_RES_PIN_XDP      "faii_residency_xdp"
#define FAII_RES_PIN_TC       "faii_residency_tc"

enum faii_res_xdp_mode {
	FAII_RES_XDP_AUTO,    /* native when the driver has it, generic otherwise */
	FAII_RES_XDP_NATIVE,  /* the driver's hook (XDP_FLAGS_DRV_MODE) */
	FAII_RES_XDP_GENERIC, /* after the skb is built (XDP_FLAGS_SKB_MODE) */
};

struct faii_res_sync_report {
	bool first_load;      /* nothing was pinned: the sync was a load */
	uint32_t nodes;       /* entries written to faii_res_nodes */
	uint32_t classes;     /* defined classes written to faii_res_classes */
	uint32_t ports;       /* node ports set in faii_res_ports */
	uint32_t xdp_swapped; /* XDP attachments moved to the new generation */
	uint32_t tc_swapped;  /* TC egress filters moved to the new generation */
};

/* Loads a first generation and pins it; fails when DIR already holds one. */
int faii_res_load(const struct faii_config *cfg, const char *pin_dir, char err[FAII_RES_ERR_LEN]);

/* Replaces the policy (and the UDP port) by cfg's, atomically for packets;
 * loads when nothing is pinned. report may be NULL. */
int faii_res_sync(const struct faii_config *cfg, const char *pin_dir,
                  struct faii_res_sync_report *report, char err[FAII_RES_ERR_LEN]);
/* The same with a policy already built (faiid hands over the object its
 * dataplane judge gets) and the appliance's UDP port. */
int faii_res_sync_policy(const struct faii_res_policy *policy, uint16_t udp_port,
                         const char *pin_dir, struct faii_res_sync_report *report,
                         char err[FAII_RES_ERR_LEN]);

/* Attaches the pinned program; already attached (the same program): no-op. */
int faii_res_attach_xdp(const char *pin_dir, const char *ifname, enum faii_res_xdp_mode mode,
                        char err[FAII_RES_ERR_LEN]);
int faii_res_attach_tc(const char *pin_dir, const char *ifname, char err[FAII_RES_ERR_LEN]);

/* Removes the residency program (any generation) from ifname's XDP hook and
 * its TC egress filter; *removed counts what was removed. */
int faii_res_detach(const char *pin_dir, const char *ifname, unsigned *removed,
                    char err[FAII_RES_ERR_LEN]);

/* Detaches from every interface of this network namespace, then unpins. */
int faii_res_unload(const char *pin_dir, char err[FAII_RES_ERR_LEN]);

/* The per-CPU counters, summed: one slot per reason, then events lost. */
int faii_res_read_counters(const char *pin_dir, uint64_t counters[FAII_RES_COUNTER_SLOTS],
                           char err[FAII_RES_ERR_LEN]);
/* "pass_allowed", ..., "events_lost"; NULL out of range. */
const char *faii_res_counter_name(unsigned slot);

/* Pins, ids, UDP port, node ports, policy (named from cfg when given) and
 * attachments. */
int faii_res_show(const char *pin_dir, const struct faii_config *cfg, FILE *out,
                  char err[FAII_RES_ERR_LEN]);

#endif /* FAII_RESIDENCY_LOADER_H */
