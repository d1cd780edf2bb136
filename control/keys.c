/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance's keys: see include/faii/keys.h and docs/security.md.
 * Control thread only. No function here prints or returns a secret key.
 */
#include "faii/keys.h"
#include "faii/assert.h"
#include "faii/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_rcu_qsbr.h>
#include <sodium.h>

#define KEY_HEX_LEN (2u * FAII_MAC_KEY_SIZE)

/* path, or path relative to the configuration file's directory; false
 * when the result does not fit. */
static bool resolve(char *out, size_t cap, const char *path, const char *config_path)
{
	const char *slash = config_path ? strrchr(config_path, '/') : NULL;
	int n;
	if (path[0] == '/' || path[0] == '\0' || slash == NULL)
		n = snprintf(out, cap, "%s", path);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - config_path), config_path, path);
	return n >= 0 && (size_t)n < cap;
}

/* Opens a secret file: a regular file nobody but its owner may read. */
static FILE *open_secret(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen,
		         "%s: a key file must be a regular file readable by its owner only "
		         "(mode %03o; chmod 600)",
		         path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL)
		close(fd);
	return f;
}

/* One line's fields: up to three words. Returns the count, -1 if too many. */
static int split(char *line, char *words[3])
{
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL;
	     w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 3)
			return -1;
		words[n++] = w;
	}
	return n;
}

static bool parse_epoch(const char *s, uint8_t *out)
{
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || v > 255)
		return false;
	*out = (uint8_t)v;
	return true;
}

static bool parse_key(const char *hex, uint8_t out[FAII_MAC_KEY_SIZE])
{
	size_t bin_len = 0;
	return strlen(hex) == KEY_HEX_LEN &&
	       sodium_hex2bin(out, FAII_MAC_KEY_SIZE, hex, KEY_HEX_LEN, NULL, &bin_len, NULL) ==
	               0 &&
	       bin_len == FAII_MAC_KEY_SIZE;
}

static int load_appliance(const char *path, struct faii_keys_appliance out[FAII_AUTH_KEYS_MAX],
                          char *err, size_t errlen)
{
	FILE *f = open_secret(path, err, errlen);
	if (f == NULL)
		return -1;
	char line[FAII_KEYS_LINE_LEN_MAX];
	unsigned n = 0, lineno = 0;
	int rc = 0;
	memset(out, 0, FAII_AUTH_KEYS_MAX * sizeof(*out));
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *w[3];
		int words = split(line, w);
		if (words == 0)
			continue;
		if (n == FAII_AUTH_KEYS_MAX || words != 2 || !parse_epoch(w[0], &out[n].epoch) ||
		    !parse_key(w[1], out[n].secret_key) ||
		    (n == 1 && out[1].epoch == out[0].epoch)) {
			snprintf(err, errlen,
			         "%s:%u: expected \"<epoch 0..255> <64 hex digits>\", at most %u "
			         "lines with distinct epochs",
			         path, lineno, FAII_AUTH_KEYS_MAX);
			rc = -1;
			break;
		}
		crypto_scalarmult_base(out[n].public_key, out[n].secret_key);
		out[n].valid = 1;
		n++;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (rc == 0 && n == 0) {
		snprintf(err, errlen, "%s: no key", path);
		rc = -1;
	}
	if (rc != 0)
		sodium_memzero(out, FAII_AUTH_KEYS_MAX * sizeof(*out));
	return rc;
}

/* Adds (id, epoch, key) to the list; false when the client has both keys. */
static bool add_client_key(struct faii_keys_client *list, uint32_t *count, uint64_t id,
                           uint8_t epoch, const uint8_t *key)
{
	uint32_t i = 0;
	while (i < *count && list[i].client_id != id) /* load time: linear is fine */
		i++;
	if (i == *count) {
		memset(&list[i], 0, sizeof(list[i]));
		list[i].client_id = id;
		(*count)++;
	}
	struct faii_auth_key *slot = NULL;
	for (unsigned k = 0; k < FAII_AUTH_KEYS_MAX; k++) {
		if (list[i].keys[k].valid && list[i].keys[k].epoch == epoch)
			return false;
		if (!list[i].keys[k].valid && slot == NULL)
			slot = &list[i].keys[k];
	}
	if (slot == NULL)
		return false;
	memcpy(slot->key, key, FAII_MAC_KEY_SIZE);
	slot->epoch = epoch;
	slot->valid = 1;
	return true;
}

