/* SPDX-License-Identifier: BSD-3-Clause */
/* One validator on its own thread: see include/faii/validator.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byzantine.h"
#include "faii/assert.h"
#include "faii/validator.h"

struct faii_validator {
	struct faii_validator_options options;
	struct faii_transport_tcp *tcp;
	struct faii_dag_store_journal journal;
	struct faii_dag *dag;
	struct dag_byzantine byzantine; /* tests only: options.byzantine_lies */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* guards everything below */
	bool stop;
	uint8_t *queue; /* submitted transactions: u32 length + bytes */
	uint32_t queue_bytes;
	uint64_t queue_refused;
	struct faii_validator_status status;

	uint8_t *batch; /* the queue taken by the thread, handed to the core */
	uint64_t flushes;
	uint64_t events;
};

int faii_validator_key_load(const char *path, uint8_t secret_key[FAII_DAG_SECRET_KEY_BYTES],
                            uint8_t public_key[FAII_DAG_PUBLIC_KEY_BYTES], char *err,
                            size_t err_bytes)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_bytes, "%s: %s", path, strerror(errno));
		return -errno;
	}
	struct stat st;
	char text[FAII_VALIDATOR_KEY_FILE_MAX + 1];
	ssize_t got = -1;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if ((st.st_mode & 077) != 0)
		rc = -EPERM;
	else if ((got = read(fd, text, FAII_VALIDATOR_KEY_FILE_MAX)) < 0)
		rc = -errno;
	close(fd);
	if (rc == -EINVAL || rc == -EPERM) {
		snprintf(err, err_bytes, "%s: %s", path,
		         rc == -EPERM ? "readable by group or others: chmod 0600 it"
		                      : "not a regular file");
		return rc;
	}
	if (rc < 0) {
		snprintf(err, err_bytes, "%s: %s", path, strerror(-rc));
		return rc;
	}
	text[got] = '\0';
	uint8_t seed[crypto_sign_SEEDBYTES];
	size_t seed_bytes = 0;
	const char *end = NULL;
	if (sodium_hex2bin(seed, sizeof(seed), text, (size_t)got, " \t\r\n", &seed_bytes, &end) !=
	            0 ||
	    seed_bytes != sizeof(seed) || strspn(end, " \t\r\n") != strlen(end)) {
		snprintf(err, err_bytes, "%s: expected one line of 64 hex digits (an Ed25519 seed)",
		         path);
		sodium_memzero(text, sizeof(text));
		return -EINVAL;
	}
	crypto_sign_seed_keypair(public_key, secret_key, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(text, sizeof(text));
	return 0;
}

/* Hands the queued transactions to the core (on the validator thread). */
static void drain_queue(struct faii_validator *validator)
{
	pthread_mutex_lock(&validator->lock);
	uint32_t bytes = validator->queue_bytes;
	memcpy(validator->batch, validator->queue, bytes);
	validator->queue_bytes = 0;
	pthread_mutex_unlock(&validator->lock);
	for (uint32_t offset = 0; offset < bytes;) {
		uint32_t len;
		memcpy(&len, validator->batch + offset, sizeof(len));
		FAII_ASSERT(len > 0 && offset + 4 + len <= bytes);
		if (faii_dag_submit(validator->dag, validator->batch + offset + 4, len) != 0) {
			pthread_mutex_lock(&validator->lock);
			validator->queue_refused++;
			pthread_mutex_unlock(&validator->lock);
		}
		offset += 4 + len;
	}
}

static void publish_status(struct faii_validator *validator, uint64_t now_ns)
{
	struct faii_validator_status status = {0};
	faii_dag_get_stats(validator->dag, &status.dag);
	status.transport = *faii_transport_tcp_stats(validator->tcp);
	status.validator_count = validator->options.dag.validator_count;
	status.self = validator->options.dag.self;
	status.epoch = validator->options.dag.epoch;
	status.flushes = validator->flushes;
	status.events = validator->events;
	status.lies_told = validator->byzantine.told;
	status.updated_ns = now_ns;
	pthread_mutex_lock(&validator->lock);
	status.queue_bytes = validator->queue_bytes;
	status.queue_refused = validator->queue_refused;
	validator->status = status;
	pthread_mutex_unlock(&validator->lock);
}

static void count_event(void *receiver, uint32_t from, const uint8_t *bytes, uint32_t len)
{
	struct faii_validator *validator = receiver;
	validator->events++;
	faii_dag_on_message(validator->dag, from, bytes, len);
}

static bool stopping(struct faii_validator *validator)
{
	pthread_mutex_lock(&validator->lock);
	bool stop = validator->stop;
	pthread_mutex_unlock(&validator->lock);
	return stop;
}

static void *validator_main(void *arg)
{
	struct faii_validator *validator = arg;
	const struct faii_clock *clock = validator->options.clock;
	uint64_t tick_ns = (uint64_t)validator->options.tick_ms * FAII_NS_PER_MS;
	uint64_t next_tick = faii_clock_monotonic_ns(clock);
	uint64_t next_status = next_tick;
	while (!stopping(validator)) {
		uint64_t now = faii_clock_monotonic_ns(clock);
		int timeout_ms = now >= next_tick ? 0 : (int)((next_tick - now) / FAII_NS_PER_MS);
		int transport_ms = faii_transport_tcp_timeout_ms(validator->tcp);
		if (transport_ms >= 0 && transport_ms < timeout_ms)
			timeout_ms = transport_ms;
		faii_transport_tcp_poll(validator->tcp, timeout_ms, count_event, validator);
		drain_queue(validator);
		now = faii_clock_monotonic_ns(clock);
		if (now >= next_tick) {
			validator->events++;
			faii_dag_on_tick(validator->dag, now);
			next_tick = now + tick_ns;
		}
		faii_dag_flush(validator->dag);
		validator->flushes++;
		if (now >= next_status) {
			publish_status(validator, now);
			next_status = now + FAII_VALIDATOR_STATUS_MS * FAII_NS_PER_MS;
		}
	}
	drain_queue(validator);
	faii_dag_flush(validator->dag);
	publish_status(validator, faii_clock_monotonic_ns(clock));
	return NULL;
}

