/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiid: the appliance daemon. This file is the slow path: arguments,
 * configuration, EAL and port set-up, the periodic counters on stdout, and a
 * clean stop on SIGINT/SIGTERM. The packet loop is in dataplane/pipeline.c.
 *
 *   faiid [EAL arguments] -- --config FILE [--control-socket PATH]
 *         [--metrics-port N] [--ledger-dir DIR] [--check]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "faii/clock.h"
#include "appliance.h"
#include "consensus.h"
#include "settlement.h"
#include "settlement_sync.h"
#include "validator_cfg.h"
#include "control.h"
#include "dataplane.h"
#include "evidence_log.h"
#include "metrics.h"
#include "residency_audit.h"
#include "faii/audit.h"
#include "faii/bytes.h"
#include "faii/config.h"
#include "faii/ledger_store.h"
#include "faii/residency_loader.h"

#define EAL_ARGV_MAX  (FAII_CFG_EAL_ARGS_MAX + 2)
#define STATS_POLL_MS FAII_CONTROL_TICK_MS

struct options {
	const char *config_path;
	const char *control_socket;
	const char *ledger_dir;
	long metrics_port; /* -1: from the configuration */
	bool check_only;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
	        "usage: %s [EAL arguments] -- --config FILE [options]\n"
	        "\n"
	        "The faii orchestration appliance daemon (DPDK primary process).\n"
	        "\n"
	        "EAL arguments (-l, -a, --vdev, --no-huge, ...) come before \"--\". When none\n"
	        "are given, the configuration's appliance.eal list is used, so\n"
	        "  %s -- --config configs/demo.yaml\n"
	        "starts the embedded default on DPDK virtual devices without hugepages.\n"
	        "\n"
	        "Options after \"--\" override the configuration file:\n"
	        "  -c, --config FILE          YAML configuration (required)\n"
	        "  -s, --control-socket PATH  operator control socket (appliance.control_socket)\n"
	        "  -m, --metrics-port N       Prometheus /metrics port, 1..65535\n"
	        "                             (appliance.metrics_port)\n"
	        "  -L, --ledger-dir DIR       ledger directory, created if missing\n"
	        "                             (appliance.ledger_dir)\n"
	        "  -n, --check                validate the configuration, print its summary, exit\n"
	        "  -h, --help                 this text\n"
	        "\n"
	        "Exit status: 0 after a clean stop (SIGINT, SIGTERM), 1 on a configuration or\n"
	        "start-up error, 2 on a usage error. See docs/configuration.md.\n",
	        prog, prog);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"control-socket", required_argument, NULL, 's'},
	        {"metrics-port", required_argument, NULL, 'm'},
	        {"ledger-dir", required_argument, NULL, 'L'},
	        {"check", no_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:m:L:nh", longopts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'c': opt->config_path = optarg; break;
		case 's': opt->control_socket = optarg; break;
		case 'L': opt->ledger_dir = optarg; break;
		case 'n': opt->check_only = true; break;
		case 'm':
			errno = 0;
			opt->metrics_port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || opt->metrics_port < 1 ||
			    opt->metrics_port > 65535) {
				fprintf(stderr,
				        "faiid: --metrics-port: expected 1..65535, found %s\n",
				        optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout, "faiid"); exit(0);
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "faiid: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (opt->config_path == NULL) {
		fprintf(stderr, "faiid: --config FILE is required\n");
		return -1;
	}
	return 0;
}

/* Command-line options take precedence over the file. */
static int apply_overrides(struct faii_config *cfg, const struct options *opt)
{
	struct faii_appliance_cfg *a = &cfg->appliance;
	if (opt->control_socket) {
		if (strlen(opt->control_socket) >= sizeof(a->control_socket)) {
			fprintf(stderr, "faiid: --control-socket: expected at most %zu bytes\n",
			        sizeof(a->control_socket) - 1);
			return -1;
		}
		snprintf(a->control_socket, sizeof(a->control_socket), "%s", opt->control_socket);
	}
	if (opt->ledger_dir) {
		if (strlen(opt->ledger_dir) >= sizeof(a->ledger_dir)) {
			fprintf(stderr, "faiid: --ledger-dir: expected at most %zu bytes\n",
			        sizeof(a->ledger_dir) - 1);
			return -1;
		}
		snprintf(a->ledger_dir, sizeof(a->ledger_dir), "%s", opt->ledger_dir);
	}
	if (opt->metrics_port > 0)
		a->metrics_port = (uint16_t)opt->metrics_port;
	return 0;
}

