/* SPDX-License-Identifier: BSD-3-Clause */
/* Deterministic demo-fleet keys: see include/faii/demo.h. */
#include "faii/demo.h"

#include <sodium.h>

void faii_demo_node_keypair(uint32_t node_id, uint8_t public_key[FAII_PUBKEY_SIZE],
                            uint8_t secret_key[64])
{
	static const char label[] = "faii demo node key";
	uint8_t input[sizeof(label) - 1 + 4];
	uint8_t seed[crypto_sign_SEEDBYTES];

	for (size_t i = 0; i < sizeof(label) - 1; i++)
		input[i] = (uint8_t)label[i];
	for (int b = 0; b < 4; b++)
		input[sizeof(label) - 1 + (size_t)b] = (uint8_t)(node_id >> (24 - 8 * b));
	crypto_generichash(seed, sizeof(seed), input, sizeof(input), NULL, 0);
	crypto_sign_seed_keypair(public_key, secret_key, seed);
	sodium_memzero(seed, sizeof(seed));
}
