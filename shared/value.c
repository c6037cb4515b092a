/* value: strict parsing of configuration values.
 * No locale, no strtol leniency: a value is either exactly right or an error. */
#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DURATION_HELP "a whole number with a unit: ms, s, m or h (e.g. 300ms, 5s, 2m)"

/* Parses an unsigned decimal prefix; returns the number of digits read (0 if none, -1 on
 * overflow). */
static int s_parse_digits(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (isdigit((unsigned char)text[n])) {
        unsigned d = (unsigned)(text[n] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

static void s_format_range(uint64_t min_ms, uint64_t max_ms, char *buf, size_t size)
{
    char lo[32], hi[32];
    value_format_duration(min_ms, lo, sizeof lo);
    value_format_duration(max_ms, hi, sizeof hi);
    snprintf(buf, size, "between %s and %s", lo, hi);
}

int value_parse_duration(const char *name, const char *text, uint64_t min_ms, uint64_t max_ms,
                         uint64_t *out_ms, wv_err_t *err)
{
    uint64_t n;
    int digits = s_parse_digits(text, &n);
    if (digits < 0)
        return err_set(err, "%s=\"%s\": number too large; use %s", name, text, DURATION_HELP);
    if (digits == 0)
        return err_set(err, "%s=\"%s\": not a duration; use %s", name, text, DURATION_HELP);
    const char *unit = text + digits;
    uint64_t factor;
    if (*unit == '\0' && n == 0)
        factor = 1;
    else if (strcmp(unit, "ms") == 0)
        factor = 1;
    else if (strcmp(unit, "s") == 0)
        factor = 1000;
    else if (strcmp(unit, "m") == 0)
        factor = 60 * 1000;
    else if (strcmp(unit, "h") == 0)
        factor = 3600 * 1000;
    else if (*unit == '\0')
        return err_set(err, "%s=\"%s\": a duration needs a unit; use %s", name, text,
                       DURATION_HELP);
    else
        return err_set(err, "%s=\"%s\": unknown unit \"%s\"; use %s", name, text, unit,
                       DURATION_HELP);
    if (n > UINT64_MAX / factor)
        return err_set(err, "%s=\"%s\": number too large; use %s", name, text, DURATION_HELP);
    uint64_t ms = n * factor;
    if (ms < min_ms || ms > max_ms) {
        char range[80];
        s_format_range(min_ms, max_ms, range, sizeof range);
        return err_set(err, "%s=\"%s\": out of range; use a duration %s", name, text, range);
    }
    *out_ms = ms;
    return 0;
}

int value_parse_bool(const char *name, const char *text, bool *out, wv_err_t *err)
{
    if (strcasecmp(text, "true") == 0)
        *out = true;
    else if (strcasecmp(text, "false") == 0)
        *out = false;
    else
        return err_set(err, "%s=\"%s\": not a boolean; use true or false", name, text);
    return 0;
}

int value_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out,
                    wv_err_t *err)
{
    const char *p = text;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    uint64_t n;
    int digits = s_parse_digits(p, &n);
    if (digits <= 0 || p[digits] != '\0' || (digits > 1 && p[0] == '0'))
        return err_set(err, "%s=\"%s\": not a whole number; use an integer from %lld to %lld", name,
                       text, (long long)min, (long long)max);
    /* a minus sign reaches one further than a plus: INT64_MIN has no positive twin */
    if (n > (uint64_t)INT64_MAX + (negative ? 1 : 0))
        return err_set(err, "%s=\"%s\": out of range; use an integer from %lld to %lld", name, text,
                       (long long)min, (long long)max);
    int64_t v = !negative ? (int64_t)n : n > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)n;
    if (v < min || v > max)
        return err_set(err, "%s=\"%s\": out of range; use an integer from %lld to %lld", name, text,
                       (long long)min, (long long)max);
    *out = v;
    return 0;
}

int value_parse_abs_path(const char *name, const char *text, wv_err_t *err)
{
    if (text[0] != '/')
        return err_set(err, "%s=\"%s\": not an absolute path; give a path starting with /", name,
                       text);
    if (strlen(text) >= PATH_MAX)
        return err_set(err, "%s: path longer than %d bytes", name, PATH_MAX - 1);
    return 0;
}

int value_parse_host_port(const char *name, const char *text, wv_err_t *err)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return err_set(err, "%s=\"%s\": not host:port; use e.g. localhost:8545 or 127.0.0.1:8545",
                       name, text);
    /* ':' '[' ']' belong to a bracketed IPv6 literal only: "::1:8545" has no clear port */
    bool bracketed = text[0] == '[';
    if (bracketed ? colon[-1] != ']' || colon - text < 3
                  : memchr(text, ':', (size_t)(colon - text)) != NULL)
        return err_set(err, "%s=\"%s\": an IPv6 address goes in brackets, e.g. [::1]:8545", name,
                       text);
    for (const char *p = text; p < colon; p++) {
        unsigned char c = (unsigned char)*p;
        bool ipv6_part = bracketed && ((p == text && c == '[') || (p == colon - 1 && c == ']') ||
                                       (p > text && p < colon - 1 && c == ':'));
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || ipv6_part))
            return err_set(err, "%s=\"%s\": invalid character in host; use e.g. localhost:8545",
                           name, text);
    }
    int64_t port;
    wv_err_t sub;
    if (value_parse_int(name, colon + 1, 1, 65535, &port, &sub) != 0)
        return err_set(err, "%s=\"%s\": port must be a number from 1 to 65535", name, text);
    return 0;
}