/* mkdir -p for the ledger directory. */
static int make_dirs(const char *path)
{
	char buf[FAII_CFG_PATH_LEN_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		return -1;
	return access(buf, W_OK | X_OK);
}

static void print_summary(const struct faii_config *cfg, int eal_argc, char **eal_argv)
{
	const struct faii_appliance_cfg *a = &cfg->appliance;
	const struct faii_policy *p = &cfg->policy;
	unsigned per_class[FAII_CLASS_COUNT] = {0};
	unsigned per_jurisdiction[FAII_CFG_JURISDICTIONS_MAX] = {0};
	double capacity = 0;

	printf("faiid: configuration %s\n", cfg->path);
	printf("  eal:");
	for (int i = 1; i < eal_argc; i++)
		printf(" %s", eal_argv[i]);
	printf("\n  workers %u, udp port %u, control socket %s, metrics port %u\n", a->workers,
	       a->udp_port, a->control_socket, a->metrics_port);
	printf("  ledger %s, validators %u (self %u)\n", a->ledger_dir, a->validator_count,
	       a->validator_self);
	printf("  policy: esg weights %.2f/%.2f/%.2f/%.2f, corridor -%.2f/+%.2f, eta %.2f, "
	       "class share max %.2f\n",
	       p->esg_weight[0], p->esg_weight[1], p->esg_weight[2], p->esg_weight[3],
	       p->corridor_below, p->corridor_above, p->concentration_eta, p->class_share_max);
	printf("  tiers (factor, operator cap, operators min, edge reserve, gamma, slo):");
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		printf(" [%g %.2f %u %.2f %.2f %.3f]", p->tier[t].factor, p->tier[t].operator_cap,
		       p->tier[t].operators_min, p->tier[t].edge_reserve,
		       p->tier[t].congestion_gamma, p->tier[t].slo_target);
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		per_class[cfg->nodes[i].node_class]++;
		per_jurisdiction[cfg->nodes[i].jurisdiction]++;
		capacity += cfg->nodes[i].capacity_tasks_per_s;
	}
	printf("\n  fleet: %u nodes, %u operators, %u regions, %.0f tasks/s capacity\n",
	       cfg->node_count, cfg->operator_count, cfg->region_count, capacity);
	printf("   by class:");
	for (uint8_t c = 0; c < FAII_CLASS_COUNT; c++)
		printf(" %s %u", faii_node_class_name(c), per_class[c]);
	printf("\n   by jurisdiction:");
	for (uint32_t j = 0; j < cfg->jurisdiction_count; j++)
		printf(" %s %u", cfg->jurisdictions[j].country, per_jurisdiction[j]);
	printf("\n  residency classes:");
	for (uint32_t r = 0; r < cfg->residency_class_count; r++)
		printf(" %u=%s", cfg->residency_classes[r].id, cfg->residency_classes[r].name);
	printf("\n");
	fflush(stdout);
}

static int port_init(uint16_t port, uint16_t queues, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	memset(&conf, 0, sizeof(conf));
	int rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0)
		return rc;
	if (queues > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
	}
	/* The port's checksum verdicts where it can give them; without them the
	 * workers check TASK and RESULT checksums in software (docs/dataplane.md). */
	conf.rxmode.offloads = info.rx_offload_capa &
	                       (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	rc = rte_eth_dev_configure(port, queues, queues, &conf);
	if (rc != 0)
		return rc;
	uint16_t rx_desc = FAII_RX_RING_SIZE, tx_desc = FAII_TX_RING_SIZE;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);
	if (rc != 0)
		return rc;
	int socket = rte_eth_dev_socket_id(port);
	unsigned sock = socket < 0 ? 0 : (unsigned)socket;
	for (uint16_t q = 0; q < queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, rx_desc, sock, NULL, pool);
		if (rc != 0)
			return rc;
		rc = rte_eth_tx_queue_setup(port, q, tx_desc, sock, NULL);
		if (rc != 0)
			return rc;
	}
	return rte_eth_dev_start(port);
}

/* Authentication: the mode, and every refusal by name, zeros included, so
 * that a run shows it refused nothing as plainly as what it refused. */
