/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * appliance.validators to validator options (appliance/validator_cfg.h),
 * the mapping faiid and faii-validator share: members in id order are the
 * indices whatever the file's order; the key file must be this member's;
 * addresses must be numeric; timings reach the core in its units.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faii/config.h"
#include "validator_cfg.h"

static char dir[] = "/tmp/faii-validator-cfg-XXXXXX";
static uint8_t public_keys[5][32]; /* by seed byte 1..4 */

/* A key file of seed `seed` repeated, with its mode; returns its path. */
static const char *key_file(uint8_t seed, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/key%u-%o", dir, seed, (unsigned)mode);
	char hex[65];
	uint8_t bytes[32];
	memset(bytes, seed, sizeof(bytes));
	sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s\n", hex);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	cr_assert_not_null(mkdtemp(dir));
	for (uint8_t seed = 1; seed <= 4; seed++) {
		uint8_t seed_bytes[32], secret[64];
		memset(seed_bytes, seed, sizeof(seed_bytes));
		crypto_sign_seed_keypair(public_keys[seed], secret, seed_bytes);
	}
}

static void teardown(void)
{
	char command[96];
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	cr_expect_eq(system(command), 0);
}

/* Members listed out of id order: ids 30, 10, 40, 20 carry seeds 3, 1, 4, 2;
 * self is 20 with key_path; member 40's address is address4. */
static struct faii_config *load(const char *key_path, const char *address4)
{
	char hex[5][65];
	for (int seed = 1; seed <= 4; seed++)
		sodium_bin2hex(hex[seed], sizeof(hex[seed]), public_keys[seed], 32);
	char text[2048];
	snprintf(text, sizeof(text),
	         "appliance:\n"
	         "  validators:\n"
	         "    self: 20\n"
	         "    key_file: %s\n"
	         "    epoch: 9\n"
	         "    batch_bytes: 1024\n"
	         "    batch_wait_ms: 7\n"
	         "    leader_timeout_ms: 300\n"
	         "    retransmit_ms: 40\n"
	         "    gc_depth_rounds: 20\n"
	         "    window_rounds: 32\n"
	         "    tick_ms: 3\n"
	         "    members:\n"
	         "      - {id: 30, public_key: %s, address: \"127.0.0.1:7033\"}\n"
	         "      - {id: 10, public_key: %s, address: \"127.0.0.1:7011\"}\n"
	         "      - {id: 40, public_key: %s, address: \"%s\"}\n"
	         "      - {id: 20, public_key: %s, address: \"[::1]:7022\"}\n",
	         key_path, hex[3], hex[1], hex[4], address4, hex[2]);
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *cfg = NULL;
	cr_assert_eq(faii_config_load_string("test.yaml", text, strlen(text), &cfg, err), 0, "%s",
	             err);
	return cfg;
}

