/* value: parsers for the values an operator writes in the environment or a config file.
 * Each refuses anything but what it documents, with a message naming the variable, the value and
 * what is allowed. It knows nothing about which variables exist (that is config.c). */
#ifndef WV_VALUE_H
#define WV_VALUE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "300ms", "5s", "2m", "1h" or "0"; the result in milliseconds must lie in [min_ms, max_ms]. */
int value_parse_duration(const char *name, const char *text, uint64_t min_ms, uint64_t max_ms,
                         uint64_t *out_ms, wv_err_t *err);

/* "true" or "false", any case. */
int value_parse_bool(const char *name, const char *text, bool *out, wv_err_t *err);

/* A decimal integer in [min, max], no sign tricks, no trailing garbage. */
int value_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out,
                    wv_err_t *err);

/* An absolute path without NUL-free tricks: starts with '/', at most PATH_MAX bytes. */
int value_parse_abs_path(const char *name, const char *text, wv_err_t *err);

/* host:port with a port in 1..65535 (host may be a name, an IPv4 or a [IPv6] literal). */
int value_parse_host_port(const char *name, const char *text, wv_err_t *err);

/* A ZeroMQ endpoint: tcp://host:port (host as value_parse_host_port, or * to bind every
 * interface) or ipc:///absolute/path. */
int value_parse_endpoint(const char *name, const char *text, wv_err_t *err);

/* A comma-separated list (no empty items, at most max_items) whose every item passes check;
 * the error names the item. */
int value_parse_list(const char *name, const char *text, size_t max_items,
                     int (*check)(const char *name, const char *item, wv_err_t *err),
                     wv_err_t *err);

/* 64 hex digits: an agent's public key as `wemixvisor id` prints it. */
int value_parse_pubkey(const char *name, const char *text, wv_err_t *err);

/* A size in bytes: a whole number, alone (bytes) or with a unit B, KiB, MiB, GiB (KB, MB, GB are
 * read as the same powers of 1024); the result must lie in [min, max]. */
int value_parse_size(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *out,
                     wv_err_t *err);
void value_format_size(uint64_t bytes, char *buf, size_t size);

/* Writes a duration the way value_parse_duration reads it, in the largest exact unit. */
void value_format_duration(uint64_t ms, char *buf, size_t size);

#endif