static void print_auth(const struct faii_appliance_dp *dp, const struct faii_worker_stats *total)
{
	static const enum faii_pipe_counter refusals[] = {
	        FAII_PIPE_TASK_UNAUTHENTICATED,   FAII_PIPE_TASK_UNKNOWN_CLIENT,
	        FAII_PIPE_TASK_BAD_KEY_EPOCH,     FAII_PIPE_TASK_BAD_MAC,
	        FAII_PIPE_RESULT_UNAUTHENTICATED, FAII_PIPE_RESULT_WRONG_SOURCE,
	        FAII_PIPE_RESULT_BAD_KEY_EPOCH,   FAII_PIPE_RESULT_BAD_MAC,
	        FAII_PIPE_RESULT_BAD_TOKEN,       FAII_PIPE_AUTH_OFF,
	};
	uint64_t refused = 0;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		refused += total->pipe[refusals[i]];
	printf("\n  auth: %s; refused %" PRIu64 ":",
	       dp->keys.enabled ? "version 2 only (TASK and RESULT MACs checked)"
	                        : "OFF, version 1 only (no appliance.auth.key_file)",
	       refused);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		printf(" %s=%" PRIu64, faii_pipe_counter_name(refusals[i]),
		       total->pipe[refusals[i]]);
}

static void print_counters(const struct faii_appliance_dp *dp, double uptime_s, const char *label)
{
	static struct faii_worker_stats total;
	faii_stats_sum(dp->workers, dp->worker_count, &total);
	uint64_t dropped = 0;
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++)
		dropped += total.drops[r];
	printf("faiid: %s t=%.1fs rx %" PRIu64 " pkts %" PRIu64 " bytes | task %" PRIu64
	       " result %" PRIu64 " heartbeat %" PRIu64 " attest %" PRIu64 " register %" PRIu64
	       " | dropped %" PRIu64,
	       label, uptime_s, total.rx_packets, total.rx_bytes, total.valid[FAII_MSG_TASK],
	       total.valid[FAII_MSG_RESULT], total.valid[FAII_MSG_HEARTBEAT],
	       total.valid[FAII_MSG_ATTEST], total.valid[FAII_MSG_REGISTER], dropped);
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++) {
		if (total.drops[r] != 0)
			printf(" %s=%" PRIu64, faii_drop_name((enum faii_drop)r), total.drops[r]);
	}
	printf("\n  pipeline:");
	for (unsigned c = 0; c < FAII_PIPE_COUNT; c++) {
		if (total.pipe[c] != 0)
			printf(" %s=%" PRIu64, faii_pipe_counter_name((enum faii_pipe_counter)c),
			       total.pipe[c]);
	}
	print_auth(dp, &total);
	printf("\n  tiers:");
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		uint64_t fin = total.tier_finished[t];
		printf(" [t%u dispatched %" PRIu64 " answered %" PRIu64 " slo %.3f p50 %" PRIu64
		       "us p99 %" PRIu64 "us q %.3f price %.3f]",
		       t + 1, total.tier_dispatched[t], fin,
		       fin ? (double)total.tier_slo_met[t] / (double)fin : 0.0,
		       faii_hist_quantile_us(total.latency_hist[t], 0.5),
		       faii_hist_quantile_us(total.latency_hist[t], 0.99), dp->queues.q[t],
		       dp->queues.price[t]);
	}
	printf("\n  copies by node class:");
	for (uint8_t c = 0; c < FAII_CLASS_COUNT; c++)
		printf(" %s %" PRIu64, faii_node_class_name(c), total.class_copies[c]);
	printf("; residency hook:");
	for (unsigned r = 0; r < FAII_RES_REASON_COUNT; r++) {
		if (total.residency[r] != 0)
			printf(" %s=%" PRIu64, faii_residency_counter_name(r), total.residency[r]);
	}
	printf("\n  routing: generation %" PRIu64 ", last solve %.1f ms; slow path %" PRIu64
	       "; disagreements %" PRIu64 "\n",
	       dp->pub.generation, dp->pub.last_solve_s * 1e3, dp->slow_processed,
	       dp->evidence_received);
	fflush(stdout);
}

static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		faii_force_quit = true;
}

/* Splits argv at "--": EAL arguments before, faiid's own after. */
static int split_args(int argc, char **argv, int *eal_argc, char ***app_argv, int *app_argc)
{
	int dash = 1;
	while (dash < argc && strcmp(argv[dash], "--") != 0)
		dash++;
	if (dash == argc) {
		/* No "--": only --help makes sense without it. */
		if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			usage(stdout, "faiid");
			exit(0);
		}
		return -1;
	}
	*eal_argc = dash;
	*app_argv = argv + dash;
	*app_argc = argc - dash;
	return 0;
}

