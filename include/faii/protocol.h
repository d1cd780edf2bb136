/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii wire protocol, versions 1 and 2.
 *
 * Every message is one UDP datagram: a fixed 8-byte header, a fixed-size body
 * whose layout depends on the message type, and for TASK and RESULT an opaque
 * payload of payload_len bytes. All integers are big-endian (network order).
 * Signed messages (HEARTBEAT, ATTEST, REGISTER) end with a 64-byte Ed25519
 * signature over every byte before it, header included.
 *
 * Version 2 is version 1 with one fixed 40-byte block (struct faii_auth_block)
 * appended to the TASK and RESULT bodies: the per-copy dispatch token that a
 * node echoes, the sender's key epoch and a 16-byte MAC over every other byte
 * of the message. The other types are the same in both versions.
 *
 * docs/protocol.md is the normative description; this header is its C form,
 * shared by the dataplane, the control plane, the eBPF program and the tests.
 * It uses only fixed-width types so that the BPF object can include it too.
 *
 * Error convention: none (definitions only); wire.h parses and refuses.
 */
#ifndef FAII_PROTOCOL_H
#define FAII_PROTOCOL_H

#include "faii/types.h"

#define FAII_MAGIC            0xFA11u
#define FAII_VERSION          1u /* version 1: what the v1 encoders write */
#define FAII_VERSION_2        2u /* TASK and RESULT authenticated (docs/security.md) */
#define FAII_UDP_PORT_DEFAULT 7410u

/* Largest message on the wire: fits a 1500-byte MTU over IPv6 + UDP. */
#define FAII_MSG_SIZE_MAX   1400u
#define FAII_SIGNATURE_SIZE 64u
#define FAII_PUBKEY_SIZE    32u
#define FAII_HASH_SIZE      32u
#define FAII_MAC_SIZE       16u /* keyed BLAKE2b tag of a version 2 TASK or RESULT */
#define FAII_MAC_KEY_SIZE   32u
#define FAII_KX_KEY_SIZE    32u /* X25519 keys of the appliance (crypto_kx) */

enum faii_msg_type {
	FAII_MSG_TASK = 1,
	FAII_MSG_RESULT = 2,
	FAII_MSG_HEARTBEAT = 3,
	FAII_MSG_ATTEST = 4,
	FAII_MSG_REGISTER = 5,
};
#define FAII_MSG_TYPE_MIN FAII_MSG_TASK
#define FAII_MSG_TYPE_MAX FAII_MSG_REGISTER

/* Task categories and their tiers: SPEC section 2, FAII Table 1. */
enum faii_category {
	FAII_CAT_EDGE_INFERENCE = 1,        /* tier 1 */
	FAII_CAT_STORAGE_SHARD = 2,         /* tier 2 */
	FAII_CAT_DAG_VALIDATION = 3,        /* tier 2 */
	FAII_CAT_INTERACTIVE_INFERENCE = 4, /* tier 3 */
	FAII_CAT_BATCH_INFERENCE = 5,       /* tier 4 */
	FAII_CAT_LEDGER_WORK = 6,           /* tier 4 */
};
#define FAII_CATEGORY_COUNT 6u
#define FAII_TIER_COUNT     4u

enum faii_consistency {
	FAII_CONSISTENCY_EVENTUAL = 0, /* 1 node */
	FAII_CONSISTENCY_SESSION = 1,  /* 3 nodes, 2 matching result hashes */
	FAII_CONSISTENCY_STRONG = 2,   /* 7 nodes, 5 matching result hashes */
};
#define FAII_CONSISTENCY_COUNT 3u
#define FAII_REPLICAS_MAX      7u

/* Node size classes. */
enum faii_node_class {
	FAII_CLASS_MICRO = 0,
	FAII_CLASS_SMALL = 1,
	FAII_CLASS_MEDIUM = 2,
	FAII_CLASS_LARGE = 3,
	FAII_CLASS_XL = 4,
};
#define FAII_CLASS_COUNT 5u

/* Energy sources of an attestation's mix: FAII Table 2, then the rest. */
enum faii_energy_source {
	FAII_SRC_SOLAR = 0,
	FAII_SRC_WIND = 1,
	FAII_SRC_HYDRO = 2,
	FAII_SRC_GEOTHERMAL = 3,
	FAII_SRC_BIOMASS = 4,
	FAII_SRC_HYDROGEN = 5,
	FAII_SRC_WASTE = 6,
	FAII_SRC_NONRENEWABLE = 7,
};
#define FAII_SRC_RENEWABLE_COUNT 7u
#define FAII_SRC_COUNT           8u

