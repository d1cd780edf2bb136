/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One consortium validator running on its own thread: the consensus core
 * (faii/dag.h) wired to the authenticated TCP transport
 * (faii/transport_tcp.h), the ledger store as its journal, and a clock.
 * faiid starts one when appliance.validators is configured; the
 * faii-validator tool runs one alone (docs/consensus.md, "Operating").
 *
 * The thread polls the transport, hands every message to the core, ticks
 * it, and flushes once per batch of events, so that one fdatasync of the
 * ledger store covers every vote and vertex of the batch (group commit).
 * Other threads talk to it only through faii_validator_submit() (a bounded
 * queue) and faii_validator_status() (a snapshot refreshed every
 * FAII_VALIDATOR_STATUS_MS); the consumer's callback runs on the validator
 * thread.
 *
 * Journal records live in the ledger store as record types
 * FAII_DAG_LS_TYPE_BASE + enum faii_dag_record_type, keyed by epoch (and,
 * for certified vertices, by round and author), so that `faii-ledger dump`
 * shows them among the appliance's other records.
 *
 * Error convention: negative errno, with a sentence in `err` where taken.
 */
#ifndef FAII_VALIDATOR_H
#define FAII_VALIDATOR_H

#include <stddef.h>
#include <stdint.h>

#include "faii/clock.h"
#include "faii/dag.h"
#include "faii/ledger_store.h"
#include "faii/transport_tcp.h"

#define FAII_DAG_LS_TYPE_BASE       0x0400u
#define FAII_VALIDATOR_STATUS_MS    100u       /* the snapshot's age, at most */
#define FAII_VALIDATOR_QUEUE_BYTES  (8u << 20) /* submitted, not yet handed to the core */
#define FAII_VALIDATOR_SYNC_MS      10000u     /* a journal sync longer than this fails */
#define FAII_VALIDATOR_TICK_MS_MAX  1000u
#define FAII_VALIDATOR_KEY_FILE_MAX 256u /* bytes of a key file */

/*
 * The journal over the ledger store. Replay scans the store for this
 * epoch's records; lookup finds certified vertices through the store's
 * round index.
 */
struct faii_dag_store_journal {
	struct faii_dag_journal journal; /* hand &journal to faii_dag_open() */
	struct faii_ls *store;
	uint64_t epoch;
	uint64_t appended_seq; /* the last record appended */
	uint8_t *record;       /* one record being read */
};
/*
 * The index key that finds an epoch's equivocation proofs without a scan:
 * EVIDENCE records carry it as their digest key (faii_ls_find with
 * FAII_LS_KEY_DIGEST): BLAKE2b-256 of "FAII-DAG-EVIDENCE" and the epoch (u64 LE).
 */
void faii_dag_evidence_key(uint64_t epoch, uint8_t key[FAII_LS_DIGEST_SIZE]);

int faii_dag_store_journal_init(struct faii_dag_store_journal *journal, struct faii_ls *store,
                                uint64_t epoch);
void faii_dag_store_journal_fini(struct faii_dag_store_journal *journal);

/*
 * A validator key file: one line, the 32-byte Ed25519 seed as 64 hex
 * digits; owned by the user, mode 0600 or stricter (refused otherwise).
 * Fills the 64-byte secret key and the public key it implies.
 */
int faii_validator_key_load(const char *path, uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES],
                            uint8_t public_key[FAII_DAG_PUBLIC_KEY_BYTES], char *err,
                            size_t err_bytes);

/*
 * Tests only (faii-validator --byzantine, tests/integration/consensus_processes.sh):
 * lies a validator tells on the way out, wrapped around its transport's send
 * as the simulation's Byzantine tap is. Its core stays honest: it journals,
 * votes and commits as usual, only what leaves is changed. 0 in production.
 */
enum faii_validator_lie {
	FAII_VALIDATOR_LIE_EQUIVOCATE = 1u << 0, /* each own vertex goes out with a signed twin */
	FAII_VALIDATOR_LIE_FORGE = 1u << 1,      /* a vote or certificate is preceded by a copy
	                                          * whose last signature is broken */
	FAII_VALIDATOR_LIE_WITHHOLD = 1u << 2,   /* no vote leaves */
};

struct faii_validator_options {
	struct faii_dag_config dag;           /* self, committee, keys, timings */
	struct faii_transport_tcp_config tcp; /* peers' addresses and keys, bounds */
	struct faii_ls *store;                /* the appliance's ledger store */
	const struct faii_clock *clock;
	uint32_t tick_ms;                  /* 1..FAII_VALIDATOR_TICK_MS_MAX */
	struct faii_dag_consumer consumer; /* runs on the validator thread */
	uint64_t consumer_applied;
	uint32_t byzantine_lies; /* enum faii_validator_lie bits: tests only, 0 */
};

struct faii_validator_status {
	struct faii_dag_stats dag;
	struct faii_transport_tcp_stats transport;
	uint32_t validator_count;
	uint32_t self;
	uint64_t epoch;
	uint64_t queue_bytes;   /* submitted, waiting for the core */
	uint64_t queue_refused; /* submissions refused: queue full */
	uint64_t flushes;       /* journal syncs (group commits) */
	uint64_t events;        /* messages and ticks handled */
	uint64_t lies_told;     /* byzantine_lies sent (tests only) */
	uint64_t updated_ns;    /* monotonic time of the snapshot */
};

struct faii_validator;

int faii_validator_start(const struct faii_validator_options *options, struct faii_validator **out,
                         char *err, size_t err_bytes);
/* Stops the thread, flushes, closes the transport; the store stays open. */
void faii_validator_stop(struct faii_validator *validator);

/* Any thread: queues a transaction (0, -EMSGSIZE, -ENOBUFS). */
int faii_validator_submit(struct faii_validator *validator, const uint8_t *tx, uint32_t len);
/* Any thread: the latest snapshot. */
void faii_validator_status(struct faii_validator *validator, struct faii_validator_status *status);
/* The transport's bound address (port 0 in a configuration picks one). */
int faii_validator_local_address(struct faii_validator *validator,
                                 struct sockaddr_storage *address);

#endif /* FAII_VALIDATOR_H */
