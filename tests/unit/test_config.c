/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the YAML configuration loader (control/config.c).
 *
 * Small documents are loaded from strings with faii_config_load_string(); each
 * error case asserts the whole message, file name, line and column included,
 * exactly as faiid prints it. Most cases are one substitution in a valid base
 * document, so that each names one defect. The shipped files (configs/demo.yaml
 * and configs/appliance.example.yaml) are loaded from FAII_SOURCE_ROOT.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faii/config.h"
#include "faii/protocol.h"

#ifndef FAII_SOURCE_ROOT
#error "FAII_SOURCE_ROOT must name the repository root"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The name that stands for the file in every message below. */
#define NAME "test.yaml"
/* What load_err() returns when the document loads. */
#define LOADS "(loads)"

/* 64 hex digits from one 8-digit group. */
#define KEY8(s) s s s s s s s s
#define V1      KEY8("a1a1a1a1")
#define V2      KEY8("a2a2a2a2")
#define V3      KEY8("a3a3a3a3")
#define V4      KEY8("a4a4a4a4")
#define N1      KEY8("0123abcd")
#define N2      KEY8("4567ef01")

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

/* Loads text; returns LOADS, or the loader's message (static storage). */
static const char *load_err(const char *text)
{
	static char err[FAII_CFG_ERR_LEN];
	struct faii_config *cfg = (struct faii_config *)1;
	memset(err, 0, sizeof(err));
	int rc = faii_config_load_string(NAME, text, strlen(text), &cfg, err);
	if (rc == 0) {
		cr_assert_not_null(cfg);
		cr_assert_str_eq(err, "");
		faii_config_free(cfg);
		return LOADS;
	}
	cr_assert_eq(rc, -1);
	cr_assert_null(cfg, "*out must be NULL on failure");
	cr_assert_neq(err[0], '\0', "a failure must leave a message");
	return err;
}

/* Loads text that must load; the caller frees. */
static struct faii_config *load_ok(const char *text)
{
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *cfg = NULL;
	int rc = faii_config_load_string(NAME, text, strlen(text), &cfg, err);
	cr_assert_eq(rc, 0, "expected to load, got: %s", err);
	cr_assert_not_null(cfg);
	return cfg;
}

static struct faii_config *load_file_ok(const char *path)
{
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *cfg = NULL;
	int rc = faii_config_load(path, &cfg, err);
	cr_assert_eq(rc, 0, "%s: expected to load, got: %s", path, err);
	cr_assert_not_null(cfg);
	cr_assert_str_eq(cfg->path, path);
	return cfg;
}

/* base with its only occurrence of from replaced by to; the caller frees. */
static char *subst(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	cr_assert_not_null(at, "\"%s\" not in the base document", from);
	cr_assert_null(strstr(at + 1, from), "\"%s\" occurs twice in the base document", from);
	size_t head = (size_t)(at - base), nf = strlen(from), nt = strlen(to);
	size_t tail = strlen(at + nf);
	char *out = malloc(head + nt + tail + 1);
	cr_assert_not_null(out);
	memcpy(out, base, head);
	memcpy(out + head, to, nt);
	memcpy(out + head + nt, at + nf, tail + 1);
	return out;
}

/* One edit of a base document and the loader's answer. */
struct edit_case {
	const char *from;
	const char *to;
	const char *expected; /* whole message, or LOADS */
};

static void run_edits(const char *base, const struct edit_case *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		char *text = subst(base, cases[i].from, cases[i].to);
		const char *got = load_err(text);
		cr_expect_str_eq(got, cases[i].expected,
		                 "case %zu: \"%s\" -> \"%s\"\n     got: %s\nexpected: %s", i,
		                 cases[i].from, cases[i].to, got, cases[i].expected);
		free(text);
	}
}

/* One whole document and the loader's answer. */
struct doc_case {
	const char *text;
	const char *expected;
};

static void run_docs(const struct doc_case *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *got = load_err(cases[i].text);
		cr_expect_str_eq(got, cases[i].expected,
		                 "case %zu:\n%s\n     got: %s\nexpected: %s", i, cases[i].text, got,
		                 cases[i].expected);
	}
}

/* ------------------------------------------------------------------------ */
/* Base documents. Line numbers matter: the messages below cite them.       */

static const char world[] = "jurisdictions:\n"                                         /*  1 */
                            "  - {country: CH, bloc: EFTA}\n"                          /*  2 */
                            "  - {country: LI, bloc: EFTA}\n"                          /*  3 */
                            "  - {country: DE, bloc: EU}\n"                            /*  4 */
                            "  - {country: FR, bloc: EU}\n"                            /*  5 */
                            "  - {country: US}\n"                                      /*  6 */
                            "residency_classes:\n"                                     /*  7 */
                            "  - {id: 1, name: any, allow: [any]}\n"                   /*  8 */
                            "  - {id: 2, name: CH+EU, allow: [CH, EU]}\n"              /*  9 */
                            "  - {id: 3, name: EFTA, allow: [EFTA]}\n"                 /* 10 */
                            "  - {id: 4, name: US-only, allow: [US]}\n"                /* 11 */
                            "regions:\n"                                               /* 12 */
                            "  - {id: 1, name: zurich, lat: 47.37, lon: 8.54}\n"       /* 13 */
                            "  - {id: 7, name: frankfurt, lat: 50.11, lon: 8.68}\n"    /* 14 */
                            "nodes:\n"                                                 /* 15 */
                            "  - id: 1\n"                                              /* 16 */
                            "    name: zurich-s-1\n"                                   /* 17 */
                            "    class: S\n"                                           /* 18 */
                            "    status: draining\n"                                   /* 19 */
                            "    operator: op-a\n"                                     /* 20 */
                            "    asn: 64512\n"                                         /* 21 */
                            "    country: CH\n"                                        /* 22 */
                            "    region: zurich\n"                                     /* 23 */
                            "    location: [47.4, 8.5]\n"                              /* 24 */
                            "    address: \"192.0.2.10:7410\"\n"                       /* 25 */
                            "    capacity: 20\n"                                       /* 26 */
                            "    service_rate: 18\n"                                   /* 27 */
                            "    eligibility: [edge_inference, storage_shard]\n"       /* 28 */
                            "    price: 1.0\n"                                         /* 29 */
                            "    reputation: 0.9\n"                                    /* 30 */
                            "    esg:\n"                                               /* 31 */
                            "      mix: {solar: 0.5, hydro: 0.3, nonrenewable: 0.2}\n" /* 32 */
                            "      pue: 1.2\n"                                         /* 33 */
                            "      energy_to_work: 0.05\n"                             /* 34 */
                            "      grid_stress: 0.3\n"                                 /* 35 */
                            "    public_key: " N1 "\n"                                 /* 36 */
                            "  - id: 2\n"                                              /* 37 */
                            "    class: XL\n"                                          /* 38 */
                            "    operator: op-b\n"                                     /* 39 */
                            "    asn: 64513\n"                                         /* 40 */
                            "    country: DE\n"                                        /* 41 */
                            "    region: frankfurt\n"                                  /* 42 */
                            "    location: [50.1, 8.7]\n"                              /* 43 */
                            "    address: \"[2001:db8::2]:7411\"\n"                    /* 44 */
                            "    capacity: 1000\n"                                     /* 45 */
                            "    eligibility: [all]\n"                                 /* 46 */
                            "    price: 2.5\n"                                         /* 47 */
                            "    esg:\n"                                               /* 48 */
                            "      mix: {wind: 1}\n"                                   /* 49 */
                            "      pue: 1.1\n"                                         /* 50 */
                            "      energy_to_work: 2\n"                                /* 51 */
                            "      grid_stress: 0\n"                                   /* 52 */
                            "    public_key: " N2 "\n";                                /* 53 */

static const char appliance[] =
        "appliance:\n"                                                        /*  1 */
        "  eal: [\"-l\", \"0-3\", \"-a\", \"0000:3b:00.0\"]\n"                /*  2 */
        "  workers: 2\n"                                                      /*  3 */
        "  udp_port: 7410\n"                                                  /*  4 */
        "  metrics_port: 9100\n"                                              /*  5 */
        "  stats_interval_s: 0\n"                                             /*  6 */
        "  control_socket: /run/faii/ctl.sock\n"                              /*  7 */
        "  ledger_dir: /srv/faii/ledger\n"                                    /*  8 */
        "  validators:\n"                                                     /*  9 */
        "    self: 3\n"                                                       /* 10 */
        "    key_file: /etc/faii/validator.key\n"                             /* 11 */
        "    members:\n"                                                      /* 12 */
        "      - {id: 1, public_key: " V1 ", address: \"192.0.2.1:7411\"}\n"  /* 13 */
        "      - {id: 2, public_key: " V2 ", address: \"192.0.2.2:7411\"}\n"  /* 14 */
        "      - {id: 3, public_key: " V3 ", address: \"192.0.2.3:7411\"}\n"  /* 15 */
        "      - {id: 4, public_key: " V4 ", address: \"192.0.2.4:7411\"}\n"; /* 16 */

/* Field by field: struct faii_tier_policy has padding, so no memcmp. */
static void expect_policy_eq(const struct faii_policy *a, const struct faii_policy *b)
{
	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		cr_expect_eq(a->esg_weight[i], b->esg_weight[i], "esg_weight[%u]", i);
	for (unsigned s = 0; s < FAII_SRC_RENEWABLE_COUNT; s++)
		cr_expect_eq(a->source_weight[s], b->source_weight[s], "source_weight[%u]", s);
	cr_expect_eq(a->corridor_below, b->corridor_below);
	cr_expect_eq(a->corridor_above, b->corridor_above);
	cr_expect_eq(a->concentration_eta, b->concentration_eta);
	cr_expect_eq(a->class_share_max, b->class_share_max);
	cr_expect_eq(a->esg_slope, b->esg_slope);
	cr_expect_eq(a->esg_multiplier_max, b->esg_multiplier_max);
	cr_expect_eq(a->renewable_baseline, b->renewable_baseline);
	cr_expect_eq(a->energy_price, b->energy_price);
	cr_expect_eq(a->slo_alpha, b->slo_alpha);
	cr_expect_eq(a->slo_multiplier_max, b->slo_multiplier_max);
	cr_expect_eq(a->token_rate, b->token_rate);
	cr_expect_eq(a->availability_rate, b->availability_rate);
	cr_expect_eq(a->governance_step_max, b->governance_step_max);
	cr_expect_eq(a->governance_period_s, b->governance_period_s);
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		cr_expect_eq(a->tier[t].factor, b->tier[t].factor, "tier %u", t + 1);
		cr_expect_eq(a->tier[t].operator_cap, b->tier[t].operator_cap, "tier %u", t + 1);
		cr_expect_eq(a->tier[t].operators_min, b->tier[t].operators_min, "tier %u", t + 1);
		cr_expect_eq(a->tier[t].edge_reserve, b->tier[t].edge_reserve, "tier %u", t + 1);
		cr_expect_eq(a->tier[t].congestion_gamma, b->tier[t].congestion_gamma, "tier %u",
		             t + 1);
		cr_expect_eq(a->tier[t].slo_target, b->tier[t].slo_target, "tier %u", t + 1);
	}
}

static void expect_appliance_eq(const struct faii_appliance_cfg *a,
                                const struct faii_appliance_cfg *b)
{
	cr_expect_eq(a->eal_arg_count, b->eal_arg_count);
	for (uint32_t i = 0; i < a->eal_arg_count && i < b->eal_arg_count; i++)
		cr_expect_str_eq(a->eal_args[i], b->eal_args[i]);
	cr_expect_eq(a->workers, b->workers);
	cr_expect_eq(a->udp_port, b->udp_port);
	cr_expect_eq(a->metrics_port, b->metrics_port);
	cr_expect_eq(a->stats_interval_s, b->stats_interval_s);
	cr_expect_str_eq(a->control_socket, b->control_socket);
	cr_expect_str_eq(a->ledger_dir, b->ledger_dir);
	cr_expect_eq(a->validator_self, b->validator_self);
	cr_expect_str_eq(a->validator_key_file, b->validator_key_file);
	cr_expect_eq(a->validator_count, b->validator_count);
}

/* ------------------------------------------------------------------------ */
/* Defaults: SPEC section 2a.                                               */

