/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key set (control/keys.c): key files with until= deadlines, keys
 * dropped at their deadline, a rotation read off the control thread (stage,
 * load, install) that derives only what is new, and errors that name the
 * file and line but never a key. No workers: the key set is published with
 * no RCU readers (freed at once).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "faii/clock.h"
#include "faii/config.h"
#include "faii/demo.h"
#include "faii/keys.h"
#include "faii/wire.h"

#define NODES         2u
#define CLIENT        77u
#define HOUR_NS       3600000000000ull
#define FUTURE        "2400-01-01T00:00:00Z" /* 13569465600 s */
#define FUTURE_NS     13569465600000000000ull
#define PAST          "2001-09-09T01:46:40Z" /* 1000000000 s */
#define KEYS_TEXT_MAX 4096u

static char dir[64];
static struct faii_auth_cfg auth;
static struct faii_keys keys;
static struct faii_config *cfg;

static void hex(char *out, const uint8_t *b, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);
}

/* "<epoch> <appliance secret key>[ until=T]\n" */
static void app_line(char *out, size_t cap, uint8_t epoch, const char *until)
{
	uint8_t pk[32], sk[32];
	char h[65];
	faii_demo_appliance_keypair(epoch, pk, sk);
	hex(h, sk, 32);
	snprintf(out + strlen(out), cap - strlen(out), "%u %s%s%s\n", epoch, h,
	         until ? " until=" : "", until ? until : "");
}

/* "<client> <epoch> <client key>[ until=T]\n" */
static void client_line(char *out, size_t cap, uint64_t client, uint8_t epoch, const char *until)
{
	uint8_t k[32];
	char h[65];
	faii_demo_client_key(client, epoch, k);
	hex(h, k, 32);
	snprintf(out + strlen(out), cap - strlen(out), "%llu %u %s%s%s\n",
	         (unsigned long long)client, epoch, h, until ? " until=" : "", until ? until : "");
}

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	snprintf(dir, sizeof(dir), "/tmp/faii-keys-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(auth.key_file, sizeof(auth.key_file), "%s/appliance.key", dir);
	snprintf(auth.clients_file, sizeof(auth.clients_file), "%s/clients.keys", dir);
	cfg = calloc(1, sizeof(*cfg));
	cr_assert_not_null(cfg);
	cfg->node_count = NODES;
	for (uint32_t i = 0; i < NODES; i++) {
		uint8_t sk[64];
		faii_demo_node_keypair(i + 1, cfg->nodes[i].public_key, sk);
		cfg->nodes[i].id = i + 1;
		cfg->nodes[i].addr_family = FAII_ADDR_IPV4;
		cfg->nodes[i].udp_port = 7410;
	}
}

