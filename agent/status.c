/* status: rendering of the agent's snapshot as JSON, Prometheus text and a table.
 * Every name here is part of the external contract (scripts and dashboards read them). */
#include "status.h"
#include "health.h"
#include "supervisor.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define METRICS_MAX 8192

/* {"code": 3} or {"signal": "KILL"}, or {"error": "could not be started"}; null if none. */
static json_t *s_last_exit(const status_view_t *v)
{
    if (!v->has_exited)
        return json_null();
    if (v->last_status < 0)
        return json_pack("{s:s}", "error", "could not be started");
    if (WIFEXITED(v->last_status))
        return json_pack("{s:i}", "code", WEXITSTATUS(v->last_status));
    if (WIFSIGNALED(v->last_status)) {
        const char *name = sigabbrev_np(WTERMSIG(v->last_status));
        return json_pack("{s:s, s:i}", "signal", name ? name : "?", "signal_number",
                         WTERMSIG(v->last_status));
    }
    return json_null();
}

json_t *status_json(const status_view_t *v)
{
    json_t *doc = json_pack(
        "{s:s, s:s, s:b, s:o, s:i, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:s}", "state",
        v->state, "health", v->health, "want_running", v->want_running, "pid",
        v->pid > 0 ? json_integer(v->pid) : json_null(), "agent_pid", (int)v->agent_pid, "version",
        v->version, "client_version", v->client_version, "current", v->current, "height",
        v->height >= 0 ? json_integer(v->height) : json_null(), "restarts", (json_int_t)v->restarts,
        "restarts_total", (json_int_t)v->restarts_total, "max_restarts",
        (json_int_t)v->max_restarts, "uptime_s", (json_int_t)(v->uptime_ms / 1000), "last_exit",
        s_last_exit(v), "pending_upgrade",
        v->pending_upgrade
            ? json_pack("{s:s, s:I, s:s?}", "name", v->pending_upgrade, "height",
                        (json_int_t)v->pending_height, "waiting_for", v->pending_problem)
            : json_null(),
        "rpc_error", v->rpc_error);
    return doc;
}

