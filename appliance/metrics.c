/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * See metrics.h and docs/metrics.md. The snapshot is plain data copied out
 * of the appliance on the control thread; everything the HTTP and telemetry
 * threads render comes from a private copy of it.
 */
#include "faii/clock.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <rte_telemetry.h>

#include "appliance.h"
#include "consensus.h"
#include "dataplane.h"
#include "faii/config.h"
#include "faii/registry.h"
#include "faii/settle_state.h"
#include "faii/wire.h"

#define NODE_STATUS_COUNT 4u
/* Scrapers are few and quick. One thread serves every connection; a client
 * that sends a byte now and then holds one of HTTP_CONNECTIONS_MAX until it
 * stops for HTTP_TIMEOUT_S, and one address holds at most
 * HTTP_CONNECTIONS_PER_ADDRESS_MAX: slow clients from one place cannot take
 * the scrapers' connections. */
#define HTTP_CONNECTIONS_MAX             64u
#define HTTP_CONNECTIONS_PER_ADDRESS_MAX 8u
#define HTTP_TIMEOUT_S                   5u /* idle or stuck client dropped, seconds */

struct node_snap {
	uint32_t id;
	uint8_t node_class;
	uint8_t status;
	uint16_t reputation_milli;
	uint32_t outstanding;
	uint32_t limit;
	uint32_t latency_ewma_us;
	double heartbeat_age_s, attest_age_s; /* from the start when never heard */
	uint8_t heartbeat_stale, attest_stale;
	uint64_t dispatched;
	uint64_t completed;
	uint64_t failed;
	uint64_t disagreed;
	uint64_t redispatched;
	uint64_t verified_work[FAII_TIER_COUNT];
};

struct snapshot {
	bool valid;
	double taken_unix_s;
	unsigned workers;
	struct faii_worker_stats total;
	struct faii_queue_state queues;
	uint64_t route_generation;
	uint64_t publish_deferred;
	double last_solve_s;
	double solve_seconds_total;
	uint64_t slow[FAII_SLOW_OUTCOME_COUNT][FAII_MSG_TYPE_MAX + 1];
	uint64_t slow_processed;
	uint64_t evidence_received;
	struct faii_work_counters work; /* receipts and work summaries */
	uint64_t work_open_receipts;
	uint32_t work_receipts_kept;
	struct faii_attest_queue_counters attest; /* accepted ATTEST messages to the ledger */
	uint32_t attest_waiting;
	uint64_t snapshots_skipped;
	uint32_t node_count; /* in the registry */
	uint32_t nodes_exported;
	uint32_t nodes_by_status[NODE_STATUS_COUNT];
	struct node_snap nodes[FAII_METRICS_NODES_MAX];
};

/* Settlement's counters (faii_settle_*), copied by the control thread. */
struct settle_snap {
	struct faii_settle_stats stats;
	bool latest_root_final;
};

struct reload_state {
	uint64_t ok;
	uint64_t error;
	double last_success_unix_s;
};

/* Shared between the control thread (writer) and the HTTP and telemetry
 * threads (readers); everything in it is under lock. */
static struct {
	pthread_mutex_t lock;
	bool running;
	double start_unix_s;
	struct snapshot snap;
	struct reload_state reload;
	bool dag_valid; /* a validator runs: dag holds its last snapshot */
	struct faii_consensus_snapshot dag;
	bool settle_valid; /* settlement runs: settle holds its last counters */
	struct settle_snap settle;
} shared = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Control thread only. */
static struct snapshot staging;
static struct MHD_Daemon *daemon_http;
static bool started;
static uint64_t skipped;
static bool telemetry_registered; /* DPDK cannot unregister a command */

static double unix_now_s(void)
{
	return (double)faii_realtime_ns() / 1e9;
}

/* ---- names -------------------------------------------------------------------------- */

static const char *msg_type_name(unsigned t)
{
	static const char *const names[FAII_MSG_TYPE_MAX + 1] = {
	        [FAII_MSG_TASK] = "task",           [FAII_MSG_RESULT] = "result",
	        [FAII_MSG_HEARTBEAT] = "heartbeat", [FAII_MSG_ATTEST] = "attest",
	        [FAII_MSG_REGISTER] = "register",
	};
	return t <= FAII_MSG_TYPE_MAX && names[t] ? names[t] : "invalid";
}

/*
 * Latency histogram boundaries: round numbers an operator writes in an
 * alert, from 50 us to 60 s. The dataplane's log buckets (12.5 % wide) are
 * folded in: a log bucket counts towards `le` only when every value it can
 * hold is <= le, so a log bucket that straddles a boundary is counted in the
 * next one. Cumulative counts are therefore never too high (an SLO read off
 * them errs on the safe side) and _count and _sum are exact.
 */
static const struct {
	const char *le;
	uint64_t us;
} le_bounds[] = {
        {"5e-05", 50},    {"0.0001", 100},  {"0.00025", 250}, {"0.0005", 500},  {"0.001", 1000},
        {"0.0025", 2500}, {"0.005", 5000},  {"0.01", 10000},  {"0.025", 25000}, {"0.05", 50000},
        {"0.1", 100000},  {"0.25", 250000}, {"0.5", 500000},  {"1", 1000000},   {"2.5", 2500000},
        {"5", 5000000},   {"10", 10000000}, {"30", 30000000}, {"60", 60000000},
};
#define LE_COUNT (sizeof(le_bounds) / sizeof(le_bounds[0]))
_Static_assert(LE_COUNT == FAII_METRICS_LE_COUNT, "metrics.h names the count");

const char *faii_metrics_le_label(unsigned i)
{
	return i < LE_COUNT ? le_bounds[i].le : "+Inf";
}

/* Cumulative counts at every boundary, then the total (+Inf). */
void faii_metrics_hist_cumulative(const uint64_t *hist, uint64_t out[FAII_METRICS_LE_COUNT + 1])
{
	uint64_t seen = 0;
	unsigned b = 0;
	for (unsigned i = 0; i < LE_COUNT; i++) {
		/* A log bucket holds integers in [lower, upper). */
		while (b < FAII_HIST_BUCKETS && faii_hist_bucket_upper_us(b) - 1 <= le_bounds[i].us)
			seen += hist[b++];
		out[i] = seen;
	}
	while (b < FAII_HIST_BUCKETS)
		seen += hist[b++];
	out[LE_COUNT] = seen;
}

/* ---- snapshot ----------------------------------------------------------------------- */

