/* log: formats and writes the agent's and the coordinator's own log lines.
 * It never blocks on anything but one write(2), and never allocates on the heap in text mode. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_FIELDS_MAX 32

static log_level_t s_level = LL_INFO;
static log_format_t s_format = LOG_FORMAT_TEXT;
static int s_fd = STDERR_FILENO;

static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t level)
{
    s_level = level;
}

void log_set_format(log_format_t format)
{
    s_format = format;
}

void log_set_fd(int fd)
{
    s_fd = fd;
}

log_level_t log_get_level(void)
{
    return s_level;
}

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i <= LL_ERROR; i++) {
        if (strcasecmp(s, s_level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_parse_format(const char *s, log_format_t *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

/* RFC 3339 UTC time with milliseconds. */
static void s_timestamp(char *buf, size_t size)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char head[32];
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03ldZ", head, (long)(tv.tv_usec / 1000));
}

/* A value needs quotes when a reader splitting on spaces and '=' would misread it. */
static bool s_needs_quotes(const char *v)
{
    if (*v == '\0')
        return true;
    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20)
            return true;
    }
    return false;
}

/* Appends to buf at *len, never past size; *len may exceed size to report truncation. */
static void s_append(char *buf, int size, int *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_append(char *buf, int size, int *len, const char *fmt, ...)
{
    int room = *len < size ? size - *len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room > 0 ? buf + *len : NULL, (size_t)room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += n;
}

static void s_append_quoted(char *buf, int size, int *len, const char *v)
{
    s_append(buf, size, len, "\"");
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            s_append(buf, size, len, "\\%c", c);
        else if (c == '\n')
            s_append(buf, size, len, "\\n");
        else if (c < 0x20)
            s_append(buf, size, len, "\\x%02x", c);
        else
            s_append(buf, size, len, "%c", c);
    }
    s_append(buf, size, len, "\"");
}

static int s_format_text(char *buf, int size, log_level_t level, const char *component,
                         const char *msg, const log_field_t *fields, int nfields)
{
    char ts[40];
    s_timestamp(ts, sizeof ts);
    int len = 0;
    s_append(buf, size, &len, "%s %s %s %s", s_level_names[level], ts, component, msg);
    for (int i = 0; i < nfields; i++) {
        const log_field_t *f = &fields[i];
        s_append(buf, size, &len, " %s=", f->key);
        if (f->kind == LF_KIND_INT)
            s_append(buf, size, &len, "%lld", f->i);
        else if (f->kind == LF_KIND_BOOL)
            s_append(buf, size, &len, "%s", f->i ? "true" : "false");
        else if (f->s == NULL)
            s_append(buf, size, &len, "\"\"");
        else if (s_needs_quotes(f->s))
            s_append_quoted(buf, size, &len, f->s);
        else
            s_append(buf, size, &len, "%s", f->s);
    }
    s_append(buf, size, &len, "\n");
    return len;
}

static int s_format_json(char *buf, int size, log_level_t level, const char *component,
                         const char *msg, const log_field_t *fields, int nfields)
{
    char ts[40];
    s_timestamp(ts, sizeof ts);
    json_t *obj = json_object();
    if (obj == NULL)
        return snprintf(buf, (size_t)size, "{\"level\":\"error\",\"msg\":\"out of memory\"}\n");
    json_object_set_new(obj, "level", json_string(s_level_names[level]));
    json_object_set_new(obj, "time", json_string(ts));
    json_object_set_new(obj, "component", json_string(component));
    json_object_set_new(obj, "msg", json_string(msg));
    for (int i = 0; i < nfields; i++) {
        const log_field_t *f = &fields[i];
        json_t *v;
        if (f->kind == LF_KIND_INT)
            v = json_integer(f->i);
        else if (f->kind == LF_KIND_BOOL)
            v = json_boolean(f->i);
        else
            v = json_string(f->s ? f->s : "");
        /* json_string refuses invalid UTF-8; keep the key with a marker rather than drop it */
        json_object_set_new(obj, f->key, v ? v : json_string("<invalid utf-8>"));
    }
    int len = 0;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL)
        return snprintf(buf, (size_t)size,
                        "{\"level\":\"error\",\"msg\":\"log encoding failed\"}\n");
    s_append(buf, size, &len, "%s\n", text);
    free(text);
    return len;
}

int log_format_line(char *buf, int size, log_format_t format, log_level_t level,
                    const char *component, const char *msg, const log_field_t *fields, int nfields)
{
    if (format == LOG_FORMAT_JSON)
        return s_format_json(buf, size, level, component, msg, fields, nfields);
    return s_format_text(buf, size, level, component, msg, fields, nfields);
}

void log_emit(log_level_t level, const char *component, const char *msg, ...)
{
    if (level < s_level)
        return;
    log_field_t fields[LOG_FIELDS_MAX];
    int nfields = 0;
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        log_field_t f = va_arg(ap, log_field_t);
        if (f.kind == LF_KIND_END || nfields == LOG_FIELDS_MAX)
            break;
        fields[nfields++] = f;
    }
    va_end(ap);

    char line[LOG_LINE_MAX];
    int len = log_format_line(line, sizeof line, s_format, level, component, msg, fields, nfields);
    if (len >= (int)sizeof line) {
        /* truncated: keep the line a line */
        len = sizeof line - 1;
        line[len - 1] = '\n';
    }
    ssize_t off = 0;
    while (off < len) {
        ssize_t n = write(s_fd, line + off, (size_t)(len - off));
        if (n <= 0)
            break;
        off += n;
    }
}
