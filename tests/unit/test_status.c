/* Unit tests of agent/status.h: the status document, the /metrics text and the table, all from
 * made-up status_view_t snapshots. Not tested here: how the runner fills the view. */
#include "health.h"
#include "status.h"
#include "supervisor.h"
#include "testutil.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* A node that runs well: the snapshot most tests start from and then change. */
static status_view_t s_running_view(void)
{
    return (status_view_t){
        .state = "running",
        .health = "healthy",
        .want_running = true,
        .pid = 4242,
        .agent_pid = 4000,
        .version = "v1.2.3",
        .client_version = "Geth/v1.13.5",
        .current = "genesis",
        .height = 1234,
        .restarts = 1,
        .restarts_total = 5,
        .max_restarts = 10,
        .uptime_ms = 90999, /* 90 whole seconds */
        .has_exited = false,
        .last_status = 0,
        .pending_upgrade = NULL,
        .pending_height = 0,
        .pending_problem = NULL,
        .rpc_error = "",
    };
}

/* A node that is not running any more and is not restarted. */
static status_view_t s_stopped_view(void)
{
    status_view_t v = s_running_view();
    v.state = "stopped";
    v.health = "down";
    v.pid = 0;
    v.height = -1;
    v.uptime_ms = 0;
    return v;
}

/* --- the status document --- */

static void test_a_running_node_reports_its_pid_version_height_and_uptime(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    json_t *doc = status_json(&v);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(doc, "health")), "healthy");
    assert_true(json_is_true(json_object_get(doc, "want_running")));
    assert_int_equal(json_integer_value(json_object_get(doc, "pid")), 4242);
    assert_int_equal(json_integer_value(json_object_get(doc, "agent_pid")), 4000);
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "v1.2.3");
    assert_string_equal(json_string_value(json_object_get(doc, "client_version")), "Geth/v1.13.5");
    assert_string_equal(json_string_value(json_object_get(doc, "current")), "genesis");
    assert_int_equal(json_integer_value(json_object_get(doc, "height")), 1234);
    assert_int_equal(json_integer_value(json_object_get(doc, "restarts")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "restarts_total")), 5);
    assert_int_equal(json_integer_value(json_object_get(doc, "max_restarts")), 10);
    assert_int_equal(json_integer_value(json_object_get(doc, "uptime_s")), 90);
    assert_string_equal(json_string_value(json_object_get(doc, "rpc_error")), "");
    /* it never exited and nothing waits: the keys are there, with null */
    assert_true(json_is_null(json_object_get(doc, "last_exit")));
    assert_true(json_is_null(json_object_get(doc, "pending_upgrade")));
    json_decref(doc);
}

static void test_a_stopped_node_has_no_pid_and_an_unknown_height(void **state)
{
    (void)state;
    status_view_t v = s_stopped_view();
    v.want_running = false;
    json_t *doc = status_json(&v);
    assert_non_null(doc);
    assert_true(json_is_null(json_object_get(doc, "pid")));
    assert_true(json_is_null(json_object_get(doc, "height")));
    assert_true(json_is_false(json_object_get(doc, "want_running")));
    assert_int_equal(json_integer_value(json_object_get(doc, "uptime_s")), 0);
    json_decref(doc);
}

static void test_last_exit_is_a_code_a_signal_or_an_error(void **state)
{
    (void)state;
    status_view_t v = s_stopped_view();
    v.has_exited = true;

    v.last_status = W_EXITCODE(3, 0); /* exit(3) */
    json_t *doc = status_json(&v);
    json_t *last = json_object_get(doc, "last_exit");
    assert_true(json_is_object(last));
    assert_int_equal(json_object_size(last), 1);
    assert_int_equal(json_integer_value(json_object_get(last, "code")), 3);
    json_decref(doc);

    v.last_status = W_EXITCODE(0, SIGKILL); /* killed by SIGKILL */
    doc = status_json(&v);
    last = json_object_get(doc, "last_exit");
    assert_int_equal(json_object_size(last), 2);
    assert_string_equal(json_string_value(json_object_get(last, "signal")), "KILL");
    assert_int_equal(json_integer_value(json_object_get(last, "signal_number")), 9);
    json_decref(doc);

    v.last_status = -1; /* the binary could not be started at all */
    doc = status_json(&v);
    last = json_object_get(doc, "last_exit");
    assert_int_equal(json_object_size(last), 1);
    assert_string_equal(json_string_value(json_object_get(last, "error")), "could not be started");
    json_decref(doc);
}