void faii_metrics_update(const struct faii_appliance_dp *a)
{
	if (!started)
		return;
	struct snapshot *s = &staging;
	s->valid = true;
	s->taken_unix_s = unix_now_s();
	uint64_t now_ns = (uint64_t)(s->taken_unix_s * 1e9);
	s->workers = a->worker_count;
	faii_stats_sum(a->workers, a->worker_count, &s->total);
	s->queues = a->queues;
	s->route_generation = a->pub.generation;
	s->publish_deferred = a->pub.deferred;
	s->last_solve_s = a->pub.last_solve_s;
	s->solve_seconds_total = a->pub.solve_seconds_total;
	memcpy(s->slow, a->reg.slow, sizeof(s->slow));
	s->slow_processed = a->slow_processed;
	s->evidence_received = a->evidence_received;
	s->work = a->work.counters;
	s->work_open_receipts = a->work.open.count;
	s->work_receipts_kept = a->work.opt.receipts_kept;
	s->attest = a->attest.counters;
	s->attest_waiting = a->attest.count;

	const struct faii_config *cfg = a->reg.cfg;
	uint32_t n = cfg ? cfg->node_count : 0;
	s->node_count = n;
	s->nodes_exported = n < FAII_METRICS_NODES_MAX ? n : FAII_METRICS_NODES_MAX;
	memset(s->nodes_by_status, 0, sizeof(s->nodes_by_status));
	for (uint32_t i = 0; i < n; i++) {
		/* Relaxed loads: each value is a counter or a policy field on
		 * its own; none needs to agree with another to be meaningful. */
		struct faii_node_live *l = &a->reg.live[i];
		uint8_t status = atomic_load_explicit(&l->status, memory_order_relaxed);
		if (status < NODE_STATUS_COUNT)
			s->nodes_by_status[status]++;
		if (i >= s->nodes_exported)
			continue;
		struct node_snap *ns = &s->nodes[i];
		ns->id = cfg->nodes[i].id;
		ns->node_class = cfg->nodes[i].node_class;
		ns->status = status;
		ns->reputation_milli =
		        atomic_load_explicit(&l->reputation_milli, memory_order_relaxed);
		ns->outstanding = atomic_load_explicit(&l->outstanding, memory_order_relaxed);
		ns->limit = atomic_load_explicit(&l->limit, memory_order_relaxed);
		ns->latency_ewma_us =
		        atomic_load_explicit(&l->latency_ewma_us, memory_order_relaxed);
		/* Stale signals (control thread state: this runs on it). */
		ns->heartbeat_age_s = (double)faii_registry_signal_age_ns(
		                              &a->reg, a->reg.signals[i].heartbeat_ns, now_ns) /
		                      1e9;
		ns->attest_age_s = (double)faii_registry_signal_age_ns(
		                           &a->reg, a->reg.signals[i].attest_ns, now_ns) /
		                   1e9;
		ns->heartbeat_stale = a->reg.state[i].stale_heartbeat;
		ns->attest_stale = a->reg.state[i].stale_attest;
		ns->dispatched = atomic_load_explicit(&l->dispatched, memory_order_relaxed);
		ns->completed = atomic_load_explicit(&l->completed, memory_order_relaxed);
		ns->failed = atomic_load_explicit(&l->failed, memory_order_relaxed);
		ns->disagreed = atomic_load_explicit(&l->disagreed, memory_order_relaxed);
		ns->redispatched = atomic_load_explicit(&l->redispatched, memory_order_relaxed);
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			ns->verified_work[t] =
			        atomic_load_explicit(&l->verified_work[t], memory_order_relaxed);
	}

	/* Never wait for a reader: a scrape in progress costs this tick's
	 * snapshot (counted), not the control thread's time. */
	if (pthread_mutex_trylock(&shared.lock) != 0) {
		skipped++;
		return;
	}
	s->snapshots_skipped = skipped;
	/* Only the exported nodes are copied: the rest of the array is unused. */
	size_t bytes = offsetof(struct snapshot, nodes) + s->nodes_exported * sizeof(s->nodes[0]);
	memcpy(&shared.snap, s, bytes);
	pthread_mutex_unlock(&shared.lock);
}

void faii_metrics_update_dag(const struct faii_consensus_snapshot *dag)
{
	if (!started)
		return;
	/* As above: a scrape in progress costs this tick's copy, not a wait. */
	if (pthread_mutex_trylock(&shared.lock) != 0)
		return;
	shared.dag_valid = dag != NULL;
	if (dag != NULL)
		shared.dag = *dag;
	pthread_mutex_unlock(&shared.lock);
}

void faii_metrics_update_settle(const struct faii_settle_stats *stats, bool latest_root_final)
{
	if (!started)
		return;
	/* As above: a scrape in progress costs this tick's copy, not a wait. */
	if (pthread_mutex_trylock(&shared.lock) != 0)
		return;
	shared.settle_valid = stats != NULL;
	if (stats != NULL)
		shared.settle = (struct settle_snap){.stats = *stats,
		                                     .latest_root_final = latest_root_final};
	pthread_mutex_unlock(&shared.lock);
}

void faii_metrics_note_reload(bool ok, double unix_time_s)
{
	pthread_mutex_lock(&shared.lock);
	if (ok) {
		shared.reload.ok++;
		shared.reload.last_success_unix_s = unix_time_s;
	} else {
		shared.reload.error++;
	}
	pthread_mutex_unlock(&shared.lock);
}

