/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance's keys: see include/faii/keys.h and docs/security.md.
 * Control thread only. No function here prints or returns a secret key.
 */
#include "faii/keys.h"
#include "faii/assert.h"
#include "faii/clock.h"
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
	/* O_NONBLOCK: a FIFO is refused below instead of waited on. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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

/* One line's fields: up to FAII_KEYS_WORDS_MAX words. Returns the count,
 * -1 if too many. */
static int split(char *line, char *words[FAII_KEYS_WORDS_MAX])
{
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL;
	     w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == (int)FAII_KEYS_WORDS_MAX)
			return -1;
		words[n++] = w;
	}
	return n;
}

static bool parse_epoch(const char *s, uint8_t *out)
{
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || v > 255 || s[0] == '-' || s[0] == '+')
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

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "until=YYYY-MM-DDTHH:MM:SSZ" (UTC, 1970..2500) as Unix nanoseconds. */
static bool parse_until(const char *s, uint64_t *out)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, sec;
	int used = -1;
	if (strncmp(s, "until=", 6) != 0 || strlen(s) != 6 + 20 ||
	    sscanf(s + 6, "%4u-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
	    used != 20)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || y > 2500 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
		return false;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*out = (uint64_t)t * 1000000000ull;
	return true;
}

/* The optional last word of a line: 0 when absent, false when malformed. */
static bool parse_optional_until(char *const *w, int words, int fixed, uint64_t *until)
{
	*until = 0;
	return words == fixed || (words == fixed + 1 && parse_until(w[fixed], until));
}

static void note_deadline(struct faii_keys_summary *sum, uint64_t until_ns)
{
	if (until_ns != 0 && (sum->next_deadline_ns == 0 || until_ns < sum->next_deadline_ns))
		sum->next_deadline_ns = until_ns;
}

/* One appliance key line into out[*n]; false when the line is malformed. */
static bool appliance_line(char *const *w, int words, struct faii_keys_appliance *out, unsigned *n,
                           uint64_t now_ns, struct faii_keys_summary *sum)
{
	struct faii_keys_appliance *a = &out[*n];
	uint64_t until;
	if (*n == FAII_AUTH_KEYS_MAX || words < 2 || !parse_epoch(w[0], &a->epoch) ||
	    !parse_key(w[1], a->secret_key) || !parse_optional_until(w, words, 2, &until) ||
	    (*n == 0 && until != 0) || (*n == 1 && a->epoch == out[0].epoch))
		return false;
	if (until != 0 && until <= now_ns) { /* its overlap is over: skip it */
		sodium_memzero(a, sizeof(*a));
		sum->appliance_expired++;
		return true;
	}
	crypto_scalarmult_base(a->public_key, a->secret_key);
	a->until_ns = until;
	a->valid = 1;
	sum->appliance_epochs[*n] = a->epoch;
	sum->appliance_expiring += until != 0;
	note_deadline(sum, until);
	(*n)++;
	return true;
}

static int load_appliance(const char *path, struct faii_keys_appliance out[FAII_AUTH_KEYS_MAX],
                          uint64_t now_ns, struct faii_keys_summary *sum, char *err, size_t errlen)
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
		char *w[FAII_KEYS_WORDS_MAX];
		int words = split(line, w);
		if (words == 0)
			continue;
		if (!appliance_line(w, words, out, &n, now_ns, sum)) {
			snprintf(err, errlen,
			         "%s:%u: expected \"<epoch 0..255> <64 hex digits> "
			         "[until=YYYY-MM-DDTHH:MM:SSZ]\", at most %u lines with distinct "
			         "epochs, no until= on the first (current) key",
			         path, lineno, FAII_AUTH_KEYS_MAX);
			rc = -1;
		}
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (rc == 0 && n == 0) {
		snprintf(err, errlen, "%s: no key accepted now", path);
		rc = -1;
	}
	if (rc != 0)
		sodium_memzero(out, FAII_AUTH_KEYS_MAX * sizeof(*out));
	sum->appliance_keys = n;
	return rc;
}

/* Adds (id, epoch, key, until) to the list; false when the client has both
 * keys or one of that epoch. */
