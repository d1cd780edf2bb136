/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node registry: the control plane's view of the fleet.
 *
 * Static facts (address, class, operator, price, ESG vector, key) are the
 * configuration's node entries, kept current by REGISTER and ATTEST messages;
 * measured facts (latency per region, SLO success, load) come from the
 * workers' live counters (include/faii/fleet.h) and from heartbeats. The
 * routing solver reads both; only the control thread writes here.
 *
 * A registry slot is the node's index: it never moves and is never reused
 * while any dispatch may still refer to it, so workers index faii_node_live
 * with it without a lookup. Joining is permissioned: a node exists because
 * the configuration (or an operator) says so; REGISTER from an unknown node
 * id is refused.
 *
 * Error convention: set-up returns 0 or -1 with a sentence in err; lookups
 * and additions return a slot (>= 0) or a negative errno (-1 for "no such
 * node" from faii_registry_find); slow-path messages are never errors but an
 * outcome (enum faii_slow_outcome) counted by name.
 */
#ifndef FAII_REGISTRY_H
#define FAII_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "faii/clock.h"
#include "faii/config.h"
#include "faii/fleet.h"
#include "faii/routing.h"
#include "faii/wire.h"

struct rte_hash;

/* Outstanding-copy limit L_i: the copies a node finishes in this window at
 * its service rate sigma_i (its capacity unless service_rate is configured),
 * and never fewer than FAII_LOAD_LIMIT_MIN. */
#define FAII_LOAD_WINDOW_S   0.25
#define FAII_LOAD_LIMIT_MIN  4u
#define FAII_SLO_EWMA_WEIGHT 0.2 /* per control tick */
#define FAII_LATENCY_UNKNOWN 0u
/* A signed message whose timestamp is further than this from the appliance's
 * clock is refused: with the per-node sequence (or, for REGISTER, timestamp)
 * order, an old message cannot be replayed, even after a restart. */
#define FAII_SIGNAL_SKEW_NS (300ull * 1000000000ull)

/* What happened to one slow-path message. */
#define FAII_SLOW_OUTCOMES(X)                                                                      \
	X(ACCEPTED, "accepted")                                                                    \
	X(MALFORMED, "malformed")                                                                  \
	X(UNKNOWN_NODE, "unknown_node")                                                            \
	X(BAD_SIGNATURE, "bad_signature")                                                          \
	X(STALE_SEQUENCE, "stale_sequence")                                                        \
	X(STALE_TIMESTAMP, "stale_timestamp")                                                      \
	X(KEY_MISMATCH, "key_mismatch")                                                            \
	X(UNKNOWN_JURISDICTION, "unknown_jurisdiction")                                            \
	X(UNKNOWN_REGION, "unknown_region")                                                        \
	X(NOT_SLOW_PATH, "not_slow_path")

enum faii_slow_outcome {
#define FAII_SLOW_OUTCOME_ENUM(sym, name) FAII_SLOW_##sym,
	FAII_SLOW_OUTCOMES(FAII_SLOW_OUTCOME_ENUM)
#undef FAII_SLOW_OUTCOME_ENUM
	        FAII_SLOW_OUTCOME_COUNT
};
const char *faii_slow_outcome_name(enum faii_slow_outcome o);

/* Signals from the node itself, per slot. */
struct faii_node_signals {
	uint64_t heartbeat_ns; /* receive time of the last good heartbeat, 0: none */
	uint64_t attest_ns;
	uint32_t heartbeat_seq;
	uint32_t attest_seq;
	uint32_t load_permille;  /* from the last heartbeat */
	uint64_t heartbeats;     /* accepted since start: a work summary's heartbeats seen */
	uint64_t register_ts_ns; /* timestamp of the last accepted REGISTER */
	/* Live counters at the previous tick, for per-tick SLO deltas. */
	uint32_t slo_total_prev[FAII_TIER_COUNT];
	uint32_t slo_met_prev[FAII_TIER_COUNT];
};

struct faii_registry {
	struct faii_config *cfg; /* owned; node i is slot i */
	uint32_t capacity;       /* slots allocated: nodes may be added up to it */
	struct faii_route_node_state *state;
	struct faii_node_signals *signals;
	struct faii_node_live *live; /* shared with the workers */
	/* Measured round trip per (slot, region slot), us; 0 until measured. */
	_Atomic uint32_t *latency_us;
	struct rte_hash *by_id; /* node id -> slot */
	uint64_t slow[FAII_SLOW_OUTCOME_COUNT][FAII_MSG_TYPE_MAX + 1];
	/* Nodes, their jurisdictions or ports, or classes changed: the
	 * residency policy must be built and installed again. */
	bool residency_dirty;
	/* A node's key, address or status changed: the workers' auth set
	 * (include/faii/auth.h) must be published again. */
	bool auth_dirty;
	uint64_t start_ns; /* stale-signal ages count from here at the latest */
	/* Time for signal ages and publishing: &faii_clock_system after init;
	 * a simulation sets its own before the first refresh. */
	const struct faii_clock *clock;
};

/*
 * Builds the registry over cfg (taking ownership) with room for extra nodes
 * beyond the configured ones. Needs the EAL (DPDK memory). Returns 0, or -1
 * with a message (duplicate node ids, no memory).
 */
int faii_registry_init(struct faii_registry *reg, struct faii_config *cfg, uint32_t extra,
                       char err[FAII_CFG_ERR_LEN]);
void faii_registry_fini(struct faii_registry *reg);

/* Age of a node's last heartbeat or attestation (signal_ns, 0: none). */
uint64_t faii_registry_signal_age_ns(const struct faii_registry *reg, uint64_t signal_ns,
                                     uint64_t now_ns);

/* Adds a node (an operator's node.add or a reload): its slot, or -EEXIST,
 * -ENOSPC (capacity reached). A removed node's id is re-added in place. */
int32_t faii_registry_add(struct faii_registry *reg, const struct faii_cfg_node *node);

/* Replaces a registered node's facts (a reload): status, jurisdiction,
 * load limit and reputation take effect for the workers at once. */
void faii_registry_update(struct faii_registry *reg, uint32_t slot,
                          const struct faii_cfg_node *node);

/* Slot of a node id, -1 when unknown. */
int32_t faii_registry_find(const struct faii_registry *reg, uint32_t node_id);

/* Verifies and applies one HEARTBEAT, ATTEST or REGISTER (already parsed). */
enum faii_slow_outcome faii_registry_apply(struct faii_registry *reg,
                                           const struct faii_msg_view *msg, uint64_t now_ns);

/* Operator actions: status of a node (drain, undrain, quarantine). */
int faii_registry_set_status(struct faii_registry *reg, uint32_t slot, uint8_t status);
/* Settlement's reputation of a node, [0, 1]: the minimum-reputation filter
 * reads it at once. */
int faii_registry_set_reputation(struct faii_registry *reg, uint32_t slot, double reputation);

/*
 * Folds the workers' measurements into the routing state: latency per
 * region (measured, else the geographic prior), SLO success per tier
 * (EWMA of this tick's hits), load limits from capacity and heartbeats.
 */
void faii_registry_refresh(struct faii_registry *reg);

#endif /* FAII_REGISTRY_H */