/* A private copy for a reader, or NULL when there is nothing to show. */
static struct snapshot *snapshot_copy(struct reload_state *reload, double *start_unix_s)
{
	struct snapshot *s = malloc(sizeof(*s));
	if (s == NULL)
		return NULL;
	pthread_mutex_lock(&shared.lock);
	bool ok = shared.running && shared.snap.valid;
	if (ok) {
		size_t bytes = offsetof(struct snapshot, nodes) +
		               shared.snap.nodes_exported * sizeof(shared.snap.nodes[0]);
		memcpy(s, &shared.snap, bytes);
		if (reload)
			*reload = shared.reload;
		if (start_unix_s)
			*start_unix_s = shared.start_unix_s;
	}
	pthread_mutex_unlock(&shared.lock);
	if (!ok) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- Prometheus text format ----------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prometheus spells the special values its own way. */
static void put_double(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.17g", v);
}

static void gauge_line(FILE *f, const char *name, const char *labels, double v)
{
	fputs(name, f);
	if (labels)
		fprintf(f, "{%s}", labels);
	fputc(' ', f);
	put_double(f, v);
	fputc('\n', f);
}

static void counter_line(FILE *f, const char *name, const char *labels, uint64_t v)
{
	if (labels)
		fprintf(f, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* One counter family with a label over an array of names. */
static void counter_by(FILE *f, const char *name, const char *help, const char *label,
                       const uint64_t *v, unsigned first, unsigned count,
                       const char *(*label_of)(unsigned))
{
	char lbl[160];
	family(f, name, "counter", help);
	for (unsigned i = first; i < count; i++) {
		snprintf(lbl, sizeof(lbl), "%s=\"%s\"", label, label_of(i));
		counter_line(f, name, lbl, v[i]);
	}
}

static const char *drop_label(unsigned r)
{
	return faii_drop_name((enum faii_drop)r);
}
static const char *pipe_label(unsigned c)
{
	return faii_pipe_counter_name((enum faii_pipe_counter)c);
}
static const char *class_label(unsigned c)
{
	return faii_node_class_name((uint8_t)c);
}
static const char *category_label(unsigned c)
{
	return faii_category_name((uint8_t)(c + 1));
}
static const char *tier_label(unsigned t)
{
	static const char *const names[FAII_TIER_COUNT] = {"1", "2", "3", "4"};
	return t < FAII_TIER_COUNT ? names[t] : "invalid";
}

static void tier_gauge(FILE *f, const char *name, const char *help, const double *v)
{
	char lbl[32];
	family(f, name, "gauge", help);
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		snprintf(lbl, sizeof(lbl), "tier=\"%u\"", t + 1);
		gauge_line(f, name, lbl, v[t]);
	}
}

static void render_nodes(FILE *f, const struct snapshot *s)
{
	char lbl[96];
	const uint32_t n = s->nodes_exported;
	family(f, "faii_node_info", "gauge",
	       "Static facts of a node (value 1), labelled by node id");
	for (uint32_t i = 0; i < n; i++) {
		snprintf(lbl, sizeof(lbl), "node=\"%u\",class=\"%s\"", s->nodes[i].id,
		         class_label(s->nodes[i].node_class));
		gauge_line(f, "faii_node_info", lbl, 1);
	}
	/* Per-node gauges and counters, one family at a time as the format
	 * requires. X(name, type, help, expression). */
#define NODE_SERIES(X)                                                                             \
	X("faii_node_active", "gauge", "1 when the node takes new work (status active), else 0",   \
	  ns->status == FAII_NODE_ACTIVE ? 1.0 : 0.0)                                              \
	X("faii_node_outstanding_tasks", "gauge", "Tasks dispatched to the node and not yet done", \
	  (double)ns->outstanding)                                                                 \
	X("faii_node_load_limit_tasks", "gauge", "Most outstanding tasks the node may hold (L_i)", \
	  (double)ns->limit)                                                                       \
	X("faii_node_reputation_ratio", "gauge", "Reputation of the node in [0, 1]",               \
	  (double)ns->reputation_milli / 1000.0)                                                   \
	X("faii_node_latency_ewma_seconds", "gauge",                                               \
	  "Smoothed measured round trip of the node over all regions",                             \
	  (double)ns->latency_ewma_us * 1e-6)                                                      \
	X("faii_node_heartbeat_age_seconds", "gauge",                                              \
	  "Age of the node's last signed heartbeat (from the start when none yet)",                \
	  ns->heartbeat_age_s)                                                                     \
	X("faii_node_attestation_age_seconds", "gauge",                                            \
	  "Age of the node's last ESG attestation (from the start when none yet)",                 \
	  ns->attest_age_s)                                                                        \
	X("faii_node_heartbeat_stale", "gauge",                                                    \
	  "1 when the node is excluded for a stale heartbeat (appliance.heartbeat_stale_s)",       \
	  (double)ns->heartbeat_stale)                                                             \
	X("faii_node_attestation_stale", "gauge",                                                  \
	  "1 when the node is scored at the ESG floor for a stale attestation",                    \
	  (double)ns->attest_stale)
#define NODE_GAUGE(name, type, help, expr)                                                         \
	family(f, name, type, help);                                                               \
	for (uint32_t i = 0; i < n; i++) {                                                         \
		const struct node_snap *ns = &s->nodes[i];                                         \
		snprintf(lbl, sizeof(lbl), "node=\"%u\"", ns->id);                                 \
		gauge_line(f, name, lbl, expr);                                                    \
	}
	NODE_SERIES(NODE_GAUGE)
#undef NODE_GAUGE
#undef NODE_SERIES
#define NODE_COUNTERS(X)                                                                           \
	X("faii_node_dispatched_total", "Task copies dispatched to the node", dispatched)          \
	X("faii_node_completed_total", "Results received from the node", completed)                \
	X("faii_node_failed_total", "Error results and timeouts of the node", failed)              \
	X("faii_node_disagreed_total", "Results of the node outvoted by their replica set",        \
	  disagreed)                                                                               \
	X("faii_node_redispatched_total", "Copies taken from the node after a timeout",            \
	  redispatched)
#define NODE_COUNTER(name, help, field)                                                            \
	family(f, name, "counter", help);                                                          \
	for (uint32_t i = 0; i < n; i++) {                                                         \
		snprintf(lbl, sizeof(lbl), "node=\"%u\"", s->nodes[i].id);                         \
		counter_line(f, name, lbl, s->nodes[i].field);                                     \
	}
	NODE_COUNTERS(NODE_COUNTER)
#undef NODE_COUNTER
#undef NODE_COUNTERS
	family(f, "faii_node_verified_work_total", "counter",
	       "Majority-agreeing results within their SLO credited to the node, per tier");
	for (uint32_t i = 0; i < n; i++) {
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
			snprintf(lbl, sizeof(lbl), "node=\"%u\",tier=\"%u\"", s->nodes[i].id,
			         t + 1);
			counter_line(f, "faii_node_verified_work_total", lbl,
			             s->nodes[i].verified_work[t]);
		}
	}
}

/* ---- the consortium validator (docs/metrics.md, faii_dag_*) ---------------------------- */

static const char *refusal_label(unsigned r)
{
	return faii_dag_refusal_name((enum faii_dag_refusal)r);
}

/* Proposal-to-commit of own vertices, folded as the task latency is. */
static void render_dag_latency(FILE *f, const struct faii_consensus_snapshot *dag)
{
	char lbl[32];
	uint64_t cum[LE_COUNT + 1];
	faii_metrics_hist_cumulative(dag->commit_latency_hist, cum);
	family(f, "faii_dag_commit_latency_seconds", "histogram",
	       "From this validator's proposal of a vertex to its commit output");
	for (unsigned i = 0; i < LE_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "le=\"%s\"", le_bounds[i].le);
		counter_line(f, "faii_dag_commit_latency_seconds_bucket", lbl, cum[i]);
	}
	counter_line(f, "faii_dag_commit_latency_seconds_bucket", "le=\"+Inf\"", cum[LE_COUNT]);
	gauge_line(f, "faii_dag_commit_latency_seconds_sum", NULL,
	           (double)dag->commit_latency_sum_us * 1e-6);
	counter_line(f, "faii_dag_commit_latency_seconds_count", NULL, cum[LE_COUNT]);
}

