/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-residency: the operator's loader of the data-residency BPF program on
 * kernel interfaces (docs/residency.md).
 *
 *   faii-residency load|sync            --config FILE [--pin-dir DIR]
 *   faii-residency attach-xdp IFACE     [--mode auto|native|generic]
 *   faii-residency attach-tc IFACE
 *   faii-residency detach IFACE
 *   faii-residency unload|show|stats    [--json]
 *
 * The pin directory is --pin-dir, else the configuration's
 * appliance.residency_pin_dir, else its default /sys/fs/bpf/faii. Exit
 * status: 0 done, 1 failed (one message on stderr), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/config.h"
#include "faii/residency_loader.h"

enum command { C_LOAD, C_SYNC, C_ATTACH_XDP, C_ATTACH_TC, C_DETACH, C_UNLOAD, C_SHOW, C_STATS };

static const struct {
	const char *name;
	bool needs_iface;
	bool needs_config;
} commands[] = {
        [C_LOAD] = {"load", false, true},
        [C_SYNC] = {"sync", false, true},
        [C_ATTACH_XDP] = {"attach-xdp", true, false},
        [C_ATTACH_TC] = {"attach-tc", true, false},
        [C_DETACH] = {"detach", true, false},
        [C_UNLOAD] = {"unload", false, false},
        [C_SHOW] = {"show", false, false},
        [C_STATS] = {"stats", false, false},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: faii-residency COMMAND [IFACE] [--config FILE] [--pin-dir DIR]\n"
	        "  load              load the program, pin it, fill the policy from --config\n"
	        "  sync              replace the policy (and UDP port) by --config's, atomically\n"
	        "                    for packets; loads when nothing is pinned\n"
	        "  attach-xdp IFACE  attach with XDP [--mode auto|native|generic] (default auto)\n"
	        "  attach-tc IFACE   attach as a TC egress filter (clsact, direct action)\n"
	        "  detach IFACE      remove the program from IFACE's XDP hook and TC egress\n"
	        "  unload            detach everywhere in this network namespace, unpin\n"
	        "  show              pins, ids, UDP port, policy, attachments\n"
	        "  stats [--json]    verdict counters, summed over CPUs\n"
	        "The pin directory defaults to the configuration's appliance.residency_pin_dir\n"
	        "(default /sys/fs/bpf/faii), which must be on a bpf filesystem.\n");
}

static int print_stats(const char *pin_dir, bool json)
{
	uint64_t counters[FAII_RES_COUNTER_SLOTS];
	char err[FAII_RES_ERR_LEN];
	if (faii_res_read_counters(pin_dir, counters, err) != 0) {
		fprintf(stderr, "faii-residency: %s\n", err);
		return 1;
	}
	if (json)
		putchar('{');
	for (unsigned i = 0; i < FAII_RES_COUNTER_SLOTS; i++) {
		if (json)
			printf("%s\"%s\": %llu", i ? ", " : "", faii_res_counter_name(i),
			       (unsigned long long)counters[i]);
		else
			printf("%-20s %llu\n", faii_res_counter_name(i),
			       (unsigned long long)counters[i]);
	}
	if (json)
		printf("}\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'}, {"pin-dir", required_argument, NULL, 'p'},
	        {"mode", required_argument, NULL, 'm'},   {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *pin_dir = NULL;
	enum faii_res_xdp_mode mode = FAII_RES_XDP_AUTO;
	bool json = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:p:m:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'p': pin_dir = optarg; break;
		case 'j': json = true; break;
		case 'm':
			if (strcmp(optarg, "auto") == 0) {
				mode = FAII_RES_XDP_AUTO;
			} else if (strcmp(optarg, "native") == 0) {
				mode = FAII_RES_XDP_NATIVE;
			} else if (strcmp(optarg, "generic") == 0) {
				mode = FAII_RES_XDP_GENERIC;
			} else {
				fprintf(stderr,
				        "faii-residency: --mode: expected auto, native or "
				        "generic, found \"%s\"\n",
				        optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	int cmd = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = (int)i;
	}
	if (cmd < 0) {
		fprintf(stderr, "faii-residency: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	const char *iface = NULL;
	int positional = argc - optind - 1;
	if (commands[cmd].needs_iface) {
		if (positional != 1) {
			fprintf(stderr, "faii-residency: %s needs one interface name\n",
			        commands[cmd].name);
			return 2;
		}
		iface = argv[optind + 1];
	} else if (positional != 0) {
		fprintf(stderr, "faii-residency: %s takes no argument, found \"%s\"\n",
		        commands[cmd].name, argv[optind + 1]);
		return 2;
	}
	if (commands[cmd].needs_config && config_path == NULL) {
		fprintf(stderr, "faii-residency: %s needs --config FILE\n", commands[cmd].name);
		return 2;
	}

	char err[FAII_RES_ERR_LEN] = "";
	struct faii_config *cfg = NULL;
	if (config_path) {
		char cerr[FAII_CFG_ERR_LEN];
		if (faii_config_load(config_path, &cfg, cerr) != 0) {
			fprintf(stderr, "faii-residency: %s\n", cerr);
			return 1;
		}
	}
	struct faii_appliance_cfg defaults;
	faii_appliance_defaults(&defaults);
	if (pin_dir == NULL)
		pin_dir = cfg ? cfg->appliance.residency_pin_dir : defaults.residency_pin_dir;

	int rc = 0;
	struct faii_res_sync_report report;
	unsigned removed = 0;
	switch ((enum command)cmd) {
	case C_LOAD:
		rc = faii_res_load(cfg, pin_dir, err);
		if (rc == 0)
			printf("loaded: %u nodes, %u classes, udp port %u, pinned under %s\n",
			       cfg->node_count, cfg->residency_class_count, cfg->appliance.udp_port,
			       pin_dir);
		break;
	case C_SYNC:
		rc = faii_res_sync(cfg, pin_dir, &report, err);
		if (rc == 0)
			printf("%s: %u nodes, %u classes, udp port %u, %u node ports; %u XDP and "
			       "%u TC attachments moved to the new policy\n",
			       report.first_load ? "loaded" : "synced", report.nodes,
			       report.classes, cfg->appliance.udp_port, report.ports,
			       report.xdp_swapped, report.tc_swapped);
		break;
	case C_ATTACH_XDP: rc = faii_res_attach_xdp(pin_dir, iface, mode, err); break;
	case C_ATTACH_TC: rc = faii_res_attach_tc(pin_dir, iface, err); break;
	case C_DETACH:
		rc = faii_res_detach(pin_dir, iface, &removed, err);
		if (rc == 0)
			printf("%s: %u attachment%s removed\n", iface, removed,
			       removed == 1 ? "" : "s");
		break;
	case C_UNLOAD: rc = faii_res_unload(pin_dir, err); break;
	case C_SHOW: rc = faii_res_show(pin_dir, cfg, stdout, err); break;
	case C_STATS: faii_config_free(cfg); return print_stats(pin_dir, json);
	}
	faii_config_free(cfg);
	if (rc != 0) {
		fprintf(stderr, "faii-residency: %s\n", err);
		return 1;
	}
	return 0;
}
