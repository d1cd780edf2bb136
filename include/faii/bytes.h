/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Little-endian integers in byte buffers: every format the ledger signs,
 * hashes or stores (consensus messages, settlement transactions, payout
 * leaves) is little-endian whatever the host, so these are the one place
 * the byte order is written down. A ground header: it depends on nothing.
 */
#ifndef FAII_BYTES_H
#define FAII_BYTES_H

#include <stdint.h>

static inline void faii_put_le16(uint8_t *at, uint16_t value)
{
	at[0] = (uint8_t)value;
	at[1] = (uint8_t)(value >> 8);
}

static inline void faii_put_le32(uint8_t *at, uint32_t value)
{
	for (int i = 0; i < 4; i++)
		at[i] = (uint8_t)(value >> (8 * i));
}

static inline void faii_put_le64(uint8_t *at, uint64_t value)
{
	for (int i = 0; i < 8; i++)
		at[i] = (uint8_t)(value >> (8 * i));
}

static inline uint16_t faii_get_le16(const uint8_t *at)
{
	return (uint16_t)(at[0] | (uint16_t)at[1] << 8);
}

static inline uint32_t faii_get_le32(const uint8_t *at)
{
	uint32_t value = 0;
	for (int i = 0; i < 4; i++)
		value |= (uint32_t)at[i] << (8 * i);
	return value;
}

static inline uint64_t faii_get_le64(const uint8_t *at)
{
	uint64_t value = 0;
	for (int i = 0; i < 8; i++)
		value |= (uint64_t)at[i] << (8 * i);
	return value;
}

#endif /* FAII_BYTES_H */