static void test_a_pending_upgrade_names_its_height_and_what_it_waits_for(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    v.pending_upgrade = "v2";
    v.pending_height = 5000;
    v.pending_problem = "the binary of v2 is not downloaded yet";
    json_t *doc = status_json(&v);
    json_t *pending = json_object_get(doc, "pending_upgrade");
    assert_true(json_is_object(pending));
    assert_string_equal(json_string_value(json_object_get(pending, "name")), "v2");
    assert_int_equal(json_integer_value(json_object_get(pending, "height")), 5000);
    assert_string_equal(json_string_value(json_object_get(pending, "waiting_for")),
                        "the binary of v2 is not downloaded yet");
    json_decref(doc);

    v.pending_problem = NULL; /* ready: it waits for nothing but the height */
    doc = status_json(&v);
    pending = json_object_get(doc, "pending_upgrade");
    assert_string_equal(json_string_value(json_object_get(pending, "name")), "v2");
    assert_true(json_is_null(json_object_get(pending, "waiting_for")));
    json_decref(doc);
}

/* --- the /metrics text --- */

#define MAX_SAMPLES 64
#define MAX_LABELS 4
#define MAX_LINE 1024

typedef struct {
    char key[32];
    char value[256]; /* unescaped */
} label_t;

/* One `name{key="value",...} number` line. */
typedef struct {
    char name[64];
    label_t labels[MAX_LABELS];
    size_t label_count;
    double value;
} sample_t;

typedef struct {
    sample_t samples[MAX_SAMPLES];
    size_t count;
} metrics_t;

/* Length of a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without colons, a label name. */
static size_t s_name_len(const char *p, bool colons)
{
    size_t n = 0;
    while (isalpha((unsigned char)p[n]) || p[n] == '_' || (colons && p[n] == ':') ||
           (n > 0 && isdigit((unsigned char)p[n])))
        n++;
    return n;
}