static void s_add(char *buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_add(char *buf, size_t *len, const char *fmt, ...)
{
    if (*len >= METRICS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, METRICS_MAX - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

/* Label values are escaped as the text format wants: backslash, quote, newline. */
static void s_label(char *out, size_t size, const char *in)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 2 < size; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            out[o++] = '\\';
            out[o++] = *p == '\n' ? 'n' : *p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

char *status_metrics(const status_view_t *v)
{
    char *buf = malloc(METRICS_MAX);
    if (buf == NULL)
        return NULL;
    size_t len = 0;
    char ver[256], cver[256], cur[256];
    s_label(ver, sizeof ver, v->version);
    s_label(cver, sizeof cver, v->client_version);
    s_label(cur, sizeof cur, v->current);

    s_add(buf, &len,
          "# HELP wemixvisor_build_info The agent's version.\n"
          "# TYPE wemixvisor_build_info gauge\n"
          "wemixvisor_build_info{version=\"%s\"} 1\n",
          WV_VERSION);
    s_add(buf, &len,
          "# HELP wemixvisor_node_up 1 when the node's process is running.\n"
          "# TYPE wemixvisor_node_up gauge\nwemixvisor_node_up %d\n",
          v->pid > 0 ? 1 : 0);
    s_add(buf, &len,
          "# HELP wemixvisor_node_state The node's lifecycle state (1 for the "
          "current one).\n# TYPE wemixvisor_node_state gauge\n");
    for (int i = 0; i < NODE_STATE_COUNT; i++) {
        const char *name = supervisor_state_name((node_state_t)i);
        s_add(buf, &len, "wemixvisor_node_state{state=\"%s\"} %d\n", name,
              strcmp(v->state, name) == 0);
    }
    s_add(buf, &len,
          "# HELP wemixvisor_node_health The node's health verdict (1 for the "
          "current one).\n# TYPE wemixvisor_node_health gauge\n");
    for (int i = 0; i < HEALTH_STATE_COUNT; i++) {
        const char *name = health_name((health_state_t)i);
        s_add(buf, &len, "wemixvisor_node_health{health=\"%s\"} %d\n", name,
              strcmp(v->health, name) == 0);
    }
    if (v->height >= 0)
        s_add(buf, &len,
              "# HELP wemixvisor_node_height The node's last known block height.\n"
              "# TYPE wemixvisor_node_height gauge\nwemixvisor_node_height %lld\n",
              (long long)v->height);
    s_add(buf, &len,
          "# HELP wemixvisor_node_restarts_total Restarts of the node since the agent started.\n"
          "# TYPE wemixvisor_node_restarts_total counter\nwemixvisor_node_restarts_total %lld\n",
          (long long)v->restarts_total);
    s_add(buf, &len,
          "# HELP wemixvisor_node_restarts_in_row Restarts since the node was last healthy.\n"
          "# TYPE wemixvisor_node_restarts_in_row gauge\nwemixvisor_node_restarts_in_row %lld\n",
          (long long)v->restarts);
    s_add(buf, &len,
          "# HELP wemixvisor_node_uptime_seconds Seconds since the node started.\n"
          "# TYPE wemixvisor_node_uptime_seconds gauge\n"
          "wemixvisor_node_uptime_seconds %llu\n",
          (unsigned long long)(v->uptime_ms / 1000));
    if (v->has_exited && v->last_status >= 0) {
        int code = WIFEXITED(v->last_status)     ? WEXITSTATUS(v->last_status)
                   : WIFSIGNALED(v->last_status) ? 128 + WTERMSIG(v->last_status)
                                                 : -1;
        s_add(buf, &len,
              "# HELP wemixvisor_node_last_exit_code Exit code of the node's last exit "
              "(128+N: killed by signal N).\n# TYPE wemixvisor_node_last_exit_code gauge\n"
              "wemixvisor_node_last_exit_code %d\n",
              code);
    }
    s_add(buf, &len,
          "# HELP wemixvisor_node_info The node's versions and current upgrade.\n"
          "# TYPE wemixvisor_node_info gauge\n"
          "wemixvisor_node_info{version=\"%s\",client_version=\"%s\",current=\"%s\"} 1\n",
          ver, cver, cur);
    return buf;
}

static void s_duration(uint64_t s, char *buf, size_t size)
{
    if (s >= 86400)
        snprintf(buf, size, "%llud%lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, size, "%lluh%llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, size, "%llum%llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(buf, size, "%llus", (unsigned long long)s);
}

static const char *s_str(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s && *s ? s : "-";
}

void status_print(FILE *out, json_t *doc)
{
    char up[32];
    s_duration((uint64_t)json_integer_value(json_object_get(doc, "uptime_s")), up, sizeof up);
    fprintf(out, "state      %s%s\n", s_str(doc, "state"),
            json_is_false(json_object_get(doc, "want_running")) ? " (stopped by the operator)"
                                                                : "");
    fprintf(out, "health     %s\n", s_str(doc, "health"));
    json_t *pid = json_object_get(doc, "pid");
    if (json_is_integer(pid))
        fprintf(out, "pid        %lld (up %s)\n", (long long)json_integer_value(pid), up);
    fprintf(out, "current    %s\n", s_str(doc, "current"));
    fprintf(out, "version    %s (rpc: %s)\n", s_str(doc, "version"), s_str(doc, "client_version"));
    json_t *height = json_object_get(doc, "height");
    if (json_is_integer(height))
        fprintf(out, "height     %lld\n", (long long)json_integer_value(height));
    else
        fprintf(out, "height     unknown\n");
    fprintf(out, "restarts   %lld in a row (limit %lld), %lld in all\n",
            (long long)json_integer_value(json_object_get(doc, "restarts")),
            (long long)json_integer_value(json_object_get(doc, "max_restarts")),
            (long long)json_integer_value(json_object_get(doc, "restarts_total")));
    json_t *last = json_object_get(doc, "last_exit");
    if (json_is_integer(json_object_get(last, "code")))
        fprintf(out, "last exit  exit code %lld\n",
                (long long)json_integer_value(json_object_get(last, "code")));
    else if (json_is_string(json_object_get(last, "signal")))
        fprintf(out, "last exit  killed by SIG%s\n",
                json_string_value(json_object_get(last, "signal")));
    else if (json_is_string(json_object_get(last, "error")))
        fprintf(out, "last exit  %s\n", json_string_value(json_object_get(last, "error")));
    json_t *pending = json_object_get(doc, "pending_upgrade");
    if (json_is_object(pending)) {
        const char *why = json_string_value(json_object_get(pending, "waiting_for"));
        fprintf(out, "upgrade    %s at height %lld%s%s\n",
                json_string_value(json_object_get(pending, "name")),
                (long long)json_integer_value(json_object_get(pending, "height")), why ? ": " : "",
                why ? why : "");
    }
    const char *rpc = json_string_value(json_object_get(doc, "rpc_error"));
    if (rpc != NULL && *rpc)
        fprintf(out, "rpc error  %s\n", rpc);
}
