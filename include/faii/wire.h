/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one parser of the faii wire protocol, used by every component.
 *
 * faii_parse() validates a datagram completely and returns FAII_OK with a
 * zero-copy view into the caller's buffer, or a named drop reason. The view's
 * structs stay in network byte order: read them with faii_be16/32/64, or
 * copy them to host order with faii_*_decode() on the slow path.
 *
 * Error convention of this layer: functions return an enum faii_drop (FAII_OK
 * on success) or a size (0 on failure); nothing allocates, nothing blocks,
 * nothing logs, so everything here is safe on the packet hot path.
 */
#ifndef FAII_WIRE_H
#define FAII_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/protocol.h"

/*
 * Drop reasons: X(enum suffix, counter name, meaning). The counter name is
 * the stable label used by metrics, the control socket and the dissector.
 */
#define FAII_DROP_REASONS(X)                                                                       \
	X(OK, "ok", "valid")                                                                       \
	X(TOO_SHORT, "too_short", "shorter than the fixed header or the type's body")              \
	X(BAD_MAGIC, "bad_magic", "magic is not 0xFA11")                                           \
	X(BAD_VERSION, "bad_version", "protocol version not supported")                            \
	X(UNKNOWN_TYPE, "unknown_type", "message type not defined")                                \
	X(BAD_LENGTH, "bad_length", "header length differs from the datagram or type")             \
	X(BAD_FLAGS, "bad_flags", "undefined or misplaced flag bits set")                          \
	X(RESERVED_NONZERO, "reserved_nonzero", "a reserved field is not zero")                    \
	X(BAD_PAYLOAD_LENGTH, "bad_payload_length", "payload length inconsistent")                 \
	X(UNKNOWN_CATEGORY, "unknown_category", "task category not defined")                       \
	X(UNKNOWN_TIER, "unknown_tier", "tier outside 1..4")                                       \
	X(TIER_MISMATCH, "tier_mismatch", "tier differs from the category's tier")                 \
	X(BAD_CONSISTENCY, "bad_consistency", "consistency not eventual/session/strong")           \
	X(BAD_REPLICA, "bad_replica", "replica index or flag inconsistent")                        \
	X(BAD_ATTEMPT, "bad_attempt", "re-dispatch attempt above 1")                               \
	X(BAD_RESIDENCY_CLASS, "bad_residency_class", "residency class 0 or too large")            \
	X(BAD_REGION, "bad_region", "origin region 0 or too large")                                \
	X(BAD_REPUTATION, "bad_reputation", "minimum reputation above 1000")                       \
	X(BAD_BUDGET, "bad_budget", "latency budget is zero")                                      \
	X(BAD_TIMESTAMP, "bad_timestamp", "timestamp is zero")                                     \
	X(BAD_DISPATCH, "bad_dispatch", "dispatch fields inconsistent with flags")                 \
	X(BAD_NODE_ID, "bad_node_id", "node id 0 or too large")                                    \
	X(BAD_STATUS, "bad_status", "result status not defined")                                   \
	X(BAD_LOAD, "bad_load", "load above 1000 permille")                                        \
	X(BAD_INTERVAL, "bad_interval", "attestation interval is zero")                            \
	X(BAD_PUE, "bad_pue", "PUE below 1.000")                                                   \
	X(BAD_ENERGY_TO_WORK, "bad_energy_to_work", "energy-to-work is zero")                      \
	X(BAD_GRID_STRESS, "bad_grid_stress", "grid stress above 1000 permille")                   \
	X(BAD_ENERGY_MIX, "bad_energy_mix", "energy source mix does not sum to 1000")              \
	X(BAD_NODE_CLASS, "bad_node_class", "node class not micro/S/M/L/XL")                       \
	X(BAD_ELIGIBILITY, "bad_eligibility", "eligibility names undefined categories")            \
	X(BAD_COUNTRY, "bad_country", "country is not two upper-case letters")                     \
	X(BAD_ADDRESS, "bad_address", "address family unknown or IPv4 tail non-zero")              \
	X(BAD_PORT, "bad_port", "UDP port is zero")                                                \
	X(BAD_CAPACITY, "bad_capacity", "capacity is zero")                                        \
	X(NOT_IP, "not_ip", "frame carries neither IPv4 nor IPv6")                                 \
	X(BAD_IP_HEADER, "bad_ip_header", "IP header truncated or inconsistent")                   \
	X(IP_FRAGMENT, "ip_fragment", "IP fragments are not reassembled")                          \
	X(NOT_UDP, "not_udp", "IP payload is not UDP")                                             \
	X(BAD_UDP_LENGTH, "bad_udp_length", "UDP length inconsistent with IP")                     \
	X(WRONG_PORT, "wrong_port", "UDP destination is not the faii port")