/* Per peer (self excluded), labelled by the peer's configured id. */
static void render_dag_peers(FILE *f, const struct faii_consensus_snapshot *dag)
{
	const struct faii_validator_status *st = &dag->status;
	uint64_t front = st->dag.round_inserted;
	for (uint32_t v = 0; v < st->validator_count; v++)
		if (st->dag.author_round[v] > front)
			front = st->dag.author_round[v];
	char lbl[32];
#define PEER_SERIES(X)                                                                             \
	X("faii_dag_peer_connected", "gauge", "1 while the authenticated link to the peer is up",  \
	  (double)st->transport.peers[v].connected)                                                \
	X("faii_dag_peer_lag_rounds", "gauge",                                                     \
	  "Rounds between the highest round any validator showed and the peer's highest",          \
	  (double)(front - st->dag.author_round[v]))                                               \
	X("faii_dag_peer_sent_bytes_total", "counter", "Bytes written to the peer's connections",  \
	  (double)st->transport.peers[v].bytes_sent)                                               \
	X("faii_dag_peer_received_bytes_total", "counter",                                         \
	  "Bytes read from the peer's connections", (double)st->transport.peers[v].bytes_received)
#define PEER_LINE(name, type, help, expr)                                                          \
	family(f, name, type, help);                                                               \
	for (uint32_t v = 0; v < st->validator_count; v++) {                                       \
		if (v == st->self)                                                                 \
			continue;                                                                  \
		snprintf(lbl, sizeof(lbl), "peer=\"%u\"", dag->member_ids[v]);                     \
		gauge_line(f, name, lbl, expr);                                                    \
	}
	PEER_SERIES(PEER_LINE)
#undef PEER_LINE
#undef PEER_SERIES
}

static void render_dag(FILE *f, const struct faii_consensus_snapshot *dag)
{
	const struct faii_dag_stats *d = &dag->status.dag;
#define DAG_SERIES(X)                                                                              \
	X("faii_dag_round", "gauge", "The last round this validator proposed", d->round)           \
	X("faii_dag_round_inserted", "gauge", "The highest round in this validator's DAG",         \
	  d->round_inserted)                                                                       \
	X("faii_dag_round_low", "gauge", "The lowest round held in memory", d->round_low)          \
	X("faii_dag_last_committed_anchor_round", "gauge", "Round of the last committed anchor",   \
	  d->last_committed_anchor)                                                                \
	X("faii_dag_held_bytes", "gauge", "Vertex and certificate bytes held in memory",           \
	  d->held_bytes)                                                                           \
	X("faii_dag_pending_bytes", "gauge", "Transactions submitted and not yet proposed",        \
	  d->pending_bytes + dag->status.queue_bytes)                                              \
	X("faii_dag_failed", "gauge", "1 once the journal failed and the validator stopped",       \
	  (uint64_t)d->failed)                                                                     \
	X("faii_dag_committed_vertices_total", "counter", "Vertices committed (the sequence)",     \
	  d->committed_vertices)                                                                   \
	X("faii_dag_committed_transactions_total", "counter", "Transactions committed",            \
	  d->committed_transactions)                                                               \
	X("faii_dag_vertices_proposed_total", "counter", "Vertices this validator proposed",       \
	  d->vertices_proposed)                                                                    \
	X("faii_dag_certificates_formed_total", "counter", "Certificates of own vertices formed",  \
	  d->certificates_formed)                                                                  \
	X("faii_dag_certificates_accepted_total", "counter",                                       \
	  "Certified vertices accepted, every author", d->certificates_accepted)                   \
	X("faii_dag_votes_sent_total", "counter", "Votes this validator sent", d->votes_sent)      \
	X("faii_dag_fetches_sent_total", "counter", "Catch-up requests sent", d->fetches_sent)     \
	X("faii_dag_fetch_vertices_served_total", "counter",                                       \
	  "Certified vertices sent to peers catching up", d->fetch_vertices_served)                \
	X("faii_dag_equivocations_total", "counter", "Equivocation proofs recorded",               \
	  d->equivocations)                                                                        \
	X("faii_dag_sends_dropped_total", "counter", "Messages the outbox or transport refused",   \
	  d->sends_dropped)                                                                        \
	X("faii_dag_journal_flushes_total", "counter",                                             \
	  "Flushes of the core: a journal sync when records were appended since the last",         \
	  dag->status.flushes)
#define DAG_LINE(name, type, help, value)                                                          \
	family(f, name, type, help);                                                               \
	counter_line(f, name, NULL, value);
	DAG_SERIES(DAG_LINE)
#undef DAG_LINE
#undef DAG_SERIES
	counter_by(f, "faii_dag_refused_total", "Peer messages refused, by reason", "reason",
	           d->refused, 0, FAII_DAG_REFUSAL_COUNT, refusal_label);
	render_dag_peers(f, dag);
	render_dag_latency(f, dag);
}

