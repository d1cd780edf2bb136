/* SPDX-License-Identifier: BSD-3-Clause */
/* The failure path of FAII_ASSERT: see include/faii/assert.h. */
#include "faii/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void faii_assert_fail(const char *file, int line, const char *func, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* One write, so that concurrent failures on two threads do not interleave. */
	fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", file, line, func, what);
	fflush(stderr);
	abort();
}