enum faii_result_status {
	FAII_RESULT_OK = 0,
	FAII_RESULT_ERROR = 1,            /* the node failed the task */
	FAII_RESULT_NO_FEASIBLE_NODE = 2, /* appliance: nothing could take it */
	FAII_RESULT_TIMEOUT = 3,          /* appliance: dispatch and retry expired */
	FAII_RESULT_REFUSED = 4,          /* appliance: validation or residency */
	FAII_RESULT_NO_QUORUM = 5,        /* appliance: the replica set did not agree */
};
#define FAII_RESULT_STATUS_MAX FAII_RESULT_NO_QUORUM

/* Identifier bounds: 0 is never a valid node, region or residency class. */
#define FAII_NODE_ID_MAX          0x00FFFFFFu
#define FAII_REGION_ID_MAX        1023u
#define FAII_RESIDENCY_CLASS_MAX  63u
#define FAII_REPUTATION_MILLI_MAX 1000u
#define FAII_PERMILLE             1000u

#define FAII_PACKED __attribute__((packed))

struct faii_hdr {
	uint16_t magic;   /* FAII_MAGIC */
	uint8_t version;  /* FAII_VERSION */
	uint8_t type;     /* enum faii_msg_type */
	uint16_t length;  /* whole message, header included, bytes */
	uint8_t flags;    /* FAII_F_*; undefined bits must be zero */
	uint8_t reserved; /* must be zero */
} FAII_PACKED;

/* Set by the appliance on a TASK it has forwarded (dispatch fields valid). */
#define FAII_F_DISPATCHED 0x01u
/* Set on a TASK that is one member of a replica set. */
#define FAII_F_REPLICA 0x02u
#define FAII_F_MASK    (FAII_F_DISPATCHED | FAII_F_REPLICA)

/* Client -> appliance -> node. Followed by payload_len payload bytes. */
struct faii_task {
	uint64_t task_id;
	uint64_t client_id;
	uint64_t submit_ts_ns;   /* client's clock, Unix epoch */
	uint64_t dispatch_ts_ns; /* stamped by the appliance; 0 from clients */
	uint32_t node_id;        /* assigned by the appliance; 0 from clients */
	uint32_t latency_budget_us;
	uint16_t origin_region;
	uint16_t residency_class;
	uint16_t min_reputation_milli; /* 0..1000 */
	uint16_t payload_len;
	uint8_t category;      /* enum faii_category */
	uint8_t tier;          /* 1..4, must match the category */
	uint8_t consistency;   /* enum faii_consistency */
	uint8_t replica_index; /* 0..replicas-1 */
	uint8_t attempt;       /* 0 first dispatch, 1 re-dispatch */
	uint8_t reserved[3];   /* must be zero */
} FAII_PACKED;

/* Node -> appliance -> client. Followed by payload_len payload bytes. */
struct faii_result {
	uint64_t task_id;
	uint64_t dispatch_ts_ns; /* echoed from the TASK */
	uint32_t node_id;
	uint32_t exec_time_us;
	uint8_t status; /* enum faii_result_status */
	uint8_t replica_index;
	uint16_t payload_len;
	uint32_t reserved; /* must be zero */
	uint8_t result_hash[FAII_HASH_SIZE];
} FAII_PACKED;

struct faii_heartbeat {
	uint32_t node_id;
	uint32_t seq; /* strictly increasing per node key */
	uint64_t timestamp_ns;
	uint64_t uptime_s;
	uint64_t tasks_completed;
	uint64_t tasks_failed;
	uint32_t outstanding_tasks;
	uint32_t queue_depth;
	uint32_t load_permille; /* 0..1000 of capacity */
	uint32_t reserved;      /* must be zero */
	uint8_t signature[FAII_SIGNATURE_SIZE];
} FAII_PACKED;

struct faii_attest {
	uint32_t node_id;
	uint32_t seq;
	uint64_t timestamp_ns;
	uint64_t meter_id;
	uint64_t interval_start_s;                    /* Unix epoch seconds */
	uint32_t interval_s;                          /* > 0 */
	uint32_t energy_wh;                           /* energy metered over the interval */
	uint32_t pue_milli;                           /* PUE * 1000, >= 1000 */
	uint32_t energy_to_work_milli;                /* Wh per task unit * 1000, > 0 */
	uint16_t grid_stress_permille;                /* grid externality gamma, 0..1000 */
	uint16_t source_mix_permille[FAII_SRC_COUNT]; /* sums to 1000 */
	uint16_t reserved;                            /* must be zero */
	uint8_t signature[FAII_SIGNATURE_SIZE];
} FAII_PACKED;

#define FAII_ADDR_IPV4 4u
#define FAII_ADDR_IPV6 6u