/* Routing receipts and work summaries (docs/settlement.md). */
static void render_work(FILE *f, const struct snapshot *s)
{
	const struct faii_work_counters *w = &s->work;
	family(f, "faii_receipts_total", "counter",
	       "Routing receipts the workers wrote, one per finished task");
	counter_line(f, "faii_receipts_total", NULL, s->total.pipe[FAII_PIPE_RECEIPTS]);
	family(f, "faii_receipts_dropped_total", "counter",
	       "Routing receipts lost, by reason: the worker's ring was full, the receipt broke "
	       "the leaf rules, the open slice was full, its node slot was unknown");
	counter_line(f, "faii_receipts_dropped_total", "reason=\"ring_full\"",
	             s->total.pipe[FAII_PIPE_RECEIPTS_DROPPED]);
	counter_line(f, "faii_receipts_dropped_total", "reason=\"invalid\"", w->receipts_invalid);
	counter_line(f, "faii_receipts_dropped_total", "reason=\"slice_full\"",
	             w->receipts_slice_full);
	counter_line(f, "faii_receipts_dropped_total", "reason=\"bad_slot\"", w->receipts_bad_slot);
	family(f, "faii_receipts_summarised_total", "counter",
	       "Routing receipts taken into a slice (leaves of its Merkle root)");
	counter_line(f, "faii_receipts_summarised_total", NULL, w->receipts);
	family(f, "faii_receipts_open_slice", "gauge", "Routing receipts in the open slice");
	gauge_line(f, "faii_receipts_open_slice", NULL, (double)s->work_open_receipts);
	family(f, "faii_receipts_kept_max", "gauge",
	       "Routing receipts kept for proofs (settlement.receipts_kept)");
	gauge_line(f, "faii_receipts_kept_max", NULL, s->work_receipts_kept);
	family(f, "faii_receipt_proofs_total", "counter", "receipt.proof answers with a proof");
	counter_line(f, "faii_receipt_proofs_total", NULL, w->proofs);
	family(f, "faii_work_slices_total", "counter", "Slices closed");
	counter_line(f, "faii_work_slices_total", NULL, w->slices);
	family(f, "faii_work_summaries_total", "counter",
	       "WORK_SUMMARY transactions (parts) made at slices' ends");
	counter_line(f, "faii_work_summaries_total", NULL, w->summaries);
	family(f, "faii_work_summaries_sent_total", "counter",
	       "WORK_SUMMARY transactions taken by the validator or the ledger");
	counter_line(f, "faii_work_summaries_sent_total", NULL, w->summaries_sent);
	family(f, "faii_work_summaries_busy_total", "counter",
	       "Offers refused by a full validator queue (the summary stays queued)");
	counter_line(f, "faii_work_summaries_busy_total", NULL, w->summaries_busy);
	family(f, "faii_work_summaries_dropped_total", "counter",
	       "WORK_SUMMARY transactions lost, by reason");
	counter_line(f, "faii_work_summaries_dropped_total", "reason=\"sink_failed\"",
	             w->summaries_failed);
	counter_line(f, "faii_work_summaries_dropped_total", "reason=\"queue_full\"",
	             w->summaries_queue_full);
	family(f, "faii_work_summaries_pending", "gauge",
	       "WORK_SUMMARY transactions waiting for the validator or the ledger");
	gauge_line(f, "faii_work_summaries_pending", NULL, (double)w->summaries_pending);
}

/* Accepted ATTEST messages on their way to the ledger (attest_queue.h). */
static void render_attestations(FILE *f, const struct snapshot *s)
{
	const struct faii_attest_queue_counters *q = &s->attest;
	family(f, "faii_settle_attestations_queued_total", "counter",
	       "Accepted ATTEST messages queued for the ledger (with a validator)");
	counter_line(f, "faii_settle_attestations_queued_total", NULL, q->queued);
	family(f, "faii_settle_attestations_submitted_total", "counter",
	       "ESG_ATTESTATION transactions handed to the validator");
	counter_line(f, "faii_settle_attestations_submitted_total", NULL, q->submitted);
	family(f, "faii_settle_attestations_busy_total", "counter",
	       "Offers refused by a full validator queue (the attestation stays queued)");
	counter_line(f, "faii_settle_attestations_busy_total", NULL, q->submit_busy);
	family(f, "faii_settle_attestations_dropped_total", "counter",
	       "Accepted ATTEST messages that never reached the validator, by reason");
	counter_line(f, "faii_settle_attestations_dropped_total", "reason=\"queue_full\"",
	             q->dropped_full);
	counter_line(f, "faii_settle_attestations_dropped_total", "reason=\"submit_failed\"",
	             q->submit_failed);
	family(f, "faii_settle_attestations_waiting", "gauge",
	       "Accepted ATTEST messages waiting for the validator");
	gauge_line(f, "faii_settle_attestations_waiting", NULL, (double)s->attest_waiting);
}

/* ---- settlement (docs/metrics.md, faii_settle_*) ---------------------------------------- */

static const char *tx_kind_label(unsigned k)
{
	return faii_settle_tx_kind_name((enum faii_settle_tx_kind)k);
}

static const char *settle_refusal_label(unsigned o)
{
	return faii_settle_outcome_name((enum faii_settle_outcome)o);
}

static void render_settle(FILE *f, const struct settle_snap *snap)
{
	const struct faii_settle_stats *st = &snap->stats;
#define SETTLE_SERIES(X)                                                                           \
	X("faii_settle_epochs_settled_total", "counter", "Epochs settled", st->epochs_settled)     \
	X("faii_settle_current_epoch", "gauge", "The epoch open in consortium time",               \
	  st->current_epoch)                                                                       \
	X("faii_settle_paid_units_total", "counter", "Base units paid out to nodes", st->paid)     \
	X("faii_settle_escrow_units", "gauge", "Base units held in escrow", st->escrow)            \
	X("faii_settle_treasury_units", "gauge", "Base units credited to the treasury",            \
	  st->treasury)                                                                            \
	X("faii_settle_burned_units_total", "counter", "Base units burned by slashes", st->burned) \
	X("faii_settle_slashes_executed_total", "counter", "Slashes executed",                     \
	  st->slashes_executed)                                                                    \
	X("faii_settle_carbon_retired_wh_total", "counter",                                        \
	  "Certificate Wh retired against the nodes' energy", st->carbon_retired_wh)               \
	X("faii_settle_latest_root_final", "gauge",                                                \
	  "1 when the latest settled epoch's payout root is final",                                \
	  (uint64_t)snap->latest_root_final)                                                       \
	X("faii_settle_nodes", "gauge", "Nodes registered with settlement", (uint64_t)st->nodes)
#define SETTLE_LINE(name, type, help, value)                                                       \
	family(f, name, type, help);                                                               \
	counter_line(f, name, NULL, value);
	SETTLE_SERIES(SETTLE_LINE)
#undef SETTLE_LINE
#undef SETTLE_SERIES
	family(f, "faii_settle_consortium_time_seconds", "gauge",
	       "The consortium's time (settlement's clock), seconds since the epoch");
	gauge_line(f, "faii_settle_consortium_time_seconds", NULL,
	           (double)st->consortium_ms / 1000.0);
	counter_by(f, "faii_settle_transactions_total", "Settlement transactions applied, by kind",
	           "kind", st->applied, 1, FAII_SETTLE_TX_KIND_END, tx_kind_label);
	counter_by(f, "faii_settle_refused_total", "Settlement transactions refused, by reason",
	           "reason", st->refused, 1, FAII_SETTLE_OUTCOME_COUNT, settle_refusal_label);
}

