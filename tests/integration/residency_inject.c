/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loads the real residency BPF object with its maps pinned under a bpffs
 * directory, fills the policy (node 7 in jurisdiction 1 = US, node 8 in
 * jurisdiction 0 = CH; class 2 allows CH only), and runs dispatched TASKs
 * through the XDP program with BPF_PROG_TEST_RUN: FORBIDDEN ones to node 7
 * and ALLOWED ones to node 8. The refusals wait in the pinned ring buffer for
 * faiid's audit reader. Prints the expected counts as "name count" lines.
 *
 *   residency_inject OBJECT PIN_DIR FORBIDDEN ALLOWED
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "faii/frame.h"
#include "faii/residency.h"
#include "faii/samples.h"
#include "faii/wire.h"

#define NODE_US       7u
#define NODE_CH       8u
#define CLASS_CH_ONLY 2u

static int run_task(int prog_fd, uint32_t node, uint64_t task_id)
{
	struct faii_task t = faii_sample_task();
	uint8_t msg[FAII_MSG_SIZE_MAX], frame[2048];
	t.task_id = task_id;
	t.node_id = node;
	t.dispatch_ts_ns = 1;
	t.residency_class = CLASS_CH_ONLY;
	t.consistency = FAII_CONSISTENCY_EVENTUAL;
	t.payload_len = 0;
	size_t n = faii_encode_task(msg, sizeof(msg), &t, NULL);
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	spec.dst_port = FAII_UDP_PORT_DEFAULT;
	size_t len = faii_frame_build(frame, sizeof(frame), &spec, msg, n);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
	            .repeat = 1);
	int rc = bpf_prog_test_run_opts(prog_fd, &opts);
	if (rc != 0 || len == 0) {
		fprintf(stderr, "residency_inject: test run failed: %s\n", strerror(-rc));
		return -1;
	}
	return (int)opts.retval;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: residency_inject OBJECT PIN_DIR FORBIDDEN ALLOWED\n");
		return 2;
	}
	unsigned forbidden = (unsigned)atoi(argv[3]), allowed = (unsigned)atoi(argv[4]);
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = argv[2]);
	struct bpf_object *obj = bpf_object__open_file(argv[1], &oopts);
	if (obj == NULL) {
		fprintf(stderr, "residency_inject: cannot open %s\n", argv[1]);
		return 1;
	}
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj)
	{
		if (strncmp(bpf_map__name(map), "faii_res_", 9) == 0) {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", argv[2], bpf_map__name(map));
			bpf_map__set_pin_path(map, path);
		}
	}
	if (bpf_object__load(obj) != 0) {
		fprintf(stderr, "residency_inject: cannot load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int nodes = bpf_object__find_map_fd_by_name(obj, "faii_res_nodes");
	int classes = bpf_object__find_map_fd_by_name(obj, "faii_res_classes");
	struct faii_res_node us = {.jurisdiction = 1}, ch = {.jurisdiction = 0};
	struct faii_res_class ch_only = {.allowed = 1, .defined = 1};
	uint32_t k_us = NODE_US, k_ch = NODE_CH, k_class = CLASS_CH_ONLY;
	if (bpf_map_update_elem(nodes, &k_us, &us, BPF_ANY) != 0 ||
	    bpf_map_update_elem(nodes, &k_ch, &ch, BPF_ANY) != 0 ||
	    bpf_map_update_elem(classes, &k_class, &ch_only, BPF_ANY) != 0) {
		fprintf(stderr, "residency_inject: cannot fill the maps: %s\n", strerror(errno));
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "faii_residency_xdp"));
	for (unsigned i = 0; i < forbidden; i++) {
		if (run_task(prog, NODE_US, 1000 + i) != XDP_DROP)
			return 1;
	}
	for (unsigned i = 0; i < allowed; i++) {
		if (run_task(prog, NODE_CH, 5000 + i) != XDP_PASS)
			return 1;
	}
	printf("residency_violation %u\n", forbidden);
	bpf_object__close(obj); /* the pinned maps stay for faiid */
	return 0;
}