struct appliance {
	struct faii_config *cfg;
	struct faii_ls *ledger; /* the audit log */
	struct faii_res_audit residency_audit;
	struct faii_evidence_log evidence; /* disagreements into the ledger */
	bool ledger_failed;                /* the audit log stopped taking records: stop too */
	double start_s;
	struct rte_mempool *pool;
	unsigned worker_count;
	uint16_t port_count;
	uint16_t ports[FAII_PORTS_MAX];
	struct faii_appliance_dp dp;
	bool dp_ready;
	struct faii_control control;
	struct faii_consensus consensus;   /* the validator, when appliance.validators is set */
	struct faii_settlement settlement; /* its consumer, with the validator */
	struct faii_settlement_sync settlement_sync; /* it and the registry, both ways */
	struct options opt;
	uint64_t kernel_residency_synced, kernel_residency_failed;
};

static int start_ports(struct appliance *app)
{
	/* rte_eth_find_next() instead of RTE_ETH_FOREACH_DEV: that macro narrows
	 * a uint64_t, which -Wconversion rejects. */
	for (uint16_t port = rte_eth_find_next(0); port < RTE_MAX_ETHPORTS;
	     port = rte_eth_find_next((uint16_t)(port + 1))) {
		if (app->port_count == FAII_PORTS_MAX) {
			fprintf(stderr, "faiid: more than %u ports; the rest are not used\n",
			        FAII_PORTS_MAX);
			break;
		}
		int rc = port_init(port, (uint16_t)app->worker_count, app->pool);
		if (rc != 0) {
			fprintf(stderr, "faiid: port %u: cannot start: %s\n", port, strerror(-rc));
			rte_eth_dev_close(port); /* the started ones are closed by the caller */
			return -1;
		}
		struct rte_ether_addr mac;
		char name[RTE_ETH_NAME_MAX_LEN] = "?";
		rte_eth_macaddr_get(port, &mac);
		rte_eth_dev_get_name_by_port(port, name);
		printf("faiid: port %u %s mac " RTE_ETHER_ADDR_PRT_FMT " queues %u\n", port, name,
		       RTE_ETHER_ADDR_BYTES(&mac), app->worker_count);
		app->ports[app->port_count++] = port;
	}
	if (app->port_count == 0)
		printf("faiid: no ports (add --vdev or -a to the EAL arguments)\n");
	return 0;
}

/*
 * Opens (and recovers) the ledger store in the ledger directory and records
 * the start. A ledger that cannot be opened stops the appliance: corruption
 * must be seen by an operator, not papered over.
 */
static int open_ledger(struct appliance *app)
{
	const struct faii_appliance_cfg *a = &app->cfg->appliance;
	struct faii_ls_options opt = {
	        .dir = a->ledger_dir,
	        .segment_size_bytes = (uint64_t)a->ledger_segment_mb << 20,
	};
	char err[FAII_LS_ERR_LEN];
	int rc = faii_ls_open(&opt, &app->ledger, err);
	if (rc != 0) {
		fprintf(stderr, "faiid: ledger: %s\n", err);
		return -1;
	}
	struct faii_ls_stats st;
	faii_ls_get_stats(app->ledger, &st);
	printf("faiid: ledger %s: durable seq %" PRIu64 ", %" PRIu64 " records recovered, %" PRIu64
	       " torn bytes truncated\n",
	       a->ledger_dir, st.durable_seq, st.recovered_records, st.truncated_bytes);
	struct faii_audit_start rec = {
	        .time_ns = faii_realtime_ns(),
	        .node_count = app->cfg->node_count,
	        .workers = a->workers,
	        .version = "0.1.0",
	};
	memcpy(rec.config_digest, app->cfg->digest, sizeof(rec.config_digest));
	int64_t seq = faii_audit_start(app->ledger, &rec);
	if (seq < 0) {
		fprintf(stderr, "faiid: ledger: cannot record the start: %s\n",
		        strerror((int)-seq));
		return -1;
	}
	rc = faii_res_audit_open(&app->residency_audit, a->residency_pin_dir, app->ledger);
	if (rc < 0)
		return -1;
	char why[FAII_CFG_ERR_LEN];
	if (faii_evidence_log_start(&app->evidence, app->ledger, why, sizeof(why)) != 0) {
		fprintf(stderr, "faiid: %s\n", why);
		return -1;
	}
	printf("faiid: residency audit: %s %s\n",
	       rc == 0 ? "recording refusals from" : "idle, no residency program pinned at",
	       a->residency_pin_dir);
	return 0;
}

