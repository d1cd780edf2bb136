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
 *   key_file:      <epoch 0..255> <X25519 secret key, 64 hex digits> [until=T]
 *                  first line: current key (no until=); an optional second
 *                  line: the previous key, still accepted during a rotation.
 *   clients_file:  <client id> <epoch 0..255> <MAC key, 64 hex digits> [until=T]
 *                  at most two lines (epochs) per client id.
 * until=T (T = YYYY-MM-DDTHH:MM:SSZ, UTC) ends a key's acceptance at T with no
 * reload: the control thread publishes a set without it on its next tick. A
 * key whose T has passed when the file is read is skipped and counted.
 *
 * A rotation without a restart reads the files off the control thread: the
 * control thread takes a snapshot (faii_keys_stage_new), any thread reads and
 * checks the files and derives the node keys of new appliance keys
 * (faii_keys_stage_load), the control thread installs the result
 * (faii_keys_stage_install) and publishes.
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
#define FAII_KEYS_WORDS_MAX    4u   /* fields per line: client id, epoch, key, until= */

struct faii_keys_appliance {
	uint8_t public_key[FAII_KX_KEY_SIZE]; /* kept after expiry: derived keys are reused */
	uint8_t secret_key[FAII_KX_KEY_SIZE];
	uint64_t until_ns; /* Unix time the key stops being accepted; 0: until removed */
	uint8_t epoch;
	uint8_t valid;
};

struct faii_keys_client {
	uint64_t client_id;
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
	uint64_t until_ns[FAII_AUTH_KEYS_MAX]; /* per key; 0: until removed */
};

/* A node's derived keys, cached per registry slot with the public key they
 * were derived from (derivation costs two scalar multiplications): keys[i]
 * belongs to appliance[i] when bit i of derived is set (valid 0 then: the
 * node's key has no X25519 form). */
struct faii_keys_node_cache {
	uint8_t node_public_key[FAII_PUBKEY_SIZE];
	uint8_t derived;
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
};

/* What a read of the key files found: counts, epochs and deadlines, never a
 * key (a control command returns it as it is). */
struct faii_keys_summary {
	uint32_t appliance_keys;                      /* accepted now */
	uint32_t appliance_expiring;                  /* of those, with a deadline */
	uint32_t appliance_expired;                   /* skipped: deadline already passed */
	uint8_t appliance_epochs[FAII_AUTH_KEYS_MAX]; /* [0] current */
	uint32_t clients;                             /* client ids with a key accepted now */
	uint32_t client_keys;                         /* their keys */
	uint32_t client_keys_expiring;
	uint32_t client_keys_expired; /* skipped */
	uint32_t nodes_derived;       /* node keys derived for new appliance keys */
	uint32_t derive_failed;       /* of those, nodes whose key has no X25519 form */
	uint64_t next_deadline_ns;    /* earliest deadline still ahead; 0: none */
};

/*
 * One rotation in flight: made by the control thread with a snapshot of
 * what it holds, filled by faii_keys_stage_load() on any thread, installed
 * (and freed) by the control thread. Wiped when freed.
 */
struct faii_keys_stage {
	/* Snapshot (faii_keys_stage_new). */
	char key_file[FAII_CFG_PATH_LEN_MAX];
	char clients_file[FAII_CFG_PATH_LEN_MAX];
	uint32_t node_count;
	uint8_t (*node_public_key)[FAII_PUBKEY_SIZE]; /* [node_count], per registry slot */
	uint8_t held_public_key[FAII_AUTH_KEYS_MAX][FAII_KX_KEY_SIZE];
	uint8_t held_count;
	uint64_t now_ns; /* the time deadlines are judged at */
	/* What was read (faii_keys_stage_load). */
	struct faii_keys_appliance appliance[FAII_AUTH_KEYS_MAX];
	struct faii_keys_client *clients;
	uint32_t client_count;
	uint8_t derive_mask; /* bit j: node_keys[][j] derived from appliance[j] */
	struct faii_auth_key (*node_keys)[FAII_AUTH_KEYS_MAX]; /* [node_count] */
	struct faii_keys_summary summary;
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
	uint64_t expired;          /* keys dropped at their deadline */
	uint64_t next_deadline_ns; /* earliest deadline of a key held; 0: none */
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
/* Reads the same files again (a rotation) on the calling thread; on
 * failure nothing changes. */
int faii_keys_reload(struct faii_keys *k, char *err, size_t errlen);

/* Control thread: a rotation's snapshot of the key paths, the registry's
 * node keys (cfg may be NULL: none) and the appliance keys held. NULL when
 * out of memory, or authentication is off (err says which). */
struct faii_keys_stage *faii_keys_stage_new(const struct faii_keys *k,
                                            const struct faii_config *cfg, uint64_t now_ns,
                                            char *err, size_t errlen);
/* Any thread, touching only s: reads and checks the files, derives the
 * node keys of appliance keys not held. 0, or -1 with err (file:line). */
int faii_keys_stage_load(struct faii_keys_stage *s, char *err, size_t errlen);
/* Control thread: makes a loaded stage the keys in force (then publish) and
 * frees it. */
void faii_keys_stage_install(struct faii_keys *k, struct faii_keys_stage *s);
void faii_keys_stage_free(struct faii_keys_stage *s);

/* Control thread: drops the keys whose deadline is at or before now_ns;
 * true when some were dropped (publish again). One comparison when none is due. */
bool faii_keys_expire(struct faii_keys *k, uint64_t now_ns);
/* What the keys in force are, as counts (no key). */
void faii_keys_describe(const struct faii_keys *k, struct faii_keys_summary *out);
/* Derives what changed and publishes a new set for the registry's nodes. */
int faii_keys_publish(struct faii_keys *k, const struct faii_config *cfg, uint32_t slots);
void faii_keys_reclaim(struct faii_keys *k);
/* Frees every set and wipes the keys: the workers must have stopped. */
void faii_keys_fini(struct faii_keys *k);

#endif /* FAII_KEYS_H */
