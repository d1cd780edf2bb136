/* SPDX-License-Identifier: BSD-3-Clause */
/* appliance.validators to validator options: see validator_cfg.h. */
#include "validator_cfg.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"

int faii_validator_cfg_order(const struct faii_appliance_cfg *appliance,
                             uint32_t order[FAII_CFG_VALIDATORS_MAX])
{
	uint32_t n = appliance->validator_count;
	FAII_ASSERT(n <= FAII_CFG_VALIDATORS_MAX);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t k = i; k > 0 && appliance->validators[order[k - 1]].id >
		                                      appliance->validators[order[k]].id;
		     k--) {
			uint32_t swap = order[k];
			order[k] = order[k - 1];
			order[k - 1] = swap;
		}
	for (uint32_t i = 0; i < n; i++)
		if (appliance->validators[order[i]].id == appliance->validator_self)
			return (int)i;
	return -1;
}

static void set_timings(const struct faii_appliance_cfg *appliance,
                        struct faii_validator_options *options)
{
	struct faii_dag_config *dag = &options->dag;
	dag->epoch = appliance->validator_epoch;
	dag->batch_bytes_max = appliance->validator_batch_bytes;
	dag->batch_wait_ns = (uint64_t)appliance->validator_batch_wait_ms * FAII_NS_PER_MS;
	dag->leader_timeout_ns = (uint64_t)appliance->validator_leader_timeout_ms * FAII_NS_PER_MS;
	dag->retransmit_ns = (uint64_t)appliance->validator_retransmit_ms * FAII_NS_PER_MS;
	dag->gc_depth_rounds = appliance->validator_gc_depth_rounds;
	dag->window_rounds = appliance->validator_window_rounds;
	options->tick_ms = appliance->validator_tick_ms;
}

/* The key file's public half must be this member's configured key. */
static int load_own_key(const struct faii_appliance_cfg *appliance,
                        struct faii_validator_options *options, char *err, size_t err_bytes)
{
	struct faii_dag_config *dag = &options->dag;
	uint8_t public_key[FAII_DAG_PUBLIC_KEY_BYTES];
	int rc = faii_validator_key_load(appliance->validator_key_file, dag->secret_key, public_key,
	                                 err, err_bytes);
	if (rc != 0)
		return rc;
	if (memcmp(public_key, dag->public_keys[dag->self], sizeof(public_key)) != 0) {
		snprintf(err, err_bytes, "%s: not the key of validator %u (its public key differs)",
		         appliance->validator_key_file, appliance->validator_self);
		return -EINVAL;
	}
	memcpy(options->tcp.secret_key, dag->secret_key, sizeof(options->tcp.secret_key));
	return 0;
}

int faii_validator_cfg_options(const struct faii_appliance_cfg *appliance,
                               struct faii_validator_options *options, char *err, size_t err_bytes)
{
	uint32_t order[FAII_CFG_VALIDATORS_MAX];
	uint32_t n = appliance->validator_count;
	memset(options, 0, sizeof(*options));
	int self = n == 0 ? -1 : faii_validator_cfg_order(appliance, order);
	if (self < 0) {
		snprintf(err, err_bytes, "the configuration has no appliance.validators section");
		return -EINVAL;
	}
	struct faii_dag_config *dag = &options->dag;
	faii_dag_config_defaults(dag, n);
	dag->self = (uint32_t)self;
	set_timings(appliance, options);
	options->tcp.self = (uint32_t)self;
	options->tcp.peer_count = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct faii_cfg_validator *member = &appliance->validators[order[i]];
		memcpy(dag->public_keys[i], member->public_key, FAII_DAG_PUBLIC_KEY_BYTES);
		memcpy(options->tcp.peers[i].public_key, member->public_key,
		       FAII_DAG_PUBLIC_KEY_BYTES);
		if (faii_transport_tcp_parse_address(member->address,
		                                     &options->tcp.peers[i].address) != 0) {
			snprintf(err, err_bytes,
			         "validator %u: address '%s' is not a numeric host:port",
			         member->id, member->address);
			return -EINVAL;
		}
	}
	int rc = load_own_key(appliance, options, err, err_bytes);
	if (rc != 0)
		sodium_memzero(options, sizeof(*options));
	return rc;
}
