/* SPDX-License-Identifier: BSD-3-Clause */
/* Integer amounts and rates, rounded down, remainders returned: see
 * include/faii/settle.h. */
#include <errno.h>

#include "faii/assert.h"
#include "faii/settle.h"

int faii_settle_mul_ppb(uint64_t amount, uint64_t rate_ppb, uint64_t *result,
                        uint64_t *remainder_out)
{
	unsigned __int128 product = (unsigned __int128)amount * rate_ppb;
	unsigned __int128 quotient = product / FAII_SETTLE_PPB_ONE;
	if (quotient > UINT64_MAX)
		return -EOVERFLOW;
	*result = (uint64_t)quotient;
	if (remainder_out != NULL)
		*remainder_out = (uint64_t)(product % FAII_SETTLE_PPB_ONE);
	FAII_ASSERT(rate_ppb > FAII_SETTLE_PPB_ONE || *result <= amount);
	return 0;
}

uint64_t faii_settle_clamp(uint64_t value, uint64_t low, uint64_t high)
{
	FAII_ASSERT(low <= high);
	return value < low ? low : value > high ? high : value;
}

int faii_settle_split(uint64_t total, const uint64_t *weights, size_t count, uint64_t *shares,
                      uint64_t *remainder)
{
	unsigned __int128 sum = 0;
	for (size_t i = 0; i < count; i++)
		sum += weights[i];
	if (count == 0 || sum == 0)
		return -EINVAL;
	uint64_t given = 0;
	for (size_t i = 0; i < count; i++) {
		shares[i] = (uint64_t)((unsigned __int128)total * weights[i] / sum);
		given += shares[i];
	}
	FAII_ASSERT(given <= total);
	*remainder = total - given;
	/* Each share lost less than one unit to rounding. */
	FAII_ASSERT(*remainder < count);
	return 0;
}