static void s_copy_name(char *dst, size_t size, const char *src, size_t len, const char *line)
{
    if (len == 0 || len >= size)
        fail_msg("bad name in line \"%s\"", line);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Parses {key="value",...} at p into s; returns what follows the '}'. */
static const char *s_parse_labels(const char *p, sample_t *s, const char *line)
{
    p++; /* '{' */
    for (;;) {
        if (s->label_count == MAX_LABELS)
            fail_msg("too many labels in line \"%s\"", line);
        label_t *l = &s->labels[s->label_count++];
        size_t n = s_name_len(p, false);
        s_copy_name(l->key, sizeof l->key, p, n, line);
        p += n;
        if (p[0] != '=' || p[1] != '"')
            fail_msg("label without =\"value\" in line \"%s\"", line);
        p += 2;
        size_t o = 0;
        while (*p != '"') {
            if (*p == '\0')
                fail_msg("unterminated label value in line \"%s\"", line);
            char c = *p++;
            if (c == '\\') {
                c = *p++;
                if (c == 'n')
                    c = '\n';
                else if (c != '\\' && c != '"')
                    fail_msg("bad escape in line \"%s\"", line);
            }
            if (o + 1 >= sizeof l->value)
                fail_msg("label value too long in line \"%s\"", line);
            l->value[o++] = c;
        }
        l->value[o] = '\0';
        p++; /* the closing quote */
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            fail_msg("labels not separated by ',' in line \"%s\"", line);
        p++;
    }
}

/* Reads the whole text the way Prometheus does, failing the test on any line that is not
 * `# HELP name text`, `# TYPE name gauge|counter` or a sample of the metric last typed. */
static void s_parse_metrics(const char *text, metrics_t *m)
{
    memset(m, 0, sizeof *m);
    char typed[64] = "";
    size_t text_len = strlen(text);
    assert_true(text_len > 0);
    assert_int_equal(text[text_len - 1], '\n');
    for (const char *start = text; *start; start = strchr(start, '\n') + 1) {
        size_t len = (size_t)(strchr(start, '\n') - start);
        char line[MAX_LINE];
        assert_true(len > 0 && len < sizeof line);
        memcpy(line, start, len);
        line[len] = '\0';

        if (strncmp(line, "# HELP ", 7) == 0) {
            const char *p = line + 7;
            size_t n = s_name_len(p, true);
            if (n == 0 || p[n] != ' ' || p[n + 1] == '\0')
                fail_msg("bad HELP line \"%s\"", line);
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *p = line + 7;
            size_t n = s_name_len(p, true);
            s_copy_name(typed, sizeof typed, p, n, line);
            if (p[n] != ' ' ||
                (strcmp(p + n + 1, "gauge") != 0 && strcmp(p + n + 1, "counter") != 0))
                fail_msg("bad TYPE line \"%s\"", line);
        } else {
            if (m->count == MAX_SAMPLES)
                fail_msg("more than %d samples", MAX_SAMPLES);
            sample_t *s = &m->samples[m->count++];
            size_t n = s_name_len(line, true);
            s_copy_name(s->name, sizeof s->name, line, n, line);
            if (strcmp(s->name, typed) != 0)
                fail_msg("sample \"%s\" does not follow its # TYPE line", line);
            const char *p = line + n;
            if (*p == '{')
                p = s_parse_labels(p, s, line);
            if (*p != ' ' || p[1] == '\0')
                fail_msg("no value in line \"%s\"", line);
            char *end;
            s->value = strtod(p + 1, &end);
            if (*end != '\0')
                fail_msg("bad value in line \"%s\"", line);
        }
    }
}

static const char *s_label_value(const sample_t *s, const char *key)
{
    for (size_t i = 0; i < s->label_count; i++)
        if (strcmp(s->labels[i].key, key) == 0)
            return s->labels[i].value;
    return NULL;
}

/* The first sample of that name, or NULL. */
static const sample_t *s_sample(const metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->samples[i].name, name) == 0)
            return &m->samples[i];
    return NULL;
}

static double s_value(const metrics_t *m, const char *name)
{
    const sample_t *s = s_sample(m, name);
    if (s == NULL)
        fail_msg("no sample %s", name);
    return s->value;
}

/* A one-of-N gauge (state or health): one sample per possible value, exactly one of them 1, and
 * that one labelled `current`. */
static void s_assert_one_hot(const metrics_t *m, const char *name, const char *key,
                             size_t expected_count, const char *current)
{
    size_t count = 0, ones = 0;
    for (size_t i = 0; i < m->count; i++) {
        const sample_t *s = &m->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        count++;
        const char *label = s_label_value(s, key);
        assert_non_null(label);
        if (s->value == 1) {
            ones++;
            assert_string_equal(label, current);
        } else {
            assert_true(s->value == 0);
        }
    }
    assert_int_equal(count, expected_count);
    assert_int_equal(ones, 1);
}