enum faii_drop {
#define FAII_DROP_ENUM(sym, name, meaning) FAII_DROP_##sym,
	FAII_DROP_REASONS(FAII_DROP_ENUM)
#undef FAII_DROP_ENUM
	        FAII_DROP_COUNT
};
#define FAII_OK FAII_DROP_OK

/* Stable counter name of a drop reason ("bad_magic"), "invalid" if unknown. */
const char *faii_drop_name(enum faii_drop reason);
/* One-line meaning of a drop reason. */
const char *faii_drop_meaning(enum faii_drop reason);

/* Network <-> host order; the same swap serves both directions. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FAII_BSWAP(bits, v) (v)
#else
#define FAII_BSWAP(bits, v) __builtin_bswap##bits(v)
#endif
static inline uint16_t faii_be16(uint16_t v)
{
	return FAII_BSWAP(16, v);
}
static inline uint32_t faii_be32(uint32_t v)
{
	return FAII_BSWAP(32, v);
}
static inline uint64_t faii_be64(uint64_t v)
{
	return FAII_BSWAP(64, v);
}

/* A validated message; pointers alias the parsed buffer. */
struct faii_msg_view {
	const struct faii_hdr *hdr;
	union {
		const void *body;
		const struct faii_task *task;
		const struct faii_result *result;
		const struct faii_heartbeat *heartbeat;
		const struct faii_attest *attest;
		const struct faii_register *reg;
	};
	const uint8_t *payload; /* TASK and RESULT; NULL otherwise */
	/* Version 2 TASK and RESULT: the block after the version 1 body;
	 * NULL for version 1 and for the other types. */
	const struct faii_auth_block *auth;
	uint16_t payload_len;
	uint16_t length; /* whole message, bytes */
	uint8_t type;
	uint8_t version; /* FAII_VERSION or FAII_VERSION_2 */
};

/* Validates one UDP payload of len bytes. */
enum faii_drop faii_parse(const void *msg, size_t len, struct faii_msg_view *view);

/* A validated Ethernet frame carrying a faii message. */
struct faii_frame_view {
	uint16_t l3_offset;
	uint16_t l4_offset;
	uint16_t msg_offset;
	uint8_t ip_version; /* 4 or 6 */
	uint16_t src_port;  /* host order */
	uint16_t dst_port;  /* host order */
	struct faii_msg_view msg;
};

/*
 * Validates Ethernet (one optional 802.1Q tag), IPv4 or IPv6 (no extension
 * headers), UDP to udp_port, then the message.
 */
enum faii_drop faii_parse_frame(const void *frame, size_t len, uint16_t udp_port,
                                struct faii_frame_view *view);

/* Fixed body size of a message type in version 1, 0 for an unknown type. */
size_t faii_body_size(uint8_t type);
/* The same for a version (1 or 2): a version 2 TASK or RESULT body includes
 * its struct faii_auth_block. 0 for an unknown type or version. */
size_t faii_body_size_v(uint8_t version, uint8_t type);

/*
 * Encoders take host-order structs and write a complete message (header,
 * body, payload) in network order. They return the message length, or 0 when
 * cap is too small or the payload too long. They do not validate: tests use
 * them to build invalid messages on purpose. Signed types get a zeroed
 * signature; faii_msg_sign() fills it.
 */
size_t faii_encode_task(void *buf, size_t cap, const struct faii_task *task, const void *payload);
size_t faii_encode_result(void *buf, size_t cap, const struct faii_result *result,
                          const void *payload);
size_t faii_encode_heartbeat(void *buf, size_t cap, const struct faii_heartbeat *hb);
size_t faii_encode_attest(void *buf, size_t cap, const struct faii_attest *att);
size_t faii_encode_register(void *buf, size_t cap, const struct faii_register *reg);

