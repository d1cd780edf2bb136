/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * On-disk format of the ledger store (docs/ledger-store.md). All integers are
 * little-endian; the store runs on x86-64 and aarch64 appliances, both
 * little-endian, and format.h refuses to build elsewhere.
 *
 *   segment-<16 hex digits>.log      its index in hex
 *     [segment header, 4096 bytes][record][record]...[commit]...[close]...[zeros]
 *   checkpoint-<16 hex digits>.ckpt  seq_covered in hex
 *   LOCK                             flock()ed while open
 *   STATE                            the durability mark (ls_state_mark)
 *
 * A record is [length | type | flags | CRC32C | payload length | seq | keys |
 * payload], padded to 8 bytes. Appends are written in batches; each batch
 * ends with a COMMIT record carrying the chain value
 *   chain' = BLAKE2b-256(chain || every byte of the batch before the commit)
 * so every record extends the chain, and a segment header carries the chain
 * value at the end of the previous segment.
 */
#ifndef FAII_LEDGER_FORMAT_H
#define FAII_LEDGER_FORMAT_H

#include <assert.h>
#include <stdint.h>

#include "faii/ledger_store.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ledger format is little-endian"
#endif

#define LS_SEGMENT_MAGIC       "FAIISEG1"
#define LS_CHECKPOINT_MAGIC    "FAIICKP1"
#define LS_FORMAT_VERSION      1u
#define LS_SEGMENT_HEADER_SIZE 4096u /* one O_DIRECT block */
#define LS_ALIGN               8u
#define LS_DIRECT_ALIGN        4096u

#define LS_TYPE_NONE   0u /* zeros: the end of written data */
#define LS_TYPE_COMMIT 0xFF01u
#define LS_TYPE_PAD    0xFF02u /* fills a batch up to an O_DIRECT block */
/* LS_TYPE_CLOSE 0xFF03: below, with its payload. */

struct ls_segment_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t segment_index;
	uint64_t first_seq;
	uint64_t segment_size;
	uint8_t prev_chain[FAII_LS_CHAIN_SIZE];
	uint32_t crc; /* CRC32C of the bytes before this field */
	uint32_t reserved;
};

struct ls_record_header {
	uint32_t length; /* header + keys + payload, before padding */
	uint16_t type;
	uint16_t flags; /* FAII_LS_KEY_* present after the header */
	uint32_t crc;   /* CRC32C of the record with this field as zero */
	uint32_t payload_len;
	uint64_t seq; /* commit: the batch's last seq */
};

struct ls_commit {
	uint64_t first_seq;
	uint64_t last_seq;
	uint8_t chain[FAII_LS_CHAIN_SIZE];
};

struct ls_checkpoint_header {
	char magic[8];
	uint32_t version;
	uint32_t reserved;
	uint64_t seq_covered;   /* the caller's state covers records up to here */
	uint64_t segment_index; /* store position: after the commit of the batch */
	uint64_t offset;        /*   holding last_seq */
	uint64_t last_seq;
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	uint64_t blob_len;
	uint64_t index_len; /* serialised index entries after the blob */
	uint32_t crc;       /* CRC32C of the whole file with this field as zero */
	uint32_t reserved2;
};

/*
 * The close record: written at a clean close right after the last commit (or
 * after the segment header of a segment rolled for it), outside every batch
 * and outside the chain. It repeats the last commit's sequence number (also
 * in its header's seq) and chain value, and is padded with zeros to the next
 * O_DIRECT block so that appends after a reopen stay aligned.
 */
#define LS_TYPE_CLOSE 0xFF03u
struct ls_close {
	uint64_t last_seq;
	uint8_t chain[FAII_LS_CHAIN_SIZE];
};
#define LS_CLOSE_RECORD_MIN 64u /* header + ls_close: the least it takes */
#define LS_CLOSE_RECORD_MAX (LS_DIRECT_ALIGN + LS_CLOSE_RECORD_MIN)

/*
 * DIR/STATE, the store's durability mark, replaced atomically (a synced
 * temporary renamed over it): "open" from the end of recovery until a clean
 * close (seq and chain: the log's end when opened; a crash leaves it), then
 * "closed" (seq and chain: the log's end; the close record's position).
 * Recovery judges the log's end against it: see ls_judge() in mark.h.
 */
#define LS_STATE_FILE  "STATE"
#define LS_STATE_MAGIC "FAIISTA1"
enum { LS_STATE_OPEN = 1, LS_STATE_CLOSED = 2 };
struct ls_state_mark {
	char magic[8];
	uint32_t version; /* LS_FORMAT_VERSION */
	uint32_t state;   /* LS_STATE_OPEN or LS_STATE_CLOSED */
	uint64_t seq;
	uint8_t chain[FAII_LS_CHAIN_SIZE];
	uint64_t close_segment; /* closed: where the close record is */
	uint64_t close_offset;
	uint32_t crc; /* CRC32C of the bytes before this field */
	uint32_t reserved;
};

/*
 * Before DIR/STATE, DIR/LOCK held this after a clean close (and nothing while
 * open). Read only when STATE is missing, to open a store closed by an
 * earlier version; never written.
 */
#define LS_CLEAN_MAGIC "FAIICLN1"
struct ls_clean_close {
	char magic[8];
	uint64_t seq;
	uint32_t crc; /* CRC32C of the bytes before this field */
	uint32_t reserved;
};

static_assert(sizeof(struct ls_segment_header) <= LS_SEGMENT_HEADER_SIZE, "segment header");
static_assert(sizeof(struct ls_record_header) == 24, "record header");
static_assert(sizeof(struct ls_commit) == 48, "commit payload");
static_assert(sizeof(struct ls_record_header) + sizeof(struct ls_close) == LS_CLOSE_RECORD_MIN,
              "close record");
static_assert(sizeof(struct ls_state_mark) == 80, "state mark");

static inline uint64_t ls_align(uint64_t n, uint64_t a)
{
	return (n + a - 1) / a * a;
}

/* Bytes of the keys a record carries, by flags. */
static inline uint32_t ls_keys_size(unsigned flags)
{
	return ((flags & FAII_LS_KEY_ROUND) ? 8u : 0u) + ((flags & FAII_LS_KEY_EPOCH) ? 8u : 0u) +
	       ((flags & FAII_LS_KEY_NODE) ? 8u : 0u) +
	       ((flags & FAII_LS_KEY_DIGEST) ? FAII_LS_DIGEST_SIZE : 0u);
}

#define LS_KEYS_MASK (FAII_LS_KEY_ROUND | FAII_LS_KEY_EPOCH | FAII_LS_KEY_NODE | FAII_LS_KEY_DIGEST)

/* CRC32C (ISA-L, iSCSI polynomial) of a record with its crc field as zero. */
uint32_t ls_record_crc(const void *record, uint32_t length);
/* The same over a record in parts: its header (crc taken as zero), keys, payload. */
uint32_t ls_record_crc_parts(const struct ls_record_header *h, const void *keys, uint32_t keys_len,
                             const void *payload, uint32_t payload_len);
uint32_t ls_crc(const void *data, size_t len);

/* Writes keys at p (in flag order); returns bytes written. */
uint32_t ls_keys_put(uint8_t *p, const struct faii_ls_keys *keys);
/* Reads keys written by ls_keys_put. */
void ls_keys_get(const uint8_t *p, unsigned flags, struct faii_ls_keys *keys);

#endif /* FAII_LEDGER_FORMAT_H */