static void teardown(void)
{
	faii_keys_fini(&keys);
	free(cfg);
	char path[128];
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

TestSuite(keys, .init = setup, .fini = teardown);

static const struct faii_auth_set *published(void)
{
	cr_assert_eq(faii_keys_publish(&keys, cfg, NODES), 0);
	return atomic_load(&keys.current);
}

static bool client_accepts(uint64_t client, uint8_t epoch)
{
	const struct faii_auth_client *c = faii_auth_client_find(published(), client);
	return c != NULL && faii_auth_key_for(c->keys, epoch) != NULL;
}

/* The node's RESULT key of an appliance epoch, as the node derives it. */
static void node_key(uint32_t node_id, uint8_t epoch, uint8_t out[32])
{
	uint8_t npk[32], nsk[64], apk[32], ask[32];
	faii_demo_node_keypair(node_id, npk, nsk);
	faii_demo_appliance_keypair(epoch, apk, ask);
	cr_assert_eq(faii_result_key_node(nsk, apk, out), 0);
}

static bool node_accepts(uint32_t slot, uint8_t epoch)
{
	const struct faii_auth_key *k = faii_auth_key_for(published()->nodes[slot].keys, epoch);
	if (k == NULL)
		return false;
	uint8_t want[32];
	node_key(slot + 1, epoch, want);
	cr_assert_arr_eq(k->key, want, 32, "slot %u epoch %u: not the node's key", slot, epoch);
	return true;
}

/* err names file:line and holds no key of the files. */
static void expect_error(const char *err, const char *file, unsigned line, const char *files_text)
{
	char where[160];
	snprintf(where, sizeof(where), "%s/%s:%u:", dir, file, line);
	cr_assert_not_null(strstr(err, where), "error \"%s\" does not name %s", err, where);
	/* No 64-hex-digit key of the files appears in the error. */
	const char *p = files_text;
	while ((p = strpbrk(p, "0123456789abcdef")) != NULL) {
		size_t n = strspn(p, "0123456789abcdef");
		if (n == 64) {
			char key[65];
			memcpy(key, p, 64);
			key[64] = '\0';
			cr_assert_null(strstr(err, key), "the error shows a key: %s", err);
		}
		p += n;
	}
}

/* A rotation's files: epoch 2 current, epoch 1 until the deadline; client
 * 78 holds only a key of epoch 1 (its access ends at the deadline). */
static void write_rotation(const char *until)
{
	char app[512] = "", cli[512] = "";
	app_line(app, sizeof(app), 2, NULL);
	app_line(app, sizeof(app), 1, until);
	client_line(cli, sizeof(cli), CLIENT, 2, NULL);
	client_line(cli, sizeof(cli), CLIENT, 1, until);
	client_line(cli, sizeof(cli), 78, 1, until);
	write_file("appliance.key", app);
	write_file("clients.keys", cli);
}

Test(keys, previous_key_accepted_until_its_deadline)
{
	write_rotation(FUTURE);
	char err[256] = "";
	cr_assert_eq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	struct faii_keys_summary sum;
	faii_keys_describe(&keys, &sum);
	cr_expect_eq(sum.appliance_keys, 2);
	cr_expect_eq(sum.appliance_expiring, 1);
	cr_expect_eq(sum.client_keys, 3);
	cr_expect_eq(sum.client_keys_expiring, 2);
	cr_expect_eq(sum.next_deadline_ns, FUTURE_NS);
	cr_assert(client_accepts(78, 1));
	for (uint8_t e = 1; e <= 2; e++) {
		cr_assert(client_accepts(CLIENT, e), "client epoch %u during the overlap", e);
		cr_assert(node_accepts(0, e) && node_accepts(1, e), "node epoch %u", e);
	}

	/* Not before the deadline; at it, both epoch-1 keys go, with no reload. */
	cr_assert_not(faii_keys_expire(&keys, FUTURE_NS - 1));
	cr_assert(faii_keys_expire(&keys, FUTURE_NS));
	cr_expect_eq(keys.expired, 3);
	cr_expect_eq(keys.next_deadline_ns, 0);
	cr_assert_not(client_accepts(CLIENT, 1), "client key used after its deadline");
	cr_assert_null(faii_auth_client_find(published(), 78),
	               "a client with no key left is still known");
	cr_assert_not(node_accepts(0, 1), "node key of an expired appliance key published");
	cr_assert(client_accepts(CLIENT, 2));
	cr_assert(node_accepts(0, 2) && node_accepts(1, 2));
	cr_assert_not(faii_keys_expire(&keys, FUTURE_NS + HOUR_NS), "nothing left to expire");
}

Test(keys, deadline_already_passed_is_skipped_and_counted)
{
	write_rotation(PAST);
	char err[256] = "";
	cr_assert_eq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	struct faii_keys_stage *s =
	        faii_keys_stage_new(&keys, NULL, faii_realtime_ns(), err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(faii_keys_stage_load(s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s->summary.appliance_keys, 1);
	cr_expect_eq(s->summary.appliance_expired, 1);
	cr_expect_eq(s->summary.client_keys, 1);
	cr_expect_eq(s->summary.client_keys_expired, 2);
	cr_expect_eq(s->summary.clients, 1);
	faii_keys_stage_free(s);
	cr_assert_not(client_accepts(CLIENT, 1));
	cr_assert_not(client_accepts(78, 1));
	cr_assert(client_accepts(CLIENT, 2));
	cr_assert_not(node_accepts(0, 1));
}

/* Each malformed line is refused with file:line, without the key. */
Test(keys, bad_lines_named_by_file_and_line)
{
	static const char *const bad_until[] = {
	        "until=2026-02-29T00:00:00Z", /* not a leap year */
	        "until=2026-13-01T00:00:00Z", "until=2026-01-01T24:00:00Z",
	        "until=2026-01-01T00:00:00", /* no Z: not UTC */
	        "until=2026-01-01 00:00:00Z", "until=tomorrow",
	        "till=2400-01-01T00:00:00Z",  "until=2501-01-01T00:00:00Z" /* beyond 2500 */,
	};
	char cli[512] = "";
	client_line(cli, sizeof(cli), CLIENT, 1, NULL);
	write_file("clients.keys", cli);
	for (size_t i = 0; i < sizeof(bad_until) / sizeof(bad_until[0]); i++) {
		char app[512] = "# comment line\n";
		app_line(app, sizeof(app), 2, NULL);
		app_line(app, sizeof(app), 1, NULL);
		app[strlen(app) - 1] = ' '; /* append the bad deadline to line 3 */
		snprintf(app + strlen(app), sizeof(app) - strlen(app), "%s\n", bad_until[i]);
		write_file("appliance.key", app);
		char err[512] = "";
		cr_assert_neq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0, "%s",
		              bad_until[i]);
		expect_error(err, "appliance.key", 3, app);
		faii_keys_fini(&keys);
	}

	/* The current (first) key takes no deadline: it would end all RESULTs. */
	char app[512] = "";
	app_line(app, sizeof(app), 2, FUTURE);
	write_file("appliance.key", app);
	char err[512] = "";
	cr_assert_neq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0);
	expect_error(err, "appliance.key", 1, app);
	faii_keys_fini(&keys);

	/* A client line with a bad key, and one with a third epoch. */
	app[0] = '\0';
	app_line(app, sizeof(app), 2, NULL);
	write_file("appliance.key", app);
	char bad[1024] = "";
	client_line(bad, sizeof(bad), CLIENT, 1, NULL);
	client_line(bad, sizeof(bad), CLIENT, 2, NULL);
	client_line(bad, sizeof(bad), CLIENT, 3, NULL);
	write_file("clients.keys", bad);
	cr_assert_neq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0);
	expect_error(err, "clients.keys", 3, bad);
	faii_keys_fini(&keys);
	bad[0] = '\0';
	client_line(bad, sizeof(bad), CLIENT, 1, NULL);
	snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), "78 1 %s\n", "abcd");
	write_file("clients.keys", bad);
	cr_assert_neq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0);
	expect_error(err, "clients.keys", 2, bad);
}