struct faii_register {
	uint32_t node_id;
	uint32_t operator_id;
	uint32_t asn;
	uint32_t capacity_tasks_per_s; /* > 0 */
	uint32_t price_micro;          /* offered price per task unit, 1e-6 */
	uint16_t region;
	uint8_t node_class;  /* enum faii_node_class */
	uint8_t eligibility; /* bit (category - 1) set: eligible */
	uint8_t country[2];  /* ISO 3166-1 alpha-2, upper case */
	uint8_t addr_family; /* FAII_ADDR_IPV4 or FAII_ADDR_IPV6 */
	uint8_t reserved;    /* must be zero */
	uint8_t addr[16];    /* IPv4 in the first 4 bytes, rest zero */
	uint16_t udp_port;   /* != 0 */
	uint16_t reserved2;  /* must be zero */
	uint64_t timestamp_ns;
	uint8_t public_key[FAII_PUBKEY_SIZE];
	uint8_t signature[FAII_SIGNATURE_SIZE];
} FAII_PACKED;

/*
 * Version 2: the block after a TASK's or RESULT's version 1 body, before the
 * payload. The dispatch token (nonce, handle) is chosen by the appliance for
 * each copy it sends and echoed unchanged by the node's RESULT; both halves
 * are opaque to nodes. nonce is unguessable (never 0 in a dispatched copy);
 * handle is the appliance's own (0 in this release; the dispatch slot and
 * generation of the line-rate work). A client sends zeros. key_epoch names
 * the sender's key the MAC is under. The MAC covers every byte of the
 * message but its own 16: header, body, the rest of this block, payload.
 */
struct faii_auth_block {
	uint8_t nonce[8];  /* per-copy dispatch value: zero from clients */
	uint8_t handle[8]; /* appliance-defined; echoed; zero from clients */
	uint8_t key_epoch;
	uint8_t reserved[7]; /* must be zero */
	uint8_t mac[FAII_MAC_SIZE];
} FAII_PACKED;

#define FAII_ELIGIBILITY_MASK ((1u << FAII_CATEGORY_COUNT) - 1u)

/* Fixed sizes, checked at compile time in wire.c and by the tests. */
#define FAII_HDR_SIZE            8u
#define FAII_TASK_BODY_SIZE      56u
#define FAII_RESULT_BODY_SIZE    64u
#define FAII_HEARTBEAT_BODY_SIZE 120u
#define FAII_ATTEST_BODY_SIZE    132u
#define FAII_REGISTER_BODY_SIZE  152u

#define FAII_AUTH_BLOCK_SIZE     40u
#define FAII_TASK_V2_BODY_SIZE   (FAII_TASK_BODY_SIZE + FAII_AUTH_BLOCK_SIZE)   /* 96 */
#define FAII_RESULT_V2_BODY_SIZE (FAII_RESULT_BODY_SIZE + FAII_AUTH_BLOCK_SIZE) /* 104 */

#define FAII_TASK_PAYLOAD_MAX      (FAII_MSG_SIZE_MAX - FAII_HDR_SIZE - FAII_TASK_BODY_SIZE)
#define FAII_RESULT_PAYLOAD_MAX    (FAII_MSG_SIZE_MAX - FAII_HDR_SIZE - FAII_RESULT_BODY_SIZE)
#define FAII_TASK_V2_PAYLOAD_MAX   (FAII_MSG_SIZE_MAX - FAII_HDR_SIZE - FAII_TASK_V2_BODY_SIZE)
#define FAII_RESULT_V2_PAYLOAD_MAX (FAII_MSG_SIZE_MAX - FAII_HDR_SIZE - FAII_RESULT_V2_BODY_SIZE)

/* The tier of each category (index category - 1), from SPEC section 2. */
static inline uint8_t faii_category_tier(uint8_t category)
{
	static const uint8_t tier_of[FAII_CATEGORY_COUNT] = {1, 2, 2, 3, 4, 4};
	return (category >= 1 && category <= FAII_CATEGORY_COUNT) ? tier_of[category - 1] : 0;
}

/* Replica-set size and agreement quorum for a consistency level. */
static inline uint8_t faii_consistency_replicas(uint8_t consistency)
{
	return consistency == FAII_CONSISTENCY_STRONG    ? 7
	       : consistency == FAII_CONSISTENCY_SESSION ? 3
	                                                 : 1;
}

static inline uint8_t faii_consistency_quorum(uint8_t consistency)
{
	return consistency == FAII_CONSISTENCY_STRONG    ? 5
	       : consistency == FAII_CONSISTENCY_SESSION ? 2
	                                                 : 1;
}

#endif /* FAII_PROTOCOL_H */
