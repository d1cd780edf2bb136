/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assertions that stay on in production builds (NDEBUG does not remove
 * them), in TigerBeetle's spirit: a broken invariant is a bug, and carrying
 * on with corrupted state (a negative outstanding count, a share table that
 * does not sum to one, a gap in the ledger's sequence) does more harm than
 * stopping. The message names the file, the line, the function and the
 * expression, and goes to stderr before abort(), so systemd's journal and a
 * core dump both have it.
 *
 *   FAII_ASSERT(expr)          an invariant, precondition or postcondition
 *   FAII_ASSERT_MSG(expr, ...) the same with a printf-style explanation
 *   FAII_UNREACHABLE()         a branch that cannot be taken
 *   FAII_STATIC_ASSERT(e, m)   checked by the compiler
 *
 * Cost: one predictable branch; the failure path is cold and out of line.
 * Keep the expression free of side effects.
 *
 * Error convention: a failed assertion does not return.
 */
#ifndef FAII_ASSERT_H
#define FAII_ASSERT_H

/* Prints "file:line: function: assertion failed: expr" and aborts. */
__attribute__((noreturn, cold, format(printf, 4, 5))) void
faii_assert_fail(const char *file, int line, const char *func, const char *fmt, ...);

#define FAII_ASSERT(expr)                                                                          \
	do {                                                                                       \
		if (__builtin_expect(!(expr), 0))                                                  \
			faii_assert_fail(__FILE__, __LINE__, __func__, "%s", #expr);               \
	} while (0)

#define FAII_ASSERT_MSG(expr, ...)                                                                 \
	do {                                                                                       \
		if (__builtin_expect(!(expr), 0))                                                  \
			faii_assert_fail(__FILE__, __LINE__, __func__, __VA_ARGS__);               \
	} while (0)

#define FAII_UNREACHABLE() faii_assert_fail(__FILE__, __LINE__, __func__, "%s", "unreachable")

#define FAII_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)

#endif /* FAII_ASSERT_H */
