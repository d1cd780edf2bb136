/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of the residency program's verdicts and counter slots. */
#include "faii/residency.h"

const char *faii_residency_counter_name(unsigned slot)
{
	static const char *const names[FAII_RES_COUNTER_SLOTS] = {
#define FAII_RESIDENCY_NAME(sym, name) [FAII_RES_##sym] = name,
	        FAII_RESIDENCY_REASONS(FAII_RESIDENCY_NAME)
#undef FAII_RESIDENCY_NAME
	                [FAII_RES_COUNTER_EVENTS_LOST] = "events_lost",
	};
	return slot < FAII_RES_COUNTER_SLOTS ? names[slot] : "invalid";
}
