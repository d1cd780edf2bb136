/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-equilibrium's plots: one SVG per schedule, the share of installed
 * capacity by class per iteration as a stacked area, written by hand
 * (no library) with labelled axes and a legend.
 */
#ifndef FAII_EQUILIBRIUM_SVG_H
#define FAII_EQUILIBRIUM_SVG_H

#include "faii_equilibrium_model.h"

/* Writes DIR/equilibrium-NAME.svg (NAME: the schedule's name, characters
 * other than letters, digits, '-' and '_' made '_'). 0 or -1 with error. */
int eq_svg_write(const struct eq_scenario *scenario, uint32_t s, const struct eq_run *run,
                 const char *dir, char error[EQ_ERROR_BYTES]);

#endif /* FAII_EQUILIBRIUM_SVG_H */
