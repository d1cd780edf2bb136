/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * From a configuration's appliance.validators to the options of a
 * validator (include/faii/validator.h): shared by faiid and faii-validator
 * so that both derive the same committee from the same file. The ledger
 * layer knows nothing of the configuration; this is where they meet.
 *
 * Members in ascending id order are validators 0..n-1 (docs/consensus.md):
 * every appliance derives the same indices from the same member list.
 */
#ifndef FAII_APPLIANCE_VALIDATOR_CFG_H
#define FAII_APPLIANCE_VALIDATOR_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "faii/config.h"
#include "faii/validator.h"

/*
 * The members' indices: order[i] is the position in appliance->validators
 * of validator i. Returns this appliance's index (the member whose id is
 * validator_self), or -1 when it is not a member.
 */
int faii_validator_cfg_order(const struct faii_appliance_cfg *appliance,
                             uint32_t order[FAII_CFG_VALIDATORS_MAX]);

/*
 * Fills options->dag (committee, keys, timings), options->tcp (peers'
 * addresses and keys, this validator's secret key) and options->tick_ms;
 * the caller sets the store, clock and consumer. Loads the key file and
 * refuses one whose public half is not this member's configured key, and
 * an address that is not a numeric host:port. 0, or a negative errno with
 * a sentence in err. The secret key is in *options on success: wipe it
 * (sodium_memzero) once the validator has started.
 */
int faii_validator_cfg_options(const struct faii_appliance_cfg *appliance,
                               struct faii_validator_options *options, char *err, size_t err_bytes);

#endif /* FAII_APPLIANCE_VALIDATOR_CFG_H */
