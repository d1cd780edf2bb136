/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance configuration: one YAML file, validated completely on load.
 *
 * faii_config_load() fills a struct faii_config or returns -1 with one
 * message naming the file, line, column, key path, what was expected and what
 * was found ("demo.yaml:12:9: policy.concentration_eta: expected a number in
 * [0, 1), found 1.5"). Unknown keys are errors. Values not given take the
 * defaults of SPEC section 2a, set by faii_policy_defaults(). The format is
 * documented in docs/configuration.md; configs/appliance.example.yaml is a
 * commented example of every key.
 *
 * Error convention: 0 on success, -1 with the message in err on failure.
 * Loading allocates; nothing here runs on the packet path.
 */
#ifndef FAII_CONFIG_H
#define FAII_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/fleet.h"
#include "faii/limits.h"
#include "faii/protocol.h"

/* Bounds on every list in the file. */
#define FAII_CFG_FILE_SIZE_MAX       (16u << 20)
#define FAII_CFG_EAL_ARGS_MAX        32u
#define FAII_CFG_EAL_ARG_LEN_MAX     128u
#define FAII_CFG_NAME_LEN_MAX        48u
#define FAII_CFG_PATH_LEN_MAX        256u
#define FAII_CFG_SOCKET_PATH_LEN_MAX 108u /* sizeof(sun_path) */
#define FAII_CFG_ERR_LEN             512u
#define FAII_CFG_CONTROL_IDS_MAX     32u /* uids or gids per control role list */

#define FAII_ESG_WEIGHT_COUNT 4u /* renewables, 1/rPUE, 1/energy-to-work, 1-grid */

/* Per-tier policy (index tier - 1). */
struct faii_tier_policy {
	double factor;           /* theta0_t, tier factor (32) */
	double operator_cap;     /* beta_t, per-operator share cap (33) */
	uint32_t operators_min;  /* d_t, distinct operators serving the tier (33) */
	double edge_reserve;     /* alpha_t, share reserved for micro+S (25) */
	double congestion_gamma; /* gamma_t, price/factor sensitivity (26),(32) */
	double slo_target;       /* s_bar_t, SLO success target (29) */
};

/* Policy parameters of SPEC section 2a. */
struct faii_policy {
	double esg_weight[FAII_ESG_WEIGHT_COUNT];       /* omega1..4 (41), sum 1 */
	double source_weight[FAII_SRC_RENEWABLE_COUNT]; /* lambda_s (42) */
	double corridor_below;                          /* delta- (46) */
	double corridor_above;                          /* delta+ (46) */
	double concentration_eta;                       /* eta (13),(31) */
	double class_share_max;                         /* s_bar (31),(33) */
	double esg_slope;                               /* xi (30) */
	double esg_multiplier_max;                      /* m_bar_ESG (30) */
	double renewable_baseline;                      /* RE_bar (30), a renewable share */
	double energy_price;                            /* kappa_e (13), tokens per kWh */
	double slo_alpha;                               /* alpha_SLO (29) */
	double slo_multiplier_max;                      /* m_bar_SLO (29) */
	double token_rate;                              /* p, per unit of verified work */
	double availability_rate;                       /* p0 (20) */
	double governance_step_max;                     /* largest relative change per period */
	double governance_period_s;                     /* the period of that cap, seconds */
	struct faii_tier_policy tier[FAII_TIER_COUNT];
};

struct faii_cfg_validator {
	uint32_t id;
	uint8_t public_key[FAII_PUBKEY_SIZE];
	char address[FAII_CFG_NAME_LEN_MAX]; /* host:port of its consensus endpoint */
	/* Its home range of node ids in settlement (0, 0: none given; either
	 * every member has one or none does). */
	uint32_t node_id_first, node_id_last;
};

/* Authentication of TASKs and RESULTs (docs/security.md): where the keys
 * are, never the keys. No key_file: protocol version 1, unauthenticated. */
struct faii_auth_cfg {
	char key_file[FAII_CFG_PATH_LEN_MAX];     /* the appliance's X25519 keys, mode 0600 */
	char clients_file[FAII_CFG_PATH_LEN_MAX]; /* client MAC keys, mode 0600 */
};

/*
 * settlement: the appliance's work summaries and routing receipts
 * (docs/settlement.md, "Work summaries and receipts") and its settlement of
 * the consortium's committed sequence ("In faiid": rates come from
 * `policy`; every validator must run the same values). Read at start: a
 * reload reports a change as needing a restart.
 */
#define FAII_CFG_SETTLE_CLASSES        5u /* micro, S, M, L, XL */
#define FAII_CFG_SLICE_MS_DEFAULT      10000u
#define FAII_CFG_SLICE_MS_MIN          100u
#define FAII_CFG_SLICE_MS_MAX          3600000u /* an hour */
#define FAII_CFG_HEARTBEAT_MS_DEFAULT  1000u    /* nodes send one a second */
#define FAII_CFG_RECEIPTS_KEPT_DEFAULT 262144u  /* 2^18: 32 MiB of leaves */
#define FAII_CFG_RECEIPTS_KEPT_MIN     1024u
#define FAII_CFG_RECEIPTS_KEPT_MAX     4194304u /* 2^22 = FAII_SETTLE_LEAVES_MAX */
struct faii_settlement_cfg {
	uint32_t slice_ms;            /* one work summary per slice */
	uint32_t heartbeat_period_ms; /* heartbeats expected: one per period per node */
	uint32_t receipts_kept;       /* receipts kept for proofs, over the last slices */
	uint32_t epoch_s;             /* an epoch's length in consortium time */
	uint32_t activation_delay_s;  /* a payout root's dispute window */
	uint32_t dispute_window_s;    /* a slashing proposal's dispute window */
	uint32_t nodes_max;           /* nodes settlement keeps (memory ~1 KiB each) */
	double penalty_tokens;        /* phi (28): tokens per replica disagreement */
	double payout_cap_tokens[FAII_CFG_SETTLE_CLASSES]; /* E_bar_i (33), per node and epoch */
};

struct faii_appliance_cfg {
	char eal_args[FAII_CFG_EAL_ARGS_MAX][FAII_CFG_EAL_ARG_LEN_MAX];
	uint32_t eal_arg_count;
	uint32_t workers;
	uint16_t udp_port;
	uint16_t metrics_port;
	uint32_t stats_interval_s; /* live counters on stdout; 0 = never */
	char control_socket[FAII_CFG_SOCKET_PATH_LEN_MAX];
	/* Control socket roles (docs/control.md): uid 0 is always admin. */
	uint32_t control_admin_uid_count, control_admin_gid_count;
	uint32_t control_reader_uid_count, control_reader_gid_count;
	uint32_t control_admin_uids[FAII_CFG_CONTROL_IDS_MAX];
	uint32_t control_admin_gids[FAII_CFG_CONTROL_IDS_MAX];
	uint32_t control_reader_uids[FAII_CFG_CONTROL_IDS_MAX];
	uint32_t control_reader_gids[FAII_CFG_CONTROL_IDS_MAX];
	/* Stale signals: after this age a node's ESG multiplier falls to its
	 * floor (attestation) or the node is excluded (heartbeat); 0 = never. */
	uint32_t attest_stale_s;
	uint32_t heartbeat_stale_s;
	char ledger_dir[FAII_CFG_PATH_LEN_MAX];
	uint32_t ledger_segment_mb;                    /* ledger segment size, MiB */
	char residency_pin_dir[FAII_CFG_PATH_LEN_MAX]; /* bpffs dir of the residency maps */
	/* The top-level settlement: section, kept here so that a reload sees
	 * its changes with the appliance's other restart-only keys. */
	struct faii_settlement_cfg settlement;
	/* Validator set of the consensus among appliances (n = 3f + 1). */
	uint32_t validator_self;
	char validator_key_file[FAII_CFG_PATH_LEN_MAX];
	uint32_t validator_count;
	struct faii_cfg_validator validators[FAII_CFG_VALIDATORS_MAX];
	/* The consensus's epoch and timings (docs/consensus.md, "Operating"). */
	uint64_t validator_epoch;
	uint32_t validator_batch_bytes;
	uint32_t validator_batch_wait_ms;
	uint32_t validator_leader_timeout_ms;
	uint32_t validator_retransmit_ms;
	uint32_t validator_gc_depth_rounds;
	uint32_t validator_window_rounds;
	uint32_t validator_tick_ms;
	struct faii_auth_cfg auth;
};

struct faii_cfg_jurisdiction {
	char country[3]; /* ISO 3166-1 alpha-2 */
	char bloc[FAII_CFG_NAME_LEN_MAX];
};

struct faii_cfg_residency_class {
	uint16_t id; /* 1..FAII_RESIDENCY_CLASS_MAX, carried in TASK */
	char name[FAII_CFG_NAME_LEN_MAX];
	uint64_t allowed; /* bit j: jurisdictions[j] allowed */
};

struct faii_cfg_region {
	uint16_t id; /* 1..FAII_REGION_ID_MAX, carried in TASK */
	char name[FAII_CFG_NAME_LEN_MAX];
	double lat_deg, lon_deg;
};

struct faii_cfg_esg {
	double source_mix[FAII_SRC_COUNT]; /* fractions summing to 1 */
	double pue;                        /* >= 1 */
	double energy_to_work;             /* Wh per task unit, > 0 */
	double grid_stress;                /* gamma in [0, 1] */
};

struct faii_cfg_node {
	uint32_t id;
	char name[FAII_CFG_NAME_LEN_MAX];
	uint8_t node_class;    /* enum faii_node_class */
	uint8_t status;        /* enum faii_node_status */
	uint8_t eligibility;   /* bit (category - 1) */
	uint8_t jurisdiction;  /* index into faii_config.jurisdictions */
	uint16_t operator_idx; /* index into faii_config.operators */
	uint16_t region_id;
	uint32_t asn;
	double lat_deg, lon_deg;
	uint8_t addr_family; /* FAII_ADDR_IPV4 / FAII_ADDR_IPV6 */
	uint8_t addr[16];
	uint16_t udp_port;
	double capacity_tasks_per_s;
	/* sigma_i (7): the verified service rate; the capacity when the file
	 * does not give one (and then it follows the capacity a REGISTER
	 * declares). Utilisation, congestion and the load limit use it. */
	double service_rate_tasks_per_s;
	bool service_rate_configured;
	double price;
	double reputation; /* [0, 1] */
	struct faii_cfg_esg esg;
	uint8_t public_key[FAII_PUBKEY_SIZE];
};

struct faii_config {
	char path[FAII_CFG_PATH_LEN_MAX];
	uint8_t digest[32]; /* BLAKE2b-256 of the file's bytes, for the audit log */
	struct faii_appliance_cfg appliance;
	struct faii_policy policy;
	uint32_t jurisdiction_count;
	struct faii_cfg_jurisdiction jurisdictions[FAII_CFG_JURISDICTIONS_MAX];
	uint32_t residency_class_count;
	struct faii_cfg_residency_class residency_classes[FAII_RESIDENCY_CLASS_MAX];
	uint32_t region_count;
	struct faii_cfg_region regions[FAII_CFG_REGIONS_MAX];
	uint32_t operator_count;
	char operators[FAII_CFG_OPERATORS_MAX][FAII_CFG_NAME_LEN_MAX];
	uint32_t node_count;
	struct faii_cfg_node nodes[FAII_CFG_NODES_MAX];
};

/* SPEC section 2a defaults. */
void faii_policy_defaults(struct faii_policy *policy);
/* Appliance defaults (no EAL arguments, one worker, default paths). */
void faii_appliance_defaults(struct faii_appliance_cfg *appliance);

/*
 * Loads and validates path into a newly allocated config (*out). On failure
 * returns -1, *out is NULL and err holds the message.
 */
int faii_config_load(const char *path, struct faii_config **out, char err[FAII_CFG_ERR_LEN]);
/* The same from a string; name stands for the file in messages. */
int faii_config_load_string(const char *name, const char *text, size_t len,
                            struct faii_config **out, char err[FAII_CFG_ERR_LEN]);
/* The same into a zeroed configuration the caller provides (the fuzzer
 * reuses one instead of allocating 30 MB per input); 0 or -1 with err. */
int faii_config_load_into(const char *name, const char *text, size_t len, struct faii_config *cfg,
                          char err[FAII_CFG_ERR_LEN]);
void faii_config_free(struct faii_config *config);

/* Names used in the file: "micro", "S", "M", "L", "XL"; NULL if out of range. */
const char *faii_node_class_name(uint8_t node_class);
const char *faii_category_name(uint8_t category); /* "edge_inference", ... */
const char *faii_node_status_name(uint8_t status);
const char *faii_energy_source_name(uint8_t source); /* "solar", ... */

/*
 * Policy parameters by their dotted YAML names ("tiers.1.operator_cap"),
 * with the ranges of the configuration file. faii_policy_set() checks the
 * value's own range; faii_policy_check() the constraints between values
 * (ESG weights sum to 1, tier factors increase from 1). Both: 0, or -1
 * with a message; -2 from faii_policy_set() when the name is unknown.
 */
int faii_policy_set(struct faii_policy *p, const char *name, double value,
                    char err[FAII_CFG_ERR_LEN]);
int faii_policy_check(const struct faii_policy *p, char err[FAII_CFG_ERR_LEN]);
struct faii_policy_param {
	char name[64];
	double value, min, max;
	bool min_open, max_open, integer;
};
/* Calls each(param, ctx) for every parameter in file order. */
void faii_policy_foreach(const struct faii_policy *p,
                         void (*each)(const struct faii_policy_param *param, void *ctx), void *ctx);

/*
 * The governance step cap (SPEC 2a) on every parameter change at run time
 * (policy.set, config.reload): within one period of governance_period_s,
 * each parameter stays within governance_step_max (both as they were at the
 * period's start) of its value at the period's start, relative to that
 * value; an integer parameter (d_t) moves by at most 1; a parameter at 0 by
 * at most the cap times the width of its range. Changes within a period add
 * up against the same start, so a large change cannot be made of small
 * ones. A restart starts a new period (the configuration file is the
 * operator's).
 */
struct faii_policy_period {
	struct faii_policy start; /* the policy when the period began */
	uint64_t start_ns;
};
/* Begins a period at now_ns with policy p. */
void faii_policy_period_begin(struct faii_policy_period *g, const struct faii_policy *p,
                              uint64_t now_ns);
/* Rolls to a new period starting from current when the old one has ended. */
void faii_policy_period_roll(struct faii_policy_period *g, const struct faii_policy *current,
                             uint64_t now_ns);
/*
 * 0 when next is within the step cap of the period's start; -1 with the
 * first parameter that is not in err (its change, the cap, the values it
 * may take now and the seconds until the period ends).
 */
int faii_policy_step_check(const struct faii_policy_period *g, const struct faii_policy *next,
                           uint64_t now_ns, char err[FAII_CFG_ERR_LEN]);

/*
 * Parses one node mapping (YAML or JSON text, the keys of a nodes[] entry)
 * against cfg's regions, jurisdictions and operators, as the loader does;
 * a new operator name is added to cfg. 0, or -1 with the message.
 */
int faii_config_parse_node(struct faii_config *cfg, const char *text, struct faii_cfg_node *out,
                           char err[FAII_CFG_ERR_LEN]);

/* Lookups; NULL when absent. */
const struct faii_cfg_residency_class *faii_config_residency_class(const struct faii_config *c,
                                                                   uint16_t id);
const struct faii_cfg_region *faii_config_region(const struct faii_config *c, uint16_t id);

struct faii_res_policy;
/*
 * The residency policy of a configuration (faii/residency_policy.h,
 * control/residency_policy.c); faiid passes its registry's:
 *  - nodes: every node not removed, with its jurisdiction index;
 *  - classes: every configured class, allowed bit j = jurisdictions[j];
 *  - ports: the UDP port of every node in cfg, removed ones included, so
 *    that a task to a removed node is refused as an unknown node instead of
 *    passing as traffic that is not faii.
 * The appliance's own port is not in ports: it is the program's load-time
 * constant (faii_udp_port). Nodes come out sorted by id. Returns 0, or -1
 * with a message when a node id appears twice (a configuration file may say
 * so; the registry refuses it). Control threads only.
 */
int faii_res_policy_from_config(const struct faii_config *cfg, struct faii_res_policy *out,
                                char err[FAII_CFG_ERR_LEN]);

#endif /* FAII_CONFIG_H */
