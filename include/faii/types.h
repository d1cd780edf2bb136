/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed-width integer types for headers shared with BPF programs: the BPF
 * target has no libc, so there they come from the kernel's UAPI types.
 *
 * Error convention: none (definitions only).
 */
#ifndef FAII_TYPES_H
#define FAII_TYPES_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
#else
#include <stdint.h>
#endif

#endif /* FAII_TYPES_H */
