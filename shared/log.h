/* log: one line per event, `level time component message key=value...`, or JSON lines.
 * Not a sink for the node's own output (that is passed through or goes to DAEMON_LOG_FILE). */
#ifndef WV_LOG_H
#define WV_LOG_H

#include <stdbool.h>

typedef enum { LL_DEBUG = 0, LL_INFO, LL_WARN, LL_ERROR } log_level_t;
typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON } log_format_t;

typedef enum { LF_KIND_END = 0, LF_KIND_STR, LF_KIND_INT, LF_KIND_BOOL } log_field_kind_t;

/* One key=value pair of a log line; build them with the LF_* macros. */
typedef struct {
    const char *key;
    log_field_kind_t kind;
    const char *s;
    long long i;
} log_field_t;

#define LF_STR(k, v) ((log_field_t){.key = (k), .kind = LF_KIND_STR, .s = (v)})
#define LF_INT(k, v) ((log_field_t){.key = (k), .kind = LF_KIND_INT, .i = (long long)(v)})
#define LF_BOOL(k, v) ((log_field_t){.key = (k), .kind = LF_KIND_BOOL, .i = (v) ? 1 : 0})
#define LF_END ((log_field_t){.key = 0, .kind = LF_KIND_END})

/* Settings of the process-wide logger; defaults: info, text, stderr. */
void log_set_level(log_level_t level);
void log_set_format(log_format_t format);
/* Lines go to this file descriptor (stderr by default); each line is one write(2). */
void log_set_fd(int fd);
log_level_t log_get_level(void);

/* Parses "debug|info|warn|error" and "text|json"; 0 on success, -1 if unknown. */
int log_parse_level(const char *s, log_level_t *out);
int log_parse_format(const char *s, log_format_t *out);

/* Emits one line. The variable arguments are log_field_t values ended by LF_END; use the
 * log_debug/log_info/log_warn/log_error macros, which add LF_END. */
void log_emit(log_level_t level, const char *component, const char *msg, ...);

/* Formats one line into buf (without emitting it); returns the length, as snprintf does.
 * Exposed for tests. */
int log_format_line(char *buf, int size, log_format_t format, log_level_t level,
                    const char *component, const char *msg, const log_field_t *fields, int nfields);

#define log_debug(comp, msg, ...) log_emit(LL_DEBUG, comp, msg, ##__VA_ARGS__, LF_END)
#define log_info(comp, msg, ...) log_emit(LL_INFO, comp, msg, ##__VA_ARGS__, LF_END)
#define log_warn(comp, msg, ...) log_emit(LL_WARN, comp, msg, ##__VA_ARGS__, LF_END)
#define log_error(comp, msg, ...) log_emit(LL_ERROR, comp, msg, ##__VA_ARGS__, LF_END)

#endif