static void close_ledger(struct appliance *app)
{
	if (app->ledger == NULL)
		return;
	/* Evidence and refusals still waiting go in before the stop. */
	app->dp.on_evidence = NULL;
	faii_evidence_log_stop(&app->evidence);
	printf("faiid: evidence: %" PRIu64 " disagreements recorded, %" PRIu64
	       " dropped (queue full), %" PRIu64 " failed\n",
	       atomic_load(&app->evidence.appended), atomic_load(&app->evidence.dropped),
	       atomic_load(&app->evidence.failed));
	faii_res_audit_poll(&app->residency_audit);
	faii_res_audit_close(&app->residency_audit);
	printf("faiid: residency audit: %" PRIu64 " refusals recorded, %" PRIu64
	       " malformed, %" PRIu64 " failed\n",
	       app->residency_audit.recorded, app->residency_audit.malformed,
	       app->residency_audit.failed);
	static struct faii_worker_stats total;
	memset(&total, 0, sizeof(total));
	if (app->dp_ready)
		faii_stats_sum(app->dp.workers, app->dp.worker_count, &total);
	struct faii_audit_stop rec = {
	        .time_ns = faii_realtime_ns(),
	        .uptime_ns = (uint64_t)((faii_monotonic_s() - app->start_s) * 1e9),
	        .rx_packets = total.rx_packets,
	};
	memcpy(rec.valid, total.valid, sizeof(rec.valid));
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++)
		rec.dropped += total.drops[r];
	int64_t seq = faii_audit_stop(app->ledger, &rec);
	if (seq < 0)
		fprintf(stderr, "faiid: ledger: cannot record the stop: %s\n", strerror((int)-seq));
	faii_ls_close(app->ledger);
	app->ledger = NULL;
}

/* Settlement's counters for /metrics (none without settlement). */
static void update_settle_metrics(struct appliance *app)
{
	if (!faii_settlement_running(&app->settlement)) {
		faii_metrics_update_settle(NULL, false);
		return;
	}
	struct faii_settle_stats stats;
	struct faii_settle_epoch_record latest;
	uint64_t applied = 0;
	faii_settlement_stats(&app->settlement, &stats, &applied);
	bool final =
	        faii_settlement_epoch(&app->settlement, UINT64_MAX, &latest) == 0 && latest.final;
	faii_metrics_update_settle(&stats, final);
}

/* The validator's counters for /metrics (none without a validator). */
static void update_dag_metrics(struct appliance *app)
{
	static struct faii_consensus_snapshot snap;
	update_settle_metrics(app);
	if (!faii_consensus_running(&app->consensus)) {
		faii_metrics_update_dag(NULL);
		return;
	}
	faii_consensus_snapshot(&app->consensus, &snap);
	faii_metrics_update_dag(&snap);
}

static void run_until_signal(struct appliance *app)
{
	uint32_t interval_s = app->cfg->appliance.stats_interval_s;
	double start = app->start_s, next = start + interval_s;
	while (!faii_force_quit) {
		/* The control socket is served while waiting for the next tick. */
		if (app->control.server != NULL)
			faii_ctl_poll(app->control.server, STATS_POLL_MS);
		else
			usleep(STATS_POLL_MS * 1000);
		/* SIGHUP takes the worker when it is free (a reload from the
		 * socket may hold it); the outcome is printed when it is done. */
		struct faii_ctl_error err;
		if (reload_requested &&
		    faii_control_reload_start(&app->control, NULL, false, NULL, NULL, &err))
			reload_requested = 0;
		faii_control_reload_tick(&app->control);
		faii_control_keys_tick(&app->control);
		faii_res_audit_poll(&app->residency_audit);
		struct faii_ls_stats ls_stats;
		faii_ls_get_stats(app->ledger, &ls_stats);
		if (ls_stats.error != 0) {
			/* Fail loudly: an appliance that cannot audit must not run on. */
			fprintf(stderr, "faiid: ledger: writes failed (%s); stopping\n",
			        strerror(-ls_stats.error));
			app->ledger_failed = true;
			faii_force_quit = true;
		}
		faii_appliance_tick(&app->dp);
		faii_settlement_sync_tick(&app->settlement_sync, &app->settlement, &app->consensus,
		                          &app->dp, faii_monotonic_ns());
		faii_metrics_update(&app->dp);
		update_dag_metrics(app);
		double t = faii_monotonic_s();
		if (interval_s != 0 && t >= next) {
			print_counters(&app->dp, t - start, "counters");
			next += interval_s;
		}
	}
	faii_appliance_stop(&app->dp);
	faii_appliance_drain_slow(&app->dp);
	faii_metrics_update(&app->dp);
	faii_ctl_close(app->control.server);
	app->control.server = NULL;
	print_counters(&app->dp, faii_monotonic_s() - start, "final");
}