static void test_metrics_of_a_running_node(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    char *text = status_metrics(&v);
    assert_non_null(text);
    metrics_t *m = malloc(sizeof *m);
    assert_non_null(m);
    s_parse_metrics(text, m);

    assert_true(s_value(m, "wemixvisor_node_up") == 1);
    assert_true(s_value(m, "wemixvisor_node_height") == 1234);
    assert_true(s_value(m, "wemixvisor_node_restarts_total") == 5);
    assert_true(s_value(m, "wemixvisor_node_restarts_in_row") == 1);
    assert_true(s_value(m, "wemixvisor_node_uptime_seconds") == 90);
    assert_string_equal(s_label_value(s_sample(m, "wemixvisor_build_info"), "version"), WV_VERSION);
    const sample_t *info = s_sample(m, "wemixvisor_node_info");
    assert_non_null(info);
    assert_string_equal(s_label_value(info, "version"), "v1.2.3");
    assert_string_equal(s_label_value(info, "client_version"), "Geth/v1.13.5");
    assert_string_equal(s_label_value(info, "current"), "genesis");
    s_assert_one_hot(m, "wemixvisor_node_state", "state", NODE_STATE_COUNT, "running");
    s_assert_one_hot(m, "wemixvisor_node_health", "health", HEALTH_STATE_COUNT, "healthy");
    /* it never exited: no exit code to report */
    assert_null(s_sample(m, "wemixvisor_node_last_exit_code"));
    free(m);
    free(text);
}

static void test_metrics_mark_exactly_the_current_state_and_health(void **state)
{
    (void)state;
    metrics_t *m = malloc(sizeof *m);
    assert_non_null(m);
    for (int i = 0; i < NODE_STATE_COUNT; i++) {
        status_view_t v = s_running_view();
        v.state = supervisor_state_name((node_state_t)i);
        v.health = health_name((health_state_t)(i % HEALTH_STATE_COUNT));
        char *text = status_metrics(&v);
        assert_non_null(text);
        s_parse_metrics(text, m);
        s_assert_one_hot(m, "wemixvisor_node_state", "state", NODE_STATE_COUNT, v.state);
        s_assert_one_hot(m, "wemixvisor_node_health", "health", HEALTH_STATE_COUNT, v.health);
        free(text);
    }
    free(m);
}

static void test_metrics_of_a_stopped_node_leave_out_what_is_unknown(void **state)
{
    (void)state;
    metrics_t *m = malloc(sizeof *m);
    assert_non_null(m);
    status_view_t v = s_stopped_view();
    v.has_exited = true;

    v.last_status = W_EXITCODE(3, 0);
    char *text = status_metrics(&v);
    s_parse_metrics(text, m);
    assert_true(s_value(m, "wemixvisor_node_up") == 0);
    /* never seen: no line at all, not a made-up 0 (nor its HELP and TYPE) */
    assert_null(strstr(text, "wemixvisor_node_height"));
    assert_true(s_value(m, "wemixvisor_node_last_exit_code") == 3);
    free(text);

    v.last_status = W_EXITCODE(0, SIGKILL); /* 128 + 9, as a shell reports it */
    text = status_metrics(&v);
    s_parse_metrics(text, m);
    assert_true(s_value(m, "wemixvisor_node_last_exit_code") == 137);
    free(text);

    v.last_status = -1; /* never started: there is no exit code */
    text = status_metrics(&v);
    s_parse_metrics(text, m);
    assert_null(s_sample(m, "wemixvisor_node_last_exit_code"));
    free(text);
    free(m);
}

static void test_metrics_escape_quotes_backslashes_and_newlines_in_labels(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    v.version = "v1 \"rc\" C:\\node";
    v.client_version = "Geth/v1.13.5\nmultiline";
    v.current = "up\\grade\"";
    char *text = status_metrics(&v);
    assert_non_null(text);
    tu_assert_contains(text, "version=\"v1 \\\"rc\\\" C:\\\\node\"");
    tu_assert_contains(text, "client_version=\"Geth/v1.13.5\\nmultiline\"");
    tu_assert_contains(text, "current=\"up\\\\grade\\\"\"");

    /* and a reader gets the original values back */
    metrics_t *m = malloc(sizeof *m);
    assert_non_null(m);
    s_parse_metrics(text, m);
    const sample_t *info = s_sample(m, "wemixvisor_node_info");
    assert_non_null(info);
    assert_string_equal(s_label_value(info, "version"), v.version);
    assert_string_equal(s_label_value(info, "client_version"), v.client_version);
    assert_string_equal(s_label_value(info, "current"), v.current);
    free(m);
    free(text);
}

/* --- the table --- */

