/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A simulated disk for the ledger store (include/faii/store_io.h): files and
 * directories in memory, every fault decided by a seeded PRNG, so that a
 * failing run replays exactly from its seed (SQLite's crash VFS, extended to
 * reads; TigerBeetle's simulated storage).
 *
 * Model (the durability contract of store_io.h):
 *   - every file has a media image (what survives a power loss) and a cache
 *     image (what reads see). Writes go to the cache and mark their sectors
 *     dirty; datasync/fsync copy the file's dirty sectors to the media.
 *   - names (create, rename, unlink, mkdir) change the cached namespace and
 *     queue in their directory; fsync_dir makes the queue durable.
 *   - sim_disk_crash() freezes the disk (every later operation fails -EIO,
 *     close and unmap still work). sim_disk_restart() then either keeps the
 *     cache (SIM_RESTART_PROCESS: kill -9, the kernel survives) or loses
 *     power (SIM_RESTART_POWER): each unsynced write survives, tears (a
 *     subset of its sectors lands) or vanishes, each directory keeps a
 *     prefix of its unsynced changes, each unsynced size change holds or
 *     not, all decided by the seed; the cache is then reloaded from the
 *     media.
 *
 * Faults, each with a probability per applicable operation (parts per
 * million, sim_disk_options.fault_ppm):
 *   within the contract (the store must survive them with no loss of an
 *   acknowledged record):
 *     EIO         the operation fails and changes nothing; on a sync, the
 *                 file's unsynced writes each survive, tear or vanish on the
 *                 media while the cache keeps them ("fsyncgate")
 *     ENOSPC      a write, fallocate, create or mkdir fails, changing nothing
 *     SHORT_WRITE a write lands a prefix (any byte count) and reports it
 *     TORN_WRITE  a write lands a subset of its sectors and fails -EIO
 *     DELAY       a batch completes only after up to delay_polls_max polls
 *   beyond the contract (the device lies; the store must refuse or report,
 *   never hand back wrong data; off unless a test sets them):
 *     WRITE_FLIP  a write reaches the media with one bit flipped
 *     READ_FLIP   a read or map returns one bit flipped (a latent sector error)
 *     LOST_WRITE  a write reaches the cache but never the media
 * The crash point (crash_at_op, or sim_disk_crash_in_next_write()) freezes the
 * disk inside an operation: a write lands a torn part first.
 *
 * Every operation and decision goes into a bounded trace (the last
 * SIM_TRACE_EVENTS_MAX events, and a hash of all of them), printed when a
 * run fails; two runs of one seed have byte-identical traces.
 *
 * Threads: one mutex serialises the disk. Determinism needs the operations
 * in the same order: one appender at a time waiting for each record
 * (faii_ls_append_wait), as tests/sim/test_sim_store.c does.
 *
 * Error convention: the store_io operations return negative errnos; the
 * sim_disk_* helpers return 0 or a negative errno.
 */
#ifndef FAII_SIM_DISK_H
#define FAII_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "faii/store_io.h"

/* Bounds of the simulated disk. */
#define SIM_INODES_MAX             64u
#define SIM_NAMES_MAX              128u
#define SIM_HANDLES_MAX            512u /* the store caches up to 256 read descriptors */
#define SIM_MAPS_MAX               16u
#define SIM_PENDING_WRITES_MAX     4096u /* unsynced writes remembered; older ones reach the media */
#define SIM_NAME_OPS_MAX           512u  /* unsynced namespace changes */
#define SIM_PATH_BYTES_MAX         256u
#define SIM_FILE_BYTES_MAX         (64ull << 20)
#define SIM_TRACE_EVENTS_MAX       16384u
#define SIM_SECTOR_BYTES_DEFAULT   512u
#define SIM_CAPACITY_BYTES_DEFAULT (1ull << 30)
#define SIM_DELAY_POLLS_DEFAULT    8u
#define SIM_PPM                    1000000u /* probabilities are parts per million */

enum sim_fault {
	SIM_FAULT_NONE = 0,
	SIM_FAULT_EIO,
	SIM_FAULT_ENOSPC,
	SIM_FAULT_SHORT_WRITE,
	SIM_FAULT_TORN_WRITE,
	SIM_FAULT_DELAY,
	SIM_FAULT_WRITE_FLIP,
	SIM_FAULT_READ_FLIP,
	SIM_FAULT_LOST_WRITE,
	SIM_FAULT_KINDS
};

struct sim_disk_options {
	uint64_t seed;
	uint32_t fault_ppm[SIM_FAULT_KINDS]; /* per applicable operation */
	uint32_t sector_bytes;               /* 0: SIM_SECTOR_BYTES_DEFAULT; a power of two */
	uint64_t capacity_bytes;             /* 0: SIM_CAPACITY_BYTES_DEFAULT; ENOSPC beyond */
	uint32_t delay_polls_max;            /* 0: SIM_DELAY_POLLS_DEFAULT */
	uint64_t crash_at_op;                /* freeze inside operation n (from 1); 0: never */
};

enum sim_restart {
	SIM_RESTART_PROCESS, /* kill -9: the cache survives, nothing more reaches the media */
	SIM_RESTART_POWER,   /* power loss: only the media (and what the seed lets land) */
};

struct sim_disk;

/* 0 or -ENOMEM. */
int sim_disk_create(const struct sim_disk_options *opt, struct sim_disk **out);
void sim_disk_destroy(struct sim_disk *disk);
/* The disk as the store sees it: pass it in faii_ls_options.io. */
const struct faii_store_io *sim_disk_io(struct sim_disk *disk);

/* Freezes the disk now: every later operation fails -EIO. */
void sim_disk_crash(struct sim_disk *disk);
/* Freezes it inside operation number op (sim_disk_ops() + 1 is the next); 0: never. */
void sim_disk_crash_at(struct sim_disk *disk, uint64_t op);
/* The operation the disk will freeze in, or 0. */
uint64_t sim_disk_crash_point(struct sim_disk *disk);
/*
 * Freezes it inside the next write (pwrite or batch): only the first
 * landed_bytes of it reach the cache (kill -9 in the middle of a write).
 */
void sim_disk_crash_in_next_write(struct sim_disk *disk, uint32_t landed_bytes);
bool sim_disk_frozen(struct sim_disk *disk);
/* After a crash, once the store is closed (no file open): restart. */
void sim_disk_restart(struct sim_disk *disk, enum sim_restart how);

void sim_disk_set_faults(struct sim_disk *disk, const uint32_t fault_ppm[SIM_FAULT_KINDS]);
/* Operations counted so far (the numbers crash_at_op refers to). */
uint64_t sim_disk_ops(struct sim_disk *disk);
/* How many times a fault kind was injected. */
uint64_t sim_disk_faults(struct sim_disk *disk, enum sim_fault kind);
/* Files the store has open. */
unsigned sim_disk_open_files(struct sim_disk *disk);

/* Test access to the media and cache, outside the fault model. */
int64_t sim_disk_file_size(struct sim_disk *disk, const char *path);
int64_t sim_disk_read(struct sim_disk *disk, const char *path, void *buf, size_t len,
                      uint64_t offset);
/* Flips a bit on the media and in the cache (damage at rest). */
int sim_disk_flip_bit(struct sim_disk *disk, const char *path, uint64_t offset, unsigned bit);
/* Every read and map of path returns offset's bit flipped until cleared
 * (a latent sector error); path NULL clears it. */
int sim_disk_flip_on_read(struct sim_disk *disk, const char *path, uint64_t offset, unsigned bit);

/* The trace: events recorded in all, a hash of all of them, the last ones. */
uint64_t sim_disk_trace_count(struct sim_disk *disk);
uint64_t sim_disk_trace_hash(struct sim_disk *disk);
/* Copies the retained events' bytes (the last SIM_TRACE_EVENTS_MAX); returns the size. */
size_t sim_disk_trace_copy(struct sim_disk *disk, void *buf, size_t cap);
void sim_disk_trace_print(struct sim_disk *disk, FILE *out, unsigned last_events);

const char *sim_fault_name(enum sim_fault kind);

#endif /* FAII_SIM_DISK_H */
