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

/* BLAKE2b-256 of label || the big-endian bytes of v (len bytes) || epoch. */
static void derive(const char *label, size_t label_len, uint64_t v, unsigned len, uint8_t epoch,
                   uint8_t out[32])
{
	uint8_t input[64];
	size_t n = 0;
	for (size_t i = 0; i < label_len && n < sizeof(input); i++)
		input[n++] = (uint8_t)label[i];
	for (unsigned b = 0; b < len && n < sizeof(input); b++)
		input[n++] = (uint8_t)(v >> (8 * (len - 1 - b)));
	input[n++] = epoch;
	crypto_generichash(out, 32, input, n, NULL, 0);
}

void faii_demo_appliance_keypair(uint8_t epoch, uint8_t public_key[FAII_KX_KEY_SIZE],
                                 uint8_t secret_key[FAII_KX_KEY_SIZE])
{
	static const char label[] = "faii demo appliance key";
	uint8_t seed[crypto_kx_SEEDBYTES];
	derive(label, sizeof(label) - 1, 0, 0, epoch, seed);
	crypto_kx_seed_keypair(public_key, secret_key, seed);
	sodium_memzero(seed, sizeof(seed));
}

void faii_demo_client_key(uint64_t client_id, uint8_t epoch, uint8_t key[FAII_MAC_KEY_SIZE])
{
	static const char label[] = "faii demo client key";
	derive(label, sizeof(label) - 1, client_id, 8, epoch, key);
}