static void render(FILE *f, const struct snapshot *s, const struct reload_state *rl,
                   double start_unix_s)
{
	const struct faii_worker_stats *t = &s->total;
	char lbl[160];

	family(f, "faii_build_info", "gauge", "Version of faiid (value 1)");
	gauge_line(f, "faii_build_info", "version=\"0.1.0\"", 1);
	family(f, "faii_start_time_seconds", "gauge", "Start of faiid, seconds since the epoch");
	gauge_line(f, "faii_start_time_seconds", NULL, start_unix_s);
	family(f, "faii_metrics_snapshot_timestamp_seconds", "gauge",
	       "When the control thread took the snapshot served here, seconds since the epoch");
	gauge_line(f, "faii_metrics_snapshot_timestamp_seconds", NULL, s->taken_unix_s);
	family(f, "faii_metrics_snapshots_skipped_total", "counter",
	       "Snapshots the control thread dropped because a reader held the lock");
	counter_line(f, "faii_metrics_snapshots_skipped_total", NULL, s->snapshots_skipped);
	family(f, "faii_workers", "gauge", "Worker lcores polling the ports");
	gauge_line(f, "faii_workers", NULL, s->workers);

	/* Receive path. */
	family(f, "faii_rx_packets_total", "counter", "Packets received on every port");
	counter_line(f, "faii_rx_packets_total", NULL, t->rx_packets);
	family(f, "faii_rx_bytes_total", "counter", "Bytes received on every port");
	counter_line(f, "faii_rx_bytes_total", NULL, t->rx_bytes);
	family(f, "faii_tx_packets_total", "counter", "Packets sent on every port");
	counter_line(f, "faii_tx_packets_total", NULL, t->tx_packets);
	family(f, "faii_messages_valid_total", "counter", "Valid faii messages by type");
	for (unsigned m = FAII_MSG_TYPE_MIN; m <= FAII_MSG_TYPE_MAX; m++) {
		snprintf(lbl, sizeof(lbl), "type=\"%s\"", msg_type_name(m));
		counter_line(f, "faii_messages_valid_total", lbl, t->valid[m]);
	}
	counter_by(f, "faii_packets_dropped_total", "Packets dropped by the parser, by reason",
	           "reason", t->drops, 1, FAII_DROP_COUNT, drop_label);
	counter_by(f, "faii_pipeline_events_total",
	           "Pipeline events by name (docs/dataplane.md lists their meaning)", "event",
	           t->pipe, 0, FAII_PIPE_COUNT, pipe_label);
	counter_by(f, "faii_residency_verdicts_total",
	           "Verdicts of the dataplane residency hook on TASK copies, by reason", "reason",
	           t->residency, 0, FAII_RES_REASON_COUNT, faii_residency_counter_name);

	/* Tasks. */
	counter_by(f, "faii_tier_tasks_dispatched_total", "Tasks dispatched, by tier", "tier",
	           t->tier_dispatched, 0, FAII_TIER_COUNT, tier_label);
	counter_by(f, "faii_tier_tasks_answered_total",
	           "Dispatched tasks finished (answered, timed out or refused), by tier", "tier",
	           t->tier_finished, 0, FAII_TIER_COUNT, tier_label);
	counter_by(f, "faii_tier_tasks_slo_met_total",
	           "Results forwarded to clients within the latency budget, by tier", "tier",
	           t->tier_slo_met, 0, FAII_TIER_COUNT, tier_label);
	counter_by(f, "faii_category_tasks_total",
	           "Client tasks past the expiry and replay checks, by category", "category",
	           t->category_tasks, 0, FAII_CATEGORY_COUNT, category_label);
	counter_by(f, "faii_task_copies_total", "TASK copies sent to nodes, by node class", "class",
	           t->class_copies, 0, FAII_CLASS_COUNT, class_label);

	/* Queues and prices (SPEC 3.5). */
	const struct faii_queue_state *q = &s->queues;
	tier_gauge(f, "faii_tier_outstanding_tasks", "Tasks dispatched and not finished, by tier",
	           q->outstanding);
	tier_gauge(f, "faii_tier_capacity_tasks",
	           "Sum of the load limits of active nodes eligible in the tier", q->capacity);
	tier_gauge(f, "faii_tier_queue_ratio", "Smoothed outstanding over capacity (q_t)", q->q);
	tier_gauge(f, "faii_tier_price", "Price per unit of verified work (p_t), in tokens",
	           q->price);
	tier_gauge(f, "faii_tier_theta", "Congestion-adjusted tier factor (theta_t)", q->theta);
	family(f, "faii_class_utilisation_ratio", "gauge",
	       "Copies per second over the capacity of the node class");
	for (unsigned c = 0; c < FAII_CLASS_COUNT; c++) {
		snprintf(lbl, sizeof(lbl), "class=\"%s\"", class_label(c));
		gauge_line(f, "faii_class_utilisation_ratio", lbl, q->class_util[c]);
	}
	family(f, "faii_class_share_ratio", "gauge",
	       "Smoothed share of verified work of the node class (s_k, capped at s_bar)");
	for (unsigned c = 0; c < FAII_CLASS_COUNT; c++) {
		snprintf(lbl, sizeof(lbl), "class=\"%s\"", class_label(c));
		gauge_line(f, "faii_class_share_ratio", lbl, q->class_share[c]);
	}
	family(f, "faii_class_price", "gauge",
	       "Class-share price pi_k charged on the class's routing value");
	for (unsigned c = 0; c < FAII_CLASS_COUNT; c++) {
		snprintf(lbl, sizeof(lbl), "class=\"%s\"", class_label(c));
		gauge_line(f, "faii_class_price", lbl, q->class_price[c]);
	}

	/* Client-visible latency, as a Prometheus histogram per tier. */
	family(f, "faii_task_latency_seconds", "histogram",
	       "Round trip from a task's arrival to its result's forwarding, by tier");
	for (unsigned tier = 0; tier < FAII_TIER_COUNT; tier++) {
		uint64_t cum[LE_COUNT + 1];
		faii_metrics_hist_cumulative(t->latency_hist[tier], cum);
		for (unsigned i = 0; i < LE_COUNT; i++) {
			snprintf(lbl, sizeof(lbl), "tier=\"%u\",le=\"%s\"", tier + 1,
			         le_bounds[i].le);
			counter_line(f, "faii_task_latency_seconds_bucket", lbl, cum[i]);
		}
		snprintf(lbl, sizeof(lbl), "tier=\"%u\",le=\"+Inf\"", tier + 1);
		counter_line(f, "faii_task_latency_seconds_bucket", lbl, cum[LE_COUNT]);
		snprintf(lbl, sizeof(lbl), "tier=\"%u\"", tier + 1);
		gauge_line(f, "faii_task_latency_seconds_sum", lbl,
		           (double)t->latency_sum_us[tier] * 1e-6);
		counter_line(f, "faii_task_latency_seconds_count", lbl, cum[LE_COUNT]);
	}

	/* Control plane. */
	family(f, "faii_route_generation", "gauge", "Generation of the published route set");
	gauge_line(f, "faii_route_generation", NULL, (double)s->route_generation);
	family(f, "faii_route_solve_last_seconds", "gauge",
	       "Duration of the last solve of every routing key");
	gauge_line(f, "faii_route_solve_last_seconds", NULL, s->last_solve_s);
	family(f, "faii_route_solve_seconds_total", "counter", "Time spent solving routing keys");
	gauge_line(f, "faii_route_solve_seconds_total", NULL, s->solve_seconds_total);
	family(f, "faii_route_publish_deferred_total", "counter",
	       "Publishes skipped while waiting for a grace period");
	counter_line(f, "faii_route_publish_deferred_total", NULL, s->publish_deferred);
	family(f, "faii_slow_path_messages_total", "counter",
	       "HEARTBEAT, ATTEST and REGISTER messages handled by the control thread, by type "
	       "and outcome");
	for (unsigned m = FAII_MSG_TYPE_MIN; m <= FAII_MSG_TYPE_MAX; m++) {
		for (unsigned o = 0; o < FAII_SLOW_OUTCOME_COUNT; o++) {
			snprintf(lbl, sizeof(lbl), "type=\"%s\",outcome=\"%s\"", msg_type_name(m),
			         faii_slow_outcome_name((enum faii_slow_outcome)o));
			counter_line(f, "faii_slow_path_messages_total", lbl, s->slow[o][m]);
		}
	}
	family(f, "faii_slow_path_processed_total", "counter",
	       "Packets taken off the slow-path ring by the control thread");
	counter_line(f, "faii_slow_path_processed_total", NULL, s->slow_processed);
	family(f, "faii_evidence_received_total", "counter",
	       "Disagreement evidence received by the control thread");
	counter_line(f, "faii_evidence_received_total", NULL, s->evidence_received);

	render_work(f, s);

	/* Configuration reloads (fed by faii_metrics_note_reload()). */
	family(f, "faii_config_reloads_total", "counter", "Configuration reloads by result");
	counter_line(f, "faii_config_reloads_total", "result=\"ok\"", rl->ok);
	counter_line(f, "faii_config_reloads_total", "result=\"error\"", rl->error);
	family(f, "faii_config_last_reload_success_timestamp_seconds", "gauge",
	       "When the configuration in force was loaded, seconds since the epoch");
	gauge_line(f, "faii_config_last_reload_success_timestamp_seconds", NULL,
	           rl->last_success_unix_s);

	/* The fleet. */
	family(f, "faii_nodes", "gauge", "Nodes in the registry, by status");
	for (uint8_t st = 0; st < NODE_STATUS_COUNT; st++) {
		snprintf(lbl, sizeof(lbl), "status=\"%s\"", faii_node_status_name(st));
		gauge_line(f, "faii_nodes", lbl, s->nodes_by_status[st]);
	}
	family(f, "faii_metrics_nodes_omitted", "gauge",
	       "Nodes without per-node series (beyond the exporter's cap)");
	gauge_line(f, "faii_metrics_nodes_omitted", NULL, s->node_count - s->nodes_exported);
	render_nodes(f, s);
}