/* Key files of epoch 1 (appliance, client 77), read: their text in app, cli. */
static void init_epoch_1(char *app, size_t app_cap, char *cli, size_t cli_cap)
{
	app_line(app, app_cap, 1, NULL);
	client_line(cli, cli_cap, CLIENT, 1, NULL);
	write_file("appliance.key", app);
	write_file("clients.keys", cli);
	char err[256] = "";
	cr_assert_eq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0, "%s", err);
}

/* A rotation derives the node keys of a new appliance key on the loading
 * thread, and nothing for keys the appliance already holds. */
Test(keys, staged_rotation_derives_only_new_appliance_keys)
{
	char app[512] = "", cli[512] = "", err[256] = "";
	init_epoch_1(app, sizeof(app), cli, sizeof(cli));
	cr_assert(node_accepts(0, 1) && node_accepts(1, 1));

	/* New appliance key 2, old 1 kept: 2 nodes x 1 new key derived. */
	app[0] = '\0';
	app_line(app, sizeof(app), 2, NULL);
	app_line(app, sizeof(app), 1, FUTURE);
	write_file("appliance.key", app);
	struct faii_keys_stage *s =
	        faii_keys_stage_new(&keys, cfg, faii_realtime_ns(), err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(faii_keys_stage_load(s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s->summary.nodes_derived, NODES);
	cr_expect_eq(s->derive_mask, 1u, "only appliance[0] (epoch 2) is new");
	uint64_t failed = keys.derive_failed;
	faii_keys_stage_install(&keys, s);
	for (uint32_t n = 0; n < NODES; n++)
		cr_assert(node_accepts(n, 1) && node_accepts(n, 2), "node %u", n);
	cr_expect_eq(keys.derive_failed, failed);

	/* A client key rotation alone derives nothing. */
	client_line(cli, sizeof(cli), CLIENT, 2, NULL);
	write_file("clients.keys", cli);
	s = faii_keys_stage_new(&keys, cfg, faii_realtime_ns(), err, sizeof(err));
	cr_assert_not_null(s);
	cr_assert_eq(faii_keys_stage_load(s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s->summary.nodes_derived, 0);
	faii_keys_stage_install(&keys, s);
	cr_assert(client_accepts(CLIENT, 1) && client_accepts(CLIENT, 2));
	for (uint32_t n = 0; n < NODES; n++)
		cr_assert(node_accepts(n, 1) && node_accepts(n, 2),
		          "node %u after a client rotation", n);

	/* The old appliance key removed: only epoch 2 left, still no derivation. */
	app[0] = '\0';
	app_line(app, sizeof(app), 2, NULL);
	write_file("appliance.key", app);
	s = faii_keys_stage_new(&keys, cfg, faii_realtime_ns(), err, sizeof(err));
	cr_assert_not_null(s);
	cr_assert_eq(faii_keys_stage_load(s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s->summary.nodes_derived, 0);
	faii_keys_stage_install(&keys, s);
	cr_assert_not(node_accepts(0, 1), "the removed appliance key still derives node keys");
	cr_assert(node_accepts(0, 2) && node_accepts(1, 2));
}

/* A bad file on a rotation changes nothing. */
Test(keys, failed_load_leaves_the_keys_in_force)
{
	char app[512] = "", cli[512] = "", err[256] = "";
	init_epoch_1(app, sizeof(app), cli, sizeof(cli));
	write_file("clients.keys", "77 1 nothex\n");
	cr_assert_neq(faii_keys_reload(&keys, err, sizeof(err)), 0);
	expect_error(err, "clients.keys", 1, cli);
	cr_assert(client_accepts(CLIENT, 1), "the keys in force changed on a failed load");
	cr_assert(node_accepts(0, 1));
	cr_expect_eq(keys.reloads, 0);
}

/* A FIFO for a key file is refused at once, never waited on. */
Test(keys, fifo_refused_without_blocking, .timeout = 10)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/appliance.key", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	char err[256] = "";
	cr_assert_neq(faii_keys_init(&keys, &auth, NULL, NULL, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "regular file"), "%s", err);
}