static void assert_spec_defaults(const struct faii_policy *p)
{
	static const double omega[] = {0.4, 0.2, 0.2, 0.2};
	static const double lambda[] = {1.00, 0.95, 0.85, 0.90, 0.60, 0.70, 0.40};
	static const uint32_t d[] = {4, 3, 3, 2};
	static const double alpha[] = {0.3, 0, 0, 0};
	static const double theta[] = {1, 2, 3, 4};
	static const double slo[] = {0.990, 0.995, 0.995, 0.995};
	_Static_assert(ARRAY_SIZE(omega) == FAII_ESG_WEIGHT_COUNT, "omega count");
	_Static_assert(ARRAY_SIZE(lambda) == FAII_SRC_RENEWABLE_COUNT, "lambda count");
	_Static_assert(ARRAY_SIZE(d) == FAII_TIER_COUNT, "tier count");

	for (unsigned i = 0; i < FAII_ESG_WEIGHT_COUNT; i++)
		cr_expect_eq(p->esg_weight[i], omega[i], "omega%u", i + 1);
	cr_expect_eq(p->source_weight[FAII_SRC_SOLAR], 1.00);
	cr_expect_eq(p->source_weight[FAII_SRC_WIND], 0.95);
	cr_expect_eq(p->source_weight[FAII_SRC_HYDRO], 0.85);
	cr_expect_eq(p->source_weight[FAII_SRC_GEOTHERMAL], 0.90);
	cr_expect_eq(p->source_weight[FAII_SRC_BIOMASS], 0.60);
	cr_expect_eq(p->source_weight[FAII_SRC_HYDROGEN], 0.70);
	cr_expect_eq(p->source_weight[FAII_SRC_WASTE], 0.40);
	for (unsigned s = 0; s < FAII_SRC_RENEWABLE_COUNT; s++)
		cr_expect_eq(p->source_weight[s], lambda[s], "lambda %u", s);
	cr_expect_eq(p->corridor_below, 0.2);
	cr_expect_eq(p->corridor_above, 0.2);
	cr_expect_eq(p->concentration_eta, 0.5);
	cr_expect_eq(p->class_share_max, 0.4);
	cr_expect_eq(p->esg_slope, 0.5);
	cr_expect_eq(p->esg_multiplier_max, 1.25);
	cr_expect_eq(p->renewable_baseline, 0.5);
	cr_expect_eq(p->energy_price, 0.0);
	cr_expect_eq(p->slo_alpha, 1.0);
	cr_expect_eq(p->slo_multiplier_max, 1.2);
	cr_expect_eq(p->token_rate, 1.0);
	cr_expect_eq(p->availability_rate, 0.1);
	cr_expect_eq(p->governance_step_max, 0.10);
	cr_expect_eq(p->governance_period_s, 86400.0);
	for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
		cr_expect_eq(p->tier[t].factor, theta[t], "theta0_%u", t + 1);
		cr_expect_eq(p->tier[t].operator_cap, 0.25, "beta_%u", t + 1);
		cr_expect_eq(p->tier[t].operators_min, d[t], "d_%u", t + 1);
		cr_expect_eq(p->tier[t].edge_reserve, alpha[t], "alpha_%u", t + 1);
		cr_expect_eq(p->tier[t].congestion_gamma, 0.5, "gamma_%u", t + 1);
		cr_expect_eq(p->tier[t].slo_target, slo[t], "s_bar_%u", t + 1);
	}
}

Test(defaults, policy_matches_spec_2a)
{
	struct faii_policy p;
	memset(&p, 0xA5, sizeof(p));
	faii_policy_defaults(&p);
	assert_spec_defaults(&p);
}

Test(defaults, appliance)
{
	struct faii_appliance_cfg a;
	memset(&a, 0xA5, sizeof(a));
	faii_appliance_defaults(&a);
	cr_expect_eq(a.eal_arg_count, 0);
	cr_expect_eq(a.workers, 1);
	cr_expect_eq(a.udp_port, FAII_UDP_PORT_DEFAULT);
	cr_expect_eq(a.udp_port, 7410);
	cr_expect_eq(a.metrics_port, 9410);
	cr_expect_eq(a.stats_interval_s, 5);
	cr_expect_str_eq(a.control_socket, "/run/faii/faii.sock");
	cr_expect_str_eq(a.ledger_dir, "/var/lib/faii/ledger");
	cr_expect_eq(a.validator_self, 0);
	cr_expect_str_eq(a.validator_key_file, "");
	cr_expect_eq(a.validator_count, 0);
}

Test(defaults, empty_mapping_gives_defaults)
{
	struct faii_config *c = load_ok("{}");
	struct faii_policy p;
	struct faii_appliance_cfg a;
	faii_policy_defaults(&p);
	faii_appliance_defaults(&a);
	assert_spec_defaults(&c->policy);
	expect_policy_eq(&c->policy, &p);
	expect_appliance_eq(&c->appliance, &a);
	cr_expect_str_eq(c->path, NAME);
	cr_expect_eq(c->jurisdiction_count, 0);
	cr_expect_eq(c->residency_class_count, 0);
	cr_expect_eq(c->region_count, 0);
	cr_expect_eq(c->operator_count, 0);
	cr_expect_eq(c->node_count, 0);
	faii_config_free(c);
}

Test(defaults, empty_sections_keep_defaults)
{
	struct faii_config *c = load_ok("appliance: {}\npolicy: {}\n");
	struct faii_policy p;
	struct faii_appliance_cfg a;
	faii_policy_defaults(&p);
	faii_appliance_defaults(&a);
	expect_policy_eq(&c->policy, &p);
	expect_appliance_eq(&c->appliance, &a);
	faii_config_free(c);
}

Test(defaults, partial_overrides_keep_the_rest)
{
	struct faii_config *c = load_ok("policy:\n"
	                                "  source_weights: {wind: 0.5}\n"
	                                "  price_corridor: {above: 0.3}\n"
	                                "  tiers:\n"
	                                "    2: {factor: 2.221, operators_min: 5}\n"
	                                "appliance:\n"
	                                "  workers: 4\n");
	struct faii_policy p;
	faii_policy_defaults(&p);
	p.source_weight[FAII_SRC_WIND] = 0.5;
	p.corridor_above = 0.3;
	p.tier[1].factor = 2.221;
	p.tier[1].operators_min = 5;
	expect_policy_eq(&c->policy, &p);
	cr_expect_eq(c->appliance.workers, 4);
	cr_expect_eq(c->appliance.udp_port, 7410);
	cr_expect_str_eq(c->appliance.control_socket, "/run/faii/faii.sock");
	faii_config_free(c);
}

