/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One valid message of each type, for the tests, tools, benchmarks and
 * simulators that need "some valid TASK" rather than particular values. Every
 * value is fixed, so the bytes are the same on every run: the fuzz seed
 * corpus is made from these samples and must not change with them.
 *
 * Vary a sample by changing fields of the returned struct before encoding
 * it. Tests that assert particular values keep their own messages, next to
 * the assertions. The samples are a library of their own (faii_samples), not
 * part of faii_common, so that faiid never links them.
 *
 * TASK and RESULT samples are protocol version 2, authenticated as the
 * demonstration (configs/demo.yaml) expects: MAC'd under the demo keys of
 * epoch FAII_SAMPLE_KEY_EPOCH (include/faii/demo.h), a TASK under its
 * client's key, a RESULT under its node's RESULT key.
 *
 * Error convention: the encoder returns the bytes written, 0 when the
 * buffer is too small.
 */
#ifndef FAII_SAMPLES_H
#define FAII_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/frame.h"
#include "faii/protocol.h"

/* The time of the samples, Unix epoch nanoseconds. */
#define FAII_SAMPLE_TS_NS 1795000000000000000ull

/* The key epoch of the samples' MACs (the demo keys' epoch) and the
 * dispatch nonce the sample RESULT echoes. */
#define FAII_SAMPLE_KEY_EPOCH 1u
#define FAII_SAMPLE_NONCE     0x5A17E5D15BA7C4E5ull

/* Writes the samples' payload: byte i is (uint8_t)(i * 7 + 3). */
void faii_sample_payload(void *buf, size_t len);

/* A client's TASK: edge inference, eventual, no dispatch fields, 64 payload bytes. */
struct faii_task faii_sample_task(void);
/* A node's RESULT of that task, dispatched 150 us after submission: status OK, 32 payload bytes. */
struct faii_result faii_sample_result(void);
struct faii_heartbeat faii_sample_heartbeat(void);
struct faii_attest faii_sample_attest(void);
/* An IPv4 REGISTER; the public key is zero: set it to the key that signs. */
struct faii_register faii_sample_register(void);

/*
 * A client's frame to the appliance: 192.0.2.10 -> 192.0.2.1, or 2001:db8::a
 * -> 2001:db8::1 (documentation ranges), locally administered MACs, UDP
 * 40000 -> FAII_UDP_PORT_DEFAULT, IPv4 identification 0x1234. Untagged; set
 * vlan for a tag of VLAN 100.
 */
struct faii_frame_spec faii_sample_frame_spec(bool ipv6);

/*
 * Gives an untagged IPv4 frame of len bytes (as faii_frame_build() makes
 * them) FAII_SAMPLE_IPV4_OPTIONS_LEN bytes of IPv4 options, as a host's
 * stack may send them: Router Alert, three NOPs, end of list. The IHL, total
 * length and header checksum follow; the UDP checksum, which does not cover
 * the IP header, stays right. Returns the new length, 0 when cap is too
 * small or the frame is not untagged IPv4 without options.
 */
#define FAII_SAMPLE_IPV4_OPTIONS_LEN 8u
size_t faii_sample_add_ipv4_options(uint8_t *frame, size_t len, size_t cap);

/*
 * The version 2 block of a sample: a TASK's is a client's (zero dispatch
 * token), a RESULT's echoes FAII_SAMPLE_NONCE (8 bytes, big-endian); key
 * epoch FAII_SAMPLE_KEY_EPOCH, MAC zero.
 */
struct faii_auth_block faii_sample_auth(uint8_t type);

/*
 * Version 2 TASK under the demo key of t->client_id, and RESULT (with auth:
 * the token of the copy it answers; its key_epoch names the appliance key)
 * under the RESULT key of node r->node_id's demo key pair and the demo
 * appliance key of that epoch. payload holds payload_len bytes. Returns the
 * length, or 0 when cap is too small.
 */
size_t faii_sample_encode_task(void *buf, size_t cap, const struct faii_task *t,
                               const void *payload);
size_t faii_sample_encode_result(void *buf, size_t cap, const struct faii_result *r,
                                 const struct faii_auth_block *auth, const void *payload);

/*
 * Encodes the sample of type (with the sample payload for TASK and RESULT,
 * version 2 and MAC'd as above) into buf; returns its length, or 0 for an
 * unknown type or a cap too small. Signed types are left unsigned:
 * faii_msg_sign() signs them.
 */
size_t faii_sample_encode(uint8_t type, void *buf, size_t cap);

#endif /* FAII_SAMPLES_H */
