/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The limits that tables shared between components are sized by, in one
 * place, with the relationships between them checked by the compiler (as
 * TigerBeetle's constants.zig does). A limit's name says what it counts;
 * _BYTES, _NS and _LEN say the unit where it is not a count of things.
 *
 * Limits private to one component stay in that component's header
 * (FAII_LS_* in ledger_store.h, FAII_CTL_* in ctlsock.h, the dataplane's
 * ring sizes in dataplane/dataplane.h); the ones here size structures that
 * cross a component boundary (the route set, the registry's live slots, the
 * residency maps, the configuration's lists).
 *
 * Depends on protocol.h only (the wire's own ranges).
 *
 * Error convention: none (definitions and compile-time checks).
 */
#ifndef FAII_LIMITS_H
#define FAII_LIMITS_H

#include "faii/protocol.h"

/* ---- the fleet ---- */
#define FAII_CFG_NODES_MAX         131072u /* registry slots: configured plus registered */
#define FAII_CFG_REGIONS_MAX       64u     /* origin regions with a routing table */
#define FAII_CFG_JURISDICTIONS_MAX 64u     /* a residency class is a 64-bit set */
#define FAII_CFG_OPERATORS_MAX     1024u   /* node operators (anti-concentration) */

/* ---- the consortium ---- */
#define FAII_CFG_VALIDATORS_MAX 16u /* appliances in the committee, n = 3f + 1 */

/* ---- the dataplane ---- */
#define FAII_CFG_WORKERS_MAX 16u /* worker lcores */

/* ---- routing ---- */
/* The best candidates by preference that a key's problem is solved over. */
#define FAII_ROUTE_CANDIDATES_MAX 64u
/* Index of a key's table: (region slot, category, residency class). */
#define FAII_ROUTE_KEYS_MAX                                                                        \
	(FAII_CFG_REGIONS_MAX * FAII_CATEGORY_COUNT * (FAII_RESIDENCY_CLASS_MAX + 1))

/* ---- residency maps (kernel and rte_bpf) ---- */
#define FAII_RES_NODES_MAX   FAII_CFG_NODES_MAX /* node id -> jurisdiction entries */
#define FAII_RES_CLASSES_MAX 64u                /* ids 1..FAII_RESIDENCY_CLASS_MAX */

/* ---- relationships ---- */
_Static_assert(FAII_CFG_JURISDICTIONS_MAX <= 64, "a class's allowed set is one uint64_t");
_Static_assert(FAII_RES_CLASSES_MAX == FAII_RESIDENCY_CLASS_MAX + 1,
               "the residency class map is indexed by class id");
_Static_assert(FAII_ROUTE_CANDIDATES_MAX <= 64, "candidate exclusion is a 64-bit mask");
_Static_assert(FAII_ROUTE_CANDIDATES_MAX <= 0xFFFFu, "alias indexes are uint16_t");
_Static_assert(FAII_CFG_REGIONS_MAX < 0xFFu, "region slots are uint8_t, 0xFF means none");
_Static_assert(FAII_CFG_REGIONS_MAX <= FAII_REGION_ID_MAX + 1, "a slot per region id at most");
_Static_assert(FAII_ROUTE_KEYS_MAX < 0xFFFFFFFFu, "route key indexes are uint32_t");
_Static_assert(FAII_CFG_NODES_MAX <= FAII_NODE_ID_MAX, "every slot can hold a distinct id");
_Static_assert(FAII_CFG_NODES_MAX < 0xFFFFFFFFu, "registry slots are uint32_t");
_Static_assert(FAII_CFG_VALIDATORS_MAX >= 4, "a committee tolerates at least one fault");
_Static_assert(FAII_CFG_OPERATORS_MAX <= 0xFFFFu, "operator indexes are uint16_t");
/* The residency program is the only judge: every node the registry can hold
 * must fit its node map. */
_Static_assert(FAII_RES_NODES_MAX == FAII_CFG_NODES_MAX, "the node map holds the registry");

#endif /* FAII_LIMITS_H */
