/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance's keys (docs/security.md): its own X25519 key pairs, from
 * which every node's RESULT MAC key is derived (crypto_kx with the node's
 * registered Ed25519 key), and the client MAC keys. Loaded from two files
 * that must not be readable by group or others; published to the workers as
 * an immutable struct faii_auth_set (include/faii/auth.h) swapped under RCU.
 * Control thread only. Secret keys are never logged, never returned by a
 * control command, and wiped when replaced or freed.
 *
 * Key files (one principal key per line, '#' starts a comment):
 *   key_file:      <epoch 0..255> <X25519 secret key, 64 hex digits>
 *                  first line: current key; an optional second line: the
 *                  previous key, still accepted during a rotation.
 *   clients_file:  <client id> <epoch 0..255> <MAC key, 64 hex digits>
 *                  at most two lines (epochs) per client id.
 *
 * Error convention: 0, or -1 with a sentence in err naming the file and line
 * (never a key); publishing returns 0 or a negative errno.
 */
#ifndef FAII_KEYS_H
#define FAII_KEYS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/auth.h"
#include "faii/config.h"

struct rte_rcu_qsbr;

#define FAII_KEYS_RETIRED_MAX  8u   /* auth sets awaiting their grace period */
#define FAII_KEYS_LINE_LEN_MAX 256u /* bytes per key file line */

struct faii_keys_appliance {
	uint8_t public_key[FAII_KX_KEY_SIZE];
	uint8_t secret_key[FAII_KX_KEY_SIZE];
	uint8_t epoch;
	uint8_t valid;
};

struct faii_keys_client {
	uint64_t client_id;
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
};

/* A node's derived keys, cached per registry slot with the public key they
 * were derived from (derivation costs two scalar multiplications). */
struct faii_keys_node_cache {
	uint8_t node_public_key[FAII_PUBKEY_SIZE];
	uint8_t derived;
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
};

struct faii_keys {
	bool enabled; /* a key file is configured: version 2 TASK/RESULT only */
	char key_file[FAII_CFG_PATH_LEN_MAX];
	char clients_file[FAII_CFG_PATH_LEN_MAX];
	struct faii_keys_appliance appliance[FAII_AUTH_KEYS_MAX]; /* [0] current */
	struct faii_keys_client *clients;
	uint32_t client_count;
	struct faii_keys_node_cache *cache;
	uint32_t cache_slots;
	uint64_t derive_failed; /* nodes whose key has no X25519 form: no RESULT accepted */
	uint64_t reloads;
	struct rte_rcu_qsbr *qsbr; /* NULL: no readers, free at once */
	_Atomic(struct faii_auth_set *) current;
	struct {
		struct faii_auth_set *set;
		uint64_t token;
	} retired[FAII_KEYS_RETIRED_MAX];
	unsigned retired_count;
	uint64_t generation;
};

/*
 * Reads the key files named by auth (relative paths are taken from the
 * configuration file's directory, config_path). An empty key_file leaves
 * authentication off. Files readable by group or others are refused.
 */
int faii_keys_init(struct faii_keys *k, const struct faii_auth_cfg *auth, const char *config_path,
                   struct rte_rcu_qsbr *qsbr, char *err, size_t errlen);
/* Reads the same files again (a rotation); on failure nothing changes. */
int faii_keys_reload(struct faii_keys *k, char *err, size_t errlen);
/* Derives what changed and publishes a new set for the registry's nodes. */
int faii_keys_publish(struct faii_keys *k, const struct faii_config *cfg, uint32_t slots);
void faii_keys_reclaim(struct faii_keys *k);
/* Frees every set and wipes the keys: the workers must have stopped. */
void faii_keys_fini(struct faii_keys *k);

#endif /* FAII_KEYS_H */
