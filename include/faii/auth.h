/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The keys the workers check version 2 TASKs and RESULTs with, shared by the
 * control thread (control/keys.c builds and publishes it) and the workers
 * (dataplane/task.c, dataplane/result.c read it). docs/security.md is the
 * policy these structures implement.
 *
 * struct faii_auth_set is immutable once published: one atomic pointer,
 * swapped by the control thread when a key, a node's key or a node's
 * registered address changes, freed after an rte_rcu_qsbr grace period (the
 * workers' quiescent report is the route set's). A worker loads the pointer
 * once per loop iteration, as it loads the route set.
 *
 * Every principal has at most two keys: the current one and, during a
 * rotation, the previous one, each named by an epoch byte that the message
 * carries (struct faii_auth_block.key_epoch).
 *
 * Error convention: lookups return NULL when there is no such client or key
 * (the caller drops the packet and counts the reason).
 */
#ifndef FAII_AUTH_H
#define FAII_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/limits.h"
#include "faii/protocol.h"

#define FAII_AUTH_KEYS_MAX    2u     /* per principal: current, previous */
#define FAII_AUTH_CLIENTS_MAX 65536u /* client keys the appliance holds */
#define FAII_AUTH_PROBES_MAX  64u    /* open addressing: longest probe sequence */

struct faii_auth_key {
	uint8_t key[FAII_MAC_KEY_SIZE];
	uint8_t epoch;
	uint8_t valid; /* 0: no key in this place */
};

/* One registry slot: where its RESULTs must come from and its keys. */
struct faii_auth_node {
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
	uint8_t addr[16];    /* network order; IPv4 in the first 4 bytes */
	uint16_t udp_port;   /* host order */
	uint8_t addr_family; /* FAII_ADDR_IPV4 / FAII_ADDR_IPV6; 0: none */
	uint8_t reserved;
};

struct faii_auth_client {
	uint64_t client_id;
	struct faii_auth_key keys[FAII_AUTH_KEYS_MAX];
	uint8_t used;
};

struct faii_auth_set {
	uint64_t generation;
	uint32_t node_count;   /* registry slots described */
	uint32_t client_slots; /* power of two, >= 2 x clients; 0: no client keys */
	uint32_t client_count;
	struct faii_auth_node *nodes;     /* [node_count], in the same allocation */
	struct faii_auth_client *clients; /* [client_slots], in the same allocation */
};

_Static_assert((FAII_AUTH_CLIENTS_MAX & (FAII_AUTH_CLIENTS_MAX - 1)) == 0, "power of two");
_Static_assert(FAII_AUTH_PROBES_MAX <= FAII_AUTH_CLIENTS_MAX, "probes within the table");

static inline uint32_t faii_auth_client_hash(uint64_t client_id)
{
	/* Client ids are chosen by whoever sends: a collision costs at most
	 * FAII_AUTH_PROBES_MAX probes, which the builder guarantees. */
	return (uint32_t)((client_id * 0x9E3779B97F4A7C15ull) >> 32);
}

/* The key of a principal for the epoch a message names, or NULL. */
static inline const struct faii_auth_key *faii_auth_key_for(const struct faii_auth_key *keys,
                                                            uint8_t epoch)
{
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		if (keys[i].valid && keys[i].epoch == epoch)
			return &keys[i];
	}
	return NULL;
}

static inline const struct faii_auth_client *faii_auth_client_find(const struct faii_auth_set *s,
                                                                   uint64_t client_id)
{
	if (s->client_slots == 0)
		return NULL;
	uint32_t mask = s->client_slots - 1;
	uint32_t i = faii_auth_client_hash(client_id) & mask;
	for (unsigned probe = 0; probe < FAII_AUTH_PROBES_MAX; probe++) {
		const struct faii_auth_client *c = &s->clients[(i + probe) & mask];
		if (!c->used)
			return NULL;
		if (c->client_id == client_id)
			return c;
	}
	return NULL;
}

#endif /* FAII_AUTH_H */