static bool add_client_key(struct faii_keys_client *list, uint32_t *count, uint64_t id,
                           uint8_t epoch, const uint8_t *key, uint64_t until)
{
	uint32_t i = 0;
	while (i < *count && list[i].client_id != id) /* load time: linear is fine */
		i++;
	if (i == *count) {
		if (*count == FAII_AUTH_CLIENTS_MAX)
			return false;
		memset(&list[i], 0, sizeof(list[i]));
		list[i].client_id = id;
		(*count)++;
	}
	unsigned slot = FAII_AUTH_KEYS_MAX;
	for (unsigned k = 0; k < FAII_AUTH_KEYS_MAX; k++) {
		if (list[i].keys[k].valid && list[i].keys[k].epoch == epoch)
			return false;
		if (!list[i].keys[k].valid && slot == FAII_AUTH_KEYS_MAX)
			slot = k;
	}
	if (slot == FAII_AUTH_KEYS_MAX)
		return false;
	memcpy(list[i].keys[slot].key, key, FAII_MAC_KEY_SIZE);
	list[i].keys[slot].epoch = epoch;
	list[i].keys[slot].valid = 1;
	list[i].until_ns[slot] = until;
	return true;
}

/* One client key line; false when it is malformed or one too many. */
static bool client_line(char *const *w, int words, struct faii_keys_client *list, uint32_t *count,
                        uint64_t now_ns, struct faii_keys_summary *sum)
{
	char *end = NULL;
	uint8_t epoch, key[FAII_MAC_KEY_SIZE];
	uint64_t until;
	unsigned long long id = words >= 3 ? strtoull(w[0], &end, 10) : 0;
	bool ok = words >= 3 && end != w[0] && *end == '\0' && w[0][0] != '-' &&
	          parse_epoch(w[1], &epoch) && parse_key(w[2], key) &&
	          parse_optional_until(w, words, 3, &until);
	if (ok && until != 0 && until <= now_ns) {
		sum->client_keys_expired++; /* its overlap is over: skip it */
	} else if (ok) {
		ok = add_client_key(list, count, id, epoch, key, until);
		sum->client_keys += ok;
		sum->client_keys_expiring += ok && until != 0;
		note_deadline(sum, until);
	}
	sodium_memzero(key, sizeof(key));
	return ok;
}

