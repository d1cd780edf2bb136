/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Operator metrics: a Prometheus text exposition on a local HTTP port
 * (libmicrohttpd) and the same counters as DPDK telemetry commands
 * (/faii/...), both served from one snapshot. See docs/metrics.md.
 *
 * Threads: faii_metrics_update() runs on the control thread, the only thread
 * that reads worker counters, the registry and the publisher. It fills a
 * private staging copy without any lock, then publishes it into the shared
 * snapshot under a mutex it only *tries* to take, so the control thread never
 * waits for a scrape. The HTTP thread (libmicrohttpd's own) and DPDK's
 * telemetry threads take the mutex only to copy the snapshot out and render
 * from their copy. Nothing here runs on, or is called from, a worker lcore.
 *
 * The exporter is a process-wide singleton: DPDK telemetry callbacks carry no
 * context pointer and cannot be unregistered, so they read static memory
 * that outlives faii_metrics_stop().
 */
#ifndef FAII_METRICS_H
#define FAII_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct faii_appliance_dp;

/* Nodes exported with per-node series, in registry-slot order; the rest are
 * counted in faii_metrics_nodes_omitted. Bounds the scrape size (about 16
 * series per node) for a Prometheus server that stores every series. */
#define FAII_METRICS_NODES_MAX 1024u

/* Default bind address: the exposition is unauthenticated, so it stays on
 * the loopback unless an operator chooses otherwise. */
#define FAII_METRICS_ADDRESS_DEFAULT "127.0.0.1"

/*
 * Binds address:port (IPv4 or IPv6 literal), starts the HTTP thread and
 * registers the telemetry commands. Returns 0, or -1 with a message in err
 * naming the address and the reason (e.g. the port is in use).
 */
int faii_metrics_start(const char *address, uint16_t port, char *err, size_t errlen);

/* Takes a new snapshot of the appliance; control thread, every tick. */
void faii_metrics_update(const struct faii_appliance_dp *a);

/* The consortium validator's part of the snapshot (faii_dag_*); NULL: no
 * validator, no faii_dag_* series. Control thread, after faii_metrics_update(). */
struct faii_consensus_snapshot; /* consensus.h */
void faii_metrics_update_dag(const struct faii_consensus_snapshot *dag);

/* Settlement's part of the snapshot (faii_settle_*): its counters and
 * whether the latest settled epoch's root is final; NULL: no settlement, no
 * faii_settle_* series. Control thread, after faii_metrics_update(). */
struct faii_settle_stats; /* faii/settle_state.h */
void faii_metrics_update_settle(const struct faii_settle_stats *stats, bool latest_root_final);

/*
 * Records the outcome of a configuration reload (control socket or SIGHUP),
 * for faii_config_reloads_total{result} and, when ok,
 * faii_config_last_reload_success_timestamp_seconds (wall clock, seconds
 * since the epoch). Any thread. The initial load counts as the first
 * success time but not as a reload.
 */
void faii_metrics_note_reload(bool ok, double unix_time_s);

/* Stops the HTTP thread and closes the port; telemetry commands answer
 * with an error from now on. */
void faii_metrics_stop(void);

/*
 * Latency histograms: the dataplane's log buckets folded into
 * FAII_METRICS_LE_COUNT round boundaries (50 us to 60 s, labels such as
 * "0.001"), then +Inf. A log bucket counts towards a boundary only when every
 * value it can hold is at or below it, so cumulative counts never
 * over-state how many tasks were fast enough.
 */
#define FAII_METRICS_LE_COUNT 19u
const char *faii_metrics_le_label(unsigned i);
void faii_metrics_hist_cumulative(const uint64_t *hist, uint64_t out[FAII_METRICS_LE_COUNT + 1]);

/*
 * Renders the current snapshot in the Prometheus text format (version
 * 0.0.4) into a malloc()ed string; *len gets its length. NULL when out of
 * memory. The HTTP handler's body; exposed for tests.
 */
char *faii_metrics_render(size_t *len);

#endif /* FAII_METRICS_H */