/*
 * One policy for both programs: when the registry's residency policy
 * changes, the kernel program pinned at appliance.residency_pin_dir (if an
 * operator loaded one with faii-residency) gets the policy object the
 * dataplane's judge gets, as one atomic swap per attachment
 * (docs/residency.md).
 */
static void sync_kernel_residency(void *ctx, const struct faii_config *cfg,
                                  const struct faii_res_policy *policy)
{
	struct appliance *app = ctx;
	char pinned[FAII_CFG_PATH_LEN_MAX + 32];
	snprintf(pinned, sizeof(pinned), "%s/%s", cfg->appliance.residency_pin_dir,
	         FAII_RES_PIN_NODES);
	if (access(pinned, F_OK) != 0)
		return; /* no kernel program: nothing to keep in step */
	struct faii_res_sync_report rep;
	char err[FAII_RES_ERR_LEN];
	if (faii_res_sync_policy(policy, cfg->appliance.udp_port, cfg->appliance.residency_pin_dir,
	                         &rep, err) != 0) {
		app->kernel_residency_failed++;
		fprintf(stderr, "faiid: residency: kernel maps not synced: %s\n", err);
		return;
	}
	app->kernel_residency_synced++;
	printf("faiid: residency: kernel program synced: %u nodes, %u classes, %u node ports, %u "
	       "XDP and %u TC attachments moved\n",
	       rep.nodes, rep.classes, rep.ports, rep.xdp_swapped, rep.tc_swapped);
	fflush(stdout);
}

/* Refusals of the in-dataplane residency program go to the audit log. */
static void record_residency_event(void *ctx, const struct faii_res_event *ev)
{
	struct appliance *app = ctx;
	if (app->ledger != NULL && faii_audit_residency(app->ledger, ev) < 0)
		app->control.audit_failed++;
}

/*
 * Where the appliance's WORK_SUMMARY transactions go: the consortium
 * through this appliance's validator when it runs one (a full queue says
 * -ENOBUFS: the summary stays queued and is offered again next tick), else
 * the local ledger as a work_summary record keyed by its slice.
 */
static int submit_work_summary(void *ctx, const uint8_t *tx, uint32_t len)
{
	struct appliance *app = ctx;
	if (faii_consensus_running(&app->consensus))
		return faii_validator_submit(app->consensus.validator, tx, len);
	if (app->ledger == NULL)
		return -ENODEV;
	struct faii_ls_keys keys = {.present = FAII_LS_KEY_EPOCH};
	keys.epoch = faii_get_le64(tx + FAII_SETTLE_TX_HEADER); /* the slice */
	int64_t seq =
	        faii_ls_append(app->ledger, FAII_AUDIT_WORK_SUMMARY, &keys, tx, len, NULL, NULL);
	return seq < 0 ? (int)seq : 0;
}

/* mkdir -p of the socket's directory, then the server. */
static int open_control(struct appliance *app, char *err, size_t errlen)
{
	struct faii_control *c = &app->control;
	const struct faii_appliance_cfg *a = &app->cfg->appliance;
	c->app = &app->dp;
	c->ledger = app->ledger;
	c->consensus = &app->consensus;
	c->settlement = &app->settlement;
	c->socket_overridden = app->opt.control_socket != NULL;
	c->ledger_overridden = app->opt.ledger_dir != NULL;
	c->metrics_overridden = app->opt.metrics_port > 0;
	c->start_ns = faii_realtime_ns();
	c->last_reload_ok_ns = c->start_ns;
	snprintf(c->config_path, sizeof(c->config_path), "%s", app->cfg->path);
	if (faii_reload_start(&c->reload, &faii_reload_config_ops, err, errlen) != 0 ||
	    faii_reload_start(&c->keys_reload, &faii_reload_keys_ops, err, errlen) != 0)
		return -1;
	char dir[FAII_CFG_SOCKET_PATH_LEN_MAX];
	snprintf(dir, sizeof(dir), "%s", a->control_socket);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (make_dirs(dir) != 0) {
			snprintf(err, errlen, "control socket directory %s: %s", dir,
			         strerror(errno));
			return -1;
		}
	}
	if (faii_ctl_open(&c->server, a->control_socket, a, faii_control_dispatch, c, err,
	                  errlen) != 0)
		return -1;
	printf("faiid: control socket %s (protocol %d)\n", a->control_socket, FAII_CTL_PROTOCOL);
	return 0;
}