static int open_parts(struct faii_validator *validator, char *err, size_t err_bytes)
{
	const struct faii_validator_options *options = &validator->options;
	validator->tcp = faii_transport_tcp_open(&options->tcp, options->clock, err, err_bytes);
	if (validator->tcp == NULL)
		return -EINVAL;
	int rc = faii_dag_store_journal_init(&validator->journal, options->store,
	                                     options->dag.epoch);
	if (rc != 0) {
		snprintf(err, err_bytes, "validator: out of memory");
		return rc;
	}
	struct faii_transport *transport = faii_transport_tcp_transport(validator->tcp);
	if (options->byzantine_lies != 0) {
		rc = dag_byzantine_init(&validator->byzantine, transport, options->byzantine_lies,
		                        options->dag.secret_key);
		if (rc != 0) {
			snprintf(err, err_bytes, "validator: out of memory");
			return rc;
		}
		transport = &validator->byzantine.transport;
	}
	struct faii_dag_config dag = options->dag;
	dag.flush_explicitly = true;
	rc = faii_dag_open(&dag, transport, options->clock, &validator->journal.journal,
	                   &options->consumer, options->consumer_applied, &validator->dag, err,
	                   err_bytes);
	sodium_memzero(&dag.secret_key, sizeof(dag.secret_key));
	return rc;
}

int faii_validator_start(const struct faii_validator_options *options, struct faii_validator **out,
                         char *err, size_t err_bytes)
{
	FAII_ASSERT(options != NULL && out != NULL && options->store != NULL && options->clock);
	if (options->tick_ms == 0 || options->tick_ms > FAII_VALIDATOR_TICK_MS_MAX) {
		snprintf(err, err_bytes, "validator: tick_ms must be 1..%u",
		         FAII_VALIDATOR_TICK_MS_MAX);
		return -EINVAL;
	}
	struct faii_validator *validator = calloc(1, sizeof(*validator));
	if (validator == NULL)
		return -ENOMEM;
	validator->options = *options;
	pthread_mutex_init(&validator->lock, NULL);
	validator->queue = malloc(FAII_VALIDATOR_QUEUE_BYTES);
	validator->batch = malloc(FAII_VALIDATOR_QUEUE_BYTES);
	int rc = validator->queue && validator->batch ? open_parts(validator, err, err_bytes)
	                                              : -ENOMEM;
	if (rc == 0) {
		publish_status(validator, faii_clock_monotonic_ns(options->clock));
		rc = -pthread_create(&validator->thread, NULL, validator_main, validator);
		validator->thread_started = rc == 0;
		if (rc != 0)
			snprintf(err, err_bytes, "validator: cannot start its thread: %s",
			         strerror(-rc));
	}
	sodium_memzero(&validator->options.dag.secret_key,
	               sizeof(validator->options.dag.secret_key));
	sodium_memzero(&validator->options.tcp.secret_key,
	               sizeof(validator->options.tcp.secret_key));
	if (rc != 0) {
		faii_validator_stop(validator);
		return rc;
	}
	*out = validator;
	return 0;
}

void faii_validator_stop(struct faii_validator *validator)
{
	if (validator == NULL)
		return;
	pthread_mutex_lock(&validator->lock);
	validator->stop = true;
	pthread_mutex_unlock(&validator->lock);
	if (validator->thread_started)
		pthread_join(validator->thread, NULL);
	faii_dag_close(validator->dag);
	faii_dag_store_journal_fini(&validator->journal);
	if (validator->byzantine.scratch != NULL)
		dag_byzantine_fini(&validator->byzantine);
	if (validator->tcp != NULL)
		faii_transport_tcp_close(validator->tcp);
	free(validator->queue);
	free(validator->batch);
	pthread_mutex_destroy(&validator->lock);
	free(validator);
}

int faii_validator_submit(struct faii_validator *validator, const uint8_t *tx, uint32_t len)
{
	if (len == 0 || len > FAII_DAG_TX_BYTES_MAX)
		return -EMSGSIZE;
	int rc = 0;
	pthread_mutex_lock(&validator->lock);
	if (FAII_VALIDATOR_QUEUE_BYTES - validator->queue_bytes < 4 + len) {
		validator->queue_refused++;
		rc = -ENOBUFS;
	} else {
		memcpy(validator->queue + validator->queue_bytes, &len, sizeof(len));
		memcpy(validator->queue + validator->queue_bytes + 4, tx, len);
		validator->queue_bytes += 4 + len;
	}
	pthread_mutex_unlock(&validator->lock);
	return rc;
}

void faii_validator_status(struct faii_validator *validator, struct faii_validator_status *status)
{
	pthread_mutex_lock(&validator->lock);
	*status = validator->status;
	pthread_mutex_unlock(&validator->lock);
}

int faii_validator_local_address(struct faii_validator *validator, struct sockaddr_storage *address)
{
	return faii_transport_tcp_local_address(validator->tcp, address);
}