static int load_clients(const char *path, struct faii_keys_client **out, uint32_t *count, char *err,
                        size_t errlen)
{
	*out = NULL;
	*count = 0;
	if (path[0] == '\0')
		return 0;
	FILE *f = open_secret(path, err, errlen);
	if (f == NULL)
		return -1;
	struct faii_keys_client *list = calloc(FAII_AUTH_CLIENTS_MAX, sizeof(*list));
	char line[FAII_KEYS_LINE_LEN_MAX];
	unsigned lineno = 0;
	int rc = list == NULL ? -1 : 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *w[3], *end = NULL;
		uint8_t epoch, key[FAII_MAC_KEY_SIZE];
		int words = split(line, w);
		if (words == 0)
			continue;
		unsigned long long id = words == 3 ? strtoull(w[0], &end, 10) : 0;
		bool ok = words == 3 && end != w[0] && *end == '\0' && parse_epoch(w[1], &epoch) &&
		          parse_key(w[2], key) && (*count < FAII_AUTH_CLIENTS_MAX) &&
		          add_client_key(list, count, id, epoch, key);
		sodium_memzero(key, sizeof(key));
		if (!ok) {
			snprintf(err, errlen,
			         "%s:%u: expected \"<client id> <epoch 0..255> <64 hex digits>\", "
			         "at most %u keys of distinct epochs per client and %u clients",
			         path, lineno, FAII_AUTH_KEYS_MAX, FAII_AUTH_CLIENTS_MAX);
			rc = -1;
		}
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (rc != 0 && list != NULL) {
		sodium_memzero(list, FAII_AUTH_CLIENTS_MAX * sizeof(*list));
		free(list);
		*count = 0;
		return -1;
	}
	*out = list;
	return rc;
}

static void free_clients(struct faii_keys_client *list)
{
	if (list == NULL)
		return;
	sodium_memzero(list, FAII_AUTH_CLIENTS_MAX * sizeof(*list));
	free(list);
}

int faii_keys_reload(struct faii_keys *k, char *err, size_t errlen)
{
	if (!k->enabled) {
		snprintf(err, errlen, "authentication is off: no appliance.auth.key_file");
		return -1;
	}
	struct faii_keys_appliance app[FAII_AUTH_KEYS_MAX];
	struct faii_keys_client *clients = NULL;
	uint32_t count = 0;
	if (load_appliance(k->key_file, app, err, errlen) != 0)
		return -1;
	if (load_clients(k->clients_file, &clients, &count, err, errlen) != 0) {
		sodium_memzero(app, sizeof(app));
		return -1;
	}
	sodium_memzero(k->appliance, sizeof(k->appliance));
	memcpy(k->appliance, app, sizeof(app));
	sodium_memzero(app, sizeof(app));
	free_clients(k->clients);
	k->clients = clients;
	k->client_count = count;
	/* Every node's keys derive from the appliance's: derive again. */
	if (k->cache != NULL)
		sodium_memzero(k->cache, (size_t)k->cache_slots * sizeof(*k->cache));
	k->reloads++;
	return 0;
}

int faii_keys_init(struct faii_keys *k, const struct faii_auth_cfg *auth, const char *config_path,
                   struct rte_rcu_qsbr *qsbr, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	atomic_init(&k->current, NULL);
	k->qsbr = qsbr;
	if (auth->key_file[0] == '\0')
		return 0;
	if (!resolve(k->key_file, sizeof(k->key_file), auth->key_file, config_path) ||
	    !resolve(k->clients_file, sizeof(k->clients_file), auth->clients_file, config_path)) {
		snprintf(err, errlen, "appliance.auth: a key file's path is longer than %u bytes",
		         FAII_CFG_PATH_LEN_MAX - 1);
		return -1;
	}
	k->enabled = true;
	if (faii_keys_reload(k, err, errlen) != 0) {
		k->enabled = false;
		return -1;
	}
	k->reloads = 0;
	return 0;
}

/* A slot's keys: derived again only when the node's key changed. */
static void node_keys(struct faii_keys *k, uint32_t slot, const struct faii_cfg_node *n,
                      struct faii_auth_key out[FAII_AUTH_KEYS_MAX])
{
	struct faii_keys_node_cache *c = &k->cache[slot];
	if (!c->derived || memcmp(c->node_public_key, n->public_key, FAII_PUBKEY_SIZE) != 0) {
		memset(c, 0, sizeof(*c));
		memcpy(c->node_public_key, n->public_key, FAII_PUBKEY_SIZE);
		c->derived = 1;
		for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
			const struct faii_keys_appliance *a = &k->appliance[i];
			if (!a->valid)
				continue;
			if (faii_result_key_appliance(a->public_key, a->secret_key, n->public_key,
			                              c->keys[i].key) != 0) {
				k->derive_failed++;
				continue;
			}
			c->keys[i].epoch = a->epoch;
			c->keys[i].valid = 1;
		}
	}
	memcpy(out, c->keys, sizeof(c->keys));
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < FAII_AUTH_CLIENTS_MAX * 2u) /* bounded: 2^17 */
		p <<= 1;
	return p;
}