Test(defaults, calibrated_tier_factors)
{
	struct faii_config *c = load_ok("policy:\n"
	                                "  tiers:\n"
	                                "    1: {factor: 1}\n"
	                                "    2: {factor: 2.221}\n"
	                                "    3: {factor: 3.476}\n"
	                                "    4: {factor: 4.333}\n");
	cr_expect_eq(c->policy.tier[0].factor, 1.0);
	cr_expect_eq(c->policy.tier[1].factor, 2.221);
	cr_expect_eq(c->policy.tier[2].factor, 3.476);
	cr_expect_eq(c->policy.tier[3].factor, 4.333);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* A valid document and what it loads into.                                 */

Test(load, base_document)
{
	struct faii_config *c = load_ok(world);
	cr_assert_eq(c->jurisdiction_count, 5);
	cr_expect_str_eq(c->jurisdictions[0].country, "CH");
	cr_expect_str_eq(c->jurisdictions[0].bloc, "EFTA");
	cr_expect_str_eq(c->jurisdictions[4].country, "US");
	cr_expect_str_eq(c->jurisdictions[4].bloc, "US", "a bloc defaults to the country");

	cr_assert_eq(c->region_count, 2);
	const struct faii_cfg_region *r = faii_config_region(c, 7);
	cr_assert_not_null(r);
	cr_expect_str_eq(r->name, "frankfurt");
	cr_expect_eq(r->lat_deg, 50.11);
	cr_expect_eq(r->lon_deg, 8.68);
	cr_expect_null(faii_config_region(c, 2));

	cr_assert_eq(c->node_count, 2);
	const struct faii_cfg_node *a = &c->nodes[0], *b = &c->nodes[1];
	cr_expect_eq(a->id, 1);
	cr_expect_str_eq(a->name, "zurich-s-1");
	cr_expect_eq(a->node_class, FAII_CLASS_SMALL);
	cr_expect_eq(a->status, FAII_NODE_DRAINING);
	cr_expect_eq(a->jurisdiction, 0);
	cr_expect_eq(a->region_id, 1);
	cr_expect_eq(a->asn, 64512);
	cr_expect_eq(a->lat_deg, 47.4);
	cr_expect_eq(a->lon_deg, 8.5);
	cr_expect_eq(a->addr_family, FAII_ADDR_IPV4);
	static const uint8_t v4[16] = {192, 0, 2, 10};
	cr_expect_eq(memcmp(a->addr, v4, sizeof(v4)), 0);
	cr_expect_eq(a->udp_port, 7410);
	cr_expect_eq(a->capacity_tasks_per_s, 20);
	cr_expect_eq(a->service_rate_tasks_per_s, 18);
	cr_expect_eq(a->eligibility, 0x3);
	cr_expect_eq(a->price, 1.0);
	cr_expect_eq(a->reputation, 0.9);
	cr_expect_eq(a->esg.source_mix[FAII_SRC_SOLAR], 0.5);
	cr_expect_eq(a->esg.source_mix[FAII_SRC_HYDRO], 0.3);
	cr_expect_eq(a->esg.source_mix[FAII_SRC_NONRENEWABLE], 0.2);
	cr_expect_eq(a->esg.source_mix[FAII_SRC_WIND], 0);
	cr_expect_eq(a->esg.pue, 1.2);
	cr_expect_eq(a->esg.energy_to_work, 0.05);
	cr_expect_eq(a->esg.grid_stress, 0.3);
	cr_expect_eq(a->public_key[0], 0x01);
	cr_expect_eq(a->public_key[1], 0x23);
	cr_expect_eq(a->public_key[2], 0xab);
	cr_expect_eq(a->public_key[31], 0xcd);

	/* Optional keys absent: defaults. */
	cr_expect_eq(b->id, 2);
	cr_expect_str_eq(b->name, "");
	cr_expect_eq(b->node_class, FAII_CLASS_XL);
	cr_expect_eq(b->status, FAII_NODE_ACTIVE);
	cr_expect_eq(b->reputation, 0.5, "unknown nodes start neutral");
	cr_expect_eq(b->service_rate_tasks_per_s, b->capacity_tasks_per_s,
	             "service_rate defaults to capacity");
	cr_expect_eq(b->service_rate_tasks_per_s, 1000);
	cr_expect_eq(b->jurisdiction, 2);
	cr_expect_eq(b->region_id, 7);
	cr_expect_eq(b->addr_family, FAII_ADDR_IPV6);
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	cr_expect_eq(memcmp(b->addr, v6, sizeof(v6)), 0);
	cr_expect_eq(b->udp_port, 7411);
	cr_expect_eq(b->eligibility, FAII_ELIGIBILITY_MASK);

	/* Operators are interned in order of first appearance. */
	cr_expect_eq(c->operator_count, 2);
	cr_expect_str_eq(c->operators[a->operator_idx], "op-a");
	cr_expect_str_eq(c->operators[b->operator_idx], "op-b");
	faii_config_free(c);
}

Test(load, sections_in_any_order)
{
	/* Nodes before the sections they reference still resolve. */
	const char *nodes = strstr(world, "nodes:\n");
	cr_assert_not_null(nodes);
	size_t head = (size_t)(nodes - world);
	char *text = malloc(sizeof(world));
	cr_assert_not_null(text);
	memcpy(text, nodes, strlen(nodes));
	memcpy(text + strlen(nodes), world, head);
	text[sizeof(world) - 1] = '\0';
	struct faii_config *c = load_ok(text);
	cr_expect_eq(c->node_count, 2);
	cr_expect_eq(c->nodes[1].region_id, 7);
	faii_config_free(c);
	free(text);
}

Test(load, appliance_section)
{
	struct faii_config *c = load_ok(appliance);
	const struct faii_appliance_cfg *a = &c->appliance;
	cr_assert_eq(a->eal_arg_count, 4);
	cr_expect_str_eq(a->eal_args[0], "-l");
	cr_expect_str_eq(a->eal_args[1], "0-3");
	cr_expect_str_eq(a->eal_args[2], "-a");
	cr_expect_str_eq(a->eal_args[3], "0000:3b:00.0");
	cr_expect_eq(a->workers, 2);
	cr_expect_eq(a->udp_port, 7410);
	cr_expect_eq(a->metrics_port, 9100);
	cr_expect_eq(a->stats_interval_s, 0);
	cr_expect_str_eq(a->control_socket, "/run/faii/ctl.sock");
	cr_expect_str_eq(a->ledger_dir, "/srv/faii/ledger");
	cr_expect_eq(a->validator_self, 3);
	cr_expect_str_eq(a->validator_key_file, "/etc/faii/validator.key");
	cr_assert_eq(a->validator_count, 4);
	for (uint32_t v = 0; v < 4; v++) {
		cr_expect_eq(a->validators[v].id, v + 1);
		cr_expect_eq(a->validators[v].public_key[0], 0xa1 + v);
		cr_expect_eq(a->validators[v].public_key[31], 0xa1 + v);
	}
	cr_expect_str_eq(a->validators[3].address, "192.0.2.4:7411");
	faii_config_free(c);
}

/* Home ranges of node ids, one per member; overlapping ones refused. */
Test(load, validators_home_ranges)
{
	char *text = strdup(appliance);
	for (uint32_t v = 1; v <= 4; v++) {
		char from[32], to[96];
		snprintf(from, sizeof(from), "192.0.2.%u:7411\"}", v);
		snprintf(to, sizeof(to), "192.0.2.%u:7411\", node_id_first: %u, node_id_last: %u}",
		         v, 100 * v, 100 * v + (v == 2 ? 100 : 99));
		char *next = subst(text, from, to);
		free(text);
		text = next;
	}
	cr_expect_str_eq(load_err(text),
	                 NAME ":13:7: appliance.validators.members: expected disjoint node id "
	                      "ranges, validators 2 and 3 overlap");
	char *fixed = subst(text, "node_id_last: 300", "node_id_last: 299");
	struct faii_config *c = load_ok(fixed);
	for (uint32_t v = 0; v < 4; v++) {
		cr_expect_eq(c->appliance.validators[v].node_id_first, 100 * (v + 1));
		cr_expect_eq(c->appliance.validators[v].node_id_last, 100 * (v + 1) + 99);
	}
	faii_config_free(c);
	free(fixed);
	free(text);
}

/* ------------------------------------------------------------------------ */
/* Residency classes: allow entries expand to a bitmap over jurisdictions    */
/* (CH=0, LI=1, DE=2, FR=3, US=4 in the base document).                     */

Test(residency, bloc_expansion)
{
	struct faii_config *c = load_ok(world);
	cr_assert_eq(c->residency_class_count, 4);
	const struct faii_cfg_residency_class *any = faii_config_residency_class(c, 1);
	const struct faii_cfg_residency_class *ch_eu = faii_config_residency_class(c, 2);
	const struct faii_cfg_residency_class *efta = faii_config_residency_class(c, 3);
	const struct faii_cfg_residency_class *us = faii_config_residency_class(c, 4);
	cr_assert(any && ch_eu && efta && us);
	cr_expect_str_eq(ch_eu->name, "CH+EU");
	cr_expect_eq(any->allowed, 0x1Full, "any: every declared jurisdiction");
	cr_expect_eq(ch_eu->allowed, 0x0Dull, "CH + EU{DE, FR}");
	cr_expect_eq(efta->allowed, 0x03ull, "EFTA{CH, LI}");
	cr_expect_eq(us->allowed, 0x10ull, "a country without bloc is its own bloc");
	cr_expect_null(faii_config_residency_class(c, 5));
	faii_config_free(c);
}

Test(residency, entries_combine)
{
	struct faii_config *c =
	        load_ok("jurisdictions: [{country: CH, bloc: EFTA}, {country: DE, bloc: EU},\n"
	                "                {country: FR, bloc: EU}, {country: GB}]\n"
	                "residency_classes:\n"
	                "  - {id: 9, name: mixed, allow: [GB, DE]}\n"
	                "  - {id: 63, name: both, allow: [EU, any]}\n");
	cr_expect_eq(faii_config_residency_class(c, 9)->allowed, 0xAull);
	cr_expect_eq(faii_config_residency_class(c, 63)->allowed, 0xFull);
	faii_config_free(c);
}

Test(residency, errors)
{
	static const struct edit_case cases[] = {
	        {"allow: [CH, EU]", "allow: [CH, XX]",
	         NAME ":9:38: residency_classes[1].allow: expected a country or bloc declared "
	              "under jurisdictions, found \"XX\""},
	        {"allow: [CH, EU]", "allow: [CH, EEA]",
	         NAME ":9:38: residency_classes[1].allow: expected a country or bloc declared "
	              "under jurisdictions, found \"EEA\""},
	        {"allow: [CH, EU]", "allow: [ch]",
	         NAME ":9:34: residency_classes[1].allow: expected a country or bloc declared "
	              "under jurisdictions, found \"ch\""},
	        {"allow: [CH, EU]", "allow: []",
	         NAME ":9:33: residency_classes[1].allow: expected a non-empty sequence of "
	              "countries or blocs, found a sequence"},
	        {"allow: [CH, EU]", "allow: CH",
	         NAME ":9:33: residency_classes[1].allow: expected a non-empty sequence of "
	              "countries or blocs, found \"CH\""},
	        {"allow: [CH, EU]", "allow: [[CH]]",
	         NAME ":9:34: residency_classes[1].allow: expected a country, a bloc or \"any\", "
	              "found a sequence"},
	        {"{id: 2, name: CH+EU", "{id: 1, name: CH+EU",
	         NAME ":9:5: residency_classes[1]: expected a unique class id, found 1 twice"},
	        {"{id: 2, name: CH+EU", "{id: 2, name: any",
	         NAME
	         ":9:5: residency_classes[1]: expected a unique class name, found \"any\" twice"},
	        {"{id: 2, name: CH+EU", "{id: 0, name: CH+EU",
	         NAME
	         ":9:10: residency_classes[1].id: expected an integer in [1, 63], found \"0\""},
	        {"{id: 2, name: CH+EU", "{id: 64, name: CH+EU",
	         NAME
	         ":9:10: residency_classes[1].id: expected an integer in [1, 63], found \"64\""},
	        {"{id: 2, name: CH+EU, ", "{id: 2, ",
	         NAME ":9:5: residency_classes[1]: missing required key \"name\""},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

/* ------------------------------------------------------------------------ */
/* Jurisdictions and regions.                                               */

Test(jurisdictions, errors)
{
	static const struct edit_case cases[] = {
	        {"{country: CH, bloc: EFTA}", "{country: ch, bloc: EFTA}",
	         NAME ":2:15: jurisdictions[0].country: expected an ISO 3166-1 alpha-2 country "
	              "code (two "
	              "upper-case letters), found \"ch\""},
	        {"{country: CH, bloc: EFTA}", "{country: C, bloc: EFTA}",
	         NAME ":2:15: jurisdictions[0].country: expected an ISO 3166-1 alpha-2 country "
	              "code (two "
	              "upper-case letters), found \"C\""},
	        {"{country: CH, bloc: EFTA}", "{country: CHE, bloc: EFTA}",
	         NAME ":2:15: jurisdictions[0].country: expected a non-empty string of at most 2 "
	              "bytes, found \"CHE\""},
	        {"{country: LI, bloc: EFTA}", "{country: CH, bloc: EFTA}",
	         NAME ":3:15: jurisdictions[1].country: expected a unique country, found CH twice"},
	        {"{country: LI, bloc: EFTA}", "{bloc: EFTA}",
	         NAME ":3:5: jurisdictions[1]: missing required key \"country\""},
	        {"{country: LI, bloc: EFTA}", "{country: LI, bloc: \"\"}",
	         NAME ":3:25: jurisdictions[1].bloc: expected a non-empty string of at most 47 "
	              "bytes, found an empty value"},
	        {"{country: LI, bloc: EFTA}", "{country: LI, union: EFTA}",
	         NAME ":3:19: jurisdictions[1]: unknown key \"union\", expected one of: country, "
	              "bloc"},
	        {"  - {country: US}\n", "  - [US]\n",
	         NAME ":6:5: jurisdictions[4]: expected a mapping, found a sequence"},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

Test(regions, errors)
{
	static const struct edit_case cases[] = {
	        {"{id: 7, name: frankfurt", "{id: 1, name: frankfurt",
	         NAME ":14:5: regions[1]: expected a unique region id and name, found id 1 "
	              "\"frankfurt\" twice"},
	        {"{id: 7, name: frankfurt", "{id: 7, name: zurich",
	         NAME ":14:5: regions[1]: expected a unique region id and name, found id 7 "
	              "\"zurich\" twice"},
	        {"{id: 7, name: frankfurt", "{id: 1024, name: frankfurt",
	         NAME ":14:10: regions[1].id: expected an integer in [1, 1023], found \"1024\""},
	        {"lat: 50.11", "lat: 90.5",
	         NAME ":14:35: regions[1].lat: expected a number in [-90, 90], found \"90.5\""},
	        {"lon: 8.68", "lon: -180.01",
	         NAME
	         ":14:47: regions[1].lon: expected a number in [-180, 180], found \"-180.01\""},
	        {"lat: 50.11, lon: 8.68", "lat: 50.11",
	         NAME ":14:5: regions[1]: missing required key \"lon\""},
	        {"lat: 50.11, lon: 8.68", "lat: -90, lon: 180", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

/* ------------------------------------------------------------------------ */
/* Nodes.                                                                   */

Test(nodes, class_names)
{
	static const struct {
		const char *name;
		uint8_t node_class;
	} names[] = {
	        {"micro", FAII_CLASS_MICRO}, {"S", FAII_CLASS_SMALL}, {"M", FAII_CLASS_MEDIUM},
	        {"L", FAII_CLASS_LARGE},     {"XL", FAII_CLASS_XL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char to[32];
		snprintf(to, sizeof(to), "    class: %s\n", names[i].name);
		char *text = subst(world, "    class: S\n", to);
		struct faii_config *c = load_ok(text);
		cr_expect_eq(c->nodes[0].node_class, names[i].node_class, "%s", names[i].name);
		cr_expect_str_eq(faii_node_class_name(names[i].node_class), names[i].name);
		faii_config_free(c);
		free(text);
	}
	cr_expect_null(faii_node_class_name(FAII_CLASS_COUNT));

	static const struct edit_case bad[] = {
	        {"    class: S\n", "    class: XXL\n",
	         NAME ":18:12: nodes[0].class: expected one of micro, S, M, L, XL, found \"XXL\""},
	        {"    class: S\n", "    class: s\n",
	         NAME ":18:12: nodes[0].class: expected one of micro, S, M, L, XL, found \"s\""},
	        {"    class: S\n", "    class: Micro\n",
	         NAME ":18:12: nodes[0].class: expected one of micro, S, M, L, XL, found "
	              "\"Micro\""},
	        {"    class: S\n", "    class: 1\n",
	         NAME ":18:12: nodes[0].class: expected one of micro, S, M, L, XL, found \"1\""},
	};
	run_edits(world, bad, ARRAY_SIZE(bad));
}

Test(nodes, status_names)
{
	static const char *const names[] = {"active", "draining", "quarantined", "slashed"};
	for (uint8_t s = 0; s < ARRAY_SIZE(names); s++) {
		char to[48];
		snprintf(to, sizeof(to), "    status: %s\n", names[s]);
		char *text = subst(world, "    status: draining\n", to);
		struct faii_config *c = load_ok(text);
		cr_expect_eq(c->nodes[0].status, s, "%s", names[s]);
		cr_expect_str_eq(faii_node_status_name(s), names[s]);
		faii_config_free(c);
		free(text);
	}
	static const struct edit_case bad[] = {
	        {"    status: draining\n", "    status: paused\n",
	         NAME ":19:13: nodes[0].status: expected one of active, draining, quarantined, "
	              "slashed, found \"paused\""},
	};
	run_edits(world, bad, ARRAY_SIZE(bad));
}

Test(nodes, eligibility)
{
	static const struct {
		const char *list;
		uint8_t mask;
	} lists[] = {
	        {"[edge_inference]", 0x01},
	        {"[storage_shard]", 0x02},
	        {"[dag_validation]", 0x04},
	        {"[interactive_inference]", 0x08},
	        {"[batch_inference]", 0x10},
	        {"[ledger_work]", 0x20},
	        {"[all]", FAII_ELIGIBILITY_MASK},
	        {"[ledger_work, all]", FAII_ELIGIBILITY_MASK},
	        {"[edge_inference, edge_inference]", 0x01},
	        {"[batch_inference, edge_inference, ledger_work]", 0x31},
	        {"\n      - dag_validation\n      - storage_shard", 0x06},
	};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		char to[128];
		snprintf(to, sizeof(to), "    eligibility: %s\n", lists[i].list);
		char *text = subst(world, "    eligibility: [edge_inference, storage_shard]\n", to);
		struct faii_config *c = load_ok(text);
		cr_expect_eq(c->nodes[0].eligibility, lists[i].mask, "%s", lists[i].list);
		faii_config_free(c);
		free(text);
	}
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++)
		cr_expect_not_null(faii_category_name(cat));
	cr_expect_null(faii_category_name(0));
	cr_expect_null(faii_category_name(FAII_CATEGORY_COUNT + 1));

	static const struct edit_case bad[] = {
	        {"[edge_inference, storage_shard]", "[edge_inference, storage]",
	         NAME ":28:35: nodes[0].eligibility: expected one of edge_inference, "
	              "storage_shard, dag_validation, interactive_inference, batch_inference, "
	              "ledger_work, all, found \"storage\""},
	        {"[edge_inference, storage_shard]", "[ALL]",
	         NAME ":28:19: nodes[0].eligibility: expected one of edge_inference, "
	              "storage_shard, dag_validation, interactive_inference, batch_inference, "
	              "ledger_work, all, found \"ALL\""},
	        {"[edge_inference, storage_shard]", "[]",
	         NAME ":28:18: nodes[0].eligibility: expected a non-empty sequence of task "
	              "categories, found a sequence"},
	        {"[edge_inference, storage_shard]", "all",
	         NAME ":28:18: nodes[0].eligibility: expected a non-empty sequence of task "
	              "categories, found \"all\""},
	        {"[edge_inference, storage_shard]", "{edge_inference: 1}",
	         NAME ":28:18: nodes[0].eligibility: expected a non-empty sequence of task "
	              "categories, found a mapping"},
	};
	run_edits(world, bad, ARRAY_SIZE(bad));
}

#define ADDR_EXPECTED "expected an address as IPv4:port or [IPv6]:port"

Test(nodes, addresses)
{
	static const struct {
		const char *text;
		uint8_t family;
		uint8_t addr[16];
		uint16_t port;
	} good[] = {
	        {"203.0.113.7:1", FAII_ADDR_IPV4, {203, 0, 113, 7}, 1},
	        {"0.0.0.0:65535", FAII_ADDR_IPV4, {0}, 65535},
	        {"[::1]:7410", FAII_ADDR_IPV6, {[15] = 1}, 7410},
	        {"[2001:db8:0:1::42]:9000",
	         FAII_ADDR_IPV6,
	         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x42},
	         9000},
	        {"[::ffff:192.0.2.1]:7410",
	         FAII_ADDR_IPV6,
	         {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1},
	         7410},
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char to[96];
		snprintf(to, sizeof(to), "    address: \"%s\"\n", good[i].text);
		char *text = subst(world, "    address: \"192.0.2.10:7410\"\n", to);
		struct faii_config *c = load_ok(text);
		cr_expect_eq(c->nodes[0].addr_family, good[i].family, "%s", good[i].text);
		cr_expect_eq(memcmp(c->nodes[0].addr, good[i].addr, 16), 0, "%s", good[i].text);
		cr_expect_eq(c->nodes[0].udp_port, good[i].port, "%s", good[i].text);
		faii_config_free(c);
		free(text);
	}

	static const struct edit_case bad[] = {
	        {"\"192.0.2.10:7410\"", "\"192.0.2.10\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.10\""},
	        {"\"192.0.2.10:7410\"", "\"192.0.2.10:\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.10:\""},
	        {"\"192.0.2.10:7410\"", "\"192.0.2.10:0\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.10:0\""},
	        {"\"192.0.2.10:7410\"", "\"192.0.2.10:65536\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.10:65536\""},
	        {"\"192.0.2.10:7410\"", "\"192.0.2.10:74x\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.10:74x\""},
	        {"\"192.0.2.10:7410\"", "\"192.0.2.300:7410\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"192.0.2.300:7410\""},
	        {"\"192.0.2.10:7410\"", "\"node1.example:7410\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"node1.example:7410\""},
	        {"\"192.0.2.10:7410\"", "\"2001:db8::2:7410\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"2001:db8::2:7410\""},
	        {"\"192.0.2.10:7410\"", "\"[2001:db8::2]\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"[2001:db8::2]\""},
	        {"\"192.0.2.10:7410\"", "\"[2001:db8::2]:\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"[2001:db8::2]:\""},
	        {"\"192.0.2.10:7410\"", "\"[2001:db8::2]:0\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"[2001:db8::2]:0\""},
	        {"\"192.0.2.10:7410\"", "\"[2001:db8::2]7410\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"[2001:db8::2]7410\""},
	        {"\"192.0.2.10:7410\"", "\"[192.0.2.10]:7410\"",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found \"[192.0.2.10]:7410\""},
	        {"\"192.0.2.10:7410\"", "[192.0.2.10, 7410]",
	         NAME ":25:14: nodes[0].address: " ADDR_EXPECTED ", found a sequence"},
	};
	run_edits(world, bad, ARRAY_SIZE(bad));
}

Test(nodes, public_keys)
{
	static const struct edit_case cases[] = {
	        /* Upper-case hex is the same key. */
	        {N2, KEY8("0123ABCD"),
	         NAME ":53:17: nodes[1]: expected a unique public key, found the key of node 1 "
	              "again"},
	        {N2, N1,
	         NAME ":53:17: nodes[1]: expected a unique public key, found the key of node 1 "
	              "again"},
	        {N2, KEY8("4567ef0g"),
	         NAME ":53:17: nodes[1].public_key: expected an Ed25519 public key as 64 hex "
	              "digits, found \"4567ef0g4567ef0g4567ef0g4567ef0g4567ef0g...\""},
	        {N2, KEY8("4567ef01") "01",
	         NAME ":53:17: nodes[1].public_key: expected an Ed25519 public key as 64 hex "
	              "digits, found \"4567ef014567ef014567ef014567ef014567ef01...\""},
	        {N2, "4567ef01",
	         NAME ":53:17: nodes[1].public_key: expected an Ed25519 public key as 64 hex "
	              "digits, found \"4567ef01\""},
	        {N2, "\"\"",
	         NAME ":53:17: nodes[1].public_key: expected an Ed25519 public key as 64 hex "
	              "digits, found an empty value"},
	        {N2, KEY8("4567EF02"), LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

Test(nodes, references_and_uniqueness)
{
	static const struct edit_case cases[] = {
	        {"  - id: 2\n", "  - id: 1\n",
	         NAME ":37:9: nodes[1]: expected a unique node id, found 1 twice"},
	        {"    country: DE\n", "    country: GB\n",
	         NAME ":41:14: nodes[1].country: expected a country declared under "
	              "jurisdictions, found \"GB\""},
	        {"    country: DE\n", "    country: EU\n",
	         NAME ":41:14: nodes[1].country: expected a country declared under "
	              "jurisdictions, found \"EU\""},
	        {"    region: frankfurt\n", "    region: paris\n",
	         NAME ":42:13: nodes[1].region: expected a region declared under regions, found "
	              "\"paris\""},
	        {"    region: frankfurt\n", "    region: 7\n",
	         NAME ":42:13: nodes[1].region: expected a region declared under regions, found "
	              "\"7\""},
	        /* Region and country need not agree; operators are free text. */
	        {"    region: frankfurt\n", "    region: zurich\n", LOADS},
	        {"    operator: op-b\n", "    operator: op-a\n", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

Test(nodes, values)
{
	static const struct edit_case cases[] = {
	        /* Missing required key, unknown key, duplicate key. */
	        {"    public_key: " N2 "\n", "",
	         NAME ":37:5: nodes[1]: missing required key \"public_key\""},
	        {"    capacity: 1000\n", "",
	         NAME ":37:5: nodes[1]: missing required key \"capacity\""},
	        {"      grid_stress: 0\n", "",
	         NAME ":49:7: nodes[1].esg: missing required key \"grid_stress\""},
	        {"    name: zurich-s-1\n", "    nmae: zurich-s-1\n",
	         NAME ":17:5: nodes[0]: unknown key \"nmae\", expected one of: id, name, class, "
	              "status, operator, asn, country, region, location, address, capacity, "
	              "service_rate, eligibility, price, reputation, esg, public_key"},
	        {"      pue: 1.1\n", "      rpue: 1.1\n",
	         NAME ":50:7: nodes[1].esg: unknown key \"rpue\", expected one of: mix, pue, "
	              "energy_to_work, grid_stress"},
	        {"{wind: 1}", "{wnd: 1}",
	         NAME ":49:13: nodes[1].esg.mix: unknown key \"wnd\", expected one of: solar, "
	              "wind, hydro, geothermal, biomass, hydrogen, waste, nonrenewable"},
	        {"    class: S\n", "    class: S\n    class: M\n",
	         NAME ":19:5: nodes[0].class: duplicate key"},
	        {"{wind: 1}", "{wind: 0.5, wind: 0.5}",
	         NAME ":49:24: nodes[1].esg.mix.wind: duplicate key"},
	        /* Types. */
	        {"    capacity: 20\n", "    capacity: \"20\"\n",
	         NAME ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "\"20\""},
	        {"    capacity: 20\n", "    capacity: twenty\n",
	         NAME ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "\"twenty\""},
	        {"    capacity: 20\n", "    capacity: [20]\n",
	         NAME
	         ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found a "
	         "sequence"},
	        {"    capacity: 20\n", "    capacity:\n",
	         NAME ":26:14: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "an empty "
	              "value"},
	        {"    esg:\n      mix: {solar", "    esg: []\n    x:\n      mix: {solar",
	         NAME ":31:10: nodes[0].esg: expected a mapping, found a sequence"},
	        {"{wind: 1}", "[wind]",
	         NAME ":49:12: nodes[1].esg.mix: expected a mapping, found a sequence"},
	        {"    name: zurich-s-1\n", "    name: " KEY8("abcdef") "\n",
	         NAME ":17:11: nodes[0].name: expected a non-empty string of at most 47 bytes, "
	              "found \"abcdefabcdefabcdefabcdefabcdefabcdefabcd...\""},
	        {"    location: [47.4, 8.5]\n", "    location: [47.4]\n",
	         NAME ":24:15: nodes[0].location: expected [latitude, longitude] in degrees, found "
	              "a sequence"},
	        {"    location: [47.4, 8.5]\n", "    location: {lat: 47.4, lon: 8.5}\n",
	         NAME ":24:15: nodes[0].location: expected [latitude, longitude] in degrees, found "
	              "a mapping"},
	        {"    location: [47.4, 8.5]\n", "    location: [91, 8.5]\n",
	         NAME ":24:16: nodes[0].location: expected a number in [-90, 90], found \"91\""},
	        {"    location: [47.4, 8.5]\n", "    location: [47.4, 181]\n",
	         NAME ":24:22: nodes[0].location: expected a number in [-180, 180], found \"181\""},
	        /* Ranges. */
	        {"    capacity: 20\n", "    capacity: 0\n",
	         NAME ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "\"0\""},
	        {"    capacity: 20\n", "    capacity: 1e9\n", LOADS},
	        {"    capacity: 20\n", "    capacity: 1.5e9\n",
	         NAME ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "\"1.5e9\""},
	        {"    service_rate: 18\n", "    service_rate: 0\n",
	         NAME
	         ":27:19: nodes[0].service_rate: expected a number in [0.001, 1000000000], found "
	         "\"0\""},
	        {"    price: 1.0\n", "    price: 0\n",
	         NAME ":29:12: nodes[0].price: expected a number in [1e-06, 1000000], found \"0\""},
	        {"    price: 1.0\n", "    price: -1\n",
	         NAME
	         ":29:12: nodes[0].price: expected a number in [1e-06, 1000000], found \"-1\""},
	        {"    reputation: 0.9\n", "    reputation: 1.5\n",
	         NAME ":30:17: nodes[0].reputation: expected a number in [0, 1], found \"1.5\""},
	        {"    reputation: 0.9\n", "    reputation: 0\n", LOADS},
	        {"    reputation: 0.9\n", "    reputation: 1\n", LOADS},
	        {"      pue: 1.2\n", "      pue: 0.9\n",
	         NAME ":33:12: nodes[0].esg.pue: expected a number in [1, 10], found \"0.9\""},
	        {"      energy_to_work: 0.05\n", "      energy_to_work: 0\n",
	         NAME ":34:23: nodes[0].esg.energy_to_work: expected a number in [1e-06, 1000000], "
	              "found \"0\""},
	        {"      grid_stress: 0.3\n", "      grid_stress: 1.01\n",
	         NAME ":35:20: nodes[0].esg.grid_stress: expected a number in [0, 1], found "
	              "\"1.01\""},
	        {"{wind: 1}", "{wind: 1.2, nonrenewable: -0.2}",
	         NAME ":49:19: nodes[1].esg.mix.wind: expected a number in [0, 1], found \"1.2\""},
	        /* Source mix sums to 1. */
	        {"{wind: 1}", "{wind: 0.9}",
	         NAME
	         ":49:12: nodes[1].esg.mix: expected source fractions summing to 1, found 0.9"},
	        {"{wind: 1}", "{wind: 0.6, solar: 0.6}",
	         NAME
	         ":49:12: nodes[1].esg.mix: expected source fractions summing to 1, found 1.2"},
	        {"{wind: 1}", "{}",
	         NAME ":49:12: nodes[1].esg.mix: expected source fractions summing to 1, found 0"},
	        {"{wind: 1}", "{wind: 0.333, solar: 0.333, nonrenewable: 0.334}", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

/* ------------------------------------------------------------------------ */
/* Appliance and validators.                                                */

Test(appliance, errors)
{
	static const struct edit_case cases[] = {
	        {"  workers: 2\n", "  workers: 17\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"17\""},
	        {"  workers: 2\n", "  workers: 0\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"0\""},
	        {"  workers: 2\n", "  workers: 1.5\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"1.5\""},
	        {"  workers: 2\n", "  workers: 2.0\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"2.0\""},
	        {"  workers: 2\n", "  workers: -1\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"-1\""},
	        {"  workers: 2\n", "  workers: two\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"two\""},
	        {"  workers: 2\n", "  workers: \"2\"\n",
	         NAME ":3:12: appliance.workers: expected an integer in [1, 16], found \"2\""},
	        {"  workers: 2\n", "  workers: 16\n", LOADS},
	        {"  udp_port: 7410\n", "  udp_port: 0\n",
	         NAME ":4:13: appliance.udp_port: expected an integer in [1, 65535], found \"0\""},
	        {"  udp_port: 7410\n", "  udp_port: 65536\n",
	         NAME ":4:13: appliance.udp_port: expected an integer in [1, 65535], found "
	              "\"65536\""},
	        {"  metrics_port: 9100\n", "  metrics_port: 99999999999999999999999\n",
	         NAME ":5:17: appliance.metrics_port: expected an integer in [1, 65535], found "
	              "\"99999999999999999999999\""},
	        {"  stats_interval_s: 0\n", "  stats_interval_s: 3601\n",
	         NAME ":6:21: appliance.stats_interval_s: expected an integer in [0, 3600], "
	              "found \"3601\""},
	        {"  stats_interval_s: 0\n", "  stats_interval_s: 3600\n", LOADS},
	        {"  control_socket: /run/faii/ctl.sock\n", "  control_socket: \"\"\n",
	         NAME ":7:19: appliance.control_socket: expected a non-empty string of at most "
	              "107 bytes, found an empty value"},
	        {"  ledger_dir: /srv/faii/ledger\n", "  ledger_dir: [a, b]\n",
	         NAME ":8:15: appliance.ledger_dir: expected a non-empty string of at most 255 "
	              "bytes, found a sequence"},
	        {"  eal: [", "  eal: {a: 1}\n  x: [",
	         NAME ":2:8: appliance.eal: expected a sequence of at most 32 entries, found a "
	              "mapping"},
	        {"  eal: [", "  eal: \"-l 0-3\"\n  x: [",
	         NAME ":2:8: appliance.eal: expected a sequence of at most 32 entries, found "
	              "\"-l 0-3\""},
	        {"\"-l\", ", "[\"-l\"], ",
	         NAME ":2:9: appliance.eal[0]: expected a non-empty string of at most 127 bytes, "
	              "found a sequence"},
	        {"  workers: 2\n", "  worker: 2\n",
	         NAME ":3:3: appliance: unknown key \"worker\", expected one of: eal, workers, "
	              "udp_port, metrics_port, stats_interval_s, control_socket, ledger_dir, "
	              "ledger_segment_mb, residency_pin_dir, control_admin_uids, "
	              "control_admin_gids, control_reader_uids, control_reader_gids, "
	              "attest_stale_s, heartbeat_stale_s, validators, auth"},
	        {"  workers: 2\n", "  workers: 2\n  workers: 3\n",
	         NAME ":4:3: appliance.workers: duplicate key"},
	        /* Validators. */
	        {"    self: 3\n", "    self: 5\n",
	         NAME ":10:5: appliance.validators.self: expected the id of one of the members, "
	              "found 5"},
	        {"{id: 2, public_key: " V2, "{id: 1, public_key: " V2,
	         NAME ":14:9: appliance.validators.members[1]: expected a unique validator id, "
	              "found 1 twice"},
	        {"    key_file: /etc/faii/validator.key\n", "",
	         NAME ":10:5: appliance.validators: missing required key \"key_file\""},
	        {"    self: 3\n", "",
	         NAME ":10:5: appliance.validators: missing required key \"self\""},
	        {"address: \"192.0.2.4:7411\"}", "addr: \"192.0.2.4:7411\"}",
	         NAME ":16:95: appliance.validators.members[3]: unknown key \"addr\", expected one "
	              "of: id, public_key, address, node_id_first, node_id_last"},
	        /* Home ranges: all or none, each ordered, no two overlapping. */
	        {"address: \"192.0.2.1:7411\"}",
	         "address: \"192.0.2.1:7411\", node_id_first: 1, node_id_last: 9}",
	         NAME ":13:7: appliance.validators.members: expected a node id range for every "
	              "member or for none (1 of 4)"},
	        {"address: \"192.0.2.1:7411\"}", "address: \"192.0.2.1:7411\", node_id_first: 1}",
	         NAME ":13:7: appliance.validators.members: expected both node_id_first and "
	              "node_id_last of validator 1"},
	        {"address: \"192.0.2.1:7411\"}",
	         "address: \"192.0.2.1:7411\", node_id_first: 9, node_id_last: 1}",
	         NAME ":13:7: appliance.validators.members: expected node_id_first <= "
	              "node_id_last of validator 1"},
	        {V4, KEY8("a4a4a4aX"),
	         NAME ":16:29: appliance.validators.members[3].public_key: expected an Ed25519 "
	              "public key as 64 hex digits, found "
	              "\"a4a4a4aXa4a4a4aXa4a4a4aXa4a4a4aXa4a4a4aX...\""},
	        {"    members:\n", "    members: {}\n    other:\n",
	         NAME ":12:14: appliance.validators.members: expected a sequence of at most 16 "
	              "entries, found a mapping"},
	};
	run_edits(appliance, cases, ARRAY_SIZE(cases));
}

/* Builds "appliance:\n  eal: [x, x, ...]\n" with count entries. */
/* appliance.validators timings: each range's ends, and the window's bound
 * by gc_depth_rounds. The edited key goes on line 12, after key_file. */
#define KEY_FILE_LINE "    key_file: /etc/faii/validator.key\n"
#define TIMING(text)  KEY_FILE_LINE text
Test(appliance, validator_timings)
{
	static const struct edit_case cases[] = {
	        {KEY_FILE_LINE, TIMING("    epoch: 0\n"),
	         NAME ":12:12: appliance.validators.epoch: expected an integer in [1, "
	              "1000000000000000], found \"0\""},
	        {KEY_FILE_LINE, TIMING("    epoch: 1000000000000000\n"), LOADS},
	        {KEY_FILE_LINE, TIMING("    batch_bytes: 63\n"),
	         NAME ":12:18: appliance.validators.batch_bytes: expected an integer in [64, "
	              "61440], found \"63\""},
	        {KEY_FILE_LINE, TIMING("    batch_bytes: 61441\n"),
	         NAME ":12:18: appliance.validators.batch_bytes: expected an integer in [64, "
	              "61440], found \"61441\""},
	        {KEY_FILE_LINE, TIMING("    batch_bytes: 61440\n"), LOADS},
	        {KEY_FILE_LINE, TIMING("    batch_wait_ms: 10001\n"),
	         NAME ":12:20: appliance.validators.batch_wait_ms: expected an integer in [0, "
	              "10000], found \"10001\""},
	        {KEY_FILE_LINE, TIMING("    batch_wait_ms: 0\n"), LOADS},
	        {KEY_FILE_LINE, TIMING("    leader_timeout_ms: 0\n"),
	         NAME ":12:24: appliance.validators.leader_timeout_ms: expected an integer in [1, "
	              "600000], found \"0\""},
	        {KEY_FILE_LINE, TIMING("    leader_timeout_ms: 600001\n"),
	         NAME ":12:24: appliance.validators.leader_timeout_ms: expected an integer in [1, "
	              "600000], found \"600001\""},
	        {KEY_FILE_LINE, TIMING("    retransmit_ms: 0\n"),
	         NAME ":12:20: appliance.validators.retransmit_ms: expected an integer in [1, "
	              "600000], found \"0\""},
	        {KEY_FILE_LINE, TIMING("    gc_depth_rounds: 1\n"),
	         NAME ":12:22: appliance.validators.gc_depth_rounds: expected an integer in [2, "
	              "1020], found \"1\""},
	        {KEY_FILE_LINE, TIMING("    gc_depth_rounds: 1021\n"),
	         NAME ":12:22: appliance.validators.gc_depth_rounds: expected an integer in [2, "
	              "1020], found \"1021\""},
	        {KEY_FILE_LINE, TIMING("    window_rounds: 7\n"),
	         NAME ":12:20: appliance.validators.window_rounds: expected an integer in [8, "
	              "1024], found \"7\""},
	        {KEY_FILE_LINE, TIMING("    window_rounds: 1025\n"),
	         NAME ":12:20: appliance.validators.window_rounds: expected an integer in [8, "
	              "1024], found \"1025\""},
	        {KEY_FILE_LINE, TIMING("    tick_ms: 0\n"),
	         NAME ":12:14: appliance.validators.tick_ms: expected an integer in [1, 1000], "
	              "found \"0\""},
	        {KEY_FILE_LINE, TIMING("    tick_ms: 1001\n"),
	         NAME ":12:14: appliance.validators.tick_ms: expected an integer in [1, 1000], "
	              "found \"1001\""},
	        {KEY_FILE_LINE, TIMING("    tick_ms: 1000\n"), LOADS},
	        {KEY_FILE_LINE, TIMING("    tick: 5\n"),
	         NAME ":12:5: appliance.validators: unknown key \"tick\", expected one of: self, "
	              "key_file, members, epoch, batch_bytes, batch_wait_ms, leader_timeout_ms, "
	              "retransmit_ms, gc_depth_rounds, window_rounds, tick_ms"},
	        /* The window holds gc_depth_rounds behind the last commit and 4 ahead. */
	        {KEY_FILE_LINE, TIMING("    gc_depth_rounds: 100\n    window_rounds: 103\n"),
	         NAME ":13:20: appliance.validators.window_rounds: expected at least "
	              "gc_depth_rounds + 4 = 104, found 103"},
	        {KEY_FILE_LINE, TIMING("    gc_depth_rounds: 100\n    window_rounds: 104\n"),
	         LOADS},
	        {KEY_FILE_LINE, TIMING("    gc_depth_rounds: 125\n"),
	         NAME ":10:5: appliance.validators.window_rounds: expected at least "
	              "gc_depth_rounds + 4 = 129, found 128"},
	};
	run_edits(appliance, cases, ARRAY_SIZE(cases));
}

Test(load, validator_timings)
{
	struct faii_config *c = load_ok(appliance);
	const struct faii_appliance_cfg *a = &c->appliance;
	/* The defaults, as docs/configuration.md lists them. */
	cr_expect_eq(a->validator_epoch, 1);
	cr_expect_eq(a->validator_batch_bytes, 61440);
	cr_expect_eq(a->validator_batch_wait_ms, 5);
	cr_expect_eq(a->validator_leader_timeout_ms, 200);
	cr_expect_eq(a->validator_retransmit_ms, 50);
	cr_expect_eq(a->validator_gc_depth_rounds, 50);
	cr_expect_eq(a->validator_window_rounds, 128);
	cr_expect_eq(a->validator_tick_ms, 5);
	faii_config_free(c);
	char *text = subst(appliance, KEY_FILE_LINE,
	                   TIMING("    epoch: 7\n    batch_bytes: 4096\n    batch_wait_ms: 2\n"
	                          "    leader_timeout_ms: 900\n    retransmit_ms: 30\n"
	                          "    gc_depth_rounds: 20\n    window_rounds: 64\n"
	                          "    tick_ms: 3\n"));
	c = load_ok(text);
	a = &c->appliance;
	cr_expect_eq(a->validator_epoch, 7);
	cr_expect_eq(a->validator_batch_bytes, 4096);
	cr_expect_eq(a->validator_batch_wait_ms, 2);
	cr_expect_eq(a->validator_leader_timeout_ms, 900);
	cr_expect_eq(a->validator_retransmit_ms, 30);
	cr_expect_eq(a->validator_gc_depth_rounds, 20);
	cr_expect_eq(a->validator_window_rounds, 64);
	cr_expect_eq(a->validator_tick_ms, 3);
	faii_config_free(c);
	free(text);
}

static char *eal_doc(unsigned count)
{
	size_t cap = 64 + 4u * count;
	char *text = malloc(cap);
	cr_assert_not_null(text);
	size_t n = (size_t)snprintf(text, cap, "appliance:\n  eal: [");
	for (unsigned i = 0; i < count; i++)
		n += (size_t)snprintf(text + n, cap - n, "%sx", i ? ", " : "");
	snprintf(text + n, cap - n, "]\n");
	return text;
}

Test(appliance, too_many_entries)
{
	char *text = eal_doc(FAII_CFG_EAL_ARGS_MAX);
	struct faii_config *c = load_ok(text);
	cr_expect_eq(c->appliance.eal_arg_count, FAII_CFG_EAL_ARGS_MAX);
	faii_config_free(c);
	free(text);

	text = eal_doc(FAII_CFG_EAL_ARGS_MAX + 1);
	cr_expect_str_eq(load_err(text),
	                 NAME ":2:8: appliance.eal: expected at most 32 entries, found 33");
	free(text);

	/* 17 validators. */
	size_t cap = 4096;
	text = malloc(cap);
	cr_assert_not_null(text);
	size_t n = (size_t)snprintf(text, cap,
	                            "appliance:\n  validators:\n    self: 1\n"
	                            "    key_file: k\n    members:\n");
	for (unsigned v = 1; v <= FAII_CFG_VALIDATORS_MAX + 1; v++)
		n += (size_t)snprintf(text + n, cap - n,
		                      "      - {id: %u, public_key: %064x, address: a}\n", v, v);
	cr_expect_str_eq(load_err(text),
	                 NAME ":6:7: appliance.validators.members: expected at most "
	                      "16 entries, found 17");
	free(text);

	/* An argument too long. */
	char arg[FAII_CFG_EAL_ARG_LEN_MAX + 1];
	memset(arg, 'a', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	char doc[256];
	snprintf(doc, sizeof(doc), "appliance:\n  eal: [%s]\n", arg);
	cr_expect_str_eq(load_err(doc), NAME ":2:9: appliance.eal[0]: expected a non-empty string "
	                                     "of at most 127 bytes, found "
	                                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
	arg[sizeof(arg) - 2] = '\0';
	snprintf(doc, sizeof(doc), "appliance:\n  eal: [%s]\n", arg);
	cr_expect_str_eq(load_err(doc), LOADS);
}

Test(appliance, validator_set_optional)
{
	/* Without validators: a single appliance, no consensus. */
	struct faii_config *c = load_ok("appliance:\n  workers: 3\n");
	cr_expect_eq(c->appliance.validator_count, 0);
	cr_expect_eq(c->appliance.validator_self, 0);
	faii_config_free(c);
}

/* settlement: work summaries and receipts (docs/settlement.md). */
Test(settlement, defaults_values_and_ranges)
{
	struct faii_config *c = load_ok("{}");
	cr_expect_eq(c->appliance.settlement.slice_ms, 10000);
	cr_expect_eq(c->appliance.settlement.heartbeat_period_ms, 1000);
	cr_expect_eq(c->appliance.settlement.receipts_kept, 262144);
	faii_config_free(c);
	c = load_ok("settlement:\n  slice_ms: 1000\n  heartbeat_period_ms: 500\n"
	            "  receipts_kept: 4194304\n");
	cr_expect_eq(c->appliance.settlement.slice_ms, 1000);
	cr_expect_eq(c->appliance.settlement.heartbeat_period_ms, 500);
	cr_expect_eq(c->appliance.settlement.receipts_kept, 4194304);
	faii_config_free(c);
	cr_expect_str_eq(load_err("settlement:\n  slice_ms: 99\n"),
	                 NAME ":2:13: settlement.slice_ms: expected an integer in [100, 3600000], "
	                      "found \"99\"");
	cr_expect_str_eq(load_err("settlement:\n  receipts_kept: 4194305\n"),
	                 NAME ":2:18: settlement.receipts_kept: expected an integer in [1024, "
	                      "4194304], found \"4194305\"");
	cr_expect_str_eq(load_err("settlement:\n  slice: 1000\n"),
	                 NAME ":2:3: settlement: unknown key \"slice\", expected one of: slice_ms, "
	                      "heartbeat_period_ms, receipts_kept, epoch_s, activation_delay_s, "
	                      "dispute_window_s, nodes_max, penalty_tokens, payout_cap_tokens");
}

/* ------------------------------------------------------------------------ */
/* Policy.                                                                  */

Test(policy, ranges)
{
	static const struct doc_case cases[] = {
	        /* [0, 1): eta 1 refused, 0.999 and 0 accepted. */
	        {"policy:\n  concentration_eta: 1\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found \"1\""},
	        {"policy:\n  concentration_eta: 0.999\n", LOADS},
	        {"policy:\n  concentration_eta: 0\n", LOADS},
	        {"policy:\n  concentration_eta: -0.001\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found "
	              "\"-0.001\""},
	        /* (0, 1): both ends refused. */
	        {"policy:\n  class_share_max: 0\n",
	         NAME ":2:20: policy.class_share_max: expected a number in (0, 1), found \"0\""},
	        {"policy:\n  class_share_max: 1\n",
	         NAME ":2:20: policy.class_share_max: expected a number in (0, 1), found \"1\""},
	        {"policy:\n  class_share_max: 0.001\n", LOADS},
	        {"policy:\n  tiers:\n    2: {operator_cap: 1}\n",
	         NAME ":3:23: policy.tiers.2.operator_cap: expected a number in (0, 1), found "
	              "\"1\""},
	        {"policy:\n  tiers:\n    2: {operator_cap: 0}\n",
	         NAME ":3:23: policy.tiers.2.operator_cap: expected a number in (0, 1), found "
	              "\"0\""},
	        /* (0, 1]. */
	        {"policy:\n  governance_step_max: 0\n",
	         NAME ":2:24: policy.governance_step_max: expected a number in (0, 1], found "
	              "\"0\""},
	        {"policy:\n  governance_step_max: 1\n", LOADS},
	        {"policy:\n  tiers:\n    4: {slo_target: 0}\n",
	         NAME ":3:21: policy.tiers.4.slo_target: expected a number in (0, 1], found \"0\""},
	        {"policy:\n  tiers:\n    4: {slo_target: 1}\n", LOADS},
	        /* [0, 1]. */
	        {"policy:\n  price_corridor: {below: 1.01}\n",
	         NAME ":2:27: policy.price_corridor.below: expected a number in [0, 1], found "
	              "\"1.01\""},
	        {"policy:\n  price_corridor: {below: 0, above: 1}\n", LOADS},
	        {"policy:\n  source_weights: {waste: 1.5}\n",
	         NAME ":2:27: policy.source_weights.waste: expected a number in [0, 1], found "
	              "\"1.5\""},
	        {"policy:\n  source_weights: {nonrenewable: 0}\n",
	         NAME ":2:20: policy.source_weights: unknown key \"nonrenewable\", expected one "
	              "of: solar, wind, hydro, geothermal, biomass, hydrogen, waste"},
	        {"policy:\n  tiers:\n    1: {edge_reserve: 1.5}\n",
	         NAME ":3:23: policy.tiers.1.edge_reserve: expected a number in [0, 1], found "
	              "\"1.5\""},
	        {"policy:\n  esg_weights: {renewables: -0.2, rpue: 0.4, energy_to_work: 0.4, "
	         "grid: 0.4}\n",
	         NAME ":2:29: policy.esg_weights.renewables: expected a number in [0, 1], found "
	              "\"-0.2\""},
	        /* [0, 1) and >= 1. */
	        {"policy:\n  esg_multiplier: {slope: 1}\n",
	         NAME ":2:27: policy.esg_multiplier.slope: expected a number in [0, 1), found "
	              "\"1\""},
	        {"policy:\n  esg_multiplier: {max: 0.99}\n", NAME
	         ":2:25: policy.esg_multiplier.max: expected a number in [1, 10], found \"0.99\""},
	        {"policy:\n  esg_multiplier: {slope: 0, max: 1}\n", LOADS},
	        {"policy:\n  esg_multiplier: {baseline: 1.5}\n",
	         NAME ":2:30: policy.esg_multiplier.baseline: expected a number in [0, 1], found "
	              "\"1.5\""},
	        {"policy:\n  energy_price: -1\n",
	         NAME ":2:17: policy.energy_price: expected a number in [0, 1000000], found "
	              "\"-1\""},
	        {"policy:\n  energy_price: 0.25\n  esg_multiplier: {baseline: 0}\n", LOADS},
	        {"policy:\n  slo_multiplier: {alpha: 0.5}\n",
	         NAME ":2:27: policy.slo_multiplier.alpha: expected a number in [1, 100], found "
	              "\"0.5\""},
	        {"policy:\n  slo_multiplier: {max: 0}\n", NAME
	         ":2:25: policy.slo_multiplier.max: expected a number in [1, 10], found \"0\""},
	        /* > 0 and >= 0. */
	        {"policy:\n  token_rate: 0\n", NAME
	         ":2:15: policy.token_rate: expected a number in (0, 1000000000], found \"0\""},
	        {"policy:\n  availability_rate: -1\n",
	         NAME ":2:22: policy.availability_rate: expected a number in (0, 1000000000], "
	              "found \"-1\""},
	        {"policy:\n  token_rate: 1e-9\n", LOADS},
	        {"policy:\n  tiers:\n    3: {congestion_gamma: -0.1}\n", NAME
	         ":3:27: policy.tiers.3.congestion_gamma: expected a number in [0, 100], found "
	         "\"-0.1\""},
	        {"policy:\n  tiers:\n    3: {congestion_gamma: 0}\n", LOADS},
	        {"policy:\n  tiers:\n    3: {congestion_gamma: 100}\n", LOADS},
	        /* Not finite. */
	        {"policy:\n  token_rate: .inf\n", NAME
	         ":2:15: policy.token_rate: expected a number in (0, 1000000000], found \".inf\""},
	        {"policy:\n  token_rate: nan\n", NAME
	         ":2:15: policy.token_rate: expected a number in (0, 1000000000], found \"nan\""},
	        {"policy:\n  token_rate: 1e999\n", NAME
	         ":2:15: policy.token_rate: expected a number in (0, 1000000000], found \"1e999\""},
	        /* Integers. */
	        {"policy:\n  tiers:\n    2: {operators_min: 0}\n",
	         NAME ":3:24: policy.tiers.2.operators_min: expected an integer in [1, 1024], "
	              "found \"0\""},
	        {"policy:\n  tiers:\n    2: {operators_min: 1025}\n",
	         NAME ":3:24: policy.tiers.2.operators_min: expected an integer in [1, 1024], "
	              "found \"1025\""},
	        {"policy:\n  tiers:\n    2: {operators_min: 2.5}\n",
	         NAME ":3:24: policy.tiers.2.operators_min: expected an integer in [1, 1024], "
	              "found \"2.5\""},
	        {"policy:\n  tiers:\n    2: {operators_min: 2e0}\n",
	         NAME ":3:24: policy.tiers.2.operators_min: expected an integer in [1, 1024], "
	              "found \"2e0\""},
	        {"policy:\n  tiers:\n    2: {operators_min: 1024}\n", LOADS},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

Test(policy, types)
{
	static const struct doc_case cases[] = {
	        {"policy:\n  concentration_eta: \"0.5\"\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found "
	              "\"0.5\""},
	        {"policy:\n  concentration_eta: '0.5'\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found "
	              "\"0.5\""},
	        {"policy:\n  concentration_eta: half\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found "
	              "\"half\""},
	        {"policy:\n  concentration_eta: 0.5x\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found "
	              "\"0.5x\""},
	        {"policy:\n  concentration_eta: [0.5]\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found a "
	              "sequence"},
	        {"policy:\n  concentration_eta: {v: 0.5}\n",
	         NAME ":2:22: policy.concentration_eta: expected a number in [0, 1), found a "
	              "mapping"},
	        {"policy:\n  concentration_eta:\n",
	         NAME ":2:21: policy.concentration_eta: expected a number in [0, 1), found an "
	              "empty value"},
	        {"policy: [0.5]\n", NAME ":1:9: policy: expected a mapping, found a sequence"},
	        {"policy: 0.5\n", NAME ":1:9: policy: expected a mapping, found \"0.5\""},
	        {"policy:\n  esg_weights: [0.4, 0.2, 0.2, 0.2]\n",
	         NAME ":2:16: policy.esg_weights: expected a mapping, found a sequence"},
	        {"policy:\n  tiers: [{factor: 1}]\n",
	         NAME ":2:10: policy.tiers: expected a mapping, found a sequence"},
	        {"jurisdictions: {CH: EFTA}\n",
	         NAME ":1:16: jurisdictions: expected a sequence of at most 64 entries, found a "
	              "mapping"},
	        {"nodes: {id: 1}\n", NAME
	         ":1:8: nodes: expected a sequence of at most 131072 entries, found a mapping"},
	        {"regions:\n",
	         NAME ":1:9: regions: expected a sequence of at most 64 entries, found "
	              "an empty value"},
	        {"residency_classes: []\nregions: []\nnodes: []\njurisdictions: []\n", LOADS},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

Test(policy, keys)
{
	static const struct doc_case cases[] = {
	        {"policy:\n  etaa: 0.5\n",
	         NAME ":2:3: policy: unknown key \"etaa\", expected one of: esg_weights, "
	              "source_weights, price_corridor, concentration_eta, class_share_max, "
	              "esg_multiplier, slo_multiplier, energy_price, token_rate, "
	              "availability_rate, governance_step_max, governance_period_s, tiers"},
	        {"policy:\n  tiers:\n    5: {factor: 5}\n",
	         NAME ":3:5: policy.tiers: unknown key \"5\", expected one of: 1, 2, 3, 4"},
	        {"policy:\n  tiers:\n    1: {factor: 1, beta: 0.25}\n",
	         NAME ":3:20: policy.tiers.1: unknown key \"beta\", expected one of: factor, "
	              "operator_cap, operators_min, edge_reserve, congestion_gamma, slo_target"},
	        {"policy:\n  price_corridor: {below: 0.1, below: 0.2}\n",
	         NAME ":2:32: policy.price_corridor.below: duplicate key"},
	        {"policy:\n  token_rate: 1\n  token_rate: 2\n",
	         NAME ":3:3: policy.token_rate: duplicate key"},
	        {"policy:\n  esg_weights: {renewables: 1}\n",
	         NAME ":2:16: policy.esg_weights: missing required key \"rpue\""},
	        {"policy:\n  esg_weights: {renewables: 0.4, rpue: 0.2, energy_to_work: 0.2}\n",
	         NAME ":2:16: policy.esg_weights: missing required key \"grid\""},
	        {"policy:\n  {[a]: 1}\n",
	         NAME ":2:4: policy: expected a scalar key, found a sequence"},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

Test(policy, constraints)
{
	static const struct doc_case cases[] = {
	        /* omega sums to 1. */
	        {"policy:\n  esg_weights: {renewables: 0.5, rpue: 0.2, energy_to_work: 0.2, "
	         "grid: 0.2}\n",
	         NAME ":2:16: policy.esg_weights: expected weights summing to 1, found 1.1"},
	        {"policy:\n  esg_weights: {renewables: 0.1, rpue: 0.2, energy_to_work: 0.2, "
	         "grid: 0.2}\n",
	         NAME ":2:16: policy.esg_weights: expected weights summing to 1, found 0.7"},
	        {"policy:\n  esg_weights: {renewables: 1, rpue: 0, energy_to_work: 0, grid: 0}\n",
	         LOADS},
	        {"policy:\n  esg_weights: {renewables: 0.7, rpue: 0.1, energy_to_work: 0.1, "
	         "grid: 0.1}\n",
	         LOADS},
	        /* theta0_1 = 1. */
	        {"policy:\n  tiers:\n    1: {factor: 1.5}\n",
	         NAME ":3:5: policy.tiers.1.factor: expected 1 (theta0_1 = 1), found 1.5"},
	        {"policy:\n  tiers:\n    1: {factor: 0.5}\n", NAME
	         ":3:17: policy.tiers.1.factor: expected a number in [1, 1000], found \"0.5\""},
	        /* Increasing factors. */
	        {"policy:\n  tiers:\n    3: {factor: 2}\n",
	         NAME ":3:5: policy.tiers.3.factor: expected tier factors increasing with the "
	              "tier, found 2 after 2"},
	        {"policy:\n  tiers:\n    2: {factor: 5}\n",
	         NAME ":3:5: policy.tiers.3.factor: expected tier factors increasing with the "
	              "tier, found 3 after 5"},
	        {"policy:\n  tiers:\n    4: {factor: 3.5}\n", LOADS},
	        {"policy:\n  tiers:\n    4: {factor: 2.5}\n",
	         NAME ":3:5: policy.tiers.4.factor: expected tier factors increasing with the "
	              "tier, found 2.5 after 3"},
	        /* The constraints point at the policy mapping when tiers are absent. */
	        {"policy:\n  token_rate: 2\n", LOADS},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

/* ------------------------------------------------------------------------ */
/* Document-level errors.                                                   */

Test(document, errors)
{
	static const struct doc_case cases[] = {
	        {"", NAME ":1:1: (top level): expected a mapping, found an empty document"},
	        {"# only a comment\n",
	         NAME ":1:1: (top level): expected a mapping, found an empty document"},
	        {"- a\n- b\n", NAME ":1:1: (top level): expected a mapping, found a sequence"},
	        {"[appliance, policy]\n",
	         NAME ":1:1: (top level): expected a mapping, found a sequence"},
	        {"just text\n", NAME ":1:1: (top level): expected a mapping, found \"just text\""},
	        {"foo: 1\n",
	         NAME ":1:1: (top level): unknown key \"foo\", expected one of: "
	              "appliance, policy, settlement, jurisdictions, residency_classes, regions, "
	              "nodes"},
	        {"policy: {}\nPolicy: {}\n",
	         NAME ":2:1: (top level): unknown key \"Policy\", expected one of: appliance, "
	              "policy, settlement, jurisdictions, residency_classes, regions, nodes"},
	        {"policy: {}\npolicy: {}\n", NAME ":2:1: policy: duplicate key"},
	        /* Syntax errors: libyaml's problem and context. */
	        {"a: [\n",
	         NAME ":2:1: syntax error: did not find expected node content while parsing a "
	              "flow node"},
	        {"policy:\n  token_rate: 1\n bad: 2\n",
	         NAME ":3:2: syntax error: did not find expected key while parsing a block "
	              "mapping"},
	        {"a: 1\n b: 2\n", NAME ":2:3: syntax error: mapping values are not allowed in "
	                               "this context"},
	        {"policy: {token_rate: 1\n",
	         NAME ":2:1: syntax error: did not find expected ',' or '}' while parsing a flow "
	              "mapping"},
	        {"policy: *nowhere\n", NAME ":1:9: syntax error: found undefined alias"},
	        {"\tpolicy: {}\n",
	         NAME ":1:1: syntax error: found character that cannot start any token while "
	              "scanning for the next token"},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

Test(document, aliases)
{
	/* Anchors and aliases are plain YAML: they load like the expanded text. */
	struct faii_config *c = load_ok("policy:\n"
	                                "  price_corridor: &c {below: 0.1, above: 0.1}\n"
	                                "  tiers:\n"
	                                "    1: &t {operator_cap: 0.3}\n"
	                                "    2: *t\n");
	cr_expect_eq(c->policy.corridor_below, 0.1);
	cr_expect_eq(c->policy.tier[0].operator_cap, 0.3);
	cr_expect_eq(c->policy.tier[1].operator_cap, 0.3);
	faii_config_free(c);
}

Test(document, length_is_respected)
{
	/* The text need not be NUL-terminated: only len bytes are read. */
	static const char text[] = "policy: {token_rate: 2}\nfoo: 1\n";
	char err[FAII_CFG_ERR_LEN];
	struct faii_config *c = NULL;
	cr_assert_eq(
	        faii_config_load_string(NAME, text, strlen("policy: {token_rate: 2}\n"), &c, err),
	        0, "%s", err);
	cr_expect_eq(c->policy.token_rate, 2.0);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Files.                                                                   */

#define DEMO_PATH    FAII_SOURCE_ROOT "/configs/demo.yaml"
#define EXAMPLE_PATH FAII_SOURCE_ROOT "/configs/appliance.example.yaml"

static void assert_consistent(const struct faii_config *c)
{
	for (uint32_t i = 0; i < c->node_count; i++) {
		const struct faii_cfg_node *n = &c->nodes[i];
		cr_assert_lt(n->jurisdiction, c->jurisdiction_count, "node %u", n->id);
		cr_assert_not_null(faii_config_region(c, n->region_id), "node %u", n->id);
		cr_assert_lt(n->operator_idx, c->operator_count, "node %u", n->id);
		cr_assert_lt(n->node_class, FAII_CLASS_COUNT, "node %u", n->id);
		cr_assert_neq(n->eligibility, 0, "node %u", n->id);
		cr_assert(n->addr_family == FAII_ADDR_IPV4 || n->addr_family == FAII_ADDR_IPV6);
		cr_assert_gt(n->udp_port, 0);
		cr_assert_gt(n->service_rate_tasks_per_s, 0, "node %u", n->id);
		double sum = 0;
		for (unsigned s = 0; s < FAII_SRC_COUNT; s++)
			sum += n->esg.source_mix[s];
		cr_assert_float_eq(sum, 1.0, 1e-6, "node %u", n->id);
	}
	for (uint32_t r = 0; r < c->residency_class_count; r++) {
		uint64_t all = c->jurisdiction_count == 64 ? UINT64_MAX
		                                           : (1ull << c->jurisdiction_count) - 1;
		cr_assert_neq(c->residency_classes[r].allowed, 0);
		cr_assert_eq(c->residency_classes[r].allowed & ~all, 0);
	}
}

Test(files, demo)
{
	struct faii_config *c = load_file_ok(DEMO_PATH);
	cr_expect_geq(c->node_count, 200);
	cr_expect_geq(c->jurisdiction_count, 3);
	cr_expect_geq(c->region_count, 3);
	cr_expect_geq(c->residency_class_count, 1);
	cr_expect_geq(c->operator_count, 4, "tier 1 needs d_1 = 4 operators");
	unsigned per_class[FAII_CLASS_COUNT] = {0};
	for (uint32_t i = 0; i < c->node_count; i++) {
		const struct faii_cfg_node *n = &c->nodes[i];
		per_class[n->node_class]++;
		/* demo.yaml gives no service_rate: it defaults to capacity. */
		cr_expect_eq(n->service_rate_tasks_per_s, n->capacity_tasks_per_s, "node %u",
		             n->id);
	}
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++)
		cr_expect_gt(per_class[k], 0, "class %s", faii_node_class_name((uint8_t)k));
	assert_consistent(c);

	/* The policy is written out at SPEC's defaults. */
	struct faii_policy p;
	faii_policy_defaults(&p);
	expect_policy_eq(&c->policy, &p);
	/* Runs without a NIC. */
	cr_expect_gt(c->appliance.eal_arg_count, 0);
	faii_config_free(c);
}

Test(files, example)
{
	struct faii_config *c = load_file_ok(EXAMPLE_PATH);
	const struct faii_appliance_cfg *a = &c->appliance;
	cr_expect_gt(a->eal_arg_count, 0);
	cr_expect_eq(a->workers, 2);
	/* n = 3f + 1 with f = 1. */
	cr_expect_eq(a->validator_count, 4);
	cr_expect_str_neq(a->validator_key_file, "");
	for (uint32_t i = 0; i < a->validator_count; i++) {
		for (uint32_t k = 0; k < i; k++)
			cr_expect_neq(memcmp(a->validators[i].public_key,
			                     a->validators[k].public_key, FAII_PUBKEY_SIZE),
			              0, "validators %u and %u share a key", k, i);
	}
	struct faii_policy p;
	faii_policy_defaults(&p);
	expect_policy_eq(&c->policy, &p); /* the example is at SPEC defaults */
	cr_expect_geq(c->node_count, 6);
	unsigned per_class[FAII_CLASS_COUNT] = {0};
	for (uint32_t i = 0; i < c->node_count; i++)
		per_class[c->nodes[i].node_class]++;
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++)
		cr_expect_gt(per_class[k], 0, "class %s", faii_node_class_name((uint8_t)k));
	cr_expect_geq(c->jurisdiction_count, 3);
	cr_expect_geq(c->residency_class_count, 2);
	assert_consistent(c);
	faii_config_free(c);
}

Test(files, missing)
{
	char err[FAII_CFG_ERR_LEN];
	struct faii_config *c = (struct faii_config *)1;
	cr_assert_eq(faii_config_load(FAII_SOURCE_ROOT "/configs/no-such-file.yaml", &c, err), -1);
	cr_expect_null(c);
	cr_expect_str_eq(err, FAII_SOURCE_ROOT
	                 "/configs/no-such-file.yaml: cannot open: No such file or directory");
}

Test(files, directory)
{
	char err[FAII_CFG_ERR_LEN];
	struct faii_config *c = (struct faii_config *)1;
	cr_assert_eq(faii_config_load(FAII_SOURCE_ROOT "/configs", &c, err), -1);
	cr_expect_null(c);
	cr_expect_str_eq(err, FAII_SOURCE_ROOT
	                 "/configs: expected a regular file of at most 16777216 bytes, "
	                 "found a directory");
}

/* Writes text to a temporary file; returns its path (static storage). */
static const char *temp_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/faii_test_config_XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(files, messages_name_the_file)
{
	char err[FAII_CFG_ERR_LEN], expected[FAII_CFG_ERR_LEN];
	struct faii_config *c = NULL;

	const char *path = temp_file("policy:\n  concentration_eta: 1.5\n");
	cr_expect_eq(faii_config_load(path, &c, err), -1);
	snprintf(expected, sizeof(expected),
	         "%s:2:22: policy.concentration_eta: expected a number in [0, 1), found \"1.5\"",
	         path);
	cr_expect_str_eq(err, expected);
	unlink(path);

	path = temp_file("");
	cr_expect_eq(faii_config_load(path, &c, err), -1);
	snprintf(expected, sizeof(expected),
	         "%s:1:1: (top level): expected a mapping, found an empty document", path);
	cr_expect_str_eq(err, expected);
	unlink(path);

	path = temp_file(world);
	c = load_file_ok(path);
	cr_expect_eq(c->node_count, 2);
	faii_config_free(c);
	unlink(path);
}

/* ------------------------------------------------------------------------ */
/* Regressions: defects found in review of control/config.c, now fixed.     */

Test(regressions, allow_entry_already_covered)
{
	/* An entry whose jurisdictions are already in the set (a repeat, or a
	 * country inside a bloc listed earlier) is declared, hence accepted. */
	static const struct doc_case cases[] = {
	        {"jurisdictions: [{country: DE, bloc: EU}, {country: FR, bloc: EU}]\n"
	         "residency_classes:\n"
	         "  - {id: 1, name: a, allow: [EU, DE]}\n",
	         LOADS},
	        {"jurisdictions: [{country: GB}]\n"
	         "residency_classes:\n"
	         "  - {id: 1, name: a, allow: [GB, GB]}\n",
	         LOADS},
	        {"jurisdictions: [{country: GB}]\n"
	         "residency_classes:\n"
	         "  - {id: 1, name: a, allow: [any, GB]}\n",
	         LOADS},
	};
	run_docs(cases, ARRAY_SIZE(cases));
}

Test(regressions, large_bounds_printed_exactly)
{
	/* Bounds print exactly, not rounded (16777215, not 1.67772e+07). */
	static const struct edit_case nodes[] = {
	        {"  - id: 2\n", "  - id: 2.5\n",
	         NAME ":37:9: nodes[1].id: expected an integer in [1, 16777215], found \"2.5\""},
	        {"    asn: 64513\n", "    asn: 0\n",
	         NAME ":40:10: nodes[1].asn: expected an integer in [1, 4294967295], found \"0\""},
	};
	run_edits(world, nodes, ARRAY_SIZE(nodes));
	static const struct edit_case validators[] = {
	        {"    self: 3\n", "    self: 0\n",
	         NAME ":10:11: appliance.validators.self: expected an integer in [1, "
	              "4294967295], found \"0\""},
	};
	run_edits(appliance, validators, ARRAY_SIZE(validators));
}

Test(regressions, empty_validator_set)
{
	/* A validator set always holds this appliance: an empty one is refused. */
	cr_expect_str_eq(load_err("appliance:\n"
	                          "  validators:\n"
	                          "    self: 1\n"
	                          "    key_file: k\n"
	                          "    members: []\n"),
	                 NAME
	                 ":5:14: appliance.validators.members: expected at least one validator "
	                 "(this appliance), found a sequence");
}

Test(regressions, later_documents_refused)
{
	/* A stray "---" must not make the rest of a file silently unused. */
	cr_expect_str_eq(load_err("policy: {}\n---\nfoo: 1\n"),
	                 NAME ":3:1: (top level): expected one YAML document, found another");
}

/* ------------------------------------------------------------------------ */
/* Control socket roles, stale-signal ages, policy parameters by name.      */

Test(control, role_lists_and_stale_ages)
{
	static const char text[] = "appliance:\n"
	                           "  control_admin_uids: [1000, 1001]\n"
	                           "  control_reader_gids: [50]\n"
	                           "  heartbeat_stale_s: 30\n"
	                           "  attest_stale_s: 86400\n";
	struct faii_config *c = NULL;
	char err[FAII_CFG_ERR_LEN];
	cr_assert_eq(faii_config_load_string(NAME, text, strlen(text), &c, err), 0, "%s", err);
	cr_expect_eq(c->appliance.control_admin_uid_count, 2);
	cr_expect_eq(c->appliance.control_admin_uids[1], 1001);
	cr_expect_eq(c->appliance.control_admin_gid_count, 0);
	cr_expect_eq(c->appliance.control_reader_gid_count, 1);
	cr_expect_eq(c->appliance.control_reader_gids[0], 50);
	cr_expect_eq(c->appliance.heartbeat_stale_s, 30);
	cr_expect_eq(c->appliance.attest_stale_s, 86400);
	faii_config_free(c);
	cr_expect_str_eq(load_err("appliance:\n  control_admin_uids: [-1]\n"),
	                 NAME ":2:24: appliance.control_admin_uids[0]: expected an integer in "
	                      "[0, 4294967294], found \"-1\"");
	cr_expect_str_eq(load_err("appliance:\n  control_reader_uids: 5\n"), NAME
	                 ":2:24: appliance.control_reader_uids: expected a sequence of at most "
	                 "32 entries, found \"5\"");
}

Test(control, policy_parameters_by_name)
{
	struct faii_policy p;
	char err[FAII_CFG_ERR_LEN];
	faii_policy_defaults(&p);
	cr_assert_eq(faii_policy_set(&p, "concentration_eta", 0.3, err), 0, "%s", err);
	cr_expect_float_eq(p.concentration_eta, 0.3, 1e-12);
	cr_assert_eq(faii_policy_set(&p, "tiers.2.operator_cap", 0.5, err), 0, "%s", err);
	cr_expect_float_eq(p.tier[1].operator_cap, 0.5, 1e-12);
	cr_assert_eq(faii_policy_set(&p, "tiers.4.operators_min", 3, err), 0, "%s", err);
	cr_expect_eq(p.tier[3].operators_min, 3);
	cr_assert_eq(faii_policy_set(&p, "price_corridor.below", 0.1, err), 0, "%s", err);
	cr_expect_float_eq(p.corridor_below, 0.1, 1e-12);
	/* Ranges of the file, open bounds included; nothing written on refusal. */
	struct faii_policy before = p;
	cr_expect_eq(faii_policy_set(&p, "concentration_eta", 1.0, err), -1);
	cr_expect_str_eq(err, "policy.concentration_eta: expected a number in [0, 1), found 1");
	cr_expect_eq(faii_policy_set(&p, "tiers.1.operator_cap", 0, err), -1);
	cr_expect_eq(faii_policy_set(&p, "price_corridor.above", -0.1, err), -1);
	cr_expect_eq(faii_policy_set(&p, "tiers.1.operators_min", 2.5, err), -1);
	cr_expect_eq(faii_policy_set(&p, "esg_multiplier.max", 0.5, err), -1);
	cr_expect_eq(faii_policy_set(&p, "tiers", 1, err), -2);
	cr_expect_eq(faii_policy_set(&p, "tiers.5.factor", 1, err), -2);
	cr_expect_eq(faii_policy_set(&p, "nope", 1, err), -2);
	cr_expect_str_eq(err, "policy.nope: no such parameter");
	cr_expect_eq(memcmp(&before, &p, sizeof(p)), 0);
	/* Constraints between values. */
	cr_assert_eq(faii_policy_check(&p, err), 0, "%s", err);
	cr_assert_eq(faii_policy_set(&p, "esg_weights.grid", 0.5, err), 0);
	cr_expect_eq(faii_policy_check(&p, err), -1);
	cr_expect_str_eq(err, "policy.esg_weights: expected weights summing to 1, found 1.3");
	faii_policy_defaults(&p);
	cr_assert_eq(faii_policy_set(&p, "tiers.3.factor", 1.5, err), 0);
	cr_expect_eq(faii_policy_check(&p, err), -1);
}

static void count_param(const struct faii_policy_param *param, void *ctx)
{
	unsigned *n = ctx;
	(*n)++;
	char err[FAII_CFG_ERR_LEN];
	struct faii_policy p;
	faii_policy_defaults(&p);
	/* Every listed name is settable to its own value. */
	cr_expect_eq(faii_policy_set(&p, param->name, param->value, err), 0, "%s: %s", param->name,
	             err);
}

/*
 * The governance step cap (SPEC 2a): policy.set accepted eta 0.5 -> 0.4 at
 * once (-20 %) although the cap is 10 % per period, and governance_step_max
 * was parsed and unused. Within a period changes are measured from its
 * start, so two steps of 6 % are refused as one of 12 %.
 */
Test(control, governance_step_cap)
{
	struct faii_policy p, next;
	char err[FAII_CFG_ERR_LEN] = "";
	faii_policy_defaults(&p);
	struct faii_policy_period g;
	const uint64_t t0 = 1000ull * 1000000000ull, day = 86400ull * 1000000000ull;
	faii_policy_period_begin(&g, &p, t0);
	next = p;
	next.concentration_eta = 0.4; /* -20 % */
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + 1, err), -1);
	cr_expect(strstr(err, "policy.concentration_eta: 0.5 -> 0.4 is beyond the governance "
	                      "step cap") != NULL &&
	                  strstr(err, "allows 0.45 to 0.55") != NULL,
	          "%s", err);
	next.concentration_eta = 0.45; /* exactly -10 % */
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + 1, err), 0, "%s", err);
	next.concentration_eta = 0.47;
	p = next; /* applied: the period still starts at 0.5 */
	next.concentration_eta = 0.44;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + 2, err), -1, "0.5 -> 0.47 -> 0.44");
	/* A day later the period starts again from what is in force. */
	faii_policy_period_roll(&g, &p, t0 + day);
	cr_expect_eq(g.start.concentration_eta, 0.47);
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), 0, "%s", err);
	/* An integer moves by one; a parameter at 0 by the cap times its range. */
	next = g.start;
	next.tier[0].operators_min = 6;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), -1);
	cr_expect(strstr(err, "tiers.1.operators_min: 4 -> 6") != NULL, "%s", err);
	next.tier[0].operators_min = 5;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), 0, "%s", err);
	next = g.start;
	next.tier[1].edge_reserve = 0.1; /* from 0: 10 % of [0, 1] */
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), 0, "%s", err);
	next.tier[1].edge_reserve = 0.11;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), -1);
	/* The cap and the period are themselves parameters under the cap. */
	next = g.start;
	next.governance_step_max = 1.0;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), -1);
	next = g.start;
	next.governance_period_s = 3600;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0 + day, err), -1);
	/* With a cap of 1 from the configuration, 0.47 -> 0.2 is allowed. */
	p = g.start;
	p.governance_step_max = 1.0;
	faii_policy_period_begin(&g, &p, t0);
	next = p;
	next.concentration_eta = 0.2;
	cr_expect_eq(faii_policy_step_check(&g, &next, t0, err), 0, "%s", err);
}

Test(control, policy_foreach_lists_every_parameter)
{
	struct faii_policy p;
	faii_policy_defaults(&p);
	unsigned n = 0;
	faii_policy_foreach(&p, count_param, &n);
	/* 4 ESG weights, 7 source weights, 2 corridor, eta, class share, 3 ESG
	 * multiplier, 2 SLO multiplier, energy price, token, availability, step
	 * and its period, 4 x 6 tier. */
	cr_expect_eq(n, 4 + 7 + 2 + 1 + 1 + 3 + 2 + 1 + 1 + 1 + 1 + 1 + 24);
}

/* ------------------------------------------------------------------------ */
/* Hardening: bounded values, depth, files that are not files.              */

Test(hardening, physical_ranges)
{
	static const struct edit_case cases[] = {
	        /* 1e308 used to load and overflow the solver's fleet means. */
	        {"      energy_to_work: 0.05\n", "      energy_to_work: 1e308\n",
	         NAME ":34:23: nodes[0].esg.energy_to_work: expected a number in [1e-06, 1000000], "
	              "found \"1e308\""},
	        {"      energy_to_work: 0.05\n", "      energy_to_work: 1e-300\n",
	         NAME ":34:23: nodes[0].esg.energy_to_work: expected a number in [1e-06, 1000000], "
	              "found \"1e-300\""},
	        {"      energy_to_work: 0.05\n", "      energy_to_work: 1e6\n", LOADS},
	        {"    price: 1.0\n", "    price: 1e-300\n",
	         NAME ":29:12: nodes[0].price: expected a number in [1e-06, 1000000], found "
	              "\"1e-300\""},
	        {"    capacity: 20\n", "    capacity: 1e-9\n",
	         NAME ":26:15: nodes[0].capacity: expected a number in [0.001, 1000000000], found "
	              "\"1e-9\""},
	        {"    capacity: 20\n", "    capacity: 0.001\n", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
	static const struct doc_case docs[] = {
	        {"policy:\n  esg_multiplier: {max: 1e300}\n",
	         NAME ":2:25: policy.esg_multiplier.max: expected a number in [1, 10], found "
	              "\"1e300\""},
	        {"policy:\n  tiers:\n    4: {factor: 1e300}\n",
	         NAME ":3:17: policy.tiers.4.factor: expected a number in [1, 1000], found "
	              "\"1e300\""},
	        {"policy:\n  tiers:\n    4: {factor: 1000}\n", LOADS},
	};
	run_docs(docs, ARRAY_SIZE(docs));
}

Test(hardening, subnormal_says_what_is_wrong)
{
	/* 1e-310 is inside [0, 1]: quoting the range was misleading. */
	static const struct edit_case cases[] = {
	        {"    reputation: 0.9\n", "    reputation: 1e-310\n",
	         NAME ":30:17: nodes[0].reputation: expected a number in [0, 1], found "
	              "\"1e-310\", too close to 0 for a double (below 2.22507e-308 in "
	              "magnitude); write 0 if 0 is meant"},
	        {"    reputation: 0.9\n", "    reputation: 0e-400\n", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

Test(hardening, null_is_not_a_string)
{
	static const struct edit_case cases[] = {
	        {"    operator: op-a\n", "    operator: null\n",
	         NAME ":20:15: nodes[0].operator: expected a non-empty string of at most 47 bytes, "
	              "found \"null\""},
	        {"    operator: op-a\n", "    operator: ~\n",
	         NAME ":20:15: nodes[0].operator: expected a non-empty string of at most 47 bytes, "
	              "found \"~\""},
	        {"    operator: op-a\n", "    operator: \"null\"\n", LOADS},
	};
	run_edits(world, cases, ARRAY_SIZE(cases));
}

/* "[" depth times, then "]" depth times; the caller frees. */
static char *nested(size_t depth)
{
	char *text = malloc(2 * depth + 2);
	cr_assert_not_null(text);
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\n';
	text[2 * depth + 1] = '\0';
	return text;
}

/* 100 000 levels used to take minutes in libyaml (quadratic in the depth). */
Test(hardening, nesting_depth_bounded, .timeout = 20)
{
	char *deep = nested(100000);
	cr_expect_str_eq(load_err(deep), NAME ":1:33: (top level): expected mappings and "
	                                      "sequences nested at most 32 deep, found deeper");
	free(deep);
	char *text = malloc(64 + 5 * 40000);
	cr_assert_not_null(text);
	size_t n = (size_t)sprintf(text, "policy: ");
	for (unsigned i = 0; i < 40000; i++)
		n += (size_t)sprintf(text + n, "{a: ");
	for (unsigned i = 0; i < 40000; i++)
		text[n++] = '}';
	text[n] = '\0';
	cr_expect_str_eq(load_err(text), NAME ":1:133: (top level): expected mappings and "
	                                      "sequences nested at most 32 deep, found deeper");
	free(text);
	char *ok = nested(32); /* the bound itself: refused by the schema, not the depth */
	cr_expect_str_eq(load_err(ok),
	                 NAME ":1:1: (top level): expected a mapping, found a sequence");
	free(ok);
	struct faii_config *cfg = load_ok(world);
	char err[FAII_CFG_ERR_LEN];
	struct faii_cfg_node node;
	char *deep_node = nested(1000);
	cr_expect_eq(faii_config_parse_node(cfg, deep_node, &node, err), -1);
	cr_expect_str_eq(err, "node:1:33: (top level): expected mappings and sequences nested "
	                      "at most 32 deep, found deeper");
	free(deep_node);
	faii_config_free(cfg);
}

/* A FIFO used to block faiid in open() until a writer came. */
Test(hardening, fifo_refused_at_once, .timeout = 10)
{
	char path[] = "/tmp/faii_test_fifo_XXXXXX";
	cr_assert_not_null(mkdtemp(path));
	char fifo[64];
	snprintf(fifo, sizeof(fifo), "%s/config.yaml", path);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	char err[FAII_CFG_ERR_LEN], expected[FAII_CFG_ERR_LEN];
	struct faii_config *c = (struct faii_config *)1;
	cr_expect_eq(faii_config_load(fifo, &c, err), -1);
	cr_expect_null(c);
	snprintf(expected, sizeof(expected),
	         "%s: expected a regular file of at most 16777216 bytes, found a FIFO", fifo);
	cr_expect_str_eq(err, expected);
	unlink(fifo);
	rmdir(path);
}

/* node.add parses with the same schema. */
Test(hardening, parse_node_ranges)
{
	struct faii_config *cfg = load_ok(world);
	char err[FAII_CFG_ERR_LEN];
	struct faii_cfg_node node;
	static const char text[] =
	        "{\"id\": 77, \"class\": \"S\", \"operator\": \"op-a\", \"asn\": 1, \"country\": "
	        "\"CH\", \"region\": \"zurich\", \"location\": [47, 8], \"address\": "
	        "\"192.0.2.1:7410\", \"capacity\": 10, \"eligibility\": [\"all\"], \"price\": 1, "
	        "\"esg\": {\"mix\": {\"wind\": 1}, \"pue\": 1.1, \"energy_to_work\": 1e+308, "
	        "\"grid_stress\": 0}, \"public_key\": \"" KEY8("77777777") "\"}";
	cr_expect_eq(faii_config_parse_node(cfg, text, &node, err), -1);
	cr_expect_str_eq(err, "node:1:253: node.esg.energy_to_work: expected a number in [1e-06, "
	                      "1000000], found \"1e+308\"");
	faii_config_free(cfg);
}

Test(settlement, defaults_and_overrides)
{
	struct faii_config *c = load_ok("{}");
	cr_expect_eq(c->appliance.settlement.epoch_s, 60);
	cr_expect_eq(c->appliance.settlement.activation_delay_s, 120);
	cr_expect_eq(c->appliance.settlement.nodes_max, 16384);
	cr_expect_eq(c->appliance.settlement.payout_cap_tokens[4], 1e6);
	faii_config_free(c);
	c = load_ok("settlement:\n"
	            "  epoch_s: 10\n"
	            "  activation_delay_s: 0\n"
	            "  nodes_max: 64\n"
	            "  penalty_tokens: 0.5\n"
	            "  payout_cap_tokens: {xl: 40000, micro: 10}\n");
	cr_expect_eq(c->appliance.settlement.epoch_s, 10);
	cr_expect_eq(c->appliance.settlement.activation_delay_s, 0);
	cr_expect_eq(c->appliance.settlement.nodes_max, 64);
	cr_expect_eq(c->appliance.settlement.penalty_tokens, 0.5);
	cr_expect_eq(c->appliance.settlement.payout_cap_tokens[0], 10);
	cr_expect_eq(c->appliance.settlement.payout_cap_tokens[2], 1e6); /* kept */
	cr_expect_eq(c->appliance.settlement.payout_cap_tokens[4], 40000);
	faii_config_free(c);
}

Test(settlement, out_of_range_and_unknown_keys_are_refused)
{
	cr_expect(strstr(load_err("settlement: {epoch_s: 0}\n"), "settlement.epoch_s") != NULL);
	cr_expect(strstr(load_err("settlement: {nodes_max: 0}\n"), "nodes_max") != NULL);
	cr_expect(strstr(load_err("settlement: {payout_cap_tokens: {xxl: 1}}\n"), "xxl") != NULL);
	cr_expect(strstr(load_err("settlement: {penalty_tokens: -1}\n"), "penalty_tokens") != NULL);
}