static uint16_t port_of(const struct sockaddr_storage *address)
{
	if (address->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
	return ntohs(((const struct sockaddr_in *)address)->sin_port);
}

TestSuite(validator_cfg, .init = setup, .fini = teardown);

Test(validator_cfg, members_in_id_order)
{
	struct faii_config *cfg = load(key_file(2, 0600), "127.0.0.1:7044");
	static struct faii_validator_options options;
	char err[256] = "";
	cr_assert_eq(faii_validator_cfg_options(&cfg->appliance, &options, err, sizeof(err)), 0,
	             "%s", err);
	/* ids 10, 20, 30, 40 are 0, 1, 2, 3; self (20) is 1. */
	cr_expect_eq(options.dag.validator_count, 4);
	cr_expect_eq(options.dag.self, 1);
	cr_expect_eq(options.tcp.self, 1);
	cr_expect_eq(options.tcp.peer_count, 4);
	static const uint8_t seed_of_index[4] = {1, 2, 3, 4};
	static const uint16_t port_of_index[4] = {7011, 7022, 7033, 7044};
	for (uint32_t i = 0; i < 4; i++) {
		cr_expect_eq(memcmp(options.dag.public_keys[i], public_keys[seed_of_index[i]], 32),
		             0, "index %u has the key of another member", i);
		cr_expect_eq(
		        memcmp(options.tcp.peers[i].public_key, public_keys[seed_of_index[i]], 32),
		        0);
		cr_expect_eq(port_of(&options.tcp.peers[i].address), port_of_index[i], "index %u",
		             i);
	}
	cr_expect_eq(options.tcp.peers[1].address.ss_family, AF_INET6);
	/* The secret key is this member's, for the core and the transport. */
	cr_expect_eq(memcmp(options.dag.secret_key + 32, public_keys[2], 32), 0);
	cr_expect_eq(memcmp(options.tcp.secret_key, options.dag.secret_key, 64), 0);
	/* Timings in the core's units. */
	cr_expect_eq(options.dag.epoch, 9);
	cr_expect_eq(options.dag.batch_bytes_max, 1024);
	cr_expect_eq(options.dag.batch_wait_ns, 7 * FAII_NS_PER_MS);
	cr_expect_eq(options.dag.leader_timeout_ns, 300 * FAII_NS_PER_MS);
	cr_expect_eq(options.dag.retransmit_ns, 40 * FAII_NS_PER_MS);
	cr_expect_eq(options.dag.gc_depth_rounds, 20);
	cr_expect_eq(options.dag.window_rounds, 32);
	cr_expect_eq(options.tick_ms, 3);
	uint32_t order[FAII_CFG_VALIDATORS_MAX];
	cr_expect_eq(faii_validator_cfg_order(&cfg->appliance, order), 1);
	cr_expect_eq(cfg->appliance.validators[order[0]].id, 10);
	cr_expect_eq(cfg->appliance.validators[order[3]].id, 40);
	faii_config_free(cfg);
}

Test(validator_cfg, another_members_key_refused)
{
	/* Seed 3 is member 30's key, not self's (20). */
	struct faii_config *cfg = load(key_file(3, 0600), "127.0.0.1:7044");
	static struct faii_validator_options options;
	char err[256] = "";
	cr_expect_eq(faii_validator_cfg_options(&cfg->appliance, &options, err, sizeof(err)),
	             -EINVAL);
	cr_expect_neq(strstr(err, "not the key of validator 20"), NULL, "%s", err);
	static const uint8_t zero[64];
	cr_expect_eq(memcmp(options.dag.secret_key, zero, 64), 0, "the refused key is wiped");
	faii_config_free(cfg);
}

Test(validator_cfg, readable_key_file_refused)
{
	struct faii_config *cfg = load(key_file(2, 0640), "127.0.0.1:7044");
	static struct faii_validator_options options;
	char err[256] = "";
	cr_expect_eq(faii_validator_cfg_options(&cfg->appliance, &options, err, sizeof(err)),
	             -EPERM);
	cr_expect_neq(strstr(err, "chmod 0600"), NULL, "%s", err);
	faii_config_free(cfg);
}

Test(validator_cfg, non_numeric_address_refused)
{
	static const char *const bad[] = {"localhost:7044", "127.0.0.1", "127.0.0.1:65536",
	                                  "::1:7044", "127.0.0.1:7044x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct faii_config *cfg = load(key_file(2, 0600), bad[i]);
		static struct faii_validator_options options;
		char err[256] = "";
		cr_expect_eq(
		        faii_validator_cfg_options(&cfg->appliance, &options, err, sizeof(err)),
		        -EINVAL, "%s", bad[i]);
		char want[128];
		snprintf(want, sizeof(want),
		         "validator 40: address '%s' is not a numeric host:port", bad[i]);
		cr_expect_str_eq(err, want);
		faii_config_free(cfg);
	}
}

Test(validator_cfg, no_validator_set)
{
	const char text[] = "appliance:\n  workers: 1\n";
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *cfg = NULL;
	cr_assert_eq(faii_config_load_string("test.yaml", text, strlen(text), &cfg, err), 0);
	static struct faii_validator_options options;
	cr_expect_eq(faii_validator_cfg_options(&cfg->appliance, &options, err, sizeof(err)),
	             -EINVAL);
	cr_expect_str_eq(err, "the configuration has no appliance.validators section");
	faii_config_free(cfg);
}