/* What status_print writes for the view (heap). */
static char *s_print(const status_view_t *v)
{
    json_t *doc = status_json(v);
    assert_non_null(doc);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    status_print(out, doc);
    assert_int_equal(fclose(out), 0);
    json_decref(doc);
    return text;
}

static void test_print_shows_a_running_node(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    char *text = s_print(&v);
    tu_assert_contains(text, "state      running\n");
    tu_assert_contains(text, "health     healthy\n");
    tu_assert_contains(text, "pid        4242 (up 1m30s)\n");
    tu_assert_contains(text, "current    genesis\n");
    tu_assert_contains(text, "version    v1.2.3 (rpc: Geth/v1.13.5)\n");
    tu_assert_contains(text, "height     1234\n");
    tu_assert_contains(text, "restarts   1 in a row (limit 10), 5 in all\n");
    assert_null(strstr(text, "last exit"));
    assert_null(strstr(text, "upgrade "));
    assert_null(strstr(text, "rpc error"));
    free(text);
}

static void test_print_says_who_stopped_the_node(void **state)
{
    (void)state;
    status_view_t v = s_stopped_view();
    v.want_running = false;
    v.version = ""; /* unknown: shown as "-" */
    v.client_version = "";
    char *text = s_print(&v);
    tu_assert_contains(text, "state      stopped (stopped by the operator)\n");
    tu_assert_contains(text, "version    - (rpc: -)\n");
    tu_assert_contains(text, "height     unknown\n");
    assert_null(strstr(text, "pid "));
    free(text);
}

static void test_print_explains_a_failed_node(void **state)
{
    (void)state;
    status_view_t v = s_stopped_view();
    v.state = "failed";
    v.has_exited = true;
    v.restarts = 10;
    v.rpc_error = "connection refused";

    v.last_status = W_EXITCODE(3, 0);
    char *text = s_print(&v);
    tu_assert_contains(text, "state      failed\n"); /* the agent gave up, the operator did not */
    tu_assert_contains(text, "restarts   10 in a row (limit 10), 5 in all\n");
    tu_assert_contains(text, "last exit  exit code 3\n");
    tu_assert_contains(text, "rpc error  connection refused\n");
    free(text);

    v.last_status = W_EXITCODE(0, SIGKILL);
    text = s_print(&v);
    tu_assert_contains(text, "last exit  killed by SIGKILL\n");
    free(text);

    v.last_status = -1;
    text = s_print(&v);
    tu_assert_contains(text, "last exit  could not be started\n");
    free(text);
}

static void test_print_shows_a_pending_upgrade(void **state)
{
    (void)state;
    status_view_t v = s_running_view();
    v.pending_upgrade = "v2";
    v.pending_height = 5000;
    v.pending_problem = "the binary of v2 is not downloaded yet";
    char *text = s_print(&v);
    tu_assert_contains(text,
                       "upgrade    v2 at height 5000: the binary of v2 is not downloaded yet\n");
    free(text);

    v.pending_problem = NULL;
    text = s_print(&v);
    tu_assert_contains(text, "upgrade    v2 at height 5000\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_running_node_reports_its_pid_version_height_and_uptime),
        cmocka_unit_test(test_a_stopped_node_has_no_pid_and_an_unknown_height),
        cmocka_unit_test(test_last_exit_is_a_code_a_signal_or_an_error),
        cmocka_unit_test(test_a_pending_upgrade_names_its_height_and_what_it_waits_for),
        cmocka_unit_test(test_metrics_of_a_running_node),
        cmocka_unit_test(test_metrics_mark_exactly_the_current_state_and_health),
        cmocka_unit_test(test_metrics_of_a_stopped_node_leave_out_what_is_unknown),
        cmocka_unit_test(test_metrics_escape_quotes_backslashes_and_newlines_in_labels),
        cmocka_unit_test(test_print_shows_a_running_node),
        cmocka_unit_test(test_print_says_who_stopped_the_node),
        cmocka_unit_test(test_print_explains_a_failed_node),
        cmocka_unit_test(test_print_shows_a_pending_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
