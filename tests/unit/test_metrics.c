/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exporter's latency histograms: the dataplane's log buckets folded into
 * Prometheus `le` boundaries must be cumulative, exact in total, and never
 * count a sample under a boundary it exceeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dataplane.h"
#include "metrics.h"

static uint64_t hist[FAII_HIST_BUCKETS];
static uint64_t cum[FAII_METRICS_LE_COUNT + 1];

static void add(uint64_t us, uint64_t n)
{
	hist[faii_hist_bucket(us)] += n;
}

/* Index of a boundary by its label. */
static unsigned le(const char *label)
{
	for (unsigned i = 0; i <= FAII_METRICS_LE_COUNT; i++) {
		if (strcmp(faii_metrics_le_label(i), label) == 0)
			return i;
	}
	cr_assert_fail("no boundary %s", label);
	return 0;
}

static void reset(void)
{
	memset(hist, 0, sizeof(hist));
	memset(cum, 0xff, sizeof(cum));
}

TestSuite(metrics, .init = reset);

Test(metrics, labels_are_round_and_ordered)
{
	cr_expect_str_eq(faii_metrics_le_label(0), "5e-05");
	cr_expect_str_eq(faii_metrics_le_label(le("0.001")), "0.001");
	cr_expect_str_eq(faii_metrics_le_label(FAII_METRICS_LE_COUNT - 1), "60");
	cr_expect_str_eq(faii_metrics_le_label(FAII_METRICS_LE_COUNT), "+Inf");
	double prev = 0;
	for (unsigned i = 0; i < FAII_METRICS_LE_COUNT; i++) {
		double v = strtod(faii_metrics_le_label(i), NULL);
		cr_expect_gt(v, prev, "boundary %u not increasing", i);
		prev = v;
	}
}

Test(metrics, empty_histogram_is_all_zero)
{
	faii_metrics_hist_cumulative(hist, cum);
	for (unsigned i = 0; i <= FAII_METRICS_LE_COUNT; i++)
		cr_expect_eq(cum[i], 0);
}

Test(metrics, samples_land_at_or_above_their_boundary)
{
	add(3, 1);          /* exact small bucket: <= 50 us */
	add(47, 2);         /* log bucket [44, 48): wholly <= 50 us */
	add(50, 4);         /* bucket [48, 52) straddles 50 us: counted at 100 us */
	add(900, 8);        /* [896, 960): <= 1 ms */
	add(1000, 16);      /* [960, 1024) straddles 1 ms: counted at 2.5 ms */
	add(59000000, 32);  /* below 60 s but its bucket reaches past it: +Inf only */
	add(300000000, 64); /* beyond the histogram's range: +Inf */
	faii_metrics_hist_cumulative(hist, cum);
	cr_expect_eq(cum[le("5e-05")], 3);
	cr_expect_eq(cum[le("0.0001")], 7);
	cr_expect_eq(cum[le("0.0005")], 7);
	cr_expect_eq(cum[le("0.001")], 15);
	cr_expect_eq(cum[le("0.0025")], 31);
	cr_expect_eq(cum[le("30")], 31);
	cr_expect_eq(cum[le("60")], 31);
	cr_expect_eq(cum[le("+Inf")], 127, "+Inf is every sample");
	for (unsigned i = 1; i <= FAII_METRICS_LE_COUNT; i++)
		cr_expect_geq(cum[i], cum[i - 1], "not cumulative at %u", i);
}

Test(metrics, no_sample_counted_below_a_boundary_it_exceeds)
{
	/* Every integer value from 0 to 70 ms, one at a time: at each boundary
	 * the count may lag the truth (straddling bucket) but never exceed it,
	 * and never by more than one log bucket's width (12.5 %). */
	for (uint64_t us = 0; us <= 70000; us++)
		add(us, 1);
	faii_metrics_hist_cumulative(hist, cum);
	for (unsigned i = 0; i < FAII_METRICS_LE_COUNT; i++) {
		double bound_us = strtod(faii_metrics_le_label(i), NULL) * 1e6;
		uint64_t truth = bound_us >= 70000 ? 70001 : (uint64_t)bound_us + 1;
		cr_expect_leq(cum[i], truth, "le=%s over-counts", faii_metrics_le_label(i));
		cr_expect_geq((double)cum[i], (double)truth * 0.875 - 1, "le=%s lags too far",
		              faii_metrics_le_label(i));
	}
	cr_expect_eq(cum[FAII_METRICS_LE_COUNT], 70001);
}

Test(metrics, render_without_a_running_exporter_is_null)
{
	size_t len = 1;
	cr_expect_null(faii_metrics_render(&len));
}