/*
 * The consortium validator, when configured: after the EAL, so that its
 * thread inherits the main lcore's CPU set (never a worker's), and over the
 * ledger store that is already open.
 */
static int start_validator(struct appliance *app, char *err, size_t errlen)
{
	const struct faii_appliance_cfg *a = &app->cfg->appliance;
	struct faii_settlement *settlement = NULL;
	if (a->validator_count > 0) {
		uint32_t order[FAII_CFG_VALIDATORS_MAX];
		int self = faii_validator_cfg_order(a, order);
		if (self >= 0 &&
		    faii_settlement_open(&app->settlement, app->cfg, a->validator_count,
		                         (uint32_t)self, err, errlen) != 0)
			return -1;
		settlement = self >= 0 ? &app->settlement : NULL;
	}
	int rc = faii_consensus_start(&app->consensus, a, app->ledger, settlement, err, errlen);
	if (rc != 0 || !faii_consensus_running(&app->consensus))
		return rc;
	struct faii_consensus_snapshot *snap = malloc(sizeof(*snap));
	if (snap != NULL) {
		faii_consensus_snapshot(&app->consensus, snap);
		printf("faiid: validator %u of %u (id %u, epoch %" PRIu64 "): round %" PRIu64
		       ", %" PRIu64 " vertices committed (journal replayed)\n",
		       snap->status.self, snap->status.validator_count, a->validator_self,
		       snap->status.epoch, snap->status.dag.round,
		       snap->status.dag.committed_vertices);
		free(snap);
	}
	return 0;
}

static int run(struct appliance *app, int eal_argc, char **eal_argv)
{
	const struct faii_appliance_cfg *a = &app->cfg->appliance;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "faiid: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		close_ledger(app);
		return 1;
	}
	int rc = 1;
	app->worker_count = a->workers;
	if (rte_lcore_count() < a->workers + 1) {
		fprintf(stderr,
		        "faiid: appliance.workers is %u but the EAL gave %u lcores; give it at "
		        "least %u (for example -l 0-%u)\n",
		        a->workers, rte_lcore_count(), a->workers + 1, a->workers);
		goto cleanup;
	}
	app->pool = rte_pktmbuf_pool_create("faii_mbufs", FAII_MBUF_COUNT, FAII_MBUF_CACHE_SIZE, 0,
	                                    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (app->pool == NULL) {
		fprintf(stderr, "faiid: cannot create the mbuf pool: %s\n",
		        rte_strerror(rte_errno));
		goto cleanup;
	}
	if (start_ports(app) != 0)
		goto cleanup;
	char err[FAII_CFG_ERR_LEN];
	if (start_validator(app, err, sizeof(err)) != 0) {
		fprintf(stderr, "faiid: validator: %s\n", err);
		goto cleanup;
	}
	/* The registry takes the configuration; main() must not free it again. */
	struct faii_config *cfg = app->cfg;
	app->cfg = NULL;
	if (faii_appliance_init(&app->dp, cfg, app->ports, app->port_count, app->worker_count,
	                        app->pool, err, sizeof(err)) != 0) {
		fprintf(stderr, "faiid: %s\n", err);
		goto cleanup;
	}
	app->cfg = app->dp.reg.cfg;
	app->dp_ready = true;
	if (faii_settlement_running(&app->settlement) &&
	    faii_settlement_sync_init(&app->settlement_sync, app->dp.reg.capacity) != 0) {
		fprintf(stderr, "faiid: settlement: out of memory\n");
		goto cleanup;
	}
	/* Accepted attestations go to the ledger only where settlement runs. */
	app->dp.attest.enabled = faii_settlement_running(&app->settlement);
	printf("faiid: routing: %u keys published (generation %" PRIu64 ", %.1f ms)\n",
	       atomic_load(&app->dp.pub.current)->table_count, app->dp.pub.generation,
	       app->dp.pub.last_solve_s * 1e3);
	/* Before the workers start, so that a port in use stops faiid before it
	 * takes any traffic. */
	if (faii_metrics_start(FAII_METRICS_ADDRESS_DEFAULT, a->metrics_port, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "faiid: %s\n", err);
		goto cleanup;
	}
	faii_metrics_update(&app->dp);
	printf("faiid: metrics on http://%s:%u/metrics\n", FAII_METRICS_ADDRESS_DEFAULT,
	       a->metrics_port);
	printf("faiid: residency judge: %s\n", app->dp.residency_mode);
	app->dp.on_residency_event = record_residency_event;
	app->dp.on_residency_event_ctx = app;
	app->dp.on_residency_policy = sync_kernel_residency;
	app->dp.on_residency_policy_ctx = app;
	/* Every outvoted copy becomes a ledger record (slashing evidence). */
	app->dp.on_evidence = faii_evidence_log_record;
	app->dp.on_evidence_ctx = &app->evidence;
	app->dp.on_work_summary = submit_work_summary;
	app->dp.on_work_summary_ctx = app;
	if (open_control(app, err, sizeof(err)) != 0) {
		fprintf(stderr, "faiid: %s\n", err);
		goto cleanup;
	}
	if (faii_appliance_launch(&app->dp, err, sizeof(err)) != 0) {
		fprintf(stderr, "faiid: %s\n", err);
		faii_appliance_stop(&app->dp);
		goto cleanup;
	}
	printf("faiid: running with %u worker(s); Ctrl-C or SIGTERM stops\n", app->worker_count);
	fflush(stdout);
	run_until_signal(app);
	rc = app->ledger_failed ? 1 : 0;
cleanup:
	faii_metrics_stop(); /* its HTTP thread reads nothing after this */
	for (uint16_t i = 0; i < app->port_count; i++) {
		rte_eth_dev_stop(app->ports[i]);
		rte_eth_dev_close(app->ports[i]);
	}
	faii_ctl_close(app->control.server);
	app->control.server = NULL;
	faii_reload_stop(&app->control.reload);
	faii_reload_stop(&app->control.keys_reload);
	faii_consensus_stop(&app->consensus); /* its last records before the store closes */
	faii_settlement_close(&app->settlement);
	faii_settlement_sync_fini(&app->settlement_sync);
	close_ledger(app);
	if (app->dp_ready) {
		app->cfg = NULL; /* freed with the registry */
		faii_appliance_fini(&app->dp);
		app->dp_ready = false;
	}
	rte_mempool_free(app->pool);
	rte_eal_cleanup();
	if (rc == 0)
		printf("faiid: stopped cleanly\n");
	return rc;
}