/*
 * Version 2 TASK and RESULT: the version 1 body, then auth (copied as it is:
 * its fields are byte arrays), then the payload. The MAC is left zero:
 * faii_msg_mac_sign() fills it under the sender's key.
 */
size_t faii_encode_task_v2(void *buf, size_t cap, const struct faii_task *task,
                           const struct faii_auth_block *auth, const void *payload);
size_t faii_encode_result_v2(void *buf, size_t cap, const struct faii_result *result,
                             const struct faii_auth_block *auth, const void *payload);

/*
 * The MAC of a version 2 TASK or RESULT: keyed BLAKE2b with a 16-byte
 * output (libsodium crypto_generichash) over every byte of the message but
 * the MAC field itself. msg is a whole message of len bytes whose header
 * says version 2 and type TASK or RESULT. docs/security.md says why this
 * primitive and what it costs per packet.
 */
#define FAII_TASK_MAC_OFFSET   (FAII_HDR_SIZE + FAII_TASK_V2_BODY_SIZE - FAII_MAC_SIZE)
#define FAII_RESULT_MAC_OFFSET (FAII_HDR_SIZE + FAII_RESULT_V2_BODY_SIZE - FAII_MAC_SIZE)
/* Offset of the MAC in a version 2 message of that type, 0 for another. */
size_t faii_msg_mac_offset(uint8_t version, uint8_t type);
/* Computes the tag of msg into mac; 0, or -EINVAL if msg is not a whole
 * version 2 TASK or RESULT. */
int faii_msg_mac(const void *msg, size_t len, const uint8_t key[FAII_MAC_KEY_SIZE],
                 uint8_t mac[FAII_MAC_SIZE]);
/* Writes the tag into the message's MAC field; 0 or -EINVAL. */
int faii_msg_mac_sign(void *msg, size_t len, const uint8_t key[FAII_MAC_KEY_SIZE]);
/* True when a parsed version 2 TASK or RESULT carries the right tag under
 * key (constant-time comparison). Safe on the packet path: no allocation,
 * no lock, no system call. */
bool faii_msg_mac_ok(const struct faii_msg_view *view, const uint8_t key[FAII_MAC_KEY_SIZE]);

/*
 * The RESULT MAC key of a node (docs/security.md, "Keys"): libsodium's key
 * exchange (crypto_kx) between the appliance's X25519 key pair (server) and
 * the node's registered Ed25519 key converted to X25519 (client); the key is
 * the node's transmit session key, which only the two of them can compute.
 * Slow path (two scalar multiplications). 0, or -EINVAL when a key has no
 * X25519 form or the exchange is refused (a low-order point).
 */
int faii_result_key_appliance(const uint8_t appliance_pk[FAII_KX_KEY_SIZE],
                              const uint8_t appliance_sk[FAII_KX_KEY_SIZE],
                              const uint8_t node_public_key[FAII_PUBKEY_SIZE],
                              uint8_t key[FAII_MAC_KEY_SIZE]);
int faii_result_key_node(const uint8_t node_secret_key[64],
                         const uint8_t appliance_pk[FAII_KX_KEY_SIZE],
                         uint8_t key[FAII_MAC_KEY_SIZE]);

/* Host-order copies of a parsed view's body (slow path). */
void faii_decode_task(const struct faii_msg_view *view, struct faii_task *out);
void faii_decode_result(const struct faii_msg_view *view, struct faii_result *out);
void faii_decode_heartbeat(const struct faii_msg_view *view, struct faii_heartbeat *out);
void faii_decode_attest(const struct faii_msg_view *view, struct faii_attest *out);
void faii_decode_register(const struct faii_msg_view *view, struct faii_register *out);

/* Ed25519 over every byte before the trailing signature (libsodium). */
bool faii_msg_is_signed(uint8_t type);
int faii_msg_sign(void *msg, size_t len, const uint8_t secret_key[64]);
/* 0 when the signature verifies under public_key, -EBADMSG otherwise. */
int faii_msg_verify(const struct faii_msg_view *view, const uint8_t public_key[FAII_PUBKEY_SIZE]);

#endif /* FAII_WIRE_H */