#define ENDPOINT_HELP "use tcp://host:port (tcp://*:port to bind every interface) or ipc:///path"

int value_parse_endpoint(const char *name, const char *text, wv_err_t *err)
{
    if (strncmp(text, "ipc://", 6) == 0) {
        if (text[6] != '/' || strlen(text) >= PATH_MAX)
            return err_set(err, "%s=\"%s\": an ipc endpoint needs an absolute path; " ENDPOINT_HELP,
                           name, text);
        return 0;
    }
    if (strncmp(text, "tcp://", 6) != 0)
        return err_set(err, "%s=\"%s\": not a ZeroMQ endpoint; " ENDPOINT_HELP, name, text);
    const char *hp = text + 6;
    if (strncmp(hp, "*:", 2) == 0) {
        int64_t port;
        wv_err_t sub;
        if (value_parse_int(name, hp + 2, 1, 65535, &port, &sub) != 0)
            return err_set(err, "%s=\"%s\": port must be a number from 1 to 65535", name, text);
        return 0;
    }
    wv_err_t sub;
    if (value_parse_host_port(name, hp, &sub) != 0)
        return err_set(err, "%s=\"%s\": bad host or port; " ENDPOINT_HELP, name, text);
    return 0;
}

int value_parse_list(const char *name, const char *text, size_t max_items,
                     int (*check)(const char *name, const char *item, wv_err_t *err), wv_err_t *err)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        char item[PATH_MAX];
        if (len == 0)
            return err_set(err,
                           "%s: an empty item in the list \"%s\"; separate items with one "
                           "comma, no spaces",
                           name, text);
        if (len >= sizeof item)
            return err_set(err, "%s: an item of the list is too long (%zu bytes)", name, len);
        memcpy(item, p, len);
        item[len] = '\0';
        if (++count > max_items)
            return err_set(err, "%s: more than %zu items", name, max_items);
        if (check(name, item, err) != 0)
            return -1;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

int value_parse_pubkey(const char *name, const char *text, wv_err_t *err)
{
    if (strlen(text) != 64 || strspn(text, "0123456789abcdefABCDEF") != 64)
        return err_set(err,
                       "%s: \"%s\" is not a public key; a key is 64 hex digits, as "
                       "`wemixvisor id` prints it",
                       name, text);
    return 0;
}

#define SIZE_HELP "a whole number of bytes, or with a unit: KiB, MiB or GiB (e.g. 100MiB)"

int value_parse_size(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *out,
                     wv_err_t *err)
{
    static const struct {
        const char *unit;
        uint64_t factor;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1ULL << 10},
                 {"KB", 1ULL << 10},
                 {"MiB", 1ULL << 20},
                 {"MB", 1ULL << 20},
                 {"GiB", 1ULL << 30},
                 {"GB", 1ULL << 30}};
    uint64_t n;
    int digits = s_parse_digits(text, &n);
    if (digits < 0)
        return err_set(err, "%s=\"%s\": number too large; use %s", name, text, SIZE_HELP);
    if (digits == 0)
        return err_set(err, "%s=\"%s\": not a size; use %s", name, text, SIZE_HELP);
    const char *unit = text + digits;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].unit) != 0)
            continue;
        if (n > UINT64_MAX / units[i].factor || n * units[i].factor < min ||
            n * units[i].factor > max) {
            char lo[32], hi[32];
            value_format_size(min, lo, sizeof lo);
            value_format_size(max, hi, sizeof hi);
            return err_set(err, "%s=\"%s\": out of range; use a size between %s and %s", name, text,
                           lo, hi);
        }
        *out = n * units[i].factor;
        return 0;
    }
    return err_set(err, "%s=\"%s\": unknown unit \"%s\"; use %s", name, text, unit, SIZE_HELP);
}

void value_format_size(uint64_t bytes, char *buf, size_t size)
{
    if (bytes != 0 && bytes % (1ULL << 30) == 0)
        snprintf(buf, size, "%lluGiB", (unsigned long long)(bytes >> 30));
    else if (bytes != 0 && bytes % (1ULL << 20) == 0)
        snprintf(buf, size, "%lluMiB", (unsigned long long)(bytes >> 20));
    else if (bytes != 0 && bytes % (1ULL << 10) == 0)
        snprintf(buf, size, "%lluKiB", (unsigned long long)(bytes >> 10));
    else
        snprintf(buf, size, "%llu", (unsigned long long)bytes);
}

void value_format_duration(uint64_t ms, char *buf, size_t size)
{
    if (ms == 0)
        snprintf(buf, size, "0s");
    else if (ms % (3600 * 1000) == 0)
        snprintf(buf, size, "%lluh", (unsigned long long)(ms / (3600 * 1000)));
    else if (ms % (60 * 1000) == 0)
        snprintf(buf, size, "%llum", (unsigned long long)(ms / (60 * 1000)));
    else if (ms % 1000 == 0)
        snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, size, "%llums", (unsigned long long)ms);
}