static int load_clients(const char *path, struct faii_keys_client **out, uint32_t *count,
                        uint64_t now_ns, struct faii_keys_summary *sum, char *err, size_t errlen)
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
	int rc = 0;
	if (list == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *w[FAII_KEYS_WORDS_MAX];
		int words = split(line, w);
		if (words == 0)
			continue;
		if (!client_line(w, words, list, count, now_ns, sum)) {
			snprintf(err, errlen,
			         "%s:%u: expected \"<client id> <epoch 0..255> <64 hex digits> "
			         "[until=YYYY-MM-DDTHH:MM:SSZ]\", at most %u keys of distinct "
			         "epochs "
			         "per client and %u clients",
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
	sum->clients = *count;
	return rc;
}

static void free_clients(struct faii_keys_client *list)
{
	if (list == NULL)
		return;
	sodium_memzero(list, FAII_AUTH_CLIENTS_MAX * sizeof(*list));
	free(list);
}

/* ---- a rotation: snapshot, load (any thread), install --------------------------- */

struct faii_keys_stage *faii_keys_stage_new(const struct faii_keys *k,
                                            const struct faii_config *cfg, uint64_t now_ns,
                                            char *err, size_t errlen)
{
	if (!k->enabled) {
		snprintf(err, errlen, "authentication is off: no appliance.auth.key_file");
		return NULL;
	}
	struct faii_keys_stage *s = calloc(1, sizeof(*s));
	uint32_t nodes = cfg != NULL ? cfg->node_count : 0;
	if (s != NULL && nodes != 0) {
		s->node_public_key = calloc(nodes, sizeof(*s->node_public_key));
		s->node_keys = calloc(nodes, sizeof(*s->node_keys));
	}
	if (s == NULL || (nodes != 0 && (s->node_public_key == NULL || s->node_keys == NULL))) {
		faii_keys_stage_free(s);
		snprintf(err, errlen, "out of memory for a key reload");
		return NULL;
	}
	memcpy(s->key_file, k->key_file, sizeof(s->key_file));
	memcpy(s->clients_file, k->clients_file, sizeof(s->clients_file));
	s->node_count = nodes;
	for (uint32_t i = 0; i < nodes; i++)
		memcpy(s->node_public_key[i], cfg->nodes[i].public_key, FAII_PUBKEY_SIZE);
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		if (!sodium_is_zero(k->appliance[i].public_key, FAII_KX_KEY_SIZE))
			memcpy(s->held_public_key[s->held_count++], k->appliance[i].public_key,
			       FAII_KX_KEY_SIZE);
	}
	s->now_ns = now_ns;
	return s;
}

static bool held(const struct faii_keys_stage *s, const uint8_t public_key[FAII_KX_KEY_SIZE])
{
	for (unsigned i = 0; i < s->held_count; i++) {
		if (memcmp(s->held_public_key[i], public_key, FAII_KX_KEY_SIZE) == 0)
			return true;
	}
	return false;
}

/* The node keys of the appliance keys the control thread does not hold. */
static void derive_new(struct faii_keys_stage *s)
{
	for (unsigned j = 0; j < FAII_AUTH_KEYS_MAX; j++) {
		const struct faii_keys_appliance *a = &s->appliance[j];
		if (!a->valid || held(s, a->public_key))
			continue;
		s->derive_mask |= (uint8_t)(1u << j);
		for (uint32_t n = 0; n < s->node_count; n++) {
			struct faii_auth_key *out = &s->node_keys[n][j];
			if (faii_result_key_appliance(a->public_key, a->secret_key,
			                              s->node_public_key[n], out->key) != 0) {
				s->summary.derive_failed++;
				continue;
			}
			out->epoch = a->epoch;
			out->valid = 1;
			s->summary.nodes_derived++;
		}
	}
}

int faii_keys_stage_load(struct faii_keys_stage *s, char *err, size_t errlen)
{
	memset(&s->summary, 0, sizeof(s->summary));
	if (load_appliance(s->key_file, s->appliance, s->now_ns, &s->summary, err, errlen) != 0)
		return -1;
	if (load_clients(s->clients_file, &s->clients, &s->client_count, s->now_ns, &s->summary,
	                 err, errlen) != 0) {
		sodium_memzero(s->appliance, sizeof(s->appliance));
		return -1;
	}
	derive_new(s);
	return 0;
}

void faii_keys_stage_free(struct faii_keys_stage *s)
{
	if (s == NULL)
		return;
	free_clients(s->clients);
	if (s->node_keys != NULL) {
		sodium_memzero(s->node_keys, (size_t)s->node_count * sizeof(*s->node_keys));
		free(s->node_keys);
	}
	free(s->node_public_key);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* A cache slot's keys for the new appliance keys: reused where the appliance
 * key is unchanged, taken from the stage where it derived them for the same
 * node key, else left to derive at the next publish. */
static void remap_cache(const struct faii_keys *k, const struct faii_keys_stage *s, uint32_t slot,
                        struct faii_keys_node_cache *c)
{
	struct faii_keys_node_cache neu = {.derived = 0};
	memcpy(neu.node_public_key, c->node_public_key, FAII_PUBKEY_SIZE);
	bool staged = slot < s->node_count;
	if (staged && memcmp(s->node_public_key[slot], c->node_public_key, FAII_PUBKEY_SIZE) != 0) {
		if (c->derived != 0)
			staged = false; /* the node's key changed since the snapshot */
		else
			memcpy(neu.node_public_key, s->node_public_key[slot], FAII_PUBKEY_SIZE);
	}
	for (unsigned j = 0; j < FAII_AUTH_KEYS_MAX; j++) {
		const struct faii_keys_appliance *a = &s->appliance[j];
		if (!a->valid)
			continue;
		for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX && !(neu.derived & (1u << j)); i++) {
			if ((c->derived & (1u << i)) &&
			    memcmp(k->appliance[i].public_key, a->public_key, FAII_KX_KEY_SIZE) ==
			            0) {
				neu.keys[j] = c->keys[i];
				neu.keys[j].epoch = a->epoch;
				neu.derived |= (uint8_t)(1u << j);
			}
		}
		if (!(neu.derived & (1u << j)) && staged && (s->derive_mask & (1u << j))) {
			neu.keys[j] = s->node_keys[slot][j];
			neu.derived |= (uint8_t)(1u << j);
		}
	}
	sodium_memzero(c, sizeof(*c));
	*c = neu;
	sodium_memzero(&neu, sizeof(neu));
}

void faii_keys_stage_install(struct faii_keys *k, struct faii_keys_stage *s)
{
	FAII_ASSERT(k->enabled && s->appliance[0].valid);
	for (uint32_t slot = 0; slot < k->cache_slots; slot++)
		remap_cache(k, s, slot, &k->cache[slot]);
	sodium_memzero(k->appliance, sizeof(k->appliance));
	memcpy(k->appliance, s->appliance, sizeof(s->appliance));
	free_clients(k->clients);
	k->clients = s->clients;
	k->client_count = s->client_count;
	s->clients = NULL;
	k->derive_failed += s->summary.derive_failed;
	k->next_deadline_ns = s->summary.next_deadline_ns;
	k->reloads++;
	faii_keys_stage_free(s);
}

int faii_keys_reload(struct faii_keys *k, char *err, size_t errlen)
{
	struct faii_keys_stage *s = faii_keys_stage_new(k, NULL, faii_realtime_ns(), err, errlen);
	if (s == NULL)
		return -1;
	if (faii_keys_stage_load(s, err, errlen) != 0) {
		faii_keys_stage_free(s);
		return -1;
	}
	faii_keys_stage_install(k, s);
	return 0;
}

/* ---- deadlines ---------------------------------------------------------------------- */

bool faii_keys_expire(struct faii_keys *k, uint64_t now_ns)
{
	if (k->next_deadline_ns == 0 || now_ns < k->next_deadline_ns)
		return false;
	struct faii_keys_summary sum = {0};
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		struct faii_keys_appliance *a = &k->appliance[i];
		if (!a->valid || a->until_ns == 0)
			continue;
		if (a->until_ns <= now_ns) {
			a->valid = 0; /* the public key stays: derived keys are kept for reuse */
			sodium_memzero(a->secret_key, sizeof(a->secret_key));
			k->expired++;
		}
		note_deadline(&sum, a->valid ? a->until_ns : 0);
	}
	for (uint32_t c = 0; c < k->client_count; c++) {
		struct faii_keys_client *cl = &k->clients[c];
		for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
			if (!cl->keys[i].valid || cl->until_ns[i] == 0)
				continue;
			if (cl->until_ns[i] <= now_ns) {
				sodium_memzero(&cl->keys[i], sizeof(cl->keys[i]));
				cl->until_ns[i] = 0;
				k->expired++;
			} else {
				note_deadline(&sum, cl->until_ns[i]);
			}
		}
	}
	k->next_deadline_ns = sum.next_deadline_ns;
	return true;
}