/* The validator's copy for a reader, or NULL (none, or out of memory). */
static struct faii_consensus_snapshot *dag_copy(void)
{
	struct faii_consensus_snapshot *dag = malloc(sizeof(*dag));
	if (dag == NULL)
		return NULL;
	pthread_mutex_lock(&shared.lock);
	bool valid = shared.running && shared.dag_valid;
	if (valid)
		*dag = shared.dag;
	pthread_mutex_unlock(&shared.lock);
	if (!valid) {
		free(dag);
		return NULL;
	}
	return dag;
}

/* Settlement's copy for a reader: false when there is none. */
static bool settle_copy(struct settle_snap *out)
{
	pthread_mutex_lock(&shared.lock);
	bool valid = shared.running && shared.settle_valid;
	if (valid)
		*out = shared.settle;
	pthread_mutex_unlock(&shared.lock);
	return valid;
}

char *faii_metrics_render(size_t *len)
{
	struct reload_state rl;
	double start_s = 0;
	struct snapshot *s = snapshot_copy(&rl, &start_s);
	if (s == NULL)
		return NULL;
	struct faii_consensus_snapshot *dag = dag_copy();
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL) {
		free(s);
		free(dag);
		return NULL;
	}
	render(f, s, &rl, start_s);
	if (dag != NULL)
		render_dag(f, dag);
	struct settle_snap settle;
	if (settle_copy(&settle)) {
		render_settle(f, &settle);
		render_attestations(f, s);
	}
	free(s);
	free(dag);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* ---- HTTP --------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)cls, (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char not_allowed[] = "method not allowed: GET /metrics\n";
	static char unavailable[] = "no snapshot yet\n";
	const char *text = "text/plain; charset=utf-8";
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
		             MHD_RESPMEM_PERSISTENT, text);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
		             MHD_RESPMEM_PERSISTENT, text);
	size_t len = 0;
	char *body = faii_metrics_render(&len);
	if (body == NULL)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, unavailable, strlen(unavailable),
		             MHD_RESPMEM_PERSISTENT, text);
	return reply(c, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
	             "text/plain; version=0.0.4; charset=utf-8");
}

/* Binds the socket ourselves: libmicrohttpd only says that it failed, an
 * operator needs to know why (port in use, address not local). */
static int listen_on(const char *address, uint16_t port, bool *v6, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		sslen = sizeof(*in4);
		*v6 = false;
	} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		sslen = sizeof(*in6);
		*v6 = true;
	} else {
		snprintf(err, errlen, "metrics: \"%s\" is not an IPv4 or IPv6 address", address);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
		return -1;
	}
	/* A restart must not wait for the old connections' TIME_WAIT. */
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "metrics: cannot listen on %s%s%s:%u: %s", *v6 ? "[" : "",
		         address, *v6 ? "]" : "", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- DPDK telemetry ------------------------------------------------------------------ */

/* Telemetry answers come from the same snapshot as /metrics, so the two
 * agree whenever the counters are still. */
