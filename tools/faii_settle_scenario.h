/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-settle's scenario (docs/settlement.md, "faii-settle"): one epoch's
 * parameters and measured inputs as JSON, read into settlement's own
 * structures. Every field is range-checked and refused with its JSON path;
 * unknown fields are refused (a typo must not fall back to a default).
 *
 * Units: a field's exact form is an integer named as in struct
 * faii_settle_params / faii_settle_node_input (ppb for rates and shares,
 * base units for amounts); a rate's decimal form drops "_ppb"
 * ("theta0": [1, 2, 3, 4]) and an amount's token form adds "_tokens"
 * ("availability_rate_tokens": 1e-6); both are rounded to the nearest ppb
 * or unit. One field may be given in one form only.
 *
 * Error convention: 0 or -1; on -1 the error buffer holds "PATH: reason".
 */
#ifndef FAII_SETTLE_SCENARIO_H
#define FAII_SETTLE_SCENARIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle.h"

#define FS_ERROR_BYTES 320u
#define FS_NAME_BYTES  128u /* the scenario's optional name, with its NUL */
/* A JSON integer is signed 64 bits: the largest amount in or out. */
#define FS_AMOUNT_MAX ((uint64_t)INT64_MAX)

struct fs_scenario {
	char name[FS_NAME_BYTES];
	uint64_t epoch;
	struct faii_settle_params params;
	struct faii_settle_node_input *nodes; /* as the file lists them */
	size_t node_count;                    /* <= FAII_SETTLE_NODES_MAX */
	uint32_t *by_id;                      /* indexes into nodes, by node id ascending */
};

/* Reads a parsed scenario into sc (whose nodes the caller frees with
 * fs_scenario_free, also after an error). */
int fs_scenario_read(json_t *root, struct fs_scenario *sc, char error[FS_ERROR_BYTES]);
void fs_scenario_free(struct fs_scenario *sc);

/* "micro", "s", "m", "l", "xl". */
const char *fs_class_name(uint32_t node_class);
/* The parameters in their exact form: a scenario's "params" that reads
 * back to the same values. */
json_t *fs_params_to_json(const struct faii_settle_params *params);

#endif /* FAII_SETTLE_SCENARIO_H */