/* Places the clients by open addressing; -E2BIG when a probe run is too long. */
static int place_clients(const struct faii_keys *k, struct faii_auth_set *set)
{
	uint32_t mask = set->client_slots - 1;
	for (uint32_t i = 0; i < k->client_count; i++) {
		uint32_t h = faii_auth_client_hash(k->clients[i].client_id) & mask;
		unsigned probe = 0;
		while (probe < FAII_AUTH_PROBES_MAX && set->clients[(h + probe) & mask].used)
			probe++;
		if (probe == FAII_AUTH_PROBES_MAX)
			return -E2BIG;
		struct faii_auth_client *c = &set->clients[(h + probe) & mask];
		c->used = 1;
		c->client_id = k->clients[i].client_id;
		memcpy(c->keys, k->clients[i].keys, sizeof(c->keys));
	}
	set->client_count = k->client_count;
	FAII_ASSERT(faii_auth_client_find(set, k->clients[0].client_id) != NULL ||
	            k->client_count == 0);
	return 0;
}

static struct faii_auth_set *build_set(struct faii_keys *k, const struct faii_config *cfg,
                                       uint32_t slots)
{
	uint32_t client_slots = k->client_count ? pow2_at_least(2 * k->client_count) : 0;
	size_t size = sizeof(struct faii_auth_set) + (size_t)slots * sizeof(struct faii_auth_node) +
	              (size_t)client_slots * sizeof(struct faii_auth_client);
	struct faii_auth_set *set = calloc(1, size);
	if (set == NULL)
		return NULL;
	set->node_count = slots;
	set->client_slots = client_slots;
	set->nodes = (struct faii_auth_node *)(set + 1);
	set->clients = (struct faii_auth_client *)(set->nodes + slots);
	FAII_ASSERT(cfg->node_count <= slots && slots <= k->cache_slots);
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		const struct faii_cfg_node *n = &cfg->nodes[i];
		struct faii_auth_node *an = &set->nodes[i];
		if (n->status == FAII_NODE_REMOVED)
			continue; /* no key, no address: its RESULTs are refused */
		node_keys(k, i, n, an->keys);
		memcpy(an->addr, n->addr, sizeof(an->addr));
		an->udp_port = n->udp_port;
		an->addr_family = n->addr_family;
	}
	if (client_slots != 0 && place_clients(k, set) != 0) {
		sodium_memzero(set, size);
		free(set);
		return NULL;
	}
	return set;
}

static void free_set(struct faii_auth_set *set)
{
	if (set == NULL)
		return;
	size_t size = sizeof(*set) + (size_t)set->node_count * sizeof(struct faii_auth_node) +
	              (size_t)set->client_slots * sizeof(struct faii_auth_client);
	sodium_memzero(set, size);
	free(set);
}

void faii_keys_reclaim(struct faii_keys *k)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < k->retired_count; i++) {
		if (k->qsbr == NULL || rte_rcu_qsbr_check(k->qsbr, k->retired[i].token, false) == 1)
			free_set(k->retired[i].set);
		else
			k->retired[kept++] = k->retired[i];
	}
	k->retired_count = kept;
}

int faii_keys_publish(struct faii_keys *k, const struct faii_config *cfg, uint32_t slots)
{
	if (!k->enabled)
		return 0;
	faii_keys_reclaim(k);
	if (k->retired_count == FAII_KEYS_RETIRED_MAX)
		return -EBUSY;
	if (slots > k->cache_slots) {
		struct faii_keys_node_cache *c = calloc(slots, sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		if (k->cache != NULL) {
			memcpy(c, k->cache, (size_t)k->cache_slots * sizeof(*c));
			sodium_memzero(k->cache, (size_t)k->cache_slots * sizeof(*k->cache));
			free(k->cache);
		}
		k->cache = c;
		k->cache_slots = slots;
	}
	struct faii_auth_set *set = build_set(k, cfg, slots);
	if (set == NULL)
		return -ENOMEM;
	set->generation = ++k->generation;
	struct faii_auth_set *old =
	        atomic_exchange_explicit(&k->current, set, memory_order_acq_rel);
	if (old != NULL) {
		if (k->qsbr == NULL) {
			free_set(old);
		} else {
			k->retired[k->retired_count].set = old;
			k->retired[k->retired_count].token = rte_rcu_qsbr_start(k->qsbr);
			k->retired_count++;
		}
	}
	return 0;
}

void faii_keys_fini(struct faii_keys *k)
{
	for (unsigned i = 0; i < k->retired_count; i++)
		free_set(k->retired[i].set);
	free_set(atomic_exchange(&k->current, NULL));
	free_clients(k->clients);
	if (k->cache != NULL) {
		sodium_memzero(k->cache, (size_t)k->cache_slots * sizeof(*k->cache));
		free(k->cache);
	}
	sodium_memzero(k, sizeof(*k));
}