static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	const struct faii_worker_stats *t = &s->total;
	uint64_t dropped = 0;
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++)
		dropped += t->drops[r];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_packets", t->rx_packets);
	rte_tel_data_add_dict_u64(d, "rx_bytes", t->rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_packets", t->tx_packets);
	for (unsigned m = FAII_MSG_TYPE_MIN; m <= FAII_MSG_TYPE_MAX; m++) {
		char name[32];
		snprintf(name, sizeof(name), "valid/%s", msg_type_name(m));
		rte_tel_data_add_dict_u64(d, name, t->valid[m]);
	}
	rte_tel_data_add_dict_u64(d, "dropped", dropped);
	rte_tel_data_add_dict_u64(d, "slow_processed", s->slow_processed);
	rte_tel_data_add_dict_u64(d, "evidence_received", s->evidence_received);
	rte_tel_data_add_dict_u64(d, "route_generation", s->route_generation);
	rte_tel_data_add_dict_u64(d, "workers", s->workers);
	rte_tel_data_add_dict_u64(d, "nodes", s->node_count);
	free(s);
	return 0;
}

static int tel_named(struct rte_tel_data *d, const uint64_t *v, unsigned first, unsigned count,
                     const char *(*name_of)(unsigned))
{
	rte_tel_data_start_dict(d);
	for (unsigned i = first; i < count; i++)
		rte_tel_data_add_dict_u64(d, name_of(i), v[i]);
	return 0;
}

static int tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	tel_named(d, s->total.drops, 1, FAII_DROP_COUNT, drop_label);
	free(s);
	return 0;
}

static int tel_pipeline(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	tel_named(d, s->total.pipe, 0, FAII_PIPE_COUNT, pipe_label);
	free(s);
	return 0;
}

static int tel_residency(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	tel_named(d, s->total.residency, 0, FAII_RES_REASON_COUNT, faii_residency_counter_name);
	free(s);
	return 0;
}

static int tel_classes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	tel_named(d, s->total.class_copies, 0, FAII_CLASS_COUNT, class_label);
	free(s);
	return 0;
}

static int tel_slow(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	rte_tel_data_start_dict(d);
	for (unsigned m = FAII_MSG_TYPE_MIN; m <= FAII_MSG_TYPE_MAX; m++) {
		for (unsigned o = 0; o < FAII_SLOW_OUTCOME_COUNT; o++) {
			char name[64];
			snprintf(name, sizeof(name), "%s/%s", msg_type_name(m),
			         faii_slow_outcome_name((enum faii_slow_outcome)o));
			rte_tel_data_add_dict_u64(d, name, s->slow[o][m]);
		}
	}
	free(s);
	return 0;
}

/* An array of u64 per tier under name; telemetry frees it with the answer. */
static void tel_tier_u64(struct rte_tel_data *d, const char *name, const uint64_t *v)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	if (a == NULL)
		return;
	rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		rte_tel_data_add_array_u64(a, v[t]);
	if (rte_tel_data_add_dict_container(d, name, a, 0) != 0)
		rte_tel_data_free(a);
}

/* DPDK 22.11 telemetry has no floating-point values: gauges go as strings. */
static void tel_tier_double(struct rte_tel_data *d, const char *name, const double *v)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	if (a == NULL)
		return;
	rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		char buf[40];
		snprintf(buf, sizeof(buf), "%.17g", v[t]);
		rte_tel_data_add_array_string(a, buf);
	}
	if (rte_tel_data_add_dict_container(d, name, a, 0) != 0)
		rte_tel_data_free(a);
}

static int tel_tiers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	struct snapshot *s = snapshot_copy(NULL, NULL);
	if (s == NULL)
		return -1;
	const struct faii_worker_stats *t = &s->total;
	uint64_t count[FAII_TIER_COUNT];
	for (unsigned tier = 0; tier < FAII_TIER_COUNT; tier++) {
		uint64_t cum[LE_COUNT + 1];
		faii_metrics_hist_cumulative(t->latency_hist[tier], cum);
		count[tier] = cum[LE_COUNT];
	}
	rte_tel_data_start_dict(d);
	tel_tier_u64(d, "dispatched", t->tier_dispatched);
	tel_tier_u64(d, "answered", t->tier_finished);
	tel_tier_u64(d, "slo_met", t->tier_slo_met);
	tel_tier_u64(d, "latency_count", count);
	tel_tier_u64(d, "latency_sum_us", t->latency_sum_us);
	tel_tier_double(d, "outstanding", s->queues.outstanding);
	tel_tier_double(d, "capacity", s->queues.capacity);
	tel_tier_double(d, "q", s->queues.q);
	tel_tier_double(d, "price", s->queues.price);
	tel_tier_double(d, "theta", s->queues.theta);
	free(s);
	return 0;
}

static void register_telemetry(void)
{
	if (telemetry_registered)
		return;
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
	        {"/faii/stats", tel_stats, "faii receive counters and totals. Takes no parameters"},
	        {"/faii/drops", tel_drops, "faii parser drops by reason. Takes no parameters"},
	        {"/faii/pipeline", tel_pipeline, "faii pipeline events. Takes no parameters"},
	        {"/faii/residency", tel_residency,
	         "faii residency hook verdicts. Takes no parameters"},
	        {"/faii/classes", tel_classes, "faii TASK copies per node class. No parameters"},
	        {"/faii/slow", tel_slow, "faii slow-path messages, type/outcome. No parameters"},
	        {"/faii/tiers", tel_tiers, "faii per-tier counters and gauges. No parameters"},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
	telemetry_registered = true;
}

/* ---- start and stop ------------------------------------------------------------------ */

int faii_metrics_start(const char *address, uint16_t port, char *err, size_t errlen)
{
	if (started) {
		snprintf(err, errlen, "metrics: already started");
		return -1;
	}
	bool v6 = false;
	int fd = listen_on(address, port, &v6, err, errlen);
	if (fd < 0)
		return -1;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	daemon_http = MHD_start_daemon(
	        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	        MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS_MAX,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_CONNECTIONS_PER_ADDRESS_MAX,
	        MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S, MHD_OPTION_END);
	if (daemon_http == NULL) {
		snprintf(err, errlen, "metrics: cannot start the HTTP server on port %u", port);
		close(fd);
		return -1;
	}
	register_telemetry();
	double now = unix_now_s();
	pthread_mutex_lock(&shared.lock);
	memset(&shared.snap, 0, offsetof(struct snapshot, nodes));
	shared.reload = (struct reload_state){.last_success_unix_s = now};
	shared.start_unix_s = now;
	shared.running = true;
	pthread_mutex_unlock(&shared.lock);
	skipped = 0;
	started = true;
	return 0;
}

void faii_metrics_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&shared.lock);
	shared.running = false;
	pthread_mutex_unlock(&shared.lock);
	/* Joins the HTTP thread: no request is in flight after this. */
	MHD_stop_daemon(daemon_http);
	daemon_http = NULL;
	started = false;
}
