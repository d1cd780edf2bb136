/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faiictl's parts shared between its files: the argument helpers of
 * faiictl.c and the request builders of faiictl_settle.c (settlement's
 * commands: gov, calibrate, slash, reputation, carbon).
 *
 * A builder turns the words after the command into the request's args
 * (NULL: none), or exits with status 2 through die_cmd_usage().
 */
#ifndef FAIICTL_H
#define FAIICTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* faiictl.c */
void die_cmd_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
bool parse_u64(const char *s, uint64_t max, uint64_t *out);
/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value, else NULL. */
const char *take_opt(int argc, char **argv, int *i, const char *name);
/* A file (- for stdin) of at most max bytes, NUL-terminated; exits 2 on error. */
char *read_file_bounded(const char *path, size_t max, size_t *len);
/* Sends the request as protocol command `name` instead of the table's
 * (calibrate --submit sends calibrate.submit). */
void send_as(const char *name);

/* faiictl_settle.c */
json_t *build_gov_list(int argc, char **argv, const char *cmd);
json_t *build_one_id(int argc, char **argv, const char *cmd);
json_t *build_gov_params(int argc, char **argv, const char *cmd);
json_t *build_gov_propose(int argc, char **argv, const char *cmd);
json_t *build_gov_vote(int argc, char **argv, const char *cmd);
json_t *build_calibrate(int argc, char **argv, const char *cmd);
json_t *build_slash_list(int argc, char **argv, const char *cmd);
json_t *build_slash_nodes(int argc, char **argv, const char *cmd);
json_t *build_slash_vote(int argc, char **argv, const char *cmd);
json_t *build_reputation_list(int argc, char **argv, const char *cmd);
json_t *build_reputation_show(int argc, char **argv, const char *cmd);
json_t *build_carbon_balances(int argc, char **argv, const char *cmd);
json_t *build_carbon_certificates(int argc, char **argv, const char *cmd);
json_t *build_carbon_retirements(int argc, char **argv, const char *cmd);

#endif /* FAIICTL_H */
