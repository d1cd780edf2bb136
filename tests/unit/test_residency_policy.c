/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The residency policy of a configuration (control/residency_policy.c), the
 * one object every judge enforces: which nodes, which classes, which ports.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "faii/config.h"
#include "faii/residency_policy.h"

static const char head[] = "appliance:\n"
                           "  udp_port: 7499\n"
                           "jurisdictions:\n"
                           "  - {country: CH, bloc: EFTA}\n"
                           "  - {country: DE, bloc: EU}\n"
                           "  - {country: US}\n"
                           "regions:\n"
                           "  - {id: 1, name: lab, lat: 47, lon: 8}\n"
                           "residency_classes:\n"
                           "  - {id: 1, name: any, allow: [any]}\n"
                           "  - {id: 2, name: CH-only, allow: [CH]}\n"
                           "  - {id: 40, name: EU, allow: [EU]}\n"
                           "nodes:\n";

/* Nodes 14, 12, 13, 11 (not in id order), 13 on 11's port. */
static const struct {
	unsigned id;
	const char *country;
	unsigned port;
} fleet[] = {{14, "CH", 9000}, {12, "DE", 7412}, {13, "US", 7411}, {11, "CH", 7411}};

static struct faii_config *load(void)
{
	char buf[8192];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "%s", head);
	for (size_t i = 0; i < sizeof(fleet) / sizeof(fleet[0]); i++)
		len += (size_t)snprintf(
		        buf + len, sizeof(buf) - len,
		        "  - id: %u\n"
		        "    class: S\n"
		        "    operator: op-%u\n"
		        "    asn: 64512\n"
		        "    country: %s\n"
		        "    region: lab\n"
		        "    location: [47.0, 8.0]\n"
		        "    address: \"198.18.1.%u:%u\"\n"
		        "    capacity: 10\n"
		        "    eligibility: [all]\n"
		        "    price: 1\n"
		        "    esg: {mix: {hydro: 1}, pue: 1.1, energy_to_work: 0.02, "
		        "grid_stress: 0.1}\n"
		        "    public_key: %064x\n",
		        fleet[i].id, fleet[i].id, fleet[i].country, fleet[i].id, fleet[i].port,
		        fleet[i].id);
	cr_assert_lt(len, sizeof(buf));
	struct faii_config *cfg = NULL;
	char err[FAII_CFG_ERR_LEN] = "";
	cr_assert_eq(faii_config_load_string("policy.yaml", buf, len, &cfg, err), 0, "%s", err);
	return cfg;
}

static struct faii_res_policy policy; /* about 1 MiB */

Test(residency_policy, nodes_classes_and_ports_of_a_configuration)
{
	struct faii_config *cfg = load();
	cfg->nodes[0].status = FAII_NODE_REMOVED; /* node 14, as node.remove leaves it */
	char err[FAII_CFG_ERR_LEN] = "";
	cr_assert_eq(faii_res_policy_from_config(cfg, &policy, err), 0, "%s", err);

	/* Nodes: the ones not removed, sorted by id, with their jurisdiction. */
	cr_assert_eq(policy.node_count, 3);
	static const struct faii_res_policy_node want[] = {{11, 0}, {12, 1}, {13, 2}};
	for (unsigned i = 0; i < 3; i++) {
		cr_expect_eq(policy.nodes[i].node_id, want[i].node_id, "node %u", i);
		cr_expect_eq(policy.nodes[i].jurisdiction, want[i].jurisdiction, "node %u", i);
	}
	/* Classes: by id; the others do not exist. */
	for (unsigned id = 0; id < FAII_RES_CLASSES_MAX; id++) {
		bool defined = id == 1 || id == 2 || id == 40;
		cr_expect_eq(policy.classes[id].defined != 0, defined, "class %u", id);
	}
	cr_expect_eq(policy.classes[1].allowed, 0x7u);
	cr_expect_eq(policy.classes[2].allowed, 0x1u);
	cr_expect_eq(policy.classes[40].allowed, 0x2u);
	/* Ports: every node's, the removed one's included, each once; not the
	 * appliance's own (the program's load-time constant). */
	cr_expect_eq(policy.port_count, 3);
	cr_expect(faii_res_ports_has(policy.ports, 7411));
	cr_expect(faii_res_ports_has(policy.ports, 7412));
	cr_expect(faii_res_ports_has(policy.ports, 9000), "a removed node's port stays faii");
	cr_expect(!faii_res_ports_has(policy.ports, 7499));
	cr_expect(!faii_res_ports_has(policy.ports, 7410));
	cr_expect(!faii_res_ports_has(policy.ports, 7413));
	unsigned bits = 0;
	for (unsigned w = 0; w < FAII_RES_PORT_WORDS; w++)
		bits += (unsigned)__builtin_popcountll(policy.ports[w]);
	cr_expect_eq(bits, 3);
	faii_config_free(cfg);
}

/* A file may name a node twice (the registry refuses it): so does the builder. */
Test(residency_policy, a_node_id_twice_is_refused)
{
	struct faii_config *cfg = load();
	cfg->nodes[2].id = cfg->nodes[1].id;
	char err[FAII_CFG_ERR_LEN] = "";
	cr_assert_eq(faii_res_policy_from_config(cfg, &policy, err), -1);
	cr_expect_not_null(strstr(err, "node id 12 appears twice"), "%s", err);
	faii_config_free(cfg);
}

/* Built again from scratch: nothing of the previous policy is left. */
Test(residency_policy, rebuilt_from_scratch)
{
	struct faii_config *cfg = load();
	char err[FAII_CFG_ERR_LEN] = "";
	cr_assert_eq(faii_res_policy_from_config(cfg, &policy, err), 0, "%s", err);
	cr_assert_eq(policy.node_count, 4);
	cfg->node_count = 1; /* node 14 alone */
	cfg->residency_class_count = 1;
	cr_assert_eq(faii_res_policy_from_config(cfg, &policy, err), 0, "%s", err);
	cr_expect_eq(policy.node_count, 1);
	cr_expect_eq(policy.nodes[0].node_id, 14);
	cr_expect_eq(policy.port_count, 1);
	cr_expect(!faii_res_ports_has(policy.ports, 7411));
	cr_expect(policy.classes[1].defined && !policy.classes[2].defined);
	faii_config_free(cfg);
}
