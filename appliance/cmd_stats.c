/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * queues, latency, counters: the appliance's measurements, see docs/control.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "metrics.h"

/* ---- measurements ------------------------------------------------------------------- */

json_t *cmd_queues(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	const struct faii_queue_state *q = &c->app->queues;
	json_t *tiers = json_array(), *classes = json_object();
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
		json_array_append_new(tiers, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "tier",
		                                       t + 1, "outstanding", q->outstanding[t],
		                                       "capacity", q->capacity[t], "q", q->q[t],
		                                       "price", q->price[t], "theta", q->theta[t]));
	json_t *share = json_object(), *price = json_object();
	for (uint8_t k = 0; k < FAII_CLASS_COUNT; k++) {
		json_object_set_new(classes, faii_node_class_name(k), json_real(q->class_util[k]));
		json_object_set_new(share, faii_node_class_name(k), json_real(q->class_share[k]));
		json_object_set_new(price, faii_node_class_name(k), json_real(q->class_price[k]));
	}
	return json_pack("{s:o, s:o, s:o, s:o}", "tiers", tiers, "class_utilisation", classes,
	                 "class_share", share, "class_price", price);
}

json_t *cmd_latency(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	static struct faii_worker_stats total;
	faii_stats_sum(c->app->workers, c->app->worker_count, &total);
	json_t *tiers = json_array();
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		const uint64_t *h = total.latency_hist[t];
		uint64_t count = 0;
		json_t *buckets = json_array();
		for (unsigned b = 0; b < FAII_HIST_BUCKETS; b++) {
			count += h[b];
			if (h[b] != 0)
				json_array_append_new(
				        buckets, json_pack("{s:I, s:I}", "le_us",
				                           (json_int_t)faii_hist_bucket_upper_us(b),
				                           "count", (json_int_t)h[b]));
		}
		json_array_append_new(
		        tiers, json_pack("{s:i, s:I, s:f, s:f, s:f, s:f, s:o}", "tier", t + 1,
		                         "count", (json_int_t)count, "p50_ms",
		                         (double)faii_hist_quantile_us(h, 0.5) / 1000.0, "p90_ms",
		                         (double)faii_hist_quantile_us(h, 0.9) / 1000.0, "p99_ms",
		                         (double)faii_hist_quantile_us(h, 0.99) / 1000.0, "p999_ms",
		                         (double)faii_hist_quantile_us(h, 0.999) / 1000.0,
		                         "buckets", buckets));
	}
	return json_pack("{s:o}", "tiers", tiers);
}

static json_t *counter_object(const uint64_t *v, unsigned n, const char *(*name)(unsigned))
{
	json_t *o = json_object();
	for (unsigned i = 0; i < n; i++)
		json_object_set_new(o, name(i), json_integer((json_int_t)v[i]));
	return o;
}

static const char *drop_name(unsigned i)
{
	return faii_drop_name((enum faii_drop)i);
}
static const char *pipe_name(unsigned i)
{
	return faii_pipe_counter_name((enum faii_pipe_counter)i);
}
json_t *cmd_counters(struct faii_control *c, json_t *args, struct faii_ctl_error *err)
{
	static const char *const known[] = {NULL};
	if (!cmd_args_known(args, known, err))
		return NULL;
	static struct faii_worker_stats s;
	faii_stats_sum(c->app->workers, c->app->worker_count, &s);
	json_t *drops = json_object();
	for (unsigned r = 1; r < FAII_DROP_COUNT; r++) /* [FAII_OK] is not a drop */
		json_object_set_new(drops, drop_name(r), json_integer((json_int_t)s.drops[r]));
	json_t *slow = json_object();
	for (unsigned o = 0; o < FAII_SLOW_OUTCOME_COUNT; o++) {
		uint64_t sum = 0;
		for (unsigned t = 0; t <= FAII_MSG_TYPE_MAX; t++)
			sum += c->app->reg.slow[o][t];
		json_object_set_new(slow, faii_slow_outcome_name((enum faii_slow_outcome)o),
		                    json_integer((json_int_t)sum));
	}
	return json_pack(
	        "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:o, s:o, s:o, s:o, s:I, s:I}", "rx",
	        "packets", (json_int_t)s.rx_packets, "bytes", (json_int_t)s.rx_bytes, "task",
	        (json_int_t)s.valid[FAII_MSG_TASK], "result", (json_int_t)s.valid[FAII_MSG_RESULT],
	        "heartbeat", (json_int_t)s.valid[FAII_MSG_HEARTBEAT], "attest",
	        (json_int_t)s.valid[FAII_MSG_ATTEST], "register",
	        (json_int_t)s.valid[FAII_MSG_REGISTER], "tx_packets", (json_int_t)s.tx_packets,
	        "drops", drops, "pipeline", counter_object(s.pipe, FAII_PIPE_COUNT, pipe_name),
	        "residency",
	        counter_object(s.residency, FAII_RES_REASON_COUNT, faii_residency_counter_name),
	        "slow_path", slow, "residency_refusals",
	        (json_int_t)s.pipe[FAII_PIPE_RESIDENCY_REFUSED], "no_feasible_node",
	        (json_int_t)s.pipe[FAII_PIPE_NO_FEASIBLE]);
}
