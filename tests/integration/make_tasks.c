/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a pcap of fresh client TASKs for one routing key, for feeding faiid
 * through net_pcap: submitted now, with a budget long enough to outlive the
 * daemon's start; protocol version 2, MAC'd under the samples' client's demo
 * key, as the demonstration configuration demands.
 *
 *   make_tasks OUT.pcap COUNT REGION CATEGORY CLASS BUDGET_US
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "faii/frame.h"
#include "faii/samples.h"
#include "faii/wire.h"

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr,
		        "usage: make_tasks OUT.pcap COUNT REGION CATEGORY CLASS BUDGET_US\n");
		return 2;
	}
	unsigned long count = strtoul(argv[2], NULL, 10);
	if (count == 0 || count > 100000) {
		fprintf(stderr, "make_tasks: COUNT must be 1..100000\n");
		return 2;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = dead ? pcap_dump_open(dead, argv[1]) : NULL;
	if (d == NULL) {
		fprintf(stderr, "make_tasks: cannot write %s\n", argv[1]);
		return 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	struct faii_frame_spec spec = faii_sample_frame_spec(false);
	for (unsigned long i = 0; i < count; i++) {
		struct faii_task t = faii_sample_task();
		t.task_id = now ^ (0x5A5A000000000000ull + i);
		t.submit_ts_ns = now;
		t.origin_region = (uint16_t)atoi(argv[3]);
		t.category = (uint8_t)atoi(argv[4]);
		t.tier = faii_category_tier(t.category);
		t.residency_class = (uint16_t)atoi(argv[5]);
		t.latency_budget_us = (uint32_t)strtoul(argv[6], NULL, 10);
		t.consistency = FAII_CONSISTENCY_EVENTUAL;
		t.payload_len = 16;
		uint8_t payload[16] = {0}, msg[FAII_MSG_SIZE_MAX], f[1600];
		size_t len = faii_sample_encode_task(msg, sizeof(msg), &t, payload);
		size_t n = len ? faii_frame_build(f, sizeof(f), &spec, msg, len) : 0;
		if (n == 0) {
			fprintf(stderr, "make_tasks: cannot encode task %lu\n", i);
			return 1;
		}
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n};
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}
