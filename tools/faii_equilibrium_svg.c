/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The share of installed capacity by class per iteration, as a stacked
 * area in SVG 1.1, written by hand (faii_equilibrium_svg.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"
#include "faii_equilibrium_svg.h"

#define SVG_WIDTH      760
#define SVG_HEIGHT     440
#define PLOT_LEFT      70
#define PLOT_TOP       50
#define PLOT_WIDTH     520
#define PLOT_HEIGHT    320
#define LEGEND_LEFT    610
#define X_TICKS_MAX    10u
#define SVG_POINTS_MAX 1000u /* rounds drawn per area; more are sampled evenly */
#define SVG_PATH_BYTES 4096u

/* One colour per class, told apart also in grey. */
static const char *const COLOURS[EQ_CLASSES_MAX] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                                    "#66a61e"};

static void put_escaped(FILE *f, const char *text)
{
	for (const char *c = text; *c; c++) {
		switch (*c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*c, f);
		}
	}
}

static double x_of(uint32_t round, uint32_t rounds)
{
	return PLOT_LEFT + (rounds == 0 ? 0 : (double)PLOT_WIDTH * round / rounds);
}

static double y_of(double share)
{
	return PLOT_TOP + PLOT_HEIGHT * (1 - share);
}

/* The cumulative capacity share of classes 0..upto-1 in one round. */
static double stacked(const struct eq_scenario *sc, const struct eq_run *run, uint32_t round,
                      uint32_t upto)
{
	const uint32_t *nodes = &run->mix[round * sc->class_count];
	double total = 0, below = 0;
	for (uint32_t i = 0; i < sc->class_count; i++) {
		double c = nodes[i] * sc->classes[i].capacity;
		total += c;
		if (i < upto)
			below += c;
	}
	return total > 0 ? below / total : 0;
}

static void area(FILE *f, const struct eq_scenario *sc, const struct eq_run *run, uint32_t i)
{
	uint32_t rounds = run->iterations;
	uint32_t stride = rounds / SVG_POINTS_MAX + 1;
	fprintf(f, "<polygon fill=\"%s\" stroke=\"none\" points=\"", COLOURS[i]);
	/* Upper edge left to right, then the lower edge back. */
	for (uint32_t r = 0;; r = r + stride < rounds ? r + stride : rounds) {
		fprintf(f, "%.1f,%.1f ", x_of(r, rounds), y_of(stacked(sc, run, r, i + 1)));
		if (r == rounds)
			break;
	}
	for (int64_t r = rounds;; r = r - stride > 0 ? r - stride : 0) {
		fprintf(f, "%.1f,%.1f ", x_of((uint32_t)r, rounds),
		        y_of(stacked(sc, run, (uint32_t)r, i)));
		if (r == 0)
			break;
	}
	fputs("\"/>\n", f);
}

/* A round step of 1, 2 or 5 times a power of ten, at most X_TICKS_MAX ticks. */
static uint32_t tick_step(uint32_t rounds)
{
	for (uint32_t scale = 1;; scale *= 10)
		for (uint32_t m = 1; m <= 5; m += m == 1 ? 1 : 3)
			if (rounds / (m * scale) < X_TICKS_MAX)
				return m * scale;
}

static void axes(FILE *f, uint32_t rounds)
{
	fprintf(f, "<g stroke=\"#000\" stroke-width=\"1\">\n");
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", PLOT_LEFT,
	        PLOT_TOP + PLOT_HEIGHT, PLOT_LEFT + PLOT_WIDTH, PLOT_TOP + PLOT_HEIGHT);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n</g>\n", PLOT_LEFT, PLOT_TOP,
	        PLOT_LEFT, PLOT_TOP + PLOT_HEIGHT);
	fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"end\">\n");
	for (int pct = 0; pct <= 100; pct += 20)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">%d %%</text>\n", PLOT_LEFT - 6,
		        y_of(pct / 100.0) + 4, pct);
	fprintf(f, "</g>\n<g font-family=\"sans-serif\" font-size=\"12\" "
	           "text-anchor=\"middle\">\n");
	uint32_t step = tick_step(rounds);
	for (uint32_t r = 0; r <= rounds; r += step)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\">%u</text>\n", x_of(r, rounds),
		        PLOT_TOP + PLOT_HEIGHT + 18, r);
	fprintf(f, "<text x=\"%d\" y=\"%d\">iteration (best-response round)</text>\n",
	        PLOT_LEFT + PLOT_WIDTH / 2, PLOT_TOP + PLOT_HEIGHT + 40);
	fprintf(f,
	        "<text transform=\"translate(18,%d) rotate(-90)\">share of installed "
	        "capacity</text>\n</g>\n",
	        PLOT_TOP + PLOT_HEIGHT / 2);
}

static void legend(FILE *f, const struct eq_scenario *sc)
{
	fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\">\n");
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">class</text>\n", LEGEND_LEFT,
	        PLOT_TOP + 10);
	/* Top of the stack first, as the areas read. */
	for (uint32_t n = 0; n < sc->class_count; n++) {
		uint32_t i = sc->class_count - 1 - n;
		int y = PLOT_TOP + 24 + 20 * (int)n;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>\n",
		        LEGEND_LEFT, y, COLOURS[i]);
		fprintf(f, "<text x=\"%d\" y=\"%d\">", LEGEND_LEFT + 20, y + 11);
		put_escaped(f, sc->classes[i].name);
		fputs("</text>\n", f);
	}
	fputs("</g>\n", f);
}

static void plot(FILE *f, const struct eq_scenario *sc, uint32_t s, const struct eq_run *run)
{
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
	        SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
	fputs("<title>", f);
	put_escaped(f, sc->name);
	fputs(": ", f);
	put_escaped(f, sc->schedules[s].name);
	fputs(" schedule</title>\n", f);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", SVG_WIDTH, SVG_HEIGHT);
	fprintf(f,
	        "<text x=\"%d\" y=\"28\" font-family=\"sans-serif\" font-size=\"15\">"
	        "Fleet mix under the ",
	        PLOT_LEFT);
	put_escaped(f, sc->schedules[s].name);
	fprintf(f, " schedule (%s after %u iterations)</text>\n",
	        run->converged ? "equilibrium" : "not converged", run->iterations);
	for (uint32_t i = 0; i < sc->class_count; i++)
		area(f, sc, run, i);
	axes(f, run->iterations);
	legend(f, sc);
	fputs("</svg>\n", f);
}

int eq_svg_write(const struct eq_scenario *sc, uint32_t s, const struct eq_run *run,
                 const char *dir, char error[EQ_ERROR_BYTES])
{
	char file[EQ_NAME_BYTES], path[SVG_PATH_BYTES];
	const char *name = sc->schedules[s].name;
	size_t n = strlen(name);
	FAII_ASSERT(n < EQ_NAME_BYTES);
	for (size_t k = 0; k <= n; k++) {
		char c = name[k];
		bool keep = c == '\0' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		file[k] = keep ? c : '_';
	}
	int len = snprintf(path, sizeof(path), "%s/equilibrium-%s.svg", dir, file);
	if (len < 0 || (size_t)len >= sizeof(path)) {
		snprintf(error, EQ_ERROR_BYTES, "--svg: directory path too long");
		return -1;
	}
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		snprintf(error, EQ_ERROR_BYTES, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	plot(f, sc, s, run);
	if (fclose(f) != 0) {
		snprintf(error, EQ_ERROR_BYTES, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