void faii_keys_describe(const struct faii_keys *k, struct faii_keys_summary *out)
{
	memset(out, 0, sizeof(*out));
	unsigned n = 0;
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		const struct faii_keys_appliance *a = &k->appliance[i];
		if (!a->valid)
			continue;
		out->appliance_epochs[n++] = a->epoch;
		out->appliance_expiring += a->until_ns != 0;
	}
	out->appliance_keys = n;
	for (uint32_t c = 0; c < k->client_count; c++) {
		unsigned keys = 0;
		for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
			keys += k->clients[c].keys[i].valid;
			out->client_keys_expiring +=
			        k->clients[c].keys[i].valid && k->clients[c].until_ns[i] != 0;
		}
		out->clients += keys != 0;
		out->client_keys += keys;
	}
	out->next_deadline_ns = k->next_deadline_ns;
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

/* A slot's keys for the appliance keys in force: each derived once per node
 * key (again only when the node's key changed); an expired appliance key's
 * stay cached but are not published. */
static void node_keys(struct faii_keys *k, uint32_t slot, const struct faii_cfg_node *n,
                      struct faii_auth_key out[FAII_AUTH_KEYS_MAX])
{
	struct faii_keys_node_cache *c = &k->cache[slot];
	if (memcmp(c->node_public_key, n->public_key, FAII_PUBKEY_SIZE) != 0) {
		sodium_memzero(c, sizeof(*c));
		memcpy(c->node_public_key, n->public_key, FAII_PUBKEY_SIZE);
	}
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		const struct faii_keys_appliance *a = &k->appliance[i];
		memset(&out[i], 0, sizeof(out[i]));
		if (!a->valid)
			continue;
		if (!(c->derived & (1u << i))) {
			c->derived |= (uint8_t)(1u << i);
			memset(&c->keys[i], 0, sizeof(c->keys[i]));
			if (faii_result_key_appliance(a->public_key, a->secret_key, n->public_key,
			                              c->keys[i].key) == 0) {
				c->keys[i].epoch = a->epoch;
				c->keys[i].valid = 1;
			} else {
				k->derive_failed++;
			}
		}
		out[i] = c->keys[i];
	}
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < FAII_AUTH_CLIENTS_MAX * 2u) /* bounded: 2^17 */
		p <<= 1;
	return p;
}

static bool has_key(const struct faii_keys_client *c)
{
	for (unsigned i = 0; i < FAII_AUTH_KEYS_MAX; i++) {
		if (c->keys[i].valid)
			return true;
	}
	return false;
}

/* Places the clients that hold a key by open addressing (a client whose
 * keys all passed their deadline is unknown from then on); -E2BIG when a
 * probe run is too long. */
static int place_clients(const struct faii_keys *k, struct faii_auth_set *set)
{
	uint32_t mask = set->client_slots - 1, placed = 0;
	for (uint32_t i = 0; i < k->client_count; i++) {
		if (!has_key(&k->clients[i]))
			continue;
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
		placed++;
	}
	set->client_count = placed;
	FAII_ASSERT(k->client_count == 0 || !has_key(&k->clients[0]) ||
	            faii_auth_client_find(set, k->clients[0].client_id) != NULL);
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
