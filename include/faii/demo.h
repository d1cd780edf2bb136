/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Deterministic identities of the demonstration fleet (configs/demo.yaml).
 *
 * A demo node's Ed25519 key pair derives from its id alone, so the simulated
 * fleet can sign heartbeats and attestations that the appliance verifies
 * against the public keys in the configuration. Never use these keys outside
 * a demonstration or a test: anyone can derive them.
 *
 * Error convention: none; key derivation cannot fail.
 */
#ifndef FAII_DEMO_H
#define FAII_DEMO_H

#include <stdint.h>

#include "faii/protocol.h"

/* The demonstration's key files (gen_demo_config --keys) hold the appliance
 * key and the keys of clients 1..FAII_DEMO_CLIENT_COUNT (the simulated
 * clients and the samples' client 77), all of epoch FAII_DEMO_KEY_EPOCH
 * unless told otherwise. */
#define FAII_DEMO_KEY_EPOCH    1u
#define FAII_DEMO_CLIENT_COUNT 100u

/* seed = BLAKE2b-256("faii demo node key" || node_id as 4 big-endian bytes) */
void faii_demo_node_keypair(uint32_t node_id, uint8_t public_key[FAII_PUBKEY_SIZE],
                            uint8_t secret_key[64]);

/* The demo appliance's X25519 key pair of a key epoch (crypto_kx):
 * seed = BLAKE2b-256("faii demo appliance key" || epoch). */
void faii_demo_appliance_keypair(uint8_t epoch, uint8_t public_key[FAII_KX_KEY_SIZE],
                                 uint8_t secret_key[FAII_KX_KEY_SIZE]);

/* A demo client's TASK MAC key of a key epoch:
 * BLAKE2b-256("faii demo client key" || client id, 8 bytes big-endian || epoch). */
void faii_demo_client_key(uint64_t client_id, uint8_t epoch, uint8_t key[FAII_MAC_KEY_SIZE]);

#endif /* FAII_DEMO_H */