int main(int argc, char **argv)
{
	int eal_argc = 0, app_argc = 0;
	char **app_argv = NULL;
	struct options opt = {.metrics_port = -1};
	char err[FAII_CFG_ERR_LEN];
	static struct appliance app;

	if (split_args(argc, argv, &eal_argc, &app_argv, &app_argc) != 0 ||
	    parse_options(app_argc, app_argv, &opt) != 0) {
		usage(stderr, "faiid");
		return 2;
	}
	if (faii_config_load(opt.config_path, &app.cfg, err) != 0) {
		fprintf(stderr, "faiid: %s\n", err);
		return 1;
	}
	if (apply_overrides(app.cfg, &opt) != 0)
		goto fail;
	app.opt = opt;

	/* EAL arguments from the command line, else from the configuration. */
	char *eal_argv[EAL_ARGV_MAX];
	int n = 0;
	eal_argv[n++] = argv[0];
	if (eal_argc > 1) {
		if (eal_argc > (int)EAL_ARGV_MAX - 1) {
			fprintf(stderr, "faiid: at most %u EAL arguments\n", EAL_ARGV_MAX - 2);
			goto fail;
		}
		for (int i = 1; i < eal_argc; i++)
			eal_argv[n++] = argv[i];
	} else {
		for (uint32_t i = 0; i < app.cfg->appliance.eal_arg_count; i++)
			eal_argv[n++] = app.cfg->appliance.eal_args[i];
	}
	eal_argv[n] = NULL;

	print_summary(app.cfg, n, eal_argv);
	if (opt.check_only) {
		printf("faiid: configuration valid\n");
		faii_config_free(app.cfg);
		return 0;
	}
	if (make_dirs(app.cfg->appliance.ledger_dir) != 0) {
		fprintf(stderr, "faiid: ledger directory %s: %s\n", app.cfg->appliance.ledger_dir,
		        strerror(errno));
		goto fail;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a peer that hangs up is an error return, not a death */
	app.start_s = faii_monotonic_s();
	app.residency_audit.map_fd = -1;
	if (open_ledger(&app) != 0) {
		close_ledger(&app);
		goto fail;
	}
	int rc = run(&app, n, eal_argv);
	faii_config_free(app.cfg);
	return rc;
fail:
	faii_config_free(app.cfg);
	return 1;
}
